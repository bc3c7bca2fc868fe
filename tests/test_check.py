"""The gradient check: the article's verdicts, independent oracles, the CLI's exit codes."""
import json
import math

import pytest
from sympy.core.cache import clear_cache

from symbackprop import functions as F
from symbackprop import load_spec
from symbackprop.check import (
    autograd_gradient, central_differences, gradient_check, random_point, relative_error, verdict,
)
from symbackprop.cli import main
from symbackprop.errors import SymbackpropError
from symbackprop import numeric
from symbackprop.reader.forward import network_from_latex

from conftest import DERIVATIONS
from helpers import central_difference, rel_err

SPECS = sorted(DERIVATIONS.glob("*.toml"))

NO_VALUES = """
title = "No values"
forward = '''
z = w x + b
a = \\tanh(z)
L = (a - y)^2
'''
params = ["w", "b"]
"""


def check_json(capsys, *argv):
    code = main(["check", *map(str, argv), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def wrong_sigmoid_rule():
    """σ' = a(1 + a): the sign slip the article warns about."""
    clear_cache()  # SymPy caches derivatives, and so does the evaluator
    numeric.textbook_derivative.cache_clear()
    saved = F.sigmoid.__dict__["derivative"]
    F.sigmoid.derivative = staticmethod(lambda x, out: out * (1 + out))
    yield
    F.sigmoid.derivative = saved
    clear_cache()
    numeric.textbook_derivative.cache_clear()


# ---- the article's measure ---------------------------------------------------------
def test_relative_error_and_the_articles_verdicts():
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1.0, -1.0) == pytest.approx(1.0)
    assert relative_error(2e-9, 0.0) == pytest.approx(2e-9 / (2e-9 + 1e-8))
    assert relative_error(1.0, math.nan) == math.inf
    assert [verdict(e) for e in (1e-7, 9.9e-6, 1e-5, 5e-4, 1e-3, 1.1e-3, math.inf)] == [
        "correct", "correct", "suspicious", "suspicious", "suspicious", "bug", "bug"]


# ---- the check on every worked example ------------------------------------------------
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_worked_example_passes(path, capsys):
    spec = load_spec(path)
    code, report = check_json(capsys, path)
    assert code == 0
    assert report["verdict"] == "correct" and report["max_rel_error"] < 1e-5
    assert set(report["params"]) == set(spec.network.params)
    for p, entry in report["params"].items():
        for key in ("finite_difference", "autograd", "analytic", "rel_error", "compiled"):
            assert key in entry, key
        assert entry["rel_errors"]["autograd"] <= 1e-12
        assert entry["rel_errors"]["finite_difference"] <= 1e-7


def test_analytic_and_numeric_values_are_the_right_ones(derivations):
    spec = load_spec(derivations / "seed_scalar.toml")
    report = gradient_check(spec.network, spec.values)
    w1 = report.params["w_1"]
    assert w1.analytic == pytest.approx(0.116455, abs=1e-6)  # the article's figure
    truth = central_difference(spec.network, report.point, "w_1")  # 40-digit forward pass
    assert rel_err(w1.numeric["finite_difference"], truth) < 1e-9
    assert rel_err(w1.numeric["autograd"], truth) < 1e-9
    assert report.random == [] and report.point["x"] == 2.0


def test_autograd_oracle_ignores_the_derivative_rules(wrong_sigmoid_rule, derivations):
    """The oracle is independent: a wrong local rule changes the analytic gradient only."""
    spec = load_spec(derivations / "seed_scalar.toml")
    point, _, sizes = random_point(spec.network, given=spec.values)
    assert autograd_gradient(spec.network, point, sizes)["w_1"] == pytest.approx(0.1164552, abs=1e-7)
    assert central_differences(spec.network, point, sizes)["w_1"] == pytest.approx(0.1164552, abs=1e-7)


def test_a_wrong_derivative_is_reported_as_a_bug(wrong_sigmoid_rule, derivations, capsys):
    code, report = check_json(capsys, derivations / "mazur_2_2_2.toml")
    assert code == 1
    assert report["verdict"] == "bug" and report["max_rel_error"] > 1e-3
    assert report["params"]["w_5"]["verdict"] == "bug"
    assert report["params"]["w_5"]["rel_errors"]["autograd"] > 1e-3


def test_text_report(derivations, capsys):
    assert main(["check", str(derivations / "seed_scalar.toml")]) == 0
    out = capsys.readouterr().out
    assert "finite difference" in out and "autograd" in out
    assert "max relative error" in out and ": correct" in out


# ---- points ------------------------------------------------------------------------
def test_random_values_are_seeded(tmp_path, capsys):
    spec = tmp_path / "no_values.toml"
    spec.write_text(NO_VALUES)
    code, first = check_json(capsys, spec, "--seed", "4")
    assert code == 0 and first["seed"] == 4
    assert sorted(first["random_values"]) == ["b", "w", "x", "y"]
    _, again = check_json(capsys, spec, "--seed", "4")
    _, other = check_json(capsys, spec, "--seed", "5")
    assert again["point"] == first["point"] != other["point"]


def test_missing_values_are_drawn_where_the_loss_is_finite():
    net = network_from_latex(r"L = \log(w) + \sqrt{x}", params=["w"])
    point, drawn, _ = random_point(net, seed=0)
    assert point["w"] > 0 and point["x"] > 0 and drawn == ["w", "x"]
    assert gradient_check(net, seed=0).passed


# ---- oracles -----------------------------------------------------------------------
def test_pytorch_is_compared_when_installed(derivations):
    pytest.importorskip("torch")
    spec = load_spec(derivations / "micrograd_ops.toml")
    report = gradient_check(spec.network, spec.values)
    assert "torch" in report.sources
    # micrograd checks these figures against PyTorch
    assert report.params["a"].numeric["torch"] == pytest.approx(138.8338, abs=1e-4)
    assert report.params["b"].errors["torch"] <= 1e-12


def test_unknown_oracle():
    net = network_from_latex("L = (w x)^2", params=["w"])
    with pytest.raises(SymbackpropError, match="oracle"):
        gradient_check(net, oracles=["tensorflow"])


# ---- bad input -----------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["missing.toml"], ["{spec}", "--eps", "0"], ["{spec}", "--eps", "nan"]])
def test_bad_input_exits_2_with_one_line(argv, derivations, capsys):
    spec = str(derivations / "seed_scalar.toml")
    assert main(["check", *(a.format(spec=spec) for a in argv)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("symbackprop: error:") and "\n" not in err


def test_bad_option_exits_2(derivations):
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(derivations / "seed_scalar.toml"), "--format", "yaml"])
    assert exit_.value.code == 2


def test_broken_spec_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("forward = 'L = (w x'\nparams = ['w']\n")
    assert main(["check", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err
