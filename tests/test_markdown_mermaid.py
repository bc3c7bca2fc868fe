"""The Markdown's computational graph parses as Mermaid, as GitHub and GitLab render it.

The ``mermaid`` block of the Markdown of every spec in ``derivations/`` goes
through Mermaid's own parser (npm ``mermaid``, with ``jsdom`` for its DOM) in one
node process; any parse error fails the test.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import symbackprop as sb

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / "tests" / "mermaid_check.mjs"
SPECS = sorted((ROOT / "derivations").glob("*.toml"))


def _mermaid_unavailable() -> str | None:
    """Why Mermaid cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    probe = subprocess.run(["node", "--input-type=module", "-e", "await import('mermaid'); await import('jsdom')"],
                           cwd=ROOT, capture_output=True)
    if probe.returncode != 0:
        return "the npm packages mermaid and jsdom are not installed (run `npm install`)"
    return None


pytestmark = pytest.mark.skipif(_mermaid_unavailable() is not None,
                                reason=str(_mermaid_unavailable()))


def test_every_graph_parses_as_mermaid():
    diagrams, where = [], []
    for spec in SPECS:
        for lang in ("en", "zh"):
            markdown = sb.derive(spec).to_markdown(lang=lang)
            for m in re.finditer(r"```mermaid\n(.*?)\n```", markdown, re.S):
                diagrams.append(m.group(1))
                where.append(f"{spec.name} ({lang})")
    assert len(diagrams) >= len(SPECS)
    run = subprocess.run(["node", str(CHECKER)], input=json.dumps(diagrams), cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    errors = json.loads(run.stdout)
    assert not errors, [f"{where[e['index']]}: {e['error'][:300]}" for e in errors]


def test_a_broken_diagram_is_caught():
    run = subprocess.run(["node", str(CHECKER)], input=json.dumps(['flowchart LR\n  n0["broken']),
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert len(json.loads(run.stdout)) == 1
