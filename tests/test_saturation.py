"""Finite answers stay finite (issue #12, part 4).

Where the true loss and gradient are ordinary doubles, the derivation (values, gradients, text
and JSON), ``Derivation.compile()`` and the exported module all give them — at logits up to
±1000, with no NumPy warning (``np.seterr(all="raise")``, warnings as errors) — equal to a
reference computed here independently with mpmath at 50 digits. Values below 1e-307 (σ(−800)
is 3.7e-348, which no double holds) count as 0.

One documented exception: the code computes σ' and tanh' as the worked solution writes them,
``a(1 − a)`` and ``1 − a²`` from the stored, rounded activation (a subtraction, not another
exponential), so where the activation *is* the loss its gradient there is exact to 2 ulp of 1
(4.4e-16) absolute — ``σ'(40)`` is 0, not 4.2e-18. The derivation's numbers are exact.
"""
from __future__ import annotations

import json
import math
import time
import warnings

import mpmath as mp
import numpy as np
import pytest

import symbackprop as sb
from symbackprop import schemas
from symbackprop.codegen.module import module_source
from symbackprop.spec import spec_from_toml

ZS = [-1000.0, -800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0, 1000.0]
LABELS = [0.0, 1.0, 0.3]
REL, ABS = 1e-9, 1e-307
RULE = 2 * 2.0 ** -52  #: a(1 − a), 1 − a² from a rounded activation: 2 ulp of 1, absolute
RULE_OUTPUTS = {"sigmoid", "tanh"}  #: cases whose gradient is that rule output itself

mp.mp.dps = 50


# ---- the reference: mpmath at 50 digits, nothing of symbackprop ------------------------------
def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _log_sig(x):  # ln σ(x) = −ln(1 + e^(−x))
    return -mp.log1p(mp.exp(-x))


def reference(case: str, z: float, y: float = 0.0) -> tuple[float, float]:
    """``(L, ∂L/∂z)`` of a scalar case at ``z``."""
    x, y = mp.mpf(z), mp.mpf(y)
    if case == "sigmoid":
        loss, grad = _sig(x), mp.exp(-x) / (1 + mp.exp(-x)) ** 2
    elif case == "tanh":
        loss, grad = mp.tanh(x), mp.sech(x) ** 2
    elif case in ("softplus", "log1pexp"):
        loss, grad = mp.log1p(mp.exp(x)), _sig(x)
    elif case == "gelu":
        loss, grad = x * mp.ncdf(x), mp.ncdf(x) + x * mp.npdf(x)
    elif case in ("bce_stored", "bce_inline"):
        loss = -(y * _log_sig(x) + (1 - y) * _log_sig(-x))
        grad = (1 - y) * _sig(x) - y * _sig(-x)  # σ(z) − y
    elif case == "neglog":
        loss, grad = -_log_sig(x), -_sig(-x)
    else:
        raise KeyError(case)
    return float(loss), float(grad)


def softmax_ce_reference(logits, onehot, batch_mean: bool):
    """``(L, ∂L/∂Z)`` of ``−(1/m) Σ Y ⊙ ln softmax(Z)`` (rows of Z), or of one row."""
    rows = np.atleast_2d(np.asarray(logits, dtype=float))
    ys = np.atleast_2d(np.asarray(onehot, dtype=float))
    m = len(rows) if batch_mean else 1
    loss, grad = mp.mpf(0), []
    for z, y in zip(rows, ys):
        z, y = [mp.mpf(v) for v in z], [mp.mpf(v) for v in y]
        top = max(z)
        lse = top + mp.log(sum(mp.exp(v - top) for v in z))
        loss -= sum(yi * (zi - lse) for zi, yi in zip(z, y)) / m
        grad.append([float((mp.exp(zi - lse) - yi) / m) for zi, yi in zip(z, y)])
    grad = np.array(grad)
    return float(loss), grad if np.ndim(logits) == 2 else grad[0]


# ---- the networks ------------------------------------------------------------------------------
def scalar_spec(forward: str, z: float = 0.0, **values):
    vals = "".join(f"{k} = {float(v)!r}\n" for k, v in {"z": z, **values}.items())
    return spec_from_toml(f"forward = '''\n{forward}\n'''\nparams = [\"z\"]\nlearning_rate = 0.1\n"
                          f"[values]\n{vals}")


SCALAR = {
    "sigmoid": r"L = \sigma(z)",
    "tanh": r"L = \tanh(z)",
    "softplus": r"L = \mathrm{softplus}(z)",
    "gelu": r"L = \mathrm{GELU}(z)",
    "bce_stored": "a = \\sigma(z)\nL = -(y \\ln a + (1 - y)\\ln(1 - a))",
    "bce_inline": r"L = -(y \ln \sigma(z) + (1 - y)\ln(1 - \sigma(z)))",
    "neglog": "a = \\sigma(z)\nL = -\\ln a",
    "log1pexp": r"L = \ln(1 + e^{z})",
}
WITH_LABEL = {"bce_stored", "bce_inline"}

BCE_MATRIX = r"""
forward = '''
A = \sigma(Z)
L = -\frac{1}{m}\sum \left( Y \odot \ln A + (1 - Y) \odot \ln(1 - A) \right)
'''
params = ["Z"]
learning_rate = 0.001
[shapes]
Z = ["m", "n"]
Y = ["m", "n"]
"""
SOFTMAX_MATRIX = r"""
forward = '''
P = \mathrm{softmax}(Z)
L = -\frac{1}{m}\sum Y \odot \ln P
'''
params = ["Z"]
learning_rate = 0.001
[shapes]
Z = ["m", "k"]
Y = ["m", "k"]
"""
SOFTMAX_VECTOR = r"""
forward = '''
p = \mathrm{softmax}(z)
L = -\sum y \odot \ln p
'''
params = ["z"]
learning_rate = 0.001
[shapes]
z = ["k"]
y = ["k"]
"""


def with_values(text: str, **values) -> sb.Spec:
    return spec_from_toml(text + "[values]\n" + "".join(f"{k} = {np.asarray(v).tolist()!r}\n"
                                                          for k, v in values.items()))


# ---- running everything as strictly as NumPy allows ----------------------------------------
@pytest.fixture(autouse=True)
def strict_numpy():
    old = np.seterr(all="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
    np.seterr(**old)


def close(got, want, atol: float = ABS) -> None:
    got = np.asarray(got, dtype=float)
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, want, rtol=REL, atol=atol)


def exported(d):
    """``loss_and_grad`` of the module ``symbackprop export`` writes, executed on its own."""
    namespace: dict = {"__name__": "exported"}
    exec(compile(module_source(d, origin="test"), "<exported>", "exec"), namespace)
    return namespace["loss_and_grad"]


_FUNCTIONS: dict = {}


def functions(key, spec):
    """``d.compile()`` and the exported module of a network (once: they take any values)."""
    if key not in _FUNCTIONS:
        d = sb.backprop(spec.network)
        _FUNCTIONS[key] = (d.compile(), exported(d))
    return _FUNCTIONS[key]


def check_derivation(d, loss, grads: dict) -> None:
    """The derivation's numbers, its text and its JSON (strict JSON, valid against the schema)."""
    close(d.loss_value, loss)
    for p, g in grads.items():
        close(d.gradient_value(p), g)
    text = d.to_text()
    assert "nan" not in text
    data = d.to_json()
    json.dumps(data, allow_nan=False)
    schemas.validate("derive", data)
    close(data["loss"]["value"], loss)
    for p, g in grads.items():
        close(data["gradients"][p]["value"], g)
    assert d.loss_after is None or math.isfinite(d.loss_after)


# ---- scalar networks ---------------------------------------------------------------------------
SCALAR_CASES = [(c, z, y) for c in SCALAR for z in ZS
                for y in (LABELS if c in WITH_LABEL else [None])]


@pytest.mark.parametrize("case, z, y", SCALAR_CASES,
                         ids=[f"{c}-z{z:g}" + ("" if y is None else f"-y{y:g}")
                              for c, z, y in SCALAR_CASES])
def test_scalar_loss_and_gradient_are_the_true_doubles(case, z, y):
    labels = {} if y is None else {"y": y}
    loss, grad = reference(case, z, y or 0.0)
    d = sb.derive(scalar_spec(SCALAR[case], z, **labels))
    check_derivation(d, loss, {"z": grad})
    for f in functions(case, scalar_spec(SCALAR[case])):
        got_loss, got = f(z=z, **labels)
        close(got_loss, loss)
        close(got["z"], grad, RULE if case in RULE_OUTPUTS else ABS)


def test_stored_sigmoid_is_read_from_its_logit():
    """ln a of a = σ(z) comes from z: at z = -800 the loss is 800, not ln 0, and ∂L/∂z = -1
    although ∂L/∂a = -1/σ(-800) is beyond the doubles (shown as -∞, "-inf" in JSON)."""
    d = sb.derive(scalar_spec(SCALAR["neglog"], -800.0))
    assert d.loss_value == 800.0 and d.gradient_value("z") == -1.0
    assert d.adjoint_value("a") == -math.inf
    assert d.to_json()["steps"][0]["value"] == "-inf"
    assert r"-\infty" in d.to_latex()
    # the chain rule's numbers are shown multiplied out, as they are computed: −1/a · a(1 − a)
    assert "∂L/∂a · a·(1 - a) = a - 1 = 0.000 - 1 = -1.000" in d.to_text()


def test_intermediate_overflow_is_allowed_only_where_the_loss_is_finite():
    """A node may overflow (e^z at z = 1000) when the loss does not; a loss that does not stay
    finite is still an error, named at the first value that overflowed."""
    d = sb.derive(scalar_spec("u = e^{z}\nL = \\ln(1 + u)", 1000.0))
    assert d.loss_value == 1000.0 and d.gradient_value("z") == 1.0
    with pytest.raises(sb.SpecError, match="node 'u' .* is infinite"):
        sb.derive(scalar_spec("u = e^{z}\nL = u", 1000.0))


# ---- one example and a batch -----------------------------------------------------------------
def test_softmax_cross_entropy_of_one_example():
    cases = [([z, 0.0, -z], [0.0, 1.0, 0.0]) for z in ZS]
    cases += [([1000.0, -1000.0, 0.0], y) for y in np.eye(3).tolist()]
    cases += [([-1000.0, 1000.0, 999.0], [0.0, 0.0, 1.0])]
    for logits, y in cases:
        loss, grad = softmax_ce_reference(logits, y, batch_mean=False)
        d = sb.derive(with_values(SOFTMAX_VECTOR, z=logits, y=y))
        check_derivation(d, loss, {"z": grad})
        for f in functions("softmax_vector", with_values(SOFTMAX_VECTOR, z=logits, y=y)):
            got_loss, got = f(z=np.array(logits), y=np.array(y))
            close(got_loss, loss)
            close(got["z"], grad)


def test_softmax_cross_entropy_of_a_batch():
    logits = [[z, 0.0, -z] for z in ZS] + [[1000.0, -1000.0, 0.0]] * 3 + [[-1000.0, 1000.0, 999.0]]
    onehot = [[0.0, 1.0, 0.0]] * len(ZS) + np.eye(3).tolist() + [[0.0, 0.0, 1.0]]
    loss, grad = softmax_ce_reference(logits, onehot, batch_mean=True)
    spec = with_values(SOFTMAX_MATRIX, Z=logits, Y=onehot)
    check_derivation(sb.derive(spec), loss, {"Z": grad})
    for f in functions("softmax_matrix", spec):
        got_loss, got = f(Z=np.array(logits), Y=np.array(onehot))
        close(got_loss, loss)
        close(got["Z"], grad)


def test_binary_cross_entropy_of_a_batch():
    """Every logit with every label: hard labels, where σ rounds to 0 or 1, and a soft one."""
    logits = [[z] * len(LABELS) for z in ZS]
    labels = [LABELS] * len(ZS)
    m = len(ZS)
    loss = sum(reference("bce_stored", z, y)[0] for z in ZS for y in LABELS) / m
    grad = [[reference("bce_stored", z, y)[1] / m for y in LABELS] for z in ZS]
    spec = with_values(BCE_MATRIX, Z=logits, Y=labels)
    d = sb.derive(spec)
    assert d.step("Z").terms[0].fused is not None  # the textbook's (A − Y)/m, in one step
    check_derivation(d, loss, {"Z": grad})
    for f in functions("bce_matrix", spec):
        got_loss, got = f(Z=np.array(logits), Y=np.array(labels))
        close(got_loss, loss)
        close(got["Z"], grad)


def test_the_exported_code_is_the_stable_form():
    """The module computes σ + BCE from the logit, never dividing by σ or 1 − σ."""
    source = module_source(sb.backprop(scalar_spec(SCALAR["bce_stored"]).network))
    body = source[source.index("def loss_and_grad"):]
    assert "_softplus" in body and "/" not in body.replace('"""', "").split("\n", 2)[2]
    assert 'np.errstate(under="ignore")' in body


# ---- time --------------------------------------------------------------------------------------
def test_gelu_at_minus_1000_takes_no_longer_than_anywhere_else():
    sb.derive(scalar_spec(SCALAR["gelu"], 1.0))  # warm: SymPy's derivative of GELU, once
    start = time.perf_counter()
    d = sb.derive(scalar_spec(SCALAR["gelu"], -1000.0))
    d.to_text()
    d.to_json()
    assert time.perf_counter() - start < 1.0
    assert d.loss_value == 0.0 and d.gradient_value("z") == 0.0
