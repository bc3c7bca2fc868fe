"""The Markdown's math and Mermaid graph render in a real browser, every character intact.

The Markdown of every spec in ``derivations/`` and ``tests/sources/`` (scalar and
matrix, English and Chinese) goes through Debian's Chromium (Playwright's Python package
drives it; see ``tests/browser.py``) with the npm-installed KaTeX and Mermaid, one browser
and one page for the whole module, each batch rendered in one call:

- every ``$$…$$`` and ``$…$`` renders with no ``.katex-error`` node;
- every Mermaid diagram renders with no error, and each node label's text, read back
  from the SVG, equals the text of the label we wrote: a matrix's ``;`` between rows
  included, which an inline ``style='color:#…'`` used to make Mermaid drop; each label
  fits its box, and each gradient row is red by its ``classDef``.

Without chromium, playwright or ``node_modules`` the tests skip, except on CI
(``CI=true``), where ``.ci/run`` installs them and a skip would hide a broken install.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import symbackprop as sb
from browser import Browser, unavailable
from markdown_parts import math_blocks, mermaid_blocks, mermaid_labels
from symbackprop.render.graph import GRADIENT_COLOR, _mermaid_text

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "derivations").glob("*.toml")) + sorted((ROOT / "tests" / "sources").glob("*.toml"))
LANGS = ("en", "zh")


def _rgb(color: str) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def browser():
    reason = unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: .ci/run should have installed it")
        pytest.skip(reason)
    with Browser() as b:
        yield b
        assert not b.errors, f"the page threw: {b.errors}"


@pytest.fixture(scope="module")
def markdowns(tmp_path_factory) -> dict[str, str]:
    """``{"spec.toml (lang[, closed forms])": markdown}`` of every spec, and of the rendering
    matrix's specs (every function, on a node and on an expression, scalar and matrix)."""
    from test_render_matrix import RUNS, spec_toml

    out = {}
    folder = tmp_path_factory.mktemp("functions")
    for form, family, lang in RUNS:
        path = folder / f"{form}_{family}.toml"
        path.write_text(spec_toml(form, family), encoding="utf-8")
        out[f"functions {form} {family} ({lang})"] = sb.derive(path, lang=lang).to_markdown(
            lang=lang, closed_forms=True)
    for spec in SPECS:
        for lang in LANGS:
            d = sb.derive(spec, lang=lang)  # as `symbackprop derive` does
            out[f"{spec.relative_to(ROOT).as_posix()} ({lang})"] = d.to_markdown(lang=lang)
            out[f"{spec.relative_to(ROOT).as_posix()} ({lang}, closed forms)"] = d.to_markdown(
                lang=lang, closed_forms=True)
    return out


def test_every_math_block_renders_with_katex(browser, markdowns):
    where: dict[tuple[str, bool], list[str]] = {}  # each distinct block once
    for name, md in markdowns.items():
        blocks = math_blocks(md)
        assert blocks, name
        for b in blocks:
            where.setdefault((b["tex"], b["display"]), []).append(f"{name} line {b['line']}")
    blocks = [{"tex": tex, "display": display} for tex, display in where]
    errors = browser.render_math(blocks)
    assert len(errors) == len(blocks)
    failed = [f"{where[(b['tex'], b['display'])][0]}: {e}\n    {b['tex'][:200]}"
              for b, e in zip(blocks, errors) if e]
    assert not failed, f"{len(failed)} of {len(blocks)} math blocks fail in KaTeX:\n" + "\n".join(failed)


def test_every_mermaid_label_renders_intact(browser, markdowns):
    where: dict[str, list[str]] = {}  # each distinct diagram once
    for name, md in markdowns.items():
        diagrams = mermaid_blocks(md)
        assert len(diagrams) == 1, name
        where.setdefault(diagrams[0], []).append(name)
    diagrams = list(where)
    results = browser.render_mermaid(diagrams)
    red = _rgb(GRADIENT_COLOR)
    problems, matrix_rows = [], 0
    for source, result in zip(diagrams, results):
        name = where[source][0]
        if "error" in result:
            problems.append(f"{name}: Mermaid fails: {result['error'][:300]}")
            continue
        wrote = mermaid_labels(source)
        drawn = {n["id"]: n for n in result["nodes"]}
        assert wrote and set(drawn) == set(wrote), f"{name}: nodes drawn {sorted(drawn)}"
        for node_id, text in wrote.items():
            n = drawn[node_id]
            if n["text"] != text:
                problems.append(f"{name} {node_id}: wrote {text!r}, drawn {n['text']!r}")
            if not n["fits"]:
                problems.append(f"{name} {node_id}: the label {text!r} overflows its box")
            if "∂" in text and n["gradientColor"] != red:
                problems.append(f"{name} {node_id}: gradient drawn in {n['gradientColor']}")
            matrix_rows += bool(re.search(r"\[[^\]]*;[^\]]*\]", n["text"] or ""))
    assert not problems, "\n".join(problems)
    assert matrix_rows >= 3, "no gradient matrix of several rows was drawn: the test lost its point"


def test_a_broken_diagram_and_bad_math_are_caught(browser):
    """The checks fail when they should: a Mermaid syntax error, an unknown TeX command."""
    broken, good = browser.render_mermaid(['flowchart LR\n  n0["broken', 'flowchart LR\n  n0["a; b"]'])
    assert "error" in broken
    assert [n["text"] for n in good["nodes"]] == ["a; b"]
    assert browser.render_math([{"tex": r"\nocommand x", "display": True},
                                {"tex": r"\frac{a}{b}", "display": False}])[1] is None
    assert browser.render_math([{"tex": r"\left( a", "display": False}])[0]


def test_a_classdef_coloured_matrix_keeps_its_rows(browser):
    """Why labels colour by classDef: with an inline ``style='color:#…'`` on its line,
    Mermaid 11's entity pass drops the line's last ';' (``[1, 2; 3, 4]`` is drawn
    ``[1, 2 3, 4]``); a class colours it and leaves the text alone."""
    (classed,) = browser.render_mermaid([
        "flowchart LR\n  n0[\"<span class='gradient'><span>[1, 2; 3, 4]</span></span>\"]\n"
        "  classDef gradient color:#c0392b"])
    assert classed["nodes"][0]["text"] == "[1, 2; 3, 4]"
    assert classed["nodes"][0]["gradientColor"] == _rgb(GRADIENT_COLOR)


def test_escaped_characters_are_drawn_as_written(browser):
    """Quotes, '#', '&', '<', '>' and an apostrophe, as graph._mermaid_text escapes them."""
    texts = ['a "b"', "#1; x", "f′ & g < h", "it's", "1[·>0]", "#quot; ; #"]
    source = "flowchart LR\n" + "\n".join(f'  n{i}_op(("{_mermaid_text(t)}"))' for i, t in enumerate(texts))
    (result,) = browser.render_mermaid([source])
    assert "error" not in result, result
    assert {n["id"]: n["text"] for n in result["nodes"]} == {f"n{i}_op": t for i, t in enumerate(texts)}


def test_a_worked_solution_renders_as_a_page(browser, tmp_path):
    """The whole page of a matrix solution: prose, math and graph, as a screenshot."""
    md = sb.derive(ROOT / "derivations" / "seed_matrix.toml").to_markdown()
    png = tmp_path / "seed_matrix.png"
    problems = browser.screenshot_markdown(md, png)
    assert problems == {"math": [], "mermaid": []}
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 50_000
    assert browser.page.locator(".katex-error").count() == 0
    assert browser.page.locator(".mermaid-diagram svg g.node").count() >= 5
    browser.load()  # back to the empty page for the other tests
