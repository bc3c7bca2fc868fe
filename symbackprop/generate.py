"""Spec generators for scaling studies and tests: deep chains and explicit-element MLPs.

>>> print(sigmoid_chain(2)["forward"])
z_{1} = w_{1} x
a_{1} = \\sigma(z_{1})
z_{2} = w_{2} a_{1}
a_{2} = \\sigma(z_{2})
L = (a_{2} - y)^2
>>> spec = explicit_mlp([2, 3, 1])
>>> len(spec["params"])  # 2*3 + 3 weights, 3 + 1 biases
13
"""
from __future__ import annotations

import random
from typing import Sequence

_ACT = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\mathrm{ReLU}"}


def sigmoid_chain(depth: int, activation: str = "sigmoid") -> dict:
    """Spec data of a one-neuron-per-layer chain ``depth`` layers deep."""
    f = _ACT[activation]
    lines, prev = [], "x"
    for k in range(1, depth + 1):
        lines += [f"z_{{{k}}} = w_{{{k}}} {prev}", f"a_{{{k}}} = {f}(z_{{{k}}})"]
        prev = f"a_{{{k}}}"
    lines.append(f"L = ({prev} - y)^2")
    return {"forward": "\n".join(lines), "params": [f"w_{k}" for k in range(1, depth + 1)]}


def explicit_mlp(sizes: Sequence[int], activation: str = "sigmoid", *, values: bool = False,
                 seed: int = 0) -> dict:
    """Spec data of a fully connected network written one line per neuron.

    ``sizes = [4, 8, 8, 1]`` gives inputs ``x_1..x_4``, weights ``w^{(l)}_{ij}``
    named ``w_l,i,j``, biases ``b_l,j``, activations ``a_l,j``; the loss is the
    squared error of the outputs against targets ``y_j``. With ``values`` it also
    holds random values (seeded) for every leaf.
    """
    f = _ACT[activation]
    lines, params = [], []
    prev = [f"x_{{{i}}}" for i in range(1, sizes[0] + 1)]
    for layer in range(1, len(sizes)):
        current = []
        for j in range(1, sizes[layer] + 1):
            terms = []
            for i, a in enumerate(prev, start=1):
                w = f"w_{{{layer},{i},{j}}}"
                params.append(f"w_{layer},{i},{j}")
                terms.append(f"{w} {a}")
            b = f"b_{{{layer},{j}}}"
            params.append(f"b_{layer},{j}")
            lines.append(f"z_{{{layer},{j}}} = {' + '.join(terms)} + {b}")
            lines.append(f"a_{{{layer},{j}}} = {f}(z_{{{layer},{j}}})")
            current.append(f"a_{{{layer},{j}}}")
        prev = current
    loss = " + ".join(f"({a} - y_{{{j}}})^2" for j, a in enumerate(prev, start=1))
    lines.append(f"L = {loss}")
    spec = {"forward": "\n".join(lines), "params": params}
    if values:
        rng = random.Random(seed)
        leaves = params + [f"x_{i}" for i in range(1, sizes[0] + 1)] + \
            [f"y_{j}" for j in range(1, sizes[-1] + 1)]
        spec["values"] = {n: round(rng.uniform(-1, 1), 3) for n in leaves}
    return spec
