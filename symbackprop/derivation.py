"""The Derivation: forward steps, backward steps, gradients — one source of truth.

Every renderer (LaTeX, Markdown, JSON), the compiled gradient function and the
claim checker read these objects; a number shown in a step is the number the
gradient is computed from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

if TYPE_CHECKING:  # pragma: no cover
    from .network import Network


class AdjointSymbol(sp.Symbol):
    r"""The adjoint :math:`\partial L / \partial v` of node ``v``, as a symbol.

    >>> AdjointSymbol("z_2").node
    'z_2'
    """

    def __new__(cls, node: str):
        obj = super().__new__(cls, f"∂L/∂{node}", real=True)
        obj.node = node
        return obj

    def __getnewargs_ex__(self):
        return ((self.node,), {})

    @property
    def key(self) -> str:
        return self.name

    def _latex(self, printer) -> str:
        """SymPy's own ``latex()`` prints a fraction; symbackprop's printer its own form."""
        own = getattr(printer, "_print_AdjointSymbol", None)
        if own is not None:
            return own(self)
        from .latex_in import latex_name

        return rf"\frac{{\partial L}}{{\partial {latex_name(self.node)}}}"


@dataclass
class ForwardStep:
    """``node = definition = numbers = value``."""

    node: str
    definition: sp.Expr  #: as written, author's order
    expr: sp.Expr  #: evaluated definition
    value: float | None = None


@dataclass
class LocalDerivative:
    r"""One local derivative :math:`\partial c / \partial v` of a consumer ``c``."""

    of: str  #: the consumer c
    wrt: str  #: the node v
    expr: sp.Expr  #: textbook form, in node names
    value: float | None = None

    @property
    def is_trivial(self) -> bool:
        """A bare symbol or number (``a_1``, ``1``): nothing to work out."""
        return self.expr.is_Atom


@dataclass
class BackwardStep:
    r""":math:`\bar v = \sum_c \bar c \, \partial c/\partial v` for one node ``v``."""

    node: str
    terms: list[LocalDerivative]  #: one per consumer
    adjoint: sp.Expr  #: in consumer adjoints and node names
    value: float | None = None
    number: int = 0  #: 1-based step number in the worked solution


@dataclass
class Update:
    """One gradient-descent step for one parameter."""

    current: float
    gradient: float
    updated: float


class DerivationBase:
    """What every derivation offers, scalar or matrix form: queries and writers.

    A subclass holds ``network`` and ``backward`` (its steps, consumers first),
    and says how its values, its worked solution (:meth:`solution`) and its JSON
    are made; the document writers print the blocks of :meth:`solution`.
    """

    @property
    def loss(self) -> str:
        return self.network.loss

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.network.params)

    def step(self, node: str):
        for s in self.backward:
            if s.node == node:
                return s
        raise KeyError(node)

    def gradient(self, param: str):
        """The gradient of the loss for ``param``, in consumer adjoints and node names."""
        return self.step(param).adjoint

    def gradient_value(self, param: str):
        return self.adjoint_value(param)

    # ---- output -----------------------------------------------------------
    def to_latex(self, **options) -> str:
        from .render.latex import render_latex

        return render_latex(self, **options)

    def to_markdown(self, **options) -> str:
        from .render.markdown import render_markdown

        return render_markdown(self, **options)

    def to_text(self, **options) -> str:
        from .render.text import render_text

        return render_text(self, **options)

    def compile(self, backend: str = "numpy"):
        """``loss_and_grad(**arrays) -> (loss, {param: gradient})``: this derivation as code.

        Straight-line NumPy (or JAX) printed from these very steps (see
        :mod:`symbackprop.codegen`): scalar specs broadcast over arrays, matrix
        specs take any batch and layer sizes that fit their shapes.
        """
        from .codegen import compile_derivation

        return compile_derivation(self, backend)

    def _repr_markdown_(self) -> str:  # Jupyter
        return self.to_markdown()


@dataclass
class Derivation(DerivationBase):
    """Everything a worked solution says; build it with :func:`symbackprop.backprop`."""

    network: "Network"
    forward: list[ForwardStep]
    backward: list[BackwardStep]
    values: dict[str, float] | None = None  #: node and adjoint values (keys: names, AdjointSymbol.key)
    digits: int = 3
    mode: str = "exact"
    learning_rate: float | None = None
    updates: dict[str, Update] = field(default_factory=dict)
    loss_after: float | None = None
    lang: str = "en"

    def adjoint_value(self, node: str) -> float | None:
        if node == self.loss:
            return 1.0
        return None if self.values is None else self.values[AdjointSymbol(node).key]

    @property
    def loss_value(self) -> float | None:
        return None if self.values is None else self.values[self.loss]

    def expand(self, node: str, *, leaves: bool = False) -> sp.Expr:
        r"""Closed form of :math:`\partial L/\partial` ``node``.

        In node names (adjoints substituted), or with ``leaves=True`` in leaves
        only. Built step by step from the local rules, never by differentiating
        the composed loss; the leaf form can be long for deep networks.
        """
        closed: dict[sp.Symbol, sp.Expr] = {}
        for step in self.backward:  # reverse topological: consumers come first
            closed[AdjointSymbol(step.node)] = step.adjoint.xreplace(closed)
            if step.node == node:
                break
        else:
            raise KeyError(node)
        result = closed[AdjointSymbol(node)]
        if leaves:
            for name in reversed(self.network.order):
                n = self.network.node(name)
                if not n.is_leaf:
                    result = result.xreplace({n.symbol: n.expr})
        return result

    # ---- output -----------------------------------------------------------
    def solution(self, *, lang: str | None = None, closed_forms: bool | str = False,
                 title: str | None = None, graph: bool = False):
        """The worked solution as blocks; ``graph`` adds the computational-graph figure."""
        from .render.solution import build_solution

        return build_solution(self, lang=lang, closed_forms=closed_forms, title=title, graph=graph)

    def to_json(self, **options) -> dict:
        from .render.json import render_json

        return render_json(self, **options)
