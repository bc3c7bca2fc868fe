"""A backward step of a matrix network: the rule, the result, its shape check.

Each consumer says which rule it pulls the gradient through (the matrix
product, the element-wise product, …); the result is written in IR with each
``f'(Z)`` also in node names, then its value and shape; a shape check ends it.
"""
from __future__ import annotations

from typing import Optional

from symbackprop import ir as O
from symbackprop.derivation import Derivation, Step, Term
from symbackprop.render.blocks import (IR, Ctx, Equation, Equations, Matrix, Para, PartialRatio, Raw,
                                       ShapeCheck, in_space, solution_ctx)
from symbackprop.render.phrases import phrase
from symbackprop.rules import textbook_prime
from symbackprop.shapes import Shape, shape_latex, shape_text


def matrix_step_blocks(d: Derivation, step: Step, lang: str) -> list:
    """Prose and equations of one matrix backward step (the sum over consumers announced)."""
    ctx = solution_ctx(d)
    blocks: list = [Para(_introduction(d, t, lang, ctx)) for t in step.terms]

    rhs: list = [IR(step.adjoint)]
    if step.textbook != step.adjoint:  # the adjoints taken straight from the loss, written out
        rhs.append(IR(step.textbook))
    expanded = _expand_primes(d, step.textbook)
    if expanded is not None:
        rhs.append(IR(expanded))
    if step.value is not None:
        rhs.append(Matrix(step.value, bold=step.value.ndim == 0))
    blocks.append(Equations([Equation(PartialRatio(d.loss, step.node), in_space(rhs, step.shape))]))

    # the article's 维度记忆技巧: the gradient has exactly the shape of its node
    blocks.append(Para(phrase("m_shape_check", lang, v=ctx.names[step.node])))
    result = Raw(_shape_result(step.shape, True), _shape_result(step.shape, False))
    blocks.append(Equations([Equation(ShapeCheck(t.expr), [result]) for t in step.terms]))
    return blocks


def _shape_result(shape: Shape, latex: bool) -> str:
    if latex:
        return (shape_latex(shape) or "1") + r" \quad \checkmark"
    return (shape_text(shape) if shape else "1") + "  ✓"


#: rules every step uses and no reader needs named: sums pass the gradient, constants scale it
_UNNAMED_RULES = ("add", "sub", "scale")


def _introduction(d: Derivation, t: Term, lang: str, ctx: Ctx) -> str:
    """``Z_2 feeds … ; by the matrix-product rule (…):``."""
    names = ctx.names
    rules = [r for r in t.rules if r.name not in _UNNAMED_RULES] or list(t.rules[-1:])
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
