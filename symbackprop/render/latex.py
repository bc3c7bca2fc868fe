r"""LaTeX writer: a fragment to ``\input`` into a document, or a standalone document.

A fragment starts with comment lines that say what the preamble of its host document
needs (:func:`fragment_preamble`): ``amsmath``, ``amssymb`` and ``booktabs``, and
``symbackprop.sty`` (shipped with the package, :func:`write_sty`) where it prints the
indicator ``\mathbb{1}``, which AMS blackboard bold has no glyph for. The standalone document
has the same definitions in its own preamble, and adds the computational graph as a TikZ
figure; it compiles with pdflatex (Chinese through ``CJKutf8`` and the ``gbsn`` font).
Headings are starred sectioning commands at a level the caller chooses (``heading``).
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from pylatexenc.latexencode import unicode_to_latex

from symbackprop.errors import SymbackpropError
from symbackprop.render.breaking import break_sum, math_width, one_line
from symbackprop.render.blocks import INLINE_MATH, Equations, Figure, Heading, Para, Solution, Table
from symbackprop.render.tikz import TIKZ_PACKAGES, tikz_figure

#: what fits on a line of the standalone document (16 cm at 11 pt, in em), with room for
#: the error of width estimates
LINE_EM = 38.0

#: the packages every worked solution uses: align*, bmatrix, \text, \operatorname (amsmath);
#: \mathbb, \checkmark (amssymb); the tables' rules (booktabs)
PACKAGES = ("amsmath", "amssymb", "booktabs")

#: the indicator \mathbb{1}: AMS blackboard bold has no digits (\mathbb{1} prints ⊮), so a
#: bold 1; any other \mathbb is AMS's. The same lines are in symbackprop.sty.
INDICATOR = r"""\let\sbpmathbb\mathbb
\def\sbpone{1}
\DeclareRobustCommand{\sbpbb}[1]{\def\sbparg{#1}\ifx\sbparg\sbpone\mathbf{1}\else\sbpmathbb{#1}\fi}
\renewcommand{\mathbb}{\sbpbb}"""

#: the file that holds what a fragment needs (``\usepackage{symbackprop}``)
STY_NAME = "symbackprop.sty"

PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath,amssymb,booktabs,array}
\usepackage{mleftright}\mleftright
\usepackage[skip=0.6\baselineskip]{parskip}
\usepackage{adjustbox}
\usepackage[font=small,labelfont=bf%(caption)s]{caption}
\allowdisplaybreaks
\renewcommand{\arraystretch}{1.25}
%% the indicator \mathbb{1}: AMS blackboard bold has no digits, so a bold 1
%(indicator)s
%(tikz)s
%(cjk_pre)s
\begin{document}
%(cjk_begin)s"""

#: the heading levels a solution can take, from the top down: its sections take the level
#: chosen, its backward steps the next one (subparagraph only for steps)
HEADINGS = ("chapter", "section", "subsection", "subsubsection", "paragraph")
_STEPS = dict(zip(HEADINGS, HEADINGS[1:] + ("subparagraph",)))


def heading_commands(heading: str = "section") -> dict[int, str]:
    r"""The starred command of each heading level when the top one is ``\heading``.

    >>> heading_commands("subsection")
    {1: 'subsection*', 2: 'subsection*', 3: 'subsubsection*'}
    """
    if heading not in HEADINGS:
        raise SymbackpropError(f"unknown heading level '{heading}'; use one of "
                               f"{', '.join(HEADINGS)}")
    return {1: f"{heading}*", 2: f"{heading}*", 3: f"{_STEPS[heading]}*"}


def sty_text() -> str:
    """The text of ``symbackprop.sty``, the LaTeX package a fragment asks for."""
    return resources.files("symbackprop.render").joinpath(STY_NAME).read_text(encoding="utf-8")


def write_sty(directory: Path | str = ".") -> Path:
    """Write ``symbackprop.sty`` into ``directory``; the path written."""
    path = Path(directory) / STY_NAME
    try:
        path.write_text(sty_text(), encoding="utf-8")
    except OSError as e:
        raise SymbackpropError(f"cannot write {path}: {e.strerror}") from None
    return path


def fragment_preamble(body: str, *, lang: str = "en") -> list[str]:
    r"""The preamble lines a fragment's host document needs, from what ``body`` uses.

    >>> fragment_preamble(r"$\mathbb{R}$")
    ['\\usepackage{amsmath,amssymb,booktabs}']
    >>> fragment_preamble(r"$\mathbb{1}[z > 0]$")[1]
    '\\usepackage{symbackprop}'
    """
    lines = [rf"\usepackage{{{','.join(PACKAGES)}}}"]
    if r"\mathbb{1}" in body:
        lines.append(r"\usepackage{symbackprop}")
    if r"\begin{tikzpicture}" in body:
        lines += [r"\usepackage{adjustbox}", *TIKZ_PACKAGES.splitlines()]
    if lang == "zh" or _has_cjk(body):
        lines.append(r"\usepackage{CJKutf8}")
    return lines


def _has_cjk(text: str) -> bool:
    """Chinese, Japanese or Korean characters (a name such as 苹果), which need CJKutf8."""
    return any("\u2e80" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" or "\uf900" <= c <= "\ufaff"
               for c in text)


def _fragment_header(body: str, lang: str) -> str:
    """Comment lines saying how to use a fragment: the preamble it needs, one line each."""
    lines = ["% A worked solution by symbackprop: a LaTeX fragment to \\input into a document",
             "% whose preamble has"]
    lines += [f"%   {line}" for line in fragment_preamble(body, lang=lang)]
    notes = []
    if r"\mathbb{1}" in body:
        notes += ["% symbackprop.sty (it prints the indicator \\mathbb{1} as a bold 1; AMS",
                  "% blackboard bold has no digits) comes with symbackprop:",
                  "% `symbackprop derive SPEC --format latex --sty DIR` writes a copy into DIR."]
    if lang == "zh":
        notes.append("% Chinese: \\input it between \\begin{CJK}{UTF8}{gbsn} and \\end{CJK}.")
    return "\n".join(lines + notes) + "\n\n"


def solution_latex(sol: Solution, heading: str = "section") -> str:
    """The body: sections, paragraphs, ``align*`` blocks and ``booktabs`` tables; the
    solution's headings are ``\\heading*``, its steps' one level below."""
    section = heading_commands(heading)
    out = []
    ctx = sol.ctx
    prev, glue = None, []
    for b in sol.blocks:
        # a display continues the paragraph that introduces it: no empty line before it
        # and the text after a display goes on without a paragraph break
        joined = isinstance(b, Equations) and isinstance(prev, Para) or \
            isinstance(b, Para) and isinstance(prev, Equations)
        glue.append("\n" if joined else "\n\n")
        prev = b
        if isinstance(b, Heading):
            out.append(f"\\{section[b.level]}{{{b.text}}}")
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Equations):
            rows = [_equation_lines(eq, ctx) for eq in b.rows]
            gap = "[0.8ex]" if len(rows) > 1 and any(len(r) > 1 for r in rows) else ""
            body = f" \\\\{gap}\n  ".join(" \\\\\n  ".join(r) for r in rows)
            out.append("\\begin{align*}\n  " + body + "\n\\end{align*}")
        elif isinstance(b, Table):
            out.append(_table(b))
        elif isinstance(b, Figure):
            out.append(tikz_figure(b.graph, b.caption))
    return "".join(g + text for g, text in zip(glue, out)).lstrip("\n") + "\n"


_NUMBER = re.compile(r"\$-?[\d.]+(?: \\times 10\^\{-?\d+\})?\$")


def _table(b: Table) -> str:
    """A ``booktabs`` table: numbers right-aligned, fractions full size on taller rows."""
    cols = "".join("r" if b.rows and all(_NUMBER.fullmatch(r[i]) for r in b.rows) else "l"
                   for i in range(len(b.header)))
    tall = any(r"\frac" in c for r in b.rows for c in r)

    def cell(c: str) -> str:
        return INLINE_MATH.sub(lambda m: rf"$\displaystyle {m.group(1)}$" if r"\frac" in m.group(1)
                           else m.group(0), c)

    lines = [f"\\begin{{tabular}}{{{cols}}}", "\\toprule", " & ".join(b.header) + " \\\\",
             "\\midrule"]
    lines += [" & ".join(cell(c) for c in r) + " \\\\" for r in b.rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    stretch = ["\\renewcommand{\\arraystretch}{1.9}"] if tall else []
    return "\\begin{center}\n" + "\n".join(stretch + lines) + "\n\\end{center}"


def _equation_lines(eq, ctx) -> list[str]:
    """``lhs &= rhs_1``, ``&= rhs_2``, …; a right-hand side too long for a line is broken
    before a ``+``/``-`` and continues indented."""
    lhs = eq.lhs.latex(ctx)
    rhs = [r.latex(ctx) for r in eq.rhs]
    if one_line(lhs, rhs):
        return [f"{lhs} &= " + " = ".join(rhs)]
    room = LINE_EM - math_width(lhs) - 1.5
    lines = []
    for k, r in enumerate(rhs):
        first, *rest = _break(r, room - (1.0 if k else 0.0))
        lines.append((f"{lhs} &= " if k == 0 else "&= ") + first)
        lines += [rf"&\quad {c}" for c in rest]
    return lines


#: an environment inside math (a derivative's ``cases``, a ``bmatrix``), and the same held
#: in a group that :func:`break_sum` neither splits nor measures differently
_ENVIRONMENT = re.compile(r"\\begin\{([A-Za-z]+\*?)\}.*?\\end\{\1\}", re.S)
_HELD = re.compile(r"\{\\displaystyle (\\begin\{([A-Za-z]+\*?)\}.*?\\end\{\2\})\}", re.S)


def _break(tex: str, width: float) -> list[str]:
    r""":func:`break_sum`, never inside an environment: a line break (``\\ &\quad``) inside
    ``cases`` would be a row of the ``cases``.

    >>> piecewise = r"\begin{cases} 1 & \text{for}\: z > 0 \\ a + 1 & \text{otherwise} \end{cases}"
    >>> _break(rf"- 2 \times \left({piecewise}\right)", 5.0) == [rf"- 2 \times \left({piecewise}\right)"]
    True
    """
    if r"\begin{" not in tex:
        return break_sum(tex, width)
    held = _ENVIRONMENT.sub(lambda m: r"{\displaystyle " + m.group(0) + "}", tex)
    return [_HELD.sub(r"\1", line) for line in break_sum(held, width)]


def render_latex(d, *, lang: str | None = None, standalone: bool = False,
                 closed_forms: bool = False, graph: bool | None = None,
                 heading: str = "section") -> str:
    """LaTeX of the worked solution; ``standalone`` wraps it in a compilable document.

    A fragment begins with comments that name the preamble it needs. ``graph`` adds the
    computational graph as a TikZ figure (by default in a standalone document only: a
    fragment's host document may lack TikZ). ``heading`` is the sectioning command of the
    solution's headings (``section``, ``subsection``, …; the steps take the next level).
    """
    graph = standalone if graph is None else graph
    if standalone and heading == "chapter":
        raise SymbackpropError("the standalone document (class article) has no \\chapter; "
                               f"use one of {', '.join(HEADINGS[1:])}")
    lang = lang or d.lang
    sol = d.solution(lang=lang, closed_forms=closed_forms, graph=graph)
    body = solution_latex(sol, heading)
    if not standalone:
        return _fragment_header(body, lang) + body
    zh = lang == "zh"
    cjk = zh or _has_cjk(body + sol.title)  # Chinese prose, or Chinese names in English prose
    head = PREAMBLE % {
        "indicator": INDICATOR,
        "tikz": TIKZ_PACKAGES,
        "caption": ",labelsep=quad" if zh else "",  # 图 1 计算图 (no colon in Chinese)
        "cjk_pre": "\\usepackage{CJKutf8}" if cjk else "",
        "cjk_begin": ("\\begin{CJK}{UTF8}{gbsn}" + ("\n\\renewcommand{\\figurename}{图}" if zh else "")
                      if cjk else ""),
    }
    title = f"\\begin{{center}}\\Large {escape_text(sol.title)}\\end{{center}}\n\n"
    tail = ("\\end{CJK}\n" if cjk else "") + "\\end{document}\n"
    return head + title + body + tail


def escape_text(text: str) -> str:
    r"""Plain text (a title) made safe for LaTeX by pylatexenc; ``$…$`` math is kept as it is.

    Greek and other symbols become LaTeX (``ℓ`` → ``\ensuremath{\ell}``); Chinese is
    kept, for CJKutf8.

    >>> escape_text("Loss & gradients: 100% of $w_1$")
    'Loss \\& gradients: 100\\% of $w_1$'
    >>> escape_text("ℓ2 regularization, λ = 0.1")
    '\\ensuremath{\\ell}2 regularization, \\ensuremath{\\lambda} = 0.1'
    """
    parts = re.split(r"(\$[^$]*\$)", text)
    for i in range(0, len(parts), 2):
        parts[i] = unicode_to_latex(parts[i], unknown_char_policy="keep", unknown_char_warning=False)
    return "".join(parts)
