"""A worked solution as a list of blocks, shared by the LaTeX, Markdown and text writers.

The blocks are built once from a :class:`~symbackprop.derivation.Derivation`;
each writer only decides how a heading, a paragraph, an aligned equation or a
table looks. Math is held as *segments* that print themselves in LaTeX or in
plain text, so the two never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import sympy as sp

from symbackprop import ir
from symbackprop.derivation import Derivation
from symbackprop.printing.ir import to_latex as ir_latex
from symbackprop.printing.ir import to_text as ir_text
from symbackprop.printing.numbers import fmt, short_float
from symbackprop.printing.sympy import partial_latex, to_latex, to_text
from symbackprop.render.phrases import phrase
from symbackprop.sympy_form import to_sympy


# ---- math segments --------------------------------------------------------
@dataclass
class Ctx:
    """What printing needs: names, precision, the loss's name."""

    names: Mapping[str, str]
    digits: int
    loss: str


@dataclass
class Expr:
    """A SymPy expression, optionally with numbers substituted for its symbols."""

    expr: sp.Expr
    values: Mapping[str, float | str] | None = None
    order: str | None = None
    factor: bool = False  #: a factor of a product: parenthesise sums and negatives

    def _wrap(self) -> bool:
        return self.factor and (self.expr.is_Add or self.expr.could_extract_minus_sign())

    def latex(self, ctx: Ctx) -> str:
        text = to_latex(self.expr, values=self.values, digits=ctx.digits, loss=ctx.loss,
                        names=ctx.names, order=self.order)
        return rf"\left({text}\right)" if self._wrap() else text

    def text(self, ctx: Ctx) -> str:
        text = to_text(self.expr, values=self.values, digits=ctx.digits, loss=ctx.loss,
                       order=self.order)
        return f"({text})" if self._wrap() else text


@dataclass
class IRExpr:
    r"""An IR expression, printed by the IR printers (``\sigma'(z_2)``, ``\tanh'(z)``)."""

    expr: ir.Expr

    def latex(self, ctx: Ctx) -> str:
        return ir_latex(self.expr, ctx.names, ctx.loss)

    def text(self, ctx: Ctx) -> str:
        return ir_text(self.expr, ctx.loss)


@dataclass
class Partial:
    """``∂of/∂wrt``."""

    of: str
    wrt: str

    def latex(self, ctx: Ctx) -> str:
        return partial_latex(self.of, self.wrt, ctx.names)

    def text(self, ctx: Ctx) -> str:
        return f"∂{self.of}/∂{self.wrt}"


@dataclass
class DerivativeOf:
    """``∂/∂wrt (expr)``: the operator applied to a definition."""

    wrt: str
    expr: sp.Expr

    def latex(self, ctx: Ctx) -> str:
        name = ctx.names.get(self.wrt, self.wrt)
        return rf"\frac{{\partial}}{{\partial {name}}}\left({Expr(self.expr, order='none').latex(ctx)}\right)"

    def text(self, ctx: Ctx) -> str:
        return f"∂/∂{self.wrt} [{Expr(self.expr, order='none').text(ctx)}]"


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


# ---- blocks ---------------------------------------------------------------
@dataclass
class Heading:
    text: str
    level: int = 2


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
    """The computational graph, annotated with values and gradients (drawn by the LaTeX writer)."""

    graph: object  #: a :class:`~symbackprop.render.graph.AnnotatedGraph`
    caption: str


@dataclass
class Solution:
    title: str
    blocks: list = field(default_factory=list)
    ctx: Ctx | None = None


# ---- building --------------------------------------------------------------
def build_solution(d: Derivation, *, lang: str | None = None, closed_forms: bool | str = False,
                   title: str | None = None, graph: bool = False) -> Solution:
    """The worked solution of a scalar derivation as blocks (``d.solution()`` calls this);
    ``graph`` adds the computational-graph figure."""
    lang = lang or d.lang
    net = d.network
    ctx = solution_ctx(d)
    names = ctx.names
    sol = Solution(title or net.titles.get(lang) or net.title or phrase("title", lang), ctx=ctx)
    add = sol.blocks.append

    def m(name: str) -> str:
        return f"${names[name]}$"

    sep = phrase("and", lang)
    leaf_shown = leaf_display(d)

    # The network
    add(Heading(phrase("network", lang)))
    add(Para(phrase("network_intro", lang)))
    add(Equations([Equation(Expr(net.node(f.node).symbol), [Expr(definition(d, f.node), order="none")])
                   for f in d.forward]))
    params = [p for p in net.params]
    inputs = [n for n in net.order if net.node(n).is_leaf and n not in params]
    add(Para(phrase("params", lang, names=sep.join(m(p) for p in params))))
    if inputs:
        add(Para(phrase("inputs", lang, names=sep.join(m(i) for i in inputs))))
    if d.values is not None:
        given = sep.join(f"${names[n]} = {leaf_shown[n]}$" for n in net.order
                         if net.node(n).is_leaf)
        add(Para(phrase("given", lang, values=given) + " " +
                 phrase(f"precision_{d.mode}", lang, digits=d.digits)))

    if graph:
        sol.blocks.extend(graph_blocks(d, lang))

    # Forward pass
    if d.values is not None:
        add(Heading(phrase("forward", lang)))
        add(Para(phrase("forward_intro", lang)))
        shown = shown_values(d)
        rows = []
        for f in d.forward:
            shown_definition = definition(d, f.node)
            rhs = [Expr(shown_definition, order="none")]
            if not shown_definition.is_Atom:
                rhs.append(Expr(shown_definition, values=shown, order="none"))
            rhs.append(Number(f.value))
            rows.append(Equation(Expr(net.node(f.node).symbol), rhs))
        add(Equations(rows))
        add(Para(phrase("loss_is", lang, L=names[d.loss], value=fmt(d.loss_value, d.digits))))

    # Backward pass
    add(Heading(phrase("backward", lang)))
    add(Para(phrase("backward_intro", lang)))
    for step in d.backward:
        add(Heading(phrase("step", lang, n=step.number, v=names[step.node]), level=3))
        sol.blocks.extend(step_blocks(d, step, lang))

    # Gradients
    add(Heading(phrase("gradients", lang)))
    header = [phrase("h_param", lang), phrase("h_formula", lang)]
    if d.values is not None:
        header.append(phrase("h_gradient", lang))
    rows = []
    for p in params:
        row = [m(p), f"${Expr(d.gradient(p)).latex(ctx)}$"]
        if d.values is not None:
            row.append(f"${fmt(d.gradient_value(p), d.digits)}$")
        rows.append(row)
    add(Table(header, rows))

    if closed_forms:
        add(Heading(phrase("closed_forms", lang)))
        add(Para(phrase("closed_intro", lang)))
        leaves = closed_forms == "leaves"  # and then in the leaves too
        add(Equations([Equation(Partial(d.loss, p), [Expr(d.expand(p))] +
                                ([Expr(d.expand(p, leaves=True))] if leaves else []))
                       for p in params]))

    if d.updates:
        add(Heading(phrase("update", lang)))
        add(Para(phrase("update_intro", lang, lr=short_float(d.learning_rate), L=names[d.loss])))
        add(Table(
            [phrase("h_param", lang), phrase("h_current", lang), phrase("h_gradient", lang),
             phrase("h_updated", lang)],
            [[m(p), f"${fmt(u.current, d.digits)}$", f"${fmt(u.gradient, d.digits)}$",
              f"${fmt(u.updated, d.digits)}$"] for p, u in d.updates.items()],
        ))
        add(Para(phrase("loss_after", lang, before=f"${fmt(d.loss_value, d.digits)}$",
                        after=f"${fmt(d.loss_after, d.digits)}$")))
    return sol


def graph_blocks(d: Derivation, lang: str) -> list:
    """The computational-graph section: a figure, or a sentence when it would be unreadable."""
    from symbackprop.render.graph import MAX_FIGURE_NODES, annotated_graph

    g = annotated_graph(d)
    blocks: list = [Heading(phrase("graph", lang))]
    if len(g.nodes) > MAX_FIGURE_NODES:
        blocks.append(Para(phrase("graph_omitted", lang, n=len(g.nodes), max=MAX_FIGURE_NODES)))
        return blocks
    numeric = d.values is not None
    L = d.network.node(d.loss).latex
    blocks.append(Para(phrase("graph_intro", lang) + (" " + phrase("graph_values", lang, L=L)
                                                      if numeric else "")))
    blocks.append(Figure(g, phrase("graph_caption", lang) + (" " + phrase("graph_caption_values",
                                                                          lang, L=L)
                                                             if numeric else "")))
    return blocks


def definition(d: Derivation, node: str) -> sp.Expr:
    """A scalar node's definition as written (the author's order), in SymPy."""
    n = d.network.node(node)
    return n.written if n.written is not None else to_sympy(n.expr, evaluate=False)


def shown_values(d: Derivation) -> dict[str, float | str]:
    """What a step substitutes for each name: computed values, and leaves as given."""
    return {**d.scalar_values(), **leaf_display(d)}


def leaf_display(d: Derivation) -> dict[str, str]:
    """Leaf values as given (``0.5``, ``2.0``), not padded to the display precision."""
    if d.values is None:
        return {}
    out = {}
    for n in d.network.order:
        if d.network.node(n).is_leaf:
            v = d.value(n)
            short = short_float(v)
            decimals = len(short.split(".")[1]) if "." in short and "e" not in short else 0
            out[n] = short if decimals <= d.digits and "e" not in short else fmt(v, d.digits)
    return out


def solution_ctx(d: Derivation) -> Ctx:
    """Printing context of ``d``: its nodes' LaTeX names, precision and loss."""
    net = d.network
    return Ctx({n: net.node(n).latex for n in net.order}, d.digits, d.loss)


def step_blocks(d: Derivation, step, lang: str) -> list:
    """Prose and equations of one backward step."""
    net = d.network
    ctx = solution_ctx(d)
    names, sep = ctx.names, phrase("and", lang)
    numeric = d.values is not None
    blocks: list = []
    consumers = [t.of for t in step.terms]
    if len(step.terms) > 1:
        blocks.append(Para(phrase("sum", lang, v=names[step.node], k=len(step.terms),
                                  consumers=sep.join(f"${names[c]}$" for c in consumers))))
    # the local derivatives, each introduced by its consumer's definition
    for t in step.terms:
        if t.of == d.loss:
            continue
        shown = Expr(definition(d, t.of), order="none")
        blocks.append(Para(phrase("since", lang, c=names[t.of], definition=shown.latex(ctx))))
        local = d.scalar_form(t.local)
        rhs = [Expr(local)]
        consumer = net.node(t.of).expr
        if isinstance(consumer, ir.Apply) and consumer.x == net.node(t.wrt).var:
            rhs.insert(0, IRExpr(ir.Prime(consumer.func, consumer.x, consumer.alpha)))
        if numeric and not t.is_trivial:
            rhs += [Expr(local, values=shown_values(d)), Number(t.local_value)]
        blocks.append(Equations([Equation(Partial(t.of, t.wrt), rhs)]))

    # the chain rule for this node
    v = step.node
    loss_definition = definition(d, d.loss)
    if len(step.terms) == 1 and step.terms[0].of == d.loss:
        t = step.terms[0]
        local = d.scalar_form(t.local)
        rhs = [DerivativeOf(v, loss_definition), Expr(local)]
        if numeric:
            if not t.is_trivial:
                rhs.append(Expr(local, values=shown_values(d)))
            rhs.append(Number(step.value, bold=True))
        blocks.insert(0, Para(phrase("since_loss", lang, c=names[d.loss],
                                     definition=Expr(loss_definition, order="none").latex(ctx))))
        blocks.append(Equations([Equation(Partial(d.loss, v), rhs)]))
        return blocks

    chain, with_locals, numbers = [], [], []
    for t in step.terms:
        if t.of == d.loss:  # the loss's own definition uses v directly
            chain.append(DerivativeOf(v, loss_definition))
            with_locals.append(Expr(d.scalar_form(t.local)))
            if numeric:
                numbers.append(Number(t.local_value))
            continue
        chain.append(Joined([Partial(d.loss, t.of), Partial(t.of, v)], "dot"))
        with_locals.append(Joined([Partial(d.loss, t.of), Expr(d.scalar_form(t.local), factor=True)],
                                  "dot"))
        if numeric:
            numbers.append(Joined([Number(d.adjoint_value(t.of)),
                                   Number(t.local_value, parens=True)], "times"))
    rhs = [Joined(chain, "plus"), Joined(with_locals, "plus")]
    if numeric:
        rhs += [Joined(numbers, "plus"), Number(step.value, bold=True)]
    blocks.append(Para(phrase("chain", lang)))
    blocks.append(Equations([Equation(Partial(d.loss, v), rhs)]))
    return blocks
