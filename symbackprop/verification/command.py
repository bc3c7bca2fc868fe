"""``symbackprop verify SPEC --claim TEX [--claim …] [--claims FILE]``.

Verdicts go to stdout (text or JSON); in text mode each claim that cannot be
checked is one line on stderr. ``--claims -`` reads standard input.

Exit status, so that an autograder can tell who is at fault:

- 0: every claim is correct;
- 1: some claim is incorrect (a verdict against the claims);
- 3: some claim could not be read (the submitter's malformed line; this wins over 1);
- 2: the spec is broken, or the command was used wrongly (nothing was judged).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from symbackprop.errors import SymbackpropError
from symbackprop.bundled import read_spec, read_text
from symbackprop.verification import Verifier
from symbackprop.verification.claims import read_claims
from symbackprop.verification.report import Report


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="TOML spec file of the network (- for standard input, or a bundled example's name)")
    p.add_argument("--claim", action="append", default=[], metavar="TEX",
                   help=r"a claim such as '\frac{\partial L}{\partial w_1} = 0.116' (repeatable)")
    p.add_argument("--claims", metavar="FILE",
                   help="a worked solution: one claim per line or align rows, %% comments")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--lang", choices=["en", "zh"])
    p.add_argument("--reading", choices=["given", "inputs", "general"], default="given",
                   help="what a correct claim must satisfy: hold at the given values (default, what a "
                        "worked solution claims), for any parameters with the given inputs, or in general")


def run(args: argparse.Namespace) -> int:
    if not args.claim and not args.claims:
        raise SymbackpropError("nothing to check: give --claim TEX or --claims FILE")
    spec = read_spec(args.spec)
    verifier = Verifier(spec, lang=args.lang, reading=args.reading)
    claims = [c for text in args.claim for c in read_claims(text)]
    if args.claims:
        text = read_text(args.claims, "claims file")
        claims += read_claims(text, numbered=True)
    if not claims:
        raise SymbackpropError(f"no claims found in {args.claims}")
    report = Report([verifier.check(c) for c in claims], verifier.lang)
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(report.to_text(errors=False))
        for v in report:
            if v.verdict == "error":
                where = f"line {v.line}: " if v.line is not None else ""
                print(f"symbackprop: error: {where}{v.diagnosis.message}".replace("\n", " "), file=sys.stderr)
    return report.exit_code
