r"""A bounded load test of the web playground on loopback: N concurrent requests, their latency.

    python benchmarks/web_load.py [--requests 50] [--rounds 3] [--workers 2]

A server (``symbackprop serve``'s app, its default worker pool) is started on a free port of
127.0.0.1 in a thread of this process; each round sends ``--requests`` requests at once, one
thread each, and waits for all of them (every request has a 60 s client timeout, and the run
stops by itself). Three kinds, each of the article's spec (``derivations/seed_scalar.toml``):

* ``derive json``: ``POST /api/derive?format=json`` with the spec as the body (the README's
  ``curl`` line);
* ``derive html``: the page's own request (the solution as HTML for KaTeX);
* ``verify``: ``POST /api/verify`` of the article's seven-step worked solution
  (``seed_scalar.claims``, 34 claims).

Every response must be 200 with the right loss (or report); the latencies (from sending to the
last byte, so including the wait for a free worker) are printed per kind as median, 95th
percentile and maximum, with the wall time of the round. The results on the project's
machine are in ``benchmarks/web_load.md``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symbackprop.web import BackgroundServer  # noqa: E402

SPEC = (ROOT / "derivations" / "seed_scalar.toml").read_text(encoding="utf-8")
CLAIMS = (ROOT / "derivations" / "seed_scalar.claims").read_text(encoding="utf-8")
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy


def kinds(url: str) -> dict:
    """``{kind: (request factory, check of the parsed response)}``."""
    def derive_json():
        return urllib.request.Request(url + "api/derive?format=json", data=SPEC.encode(), method="POST")

    def post(path: str, body: dict):
        return lambda: urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                              headers={"Content-Type": "application/json"})

    return {
        "derive json": (derive_json, lambda out: round(out["loss"]["value"], 3) == 0.456),
        "derive html": (post("api/derive", {"spec": SPEC, "format": "html"}),
                        lambda out: round(out["loss"]["value"], 3) == 0.456 and "katex" not in out["html"]),
        "verify": (post("api/verify", {"spec": SPEC, "claims": CLAIMS}),
                   lambda out: out["ok"] and len(out["claims"]) > 30),
    }


def burst(make, check, n: int) -> tuple[list[float], float, list[str]]:
    """``n`` requests at once: their latencies, the wall time, and what went wrong."""
    latencies: list[float] = [0.0] * n
    failures: list[str] = []
    gate = threading.Barrier(n)

    def one(i: int) -> None:
        request = make()
        gate.wait()
        start = time.perf_counter()
        try:
            with DIRECT.open(request, timeout=60) as response:
                out = json.loads(response.read())
                if response.status != 200 or not check(out):
                    failures.append(f"request {i}: {response.status} {str(out)[:200]}")
        except Exception as e:  # an HTTP error, a timeout: counted, reported
            failures.append(f"request {i}: {e!r}")
        latencies[i] = time.perf_counter() - start

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return latencies, time.perf_counter() - start, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="concurrent requests per round (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per kind (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2, as serve)")
    args = parser.parse_args(argv)
    failed = False
    warnings.simplefilter("ignore", DeprecationWarning)
    with BackgroundServer(workers=args.workers) as url:
        print(f"{url}: {args.workers} workers, {args.requests} concurrent requests × {args.rounds} rounds")
        for kind, (make, check) in kinds(url).items():
            burst(make, check, min(4, args.requests))  # warm-up: both workers have run once
            all_latencies, walls = [], []
            for _ in range(args.rounds):
                latencies, wall, failures = burst(make, check, args.requests)
                all_latencies += latencies
                walls.append(wall)
                for f in failures:
                    print(f"  FAILED {kind}: {f}")
                failed |= bool(failures)
            ms = sorted(1000 * x for x in all_latencies)
            p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
            print(f"  {kind:12s} median {statistics.median(ms):7.0f} ms   p95 {p95:7.0f} ms   "
                  f"max {ms[-1]:7.0f} ms   round {statistics.median(walls):5.2f} s "
                  f"({args.requests / statistics.median(walls):5.1f} requests/s)")
    print("all succeeded" if not failed else "SOME FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
