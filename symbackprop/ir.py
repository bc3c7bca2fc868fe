r"""The matrix IR: a small tree of frozen dataclasses, each carrying its shape.

Leaves are :class:`Var` (a node of the network), :class:`Adj` (the adjoint
:math:`\partial L/\partial v` of a node, same shape) and :class:`Scalar` (a
constant such as ``2`` or ``1/m``, SymPy-valued). Operations:

=================  ==========================  ===============================
class              math                         NumPy
=================  ==========================  ===============================
``Add(a, b)``      ``a + b`` (broadcasting)     ``a + b`` (bias: ``X @ W + b``)
``Sub(a, b)``      ``a - b``                    ``a - b``
``Scale(c, x)``    ``c x``, ``c`` a constant    ``c * x``
``Hadamard(a,b)``  ``a ⊙ b`` (broadcasting)     ``a * b``
``Div(a, b)``      elementwise ``a / b``        ``a / b``
``PositiveDiv``    ``a / b`` with ``b > 0``     ``0 / b = 0`` (stable forms)
``MatMul(a, b)``   ``a b`` (2-D operands)       ``a @ b``
``Transpose(x)``   ``xᵀ``                       ``x.T``
``Apply(f, x)``    ``f(x)`` elementwise         ``f(x)``
``Prime(f, x)``    ``f'(x)`` elementwise        ``f'(x)``
``Power(x, k)``    ``x^{⊙k}``                   ``x ** k``
``Sum(x, axes)``   ``Σ`` all entries (``None``) ``x.sum(axis=…, keepdims=…)``
                   or over ``axes``
``Broadcast``      ``g 𝟏`` (gradient of Σ)      ``np.broadcast_to``
``FrobSq(x)``      ``‖x‖²`` (Frobenius)         ``np.sum(x ** 2)``
``Norm(x)``        ``‖x‖``                      ``np.linalg.norm(x)``
``Softmax(x)``     softmax over each row        ``exp(x - max) / sum``
``LogSoftmax(x)``  ``ln softmax`` of each row   ``x - max - log(sum(exp(x - max)))``
=================  ==========================  ===============================

Every node has ``.shape`` (a tuple of dimension names and numbers, see
:mod:`~symbackprop.shapes`) and ``.children`` (its operand nodes, in
order); walk a tree with :func:`walk`. Build trees with the lower-case
constructors (:func:`add`, :func:`matmul`, …), which check shapes and tidy
what the rules produce (``1·x = x``, ``c(a x) = (ca) x``, ``(xᵀ)ᵀ = x``);
the classes themselves only check shapes.

>>> X, W = Var("X", ("m", "n")), Var("W", ("n", "k"))
>>> Z = add(matmul(X, W), Var("b", ("k",)))
>>> Z.shape
('m', 'k')
>>> [type(c).__name__ for c in Z.children]
['MatMul', 'Var']
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable, Iterator, Optional

import numpy as np
import sympy as sp

from symbackprop import numeric
from symbackprop.errors import ShapeError, SymbackpropError
from symbackprop.limits import power_problem
from symbackprop.shapes import Shape, broadcast_shape, matmul_shape, shape_text, transpose_shape


def _shape():
    return field(init=False, repr=False, compare=False)


class Expr:
    """Base of the IR nodes (see the module docstring)."""

    shape: Shape
    _kids: tuple = ()

    @property
    def children(self) -> tuple["Expr", ...]:
        return tuple(getattr(self, k) for k in self._kids)

    def _set_shape(self, shape: Shape) -> None:
        object.__setattr__(self, "shape", tuple(shape))

    def __str__(self) -> str:
        from symbackprop.printing.ir import to_text

        return to_text(self)

    def _latex(self, printer=None) -> str:
        """``sympy.latex()`` of an IR expression (SymPy's printers look for this method)."""
        from symbackprop.printing.ir import to_latex

        return to_latex(self)

    def _sympystr(self, printer=None) -> str:
        return str(self)

    def _repr_latex_(self) -> str:  # Jupyter
        return f"${self._latex()}$"

    def _pretty(self, printer=None):
        """``sympy.pretty()``: the plain-text form."""
        from sympy.printing.pretty.stringpict import prettyForm

        return prettyForm(str(self))

    def _mathml_presentation(self, printer):
        """``sympy.mathml(..., printer="presentation")``: the plain-text form as ``<mtext>``."""
        element = printer.dom.createElement("mtext")
        element.appendChild(printer.dom.createTextNode(str(self)))
        return element

    _mathml_content = _mathml_presentation


# ---- leaves ---------------------------------------------------------------
@dataclass(frozen=True)
class Var(Expr):
    """The value of node ``name``."""

    name: str
    shape: Shape


@dataclass(frozen=True)
class Adj(Expr):
    r"""The adjoint :math:`\partial L/\partial` ``name``: the same shape as the node.

    ``of`` names the loss (``L``, ``E``, ``J``) for printing; within a network it is always the
    same, so it takes no part in equality.
    """

    name: str
    shape: Shape
    of: str = field(default="L", compare=False)


@dataclass(frozen=True)
class Scalar(Expr):
    """A constant: a number or an expression in dimension symbols (``1/m``)."""

    value: sp.Expr
    shape: Shape = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "value", sp.sympify(self.value))


# ---- operations -----------------------------------------------------------
@dataclass(frozen=True)
class _Elementwise(Expr):
    """A binary entry-by-entry op; shapes broadcast as in NumPy (the bias of ``X W + b``)."""

    a: Expr
    b: Expr
    shape: Shape = _shape()
    _kids = ("a", "b")
    _verb = ""  #: for the error message: "cannot add … and …"

    def __post_init__(self):
        try:
            shape = broadcast_shape(self.a.shape, self.b.shape)
        except ShapeError as e:  # the operands are printed only for the message
            raise ShapeError(_what(self._verb, self.a, self.b) + str(e)) from None
        self._set_shape(shape)


class Add(_Elementwise):
    _verb = "add"


class Sub(_Elementwise):
    _verb = "subtract"


class Hadamard(_Elementwise):
    _verb = "take the Hadamard product of"


class Div(_Elementwise):
    """Elementwise quotient."""

    _verb = "divide elementwise"


class PositiveDiv(Div):
    """``a / b`` for a ``b`` that is positive in exact arithmetic (σ, softmax, ``eˣ``) but may have
    rounded to 0: ``0 / b`` is 0 there, not 0/0 (``(1 − Y)/(1 − A)`` at ``Y = 1``). A form of
    :mod:`symbackprop.stable` for evaluating and compiling; no rule differentiates it."""


class Maximum(_Elementwise):
    """Elementwise ``max(a, b)``."""

    _verb = "take the maximum of"


class Minimum(_Elementwise):
    """Elementwise ``min(a, b)``."""

    _verb = "take the minimum of"


class VarPower(_Elementwise):
    """Elementwise ``a^b`` with an exponent that is itself a node or expression."""

    _verb = "raise"


@dataclass(frozen=True)
class Scale(Expr):
    """``coeff · x`` for a constant ``coeff`` (no gradient flows to it)."""

    coeff: sp.Expr
    x: Expr
    shape: Shape = _shape()
    _kids = ("x",)

    def __post_init__(self):
        object.__setattr__(self, "coeff", sp.sympify(self.coeff))
        self._set_shape(self.x.shape)


@dataclass(frozen=True)
class MatMul(Expr):
    a: Expr
    b: Expr
    shape: Shape = _shape()
    _kids = ("a", "b")

    def __post_init__(self):
        if len(self.a.shape) != 2 or len(self.b.shape) != 2:
            raise ShapeError(f"{_what('multiply', self.a, self.b, 'by')}a matrix product needs two "
                             f"matrices (declare a vector as a 1×n or n×1 matrix)")
        try:
            shape = matmul_shape(self.a.shape, self.b.shape)
        except ShapeError as e:  # the operands are printed only for the message
            raise ShapeError(_what("multiply", self.a, self.b, "by") + str(e)) from None
        self._set_shape(shape)


@dataclass(frozen=True)
class Transpose(Expr):
    x: Expr
    shape: Shape = _shape()
    _kids = ("x",)

    def __post_init__(self):
        self._set_shape(transpose_shape(self.x.shape))


@dataclass(frozen=True)
class Apply(Expr):
    """``func`` applied to every entry: ``sigmoid``, ``tanh``, ``relu``, ``exp``, ``log``, …"""

    func: str
    x: Expr
    alpha: Optional[sp.Expr] = None  #: slope of leaky_relu / elu
    shape: Shape = _shape()
    _kids = ("x",)

    def __post_init__(self):
        scalar_function(self.func)  # unknown names fail here
        self._set_shape(self.x.shape)


@dataclass(frozen=True)
class Prime(Expr):
    """The derivative ``func'`` applied to every entry (``σ'(Z)``)."""

    func: str
    x: Expr
    alpha: Optional[sp.Expr] = None
    shape: Shape = _shape()
    _kids = ("x",)

    def __post_init__(self):
        scalar_function(self.func)
        self._set_shape(self.x.shape)


@dataclass(frozen=True)
class Power(Expr):
    """Elementwise power by a constant (``x^{⊙2}``)."""

    x: Expr
    exp: sp.Expr
    shape: Shape = _shape()
    _kids = ("x",)

    def __post_init__(self):
        object.__setattr__(self, "exp", sp.sympify(self.exp))
        self._set_shape(self.x.shape)


@dataclass(frozen=True)
class Sum(Expr):
    """Sum of all entries (``axes=None``) or over ``axes`` (``(0,)``: over the rows)."""

    x: Expr
    axes: Optional[tuple] = None
    keepdims: bool = False
    shape: Shape = _shape()
    _kids = ("x",)

    def __post_init__(self):
        if self.axes is None:
            self._set_shape(())
        elif self.keepdims:
            self._set_shape(tuple(1 if i in self.axes else d for i, d in enumerate(self.x.shape)))
        else:
            self._set_shape(tuple(d for i, d in enumerate(self.x.shape) if i not in self.axes))


@dataclass(frozen=True)
class Broadcast(Expr):
    """``x`` repeated to ``target`` (the gradient of a sum); ``axes`` were summed away."""

    x: Expr
    target: Shape
    axes: Optional[tuple] = None
    shape: Shape = _shape()
    _kids = ("x",)

    def __post_init__(self):
        self._set_shape(self.target)


@dataclass(frozen=True)
class FrobSq(Expr):
    """Squared Frobenius norm ``‖x‖²``."""

    x: Expr
    shape: Shape = field(default=(), init=False, repr=False, compare=False)
    _kids = ("x",)


@dataclass(frozen=True)
class Norm(Expr):
    """Frobenius norm ``‖x‖``."""

    x: Expr
    shape: Shape = field(default=(), init=False, repr=False, compare=False)
    _kids = ("x",)


@dataclass(frozen=True)
class Softmax(Expr):
    """Softmax over the last axis: each row of ``x`` becomes a probability vector."""

    x: Expr
    shape: Shape = _shape()
    _kids = ("x",)

    def __post_init__(self):
        if not self.x.shape:
            raise ShapeError("softmax of a scalar: it needs a vector or a matrix")
        self._set_shape(self.x.shape)


@dataclass(frozen=True)
class LogSoftmax(Expr):
    """``ln softmax(x)`` of each row, finite where softmax underflows to 0 (the compiled code's
    spelling of ``ln P`` for ``P = softmax(Z)``; no rule differentiates it)."""

    x: Expr
    shape: Shape = _shape()
    _kids = ("x",)

    def __post_init__(self):
        self._set_shape(self.x.shape)


def _hashed_once(cls: type) -> None:
    """Give ``cls`` (a frozen dataclass) a hash computed once per node, without recursion.

    A dataclass's hash hashes every node below it, every time, by recursion: the rules,
    :mod:`~symbackprop.stable`, the code printer and the SymPy forms look nodes up in dicts, so a
    deep definition cost its depth squared in hashing, and a long one a RecursionError. Here the
    nodes not hashed yet are hashed children first, each from its children's kept hashes.
    """
    cls._plain_hash = cls.__dict__["__hash__"]
    cls.__hash__ = _hash_once


def _hash_once(self) -> int:
    h = self.__dict__.get("_hash")
    if h is None:
        order, todo = [], [self]
        while todo:
            e = todo.pop()
            order.append(e)
            todo += [c for c in e.children if "_hash" not in c.__dict__]
        for e in reversed(order):
            if type(e).__hash__ is _hash_once and "_hash" not in e.__dict__:
                object.__setattr__(e, "_hash", type(e)._plain_hash(e))
        h = self.__dict__["_hash"]
    return h


def _expr_getstate(self) -> dict:
    """Pickled without the cached hash (a string's hash differs from one process to the next)."""
    return {k: v for k, v in self.__dict__.items() if k != "_hash"}


Expr.__getstate__ = _expr_getstate


def _what(verb: str, a: Expr, b: Expr, joiner: str = "and") -> str:
    return f"cannot {verb} {_describe(a)} {joiner} {_describe(b)}: "


def _describe(e: Expr) -> str:
    from symbackprop.printing.ir import to_text

    text = to_text(e)
    return f"{text if ' ' not in text else f'({text})'} ({shape_text(e.shape)})"


for _cls in (Var, Adj, Scalar, _Elementwise, Scale, MatMul, Transpose, Apply, Prime, Power, Sum,
             Broadcast, FrobSq, Norm, Softmax, LogSoftmax):
    _hashed_once(_cls)


# ---- walking --------------------------------------------------------------
def walk(e: Expr) -> Iterator[Expr]:
    """``e`` and all its descendants, parents first (without recursion)."""
    todo = [e]
    while todo:
        e = todo.pop()
        yield e
        todo += reversed(e.children)


def names_in(e: Expr) -> set[str]:
    """Names of the :class:`Var` leaves of ``e``."""
    return {n.name for n in walk(e) if isinstance(n, Var)}


def adjoints_in(e: Expr) -> set[str]:
    """Names of the :class:`Adj` leaves of ``e``."""
    return {n.name for n in walk(e) if isinstance(n, Adj)}


def replace(e: Expr, fn: Callable[[Expr], Optional[Expr]], _memo: Optional[dict] = None) -> Expr:
    """Rebuild ``e`` bottom-up through the constructors; ``fn(node)`` may substitute a node.

    Each distinct subexpression is visited once (an expression is a DAG: a node used by many
    others is shared, and a walk without the memo would be exponential in the nesting)."""
    memo = {} if _memo is None else _memo
    if e in memo:
        return memo[e]
    new = fn(e)
    if new is not None:
        memo[e] = new
        return new
    if not e.children:
        memo[e] = e
        return e
    kids = [replace(c, fn, memo) for c in e.children]
    out = e if all(k is c for k, c in zip(kids, e.children)) else rebuild(e, kids)
    memo[e] = out
    return out


def rebuild(e: Expr, kids: list[Expr]) -> Expr:
    """``e`` with new children, through the tidying constructors."""
    t = type(e)
    if t in _BINARY:
        return _BINARY[t](*kids)
    x, = kids
    if t is Scale:
        return scale(e.coeff, x)
    if t is Transpose:
        return transpose(x)
    if t is Power:
        return power(x, e.exp)
    if t is Sum:
        return reduce_sum(x, e.axes, e.keepdims)
    args = {f.name: getattr(e, f.name) for f in fields(e) if f.init}
    args[e._kids[0]] = x
    return t(**args)


# ---- constructors that tidy ----------------------------------------------
def coefficient(e: Expr):
    """``(c, x)`` with ``e = c x`` (``c`` a constant; 1 when ``e`` is not scaled)."""
    if isinstance(e, Scale):
        return e.coeff, e.x
    return sp.Integer(1), e


def scale(c, x: Expr) -> Expr:
    c = sp.sympify(c)
    if c == 1:
        return x
    if isinstance(x, Scalar):
        return Scalar(c * x.value)
    if isinstance(x, Scale):
        return scale(c * x.coeff, x.x)
    return Scale(c, x)


def neg(x: Expr) -> Expr:
    return scale(-1, x)


def add(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return Scalar(a.value + b.value)
    if isinstance(a, Scalar) and a.value == 0:
        return b
    if isinstance(b, Scalar) and b.value.could_extract_minus_sign():  # x + (-1) = x - 1
        return Sub(a, Scalar(-b.value))
    (ca, xa), (cb, xb) = coefficient(a), coefficient(b)
    if ca != 1 or cb != 1:
        if cb == -ca:  # c x - c y = c (x - y)
            return scale(ca, Sub(xa, xb))
        if cb == ca:
            return scale(ca, Add(xa, xb))
    if cb.could_extract_minus_sign():  # x + (-c) y = x - c y
        return Sub(a, scale(-cb, xb))
    return Add(a, b)


def sub(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return Scalar(a.value - b.value)
    cb, xb = coefficient(b)
    if cb.could_extract_minus_sign():
        return add(a, scale(-cb, xb))
    ca, xa = coefficient(a)
    if ca != 1 and cb == ca:
        return scale(ca, Sub(xa, xb))
    return Sub(a, b)


def hadamard(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Scalar):
        return scale(a.value, b)
    if isinstance(b, Scalar):
        return scale(b.value, a)
    if a.shape == () and b.shape == ():  # numbers: the constants in front, 2 (1/10) λ W = λ W / 5
        (ca, xa), (cb, xb) = coefficient(a), coefficient(b)
        if ca != 1 or cb != 1:
            return scale(ca * cb, Hadamard(xa, xb))
    for x, y in ((a, b), (b, a)):  # (c 1) ⊙ y = c y
        if isinstance(x, Broadcast) and isinstance(x.x, Scalar) and y.shape == x.shape:
            return scale(x.x.value, y)
    return Hadamard(a, b)


def div(a: Expr, b: Expr) -> Expr:
    if isinstance(b, Scalar):
        return scale(1 / b.value, a)
    c, x = coefficient(a)
    if c != 1:
        return scale(c, div(x, b))
    return Div(a, b)


def matmul(a: Expr, b: Expr) -> Expr:
    (ca, xa), (cb, xb) = coefficient(a), coefficient(b)
    if ca != 1 or cb != 1:  # constants to the front: (2/m) Xᵀ G
        return scale(ca * cb, MatMul(xa, xb))
    return MatMul(a, b)


def transpose(x: Expr) -> Expr:
    if isinstance(x, Transpose) and len(x.x.shape) == 2:
        return x.x
    if isinstance(x, Scale):
        return scale(x.coeff, transpose(x.x))
    if isinstance(x, Scalar):
        return x
    return Transpose(x)


def power(x: Expr, k) -> Expr:
    k = sp.sympify(k)
    if k == 1:
        return x
    if isinstance(x, Scalar):
        problem = power_problem(x.value, k)
        if problem:  # 9^{9^{9}}: refused before SymPy computes it
            raise SymbackpropError(problem)
        return Scalar(x.value ** k)
    return Power(x, k)


def reduce_sum(x: Expr, axes=None, keepdims: bool = False) -> Expr:
    if x.shape == ():  # the sum of one number
        return x
    if axes is not None:
        axes = tuple(sorted(a % len(x.shape) for a in axes))
        if not axes:
            return x
        if len(axes) == len(x.shape) and not keepdims:  # every axis: the sum of all entries
            axes = None
    if isinstance(x, Scale):
        return scale(x.coeff, reduce_sum(x.x, axes, keepdims))
    return Sum(x, axes, keepdims)


def maximum(a: Expr, b: Expr) -> Expr:
    return Maximum(a, b)


def minimum(a: Expr, b: Expr) -> Expr:
    return Minimum(a, b)


def var_power(a: Expr, b: Expr) -> Expr:
    if isinstance(b, Scalar):
        return power(a, b.value)
    if isinstance(a, Scalar) and a.value == sp.E:
        return Apply("exp", b)
    return VarPower(a, b)


_BINARY = {Add: add, Sub: sub, Hadamard: hadamard, Div: div, MatMul: matmul, Maximum: maximum,
           Minimum: minimum, VarPower: var_power, PositiveDiv: PositiveDiv}


# ---- elementwise functions ------------------------------------------------
def scalar_function(func: str) -> Callable:
    """The SymPy function (from :mod:`symbackprop.functions`) behind an elementwise ``func``."""
    from symbackprop.functions import elementwise

    return elementwise(func)


def scalar_application(func: str, x: sp.Expr, alpha: Optional[sp.Expr] = None) -> sp.Expr:
    f = scalar_function(func)
    return f(x) if alpha is None else f(x, alpha)


def scalar_derivative(func: str, x: sp.Expr, alpha: Optional[sp.Expr] = None) -> sp.Expr:
    """``f'(x)`` in textbook form (``σ(x)(1 − σ(x))``): the ``fdiff`` of ``f``'s class."""
    return sp.diff(scalar_application(func, x, alpha), x)


# ---- numbers --------------------------------------------------------------
def evaluate(e: Expr, values, adjoints=None, sizes=None) -> np.ndarray:
    """The value of ``e`` as a NumPy array.

    ``values`` maps node names to arrays, ``adjoints`` node names to adjoint
    arrays, ``sizes`` dimension names to numbers (for coefficients such as
    ``1/m``; a :class:`~symbackprop.shapes.Sizes` or a plain dict).

    >>> import numpy as np
    >>> X, W = Var("X", (2, 2)), Var("W", (2, 1))
    >>> evaluate(matmul(transpose(X), W), {"X": np.eye(2), "W": np.ones((2, 1))}).tolist()
    [[1.0], [1.0]]
    """
    from symbackprop.shapes import Sizes

    sizes = sizes if isinstance(sizes, Sizes) else Sizes(sizes or {})
    memo: dict[int, np.ndarray] = {}

    def ev(n: Expr) -> np.ndarray:
        key = id(n)
        if key not in memo:
            memo[key] = _EVAL[type(n)](n, ev, values, adjoints or {}, sizes)
        return memo[key]

    with np.errstate(all="ignore"):
        return np.asarray(ev(e), dtype=float)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _positive_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b``, 0 where ``a`` is 0 (``b`` > 0 in exact arithmetic, so 0/0 there is 0)."""
    out = np.zeros(np.broadcast(a, b).shape)
    return np.divide(a, b, out=out, where=np.asarray(a) != 0)


def _lookup(table, name, what):
    try:
        return np.asarray(table[name], dtype=float)
    except KeyError:
        raise SymbackpropError(f"no value for {what} '{name}'") from None


def _broadcast(n: Broadcast, ev, sizes) -> np.ndarray:
    x = ev(n.x)
    if n.axes is not None and x.ndim < len(n.target):
        x = np.expand_dims(x, n.axes)
    return np.broadcast_to(x, sizes.resolve(n.target))


_EVAL = {
    Var: lambda n, ev, v, a, s: _lookup(v, n.name, "node"),
    Adj: lambda n, ev, v, a, s: _lookup(a, n.name, "the adjoint of"),
    Scalar: lambda n, ev, v, a, s: np.asarray(s.scalar(n.value)),
    Add: lambda n, ev, v, a, s: ev(n.a) + ev(n.b),
    Sub: lambda n, ev, v, a, s: ev(n.a) - ev(n.b),
    Scale: lambda n, ev, v, a, s: s.scalar(n.coeff) * ev(n.x),
    Hadamard: lambda n, ev, v, a, s: ev(n.a) * ev(n.b),
    Div: lambda n, ev, v, a, s: ev(n.a) / ev(n.b),
    PositiveDiv: lambda n, ev, v, a, s: _positive_div(ev(n.a), ev(n.b)),
    MatMul: lambda n, ev, v, a, s: ev(n.a) @ ev(n.b),
    Transpose: lambda n, ev, v, a, s: ev(n.x).T,
    Maximum: lambda n, ev, v, a, s: np.maximum(ev(n.a), ev(n.b)),
    Minimum: lambda n, ev, v, a, s: np.minimum(ev(n.a), ev(n.b)),
    VarPower: lambda n, ev, v, a, s: ev(n.a) ** ev(n.b),
    Apply: lambda n, ev, v, a, s: numeric.value(n.func, ev(n.x), n.alpha),
    Prime: lambda n, ev, v, a, s: numeric.derivative(n.func, ev(n.x), n.alpha),
    Power: lambda n, ev, v, a, s: ev(n.x) ** s.scalar(n.exp),
    Sum: lambda n, ev, v, a, s: np.sum(ev(n.x), axis=n.axes, keepdims=n.keepdims),
    Broadcast: lambda n, ev, v, a, s: _broadcast(n, ev, s),
    FrobSq: lambda n, ev, v, a, s: np.sum(ev(n.x) ** 2),
    Norm: lambda n, ev, v, a, s: np.sqrt(np.sum(ev(n.x) ** 2)),
    Softmax: lambda n, ev, v, a, s: _softmax(ev(n.x)),
    LogSoftmax: lambda n, ev, v, a, s: _log_softmax(ev(n.x)),
}
