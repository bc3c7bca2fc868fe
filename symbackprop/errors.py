"""Exceptions of symbackprop.

Every error a user can cause is a :class:`SymbackpropError` whose message names
the line, the symbol or the shapes at fault. The command line prints that
message on one line and exits with status 2.
"""
from __future__ import annotations


class SymbackpropError(Exception):
    """Base class: a problem with the user's input, reported in one line.

    The message is one line whatever it quotes: a newline, a tab or another control
    character of the user's text is shown escaped.

    >>> print(SpecError("a name with a newline: 'w" + chr(10) + "'"))
    a name with a newline: 'w\\n'
    """

    def __str__(self) -> str:
        text = super().__str__()
        if text.isprintable():
            return text
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class SpecError(SymbackpropError):
    """A spec (TOML or builder call) that does not describe a valid network."""


class LatexSyntaxError(SymbackpropError):
    """LaTeX that cannot be read; the message points at the position.

    >>> str(LatexSyntaxError("unbalanced '{'", "a_{1", 2))
    "unbalanced '{' at column 3 in 'a_{1'"

    A long line is quoted around the column only:

    >>> str(LatexSyntaxError("here", "(" * 500 + "x", 400))[:44]
    "here at column 401 in '…(((((((((((((((((((("
    """

    #: characters quoted on each side of the column in a long line
    CONTEXT = 40

    def __init__(self, message: str, text: str = "", position: int | None = None):
        self.text = text
        self.position = position
        if position is not None:
            message = f"{message} at column {position + 1} in '{_around(text, position, self.CONTEXT)}'"
        super().__init__(message)


def _around(text: str, position: int, context: int) -> str:
    """``text``, or the part of a long line around ``position``, elisions marked with …."""
    if len(text) <= 2 * context + 20:
        return text
    start, end = max(0, position - context), min(len(text), position + context)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


class ShapeError(SymbackpropError):
    """Matrix shapes that do not conform; the message names both shapes."""


def did_you_mean(name: str, names) -> str:
    """``"; did you mean 'w_2'?"`` for a misspelt ``name`` (``w2``, ``W_2``), or ``""``.

    >>> did_you_mean("w2", ["w_1", "w_2", "x"]), did_you_mean("q", ["w_1"])
    ("; did you mean 'w_2'?", '')
    """
    import difflib

    names = list(names)
    plain = {n.replace("_", "").replace("{", "").replace("}", "").lower(): n for n in names}
    key = name.replace("_", "").replace("{", "").replace("}", "").lower()
    if key in plain and plain[key] != name:
        return f"; did you mean '{plain[key]}'?"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
