"""The worked solutions checked in under ``derivations/`` are what the code writes today.

Each ``derivations/NAME.toml`` has ``NAME.md`` and ``NAME.tex`` equal to a fresh
rendering, and a ``NAME.pdf``. When this fails after a deliberate change to how
solutions read, run ``python tools/regenerate_derivations.py`` and commit the result.
"""
from __future__ import annotations

import difflib
import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "derivations").glob("*.toml"))
FIX = "run `python tools/regenerate_derivations.py` and commit the result"

_spec = importlib.util.spec_from_file_location("regenerate_derivations",
                                               ROOT / "tools" / "regenerate_derivations.py")
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)


def test_there_are_worked_examples():
    assert len(SPECS) >= 4


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_checked_in_markdown_and_latex_are_fresh(spec):
    for suffix, fresh in regen.renderings(spec).items():
        path = spec.with_suffix(suffix)
        assert path.exists(), f"{path.name} is missing; {FIX}"
        stored = path.read_text(encoding="utf-8")
        if stored != fresh:
            diff = "".join(list(difflib.unified_diff(
                stored.splitlines(True), fresh.splitlines(True), f"{path.name} (checked in)",
                f"{path.name} (fresh)"))[:40])
            pytest.fail(f"{path.name} is out of date; {FIX}\n{diff}")


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_checked_in_pdf_exists_and_its_latex_compiles(spec, tmp_path):
    pdf = spec.with_suffix(".pdf")
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF"), f"{pdf.name}: {FIX}"
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    shutil.copy(spec.with_suffix(".tex"), tmp_path / "doc.tex")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, timeout=180)
    assert run.returncode == 0, run.stdout[-2000:]
