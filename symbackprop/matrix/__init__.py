r"""Batched matrix form: networks with shapes, derived by vector-Jacobian rules.

The forward pass is written as the article's 矩阵形式 writes it::

    Z_1 = X W_1 + b_1
    A_1 = \sigma(Z_1)
    Z_2 = A_1 W_2 + b_2
    A_2 = \sigma(Z_2)
    L = \frac{1}{m}\|A_2 - Y\|^2

with ``[shapes]`` such as ``X = ["m", "n_in"]``, ``b_1 = ["n_1"]``, and the
derivation gives ``∂L/∂W_2 = A_1ᵀ ∂L/∂Z_2 ∈ ℝ^{n_1×n_2}`` and the rest, each
with its shape check.

For other parts of symbackprop:

* :func:`network_from_latex` / :class:`MatrixNetwork` — the network (``.shapes``, ``.dims``);
* :func:`backprop` → :class:`MatrixDerivation` — the worked solution (``.gradient(p)``,
  ``.textbook(v)``, ``.gradient_value(p)``, ``.to_json()``), and ``.compile()``:
  ``loss_and_grad(**arrays) -> (loss, {param: gradient})`` for any batch, the
  standalone NumPy/JAX module of :mod:`.codegen`;
* :func:`loss_and_gradients`, :func:`gradient_function` — numbers only, for any arrays;
  the pieces they are made of, :func:`derive_steps`, and in :mod:`.backprop`
  ``leaf_arrays`` (values checked against shapes → arrays and dimension sizes),
  ``forward_values`` and ``backward_values``;
* :func:`lower` — a matrix-dialect LaTeX tree to the IR, given node shapes;
* :mod:`.ops` — the IR (walk ``.children``; each node has ``.shape``),
  :func:`evaluate` its value; :mod:`.printing` — LaTeX, text and NumPy printers
  (``NumpyPrinter.helpers`` and ``helper_source`` for the helpers printed code calls;
  NumPy code is printed by :class:`symbackprop.codegen.GradientPrinter`).
"""
from .backprop import backprop, derive_steps, gradient_function, loss_and_gradients
from .derivation import MatrixDerivation, MatrixStep, VJPTerm
from .lower import lower
from .network import MatrixNetwork, MatrixNode, network_from_latex
from .ops import evaluate
from .printing import to_latex, to_numpy, to_text
from .shapes import Sizes

__all__ = [
    "MatrixDerivation", "MatrixNetwork", "MatrixNode", "MatrixStep", "Sizes", "VJPTerm",
    "backprop", "derive_steps", "evaluate", "gradient_function", "loss_and_gradients", "lower",
    "network_from_latex", "to_latex", "to_numpy", "to_text",
]
