"""symbackprop: the symbolic-derivation companion to backpropagation.

Write a network the way a textbook does and get every gradient derived by the
chain rule, step by step:

>>> import symbackprop as sb
>>> net = sb.network_from_latex(r'''
... z_1 = w_1 x
... a_1 = \\sigma(z_1)
... L = (a_1 - y)^2''', params=["w_1"])
>>> d = sb.backprop(net, {"w_1": 0.5, "x": 2.0, "y": 1.0})
>>> round(d.gradient_value("w_1"), 4)
-0.2115
"""
from symbackprop.backprop import backprop
from symbackprop.derivation import Derivation
from symbackprop.derive import derive
from symbackprop.errors import LatexSyntaxError, ShapeError, SpecError, SymbackpropError
from symbackprop.network import Network
from symbackprop.reader.forward import network_from_latex
from symbackprop.spec import Spec, load_spec
from symbackprop.sympy_form import AdjointSymbol
from symbackprop.verification import grade, verify

__all__ = [
    "AdjointSymbol", "Derivation", "LatexSyntaxError", "Network", "ShapeError", "Spec",
    "SpecError", "SymbackpropError", "backprop", "derive", "grade", "load_spec",
    "network_from_latex", "verify",
]
__version__ = "0.1.0"
