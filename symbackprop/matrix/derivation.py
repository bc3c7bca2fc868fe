r"""The matrix Derivation: backward steps as IR, with shapes and (optionally) values.

As for scalars, this is the one source of truth: the worked solution, the
JSON and :func:`~symbackprop.matrix.backprop.gradient_function` all read the
same :class:`MatrixStep` objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..derivation import DerivationBase
from . import ops as O
from .shapes import Shape, Sizes

if TYPE_CHECKING:  # pragma: no cover
    from .network import MatrixNetwork


@dataclass
class VJPTerm:
    r"""One consumer's share of an adjoint: ``∂L/∂wrt`` through the definition of ``of``."""

    of: str  #: the consumer c
    wrt: str  #: the node v
    expr: O.Expr  #: in ``Adj(of)`` and node names
    rules: tuple[str, ...] = ()  #: names of the rules applied, from c's definition inwards
    fused: Optional[object] = None  #: a :class:`~symbackprop.matrix.rules.Fused` shortcut
    value: Optional[np.ndarray] = None


@dataclass
class MatrixStep:
    r""":math:`\partial L/\partial v = \sum_c \mathrm{VJP}_c(\partial L/\partial c)` for one node ``v``."""

    node: str
    terms: list[VJPTerm]
    adjoint: O.Expr  #: in consumer adjoints and node names
    textbook: O.Expr  #: the same, adjoints taken straight from the loss written out
    shape: Shape
    value: Optional[np.ndarray] = None
    number: int = 0


@dataclass
class MatrixUpdate:
    current: np.ndarray
    gradient: np.ndarray
    updated: np.ndarray


@dataclass
class MatrixDerivation(DerivationBase):
    """Everything a matrix worked solution says; build it with :func:`~.backprop.backprop`.

    Its gradients (``gradient(p)``) are IR in consumer adjoints and node names
    (``A_1ᵀ · ∂L/∂Z_2``), their values arrays of exactly the parameter's shape.
    """

    network: "MatrixNetwork"
    backward: list[MatrixStep]
    values: Optional[dict[str, np.ndarray]] = None  #: node name -> value
    adjoints: Optional[dict[str, np.ndarray]] = None  #: node name -> value of ∂L/∂node
    sizes: Sizes = field(default_factory=Sizes)
    digits: int = 3
    mode: str = "exact"
    learning_rate: Optional[float] = None
    updates: dict[str, MatrixUpdate] = field(default_factory=dict)
    loss_after: Optional[float] = None
    lang: str = "en"
    named: dict = field(default_factory=dict, repr=False)  #: definition -> Var of its node

    def textbook(self, node: str) -> O.Expr:
        """``∂L/∂node`` as the textbook writes it (``(2/m)(A_2 − Y) ⊙ σ'(Z_2)``)."""
        return self.step(node).textbook

    def adjoint_value(self, node: str) -> Optional[np.ndarray]:
        if node == self.loss:
            return np.asarray(1.0)
        return None if self.adjoints is None else self.adjoints[node]

    @property
    def loss_value(self) -> Optional[float]:
        return None if self.values is None else float(self.values[self.loss])

    def expand(self, node: str, *, leaves: bool = False) -> O.Expr:
        """``∂L/∂node`` with every adjoint substituted: one expression in node names.

        With ``leaves=True`` the nodes are written out as their definitions too.
        """
        closed: dict[str, O.Expr] = {}
        for step in self.backward:
            closed[step.node] = O.replace(step.adjoint, lambda e: closed.get(e.name)
                                          if isinstance(e, O.Adj) else None)
            if step.node == node:
                break
        else:
            raise KeyError(node)
        result = closed[node]
        if leaves:
            for name in reversed(self.network.order):
                n = self.network.node(name)
                if not n.is_leaf:
                    result = O.replace(result, lambda e: n.expr if e == n.var else None)
        return result

    # ---- output: the scalar writers print these blocks ---------------------
    def solution(self, *, lang: str | None = None, closed_forms: bool | str = False,
                 title: str | None = None, graph: bool = False):
        """The worked solution as blocks; ``graph`` adds the computational-graph figure."""
        from .solution import build_solution

        return build_solution(self, lang=lang, closed_forms=closed_forms, title=title, graph=graph)

    def to_json(self, **options) -> dict:
        from .render import render_json

        return render_json(self, **options)
