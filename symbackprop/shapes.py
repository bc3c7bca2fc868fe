r"""Shapes: tuples of dimensions, each a name (``"m"``, ``"n_1"``) or a whole number.

A matrix ``X ∈ ℝ^{m×n_in}`` has shape ``("m", "n_in")``, a bias ``b ∈ ℝ^{n_1}``
has ``("n_1",)`` and a scalar ``()``. Dimensions conform when they are equal;
a literal ``1`` broadcasts, as in NumPy. Names get their sizes from the
values of a spec (:class:`Sizes`).

>>> broadcast_shape(("m", "n_1"), ("n_1",))
('m', 'n_1')
>>> matmul_shape(("n_1", "m"), ("m", "n_2"))
('n_1', 'n_2')
>>> shape_latex(("m", "n_in")), shape_text(("n_1",)), space_latex(())
('m \\times n_{in}', 'n_1', '\\mathbb{R}')
"""
from __future__ import annotations

from typing import Iterable, Mapping, Union

import numpy as np
import sympy as sp

from symbackprop.errors import ShapeError, SymbackpropError
from symbackprop.reader.latex import latex_name

Dim = Union[int, str]
Shape = tuple  # tuple[Dim, ...]


# ---- printing -------------------------------------------------------------
def dim_latex(d: Dim) -> str:
    return str(d) if isinstance(d, int) else latex_name(d)


def shape_latex(shape: Shape) -> str:
    r"""``m \times n_{2}``; a scalar is ``1 \times 1``-free: the empty string."""
    return r" \times ".join(dim_latex(d) for d in shape)


def shape_text(shape: Shape) -> str:
    """``m×n_2`` (``scalar`` for a scalar)."""
    return "×".join(str(d) for d in shape) if shape else "scalar"


def space_latex(shape: Shape) -> str:
    r"""``\mathbb{R}^{m \times n_{2}}``: the space a value of ``shape`` lives in."""
    return r"\mathbb{R}" + (f"^{{{shape_latex(shape)}}}" if shape else "")


def space_text(shape: Shape) -> str:
    return "ℝ" + (f"^({shape_text(shape)})" if shape else "")


def size_text(size: Iterable[int]) -> str:
    return "×".join(str(s) for s in size) or "scalar"


# ---- dimensions as SymPy symbols (for coefficients such as 1/m) ----------
def dim_symbol(name: str) -> sp.Symbol:
    """The positive integer symbol for dimension ``name`` (``\\frac{1}{m}``)."""
    return sp.Symbol(name, positive=True, integer=True)


# ---- the algebra ----------------------------------------------------------
def broadcast_shape(a: Shape, b: Shape, what: str = "") -> Shape:
    """NumPy broadcasting of two shapes: aligned from the right; a literal 1 stretches."""
    out = []
    for k in range(1, max(len(a), len(b)) + 1):
        x = a[-k] if k <= len(a) else None
        y = b[-k] if k <= len(b) else None
        if x is None or x == 1:
            out.append(y if y is not None else x)
        elif y is None or y == 1 or x == y:
            out.append(x)
        else:
            raise ShapeError(f"{what}shapes {shape_text(a)} and {shape_text(b)} do not "
                                f"conform: {x} ≠ {y}")
    return tuple(reversed(out))


def matmul_shape(a: Shape, b: Shape, what: str = "") -> Shape:
    """Shape of ``A @ B`` for 1-D or 2-D operands (NumPy's rules)."""
    if not a or not b or len(a) > 2 or len(b) > 2:
        raise ShapeError(f"{what}a matrix product needs vectors or matrices, got "
                            f"{shape_text(a)} and {shape_text(b)}")
    inner_a, inner_b = a[-1], b[0]
    if inner_a != inner_b:
        raise ShapeError(f"{what}{inner_a} ≠ {inner_b}")
    return tuple(a[:-1]) + tuple(b[1:])


def transpose_shape(a: Shape) -> Shape:
    return tuple(reversed(a))


def unbroadcast_axes(full: Shape, target: Shape) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Axes to sum ``full`` over to get back ``target``: (leading axes, axes kept as 1)."""
    lead = tuple(range(len(full) - len(target)))
    kept = tuple(len(lead) + i for i, d in enumerate(target)
                 if d == 1 and full[len(lead) + i] != 1)
    return lead, kept


# ---- sizes: names bound to numbers ---------------------------------------
class Sizes(dict):
    """Dimension name -> size, each bound once, remembering which leaf bound it.

    >>> s = Sizes()
    >>> s.bind("X", ("m", "n_in"), (4, 2))
    >>> s["m"], s.resolve(("n_in", 3))
    (4, (2, 3))
    """

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.source: dict[str, str] = {}

    def bind(self, name: str, declared: Shape, actual: tuple[int, ...]) -> None:
        """Check ``actual`` (a value's shape) against ``declared``; bind free names."""
        def mismatch(detail: str) -> ShapeError:
            return ShapeError(f"values of '{name}' have shape {size_text(actual)}, but its "
                              f"shape is declared {shape_text(declared)}{detail}")
        if len(actual) != len(declared):
            raise mismatch("")
        for d, n in zip(declared, actual):
            if isinstance(d, int):
                if d != n:
                    raise mismatch("")
            elif d in self and self[d] != n:
                raise mismatch(f" and {d} = {self[d]} (from '{self.source[d]}')")
        for d, n in zip(declared, actual):
            if isinstance(d, str) and d not in self:
                self[d] = n
                self.source[d] = name

    def resolve(self, shape: Shape) -> tuple[int, ...]:
        """The concrete sizes of ``shape``; every name must be bound."""
        missing = [d for d in shape if isinstance(d, str) and d not in self]
        if missing:
            raise ShapeError(f"dimension '{missing[0]}' has no size: give values for a leaf "
                             f"whose shape uses it")
        return tuple(d if isinstance(d, int) else self[d] for d in shape)

    def scalar(self, expr: sp.Expr) -> float:
        """A coefficient such as ``2/m`` as a number."""
        if expr.is_Number:
            return float(expr)
        missing = sorted(s.name for s in expr.free_symbols if s.name not in self)
        if missing:
            raise ShapeError(f"dimension '{missing[0]}' has no size: give values for a leaf "
                             f"whose shape uses it")
        return float(expr.xreplace({s: sp.Integer(self[s.name]) for s in expr.free_symbols}))


def as_array(name: str, value) -> np.ndarray:
    """A spec's value (number or nested lists of numbers) as a float array."""
    arr = None
    if not _has_bool(value):  # True/False are not numbers here
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):  # ragged rows, strings
            pass
        except OverflowError:  # a whole number of 400 digits
            raise ShapeError(f"value of '{name}' is outside the range of a double") from None
    if arr is None or arr.ndim > 2:
        raise ShapeError(f"value of '{name}' must be a number, a list of numbers or a "
                         f"rectangular list of rows (nested lists)")
    if arr.size == 0:
        raise ShapeError(f"value of '{name}' is empty")
    if not np.all(np.isfinite(arr)):
        raise ShapeError(f"value of '{name}' must be finite numbers (not inf, nan or beyond the "
                         f"range of a double)")
    return arr


def _has_bool(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_has_bool(v) for v in value)
    return isinstance(value, bool)


def parse_shape(name: str, spec: object) -> Shape:
    """A ``[shapes]`` entry: a list of names (``"m"``, ``"n_{in}"``) and whole numbers."""
    from symbackprop.reader.latex import canonical_name

    def bad() -> ShapeError:
        return ShapeError(f"shape of '{name}' must be a list of dimensions (names such as "
                          f"\"m\" or whole numbers), e.g. [\"m\", \"n_1\"]; got {spec!r}")
    if not isinstance(spec, (list, tuple)) or len(spec) > 2:
        if isinstance(spec, (list, tuple)):
            raise ShapeError(f"shape of '{name}' has {len(spec)} dimensions; scalars, vectors "
                             f"and matrices (at most 2) are supported")
        raise bad()
    dims = []
    for d in spec:
        if isinstance(d, bool):
            raise bad()
        if isinstance(d, int):
            if d < 1:
                raise bad()
            dims.append(d)
        elif isinstance(d, str) and d.strip():
            try:
                dims.append(canonical_name(d.strip()))
            except SymbackpropError:
                raise bad() from None
        else:
            raise bad()
    return tuple(dims)


def dims_of(shapes: Mapping[str, Shape]) -> set[str]:
    """Every dimension name used in ``shapes``."""
    return {d for s in shapes.values() for d in s if isinstance(d, str)}
