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
from .derivation import AdjointSymbol, Derivation
from .derive import backprop, derive
from .errors import LatexSyntaxError, ShapeError, SpecError, SymbackpropError
from .matrix import MatrixDerivation, MatrixNetwork
from .network import Network
from .spec import Spec, load_spec, network_from_latex
from .verification import verify

__all__ = [
    "AdjointSymbol", "Derivation", "LatexSyntaxError", "MatrixDerivation", "MatrixNetwork", "Network",
    "ShapeError", "Spec",
    "SpecError", "SymbackpropError", "backprop", "derive", "load_spec", "network_from_latex", "verify",
]
__version__ = "0.1.0"
