"""Published worked examples, reproduced from their specs, and central differences."""
import pytest

from symbackprop import backprop, load_spec
from symbackprop.printing.numbers import fmt

from helpers import assert_close, central_difference


def derive(derivations, name, **kw):
    spec = load_spec(derivations / name)
    return backprop(spec.network, spec.values, learning_rate=spec.learning_rate, **kw)


def three(x):
    return fmt(x, 3)


def test_article_numbers_to_three_decimals(derivations):
    d = derive(derivations, "seed_scalar.toml")
    v = {n: d.value(n) for n in d.network.order}
    assert three(d.loss_value) == "0.456"
    assert three(d.adjoint_value("a_2")) == "-1.350"
    assert three(d.step("z_2").terms[0].local_value) == "0.219"  # ∂a_2/∂z_2
    assert three(d.adjoint_value("z_2")) == "-0.296"
    assert three(d.gradient_value("w_2")) == "-0.217"
    assert three(d.gradient_value("b")) == "-0.296"
    assert three(d.adjoint_value("a_1")) == "0.296"
    assert three(d.step("z_1").terms[0].local_value) == "0.197"  # ∂a_1/∂z_1
    assert three(d.adjoint_value("z_1")) == "0.058"
    assert three(d.gradient_value("w_1")) == "0.116"
    assert d.gradient_value("w_1") == pytest.approx(0.116455, abs=1e-6)
    assert {p: three(u.updated) for p, u in d.updates.items()} == {
        "w_1": "0.488", "w_2": "-0.978", "b": "0.030"}
    assert three(v["a_1"]) == "0.731" and three(v["a_2"]) == "0.325"
    # micrograd / PyTorch figures printed by the article, 4 decimals
    assert f"{d.loss_value:.4f}" == "0.4557"  # the article's "0.4562" uses a_2 rounded to 0.325
    assert f"{d.gradient_value('w_2'):.4f}" == "-0.2165"
    assert f"{d.gradient_value('b'):.4f}" == "-0.2962"


def test_hand_mode_carries_rounded_values(derivations):
    d = derive(derivations, "seed_scalar.toml", mode="hand")
    # a person who rounds a_2 to 0.325 gets L = 0.455625 -> 0.456 and 2(0.325 - 1) = -1.35
    assert d.value("a_2") == 0.325
    assert d.adjoint_value("a_2") == -1.35
    assert d.step("z_2").terms[0].local_value == 0.219
    assert d.adjoint_value("z_2") == -0.296  # -1.35 * 0.219 = -0.29565
    assert d.gradient_value("w_2") == -0.216  # from rounded -0.296 * 0.731
    assert d.gradient_value("w_1") == 0.116


def test_mazur_2_2_2_shared_biases(derivations):
    """Published figures of Mazur's step-by-step example (η = 0.5)."""
    d = derive(derivations, "mazur_2_2_2.toml")
    assert d.loss_value == pytest.approx(0.298371109, abs=1e-9)
    assert d.values["h_1"] == pytest.approx(0.593269992, abs=1e-9)
    assert d.gradient_value("w_5") == pytest.approx(0.082167041, abs=1e-9)
    assert d.gradient_value("w_1") == pytest.approx(0.000438568, abs=1e-9)
    published = {"w_1": 0.149780716, "w_2": 0.19956143, "w_3": 0.24975114, "w_4": 0.29950229,
                 "w_5": 0.35891648, "w_6": 0.408666186, "w_7": 0.511301270, "w_8": 0.561370121}
    for p, w in published.items():
        assert d.updates[p].updated == pytest.approx(w, abs=1e-8), p
    # a shared bias gets one term per neuron it feeds
    assert [t.of for t in d.step("b_1").terms] == ["z_h1", "z_h2"]
    assert [t.of for t in d.step("b_2").terms] == ["z_o1", "z_o2"]


def test_micrograd_reused_nodes(derivations):
    """micrograd's test_more_ops, whose figures it checks against PyTorch."""
    d = derive(derivations, "micrograd_ops.toml")
    assert d.loss_value == pytest.approx(24.7041, abs=1e-4)
    assert d.gradient_value("a") == pytest.approx(138.8338, abs=1e-4)
    assert d.gradient_value("b") == pytest.approx(645.5773, abs=1e-4)
    # a feeds c_1, d_1, c_3, d_2 and d_3: five terms in its chain rule
    assert len(d.step("a").terms) == 5


def test_cs231n_circuit(derivations):
    d = derive(derivations, "cs231n_circuit.toml")
    assert d.loss_value == -12
    assert [d.gradient_value(p) for p in "xyz"] == [-4, -4, 3]


@pytest.mark.parametrize("name", ["seed_scalar.toml", "mazur_2_2_2.toml", "micrograd_ops.toml",
                                  "cs231n_circuit.toml"])
def test_gradients_agree_with_central_differences(derivations, name):
    spec = load_spec(derivations / name)
    d = backprop(spec.network, spec.values)
    for p in spec.network.params:
        assert_close(d.gradient_value(p), central_difference(spec.network, spec.values, p), 1e-6)
