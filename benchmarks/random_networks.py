"""Random networks at scale: symbackprop's derivation, compiled code and exported module
against an independent evaluator (mpmath for scalars, NumPy for matrices).

    PYTHONPATH=. python benchmarks/random_networks.py --scalar 1000 --matrix 1000 --seed 0 \
        [--dump failures/] [--timeout 30] [--max-nodes 30] [--json out.json]

Prints, per kind: networks, agreements, disagreements by stage (derivation, compiled,
exported; loss or gradient), crashes by stage and exception, the worst relative error
``max|a - b| / max(1, max|b|)`` among the comparisons that agreed and over all, and the
time; how many networks used each function, operator and spelling of the reader
(``R.SCALAR_FEATURES`` / ``R.MATRIX_FEATURES``), and any the run never drew. Then every
distinct failure class with its count and the smallest network showing it. ``--dump DIR``
writes each failing spec to DIR/<kind>_<index>.toml with the findings as TOML comments at
the top. Network i of a kind is drawn from
``random.Random(f"{seed}:{kind}:{i}")``, so any one can be regenerated alone
(``--only scalar:17``).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import randnet as R  # noqa: E402


def draw(kind, seed, i, args):
    rng = random.Random(f"{seed}:{kind}:{i}")
    if kind == "scalar":
        n = rng.randint(args.min_nodes, args.max_nodes)
        return R.scalar_network(rng, n)
    return R.matrix_network(rng, rng.randint(1, args.max_layers))


def run_kind(kind, count, args, workdir, findings, dump, failing, coverage):
    stats = Counter()
    worst_ok, worst_all = 0.0, 0.0
    t0 = time.time()
    indices = range(count) if args.only is None else [args.only[1]]
    for done, i in enumerate(indices, 1):
        net = draw(kind, args.seed, i, args)
        out = R.compare(net, workdir, tol=args.tol, timeout=args.timeout)
        stats["networks"] += 1
        coverage[kind].update(R.features(net))
        if out.ok:
            stats["agree"] += 1
        for stage in {d.stage for d in out.disagreements}:
            stats[f"disagree {stage}"] += 1
        if out.crashes:
            stats["crashed"] += 1
        for c in out.crashes:
            stats[f"crash {c.stage}: {c.exc_type}" + (" (SymbackpropError)" if c.expected else "")] += 1
        for cls in out.classes():
            f = findings[(kind, cls)]
            f["count"] += 1
            if f["example"] is None or net.size < f["example"][0]:
                f["example"] = (net.size, i, net.toml, out.describe())
        # worst relative error: of the comparisons that agreed, and of all
        errs = [d.err for d in out.disagreements]
        worst_all = max([worst_all, out.worst] + errs)
        if out.ok:
            worst_ok = max(worst_ok, out.worst)
        if not out.ok and kind == "scalar" and len(failing) < args.shrink:
            failing.append((i, net, out))
        if dump and not out.ok:
            header = "".join(f"# {line}\n" for line in
                             [f"{kind} network {i} of seed {args.seed}", *out.classes(), *out.describe().splitlines()])
            (dump / f"{kind}_{i}.toml").write_text(header + net.toml, encoding="utf-8")
        if args.progress and done % args.progress == 0:
            print(f"  {kind}: {done}/{len(indices)}  agree {stats['agree']}  "
                  f"{time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    stats_time = time.time() - t0
    return stats, worst_ok, worst_all, stats_time


def _signature(net):
    """The shrunk node's LaTeX with leaf names, numbers and spelling variants made generic."""
    forward = net.toml.split(QUOTES)[1].strip().splitlines()[0]
    sig = re.sub(r"(?<![A-Za-z\\])(p_\{?\d+\}?|[a-z]_\{?\d+\}?)|\\theta_\{?\d+\}?", "v", forward)
    sig = re.sub(r"(?<!_)(?<!_\{)\d+(\.\d+)?", "c", sig)  # a log's base stays
    return sig.replace(r"\left(", "(").replace(r"\right)", ")")


QUOTES = "'" * 3


def shrink_all(failing, args, workdir):
    """Each failing scalar network shrunk to one failing node; grouped by that node's shape."""
    groups = defaultdict(list)
    t0 = time.time()
    for n, (i, net, out) in enumerate(failing, 1):
        classes = set(out.classes())

        def fails(cand):
            o = R.compare(cand, workdir, tol=args.tol, timeout=args.timeout)
            return bool(classes & set(o.classes()))

        small = R.shrink_scalar(net, fails)
        o = R.compare(small, workdir, tol=args.tol, timeout=args.timeout)
        groups[_signature(small) if small is not net else "(no single node fails alone)"].append(
            (i, small, o.classes() if small is not net else out.classes(), o.describe()))
        if args.progress:
            print(f"  shrinking: {n}/{len(failing)}  {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return groups


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scalar", type=int, default=1000, help="scalar networks (default 1000)")
    p.add_argument("--matrix", type=int, default=1000, help="matrix networks (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dump", type=Path, help="write every failing spec into this directory")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per stage before it counts as a hang")
    p.add_argument("--tol", type=float, default=R.TOL)
    p.add_argument("--min-nodes", type=int, default=3)
    p.add_argument("--max-nodes", type=int, default=30)
    p.add_argument("--max-layers", type=int, default=4)
    p.add_argument("--progress", type=int, default=100, help="a progress line every N networks (0: none)")
    p.add_argument("--json", type=Path, help="also write the counts and failure classes as JSON")
    p.add_argument("--only", help="one network, KIND:INDEX (e.g. scalar:17)")
    p.add_argument("--shrink", type=int, default=0,
                   help="shrink up to N failing scalar networks to one failing node each, grouped")
    args = p.parse_args(argv)
    if args.only:
        kind, _, index = args.only.partition(":")
        args.only = (kind, int(index))
        args.scalar = 1 if kind == "scalar" else 0
        args.matrix = 1 if kind == "matrix" else 0
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)

    findings = defaultdict(lambda: {"count": 0, "example": None})
    coverage = defaultdict(Counter)
    failing = []
    table = {}
    with tempfile.TemporaryDirectory(prefix="randnet_") as workdir:
        for kind, count in (("scalar", args.scalar), ("matrix", args.matrix)):
            if count:
                table[kind] = run_kind(kind, count, args, workdir, findings, args.dump, failing, coverage)
        shrunk = shrink_all(failing, args, workdir)

    stage_keys = ["disagree derivation", "disagree compiled", "disagree exported"]
    print(f"\nRandom networks, seed {args.seed}, tolerance {args.tol:g} "
          f"(max|a-b| / max(1, max|b|) against central differences of the independent evaluator)\n")
    header = ["kind", "networks", "agree", "≠ derivation", "≠ compiled", "≠ exported", "crashed",
              "worst err (agreeing)", "worst err (all)", "time"]
    rows = []
    for kind, (stats, worst_ok, worst_all, secs) in table.items():
        rows.append([kind, stats["networks"], stats["agree"], *(stats[k] for k in stage_keys),
                     stats["crashed"], f"{worst_ok:.2e}", f"{worst_all:.2e}" if worst_all < float("inf") else "inf",
                     f"{secs:.0f} s"])
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    for kind, (stats, *_rest) in table.items():
        crashes = sorted((k, v) for k, v in stats.items() if k.startswith("crash "))
        if crashes:
            print(f"\n{kind} crashes (networks with an exception at that stage):")
            for k, v in crashes:
                print(f"  {v:6d}  {k[6:]}")

    for kind in table:
        want = R.SCALAR_FEATURES if kind == "scalar" else R.MATRIX_FEATURES
        cov = coverage[kind]
        print(f"\n{kind} coverage (networks using each notation, of {table[kind][0]['networks']}):")
        items = [f"{cov[f]:5d}  {f}" for f in sorted(want, key=lambda f: (-cov[f], f))]
        width = max(len(x) for x in items) + 2
        for j in range(0, len(items), 2):
            print("  " + "".join(x.ljust(width) for x in items[j:j + 2]).rstrip())
        missing = sorted(f for f in want if not cov[f])
        print(f"  never drawn: {', '.join(missing) if missing else 'none'}")

    print(f"\nFailure classes ({len(findings)}):")
    for (kind, cls), f in sorted(findings.items(), key=lambda kv: (kv[0][0], -kv[1]["count"])):
        size, i, toml, desc = f["example"]
        print(f"\n[{kind}] {cls}: {f['count']} networks; smallest: {kind} {i} ({size} "
              f"{'nodes' if kind == 'scalar' else 'lines'}), --only {kind}:{i}")
        print("    " + toml.replace("\n", "\n    ").rstrip())
        print("    " + desc.replace("\n", "\n    ")[:2000])
    if shrunk:
        print(f"\nShrunk scalar failures ({sum(len(v) for v in shrunk.values())} networks), "
              f"by the smallest failing node (leaves renamed p_i):")
        for sig, items in sorted(shrunk.items(), key=lambda kv: -len(kv[1])):
            i, small, classes, desc = min(items, key=lambda it: it[1].size)
            print(f"\n  {len(items)} networks  {sig}\n  {' | '.join(classes)}  (e.g. scalar {i})")
            print("    " + small.toml.replace("\n", "\n    ").rstrip())
            print("    " + desc.replace("\n", "\n    "))
    if args.json:
        args.json.write_text(json.dumps({
            "seed": args.seed,
            "table": {k: {"counts": dict(v[0]), "worst_agreeing": v[1], "worst_all": str(v[2]), "seconds": v[3]}
                      for k, v in table.items()},
            "coverage": {k: dict(v) for k, v in coverage.items()},
            "classes": [{"kind": k, "class": c, "count": f["count"], "smallest_index": f["example"][1],
                         "spec": f["example"][2], "findings": f["example"][3]}
                        for (k, c), f in findings.items()],
        }, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0 if not findings else 1


if __name__ == "__main__":
    sys.exit(main())
