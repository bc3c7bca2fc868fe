r"""Compile a matrix Derivation to NumPy (or JAX) code: the batched formulas, executed.

The program is the worked solution's: one statement per forward node, then one
per adjoint in the derivation's backward order, each the step's own VJP
expression (``dW_2 = A_1.T @ dZ_2``, ``db_2 = dZ_2.sum(axis=0)``), with

* σ' from the stored activation (``A_2*(1 - A_2)``, never σ recomputed), from
  the rule registry's textbook form (:func:`~.rules.textbook_prime`);
* biases by broadcasting (``X @ W_1 + b_1``) and bias gradients as row sums;
* each common subexpression computed once (``A_2 - Y`` of the loss and of
  ``∂L/∂A_2``), and only what the gradients need (∂L/∂X is not computed);
* numerically stable forms where the solution's would overflow, the same the
  derivation's numbers are computed from (:mod:`symbackprop.stable`): ``ln σ(Z)``
  and ``ln(1 − σ(Z))`` as softplus terms (also ``ln A`` of a node ``A = σ(Z)``, from
  ``Z``), ``ln(1 + eᶻ)`` as softplus, ``ln softmax(Z)`` row by row, and each chain
  ``∂L/∂A ⊙ σ'(Z)`` whose ``∂L/∂A`` divides by ``A`` or ``1 − A`` multiplied out
  (sigmoid + binary cross-entropy: ``((1 − Y) ⊙ A − Y ⊙ σ(−Z))/m``, the fused
  rule's ``(A − Y)/m``). Softmax with cross-entropy uses the form exact for every
  ``Y``, ``(P ⊙ rowsum(Y) − Y)/m``, which is the textbook's ``(P − Y)/m`` when each
  row of ``Y`` sums to 1.

For NumPy the statements run in place: each operation writes into a work array
(``np.multiply(dA_2, A_2, out=w1)``), chosen by liveness so that a value's array
is reused once it is dead, and the work arrays are kept per input size inside
the module, so a call with the same sizes allocates only its gradients. When the
loss is a sum over the rows of the batch (a mean over the samples) a large batch
goes through the statements in blocks of rows, whose work arrays stay in cache,
and the blocks' losses and gradients are added (:func:`batch_dimension`). For
JAX the same statements are printed as expressions (``jax.jit`` fuses them).

>>> from symbackprop import load_spec
>>> from symbackprop import backprop
>>> spec = load_spec("derivations/seed_matrix.toml")
>>> f = backprop(spec.network).compile()
>>> loss, grads = f(**spec.values)
>>> grads["b_1"].shape, round(float(loss), 6)
((4,), 0.275587)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from itertools import count
from typing import Optional

import sympy as sp

from symbackprop.codegen.printer import RESERVED, Namespace, python_identifier
from symbackprop import ir as O
from symbackprop.backprop import derive_steps
from symbackprop.derivation import Derivation
from symbackprop.printing.ir import to_text
from symbackprop.rules import textbook_prime
from symbackprop.shapes import space_text
from symbackprop.stable import StableForms


#: comment lines before the statements of each kind
STATEMENT_HEADINGS = {"forward": "    # forward pass",
             "backward": "    # backward pass: each adjoint from its consumers' adjoints"}


# ---- the program -----------------------------------------------------------------
@dataclass
class Statement:
    """``target = expr``: a forward node, an adjoint or a common subexpression."""

    target: O.Expr  #: a Var (node or temporary) or an Adj
    expr: O.Expr
    kind: str  #: "forward", "backward" or "common"
    shown: Optional[O.Expr] = None  #: the formula before common subexpressions were taken out


@dataclass
class GradientProgram:
    """Straight-line code for a matrix derivation, ready to print."""

    title: Optional[str]
    loss: str
    params: tuple[str, ...]
    inputs: tuple[str, ...]
    shapes: dict[str, tuple]  #: argument -> declared shape
    dims: tuple[str, ...]  #: dimension names, in order of first appearance
    identifiers: dict[str, str]  #: node or temporary name -> identifier
    dim_identifiers: dict[str, str]  #: dimension name -> identifier (a namespace of its own)
    adjoints: dict[str, str]  #: node name -> identifier of its adjoint
    statements: list[Statement]
    gradients: dict[str, Optional[O.Adj]]  #: param -> its adjoint, None when the loss ignores it
    formulas: list[str] = field(default_factory=list)

    @property
    def arguments(self) -> tuple[str, ...]:
        return self.params + self.inputs


def gradient_program(d: Derivation) -> GradientProgram:
    """The statements that compute ``d``'s loss and gradients, for any arrays of its shapes."""
    net = d.network
    leaves = [n for n in net.order if net.node(n).is_leaf]
    params = tuple(net.params)
    inputs = tuple(n for n in leaves if n not in params)
    shapes = {n: net.node(n).shape for n in leaves}
    dims = tuple(dict.fromkeys(x for n in leaves for x in shapes[n] if isinstance(x, str)))

    names = Namespace(RESERVED)
    # a dimension may share its name with a node (d2l: h hidden units, h the hidden layer)
    identifiers = {n: names.add(python_identifier(n)) for n in net.order}
    dim_identifiers = {x: names.add(python_identifier(x)) for x in dims}

    definitions = {n: net.node(n).expr for n in net.order if not net.node(n).is_leaf}
    named = {e: net.node(n).var for n, e in definitions.items()}
    steps = derive_steps(net)  # every shortcut; one with a condition on Y in its exact form
    # σ' stays the solution's A ⊙ (1 − A) from the stored activation (a subtraction, where
    # σ(−Z) would be another exponential): no complements of stored activations
    forms = StableForms(definitions, complements=False)
    adjoint_exprs = {s.node: s.adjoint for s in steps}
    backward = [Statement(O.Adj(s.node, s.shape, net.loss),
                          _code_form(_adjoint(s, forms, adjoint_exprs), named), "backward")
                for s in steps]
    forward = [Statement(net.node(n).var, _constants_outside(forms.form(e)), "forward", e)
               for n, e in definitions.items()]
    statements = _needed(forward, backward, net.loss, params)
    adjoints = {s.target.name: names.add("d" + identifiers[s.target.name])
                for s in statements if isinstance(s.target, O.Adj)}
    statements = _common_subexpressions(statements, names, identifiers)

    computed = {s.target.name for s in statements if isinstance(s.target, O.Adj)}
    gradients = {p: (O.Adj(p, shapes[p], net.loss) if p in computed else None) for p in params}
    program = GradientProgram(net.title, net.loss, params, inputs, shapes, dims, identifiers,
                              dim_identifiers, adjoints, statements, gradients)
    program.formulas = _formulas(d, steps, statements)
    return program


def _adjoint(step, forms: StableForms, adjoints: dict) -> O.Expr:
    """The step's adjoint as it is computed: each term in its stable form (the one the
    derivation's numbers come from), a fused rule with a condition on the targets in its
    exact form."""
    total = None
    for t in step.terms:
        if t.fused is not None and t.fused.assumption == "rows_sum_to_one":
            # -c Σ Y ⊙ ln softmax(Z): ∂L/∂Z = k (P ⊙ rowsum(Y) − Y), k (P − Y) when rows sum to 1
            e = t.expr
            k, body = (e.coeff, e.x) if isinstance(e, O.Scale) else (sp.Integer(1), e)
            p, y = body.a, body.b
            rows = O.reduce_sum(y, (-1,), keepdims=True)
            e = forms.form(O.scale(k, O.sub(O.hadamard(p, rows), y)))
        else:
            e = forms.term(t, adjoints)
        total = e if total is None else O.add(total, e)
    return total


def _code_form(e: O.Expr, named: dict) -> O.Expr:
    """``f'(Z)`` in the stored activation's name (``A ⊙ (1 − A)``) wherever the rules give one.

    ReLU's ``𝟙[Z > 0]`` is ``𝟙[H > 0]`` of its output ``H``, so ``Z`` need not be kept.
    """
    def stored(n: O.Expr):
        if isinstance(n, O.Prime):
            return textbook_prime(n, named)
        if isinstance(n, O.Apply) and n.func == "step" and O.Apply("relu", n.x) in named:
            return O.Apply("step", named[O.Apply("relu", n.x)])
        return None

    e = O.replace(e, lambda n: textbook_prime(n, named) if isinstance(n, O.Prime) else None)
    return O.replace(e, stored)


def _constants_outside(e: O.Expr) -> O.Expr:
    """``Y ⊙ (−s)`` as ``−(Y ⊙ s)``, bottom up, so that constants gather and cancel
    (the softplus form of binary cross-entropy loses its minus signs)."""
    if not e.children:
        return e
    kids = [_constants_outside(c) for c in e.children]
    if isinstance(e, O.Hadamard):
        (ca, a), (cb, b) = (_coefficient(k) for k in kids)
        if ca != 1 or cb != 1:
            return O.scale(ca * cb, O.hadamard(a, b))
    return O.rebuild(e, kids)


def _coefficient(e: O.Expr) -> tuple:
    return (e.coeff, e.x) if isinstance(e, O.Scale) else (sp.Integer(1), e)


def _needed(forward: list[Statement], backward: list[Statement], loss: str,
            params: tuple[str, ...]) -> list[Statement]:
    """The loss, the parameters' adjoints, and what they are computed from, in order."""
    by_adjoint = {s.target.name: s for s in backward}
    wanted = {p for p in params if p in by_adjoint}
    todo = list(wanted)
    while todo:
        for a in O.adjoints_in(by_adjoint[todo.pop()].expr):
            if a not in wanted:
                wanted.add(a)
                todo.append(a)
    backward = [s for s in backward if s.target.name in wanted]
    by_node = {s.target.name: s for s in forward}
    nodes, todo = {loss}, [loss]
    for s in backward:
        todo += sorted(O.names_in(s.expr))
    while todo:
        n = todo.pop()
        nodes.add(n)
        if n in by_node:
            todo += [u for u in sorted(O.names_in(by_node[n].expr)) if u not in nodes]
    return [s for s in forward if s.target.name in nodes] + backward


_NOT_SHARED = (O.Var, O.Adj, O.Scalar, O.Transpose, O.Broadcast)


def _common_subexpressions(statements: list[Statement], names: Namespace,
                           identifiers: dict) -> list[Statement]:
    """Each repeated subexpression computed once, into a temporary placed before its first use.

    A statement whose whole expression is repeated later is that temporary itself.
    """
    seen, repeated = set(), set()

    def find(e: O.Expr) -> None:
        if isinstance(e, _NOT_SHARED[:3]):
            return
        if e in seen:
            if not isinstance(e, _NOT_SHARED):
                repeated.add(e)
            return
        seen.add(e)
        for c in e.children:
            find(c)

    for s in statements:
        find(s.expr)

    held: dict[O.Expr, O.Expr] = {}  # repeated expression -> the Var or Adj holding it
    out: list[Statement] = []
    temporaries = count()

    def rebuild(e: O.Expr) -> O.Expr:
        if e in held:
            return held[e]
        if not e.children:
            return e
        kids = [rebuild(c) for c in e.children]
        new = e if all(k is c for k, c in zip(kids, e.children)) else with_children(e, kids)
        if e in repeated:
            name = names.add(f"t{next(temporaries)}")
            identifiers[name] = name
            held[e] = O.Var(name, e.shape)
            out.append(Statement(held[e], new, "common", e))
            return held[e]
        return new

    for s in statements:
        if s.expr in repeated and s.expr not in held:
            kids = [rebuild(c) for c in s.expr.children]
            held[s.expr] = s.target
            out.append(Statement(s.target, with_children(s.expr, kids), s.kind, s.shown or s.expr))
        else:
            out.append(Statement(s.target, rebuild(s.expr), s.kind, s.shown or s.expr))
    return out


def with_children(e: O.Expr, kids: list[O.Expr]) -> O.Expr:
    """``e`` with new operands, as it is (no tidying: the structure is already the one to print)."""
    if not kids:
        return e
    return dataclasses.replace(e, **dict(zip(e._kids, kids)))


def _formulas(d: Derivation, steps, statements: list[Statement]) -> list[str]:
    net, loss = d.network, d.loss
    computed = {s.target.name for s in statements if s.kind != "common"}
    lines = ["Forward pass:"]
    for n in net.order:
        node = net.node(n)
        if not node.is_leaf and n in computed:
            lines.append(f"    {n} = {to_text(node.expr, loss)}  ∈ {space_text(node.shape)}")
    lines += ["", f"Backward pass (∂{loss}/∂v = Σ over consumers c of the VJP of ∂{loss}/∂c):"]
    for s in steps:
        if s.node in computed:
            formula = to_text(s.textbook, loss)
            lines.append(f"    ∂{loss}/∂{s.node} = {formula}  ∈ {space_text(s.shape)}")
    if any(t.fused is not None and t.fused.assumption for s in steps for t in s.terms
           if s.node in computed):
        lines += ["", "Softmax with cross-entropy is computed as (1/m)(P ⊙ rowsum(Y) − Y), exact for",
                  "any Y and the formula above when every row of Y sums to 1."]
    return lines

