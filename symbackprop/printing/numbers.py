"""Numbers as a worked solution shows them.

>>> fmt(-1.35, 3), fmt(0.0, 3), fmt(-0.0001, 3), fmt(3.2e-6, 3)
('-1.350', '0.000', '-1.000 \\\\times 10^{-4}', '3.200 \\\\times 10^{-6}')
"""
from __future__ import annotations

import math


def fmt(value: float, digits: int = 3, *, latex: bool = True) -> str:
    """``value`` to ``digits`` decimals; tiny or huge magnitudes in scientific form."""
    if value is None:
        return "?"
    if math.isnan(value) or math.isinf(value):
        return _nonfinite(value, latex)
    magnitude = abs(value)
    if value != 0 and (magnitude < 10 ** -digits or magnitude >= 1e6):
        mantissa, exponent = f"{value:.{digits}e}".split("e")
        exponent = int(exponent)
        return rf"{mantissa} \times 10^{{{exponent}}}" if latex else f"{mantissa}e{exponent:+03d}"
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text


def fmt_all(values, digits: int = 3, *, latex: bool = True) -> list[str]:
    """The numbers of one table in one format: all fixed, or all scientific when one needs it.

    >>> fmt_all([0.116, -0.217, 2e-05], 3, latex=False)
    ['1.160e-01', '-2.170e-01', '2.000e-05']
    >>> fmt_all([0.116, -0.217], 3)
    ['0.116', '-0.217']
    """
    values = [float(v) for v in values]
    scientific = any(v != 0 and math.isfinite(v) and (abs(v) < 10 ** -digits or abs(v) >= 1e6)
                     for v in values)
    if not scientific:
        return [fmt(v, digits, latex=latex) for v in values]
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(_nonfinite(v, latex))
            continue
        mantissa, exponent = f"{v:.{digits}e}".split("e")
        exponent = int(exponent)
        out.append(rf"{mantissa} \times 10^{{{exponent}}}" if latex else f"{mantissa}e{exponent:+03d}")
    return out


def _nonfinite(value: float, latex: bool) -> str:
    """``inf``, ``-inf`` (LaTeX ``\\infty``): a value beyond the doubles, as an intermediate
    gradient ``-1/σ(-800)`` is; ``nan``."""
    if latex and math.isinf(value):
        return r"\infty" if value > 0 else r"-\infty"
    return str(value)


def hand_round(value: float, digits: int) -> float:
    """What a person calculating by hand carries forward: ``digits`` significant decimals.

    Tiny values keep ``digits`` significant figures instead of collapsing to zero.
    """
    if value == 0 or not math.isfinite(value):
        return value
    if abs(value) < 10 ** -digits:
        return float(f"{value:.{digits}e}")
    return round(value, digits)


def short_float(value: float) -> str:
    """A number as the spec writes it: ``0.5``, ``2`` (not ``2.0``), ``1e-05``.

    >>> short_float(2.0), short_float(0.5)
    ('2', '0.5')
    """
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def round_text(value: float, decimals: int) -> str:
    """``value`` rounded to ``decimals`` as a person writes it (no ``-0.000``).

    >>> round_text(0.11646, 3), round_text(-0.0004, 3)
    ('0.116', '0.000')
    """
    text = f"{value:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text
