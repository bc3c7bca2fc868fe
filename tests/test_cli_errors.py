"""Bad input: one line naming the spot, exit status 2, never a traceback, nothing executed."""
import subprocess
import sys

import pytest

from symbackprop.cli import main

GOOD = '''
forward = """
z = w x
L = (z - y)^2
"""
params = ["w"]
[values]
w = 0.5
x = 2.0
y = 1.0
'''

BAD = {
    "unbalanced braces": ('forward = """\nz = w_{1 x\nL = z^2\n"""\nparams = ["w_1"]', ["line 2"]),
    "used before defined": ('forward = """\nz = w a\na = \\\\sigma(x)\nL = z^2\n"""\nparams = ["w"]',
                            ["line 2", "'a'", "before it is defined"]),
    "redefinition": ('forward = """\nz = w x\nz = w y\nL = z^2\n"""\nparams = ["w"]',
                     ["line 3", "'z'", "defined again"]),
    "cycle": ('forward = """\nz = w z\nL = z^2\n"""\nparams = ["w"]', ["line 2", "'z'", "cycle"]),
    "unknown function": ('forward = """\nz = \\\\foo(w x)\nL = z^2\n"""\nparams = ["w"]',
                         ["line 2", "foo"]),
    "unknown mathrm function": ('forward = """\nz = \\\\mathrm{Swish}(w x)\nL = z^2\n"""\nparams = ["w"]',
                                ["line 2", "Swish"]),
    "empty spec": ("", ["forward"]),
    "empty forward": ('forward = ""\nparams = []', ["forward"]),
    "param not a leaf": ('forward = """\nz = w x\nL = z^2\n"""\nparams = ["z"]', ["'z'", "leaf"]),
    "param not in network": ('forward = """\nz = w x\nL = z^2\n"""\nparams = ["q"]', ["'q'"]),
    "non-numeric value": ('forward = """\nz = w x\nL = z^2\n"""\nparams = ["w"]\n[values]\nw = "abc"\nx = 1',
                          ["'w'", "number"]),
    "broken TOML": ('forward = """\nz = w x\n', ["TOML"]),
    "python code": ('forward = """\nz = __import__(\'os\').system(\'echo pwned\')\nL = z^2\n"""\nparams = []',
                    ["line 2"]),
    "lambda": ('forward = """\nz = lambda w: w\nL = z^2\n"""\nparams = ["w"]', ["line 2"]),
    "missing value": ('forward = """\nz = w x\nL = z^2\n"""\nparams = ["w"]\n[values]\nw = 1.0', ["'x'"]),
    "unknown key": ('forward = "L = w^2"\nparams = ["w"]\nlearnin_rate = 0.1', ["learnin_rate"]),
    "dangling operator": ('forward = """\nz = w x +\nL = z^2\n"""\nparams = ["w"]', ["line 2"]),
    "no equals": ('forward = """\nz w x\nL = z^2\n"""\nparams = ["w"]', ["line 2"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_spec_is_one_line_exit_2(tmp_path, capsys, case):
    text, needles = BAD[case]
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    assert main(["derive", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def test_missing_file(capsys, tmp_path):
    assert main(["derive", str(tmp_path / "nope.toml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_nothing_is_executed(tmp_path):
    marker = tmp_path / "pwned"
    spec = tmp_path / "evil.toml"
    spec.write_text(f'forward = """\nz = __import__("os").system("touch {marker}")\nL = z^2\n"""\nparams = []')
    result = subprocess.run([sys.executable, "-m", "symbackprop", "derive", str(spec)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not marker.exists()


def test_good_spec_runs_and_unknown_option_is_exit_2(tmp_path, capsys):
    spec = tmp_path / "good.toml"
    spec.write_text(GOOD)
    assert main(["derive", str(spec)]) == 0
    assert "∂L/∂w" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["derive", str(spec), "--format", "docx"])
    assert e.value.code == 2


def test_output_format_from_extension(tmp_path, derivations):
    for ext, needle in [(".md", "$$"), (".json", '"gradients"'), (".tex", r"\begin{document}")]:
        out = tmp_path / f"out{ext}"
        assert main(["derive", str(derivations / "seed_scalar.toml"), "-o", str(out)]) == 0
        assert needle in out.read_text()


@pytest.mark.parametrize("forward,needle", [
    (r"L = \ln(-w)", "node 'L' (line 2) is not a real number at the given values"),
    (r"L = \sqrt{w - 1}", "not a real number"),
    (r"z = \frac{1}{w - 0.5}" + "\nL = z^2", "node 'z' (line 2) is infinite"),
])
def test_values_outside_the_domain_name_the_node_and_line(tmp_path, capsys, forward, needle):
    spec = tmp_path / "domain.toml"
    spec.write_text(f"forward = '''\n{forward}\n'''\nparams = [\"w\"]\n[values]\nw = 0.5\n")
    assert main(["derive", str(spec)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err


@pytest.mark.parametrize("rhs", ["(" * 3000 + "w" + ")" * 3000, "-" * 5000 + "w"])
def test_deep_nesting_is_one_line_with_a_column_not_a_recursion_error(tmp_path, capsys, rhs):
    spec = tmp_path / "deep.toml"
    spec.write_text(f"forward = 'L = {rhs}'\nparams = ['w']\n")
    assert main(["derive", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "nested more than 100 levels deep at column 101" in err
    assert err.count("\n") == 1 and len(err) < 400  # the line is quoted around the column only
