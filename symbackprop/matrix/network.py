r"""Matrix networks: named nodes with shapes, defined by matrix-IR expressions.

A :class:`MatrixNetwork` is a :class:`~symbackprop.network.Network` (same
queries: ``order``, ``inputs``, ``consumers``, ``loss``, ``params``) whose
nodes carry a shape and an IR definition instead of a SymPy expression.

>>> net = network_from_latex(r'''
... Z_1 = X W_1 + b_1
... A_1 = \sigma(Z_1)
... L = \frac{1}{m}\|A_1 - Y\|^2''', params=["W_1", "b_1"],
...     shapes={"X": ["m", "n_in"], "W_1": ["n_in", "n_1"], "b_1": ["n_1"], "Y": ["m", "n_1"]})
>>> net.shapes["Z_1"], net.shapes["L"]
(('m', 'n_1'), ())
>>> str(net.node("Z_1").expr)
'X · W_1 + b_1'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from ..errors import LatexSyntaxError, ShapeError, SpecError
from ..latex_in import canonical_name, latex_name
from ..network import Network
from . import ops as O
from .lower import lower
from .shapes import Shape, as_array, dims_of, parse_shape, shape_text


@dataclass(frozen=True)
class MatrixNode:
    """One named matrix (or vector, or scalar) of the forward pass."""

    name: str
    kind: str  #: "param", "input" or "intermediate"
    shape: Shape
    expr: Optional[O.Expr] = None  #: IR definition in earlier nodes (None for leaves)
    line: Optional[int] = None
    latex: str = ""

    @property
    def is_leaf(self) -> bool:
        return self.expr is None

    @property
    def var(self) -> O.Var:
        return O.Var(self.name, self.shape)


class MatrixNetwork(Network):
    """Named nodes with shapes, in topological order (build with :meth:`leaf`, :meth:`define`)."""

    def leaf(self, name: str, shape: Shape = (), latex: str | None = None) -> O.Var:  # type: ignore[override]
        """Declare a leaf of ``shape`` (a parameter if listed in ``params``)."""
        if name in self._nodes:
            raise SpecError(f"'{name}' is declared twice")
        kind = "param" if name in self.params else "input"
        self._nodes[name] = MatrixNode(name, kind, tuple(shape), latex=latex or latex_name(name))
        self._inputs[name] = ()
        self._consumers[name] = []
        return self._nodes[name].var

    def define(self, name: str, expr: O.Expr, *, line: int | None = None,  # type: ignore[override]
               latex: str | None = None) -> O.Var:
        """Define ``name = expr``; every :class:`~.ops.Var` in ``expr`` must be a node already."""
        where = f"line {line}: " if line else ""
        if name in self._nodes:
            raise SpecError(f"{where}'{name}' is defined twice")
        if name in self.params:
            raise SpecError(f"{where}parameter '{name}' must be a leaf, but it is defined here")
        used = O.names_in(expr)
        for u in sorted(used):
            if u not in self._nodes:
                raise SpecError(f"{where}'{u}' is not a node of the network")
        self._nodes[name] = MatrixNode(name, "intermediate", expr.shape, expr, line,
                                       latex or latex_name(name))
        self._inputs[name] = tuple(n for n in self._nodes if n in used)
        self._consumers[name] = []
        for i in self._inputs[name]:
            self._consumers[i].append(name)
        return self._nodes[name].var

    @property
    def shapes(self) -> dict[str, Shape]:
        """Node name -> shape, for every node (what :func:`~.lower.lower` needs)."""
        return {n: node.shape for n, node in self._nodes.items()}

    @property
    def dims(self) -> set[str]:
        """The dimension names the shapes use (``m``, ``n_1``, …)."""
        return dims_of(self.shapes)

    def validate(self) -> None:
        super().validate()
        loss = self.node(self.loss)
        if loss.shape != ():
            raise ShapeError(f"the loss '{loss.name}' must be a scalar, but it has shape "
                             f"{shape_text(loss.shape)} (\\sum without an index sums every "
                             f"entry; \\sum_{{i}} sums the rows only)")


def network_from_latex(forward: str, *, params: Iterable[str] = (), loss: str | None = None,
                       shapes: Mapping[str, Any] | None = None,
                       values: Mapping[str, Any] | None = None, title: str | None = None,
                       first_line: int = 1) -> MatrixNetwork:
    r"""The matrix network whose forward pass is ``forward`` (one ``name = LaTeX`` per line).

    ``shapes`` declares leaf shapes (``{"X": ["m", "n_in"], "b_1": ["n_1"]}``);
    a leaf with no declared shape takes the shape of its value in ``values``
    (nested lists); shapes of defined nodes are inferred, and products that do
    not conform are a :class:`~symbackprop.errors.ShapeError` naming the line,
    the node and both shapes.
    """
    from ..spec import read_forward

    params = [canonical_name(p) for p in params]
    declared = {canonical_name(k): parse_shape(k, v) for k, v in (shapes or {}).items()}
    values = {canonical_name(k): v for k, v in (values or {}).items()}
    dims = dims_of(declared)
    clash = sorted(dims & (set(declared) | set(values)))
    if clash:
        raise SpecError(f"'{clash[0]}' is both a dimension and a node; rename one")
    lines = read_forward(forward, params=params, known=set(declared) | set(values) | dims,
                         first_line=first_line, constants=dims)
    net = MatrixNetwork(params=params, loss_name=loss, title=title)
    for line in lines:
        for u in line.leaves:
            net.leaf(u, _leaf_shape(u, declared, values, line.number))
        try:
            expr = lower(line.tree, net.shapes, dims=dims, text=line.rhs)
        except LatexSyntaxError as e:
            raise SpecError(f"line {line.number}: {e}") from None
        except ShapeError as e:
            raise ShapeError(f"line {line.number}: {line.name}: {e}") from None
        net.define(line.name, expr, line=line.number)
    undeclared = sorted(set(declared) - set(net.order))
    if undeclared:
        raise SpecError(f"[shapes] names '{undeclared[0]}', which is not in the forward pass; "
                        f"nodes: {', '.join(net.order)}")
    for name in declared:
        if not net.node(name).is_leaf:
            raise SpecError(f"[shapes] declares '{name}', which is defined by the forward pass: "
                            f"its shape is inferred; declare only leaves")
    net.validate()
    return net


def _leaf_shape(name: str, declared: Mapping[str, Shape], values: Mapping[str, Any],
                line: int) -> Shape:
    if name in declared:
        return declared[name]
    if name in values:
        return tuple(as_array(name, values[name]).shape)
    raise ShapeError(f"line {line}: '{name}' has no shape: declare it in [shapes] "
                     f"(e.g. {name} = [\"m\", \"n\"], or [] for a scalar) or give its value")
