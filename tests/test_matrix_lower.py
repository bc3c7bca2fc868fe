"""The matrix dialect read back: lowering typed gradients, round trips, the NumPy printer."""
import numpy as np
import pytest

from symbackprop.errors import LatexSyntaxError, ShapeError
from symbackprop.reader.latex import parse
from symbackprop.backprop import backprop
from symbackprop.ir import evaluate
from symbackprop.reader.lower import lower
from symbackprop.printing.ir import to_latex
from symbackprop.codegen.printer import to_numpy
from symbackprop.generate_matrix import mlp
from symbackprop.codegen.printer import NumpyPrinter, python_identifier as python_name
from symbackprop.shapes import Sizes
from symbackprop.spec import spec_from_dict


def read(text: str, net):
    return lower(parse(text, set(net.shapes) | net.dims, allow_partial=True), net.shapes,
                 loss=net.loss, text=text)


@pytest.fixture(scope="module")
def article():
    spec = spec_from_dict(mlp([2, 4, 1], values=True))
    return spec, backprop(spec.network, spec.values)


def test_a_typed_gradient_lowers_to_the_derived_one(article):
    spec, d = article
    net = spec.network
    assert read(r"A_1^\top \frac{\partial L}{\partial Z_2}", net) == d.gradient("W_2")
    assert read(r"A_1^T \cdot \frac{\partial L}{\partial Z_2}", net) == d.gradient("W_2")
    assert read(r"\sum_{i=1}^{m} \frac{\partial L}{\partial Z_2}", net) == d.gradient("b_2")
    assert read(r"\frac{2}{m}(A_2 - Y) \odot \sigma'(Z_2)", net) == d.textbook("Z_2")
    assert read(r"\frac{2}{m}(A_2 - Y) \circ A_2 \odot (1 - A_2)", net).shape == ("m", "n_2")


def test_a_mis_ordered_product_is_a_shape_error(article):
    spec, _ = article
    with pytest.raises(ShapeError, match=r"n_2 ≠ n_1"):
        read(r"\frac{\partial L}{\partial Z_2} A_1^\top", spec.network)  # should be A_1ᵀ ∂L/∂Z_2
    with pytest.raises(LatexSyntaxError, match="unknown symbol 'V'"):
        read(r"V \frac{\partial L}{\partial Z_2}", spec.network)


def test_claims_evaluate_at_random_shapes():
    """What a claim verifier does: bind the dimensions to random sizes and compare numbers."""
    spec = spec_from_dict(mlp([2, 4, 1]))
    net = spec.network
    rng = np.random.default_rng(5)
    for trial in range(3):
        sizes = [int(s) for s in rng.integers(2, 6, size=3)]
        vals = {k: np.asarray(v) for k, v in mlp(sizes, values=True, batch=int(rng.integers(2, 7)),
                                                   seed=trial)["values"].items()}
        d = backprop(net, vals)
        claim = read(r"A_1^\top \frac{\partial L}{\partial Z_2}", net)
        np.testing.assert_allclose(evaluate(claim, d.values, d.adjoints, d.sizes), d.gradient_value("W_2"))
        wrong = read(r"A_1^\top \frac{\partial L}{\partial A_2}", net)  # a missing σ' factor
        assert not np.allclose(evaluate(wrong, d.values, d.adjoints, d.sizes), d.gradient_value("W_2"))


@pytest.mark.parametrize("loss", ["mse", "bce", "softmax_ce"])
def test_every_printed_step_reads_back_to_the_same_numbers(loss):
    spec = spec_from_dict(mlp([3, 4, 3], "tanh", loss, values=True, seed=4))
    d = backprop(spec.network, spec.values)
    for step in d.backward:
        for form in (step.adjoint, step.textbook, d.expand(step.node),
                     d.expand(step.node, leaves=True)):
            back = read(to_latex(form), spec.network)
            assert back.shape == form.shape
            np.testing.assert_allclose(evaluate(back, d.values, d.adjoints, d.sizes),
                                       evaluate(form, d.values, d.adjoints, d.sizes), rtol=1e-12)


@pytest.mark.parametrize("loss", ["mse", "bce", "softmax_ce"])
def test_numpy_printer_computes_what_evaluate_computes(loss):
    spec = spec_from_dict(mlp([3, 4, 3], "relu", loss, values=True, seed=8))
    d = backprop(spec.network, spec.values)
    namespace = {"np": np}
    namespace.update({python_name(k): v for k, v in d.values.items()})
    namespace.update({"d" + python_name(k): v for k, v in d.adjoints.items()})
    namespace.update(d.sizes)
    net = spec.network
    printer = NumpyPrinter()
    codes = [(printer.doprint(net.node(n).expr), d.values[n]) for n in net.order
             if not net.node(n).is_leaf]
    codes += [(printer.doprint(s.adjoint), d.adjoints[s.node]) for s in d.backward]
    exec(printer.helper_code(), namespace)
    for code, value in codes:
        np.testing.assert_allclose(eval(code, namespace), value, rtol=1e-12, err_msg=code)
    assert to_numpy(net.node("Z_1").expr) == "X @ W_1 + b_1"
    assert to_numpy(d.gradient("b_1")) == "dZ_1.sum(axis=0)"


def test_sizes_bind_once_and_report_their_source():
    s = Sizes()
    s.bind("X", ("m", "n"), (4, 2))
    with pytest.raises(ShapeError, match=r"values of 'W' have shape 3×1, but its shape is declared "
                                         r"n×k and n = 2 \(from 'X'\)"):
        s.bind("W", ("n", "k"), (3, 1))
