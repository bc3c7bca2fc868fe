"""The computational graph: the annotated nodes, the layout, TikZ and Graphviz output."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from symbackprop import backprop, load_spec, network_from_latex
from symbackprop.cli import main
from symbackprop.errors import SymbackpropError
from symbackprop.render.graph import annotated_graph, graph_dot, write_graph
from symbackprop.render.tikz import layer_of, layout, tikz_picture, tikz_standalone

SPECS = ["seed_scalar", "mazur_2_2_2", "micrograd_ops", "cs231n_circuit"]
needs_tex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")


def derive(derivations, name):
    s = load_spec(derivations / f"{name}.toml")
    return backprop(s.network, s.values, digits=s.digits, learning_rate=s.learning_rate)


# ---- the annotated graph --------------------------------------------------------
def test_article_graph_carries_the_articles_numbers(derivations):
    """The article's 计算图: leaves and operations, each with its value and gradient."""
    g = annotated_graph(derive(derivations, "seed_scalar"))
    shown = {n.name: (n.op_text, n.value, n.gradient) for n in g.nodes}
    assert shown == {
        "w_1": (None, "0.5", "0.116"), "x": (None, "2", None),
        "z_1": ("×", "1.000", "0.058"), "a_1": ("σ", "0.731", "0.296"),
        "w_2": (None, "-1", "-0.217"), "b": (None, "0", "-0.296"),
        "z_2": ("+", "-0.731", "-0.296"), "a_2": ("σ", "0.325", "-1.350"),
        "y": (None, "1", None), "L": ("(·)²", "0.456", "1"),
    }
    assert sorted(g.edges) == sorted([("w_1", "z_1"), ("x", "z_1"), ("z_1", "a_1"), ("a_1", "z_2"),
                                      ("w_2", "z_2"), ("b", "z_2"), ("z_2", "a_2"), ("a_2", "L"),
                                      ("y", "L")])


def test_symbolic_graph_has_names_only():
    net = network_from_latex("z = w x\nL = (z - y)^2", params=["w"])
    g = annotated_graph(backprop(net))
    assert all(n.value is None and n.gradient is None for n in g.nodes)
    assert "$z$" in tikz_picture(g)


# ---- layout -------------------------------------------------------------------
def test_layers_follow_the_longest_path_and_leaves_sit_by_their_consumer(derivations):
    layer = layer_of(annotated_graph(derive(derivations, "seed_scalar")))
    assert layer == {"w_1": 0, "x": 0, "z_1": 1, "a_1": 2, "w_2": 2, "b": 2, "z_2": 3,
                     "a_2": 4, "y": 4, "L": 5}


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("direction", ["LR", "TB"])
def test_layout_edges_go_forward_and_boxes_never_overlap(derivations, name, direction):
    g = annotated_graph(derive(derivations, name))
    lay = layout(g, direction)
    for a, b in g.edges:
        assert lay.layer[a] < lay.layer[b]
        # a long edge has a waypoint in every layer it crosses
        assert len(lay.routes[(a, b)]) == lay.layer[b] - lay.layer[a] - 1
    w, h = lay.box
    boxes = [lay.xy[n.name] for n in g.nodes]
    for i, (x1, y1) in enumerate(boxes):
        for x2, y2 in boxes[i + 1:]:
            assert abs(x1 - x2) >= w - 1e-6 or abs(y1 - y2) >= h - 1e-6
    # waypoints keep clear of the boxes of their layer
    for v in lay.virtual:
        x, y = lay.xy[v]
        for n in g.nodes:
            if lay.layer[n.name] == lay.layer[v]:
                nx, ny = lay.xy[n.name]
                assert (abs(y - ny) if direction == "LR" else abs(x - nx)) >= \
                    (h if direction == "LR" else w) / 2


@pytest.mark.parametrize("name", ["seed_scalar", "mazur_2_2_2", "micrograd_ops"])
def test_worked_examples_fit_a_page_readably(derivations, name):
    assert layout(annotated_graph(derive(derivations, name))).scale >= 0.85


def test_a_chain_is_drawn_straight():
    net = network_from_latex("z = w x\na = \\sigma(z)\nh = \\tanh(a)\nL = h^2", params=["w"])
    lay = layout(annotated_graph(backprop(net, {"w": 0.5, "x": 2.0})), "LR")
    assert {round(lay.xy[n][1], 6) for n in ["z", "a", "h", "L"]} == {round(lay.xy["z"][1], 6)}


# ---- TikZ -----------------------------------------------------------------------
@pytest.mark.parametrize("name", SPECS)
def test_tikz_figure_contains_every_node_and_edge(derivations, name):
    d = derive(derivations, name)
    g = annotated_graph(d)
    tex = tikz_picture(g)
    nodes = re.findall(r"\\node\[(param|input|intermediate|loss)\] \((n\d+)\) at [^{]*\{\$([^$]*)\$",
                       tex)
    assert [top for _, _, top in nodes] == [
        n.latex + (f" = {n.value}" if n.value else "") for n in g.nodes]
    assert tex.count(r"\draw[edge]") == len(g.edges)
    for n in g.nodes:
        if n.gradient is not None:
            assert rf"\textcolor{{sbpgradient}}{{${n.gradient}$}}" in tex


@needs_tex
def test_graph_tex_is_a_standalone_document_that_compiles(derivations, tmp_path):
    assert main(["graph", str(derivations / "mazur_2_2_2.toml"), "-o", str(tmp_path / "g.tex")]) == 0
    text = (tmp_path / "g.tex").read_text()
    assert text.startswith(r"\documentclass[border=6pt]{standalone}")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "g.tex"],
                         cwd=tmp_path, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")


@needs_tex
def test_chinese_legend_compiles(derivations, tmp_path):
    (tmp_path / "g.tex").write_text(tikz_standalone(
        annotated_graph(derive(derivations, "seed_scalar")), "zh"), encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "g.tex"],
                         cwd=tmp_path, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]


# ---- Graphviz -----------------------------------------------------------------------
@pytest.mark.parametrize("name", SPECS)
def test_graphviz_source_has_every_edge(derivations, name):
    g = annotated_graph(derive(derivations, name))
    source = graph_dot(g)
    ids = dict(re.findall(r"^\s*(n\d+) \[label=<<I>(.*?)</I>", source, re.M))
    by_label = {v: k for k, v in ids.items()}
    from symbackprop.render.graph import html_name

    edges = set(re.findall(r"^\s*(n\d+) -> (n\d+)_op", source, re.M))
    expected = {(by_label[html_name(g.node(a).latex)], by_label[html_name(g.node(b).latex)])
                for a, b in g.edges}
    assert edges == expected
    assert len(ids) == len(g.nodes)


@needs_dot
@pytest.mark.parametrize("suffix", ["svg", "png", "pdf", "dot"])
def test_graph_command_draws_pictures(derivations, tmp_path, suffix):
    out = tmp_path / f"g.{suffix}"
    assert main(["graph", str(derivations / "seed_scalar.toml"), "-o", str(out)]) == 0
    data = out.read_bytes()
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph"}[suffix]
    assert data.startswith(magic)
    if suffix == "svg":
        text = data.decode()
        for value in ["0.731", "−0.296", "0.116", "∂L/∂w"]:
            assert value in text


def test_graph_without_dot_says_how_to_install_it(derivations, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot anywhere
    assert main(["graph", str(derivations / "seed_scalar.toml"), "-o", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and len(err.strip().splitlines()) == 1


def test_graph_rejects_unknown_picture_formats(derivations, tmp_path, capsys):
    assert main(["graph", str(derivations / "seed_scalar.toml"), "-o", str(tmp_path / "g.jpg")]) == 2
    assert "use .svg, .png, .pdf, .dot or .tex" in capsys.readouterr().err


def test_write_graph_error_is_a_symbackprop_error(derivations, tmp_path):
    with pytest.raises(SymbackpropError):
        write_graph(derive(derivations, "seed_scalar"), tmp_path / "missing" / "g.dot")
