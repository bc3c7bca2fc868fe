"""How long a deep matrix network takes to derive (the issue asks: 10 layers under a second).

    python benchmarks/matrix_derive.py [depth ...]

For each depth: parsing the spec, the symbolic derivation (shapes, rules, every
step), the same with values (a batch of 64, width 32) and the worked solution
in Markdown. Times are the best of five runs.
"""
from __future__ import annotations

import sys
import time

from symbackprop.backprop import backprop
from symbackprop.generate_matrix import mlp
from symbackprop.spec import spec_from_dict


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(depths: list[int]) -> int:
    print(f"{'layers':>6} {'parse':>9} {'derive':>9} {'+ values':>9} {'markdown':>9}")
    for depth in depths:
        sizes = [32] * depth + [4]
        data = mlp(sizes, "tanh", "softmax_ce", values=True, batch=64)
        symbolic = {k: v for k, v in data.items() if k != "values"}
        spec = spec_from_dict(data)
        t_parse = best(lambda: spec_from_dict(symbolic))
        t_derive = best(lambda: backprop(spec.network))
        t_values = best(lambda: backprop(spec.network, spec.values))
        d = backprop(spec.network, spec.values)
        t_md = best(lambda: d.to_markdown(), repeat=2)
        print(f"{depth:>6} {t_parse:>8.3f}s {t_derive:>8.3f}s {t_values:>8.3f}s {t_md:>8.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main([int(a) for a in sys.argv[1:]] or [2, 10, 30]))
