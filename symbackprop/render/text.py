"""Plain-text writer for terminals: the same solution, math in Unicode."""
from __future__ import annotations

import re
import unicodedata

from symbackprop.render.blocks import INLINE_MATH, Equations, Heading, Para, Table

_SIMPLE = [(r"\frac{\partial ", "∂"), (r"}{\partial ", "/∂"), (r"\eta", "η"),
           (r"\leftarrow", "←"), (r"\,", " "), (r"\times", "×"), (r"\cdot", "·")]


def _plain(text: str) -> str:
    """Inline LaTeX of prose made readable: ``$a_{2}$`` → ``a_2``."""
    def repl(m):
        s = m.group(1)
        for a, b in _SIMPLE:
            s = s.replace(a, b)
        s = re.sub(r"\\(?:operatorname|mathrm|mathbf|mathbb)\{([^{}]*)\}", r"\1", s)
        s = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"\1/\2", s)
        s = re.sub(r"_\{([^{}]*)\}", r"_\1", s)
        s = s.replace(r"\left", "").replace(r"\right", "").replace(r"\sigma", "σ")
        s = re.sub(r"\\(log|ln|tanh|exp|sin|cos|sqrt|max|min)\b", r"\1", s)
        return re.sub(r"\s+", " ", s.replace("{", "").replace("}", ""))
    return INLINE_MATH.sub(repl, text)


#: a chain ``lhs = a = b = c`` up to this many columns is printed on one line
ONE_LINE = 76


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: CJK characters take two.

    >>> display_width("第 1 步"), display_width("Step 1")
    (7, 6)
    """
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def render_text(d, *, lang: str | None = None, closed_forms: bool = False) -> str:
    """The worked solution as plain text."""
    sol = d.solution(lang=lang, closed_forms=closed_forms)
    ctx = sol.ctx
    out = [sol.title, "=" * display_width(sol.title)]
    for b in sol.blocks:
        if isinstance(b, Heading):
            t = _plain(b.text)
            out += ["", t, ("-" if b.level == 2 else "·") * display_width(t)]
        elif isinstance(b, Para):
            out.append(_plain(b.text))
        elif isinstance(b, Equations):
            for eq in b.rows:
                lhs, rhs = eq.lhs.text(ctx), [r.text(ctx) for r in eq.rhs]
                chain = " = ".join([lhs, *rhs])
                if display_width(chain) <= ONE_LINE:  # as the article writes a short chain
                    out.append(f"  {chain}")
                    continue
                out.append(f"  {lhs} = {rhs[0]}")
                out += [f"  {' ' * display_width(lhs)} = {r}" for r in rhs[1:]]
        elif isinstance(b, Table):
            rows = [b.header] + [[_plain(c) for c in r] for r in b.rows]
            widths = [max(display_width(r[i]) for r in rows) for i in range(len(b.header))]
            for k, r in enumerate(rows):
                cells = (c + " " * (w - display_width(c)) for c, w in zip(r, widths))
                out.append("  " + "  ".join(cells).rstrip())
                if k == 0:
                    out.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"
