r"""The one judge: readings, numbers, shapes, targets and diagnoses, scalar and matrix alike.

Each test states what a grader would say of a claim; the truth comes from the
derivation, never from these files.
"""
import numpy as np
import pytest

import symbackprop as sb
from symbackprop.reader.forward import network_from_latex
from symbackprop.spec import spec_from_toml
from symbackprop.verification import Verifier


def one(target, claim, **kw):
    (v,) = sb.verify(target, claim, **kw)
    return v


# ---- Ng's computation graph: integers are numbers ------------------------------
NG = spec_from_toml(r"""
forward = '''
u = b c
v = a + u
J = 3 v
'''
params = ["a", "b", "c"]
[values]
a = 5
b = 3
c = 2
""")


@pytest.mark.parametrize("claim", [r"\frac{dJ}{db} = 6", "dJ/db = 6.0", "db = 6", r"dJ/db = 3 \times 2",
                                   r"\frac{\partial J}{\partial c} = 3 \cdot 3", "dc = 9"])
def test_integer_answers_are_numbers(claim):
    v = one(NG, claim)
    assert v.correct, v.diagnosis.message
    assert v.holds["given"] and v.holds["general"] is False  # 6 is true here, not for any a, b, c
    assert one(NG, "dJ/da = 3").holds == {"given": True, "inputs": True, "general": True}


def test_a_wrong_integer_is_a_value_with_a_plain_message():
    v = one(NG, "dJ/db = 5")
    assert v.diagnosis.kind == "value" and v.diagnosis.message == "wrong value: ∂J/∂b = 6, not 5"
    v = one(NG, r"\frac{\partial J}{\partial b} = 5(-3) + 1(1)")
    assert v.diagnosis.kind == "value" and "-14" in v.diagnosis.message and "= 6" in v.diagnosis.message


def test_messages_name_the_networks_own_loss():
    for claim in ("dJ/db = -6", "dJ/db = 3b", "dJ/db = 2c"):
        v = one(NG, claim)
        assert not v.correct and "∂J/∂b" in v.diagnosis.message or "∂u/∂" in v.diagnosis.message
        assert "∂L" not in v.diagnosis.message and "()" not in v.diagnosis.message
        assert "  " not in v.diagnosis.message


# ---- the three readings --------------------------------------------------------
NIELSEN = network_from_latex(r"""z = w x + b
a = \sigma(z)
C = \frac{(y - a)^2}{2}""", params=["w", "b"])


def test_nielsen_substituted_form_holds_for_his_inputs_only():
    """Nielsen takes x = 1, y = 0, so ∂C/∂w = (a − y)σ'(z)x becomes aσ'(z)."""
    values = {"w": 0.6, "b": 0.9, "x": 1.0, "y": 0.0}
    v = one(NIELSEN, r"\frac{\partial C}{\partial w} = a \sigma'(z)", values=values)
    assert v.correct and v.holds == {"given": True, "inputs": True, "general": False}
    assert "true for these inputs (x, y)" in v.diagnosis.message
    strict = one(NIELSEN, r"\frac{\partial C}{\partial w} = a \sigma'(z)", values=values, reading="general")
    assert not strict.correct and strict.diagnosis.message.startswith("true at the given values, but not in general")
    assert one(NIELSEN, r"\frac{\partial C}{\partial w} = (a - y)\sigma'(z) x", values=values,
               reading="general").correct


def test_a_formula_right_at_the_given_values_only():
    values = {"w": 0.6, "b": 0.9, "x": 1.0, "y": 0.0}
    v = one(NIELSEN, r"\frac{\partial C}{\partial w} = (a - y)\sigma'(z)", values=values)
    assert v.correct and v.holds == {"given": True, "inputs": True, "general": False}  # x = 1 dropped
    v = one(NIELSEN, r"\frac{\partial C}{\partial w} = (a - y) a (1 - a) w^2 x", values={**values, "w": 1.0})
    assert v.correct and v.holds == {"given": True, "inputs": False, "general": False}  # w = 1 here
    assert "true at the given values (not for other values of the parameters)" in v.diagnosis.message
    v = one(NIELSEN, r"\frac{\partial C}{\partial w} = (a - y) a (1 - a) w^2 x", values={**values, "w": 1.0},
            reading="inputs")
    assert not v.correct and v.diagnosis.message.startswith(
        "true at the given values, but not for other values of the parameters: ")


def test_without_values_the_verdict_is_general():
    v = one(NIELSEN, r"\frac{\partial C}{\partial w} = (a - y)\sigma'(z)")
    assert not v.correct and v.holds["given"] is None and v.holds["general"] is False
    assert v.diagnosis.kind == "missing_factor" and "x = ∂z/∂w" in v.diagnosis.message


SOFTMAX = spec_from_toml(r"""
forward = '''
p_1 = \frac{e^{z_1}}{e^{z_1} + e^{z_2} + e^{z_3}}
p_2 = \frac{e^{z_2}}{e^{z_1} + e^{z_2} + e^{z_3}}
p_3 = \frac{e^{z_3}}{e^{z_1} + e^{z_2} + e^{z_3}}
L = -(y_1 \ln p_1 + y_2 \ln p_2 + y_3 \ln p_3)
'''
params = ["z_1", "z_2", "z_3"]
[values]
z_1 = 2.0
z_2 = 1.0
z_3 = 0.1
y_1 = 1
y_2 = 0
y_3 = 0
""")


@pytest.mark.parametrize("i", [1, 2, 3])
def test_one_hot_softmax_cross_entropy(i):
    v = one(SOFTMAX, rf"\frac{{\partial L}}{{\partial z_{i}}} = p_{i} - y_{i}")
    assert v.correct and v.holds["given"] and v.holds["inputs"] and v.holds["general"] is False


def test_one_hot_softmax_numbers():
    d = sb.derive(SOFTMAX)
    p1 = float(d.value("p_1"))
    assert one(SOFTMAX, rf"\frac{{\partial L}}{{\partial z_1}} = {p1 - 1:.3f}").correct
    v = one(SOFTMAX, rf"\frac{{\partial L}}{{\partial z_1}} = {p1:.3f}")  # p_1, the −y_1 forgotten
    assert v.diagnosis.kind == "missing_term" and "-y_1" in v.diagnosis.message
    assert one(SOFTMAX, rf"\frac{{\partial L}}{{\partial z_1}} = {p1 - 0.77:.3f}").diagnosis.kind == "value"


# ---- targets: total and local, spellings ----------------------------------------
RESIDUAL = network_from_latex(r"""z = w_1 x
a = \mathrm{ReLU}(z)
F = w_2 a
y = F + x
E = \frac{1}{2}(y - t)^2""", params=["w_1", "w_2", "x"])
RESIDUAL_VALUES = {"x": 1.5, "w_1": 0.8, "w_2": -0.5, "t": 2.0}


def test_total_or_local_derivative_decided_by_what_holds():
    v = one(RESIDUAL, r"\frac{\partial y}{\partial x} = 1 + \frac{\partial F}{\partial x}", values=RESIDUAL_VALUES)
    assert v.correct and v.meant == "total" and "total derivative" in v.diagnosis.message
    v = one(RESIDUAL, r"\frac{\partial y}{\partial x} = 1", values=RESIDUAL_VALUES)
    assert v.correct and v.meant == "local"
    v = one(RESIDUAL, r"\frac{\partial E}{\partial x} = \frac{\partial E}{\partial y}\left(1 + "
                      r"\frac{\partial F}{\partial x}\right)", values=RESIDUAL_VALUES)
    assert v.correct and v.holds["general"]


def test_a_forgotten_skip_path_and_one_flipped_term():
    v = one(RESIDUAL, r"\frac{\partial E}{\partial x} = \frac{\partial E}{\partial y}\frac{\partial F}{\partial x}",
            values=RESIDUAL_VALUES)
    assert v.diagnosis.kind == "missing_term" and "through y" in v.diagnosis.message


BATCH = sb.load_spec("derivations/seed_matrix.toml")


@pytest.mark.parametrize("claim", [
    r"dW_2 = \frac{1}{m} A_1^\top dZ_2",
    r"\nabla_{W_2} L = A_1^\top \frac{\partial L}{\partial Z_2}",
    r"\nabla_{W_2} = A_1^\top \nabla_{Z_2} L",
    r"\delta_2 = \frac{2}{m}(A_2 - Y) \odot \sigma'(Z_2)",
    r"db_2 = \frac{1}{m}\sum_{i=1}^{m} dZ_2",
    r"dZ_2 = 2(A_2 - Y) \odot \sigma'(Z_2)",
])
def test_gradient_spellings(claim):
    v = one(BATCH, claim)
    assert v.correct, v.diagnosis.message


def test_ng_dz_is_summed_over_the_examples():
    """Ng's convention: with J a mean over m examples, dZ = m·∂J/∂Z, dW = ∂J/∂W (so dW = (1/m) dZ Aᵀ)."""
    v = one(BATCH, r"dZ_2 = \frac{2}{m}(A_2 - Y) \odot \sigma'(Z_2)")
    assert not v.correct and v.target == "m·∂L/∂Z_2" and v.diagnosis.kind == "constant_factor"
    assert one(BATCH, r"\frac{\partial L}{\partial Z_2} = \frac{2}{m}(A_2 - Y) \odot \sigma'(Z_2)").correct
    v = one(BATCH, r"dW_2 = A_1^\top dZ_2")  # the 1/m dropped
    assert v.diagnosis.kind == "constant_factor" and "m" in v.diagnosis.message


def test_ng_column_layout_sums_over_the_columns():
    """Examples are columns (X is n_x × m): db = (1/m) Σ_i dZ sums axis 1 and keeps a column."""
    spec = sb.load_spec("tests/sources/ng_regularization_backward_matrix.toml")
    for claim in (r"db_3 = \frac{1}{m}\sum_{i=1}^{m} dZ_3", r"db_3 = \sum_{i=1}^{m} \frac{\partial J}{\partial Z_3}",
                  r"db_3 = \frac{1}{m} np.sum(dZ_3, axis=1, keepdims=True)"):
        v = one(spec, claim)
        assert v.correct, v.diagnosis.message
    v = one(spec, r"db_1 = dZ_1")
    assert v.diagnosis.kind == "shape_mismatch" and "columns" in v.diagnosis.message


# ---- shapes and numeric matrices --------------------------------------------------
def test_a_number_equals_a_1x1_matrix():
    spec = sb.load_spec("tests/sources/ng_regularization_backward_matrix.toml")
    d = sb.derive(spec)
    db3 = float(np.ravel(d.gradient_value("b_3"))[0])
    assert np.shape(d.gradient_value("b_3")) == (1, 1)
    assert one(spec, rf"db_3 = {db3:.4f}").correct
    assert one(spec, rf"db_3 = [[{db3:.4f}]]").correct


def test_numeric_matrices_entry_by_entry_to_the_precision_written():
    g = np.asarray(sb.derive(BATCH).gradient_value("W_1"))
    rows = r" \\ ".join(" & ".join(f"{x:.3f}" for x in r) for r in g)
    v = one(BATCH, rf"\frac{{\partial L}}{{\partial W_1}} = \begin{{bmatrix}} {rows} \end{{bmatrix}}")
    assert v.correct and v.method == "precision" and f"all {g.size} entries" in v.diagnosis.message
    nested = "[" + ", ".join("[" + ", ".join(f"{x:.3f}" for x in r) + "]" for r in g) + "]"
    assert one(BATCH, rf"\frac{{\partial L}}{{\partial W_1}} = {nested}").correct
    wrong = g.copy()
    wrong[1, 0] += 0.1
    nested = "[" + ", ".join("[" + ", ".join(f"{x:.3f}" for x in r) + "]" for r in wrong) + "]"
    v = one(BATCH, rf"\frac{{\partial L}}{{\partial W_1}} = {nested}")
    assert v.diagnosis.kind == "value" and "entry [2, 1]" in v.diagnosis.message
    v = one(BATCH, r"\frac{\partial L}{\partial W_1} = [[1, 2], [3]]")
    assert v.verdict == "error" and "same length" in v.diagnosis.message


def test_a_bmatrix_over_several_lines_of_a_claims_file():
    g = np.asarray(sb.derive(BATCH).gradient_value("b_2"))
    text = "% the bias\n\\frac{\\partial L}{\\partial b_2} = \\begin{bmatrix}\n" + \
        " & ".join(f"{x:.4f}" for x in np.ravel(g)) + "\n\\end{bmatrix}\n"
    from symbackprop.verification import read_claims

    claims = read_claims(text, numbered=True)
    assert len(claims) == 1 and claims[0].line == 2
    assert Verifier(BATCH).check(claims[0]).correct


SQUARE = spec_from_toml(r"""
forward = '''
Z = X W
A = \tanh(Z)
L = \frac{1}{2}\|A - Y\|^2
'''
params = ["W"]
[shapes]
X = ["m", "n"]
W = ["n", "n"]
Y = ["m", "n"]
[values]
X = [[1.0, 2.0], [0.5, -1.0], [0.3, 0.2]]
W = [[0.1, 0.2], [-0.3, 0.4]]
Y = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
""")


@pytest.mark.parametrize("claim,kind,words", [
    (r"\frac{\partial L}{\partial W} = \frac{\partial L}{\partial Z}^\top X", "transpose", ["transposed", "n×n"]),
    (r"\frac{\partial L}{\partial Z} = (A - Y) \odot \sigma'(Z)", "wrong_factor", ["σ′(Z)", "tanh′(Z) = ∂A/∂Z"]),
    (r"\frac{\partial L}{\partial Z} = (A - Y) \odot A \odot (1 - A)", "wrong_factor", ["A ⊙ (1 - A)", "tanh′(Z)"]),
    (r"\frac{\partial L}{\partial Z} = \frac{1}{m}(A - Y) \odot (1 - A \odot A)", "constant_factor", ["1/m"]),
    (r"\frac{\partial L}{\partial Z} = (A - Y)", "missing_factor", ["tanh′(Z)"]),
])
def test_matrix_diagnoses(claim, kind, words):
    v = one(SQUARE, claim)
    assert v.diagnosis.kind == kind, v.diagnosis.message
    for w in words:
        assert w in v.diagnosis.message, (w, v.diagnosis.message)


@pytest.mark.parametrize("spec,claim,kind,words", [
    ("tests/sources/d2l_backprop_l2_matrix.toml",
     r"\frac{\partial J}{\partial W_2} = \frac{\partial J}{\partial o} h^\top", "missing_term", ["through s"]),
    ("tests/sources/d2l_backprop_l2_matrix.toml",
     r"\frac{\partial J}{\partial W_2} = \frac{\partial J}{\partial o} h^\top - \lambda W_2", "sign", ["through s"]),
    ("tests/sources/he_residual_block_matrix.toml",
     r"\frac{\partial E}{\partial x} = W_1^\top \frac{\partial E}{\partial z}", "missing_term", ["through y"]),
    ("tests/sources/kratzert_batchnorm_matrix.toml",
     r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial xmu}", "missing_term", ["through mu"]),
])
def test_forgotten_paths_in_matrix_form(spec, claim, kind, words):
    v = one(sb.load_spec(spec), claim)
    assert v.diagnosis.kind == kind, v.diagnosis.message
    for w in words:
        assert w in v.diagnosis.message


def test_scalar_lookalike_derivatives():
    net = network_from_latex(r"""z_1 = w_1 x
a_1 = \tanh(z_1)
z_2 = w_2 a_1
a_2 = \sigma(z_2)
L = \frac{1}{2}(a_2 - y)^2""", params=["w_1", "w_2"])
    values = {"w_1": 0.5, "x": 1.5, "w_2": -0.8, "y": 1.0}
    v = one(net, r"\frac{\partial L}{\partial z_1} = \frac{\partial L}{\partial a_1}\sigma'(z_1)", values=values)
    assert v.diagnosis.kind == "wrong_factor" and "σ′(z_1) where" in v.diagnosis.message
    assert "= ∂a_1/∂z_1" in v.diagnosis.message
    v = one(net, r"\frac{\partial L}{\partial z_2} = (a_2 - y)(1 - a_2^2)", values=values)
    assert v.diagnosis.kind == "wrong_factor"


def test_holds_and_meant_in_json():
    data = Verifier(NG).verify(["dJ/db = 6", "dJ/db = 3c"]).to_json()
    assert data["schema_version"] == 1
    assert [c["holds"] for c in data["claims"]] == [
        {"given": True, "inputs": False, "general": False}, {"given": True, "inputs": True, "general": True}]
