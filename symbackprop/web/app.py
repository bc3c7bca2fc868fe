r"""The playground's Starlette application: the page, its static files and the JSON API.

Endpoints (every error is JSON ``{"error": message, "line"?, "column"?}``, never a
traceback page):

======================================  ========================================================
``GET /``                               the page; ``?example=NAME`` opens a bundled example,
                                        already rendered; ``?lang=zh``
``GET /api/examples``                   ``[{"name", "title", "titles", "claims": bool}, …]``
``GET /api/examples/NAME``              ``{"name", "title", "spec", "claims"}`` (claims text or null)
``POST /api/derive``                    the worked solution: ``format`` json (the CLI's JSON, the
                                        default), markdown, latex, text, pdf, or html (the page's
                                        fragment); ``lang``, ``digits``, ``mode``, ``expand``
``POST /api/verify``                    ``claims`` judged: the CLI's ``verify --format json``
``POST /api/export``                    the CLI's ``export``: a Python module (``backend``)
``POST /api/graph``                     the CLI's ``graph``: SVG by Graphviz (``format=dot``: DOT)
``GET /api/info``                       ``{"pdf": bool, "svg": bool, "version"}``
======================================  ========================================================

A POST takes a JSON object (``Content-Type: application/json``: ``{"spec": "…", "format":
"json", …}``), or the spec's TOML as the raw body with the options in the query string::

    curl -s -X POST --data-binary @derivations/seed_scalar.toml 'http://127.0.0.1:8000/api/derive?format=json'

Status: 200, 400 (the spec, a claim's text or an option is wrong, or the work overran its time
limit), 404 (no such example or page), 413 (a body over ``max_body`` bytes), 421 (a Host
header that is not this server's: DNS rebinding), 503 (every worker stayed busy), 500 (a bug
of symbackprop's; the server logs it and keeps serving).
"""
from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import tomllib
from pathlib import Path
from typing import Any, Iterable, Optional

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from symbackprop.web.pool import Busy, PoolError, TimeLimit, WorkerPool

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 200_000  #: bytes of a request body
TIMEOUT = 10.0  #: seconds of work per request
PDF_TIMEOUT = 60.0  #: seconds for a PDF (pdflatex runs twice)
_EXAMPLE = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: the page's Content-Security-Policy: its own scripts only, no eval, nothing from elsewhere;
#: inline styles for KaTeX's and Mermaid's markup
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

log = logging.getLogger("symbackprop.web")


class _Problem(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body.get("error"))
        self.status, self.body = status, body


def _error(status: int, message: str, **where) -> JSONResponse:
    return JSONResponse({"error": message, **where}, status_code=status)


# ---- reading a request --------------------------------------------------------------------
async def _body(request: Request, limit: int) -> bytes:
    too_large = _Problem(413, {"error": f"the request is larger than {limit // 1000} kB; "
                                        "the playground takes specs and claims up to that size"})
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _params(request: Request, limit: int) -> dict:
    """The options of a POST: the query string, then a JSON object body, or a raw body as the spec."""
    params: dict[str, Any] = dict(request.query_params)
    body = await _body(request, limit)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise _Problem(400, {"error": f"the body is not valid JSON: {e}"}) from None
        if not isinstance(data, dict):
            raise _Problem(400, {"error": "the JSON body must be an object: {\"spec\": \"…\", …}"})
        params.update(data)
    elif body:
        try:
            params["spec"] = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _Problem(400, {"error": "the body is not UTF-8 text"}) from None
    for key, value in params.items():
        if not (value is None or isinstance(value, (str, int, float, bool))):
            raise _Problem(400, {"error": f"'{key}' must be text or a number"})
    return params


def _host_name(host: str) -> str:
    """The name in a Host header: ``127.0.0.1:8000`` → ``127.0.0.1``, ``[::1]:8000`` → ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.split(":")[0] if host.count(":") <= 1 else host


class _HostCheck:
    """Refuse a Host header that is not one of this server's names: a page elsewhere whose
    name was re-pointed at 127.0.0.1 (DNS rebinding) cannot use the API."""

    def __init__(self, app, hosts: Iterable[str]):
        self.app, self.hosts = app, {_host_name(h) for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if _host_name(host) not in self.hosts:
                response = _error(421, f"this server answers to {', '.join(sorted(self.hosts))}, not '{host}'")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Headers:
    """Security headers on every response; the CSP on pages."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"DENY"), (b"content-security-policy", CSP.encode())]
                if scope["path"].startswith("/api/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _titles(toml: str) -> tuple[Optional[str], dict]:
    """A spec's title and its titles by language, read from its TOML alone."""
    try:
        raw = tomllib.loads(toml).get("title")
    except tomllib.TOMLDecodeError:  # pragma: no cover - the bundled specs load (test_bundled.py)
        return None, {}
    if isinstance(raw, str):
        return raw, {}
    if isinstance(raw, dict):
        titles = {k: v for k, v in raw.items() if isinstance(v, str)}
        return titles.get("en", next(iter(titles.values()), None)), titles
    return None, {}


# ---- the application ----------------------------------------------------------------------
def create_app(*, workers: int = 2, timeout: float = TIMEOUT, pdf_timeout: float = PDF_TIMEOUT,
               max_body: int = MAX_BODY, allowed_hosts: Optional[Iterable[str]] = LOCAL_HOSTS,
               memory: Optional[int] = 4 << 30) -> Starlette:
    """The playground as an ASGI app; its worker pool starts and stops with the app's lifespan.

    ``timeout`` bounds each request's work in seconds (``pdf_timeout`` a PDF's), ``max_body``
    each request body in bytes; ``allowed_hosts`` are the names the Host header may carry
    (``None``: any, for a server bound to every interface); ``memory`` is each worker's
    address-space limit in bytes.
    """
    from symbackprop import __version__, bundled

    pool = WorkerPool(workers, timeout=timeout, memory=memory)
    template = (STATIC / "index.html").read_text(encoding="utf-8")

    async def work(name: str, kwargs: dict, timeout: Optional[float] = None) -> Any:
        try:
            status, result = await pool.run(name, kwargs, timeout)
        except TimeLimit as e:
            raise _Problem(400, {"error": str(e)}) from None
        except Busy as e:
            raise _Problem(503, {"error": str(e)}) from None
        except PoolError as e:
            raise _Problem(500, {"error": str(e)}) from None
        if status == "error":
            raise _Problem(400, result)
        if status == "bug":
            log.error("symbackprop failed on a request to %s:\n%s", name, result)
            raise _Problem(500, {"error": "symbackprop failed on this input (a bug: the server's log has "
                                          "the details): " + result.split("\n")[0]})
        return result

    def respond(result: tuple[str, Any]) -> Response:
        media, body = result
        if media == "application/json" and not isinstance(body, (str, bytes)):
            return JSONResponse(body)
        return Response(body, media_type=media)

    def examples() -> list[dict]:
        return listed

    def example(name: str) -> dict:
        if name not in by_name:  # only the listed names: nothing else is ever opened
            from symbackprop.errors import SymbackpropError

            try:
                bundled.path(name if _EXAMPLE.fullmatch(name) else "")  # for its "did you mean"
            except SymbackpropError as e:
                raise _Problem(404, {"error": str(e)}) from None
            raise _Problem(404, {"error": f"no bundled example '{name}'"})  # pragma: no cover
        claims = bundled.claims_path(name)
        return {"name": name, "title": by_name[name]["title"],
                "spec": bundled.path(name).read_text(encoding="utf-8"),
                "claims": None if claims is None else claims.read_text(encoding="utf-8")}

    # the examples, listed once: titles read from their TOML (no SymPy in the server process)
    listed = []
    for n in bundled.names():
        title, titles = _titles(bundled.path(n).read_text(encoding="utf-8"))
        listed.append({"name": n, "title": title or n, "titles": titles,
                       "claims": bundled.claims_path(n) is not None})
    by_name = {e["name"]: e for e in listed}

    def handler(fn):
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)
            except _Problem as p:
                return JSONResponse(p.body, status_code=p.status)
        endpoint.__name__ = fn.__name__
        return endpoint

    @handler
    async def api_examples(request: Request) -> Response:
        return JSONResponse(examples())

    @handler
    async def api_example(request: Request) -> Response:
        return JSONResponse(example(request.path_params["name"]))

    @handler
    async def api_info(request: Request) -> Response:
        _, info = await work("info", {})
        return JSONResponse({"pdf": info["pdf"], "svg": info["svg"], "version": __version__,
                             "workers": pool.size, "timeout": timeout, "max_body": max_body})

    @handler
    async def api_derive(request: Request) -> Response:
        params = await _params(request, max_body)
        pdf = params.get("format") == "pdf"
        return respond(await work("derive", params, pdf_timeout if pdf else None))

    @handler
    async def api_verify(request: Request) -> Response:
        return respond(await work("verify", await _params(request, max_body)))

    @handler
    async def api_export(request: Request) -> Response:
        return respond(await work("export", await _params(request, max_body)))

    @handler
    async def api_graph(request: Request) -> Response:
        return respond(await work("graph", await _params(request, max_body)))

    async def page(request: Request) -> Response:
        """The page; with ``?example=NAME`` the example's spec and claims, its solution
        already rendered (the HTML is in the page: KaTeX draws it as the page loads)."""
        lang = request.query_params.get("lang")
        lang = lang if lang in ("en", "zh") else None
        state: dict[str, Any] = {"examples": examples(), "example": None, "spec": "", "claims": "",
                                 "lang": lang, "solution": None, "report": None, "error": None}
        status, solution = 200, ""
        name = request.query_params.get("example")
        if name:
            try:
                ex = example(name)
                state.update(example=name, spec=ex["spec"], claims=ex["claims"] or "")
                _, out = await work("derive", {"spec": ex["spec"], "format": "html", "lang": lang})
                state["lang"] = out["lang"]
                solution = out["html"]
                if ex["claims"]:
                    _, state["report"] = await work("verify", {"spec": ex["spec"], "claims": ex["claims"],
                                                               "lang": out["lang"]})
            except _Problem as p:
                status, state["error"] = p.status, p.body
        initial = json.dumps(state, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")
        values = {"LANG": html.escape(state["lang"] or "en"), "SOLUTION": solution, "INITIAL": initial,
                  # a newline right after <textarea> is dropped by the HTML parser: one is given
                  "SPEC": "\n" + html.escape(state["spec"]), "CLAIMS": "\n" + html.escape(state["claims"])}
        text = re.sub(r"\{\{([A-Z]+)\}\}", lambda m: values[m.group(1)], template)  # one pass
        return HTMLResponse(text, status_code=status)

    async def not_found(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api") or exc.status_code != 404:
            return _error(exc.status_code, exc.detail if exc.status_code != 404 else
                          f"no such endpoint: {request.method} {request.url.path}")
        return HTMLResponse("<!DOCTYPE html><title>Not found</title><p>Not found. "
                            "<a href=\"/\">The playground</a>", status_code=404)

    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, f"internal error: {type(exc).__name__}")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        pool.start()
        try:
            yield
        finally:
            pool.close()

    routes = [
        Route("/", page),
        Route("/api/examples", api_examples),
        Route("/api/examples/{name}", api_example),
        Route("/api/info", api_info),
        Route("/api/derive", api_derive, methods=["POST"]),
        Route("/api/verify", api_verify, methods=["POST"]),
        Route("/api/export", api_export, methods=["POST"]),
        Route("/api/graph", api_graph, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: not_found, Exception: internal})
    app.state.pool = pool
    app.add_middleware(_Headers)
    if allowed_hosts is not None:
        app.add_middleware(_HostCheck, hosts=allowed_hosts)
    return app
