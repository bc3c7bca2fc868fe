r"""Reading a class's submissions: one file per student, its math split into claims.

A submissions directory holds one file per student (subdirectories and hidden
files are skipped); the student's name is the file's stem. What is read:

* ``.claims``, ``.txt``: the whole file, as ``symbackprop verify --claims``
  reads it (one claim per line, ``align`` rows, ``%`` comments;
  :func:`~symbackprop.verification.claims.read_claims`);
* ``.tex``: only the math of ``align``, ``align*``, ``equation``,
  ``equation*``, ``aligned``, ``gather``, ``gather*`` environments,
  ``\[ … \]`` and ``$$ … $$``; the preamble, the prose, inline ``$…$`` and
  ``%`` comments are not;
* ``.md``: only ``$$ … $$`` blocks and fenced ```` ```math ```` blocks (a math
  block is one display, like ``$$ … $$``); other code blocks and code spans
  are skipped.

Any other file is not a submission. Files are UTF-8, with or without a byte
order mark, with ``\n``, ``\r\n`` or ``\r`` line ends; everything outside the
math is blanked but its line ends are kept, so a claim's ``line`` is its line
in the student's file.

>>> tex = "\\documentclass{article}\n\\begin{document}\nWe have $x = 1$ and\n" \
...       "\\begin{align}\n  z_1 &= w_1 x \\\\\n  a_1 &= \\sigma(z_1)\n\\end{align}\n\\end{document}\n"
>>> [(c.lhs, c.rhs, c.line) for c in claims_of("tex", tex)]
[('z_1', 'w_1 x', 5), ('a_1', '\\sigma(z_1)', 6)]
>>> md = "# Homework\n\nFirst\n\n$$\nz_1 = w_1 x\n$$\n\n```math\na_1 = \\sigma(z_1)\n```\n"
>>> [(c.lhs, c.line) for c in claims_of("md", md)]
[('z_1', 6), ('a_1', 10)]
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Union

from symbackprop.errors import SymbackpropError
from symbackprop.verification.claims import Claim, read_claims

#: file suffix → how its claims are found
FORMATS = {".claims": "claims", ".txt": "claims", ".tex": "tex", ".md": "md"}
#: LaTeX environments whose content is math to check
TEX_ENVIRONMENTS = frozenset({"align", "align*", "equation", "equation*", "aligned", "gather", "gather*"})

_WHERE = {
    "claims": "a claims file is one claim per line",
    "tex": "a .tex file's claims are read from align, equation and gather environments, \\[ \\] and $$ $$",
    "md": "a .md file's claims are read from $$ $$ blocks and ```math blocks",
}


@dataclass
class Submission:
    """One student's file: its claims, or why it could not be read."""

    name: str  #: the file's stem
    file: str  #: the file's name
    claims: list[Claim] = field(default_factory=list)
    error: str | None = None  #: the file could not be read, or holds no claim


def decode(data: bytes) -> str:
    """UTF-8 text (a byte order mark dropped) with ``\\n`` line ends; a ``ValueError`` naming the line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"not UTF-8 text (byte 0x{data[e.start]:02x} on line {line}); "
                         f"save the file as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _blank(text: str, keep: list[tuple[int, int]]) -> str:
    """``text`` with everything outside the ``keep`` spans blanked, its newlines kept."""
    out, pos = [], 0
    for start, end in keep:
        out.append(re.sub(r"[^\n]", " ", text[pos:start]))
        out.append(text[start:end])
        pos = end
    out.append(re.sub(r"[^\n]", " ", text[pos:]))
    return "".join(out)


def _strip_tex_comments(text: str) -> str:
    r"""Every ``%`` comment removed (not ``\%``; ``\\%`` is a line break, then a comment)."""
    def strip(line: str) -> str:
        for m in re.finditer(r"\\.|%", line):
            if m.group() == "%":
                return line[:m.start()]
        return line

    return "\n".join(strip(line) for line in text.split("\n"))


_TEX_TOKEN = re.compile(r"\\begin\s*\{([^{}]*)\}|\\end\s*\{([^{}]*)\}|\$\$|\\\[|\\\]|\\.", re.S)


def tex_math(text: str) -> str:
    r"""The display math of a LaTeX document, everything else blanked (line ends kept)."""
    text = _strip_tex_comments(text)
    spans: list[tuple[int, int]] = []
    start = None
    close: tuple[str, str | None] | None = None  # ("env", name) / ("\\]", None) / ("$$", None)
    depth = 0
    for m in _TEX_TOKEN.finditer(text):
        tok, begin, end = m.group(), m.group(1), m.group(2)
        if close is None:
            if begin is not None and begin.strip() in TEX_ENVIRONMENTS:
                start, close, depth = m.start(), ("env", begin.strip()), 1
            elif tok in ("\\[", "$$"):
                start, close = m.start(), ("\\]" if tok == "\\[" else "$$", None)
            continue
        kind, name = close
        if kind == "env":
            if begin is not None and begin.strip() == name:
                depth += 1
            elif end is not None and end.strip() == name:
                depth -= 1
                if depth == 0:
                    spans.append((start, m.end()))
                    close = None
        elif tok == kind:
            spans.append((start, m.end()))
            close = None
    if close is not None:  # never closed: the math runs to the end
        spans.append((start, len(text)))
    return _blank(text, spans)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")


def markdown_math(text: str) -> str:
    """The ``$$`` blocks and ```` ```math ```` blocks of Markdown, everything else blanked."""
    lines = text.split("\n")
    out: list[str] = []
    fence: str | None = None  # the open fence's marker
    math = False
    for line in lines:
        if fence is None:
            m = _FENCE.match(line)
            if m:
                fence, math = m.group(1), m.group(2).lower() == "math"
                out.append("$$" if math else "")
            else:  # prose: a code span such as `$$` is not math
                out.append(_CODE_SPAN.sub(lambda c: " " * len(c.group()), line))
            continue
        stripped = line.strip()
        if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
            out.append("$$" if math else "")
            fence = None
        else:
            out.append(line if math else "")
    if fence is not None and math:
        out.append("$$")  # an unclosed block runs to the end of the document
    text = "\n".join(out)
    spans, start = [], None
    for m in re.finditer(r"\\.|\$\$", text, re.S):
        if m.group() != "$$":
            continue
        if start is None:
            start = m.start()
        else:
            spans.append((start, m.end()))
            start = None
    if start is not None:
        spans.append((start, len(text)))
    return _blank(text, spans)


def claims_of(kind: str, text: str) -> list[Claim]:
    """The claims of a submission's text; ``kind`` is ``"claims"``, ``"tex"`` or ``"md"``."""
    if kind == "tex":
        text = tex_math(text)
    elif kind == "md":
        text = markdown_math(text)
    return read_claims(text, numbered=True)


def read_text(name: str, file: str, kind: str, data: Union[str, bytes]) -> Submission:
    """A submission from a file's content (bytes are decoded as UTF-8)."""
    try:
        text = decode(data) if isinstance(data, bytes) else decode(data.encode("utf-8", "surrogatepass"))
    except (ValueError, UnicodeEncodeError) as e:
        return Submission(name, file, error=str(e))
    claims = claims_of(kind, text)
    if not claims:
        return Submission(name, file, error=f"no claims found ({_WHERE[kind]})")
    return Submission(name, file, claims)


def read_file(path: Path) -> Submission:
    """One student's file; a file that cannot be read is a :class:`Submission` with an ``error``."""
    kind = FORMATS[path.suffix.lower()]
    try:
        data = path.read_bytes()
    except OSError as e:
        return Submission(path.stem, path.name, error=f"cannot read {path.name}: {e.strerror or e}")
    return read_text(path.stem, path.name, kind, data)


def is_submission(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() in FORMATS and path.is_file()


def read_directory(directory: Union[str, Path]) -> list[Submission]:
    """Every submission in ``directory`` (not its subdirectories), sorted by name."""
    directory = Path(directory)
    if not directory.exists():
        raise SymbackpropError(f"submissions directory not found: {directory}")
    if not directory.is_dir():
        raise SymbackpropError(f"not a directory: {directory}; give the directory of the submissions")
    try:
        paths = [p for p in directory.iterdir() if is_submission(p)]
    except OSError as e:
        raise SymbackpropError(f"cannot list {directory}: {e.strerror or e}") from None
    if not paths:
        raise SymbackpropError(f"no submissions in {directory}: expected one "
                               f"{', '.join(FORMATS)} file per student")
    return sorted((read_file(p) for p in paths), key=lambda s: (s.name, s.file))


def read_mapping(files: Mapping[str, Union[str, bytes]]) -> list[Submission]:
    """Submissions given as ``{file name: content}``, sorted by name.

    A key with a known suffix (``alice.tex``) is read as that kind of file,
    its stem the student's name; any other key is the student's name and its
    content a claims text.
    """
    out = []
    for key, data in files.items():
        suffix = Path(key).suffix.lower()
        if suffix in FORMATS:
            out.append(read_text(Path(key).stem, key, FORMATS[suffix], data))
        else:
            out.append(read_text(key, key, "claims", data))
    if not out:
        raise SymbackpropError("no submissions to grade")
    return sorted(out, key=lambda s: (s.name, s.file))
