r"""The web playground: ``symbackprop serve [--host 127.0.0.1] [--port 8000] [--open]``.

A local page with three panes — the spec (TOML) with the bundled examples, its worked
solution rendered live (KaTeX for the math, Mermaid for the computational graph), and
the reader's own steps, each judged as it is typed, ✓/✗ with the diagnosis beside the line
and the first wrong step marked — over a JSON API that answers with the command line's
own JSON (:mod:`symbackprop.web.app` lists the endpoints).

**The stack, and why.** `Starlette <https://www.starlette.io>`_ for the application and
`uvicorn <https://www.uvicorn.org>`_ (its pure-Python h11 server, no compiled extras) to
serve it: both small, widely used and actively kept (Encode), with few dependencies
(anyio, h11, click), an in-process ASGI test client, and nothing we do not use — no
templating engine, ORM or form machinery (FastAPI would add pydantic for five endpoints;
Flask or Django would add a WSGI stack and a thread per request). The symbolic work does not
run in the server at all: a small pool of worker processes (:mod:`.pool`) does it, so one
slow spec cannot stall the page, and a job past its time limit is killed. The page is plain
HTML, CSS and one script, no build step; KaTeX and Mermaid are package data
(``static/vendor/``, copied from ``node_modules`` by ``tools/vendor_web_assets.py``): no CDN,
for machines and classrooms that are offline.

**Bounds and safety.** It binds 127.0.0.1 unless told otherwise, and answers only to its
own host names (a DNS-rebinding page gets 421). A request body is at most 200 kB, and a
request's work at most 10 s (a PDF 60 s), after which its worker process is killed with
everything it started; workers have a memory limit. A spec is read from its text by
symbackprop's own parser and is never executed; a request can name no file (only the
bundled examples are read, by their listed names). pdflatex, from the same code as ``derive
-o x.pdf``, runs in a temporary directory with shell escape off and TeX's file access kept
there (``shell_escape=f``, ``openin_any=p``, ``openout_any=p`` in the workers' environment);
nothing reaches a shell. The page's Content-Security-Policy allows its own scripts only.

Install with ``pip install 'symbackprop[web]'``.
"""
from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Optional

from symbackprop.errors import SymbackpropError

__all__ = ["create_app", "serve", "BackgroundServer"]

#: what ``pip`` needs for the playground (the ``web`` extra)
INSTALL = "pip install 'symbackprop[web]'  (Starlette and uvicorn)"


def _require() -> None:
    missing = [m for m in ("starlette", "uvicorn", "anyio") if _missing(m)]
    if missing:
        raise SymbackpropError(f"the web playground needs {', '.join(missing)}: {INSTALL}")


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


def create_app(**options):
    """The playground's ASGI app (see :func:`symbackprop.web.app.create_app`)."""
    _require()
    from symbackprop.web.app import create_app as create

    return create(**options)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), or a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise SymbackpropError(f"cannot listen on {host}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        hint = "; choose another with --port" if e.errno in (98, 48) else ""
        raise SymbackpropError(f"cannot listen on {host}:{port}: {e.strerror}{hint}") from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def _hosts(host: str) -> Optional[list[str]]:
    """The Host names the server answers to: the local ones and its own; any when it listens on
    every interface (there the name others use is not known)."""
    from symbackprop.web.app import LOCAL_HOSTS

    if host in ("0.0.0.0", "::", ""):
        return None
    return [*LOCAL_HOSTS, host]


def _server(host: str, sock: socket.socket, workers: int, log_level: str, **options):
    import uvicorn

    app = create_app(workers=workers, allowed_hosts=_hosts(host), **options)
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", limit_concurrency=256,
                            timeout_graceful_shutdown=5, server_header=False)
    return uvicorn.Server(config)


def serve(host: str = "127.0.0.1", port: int = 8000, *, open_browser: bool = False, workers: int = 2,
          log_level: str = "info") -> int:
    """Run the playground until Ctrl-C (the ``symbackprop serve`` command)."""
    _require()
    sock = _listen(host, port)
    url = _url(host, sock)
    server = _server(host, sock, workers, log_level)
    print(f"symbackprop playground: {url}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if _hosts(host) is None:
        print(f"symbackprop: warning: listening on every interface ({host}): anyone who can reach this "
              "machine can use the playground", file=sys.stderr, flush=True)
    if open_browser:
        def open_when_started() -> None:
            import webbrowser

            for _ in range(600):
                if server.started:
                    webbrowser.open(url)
                    return
                time.sleep(0.1)

        threading.Thread(target=open_when_started, daemon=True).start()
    server.run(sockets=[sock])
    return 0


class BackgroundServer:
    """The playground served from a thread of this process, for tests and benchmarks::

        with BackgroundServer() as url:   # http://127.0.0.1:PORT/, a free port
            ...
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, workers: int = 2, **options):
        _require()
        self.host, self.port, self.workers, self.options = host, port, workers, options

    def __enter__(self) -> str:
        self._sock = _listen(self.host, self.port)
        self.url = _url(self.host, self._sock)
        self.server = _server(self.host, self._sock, self.workers, "warning", **self.options)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]},
                                        daemon=True, name="symbackprop-web")
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the playground did not start")
            time.sleep(0.05)
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(30)
        self._sock.close()
