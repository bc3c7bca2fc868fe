r"""The matrix Derivation: backward steps as IR, with shapes and (optionally) values.

As for scalars, this is the one source of truth: the worked solution, the
JSON and :func:`~symbackprop.matrix.backprop.gradient_function` all read the
same :class:`MatrixStep` objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..derivation import Derivation
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
class MatrixDerivation:
    """Everything a matrix worked solution says; build it with :func:`~.backprop.backprop`."""

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

    # ---- queries ----------------------------------------------------------
    @property
    def loss(self) -> str:
        return self.network.loss

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.network.params)

    def step(self, node: str) -> MatrixStep:
        for s in self.backward:
            if s.node == node:
                return s
        raise KeyError(node)

    def gradient(self, param: str) -> O.Expr:
        """``∂L/∂param`` as IR, in consumer adjoints and node names (``A_1ᵀ · ∂L/∂Z_2``)."""
        return self.step(param).adjoint

    def textbook(self, node: str) -> O.Expr:
        """``∂L/∂node`` as the textbook writes it (``(2/m)(A_2 − Y) ⊙ σ'(Z_2)``)."""
        return self.step(node).textbook

    def adjoint_value(self, node: str) -> Optional[np.ndarray]:
        if node == self.loss:
            return np.asarray(1.0)
        return None if self.adjoints is None else self.adjoints[node]

    def gradient_value(self, param: str) -> Optional[np.ndarray]:
        """The gradient as an array of exactly the parameter's shape."""
        return self.adjoint_value(param)

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

    # the document writers are the scalar ones: they print the blocks of .solution()
    to_latex = Derivation.to_latex
    to_markdown = Derivation.to_markdown
    to_text = Derivation.to_text
    _repr_markdown_ = Derivation._repr_markdown_

    def to_json(self, **options) -> dict:
        from .render import render_json

        return render_json(self, **options)

    def compile(self, backend: str = "numpy"):
        """``loss_and_grad(**arrays) -> (loss, {param: gradient})`` for any batch: these steps as code.

        Straight-line NumPy (or JAX) printed from the same VJP expressions, for any
        arrays of the network's shapes (see :mod:`symbackprop.matrix.codegen`);
        each gradient has exactly its parameter's shape.
        """
        from ..codegen import compile_derivation

        return compile_derivation(self, backend)
