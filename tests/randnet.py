r"""Random networks for property tests of symbackprop, with an independent evaluator.

Two generators, each driven by a :class:`random.Random` (the benchmark seeds one;
hypothesis draws the seed and the size, see :func:`scalar_networks`):

* :func:`scalar_network` -- a scalar DAG of 3..30 named nodes written in LaTeX:
  fan-out (a node read by several later nodes), parameters shared by several
  nodes, sums of nodes, and every function and operator the reader accepts:
  sigma, tanh, ReLU (also ``\max(0, z)``), LeakyReLU and ELU (with and without their
  slope, ``\mathrm{LeakyReLU}(z, 0.2)``), GELU, softplus, exp / ``e^{..}``, ln / log /
  ``\log_{b}``, sqrt, ``\sqrt[n]{..}``, sin, cos, tan (kept away from its poles), sinh,
  cosh, ``|..|`` (``\left|``, ``\lvert``, ``\vert``, ``\operatorname{abs}``), ``\max(a, b)``
  and ``\min(a, b)`` of two expressions, products by juxtaposition, ``\cdot``, ``\times``
  (and ``\odot``/``\circ`` of numbers), quotients (``\frac``, ``\dfrac``, ``\tfrac``, ``/``)
  and powers of compound expressions, powers with a variable exponent (``(1 + z^2)^{w}``,
  base kept positive), powers on a function's name (``\tanh^{2}(z)``), functions without
  brackets (``\tanh z``), negation, ``\pi``, ``e``, numbers in scientific notation,
  every bracket style, the Unicode operators (× · ⋅ − ⊙ ∘ ² ³) and names the spec declares
  functions (``activations = { phi = "tanh" }``, ``\phi(z)``). :data:`SCALAR_FEATURES`
  lists them; :func:`features` tells which a network uses, :func:`covering_networks`
  draws a few that between them use all.
* :func:`matrix_network` -- batched networks of 1..4 layers ``Z = X W + b`` (or with
  ``W`` stored transposed: ``X W^\top``, ``(W X^\top)^\top``) with every activation (with
  its slope where it takes one) or another elementwise function (a quotient
  ``\frac{Z}{1 + |Z|}``, ``\max``/``\min``, sin, cos, tan, sinh, cosh, exp, ln, roots),
  residual adds, a gated (Hadamard) layer, a weight shared by two layers, centring by
  the batch mean (a row sum ``\sum_{i=1}^{m}``), normalising by ``\|A\|``, L2
  regularisers (``\|W\|^2``, ``\|W\|``, ``\sum W \odot W``) on one or several weights, and
  MSE (six spellings: one through a row sum, ``(A - Y)^{\circ 2}``, ``(A - Y)^2`` with
  ``elementwise_powers = true``), ``\|A - Y\|``, BCE / softmax-CE losses, declared
  activations and Unicode operators (:data:`MATRIX_FEATURES`).

Values are drawn again while any kink (ReLU, |..|, max/min, ...) is within 1e-2, a
denominator (or ``cos`` under a ``tan``) is smaller than 1e-2, a value leaves its
domain or overflows, or (where float64 would lose the answer the package is judged on)
a value inside a scalar node passes 1e6 or underflows below 1e-30, a matrix entry passes
1e3, or the sigmoid before a BCE loss saturates (|Z| > 30); so central differences are
valid.

Each returns a :class:`RandomNet`: the spec's TOML text, the leaf values, and a
loss function built from the generator's own tree (mpmath at 40 digits for
scalars, NumPy float64 for matrices) that shares no code with symbackprop; its
central differences are the reference gradients (:meth:`RandomNet.reference`).

:func:`run_stages` gets the loss and gradients from the package's three routes
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
# binding strength as the reader has it, loosest first: + -, \odot, products, (unary minus,
# kept below products here so a negation is always bracketed inside one), powers, atoms
ADD, ODOT, NEG, MUL, POW, ATOM = 1, 1.5, 2, 3, 4, 5


class Reject(Exception):
    """The drawn values leave a domain, sit near a kink, or overflow: draw again."""


class Rec:
    """What an evaluation saw: the closest kink, the smallest denominator, the largest value."""

    def __init__(self):
        self.kink = math.inf
        self.den = math.inf
        self.big = 0.0
        self.domain = True
        self.inner = 0.0  # the largest value inside a node (a product, power, quotient, function)
        self.tiny = math.inf  # the smallest nonzero one

    def seen(self, v):
        a = abs(float(v)) if abs(v) > mpmath.mpf("1e-300") else float(abs(v) > 0) * 1e-300
        self.inner = max(self.inner, a)
        if a:
            self.tiny = min(self.tiny, a)
        return v


KINK_MARGIN = 1e-2
DEN_MARGIN = 1e-2
BIG = 1e3
INNER_BIG = 1e6  # inside a node: float64 cancellations of larger values would pass for wrong formulas
INNER_TINY = 1e-30  # and nothing may underflow there (sqrt(e^{-800}) is 0 in float64, its derivative inf)

#: bracket styles the reader accepts for grouping (``lr`` of a node)
PARENS = {False: ("(", ")"), True: (r"\left(", r"\right)"), "[": ("[", "]"),
          r"\left[": (r"\left[", r"\right]"), "big": (r"\bigl(", r"\bigr)"), "{": ("{", "}")}


def _paren(text, style):
    o, c = PARENS[style]
    return f"{o}{text}{c}"


_ABS_DEPTH = [0]  # > 0 while printing inside |…|: a juxtaposed factor opening with a bar is bracketed
_BAR_START = re.compile(r"(\\left\s*)?(\||\\lvert|\\vert)")


class E:
    prec = ATOM
    lr = False

    def tex(self) -> str:
        raise NotImplementedError

    def ev(self, env, rec):
        raise NotImplementedError

    def wrap(self, need) -> str:
        t = self.tex()
        return t if self.prec >= need else _paren(t, self.lr)

    def kids(self) -> list:
        return []

    def rebuild(self, kids):
        return self

    def size(self) -> int:
        return 1 + sum(k.size() for k in self.kids())


class Var(E):
    def __init__(self, name, texname):
        self.name, self.texname = name, texname

    def tex(self):
        return self.texname

    def ev(self, env, rec):
        return env[self.name]


class Num(E):
    """A constant: a number as written (``2``, ``0.5``, ``2.5e-1``, ``\\frac{1}{2}``) or ``\\pi``, ``e``."""

    def __init__(self, value, text):
        self.value, self.text = value, text

    def tex(self):
        return self.text

    def ev(self, env, rec):
        if self.value == "pi":
            return +mpmath.pi
        if self.value == "e":
            return +mpmath.e
        return mpmath.mpf(self.value)


class Add(E):
    prec = ADD

    def __init__(self, terms, lr=False, plus=False, minus="-"):
        # [(sign, E)]; plus: a leading unary '+'; minus: "-" or the Unicode "−"
        self.terms, self.lr, self.plus, self.minus = terms, lr, plus, minus

    def tex(self):
        out = []
        for i, (s, t) in enumerate(self.terms):
            body = t.wrap(MUL) if not isinstance(t, Neg) else _paren(t.tex(), t.lr)
            if i == 0:
                out.append((self.minus if s < 0 else "+ " if self.plus else "") + body)
            else:
                out.append((self.minus + " " if s < 0 else "+ ") + body)
        return " ".join(out)

    def ev(self, env, rec):
        return sum((t.ev(env, rec) * s for s, t in self.terms), mpmath.mpf(0))

    def kids(self):
        return [t for _, t in self.terms]

    def rebuild(self, kids):
        return Add([(s, k) for (s, _), k in zip(self.terms, kids)], self.lr, self.plus, self.minus)


class Neg(E):
    prec = NEG

    def __init__(self, e, lr=False):
        self.e, self.lr = e, lr

    def tex(self):
        return "-" + self.e.wrap(MUL)

    def ev(self, env, rec):
        return -self.e.ev(env, rec)

    def kids(self):
        return [self.e]

    def rebuild(self, kids):
        return Neg(kids[0], self.lr)


#: product spellings: juxtaposition, \cdot, \times, the Hadamard signs (of two numbers), and
#: their Unicode characters
MUL_SEPS = [" ", r" \cdot ", r" \times ", r" \odot ", r" \circ ", " × ", " · ", " ⋅ ", " ⊙ ", " ∘ "]
_HADAMARD_SEPS = (r" \odot ", r" \circ ", " ⊙ ", " ∘ ")


class Mul(E):
    def __init__(self, factors, dot=False, lr=False, sep=None):
        self.factors, self.lr = factors, lr
        self.sep = sep if sep is not None else (r" \cdot " if dot else " ")
        self.prec = ODOT if self.sep in _HADAMARD_SEPS else MUL

    def tex(self):
        parts = []
        for i, f in enumerate(self.factors):
            if isinstance(f, Num) and i > 0:  # a number after a name: always written first
                parts.append(_paren(f.tex(), f.lr))
                continue
            t = f.wrap(POW)
            if i > 0 and self.sep == " " and _ABS_DEPTH[0] and _BAR_START.match(t):
                t = _paren(t, False)  # |a |b|| reads as |a| b|: bracket the inner one
            parts.append(t)
        return self.sep.join(parts)

    def ev(self, env, rec):
        r = mpmath.mpf(1)
        for f in self.factors:
            r *= f.ev(env, rec)
        return rec.seen(r)

    def kids(self):
        return list(self.factors)

    def rebuild(self, kids):
        return Mul(kids, lr=self.lr, sep=self.sep)


class Div(E):
    def __init__(self, num, den, slash=False, lr=False, cmd="frac"):
        self.num, self.den, self.slash, self.lr, self.cmd = num, den, slash, lr, cmd
        self.prec = MUL if slash else ATOM

    def tex(self):
        if self.slash:
            return f"{self.num.wrap(POW)} / {self.den.wrap(POW)}"
        return rf"\{self.cmd}{{{self.num.tex()}}}{{{self.den.tex()}}}"

    def ev(self, env, rec):
        d = self.den.ev(env, rec)
        rec.den = min(rec.den, abs(float(d)))
        if d == 0:
            raise Reject("division by zero")
        return rec.seen(self.num.ev(env, rec) / d)

    def kids(self):
        return [self.num, self.den]

    def rebuild(self, kids):
        return Div(kids[0], kids[1], self.slash, self.lr, self.cmd)


class Pow(E):
    """``base^k`` for a constant ``k``; ``fn``: written on the function name (``\\tanh^{2}(z)``)."""

    prec = POW

    def __init__(self, base, k, text, lr=False, fn=False):
        self.base, self.k, self.text, self.lr, self.fn = base, k, text, lr, fn

    def tex(self):
        b = self.base
        if self.fn and isinstance(b, Func) and b.fpow_ok():
            return b.tex(p=self.text)
        return f"{_base_tex(b, self.lr)}{self.text}"

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
            return rec.seen(b ** mpmath.mpf(self.k))
        return rec.seen(b ** int(self.k))

    def kids(self):
        return [self.base]

    def rebuild(self, kids):
        return Pow(kids[0], self.k, self.text, self.lr, self.fn)


def _base_tex(b, lr):
    pow_safe = isinstance(b, Var) or (isinstance(b, Num) and re.fullmatch(r"\d+(\.\d+)?", b.text)) or (
        isinstance(b, Func) and b.pow_safe())
    return b.tex() if pow_safe else _paren(b.tex(), lr)


class VarPow(E):
    """``a^{b}`` with an exponent that is an expression; the base is positive."""

    prec = POW

    def __init__(self, base, exp, lr=False):
        self.base, self.exp, self.lr = base, exp, lr

    def tex(self):
        return f"{_base_tex(self.base, self.lr)}^{{{self.exp.tex()}}}"

    def ev(self, env, rec):
        b = self.base.ev(env, rec)
        x = self.exp.ev(env, rec)
        if b <= 0:
            rec.domain = False
            raise Reject("a variable power of a non-positive number")
        if abs(x * mpmath.log(b)) > 40:
            raise Reject("power overflow")
        return rec.seen(mpmath.power(b, x))

    def kids(self):
        return [self.base, self.exp]

    def rebuild(self, kids):
        return VarPow(kids[0], kids[1], self.lr)


def _gelu(z):
    return z * (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2


#: f -> value of f(args..., param) in mpmath; param: the slope (leaky, elu), the root's degree,
#: the logarithm's base
FUNCS = {
    "sigma": lambda z, p: 1 / (1 + mpmath.exp(-z)),
    "tanh": lambda z, p: mpmath.tanh(z),
    "relu": lambda z, p: z if z > 0 else mpmath.mpf(0),
    "leaky": lambda z, p: z if z > 0 else z * (mpmath.mpf(p) if p is not None else mpmath.mpf(1) / 100),
    "elu": lambda z, p: z if z > 0 else (mpmath.mpf(p) if p is not None else 1) * (mpmath.exp(z) - 1),
    "gelu": lambda z, p: _gelu(z),
    "softplus": lambda z, p: mpmath.log(1 + mpmath.exp(z)),
    "exp": lambda z, p: mpmath.exp(z),
    "ln": lambda z, p: mpmath.log(z),
    "logb": lambda z, p: mpmath.log(z) / mpmath.log(p),
    "sqrt": lambda z, p: mpmath.sqrt(z),
    "root": lambda z, p: mpmath.root(z, p),
    "sin": lambda z, p: mpmath.sin(z),
    "cos": lambda z, p: mpmath.cos(z),
    "tan": lambda z, p: mpmath.tan(z),
    "sinh": lambda z, p: mpmath.sinh(z),
    "cosh": lambda z, p: mpmath.cosh(z),
    "abs": lambda z, p: abs(z),
    "max": lambda a, b, p: max(a, b),
    "min": lambda a, b, p: min(a, b),
}
KINKED = {"relu", "leaky", "elu", "abs"}
POSITIVE_ARG = {"ln", "logb", "sqrt", "root"}
#: spellings the reader accepts: {a} (and {b}) the arguments, {p} where a power may go
#: (\tanh^{2}(z)), {alpha} the slope, {n} the root's degree, {base} the logarithm's base.
#: A spelling ending in a bare {a} (\tanh z) is only used for a single name.
SPELLINGS = {
    "sigma": [r"\sigma{p}({a})", r"\sigma{p}\left({a}\right)", r"\mathrm{{sigmoid}}{p}({a})",
              r"\operatorname{{Sigmoid}}{p}({a})", r"\sigma{p} {a}", r"\sigma{p}[{a}]"],
    "tanh": [r"\tanh{p}({a})", r"\tanh{p}\left({a}\right)", r"\operatorname{{tanh}}{p}({a})", r"\tanh{p} {a}"],
    "relu": [r"\mathrm{{ReLU}}{p}({a})", r"\operatorname{{ReLU}}{p}({a})", r"\max{p}(0, {a})",
             r"\max{p}({a}, 0)", r"\mathrm{{relu}}{p}\left({a}\right)"],
    "leaky": [r"\mathrm{{LeakyReLU}}{p}({a})", r"\mathrm{{LeakyReLU}}{p}\left({a}\right)",
              r"\operatorname{{lrelu}}{p}({a})", r"\operatorname{{leaky\_relu}}{p}({a})",
              r"\mathrm{{Leaky-ReLU}}{p}({a})"],
    "leaky_a": [r"\mathrm{{LeakyReLU}}{p}({a}, {alpha})", r"\operatorname{{LeakyReLU}}{p}\left({a}, {alpha}\right)",
                r"\mathrm{{lrelu}}{p}({a}, {alpha})", r"\text{{LeakyReLU}}{p}({a}, {alpha})",
                r"\mathrm{{Leaky ReLU}}{p}({a}, {alpha})"],
    "elu": [r"\mathrm{{ELU}}{p}({a})", r"\operatorname{{ELU}}{p}\left({a}\right)"],
    "elu_a": [r"\mathrm{{ELU}}{p}({a}, {alpha})", r"\operatorname{{ELU}}{p}\left({a}, {alpha}\right)",
              r"\textrm{{elu}}{p}({a}, {alpha})"],
    "gelu": [r"\mathrm{{GELU}}{p}({a})", r"\mathrm{{GELU}}{p}\left({a}\right)"],
    "softplus": [r"\mathrm{{softplus}}{p}({a})", r"\operatorname{{softplus}}{p}\left({a}\right)",
                 r"\operatorname{{softplus}}{p} {a}"],
    "exp": [r"\exp{p}({a})", r"e^{{{a}}}", r"\exp{p}\left({a}\right)", r"\exp{p} {a}", r"\operatorname{{exp}}{p}({a})"],
    "ln": [r"\ln{p}({a})", r"\log{p}({a})", r"\ln{p}\left({a}\right)", r"\ln{p} {a}", r"\log{p} {a}",
           r"\log{p}[{a}]", r"\operatorname{{ln}}{p}({a})"],
    "logb": [r"\log_{{{base}}}{p}({a})", r"\log_{{{base}}}{p}\left({a}\right)"],
    "sqrt": [r"\sqrt{{{a}}}", r"\operatorname{{sqrt}}{p}({a})"],
    "root": [r"\sqrt[{n}]{{{a}}}"],
    "sin": [r"\sin{p}({a})", r"\sin{p}\left({a}\right)", r"\sin{p} {a}", r"\operatorname{{sin}}{p}({a})"],
    "cos": [r"\cos{p}({a})", r"\cos{p}\left({a}\right)", r"\cos{p} {a}"],
    "tan": [r"\tan{p}({a})", r"\tan{p}\left({a}\right)", r"\tan{p} {a}"],
    "sinh": [r"\sinh{p}({a})", r"\sinh{p}\left({a}\right)", r"\sinh{p} {a}"],
    "cosh": [r"\cosh{p}({a})", r"\cosh{p}\left({a}\right)", r"\cosh{p} {a}"],
    "abs": [r"| {a} |", r"\left| {a} \right|", r"\lvert {a} \rvert", r"\vert {a} \vert",
            r"\left\lvert {a} \right\rvert", r"\operatorname{{abs}}{p}({a})", r"\mathrm{{abs}}{p}\left({a}\right)"],
    "max": [r"\max{p}({a}, {b})", r"\max{p}\left({a}, {b}\right)", r"\max{p}[{a}, {b}]"],
    "min": [r"\min{p}({a}, {b})", r"\min{p}\left({a}, {b}\right)"],
}
_BARRED = ("|", r"\left|", r"\lvert", r"\vert", r"\left\lvert")


class Func(E):
    """``f(args)``; ``spelling`` is one of :data:`SPELLINGS` with its constants filled in."""

    def __init__(self, f, args, spelling, param=None, decl=None):
        if isinstance(args, E):
            args = [args]
        self.f, self.args, self.spelling, self.param = f, list(args), spelling, param
        self.decl = decl  # (key, function) of the spec's activations = { key = "function" }

    @property
    def arg(self):
        return self.args[0]

    def pow_safe(self):
        return self.spelling.endswith((")", "]", "|", r"\rvert", r"\vert"))

    def fpow_ok(self):
        return "{p}" in self.spelling

    def tex(self, p=""):
        barred = self.spelling.startswith(_BARRED)
        _ABS_DEPTH[0] += barred
        try:
            texts = [a.tex() for a in self.args]
        finally:
            _ABS_DEPTH[0] -= barred
        if barred and _BAR_START.match(texts[0]):  # || x | | reads as an empty |…|: bracket it
            texts[0] = _paren(texts[0], False)
        return self.spelling.format(a=texts[0], b=texts[-1], p=p)

    def ev(self, env, rec):
        zs = [a.ev(env, rec) for a in self.args]
        z, f = zs[0], self.f
        if f in KINKED:
            rec.kink = min(rec.kink, abs(float(z)))
        if f in ("max", "min"):
            rec.kink = min(rec.kink, abs(float(zs[0] - zs[1])))
        if f in POSITIVE_ARG and z <= 0:
            rec.domain = False
            raise Reject(f"{f} of a non-positive number")
        if f == "tan":
            rec.den = min(rec.den, abs(float(mpmath.cos(z))))
        if f == "exp" and z > 50 or f in ("sinh", "cosh") and abs(z) > 30:
            raise Reject(f"{f} overflow")
        return rec.seen(FUNCS[f](*zs, self.param))

    def kids(self):
        return list(self.args)

    def rebuild(self, kids):
        return Func(self.f, kids, self.spelling, self.param, self.decl)


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
#: rarer spellings of constants: pi, Euler's number, scientific notation, fractions of digits
MORE_NUMS = [("pi", r"\pi"), ("e", "e"), (0.25, "2.5e-1"), (0.5, r"\frac{1}{2}"), (0.5, r"\tfrac12"),
             (0.002, "2e-3")]
NODE_LETTERS = "zahnuvgqks"
#: functions a spec may declare under another name (activations = { phi = "tanh" }), by our f
DECLARABLE = {"sigma": "sigmoid", "tanh": "tanh", "relu": "relu", "leaky": "leaky_relu", "leaky_a": "leaky_relu",
              "elu": "elu", "elu_a": "elu", "gelu": "gelu", "softplus": "softplus", "exp": "exp", "sin": "sin",
              "cos": "cos", "sinh": "sinh", "abs": "abs"}
DECLARED_NAMES = [(r"\phi", "phi"), ("f", "f"), (r"\psi", "psi"), (r"\varphi", "varphi"), (r"\chi", "chi")]
LEAKY_ALPHAS = [(0.2, "0.2"), (0.1, "0.1"), (0.05, "0.05"), (0.3, "0.3"), (0.2, r"\frac{1}{5}")]
ELU_ALPHAS = [(0.5, "0.5"), (1.5, "1.5"), (2, "2"), (0.2, "0.2"), (0.25, "2.5e-1")]


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
        self.declared = {}  # f -> (LaTeX name, key) of a name the spec declares a function
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
        return Num(*self.rng.choice(MORE_NUMS if self.rng.random() < 0.12 else NUMS))

    def lr(self):
        """A bracket style: mostly ( ), some \\left( \\right), rarely [ ], \\left[ \\right], \\bigl( \\bigr), { }."""
        r = self.rng.random()
        if r < 0.7:
            return False
        if r < 0.88:
            return True
        return self.rng.choice(["[", r"\left[", "big", "{"])

    def func(self, f, *args):
        """``f(args)`` in one of its spellings; the slope, degree or base drawn here."""
        rng = self.rng
        if f in DECLARABLE and rng.random() < 0.05:
            return self.declared_func(f, *args)
        spellings = SPELLINGS[f]
        if not isinstance(args[0], Var):  # \tanh z only of a single name
            spellings = [s for s in spellings if not s.endswith("{a}")]
        s = rng.choice(spellings)
        param, name = None, f
        if f in ("leaky_a", "elu_a"):
            param, text = rng.choice(LEAKY_ALPHAS if f == "leaky_a" else ELU_ALPHAS)
            s, name = s.replace("{alpha}", text.replace("{", "{{").replace("}", "}}")), f[:-2]
        elif f == "root":
            param = rng.choice([3, 3, 4, 5])
            s = s.replace("{n}", str(param))
        elif f == "logb":
            param = rng.choice([2, 10, 2, 3])
            s = s.replace("{base}", str(param))
        return Func(name, list(args), s, param)

    def declared_func(self, f, *args):
        """``\\phi(z)`` with ``activations = { phi = "tanh" }`` in the spec: a name declared a function."""
        rng = self.rng
        if f not in self.declared:
            free = [d for d in DECLARED_NAMES if d not in self.declared.values()]
            if not free:
                return self.func(f, *args)
            self.declared[f] = free[0]
        tex, key = self.declared[f]
        param, tail = None, ""
        if f in ("leaky_a", "elu_a"):
            param, text = rng.choice(LEAKY_ALPHAS if f == "leaky_a" else ELU_ALPHAS)
            tail = ", " + text.replace("{", "{{").replace("}", "}}")
        s = tex + "{p}" + rng.choice(["({a}" + tail + ")", r"\left({a}" + tail + r"\right)"])
        return Func(f[:-2] if f.endswith("_a") else f, list(args), s, param, decl=(key, DECLARABLE[f]))

    def maybe_fpow(self, e):
        """Sometimes a square or cube written on the function name: ``\\tanh^{2}(z)``, ``\\sin^2 x``."""
        if isinstance(e, Func) and e.fpow_ok() and self.rng.random() < 0.12:
            n = self.rng.choice([2, 2, 3])
            return Pow(e, n, self.rng.choice([f"^{{{n}}}", f"^{n}"]), fn=True)
        return e

    def positive(self, depth):
        """An expression positive for every value of ``e``: for ln, sqrt and fractional powers."""
        rng = self.rng
        e = self.expr(depth)
        k = rng.randrange(10)
        lr = self.lr()
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
        if k == 5:
            return Add([(1, self.func("softplus", e)), (1, Num(0.5, "0.5"))], lr)
        if k == 6:  # |e| + c
            return Add([(1, self.func("abs", e)), (1, Num(*rng.choice(NUMS)))], lr)
        if k == 7:
            return self.func("cosh", e)
        if k == 8:  # 2^{e}
            return VarPow(Num(*rng.choice([(2, "2"), (3, "3"), (0.5, "0.5")])), e, lr)
        return Add([(1, Num(*rng.choice(NUMS))), (1, self.func("abs", e))], lr)

    def expr(self, depth):
        rng = self.rng
        if depth <= 0:
            return self.operand() if rng.random() < 0.92 else Neg(self.operand())
        k = rng.choices(["lin", "func", "log", "sqrt", "pow", "div", "mul", "neg", "sub", "sum",
                         "trig", "abs", "maxmin", "root", "vpow"],
                        [4, 6, 1, 1, 2, 2.5, 2, 0.5, 1.5, 1.5, 2, 1, 1.2, 0.5, 1])[0]
        lr = self.lr() if rng.random() < 0.3 else False
        d1 = depth - 1
        if k == "lin":  # w a + b, 2 a - w b, ...
            terms = []
            for _ in range(rng.randint(1, 3)):
                c = rng.random()
                if c < 0.4:
                    t = Mul([self.param(), self.expr(d1 if rng.random() < 0.3 else 0)],
                            sep=rng.choices(MUL_SEPS[:3] + [" × ", " · "], [5, 2, 2, 0.3, 0.3])[0], lr=lr)
                elif c < 0.6:
                    t = Mul([self.num(), self.expr(0)], dot=rng.random() < 0.2)
                elif c < 0.85:
                    t = self.expr(d1 if rng.random() < 0.3 else 0)
                else:
                    t = self.param()
                terms.append((rng.choice([1, 1, -1]), t))
            if rng.random() < 0.3:
                terms.append((rng.choice([1, -1]), self.num()))
            return Add(terms, lr, plus=rng.random() < 0.05, minus="−" if rng.random() < 0.05 else "-")
        if k == "func":
            f = rng.choice(["sigma", "tanh", "relu", "leaky", "elu", "gelu", "softplus", "exp",
                            "leaky_a", "elu_a"])
            if rng.random() < 0.3:  # of a difference: LeakyReLU(k - r), ReLU(b - a)
                arg = Add([(1, self.operand()), (-1, self.operand())])
            else:
                arg = self.expr(d1)
            return self.maybe_fpow(self.func(f, arg))
        if k == "trig":  # sin, cos, tan (kept away from its poles), sinh, cosh
            f = rng.choice(["sin", "cos", "tan", "sinh", "cosh"])
            return self.maybe_fpow(self.func(f, self.expr(d1)))
        if k == "abs":
            arg = self.expr(d1) if rng.random() < 0.7 else Add([(1, self.operand()), (-1, self.operand())])
            return self.maybe_fpow(self.func("abs", arg))
        if k == "maxmin":  # max(a, b), min(a, b) of two expressions; max(0, z), min(z, 1)
            f = rng.choice(["max", "min"])
            a = self.expr(d1)
            c = rng.random()
            b = self.num() if c < 0.2 else Num(0, "0") if c < 0.3 else self.expr(d1 if rng.random() < 0.6 else 0)
            if rng.random() < 0.5:
                a, b = b, a
            return self.maybe_fpow(self.func(f, a, b))
        if k == "log":  # of a positive expression; a quarter of them ln σ(z), which the package rewrites
            arg = self.func("sigma", self.expr(d1)) if rng.random() < 0.25 else self.positive(d1)
            if rng.random() < 0.08:
                return self.func("logb", arg)
            return self.maybe_fpow(self.func("ln", arg))
        if k == "sqrt":
            return self.func("sqrt", self.positive(d1))
        if k == "root":
            return self.func("root", self.positive(d1))
        if k == "vpow":  # a^{b}, the base kept positive: (1 + z^2)^{w}, \sigma(z)^{b}, 2^{z}
            c = rng.random()
            base = (self.positive(d1) if c < 0.7 else Num(*rng.choice([(2, "2"), (3, "3"), (0.5, "0.5")]))
                    if c < 0.85 else self.func("sigma", self.expr(0)))
            ex = self.param() if rng.random() < 0.4 else self.expr(d1 if rng.random() < 0.5 else 0)
            return VarPow(base, ex, lr)
        if k == "pow":
            kind = rng.randrange(7)
            if kind <= 2:
                base = self.expr(d1) if rng.random() < 0.7 else Add([(1, self.operand()), (-1, self.operand())])
                n = rng.choice([2, 2, 3])
                return Pow(base, n, rng.choice([f"^{{{n}}}", f"^{n}"] * 4 + ["²" if n == 2 else "³"]), lr)
            if kind == 3:
                return Pow(self.positive(d1), -1, "^{-1}", lr)
            if kind == 4:
                return Pow(self.positive(d1), -2, "^{-2}", lr)
            if kind == 5:
                return Pow(self.positive(d1), 1.5, rng.choice(["^{1.5}", r"^{\frac{3}{2}}"]), lr)
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
            d = Div(num, den, slash=slash, lr=lr, cmd=rng.choice(["frac"] * 6 + ["dfrac", "tfrac"]))
            if rng.random() < 0.3:  # x (v / GELU(v))
                return Mul([self.operand(), d], lr=lr)
            return d
        if k == "mul":
            fs = [self.expr(d1) for _ in range(rng.randint(2, 3))]
            if rng.random() < 0.3:
                fs.insert(0, self.num())
            sep = rng.choices(MUL_SEPS, [6, 2, 2, 0.5, 0.3, 0.3, 0.3, 0.2, 0.2, 0.2])[0]
            return Mul(fs, lr=lr, sep=sep)
        if k == "neg":
            return Neg(self.expr(d1), lr=lr)
        if k == "sub":  # (k - r)^3, w LeakyReLU(k - r)
            diff = Add([(1, self.operand()), (-1, self.operand())], lr)
            c = rng.random()
            if c < 0.4:
                n = rng.choice([2, 3])
                return Pow(diff, n, f"^{{{n}}}", lr)
            if c < 0.8:
                return Mul([self.param(), self.func(rng.choice(["leaky", "relu", "elu", "gelu", "tanh", "abs",
                                                                  "leaky_a"]), diff)])
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
    return set().union(set(), *(_names(k) for k in e.kids()))


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
            if (rec.kink < KINK_MARGIN or rec.den < DEN_MARGIN or not rec.domain or rec.inner > INNER_BIG
                    or rec.tiny < INNER_TINY):
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
    declared = {}
    for _, _, e in nodes:
        for sub, _ in _subtrees(e):
            if isinstance(sub, Func) and sub.decl:
                declared[sub.decl[0]] = sub.decl[1]
    out = ["forward = '''", forward, "'''",
           "params = [" + ", ".join(_toml_str(p) for p in params) + "]"]
    if declared:
        out.append("activations = { " + ", ".join(f'{k} = "{v}"' for k, v in declared.items()) + " }")
    out += ["", "[values]"]
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
    kids = e.kids()
    for i, kid in enumerate(kids):
        rep = (lambda new, i=i: e.rebuild(kids[:i] + [new] + kids[i + 1:]))
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
_erf_np = np.vectorize(math.erf, otypes=[float])


def _np_act(name, z):
    """The NumPy value of an activation or elementwise function (``leaky:0.2``: with its slope)."""
    name, _, alpha = name.partition(":")
    if name == "sigma":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky":
        return np.where(z > 0, z, (float(alpha) if alpha else 0.01) * z)
    if name == "elu":
        return np.where(z > 0, z, (float(alpha) if alpha else 1.0) * np.expm1(np.minimum(z, 0)))
    if name == "gelu":
        return 0.5 * z * (1 + _erf_np(z / math.sqrt(2)))
    if name == "softplus":
        return np.logaddexp(0, z)
    if name == "identity":
        return z
    if name == "softsign":
        return z / (1 + np.abs(z))
    if name == "swish":
        return z / (1 + np.exp(-z))
    if name == "maxlin":
        return np.maximum(z, 0.2 * z)
    if name == "clip":
        return np.minimum(z, 1.0)
    if name == "abs":
        return np.abs(z)
    if name == "sin":
        return np.sin(z)
    if name == "cos":
        return np.cos(z)
    if name == "tantanh":
        return np.tan(np.tanh(z))
    if name == "sinh":
        return np.sinh(z)
    if name == "cosh":
        return np.cosh(z)
    if name == "gauss":
        return np.exp(-z * z)
    if name == "lnsq":
        return np.log(1 + z * z)
    if name == "sqrt":
        return np.sqrt(1 + z * z)
    if name == "root":
        return np.cbrt(1 + z * z)
    if name == "log2sq":
        return np.log2(1 + z * z)
    if name == "logsig":
        return -np.logaddexp(0, -z)
    if name == "log2sig":
        return -np.logaddexp(0, -z) / math.log(2)
    raise KeyError(name)


#: where each kinked function has its kink
_KINK_AT = {"relu": 0.0, "leaky": 0.0, "elu": 0.0, "softsign": 0.0, "maxlin": 0.0, "abs": 0.0, "clip": 1.0}


def _kink_distance(name, z):
    at = _KINK_AT.get(name.partition(":")[0])
    return math.inf if at is None or z.size == 0 else float(np.min(np.abs(z - at)))


#: activations, every spelling the reader takes ({z}: the argument); name:alpha = with its slope
MATRIX_ACT_TEX = {
    "sigma": [r"\sigma({z})", r"\mathrm{{sigmoid}}({z})", r"\sigma\left({z}\right)"],
    "tanh": [r"\tanh({z})", r"\operatorname{{tanh}}({z})"],
    "relu": [r"\mathrm{{ReLU}}({z})", r"\operatorname{{ReLU}}({z})", r"\max(0, {z})"],
    "leaky": [r"\mathrm{{LeakyReLU}}({z})", r"\operatorname{{lrelu}}({z})"],
    "leaky:0.2": [r"\mathrm{{LeakyReLU}}({z}, 0.2)", r"\operatorname{{LeakyReLU}}\left({z}, 0.2\right)"],
    "leaky:0.05": [r"\mathrm{{LeakyReLU}}({z}, 0.05)"],
    "elu": [r"\mathrm{{ELU}}({z})"],
    "elu:0.5": [r"\mathrm{{ELU}}({z}, 0.5)", r"\operatorname{{ELU}}\left({z}, 0.5\right)"],
    "elu:2": [r"\mathrm{{ELU}}({z}, 2)"],
    "gelu": [r"\mathrm{{GELU}}({z})"],
    "softplus": [r"\mathrm{{softplus}}({z})", r"\operatorname{{softplus}}({z})"],
}
MATRIX_ACTS = list(MATRIX_ACT_TEX)
MATRIX_DECLARABLE = {"sigma": "sigmoid", "tanh": "tanh", "relu": "relu", "leaky": "leaky_relu", "elu": "elu",
                     "gelu": "gelu", "softplus": "softplus", "sin": "sin", "cos": "cos", "sinh": "sinh",
                     "cosh": "cosh", "abs": "abs"}
#: other elementwise functions of a layer: quotients, |…|, max/min, trigonometric and
#: hyperbolic functions, exp, ln, sqrt, n-th roots
MATRIX_FN_TEX = {
    "softsign": [r"\frac{{{z}}}{{1 + |{z}|}}", r"{z} / \left(1 + \left|{z}\right|\right)"],
    "swish": [r"{z} \odot \sigma({z})", r"{z} \circ \sigma({z})"],
    "maxlin": [r"\max({z}, 0.2 {z})"],
    "clip": [r"\min({z}, 1)"],
    "abs": [r"|{z}|", r"\left|{z}\right|"],
    "sin": [r"\sin({z})"],
    "cos": [r"\cos({z})"],
    "tantanh": [r"\tan(\tanh({z}))"],
    "sinh": [r"\sinh({z})"],
    "cosh": [r"\cosh({z})"],
    "gauss": [r"\exp(-{z} \odot {z})", r"e^{{-{z} \odot {z}}}"],
    "lnsq": [r"\ln(1 + {z} \odot {z})", r"\log\left(1 + {z} \odot {z}\right)"],
    "sqrt": [r"\sqrt{{1 + {z} \odot {z}}}"],
    "root": [r"\sqrt[3]{{1 + {z} \circ {z}}}"],
    "log2sq": [r"\log_{{2}}(1 + {z} \odot {z})", r"\log_2\left(1 + {z} \odot {z}\right)"],
    "logsig": [r"\ln(\sigma({z}))", r"\log \sigma({z})"],
    "log2sig": [r"\log_{{2}}(\sigma({z}))"],
}
MATRIX_FNS = list(MATRIX_FN_TEX)
TRANSPOSE_MARKS = [r"^\top", r"^{\top}", "^T", "^{T}", r"^{\mathsf T}", r"^{\mathsf{T}}", r"^\intercal"]
NORM_DELIMS = [(r"\|", r"\|"), (r"\left\|", r"\right\|"), (r"\lVert ", r" \rVert"), (r"\Vert ", r" \Vert")]
ROW_SUMS = [r"\sum_{{i=1}}^{{m}}", r"\sum_{{i=1}}^m", r"\sum_{{i}}", r"\sum_i"]


def matrix_network(rng: random.Random, n_layers: int | None = None, loss: str | None = None,
                   features: tuple = ()) -> RandomNet:
    r"""A random batched network; ``features`` forces some of "residual", "gate", "shared", "reg",
    "transpose", "center", "normalize", "fn".

    Layer k: ``Z_k = A_{k-1} W_k + b_k`` (or ``A_{k-1} W_k^\top``, ``(W_k A_{k-1}^\top)^\top``
    with ``W_k`` stored out×in), ``A_k = act(Z_k)`` (an activation, with its slope or not, or
    another elementwise function: quotient, abs, max/min, trigonometric, ...); a residual
    layer (square ``W_k``) adds ``H_k = A_{k-1} + A_k``; a gated layer multiplies two branches
    ``G_k = act(Z_k) \odot \sigma(A_{k-1} V_k)``; a shared layer reuses an earlier square
    weight. After a layer: centring by the batch mean (``\frac{1}{m}\sum_{i=1}^{m} A_k``, a row
    sum) or normalising (``\frac{A_k}{\|A_k\|}``). The loss is MSE (``\|\cdot\|^2``, ``\sum D \odot D``,
    a row sum, or the norm ``\|\cdot\|``), BCE (sigmoid output) or softmax cross-entropy, plus
    penalties ``\frac{\lambda}{2}\|W\|^2``, ``\lambda\|W\|`` or ``\frac{\lambda}{2}\sum W \odot W`` on one
    or several weights.
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
    if "center" in features:
        m = max(m, 2)
    symbolic = rng.random() < 0.6
    dims = [rng.randint(1, 4)]
    labels = ["n_in"]  # symbolic name of each width: a residual layer keeps its input's
    layers = []
    weights = {}  # name -> (index of input width, index of output width, stored transposed)
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
        if ("fn" in features and k == 1) or rng.random() < 0.3:
            act = rng.choice(MATRIX_FNS)
        else:
            act = rng.choice(MATRIX_ACTS)
        if last and loss == "bce":
            act = "sigma"
        if last and loss == "softmax":
            act = "softmax"
        if last and loss == "mse" and rng.random() < 0.25:
            act = "identity"
        post = None
        if not last or loss == "mse":
            if ("center" in features and k == 1) or (m >= 2 and rng.random() < 0.12):
                post = "center"
            elif ("normalize" in features and k == 1) or rng.random() < 0.1:
                post = "normalize"
        layer = {"k": k, "kind": kind, "act": act, "bias": rng.random() < 0.85,
                 "mul": rng.choices([" ", r" \cdot ", r" \times ", " · ", " × "], [7, 2, 1, 0.3, 0.3])[0],
                 "declare": rng.random() < 0.15,
                 "in": len(dims) - 2, "out": len(dims) - 1, "post": post,
                 "act_tex": rng.choice({**MATRIX_ACT_TEX, **MATRIX_FN_TEX}.get(act, ["{z}"])),
                 "tmark": rng.choice(TRANSPOSE_MARKS), "tform": rng.random() < 0.4,
                 "rowsum": rng.choice(ROW_SUMS), "mean_inline": rng.random() < 0.4,
                 "norm_form": rng.randrange(3), "norm_delims": rng.choice(NORM_DELIMS),
                 "had": rng.choice([r"\odot", r"\odot", r"\circ", "⊙", "∘"])}
        if kind == "shared":
            layer["W"] = rng.choice(shareable)
        else:
            layer["W"] = f"W_{k}"
            transposed = ("transpose" in features and k == 1) or rng.random() < 0.25
            weights[f"W_{k}"] = (len(dims) - 2, len(dims) - 1, transposed)
            if kind == "residual":
                residual_ws.append(f"W_{k}")
        if kind == "gate":
            layer["V"] = f"V_{k}"
            weights[f"V_{k}"] = (len(dims) - 2, len(dims) - 1, False)
            layer["gact"] = rng.choice(["sigma", "tanh"])
        layers.append(layer)
    # regularisers: (weight, form, norm delimiters)
    reg = []
    if "reg" in features or rng.random() < 0.35:
        ws = list(weights)
        reg = [(w, rng.choice(["frac", "num", "num", "norm", "sumsq"]), rng.choice(NORM_DELIMS))
               for w in rng.sample(ws, rng.randint(1, len(ws)))]
    lam = rng.choice([0.01, 0.1, 0.5])
    mse_form = rng.randrange(7)
    mse_delims = rng.choice(NORM_DELIMS)
    ln = rng.choice([r"\ln", r"\ln", r"\log"])

    # dims: symbolic names or integers
    def dim(i):
        return labels[i] if symbolic else dims[i]

    shapes = {"X": ["m", dim(0)]}
    params = []

    def wshape(w):
        a, b, t = weights[w]
        return (b, a) if t else (a, b)

    for layer in layers:
        w = layer["W"]
        if w not in params:
            shapes[w] = [dim(i) for i in wshape(w)]
            params.append(w)
        if "V" in layer:
            shapes[layer["V"]] = [dim(i) for i in wshape(layer["V"])]
            params.append(layer["V"])
        if layer["bias"]:
            shapes[f"b_{layer['k']}"] = [dim(layer["out"])]
            params.append(f"b_{layer['k']}")
    shapes["Y"] = ["m", dim(len(dims) - 1)]

    # values
    vals = {"X": np.array([[round(rng.uniform(-2, 2), 3) for _ in range(dims[0])] for _ in range(m)])}
    for p in params:
        shp = [dims[i] for i in wshape(p)] if p in weights else [dims[layers[int(p[2:]) - 1]["out"]]]
        scale = 1 / math.sqrt(dims[weights[p][0]]) if p in weights else 0.5
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

    def product(A, v, w):
        return A @ (v[w].T if weights[w][2] else v[w])

    def loss_fn(v, check=None, big=None):
        A = v["X"]
        Z = A
        for layer in layers:
            k = layer["k"]
            Z = product(A, v, layer["W"])
            if layer["bias"]:
                Z = Z + v[f"b_{k}"]
            if check is not None:
                check.append(_kink_distance(layer["act"], Z))
                big.append(float(np.max(np.abs(Z), initial=0.0)))
            if layer["act"] == "softmax":
                A_new = Z  # log-softmax taken in the loss
            else:
                A_new = _np_act(layer["act"], Z)
            if layer["kind"] == "gate":
                A_new = A_new * _np_act(layer["gact"], A @ v[layer["V"]])
            if layer["kind"] == "residual":
                A_new = A + A_new
            if layer["post"] == "center":
                A_new = A_new - A_new.mean(axis=0)
            elif layer["post"] == "normalize":
                nrm = np.sqrt(np.sum(A_new ** 2))
                if check is not None:
                    check.append(nrm / 10)  # keep |A| >= 0.1
                A_new = A_new / nrm
            if big is not None:
                big.append(float(np.max(np.abs(A_new), initial=0.0)))
            A = A_new
        Y = v["Y"]
        mm = Y.shape[0]
        if loss == "mse":
            J = np.sum((A - Y) ** 2) / mm if mse_form != 4 else np.sqrt(np.sum((A - Y) ** 2)) / mm
        elif loss == "bce":  # sigma output, from its argument Z: ln A = -softplus(-Z), ln(1 - A) = -softplus(Z)
            J = np.sum(Y * np.logaddexp(0, -Z) + (1 - Y) * np.logaddexp(0, Z)) / mm
        else:
            Zl = A
            lse = np.max(Zl, axis=1, keepdims=True)
            logp = Zl - lse - np.log(np.sum(np.exp(Zl - lse), axis=1, keepdims=True))
            J = -np.sum(Y * logp) / mm
        for w, form, _ in reg:
            J = J + (lam * np.sqrt(np.sum(v[w] ** 2)) if form == "norm" else lam / 2 * np.sum(v[w] ** 2))
        return J

    check, big = [], []
    with np.errstate(all="ignore"):
        J0 = loss_fn(vals, check, big)
    if not np.isfinite(J0) or abs(J0) > 1e4 or (check and min(check) < KINK_MARGIN):
        raise Reject("kink")
    if not np.all(np.isfinite(big)) or max(big) > BIG:  # roundoff of larger values spoils the differences
        raise Reject("too big")
    if loss == "bce" and big[-2] > 30:  # the last Z: beyond ~37, sigma(Z) is 1.0 in float64 and ln(1 - A) = -inf
        raise Reject("saturated sigmoid")

    # the spec
    lines = []
    declared = {}  # act -> (LaTeX name, key) declared in the spec's activations
    A_prev = "X"
    for layer in layers:
        k = layer["k"]
        w = layer["W"]
        if weights[w][2]:  # W stored out×in
            tm = layer["tmark"]
            if layer["tform"]:
                prod = rf"\left({w}{layer['mul']}{A_prev}{tm}\right){tm}" if layer["mul"] == " " or rng.random() < 0.5 \
                    else rf"({w}{layer['mul']}{A_prev}{tm}){tm}"
            else:
                prod = f"{A_prev}{layer['mul']}{w}{tm}"
        else:
            prod = f"{A_prev}{layer['mul']}{w}"
        lines.append(f"Z_{k} = {prod}" + (f" + b_{k}" if layer["bias"] else ""))
        act = layer["act"]
        if act == "softmax":
            sm = rng.choice([r"\mathrm{softmax}", r"\operatorname{softmax}"])
            lines.append(f"P = {sm}(Z_{k})")
            A_prev = "P"
            continue
        if act == "identity":
            a_name = f"Z_{k}"
        else:
            a_name = f"A_{k}"
            tex = layer["act_tex"]
            if layer["declare"] and act in MATRIX_DECLARABLE:  # \phi(Z) with activations = { phi = "relu" }
                if act not in declared:
                    declared[act] = DECLARED_NAMES[len(declared)]
                tex = declared[act][0] + "({z})"
            lines.append(f"A_{k} = " + tex.format(z=f"Z_{k}"))
        if layer["kind"] == "gate":
            lines.append(f"U_{k} = {A_prev} {layer['V']}")
            lines.append(f"G_{k} = {a_name} {layer['had']} " + MATRIX_ACT_TEX[layer["gact"]][0].format(z=f"U_{k}"))
            a_name = f"G_{k}"
        if layer["kind"] == "residual":
            lines.append(f"H_{k} = {A_prev} + {a_name}")
            a_name = f"H_{k}"
        if layer["post"] == "center":  # minus the mean over the batch: a row sum
            rs = layer["rowsum"].format()
            if layer["mean_inline"]:
                lines.append(rf"C_{k} = {a_name} - \frac{{1}}{{m}}{rs} {a_name}")
            else:
                lines.append(rf"M_{k} = \frac{{1}}{{m}}{rs} {a_name}")
                lines.append(f"C_{k} = {a_name} - M_{k}")
            a_name = f"C_{k}"
        elif layer["post"] == "normalize":  # divided by its Frobenius norm, a scalar node
            o, c = layer["norm_delims"]
            form = layer["norm_form"]
            if form == 0:
                lines.append(rf"N_{k} = \frac{{{a_name}}}{{{o}{a_name}{c}}}")
            elif form == 1:
                lines.append(rf"N_{k} = \frac{{1}}{{{o}{a_name}{c}}} {a_name}")
            else:
                lines.append(rf"S_{k} = {o}{a_name}{c}")
                lines.append(rf"N_{k} = {a_name} / S_{k}")
            a_name = f"N_{k}"
        A_prev = a_name
    out = A_prev
    if loss == "mse":
        o, c = mse_delims
        if mse_form == 0:
            lines.append(rf"L = \frac{{1}}{{m}}{o}{out} - Y{c}^2")
        elif mse_form == 1:
            lines.append(rf"D = {out} - Y")
            lines.append(r"L = \frac{1}{m}\sum D \odot D")
        elif mse_form == 2:
            lines.append(rf"L = \frac{{1}}{{m}}\sum ({out} - Y) \odot ({out} - Y)")
        elif mse_form == 3:  # a row sum, then the sum of the vector
            rs = rng.choice(ROW_SUMS).format()
            lines.append(rf"R = {rs} ({out} - Y) \circ ({out} - Y)")
            lines.append(r"L = \frac{1}{m}\sum R")
        elif mse_form == 4:  # the norm itself
            lines.append(rf"L = \frac{{1}}{{m}}{o}{out} - Y{c}")
        elif mse_form == 5:  # the Hadamard power
            lines.append(rf"L = \frac{{1}}{{m}}\sum ({out} − Y)^{{\circ 2}}")
        else:  # a power of a matrix read elementwise: elementwise_powers = true
            lines.append(rf"L = \frac{{1}}{{m}}\sum ({out} - Y)^2")
    elif loss == "bce":
        had = rng.choice([r"\odot", r"\circ"])
        lines.append(rf"L = -\frac{{1}}{{m}}\sum \left( Y {had} {ln} {out} + (1 - Y) {had} {ln}(1 - {out}) \right)")
    else:
        lines.append(rf"L = -\frac{{1}}{{m}}\sum Y \odot {ln} P")
    if reg:
        terms = []
        for w, form, (o, c) in reg:
            if form == "frac":
                terms.append(rf"\frac{{{lam}}}{{2}}{o}{w}{c}^2")
            elif form == "num":
                terms.append(rf"{lam / 2!r} {o}{w}{c}^2")
            elif form == "norm":
                terms.append(rf"{lam!r} {o}{w}{c}")
            else:
                terms.append(rf"\frac{{{lam}}}{{2}}\sum {w} \odot {w}")
        lines.append("J = L + " + " + ".join(terms))
    toml = ["forward = '''", *lines, "'''", "params = [" + ", ".join(f'"{p}"' for p in params) + "]"]
    if declared:
        toml.append("activations = { " + ", ".join(f'{key} = "{MATRIX_DECLARABLE[a]}"'
                                                    for a, (_, key) in declared.items()) + " }")
    if loss == "mse" and mse_form == 6:
        toml.append("elementwise_powers = true")
    toml += ["", "[shapes]"]
    for k, s in shapes.items():
        toml.append(f"{k} = [" + ", ".join(f'"{d}"' if isinstance(d, str) else str(d) for d in s) + "]")
    toml.append("")
    toml.append("[values]")
    for k, v in vals.items():
        toml.append(f"{k} = {_toml_array(v)}")
    meta = {"loss": loss, "layers": [(l["kind"], l["act"], l["post"], weights.get(l["W"], (0, 0, False))[2])
                                     for l in layers],
            "reg": reg, "m": m, "dims": dims, "mse_form": mse_form if loss == "mse" else None}
    meta["features"] = _matrix_tags(meta, layers, weights, "\n".join(lines))
    return RandomNet("matrix", "\n".join(toml) + "\n", vals, params, loss_fn, size=len(lines), meta=meta)


def _matrix_tags(meta, layers, weights, forward):
    """The notation a matrix network uses (for the coverage table)."""
    tags = {{"mse": "MSE", "bce": "sigmoid + BCE", "softmax": "softmax + cross-entropy"}[meta["loss"]]}
    for layer in layers:
        act = layer["act"]
        if act in MATRIX_ACT_TEX:
            name, _, alpha = act.partition(":")
            tags.add(f"activation {name}" + (" with slope" if alpha else ""))
        elif act in MATRIX_FN_TEX:
            tags.add(f"elementwise {act}")
        tags.add({"residual": "residual add", "gate": r"gate (Hadamard \odot)", "shared": "shared weight"}.get(
            layer["kind"], "dense"))
        if weights[layer["W"]][2]:
            tags.add("transposed weight " + ("(W A^T)^T" if layer["tform"] else "A W^T"))
        if layer["post"] == "center":
            tags.add(r"batch centring A - \frac{1}{m}\sum_{i=1}^{m} A")
        elif layer["post"] == "normalize":
            tags |= {r"normalised A / \|A\|", r"norm \|A\|"}
    if meta["loss"] == "mse":
        tags.add([r"MSE \|A - Y\|^2", r"MSE \sum D \odot D", r"MSE \sum (A - Y) \odot (A - Y)",
                  r"MSE by a row sum", r"loss \|A - Y\|", r"MSE \sum (A - Y)^{\circ 2}",
                  "MSE (A - Y)^2 with elementwise_powers"][meta["mse_form"]])
        if meta["mse_form"] == 0:
            tags.add(r"squared norm \|A\|^2")
        if meta["mse_form"] == 4:
            tags.add(r"norm \|A\|")
    if meta["reg"]:
        tags.add("L2 on one weight" if len(meta["reg"]) == 1 else "L2 on several weights")
        for _, form, _ in meta["reg"]:
            tags.add({"frac": r"penalty \frac{l}{2}\|W\|^2", "num": r"penalty c \|W\|^2",
                      "norm": r"penalty c \|W\|", "sumsq": r"penalty \frac{l}{2}\sum W \odot W"}[form])
            tags.add(r"norm \|A\|" if form == "norm" else r"squared norm \|A\|^2" if form != "sumsq" else "")
    text_tags = {
        r"\odot": r"\\odot", r"\circ": r"\\circ", r"matrix product \cdot": r"[A-Z]_?\d* \\cdot [A-Z]",
        r"matrix product \times": r"\\times", r"elementwise quotient \frac{A}{B}": r"\\frac\{[A-Z]_\d+\}\{[^1]",
        "elementwise quotient A / B": r"[A-Z]_\d+ / ", r"transpose ^\top": r"\^\\top|\^\{\\top\}",
        "transpose ^T": r"\^T|\^\{T\}", r"transpose ^{\mathsf T}": r"\\mathsf", r"transpose ^\intercal": r"intercal",
        r"row sum \sum_{i=1}^{m}": r"\\sum_\{i=1\}", r"row sum \sum_i": r"\\sum_(i|\{i\})",
        r"sum of all entries \sum": r"\\sum [^_]", r"\left\| \right\|": r"\\left\\\|", r"\lVert \rVert": r"\\lVert",
        r"\Vert \Vert": r"\\Vert", r"\log": r"\\log", r"\operatorname{softmax}": r"operatorname\{softmax",
        r"\max(0, Z)": r"\\max\(0,", "Unicode ⊙ ∘": "[⊙∘]", "Unicode · ×": "[·×]", "Unicode −": "−",
        "declared activation": r"= (\\phi|f|\\psi|\\varphi|\\chi)\(",
    }
    for tag, pattern in text_tags.items():
        if re.search(pattern, forward):
            tags.add(tag)
    tags.discard("")
    return tags


def _toml_array(a):
    if a.ndim == 1:
        return "[" + ", ".join(repr(float(x)) for x in a) + "]"
    return "[" + ", ".join(_toml_array(r) for r in a) + "]"


# --------------------------------------------------------------------------------------
# Coverage: the notation each network uses
# --------------------------------------------------------------------------------------
_ABS_STYLES = [("| ", "|…|"), (r"\left| ", r"\left|…\right|"), (r"\lvert", r"\lvert…\rvert"),
               (r"\vert", r"\vert…\vert"), (r"\left\lvert", r"\left\lvert…\right\rvert"),
               (r"\operatorname{{abs}}", r"\operatorname{abs}"), (r"\mathrm{{abs}}", r"\mathrm{abs}")]
_SEP_TAGS = {" ": "product by juxtaposition", r" \cdot ": r"product \cdot", r" \times ": r"product \times",
             r" \odot ": r"\odot of numbers", r" \circ ": r"\circ of numbers", " × ": "Unicode × · ⋅",
             " · ": "Unicode × · ⋅", " ⋅ ": "Unicode × · ⋅", " ⊙ ": "Unicode ⊙ ∘", " ∘ ": "Unicode ⊙ ∘"}


def _tags(e) -> set:
    """The notation one node of a scalar tree uses (for the coverage table)."""
    t = set()
    compound = lambda x: not isinstance(x, (Var, Num))  # noqa: E731
    if isinstance(e, Func):
        f, s = e.f, e.spelling
        t.add({"sigma": r"\sigma", "ln": r"\ln / \log", "logb": r"\log_{b}", "root": r"\sqrt[n]{…}",
               "sqrt": r"\sqrt{…}", "max": r"\max(a, b)", "min": r"\min(a, b)", "abs": "|x|"}.get(f, f)
              + (" with its slope" if f in ("leaky", "elu") and e.param is not None else ""))
        if f == "abs":
            t.add(next((tag for start, tag in _ABS_STYLES if s.startswith(start)), "|x|"))
        if f == "exp":
            t.add("e^{…}" if s.startswith("e^") else r"\exp")
        if f == "ln":
            t.add(r"\log" if s.startswith(r"\log") else r"\ln")
        if f in ("ln", "logb") and isinstance(e.args[0], Func) and e.args[0].f == "sigma":
            t.add(r"\ln \sigma(z)" if f == "ln" else r"\log_{b} \sigma(z)")  # the package rewrites ln σ
        if f == "relu" and s.startswith(r"\max"):
            t.add(r"\max(0, z)")
        if f in ("max", "min") and any(isinstance(a, Num) and a.value == 0 for a in e.args):
            t.add(rf"\{f}(0, z)")
        if f in ("max", "min") and compound(e.args[0]) and compound(e.args[-1]):
            t.add(r"\max / \min of two compound expressions")
        if s.endswith("{a}"):
            t.add(r"function without brackets (\tanh z)")
        if r"\operatorname" in s or r"\mathrm" in s or r"\text" in s:
            t.add(r"\operatorname{…} / \mathrm{…} / \text{…} names")
        if e.decl:
            t.add("declared activation (activations = { phi = ... })")
    elif isinstance(e, Pow):
        if e.fn and isinstance(e.base, Func) and e.base.fpow_ok():
            t.add(r"power on the function name (\tanh^{2}(z))")
        elif compound(e.base):
            t.add("power of a compound expression")
        t.add("power with a negative exponent" if e.k < 0 else "fractional power" if e.k != int(e.k)
              else "integer power")
        if e.text in ("²", "³"):
            t.add("Unicode ² ³")
    elif isinstance(e, VarPow):
        t.add("variable exponent a^{b}")
    elif isinstance(e, Div):
        t.add("a / b" if e.slash else rf"\{e.cmd}")
        if compound(e.num) and compound(e.den):
            t.add("quotient of compound expressions")
    elif isinstance(e, Mul):
        t.add(_SEP_TAGS[e.sep])
    elif isinstance(e, Neg):
        t.add("negation")
    elif isinstance(e, Add):
        t.add("sum / difference")
        if e.plus:
            t.add("unary +")
        if e.minus != "-" and any(s < 0 for s, _ in e.terms):
            t.add("Unicode −")
    elif isinstance(e, Num):
        t.add({"pi": r"\pi", "e": "e (Euler's number)"}.get(e.value, "number"))
        if "e-" in e.text:
            t.add("scientific notation")
        if "frac" in e.text:
            t.add(r"\frac of digits")
    if e.lr not in (False, None) and e.prec < POW:
        t.add("brackets " + PARENS[e.lr][0])
    return t


def features(net) -> set:
    """The functions, operators and spellings a random network uses."""
    if net.kind == "matrix":
        return set(net.meta["features"])
    tags = set()
    for _, _, e in net.meta["nodes"]:
        for sub, _ in _subtrees(e):
            tags |= _tags(sub)
    return tags


#: what :func:`scalar_network` and :func:`matrix_network` must produce between them (a test checks it)
SCALAR_FEATURES = {
    r"\sigma", "tanh", "relu", "leaky", "leaky with its slope", "elu", "elu with its slope", "gelu", "softplus",
    "exp", r"\exp", "e^{…}", r"\ln / \log", r"\ln", r"\log", r"\log_{b}", r"\sqrt{…}", r"\sqrt[n]{…}",
    "sin", "cos", "tan", "sinh", "cosh", "|x|", "|…|", r"\left|…\right|", r"\lvert…\rvert", r"\vert…\vert",
    r"\operatorname{abs}", r"\max(a, b)", r"\min(a, b)", r"\max(0, z)", r"\min(0, z)",
    r"\max / \min of two compound expressions", r"function without brackets (\tanh z)",
    r"\operatorname{…} / \mathrm{…} / \text{…} names", r"power on the function name (\tanh^{2}(z))",
    "power of a compound expression", "power with a negative exponent", "fractional power", "integer power",
    "variable exponent a^{b}", "a / b", r"\frac", r"\dfrac", r"\tfrac", "quotient of compound expressions",
    "product by juxtaposition", r"product \cdot", r"product \times", r"\odot of numbers", r"\circ of numbers",
    "negation", "sum / difference", "unary +", r"\pi", "e (Euler's number)", "scientific notation",
    r"\frac of digits", r"brackets \left(", "brackets [", r"brackets \left[", r"brackets \bigl(", "brackets {",
    r"\left\lvert…\right\rvert", r"\mathrm{abs}", "Unicode × · ⋅", "Unicode ⊙ ∘", "Unicode ² ³", "Unicode −",
    "declared activation (activations = { phi = ... })", r"\ln \sigma(z)", r"\log_{b} \sigma(z)",
}
MATRIX_FEATURES = {
    "MSE", "dense", "sigmoid + BCE", "softmax + cross-entropy", *(f"activation {a.partition(':')[0]}" for a in MATRIX_ACTS),
    "activation leaky with slope", "activation elu with slope", *(f"elementwise {f}" for f in MATRIX_FNS),
    "residual add", r"gate (Hadamard \odot)", "shared weight", "transposed weight (W A^T)^T", "transposed weight A W^T",
    r"batch centring A - \frac{1}{m}\sum_{i=1}^{m} A", r"normalised A / \|A\|", r"MSE \|A - Y\|^2",
    r"MSE \sum D \odot D", r"MSE \sum (A - Y) \odot (A - Y)", "MSE by a row sum", r"loss \|A - Y\|",
    r"MSE \sum (A - Y)^{\circ 2}", "MSE (A - Y)^2 with elementwise_powers", "declared activation",
    "Unicode ⊙ ∘", "Unicode · ×", "Unicode −",
    r"squared norm \|A\|^2", r"norm \|A\|", "L2 on one weight", "L2 on several weights",
    r"penalty \frac{l}{2}\|W\|^2", r"penalty c \|W\|^2", r"penalty c \|W\|", r"penalty \frac{l}{2}\sum W \odot W",
    r"\odot", r"\circ", r"matrix product \cdot", r"matrix product \times", r"elementwise quotient \frac{A}{B}",
    "elementwise quotient A / B", r"transpose ^\top", "transpose ^T", r"transpose ^{\mathsf T}",
    r"transpose ^\intercal", r"row sum \sum_{i=1}^{m}", r"row sum \sum_i", r"sum of all entries \sum",
    r"\left\| \right\|", r"\lVert \rVert", r"\Vert \Vert", r"\log", r"\operatorname{softmax}", r"\max(0, Z)",
}


def covering_networks(kind: str, seed="cover", limit: int = 600) -> list:
    """A few networks that between them use every entry of :data:`SCALAR_FEATURES` (or
    :data:`MATRIX_FEATURES`): drawn from ``random.Random(f"{seed}:{kind}:{i}")``, i = 0, 1, …,
    each kept when it adds notation the kept ones lack. Raises ``RuntimeError`` naming what
    ``limit`` networks never used (a generator that stopped producing some notation).
    """
    want = SCALAR_FEATURES if kind == "scalar" else MATRIX_FEATURES
    seen, kept = set(), []
    for i in range(limit):
        rng = random.Random(f"{seed}:{kind}:{i}")
        net = (scalar_network(rng, rng.randint(3, 20)) if kind == "scalar"
               else matrix_network(rng, rng.randint(1, 4)))
        new = (features(net) & want) - seen
        if new:
            kept.append(net)
            seen |= new
        if seen >= want:
            return kept
    raise RuntimeError(f"{limit} {kind} networks never use: {', '.join(sorted(want - seen))}")


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
