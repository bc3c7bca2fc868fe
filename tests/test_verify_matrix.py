r"""Matrix claims: the article's batched formulas, shapes checked first, values at random sizes."""
import pytest



import symbackprop as sb  # noqa: E402
from symbackprop.verification import Verifier  # noqa: E402


@pytest.fixture(scope="module")
def batch():
    from conftest import DERIVATIONS

    return Verifier(sb.load_spec(DERIVATIONS / "seed_matrix.toml"))


def one(verifier, claim):
    (v,) = verifier.verify(claim)
    return v


def test_article_matrix_formulas_verify(batch, derivations):
    report = batch.verify((derivations / "seed_matrix.claims").read_text())
    assert report.ok and len(report) == 6, [(v.claim, v.diagnosis.message) for v in report]
    assert "true in general: entry by entry at 6 random sizes" in report[0].diagnosis.message
    assert all(v.holds == {"given": True, "inputs": True, "general": True} for v in report)


@pytest.mark.parametrize("claim", [
    r"\frac{\partial L}{\partial Z_2} = \frac{2}{m}(A_2 - Y) \odot A_2 \odot (1 - A_2)",
    r"\frac{\partial L}{\partial Z_2} = \frac{2}{m}\,\sigma'(Z_2) \odot \left(A_2 - Y\right)",
    r"\frac{\partial L}{\partial W_2} = A_1^T \frac{\partial L}{\partial Z_2}",
    r"\frac{\partial L}{\partial W_2} = A_1^{\mathsf T} \frac{\partial L}{\partial Z_2}",
    r"\frac{\partial L}{\partial b_1} = \sum_i \frac{\partial L}{\partial Z_1}",
    r"\frac{\partial L}{\partial W_1} = X^\top \left(\frac{\partial L}{\partial Z_2} W_2^\top \odot \sigma'(Z_1)\right)",
    r"\frac{\partial L}{\partial X} = \frac{\partial L}{\partial Z_1} W_1^\top",
    r"Z_1 = X W_1 + b_1",
])
def test_right_matrix_claims(batch, claim):
    v = one(batch, claim)
    assert v.correct, v.diagnosis.message


@pytest.mark.parametrize("claim,kind,words", [
    (r"\frac{\partial L}{\partial W_2} = \frac{\partial L}{\partial Z_2}^\top A_1", "transpose",
     ["(∂L/∂W_2)ᵀ", "n_2×n_1", "n_1×n_2"]),
    (r"\frac{\partial L}{\partial W_2} = A_1 \frac{\partial L}{\partial Z_2}", "transpose",
     ["a transpose is missing: with A_1ᵀ in place of A_1"]),
    (r"\frac{\partial L}{\partial W_2} = A_1 \frac{\partial L}{\partial Z_2} + W_2", "shape_mismatch",
     ["cannot multiply A_1 (m×n_1) by ∂L/∂Z_2 (m×n_2)"]),
    (r"\frac{\partial L}{\partial A_1} = W_2^\top \frac{\partial L}{\partial Z_2}", "shape_mismatch",
     ["cannot multiply"]),
    (r"\frac{\partial L}{\partial b_2} = \frac{\partial L}{\partial Z_2}", "shape_mismatch",
     ["m×n_2", "shape of b_2, n_2", "summed over the rows"]),
    (r"\frac{\partial L}{\partial W_2} = A_1^\top \frac{\partial L}{\partial Z_2} \qquad \in \mathbb{R}^{n_2 \times n_1}",
     "shape_mismatch", ["the shape written, n_2×n_1"]),
    (r"\frac{\partial L}{\partial Z_2} = (A_2 - Y) \odot \sigma'(Z_2)", "constant_factor", ["m/2"]),
    (r"\frac{\partial L}{\partial Z_2} = \frac{1}{m}(A_2 - Y) \odot \sigma'(Z_2)", "constant_factor", ["1/2"]),
    (r"\frac{\partial L}{\partial Z_2} = \frac{2}{m}(A_2 - Y)", "missing_factor", ["σ′(Z_2) = ∂A_2/∂Z_2"]),
    (r"\frac{\partial L}{\partial Z_2} = \frac{2}{m}(Y - A_2) \odot \sigma'(Z_2)", "sign", ["wrong sign"]),
    (r"\frac{\partial L}{\partial Z_1} = \frac{\partial L}{\partial A_1} \odot \sigma(Z_1)", "other",
     ["not equal", "entry"]),
])
def test_matrix_mistakes(batch, claim, kind, words):
    v = one(batch, claim)
    assert v.verdict == "incorrect" and v.diagnosis.kind == kind, v.diagnosis.message
    for w in words:
        assert w in v.diagnosis.message, (w, v.diagnosis.message)


def test_right_at_one_size_by_accident(batch):
    """2/4 is 2/m for the spec's batch of 4 only: right at the given values, and other sizes tell."""
    assert len(batch.truth.values["X"]) == 4
    claim = r"\frac{\partial L}{\partial Z_2} = \frac{2}{4}(A_2 - Y) \odot \sigma'(Z_2)"
    v = one(batch, claim)
    assert v.correct and v.holds == {"given": True, "inputs": True, "general": False}
    (v,) = sb.verify(batch.truth.network, claim, values=batch.truth.values, reading="general")
    assert v.diagnosis.kind == "constant_factor" and "factor m/4" in v.diagnosis.message, v.diagnosis.message
    assert v.diagnosis.message.startswith("true at the given values, but not in general: ")


@pytest.mark.parametrize("claim,words", [
    (r"\frac{\partial A_1}{\partial Z_1} = \sigma'(Z_1)", ["gradient of the loss"]),
    (r"\frac{\partial L}{\partial Q} = X", ["unknown name 'Q'", "X, W_1, b_1"]),
    (r"\frac{\partial L}{\partial W_1} = X^\top (", ["column 42"]),
])
def test_matrix_errors(batch, claim, words):
    v = one(batch, claim)
    assert v.verdict == "error"
    for w in words:
        assert w in v.diagnosis.message


SOFTMAX = r"""
forward = '''
Z = X W + b
P = \operatorname{softmax}(Z)
L = -\frac{1}{m} \sum Y \odot \ln P
'''
params = ["W", "b"]
[shapes]
X = ["m", "n"]
W = ["n", "k"]
b = ["k"]
Y = ["m", "k"]
[values]
X = [[1.0, 2.0], [0.5, -1.0], [0.0, 1.0]]
W = [[0.1, 0.2, -0.3], [0.4, 0.0, 0.2]]
b = [0.0, 0.1, 0.0]
Y = [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
"""


def test_softmax_cross_entropy_with_one_hot_targets(tmp_path):
    """(P − Y)/m holds for one-hot rows of Y: the random targets stay one-hot."""
    spec = tmp_path / "softmax.toml"
    spec.write_text(SOFTMAX)
    v = Verifier(sb.load_spec(spec))
    assert one(v, r"\frac{\partial L}{\partial Z} = \frac{1}{m}(P - Y)").correct
    assert one(v, r"\frac{\partial L}{\partial W} = \frac{1}{m} X^\top (P - Y)").correct
    assert one(v, r"\frac{\partial L}{\partial Z} = P - Y").diagnosis.kind == "constant_factor"


def test_matrix_cli(derivations, capsys):
    from symbackprop.cli import main

    code = main(["verify", str(derivations / "seed_matrix.toml"), "--claims", str(derivations / "seed_matrix.claims")])
    assert code == 0 and "All 6 claims are correct." in capsys.readouterr().out
    code = main(["verify", str(derivations / "seed_matrix.toml"), "--format", "json", "--claim",
                 r"\frac{\partial L}{\partial W_2} = A_1 \frac{\partial L}{\partial Z_2}"])
    assert code == 1 and '"transpose"' in capsys.readouterr().out
