r"""Names as the sources write them, declared activations, and the specs of tests/sources/names/.

The reader's rules for names (README, "Spec files"), each with the readings it refuses to guess
between: ``\text{apple\_price}`` and ``apple_price``; Chinese names; ``\mathcal{L}``; Greek letters,
also as Unicode; hats, bars, tildes and primes; labels (``y^{target}``); layer indices
(``w^{(2)}``, ``W^{[1]}``, Ng's ``W^{[2]T}``, ``A^{[1]2}``); ``\sigma_B^2`` as a name; a declared
activation (``activations = { phi = "relu" }``). Canonical spellings round-trip through
``canonical_name``, ``[values]``/``params`` keys and ``latex_name``.

Each spec in ``tests/sources/names/`` is written as its source writes the network (its header
names the source and the numbers it publishes); the published numbers are pinned here, and every
spec exports a working module and passes ``symbackprop check``.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sb
from symbackprop.cli import main
from symbackprop.codegen.printer import python_identifier
from symbackprop.errors import LatexSyntaxError, SymbackpropError
from symbackprop.reader.latex import (
    BinOp, Call, Name, Num, Pow, Transpose, canonical_name, declared_functions, latex_name, parse,
    parse_name,
)
from symbackprop.spec import spec_from_toml

from helpers import import_file

NAMES = Path(__file__).resolve().parent / "sources" / "names"
SPECS = sorted(NAMES.glob("*.toml"))


def N(canonical: str) -> Name:
    return Name(canonical, canonical)


def refused(text: str, known=(), **kw) -> LatexSyntaxError:
    with pytest.raises(LatexSyntaxError) as info:
        parse(text, known, **kw)
    return info.value


def spec(forward: str, extra: str = "") -> sb.Spec:
    return spec_from_toml(f"forward = '''\n{forward}\n'''\n{extra}")


def spec_error(forward: str, extra: str = "") -> str:
    with pytest.raises(SymbackpropError) as info:
        spec(forward, extra)
    return str(info.value)


# ---- canonical spellings ---------------------------------------------------------------------
@pytest.mark.parametrize("written, canonical", [
    (r"\text{apple\_price}", "apple_price"), (r"\mathrm{apple\_price}", "apple_price"),
    (r"\operatorname{apple\_price}", "apple_price"), ("apple_price", "apple_price"),
    (r"\mathrm{apple_num}", "apple_num"), (r"apple_{num}", "apple_num"),
    ("苹果", "苹果"), ("苹果的个数", "苹果的个数"), (r"\text{苹果}", "苹果"), ("りんご_1", "りんご_1"),
    (r"\mathcal{L}", r"\mathcal{L}"), (r"\mathcal{L}_{CE}", r"\mathcal{L}_CE"),
    ("μ_B", r"\mu_B"), ("σ", r"\sigma"), ("ε", r"\epsilon"), ("φ", r"\phi"), ("ℓ", r"\ell"),
    (r"\hat{y}", r"\hat{y}"), ("ŷ", r"\hat{y}"), ("x̂_1", r"\hat{x}_1"), (r"\hat{X}", r"\hat{X}"),
    (r"\bar{x}", r"\bar{x}"), (r"\tilde{z}", r"\tilde{z}"), (r"\hat{y_1}", r"\hat{y}_1"),
    ("y'", "y'"), ("y''", "y''"), (r"x^{\prime}", "x'"), ("y′", "y'"), (r"\hat{y}'_1", r"\hat{y}'_1"),
    (r"\hat{y}_1'", r"\hat{y}'_1"),
    (r"y^{target}", "y^target"), (r"y_1^{target}", "y_1^target"), (r"y^{\text{pred}}_2", "y_2^pred"),
    (r"y^{\mathrm{true}}", "y^true"), ("y^target", "y^target"),
    (r"w^{(2)}", "w^(2)"), (r"a_1^{(1)}", "a_1^(1)"), (r"a^{(1)}_1", "a_1^(1)"), (r"W^{[2]}", "W^[2]"),
    (r"a^{[2](i)}", "a^[2](i)"), ("a^[2](i)", "a^[2](i)"),
    (r"\sigma_B^2", r"\sigma_B^2"), (r"\sigma^2_B", r"\sigma_B^2"), (r"\sigma^{2}_{B}", r"\sigma_B^2"),
    (r"\sigma^2_\mathcal{B}", r"\sigma_\mathcal{B}^2"), ("σ_B²", r"\sigma_B^2"), (r"\sigma^2", r"\sigma^2"),
    (r"z^l_j", "z_j^l"), (r"w^2_{11}", "w_11^2"),
    ("x_ij", "x_ij"), ("w_12", "w_12"), ("n_in", "n_in"), ("dZ_2", "dZ_2"), ("loss", "loss"),
])
def test_canonical_spelling(written, canonical):
    assert canonical_name(written) == canonical


@pytest.mark.parametrize("canonical", [
    "apple_price", "apple_num_total", "苹果", "苹果的个数", "苹果_1", r"\mathcal{L}", r"\mu_B",
    r"\mu_\mathcal{B}", r"\sigma_\mathcal{B}^2", r"\hat{y}", r"\hat{y}'_1", "y'", "y^target",
    "y_1^target", "w^(2)", "W^[1]", "a_1^[2]", "a^[2](i)", r"\sigma_B^2", r"\sigma^2", "z_j^l",
    "w_11^2", "x_ij", "w_12", "w_1,2", "n_in", "dZ_2", "loss", "J_ce", r"\epsilon", "loss_1",
])
def test_canonical_latex_canonical_round_trip(canonical):
    latex = latex_name(canonical)
    assert canonical_name(latex) == canonical, latex
    assert canonical_name(canonical) == canonical
    ident = python_identifier(canonical)
    assert ident.isidentifier(), ident


@pytest.mark.parametrize("canonical, latex", [
    ("apple_price", r"\mathrm{apple\_price}"), ("苹果", r"\text{苹果}"), ("苹果_1", r"\text{苹果}_{1}"),
    ("y^target", r"{y^{\mathrm{target}}}"), ("y_1^target", r"{y_{1}^{\mathrm{target}}}"),
    (r"\sigma_B^2", r"{\sigma_{B}^{2}}"), ("y'", "y'"), (r"\hat{y}'_1", r"\hat{y}'_{1}"),
    ("a^[2](i)", "{a^{[2](i)}}"), ("W^[1]", "{W^{[1]}}"), ("dZ_2", r"\mathrm{dZ}_{2}"), ("n_in", "n_{in}"),
])
def test_latex_name(canonical, latex):
    assert latex_name(canonical) == latex


def test_the_issues_refused_notation_now_reads():
    assert parse(r"a_1^{(1)} + a^{[1]} + W^{[2]}") == BinOp(
        "+", BinOp("+", N("a_1^(1)"), N("a^[1]")), N("W^[2]"))
    # y_1^{target} read t·a·r·g·e·t as a power ("no value given for leaf r"): a label now
    assert parse(r"(a - y_1^{target})^2") == Pow(BinOp("-", N("a"), N("y_1^target")), Num("2"))
    assert parse(r"\text{apple\_price} \times \text{tax}") == BinOp("*", N("apple_price"), N("tax"))
    assert parse("apple_price tax", known={"apple_price", "tax"}) == BinOp("*", N("apple_price"), N("tax"))
    assert parse("苹果 × 苹果的个数") == BinOp("*", N("苹果"), N("苹果的个数"))
    fn = declared_functions({"phi": "relu", "g": "tanh"})
    assert parse(r"\phi(z) + g(z)", functions=fn) == BinOp(
        "+", Call("relu", (N("z"),)), Call("tanh", (N("z"),)))


def test_spec_keys_take_every_spelling():
    s = spec(r"""
\sigma_B^2 = (x - \mu_B)^2
L = \sigma_B^2 + y^{target} + \text{apple\_price} + 苹果
""", """params = ["μ_B", "apple_price"]
[values]
x = 1.0
"\\\\mu_B" = 0.5
"y^{target}" = 2.0
"\\\\text{apple\\\\_price}" = 3.0
"苹果" = 4.0
""")
    assert set(s.values) == {"x", r"\mu_B", "y^target", "apple_price", "苹果"}
    assert s.network.params == (r"\mu_B", "apple_price")
    d = sb.derive(s)
    assert d.loss_value == pytest.approx(0.25 + 2 + 3 + 4)
    assert d.gradient_value(r"\mu_B") == pytest.approx(-1.0)
    data = str(d.to_json())
    assert "'apple_price'" in data and "'y^target'" in data and "'苹果'" in data


def test_two_spellings_of_one_key_are_an_error():
    message = spec_error("L = \\mu_B x", '[values]\n"\\\\mu_B" = 1.0\n"μ_B" = 2.0\nx = 1.0')
    assert "gives '\\mu_B' twice" in message


# ---- what is ambiguous is an error naming the column and both readings --------------------------
@pytest.mark.parametrize("text, known, column, readings", [
    # a run of letters that is not a node: one name, or a product of letters?
    ("2 tax", {"x"}, 3, ["one name 'tax'", "t·a·x", r"\text{tax}"]),
    ("apple_price + 1", set(), 1, ["one name 'apple_price'", "a·p·p·l·e", r"\text{apple\_price}"]),
    # an unbraced subscript of several characters
    ("y_target", {"y"}, 2, ["y_{target}", "y_t followed by arget"]),
    ("x_ij", set(), 2, ["x_{ij}", "x_i followed by j"]),
    ("w_12", set(), 2, ["_{12}", "w_1"]),
    # both readings are nodes
    ("x_ij", {"x_ij", "x_i", "j"}, 1, ["the name x_ij", "the name x_i followed by j"]),
    (r"\sigma_B^2", {r"\sigma_B^2", r"\sigma_B"}, 9, [r"the name \sigma_B^2", r"\sigma_B to the power 2"]),
    (r"x^2", {"x^2", "x"}, 2, ["the name x^2", "x to the power 2"]),
    # a function that is not declared
    (r"\phi(z)", set(), 1, [r"the function \phi applied to (…)", r"\phi times (…)", "activations = { phi ="]),
    ("g(z)", set(), 1, ["the function g applied to (…)", "g times (…)", "activations = { g ="]),
    (r"\phi\left(z\right)", set(), 1, [r"the function \phi applied to (…)", r"\phi times (…)"]),
    (r"g^{[1]}(Z^{[1]})", set(), 1, ["the function g^{[1]} applied", 'activations = { "g^[1]" =']),
    # σ² that is not declared: the sigmoid's power has no argument
    (r"\sigma^2 + 1", set(), 1, ["sigmoid's power", "as a name (a variance) define it"]),
    # a prime on a name that is not a node
    ("y' + 1", {"y"}, 2, ["must follow a function name", "define y'"]),
    # a label that is also a node
    (r"y^{ab}", {"y", "ab"}, 2, ["a label (part of the name)", "the power by the node ab"]),
    # an index without braces
    ("w^(1)", set(), 2, ["layer index (part of the name)", "for a power"]),
])
def test_ambiguous_notation_names_the_column_and_both_readings(text, known, column, readings):
    err = refused(text, known, strict=True)
    assert err.position == column - 1, str(err)
    assert str(err).endswith(f"at column {column} in '{text}'")
    for reading in readings:
        assert reading in str(err), (reading, str(err))


def test_unambiguous_runs_and_calls():
    assert parse("wx", {"w", "x"}, strict=True) == BinOp("*", N("w"), N("x"))  # both letters are nodes
    assert parse("tax", {"tax"}, strict=True) == N("tax")  # the run is a node
    assert parse("w x", strict=True) == BinOp("*", N("w"), N("x"))  # spaces: a product
    assert parse(r"\phi(z)", {r"\phi"}) == BinOp("*", N(r"\phi"), N("z"))  # φ a node: a product
    assert parse("a_2(1 - a_2)") == BinOp("*", N("a_2"), BinOp("-", Num("1"), N("a_2")))
    assert parse(r"\phi \cdot (z)") == BinOp("*", N(r"\phi"), N("z"))
    assert parse("y'", {"y'"}) == N("y'")


def test_superscript_rules():
    # a superscript is part of a name when that name is a node and the name without it is not
    assert parse(r"\sigma_B^2", {r"\sigma_B^2"}) == N(r"\sigma_B^2")
    assert parse(r"\sigma^2_B", {r"\sigma_B^2"}) == N(r"\sigma_B^2")
    assert parse(r"\sigma^2", {r"\sigma^2"}) == N(r"\sigma^2")
    assert parse(r"\sigma_B^2", {r"\sigma_B"}) == Pow(N(r"\sigma_B"), Num("2"))
    assert parse(r"\sigma^2_B", {r"\sigma_B"}) == Pow(N(r"\sigma_B"), Num("2"))  # as LaTeX sets it
    assert parse(r"(\sigma_B)^2", {r"\sigma_B^2", r"\sigma_B"}) == Pow(N(r"\sigma_B"), Num("2"))
    assert parse(r"\sigma^2(z)") == Pow(Call("sigmoid", (N("z"),)), Num("2"))
    assert parse("x^2") == Pow(N("x"), Num("2"))
    assert parse("W^T") == Transpose(N("W"))
    # Ng: layer index, then a transpose, a power or a derivative in the same superscript
    assert parse(r"W^{[2]T}") == Transpose(N("W^[2]"))
    assert parse(r"A^{[1]2}") == Pow(N("A^[1]"), Num("2"))
    assert "double superscript" in str(refused(r"A^{[1]2}^2"))
    fn = declared_functions({"g^[1]": "tanh"})
    assert parse(r"g^{[1]'}(Z^{[1]})", functions=fn) == Call("tanh", (N("Z^[1]"),), prime=1)
    # the elementwise square
    assert parse(r"A^{\circ 2}") == BinOp("odot", N("A"), N("A"))
    assert parse(r"A^{\circ 3}") == BinOp("odot", BinOp("odot", N("A"), N("A")), N("A"))
    assert "whole number" in str(refused(r"A^{\circ x}"))


def test_left_hand_sides():
    assert parse_name(r"\sigma_B^2") == (r"\sigma_B^2", r"\sigma_B^2")
    assert parse_name("apple_price")[0] == "apple_price"
    assert parse_name(r"y^{target}")[0] == "y^target"
    assert parse_name("苹果的价格")[0] == "苹果的价格"
    assert parse_name("x̂")[0] == r"\hat{x}"


# ---- declared activations ----------------------------------------------------------------------
def test_declared_activation_is_that_function():
    forward = r"""
z = w x + b
a = \phi(z)
L = (a - y)^2
"""
    values = "[values]\nw = 0.5\nx = 2.0\nb = -2.0\ny = 1.0\n"
    relu = sb.derive(spec(forward, 'params = ["w", "b"]\nactivations = { phi = "relu" }\n' + values))
    # z = -1 < 0: ReLU gives 0 and no gradient through it
    assert relu.values["a"] == 0 and relu.loss_value == 1.0 and relu.gradient_value("w") == 0.0
    tanh = sb.derive(spec(forward, 'params = ["w", "b"]\nactivations = { "φ" = "tanh" }\n' + values))
    a = math.tanh(-1.0)
    assert tanh.values["a"] == pytest.approx(a)
    assert tanh.gradient_value("w") == pytest.approx(2 * (a - 1) * (1 - a * a) * 2.0)
    g = sb.derive(spec("z = w x\na = g(z)\nL = a", 'activations = { g = "sigmoid" }\n[values]\nw = 1.0\nx = 0.0'))
    assert g.values["a"] == pytest.approx(0.5)


def test_declared_activation_errors():
    message = spec_error(r"a = \phi(z)")
    assert "the function \\phi applied to (…), or \\phi times (…)" in message and "line 2" in message
    message = spec_error(r"a = \phi(z)", 'activations = { phi = "swish" }')
    assert "unknown function 'swish' for 'phi'" in message and "relu" in message
    message = spec_error(r"\phi = 2 z", 'activations = { phi = "relu" }')
    assert "declared in activations as a function" in message
    message = spec_error(r"a = \phi z", 'activations = { phi = "relu" }\n[values]\n"\\\\phi" = 1.0\nz = 1.0')
    assert "declared in activations as a function and is also a node" in message
    message = spec_error("a = z", 'activations = { sigma = "relu" }')
    assert "already a function" in message
    assert "'activations' must be a table" in spec_error("a = z", 'activations = ["relu"]')


# ---- Ng's A^{[1]2}: the elementwise square, when declared ------------------------------------------
NG_SQUARE = r"""
Z^{[1]} = W^{[1]} X
A^{[1]} = \tanh(Z^{[1]})
J = \sum (1 - A^{[1]2})
"""
NG_VALUES = """params = ["W^{[1]}"]
[values]
X = [[1.0, -0.5], [0.25, 2.0]]
"W^{[1]}" = [[0.3, -0.2], [0.1, 0.4], [-0.6, 0.5]]
"""


def test_ng_elementwise_square_when_declared():
    d = sb.derive(spec(NG_SQUARE, "elementwise_powers = true\n" + NG_VALUES))
    W, X = np.array([[0.3, -0.2], [0.1, 0.4], [-0.6, 0.5]]), np.array([[1.0, -0.5], [0.25, 2.0]])
    A = np.tanh(W @ X)
    assert d.loss_value == pytest.approx(np.sum(1 - A ** 2))
    np.testing.assert_allclose(np.asarray(d.gradient_value("W^[1]"), float),
                               (-2 * A * (1 - A ** 2)) @ X.T, rtol=1e-12)
    # the same spec without the declaration: an error naming both readings and the column
    message = spec_error(NG_SQUARE, NG_VALUES)
    assert "line 5" in message and "a power of a matrix is ambiguous" in message
    assert "at column 12 in '\\sum (1 - A^{[1]2})'" in message
    assert "A^{[1]} \\odot A^{[1]}" in message and "squared norm" in message
    assert "'elementwise_powers' must be true or false" in spec_error("a = z", 'elementwise_powers = "yes"')


# ---- the specs of tests/sources/names: their published numbers ------------------------------------
def derive(stem: str):
    return sb.derive(sb.load_spec(NAMES / f"{stem}.toml"))


def test_saito_apple_orange_published_numbers():
    """《深度学习入门》§5.4, ch05/buy_apple_orange.py: price 715; dApple 2.2, dApple_num 110,
    dOrange 3.3, dOrange_num 165, dTax 650."""
    for stem, names in [
        ("saito_apple_orange", ["apple", "apple_num", "orange", "orange_num", "tax", "price"]),
        ("saito_apple_orange_zh", ["苹果", "苹果的个数", "橘子", "橘子的个数", "消费税", "支付金额"]),
    ]:
        d = derive(stem)
        apple, apple_num, orange, orange_num, tax, price = names
        assert d.loss == price
        assert int(d.loss_value) == 715 and d.loss_value == pytest.approx(715)
        published = {apple: 2.2, apple_num: 110, orange: 3.3, orange_num: 165, tax: 650}
        for p, g in published.items():
            assert d.gradient_value(p) == pytest.approx(g, rel=1e-12), (stem, p)
        assert f"{d.gradient_value(apple):.1f}" == "2.2" and int(d.gradient_value(apple_num)) == 110


def test_saito_written_with_text_names_is_the_same_network():
    written = spec(r"""
\text{apple\_price} = \mathrm{apple} \times \text{apple\_num}
\text{orange\_price} = \text{orange} \times \operatorname{orange\_num}
\text{all\_price} = \text{apple\_price} + \text{orange\_price}
\text{price} = \text{all\_price} \times \text{tax}
""", 'params = ["apple", "apple_num", "orange", "orange_num", "tax"]\n[values]\napple = 100\n'
        "apple_num = 2\norange = 150\norange_num = 3\ntax = 1.1\n")
    book = sb.load_spec(NAMES / "saito_apple_orange.toml")
    assert written.network.order == book.network.order
    assert sb.derive(written).gradient_value("tax") == pytest.approx(650)


def test_saito_chinese_solution_in_every_format(tmp_path):
    d = derive("saito_apple_orange_zh")
    text = d.to_text()
    assert "支付金额" in text and "苹果的个数" in text
    assert r"\text{苹果的个数}" in d.to_latex()
    for fmt, suffix in [("markdown", "md"), ("json", "json"), ("latex", "tex"), ("text", "txt")]:
        out = tmp_path / f"zh.{suffix}"
        assert main(["derive", str(NAMES / "saito_apple_orange_zh.toml"), "--format", fmt, "-o", str(out)]) == 0
        assert "消费税" in out.read_text(encoding="utf-8")


def nielsen_train(stem: str, w: float, b: float, epochs: int) -> float:
    """Nielsen's animation: gradient descent on (w, b) with the spec's η, the exported gradient."""
    s = sb.load_spec(NAMES / f"{stem}.toml")
    loss_and_grad = sb.derive(s).compile()
    for _ in range(epochs):
        _, g = loss_and_grad(w=w, b=b, x=1.0, y=0.0)
        w, b = w - s.learning_rate * float(g["w"]), b - s.learning_rate * float(g["b"])
    return 1 / (1 + math.exp(-(w + b)))


def test_nielsen_chapter3_quadratic_published_numbers():
    d = derive("nielsen_ch3_quadratic")
    assert f"{d.values['a']:.2f}" == "0.82"  # "The initial output from the neuron is 0.82"
    a = d.values["a"]
    sigma_prime = a * (1 - a)
    assert d.gradient_value("w") == pytest.approx(a * sigma_prime, rel=1e-12)  # eq. (55), x = 1, y = 0
    assert d.gradient_value("b") == pytest.approx(a * sigma_prime, rel=1e-12)  # eq. (56)
    s = sb.load_spec(NAMES / "nielsen_ch3_quadratic.toml")
    s.values.update(w=2.0, b=2.0)
    d2 = sb.derive(s)
    assert f"{d2.values['a']:.2f}" == "0.98"  # "the initial output is 0.98"
    assert d2.gradient_value("w") < d.gradient_value("w") / 5  # the learning slowdown
    # "the neuron rapidly learns … an output from the neuron of about 0.09" (the animation's 300 epochs)
    assert f"{nielsen_train('nielsen_ch3_quadratic', 0.6, 0.9, 300):.2f}" == "0.09"


def test_nielsen_chapter3_cross_entropy_published_formulas():
    d = derive("nielsen_ch3_cross_entropy")
    a = d.values["a"]
    assert f"{a:.2f}" == "0.82"
    assert d.gradient_value("w") == pytest.approx(1.0 * (a - 0.0), rel=1e-12)  # eq. (61): x(σ(z) − y)
    assert d.gradient_value("b") == pytest.approx(a - 0.0, rel=1e-12)  # eq. (62)
    # the σ′(z) term cancels: with w = b = 2 the gradient is still σ(z) − y ≈ 0.98, not small
    s = sb.load_spec(NAMES / "nielsen_ch3_cross_entropy.toml")
    s.values.update(w=2.0, b=2.0)
    assert sb.derive(s).gradient_value("w") == pytest.approx(1 / (1 + math.exp(-4.0)), rel=1e-12)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_nielsen_chapter2_bp1_to_bp4():
    d = derive("nielsen_ch2_bp")
    v = {k: float(x) for k, x in sb.load_spec(NAMES / "nielsen_ch2_bp.toml").values.items()}
    a1 = np.array([v["a_1^1"], v["a_2^1"]])
    w2 = np.array([[v["w_11^2"], v["w_12^2"]], [v["w_21^2"], v["w_22^2"]]])
    b2 = np.array([v["b_1^2"], v["b_2^2"]])
    w3 = np.array([[v["w_11^3"], v["w_12^3"]]])
    b3 = np.array([v["b_1^3"]])
    z2 = w2 @ a1 + b2
    a2 = sigmoid(z2)
    z3 = w3 @ a2 + b3
    a3 = sigmoid(z3)
    delta3 = (a3 - v["y_1"]) * a3 * (1 - a3)  # BP1: ∇_a C ⊙ σ′(z^L)
    delta2 = (w3.T @ delta3) * a2 * (1 - a2)  # BP2: ((w^{l+1})^T δ^{l+1}) ⊙ σ′(z^l)
    assert d.adjoint_value("z_1^3") == pytest.approx(delta3[0], rel=1e-12)
    for j in (1, 2):
        assert d.adjoint_value(f"z_{j}^2") == pytest.approx(delta2[j - 1], rel=1e-12)
        assert d.gradient_value(f"b_{j}^2") == pytest.approx(delta2[j - 1], rel=1e-12)  # BP3
        assert d.gradient_value(f"w_1{j}^3") == pytest.approx(a2[j - 1] * delta3[0], rel=1e-12)  # BP4
        for k in (1, 2):
            assert d.gradient_value(f"w_{j}{k}^2") == pytest.approx(a1[k - 1] * delta2[j - 1], rel=1e-12)
    assert d.gradient_value("b_1^3") == pytest.approx(delta3[0], rel=1e-12)


def test_nielsen_chapter2_with_parenthesised_layers_is_the_same():
    text = (NAMES / "nielsen_ch2_bp.toml").read_text(encoding="utf-8")
    body = text[text.index("forward"):]
    paren = re.sub(r"\^(\d)", r"^{(\1)}", body)  # w^2_{11} → w^{(2)}_{11}
    d, e = derive("nielsen_ch2_bp"), sb.derive(spec_from_toml(paren))
    assert e.gradient_value("w_11^(2)") == pytest.approx(d.gradient_value("w_11^2"), rel=1e-15)
    # undeclared, w^2_{11} is the square of w_{11}: never a silent name
    assert parse(r"w^2_{11}", {"w_11"}) == Pow(N("w_11"), Num("2"))


def test_ng_planar_published_gradients():
    """Coursera DLS week 3, backward_propagation's expected output; dZ^[2] = A^[2] − Y."""
    d = derive("ng_planar_backward_matrix")
    published = {
        "W^[1]": [[0.00301023, -0.00747267], [0.00257968, -0.00641288],
                  [-0.00156892, 0.003893], [-0.00652037, 0.01618243]],
        "b^[1]": [[0.00176201], [0.00150995], [-0.00091736], [-0.00381422]],
        "W^[2]": [[0.00078841, 0.01765429, -0.00084166, -0.01022527]],
        "b^[2]": [[-0.16655712]],
    }
    for p, g in published.items():
        np.testing.assert_allclose(np.asarray(d.gradient_value(p), float), g, rtol=0, atol=5e-9, err_msg=p)
    m = 3
    A2, Y = np.asarray(d.values["A^[2]"], float), np.array([[1.0, 0.0, 1.0]])
    np.testing.assert_allclose(m * np.asarray(d.adjoint_value("Z^[2]"), float), A2 - Y, rtol=1e-12)
    np.testing.assert_allclose(A2, [[0.5002307, 0.49985831, 0.50023963]], atol=5e-9)  # the cache's A2
    A1 = np.asarray(d.values["A^[1]"], float)
    np.testing.assert_allclose(A1[0], [-0.00616578, 0.0020626, 0.00349619], atol=5e-9)  # the cache's A1
    # dZ^[1] = W^[2]T dZ^[2] * (1 - A^[1]2), in the course's notation, through verify
    claims = [r"\frac{\partial J}{\partial Z^{[2]}} = \frac{1}{m}(A^{[2]} - Y)",
              r"\frac{\partial J}{\partial W^{[2]}} = \frac{1}{m}(A^{[2]} - Y) A^{[1]T}",
              r"\frac{\partial J}{\partial Z^{[1]}} = W^{[2]T}\frac{\partial J}{\partial Z^{[2]}} \odot "
              r"(1 - A^{[1]} \odot A^{[1]})"]
    s = sb.load_spec(NAMES / "ng_planar_backward_matrix.toml")
    for claim in claims:
        assert sb.verify(s, claim).verdicts[0].verdict == "correct", claim


def ioffe(v: dict):
    x = np.array([v["x_1"], v["x_2"], v["x_3"]])
    t = np.array([v["t_1"], v["t_2"], v["t_3"]])
    m, eps, gamma = 3, v["\\epsilon"], v["\\gamma"]
    mu = x.sum() / m
    var = ((x - mu) ** 2).sum() / m
    xhat = (x - mu) / np.sqrt(var + eps)
    y = gamma * xhat + v["\\beta"]
    dy = y - t
    dxhat = dy * gamma
    dvar = np.sum(dxhat * (x - mu)) * -0.5 * (var + eps) ** -1.5
    dmu = np.sum(dxhat * -1 / math.sqrt(var + eps)) + dvar * np.sum(-2 * (x - mu)) / m
    dx = dxhat / math.sqrt(var + eps) + dvar * 2 * (x - mu) / m + dmu / m
    return dict(var=var, dvar=dvar, dmu=dmu, dx=dx, dgamma=np.sum(dy * xhat), dbeta=np.sum(dy))


def test_ioffe_sigma2_as_a_name():
    d = derive("ioffe_batchnorm_sigma2_scalar")
    v = {k: float(x) for k, x in sb.load_spec(NAMES / "ioffe_batchnorm_sigma2_scalar.toml").values.items()}
    r = ioffe(v)
    assert d.values[r"\sigma_\mathcal{B}^2"] == pytest.approx(r["var"], rel=1e-12)
    assert d.adjoint_value(r"\sigma_\mathcal{B}^2") == pytest.approx(r["dvar"], rel=1e-10)
    assert d.adjoint_value(r"\mu_\mathcal{B}") == pytest.approx(r["dmu"], rel=1e-9, abs=1e-12)
    for i in range(3):
        assert d.gradient_value(f"x_{i + 1}") == pytest.approx(r["dx"][i], rel=1e-9, abs=1e-12)
    assert d.gradient_value("\\gamma") == pytest.approx(r["dgamma"], rel=1e-10)
    assert d.gradient_value("\\beta") == pytest.approx(r["dbeta"], rel=1e-10)
    # the same numbers as the spec that had to write σ²_B as v_B
    old = sb.derive(sb.load_spec(NAMES.parent / "ioffe_batchnorm_scalar.toml"))
    assert d.adjoint_value(r"\sigma_\mathcal{B}^2") == pytest.approx(old.adjoint_value("v_B"), rel=1e-12)
    assert r"{\sigma_{\mathcal{B}}^{2}}" in d.to_latex()


def test_batchnorm_matrix_against_kratzert_backward():
    d = derive("batchnorm_xhat_matrix")
    v = {k: np.asarray(x, float) for k, x in sb.load_spec(NAMES / "batchnorm_xhat_matrix.toml").values.items()}
    x, gamma, eps, dout = v["X"], v["\\gamma"], float(v["\\epsilon"]), v["dout"]
    N = x.shape[0]
    mu = x.mean(axis=0)
    xmu = x - mu
    var = (xmu ** 2).mean(axis=0)
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    dxhat = dout * gamma  # Kratzert's naive batchnorm_backward, steps 9 … 0
    divar = np.sum(dxhat * xmu, axis=0)
    dsqrtvar = -1 / (np.sqrt(var + eps) ** 2) * divar
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dxmu = dxhat * ivar + 2 * xmu * np.ones((N, 1)) * dvar / N
    dx = dxmu - np.sum(dxmu, axis=0) / N
    np.testing.assert_allclose(np.asarray(d.values["\\hat{X}"], float), xhat, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(d.values["\\sigma_B^2"], float), var, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(d.gradient_value("X"), float), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(d.gradient_value("\\gamma"), float), np.sum(dout * xhat, axis=0), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(d.gradient_value("\\beta"), float), np.sum(dout, axis=0), rtol=1e-12)


# ---- every spec: exported module and gradient check ------------------------------------------------
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_export_and_check(path, tmp_path, capsys):
    out = tmp_path / f"grads_{path.stem}.py"
    assert main(["export", str(path), "-o", str(out)]) == 0
    module = import_file(out, f"grads_{path.stem}")
    s = sb.load_spec(path)
    d = sb.derive(s)
    args = {module.IDENTIFIERS[k]: np.asarray(v, float) for k, v in s.values.items()}
    loss, grads = module.loss_and_grad(**args)
    assert float(loss) == pytest.approx(d.loss_value, rel=1e-12)
    assert set(grads) == set(s.network.params)
    for p in s.network.params:
        np.testing.assert_allclose(np.asarray(grads[p], float), np.asarray(d.gradient_value(p), float),
                                   rtol=1e-10, atol=1e-14, err_msg=p)
    assert main(["check", str(path)]) == 0, capsys.readouterr().out
    if "zh" in path.stem:
        assert "def loss_and_grad(*, 苹果," in out.read_text(encoding="utf-8")


# ---- the functions people write -------------------------------------------------------------------
FUNCTIONS_SCALAR = r"""forward = '''
a = \exp(x) + \log(y) + \ln(y) + \sqrt{y} + |x| + \max(0, x) + \min(0, x) + \min(x, y)
L = a
'''
params = ["x", "y"]
[values]
x = -0.5
y = 2.0
"""
FUNCTIONS_MATRIX = r"""forward = '''
A = \exp(Z) + \log(P) + \sqrt{P} + |Z| + \max(0, Z) + \min(0, Z) + Z^{\circ 2} + Z \odot Z
L = \sum A
'''
params = ["Z", "P"]
[values]
Z = [[-0.5, 1.0], [2.0, -3.0]]
P = [[1.0, 2.0], [3.0, 4.0]]
"""


def test_exp_log_sqrt_abs_max_min_and_the_elementwise_square():
    d = sb.derive(spec_from_toml(FUNCTIONS_SCALAR))
    x, y = -0.5, 2.0
    assert d.loss_value == pytest.approx(math.exp(x) + 2 * math.log(y) + math.sqrt(y) + abs(x) + 0 + x + x)
    assert d.gradient_value("x") == pytest.approx(math.exp(x) - 1 + 0 + 1 + 1)
    assert d.gradient_value("y") == pytest.approx(2 / y + 0.5 / math.sqrt(y))
    d = sb.derive(spec_from_toml(FUNCTIONS_MATRIX))
    Z, P = np.array([[-0.5, 1.0], [2.0, -3.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])
    A = np.exp(Z) + np.log(P) + np.sqrt(P) + abs(Z) + np.maximum(0, Z) + np.minimum(0, Z) + 2 * Z ** 2
    assert d.loss_value == pytest.approx(A.sum())
    np.testing.assert_allclose(np.asarray(d.gradient_value("Z"), float),
                               np.exp(Z) + np.sign(Z) + (Z > 0) + (Z < 0) + 4 * Z, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(d.gradient_value("P"), float), 1 / P + 0.5 / np.sqrt(P), rtol=1e-12)


# ---- every format renders; the Markdown's math parses in KaTeX --------------------------------------
@pytest.mark.parametrize("fmt, suffix", [("text", "txt"), ("markdown", "md"), ("latex", "tex"),
                                         ("json", "json"), ("pdf", "pdf")])
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_format_renders(path, fmt, suffix, tmp_path):
    if fmt == "pdf" and __import__("shutil").which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    out = tmp_path / f"{path.stem}.{suffix}"
    assert main(["derive", str(path), "--format", fmt, "-o", str(out)]) == 0
    assert out.exists() and out.stat().st_size > 0


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_markdown_math_parses_with_katex(path):
    import test_markdown_katex as katex
    from markdown_parts import math_blocks

    if katex._katex_available() is not None:
        pytest.skip(katex._katex_available())
    d = sb.derive(sb.load_spec(path))
    for closed_forms in (False, True):
        blocks = math_blocks(d.to_markdown(closed_forms=closed_forms))
        errors = katex.katex_errors(blocks)
        assert not errors, f"{path.name}: KaTeX rejects:\n" + "\n".join(errors)


@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="pdflatex is not installed")
def test_chinese_names_in_an_english_document_compile(tmp_path):
    """CJKutf8 is loaded for Chinese names, not only for Chinese prose."""
    from symbackprop.cli import main

    spec = Path(__file__).parent / "sources" / "names" / "saito_apple_orange_zh.toml"
    out = tmp_path / "apples_en.pdf"
    assert main(["derive", str(spec), "--lang", "en", "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000


def test_a_product_of_word_names_is_written_with_a_dot():
    """苹果 苹果的个数 side by side would read as one name."""
    spec = Path(__file__).parent / "sources" / "names" / "saito_apple_orange_zh.toml"
    md = sb.derive(spec).to_markdown()
    assert r"\text{苹果} \cdot \text{苹果的个数}" in md
    assert r"w_{1} x" in sb.derive(Path(__file__).parent.parent / "derivations" / "seed_scalar.toml").to_markdown()
