r"""The computational graph as a TikZ picture, laid out from the topology alone.

The layout is a small layered (Sugiyama-style) drawing, so no external layout
program is needed:

1. **Layers.** An operation's layer is the longest path to it from the leaves;
   a leaf sits one layer before its first consumer, so ``w_2`` is drawn next to
   ``z_2 = w_2 a_1 + b`` rather than far left.
2. **Long edges** get a waypoint in every layer they cross, so they run between
   nodes instead of through them.
3. **Order** within a layer: barycentre sweeps, keeping the order with the
   fewest crossings.
4. **Coordinates:** each node is pulled towards the mean of its neighbours and
   the layer is then spaced out with the least total movement (isotonic
   regression with minimum gaps), so chains come out straight.

The picture goes left to right, or top to bottom when that fits a page better.

>>> from symbackprop import backprop, network_from_latex
>>> from symbackprop.render.graph import annotated_graph
>>> net = network_from_latex("z = w x\nL = (z - y)^2", params=["w"])
>>> g = annotated_graph(backprop(net, {"w": 0.5, "x": 2.0, "y": 1.0}))
>>> layer_of(g)
{'w': 0, 'x': 0, 'z': 1, 'y': 1, 'L': 2}
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .graph import AnnotatedGraph, GraphNode

# Sizes in cm. The text is \footnotesize (8 pt): about 0.16 cm a character.
CHAR = 0.165
OP_SIZE = 0.42  #: an operation pill is at least this wide and high
OP_GAP = 0.08  #: between an operation's pill and its value box
LAYER_GAP = 0.55  #: free space between two layers
NODE_GAP = 0.3  #: free space between two nodes of one layer
#: what a figure may take on an A4 page with 2.5 cm margins
MAX_WIDTH, MAX_HEIGHT = 16.0, 16.0
#: shrinking to this is still comfortable to read
READABLE = 0.85

GRADIENT_RGB = "192,57,43"


# ---- 1. layers -------------------------------------------------------------
def layer_of(graph: AnnotatedGraph) -> dict[str, int]:
    """Layer of each node: longest path from the leaves; a leaf just before its first consumer."""
    inputs: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    consumers: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    for a, b in graph.edges:
        inputs[b].append(a)
        consumers[a].append(b)
    layer: dict[str, int] = {}
    for n in graph.nodes:  # topological order
        layer[n.name] = 1 + max((layer[i] for i in inputs[n.name]), default=-1)
    for n in graph.nodes:
        if n.is_leaf and consumers[n.name]:
            layer[n.name] = min(layer[c] for c in consumers[n.name]) - 1
    return layer


# ---- the layout ------------------------------------------------------------
@dataclass
class Layout:
    """Where everything goes; coordinates in cm, y up."""

    direction: str  #: "LR" or "TB"
    layer: dict[str, int]  #: node or waypoint -> layer
    xy: dict[str, tuple[float, float]]  #: node or waypoint -> centre of its value box
    routes: dict[tuple[str, str], list[str]]  #: edge -> its waypoints
    box: tuple[float, float]  #: value box width, height
    op: tuple[float, float]  #: operation pill width, height
    lanes: list[tuple[float, float]]  #: each layer's extent along the flow (from, to)
    width: float = 0.0
    height: float = 0.0
    virtual: set[str] = field(default_factory=set)

    @property
    def area(self) -> float:
        """Page area the picture takes once shrunk to fit."""
        return self.width * self.height * self.scale ** 2

    @property
    def scale(self) -> float:
        """How much the picture must shrink to fit the page (1: not at all)."""
        return min(1.0, MAX_WIDTH / max(self.width, 1e-9), MAX_HEIGHT / max(self.height, 1e-9))


def layout(graph: AnnotatedGraph, direction: str | None = None) -> Layout:
    """Lay ``graph`` out; ``direction`` "LR", "TB" or None for whichever fits the page better."""
    if direction is None:
        # the one that shrinks less; when neither shrinks much, the one taking less page
        lr, tb = layout(graph, "LR"), layout(graph, "TB")
        if min(lr.scale, tb.scale) >= READABLE:
            return lr if lr.area <= tb.area else tb
        return lr if lr.scale >= tb.scale - 1e-9 else tb
    box = _box_size(graph)
    op = _op_size(graph)
    layer = layer_of(graph)
    preds: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    succs: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    routes: dict[tuple[str, str], list[str]] = {}
    virtual: set[str] = set()
    for a, b in graph.edges:
        chain = [a]
        for k in range(layer[a] + 1, layer[b]):
            v = f"{a}->{b}@{k}"
            layer[v] = k
            preds[v], succs[v] = [], []
            virtual.add(v)
            chain.append(v)
        chain.append(b)
        routes[(a, b)] = chain[1:-1]
        for u, w in zip(chain, chain[1:]):
            succs[u].append(w)
            preds[w].append(u)
    n_layers = max(layer.values()) + 1
    layers: list[list[str]] = [[] for _ in range(n_layers)]
    for key in layer:  # nodes in topological order, then waypoints
        layers[layer[key]].append(key)
    layers = _order(layers, preds, succs)

    # along the flow each layer is a lane: operation pills (if any), then value boxes
    op_width = [0.0] * n_layers  # 0: a lane of leaves only
    for n in graph.nodes:
        if not n.is_leaf:
            op_width[layer[n.name]] = max(op_width[layer[n.name]], _op_width(n.op_latex) + OP_GAP)
    if direction == "LR":
        size = {k: 0.0 if k in virtual else box[1] for k in layer}
        depth = [op_width[i] + box[0] for i in range(n_layers)]
        gap = NODE_GAP
    else:
        size = {k: 0.0 if k in virtual else box[0] for k in layer}
        depth = [(op[1] + OP_GAP if op_width[i] else 0.0) + box[1] for i in range(n_layers)]
        gap = NODE_GAP + 0.1
    lanes, start = [], 0.0
    for dep in depth:
        lanes.append((start, start + dep))
        start += dep + LAYER_GAP
    pos = _coordinates(layers, preds, succs, size, gap, virtual)

    xy = {}
    for k, p in pos.items():
        end = lanes[layer[k]][1]  # value boxes sit at the end of their lane
        if direction == "LR":
            xy[k] = (round(end - box[0] / 2, 3), -p)
        else:
            xy[k] = (p, round(-(end - box[1] / 2), 3))
    span = max(pos.values()) - min(pos.values())
    if direction == "LR":
        width, height = lanes[-1][1], span + box[1]
    else:
        width, height = span + box[0], lanes[-1][1]
    return Layout(direction, layer, xy, routes, box, op, lanes, width, height, virtual)


def _order(layers, preds, succs, sweeps: int = 12):
    """Barycentre sweeps down and up; the order with the fewest crossings wins."""
    best = [list(l) for l in layers]
    best_crossings = _crossings(best, succs)
    current = [list(l) for l in layers]
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        rng = range(1, len(current)) if down else range(len(current) - 2, -1, -1)
        for i in rng:
            ref = current[i - 1] if down else current[i + 1]
            index = {k: j for j, k in enumerate(ref)}
            nbrs = preds if down else succs

            def key(item):
                j, k = item
                ns = [index[n] for n in nbrs[k] if n in index]
                return (sum(ns) / len(ns) if ns else j, j)

            current[i] = [k for _, k in sorted(enumerate(current[i]), key=key)]
        c = _crossings(current, succs)
        if c < best_crossings:
            best, best_crossings = [list(l) for l in current], c
    return best


def _crossings(layers, succs) -> int:
    total = 0
    for upper, lower in zip(layers, layers[1:]):
        index = {k: j for j, k in enumerate(lower)}
        edges = [(i, index[s]) for i, k in enumerate(upper) for s in succs[k] if s in index]
        total += sum(1 for a in range(len(edges)) for b in range(a + 1, len(edges))
                     if (edges[a][0] - edges[b][0]) * (edges[a][1] - edges[b][1]) < 0)
    return total


def _coordinates(layers, preds, succs, size, gap, virtual, rounds: int = 8):
    """Position across the layer: near the neighbours' mean, in order, at least ``gap`` apart."""
    pos: dict[str, float] = {}
    for layer in layers:
        x = 0.0
        for j, k in enumerate(layer):
            if j:
                x += _separation(layer[j - 1], k, size, gap)
            pos[k] = x
        shift = x / 2
        for k in layer:
            pos[k] -= shift

    def place(layer, neighbours):
        desired = []
        for k in layer:
            ns = [pos[n] for n in neighbours(k)]
            desired.append(sum(ns) / len(ns) if ns else pos[k])
        weights = [4.0 if k in virtual else 1.0 for k in layer]
        gaps = [_separation(a, b, size, gap) for a, b in zip(layer, layer[1:])]
        for k, x in zip(layer, _isotonic(desired, weights, gaps)):
            pos[k] = x

    for _ in range(rounds):
        for layer in layers[1:]:
            place(layer, lambda k: preds[k])
        for layer in reversed(layers[:-1]):
            place(layer, lambda k: succs[k])
    for layer in layers:
        place(layer, lambda k: preds[k] + succs[k])
    low = min(pos.values())
    return {k: round(x - low, 3) for k, x in pos.items()}


def _separation(a: str, b: str, size, gap: float) -> float:
    return (size[a] + size[b]) / 2 + gap


def _isotonic(desired, weights, gaps):
    """Least-squares positions closest to ``desired`` with ``x[i+1] - x[i] >= gaps[i]`` (PAV)."""
    offset = [0.0]
    for g in gaps:
        offset.append(offset[-1] + g)
    blocks: list[list[float]] = []  # [mean, weight, count]
    for d, w, c in zip(desired, weights, offset):
        blocks.append([d - c, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out = []
    for m, _, n in blocks:
        out += [m] * n
    return [y + c for y, c in zip(out, offset)]


# ---- sizes ------------------------------------------------------------------
def _chars(tex: str) -> float:
    """Rough printed width of inline math, in characters."""
    tex = re.sub(r"\\(left|right)\b", "", tex)
    tex = re.sub(r"\\times 10\^\{(-?\d+)\}", r"x10\1", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)  # a command prints as about one character
    small = sum(len(m) for m in re.findall(r"[_^]\{([^{}]*)\}", tex))
    small += len(re.findall(r"[_^][^{]", tex))
    plain = re.sub(r"[_^]\{[^{}]*\}|[_^].|[{}]", "", tex)
    relations = plain.count("=")  # a relation has thick space on both sides
    return len(plain.replace(" ", "")) + 1.5 * relations + 0.7 * small


def _labels(n: GraphNode) -> tuple[str, str | None]:
    """The two lines of a node: name and value; its gradient (a number, drawn in red)."""
    top = n.latex + (f" = {n.value}" if n.value is not None else "")
    return top, n.gradient


def _box_size(graph: AnnotatedGraph) -> tuple[float, float]:
    widest = 0.0
    two_lines = False
    for n in graph.nodes:
        top, grad = _labels(n)
        widest = max(widest, _chars(top), _chars(grad) if grad else 0)
        two_lines = two_lines or grad is not None
    return round(widest * CHAR + 0.22, 2), (0.85 if two_lines else 0.55)


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
        r"  edge/.style={-{Stealth[length=4pt]}, black!55, rounded corners=5pt},",
        "]",
        rf"\definecolor{{sbpgradient}}{{RGB}}{{{GRADIENT_RGB}}}",
    ]
    for n in graph.nodes:
        i = ids[n.name]
        x, y = lay.xy[n.name]
        top, grad = _labels(n)
        text = f"${top}$" + (rf"\\\textcolor{{sbpgradient}}{{${grad}$}}" if grad else "")
        out.append(rf"\node[{n.kind}] ({i}) at ({x:.3f},{y:.3f}) {{{text}}};")
        if not n.is_leaf:
            where = (rf"anchor=east] ({i}o) at ([xshift=-{OP_GAP}cm]{i}.west)" if lr else
                     rf"anchor=south] ({i}o) at ([yshift={OP_GAP}cm]{i}.north)")
            out.append(rf"\node[op, {where} {{${n.op_latex}$}};")
            out.append(rf"\draw[black!70] ({i}o) -- ({i});")
    out_anchor, in_anchor = ("east", "west") if lr else ("south", "north")
    for a, b in graph.edges:
        points = [f"({ids[a]}.{out_anchor})"]
        for v in lay.routes[(a, b)]:  # run through the lane between its nodes
            x, y = lay.xy[v]
            start, end = lay.lanes[lay.layer[v]]
            if lr:
                points += [f"({start:.3f},{y:.3f})", f"({end:.3f},{y:.3f})"]
            else:
                points += [f"({x:.3f},{-start:.3f})", f"({x:.3f},{-end:.3f})"]
        points.append(f"({ids[b]}o.{in_anchor})")
        out.append(r"\draw[edge] " + " -- ".join(points) + ";")
    if legend:
        out.append(r"\node[anchor=north, font=\scriptsize] at ([yshift=-0.25cm]current bounding "
                   rf"box.south) {{{_legend(graph, legend)}}};")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def _legend(graph: AnnotatedGraph, lang: str) -> str:
    from .phrases import phrase

    def swatch(fill: str) -> str:
        return rf"\fcolorbox{{black!70}}{{{fill}}}{{\rule{{0pt}}{{1ex}}\hspace{{1.2em}}}}"

    return phrase("graph_legend", lang, param=swatch("blue!8"), input=swatch("black!5"),
                  op=r"$\bigcirc$", L=graph.loss)


TIKZ_PACKAGES = r"""\usepackage{tikz}
\usetikzlibrary{arrows.meta,shapes.misc}"""


def tikz_figure(graph: AnnotatedGraph, caption: str, label: str = "fig:graph") -> str:
    """A floating figure with the picture, shrunk to the page if it must be."""
    return "\n".join([
        r"\begin{figure}[htbp]",
        r"\centering",
        r"\begin{adjustbox}{max width=\linewidth, max totalheight=0.65\textheight}",
        tikz_picture(graph),
        r"\end{adjustbox}",
        rf"\caption{{{caption}}}\label{{{label}}}",
        r"\end{figure}",
    ])


def tikz_standalone(graph: AnnotatedGraph, lang: str = "en") -> str:
    """A complete document holding only the picture and its legend (``standalone``, cropped)."""
    zh = lang == "zh"
    return "\n".join([
        r"\documentclass[border=6pt]{standalone}",
        TIKZ_PACKAGES,
        *([r"\usepackage{CJKutf8}"] if zh else []),
        r"\begin{document}",
        *([r"\begin{CJK}{UTF8}{gbsn}"] if zh else []),
        tikz_picture(graph, legend=lang),
        *([r"\end{CJK}"] if zh else []),
        r"\end{document}",
        "",
    ])
