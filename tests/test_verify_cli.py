"""`symbackprop verify`: exit 0 all correct, 1 some incorrect, 2 an error (one line on stderr)."""
import json
import subprocess
import sys

import pytest

from symbackprop.cli import main

SPEC = "derivations/seed_scalar.toml"


@pytest.fixture
def spec(derivations):
    return str(derivations / "seed_scalar.toml")


def run(capsys, *argv):
    code = main(["verify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_all_correct_exit_0(capsys, spec):
    code, out, err = run(capsys, spec, "--claim", r"\frac{\partial L}{\partial w_1} = 0.116",
                         "--claim", r"dL/dw_2 = \frac{\partial L}{\partial z_2} a_1")
    assert code == 0 and err == ""
    assert out.count("✓ correct") == 2 and "All 2 claims are correct." in out


def test_incorrect_exit_1_with_diagnosis(capsys, spec):
    code, out, err = run(capsys, spec, "--claim", r"\frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2}")
    assert code == 1 and err == ""
    assert "✗ incorrect" in out and "missing factor a_2·(1 - a_2) = ∂a_2/∂z_2" in out


def test_claims_file_names_the_first_wrong_step(capsys, spec, derivations):
    code, out, _ = run(capsys, spec, "--claims", str(derivations / "seed_scalar_mistakes.claims"))
    assert code == 1
    assert out.strip().splitlines()[-1] == "First wrong step: line 10 (∂L/∂z_2)."
    code, out, _ = run(capsys, spec, "--claims", str(derivations / "seed_scalar.claims"))
    assert code == 0 and "All 31 claims are correct." in out


def test_json(capsys, spec):
    code, out, err = run(capsys, spec, "--format", "json", "--claim", "dL/dw_1 = 0.126", "--claim", "dL/dw_1 = 0.117")
    data = json.loads(out)
    assert code == 1 and err == ""
    assert [(c["target"], c["verdict"], c["diagnosis"]["kind"]) for c in data["claims"]] == [
        ("∂L/∂w_1", "incorrect", "value"), ("∂L/∂w_1", "incorrect", "rounding")]
    assert data["claims"][0]["diagnosis"]["message"].startswith("wrong value")
    assert data["claims"][1]["diagnosis"]["message"].startswith("rounded wrongly")


def test_chinese(capsys, spec):
    code, out, _ = run(capsys, spec, "--lang", "zh", "--claim", "dL/dw_1 = -0.116")
    assert code == 1 and "✗ 错误" in out and "符号错误" in out


@pytest.mark.parametrize("claim,needles", [
    (r"\frac{\partial L}{\partial w_1} = 2(a_2 - y", ["unbalanced '('", "column 36"]),
    (r"\frac{\partial L}{\partial q} = 1", ["unknown name 'q'", "w_1, x, z_1"]),
    (r"\frac{\partial L}{\partial w_1} = __import__('os').system('echo pwned')", ["Python"]),
    ("no equals sign here", ["needs '='"]),
])
def test_malformed_claim_is_one_line_exit_3(capsys, spec, claim, needles):
    """A claim that cannot be read is the submitter's input: exit 3, not 2 (a broken spec)."""
    code, out, err = run(capsys, spec, "--claim", claim)
    assert code == 3
    assert err.count("\n") == 1 and err.startswith("symbackprop: error: ") and "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


def test_error_wins_over_incorrect_and_the_rest_is_still_checked(capsys, spec):
    code, out, err = run(capsys, spec, "--claim", "dL/dw_1 = 0.126", "--claim", "dL/dq = 1",
                         "--claim", "dL/dw_1 = 0.116")
    assert code == 3 and err.count("\n") == 1
    assert "✗ incorrect" in out and "✓ correct" in out


def test_claims_file_error_names_the_line(capsys, spec, tmp_path):
    f = tmp_path / "bad.claims"
    f.write_text("% ok\ndL/dw_1 = 0.116\ndL/dw_1 = \\sigma(\n")
    code, _, err = run(capsys, spec, "--claims", str(f))
    assert code == 3 and err.startswith("symbackprop: error: line 3: ")


@pytest.mark.parametrize("argv,needle", [
    ([], "nothing to check"),
    (["--claims", "/nonexistent.claims"], "not found"),
])
def test_usage_errors(capsys, spec, argv, needle):
    code, _, err = run(capsys, spec, *argv)
    assert code == 2 and needle in err and err.count("\n") == 1


def test_missing_spec(capsys):
    code, _, err = run(capsys, "/nonexistent.toml", "--claim", "dL/dw = 1")
    assert code == 2 and "not found" in err


def test_no_traceback_in_a_real_process(derivations):
    """The installed entry point, end to end: a malformed claim, exit 3, one line."""
    p = subprocess.run([sys.executable, "-m", "symbackprop", "verify", str(derivations / "seed_scalar.toml"),
                        "--claim", r"\frac{\partial L}{\partial w_1} = \left(a_2"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3 and "Traceback" not in p.stderr and p.stderr.count("\n") == 1


def test_broken_spec_is_2_and_a_claims_file_from_stdin(capsys, spec, tmp_path, monkeypatch):
    import io

    bad = tmp_path / "bad.toml"
    bad.write_text('forward = """z = w x"""\nparams = ["q"]\n')
    code, _, err = run(capsys, str(bad), "--claim", "dz/dw = x")
    assert code == 2 and err.count("\n") == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("dL/dw_1 = 0.116\ndL/dw_1 = 0.126\n"))
    code, out, _ = run(capsys, spec, "--claims", "-")
    assert code == 1 and "line 2" in out
