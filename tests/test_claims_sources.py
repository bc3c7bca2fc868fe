"""Published worked examples and their hand derivations, as test data for the claim judge.

Every file ``tests/sources/claims/<source>.toml`` holds one public source's worked example: the
spec it is about (``spec`` = a spec file relative to the claims file, ``spec_text`` = the spec's TOML
inline, or an inline ``[spec]`` table), and one ``[[claim]]`` per line of the source's derivation,
written exactly as the source writes it, plus realistic mistakes. Each claim says what the judge
must answer (``expect``: "correct" or "incorrect"), for a wrong claim the diagnosis ``kind``, and
optionally which readings hold (``holds``: "given" = at the spec's values, "inputs" = for every
value of the parameters with the given inputs and targets, "general" = for every value of every leaf).

The expectations follow the judge's semantics of issue #11: a claim is correct when it holds at the
spec's given values (integers and arithmetic are exact numbers; a decimal is judged to the
precision written); a scalar equals a 1×1 matrix; sums over examples (``\\sum_{i=1}^m``,
``np.sum(…, axis=1, keepdims=True)``) and the course spellings ``dW^{[1]}``, ``db``, ``dv``, δ, ∇ are
gradients of the loss; ``\\frac{\\partial y}{\\partial x}`` of an inner node is its total derivative
when written as one and its local derivative when it matches that. They are the sources' answers
(or, where a source slips, the right answer and a note saying who is wrong), never symbackprop's.

``[published.value]`` and ``[published.gradient]`` hold the source's own correct numbers for node
values and for gradients of the loss (node → number or matrix, a string keeps the written
decimals); the spec's derivation must reproduce them to the precision written.
"""
from __future__ import annotations

import functools
import math
import tomllib
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sb
from symbackprop.reader.latex import canonical_name
from symbackprop.spec import spec_from_dict, spec_from_toml

CLAIMS = Path(__file__).resolve().parent / "sources" / "claims"
FILES = sorted(CLAIMS.glob("*.toml"))
VERDICTS = ("correct", "incorrect")
KINDS = ("sign", "constant_factor", "missing_factor", "extra_factor", "wrong_factor", "missing_term",
         "shape_mismatch", "transpose", "rounding", "value", "other")
READINGS = ("given", "inputs", "general")


@functools.lru_cache(maxsize=None)
def load(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def spec_of(path: Path):
    data = load(path)
    if "spec_text" in data:
        return spec_from_toml(data["spec_text"])
    if isinstance(data.get("spec"), dict):
        return spec_from_dict(data["spec"])
    return sb.load_spec((path.parent / data["spec"]).resolve())


@functools.lru_cache(maxsize=None)
def derivation_of(path: Path):
    return sb.derive(spec_of(path))


def claims() -> list:
    out = []
    for path in FILES:
        for i, claim in enumerate(load(path).get("claim", []), 1):
            out.append(pytest.param(path, claim, id=f"{path.stem}-{i:02d}"))
    return out


def describe(report) -> str:
    return "\n".join(f"  [{v.verdict}/{v.diagnosis.kind}] {v.claim}: {v.diagnosis.message}" for v in report)


# ---- the files themselves --------------------------------------------------------------------
def test_there_are_sources():
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_file_is_well_formed(path):
    data = load(path)
    assert set(data) <= {"source", "spec", "spec_text", "published", "published_tolerance", "claim"}, set(data)
    assert isinstance(data.get("source"), str) and data["source"].strip(), "every file names its source"
    assert sum(k in data for k in ("spec", "spec_text")) == 1, "one spec: a path, an inline table or spec_text"
    if isinstance(data.get("spec"), str):
        assert (path.parent / data["spec"]).resolve().is_file(), data["spec"]
    assert data.get("claim"), "at least one [[claim]]"
    expects = set()
    for claim in data["claim"]:
        assert set(claim) <= {"text", "expect", "kind", "holds", "note"}, claim
        assert isinstance(claim["text"], str) and claim["text"].strip()
        assert claim["expect"] in VERDICTS, claim
        expects.add(claim["expect"])
        if "kind" in claim:
            assert claim["expect"] == "incorrect" and claim["kind"] in KINDS, claim
        assert set(claim.get("holds", [])) <= set(READINGS), claim
        if claim.get("holds"):
            assert claim["expect"] == "correct" and "given" in claim["holds"], claim
    assert expects == set(VERDICTS), "each source has right steps and at least one mistake"
    spec_of(path)  # loads


# ---- the published numbers -----------------------------------------------------------------------
def tolerance(written) -> float:
    """Half a unit in the last place written (0.2447 → 5e-5; 6 → exact)."""
    text = written if isinstance(written, str) else repr(written)
    if isinstance(written, int) and not isinstance(written, bool):
        return 1e-9
    exponent = Decimal(text).as_tuple().exponent
    return 0.5 * 10.0 ** exponent + 1e-12


def compare(got, published, what: str, at_least: float = 0.0) -> None:
    if isinstance(published, list):
        got = np.asarray(got, dtype=float)
        rows = published if isinstance(published[0], list) else [published]
        got = got.reshape(len(rows), -1)
        for r, row in enumerate(rows):
            for c, written in enumerate(row):
                compare(float(got[r, c]), written, f"{what}[{r}][{c}]", at_least)
        return
    want = float(published)
    got = float(np.asarray(got, dtype=float).reshape(-1)[0]) if np.ndim(got) else float(got)
    assert math.isclose(got, want, rel_tol=0, abs_tol=max(tolerance(published), at_least)), (
        f"{what}: the derivation gives {got!r}, the source publishes {published!r}")


PUBLISHED = [p for p in FILES if load(p).get("published")]


@pytest.mark.parametrize("path", PUBLISHED, ids=[p.stem for p in PUBLISHED])
def test_published_numbers_are_reproduced(path):
    published = load(path)["published"]
    assert set(published) <= {"value", "gradient"}
    slack = load(path).get("published_tolerance", 0.0)  # the source's own inputs were rounded
    d = derivation_of(path)
    for name, number in published.get("value", {}).items():
        compare(d.value(canonical_name(name)), number, f"{path.stem}: {name}", slack)
    for name, number in published.get("gradient", {}).items():
        compare(d.adjoint_value(canonical_name(name)), number, f"{path.stem}: ∂{d.loss}/∂{name}", slack)


# ---- the judge --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, claim", claims())
def test_claim(path, claim):
    report = sb.verify(spec_of(path), claim["text"])
    expect = claim["expect"]
    assert report.verdict == expect, (
        f"{path.name}: expected {expect}, got {report.verdict}\n{describe(report)}\n"
        f"note: {claim.get('note', '')}")
    if expect == "incorrect" and "kind" in claim:
        wrong = report[0] if len(report) == 1 else report.first_wrong
        assert wrong.diagnosis.kind == claim["kind"], (
            f"{path.name}: expected the diagnosis {claim['kind']}, got {wrong.diagnosis.kind}\n"
            f"{describe(report)}\nnote: {claim.get('note', '')}")
    for v in report:
        holds = getattr(v, "holds", None)
        if not claim.get("holds") or holds is None:
            continue
        for reading in claim["holds"]:
            assert holds.get(reading) is True, (
                f"{path.name}: '{reading}' should hold for {v.claim}; holds = {holds}\n"
                f"note: {claim.get('note', '')}")
