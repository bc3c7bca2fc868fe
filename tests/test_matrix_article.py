"""The article's 矩阵形式 section, reproduced: its six formulas, and its NumPy MLP's numbers."""
import json

import numpy as np
import pytest

from symbackprop import load_spec
from symbackprop.cli import main
from symbackprop.network import Network
from symbackprop.backprop import backprop
from symbackprop.printing.ir import to_latex
from symbackprop.reader.forward import network_from_latex

ARTICLE = r"""
Z_1 = X W_1 + b_1
A_1 = \sigma(Z_1)
Z_2 = A_1 W_2 + b_2
A_2 = \sigma(Z_2)
L = \frac{1}{m}\|A_2 - Y\|^2
"""
SHAPES = {"X": ["m", "n_in"], "W_1": ["n_in", "n_1"], "b_1": ["n_1"],
          "W_2": ["n_1", "n_2"], "b_2": ["n_2"], "Y": ["m", "n_2"]}
PARAMS = ["W_1", "b_1", "W_2", "b_2"]
dZ = r"\frac{\partial L}{\partial Z_{%d}}"


@pytest.fixture(scope="module")
def symbolic():
    net = network_from_latex(ARTICLE, params=PARAMS, shapes=SHAPES)
    return backprop(net)


def test_the_six_formulas(symbolic):
    d = symbolic
    # ∂L/∂Z₂ = (2/m)(A₂ − Y) ⊙ σ′(Z₂) ∈ ℝ^{m×n₂}
    assert to_latex(d.textbook("Z_2"), d.solution().ctx.names) == \
        r"\frac{2}{m} \left(A_{2} - Y\right) \odot \sigma'\left(Z_{2}\right)"
    assert d.step("Z_2").shape == ("m", "n_2")
    # ∂L/∂W₂ = A₁ᵀ ∂L/∂Z₂ ∈ ℝ^{n₁×n₂}
    assert to_latex(d.gradient("W_2")) == r"A_{1}^{\top} " + dZ % 2
    assert d.step("W_2").shape == ("n_1", "n_2")
    # ∂L/∂b₂ = Σ_{i=1}^{m} ∂L/∂Z₂ ∈ ℝ^{n₂}
    assert to_latex(d.gradient("b_2")) == r"\sum_{i=1}^{m} " + dZ % 2
    assert d.step("b_2").shape == ("n_2",)
    # ∂L/∂A₁ = ∂L/∂Z₂ W₂ᵀ ∈ ℝ^{m×n₁}
    assert to_latex(d.textbook("A_1")) == dZ % 2 + r" W_{2}^{\top}"
    assert d.step("A_1").shape == ("m", "n_1")
    # ∂L/∂Z₁ = ∂L/∂A₁ ⊙ σ′(Z₁) ∈ ℝ^{m×n₁}
    assert to_latex(d.textbook("Z_1")) == \
        r"\frac{\partial L}{\partial A_{1}} \odot \sigma'\left(Z_{1}\right)"
    # ∂L/∂W₁ = Xᵀ ∂L/∂Z₁ ∈ ℝ^{n_in×n₁}
    assert to_latex(d.gradient("W_1")) == r"X^{\top} " + dZ % 1
    assert d.step("W_1").shape == ("n_in", "n_1")


def test_steps_come_in_the_article_order(symbolic):
    assert [s.node for s in symbolic.backward] == ["A_2", "Z_2", "W_2", "b_2", "A_1", "Z_1",
                                                   "W_1", "b_1"]


def test_sigma_prime_is_also_written_in_node_names(symbolic):
    text = symbolic.to_markdown()
    assert r"\odot A_{2} \odot \left(1 - A_{2}\right)" in text
    assert r"\frac{\partial L}{\partial A_{1}} \odot A_{1} \odot \left(1 - A_{1}\right)" in text


def test_each_step_checks_its_shapes(symbolic):
    text = symbolic.to_text()
    assert "(n_1×m)(m×n_2) = n_1×n_2  ✓" in text  # ∂L/∂W₂
    assert "(n_in×m)(m×n_1) = n_in×n_1  ✓" in text  # ∂L/∂W₁
    assert "(m×n_2)(n_2×n_1) = m×n_1  ✓" in text  # ∂L/∂A₁
    assert "Σ_(i=1..m) (m×n_2) = n_2  ✓" in text  # ∂L/∂b₂


def article_numpy_backward(X, y, W1, b1, W2, b2):
    """The article's TwoLayerMLP.forward/backward (实现二), verbatim but for the class."""
    def sigmoid(x):
        return 1 / (1 + np.exp(-np.clip(x, -500, 500)))

    def sigmoid_grad(x):
        s = sigmoid(x)
        return s * (1 - s)

    Z1 = X @ W1 + b1
    A1 = sigmoid(Z1)
    Z2 = A1 @ W2 + b2
    A2 = sigmoid(Z2)
    m = y.shape[0]
    dA2 = 2 * (A2 - y) / m
    dZ2 = dA2 * sigmoid_grad(Z2)
    dW2 = A1.T @ dZ2
    db2 = dZ2.sum(axis=0)
    dA1 = dZ2 @ W2.T
    dZ1 = dA1 * sigmoid_grad(Z1)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0)
    return np.mean((A2 - y) ** 2), {"W_1": dW1, "b_1": db1, "W_2": dW2, "b_2": db2}


def test_seed_matrix_matches_the_articles_numpy_mlp(derivations):
    spec = load_spec(derivations / "seed_matrix.toml")
    assert not spec.network.is_scalar
    d = backprop(spec.network, spec.values, learning_rate=spec.learning_rate)
    v = {k: np.asarray(x, dtype=float) for k, x in spec.values.items()}
    loss, grads = article_numpy_backward(v["X"], v["Y"], v["W_1"], v["b_1"], v["W_2"], v["b_2"])
    assert d.loss_value == pytest.approx(loss, rel=1e-14)
    assert dict(d.sizes) == {"m": 4, "n_in": 2, "n_1": 4, "n_2": 1}
    for p, g in grads.items():
        mine = d.gradient_value(p)
        assert mine.shape == g.shape  # b_1 of shape [n_1] gets a 1-D gradient, as db1 is
        np.testing.assert_allclose(mine, g, rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(d.updates[p].updated, v[p] - 0.5 * g, rtol=1e-13)


def test_json_follows_the_contract(derivations, capsys):
    assert main(["derive", str(derivations / "seed_matrix.toml"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["loss"]["value"] == pytest.approx(0.2755871184, abs=1e-10)
    g = out["gradients"]
    assert g["W_2"]["latex"] == r"A_{1}^{\top} \frac{\partial L}{\partial Z_{2}}"
    assert g["b_1"]["shape"] == [4] and g["b_1"]["dims"] == ["n_1"]
    for p, shape in {"W_1": (2, 4), "b_1": (4,), "W_2": (4, 1), "b_2": (1,)}.items():
        assert np.shape(g[p]["value"]) == shape == tuple(g[p]["shape"])
        assert np.shape(out["update"][p]["updated"]) == shape
    assert np.shape(out["nodes"]["Z_1"]["value"]) == (4, 4)
    assert out["nodes"]["X"]["value"] == [[0, 0], [0, 1], [1, 0], [1, 1]]
    z2 = next(s for s in out["steps"] if s["node"] == "Z_2")
    assert z2["textbook_latex"] == r"\frac{2}{m} \left(A_{2} - Y\right) \odot \sigma'\left(Z_{2}\right)"
    assert z2["latex"].startswith(r"\begin{align*}") and r"\in \mathbb{R}^{m \times n_{2}}" in z2["latex"]


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_every_format_and_both_languages(derivations, capsys, fmt):
    for lang in ("en", "zh"):
        assert main(["derive", str(derivations / "seed_matrix.toml"), "--format", fmt,
                     "--lang", lang]) == 0
        out = capsys.readouterr().out
        assert ("W_2" in out or "W_{2}" in out) and ("维度检查" in out) == (lang == "zh")


def test_symbolic_spec_without_values_derives(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('forward = """' + ARTICLE.replace("\\", "\\\\") + '"""\nparams = ["W_1", "b_1", "W_2", "b_2"]\n'
                    "[shapes]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in SHAPES.items()))
    assert main(["derive", str(spec), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["loss"]["value"] is None
    assert out["gradients"]["b_1"]["shape"] == ["n_1"]
    assert out["gradients"]["W_1"]["latex"] == r"X^{\top} \frac{\partial L}{\partial Z_{1}}"


def test_a_bias_declared_as_a_row_keeps_its_row_shape():
    net = network_from_latex(r"Z = X W + b" "\n" r"L = \sum Z \odot Z", params=["W", "b"],
                             shapes={"X": ["m", "n"], "W": ["n", "k"], "b": [1, "k"]})
    d = backprop(net, {"X": np.ones((3, 2)), "W": np.ones((2, 2)), "b": [[0.5, -1.0]]})
    assert d.step("b").shape == (1, "k")
    assert d.gradient_value("b").shape == (1, 2)
    np.testing.assert_allclose(d.gradient_value("b"), [[15.0, 6.0]])


def test_nested_list_values_without_shapes_give_a_concrete_matrix_network(tmp_path, capsys):
    spec = tmp_path / "v.toml"
    spec.write_text("forward = '''\nZ = X W + b\nL = \\frac{1}{2}\\|Z - Y\\|^2\n'''\n"
                    'params = ["W", "b"]\n[values]\nX = [[1.0, 2.0], [3.0, 4.0]]\n'
                    'W = [[0.5], [-0.5]]\nb = [0.1]\nY = [[1.0], [0.0]]\n')
    assert main(["derive", str(spec), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nodes"]["Z"]["dims"] == [2, 1]
    # Z = [-0.4, -0.4]; ∂L/∂Z = Z - Y = [-1.4, -0.4]; ∂L/∂b = Σ_rows = -1.8
    assert out["gradients"]["b"]["value"] == pytest.approx([-1.8])
    np.testing.assert_allclose(out["gradients"]["W"]["value"], [[-1.4 - 1.2], [-2.8 - 1.6]])
