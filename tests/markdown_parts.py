"""The parts of a worked solution's Markdown that other programs render: math and Mermaid.

:func:`math_blocks` finds every ``$$…$$`` block and inline ``$…$`` (what KaTeX must
parse), :func:`mermaid_blocks` every ``mermaid`` code block, and :func:`mermaid_labels`
the text each node label of a diagram should show once rendered.
"""
from __future__ import annotations

import html
import re

_DISPLAY = re.compile(r"^\$\$\n(.*?)\n\$\$$", re.S | re.M)
_INLINE = re.compile(r"(?<![\\$])\$([^$\n]+?)\$(?!\$)")
_MERMAID = re.compile(r"^```mermaid\n(.*?)\n```$", re.S | re.M)

# a value box n3["…"]:::kind and an operation circle n3_op(("…"))
_BOX = re.compile(r'^\s+(\w+)\["(.*)"\](?::::\w+)?$', re.M)
_CIRCLE = re.compile(r'^\s+(\w+)\(\("(.*)"\)\)$', re.M)


def math_blocks(markdown: str) -> list[dict]:
    """Every math block of ``markdown``: ``{"tex", "display", "line"}``."""
    blocks = []
    for m in _DISPLAY.finditer(markdown):
        blocks.append({"tex": m.group(1), "display": True,
                       "line": markdown.count("\n", 0, m.start()) + 1})
    prose = _DISPLAY.sub(lambda m: "\n" * m.group(0).count("\n"), markdown)
    prose = _MERMAID.sub(lambda m: "\n" * m.group(0).count("\n"), prose)
    for number, line in enumerate(prose.splitlines(), start=1):
        for m in _INLINE.finditer(line):
            blocks.append({"tex": m.group(1), "display": False, "line": number})
            # a '|' in math would split a table cell on GitHub-style renderers
            assert not (line.startswith("|") and "|" in m.group(1)), f"line {number}: '|' in a cell"
        left = _INLINE.sub("", line)
        assert "$" not in left, f"line {number}: unpaired '$' in {line!r}"
    return blocks


def mermaid_blocks(markdown: str) -> list[str]:
    """The source of every ``mermaid`` code block of ``markdown``."""
    return _MERMAID.findall(markdown)


def mermaid_labels(diagram: str) -> dict[str, str]:
    r"""``{node id: text}`` of every node of a flowchart we write, as a browser shows the text:
    ``<br/>`` a line break, other tags gone, Mermaid's ``#name;`` and HTML's entities decoded.

    >>> mermaid_labels('flowchart LR\n  n0["<i>W</i> = [1; 2]<br/>#quot;a#quot; &lt; #35;"]:::param'
    ...                '\n  n1_op(("1[·&gt;0]"))')
    {'n0': 'W = [1; 2]\n"a" < #', 'n1_op': '1[·>0]'}
    """
    labels = {}
    for pattern in (_BOX, _CIRCLE):
        for m in pattern.finditer(diagram):
            labels[m.group(1)] = label_text(m.group(2))
    return dict(sorted(labels.items(), key=lambda item: diagram.index(f"  {item[0]}")))


def label_text(label: str) -> str:
    """The text that a Mermaid label's HTML shows."""
    text = re.sub(r"<br\s*/?>", "\n", label)
    text = re.sub(r"<[^>]*>", "", text)
    text = re.sub(r"#(\d+);", r"&#\1;", text)  # Mermaid's entities are HTML's without the '&'
    text = re.sub(r"#([A-Za-z]\w*);", r"&\1;", text)
    return html.unescape(text)
