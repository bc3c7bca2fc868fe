"""The worked solution as blocks, for scalar and matrix networks alike.

:func:`build_solution` writes the sections every solution has: the network,
its graph, the given values, the forward pass, the backward steps, the
gradients, the closed forms and the update. Where the two forms read
differently, a section chooses: a scalar network shows numbers and its
definitions as written, a matrix network IR with shapes and matrices.
:func:`step_blocks` writes a backward step with :mod:`.steps_scalar` or
:mod:`.steps_matrix`. The blocks and their math are in :mod:`.blocks`.
"""
from __future__ import annotations

from symbackprop.derivation import Derivation, Step, closed_form_budget
from symbackprop.printing.numbers import fmt, fmt_all, short_float
from symbackprop.render.blocks import (IR, Descent, Equation, Equations, SympyExpr, Figure, Heading,
                                       InSpace, Matrix, Number, Para, PartialRatio, Raw, Solution, Table,
                                       definition, in_space, leaf_display, shown_values,
                                       solution_ctx)
from symbackprop.render.graph import MAX_FIGURE_NODES, annotated_graph
from symbackprop.progress import progress
from symbackprop.render.phrases import phrase
from symbackprop.render.steps_matrix import matrix_step_blocks
from symbackprop.render.steps_scalar import scalar_step_blocks
from symbackprop.shapes import dim_latex, shape_latex


def build_solution(d: Derivation, *, lang: str | None = None, closed_forms: bool | str = False,
                   title: str | None = None, graph: bool = False) -> Solution:
    """The worked solution of ``d`` as blocks (``d.solution()`` calls this); ``graph`` adds the
    computational-graph figure."""
    lang = lang or d.lang
    net, scalar, numeric = d.network, d.is_scalar, d.values is not None
    ctx = solution_ctx(d)
    names = ctx.names
    sol = Solution(title or net.titles.get(lang) or net.title or phrase("title", lang), ctx=ctx)
    add = sol.blocks.append
    m = "" if scalar else "m_"  # the matrix form's own phrasing
    sep = phrase("and", lang)
    params = list(net.params)
    inputs = [n for n in net.order if net.node(n).is_leaf and n not in params]
    defined = [n for n in net.order if not net.node(n).is_leaf]

    # The network: its definitions (a matrix network's with their shapes)
    add(Heading(phrase("network", lang)))
    add(Para(phrase(m + "network_intro", lang)))
    if scalar:
        add(Equations([Equation(SympyExpr(net.node(f.node).symbol), [SympyExpr(definition(d, f.node),
                                                                       order="none")])
                       for f in d.forward]))
    else:
        add(Equations([Equation(IR(net.node(n).var), [InSpace(IR(net.node(n).expr),
                                                              net.node(n).shape)])
                       for n in defined]))
    add(Para(phrase("params", lang, names=sep.join(f"${names[p]}$" for p in params))))
    if inputs:
        add(Para(phrase("inputs", lang, names=sep.join(f"${names[i]}$" for i in inputs))))
    # the given values: a scalar network's in a sentence; a matrix network's after its
    # picture (the equations drawn before the tables of numbers), with their shapes
    if scalar:
        sol.blocks += _scalar_given(d, lang)
    if graph:
        sol.blocks += graph_blocks(d, lang)
    if not scalar:
        sol.blocks += _matrix_given(d, lang)

    # Forward pass
    if numeric:
        add(Heading(phrase("forward", lang)))
        add(Para(phrase("forward_intro", lang)))
        add(Equations(_scalar_forward(d) if scalar else [
            Equation(IR(net.node(n).var), in_space([IR(net.node(n).expr), Matrix(d.values[n])],
                                                   net.node(n).shape)) for n in defined]))
        add(Para(phrase("loss_is", lang, L=names[d.loss], value=fmt(d.loss_value, d.digits))))

    # Backward pass
    add(Heading(phrase("backward", lang)))
    add(Para(phrase(m + "backward_intro", lang)))
    with progress("backward steps", len(d.backward)) as tick:
        for i, step in enumerate(d.backward, 1):
            add(Heading(phrase("step", lang, n=step.number, v=names[step.node]), level=3))
            sol.blocks += step_blocks(d, step, lang)
            tick(i)

    # Gradients: a table of formulas and numbers, or each gradient with its matrix and shape
    add(Heading(phrase("gradients", lang)))
    if scalar:
        header = [phrase("h_param", lang), phrase("h_formula", lang)]
        shown = fmt_all([d.gradient_value(p) for p in params], d.digits) if numeric else []
        add(Table(header + ([phrase("h_gradient", lang)] if numeric else []), [
            [f"${names[p]}$", f"${SympyExpr(d.gradient(p)).latex(ctx)}$"] +
            ([f"${shown[i]}$"] if numeric else []) for i, p in enumerate(params)]))
    else:
        add(Para(phrase("m_gradients_intro", lang)))
        add(Equations([Equation(PartialRatio(d.loss, p), _gradient_rhs(d, p)) for p in params]))

    if closed_forms:
        add(Heading(phrase("closed_forms", lang)))
        add(Para(phrase("closed_intro", lang)))
        segment = SympyExpr if scalar else IR
        leaves = closed_forms == "leaves"  # and then in the leaves too
        budget = closed_form_budget(leaves)  # one for them all: they are bounded together
        rows = []
        with progress("closed forms" + (" in leaves" if leaves else ""), len(params)) as tick:
            for i, p in enumerate(params, 1):
                rows.append(Equation(PartialRatio(d.loss, p), [segment(d.expand(p, budget=budget))] +
                                     ([segment(d.expand(p, leaves=True, budget=budget))] if leaves else [])))
                tick(i)
        add(Equations(rows))

    if d.updates:
        add(Heading(phrase("update", lang)))
        lr = short_float(d.learning_rate)
        add(Para(phrase("update_intro", lang, lr=lr, L=names[d.loss])))
        if scalar:
            numbers = iter(fmt_all([x for u in d.updates.values()
                                    for x in (u.current, u.gradient, u.updated)], d.digits))
            add(Table([phrase(h, lang) for h in ("h_param", "h_current", "h_gradient", "h_updated")],
                      [[f"${names[p]}$"] + [f"${next(numbers)}$" for _ in range(3)]
                       for p in d.updates]))
        else:
            add(Equations([Equation(Raw(rf"{names[p]} - \eta \, {PartialRatio(d.loss, p).latex(ctx)}",
                                        f"{p} - η ∂{d.loss}/∂{p}"),
                                    [Descent([Matrix(u.current), Matrix(u.gradient)], lr),
                                     Matrix(u.updated)])
                           for p, u in d.updates.items()]))
        add(Para(phrase("loss_after", lang, before=f"${fmt(d.loss_value, d.digits)}$",
                        after=f"${fmt(d.loss_after, d.digits)}$")))
    return sol


def step_blocks(d: Derivation, step: Step, lang: str) -> list:
    """Prose and equations of one backward step: the sum over several consumers announced,
    then the step as its form writes it."""
    d.check_size(step)  # a derivative too large to write out is refused, not printed for minutes
    names = solution_ctx(d).names
    blocks: list = []
    if len(step.terms) > 1:
        consumers = phrase("and", lang).join(f"${names[t.of]}$" for t in step.terms)
        blocks.append(Para(phrase("sum", lang, v=names[step.node], k=len(step.terms),
                                  consumers=consumers)))
    return blocks + (scalar_step_blocks if d.is_scalar else matrix_step_blocks)(d, step, lang)


def graph_blocks(d: Derivation, lang: str) -> list:
    """The computational graph: a figure, or a sentence when it would be unreadable.

    A scalar network's has a section of its own. A matrix network's belongs to the
    description of the network, with no heading, so that the article's two-layer MLP
    has its equations and its picture on the first page.
    """
    g = annotated_graph(d)
    blocks: list = [Heading(phrase("graph", lang))] if d.is_scalar else []
    if len(g.nodes) > MAX_FIGURE_NODES:
        return blocks + [Para(phrase("graph_omitted", lang, n=len(g.nodes), max=MAX_FIGURE_NODES))]
    L = d.network.node(d.loss).latex
    numeric = d.values is not None
    if d.is_scalar:
        intro = phrase("graph_intro", lang) + (" " + phrase("graph_values", lang, L=L)
                                               if numeric else "")
        caption = phrase("graph_caption", lang) + (" " + phrase("graph_caption_values", lang, L=L)
                                                   if numeric else "")
    else:
        red = "values" if numeric else "shapes"  # what the red lines give
        space = "" if lang == "zh" else " "  # no space between Chinese sentences
        sizes = phrase("m_graph_caption_sizes", lang) if numeric and d.network.dims else ""
        intro = phrase("m_graph_intro", lang) + space + phrase(f"m_graph_{red}", lang, L=L)
        caption = (phrase("m_graph_caption", lang, sizes=sizes) +
                   phrase(f"m_graph_caption_{red}", lang, L=L))
    return blocks + [Para(intro), Figure(g, caption)]


# ---- the scalar form ---------------------------------------------------------
def _scalar_given(d: Derivation, lang: str) -> list:
    """The given values in one sentence, with the precision numbers are shown to."""
    if d.values is None:
        return []
    net, shown = d.network, leaf_display(d)
    given = phrase("and", lang).join(
        f"${net.node(n).latex} = {shown[n] if n in shown else fmt(d.value(n), d.digits)}$"
        for n in net.order if net.node(n).is_leaf)
    return [Para(phrase("given", lang, values=given) + " " +
                 phrase(f"precision_{d.mode}", lang, digits=d.digits))]


def _scalar_forward(d: Derivation) -> list[Equation]:
    """``node = definition = definition with numbers = value``."""
    shown = shown_values(d)
    rows = []
    for f in d.forward:
        written = definition(d, f.node)
        rhs = [SympyExpr(written, order="none")]
        if not written.is_Atom:
            rhs.append(SympyExpr(written, values=shown, order="none"))
        rows.append(Equation(SympyExpr(d.network.node(f.node).symbol), rhs + [Number(f.value)]))
    return rows


# ---- the matrix form ---------------------------------------------------------
def _matrix_given(d: Derivation, lang: str) -> list:
    """A table of the leaves' shapes (and sizes); with numbers, the sizes and the given values."""
    net = d.network
    numeric = d.values is not None
    leaves = [n for n in net.order if net.node(n).is_leaf]
    sized = numeric and bool(net.dims)  # a size column only where a shape has names
    header = [phrase("h_node", lang), phrase("h_shape", lang)]
    if sized:
        header.append(phrase("h_size", lang))
    rows = []
    for n in leaves:
        shape = net.node(n).shape
        rows.append([f"${net.node(n).latex}$",
                     f"${shape_latex(shape)}$" if shape else phrase("scalar", lang)])
        if sized:
            rows[-1].append(f"${shape_latex(d.sizes.resolve(shape))}$" if shape else "1")
    blocks: list = [Table(header, rows)]
    if numeric:
        sizes = phrase("and", lang).join(f"${dim_latex(k)} = {v}$" for k, v in d.sizes.items())
        if sizes:
            blocks.append(Para(phrase("m_sizes", lang, sizes=sizes)))
        blocks += [Para(phrase("m_given", lang)),
                   Equations([Equation(IR(net.node(n).var), [Matrix(d.values[n], given=True)])
                              for n in leaves]),
                   Para(phrase(f"precision_{d.mode}", lang, digits=d.digits))]
    return blocks


def _gradient_rhs(d: Derivation, p: str) -> list:
    step = d.gradient_step(p)
    rhs = [IR(step.textbook)] + ([Matrix(step.value)] if step.value is not None else [])
    return in_space(rhs, step.shape)
