r"""Matrix spec generators for tests and benchmarks: fully connected networks of any depth.

>>> spec = mlp([2, 4, 1])
>>> print(spec["forward"])
Z_{1} = X W_{1} + b_{1}
A_{1} = \sigma(Z_{1})
Z_{2} = A_{1} W_{2} + b_{2}
A_{2} = \sigma(Z_{2})
L = \frac{1}{m}\|A_{2} - Y\|^2
>>> spec["shapes"]["W_2"], spec["shapes"]["b_2"]
(['n_1', 'n_2'], ['n_2'])
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

ACTIVATIONS = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\mathrm{ReLU}"}
LOSSES = ("mse", "bce", "softmax_ce")


def mlp(sizes: Sequence[int], activation: str = "sigmoid", loss: str = "mse", *,
        values: bool = False, batch: int = 4, seed: int = 0) -> dict:
    """Spec data of an MLP with layer sizes ``sizes`` (``[n_in, n_1, …, n_out]``).

    Hidden layers use ``activation``; the output is ``σ`` for ``mse`` and
    ``bce`` (written out as in the article's formulas) and softmax for
    ``softmax_ce``. Shapes are symbolic (``m``, ``n_in``, ``n_1``, …); with
    ``values`` the spec holds random values for a batch of ``batch`` rows.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}")
    f = ACTIVATIONS[activation]
    depth = len(sizes) - 1
    dims = ["n_in"] + [f"n_{k}" for k in range(1, depth + 1)]
    lines, shapes, params, prev = [], {"X": ["m", "n_in"]}, [], "X"
    for k in range(1, depth + 1):
        lines.append(f"Z_{{{k}}} = {prev} W_{{{k}}} + b_{{{k}}}")
        shapes[f"W_{k}"], shapes[f"b_{k}"] = [dims[k - 1], dims[k]], [dims[k]]
        params += [f"W_{k}", f"b_{k}"]
        if k < depth:
            lines.append(f"A_{{{k}}} = {f}(Z_{{{k}}})")
        elif loss == "softmax_ce":
            lines.append(f"A_{{{k}}} = \\mathrm{{softmax}}(Z_{{{k}}})")
        else:
            lines.append(f"A_{{{k}}} = \\sigma(Z_{{{k}}})")
        prev = f"A_{{{k}}}"
    out = prev
    lines.append({
        "mse": f"L = \\frac{{1}}{{m}}\\|{out} - Y\\|^2",
        "bce": f"L = -\\frac{{1}}{{m}}\\sum \\left(Y \\odot \\ln {out} + (1 - Y) \\odot \\ln(1 - {out})\\right)",
        "softmax_ce": f"L = -\\frac{{1}}{{m}}\\sum Y \\odot \\ln {out}",
    }[loss])
    shapes["Y"] = ["m", dims[-1]]
    spec = {"forward": "\n".join(lines), "params": params, "shapes": shapes}
    if values:
        spec["values"] = random_values(sizes, loss, batch=batch, seed=seed)
    return spec


def random_values(sizes: Sequence[int], loss: str = "mse", *, batch: int = 4,
                  seed: int = 0) -> dict:
    """Random leaves for :func:`mlp` (targets in (0, 1), one-hot for softmax)."""
    rng = np.random.default_rng(seed)
    vals = {"X": rng.normal(size=(batch, sizes[0]))}
    for k in range(1, len(sizes)):
        vals[f"W_{k}"] = rng.normal(size=(sizes[k - 1], sizes[k])) / np.sqrt(sizes[k - 1])
        vals[f"b_{k}"] = rng.normal(size=sizes[k]) * 0.1
    if loss == "softmax_ce":
        vals["Y"] = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    else:
        vals["Y"] = rng.uniform(0.05, 0.95, size=(batch, sizes[-1]))
    return {k: v.tolist() for k, v in vals.items()}
