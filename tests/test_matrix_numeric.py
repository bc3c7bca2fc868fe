"""Matrix gradients against two independent oracles: HIPS autograd and central differences.

Random sizes and values; MSE and binary cross-entropy (and softmax cross-entropy)
losses; sigmoid, tanh and ReLU layers; 2 and 3 layers deep. The forward passes
below are written again in ``autograd.numpy``, not taken from symbackprop.
"""
import itertools

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

from symbackprop.backprop import backprop, gradient_function
from symbackprop.generate_matrix import mlp
from symbackprop.spec import spec_from_dict

ACTS = {"sigmoid": lambda z: 1 / (1 + anp.exp(-z)), "tanh": anp.tanh,
        "relu": lambda z: anp.maximum(z, 0.0)}


def reference_loss(params: dict, X, Y, depth: int, activation: str, loss: str):
    """The MLP of :func:`symbackprop.generate_matrix.mlp`, in autograd.numpy."""
    A = X
    for k in range(1, depth + 1):
        Z = A @ params[f"W_{k}"] + params[f"b_{k}"]
        if k < depth:
            A = ACTS[activation](Z)
        elif loss == "softmax_ce":
            E = anp.exp(Z - anp.max(Z, axis=1, keepdims=True))
            A = E / anp.sum(E, axis=1, keepdims=True)
        else:
            A = 1 / (1 + anp.exp(-Z))
    m = X.shape[0]
    if loss == "mse":
        return anp.sum((A - Y) ** 2) / m
    if loss == "bce":
        return -anp.sum(Y * anp.log(A) + (1 - Y) * anp.log(1 - A)) / m
    return -anp.sum(Y * anp.log(A)) / m


def rel(a, b) -> float:
    return float(np.linalg.norm(np.ravel(a) - np.ravel(b)) / max(np.linalg.norm(np.ravel(b)), 1e-300))


CASES = list(itertools.product([2, 3], ["sigmoid", "tanh", "relu"], ["mse", "bce", "softmax_ce"]))


@pytest.mark.parametrize("depth, activation, loss", CASES)
def test_against_autograd_and_central_differences(depth, activation, loss):
    seed = 17 * depth + len(activation) + 7 * len(loss)
    rng = np.random.default_rng(seed)
    sizes = list(rng.integers(2, 6, size=depth + 1))
    if loss == "softmax_ce":
        sizes[-1] = max(sizes[-1], 3)
    spec = spec_from_dict(mlp(sizes, activation, loss, values=True, batch=int(rng.integers(3, 8)),
                              seed=seed))
    vals = {k: np.asarray(v, dtype=float) for k, v in spec.values.items()}
    d = backprop(spec.network, vals)
    params = {p: vals[p] for p in spec.network.params}

    def f(ps):
        return reference_loss(ps, vals["X"], vals["Y"], depth, activation, loss)

    assert d.loss_value == pytest.approx(f(params), rel=1e-12)
    truth = autograd.grad(f)(params)
    for p in params:
        assert d.gradient_value(p).shape == params[p].shape
        assert rel(d.gradient_value(p), truth[p]) < 1e-8, p

    # central differences along a random direction per parameter
    for p in params:
        u = rng.normal(size=params[p].shape)
        h = 1e-5
        plus = {**params, p: params[p] + h * u}
        minus = {**params, p: params[p] - h * u}
        fd = (f(plus) - f(minus)) / (2 * h)
        directional = float(np.sum(d.gradient_value(p) * u))
        assert abs(directional - fd) <= 1e-8 * max(abs(fd), 1e-3) + 1e-10, (p, directional, fd)


def test_gradient_function_serves_any_batch_size():
    spec = spec_from_dict(mlp([3, 4, 2], "tanh", "mse"))
    f = gradient_function(spec.network)
    for batch in (1, 5, 64):
        vals = {k: np.asarray(v) for k, v in spec_from_dict(
            mlp([3, 4, 2], "tanh", "mse", values=True, batch=batch, seed=batch)).values.items()}
        loss, grads = f(**vals)
        params = {p: vals[p] for p in spec.network.params}
        truth = autograd.grad(lambda ps: reference_loss(ps, vals["X"], vals["Y"], 2, "tanh", "mse"))(params)
        assert loss == pytest.approx(reference_loss(params, vals["X"], vals["Y"], 2, "tanh", "mse"))
        for p in params:
            assert rel(grads[p], truth[p]) < 1e-10


def test_hand_mode_rounds_every_entry():
    spec = spec_from_dict(mlp([2, 3, 1], values=True, seed=2))
    d = backprop(spec.network, spec.values, mode="hand", digits=3)
    for v in list(d.values.values()) + list(d.adjoints.values()):
        a = np.ravel(v)
        big = a[np.abs(a) >= 1e-3]
        np.testing.assert_array_equal(big, np.round(big, 3))
