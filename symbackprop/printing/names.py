r"""Names in plain text: a node's LaTeX spelling as Unicode, for terminals and text documents.

LaTeX symbols, accents and alphabets become Unicode by pylatexenc (``\hat{y}`` → ``ŷ``,
``\mu`` → ``μ``, ``\mathcal{L}`` → ``ℒ``); a subscript keeps the ``_`` that the spec's
canonical names use (``z_1``, ``w_1,2``), and a layer index is raised (``W⁽¹⁾``).

>>> text_name("z_1"), text_name(r"\hat{y}"), text_name(r"\mu_B"), text_name("w^(1)")
('z_1', 'ŷ', 'μ_B', 'w⁽¹⁾')
>>> text_name("a_1^[2]"), text_name("loss"), text_name(r"\mathcal{L}")
('a_1^[2]', 'loss', 'ℒ')
"""
from __future__ import annotations

import re
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

from symbackprop.reader.latex import latex_name

_TO_TEXT = LatexNodes2Text(math_mode="text")
#: digits and signs raised, for exponents and layer indices written in plain text
SUPERSCRIPT = str.maketrans("0123456789()+-=", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻⁼")


def latex_to_unicode(latex: str) -> str:
    r"""Symbols, accents and alphabets of LaTeX in Unicode, scripts kept as written, by pylatexenc.

    >>> latex_to_unicode(r"\hat{y}_1"), latex_to_unicode(r"\delta^{(2)}")
    ('ŷ_1', 'δ^{(2)}')
    """
    parts = re.split(r"([_^])", latex)
    return "".join(p if p in "_^" or "\\" not in p else _TO_TEXT.latex_to_text(p) for p in parts)


@lru_cache(maxsize=4096)
def text_name(canonical: str) -> str:
    """The plain-text spelling of a node's canonical name."""
    if re.fullmatch(r"[A-Za-z0-9_,]+", canonical):
        return canonical  # nothing to convert: z_1, w_1,2, loss
    text = _TO_TEXT.latex_to_text(latex_name(canonical)).replace("{", "").replace("}", "")
    return re.sub(r"\^\(([0-9+\-=]+)\)", lambda m: f"({m.group(1)})".translate(SUPERSCRIPT), text)
