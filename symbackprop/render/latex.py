"""LaTeX writer: a fragment (amsmath, booktabs) or a standalone document.

The standalone document adds the computational graph as a TikZ figure; it
compiles with pdflatex (Chinese through ``CJKutf8`` and the ``gbsn`` font).
"""
from __future__ import annotations

import re

from pylatexenc.latexencode import unicode_to_latex

from symbackprop.render.breaking import break_sum, math_width, one_line
from symbackprop.render.blocks import INLINE_MATH, Equations, Figure, Heading, Para, Solution, Table
from symbackprop.render.tikz import TIKZ_PACKAGES, tikz_figure

#: what fits on a line of the standalone document (16 cm at 11 pt, in em), with room for
#: the error of width estimates
LINE_EM = 38.0

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
\let\sbpmathbb\mathbb
\renewcommand{\mathbb}[1]{\ifnum\pdfstrcmp{\detokenize{#1}}{1}=0 \mathbf{1}\else\sbpmathbb{#1}\fi}
%(tikz)s
%(cjk_pre)s
\begin{document}
%(cjk_begin)s"""

_SECTION = {1: "section*", 2: "section*", 3: "subsection*"}


def solution_latex(sol: Solution) -> str:
    """The body: sections, paragraphs, ``align*`` blocks and ``booktabs`` tables."""
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
            out.append(f"\\{_SECTION[b.level]}{{{b.text}}}")
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
        first, *rest = break_sum(r, room - (1.0 if k else 0.0))
        lines.append((f"{lhs} &= " if k == 0 else "&= ") + first)
        lines += [rf"&\quad {c}" for c in rest]
    return lines


def render_latex(d, *, lang: str | None = None, standalone: bool = False,
                 closed_forms: bool = False, graph: bool | None = None) -> str:
    """LaTeX of the worked solution; ``standalone`` wraps it in a compilable document.

    ``graph`` adds the computational graph as a TikZ figure (by default in a
    standalone document only: a fragment's host document may lack TikZ).
    """
    graph = standalone if graph is None else graph
    sol = d.solution(lang=lang, closed_forms=closed_forms, graph=graph)
    body = solution_latex(sol)
    if not standalone:
        return body
    zh = (lang or d.lang) == "zh"
    head = PREAMBLE % {
        "tikz": TIKZ_PACKAGES,
        "caption": ",labelsep=quad" if zh else "",  # 图 1 计算图 (no colon in Chinese)
        "cjk_pre": "\\usepackage{CJKutf8}" if zh else "",
        "cjk_begin": "\\begin{CJK}{UTF8}{gbsn}\n\\renewcommand{\\figurename}{图}" if zh else "",
    }
    title = f"\\begin{{center}}\\Large {escape_text(sol.title)}\\end{{center}}\n\n"
    tail = ("\\end{CJK}\n" if zh else "") + "\\end{document}\n"
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
