r"""Bounds on the work a user's input can ask for: every limit in one place.

A spec is small text, but a few characters can ask for a great deal: ``9^{9^{9}}``
is an integer of 370 million digits, ``1e999999`` a float SymPy spells out digit by
digit, the closed form of a deep network in its leaves has millions of operations.
Each is refused here *before* it is computed, with one line that says what and
where (a :class:`~symbackprop.errors.SymbackpropError`), never a hang, a
``MemoryError`` or a ``RecursionError``.

>>> number_problem("2.5e-3") is None, number_problem("1e999999")
(True, 'number too large: 1e999999 is outside the range of a double')
>>> import sympy as sp
>>> power_problem(sp.Integer(9), sp.Integer(9) ** 9)
'number too large: 9^387420489 is outside the range of a double'
>>> b = Budget("the closed forms", max_ops=10, hint="use --expand nodes")
>>> b.check(8, "the closed form of ∂L/∂w_2")
>>> b.check(11, "the closed form of ∂L/∂w_1")
Traceback (most recent call last):
...
symbackprop.limits.BudgetExceeded: the closed form of ∂L/∂w_1 has 11 operations; use --expand nodes
"""
from __future__ import annotations

import math
import time
from typing import Callable, Optional

import sympy as sp

from symbackprop.errors import SymbackpropError

#: a double's largest binary exponent: |x| < 2**1024 ≈ 1.8e308
DOUBLE_MAX_EXP = 1024
#: and its smallest, with subnormals: 2**-1074 ≈ 4.9e-324
DOUBLE_MIN_EXP = -1074
#: the deepest a syntax tree may be (operations one inside the other, a sum or product of many
#: terms counting one level per operation). A line's derivative is up to about twice as deep (the
#: local derivative of a product of n names is a sum of n products of n - 1), and every walk of
#: the tree, its IR, its derivative, the printers and the code printer (two frames a level) stays
#: well inside Python's recursion limit. A longer line is split into named nodes.
MAX_TREE_DEPTH = 100
#: the largest whole-number power written out as a product (``A^{\circ k}``, elementwise powers)
MAX_REPEAT = 100
#: operations the closed forms of the gradients (``--expand``) may have, one or all of one solution
#: together: the 40-layer chain's in leaves have 77,000; more is unreadable anyway
MAX_CLOSED_FORM_OPS = 20_000
#: operations a derivative of one step may have to be written out in a worked solution
MAX_STEP_OPS = 10_000
#: seconds the closed forms of one solution may take
CLOSED_FORM_SECONDS = 5.0
#: how deeply a closed form may nest: the SymPy and IR printers follow it by recursion
MAX_CLOSED_FORM_DEPTH = 200
#: operations above which SymPy's tidying (``factor_terms``) is skipped: the expression is shown
#: as derived, since the cost of tidying grows faster than its size
MAX_TIDY_OPS = 5_000


def _shown(text: str) -> str:
    """A number as written, or its start and length when it is long."""
    return text if len(text) <= 40 else f"{text[:12]}…({len(text)} characters)"


def number_problem(text: str) -> Optional[str]:
    """Why the number written ``text`` (``2``, ``0.5``, ``2.5e-3``) cannot be a double, or None.

    Checked on the text, before any integer or SymPy float is built from it: a float of text
    never hangs, and an integer of more than ~309 digits is out of range anyway.

    >>> number_problem("1" + "0" * 400)[:40]
    'number too large: 100000000000…(401 char'
    >>> number_problem("1e-999"), number_problem("0.0"), number_problem("4.9e-324")
    ('number too small: 1e-999 is outside the range of a double (it would be 0)', None, None)
    """
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return f"not a number: {_shown(text)}"
    if not math.isfinite(value):
        return f"number too large: {_shown(text)} is outside the range of a double"
    if value == 0 and any(c in "123456789" for c in text.split("e")[0].split("E")[0]):
        return f"number too small: {_shown(text)} is outside the range of a double (it would be 0)"
    return None


def _log2(x: sp.Rational) -> float:
    """log2 |x| of a nonzero rational, without converting a huge one to a float."""
    def log2(n: int) -> float:  # of a positive integer, keeping 60 significant bits
        shift = max(n.bit_length() - 60, 0)
        return math.log2(n >> shift) + shift

    return log2(abs(int(x.p))) - log2(int(x.q))


def magnitude_problem(value: sp.Expr, written: str = "") -> Optional[str]:
    """Why a constant (a SymPy number) cannot be a double, or None; symbolic constants (π, 1/m)
    pass. ``written`` says how the user wrote it.

    >>> magnitude_problem(sp.Integer(10) ** 400, "10^{400}")
    'number too large: 10^{400} is outside the range of a double'
    >>> magnitude_problem(sp.Float(2.5)) is None
    True
    """
    if value.is_Rational:
        if value == 0:
            return None
        bits = _log2(value)
    elif value.is_Float:
        sign, man, exp, bc = value._mpf_
        if not man:
            return None if exp == 0 else f"{written or 'a constant'} is not a finite number"
        bits = exp + bc
    elif isinstance(value, sp.Expr) and not value.free_symbols:  # e^{e^{e^{10}}}: estimated, never computed
        ln = _ln_abs(value, 0)
        if ln is None:
            return None
        bits = ln / math.log(2)
    else:
        return None
    what = written or (f"a constant of about 1e{round(bits * math.log10(2))}" if math.isfinite(bits)
                       else "a constant")
    if bits > DOUBLE_MAX_EXP:
        return f"number too large: {_shown(what)} is outside the range of a double"
    if bits < DOUBLE_MIN_EXP:
        return f"number too small: {_shown(what)} is outside the range of a double (it would be 0)"
    return None


def _ln_abs(e: sp.Expr, depth: int) -> Optional[float]:
    """An estimate of ln|e| for a constant, from its structure (±inf beyond any double; None when
    unknown), so that a tower such as ``e^{e^{e^{10}}}`` is never evaluated."""
    if depth > 20:
        return None
    if e.is_Rational:
        return -math.inf if e == 0 else _log2(e) * math.log(2)
    if e.is_Float:
        sign, man, exp, bc = e._mpf_
        return -math.inf if not man else (exp + bc) * math.log(2)
    if e in (sp.E, sp.pi):
        return math.log(float(e))
    if isinstance(e, sp.exp) or (e.is_Pow and e.base == sp.E):
        arg = e.args[0] if isinstance(e, sp.exp) else e.exp
        ln = _ln_abs(arg, depth + 1)
        if ln is None:
            return None
        if ln > math.log(800):  # |arg| > 800: e^arg is beyond a double or underflows to 0
            return math.inf if arg.is_positive else -math.inf if arg.is_negative else None
        return float(arg)
    if e.is_Pow:
        base, exp = _ln_abs(e.base, depth + 1), _ln_abs(e.exp, depth + 1)
        if base is None or exp is None:
            return None
        if exp > math.log(1e6):
            return math.inf if base > 0 and e.exp.is_positive else None
        return base * float(e.exp) if math.isfinite(base) else base
    if e.is_Mul:
        parts = [_ln_abs(a, depth + 1) for a in e.args]
        return None if None in parts else sum(parts)
    if e.is_Add:
        parts = [_ln_abs(a, depth + 1) for a in e.args]
        return None if None in parts else max(parts) + math.log(len(parts))
    return None


def _num(x: sp.Expr) -> str:
    """A SymPy number as a person writes it: ``9``, ``1.5``, ``3/2``."""
    if x.is_Float:
        text = repr(float(x))
        return text[:-2] if text.endswith(".0") else text
    return str(x)


def power_problem(base: sp.Expr, exp: sp.Expr) -> Optional[str]:
    """Why ``base ** exp`` of two numbers must not be computed, or None: an exact power whose
    result would be outside a double's range (``9^{9^{9}}``), refused before SymPy builds it.

    >>> power_problem(sp.Integer(2), sp.Integer(1000)) is None
    True
    >>> power_problem(sp.Integer(2), sp.Integer(-2000))
    'number too small: 2^-2000 is outside the range of a double (it would be 0)'
    """
    if not (base.is_Rational and exp.is_Integer) or base == 0 or abs(base) == 1:
        if base.is_Number and exp.is_Number:  # a float power: computed to 53 bits, then checked
            try:
                return magnitude_problem(base ** exp, f"{_num(base)}^{_num(exp)}")
            except (OverflowError, ValueError, ZeroDivisionError):
                return f"number too large: {_num(base)}^{_num(exp)} is outside the range of a double"
        return None
    try:
        bits = _log2(base) * float(exp)
    except OverflowError:
        bits = math.copysign(math.inf, _log2(base) * (1 if exp > 0 else -1))
    if bits > DOUBLE_MAX_EXP:
        return f"number too large: {_num(base)}^{_num(exp)} is outside the range of a double"
    if bits < DOUBLE_MIN_EXP:
        return (f"number too small: {_num(base)}^{_num(exp)} is outside the range of a double "
                f"(it would be 0)")
    return None


def tree_size(expr: sp.Basic, limit: int) -> int:
    """Operations (nodes) of a SymPy expression, counting stops past ``limit``: cheap on a huge one.

    >>> x = sp.Symbol("x")
    >>> tree_size(x * (1 - x), 100), tree_size(x * (1 - x), 2)
    (7, 3)
    """
    count, todo = 0, [expr]
    while todo and count <= limit:
        e = todo.pop()
        count += 1
        todo.extend(e.args)
    return count


def tidy(expr: sp.Expr, how: Callable[[sp.Expr], sp.Expr], limit: int = MAX_TIDY_OPS) -> sp.Expr:
    """``how(expr)`` (``sp.factor_terms``, …) when ``expr`` is small enough, else ``expr`` as it is:
    tidying is for reading, and an expression of thousands of operations is not read."""
    return how(expr) if tree_size(expr, limit) <= limit else expr


class BudgetExceeded(SymbackpropError):
    """A bounded computation ran past its size or time budget."""


class Budget:
    """A size and time budget for building expressions of one kind (the closed forms of one
    solution): ``what`` names them all, each :meth:`check` names one.

    :meth:`check` takes the size of a result *before* it is built (from the sizes of its parts)
    and refuses one of more than ``max_ops`` operations, or results of more than ``max_ops``
    in all; past ``seconds`` after the budget was made, :meth:`tick` refuses to go on. Each
    refusal is a :class:`BudgetExceeded` saying what and how much, and ``hint``.
    """

    def __init__(self, what: str, *, max_ops: int = MAX_CLOSED_FORM_OPS,
                 seconds: Optional[float] = None, hint: str = "",
                 clock: Callable[[], float] = time.monotonic):
        self.what, self.max_ops, self.hint, self.clock = what, max_ops, hint, clock
        self.seconds = seconds
        self.deadline = None if seconds is None else clock() + seconds
        self.ops = 0  #: operations of the results checked so far

    def fail(self, message: str, hint: Optional[str] = None) -> BudgetExceeded:
        hint = self.hint if hint is None else hint
        return BudgetExceeded(f"{message}; {hint}" if hint else message)

    def check(self, ops: int, what: Optional[str] = None, hint: Optional[str] = None) -> None:
        """Allow a result of ``ops`` operations (``what``), counted before it is built."""
        if ops > self.max_ops:
            raise self.fail(f"{what or self.what} has {_count(ops)} operations", hint)
        self.ops += ops
        if self.ops > self.max_ops:
            raise self.fail(f"{self.what} have more than {_count(self.max_ops)} operations in all "
                            f"(with {what})" if what else
                            f"{self.what} has more than {_count(self.max_ops)} operations", hint)
        self.tick(what, hint)

    def tick(self, what: Optional[str] = None, hint: Optional[str] = None) -> None:
        """Refuse to go on past the deadline."""
        if self.deadline is not None and self.clock() > self.deadline:
            at = f" (at {what})" if what else ""
            raise self.fail(f"{self.what} took longer than {self.seconds:g} s{at}", hint)


def _count(n: int) -> str:
    """``2.1 million``, ``350,000``."""
    if n >= 10**6:
        return f"{n / 10**6:.1f} million"
    return f"{n:,}"
