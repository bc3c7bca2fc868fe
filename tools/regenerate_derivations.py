#!/usr/bin/env python3
"""Regenerate the worked solutions checked in next to every ``derivations/*.toml``.

For each spec ``derivations/NAME.toml`` this writes

* ``NAME.md``  — the Markdown worked solution,
* ``NAME.tex`` — the standalone LaTeX document (with the TikZ computational graph),
* ``NAME.pdf`` — that document compiled with pdflatex (skipped, with a note, without TeX),

all as ``symbackprop derive NAME.toml -o NAME.{md,tex,pdf}`` would write them.
``tests/test_derivations_in_sync.py`` fails when a checked-in ``.md`` or ``.tex``
differs from a fresh rendering; run this script after changing how solutions read:

    python tools/regenerate_derivations.py            # every spec
    python tools/regenerate_derivations.py seed_scalar  # some of them
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"

# pdflatex stamps the date and a random ID into a PDF; pin them so that a PDF only
# changes when its content does (2026-01-01 00:00 UTC)
os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")
os.environ.setdefault("FORCE_SOURCE_DATE", "1")


def derivation(spec_path: Path, lang: str | None = None):
    """The derivation of a spec with the spec's own settings, as ``symbackprop derive`` makes it."""
    from symbackprop import derive

    return derive(spec_path, lang=lang)


def renderings(spec_path: Path) -> dict[str, str]:
    """``{".md": markdown, ".tex": standalone LaTeX}`` of one spec."""
    d = derivation(spec_path)
    return {".md": d.to_markdown(), ".tex": d.to_latex(standalone=True)}


def regenerate(spec_path: Path, *, pdf: bool = True) -> list[Path]:
    """Write the ``.md``, ``.tex`` and (with TeX) ``.pdf`` of one spec; the paths written."""
    from symbackprop.render.pdf import compile_pdf, tex_available

    written = []
    texts = renderings(spec_path)
    for suffix, text in texts.items():
        out = spec_path.with_suffix(suffix)
        out.write_text(text, encoding="utf-8")
        written.append(out)
    if pdf and tex_available():
        out = spec_path.with_suffix(".pdf")
        compile_pdf(texts[".tex"], out)
        written.append(out)
    return written


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing
    from symbackprop.render.pdf import INSTALL_TEX, tex_available

    names = set(argv)
    specs = [p for p in sorted(DERIVATIONS.glob("*.toml")) if not names or p.stem in names]
    if names - {p.stem for p in specs}:
        print(f"no such spec: {', '.join(sorted(names - {p.stem for p in specs}))}", file=sys.stderr)
        return 2
    if not tex_available():
        print(f"pdflatex not found: writing .md and .tex only (install TeX Live: {INSTALL_TEX})",
              file=sys.stderr)
    for spec in specs:
        for path in regenerate(spec):
            print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
