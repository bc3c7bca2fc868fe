"""LaTeX writer: a fragment (amsmath, booktabs) or a standalone document."""
from __future__ import annotations

from .solution import Equations, Heading, Para, Solution, Table, build_solution

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath,amssymb,booktabs}
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
    return "\n\n".join(out) + "\n"


def render_latex(d, *, lang: str | None = None, standalone: bool = False,
                 closed_forms: bool = False) -> str:
    """LaTeX of the worked solution; ``standalone`` wraps it in a compilable document."""
    sol = build_solution(d, lang=lang, closed_forms=closed_forms)
    body = solution_latex(sol)
    if not standalone:
        return body
    zh = (lang or d.lang) == "zh"
    head = PREAMBLE % {
        "cjk_pre": "\\usepackage{CJKutf8}" if zh else "",
        "cjk_begin": "\\begin{CJK}{UTF8}{gbsn}" if zh else "",
    }
    title = f"\\begin{{center}}\\Large {sol.title}\\end{{center}}\n\n"
    tail = ("\\end{CJK}\n" if zh else "") + "\\end{document}\n"
    return head + title + body + tail
