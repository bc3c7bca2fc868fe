"""JSON of a matrix derivation, following the contract in DESIGN.md.

Values are nested lists with exactly the node's shape (a bias of shape
``["n_1"]`` is a flat list); ``shape`` is the concrete size when values are
given, else the declared dimensions, which ``dims`` always holds.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..render.latex import solution_latex
from ..render.json import json_skeleton
from ..render.solution import Equations, Solution
from .derivation import MatrixDerivation
from .printing import to_latex
from .solution import solution_ctx, step_blocks


def _list(value: Optional[np.ndarray]):
    return None if value is None else np.asarray(value, dtype=float).tolist()


def render_json(d: MatrixDerivation, *, lang: Optional[str] = None,
                closed_forms: bool | str = False, **_) -> dict:
    """A JSON-ready dict: ``loss``, ``nodes``, ``gradients``, ``update``, ``steps``, ``sizes``."""
    net = d.network
    ctx = solution_ctx(d)
    names = ctx.names

    def latex(e) -> str:
        return to_latex(e, names, d.loss)

    def shape(dims):
        return list(d.sizes.resolve(dims)) if d.values is not None else list(dims)

    out = {**json_skeleton(d), "sizes": dict(d.sizes)}
    for n in net.order:
        node = net.node(n)
        entry = {"kind": net.kind(n), "latex": node.latex, "shape": shape(node.shape),
                 "dims": list(node.shape), "value": None if d.values is None else _list(d.values[n])}
        if not node.is_leaf:
            entry["definition"] = latex(node.expr)
        out["nodes"][n] = entry
    for p in d.params:
        step = d.step(p)
        g = {"latex": latex(step.textbook), "adjoint_latex": latex(step.adjoint),
             "shape": shape(step.shape), "dims": list(step.shape), "value": _list(step.value)}
        if closed_forms:
            g["expanded_latex"] = latex(d.expand(p))
        if closed_forms == "leaves":
            g["leaves_latex"] = latex(d.expand(p, leaves=True))
        out["gradients"][p] = g
    if d.updates:
        out["learning_rate"] = d.learning_rate
        out["update"] = {p: {"current": _list(u.current), "gradient": _list(u.gradient),
                             "updated": _list(u.updated)} for p, u in d.updates.items()}
        out["loss_after"] = d.loss_after
    for step in d.backward:
        blocks = step_blocks(d, step, lang or d.lang)
        equations = [b for b in blocks if isinstance(b, Equations)]
        out["steps"].append({
            "number": step.number,
            "node": step.node,
            "latex": solution_latex(Solution("", equations[:1], ctx)).strip(),
            "fragment": solution_latex(Solution("", blocks, ctx)).strip(),
            "adjoint_latex": latex(step.adjoint),
            "textbook_latex": latex(step.textbook),
            "rules": [r for t in step.terms for r in t.rules],
            "shape": shape(step.shape),
            "dims": list(step.shape),
            "value": _list(step.value),
        })
    return out
