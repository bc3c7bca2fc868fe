r"""From the LaTeX syntax tree (:mod:`symbackprop.reader.latex`) to the matrix IR.

The matrix dialect: juxtaposition and ``\cdot`` are the matrix product;
``\odot``/``\circ`` the Hadamard product (looser than the matrix product,
tighter than ``+``/``-``); ``^\top``, ``^T``, ``^{\mathsf T}`` transpose;
functions apply to every entry; ``\|A\|^2`` is the squared Frobenius norm;
``\sum A`` sums every entry and ``\sum_{i=1}^{m} A`` sums the rows (the
bias gradient); ``1 - A`` is the all-ones matrix minus ``A``; a constant or
a scalar node times a matrix scales it; ``\frac{A}{B}`` of matrices is
elementwise; ``\frac{\partial L}{\partial Z_2}`` is the adjoint of ``Z_2``.

>>> from symbackprop.reader.latex import parse
>>> shapes = {"A_1": ("m", "n_1"), "Z_2": ("m", "n_2"), "W_2": ("n_1", "n_2")}
>>> e = lower(parse(r"A_1^\top \frac{\partial L}{\partial Z_2}", shapes, allow_partial=True), shapes)
>>> e.shape
('n_1', 'n_2')
>>> lower(parse(r"A_1 W_2^T", shapes), shapes)
Traceback (most recent call last):
...
symbackprop.errors.ShapeError: cannot multiply A_1 (m×n_1) by W_2ᵀ (n_2×n_1): n_1 ≠ n_2
"""
from __future__ import annotations

from typing import Callable, Collection, Mapping, Optional

import sympy as sp

from symbackprop.reader import latex as T
from symbackprop.errors import LatexSyntaxError
from symbackprop import ir as O
from symbackprop.limits import magnitude_problem, number_problem, power_problem
from symbackprop.shapes import Shape, dim_symbol, dims_of

_CONSTANTS = {"e": sp.E, "pi": sp.pi}


def lower(tree: T.Tree, shapes: Mapping[str, Shape], *, loss: str = "L",
          dims: Collection[str] = (), text: str = "",
          partial: Optional[Callable[[T.Partial], O.Expr]] = None,
          derivative: Optional[Callable[[O.Expr, str], O.Expr]] = None) -> O.Expr:
    r"""The IR of a matrix-dialect syntax tree.

    ``shapes`` maps every node name the expression may use to its shape (a
    network's :attr:`~symbackprop.network.Network.shapes`);
    dimension names (those in the shapes, plus ``dims``) stand for their sizes
    (``\frac{1}{m}``). ``\frac{\partial L}{\partial v}`` (``L`` = ``loss``)
    becomes :class:`~symbackprop.ir.Adj`. Pass the source ``text`` for
    columns in error messages. ``partial`` lowers a :class:`~symbackprop.reader.latex.Partial`
    instead (a claim's ``\\frac{\\partial a_2}{\\partial z_2}``, as a placeholder);
    ``derivative(expr, name)`` lowers the operator form ``\\frac{\\partial}{\\partial a}(…)``.
    A sum whose upper bound is a dimension (``\\sum_{i=1}^{m}``) sums the axis of that
    dimension: the rows when examples are rows, the columns (kept as a column) when they are
    columns. Raises :class:`~symbackprop.errors.ShapeError`
    when shapes do not conform and :class:`~symbackprop.errors.LatexSyntaxError`
    for notation outside the dialect.
    """
    dimension_names: list[set[str]] = []  # of the shapes too: gathered once, when a name is not a node

    def is_dimension(name: str) -> bool:
        if name in dims:
            return True
        if not dimension_names:
            dimension_names.append(dims_of(shapes))
        return name in dimension_names[0]

    def err(message: str, n) -> LatexSyntaxError:
        return LatexSyntaxError(message, text, n.pos) if text and n.pos >= 0 else LatexSyntaxError(message)

    def constant(e: O.Expr) -> Optional[sp.Expr]:
        return e.value if isinstance(e, O.Scalar) else None

    def checked(e: O.Expr, n) -> O.Expr:
        """A constant folded from numbers (``10^{200} \\cdot 10^{200}``) must be a double too."""
        problem = magnitude_problem(e.value) if isinstance(e, O.Scalar) else None
        if problem:
            raise err(problem, n)
        return e

    def low(n) -> O.Expr:
        if isinstance(n, T.Num):
            problem = number_problem(n.value)
            if problem:
                raise err(problem, n)
            return O.Scalar(sp.Integer(n.value) if n.value.isdigit() else sp.Float(n.value))
        if isinstance(n, T.Name):
            if n.canonical in shapes:
                return O.Var(n.canonical, tuple(shapes[n.canonical]))
            if is_dimension(n.canonical):
                return O.Scalar(dim_symbol(n.canonical))
            known = ", ".join(sorted(shapes)) or "none"
            raise err(f"unknown symbol '{n.canonical}'; known: {known}", n)
        if isinstance(n, T.Const):
            return O.Scalar(_CONSTANTS[n.name])
        if isinstance(n, T.Neg):
            return O.neg(low(n.x))
        if isinstance(n, T.BinOp):
            return checked(binop(n), n)
        if isinstance(n, T.Pow):
            return checked(power(n), n)
        if isinstance(n, T.Transpose):
            return O.transpose(low(n.x))
        if isinstance(n, T.Norm):
            return O.Norm(low(n.x))
        if isinstance(n, T.Sum):
            x = low(n.x)
            if n.index is None or len(x.shape) < 2:
                return O.reduce_sum(x)
            if n.upper in x.shape and x.shape.index(n.upper) > 0:  # examples are columns
                return O.reduce_sum(x, (x.shape.index(n.upper),), keepdims=True)
            return O.reduce_sum(x, (0,))
        if isinstance(n, T.Derivative):
            if derivative is None:
                raise err("the operator form \\frac{\\partial}{\\partial x}(…) is not supported here", n)
            if n.wrt.canonical not in shapes:
                raise err(f"unknown symbol '{n.wrt.canonical}'", n.wrt)
            return derivative(low(n.x), n.wrt.canonical)
        if isinstance(n, T.Call):
            return checked(call(n), n)
        if isinstance(n, T.Partial) and partial is not None:
            return partial(n)
        if isinstance(n, T.Partial):
            if n.of.canonical != loss:
                raise err(f"only gradients of the loss '{loss}' can be used here, "
                          f"not of '{n.of.canonical}'", n)
            if n.wrt.canonical not in shapes:
                raise err(f"unknown node '{n.wrt.canonical}' in a gradient", n)
            return O.Adj(n.wrt.canonical, tuple(shapes[n.wrt.canonical]), loss)
        raise TypeError(f"not a syntax tree node: {n!r}")  # pragma: no cover

    def binop(n: T.BinOp) -> O.Expr:
        a, b = low(n.left), low(n.right)
        ca, cb = constant(a), constant(b)
        if n.op == "+":
            return O.add(a, b)
        if n.op == "-":
            return O.sub(a, b)
        if n.op == "odot":
            return O.hadamard(a, b)
        if n.op == "/":
            if cb is not None:
                return O.scale(1 / cb, a)
            return O.div(a, b)
        # a product: a constant or a scalar scales; two arrays multiply as matrices
        if ca is not None:
            return O.scale(ca, b)
        if cb is not None:
            return O.scale(cb, a)
        if a.shape == () or b.shape == ():
            return O.hadamard(a, b)
        return O.matmul(a, b)

    def power(n: T.Pow) -> O.Expr:
        exp = low(n.exp)
        k = constant(exp)
        if isinstance(n.base, T.Norm) and k == 2:
            return O.FrobSq(low(n.base.x))
        base = low(n.base)
        if k is not None and isinstance(base, O.Scalar):
            problem = power_problem(base.value, k)
            if problem:  # 9^{9^{9}}: refused before SymPy computes it
                raise err(problem, n)
        if k is None:
            if base.shape == () and exp.shape == ():
                return O.var_power(base, exp)
            raise err("an exponent must be a constant in the matrix dialect", n)
        if base.shape == ():
            return O.power(base, k)
        raise err(f"a power of a matrix is ambiguous: write {_hint(n)} for the elementwise "
                  f"square or \\|…\\|^2 for the squared norm", n)

    def call(n: T.Call) -> O.Expr:
        args = [low(a) for a in n.args]
        x = args[0]
        if n.func == "softmax":
            if n.prime:
                raise err("softmax' is not elementwise: write the softmax as a node", n)
            return O.Softmax(x)
        if n.func in ("max", "min") and len(args) == 2 and not n.prime:
            return (O.maximum if n.func == "max" else O.minimum)(*args)
        if n.func == "root" and len(args) == 2 and constant(args[1]) is not None:
            return O.power(x, 1 / constant(args[1]))
        if n.func in ("max", "min", "root") or len(args) > 2:
            raise err(f"'{n.func}' with these arguments is not supported", n)
        alpha = None
        if len(args) == 2:
            alpha = constant(args[1])
            if alpha is None:
                raise err(f"the second argument of '{n.func}' must be a constant", n)
        if n.prime > 1:
            raise err("only first derivatives f'(Z) are supported", n)
        cx = constant(x)
        if cx is not None and not n.prime:
            f = O.scalar_function(n.func)
            return O.Scalar(f(cx) if alpha is None else f(cx, alpha))
        return (O.Prime if n.prime else O.Apply)(n.func, x, alpha)

    return low(tree)


def _hint(n: T.Pow) -> str:
    return "A \\odot A" if not isinstance(n.base, T.Name) else f"{n.base.latex} \\odot {n.base.latex}"
