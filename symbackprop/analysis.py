r"""The article's 梯度的三个敌人, measured: vanishing and exploding gradients, dead ReLUs.

Small functions on plain gradient dictionaries (parameter name → array), the
form every symbackprop gradient function returns:

* :func:`layer_gradient_norms` — how large each layer's gradient is, layer by layer;
* :func:`sigmoid_bound` — the ``0.25ⁿ`` ceiling on a product of ``n`` sigmoid derivatives;
* :func:`global_norm`, :func:`clip_by_global_norm` — gradient clipping as
  ``torch.nn.utils.clip_grad_norm_`` does it;
* :func:`dead_units` — ReLU units whose local derivative ``𝟙[z > 0]`` is zero on
  every row of a batch, so that no gradient reaches their weights, and
  :func:`local_derivative`, that derivative read from a derivation, and
  :func:`node_values`, the pre-activations of a forward pass;
* :func:`exported_gradient` — ``f(**arrays) -> (loss, {param: gradient})`` for a
  network: its derivation compiled (used by ``examples/``).

>>> grads = {"W_1": np.array([[3.0, 0.0]]), "b_1": np.array([4.0]), "W_2": np.array([[0.5]])}
>>> layer_gradient_norms(grads)
{1: 5.0, 2: 0.5}
>>> clipped, total = clip_by_global_norm(grads, max_norm=1.0)
>>> round(total, 4), round(global_norm(clipped), 12)
(5.0249, 1.0)
"""
from __future__ import annotations

import math
import re
from typing import Callable, Mapping, Sequence

import numpy as np

Gradients = Mapping[str, np.ndarray]

_LAYER = re.compile(r"_\{?(\d+)\}?$")


def layer_of(name: str) -> int:
    """The layer a parameter belongs to: the number its name ends with.

    >>> layer_of("W_3"), layer_of("b_{10}"), layer_of("w_7")
    (3, 10, 7)
    """
    match = _LAYER.search(name)
    if match is None:
        raise ValueError(f"'{name}' does not end with a layer number (W_3, b_3, w_3)")
    return int(match.group(1))


def layer_gradient_norms(grads: Gradients, layer: Callable[[str], int] = layer_of
                         ) -> dict[int, float]:
    r"""The Euclidean norm of each layer's gradients taken together (``W_k`` and ``b_k``).

    Keys are layer numbers in increasing order. Pass a subset of ``grads``
    (only the ``b_k``, say) to measure one kind of parameter.

    >>> layer_gradient_norms({"W_2": np.full((2, 2), 0.5), "W_1": np.array([[1e-3]])})
    {1: 0.001, 2: 1.0}
    """
    squares: dict[int, float] = {}
    for name, g in grads.items():
        k = layer(name)
        squares[k] = squares.get(k, 0.0) + float(np.sum(np.square(g)))
    return {k: math.sqrt(squares[k]) for k in sorted(squares)}


def sigmoid_bound(n: int) -> float:
    r"""The largest value a product of ``n`` sigmoid derivatives can take: ``0.25ⁿ``.

    ``σ'(z) = σ(z)(1 − σ(z))`` is at most ``1/4`` (at ``z = 0``), so a gradient
    that passes through ``n`` sigmoids is scaled by at most ``0.25ⁿ`` (times the
    weights along the way).

    >>> sigmoid_bound(10)
    9.5367431640625e-07
    """
    return 0.25 ** n


def global_norm(grads: Gradients) -> float:
    """The Euclidean norm of all gradients as one long vector.

    >>> global_norm({"a": np.array([3.0]), "b": np.array([[4.0]])})
    5.0
    """
    return math.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values()))


def clip_by_global_norm(grads: Gradients, max_norm: float = 1.0
                        ) -> tuple[dict[str, np.ndarray], float]:
    """Scale every gradient by ``max_norm / total_norm`` when ``total_norm > max_norm``.

    The semantics of ``torch.nn.utils.clip_grad_norm_(params, max_norm)``
    (L2 norm): the direction of the whole gradient is kept, only its length is
    cut to ``max_norm``. Returns new arrays and the norm *before* clipping (as
    torch does); ``grads`` is not modified. (torch divides by
    ``total_norm + 1e-6``, so its clipped norm is short of ``max_norm`` by
    about ``1e-6 · max_norm / total_norm``.)

    >>> clipped, total = clip_by_global_norm({"w": np.array([30.0, 40.0])}, max_norm=1.0)
    >>> total, clipped["w"].tolist()
    (50.0, [0.6, 0.8])
    >>> clip_by_global_norm({"w": np.array([0.3, 0.4])})[0]["w"].tolist()  # short enough: unchanged
    [0.3, 0.4]
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm!r}")
    total = global_norm(grads)
    scale = max_norm / total if total > max_norm else 1.0
    return {name: np.asarray(g, dtype=float) * scale for name, g in grads.items()}, total


def dead_units(pre_activations: np.ndarray,
               derivative: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    r"""Which units are dead on this batch: a boolean mask over the columns.

    ``pre_activations`` is ``Z`` (rows: samples, columns: units) of a layer
    ``A = f(Z)``, and ``derivative`` its local derivative ``∂A/∂Z = f'(Z)``
    elementwise — by default ReLU's, ``𝟙[Z > 0]`` (:func:`local_derivative`
    reads it from a derivation). Since ``∂L/∂Z = ∂L/∂A ⊙ f'(Z)``, a unit whose
    ``f'(z)`` is zero on every row passes no gradient back at all: the column
    of ``∂L/∂W`` and the entry of ``∂L/∂b`` that feed it are exactly zero, and
    gradient descent never changes them.

    >>> Z = np.array([[-1.0, 2.0, -3.0],
    ...               [-0.5, -1.0, 0.0]])
    >>> dead_units(Z).tolist()
    [True, False, True]
    >>> dead_units(Z, lambda z: np.where(z > 0, 1.0, 0.01)).tolist()  # Leaky ReLU: none
    [False, False, False]
    """
    Z = np.asarray(pre_activations, dtype=float)
    slope = Z > 0 if derivative is None else np.asarray(derivative(Z))
    return ~np.any(slope != 0, axis=tuple(range(Z.ndim - 1)))


def local_derivative(derivation, node: str) -> Callable[[np.ndarray], np.ndarray]:
    r"""The elementwise local derivative in ``derivation``'s step for ``node``, as a NumPy function.

    For ``A = f(Z)`` the step of ``Z`` is ``∂L/∂Z = ∂L/∂A ⊙ f'(Z)``; this returns
    ``Z ↦ f'(Z)``, printed from that very step (``𝟙[Z > 0]`` for ReLU).

    >>> import symbackprop as sb
    >>> net = sb.network_from_latex(r'''
    ... Z = X W
    ... A = \mathrm{ReLU}(Z)
    ... L = \sum A''', params=["W"], shapes={"X": ["m", "n"], "W": ["n", "k"]})
    >>> relu_prime = local_derivative(sb.backprop(net), "Z")
    >>> relu_prime(np.array([[-2.0, 0.5]])).tolist()
    [[0.0, 1.0]]
    """
    from symbackprop import ir as O

    step = derivation.step(node)
    primes = [e for t in step.terms for e in O.walk(t.expr)
              if isinstance(e, O.Prime) and e.x == O.Var(node, e.x.shape)]
    if not primes:
        raise ValueError(f"the step of '{node}' has no elementwise local derivative f'({node})")
    prime = primes[0]
    return lambda Z: O.evaluate(prime, {node: Z})


def node_values(network, arrays: Mapping[str, np.ndarray],
                names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    r"""Every node's value on a forward pass of a matrix ``network`` (pre-activations included).

    ``arrays`` holds every leaf (inputs, targets, parameters); nothing is differentiated.
    With ``names``, only those nodes and the nodes they are computed from are evaluated
    (predictions need no loss, and a saturated loss may not be finite).

    >>> import symbackprop as sb
    >>> net = sb.network_from_latex(r'''
    ... Z = X W
    ... A = \mathrm{ReLU}(Z)
    ... L = \sum A''', params=["W"], shapes={"X": ["m", "n"], "W": ["n", "k"]})
    >>> node_values(net, {"X": [[1.0, 2.0]], "W": [[1.0, -1.0], [1.0, -1.0]]})["A"].tolist()
    [[3.0, 0.0]]
    """
    from symbackprop.backprop import forward_values, leaf_arrays

    env, sizes = leaf_arrays(network, arrays)
    forward_values(network, env, sizes, names=names)
    return env


def exported_gradient(network) -> Callable[..., tuple[float, dict[str, np.ndarray]]]:
    """``f(**arrays) -> (loss, {param: gradient})``: the gradient symbackprop exports for ``network``.

    The network's derivation compiled to straight-line NumPy
    (:meth:`Derivation.compile`, scalar or matrix form): derived once, and for a
    matrix network one function serves every batch size.
    """
    from symbackprop import backprop

    return backprop(network).compile()
