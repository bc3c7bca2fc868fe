"""Every script in examples/ runs (its fast settings) and reaches the article's figures.

The examples import each other as scripts in one directory do (``from xor_mlp import …``),
so that directory goes on ``sys.path`` here.
"""
from __future__ import annotations

import importlib
import math
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

has_torch = importlib.util.find_spec("torch") is not None
has_matplotlib = importlib.util.find_spec("matplotlib") is not None


def run(name: str, **kwargs) -> dict:
    return importlib.import_module(name).main(fast=True, **kwargs)


def test_every_example_is_tested_here():
    source = Path(__file__).read_text(encoding="utf-8")
    scripts = sorted(p.stem for p in EXAMPLES.glob("*.py") if p.stem != "plotting")
    assert scripts and all(f'"{s}"' in source for s in scripts)


def test_micrograd_engine_agrees_with_the_derivation():
    assert importlib.import_module("micrograd_engine").main()["max_abs_difference"] < 1e-15


def test_worked_example_reproduces_the_article_s_hand_calculation():
    r = run("worked_example")
    assert round(r["loss"], 3) == 0.456
    assert {p: round(g, 3) for p, g in r["gradients"].items()} == {"w_1": 0.116, "w_2": -0.217,
                                                                   "b": -0.296}
    assert {p: round(v, 3) for p, v in r["updated"].items()} == {"w_1": 0.488, "w_2": -0.978,
                                                                 "b": 0.030}
    # the one number the article gets wrong: 1 + e^{0.731} = 3.077, printed as 3.078
    assert r["article_mismatches"] == ["1 + e^{-z_2}"]
    assert r["hand_vs_derived"] < 1e-15 and r["derived_vs_compiled"] < 1e-15
    assert r["loss_after"] < r["loss"]


def test_xor_mlp_fits_xor_on_the_article_s_own_trajectory(tmp_path):
    r = run("xor_mlp", plot_to=str(tmp_path / "xor.png"))
    assert r["trajectory_max_difference"] < 1e-12 and r["weight_max_difference"] < 1e-12
    assert r["losses"][0] == pytest.approx(0.268272, abs=1e-6)  # the article says 0.289543
    assert r["final_loss"] < 0.01
    assert r["accuracy"] == 1.0
    p = r["predictions"]
    assert p[0] < 0.1 and p[3] < 0.1 and p[1] > 0.9 and p[2] > 0.9
    assert (tmp_path / "xor.png").exists() == has_matplotlib


def test_gradient_check_passes_the_exported_gradient_and_catches_a_sign_slip():
    r = run("gradient_check")
    assert r["article_function_error"] > 0.5  # the article's function, as written, compares weights
    assert r["max_rel_error_he_init"] < 1e-7 and r["max_rel_error_spec_values"] < 1e-7
    assert r["max_rel_error_sign_slip"] > 1e-3  # a bug in the article's table
    assert r["library_verdict"] == "correct" and r["library_max_rel_error"] < 1e-7
    assert r["symbolic_gradients"] == pytest.approx({"w_1": 0.1164552, "w_2": -0.2165066,
                                                     "b": -0.2961550}, abs=1e-7)
    if has_torch:
        assert r["torch_max_difference"] < 1e-6
    else:
        assert r["torch_gradients"] is None


def test_training_loop_classifies_the_circle(tmp_path):
    r = run("training_loop", plot_to=str(tmp_path / "loss.png"))
    assert r["accuracy"] > 0.95
    assert r["losses"][-1] < r["losses"][0] / 5
    if has_torch:
        assert r["torch_max_difference"] < 1e-10


def test_vanishing_gradients_decay_through_sigmoids_but_not_relus(tmp_path):
    plot = tmp_path / "vanishing.png"
    r = run("vanishing_gradients", plot_to=str(plot))
    assert r["closed_form_matches"] and r["sigma_prime_factors"] == 10
    assert r["bound"] == 0.25 ** 10 and r["chain_product"] < r["bound"]
    sigmoid = r["sigmoid_norms"]
    assert all(sigmoid[k] < sigmoid[k + 1] for k in range(1, 10))  # smaller at every layer down
    assert r["sigmoid_first_over_last"] < 1e-5
    assert 0.1 < r["relu_first_over_last"] < 10
    assert plot.exists() == has_matplotlib


def test_exploding_gradients_grow_and_clipping_keeps_the_direction(tmp_path):
    r = run("exploding_gradients", plot_to=str(tmp_path / "exploding.png"))
    large = r["large_bias_norms"]
    assert large[1] > 50 * large[10] and r["growth_per_layer"] > 1.3
    he = r["he_bias_norms"]
    assert 0.2 < he[1] / he[10] < 5
    assert r["norm_before"] > 1e3 and r["norm_after"] == pytest.approx(1.0, rel=1e-12)
    assert r["cosine"] == pytest.approx(1.0, abs=1e-12)
    if has_torch:
        assert r["torch_max_difference"] < 1e-9
    plain, clipped = r["losses_plain"], r["losses_clipped"]
    assert plain[1] > 1e10 * plain[0] or math.isinf(plain[-1])
    assert all(b < a for a, b in zip(clipped, clipped[1:]))


def test_dead_relu_units_stay_dead_and_leaky_ones_do_not():
    r = run("dead_relu")
    assert r["neuron_gradients"] == {"w": 0.0, "b": 0.0}
    assert r["dead_after_bad_steps"]["Z_1"] > 0
    assert r["dead_gradient_max"] == 0.0
    assert r["relu_revived"] == 0
    assert r["dead_after_training"]["Z_1"] >= r["dead_after_bad_steps"]["Z_1"]
    assert r["leaky_below_zero"]["Z_1"] > 0 and sum(r["leaky_dead"].values()) == 0
    assert r["leaky_smallest_gradient"] > 0


def test_finite_differences_cost_grows_with_n_and_backprop_does_not(tmp_path):
    r = run("finite_differences_cost", plot_to=str(tmp_path / "cost.png"), seed=0)
    rows = r["rows"]
    assert all(row["forward_passes"] == 2 * row["n"] for row in rows)
    # the two gradients agree: each parameter's largest difference against its largest entry (the
    # normwise error, ~1e-9 here), not entry by entry, where an entry near 0 (1e-8) has a relative
    # error of ~1e-5 that is the differences' rounding noise and varies from one BLAS to another
    assert all(row["max_rel_error"] < 1e-5 for row in rows), [row["max_rel_error"] for row in rows]
    small, large = rows[0], rows[-1]
    assert large["n"] > 10 * small["n"]
    # the cost in forward passes is exact: 2n for central differences, whatever n, against
    # one forward and one backward pass (timings are printed, not asserted: see benchmarks/)


def test_plots_are_skipped_cleanly_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    plotting = importlib.import_module("plotting")
    assert plotting.pyplot(str(tmp_path / "x.png")) is None
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "x.png").exists()


def test_scripts_run_from_anywhere(tmp_path):
    script = EXAMPLES / "gradient_check.py"  # imports a sibling script
    done = subprocess.run([sys.executable, str(script), "--fast"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "梯度检验" in done.stdout


def test_every_script_has_a_docstring_main_and_command_line():
    for path in EXAMPLES.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert text.startswith('"""'), path.name
        if path.stem != "plotting":
            assert "def main(" in text and 'if __name__ == "__main__":' in text, path.name
            assert path.stem == "micrograd_engine" or "--fast" in text, path.name
