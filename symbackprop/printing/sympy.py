"""The one LaTeX printer: SymPy's dispatch with symbackprop's names and numbers.

Node symbols print with their LaTeX spelling; adjoints as
:math:`\\frac{\\partial L}{\\partial v}`; with ``values`` every symbol prints as
its number instead (the "numbers substituted" line of a worked step).

>>> import sympy as sp
>>> from symbackprop.derivation import AdjointSymbol
>>> a = sp.Symbol("a_2", real=True)
>>> sympy_latex(a * (1 - a))
'a_{2} \\\\left(1 - a_{2}\\\\right)'
>>> sympy_latex(a * (1 - a), values={"a_2": 0.325})
'0.325 \\\\times \\\\left(1 - 0.325\\\\right)'
>>> sympy_latex(AdjointSymbol("z_2"))
'\\\\frac{\\\\partial L}{\\\\partial z_{2}}'
"""
from __future__ import annotations

from typing import Mapping

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from symbackprop.printing.names import text_name
from symbackprop.reader.latex import latex_name


def _split_base(name: str) -> str:
    """The base of a canonical name, without subscript or script (``apple_price`` → ``apple``)."""
    base = name.split("_", 1)[0].split("^", 1)[0]
    return "" if base.startswith("\\") else base
from symbackprop.printing.numbers import fmt, short_float


class SympyLatexPrinter(LatexPrinter):
    """LaTeX for symbackprop expressions (settings: ``values``, ``digits``, ``loss``, ``names``)."""

    _default_settings = {
        **LatexPrinter._default_settings,
        "values": None,
        "digits": 3,
        "loss": "L",
        "names": None,
    }

    def _name(self, name: str) -> str:
        names = self._settings["names"] or {}
        return names.get(name) or latex_name(name)

    def _print_Symbol(self, expr, style="plain"):
        values = self._settings["values"]
        if values is not None and expr.name in values:
            return self._number(values[expr.name])
        return self._name(expr.name)

    #: printing a function's argument: a substituted number needs no parentheses, σ(-0.731)
    bare_numbers = False

    def argument(self, expr) -> str:
        """``expr`` as the whole argument of a function (``σ(-0.731)``, not ``σ((-0.731))``)."""
        self.bare_numbers, before = expr.is_Symbol, self.bare_numbers
        try:
            return self._print(expr)
        finally:
            self.bare_numbers = before

    def _number(self, value) -> str:
        text = value if isinstance(value, str) else fmt(value, self._settings["digits"])
        return rf"\left({text}\right)" if text.startswith("-") and not self.bare_numbers else text

    def _print_Mul(self, expr, **kwargs):
        # words side by side read as one word (苹果 苹果的个数): a product of word names gets a ·
        words = [a for a in expr.args if a.is_Symbol and not hasattr(a, "node")  # not an adjoint
                 and len(_split_base(a.name)) > 1]
        if not words or self._settings["values"] is not None:
            return super()._print_Mul(expr, **kwargs)
        before = self._settings["mul_symbol_latex"]
        self._settings["mul_symbol_latex"] = r" \cdot "
        try:
            return super()._print_Mul(expr, **kwargs)
        finally:
            self._settings["mul_symbol_latex"] = before

    def _print_AdjointSymbol(self, expr):
        values = self._settings["values"]
        key = expr.key
        if values is not None and key in values:
            return self._number(values[key])
        return partial_latex(expr.loss, expr.node, self._settings["names"])

    def _print_log(self, expr, exp=None):
        r"""The natural logarithm as textbooks write it: ``\ln a``, ``\ln\left(1 - a\right)``."""
        arg = expr.args[0]
        inner = self._print(arg)
        text = rf"\ln {inner}" if arg.is_Symbol and not inner.startswith(r"\left(") \
            else rf"\ln\left({inner}\right)"
        return text if exp is None else rf"\left({text}\right)^{{{exp}}}"

    def _print_Heaviside(self, expr, exp=None):
        arg = self._print(expr.args[0])
        return rf"\mathbb{{1}}\left[{arg} > 0\right]"

    def _print_Float(self, expr):
        # decimals as written in the spec ("0.5"), not SymPy's 15 digits
        return fmt(float(expr), self._settings["digits"]) if self._settings["values"] is not None \
            else short_float(float(expr))


def partial_latex(of: str, wrt: str, names: Mapping[str, str] | None = None) -> str:
    r"""``\frac{\partial of}{\partial wrt}`` with LaTeX names."""
    names = names or {}
    a = names.get(of) or latex_name(of)
    b = names.get(wrt) or latex_name(wrt)
    return rf"\frac{{\partial {a}}}{{\partial {b}}}"


def sympy_latex(expr: sp.Expr, *, values: Mapping[str, float] | None = None, digits: int = 3,
             loss: str = "L", names: Mapping[str, str] | None = None, order: str | None = None) -> str:
    """Print ``expr``; with ``values`` the symbols become numbers joined by ``\\times``."""
    settings = {"values": values, "digits": digits, "loss": loss, "names": names}
    if values is not None:
        settings["mul_symbol"] = "times"
    if order is not None:
        settings["order"] = order
    return SympyLatexPrinter(settings).doprint(expr)


class SympyTextPrinter(StrPrinter):
    """Plain-text twin of :class:`Printer` for terminals (``∂L/∂z_2``, ``σ(z)``, ``×``)."""

    _default_settings = {**StrPrinter._default_settings, "values": None, "digits": 3, "loss": "L"}

    bare_numbers = False
    argument = SympyLatexPrinter.argument

    def _number(self, value) -> str:
        text = value if isinstance(value, str) else fmt(value, self._settings["digits"], latex=False)
        return f"({text})" if text.startswith("-") and not self.bare_numbers else text

    def _print_Symbol(self, expr):
        values = self._settings["values"]
        if values is not None and expr.name in values:
            return self._number(values[expr.name])
        return text_name(expr.name)

    def _print_AdjointSymbol(self, expr):
        values = self._settings["values"]
        if values is not None and expr.key in values:
            return self._number(values[expr.key])
        return f"∂{text_name(expr.loss)}/∂{text_name(expr.node)}"

    def _print_Heaviside(self, expr):
        return f"1[{self._print(expr.args[0])} > 0]"

    def _print_Abs(self, expr):
        return f"|{self._print(expr.args[0])}|"

    def _print_Function(self, expr):
        if hasattr(expr, "text_name"):  # activations: σ(z), ReLU(z), σ(-0.731)
            return f"{expr.text_name}({self.argument(expr.args[0])})"
        return super()._print_Function(expr)

    def _print_Float(self, expr):
        return short_float(float(expr))

    def _print_Piecewise(self, expr):
        pieces = [f"{self._print(e)} if {self._print(c)}" for e, c in expr.args[:-1]]
        last_e, last_c = expr.args[-1]
        last = self._print(last_e) if last_c == sp.true else f"{self._print(last_e)} if {self._print(last_c)}"
        return "(" + " else ".join(pieces + [last]) + ")"

    def _print_Mul(self, expr):
        text = super()._print_Mul(expr)
        return text.replace("*", " × " if self._settings["values"] is not None else "·")

    def _print_Pow(self, expr, rational=False):
        return super()._print_Pow(expr, rational).replace("**", "^")


def sympy_text(expr: sp.Expr, *, values: Mapping[str, float] | None = None, digits: int = 3,
            loss: str = "L", order: str | None = None) -> str:
    """Plain-text form of ``expr`` (same options as :func:`to_latex`)."""
    settings = {"values": values, "digits": digits, "loss": loss}
    if order is not None:
        settings["order"] = order
    return SympyTextPrinter(settings).doprint(expr)
