r"""The computational graph as a TikZ picture, laid out by Graphviz's ``dot``.

``dot`` (the program ``symbackprop graph`` draws pictures with) places the nodes, each of the
size its label will take in TikZ: a value box with its operation's pill before it (one node
of fixed cells, the edges going into the pill's cell and out of the box's), an operation
inside a definition as a pill. It ranks them (a leaf lands one rank before its consumer, so
``w_2`` is drawn next to ``z_2 = w_2 a_1 + b`` rather than far left), orders each rank with few
crossings and routes every edge as a Bézier spline around the boxes. The picture takes the
centres and the splines' control points as they are, converted to cm: it is drawn at the
size the boxes were measured at, and a figure in a document is shrunk to the page by
``adjustbox``. Each edge is ``.. controls ..`` from the border of the box it leaves to the
border of the pill it enters. Without ``dot`` it fails with one line saying how to install
Graphviz (no fallback layout: a figure drawn some other way would be a worse one, silently).

The picture goes left to right, or top to bottom when that fits a page better.
A scalar graph draws every value box the same size; a matrix graph sizes each
box to its own label (a written-out gradient is taller than a norm), and the
operations inside a definition are pills of their own, with a parameter used only there
drawn beside it (``X → · ← W_1``).

>>> from symbackprop import backprop, network_from_latex
>>> from symbackprop.render.graph import annotated_graph
>>> net = network_from_latex("z = w x\nL = (z - y)^2", params=["w"])
>>> g = annotated_graph(backprop(net, {"w": 0.5, "x": 2.0, "y": 1.0}))
>>> layer_of(g)
{'w': 0, 'x': 0, 'z': 1, 'y': 1, 'L': 2}
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from symbackprop.errors import SymbackpropError
from symbackprop.render.blocks import AnnotatedGraph, Compact, GraphNode
from symbackprop.render.graph import INSTALL_GRAPHVIZ
from symbackprop.render.phrases import phrase

# Sizes in cm. The text is \footnotesize (8 pt): about 0.16 cm a character.
CHAR = 0.165
LINE = 0.3  #: height of a line of a value box
PAD = (0.22, 0.25)  #: a box's inner space (width, height)
OP_SIZE = 0.42  #: an operation pill is at least this wide and high
OP_GAP = 0.08  #: between an operation's pill and its value box
LAYER_GAP = 0.55  #: free space between two ranks
#: the same in a matrix graph, whose parameters come in from the side: between its ranks
#: the arrows run mostly straight along the chain of operations and need less room
SPINE_GAP = 0.35
NODE_GAP = 0.3  #: free space between two nodes of one rank
#: what a figure may take on an A4 page with 2.5 cm margins
MAX_WIDTH, MAX_HEIGHT = 16.0, 16.0
#: shrinking to this is still comfortable to read
READABLE = 0.85
#: dot's weight of an edge (how hard it pulls its ends into line): between two operations, from
#: a leaf used once, from a leaf used by several (which cannot be next to all of them). The
#: chain of operations comes out straight and the leaves gather beside it
SPINE_WEIGHT, LEAF_WEIGHT, SHARED_WEIGHT = 16, 4, 1
POINT = 2.54 / 72  #: dot's unit, the PostScript point, in cm

GRADIENT_RGB = "192,57,43"


# ---- the layout: Graphviz's dot ------------------------------------------------
@dataclass
class Layout:
    """Where everything goes; coordinates in cm, y up."""

    direction: str  #: "LR" or "TB"
    layer: dict[str, int]  #: node or waypoint -> dot's rank
    xy: dict[str, tuple[float, float]]  #: node or waypoint -> centre of its box (or pill)
    routes: dict[tuple[str, str], list[str]]  #: edge -> its waypoints, one in each rank it crosses
    box: tuple[float, float]  #: the largest value box: width, height
    op: tuple[float, float]  #: operation pill width, height
    sizes: dict[str, tuple[float, float]]  #: node -> its box (an operation: its pill)
    reach: dict[str, tuple[float, float]]  #: node -> its extent along the flow, pill included
    curves: dict[tuple[str, str], list[tuple[float, float]]]  #: edge -> dot's Bézier points
    pill_xy: dict[str, tuple[float, float]]  #: node -> centre of its operation's pill (or box)
    width: float = 0.0
    height: float = 0.0
    virtual: set[str] = field(default_factory=set)
    #: leaves drawn beside the operation they feed: leaf -> (operation, -1 before / +1 after)
    side: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def area(self) -> float:
        """Page area the picture takes once shrunk to fit."""
        return self.width * self.height * self.scale ** 2

    @property
    def scale(self) -> float:
        """How much the picture must shrink to fit the page (1: not at all)."""
        return min(1.0, MAX_WIDTH / max(self.width, 1e-9), MAX_HEIGHT / max(self.height, 1e-9))


def layer_of(graph: AnnotatedGraph, direction: str = "LR") -> dict[str, int]:
    """Each node's rank in ``dot``'s layout (a leaf sits one rank before its first consumer)."""
    lay = layout(graph, direction)
    return {n.name: lay.layer[n.name] for n in graph.nodes}


def layout(graph: AnnotatedGraph, direction: str | None = None) -> Layout:
    """Lay ``graph`` out; ``direction`` "LR", "TB" or None for whichever fits the page better."""
    if direction is None:
        # the one that shrinks less; when neither shrinks much, the one taking less page
        lr, tb = layout(graph, "LR"), layout(graph, "TB")
        if min(lr.scale, tb.scale) >= READABLE:
            return lr if lr.area <= tb.area else tb
        return lr if lr.scale >= tb.scale - 1e-9 else tb
    sizes = _sizes(graph)
    lr = direction == "LR"
    along = 0 if lr else 1

    def flow(p: tuple[float, float]) -> float:  # how far along the flow a point is
        return p[0] if lr else -p[1]

    # what dot places: a value box with its operation's pill before it, an operation's pill;
    # pill: along the flow and across it
    pill = {n.name: (_op_width(n.op_latex), OP_SIZE)[::1 if lr else -1]
            for n in graph.nodes if not n.is_leaf and not n.is_operation}
    outer = {k: (s[along] + pill[k][0] + OP_GAP if k in pill else s[along],
                 max(s[1 - along], pill[k][1]) if k in pill else s[1 - along])
             for k, s in sizes.items()}  # along, across
    side = graph.side_leaves(lambda a, c: graph.node(c).is_operation or  # must not stick out
                             sizes[a][along] <= outer[c][0] + 1e-9)
    centre, curves, (width, height) = _dot(graph, direction, sizes, outer, pill, side)

    levels = sorted({round(flow(p), 3) for p in centre.values()})
    layer = {k: levels.index(round(flow(p), 3)) for k, p in centre.items()}
    reach = {k: (flow(p) - outer[k][0] / 2, flow(p) + outer[k][0] / 2) for k, p in centre.items()}
    for a, (c, _) in side.items():  # level with the top of the operation's pill
        if c in pill:
            reach[a] = (reach[c][0], reach[c][0] + sizes[a][along])
    xy, pill_xy = {}, {}
    for k, (x, y) in centre.items():  # a value box ends its node, after its pill
        at = lambda middle: (round(middle, 3), y) if lr else (x, round(-middle, 3))  # noqa: E731
        xy[k] = at(reach[k][1] - sizes[k][along] / 2)
        pill_xy[k] = at(reach[k][0] + pill[k][0] / 2) if k in pill else xy[k]
    routes, virtual = {}, set()
    for a, b in graph.edges:
        routes[(a, b)] = []
        for r in range(layer[a] + 1, layer[b]):  # where a long edge crosses each rank
            v = f"{a}->{b}@{r}"
            layer[v] = r
            xy[v] = min(_samples(curves[(a, b)]), key=lambda p: abs(flow(p) - levels[r]))
            virtual.add(v)
            routes[(a, b)].append(v)
    return Layout(direction, layer, xy, routes, _largest(sizes, graph), _op_size(graph), sizes,
                  reach, curves, pill_xy, width, height, virtual, side)


def _dot(graph: AnnotatedGraph, direction: str, sizes, outer, pill, side):
    """Run ``dot``: each node's centre, each edge's Bézier control points (cm, y up) and the
    picture's width and height.

    A node is a box of its size; a value box with a pill is a table of fixed cells (pill, gap,
    box) whose ports ``op`` and ``box`` the edges go into and out of.
    """
    try:
        import graphviz
    except ImportError:  # pragma: no cover - a declared dependency
        raise GraphvizMissing("the graphviz Python package is missing; "
                              f"{INSTALL_GRAPHVIZ}") from None
    lr = direction == "LR"
    inches = lambda cm: f"{cm / 2.54:.4f}"  # noqa: E731
    points = lambda cm: max(1, round(cm / POINT))  # noqa: E731
    ids = {n.name: f"n{i}" for i, n in enumerate(graph.nodes)}
    names = {v: k for k, v in ids.items()}
    dot = graphviz.Digraph(graph_attr=dict(
        rankdir=direction, newrank="true", nodesep=inches(NODE_GAP),
        ranksep=inches(SPINE_GAP if graph.matrix else LAYER_GAP)),
        node_attr=dict(shape="box", fixedsize="true", label="", margin="0"),
        edge_attr=dict(dir="none"))
    for n in graph.nodes:
        k = n.name
        if k not in pill:
            dot.node(ids[k], width=inches(sizes[k][0]), height=inches(sizes[k][1]))
            continue
        across = 2 * points(outer[k][1] / 2)  # even: the ports lie on the node's centre line
        cells = []
        box = sizes[k][0 if lr else 1]
        for port, length in (("op", pill[k][0]), ("gap", OP_GAP), ("box", box)):
            w, h = (points(length), across) if lr else (across, points(length))
            cells.append(f'<TD PORT="{port}" FIXEDSIZE="TRUE" WIDTH="{w}" HEIGHT="{h}"></TD>')
        rows = "".join(f"<TR>{c}</TR>" for c in (["".join(cells)] if lr else cells))
        dot.node(ids[k], shape="plain", fixedsize="false",
                 label=f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0">{rows}</TABLE>>')
    uses = {n.name: sum(a == n.name for a, _ in graph.edges) for n in graph.nodes}
    for a, b in graph.edges:
        if a in side:  # level with its operation, before (left or above) or after it
            ends = (ids[a], ids[b]) if side[a][1] < 0 else (ids[b], ids[a])
            dot.edge(*ends)
        else:
            dot.edge(ids[a] + (":box" if a in pill else ""), ids[b] + (":op" if b in pill else ""),
                     weight=str(SPINE_WEIGHT if not graph.node(a).is_leaf else
                                LEAF_WEIGHT if uses[a] == 1 else SHARED_WEIGHT))
    for c in dict.fromkeys(c for c, _ in side.values()):  # nothing runs between them
        with dot.subgraph(name=f"cluster_{ids[c]}") as group:
            group.attr(rank="same", margin="0", peripheries="0")
            for k in [a for a, (op, _) in side.items() if op == c] + [c]:
                group.node(ids[k])
    try:
        data = json.loads(dot.pipe(format="json"))
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing("the figure of the computational graph is laid out by Graphviz's "
                              "'dot' program, which is not installed; "
                              f"{INSTALL_GRAPHVIZ}") from None
    except graphviz.CalledProcessError as e:  # pragma: no cover - dot rejects our own source
        error = e.stderr.decode(errors="replace").strip()
        raise SymbackpropError(f"Graphviz failed: {error}") from None

    def point(text: str) -> tuple[float, float]:
        x, y = text.split(",")[-2:]
        return round(float(x) * POINT, 3), round(float(y) * POINT, 3)

    objects = {o["_gvid"]: names[o["name"]] for o in data["objects"] if "pos" in o}
    centre = {names[o["name"]]: point(o["pos"]) for o in data["objects"] if "pos" in o}
    curves = {(objects[e["tail"]], objects[e["head"]]): [point(p) for p in e["pos"].split()]
              for e in data.get("edges", [])}
    _, _, right, top = (float(v) * POINT for v in data["bb"].split(","))
    return centre, curves, (right, top)


def _samples(points: list[tuple[float, float]], steps: int = 16):
    """Points along a path of cubic Bézier pieces (``dot``'s: 3k + 1 control points)."""
    for i in range(0, len(points) - 3, 3):
        p = points[i:i + 4]
        for s in range(steps + 1):
            t = s / steps
            c = ((1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t ** 2 * (1 - t), t ** 3)
            yield (sum(w * q[0] for w, q in zip(c, p)), sum(w * q[1] for w, q in zip(c, p)))


# ---- sizes ------------------------------------------------------------------
def _chars(tex: str) -> float:
    """Rough printed width of inline math, in characters."""
    tex = re.sub(r"\\(left|right)\b|\\color\{[^{}]*\}", "", tex)
    tex = re.sub(r"\\times 10\^\{(-?\d+)\}", r"x10\1", tex)
    relations = len(re.findall(r"=|\\in\b", tex))  # thick space on both sides
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)  # a command prints as about one character
    small = 0
    scripted = re.compile(r"[_^]\{([^{}]*)\}")  # innermost first: ^{m x n_{in}}
    while (m := scripted.search(tex)) is not None:
        small += len(m.group(1))
        tex = tex[:m.start()] + tex[m.end():]
    small += len(re.findall(r"[_^][^{]", tex))
    plain = re.sub(r"[_^].|[{}]", "", tex)
    return len(plain.replace(" ", "")) + 1.5 * relations + 0.7 * small


def _labels(n: GraphNode, graph: AnnotatedGraph) -> tuple[str, str | None]:
    """The two lines of a value box: the name with its value or shape; the gradient (red).

    A scalar graph's gradient line is just the number; a matrix graph's says what it
    is: ``∂L/∂W_1 = [⋯]``, ``‖∂L/∂Z_1‖ = 0.118`` or, without numbers, ``∂L/∂W_1 ∈ ℝ^{d×h}``.
    """
    if n.value is not None or not graph.matrix:
        top = n.latex + (f" = {n.value}" if n.value is not None else "")
    else:
        top = rf"{n.latex} \in {_space(n.shape)}"
        if n.size:
            top += rf"\ {{\color{{black!55}}({n.size})}}"
    grad = n.gradient.latex() if isinstance(n.gradient, Compact) else n.gradient
    if grad is None or not graph.matrix:
        return top, grad
    partial = rf"\partial {graph.loss}/\partial {n.latex}"
    if n.gradient_form == "norm":
        return top, rf"\|{partial}\| = {grad}"
    if n.gradient_form == "shape":
        return top, rf"{partial} \in {_space(grad)}"
    return top, f"{partial} = {grad}"


def _space(shape: str) -> str:
    return r"\mathbb{R}" + (f"^{{{shape}}}" if shape else "")


def _label_size(n: GraphNode, graph: AnnotatedGraph) -> tuple[float, float]:
    """Width and height of a value box with its label; a written-out matrix is measured apart."""
    top, grad = _labels(n, graph)
    width, height = _chars(top) * CHAR, LINE
    if grad is not None:
        if isinstance(n.gradient, Compact):
            prefix = grad[:grad.index(r"\left[")]
            width = max(width, _chars(prefix) * CHAR + _compact_width(n.gradient))
            height += max(LINE, 0.28 * len(n.gradient.rows) + 0.1)
        else:
            width = max(width, _chars(grad) * CHAR)
            height += LINE
    return round(width + PAD[0], 2), round(height + PAD[1], 2)


def _compact_width(c: Compact) -> float:
    """A ``smallmatrix`` in brackets: entries in script size, a little space between columns."""
    columns = list(zip(*c.rows))
    widest = sum(max(_chars(e) for e in col) for col in columns)
    return 0.76 * CHAR * widest + 0.12 * (len(columns) - 1) + 0.3 + (0.15 if c.transposed else 0.0)


def _sizes(graph: AnnotatedGraph) -> dict[str, tuple[float, float]]:
    """Each node's box (an operation's: its pill); a scalar graph's boxes all alike."""
    sizes = {n.name: (_op_width(n.op_latex), OP_SIZE) if n.is_operation else _label_size(n, graph)
             for n in graph.nodes}
    if not graph.matrix:
        largest = _largest(sizes, graph)
        sizes.update({n.name: largest for n in graph.nodes if not n.is_operation})
    return sizes


def _largest(sizes, graph: AnnotatedGraph) -> tuple[float, float]:
    boxes = [sizes[n.name] for n in graph.nodes if not n.is_operation]
    return max(w for w, _ in boxes), max(h for _, h in boxes)


def _op_width(op_latex: str) -> float:
    return round(max(OP_SIZE, _chars(op_latex) * 0.14 + 0.16), 2)


def _op_size(graph: AnnotatedGraph) -> tuple[float, float]:
    widest = max((_op_width(n.op_latex) for n in graph.nodes if not n.is_leaf), default=OP_SIZE)
    return widest, OP_SIZE


# ---- TikZ -------------------------------------------------------------------
def tikz_picture(graph: AnnotatedGraph, direction: str | None = None,
                 legend: str | None = None) -> str:
    """The ``tikzpicture`` of ``graph`` (needs TikZ with ``arrows.meta`` and ``shapes.misc``).

    ``legend`` (a language) adds a line below the picture saying what colours mean.
    """
    lay = layout(graph, direction)
    ids = {n.name: f"n{i}" for i, n in enumerate(graph.nodes)}
    bw, bh = lay.box
    lr = lay.direction == "LR"
    out = [
        r"\begin{tikzpicture}[",
        r"  every node/.style={font=\footnotesize},",
        rf"  value/.style={{draw=black!70, rounded corners=2pt, align=center, inner sep=2pt,"
        rf" minimum width={bw}cm, minimum height={lay.box[1]}cm}},",
        r"  param/.style={value, fill=blue!8},",
        r"  input/.style={value, fill=black!5},",
        r"  intermediate/.style={value, fill=white},",
        r"  loss/.style={value, fill=orange!18},",
        rf"  op/.style={{draw=black!70, rounded rectangle, minimum height={lay.op[1]}cm,"
        rf" minimum width={lay.op[1]}cm, inner sep=1pt, font=\scriptsize, fill=black!3}},",
        r"  edge/.style={-{Stealth[length=4pt]}, black!55},",
        "]",
        rf"\definecolor{{sbpgradient}}{{RGB}}{{{GRADIENT_RGB}}}",
    ]
    for n in graph.nodes:
        i = ids[n.name]
        x, y = lay.xy[n.name]
        if n.is_operation:  # inside a definition: a pill of its own, no box
            out.append(rf"\node[op] ({i}o) at ({x:.3f},{y:.3f}) {{${n.op_latex}$}};")
            continue
        top, grad = _labels(n, graph)
        text = f"${top}$" + (rf"\\\textcolor{{sbpgradient}}{{${grad}$}}" if grad else "")
        w, h = lay.sizes[n.name]
        own = "" if (w, h) == lay.box else f", minimum width={w}cm, minimum height={h}cm"
        out.append(rf"\node[{n.kind}{own}] ({i}) at ({x:.3f},{y:.3f}) {{{text}}};")
        if not n.is_leaf:
            where = (rf"anchor=east] ({i}o) at ([xshift=-{OP_GAP}cm]{i}.west)" if lr else
                     rf"anchor=south] ({i}o) at ([yshift={OP_GAP}cm]{i}.north)")
            out.append(rf"\node[op, {where} {{${n.op_latex}$}};")
            out.append(rf"\draw[black!70] ({i}o) -- ({i});")
    for a, b in graph.edges:
        if a in lay.side:  # straight into the side of the operation's pill
            pill = f"{ids[b]}o"
            before = lay.side[a][1] < 0
            if lr:
                start = f"({ids[a]}.{'south' if before else 'north'} -| {pill}.center)"
                out.append(rf"\draw[edge] {start} -- ({pill}.{'north' if before else 'south'});")
            else:
                start = f"({ids[a]}.{'east' if before else 'west'} |- {pill}.center)"
                out.append(rf"\draw[edge] {start} -- ({pill}.{'west' if before else 'east'});")
            continue
        # dot's spline, from the border of the box it leaves to the border of the pill it enters
        # (each where dot ends it: TikZ's own boxes may be a little larger than measured)
        source = ids[a] + ("o" if graph.node(a).is_operation else "")
        curve = lay.curves[(a, b)]
        points = [f"({x:.3f},{y:.3f})" for x, y in curve]
        points[0] = f"({source}.{_towards(lay.xy[a], curve[0])})"
        points[-1] = f"({ids[b]}o.{_towards(lay.pill_xy[b], curve[-1])})"
        path = points[0] + "".join(
            f" .. controls {points[i]} and {points[i + 1]} .. {points[i + 2]}"
            for i in range(1, len(points) - 2, 3))
        out.append(rf"\draw[edge] {path};")
    if legend:
        out.append(r"\node[anchor=north, font=\scriptsize] at ([yshift=-0.25cm]current bounding "
                   rf"box.south) {{{_legend(graph, legend)}}};")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def _towards(centre: tuple[float, float], point: tuple[float, float]) -> str:
    """The anchor of a node's border in the direction of ``point`` seen from its ``centre``."""
    return f"{math.degrees(math.atan2(point[1] - centre[1], point[0] - centre[0])):.0f}"


def _legend(graph: AnnotatedGraph, lang: str) -> str:
    def swatch(fill: str) -> str:
        return rf"\fcolorbox{{black!70}}{{{fill}}}{{\rule{{0pt}}{{1ex}}\hspace{{1.2em}}}}"

    keys = dict(param=swatch("blue!8"), input=swatch("black!5"), op=r"$\bigcirc$", L=graph.loss)
    if not graph.matrix:
        return phrase("graph_legend", lang, **keys)
    example = next((n.size for n in graph.nodes if n.size), None)
    sizes = phrase("m_graph_legend_sizes", lang, example=example) if example else ""
    gradient = phrase(f"m_graph_legend_{graph.gradients_shown()}", lang, L=graph.loss)
    return phrase("m_graph_legend", lang, sizes=sizes, gradient=gradient, **keys)


TIKZ_PACKAGES = r"""\usepackage{tikz}
\usetikzlibrary{arrows.meta,shapes.misc}"""


class GraphvizMissing(SymbackpropError):
    """Graphviz, which lays the figure out, is not installed."""


def tikz_figure(graph: AnnotatedGraph, caption: str, label: str = "fig:graph") -> str:
    """A floating figure with the picture, shrunk to the page if it must be.

    Without Graphviz the document is still written: the figure is left out, a line in its place
    and a note on standard error say how to add it."""
    try:
        picture = tikz_picture(graph)
    except GraphvizMissing as e:
        import sys

        print(f"symbackprop: note: the figure is left out: {e}", file=sys.stderr)
        return (r"\par\emph{(The figure of the computational graph is left out: it is laid out by "
                r"Graphviz, which is not installed here; \texttt{apt-get install graphviz} adds it.)}\par")
    return "\n".join([
        r"\begin{figure}[htbp]",
        r"\centering",
        r"\begin{adjustbox}{max width=\linewidth, max totalheight=0.65\textheight}",
        picture,
        r"\end{adjustbox}",
        rf"\caption{{{caption}}}\label{{{label}}}",
        r"\end{figure}",
    ])


def tikz_standalone(graph: AnnotatedGraph, lang: str = "en") -> str:
    """A complete document holding only the picture and its legend (``standalone``, cropped)."""
    zh = lang == "zh"
    return "\n".join([
        r"\documentclass[border=6pt]{standalone}",
        *([r"\usepackage{amsmath,amssymb}"] if graph.matrix else []),  # smallmatrix, \mathbb
        TIKZ_PACKAGES,
        *([r"\usepackage{CJKutf8}"] if zh else []),
        r"\begin{document}",
        *([r"\begin{CJK}{UTF8}{gbsn}"] if zh else []),
        tikz_picture(graph, legend=lang),
        *([r"\end{CJK}"] if zh else []),
        r"\end{document}",
        "",
    ])
