r"""The truth a claim is judged against, read off the derivation.

A claim's target is a node's value (``z_1``), the loss's adjoint
(:math:`\partial L/\partial w_1`), a local derivative of a node by one of its
inputs (:math:`\partial a_2/\partial z_2 = a_2(1-a_2)`), or the total
derivative of a node by an ancestor. Each comes from a :class:`Derivation`
built by the local rules of :func:`~symbackprop.backprop` on a copy of the
network in which every leaf is trainable (so that :math:`\partial L/\partial x`
of an input has an answer too), with the loss replaced by the node the claim
differentiates.

>>> from symbackprop.reader.forward import network_from_latex
>>> net = network_from_latex("z = w x\na = \\sigma(z)\nL = (a - y)^2", params=["w"])
>>> oracle = Oracle(net)
>>> oracle.target("L", "x").kind, oracle.target("a", "z").kind, oracle.target("a", "w").kind
('adjoint', 'local', 'total')
>>> oracle.leaf_form(oracle.target("a", "z"))
(1 - sigmoid(w*x))*sigmoid(w*x)
"""
from __future__ import annotations

import cmath
import math
import random
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

import sympy as sp

from symbackprop import functions as F
from symbackprop.backprop import backprop
from symbackprop.derivation import Derivation
from symbackprop.errors import SpecError
from symbackprop.network import Network
from symbackprop.sympy_form import AdjointSymbol, to_sympy

#: functions with a kink or a jump: random points keep their arguments away from it
NONSMOOTH = (F.relu, F.leaky_relu, F.elu, sp.Heaviside, sp.Abs, sp.sign, sp.Max, sp.Min)
KINK_MARGIN = 0.05
PRECISION = 30  # decimal digits of every evaluation


@dataclass(frozen=True)
class Target:
    r"""What the left-hand side of a claim names."""

    of: str  #: the differentiated node (or the node whose value is claimed)
    wrt: str | None  #: None for a node's value
    kind: str  #: "value", "adjoint" (of the loss), "local" (of a node by an input), "total"

    @property
    def label(self) -> str:
        return self.of if self.wrt is None else f"∂{self.of}/∂{self.wrt}"


Point = Mapping[str, float]


@dataclass
class LocalDerivative:
    r"""A local derivative :math:`\partial c/\partial v` as the derivation states it, in SymPy."""

    of: str  #: the consumer c
    wrt: str  #: the node v
    expr: sp.Expr  #: textbook form, in node names
    value: Optional[float] = None

    @property
    def is_trivial(self) -> bool:
        """A bare symbol or number (``a_1``, ``1``): nothing to work out."""
        return self.expr.is_Atom


class Oracle:
    """Values of targets and of local derivatives, symbolically and at points."""

    def __init__(self, network: Network, values: Point | None = None, *, seed: int = 0):
        network.validate()
        self.network = network
        self.values = dict(values) if values else None
        self.seed = seed
        self.leaves = [n for n in network.order if network.node(n).is_leaf]
        self._derivations: dict[str, Derivation] = {}
        self._envs: dict[tuple, dict | None] = {}
        self._pool: list[dict[str, float]] | None = None
        #: each defined node's definition as a SymPy expression of earlier nodes
        self.definitions = {n: to_sympy(network.node(n).expr) for n in network.order
                            if not network.node(n).is_leaf}

    # ---- targets -----------------------------------------------------------
    def target(self, of: str, wrt: str | None = None) -> Target:
        net = self.network
        if wrt is None:
            return Target(of, None, "value")
        if net.node(of).is_leaf:
            raise SpecError(f"'{of}' is a leaf (an input or a parameter), not computed from other "
                            f"nodes; differentiate the loss {net.loss} or a node defined in the forward pass")
        if of == net.loss:
            return Target(of, wrt, "adjoint")
        return Target(of, wrt, "local" if wrt in net.inputs(of) else "total")

    def derivation(self, of: str) -> Derivation:
        """Symbolic reverse mode from node ``of``, every leaf trainable."""
        if of not in self._derivations:
            copy = self.network.copy_for(of, [n for n in self.leaves
                                              if n in self.network.ancestors(of)])
            self._derivations[of] = backprop(copy)
        return self._derivations[of]

    def local_term(self, of: str, wrt: str) -> LocalDerivative:
        """The local derivative ∂of/∂wrt, as the derivation states it."""
        d = self.derivation(of)
        for term in d.step(wrt).terms:
            if term.of == of:
                return LocalDerivative(of, wrt, d.scalar_form(term.local), term.local_value)
        raise KeyError((of, wrt))  # pragma: no cover - wrt is an input of of

    def has_step(self, of: str, wrt: str) -> bool:
        return any(s.node == wrt for s in self.derivation(of).backward)

    def factors(self, target: Target) -> list[LocalDerivative]:
        """Local derivatives a chain for ``target`` may use: those on its paths first."""
        if target.wrt is None or target.kind == "local":
            return [] if target.wrt is None else [self.local_term(target.of, target.wrt)]
        d = self.derivation(target.of)
        below = self.network.descendants(target.wrt) | {target.wrt}
        terms = [LocalDerivative(t.of, t.wrt, d.scalar_form(t.local)) for s in d.backward
                 for t in s.terms]
        return [t for t in terms if t.wrt in below] + [t for t in terms if t.wrt not in below]

    # ---- symbolic forms ------------------------------------------------------
    def leaf_form(self, target_or_expr) -> sp.Expr:
        """A target, or an expression in node names, written in leaves only."""
        if isinstance(target_or_expr, Target):
            t = target_or_expr
            if t.kind == "value":
                expr = self.network.node(t.of).symbol
            elif t.kind == "local":
                expr = self.local_term(t.of, t.wrt).expr
            elif t.of == t.wrt:
                return sp.Integer(1)
            elif not self.has_step(t.of, t.wrt):
                return sp.Integer(0)
            else:
                return self.derivation(t.of).expand(t.wrt, leaves=True)
        else:
            expr = target_or_expr
        for name in reversed(self.network.order):
            node = self.network.node(name)
            if not node.is_leaf:
                expr = expr.xreplace({node.symbol: self.definitions[name]})
        return expr

    # ---- numbers -------------------------------------------------------------
    def env(self, point: Point) -> dict | None:
        """Node values at ``point`` (symbol -> Float), or None where the network is undefined."""
        key = tuple(sorted(point.items()))
        if key not in self._envs:
            env = {self.network.node(n).symbol: sp.Float(point[n], PRECISION) for n in self.leaves}
            for name in self.network.order:
                node = self.network.node(name)
                if not node.is_leaf:
                    value = value_at(self.definitions[name], env)
                    if value is None:
                        env = None
                        break
                    env[node.symbol] = sp.Float(value, PRECISION)
            self._envs[key] = env
        return self._envs[key]

    def adjoints(self, of: str, point: Point) -> dict | None:
        """``env`` extended by every adjoint of the derivation from ``of``."""
        key = (of, tuple(sorted(point.items())))
        if key not in self._envs:
            env = self.env(point)
            if env is not None:
                env = dict(env)
                d = self.derivation(of)
                for step in d.backward:
                    value = value_at(d.scalar_form(step.adjoint), env)
                    if value is None:
                        env = None
                        break
                    env[AdjointSymbol(step.node, of)] = sp.Float(value, PRECISION)
            self._envs[key] = env
        return self._envs[key]

    def value(self, target: Target, point: Point) -> float | None:
        """The true value of ``target`` at ``point`` (None where undefined)."""
        if target.kind == "value":
            env = self.env(point)
            return None if env is None else float(env[self.network.node(target.of).symbol])
        if target.of == target.wrt:
            return 1.0
        if target.kind == "local":
            env = self.env(point)
            return None if env is None else value_at(self.local_term(target.of, target.wrt).expr, env)
        if not self.has_step(target.of, target.wrt):
            return 0.0
        env = self.adjoints(target.of, point)
        return None if env is None else float(env[AdjointSymbol(target.wrt, target.of)])

    def hand_value(self, target: Target, digits: int) -> float | None:
        """The value a person gets carrying ``digits`` decimals forward (spec values only)."""
        if not self.values:
            return None
        try:
            copy = self.derivation(target.of).network
            d = backprop(copy, self.values, digits=digits, mode="hand")
        except SpecError:
            return None
        if target.kind == "value":
            return d.value(target.of)
        if target.of == target.wrt:
            return 1.0
        if not self.has_step(target.of, target.wrt):
            return 0.0
        if target.kind == "local":
            return next(t.local_value for t in d.step(target.wrt).terms if t.of == target.of)
        return d.adjoint_value(target.wrt)

    def at_kink(self, exprs: Iterable[sp.Expr], env: Mapping) -> bool:
        """Does any ReLU-like function in ``exprs`` sit near its kink at ``env``?"""
        for a in self.kink_args(exprs):
            v = value_at(a, env)
            if v is not None and abs(v) < KINK_MARGIN:
                return True
        return False

    def smooth_exprs(self) -> list[sp.Expr]:
        return list(self.definitions.values())

    def pool(self, size: int = 12) -> list[dict[str, float]]:
        """Points to compare at: the spec's values first (when usable), then seeded random
        points with both signs, away from kinks and where every node is defined."""
        if self._pool is None:
            exprs = self.smooth_exprs()
            pts: list[dict[str, float]] = []
            if self.values and all(n in self.values for n in self.leaves):
                given = {n: float(self.values[n]) for n in self.leaves}
                env = self.env(given)
                if env is not None and not self.at_kink(exprs, env):
                    pts.append(given)
            rng = random.Random(self.seed)
            kinks = self.kink_args(exprs)
            sides = {a: set() for a in kinks}
            for attempt in range(400):
                uncovered = [a for a in kinks if len(sides[a]) < 2]
                if len(pts) >= size and not uncovered:
                    break
                positive = attempt >= 100  # e.g. a log of an input: fall back to positive values
                p = {n: (1 if positive or rng.random() < 0.5 else -1) * rng.uniform(0.3, 1.7)
                     for n in self.leaves}
                env = self.env(p)
                if env is None or self.at_kink(exprs, env):
                    continue
                signs = {a: value_at(a, env) > 0 for a in kinks}
                # past the wanted number, keep only points on a side of a kink not yet seen:
                # a claim that drops ReLU's 𝟙[z > 0] agrees wherever z > 0
                if len(pts) < size or any(signs[a] not in sides[a] for a in uncovered):
                    pts.append(p)
                    for a in kinks:
                        sides[a].add(signs[a])
            self._pool = pts
        return self._pool

    def kink_args(self, exprs: Iterable[sp.Expr]) -> list[sp.Expr]:
        """Arguments of the ReLU-like functions in ``exprs`` (where their kinks are)."""
        out = []
        for expr in exprs:
            for f in expr.atoms(*NONSMOOTH):
                args = f.args[:1] if not isinstance(f, (sp.Max, sp.Min)) else \
                    [a - b for i, a in enumerate(f.args) for b in f.args[i + 1:]]
                out += [a for a in args if a not in out]
        return out


def value_at(expr: sp.Expr, env: Mapping) -> float | None:
    """``expr`` at ``env`` (symbol -> number) to :data:`PRECISION` digits; None if not finite and real."""
    try:
        value = expr.xreplace(env).evalf(PRECISION)
        z = complex(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not cmath.isfinite(z) or abs(z.imag) > 1e-20 * max(1.0, abs(z.real)):
        return None
    return z.real if math.isfinite(z.real) else None
