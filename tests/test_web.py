"""The web playground's API, through Starlette's ASGI test client (and, for the load test, a
real server on loopback): every endpoint answers with the command line's own output; errors
are JSON with the line and column; a body over 200 kB, a spec that runs too long, a name
that climbs out of the examples and a foreign Host header are refused, and the server keeps
serving.

Without Starlette, uvicorn or httpx (the ``web`` and ``test`` extras) the tests skip, except
on CI (``CI=true``), where a skip would hide a broken install.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

import symbackprop as sb
from symbackprop.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "derivations" / "seed_scalar.toml"
SPEC = SEED.read_text(encoding="utf-8")
CLAIMS = (ROOT / "derivations" / "seed_scalar.claims").read_text(encoding="utf-8")
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy

_missing = [m for m in ("starlette", "uvicorn", "httpx") if importlib.util.find_spec(m) is None]
if _missing:
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{', '.join(_missing)} missing: the test extra should have installed it")
    pytest.skip(f"{', '.join(_missing)} not installed (pip install -e '.[test]')", allow_module_level=True)

with warnings.catch_warnings():  # Starlette ≥ 1.x would rather have httpx2; httpx works with every version
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from symbackprop.web import BackgroundServer, create_app  # noqa: E402
from symbackprop.web.tasks import HARDENED_ENV, locate  # noqa: E402

@pytest.fixture(scope="module")
def client():
    app = create_app(workers=2)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def cli(capsys, *argv) -> str:
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code in (0, 1), out
    return out


# ---- examples -----------------------------------------------------------------------------
def test_examples_list_every_bundled_example(client):
    r = client.get("/api/examples")
    assert r.status_code == 200
    got = {e["name"]: e for e in r.json()}
    assert sorted(got) == sb.bundled.names()
    assert got["seed_scalar"]["claims"] is True and got["micrograd_ops"]["claims"] is False
    for name, e in got.items():
        assert e["title"] == sb.bundled.title(name)
    assert got["seed_scalar"]["titles"]["zh"] == sb.bundled.read_spec("seed_scalar").network.titles["zh"]


def test_an_example_is_its_spec_and_claims(client):
    r = client.get("/api/examples/seed_scalar")
    assert r.status_code == 200
    assert r.json() == {"name": "seed_scalar", "title": sb.bundled.title("seed_scalar"),
                        "spec": SPEC, "claims": CLAIMS}
    assert client.get("/api/examples/cs231n_circuit").json()["claims"] is None


@pytest.mark.parametrize("name", [
    "..%2F..%2Fpyproject", "..%2Fseed_scalar", "%2E%2E", "seed_scalar.toml", "..%5C..%5Cpyproject",
    "%2Fetc%2Fpasswd", "seed_scalar%00", "__init__", "seed_scalar.claims", "..", "nope"])
def test_no_file_beyond_the_bundled_examples(client, name):
    r = client.get(f"/api/examples/{name}")
    assert r.status_code == 404
    assert set(r.json()) == {"error"}
    assert "[project]" not in r.text and "root:" not in r.text


def test_an_unknown_example_suggests_a_name(client):
    r = client.get("/api/examples/seed_scalr")
    assert r.status_code == 404 and "did you mean 'seed_scalar'" in r.json()["error"]


# ---- derive -------------------------------------------------------------------------------
def test_derive_json_is_the_cli_json(client, capsys):
    """``curl --data-binary @derivations/seed_scalar.toml '…/api/derive?format=json'``."""
    r = client.post("/api/derive?format=json", content=SPEC.encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})  # what curl sends
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.text == cli(capsys, "derive", str(SEED), "--format", "json")
    assert round(r.json()["loss"]["value"], 3) == 0.456


@pytest.mark.parametrize("fmt, argv", [("markdown", ["--format", "markdown"]), ("text", []),
                                       ("json", ["--format", "json", "--lang", "zh", "--digits", "4",
                                                 "--mode", "hand"])])
def test_derive_formats_are_the_cli_formats(client, capsys, fmt, argv):
    options = {"lang": "zh", "digits": 4, "mode": "hand"} if "--lang" in argv else {}
    r = client.post("/api/derive", json={"spec": SPEC, "format": fmt, **options})
    assert r.status_code == 200
    assert r.text == cli(capsys, "derive", str(SEED), *argv)


def test_derive_latex_is_a_document_or_a_fragment(client):
    r = client.post("/api/derive", json={"spec": SPEC, "format": "latex"})
    assert r.status_code == 200 and "\\documentclass" in r.text and "\\end{document}" in r.text
    r = client.post("/api/derive?format=latex&standalone=false", content=SPEC)
    assert r.status_code == 200 and "\\documentclass" not in r.text


def test_derive_html_is_the_page_fragment(client):
    r = client.post("/api/derive", json={"spec": SPEC, "format": "html", "lang": "zh"})
    assert r.status_code == 200
    out = r.json()
    assert out["lang"] == "zh" and round(out["loss"]["value"], 3) == 0.456
    assert "前向传播" in out["html"] and '<pre class="mermaid-source">' in out["html"]
    d = sb.derive(SEED)
    for step in d.backward:
        assert f'data-node="{step.node}"' in out["html"]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_derive_pdf(client):
    r = client.post("/api/derive", json={"spec": SPEC, "format": "pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")


@pytest.mark.skipif(shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
                    reason="pdflatex or pdftotext is not installed")
def test_pdflatex_runs_without_shell_escape_and_reads_nothing_outside(client, tmp_path):
    """A title's math reaches the LaTeX as written: TeX itself must refuse the shell and files
    outside its temporary directory."""
    title = (r"$\ifnum\pdfshellescape=0 \mathrm{SHELLOFF}\else \mathrm{SHELLON}\fi"
             r"\IfFileExists{/etc/hostname}{\mathrm{ABSREAD}}{\mathrm{NOABS}}"
             r"\IfFileExists{../../../../etc/hostname}{\mathrm{UPREAD}}{\mathrm{NOUP}}$")
    spec = f"title = {json.dumps(title)}\n" + "\n".join(
        line for line in SPEC.splitlines() if not line.startswith("title"))
    r = client.post("/api/derive", json={"spec": spec, "format": "pdf"})
    assert r.status_code == 200, r.text
    (tmp_path / "t.pdf").write_bytes(r.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "t.pdf"), "-"], capture_output=True, text=True).stdout
    assert "SHELLOFF" in text and "NOABS" in text and "NOUP" in text, text[:300]


def test_workers_run_in_the_hardened_environment(client):
    r = client.get("/api/info")
    assert r.status_code == 200 and set(r.json()) >= {"pdf", "svg", "version"}
    pool = client.app.state.pool
    for _ in range(pool.size):
        status, (_, info) = client.portal.call(pool.run, "info", {})
        assert status == "ok" and info["env"] == HARDENED_ENV and info["pid"] in pool.pids()


def test_a_spec_is_never_read_as_a_file_name(client):
    for text in ("/etc/passwd", str(SEED), "seed_scalar"):
        r = client.post("/api/derive?format=json", content=text)
        assert r.status_code == 400 and "TOML" in r.json()["error"], (text, r.text)
        assert "root:" not in r.text


# ---- verify and export --------------------------------------------------------------------
def test_verify_is_the_cli_report(client, capsys, tmp_path):
    claims = CLAIMS + "\n\\frac{\\partial L}{\\partial w_1} = 0.126\n  dL/dq = 3\n"
    (tmp_path / "c.claims").write_text(claims, encoding="utf-8")
    r = client.post("/api/verify", json={"spec": SPEC, "claims": claims})
    assert r.status_code == 200
    assert r.json() == json.loads(cli_json(capsys, "verify", str(SEED), "--claims", str(tmp_path / "c.claims"),
                                           "--format", "json"))
    report = r.json()
    wrong = report["claims"][report["first_wrong"]]
    assert wrong["verdict"] == "incorrect" and "0.116" in wrong["diagnosis"]["message"]
    unreadable = report["claims"][-1]
    assert unreadable["verdict"] == "error" and unreadable["line"] == claims.count("\n")
    assert unreadable["diagnosis"]["column"] == 7


def cli_json(capsys, *argv) -> str:
    main(list(argv))
    return capsys.readouterr().out


def test_verify_a_correct_claim_and_an_empty_text(client):
    r = client.post("/api/verify", json={"spec": SPEC, "claims": r"\frac{\partial L}{\partial w_1} = 0.116"})
    assert r.status_code == 200 and r.json()["ok"] and r.json()["claims"][0]["verdict"] == "correct"
    r = client.post("/api/verify", json={"spec": SPEC, "claims": "", "lang": "zh"})
    assert r.status_code == 200 and r.json() == {"schema_version": 1, "claims": [], "ok": True}


def test_export_is_the_cli_module_and_runs(client, capsys, tmp_path):
    r = client.post("/api/export", json={"spec": SPEC, "name": "seed_scalar"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/x-python")
    assert r.text == cli(capsys, "export", str(SEED))
    path = tmp_path / "grads.py"
    path.write_text(r.text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("grads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    s = sb.load_spec(SEED)
    loss, grads = module.loss_and_grad(**s.values)
    d = sb.derive(SEED)
    assert float(loss) == pytest.approx(d.loss_value)
    for p in d.params:
        assert float(grads[p]) == pytest.approx(d.gradient_value(p), rel=1e-12)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_svg(client):
    r = client.post("/api/graph", json={"spec": SPEC, "lang": "zh"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in r.content and "0.456".encode() in r.content
    r = client.post("/api/graph?format=dot", content=SPEC)
    assert r.status_code == 200 and r.text.startswith("digraph")


# ---- errors -------------------------------------------------------------------------------
BROKEN = [
    # (spec, line, column): the column is the file line's, where the mistake is
    ("forward = '''\nz_1 = w_1 x\nL = (z_1 - y\n'''\nparams = ['w_1']\n", 3, 5),
    ("forward = '''\nz = w x\nL = z^{\n'''\nparams = ['w']\n", 3, None),
    ("forward = '''\nz = w x\nL = (a - y)^2\na = z\n'''\nparams = ['w']\n", 3, None),
    ("forward = 'L = w x'\nparams = ['w'\n", None, None),
    ("forward = 'L = w x'\nparams = ['w']\n[values]\nw = 'a'\n", 4, None),
    ("forward = 'L = w x'\nparams = ['w']\nlearning_rate = = 1\n", 3, 17),
]


@pytest.mark.parametrize("spec, line, column", BROKEN)
def test_a_broken_spec_is_one_json_error_at_its_line_and_column(client, spec, line, column):
    r = client.post("/api/derive", json={"spec": spec, "format": "html"})
    assert r.status_code == 400
    body = r.json()
    assert set(body) <= {"error", "line", "column"} and body["error"]
    assert "Traceback" not in r.text
    if line is not None:
        assert body["line"] == line, body
    if column is not None:
        assert body["column"] == column, body
    assert client.post("/api/derive", json={"spec": SPEC}).status_code == 200  # and it goes on


def test_the_column_of_a_latex_error_is_in_the_file_line():
    spec = "forward = '''\nz = w x\nL =   (z - y\n'''"
    assert locate("line 3: unbalanced '(': never closed at column 1 in '(z - y'", spec) == {"line": 3, "column": 7}
    long = "L = " + "a + " * 30 + "(b"
    message = str(sb.errors.LatexSyntaxError("unbalanced '('", long[4:], len(long) - 6))
    spec = f"forward = '''\n{long}\n'''"
    assert locate("line 2: " + message, spec) == {"line": 2, "column": len(long) - 1}


@pytest.mark.parametrize("body, message", [
    ({"spec": SPEC, "format": "docx"}, "unknown format"),
    ({"spec": SPEC, "digits": 99}, "digits"),
    ({"spec": SPEC, "digits": "two"}, "digits"),
    ({"spec": SPEC, "lang": "fr"}, "language"),
    ({"spec": SPEC, "mode": "guess"}, "mode"),
    ({"spec": ""}, "no spec"),
    ({"spec": 3}, "no spec"),
    ({"spec": ["a"]}, "must be text"),
    ({}, "no spec"),
])
def test_bad_options_are_json_errors(client, body, message):
    r = client.post("/api/derive", json=body)
    assert r.status_code == 400 and message in r.json()["error"]


def test_bad_bodies_are_json_errors(client):
    r = client.post("/api/derive", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = client.post("/api/derive", content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "object" in r.json()["error"]
    r = client.post("/api/derive", content=b"\xff\xfe", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]
    r = client.post("/api/verify", json={"spec": SPEC, "claims": ["a"]})
    assert r.status_code == 400
    r = client.post("/api/verify", json={"spec": "forward = 'L = (w'\nparams=['w']", "claims": "dL/dw = 1"})
    assert r.status_code == 400 and r.json()["line"] == 1
    r = client.post("/api/export", json={"spec": SPEC, "backend": "fortran"})
    assert r.status_code == 400 and "backend" in r.json()["error"]
    r = client.get("/api/derive")
    assert r.status_code == 405 and "error" in r.json()
    r = client.get("/api/nothing")
    assert r.status_code == 404 and "error" in r.json()


def test_a_request_over_200_kB_is_refused(client):
    big = "# " + "x" * 200_000 + "\n" + SPEC
    r = client.post("/api/derive", content=big.encode())
    assert r.status_code == 413 and "200 kB" in r.json()["error"]
    r = client.post("/api/verify", json={"spec": SPEC, "claims": "dL/dw_1 = 0.116\n" * 15_000})
    assert r.status_code == 413

    def chunks():  # no Content-Length: counted as it comes
        for _ in range(30):
            yield b"#" * 10_000

    r = client.post("/api/derive", content=chunks())
    assert r.status_code == 413
    # just under the limit is read
    r = client.post("/api/derive?format=json", content=(SPEC + "#" * (199_000 - len(SPEC.encode()))).encode())
    assert r.status_code == 200


def test_a_foreign_host_is_refused(client):
    r = client.get("/api/examples", headers={"Host": "attacker.example"})
    assert r.status_code == 421 and "error" in r.json()
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert client.get("/api/examples", headers={"Host": host}).status_code == 200


# ---- time limit ---------------------------------------------------------------------------
def _slow_spec(n: int = 400) -> str:
    """A chain of ``n`` tanh layers, each fed by the two before: its page takes tens of seconds."""
    lines = ["a_0 = w_0 x"] + [f"a_{{{i}}} = \\tanh(w_{{{i}}} a_{{{i - 1}}} + a_{{{max(i - 2, 0)}}})"
                              for i in range(1, n)] + [f"L = (a_{{{n - 1}}} - y)^2"]
    params = ", ".join(f'"w_{i}"' for i in range(n))
    values = "\n".join(f"w_{i} = 0.5" for i in range(n))
    return ("forward = '''\n" + "\n".join(lines) + f"\n'''\nparams = [{params}]\n[values]\nx = 1.0\ny = 0.5\n"
            + values + "\n")


def test_a_spec_that_runs_too_long_is_cut_off_and_its_worker_killed():
    app = create_app(workers=1, timeout=1.0)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.post("/api/derive", json={"spec": SPEC}).status_code == 200  # the worker is up
        pool = app.state.pool
        (before,) = pool.pids()
        start = time.monotonic()
        r = c.post("/api/derive", json={"spec": _slow_spec(), "format": "html"})
        took = time.monotonic() - start
        assert r.status_code == 400 and "longer than 1 s" in r.json()["error"]
        assert took < 8, took
        with pytest.raises(ProcessLookupError):  # the worker (and its process group) is gone
            os.killpg(before, 0)
        (after,) = pool.pids()
        assert after != before and pool.killed == 1
        r = c.post("/api/derive?format=json", content=SPEC)  # a fresh worker serves the next one
        assert r.status_code == 200 and round(r.json()["loss"]["value"], 3) == 0.456


# ---- the page -----------------------------------------------------------------------------
def test_the_page_and_its_assets(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for asset in ("/static/app.js", "/static/app.css", "/static/vendor/katex/katex.min.js",
                  "/static/vendor/katex/katex.min.css", "/static/vendor/katex/fonts/KaTeX_Main-Regular.woff2",
                  "/static/vendor/mermaid/mermaid.min.js"):
        assert client.get(asset).status_code == 200, asset
        assert asset in r.text or "fonts" in asset
    assert "cdn" not in r.text.lower() and "https://" not in r.text
    for path in ("/static/../pyproject.toml", "/static/%2E%2E/app.py", "/static/..%2F__init__.py"):
        r = client.get(path)
        assert r.status_code == 404 and "[project]" not in r.text and "import" not in r.text


def test_an_example_opens_rendered(client):
    r = client.get("/?example=seed_scalar")
    assert r.status_code == 200
    assert '<span class="math">L = 0.456</span>' in r.text  # the solution is in the page
    assert "z_1 = w_1 x" in r.text and "\\frac{\\partial L}{\\partial a_2}" in r.text  # spec, claims
    state = json.loads(r.text.split('<script id="initial" type="application/json">')[1].split("</script>")[0])
    assert state["example"] == "seed_scalar" and state["report"]["ok"] is True
    r = client.get("/?example=../../pyproject&lang=zh")
    assert r.status_code == 404 and "[project]" not in r.text


def test_the_page_escapes_what_it_shows(client):
    r = client.get("/?example=%3Cscript%3Ealert(1)%3C/script%3E")
    assert r.status_code == 404 and "<script>alert(1)" not in r.text


# ---- a bounded load test on loopback ------------------------------------------------------
def test_fifty_concurrent_derives_on_loopback_all_succeed():
    """50 concurrent POST /api/derive of the article's spec to a real server: all succeed."""
    with BackgroundServer(workers=2) as url:
        results: list = [None] * 50

        def one(i: int) -> None:
            request = urllib.request.Request(url + "api/derive?format=json", data=SPEC.encode(), method="POST")
            start = time.monotonic()
            try:
                with DIRECT.open(request, timeout=60) as response:
                    body = json.loads(response.read())
                    results[i] = (response.status, round(body["loss"]["value"], 3), time.monotonic() - start)
            except Exception as e:  # pragma: no cover - reported below
                results[i] = (repr(e), None, None)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert all(r is not None and r[:2] == (200, 0.456) for r in results), results
    assert max(r[2] for r in results) < 30


def test_serve_refuses_a_port_in_use(capsys):
    with BackgroundServer() as url:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        code = main(["serve", "--port", str(port)])
    assert code == 2 and "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_the_serve_command_starts_a_server():
    """``symbackprop serve --port 0`` in a subprocess: it prints its URL and answers."""
    proc = subprocess.Popen([sys.executable, "-m", "symbackprop", "serve", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "symbackprop playground: http://127.0.0.1:" in line, line
        url = line.split(": ", 1)[1].split()[0]
        deadline = time.monotonic() + 60
        while True:
            try:
                with DIRECT.open(url + "api/examples", timeout=10) as r:
                    assert "seed_scalar" in r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_vendored_katex_and_mermaid_are_node_modules_own():
    """``tools/vendor_web_assets.py`` copied what package.json (and its lock) install."""
    if not (ROOT / "node_modules" / "katex" / "dist").exists():
        pytest.skip("node_modules missing (npm install)")
    spec = importlib.util.spec_from_file_location("vendor_web_assets", ROOT / "tools" / "vendor_web_assets.py")
    vendor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vendor)
    assert vendor.main(["--check"]) == 0, "run: python tools/vendor_web_assets.py"


def test_the_host_names_a_server_answers_to():
    from symbackprop.web import _hosts
    from symbackprop.web.app import _host_name

    assert _hosts("127.0.0.1") == ["127.0.0.1", "localhost", "::1", "127.0.0.1"]
    assert "192.168.1.5" in _hosts("192.168.1.5")
    assert _hosts("0.0.0.0") is None and _hosts("::") is None  # every interface: any name
    assert [_host_name(h) for h in ("127.0.0.1:8000", "[::1]:8000", "LOCALHOST", "::1")] == \
        ["127.0.0.1", "::1", "localhost", "::1"]
