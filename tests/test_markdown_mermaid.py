"""The Markdown's computational graph parses as Mermaid, as GitHub and GitLab render it.

The ``mermaid`` block of the Markdown of every spec in ``derivations/`` and
``tests/sources/`` goes through Mermaid's own parser (npm ``mermaid``, with ``jsdom``
for its DOM) in one node process; any parse error fails the test. Parsing does not
draw: ``tests/test_browser_render.py`` renders the diagrams in Chromium and reads each
label back. The label checks here need neither: no inline ``style`` (Mermaid's entity
pass drops the last ``;`` of such a line, a matrix's row separator), colours by
``classDef``, every character of a matrix gradient in the source.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import symbackprop as sb
from markdown_parts import label_text, mermaid_blocks, mermaid_labels
from symbackprop.render.blocks import Compact
from symbackprop.render.graph import GRADIENT_COLOR, _html_number, annotated_graph

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / "tests" / "mermaid_check.mjs"
SPECS = sorted((ROOT / "derivations").glob("*.toml")) + sorted((ROOT / "tests" / "sources").glob("*.toml"))


def _mermaid_unavailable() -> str | None:
    """Why Mermaid cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    probe = subprocess.run(["node", "--input-type=module", "-e", "await import('mermaid'); await import('jsdom')"],
                           cwd=ROOT, capture_output=True)
    if probe.returncode != 0:
        return "the npm packages mermaid and jsdom are not installed (run `npm install`)"
    return None


needs_mermaid = pytest.mark.skipif(_mermaid_unavailable() is not None,
                                   reason=str(_mermaid_unavailable()))


def _diagrams() -> tuple[list[str], list[str]]:
    diagrams, where = [], []
    for spec in SPECS:
        for lang in ("en", "zh"):
            for diagram in mermaid_blocks(sb.derive(spec, lang=lang).to_markdown(lang=lang)):
                diagrams.append(diagram)
                where.append(f"{spec.name} ({lang})")
    return diagrams, where


@needs_mermaid
def test_every_graph_parses_as_mermaid():
    diagrams, where = _diagrams()
    assert len(diagrams) >= len(SPECS)
    run = subprocess.run(["node", str(CHECKER)], input=json.dumps(diagrams), cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    errors = json.loads(run.stdout)
    assert not errors, [f"{where[e['index']]}: {e['error'][:300]}" for e in errors]


@needs_mermaid
def test_a_broken_diagram_is_caught():
    run = subprocess.run(["node", str(CHECKER)], input=json.dumps(['flowchart LR\n  n0["broken']),
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert len(json.loads(run.stdout)) == 1


def test_labels_use_classes_not_inline_styles():
    diagrams, where = _diagrams()
    for diagram, name in zip(diagrams, where):
        assert "style=" not in diagram and not re.search(r"^\s*style\s", diagram, re.M), name
        assert f"classDef gradient color:{GRADIENT_COLOR}" in diagram, name
        for line in diagram.splitlines():
            # Mermaid's entity pass strips the last ';' of a line matching this
            assert not re.search(r"style.*:\S*#.*;", line), f"{name}: {line}"


@pytest.mark.parametrize("name", ["seed_matrix", "matrix_bce_xor"])
def test_a_matrix_gradient_keeps_every_row_and_entry(name):
    """The label of a written-out matrix gradient holds all its entries, ';' between rows."""
    d = sb.derive(ROOT / "derivations" / f"{name}.toml")
    (diagram,) = mermaid_blocks(d.to_markdown())
    labels = mermaid_labels(diagram)
    graph = annotated_graph(d)
    ids = {n.name: f"n{i}" for i, n in enumerate(graph.nodes)}
    matrices = [n for n in graph.nodes if isinstance(n.gradient, Compact) and len(n.gradient.rows) > 1]
    assert matrices, "no gradient of several rows: the test lost its point"
    for n in matrices:
        rows = "; ".join(", ".join(label_text(_html_number(e)) for e in r) for r in n.gradient.rows)
        assert f"[{rows}]" in labels[ids[n.name]], labels[ids[n.name]]


def test_label_text_decodes_what_we_escape():
    """Quotes, '#', '&', '<' and an apostrophe survive Mermaid's escaping (see graph._mermaid_html)."""
    from symbackprop.render.graph import _mermaid_text

    for text in ['a "b"', "#1; x", "f′ & g < h", "it's", "1[·>0]"]:
        escaped = _mermaid_text(text)
        assert '"' not in escaped and not re.search(r"&#", escaped), escaped
        assert label_text(escaped) == text
