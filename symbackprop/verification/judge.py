r"""Judging one claim: read it, lower it, compare it with the truth.

The right-hand side is lowered in node names; a partial in it
(:math:`\partial L/\partial a_1`, :math:`\partial a_2/\partial z_2`) stands for
its true value. A claim that contains decimals (``-1.350 \times 0.219``) is
about the spec's values: it is accepted when it agrees with the truth within
what the written precision allows (each decimal is uncertain by half a unit of
its last digit; the uncertainties are propagated to first order; a number equal
to a given value, like ``2.0`` for :math:`x`, counts as exact). Any other claim
is an identity in the leaves: first a cheap symbolic proof (``expand`` of the
difference, under a time bound), then a comparison at seeded random points.
"""
from __future__ import annotations

import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Iterator

import sympy as sp

from symbackprop.reader import latex as latex_in
from symbackprop.sympy_form import AdjointSymbol
from symbackprop.errors import LatexSyntaxError, SpecError, SymbackpropError
from symbackprop.reader.latex import Name, Num, Partial, walk_tree
from symbackprop.render.phrases import phrase
from symbackprop.verification.claims import Claim
from symbackprop.verification.diagnose import Branch, Evidence, Factor, close, diagnose
from symbackprop.verification.oracle import Oracle, Target, value_at
from symbackprop.verification.report import Diagnosis, Verdict

_NUMBER = re.compile(r"(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?")


@dataclass(frozen=True)
class Written:
    """A decimal number as written: its value and the half unit of its last digit."""

    text: str
    value: float
    half_ulp: float
    decimals: int

    @classmethod
    def read(cls, text: str) -> "Written":
        m = _NUMBER.fullmatch(text)
        decimals = len(m.group("frac") or "")
        exp = int(m.group("exp") or 0)
        return cls(text, float(text), 0.5 * 10.0 ** (exp - decimals), max(decimals - exp, 0))


@dataclass
class Lowered:
    """A claim's right-hand side in node names, with placeholders for what it refers to."""

    target: Target
    expr: sp.Expr
    partials: dict[sp.Symbol, Target]
    numbers: dict[sp.Symbol, Written]
    single: Written | None  #: the right-hand side is this one number (with its sign)
    sign: int = 1


class TimeUp(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Raise :class:`TimeUp` after ``seconds`` (main thread only: yields False elsewhere)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield False
        return

    def ring(signum, frame):
        raise TimeUp

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---- reading ---------------------------------------------------------------
def rebase_error(e: LatexSyntaxError, claim: Claim, part: str, col: int) -> LatexSyntaxError:
    """An error in one side, pointing into the row as the person wrote it."""
    if e.position is None or col < 0:
        return e
    message = str(e)
    suffix = f" at column {e.position + 1} in '{e.text}'"
    if message.endswith(suffix):
        message = message[:-len(suffix)]
    return LatexSyntaxError(message, claim.source.rstrip(), col + e.position)


class Reader:
    """Reads claims against one network: names checked, partials resolved to targets."""

    def __init__(self, oracle: Oracle):
        self.oracle = oracle
        self.names = list(oracle.network.order)
        self.known = set(self.names)

    def _check_names(self, tree, text: str) -> None:
        for n in walk_tree(tree):
            if isinstance(n, Name) and n.canonical not in self.known:
                raise LatexSyntaxError(f"unknown name '{n.latex or n.canonical}'; the network's names are "
                                       f"{', '.join(self.names)}", text, n.pos)

    def _target(self, of: str, wrt: str | None, text: str, pos: int) -> Target:
        try:
            return self.oracle.target(of, wrt)
        except SpecError as e:
            raise LatexSyntaxError(str(e), text, pos) from None

    def target(self, claim: Claim) -> Target:
        text = claim.lhs
        try:
            tree = latex_in.parse(text, self.known, allow_partial=True)
            self._check_names(tree, text)
            if isinstance(tree, Partial):
                return self._target(tree.of.canonical, tree.wrt.canonical, text, tree.pos)
            if isinstance(tree, Name):
                return Target(tree.canonical, None, "value")
            raise LatexSyntaxError(
                "the left side must be a gradient such as \\frac{\\partial L}{\\partial w_1}, a local "
                "derivative such as \\frac{\\partial a_2}{\\partial z_2}, or a node name", text, 0)
        except LatexSyntaxError as e:
            raise rebase_error(e, claim, text, claim.lhs_col) from None

    def lower(self, claim: Claim, target: Target) -> Lowered:
        text = claim.rhs
        try:
            tree = latex_in.parse(text, self.known, allow_partial=True)
            self._check_names(tree, text)
            tree, numbers = _number_placeholders(tree)
            symbols = {n: self.oracle.network.node(n).symbol for n in self.names}
            symbols.update({k: s for k, (s, _) in numbers.items()})
            partials: dict[tuple[str, str], sp.Symbol] = {}
            targets: dict[sp.Symbol, Target] = {}
            positions = {(n.of.canonical, n.wrt.canonical): n.pos for n in walk_tree(tree) if isinstance(n, Partial)}

            def partial(of: str, wrt: str) -> sp.Symbol:
                if (of, wrt) not in partials:
                    t = self._target(of, wrt, text, positions.get((of, wrt), -1))
                    s = sp.Dummy(t.label, real=True)
                    partials[(of, wrt)], targets[s] = s, t
                return partials[(of, wrt)]

            expr = latex_in.tree_to_sympy(tree, symbols, partial=partial, text=text)
        except LatexSyntaxError as e:
            raise rebase_error(e, claim, text, claim.rhs_col) from None
        written = {s: w for s, w in numbers.values()}
        single, sign = _single_number(tree, numbers)
        return Lowered(target, expr, targets, written, single, sign)


def _number_placeholders(tree):
    """Decimals become named placeholders (their uncertainty is propagated); integers stay exact."""
    numbers: dict[str, tuple[sp.Symbol, Written]] = {}

    def sub(node):
        if isinstance(node, Num) and not node.value.isdigit():
            key = f"#{len(numbers)}"
            numbers[key] = (sp.Dummy(f"n{len(numbers)}", real=True), Written.read(node.value))
            return Name(key, node.value, pos=node.pos)
        if isinstance(node, tuple):
            return tuple(sub(x) for x in node)
        if is_dataclass(node) and not isinstance(node, (Name, Num)):
            return replace(node, **{f.name: sub(getattr(node, f.name)) for f in fields(node)
                                    if f.name != "pos"})
        return node

    return sub(tree), numbers


def _single_number(tree, numbers) -> tuple[Written | None, int]:
    sign = 1
    while isinstance(tree, latex_in.Neg):
        sign, tree = -sign, tree.x
    if isinstance(tree, Name) and tree.canonical in numbers:
        return numbers[tree.canonical][1], sign
    return None, sign


# ---- judging ---------------------------------------------------------------
class Judge:
    """Verdicts against one network (caches the truth across claims)."""

    def __init__(self, oracle: Oracle, *, lang: str = "en", points: int = 6, time_budget: float = 0.25):
        self.oracle = oracle
        self.reader = Reader(oracle)
        self.lang = lang
        self.points = points
        self.time_budget = time_budget

    def __call__(self, claim: Claim) -> Verdict:
        try:
            if claim.error is not None:
                raise claim.error
            target = self.reader.target(claim)
            lowered = self.reader.lower(claim, target)
            if lowered.numbers:
                return self.numeric(claim, lowered)
            return self.symbolic(claim, lowered)
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

    # -- identities in the leaves
    def proof(self, lowered: Lowered) -> bool:
        """Cheap symbolic proof that claim − truth is 0 (False when unsure or out of time)."""
        o = self.oracle
        try:
            with time_limit(self.time_budget) as limited:
                if not limited:  # no timer outside the main thread: the points decide alone
                    return False
                claim = lowered.expr.xreplace({s: o.leaf_form(t) for s, t in lowered.partials.items()})
                difference = o.leaf_form(claim) - o.leaf_form(lowered.target)
                if sp.expand(difference) == 0:
                    return True
                return sp.cancel(sp.together(difference)) == 0
        except (TimeUp, RecursionError, TypeError, ValueError, ZeroDivisionError):
            return False

    def claim_value(self, lowered: Lowered, point, numbers: bool = False) -> float | None:
        o = self.oracle
        env = dict(o.env(point))
        for s, t in lowered.partials.items():
            v = o.value(t, point)
            if v is None:
                return None
            env[s] = sp.Float(v, 30)
        if numbers:
            env.update({s: sp.Float(w.text, 30) for s, w in lowered.numbers.items()})
        return value_at(lowered.expr, env)

    def symbolic(self, claim: Claim, lowered: Lowered) -> Verdict:
        o, target = self.oracle, lowered.target
        if self.proof(lowered):
            return self._correct(claim, target, "symbolic", phrase("ok_symbolic", self.lang, target=target.label))
        pts, claimed, truth = [], [], []
        for p in o.pool(self.points):  # more than self.points when needed to see both sides of kinks
            t = o.value(target, p)
            if t is None or o.at_kink([lowered.expr], o.env(p)):
                continue
            pts.append(p)
            truth.append(t)
            claimed.append(self.claim_value(lowered, p))
        if not pts:
            raise SpecError(f"could not find points where {target.label} is defined to compare at")
        slack = [0.0] * len(pts)
        if all(c is not None and close(c, t, rel=1e-9) for c, t in zip(claimed, truth)):
            return self._correct(claim, target, "numeric",
                                 phrase("ok_numeric", self.lang, target=target.label, n=len(pts)))
        e = Evidence(target, pts, claimed, truth, slack, shown=self._shown(lowered))
        self._add_factors(e)
        return Verdict(claim.text, target.label, "incorrect", diagnose(e, self.lang), claim.line)

    # -- numbers at the spec's values
    def numeric(self, claim: Claim, lowered: Lowered) -> Verdict:
        o, target = self.oracle, lowered.target
        if not o.values or any(n not in o.values for n in o.leaves):
            missing = [n for n in o.leaves if not o.values or n not in o.values]
            raise SpecError(f"the claim has numbers, but the spec gives no value for "
                            f"{', '.join(missing)}; add them under [values]")
        point = {n: float(o.values[n]) for n in o.leaves}
        t = o.value(target, point)
        if t is None:
            raise SpecError(f"{target.label} has no finite value at the spec's values")
        c = self.claim_value(lowered, point, numbers=True)
        slack = self._slack(lowered, point) if c is not None else 0.0
        decimals = max(w.decimals for w in lowered.numbers.values())
        exact = f"{t:.{max(decimals, 3) + 2}f}"
        shown = _shown_value(lowered, c, decimals)
        if c is not None and close(c, t, slack, rel=1e-12):
            key = "ok_precision" if slack > 0 else "ok_value"  # every number exact: 0.5 × 2.0
            return self._correct(claim, target, "precision", phrase(
                key, self.lang, target=target.label, exact=exact, written=shown, tol=f"{slack:.1g}"))
        hand = o.hand_value(target, decimals)
        if c is not None and hand is not None and close(c, hand, slack, rel=1e-12):
            return self._correct(claim, target, "hand", phrase(
                "ok_hand", self.lang, target=target.label, exact=exact, written=shown,
                hand=f"{hand:.{decimals}f}"))
        e = Evidence(target, [point], [c], [t], [slack], numeric=True,
                     written=shown if lowered.single else None, decimals=decimals)
        self._add_factors(e)
        return Verdict(claim.text, target.label, "incorrect", diagnose(e, self.lang), claim.line)

    def _slack(self, lowered: Lowered, point) -> float:
        """First-order bound on the claim's error from rounding its written numbers."""
        o = self.oracle
        given = {abs(float(v)) for v in (o.values or {}).values() if isinstance(v, (int, float))}
        env = dict(o.env(point))
        for s, t in lowered.partials.items():
            env[s] = sp.Float(o.value(t, point), 30)
        env.update({s: sp.Float(w.text, 30) for s, w in lowered.numbers.items()})
        bound = 0.0
        for s, w in lowered.numbers.items():
            if w.value in given:
                continue  # the given value itself (2.0 for x): exact
            slope = value_at(sp.diff(lowered.expr, s), env)
            bound += abs(slope if slope is not None else 1.0) * w.half_ulp
        return bound * (1 + 1e-9)

    # -- helpers
    def _correct(self, claim: Claim, target: Target, method: str, message: str) -> Verdict:
        return Verdict(claim.text, target.label, "correct", Diagnosis("none", message), claim.line, method)

    def _shown(self, lowered: Lowered) -> list[str]:
        """Leaves a counterexample mentions: those the target and the claim depend on."""
        o = self.oracle
        used: set[str] = set()
        nodes = {lowered.target.of} | {t.of for t in lowered.partials.values()}
        nodes |= {s.name for s in lowered.expr.free_symbols if s.name in o.network}
        for n in list(nodes):
            used |= o.network.ancestors(n) | {n}
        return [n for n in o.leaves if n in used]

    def _add_factors(self, e: Evidence) -> None:
        o, target = self.oracle, e.target
        seen: list[list[float]] = []
        parts: list = []
        below = o.network.descendants(target.wrt) | {target.wrt} if target.wrt else set()
        for term in o.factors(target):
            if term.expr.is_number:
                continue  # a constant is a constant factor, said as such
            values = [value_at(term.expr, o.env(p)) for p in e.points]
            if any(v is None for v in values):
                continue
            if any(all(close(a, b, rel=1e-12) for a, b in zip(values, s)) for s in seen):
                continue
            seen.append(values)
            e.factors.append(Factor.of_term(term, values, term.wrt in below))
            parts.append(term)
        # then the factors of product local derivatives, tried after the whole ones
        for term in parts:
            for f in Factor.parts_of(term, lambda x: [value_at(x, o.env(p)) for p in e.points],
                                     term.wrt in below):
                if any(v is None for v in f.values) or f.trivial and not f.on_path:
                    continue
                if any(all(close(a, b, rel=1e-12) for a, b in zip(f.values, s)) for s in seen):
                    continue
                seen.append(f.values)
                e.factors.append(f)
        if target.kind in ("adjoint", "total") and target.wrt != target.of:
            self._add_branches(e, below)

    def _add_branches(self, e: Evidence, below: set[str]) -> None:
        """Each term of each sum on the chain, as its share of the target: a node ``v`` that
        feeds several consumers contributes ∂of/∂c · ∂c/∂v · ∂v/∂wrt through each ``c``."""
        o, target = self.oracle, e.target
        d = o.derivation(target.of)
        for step in d.backward:
            if step.node not in below or len(step.terms) < 2:
                continue
            v = step.node
            down = None if v == target.wrt else o.target(v, target.wrt)
            for term in step.terms:
                values = []
                for p in e.points:
                    env = o.adjoints(target.of, p)
                    up = 1.0 if term.of == target.of else float(env[AdjointSymbol(term.of, target.of)])
                    through = 1.0 if down is None else o.value(down, p)
                    local = value_at(d.scalar_form(term.local), env)
                    if through is None or local is None:
                        break
                    values.append(up * local * through)
                else:
                    e.terms.append(Branch(v, term.of, len(step.terms), values))


def _shown_value(lowered: Lowered, c: float | None, decimals: int) -> str:
    """The claim's value: the number as written, or what its numbers give, two digits past them."""
    if lowered.single is not None:
        return ("-" if lowered.sign < 0 else "") + lowered.single.text
    if c is None:
        return "undefined"
    text = f"{c:.{max(decimals, 3) + 2}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
