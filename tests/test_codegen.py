"""The exported gradient module: right numbers, broadcasting, stability, no SymPy at run time."""
import ast
import random
import warnings

import numpy as np
import pytest
import sympy as sp

from symbackprop import backprop, load_spec
from symbackprop.check import autograd_gradient, random_point
from symbackprop.cli import main
from symbackprop.codegen.module import module_source
from symbackprop.codegen.printer import GradientPrinter, python_identifier
from symbackprop.derivation import AdjointSymbol
from symbackprop.errors import SymbackpropError
from symbackprop.network import Network
from symbackprop.network import Network
from symbackprop.reader.forward import network_from_latex
from symbackprop.spec import spec_from_toml

from conftest import DERIVATIONS
from helpers import central_difference, export, forward_loss, import_file, rel_err, run_without_sympy

#: the scalar specs (matrix specs are exported in tests/test_codegen_matrix.py)
SPECS = [p for p in sorted(DERIVATIONS.glob("*.toml"))
         if load_spec(p).network.is_scalar]

ZOO = r"""
z = w x + b
p = \mathrm{LeakyReLU}(z) + \mathrm{ELU}(z) + \tanh(z) + \mathrm{GELU}(z)
q = \exp(-v^2) + \log(1 + v^2) + \sqrt{1 + v^2} + \max(z, v) + \min(z, 0) + |v|
L = p q + \mathrm{ReLU}(v) + \mathrm{softplus}(z)
"""

ODD_NAMES = r"""
title = "Odd names"
forward = '''
z = w_{1,2} x + \lambda
\hat{y} = \sigma(z)
L = (\hat{y} - y)^2
'''
params = ["w_{1,2}", "\\lambda"]
"""


# ---- the numbers --------------------------------------------------------------
@pytest.mark.parametrize("where", ["spec values", "random values"])
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_exported_module_agrees_with_central_differences_and_autograd(path, where, tmp_path):
    spec = load_spec(path)
    net = spec.network
    module = import_file(export(path, tmp_path))
    given = spec.values if where == "spec values" else None
    point, _, _ = random_point(net, seed=7, given=given)

    loss, grads = module.loss_and_grad(**point)
    assert module.PARAMS == tuple(net.params)
    assert set(module.PARAMS + module.INPUTS) == set(point)
    assert rel_err(float(loss), forward_loss(net, point)) <= 1e-12
    oracle = autograd_gradient(net, point, {})
    for p in net.params:
        g = float(grads[p])
        assert rel_err(g, central_difference(net, point, p)) <= 1e-7, p
        assert rel_err(g, oracle[p]) <= 1e-12, p


def test_every_printed_function_agrees_with_autograd():
    net = network_from_latex(ZOO, params=["w", "b", "v"])
    f = backprop(net).compile()
    for seed in range(5):
        point, _, _ = random_point(net, seed=seed)
        _, grads = f(**point)
        oracle = autograd_gradient(net, point, {})
        for p in net.params:
            assert rel_err(float(grads[p]), oracle[p]) <= 1e-12, (seed, p)
            assert rel_err(float(grads[p]), central_difference(net, point, p)) <= 1e-7, (seed, p)


RANDOM_OPS = [
    "{a} {b}", "{a} + {b}", "{a} - {b}", r"\sigma({a})", r"\tanh({a} {b})", "({a} - {b})^2",
    r"\mathrm{{softplus}}({a}) {b}", r"\exp({a}) + {b}", r"{a} \sigma({b}) + {a} {b}",
    r"\log(\sigma({a}))", r"\mathrm{{ReLU}}({a} - {b})", r"\frac{{{a}}}{{1 + {b}^2}}",
]


def random_network(seed: int):
    """A small random graph: nodes reused, some unused by the loss, shared subexpressions."""
    rng = random.Random(seed)
    names, lines = ["w_1", "w_2", "w_3", "x"], []
    for k in range(rng.randint(2, 7)):
        a, b = rng.choice(names), rng.choice(names)
        lines.append(f"n_{k} = " + rng.choice(RANDOM_OPS).format(a=a, b=b))
        names.append(f"n_{k}")
    terms = rng.sample(names[4:], min(2, len(names) - 4)) + ["w_1 w_2 w_3"]
    lines.append("L = " + " + ".join(terms))
    return network_from_latex("\n".join(lines), params=["w_1", "w_2", "w_3"])


@pytest.mark.parametrize("seed", range(40))
def test_random_networks_agree_with_autograd(seed):
    net = random_network(seed)
    point, _, _ = random_point(net, seed=seed)
    _, grads = backprop(net).compile()(**point)
    oracle = autograd_gradient(net, point, {})
    for p in net.params:
        assert rel_err(float(grads[p]), oracle[p]) <= 1e-11, p


def test_a_node_the_loss_does_not_use_is_neither_named_nor_needed():
    # ∂L/∂w_2 = w_1 w_3 is not written n_2, a node the loss itself never uses
    net = network_from_latex("n_2 = w_1 w_3\nL = w_1 w_2 w_3", params=["w_1", "w_2", "w_3"], loss="L")
    d = backprop(net)
    assert "n_2" not in str(d.gradient("w_2"))
    _, grads = d.compile()(w_1=2.0, w_2=3.0, w_3=5.0)
    assert float(grads["w_2"]) == 10.0


def test_compile_agrees_with_the_worked_solution(derivations):
    spec = load_spec(derivations / "seed_scalar.toml")
    d = backprop(spec.network, spec.values)
    loss, grads = d.compile()(**spec.values)
    assert float(loss) == pytest.approx(d.loss_value, rel=1e-14)
    for p in d.params:
        assert float(grads[p]) == pytest.approx(d.gradient_value(p), rel=1e-13)
    assert float(grads["w_1"]) == pytest.approx(0.116455, abs=1e-6)  # the article's figure


# ---- broadcasting ----------------------------------------------------------------
def test_one_call_evaluates_many_points(derivations):
    net = load_spec(derivations / "mazur_2_2_2.toml").network
    f = backprop(net).compile()
    points = [random_point(net, seed=k)[0] for k in range(6)]
    arrays = {n: np.array([p[n] for p in points]) for n in points[0]}
    loss, grads = f(**arrays)
    assert loss.shape == (6,) and all(g.shape == (6,) for g in grads.values())
    for k, point in enumerate(points):
        loss_k, grads_k = f(**point)
        assert loss[k] == pytest.approx(float(loss_k), rel=1e-15)
        for p in net.params:
            assert grads[p][k] == pytest.approx(float(grads_k[p]), rel=1e-15)


def test_scalar_parameters_broadcast_over_a_grid_of_inputs(derivations):
    spec = load_spec(derivations / "seed_scalar.toml")
    f = backprop(spec.network).compile()
    x = np.linspace(-2, 2, 5)[:, None]  # (5, 1)
    y = np.array([0.0, 0.5, 1.0])  # (3,)
    loss, grads = f(w_1=0.5, w_2=-1.0, b=0.0, x=x, y=y)
    assert loss.shape == (5, 3)
    assert all(g.shape == (5, 3) for g in grads.values())
    _, one = f(w_1=0.5, w_2=-1.0, b=0.0, x=x[4, 0], y=y[1])
    assert grads["w_1"][4, 1] == pytest.approx(float(one["w_1"]), rel=1e-15)


def test_a_gradient_not_every_argument_enters_gets_the_broadcast_shape(derivations):
    f = backprop(load_spec(derivations / "cs231n_circuit.toml").network).compile()
    loss, grads = f(x=np.arange(4.0), y=1.0, z=-4.0)  # df/dx = z, a scalar
    assert loss.shape == (4,)
    assert grads["x"].shape == grads["y"].shape == grads["z"].shape == (4,)
    assert grads["x"].tolist() == [-4.0] * 4
    assert grads["z"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_a_parameter_the_loss_ignores_has_a_zero_gradient():
    net = network_from_latex("L = (w x)^2\nm = u x", params=["w", "u"], loss="L")
    f = backprop(net).compile()
    _, grads = f(w=np.ones(3), u=1.0, x=2.0)
    assert grads["u"].tolist() == [0.0, 0.0, 0.0]


# ---- stability ----------------------------------------------------------------
STABLE = r"""
z = w x + b
a = \sigma(z)
L = (a - y)^2 + \mathrm{softplus}(z) - \log(\sigma(z)) - \log(1 - \sigma(z)) - y \log(a)
"""


@pytest.mark.parametrize("w", [1000.0, -1000.0])
def test_saturated_sigmoid_softplus_and_log_sigmoid_are_finite_and_silent(w):
    f = backprop(network_from_latex(STABLE, params=["w", "b"])).compile()
    y = 0.3
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grads = f(w=np.array([w, 1.0]), b=0.0, x=1.0, y=y)
    assert np.all(np.isfinite(loss)) and all(np.all(np.isfinite(g)) for g in grads.values())
    s = 1.0 if w > 0 else 0.0  # σ(±1000)
    # dL/dz = 2(a−y)a(1−a) + σ(z) − (1 − σ(z)) + σ(z) − y(1 − σ(z))
    assert grads["b"][0] == pytest.approx(2 * s - 1 + s - y * (1 - s), abs=1e-12)
    # (a − y)² + softplus(z) − log σ(z) − log(1 − σ(z)) − y log a
    expected = (1 - y) ** 2 + 1000 + 1000 if w > 0 else y**2 + 1000 + y * 1000
    assert loss[0] == pytest.approx(expected, rel=1e-12)


# ---- the module itself ------------------------------------------------------------
def test_exported_file_runs_without_sympy(derivations, tmp_path):
    out = export(derivations / "mazur_2_2_2.toml", tmp_path)
    spec = load_spec(derivations / "mazur_2_2_2.toml")
    loss, grads = run_without_sympy(out, spec.values)
    assert loss == pytest.approx(0.298371109, abs=1e-9)  # Mazur's published figure
    assert grads["w_5"] == pytest.approx(0.082167041, abs=1e-9)
    imports = [n for n in ast.parse(out.read_text()).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [a.name for n in imports for a in n.names] == ["numpy"]


def test_one_statement_per_node_and_sigma_never_recomputed(derivations):
    spec = load_spec(derivations / "mazur_2_2_2.toml")
    source = module_source(backprop(spec.network))
    body = source.split("def loss_and_grad")[1]
    targets = [line.split(" = ")[0].strip() for line in body.splitlines() if " = " in line]
    defined = [n for n in spec.network.order if not spec.network.node(n).is_leaf]
    for name in defined:
        assert targets.count(name) == 1, name
    assert body.count("_sigmoid(") == 4  # h_1, h_2, o_1, o_2: once each
    # the derivative is the worked solution's a(1 − a), from the stored activation
    assert "dz_o1 = do_1 * (o_1 * (1.0 - o_1))" in body
    assert "db_1 = dz_h1 + dz_h2" in body  # the shared bias: one term per consumer
    # backward statements come in the derivation's order
    d = backprop(spec.network)
    adjoint_lines = [t for t in targets if t.startswith("d") and t[1:] in spec.network]
    assert adjoint_lines == ["d" + s.node.replace("_", "_") for s in d.backward]


def test_common_subexpressions_are_computed_once(derivations):
    source = module_source(backprop(load_spec(derivations / "micrograd_ops.toml").network))
    assert source.count("np.heaviside(t0, 0.0)") == 1  # 𝟙[a + b > 0], shared by ∂L/∂a and ∂L/∂b


def test_names_that_are_not_identifiers(tmp_path):
    spec = spec_from_toml(ODD_NAMES)
    source = module_source(backprop(spec.network))
    out = tmp_path / "odd.py"
    out.write_text(source)
    module = import_file(out, "odd")
    assert module.PARAMS == ("w_1,2", "\\lambda")
    assert module.IDENTIFIERS["w_1,2"] == "w_1_2" and module.IDENTIFIERS["\\lambda"] == "lambda_"
    assert "y_hat = _sigmoid(z)" in source
    canonical = module.loss_and_grad(**{"w_1,2": 0.5, "\\lambda": 0.1, "x": 2.0, "y": 1.0})
    by_identifier = module.loss_and_grad(w_1_2=0.5, lambda_=0.1, x=2.0, y=1.0)
    assert float(canonical[0]) == float(by_identifier[0])
    assert set(canonical[1]) == {"w_1,2", "\\lambda"}
    with pytest.raises(TypeError, match="w_1,2"):
        module.loss_and_grad(x=2.0, y=1.0, lambda_=0.1)
    with pytest.raises(TypeError, match="lambda"):
        module.loss_and_grad(**{"w_1,2": 0.5, "lambda": 0.1, "x": 2.0, "y": 1.0})


def test_python_identifiers():
    assert python_identifier("w_1") == "w_1"
    assert python_identifier("w_1,2,3") == "w_1_2_3"
    assert python_identifier(r"\hat{y}_1") == "y_hat_1"
    assert python_identifier(r"\mathbf{W}_1") == "W_1"
    assert python_identifier("np") == "np_"
    assert python_identifier("for") == "for_"
    assert python_identifier("α") == "α"


def test_a_title_cannot_escape_the_docstring():
    net = network_from_latex("L = (w x)^2", params=["w"])
    net.title = 'x"""\nimport os\nos.system("echo hi")\n"""\\'
    tree = ast.parse(module_source(backprop(net)))
    assert ast.get_docstring(tree).startswith(net.title)
    assert not [n for n in tree.body if isinstance(n, ast.Import) and n.names[0].name == "os"]


def test_a_function_without_code_is_an_error_naming_it():
    net = Network(params=["w"])
    w = net.leaf("w")
    with pytest.raises(SymbackpropError, match="'loggamma' is not an elementwise function"):
        net.define("L", sp.loggamma(w))


def test_export_to_stdout_and_bad_output(derivations, capsys, tmp_path):
    assert main(["export", str(derivations / "seed_scalar.toml")]) == 0
    assert "def loss_and_grad(*, w_1, w_2, b, x, y):" in capsys.readouterr().out
    assert main(["export", str(derivations / "seed_scalar.toml"), "-o", str(tmp_path / "no" / "g.py")]) == 2
    assert main(["export", str(tmp_path / "missing.toml")]) == 2


# ---- the printer ------------------------------------------------------------------
def printer(*names):
    return GradientPrinter({"identifiers": {n: n for n in names}, "adjoints": {n: f"d_{n}" for n in names}})


def test_printer_spellings():
    x, y = sp.symbols("x y", real=True)
    p = printer("x", "y")
    assert p.doprint(AdjointSymbol("x") * y) == "d_x*y"
    assert p.doprint(1 / (x + 1)) == "1/(x + 1)"
    assert p.doprint(10 / x**2) == "10/x**2"
    assert p.doprint(sp.Max(x, y, 0)) in ("np.maximum(np.maximum(0, x), y)", "np.maximum(np.maximum(x, y), 0)")
    assert p.doprint(sp.Piecewise((1, x > 0), (y, True))) == "np.where((x > 0), 1, y)"
    assert p.doprint(sp.Heaviside(x, 0)) == "np.heaviside(x, 0.0)"
    assert p.doprint(sp.Float(0.1) * x) == "0.1*x"
    jax = GradientPrinter({"backend": "jax", "identifiers": {"x": "x"}})
    assert jax.doprint(sp.exp(x)) == "jnp.exp(x)"


def test_unknown_backend():
    with pytest.raises(SymbackpropError, match="backend"):
        GradientPrinter({"backend": "tensorflow"})


# ---- JAX ----------------------------------------------------------------------
def test_jax_backend_under_jit(derivations, tmp_path):
    jax = pytest.importorskip("jax")
    module = import_file(export(derivations / "mazur_2_2_2.toml", tmp_path, "jax"), "grads_jax")
    spec = load_spec(derivations / "mazur_2_2_2.toml")
    numpy_grads = backprop(spec.network).compile()(**spec.values)[1]
    arrays = {k: jax.numpy.asarray(float(v)) for k, v in spec.values.items()}
    loss, grads = jax.jit(module.loss_and_grad)(**arrays)
    assert float(loss) == pytest.approx(0.298371109, rel=1e-5)
    for p in spec.network.params:
        assert float(grads[p]) == pytest.approx(float(numpy_grads[p]), rel=1e-4, abs=1e-7)
