r"""Plain-text writer for terminals: the same solution, math in Unicode.

Prose, headings and table cells hold LaTeX between dollars
(``Since $\hat{y} = \frac{e^{z_1}}{s}$, …``). The text writer reads that math with
pylatexenc's :class:`~pylatexenc.latex2text.LatexNodes2Text`, taught the few things a
terminal needs (a fraction ``a/b`` with its operands in parentheses, ``sqrt(x)``,
``1[z > 0]``, ``x^(-5)``), and names a node as the equations do
(:func:`~symbackprop.printing.names.text_name`), so that the text holds no LaTeX command:

>>> math_text(r"\frac{(\hat{y} - y)^2}{2}"), math_text(r"\frac{e^{z_1}}{s}")
('(ŷ - y)^2/2', 'e^(z_1)/s')
>>> math_text(r"\mu_B + 1.000 \times 10^{-5}"), math_text(r"\mathbb{1}\left[z > 0\right]")
('μ_B + 1.000 × 10^(-5)', '1[z > 0]')
>>> math_text(r"w \leftarrow w - \eta \, \frac{\partial L}{\partial w}")
'w ← w - η ∂L/∂w'
>>> math_text(r"\tanh{\left(z_{2} \right)}")
'tanh(z_2)'
>>> math_text(r"\left(\begin{cases} 1 & \text{for}\: z > 0 \\\frac{1}{100} & \text{otherwise} \end{cases}\right)")
'(1 if z > 0 else 1/100)'
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pylatexenc import latexwalker, macrospec
from pylatexenc.latex2text import (EnvironmentTextSpec, LatexNodes2Text, MacroTextSpec,
                                   get_default_latex_context_db)

from symbackprop.printing.names import text_name, SUPERSCRIPT
from symbackprop.render.blocks import INLINE_MATH, Equations, Heading, Para, Table


# ---- LaTeX math in Unicode ----------------------------------------------------
def _parenthesized(text: str) -> bool:
    """Whether ``text`` is one bracketed group: ``(a - b)``, not ``(a) - (b)``."""
    if not text or text[0] not in "([" or text[-1] not in ")]":
        return False
    depth = 0
    for i, c in enumerate(text):
        depth += c in "([{"
        depth -= c in ")]}"
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _atomic(text: str) -> bool:
    """Whether ``text`` reads as one operand next to ``/``: no operator outside brackets."""
    depth = 0
    for i, c in enumerate(text):
        depth += c in "([{"
        depth -= c in ")]}"
        if depth == 0 and (c in " +/·×⊙⊘=<>,←→∈" or c == "-" and i > 0):
            return False
    return True


def _operand(text: str, numerator: bool = False) -> str:
    """``text`` as an operand of ``/``: in parentheses unless it is one, though a numerator may be
    a product (``λ·x/2``, ``a b/2``, but ``a/(b c)``)."""
    text = text.strip()
    product = numerator and _atomic(text.replace(" ", "").replace("·", ""))
    return text if product or _atomic(text) else f"({text})"


def _frac(n, l2tobj) -> str:
    return (_operand(l2tobj.node_arg_to_text(n, 0), numerator=True) + "/" +
            _operand(l2tobj.node_arg_to_text(n, 1)))


def _sqrt(n, l2tobj) -> str:
    x = l2tobj.node_arg_to_text(n, 1).strip()
    index = l2tobj.node_arg_to_text(n, 0).strip()
    return f"{_operand(x)}^(1/{index})" if index else f"sqrt({x})"


#: blackboard letters with a Unicode character of their own; the indicator ``\mathbb{1}[z > 0]``
#: is ``1[z > 0]``, as the equations' printers write it
_BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼"}


def _blackboard(n, l2tobj) -> str:
    x = l2tobj.node_arg_to_text(n, 0).strip()
    return _BLACKBOARD.get(x, x)


def _last_argument(n, l2tobj) -> str:
    r"""The text a font or colour command holds (``\mathbf{0.116}`` is ``0.116``)."""
    args = n.nodeargd.argnlist if n.nodeargd else []
    return l2tobj.node_arg_to_text(n, len(args) - 1) if args else ""


#: how the math of a worked solution reads in a terminal, where pylatexenc reads otherwise
_SYMBOLS = [("times", "×"), ("cdot", "·"), ("odot", "⊙"), ("oslash", "⊘"), ("leftarrow", "←"),
            ("gets", "←"), ("to", "→"), ("rightarrow", "→"), ("in", "∈"), ("sum", "Σ"),
            ("prod", "Π"), ("|", "‖"), ("Vert", "‖"), ("top", "ᵀ"), ("intercal", "ᵀ"),
            ("quad", " "), ("qquad", " "), ("displaystyle", ""), ("textstyle", ""),
            ("left", ""), ("right", ""), ("bigl", ""), ("bigr", ""), ("Bigl", ""), ("Bigr", ""),
            ("mleft", ""), ("mright", "")]


def _cases(n, l2tobj) -> str:
    r"""``\begin{cases} 1 & \text{for}\: z > 0 \\ a & \text{otherwise} \end{cases}`` as the
    equations write a piecewise value: ``1 if z > 0 else a``."""
    rows: list[list[list]] = [[[]]]
    for node in n.nodelist:
        if node.isNodeType(latexwalker.LatexSpecialsNode) and node.specials_chars == "&":
            rows[-1].append([])
        elif node.isNodeType(latexwalker.LatexMacroNode) and node.macroname == "\\":
            rows.append([[]])
        else:
            rows[-1][-1].append(node)
    pieces = []
    for cells in rows:
        value, *rest = [re.sub(r"\s+", " ", l2tobj.nodelist_to_text(c)).strip() for c in cells]
        if not value and not rest:
            continue
        condition = re.sub(r"^(for|if)\b\s*", "", " ".join(rest)).strip()
        pieces.append((value, condition))
    out = ""
    for k, (value, condition) in enumerate(pieces):
        last = k == len(pieces) - 1
        out += value if last or condition in ("", "otherwise") else f"{value} if {condition} else "
    return out


def _text_context():
    db = get_default_latex_context_db()
    macros = [MacroTextSpec(m, simplify_repl=_frac) for m in ("frac", "tfrac", "dfrac")]
    macros += [MacroTextSpec("sqrt", simplify_repl=_sqrt),
               MacroTextSpec("mathbb", simplify_repl=_blackboard)]
    macros += [MacroTextSpec(m, simplify_repl=_last_argument)
               for m in ("mathbf", "boldsymbol", "bm", "mathrm", "mathit", "operatorname", "text",
                         "textrm", "textbf", "textcolor")]
    macros += [MacroTextSpec(m, r) for m, r in _SYMBOLS]
    db.add_context_category("symbackprop-text", macros=macros, prepend=True,
                            environments=[EnvironmentTextSpec("cases", simplify_repl=_cases)])
    return db


def _parse_context():
    """LaTeX as pylatexenc parses it, with the arguments of amsmath's commands."""
    db = latexwalker.get_default_latex_context_db()
    db.add_context_category("symbackprop-text", prepend=True, macros=[
        macrospec.std_macro("tfrac", False, 2), macrospec.std_macro("dfrac", False, 2),
        macrospec.MacroSpec("operatorname", "*{"), macrospec.std_macro("boldsymbol", False, 1),
        macrospec.std_macro("bm", False, 1), macrospec.std_macro("mathbb", False, 1)])
    return db


#: symbols written against what follows them: ``\partial L`` is ``∂L``
_PREFIXES = {"partial", "nabla"}
#: closing delimiters, written against what they close
_CLOSING = {"right", "bigr", "Bigr", "mright"}


class _MathToText(LatexNodes2Text):
    """pylatexenc's converter, with scripts grouped as text writes them (``e^(-z)``) and an
    unknown command kept as its name rather than dropped."""

    def macro_node_to_text(self, node):
        if self.latex_context.get_macro_spec(node.macroname) is None:
            args = node.nodeargd.argnlist if node.nodeargd else []
            return node.macroname + "".join(self._groupnodecontents_to_text(a) for a in args if a)
        return super().macro_node_to_text(node)

    def nodelist_to_text(self, nodelist):
        nodes, out, i = list(nodelist), "", 0
        while i < len(nodes):
            node = nodes[i]
            text = self.node_to_text(node)
            if node.isNodeType(latexwalker.LatexMacroNode) and node.macroname in _CLOSING:
                out = out.rstrip()  # "\left(z_{2} \right)" is "(z_2)"
            if node.isNodeType(latexwalker.LatexMacroNode) and node.macroname not in _PREFIXES \
                    and not (node.nodeargd and any(node.nodeargd.argnlist)):
                text += node.macro_post_space  # "\ln x" is "ln x", "\gamma \hat{x}" "γ x̂"
            script = (node.isNodeType(latexwalker.LatexCharsNode) and text.endswith(("^", "_"))
                      and i + 1 < len(nodes) and not nodes[i + 1].isNodeType(latexwalker.LatexCharsNode))
            if script:
                out += self._script(text, self.node_to_text(nodes[i + 1]).strip())
                i += 2
            else:
                out += text
                i += 1
        return out

    @staticmethod
    def _script(before: str, script: str) -> str:
        r"""``x^{…}``/``x_{…}`` without braces: a compound exponent in parentheses (``e^(-z)``), a
        layer index raised as :func:`text_name` raises it (``W⁽¹⁾``), a subscript as the spec's
        canonical names write it (``w_1,2``, ``Σ_(i=1)``)."""
        script = re.sub(r"^([-+−]) +", r"\1", script)  # e^{- z}: e^(-z)
        if before.endswith("_"):
            return before + (f"({script})" if re.search(r"[\s=+\-]", script) else script)
        if script == "ᵀ":
            return before[:-1] + script
        layer = re.fullmatch(r"\(([0-9+\-=]+)\)", script)
        if layer:
            return before[:-1] + script.translate(SUPERSCRIPT)
        simple = re.fullmatch(r"[^\W_]+", script) or _parenthesized(script)
        return before + (script if simple else f"({script})")


_MATH_TO_TEXT = _MathToText(_text_context(), math_mode="text", strict_latex_spaces=True)
_PARSE = _parse_context()


@lru_cache(maxsize=4096)
def math_text(latex: str, *, keep_spacing: bool = False) -> str:
    r"""LaTeX math in Unicode; spaces are made single unless ``keep_spacing`` (a display line
    whose columns mean something)."""
    nodes = latexwalker.LatexWalker(latex, latex_context=_PARSE,
                                    tolerant_parsing=True).get_latex_nodes()[0]
    text = _MATH_TO_TEXT.nodelist_to_text(nodes)
    return text if keep_spacing else re.sub(r"\s+", " ", text).strip()


def _plain(text: str, names: dict[str, str] | None = None) -> str:
    """Prose with ``$…$`` math in Unicode: a node's name as the equations write it
    (``$\\hat{y}$`` → ``ŷ``), other math by :func:`math_text`."""
    def repl(m):
        math = m.group(1).strip()
        if names and math in names:
            return text_name(names[math])
        return math_text(math)
    return INLINE_MATH.sub(repl, text)


def _segment(segment, ctx) -> str:
    """A math segment in plain text. A segment's own plain text should hold no LaTeX; a
    name that still comes out in LaTeX (``∂L/∂\\hat{y}``) is read like prose."""
    text = segment.text(ctx)
    return math_text(text, keep_spacing=True) if "\\" in text else text


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
    names = {tex: name for name, tex in ctx.names.items()}  # LaTeX spelling -> canonical

    def plain(text: str) -> str:
        return _plain(text, names)

    title = plain(sol.title)
    out = [title, "=" * display_width(title)]
    for b in sol.blocks:
        if isinstance(b, Heading):
            t = plain(b.text)
            out += ["", t, ("-" if b.level == 2 else "·") * display_width(t)]
        elif isinstance(b, Para):
            out.append(plain(b.text))
        elif isinstance(b, Equations):
            for eq in b.rows:
                lhs, rhs = _segment(eq.lhs, ctx), [_segment(r, ctx) for r in eq.rhs]
                chain = " = ".join([lhs, *rhs])
                if display_width(chain) <= ONE_LINE:  # as the article writes a short chain
                    out.append(f"  {chain}")
                    continue
                out.append(f"  {lhs} = {rhs[0]}")
                out += [f"  {' ' * display_width(lhs)} = {r}" for r in rhs[1:]]
        elif isinstance(b, Table):
            rows = [[plain(c) for c in b.header]] + [[plain(c) for c in r] for r in b.rows]
            widths = [max(display_width(r[i]) for r in rows) for i in range(len(b.header))]
            for k, r in enumerate(rows):
                cells = (c + " " * (w - display_width(c)) for c, w in zip(r, widths))
                out.append("  " + "  ".join(cells).rstrip())
                if k == 0:
                    out.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"
