r"""Printers of the matrix IR: LaTeX and plain text here, NumPy by the project's code printer.

As in SymPy, a printer's ``_print`` calls ``_print_<Class>`` for the node's
class; every method returns the text and its precedence, and operands of a
tighter operation are parenthesised. Presentation choices are settings
(``names``: node name → LaTeX or Python spelling; ``loss``: the loss's name).
NumPy code comes from the code printer,
:class:`symbackprop.codegen.printer.GradientPrinter`.

>>> from symbackprop.ir import Var, Adj, matmul, transpose, hadamard, scale, sub, Prime
>>> A1, dZ2 = Var("A_1", ("m", "n_1")), Adj("Z_2", ("m", "n_2"))
>>> to_latex(matmul(transpose(A1), dZ2))
'A_{1}^{\\top} \\frac{\\partial L}{\\partial Z_{2}}'
>>> to_text(matmul(transpose(A1), dZ2))
'A_1ᵀ · ∂L/∂Z_2'
>>> A2, Y, Z2 = Var("A_2", ("m", "k")), Var("Y", ("m", "k")), Var("Z_2", ("m", "k"))
>>> import sympy as sp
>>> to_latex(hadamard(scale(2 / sp.Symbol("m"), sub(A2, Y)), Prime("sigmoid", Z2)))
"\\frac{2}{m} \\left(A_{2} - Y\\right) \\odot \\sigma'\\left(Z_{2}\\right)"
"""
from __future__ import annotations

from typing import Mapping, Optional

import sympy as sp

from symbackprop.printing.names import text_name
from symbackprop.reader.latex import latex_name
from symbackprop.printing.sympy import partial_latex
from symbackprop import ir as O
from symbackprop.shapes import dim_latex

ADD, HAD, SUM, NEG, MUL, POSTFIX, FRAC, ATOM = 10, 30, 40, 45, 50, 90, 95, 100


class _Base:
    def __init__(self, names: Optional[Mapping[str, str]] = None, loss: str = "L"):
        self.names = names or {}
        self.loss = loss

    def doprint(self, e: O.Expr) -> str:
        return self._print(e)[0]

    def _print(self, e: O.Expr) -> tuple[str, int]:
        for cls in type(e).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                return method(e)
        raise TypeError(f"{type(self).__name__} cannot print {type(e).__name__}")

    def operand(self, e: O.Expr, at_least: int, *, left: bool = False) -> str:
        """``e`` printed as an operand, in parentheses when it binds looser than ``at_least``."""
        text, prec = self._print(e)
        if not left and text.startswith("-") and prec != NEG:  # a·(-b), never a -b
            return self.paren(text)
        if prec == SUM:  # \sum takes all that follows it: fine last, or before a '+'
            loose = left and at_least > ADD
        elif prec == NEG:  # '-c X' leads a product well, but never follows an operator
            loose = not left or at_least > MUL
        else:
            loose = prec < at_least
        return self.paren(text) if loose else text


# ---- LaTeX and plain text: one printer, two spellings ----------------------
_LATEX_FUNCS = {"tanh": r"\tanh", "exp": r"\exp", "log": r"\ln", "sin": r"\sin", "cos": r"\cos",
                "tan": r"\tan", "sinh": r"\sinh", "cosh": r"\cosh", "max": r"\max", "min": r"\min",
                "erf": r"\operatorname{erf}", "sign": r"\operatorname{sign}"}


def function_latex(func: str) -> str:
    """``\\sigma``, ``\\tanh``, ``\\operatorname{ReLU}``, ``\\ln``, … for an elementwise ``func``."""
    if func in _LATEX_FUNCS:
        return _LATEX_FUNCS[func]
    cls = O.scalar_function(func)
    return getattr(cls, "latex_name", rf"\operatorname{{{func}}}")


def function_text(func: str) -> str:
    if func == "log":
        return "ln"
    if func in ("max", "min"):
        return func
    cls = O.scalar_function(func)
    return getattr(cls, "text_name", func)


class LatexPrinter(_Base):
    """LaTeX in the matrix dialect that :func:`~symbackprop.reader.lower.lower` reads back.

    The spellings below are what :class:`TextPrinter` changes; the structure
    (precedence, parentheses) is shared.
    """

    odot, product, ones, squared = r"\odot", " ", r"\mathbf{1}", "^{2}"
    scalar_product = " "

    def scalar_power(self, x: str, k: str) -> str:
        return f"{x}^{{{k}}}"

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def coeff(self, c: sp.Expr) -> str:
        return sp.latex(c).replace("- ", "-")

    def scaled(self, c: str, text: str) -> str:
        return f"{c} {text}"

    def call(self, head: str, args: str) -> str:
        return rf"{head}\left({args}\right)"

    def head(self, func: str) -> str:
        return rf"\operatorname{{{func}}}" if func in ("rowsum", "softmax") else function_latex(func)

    def root(self, x: str) -> str:
        return rf"\sqrt{{{x}}}"

    def step(self, x: str) -> str:
        return rf"\mathbb{{1}}\left[{x} > 0\right]"

    def norm(self, x: str) -> str:
        return rf"\left\|{x}\right\|"

    def transposed(self, x: str) -> str:
        return f"{x}^{{\\top}}"

    def hadamard_power(self, x: str, k: str) -> str:
        return f"{x}^{{\\odot {k}}}"

    def sum_all(self, x: str) -> str:
        return rf"\sum {x}"

    def sum_rows(self, rows, x: str) -> str:
        return rf"\sum_{{i=1}}^{{{dim_latex(rows)}}} {x}"

    def sum_axes(self, axes, x: str) -> str:
        return rf"\sum_{{\text{{axes }} {axes}}} {x}"

    def _print_Var(self, e):
        return self.names.get(e.name) or latex_name(e.name), ATOM

    def _print_Adj(self, e):
        return partial_latex(e.of, e.name, self.names), FRAC

    def _print_Scalar(self, e):
        v = e.value
        if v.could_extract_minus_sign():
            return self.coeff(v), NEG
        return self.coeff(v), ADD if v.is_Add else ATOM

    def _print_Add(self, e):
        terms = []  # a long sum without recursion on its length (a node feeding hundreds of others)
        while isinstance(e.a, O.Add):
            terms.append(self.operand(e.b, ADD))
            e = e.a
        terms += [self.operand(e.b, ADD), self.operand(e.a, ADD, left=True)]
        return " + ".join(reversed(terms)), ADD

    def _print_Sub(self, e):
        return f"{self.operand(e.a, ADD, left=True)} - {self.operand(e.b, ADD + 1)}", ADD

    def _print_Scale(self, e):
        text, prec = self._print(e.x)
        if prec < MUL and prec != SUM:
            text = self.paren(text)
        if e.coeff == -1:
            return f"-{text}", NEG
        return self.scaled(self.coeff(e.coeff), text), NEG if e.coeff.could_extract_minus_sign() else MUL

    def _print_Hadamard(self, e):
        if e.shape == ():  # numbers: an ordinary product
            return f"{self.operand(e.a, MUL, left=True)}{self.scalar_product}{self.operand(e.b, MUL)}", MUL
        return f"{self.operand(e.a, HAD, left=True)} {self.odot} {self.operand(e.b, HAD)}", HAD

    def _print_Div(self, e):
        return rf"\frac{{{self.doprint(e.a)}}}{{{self.doprint(e.b)}}}", FRAC

    def _print_MatMul(self, e):
        return f"{self.operand(e.a, MUL, left=True)}{self.product}{self.operand(e.b, MUL)}", MUL

    def _print_Transpose(self, e):
        return self.transposed(self.operand(e.x, ATOM)), POSTFIX

    def _args(self, e) -> str:
        x = self.doprint(e.x)
        return x if e.alpha is None else f"{x}, {self.coeff(e.alpha)}"

    def _print_Apply(self, e):
        if e.func == "step":
            return self.step(self.doprint(e.x)), ATOM
        if e.func == "sqrt":
            return self.root(self.doprint(e.x)), ATOM
        if e.func == "abs":
            return f"|{self.doprint(e.x)}|", ATOM
        return self.call(self.head(e.func), self._args(e)), ATOM

    def _print_Maximum(self, e):
        return self.call(self.head("max"), f"{self.doprint(e.a)}, {self.doprint(e.b)}"), ATOM

    def _print_Minimum(self, e):
        return self.call(self.head("min"), f"{self.doprint(e.a)}, {self.doprint(e.b)}"), ATOM

    def _print_VarPower(self, e):
        return self.scalar_power(self.operand(e.a, POSTFIX + 1), self.doprint(e.b)), POSTFIX

    prime = "'"  #: LaTeX's prime; plain text writes the Unicode prime ′

    def _print_Prime(self, e):
        return self.call(self.head(e.func) + self.prime, self._args(e)), ATOM

    def _print_Power(self, e):
        k = e.exp
        if e.shape == ():  # a number's power
            return self.scalar_power(self.operand(e.x, POSTFIX + 1), self.coeff(k)), POSTFIX
        if k.is_Integer and 2 <= k <= 3:
            return f" {self.odot} ".join([self.operand(e.x, HAD + 1)] * int(k)), HAD
        return self.hadamard_power(self.operand(e.x, ATOM), self.coeff(k)), POSTFIX

    def _print_Sum(self, e):
        x = self.operand(e.x, HAD)
        if e.axes is None:
            return self.sum_all(x), SUM
        if e.axes == (0,):
            return self.sum_rows(e.x.shape[0], x), SUM
        if e.axes == (len(e.x.shape) - 1,):
            return self.call(self.head("rowsum"), self.doprint(e.x)), ATOM
        return self.sum_axes(e.axes, x), SUM

    def _print_Broadcast(self, e):
        if isinstance(e.x, O.Scalar) and e.x.value == 1:
            return self.ones, ATOM
        return f"{self.operand(e.x, MUL, left=True)} {self.ones}", MUL

    def _print_FrobSq(self, e):
        return self.norm(self.doprint(e.x)) + self.squared, POSTFIX

    def _print_Norm(self, e):
        return self.norm(self.doprint(e.x)), ATOM

    def _print_Softmax(self, e):
        return self.call(self.head("softmax"), self.doprint(e.x)), ATOM

    def _print_LogSoftmax(self, e):
        return self.call(self.head("log"), self._print_Softmax(e)[0]), ATOM


class TextPrinter(LatexPrinter):
    """Unicode for terminals: ``A_1ᵀ · ∂L/∂Z_2``, ``(2/m)(A_2 - Y) ⊙ σ′(Z_2)``."""

    prime = "′"

    odot, product, ones, squared = "⊙", " · ", "𝟏", "²"
    scalar_product = "·"

    def scalar_power(self, x: str, k: str) -> str:
        return f"{x}^{k}" if len(k) == 1 else f"{x}^({k})"

    def paren(self, text: str) -> str:
        return f"({text})"

    def coeff(self, c: sp.Expr) -> str:
        text = str(c).replace("**", "^").replace("*", "·")
        if c.is_Integer or c.is_Symbol:
            return text
        if c.could_extract_minus_sign():
            return text if (-c).is_Integer else f"-({str(-c)})"
        return f"({text})"

    def scaled(self, c: str, text: str) -> str:
        return f"{c}{'' if text.startswith('(') and c.endswith(')') else ' '}{text}"

    def call(self, head: str, args: str) -> str:
        return f"{head}({args})"

    def head(self, func: str) -> str:
        return func if func in ("rowsum", "softmax") else function_text(func)

    def root(self, x: str) -> str:
        return f"sqrt({x})"

    def step(self, x: str) -> str:
        return f"1[{x} > 0]"

    def norm(self, x: str) -> str:
        return f"‖{x}‖"

    def transposed(self, x: str) -> str:
        return f"{x}ᵀ"

    def hadamard_power(self, x: str, k: str) -> str:
        return f"{x}^(⊙{k})"

    def sum_all(self, x: str) -> str:
        return f"Σ {x}"

    def sum_rows(self, rows, x: str) -> str:
        return f"Σ_(i=1..{rows}) {x}"

    def sum_axes(self, axes, x: str) -> str:
        return f"Σ_axes{axes} {x}"

    def _print_Var(self, e):
        return text_name(e.name), ATOM

    def _print_Adj(self, e):
        return f"∂{text_name(e.of)}/∂{text_name(e.name)}", ATOM

    def _print_Div(self, e):
        return f"{self.operand(e.a, MUL, left=True)} / {self.operand(e.b, MUL + 1)}", MUL


def to_latex(e: O.Expr, names: Optional[Mapping[str, str]] = None, loss: str = "L") -> str:
    """LaTeX of ``e`` (``names``: node name → LaTeX; default ``W_1`` → ``W_{1}``)."""
    return LatexPrinter(names, loss).doprint(e)


def to_text(e: O.Expr, loss: str = "L") -> str:
    """Plain-text form of ``e``."""
    return TextPrinter(None, loss).doprint(e)
