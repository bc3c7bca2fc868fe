r"""Reading claims: a worked solution written in LaTeX, split into checkable equations.

A claims text is one equation per line, or ``align``/``aligned`` rows ended by
``\\`` with ``&=``; ``%`` starts a comment. A chain ``t = e_1 = e_2`` (or
``\approx``) is one claim per right-hand part, each about the target ``t``; a
row that starts with ``&=`` continues the previous row's target.

>>> [(c.lhs, c.rhs, c.line) for c in read_claims(r'''
... % step 3
... \frac{\partial L}{\partial z_2} &= \frac{\partial L}{\partial a_2}\frac{\partial a_2}{\partial z_2} \\
...   &= -1.350 \times 0.219 \approx -0.296''')]  # doctest: +NORMALIZE_WHITESPACE
[('\\frac{\\partial L}{\\partial z_2}', '\\frac{\\partial L}{\\partial a_2}\\frac{\\partial a_2}{\\partial z_2}', 3),
 ('\\frac{\\partial L}{\\partial z_2}', '-1.350 \\times 0.219', 4),
 ('\\frac{\\partial L}{\\partial z_2}', '-0.296', 4)]
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Union

from symbackprop.errors import LatexSyntaxError


@dataclass(frozen=True)
class Claim:
    r"""One equation to check: ``lhs = rhs``, as written.

    ``source`` is the row it comes from; ``lhs_col``/``rhs_col`` are offsets
    into it, so errors point at the column the person typed.
    """

    lhs: str
    rhs: str
    source: str
    lhs_col: int = 0
    rhs_col: int = 0
    line: int | None = None  #: line of the claims file (None for a single claim)
    annotation: str | None = None  #: what follows \in: a shape, \mathbb{R}^{m \times n}
    error: LatexSyntaxError | None = field(default=None, compare=False)  #: the row could not be split

    @property
    def text(self) -> str:
        return f"{self.lhs} = {self.rhs}"


# Characters people paste from rendered math, mapped to LaTeX one-for-one so
# that columns stay where the person typed them.
_UNICODE = str.maketrans({"−": "-", "–": "-"})

_MARK = re.compile(
    r"\\begin\{[bpvV]?matrix\}.*?\\end\{[bpvV]?matrix\}"  # a numeric matrix: part of a claim
    r"|\\begin\{[^{}]*\}|\\end\{[^{}]*\}|\\\\(?:\[[^\]]*\])?|\$\$|\\\[|\\\]|\n|\\(?:label|tag)\{[^{}]*\}"
    r"|\\(?:nonumber|notag)(?![A-Za-z])|\$", re.S)
_MATRIX = re.compile(r"\\begin\{([bpvV]?matrix)\}.*?\\end\{\1\}", re.S)
_RELATION = re.compile(r"=|\\approx(?![A-Za-z])")
_TRAILING = re.compile(r"(?:\s|\\(?:qquad|quad|[,;:! ])(?![A-Za-z])|(?<!\\)[.,;])+$")
_ANNOTATION = re.compile(r"\\in(?![A-Za-z])")  # "\qquad \in \mathbb{R}^{m \times n}"


def _strip_comment(line: str) -> str:
    m = re.search(r"(?<!\\)%", line)
    return line if m is None else line[:m.start()]


def _rows(text: str) -> list[tuple[str, int]]:
    r"""Rows of math with the line each starts on.

    Outside an environment a newline ends a row; inside ``\begin…\end`` or
    ``$$…$$`` only ``\\`` does.
    """
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = "\n".join(_strip_comment(line) for line in text.translate(_UNICODE).split("\n"))
    rows, buf, start, line, depth, display = [], [], 1, 1, 0, False

    def flush() -> None:
        row = "".join(buf)
        if row.strip():
            rows.append((row, start))
        buf.clear()

    pos = 0
    for m in _MARK.finditer(text):
        piece = text[pos:m.start()]
        if piece.strip() and not "".join(buf).strip():
            start = line
        buf.append(piece)
        mark = m.group()
        if mark == "\n":
            line += 1
            if depth == 0 and not display:
                flush()
            else:
                buf.append(" ")
        elif re.match(r"\\begin\{[bpvV]?matrix\}", mark):
            buf.append(mark.replace("\n", " "))
            line += mark.count("\n")
        elif mark.startswith("\\begin"):
            depth += 1
        elif mark.startswith("\\end"):
            depth = max(depth - 1, 0)
            flush()
        elif mark in ("$$", "\\[", "\\]"):
            display = mark == "\\[" or (mark == "$$" and not display)
            flush()
        elif mark.startswith("\\\\"):
            flush()
        else:  # \label, \tag, \nonumber, $: blanked, keeping the columns
            buf.append(" " * len(mark))
        pos = m.end()
    piece = text[pos:]
    if piece.strip() and not "".join(buf).strip():
        start = line
    buf.append(piece)
    flush()
    return rows


def _top_level(text: str, pattern: re.Pattern) -> list[re.Match]:
    """Matches of ``pattern`` outside braces, parentheses and brackets."""
    depth, found, i = 0, [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "{}()[]":
            i += 2  # \{ \} \left( … are text, not nesting we track separately
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif depth == 0:
            m = pattern.match(text, i)
            if m:
                found.append(m)
                i = m.end()
                continue
        i += 1
    return found


def _unclosed(text: str) -> int | None:
    """Position of the first bracket never closed (an '=' inside it is hidden from the split)."""
    stack = []
    for i, c in enumerate(text):
        if i and text[i - 1] == "\\":
            continue
        if c in "{([":
            stack.append(i)
        elif c in "})]" and stack:
            stack.pop()
    return stack[0] if stack else None


def _trim(text: str, start: int, end: int) -> tuple[str, int]:
    """``text[start:end]`` without surrounding blanks or closing punctuation; (piece, offset)."""
    stripped = _TRAILING.sub("", text[start:end])
    lead = len(stripped) - len(stripped.lstrip())
    return stripped.strip(), start + lead


def split_row(row: str, line: int | None = None, target: tuple[str, int] | None = None) -> list[Claim]:
    """Claims of one row ``lhs = a = b …``; an empty ``lhs`` continues ``target``."""
    row = _MATRIX.sub(lambda m: m.group().replace("&", "\0"), row)  # a matrix's columns stay
    row = re.sub(r"(?<!\\)&", " ", row).replace("\0", "&")  # alignment marks
    ann = _top_level(row, _ANNOTATION)
    body = row[:ann[0].start()] if ann else row
    annotation = row[ann[0].end():].strip() if ann else None
    rels = _top_level(body, _RELATION)
    if not rels:
        opener = _unclosed(body)
        if opener is not None:
            raise LatexSyntaxError(f"unbalanced '{body[opener]}': never closed", body.rstrip(), opener)
        raise LatexSyntaxError("a claim needs '=', as in \\frac{\\partial L}{\\partial w} = …", row.strip())
    lhs, lhs_col = _trim(body, 0, rels[0].start())
    source = row
    if not lhs:
        if target is None:
            raise LatexSyntaxError("nothing on the left of '='", row, rels[0].start())
        lhs, lhs_col = target
        lhs_col = -1  # the target was written on an earlier row
    claims = []
    for k, rel in enumerate(rels):
        end = rels[k + 1].start() if k + 1 < len(rels) else len(body)
        rhs, rhs_col = _trim(body, rel.end(), end)
        if not rhs:
            raise LatexSyntaxError("nothing on the right of '='", row, rel.start())
        claims.append(Claim(lhs, rhs, source, lhs_col, rhs_col, line, annotation=annotation))
    return claims


ClaimsInput = Union[str, Iterable[str]]


def read_claims(claims: ClaimsInput, *, numbered: bool | None = None) -> list[Claim]:
    """All claims of a text, or of each string of a list, in order.

    A row that cannot be split into ``lhs = rhs`` comes back as a claim with
    its ``error`` set, in its place, so the rows after it are still checked.
    Line numbers are kept when ``numbered`` (by default: when a text has more
    than one row).
    """
    texts = [claims] if isinstance(claims, str) else list(claims)
    out: list[Claim] = []
    for text in texts:
        rows = _rows(text)
        number = len(rows) > 1 if numbered is None else numbered
        target = None
        for row, line in rows:
            line = line if number else None
            try:
                parts = split_row(row, line, target)
            except LatexSyntaxError as e:
                out.append(Claim("", "", row, line=line, error=e))
                continue
            target = (parts[0].lhs, parts[0].lhs_col)
            out.extend(parts)
    return out
