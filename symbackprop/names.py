"""Canonical and LaTeX spellings of node names.

The canonical spelling drops the braces of a subscript; the LaTeX spelling puts
them back for printing.

>>> canonical_name("w_{1,2}"), canonical_name("W_{1}"), canonical_name(r"\\hat{y}")
('w_1,2', 'W_1', '\\\\hat{y}')
>>> latex_name("w_1,2"), latex_name("z_1"), latex_name("L")
('w_{1,2}', 'z_{1}', 'L')
"""
from __future__ import annotations

import re

_SUBSCRIPT_BRACES = re.compile(r"_\{([^{}]*)\}")
_SUBSCRIPT_TAIL = re.compile(r"_([^_{}]+)$")


def canonical_name(latex: str) -> str:
    """Canonical spelling: whitespace removed, subscript braces dropped."""
    text = "".join(latex.split())
    return _SUBSCRIPT_BRACES.sub(lambda m: "_" + m.group(1), text)


def latex_name(canonical: str) -> str:
    """LaTeX spelling of a canonical name (subscript in braces)."""
    if "_{" in canonical:
        return canonical
    return _SUBSCRIPT_TAIL.sub(lambda m: "_{" + m.group(1) + "}", canonical)
