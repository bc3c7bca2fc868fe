r"""Reverse mode over a matrix network, with the VJP rules of :mod:`.rules` only.

For each node ``v`` (reverse topological order, the textbook's order) the
adjoint is the sum over its consumers ``c`` of the pull-back of
``∂L/∂c`` through ``c``'s own definition; broadcasting is undone once per
operand (:func:`~.rules.unbroadcast`). Every adjoint is checked to have
exactly its node's shape.

>>> from .network import network_from_latex
>>> net = network_from_latex(r'''
... Z = X W + b
... L = \frac{1}{m}\|Z - Y\|^2''', params=["W", "b"],
...     shapes={"X": ["m", "n"], "W": ["n", "k"], "b": ["k"], "Y": ["m", "k"]})
>>> d = backprop(net)
>>> [str(d.gradient(p)) for p in ("W", "b")]
['Xᵀ · ∂L/∂Z', 'Σ_(i=1..m) ∂L/∂Z']
>>> import numpy as np
>>> loss, grads = loss_and_gradients(net, {"X": np.eye(2), "W": np.ones((2, 1)),
...                                        "b": np.zeros(1), "Y": np.zeros((2, 1))})
>>> loss, grads["b"].tolist()
(1.0, [2.0])
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Mapping, Optional

import numpy as np

from ..backprop import MODES, _backward_order, _nodes_needing_adjoints
from ..errors import ShapeError, SpecError
from ..render.numbers import hand_round
from . import ops as O
from .derivation import MatrixDerivation, MatrixStep, MatrixUpdate, VJPTerm
from .network import MatrixNetwork
from .rules import Fused, fused_rule, unbroadcast, vjp_rule
from .shapes import Sizes, as_array, shape_text, size_text

Values = Mapping[str, Any]


def backprop(network: MatrixNetwork, values: Optional[Values] = None, *, digits: int = 3,
             mode: str = "exact", learning_rate: Optional[float] = None,
             lang: str = "en") -> MatrixDerivation:
    """Derive every gradient of ``network``'s loss, step by step, with shapes.

    ``values`` (leaf name -> number or nested lists) makes the derivation
    numeric and gives the dimension names their sizes; ``mode="hand"`` rounds
    every entry to ``digits`` decimals before it is used again.
    """
    if mode not in MODES:
        raise SpecError(f"unknown number mode '{mode}'; use one of {', '.join(MODES)}")
    network.validate()
    rnd = _rounding(mode, digits)
    env = sizes = None
    if values is not None:
        env, sizes = leaf_arrays(network, values, rnd)
        forward_values(network, env, sizes, rnd)

    def allowed(f: Fused) -> bool:  # a shortcut is used only when its condition holds
        return f.assumption != "rows_sum_to_one" or env is None or _rows_sum_to_one(f, env, sizes)

    steps = derive_steps(network, allowed)
    d = MatrixDerivation(network, steps, values=env, sizes=sizes or Sizes(), digits=digits,
                         mode=mode, learning_rate=learning_rate, lang=lang,
                         named=_named(network))
    if env is not None:
        d.adjoints = backward_values(network, steps, env, sizes, rnd)
        if learning_rate is not None:
            _gradient_descent_step(d, values, learning_rate, rnd)
    return d


# ---- symbolic --------------------------------------------------------------
def derive_steps(network: MatrixNetwork,
                 allowed: Callable[[Fused], bool] = lambda f: True) -> list[MatrixStep]:
    """The backward steps of ``network`` as IR (no numbers)."""
    loss = network.loss
    needed = _nodes_needing_adjoints(network)
    pulled: dict[str, dict] = {}
    closed: dict[str, O.Expr] = {}  # adjoints written straight from the loss
    steps: list[MatrixStep] = []
    for name in _backward_order(network):
        if name not in needed:
            continue
        node = network.node(name)
        terms = []
        for c in network.consumers(name):
            if c != loss and c not in needed:
                continue
            fused = _fused(network, name, c, allowed)
            if fused is not None:
                terms.append(VJPTerm(c, name, fused.gradient, (fused.name,), fused))
                continue
            if c not in pulled:
                pulled[c] = pullback(network, c, needed)
            parts = pulled[c][name]
            expr = parts[0][0]
            for e, _ in parts[1:]:
                expr = O.add(expr, e)
            rules = tuple(dict.fromkeys(r for _, path in parts for r in path))
            terms.append(VJPTerm(c, name, expr, rules))
        adjoint = terms[0].expr
        for t in terms[1:]:
            adjoint = O.add(adjoint, t.expr)
        if adjoint.shape != node.shape:  # the 维度记忆技巧, checked on every step
            raise ShapeError(f"the gradient of '{name}' came out {shape_text(adjoint.shape)}, "
                             f"but '{name}' is {shape_text(node.shape)}")
        textbook = O.replace(adjoint, lambda e: closed.get(e.name) if isinstance(e, O.Adj) else None)
        if not O.adjoints_in(adjoint):
            closed[name] = adjoint
        steps.append(MatrixStep(name, terms, adjoint, textbook, node.shape, number=len(steps) + 1))
    return steps


def pullback(network: MatrixNetwork, consumer: str, wants) -> dict[str, list]:
    """``∂L/∂v`` through ``consumer``'s definition for each wanted ``v`` it uses.

    Returns ``{v: [(expr, rule names), …]}``, one entry per occurrence of ``v``.
    """
    node = network.node(consumer)
    g = O.Scalar(1) if consumer == network.loss else O.Adj(consumer, node.shape)
    out: dict[str, list] = defaultdict(list)

    def visit(e: O.Expr, g: O.Expr, path: tuple, ans) -> None:
        if isinstance(e, O.Var):
            out[e.name].append((g, path))
            return
        for i, child in enumerate(e.children):
            if not O.names_in(child) & wants:
                continue
            rule = vjp_rule(e, i)
            gc, summed = unbroadcast(rule.fn(g, e, ans), child.shape)
            visit(child, gc, path + (rule.name,) + (("broadcast",) if summed else ()), None)

    visit(node.expr, g, (), node.var)
    return out


def _fused(network: MatrixNetwork, z: str, c: str, allowed) -> Optional[Fused]:
    loss = network.loss
    if c == loss or network.consumers(c) != (loss,):
        return None
    definition = network.node(c).expr
    if definition.children[:1] != (network.node(z).var,):  # c = f(z) itself
        return None
    fused = fused_rule(definition, network.node(c).var, network.node(loss).expr)
    return fused if fused is not None and allowed(fused) else None


def _named(network: MatrixNetwork) -> dict:
    """Each definition -> its node, so derivatives are written with node names."""
    return {n.expr: n.var for n in network.nodes.values() if not n.is_leaf}


# ---- numbers ---------------------------------------------------------------
def _rounding(mode: str, digits: int):
    if mode != "hand":
        return lambda a: a
    rnd = np.vectorize(lambda v: hand_round(float(v), digits), otypes=[float])
    return lambda a: rnd(a) if np.ndim(a) else np.asarray(hand_round(float(a), digits))


def leaf_arrays(network: MatrixNetwork, values: Values, rnd=lambda a: a):
    """The leaves' values as arrays, checked against their shapes; the dimension sizes."""
    env: dict[str, np.ndarray] = {}
    sizes = Sizes()
    for name in network.order:
        node = network.node(name)
        if not node.is_leaf:
            continue
        if name not in values:
            raise SpecError(f"no value given for leaf '{name}'")
        arr = as_array(name, values[name])
        sizes.bind(name, node.shape, arr.shape)
        env[name] = rnd(arr)
    return env, sizes


def forward_values(network: MatrixNetwork, env: dict, sizes: Sizes, rnd=lambda a: a,
                   names=None) -> None:
    """Evaluate every defined node in order (or only ``names`` and what they need),
    adding its value to ``env``."""
    wanted = None if names is None else set(names) | network.ancestors(*names)
    for name in network.order:
        node = network.node(name)
        if not node.is_leaf and (wanted is None or name in wanted):
            env[name] = rnd(_checked(O.evaluate(node.expr, env, sizes=sizes), node.shape, sizes,
                                     f"node '{name}'"))


def backward_values(network: MatrixNetwork, steps: list[MatrixStep], env: Mapping,
                    sizes: Sizes, rnd=lambda a: a) -> dict[str, np.ndarray]:
    """Evaluate every step's terms and adjoint; returns node -> ∂L/∂node."""
    adjoints: dict[str, np.ndarray] = {}
    for step in steps:
        total = 0.0
        for t in step.terms:
            t.value = rnd(_checked(O.evaluate(t.expr, env, adjoints, sizes), step.shape, sizes,
                                   f"∂{network.loss}/∂{step.node}"))
            total = total + t.value
        step.value = rnd(np.asarray(total, dtype=float)) if len(step.terms) > 1 else step.terms[0].value
        adjoints[step.node] = step.value
    return adjoints


def _checked(value: np.ndarray, shape, sizes: Sizes, what: str) -> np.ndarray:
    want = sizes.resolve(shape)
    if value.shape != want:
        raise ShapeError(f"{what} came out {size_text(value.shape)}, expected "
                         f"{shape_text(shape)} = {size_text(want)}")
    if not np.all(np.isfinite(value)):
        raise SpecError(f"{what} is not finite at the given values (a log or division of zero?)")
    return value


def _rows_sum_to_one(f: Fused, env, sizes) -> bool:
    rows = O.evaluate(f.targets, env, sizes=sizes)
    return bool(np.allclose(rows.sum(axis=-1), 1.0, atol=1e-12))


def _gradient_descent_step(d: MatrixDerivation, values: Values, lr: float, rnd) -> None:
    updated = dict(values)
    for p in d.params:
        current, g = d.values[p], d.gradient_value(p)
        new = rnd(current - lr * g)
        d.updates[p] = MatrixUpdate(current, g, new)
        updated[p] = new
    env, sizes = leaf_arrays(d.network, updated, rnd)
    forward_values(d.network, env, sizes, rnd)
    d.loss_after = float(env[d.loss])


# ---- the numeric API for the gradient checker and the claim verifier --------
def gradient_function(network: MatrixNetwork) -> Callable[..., tuple[float, dict[str, np.ndarray]]]:
    """Derive once; return ``f(**arrays) -> (loss, {param: gradient})``.

    Every gradient has exactly its parameter's shape (a bias declared
    ``["n_1"]`` gets a 1-D array). The arrays give the dimensions their sizes,
    so one function serves any batch size. Shortcut rules that hold only for
    some targets (softmax + cross-entropy with one-hot rows) are not used: the
    result is the exact gradient for any arrays.

    >>> from .network import network_from_latex
    >>> net = network_from_latex(r"L = \\sum X W", params=["W"], shapes={"X": ["m", "n"], "W": ["n", 1]})
    >>> f = gradient_function(net)
    >>> loss, g = f(X=[[1.0, 2.0]], W=[[3.0], [4.0]])
    >>> loss, g["W"].tolist()
    (11.0, [[1.0], [2.0]])
    """
    steps = derive_steps(network, lambda f: f.assumption is None)

    def loss_and_grad(**arrays) -> tuple[float, dict[str, np.ndarray]]:
        env, sizes = leaf_arrays(network, arrays)
        forward_values(network, env, sizes)
        adjoints = backward_values(network, steps, env, sizes)
        return float(env[network.loss]), {p: adjoints[p] for p in network.params}

    return loss_and_grad


def loss_and_gradients(network: MatrixNetwork, arrays: Values) -> tuple[float, dict[str, np.ndarray]]:
    """The loss and the gradient of every parameter at ``arrays`` (leaf name -> array).

    Raises :class:`~symbackprop.errors.ShapeError` when an array contradicts
    the declared shapes. For many evaluations use :func:`gradient_function`.
    """
    return gradient_function(network)(**arrays)
