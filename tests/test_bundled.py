"""The bundled examples and the command line's conventions: `-`, --version, completion, packaging."""
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import symbackprop as sb
from symbackprop import bundled
from symbackprop.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_package_on_disk_is_packaged():
    """pyproject lists the packages by hand (derivations/ is mapped in): keep the list whole."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "symbackprop").rglob("__init__.py")}
    assert on_disk | {"symbackprop.derivations"} == listed


def test_the_bundled_examples_are_the_derivations():
    assert bundled.names() == sorted(p.stem for p in (ROOT / "derivations").glob("*.toml"))
    assert {"seed_scalar", "seed_matrix"} <= set(bundled.names())
    for name in bundled.names():
        assert sb.derive(name).loss == bundled.read_spec(name).network.loss


def test_examples_command(capsys):
    code, out, _ = run(capsys, "examples")
    assert code == 0 and all(name in out for name in bundled.names())
    assert "seed_scalar" in out and "(+ claims)" in out
    code, out, _ = run(capsys, "examples", "seed_scalar")
    assert code == 0 and out == (ROOT / "derivations" / "seed_scalar.toml").read_text(encoding="utf-8")
    code, out, _ = run(capsys, "examples", "seed_scalar", "--claims")
    assert code == 0 and "\\frac{\\partial L}{\\partial w_1}" in out
    code, _, err = run(capsys, "examples", "seed_scalr")
    assert code == 2 and "did you mean 'seed_scalar'" in err and err.count("\n") == 1
    code, _, err = run(capsys, "examples", "micrograd_ops", "--claims")
    assert code == 2 and "no claims file" in err


def test_a_spec_from_stdin_text_or_a_name(capsys, monkeypatch):
    import io

    text = (ROOT / "derivations" / "seed_scalar.toml").read_text(encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code, out, _ = run(capsys, "derive", "-", "--format", "json")
    assert code == 0 and round(json.loads(out)["gradients"]["w_1"]["value"], 3) == 0.116
    assert round(sb.derive(text).gradient_value("w_1"), 3) == 0.116  # TOML text
    assert round(sb.derive("seed_scalar").gradient_value("w_1"), 3) == 0.116  # a bundled name
    code, out, _ = run(capsys, "verify", "seed_scalar", "--claim", "dL/dw_1 = 0.116")
    assert code == 0 and "✓" in out
    code, _, err = run(capsys, "derive", "seed_scalr")
    assert code == 2 and "did you mean the bundled example 'seed_scalar'" in err


def test_dash_o_is_standard_output(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "derive", "seed_scalar", "--format", "markdown", "-o", "-")
    assert code == 0 and out.startswith("#") and not (tmp_path / "-").exists()
    code, out, _ = run(capsys, "export", "seed_scalar", "-o", "-")
    assert code == 0 and "def loss_and_grad" in out and not (tmp_path / "-").exists()
    code, out, _ = run(capsys, "derive", "seed_scalar", "--format", "latex", "-o", "-")
    assert code == 0 and "\\documentclass" not in out  # a fragment, as without -o


def test_a_byte_order_mark_is_read(tmp_path, capsys):
    spec = tmp_path / "bom.toml"
    spec.write_bytes("\ufeffforward = 'L = w x'\nparams = ['w']\n[values]\nw = 2.0\nx = 3.0\n".encode())
    code, out, err = run(capsys, "derive", spec)
    assert code == 0 and err == "" and "3.000" in out


def test_version_and_completion(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"symbackprop {sb.__version__}"
    with pytest.raises(SystemExit):
        main(["--print-completion", "bash"])
    out = capsys.readouterr().out
    assert "derive" in out and "verify" in out and "examples" in out


def test_the_wheel_ships_examples_license_types_and_schemas(tmp_path):
    import importlib.util

    # with the installed setuptools when there is one (a Python 3.12+ venv has none: pip then
    # builds in an isolated environment, fetching setuptools from the package index)
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("symbackprop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("symbackprop/py.typed", "symbackprop/derivations/seed_scalar.toml",
                   "symbackprop/derivations/seed_scalar.claims", "symbackprop/schemas/verify.schema.json",
                   "symbackprop/render/symbackprop.sty"):
        assert needed in names, needed
    assert any(n.endswith("licenses/LICENSE") for n in names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Classifier: Programming Language :: Python :: 3.13" in meta and "Project-URL" in meta


def test_exit_codes_of_every_command(capsys, tmp_path):
    """0 success, 1 a verdict against you, 2 bad input or usage, 3 an unreadable claim (verify)."""
    bad = tmp_path / "bad.toml"
    bad.write_text("forward = 'z = (w'\nparams = ['w']\n", encoding="utf-8")
    out = tmp_path / "out"
    cases = [
        (["derive", "seed_scalar"], 0), (["derive", bad], 2), (["derive", "nowhere.toml"], 2),
        (["graph", "seed_scalar", "-o", out.with_suffix(".dot")], 0), (["graph", bad, "-o", out.with_suffix(".dot")], 2),
        (["export", "seed_scalar", "-o", out.with_suffix(".py")], 0), (["export", bad], 2),
        (["check", "seed_scalar"], 0), (["check", bad], 2),
        (["examples"], 0), (["examples", "nothing_like_it"], 2),
        (["verify", "seed_scalar", "--claim", "dL/dw_1 = 0.116"], 0),
        (["verify", "seed_scalar", "--claim", "dL/dw_1 = 0.126"], 1),
        (["verify", "seed_scalar", "--claim", "dL/dw_1 = ("], 3),
        (["verify", bad, "--claim", "dL/dw = 1"], 2),
        (["grade", "seed_scalar", tmp_path / "nobody"], 2),
        (["derive"], 2), (["no-such-command"], 2),
    ]
    for argv, code in cases:
        try:
            got = main([str(a) for a in argv])
        except SystemExit as e:  # argparse's own usage errors
            got = e.code
        capsys.readouterr()
        assert got == code, (argv, got)
    help_text = subprocess.run([sys.executable, "-m", "symbackprop", "--help"], capture_output=True,
                               text=True, timeout=120).stdout
    assert "exit status: 0 success; 1 a verdict against you" in help_text
