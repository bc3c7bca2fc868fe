r"""Vector-Jacobian rules of the matrix ops: the one registry, as HIPS autograd's ``defvjp``.

A rule maps the upstream gradient ``g`` (an IR expression with the shape of
the op's output) to the gradient of one operand. It is written for equal
shapes; broadcasting is undone once, by :func:`unbroadcast`, for every rule
(the bias ``b`` of ``X W + b`` collects :math:`\sum_i` of the rows). Each rule
has a name, which the worked solution quotes (``rule_<name>`` in the phrases).

Elementwise derivatives come from the scalar registry :mod:`symbackprop.rules`
(``σ' = σ(1 − σ)``) and are written in the node's own name by
:func:`textbook_prime` (``σ'(Z_2) = A_2 ⊙ (1 − A_2)``).

>>> from .ops import Var, Adj, MatMul
>>> A, W = Var("A_1", ("m", "n_1")), Var("W_2", ("n_1", "n_2"))
>>> rule = VJPS[MatMul][1]
>>> rule.name, str(rule.fn(Adj("Z_2", ("m", "n_2")), MatMul(A, W), None))
('matmul_right', 'A_1ᵀ · ∂L/∂Z_2')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import sympy as sp

from ..errors import SymbackpropError
from . import ops as O
from .ops import (Add, Apply, Broadcast, Div, Expr, FrobSq, Hadamard, MatMul, Norm, Power,
                  Prime, Scalar, Scale, Softmax, Sub, Sum, Transpose)
from .shapes import unbroadcast_axes

#: rule(g, node, ans) -> gradient of one operand; ``ans`` names the node's value when it is one
VJPFn = Callable[[Expr, Expr, Optional[Expr]], Expr]


@dataclass(frozen=True)
class Rule:
    name: str  #: its phrase in :mod:`symbackprop.render.phrases` is ``rule_<name>``
    fn: VJPFn


#: op class -> {operand index: rule}
VJPS: dict[type, dict[int, Rule]] = {}


def defvjp(op: type, *rules: tuple[str, VJPFn]) -> None:
    """Register one ``(name, fn)`` per operand of ``op``, in operand order."""
    VJPS[op] = {i: Rule(*r) for i, r in enumerate(rules)}


def vjp_rule(op: Expr, argnum: int) -> Rule:
    """The rule for operand ``argnum`` of ``op``; a missing rule names the op and the operand."""
    try:
        return VJPS[type(op)][argnum]
    except KeyError:
        raise SymbackpropError(f"no gradient rule for operand {argnum + 1} of "
                               f"{type(op).__name__} ({op})") from None


def _own(node: Expr, ans: Optional[Expr]) -> Expr:
    """The op's value: the node's name when the op is a whole definition."""
    return ans if ans is not None else node


# ---- sums and differences: the gradient passes unchanged --------------------
defvjp(Add, ("add", lambda g, n, ans: g), ("add", lambda g, n, ans: g))
defvjp(Sub, ("add", lambda g, n, ans: g), ("sub", lambda g, n, ans: O.neg(g)))
defvjp(Scale, ("scale", lambda g, n, ans: O.scale(n.coeff, g)))

# ---- products ---------------------------------------------------------------
defvjp(MatMul, ("matmul_left", lambda g, n, ans: O.matmul(g, O.transpose(n.b))),   # G Bᵀ
       ("matmul_right", lambda g, n, ans: O.matmul(O.transpose(n.a), g)))          # Aᵀ G
defvjp(Hadamard, ("hadamard", lambda g, n, ans: O.hadamard(g, n.b)),
       ("hadamard", lambda g, n, ans: O.hadamard(g, n.a)))
defvjp(Div, ("div", lambda g, n, ans: O.div(g, n.b)),
       ("div_denominator", lambda g, n, ans: O.neg(O.div(O.hadamard(g, n.a), O.power(n.b, 2)))))
defvjp(Transpose, ("transpose", lambda g, n, ans: O.transpose(g)))


# ---- elementwise functions --------------------------------------------------
def _elementwise(g: Expr, n: Apply, ans) -> Expr:
    if n.func == "log":  # the textbook writes G / X, not G ⊙ ln'(X)
        return O.div(g, n.x)
    return O.hadamard(g, Prime(n.func, n.x, n.alpha))


defvjp(Apply, ("elementwise", _elementwise))                                        # G ⊙ f'(Z)
defvjp(Power, ("power", lambda g, n, ans: O.scale(n.exp, O.hadamard(g, O.power(n.x, n.exp - 1)))))
defvjp(Softmax, ("softmax", lambda g, n, ans: O.hadamard(                          # P ⊙ (G − rowsum(G ⊙ P))
    _own(n, ans), O.sub(g, O.reduce_sum(O.hadamard(g, _own(n, ans)), (-1,), keepdims=True)))))

# ---- reductions ---------------------------------------------------------------
defvjp(Sum, ("sum", lambda g, n, ans: Broadcast(g, n.x.shape, None if n.keepdims else n.axes)))
defvjp(FrobSq, ("frobenius", lambda g, n, ans: O.scale(2, O.hadamard(g, n.x))))    # 2 g A
defvjp(Norm, ("norm", lambda g, n, ans: O.hadamard(g, O.div(n.x, _own(n, ans)))))  # g A / ‖A‖
defvjp(Broadcast, ("broadcast", lambda g, n, ans: g))  # summed back by unbroadcast


# ---- broadcasting, once for every rule -------------------------------------
def unbroadcast(g: Expr, shape) -> tuple[Expr, bool]:
    """Sum ``g`` back to ``shape`` over the axes broadcasting stretched (autograd's ``unbroadcast``).

    Returns the gradient and whether anything was summed.
    """
    if g.shape == tuple(shape):
        return g, False
    lead, kept = unbroadcast_axes(g.shape, shape)
    if lead:
        g = O.reduce_sum(g, lead)
    if kept:
        g = O.reduce_sum(g, kept, keepdims=True)
    return g, True


# ---- fused rules: a loss and the activation that feeds it -------------------
@dataclass(frozen=True)
class Fused:
    name: str  #: its phrase is ``rule_<name>``
    gradient: Expr  #: ∂L/∂Z in closed form
    targets: Expr  #: Y
    assumption: Optional[str] = None  #: phrase key of a condition on the targets


def _cross_entropy_terms(loss: Expr, p: str):
    """``c, Y`` when ``loss`` is ``c Σ Y ⊙ ln P`` (P the node ``p``), else None."""
    c, body = (loss.coeff, loss.x) if isinstance(loss, Scale) else (sp.Integer(1), loss)
    if not (isinstance(body, Sum) and body.axes is None and isinstance(body.x, Hadamard)):
        return None
    for y, lnp in ((body.x.a, body.x.b), (body.x.b, body.x.a)):
        if isinstance(lnp, Apply) and lnp.func == "log" and isinstance(lnp.x, O.Var) \
                and lnp.x.name == p and p not in O.names_in(y):
            return c, y
    return None


def _binary_cross_entropy(loss: Expr, a: str):
    """``c, Y`` when ``loss`` is ``c Σ (Y ⊙ ln A + (1 − Y) ⊙ ln(1 − A))``, else None."""
    c, body = (loss.coeff, loss.x) if isinstance(loss, Scale) else (sp.Integer(1), loss)
    if not (isinstance(body, Sum) and body.axes is None and isinstance(body.x, Add)):
        return None
    first = _cross_entropy_terms(Sum(body.x.a), a)
    if first is None or not isinstance(body.x.b, Hadamard):
        return None
    y = first[1]

    def one_minus(e: Expr) -> bool:
        return isinstance(e, Sub) and isinstance(e.a, Scalar) and e.a.value == 1

    second = body.x.b
    for w, lg in ((second.a, second.b), (second.b, second.a)):
        if one_minus(w) and w.b == y and isinstance(lg, Apply) and lg.func == "log" \
                and one_minus(lg.x) and isinstance(lg.x.b, O.Var) and lg.x.b.name == a:
            return c, y
    return None


def fused_rule(activation: Expr, out: O.Var, loss: Expr) -> Optional[Fused]:
    """The textbook shortcut for ``∂L/∂Z`` when ``out = activation(Z)`` feeds only the loss.

    softmax + cross-entropy ``L = -c Σ Y ⊙ ln P`` gives ``c (P − Y)`` when each
    row of Y sums to 1; sigmoid + binary cross-entropy gives ``c (A − Y)``.
    """
    if isinstance(activation, Softmax) and isinstance(activation.x, O.Var):
        found = _cross_entropy_terms(loss, out.name)
        if found:
            c, y = found
            return Fused("softmax_ce", O.scale(-c, O.sub(out, y)), y, "rows_sum_to_one")
    if isinstance(activation, Apply) and activation.func == "sigmoid":
        found = _binary_cross_entropy(loss, out.name)
        if found:
            c, y = found
            return Fused("sigmoid_bce", O.scale(-c, O.sub(out, y)), y)
    return None


# ---- σ'(Z) in the node's own name -----------------------------------------
def textbook_prime(p: Prime, named: Mapping[Expr, Expr]) -> Optional[Expr]:
    """``f'(x)`` from the scalar registry, elementwise, with ``f(x)`` written as its node.

    ``named`` maps definitions to the nodes that hold them (``σ(Z_2)`` → ``A_2``).
    None when the derivative has no elementwise form in the IR (a Piecewise).
    """
    t = sp.Dummy("t", real=True)
    ft, d = O.scalar_application(p.func, t, p.alpha), O.scalar_derivative(p.func, t, p.alpha)
    application = Apply(p.func, p.x, p.alpha)
    out = named.get(application, application)
    try:
        return _elementwise_ir(d, {t: p.x, ft: out}, p.x.shape)
    except _NoForm:
        return None


class _NoForm(Exception):
    pass


def _elementwise_ir(e: sp.Expr, atoms: Mapping[sp.Expr, Expr], shape) -> Expr:
    if e in atoms:
        return atoms[e]
    if e.is_Number:
        return Scalar(e)
    if e.is_Add:
        terms = sorted(e.args, key=lambda a: (not a.is_Number, a.could_extract_minus_sign()))
        out = _elementwise_ir(terms[0], atoms, shape)
        for a in terms[1:]:
            out = O.add(out, _elementwise_ir(a, atoms, shape))
        return out
    if e.is_Mul:
        c, rest = e.as_coeff_Mul()
        factors = sorted(sp.Mul.make_args(rest), key=lambda a: a.is_Add)  # A ⊙ (1 − A)
        out = _elementwise_ir(factors[0], atoms, shape)
        for f in factors[1:]:
            out = O.hadamard(out, _elementwise_ir(f, atoms, shape))
        return O.scale(c, out)
    if e.is_Pow and e.exp.is_Integer and e.exp > 0:
        return O.power(_elementwise_ir(e.base, atoms, shape), e.exp)
    if isinstance(e, sp.Heaviside) and e.args[1:] in ((0,), ()):
        return Apply("step", _elementwise_ir(e.args[0], atoms, shape))
    if isinstance(e, sp.Function) and len(e.args) == 1:
        name = {sp.exp: "exp", sp.tanh: "tanh"}.get(type(e), type(e).__name__)
        try:
            return Apply(name, _elementwise_ir(e.args[0], atoms, shape))
        except SymbackpropError:
            raise _NoForm from None
    raise _NoForm
