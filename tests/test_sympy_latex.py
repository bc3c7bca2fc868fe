"""``sympy.latex()`` and Jupyter's display formatters on every expression the public API returns.

For each spec in ``derivations/``: ``d.gradient(p)``, ``d.expand(v)`` and
``d.expand(v, leaves=True)``, each backward step's ``adjoint`` and each of its terms'
``expr``, the matrix steps' ``textbook``, and the forward definitions (``d.forward`` for
scalar specs, ``d.network.node(v).expr`` for matrix ones).
Scalar specs return SymPy expressions; a user's ``sp.latex(d.gradient("w_1"))`` or a
notebook cell ending in ``d.gradient("w_1")`` (Jupyter calls ``_repr_latex_``, that is
``sp.latex``) must print LaTeX, never crash (it once did: the adjoint symbol was named like
SymPy's matrix ``Adjoint``).

Matrix specs return nodes of symbackprop's matrix IR (:mod:`symbackprop.matrix.ops`), which
are not SymPy objects and have no ``_latex`` method. SymPy's printer then dispatches on the
class *name*: IR ``MatMul``, ``Transpose``, ``Add`` and ``Sum`` reach SymPy's own
``_print_MatMul``, ``_print_Transpose``, ``_print_Add``, ``_print_Sum`` and raise
``AttributeError``; the other classes fall back to ``\\mathtt{\\text{<plain text>}}``. Those
are known gaps, marked ``xfail(strict=True)`` so that each flips to a failure, to be
unmarked, when it is fixed.
"""
from __future__ import annotations

import importlib.util
import inspect
from functools import lru_cache
from pathlib import Path

import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.matrix import ops as O
from symbackprop.matrix import to_latex as matrix_latex

DERIVATIONS = Path(__file__).resolve().parent.parent / "derivations"
SPECS = sorted(DERIVATIONS.glob("*.toml"))


@lru_cache(maxsize=None)
def derivation(name: str):
    return sb.derive(DERIVATIONS / name)


def is_matrix(name: str) -> bool:
    return isinstance(derivation(name), sb.MatrixDerivation)


SCALAR = [p.name for p in SPECS if not is_matrix(p.name)]
MATRIX = [p.name for p in SPECS if is_matrix(p.name)]


def public_expressions(d) -> list[tuple[str, object]]:
    """(label, expression) for every expression the public API returns for ``d``."""
    out = []
    for p in d.params:
        out.append((f"gradient({p!r})", d.gradient(p)))
    for s in d.backward:
        out.append((f"step({s.node!r}).adjoint", s.adjoint))
        out += [(f"step({s.node!r}).terms[{i}].expr (∂{t.of}/∂{t.wrt})", t.expr)
                for i, t in enumerate(s.terms)]
        out.append((f"expand({s.node!r})", d.expand(s.node)))
        out.append((f"expand({s.node!r}, leaves=True)", d.expand(s.node, leaves=True)))
        if isinstance(d, sb.MatrixDerivation):
            out.append((f"textbook({s.node!r})", d.textbook(s.node)))
    if isinstance(d, sb.MatrixDerivation):  # the forward pass: the network's definitions
        out += [(f"network.node({v!r}).expr", d.network.node(v).expr)
                for v in d.network.order if not d.network.node(v).is_leaf]
    for f in getattr(d, "forward", None) or []:
        out.append((f"forward {f.node}.definition", f.definition))
        out.append((f"forward {f.node}.expr", f.expr))
    return out


def test_every_spec_is_covered():
    assert SCALAR and MATRIX and set(SCALAR) | set(MATRIX) == {p.name for p in SPECS}
    assert "seed_scalar.toml" in SCALAR and "seed_matrix.toml" in MATRIX


# ---- scalar specs: SymPy expressions ------------------------------------------------
@pytest.mark.parametrize("name", SCALAR)
def test_sympy_latex_of_every_scalar_expression(name):
    d = derivation(name)
    failures = []
    for label, e in public_expressions(d):
        assert isinstance(e, sp.Basic), (label, type(e))
        try:
            tex = sp.latex(e)
        except Exception as exc:  # noqa: BLE001 - reported below with the object
            failures.append(f"{label}: {type(e).__name__}: {type(exc).__name__}: {exc}")
            continue
        # the adjoint symbols print as fractions, not as their names ∂L/∂v
        if not tex or "∂" in tex:
            failures.append(f"{label}: sp.latex gave {tex!r}")
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_the_gradient_of_w_1_prints_as_a_fraction():
    d = derivation("seed_scalar.toml")
    assert sp.latex(d.gradient("w_1")) == r"\frac{\partial L}{\partial z_{1}} x"
    assert sp.latex(d.step("z_1").adjoint) == r"\frac{\partial L}{\partial a_{1}} a_{1} \left(1 - a_{1}\right)"
    assert r"\sigma\left(w_{1} x\right)" in sp.latex(d.expand("w_1", leaves=True))


# ---- matrix specs: IR nodes -----------------------------------------------------------
def walk(e: O.Expr):
    yield e
    for kid in e.children:
        yield from walk(kid)


IR_CLASSES = sorted((c for c in vars(O).values()
                     if inspect.isclass(c) and issubclass(c, O.Expr) and c is not O.Expr
                     and not c.__name__.startswith("_")), key=lambda c: c.__name__)

#: IR classes whose name is that of a SymPy class the LaTeX printer has a method for
CLASHING = {"Add", "MatMul", "Sum", "Transpose"}
KNOWN_CLASH = ("known gap: IR {0} has no _latex method, so SymPy's LatexPrinter dispatches on "
               "the class name to its own _print_{0} and raises AttributeError")


@lru_cache(maxsize=None)
def ir_instances() -> dict[str, list[tuple[str, O.Expr]]]:
    """IR class name -> (where, node) for every node of every matrix expression, subtrees too."""
    found: dict[str, list] = {c.__name__: [] for c in IR_CLASSES}
    for name in MATRIX:
        for label, e in public_expressions(derivation(name)):
            assert isinstance(e, O.Expr), (name, label, type(e))
            for node in walk(e):
                found[type(node).__name__].append((f"{name} {label}", node))
    return found


def test_known_clashes_are_exactly_the_printer_s_methods():
    from sympy.printing.latex import LatexPrinter

    clash = {c.__name__ for c in IR_CLASSES
             if any(hasattr(LatexPrinter, f"_print_{k.__name__}") for k in c.__mro__)}
    assert clash == CLASHING


@pytest.mark.parametrize("cls", [
    pytest.param(c.__name__, marks=pytest.mark.xfail(
        strict=True, raises=AttributeError, reason=KNOWN_CLASH.format(c.__name__)))
    if c.__name__ in CLASHING else c.__name__
    for c in IR_CLASSES])
def test_sympy_latex_does_not_raise_on_matrix_ir(cls):
    """``sp.latex(node)`` on every IR node of class ``cls`` in the matrix specs' expressions."""
    instances = ir_instances()[cls]
    if not instances:
        pytest.skip(f"no expression of the matrix specs in derivations/ holds an IR {cls}")
    for where, node in instances:
        try:
            sp.latex(node)
        except AttributeError as exc:
            raise AttributeError(f"sp.latex() of IR {cls} ({where}): {exc}") from exc


@pytest.mark.xfail(strict=True, reason=(
    "known gap: IR nodes have no _latex method, so sp.latex() either raises (MatMul, Transpose, "
    "Add, Sum) or prints SymPy's fallback \\mathtt{\\text{<to_text form>}}, not "
    "symbackprop.matrix.to_latex"))
@pytest.mark.parametrize("name", MATRIX)
def test_sympy_latex_of_matrix_ir_is_the_package_s_latex(name):
    wrong = []
    for label, e in public_expressions(derivation(name)):
        try:
            tex = sp.latex(e)
        except Exception as exc:  # noqa: BLE001 - reported below with the object
            tex = f"{type(exc).__name__}: {exc}"
        if tex != matrix_latex(e):
            wrong.append(f"{label}: {type(e).__name__}: {tex}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong)


def test_the_package_s_own_latex_of_matrix_ir():
    """What a notebook shows today for a matrix gradient: symbackprop.matrix.to_latex."""
    for name in MATRIX:
        for label, e in public_expressions(derivation(name)):
            assert matrix_latex(e), (name, label)
    m = derivation("seed_matrix.toml")
    assert matrix_latex(m.gradient("W_1")) == r"X^{\top} \frac{\partial L}{\partial Z_{1}}"


# ---- IPython's display formatters (what Jupyter calls to show a cell's value) -----------
has_ipython = importlib.util.find_spec("IPython") is not None
needs_ipython = pytest.mark.skipif(not has_ipython, reason="IPython not installed")


def formatted(obj, capsys) -> dict:
    """IPython's formatters swallow an exception and print its traceback: fail on that."""
    from IPython.core.formatters import DisplayFormatter

    capsys.readouterr()
    data, _ = DisplayFormatter().format(obj)
    err = capsys.readouterr().err
    assert "Traceback" not in err, f"a display formatter raised on {type(obj).__name__}:\n{err}"
    return data


@needs_ipython
@pytest.mark.parametrize("name", [p.name for p in SPECS])
def test_ipython_formatters(name, capsys):
    d = derivation(name)
    data = formatted(d, capsys)
    assert data["text/markdown"] == d.to_markdown() == d._repr_markdown_()
    for label, e in public_expressions(d):
        data = formatted(e, capsys)
        assert "text/plain" in data, label
        if isinstance(e, sp.Basic):
            assert data["text/latex"] == rf"$\displaystyle {sp.latex(e)}$", label


@needs_ipython
@pytest.mark.xfail(strict=True, reason=(
    "known gap: IR nodes have no _repr_latex_, so Jupyter shows a matrix gradient as its "
    "dataclass repr (MatMul(a=Transpose(x=Var(...)), ...)) instead of LaTeX"))
@pytest.mark.parametrize("name", MATRIX)
def test_matrix_ir_displays_as_latex_in_jupyter(name, capsys):
    missing = [label for label, e in public_expressions(derivation(name))
               if "text/latex" not in formatted(e, capsys)]
    assert not missing, f"{name}: no text/latex for " + ", ".join(missing)
