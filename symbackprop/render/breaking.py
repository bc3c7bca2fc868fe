r"""Breaking long display equations across lines, for the LaTeX writer.

A sum of five chain-rule terms or a closed form does not fit on a page line.
:func:`break_sum` splits such a right-hand side before a top-level ``+`` or
``-`` and packs the terms greedily into lines. When one term is still too long,
its outermost ``\left( … \right)`` become ``\bigl( … \bigr)`` (which, unlike
``\left``/``\right``, may sit on different lines) and the terms inside are split.

Widths are estimates in em of 11 pt display math, within about 15 % of TeX's.

>>> terms = [rf"\frac{{\partial L}}{{\partial c_{{{i}}}}} \cdot \frac{{\partial c_{{{i}}}}}{{\partial a}}"
...          for i in range(6)]
>>> lines = break_sum(" + ".join(terms), 30)
>>> len(lines), lines[1].startswith("+ ")
(2, True)
"""
from __future__ import annotations

import re

_WIDE = {"times": 1.3, "cdot": 1.3, "leftarrow": 1.8, "to": 1.8, "quad": 1.0, ",": 0.2,
         ";": 0.3, ":": 0.25, "!": -0.15}
_SILENT = {"left", "right", "bigl", "bigr", "Bigl", "Bigr", "displaystyle"}
_BOXES = {"mathbf", "mathrm", "operatorname", "mathbb", "text", "mathit"}


def _group(tex: str, i: int) -> tuple[str, int]:
    """The content of the brace group opening at ``tex[i]``, and the index after it."""
    depth = 0
    for j in range(i, len(tex)):
        if tex[j] == "{":
            depth += 1
        elif tex[j] == "}":
            depth -= 1
            if depth == 0:
                return tex[i + 1:j], j + 1
    return tex[i + 1:], len(tex)


def math_width(tex: str) -> float:
    r"""Estimated width of display math ``tex`` in em (fractions as wide as their wider part).

    >>> round(math_width(r"\frac{\partial L}{\partial w_{1}} = 0.116"), 1)
    5.4
    """
    w, i = 0.0, 0
    while i < len(tex):
        c = tex[i]
        if tex.startswith(r"\frac", i) and i + 5 < len(tex) and tex[i + 5] == "{":
            num, i = _group(tex, i + 5)
            den, i = _group(tex, i) if i < len(tex) and tex[i] == "{" else ("", i)
            w += max(math_width(num), math_width(den)) + 0.2
        elif c in "_^":
            if i + 1 < len(tex) and tex[i + 1] == "{":
                sub, i = _group(tex, i + 1)
            else:
                sub, i = tex[i + 1:i + 2], i + 2
            w += 0.7 * math_width(sub)
        elif c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            name = m.group(1)
            i += len(m.group(0))
            if name in _SILENT:
                continue
            if name in _BOXES and i < len(tex) and tex[i] == "{":
                inner, i = _group(tex, i)
                w += math_width(inner) * 1.1
            else:
                w += _WIDE.get(name, 0.6)
        else:
            i += 1
            if c in "{} ":
                continue
            w += (1.3 if c in "+-<>" else 1.4 if c == "=" else 0.4 if c in "()[]|"
                  else 0.28 if c in ".," else 0.5 if c.isdigit() else 0.55)
    return w


def _scan(tex: str):
    """Yield ``(index, delimiter depth)`` of every top-level (brace depth 0) binary ``+``/``-``."""
    braces = delims = 0
    i = 0
    while i < len(tex):
        if tex.startswith(r"\left", i) and not tex[i + 5:i + 6].isalpha():
            delims += 1
            i += 5
            continue
        if tex.startswith(r"\right", i) and not tex[i + 6:i + 7].isalpha():
            delims -= 1
            i += 6
            continue
        c = tex[i]
        if c == "\\":  # skip a command name (or an escaped character)
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            i += len(m.group(0))
            continue
        if c == "{":
            braces += 1
        elif c == "}":
            braces -= 1
        elif c in "+-" and braces == 0 and tex[i - 1:i] == " " and tex[i + 1:i + 2] == " ":
            yield i, delims
        i += 1


def _split(tex: str) -> list[str]:
    """``tex`` cut before each binary ``+``/``-`` outside every group."""
    cuts = [i for i, depth in _scan(tex) if depth == 0]
    pieces, start = [], 0
    for i in cuts:
        pieces.append(tex[start:i].strip())
        start = i
    pieces.append(tex[start:].strip())
    return [p for p in pieces if p]


def _open_outer(tex: str) -> str | None:
    r"""``tex`` with its outermost ``\left``/``\right`` pairs made ``\bigl``/``\bigr``; None if none."""
    out, depth, i, changed = [], 0, 0, False
    while i < len(tex):
        if tex.startswith(r"\left", i) and not tex[i + 5:i + 6].isalpha():
            out.append(r"\bigl" if depth == 0 else r"\left")
            changed = changed or depth == 0
            depth += 1
            i += 5
        elif tex.startswith(r"\right", i) and not tex[i + 6:i + 7].isalpha():
            depth -= 1
            out.append(r"\bigr" if depth == 0 else r"\right")
            i += 6
        else:
            out.append(tex[i])
            i += 1
    return "".join(out) if changed else None


def break_sum(tex: str, width: float) -> list[str]:
    """``tex`` as lines of at most ``width`` em where possible; lines after the first start
    with their ``+``/``-``."""
    if math_width(tex) <= width:
        return [tex]
    pieces = _split(tex)
    if len(pieces) == 1:
        opened = _open_outer(tex)
        if opened is None or len(_split(opened)) == 1:
            return [tex]  # nothing to break at: one long product stays whole
        return break_sum(opened, width)
    lines: list[str] = []
    for piece in pieces:
        if lines and math_width(lines[-1] + " " + piece) <= width:
            lines[-1] += " " + piece
            continue
        if math_width(piece) > width:  # one long term: break inside it
            sub = break_sum(piece, width)
            if len(sub) > 1:
                lines += sub
                continue
        lines.append(piece)
    return lines


#: a chain ``lhs = a = b = c`` narrower than this (em) is set on one line, as the
#: article writes ``z_1 = w_1 x = 0.5 \times 2 = 1``
ONE_LINE_EM = 34.0


def one_line(lhs: str, rhs: list[str]) -> bool:
    r"""Whether ``lhs = rhs_1 = rhs_2 …`` reads best on a single line.

    >>> one_line("z_{1}", ["w_{1} x", r"0.5 \times 2", "1.000"])
    True
    """
    return math_width(" = ".join([lhs, *rhs])) <= ONE_LINE_EM
