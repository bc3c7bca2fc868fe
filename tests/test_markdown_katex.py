"""The Markdown's math parses with KaTeX, as GitHub/VS Code/Jupyter-style renderers need.

Every ``$$…$$`` block and every inline ``$…$`` of the Markdown of every spec in
``derivations/`` and ``tests/sources/``, in English and Chinese, goes through KaTeX
(``strict`` mode, ``throwOnError``) in one node process; any parse error fails the test.
``tests/test_browser_render.py`` renders the same math in Chromium.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from markdown_parts import math_blocks

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / "tests" / "katex_check.js"
SPECS = sorted((ROOT / "derivations").glob("*.toml")) + sorted((ROOT / "tests" / "sources").glob("*.toml"))

_tool = importlib.util.spec_from_file_location("regenerate_derivations",
                                               ROOT / "tools" / "regenerate_derivations.py")
regen = importlib.util.module_from_spec(_tool)
_tool.loader.exec_module(regen)


def _katex_available() -> str | None:
    """Why KaTeX cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs)"
    probe = subprocess.run(["node", "-e", "require('katex')"], cwd=ROOT, capture_output=True)
    if probe.returncode != 0:
        return "the npm package katex is not installed (run `npm install` in the repository)"
    return None


pytestmark = pytest.mark.skipif(_katex_available() is not None,
                                reason=str(_katex_available()))


def katex_errors(blocks: list[dict]) -> list[str]:
    run = subprocess.run(["node", str(CHECKER)], cwd=ROOT, capture_output=True, text=True,
                         input=json.dumps([{"tex": b["tex"], "display": b["display"]}
                                           for b in blocks]), timeout=120)
    assert run.returncode == 0, run.stderr
    return [f"line {blocks[e['index']]['line']}: {e['error']}" for e in json.loads(run.stdout)]


def test_checker_catches_an_error():
    assert katex_errors([{"tex": r"\left( a", "display": True, "line": 1}])
    assert not katex_errors([{"tex": r"\frac{\partial L}{\partial w_{1}}", "display": False,
                              "line": 1}])


def test_extracts_inline_and_display_math():
    md = "Since $a = b$, and $c$:\n\n$$\nx = 1\n$$\n\n| $p$ | $q$ |\n"
    tex = [(b["tex"], b["display"]) for b in math_blocks(md)]
    assert tex == [("x = 1", True), ("a = b", False), ("c", False), ("p", False), ("q", False)]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_markdown_math_parses_with_katex(spec, lang):
    d = regen.derivation(spec, lang)  # as `symbackprop derive` does
    for closed_forms in (False, True):
        md = d.to_markdown(lang=lang, closed_forms=closed_forms)
        blocks = math_blocks(md)
        assert blocks
        errors = katex_errors(blocks)
        assert not errors, f"{spec.name} ({lang}): KaTeX rejects:\n" + "\n".join(errors)


def test_verify_and_grade_markdown_math_parses(tmp_path):
    """The claims a verify report shows as math: the bundled worked solutions, right and wrong."""
    import symbackprop as sb

    texts = []
    for spec, claims in (("seed_scalar", "seed_scalar.claims"), ("seed_scalar", "seed_scalar_mistakes.claims"),
                         ("seed_matrix", "seed_matrix.claims"), ("mazur_2_2_2", "mazur_2_2_2.claims")):
        report = sb.verify(spec, (ROOT / "derivations" / claims).read_text(encoding="utf-8"))
        texts += [report.to_markdown(), report.to_markdown("zh")]
    blocks = [b for text in texts for b in math_blocks(text)]
    assert len(blocks) > 50
    assert katex_errors(blocks) == []
