"""The README's own examples run: its TOML parses and loads, its shell sessions print what it
shows, its Python runs, and the output it quotes is what `derive` writes."""
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import symbackprop as sb
from symbackprop.spec import spec_from_toml

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = [(m.group(1), m.group(2), README[:m.start()].count("\n") + 1)
          for m in re.finditer(r"^```(\w*)\n(.*?)^```", README, re.S | re.M)]


def blocks(lang):
    return [pytest.param(text, id=f"line{line}") for kind, text, line in BLOCKS if kind == lang]


@pytest.mark.parametrize("text", blocks("toml"))
def test_toml_blocks_are_valid(text):
    data = tomllib.loads(text)
    if "forward" in data:
        spec = spec_from_toml(text)  # a whole spec: it loads
        assert spec.network.loss


def test_the_article_spec_is_the_bundled_one():
    text = next(t for kind, t, _ in BLOCKS if kind == "toml" and "z_1 = w_1 x" in t)
    bundled = tomllib.loads((ROOT / "derivations" / "seed_scalar.toml").read_text())
    bundled.pop("title")  # the README shows the spec without its title
    assert tomllib.loads(text) == bundled


def test_the_matrix_spec_matches_the_bundled_one():
    text = next(t for kind, t, _ in BLOCKS if kind == "toml" and "Z_1 = X W_1 + b_1" in t)
    mine, bundled = tomllib.loads(text), tomllib.loads((ROOT / "derivations" / "seed_matrix.toml").read_text())
    assert mine["forward"].split() == bundled["forward"].split()
    assert {k: v for k, v in mine["shapes"].items()} == {k: bundled["shapes"][k] for k in mine["shapes"]}


def test_the_quoted_worked_solution_is_what_derive_writes():
    """The text block after the article's spec, with its '...' elisions, is taken from the output."""
    quoted = next(t for kind, t, _ in BLOCKS if kind == "" and t.startswith("Forward pass"))
    out = sb.derive(ROOT / "derivations" / "seed_scalar.toml").to_text()
    for chunk in quoted.split("...\n"):
        assert chunk.strip() in out, chunk


def _sessions():
    for kind, text, line in BLOCKS:
        if kind == "" and text.startswith("$ symbackprop") and "\n" in text.strip():
            yield pytest.param(text, id=f"line{line}")


@pytest.mark.parametrize("text", list(_sessions()))
def test_shell_sessions_print_what_the_readme_shows(text):
    lines = text.rstrip("\n").split("\n")
    command = lines[0][2:]
    i = 1
    while command.endswith("\\"):
        command = command[:-1] + lines[i].strip()
        i += 1
    argv = shlex.split(command)
    done = subprocess.run([sys.executable, "-m", "symbackprop", *argv[1:]], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.stdout.rstrip("\n").split("\n") == lines[i:], done.stderr


def test_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for kind, text, line in BLOCKS:
        if kind != "python":
            continue
        if "solution.json" in text:  # it reads the JSON that `derive -o solution.json` writes
            monkeypatch.chdir(tmp_path)
            (tmp_path / "solution.json").write_text(json.dumps(sb.derive(ROOT / "derivations" / "seed_scalar.toml")
                                                               .to_json()))
            code = text
        else:
            monkeypatch.chdir(ROOT)
            code = text
        namespace: dict = {}
        exec(compile(code, f"README.md:{line}", "exec"), namespace)  # the README's own code, not user input
        for m in re.finditer(r"^(\S.*?)\s+#\s*(-?\d+\.\d+)\.\.\.\s*$", code, re.M):  # `expr  # 0.1164...`
            value = eval(m.group(1), namespace)  # an expression of the README's own code
            assert str(value).startswith(m.group(2)), (m.group(1), value)
