"""How long reading a spec takes as it gets longer: it should grow linearly with its lines.

A sigmoid chain written as a TOML spec of 100, 200, 400, 800 (and 1600) lines
(``z_k = w_k a_{k-1}``, ``a_k = σ(z_k)``, the loss), read by :func:`spec_from_toml`
(TOML, LaTeX parsing, names checked, lowering to the IR, the network built):
the median of ``--repeat`` runs, each with SymPy's cache cleared, Python's
garbage collector left on as in real use.

Run ``python benchmarks/loading.py`` (``--markdown`` for the README table).
"""
from __future__ import annotations

import argparse
import statistics
import time

from sympy.core.cache import clear_cache

from symbackprop.generate import sigmoid_chain
from symbackprop.spec import spec_from_toml

LINES = [100, 200, 400, 800, 1600]


def toml(spec: dict) -> str:
    """Spec data as the TOML text a person would write."""
    params = ", ".join(f'"{p}"' for p in spec["params"])
    return f"forward = '''\n{spec['forward']}\n'''\nparams = [{params}]\n"


def chain(lines: int) -> str:
    """A chain spec of about ``lines`` lines (two per layer and the loss)."""
    return toml(sigmoid_chain(lines // 2))


def load_time(text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        clear_cache()
        start = time.perf_counter()
        spec_from_toml(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    spec_from_toml(chain(10))  # imports and first-use caches
    rows = [(n, load_time(chain(n), args.repeat)) for n in LINES]
    base = rows[0][1] / rows[0][0]
    if args.markdown:
        print("| lines | load (s) | ms per line | × per line of 100 |")
        print("|---:|---:|---:|---:|")
    for n, t in rows:
        per = t / n
        if args.markdown:
            print(f"| {n} | {t:.3f} | {per * 1e3:.3f} | {per / base:.2f} |")
        else:
            print(f"{n:5d} lines  {t:8.3f} s  {per * 1e3:7.3f} ms/line  {per / base:5.2f}×")


if __name__ == "__main__":
    main()
