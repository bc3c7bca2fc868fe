r"""Reverse mode over named nodes, with the rules of :mod:`symbackprop.rules` only.

For each node ``v`` (reverse topological order, each leaf right after its first
consumer: the textbook's order) the adjoint is the sum over its consumers
``c`` of the pull-back of ``∂L/∂c`` through ``c``'s own definition;
broadcasting is undone once per operand (:func:`~symbackprop.rules.unbroadcast`),
and every adjoint is checked to have exactly its node's shape. Only a node's
own definition is ever differentiated, never the composed loss, so the size of
every expression grows linearly with the network.

A scalar is the 0-d case. A scalar consumer's pull-back of ``1`` is its local
derivative ``∂c/∂v`` (the rules are linear in the upstream gradient), which the
worked solution shows, and its term is ``∂L/∂c · ∂c/∂v``.

>>> from symbackprop.reader.forward import network_from_latex
>>> net = network_from_latex(r'''
... z = w x
... L = (z - y)^2''', params=["w"])
>>> d = backprop(net, {"w": 0.5, "x": 2.0, "y": 1.0})
>>> d.gradient_value("w"), str(d.step("w").terms[0].local)
(0.0, 'x')
>>> net = network_from_latex(r'''
... Z = X W + b
... L = \frac{1}{m}\|Z - Y\|^2''', params=["W", "b"],
...     shapes={"X": ["m", "n"], "W": ["n", "k"], "b": ["k"], "Y": ["m", "k"]})
>>> d = backprop(net)
>>> [str(d.gradient(p)) for p in ("W", "b")]
['Xᵀ · ∂L/∂Z', 'Σ_(i=1..m) ∂L/∂Z']
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Mapping, Optional

import numpy as np

from symbackprop import ir
from symbackprop.derivation import Derivation, ForwardStep, Step, Term, Update
from symbackprop.errors import ShapeError, SpecError
from symbackprop.network import Network
from symbackprop.printing.numbers import hand_round
from symbackprop.rules import BROADCAST, Fused, fused_rule, unbroadcast, vjp_rule
from symbackprop.shapes import Sizes, as_array, shape_text, size_text
from symbackprop.stable import StableForms

MODES = ("exact", "hand")
Values = Mapping[str, Any]


def backprop(network: Network, values: Optional[Values] = None, *, digits: int = 3,
             mode: str = "exact", learning_rate: Optional[float] = None,
             lang: str = "en") -> Derivation:
    """Derive every gradient of ``network``'s loss, step by step.

    ``values`` (leaf name -> number or nested lists) makes the derivation
    numeric and gives the dimension names their sizes; ``mode="hand"`` rounds
    every value to ``digits`` decimals before it is used again, as a person
    calculating by hand does.
    """
    if mode not in MODES:
        raise SpecError(f"unknown number mode '{mode}'; use one of {', '.join(MODES)}")
    network.validate()
    rnd = _rounding(mode, digits)
    stable = mode == "exact"  # by hand, each number is worked out as written
    env = sizes = None
    if values is not None:
        env, sizes = leaf_arrays(network, values, rnd)
        forward_values(network, env, sizes, rnd, stable=stable, overflow=True)

    def allowed(f: Fused) -> bool:  # a shortcut is used only when its condition holds
        return f.assumption != "rows_sum_to_one" or env is None or _rows_sum_to_one(f, env, sizes)

    steps = derive_steps(network, allowed)
    forward = [ForwardStep(n, network.node(n).expr, None if env is None else env[n])
               for n in network.order if not network.node(n).is_leaf]
    d = Derivation(network, forward, steps, values=env, sizes=sizes or Sizes(), digits=digits,
                   mode=mode, learning_rate=learning_rate, lang=lang, named=named(network))
    if env is not None:
        d.adjoints = backward_values(network, steps, env, sizes, rnd, stable=stable, overflow=True)
        for f in d.forward:
            f.value = d.value(f.node)
        if learning_rate is not None:
            _gradient_descent_step(d, values, learning_rate, rnd, stable)
    return d


# ---- the order of a worked solution -----------------------------------------
def backward_order(network: Network) -> list[str]:
    """Reverse topological order, each leaf right after its first consumer.

    This is the order of a textbook: after ``z_2 = w_2 a_1 + b`` come
    ``w_2`` and ``b``, then ``a_1``.
    """
    order = []
    defined = [n for n in network.order if not network.node(n).is_leaf]
    first_consumer: dict[str, str] = {}
    for name in defined:
        for i in network.inputs(name):
            first_consumer.setdefault(i, name)
    for name in reversed(defined):
        order.append(name)
        order += [leaf for leaf in network.inputs(name)
                  if network.node(leaf).is_leaf and first_consumer[leaf] == name]
    return order


def nodes_needing_adjoints(network: Network) -> set[str]:
    """Nodes on a path from a parameter to the loss (the loss itself excluded)."""
    depends = set(network.params)
    for name in network.order:
        if any(i in depends for i in network.inputs(name)):
            depends.add(name)
    return network.ancestors(network.loss) & depends


def named(network: Network) -> dict:
    """Each definition -> its node, so derivatives are written with node names."""
    return {n.expr: n.var for n in network.nodes.values() if not n.is_leaf}


# ---- symbolic --------------------------------------------------------------
def derive_steps(network: Network,
                 allowed: Callable[[Fused], bool] = lambda f: True) -> list[Step]:
    """The backward steps of ``network`` (no numbers)."""
    loss = network.loss
    needed = nodes_needing_adjoints(network)
    pulled: dict[str, dict] = {}
    closed: dict[str, ir.Expr] = {}  # adjoints written straight from the loss
    steps: list[Step] = []
    for name in backward_order(network):
        if name not in needed:
            continue
        node = network.node(name)
        terms = []
        for c in network.consumers(name):
            if c != loss and c not in needed:
                continue
            fused = _fused(network, name, c, allowed)
            if fused is not None:
                terms.append(Term(c, name, fused.gradient, (fused.rule,), fused=fused))
                continue
            if c not in pulled:
                pulled[c] = pullback(network, c, needed)
            terms.append(_term(network, c, name, pulled[c][name]))
        adjoint = total([t.expr for t in terms])
        if adjoint.shape != node.shape:  # the 维度记忆技巧, checked on every step
            raise ShapeError(f"the gradient of '{name}' came out {shape_text(adjoint.shape)}, "
                             f"but '{name}' is {shape_text(node.shape)}")
        textbook = ir.replace(adjoint, lambda e: closed.get(e.name) if isinstance(e, ir.Adj) else None)
        if not ir.adjoints_in(adjoint):
            closed[name] = adjoint
        steps.append(Step(name, terms, adjoint, textbook, node.shape, number=len(steps) + 1))
    return steps


def total(exprs: list) -> ir.Expr:
    """The sum of ``exprs``, as written (left to right) for a few terms; for many (a node that
    feeds hundreds of others) as a balanced tree, so that its depth, and every walk and printer
    over it, grows with the logarithm of the count."""
    if len(exprs) <= 32:
        out = exprs[0]
        for e in exprs[1:]:
            out = ir.add(out, e)
        return out
    half = len(exprs) // 2
    return ir.add(total(exprs[:half]), total(exprs[half:]))


def _term(network: Network, c: str, v: str, parts: list) -> Term:
    """The term of ``v``'s adjoint through consumer ``c``: each use of ``v`` in ``c``'s definition."""
    rules = tuple(dict.fromkeys(r for _, path in parts for r in path))
    local = None
    for e, _ in parts:
        local = e if local is None else ir.add(local, e)
    if network.node(c).shape == ():  # the pull-back of 1 is the local derivative ∂c/∂v
        upstream = ir.Scalar(1) if c == network.loss else ir.Adj(c, (), network.loss)
        scalar = network.node(v).shape == ()
        return Term(c, v, ir.hadamard(upstream, local), rules, local=local if scalar else None)
    return Term(c, v, local, rules)


def pullback(network: Network, consumer: str, wants) -> dict[str, list]:
    """``∂L/∂v`` through ``consumer``'s definition for each wanted ``v`` it uses.

    Returns ``{v: [(expr, rules), …]}``, one entry per occurrence of ``v``. The
    upstream gradient is ``∂L/∂consumer`` for an array, and 1 for a number (whose
    result is then the local derivative ``∂consumer/∂v``).
    """
    node = network.node(consumer)
    scalar = node.shape == ()
    g = ir.Scalar(1) if consumer == network.loss or scalar else ir.Adj(consumer, node.shape,
                                                                         network.loss)
    return _pull(node.expr, g, wants, node.var)


def _pull(expr: ir.Expr, g: ir.Expr, wants, ans) -> dict[str, list]:
    """``g`` pulled back through ``expr`` to each wanted name: ``{name: [(expr, rules), …]}``."""
    out: dict[str, list] = defaultdict(list)

    def visit(e: ir.Expr, g: ir.Expr, path: tuple, ans) -> None:
        if isinstance(e, ir.Var):
            out[e.name].append((g, path))
            return
        for i, child in enumerate(e.children):
            if not ir.names_in(child) & wants:
                continue
            rule = vjp_rule(e, i)
            gc, summed = unbroadcast(rule.fn(g, e, ans), child.shape)
            visit(child, gc, path + (rule,) + ((BROADCAST,) if summed else ()), None)

    visit(expr, g, (), ans)
    return out


def derivative(expr: ir.Expr, name: str) -> ir.Expr:
    r"""``∂expr/∂name`` of a number-valued expression, by the same local rules (1 pulled back).

    >>> x, y = ir.Var("x", ()), ir.Var("y", ())
    >>> str(derivative(ir.hadamard(x, ir.add(x, y)), "x"))
    'x + y + x'
    """
    if expr.shape != ():
        raise ShapeError(f"∂/∂{name} of an array is a Jacobian; differentiate a number")
    out = ir.Scalar(0)
    for e, _ in _pull(expr, ir.Scalar(1), {name}, None).get(name, []):
        out = ir.add(out, e)
    return out


def _fused(network: Network, z: str, c: str, allowed) -> Optional[Fused]:
    loss = network.loss
    if c == loss or network.consumers(c) != (loss,) or network.node(c).shape == ():
        return None
    definition = network.node(c).expr
    if definition.children[:1] != (network.node(z).var,):  # c = f(z) itself
        return None
    fused = fused_rule(definition, network.node(c).var, network.node(loss).expr)
    return fused if fused is not None and allowed(fused) else None


# ---- numbers ---------------------------------------------------------------
def _rounding(mode: str, digits: int):
    if mode != "hand":
        return lambda a: a
    rnd = np.vectorize(lambda v: hand_round(float(v), digits), otypes=[float])
    return lambda a: rnd(a) if np.ndim(a) else np.asarray(hand_round(float(a), digits))


def leaf_arrays(network: Network, values: Values, rnd=lambda a: a):
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


def forward_values(network: Network, env: dict, sizes: Sizes, rnd=lambda a: a,
                   names=None, *, stable: bool = True, overflow: bool = False) -> None:
    """Evaluate every defined node in order (or only ``names`` and what they need),
    adding its value to ``env``.

    ``stable``: each definition in its :mod:`~symbackprop.stable` form (``ln A`` of ``A = σ(Z)``
    from ``Z``). ``overflow``: a node other than the loss may be ±∞ — its true value is beyond
    the doubles (``e^z`` at ``z = 1000``) while the loss is finite; a loss that is not finite is
    then reported at the first node that was not.
    """
    wanted = None if names is None else set(names) | network.ancestors(*names)
    forms = StableForms.of(network) if stable else None
    overflowed = None
    for name in network.order:
        node = network.node(name)
        if not node.is_leaf and (wanted is None or name in wanted):
            where = f" (line {node.line})" if node.line else ""
            what = f"node '{name}'{where}"
            expr = forms.form(node.expr) if stable else node.expr
            value = ir.evaluate(expr, env, sizes=sizes)
            try:
                env[name] = rnd(_checked(value, node.shape, sizes, what,
                                         infinite_ok=overflow and name != network.loss))
            except SpecError:
                if overflowed is not None:
                    _checked(*overflowed)  # the first value that was not finite
                raise
            if overflow and overflowed is None and not np.all(np.isfinite(value)):
                overflowed = (value, node.shape, sizes, what)


def numeric_forms(network: Network, steps: list[Step]) -> list[list[tuple]]:
    """What each term of ``steps`` is evaluated from: ``(local, expr)`` in stable form."""
    forms = StableForms.of(network)
    adjoints = {s.node: s.adjoint for s in steps}
    return [[(None if t.local is None else forms.form(t.local), forms.term(t, adjoints))
             for t in s.terms] for s in steps]


def backward_values(network: Network, steps: list[Step], env: Mapping,
                    sizes: Sizes, rnd=lambda a: a, *, stable: bool = True, overflow: bool = False,
                    forms: Optional[list] = None) -> dict[str, np.ndarray]:
    """Evaluate every step's terms and adjoint; returns node -> ∂L/∂node.

    ``stable``: each term from its :mod:`~symbackprop.stable` form (``forms``, from
    :func:`numeric_forms`, when already made): ``∂L/∂a · ∂a/∂z`` with ``∂L/∂a = −1/a`` and
    ``a = σ(z)`` as ``−σ(−z)``, finite where ``a`` has rounded to 0. ``overflow``: a local
    derivative and the adjoint of a node that is not a parameter may be ±∞ (``∂L/∂a =
    −1/σ(−800) = −e^800``); a parameter's gradient never.
    """
    if stable and forms is None:
        forms = numeric_forms(network, steps)
    adjoints: dict[str, np.ndarray] = {}
    params = set(network.params)
    for i, step in enumerate(steps):
        total = 0.0
        what = f"∂{network.loss}/∂{step.node}"
        infinite_ok = overflow and step.node not in params
        for j, t in enumerate(step.terms):
            local, expr = forms[i][j] if stable else (t.local, t.expr)
            if t.local is not None:  # a local derivative may overflow (∂u/∂z = e^z)
                t.local_value = float(rnd(_adjoint_checked(
                    ir.evaluate(local, env, adjoints, sizes), (), sizes, f"∂{t.of}/∂{step.node}",
                    overflow, network, env, adjoints)))
            t.value = rnd(_adjoint_checked(ir.evaluate(expr, env, adjoints, sizes), step.shape,
                                           sizes, what, infinite_ok, network, env, adjoints))
            total = total + t.value
        if len(step.terms) > 1:
            step.value = rnd(_adjoint_checked(np.asarray(total, dtype=float), step.shape, sizes,
                                              what, infinite_ok, network, env, adjoints))
        else:
            step.value = step.terms[0].value
        adjoints[step.node] = step.value
    for step in steps:  # the API's numbers: floats for a scalar network
        if network.is_scalar:
            step.value = float(step.value)
            for t in step.terms:
                t.value = float(t.value)
    return adjoints


def _adjoint_checked(value, shape, sizes: Sizes, what: str, infinite_ok: bool, network: Network,
                     env: Mapping, adjoints: Mapping) -> np.ndarray:
    """:func:`_checked` for a backward value; one that is not finite because a value before it
    overflowed is reported at that value."""
    try:
        return _checked(value, shape, sizes, what, infinite_ok=infinite_ok)
    except SpecError:
        for name in network.order:
            node = network.node(name)
            if not node.is_leaf and name in env and not np.all(np.isfinite(env[name])):
                where = f" (line {node.line})" if node.line else ""
                _checked(env[name], node.shape, sizes, f"node '{name}'{where}")
        for name, v in adjoints.items():
            if not np.all(np.isfinite(v)):
                _checked(v, network.node(name).shape, sizes, f"∂{network.loss}/∂{name}")
        raise


def _checked(value: np.ndarray, shape, sizes: Sizes, what: str, *,
             infinite_ok: bool = False) -> np.ndarray:
    want = sizes.resolve(shape)
    if value.shape != want:
        raise ShapeError(f"{what} came out {size_text(value.shape)}, expected "
                         f"{shape_text(shape)} = {size_text(want)}")
    if np.any(np.isnan(value)):
        raise SpecError(f"{what} is not a real number at the given values (a logarithm or root of "
                        f"a negative number, or 0/0?)")
    if not infinite_ok and not np.all(np.isfinite(value)):
        raise SpecError(f"{what} is infinite at the given values (beyond the range of a double, "
                        f"a division by zero, or a logarithm of 0?)")
    return value


def _rows_sum_to_one(f: Fused, env, sizes) -> bool:
    rows = ir.evaluate(f.targets, env, sizes=sizes)
    return bool(np.allclose(rows.sum(axis=-1), 1.0, atol=1e-12))


def _gradient_descent_step(d: Derivation, values: Values, lr: float, rnd,
                           stable: bool = True) -> None:
    updated = dict(values)
    try:
        lr = float(lr)
    except OverflowError:  # a whole number of 400 digits
        raise SpecError(f"the learning rate ({len(str(abs(int(lr))))} digits) is outside the range "
                        f"of a double") from None
    for p in d.params:
        current, g = d.value(p), d.gradient_value(p)
        with np.errstate(all="ignore"):
            new = np.asarray(current) - lr * np.asarray(g)
        if not np.all(np.isfinite(new)):  # the step, not the given values, left the doubles
            raise SpecError(f"after one gradient-descent step (learning rate {lr:g}), '{p}' is "
                            f"beyond the range of a double; try a smaller learning_rate")
        new = rnd(new)
        new = float(new) if np.ndim(new) == 0 else new
        d.updates[p] = Update(current, g, new)
        updated[p] = new
    env, sizes = leaf_arrays(d.network, updated, rnd)
    try:
        forward_values(d.network, env, sizes, rnd, stable=stable, overflow=True)
    except SpecError as e:  # the step, not the given values, left the domain
        raise SpecError(f"after one gradient-descent step (learning rate {lr:g}), "
                        f"{str(e).replace(' at the given values', '')}; try a smaller "
                        f"learning_rate") from None
    d.loss_after = float(env[d.loss])


# ---- the numeric API for the gradient checker and the claim verifier --------
def gradient_function(network: Network) -> Callable[..., tuple[float, dict[str, np.ndarray]]]:
    """Derive once; return ``f(**arrays) -> (loss, {param: gradient})``.

    Every gradient has exactly its parameter's shape (a bias declared
    ``["n_1"]`` gets a 1-D array). The arrays give the dimensions their sizes,
    so one function serves any batch size. Shortcut rules that hold only for
    some targets (softmax + cross-entropy with one-hot rows) are not used: the
    result is the exact gradient for any arrays.

    >>> from symbackprop.reader.forward import network_from_latex
    >>> net = network_from_latex(r"L = \\sum X W", params=["W"], shapes={"X": ["m", "n"], "W": ["n", 1]})
    >>> f = gradient_function(net)
    >>> loss, g = f(X=[[1.0, 2.0]], W=[[3.0], [4.0]])
    >>> loss, g["W"].tolist()
    (11.0, [[1.0], [2.0]])
    """
    steps = derive_steps(network, lambda f: f.assumption is None)
    forms = numeric_forms(network, steps)

    def loss_and_grad(**arrays) -> tuple[float, dict[str, np.ndarray]]:
        env, sizes = leaf_arrays(network, arrays)
        forward_values(network, env, sizes)
        adjoints = backward_values(network, steps, env, sizes, forms=forms)
        return float(env[network.loss]), {p: adjoints[p] for p in network.params}

    return loss_and_grad
