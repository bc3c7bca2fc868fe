"""Markdown writer: prose with ``$…$`` inline math and ``$$`` display blocks."""
from __future__ import annotations

from symbackprop.render.breaking import one_line
from symbackprop.render.graph import graph_mermaid
from symbackprop.render.phrases import phrase
from symbackprop.render.blocks import Equations, Figure, Heading, Para, Table


def render_markdown(d, *, lang: str | None = None, closed_forms: bool = False) -> str:
    """Markdown of the worked solution (KaTeX/MathJax compatible math)."""
    sol = d.solution(lang=lang, closed_forms=closed_forms, graph=True)
    ctx = sol.ctx
    out = [f"# {sol.title}"]
    for b in sol.blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Equations):
            for eq in b.rows:
                parts = [eq.lhs.latex(ctx)] + [r.latex(ctx) for r in eq.rhs]
                if len(parts) <= 3 or one_line(parts[0], parts[1:]):
                    out.append("$$\n" + " = ".join(parts) + "\n$$")
                else:
                    body = f"{parts[0]} &= {parts[1]} \\\\\n" + " \\\\\n".join(
                        f"&= {p}" for p in parts[2:])
                    out.append("$$\n\\begin{aligned}\n" + body + "\n\\end{aligned}\n$$")
        elif isinstance(b, Figure):  # drawn by Mermaid, as GitHub and GitLab render it
            out.append("```mermaid\n" + graph_mermaid(b.graph) + "\n```")
            out.append("*" + phrase("figure", lang or d.lang, caption=b.caption) + "*")
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(b.header) + " |", "|" + "---|" * len(b.header)]
            lines += ["| " + " | ".join(r) + " |" for r in b.rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"
