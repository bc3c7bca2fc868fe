"""Reverse mode over named nodes, with local rules only.

For each node ``v`` in reverse topological order the adjoint is the sum over
its consumers ``c`` of ``adjoint(c) * dc/dv``, where ``dc/dv`` differentiates
*only* ``c``'s own definition. The composed loss is never built or
differentiated, so expression size grows linearly with the network.

>>> from symbackprop.spec import network_from_latex
>>> net = network_from_latex(r'''
... z = w x
... L = (z - y)^2''', params=["w"])
>>> d = backprop(net, {"w": 0.5, "x": 2.0, "y": 1.0})
>>> d.gradient_value("w")
0.0
"""
from __future__ import annotations

import math
from typing import Mapping

import sympy as sp

from .derivation import AdjointSymbol, BackwardStep, Derivation, ForwardStep, LocalDerivative, Update
from .errors import SpecError
from .network import Network
from .render.numbers import hand_round

MODES = ("exact", "hand")


def backprop(
    network: Network,
    values: Mapping[str, float] | None = None,
    *,
    digits: int = 3,
    mode: str = "exact",
    learning_rate: float | None = None,
    lang: str = "en",
) -> Derivation:
    """Derive every gradient of ``network``'s loss, step by step.

    ``values`` (leaf name -> number) makes the derivation numeric; ``mode="hand"``
    carries values rounded to ``digits`` decimals forward, as a person does.
    """
    if mode not in MODES:
        raise SpecError(f"unknown number mode '{mode}'; use one of {', '.join(MODES)}")
    network.validate()
    loss = network.loss
    needed = _nodes_needing_adjoints(network)

    rnd = (lambda v: hand_round(v, digits)) if mode == "hand" else (lambda v: v)
    env = _leaf_values(network, values, rnd) if values is not None else None

    if env is not None:
        _forward_values(network, env, rnd)
    forward = [ForwardStep(n.name, n.display, n.expr, None if env is None else env[n.name])
               for n in network.nodes.values() if not n.is_leaf]

    textbook = _textbook_map(network)
    backward: list[BackwardStep] = []
    for name in _backward_order(network):
        if name not in needed:
            continue
        node = network.node(name)
        terms, adjoint, total = [], sp.Integer(0), 0.0
        for c in network.consumers(name):
            if c != loss and c not in needed:
                continue
            local = _local_derivative(network.node(c).expr, node.symbol, textbook)
            term = LocalDerivative(c, name, local)
            upstream = sp.Integer(1) if c == loss else AdjointSymbol(c)
            adjoint += upstream * local
            if env is not None:
                term.value = rnd(_evaluate(local, env, f"∂{c}/∂{name}"))
                up = 1.0 if c == loss else env[AdjointSymbol(c).key]
                total += up * term.value
            terms.append(term)
        step = BackwardStep(name, terms, adjoint, number=len(backward) + 1)
        if env is not None:
            step.value = rnd(total)
            env[AdjointSymbol(name).key] = step.value
        backward.append(step)

    derivation = Derivation(network, forward, backward, values=env, digits=digits, mode=mode,
                            learning_rate=learning_rate, lang=lang)
    if learning_rate is not None and env is not None:
        _gradient_descent_step(derivation, values, learning_rate, rnd)
    return derivation


def _backward_order(network: Network) -> list[str]:
    """Reverse topological order, each leaf right after its first consumer.

    This is the order of a textbook: after ``z_2 = w_2 a_1 + b`` come
    ``w_2`` and ``b``, then ``a_1``.
    """
    order = []
    defined = [n for n in network.order if not network.node(n).is_leaf]
    first_consumer = {}
    for name in defined:
        for i in network.inputs(name):
            first_consumer.setdefault(i, name)
    for name in reversed(defined):
        order.append(name)
        order += [leaf for leaf in network.inputs(name)
                  if network.node(leaf).is_leaf and first_consumer[leaf] == name]
    return order


def _forward_values(network: Network, env: dict[str, float], rnd) -> None:
    """Evaluate every defined node in order, adding its value to ``env``."""
    for name in network.order:
        node = network.node(name)
        if not node.is_leaf:
            where = f" (line {node.line})" if node.line else ""
            env[name] = rnd(_evaluate(node.expr, env, f"node '{name}'{where}"))


def _nodes_needing_adjoints(network: Network) -> set[str]:
    """Nodes on a path from a parameter to the loss (the loss itself excluded)."""
    depends = set(network.params)
    for name in network.order:
        if any(i in depends for i in network.inputs(name)):
            depends.add(name)
    return network.ancestors(network.loss) & depends


def _leaf_values(network: Network, values: Mapping[str, float], rnd) -> dict[str, float]:
    env: dict[str, float] = {}
    for name in network.order:
        node = network.node(name)
        if not node.is_leaf:
            continue
        if name not in values:
            raise SpecError(f"no value given for leaf '{name}'")
        v = values[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SpecError(f"value of '{name}' must be a finite number, got {v!r}")
        env[name] = float(v)
    return env


def _evaluate(expr: sp.Expr, env: Mapping[str, float], what: str) -> float:
    subs = {s: sp.Float(env[s.key if isinstance(s, AdjointSymbol) else s.name], 30)
            for s in expr.free_symbols}
    try:
        value = complex(expr.xreplace(subs).evalf(30))
    except (TypeError, ValueError, ZeroDivisionError):
        raise SpecError(f"{what} has no numeric value at the given point") from None
    if value.imag != 0 or not math.isfinite(value.real):
        shown = f"{value.real:.6g}" if value.imag == 0 else f"{value.real:.6g}{value.imag:+.6g}i"
        raise SpecError(f"{what} is {shown} at the given values, not a finite real number "
                        f"(a logarithm, root or division outside its domain?)")
    return value.real


def _textbook_map(network: Network) -> dict[sp.Expr, sp.Symbol]:
    """Each definition -> its node symbol, so derivatives are written with node names.

    Only nodes the loss is computed from are used: a node off that path would
    appear in a derivative without being part of the computation.
    """
    on_path = network.ancestors(network.loss) | {network.loss}
    return {n.expr: n.symbol for n in network.nodes.values()
            if n.name in on_path and not n.is_leaf and not n.expr.is_Atom}


def _local_derivative(expr: sp.Expr, wrt: sp.Symbol, textbook: Mapping) -> sp.Expr:
    """``d expr / d wrt`` of one node's own definition, in textbook form."""
    local = sp.diff(expr, wrt).xreplace(textbook)
    return sp.factor_terms(local)


def _gradient_descent_step(d: Derivation, leaf_values, lr: float, rnd) -> None:
    updated = dict(leaf_values)
    for p in d.params:
        g = d.gradient_value(p)
        new = rnd(d.values[p] - lr * g)
        d.updates[p] = Update(d.values[p], g, new)
        updated[p] = new
    env = _leaf_values(d.network, updated, rnd)
    _forward_values(d.network, env, rnd)
    d.loss_after = env[d.loss]
