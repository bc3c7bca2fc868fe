"""One entry point from a network or a spec to its derivation, scalar or matrix form.

>>> import symbackprop as sb
>>> d = sb.derive("derivations/seed_scalar.toml")
>>> round(d.gradient_value("w_1"), 3), type(d).__name__
(0.116, 'Derivation')
>>> type(sb.derive("derivations/seed_matrix.toml")).__name__
'MatrixDerivation'
"""
from __future__ import annotations

from pathlib import Path

from .backprop import backprop as scalar_backprop
from .derivation import Derivation
from .errors import SymbackpropError
from .matrix import MatrixDerivation, MatrixNetwork
from .matrix import backprop as matrix_backprop
from .spec import Spec, load_spec


def backprop(network, values=None, **options) -> Derivation | MatrixDerivation:
    """Derive every gradient of ``network``'s loss, step by step.

    A :class:`~symbackprop.matrix.MatrixNetwork` (a spec with ``[shapes]``) is
    derived in batched matrix form (:func:`symbackprop.matrix.backprop`), any
    other network by :func:`symbackprop.backprop.backprop`; ``options`` are theirs
    (``digits``, ``mode``, ``learning_rate``, ``lang``).
    """
    if isinstance(network, MatrixNetwork):
        return matrix_backprop(network, values, **options)
    return scalar_backprop(network, values, **options)


def derive(spec: Spec | str | Path, **overrides) -> Derivation | MatrixDerivation:
    """The derivation of a spec (or spec file) with the spec's own settings.

    ``overrides`` replace the spec's ``digits``, ``mode``, ``learning_rate`` or
    ``lang``; ``None`` keeps the spec's.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    options = {"digits": spec.digits, "mode": spec.mode, "learning_rate": spec.learning_rate,
               "lang": spec.lang}
    options.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return backprop(spec.network, spec.values, **options)
    except SymbackpropError as e:  # say which file, as the spec's own errors do
        if spec.path is None or str(e).startswith(str(spec.path)):
            raise
        raise type(e)(f"{spec.path}: {e}") from None
