"""How long a verdict takes: the median over rounds, per claim, on the article's network.

    python benchmarks/verify_speed.py [--rounds 20]

Each round checks a claim with a fresh Verifier (the derivation, the random points and
the proof are all redone; SymPy's own cache stays warm), and the last line is the first
verdict in a fresh interpreter, SymPy's caches empty: what one ``symbackprop verify``
call costs past start-up. The target is well under a second.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import symbackprop as sb  # noqa: E402
from symbackprop.verification import Verifier  # noqa: E402

CLAIMS = {
    "symbolic, right": r"\frac{\partial L}{\partial w_1} = 2(a_2 - y)\,a_2(1-a_2)\,w_2\,a_1(1-a_1)\,x",
    "symbolic, exp form (no proof: numeric)": r"\frac{\partial a_2}{\partial z_2} = \frac{e^{-z_2}}{(1+e^{-z_2})^2}",
    "symbolic, missing factor": r"\frac{\partial L}{\partial w_1} = 2(a_2 - y) a_2(1 - a_2) w_2 x",
    "symbolic, wrong (counterexample)": r"\frac{\partial a_2}{\partial z_2} = a_2(1 + a_2)",
    "numeric, right": r"\frac{\partial L}{\partial w_1} = 0.058 \times 2.0 = 0.116",
    "numeric, rounded wrongly": r"\frac{\partial L}{\partial w_1} = 0.117",
    "worked solution (31 claims)": (ROOT / "derivations" / "seed_scalar.claims").read_text(),
}


MATRIX_CLAIMS = {
    "matrix, right (5 sizes)": r"\frac{\partial L}{\partial W_2} = A_1^\top \frac{\partial L}{\partial Z_2}",
    "matrix, transposed": r"\frac{\partial L}{\partial W_2} = \frac{\partial L}{\partial Z_2}^\top A_1",
}


def median_seconds(claim: str, spec, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        Verifier(spec).verify(claim)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


COLD = """
import time, symbackprop as sb
from symbackprop.verification import Verifier
spec = sb.load_spec({spec!r})
start = time.perf_counter()
Verifier(spec).verify({claim!r})
print(time.perf_counter() - start)
"""


def cold_seconds(claim: str, rounds: int) -> float:
    """The first verdict in a fresh interpreter (imports done, SymPy's caches empty)."""
    code = COLD.format(spec=str(ROOT / "derivations" / "seed_scalar.toml"), claim=claim)
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True, cwd=ROOT).stdout) for _ in range(rounds)]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    spec = sb.load_spec(ROOT / "derivations" / "seed_scalar.toml")
    Verifier(spec).verify(CLAIMS["symbolic, right"])  # warm SymPy's caches and imports once
    print(f"median of {args.rounds} rounds, fresh Verifier each round")
    for name, claim in CLAIMS.items():
        t = median_seconds(claim, spec, args.rounds)
        print(f"  {name:42s} {t * 1000:8.1f} ms")
    matrix = sb.load_spec(ROOT / "derivations" / "seed_matrix.toml")
    for name, claim in MATRIX_CLAIMS.items():
        t = median_seconds(claim, matrix, args.rounds)
        print(f"  {name:42s} {t * 1000:8.1f} ms")
    cold = cold_seconds(CLAIMS["symbolic, missing factor"], max(3, args.rounds // 4))
    print(f"first verdict in a fresh interpreter (missing factor), median: {cold * 1000:.1f} ms")


if __name__ == "__main__":
    main()
