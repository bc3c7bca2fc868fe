"""The computational graph: the annotated nodes, the layout, TikZ and Graphviz output."""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from symbackprop import backprop, load_spec, network_from_latex
from symbackprop.cli import main
from symbackprop.errors import SymbackpropError
from symbackprop.render.graph import annotated_graph, graph_dot, html_name, write_graph
from symbackprop.render.tikz import layer_of, layout, tikz_picture, tikz_standalone

SPECS = ["seed_scalar", "mazur_2_2_2", "micrograd_ops", "cs231n_circuit"]
MATRIX_SPECS = ["seed_matrix", "matrix_bce_xor", "matrix_softmax", "circle_relu_bce"]
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


@pytest.mark.parametrize("name", SPECS + MATRIX_SPECS)
@pytest.mark.parametrize("direction", ["LR", "TB"])
def test_layout_edges_go_forward_and_boxes_never_overlap(derivations, name, direction):
    g = annotated_graph(derive(derivations, name))
    lay = layout(g, direction)
    for a, b in g.edges:
        if a in lay.side:  # a parameter drawn level with the operation it feeds
            assert lay.side[a][0] == b and lay.layer[a] == lay.layer[b]
            continue
        assert lay.layer[a] < lay.layer[b]
        # a long edge has a waypoint in every layer it crosses
        assert len(lay.routes[(a, b)]) == lay.layer[b] - lay.layer[a] - 1
    boxes = [(lay.xy[n.name], lay.sizes[n.name]) for n in g.nodes]  # operations: their pills
    for i, ((x1, y1), (w1, h1)) in enumerate(boxes):
        for (x2, y2), (w2, h2) in boxes[i + 1:]:
            assert abs(x1 - x2) >= (w1 + w2) / 2 - 1e-6 or abs(y1 - y2) >= (h1 + h2) / 2 - 1e-6
    # waypoints keep clear of the boxes of their layer
    for v in lay.virtual:
        x, y = lay.xy[v]
        for n in g.nodes:
            if lay.layer[n.name] == lay.layer[v]:
                (nx, ny), (w, h) = lay.xy[n.name], lay.sizes[n.name]
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


# ---- matrix derivations: every operation, every shape ------------------------------------
def test_matrix_graph_draws_every_operation_of_the_articles_mlp(derivations):
    """Z_1 = X W_1 + b_1 is a matrix product feeding a broadcast sum; the loss is a difference
    feeding (1/m)‖·‖²; every named node carries its shape and its size."""
    g = annotated_graph(derive(derivations, "seed_matrix"))
    assert [(n.op_text, n.is_operation) for n in g.nodes if not n.is_leaf] == [
        ("·", True), ("+", False), ("σ", False), ("·", True), ("+", False), ("σ", False),
        ("−", True), ("(1/m)‖·‖²", False)]
    assert sorted(g.edges) == sorted([
        ("X", "Z_1#1"), ("W_1", "Z_1#1"), ("Z_1#1", "Z_1"), ("b_1", "Z_1"), ("Z_1", "A_1"),
        ("A_1", "Z_2#1"), ("W_2", "Z_2#1"), ("Z_2#1", "Z_2"), ("b_2", "Z_2"), ("Z_2", "A_2"),
        ("A_2", "L#1"), ("Y", "L#1"), ("L#1", "L")])
    assert (g.node("W_1").shape, g.node("W_1").size) == (r"n_{in} \times n_{1}", r"2 \times 4")
    assert (g.node("b_1").shape, g.node("b_1").size) == ("n_{1}", "4")
    assert (g.node("Z_1").shape, g.node("Z_1").size) == (r"m \times n_{1}", r"4 \times 4")
    assert (g.node("L").value, g.node("L").gradient) == ("0.276", "1")
    assert g.node("X").gradient is None and g.node("Y").gradient is None  # constants


def test_small_gradients_are_written_out_and_large_ones_given_by_their_norm(derivations):
    d = derive(derivations, "seed_matrix")
    g = annotated_graph(d)
    w1 = g.node("W_1")  # 2×4: every entry
    assert w1.gradient_form == "value" and not w1.gradient.transposed
    assert np.allclose(np.array(w1.gradient.rows, dtype=float), d.gradient_value("W_1"), atol=5e-4)
    w2 = g.node("W_2")  # a 4×1 column, written as a transposed row
    assert w2.gradient.transposed
    assert np.allclose(np.array(w2.gradient.rows[0], dtype=float), d.gradient_value("W_2")[:, 0],
                       atol=5e-4)
    z1 = g.node("Z_1")  # 4×4: the Frobenius norm
    assert z1.gradient_form == "norm"
    assert float(z1.gradient) == pytest.approx(np.sqrt(np.sum(d.adjoint_value("Z_1") ** 2)), abs=5e-4)
    tex = tikz_picture(g)
    assert rf"\|\partial L/\partial Z_{{1}}\| = {z1.gradient}" in tex
    assert r"\partial L/\partial W_{1} = \left[\begin{smallmatrix} " + " & ".join(w1.gradient.rows[0]) in tex


def test_symbolic_matrix_graph_gives_each_gradient_its_shape(derivations):
    g = annotated_graph(derive(derivations, "matrix_softmax"))
    shown = {n.name: (n.gradient_form, n.gradient) for n in g.nodes if n.gradient is not None}
    assert shown.pop("L") == ("value", "1")
    assert shown == {n.name: ("shape", n.shape) for n in g.nodes
                     if n.name in shown}  # ∂L/∂V has exactly the shape of V
    assert set(shown) == {"W_1", "b_1", "Z_1", "H", "W_2", "b_2", "Z_2", "P"}
    assert r"\partial L/\partial W_{1} \in \mathbb{R}^{d \times h}" in tikz_picture(g)


def test_parameters_come_in_from_the_side_of_a_straight_chain(derivations):
    """As textbooks draw it: X → · ← W_1, then + ← b_1, down one straight line to the loss."""
    g = annotated_graph(derive(derivations, "seed_matrix"))
    lay = layout(g)
    assert lay.direction == "TB" and lay.scale == 1.0
    assert lay.side == {"X": ("Z_1#1", -1), "W_1": ("Z_1#1", 1), "b_1": ("Z_1", 1),
                        "W_2": ("Z_2#1", 1), "b_2": ("Z_2", 1), "Y": ("L#1", 1)}
    spine = ["Z_1#1", "Z_1", "A_1", "Z_2#1", "Z_2", "A_2", "L#1", "L"]
    assert len({lay.xy[k][0] for k in spine}) == 1
    for leaf, (op, sign) in lay.side.items():  # level with its operation's pill, on its side
        pill = lay.reach[op][0] + lay.op[1] / 2
        assert lay.reach[leaf][0] < pill < lay.reach[leaf][1]
        assert (lay.xy[leaf][0] - lay.xy[op][0]) * sign > 0


def test_a_constant_only_leaves_feed_is_drawn_next_to_its_consumer(derivations):
    """1 − Y waits for ⊙, which also needs ln(1 − A_2), instead of sitting at the top."""
    lay = layout(annotated_graph(derive(derivations, "matrix_bce_xor")), "TB")
    assert lay.layer["Y"] > lay.layer["A_2"]


def _tikz_edges(tex: str) -> set[tuple[str, str]]:
    """(source node, target node) of each drawn arrow: ``(n3.south) -- … -- (n5o.north)``."""
    out = set()
    for line in tex.splitlines():
        if line.startswith(r"\draw[edge]"):
            ids = re.findall(r"\((n\d+)o?\.", line)
            out.add((ids[0], ids[-1]))
    return out


@pytest.mark.parametrize("name", MATRIX_SPECS)
def test_matrix_tikz_figure_contains_every_node_and_edge(derivations, name):
    g = annotated_graph(derive(derivations, name))
    tex = tikz_picture(g)
    boxes = re.findall(r"\\node\[(?:param|input|intermediate|loss)[^\]]*\] \((n\d+)\) at [^{]*\{\$([^$]*)\$",
                       tex)
    values = [n for n in g.nodes if not n.is_operation]
    assert [top for _, top in boxes] == [
        n.latex + (f" = {n.value}" if n.value else r" \in \mathbb{R}" + (f"^{{{n.shape}}}" if n.shape else "")
                   + (rf"\ {{\color{{black!55}}({n.size})}}" if n.size else "")) for n in values]
    pills = re.findall(r"\\node\[op[^\]]*\] \((n\d+)o\) at [^{]*\{\$(.*)\$\};$", tex, re.M)
    assert sorted(pills) == sorted((f"n{g.nodes.index(n)}", n.op_latex) for n in g.nodes if not n.is_leaf)
    assert tex.count(r"\draw[edge]") == len(g.edges)
    assert _tikz_edges(tex) == {(f"n{g.nodes.index(g.node(a))}", f"n{g.nodes.index(g.node(b))}")
                                for a, b in g.edges}


@pytest.mark.parametrize("name", MATRIX_SPECS)
def test_matrix_graphviz_source_has_every_node_and_edge(derivations, name):
    g = annotated_graph(derive(derivations, name))
    source = graph_dot(g)
    ids = {n.name: f"n{i}" for i, n in enumerate(g.nodes)}
    for n in g.nodes:
        if not n.is_operation:  # a box with its name
            assert re.search(rf"^\s*{ids[n.name]} \[label=<<TABLE.*?<I>{re.escape(html_name(n.latex))}</I>",
                             source, re.M), n.name
        if not n.is_leaf:  # a circle with its operation
            assert re.search(rf"^\s*{ids[n.name]}_op \[label=\"?{re.escape(n.op_text)}", source, re.M)
    forward = set(re.findall(r"^\s*(n\d+(?:_op)?) -> (n\d+_op)\s*$", source, re.M))
    forward |= {(a, b) for b, a in re.findall(r"^\s*(n\d+_op) -> (n\d+) \[dir=back\]", source, re.M)}
    assert forward == {(ids[a] + ("_op" if g.node(a).is_operation else ""), ids[b] + "_op")
                       for a, b in g.edges}


@pytest.mark.parametrize("suffix", ["dot", "tex"] + [pytest.param(s, marks=needs_dot)
                                                     for s in ["svg", "png", "pdf"]])
def test_graph_command_draws_matrix_specs(derivations, tmp_path, suffix):
    out = tmp_path / f"g.{suffix}"
    assert main(["graph", str(derivations / "seed_matrix.toml"), "-o", str(out)]) == 0
    data = out.read_bytes()
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph",
             "tex": rb"\documentclass"}[suffix]
    assert data.startswith(magic)
    if suffix == "svg":
        text = data.decode()
        for shown in ["(4×4)", "‖∂L/∂Z", "0.037", "∂L/∂W", "(1/m)‖·‖²"]:
            assert shown in text, shown


@needs_tex
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", ["seed_matrix", "matrix_softmax"])
def test_matrix_graph_tex_compiles(derivations, tmp_path, name, lang):
    assert main(["graph", str(derivations / f"{name}.toml"), "-o", str(tmp_path / "g.tex"),
                 "--lang", lang]) == 0
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "g.tex"],
                         cwd=tmp_path, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]


def test_markdown_draws_the_graph_with_mermaid(derivations):
    """Every value box and every edge of the graph is in the Markdown's Mermaid block."""
    import re

    import symbackprop as sb
    from symbackprop.render.graph import annotated_graph

    for name in ("seed_scalar.toml", "seed_matrix.toml"):
        d = sb.derive(derivations / name)
        md = d.to_markdown()
        block = re.search(r"```mermaid\n(.*?)\n```", md, re.S).group(1)
        g = annotated_graph(d)
        boxes = [n for n in g.nodes if not n.is_operation]
        assert len(re.findall(r'^  n\d+\["', block, re.M)) == len(boxes)
        assert len(re.findall(r"^  n\d+(?:_op)? --> n\d+_op$", block, re.M)) == len(g.edges)
        assert "Figure 1:" in md and "\\ref" not in md


def test_every_ir_operation_has_a_drawing():
    """Each IR class the driver can produce is drawn by the graph (max and min of matrices too)."""
    import inspect

    from symbackprop import ir as O
    from symbackprop.render.graph import _MATRIX_OPS

    classes = {c.__name__ for c in vars(O).values()
               if inspect.isclass(c) and issubclass(c, O.Expr) and c is not O.Expr and not c.__name__.startswith("_")}
    assert classes - {"Adj"} <= set(_MATRIX_OPS), classes - set(_MATRIX_OPS)


def test_max_and_min_of_matrices_draw(tmp_path):
    import symbackprop as sb
    from symbackprop.spec import spec_from_toml

    for f in (r"\max(Z, 0.5 Z)", r"\min(Z, 1)"):
        spec = spec_from_toml(f"""
forward = '''
Z = X W
A = {f}
L = \\sum A
'''
params = ["W"]
[shapes]
X = ["m", "n"]
W = ["n", "k"]
""")
        d = sb.derive(spec)
        assert "max" in d.to_markdown() or "min" in d.to_markdown()
