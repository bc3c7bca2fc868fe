r"""Claims in batched matrix form: shapes first, then values at several random sizes.

A matrix claim (``\frac{\partial L}{\partial W_2} = A_1^\top \frac{\partial L}{\partial Z_2}``)
is lowered by :func:`symbackprop.reader.lower.lower` with the network's shapes, so a
product that does not conform is caught with both shapes named, and a claim of
the wrong shape is told apart from a transposed one. A claim of the right
shape is compared entry by entry with the adjoint the matrix derivation
computes (its VJP rules), at the spec's values and at several random sizes,
each dimension a different size (``m = 5, n_in = 3, …``): a transposed
product of square matrices, or ``\frac{2}{m}`` written as ``\frac{2}{4}``, is
right at one size by accident.

>>> import symbackprop as sb
>>> spec = sb.load_spec("derivations/seed_matrix.toml")
>>> v = sb.verify(spec, r"\frac{\partial L}{\partial W_2} = \frac{\partial L}{\partial Z_2}^\top A_1")[0]
>>> v.diagnosis.kind, v.diagnosis.message
('transpose', 'transposed: the claim is (∂L/∂W_2)ᵀ, of shape n_2×n_1; ∂L/∂W_2 has the shape of W_2, n_1×n_2')
"""
from __future__ import annotations

import random
import re
from fractions import Fraction

import numpy as np
import sympy as sp

from symbackprop.reader import latex as latex_in
from symbackprop.errors import LatexSyntaxError, ShapeError, SpecError, SymbackpropError
from symbackprop.reader.latex import Name, Partial, canonical_name
from symbackprop.reader.lower import lower
from symbackprop import ir as O
from symbackprop.backprop import backward_values, derive_steps, forward_values, leaf_arrays
from symbackprop.network import Network
from symbackprop.printing.ir import to_latex as matrix_latex
from symbackprop.printing.ir import to_text as matrix_text
from symbackprop.shapes import Sizes, dim_symbol, shape_text
from symbackprop.render.phrases import phrase
from symbackprop.verification.claims import Claim
from symbackprop.verification.diagnose import Evidence, Factor, close, explain
from symbackprop.reader.latex import walk_tree
from symbackprop.verification.judge import rebase_error
from symbackprop.verification.oracle import Target
from symbackprop.verification.report import Diagnosis, Verdict

RTOL = 1e-9  # float64 arrays, computed two ways


class MatrixJudge:
    """Verdicts on claims about a :class:`~symbackprop.network.Network`."""

    def __init__(self, network: Network, values=None, *, lang: str = "en", seed: int = 0,
                 rounds: int = 4):
        network.validate()
        self.network = network
        self.values = dict(values) if values else None
        self.lang = lang
        self.seed = seed
        self.rounds = rounds
        self.names = list(network.order)
        self.leaves = [n for n in network.order if network.node(n).is_leaf]
        self.truth_net = _all_leaves_trainable(network)
        self.steps = derive_steps(self.truth_net, lambda f: f.assumption is None)  # exact for any arrays
        self._cases: list | None = None
        self._given = 0  #: 1 when the spec's values are the first case

    # ---- reading -------------------------------------------------------------
    def _check_names(self, tree, text: str) -> None:
        allowed = set(self.names) | self.network.dims
        for n in walk_tree(tree):
            if isinstance(n, Name) and n.canonical not in allowed:
                raise LatexSyntaxError(f"unknown name '{n.latex or n.canonical}'; the network's names are "
                                       f"{', '.join(self.names)}", text, n.pos)

    def target(self, claim: Claim) -> Target:
        text = claim.lhs
        try:
            tree = latex_in.parse(text, set(self.names), allow_partial=True)
            self._check_names(tree, text)
            if isinstance(tree, Name) and tree.canonical in self.names:
                return Target(tree.canonical, None, "value")
            if isinstance(tree, Partial) and tree.of.canonical == self.network.loss:
                return Target(tree.of.canonical, tree.wrt.canonical, "adjoint")
            raise LatexSyntaxError(
                f"in matrix form the left side must be a gradient of the loss, such as "
                f"\\frac{{\\partial {self.network.loss}}}{{\\partial W_1}}, or a node name", text, 0)
        except LatexSyntaxError as e:
            raise rebase_error(e, claim, text, claim.lhs_col) from None

    def lower(self, claim: Claim) -> O.Expr:
        """The claim's IR; a :class:`ShapeError` when its products do not conform."""
        text = claim.rhs
        try:
            tree = latex_in.parse(text, set(self.names) | self.network.dims, allow_partial=True)
            self._check_names(tree, text)
            return lower(tree, self.network.shapes, loss=self.network.loss, dims=self.network.dims, text=text)
        except LatexSyntaxError as e:
            raise rebase_error(e, claim, text, claim.rhs_col) from None

    # ---- judging -------------------------------------------------------------
    def __call__(self, claim: Claim) -> Verdict:
        try:
            if claim.error is not None:
                raise claim.error
            target = self.target(claim)
            try:
                expr = self.lower(claim)
            except ShapeError as e:
                return self._incorrect(claim, target, Diagnosis(
                    "shape_mismatch", phrase("d_shape", self.lang, detail=str(e)), {}))
            return self.judge(claim, target, expr)
        except SymbackpropError as e:
            details = {"column": e.position + 1} if getattr(e, "position", None) is not None else {}
            return Verdict(claim.text if claim.lhs else claim.source.strip(), claim.lhs, "error",
                           Diagnosis("error", str(e), details), claim.line)
        except Exception as e:  # noqa: BLE001 - a claim must end in a verdict, never a traceback
            return Verdict(claim.text, claim.lhs, "error",
                           Diagnosis("error", f"could not check this claim ({type(e).__name__}: {e})"),
                           claim.line)

    def judge(self, claim: Claim, target: Target, expr: O.Expr) -> Verdict:
        v = target.wrt or target.of
        want = self.network.node(v).shape
        got = expr.shape
        cases = self.cases()
        claimed, truth = [], []
        for env, adjoints, sizes in cases:
            claimed.append(O.evaluate(expr, env, adjoints, sizes))
            truth.append(env[v] if target.wrt is None else adjoints[v])
        shapes = {"claim": shape_text(got), "expected": shape_text(want)}
        written = _annotated_shape(claim.annotation)
        if written is not None and written != want:  # "∈ ℝ^{…}" written beside the formula
            return self._incorrect(claim, target, Diagnosis("shape_mismatch", phrase(
                "d_shape_written", self.lang, written=shape_text(written), target=target.label, v=v,
                want=shape_text(want)), {"shapes": {**shapes, "written": shape_text(written)}}))
        if got != want:
            if len(got) == 2 and got == want[::-1] and all(
                    np.allclose(c, t.T, rtol=RTOL, atol=1e-300) for c, t in zip(claimed, truth)):
                return self._incorrect(claim, target, Diagnosis("transpose", phrase(
                    "d_transpose", self.lang, target=target.label, got=shape_text(got), v=v,
                    want=shape_text(want)), {"shapes": shapes}))
            message = phrase("d_shape_result", self.lang, target=target.label, got=shape_text(got), v=v,
                             want=shape_text(want))
            if len(got) == 2 and got[1:] == want and all(
                    np.allclose(c.sum(axis=0), t, rtol=RTOL) for c, t in zip(claimed, truth)):
                message += phrase("d_shape_rows", self.lang)
            return self._incorrect(claim, target, Diagnosis("shape_mismatch", message, {"shapes": shapes}))
        if all(np.allclose(c, t, rtol=RTOL, atol=1e-300) and c.shape == t.shape for c, t in zip(claimed, truth)):
            example = cases[-1][2]
            sizes = ", ".join(f"{d} = {example[d]}" for d in sorted(self.network.dims))
            key = "ok_matrix_given" if self._given else "ok_matrix"
            return Verdict(claim.text, target.label, "correct", Diagnosis("none", phrase(
                key, self.lang, target=target.label, n=len(cases) - self._given, sizes=sizes)),
                claim.line, "numeric")
        return self._incorrect(claim, target, self.diagnose(target, expr, cases, claimed, truth))

    def diagnose(self, target, expr, cases, claimed, truth) -> Diagnosis:
        flat_c = [float(x) for c in claimed for x in np.ravel(c)]
        flat_t = [float(x) for t in truth for x in np.ravel(t)]
        e = Evidence(target, [], flat_c, flat_t, [0.0] * len(flat_t))
        d = explain(e, self.lang, "sign") or self._constant(target, claimed, truth, cases)
        if d is not None:
            return d
        e.factors = self._factors(target, cases)
        d = explain(e, self.lang, "factors")
        if d is not None:
            return d
        return self._counterexample(target, cases, claimed, truth)

    def _constant(self, target, claimed, truth, cases) -> Diagnosis | None:
        """Off by a constant, or by a constant times a dimension (a lost 1/m)."""
        ratios = []
        for c, t in zip(claimed, truth):
            i = int(np.argmax(np.abs(t)))
            tf, cf = np.ravel(t), np.ravel(c)
            if tf[i] == 0 or not np.allclose(cf, (cf[i] / tf[i]) * tf, rtol=1e-7, atol=1e-300):
                return None
            ratios.append(cf[i] / tf[i])
        candidates = [("", lambda s: 1.0)] + [(d, (lambda d: lambda s: float(s[d]))(d))
                                              for d in sorted(self.network.dims)]
        for name, size in candidates:
            for p in (1, -1):
                ks = [r / size(s) ** p for r, (_, _, s) in zip(ratios, cases)]
                if all(close(k, ks[0], rel=1e-7) for k in ks) and not (name == "" and close(ks[0], 1.0)):
                    text = _factor_text(ks[0], name, p)
                    return Diagnosis("constant_factor", phrase("d_constant", self.lang, k=text,
                                                               target=target.label), {"factor": text})
        return None

    def _factors(self, target: Target, cases) -> list[Factor]:
        """Elementwise local derivatives f'(Z) of activation nodes with the target's shape."""
        if target.wrt is None:
            return []
        want = self.network.node(target.wrt).shape
        below = self.network.descendants(target.wrt) | {target.wrt}
        out = []
        for name in self.network.order:
            node = self.network.node(name)
            x = node.expr
            if not isinstance(x, O.Apply) or not isinstance(x.x, O.Var) or node.shape != want:
                continue
            prime = O.Prime(x.func, x.x, x.alpha)
            values = [float(v) for env, adj, s in cases for v in np.ravel(O.evaluate(prime, env, adj, s))]
            out.append(Factor(name, x.x.name, matrix_text(prime), matrix_latex(prime), values,
                              on_path=x.x.name in below))
        return out

    def _counterexample(self, target, cases, claimed, truth) -> Diagnosis:
        env, adjoints, sizes = cases[0]
        c, t = claimed[0], truth[0]
        i = np.unravel_index(int(np.argmax(np.abs(c - t))), t.shape) if t.ndim else ()
        where = ", ".join(f"{d} = {sizes[d]}" for d in sorted(self.network.dims))
        entry = f"[{', '.join(str(int(k) + 1) for k in i)}]" if i else ""
        msg = phrase("d_other_matrix", self.lang, sizes=where, target=target.label, entry=entry,
                     claimed=f"{float(c[i]):.6g}", expected=f"{float(t[i]):.6g}")
        return Diagnosis("other", msg, {"sizes": {d: int(sizes[d]) for d in self.network.dims},
                                        "entry": [int(k) + 1 for k in i],
                                        "claimed": float(c[i]), "expected": float(t[i])})

    def _incorrect(self, claim: Claim, target: Target, d: Diagnosis) -> Verdict:
        return Verdict(claim.text, target.label, "incorrect", d, claim.line)

    # ---- the cases compared -----------------------------------------------------
    def cases(self) -> list:
        """(node values, adjoints, sizes): at the spec's values, then at random sizes."""
        if self._cases is None:
            cases = []
            if self.values and all(n in self.values for n in self.leaves):
                try:
                    cases.append(self._case(self.values))
                except SymbackpropError:
                    pass
            self._given = len(cases)
            rng = random.Random(self.seed)
            attempts = 0
            while len(cases) < self.rounds + (1 if cases else 0) and attempts < 50:
                attempts += 1
                try:
                    cases.append(self._case(self._random_arrays(rng)))
                except SymbackpropError:
                    continue
            if not cases:
                raise SpecError("could not find values at which the network is defined to compare at")
            self._cases = cases
        return self._cases

    def _case(self, arrays):
        env, sizes = leaf_arrays(self.truth_net, arrays)
        forward_values(self.truth_net, env, sizes)
        adjoints = backward_values(self.truth_net, self.steps, env, sizes)
        return env, adjoints, sizes

    def _random_arrays(self, rng: random.Random) -> dict:
        """Random values like the spec's (one-hot rows stay one-hot, 0/1 stays 0/1, positive stays
        positive), every dimension a different size."""
        dims = sorted(self.network.dims)
        sizes = Sizes(zip(dims, rng.sample(range(2, 2 + len(dims) + 4), len(dims))))
        nrng = np.random.default_rng(rng.randrange(2 ** 32))
        out = {}
        for name in self.leaves:
            shape = sizes.resolve(self.network.node(name).shape)
            out[name] = _like(np.asarray(self.values[name], dtype=float) if self.values and name in self.values
                              else None, shape, nrng)
        return out


def _like(example: np.ndarray | None, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    if example is not None and example.size and np.all((example == 0) | (example == 1)):
        if example.ndim == 2 and np.all(example.sum(axis=1) == 1) and len(shape) == 2:
            return np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]
        return rng.integers(0, 2, size=shape).astype(float)
    if example is not None and example.size and np.all(example > 0):
        return rng.uniform(0.1, 1.5, size=shape)
    return rng.uniform(0.3, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def _factor_text(k: float, dim: str, power: int) -> str:
    """``2/m``, ``m/2``, ``1/2``: a constant times a dimension, as a person writes it."""
    q = Fraction(k).limit_denominator(100)
    c = sp.Rational(q.numerator, q.denominator) if abs(float(q) - k) <= 1e-9 * max(1.0, abs(k)) else sp.Float(k, 6)
    return str(c * dim_symbol(dim) ** power if dim else c)


def _annotated_shape(annotation: str | None):
    r"""The shape of ``\mathbb{R}^{m 	imes n_{2}}`` (None if it is not of that form)."""
    m = re.fullmatch(r"\\mathbb\{R\}\s*(?:\^\s*\{(.*)\}|\^\s*(\w))?\s*", annotation or "")
    if not m:
        return None
    inner = m.group(1) or m.group(2)
    if inner is None:
        return ()
    dims = []
    for part in re.split(r"\\times|×", inner):
        part = part.strip()
        try:
            dims.append(int(part) if part.isdigit() else canonical_name(part))
        except SymbackpropError:
            return None
    return tuple(dims)


def _all_leaves_trainable(net: Network) -> Network:
    """The same network with every leaf a parameter, so that ∂L/∂X has an answer too."""
    leaves = [n for n in net.order if net.node(n).is_leaf]
    copy = Network(params=leaves, loss_name=net.loss, title=net.title)
    for name in net.order:
        node = net.node(name)
        if node.is_leaf:
            copy.leaf(name, node.shape, node.latex)
        else:
            copy.define(name, node.expr, line=node.line, latex=node.latex)
    return copy
