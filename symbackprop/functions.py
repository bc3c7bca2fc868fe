"""Activation functions as SymPy ``Function`` subclasses.

Each class knows three things, so the rest of the program never special-cases
an activation:

* its derivative, in textbook form (``fdiff``, as SymPy's own functions do),
  written in terms of its input ``x`` *and its output* ``out``: the sigmoid's
  derivative is ``out (1 - out)``, so a worked solution prints
  :math:`a_2(1-a_2)`, not :math:`e^{-z}/(1+e^{-z})^2`;
* its LaTeX form (``\\sigma``, ``\\operatorname{ReLU}``, …);
* its numeric value (``evalf``); its NumPy spelling lives in the code printer
  (:class:`symbackprop.codegen.printer.GradientPrinter`).

>>> import sympy as sp
>>> z = sp.Symbol("z")
>>> sp.diff(sigmoid(z), z)
(1 - sigmoid(z))*sigmoid(z)
>>> sp.diff(relu(z), z)
Heaviside(z, 0)
>>> float(sigmoid(sp.Float(0)))
0.5
"""
from __future__ import annotations

import sympy as sp


class Activation(sp.Function):
    """Common machinery: ``fdiff`` from :meth:`derivative`, evalf via ``closed_form``."""

    nargs = 1
    #: LaTeX spelling of the function name
    latex_name = r"\operatorname{f}"
    #: plain-text spelling
    text_name = "f"

    def fdiff(self, argindex: int = 1):
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        x, *params = self.args
        return self.derivative(x, self, *params)

    @staticmethod
    def derivative(x: sp.Expr, out: sp.Expr, *params) -> sp.Expr:  # pragma: no cover
        """``d out / d x`` in textbook form (``out`` is the application itself)."""
        raise NotImplementedError

    @classmethod
    def closed_form(cls, x: sp.Expr) -> sp.Expr:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return None  # keep unevaluated; evalf gives the number
        return None

    def _eval_evalf(self, prec):
        return self.closed_form(self.args[0])._eval_evalf(prec)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return self.closed_form(x)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        arg = _argument(printer, self.args[0])
        base = rf"{self.latex_name}\left({arg}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


def _argument(printer, x: sp.Expr) -> str:
    """The argument as the printer prints a whole function argument (no parentheses around a
    substituted negative number: σ(-0.731)), or as SymPy's own printer does."""
    return printer.argument(x) if hasattr(printer, "argument") else printer._print(x)


def step(x: sp.Expr) -> sp.Expr:
    r"""The indicator :math:`\mathbb{1}[x > 0]`, zero at the kink as PyTorch does."""
    return sp.Heaviside(x, 0)


class sigmoid(Activation):
    r"""The logistic sigmoid :math:`\sigma(z) = 1/(1+e^{-z})`."""

    latex_name = r"\sigma"
    text_name = "σ"

    @staticmethod
    def derivative(x, out):
        return out * (1 - out)

    @classmethod
    def closed_form(cls, x):
        return 1 / (1 + sp.exp(-x))


class relu(Activation):
    r"""Rectified linear unit :math:`\max(0, z)`; derivative :math:`\mathbb{1}[z>0]`."""

    latex_name = r"\operatorname{ReLU}"
    text_name = "ReLU"

    @staticmethod
    def derivative(x, out):
        return step(x)

    @classmethod
    def closed_form(cls, x):
        return sp.Max(0, x)


class softplus(Activation):
    r"""Softplus :math:`\ln(1 + e^{z})`, whose derivative is :math:`\sigma(z)`."""

    latex_name = r"\operatorname{softplus}"
    text_name = "softplus"

    @staticmethod
    def derivative(x, out):
        return sigmoid(x)

    @classmethod
    def closed_form(cls, x):
        return sp.log(1 + sp.exp(x))


class gelu(Activation):
    r"""Gaussian error linear unit :math:`z\,\Phi(z)` (exact, erf form)."""

    latex_name = r"\operatorname{GELU}"
    text_name = "GELU"

    @staticmethod
    def derivative(x, out):
        return (1 + sp.erf(x / sp.sqrt(2))) / 2 + x * sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)

    @classmethod
    def closed_form(cls, x):
        return x * (1 + sp.erf(x / sp.sqrt(2))) / 2


class ParametrisedActivation(Activation):
    """An activation with a slope parameter as its second argument."""

    nargs = (1, 2)
    default_alpha = sp.Rational(1, 100)

    @classmethod
    def eval(cls, x, alpha=None):
        return None

    def __new__(cls, x, alpha=None, **kwargs):
        if alpha is None:
            alpha = cls.default_alpha
        return super().__new__(cls, x, sp.sympify(alpha), **kwargs)

    @property
    def alpha(self) -> sp.Expr:
        return self.args[1]

    def _eval_evalf(self, prec):
        return self.closed_form(self.args[0], self.alpha)._eval_evalf(prec)

    def _eval_rewrite_as_exp(self, x, alpha, **kwargs):
        return self.closed_form(x, alpha)

    def _latex(self, printer, exp=None):
        arg = _argument(printer, self.args[0])
        if self.alpha != self.default_alpha:
            arg = f"{arg};\\ {printer._print(self.alpha)}"
        base = rf"{self.latex_name}\left({arg}\right)"
        return base if exp is None else rf"{base}^{{{exp}}}"


class leaky_relu(ParametrisedActivation):
    r"""Leaky ReLU: :math:`z` for :math:`z > 0`, else :math:`\alpha z` (default 0.01)."""

    latex_name = r"\operatorname{LeakyReLU}"
    text_name = "LeakyReLU"

    @staticmethod
    def derivative(x, out, alpha):
        return sp.Piecewise((1, x > 0), (alpha, True))

    @classmethod
    def closed_form(cls, x, alpha=None):
        alpha = cls.default_alpha if alpha is None else alpha
        return sp.Piecewise((x, x > 0), (alpha * x, True))


class elu(ParametrisedActivation):
    r"""ELU: :math:`z` for :math:`z > 0`, else :math:`\alpha(e^{z}-1)` (default 1)."""

    latex_name = r"\operatorname{ELU}"
    text_name = "ELU"
    default_alpha = sp.Integer(1)

    @staticmethod
    def derivative(x, out, alpha):
        return sp.Piecewise((1, x > 0), (out + alpha, True))

    @classmethod
    def closed_form(cls, x, alpha=None):
        alpha = cls.default_alpha if alpha is None else alpha
        return sp.Piecewise((x, x > 0), (alpha * (sp.exp(x) - 1), True))


#: Activations by the names the LaTeX reader accepts (``\mathrm{…}``/``\operatorname{…}``).
ACTIVATIONS: dict[str, type[sp.Function]] = {
    "sigma": sigmoid,
    "sigmoid": sigmoid,
    "relu": relu,
    "leakyrelu": leaky_relu,
    "leaky_relu": leaky_relu,
    "lrelu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "softplus": softplus,
    "tanh": sp.tanh,
}


#: every elementwise function by the name the IR and the evaluator use
ELEMENTWISE: dict[str, type | object] = {
    **{cls.__name__: cls for cls in ACTIVATIONS.values() if cls is not sp.tanh},
    "tanh": sp.tanh, "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "sinh": sp.sinh, "cosh": sp.cosh,
    "erf": sp.erf, "sign": sp.sign,
    "step": lambda x, evaluate=True: step(x),
}
_NAMES = {v: k for k, v in ELEMENTWISE.items() if isinstance(v, type)}
_NAMES[sp.Heaviside] = "step"


def elementwise(name: str):
    """The SymPy function behind the elementwise function ``name`` (``"sigmoid"`` → :class:`sigmoid`)."""
    try:
        return ELEMENTWISE[name]
    except KeyError:
        from symbackprop.errors import SymbackpropError

        raise SymbackpropError(f"'{name}' is not an elementwise function") from None


def function_name(application: sp.Expr) -> str:
    """The elementwise name of a SymPy function application (``sigmoid(z)`` → ``"sigmoid"``)."""
    try:
        return _NAMES[type(application)]
    except KeyError:
        from symbackprop.errors import SymbackpropError

        raise SymbackpropError(f"'{type(application).__name__}' is not an elementwise function") from None
