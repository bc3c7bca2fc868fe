"""Networks: named nodes in topological order.

A :class:`Network` is a list of named nodes. Leaves are trainable parameters or
constant inputs (inputs and targets); every other node is defined by a SymPy
expression of earlier names, and one node is the loss.

>>> import sympy as sp
>>> net = Network(params=["w"])
>>> w, x = net.leaf("w"), net.leaf("x")
>>> y_hat = net.define("y", w * x)
>>> L = net.define("L", (y_hat - 1) ** 2)
>>> net.loss, net.order
('L', ('w', 'x', 'y', 'L'))
>>> net.consumers("y")
('L',)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import sympy as sp

from .errors import SpecError
from .latex_in import latex_name


@dataclass(frozen=True)
class Node:
    """One named quantity of the forward pass."""

    name: str  #: canonical spelling (``w_1,2``)
    symbol: sp.Symbol
    kind: str  #: "param", "input", "intermediate" or "loss"
    expr: sp.Expr | None = None  #: definition in earlier names (None for leaves)
    display: sp.Expr | None = None  #: the definition as written (author's order)
    line: int | None = None  #: line of the spec that defines it
    latex: str = ""  #: LaTeX spelling

    @property
    def is_leaf(self) -> bool:
        return self.expr is None


def node_symbol(name: str) -> sp.Symbol:
    """The SymPy symbol standing for node ``name`` (real-valued)."""
    return sp.Symbol(name, real=True)


@dataclass
class Network:
    """Named nodes in topological order, built with :meth:`leaf` and :meth:`define`."""

    params: Iterable[str] = ()
    loss_name: str | None = None
    title: str | None = None
    #: the title in other languages (``{"zh": …}``), used by documents in that language
    titles: dict[str, str] = field(default_factory=dict)
    _nodes: dict[str, Node] = field(default_factory=dict, repr=False)
    _inputs: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _consumers: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.params = tuple(self.params)

    # ---- building ----------------------------------------------------------
    def leaf(self, name: str, latex: str | None = None) -> sp.Symbol:
        """Declare a leaf (parameter if listed in ``params``, else a constant input)."""
        if name in self._nodes:
            raise SpecError(f"'{name}' is declared twice")
        kind = "param" if name in self.params else "input"
        sym = node_symbol(name)
        self._nodes[name] = Node(name, sym, kind, latex=latex or latex_name(name))
        self._inputs[name] = ()
        self._consumers[name] = []
        return sym

    def define(
        self,
        name: str,
        expr: sp.Expr,
        *,
        display: sp.Expr | None = None,
        line: int | None = None,
        latex: str | None = None,
    ) -> sp.Symbol:
        """Define intermediate ``name = expr``; undeclared symbols become leaves."""
        where = f"line {line}: " if line else ""
        if name in self._nodes:
            raise SpecError(f"{where}'{name}' is defined twice")
        if name in self.params:
            raise SpecError(f"{where}parameter '{name}' must be a leaf, but it is defined here")
        expr = sp.sympify(expr)  # SymPy objects only: never user text
        for sym in sorted(expr.free_symbols, key=str):
            if sym.name == name:
                raise SpecError(f"{where}'{name}' is defined in terms of itself (a cycle)")
            if sym.name not in self._nodes:
                self.leaf(sym.name)
        sym = node_symbol(name)
        self._nodes[name] = Node(
            name, sym, "intermediate", expr, display if display is not None else expr,
            line, latex or latex_name(name),
        )
        used = {s.name for s in expr.free_symbols}
        self._inputs[name] = tuple(n for n in self._nodes if n in used)
        self._consumers[name] = []
        for i in self._inputs[name]:
            self._consumers[i].append(name)
        return sym

    # ---- queries -----------------------------------------------------------
    @property
    def loss(self) -> str:
        """Name of the loss node: ``loss_name`` or the last defined node."""
        if self.loss_name is not None:
            if self.loss_name not in self._nodes:
                raise SpecError(f"loss '{self.loss_name}' is not a node of the network")
            return self.loss_name
        defined = [n.name for n in self._nodes.values() if not n.is_leaf]
        if not defined:
            raise SpecError("the network defines no nodes (empty forward pass)")
        return defined[-1]

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
        return _reach(names, self.inputs)

    def descendants(self, *names: str) -> set[str]:
        """Every node computed from ``names`` (``names`` themselves excluded)."""
        return _reach(names, self.consumers)

    def validate(self) -> None:
        """Check params are leaves of the graph and the loss depends on them."""
        for p in self.params:
            if p not in self._nodes:
                raise SpecError(f"parameter '{p}' does not appear in the forward pass")
            if not self._nodes[p].is_leaf:
                raise SpecError(f"parameter '{p}' is not a leaf")
        self.loss  # raises on an empty network or an unknown loss


def _reach(start: Iterable[str], step) -> set[str]:
    """Nodes reachable from ``start`` by repeated ``step`` (inputs or consumers)."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for n in step(todo.pop()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen
