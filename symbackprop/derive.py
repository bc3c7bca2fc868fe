"""One entry point from a spec to its derivation, scalar or matrix form alike.

>>> import symbackprop as sb
>>> d = sb.derive("derivations/seed_scalar.toml")
>>> round(d.gradient_value("w_1"), 3), d.is_scalar
(0.116, True)
>>> sb.derive("derivations/seed_matrix.toml").is_scalar
False
"""
from __future__ import annotations

from pathlib import Path

from symbackprop.backprop import backprop
from symbackprop.derivation import Derivation
from symbackprop.errors import SymbackpropError
from symbackprop.spec import Spec


def derive(spec: Spec | str | Path, **overrides) -> Derivation:
    """The derivation of a spec with the spec's own settings.

    ``spec`` is a :class:`Spec`, a spec file's path, TOML text, or the name of a
    bundled example (``"seed_scalar"``; ``symbackprop examples`` lists them).

    ``overrides`` replace the spec's ``digits``, ``mode``, ``learning_rate`` or
    ``lang``; ``None`` keeps the spec's.
    """
    from symbackprop.bundled import read_spec

    spec = read_spec(spec)
    options = {"digits": spec.digits, "mode": spec.mode, "learning_rate": spec.learning_rate,
               "lang": spec.lang}
    options.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return backprop(spec.network, spec.values, **options)
    except SymbackpropError as e:  # say which file, as the spec's own errors do
        if spec.path is None or str(e).startswith(str(spec.path)):
            raise
        raise type(e)(f"{spec.path}: {e}") from None
