r"""The worked solution as an HTML fragment for the playground's middle pane.

The same blocks as the Markdown (:mod:`symbackprop.render.markdown`), written as HTML
whose math is left for KaTeX in the browser: each formula is the text of a
``<span class="math">`` (inline) or ``<div class="math display">`` (display),
HTML-escaped, and the page renders it; the computational graph is the Markdown's
Mermaid diagram, the text of a ``<pre class="mermaid-source">``. Every piece of
text, the spec's title included, is escaped: nothing a spec says becomes markup.

Each backward step is a ``<section class="step" data-node="…" data-targets="…">``;
``data-targets`` (JSON) lists the claims that step settles — ``∂L/∂v`` and the local
derivatives ``∂c/∂v``, spelled as :mod:`symbackprop.verification` names its targets —
so the page can point at the step of the first wrong claim.

>>> import symbackprop as sb
>>> html = solution_html(sb.derive("seed_scalar"))
>>> '<section class="step" id="step-1" data-node="a_2"' in html
True
>>> '<span class="math">L = 0.456</span>' in html
True
"""
from __future__ import annotations

import html as _html
import json
from typing import Optional

from symbackprop.derivation import Derivation
from symbackprop.render.blocks import INLINE_MATH, Equations, Figure, Heading, Para, Table
from symbackprop.render.breaking import one_line
from symbackprop.render.graph import graph_mermaid
from symbackprop.render.phrases import phrase


def _esc(text: str) -> str:
    return _html.escape(text, quote=True)


def inline(text: str) -> str:
    r"""Prose with ``$…$`` math as HTML: the prose escaped, each formula a ``span.math``.

    >>> inline("The loss is $L < 1$ & <b>")
    'The loss is <span class="math">L &lt; 1</span> &amp; &lt;b&gt;'
    """
    out, last = [], 0
    for m in INLINE_MATH.finditer(text):
        out.append(_esc(text[last:m.start()]))
        out.append(f'<span class="math">{_esc(m.group(1))}</span>')
        last = m.end()
    out.append(_esc(text[last:]))
    return "".join(out)


def _display(tex: str) -> str:
    return f'<div class="math display">{_esc(tex)}</div>'


def solution_html(d: Derivation, *, lang: Optional[str] = None, closed_forms: bool | str = False) -> str:
    """The worked solution of ``d``: title, network, graph, forward pass, numbered backward
    steps, gradient and update tables, as an HTML fragment (math left for KaTeX)."""
    lang = lang or d.lang
    sol = d.solution(lang=lang, closed_forms=closed_forms, graph=True)
    ctx = sol.ctx
    steps = iter(d.backward)
    out = [f'<h1 class="title">{inline(sol.title)}</h1>']
    part = step_open = False  # a <section class="part"> (level 2) holds its <section class="step">s
    for b in sol.blocks:
        if isinstance(b, Heading):
            if step_open:
                out.append("</section>")
                step_open = False
            if b.level <= 2:
                if part:
                    out.append("</section>")
                out.append('<section class="part">')
                part = True
            elif b.level == 3:
                step = next(steps, None)
                if step is not None:
                    targets = [f"∂{d.loss}/∂{step.node}"] + [f"∂{t.of}/∂{step.node}" for t in step.terms]
                    out.append(f'<section class="step" id="step-{step.number}" data-node="{_esc(step.node)}"'
                               f' data-targets="{_esc(json.dumps(targets, ensure_ascii=False))}">')
                    step_open = True
            out.append(f"<h{b.level}>{inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{inline(b.text)}</p>")
        elif isinstance(b, Equations):
            for eq in b.rows:
                parts = [eq.lhs.latex(ctx)] + [r.latex(ctx) for r in eq.rhs]
                if len(parts) <= 3 or one_line(parts[0], parts[1:]):
                    out.append(_display(" = ".join(parts)))
                else:
                    body = f"{parts[0]} &= {parts[1]} \\\\\n" + " \\\\\n".join(f"&= {p}" for p in parts[2:])
                    out.append(_display("\\begin{aligned}\n" + body + "\n\\end{aligned}"))
        elif isinstance(b, Figure):
            caption = phrase("figure", lang, caption=b.caption)
            out.append(f'<figure class="graph"><pre class="mermaid-source">{_esc(graph_mermaid(b.graph))}</pre>'
                       f"<figcaption>{inline(caption)}</figcaption></figure>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{inline(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in b.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    out += ["</section>"] * (step_open + part)
    return "\n".join(out) + "\n"
