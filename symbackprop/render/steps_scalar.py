"""A backward step of a scalar network: local derivatives, then the chain rule.

Every node is a number, so each consumer's local derivative is worked out in
SymPy from its definition (with the numbers substituted), and the chain rule
sums ``∂L/∂c · ∂c/∂v`` over the consumers.
"""
from __future__ import annotations

import math

import sympy as sp

from symbackprop import ir
from symbackprop.derivation import Derivation, Step
from symbackprop.limits import tidy
from symbackprop.render.blocks import (IR, DerivativeOf, Equation, Equations, SympyExpr, Joined, Number,
                                       Para, PartialRatio, definition, shown_values, solution_ctx)
from symbackprop.render.phrases import phrase


def scalar_step_blocks(d: Derivation, step: Step, lang: str) -> list:
    """Prose and equations of one scalar backward step (the sum over consumers announced)."""
    net = d.network
    ctx = solution_ctx(d)
    names = ctx.names
    numeric = d.values is not None
    blocks: list = []
    # the local derivatives, each introduced by its consumer's definition
    for t in step.terms:
        if t.of == d.loss:
            continue
        shown = SympyExpr(definition(d, t.of), order="none")
        blocks.append(Para(phrase("since", lang, c=names[t.of], definition=shown.latex(ctx))))
        local = d.scalar_form(t.local)
        rhs = [SympyExpr(local)]
        consumer = net.node(t.of).expr
        if isinstance(consumer, ir.Apply) and consumer.x == net.node(t.wrt).var:
            rhs.insert(0, IR(ir.Prime(consumer.func, consumer.x, consumer.alpha)))
        if numeric and not t.is_trivial:
            rhs += [SympyExpr(local, values=shown_values(d)), Number(t.local_value)]
        blocks.append(Equations([Equation(PartialRatio(t.of, t.wrt), rhs)]))

    # the chain rule for this node
    v = step.node
    loss_definition = definition(d, d.loss)
    if len(step.terms) == 1 and step.terms[0].of == d.loss:
        t = step.terms[0]
        local = d.scalar_form(t.local)
        rhs = [DerivativeOf(v, loss_definition), SympyExpr(local)]
        if numeric:
            if not t.is_trivial:
                rhs.append(SympyExpr(local, values=shown_values(d)))
            rhs.append(Number(step.value, bold=True))
        return [Para(phrase("since_loss", lang, c=names[d.loss],
                            definition=SympyExpr(loss_definition, order="none").latex(ctx))),
                Equations([Equation(PartialRatio(d.loss, v), rhs)])]

    chain, with_locals, numbers = [], [], []
    for t in step.terms:
        if t.of == d.loss:  # the loss's own definition uses v directly
            chain.append(DerivativeOf(v, loss_definition))
            with_locals.append(SympyExpr(d.scalar_form(t.local)))
            if numeric:
                numbers.append(Number(t.local_value))
            continue
        chain.append(Joined([PartialRatio(d.loss, t.of), PartialRatio(t.of, v)], "dot"))
        with_locals.append(Joined([PartialRatio(d.loss, t.of), SympyExpr(d.scalar_form(t.local), factor=True)],
                                  "dot"))
        if numeric:
            numbers.append(Joined([Number(d.adjoint_value(t.of)),
                                   Number(t.local_value, parens=True)], "times"))
    rhs = [Joined(chain, "plus"), Joined(with_locals, "plus")]
    if numeric and not _finite_factors(d, step):
        # a factor beyond the doubles (∂L/∂a = −1/σ(−800)) times one that rounded to 0: the
        # product multiplied out, as it is computed (−1/a · a(1 − a) = a − 1)
        closed = tidy(d.scalar_form(step.textbook), sp.cancel)  # bounded: symbackprop.limits
        rhs += [SympyExpr(closed), SympyExpr(closed, values=shown_values(d)),
                Number(step.value, bold=True)]
    elif numeric:
        rhs += [Joined(numbers, "plus"), Number(step.value, bold=True)]
    blocks.append(Para(phrase("chain", lang)))
    blocks.append(Equations([Equation(PartialRatio(d.loss, v), rhs)]))
    return blocks


def _finite_factors(d: Derivation, step: Step) -> bool:
    """Whether every number of the step's chain-rule products is finite."""
    for t in step.terms:
        numbers = [t.local_value] + ([] if t.of == d.loss else [d.adjoint_value(t.of)])
        if not all(v is None or math.isfinite(v) for v in numbers):
            return False
    return True
