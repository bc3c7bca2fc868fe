"""The computational graph of a derivation, annotated with values and gradients.

:func:`annotated_graph` turns a :class:`~symbackprop.derivation.Derivation`
into drawable data: one node per named quantity (leaves and operations), the
edges in the forward direction, each node with its value and its gradient
:math:`\\partial L/\\partial v`. Two writers draw it: :mod:`.tikz` (LaTeX) and
:func:`graph_dot` here (Graphviz, for SVG/PNG/PDF pictures).

>>> from symbackprop import backprop, network_from_latex
>>> net = network_from_latex("z = w x\\nL = (z - y)^2", params=["w"])
>>> g = annotated_graph(backprop(net, {"w": 0.5, "x": 2.0, "y": 1.0}))
>>> [(n.name, n.op_text, n.value, n.gradient) for n in g.nodes]
[('w', None, '0.5', '0.000'), ('x', None, '2', None), ('z', '×', '1.000', '0.000'), ('y', None, '1', None), ('L', '(·)²', '0.000', '1')]
>>> g.edges
[('w', 'z'), ('x', 'z'), ('z', 'L'), ('y', 'L')]
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from ..errors import SymbackpropError
from .numbers import fmt

#: more nodes than this and a figure is no longer readable on a page
MAX_FIGURE_NODES = 40

INSTALL_GRAPHVIZ = "install Graphviz: apt-get install graphviz (and pip install graphviz)"


@dataclass
class GraphNode:
    """One node as drawn: its name, kind, operation, value and gradient (display text)."""

    name: str  #: canonical name
    latex: str  #: LaTeX spelling of the name
    kind: str  #: "param", "input", "intermediate" or "loss"
    op_latex: str | None = None  #: the operation that makes it (None for a leaf)
    op_text: str | None = None  #: the same in Unicode
    value: str | None = None  #: forward value as shown
    gradient: str | None = None  #: ∂L/∂v as shown (None: not needed for the gradients)

    @property
    def is_leaf(self) -> bool:
        return self.op_latex is None


@dataclass
class AnnotatedGraph:
    nodes: list[GraphNode]  #: topological order
    edges: list[tuple[str, str]]  #: (input, consumer) in the forward direction
    loss: str  #: LaTeX name of the loss

    def node(self, name: str) -> GraphNode:
        return next(n for n in self.nodes if n.name == name)


def annotated_graph(d) -> AnnotatedGraph:
    """The nodes and forward edges of ``d``'s network with its numbers as the solution shows them."""
    from .solution import leaf_display  # the solution's spelling of given numbers

    net = d.network
    leaves = leaf_display(d)
    stepped = {s.node for s in d.backward} | {d.loss}
    nodes, edges = [], []
    for name in net.order:
        node = net.node(name)
        g = GraphNode(name, node.latex, net.kind(name))
        if not node.is_leaf:
            g.op_latex, g.op_text = operation(node.display if node.display is not None else node.expr)
            edges += [(i, name) for i in net.inputs(name)]
        if d.values is not None:
            g.value = leaves.get(name) or _number(d.values.get(name), d.digits)
            if name in stepped:
                g.gradient = "1" if name == d.loss else _number(d.adjoint_value(name), d.digits)
        nodes.append(g)
    return AnnotatedGraph(nodes, edges, net.node(d.loss).latex)


def _number(value, digits: int) -> str | None:
    """A scalar as the solution prints it; None for what is not a plain number (a matrix)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt(float(value), digits)
    return None


# ---- operations -------------------------------------------------------------
_FUNCTION_TEXT = {"sigmoid": "σ", "tanh": "tanh", "exp": "exp", "log": "log",
                  "relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "gelu": "GELU",
                  "softplus": "softplus", "Abs": "|·|", "Max": "max"}
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def operation(expr: sp.Expr) -> tuple[str, str]:
    """The outermost operation of a definition, in LaTeX and in Unicode.

    >>> x, y = sp.symbols("x y")
    >>> operation(x * y), operation(x + y), operation(x ** 2), operation(x / y)
    (('\\\\times', '×'), ('+', '+'), ('(\\\\cdot)^{2}', '(·)²'), ('\\\\div', '÷'))
    """
    if expr.is_Atom:
        return "=", "="
    if isinstance(expr, sp.Add):
        return "+", "+"
    if isinstance(expr, sp.Mul):
        if any(a.is_Pow and a.exp.is_negative for a in expr.args):
            return r"\div", "÷"
        return r"\times", "×"
    if isinstance(expr, sp.Pow):
        if expr.exp == -1:
            return r"1/(\cdot)", "1/(·)"
        if expr.exp == sp.Rational(1, 2):
            return r"\sqrt{\cdot}", "√"
        if expr.exp.is_Integer:
            return rf"(\cdot)^{{{expr.exp}}}", "(·)" + str(expr.exp).translate(_SUPERSCRIPT)
        return r"(\cdot)^{\cdot}", "pow"
    if isinstance(expr, sp.Function):
        name = type(expr).__name__
        text = _FUNCTION_TEXT.get(name, name)
        latex = getattr(type(expr), "latex_name", None) or rf"\operatorname{{{text}}}"
        if name in ("tanh", "exp", "log", "Max"):
            latex = "\\" + name.lower()
        elif name == "Abs":
            latex = r"|\cdot|"
        return latex, text
    return "f", "f"


# ---- Graphviz -----------------------------------------------------------------
COLORS = {"param": "#dbe8f7", "input": "#eeeeee", "intermediate": "#ffffff", "loss": "#fde3c8"}
GRADIENT_COLOR = "#c0392b"

_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η",
          "theta": "θ", "lambda": "λ", "mu": "μ", "sigma": "σ", "tau": "τ", "phi": "φ",
          "omega": "ω", "Delta": "Δ", "Sigma": "Σ"}


def html_name(latex: str) -> str:
    """A node's LaTeX name as a Graphviz HTML label: ``z_{h1}`` → ``z<SUB>h1</SUB>``.

    >>> html_name("z_{h1}"), html_name(r"\\delta_2"), html_name("W^{[2]}")
    ('z<SUB>h1</SUB>', 'δ<SUB>2</SUB>', 'W<SUP>[2]</SUP>')
    """
    text = re.sub(r"\\hat\{(\w)\}", lambda m: m.group(1) + "\u0302", latex)
    text = re.sub(r"\\bar\{(\w)\}", lambda m: m.group(1) + "\u0304", text)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: _GREEK.get(m.group(1), m.group(1)), text)
    base, sub, sup = text, "", ""
    if "^" in base:
        base, sup = base.split("^", 1)
    if "_" in base:
        base, sub = base.split("_", 1)
    strip = lambda s: s.replace("{", "").replace("}", "")  # noqa: E731
    out = html.escape(strip(base))
    if sub:
        out += f"<SUB>{html.escape(strip(sub))}</SUB>"
    if sup:
        out += f"<SUP>{html.escape(strip(sup))}</SUP>"
    return out


def _html_number(text: str) -> str:
    """A displayed number in Unicode: ``-1.0 \\times 10^{-4}`` → ``−1.0×10<SUP>−4</SUP>``."""
    m = re.fullmatch(r"(-?[\d.]+) \\times 10\^\{(-?\d+)\}", text)
    if m:
        text = f"{m.group(1)}×10<SUP>{m.group(2)}</SUP>"
    return text.replace("-", "−")


def graph_dot(graph: AnnotatedGraph, lang: str = "en") -> str:
    """Graphviz source of ``graph``: value boxes, operation circles, forward edges.

    Like micrograd's ``draw_dot``: each operation is a small circle feeding the
    box of the value it makes, left to right.
    """
    try:
        import graphviz
    except ImportError:  # pragma: no cover - a declared dependency
        raise SymbackpropError(f"the graphviz Python package is missing; {INSTALL_GRAPHVIZ}") from None
    ids = {n.name: f"n{i}" for i, n in enumerate(graph.nodes)}
    from .phrases import phrase

    legend = phrase("graph_legend_text", lang, L=re.sub(r"[{}\\]", "", graph.loss))
    dot = graphviz.Digraph("computational_graph", graph_attr={
        "rankdir": "LR", "nodesep": "0.25", "ranksep": "0.45", "bgcolor": "white",
        "label": legend, "labelloc": "b", "fontname": "Helvetica", "fontsize": "10"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7", "color": "#555555"})
    loss = html_name(graph.loss)
    for n in graph.nodes:
        rows = [f"<I>{html_name(n.latex)}</I>" + (f" = {_html_number(n.value)}" if n.value else "")]
        if n.gradient is not None:
            rows.append(f'<FONT COLOR="{GRADIENT_COLOR}" POINT-SIZE="10">∂{loss}/∂{html_name(n.latex)}'
                        f" = {_html_number(n.gradient)}</FONT>")
        label = "<" + "<BR/>".join(rows) + ">"
        dot.node(ids[n.name], label=label, shape="box", style="rounded,filled",
                 fillcolor=COLORS.get(n.kind, "#ffffff"))
        if not n.is_leaf:
            dot.node(ids[n.name] + "_op", label=html.escape(n.op_text), shape="circle",
                     width="0.35", fixedsize="shape", fontsize="12", margin="0.02")
            dot.edge(ids[n.name] + "_op", ids[n.name], arrowhead="none")
    for a, b in graph.edges:
        dot.edge(ids[a], ids[b] + "_op")
    return dot.source


def write_graph(d, path: Path | str, *, lang: str | None = None) -> None:
    """Write ``d``'s computational graph to ``path``: .svg/.png/.pdf (Graphviz), .dot, .tex (TikZ)."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    graph = annotated_graph(d)
    lang = lang or d.lang
    if suffix == "tex":
        from .tikz import tikz_standalone

        _write(path, tikz_standalone(graph, lang))
        return
    if suffix not in ("svg", "png", "pdf", "dot", "gv"):
        raise SymbackpropError(f"cannot draw a graph as '{path.name}'; use .svg, .png, .pdf, .dot "
                               "or .tex")
    source = graph_dot(graph, lang)
    if suffix in ("dot", "gv"):
        _write(path, source)
        return
    import graphviz

    try:
        data = graphviz.Source(source).pipe(format=suffix)
    except graphviz.ExecutableNotFound:
        raise SymbackpropError(f"Graphviz's 'dot' program is not installed; {INSTALL_GRAPHVIZ}, "
                               f"or write {path.with_suffix('.tex').name} (TikZ) instead") from None
    except graphviz.CalledProcessError as e:  # pragma: no cover - dot rejects our own source
        raise SymbackpropError(f"Graphviz failed: {e.stderr.decode(errors='replace').strip()}") from None
    try:
        path.write_bytes(data)
    except OSError as e:
        raise SymbackpropError(f"cannot write {path}: {e.strerror}") from None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise SymbackpropError(f"cannot write {path}: {e.strerror}") from None
