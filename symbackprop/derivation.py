r"""The Derivation: forward steps, backward steps, gradients — one source of truth.

Every writer (LaTeX, Markdown, text, JSON), the compiled gradient function and
the claim checker read these objects; a number shown in a step is the number
the gradient is computed from. Scalar and matrix networks have the same
Derivation: a scalar is the 0-d case.

>>> import symbackprop as sb
>>> d = sb.derive("derivations/seed_scalar.toml")
>>> d
Derivation(L = 0.456 over 10 nodes; 7 backward steps; gradients of w_1, w_2, b)
>>> d.gradient("w_2")
∂L/∂z_2*a_1
>>> round(d.gradient_value("w_2"), 3)
-0.217
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import sympy as sp

from symbackprop import ir
from symbackprop.limits import (CLOSED_FORM_SECONDS, MAX_CLOSED_FORM_DEPTH, MAX_CLOSED_FORM_OPS,
                                MAX_STEP_OPS, Budget, BudgetExceeded, tidy)
from symbackprop.shapes import Shape, Sizes
from symbackprop.sympy_form import AdjointSymbol, to_sympy

if TYPE_CHECKING:  # pragma: no cover
    from symbackprop.network import Network
    from symbackprop.rules import Fused, Rule


@dataclass
class ForwardStep:
    """``node = definition = numbers = value``."""

    node: str
    expr: ir.Expr  #: the definition, as written
    value: Any = None  #: a float for a scalar node, else an array


@dataclass
class Term:
    r"""One consumer's share of an adjoint: ``∂L/∂wrt`` through the definition of ``of``."""

    of: str  #: the consumer c
    wrt: str  #: the node v
    expr: ir.Expr  #: in ``Adj(of)`` and node names
    rules: tuple["Rule", ...] = ()  #: the rules applied, from c's definition inwards
    local: Optional[ir.Expr] = None  #: ∂c/∂v of a scalar consumer (its local derivative)
    fused: Optional["Fused"] = None  #: a loss-and-activation shortcut
    value: Any = None  #: value of ``expr``
    local_value: Optional[float] = None  #: value of ``local``

    @property
    def is_trivial(self) -> bool:
        """A local derivative that is a bare node or number (``a_1``, ``1``): nothing to work out."""
        return self.local is not None and isinstance(self.local, (ir.Var, ir.Scalar))


@dataclass
class Step:
    r""":math:`\partial L/\partial v = \sum_c \mathrm{VJP}_c(\partial L/\partial c)` for one node ``v``."""

    node: str
    terms: list[Term]  #: one per consumer
    adjoint: ir.Expr  #: in consumer adjoints and node names
    textbook: ir.Expr  #: the same, adjoints taken straight from the loss written out
    shape: Shape = ()
    value: Any = None
    number: int = 0  #: 1-based step number in the worked solution


@dataclass
class Update:
    """One gradient-descent step for one parameter."""

    current: Any
    gradient: Any
    updated: Any




@dataclass
class Derivation:
    """Everything a worked solution says; build it with :func:`symbackprop.backprop`."""

    network: "Network"
    forward: list[ForwardStep]
    backward: list[Step]
    values: Optional[dict[str, np.ndarray]] = None  #: node name -> value (None: symbolic)
    adjoints: Optional[dict[str, np.ndarray]] = None  #: node name -> value of ∂L/∂node
    sizes: Sizes = field(default_factory=Sizes)
    digits: int = 3
    mode: str = "exact"
    learning_rate: Optional[float] = None
    updates: dict[str, Update] = field(default_factory=dict)
    loss_after: Optional[float] = None
    lang: str = "en"
    named: dict = field(default_factory=dict, repr=False)  #: definition -> Var of its node
    #: closed forms in node names and each node in leaves, built once (see :meth:`expand`)
    _closed: dict = field(default_factory=dict, repr=False, compare=False)
    _leaves: dict = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        loss = "" if self.values is None else f" = {self.loss_value:.{self.digits}f}"
        return (f"Derivation({self.loss}{loss} over {len(self.network.order)} nodes; "
                f"{len(self.backward)} backward steps; gradients of {', '.join(self.params)})")

    # ---- queries -------------------------------------------------------------
    @property
    def loss(self) -> str:
        return self.network.loss

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.network.params)

    @property
    def is_scalar(self) -> bool:
        """Every node is a number: steps are written with local derivatives, in SymPy."""
        return self.network.is_scalar

    def step(self, node: str) -> Step:
        for s in self.backward:
            if s.node == node:
                return s
        raise KeyError(node)

    def check_size(self, step: Step) -> None:
        """Refuse to write out a step too large to read: the derivative of a line nested dozens of
        functions deep (``\\frac{w}{\\frac{w}{…}}``) has hundreds of thousands of operations, and
        printing them takes minutes. A :class:`~symbackprop.limits.BudgetExceeded` names the
        derivative, its size and its line."""
        for t in step.terms:
            for e in (t.local, t.expr):
                if e is None:
                    continue
                ops, depth = _written_size(e, {})
                if ops > MAX_STEP_OPS or depth > MAX_CLOSED_FORM_DEPTH:
                    line = self.network.node(t.of).line
                    where = f" (line {line})" if line else ""
                    size = f"{ops:,} operations" if ops > MAX_STEP_OPS else f"{depth} levels of nesting"
                    raise BudgetExceeded(
                        f"the derivative ∂{t.of}/∂{step.node}{where} has {size}, too many to write "
                        f"out; split {'line ' + str(line) if line else 'its definition'} into several "
                        f"lines, one named node for each function inside another")

    def gradient_step(self, param: str) -> Step:
        """The step of ``∂L/∂param``; for a parameter the loss does not depend on, a step whose
        gradient is 0 (of the parameter's shape) and which has no terms."""
        if any(s.node == param for s in self.backward):
            return self.step(param)
        shape = self.network.node(param).shape  # an unknown name is an error naming the known ones
        zero = ir.Scalar(0) if shape == () else ir.Broadcast(ir.Scalar(0), shape)
        value = None if self.adjoints is None else self.adjoint_value(param)
        return Step(param, [], zero, zero, shape, value)

    def gradient(self, param: str):
        """``∂L/∂param`` in consumer adjoints and node names.

        A SymPy expression for a scalar network (``∂L/∂z_2·a_1``), IR for a
        matrix one (``A_1ᵀ · ∂L/∂Z_2``); ``sympy.latex()`` prints either.
        """
        if not any(s.node == param for s in self.backward):  # the loss does not depend on it
            self.network.node(param)  # an unknown name is an error naming the known ones
            shape = self.network.node(param).shape
            return sp.Integer(0) if self.is_scalar else ir.Broadcast(ir.Scalar(0), shape)
        step = self.step(param)
        return self.scalar_form(step.adjoint) if self.is_scalar else step.adjoint

    def textbook(self, node: str) -> ir.Expr:
        """``∂L/∂node`` as the textbook writes it (``(2/m)(A_2 − Y) ⊙ σ'(Z_2)``)."""
        return self.step(node).textbook

    def scalar_form(self, e: ir.Expr, *, evaluate: bool = True) -> sp.Expr:
        """A scalar IR expression as SymPy, activations' derivatives in their nodes' names."""
        out = to_sympy(e, evaluate=evaluate, named=self.named)
        return tidy(out, sp.factor_terms) if evaluate else out

    def value(self, node: str):
        """The value of ``node`` (a float for a scalar)."""
        if self.values is None:
            return None
        return self._out(self.values[node])

    def adjoint_value(self, node: str):
        """The value of ``∂L/∂node`` (1 for the loss)."""
        if node == self.loss:
            return 1.0 if self.is_scalar else np.asarray(1.0)
        if self.adjoints is None:
            return None
        if node not in self.adjoints:  # the loss does not depend on it: a zero gradient
            shape = self.sizes.resolve(self.network.node(node).shape)
            return self._out(np.zeros(shape))
        return self._out(self.adjoints[node])

    def _out(self, value):
        """Numbers of a scalar network as floats, of a matrix network as arrays."""
        return float(value) if self.is_scalar else value

    def gradient_value(self, param: str):
        return self.adjoint_value(param)

    @property
    def loss_value(self) -> Optional[float]:
        return None if self.values is None else float(self.values[self.loss])

    def scalar_values(self) -> dict[str, float]:
        """Every scalar value by name, adjoints by :attr:`AdjointSymbol.key`: what a step substitutes."""
        out: dict[str, float] = {}
        for n, v in (self.values or {}).items():
            if np.ndim(v) == 0:
                out[n] = float(v)
        for n, v in (self.adjoints or {}).items():
            if np.ndim(v) == 0:
                out[AdjointSymbol(n, self.loss).key] = float(v)
        return out

    def expand(self, node: str, *, leaves: bool = False, budget: Optional[Budget] = None):
        r"""Closed form of :math:`\partial L/\partial` ``node``, every adjoint substituted.

        In node names, or with ``leaves=True`` in leaves only. Built step by step
        from the local rules, never by differentiating the composed loss; the leaf
        form can be long for deep networks. SymPy for a scalar network, IR otherwise.

        Bounded (:mod:`symbackprop.limits`): the size of the closed form is counted before it is
        built, from the sizes of the forms it is made of, and one of more than
        ``budget.max_ops`` operations (or nested deeper than the printers follow), or work past
        ``budget``'s seconds, is a :class:`~symbackprop.limits.BudgetExceeded` naming the gradient.
        ``budget`` may be shared by several calls (the closed forms of one solution); by default
        each call has its own.
        """
        budget = budget or closed_form_budget(leaves)
        what = ("the closed form in leaves of " if leaves else "the closed form of ") + \
            f"∂{self.loss}/∂{node}"
        hint = "use --expand nodes" if leaves else "leave out --expand"
        closed = self._closed
        for step in self.backward:  # consumers come first
            if step.node not in closed:
                closed[step.node] = ir.replace(step.adjoint, lambda e: closed.get(e.name)
                                               if isinstance(e, ir.Adj) else None)
            if step.node == node:
                break
        else:
            if node in self.network and self.network.node(node).is_leaf:  # the loss ignores it: 0
                return self.gradient(node)
            raise KeyError(node)
        result = closed[node]
        leaf_forms = self._leaf_forms(budget) if leaves else {}
        # its size written out, counted over its shared parts; each node a leaf form if asked
        ops, depth = _written_size(result, {n: f[1:] for n, f in leaf_forms.items()})
        if depth > MAX_CLOSED_FORM_DEPTH:
            raise budget.fail(f"{what} is nested {depth:,} operations deep", hint)
        budget.check(ops, what, hint)
        if self.is_scalar:
            out = to_sympy(result, named=self.named)
            if leaves:
                out = out.xreplace({self.network.node(n).symbol: f[0] for n, f in leaf_forms.items()
                                    if f[0] is not None})
            budget.tick(what, hint)
            return tidy(out, sp.factor_terms)
        if leaves:
            var = {self.network.node(n).var: f[0] for n, f in leaf_forms.items() if f[0] is not None}
            result = ir.replace(result, lambda e: var.get(e) if isinstance(e, ir.Var) else None)
        return result

    def _leaf_forms(self, budget: Budget) -> dict[str, tuple]:
        """Each defined node in leaves only: ``{name: (form, operations, depth)}``, the form SymPy
        for a scalar network and IR otherwise; each built once, from its inputs' forms."""
        forms = self._leaves
        for name in self.network.order:
            n = self.network.node(name)
            if n.is_leaf or name in forms:
                continue
            sizes = {u: forms[u][1:] for u in self.network.inputs(name) if u in forms}
            ops, depth = _written_size(n.expr, sizes)
            if ops > budget.max_ops or depth > MAX_CLOSED_FORM_DEPTH:  # too large to use
                forms[name] = (None, ops, depth)
                continue
            if self.is_scalar:
                form = to_sympy(n.expr).xreplace({self.network.node(u).symbol: forms[u][0]
                                                  for u in sizes})
            else:
                var = {self.network.node(u).var: forms[u][0] for u in sizes}
                form = ir.replace(n.expr, lambda e: var.get(e) if isinstance(e, ir.Var) else None)
            forms[name] = (form, ops, depth)
            budget.tick(hint="use --expand nodes")
        return forms

    # ---- output: façades over the writers -------------------------------------
    def solution(self, *, lang: Optional[str] = None, closed_forms: bool | str = False,
                 title: Optional[str] = None, graph: bool = False):
        """The worked solution as blocks; ``graph`` adds the computational-graph figure."""
        from symbackprop.render.solution import build_solution

        return build_solution(self, lang=lang, closed_forms=closed_forms, title=title, graph=graph)

    def to_json(self, **options) -> dict:
        from symbackprop.render.json import render_json

        return render_json(self, **options)

    def to_latex(self, **options) -> str:
        from symbackprop.render.latex import render_latex

        return render_latex(self, **options)

    def to_markdown(self, **options) -> str:
        from symbackprop.render.markdown import render_markdown

        return render_markdown(self, **options)

    def to_text(self, **options) -> str:
        from symbackprop.render.text import render_text

        return render_text(self, **options)

    def compile(self, backend: str = "numpy"):
        """``loss_and_grad(**arrays) -> (loss, {param: gradient})``: this derivation as code.

        Straight-line NumPy (or JAX) printed from these very steps (see
        :mod:`symbackprop.codegen`): scalar specs broadcast over arrays, matrix
        specs take any batch and layer sizes that fit their shapes.
        """
        from symbackprop.codegen.module import compile_derivation

        return compile_derivation(self, backend)

    def _repr_markdown_(self) -> str:  # Jupyter
        return self.to_markdown()


def closed_form_budget(leaves: bool = False) -> Budget:
    """The budget of the closed forms of one worked solution (``--expand``, ``leaves``: in leaves
    too): shared by all of them, :data:`~symbackprop.limits.MAX_CLOSED_FORM_OPS` operations and
    :data:`~symbackprop.limits.CLOSED_FORM_SECONDS` seconds."""
    return Budget("the closed forms in leaves" if leaves else "the closed forms",
                  max_ops=MAX_CLOSED_FORM_OPS, seconds=CLOSED_FORM_SECONDS)


def _written_size(e: ir.Expr, nodes: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """Operations and depth of ``e`` written out as a tree, each :class:`~symbackprop.ir.Var`
    named in ``nodes`` replaced by a form of ``(operations, depth)``: counted over the shared
    parts of ``e`` (a memo by identity) without recursion, so however large the tree is, the
    count costs the size of ``e`` as it is held."""
    memo: dict[int, tuple[int, int]] = {}
    todo = [(e, False)]
    while todo:
        x, ready = todo.pop()
        if id(x) in memo:
            continue
        kids = x.children
        if isinstance(x, ir.Var) and x.name in nodes:
            memo[id(x)] = nodes[x.name]
        elif ready or not kids:
            parts = [memo[id(k)] for k in kids]
            memo[id(x)] = (1 + sum(p[0] for p in parts), 1 + max((p[1] for p in parts), default=0))
        else:
            todo.append((x, True))
            todo += [(k, False) for k in kids if id(k) not in memo]
    return memo[id(e)]
