"""PDF: the standalone LaTeX document compiled with pdflatex in a temporary directory.

Without TeX the ``.tex`` is written next to the requested PDF and a
:class:`~symbackprop.errors.SymbackpropError` says how to install TeX Live.
"""
from __future__ import annotations

import re
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from symbackprop.errors import SymbackpropError
from symbackprop.progress import progress
from symbackprop.render.latex import render_latex

#: the Debian packages a PDF needs (TikZ, adjustbox, CJK with the gbsn font)
INSTALL_TEX = ("apt-get install texlive-latex-base texlive-latex-recommended "
               "texlive-latex-extra texlive-pictures latex-cjk-chinese "
               "latex-cjk-chinese-arphic-gbsn00lp")
TIMEOUT = 180  #: seconds for one compilation


#: kpathsea settings: no \write18, and \openin/\openout only below the working directory
SAFE_TEX = {"shell_escape": "f", "openin_any": "p", "openout_any": "p"}


def tex_available() -> bool:
    """Whether pdflatex is on the PATH."""
    return shutil.which("pdflatex") is not None


def write_pdf(d, path: Path | str, *, lang: str | None = None, closed_forms: bool = False,
              heading: str = "section") -> None:
    """Write the worked solution of ``d`` as a PDF at ``path`` (``heading``: the level of its
    headings, as for :func:`~symbackprop.render.latex.render_latex`)."""
    path = Path(path)
    tex = render_latex(d, lang=lang, standalone=True, closed_forms=closed_forms, heading=heading)
    compile_pdf(tex, path)


def compile_pdf(tex: str, path: Path | str, *, files: dict[str, str] | None = None) -> None:
    """Compile the LaTeX document ``tex`` to the PDF ``path`` (latexmk when present).

    ``files`` are written beside the document first, ``{name: text}``: the fragments it
    inputs, ``symbackprop.sty``.
    """
    path = Path(path)
    if not tex_available():
        source = path.with_suffix(".tex")
        _write(source, tex)
        raise SymbackpropError(f"pdflatex not found, so no PDF; wrote {source} instead. "
                               f"Install TeX Live: {INSTALL_TEX}")
    with tempfile.TemporaryDirectory(prefix="symbackprop-") as tmp:
        work = Path(tmp)
        for name, text in (files or {}).items():
            if Path(name).name != name or name == "doc.tex":
                raise SymbackpropError(f"cannot compile with a file named '{name}' beside the "
                                       "document; give a plain file name")
            (work / name).write_text(text, encoding="utf-8")
        (work / "doc.tex").write_text(tex, encoding="utf-8")
        # no shell escape, and no file read or written outside the working directory: a spec's
        # title and names reach the document (TeX's own switches, inherited through latexmk)
        pdflatex = ["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"]
        if shutil.which("latexmk"):
            runs = [["latexmk", "-pdf", "-quiet", "-pdflatex=pdflatex -no-shell-escape %O %S",
                     "-interaction=nonstopmode", "-halt-on-error", "doc.tex"]]
        else:  # a second run resolves the figure reference
            runs = [pdflatex, pdflatex]
        with progress(f"{runs[0][0]} {path.name}", len(runs), delay=0) as tick:  # a long wait
            for i, cmd in enumerate(runs, 1):
                tick(i)
                try:
                    done = subprocess.run(cmd, cwd=work, stdin=subprocess.DEVNULL, capture_output=True,
                                          timeout=TIMEOUT, env={**os.environ, **SAFE_TEX})
                except subprocess.TimeoutExpired:
                    raise SymbackpropError(f"pdflatex took longer than {TIMEOUT} s; "
                                           f"gave up on {path}") from None
                if done.returncode != 0 or not (work / "doc.pdf").exists():
                    source = path.with_suffix(".tex")
                    _write(source, tex)
                    error = _first_error(work / "doc.log")
                    hint = f"; install TeX Live: {INSTALL_TEX}" if "not found" in error else ""
                    raise SymbackpropError(f"pdflatex failed ({error}); the LaTeX is in {source}{hint}")
        try:
            shutil.copyfile(work / "doc.pdf", path)
        except OSError as e:
            raise SymbackpropError(f"cannot write {path}: {e.strerror}") from None


def _first_error(log: Path) -> str:
    """The first ``! …`` line of a TeX log, with its line number when there is one."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no log"
    m = re.search(r"^! (.*)$", text, re.M)
    if not m:
        return "see the log"
    line = re.search(r"^l\.(\d+)", text[m.end():], re.M)
    return m.group(1).strip().rstrip(".") + (f" at line {line.group(1)}" if line else "")


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise SymbackpropError(f"cannot write {path}: {e.strerror}") from None
