"""`symbackprop check` on matrix specs: every entry against central differences and autograd."""
import json

import numpy as np
import pytest

from symbackprop import load_spec
from symbackprop.check import (gradient_check, autograd_gradient, central_differences,
                               random_point, max_relative_error)
from symbackprop.cli import main
from symbackprop.backprop import backprop as matrix_backprop
from symbackprop import ir as O
from symbackprop import rules as R

from test_codegen_matrix import MATRIX_SPECS


def check_json(capsys, *argv):
    code = main(["check", *map(str, argv), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def wrong_matmul_rule():
    """∂L/∂W = 2 Aᵀ G for Z = A W: a factor the article's formula does not have."""
    saved = R.VJPS[O.MatMul]
    R.VJPS[O.MatMul] = {0: saved[0], 1: R.Rule("matmul_right", lambda g, n, ans: O.scale(
        2, O.matmul(O.transpose(n.a), g)), "a wrong rule", "错误法则")}
    yield
    R.VJPS[O.MatMul] = saved


@pytest.mark.parametrize("path", MATRIX_SPECS, ids=lambda p: p.stem)
def test_every_matrix_spec_passes(path, capsys):
    spec = load_spec(path)
    code, report = check_json(capsys, path)
    assert code == 0
    assert report["verdict"] == "correct" and report["passed"] and report["max_rel_error"] < 1e-5
    assert set(report["params"]) == set(spec.network.params)
    sources = {"finite_difference", "autograd", "compiled"}
    for p, entry in report["params"].items():
        assert set(entry["rel_errors"]) >= sources
        assert entry["verdict"] == "correct"
        assert entry["rel_errors"]["finite_difference"] <= 1e-7
        assert entry["rel_errors"]["autograd"] <= 1e-12 and entry["rel_errors"]["compiled"] <= 1e-12
        assert np.shape(entry["analytic"]) == tuple(entry["shape"])  # a bias is a vector
        assert np.shape(entry["finite_difference"]) == tuple(entry["shape"])
    assert set(report["sizes"]) == set(spec.network.dims)


def test_the_numbers_are_the_derivations(derivations):
    spec = load_spec(derivations / "seed_matrix.toml")
    report = gradient_check(spec.network, spec.values)
    d = matrix_backprop(spec.network, spec.values)
    for p in d.params:
        np.testing.assert_array_equal(report.params[p].analytic, d.gradient_value(p))
    assert report.random == [] and report.sizes == {"m": 4, "n_1": 4, "n_2": 1, "n_in": 2}
    assert report.loss == pytest.approx(d.loss_value)


def test_central_differences_are_the_articles(derivations):
    """(L(w + ε) − L(w − ε)) / 2ε per entry, ε = 1e-5, agreeing with autograd to the method's accuracy."""
    spec = load_spec(derivations / "seed_matrix.toml")
    point, _, sizes = random_point(spec.network, given=spec.values)
    numeric = central_differences(spec.network, point, sizes)
    oracle = autograd_gradient(spec.network, point, sizes)
    for p in spec.network.params:
        assert numeric[p].shape == np.shape(point[p])
        assert max_relative_error(numeric[p], oracle[p]) < 1e-8


def test_a_broken_vjp_rule_is_caught(wrong_matmul_rule, derivations, capsys):
    code, report = check_json(capsys, derivations / "seed_matrix.toml")
    assert code == 1
    assert report["verdict"] == "bug" and report["max_rel_error"] > 1e-3
    for p in ("W_1", "W_2"):  # the weights go through the broken rule, the biases do not
        assert report["params"][p]["verdict"] == "bug"
        assert report["params"][p]["rel_errors"]["autograd"] > 1e-3
        assert report["params"][p]["rel_errors"]["finite_difference"] > 1e-3
    for p in ("b_1", "b_2"):
        assert report["params"][p]["verdict"] == "correct"


def test_the_oracles_ignore_the_vjp_rules(wrong_matmul_rule, derivations):
    spec = load_spec(derivations / "seed_matrix.toml")
    point, _, sizes = random_point(spec.network, given=spec.values)
    oracle = autograd_gradient(spec.network, point, sizes)
    numeric = central_differences(spec.network, point, sizes)
    broken = matrix_backprop(spec.network, point).gradient_value("W_2")
    assert max_relative_error(broken, 2 * oracle["W_2"]) < 1e-12
    assert max_relative_error(numeric["W_2"], oracle["W_2"]) < 1e-8


def test_torch_is_compared_when_installed(derivations):
    pytest.importorskip("torch")
    spec = load_spec(derivations / "matrix_bce_xor.toml")
    report = gradient_check(spec.network, spec.values)
    assert "torch" in report.sources
    assert all(c.errors["torch"] <= 1e-12 for c in report.params.values())


def test_random_values_and_sizes_are_seeded(derivations, capsys):
    path = derivations / "matrix_softmax.toml"  # shapes only, no values
    _, first = check_json(capsys, path, "--seed", "3")
    _, again = check_json(capsys, path, "--seed", "3")
    _, other = check_json(capsys, path, "--seed", "4")
    assert first["point"] == again["point"] and first["sizes"] == again["sizes"]
    assert first["point"] != other["point"]
    assert sorted(first["random_values"]) == ["W_1", "W_2", "X", "Y", "b_1", "b_2"]
    assert len(set(first["sizes"].values())) == len(first["sizes"])  # every dimension its own size
    assert first["seed"] == 3


def test_given_values_fix_the_sizes_of_the_rest(derivations):
    spec = load_spec(derivations / "seed_matrix.toml")
    given = {k: v for k, v in spec.values.items() if k != "W_2"}
    report = gradient_check(spec.network, given, seed=1)
    assert report.random == ["W_2"] and report.point["W_2"].shape == (4, 1)
    assert report.passed


def test_text_report(derivations, capsys):
    assert main(["check", str(derivations / "seed_matrix.toml")]) == 0
    out = capsys.readouterr().out
    assert "vs finite difference" in out and "vs autograd" in out and "vs compiled" in out
    assert "W_1    2×4" in out and "sizes: m = 4, n_1 = 4, n_2 = 1, n_in = 2" in out
    assert "correct" in out


def test_bad_input_exits_2(derivations, capsys, tmp_path):
    assert main(["check", str(derivations / "seed_matrix.toml"), "--eps", "0"]) == 2
    assert "eps" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text((derivations / "seed_matrix.toml").read_text().replace("b_1 = [0.0, 0.1, -0.1, 0.0]",
                                                                          "b_1 = [0.0, 0.1]"))
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "b_1" in err and "Traceback" not in err
