r"""The long fuzzing run (issue #12): N generated inputs through every public entry point.

    python benchmarks/fuzz.py --n 20000 --seed 0            # all families, mixed
    python benchmarks/fuzz.py --n 2000 --family dict         # one family
    python benchmarks/fuzz.py --case 0:1234                  # re-run one case (seed:index), verbose

The inputs are those of ``tests/fuzz.py`` (the CI-sized run, ``tests/test_fuzz.py``, draws the
same generators through hypothesis): mutated checked-in specs, grammar-made scalar and matrix
forward passes (valid, or with one fault), random networks of ``tests/randnet.py``, adversarial
spec dicts and TOML texts, claims and graded classes, injection attempts. Case ``i`` of seed
``s`` is drawn from ``random.Random("symbackprop-fuzz:s:i")``, so every case is reproducible on
its own (``--case s:i``).

Each input runs in a worker process (``--jobs``, default 2) under a time bound (``--bound``,
10 s; a worker stuck in C code is killed ``--grace`` seconds later). Printed: the count per
outcome (ok, clean error, and the findings: a valid input rejected, a wrong result, an error
message of several lines, an uncaught exception, a hang, the canary file) and per family, then
every distinct finding -- status, entry point, exception type, the innermost frame in
symbackprop -- by how many inputs hit it, each with its smallest input, reduced further
(``--reduce-budget`` runs per finding; 0 to skip). A JSON summary goes to ``--json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from multiprocessing.connection import wait
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import fuzz as F  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000, help="inputs to run (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=int, default=0, help="index of the first case")
    p.add_argument("--family", choices=sorted(F.FAMILIES), help="only this family (default: all, mixed)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--bound", type=float, default=F.BOUND, help="seconds per input (default 10)")
    p.add_argument("--grace", type=float, default=10.0, help="seconds after the bound before a worker is killed")
    p.add_argument("--oracles", default="autograd", help="gradient-check oracles, comma separated "
                                                         "(autograd,torch; default autograd)")
    p.add_argument("--reduce-budget", type=int, default=120, help="runs spent reducing each finding (0: none)")
    p.add_argument("--json", default="fuzz-summary.json", help="where the JSON summary goes ('-': nowhere)")
    p.add_argument("--case", help="run one case SEED:INDEX[:FAMILY] and print its outcome")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


class Finding:
    def __init__(self, signature):
        self.signature = signature
        self.count = 0
        self.families = Counter()
        self.smallest = None  # (size, case_id, case, outcome)
        self.reduced = None  # (case, outcome)

    def add(self, case_id, case, outcome):
        self.count += 1
        self.families[case.family] += 1
        size = case.size()
        if self.smallest is None or size < self.smallest[0]:
            self.smallest = (size, case_id, case, outcome)

    def to_json(self):
        size, case_id, case, out = self.smallest
        f = out.finding
        d = {"status": self.signature[0], "stage": self.signature[1], "exception": self.signature[2],
             "where": f.where if f else "", "origin": f.origin if f else "", "message": f.message[:500] if f else "",
             "inputs": self.count, "families": dict(self.families), "smallest": {"case": case_id, "size": size,
                                                                                   "reproduction": case.describe()}}
        if self.reduced:
            rc, ro = self.reduced
            f = ro.finding
            d["reduced"] = {"size": rc.size(), "reproduction": rc.describe(), "where": f.where if f else "",
                            "message": f.message[:500] if f else ""}
        return d


def run_pool(cases, jobs: int, bound: float, grace: float, on_result):
    """Run ``cases`` (an iterator of (id, case)) on ``jobs`` workers; ``on_result(id, case, outcome)``."""
    runners = [F.Runner(bound, grace) for _ in range(jobs)]
    busy = {}  # runner index -> (id, case)
    it = iter(cases)
    exhausted = False
    try:
        while True:
            for i, r in enumerate(runners):
                if i not in busy and not exhausted:
                    try:
                        cid, case = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    r.submit(case)
                    busy[i] = (cid, case)
            if not busy:
                break
            wait([runners[i].conn for i in busy], timeout=0.5)
            for i in list(busy):
                out = runners[i].poll(0)
                if out is not None:
                    cid, case = busy.pop(i)
                    on_result(cid, case, out)
    finally:
        for r in runners:
            r.close()


def main(argv=None) -> int:
    args = parse_args(argv)
    oracles = tuple(o for o in args.oracles.split(",") if o)

    def make(seed, index, family):
        case = F.case_for(seed, index, family)
        case.oracles = oracles
        return case

    if args.case:
        parts = args.case.split(":")
        seed, index = int(parts[0]), int(parts[1])
        family = parts[2] if len(parts) > 2 else args.family
        case = make(seed, index, family)
        r = F.Runner(args.bound, args.grace)
        try:
            out = r.run(case)
        finally:
            r.close()
        print(out.report(case))
        for s in out.stages:
            print(f"  {s.stage:14s} {s.status:9s} {s.seconds:7.3f} s {s.exc_type}")
        return 0

    counts, per_family, per_exc = Counter(), defaultdict(Counter), Counter()
    findings: dict = {}
    seconds = []
    t0 = time.perf_counter()
    done = [0]

    def on_result(cid, case, out):
        acceptable = out.acceptable(case)
        status = out.status
        counts[status] += 1
        per_family[case.family][status] += 1
        seconds.append((out.seconds, cid, case.family))
        if not acceptable:
            sig = out.signature()
            per_exc[(sig[0], sig[2] or "-")] += 1
            findings.setdefault(sig, Finding(sig)).add(cid, case, out)
        done[0] += 1
        if not args.quiet and done[0] % 500 == 0:
            el = time.perf_counter() - t0
            print(f"  {done[0]}/{args.n} in {el:.0f} s; {sum(f.count for f in findings.values())} findings "
                  f"({len(findings)} distinct)", file=sys.stderr, flush=True)

    cases = ((f"{args.seed}:{i}", make(args.seed, i, args.family)) for i in range(args.start, args.start + args.n))
    run_pool(cases, args.jobs, args.bound, args.grace, on_result)
    elapsed = time.perf_counter() - t0

    ordered = sorted(findings.values(), key=lambda f: (-f.count, f.signature))
    if args.reduce_budget > 0 and ordered:
        r = F.Runner(args.bound, args.grace)
        try:
            for f in ordered:
                size, cid, case, out = f.smallest
                sig = f.signature
                budget = args.reduce_budget if sig[0] != "hang" else max(1, args.reduce_budget // 10)

                def keeps(o, sig=sig):
                    return o.signature() == sig or (sig[0] == "hang" and o.status == "hang")

                reduced = F.reduce_case(case, keeps, r.run, budget=budget)
                f.reduced = (reduced, r.run(reduced))
        finally:
            r.close()

    print(f"\n{args.n} inputs (seed {args.seed}{', family ' + args.family if args.family else ''}) "
          f"in {elapsed:.1f} s on {args.jobs} workers")
    print("outcomes: " + ", ".join(f"{k} {counts[k]}" for k in F.STATUSES if counts[k]))
    print("by family:")
    for fam in sorted(per_family):
        c = per_family[fam]
        print(f"  {fam:14s} " + ", ".join(f"{k} {c[k]}" for k in F.STATUSES if c[k]))
    if per_exc:
        print("findings by exception type:")
        for (status, exc), n in per_exc.most_common():
            print(f"  {n:6d}  {status:9s} {exc}")
    slow = sorted(seconds)[-5:]
    print("slowest inputs: " + ", ".join(f"{cid} ({fam}) {s:.1f} s" for s, cid, fam in reversed(slow)))
    print(f"\n{len(ordered)} distinct findings, by how many inputs hit each:")
    for k, f in enumerate(ordered, 1):
        size, cid, case, out = f.smallest
        fr = out.finding
        print(f"\n#{k}  {f.count} inputs  {f.signature[0]} in {f.signature[1]}: {f.signature[2]}"
              f"  at {fr.where if fr else '-'}  (raised in {fr.origin if fr else '-'})")
        if fr:
            print(f"    message: {fr.message[:300]!r}")
        print(f"    families: {dict(f.families)}; smallest: case {cid}, {size} characters")
        shown = f.reduced[0] if f.reduced and f.reduced[1].signature()[:3] == f.signature[:3] else case
        print("    " + shown.describe(1500).replace("\n", "\n    "))

    if args.json != "-":
        summary = {"n": args.n, "seed": args.seed, "family": args.family, "seconds": round(elapsed, 2),
                   "jobs": args.jobs, "bound": args.bound, "outcomes": dict(counts),
                   "families": {k: dict(v) for k, v in per_family.items()},
                   "exceptions": [{"status": s, "exception": e, "inputs": n} for (s, e), n in per_exc.most_common()],
                   "findings": [f.to_json() for f in ordered]}
        Path(args.json).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"\nsummary: {args.json}")
    return 0 if not ordered else 1


if __name__ == "__main__":
    sys.exit(main())
