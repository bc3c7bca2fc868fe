"""Render a worked solution's math and Mermaid diagrams in a real browser.

Debian's Chromium (``apt-get install chromium``), driven by Playwright's Python package
(``pip install playwright``; never ``playwright install``: the browser is Debian's, found
with ``shutil.which("chromium")``), loads a local page with the npm-installed KaTeX and
Mermaid (``npm install``; no CDN). :class:`Browser` keeps one browser and one page open
and renders a batch at a time:

- :meth:`Browser.render_math` renders each TeX string with KaTeX and returns the error of
  each, read off its ``.katex-error`` node;
- :meth:`Browser.render_mermaid` renders each diagram and reads back, from the SVG, each
  node label's text as shown (``innerText``), whether the label fits its box, and the
  colour of its gradient row.

As a program it takes a screenshot of one worked solution, to look at::

    python tests/browser.py derivations/seed_matrix.toml /tmp/seed_matrix.png [--lang zh]
"""
from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MERMAID_JS = ROOT / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
KATEX_JS = ROOT / "node_modules" / "katex" / "dist" / "katex.min.js"
KATEX_CSS = ROOT / "node_modules" / "katex" / "dist" / "katex.min.css"

#: KaTeX's options: what it only warns about may break other renderers, so it is an error
KATEX_OPTIONS = {"throwOnError": False, "strict": "error"}

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<link rel="stylesheet" href="{katex_css}">
<script src="{katex_js}"></script>
<script src="{mermaid_js}"></script>
<style>
  body {{ font-family: "DejaVu Sans", "WenQuanYi Micro Hei", sans-serif; max-width: 60em;
         margin: 1em auto; padding: 0 1em; line-height: 1.5; }}
  table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.2em 0.5em; }}
  pre {{ background: #f6f8fa; padding: 0.5em; overflow-x: auto; }}
  .diagram {{ margin: 1em 0; }}
</style>
<script>
mermaid.initialize({{ startOnLoad: false }});  // GitHub's settings: securityLevel "strict"
const KATEX_OPTIONS = {katex_options};

// Each TeX string into a fresh element; the error of each, or null.
window.renderMath = (blocks) => blocks.map(({{ tex, display }}) => {{
  const el = document.createElement(display ? "div" : "span");
  document.body.append(el);
  let error = null;
  try {{
    katex.render(tex, el, {{ ...KATEX_OPTIONS, displayMode: display }});
    const node = el.querySelector(".katex-error");
    if (node) error = node.getAttribute("title") || node.textContent;
    else if (!el.querySelector(".katex")) error = "KaTeX drew nothing";
  }} catch (e) {{
    error = String(e.message || e);
  }}
  el.remove();
  return error;
}});

// One diagram's nodes as drawn: id, label text, whether the label fits, gradient colour.
function readNodes(svg) {{
  return [...svg.querySelectorAll("g.node")].map((g) => {{
    const id = (g.id.match(/-flowchart-(.+)-\\d+$/) || [null, g.id])[1];
    const label = g.querySelector(".nodeLabel");
    const box = g.querySelector("foreignObject");
    const gradient = g.querySelector(".gradient > span");
    let fits = false;
    if (label && box) {{
      const l = label.getBoundingClientRect(), b = box.getBoundingClientRect();
      fits = l.width > 0 && l.height > 0 && l.left >= b.left - 1 && l.right <= b.right + 1 &&
             l.top >= b.top - 1 && l.bottom <= b.bottom + 1;
    }}
    return {{ id, text: label ? label.innerText : null, fits,
             gradientColor: gradient ? getComputedStyle(gradient).color : null }};
  }});
}}

// Each diagram rendered into the page and read back: {{nodes}} or {{error}}.
window.renderMermaid = async (diagrams, keep) => {{
  const results = [];
  for (const [i, source] of diagrams.entries()) {{
    const host = document.createElement("div");
    host.className = "diagram";
    document.body.append(host);
    try {{
      const {{ svg }} = await mermaid.render(`diagram${{i}}-${{Date.now()}}`, source);
      host.innerHTML = svg;
      const drawn = host.querySelector("svg");
      if (!drawn || drawn.querySelector(".error-icon, .error-text"))
        throw new Error("Mermaid drew its error picture");
      results.push({{ nodes: readNodes(drawn) }});
    }} catch (e) {{
      results.push({{ error: String(e.message || e) }});
    }}
    if (!keep) host.remove();
  }}
  return results;
}};
</script>
</head><body>
{body}
</body></html>
"""


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright's Python package is not installed (pip install playwright)"
    missing = [p.relative_to(ROOT).as_posix() for p in (MERMAID_JS, KATEX_JS, KATEX_CSS)
               if not p.exists()]
    if missing:
        return f"{', '.join(missing)} missing (run `npm install`)"
    return None


def page_html(body: str = "") -> str:
    """A page with KaTeX and Mermaid from node_modules and the render functions above."""
    return _PAGE.format(katex_css=KATEX_CSS.as_uri(), katex_js=KATEX_JS.as_uri(),
                        mermaid_js=MERMAID_JS.as_uri(), katex_options=json.dumps(KATEX_OPTIONS),
                        body=body)


class Browser:
    """One headless Chromium with one page of KaTeX and Mermaid; use it as a context manager."""

    def __enter__(self) -> "Browser":
        from playwright.sync_api import sync_playwright

        self._dir = tempfile.TemporaryDirectory(prefix="symbackprop-browser-")
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=shutil.which("chromium"), headless=True,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync"])
            self.page = self._browser.new_page(viewport={"width": 1100, "height": 900})
            self.page.set_default_timeout(120_000)
            self.errors: list[str] = []
            self.page.on("pageerror", lambda e: self.errors.append(str(e)))
            self.load()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        browser = getattr(self, "_browser", None)
        if browser is not None:
            browser.close()
        self._playwright.stop()
        self._dir.cleanup()

    def load(self, body: str = "") -> None:
        """(Re)load the page from a local file, with ``body`` as its content."""
        path = Path(self._dir.name) / "page.html"
        path.write_text(page_html(body), encoding="utf-8")
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.katex !== undefined && window.mermaid !== undefined")

    def render_math(self, blocks: list[dict]) -> list[str | None]:
        """KaTeX's error for each ``{"tex", "display"}``, None where it rendered."""
        return self.page.evaluate("blocks => renderMath(blocks)",
                                  [{"tex": b["tex"], "display": b["display"]} for b in blocks])

    def render_mermaid(self, diagrams: list[str]) -> list[dict]:
        """For each diagram ``{"error": message}`` or ``{"nodes": [{"id", "text", "fits",
        "gradientColor"}, …]}`` read back from the SVG that Mermaid drew."""
        return self.page.evaluate("diagrams => renderMermaid(diagrams, false)", diagrams)

    def screenshot_markdown(self, markdown: str, path: Path | str) -> dict:
        """Show ``markdown`` as a page (math by KaTeX, graph by Mermaid), save a full-page
        PNG to ``path``; what was found wrong: ``{"math": [...], "mermaid": [...]}``."""
        body, math, diagrams = _markdown_page(markdown)
        self.load(body)
        found = self.page.evaluate("""async ([math, diagrams]) => {
            const problems = {math: [], mermaid: []};
            document.querySelectorAll(".math").forEach((el) => {
              const block = math[Number(el.dataset.i)];
              katex.render(block.tex, el, {...KATEX_OPTIONS, displayMode: block.display});
              const bad = el.querySelector(".katex-error");
              if (bad) problems.math.push(bad.getAttribute("title"));
            });
            for (const el of document.querySelectorAll(".mermaid-diagram")) {
              try {
                const { svg } = await mermaid.render(`page${el.dataset.i}`, diagrams[Number(el.dataset.i)]);
                el.innerHTML = svg;
              } catch (e) { problems.mermaid.push(String(e.message || e)); }
            }
            await document.fonts.ready;
            return problems;
        }""", [math, diagrams])
        self.page.screenshot(path=str(path), full_page=True)
        return found


def _markdown_page(markdown: str) -> tuple[str, list[dict], list[str]]:
    """``markdown`` as HTML with placeholders for its math and diagrams, which the page renders."""
    from markdown_parts import _DISPLAY, _INLINE, _MERMAID

    math, diagrams = [], []

    def hold_diagram(m: re.Match) -> str:
        diagrams.append(m.group(1))
        return f'\n\n<div class="mermaid-diagram diagram" data-i="{len(diagrams) - 1}"></div>\n\n'

    def hold_math(display: bool):
        def hold(m: re.Match) -> str:
            math.append({"tex": m.group(1), "display": display})
            return f"\n\nMATHD{len(math) - 1}X\n\n" if display else f"MATHI{len(math) - 1}X"
        return hold

    text = _MERMAID.sub(hold_diagram, markdown)
    text = _DISPLAY.sub(hold_math(True), text)
    text = _INLINE.sub(hold_math(False), text)
    try:
        import mistune

        body = mistune.create_markdown(escape=False, plugins=["table"])(text)
    except ImportError:  # no Markdown converter: the prose as it is
        body = f"<pre>{html.escape(text)}</pre>"
    body = re.sub(r"(?:<p>)?MATHD(\d+)X(?:</p>)?", r'<div class="math" data-i="\1"></div>', body)
    body = re.sub(r"MATHI(\d+)X", r'<span class="math" data-i="\1"></span>', body)
    return body, math, diagrams


def main(argv: list[str] | None = None) -> int:
    import argparse

    import symbackprop as sb

    parser = argparse.ArgumentParser(description="Screenshot a worked solution in Chromium.")
    parser.add_argument("spec", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--lang", default=None)
    args = parser.parse_args(argv)
    reason = unavailable()
    if reason:
        parser.error(reason)
    options = {"lang": args.lang} if args.lang else {}
    markdown = sb.derive(args.spec, **options).to_markdown(**options)
    with Browser() as browser:
        problems = browser.screenshot_markdown(markdown, args.png)
    print(f"wrote {args.png}; problems: {problems}")
    return 1 if problems["math"] or problems["mermaid"] else 0


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
