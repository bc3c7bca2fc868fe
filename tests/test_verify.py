r"""Checking hand derivations: right claims in the many ways people write them, and each
kind of mistake diagnosed; the article's own seven steps; an independent numeric truth."""
import json

import pytest

import symbackprop as sb
from symbackprop.printing.sympy import partial_latex, sympy_latex as to_latex
from symbackprop.verification import KINDS, Verifier, read_claims

from helpers import central_difference


@pytest.fixture(scope="module")
def article(request):
    from conftest import DERIVATIONS

    return Verifier(sb.load_spec(DERIVATIONS / "seed_scalar.toml"))


def one(verifier, claim):
    report = verifier.verify(claim)
    assert len(report) == 1, [v.claim for v in report]
    return report[0]


# ---- the article's network: right, written many ways -----------------------
RIGHT = [
    # the loss by a_2, and the forms of the sigmoid's derivative
    r"\frac{\partial L}{\partial a_2} = 2(a_2 - y)",
    r"\frac{\partial L}{\partial a_2} = -2(y - a_2)",
    r"\frac{\partial L}{\partial a_2} = \frac{\partial}{\partial a_2}(a_2 - y)^2",
    r"\frac{\partial a_2}{\partial z_2} = a_2(1 - a_2)",
    r"\frac{\partial a_2}{\partial z_2} = (1 - a_2)\, a_2",
    r"\frac{\partial a_2}{\partial z_2} = \sigma'(z_2)",
    r"\frac{\partial a_2}{\partial z_2} = \sigma(z_2)\left(1-\sigma(z_2)\right)",
    r"\frac{\partial a_2}{\partial z_2} = a_2 - a_2^2",
    r"\frac{\partial a_2}{\partial z_2} = \frac{e^{-z_2}}{(1 + e^{-z_2})^2}",
    # chain-rule steps, in any order, with adjoints or written out
    r"\frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2} \cdot \frac{\partial a_2}{\partial z_2}",
    r"\frac{\partial L}{\partial z_2} = \frac{\partial a_2}{\partial z_2}\frac{\partial L}{\partial a_2}",
    r"\frac{\partial L}{\partial z_2} = 2(a_2-y)\,a_2(1-a_2)",
    r"\frac{\partial L}{\partial z_2} = 2\left(\sigma(z_2) - y\right) \sigma'(z_2)",
    r"\frac{\partial L}{\partial z_2} = 2 (a_2 - y) \cdot \sigma(z_2) \cdot (1 - \sigma(z_2))",
    r"\frac{\partial L}{\partial w_2} = \frac{\partial L}{\partial z_2} a_1",
    r"\frac{\partial L}{\partial w_2} = a_1 \cdot \frac{\partial L}{\partial z_2}",
    r"\frac{\partial L}{\partial w_2} = 2(a_2 - y) a_2 (1 - a_2) \sigma(z_1)",
    r"\frac{\partial L}{\partial b} = \frac{\partial L}{\partial z_2}",
    r"\frac{\partial L}{\partial b} = \frac{\partial L}{\partial z_2} \cdot 1",
    r"\frac{\partial L}{\partial a_1} = w_2 \frac{\partial L}{\partial z_2}",
    r"\frac{\partial L}{\partial z_1} = \frac{\partial L}{\partial a_1} a_1 (1 - a_1)",
    r"\frac{\partial L}{\partial z_1} = \frac{\partial L}{\partial z_2} w_2 \sigma'(z_1)",
    r"\frac{\partial L}{\partial w_1} = \frac{\partial L}{\partial z_1} x",
    r"\frac{\partial L}{\partial w_1} = 2(a_2 - y)\,a_2(1-a_2)\,w_2\,a_1(1-a_1)\,x",
    r"\frac{\partial L}{\partial w_1} = x \cdot a_1 (1 - a_1) \cdot w_2 \cdot a_2(1 - a_2) \cdot 2 (a_2 - y)",
    r"\frac{\partial L}{\partial w_1} = 2\left(\sigma(w_2\sigma(w_1 x) + b) - y\right)\sigma'(z_2)\,w_2\,\sigma'(w_1 x)\,x",
    # the four ways of writing the target
    r"\partial L / \partial w_1 = \frac{\partial L}{\partial z_1} x",
    r"\frac{dL}{dw_1} = \frac{\partial L}{\partial z_1} x",
    r"dL/dw_1 = \frac{\partial L}{\partial z_1} x",
    r"\frac{\mathrm{d}L}{\mathrm{d}w_1} = \frac{\partial L}{\partial z_1} x",
    r"\dfrac{\partial L}{\partial w_{1}} = \frac{\partial L}{\partial z_{1}} \, x",
    # the gradient by an input, total derivatives and node values
    r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial z_1} w_1",
    r"\frac{\partial a_2}{\partial w_2} = a_2 (1 - a_2) a_1",
    r"\frac{\partial z_2}{\partial b} = 1",
    r"z_2 = w_2 a_1 + b",
    r"a_2 = \frac{1}{1 + e^{-z_2}}",
    # numbers at the spec's values, within the precision written
    r"\frac{\partial L}{\partial w_1} = 0.116",
    r"\frac{\partial L}{\partial w_1} = 0.1165",
    r"\frac{\partial L}{\partial w_1} \approx 0.12",
    r"\frac{\partial L}{\partial w_1} = 1.16 \times 10^{-1}",
    r"\frac{\partial L}{\partial w_2} = -0.217",
    r"\frac{\partial L}{\partial w_2} = −0.217",  # a pasted Unicode minus
    r"\frac{\partial L}{\partial w_2} = -0.216",  # -0.296 × 0.731 carried by hand
    r"\frac{\partial L}{\partial b} = \mathbf{-0.296}",
    r"\frac{\partial L}{\partial a_1} = -0.296 \times (-1.0)",
    r"\frac{\partial L}{\partial z_2} = -1.350 \times 0.219",
    r"\frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2} \cdot 0.219",
    r"L = (0.325 - 1.0)^2 = 0.456",
    r"a_1 = \frac{1}{1 + e^{-1.0}} = \frac{1}{1.368} \approx 0.731",
]


@pytest.mark.parametrize("claim", RIGHT)
def test_right_claims_are_correct(article, claim):
    report = article.verify(claim)
    assert report.verdict == "correct", [(v.claim, v.diagnosis.message) for v in report]
    assert report.exit_code == 0


# ---- each kind of mistake, diagnosed ------------------------------------------
WRONG = [
    # (claim, kind, words the message must contain)
    (r"\frac{\partial L}{\partial z_2} = 2(y - a_2) a_2 (1 - a_2)", "sign", ["wrong sign", "∂L/∂z_2"]),
    (r"\frac{\partial L}{\partial w_2} = -\frac{\partial L}{\partial z_2} a_1", "sign", ["wrong sign"]),
    (r"\frac{\partial L}{\partial a_2} = a_2 - y", "constant_factor", ["constant factor 1/2"]),
    (r"\frac{\partial L}{\partial z_2} = 4(a_2 - y) a_2(1 - a_2)", "constant_factor", ["constant factor 2"]),
    (r"\frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2}", "missing_factor",
     ["missing factor a_2·(1 - a_2) = ∂a_2/∂z_2"]),
    (r"\frac{\partial L}{\partial w_1} = 2(a_2 - y) a_2(1 - a_2) w_2 x", "missing_factor",
     ["missing factor a_1·(1 - a_1) = ∂a_1/∂z_1"]),
    (r"\frac{\partial L}{\partial w_1} = \frac{\partial L}{\partial z_1}", "missing_factor", ["x = ∂z_1/∂w_1"]),
    (r"\frac{\partial L}{\partial z_1} = \frac{\partial L}{\partial z_2} a_1(1 - a_1)", "missing_factor",
     ["w_2 = ∂z_2/∂a_1"]),
    (r"\frac{\partial L}{\partial w_1} = 2(a_2 - y) w_2 x", "missing_factor",
     ["missing factors", "∂a_2/∂z_2", "∂a_1/∂z_1"]),
    (r"\frac{\partial L}{\partial z_1} = \frac{\partial L}{\partial a_1} a_1(1 - a_1) w_2", "extra_factor",
     ["extra factor w_2 = ∂z_2/∂a_1"]),
    (r"\frac{\partial L}{\partial w_2} = \frac{\partial L}{\partial z_2} a_1 \cdot a_1 (1 - a_1)", "extra_factor",
     ["extra factor a_1·(1 - a_1) = ∂a_1/∂z_1"]),
    (r"\frac{\partial L}{\partial w_2} = \frac{\partial L}{\partial z_2} a_1 (1 - a_1)", "wrong_factor",
     ["a_1·(1 - a_1) = ∂a_1/∂z_1 where a_1 = ∂z_2/∂w_2 belongs"]),
    (r"\frac{\partial L}{\partial a_1} = \frac{\partial L}{\partial z_2} a_1", "wrong_factor",
     ["a_1 = ∂z_2/∂w_2", "w_2 = ∂z_2/∂a_1"]),
    (r"\frac{\partial L}{\partial z_2} = (y - a_2) a_2 (1 - a_2)", "constant_factor", ["-1/2"]),
    (r"\frac{\partial a_2}{\partial z_2} = a_2(1 + a_2)", "other", ["not equal", "w_1 = 0.5", "x = 2"]),
    (r"\frac{\partial a_2}{\partial z_2} = \sigma(z_2)", "missing_factor", ["missing factor 1 - a_2", "part of ∂a_2/∂z_2"]),
    (r"\frac{\partial L}{\partial z_2} = 2(a_2 - y)\,\sigma(z_2)", "missing_factor", ["missing factor 1 - a_2", "part of ∂a_2/∂z_2"]),
    # numbers
    (r"\frac{\partial L}{\partial w_1} = 0.126", "value", ["wrong value", "0.11646", "0.116", "0.126"]),
    (r"\frac{\partial L}{\partial w_1} = 0.117", "rounding", ["rounded wrongly", "rounds to 0.116"]),
    (r"\frac{\partial L}{\partial w_1} = 0.11", "rounding", ["rounds to 0.12"]),
    (r"\frac{\partial L}{\partial w_2} = -0.218", "value", ["wrong value", "-0.217"]),
    (r"\frac{\partial L}{\partial w_1} = -0.116", "sign", ["wrong sign"]),
    (r"\frac{\partial L}{\partial z_2} = -1.350", "missing_factor", ["a_2·(1 - a_2) = ∂a_2/∂z_2 = 0.219"]),
    (r"\frac{\partial L}{\partial w_1} = 0.058", "missing_factor", ["x = ∂z_1/∂w_1"]),
    (r"\frac{\partial L}{\partial b} = -0.592", "constant_factor", ["constant factor 2"]),
    (r"\frac{\partial L}{\partial z_1} = 0.296 \times 0.269", "missing_factor", ["missing factor a_1 = 0.731"]),
    (r"\frac{\partial L}{\partial z_2} = -1.350 \times 0.325", "value", ["wrong value", "-0.43875"]),
]


@pytest.mark.parametrize("claim,kind,words", WRONG)
def test_mistakes_are_diagnosed(article, claim, kind, words):
    v = one(article, claim)
    assert v.verdict == "incorrect"
    assert v.diagnosis.kind == kind, v.diagnosis.message
    for w in words:
        assert w in v.diagnosis.message, (w, v.diagnosis.message)


def test_kinds_are_the_documented_ones(article):
    for claim, kind, _ in WRONG:
        assert kind in KINDS


def test_missing_factor_names_it_in_latex(article):
    d = one(article, r"\frac{\partial L}{\partial w_1} = 2(a_2 - y) a_2(1 - a_2) w_2 x").diagnosis.to_json()
    assert d["factor"] == r"a_{1} \left(1 - a_{1}\right)"
    assert d["local_derivative"] == r"\frac{\partial a_{1}}{\partial z_{1}}"


def test_counterexample_point_and_values(article):
    d = one(article, r"\frac{\partial a_2}{\partial z_2} = a_2(1 + a_2)").diagnosis.details
    assert d["point"] == {"w_1": 0.5, "x": 2.0, "w_2": -1.0, "b": 0.0}  # the spec's values first
    assert d["expected"] == pytest.approx(0.219362, abs=1e-6)
    assert d["claimed"] == pytest.approx(0.324962 * 1.324962, abs=1e-5)


# ---- the article's worked solution ------------------------------------------------
def test_article_claims_file_verifies(article, derivations):
    report = article.verify((derivations / "seed_scalar.claims").read_text())
    assert report.ok, [(v.line, v.claim, v.diagnosis.message) for v in report if not v.correct]
    steps = {v.line for v in report}
    assert len(steps) == 13 and len(report) == 31
    assert {v.method for v in report} == {"numeric", "precision"}


def test_article_with_mistakes_names_the_first_wrong_step(article, derivations):
    report = article.verify((derivations / "seed_scalar_mistakes.claims").read_text())
    first = report.first_wrong
    assert first.line == 10 and first.target == "∂L/∂z_2"
    assert first.diagnosis.kind == "missing_factor"
    assert report.exit_code == 1
    wrong = [(v.line, v.diagnosis.kind) for v in report if not v.correct]
    assert wrong == [(10, "missing_factor"), (11, "missing_factor"), (14, "sign"), (14, "sign"),
                     (15, "constant_factor"), (15, "constant_factor"), (18, "wrong_factor"), (21, "other"),
                     (22, "extra_factor"), (25, "rounding"), (26, "value")]
    assert "First wrong step: line 10 (∂L/∂z_2)." in report.to_text()


def test_mazur_worked_example_verifies(derivations):
    """Mazur's published steps, to his 9 significant digits, and the shared bias's two terms."""
    report = sb.verify(derivations / "mazur_2_2_2.toml", (derivations / "mazur_2_2_2.claims").read_text())
    assert report.ok, [(v.line, v.claim, v.diagnosis.message) for v in report if not v.correct]
    assert len(report) == 22


def test_worked_solution_in_align(article):
    text = r"""
    \begin{aligned}
    \frac{\partial L}{\partial z_2} &= \frac{\partial L}{\partial a_2} \cdot \frac{\partial a_2}{\partial z_2} \\
        &= -1.350 \times 0.219 \\
        &\approx -0.296 \\
    \frac{\partial L}{\partial w_2} &= \frac{\partial L}{\partial z_2} \, a_2 % a slip: a_1 is meant
    \end{aligned}"""
    report = article.verify(text)
    assert [v.verdict for v in report] == ["correct"] * 3 + ["incorrect"]
    assert report.first_wrong.line == 6 and report.first_wrong.diagnosis.kind == "other"


# ---- our own printed derivations read back as claims -----------------------------
@pytest.mark.parametrize("name", ["seed_scalar", "mazur_2_2_2", "micrograd_ops", "cs231n_circuit"])
def test_every_printed_step_verifies(derivations, name):
    """Each backward step, local derivative and closed form as the worked solution prints it."""
    spec = sb.load_spec(derivations / f"{name}.toml")
    d = sb.backprop(spec.network)
    L, names = d.loss, {n: spec.network.node(n).latex for n in spec.network.order}
    claims = []
    for step in d.backward:
        adjoint = d.scalar_form(step.adjoint)
        claims.append(f"{partial_latex(L, step.node, names)} = {to_latex(adjoint, loss=L, names=names)}")
        claims += [f"{partial_latex(t.of, t.wrt, names)} = {to_latex(d.scalar_form(t.local), loss=L, names=names)}"
                   for t in step.terms if t.of != L]
    claims += [f"{partial_latex(L, p, names)} = {to_latex(d.expand(p), loss=L, names=names)}" for p in d.params]
    report = sb.verify(spec, claims)
    assert report.ok, [(v.claim, v.diagnosis.message) for v in report if not v.correct]


@pytest.mark.parametrize("name", ["seed_scalar", "mazur_2_2_2", "micrograd_ops"])
def test_numbers_from_central_differences_are_correct(derivations, name):
    """An independent truth: the gradient by central differences, written to 6 decimals."""
    spec = sb.load_spec(derivations / f"{name}.toml")
    verifier = Verifier(spec)
    loss = spec.network.loss
    for p in spec.network.params:
        g = central_difference(spec.network, spec.values, p)
        v = one(verifier, rf"\frac{{\partial {loss}}}{{\partial {spec.network.node(p).latex}}} = {g:.6f}")
        assert v.correct, (p, g, v.diagnosis.message)
        wrong = one(verifier, rf"\frac{{\partial {loss}}}{{\partial {spec.network.node(p).latex}}} = {g + 0.01:.6f}")
        assert not wrong.correct


# ---- other networks ---------------------------------------------------------------
def test_shared_bias_missing_term(derivations):
    mazur = Verifier(sb.load_spec(derivations / "mazur_2_2_2.toml"))
    ok = one(mazur, r"\frac{\partial E}{\partial b_1} = \frac{\partial E}{\partial z_{h1}} + \frac{\partial E}{\partial z_{h2}}")
    assert ok.correct
    v = one(mazur, r"\frac{\partial E}{\partial b_1} = \frac{\partial E}{\partial z_{h1}}")
    assert v.diagnosis.kind == "missing_term" and "through z_h2" in v.diagnosis.message
    # a term lost further up the chain: h_1 feeds both outputs
    v = one(mazur, r"\frac{\partial E}{\partial w_1} = \frac{\partial E}{\partial z_{o1}} w_5 h_1(1-h_1) i_1")
    assert v.diagnosis.kind == "missing_term" and "∂E/∂h_1" in v.diagnosis.message


RELU_TANH = r"""
z_1 = w_1 x + b_1
h = \operatorname{ReLU}(z_1)
z_2 = w_2 h
a = \tanh(z_2)
L = (a - y)^2
"""


@pytest.fixture(scope="module")
def relu_tanh():
    return Verifier(sb.network_from_latex(RELU_TANH, params=["w_1", "b_1", "w_2"]))


@pytest.mark.parametrize("claim", [
    r"\frac{\partial a}{\partial z_2} = 1 - a^2",
    r"\frac{\partial a}{\partial z_2} = 1 - \tanh^2(z_2)",
    r"\frac{\partial a}{\partial z_2} = \tanh'(z_2)",
    r"\frac{\partial h}{\partial z_1} = \mathbb{1}[z_1 > 0]",
    r"\frac{\partial h}{\partial z_1} = \operatorname{ReLU}'(z_1)",
    r"\frac{\partial L}{\partial w_1} = 2(a - y)(1 - a^2)\, w_2\, \mathbb{1}\left[z_1 > 0\right] x",
])
def test_relu_and_tanh_right(relu_tanh, claim):
    assert one(relu_tanh, claim).correct


def test_missing_relu_derivative_is_found(relu_tanh):
    """Dropping 𝟙[z > 0] changes nothing where z > 0: the points must see both sides."""
    v = one(relu_tanh, r"\frac{\partial L}{\partial w_1} = 2(a - y)(1 - a^2) w_2 x")
    assert v.diagnosis.kind == "missing_factor" and "∂h/∂z_1" in v.diagnosis.message
    v = one(relu_tanh, r"\frac{\partial L}{\partial z_2} = 2(a - y)")
    assert v.diagnosis.kind == "missing_factor" and "1 - a^2 = ∂a/∂z_2" in v.diagnosis.message


def test_numbers_need_values(relu_tanh):
    v = one(relu_tanh, r"\frac{\partial L}{\partial w_1} = 0.5")
    assert v.verdict == "error" and "[values]" in v.diagnosis.message


def test_node_named_e_is_not_eulers_number(derivations):
    micrograd = Verifier(sb.load_spec(derivations / "micrograd_ops.toml"))
    assert one(micrograd, r"\frac{\partial f}{\partial e} = 2e").correct
    assert one(micrograd, r"\frac{\partial g}{\partial a} = 138.8338").correct
    assert one(micrograd, r"\frac{\partial g}{\partial b} = 645.5773").correct


# ---- errors: a message with the position, never an exception ------------------------
ERRORS = [
    (r"\frac{\partial L}{\partial q} = 1", ["unknown name 'q'", "w_1, x, z_1", "column 28"]),
    (r"\frac{\partial L}{\partial w_1} = 2 v_3", ["unknown name 'v_3'", "column 37"]),
    (r"\frac{\partial L}{\partial w_1 = 1", ["unbalanced '{'", "column 18"]),
    (r"\frac{\partial L}{\partial w_1} = 2(a_2 - y", ["unbalanced '('", "column 36"]),
    (r"\frac{\partial L}{\partial w_1} = \sigma(", ["column 41"]),
    (r"\frac{\partial L}{\partial w_1} = \foo(z_1)", ["unknown command", "\\foo", "column 35"]),
    (r"\frac{\partial L}{\partial w_1}", ["needs '='"]),
    (r"= 0.116", ["nothing on the left"]),
    (r"\frac{\partial L}{\partial w_1} = ", ["nothing on the right"]),
    (r"w_1 + 1 = 2", ["left side must be"]),
    (r"\frac{\partial L}{\partial w_1} = __import__('os').system('echo')", ["looks like Python"]),
]


@pytest.mark.parametrize("claim,words", ERRORS)
def test_unreadable_claims_are_errors_with_a_position(article, claim, words):
    report = article.verify(claim)
    assert report.verdict == "error" and report.exit_code == 3
    message = report[0].diagnosis.message
    assert "\n" not in message
    for w in words:
        assert w in message, (w, message)


def test_a_broken_line_does_not_stop_the_rest(article):
    report = article.verify("dL/dw_1 = 0.116\ndL/dw_1 = (0.116\ndL/dw_1 = 0.126")
    assert [v.verdict for v in report] == ["correct", "error", "incorrect"]
    assert report.exit_code == 3 and report.first_wrong.line == 2


# ---- reading claims texts -------------------------------------------------------------
def test_read_claims_chains_align_comments():
    text = r"""% a comment
    $$\frac{\partial L}{\partial b} = \frac{\partial L}{\partial z_2} = -0.296.$$
    \begin{align}
      \frac{\partial L}{\partial Z_2} &= \frac{2}{m}(A_2 - Y) \odot \sigma'(Z_2) \qquad \in \mathbb{R}^{m \times n_2} \\
      \partial L / \partial w &= 3 \% 4 \label{eq:w} \nonumber
    \end{align}"""
    claims = read_claims(text)
    assert [(c.lhs, c.rhs, c.line) for c in claims] == [
        (r"\frac{\partial L}{\partial b}", r"\frac{\partial L}{\partial z_2}", 2),
        (r"\frac{\partial L}{\partial b}", "-0.296", 2),
        (r"\frac{\partial L}{\partial Z_2}", r"\frac{2}{m}(A_2 - Y) \odot \sigma'(Z_2)", 4),
        (r"\partial L / \partial w", r"3 \% 4", 5),
    ]
    assert claims[2].annotation == r"\mathbb{R}^{m \times n_2}"
    for c in claims:  # columns point into the row as written
        assert c.source[c.rhs_col:c.rhs_col + len(c.rhs)] == c.rhs


def test_single_claim_has_no_line_number():
    (c,) = read_claims(r"dL/dw_1 = 0.116")
    assert c.line is None and c.text == "dL/dw_1 = 0.116"


# ---- output ----------------------------------------------------------------------------
def test_json_shape(article):
    report = article.verify(["dL/dw_1 = 0.116", "dL/dw_1 = 0.126", "dL/dq = 1"])
    data = json.loads(json.dumps(report.to_json(), ensure_ascii=False))
    assert [c["verdict"] for c in data["claims"]] == ["correct", "incorrect", "error"]
    for c in data["claims"]:
        assert {"claim", "target", "verdict", "diagnosis"} <= set(c)
        assert {"kind", "message"} <= set(c["diagnosis"])
    assert data["claims"][0]["target"] == "∂L/∂w_1"
    assert data["claims"][2]["diagnosis"]["column"] == 5
    assert data["first_wrong"] == 1 and data["ok"] is False


def test_chinese_messages(derivations):
    zh = Verifier(sb.load_spec(derivations / "seed_scalar.toml"), lang="zh")
    report = zh.verify([r"\frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2}", "dL/dw_1 = 0.117"])
    assert report[0].diagnosis.message == "缺少因子 a_2·(1 - a_2) = ∂a_2/∂z_2"
    assert report[1].diagnosis.message.startswith("舍入错误")
    text = report.to_text()
    assert "错误" in text and "第一个错误步骤：第 1 个等式（∂L/∂z_2）。" in text


def test_verify_accepts_a_network_a_derivation_or_a_path(derivations):
    path = derivations / "seed_scalar.toml"
    spec = sb.load_spec(path)
    d = sb.backprop(spec.network, spec.values)
    for obj in (str(path), path, spec, d):
        assert sb.verify(obj, "dL/dw_1 = 0.116").ok
    assert sb.verify(spec.network, r"dL/dw_1 = \frac{\partial L}{\partial z_1} x").ok


def test_vanishing_gradients_are_still_compared():
    """Deep in a tanh chain gradients are ~1e-10 and less: agreement is relative, not absolute."""
    depth = 12
    lines = ["a_{0} = x"] + [rf"a_{{{i}}} = \tanh(w_{{{i}}} a_{{{i - 1}}} + b_{{{i}}})" for i in range(1, depth + 1)]
    net = sb.network_from_latex("\n".join(lines + [rf"L = (a_{{{depth}}} - y)^2"]),
                                params=[f"w_{i}" for i in range(1, depth + 1)])
    v = Verifier(net)
    right = r"\frac{\partial L}{\partial w_1} = \frac{\partial L}{\partial a_2} (1 - a_2^2) w_2 (1 - a_1^2) x"
    assert one(v, right).correct
    wrong = one(v, r"\frac{\partial L}{\partial w_1} = \frac{\partial L}{\partial a_1} (1 - a_1^2)")
    assert wrong.diagnosis.kind == "wrong_factor" and "∂a_1/∂w_1 belongs" in wrong.diagnosis.message
    assert one(v, r"\frac{\partial L}{\partial w_1} = 0 \cdot x").verdict == "incorrect"


def test_without_a_timer_the_points_decide(article):
    """Off the main thread there is no SIGALRM: no symbolic proof, the same verdicts."""
    import threading

    out = {}
    thread = threading.Thread(target=lambda: out.update(r=article.verify(RIGHT[:12] + [WRONG[4][0]])))
    thread.start()
    thread.join()
    assert [v.verdict for v in out["r"]] == ["correct"] * 12 + ["incorrect"]
    assert {v.method for v in out["r"] if v.correct} == {"numeric"}
    assert out["r"][-1].diagnosis.kind == "missing_factor"


# ---- reader gaps the claims found ---------------------------------------------------------
@pytest.mark.parametrize("text,value", [
    (r"\frac{\partial}{\partial a}(a - y)^2", "2*a - 2*y"),  # the article's step 1
    (r"\frac{d}{da}\left(a - y\right)^2", "2*a - 2*y"),
    (r"\mathbb{1}[a > 0]", "Heaviside(a, 0)"),  # ReLU' as the worked solutions print it
    (r"\mathbb{1}\left[a > y\right]", "Heaviside(a - y, 0)"),
    (r"\mathbb{1}(0 < a)", "Heaviside(a, 0)"),
])
def test_reader_operator_derivative_and_indicator(text, value):
    import sympy as sp

    from symbackprop.reader.latex import parse, tree_to_sympy as to_sympy

    symbols = {n: sp.Symbol(n) for n in ("a", "y")}
    assert str(to_sympy(parse(text, symbols, allow_partial=True), symbols)) == value


@pytest.mark.parametrize("text,words", [
    (r"\frac 0.5", ["ambiguous"]),
    (r"\mathbb{R}", ["\\mathbb{1}[x > 0]"]),
    (r"\mathbb{1}[a]", ["expected '>' or '<'"]),
    (r"a > 0", ["unexpected '>'"]),
    (r"\frac{\partial}{\partial a}", ["needs an expression to differentiate"]),
])
def test_reader_refuses_with_a_position(text, words):
    from symbackprop.reader.latex import parse

    with pytest.raises(sb.LatexSyntaxError) as e:
        parse(text, {"a"}, allow_partial=True)
    assert "column" in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_operator_derivative_needs_partials_allowed():
    from symbackprop.reader.latex import parse

    with pytest.raises(sb.LatexSyntaxError, match="not allowed"):
        parse(r"\frac{\partial}{\partial a} a^2", {"a"})
    # in a spec, \frac{d}{2} with an undeclared d is still d / 2
    assert str(parse(r"\frac{d}{2}", {"x"})).startswith("BinOp(op='/'")


def test_a_leaf_by_another_leaf_is_zero(article):
    """colah's forward-mode figure: a does not depend on b, so ∂a/∂b = 0 (and ∂a/∂a = 1)."""
    assert article.verify(r"\frac{\partial x}{\partial w_1} = 0")[0].correct
    assert article.verify(r"\frac{\partial x}{\partial x} = 1")[0].correct
    assert not article.verify(r"\frac{\partial x}{\partial w_1} = 1")[0].correct


def test_numpy_spellings_are_read(article):
    """NumPy as slides write it: ** is a power, 1. a number, * the elementwise product."""
    v = article.verify(r"\frac{\partial L}{\partial w_1} = 2**3")[0]
    assert v.verdict == "incorrect" and v.diagnosis.kind == "value"
    assert article.verify(r"dL/da_2 = 2. * (a_2 - y)")[0].correct
    assert article.verify(r"dL/da_2 = 2 * (a_2**2 - y*a_2) / a_2")[0].correct
