"""How long symbolic derivation takes as networks get deeper and wider.

Depth: a sigmoid chain of 10…60 layers (one neuron each), written as a TOML spec
string and read like any spec. Width: explicit-element MLPs n-8-8-1, one line
per neuron. For each, the time to read the spec (LaTeX → SymPy), to derive
every gradient by local rules (:func:`symbackprop.backprop`), and to compile
the result to NumPy code (:meth:`Derivation.compile`), best of ``--repeat`` runs,
each with SymPy's cache cleared.

Local rules keep the work linear in the size of the graph (DESIGN.md: ``diff`` of
the composed loss grows ~D^3.3 and fails at depth 23), so the per-layer and
per-edge columns should stay flat.

Run ``python benchmarks/derive_scaling.py`` (``--markdown`` for the README tables).
"""
from __future__ import annotations

import argparse
import sys
import time

from sympy.core.cache import clear_cache

from symbackprop import backprop
from symbackprop.generate import explicit_mlp, sigmoid_chain
from symbackprop.spec import spec_from_toml

DEPTHS = [10, 20, 30, 40, 50, 60]
WIDTHS = [2, 4, 8, 16, 32]


def toml(spec: dict) -> str:
    """Spec data as the TOML text a person would write."""
    params = ", ".join(f'"{p}"' for p in spec["params"])
    return f"forward = '''\n{spec['forward']}\n'''\nparams = [{params}]\n"


def timings(text: str, repeat: int) -> dict:
    best = {"read": float("inf"), "derive": float("inf"), "compile": float("inf")}
    for _ in range(repeat):
        clear_cache()  # SymPy's cache would make every run after the first a lookup
        t0 = time.perf_counter()
        spec = spec_from_toml(text)
        t1 = time.perf_counter()
        d = backprop(spec.network)
        t2 = time.perf_counter()
        d.compile()
        t3 = time.perf_counter()
        for key, value in zip(best, (t1 - t0, t2 - t1, t3 - t2)):
            best[key] = min(best[key], value)
    best["nodes"] = len(spec.network.order)
    best["params"] = len(spec.network.params)
    return best


def depth_table(repeat: int, markdown: bool) -> list[str]:
    rows = []
    for depth in DEPTHS:
        t = timings(toml(sigmoid_chain(depth)), repeat)
        rows.append([str(depth), str(t["nodes"]), f"{t['read']:.3f}", f"{t['derive']:.3f}",
                     f"{t['compile']:.3f}", f"{t['derive'] / depth * 1e3:.2f}"])
        print(f"depth {depth}: derive {t['derive']:.3f} s", file=sys.stderr, flush=True)
    return _table(["depth", "nodes", "read (s)", "derive (s)", "compile (s)", "derive per layer (ms)"],
                  rows, markdown)


def width_table(repeat: int, markdown: bool) -> list[str]:
    rows = []
    for n in WIDTHS:
        sizes = [n, 8, 8, 1]
        edges = sum(a * b for a, b in zip(sizes, sizes[1:]))
        t = timings(toml(explicit_mlp(sizes)), repeat)
        rows.append(["-".join(map(str, sizes)), str(t["params"]), f"{t['read']:.3f}",
                     f"{t['derive']:.3f}", f"{t['compile']:.3f}", f"{t['derive'] / edges * 1e3:.2f}"])
        print(f"width {n}: derive {t['derive']:.3f} s", file=sys.stderr, flush=True)
    return _table(["network", "params", "read (s)", "derive (s)", "compile (s)", "derive per weight (ms)"],
                  rows, markdown)


def _table(header, rows, markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)] + \
            ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    return ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [header] + rows]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (best is reported)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    timings(toml(sigmoid_chain(3)), 1)  # warm-up: imports, parser tables
    print("\n".join(["Depth: sigmoid chain", ""] + depth_table(args.repeat, args.markdown)))
    print("\n".join(["", "Width: explicit-element MLP n-8-8-1", ""] + width_table(args.repeat, args.markdown)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
