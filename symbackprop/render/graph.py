"""The computational graph of a derivation, annotated with values and gradients.

:func:`annotated_graph` turns a :class:`~symbackprop.derivation.Derivation`
into drawable data (an :class:`~symbackprop.render.blocks.AnnotatedGraph`, what a
solution's figure holds): one node per named quantity (leaves and operations), the
edges in the forward direction, each node with its value and its gradient
:math:`\\partial L/\\partial v`. Three writers draw it: :mod:`.tikz` (LaTeX), and
:func:`graph_dot` (Graphviz, for SVG/PNG/PDF pictures) and :func:`graph_mermaid` here.

A matrix derivation gives the same data: every operation of a definition is drawn
(``Z_1 = X W_1 + b_1`` is a matrix product feeding a broadcast sum), the operations
inside a definition as nodes of kind ``"operation"`` with no box, and each named node
carries its shape; its gradient is written out when small, otherwise as its Frobenius norm.

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
from pathlib import Path
from typing import Union

import numpy as np
import sympy as sp

from symbackprop import ir as O
from symbackprop.errors import SymbackpropError
from symbackprop.printing.names import latex_to_unicode
from symbackprop.printing.ir import function_latex, function_text
from symbackprop.printing.numbers import fmt, short_float
from symbackprop.render.blocks import (AnnotatedGraph, Compact, GraphNode, Matrix, definition,
                                       leaf_display)
from symbackprop.render.phrases import phrase
from symbackprop.shapes import shape_latex

#: more nodes than this and a figure is no longer readable on a page
MAX_FIGURE_NODES = 40

INSTALL_GRAPHVIZ = ("install Graphviz: apt-get install graphviz (fonts-wqy-microhei for Chinese legends) "
                    "and pip install graphviz")


def annotated_graph(d) -> AnnotatedGraph:
    """The nodes and forward edges of ``d``'s network with its numbers as the solution shows them."""
    if not d.is_scalar:
        return matrix_graph(d)

    net = d.network
    leaves = leaf_display(d)
    stepped = {s.node for s in d.backward} | {d.loss}
    nodes, edges = [], []
    for name in net.order:
        node = net.node(name)
        g = GraphNode(name, node.latex, net.kind(name))
        if not node.is_leaf:
            g.op_latex, g.op_text = operation(definition(d, name))
            edges += [(i, name) for i in net.inputs(name)]
        if d.values is not None:
            g.value = leaves.get(name) or _number(d.value(name), d.digits)
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
_EXPONENT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


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
            return rf"(\cdot)^{{{expr.exp}}}", "(·)" + str(expr.exp).translate(_EXPONENT)
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


# ---- matrix derivations ------------------------------------------------------
#: a gradient with at most this many rows and columns is written out (a column of at most
#: COMPACT_COLUMNS entries as a transposed row); a larger one is shown by its Frobenius norm
COMPACT_ROWS, COMPACT_COLUMNS = 2, 4


def matrix_graph(d) -> AnnotatedGraph:
    r"""The graph of a matrix derivation: every operation, every shape.

    >>> from symbackprop import backprop, network_from_latex
    >>> net = network_from_latex("Z = X W + b\nL = \\|Z\\|^2", params=["W", "b"],
    ...                          shapes={"X": ["m", 2], "W": [2, 1], "b": [1]})
    >>> g = matrix_graph(backprop(net))
    >>> [(n.name, n.op_text, n.shape) for n in g.nodes]  # doctest: +NORMALIZE_WHITESPACE
    [('X', None, 'm \\times 2'), ('W', None, '2 \\times 1'), ('b', None, '1'),
     ('Z#1', '·', 'm \\times 1'), ('Z', '+', 'm \\times 1'), ('L', '‖·‖²', '')]
    >>> g.edges
    [('X', 'Z#1'), ('W', 'Z#1'), ('Z#1', 'Z'), ('b', 'Z'), ('Z', 'L')]
    """
    net = d.network
    numeric = d.values is not None
    stepped = {s.node for s in d.backward} | {d.loss}
    nodes: list[GraphNode] = []
    edges: list[tuple[str, str]] = []
    for name in net.order:
        node = net.node(name)
        g = GraphNode(name, node.latex, net.kind(name), shape=shape_latex(node.shape))
        if not node.is_leaf:
            g.op_latex, g.op_text = _expand(name, node.expr, nodes, edges)
        if numeric:
            named = any(isinstance(k, str) for k in node.shape)
            g.size = shape_latex(d.sizes.resolve(node.shape)) if named else None
            value = np.asarray(d.values[name], dtype=float)
            if value.ndim == 0:
                g.value = _scalar_value(float(value), d.digits, given=node.is_leaf)
        if name in stepped:
            if name == d.loss:
                g.gradient = "1"
            elif not numeric:
                g.gradient, g.gradient_form = g.shape, "shape"
            else:
                g.gradient, g.gradient_form = _matrix_gradient(d.adjoint_value(name), d.digits)
        nodes.append(g)
    return AnnotatedGraph(nodes, edges, net.node(d.loss).latex, matrix=True)


def _expand(owner: str, definition, nodes: list, edges: list) -> tuple[str, str]:
    """Add the operations inside ``owner``'s definition as nodes, and every edge into them;
    returns the outermost operation, the one drawn beside ``owner``'s box."""
    made: dict = {}  # a repeated subexpression is one node

    def visit(e, target: str) -> tuple[str, str]:
        latex, text, operands = matrix_operation(e)
        for x in operands:
            if isinstance(x, O.Var):
                source = x.name
            else:
                if x not in made:
                    made[x] = f"{owner}#{len(made) + 1}"
                    op_latex, op_text = visit(x, made[x])
                    nodes.append(GraphNode(made[x], "", "operation", op_latex, op_text,
                                           shape=shape_latex(x.shape)))
                source = made[x]
            if (source, target) not in edges:
                edges.append((source, target))
        return latex, text

    return visit(definition, owner)


def _scalar_value(v: float, digits: int, given: bool) -> str:
    """A scalar as the solution shows it: a given number as written, a computed one to ``digits``."""
    short = short_float(v)
    if given and "e" not in short and len(short.partition(".")[2]) <= digits:
        return short
    return fmt(v, digits)


def _matrix_gradient(value, digits: int) -> tuple[Union[str, Compact], str]:
    """A gradient written out when it is small (as the solution prints entries), else its norm."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return fmt(float(a), digits), "value"
    transposed = a.ndim == 2 and a.shape[1] == 1 and a.shape[0] > 1
    row_form = a[:, 0] if transposed else a
    rows = 1 if row_form.ndim == 1 else row_form.shape[0]
    if rows <= COMPACT_ROWS and row_form.shape[-1] <= COMPACT_COLUMNS:
        return Compact(Matrix(row_form).entries(row_form, digits, True), transposed), "value"
    return fmt(float(np.linalg.norm(a)), digits), "norm"


# ---- matrix operations: one entry per IR class, as LaTeX, Unicode and the operands drawn
def matrix_operation(e) -> tuple[str, str, list]:
    r"""How an IR operation is drawn: its label in LaTeX and Unicode, and the operands it takes
    (constants are written into the label: ``1 - \cdot``; a constant factor joins the
    operation it scales: ``\tfrac{1}{m}\|\cdot\|^{2}``).

    >>> from symbackprop import ir as O
    >>> X, W = O.Var("X", ("m", "n")), O.Var("W", ("n", "k"))
    >>> matrix_operation(O.matmul(X, W))[:2], matrix_operation(O.sub(O.Scalar(1), X))[:2]
    (('\\cdot', '·'), ('1 - (\\cdot)', '1 − (·)'))
    """
    return _MATRIX_OPS[type(e).__name__](e)


def _binary(latex: str, text: str):
    def draw(e):
        a, b = e.a, e.b
        if isinstance(a, O.Scalar):
            return rf"{_coeff(a.value)[0]} {latex} (\cdot)", f"{_coeff(a.value)[1]} {text} (·)", [b]
        if isinstance(b, O.Scalar):
            return rf"(\cdot) {latex} {_coeff(b.value)[0]}", f"(·) {text} {_coeff(b.value)[1]}", [a]
        return latex, text, [a, b]
    return draw


def _unary(latex: str, text: str):
    return lambda e: (latex, text, [e.x])


def _coeff(c: sp.Expr) -> tuple[str, str]:
    """A constant as a label writes it: ``\\tfrac{1}{m}`` and ``1/m``."""
    sign = "-" if c.could_extract_minus_sign() else ""
    num, den = sp.fraction(-c if sign else c)
    if den == 1:
        return sign + sp.latex(num), ("−" if sign else "") + str(num)
    return (rf"{sign}\tfrac{{{sp.latex(num)}}}{{{sp.latex(den)}}}",
            f"{'−' if sign else ''}({num}/{den})")


def _scale(e):
    c_latex, c_text = ("-", "−") if e.coeff == -1 else _coeff(e.coeff)
    if isinstance(e.x, (O.Sum, O.FrobSq, O.Norm, O.Apply, O.Softmax)):  # prefix operations
        latex, text, operands = matrix_operation(e.x)
        return f"{c_latex}{latex}", f"{c_text}{text}", operands
    return rf"{c_latex}\,(\cdot)", f"{c_text}(·)", [e.x]


def _apply(e):
    special = {"sqrt": (r"\sqrt{\cdot}", "√"), "abs": (r"|\cdot|", "|·|"),
               "step": (r"\mathbb{1}[\cdot > 0]", "1[·>0]")}
    if e.func in special:
        return (*special[e.func], [e.x])
    return function_latex(e.func), function_text(e.func), [e.x]


def _prime(e):
    return function_latex(e.func) + "'", function_text(e.func) + "′", [e.x]


def _power(e):
    k = e.exp
    return rf"(\cdot)^{{\odot {sp.latex(k)}}}", "(·)^⊙" + str(k), [e.x]


def _sum(e):
    if e.axes is None:
        return r"\sum", "Σ", [e.x]
    if e.axes == (0,):
        return r"\sum_{i}", "Σᵢ", [e.x]
    return r"\operatorname{rowsum}", "rowsum", [e.x]


def _atom(e):
    return "=", "=", [e] if isinstance(e, O.Var) else []


_MATRIX_OPS = {
    "Var": _atom, "Scalar": _atom,
    "Add": _binary("+", "+"), "Sub": _binary("-", "−"),
    "Hadamard": _binary(r"\odot", "⊙"), "Div": _binary(r"\oslash", "⊘"),
    "MatMul": _binary(r"\cdot", "·"),
    "Scale": _scale, "Transpose": _unary(r"(\cdot)^{\top}", "(·)ᵀ"),
    "Apply": _apply, "Prime": _prime, "Power": _power, "Sum": _sum,
    "Broadcast": _unary(r"\cdot\,\mathbf{1}", "·𝟏"),
    "FrobSq": _unary(r"\|\cdot\|^{2}", "‖·‖²"), "Norm": _unary(r"\|\cdot\|", "‖·‖"),
    "Softmax": _unary(r"\operatorname{softmax}", "softmax"),
    "LogSoftmax": _unary(r"\ln\operatorname{softmax}", "ln softmax"),
    "PositiveDiv": _binary(r"\oslash", "⊘"),
    "Maximum": lambda e: (r"\max(\cdot, \cdot)", "max(·, ·)", [e.a, e.b]),
    "Minimum": lambda e: (r"\min(\cdot, \cdot)", "min(·, ·)", [e.a, e.b]),
    "VarPower": lambda e: (r"(\cdot)^{(\cdot)}", "(·)^(·)", [e.a, e.b]),
}


# ---- Graphviz -----------------------------------------------------------------
COLORS = {"param": "#dbe8f7", "input": "#eeeeee", "intermediate": "#ffffff", "loss": "#fde3c8"}
GRADIENT_COLOR = "#c0392b"

def html_name(latex: str) -> str:
    """A node's LaTeX name as a Graphviz HTML label: ``z_{h1}`` → ``z<SUB>h1</SUB>``.

    >>> html_name("z_{h1}"), html_name(r"\\delta_2"), html_name("W^{[2]}"), html_name(r"\\psi")
    ('z<SUB>h1</SUB>', 'δ<SUB>2</SUB>', 'W<SUP>[2]</SUP>', 'ψ')
    """
    text = latex_to_unicode(latex)
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
    return text.replace(r"\infty", "∞").replace("-", "−")


def graph_dot(graph: AnnotatedGraph, lang: str = "en") -> str:
    """Graphviz source of ``graph``: value boxes, operation circles, forward edges.

    Like micrograd's ``draw_dot``: each operation is a small circle feeding the
    box of the value it makes, left to right. A matrix graph runs top to bottom,
    as its TikZ figure does, with the parameters level with the operation they feed.
    """
    try:
        import graphviz
    except ImportError:  # pragma: no cover - a declared dependency
        raise SymbackpropError(f"the graphviz Python package is missing; {INSTALL_GRAPHVIZ}") from None
    ids = {n.name: f"n{i}" for i, n in enumerate(graph.nodes)}
    dot = graphviz.Digraph("computational_graph", graph_attr={
        "rankdir": "TB" if graph.matrix else "LR", "nodesep": "0.25", "ranksep": "0.45",
        "bgcolor": "white", "label": _legend_text(graph, lang), "labelloc": "b",
        "fontname": "Helvetica", "fontsize": "10"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7", "color": "#555555"})
    for n in graph.nodes:
        op = ids[n.name] + "_op"
        if not n.is_leaf:  # a circle, or a pill for a longer label (softmax, (1/m)‖·‖²)
            shape = (dict(shape="circle", fixedsize="shape", margin="0.02") if len(n.op_text) <= 2
                     else dict(shape="box", style="rounded", height="0.35", margin="0.04,0.02"))
            dot.node(op, label=html.escape(n.op_text), width="0.35", fontsize="12", **shape)
        if n.is_operation:
            continue
        label = _html_label(n, graph) if graph.matrix else _html_scalar_label(n, graph)
        dot.node(ids[n.name], label=label, shape="box", style="rounded,filled",
                 fillcolor=COLORS.get(n.kind, "#ffffff"))
        if not n.is_leaf:
            dot.edge(op, ids[n.name], arrowhead="none")
    beside = graph.side_leaves()
    for a, b in graph.edges:
        source = ids[a] + ("_op" if graph.node(a).is_operation else "")
        if beside.get(a, (b, -1))[1] > 0:  # a same-rank edge runs tail left of head: W_1 after ·
            dot.edge(ids[b] + "_op", source, dir="back")
        else:
            dot.edge(source, ids[b] + "_op")
    for a, (c, _) in beside.items():  # a parameter enters its operation from the side
        with dot.subgraph() as same:
            same.attr(rank="same")
            same.node(ids[a])
            same.node(ids[c] + "_op")
    return dot.source


def _legend_text(graph: AnnotatedGraph, lang: str) -> str:
    L = re.sub(r"[{}\\]", "", graph.loss)
    if not graph.matrix:
        return phrase("graph_legend_text", lang, L=L)
    example = next((n.size for n in graph.nodes if n.size), None)
    sizes = phrase("m_graph_legend_text_sizes", lang, example=_html_shape(example)) if example else ""
    gradient = phrase(f"m_graph_legend_text_{graph.gradients_shown()}", lang, L=L)
    return phrase("m_graph_legend_text", lang, sizes=sizes, gradient=gradient)


def _html_scalar_label(n: GraphNode, graph: AnnotatedGraph) -> str:
    loss = html_name(graph.loss)
    rows = [f"<I>{html_name(n.latex)}</I>" + (f" = {_html_number(n.value)}" if n.value else "")]
    if n.gradient is not None:
        rows.append(f'<FONT COLOR="{GRADIENT_COLOR}" POINT-SIZE="10">∂{loss}/∂{html_name(n.latex)}'
                    f" = {_html_number(n.gradient)}</FONT>")
    return "<" + "<BR/>".join(rows) + ">"


def _html_label(n: GraphNode, graph: AnnotatedGraph) -> str:
    """A matrix node: name with shape (and size) or value; its gradient in red."""
    name = f"<I>{html_name(n.latex)}</I>"
    if n.value is not None:
        top = f"{name} = {_html_number(n.value)}"
    else:
        top = f"{name} ∈ {_html_space(n.shape)}"
        if n.size:
            top += f' <FONT COLOR="#777777">({_html_shape(n.size)})</FONT>'
    rows = [f"<TR><TD>{top}</TD></TR>"]
    if n.gradient is not None:
        red = lambda text: f'<FONT COLOR="{GRADIENT_COLOR}" POINT-SIZE="10">{text}</FONT>'  # noqa: E731
        partial = f"∂{html_name(graph.loss)}/∂{html_name(n.latex)}"
        if n.gradient_form == "norm":
            cells = [red(f"‖{partial}‖ = {_html_number(n.gradient)}")]
        elif n.gradient_form == "shape":
            cells = [red(f"{partial} ∈ {_html_space(n.gradient)}")]
        elif isinstance(n.gradient, Compact):
            cells = [red(f"{partial} = "), _html_matrix(n.gradient, red)]
            if n.gradient.transposed:
                cells.append(red("<SUP>T</SUP>"))
        else:
            cells = [red(f"{partial} = {_html_number(n.gradient)}")]
        inner = "".join(f"<TD>{c}</TD>" for c in cells)
        rows.append(f'<TR><TD><TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>{inner}'
                    f"</TR></TABLE></TD></TR>")
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + "".join(rows) + "</TABLE>>")


def _html_matrix(c: Compact, red) -> str:
    """A small matrix as a table between two bracket-shaped cells."""
    k = len(c.rows)
    bracket = (f'<TD ROWSPAN="{k}" BORDER="1" SIDES="{{}}" COLOR="{GRADIENT_COLOR}" WIDTH="3">'
               "</TD>")
    rows = []
    for i, r in enumerate(c.rows):
        cells = "".join(f"<TD>{red(_html_number(e))}</TD>" for e in r)
        rows.append("<TR>" + (bracket.format("LTB") if i == 0 else "") + cells
                    + (bracket.format("RTB") if i == 0 else "") + "</TR>")
    return ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows)
            + "</TABLE>")


def _html_shape(shape: str) -> str:
    r"""A LaTeX shape in HTML: ``n_{in} \times n_{1}`` → ``n<SUB>in</SUB>×n<SUB>1</SUB>``."""
    return "×".join(html_name(d) for d in shape.split(r" \times "))


def _html_space(shape: str) -> str:
    return "ℝ" + (f"<SUP>{_html_shape(shape)}</SUP>" if shape else "")


def graph_mermaid(graph: AnnotatedGraph) -> str:
    """Mermaid source of ``graph`` (a Markdown ``mermaid`` block draws it on GitHub and GitLab).

    The same picture as :func:`graph_dot`: value boxes coloured by kind, an
    operation circle feeding each computed value, forward edges. Every colour is a
    ``classDef``, the gradient row's too (class ``gradient``): no label holds an inline
    ``style='color:#…'``, since Mermaid's entity pass drops the last ``;`` of a line that
    has one, and with it a matrix's row separator.

    >>> from symbackprop import backprop, network_from_latex
    >>> net = network_from_latex("z = w x\\nL = z^2", params=["w"])
    >>> print(graph_mermaid(annotated_graph(backprop(net, {"w": 0.5, "x": 2.0}))))
    flowchart LR
      n0["<i>w</i> = 0.5<br/><span class='gradient'><span>∂L/∂w = 4.000</span></span>"]:::param
      n1["<i>x</i> = 2"]:::input
      n2_op(("×"))
      n2["<i>z</i> = 1.000<br/><span class='gradient'><span>∂L/∂z = 2.000</span></span>"]:::intermediate
      n2_op --> n2
      n3_op(("(·)²"))
      n3["<i>L</i> = 1.000<br/><span class='gradient'><span>∂L/∂L = 1</span></span>"]:::loss
      n3_op --> n3
      n0 --> n2_op
      n1 --> n2_op
      n2 --> n3_op
      classDef param fill:#dbe8f7,stroke:#555
      classDef input fill:#eeeeee,stroke:#555
      classDef intermediate fill:#ffffff,stroke:#555
      classDef loss fill:#fde3c8,stroke:#555
      classDef gradient color:#c0392b
    """
    ids = {n.name: f"n{i}" for i, n in enumerate(graph.nodes)}
    loss = _mermaid_html(html_name(graph.loss))
    lines = ["flowchart " + ("TB" if graph.matrix else "LR")]
    for n in graph.nodes:
        op = ids[n.name] + "_op"
        if not n.is_leaf:
            lines.append(f'  {op}(("{_mermaid_text(n.op_text)}"))')
        if n.is_operation:
            continue
        name = f"<i>{_mermaid_html(html_name(n.latex))}</i>"
        if n.value is not None:
            rows = [f"{name} = {_mermaid_html(_html_number(n.value))}"]
        else:
            rows = [f"{name} ∈ {_mermaid_html(_html_space(n.shape or ''))}"
                    + (f" ({_mermaid_html(_html_shape(n.size))})" if n.size else "")]
        if n.gradient is not None:
            # Mermaid's classDef colours the children of an element of its class: hence two spans
            rows.append(f"<span class='{MERMAID_GRADIENT_CLASS}'><span>∂{loss}/∂"
                        f"{_mermaid_html(html_name(n.latex))}{_mermaid_gradient(n)}</span></span>")
        lines.append(f'  {ids[n.name]}["{"<br/>".join(rows)}"]:::{n.kind}')
        if not n.is_leaf:
            lines.append(f"  {op} --> {ids[n.name]}")
    for a, b in graph.edges:
        source = ids[a] + ("_op" if graph.node(a).is_operation else "")
        lines.append(f"  {source} --> {ids[b]}_op")
    lines += [f"  classDef {kind} fill:{color},stroke:#555" for kind, color in COLORS.items()]
    lines.append(f"  classDef {MERMAID_GRADIENT_CLASS} color:{GRADIENT_COLOR}")
    return "\n".join(lines)


#: the Mermaid class of a label's gradient row, coloured GRADIENT_COLOR by a classDef
MERMAID_GRADIENT_CLASS = "gradient"


def _mermaid_gradient(n: GraphNode) -> str:
    """`` = value`` of a gradient in a Mermaid label: a number, a small matrix, its norm or shape."""
    g = n.gradient
    if isinstance(g, Compact):
        rows = "; ".join(", ".join(_html_number(e) for e in r) for r in g.rows)
        return _mermaid_html(f" = [{rows}]" + ("ᵀ" if g.transposed else ""))
    if n.gradient_form == "norm":
        return _mermaid_html(f": ‖·‖ = {_html_number(g)}")
    if n.gradient_form == "shape":
        return _mermaid_html(f" ∈ {_html_space(g)}")
    return _mermaid_html(f" = {_html_number(g)}")


_MERMAID_ESCAPE = re.compile(r'&#[xX]([0-9a-fA-F]+);|&#(\d+);|[#"]')


def _mermaid_html(text: str) -> str:
    r"""Graphviz-style HTML (``<SUB>``) as Mermaid label HTML: lower-case tags, and every ``"``
    and ``#`` as Mermaid's own entity (``#quot;``, ``#35;``), numeric HTML entities too.

    Mermaid reads ``#name;`` as an entity before it parses the HTML: ``html.escape``'s
    ``&#x27;`` would come out as ``&&x27;``, and a plain ``#1;`` as a control character.

    >>> _mermaid_html('a<SUB>1</SUB> "x" #1; it&#x27;s')
    'a<sub>1</sub> #quot;x#quot; #35;1; it#39;s'
    """
    text = re.sub(r"</?(SUB|SUP|I|BR)\b", lambda m: m.group(0).lower(), text)

    def escape(m: re.Match) -> str:
        if m.group(1) or m.group(2):
            return f"#{int(m.group(1), 16) if m.group(1) else int(m.group(2))};"
        return "#quot;" if m.group(0) == '"' else "#35;"
    return _MERMAID_ESCAPE.sub(escape, text)


def _mermaid_text(text: str) -> str:
    """Plain text as a Mermaid label: HTML-escaped, then as :func:`_mermaid_html`."""
    return _mermaid_html(html.escape(text))


def write_graph(d, path: Path | str, *, lang: str | None = None) -> None:
    """Write ``d``'s computational graph to ``path``: .svg/.png/.pdf (Graphviz), .dot, .tex (TikZ)."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    graph = annotated_graph(d)
    lang = lang or d.lang
    if suffix == "tex":
        from symbackprop.render.tikz import tikz_standalone

        data = tikz_standalone(graph, lang).encode("utf-8")
    elif suffix in ("dot", "gv"):
        data = graph_dot(graph, lang).encode("utf-8")
    elif suffix in ("svg", "png", "pdf"):
        import graphviz

        try:
            data = graphviz.Source(graph_dot(graph, lang)).pipe(format=suffix)
        except graphviz.ExecutableNotFound:
            raise SymbackpropError(f"Graphviz's 'dot' program is not installed; {INSTALL_GRAPHVIZ}, "
                                   f"or write {path.with_suffix('.tex').name} (TikZ) instead") from None
        except graphviz.CalledProcessError as e:  # pragma: no cover - dot rejects our own source
            raise SymbackpropError(f"Graphviz failed: {e.stderr.decode(errors='replace').strip()}") from None
    else:
        raise SymbackpropError(f"cannot draw a graph as '{path.name}'; use .svg, .png, .pdf, .dot "
                               "or .tex")
    try:
        path.write_bytes(data)
    except OSError as e:
        raise SymbackpropError(f"cannot write {path}: {e.strerror}") from None
