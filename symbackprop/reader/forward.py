r"""The forward-pass reader: ``name = LaTeX`` lines to a :class:`~symbackprop.network.Network`.

Each line is parsed by the LaTeX reader (:mod:`symbackprop.reader.latex`),
its names are checked (a name used before its definition, a redefinition, a
cycle), and its tree is lowered to the IR (:mod:`symbackprop.reader.lower`)
with every node's shape. A scalar forward pass is the 0-d case: with no
``shapes`` and no list values every leaf is a number.

>>> net = network_from_latex("z = w x\nL = (z - y)^2", params=["w"])
>>> net.order, net.is_scalar
(('w', 'x', 'z', 'y', 'L'), True)
>>> net = network_from_latex(r'''
... Z_1 = X W_1 + b_1
... A_1 = \sigma(Z_1)
... L = \frac{1}{m}\|A_1 - Y\|^2''', params=["W_1", "b_1"],
...     shapes={"X": ["m", "n_in"], "W_1": ["n_in", "n_1"], "b_1": ["n_1"], "Y": ["m", "n_1"]})
>>> net.shapes["Z_1"], net.shapes["L"]
(('m', 'n_1'), ())
"""
from __future__ import annotations

import re

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, Iterable, Mapping

from symbackprop.errors import did_you_mean, LatexSyntaxError, ShapeError, SpecError
from symbackprop.limits import MAX_REPEAT
from symbackprop.network import Network
from symbackprop.reader import latex as latex_in
from symbackprop.reader.latex import canonical_name
from symbackprop.reader.lower import lower
from symbackprop.shapes import Shape, as_array, dims_of, parse_shape


def _forward_lines(forward: str, first_line: int = 1) -> Iterable[tuple[int, str]]:
    """(line number, text) of each equation; blank lines, ``%`` comments, ``\\\\`` and ``&`` dropped."""
    for number, raw in enumerate(forward.splitlines(), start=first_line):
        text = raw.split("%", 1)[0] if "%" in raw and "\\%" not in raw else raw
        text = text.strip()
        if text.endswith(r"\\"):
            text = text[:-2].rstrip()
        text = text.replace("&=", "=").replace("&", " ")
        if text and not text.startswith((r"\begin", r"\end")):
            yield number, text


@dataclass
class ForwardLine:
    """One checked line of a forward pass: ``name = rhs``, parsed."""

    number: int  #: line of the spec file
    name: str  #: canonical name defined
    rhs: str  #: the right-hand side as written
    tree: latex_in.Tree  #: its syntax tree
    leaves: list[str]  #: names used here for the first time, in reading order


def read_forward(forward: str, *, params: Iterable[str] = (), known: Iterable[str] = (),
                 first_line: int = 1, constants: Iterable[str] = (),
                 functions: Mapping[str, str] | None = None) -> list[ForwardLine]:
    """Parse a forward pass line by line and check its names.

    Redefinitions, cycles and names used before their definition are
    :class:`SpecError` naming the line, counted from ``first_line`` (the spec
    file's line). ``constants`` are names that are not leaves (dimensions);
    ``functions`` the declared activations (``{"\\phi": "relu"}``), which are not nodes.
    """
    functions = dict(functions or {})
    lines = []
    defined_at: dict[str, int] = {}
    for number, text in _forward_lines(forward, first_line):
        try:
            lhs, rhs, offset = latex_in.parse_equation(text)
            name, _ = latex_in.parse_name(lhs)
        except LatexSyntaxError as e:
            raise SpecError(f"line {number}: {e}") from None
        if name in functions:
            raise SpecError(f"line {number}: '{name}' is declared in activations as a function and "
                            f"cannot also be defined as a node; rename one")
        if name in defined_at:
            raise SpecError(f"line {number}: '{name}' is defined again (first defined on line "
                            f"{defined_at[name]}); every name is defined once")
        defined_at[name] = number
        lines.append((number, name, rhs))
    if not lines:
        raise SpecError("the forward pass is empty: write one 'name = expression' per line")

    names = frozenset(defined_at) | frozenset(params) | frozenset(known)  # one set for every line
    clash = sorted(names & set(functions))
    if clash:
        raise SpecError(f"'{clash[0]}' is declared in activations as a function and is also a node "
                        f"(a parameter or a value); rename one")
    seen, out = set(constants), []
    for number, name, rhs in lines:
        try:
            tree = latex_in.parse(rhs, names, functions=functions, strict=True)
        except LatexSyntaxError as e:
            raise SpecError(f"line {number}: {e}") from None
        used = latex_in.free_names(tree)
        if name in used:
            raise SpecError(f"line {number}: '{name}' is defined in terms of itself (a cycle)")
        for u in sorted(used):
            if u in defined_at and defined_at[u] > number:
                raise SpecError(f"line {number}: '{u}' is used before it is defined "
                                f"(on line {defined_at[u]})")
        first = _first_positions(tree)
        leaves = sorted(used - seen, key=lambda u: (first.get(u, len(rhs)), u))
        seen |= used | {name}
        out.append(ForwardLine(number, name, rhs, tree, leaves))
    return out


def network_from_latex(forward: str, *, params: Iterable[str] = (), loss: str | None = None,
                       shapes: Mapping[str, Any] | None = None,
                       values: Mapping[str, Any] | None = None, title: str | None = None,
                       first_line: int = 1, activations: Mapping[str, str] | None = None,
                       elementwise_powers: bool = False) -> Network:
    r"""The network whose forward pass is ``forward`` (one ``name = LaTeX`` per line).

    ``shapes`` declares leaf shapes (``{"X": ["m", "n_in"], "b_1": ["n_1"]}``);
    a leaf with no declared shape takes the shape of its value in ``values``
    (nested lists), or is a number when the network has no shapes at all;
    shapes of defined nodes are inferred, and products that do not conform are
    a :class:`~symbackprop.errors.ShapeError` naming the line, the node and
    both shapes. Errors name the line, counted from ``first_line`` (the spec
    file's line).

    ``activations`` declares function names (``{"phi": "relu", "g": "tanh"}``: ``\\phi(z)`` and
    ``g(z)`` are then ReLU and tanh); with ``elementwise_powers`` a power of a matrix by a whole
    number is elementwise, as in Ng's ``A^{[1]2}`` (otherwise it is an error naming both readings).
    """
    try:
        functions = latex_in.declared_functions(activations or {})
    except LatexSyntaxError as e:
        raise SpecError(f"activations: {e}") from None
    params = [_param_name(p) for p in params]
    declared = {canonical_name(k): parse_shape(k, v) for k, v in (shapes or {}).items()}
    values = {canonical_name(k): v for k, v in (values or {}).items()}
    dims = dims_of(declared)
    clash = sorted(dims & (set(declared) | set(values)))
    if clash:
        raise SpecError(f"'{clash[0]}' is both a dimension and a node; rename one")
    lines = read_forward(forward, params=params, known=set(declared) | set(values) | dims,
                         first_line=first_line, constants=dims, functions=functions)
    net = Network(params=params, loss_name=loss, title=title, functions=dict(functions),
                  elementwise_powers=elementwise_powers)
    scalar = not declared and not any(isinstance(v, list) for v in values.values())
    # the nodes so far, kept up to date line by line (never rebuilt: loading stays linear)
    shapes: dict[str, Shape] = {}
    symbols: dict = {}
    for line in lines:
        for u in line.leaves:
            net.leaf(u, () if scalar else _leaf_shape(u, declared, values, line.number))
            shapes[u], symbols[u] = net.node(u).shape, net.node(u).symbol
        try:
            if elementwise_powers and not scalar:
                line.tree = hadamard_powers(line.tree, shapes, dims)
            expr = lower(line.tree, shapes, dims=dims, text=line.rhs)
        except LatexSyntaxError as e:
            raise SpecError(f"line {line.number}: {e}") from None
        except ShapeError as e:
            raise ShapeError(f"line {line.number}: {line.name}: {e}") from None
        written = None
        if expr.shape == () and scalar:  # the definition as written, for the worked solution
            written = latex_in.tree_to_sympy(line.tree, symbols, evaluate=False)
        net.define(line.name, expr, line=line.number, written=written)
        shapes[line.name], symbols[line.name] = expr.shape, net.node(line.name).symbol
    undeclared = sorted(set(declared) - set(net.order))
    if undeclared:
        raise SpecError(f"[shapes] names '{undeclared[0]}', which is not in the forward pass"
                        f"{did_you_mean(undeclared[0], net.order)}; "
                        f"nodes: {', '.join(net.order)}")
    for name in declared:
        if not net.node(name).is_leaf:
            raise SpecError(f"[shapes] declares '{name}', which is defined by the forward pass: "
                            f"its shape is inferred; declare only leaves")
    net.validate()
    return net


def _param_name(p: str) -> str:
    try:
        return canonical_name(p)
    except LatexSyntaxError:
        m = re.fullmatch(r"([A-Za-z]+)(\d+)", p)
        hint = f"; did you mean '{m.group(1)}_{m.group(2)}'?" if m else ""
        raise SpecError(f"params: '{p}' is not a name as the forward pass writes one{hint}") from None


def _leaf_shape(name: str, declared: Mapping[str, Shape], values: Mapping[str, Any],
                line: int) -> Shape:
    if name in declared:
        return declared[name]
    if name in values:
        return tuple(as_array(name, values[name]).shape)
    raise ShapeError(f"line {line}: '{name}' has no shape: declare it in [shapes] "
                     f"(e.g. {name} = [\"m\", \"n\"], or [] for a scalar) or give its value")


def _first_positions(tree: latex_in.Tree) -> dict[str, int]:
    """Where each name first appears in a line (to declare leaves in reading order)."""
    out: dict[str, int] = {}
    for n in latex_in.walk_tree(tree):
        if isinstance(n, latex_in.Name) and 0 <= n.pos < out.get(n.canonical, n.pos + 1):
            out[n.canonical] = n.pos
    return out


def hadamard_powers(tree: latex_in.Tree, shapes: Mapping[str, Shape], dims) -> latex_in.Tree:
    """``A^{[1]2}`` and ``(…)^2`` of a matrix as ``A ⊙ A`` (a declared ``elementwise_powers``)."""
    def walk(n):
        if isinstance(n, tuple):
            return tuple(walk(x) for x in n)
        if not is_dataclass(n) or isinstance(n, (latex_in.Name, latex_in.Num, latex_in.Partial)):
            return n
        n = replace(n, **{f.name: walk(getattr(n, f.name)) for f in fields(n)
                          if f.name != "pos" and not isinstance(getattr(n, f.name), (str, int, type(None)))})
        if (isinstance(n, latex_in.Pow) and isinstance(n.exp, latex_in.Num) and n.exp.value.isdigit()
                and int(n.exp.value) >= 1 and not isinstance(n.base, latex_in.Norm)):
            try:
                shape = lower(n.base, shapes, dims=dims).shape
            except (LatexSyntaxError, ShapeError):
                return n
            if shape != ():
                if len(n.exp.value) > 4 or int(n.exp.value) > MAX_REPEAT:
                    raise LatexSyntaxError(f"the elementwise power {n.exp.value} is more than "
                                           f"{MAX_REPEAT} factors written out")
                out = n.base
                for _ in range(int(n.exp.value) - 1):
                    out = latex_in.BinOp("odot", out, n.base, pos=n.pos)
                return out
        return n

    return walk(tree)
