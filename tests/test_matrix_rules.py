"""Every matrix VJP rule against the explicit-element route, the symbolic ground truth.

For each rule: a tiny network with concrete sizes, its loss written out again by
hand with SymPy matrices of symbols, ``sympy.diff`` by every entry, and the
result compared with the rule-based gradient at a random point.
"""
import numpy as np
import pytest
import sympy as sp

from symbackprop.backprop import backprop, gradient_function
from symbackprop.reader.forward import network_from_latex

M, N, K = 3, 2, 2


def sig(x):
    return 1 / (1 + sp.exp(-x))


def total(A: sp.Matrix) -> sp.Expr:
    return sum(A)


def rows(b: sp.Matrix, m: int = M) -> sp.Matrix:
    """A row vector repeated over m rows (the bias broadcast)."""
    return sp.ones(m, 1) * b


def frob2(A: sp.Matrix) -> sp.Expr:
    return sum(a ** 2 for a in A)


def softmax(Z: sp.Matrix) -> sp.Matrix:
    E = Z.applyfunc(sp.exp)
    return sp.Matrix(Z.rows, Z.cols, lambda i, j: E[i, j] / sum(E.row(i)))


#: name -> (forward LaTeX, params, shapes, SymPy loss from symbol matrices, value hints)
CASES = {
    "matmul and bias (mse)": (
        r"Z = X W + b" "\n" r"L = \frac{1}{m}\|Z - Y\|^2", ["W", "b", "X"],
        {"X": ["m", N], "W": [N, K], "b": [K], "Y": ["m", K]},
        lambda s: frob2(s["X"] * s["W"] + rows(s["b"]) - s["Y"]) / M),
    "sigmoid": (
        r"A = \sigma(X W)" "\n" r"L = \sum A \odot C", ["W", "X"],
        {"X": [M, N], "W": [N, K], "C": [M, K]},
        lambda s: total((s["X"] * s["W"]).applyfunc(sig).multiply_elementwise(s["C"]))),
    "tanh": (
        r"A = \tanh(X W)" "\n" r"L = \sum A \odot C", ["W"],
        {"X": [M, N], "W": [N, K], "C": [M, K]},
        lambda s: total((s["X"] * s["W"]).applyfunc(sp.tanh).multiply_elementwise(s["C"]))),
    "relu": (
        r"A = \mathrm{ReLU}(X W)" "\n" r"L = \sum A \odot C", ["W"],
        {"X": [M, N], "W": [N, K], "C": [M, K]},
        lambda s: total((s["X"] * s["W"]).applyfunc(lambda x: sp.Max(0, x)).multiply_elementwise(s["C"]))),
    "exp and ln": (
        r"A = \exp(X W)" "\n" r"L = \sum C \odot \ln(1 + A)", ["W"],
        {"X": [M, N], "W": [N, K], "C": [M, K]},
        lambda s: total(s["C"].multiply_elementwise(
            (s["X"] * s["W"]).applyfunc(lambda x: sp.log(1 + sp.exp(x)))))),
    "hadamard": (
        r"L = \sum (X W) \odot (X V)", ["W", "V", "X"],
        {"X": [M, N], "W": [N, K], "V": [N, K]},
        lambda s: total((s["X"] * s["W"]).multiply_elementwise(s["X"] * s["V"]))),
    "transpose": (
        r"Z = W^\top X^{\mathsf T}" "\n" r"L = \sum Z \odot C", ["W", "X"],
        {"X": [M, N], "W": [N, K], "C": [K, M]},
        lambda s: total((s["W"].T * s["X"].T).multiply_elementwise(s["C"]))),
    "row sum and squared norm of a vector": (
        r"s = \sum_{i=1}^{m} X W" "\n" r"L = \|s\|^2", ["W"],
        {"X": ["m", N], "W": [N, K]},
        lambda s: frob2(sp.ones(1, M) * s["X"] * s["W"])),
    "norm": (
        r"L = \|X W - Y\|", ["W"],
        {"X": [M, N], "W": [N, K], "Y": [M, K]},
        lambda s: sp.sqrt(frob2(s["X"] * s["W"] - s["Y"]))),
    "elementwise quotient": (
        r"Z = X W" "\n" r"L = \sum \frac{Z}{C + Z \odot Z}", ["W"],
        {"X": [M, N], "W": [N, K], "C": [M, K]},
        lambda s: total((s["X"] * s["W"]).multiply_elementwise(
            (s["C"] + (s["X"] * s["W"]).multiply_elementwise(s["X"] * s["W"])).applyfunc(lambda d: 1 / d)))),
    "softmax (general rule)": (
        r"P = \mathrm{softmax}(X W)" "\n" r"L = \sum C \odot P", ["W"],
        {"X": [M, N], "W": [N, 3], "C": [M, 3]},
        lambda s: total(s["C"].multiply_elementwise(softmax(s["X"] * s["W"])))),
    "softmax with cross-entropy (fused)": (
        r"Z = X W + b" "\n" r"P = \mathrm{softmax}(Z)" "\n" r"L = -\frac{1}{m}\sum Y \odot \ln P",
        ["W", "b"], {"X": ["m", N], "W": [N, 3], "b": [3], "Y": ["m", 3]},
        lambda s: -total(s["Y"].multiply_elementwise(
            softmax(s["X"] * s["W"] + rows(s["b"])).applyfunc(sp.log))) / M),
    "sigmoid with binary cross-entropy (fused)": (
        r"Z = X W" "\n" r"A = \sigma(Z)" "\n"
        r"L = -\frac{1}{m}\sum ( Y \odot \ln A + (1 - Y) \odot \ln(1 - A) )", ["W"],
        {"X": ["m", N], "W": [N, K], "Y": ["m", K]},
        lambda s: -total(s["Y"].multiply_elementwise((s["X"] * s["W"]).applyfunc(lambda z: sp.log(sig(z))))
                         + (sp.ones(M, K) - s["Y"]).multiply_elementwise(
                             (s["X"] * s["W"]).applyfunc(lambda z: sp.log(1 - sig(z))))) / M),
    "a scalar parameter times a matrix": (
        r"L = \sum (s X) W \odot C", ["s", "W"],
        {"s": [], "X": [M, N], "W": [N, K], "C": [M, K]},
        lambda s: total((s["s"][0] * s["X"] * s["W"]).multiply_elementwise(s["C"]))),
    "one minus a matrix": (
        r"A = \sigma(X W)" "\n" r"L = \sum (1 - A) \odot C", ["W"],
        {"X": [M, N], "W": [N, K], "C": [M, K]},
        lambda s: total((s["X"] * s["W"]).applyfunc(lambda z: 1 - sig(z)).multiply_elementwise(s["C"]))),
    "a node used twice (two consumers)": (
        r"Z = X W" "\n" r"A = \sigma(Z)" "\n" r"B = \tanh(Z)" "\n" r"L = \sum A \odot B", ["W"],
        {"X": [M, N], "W": [N, K]},
        lambda s: total((s["X"] * s["W"]).applyfunc(lambda z: sig(z) * sp.tanh(z)))),
    "a column broadcast over the columns": (
        r"Z = X W + c" "\n" r"L = \frac{1}{2}\|Z\|^2", ["c", "W"],
        {"X": ["m", N], "W": [N, K], "c": ["m", 1]},
        lambda s: frob2(s["X"] * s["W"] + s["c"] * sp.ones(1, K)) / 2),
}


def symbols_for(name: str, shape: tuple[int, ...]) -> sp.Matrix:
    if not shape:
        return sp.Matrix([[sp.Symbol(name)]])
    r, c = (1, shape[0]) if len(shape) == 1 else shape
    return sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{name}[{i},{j}]"))


def random_values(shapes: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    vals = {}
    for name, shape in shapes.items():
        size = tuple(M if d == "m" else d for d in shape)
        vals[name] = rng.uniform(-1.5, 1.5, size=size)
    if "Y" in vals:  # targets: one-hot rows for the softmax, in (0, 1) otherwise
        y = vals["Y"]
        vals["Y"] = (np.eye(y.shape[1])[rng.integers(0, y.shape[1], y.shape[0])]
                     if y.shape[1] == 3 else rng.uniform(0.1, 0.9, size=y.shape))
    return vals


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_matches_explicit_elements(case):
    forward, params, shapes, loss_of = CASES[case]
    net = network_from_latex(forward, params=params, shapes=shapes)
    vals = random_values(shapes, seed=len(case))
    if case == "elementwise quotient":
        vals["C"] = np.abs(vals["C"]) + 0.5  # keep the denominator away from zero
    d = backprop(net, vals)

    concrete = {n: np.shape(v) for n, v in vals.items()}
    sym = {n: symbols_for(n, concrete[n]) for n in vals}
    L = loss_of(sym)
    point = {s: float(v) for n in vals for s, v in zip(sym[n], np.ravel(vals[n]))}
    assert float(L.subs(point)) == pytest.approx(d.loss_value, rel=1e-12)
    for p in params:
        truth = np.array([float(sp.diff(L, s).subs(point)) for s in sym[p]]).reshape(concrete[p])
        mine = d.gradient_value(p)
        assert mine.shape == concrete[p]
        np.testing.assert_allclose(mine, truth, rtol=1e-10, atol=1e-12, err_msg=f"{case}: {p}")
        _, grads = gradient_function(net)(**vals)  # the numeric API: same numbers
        np.testing.assert_allclose(grads[p], mine, rtol=1e-12, atol=1e-15)


def test_fused_rules_are_used_when_they_hold():
    for case, rule in [("softmax with cross-entropy (fused)", "softmax_ce"),
                       ("sigmoid with binary cross-entropy (fused)", "sigmoid_bce")]:
        forward, params, shapes, _ = CASES[case]
        net = network_from_latex(forward, params=params, shapes=shapes)
        d = backprop(net, random_values(shapes, seed=1))
        assert [r.name for r in d.step("Z").terms[0].rules] == [rule]
        assert str(d.textbook("Z")) == f"(1/m)({'P' if rule == 'softmax_ce' else 'A'} - Y)"


def test_softmax_shortcut_is_not_used_when_rows_do_not_sum_to_one():
    forward, params, shapes, loss_of = CASES["softmax with cross-entropy (fused)"]
    net = network_from_latex(forward, params=params, shapes=shapes)
    vals = random_values(shapes, seed=3)
    vals["Y"] = np.abs(vals["Y"] - 0.3)  # soft targets whose rows do not sum to 1
    d = backprop(net, vals)
    assert [r.name for r in d.step("Z").terms[0].rules] == ["softmax"]
    sym = {n: symbols_for(n, np.shape(v)) for n, v in vals.items()}
    L = loss_of(sym)
    point = {s: float(v) for n in vals for s, v in zip(sym[n], np.ravel(vals[n]))}
    truth = [float(sp.diff(L, s).subs(point)) for s in sym["W"]]
    np.testing.assert_allclose(d.gradient_value("W").ravel(), truth, rtol=1e-10)


def test_symbolic_softmax_shortcut_states_its_assumption():
    forward, params, shapes, _ = CASES["softmax with cross-entropy (fused)"]
    d = backprop(network_from_latex(forward, params=params, shapes=shapes))
    assert [r.name for r in d.step("Z").terms[0].rules] == ["softmax_ce"]
    assert "sums to 1" in d.to_text()


def test_relu_prime_is_the_indicator():
    forward, params, shapes, _ = CASES["relu"]
    d = backprop(network_from_latex(forward, params=params, shapes=shapes))
    md = d.to_markdown()
    assert r"\operatorname{ReLU}'\left(X W\right)" in md
    assert r"\mathbb{1}\left[X W > 0\right]" in md


def test_tanh_prime_in_node_names():
    d = backprop(network_from_latex(r"Z = X W" "\n" r"A = \tanh(Z)" "\n" r"L = \|A V\|^2",
                                    params=["W"], shapes={"X": [2, 2], "W": [2, 2], "V": [2, 1]}))
    assert r"= 2 A V V^{\top} \odot \left(1 - A \odot A\right)" in d.to_markdown()
