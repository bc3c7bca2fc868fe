r"""The code printer: SymPy's ``NumPyPrinter`` taught the IR, the helpers printed code calls, names.

:class:`GradientPrinter` prints IR expressions (``_print_ir_<Class>``) as
NumPy or JAX, as expressions or as calls writing into an array (``out=``);
the SymPy parts of the IR (constants such as ``1/m``, textbook derivatives)
go through SymPy's own printer dispatch, so parentheses follow precedence.
The program is :mod:`symbackprop.codegen.program`'s, the module
:mod:`symbackprop.codegen.module`'s.
"""
from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass, fields
from typing import Iterable, Mapping, Optional

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from symbackprop.errors import SymbackpropError
from symbackprop import ir as O
from symbackprop.ir import Add as IRAdd
from symbackprop.ir import Apply as IRApply
from symbackprop.ir import Broadcast as IRBroadcast
from symbackprop.ir import Div as IRDiv
from symbackprop.ir import Expr as IR
from symbackprop.ir import Hadamard as IRHadamard
from symbackprop.ir import LogSoftmax
from symbackprop.ir import MatMul as IRMatMul
from symbackprop.ir import Power as IRPower
from symbackprop.ir import Scalar as IRScalar
from symbackprop.ir import Scale as IRScale
from symbackprop.ir import Softmax as IRSoftmax
from symbackprop.ir import Sub as IRSub
from symbackprop.ir import Sum as IRSum
from symbackprop.ir import Transpose as IRTranspose
from symbackprop.shapes import dim_symbol


@dataclass(frozen=True)
class Backend:
    """An array module the printed code runs on."""

    name: str
    module: str  #: imported module (``numpy``)
    alias: str  #: its name in the code (``np``)
    erf: str  #: where ``erf`` comes from (NumPy has none)


BACKENDS = {
    "numpy": Backend("numpy", "numpy", "np", "scipy.special"),
    "jax": Backend("jax", "jax.numpy", "jnp", "jax.scipy.special"),
}


# ---- what the printer adds to the matrix IR ----------------------------------------
class _Operand(sp.Dummy):
    """An IR operand inside a SymPy expression (``σ'(x)`` printed for an IR node ``x``).

    Its ``precedence`` is its IR node's, so SymPy's printer parenthesises it where needed.
    """

    def __new__(cls, ir: IR):
        obj = super().__new__(cls, "operand", real=True)
        obj.ir = ir
        return obj

    @property
    def precedence(self) -> int:
        return _ir_precedence(self.ir)


def _applied(e) -> sp.Expr:
    """``f(x)`` as a SymPy expression for the elementwise IR node ``e`` (``Apply``)."""
    return O.scalar_application(e.func, _Operand(e.x), e.alpha)


#: functions whose ``_print_<name>`` can write into an array ``out``
_WRITES_INTO = {"sigmoid", "softplus", "relu", "Heaviside"}
#: Python's binding strengths, on SymPy's scale
_ADD, _MUL, _POW, _ATOM = PRECEDENCE["Add"], PRECEDENCE["Mul"], PRECEDENCE["Pow"], PRECEDENCE["Atom"]


def _ir_precedence(e: IR) -> int:
    if isinstance(e, (IRAdd, IRSub)):
        return _ADD
    if isinstance(e, (IRHadamard, IRDiv, IRMatMul, IRScale)):
        return _MUL  # '-x' too: parenthesised as a right operand, a*(-x)
    if isinstance(e, (IRPower, O.VarPower)):
        return _POW
    if isinstance(e, IRScalar):
        return min(precedence(e.value), _ATOM)
    return _ATOM


# ---- the printer -------------------------------------------------------------
class GradientPrinter(NumPyPrinter):
    """NumPy/JAX code for symbackprop expressions.

    Settings: ``backend`` (``"numpy"`` or ``"jax"``), ``identifiers`` (node name →
    Python identifier) and ``adjoints`` (node name → identifier of its adjoint).
    After printing, :attr:`helpers` names the module-level helpers the code calls.

    >>> a, g = O.Var("A_2", ("m", "k")), O.Adj("A_2", ("m", "k"))
    >>> p = GradientPrinter({"identifiers": {"A_2": "A_2"}, "adjoints": {"A_2": "dA_2"}})
    >>> p.code(O.hadamard(g, O.hadamard(a, O.sub(O.Scalar(1), a))))
    'dA_2 * (A_2 * (1.0 - A_2))'
    >>> p.code(O.Apply("sigmoid", a)), sorted(p.helpers)
    ('_sigmoid(A_2)', ['_sigmoid'])
    """

    _default_settings = {
        **NumPyPrinter._default_settings,
        "backend": "numpy",
        "identifiers": {},
        "dims": {},  #: dimension name -> identifier
        "adjoints": {},
        "strict": True,  # an unknown function is an error, not a comment in the code
        "row_sums_by_blas": False,  # Σ over rows as _sum_rows (a BLAS product), else .sum(axis=0)
    }

    def __init__(self, settings=None):
        super().__init__(settings)
        try:
            self.backend = BACKENDS[self._settings["backend"]]
        except KeyError:
            raise SymbackpropError(f"unknown backend '{self._settings['backend']}'; "
                                   f"use one of {', '.join(BACKENDS)}") from None
        # Dispatch on _print_<Class> only: this printer is the one place where an
        # activation's array spelling lives (for the `np` alias and for JAX alike).
        self.printmethod = "_symbackprop_code"
        self.helpers: set[str] = set()

    def doprint(self, expr, assign_to=None):
        try:
            if isinstance(expr, IR):
                return self._print(expr)
            return super().doprint(expr, assign_to)
        except PrintMethodNotImplementedError as e:
            raise SymbackpropError(f"cannot compile '{expr}' to {self.backend.name} code: {e}") from None

    # -- names ---------------------------------------------------------------
    def _module_format(self, fqn: str, register: bool = True) -> str:
        """``numpy.exp`` → ``np.exp`` (or ``jnp.exp``)."""
        head, _, rest = fqn.partition(".")
        if head == "numpy" and rest:
            return f"{self.backend.alias}.{rest}"
        return super()._module_format(fqn, register)

    def _np(self, function: str) -> str:
        return f"{self.backend.alias}.{function}"

    def _print_Symbol(self, expr):
        dims = self._settings["dims"]
        if expr.is_integer and expr.is_positive and expr.name in dims:  # a dimension (1/m)
            return dims[expr.name]
        try:
            return self._settings["identifiers"][expr.name]
        except KeyError:
            raise SymbackpropError(f"no identifier for symbol '{expr.name}'") from None

    def _print_AdjointSymbol(self, expr):
        return self._settings["adjoints"][expr.node]

    _print_MatrixSymbol = _print_Symbol

    # -- numbers -------------------------------------------------------------
    def _print_Float(self, expr):
        return repr(float(expr))  # shortest round-trip spelling of the double

    # -- arithmetic ----------------------------------------------------------
    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp.is_Integer and exp.is_negative:  # 1/x**2, not x**(-2.0)
            return f"1/{self._print(sp.Pow(base, -exp, evaluate=False))}" if exp != -1 else \
                f"1/{self.parenthesize(base, PRECEDENCE['Pow'])}"
        if exp == sp.S.Half:
            return f"{self._np('sqrt')}({self._print(base)})"
        return super()._print_Pow(expr, rational)

    def _print_Relational(self, expr):
        lhs = self.parenthesize(expr.lhs, PRECEDENCE["Relational"])
        rhs = self.parenthesize(expr.rhs, PRECEDENCE["Relational"])
        return f"({lhs} {expr.rel_op} {rhs})"

    def _print_Piecewise(self, expr):
        *branches, (last, cond) = expr.args
        text = self._print(last) if cond == sp.true else \
            f"{self._np('where')}({self._print(cond)}, {self._print(last)}, {self._np('nan')})"
        for e, c in reversed(branches):
            text = f"{self._np('where')}({self._print(c)}, {self._print(e)}, {text})"
        return text

    def _nested(self, function: str, args) -> str:
        first, *rest = args
        text = self._print(first)
        for a in rest:
            text = f"{self._np(function)}({text}, {self._print(a)})"
        return text

    def _print_Max(self, expr):
        return self._nested("maximum", expr.args)

    def _print_Min(self, expr):
        return self._nested("minimum", expr.args)

    def _print_Abs(self, expr):
        return f"{self._np('abs')}({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr, out=None):
        at_zero = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        if out and at_zero == 0:  # 𝟙[x > 0], ReLU's derivative
            self.helpers.add("_step")
            return f"_step({self._print(expr.args[0])}, out={out})"
        return f"{self._np('heaviside')}({self._print(expr.args[0])}, {float(at_zero)!r}" \
               f"{f', out={out}' if out else ''})"

    def _print_erf(self, expr):
        self.helpers.add("erf")
        return f"erf({self._print(expr.args[0])})"

    # -- activations: numerically stable spellings --------------------------
    def _print_sigmoid(self, expr, out=None):
        self.helpers.add("_sigmoid")
        return f"_sigmoid({self._print(expr.args[0])}{f', out={out}' if out else ''})"

    def _print_softplus(self, expr, out=None):
        self.helpers.add("_softplus")
        return f"_softplus({self._print(expr.args[0])}{f', out={out}' if out else ''})"

    def _print_relu(self, expr, out=None):
        if out:
            self.helpers.add("_relu")
            return f"_relu({self._print(expr.args[0])}, out={out})"
        return f"{self._np('maximum')}({self._print(expr.args[0])}, 0.0)"

    def _print_leaky_relu(self, expr):
        x, alpha = expr.args
        xs = self._print(x)
        scaled = f"{self.parenthesize(alpha, PRECEDENCE['Mul'])}*{self.parenthesize(x, PRECEDENCE['Mul'])}"
        return f"{self._np('where')}({xs} > 0, {xs}, {scaled})"

    def _print_elu(self, expr):
        x, alpha = expr.args
        xs = self._print(x)
        negative = f"{self._np('expm1')}({self._np('minimum')}({xs}, 0.0))"
        if alpha != 1:
            negative = f"{self.parenthesize(alpha, PRECEDENCE['Mul'])}*{negative}"
        return f"{self._np('where')}({xs} > 0, {xs}, {negative})"

    def _print_gelu(self, expr):
        self.helpers |= {"_gelu", "erf"}
        return f"_gelu({self._print(expr.args[0])})"

    def _print_Activation(self, expr):
        # any activation without a spelling of its own: its closed form, one operand
        return f"({self._print(type(expr).closed_form(*expr.args))})"

    # -- the matrix IR (symbackprop.ir) --------------------------------
    # An IR node is printed by ``_print_ir_<Class>`` along its MRO (its class names,
    # Add, MatMul, Sum, …, are SymPy's too). With ``out=`` a node whose operands are
    # atoms is printed as one call writing into the array ``out``
    # (``np.multiply(a, b, out=w0)``), when :meth:`writes_into` says it can be.
    def _print(self, expr, **kwargs):
        if isinstance(expr, IR):
            for cls in type(expr).__mro__:
                method = getattr(self, f"_print_ir_{cls.__name__}", None)
                if method is not None:
                    return method(expr, **kwargs)
            raise SymbackpropError(f"cannot compile {type(expr).__name__} ({expr}) to "
                                   f"{self.backend.name} code")
        return super()._print(expr, **kwargs)

    def code(self, expr, out: str | None = None) -> str:
        """``expr`` (matrix IR) as code; with ``out``, as a call that writes into that array."""
        try:
            return self._print(expr, out=out) if out else self._print(expr)
        except PrintMethodNotImplementedError as e:
            raise SymbackpropError(f"cannot compile '{expr}' to {self.backend.name} code: {e}") from None

    def writes_into(self, expr) -> bool:
        """Whether :meth:`code` can print ``expr`` (operands atoms) as a call with ``out=``."""
        if self.backend.name != "numpy" or not expr.shape or isinstance(expr, O.PositiveDiv):
            return False
        if isinstance(expr, (IRAdd, IRSub, IRHadamard, IRDiv, IRScale, IRMatMul, IRSoftmax,
                             LogSoftmax)):
            return True
        if isinstance(expr, IRPower):
            return expr.exp.is_Number
        if isinstance(expr, IRSum):
            return expr.axes is not None
        if isinstance(expr, IRApply):
            return self._inplace_function(expr) is not None
        return False

    def _inplace_function(self, e) -> str | None:
        """How ``f(x, out=…)`` is spelled for an elementwise ``f``: a NumPy ufunc or a helper."""
        fx = _applied(e)
        name = type(fx).__name__
        if name in _WRITES_INTO:
            return name
        if isinstance(fx, sp.Function) and len(fx.args) == 1 and name in self.known_functions \
                and self.known_functions[name].startswith("numpy."):
            return name
        return None

    def _ir_operand(self, e, level: int, *, right: bool = False) -> str:
        """``e`` as an operand of an operator binding at ``level``, parenthesised when looser.

        Python groups equal levels left to right, so a right operand at the same level
        (``a - (b - c)``, ``a*(b @ c)``) is parenthesised too."""
        text = self._print(e)
        prec = _ir_precedence(e)
        return f"({text})" if prec < level or (right and prec == level) else text

    def _ir_atom(self, e) -> str:
        return self._ir_operand(e, _ATOM)

    def _ir_call(self, function: str, *args: str, out: str | None = None) -> str:
        return f"{self._np(function)}({', '.join(args + ((f'out={out}',) if out else ()))})"

    def _ir_binary(self, e, op: str, ufunc: str, level: int, out=None):
        if out:
            return self._ir_call(ufunc, self._print(e.a), self._print(e.b), out=out)
        return f"{self._ir_operand(e.a, level)} {op} {self._ir_operand(e.b, level, right=True)}"

    def _print_ir_Var(self, e, out=None):
        return self._settings["identifiers"][e.name]

    def _print_ir_Adj(self, e, out=None):
        return self._settings["adjoints"][e.name]

    def _print_ir_Scalar(self, e, out=None):
        if e.value.is_Integer:  # 1.0 - A: a float operand is the cheaper one for a ufunc
            return repr(float(e.value))
        return self._print(e.value)

    def _print_ir_Add(self, e, out=None):
        if out or not isinstance(e.a, O.Add):
            return self._ir_binary(e, "+", "add", _ADD, out)
        terms = []  # a long sum (a node feeding hundreds of others) without recursion on its length
        while isinstance(e, O.Add):
            terms.append(self._ir_operand(e.b, _ADD, right=True))
            e = e.a
        terms.append(self._ir_operand(e, _ADD))
        return " + ".join(reversed(terms))

    def _print_ir_Sub(self, e, out=None):
        return self._ir_binary(e, "-", "subtract", _ADD, out)

    def _print_ir_Hadamard(self, e, out=None):
        return self._ir_binary(e, "*", "multiply", _MUL, out)

    def _print_ir_Div(self, e, out=None):
        return self._ir_binary(e, "/", "divide", _MUL, out)

    def _print_ir_PositiveDiv(self, e, out=None):
        self.helpers.add("_ratio")  # a / b, 0 where a is 0 (b > 0 but perhaps rounded to 0)
        return f"_ratio({self._print(e.a)}, {self._print(e.b)})"

    def _print_ir_Maximum(self, e, out=None):
        return self._ir_call("maximum", self._print(e.a), self._print(e.b), out=out)

    def _print_ir_Minimum(self, e, out=None):
        return self._ir_call("minimum", self._print(e.a), self._print(e.b), out=out)

    def _print_ir_VarPower(self, e, out=None):
        if out:
            return self._ir_call("power", self._print(e.a), self._print(e.b), out=out)
        # ** groups right to left: the base is parenthesised at the same level, the exponent not
        return f"{self._ir_operand(e.a, _POW, right=True)}**{self._ir_operand(e.b, _POW)}"

    def _print_ir_MatMul(self, e, out=None):
        return self._ir_binary(e, "@", "matmul", _MUL, out)

    def _print_ir_Scale(self, e, out=None):
        c = self._print(e.coeff)
        if PRECEDENCE["Mul"] > precedence(e.coeff):
            c = f"({c})"
        if out:
            if e.coeff == -1:
                return self._ir_call("negative", self._print(e.x), out=out)
            return self._ir_call("multiply", self._print(e.x), c, out=out)
        if e.coeff == -1:
            return f"-{self._ir_operand(e.x, _POW)}"
        return f"{c}*{self._ir_operand(e.x, _MUL, right=True)}"

    def _print_ir_Transpose(self, e, out=None):
        return f"{self._ir_atom(e.x)}.T"

    def _print_ir_Power(self, e, out=None):
        if out:
            if e.exp == 2:
                return self._ir_call("multiply", self._print(e.x), self._print(e.x), out=out)
            return self._ir_call("power", self._print(e.x), self._print(e.exp), out=out)
        exponent = self._print(e.exp)
        if not (e.exp.is_Integer and e.exp >= 0):  # 1/2, -1: an exponent binds tighter than / or -
            exponent = f"({exponent})"
        return f"{self._ir_operand(e.x, _POW, right=True)}**{exponent}"

    def _print_ir_Apply(self, e, out=None):
        fx = _applied(e)
        if out:
            name = self._inplace_function(e)
            if name in _WRITES_INTO:
                return self._print(fx, out=out)
            return self._ir_call(self.known_functions[name].partition(".")[2],
                                 self._print(e.x), out=out)
        return self._print(fx)

    def _print_ir_Prime(self, e, out=None):
        return self._print(O.scalar_derivative(e.func, _Operand(e.x), e.alpha))

    def _print__Operand(self, expr, **kwargs):
        return self._print(expr.ir)

    def _print_ir_Sum(self, e, out=None):
        x = self._ir_atom(e.x)
        if (self._settings["row_sums_by_blas"] and e.axes == (0,) and not e.keepdims
                and len(e.x.shape) == 2 and not out):
            self.helpers.add("_sum_rows")  # a bias's gradient: Σ over the rows
            return f"_sum_rows({self._print(e.x)})"
        if e.axes is None:
            return f"{x}.sum()"
        axis = e.axes[0] if len(e.axes) == 1 else e.axes
        return f"{x}.sum(axis={axis}{', keepdims=True' if e.keepdims else ''}" \
               f"{f', out={out}' if out else ''})"

    def _print_ir_Broadcast(self, e, out=None):
        x = self._print(e.x)
        if e.axes is not None and len(e.x.shape) < len(e.target):
            x = self._ir_call("expand_dims", x, repr(e.axes))
        shape = ", ".join(str(d) if isinstance(d, int) else self._print(dim_symbol(d))
                          for d in e.target)
        return self._ir_call("broadcast_to", x, f"({shape}{',' if len(e.target) == 1 else ''})")

    def _print_ir_FrobSq(self, e, out=None):
        if _ir_precedence(e.x) == _ATOM and not isinstance(e.x, (IRTranspose, IRBroadcast)):
            x = self._print(e.x)
            return self._ir_call("vdot", x, x)  # Σ x², no temporary (a BLAS dot)
        return f"{self._ir_call('square', self._print(e.x))}.sum()"

    def _print_ir_Norm(self, e, out=None):
        return self._ir_call("sqrt", self._print_ir_FrobSq(e))

    def _print_ir_Softmax(self, e, out=None):
        self.helpers.add("_softmax")
        return f"_softmax({self._print(e.x)}{f', out={out}' if out else ''})"

    def _print_ir_LogSoftmax(self, e, out=None):
        self.helpers.add("_log_softmax")
        return f"_log_softmax({self._print(e.x)}{f', out={out}' if out else ''})"


# ---- names -------------------------------------------------------------------
_DECORATED = re.compile(r"\\(hat|bar|tilde|vec|dot|ddot|check|widehat|widetilde|overline)\{([^{}]*)\}")
_WRAPPED = re.compile(r"\\(?:mathbf|boldsymbol|bm|mathsf|mathit|mathrm|mathnormal|text|operatorname)"
                      r"\{([^{}]*)\}")
#: names the generated module uses itself
RESERVED = frozenset({"np", "jnp", "jax", "erf", "numpy", "scipy"})


def python_identifier(name: str) -> str:
    r"""A readable Python identifier for a node name (not yet made unique).

    >>> python_identifier("w_1"), python_identifier("w_1,2"), python_identifier(r"\hat{y}")
    ('w_1', 'w_1_2', 'y_hat')
    >>> python_identifier(r"\lambda"), python_identifier("2x"), python_identifier("_t")
    ('lambda_', 'v_2x', 'v_t')
    """
    if name.isidentifier() and unicodedata.normalize("NFKC", name) == name:
        text = name
    else:
        text = _WRAPPED.sub(r"\1", name)
        text = _DECORATED.sub(lambda m: f"{m.group(2)}_{m.group(1)}", text)
        text = re.sub(r"[^0-9A-Za-z_]+", "_", text)
        text = re.sub(r"_+", "_", text).strip("_") or "v"
    if text[0].isdigit() or text[0] == "_":  # leading underscores are the module's own
        text = "v_" + text.lstrip("_")
    if keyword.iskeyword(text) or text in RESERVED:
        text += "_"
    return text


class Namespace:
    """Unique identifiers; a clash gets trailing underscores (``a`` and ``a_``)."""

    def __init__(self, taken: Iterable[str] = ()):
        self.taken = set(taken)

    def add(self, text: str) -> str:
        while text in self.taken:
            text += "_"
        self.taken.add(text)
        return text


# ---- the module ----------------------------------------------------------------
HELPERS = {
    "_sigmoid": '''
def _sigmoid(z):
    """σ(z) = 1/(1 + e^(-z)), z clipped to ±708 (changes σ by < 4e-308, below the smallest
    normal double): no overflow or underflow."""
    return 1.0 / (1.0 + {np}.exp(-{np}.minimum({np}.maximum(z, -708.0), 708.0)))
''',
    "_softplus": '''
def _softplus(x):
    """log(1 + e^x) = max(x, 0) + log(1 + e^(-|x|)), |x| clipped at 708 in the small term
    (which is then < 4e-308): no overflow or underflow."""
    return {np}.maximum(x, 0.0) + {np}.log1p({np}.exp(-{np}.minimum({np}.abs(x), 708.0)))
''',
    "_ratio": '''
def _ratio(a, b):
    """a / b for a b that is positive but may have rounded to 0 (σ(z), e^z): 0 where a is 0."""
    return {np}.where(a == 0, 0.0, a / {np}.where(a == 0, 1.0, b))
''',
    "_gelu": '''
def _gelu(x):
    """GELU: x Φ(x) = x (1 + erf(x/√2)) / 2."""
    return 0.5 * x * (1.0 + erf(x * 0.7071067811865476))
''',
    "_softmax": '''
def _softmax(z):
    """Softmax of each row, the row maximum subtracted first (no overflow)."""
    e = {np}.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''',
    "_log_softmax": '''
def _log_softmax(z):
    """ln softmax of each row, z − max − ln Σ e^(z − max): finite where softmax underflows to 0."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - {np}.log({np}.exp(shifted).sum(axis=-1, keepdims=True))
''',
    "_sum_rows": '''
def _sum_rows(x):
    """Σ over the rows of a matrix: the gradient of a bias added to every row."""
    return x.sum(axis=0)
''',
    "_expand": '''
def _expand(value, shape):
    """``value`` with the arguments' broadcast ``shape``: an output that not every argument enters."""
    if {np}.shape(value) == shape:
        return value
    return {np}.full(shape, value, dtype={np}.result_type(value, 1.0))
''',
    "_by_identifier": '''
def _by_identifier(arrays):
    """Keyword arguments by Python identifier; a canonical name (``"w_1,2"``) is accepted too."""
    named = {{IDENTIFIERS.get(k, k): v for k, v in arrays.items()}}
    if named.keys() != _IDENTIFIER_SET:
        missing = [k for k, i in IDENTIFIERS.items() if i not in named]
        unknown = sorted(set(named) - _IDENTIFIER_SET)
        raise TypeError(f"loss_and_grad() missing {{missing}} or got unexpected {{unknown}} arguments")
    return named


_IDENTIFIER_SET = frozenset(IDENTIFIERS.values())
''',
}


#: NumPy versions of helpers that can also write into an array ``out`` (which may be the
#: argument itself), so that in-place code allocates nothing; the same values as HELPERS'.
#: Two spellings where NumPy's speeds differ by size (measured, NumPy 2.4): for small
#: arrays the call overhead decides (np.minimum, 0.5 µs), for large ones the pass
#: (np.clip is 3× faster per entry than np.minimum, np.heaviside 18× slower than np.greater).
HELPERS_WITH_OUT = {
    "_constants": '''
_BOUND, _ONE, _ZERO = np.array(708.0), np.array(1.0), np.array(0.0)  # 0-d: cheap ufunc operands
_LARGE = 4096  # entries from which the per-entry speed of a spelling decides, not its call cost
''',
    "_sigmoid": '''
def _sigmoid(z, out=None):
    """σ(z), with no overflow or underflow.

    Without ``out``: 1/(1 + e^(-z)) for z ≥ 0 and e^z/(1 + e^z) below, e^(-|z|) taken as 0
    beyond |z| = 708 (where it is below the smallest normal double). With ``out`` (an array;
    it may be ``z`` itself) σ(z) is written there, with no temporaries, as 1/(1 + e^(-z)) with
    z clipped to ±708 (which changes σ by < 4e-308); small arrays clip only z ≥ -708 (e^(-z)
    of a large z underflows to 0, which loss_and_grad lets it do).
    """
    if out is None:  # exact: e^(-|z|) is 0 where it would be below the smallest normal double
        a = np.abs(z, dtype=np.float64)
        e = np.exp(-a, out=np.zeros_like(a), where=~(a >= 708.0))  # NaN stays NaN
        return np.where(np.greater_equal(z, 0.0), 1.0, e) / (1.0 + e)
    np.negative(z, out=out)
    if out.size >= _LARGE:
        np.clip(out, -708.0, 708.0, out=out)
    else:
        np.minimum(out, _BOUND, out=out)
    np.exp(out, out=out)
    np.add(out, _ONE, out=out)
    return np.divide(_ONE, out, out=out)
''',
    "_sum_rows": '''
_ONES = {}  # vectors of ones by length, for _sum_rows


def _sum_rows(x):
    """Σ over the rows of a matrix: the gradient of a bias added to every row.

    A product with a vector of ones is one BLAS call, many times faster than
    x.sum(axis=0) for the narrow matrices of most layers (measured, NumPy 2.4:
    15 µs against 182 µs for 16384×4); very large wide ones are summed directly.
    """
    if x.size >= 1 << 20 and x.shape[1] >= 128:
        return x.sum(axis=0)
    ones = _ONES.get(x.shape[0])
    if ones is None:
        if len(_ONES) >= 4:
            _ONES.clear()
        ones = _ONES[x.shape[0]] = np.ones(x.shape[0])
    return ones @ x
''',
    "_relu": '''
def _relu(z, out=None):
    """max(z, 0), written into ``out`` when given (it may be ``z`` itself)."""
    if out is not None and out.size >= _LARGE:
        return np.clip(z, 0.0, np.inf, out=out)
    return np.maximum(z, _ZERO, out=out)
''',
    "_step": '''
def _step(z, out=None):
    """𝟙[z > 0] as floats (ReLU's derivative), written into ``out`` when given."""
    if out is not None and out.size >= _LARGE:
        return np.greater(z, _ZERO, out=out)
    return np.heaviside(z, _ZERO, out=out)
''',
    "_softplus": '''
def _softplus(x, out=None):
    """log(1 + e^x) = max(x, 0) + log(1 + e^(-|x|)), e^(-|x|) taken as 0 where it would be
    below the smallest normal double (|x| ≥ 708): no overflow or underflow."""
    a = np.abs(x, dtype=np.float64)
    small = np.log1p(np.exp(-a, out=np.zeros_like(a), where=~(a >= 708.0)))
    if out is None:
        return np.maximum(x, 0.0) + small
    np.maximum(x, _ZERO, out=out)
    return np.add(out, small, out=out)
''',
    "_softmax": '''
def _softmax(z, out=None):
    """Softmax of each row, the row maximum subtracted first (no overflow); ``out`` may be ``z``."""
    out = np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out
''',
    "_log_softmax": '''
def _log_softmax(z, out=None):
    """ln softmax of each row, z − max − ln Σ e^(z − max): finite where softmax underflows to 0."""
    out = np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    out -= np.log(np.exp(out).sum(axis=-1, keepdims=True))
    return out
''',
}
#: helpers whose NumPy version uses the constants
_USES_CONSTANTS = {"_sigmoid", "_relu", "_step", "_softplus"}


def helper_source(names: Iterable[str], backend: str = "numpy") -> str:
    """Source of the module-level helpers ``names`` for ``backend`` (``np`` or ``jnp`` imported)."""
    names = sorted(names)
    if backend == "numpy" and _USES_CONSTANTS & set(names):
        names.insert(0, "_constants")
    parts = []
    for name in names:
        if backend == "numpy" and name in HELPERS_WITH_OUT:
            parts.append(HELPERS_WITH_OUT[name].strip("\n"))
        else:
            parts.append(HELPERS[name].format(np=BACKENDS[backend].alias).strip("\n"))
    return "\n\n\n".join(parts)


def docstring_safe(text: str) -> str:
    """Text that cannot leave a ``\"\"\"`` string: backslashes, quotes and control characters escaped."""
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch != "\n" and not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def tuple_source(names: Iterable[str]) -> str:
    names = list(names)
    return "(" + ", ".join(repr(n) for n in names) + ("," if len(names) == 1 else "") + ")"


class NumpyPrinter:
    """NumPy source of single IR expressions, by :class:`GradientPrinter` (a front end for tests
    and notebooks; the exported modules come from :mod:`symbackprop.codegen.module`).

    ``names`` maps node names to Python identifiers (default :func:`python_identifier`);
    adjoints print as ``d`` + identifier (``dZ_2``); dimension symbols (``m``)
    print as their names, which the surrounding code defines (``m = X.shape[0]``).
    After printing, :attr:`helpers` names the helpers the code calls
    (``_sigmoid``, ``_softmax``, …), whose source :meth:`helper_code` gives.
    """

    def __init__(self, names: Optional[Mapping[str, str]] = None, loss: str = "L"):
        self.names = dict(names or {})
        self.helpers: set[str] = set()

    def ident(self, name: str) -> str:
        return self.names.get(name) or python_identifier(name)

    def doprint(self, e: O.Expr) -> str:
        nodes = {n.name for n in O.walk(e) if isinstance(n, O.Var)}
        adjoints = {n.name for n in O.walk(e) if isinstance(n, O.Adj)}
        identifiers = {s: python_identifier(s) for s in _symbols_in(e)}
        identifiers.update({n: self.ident(n) for n in nodes})
        printer = GradientPrinter({"identifiers": identifiers,
                                   "adjoints": {n: "d" + self.ident(n) for n in adjoints}})
        text = printer.doprint(e)
        self.helpers |= printer.helpers
        return text

    def helper_code(self) -> str:
        """Source defining the helpers the printed code calls (``np`` imported)."""
        erf = [f"from {BACKENDS['numpy'].erf} import erf"] if "erf" in self.helpers else []
        return "\n\n".join(erf + [helper_source(self.helpers - {"erf"})])


def _symbols_in(e: O.Expr) -> set[str]:
    """Names of the SymPy symbols (dimensions such as ``m``) in ``e``'s constants and shapes."""
    names: set[str] = set()
    for n in O.walk(e):
        for f in fields(n):
            v = getattr(n, f.name)
            if isinstance(v, sp.Basic):
                names |= {s.name for s in v.free_symbols}
        if isinstance(n, O.Broadcast):
            names |= {d for d in n.target if isinstance(d, str)}
    return names


def to_numpy(e: O.Expr, names: Optional[Mapping[str, str]] = None) -> str:
    """NumPy source of ``e`` (``names``: node name → Python identifier).

    >>> A1, dZ2 = O.Var("A_1", ("m", "n_1")), O.Adj("Z_2", ("m", "n_2"))
    >>> to_numpy(O.matmul(O.transpose(A1), dZ2))
    'A_1.T @ dZ_2'
    """
    return NumpyPrinter(names).doprint(e)
