"""LaTeX writer: a fragment (amsmath, booktabs) or a standalone document.

The standalone document adds the computational graph as a TikZ figure; it
compiles with pdflatex (Chinese through ``CJKutf8`` and the ``gbsn`` font).
"""
from __future__ import annotations

import re

from .solution import Equations, Figure, Heading, Para, Solution, Table, build_solution
from .tikz import TIKZ_PACKAGES, tikz_figure

PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath,amssymb,booktabs}
\usepackage{adjustbox}
%(tikz)s
%(cjk_pre)s
\begin{document}
%(cjk_begin)s"""

_SECTION = {1: "section*", 2: "section*", 3: "subsection*"}


def solution_latex(sol: Solution) -> str:
    """The body: sections, paragraphs, ``align*`` blocks and ``booktabs`` tables."""
    out = []
    ctx = sol.ctx
    for b in sol.blocks:
        if isinstance(b, Heading):
            out.append(f"\\{_SECTION[b.level]}{{{b.text}}}")
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Equations):
            rows = []
            for eq in b.rows:
                rhs = eq.rhs
                first = f"{eq.lhs.latex(ctx)} &= {rhs[0].latex(ctx)}"
                rest = [f"&= {r.latex(ctx)}" for r in rhs[1:]]
                rows.append(" \\\\\n  ".join([first] + rest))
            out.append("\\begin{align*}\n  " + " \\\\\n  ".join(rows) + "\n\\end{align*}")
        elif isinstance(b, Table):
            cols = "l" * len(b.header)
            lines = [f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
                     " & ".join(b.header) + " \\\\", "\\midrule"]
            lines += [" & ".join(r) + " \\\\" for r in b.rows]
            lines += ["\\bottomrule", "\\end{tabular}"]
            out.append("\\begin{center}\n" + "\n".join(lines) + "\n\\end{center}")
        elif isinstance(b, Figure):
            out.append(tikz_figure(b.graph, b.caption))
    return "\n\n".join(out) + "\n"


def render_latex(d, *, lang: str | None = None, standalone: bool = False,
                 closed_forms: bool = False, graph: bool | None = None) -> str:
    """LaTeX of the worked solution; ``standalone`` wraps it in a compilable document.

    ``graph`` adds the computational graph as a TikZ figure (by default in a
    standalone document only: a fragment's host document may lack TikZ).
    """
    graph = standalone if graph is None else graph
    sol = build_solution(d, lang=lang, closed_forms=closed_forms, graph=graph)
    body = solution_latex(sol)
    if not standalone:
        return body
    zh = (lang or d.lang) == "zh"
    head = PREAMBLE % {
        "tikz": TIKZ_PACKAGES,
        "cjk_pre": "\\usepackage{CJKutf8}" if zh else "",
        "cjk_begin": "\\begin{CJK}{UTF8}{gbsn}\n\\renewcommand{\\figurename}{图}" if zh else "",
    }
    title = f"\\begin{{center}}\\Large {escape_text(sol.title)}\\end{{center}}\n\n"
    tail = ("\\end{CJK}\n" if zh else "") + "\\end{document}\n"
    return head + title + body + tail


_SPECIAL = re.compile(r"([&%#_{}])|(\\)|(~)|(\^)")


def escape_text(text: str) -> str:
    r"""Plain text (a title) made safe for LaTeX; ``$…$`` math is kept as it is.

    >>> escape_text("Loss & gradients: 100% of $w_1$")
    'Loss \\& gradients: 100\\% of $w_1$'
    """
    parts = re.split(r"(\$[^$]*\$)", text)
    for i in range(0, len(parts), 2):
        parts[i] = _SPECIAL.sub(_escape_one, parts[i])
    return "".join(parts)


def _escape_one(m: re.Match) -> str:
    if m.group(1):
        return "\\" + m.group(1)
    if m.group(2):
        return r"\textbackslash{}"
    if m.group(3):
        return r"\textasciitilde{}"
    return r"\textasciicircum{}"
