r"""Where a wrong derivation goes wrong.

A wrong claim ``c`` is compared with the truth ``t`` point by point, under
hypotheses of the form ``c·A = k·t·B``: ``A = B = 1`` is a wrong sign
(``k = -1``) or a constant factor; ``A = f`` is a missing factor ``f`` and
``B = f`` an extra one, where ``f`` ranges over the local derivatives of the
chain (so the message can say *which* one: "missing a_1·(1 - a_1) =
∂a_1/∂z_1"); ``A = f, B = g`` is one local derivative used in place of
another. Written multiplicatively, an indicator such as ReLU's
:math:`\mathbb{1}[z>0]` is handled too (no division by zero). A sum with a
term left out, a number rounded wrongly, and otherwise a counterexample
complete the picture.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Sequence

from symbackprop.printing.sympy import partial_latex
from symbackprop.printing.numbers import round_text
from symbackprop.render.phrases import phrase
from symbackprop.verification.report import Diagnosis
from symbackprop.verification.truth import Target

#: constants a person plausibly gets wrong by: a lost 2 from a square, a ½, a mean's 1/m, …
NICE = [Fraction(n, d) for n, d in ((2, 1), (1, 2), (3, 1), (1, 3), (4, 1), (1, 4), (10, 1), (1, 10))]
REL = 1e-7  # relative agreement of exact evaluations (both at 30 digits)
TINY = 1e-25  # absolute floor: values are computed to 30 digits, and gradients can vanish (1e-20)


def close(a: float, b: float, slack: float = 0.0, rel: float = REL) -> bool:
    """``a`` and ``b`` agree within ``slack`` (uncertainty of written numbers) and rounding."""
    return abs(a - b) <= slack + rel * max(abs(a), abs(b)) + TINY


@dataclass
class Factor:
    """A local derivative ∂of/∂wrt with its values at the comparison points."""

    of: str
    wrt: str
    text: str  #: as a worked solution writes it: ``a_1·(1 - a_1)``
    latex: str
    values: list[float]
    on_path: bool = True  #: on a path from the target's variable up (part of its chain)
    trivial: bool = False  #: a bare name or number (``a_1``): nothing to work out
    whole: str | None = None  #: this is one factor of a product local derivative, written so
    lookalike: bool = False  #: another activation's derivative (σ′ for tanh′): only ever the wrong one

    @property
    def local(self) -> str:
        return f"∂{self.of}/∂{self.wrt}"


@dataclass
class Branch:
    """One term of a sum over consumers: node ``node`` feeds ``consumer`` (one of ``of`` sums)."""

    node: str
    consumer: str
    count: int  #: terms in that sum
    values: list[float]  #: the term's share of the target at each point


@dataclass
class Evidence:
    """Claim and truth at the points where they were compared."""

    target: Target
    points: list  #: where each entry was compared: (case, index of the entry)
    claimed: list[float | None]  #: None where the claim is undefined
    truth: list[float]
    slack: list[float]  #: absolute uncertainty of each claimed value (numbers as written)
    numeric: bool = False  #: the claim is made of written numbers, at the spec's values
    factors: list[Factor] = field(default_factory=list)
    terms: list[Branch] = field(default_factory=list)  #: terms of the sums on the chain
    written: str | None = None  #: the claim is this one number, as written
    decimals: int = 0
    shown: list[str] = field(default_factory=list)  #: leaves to show in a counterexample
    dims: dict | None = None  #: dimension -> its size at each entry (matrix form)
    nodes: dict = field(default_factory=dict)  #: node -> its value at each entry (a number network)

    @property
    def chain(self) -> list[Factor]:
        """The network's own local derivatives (no look-alikes)."""
        return [f for f in self.factors if not f.lookalike]


def diagnose(e: Evidence, lang: str = "en") -> Diagnosis | None:
    """The most specific explanation of why ``claimed`` is not ``truth`` (None: no hypothesis fits)."""
    target = e.target.label
    if not e.claimed or any(c is None for c in e.claimed):
        return None
    checks = _numeric_checks if e.numeric else _symbolic_checks
    for check in checks:
        d = check(e, lang, target)
        if d is not None:
            return d
    return None


# ---- hypotheses ------------------------------------------------------------
def _fits(e: Evidence, A: Sequence[float], B: Sequence[float], k: float) -> bool:
    """``claimed·A ≈ k·truth·B`` at every point."""
    for c, t, a, b, s in zip(e.claimed, e.truth, A, B, e.slack):
        if not close(c * a, k * t * b, s * abs(a)):
            return False
    return True


def _ratio(e: Evidence, A: Sequence[float], B: Sequence[float]) -> float | None:
    """The k of ``claimed·A = k·truth·B`` from the best-determined point, if any."""
    best = max(range(len(e.truth)), key=lambda i: abs(e.truth[i] * B[i]))
    denominator = e.truth[best] * B[best]
    if abs(denominator) <= TINY:
        return None
    return e.claimed[best] * A[best] / denominator


def _ones(e: Evidence) -> list[float]:
    return [1.0] * len(e.truth)


def _constants(e: Evidence, A, B) -> list[float]:
    """Candidate k: any constant the data says (symbolic claims), nice ones only (one point)."""
    if e.numeric:
        return [float(q) for n in NICE for q in (n, -n)]
    k = _ratio(e, A, B)
    return [] if k is None or abs(k) < 1e-9 else [k]


def _k_text(k: float) -> str:
    q = Fraction(k).limit_denominator(100)
    if abs(float(q) - k) <= 1e-9 * max(1.0, abs(k)):
        return str(q)
    return f"{k:.6g}"


def _describe(f: Factor, e: Evidence, label: bool = False, lang: str = "en") -> str:
    text = f.text
    if f.whole is not None:
        text = phrase("d_part_of", lang, factor=f.text, local=f.local, whole=f.whole)
    elif not f.lookalike and (label or f.on_path or not f.trivial):  # a bare a_1 off the chain: a value, not ∂z_2/∂w_2
        text += f" = {f.local}"
    if e.numeric:
        text += f" = {f.values[0]:.{max(e.decimals, 3)}f}"
    return text


def _details(*factors: Factor, **more) -> dict:
    out = dict(more)
    if factors:
        out["factor"] = " ".join(f.latex for f in factors)
        out["local_derivative"] = " ".join(partial_latex(f.of, f.wrt) for f in factors)
    return out


def _suffix(k: float, lang: str) -> str:
    if abs(k - 1) < 1e-9:
        return ""
    if abs(k + 1) < 1e-9:
        return phrase("d_and_sign", lang)
    return phrase("d_and_constant", lang, k=_k_text(k))


def _sign(e: Evidence, lang: str, target: str) -> Diagnosis | None:
    ones = _ones(e)
    if _fits(e, ones, ones, -1.0) and any(abs(t) > TINY for t in e.truth):
        return Diagnosis("sign", phrase("d_sign", lang, target=target), {"factor": "-1"})
    return None


def _constant(e: Evidence, lang: str, target: str) -> Diagnosis | None:
    ones = _ones(e)
    for k in _constants(e, ones, ones):
        if abs(k - 1) > 1e-9 and abs(k + 1) > 1e-9 and _fits(e, ones, ones, k):
            return Diagnosis("constant_factor", phrase("d_constant", lang, k=_k_text(k), target=target),
                             {"factor": _k_text(k)})
    return None


def _single_factor(ks: str, paths: tuple[bool, ...] = (True, False), parts: bool = False):
    """Missing or extra one local derivative; ``ks`` says which constants to allow with it,
    ``paths`` whether factors on the target's chain (True) or elsewhere (False) are tried,
    ``parts`` whether one factor of a product local derivative is tried instead of wholes."""
    def check(e: Evidence, lang: str, target: str) -> Diagnosis | None:
        ones = _ones(e)
        for f in e.chain:
            if f.on_path not in paths or (f.whole is not None) != parts:
                continue
            for kind, A, B in (("missing_factor", f.values, ones), ("extra_factor", ones, f.values)):
                for k in _ks(e, A, B, ks):
                    if _fits(e, A, B, k):
                        key = "d_missing" if kind == "missing_factor" else "d_extra"
                        msg = phrase(key, lang, factor=_describe(f, e, lang=lang)) + _suffix(k, lang)
                        return Diagnosis(kind, msg, _details(f, constant=_k_text(k)) if k != 1 else _details(f))
        return None
    return check


def _ks(e: Evidence, A, B, which: str) -> list[float]:
    if which == "one":
        return [1.0]
    if which == "sign":
        return [-1.0]
    return [k for k in _constants(e, A, B) if abs(abs(k) - 1) > 1e-9]


def _wrong_factor(e: Evidence, lang: str, target: str) -> Diagnosis | None:
    """One local derivative written where another belongs (``∂z/∂w`` for ``∂z/∂a``)."""
    wholes = [f for f in e.chain if f.whole is None]
    lookalikes = [f for f in e.factors if f.lookalike]
    for want in wholes:
        for got in [g for g in lookalikes if (g.of, g.wrt) == (want.of, want.wrt)] + wholes:
            if got is want or not want.on_path:
                continue
            for k in (1.0,) if e.numeric else (1.0, -1.0):
                if _fits(e, want.values, got.values, k):
                    msg = phrase("d_wrong_factor", lang, got=_describe(got, e, True), want=_describe(want, e, True))
                    return Diagnosis("wrong_factor", msg + _suffix(k, lang),
                                     {"factor": got.latex, "expected_factor": want.latex,
                                      "local_derivative": partial_latex(got.of, got.wrt),
                                      "expected_local_derivative": partial_latex(want.of, want.wrt)})
    return None


def _two_factors(e: Evidence, lang: str, target: str) -> Diagnosis | None:
    ones = _ones(e)
    for f, g in combinations([f for f in e.chain if f.whole is None], 2):
        both = [a * b for a, b in zip(f.values, g.values)]
        for kind, A, B in (("missing_factor", both, ones), ("extra_factor", ones, both)):
            for k in (1.0, -1.0):
                if _fits(e, A, B, k):
                    key = "d_missing2" if kind == "missing_factor" else "d_extra2"
                    msg = phrase(key, lang, factor=_describe(f, e), factor2=_describe(g, e))
                    return Diagnosis(kind, msg + _suffix(k, lang), _details(f, g))
    return None


def _missing_term(e: Evidence, lang: str, target: str) -> Diagnosis | None:
    """A sum over consumers with terms left out (one, or all but some), at the target or up its chain."""
    nodes: dict[str, list[Branch]] = {}
    for b in e.terms:
        nodes.setdefault(b.node, []).append(b)
    for size in (1, 2, 3):
        for node, branches in nodes.items():
            if size >= len(branches):
                continue
            for left_out in combinations(branches, size):
                rest = [t - sum(b.values[i] for b in left_out) for i, t in enumerate(e.truth)]
                if all(close(c, r, s) for c, r, s in zip(e.claimed, rest, e.slack)) and \
                        any(abs(v) > TINY for b in left_out for v in b.values):
                    consumers = [b.consumer for b in left_out]
                    msg = phrase("d_missing_term" if size == 1 else "d_missing_terms", lang,
                                 consumer=consumers[0], consumers=", ".join(consumers), v=node,
                                 k=len(branches), sum=f"∂{e.target.of}/∂{node}")
                    return Diagnosis("missing_term", msg, {"node": node, "consumer": consumers[0],
                                                           "consumers": consumers})
    return None


def _term_sign(e: Evidence, lang: str, target: str) -> Diagnosis | None:
    """A sum over consumers with the sign of one term flipped."""
    for b in e.terms:
        flipped = [t - 2 * v for t, v in zip(e.truth, b.values)]
        if all(close(c, r, s) for c, r, s in zip(e.claimed, flipped, e.slack)) and \
                any(abs(v) > TINY for v in b.values):
            msg = phrase("d_term_sign", lang, consumer=b.consumer, v=b.node)
            return Diagnosis("sign", msg, {"node": b.node, "consumer": b.consumer})
    return None


def _offset(e: Evidence, lang: str, target: str) -> Diagnosis | None:
    """A term left out or added that is a node itself: ``p_3`` for ``p_3 - y_3``."""
    for name, values in e.nodes.items():
        if not any(abs(v) > TINY for v in values):
            continue
        for sign in (1, -1):
            if all(close(c, t + sign * v, s) for c, t, v, s in zip(e.claimed, e.truth, values, e.slack)):
                term = f"{'-' if sign > 0 else '+'}{name}"
                return Diagnosis("missing_term", phrase("d_offset", lang, term=term, target=target,
                                                        claim=f"{target} {'+' if sign > 0 else '-'} {name}"),
                                 {"term": term})
    return None


def _dimension(e: Evidence, lang: str, target: str) -> Diagnosis | None:
    """Off by a constant times a dimension, or its inverse: a lost or extra ``1/m``."""
    if not e.dims:
        return None
    for name, sizes in e.dims.items():
        for p in (1, -1):
            ref = [s ** p for s in sizes]
            ks = _constants(e, _ones(e), ref)
            for k in ks:
                if _fits(e, _ones(e), [k * r for r in ref], 1.0):
                    q = Fraction(k).limit_denominator(100)
                    num = "" if q.numerator == 1 else f"{q.numerator}"
                    if p == 1:
                        text = f"{num}{name}" + ("" if q.denominator == 1 else f"/{q.denominator}")
                    else:
                        text = f"{q.numerator}/" + (name if q.denominator == 1 else f"({q.denominator}{name})")
                    return Diagnosis("constant_factor", phrase("d_constant", lang, k=text, target=target),
                                     {"factor": text})
    return None


def _rounding(e: Evidence, lang: str, target: str) -> Diagnosis | None:
    """A written number (or every wrong entry of a numeric matrix) within one unit of its last
    digit: rounded wrongly."""
    d = e.decimals
    if e.written is None and len(e.claimed) > 1 and e.numeric and d > 0:
        wrong = [i for i, (c, t, s) in enumerate(zip(e.claimed, e.truth, e.slack)) if not close(c, t, s)]
        if wrong and all(abs(e.claimed[i] - e.truth[i]) < 10.0 ** -d for i in wrong):
            i = wrong[0]
            entry = "[" + ", ".join(str(int(k) + 1) for k in e.points[i][1]) + "]"
            t, c = e.truth[i], e.claimed[i]
            return Diagnosis("rounding", phrase("d_rounding_entry", lang, target=target, entry=entry,
                                                exact=_exact(t, d), rounded=round_text(t, d), written=round_text(c, d)),
                             {"expected": t, "rounded": round_text(t, d), "written": round_text(c, d),
                              "entry": [int(k) + 1 for k in e.points[i][1]]})
        return None
    if e.written is None:
        return None
    c, t = e.claimed[0], e.truth[0]
    if abs(c - t) < 10.0 ** -d:
        return Diagnosis("rounding", phrase("d_rounding", lang, target=target, exact=_exact(t, d),
                                            rounded=round_text(t, d), written=e.written),
                         {"expected": t, "rounded": round_text(t, d), "written": e.written})
    return None


_symbolic_checks = [_sign, _constant, _dimension, _single_factor("one"), _single_factor("sign"),
                    _single_factor("any"), _wrong_factor, _two_factors, _missing_term, _term_sign, _offset,
                    _single_factor("one", (True,), parts=True)]
# At one point a factor's value can equal a constant by accident (x = 2.0): the chain's own
# local derivatives first, then constants, then the rest of the network's.
_numeric_checks = [_sign, _rounding, _single_factor("one", (True,)), _wrong_factor, _missing_term, _term_sign,
                   _offset, _constant, _single_factor("one", (False,)), _single_factor("sign", (True,))]




def _exact(value: float, decimals: int) -> str:
    return f"{value:.{decimals + 2}f}"

