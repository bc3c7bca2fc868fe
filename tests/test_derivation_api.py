"""The Python API: builder, derivation queries, Jupyter display, JSON contract."""
import json

import pytest
import sympy as sp

from symbackprop.ir import Apply
from symbackprop.sympy_form import to_sympy

import symbackprop as sb
from symbackprop.derivation import AdjointSymbol
from symbackprop.functions import sigmoid


def article_network() -> sb.Network:
    net = sb.Network(params=["w_1", "w_2", "b"])
    w1, x = net.leaf("w_1"), net.leaf("x")
    a1 = net.define("a_1", sigmoid(net.define("z_1", w1 * x)))
    w2, b = net.leaf("w_2"), net.leaf("b")
    a2 = net.define("a_2", sigmoid(net.define("z_2", w2 * a1 + b)))
    net.define("L", (a2 - net.leaf("y")) ** 2)
    return net


VALUES = {"x": 2.0, "y": 1.0, "w_1": 0.5, "w_2": -1.0, "b": 0.0}


def test_builder_matches_spec(derivations):
    spec = sb.load_spec(derivations / "seed_scalar.toml")
    built = sb.backprop(article_network(), VALUES)
    loaded = sb.backprop(spec.network, spec.values)
    for p in ("w_1", "w_2", "b"):
        assert built.gradient_value(p) == loaded.gradient_value(p)


def test_textbook_local_derivatives_use_node_names():
    d = sb.backprop(article_network())
    a2, y = sp.Symbol("a_2", real=True), sp.Symbol("y", real=True)
    local = d.scalar_form(d.step("a_2").terms[0].local)
    assert str(local) == "2*(a_2 - y)"
    assert sp.expand(local - 2 * (a2 - y)) == 0
    assert d.scalar_form(d.step("z_2").terms[0].local) == a2 * (1 - a2)
    assert d.gradient("w_1") == AdjointSymbol("z_1") * sp.Symbol("x", real=True)


def test_closed_form_equals_sympy_diff_of_composed_loss():
    """For a small network the composed loss is an independent check of expand()."""
    net = article_network()
    d = sb.backprop(net)
    composed = to_sympy(net.node("L").expr)
    for name in reversed(net.order[:-1]):
        node = net.node(name)
        if not node.is_leaf:
            composed = composed.xreplace({node.symbol: to_sympy(node.expr)})
    for p in net.params:
        truth = sp.diff(composed, net.node(p).symbol)
        mine = d.expand(p, leaves=True)
        point = {net.node(n).symbol: v for n, v in VALUES.items()}
        assert float(mine.xreplace(point).evalf()) == pytest.approx(
            float(truth.xreplace(point).evalf()), rel=1e-12)


def test_jupyter_display_and_json_contract(derivations):
    spec = sb.load_spec(derivations / "seed_scalar.toml")
    d = sb.backprop(spec.network, spec.values, learning_rate=0.1)
    assert "$$" in d._repr_markdown_()
    data = json.loads(json.dumps(d.to_json()))
    assert data["loss"]["value"] == pytest.approx(0.45567566, abs=1e-8)
    assert data["nodes"]["a_1"]["value"] == pytest.approx(0.7310585786)
    assert data["gradients"]["w_1"]["value"] == pytest.approx(0.1164552065)
    assert data["gradients"]["w_1"]["latex"] == r"\frac{\partial L}{\partial z_{1}} x"
    assert data["update"]["b"]["updated"] == pytest.approx(0.0296155)
    assert [s["node"] for s in data["steps"]] == ["a_2", "z_2", "w_2", "b", "a_1", "z_1", "w_1"]
    assert all(s["latex"].startswith(r"\begin{align*}") for s in data["steps"])


def test_params_and_values_accept_latex_spelling():
    from symbackprop.spec import spec_from_dict
    s = spec_from_dict({"forward": "z = w_{1,2} x\nL = z^2", "params": ["w_{1,2}"],
                        "values": {"w_{1,2}": 0.5, "x": 3}})
    d = sb.backprop(s.network, s.values)
    assert d.gradient_value("w_1,2") == pytest.approx(2 * 1.5 * 3)


def test_e_is_a_node_when_defined_and_exp_otherwise():
    from symbackprop.spec import spec_from_dict
    as_node = spec_from_dict({"forward": "e = w x\nL = e^2", "params": ["w"]}).network
    assert "e" in as_node
    as_exp = spec_from_dict({"forward": "L = e^{-w x}", "params": ["w"]}).network
    definition = as_exp.node("L").expr
    assert "e" not in as_exp and isinstance(definition, Apply) and definition.func == "exp"


def test_chinese_prose():
    d = sb.backprop(article_network(), VALUES, lang="zh")
    md = d.to_markdown()
    assert "第 1 步：损失对 $a_{2}$ 的梯度" in md and "前向传播" in md


def test_local_derivatives_never_name_a_node_off_the_loss_path():
    from symbackprop.spec import spec_from_dict
    # n = w_1 w_3 is defined but unused; ∂z/∂w_2 = w_1 w_3 must not be written "n"
    net = spec_from_dict({"forward": "n = w_1 w_3\nz = w_1 w_2 w_3\nL = z^2",
                          "params": ["w_1", "w_2", "w_3"]}).network
    d = sb.backprop(net)
    assert "n" not in {s.name for s in d.scalar_form(d.step("w_2").terms[0].local).free_symbols}


def test_natural_log_prints_as_ln_and_leaves_as_given():
    from symbackprop.printing.sympy import sympy_latex as to_latex
    a = sp.Symbol("a", real=True)
    assert to_latex(sp.log(a)) == r"\ln a"
    assert to_latex(sp.log(1 - a)) == r"\ln\left(1 - a\right)"
    from symbackprop.spec import spec_from_dict
    s = spec_from_dict({"forward": r"L = -\ln(w x)", "params": ["w"], "values": {"w": 0.5, "x": 2.0}})
    md = sb.backprop(s.network, s.values).to_markdown()
    assert r"\ln\left(w x\right)" in md and "0.5 \\times 2" in md


def test_closed_forms_in_node_names_and_in_leaves(derivations):
    d = sb.derive(derivations / "seed_scalar.toml")
    nodes = d.to_text(closed_forms=True)
    leaves = d.to_text(closed_forms="leaves")
    assert "∂L/∂w_1 = 2·a_1·a_2·w_2·x·(1 - a_1)·(1 - a_2)·(a_2 - y)" in nodes
    assert "σ(w_1·x)" in leaves and "σ(w_1·x)" not in nodes
    assert isinstance(d, sb.Derivation) and isinstance(sb.derive(derivations / "seed_matrix.toml"),
                                                       sb.Derivation)


def test_a_title_per_language(derivations):
    from symbackprop.spec import spec_from_dict
    d = sb.derive(derivations / "seed_scalar.toml")
    assert d.to_text(lang="zh").startswith("手算一次完整的反向传播")
    assert d.to_text().startswith("Backpropagation by hand")
    assert d.to_json()["title"] == "Backpropagation by hand: the article's example"
    with pytest.raises(sb.SpecError, match="unknown language 'fr'"):
        spec_from_dict({"forward": "L = w^2", "params": ["w"], "title": {"fr": "x"}})


def test_text_reads_like_the_article(derivations):
    text = sb.derive(derivations / "seed_scalar.toml").to_text()
    assert "  z_1 = w_1·x = 0.5 × 2 = 1.000\n" in text
    assert "  a_2 = σ(z_2) = σ(-0.731) = 0.325\n" in text
    assert "  ∂L/∂w_2 = ∂L/∂z_2 · ∂z_2/∂w_2 = ∂L/∂z_2 · a_1 = -0.296 × 0.731 = -0.217\n" in text
