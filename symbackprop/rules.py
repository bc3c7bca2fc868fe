"""Local derivative rules: the one registry.

Every derivative symbackprop shows or computes comes from here. A rule is
written the way a textbook writes it, in terms of the function's input ``x``
*and its output* ``out``: the sigmoid's derivative is ``out (1 - out)``, so
that a worked solution prints :math:`a_2(1-a_2)`, not
:math:`e^{-z}/(1+e^{-z})^2`.

Elementary SymPy functions (``exp``, ``log``, ``tanh``, powers, products)
already differentiate to textbook form (``tanh' = 1 - tanh^2``), so they need
no entry.

>>> import sympy as sp
>>> from symbackprop.functions import sigmoid
>>> x = sp.Symbol("x")
>>> activation_derivative(sigmoid(x))
(1 - sigmoid(x))*sigmoid(x)
"""
from __future__ import annotations

from typing import Callable

import sympy as sp

from . import functions as F

Rule = Callable[..., sp.Expr]

#: function class -> rule(x, out, *params) giving d out / d x
LOCAL_RULES: dict[type, Rule] = {}


def defderiv(cls: type, rule: Rule) -> None:
    """Register ``rule(x, out, *params)`` as the derivative of ``cls``."""
    LOCAL_RULES[cls] = rule


def activation_derivative(application: sp.Function) -> sp.Expr:
    """Derivative of ``f(x, *params)`` with respect to ``x``, from the registry."""
    try:
        rule = LOCAL_RULES[type(application)]
    except KeyError:  # pragma: no cover - every Activation registers below
        raise NotImplementedError(f"no derivative rule for {type(application).__name__}")
    x, *params = application.args
    return rule(x, application, *params)


def step(x: sp.Expr) -> sp.Expr:
    r"""The indicator :math:`\mathbb{1}[x > 0]`, zero at the kink as PyTorch does."""
    return sp.Heaviside(x, 0)


# ---- sigmoid family ------------------------------------------------------
defderiv(F.sigmoid, lambda x, out: out * (1 - out))
defderiv(F.softplus, lambda x, out: F.sigmoid(x))

# ---- rectifiers ----------------------------------------------------------
defderiv(F.relu, lambda x, out: step(x))
defderiv(F.leaky_relu, lambda x, out, alpha: sp.Piecewise((1, x > 0), (alpha, True)))
defderiv(F.elu, lambda x, out, alpha: sp.Piecewise((1, x > 0), (out + alpha, True)))

# ---- smooth gates --------------------------------------------------------
defderiv(
    F.gelu,
    lambda x, out: (1 + sp.erf(x / sp.sqrt(2))) / 2 + x * sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi),
)
