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
A scalar graph draws every value box the same size; a matrix graph sizes each
box to its own label (a written-out gradient is taller than a norm), and the
operations inside a definition are pills of their own.

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

from symbackprop.render.blocks import AnnotatedGraph, Compact, GraphNode
from symbackprop.render.phrases import phrase

# Sizes in cm. The text is \footnotesize (8 pt): about 0.16 cm a character.
CHAR = 0.165
LINE = 0.3  #: height of a line of a value box
PAD = (0.22, 0.25)  #: a box's inner space (width, height)
OP_SIZE = 0.42  #: an operation pill is at least this wide and high
OP_GAP = 0.08  #: between an operation's pill and its value box
LAYER_GAP = 0.55  #: free space between two layers
ARROW = 0.2  #: an arrow's last straight stretch is at least this long (its head is 4 pt)
#: the same in a matrix graph, whose parameters come in from the side: between its layers
#: the arrows run mostly straight along the chain of operations and need less room
SPINE_GAP = 0.35
NODE_GAP = 0.3  #: free space between two nodes of one layer
#: what a figure may take on an A4 page with 2.5 cm margins
MAX_WIDTH, MAX_HEIGHT = 16.0, 16.0
#: shrinking to this is still comfortable to read
READABLE = 0.85
#: how strongly a leaf pulls its consumer towards it (1: as much as any other neighbour)
LEAF_PULL = 0.25

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
    leaves = {n.name for n in graph.nodes if n.is_leaf}
    for n in reversed(graph.nodes):  # what only leaves feed waits for its consumer too (1 − Y)
        if not n.is_leaf and consumers[n.name] and set(inputs[n.name]) <= leaves:
            layer[n.name] = min(layer[c] for c in consumers[n.name]) - 1
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
    xy: dict[str, tuple[float, float]]  #: node or waypoint -> centre of its box (or pill)
    routes: dict[tuple[str, str], list[str]]  #: edge -> its waypoints
    box: tuple[float, float]  #: the largest value box: width, height
    op: tuple[float, float]  #: operation pill width, height
    sizes: dict[str, tuple[float, float]]  #: node -> its box (an operation: its pill)
    lanes: list[tuple[float, float]]  #: each layer's extent along the flow (from, to)
    reach: dict[str, tuple[float, float]]  #: node -> its extent along the flow, pill included
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


def layout(graph: AnnotatedGraph, direction: str | None = None) -> Layout:
    """Lay ``graph`` out; ``direction`` "LR", "TB" or None for whichever fits the page better."""
    if direction is None:
        # the one that shrinks less; when neither shrinks much, the one taking less page
        lr, tb = layout(graph, "LR"), layout(graph, "TB")
        if min(lr.scale, tb.scale) >= READABLE:
            return lr if lr.area <= tb.area else tb
        return lr if lr.scale >= tb.scale - 1e-9 else tb
    sizes = _sizes(graph)
    box = _largest(sizes, graph)
    op = _op_size(graph)
    lr = direction == "LR"
    along = 0 if lr else 1
    pill = {n.name: (_op_width(n.op_latex) if lr else op[1]) + OP_GAP
            for n in graph.nodes if not n.is_leaf and not n.is_operation}
    extent = {n.name: pill.get(n.name, 0.0) + sizes[n.name][along] for n in graph.nodes}
    side = graph.side_leaves(lambda a, c: graph.node(c).is_operation or  # must not stick out
                       sizes[a][along] <= extent[c] + 1e-9)
    for a, (c, _) in side.items():  # an operation with leaves beside it is as deep as they are
        if graph.node(c).is_operation:
            extent[c] = max(extent[c], sizes[a][along])

    layer = layer_of(graph)
    for a, (c, _) in side.items():
        layer[a] = layer[c]
    used = {k: i for i, k in enumerate(sorted(set(layer.values())))}
    layer = {k: used[v] for k, v in layer.items()}
    preds: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    succs: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    routes: dict[tuple[str, str], list[str]] = {}
    virtual: set[str] = set()
    for a, b in graph.edges:
        if a in side:  # drawn straight into the side of its operation
            routes[(a, b)] = []
            continue
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
        if key not in side:
            layers[layer[key]].append(key)
    layers = [_beside(lay, side) for lay in _order(layers, preds, succs)]

    # along the flow each layer is a lane: operation pills (if any), then value boxes. A value
    # box ends where its lane ends; an operation of its own starts where its lane starts, so
    # that the arrows into it are short and straight; a leaf beside an operation is level with it
    depth = [0.0] * n_layers
    for n in graph.nodes:
        depth[layer[n.name]] = max(depth[layer[n.name]], extent[n.name])
    size = {k: 0.0 if k in virtual else sizes[k][1 - along] for k in layer}
    gap = NODE_GAP if lr else NODE_GAP + 0.1
    lanes, start = [], 0.0
    for dep in depth:
        lanes.append((start, start + dep))
        start += dep + (SPINE_GAP if graph.matrix else LAYER_GAP)
    light = {n.name for n in graph.nodes if n.is_leaf} if graph.matrix else frozenset()
    pos = _coordinates(layers, preds, succs, size, gap, virtual, light, side)

    reach = {}
    for n in graph.nodes:
        start, end = lanes[layer[n.name]]
        if n.is_operation:  # centred on the leaves beside it, if any
            inset = (extent[n.name] - sizes[n.name][along]) / 2
            reach[n.name] = (start + inset, start + inset + sizes[n.name][along])
        elif n.name not in side:
            reach[n.name] = (end - extent[n.name], end)
    for a, (c, _) in side.items():
        if graph.node(c).is_operation:
            middle = sum(reach[c]) / 2
            reach[a] = (middle - sizes[a][along] / 2, middle + sizes[a][along] / 2)
        else:  # level with the top of the operation's pill
            reach[a] = (reach[c][0], reach[c][0] + sizes[a][along])
    xy = {}
    for k, p in pos.items():
        centre = lanes[layer[k]][1] if k in virtual else reach[k][1] - sizes[k][along] / 2
        xy[k] = (round(centre, 3), -p) if lr else (p, round(-centre, 3))
    span = max(pos[k] + size[k] / 2 for k in pos) - min(pos[k] - size[k] / 2 for k in pos)
    width, height = (lanes[-1][1], span) if lr else (span, lanes[-1][1])
    return Layout(direction, layer, xy, routes, box, op, sizes, lanes, reach, width, height,
                  virtual, side)


def _beside(layer: list[str], side: dict[str, tuple[str, int]]) -> list[str]:
    """``layer`` with each side leaf next to its operation."""
    out = []
    for k in layer:
        out += [a for a, (c, s) in side.items() if c == k and s < 0]
        out.append(k)
        out += [a for a, (c, s) in side.items() if c == k and s > 0]
    return out


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


def _coordinates(layers, preds, succs, size, gap, virtual, light=frozenset(), side=None,
                 rounds: int = 8):
    """Position across the layer: near the neighbours' mean, in order, at least ``gap`` apart.

    ``light`` neighbours (the leaves) pull less, so the chain of operations comes out straight
    and the leaves gather beside it; a ``side`` leaf keeps close to its operation.
    """
    side = side or {}
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
        want = {}
        for k in layer:
            ns = [(pos[n], LEAF_PULL if n in light else 1.0) for n in neighbours(k)]
            total = sum(w for _, w in ns)
            want[k] = sum(p * w for p, w in ns) / total if ns else pos[k]
        for k in layer:  # a side leaf wants to be just beside where its operation wants to be
            if k in side:
                c, sign = side[k]
                want[k] = want[c] + sign * _separation(k, c, size, gap)
        desired = [want[k] for k in layer]
        weights = [4.0 if k in virtual or k in side else 1.0 for k in layer]
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
        r"  edge/.style={-{Stealth[length=4pt]}, black!55, rounded corners=5pt},",
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
    out_anchor, in_anchor = ("east", "west") if lr else ("south", "north")
    def at(along: float, k: str) -> str:  # a point on the line of node or waypoint k
        x, y = lay.xy[k]
        return f"({along:.3f},{y:.3f})" if lr else f"({x:.3f},{-along:.3f})"

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
        source = ids[a] + ("o" if graph.node(a).is_operation else "")
        points = [f"({source}.{out_anchor})"]
        lane_end = lay.lanes[lay.layer[a]][1]
        if lay.reach[a][1] < lane_end - 0.01:  # leave a short node's lane straight
            points.append(at(lane_end, a))
        for v in lay.routes[(a, b)]:  # run through the lane between its nodes
            points += [at(lay.lanes[lay.layer[v]][0], v), at(lay.lanes[lay.layer[v]][1], v)]
        lane_start = lay.lanes[lay.layer[b]][0]
        beside = any(c == b for c, _ in lay.side.values())
        # enter a deep lane straight, past its boxes (not for less than an arrow head's length)
        if lay.reach[b][0] > lane_start + (ARROW if beside else LAYER_GAP):
            points.append(at(lane_start, b))
        points.append(f"({ids[b]}o.{in_anchor})")
        out.append(r"\draw[edge] " + " -- ".join(points) + ";")
    if legend:
        out.append(r"\node[anchor=north, font=\scriptsize] at ([yshift=-0.25cm]current bounding "
                   rf"box.south) {{{_legend(graph, legend)}}};")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


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
