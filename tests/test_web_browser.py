"""The web playground in a real browser: Debian's Chromium, driven by Playwright's Python package.

A server on a free loopback port (in a thread of this process); the page is loaded and used
as a student would: type the article's spec (``derivations/seed_scalar.toml``) and see
L = 0.456 and every step's value drawn by KaTeX, with no KaTeX error node; type a wrong
claim and see its diagnosis beside it and the step it concerns marked; fix it and see ✓;
switch to Chinese; download the exported module and run it. ``/?example=NAME`` opens an
example already rendered (also for ``chromium --dump-dom``), a broken spec shows its error
at its line and column, and the digits and hand-mode controls redo the numbers.

As tests/browser.py: the browser is Debian's (``shutil.which("chromium")``, never
``playwright install``). Without chromium, playwright or the web extra the tests skip,
except on CI (``CI=true``), where ``.ci/run`` installs them and a skip would hide a broken
install. Set ``SYMBACKPROP_WEB_SCREENSHOT=docs/web_playground.png`` to keep the screenshot
the README shows.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import symbackprop as sb
from symbackprop.printing.numbers import fmt

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "derivations" / "seed_scalar.toml"
SPEC = SEED.read_text(encoding="utf-8")
WRONG = r"\frac{\partial L}{\partial w_1} = 0.126"


def unavailable() -> str | None:
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install chromium)"
    for module, extra in (("playwright", "test"), ("starlette", "web"), ("uvicorn", "web")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[{extra}]')"
    return None


@pytest.fixture(scope="module")
def server():
    reason = unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: .ci/run should have installed it")
        pytest.skip(reason)
    from symbackprop.web import BackgroundServer

    with BackgroundServer(workers=2) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                    "--disable-background-networking", "--disable-component-update",
                                    "--disable-sync", "--no-proxy-server"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 950}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # a 400 answer to a half-typed spec is logged as a failed load: that is the page working
    page.on("console", lambda m: problems.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    yield page
    context.close()
    assert not problems, problems


def katex_text(page, selector: str) -> str:
    """The text KaTeX drew inside ``selector`` (its HTML, not the MathML), minus signs as ``-``,
    without spaces (nor the zero-width ones KaTeX puts in sub- and superscripts)."""
    text = page.eval_on_selector_all(f"{selector} .katex-html", "els => els.map(e => e.textContent).join('|')")
    return re.sub(r"[\s\u200b]+", "", text.replace("\u2212", "-"))


def wait_for_solution(page, text: str) -> None:
    page.wait_for_function("""text => {
        const s = document.querySelector('#solution');
        return !s.classList.contains('stale') &&
               [...s.querySelectorAll('.katex-html')].some(
                   k => k.textContent.replace(/[\\s\\u200b]+/g, '').replace(/\\u2212/g, '-').includes(text));
    }""", arg=text)


def test_type_the_article_spec_check_a_claim_switch_language_download_the_module(page, server, tmp_path):
    start = time.monotonic()
    page.goto(server)
    assert page.locator("#solution .empty").is_visible()

    # the article's spec, typed
    page.click("#spec")
    page.keyboard.type(SPEC)
    wait_for_solution(page, "L=0.456")
    page.wait_for_selector("#solution figure .diagram svg")  # the graph, by Mermaid
    assert page.locator("#solution .katex-error").count() == 0
    assert page.locator("#spec-error").is_hidden()
    d = sb.derive(SEED)
    forward = katex_text(page, "#solution")
    for node in d.network.order:
        if not d.network.node(node).is_leaf:
            assert f"={fmt(d.value(node), 3)}" in forward, node
    for step in d.backward:  # each numbered step shows its value
        shown = katex_text(page, f"#step-{step.number}")
        assert f"={fmt(d.adjoint_value(step.node), 3)}" in shown, (step.number, step.node, shown)
    for p, u in d.updates.items():
        assert fmt(u.updated, 3) in forward, p

    # a wrong claim: its diagnosis beside the line, the step it concerns marked
    page.click("#claims")
    page.keyboard.type(WRONG)
    page.wait_for_selector("#verdicts li.incorrect")
    message = page.inner_text("#verdicts li.incorrect .message")
    assert "0.116" in message and "0.126" in message, message
    line = page.locator('#claims-editor .ln[data-n="1"]')
    assert "bad" in line.get_attribute("class") and "first" in line.get_attribute("class")
    assert line.get_attribute("data-mark") == "✗"
    assert "0.116" in line.locator(".hint").inner_text()
    assert page.locator('#solution section.step.claimed-wrong').get_attribute("data-node") == "w_1"

    # fixed: ✓
    page.keyboard.press("End")
    for _ in range(3):
        page.keyboard.press("Backspace")
    page.keyboard.type("116")
    page.wait_for_selector("#verdicts li.correct")
    assert page.locator('#claims-editor .ln[data-n="1"]').get_attribute("data-mark") == "✓"
    assert page.locator("#verdicts li.incorrect, #solution section.step.claimed-wrong").count() == 0

    # in Chinese: the solution, the controls and the diagnosis
    page.click("#lang-zh")
    page.wait_for_function("() => [...document.querySelectorAll('#solution h2')].some(h => h.textContent === '前向传播')")
    wait_for_solution(page, "L=0.456")
    assert page.inner_text('[data-i18n="solution_title"]') == "解题过程"
    assert "lang=zh" in page.url
    page.wait_for_function("() => /[\\u4e00-\\u9fff]/.test(document.querySelector('#verdicts li.correct .message').textContent)")
    assert page.locator("#solution .katex-error").count() == 0

    # the exported module, downloaded and run
    with page.expect_download() as download:
        page.click("#download-py")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name.endswith(".py")
    spec = importlib.util.spec_from_file_location("downloaded_grads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loss, grads = module.loss_and_grad(**sb.load_spec(SEED).values)
    assert float(loss) == pytest.approx(d.loss_value)
    for p in d.params:
        assert float(grads[p]) == pytest.approx(d.gradient_value(p), rel=1e-12)
    assert time.monotonic() - start < 60


def test_an_example_opens_rendered_and_errors_show_at_their_line_and_column(page, server, tmp_path):
    page.goto(server + "?example=seed_scalar", wait_until="load")
    # drawn by the time the page has loaded: the solution came with the page
    assert page.locator("#solution .katex").count() > 50
    assert "L=0.456" in katex_text(page, "#solution")
    assert page.locator("#solution .katex-error").count() == 0
    page.wait_for_selector("#verdicts .summary")  # the bundled worked solution: every claim ✓
    assert page.locator("#verdicts li.incorrect, #verdicts li.error").count() == 0
    assert page.input_value("#examples") == "seed_scalar"

    # one wrong step added at the end: marked, and a click on it shows its step of the solution
    page.click("#claims")
    page.keyboard.press("Control+End")
    page.keyboard.type("\n" + WRONG)
    page.wait_for_selector("#verdicts li.first.incorrect")
    page.click("#verdicts li.first.incorrect")
    assert page.locator("#solution section.step.claimed-wrong").is_visible()
    page.screenshot(path=str(tmp_path / "playground.png"))
    if os.environ.get("SYMBACKPROP_WEB_SCREENSHOT"):  # the README's picture
        shutil.copyfile(tmp_path / "playground.png", os.environ["SYMBACKPROP_WEB_SCREENSHOT"])

    # a broken line: the error at its line and column, the server goes on
    page.fill("#spec", SPEC.replace("L = (a_2 - y)^2", "L = (a_2 - y^2"))
    page.wait_for_selector("#spec-error:not([hidden])")
    assert page.inner_text("#spec-error .where").startswith("line 8, column 5")
    assert page.locator('#spec-editor .ln.spec-error[data-n="8"] .col').inner_text() == "("
    assert page.locator("#solution.stale").count() == 1
    page.fill("#spec", SPEC)
    page.wait_for_selector("#spec-error[hidden]", state="attached")
    wait_for_solution(page, "L=0.456")

    # digits and hand mode: (0.32 - 1)^2 = 0.46 carried exactly, (0.33 - 1)^2 = 0.45 by hand
    page.fill("#digits", "2")
    wait_for_solution(page, "(0.32-1)2=0.46")
    page.select_option("#mode", "hand")
    wait_for_solution(page, "(0.33-1)2=0.45")


def test_chromium_dump_dom_shows_the_rendered_example(server):
    """``chromium --headless --dump-dom 'http://127.0.0.1:PORT/?example=seed_scalar'``."""
    done = subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--no-proxy-server", "--dump-dom", server + "?example=seed_scalar"],
                          capture_output=True, text=True, timeout=120)
    assert 'class="katex"' in done.stdout and "0.456" in done.stdout, done.stderr[-2000:]
    assert "katex-error" not in done.stdout
