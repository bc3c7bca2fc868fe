r"""Checking hand derivations: LaTeX claims → verdict, with a diagnosis of the first wrong step.

>>> import symbackprop as sb
>>> spec = sb.load_spec("derivations/seed_scalar.toml")
>>> r = sb.verify(spec, r"\frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2}")
>>> r.verdict, r.diagnosis.kind
('incorrect', 'missing_factor')
>>> print(r.diagnosis.message)
missing factor a_2·(1 - a_2) = ∂a_2/∂z_2
>>> sb.verify(spec, r"dL/dw_1 = 0.116").verdict
'correct'

A claim names its target on the left: the loss's gradient
(``\frac{\partial L}{\partial w_1}``, ``\partial L / \partial w_1``,
``\frac{dL}{dw_1}``, ``dL/dw_1``), a local derivative of a node by one of its
inputs (``\frac{\partial a_2}{\partial z_2}``), or a node (``z_1``). The right
side may use node names, other partials (which stand for their true values),
activations (``\sigma(z_2)``, ``\sigma'(z_2)``, ``\tanh``) and numbers. A
claims text holds a worked solution: one claim per line or ``align`` rows, a
chain ``a = b = c`` checking each part against ``a``; see :mod:`.claims`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Union

from symbackprop.derivation import Derivation
from symbackprop.errors import SymbackpropError
from symbackprop.network import Network
from symbackprop.render.phrases import LANGS
from symbackprop.spec import Spec
from symbackprop.verification.claims import Claim, read_claims
from symbackprop.verification.grade import ClassReport, grade
from symbackprop.verification.judge import Judge
from symbackprop.verification.report import KINDS, Diagnosis, Report, Verdict
from symbackprop.verification.truth import READINGS, Target, Truth

__all__ = ["ClassReport", "Claim", "Diagnosis", "KINDS", "READINGS", "Report", "Target", "Verdict",
           "Verifier", "grade", "read_claims", "verify"]

Checkable = Union[Network, Spec, Derivation, str, Path]


class Verifier:
    """Checks claims against one network; reuse it for many claims (the truth is cached).

    ``values`` (leaf → number or nested lists) are the given values; by
    default the spec's ``[values]``. ``reading`` is what a claim must satisfy
    to be correct: ``"given"`` (at the given values, the default: what a
    worked solution claims), ``"inputs"`` (for any parameters, the given
    inputs and targets kept) or ``"general"`` (for any values and sizes).
    ``seed`` fixes the random comparison points; ``points`` is how many.
    """

    def __init__(self, network_or_spec: Checkable, *, values=None, lang: str | None = None,
                 seed: int = 0, points: int = 6, reading: str = "given"):
        network, spec_values, spec_lang = _network(network_or_spec)
        self.lang = lang or spec_lang or "en"
        if self.lang not in LANGS:
            raise SymbackpropError(f"unknown language '{self.lang}'; use one of {', '.join(LANGS)}")
        values = values if values is not None else spec_values
        self.truth = Truth(network, values, seed=seed, points=points)
        self.judge = Judge(self.truth, lang=self.lang, reading=reading)

    def check(self, claim: Claim) -> Verdict:
        return self.judge(claim)

    def verify(self, claims: str | Iterable[str]) -> Report:
        return Report([self.judge(c) for c in read_claims(claims)], self.lang)


def verify(network_or_spec: Checkable, claims: str | Iterable[str], *, values=None,
           lang: str | None = None, seed: int = 0, points: int = 6, reading: str = "given") -> Report:
    r"""Check a claim, or a worked solution of claims, against a network.

    ``network_or_spec`` is a :class:`Network`, a loaded :class:`Spec`, a
    :class:`Derivation` or the path of a spec file; ``claims`` is one claim,
    a claims text (lines, ``align`` rows, chains) or a list of them. Returns
    a :class:`Report`: ``.verdict`` ("correct", "incorrect", "error"),
    ``.first_wrong``, ``.diagnosis`` (of the first wrong step), one
    :class:`Verdict` per claim, ``.to_json()``, ``.to_text()``. A claim that
    cannot be read is an ``"error"`` verdict whose message points at the
    column; it never raises.
    """
    return Verifier(network_or_spec, values=values, lang=lang, seed=seed, points=points,
                    reading=reading).verify(claims)


def _network(obj: Checkable):
    if isinstance(obj, (str, Path)):
        from symbackprop.bundled import read_spec

        obj = read_spec(obj)
    if isinstance(obj, Spec):
        return obj.network, obj.values, obj.lang
    if isinstance(obj, Derivation):
        values = None
        if obj.values is not None:
            values = {n: obj.values[n] for n in obj.network.order if obj.network.node(n).is_leaf}
        return obj.network, values, obj.lang
    if isinstance(obj, Network):
        return obj, None, None
    raise TypeError(f"verify() needs a Network, a Spec, a Derivation or a spec path, not {type(obj).__name__}")
