r"""The truth a claim is judged against, and the cases it is judged at.

A claim's target is a node's value (``z_1``), the loss's gradient
(:math:`\partial L/\partial w_1`), a local derivative of a node by one of its
inputs (:math:`\partial a_2/\partial z_2`), or the total derivative of a node by
an ancestor. All come from the one driver (:func:`~symbackprop.backprop.derive_steps`)
run on the part of the network the differentiated node is computed from, with
every leaf trainable (so that :math:`\partial L/\partial x` of an input has an
answer too) and no shortcut that holds only for some targets. Scalar and
matrix networks are one case: values are NumPy arrays, a number is 0-d.

A claim is judged under three readings, each a list of :class:`Case`:

- ``given``: at the spec's own values (what a worked solution claims);
- ``inputs``: at random parameters, the given inputs and targets kept;
- ``general``: at random values of every leaf (and random sizes of every
  dimension, each a different one, so a transposed square matrix or a
  ``\frac{2}{4}`` written for ``\frac{2}{m}`` is caught).

>>> from symbackprop.reader.forward import network_from_latex
>>> net = network_from_latex("z = w x\na = \\sigma(z)\nL = (a - y)^2", params=["w"])
>>> truth = Truth(net, {"w": 0.5, "x": 1.0, "y": 0.0})
>>> truth.target("L", "x").kind, truth.target("a", "z").kind, truth.target("a", "w").kind
('adjoint', 'local', 'total')
>>> [len(truth.cases(r)) > 0 for r in READINGS]
[True, True, True]
>>> round(float(truth.value(truth.target("L", "w"), truth.cases("given")[0])), 6)
0.292561
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np

from symbackprop import ir
from symbackprop.backprop import backprop, backward_values, derive_steps, forward_values, leaf_arrays, named
from symbackprop.derivation import Derivation, Step, Term
from symbackprop.errors import SpecError, SymbackpropError
from symbackprop.network import Network
from symbackprop.shapes import Sizes

READINGS = ("given", "inputs", "general")
#: functions with a kink or a jump: a number's argument is kept this far from it
NONSMOOTH = ("relu", "leaky_relu", "elu", "abs", "sign", "heaviside")
KINK_MARGIN = 0.05


@dataclass(frozen=True)
class Target:
    r"""What the left-hand side of a claim names."""

    of: str  #: the differentiated node (or the node whose value is claimed)
    wrt: Optional[str]  #: None for a node's value
    kind: str  #: "value", "adjoint" (of the loss), "local" (of a node by an input), "total"
    scale: Optional[str] = None  #: a dimension it is multiplied by (Ng's dZ = m·∂J/∂Z)

    @property
    def label(self) -> str:
        if self.wrt is None:
            return self.of
        return f"{self.scale}·∂{self.of}/∂{self.wrt}" if self.scale else f"∂{self.of}/∂{self.wrt}"


@dataclass
class Case:
    """Leaf and node values at one point, with the adjoints computed there (lazily)."""

    reading: str
    env: dict
    sizes: Sizes
    adjoints: dict = field(default_factory=dict)  #: of -> {node: ∂of/∂node}

    def describe(self, names) -> str:
        """``x = 1.2, w = -0.7`` for scalars, ``m = 3, n = 2`` for sizes."""
        parts = [f"{n} = {float(self.env[n]):.4g}" for n in names if np.ndim(self.env[n]) == 0]
        parts += [f"{d} = {self.sizes[d]}" for d in sorted(self.sizes)]
        return ", ".join(parts)


class Truth:
    """Values of targets and local derivatives at the cases of each reading."""

    def __init__(self, network: Network, values: Optional[Mapping] = None, *, seed: int = 0,
                 points: int = 6):
        network.validate()
        self.network = network
        self.leaves = [n for n in network.order if network.node(n).is_leaf]
        self.values = dict(values) if values else None
        self.given = None
        if self.values and all(n in self.values for n in self.leaves):
            try:
                self.given = {n: np.asarray(self.values[n], dtype=float) for n in self.leaves}
            except (TypeError, ValueError):  # ragged rows: the derivation says so; no given case here
                self.given = None
        self.seed = seed
        self.points = points
        self._steps: dict[str, list[Step]] = {}
        self._derivations: dict[str, Derivation] = {}
        self._cases: dict[str, list[Case]] = {}
        self.kinks = [a for n in network.order if not network.node(n).is_leaf
                      for a in kink_args(network.node(n).expr)]

    # ---- targets -----------------------------------------------------------
    def target(self, of: str, wrt: Optional[str] = None) -> Target:
        net = self.network
        if wrt is None:
            return Target(of, None, "value")
        if net.node(of).is_leaf:  # one leaf does not depend on another: 0 (1 by itself)
            return Target(of, wrt, "total")
        if net.node(of).shape != ():
            raise SpecError(f"'{of}' is an array: its derivative by '{wrt}' is a Jacobian; "
                            f"claim the gradient of the loss, ∂{net.loss}/∂{wrt}")
        if of == net.loss:
            return Target(of, wrt, "adjoint")
        return Target(of, wrt, "local" if wrt in net.inputs(of) else "total")

    def alternatives(self, target: Target) -> list[Target]:
        """The readings of ``∂y/∂x``: local, and total when ``y`` also depends on ``x`` otherwise."""
        if target.kind != "local":
            return [target]
        paths = [c for c in self.network.consumers(target.wrt)
                 if c != target.of and target.of in self.network.descendants(c)]
        return [target, Target(target.of, target.wrt, "total")] if paths else [target]

    def batch_dim(self) -> Optional[str]:
        """The dimension the loss averages over (the ``m`` of a ``\\frac{1}{m}`` in it), if any."""
        from symbackprop.shapes import dim_symbol

        net = self.network
        found: list[str] = []
        for name in [n for n in net.order if n in net.ancestors(net.loss) or n == net.loss]:
            node = net.node(name)
            if node.is_leaf or node.shape != ():
                continue
            for e in ir.walk(node.expr):
                coeff = getattr(e, "coeff", None) if isinstance(e, ir.Scale) else \
                    e.value if isinstance(e, ir.Scalar) else None
                if coeff is None:
                    continue
                for d in sorted(net.dims):
                    if dim_symbol(d) in getattr(coeff, "free_symbols", ()) and d not in found:
                        found.append(d)
        return found[0] if len(found) == 1 else None

    def subnet(self, of: str) -> Network:
        return self.network.copy_for(of, [n for n in self.leaves if n in self.network.ancestors(of)])

    def steps(self, of: str) -> list[Step]:
        """Reverse mode from node ``of``, exact for any values (no conditional shortcut)."""
        if of not in self._steps:
            self._steps[of] = derive_steps(self.subnet(of), lambda f: f.assumption is None)
        return self._steps[of]

    def derivation(self, of: str) -> Derivation:
        """The symbolic derivation from ``of`` (for writing local derivatives as a person does)."""
        if of not in self._derivations:
            net = self.subnet(of)
            self._derivations[of] = Derivation(net, [], self.steps(of), named=named(net))
        return self._derivations[of]

    def has_step(self, of: str, wrt: str) -> bool:
        return any(s.node == wrt for s in self.steps(of))

    def term(self, of: str, wrt: str) -> Term:
        """The term of ``∂of/∂wrt`` through ``of`` itself (its local derivative)."""
        step = next(s for s in self.steps(of) if s.node == wrt)
        return next(t for t in step.terms if t.of == of)

    def terms(self, target: Target) -> list[Term]:
        """Every term of the derivation from ``target.of``."""
        return [t for s in self.steps(target.of) for t in s.terms]

    # ---- values ------------------------------------------------------------
    def value(self, target: Target, case: Case) -> Optional[np.ndarray]:
        """The true value of ``target`` in ``case`` (None where it is undefined)."""
        try:
            if target.kind == "value":
                return np.asarray(case.env[target.of], dtype=float)
            value = self._derivative(target, case)
            if value is not None and target.scale:
                value = value * case.sizes[target.scale]
            return value
        except SymbackpropError:
            return None

    def _derivative(self, target: Target, case: Case) -> Optional[np.ndarray]:
        shape = case.sizes.resolve(self.network.node(target.wrt).shape)
        if target.of == target.wrt:
            return np.ones(shape)
        if self.network.node(target.of).is_leaf or not self.has_step(target.of, target.wrt):
            return np.zeros(shape)
        if target.kind == "local":
            term = self.term(target.of, target.wrt)
            if term.local is not None:
                return _finite(ir.evaluate(term.local, case.env, sizes=case.sizes))
            return _finite(ir.evaluate(term.expr, case.env, sizes=case.sizes))  # upstream 1: of is the loss here
        adjoints = self.adjoints(target.of, case)
        return None if adjoints is None else np.asarray(adjoints[target.wrt], dtype=float)

    def adjoints(self, of: str, case: Case) -> Optional[dict]:
        if of not in case.adjoints:
            try:
                case.adjoints[of] = backward_values(self.subnet(of), self.steps(of), case.env, case.sizes)
            except SymbackpropError:
                case.adjoints[of] = None
        return case.adjoints[of]

    def evaluate(self, expr: ir.Expr, case: Case, extra: Mapping) -> Optional[np.ndarray]:
        """``expr`` in ``case`` with placeholders ``extra`` (None where not finite)."""
        env = dict(case.env)
        env.update(extra)
        try:
            return _finite(ir.evaluate(expr, env, sizes=case.sizes))
        except (SymbackpropError, ValueError, KeyError):
            return None

    def hand_value(self, target: Target, digits: int) -> Optional[float]:
        """The value a person gets carrying ``digits`` decimals forward (scalar, given values)."""
        if self.given is None or not self.network.is_scalar:
            return None
        try:
            d = backprop(self.subnet(target.of), self.values, digits=digits, mode="hand")
        except SymbackpropError:
            return None
        if target.kind == "value":
            return float(d.value(target.of))
        if target.of == target.wrt:
            return 1.0
        if not self.has_step(target.of, target.wrt):
            return 0.0
        if target.kind == "local":
            return next(t.local_value for t in d.step(target.wrt).terms if t.of == target.of)
        return float(d.adjoint_value(target.wrt))

    # ---- the cases -----------------------------------------------------------
    def cases(self, reading: str) -> list[Case]:
        """The cases of ``reading`` (empty when it has none: no given values)."""
        if reading not in self._cases:
            self._cases[reading] = self._make(reading)
        return self._cases[reading]

    def _case(self, reading: str, arrays: Mapping) -> Optional[Case]:
        try:
            env, sizes = leaf_arrays(self.network, arrays)
            forward_values(self.network, env, sizes)
        except SymbackpropError:
            return None
        return Case(reading, env, sizes)

    def _make(self, reading: str) -> list[Case]:
        if reading == "given":
            case = None if self.given is None else self._case("given", self.given)
            return [case] if case is not None else []
        if reading == "inputs" and self.given is None:
            return []
        vary = set(self.network.params) if reading == "inputs" else set(self.leaves)
        rng = random.Random(f"{self.seed}:{reading}")
        nrng = np.random.default_rng(rng.randrange(2 ** 32))
        dims = sorted(self.network.dims)
        sides = [set() for _ in self.kinks]
        out: list[Case] = []
        for attempt in range(200):
            uncovered = any(len(s) < 2 for s in sides)
            if len(out) >= self.points and (not uncovered or len(out) >= 3 * self.points):
                break
            if reading == "general" and dims:
                sizes = Sizes(zip(dims, rng.sample(range(2, 6 + len(dims)), len(dims))))
            else:
                sizes = self.cases("given")[0].sizes if self.cases("given") else Sizes()
            arrays = {}
            for name in self.leaves:
                example = None if self.given is None else self.given[name]
                if name not in vary:
                    arrays[name] = example
                    continue
                shape = sizes.resolve(self.network.node(name).shape)
                if name in self.network.params or (example is not None and example.ndim == 0):
                    example = None if attempt < 60 or example is None else np.abs(example) + 1
                arrays[name] = like(example, shape, nrng, both_signs=attempt < 60)
            case = self._case(reading, arrays)
            if case is None:
                continue
            signs = []
            near = False
            for a in self.kinks:
                v = self.evaluate(a, case, {})
                if v is None:
                    near = True
                    break
                margin = KINK_MARGIN if v.ndim == 0 else 1e-9
                near |= bool(np.any(np.abs(v) < margin))
                signs.append({bool(x > 0) for x in np.ravel(v)})
            if near:
                continue
            new_side = any(not s <= seen for s, seen in zip(signs, sides))
            if len(out) < self.points or new_side:
                out.append(case)
                for s, seen in zip(signs, sides):
                    seen |= s
        return out


def kink_args(e: ir.Expr) -> list[ir.Expr]:
    """Where the ReLU-like functions of ``e`` have their kinks (their arguments; a − b of max(a, b))."""
    out = []
    for n in ir.walk(e):
        if isinstance(n, (ir.Apply, ir.Prime)) and n.func in NONSMOOTH:
            out.append(n.x)
        elif isinstance(n, (ir.Maximum, ir.Minimum)):
            out.append(ir.sub(n.a, n.b))
    return out


def like(example: Optional[np.ndarray], shape: tuple, rng: np.random.Generator, *,
         both_signs: bool = True) -> np.ndarray:
    """Random values like ``example``: one-hot rows stay one-hot, 0/1 stays 0/1, and (when not
    ``both_signs``) positive stays positive; magnitudes 0.3–1.7."""
    if example is not None and example.size and np.all((example == 0) | (example == 1)):
        if example.ndim == 2 and np.all(example.sum(axis=1) == 1) and len(shape) == 2:
            return np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]
        if example.ndim == 2 and np.all(example.sum(axis=0) == 1) and len(shape) == 2:
            return np.eye(shape[0])[:, rng.integers(0, shape[0], size=shape[1])]
        return rng.integers(0, 2, size=shape).astype(float)
    magnitude = rng.uniform(0.3, 1.7, size=shape)
    if not both_signs and (example is None or np.all(example > 0)):
        return magnitude
    return magnitude * rng.choice([-1.0, 1.0], size=shape)


def _finite(value: np.ndarray) -> Optional[np.ndarray]:
    value = np.asarray(value, dtype=float)
    return value if np.all(np.isfinite(value)) else None
