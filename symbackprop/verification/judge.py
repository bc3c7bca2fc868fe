r"""Judging one claim: read it, lower it to the IR, compare it with the truth three ways.

A claim is compared with its target under three readings (see
:mod:`.truth`): at the given values, for these inputs (random parameters),
and in general (random values of every leaf, random sizes). The verdict
follows one reading, ``given`` by default — what a worked solution claims —
or a stricter one on request; the report says which readings hold.

Numbers are numbers: integers and arithmetic (``5(-3) + 1(1)``) are exact,
and a decimal is uncertain by half a unit of its last digit, propagated to
first order (a number equal to a given value, like ``2.0`` for :math:`x`,
counts as exact). A claim made of numbers also passes when it matches the
value a person gets carrying the written decimals forward ("by hand").

A scalar, a 1×1 matrix and a length-1 vector are equal; shapes are compared
with their 1s dropped. A wrong claim gets the most specific diagnosis that
fits (:mod:`.diagnose`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import product
from typing import Optional

import numpy as np

from symbackprop import ir
from symbackprop.errors import LatexSyntaxError, ShapeError, SpecError, SymbackpropError
from symbackprop.printing.ir import to_latex as ir_latex
from symbackprop.printing.ir import to_text as ir_text
from symbackprop.printing.sympy import sympy_latex, sympy_text
from symbackprop.printing.numbers import round_text
from symbackprop.render.phrases import phrase
from symbackprop.shapes import shape_text
from symbackprop.verification.claims import Claim
from symbackprop.verification.diagnose import Branch, Evidence, Factor, close, diagnose
from symbackprop.verification.reading import Lowered, Reader
from symbackprop.verification.report import Diagnosis, Verdict
from symbackprop.verification.truth import READINGS, Case, Target, Truth

RTOL = 1e-8  # float64 values computed two ways
#: activations whose derivatives a person plausibly writes for one another
LOOKALIKES = ("sigmoid", "tanh", "relu")


@dataclass
class Outcome:
    """One way of reading a claim (its target, its partials), compared in each reading."""

    target: Target
    binding: dict  #: placeholder -> Target
    rows: dict = field(default_factory=dict)  #: reading -> [(case, claimed, truth, slack)]
    holds: dict = field(default_factory=dict)  #: reading -> True/False/None (no case)


def squeezed(shape) -> tuple:
    """A shape without its 1s: a scalar, 1×1 and a length-1 vector are alike."""
    return tuple(d for d in shape if d != 1)


class Judge:
    """Verdicts against one network (the truth is cached across claims)."""

    def __init__(self, truth: Truth, *, lang: str = "en", reading: str = "given"):
        if reading not in READINGS:
            raise SpecError(f"unknown reading '{reading}'; use one of {', '.join(READINGS)}")
        self.truth = truth
        self.network = truth.network
        self.reader = Reader(truth)
        self.lang = lang
        self.reading = reading

    # ---- entry -------------------------------------------------------------
    def __call__(self, claim: Claim) -> Verdict:
        try:
            if claim.error is not None:
                raise claim.error
            try:
                targets = self.reader.targets(claim)
            except LatexSyntaxError:  # "0.116 = dL/dw_1", "[[…]] = dW": the target on the right
                swapped = replace(claim, lhs=claim.rhs, rhs=claim.lhs, lhs_col=claim.rhs_col, rhs_col=claim.lhs_col)
                try:
                    targets = self.reader.targets(swapped)
                except LatexSyntaxError:
                    targets = None
                if targets is None:
                    raise
                claim = swapped
            try:
                low = self.reader.lower(claim)
            except ShapeError as e:
                return self.unconformable(claim, targets, e)
            return self.judge(claim, targets, low)
        except SymbackpropError as e:
            details = {"column": e.position + 1} if getattr(e, "position", None) is not None else {}
            return self._error(claim, str(e), details)
        except RecursionError:
            return self._error(claim, "expression nested too deeply")
        except Exception as e:  # noqa: BLE001 - a claim must end in a verdict, never a traceback
            return self._error(claim, f"could not check this claim ({type(e).__name__}: {e})")

    def _error(self, claim: Claim, message: str, details: dict | None = None) -> Verdict:
        return Verdict(claim.text if claim.lhs else claim.source.strip(), claim.lhs, "error",
                       Diagnosis("error", message, details or {}), claim.line)

    def _verdict(self, claim: Claim, target: Target, verdict: str, d: Diagnosis, method=None,
                 holds=None, meant=None) -> Verdict:
        return Verdict(claim.text, target.label, verdict, d, claim.line, method, holds, meant)

    def unconformable(self, claim: Claim, targets: list[Target], e: ShapeError) -> Verdict:
        """Products that do not conform: a transpose forgotten, or a shape mismatch."""
        for name, low in self.reader.transposed(claim):
            for out in self.outcomes(targets, low):
                if self.compare(out, low, "general") or (self.compare(out, low, "given")
                                                         and not self.truth.cases("general")):
                    return self._verdict(claim, out.target, "incorrect", Diagnosis("transpose", phrase(
                        "d_transpose_name", self.lang, name=name), {"name": name}))
        return self._verdict(claim, targets[0], "incorrect", Diagnosis(
            "shape_mismatch", phrase("d_shape", self.lang, detail=str(e))))

    # ---- the readings ----------------------------------------------------------
    def effective(self) -> str:
        """The reading the verdict follows: the one asked for, else the first that has cases."""
        start = READINGS.index(self.reading)
        for r in READINGS[start:]:
            if self.truth.cases(r):
                return r
        raise SpecError("could not find values at which the network is defined to compare at")

    def outcomes(self, targets: list[Target], low: Lowered):
        """Ways of reading the claim: the default first, then ``∂y/∂x`` as local or total."""
        choices = [low.partials[p] for p in low.partials]
        for target in targets:
            for picked in product(*choices):
                yield Outcome(target, dict(zip(low.partials, picked)))

    def compare(self, out: Outcome, low: Lowered, reading: str) -> Optional[bool]:
        """Claim and truth at every case of ``reading``; True/False, None when none applies."""
        if reading in out.holds:
            return out.holds[reading]
        rows = []
        for case in self.truth.cases(reading):
            t = self.truth.value(out.target, case)
            if t is None:
                continue
            extra = {}
            for p, tgt in out.binding.items():
                v = self.truth.value(tgt, case)
                if v is None:
                    break
                extra[p] = v
            else:
                extra.update({k: np.asarray(w.value) for k, w in low.numbers.items()})
                extra.update({k: m.value for k, m in low.literals.items()})
                if low.literals and case.reading == "general" and self.network.dims:
                    continue  # a numeric matrix has the given sizes only
                c = self.truth.evaluate(low.expr, case, extra)
                if c is not None and c.shape != t.shape:
                    c = c.reshape(t.shape) if c.size == t.size else None
                slack = self.slack(low, case, extra, c) if c is not None else 0.0
                rows.append((case, c, t, slack))
        out.rows[reading] = rows
        out.holds[reading] = None if not rows else all(
            c is not None and _close(c, t, s) for _, c, t, s in rows)
        return out.holds[reading]

    def slack(self, low: Lowered, case: Case, extra: dict, c: np.ndarray):
        """First-order bound on the claim's error from rounding its written numbers."""
        if not (low.numbers or low.literals):
            return 0.0
        given = set()
        if self.truth.given is not None:
            given = {abs(float(v)) for v in self.truth.given.values() if np.ndim(v) == 0}
        bound = np.zeros_like(c)
        bumps = [(k, w.half_ulp) for k, w in low.numbers.items() if abs(w.value) not in given]
        bumps += [(k, m.half_ulp) for k, m in low.literals.items()]
        for k, h in bumps:
            if not np.any(h):
                continue
            moved = self.truth.evaluate(low.expr, case, {**extra, k: extra[k] + h})
            bound = bound + (np.abs(moved.reshape(c.shape) - c) if moved is not None and moved.size == c.size
                             else np.abs(h).max())
        return bound * (1 + 1e-9)

    # ---- the verdict -------------------------------------------------------------
    def judge(self, claim: Claim, targets: list[Target], low: Lowered) -> Verdict:
        target = targets[0]
        problem = self.shape_problem(claim, target, low)
        if problem is not None:
            return problem
        if low.numeric and not self.truth.cases("given"):
            missing = [n for n in self.truth.leaves if not self.truth.values or n not in self.truth.values]
            if missing:
                raise SpecError(f"the claim has numbers, but the spec gives no value for "
                                f"{', '.join(missing)}; add them under [values]")
            raise SpecError(f"the claim has numbers, but {target.label} has no finite value at the "
                            f"spec's values")
        reading = self.effective()
        first = None
        for out in self.outcomes(targets, low):
            first = first or out
            if self.compare(out, low, reading):
                return self.correct(claim, out, low, reading, meant=len(targets) > 1)
            hand = self.by_hand(out, low) if reading == "given" else None
            if hand is not None:
                return self._verdict(claim, out.target, "correct", hand, "hand", self.all_holds(out, low))
        wrong = [self.incorrect(claim, out, low, reading) for out in self.outcomes(targets, low)
                 if out.binding == first.binding]
        return next((v for v in wrong if v.diagnosis.kind != "other"), wrong[0])

    def all_holds(self, out: Outcome, low: Lowered) -> dict:
        return {r: self.compare(out, low, r) for r in READINGS}

    def correct(self, claim: Claim, out: Outcome, low: Lowered, reading: str, meant: bool) -> Verdict:
        holds = self.all_holds(out, low)
        label = out.target.label
        kind = out.target.kind if meant else None
        said = phrase("ok_meant_" + kind, self.lang) if kind else ""
        if low.numeric and out.rows.get("given") and reading == "given":
            _, c, t, s = out.rows["given"][0]
            if t.ndim == 0:
                exact = _exact(float(t), low.decimals)
                written = (("-" if low.sign < 0 else "") + low.single.text if low.single is not None
                           else _shown(float(c), low.decimals))
                key = "ok_precision" if np.any(s > 0) else "ok_value"
                msg = phrase(key, self.lang, target=label, exact=exact, written=written,
                             tol=f"{float(np.max(s)):.1g}") + said
                return self._verdict(claim, out.target, "correct", Diagnosis("none", msg), "precision", holds,
                                     kind)
            msg = phrase("ok_entries", self.lang, target=label, n=t.size, tol=f"{float(np.max(s)):.1g}")
            return self._verdict(claim, out.target, "correct", Diagnosis("none", msg), "precision", holds)
        msg = phrase("ok_equal", self.lang, target=label) + "; " + self.holds_text(out, holds) + said
        return self._verdict(claim, out.target, "correct", Diagnosis("none", msg), "numeric", holds, kind)

    def holds_text(self, out: Outcome, holds: dict) -> str:
        """Which readings hold, in words: the strongest one first."""
        lang = self.lang
        if holds.get("general"):
            cases = out.rows["general"]
            sizes = cases[-1][0].sizes
            if sizes:
                text = ", ".join(f"{d} = {sizes[d]}" for d in sorted(sizes))
                return phrase("h_general_sizes", lang, n=len(cases), sizes=text)
            return phrase("h_general", lang, n=len(cases))
        inputs = [n for n in self.truth.leaves if n not in self.network.params]
        if holds.get("inputs"):
            return phrase("h_inputs", lang, n=len(out.rows["inputs"]), inputs=", ".join(inputs) or "—")
        return phrase("h_given", lang)

    def by_hand(self, out: Outcome, low: Lowered) -> Optional[Diagnosis]:
        """A claim of numbers that matches the value carried by hand to its decimals."""
        rows = out.rows.get("given")
        if not (low.numbers and rows) or rows[0][1] is None or rows[0][1].ndim:
            return None
        _, c, t, s = rows[0]
        hand = self.truth.hand_value(out.target, low.decimals)
        if hand is None or not _close(c, np.asarray(hand), s):
            return None
        written = ("-" if low.sign < 0 else "") + low.single.text if low.single else _num(float(c))
        return Diagnosis("none", phrase("ok_hand", self.lang, target=out.target.label,
                                        exact=_exact(float(t), low.decimals), written=written,
                                        hand=f"{hand:.{low.decimals}f}"))

    # ---- shapes ------------------------------------------------------------------
    def shape_problem(self, claim: Claim, target: Target, low: Lowered) -> Optional[Verdict]:
        v = target.wrt or target.of
        want, got = self.network.node(v).shape, low.expr.shape
        sizes = self.truth.cases("given")[0].sizes if self.truth.cases("given") else None
        written = _annotated_shape(claim.annotation)
        shapes = {"claim": shape_text(got), "expected": shape_text(want)}
        if written is not None and squeezed(written) != squeezed(want):
            return self._verdict(claim, target, "incorrect", Diagnosis("shape_mismatch", phrase(
                "d_shape_written", self.lang, written=shape_text(written), target=target.label, v=v,
                want=shape_text(want)), {"shapes": {**shapes, "written": shape_text(written)}}))
        if squeezed(got) == squeezed(want):
            return None
        if sizes is not None and squeezed(sizes.resolve(got)) == squeezed(sizes.resolve(want)) and (
                low.numeric or any(isinstance(d, int) for d in got)):
            return None  # a numeric matrix of the given size
        out = next(self.outcomes([target], low))
        cases = [c for c in self.truth.cases("general") if not low.literals] or self.truth.cases("given")
        pairs = []
        for case in cases:
            t = self.truth.value(target, case)
            extra = {p: self.truth.value(tgt, case) for p, tgt in out.binding.items()}
            extra.update({k: np.asarray(w.value) for k, w in low.numbers.items()})
            extra.update({k: m.value for k, m in low.literals.items()})
            c = None if any(x is None for x in extra.values()) else self.truth.evaluate(low.expr, case, extra)
            pairs.append((c, t))
        if len(got) == 2 and squeezed(got) == squeezed(want[::-1]) and all(
                c is not None and t is not None and c.T.shape == t.shape and _close(c.T, t, 0.0) for c, t in pairs):
            return self._verdict(claim, target, "incorrect", Diagnosis("transpose", phrase(
                "d_transpose", self.lang, target=target.label, got=shape_text(got), v=v, want=shape_text(want)),
                {"shapes": shapes}))
        message = phrase("d_shape_result", self.lang, target=target.label, got=shape_text(got), v=v,
                         want=shape_text(want))
        for axis, key in ((0, "d_shape_rows"), (1, "d_shape_columns")):
            if len(got) == 2 and all(c is not None and t is not None and c.ndim == 2
                                     and c.sum(axis=axis).size == t.size
                                     and _proportional(c.sum(axis=axis).reshape(t.shape), t) for c, t in pairs):
                message += phrase(key, self.lang)
                break
        return self._verdict(claim, target, "incorrect", Diagnosis("shape_mismatch", message, {"shapes": shapes}))

    # ---- a wrong claim -----------------------------------------------------------
    def incorrect(self, claim: Claim, out: Outcome, low: Lowered, reading: str) -> Verdict:
        holds = self.all_holds(out, low)
        if low.numeric and holds.get("given") is False:
            tries = [["given"]]
        else:  # the given values first (the counterexample a person can follow), then the rest;
            # a claim about these inputs (a one-hot target) is explained where they are kept
            failing = [r for r in ("general", "inputs") if holds.get(r) is False] or [reading]
            first = ["given"] if holds.get("given") is False else []
            tries = [first + [r] for r in failing]
        d = self.transposed(out, out.target)
        e = None
        for readings in tries:
            e = self.evidence(out, low, readings)
            d = d or diagnose(e, self.lang)
            if d is not None:
                break
        d = d or self.counterexample(self.evidence(out, low, tries[0]))
        if holds.get("given") and reading != "given":
            d.message = phrase("d_only_given", self.lang, reading=phrase("r_" + reading, self.lang)) + d.message
        return self._verdict(claim, out.target, "incorrect", d, None, holds)

    def transposed(self, out: Outcome, target: Target) -> Optional[Diagnosis]:
        """A square matrix transposed: caught at random values, which are not symmetric."""
        v = target.wrt or target.of
        shape = self.network.node(v).shape
        rows = [r for reading in READINGS for r in out.rows.get(reading, [])]
        if len(shape) != 2 or shape[0] != shape[1] or not rows:
            return None
        if all(c is not None and c.ndim == 2 and _close(c.T, t, s) and not _close(c, t, s) for _, c, t, s in rows):
            text = shape_text(shape)
            return Diagnosis("transpose", phrase("d_transpose", self.lang, target=target.label, got=text, v=v,
                                                 want=text), {"shapes": {"claim": text, "expected": text}})
        return None

    def evidence(self, out: Outcome, low: Lowered, readings: list[str]) -> Evidence:
        """Claim and truth, entry by entry, at the cases of ``readings``, with the chain's factors."""
        rows = [r for reading in dict.fromkeys(readings) for r in out.rows.get(reading, [])]
        claimed, truth, slack, points, where = [], [], [], [], []
        for case, c, t, s in rows:
            n = t.size
            truth += [float(x) for x in np.ravel(t)]
            claimed += [None] * n if c is None else [float(x) for x in np.ravel(c)]
            slack += [float(x) for x in np.ravel(np.broadcast_to(s, t.shape))]
            for i in range(n):
                points.append((case, np.unravel_index(i, t.shape) if t.ndim else ()))
        e = Evidence(out.target, points, claimed, truth, slack, numeric=low.numeric)
        e.decimals = low.decimals
        if low.single is not None and low.numeric:
            e.written = ("-" if low.sign < 0 else "") + low.single.text
        e.shown = self.shown(out, low)
        if self.network.is_scalar:  # a node added or left out as a term (p_3 for p_3 − y_3)
            used = set(e.shown) | low.names | {out.target.of}
            net = self.network
            rank = {n: (0 if net.node(n).is_leaf and n not in net.params else 1 if not net.node(n).is_leaf else 2)
                    for n in net.order}  # inputs and targets first: the y of p − y
            e.nodes = {n: [float(case.env[n]) for case, _ in points]
                       for n in sorted(net.order, key=lambda n: rank[n]) if n in used and n != out.target.of}
        if claimed and all(c is not None for c in claimed):
            self.add_factors(e, [r[0] for r in rows])
            self.add_branches(e, [r[0] for r in rows])
            e.dims = self.dims_factor(rows)
        return e

    def shown(self, out: Outcome, low: Lowered) -> list[str]:
        """Leaves a counterexample mentions: those the target and the claim depend on."""
        net = self.network
        nodes = {out.target.of} | {t.of for t in out.binding.values()} | low.names
        used = set(nodes).union(*(net.ancestors(n) for n in nodes))
        return [n for n in self.truth.leaves if n in used]

    def counterexample(self, e: Evidence) -> Diagnosis:
        i = next((i for i, (c, t, s) in enumerate(zip(e.claimed, e.truth, e.slack))
                  if c is None or not close(c, t, s)), 0)
        case, entry = e.points[i]
        label = e.target.label
        c, t = e.claimed[i], e.truth[i]
        if e.numeric:
            d = max(e.decimals, 3)
            if e.written is not None and e.decimals == 0:
                msg = phrase("d_wrong_integer", self.lang, target=label, exact=_exact(t, 0), written=e.written)
            elif e.written is not None:
                msg = phrase("d_wrong_value", self.lang, target=label, exact=f"{t:.{e.decimals + 2}f}",
                             rounded=round_text(t, e.decimals), digits=e.decimals, written=e.written)
            else:
                msg = phrase("d_numbers_off", self.lang, target=label,
                             claimed=_num(c) if c is None else _exact(c, e.decimals), exact=_exact(t, e.decimals))
            details = {"expected": t, "claimed": c}
            if entry:
                details["entry"] = [int(k) + 1 for k in entry]
                msg += phrase("d_at_entry", self.lang, entry=_entry(entry))
            return Diagnosis("value", msg, details)
        details = {"claimed": c, "expected": t}
        scalars = {n: float(case.env[n]) for n in e.shown if np.ndim(case.env[n]) == 0}
        if scalars:
            details["point"] = scalars
        if case.sizes:
            details["sizes"] = {d: int(case.sizes[d]) for d in sorted(case.sizes)}
        if entry:
            details["entry"] = [int(k) + 1 for k in entry]
        at = case.describe([n for n in e.shown if n in scalars])
        msg = phrase("d_other_at" if at else "d_other_plain", self.lang, point=at, claimed=_num(c),
                     target=label, expected=_num(t))
        if entry:
            msg = phrase("d_other_entry" if at else "d_other_entry_plain", self.lang, point=at,
                         entry=_entry(entry), claimed=_num(c), target=label, expected=_num(t))
        return Diagnosis("other", msg, details)

    # ---- what a diagnosis can name ---------------------------------------------
    def add_factors(self, e: Evidence, cases: list[Case]) -> None:
        """Local derivatives of the target's chain, entry by entry: whole, in parts, and look-alikes."""
        target, truth = e.target, self.truth
        if target.wrt is None:
            return
        below = self.network.descendants(target.wrt) | {target.wrt}
        want = squeezed(self.network.node(target.wrt).shape)
        seen: list[list[float]] = []

        def values(expr: ir.Expr) -> Optional[list[float]]:
            out = []
            for case in cases:
                v = truth.evaluate(expr, case, {})
                if v is None:
                    return None
                t = truth.value(target, case)
                out += [float(x) for x in np.ravel(np.broadcast_to(v, t.shape))] if v.size in (1, t.size) \
                    else [float("nan")] * t.size
            return out

        def add(f: Factor) -> None:
            if f.values is None or len(f.values) != len(e.truth) or any(np.isnan(f.values)):
                return
            if any(all(close(a, b, rel=1e-12) for a, b in zip(f.values, s)) for s in seen):
                return
            seen.append(f.values)
            e.factors.append(f)

        d = truth.derivation(target.of)
        wholes = []
        terms = sorted(truth.terms(target), key=lambda t: t.wrt not in below)
        for term in terms:
            on_path = term.wrt in below
            if term.local is not None:  # a number's local derivative, as the worked solution writes it
                if isinstance(term.local, ir.Scalar):
                    continue
                form = d.scalar_form(term.local)
                f = Factor(term.of, term.wrt, sympy_text(form), sympy_latex(form), values(term.local),
                           on_path, isinstance(term.local, ir.Var))
                add(f)
                wholes.append((term, form, f))
                self.add_lookalikes(e, term.of, term.wrt, on_path, values, add)
            else:
                x = self.network.node(term.of).expr
                if (isinstance(x, ir.Apply) and isinstance(x.x, ir.Var) and x.x.name == term.wrt
                        and squeezed(self.network.node(term.wrt).shape) == want):
                    prime = ir.Prime(x.func, x.x, x.alpha)
                    add(Factor(term.of, term.wrt, ir_text(prime), ir_latex(prime), values(prime), on_path))
                    self.add_lookalikes(e, term.of, term.wrt, on_path, values, add)
        for term, form, whole in wholes:  # then the factors of product local derivatives
            if not form.is_Mul or whole.values is None or not self.network.is_scalar:
                continue
            parts = [f for f in form.args if not f.is_number]
            if len(parts) < 2:
                continue
            for part in parts:
                vals = self.sympy_values(part, cases)
                if vals is None or (part.is_Atom and not whole.on_path):
                    continue
                add(Factor(term.of, term.wrt, sympy_text(part), sympy_latex(part), vals, whole.on_path,
                           part.is_Atom, whole=sympy_text(form)))

    def add_lookalikes(self, e, of: str, wrt: str, on_path: bool, values, add) -> None:
        """σ′ where tanh′ belongs: the derivative of another activation, at the same argument."""
        x = self.network.node(of).expr
        if not (on_path and isinstance(x, ir.Apply) and x.func in LOOKALIKES and x.x == self.network.node(wrt).var):
            return
        a = self.network.node(of).var
        by_output = {"sigmoid": ir.hadamard(a, ir.sub(ir.Scalar(1), a)),  # σ′ written with the output
                     "tanh": ir.sub(ir.Scalar(1), ir.hadamard(a, a))}
        for func in LOOKALIKES:
            if func != x.func:
                for form in (ir.Prime(func, x.x), by_output.get(func)):
                    if form is None:
                        continue
                    text, latex = ir_text(form), ir_latex(form)
                    if self.network.node(of).shape == () and not isinstance(form, ir.Prime):
                        written = self.truth.derivation(e.target.of).scalar_form(form)
                        text, latex = sympy_text(written), sympy_latex(written)
                    add(Factor(of, wrt, text, latex, values(form), on_path, lookalike=True))

    def sympy_values(self, expr, cases: list[Case]) -> Optional[list[float]]:
        from symbackprop.numeric import sympy_value

        out = []
        for case in cases:
            if any(np.ndim(case.env[s.name]) for s in expr.free_symbols if s.name in case.env):
                return None
            env = {s: float(case.env[s.name]) for s in expr.free_symbols if s.name in case.env}
            env.update({s: float(case.sizes[s.name]) for s in expr.free_symbols if s.name in case.sizes})
            try:
                v = sympy_value(expr, env)
            except SymbackpropError:
                return None
            if v is None:
                return None
            out.append(v)
        return out

    def add_branches(self, e: Evidence, cases: list[Case]) -> None:
        """Each term of each sum on the chain, as its share of the target (a forgotten path)."""
        target, truth = e.target, self.truth
        if target.kind not in ("adjoint", "total") or target.wrt == target.of:
            return
        below = self.network.descendants(target.wrt) | {target.wrt}
        for step in truth.steps(target.of):
            if step.node not in below or len(step.terms) < 2:
                continue
            if step.node != target.wrt and not self.network.is_scalar:
                continue
            down = None if step.node == target.wrt else truth.target(step.node, target.wrt) \
                if not self.network.node(step.node).is_leaf else None
            for term in step.terms:
                vals = []
                for case in cases:
                    adj = truth.adjoints(target.of, case)
                    if adj is None:
                        break
                    share = ir.evaluate(term.expr, case.env, adj, case.sizes)
                    through = 1.0 if down is None else truth.value(down, case)
                    if through is None:
                        break
                    vals += [float(x) for x in np.ravel(share * through)]
                else:
                    if len(vals) == len(e.truth):
                        e.terms.append(Branch(step.node, term.of, len(step.terms), vals))

    def dims_factor(self, rows) -> Optional[tuple]:
        """Per-entry sizes of each dimension, for a lost ``1/m``."""
        if not self.network.dims:
            return None
        out = {d: [] for d in sorted(self.network.dims)}
        for case, c, t, s in rows:
            for d in out:
                out[d] += [float(case.sizes[d])] * t.size
        return out


def _close(c: np.ndarray, t: np.ndarray, slack) -> bool:
    c, t = np.asarray(c, dtype=float), np.asarray(t, dtype=float)
    if c.shape != t.shape:
        return False
    return bool(np.all(np.abs(c - t) <= slack + RTOL * np.maximum(np.abs(c), np.abs(t)) + 1e-300))


def _exact(value: float, decimals: int) -> str:
    """A true value as a message shows it: a whole number as one, else two digits past those written."""
    if decimals == 0 and abs(value - round(value)) <= 1e-9 * max(1.0, abs(value)):
        return str(int(round(value)))
    return f"{value:.{max(decimals, 3) + 2}f}"


def _shown(value: float, decimals: int) -> str:
    """What a claim's numbers give, two digits past the most written."""
    text = f"{value:.{max(decimals, 3) + 2}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _proportional(c: np.ndarray, t: np.ndarray) -> bool:
    """``c = k·t`` for one constant ``k`` (a lost ``1/m`` is said separately)."""
    i = int(np.argmax(np.abs(t)))
    if np.ravel(t)[i] == 0:
        return False
    return _close(c, (np.ravel(c)[i] / np.ravel(t)[i]) * t, 0.0)


def _num(value: Optional[float]) -> str:
    return "undefined" if value is None else f"{value:.6g}"



def _entry(entry) -> str:
    return f"[{', '.join(str(int(k) + 1) for k in entry)}]"


def _annotated_shape(annotation: Optional[str]):
    r"""The shape of ``\mathbb{R}^{m \times n}`` written after ``\in`` (None if there is none)."""
    import re

    from symbackprop.reader.latex import canonical_name

    if not annotation:
        return None
    m = re.fullmatch(r"\\mathbb\{R\}\s*(?:\^\s*(?:\{(?P<braced>[^{}]*(?:\{[^{}]*\}[^{}]*)*)\}|(?P<one>\w)))?\s*",
                     annotation.strip())
    if m is None:
        return None
    body = m.group("braced") if m.group("braced") is not None else (m.group("one") or "")
    if not body.strip():
        return ()
    dims = []
    for part in re.split(r"\\times|×|\*", body):
        part = part.strip()
        dims.append(int(part) if part.isdigit() else canonical_name(part))
    return tuple(dims)
