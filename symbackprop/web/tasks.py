r"""The playground's work, as run inside a worker process (:mod:`symbackprop.web.pool`).

Each task takes plain data (the spec as TOML *text*, options) and returns plain data;
the server process runs no symbolic work itself. :func:`run` calls a task by name and turns a
user's mistake into ``("error", {"error": message, "line": N, "column": C})``, the line
and column those of the spec text (1-based), so that the page can put the error where it
is. A spec is read from its text only (``spec_from_toml``): a request can never name a
file, and the only files read are the bundled examples, by their listed names.

>>> status, out = run("derive", {"spec": "forward = 'L = w x'\nparams = ['w']\n[values]\nw = 2.0\nx = 3.0",
...                              "format": "json"})
>>> status, json.loads(out[1])["loss"]["value"]
('ok', 6.0)
>>> status, body = run("derive", {"spec": "forward = '''\nz = w x\nL = (z - y\n'''\nparams = ['w']"})
>>> status, body["line"], body["column"]  # the '(' of line 3
('error', 3, 5)
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

from symbackprop.errors import SymbackpropError

#: formats of ``/api/derive``: the CLI's, and ``html`` (the page's fragment)
FORMATS = ("json", "markdown", "latex", "text", "pdf", "html")
MEDIA = {"json": "application/json", "markdown": "text/markdown; charset=utf-8",
         "latex": "application/x-tex; charset=utf-8", "text": "text/plain; charset=utf-8",
         "pdf": "application/pdf", "html": "application/json", "svg": "image/svg+xml",
         "dot": "text/vnd.graphviz; charset=utf-8", "python": "text/x-python; charset=utf-8"}
#: what a worker's environment sets before anything runs: one BLAS thread, and TeX and Graphviz
#: kept in their directory. ``shell_escape=f`` is pdflatex's ``-no-shell-escape`` (kpathsea
#: reads texmf.cnf variables from the environment, and latexmk's runs inherit it);
#: ``openin_any=p``/``openout_any=p`` refuse absolute paths and ``..`` for reading and writing;
#: ``GV_FILE_PATH`` confines the images Graphviz may load to a directory that is not one.
HARDENED_ENV = {"shell_escape": "f", "openin_any": "p", "openout_any": "p",
                "GV_FILE_PATH": "/dev/null/", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1"}
LANGS = ("en", "zh")
MODES = ("exact", "hand")
READINGS = ("given", "inputs", "general")
BACKENDS = ("numpy", "jax")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


# ---- where an error is --------------------------------------------------------------------
_LINE = re.compile(r"\bline (\d+)(?:, column (\d+))?")
_QUOTED = re.compile(r"at column (\d+) in '(.*)'\s*$", re.S)
_KEY = re.compile(r"^(?:value of |)'([^']+)'")


def locate(message: str, spec: str) -> dict:
    """``{"line": N, "column": C}`` (1-based, in ``spec``) of the error ``message``, as far as it
    says: TOML's ``(at line 3, column 5)``, the reader's ``line 3: … at column 1 in '(z - y'``
    (a column in the quoted expression, found in the line), or a value named by its key.

    >>> spec = "forward = '''\\nz = w x\\nL = (z - y\\n'''"
    >>> locate("line 3: unbalanced '(': never closed at column 1 in '(z - y'", spec)
    {'line': 3, 'column': 5}
    >>> locate("broken TOML: Expected '=' (at line 2, column 7)", spec)
    {'line': 2, 'column': 7}
    >>> locate("value of 'w' must be a number, got 'a'", "[values]\\nw = 'a'")
    {'line': 2}
    """
    lines = spec.splitlines()
    m = _LINE.search(message)
    if m is None:  # a value or key named in quotes: its line in the TOML
        k = _KEY.search(message)
        if k:
            key = re.compile(r'^\s*["\']?' + re.escape(k.group(1)) + r'["\']?\s*=')
            for i, text in enumerate(lines, 1):
                if key.match(text):
                    return {"line": i}
        return {}
    out = {"line": int(m.group(1))}
    if m.group(2):
        out["column"] = int(m.group(2))
        return out
    q = _QUOTED.search(message)
    if q and 1 <= out["line"] <= len(lines):
        column, quoted = int(q.group(1)), q.group(2)
        core = quoted.strip("…")
        found = lines[out["line"] - 1].find(core) if core else -1
        if found >= 0:
            # an elided quotation starts CONTEXT characters before the column
            from symbackprop.errors import LatexSyntaxError

            before = LatexSyntaxError.CONTEXT if quoted.startswith("…") else column - 1
            out["column"] = found + before + 1
    return out


def error_json(e: BaseException, spec: str = "") -> dict:
    """The error body: ``{"error": message}`` with the line and column where they are known."""
    if isinstance(e, RecursionError):
        message = "expression nested too deeply"
    elif isinstance(e, MemoryError):
        message = "the request needs more memory than the playground allows; try a smaller network"
    elif isinstance(e, OverflowError):  # as the command line says it
        message = f"too large to compute ({type(e).__name__}: {e})"
    else:
        message = str(e).replace("\n", " ")
    return {"error": message, **locate(message, spec or "")}


# ---- arguments ----------------------------------------------------------------------------
def _choice(value, choices, what: str, default=None):
    if value is None or value == "":
        return default
    if value not in choices:
        raise SymbackpropError(f"unknown {what} {value!r}; use one of {', '.join(choices)}")
    return value


def _digits(value) -> Optional[int]:
    if value is None or value == "":
        return None
    try:
        digits = int(value)
    except (TypeError, ValueError):
        raise SymbackpropError(f"digits must be a whole number from 0 to 15, got {value!r}") from None
    if isinstance(value, bool) or not 0 <= digits <= 15 or str(digits) != str(value).strip():
        raise SymbackpropError(f"digits must be a whole number from 0 to 15, got {value!r}")
    return digits


def _spec(text):
    from symbackprop.spec import spec_from_toml

    if not isinstance(text, str) or not text.strip():
        raise SymbackpropError("no spec: write the network's TOML (forward = '''…''', params = […])")
    return spec_from_toml(text.lstrip("\ufeff"))


def _derivation(spec: str, lang, digits, mode):
    from symbackprop.derive import derive

    s = _spec(spec)
    lang = _choice(lang, LANGS, "language")
    d = derive(s, digits=_digits(digits), mode=_choice(mode, MODES, "mode"), lang=lang)
    return s, d, lang or s.lang


def origin(name) -> str:
    """The file name a module or document says it came from: ``NAME.toml`` or ``spec``."""
    return f"{name}.toml" if isinstance(name, str) and _NAME.fullmatch(name) else "spec"


# ---- the tasks ----------------------------------------------------------------------------
def derive_task(spec: str = "", format: str = "json", lang=None, digits=None, mode=None, expand=None,
                standalone=True, **_) -> tuple[str, Any]:
    """``(media type, body)`` of the worked solution in ``format``: the CLI's JSON, Markdown,
    LaTeX (a whole document unless ``standalone`` is false), text, PDF bytes, or for the page
    ``{"html", "title", "lang", "loss"}``."""
    format = _choice(format, FORMATS, "format", "json")
    expand = _choice(expand, ("nodes", "leaves"), "expand") if expand not in (True, False) else (
        "nodes" if expand else None)
    s, d, lang = _derivation(spec, lang, digits, mode)
    options = {"lang": lang, "closed_forms": expand or False}
    if format == "json":
        return MEDIA[format], json.dumps(d.to_json(**options), ensure_ascii=False, indent=2) + "\n"
    if format == "markdown":
        return MEDIA[format], d.to_markdown(**options)
    if format == "latex":
        return MEDIA[format], d.to_latex(standalone=standalone not in (False, "false", "0"), **options)
    if format == "text":
        return MEDIA[format], d.to_text(**options)
    if format == "pdf":
        return MEDIA[format], _pdf(d, options)
    from symbackprop.web.html import solution_html

    return MEDIA[format], {"html": solution_html(d, **options), "title": d.network.title, "lang": lang,
                           "loss": {"name": d.loss, "value": d.loss_value}}


def _pdf(d, options) -> bytes:
    from symbackprop.render.pdf import tex_available, write_pdf

    if not tex_available():
        raise SymbackpropError("pdflatex is not installed where the playground runs, so no PDF; "
                               "download the .tex instead")
    with tempfile.TemporaryDirectory(prefix="symbackprop-web-") as tmp:
        out = Path(tmp) / "solution.pdf"
        try:
            write_pdf(d, out, **options)
        except SymbackpropError as e:  # it names files in the temporary directory: not for the page
            raise SymbackpropError(str(e).replace(str(out.with_suffix(".tex")), "the .tex")) from None
        return out.read_bytes()


def verify_task(spec: str = "", claims: str = "", lang=None, reading=None, **_) -> tuple[str, Any]:
    """The CLI's ``verify --format json`` of a claims text: ``Report.to_json()``, each verdict
    with its line (an empty text gives an empty report)."""
    from symbackprop.verification import Verifier
    from symbackprop.verification.claims import read_claims
    from symbackprop.verification.report import Report

    if not isinstance(claims, str):
        raise SymbackpropError("claims must be text, one claim per line")
    s = _spec(spec)
    verifier = Verifier(s, lang=_choice(lang, LANGS, "language"),
                        reading=_choice(reading, READINGS, "reading", "given"))
    report = Report([verifier.check(c) for c in read_claims(claims, numbered=True)], verifier.lang)
    return MEDIA["json"], report.to_json()


def export_task(spec: str = "", backend=None, name=None, **_) -> tuple[str, Any]:
    """The CLI's ``export``: a module with ``loss_and_grad`` that needs only NumPy (or JAX)."""
    from symbackprop.backprop import backprop
    from symbackprop.codegen.module import module_source

    s = _spec(spec)
    return MEDIA["python"], module_source(backprop(s.network), _choice(backend, BACKENDS, "backend", "numpy"),
                                          origin=origin(name))


def graph_task(spec: str = "", format="svg", lang=None, digits=None, **_) -> tuple[str, Any]:
    """The CLI's ``graph``: the computational graph drawn by Graphviz (SVG), or its DOT source."""
    from symbackprop.render.graph import write_graph

    format = _choice(format, ("svg", "dot"), "graph format", "svg")
    _, d, lang = _derivation(spec, lang, digits, None)
    with tempfile.TemporaryDirectory(prefix="symbackprop-web-") as tmp:
        out = Path(tmp) / f"graph.{format}"
        write_graph(d, out, lang=lang)
        data = out.read_bytes()
    return MEDIA[format], data if format == "svg" else data.decode("utf-8")


def info_task(**_) -> tuple[str, Any]:
    """What this worker can do (PDF needs pdflatex, SVG Graphviz's dot), and its environment's
    hardening, for ``/api/info`` and the tests."""
    return MEDIA["json"], {"pdf": shutil.which("pdflatex") is not None, "svg": shutil.which("dot") is not None,
                           "pid": os.getpid(), "env": {k: os.environ.get(k) for k in HARDENED_ENV}}


TASKS: dict[str, Callable[..., tuple[str, Any]]] = {
    "derive": derive_task, "verify": verify_task, "export": export_task, "graph": graph_task,
    "info": info_task}


def run(name: str, kwargs: dict) -> tuple[str, Any]:
    """``("ok", (media type, body))`` or ``("error", {"error", "line"?, "column"?})``; an
    unexpected exception is ``("bug", text)`` (the server logs it, the page gets a short
    message), never a traceback in a response."""
    spec = kwargs.get("spec") if isinstance(kwargs.get("spec"), str) else ""
    try:
        return "ok", TASKS[name](**kwargs)
    except (SymbackpropError, RecursionError, MemoryError, OverflowError) as e:
        return "error", error_json(e, spec)
    except Exception as e:  # a bug of symbackprop's: reported, the worker goes on
        import traceback

        return "bug", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
