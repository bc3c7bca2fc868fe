r"""A rendering test matrix: every function symbackprop reads, in every output format.

Each function — σ, tanh, ReLU, Leaky ReLU, ELU, GELU, softplus, exp, ln, sqrt, |·|,
powers, quotients and softmax — is applied to a named node (``a_1 = \tanh(z)``) and to an
expression (``c_1 = \tanh(w x - b)``), in scalar form and in matrix form (softmax in matrix
form only; a matrix power is the Hadamard square, as the matrix dialect writes it). The
specs are small TOML texts written here, a few functions of one family to a spec, so that
the LaTeX compiles in a few batches:

* the text output holds no LaTeX (no backslash at all), and Markdown and JSON are written;
* the standalone document (``derive SPEC -o x.pdf``) compiles with pdflatex, one per spec;
* the fragments (``derive SPEC --format latex``) compile ``\input`` into one minimal document
  whose preamble holds only what the fragments declare, with ``symbackprop.sty`` as
  ``--sty DIR`` writes it, and the indicator ``\mathbb{1}`` is not AMS's ⊮.

Two families are also rendered in Chinese (``--lang zh``). Without pdflatex the LaTeX
tests are skipped.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from symbackprop import derive
from symbackprop.cli import main
from symbackprop.errors import SymbackpropError
from symbackprop.render.latex import INDICATOR, fragment_preamble, render_latex, sty_text

ROOT = Path(__file__).resolve().parent.parent
needs_tex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")

#: function -> (scalar: on a node, on an expression; matrix: on a node, on an expression)
FUNCTIONS = {
    "sigmoid": (r"\sigma(z)", r"\sigma(w x + b)", r"\sigma(Z)", r"\sigma(X W + b)"),
    "tanh": (r"\tanh(z)", r"\tanh(w x - b)", r"\tanh(Z)", r"\tanh(X W - b)"),
    "softplus": (r"\mathrm{softplus}(z)", r"\mathrm{softplus}(w x + b)",
                 r"\mathrm{softplus}(Z)", r"\mathrm{softplus}(X W + b)"),
    "relu": (r"\mathrm{ReLU}(z)", r"\mathrm{ReLU}(w x + b)",
             r"\mathrm{ReLU}(Z)", r"\mathrm{ReLU}(X W + b)"),
    "leaky_relu": (r"\mathrm{LeakyReLU}(z)", r"\mathrm{LeakyReLU}(b - w x)",
                   r"\mathrm{LeakyReLU}(Z)", r"\mathrm{LeakyReLU}(X W - b)"),
    "elu": (r"\mathrm{ELU}(z)", r"\mathrm{ELU}(b - w x)", r"\mathrm{ELU}(Z)", r"\mathrm{ELU}(X W - b)"),
    "gelu": (r"\mathrm{GELU}(z)", r"\mathrm{GELU}(w x + b)",
             r"\mathrm{GELU}(Z)", r"\mathrm{GELU}(X W + b)"),
    "exp": (r"\exp(z)", r"e^{w x - b}", r"\exp(Z)", r"\exp(X W - b)"),
    "ln": (r"\ln z", r"\ln(w x + b)", r"\ln Z", r"\ln(X W + b)"),
    "sqrt": (r"\sqrt{z}", r"\sqrt{w x + b}", r"\sqrt{Z}", r"\sqrt{X W + b}"),
    "abs": (r"|z|", r"\left|b - w x\right|", r"|Z|", r"\left|X W - b\right|"),
    "power": (r"z^{3}", r"(w x + b)^{2}", r"Z \odot Z", r"(X W + b) \odot (X W + b)"),
    "quotient": (r"\frac{z}{y}", r"\frac{1}{w x + b}", r"\frac{1}{Z}", r"\frac{X W}{X W + b}"),
    "softmax": (None, None, r"\mathrm{softmax}(Z)", r"\mathrm{softmax}(X W + b)"),
}
#: the functions of a spec
FAMILIES = {
    "logistic": ["sigmoid", "tanh", "softplus"],
    "rectifiers": ["relu", "leaky_relu", "elu", "gelu"],
    "exp_log": ["exp", "ln", "sqrt"],
    "algebra": ["abs", "power", "quotient"],
    "softmax": ["softmax"],
}
CASES = [(form, family) for form in ("scalar", "matrix") for family in FAMILIES
         if form == "matrix" or FUNCTIONS[FAMILIES[family][0]][0] is not None]
#: also in Chinese
ZH = [("scalar", "logistic"), ("matrix", "softmax")]
RUNS = [(form, family, "en") for form, family in CASES] + [(f, fam, "zh") for f, fam in ZH]


def spec_toml(form: str, family: str) -> str:
    """One spec: ``z = w x + b`` (``Z = X W + b``), then each function of the family on ``z``
    and on ``w x + b``, and a loss that uses every result."""
    scalar = form == "scalar"
    lines = ["z = w x + b" if scalar else "Z = X W + b"]
    outputs = []
    for i, f in enumerate(FAMILIES[family], 1):
        on_node, on_expression = FUNCTIONS[f][:2] if scalar else FUNCTIONS[f][2:]
        a, c = (f"a_{{{i}}}", f"c_{{{i}}}") if scalar else (f"A_{{{i}}}", f"C_{{{i}}}")
        lines += [f"{a} = {on_node}", f"{c} = {on_expression}"]
        outputs += [a, c]
    total = " + ".join(outputs)
    lines.append(f"L = ({total} - y)^2" if scalar else rf"L = \frac{{1}}{{m}}\|{total} - Y\|^2")
    forward = "\n".join(lines)
    if scalar:
        return (f"title = \"Scalar {family}: {', '.join(FAMILIES[family])}\"\n"
                f"forward = '''\n{forward}\n'''\n"
                'params = ["w", "b"]\nlearning_rate = 0.001\n\n'
                "[values]\nx = 2.0\ny = 1.0\nw = 0.5\nb = 0.25\n")
    return (f"title = \"Matrix {family}: {', '.join(FAMILIES[family])}\"\n"
            f"forward = '''\n{forward}\n'''\n"
            'params = ["W", "b"]\nlearning_rate = 0.001\n\n'
            '[shapes]\nX = ["m", "n"]\nW = ["n", "k"]\nb = ["k"]\nY = ["m", "k"]\n\n'
            "[values]\nX = [[1.0, 0.5], [0.25, 2.0]]\nW = [[0.5, 0.25], [0.75, 0.5]]\n"
            "b = [0.25, 0.5]\nY = [[1.0, 0.0], [0.0, 1.0]]\n")


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> dict[tuple[str, str], Path]:
    folder = tmp_path_factory.mktemp("specs")
    out = {}
    for form, family in CASES:
        path = folder / f"{form}_{family}.toml"
        path.write_text(spec_toml(form, family), encoding="utf-8")
        out[form, family] = path
    return out


def cli(capsys, *argv: str) -> str:
    """Standard output of ``symbackprop argv``, which must succeed."""
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_the_matrix_covers_every_function():
    assert set(FUNCTIONS) == {f for fs in FAMILIES.values() for f in fs}
    scalar = {f for form, fam in CASES if form == "scalar" for f in FAMILIES[fam]}
    matrix = {f for form, fam in CASES if form == "matrix" for f in FAMILIES[fam]}
    assert matrix == set(FUNCTIONS) and scalar == set(FUNCTIONS) - {"softmax"}


# ---- text, Markdown, JSON ------------------------------------------------------------
@pytest.mark.parametrize("form,family,lang", RUNS, ids=["-".join(r) for r in RUNS])
def test_text_holds_no_latex(specs, capsys, form, family, lang):
    text = cli(capsys, "derive", str(specs[form, family]), "--lang", lang, "--expand")
    bad = [line for line in text.splitlines() if "\\" in line]
    assert not bad, "LaTeX in the text output:\n" + "\n".join(bad[:10])
    d = derive(specs[form, family], lang=lang)
    assert d.to_markdown(closed_forms=True).count("$$") >= 2
    data = json.loads(json.dumps(d.to_json(closed_forms=True), ensure_ascii=False))
    assert data


def test_text_reads_prose_math_in_unicode(specs, capsys):
    """The sentences' math: names as the equations write them, fractions with their
    operands in parentheses, the indicator without \\mathbb."""
    text = cli(capsys, "derive", str(specs["scalar", "algebra"]))
    assert "Since c_3 = 1/(w x + b), the local derivative is" in text
    assert "Since c_1 = |b - w x|, the local derivative is" in text
    text = cli(capsys, "derive", str(specs["scalar", "rectifiers"]))
    assert re.search(r"ReLU′\(z\) = 1\[z > 0\]", text)
    hatted = specs["scalar", "algebra"].with_name("hat.toml")
    hatted.write_text("forward = '''\nz = w x\n\\hat{y} = \\frac{e^{z}}{1 + \\mu}\n"
                      "L = \\frac{(\\hat{y} - y)^2}{2}\n'''\nparams = [\"w\"]\n\n"
                      "[values]\nx = 2.0\ny = 1.0\nw = 0.5\n\"\\\\mu\" = 0.5\n", encoding="utf-8")
    text = cli(capsys, "derive", str(hatted))
    assert "\\" not in text
    for words in ["Step 1: gradient of the loss with respect to ŷ",
                  "Differentiate the loss L = (ŷ - y)^2/2 directly:",
                  "Since ŷ = e^z/(1 + μ), the local derivative is", "∂L/∂ŷ", "μ = 0.5"]:
        assert words in text, words


# ---- LaTeX: what a fragment declares ----------------------------------------------------
def declared(fragment: str) -> list[str]:
    """The preamble lines a fragment's opening comments name."""
    head = fragment.split("\n\n", 1)[0]
    return [m.group(1) for m in re.finditer(r"^%   (\\\S.*)$", head, re.M)]


def test_a_fragment_says_what_its_preamble_needs(specs, capsys):
    relu = cli(capsys, "derive", str(specs["scalar", "rectifiers"]), "--format", "latex")
    assert declared(relu) == [r"\usepackage{amsmath,amssymb,booktabs}", r"\usepackage{symbackprop}"]
    assert r"\mathbb{1}" in relu and "--sty DIR" in relu
    plain = cli(capsys, "derive", str(specs["scalar", "logistic"]), "--format", "latex")
    assert declared(plain) == [r"\usepackage{amsmath,amssymb,booktabs}"]
    zh = cli(capsys, "derive", str(specs["matrix", "softmax"]), "--format", "latex", "--lang", "zh")
    assert r"\usepackage{CJKutf8}" in declared(zh) and r"\begin{CJK}{UTF8}{gbsn}" in zh
    d = derive(specs["scalar", "logistic"])
    assert r"\usetikzlibrary{arrows.meta,shapes.misc}" in declared(render_latex(d, graph=True))
    assert fragment_preamble(r"\begin{tikzpicture}")[1:3] == [r"\usepackage{adjustbox}",
                                                               r"\usepackage{tikz}"]


def test_the_sty_holds_the_standalone_documents_definitions(specs, tmp_path, capsys):
    assert INDICATOR in sty_text() and r"\ProvidesPackage{symbackprop}" in sty_text()
    d = derive(specs["scalar", "rectifiers"])
    assert INDICATOR in render_latex(d, standalone=True)
    out = tmp_path / "frag.tex"
    cli(capsys, "derive", str(specs["scalar", "rectifiers"]), "-o", str(out), "--no-standalone",
        "--sty")
    assert (tmp_path / "symbackprop.sty").read_text(encoding="utf-8") == sty_text()
    assert out.read_text(encoding="utf-8").startswith("% A worked solution by symbackprop")


def test_the_heading_level_is_the_users(specs, capsys):
    spec = str(specs["scalar", "logistic"])
    default = cli(capsys, "derive", spec, "--format", "latex")
    assert r"\section*{The network}" in default and r"\subsection*{Step 1:" in default
    sub = cli(capsys, "derive", spec, "--format", "latex", "--heading", "subsection")
    assert r"\subsection*{The network}" in sub and r"\subsubsection*{Step 1:" in sub
    assert r"\section*" not in sub
    para = cli(capsys, "derive", spec, "--format", "latex", "--heading", "paragraph")
    assert r"\paragraph*{Forward pass}" in para and r"\subparagraph*{Step 1:" in para
    chapter = cli(capsys, "derive", spec, "--format", "latex", "--heading", "chapter")
    assert r"\chapter*{Gradients}" in chapter and r"\section*{Step 1:" in chapter
    assert main(["derive", spec, "--format", "latex", "--standalone", "--heading", "chapter"]) == 2
    assert "has no \\chapter" in capsys.readouterr().err
    assert main(["derive", spec, "--heading", "section"]) == 2  # text has no sections
    with pytest.raises(SystemExit) as exit:  # argparse: not a choice
        main(["derive", spec, "--format", "latex", "--heading", "part"])
    assert exit.value.code == 2 and "invalid choice: 'part'" in capsys.readouterr().err
    with pytest.raises(SymbackpropError, match="unknown heading level"):
        render_latex(derive(spec), heading="subparagraph")


# ---- LaTeX: compiling ------------------------------------------------------------------------
def pdflatex(folder: Path, name: str = "doc.tex") -> str:
    """Run pdflatex once on ``folder/name``; its log (the test fails on an error)."""
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name],
                         cwd=folder, capture_output=True, timeout=180)
    log = (folder / Path(name).with_suffix(".log")).read_text(encoding="utf-8", errors="replace")
    assert run.returncode == 0, log[log.find("\n!"):][:1500] if "\n!" in log else run.stdout[-1500:]
    return log


def pdf_text(path: Path) -> str | None:
    if shutil.which("pdftotext") is None:
        return None
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@needs_tex
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fragments_compile_input_into_a_document_with_only_what_they_declare(
        specs, tmp_path, capsys, lang):
    cases = CASES if lang == "en" else ZH
    preamble: list[str] = []
    inputs = []
    for k, (form, family) in enumerate(cases):
        name = f"{form}_{family}.tex"
        # the first fragment writes symbackprop.sty, as a user would (--sty DIR)
        sty = ["--sty", str(tmp_path)] if k == 0 else []
        cli(capsys, "derive", str(specs[form, family]), "-o", str(tmp_path / name),
            "--no-standalone", "--lang", lang, "--heading", "subsection", *sty)
        fragment = (tmp_path / name).read_text(encoding="utf-8")
        assert not fragment.startswith(r"\documentclass") and r"\usepackage" not in \
            fragment.split("\n\n", 1)[1]
        preamble += [line for line in declared(fragment) if line not in preamble]
        inputs.append(rf"\section*{{{form} {family.replace('_', ' ')}}}" + "\n" + rf"\input{{{name}}}")
    if lang == "en":  # and a fragment with the TikZ figure (Python API: graph=True)
        figure = render_latex(derive(specs["matrix", "algebra"]), graph=True, heading="subsection")
        (tmp_path / "figure.tex").write_text(figure, encoding="utf-8")
        preamble += [line for line in declared(figure) if line not in preamble]
        inputs.append("\\section*{a figure}\n\\input{figure.tex}")
    assert (tmp_path / "symbackprop.sty").exists()
    body = "\n\n".join(inputs)
    if lang == "zh":  # as the fragment's own comment says
        body = "\\begin{CJK}{UTF8}{gbsn}\n" + body + "\n\\end{CJK}"
    doc = "\n".join([r"\documentclass{article}", *preamble, r"\begin{document}", body,
                     r"\end{document}", ""])
    (tmp_path / "doc.tex").write_text(doc, encoding="utf-8")
    log = pdflatex(tmp_path)
    assert "Missing character" not in log
    text = pdf_text(tmp_path / "doc.pdf")
    if text is not None:
        assert "⊮" not in text  # AMS blackboard bold's glyph where the indicator 1 belongs
        if lang == "en":
            assert "ReLU" in text and "softmax" in text


@needs_tex
def test_standalone_documents_compile(specs, tmp_path):
    """``derive SPEC -o x.pdf`` for every spec, and in Chinese for two, two at a time."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

    def run(form: str, family: str, lang: str):
        out = tmp_path / f"{form}_{family}_{lang}.pdf"
        done = subprocess.run([sys.executable, "-m", "symbackprop", "derive",
                               str(specs[form, family]), "-o", str(out), "--lang", lang, "--expand"],
                              capture_output=True, text=True, env=env, timeout=300)
        ok = done.returncode == 0 and out.exists() and out.read_bytes().startswith(b"%PDF")
        return None if ok else f"{form} {family} {lang}: {done.stderr.strip()[-800:]}"

    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 1))) as pool:
        failures = [f for f in pool.map(lambda r: run(*r), RUNS) if f]
    assert not failures, "\n".join(failures)
    text = pdf_text(tmp_path / "scalar_rectifiers_en.pdf")
    if text is not None:
        assert "⊮" not in text and "1[z > 0]" in text  # the indicator, a bold 1


# ---- Markdown in KaTeX -----------------------------------------------------------------
def test_every_markdown_math_block_parses_in_katex(specs):
    """Every function of the matrix, scalar and matrix, en and zh: KaTeX reads all the math."""
    from test_markdown_katex import _katex_available, katex_errors

    from markdown_parts import math_blocks

    why = _katex_available()
    if why is not None:
        pytest.skip(why)
    blocks = []
    for form, family, lang in RUNS:
        markdown = derive(specs[form, family], lang=lang).to_markdown(closed_forms="leaves")
        blocks += math_blocks(markdown)
    assert len(blocks) > 100
    errors = katex_errors(blocks)
    assert not errors, "\n".join(errors[:10])
