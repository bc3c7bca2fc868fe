r"""Scalars both ways: SymPy expressions to the IR, and 0-d IR back to SymPy.

The IR (:mod:`symbackprop.ir`) is what is differentiated, evaluated and
compiled. SymPy is the algebra of the worked solution's scalar steps (their
textbook form, numbers substituted, closed forms and the verifier's proofs),
so a scalar IR expression is shown as the SymPy expression it stands for:

>>> import sympy as sp
>>> from symbackprop import ir
>>> a = ir.Var("a_2", ())
>>> to_sympy(ir.hadamard(a, ir.sub(ir.Scalar(1), a)))
a_2*(1 - a_2)
>>> e = from_sympy(sp.Symbol("w") * sp.Symbol("x") + 1, {"w": (), "x": ()})
>>> str(e), to_sympy(e)
('w·x + 1', w*x + 1)
"""
from __future__ import annotations

import functools
from typing import Mapping, Optional

import sympy as sp

from symbackprop import functions as F
from symbackprop import ir
from symbackprop.errors import SymbackpropError


class AdjointSymbol(sp.Symbol):
    r"""The adjoint :math:`\partial L / \partial v` of node ``v``, as a SymPy symbol.

    >>> AdjointSymbol("z_2").node
    'z_2'
    >>> sp.latex(AdjointSymbol("z_2"))
    '\\frac{\\partial L}{\\partial z_{2}}'
    """

    def __new__(cls, node: str, loss: str = "L"):
        obj = super().__new__(cls, f"∂{loss}/∂{node}", real=True)
        obj.node, obj.loss = node, loss
        return obj

    def __getnewargs_ex__(self):
        return ((self.node, self.loss), {})

    @property
    def key(self) -> str:
        return self.name

    def _latex(self, printer) -> str:
        """SymPy's own ``latex()`` prints a fraction; symbackprop's printer its own form."""
        own = getattr(printer, "_print_AdjointSymbol", None)
        if own is not None:
            return own(self)
        from symbackprop.reader.latex import latex_name

        return rf"\frac{{\partial {latex_name(self.loss)}}}{{\partial {latex_name(self.node)}}}"


# ---- SymPy -> IR -------------------------------------------------------------
def from_sympy(e: sp.Expr, shapes: Mapping[str, tuple] | None = None) -> ir.Expr:
    """The IR of a SymPy expression of scalar nodes (``shapes`` gives each node's shape)."""
    shapes = shapes or {}
    if isinstance(e, AdjointSymbol):
        return ir.Adj(e.node, tuple(shapes.get(e.node, ())), e.loss)
    if isinstance(e, sp.Symbol):
        return ir.Var(e.name, tuple(shapes.get(e.name, ())))
    if not e.free_symbols:
        return ir.Scalar(e)
    if e.is_Add:
        terms = sorted(e.args, key=lambda a: (a.is_number, a.could_extract_minus_sign()))
        out = from_sympy(terms[0], shapes)
        for a in terms[1:]:
            out = ir.add(out, from_sympy(a, shapes))
        return out
    if e.is_Mul:
        c, rest = e.as_coeff_Mul()
        num, den = [], []
        for f in sp.Mul.make_args(rest):
            if f.is_Pow and f.exp.is_number and f.exp.is_negative:
                den.append(from_sympy(f.base ** -f.exp, shapes))
            else:
                num.append(from_sympy(f, shapes))
        out = num[0] if num else ir.Scalar(1)
        for f in num[1:]:
            out = ir.hadamard(out, f)
        for f in den:
            out = ir.div(out, f)
        return ir.scale(c, out)
    if e.is_Pow:
        if e.base == sp.E:
            return ir.Apply("exp", from_sympy(e.exp, shapes))
        if e.exp == sp.Rational(1, 2):
            return ir.Apply("sqrt", from_sympy(e.base, shapes))
        base = from_sympy(e.base, shapes)
        if not e.exp.free_symbols:
            if e.exp.is_negative:
                return ir.div(ir.Scalar(1), ir.power(base, -e.exp))
            return ir.power(base, e.exp)
        return ir.var_power(base, from_sympy(e.exp, shapes))
    if isinstance(e, (sp.Max, sp.Min)):
        args = [from_sympy(a, shapes) for a in e.args]
        out = args[0]
        for a in args[1:]:
            out = (ir.maximum if isinstance(e, sp.Max) else ir.minimum)(out, a)
        return out
    if isinstance(e, sp.Heaviside):
        return ir.Apply("step", from_sympy(e.args[0], shapes))
    if isinstance(e, sp.Function):
        name = F.function_name(e)
        alpha = e.args[1] if len(e.args) > 1 else None
        return ir.Apply(name, from_sympy(e.args[0], shapes), alpha)
    raise SymbackpropError(f"cannot write {e} in the IR: '{type(e).__name__}' is not supported")


# ---- IR -> SymPy -------------------------------------------------------------
def to_sympy(e: ir.Expr, *, evaluate: bool = True,
             named: Optional[Mapping[ir.Expr, ir.Expr]] = None) -> sp.Expr:
    """The SymPy expression a 0-d IR expression stands for.

    ``evaluate=False`` keeps the IR's order and grouping (a definition as
    written). ``named`` maps definitions to their nodes (``σ(z_2)`` → ``a_2``),
    so ``f'(z)`` comes out in the node's own name, as the textbook writes it.
    """
    def low(n: ir.Expr) -> sp.Expr:
        t = type(n)
        if t is ir.Var:
            return sp.Symbol(n.name, real=True)
        if t is ir.Adj:
            return AdjointSymbol(n.name, n.of)
        if t is ir.Scalar:
            return n.value
        if t is ir.Add:
            return sp.Add(*_terms(low(n.a)), low(n.b), evaluate=evaluate)
        if t is ir.Sub:
            return sp.Add(*_terms(low(n.a)), _neg(low(n.b), evaluate), evaluate=evaluate)
        if t is ir.Scale:
            x = low(n.x)
            if n.coeff == -1:
                return _neg(x, evaluate)
            return sp.Mul(n.coeff, x, evaluate=evaluate)
        if t in (ir.Hadamard, ir.MatMul):
            return sp.Mul(low(n.a), low(n.b), evaluate=evaluate)
        if t is ir.Div:
            a = low(n.a)
            inverse = sp.Pow(low(n.b), -1, evaluate=evaluate)
            return inverse if a == 1 else sp.Mul(a, inverse, evaluate=evaluate)
        if t is ir.Power:
            return sp.Pow(low(n.x), n.exp, evaluate=evaluate)
        if t is ir.VarPower:
            return sp.Pow(low(n.a), low(n.b), evaluate=evaluate)
        if t is ir.Maximum:
            return sp.Max(low(n.a), low(n.b), evaluate=evaluate)
        if t is ir.Minimum:
            return sp.Min(low(n.a), low(n.b), evaluate=evaluate)
        if t is ir.Apply:
            if named and n in named:
                return low(named[n])
            f = F.elementwise(n.func)
            x = low(n.x)
            if n.alpha is not None:
                return f(x, n.alpha)
            if n.func in ("log", "sqrt", "step", "abs", "sign") or evaluate:
                return f(x)
            return f(x, evaluate=False)
        if t is ir.Prime:
            d, t_ = _derivative(n.func, n.alpha)
            out = d if t_ not in d.free_symbols else d.xreplace({t_: low(n.x)})
            if named:
                application = ir.Apply(n.func, n.x, n.alpha)
                if application in named:
                    out = out.xreplace({to_sympy(application): low(named[application])})
            return out
        if t in (ir.Sum, ir.Transpose, ir.Broadcast):  # of one number: itself
            return low(n.children[0])
        if t is ir.FrobSq:
            return sp.Pow(low(n.x), 2, evaluate=evaluate)
        if t is ir.Norm:
            return sp.Abs(low(n.x))
        raise SymbackpropError(f"{t.__name__} has no scalar form")

    return low(e)


@functools.lru_cache(maxsize=None)
def _derivative(func: str, alpha) -> tuple[sp.Expr, sp.Symbol]:
    """``(f'(t), t)`` of an elementwise ``func``: SymPy differentiates each function once, not
    once per ``f'`` written (a deep network's closed form has hundreds)."""
    t = sp.Dummy("t", real=True)
    return ir.scalar_derivative(func, t, alpha), t


def _terms(x: sp.Expr) -> tuple:
    """The terms of a sum written out (``a + b + c``, not ``(a + b) + c``)."""
    return x.args if isinstance(x, sp.Add) else (x,)


def _neg(x: sp.Expr, evaluate: bool) -> sp.Expr:
    if evaluate or x.is_Number:
        return -x
    if x.is_Mul:
        return sp.Mul(-1, *x.args, evaluate=False)
    return sp.Mul(-1, x, evaluate=False)
