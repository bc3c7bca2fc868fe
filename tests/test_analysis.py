"""symbackprop.analysis: the identities behind the article's 梯度的三个敌人."""
from __future__ import annotations

import numpy as np
import pytest

import symbackprop as sb
from symbackprop.analysis import (clip_by_global_norm, dead_units, exported_gradient, global_norm,
                                  layer_gradient_norms, layer_of, local_derivative, node_values,
                                  sigmoid_bound)
from symbackprop.reader.forward import network_from_latex
from symbackprop.generate_matrix import mlp


def random_grads(seed: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"W_1": rng.normal(size=(3, 4)) * scale, "b_1": rng.normal(size=4) * scale,
            "W_2": rng.normal(size=(4, 1)) * scale, "b_2": rng.normal(size=1) * scale}


# ---- layer norms and the sigmoid bound ------------------------------------------------
def test_layer_norms_add_up_to_the_global_norm():
    grads = random_grads(0)
    norms = layer_gradient_norms(grads)
    assert list(norms) == [1, 2]
    assert np.isclose(np.hypot(*norms.values()), global_norm(grads))
    assert np.isclose(norms[2], np.linalg.norm(np.concatenate([grads["W_2"].ravel(), grads["b_2"]])))


def test_layer_of_reads_the_trailing_number_and_refuses_names_without_one():
    assert [layer_of(n) for n in ("W_1", "b_{12}", "w_3")] == [1, 12, 3]
    with pytest.raises(ValueError, match="layer number"):
        layer_of("gamma")


def test_the_sigmoid_bound_is_the_largest_product_of_sigmoid_derivatives():
    z = np.linspace(-8, 8, 100001)
    s = 1 / (1 + np.exp(-z))
    assert np.isclose((s * (1 - s)).max(), 0.25)  # at z = 0
    assert sigmoid_bound(10) == 0.25 ** 10 < 1e-6
    assert sigmoid_bound(0) == 1.0


# ---- clipping ---------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e-3, 0.2, 1.0, 50.0, 1e6])
@pytest.mark.parametrize("max_norm", [0.5, 1.0, 5.0])
def test_clipping_cuts_the_length_to_max_norm_and_keeps_the_direction(scale, max_norm):
    grads = random_grads(1, scale)
    before = {p: g.copy() for p, g in grads.items()}
    clipped, total = clip_by_global_norm(grads, max_norm)
    assert np.isclose(total, global_norm(grads))
    assert np.isclose(global_norm(clipped), min(total, max_norm))
    factor = min(1.0, max_norm / total)
    for p in grads:
        np.testing.assert_allclose(clipped[p], factor * grads[p], rtol=1e-12)
        np.testing.assert_array_equal(grads[p], before[p])  # not modified


def test_clipping_refuses_a_nonpositive_max_norm():
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(random_grads(0), 0.0)


@pytest.mark.parametrize("scale", [0.01, 3.0, 1e4])
def test_clipping_matches_torch_clip_grad_norm(scale):
    torch = pytest.importorskip("torch")
    grads = random_grads(2, scale)
    tensors = []
    for g in grads.values():
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        tensors.append(t)
    total = torch.nn.utils.clip_grad_norm_(tensors, max_norm=1.0)
    clipped, ours = clip_by_global_norm(grads, 1.0)
    assert np.isclose(float(total), ours, rtol=1e-12)
    for t, g in zip(tensors, clipped.values()):
        # torch divides by total + 1e-6
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=2e-6 / max(ours, 1.0), atol=0)


# ---- dead units, local derivatives --------------------------------------------------------
@pytest.fixture(scope="module")
def relu_net():
    return network_from_latex(**mlp([3, 6, 1], "relu"))


def relu_arrays(shift: float, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    b_1 = np.abs(rng.normal(size=6)) + 1.0  # every unit alive …
    b_1[:3] -= shift  # … until three are pushed below zero
    return {"X": rng.uniform(-1, 1, size=(10, 3)), "Y": rng.uniform(size=(10, 1)),
            "W_1": rng.normal(size=(3, 6)) * 0.3, "b_1": b_1,
            "W_2": rng.normal(size=(6, 1)), "b_2": np.zeros(1)}


def test_dead_units_get_exactly_zero_gradient_and_live_ones_do_not(relu_net):
    arrays = relu_arrays(shift=10.0)
    Z_1 = node_values(relu_net, arrays)["Z_1"]
    np.testing.assert_allclose(Z_1, arrays["X"] @ arrays["W_1"] + arrays["b_1"])
    dead = dead_units(Z_1, local_derivative(sb.backprop(relu_net), "Z_1"))
    assert dead[:3].all() and not dead[3:].any()
    np.testing.assert_array_equal(dead, dead_units(Z_1))  # the derivation's ReLU' is 𝟙[z > 0]
    _, grads = exported_gradient(relu_net)(**arrays)
    assert np.all(grads["W_1"][:, dead] == 0) and np.all(grads["b_1"][dead] == 0)
    assert np.all(np.abs(grads["b_1"][~dead]) > 0)


def test_leaky_relu_units_are_never_dead():
    spec = mlp([3, 6, 1], "relu")
    leaky = network_from_latex(spec["forward"].replace(r"\mathrm{ReLU}", r"\mathrm{LeakyReLU}"),
                               params=spec["params"], shapes=spec["shapes"])
    arrays = relu_arrays(shift=10.0)
    Z_1 = node_values(leaky, arrays)["Z_1"]
    prime = local_derivative(sb.backprop(leaky), "Z_1")
    np.testing.assert_allclose(prime(Z_1), np.where(Z_1 > 0, 1.0, 0.01))
    assert not dead_units(Z_1, prime).any()
    _, grads = exported_gradient(leaky)(**arrays)
    assert np.all(np.abs(grads["b_1"]) > 0)


def test_the_local_derivative_of_a_sigmoid_step_is_a_times_one_minus_a():
    net = network_from_latex(**mlp([2, 3, 1], "sigmoid"))
    z = np.linspace(-4, 4, 12).reshape(4, 3)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(local_derivative(sb.backprop(net), "Z_1")(z), s * (1 - s), rtol=1e-12)
    with pytest.raises(ValueError, match="no elementwise local derivative"):
        local_derivative(sb.backprop(net), "W_1")


# ---- the exported gradient ---------------------------------------------------------------
def test_exported_gradient_of_a_scalar_network_is_the_derivation(derivations):
    spec = sb.load_spec(derivations / "seed_scalar.toml")
    loss, grads = exported_gradient(spec.network)(**spec.values)
    d = sb.backprop(spec.network, spec.values)
    assert np.isclose(loss, d.loss_value)
    for p in d.params:
        assert np.isclose(grads[p], d.gradient_value(p), rtol=1e-14)


def test_exported_gradient_of_a_matrix_network_has_each_parameter_s_shape(derivations):
    spec = sb.load_spec(derivations / "circle_relu_bce.toml")
    rng = np.random.default_rng(0)
    shapes = {"W_1": (2, 16), "b_1": (16,), "W_2": (16, 8), "b_2": (8,), "W_3": (8, 1), "b_3": (1,)}
    arrays = {p: rng.normal(size=s) * 0.5 for p, s in shapes.items()}
    arrays.update(X=rng.normal(size=(5, 2)), Y=rng.integers(0, 2, size=(5, 1)).astype(float))
    loss, grads = exported_gradient(spec.network)(**arrays)
    assert {p: g.shape for p, g in grads.items()} == shapes
    # the loss written on the logit is binary cross-entropy of A_3 = σ(Z_3)
    a = node_values(spec.network, arrays)["A_3"]
    y = arrays["Y"]
    assert np.isclose(loss, -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)))
