r"""Numbers of the elementwise functions: NumPy values and derivatives, with no printed code.

The IR evaluator (:func:`symbackprop.ir.evaluate`) asks here for ``f(x)`` and
``f'(x)`` of an elementwise function given by name. Values come from
:data:`VALUES`, written to stay finite where the textbook formula overflows
(``σ`` and ``softplus`` at ``|z| = 1000``). A derivative is the function's own
textbook derivative, the SymPy expression its class's ``fdiff`` gives
(``σ(t)(1 − σ(t))``), walked here with NumPy operations: the derivative lives
in one place, the function's class.

>>> import numpy as np
>>> value("sigmoid", np.array([0.0, 1000.0, -1000.0])).tolist()
[0.5, 1.0, 0.0]
>>> float(derivative("sigmoid", np.array(0.0)))
0.25
>>> float(derivative("tanh", np.array(0.0)))
1.0
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable, Optional

import numpy as np
import sympy as sp

from symbackprop import functions as F
from symbackprop.errors import SymbackpropError


def _sigmoid(x):
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x):
    x = np.asarray(x, dtype=float)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


_erf = np.vectorize(math.erf, otypes=[float])


def _gelu(x):
    x = np.asarray(x, dtype=float)
    return x * (1 + _erf(x / math.sqrt(2))) / 2


def _leaky_relu(x, alpha=0.01):
    return np.where(x > 0, x, alpha * x)


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


#: elementwise function name -> NumPy value (alpha: the slope parameter, when there is one)
VALUES: dict[str, Callable] = {
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "relu": lambda x: np.maximum(x, 0.0),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "gelu": _gelu,
    "tanh": np.tanh,
    "exp": np.exp,
    "log": lambda x, base=None: np.log(x) if base is None else np.log(x) / np.log(base),
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "step": lambda x: np.where(np.asarray(x) > 0, 1.0, 0.0),
    "sign": np.sign,
    "erf": _erf,
}


def value(func: str, x, alpha: Optional[sp.Expr] = None) -> np.ndarray:
    """``func(x)`` entry by entry."""
    try:
        f = VALUES[func]
    except KeyError:
        raise SymbackpropError(f"no numeric value for the function '{func}'") from None
    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):
        out = f(x) if alpha is None else f(x, float(alpha))
    return np.asarray(out, dtype=float) * np.ones_like(x)


def derivative(func: str, x, alpha: Optional[sp.Expr] = None) -> np.ndarray:
    """``func'(x)`` entry by entry, from the textbook derivative of ``func``'s class."""
    t, d = textbook_derivative(func, alpha)
    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):
        out = sympy_value(d, {t: x})
    return np.asarray(out, dtype=float) * np.ones_like(x)


@lru_cache(maxsize=None)
def textbook_derivative(func: str, alpha: Optional[sp.Expr]):
    """``(t, f'(t))``: the variable and the derivative of ``func`` from its class's ``fdiff``."""
    t = sp.Dummy("t", real=True)
    f = F.elementwise(func)
    application = f(t) if alpha is None else f(t, alpha)
    return t, sp.diff(application, t)


def sympy_value(e: sp.Expr, env) -> np.ndarray:
    """The value of a SymPy expression of one variable, by NumPy operations (no code printed).

    ``env`` maps symbols to arrays. It knows the functions of :data:`VALUES`
    and the shapes their derivatives take: sums, products, powers, ``Heaviside``,
    ``Piecewise`` on one comparison with 0, ``sign``.
    """
    if e in env:
        return env[e]
    if e.is_Number or e.is_NumberSymbol:
        return np.asarray(float(e))
    if e.is_Add:
        complement = _complement(e, env)
        if complement is not None:
            return complement
        return sum((sympy_value(a, env) for a in e.args[1:]), sympy_value(e.args[0], env))
    if e.is_Mul:
        out = sympy_value(e.args[0], env)
        for a in e.args[1:]:
            out = out * sympy_value(a, env)
        return out
    if e.is_Pow:
        return sympy_value(e.base, env) ** sympy_value(e.exp, env)
    if isinstance(e, sp.Heaviside):
        x = sympy_value(e.args[0], env)
        at0 = float(e.args[1]) if len(e.args) > 1 else 0.5
        return np.where(x > 0, 1.0, np.where(x < 0, 0.0, at0))
    if isinstance(e, sp.Piecewise):
        out = sympy_value(e.args[-1][0], env) * 1.0
        for expr, cond in reversed(e.args[:-1]):
            out = np.where(_condition(cond, env), sympy_value(expr, env), out)
        return out
    if isinstance(e, sp.Function):
        name = F.function_name(e)
        args = [sympy_value(a, env) for a in e.args[:1]]
        alpha = e.args[1] if len(e.args) > 1 else None
        return value(name, args[0], alpha)
    raise SymbackpropError(f"cannot evaluate {e} numerically")


def _complement(e: sp.Add, env) -> Optional[np.ndarray]:
    """``1 − σ(u)`` as ``σ(−u)`` and ``1 − tanh²(u)`` as ``4σ(2|u|)σ(−2|u|)``: the derivatives
    σ(1 − σ) and 1 − tanh² exact where σ or tanh has rounded to ±1 (``σ'(40) = 4.2e-18``, not
    0); None for any other sum."""
    if len(e.args) != 2 or sp.S.One not in e.args:
        return None
    rest = e.args[0] if e.args[1] == 1 else e.args[1]
    c, f = rest.as_coeff_Mul()
    if c != -1:
        return None
    if isinstance(f, F.sigmoid):
        return value("sigmoid", -sympy_value(f.args[0], env))
    if f.is_Pow and f.exp == 2 and isinstance(f.base, sp.tanh):
        u = np.abs(sympy_value(f.base.args[0], env))
        return 4 * value("sigmoid", 2 * u) * value("sigmoid", -2 * u)
    return None


def _condition(c, env) -> np.ndarray:
    lhs, rhs = sympy_value(c.lhs, env), sympy_value(c.rhs, env)
    ops = {sp.StrictGreaterThan: np.greater, sp.GreaterThan: np.greater_equal,
           sp.StrictLessThan: np.less, sp.LessThan: np.less_equal}
    for cls, op in ops.items():
        if isinstance(c, cls):
            return op(lhs, rhs)
    raise SymbackpropError(f"cannot evaluate the condition {c}")
