"""The JSON writer, following the contract in DESIGN.md, for scalar and matrix derivations alike.

Values are numbers for scalars and nested lists with exactly the node's shape
for arrays (a bias of shape ``["n_1"]`` is a flat list); ``shape`` is the
concrete size when values are given, else the declared dimensions, which
``dims`` always holds.

>>> import symbackprop as sb
>>> out = sb.derive("derivations/seed_scalar.toml").to_json()
>>> out["schema_version"], round(out["loss"]["value"], 3), out["nodes"]["z_1"]["shape"]
(1, 0.456, [])
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from symbackprop.derivation import Derivation, closed_form_budget
from symbackprop.printing.ir import to_latex as ir_latex
from symbackprop.progress import progress
from symbackprop.printing.sympy import sympy_latex
from symbackprop.render.blocks import Equations, Solution, definition, solution_ctx
from symbackprop.render.latex import solution_latex
from symbackprop.render.solution import step_blocks

SCHEMA_VERSION = 1


def _json_value(value):
    """A value as JSON: a float, or nested lists of floats; JSON has no infinity, so a value that
    overflowed (an intermediate ``∂L/∂a = −1/σ(−800)``) is the string ``"inf"`` or ``"-inf"``."""
    if value is None:
        return None
    if np.ndim(value) == 0:
        v = float(value)
        return v if math.isfinite(v) else str(v)
    return [_json_value(x) for x in np.asarray(value, dtype=float)]


def render_json(d: Derivation, *, lang: Optional[str] = None,
                closed_forms: bool | str = False) -> dict:
    """A JSON-ready dict: ``loss``, ``nodes``, ``gradients``, ``update``, ``steps``, ``sizes``.

    ``closed_forms`` adds each gradient expanded in node names (``True``/``"nodes"``)
    and also in leaves (``"leaves"``).
    """
    net = d.network
    ctx = solution_ctx(d)
    names = ctx.names

    def latex(e) -> str:
        if d.is_scalar:
            e = e if not hasattr(e, "children") else d.scalar_form(e)
            return sympy_latex(e, names=names, loss=d.loss)
        return ir_latex(e, names, d.loss)

    def shape(dims):
        return list(d.sizes.resolve(dims)) if d.values is not None else list(dims)

    out = {
        "schema_version": SCHEMA_VERSION,
        "title": net.title,
        "loss": {"name": d.loss, "value": d.loss_value},
        "params": list(d.params),
        "nodes": {},
        "gradients": {},
        "steps": [],
        "digits": d.digits,
        "mode": d.mode,
        "sizes": dict(d.sizes),
    }
    for n in net.order:
        node = net.node(n)
        entry = {"kind": net.kind(n), "latex": node.latex, "shape": shape(node.shape),
                 "dims": list(node.shape), "value": None if d.values is None else _json_value(d.values[n])}
        if not node.is_leaf:
            entry["definition"] = (sympy_latex(definition(d, n), names=names, order="none")
                                   if d.is_scalar else latex(node.expr))
        out["nodes"][n] = entry
    budget = closed_form_budget(closed_forms == "leaves")  # the closed forms are bounded together
    with progress("gradients", len(d.params)) as tick:
        for i, p in enumerate(d.params, 1):
            step = d.gradient_step(p)
            d.check_size(step)
            g = {"latex": latex(d.gradient(p) if d.is_scalar else step.textbook),
                 "adjoint_latex": latex(step.adjoint), "shape": shape(step.shape),
                 "dims": list(step.shape), "value": _json_value(step.value)}
            if closed_forms:
                g["expanded_latex"] = latex(d.expand(p, budget=budget))
            if closed_forms == "leaves":
                g["leaves_latex"] = latex(d.expand(p, leaves=True, budget=budget))
            out["gradients"][p] = g
            tick(i)
    if d.updates:
        out["learning_rate"] = d.learning_rate
        out["update"] = {p: {"current": _json_value(u.current), "gradient": _json_value(u.gradient),
                             "updated": _json_value(u.updated)} for p, u in d.updates.items()}
        out["loss_after"] = d.loss_after
    for step in d.backward:
        blocks = step_blocks(d, step, lang or d.lang)
        equations = [b for b in blocks if isinstance(b, Equations)]
        out["steps"].append({
            "number": step.number,
            "node": step.node,
            "latex": solution_latex(Solution("", equations if d.is_scalar else equations[:1],
                                             ctx)).strip(),
            "fragment": solution_latex(Solution("", blocks, ctx)).strip(),
            "adjoint_latex": latex(step.adjoint),
            "textbook_latex": latex(step.textbook),
            "rules": [r.name for t in step.terms for r in t.rules],
            "shape": shape(step.shape),
            "dims": list(step.shape),
            "value": _json_value(step.value),
        })
    return out
