"""``sympy.latex()`` and Jupyter's display formatters on every expression the public API returns.

For each spec in ``derivations/`` and ``tests/sources/``, scalar and matrix alike:
``d.gradient(p)``, ``d.expand(v)`` and ``d.expand(v, leaves=True)``, ``d.textbook(v)``, each
backward step's ``adjoint`` and ``textbook``, each of its terms' ``expr`` and ``local``, the
forward definitions (``d.forward[i].expr``, ``d.network.node(v).expr`` and, for scalar
networks, ``d.network.node(v).written``) and, for scalar networks, ``d.scalar_form`` of the
steps' adjoints and local derivatives.

Two kinds of objects come back:

* SymPy expressions (scalar networks' ``gradient``, ``expand``, ``scalar_form``, ``written``).
  ``sp.latex(d.gradient("w_1"))``, or a notebook cell ending in it (Jupyter calls
  ``_repr_latex_``, that is ``sp.latex``), must print LaTeX, never crash (it once did: the
  adjoint symbol was named like SymPy's matrix ``Adjoint``).
* Nodes of symbackprop's IR (:mod:`symbackprop.ir`; everything else, and matrix networks'
  ``gradient`` and ``expand``). They are not SymPy objects, but every node has ``_latex``,
  which SymPy's printer calls before its own dispatch on the class *name* (without it, IR
  ``MatMul``, ``Transpose``, ``Add`` and ``Sum`` reached SymPy's ``_print_MatMul`` … and
  raised, and the other classes fell back to ``\\mathtt{\\text{<plain text>}}``). So
  ``sp.latex(node)`` is :func:`symbackprop.printing.ir.to_latex` of it, ``_repr_latex_``
  shows the same in Jupyter and ``str(node)`` is :func:`~symbackprop.printing.ir.to_text`.

Known gaps of the printers are marked ``xfail(strict=True)`` at the end, so that each flips to
a failure, to be unmarked, when it is fixed.
"""
from __future__ import annotations

import importlib.util
import inspect
import re
from functools import lru_cache
from pathlib import Path

import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import ir as O
from symbackprop.printing.ir import to_latex, to_text

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"derivations": ROOT / "derivations", "sources": ROOT / "tests" / "sources"}
SPECS = {f"{key}/{p.name}": p for key, folder in FOLDERS.items() for p in sorted(folder.glob("*.toml"))}


@lru_cache(maxsize=None)
def derivation(name: str) -> sb.Derivation:
    return sb.derive(SPECS[name])


SCALAR = [n for n in SPECS if derivation(n).is_scalar]
MATRIX = [n for n in SPECS if not derivation(n).is_scalar]


def public_expressions(d: sb.Derivation) -> list[tuple[str, object]]:
    """(label, expression) for every expression the public API returns for ``d``."""
    out: list[tuple[str, object]] = [(f"gradient({p!r})", d.gradient(p)) for p in d.params]
    for s in d.backward:
        out.append((f"step({s.node!r}).adjoint", s.adjoint))
        out.append((f"step({s.node!r}).textbook", s.textbook))
        out.append((f"textbook({s.node!r})", d.textbook(s.node)))
        if d.is_scalar:
            out.append((f"scalar_form(step({s.node!r}).adjoint)", d.scalar_form(s.adjoint)))
        for i, t in enumerate(s.terms):
            where = f"step({s.node!r}).terms[{i}]"
            out.append((f"{where}.expr (∂L/∂{t.of} · ∂{t.of}/∂{t.wrt})", t.expr))
            if t.local is not None:
                out.append((f"{where}.local (∂{t.of}/∂{t.wrt})", t.local))
                out.append((f"scalar_form({where}.local)", d.scalar_form(t.local)))
        out.append((f"expand({s.node!r})", d.expand(s.node)))
        out.append((f"expand({s.node!r}, leaves=True)", d.expand(s.node, leaves=True)))
    out += [(f"forward {f.node}.expr", f.expr) for f in d.forward]
    for v in d.network.order:
        node = d.network.node(v)
        if not node.is_leaf:
            out.append((f"network.node({v!r}).expr", node.expr))
            if node.written is not None:
                out.append((f"network.node({v!r}).written", node.written))
    return out


@lru_cache(maxsize=None)
def expressions(name: str) -> tuple[tuple[str, object], ...]:
    return tuple(public_expressions(derivation(name)))


def test_every_spec_is_covered():
    assert SCALAR and MATRIX and set(SCALAR) | set(MATRIX) == set(SPECS)
    assert "derivations/seed_scalar.toml" in SCALAR and "derivations/seed_matrix.toml" in MATRIX
    assert any(n.startswith("sources/") for n in SCALAR) and any(n.startswith("sources/") for n in MATRIX)


@pytest.mark.parametrize("name", list(SPECS))
def test_what_each_query_returns(name):
    """SymPy for ``scalar_form`` and ``written``, and for a scalar network's ``gradient`` and
    ``expand``; IR everywhere else."""
    d = derivation(name)
    for label, e in expressions(name):
        sympy_expected = (d.is_scalar and label.startswith(("gradient(", "expand("))
                          or label.startswith("scalar_form(") or label.endswith(".written"))
        assert isinstance(e, sp.Basic if sympy_expected else O.Expr), (label, type(e))
    # a local derivative ∂c/∂v is given where both c and v are numbers (every step of a scalar
    # network; the regulariser's J_L2 -> J in a matrix one)
    for s in d.backward:
        for t in s.terms:
            scalar_step = s.shape == () and d.network.node(t.of).shape == ()
            assert (t.local is not None) == scalar_step, (s.node, t.of)
    written = [d.network.node(v).written for v in d.network.order if not d.network.node(v).is_leaf]
    assert all(w is not None for w in written) if d.is_scalar else all(w is None for w in written)


# ---- sp.latex() of every expression ------------------------------------------------------
def latex_problems(e) -> list[str]:
    """What is wrong with ``sp.latex(e)``: an exception, SymPy's fallback box, raw Unicode."""
    try:
        tex = sp.latex(e)
    except Exception as exc:  # noqa: BLE001 - reported with the object
        return [f"{type(exc).__name__}: {exc}"]
    problems = []
    if not tex:
        problems.append("empty")
    if r"\mathtt{\text{" in tex:
        problems.append(f"SymPy's fallback box: {tex!r}")
    if not tex.isascii():  # ∂, ⊙, ᵀ, ·, Σ, 𝟏, ‖ … belong to str(), not to LaTeX
        problems.append(f"raw Unicode: {tex!r}")
    return problems


@pytest.mark.parametrize("name", list(SPECS))
def test_sympy_latex_of_every_public_expression(name):
    failures = [f"{label}: {type(e).__name__}: {p}"
                for label, e in expressions(name) for p in latex_problems(e)]
    assert not failures, f"{name}:\n" + "\n".join(failures)


@pytest.mark.parametrize("name", list(SPECS))
def test_ir_prints_through_the_package_s_printers(name):
    """``sp.latex`` of each IR expression, and of each of its subtrees, is ``to_latex`` of it;
    ``_repr_latex_`` is that between dollars and ``str`` is ``to_text``."""
    wrong = []
    for label, e in expressions(name):
        if not isinstance(e, O.Expr):
            continue
        for node in O.walk(e):
            tex = sp.latex(node)
            if tex != to_latex(node):
                wrong.append(f"{label}: sp.latex {tex!r} != to_latex {to_latex(node)!r}")
            if node._repr_latex_() != f"${tex}$":
                wrong.append(f"{label}: _repr_latex_ {node._repr_latex_()!r}")
            if str(node) != to_text(node):
                wrong.append(f"{label}: str {str(node)!r} != to_text {to_text(node)!r}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("name", list(SPECS))
def test_ir_latex_has_the_textbook_notation(name):
    r"""Adjoints print as ``\frac{\partial L}{\partial v}``, the Hadamard product of matrices as
    ``\odot`` and a transpose as ``^{\top}``; their Unicode spellings never appear."""
    wrong = []
    d = derivation(name)
    loss = d.network.node(d.loss).latex  # the network's own loss: E, J, f, g or L
    for label, e in expressions(name):
        if not isinstance(e, O.Expr):
            continue
        tex = sp.latex(e)
        nodes = list(O.walk(e))
        for cls, needle in ((O.Adj, rf"\frac{{\partial {loss}}}{{\partial "), (O.Transpose, r"^{\top}")):
            if any(isinstance(n, cls) for n in nodes) and needle not in tex:
                wrong.append(f"{label}: {cls.__name__} without {needle!r}: {tex}")
        if any(isinstance(n, O.Hadamard) and n.shape != () for n in nodes) and r"\odot" not in tex:
            wrong.append(f"{label}: Hadamard product without \\odot: {tex}")
    assert not wrong, f"{name}:\n" + "\n".join(wrong)


def test_the_gradient_of_w_1_prints_as_a_fraction():
    d = derivation("derivations/seed_scalar.toml")
    assert sp.latex(d.gradient("w_1")) == r"\frac{\partial L}{\partial z_{1}} x"
    assert sp.latex(d.scalar_form(d.step("z_1").adjoint)) == (
        r"\frac{\partial L}{\partial a_{1}} a_{1} \left(1 - a_{1}\right)")
    assert sp.latex(d.step("z_1").adjoint) == r"\frac{\partial L}{\partial a_{1}} \sigma'\left(z_{1}\right)"
    assert sp.latex(d.step("z_2").terms[0].local) == r"\sigma'\left(z_{2}\right)"
    assert sp.latex(d.scalar_form(d.step("z_2").terms[0].local)) == r"a_{2} \left(1 - a_{2}\right)"
    assert sp.latex(d.textbook("z_2")) == r"2 \left(a_{2} - y\right) \sigma'\left(z_{2}\right)"
    assert sp.latex(d.forward[-1].expr) == r"\left(a_{2} - y\right)^{2}"
    assert sp.latex(d.network.node("z_2").written) == r"a_{1} w_{2} + b"
    assert r"\sigma\left(w_{1} x\right)" in sp.latex(d.expand("w_1", leaves=True))


def test_the_matrix_gradient_of_w_1_prints_as_the_textbook_writes_it():
    m = derivation("derivations/seed_matrix.toml")
    assert sp.latex(m.gradient("W_1")) == r"X^{\top} \frac{\partial L}{\partial Z_{1}}"
    assert str(m.gradient("W_1")) == "Xᵀ · ∂L/∂Z_1"
    assert m.gradient("W_1")._repr_latex_() == r"$X^{\top} \frac{\partial L}{\partial Z_{1}}$"
    assert sp.latex(m.gradient("b_1")) == r"\sum_{i=1}^{m} \frac{\partial L}{\partial Z_{1}}"
    assert sp.latex(m.step("Z_2").adjoint) == r"\frac{\partial L}{\partial A_{2}} \odot \sigma'\left(Z_{2}\right)"
    assert sp.latex(m.textbook("Z_2")) == r"\frac{2}{m} \left(A_{2} - Y\right) \odot \sigma'\left(Z_{2}\right)"
    assert sp.latex(m.expand("W_2")) == (
        r"A_{1}^{\top} \left(\frac{2}{m} \left(A_{2} - Y\right) \odot \sigma'\left(Z_{2}\right)\right)")
    assert sp.latex(m.expand("W_1", leaves=True)).startswith(r"X^{\top} \left(\left(\frac{2}{m} \left(")
    assert sp.latex(m.network.node("L").expr) == r"\frac{1}{m} \left\|A_{2} - Y\right\|^{2}"
    assert sp.latex(m.forward[0].expr) == r"X W_{1} + b_{1}"
    # containers of IR nodes print element by element
    assert sp.latex([m.gradient("W_1"), m.gradient("b_1")]) == (
        r"\left[ X^{\top} \frac{\partial L}{\partial Z_{1}}, \  "
        r"\sum_{i=1}^{m} \frac{\partial L}{\partial Z_{1}}\right]")


# ---- every IR class -----------------------------------------------------------------------
IR_CLASSES = sorted((c for c in vars(O).values()
                     if inspect.isclass(c) and issubclass(c, O.Expr) and c is not O.Expr
                     and not c.__name__.startswith("_")), key=lambda c: c.__name__)

_m = sp.Symbol("m")
_X, _W, _b = O.Var("X", ("m", "n")), O.Var("W_1", ("n", "k")), O.Var("b", ("k",))
_Z, _A, _Y = O.Var("Z", ("m", "k")), O.Var("A", ("m", "k")), O.Var("Y", ("m", "k"))
_a, _c = O.Var("a", ()), O.Var("c", ())

#: IR class name -> (node, its LaTeX): one example of each class, built by hand, so that a
#: class no spec uses (``VarPower``, ``Maximum``, ``Norm``, ``LogSoftmax`` …) is printed too
SAMPLES: dict[str, list[tuple[O.Expr, str]]] = {
    "Var": [(_X, "X"), (_W, "W_{1}")],
    "Adj": [(O.Adj("Z_1", ("m", "k")), r"\frac{\partial L}{\partial Z_{1}}")],
    "Scalar": [(O.Scalar(2 / _m), r"\frac{2}{m}")],
    "Add": [(O.Add(O.MatMul(_X, _W), _b), r"X W_{1} + b")],
    "Sub": [(O.Sub(_A, _Y), "A - Y")],
    "Scale": [(O.Scale(2 / _m, O.Sub(_A, _Y)), r"\frac{2}{m} \left(A - Y\right)"),
              (O.Scale(sp.Integer(-1), O.Add(_A, _Y)), r"-\left(A + Y\right)")],
    "Hadamard": [(O.Hadamard(O.Adj("A", ("m", "k")), O.Prime("sigmoid", _Z)),
                  r"\frac{\partial L}{\partial A} \odot \sigma'\left(Z\right)")],
    "Div": [(O.Div(_Y, _A), r"\frac{Y}{A}")],
    "PositiveDiv": [(O.PositiveDiv(_Y, _A), r"\frac{Y}{A}")],
    "MatMul": [(O.MatMul(O.Transpose(_X), O.Adj("Z", ("m", "k"))), r"X^{\top} \frac{\partial L}{\partial Z}")],
    "Transpose": [(O.Transpose(_W), r"W_{1}^{\top}"),
                  (O.Transpose(O.MatMul(_X, _W)), r"\left(X W_{1}\right)^{\top}")],
    "Apply": [(O.Apply("tanh", _Z), r"\tanh\left(Z\right)"), (O.Apply("sigmoid", _Z), r"\sigma\left(Z\right)"),
              (O.Apply("sqrt", _a), r"\sqrt{a}")],
    "Prime": [(O.Prime("relu", _Z), r"\operatorname{ReLU}'\left(Z\right)")],
    "Power": [(O.Power(_Z, sp.Integer(2)), r"Z \odot Z"), (O.Power(_Z, sp.Integer(4)), r"Z^{\odot 4}"),
              (O.Power(O.Sub(_a, _c), sp.Integer(2)), r"\left(a - c\right)^{2}")],
    "VarPower": [(O.VarPower(_a, _c), "a^{c}")],
    "Maximum": [(O.Maximum(_a, _c), r"\max\left(a, c\right)")],
    "Minimum": [(O.Minimum(_Z, O.Scalar(0)), r"\min\left(Z, 0\right)")],
    "Sum": [(O.Sum(_Z), r"\sum Z"), (O.Sum(_Z, (0,)), r"\sum_{i=1}^{m} Z"),
            (O.Sum(_Z, (1,)), r"\operatorname{rowsum}\left(Z\right)")],
    "Broadcast": [(O.Broadcast(O.Scalar(1), ("m", "k")), r"\mathbf{1}"),
                  (O.Broadcast(O.Scale(1 / _m, O.Adj("v", ())), ("m", "k")),
                   r"\frac{1}{m} \frac{\partial L}{\partial v} \mathbf{1}")],
    "FrobSq": [(O.FrobSq(O.Sub(_A, _Y)), r"\left\|A - Y\right\|^{2}")],
    "Norm": [(O.Norm(_Z), r"\left\|Z\right\|")],
    "Softmax": [(O.Softmax(_Z), r"\operatorname{softmax}\left(Z\right)")],
    "LogSoftmax": [(O.LogSoftmax(_Z), r"\ln\left(\operatorname{softmax}\left(Z\right)\right)")],
}


@lru_cache(maxsize=None)
def ir_instances() -> dict[str, list[tuple[str, O.Expr]]]:
    """IR class name -> (where, node) for every node of every IR expression of every spec."""
    found: dict[str, list] = {c.__name__: [] for c in IR_CLASSES}
    for name in SPECS:
        for label, e in expressions(name):
            if isinstance(e, O.Expr):
                for node in O.walk(e):
                    found[type(node).__name__].append((f"{name} {label}", node))
    return found


def test_every_ir_class_has_a_sample():
    assert {c.__name__ for c in IR_CLASSES} == set(SAMPLES)
    assert all(c._latex is O.Expr._latex and c._repr_latex_ is O.Expr._repr_latex_ for c in IR_CLASSES)


@pytest.mark.parametrize("cls", [c.__name__ for c in IR_CLASSES])
def test_sympy_latex_of_each_ir_class(cls):
    """Also the classes named like SymPy's (``Add``, ``MatMul``, ``Sum``, ``Transpose``), which
    SymPy's printer would otherwise send to its own ``_print_<name>``."""
    for node, expected in SAMPLES[cls]:
        assert type(node).__name__ == cls
        assert sp.latex(node) == expected == to_latex(node)
        assert node._repr_latex_() == f"${expected}$"
        assert not latex_problems(node)
    for where, node in ir_instances()[cls]:
        assert not latex_problems(node), (where, latex_problems(node))


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
@pytest.mark.parametrize("name", list(SPECS))
def test_ipython_formatters(name, capsys):
    d = derivation(name)
    data = formatted(d, capsys)
    assert data["text/markdown"] == d.to_markdown() == d._repr_markdown_()
    for label, e in expressions(name):
        data = formatted(e, capsys)
        assert "text/plain" in data, label
        if isinstance(e, sp.Basic):  # SymPy's own _repr_latex_
            assert data["text/latex"] == rf"$\displaystyle {sp.latex(e)}$", label
        else:  # an IR node shows as its LaTeX, not as its dataclass repr
            assert data["text/latex"] == f"${sp.latex(e)}$", label


# ---- gaps once known, now fixed -----------------------------------------------------------------------------
def test_ir_adjoints_name_the_loss():
    d = derivation("sources/d2l_backprop_l2_matrix.toml")
    assert d.loss == "J" and "L" in d.network
    assert sp.latex(d.step("o").adjoint) == r"\frac{\partial J}{\partial L} \odot \left(o - y\right)"


def test_sympy_adjoints_name_the_loss():
    d = derivation("derivations/mazur_2_2_2.toml")
    assert d.loss == "E"
    assert sp.latex(d.gradient("w_1")) == r"\frac{\partial E}{\partial z_{h1}} i_{1}"


def test_a_negative_factor_after_another_is_parenthesised():
    d = derivation("sources/ioffe_batchnorm_scalar.toml")
    tex = sp.latex(d.step("v_B").terms[0].expr)
    assert tex.startswith(r"-\frac{\partial \ell}{\partial \hat{x}_{1}} ")  # the sign in front
    assert not re.search(r"[^\s(\[{,]\s-\S", tex), tex


def test_numbers_are_never_juxtaposed():
    d = derivation("sources/ng_regularization_cost_scalar.toml")
    tex = sp.latex(d.step("W_1,1,1").terms[0].local)
    assert not re.search(r"(?<![\w^_{])\d+\s+(?:\d|\\frac\{\d)", tex), tex
