r"""Networks: named nodes with shapes, in topological order, defined by IR expressions.

A :class:`Network` is a list of named nodes. Leaves are trainable parameters
or constant inputs (inputs and targets); every other node is defined by an IR
expression (:mod:`symbackprop.ir`) of earlier nodes, and one node is the loss.
A scalar is the 0-d case: its shape is ``()``, and a scalar network can be
built from SymPy expressions, which are lowered to the IR.

>>> import sympy as sp
>>> net = Network(params=["w"])
>>> w, x = net.leaf("w"), net.leaf("x")
>>> y_hat = net.define("y", w * x)
>>> L = net.define("L", (y_hat - 1) ** 2)
>>> net.loss, net.order
('L', ('w', 'x', 'y', 'L'))
>>> net.consumers("y")
('L',)
>>> str(net.node("L").expr)
'(y - 1)^2'

Matrix nodes carry their shapes (dimension names or sizes):

>>> from symbackprop import ir
>>> m = Network(params=["W"])
>>> X, W = m.leaf("X", ("m", "n")), m.leaf("W", ("n", "k"))
>>> m.define("Z", ir.matmul(X, W)).shape
('m', 'k')
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Union

import sympy as sp

from symbackprop import ir
from symbackprop.errors import did_you_mean, ShapeError, SpecError
from symbackprop.reader.latex import latex_name
from symbackprop.shapes import Shape, dims_of, shape_text


@dataclass(frozen=True)
class Node:
    """One named quantity of the forward pass: a scalar (shape ``()``), vector or matrix."""

    name: str  #: canonical spelling (``w_1,2``)
    kind: str  #: "param", "input" or "intermediate"
    shape: Shape = ()
    expr: Optional[ir.Expr] = None  #: IR definition in earlier nodes (None for leaves)
    line: Optional[int] = None  #: line of the spec that defines it
    latex: str = ""  #: LaTeX spelling
    #: a scalar definition as its author wrote it, for display only (the IR is what is computed)
    written: Optional[sp.Expr] = field(default=None, compare=False)

    @property
    def is_leaf(self) -> bool:
        return self.expr is None

    @property
    def var(self) -> ir.Var:
        """The node as an IR leaf."""
        return ir.Var(self.name, self.shape)

    @property
    def symbol(self) -> sp.Symbol:
        """The node as a (real) SymPy symbol: what scalar expressions are written in."""
        return node_symbol(self.name)


def node_symbol(name: str) -> sp.Symbol:
    """The SymPy symbol standing for node ``name`` (real-valued)."""
    return sp.Symbol(name, real=True)


Definition = Union[ir.Expr, sp.Expr]


@dataclass
class Network:
    """Named nodes in topological order, built with :meth:`leaf` and :meth:`define`."""

    params: Iterable[str] = ()
    loss_name: Optional[str] = None
    title: Optional[str] = None
    #: the title in other languages (``{"zh": …}``), used by documents in that language
    titles: dict[str, str] = field(default_factory=dict)
    #: declared activation names (canonical) → function, for reading more LaTeX about this network
    functions: dict[str, str] = field(default_factory=dict)
    elementwise_powers: bool = False  #: a power of a matrix by a whole number is elementwise
    _nodes: dict[str, Node] = field(default_factory=dict, repr=False)
    _inputs: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _consumers: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _index: dict[str, int] = field(default_factory=dict, repr=False)  #: name → place in the order
    _last_defined: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.params = tuple(self.params)

    def __repr__(self) -> str:
        return (f"Network({len(self._nodes)} nodes, loss={self.loss_name or 'last'}, "
                f"params={list(self.params)})")

    # ---- building ----------------------------------------------------------
    def leaf(self, name: str, shape: Shape = (), latex: Optional[str] = None):
        """Declare a leaf of ``shape`` (a parameter if listed in ``params``).

        Returns the node as SymPy symbol when it is a scalar, else as an IR leaf.
        """
        if name in self._nodes:
            raise SpecError(f"'{name}' is declared twice")
        kind = "param" if name in self.params else "input"
        node = Node(name, kind, tuple(shape), latex=latex or latex_name(name))
        self._nodes[name] = node
        self._index[name] = len(self._index)
        self._inputs[name] = ()
        self._consumers[name] = []
        return node.symbol if node.shape == () else node.var

    def define(self, name: str, expr: Definition, *, line: Optional[int] = None,
               latex: Optional[str] = None, written: Optional[sp.Expr] = None):
        """Define ``name = expr`` (IR, or a SymPy expression of scalars).

        In a SymPy expression undeclared symbols become scalar leaves.
        """
        where = f"line {line}: " if line else ""
        if name in self._nodes:
            raise SpecError(f"{where}'{name}' is defined twice")
        if name in self.params:
            raise SpecError(f"{where}parameter '{name}' must be a leaf, but it is defined here")
        if isinstance(expr, (sp.Basic, int, float)):
            from symbackprop.sympy_form import from_sympy

            expr = sp.sympify(expr)  # SymPy objects and numbers only: never user text
            for sym in sorted(expr.free_symbols, key=str):
                if sym.name == name:
                    raise SpecError(f"{where}'{name}' is defined in terms of itself (a cycle)")
                if sym.name not in self._nodes:
                    self.leaf(sym.name)
            expr = from_sympy(expr, self.shapes)
        used = ir.names_in(expr)
        for u in sorted(used):
            if u not in self._nodes:
                raise SpecError(f"{where}'{u}' is not a node of the network")
        node = Node(name, "intermediate", expr.shape, expr, line, latex or latex_name(name), written)
        self._nodes[name] = node
        self._index[name] = len(self._index)
        self._last_defined = name
        self._inputs[name] = tuple(sorted(used, key=self._index.__getitem__))  # in definition order
        self._consumers[name] = []
        for i in self._inputs[name]:
            self._consumers[i].append(name)
        return node.symbol if node.shape == () else node.var

    # ---- queries -----------------------------------------------------------
    @property
    def loss(self) -> str:
        """Name of the loss node: ``loss_name`` or the last defined node."""
        if self.loss_name is not None:
            if self.loss_name not in self._nodes:
                raise SpecError(f"loss '{self.loss_name}' is not a node of the network")
            return self.loss_name
        if self._last_defined is None:
            raise SpecError("the network defines no nodes (empty forward pass)")
        return self._last_defined

    @property
    def order(self) -> tuple[str, ...]:
        """All node names in topological (definition) order."""
        return tuple(self._nodes)

    def node(self, name: str) -> Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise SpecError(f"unknown node '{name}'; known: {', '.join(self._nodes)}") from None

    def __getitem__(self, name: str) -> Node:
        return self.node(name)

    def __contains__(self, name: str) -> bool:
        return name in self._nodes

    @property
    def nodes(self) -> Mapping[str, Node]:
        return dict(self._nodes)

    @property
    def shapes(self) -> dict[str, Shape]:
        """Node name -> shape, for every node."""
        return {n: node.shape for n, node in self._nodes.items()}

    @property
    def dims(self) -> set[str]:
        """The dimension names the shapes use (``m``, ``n_1``, …)."""
        return dims_of(self.shapes)

    @property
    def is_scalar(self) -> bool:
        """Every node is a number (shape ``()``): the network of a scalar worked solution."""
        return all(n.shape == () for n in self._nodes.values())

    def kind(self, name: str) -> str:
        return "loss" if name == self.loss else self.node(name).kind

    def inputs(self, name: str) -> tuple[str, ...]:
        """Names a node's definition uses directly, in order of first definition."""
        self.node(name)
        return self._inputs[name]

    def consumers(self, name: str) -> tuple[str, ...]:
        """Nodes whose definitions use ``name`` directly (topological order)."""
        self.node(name)
        return tuple(self._consumers[name])

    def ancestors(self, *names: str) -> set[str]:
        """Every node ``names`` are computed from (``names`` themselves excluded)."""
        return reach(names, self.inputs)

    def descendants(self, *names: str) -> set[str]:
        """Every node computed from ``names`` (``names`` themselves excluded)."""
        return reach(names, self.consumers)

    def validate(self) -> None:
        """Check params are leaves, the loss exists and is a scalar."""
        for p in self.params:
            if p not in self._nodes:
                raise SpecError(f"parameter '{p}' does not appear in the forward pass"
                                f"{did_you_mean(p, self._nodes)}")
            if not self._nodes[p].is_leaf:
                raise SpecError(f"parameter '{p}' is not a leaf")
        loss = self.node(self.loss)
        if len(set(self.params)) != len(self.params):
            twice = next(p for p in self.params if list(self.params).count(p) > 1)
            raise SpecError(f"parameter '{twice}' is listed twice in params")
        if loss.shape != ():
            raise ShapeError(f"the loss '{loss.name}' must be a scalar, but it has shape "
                             f"{shape_text(loss.shape)} (\\sum without an index sums every "
                             f"entry; \\sum_{{i}} sums the rows only)")

    def copy_for(self, loss: str, params: Iterable[str]) -> "Network":
        """The part of this network that ``loss`` is computed from, with other ``params``."""
        keep = self.ancestors(loss) | {loss}
        copy = Network(params=tuple(params), loss_name=loss, title=self.title,
                       titles=dict(self.titles), functions=dict(self.functions),
                       elementwise_powers=self.elementwise_powers)
        for name in self.order:
            if name not in keep:
                continue
            node = self.node(name)
            if node.is_leaf:
                copy.leaf(name, node.shape, node.latex)
            else:
                copy.define(name, node.expr, line=node.line, latex=node.latex, written=node.written)
        return copy


def reach(start: Iterable[str], step) -> set[str]:
    """Nodes reachable from ``start`` by repeated ``step`` (inputs or consumers)."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for n in step(todo.pop()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen
