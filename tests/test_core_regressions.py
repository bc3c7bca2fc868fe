"""The smallest networks of the bugs found by the random-network runs, each against its own numbers.

Each one once made the compiled or exported code disagree with the derivation (or crashed or
hung); the expected values are worked out by hand or by a forward pass written here.
"""
import math
import time

import numpy as np
import pytest

import symbackprop as sb
from symbackprop.spec import spec_from_toml


def gelu(x: float) -> float:
    return 0.5 * x * (1 + math.erf(x / math.sqrt(2)))


def derived_and_compiled(forward: str, params, values, **kw):
    d = sb.backprop(sb.network_from_latex(forward, params=params, **kw), values)
    loss, grads = d.compile()(**values)
    return d, float(np.asarray(loss).sum()), {p: np.asarray(g) for p, g in grads.items()}


def test_a_quotient_by_a_gelu_keeps_its_parentheses():
    # t0 = 1/(1/2)*u*(…) divided by the first factor only: -4.69 instead of -0.307
    d, loss, grads = derived_and_compiled(r"L = \frac{w}{\mathrm{GELU}(u)}", ["w"], {"w": -0.6, "u": 2.0})
    assert d.loss_value == pytest.approx(-0.6 / gelu(2.0), rel=1e-12)
    assert loss == pytest.approx(d.loss_value, rel=1e-12)
    assert float(grads["w"]) == pytest.approx(1 / gelu(2.0), rel=1e-12)


def test_a_power_of_a_gelu_is_the_power_of_the_whole_gelu():
    d, loss, _ = derived_and_compiled(r"L = w \mathrm{GELU}(x)^{3}", ["w"], {"w": 1.0, "x": -1.43})
    assert loss == pytest.approx(gelu(-1.43) ** 3, rel=1e-12) and d.loss_value == pytest.approx(loss)


def test_leaky_relu_of_a_difference_scales_the_whole_difference():
    # 0.01*k - r gave -1.005 instead of -0.015
    d, loss, grads = derived_and_compiled(r"L = w \mathrm{LeakyReLU}(k - r)", ["w"],
                                          {"w": 1.0, "k": -0.5, "r": 1.0})
    assert loss == pytest.approx(-0.015, rel=1e-12) and d.loss_value == pytest.approx(-0.015)
    assert float(grads["w"]) == pytest.approx(-0.015, rel=1e-12)


def test_a_square_root_is_a_power_of_one_half_in_code():
    # t0**1/2 was (t0**1)/2
    d, loss, grads = derived_and_compiled(r"L = \sqrt{1 + v^2} + z", ["v", "z"], {"v": 0.7, "z": 0.3})
    assert float(grads["v"]) == pytest.approx(0.7 / math.sqrt(1.49), rel=1e-12)


def test_a_residual_sum_squared_in_matrix_form():
    # H = A_1 + A_2 with a non-constant adjoint: the in-place code read an overwritten array
    spec = spec_from_toml(r"""
forward = '''
Z_1 = X W_1
A_1 = \tanh(Z_1)
Z_2 = A_1 W_2
A_2 = \tanh(Z_2)
H = A_1 + A_2
L = \sum H \odot H
'''
params = ["W_1", "W_2"]
[values]
X = [[0.5]]
W_1 = [[0.7]]
W_2 = [[-0.4]]
""")
    d = sb.backprop(spec.network, spec.values)
    _, grads = d.compile()(**spec.values)

    def loss(w1, w2):
        a1 = math.tanh(0.5 * w1)
        return (a1 + math.tanh(a1 * w2)) ** 2

    eps = 1e-6
    truth = (loss(0.7 + eps, -0.4) - loss(0.7 - eps, -0.4)) / (2 * eps)
    assert d.gradient_value("W_1").item() == pytest.approx(truth, rel=1e-8)
    assert grads["W_1"].item() == pytest.approx(truth, rel=1e-8)


@pytest.mark.parametrize("forward", ["L = w - w + x", "z = w x\nL = x"])
def test_a_parameter_the_loss_does_not_depend_on_has_gradient_zero(forward):
    d = sb.backprop(sb.network_from_latex(forward, params=["w"], loss="L"), {"w": 1.0, "x": 0.5})
    assert d.gradient_value("w") == 0.0
    assert "w" in d.to_text()


def test_a_gelu_far_below_zero_is_quick_and_finite():
    start = time.perf_counter()
    d = sb.backprop(sb.network_from_latex("z = w x\na = \\mathrm{GELU}(z)\nL = (a - y)^2", params=["w"]),
                    {"w": 1.0, "x": -300.0, "y": 0.5})
    assert time.perf_counter() - start < 5
    assert d.loss_value == pytest.approx(0.25) and math.isfinite(d.gradient_value("w"))
