r"""What a worked solution is made of, for scalar and matrix networks alike.

:mod:`.solution` builds a :class:`Solution` from a
:class:`~symbackprop.derivation.Derivation` as a list of blocks (headings,
paragraphs, aligned equations, tables, the graph figure); each writer (LaTeX,
Markdown, text) only decides how a block looks. Math is held as *segments*
that print themselves in LaTeX or in plain text, so the two never disagree:
SymPy expressions for scalar steps, IR expressions, shapes and matrices
(``bmatrix`` when small, rows and columns elided when large).

The figure holds an :class:`AnnotatedGraph` (:mod:`.graph` builds it,
:mod:`.tikz` and :mod:`.graph` draw it). The helpers at the end say how a
derivation's names and values are shown, by the solution and its graph alike.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence, Union

import numpy as np
import sympy as sp

from symbackprop import ir as O
from symbackprop.derivation import Derivation
from symbackprop.printing.ir import LatexPrinter, TextPrinter
from symbackprop.printing.names import text_name
from symbackprop.printing.numbers import fmt, short_float
from symbackprop.printing.sympy import partial_latex, sympy_latex, sympy_text
from symbackprop.shapes import Shape, dim_latex, shape_latex, shape_text, space_latex, space_text
from symbackprop.sympy_form import to_sympy

#: matrices with more rows or columns than this are shown with the middle elided
MAX_SHOWN = 6


# ---- math segments --------------------------------------------------------
@dataclass
class Ctx:
    """What printing needs: names, precision, the loss's name."""

    names: Mapping[str, str]
    digits: int
    loss: str


@dataclass
class SympyExpr:
    """A SymPy expression, optionally with numbers substituted for its symbols."""

    expr: sp.Expr
    values: Mapping[str, float | str] | None = None
    order: str | None = None
    factor: bool = False  #: a factor of a product: parenthesise sums and negatives

    def _wrap(self) -> bool:
        return self.factor and (self.expr.is_Add or self.expr.could_extract_minus_sign())

    def latex(self, ctx: Ctx) -> str:
        text = sympy_latex(self.expr, values=self.values, digits=ctx.digits, loss=ctx.loss,
                        names=ctx.names, order=self.order)
        return rf"\left({text}\right)" if self._wrap() else text

    def text(self, ctx: Ctx) -> str:
        text = sympy_text(self.expr, values=self.values, digits=ctx.digits, loss=ctx.loss,
                       order=self.order)
        return f"({text})" if self._wrap() else text


@dataclass
class IR:
    r"""An IR expression, printed by the IR printers (``A_1^\top``, ``\sigma'(z_2)``)."""

    expr: O.Expr

    def latex(self, ctx: Ctx) -> str:
        return LatexPrinter(ctx.names, ctx.loss).doprint(self.expr)

    def text(self, ctx: Ctx) -> str:
        return TextPrinter(None, ctx.loss).doprint(self.expr)


@dataclass
class PartialRatio:
    """``∂of/∂wrt``."""

    of: str
    wrt: str

    def latex(self, ctx: Ctx) -> str:
        return partial_latex(self.of, self.wrt, ctx.names)

    def text(self, ctx: Ctx) -> str:
        return f"∂{text_name(self.of)}/∂{text_name(self.wrt)}"


@dataclass
class DerivativeOf:
    """``∂/∂wrt (expr)``: the operator applied to a definition."""

    wrt: str
    expr: sp.Expr

    def latex(self, ctx: Ctx) -> str:
        name = ctx.names.get(self.wrt, self.wrt)
        return rf"\frac{{\partial}}{{\partial {name}}}\left({SympyExpr(self.expr, order='none').latex(ctx)}\right)"

    def text(self, ctx: Ctx) -> str:
        return f"∂/∂{text_name(self.wrt)} [{SympyExpr(self.expr, order='none').text(ctx)}]"


@dataclass
class Number:
    value: float
    bold: bool = False
    parens: bool = False  #: wrap a negative number (it follows an operator)

    def latex(self, ctx: Ctx) -> str:
        text = fmt(self.value, ctx.digits)
        if self.bold:
            text = rf"\mathbf{{{text}}}"
        return rf"\left({text}\right)" if self.parens and self.value < 0 else text

    def text(self, ctx: Ctx) -> str:
        text = fmt(self.value, ctx.digits, latex=False)
        return f"({text})" if self.parens and self.value < 0 else text


@dataclass
class Joined:
    """Segments joined by an operator: a product (``·``/``×``) or a sum (``+``)."""

    parts: Sequence
    op: str  #: "dot", "times" or "plus"

    _LATEX = {"dot": r" \cdot ", "times": r" \times ", "plus": " + "}
    _TEXT = {"dot": " · ", "times": " × ", "plus": " + "}

    def latex(self, ctx: Ctx) -> str:
        return self._join([p.latex(ctx) for p in self.parts], self._LATEX[self.op])

    def text(self, ctx: Ctx) -> str:
        return self._join([p.text(ctx) for p in self.parts], self._TEXT[self.op])

    def _join(self, texts: list[str], sep: str) -> str:
        out = texts[0]
        for t in texts[1:]:
            out += f" - {t[1:].lstrip()}" if self.op == "plus" and t.startswith("-") else sep + t
        return out


@dataclass
class InSpace:
    """A segment followed by ``∈ ℝ^{shape}``: ends a chain of equalities."""

    segment: object
    shape: Shape

    def latex(self, ctx: Ctx) -> str:
        return rf"{self.segment.latex(ctx)} \qquad \in {space_latex(self.shape)}"

    def text(self, ctx: Ctx) -> str:
        return f"{self.segment.text(ctx)}  ∈ {space_text(self.shape)}"


def in_space(rhs: list, shape: Shape) -> list:
    """``rhs`` with the shape written after its last member."""
    return rhs[:-1] + [InSpace(rhs[-1], shape)]


@dataclass
class Matrix:
    """A value: a number, a vector or a matrix (``bmatrix``, large ones elided).

    Entries share one format: fixed decimals, or scientific when every entry
    is too small to show; ``given`` leaves values as short as they were written.
    """

    value: np.ndarray
    bold: bool = False
    given: bool = False

    def latex(self, ctx: Ctx) -> str:
        a = np.asarray(self.value, dtype=float)
        if a.ndim == 0:
            text = fmt(float(a), ctx.digits)
            return rf"\mathbf{{{text}}}" if self.bold else text
        rows = _elide(self.entries(a, ctx.digits, True), r"\vdots", r"\cdots", r"\ddots")
        return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(r) for r in rows) + r" \end{bmatrix}"

    def text(self, ctx: Ctx) -> str:
        a = np.asarray(self.value, dtype=float)
        if a.ndim == 0:
            return fmt(float(a), ctx.digits, latex=False)
        rows = _elide(self.entries(a, ctx.digits, False), "⋮", "…", "⋱")
        inner = ["[" + ", ".join(r) + "]" for r in rows]
        return inner[0] if a.ndim == 1 else "[" + ", ".join(inner) + "]"

    def entries(self, a: np.ndarray, digits: int, latex: bool) -> list[list[str]]:
        """The entries of ``a`` as shown, row by row (a vector is one row)."""
        short = [[short_float(float(v)) for v in r] for r in _rows(a)]
        if self.given and all(_decimals(t) <= digits for r in short for t in r):
            return short
        tiny = np.all((np.abs(a) < 10 ** -digits) & (a != 0))
        if tiny:
            return [[fmt(float(v), digits, latex=latex) for v in r] for r in _rows(a)]
        return [[_fixed(float(v), digits) for v in r] for r in _rows(a)]


def _decimals(text: str) -> int:
    if "e" in text:
        return 99
    return len(text.split(".")[1]) if "." in text else 0


def _fixed(v: float, digits: int) -> str:
    text = f"{v:.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text


def _rows(a: np.ndarray) -> list:
    return [a] if a.ndim == 1 else list(a)


def _elide(rows: list[list[str]], vdots: str, cdots: str, ddots: str) -> list[list[str]]:
    """Keep the first three and the last row/column of a large matrix."""
    if len(rows[0]) > MAX_SHOWN:
        rows = [r[:3] + [cdots] + r[-1:] for r in rows]
    if len(rows) > MAX_SHOWN:
        gap = [ddots if c == cdots else vdots for c in rows[0]]
        rows = rows[:3] + [gap] + rows[-1:]
    return rows


@dataclass
class Raw:
    """Math given in both forms."""

    tex: str
    plain: str

    def latex(self, ctx: Ctx) -> str:
        return self.tex

    def text(self, ctx: Ctx) -> str:
        return self.plain


@dataclass
class Descent:
    """``current − η · gradient`` with the matrices written out."""

    parts: list
    lr: str

    def latex(self, ctx: Ctx) -> str:
        a, g = (p.latex(ctx) for p in self.parts)
        return rf"{a} - {self.lr} {g}"

    def text(self, ctx: Ctx) -> str:
        a, g = (p.text(ctx) for p in self.parts)
        return f"{a} - {self.lr} × {g}"


@dataclass
class ShapeCheck:
    """``(n_1×m)(m×n_2)``: the shapes an operation combines."""

    expr: O.Expr

    def latex(self, ctx: Ctx) -> str:
        return _check(self.expr, lambda s: rf"\left({shape_latex(s) or '1'}\right)",
                      r"\odot", lambda d: rf"\sum_{{i=1}}^{{{d}}}", latex=True)

    def text(self, ctx: Ctx) -> str:
        return _check(self.expr, lambda s: f"({shape_text(s) if s else '1'})", "⊙",
                      lambda d: f"Σ_(i=1..{d})", latex=False)


def _check(e: O.Expr, box, odot: str, rowsum, latex: bool) -> str:
    if isinstance(e, O.MatMul):
        return box(e.a.shape) + box(e.b.shape)
    if isinstance(e, (O.Hadamard, O.Div)):
        return f"{box(e.a.shape)} {odot if isinstance(e, O.Hadamard) else '/'} {box(e.b.shape)}"
    if isinstance(e, O.Sum) and e.axes == (0,):
        d = e.x.shape[0]
        return f"{rowsum(dim_latex(d) if latex else d)} {box(e.x.shape)}"
    if isinstance(e, (O.Add, O.Sub)):
        return f"{box(e.a.shape)} {'+' if isinstance(e, O.Add) else '-'} {box(e.b.shape)}"
    if isinstance(e, O.Scale):
        return _check(e.x, box, odot, rowsum, latex)
    return box(e.shape)


# ---- blocks ---------------------------------------------------------------
@dataclass
class Heading:
    text: str
    level: int = 2


#: inline math in a paragraph or a table cell
INLINE_MATH = re.compile(r"\$([^$]*)\$")


@dataclass
class Para:
    text: str  #: prose with inline ``$…$`` math


@dataclass
class Equation:
    """One display equation: ``lhs = rhs_1 = rhs_2 = …`` (aligned at the ``=``)."""

    lhs: object
    rhs: list


@dataclass
class Equations:
    rows: list[Equation]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]  #: cells are prose with inline ``$…$`` math


@dataclass
class Figure:
    """The computational graph, annotated with values and gradients."""

    graph: AnnotatedGraph
    caption: str


@dataclass
class Solution:
    title: str
    blocks: list = field(default_factory=list)
    ctx: Ctx | None = None


# ---- the figure's graph ---------------------------------------------------
@dataclass
class Compact:
    """A small matrix written out, entries as shown; a column is written as a transposed row."""

    rows: list[list[str]]
    transposed: bool = False

    def latex(self) -> str:
        body = r" \\ ".join(" & ".join(r) for r in self.rows)
        return (r"\left[\begin{smallmatrix} " + body + r" \end{smallmatrix}\right]"
                + (r"^{\top}" if self.transposed else ""))


@dataclass
class GraphNode:
    """One node as drawn: its name, kind, operation, value and gradient (display text)."""

    name: str  #: canonical name
    latex: str  #: LaTeX spelling of the name ("" for an operation inside a definition)
    kind: str  #: "param", "input", "intermediate", "loss", or "operation" (no value box)
    op_latex: str | None = None  #: the operation that makes it (None for a leaf)
    op_text: str | None = None  #: the same in Unicode
    value: str | None = None  #: forward value as shown
    gradient: Union[str, Compact, None] = None  #: ∂L/∂v as shown (None: not needed)
    #: matrix graphs: what ``gradient`` holds: "value", "norm" (‖∂L/∂v‖) or "shape" (no numbers)
    gradient_form: str = "value"
    shape: str | None = None  #: matrix graphs: LaTeX shape (``m \times n_{1}``; "" a scalar)
    size: str | None = None  #: its concrete size when the shape has names (``4 \times 4``)

    @property
    def is_leaf(self) -> bool:
        return self.op_latex is None

    @property
    def is_operation(self) -> bool:
        """An operation inside a definition: a circle of its own, without a value box."""
        return self.kind == "operation"


@dataclass
class AnnotatedGraph:
    nodes: list[GraphNode]  #: topological order
    edges: list[tuple[str, str]]  #: (input, consumer) in the forward direction
    loss: str  #: LaTeX name of the loss
    matrix: bool = False  #: a matrix derivation: nodes carry shapes

    def node(self, name: str) -> GraphNode:
        return next(n for n in self.nodes if n.name == name)

    def gradients_shown(self) -> str:
        """What a matrix graph's red lines give: "values" (entries or norms) or "shapes"."""
        return "shapes" if any(n.gradient_form == "shape" for n in self.nodes) else "values"

    def side_leaves(self, fits=lambda leaf, op: True) -> dict[str, tuple[str, int]]:
        """Leaves drawn beside the operation they feed, as textbooks draw parameters
        (``X → · ← W_1``): leaf -> (operation, -1 before it or +1 after it).

        Only in matrix graphs, only a leaf no other operation uses, at most one on each side;
        ``fits(leaf, op)`` may refuse a place (a picture where the leaf would stick out).
        """
        if not self.matrix:
            return {}
        inputs: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        consumers: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for a, b in self.edges:
            inputs[b].append(a)
            consumers[a].append(b)
        side: dict[str, tuple[str, int]] = {}
        for n in self.nodes:
            c = n.name
            leaves = [a for a in inputs[c] if self.node(a).is_leaf and consumers[a] == [c]
                      and fits(a, c)]
            if len(leaves) == 2:
                side[leaves[0]], side[leaves[1]] = (c, -1), (c, 1)
            elif len(leaves) == 1:
                side[leaves[0]] = (c, -1 if inputs[c][0] == leaves[0] else 1)
        return side


# ---- how a derivation is shown ----------------------------------------------
def solution_ctx(d: Derivation) -> Ctx:
    """Printing context of ``d``: its nodes' LaTeX names, precision and loss."""
    net = d.network
    return Ctx({n: net.node(n).latex for n in net.order}, d.digits, d.loss)


def definition(d: Derivation, node: str) -> sp.Expr:
    """A scalar node's definition as written (the author's order), in SymPy."""
    n = d.network.node(node)
    return n.written if n.written is not None else to_sympy(n.expr, evaluate=False)


def shown_values(d: Derivation) -> dict[str, float | str]:
    """What a step substitutes for each name: computed values, and leaves as given."""
    return {**d.scalar_values(), **leaf_display(d)}


def leaf_display(d: Derivation) -> dict[str, str]:
    """Leaf values as given (``0.5``, ``2.0``), not padded to the display precision; a value
    that needs more digits than shown is left out, for each printer to format its own way."""
    if d.values is None:
        return {}
    out = {}
    for n in d.network.order:
        if d.network.node(n).is_leaf:
            v = d.value(n)
            short = short_float(v)
            decimals = len(short.split(".")[1]) if "." in short and "e" not in short else 0
            if decimals <= d.digits and "e" not in short:
                out[n] = short
    return out
