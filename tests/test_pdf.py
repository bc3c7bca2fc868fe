"""PDF and standalone LaTeX: a complete document that compiles, in English and Chinese."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from symbackprop import backprop, load_spec, network_from_latex
from symbackprop.cli import main
from symbackprop.errors import SymbackpropError
from symbackprop.render import pdf
from symbackprop.render.latex import escape_text, render_latex
from symbackprop.render.pdf import compile_pdf, write_pdf

needs_tex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
SPECS = ["seed_scalar", "mazur_2_2_2", "micrograd_ops", "cs231n_circuit"]
MATRIX_SPECS = ["seed_matrix", "matrix_bce_xor", "matrix_softmax", "circle_relu_bce"]


def derive(derivations, name, **kw):
    s = load_spec(derivations / f"{name}.toml")
    return backprop(s.network, s.values, digits=s.digits, learning_rate=s.learning_rate, **kw)


def pdf_text(path, *pages: str) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", *pages, str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


# ---- the document -------------------------------------------------------------------
def test_standalone_document_has_every_part(derivations):
    tex = render_latex(derive(derivations, "seed_scalar"), standalone=True, closed_forms=True)
    for part in [r"\documentclass", r"\Large Backpropagation by hand", r"\section*{The network}",
                 r"\section*{Computational graph}", r"\begin{tikzpicture}", r"\label{fig:graph}",
                 r"\section*{Forward pass}", r"\subsection*{Step 7:", r"\section*{Gradients}",
                 r"\section*{Closed forms}", r"\section*{Gradient-descent update}",
                 r"\end{document}"]:
        assert part in tex, part
    assert tex.index("Computational graph") < tex.index("Forward pass")


def test_fragment_has_no_figure_unless_asked(derivations):
    d = derive(derivations, "seed_scalar")
    assert "tikzpicture" not in render_latex(d)
    assert "tikzpicture" in render_latex(d, graph=True)


def test_chinese_document_uses_cjk(derivations):
    tex = render_latex(derive(derivations, "seed_scalar"), standalone=True, lang="zh")
    assert r"\usepackage{CJKutf8}" in tex and r"\begin{CJK}{UTF8}{gbsn}" in tex
    assert r"\section*{计算图}" in tex and r"\renewcommand{\figurename}{图}" in tex
    assert tex.rstrip().endswith("\\end{CJK}\n\\end{document}".rstrip())


def test_large_networks_get_a_sentence_instead_of_a_figure():
    lines = ["h_{0} = w x"] + [f"h_{{{i}}} = \\sigma(h_{{{i - 1}}})" for i in range(1, 45)]
    lines.append("L = h_{44}^2")
    net = network_from_latex("\n".join(lines), params=["w"])
    tex = render_latex(backprop(net, {"w": 0.1, "x": 1.0}), standalone=True)
    assert "tikzpicture" not in tex
    assert "The network has 48 nodes, too many to draw legibly" in tex


def test_titles_are_escaped():
    assert escape_text("A & B: 50% of x_1 #2") == r"A \& B: 50\% of x\_1 \#2"
    assert escape_text("loss $L_{2}$ & more") == r"loss $L_{2}$ \& more"


# ---- compiling --------------------------------------------------------------------
@needs_tex
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_article_pdf_compiles(derivations, tmp_path, lang):
    out = tmp_path / f"article_{lang}.pdf"
    assert main(["derive", str(derivations / "seed_scalar.toml"), "-o", str(out),
                 "--lang", lang, "--expand"]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    if lang == "en":
        text = pdf_text(out)
        for words in ["Computational graph", "Figure 1", "Step 7", "0.116", "Gradient-descent update"]:
            assert words in text


@needs_tex
@pytest.mark.parametrize("name", SPECS[1:])
def test_every_worked_example_compiles(derivations, tmp_path, name):
    write_pdf(derive(derivations, name), tmp_path / f"{name}.pdf", closed_forms=True)
    assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")


@needs_tex
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", SPECS)
def test_no_line_runs_into_the_margin(derivations, tmp_path, name, lang):
    """Long chain-rule sums and closed forms are broken across lines, not left overfull."""
    tex = render_latex(derive(derivations, name), standalone=True, lang=lang, closed_forms=True)
    (tmp_path / "doc.tex").write_text(tex, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, timeout=180)
    assert run.returncode == 0, run.stdout[-2000:]
    log = (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
    assert "Overfull \\hbox" not in log, log[log.index("Overfull"):][:300]


@needs_tex
def test_standalone_tex_from_the_cli_compiles(derivations, tmp_path):
    out = tmp_path / "mazur.tex"
    assert main(["derive", str(derivations / "mazur_2_2_2.toml"), "-o", str(out)]) == 0
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name],
                         cwd=tmp_path, capture_output=True, timeout=180)
    assert run.returncode == 0, run.stdout[-2000:]
    assert b"Overfull \\hbox" not in (tmp_path / "mazur.log").read_bytes()


@needs_tex
def test_broken_latex_reports_the_first_error(tmp_path):
    tex = "\\documentclass{article}\n\\begin{document}\n\\nosuchmacro\n\\end{document}\n"
    with pytest.raises(SymbackpropError, match=r"Undefined control sequence at line 3"):
        compile_pdf(tex, tmp_path / "x.pdf")
    assert (tmp_path / "x.tex").read_text() == tex


@needs_tex
def test_a_missing_latex_package_says_how_to_install_it(tmp_path):
    tex = "\\documentclass{article}\n\\usepackage{nosuchpackage}\n\\begin{document}x\\end{document}\n"
    with pytest.raises(SymbackpropError, match=r"nosuchpackage.sty' not found.*apt-get install"):
        compile_pdf(tex, tmp_path / "x.pdf")


def test_without_tex_the_tex_is_written_and_the_error_says_how_to_install(
        derivations, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pdf, "tex_available", lambda: False)
    out = tmp_path / "article.pdf"
    assert main(["derive", str(derivations / "seed_scalar.toml"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "apt-get install texlive-latex-base" in err and "article.tex" in err
    assert not out.exists()
    assert (tmp_path / "article.tex").read_text().startswith(r"\documentclass")


# ---- matrix form ----------------------------------------------------------------------
def test_matrix_document_draws_its_graph(derivations):
    tex = render_latex(derive(derivations, "seed_matrix"), standalone=True)
    for part in [r"\begin{tikzpicture}", r"\label{fig:graph}", r"Figure 1 draws it",
                 r"\begin{smallmatrix}", r"(4 \times 4)", r"\tfrac{1}{m}\|\cdot\|^{2}"]:
        assert part in tex, part
    # the picture of the network, after its equations and before the tables of numbers
    assert tex.index(r"\in \mathbb{R}^{m \times n_{1}}") < tex.index("tikzpicture") \
        < tex.index(r"\toprule")
    assert "tikzpicture" not in render_latex(derive(derivations, "seed_matrix"))  # a fragment


def test_symbolic_matrix_document_says_what_red_means(derivations):
    tex = render_latex(derive(derivations, "matrix_softmax"), standalone=True, lang="zh")
    assert r"红色：$\partial L/\partial V$ 的形状" in tex and "tikzpicture" in tex


@needs_tex
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_articles_matrix_mlp_has_its_graph_on_the_first_page(derivations, tmp_path, lang):
    out = tmp_path / f"seed_matrix_{lang}.pdf"
    assert main(["derive", str(derivations / "seed_matrix.toml"), "-o", str(out), "--lang", lang]) == 0
    first = pdf_text(out, "-f", "1", "-l", "1")
    assert ("Figure 1:" if lang == "en" else "图 1") in first
    assert "(4 × 4)" in first or "(4×4)" in first.replace(" ", "")


@needs_tex
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", MATRIX_SPECS)
def test_matrix_documents_compile_within_the_margins(derivations, tmp_path, name, lang):
    tex = render_latex(derive(derivations, name), standalone=True, lang=lang)
    (tmp_path / "doc.tex").write_text(tex, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, timeout=180)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "Overfull \\hbox" not in (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
