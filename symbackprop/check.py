"""Gradient checking: central differences and an independent autograd.

The article's check: perturb each parameter by ±ε, difference the loss, and
compare with the analytic gradient by the relative error
``|a − n| / (|a| + |n| + 1e-8)``:

=================  ===========
relative error     verdict
=================  ===========
< 1e-5             correct
1e-5 … 1e-3        suspicious
> 1e-3             bug
=================  ===========

Besides the finite differences, the gradient is compared with an independent
numeric autograd (HIPS ``autograd``, and PyTorch when it is installed) run on a
forward function built from the network's node expressions alone, never from
the symbolic derivatives; and with the compiled code of :mod:`symbackprop.codegen`.

>>> from symbackprop.reader.forward import network_from_latex
>>> net = network_from_latex(r'''
... z = w x
... a = \\sigma(z)
... L = (a - y)^2''', params=["w"])
>>> report = gradient_check(net, {"w": 0.5, "x": 2.0, "y": 1.0})
>>> report.verdict, report.max_rel_error < 1e-8
('correct', True)
"""
from __future__ import annotations

import math
import operator
import warnings
from dataclasses import dataclass, field
from functools import reduce
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp

from symbackprop.reader.latex import latex_name

from symbackprop import functions as F
from symbackprop.errors import SpecError, SymbackpropError
from symbackprop.network import Network
from symbackprop.progress import progress

#: below: correct; above BUG: a bug; between: suspicious (the article's table)
CORRECT, BUG = 1e-5, 1e-3
GRADIENT_VERDICTS = ("correct", "suspicious", "bug")


def relative_error(analytic: float, numeric: float) -> float:
    """The article's ``|a − n| / (|a| + |n| + 1e-8)``.

    >>> relative_error(1.0, 1.0), round(relative_error(1.0, 0.99), 6)
    (0.0, 0.005025)
    """
    if not (math.isfinite(analytic) and math.isfinite(numeric)):
        return math.inf
    return abs(analytic - numeric) / (abs(analytic) + abs(numeric) + 1e-8)


def verdict(error: float) -> str:
    """``correct`` below 1e-5, ``bug`` above 1e-3, ``suspicious`` between."""
    return "correct" if error < CORRECT else "bug" if error > BUG or math.isnan(error) else "suspicious"


# ---- forward functions from node expressions ----------------------------------
class Ops:
    """The array functions of one numeric library (NumPy, autograd, PyTorch)."""

    def __init__(self, xp, erf: Callable | None = None, const: Callable = float, name: str = ""):
        self.xp, self.erf, self.const, self.name = xp, erf, const, name

    def where(self, cond, a, b):
        return self.xp.where(cond, a, b)

    def maximum(self, a, b):
        return self.xp.maximum(a, b)

    def minimum(self, a, b):
        return self.xp.minimum(a, b)

    def clip(self, x, lo, hi):
        return self.xp.clip(x, lo, hi)

    def power(self, a, b):
        return self.xp.power(a, b)

    def zeros_like(self, x):
        return x * 0.0

    # the matrix forward pass
    def transpose(self, x):
        return self.xp.transpose(x)

    def sum(self, x, axes=None, keepdims=False):
        return self.xp.sum(x, axis=axes, keepdims=keepdims)

    def row_max(self, x):
        return self.xp.max(x, axis=-1, keepdims=True)

    def broadcast_to(self, x, shape):
        return self.xp.broadcast_to(x, shape)


class TorchOps(Ops):
    def __init__(self):
        import torch

        super().__init__(torch, torch.erf, lambda v: torch.tensor(float(v), dtype=torch.float64),
                         "torch")

    def _t(self, v):
        return v if self.xp.is_tensor(v) else self.const(v)

    def where(self, cond, a, b):
        return self.xp.where(cond, self._t(a), self._t(b))

    def maximum(self, a, b):
        return self.xp.maximum(self._t(a), self._t(b))

    def minimum(self, a, b):
        return self.xp.minimum(self._t(a), self._t(b))

    def clip(self, x, lo, hi):
        return self.xp.clamp(self._t(x), lo, hi)

    def power(self, a, b):
        return self.xp.pow(self._t(a), b)

    def transpose(self, x):
        return x.T if x.dim() == 2 else x

    def sum(self, x, axes=None, keepdims=False):
        return x.sum() if axes is None else x.sum(dim=axes, keepdim=keepdims)

    def row_max(self, x):
        return x.max(dim=-1, keepdim=True).values

    def broadcast_to(self, x, shape):
        return self._t(x).expand(*shape)


def numpy_ops() -> Ops:
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - scipy comes with autograd's test setup
        erf = None
    return Ops(np, erf, name="numpy")


def autograd_ops() -> Ops:
    import autograd.numpy as anp
    try:
        from autograd.scipy.special import erf
    except ImportError:  # pragma: no cover
        erf = None
    return Ops(anp, erf, name="autograd")


def _stable_sigmoid(o: Ops, x):
    return 1.0 / (1.0 + o.xp.exp(-o.clip(x, -500.0, 500.0)))


def _stable_softplus(o: Ops, x):
    return o.maximum(x, 0.0) + o.xp.log1p(o.xp.exp(-o.xp.abs(x)))


#: SymPy function class -> f(ops, *evaluated args); activations spelled in primitive ops
FUNCTIONS: dict[type, Callable] = {
    sp.exp: lambda o, x: o.xp.exp(x),
    sp.log: lambda o, x: o.xp.log(x),
    sp.tanh: lambda o, x: o.xp.tanh(x),
    sp.sinh: lambda o, x: o.xp.sinh(x),
    sp.cosh: lambda o, x: o.xp.cosh(x),
    sp.sin: lambda o, x: o.xp.sin(x),
    sp.cos: lambda o, x: o.xp.cos(x),
    sp.tan: lambda o, x: o.xp.tan(x),
    sp.Abs: lambda o, x: o.xp.abs(x),
    sp.sign: lambda o, x: o.xp.sign(x),
    sp.erf: lambda o, x: _erf_of(o)(x),
    sp.Max: lambda o, *xs: reduce(o.maximum, xs),
    sp.Min: lambda o, *xs: reduce(o.minimum, xs),
    sp.Heaviside: lambda o, x, h0=0.5: o.where(x > 0, 1.0, o.where(x < 0, 0.0, float(h0))),
    F.sigmoid: _stable_sigmoid,
    F.softplus: _stable_softplus,
    F.relu: lambda o, x: o.where(x > 0, x, o.zeros_like(x)),
    F.leaky_relu: lambda o, x, alpha: o.where(x > 0, x, alpha * x),
    F.elu: lambda o, x, alpha: o.where(x > 0, x, alpha * o.xp.expm1(o.minimum(x, 0.0))),
    F.gelu: lambda o, x: 0.5 * x * (1.0 + _erf_of(o)(x / math.sqrt(2.0))),
}

_RELATIONS = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}


def _erf_of(o: Ops):
    if o.erf is None:
        raise SymbackpropError(f"the gradient check needs erf, which {o.name} lacks here (install scipy)")
    return o.erf


def _evaluate(e: sp.Basic, env: Mapping[str, Any], o: Ops):
    if e.is_Symbol:
        return env[e.name]
    if e.is_Number or e.is_NumberSymbol:
        return o.const(float(e))
    args = [_evaluate(a, env, o) for a in e.args]
    if isinstance(e, sp.Add):
        return reduce(operator.add, args)
    if isinstance(e, sp.Mul):
        return reduce(operator.mul, args)
    if isinstance(e, sp.Pow):
        exponent = e.exp
        if exponent.is_Integer:
            return args[0] ** int(exponent)
        return o.power(args[0], args[1])  # NaN, not a complex number, for a negative base
    if isinstance(e, sp.core.relational.Relational) and e.rel_op in _RELATIONS:
        return _RELATIONS[e.rel_op](args[0], args[1])
    if isinstance(e, sp.Piecewise):
        return _piecewise(e, env, o)
    for cls in type(e).__mro__:
        if cls in FUNCTIONS:
            return FUNCTIONS[cls](o, *args)
    if isinstance(e, F.Activation):  # an activation without an entry: its closed form
        return _evaluate(type(e).closed_form(*e.args), env, o)
    raise SymbackpropError(f"the gradient check cannot evaluate '{type(e).__name__}' numerically")


def _piecewise(e: sp.Piecewise, env, o: Ops):
    *branches, (last, cond) = e.args
    value = _evaluate(last, env, o) if cond == sp.true else o.const(math.nan)
    for expr, c in reversed(branches):
        value = o.where(_evaluate(c, env, o), _evaluate(expr, env, o), value)
    return value


def available_oracles() -> list[str]:
    """Autograd libraries importable here, in the order they are consulted."""
    found = []
    for name in ("autograd", "torch"):
        try:
            __import__(name)
        except ImportError:
            continue
        found.append(name)
    return found


# ---- the report -------------------------------------------------------------------
@dataclass
class ParamCheck:
    """One parameter: the analytic gradient against every numeric one.

    For a matrix parameter the values are arrays and each error is the largest
    relative error over the entries.
    """

    analytic: float | np.ndarray
    numeric: dict[str, float | np.ndarray]  #: source ("finite_difference", "autograd", …) -> gradient
    errors: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        compare = relative_error if np.ndim(self.analytic) == 0 else max_relative_error
        self.errors = {k: compare(self.analytic, v) for k, v in self.numeric.items()}

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.analytic)

    @property
    def rel_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def verdict(self) -> str:
        return verdict(self.rel_error)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"shape": list(self.shape)} if self.shape else {}
        out["analytic"] = _value(self.analytic)
        out.update({k: _value(v) for k, v in self.numeric.items()})
        out["rel_error"] = _num(self.rel_error)
        out["rel_errors"] = {k: _num(v) for k, v in self.errors.items()}
        out["verdict"] = self.verdict
        return out


def _num(v: float):
    return v if math.isfinite(v) else str(v)  # JSON has no inf/nan


def _value(v):
    """A number or an array for JSON: nested lists, non-finite entries as strings."""
    if np.ndim(v) == 0:
        return _num(float(v))
    return [_value(x) for x in np.asarray(v, dtype=float)]


def max_relative_error(analytic, numeric) -> float:
    """The article's relative error, entry by entry; the largest (inf when shapes differ).

    >>> round(max_relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.02])), 6)
    0.004975
    """
    a, n = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    if a.shape != n.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        err = np.abs(a - n) / (np.abs(a) + np.abs(n) + 1e-8)
    return float(np.max(np.where(np.isfinite(err), err, np.inf)))


@dataclass
class CheckReport:
    """A gradient check of every parameter at one point."""

    title: str | None
    point: dict[str, float]
    random: list[str]  #: leaves whose values were drawn at random
    seed: int | None
    eps: float
    loss: float
    params: dict[str, ParamCheck]
    sources: list[str]  #: numeric gradients compared
    notes: list[str] = field(default_factory=list)
    sizes: dict[str, int] | None = None  #: dimension sizes, for a matrix network

    @property
    def max_rel_error(self) -> float:
        return max((c.rel_error for c in self.params.values()), default=0.0)

    @property
    def verdict(self) -> str:
        return verdict(self.max_rel_error)

    @property
    def passed(self) -> bool:
        return self.verdict == "correct"

    def __repr__(self) -> str:
        return (f"CheckReport({self.verdict}: {len(self.params)} parameters, largest relative error "
                f"{self.max_rel_error:.1e} against {', '.join(self.sources)})")

    def to_markdown(self) -> str:
        """A table, one row per parameter: its relative error against each source, and the verdict."""
        head = "| parameter | " + " | ".join(f"rel. error vs {s}" for s in self.sources) + " | verdict |"
        rows = [head, "|" + "---|" * (len(self.sources) + 2)]
        for name, c in self.params.items():
            errors = " | ".join(f"{c.errors.get(s, float('nan')):.1e}" for s in self.sources)
            rows.append(f"| ${latex_name(name)}$ | {errors} | {c.verdict} |")
        rows.append(f"\nLargest relative error {self.max_rel_error:.1e}: **{self.verdict}** "
                    f"(ε = {self.eps:g}).")
        return "\n".join(rows) + "\n"

    def _repr_markdown_(self) -> str:  # Jupyter
        return self.to_markdown()

    def to_json(self) -> dict:
        return {
            "schema_version": 1,
            "title": self.title,
            "verdict": self.verdict,
            "passed": self.passed,
            "max_rel_error": _num(self.max_rel_error),
            "thresholds": {"correct_below": CORRECT, "bug_above": BUG},
            "eps": self.eps,
            "seed": self.seed,
            "random_values": self.random,
            **({"sizes": self.sizes} if self.sizes is not None else {}),
            "point": {k: _value(v) for k, v in self.point.items()},
            "loss": _num(self.loss),
            "compared": self.sources,
            "params": {p: c.to_json() for p, c in self.params.items()},
            "notes": self.notes,
        }

    def to_text(self) -> str:
        where = "the spec's values" if not self.random else \
            f"random values (seed {self.seed})" if len(self.random) == len(self.point) else \
            f"the spec's values, {', '.join(self.random)} random (seed {self.seed})"
        lines = [f"Gradient check{': ' + self.title if self.title else ''}",
                 f"at {where}; central differences with eps = {self.eps:g}; "
                 f"compared: analytic vs {', '.join(s.replace('_', ' ') for s in self.sources)}", ""]
        if self.sizes is None:
            header = ["param", "analytic", *(s.replace("_", " ") for s in self.sources), "rel. error",
                      "verdict"]
            rows = [[p, f"{c.analytic:.10g}", *(f"{c.numeric[s]:.10g}" for s in self.sources),
                     f"{c.rel_error:.1e}", c.verdict] for p, c in self.params.items()]
        else:  # matrices: the largest relative error over the entries, per source
            lines[1] = lines[1].replace("compared: analytic vs", "largest relative error over the "
                                        "entries, analytic vs")
            sizes = ", ".join(f"{k} = {v}" for k, v in self.sizes.items())
            lines.insert(2, f"sizes: {sizes}" if sizes else "sizes: as declared")
            header = ["param", "shape", *(f"vs {s.replace('_', ' ')}" for s in self.sources),
                      "verdict"]
            rows = [[p, "×".join(map(str, c.shape)) or "scalar",
                     *(f"{c.errors[s]:.1e}" for s in self.sources), c.verdict]
                    for p, c in self.params.items()]
        widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
        for k, r in enumerate([header] + rows):
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if k == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        lines += ["", f"max relative error {self.max_rel_error:.1e}: {self.verdict} "
                  "(below 1e-5 correct, 1e-5 to 1e-3 suspicious, above 1e-3 a bug)"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


# ---- the check -------------------------------------------------------------------
def _check_eps(eps) -> None:
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise SpecError(f"eps must be a positive number, got {eps!r}")


# ---- the forward pass from the IR, in any array library ---------------------------
def forward_function(network, ops: Ops) -> Callable[[Mapping[str, Any], Mapping[str, int]], Any]:
    """``f(leaf arrays, sizes) -> loss``, evaluating the forward pass's IR with ``ops``.

    Built from the forward pass's IR alone (matrix products, broadcasting sums,
    elementwise functions through :data:`FUNCTIONS`): no VJP rule, printed code or
    derivative of symbackprop's is involved.
    """
    order = [network.node(n) for n in network.order]
    loss = network.loss

    def f(leaves: Mapping[str, Any], sizes: Mapping[str, int]):
        env: dict[str, Any] = {}
        for node in order:
            try:
                env[node.name] = leaves[node.name] if node.is_leaf else \
                    _evaluate_ir(node.expr, env, ops, sizes)
            except (ZeroDivisionError, OverflowError) as e:  # Python numbers raise where arrays give inf
                raise SymbackpropError(f"node '{node.name}' is not finite at the values checked "
                                       f"({e})") from None
            if node.name == loss:
                return env[loss]
        raise AssertionError("the loss is a node")  # pragma: no cover

    return f


def _evaluate_ir(e, env: Mapping[str, Any], o: Ops, sizes: Mapping[str, int]):
    from symbackprop import ir as O

    def ev(n):
        return _evaluate_ir(n, env, o, sizes)

    def number(c: sp.Expr) -> float:
        return float(c.xreplace({s: sp.Integer(sizes[s.name]) for s in c.free_symbols}))

    t = type(e)
    if t is O.Var:
        return env[e.name]
    if t is O.Scalar:
        return o.const(number(e.value))
    if t is O.Add:
        return ev(e.a) + ev(e.b)
    if t is O.Sub:
        return ev(e.a) - ev(e.b)
    if t is O.Hadamard:
        return ev(e.a) * ev(e.b)
    if t is O.Div:
        return ev(e.a) / ev(e.b)
    if t is O.Scale:
        return number(e.coeff) * ev(e.x)
    if t is O.MatMul:
        return ev(e.a) @ ev(e.b)
    if t is O.Maximum:
        return o.maximum(ev(e.a), ev(e.b))
    if t is O.Minimum:
        return o.minimum(ev(e.a), ev(e.b))
    if t is O.VarPower:
        return o.power(ev(e.a), ev(e.b))
    if t is O.Transpose:
        return o.transpose(ev(e.x)) if e.x.shape else ev(e.x)
    if t in (O.Apply, O.Prime):
        x = sp.Symbol("entry", real=True)
        f = (O.scalar_application if t is O.Apply else O.scalar_derivative)(e.func, x, e.alpha)
        return _evaluate(f, {"entry": ev(e.x)}, o)
    if t is O.Power:
        k = e.exp
        return ev(e.x) ** (int(k) if k.is_Integer else number(k))
    if t is O.Sum:
        return o.sum(ev(e.x), e.axes, e.keepdims)
    if t is O.FrobSq:
        x = ev(e.x)
        return o.sum(x * x)
    if t is O.Norm:
        x = ev(e.x)
        return o.sum(x * x) ** 0.5
    if t is O.Softmax:
        x = ev(e.x)
        z = o.xp.exp(x - o.row_max(x))
        return z / o.sum(z, (-1,), True)
    if t is O.Broadcast:
        x = ev(e.x)
        shape = tuple(d if isinstance(d, int) else sizes[d] for d in e.target)
        if e.axes is not None and len(e.x.shape) < len(e.target):
            x = o.xp.expand_dims(x, e.axes)
        return o.broadcast_to(x, shape)
    raise SymbackpropError(f"the gradient check cannot evaluate {t.__name__} numerically")


def central_differences(network, point: Mapping[str, np.ndarray], sizes: Mapping[str, int],
                               eps: float = 1e-5, dtype=np.float64) -> dict[str, np.ndarray]:
    """``(L(p + ε e_ij) − L(p − ε e_ij)) / 2ε`` for every entry ``ij`` of every parameter.

    The forward pass runs in ``dtype`` (``np.longdouble`` makes the differences'
    rounding error ~2000 times smaller than float64's); the result is float64.
    """
    f = forward_function(network, numpy_ops())
    point = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
    out = {}
    with np.errstate(all="ignore"), progress("central differences", len(network.params)) as tick:
        tick(0)
        for i, p in enumerate(network.params, 1):
            value = np.array(point[p], dtype=dtype)
            grad = np.zeros_like(value)
            leaves = dict(point)
            leaves[p] = value
            for ix in np.ndindex(value.shape):
                original = value[ix]
                value[ix] = original + eps
                plus = f(leaves, sizes)
                value[ix] = original - eps
                minus = f(leaves, sizes)
                value[ix] = original
                grad[ix] = (plus - minus) / (2 * eps)
            out[p] = grad.astype(np.float64)
            tick(i)
    return out


def autograd_gradient(network, point: Mapping[str, np.ndarray],
                             sizes: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Every parameter's gradient by HIPS autograd, reverse mode over the IR forward pass."""
    import autograd

    f = forward_function(network, autograd_ops())
    params = tuple(network.params)

    def loss(*theta):
        leaves = dict(point)
        leaves.update(zip(params, theta))
        return f(leaves, sizes)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # "output seems independent of input"
        grads = autograd.grad(loss, tuple(range(len(params))))(*(point[p] for p in params))
    return {p: np.asarray(g, dtype=float) * np.ones(np.shape(point[p])) for p, g in zip(params, grads)}


def torch_gradient(network, point: Mapping[str, np.ndarray],
                          sizes: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Every parameter's gradient by PyTorch eager autograd (float64)."""
    import torch

    f = forward_function(network, TorchOps())
    leaves = {n: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64,
                              requires_grad=n in network.params) for n, v in point.items()}
    f(leaves, sizes).backward()
    return {p: leaves[p].grad.numpy().copy() if leaves[p].grad is not None
            else np.zeros(np.shape(point[p])) for p in network.params}


ORACLES = {"autograd": autograd_gradient, "torch": torch_gradient}


def random_point(network, seed: int = 0, given: Mapping[str, Any] | None = None
                        ) -> tuple[dict[str, np.ndarray], list[str], dict[str, int]]:
    """Every leaf's array: ``given`` ones kept, others uniform in (−1, 1), seeded.

    Dimensions that no given array fixes get different small sizes (2, 3, …, in a
    seeded order), so a transposed product cannot pass by accident. When the loss
    is not finite there, the missing values are drawn again from (0.1, 1).
    """
    from symbackprop.shapes import Sizes, as_array

    given = {k: as_array(k, v) for k, v in (given or {}).items()}
    leaves = [n for n in network.order if network.node(n).is_leaf]
    sizes = Sizes()
    for n in leaves:
        if n in given:
            sizes.bind(n, network.node(n).shape, given[n].shape)
    rng = np.random.default_rng(seed)
    free = sorted(network.dims - set(sizes))
    for dim, size in zip(free, rng.permutation(len(free)) + 2):
        sizes[dim] = int(size)
    missing = [n for n in leaves if n not in given]
    f = forward_function(network, numpy_ops())
    point = dict(given)
    for low in (-1.0, 0.1):
        point.update({n: rng.uniform(low, 1.0, sizes.resolve(network.node(n).shape)) for n in missing})
        with np.errstate(all="ignore"):
            if math.isfinite(float(f(point, sizes))):
                break
    point = {n: float(point[n]) if np.ndim(point[n]) == 0 else point[n] for n in leaves}
    return point, missing, dict(sizes)


def gradient_check(network: Network, values: Mapping[str, Any] | None = None, *,
                   eps: float = 1e-5, seed: int = 0, oracles: list[str] | None = None,
                   compiled: bool = True) -> CheckReport:
    """Check every gradient of ``network`` at ``values`` (random, seeded, where missing).

    The analytic gradient is the derivation's (its steps evaluated); it is
    compared entry by entry with central differences of the forward pass (ε per
    entry), HIPS autograd and PyTorch on the same forward pass written from the
    IR, and the compiled module (:meth:`~symbackprop.derivation.Derivation.compile`).
    """
    from symbackprop.backprop import backprop as matrix_backprop

    _check_eps(eps)
    network.validate()
    point, drawn, sizes = random_point(network, seed, values)
    d = matrix_backprop(network, point)
    steps = {s.node for s in d.backward}
    analytic = {p: d.gradient_value(p) if p in steps else np.zeros(np.shape(point[p]))
                for p in network.params}

    numeric = {"finite_difference": central_differences(network, point, sizes, eps)}
    notes = []
    for name in oracles if oracles is not None else ["autograd", "torch"]:
        if name not in ORACLES:
            raise SymbackpropError(f"unknown oracle '{name}'; use one of {', '.join(ORACLES)}")
        try:
            numeric[name] = ORACLES[name](network, point, sizes)
        except ImportError:
            notes.append(f"{name} is not installed: not compared")
    if compiled:
        with np.errstate(all="ignore"):
            _, grads = d.compile()(**point)
        numeric["compiled"] = {p: np.asarray(g, dtype=float) for p, g in grads.items()}

    sources = list(numeric)
    if network.is_scalar:  # numbers, and a table of numbers
        params = {p: ParamCheck(float(analytic[p]), {s: float(numeric[s][p]) for s in sources})
                  for p in network.params}
        return CheckReport(network.title, {k: float(v) for k, v in point.items()}, drawn,
                           seed if drawn else None, eps, d.loss_value, params, sources, notes)
    params = {p: ParamCheck(np.asarray(analytic[p], dtype=float), {s: numeric[s][p] for s in sources})
              for p in network.params}
    return CheckReport(network.title, point, drawn, seed if drawn else None, eps, d.loss_value,
                       params, sources, notes, sizes={k: sizes[k] for k in sorted(sizes)})
