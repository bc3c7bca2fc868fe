"""The TikZ figure laid out by Graphviz's dot: every spec's document compiles, an unrolled RNN
is drawn without crossings, the page is not blank, and a missing dot says how to install it."""
from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import symbackprop
from symbackprop import backprop, network_from_latex
from symbackprop.cli import main
from symbackprop.errors import SymbackpropError
from symbackprop.render.graph import annotated_graph
from symbackprop.render.latex import render_latex
from symbackprop.render.pdf import compile_pdf
from symbackprop.render.tikz import layout, tikz_figure, tikz_picture, tikz_standalone

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted([*(ROOT / "derivations").glob("*.toml"),
                *(ROOT / "tests" / "sources").glob("*.toml")])
needs_tex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
pytestmark = pytest.mark.skipif(shutil.which("dot") is None,
                                reason="Graphviz (dot) is not installed")

# ---- an unrolled 3-step RNN (issue #13) -----------------------------------------------------
RNN = r"""
h_1 = \tanh(w h_0 + u x_1)
h_2 = \tanh(w h_1 + u x_2)
h_3 = \tanh(w h_2 + u x_3)
L = (h_3 - y)^2
"""
RNN_VALUES = {"w": 0.5, "u": -0.3, "h_0": 0.0, "x_1": 1.0, "x_2": -1.0, "x_3": 0.5, "y": 0.2}
#: the same network with vectors: every product and sum inside a step is drawn
RNN_SHAPES = {"w": ["h", "h"], "u": ["h", "d"], "h_0": ["h", 1], "x_1": ["d", 1], "x_2": ["d", 1],
              "x_3": ["d", 1], "y": ["h", 1]}
#: crossings of the straight segments between node centres in the figure our own layered
#: layout drew before dot (measured on it: the scalar RNN, left to right, had none; the
#: matrix RNN, top to bottom, had 5, w's and u's long edges running across the steps)
OLD_CROSSINGS = {"scalar": 0, "matrix": 5}
#: at most this many with dot. The scalar RNN has one: the straight line from u to h_3 would
#: cross x_2's short edge, which dot's spline from u passes below (the drawn edges never cross)
MAX_CROSSINGS = 1
#: a leaf is at most this far (cm, centre to centre) from the nearest node it feeds: about
#: two value boxes (the old layout: 3.6 cm in the scalar RNN)
LEAF_REACH = 4.0


def rnn_graph(form: str):
    if form == "scalar":
        return annotated_graph(backprop(network_from_latex(RNN, params=["w", "u"]), RNN_VALUES))
    net = network_from_latex(RNN.replace("(h_3 - y)^2", r"\|h_3 - y\|^2"), params=["w", "u"],
                             shapes=RNN_SHAPES)
    return annotated_graph(backprop(net))


def emitted_centres(tex: str, graph) -> dict[str, tuple[float, float]]:
    """Each node's centre as the TikZ picture places it: a value box's, an operation's pill's."""
    names = {f"n{i}": n.name for i, n in enumerate(graph.nodes)}
    return {names[i]: (float(x), float(y)) for i, x, y in re.findall(
        r"^\\node\[[^\]]*\] \((n\d+)o?\) at \((-?[\d.]+),(-?[\d.]+)\)", tex, re.M)}


def _crosses(p, q, r, s) -> bool:
    """Whether the segments pq and rs cross (properly: touching ends do not count)."""
    def side(a, b, c):
        v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return (v > 1e-9) - (v < -1e-9)
    return side(p, q, r) * side(p, q, s) < 0 and side(r, s, p) * side(r, s, q) < 0


def crossings(lines: dict) -> int:
    """Crossings between polylines ``{(tail, head): [points]}`` of edges sharing no node."""
    keys, total = list(lines), 0
    for i, e in enumerate(keys):
        for f in keys[i + 1:]:
            if set(e) & set(f):
                continue
            P, Q = lines[e], lines[f]
            total += sum(_crosses(P[k], P[k + 1], Q[m], Q[m + 1])
                         for k in range(len(P) - 1) for m in range(len(Q) - 1))
    return total


def bezier_points(points, steps: int = 24):
    """Points along dot's path of cubic Bézier pieces."""
    out = []
    for i in range(0, len(points) - 3, 3):
        p = points[i:i + 4]
        for k in range(steps + 1):
            t = k / steps
            w = ((1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t ** 2 * (1 - t), t ** 3)
            out.append((sum(c * q[0] for c, q in zip(w, p)), sum(c * q[1] for c, q in zip(w, p))))
    return out


@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_rnn_edges_hardly_cross(form):
    g = rnn_graph(form)
    tex = tikz_picture(g)
    at = emitted_centres(tex, g)
    assert set(at) == {n.name for n in g.nodes}
    straight = crossings({(a, b): [at[a], at[b]] for a, b in g.edges})
    assert straight <= MAX_CROSSINGS
    if OLD_CROSSINGS[form]:  # nothing to beat in the scalar form: it had none
        assert straight < OLD_CROSSINGS[form]
    # the edges as drawn: dot's splines, with the side arrows of the matrix form straight
    lay = layout(g)
    drawn = {(a, b): bezier_points(lay.curves[(a, b)]) for a, b in g.edges if a not in lay.side}
    drawn.update({(a, b): [lay.xy[a], lay.pill_xy[b]] for a, b in g.edges if a in lay.side})
    assert crossings(drawn) == 0
    # every spline is written out in full, from the box it leaves to the pill it enters
    assert tex.count(" .. controls ") == sum(len(lay.curves[e]) // 3 for e in g.edges
                                             if e[0] not in lay.side)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_rnn_leaves_sit_by_what_they_feed(form):
    g = rnn_graph(form)
    lay = layout(g)
    at = emitted_centres(tikz_picture(g), g)
    for leaf in (n.name for n in g.nodes if n.is_leaf):
        consumers = [b for a, b in g.edges if a == leaf]
        nearest = min(consumers, key=lambda b: math.dist(at[leaf], at[b]))
        assert math.dist(at[leaf], at[nearest]) <= LEAF_REACH, (leaf, nearest)
        # one rank before its first consumer, or level with the operation it comes in beside
        first = min(lay.layer[b] for b in consumers)
        assert lay.layer[leaf] == first - (0 if leaf in lay.side else 1), leaf


def test_rnn_figure_keeps_every_label_and_gradient():
    g = rnn_graph("scalar")
    tex = tikz_picture(g)
    for n in g.nodes:
        assert f"${n.latex} = {n.value}$" in tex
        if n.gradient is not None:
            assert rf"\textcolor{{sbpgradient}}{{${n.gradient}$}}" in tex
        if not n.is_leaf:
            assert f"{{${n.op_latex}$}};" in tex


LONG_CHAIN = "\n".join(["h_{0} = w x",
                        *(f"h_{{{i}}} = \\sigma(h_{{{i - 1}}})" for i in range(1, 44)),
                        "L = h_{43}^2"])


@pytest.mark.parametrize("body, nodes", [("z = w x", 3), (LONG_CHAIN, 47)], ids=["3", "47"])
def test_small_and_large_graphs_are_drawn_at_their_measured_size(body, nodes):
    """Positions are dot's, in cm, at the size the boxes were measured at: the picture of 3
    nodes fits the page as it is, one of 47 is shrunk to the page by the figure's adjustbox."""
    g = annotated_graph(backprop(network_from_latex(body, params=["w"]), {"w": 0.5, "x": 2.0}))
    assert len(g.nodes) == nodes
    lay = layout(g)
    at = emitted_centres(tikz_picture(g), g)
    for n in g.nodes:
        (x, y), (w, h) = at[n.name], lay.sizes[n.name]
        assert -0.05 <= x - w / 2 and x + w / 2 <= lay.width + 0.05, n.name  # dot's whole points
        assert -0.05 <= y - h / 2 and y + h / 2 <= lay.height + 0.05, n.name
    assert (lay.scale == 1.0) == (nodes == 3)
    assert 1.0 < max(lay.width, lay.height) < (6.0 if nodes == 3 else 150.0)
    assert r"\begin{adjustbox}{max width=\linewidth" in tikz_figure(g, "caption")


def test_without_dot_the_document_is_written_and_says_how_to_install_graphviz(tmp_path, monkeypatch, capsys):
    g = rnn_graph("scalar")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot anywhere
    with pytest.raises(SymbackpropError) as e:
        tikz_picture(g)
    assert "apt-get install graphviz" in str(e.value) and "\n" not in str(e.value)
    out = tmp_path / "seed.tex"  # the document is still written, without the figure, and says so
    assert main(["derive", str(ROOT / "derivations" / "seed_scalar.toml"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and len(err.strip().splitlines()) == 1
    tex = out.read_text(encoding="utf-8")
    assert "tikzpicture" not in tex and "apt-get install graphviz" in tex and "Forward pass" in tex


# ---- compiling ----------------------------------------------------------------------------
@needs_tex
@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_specs_document_with_its_figure_compiles(spec, tmp_path):
    d = symbackprop.derive(spec)
    tex = render_latex(d, standalone=True)
    assert r"\begin{tikzpicture}" in tex
    compile_pdf(tex, tmp_path / "doc.pdf")
    assert (tmp_path / "doc.pdf").read_bytes().startswith(b"%PDF")


def _png(pdf: Path) -> Path:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf),
                    str(pdf.with_suffix(""))], check=True, capture_output=True, timeout=120)
    return next(pdf.parent.glob(pdf.stem + "*.png"))


@needs_tex
@pytest.mark.parametrize("form, lang", [("scalar", "en"), ("matrix", "zh")])
def test_rnn_page_is_not_blank(form, lang, tmp_path):
    image = pytest.importorskip("PIL.Image")
    g = rnn_graph(form)
    pdf = tmp_path / f"rnn_{form}.pdf"
    compile_pdf(tikz_standalone(g, lang), pdf)
    with image.open(_png(pdf)) as png:
        grey = png.convert("L").histogram()  # how many pixels of each grey level
        width, height = png.size
    ink = sum(grey[:200])
    assert 0.01 * width * height < ink < 0.5 * width * height  # boxes, text, arrows; not all black
    # drawn at dot's size: the page (6 pt border, the legend below) is about the layout's width
    lay = layout(g)
    page_width_cm = width / 60 * 2.54
    assert lay.width < page_width_cm < lay.width + 3.0
    assert lay.height < height / 60 * 2.54


@needs_tex
def test_rnn_document_compiles(tmp_path):
    d = backprop(network_from_latex(RNN, params=["w", "u"]), RNN_VALUES)
    tex = render_latex(d, standalone=True)
    assert r"\begin{tikzpicture}" in tex
    compile_pdf(tex, tmp_path / "rnn.pdf")
    assert (tmp_path / "rnn.pdf").read_bytes().startswith(b"%PDF")
