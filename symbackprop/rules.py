r"""The one registry of rules: vector-Jacobian rules of the IR ops, as HIPS autograd's ``defvjp``.

A rule maps the upstream gradient ``g`` (an IR expression with the shape of
the op's output) to the gradient of one operand. It is written for equal
shapes; broadcasting is undone once, by :func:`unbroadcast`, for every rule
(the bias ``b`` of ``X W + b`` collects :math:`\sum_i` of the rows). A scalar
is the 0-d case: the same rules give its local derivatives (``g = 1``).

Every rule describes itself: :class:`Rule` holds its function, its formula in
LaTeX and its name in each language, so the worked solution quotes it and no
rule can lack a description.

Elementwise derivatives are ``fdiff`` on the functions' classes
(:mod:`symbackprop.functions`, ``σ' = σ(1 − σ)``) and are written in the
node's own name by :func:`textbook_prime` (``σ'(Z_2) = A_2 ⊙ (1 − A_2)``).

>>> from symbackprop.ir import Var, Adj, MatMul
>>> A, W = Var("A_1", ("m", "n_1")), Var("W_2", ("n_1", "n_2"))
>>> rule = VJPS[MatMul][1]
>>> rule.name, str(rule.fn(Adj("Z_2", ("m", "n_2")), MatMul(A, W), None))
('matmul_right', 'A_1ᵀ · ∂L/∂Z_2')
>>> rule.describe("en")
'matrix-product rule (right factor: the transpose of the left factor times)'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import sympy as sp

from symbackprop import ir as O
from symbackprop.errors import SymbackpropError
from symbackprop.ir import (Add, Apply, Broadcast, Div, Expr, FrobSq, Hadamard, MatMul, Maximum,
                            Minimum, Norm, Power, Prime, Scalar, Scale, Softmax, Sub, Sum,
                            Transpose, VarPower)
from symbackprop.shapes import unbroadcast_axes

#: rule(g, node, ans) -> gradient of one operand; ``ans`` names the node's value when it is one
VJPFn = Callable[[Expr, Expr, Optional[Expr]], Expr]


@dataclass(frozen=True)
class Rule:
    """One rule: its function, its formula, and what the worked solution calls it."""

    name: str
    fn: Optional[VJPFn]  #: None for a rule that only names a step (broadcast, fused shortcuts)
    en: str
    zh: str
    formula: str = ""  #: LaTeX, in G (the upstream gradient) and the op's operands A, B

    def describe(self, lang: str = "en") -> str:
        """The rule's name in ``lang`` (``"en"`` or ``"zh"``)."""
        return self.zh if lang == "zh" else self.en


#: op class -> {operand index: rule}
VJPS: dict[type, dict[int, Rule]] = {}
#: every rule by name, the fused and the broadcast rules included
RULES: dict[str, Rule] = {}


def _register(rule: Rule) -> Rule:
    RULES.setdefault(rule.name, rule)
    return rule


def defvjp(op: type, *rules: Rule) -> None:
    """Register one :class:`Rule` per operand of ``op``, in operand order."""
    VJPS[op] = {i: _register(r) for i, r in enumerate(rules)}


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
ADD = Rule("add", lambda g, n, ans: g, "sum rule (the gradient passes to each term unchanged)",
           "加法法则（梯度原样传给每一项）", r"\bar A = \bar B = G")
defvjp(Add, ADD, ADD)
defvjp(Sub, ADD, Rule("sub", lambda g, n, ans: O.neg(g), "difference rule", "减法法则",
                      r"\bar B = -G"))
defvjp(Scale, Rule("scale", lambda g, n, ans: O.scale(n.coeff, g), "constant-factor rule",
                   "常数因子法则", r"\overline{X} = c\,G"))

# ---- products ---------------------------------------------------------------
defvjp(MatMul,
       Rule("matmul_left", lambda g, n, ans: O.matmul(g, O.transpose(n.b)),
            "matrix-product rule (left factor: times the transpose of the right factor)",
            "矩阵乘法法则（左因子：右乘右因子的转置）", r"\bar A = G B^{\top}"),
       Rule("matmul_right", lambda g, n, ans: O.matmul(O.transpose(n.a), g),
            "matrix-product rule (right factor: the transpose of the left factor times)",
            "矩阵乘法法则（右因子：左乘左因子的转置）", r"\bar B = A^{\top} G"))
HADAMARD = ("Hadamard-product rule", "逐元素乘积法则")
defvjp(Hadamard,
       Rule("hadamard", lambda g, n, ans: O.hadamard(g, n.b), *HADAMARD, r"\bar A = G \odot B"),
       Rule("hadamard", lambda g, n, ans: O.hadamard(g, n.a), *HADAMARD, r"\bar B = G \odot A"))
defvjp(Div,
       Rule("div", lambda g, n, ans: O.div(g, n.b), "elementwise-quotient rule", "逐元素除法法则",
            r"\bar A = G / B"),
       Rule("div_denominator",
            lambda g, n, ans: O.neg(O.div(O.hadamard(g, n.a), O.power(n.b, 2))),
            "elementwise-quotient rule (denominator)", "逐元素除法法则（分母）",
            r"\bar B = -G \odot A / B^{\odot 2}"))
defvjp(Transpose, Rule("transpose", lambda g, n, ans: O.transpose(g), "transpose rule", "转置法则",
                       r"\bar A = G^{\top}"))
MAXIMUM = ("max", "maximum rule (the gradient goes to the larger argument)",
           "最大值法则（梯度传给较大的一方）")
MINIMUM = ("min", "minimum rule (the gradient goes to the smaller argument)",
           "最小值法则（梯度传给较小的一方）")


def _to_larger(first: bool):
    """``G ⊙ 𝟙[this operand > the other]``: the gradient of max to one operand (of min with
    ``first`` reversed)."""
    return lambda g, n, ans: O.hadamard(g, Apply("step", O.sub(n.a, n.b) if first else O.sub(n.b, n.a)))


defvjp(Maximum, Rule(MAXIMUM[0], _to_larger(True), *MAXIMUM[1:], r"\bar A = G \odot \mathbb{1}[A > B]"),
       Rule(MAXIMUM[0], _to_larger(False), *MAXIMUM[1:], r"\bar B = G \odot \mathbb{1}[B > A]"))
defvjp(Minimum, Rule(MINIMUM[0], _to_larger(False), *MINIMUM[1:], r"\bar A = G \odot \mathbb{1}[A < B]"),
       Rule(MINIMUM[0], _to_larger(True), *MINIMUM[1:], r"\bar B = G \odot \mathbb{1}[B < A]"))
defvjp(VarPower,
       Rule("var_power_base",
            lambda g, n, ans: O.hadamard(g, O.hadamard(n.b, O.var_power(n.a, O.sub(n.b, Scalar(1))))),
            "power rule", "幂法则", r"\bar A = G \odot B \odot A^{B - 1}"),
       Rule("var_power_exponent",
            lambda g, n, ans: O.hadamard(g, O.hadamard(_own(n, ans), Apply("log", n.a))),
            "exponential rule (the power times the log of its base)", "指数法则（幂乘以底数的对数）",
            r"\bar B = G \odot A^{B} \odot \ln A"))


# ---- elementwise functions --------------------------------------------------
def _elementwise(g: Expr, n: Apply, ans) -> Expr:
    if n.func == "log":  # the textbook writes G / X, not G ⊙ ln'(X); log_b X: G / (X ln b)
        return O.div(g, n.x) if n.alpha is None else O.scale(1 / sp.log(n.alpha), O.div(g, n.x))
    if n.func == "sigmoid":
        cancelled = _log_sigmoid_chain(g, n)
        if cancelled is not None:
            return cancelled
    return O.hadamard(g, Prime(n.func, n.x, n.alpha))


def _log_sigmoid_chain(g: Expr, n: Apply) -> Optional[Expr]:
    """``G ⊙ σ'(X)`` when ``G`` divides by ``σ(X)`` or ``1 − σ(X)`` (the gradient of ``ln σ`` or
    ``ln(1 − σ)``), with the division cancelled: ``H/σ ⊙ σ(1 − σ) = H ⊙ (1 − σ)``. Finite where
    σ rounds to 0 or 1, and the textbook's own simplification."""
    c, body = O.coefficient(g)
    if isinstance(body, Div):
        if body.b == n:
            return O.scale(c, O.hadamard(body.a, O.sub(Scalar(1), n)))
        if body.b == O.sub(Scalar(1), n):
            return O.scale(c, O.hadamard(body.a, n))
    return None


defvjp(Apply, Rule("elementwise", _elementwise,
                   "elementwise-function rule (times the derivative, entry by entry)",
                   "逐元素函数法则（逐元素乘以导数）", r"\bar Z = G \odot f'(Z)"))
defvjp(Power, Rule("power", lambda g, n, ans: O.scale(n.exp, O.hadamard(g, O.power(n.x, n.exp - 1))),
                   "elementwise-power rule", "逐元素幂法则", r"\bar A = k\,G \odot A^{\odot (k-1)}"))
defvjp(Softmax, Rule("softmax", lambda g, n, ans: O.hadamard(  # P ⊙ (G − rowsum(G ⊙ P))
    _own(n, ans), O.sub(g, O.reduce_sum(O.hadamard(g, _own(n, ans)), (-1,), keepdims=True))),
    "softmax rule", "softmax 法则", r"\bar Z = P \odot (G - \operatorname{rowsum}(G \odot P))"))

# ---- reductions ---------------------------------------------------------------
defvjp(Sum, Rule("sum", lambda g, n, ans: Broadcast(g, n.x.shape, None if n.keepdims else n.axes),
                 "sum rule (every entry gets the gradient of the sum)",
                 "求和法则（每个元素得到和的梯度）", r"\bar A = G\,\mathbf{1}"))
defvjp(FrobSq, Rule("frobenius", lambda g, n, ans: O.scale(2, O.hadamard(g, n.x)),
                    "squared-norm rule (the gradient of a squared norm is twice the matrix inside)",
                    "平方范数法则（平方范数的梯度是范数内矩阵的 2 倍）", r"\bar A = 2 G A"))
defvjp(Norm, Rule("norm", lambda g, n, ans: O.hadamard(g, O.div(n.x, _own(n, ans))), "norm rule",
                  "范数法则", r"\bar A = G A / \|A\|"))
defvjp(Broadcast, Rule("broadcast_op", lambda g, n, ans: g, "broadcast rule", "广播法则",
                       r"\bar A = G"))  # summed back by unbroadcast
BROADCAST = _register(Rule("broadcast", None,
                           "broadcast rule (a bias added to every row sums the rows' gradients)",
                           "广播法则（加到每一行的偏置，梯度为各行梯度之和）",
                           r"\bar b = \textstyle\sum_i G_{i,:}"))
SOFTMAX_CE = _register(Rule("softmax_ce", None, "softmax-with-cross-entropy rule",
                            "softmax 与交叉熵的合并法则", r"\bar Z = c\,(P - Y)"))
SIGMOID_BCE = _register(Rule("sigmoid_bce", None, "sigmoid-with-binary-cross-entropy rule",
                             "sigmoid 与二元交叉熵的合并法则", r"\bar Z = c\,(A - Y)"))


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
    rule: Rule
    gradient: Expr  #: ∂L/∂Z in closed form
    targets: Expr  #: Y
    assumption: Optional[str] = None  #: phrase key of a condition on the targets

    @property
    def name(self) -> str:
        return self.rule.name


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
            return Fused(SOFTMAX_CE, O.scale(-c, O.sub(out, y)), y, "rows_sum_to_one")
    if isinstance(activation, Apply) and activation.func == "sigmoid":
        found = _binary_cross_entropy(loss, out.name)
        if found:
            c, y = found
            return Fused(SIGMOID_BCE, O.scale(-c, O.sub(out, y)), y)
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
    if not e.free_symbols:
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
    if e.is_Pow and not e.exp.free_symbols:
        if e.exp.is_negative:
            return O.div(Scalar(1), O.power(_elementwise_ir(e.base, atoms, shape), -e.exp))
        return O.power(_elementwise_ir(e.base, atoms, shape), e.exp)
    if isinstance(e, sp.Heaviside) and e.args[1:] in ((0,), ()):
        return Apply("step", _elementwise_ir(e.args[0], atoms, shape))
    if isinstance(e, sp.Function) and len(e.args) == 1:
        from symbackprop.functions import function_name

        try:
            return Apply(function_name(e), _elementwise_ir(e.args[0], atoms, shape))
        except SymbackpropError:
            raise _NoForm from None
    raise _NoForm
