r"""Numerically stable forms: the one rewrite by which the derivation's numbers and the exported
code stay finite where the textbook's formulas overflow.

A worked solution writes ``ln A`` for ``A = σ(Z)`` and ``∂L/∂Z = ∂L/∂A ⊙ A ⊙ (1 − A)``;
evaluated as written, both lose everything once σ has rounded to 0 or 1 (``|Z| ≳ 37``):
``ln(1 − 1.0) = −∞``, ``0·(−∞) = NaN``, ``(1 − Y)/(1 − A) = 0/0``, and ``∂L/∂A`` itself
overflows (``1/σ(−800) = e^800``) although ``∂L/∂Z`` is an ordinary number. What is shown stays
the textbook's; what is *evaluated* — by :func:`~symbackprop.backprop.forward_values` and
:func:`~symbackprop.backprop.backward_values` (the derivation's numbers, exact mode) and by
:mod:`symbackprop.codegen.program` (the compiled and exported code) — is :func:`stable_form` of
it, equal in exact arithmetic:

* **logarithms**: ``ln σ(x) = −softplus(−x)``, ``ln(1 − σ(x)) = −softplus(x)``, ``ln softmax(x)``
  row by row (:class:`~symbackprop.ir.LogSoftmax`), ``ln(1 + eˣ) = softplus(x)`` — also through a
  node: ``ln A`` for ``A = σ(Z)`` is computed from ``Z``, never from the rounded ``A``;
* **complements**: ``1 − σ(x) = σ(−x)`` (exact where σ(x) rounds to 1), and with
  ``complements`` (the derivation's numbers) also ``1 − A = σ(−Z)`` of a node ``A = σ(Z)`` and
  ``1 − A² = 4σ(2Z)σ(−2Z)`` of ``A = tanh(Z)``. The code keeps the rules' ``A ⊙ (1 − A)`` and
  ``1 − A²`` from the stored activation, a subtraction where ``σ(−Z)`` would be another
  exponential: finite, exact to 4.4e-16 (2 ulp of 1) absolute (``σ'(40)`` is 0 there, not 4.2e-18);
* **quotients by a positive function** (σ, ``1 − σ``, softmax, ``eˣ``, as written or as a node):
  :class:`~symbackprop.ir.PositiveDiv`, whose ``0/d`` is 0 where ``d`` has underflowed to 0
  (``(1 − Y)/(1 − A)`` at ``Y = 1``), and ``1 − A`` in a denominator is ``σ(−Z)``;
* **chains**: the product ``∂L/∂A ⊙ σ'(Z)`` (the driver's ``∂L/∂a · ∂a/∂z``) where ``∂L/∂A``
  divides by ``A`` or ``1 − A`` is multiplied out before it is evaluated —
  ``(H/A) ⊙ A(1 − A) = H ⊙ σ(−Z)``, ``(H/(1 − A)) ⊙ A(1 − A) = H ⊙ A`` — and likewise
  ``(H/(1 + U)) ⊙ U = H ⊙ σ(x)`` for ``U = eˣ``. ``∂L/∂A`` is taken from its own step, so a
  stored σ is multiplied out as the rules' ``_log_sigmoid_chain`` does for one written inline;
  the sigmoid-with-binary-cross-entropy rule's number is this product
  (:meth:`StableForms.term`), ``c((1 − Y) ⊙ A − Y ⊙ σ(−Z)) = c(A − Y)``, exact also where
  ``A`` rounds to 1.

>>> from symbackprop.ir import Apply, Var
>>> z = Var("z", ())
>>> str(stable_form(Apply("log", Var("a", ())), {"a": Apply("sigmoid", z)}))
'-softplus(-z)'
"""
from __future__ import annotations

from typing import Mapping, Optional

import sympy as sp

from symbackprop import ir as O
from symbackprop.ir import Apply, Expr, Scalar

#: node name -> its definition
Definitions = Mapping[str, Expr]


def definitions(network) -> dict[str, Expr]:
    """Each defined node's definition, by name."""
    return {n: network.node(n).expr for n in network.order if not network.node(n).is_leaf}


class StableForms:
    """The stable forms of expressions over one network's nodes (``defs``: name -> definition)."""

    def __init__(self, defs: Definitions, complements: bool = True):
        self.defs = dict(defs)
        self.complements = complements
        self._held: dict[Expr, list[Expr]] = {}  # definition -> the nodes that hold it
        for n, d in self.defs.items():
            self._held.setdefault(d, []).append(O.Var(n, d.shape))

    @classmethod
    def of(cls, network, complements: bool = True) -> "StableForms":
        return cls(definitions(network), complements)

    def form(self, e: Expr, adjoints: Optional[Mapping[str, Expr]] = None) -> Expr:
        """``e`` in the forms of the module docstring; ``adjoints`` (node -> its adjoint
        expression) lets a chain through a node's adjoint be multiplied out."""
        return O.replace(self._chains(e, adjoints or {}), self._rewrite)

    def term(self, term, adjoints: Mapping[str, Expr]) -> Expr:
        """The expression a backward term is evaluated (and compiled) from.

        A fused sigmoid + binary cross-entropy term is evaluated as the chain it stands for,
        ``∂L/∂A ⊙ σ'(Z)`` multiplied out (the same value, finite where ``A`` rounds to 1);
        every other term as its own expression, in :meth:`form`.
        """
        e = term.expr
        if term.fused is not None and term.fused.rule.name == "sigmoid_bce":
            definition = self.defs.get(term.of)
            if isinstance(definition, Apply) and term.of in adjoints:
                chain = O.hadamard(O.Adj(term.of, definition.shape),
                                   O.Prime("sigmoid", definition.x))
                multiplied = self._chains(chain, adjoints)
                if multiplied != chain:
                    e = multiplied
        return self.form(e, adjoints)

    # ---- quantities of a sigmoid, softmax or exponential ------------------------------------
    def _inner(self, x: Expr) -> Expr:
        """A node's definition (``σ(Z)`` for ``A``), anything else as it is."""
        return self.defs.get(x.name, x) if isinstance(x, O.Var) else x

    def _applied(self, e: Expr, func: str) -> Optional[Expr]:
        """``x`` when ``e`` is ``func(x)``, written out or as a node."""
        e = self._inner(e)
        if isinstance(e, Apply) and e.func == func and e.alpha is None:
            return e.x
        return None

    def _positive(self, d: Expr) -> Optional[Expr]:
        """``d`` as a denominator known to be positive (σ, 1 − σ, softmax, eˣ), in its stable
        form (``1 − σ(x)`` as ``σ(−x)``); None for any other."""
        s = _one_minus(d)
        if s is not None:
            x = self._applied(s, "sigmoid")
            return None if x is None else _sigmoid(O.neg(x))
        inner = self._inner(d)
        if isinstance(inner, O.Softmax) or (isinstance(inner, Apply) and inner.alpha is None
                                            and inner.func in ("sigmoid", "exp")):
            return d
        return None

    # ---- one node at a time: logs, complements, quotients -------------------------------------
    def _inside(self, e: Expr) -> Expr:
        return O.replace(e, self._rewrite)

    def _rewrite(self, n: Expr) -> Optional[Expr]:
        if isinstance(n, Apply) and n.func == "log":
            return self._log(n)
        if isinstance(n, O.Sub):
            s = _one_minus(n)
            if isinstance(s, Apply) and s.func == "sigmoid" and s.alpha is None:  # 1 − σ(x)
                return _sigmoid(O.neg(self._inside(s.x)))
            if s is not None and self.complements:
                return self._complement(s)
        if type(n) is O.Div:
            d = self._positive(n.b)
            if d is not None:
                return O.PositiveDiv(self._inside(n.a), self._inside(d))
        return None

    def _complement(self, s: Expr) -> Optional[Expr]:
        """``1 − s`` for ``s`` a node ``A = σ(x)`` (``σ(−x)``) or the square of a tanh, ``A²`` of
        ``A = tanh(x)`` (``1 − tanh²(x) = 4σ(2x)σ(−2x)``): the rules' ``A ⊙ (1 − A)`` and
        ``1 − A²`` exact where the activation has rounded to ±1."""
        x = self._applied(s, "sigmoid")
        if x is not None:
            return _sigmoid(O.neg(self._inside(x)))
        if isinstance(s, O.Power) and s.exp == 2:
            x = self._applied(s.x, "tanh")
            if x is not None:
                x = self._inside(x)
                return O.scale(4, O.hadamard(_sigmoid(O.scale(2, x)), _sigmoid(O.scale(-2, x))))
        return None

    def _log(self, n: Apply) -> Optional[Expr]:
        """``ln σ(x) = −softplus(−x)``, ``ln(1 − σ(x)) = −softplus(x)``, ``ln softmax(x)`` by
        rows, ``ln(1 + eˣ) = softplus(x)``; ``log_b`` as ``ln`` scaled by ``1/ln b``."""
        per_base = 1 if n.alpha is None else 1 / sp.log(n.alpha)
        x = self._applied(n.x, "sigmoid")
        if x is not None:
            return O.scale(-per_base, Apply("softplus", O.neg(self._inside(x))))
        inner = self._inner(n.x)
        if isinstance(inner, O.Softmax):
            return O.scale(per_base, O.LogSoftmax(self._inside(inner.x)))
        s = _one_minus(n.x)
        if s is not None:
            x = self._applied(s, "sigmoid")
            if x is not None:
                return O.scale(-per_base, Apply("softplus", self._inside(x)))
        s = _one_plus(inner)
        if s is not None:
            x = self._applied(s, "exp")
            if x is not None:
                return O.scale(per_base, Apply("softplus", self._inside(x)))
        return None

    # ---- chains: a quotient times the derivative that cancels it -------------------------------
    def _chains(self, e: Expr, adjoints: Mapping[str, Expr]) -> Expr:
        """Every product in ``e`` of a quotient by ``σ(x)``, ``1 − σ(x)`` or ``1 + eˣ`` (written
        out, or an adjoint that is one) and the derivative ``σ'(x)`` or ``exp'(x)``, multiplied
        out."""
        memo = self.__dict__.setdefault("_chain_memo", {})
        key = (id(adjoints), e)
        if key in memo:
            return memo[key]

        def visit(n: Expr) -> Optional[Expr]:
            if not isinstance(n, (O.Hadamard, O.Scale)):
                return None
            coeff, factors = _factors(n)
            for i, p in enumerate(factors):
                if not (isinstance(p, O.Prime) and p.alpha is None
                        and p.func in ("sigmoid", "exp")):
                    continue
                for j, f in enumerate(factors):
                    multiplied = None if j == i else self._times_derivative(f, p, adjoints)
                    if multiplied is not None:
                        out = self._chains(multiplied, adjoints)
                        for k, g in enumerate(factors):
                            if k not in (i, j):
                                out = O.hadamard(out, self._chains(g, adjoints))
                        return O.scale(coeff, out)
            return None

        memo[key] = O.replace(e, visit)
        return memo[key]

    def _times_derivative(self, f: Expr, prime: O.Prime,
                          adjoints: Mapping[str, Expr]) -> Optional[Expr]:
        """``f ⊙ prime`` with each quotient of ``f`` that ``prime`` cancels multiplied out, or
        None when none does. ``f`` may be the adjoint of the node that holds ``σ(x)`` (or
        ``eˣ``), whose own step's expression is then used."""
        x, func = prime.x, prime.func
        application = Apply(func, x)
        holders = [application] + self._held.get(application, [])
        if isinstance(f, O.Adj):
            if f.name not in adjoints or O.Var(f.name, f.shape) not in holders:
                return None
            f = adjoints[f.name]

        def cancel(d: Expr) -> Optional[Expr]:  # (H/d) ⊙ prime = H ⊙ cancel(d)
            if func == "sigmoid":
                if d in holders:
                    return _sigmoid(O.neg(x))  # 1 − σ(x), exact where σ(x) rounds to 1
                if _one_minus(d) in holders:
                    return _one_minus(d)  # σ(x), or the node that holds it
            elif d in holders:  # exp
                return Scalar(1)
            elif _one_plus(d) in holders:
                return _sigmoid(x)  # eˣ/(1 + eˣ)
            return None

        found = False

        def walk(g: Expr) -> Expr:
            nonlocal found
            if isinstance(g, O.Scale):
                return O.scale(g.coeff, walk(g.x))
            if isinstance(g, (O.Add, O.Sub)):
                a, b = walk(g.a), walk(g.b)
                return O.add(a, b) if isinstance(g, O.Add) else O.sub(a, b)
            if type(g) is O.Div and cancel(g.b) is not None:
                found = True
                return O.hadamard(g.a, cancel(g.b))
            if isinstance(g, O.Hadamard):
                for k, q in ((g.a, g.b), (g.b, g.a)):
                    if type(q) is O.Div and cancel(q.b) is not None:
                        found = True
                        return O.hadamard(k, O.hadamard(q.a, cancel(q.b)))
            return O.hadamard(g, prime)

        out = walk(f)
        return out if found else None


def stable_form(e: Expr, defs: Definitions, adjoints: Optional[Mapping[str, Expr]] = None) -> Expr:
    """:meth:`StableForms.form` for one expression."""
    return StableForms(defs).form(e, adjoints)


def _one_minus(e: Expr) -> Optional[Expr]:
    """``s`` when ``e`` is ``1 − s``."""
    if isinstance(e, O.Sub) and isinstance(e.a, Scalar) and e.a.value == 1:
        return e.b
    return None


def _one_plus(e: Expr) -> Optional[Expr]:
    """``s`` when ``e`` is ``1 + s`` or ``s + 1``."""
    if isinstance(e, O.Add):
        for one, s in ((e.a, e.b), (e.b, e.a)):
            if isinstance(one, Scalar) and one.value == 1:
                return s
    return None


def _sigmoid(x: Expr) -> Expr:
    return Apply("sigmoid", x)


def _factors(e: Expr) -> tuple:
    """``(c, [f…])`` with ``e = c · f₁ ⊙ f₂ ⊙ …`` (nested Hadamard products and constants)."""
    coeff, out, todo = sp.Integer(1), [], [e]
    while todo:
        f = todo.pop(0)
        if isinstance(f, O.Scale):
            coeff *= f.coeff
            todo.insert(0, f.x)
        elif isinstance(f, O.Hadamard):
            todo[:0] = [f.a, f.b]
        else:
            out.append(f)
    return coeff, out
