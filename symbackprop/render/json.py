"""JSON writer, following the contract in DESIGN.md."""
from __future__ import annotations

from .latex import solution_latex
from .printer import to_latex
from .solution import Equations, Solution, solution_ctx, step_blocks


def json_skeleton(d) -> dict:
    """The keys every derivation's JSON starts with (scalar and matrix form alike)."""
    return {
        "title": d.network.title,
        "loss": {"name": d.loss, "value": d.loss_value},
        "params": list(d.params),
        "nodes": {},
        "gradients": {},
        "steps": [],
        "digits": d.digits,
        "mode": d.mode,
    }


def render_json(d, *, lang: str | None = None, closed_forms: bool | str = False) -> dict:
    """A JSON-ready dict: ``loss``, ``nodes``, ``gradients``, ``update``, ``steps``.

    ``closed_forms`` adds each gradient expanded in node names (``True``/``"nodes"``)
    and also in leaves (``"leaves"``).
    """
    net = d.network
    names = {n: net.node(n).latex for n in net.order}
    out = json_skeleton(d)
    for n in net.order:
        node = net.node(n)
        entry = {"kind": net.kind(n), "latex": node.latex,
                 "value": None if d.values is None else d.values[n]}
        if not node.is_leaf:
            entry["definition"] = to_latex(node.display, names=names, order="none")
        out["nodes"][n] = entry
    for p in d.params:
        g = {"latex": to_latex(d.gradient(p), names=names, loss=d.loss),
             "value": d.gradient_value(p)}
        if closed_forms:
            g["expanded_latex"] = to_latex(d.expand(p), names=names, loss=d.loss)
        if closed_forms == "leaves":
            g["leaves_latex"] = to_latex(d.expand(p, leaves=True), names=names, loss=d.loss)
        out["gradients"][p] = g
    if d.updates:
        out["learning_rate"] = d.learning_rate
        out["update"] = {p: {"current": u.current, "gradient": u.gradient, "updated": u.updated}
                         for p, u in d.updates.items()}
        out["loss_after"] = d.loss_after
    # each backward step's equations, from the same blocks the documents show
    for step in d.backward:
        blocks = step_blocks(d, step, lang or d.lang)
        equations = Solution("", [b for b in blocks if isinstance(b, Equations)], solution_ctx(d))
        out["steps"].append({
            "number": step.number,
            "node": step.node,
            "latex": solution_latex(equations).strip(),
            "fragment": solution_latex(Solution("", blocks, solution_ctx(d))).strip(),
            "adjoint_latex": to_latex(step.adjoint, names=names, loss=d.loss),
            "value": step.value,
        })
    return out

