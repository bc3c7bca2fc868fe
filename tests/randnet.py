r"""Random networks for property tests of symbackprop, with an independent evaluator.

Two generators, each driven by a :class:`random.Random` (the benchmark seeds one;
hypothesis draws the seed and the size, see :func:`scalar_networks`):

* :func:`scalar_network` -- a scalar DAG of 3..30 named nodes written in LaTeX:
  fan-out (a node read by several later nodes), parameters shared by several
  nodes, sums of nodes, every function the reader accepts (sigma, tanh, ReLU,
  LeakyReLU, ELU, GELU, softplus, exp / e^{..}, ln / log, sqrt), quotients
  (``\frac`` and ``/``) and powers of compound expressions.
* :func:`matrix_network` -- batched networks of 1..4 layers ``Z = X W + b`` with
  activations, residual adds, a gated (Hadamard) layer, a weight shared by two
  layers, L2 regularisers, and MSE / BCE / softmax-CE losses.

Each returns a :class:`RandomNet`: the spec's TOML text, the leaf values, and a
loss function built from the generator's own tree (mpmath at 40 digits for
scalars, NumPy float64 for matrices) that shares no code with symbackprop; its
central differences are the reference gradients (:meth:`RandomNet.reference`).

:func:`run_stages` gets the loss and gradients from the package's four routes
(derivation, ``Derivation.compile()``, the module written by ``symbackprop
export``) and :func:`compare` judges them against the reference.

Error measure: ``|a - b| / max(1, |b|)`` with ``b`` the reference, the max over
the entries of an array (``max|A - B| / max(1, max|B|)``). It is a relative
error for values larger than 1 and an absolute one for small values, so a
gradient that is 0 in exact arithmetic but ~1e-17 after float64 cancellations
does not count as a disagreement; the package computes in float64 (relative
rounding ~1e-16 times a modest condition number) and the references are
accurate to ~1e-18 (scalars) and ~1e-10 (matrices), so a tolerance of 1e-6 can
only be crossed by a wrong formula.
"""
from __future__ import annotations

import importlib.util
import io
import itertools
import math
import os
import random
import re
import sys
import time
import traceback
import signal
import threading
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import mpmath
import numpy as np

TOL = 1e-6

# --------------------------------------------------------------------------------------
# Scalar expressions: a tiny tree with its own LaTeX printer and its own mpmath evaluator
# --------------------------------------------------------------------------------------
ADD, NEG, MUL, POW, ATOM = 1, 2, 3, 4, 5


class Reject(Exception):
    """The drawn values leave a domain, sit near a kink, or overflow: draw again."""


class Rec:
    """What an evaluation saw: the closest kink, the smallest denominator, the largest value."""

    def __init__(self):
        self.kink = math.inf
        self.den = math.inf
        self.big = 0.0
        self.domain = True


KINK_MARGIN = 1e-2
DEN_MARGIN = 1e-2
BIG = 1e3


class E:
    prec = ATOM

    def tex(self) -> str:
        raise NotImplementedError

    def ev(self, env, rec):
        raise NotImplementedError

    def wrap(self, need: int) -> str:
        t = self.tex()
        return t if self.prec >= need else rf"\left({t}\right)" if getattr(self, "lr", False) else f"({t})"

    def size(self) -> int:
        return 1


class Var(E):
    def __init__(self, name, texname):
        self.name, self.texname = name, texname

    def tex(self):
        return self.texname

    def ev(self, env, rec):
        return env[self.name]


class Num(E):
    def __init__(self, value, text):
        self.value, self.text = value, text

    def tex(self):
        return self.text

    def ev(self, env, rec):
        return mpmath.mpf(self.value)


class Add(E):
    prec = ADD

    def __init__(self, terms, lr=False):
        self.terms, self.lr = terms, lr  # [(sign, E)]

    def tex(self):
        out = []
        for i, (s, t) in enumerate(self.terms):
            body = t.wrap(MUL) if not isinstance(t, Neg) else f"({t.tex()})"
            if i == 0:
                out.append(("-" if s < 0 else "") + body)
            else:
                out.append(("- " if s < 0 else "+ ") + body)
        return " ".join(out)

    def ev(self, env, rec):
        return sum((t.ev(env, rec) * s for s, t in self.terms), mpmath.mpf(0))

    def size(self):
        return 1 + sum(t.size() for _, t in self.terms)


class Neg(E):
    prec = NEG

    def __init__(self, e):
        self.e = e

    def tex(self):
        return "-" + self.e.wrap(MUL)

    def ev(self, env, rec):
        return -self.e.ev(env, rec)

    def size(self):
        return 1 + self.e.size()


class Mul(E):
    prec = MUL

    def __init__(self, factors, dot=False, lr=False):
        self.factors, self.dot, self.lr = factors, dot, lr

    def tex(self):
        parts = []
        for i, f in enumerate(self.factors):
            if isinstance(f, Num) and i > 0:  # a number after a name: always written first
                parts.append(f"({f.tex()})")
            else:
                parts.append(f.wrap(POW))
        return (r" \cdot " if self.dot else " ").join(parts)

    def ev(self, env, rec):
        r = mpmath.mpf(1)
        for f in self.factors:
            r *= f.ev(env, rec)
        return r

    def size(self):
        return 1 + sum(f.size() for f in self.factors)


class Div(E):
    def __init__(self, num, den, slash=False, lr=False):
        self.num, self.den, self.slash, self.lr = num, den, slash, lr
        self.prec = MUL if slash else ATOM

    def tex(self):
        if self.slash:
            return f"{self.num.wrap(POW)} / {self.den.wrap(POW)}"
        return rf"\frac{{{self.num.tex()}}}{{{self.den.tex()}}}"

    def ev(self, env, rec):
        d = self.den.ev(env, rec)
        rec.den = min(rec.den, abs(float(d)))
        if d == 0:
            raise Reject("division by zero")
        return self.num.ev(env, rec) / d

    def size(self):
        return 1 + self.num.size() + self.den.size()


class Pow(E):
    prec = POW

    def __init__(self, base, k, text, lr=False):
        self.base, self.k, self.text, self.lr = base, k, text, lr

    def tex(self):
        b = self.base
        pow_safe = isinstance(b, Var) or (isinstance(b, Func) and b.pow_safe())
        bt = b.tex() if pow_safe else (rf"\left({b.tex()}\right)" if self.lr else f"({b.tex()})")
        return f"{bt}{self.text}"

    def ev(self, env, rec):
        b = self.base.ev(env, rec)
        if self.k < 0:
            rec.den = min(rec.den, abs(float(b)))
            if b == 0:
                raise Reject("zero to a negative power")
        if self.k != int(self.k):
            if b <= 0:
                rec.domain = False
                raise Reject("fractional power of a non-positive number")
            return b ** mpmath.mpf(self.k)
        return b ** int(self.k)

    def size(self):
        return 1 + self.base.size()


SQRT2 = None


def _gelu(z):
    return z * (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2


FUNCS = {
    "sigma": lambda z: 1 / (1 + mpmath.exp(-z)),
    "tanh": mpmath.tanh,
    "relu": lambda z: z if z > 0 else mpmath.mpf(0),
    "leaky": lambda z: z if z > 0 else z / 100,
    "elu": lambda z: z if z > 0 else mpmath.exp(z) - 1,
    "gelu": _gelu,
    "softplus": lambda z: mpmath.log(1 + mpmath.exp(z)),
    "exp": mpmath.exp,
    "ln": mpmath.log,
    "sqrt": mpmath.sqrt,
}
KINKED = {"relu", "leaky", "elu"}
SPELLINGS = {
    "sigma": [r"\sigma({})", r"\sigma\left({}\right)", r"\mathrm{{sigmoid}}({})"],
    "tanh": [r"\tanh({})", r"\tanh\left({}\right)"],
    "relu": [r"\mathrm{{ReLU}}({})", r"\operatorname{{ReLU}}({})", r"\max(0, {})"],
    "leaky": [r"\mathrm{{LeakyReLU}}({})", r"\mathrm{{LeakyReLU}}\left({}\right)"],
    "elu": [r"\mathrm{{ELU}}({})"],
    "gelu": [r"\mathrm{{GELU}}({})", r"\mathrm{{GELU}}\left({}\right)"],
    "softplus": [r"\mathrm{{softplus}}({})"],
    "exp": [r"\exp({})", r"e^{{{}}}", r"\exp\left({}\right)"],
    "ln": [r"\ln({})", r"\log({})", r"\ln\left({}\right)"],
    "sqrt": [r"\sqrt{{{}}}"],
}


class Func(E):
    def __init__(self, f, arg, spelling):
        self.f, self.arg, self.spelling = f, arg, spelling

    def pow_safe(self):
        return not self.spelling.startswith(("e^", r"\sqrt"))

    def tex(self):
        return self.spelling.format(self.arg.tex())

    def ev(self, env, rec):
        z = self.arg.ev(env, rec)
        if self.f in KINKED:
            rec.kink = min(rec.kink, abs(float(z)))
        if self.f in ("ln", "sqrt") and z <= 0:
            rec.domain = False
            raise Reject(f"{self.f} of a non-positive number")
        if self.f == "exp" and z > 50:
            raise Reject("exp overflow")
        return FUNCS[self.f](z)

    def size(self):
        return 1 + self.arg.size()


# --------------------------------------------------------------------------------------
# The network record and its reference
# --------------------------------------------------------------------------------------
@dataclass
class RandomNet:
    kind: str  # "scalar" or "matrix"
    toml: str
    values: dict  # leaf name (canonical) -> float or ndarray
    params: list
    loss_fn: Callable  # values -> loss, the independent evaluator
    size: int  # nodes (scalar) or layers (matrix)
    meta: dict = field(default_factory=dict)
    _ref: tuple | None = None

    def reference(self):
        """(loss, {param: gradient}) from central differences of ``loss_fn``."""
        if self._ref is None:
            self._ref = (_scalar_reference if self.kind == "scalar" else _matrix_reference)(self)
        return self._ref


def _scalar_reference(net):
    with mpmath.workdps(40):
        env = {k: mpmath.mpf(v) for k, v in net.values.items()}
        loss = net.loss_fn(env)
        h = mpmath.mpf("1e-12")
        grads = {}
        for p in net.params:
            up, down = dict(env), dict(env)
            up[p] += h
            down[p] -= h
            grads[p] = float((net.loss_fn(up) - net.loss_fn(down)) / (2 * h))
        return float(loss), grads


def _matrix_reference(net):
    vals = {k: np.array(v, dtype=float) for k, v in net.values.items()}
    loss = float(net.loss_fn(vals))
    h = 1e-4
    grads = {}
    for p in net.params:
        g = np.zeros_like(vals[p])
        for idx in np.ndindex(*vals[p].shape):
            def at(delta):
                v = dict(vals)
                v[p] = vals[p].copy()
                v[p][idx] += delta
                return net.loss_fn(v)
            d1 = (at(h) - at(-h)) / (2 * h)
            d2 = (at(2 * h) - at(-2 * h)) / (4 * h)
            g[idx] = (4 * d1 - d2) / 3  # Richardson: truncation O(h^4)
        grads[p] = g
    return loss, grads


# --------------------------------------------------------------------------------------
# Scalar generator
# --------------------------------------------------------------------------------------
NUMS = [(2, "2"), (3, "3"), (0.5, "0.5"), (1.5, "1.5"), (0.25, "0.25"), (4, "4"), (0.1, "0.1")]
NODE_LETTERS = "zahnuvgqks"


def _node_tex(letter, i, rng):
    r = rng.random()
    if r < 0.6:
        return f"{letter}_{{{i}}}" if i >= 10 or rng.random() < 0.5 else f"{letter}_{i}", f"{letter}_{i}"
    if r < 0.9:
        return f"{letter}_{{{i}}}", f"{letter}_{i}"
    return rf"\theta_{{{i}}}" if letter == "t" else f"{letter}_{{{i}}}", f"{letter}_{i}"


class _ScalarBuilder:
    def __init__(self, rng, n_nodes):
        self.rng = rng
        self.n_nodes = n_nodes
        self.leaves = {}  # name -> (texname, is_param)
        self.pool = []  # Vars available, in creation order
        self.uses = {}
        self.nodes = []  # (name, texname, expr)
        n_in = rng.randint(1, 3)
        n_par = rng.randint(1, 5)
        for i in range(1, n_in + 1):
            self._leaf(f"x_{i}", f"x_{i}" if rng.random() < 0.7 else f"x_{{{i}}}", False)
        for i in range(1, n_par + 1):
            letter = rng.choice("wb")
            name = f"{letter}_{i}"
            if rng.random() < 0.1:
                self._leaf(rf"\theta_{i}", rf"\theta_{{{i}}}", True)
            else:
                self._leaf(name, name if rng.random() < 0.6 else f"{letter}_{{{i}}}", True)

    def _leaf(self, name, texname, is_param):
        self.leaves[name] = (texname, is_param)
        v = Var(name, texname)
        self.pool.append(v)
        self.uses[name] = 0

    def operand(self):
        rng = self.rng
        unused = [v for v in self.pool if self.uses[v.name] == 0]
        if unused and rng.random() < 0.5:
            v = rng.choice(unused)
        elif rng.random() < 0.5:
            v = rng.choice(self.pool[-4:])
        else:
            v = rng.choice(self.pool)
        self.uses[v.name] += 1
        return v

    def param(self):
        ps = [n for n, (_, p) in self.leaves.items() if p]
        name = self.rng.choice(ps)
        self.uses[name] += 1
        return Var(name, self.leaves[name][0])

    def num(self):
        return Num(*self.rng.choice(NUMS))

    def func(self, f, arg):
        return Func(f, arg, self.rng.choice(SPELLINGS[f]))

    def positive(self, depth):
        """An expression positive for every value of ``e``: for ln, sqrt and fractional powers."""
        rng = self.rng
        e = self.expr(depth)
        k = rng.randrange(6)
        lr = rng.random() < 0.3
        if k == 0:
            return Add([(1, Num(1, "1")), (1, Pow(e, 2, rng.choice(["^{2}", "^2"]), lr))], lr)
        if k == 1:
            return Add([(1, Num(1, "1")), (1, self.func("exp", e))], lr)
        if k == 2:
            return self.func("sigma", e)
        if k == 3:
            return self.func("exp", e)
        if k == 4:
            return Add([(1, Pow(e, 2, "^{2}", lr)), (1, Num(*rng.choice(NUMS)))], lr)
        return Add([(1, self.func("softplus", e)), (1, Num(0.5, "0.5"))], lr)

    def expr(self, depth):
        rng = self.rng
        if depth <= 0:
            return self.operand() if rng.random() < 0.92 else Neg(self.operand())
        k = rng.choices(["lin", "func", "log", "sqrt", "pow", "div", "mul", "neg", "sub", "sum"],
                        [4, 6, 1, 1, 2, 2.5, 2, 0.5, 1.5, 1.5])[0]
        lr = rng.random() < 0.2
        d1 = depth - 1
        if k == "lin":  # w a + b, 2 a - w b, ...
            terms = []
            for _ in range(rng.randint(1, 3)):
                c = rng.random()
                if c < 0.4:
                    t = Mul([self.param(), self.expr(d1 if rng.random() < 0.3 else 0)], dot=rng.random() < 0.2, lr=lr)
                elif c < 0.6:
                    t = Mul([self.num(), self.expr(0)], dot=rng.random() < 0.2)
                elif c < 0.85:
                    t = self.expr(d1 if rng.random() < 0.3 else 0)
                else:
                    t = self.param()
                terms.append((rng.choice([1, 1, -1]), t))
            if rng.random() < 0.3:
                terms.append((rng.choice([1, -1]), self.num()))
            return Add(terms, lr)
        if k == "func":
            f = rng.choice(["sigma", "tanh", "relu", "leaky", "elu", "gelu", "softplus", "exp"])
            if rng.random() < 0.3:  # of a difference: LeakyReLU(k - r), ReLU(b - a)
                arg = Add([(1, self.operand()), (-1, self.operand())])
            else:
                arg = self.expr(d1)
            return self.func(f, arg)
        if k == "log":
            return self.func("ln", self.positive(d1))
        if k == "sqrt":
            return self.func("sqrt", self.positive(d1))
        if k == "pow":
            kind = rng.randrange(5)
            if kind <= 2:
                base = self.expr(d1) if rng.random() < 0.7 else Add([(1, self.operand()), (-1, self.operand())])
                n = rng.choice([2, 2, 3])
                return Pow(base, n, rng.choice([f"^{{{n}}}", f"^{n}"]), lr)
            if kind == 3:
                return Pow(self.positive(d1), -1, "^{-1}", lr)
            return Pow(self.positive(d1), 0.5, rng.choice(["^{0.5}", r"^{\frac{1}{2}}"]), lr)
        if k == "div":
            num = self.expr(d1) if rng.random() < 0.7 else self.operand()
            c = rng.random()
            if c < 0.35:
                den = self.positive(d1)
            elif c < 0.65:  # a/GELU(v), v/GELU(v): only where |GELU(v)| is not small
                den = self.func("gelu", self.operand() if rng.random() < 0.5 else self.expr(d1))
            else:
                den = self.expr(d1)
            slash = rng.random() < 0.3
            d = Div(num, den, slash=slash, lr=lr)
            if rng.random() < 0.3:  # x (v / GELU(v))
                return Mul([self.operand(), d], lr=lr)
            return d
        if k == "mul":
            fs = [self.expr(d1) for _ in range(rng.randint(2, 3))]
            if rng.random() < 0.3:
                fs.insert(0, self.num())
            return Mul(fs, dot=rng.random() < 0.25, lr=lr)
        if k == "neg":
            return Neg(self.expr(d1))
        if k == "sub":  # (k - r)^3, w LeakyReLU(k - r)
            diff = Add([(1, self.operand()), (-1, self.operand())], lr)
            c = rng.random()
            if c < 0.4:
                n = rng.choice([2, 3])
                return Pow(diff, n, f"^{{{n}}}", lr)
            if c < 0.8:
                return Mul([self.param(), self.func(rng.choice(["leaky", "relu", "elu", "gelu", "tanh"]), diff)])
            return diff
        # sum of nodes
        return Add([(rng.choice([1, 1, -1]), self.operand()) for _ in range(rng.randint(2, 4))], lr)

    def build(self):
        rng = self.rng
        used_letters = itertools.cycle(rng.sample(NODE_LETTERS, len(NODE_LETTERS)))
        for i in range(1, self.n_nodes):
            letter = next(used_letters)
            texname, name = _node_tex(letter, i, rng)
            e = self.expr(rng.choice([1, 1, 2, 2, 3]))
            self.nodes.append((name, texname, e))
            v = Var(name, texname)
            self.pool.append(v)
            self.uses[name] = 0
        # the loss reads every node nobody reads yet, and a target
        read = set()
        for _, _, e in self.nodes:
            read |= _names(e)
        dangling = [v for v in self.pool if v.name not in read and v.name not in self.leaves]
        last = self.pool[-1]
        self._leaf("y", "y", False)
        terms = [(1, Pow(Add([(1, last), (-1, Var("y", "y"))]), 2, "^2"))]
        for v in dangling:
            if v is last:
                continue
            c = rng.random()
            t = v if c < 0.5 else Mul([Num(0.5, "0.5"), v]) if c < 0.75 else Pow(v, 2, "^{2}")
            terms.append((1, t))
        self.nodes.append(("L", "L", Add(terms)))
        return self


def _names(e) -> set:
    """The names an expression reads."""
    if isinstance(e, Var):
        return {e.name}
    if isinstance(e, Num):
        return set()
    kids = {Add: lambda: [t for _, t in e.terms], Neg: lambda: [e.e], Mul: lambda: e.factors,
            Div: lambda: [e.num, e.den], Pow: lambda: [e.base], Func: lambda: [e.arg]}[type(e)]()
    return set().union(*(_names(k) for k in kids))


def scalar_network(rng: random.Random, n_nodes: int | None = None, tries: int = 40) -> RandomNet:
    """A random scalar network of ``n_nodes`` nodes (3..30 when not given), values in its domain."""
    for _ in range(200):
        n = n_nodes if n_nodes is not None else rng.randint(3, 30)
        b = _ScalarBuilder(rng, n).build()
        used = set()
        for _, _, e in b.nodes:
            used |= _names(e)
        leaves = {k: v for k, v in b.leaves.items() if k in used}
        params = [k for k, (_, p) in leaves.items() if p]
        if not params:
            continue
        nodes = b.nodes

        def loss_fn(env, nodes=nodes, rec=None):
            rec = rec or Rec()
            env = dict(env)
            for name, _, e in nodes:
                v = e.ev(env, rec)
                rec.big = max(rec.big, abs(float(v)))
                if not mpmath.isfinite(v) or rec.big > BIG:
                    raise Reject("too big")
                env[name] = v
            return env["L"]

        for _ in range(tries):
            values = {}
            for k in leaves:
                mag = rng.uniform(0.2, 1.5)
                values[k] = round(mag if rng.random() < 0.5 else -mag, rng.choice([1, 2, 3, 17]))
            if "y" in values:
                values["y"] = round(rng.uniform(-1, 1), 3)
            rec = Rec()
            try:
                with mpmath.workdps(40):
                    loss_fn({k: mpmath.mpf(v) for k, v in values.items()}, rec=rec)
            except Reject:
                continue
            except (ZeroDivisionError, OverflowError, ValueError):
                continue
            if rec.kink < KINK_MARGIN or rec.den < DEN_MARGIN or not rec.domain:
                continue
            net = RandomNet("scalar", _scalar_toml(nodes, leaves, params, values), values, params,
                            lambda env, f=loss_fn: f(env), size=len(nodes),
                            meta={"nodes": nodes, "leaves": leaves})
            try:
                _, grads = net.reference()
            except (Reject, ZeroDivisionError, OverflowError, ValueError):
                continue
            if max(abs(g) for g in grads.values()) > 1e6:
                continue
            return net
    raise RuntimeError("could not draw a scalar network")


def _scalar_toml(nodes, leaves, params, values):
    lines = [f"{tex} = {e.tex()}" for _, tex, e in nodes]
    forward = "\n".join(lines)
    out = ["forward = '''", forward, "'''",
           "params = [" + ", ".join(_toml_str(p) for p in params) + "]", "", "[values]"]
    for k, v in values.items():
        out.append(f"{_toml_key(k)} = {v!r}")
    return "\n".join(out) + "\n"


def _toml_str(s):
    return '"' + s.replace("\\", "\\\\") + '"'


def _toml_key(k):
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_str(k)


def _subtrees(e):
    """Every subtree of ``e``, ``e`` first, as (subtree, replace) with replace(new) -> a copy of ``e``."""
    yield e, lambda new: new
    kids = []
    if isinstance(e, Add):
        for i, (s, t) in enumerate(e.terms):
            kids.append((t, lambda new, i=i, s=s: Add(e.terms[:i] + [(s, new)] + e.terms[i + 1:], e.lr)))
    elif isinstance(e, Neg):
        kids.append((e.e, lambda new: Neg(new)))
    elif isinstance(e, Mul):
        for i, f in enumerate(e.factors):
            kids.append((f, lambda new, i=i: Mul(e.factors[:i] + [new] + e.factors[i + 1:], e.dot, e.lr)))
    elif isinstance(e, Div):
        kids.append((e.num, lambda new: Div(new, e.den, e.slash, e.lr)))
        kids.append((e.den, lambda new: Div(e.num, new, e.slash, e.lr)))
    elif isinstance(e, Pow):
        kids.append((e.base, lambda new: Pow(new, e.k, e.text, e.lr)))
    elif isinstance(e, Func):
        kids.append((e.arg, lambda new: Func(e.f, new, e.spelling)))
    for kid, rep in kids:
        for sub, rep2 in _subtrees(kid):
            yield sub, (lambda new, rep=rep, rep2=rep2: rep(rep2(new)))


def _one_node_net(expr, env, loss_form="square"):
    """A network of one node ``t = expr`` over fresh parameters, at the values of ``env``."""
    names = sorted(_names(expr))
    leaves = {n: (Var(n, n).texname, True) for n in names}
    # keep each leaf's LaTeX spelling as found in the expression
    def spell(e):
        if isinstance(e, Var):
            leaves[e.name] = (e.texname, True)
        for sub, _ in list(_subtrees(e))[1:]:
            if isinstance(sub, Var):
                leaves[sub.name] = (sub.texname, True)
    spell(expr)
    values = {n: float(env[n]) for n in names}
    t = Var("t", "t")
    nodes = [("t", "t", expr), ("L", "L", Pow(t, 2, "^2") if loss_form == "square" else t)]

    def loss_fn(e, nodes=nodes):
        e = dict(e)
        for name, _, ex in nodes:
            e[name] = ex.ev(e, Rec())
        return e["L"]

    return RandomNet("scalar", _scalar_toml(nodes, leaves, names, values), values, names, loss_fn,
                     size=expr.size(), meta={"nodes": nodes, "leaves": leaves})


def node_values(net):
    """Every leaf and node value of a scalar network, as mpf at 40 digits."""
    with mpmath.workdps(40):
        env = {k: mpmath.mpf(v) for k, v in net.values.items()}
        for name, _, e in net.meta["nodes"]:
            env[name] = e.ev(env, Rec())
    return env


def shrink_scalar(net, fails, max_rounds=6):
    """The smallest one-node network still failing: ``fails(RandomNet) -> bool``.

    First the nodes one by one (``t = <node's definition>``, ``L = t^2``), then, greedily,
    each subtree replaced by a fresh parameter holding its value (the point, and so every
    kink distance and denominator, stays the same).
    """
    env = node_values(net)
    best = None
    for name, _, e in net.meta["nodes"][:-1] + net.meta["nodes"][-1:]:
        cand = _one_node_net(e, env)
        try:
            if fails(cand):
                best = (e, cand)
                break
        except Exception:  # noqa: BLE001
            continue
    if best is None:
        return net
    expr, cand = best
    fresh = itertools.count(1)
    with mpmath.workdps(40):
        for _ in range(max_rounds):
            changed = False
            for sub, rep in sorted(list(_subtrees(expr))[1:], key=lambda sr: -sr[0].size()):
                if isinstance(sub, (Var, Num)):
                    continue
                name = f"p_{next(fresh)}"
                while name in env:
                    name = f"p_{next(fresh)}"
                try:
                    value = sub.ev(env, Rec())
                except Exception:  # noqa: BLE001
                    continue
                env[name] = value
                new = rep(Var(name, name))
                trial = _one_node_net(new, env)
                try:
                    ok = fails(trial)
                except Exception:  # noqa: BLE001
                    ok = False
                if ok:
                    expr, cand, changed = new, trial, True
                    break
            if not changed:
                break
    return cand


# --------------------------------------------------------------------------------------
# Matrix generator: layers as data, an evaluator in NumPy and a spec in LaTeX
# --------------------------------------------------------------------------------------
def _np_act(name, z):
    if name == "sigma":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky":
        return np.where(z > 0, z, 0.01 * z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    if name == "gelu":
        erf = np.vectorize(math.erf, otypes=[float])
        return 0.5 * z * (1 + erf(z / math.sqrt(2)))
    if name == "softplus":
        return np.logaddexp(0, z)
    if name == "identity":
        return z
    raise KeyError(name)


MATRIX_ACT_TEX = {
    "sigma": r"\sigma({})", "tanh": r"\tanh({})", "relu": r"\mathrm{{ReLU}}({})",
    "leaky": r"\mathrm{{LeakyReLU}}({})", "elu": r"\mathrm{{ELU}}({})", "gelu": r"\mathrm{{GELU}}({})",
    "softplus": r"\mathrm{{softplus}}({})",
}
MATRIX_ACTS = list(MATRIX_ACT_TEX)


def matrix_network(rng: random.Random, n_layers: int | None = None, loss: str | None = None,
                   features: tuple = ()) -> RandomNet:
    r"""A random batched network; ``features`` forces some of "residual", "gate", "shared", "reg".

    Layer k: ``Z_k = A_{k-1} W_k + b_k``, ``A_k = act(Z_k)``; a residual layer (square
    ``W_k``) adds ``H_k = A_{k-1} + A_k``; a gated layer multiplies two branches
    ``G_k = act(Z_k) \odot \sigma(A_{k-1} V_k)``; a shared layer reuses an earlier
    square weight. The loss is MSE, BCE (sigmoid output) or softmax cross-entropy,
    plus L2 penalties ``\frac{\lambda}{2}\|W\|^2`` on one or several weights.
    """
    for _ in range(100):
        try:
            return _matrix_once(rng, n_layers, loss, features)
        except Reject:
            continue
    raise RuntimeError("could not draw a matrix network")


def _matrix_once(rng, n_layers, loss, features):
    L = n_layers or rng.randint(1, 4)
    loss = loss or rng.choice(["mse", "bce", "softmax"])
    m = rng.randint(1, 5)
    symbolic = rng.random() < 0.6
    dims = [rng.randint(1, 4)]
    labels = ["n_in"]  # symbolic name of each width: a residual layer keeps its input's
    layers = []
    weights = {}  # name -> (index of input width, index of output width)
    residual_ws = []  # square weights with one label: the ones a later layer may share
    for k in range(1, L + 1):
        last = k == L
        kind = "dense"
        r = rng.random()
        if "shared" in features and k == 2:
            r = 1.0
        if not last or loss == "mse":
            if (("residual" in features or "shared" in features) and k == 1) or r < 0.2:
                kind = "residual"
            elif ("gate" in features and k == 1) or r < 0.3:
                kind = "gate"
            else:
                shareable = [w for w in residual_ws if labels[weights[w][0]] == labels[-1]]
                if shareable and (("shared" in features and k == 2) or rng.random() < 0.4):
                    kind = "shared"
        if kind in ("residual", "shared"):
            out, label = dims[-1], labels[-1]
        else:
            out = rng.randint(2, 4) if last and loss == "softmax" else rng.randint(1, 4)
            label = f"n_{k}"
        dims.append(out)
        labels.append(label)
        act = rng.choice(MATRIX_ACTS)
        if last and loss == "bce":
            act = "sigma"
        if last and loss == "softmax":
            act = "softmax"
        if last and loss == "mse" and rng.random() < 0.25:
            act = "identity"
        layer = {"k": k, "kind": kind, "act": act, "bias": rng.random() < 0.85,
                 "dot": rng.random() < 0.2, "in": len(dims) - 2, "out": len(dims) - 1}
        if kind == "shared":
            layer["W"] = rng.choice(shareable)
        else:
            layer["W"] = f"W_{k}"
            weights[f"W_{k}"] = (len(dims) - 2, len(dims) - 1)
            if kind == "residual":
                residual_ws.append(f"W_{k}")
        if kind == "gate":
            layer["V"] = f"V_{k}"
            weights[f"V_{k}"] = (len(dims) - 2, len(dims) - 1)
            layer["gact"] = rng.choice(["sigma", "tanh"])
        layers.append(layer)
    # regularisers
    reg = []
    if "reg" in features or rng.random() < 0.35:
        ws = list(weights)
        reg = rng.sample(ws, rng.randint(1, len(ws)))
    lam = rng.choice([0.01, 0.1, 0.5])
    lam_tex = rng.choice(["num", "frac"])

    # dims: symbolic names or integers
    def dim(i):
        return labels[i] if symbolic else dims[i]

    shapes = {"X": ["m", dim(0)]}
    params = []
    for layer in layers:
        w = layer["W"]
        if w not in params:
            a, b = weights[w]
            shapes[w] = [dim(a), dim(b)]
            params.append(w)
        if "V" in layer:
            a, b = weights[layer["V"]]
            shapes[layer["V"]] = [dim(a), dim(b)]
            params.append(layer["V"])
        if layer["bias"]:
            shapes[f"b_{layer['k']}"] = [dim(layer["out"])]
            params.append(f"b_{layer['k']}")
    shapes["Y"] = ["m", dim(len(dims) - 1)]

    # values
    vals = {"X": np.array([[round(rng.uniform(-2, 2), 3) for _ in range(dims[0])] for _ in range(m)])}
    for p in params:
        shp = [dims[weights[p][0]], dims[weights[p][1]]] if p in weights else [dims[layers[int(p[2:]) - 1]["out"]]]
        scale = 1 / math.sqrt(shp[0]) if len(shp) == 2 else 0.5
        vals[p] = np.array(np.vectorize(lambda _: round(rng.gauss(0, scale), 4))(np.zeros(shp)), dtype=float)
    n_out = dims[-1]
    if loss == "mse":
        Y = [[round(rng.uniform(-1, 1), 3) for _ in range(n_out)] for _ in range(m)]
    elif loss == "bce":
        Y = [[rng.choice([0.0, 1.0, round(rng.uniform(0.05, 0.95), 3)]) for _ in range(n_out)] for _ in range(m)]
    else:
        Y = []
        for _ in range(m):
            if rng.random() < 0.6:
                row = [0.0] * n_out
                row[rng.randrange(n_out)] = 1.0
            else:  # a distribution: exact in binary so the row sums to 1 exactly
                ws = [rng.randint(1, 4) for _ in range(n_out)]
                tot = sum(ws)
                row = [w / tot for w in ws]
                row[-1] = 1.0 - sum(row[:-1])
            Y.append(row)
    vals["Y"] = np.array(Y, dtype=float)

    def loss_fn(v, check=None):
        A = v["X"]
        for layer in layers:
            k = layer["k"]
            Z = A @ v[layer["W"]]
            if layer["bias"]:
                Z = Z + v[f"b_{k}"]
            if check is not None and layer["act"] in KINKED:
                check.append(np.min(np.abs(Z)))
            if layer["act"] == "softmax":
                A_new = Z  # log-softmax taken in the loss
            else:
                A_new = _np_act(layer["act"], Z)
            if layer["kind"] == "gate":
                A_new = A_new * _np_act(layer["gact"], A @ v[layer["V"]])
            if layer["kind"] == "residual":
                A_new = A + A_new
            A = A_new
        Y = v["Y"]
        mm = Y.shape[0]
        if loss == "mse":
            J = np.sum((A - Y) ** 2) / mm
        elif loss == "bce":
            Zl = A  # sigma output: ln A = -softplus(-Z), ln(1 - A) = -softplus(Z)
            J = -np.sum(Y * np.log(Zl) + (1 - Y) * np.log(1 - Zl)) / mm
        else:
            Zl = A
            lse = np.max(Zl, axis=1, keepdims=True)
            logp = Zl - lse - np.log(np.sum(np.exp(Zl - lse), axis=1, keepdims=True))
            J = -np.sum(Y * logp) / mm
        for w in reg:
            J = J + lam / 2 * np.sum(v[w] ** 2)
        return J

    check = []
    J0 = loss_fn(vals, check)
    if not np.isfinite(J0) or (check and min(check) < KINK_MARGIN):
        raise Reject("kink")
    if loss == "bce":
        pass

    # the spec
    lines = []
    A_prev = "X"
    for layer in layers:
        k = layer["k"]
        prod = rf"{A_prev} \cdot {layer['W']}" if layer["dot"] else f"{A_prev} {layer['W']}"
        z = f"Z_{k} = {prod}" + (f" + b_{k}" if layer["bias"] else "")
        lines.append(z)
        act = layer["act"]
        if act == "softmax":
            lines.append(rf"P = \mathrm{{softmax}}(Z_{k})")
            A_prev = "P"
            continue
        if act == "identity":
            a_name = f"Z_{k}"
        else:
            a_name = f"A_{k}"
            lines.append(f"A_{k} = " + MATRIX_ACT_TEX[act].format(f"Z_{k}"))
        if layer["kind"] == "gate":
            lines.append(f"U_{k} = {A_prev} {layer['V']}")
            lines.append(f"G_{k} = {a_name} \\odot " + MATRIX_ACT_TEX[layer["gact"]].format(f"U_{k}"))
            a_name = f"G_{k}"
        if layer["kind"] == "residual":
            lines.append(f"H_{k} = {A_prev} + {a_name}")
            a_name = f"H_{k}"
        A_prev = a_name
    out = A_prev
    if loss == "mse":
        form = rng.randrange(3)
        if form == 0:
            lines.append(rf"L = \frac{{1}}{{m}}\|{out} - Y\|^2")
        elif form == 1:
            lines.append(rf"D = {out} - Y")
            lines.append(r"L = \frac{1}{m}\sum D \odot D")
        else:
            lines.append(rf"L = \frac{{1}}{{m}}\sum ({out} - Y) \odot ({out} - Y)")
    elif loss == "bce":
        lines.append(rf"L = -\frac{{1}}{{m}}\sum \left( Y \odot \ln {out} + (1 - Y) \odot \ln(1 - {out}) \right)")
    else:
        lines.append(r"L = -\frac{1}{m}\sum Y \odot \ln P")
    if reg:
        terms = []
        for w in reg:
            if lam_tex == "num":
                terms.append(rf"\frac{{{lam}}}{{2}}\|{w}\|^2")
            else:
                terms.append(rf"{lam / 2!r} \|{w}\|^2")
        lines.append("J = L + " + " + ".join(terms))
    toml = ["forward = '''", *lines, "'''",
            "params = [" + ", ".join(f'"{p}"' for p in params) + "]", "", "[shapes]"]
    for k, s in shapes.items():
        toml.append(f"{k} = [" + ", ".join(f'"{d}"' if isinstance(d, str) else str(d) for d in s) + "]")
    toml.append("")
    toml.append("[values]")
    for k, v in vals.items():
        toml.append(f"{k} = {_toml_array(v)}")
    meta = {"loss": loss, "layers": [(l["kind"], l["act"]) for l in layers], "reg": reg, "m": m,
            "dims": dims}
    return RandomNet("matrix", "\n".join(toml) + "\n", vals, params, loss_fn, size=len(lines), meta=meta)


def _toml_array(a):
    if a.ndim == 1:
        return "[" + ", ".join(repr(float(x)) for x in a) + "]"
    return "[" + ", ".join(_toml_array(r) for r in a) + "]"


# --------------------------------------------------------------------------------------
# Running the package and comparing
# --------------------------------------------------------------------------------------
@dataclass
class Crash:
    stage: str
    exc_type: str
    message: str
    expected: bool  # a SymbackpropError (raised on purpose, but the network is valid)
    tb: str = ""

    def key(self):
        msg = re.sub(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", "N", self.message)
        msg = re.sub(r"/\S*\.toml", "SPEC", msg)
        msg = re.sub(r"'[^']*'", "'…'", msg)
        return f"crash[{self.stage}] {self.exc_type}: {msg[:100]}"


@dataclass
class Disagreement:
    stage: str
    what: str  # "loss" or the parameter
    got: object
    want: object
    err: float

    def key(self):
        return f"disagree[{self.stage}] {'loss' if self.what == 'loss' else 'gradient'}"


@dataclass
class Outcome:
    net: RandomNet
    crashes: list = field(default_factory=list)
    disagreements: list = field(default_factory=list)
    worst: float = 0.0
    worst_stage: str = ""

    @property
    def ok(self):
        return not self.crashes and not self.disagreements

    def classes(self):
        out = {c.key() for c in self.crashes}
        out |= {d.key() for d in self.disagreements}
        return sorted(out)

    def describe(self):
        lines = []
        for c in self.crashes:
            lines.append(f"  {c.stage}: {c.exc_type}: {c.message}")
        for d in self.disagreements:
            lines.append(f"  {d.stage}: {d.what}: got {d.got!r}, reference {d.want!r} (error {d.err:.3g})")
        return "\n".join(lines)


def rel_err(a, b) -> float:
    """``max|a - b| / max(1, max|b|)``; inf for a shape mismatch or a non-number."""
    try:
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return math.inf
    if a.shape != b.shape:
        return math.inf
    if not np.all(np.isfinite(a)):
        return math.inf
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


_module_counter = itertools.count()


def _call_values(net):
    if net.kind == "scalar":
        return {k: float(v) for k, v in net.values.items()}
    return {k: np.array(v, dtype=float) for k, v in net.values.items()}


class StageTimeout(BaseException):
    """A stage ran longer than its time limit (a BaseException: ``except Exception`` lets it pass)."""


@contextmanager
def time_limit(seconds):
    """Raise :class:`StageTimeout` after ``seconds`` (main thread, POSIX: SIGALRM); 0 disables."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise StageTimeout(f"no result after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_stages(net: RandomNet, workdir: str | Path, stages=("derivation", "compiled", "exported"),
               timeout: float = 30.0):
    """{stage: (loss, {param: grad})} for the stages that ran, and the crashes of the others.

    Each stage gets ``timeout`` seconds; a stage that takes longer is a crash
    ``StageTimeout`` (a hang is a finding too).
    """
    import symbackprop as sb
    from symbackprop.cli import main as cli_main

    workdir = Path(workdir)
    n = next(_module_counter)
    spec_path = workdir / f"net_{os.getpid()}_{n}.toml"
    spec_path.write_text(net.toml, encoding="utf-8")
    results, crashes = {}, []

    def crash(stage, e):
        crashes.append(Crash(stage, type(e).__name__, str(e).replace(str(spec_path), "SPEC"),
                             isinstance(e, sb.SymbackpropError), traceback.format_exc(limit=-4)))

    d = None
    try:
        with time_limit(timeout):
            spec = sb.load_spec(spec_path)
            d = sb.derive(spec)
    except (Exception, StageTimeout) as e:  # noqa: BLE001 - every exception is a finding
        crash("derive", e)
    if d is not None and "derivation" in stages:
        try:
            results["derivation"] = (d.loss_value, {p: d.gradient_value(p) for p in net.params})
        except Exception as e:  # noqa: BLE001
            crash("derivation-values", e)
    if d is not None and "compiled" in stages:
        try:
            with time_limit(timeout):
                f = d.compile()
        except (Exception, StageTimeout) as e:  # noqa: BLE001
            crash("compile", e)
        else:
            try:
                with time_limit(timeout):
                    results["compiled"] = f(**_call_values(net))
            except (Exception, StageTimeout) as e:  # noqa: BLE001
                crash("compiled-run", e)
    if "exported" in stages:
        out_py = workdir / f"grads_{os.getpid()}_{n}.py"
        err = io.StringIO()
        try:
            with redirect_stderr(err), redirect_stdout(io.StringIO()), time_limit(timeout):
                status = cli_main(["export", str(spec_path), "-o", str(out_py)])
        except BaseException as e:  # noqa: BLE001
            crash("export", e)
            status = None
        if status not in (0, None):
            crashes.append(Crash("export", f"exit {status}", err.getvalue().strip().replace(str(spec_path), "SPEC"), True))
        elif status == 0:
            try:
                modname = f"_randnet_export_{os.getpid()}_{n}"
                specm = importlib.util.spec_from_file_location(modname, out_py)
                module = importlib.util.module_from_spec(specm)
                with time_limit(timeout):
                    specm.loader.exec_module(module)
                    results["exported"] = module.loss_and_grad(**_call_values(net))
            except (Exception, StageTimeout) as e:  # noqa: BLE001
                crash("exported-run", e)
            finally:
                sys.modules.pop(f"_randnet_export_{os.getpid()}_{n}", None)
        for p in (out_py,):
            try:
                p.unlink()
            except OSError:
                pass
    try:
        spec_path.unlink()
    except OSError:
        pass
    return results, crashes


def compare(net: RandomNet, workdir, tol: float = TOL, stages=("derivation", "compiled", "exported"),
            timeout: float = 30.0) -> Outcome:
    """Every stage's loss and gradients against the reference of the independent evaluator."""
    ref_loss, ref_grads = net.reference()
    results, crashes = run_stages(net, workdir, stages, timeout)
    out = Outcome(net, crashes)
    for stage, res in results.items():
        try:
            loss, grads = res
            items = [("loss", loss, ref_loss)] + [(p, grads[p], ref_grads[p]) for p in net.params]
        except Exception as e:  # noqa: BLE001 - a malformed result (missing gradient, ...)
            out.crashes.append(Crash(stage + "-result", type(e).__name__, str(e), False))
            continue
        for what, got, want in items:
            err = rel_err(got, want)
            if err > out.worst:
                out.worst, out.worst_stage = err, stage
            if not err <= tol:
                out.disagreements.append(Disagreement(stage, what, _plain(got), _plain(want), err))
    return out


def _plain(x):
    try:
        a = np.asarray(x, dtype=float)
        return float(a) if a.ndim == 0 else a.tolist()
    except (TypeError, ValueError):
        return repr(x)


# --------------------------------------------------------------------------------------
# hypothesis strategies
# --------------------------------------------------------------------------------------
def scalar_networks(min_nodes: int = 3, max_nodes: int = 30):
    """A hypothesis strategy of :class:`RandomNet` (shrinks towards fewer nodes, smaller seeds)."""
    from hypothesis import strategies as st

    return st.builds(lambda seed, n: scalar_network(random.Random(seed), n),
                     st.integers(0, 2**32 - 1), st.integers(min_nodes, max_nodes))


def matrix_networks(max_layers: int = 4):
    from hypothesis import strategies as st

    return st.builds(lambda seed, n: matrix_network(random.Random(seed), n),
                     st.integers(0, 2**32 - 1), st.integers(1, max_layers))
