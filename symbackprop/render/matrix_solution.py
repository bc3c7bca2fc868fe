r"""The matrix worked solution, as the same blocks the scalar one uses.

Headings, paragraphs, equations and tables of
:mod:`symbackprop.render.solution`, so every writer (LaTeX, PDF, Markdown,
text) prints it unchanged. Math segments here print IR expressions, shapes
and matrices (``bmatrix`` when small, rows and columns elided when large).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from symbackprop.printing.numbers import fmt
from symbackprop.render.phrases import phrase
from symbackprop.printing.numbers import short_float
from symbackprop.render.solution import (Ctx, Equation, Equations, Figure, Heading, Para, Partial, Solution,
                                Table)
from symbackprop import ir as O
from symbackprop.derivation import Derivation, Step, Term
from symbackprop.printing.ir import LatexPrinter, TextPrinter
from symbackprop.rules import textbook_prime
from symbackprop.shapes import Shape, dim_latex, shape_latex, shape_text, space_latex, space_text

#: matrices with more rows or columns than this are shown with the middle elided
MAX_SHOWN = 6


# ---- math segments --------------------------------------------------------
@dataclass
class IR:
    """An IR expression."""

    expr: O.Expr

    def latex(self, ctx: Ctx) -> str:
        return LatexPrinter(ctx.names, ctx.loss).doprint(self.expr)

    def text(self, ctx: Ctx) -> str:
        return TextPrinter(None, ctx.loss).doprint(self.expr)


@dataclass
class InSpace:
    """A segment followed by ``∈ ℝ^{shape}``: ends a chain of equalities."""

    segment: object
    shape: Shape

    def latex(self, ctx: Ctx) -> str:
        return rf"{self.segment.latex(ctx)} \qquad \in {space_latex(self.shape)}"

    def text(self, ctx: Ctx) -> str:
        return f"{self.segment.text(ctx)}  ∈ {space_text(self.shape)}"


def _in_space(rhs: list, shape: Shape) -> list:
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
        rows = _elide(self._entries(a, ctx.digits, True), r"\vdots", r"\cdots", r"\ddots")
        return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(r) for r in rows) + r" \end{bmatrix}"

    def text(self, ctx: Ctx) -> str:
        a = np.asarray(self.value, dtype=float)
        if a.ndim == 0:
            return fmt(float(a), ctx.digits, latex=False)
        rows = _elide(self._entries(a, ctx.digits, False), "⋮", "…", "⋱")
        inner = ["[" + ", ".join(r) + "]" for r in rows]
        return inner[0] if a.ndim == 1 else "[" + ", ".join(inner) + "]"

    def _entries(self, a: np.ndarray, digits: int, latex: bool) -> list[list[str]]:
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


def _shape_result(shape: Shape, latex: bool) -> str:
    if latex:
        return (shape_latex(shape) or "1") + r" \quad \checkmark"
    return (shape_text(shape) if shape else "1") + "  ✓"


# ---- building --------------------------------------------------------------
def solution_ctx(d: Derivation) -> Ctx:
    net = d.network
    return Ctx({n: net.node(n).latex for n in net.order}, d.digits, d.loss)


def build_solution(d: Derivation, *, lang: str | None = None,
                   closed_forms: bool | str = False, title: str | None = None,
                   graph: bool = False) -> Solution:
    """The matrix worked solution of ``d`` as blocks; ``graph`` adds the computational graph."""
    lang = lang or d.lang
    net = d.network
    ctx = solution_ctx(d)
    names = ctx.names
    sol = Solution(title or net.titles.get(lang) or net.title or phrase("title", lang), ctx=ctx)
    add = sol.blocks.append
    numeric = d.values is not None
    sep = phrase("and", lang)

    def m(name: str) -> str:
        return f"${names[name]}$"

    # The network, with every shape
    add(Heading(phrase("network", lang)))
    add(Para(phrase("m_network_intro", lang)))
    defined = [n for n in net.order if not net.node(n).is_leaf]
    add(Equations([Equation(IR(net.node(n).var), [InSpace(IR(net.node(n).expr), net.node(n).shape)])
                   for n in defined]))
    params = list(net.params)
    inputs = [n for n in net.order if net.node(n).is_leaf and n not in params]
    add(Para(phrase("params", lang, names=sep.join(m(p) for p in params))))
    if inputs:
        add(Para(phrase("inputs", lang, names=sep.join(m(i) for i in inputs))))
    if graph:  # the equations drawn, before the tables of numbers
        sol.blocks.extend(graph_blocks(d, lang))
    sized = numeric and bool(net.dims)  # a size column only where a shape has names
    header = [phrase("h_node", lang), phrase("h_shape", lang)]
    if sized:
        header.append(phrase("h_size", lang))
    rows = []
    for n in net.order:
        if net.node(n).is_leaf:
            shape = net.node(n).shape
            row = [m(n), f"${shape_latex(shape)}$" if shape else phrase("scalar", lang)]
            if sized:
                size = d.sizes.resolve(shape)
                row.append(f"${shape_latex(size)}$" if shape else "1")
            rows.append(row)
    add(Table(header, rows))

    if numeric:
        sizes = sep.join(f"${dim_latex(k)} = {v}$" for k, v in d.sizes.items())
        if sizes:
            add(Para(phrase("m_sizes", lang, sizes=sizes)))
        add(Para(phrase("m_given", lang)))
        add(Equations([Equation(IR(net.node(n).var), [Matrix(d.values[n], given=True)])
                       for n in net.order if net.node(n).is_leaf]))
        add(Para(phrase(f"precision_{d.mode}", lang, digits=d.digits)))

        # Forward pass
        add(Heading(phrase("forward", lang)))
        add(Para(phrase("forward_intro", lang)))
        add(Equations([Equation(IR(net.node(n).var), _in_space(
            [IR(net.node(n).expr), Matrix(d.values[n])], net.node(n).shape)) for n in defined]))
        add(Para(phrase("loss_is", lang, L=names[d.loss], value=fmt(d.loss_value, d.digits))))

    # Backward pass
    add(Heading(phrase("backward", lang)))
    add(Para(phrase("m_backward_intro", lang)))
    for step in d.backward:
        add(Heading(phrase("step", lang, n=step.number, v=names[step.node]), level=3))
        sol.blocks.extend(step_blocks(d, step, lang))

    # Gradients
    add(Heading(phrase("gradients", lang)))
    add(Para(phrase("m_gradients_intro", lang)))
    add(Equations([Equation(Partial(d.loss, p), _gradient_rhs(d, p)) for p in params]))

    if closed_forms:
        add(Heading(phrase("closed_forms", lang)))
        add(Para(phrase("closed_intro", lang)))
        add(Equations([Equation(Partial(d.loss, p), [IR(d.expand(p))] + (
            [IR(d.expand(p, leaves=True))] if closed_forms == "leaves" else [])) for p in params]))

    if d.updates:
        add(Heading(phrase("update", lang)))
        lr = short_float(d.learning_rate)
        add(Para(phrase("update_intro", lang, lr=lr, L=names[d.loss])))
        rows = []
        for p, u in d.updates.items():
            lhs = Raw(rf"{names[p]} - \eta \, {Partial(d.loss, p).latex(ctx)}",
                      f"{p} - η ∂{d.loss}/∂{p}")
            rows.append(Equation(lhs, [Descent([Matrix(u.current), Matrix(u.gradient)], lr),
                                       Matrix(u.updated)]))
        add(Equations(rows))
        add(Para(phrase("loss_after", lang, before=f"${fmt(d.loss_value, d.digits)}$",
                        after=f"${fmt(d.loss_after, d.digits)}$")))
    return sol


def graph_blocks(d: Derivation, lang: str) -> list:
    """The network drawn: the computational graph with shapes, or a sentence when too large.

    It belongs to the description of the network, with no heading of its own, so that the
    article's two-layer MLP has its equations and its picture on the first page.
    """
    from symbackprop.render.graph import MAX_FIGURE_NODES, annotated_graph

    g = annotated_graph(d)
    if len(g.nodes) > MAX_FIGURE_NODES:
        return [Para(phrase("graph_omitted", lang, n=len(g.nodes), max=MAX_FIGURE_NODES))]
    L = d.network.node(d.loss).latex
    numeric = d.values is not None
    red = "values" if numeric else "shapes"  # what the red lines give
    space = "" if lang == "zh" else " "  # no space between Chinese sentences
    sizes = phrase("m_graph_caption_sizes", lang) if numeric and d.network.dims else ""
    return [Para(phrase("m_graph_intro", lang) + space + phrase(f"m_graph_{red}", lang, L=L)),
            Figure(g, phrase("m_graph_caption", lang, sizes=sizes) +
                   phrase(f"m_graph_caption_{red}", lang, L=L))]


def _gradient_rhs(d: Derivation, p: str) -> list:
    step = d.step(p)
    rhs = [IR(step.textbook)] + ([Matrix(step.value)] if step.value is not None else [])
    return _in_space(rhs, step.shape)


def step_blocks(d: Derivation, step: Step, lang: str) -> list:
    """Prose and equations of one backward step: the rule, the result, its shape check."""
    ctx = solution_ctx(d)
    names, sep = ctx.names, phrase("and", lang)
    blocks: list = []
    if len(step.terms) > 1:
        blocks.append(Para(phrase("sum", lang, v=names[step.node], k=len(step.terms),
                                  consumers=sep.join(f"${names[t.of]}$" for t in step.terms))))
    for t in step.terms:
        blocks.append(Para(_introduction(d, t, lang, ctx)))

    rhs: list = [IR(step.adjoint)]
    if step.textbook != step.adjoint:  # the adjoints taken straight from the loss, written out
        rhs.append(IR(step.textbook))
    expanded = _expand_primes(d, step.textbook)
    if expanded is not None:
        rhs.append(IR(expanded))
    if step.value is not None:
        rhs.append(Matrix(step.value, bold=step.value.ndim == 0))
    rhs = _in_space(rhs, step.shape)
    blocks.append(Equations([Equation(Partial(d.loss, step.node), rhs)]))

    # the article's 维度记忆技巧: the gradient has exactly the shape of its node
    blocks.append(Para(phrase("m_shape_check", lang, v=names[step.node])))
    result = Raw(_shape_result(step.shape, True), _shape_result(step.shape, False))
    blocks.append(Equations([Equation(ShapeCheck(t.expr), [result]) for t in step.terms]))
    return blocks


#: rules every step uses and no reader needs named: sums pass the gradient, constants scale it
_SILENT = ("add", "sub", "scale")


def _introduction(d: Derivation, t: Term, lang: str, ctx: Ctx) -> str:
    """``Z_2 feeds … ; by the matrix-product rule (…):``."""
    names = ctx.names
    rules = [r for r in t.rules if r.name not in _SILENT] or list(t.rules[-1:])
    said = phrase("and", lang).join(dict.fromkeys(r.describe(lang) for r in rules))
    fields = dict(v=names[t.wrt], c=names[t.of], L=names[d.loss], rules=said)
    if t.fused is not None:
        assumption = t.fused.assumption
        return phrase("m_fused", lang, **fields, assumption=phrase(
            assumption, lang, Y=IR(t.fused.targets).latex(ctx)) if assumption else "")
    return phrase("m_since_loss" if t.of == d.loss else "m_since", lang, **fields)


def _expand_primes(d: Derivation, e: O.Expr) -> Optional[O.Expr]:
    """``e`` with each ``f'(Z)`` written in node names (``A ⊙ (1 − A)``), or None if none."""
    found = []

    def sub(n: O.Expr):
        if isinstance(n, O.Prime):
            x = textbook_prime(n, d.named)
            if x is not None:
                found.append(n)
                return x
        return None

    out = O.replace(e, sub)
    return out if found else None
