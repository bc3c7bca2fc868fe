r"""How long ``symbackprop grade`` takes for a class: 200 submissions × 10 claims, per spec.

    python benchmarks/grading.py [--students 200] [--claims 10] [--rounds 3] [--seed 0]

For each of the article's specs (``derivations/seed_scalar.toml``,
``derivations/seed_matrix.toml``) a class is written into a temporary
directory: every student writes ``--claims`` claims drawn from the worked
solution (``seed_scalar.claims``, or ``seed_matrix.claims`` plus the forward
pass), about a third of them with a random mistake — a lost sign, a missing or
extra factor, a wrong number (random digits, so most are unlike any other
student's), a transposed matrix, or one of ``seed_scalar_mistakes.claims`` —
one student in five as a ``.tex`` align environment, one in five as
Markdown ``$$`` blocks. ``grade()`` is timed from the spec's path (a fresh
Verifier and verdict cache each round, as one command-line call), after one
warm-up round, and the median of ``--rounds`` is printed with the number of
distinct claims actually judged. The target is under 30 s a class.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symbackprop.verification.claims import read_claims  # noqa: E402
from symbackprop.verification.grade import Grader  # noqa: E402

DERIVATIONS = ROOT / "derivations"
MATRIX_FORWARD = [("Z_1", "X W_1 + b_1"), ("A_1", r"\sigma(Z_1)"), ("Z_2", "A_1 W_2 + b_2"),
                  ("A_2", r"\sigma(Z_2)")]
#: a matrix formula → its transposed or misordered forms
TRANSPOSED = {r"A_1^\top \cdot": r"A_1 \cdot", r"\cdot W_2^\top": r"\cdot W_2", r"X^\top \cdot": r"X \cdot"}


def pairs(path: Path) -> list[tuple[str, str]]:
    """``(lhs, rhs)`` of each claim of a claims file, the ``\\in`` shape kept on the right."""
    out = []
    for c in read_claims(path.read_text(encoding="utf-8"), numbered=True):
        rhs = c.rhs + (rf" \qquad \in {c.annotation}" if c.annotation else "")
        out.append((c.lhs, rhs))
    return out


def mutate(lhs: str, rhs: str, rng: random.Random, mistakes: list[tuple[str, str]]) -> tuple[str, str]:
    """One of the typical mistakes, applied to a right claim."""
    formula, _, shape = rhs.partition(r" \qquad \in ")
    shape = rf" \qquad \in {shape}" if shape else ""
    kinds = ["sign", "factor", "number"]
    if any(k in formula for k in TRANSPOSED):
        kinds.append("transpose")
    if mistakes:
        kinds.append("known")
    kind = rng.choice(kinds)
    if kind == "sign":
        return lhs, f"-({formula}){shape}"
    if kind == "factor":
        return lhs, rng.choice([rf"2 ({formula})", rf"\frac{{1}}{{2}} ({formula})"]) + shape
    if kind == "transpose":
        k = next(k for k in TRANSPOSED if k in formula)
        return lhs, formula.replace(k, TRANSPOSED[k]) + shape
    if kind == "known":
        return rng.choice(mistakes)
    # a wrong number: random digits (or, without a number, a stray term)
    numbers = list(re.finditer(r"\d+\.\d+", formula))
    if not numbers:
        return lhs, f"{formula} + {rng.randint(1, 9)}{shape}"
    m = rng.choice(numbers)
    return lhs, f"{formula[:m.start()]}{rng.uniform(0, 2):.3f}{formula[m.end():]}{shape}"


def write_student(path: Path, claims: list[tuple[str, str]], kind: str) -> Path:
    if kind == "tex":
        rows = " \\\\\n".join(f"  {lhs} &= {rhs}" for lhs, rhs in claims)
        text = ("\\documentclass{article}\n\\begin{document}\nMy gradients:\n"
                f"\\begin{{align*}}\n{rows}\n\\end{{align*}}\n\\end{{document}}\n")
        path = path.with_suffix(".tex")
    elif kind == "md":
        text = "# Homework\n\n" + "\n\n".join(f"$$\n{lhs} = {rhs}\n$$" for lhs, rhs in claims) + "\n"
        path = path.with_suffix(".md")
    else:
        text = "% homework\n" + "\n".join(f"{lhs} = {rhs}" for lhs, rhs in claims) + "\n"
        path = path.with_suffix(".claims")
    path.write_text(text, encoding="utf-8")
    return path


def write_class(directory: Path, right: list[tuple[str, str]], mistakes: list[tuple[str, str]],
                students: int, per_student: int, rng: random.Random) -> int:
    """Write the class; the number of claims written."""
    total = 0
    for k in range(students):
        picked = sorted(rng.sample(range(len(right)), min(per_student, len(right))))
        claims = []
        for i in picked:
            lhs, rhs = right[i]
            claims.append(mutate(lhs, rhs, rng, mistakes) if rng.random() < 0.35 else (lhs, rhs))
        write_student(directory / f"student{k:03d}", claims, ["tex", "md", "claims", "claims", "claims"][k % 5])
        total += len(claims)
    return total


def time_class(spec: Path, directory: Path, rounds: int) -> tuple[float, int, dict]:
    def once():
        grader = Grader(str(spec))
        start = time.perf_counter()
        report = grader.grade(directory)
        return time.perf_counter() - start, grader, report

    once()  # warm-up: SymPy's caches, imports
    results = [once() for _ in range(rounds)]
    seconds = statistics.median(r[0] for r in results)
    grader, report = results[-1][1], results[-1][2]
    return seconds, len(grader._verdicts), report.summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--claims", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    scalar_mistakes = pairs(DERIVATIONS / "seed_scalar_mistakes.claims")
    classes = [
        ("seed_scalar.toml", pairs(DERIVATIONS / "seed_scalar.claims"), scalar_mistakes),
        ("seed_matrix.toml", pairs(DERIVATIONS / "seed_matrix.claims") + MATRIX_FORWARD, []),
    ]
    print(f"{args.students} students × {args.claims} claims, median of {args.rounds} rounds after a warm-up")
    for name, right, mistakes in classes:
        with tempfile.TemporaryDirectory() as tmp:
            total = write_class(Path(tmp), right, mistakes, args.students, args.claims, rng)
            seconds, judged, summary = time_class(DERIVATIONS / name, Path(tmp), args.rounds)
        print(f"  {name:18} {total} claims, {judged} distinct verdicts: {seconds:.2f} s "
              f"({1e3 * seconds / total:.2f} ms a claim); mean score {summary['mean']:.2f}")


if __name__ == "__main__":
    main()
