"""Published worked examples in which a node is the sum of two nodes.

Each spec in ``tests/sources/`` is written as its source writes the network (the header comment
of each file names the source, the numbers it publishes and the notation the reader refused).
For every spec:

(a) ``sb.derive(sb.load_spec(path))`` reproduces the source's published numbers, or, where the
    source gives only formulas, the source's backward formulas evaluated here in NumPy;
(b) every output format renders (pdf only when ``pdflatex`` exists);
(c) the exported module's ``loss_and_grad`` agrees with central differences of this file's own
    NumPy implementation of the source's forward pass (relative 1e-6);
(d) ``symbackprop check`` exits 0.

The expected numbers never come from symbackprop: they are the source's printed numbers or
this file's own arithmetic.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sb
from symbackprop.cli import main

from helpers import import_file

SOURCES = Path(__file__).resolve().parent / "sources"
SPECS = sorted(SOURCES.glob("*.toml"))


def spec_path(stem: str) -> Path:
    return SOURCES / f"{stem}.toml"


def derive(stem: str):
    return sb.derive(sb.load_spec(spec_path(stem)))


def arr(v) -> np.ndarray:
    return np.asarray(v, dtype=float)


# ---- the sources' forward passes, in NumPy (independent of symbackprop) -----------------------
def relu(z):
    return np.maximum(z, 0.0)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def f_d2l_matrix(v):
    z = v["W_1"] @ v["x"]
    h = relu(z)
    o = v["W_2"] @ h
    L = 0.5 * np.sum((o - v["y"]) ** 2)
    s = v["\\lambda"] / 2 * (np.sum(v["W_1"] ** 2) + np.sum(v["W_2"] ** 2))
    return L + s


def f_d2l_scalar(v):
    z = v["W_1"] * v["x"]
    h = relu(z)
    o = v["W_2"] * h
    return 0.5 * (o - v["y"]) ** 2 + v["\\lambda"] / 2 * (v["W_1"] ** 2 + v["W_2"] ** 2)


def ng_cross_entropy(A3, Y):
    m = Y.shape[1]
    return 1.0 / m * np.sum(-np.log(A3) * Y - np.log(1 - A3) * (1 - Y))  # reg_utils.compute_cost


def ng_l2(v, m):
    return (np.sum(v["W_1"] ** 2) + np.sum(v["W_2"] ** 2) + np.sum(v["W_3"] ** 2)) * v["\\lambda"] / 2 / m


def ng_forward(v):
    Z1 = v["W_1"] @ v["X"] + v["b_1"]
    A1 = relu(Z1)
    Z2 = v["W_2"] @ A1 + v["b_2"]
    A2 = relu(Z2)
    Z3 = v["W_3"] @ A2 + v["b_3"]
    return Z1, A1, Z2, A2, Z3, sigmoid(Z3)


def f_ng_backward(v):
    A3 = ng_forward(v)[-1]
    return ng_cross_entropy(A3, v["Y"]) + ng_l2(v, v["Y"].shape[1])


def f_ng_cost_matrix(v):
    return ng_cross_entropy(v["A_3"], v["Y"]) + ng_l2(v, v["Y"].shape[1])


def ng_scalar_weights(v):
    W = {1: np.zeros((2, 3)), 2: np.zeros((3, 2)), 3: np.zeros((1, 3))}
    for l, M in W.items():
        for k in range(M.shape[0]):
            for j in range(M.shape[1]):
                M[k, j] = v[f"W_{l},{k + 1},{j + 1}"]
    return W


def f_ng_cost_scalar(v):
    W = ng_scalar_weights(v)
    A3 = arr([[v[f"a_{i}"] for i in range(1, 6)]])
    Y = arr([[v[f"y_{i}"] for i in range(1, 6)]])
    return ng_cross_entropy(A3, Y) + ng_l2({"W_1": W[1], "W_2": W[2], "W_3": W[3],
                                            "\\lambda": v["\\lambda"]}, 5)


def kratzert_forward(x, gamma, beta, eps):
    """The post's batchnorm_forward, step for step."""
    N, D = x.shape
    mu = 1. / N * np.sum(x, axis=0)
    xmu = x - mu
    sq = xmu ** 2
    var = 1. / N * np.sum(sq, axis=0)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1. / sqrtvar
    xhat = xmu * ivar
    gammax = gamma * xhat
    out = gammax + beta
    return out, (xhat, gamma, xmu, ivar, sqrtvar, var, eps)


def kratzert_backward(dout, cache):
    """The post's naive batchnorm_backward, step 9 to step 0."""
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    N, D = dout.shape
    dbeta = np.sum(dout, axis=0)
    dgammax = dout
    dgamma = np.sum(dgammax * xhat, axis=0)
    dxhat = dgammax * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1. / (sqrtvar ** 2) * divar
    dvar = 0.5 * 1. / np.sqrt(var + eps) * dsqrtvar
    dsq = 1. / N * np.ones((N, D)) * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = 1. / N * np.ones((N, D)) * dmu
    dx = dx1 + dx2
    return dx, dgamma, dbeta


def f_kratzert(v):
    out, _ = kratzert_forward(v["x"], v["gamma"], v["beta"], v["eps"])
    return np.sum(v["dout"] * out)


def ioffe_forward(v):
    x = arr([v["x_1"], v["x_2"], v["x_3"]])
    t = arr([v["t_1"], v["t_2"], v["t_3"]])
    m = 3
    mu = x.sum() / m
    var = ((x - mu) ** 2).sum() / m
    xhat = (x - mu) / np.sqrt(var + v["\\epsilon"])
    y = v["\\gamma"] * xhat + v["\\beta"]
    return x, t, m, mu, var, xhat, y


def f_ioffe(v):
    *_, y = ioffe_forward(v)
    t = arr([v["t_1"], v["t_2"], v["t_3"]])
    return 0.5 * np.sum((y - t) ** 2)


def f_he_matrix(v):
    y = v["W_2"] @ relu(v["W_1"] @ v["x"]) + v["x"]
    return 0.5 * np.sum((y - v["t"]) ** 2)


def f_he_scalar(v):
    y = v["w_2"] * relu(v["w_1"] * v["x"]) + v["x"]
    return 0.5 * (y - v["t"]) ** 2


def f_freiburg(v):
    h0 = relu(v["w_0"] * v["x"])
    h1 = relu(v["w_1"] * h0)
    yhat = v["w_2"] * h1 + v["w_s"] * h0
    return abs(v["y"] - yhat)


FORWARD = {
    "d2l_backprop_l2_matrix": f_d2l_matrix,
    "d2l_backprop_l2_scalar": f_d2l_scalar,
    "ng_regularization_backward_matrix": f_ng_backward,
    "ng_regularization_cost_matrix": f_ng_cost_matrix,
    "ng_regularization_cost_scalar": f_ng_cost_scalar,
    "kratzert_batchnorm_matrix": f_kratzert,
    "ioffe_batchnorm_scalar": f_ioffe,
    "he_residual_block_matrix": f_he_matrix,
    "he_residual_block_scalar": f_he_scalar,
    "freiburg_skip_connection_scalar": f_freiburg,
}


def values_of(stem: str) -> dict:
    spec = sb.load_spec(spec_path(stem))
    return {k: arr(v) for k, v in spec.values.items()}


def central_differences(f, values: dict, param: str, eps: float = 1e-6) -> np.ndarray:
    base = arr(values[param])
    grad = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        plus, minus = dict(values), dict(values)
        p, q = base.copy(), base.copy()
        p[idx] += eps
        q[idx] -= eps
        plus[param], minus[param] = p, q
        grad[idx] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def test_every_spec_has_an_independent_forward_pass():
    assert {p.stem for p in SPECS} == set(FORWARD)


# ---- (a) the published numbers -----------------------------------------------------------------
def test_ng_backward_with_regularization_published_gradients():
    """Coursera DLS, Regularization, backward_propagation_with_regularization (λ = 0.7)."""
    d = derive("ng_regularization_backward_matrix")
    published = {
        "W_1": [[-0.25604646, 0.12298827, -0.28297129], [-0.17706303, 0.34536094, -0.4410571]],
        "W_2": [[0.79276486, 0.85133918], [-0.0957219, -0.01720463], [-0.13100772, -0.03750433]],
        "W_3": [[-1.77691347, -0.11832879, -0.09397446]],
        "b_1": [[0.11845855], [0.21236874]],
        "b_2": [[0.26135226], [0.0], [0.0]],
        "b_3": [[-0.38032981]],
    }
    for p, g in published.items():
        np.testing.assert_allclose(np.asarray(d.gradient_value(p), float), g, rtol=0, atol=5e-8,
                                   err_msg=p)
    # the cache's A3, printed with 8 decimals, is this forward pass's A3
    A3 = ng_forward(values_of("ng_regularization_backward_matrix"))[-1]
    np.testing.assert_allclose(A3, [[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]],
                               atol=5e-9)


def test_ng_cost_with_regularization_published_cost():
    """Coursera DLS, compute_cost_with_regularization: cost = 1.78648594516 (λ = 0.1)."""
    for stem in ("ng_regularization_cost_matrix", "ng_regularization_cost_scalar"):
        d = derive(stem)
        assert d.loss_value == pytest.approx(1.7864859451590758, abs=1e-11), stem
        assert f"{d.loss_value:.11f}" == "1.78648594516", stem
    d = derive("ng_regularization_cost_matrix")
    v = values_of("ng_regularization_cost_matrix")
    for p in ("W_1", "W_2", "W_3"):  # (λ/m) W: the assignment's regulariser gradient
        np.testing.assert_allclose(np.asarray(d.gradient_value(p), float), 0.1 / 5 * v[p], rtol=1e-12)
    d = derive("ng_regularization_cost_scalar")
    v = values_of("ng_regularization_cost_scalar")
    for p in d.params:
        assert d.gradient_value(p) == pytest.approx(0.1 / 5 * float(v[p]), rel=1e-12), p


def test_freiburg_skip_connection_published_numbers():
    """Pen & paper skip connection: every published gradient and update; the forward slip."""
    d = derive("freiburg_skip_connection_scalar")
    published = {"w_2": 0.25, "w_s": 0.5, "w_1": 0.25, "w_0": 0.75}
    for p, g in published.items():
        assert d.gradient_value(p) == pytest.approx(g, abs=1e-12), p
    for node, g in {"\\hat{y}": 1, "z_2": 1, "h_1": 0.5, "z_1": 0.5, "h_0": 0.75, "z_0": 0.75}.items():
        assert d.adjoint_value(node) == pytest.approx(g), node
    updated = {"w_2": 0.25, "w_s": 0.0, "w_1": 0.25, "w_0": -0.25}
    for p, w in updated.items():
        assert d.updates[p].updated == pytest.approx(w, abs=1e-12), p
    # the source prints ŷ = 0.325 and L = 3.325; 0.5·0.25 + 0.5·0.5 = 0.375 and |−3 − 0.375| = 3.375
    assert d.values["z_2"] == pytest.approx(0.375) and d.loss_value == pytest.approx(3.375)
    # the loss after the step: w_0 = −0.25 gives z_0 = −0.25, h_0 = 0, ŷ = 0, L = 3 (published)
    after = {k: float(v) for k, v in values_of("freiburg_skip_connection_scalar").items()}
    after.update(updated)
    assert f_freiburg(after) == 3.0


# ---- (a) where the source gives formulas: its backward formulas, evaluated here -------------------
def test_d2l_formulas_matrix():
    d = derive("d2l_backprop_l2_matrix")
    v = values_of("d2l_backprop_l2_matrix")
    lam, x, W1, W2, y = v["\\lambda"], v["x"], v["W_1"], v["W_2"], v["y"]
    z = W1 @ x
    h = relu(z)
    o = W2 @ h
    dJ_do = o - y                                  # ∂J/∂o = ∂L/∂o for l = ½‖o − y‖²
    dJ_dW2 = dJ_do @ h.T + lam * W2                # ∂J/∂o hᵀ + λ W^(2)
    dJ_dh = W2.T @ dJ_do                           # W^(2)ᵀ ∂J/∂o
    dJ_dz = dJ_dh * (z > 0)                        # ∂J/∂h ⊙ φ'(z)
    dJ_dW1 = dJ_dz @ x.T + lam * W1                # ∂J/∂z xᵀ + λ W^(1)
    np.testing.assert_allclose(np.asarray(d.gradient_value("W_2"), float), dJ_dW2, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(d.gradient_value("W_1"), float), dJ_dW1, rtol=1e-12)
    assert d.loss_value == pytest.approx(f_d2l_matrix(v), rel=1e-12)


def test_d2l_formulas_scalar():
    d = derive("d2l_backprop_l2_scalar")
    v = {k: float(x) for k, x in values_of("d2l_backprop_l2_scalar").items()}
    lam = v["\\lambda"]
    z = v["W_1"] * v["x"]
    h = max(z, 0.0)
    o = v["W_2"] * h
    dJ_do = o - v["y"]
    assert d.gradient_value("W_2") == pytest.approx(dJ_do * h + lam * v["W_2"], rel=1e-12)
    dJ_dz = v["W_2"] * dJ_do * (1.0 if z > 0 else 0.0)
    assert d.gradient_value("W_1") == pytest.approx(dJ_dz * v["x"] + lam * v["W_1"], rel=1e-12)
    # J = L + s: ∂J/∂L = ∂J/∂s = 1
    assert d.adjoint_value("L") == 1 and d.adjoint_value("s") == 1


def test_kratzert_batchnorm_backward():
    d = derive("kratzert_batchnorm_matrix")
    v = values_of("kratzert_batchnorm_matrix")
    _, cache = kratzert_forward(v["x"], v["gamma"], v["beta"], float(v["eps"]))
    dx, dgamma, dbeta = kratzert_backward(v["dout"], cache)
    np.testing.assert_allclose(np.asarray(d.gradient_value("x"), float), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(d.gradient_value("gamma"), float), dgamma, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(d.gradient_value("beta"), float), dbeta, rtol=1e-10)
    assert np.shape(d.gradient_value("gamma")) == (3,)  # a D-vector, as the post's dgamma


def test_ioffe_batchnorm_paper_equations():
    d = derive("ioffe_batchnorm_scalar")
    v = {k: float(x) for k, x in values_of("ioffe_batchnorm_scalar").items()}
    x, t, m, mu, var, xhat, y = ioffe_forward(v)
    eps, gamma = v["\\epsilon"], v["\\gamma"]
    dy = y - t
    dxhat = dy * gamma
    dvar = np.sum(dxhat * (x - mu)) * -0.5 * (var + eps) ** -1.5
    dmu = np.sum(dxhat * -1 / math.sqrt(var + eps)) + dvar * np.sum(-2 * (x - mu)) / m
    dx = dxhat / math.sqrt(var + eps) + dvar * 2 * (x - mu) / m + dmu / m
    assert d.gradient_value("\\gamma") == pytest.approx(np.sum(dy * xhat), rel=1e-10)
    assert d.gradient_value("\\beta") == pytest.approx(np.sum(dy), rel=1e-10)
    for i in range(3):
        assert d.gradient_value(f"x_{i + 1}") == pytest.approx(dx[i], rel=1e-9, abs=1e-12)
    assert d.adjoint_value("v_B") == pytest.approx(dvar, rel=1e-10)
    assert d.adjoint_value("\\mu_B") == pytest.approx(dmu, rel=1e-9, abs=1e-12)


def test_he_residual_block_identity_shortcut():
    d = derive("he_residual_block_matrix")
    v = values_of("he_residual_block_matrix")
    x, W1, W2, t = v["x"], v["W_1"], v["W_2"], v["t"]
    z = W1 @ x
    a = relu(z)
    y = W2 @ a + x
    G = y - t
    back = (W2.T @ G) * (z > 0)
    np.testing.assert_allclose(np.asarray(d.gradient_value("x"), float), G + W1.T @ back, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(d.gradient_value("W_2"), float), G @ a.T, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(d.gradient_value("W_1"), float), back @ x.T, rtol=1e-12)

    d = derive("he_residual_block_scalar")
    v = {k: float(x) for k, x in values_of("he_residual_block_scalar").items()}
    z = v["w_1"] * v["x"]
    y = v["w_2"] * max(z, 0.0) + v["x"]
    dF_dx = v["w_2"] * (1.0 if z > 0 else 0.0) * v["w_1"]
    assert d.gradient_value("x") == pytest.approx((y - v["t"]) * (1 + dF_dx), rel=1e-12)


# ---- (b) every output format renders ------------------------------------------------------------
FORMATS = ["text", "markdown", "latex", "json", "pdf"]
SUFFIX = {"text": "txt", "markdown": "md", "latex": "tex", "json": "json", "pdf": "pdf"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_format_renders(path, fmt, tmp_path):
    if fmt == "pdf" and shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    out = tmp_path / f"{path.stem}.{SUFFIX[fmt]}"
    assert main(["derive", str(path), "--format", fmt, "-o", str(out)]) == 0
    assert out.exists() and out.stat().st_size > 0


# ---- (c) the exported gradient against central differences of the source's forward pass ----------
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_export_matches_central_differences(path, tmp_path):
    out = tmp_path / f"grads_{path.stem}.py"
    assert main(["export", str(path), "-o", str(out)]) == 0
    module = import_file(out, f"grads_{path.stem}")
    values = values_of(path.stem)
    f = FORWARD[path.stem]
    loss, grads = module.loss_and_grad(**{k: v.copy() for k, v in values.items()})
    assert float(loss) == pytest.approx(float(f(values)), rel=1e-9)
    spec = sb.load_spec(path)
    assert set(grads) == set(spec.network.params)
    for p in spec.network.params:
        fd = central_differences(f, values, p)
        got = np.asarray(grads[p], float)
        assert got.shape == fd.shape, p
        scale = max(np.max(np.abs(fd)), 1e-8)
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-6 * scale, err_msg=p)


# ---- (d) symbackprop check ----------------------------------------------------------------------
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_check_passes(path, capsys):
    try:
        code = main(["check", str(path)])
    except SystemExit as exit_:  # argparse or a hard failure
        code = exit_.code
    assert code == 0, capsys.readouterr()
