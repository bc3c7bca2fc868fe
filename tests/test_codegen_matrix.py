"""The exported matrix-form module: right numbers for any sizes, good code, stability, no SymPy."""
import ast
import threading
import warnings

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import load_spec
from symbackprop.check import (autograd_gradient, central_differences,
                               random_point, max_relative_error)
from symbackprop.cli import main
from symbackprop.codegen.module import module_source
from symbackprop.codegen.printer import GradientPrinter
from symbackprop.network import Network
from symbackprop.reader.forward import network_from_latex
from symbackprop.backprop import gradient_function
from symbackprop.codegen.printer import to_numpy
from symbackprop.backprop import backprop as matrix_backprop
from symbackprop import ir as O
from symbackprop.codegen.module import module_source as matrix_module_source
from symbackprop.generate_matrix import mlp
from symbackprop.spec import spec_from_dict, spec_from_toml

from conftest import DERIVATIONS
from helpers import export, import_file, run_without_sympy


def matrix_specs():
    out = []
    for path in sorted(DERIVATIONS.glob("*.toml")):
        try:
            spec = load_spec(path)
        except sb.SymbackpropError:
            continue
        if not spec.network.is_scalar:
            out.append(path)
    return out


MATRIX_SPECS = matrix_specs()


def compiled(net, inplace=True):
    namespace = {}
    exec(compile(matrix_module_source(matrix_backprop(net), inplace=inplace), "<grads>", "exec"),
         namespace)
    return namespace["loss_and_grad"]


def test_the_specs_are_found():
    assert {p.stem for p in MATRIX_SPECS} >= {"seed_matrix", "matrix_bce_xor", "matrix_softmax"}


# ---- the numbers ------------------------------------------------------------------
def points(spec, seeds=(1, 2)):
    """At the spec's values (when it has them), then at random sizes."""
    net = spec.network
    if spec.values:
        yield "spec values", random_point(net, given=spec.values)
    for seed in seeds:
        yield f"random sizes {seed}", random_point(net, seed=seed)


@pytest.mark.parametrize("path", MATRIX_SPECS, ids=lambda p: p.stem)
def test_exported_module_agrees_with_central_differences_and_autograd(path, tmp_path):
    spec = load_spec(path)
    net = spec.network
    module = import_file(export(path, tmp_path), f"grads_{path.stem}")
    assert module.PARAMS == tuple(net.params)
    assert set(module.PARAMS + module.INPUTS) == {n for n in net.order if net.node(n).is_leaf}
    for where, (point, _, sizes) in points(spec):
        loss, grads = module.loss_and_grad(**point)
        reference_loss, _ = gradient_function(net)(**point)
        assert loss == pytest.approx(reference_loss, rel=1e-12), where
        numeric = central_differences(net, point, sizes, 1e-6, np.longdouble)
        oracle = autograd_gradient(net, point, sizes)
        for p in net.params:
            assert grads[p].shape == np.shape(point[p]), (where, p)  # a bias gets a 1-D gradient
            assert max_relative_error(grads[p], numeric[p]) <= 1e-7, (where, p)
            assert max_relative_error(grads[p], oracle[p]) <= 1e-12, (where, p)


ACTIVATIONS_AND_LOSSES = [(a, loss) for a in ("sigmoid", "tanh", "relu")
                          for loss in ("mse", "bce", "softmax_ce")]


@pytest.mark.parametrize("activation,loss", ACTIVATIONS_AND_LOSSES)
@pytest.mark.parametrize("inplace", [True, False], ids=["in place", "expressions"])
def test_deeper_networks_of_every_kind_agree_with_autograd(activation, loss, inplace):
    spec = spec_from_dict(mlp([3, 5, 4, 2], activation, loss))
    f = compiled(spec.network, inplace)
    for seed in range(3):
        point, _, sizes = random_point(spec.network, seed=seed)
        _, grads = f(**point)
        oracle = autograd_gradient(spec.network, point, sizes)
        for p in spec.network.params:
            assert max_relative_error(grads[p], oracle[p]) <= 1e-12, (seed, p)


def test_one_function_serves_every_batch_and_layer_size(derivations):
    net = load_spec(derivations / "seed_matrix.toml").network
    f = net_f = matrix_backprop(net).compile()
    reference = gradient_function(net)
    first = None
    for batch, n_in, n_1, n_2 in [(1, 2, 4, 1), (7, 3, 5, 2), (1, 2, 4, 1), (300, 8, 16, 3), (7, 3, 5, 2)]:
        rng = np.random.default_rng(batch + n_1)
        arrays = {"X": rng.normal(size=(batch, n_in)), "Y": rng.uniform(size=(batch, n_2)),
                  "W_1": rng.normal(size=(n_in, n_1)), "b_1": rng.normal(size=n_1),
                  "W_2": rng.normal(size=(n_1, n_2)), "b_2": rng.normal(size=n_2)}
        loss, grads = f(**arrays)
        ref_loss, ref = reference(**arrays)
        assert loss == pytest.approx(ref_loss, rel=1e-13)
        for p in net.params:
            np.testing.assert_allclose(grads[p], ref[p], rtol=1e-12, atol=1e-15)
        if first is None:
            first = (arrays, {p: g.copy() for p, g in grads.items()}, grads)
    # results are fresh arrays: later calls (reusing work arrays) leave them alone
    arrays, saved, returned = first
    for p in net.params:
        np.testing.assert_array_equal(returned[p], saved[p])
    assert net_f is f


def test_lists_and_integers_are_accepted(derivations):
    spec = load_spec(derivations / "seed_matrix.toml")
    d = matrix_backprop(spec.network, spec.values)
    loss, grads = d.compile()(**spec.values)  # nested lists, integer entries
    assert loss == pytest.approx(d.loss_value, rel=1e-14)
    for p in d.params:
        np.testing.assert_allclose(grads[p], d.gradient_value(p), rtol=1e-13)


def test_the_api_other_parts_use(derivations):
    spec = load_spec(derivations / "matrix_bce_xor.toml")
    f = sb.backprop(spec.network, spec.values).compile()
    loss, grads = f(**spec.values)
    assert f.params == ("W_1", "b_1", "W_2", "b_2") and f.inputs == ("X", "Y")
    assert "def loss_and_grad" in f.source
    assert set(grads) == set(f.params) and grads["b_2"].shape == (1,)


def test_shapes_that_do_not_fit_are_named(derivations):
    spec = load_spec(derivations / "seed_matrix.toml")
    f = matrix_backprop(spec.network).compile()
    values = dict(spec.values)
    values["b_1"] = [0.0, 0.0, 0.0]  # n_1 is 4 (from W_1)
    with pytest.raises(ValueError, match=r"b_1 has shape \(3,\); expected \('n_1',\) with n_1 = 4"):
        f(**values)
    values = dict(spec.values, X=[1.0, 2.0])
    with pytest.raises(ValueError, match="X has shape"):
        f(**values)


def test_a_parameter_the_loss_ignores_gets_zeros_of_its_shape():
    net = network_from_latex("Z = X W\nU = X V\nL = \\sum Z", params=["W", "V"],
                             shapes={"X": ["m", "n"], "W": ["n", "k"], "V": ["n", 3]}, loss="L")
    _, grads = matrix_backprop(net).compile()(X=np.ones((2, 4)), W=np.ones((4, 5)), V=np.ones((4, 3)))
    assert grads["V"].shape == (4, 3) and not grads["V"].any()
    assert grads["W"].tolist() == [[2.0] * 5] * 4


def test_a_gradient_that_is_an_adjoint_itself_is_a_copy():
    # ∂L/∂B = ∂L/∂Z: the returned array must not be a work array of the module
    net = network_from_latex("Z = X W + B\nA = \\tanh(Z)\nL = \\|A\\|^2", params=["W", "B"],
                             shapes={"X": ["m", "n"], "W": ["n", "k"], "B": ["m", "k"]})
    f = matrix_backprop(net).compile()
    rng = np.random.default_rng(0)
    arrays = {"X": rng.normal(size=(3, 2)), "W": rng.normal(size=(2, 4)), "B": rng.normal(size=(3, 4))}
    _, first = f(**arrays)
    saved = first["B"].copy()
    f(**{k: v * 2 for k, v in arrays.items()})
    np.testing.assert_array_equal(first["B"], saved)


def test_calls_from_threads_do_not_share_work_arrays(derivations):
    net = load_spec(derivations / "seed_matrix.toml").network
    f = matrix_backprop(net).compile()
    rng = np.random.default_rng(3)
    cases = []
    for k in range(4):
        arrays = {"X": rng.normal(size=(64, 2)), "Y": rng.uniform(size=(64, 1)),
                  "W_1": rng.normal(size=(2, 4)), "b_1": rng.normal(size=4),
                  "W_2": rng.normal(size=(4, 1)), "b_2": rng.normal(size=1)}
        cases.append((arrays, f(**arrays)[1]))
    failures = []

    def run(arrays, expected):
        for _ in range(200):
            grads = f(**arrays)[1]
            if not all(np.array_equal(grads[p], expected[p]) for p in expected):
                failures.append(1)

    threads = [threading.Thread(target=run, args=case) for case in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


# ---- stability ------------------------------------------------------------------------
@pytest.mark.parametrize("path", MATRIX_SPECS, ids=lambda p: p.stem)
@pytest.mark.parametrize("z", [1000.0, -1000.0])
@pytest.mark.parametrize("inplace", [True, False], ids=["in place", "expressions"])
def test_saturated_activations_are_finite_and_silent(path, z, inplace):
    """Pre-activations of ±1000 (σ, tanh and softmax saturated): finite, and no warning."""
    net = load_spec(path).network
    point, _, sizes = random_point(net, seed=4)
    point = {k: v * (z if k.startswith("b") else 1.0) for k, v in point.items()}
    point = {k: (np.abs(v) if k == "Y" else v) for k, v in point.items()}
    f = compiled(net, inplace)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss, grads = f(**point)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


def test_saturated_binary_cross_entropy_has_the_exact_gradient(derivations):
    # σ(Z_2) has rounded to 0 or 1: the loss is softplus terms, ∂L/∂Z_2 = (A_2 − Y)/m
    spec = load_spec(derivations / "matrix_bce_xor.toml")
    f = matrix_backprop(spec.network).compile()
    values = dict(spec.values, b_2=[1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grads = f(**values)
    y = np.asarray(spec.values["Y"], dtype=float)
    assert loss == pytest.approx(np.mean(1000.0 * (1 - y[:, 0])), rel=1e-3)
    assert grads["b_2"][0] == pytest.approx(np.mean(1 - y), rel=1e-12)


def test_softmax_cross_entropy_is_exact_for_any_targets():
    spec = spec_from_dict(mlp([3, 4, 3], "relu", "softmax_ce"))
    point, _, sizes = random_point(spec.network, seed=5)
    point["Y"] = np.abs(point["Y"])  # rows not summing to 1: the (P − Y)/m shortcut would be wrong
    _, grads = matrix_backprop(spec.network).compile()(**point)
    oracle = autograd_gradient(spec.network, point, sizes)
    for p in spec.network.params:
        assert max_relative_error(grads[p], oracle[p]) <= 1e-12


# ---- the module itself ----------------------------------------------------------------
def test_exported_file_runs_without_sympy(derivations, tmp_path):
    out = export(derivations / "seed_matrix.toml", tmp_path)
    spec = load_spec(derivations / "seed_matrix.toml")
    d = matrix_backprop(spec.network, spec.values)
    loss, grads = run_without_sympy(out, spec.values)
    assert loss == pytest.approx(d.loss_value, rel=1e-14)
    for p in d.params:
        np.testing.assert_allclose(grads[p], d.gradient_value(p), rtol=1e-13)
    tree = ast.parse(out.read_text())
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [a.name for n in imports for a in n.names] == ["numpy"]


def body(source):
    return source.split("def loss_and_grad")[1]


def test_the_code_is_the_articles_formulas(derivations):
    net = load_spec(derivations / "seed_matrix.toml").network
    d = matrix_backprop(net)
    plain = body(matrix_module_source(d, inplace=False))
    for line in ["Z_1 = X @ W_1 + b_1", "A_1 = _sigmoid(Z_1)", "dW_2 = A_1.T @ dZ_2",
                 "db_2 = dZ_2.sum(axis=0)", "dA_1 = dZ_2 @ W_2.T", "dZ_1 = dA_1 * (A_1 * (1.0 - A_1))",
                 "dW_1 = X.T @ dZ_1", "db_1 = dZ_1.sum(axis=0)"]:
        assert f"    {line}\n" in plain, line
    source = matrix_module_source(d)
    fast = body(source)
    # σ computed once per layer, σ' from the stored activation; biases by broadcasting
    assert fast.count("_sigmoid(") == 2
    assert "np.subtract(1.0, A_2, out=" in fast and "np.subtract(1.0, A_1, out=" in fast
    assert "np.add(u0, b_1, out=" in fast and "ones((" not in source and ".dot(" not in source
    assert fast.count("np.subtract(A_2, Y") == 1  # shared by the loss and ∂L/∂A_2
    assert "np.vdot(" in fast  # ‖A_2 − Y‖² without a temporary
    assert "dW_1 = X.T @ dZ_1" in fast and "db_1 = _sum_rows(dZ_1)" in fast  # fresh outputs
    # the docstring states the article's six formulas, with shapes
    doc = ast.get_docstring(ast.parse(source))
    for formula in ["∂L/∂Z_2 = (2/m)(A_2 - Y) ⊙ σ′(Z_2)  ∈ ℝ^(m×n_2)",
                    "∂L/∂W_2 = A_1ᵀ · ∂L/∂Z_2  ∈ ℝ^(n_1×n_2)", "∂L/∂b_2 = Σ_(i=1..m) ∂L/∂Z_2  ∈ ℝ^(n_2)",
                    "∂L/∂A_1 = ∂L/∂Z_2 · W_2ᵀ  ∈ ℝ^(m×n_1)", "∂L/∂Z_1 = ∂L/∂A_1 ⊙ σ′(Z_1)  ∈ ℝ^(m×n_1)",
                    "∂L/∂W_1 = Xᵀ · ∂L/∂Z_1  ∈ ℝ^(n_in×n_1)"]:
        assert formula in doc, formula


def test_only_what_the_gradients_need_is_computed(derivations):
    # the fused sigmoid + cross-entropy rule: ∂L/∂A_2 (a division by A_2) is not computed
    source = body(module_source(matrix_backprop(load_spec(derivations / "matrix_bce_xor.toml").network)))
    assert "dA_2" not in source and "dX" not in source
    assert "_softplus(" in source and "np.log(" not in source  # ln σ(Z_2) as a softplus


def test_in_place_code_needs_few_work_arrays(derivations):
    source = matrix_module_source(matrix_backprop(load_spec(derivations / "seed_matrix.toml").network))
    work = source.split("def _work_arrays")[1].split("\n\n")[0]
    assert work.count("np.empty((rows, n_1))") == 2 and work.count("np.empty((rows, n_2))") == 2


def test_export_to_stdout(derivations, capsys):
    assert main(["export", str(derivations / "matrix_softmax.toml")]) == 0
    out = capsys.readouterr().out
    assert "def loss_and_grad(*, W_1, b_1, W_2, b_2, X, Y):" in out
    assert "_log_softmax(Z_2" in out  # ln softmax, finite where softmax underflows
    assert "SHAPES = {" in out


ODD_NAMES = r"""
forward = '''
Z = X W_{1} + \beta
\hat{Y} = \sigma(Z)
L = \frac{1}{m}\|\hat{Y} - Y\|^2
'''
params = ["W_{1}", "\\beta"]
[shapes]
X = ["m", "n"]
W_1 = ["n", "k"]
"\\beta" = ["k"]
Y = ["m", "k"]
"""


def test_names_that_are_not_identifiers():
    spec = spec_from_toml(ODD_NAMES)
    f = matrix_backprop(spec.network).compile()
    rng = np.random.default_rng(0)
    arrays = {"X": rng.normal(size=(3, 2)), "W_1": rng.normal(size=(2, 4)), "\\beta": rng.normal(size=4),
              "Y": rng.uniform(size=(3, 4))}
    loss, grads = f(**arrays)
    assert set(grads) == {"W_1", "\\beta"} and grads["\\beta"].shape == (4,)
    ref_loss, ref = gradient_function(spec.network)(**arrays)
    np.testing.assert_allclose(grads["\\beta"], ref["\\beta"], rtol=1e-13)
    assert "Y_hat = _sigmoid(Z" in f.source


# ---- the printer --------------------------------------------------------------------
def test_the_code_printer_prints_the_matrix_ir():
    A, B, C = (O.Var(n, ("m", "n")) for n in "ABC")
    W = O.Var("W", ("n", "n"))
    assert to_numpy(O.Sub(A, O.Sub(B, C))) == "A - (B - C)"
    assert to_numpy(O.Hadamard(A, O.MatMul(B, W))) == "A * (B @ W)"
    assert to_numpy(O.Hadamard(O.MatMul(B, W), A)) == "B @ W * A"
    assert to_numpy(O.Scale(sp.Integer(-1), O.Add(A, B))) == "-(A + B)"
    assert to_numpy(O.Scale(2 / sp.Symbol("m", positive=True), A)) == "2/m*A"
    assert to_numpy(O.Power(O.Sub(A, B), sp.Integer(2))) == "(A - B)**2"
    assert to_numpy(O.Sub(O.Scalar(1), A)) == "1.0 - A"
    assert to_numpy(O.Transpose(O.Add(A, B))) == "(A + B).T"
    assert to_numpy(O.Sum(A, (0,))) == "A.sum(axis=0)"
    assert to_numpy(O.Prime("tanh", O.Add(A, B))) == "1 - np.tanh(A + B)**2"
    assert to_numpy(O.Apply("sigmoid", A)) == "_sigmoid(A)"
    p = GradientPrinter({"identifiers": {"A": "A", "B": "B"}})
    assert p.code(O.Hadamard(A, B), out="w0") == "np.multiply(A, B, out=w0)"
    assert p.code(O.Apply("tanh", A), out="w0") == "np.tanh(A, out=w0)"
    assert p.code(O.Apply("sigmoid", A), out="w0") == "_sigmoid(A, out=w0)"
    assert p.code(O.Scale(sp.Integer(-1), A), out="w0") == "np.negative(A, out=w0)"
    jax = GradientPrinter({"backend": "jax", "identifiers": {"A": "A"}})
    assert jax.code(O.Apply("tanh", A)) == "jnp.tanh(A)" and not jax.writes_into(O.Apply("tanh", A))


# ---- JAX ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", MATRIX_SPECS, ids=lambda p: p.stem)
def test_jax_backend_gives_the_same_numbers_under_jit(path, tmp_path):
    jax = pytest.importorskip("jax")
    enable_x64 = jax.enable_x64 if hasattr(jax, "enable_x64") else jax.experimental.enable_x64

    spec = load_spec(path)
    module = import_file(export(path, tmp_path, "jax"), f"grads_jax_{path.stem}")
    source = (tmp_path / f"grads_jax_{path.stem}.py").read_text()
    assert "out=" not in source and "import jax.numpy as jnp" in source
    point, _, _ = random_point(spec.network, seed=3, given=spec.values)
    loss, grads = matrix_backprop(spec.network).compile()(**point)
    with enable_x64(True):
        arrays = {k: jax.numpy.asarray(v, dtype=jax.numpy.float64) for k, v in point.items()}
        jax_loss, jax_grads = jax.jit(module.loss_and_grad)(**arrays)
        assert float(jax_loss) == pytest.approx(float(loss), rel=1e-12)
        for p in spec.network.params:
            assert jax_grads[p].shape == grads[p].shape
            np.testing.assert_allclose(np.asarray(jax_grads[p]), grads[p], rtol=1e-10, atol=1e-14)


# ---- a large batch in blocks of rows ------------------------------------------------------
@pytest.mark.parametrize("activation,loss", ACTIVATIONS_AND_LOSSES)
def test_a_large_batch_in_blocks_of_rows_gives_the_same_numbers(activation, loss):
    spec = spec_from_dict(mlp([3, 300, 2], activation, loss, values=True))
    source = matrix_module_source(matrix_backprop(spec.network))
    assert "def _loss_and_grad_of_rows(" in source  # 300 wide: blocks of 256 rows
    namespace = {}
    exec(source, namespace)
    f = namespace["loss_and_grad"]
    point, _, sizes = random_point(spec.network, seed=6, given=spec.values)
    rng = np.random.default_rng(6)
    for batch in (256, 257, 1000):  # one block; a block and a row; four blocks, the last short
        arrays = dict(point, X=rng.normal(size=(batch, point["X"].shape[1])),
                      Y=rng.uniform(0.1, 0.9, size=(batch, point["Y"].shape[1])))
        loss_value, grads = f(**arrays)
        ref_loss, ref = gradient_function(spec.network)(**arrays)
        assert loss_value == pytest.approx(ref_loss, rel=1e-12)
        for p in spec.network.params:
            np.testing.assert_allclose(grads[p], ref[p], rtol=1e-11, atol=1e-14 * np.abs(ref[p]).max())


@pytest.mark.parametrize("loss,split", [
    (r"\frac{1}{m}\|A - Y\|^2", True),
    (r"\|A - Y\|", False),  # a norm is not a sum over rows
    (r"\frac{1}{m}\|A - Y\|^2 + \|W\|^2", False),  # a term without the rows: once, not per block
])
def test_blocks_only_when_the_loss_is_a_sum_over_rows(loss, split):
    net = network_from_latex(f"Z = X W + b\nA = \\tanh(Z)\nL = {loss}", params=["W", "b"],
                             shapes={"X": ["m", "n"], "W": ["n", "k"], "b": ["k"], "Y": ["m", "k"]})
    source = matrix_module_source(matrix_backprop(net))
    assert ("_loss_and_grad_of_rows" in source) == split
    namespace = {}
    exec(source, namespace)
    rng = np.random.default_rng(1)
    arrays = {"X": rng.normal(size=(2000, 3)), "W": rng.normal(size=(3, 300)),
              "b": rng.normal(size=300), "Y": rng.normal(size=(2000, 300))}
    loss_value, grads = namespace["loss_and_grad"](**arrays)
    ref_loss, ref = gradient_function(net)(**arrays)
    assert loss_value == pytest.approx(ref_loss, rel=1e-12)
    for p in ("W", "b"):
        np.testing.assert_allclose(grads[p], ref[p], rtol=1e-11)


def test_the_block_loop_names_do_not_hide_arguments():
    net = network_from_latex("Z = p W + start\nA = \\tanh(Z)\nL = \\frac{1}{m}\\|A - grads\\|^2",
                             params=["W", "start"], shapes={"p": ["m", "n"], "W": ["n", "k"],
                                                            "start": ["k"], "grads": ["m", "k"]})
    f = matrix_backprop(net).compile()
    rng = np.random.default_rng(2)
    arrays = {"p": rng.normal(size=(700, 2)), "W": rng.normal(size=(2, 300)),
              "start": rng.normal(size=300), "grads": rng.normal(size=(700, 300))}
    _, grads = f(**arrays)
    _, ref = gradient_function(net)(**arrays)
    for name in ("W", "start"):
        np.testing.assert_allclose(grads[name], ref[name], rtol=1e-11)


def test_a_value_of_the_whole_batchs_shape_keeps_the_batch_whole():
    # ∂L/∂A = 𝟏 (m×k) for L = Σ A: written for the whole batch, so no blocks
    net = network_from_latex("Z = X W\nA = \\tanh(Z)\nL = \\sum A", params=["W"],
                             shapes={"X": ["m", "n"], "W": ["n", "k"]})
    source = matrix_module_source(matrix_backprop(net))
    assert "_loss_and_grad_of_rows" not in source
    namespace = {}
    exec(source, namespace)
    rng = np.random.default_rng(3)
    arrays = {"X": rng.normal(size=(3000, 2)), "W": rng.normal(size=(2, 300))}
    _, grads = namespace["loss_and_grad"](**arrays)
    np.testing.assert_allclose(grads["W"], gradient_function(net)(**arrays)[1]["W"], rtol=1e-11)


def test_gelu_needs_erf_and_says_so():
    net = network_from_latex("Z = X W\nA = \\mathrm{GELU}(Z)\nL = \\sum A \\odot A", params=["W"],
                             shapes={"X": ["m", "n"], "W": ["n", "k"]})
    source = matrix_module_source(matrix_backprop(net))
    assert "needs numpy and scipy.special.erf" in source and "from scipy.special import erf" in source
    namespace = {}
    exec(source, namespace)
    point, _, sizes = random_point(net, seed=1)
    _, grads = namespace["loss_and_grad"](**point)
    assert max_relative_error(grads["W"], autograd_gradient(net, point, sizes)["W"]) <= 1e-12


def test_row_sums_by_blas_equal_numpy_sums():
    """The fast module's _sum_rows (ones @ x) is Σ over the rows, narrow or wide, small or large."""
    namespace = {"np": np}
    from symbackprop.codegen.printer import helper_source
    exec(compile(helper_source({"_sum_rows"}), "<helpers>", "exec"), namespace)
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (4, 3), (300, 7), (5000, 256), (4097, 300)]:
        x = rng.normal(size=shape)
        assert np.allclose(namespace["_sum_rows"](x), x.sum(axis=0), rtol=1e-12, atol=1e-12)
