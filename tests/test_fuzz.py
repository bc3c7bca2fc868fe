r"""Fuzzing every public entry point (issue #12), CI size: 2,080 generated inputs.

Each input -- a mutated checked-in spec, a grammar-made scalar or matrix forward pass, a random
network of ``tests/randnet.py``, an adversarial spec dict or TOML text, claims to verify and a
class to grade, an injection attempt (generators: ``tests/fuzz.py``) -- runs in a forked worker
through load / ``spec_from_toml`` / ``spec_from_dict``, derive, the writers, compile and call,
export and call, the gradient check, verify, grade and the graph's text (most inputs take the
cheap path: load, derive, text) within 10 s. The test asserts:

* a valid input succeeds at every entry point it is run through;
* an invalid one raises a ``SymbackpropError`` whose message is one line;
* nothing takes longer than its bound, nothing else is raised;
* the canary file (``__import__('os').system('touch CANARY')`` and friends) never appears.

Deterministic: hypothesis derandomized, no example database, no shrinking (set
``SYMBACKPROP_FUZZ_SHRINK=1`` to shrink a failure: the cases are drawn through
``st.randoms()``, so the draws shrink). ``SYMBACKPROP_FUZZ_TIME_ONLY=1`` runs every generated
input without failing and prints the findings at the end (to time a full run while bugs remain).
``SYMBACKPROP_FUZZ_LONG=1`` adds the long run (``SYMBACKPROP_FUZZ_LONG_N`` inputs, default
20000, not derandomized); ``benchmarks/fuzz.py`` is the same long run with counts and reduced
reproductions of every finding.

The explicit regressions (``test_issue_12_reproductions``) are the inputs of the issue
(``REGRESSIONS``) and the smallest inputs of what the fuzzer found besides (``FOUND``); each
must give a one-line ``SymbackpropError`` or the right result within 10 s.
"""
from __future__ import annotations

import functools
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz as F  # noqa: E402

TIME_ONLY = os.environ.get("SYMBACKPROP_FUZZ_TIME_ONLY") == "1"
SHRINK = os.environ.get("SYMBACKPROP_FUZZ_SHRINK") == "1"
PHASES = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if SHRINK else ())
SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=False, phases=PHASES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

_SEEN: list = []  # (case, outcome) of every input, for the TIME_ONLY summary


@pytest.fixture(scope="module")
def runner():
    r = F.Runner(F.BOUND, grace=10.0)
    yield r
    r.close()
    if TIME_ONLY and _SEEN:
        _print_summary()


def _print_summary():
    counts = Counter(out.status for _, out in _SEEN)
    found: dict = {}
    for case, out in _SEEN:
        if not out.acceptable(case):
            sig = out.signature()
            n, best_case, best_out = found.get(sig, (0, case, out))
            if case.size() < best_case.size():
                best_case, best_out = case, out
            found[sig] = (n + 1, best_case, best_out)
    print(f"\n{len(_SEEN)} inputs: " + ", ".join(f"{k} {counts[k]}" for k in F.STATUSES if counts[k]))
    for sig, (n, case, out) in sorted(found.items(), key=lambda x: -x[1][0]):
        print(f"\n{n} inputs: {sig}\n{out.report(case)[:1500]}")


def _judge(runner, case: F.Case):
    out = runner.run(case)
    _SEEN.append((case, out))
    assert not out.canary, "the canary file appeared\n" + out.report(case)  # never only timed
    if TIME_ONLY:
        return out
    if not out.acceptable(case):
        pytest.fail(out.report(case), pytrace=False)
    return out


# --------------------------------------------------------------------------------------
# The generated inputs (2,080 in all)
# --------------------------------------------------------------------------------------
@settings(max_examples=850, **SETTINGS)
@given(case=F.strategy(F.mutation_case))
def test_mutated_specs(runner, case):
    """derivations/*.toml and tests/sources/*.toml with characters, tokens and lines edited."""
    _judge(runner, case)


@settings(max_examples=330, **SETTINGS)
@given(case=F.strategy(F.text_case))
def test_adversarial_toml_texts(runner, case):
    """BOM, CRLF, tabs, 200- and 5000-digit numbers, 1e308, nan, deep nesting, long products."""
    _judge(runner, case)


@settings(max_examples=330, **SETTINGS)
@given(case=F.strategy(F.dict_case))
def test_adversarial_spec_dicts(runner, case):
    """spec_from_dict with NumPy arrays, NUL characters, huge ints, names with one identifier."""
    _judge(runner, case)


@settings(max_examples=220, **SETTINGS)
@given(case=F.strategy(functools.partial(F.scalar_case, full=0.05, max_nodes=5)))
def test_grammar_scalar_networks(runner, case):
    """Scalar forward passes from the grammar: valid ones succeed, faulty ones fail cleanly."""
    _judge(runner, case)


@settings(max_examples=150, **SETTINGS)
@given(case=F.strategy(functools.partial(F.matrix_case, full=0.1)))
def test_grammar_matrix_networks(runner, case):
    """Batched forward passes with [shapes] from the grammar."""
    _judge(runner, case)


@settings(max_examples=120, **SETTINGS)
@given(case=F.strategy(F.claims_case))
def test_claims_and_classes(runner, case):
    """Generated claims (partials, dL/dw, nabla, Ng's dW, numbers, matrices) and graded classes."""
    _judge(runner, case)


@settings(max_examples=60, **SETTINGS)
@given(case=F.strategy(F.injection_case))
def test_injection_never_runs(runner, case):
    """Python, shell and template injection in every field, through every entry point."""
    _judge(runner, case)


@settings(max_examples=20, **SETTINGS)
@given(case=F.strategy(functools.partial(F.randnet_case, max_nodes=6, full=0.3)))
def test_random_networks_everywhere(runner, case):
    """tests/randnet.py networks (valid by construction) through the full pipeline."""
    _judge(runner, case)


@pytest.mark.skipif(os.environ.get("SYMBACKPROP_FUZZ_LONG") != "1",
                    reason="the long fuzzing run; set SYMBACKPROP_FUZZ_LONG=1 (or run benchmarks/fuzz.py)")
@settings(max_examples=int(os.environ.get("SYMBACKPROP_FUZZ_LONG_N", "20000")), deadline=None, derandomize=False,
          database=None, print_blob=True, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(case=F.strategy(F.any_case))
def test_fuzz_long(runner, case):
    _judge(runner, case)


# --------------------------------------------------------------------------------------
# The reproductions of the issue
# --------------------------------------------------------------------------------------
def _toml(forward: str, params, values=None, shapes=None, **extra) -> str:
    lines = ["forward = " + F.toml_str(forward), "params = " + F.toml_value(list(params))]
    lines += [f"{k} = {v if isinstance(v, str) and v[:1].isdigit() else F.toml_value(v)}" for k, v in extra.items()]
    if shapes:
        lines += ["[shapes]"] + [f"{F.toml_key(k)} = {F.toml_value(v)}" for k, v in shapes.items()]
    if values:
        lines += ["[values]"] + [f"{F.toml_key(k)} = {v if isinstance(v, str) else F.toml_value(v)}"
                                 for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _case(name, text=None, data=None, stages=F.FULL, expected=None, claims=None, grade=None, options=None):
    case = F.Case("regression", kind="dict" if data is not None else "toml", text=text or "", data=data,
                  stages=stages, expected=expected, claims=claims or [], grade=grade, options=options or {},
                  note=name)
    return pytest.param(case, id=name)


_X = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]]
_W1 = [[0.1, -0.2], [0.3, 0.4]]
_W2 = [[-0.5, 0.6], [0.7, -0.8]]


def _sum_of_nodes_expected():
    X, W1, W2 = np.array(_X), np.array(_W1), np.array(_W2)
    S = X @ W1 + X @ W2
    return {"loss": float((S * S).sum()), "gradient": {"W_1": 2 * X.T @ S, "W_2": 2 * X.T @ S}, "rel": 1e-9,
            "finite": True}


def _mlp_arrays():
    rng = np.random.default_rng(12)
    X, W, b, Y = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2), rng.uniform(size=(4, 2))
    A = 1 / (1 + np.exp(-(X @ W + b)))
    dZ = 2 / 4 * (A - Y) * A * (1 - A)
    expected = {"loss": float(((A - Y) ** 2).sum() / 4), "gradient": {"W": X.T @ dZ, "b": dZ.sum(axis=0)},
                "rel": 1e-9}
    data = {"forward": "Z = X W + b\nA = \\sigma(Z)\nL = \\frac{1}{m}\\|A - Y\\|^2", "params": ["W", "b"],
            "shapes": {"X": ["m", "n"], "W": ["n", "k"], "b": ["k"], "Y": ["m", "k"]},
            "values": {"X": X, "W": W, "b": b, "Y": Y}}
    return data, expected


_MLP, _MLP_EXPECTED = _mlp_arrays()
_SIMPLE = "z = w x\nL = z^2"
_PRODUCT = "z = w (" + " ".join("x" * 500) + ")"

REGRESSIONS = [
    _case("0w", _toml("z=0w", ["w"])),
    _case("0w-values", _toml("z=0w", ["w"], {"w": 1.5}), expected={"gradient": {"w": 0.0}, "loss": 0.0}),
    _case("100-braces", _toml("z = w(" + "{" * 100, ["w"])),
    _case("100-braces-dict", data={"forward": "z = w(" + "{" * 100, "params": ["w"]}),
    _case("product-of-500-x", _toml(_PRODUCT, ["w"])),
    _case("product-of-500-x-values", _toml(_PRODUCT, ["w"], {"w": 2.0, "x": 1.01}),
          expected={"gradient": {"w": 1.01 ** 500}, "loss": 2 * 1.01 ** 500, "rel": 1e-9}),
    _case("loss-without-the-parameter", _toml("L = (y)", ["w"], {"y": 1.0, "w": 1.0}, learning_rate=0.1)),
    _case("loss-not-depending-on-the-parameter",
          _toml("z = w x\nL = (y)", ["w"], {"y": 1.0, "w": 1.0, "x": 2.0}, learning_rate=0.1),
          expected={"gradient": {"w": 0.0}, "loss": 1.0}),
    _case("learning-rate-200-nines", _toml(_SIMPLE, ["w"], {"w": 0.5, "x": 2.0}, learning_rate="9" * 200)),
    _case("learning-rate-200-nines-zero-gradient",
          _toml("z = w x\nL = (y)", ["w"], {"y": 1.0, "w": 1.0, "x": 2.0}, learning_rate="9" * 200),
          expected={"gradient": {"w": 0.0}, "loss": 1.0}),
    _case("value-5000-digit-int", _toml(_SIMPLE, ["w"], {"w": "9" * 5000, "x": 2.0})),
    _case("value-5000-digit-float", _toml(_SIMPLE, ["w"], {"w": "1." + "0" * 4998 + "1", "x": 2.0}),
          expected={"gradient": {"w": 8.0}, "loss": 4.0, "rel": 1e-12}),
    _case("value-5000-digit-int-dict",
          data={"forward": _SIMPLE, "params": ["w"], "values": {"w": 10 ** 5000, "x": 2.0}}),
    _case("value-400-digit-int-dict", data={"forward": _SIMPLE, "params": ["w"], "values": {"w": 10 ** 400, "x": 2.0}}),
    _case("values-1e308", _toml(_SIMPLE, ["w"], {"w": 1e308, "x": 1e308})),
    _case("values-1e308-finite-product", _toml("z = w x\nL = z", ["w"], {"w": 1e308, "x": 1e-308}),
          expected={"gradient": {"w": 1e-308}, "rel": 1e-9}),
    _case("learning-rate-1e308", _toml(_SIMPLE, ["w"], {"w": 0.5, "x": 2.0}, learning_rate=1e308)),
    _case("duplicate-python-argument", _toml("z = x_{ab} w\nL = z^2", ["x_{ab}", "\\text{x\\_ab}"])),
    _case("duplicate-python-argument-values",
          _toml("z = x_{ab} w\nL = z^2", ["x_{ab}", "\\text{x\\_ab}"], {"x_{ab}": 0.5, "w": 2.0})),
    _case("parameter-listed-twice", _toml(_SIMPLE, ["w", "w"], {"w": 0.5, "x": 2.0}),
          expected={"gradient": {"w": 4.0}, "loss": 1.0}),
    _case("nul-in-a-name-dict", data={"forward": "z = w\x00 x\nL = z^2", "params": ["w\x00"]}),
    _case("nul-in-a-name-toml", _toml("z\x00 = w x\nL = z\x00^2", ["w"], {"w": 0.5, "x": 2.0})),
    _case("nul-in-a-parameter", data={"forward": _SIMPLE, "params": ["w\x00"], "values": {"w": 0.5, "x": 2.0}}),
    _case("numpy-arrays-as-values", data=_MLP, expected=_MLP_EXPECTED),
    _case("numpy-scalars-as-values", data={"forward": _SIMPLE, "params": ["w"],
                                           "values": {"w": np.float64(0.5), "x": np.array(2.0)}},
          expected={"gradient": {"w": 4.0}, "loss": 1.0}),
    _case("matrix-node-sum-of-nodes",
          _toml("Z_1 = X W_1\nZ_2 = X W_2\nS = Z_1 + Z_2\nL = \\sum S \\odot S", ["W_1", "W_2"],
                {"X": _X, "W_1": _W1, "W_2": _W2}, {"X": ["m", "n"], "W_1": ["n", "k"], "W_2": ["n", "k"]}),
          expected=_sum_of_nodes_expected()),
    _case("9^9^9", _toml("z = 9^{9^{9}} w", ["w"])),
    _case("9^9^9-values", _toml("z = 9^{9^{9}} w\nL = z^2", ["w"], {"w": 1.0})),
    _case("1e999999", _toml("z = 1e999999 w", ["w"])),
    _case("claim-9^9^9", _toml(_SIMPLE, ["w"], {"w": 0.5, "x": 2.0}), stages=("load", "verify"),
          claims=["dL/dw = 9^{9^{9}}"]),
    _case("gelu-at-minus-100", _toml("a = \\mathrm{GELU}(z)\nL = a^2", ["z"], {"z": -100.0}),
          expected={"gradient": {"z": 0.0}, "loss": 0.0, "finite": True}),
    _case("gelu-at-minus-1000", _toml("a = \\mathrm{GELU}(z)\nL = a^2", ["z"], {"z": -1000.0}),
          expected={"gradient": {"z": 0.0}, "loss": 0.0, "finite": True}),
]


def _nested(n: int):
    v = 1.0
    for _ in range(n):
        v = [v]
    return v


_MAX = ("Z = X W\nA = \\max(Z, 0.5 Z)\nL = \\sum A", {"X": ["m", "n"], "W": ["n", "k"]},
        {"X": [[1.0, 2.0]], "W": [[0.5], [-0.5]]})

#: the smallest inputs of what the fuzzer found besides the issue's list (benchmarks/fuzz.py reduces them)
FOUND = [
    _case("found-parameter-not-reaching-the-loss", data={"forward": "z = w\nL = y", "params": ["w"]}),
    _case("found-closed-forms-parameter-not-reaching-the-loss",
          data={"forward": "z = w\nL = y", "params": ["w"], "values": {"w": 1.0, "y": 2.0}},
          expected={"gradient": {"w": 0.0}, "loss": 2.0}, options={"closed_forms": True}),
    _case("found-2d-numpy-array-value",
          data={"forward": "z = w", "values": {"w": np.array([[1.0, 2.0], [3.0, 4.0]])}}),
    _case("found-loss-name-with-a-newline", data={"forward": "L = y", "loss": "'\n"}),
    _case("found-parameter-name-with-a-newline", data={"forward": "L = y", "params": ["'\n"]}),
    _case("found-rubric-target-with-a-newline", data={"forward": "L = w^2", "params": ["w"]}, stages=("load", "grade"),
          grade={"files": {"a.claims": "dL/dw = 1\n"}, "format": "text", "mapping": True,
                 "rubric": {"step": [{"name": "s", "target": "'\n'", "points": 1}]}}),
    _case("found-title-with-nul", data={"forward": "L = w^2", "params": ["w"], "title": "\x00"}),
    _case("found-matrix-max-in-the-graph", _toml(_MAX[0], ["W"], _MAX[2], _MAX[1])),
    _case("found-matrix-min-in-markdown",
          _toml(_MAX[0].replace("\\max(Z, 0.5 Z)", "\\min(Z, 1)"), ["W"], _MAX[2], _MAX[1])),
    _case("found-verify-with-an-infinite-node",
          data={"forward": "z = e^{e^{e^{10}}}\nL = (w - y)^2", "params": ["w"], "values": {"w": 0.5, "y": 1.0}},
          stages=("load", "verify"), claims=["dL/dw = 2(w - y)"]),
    # 1000 lists deep raised RecursionError in the spec's range check; 600 is as deep as every
    # Python's pickle sends to the worker (3.12's C recursion limit stops it before 1000)
    _case("found-value-nested-600-lists", data={"forward": "z = w", "values": {"w": _nested(600)}}),
    _case("found-compiled-call-overflow", data={"forward": "z = 1e200 w\nL = z^2", "params": ["w"]}),
]


@pytest.mark.parametrize("case", REGRESSIONS + FOUND)
def test_issue_12_reproductions(runner, case):
    """A one-line SymbackpropError or the right result (``case.expected``) within 10 s."""
    out = runner.run(case)
    assert not out.canary
    if not out.acceptable(case):
        pytest.fail(out.report(case), pytrace=False)
    assert out.seconds <= F.BOUND, out.report(case)


def test_the_canary_is_detected(tmp_path, monkeypatch):
    """The canary check itself works: a case that does write CANARY is reported as such."""
    import symbackprop.spec as spec_module

    original = spec_module.spec_from_toml

    def leaky(text, path=None):
        open(F.CANARY, "w").close()  # what a successful injection would do, in the working directory
        return original(text, path)

    monkeypatch.setattr(spec_module, "spec_from_toml", leaky)
    out = F.fuzz_one(F.Case("canary", text=F.WARM_SPEC), workdir=tmp_path)
    assert out.canary and out.status == "canary"
    assert not F.canary_seen(None)


def test_a_hang_outside_python_is_killed_and_reported(monkeypatch):
    """A worker that SIGALRM cannot interrupt is killed after bound + grace, and the case is a hang."""
    import signal
    import time

    import symbackprop.spec as spec_module

    def stuck(text, path=None):
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # as a long C call is, for the alarm
        time.sleep(60)

    F.warm()  # before the patch: workers fork from this process
    monkeypatch.setattr(spec_module, "spec_from_toml", stuck)
    r = F.Runner(bound=0.5, grace=1.0)
    try:
        case = F.Case("hang", text=F.WARM_SPEC, stages=("load",))
        out = r.run(case)
    finally:
        r.close()
    assert out.status == "hang" and out.hard, out.report(case)
    assert out.finding.stage == "load" and "in stuck" in out.finding.origin  # the stack dumped before the kill
    assert out.seconds < 10



def test_a_value_nested_1000_lists_deep_is_one_line():
    """The same in this process (no pickling): the range check does not recurse."""
    from symbackprop.spec import spec_from_dict

    from symbackprop.errors import SymbackpropError

    with pytest.raises(SymbackpropError, match="nested 1000 lists deep"):
        spec_from_dict({"forward": "z = w", "values": {"w": _nested(1000)}})
