"""梯度消失: why the layers near the input of a deep sigmoid network barely learn.

The article: every sigmoid multiplies the gradient by σ′(z) = σ(z)(1 − σ(z)) ≤ 0.25,
so after 10 layers 0.25¹⁰ ≈ 0.000001, and it draws the per-layer gradients as
a bar chart (第10层 ████████████ grad = 0.30 … 第1层 · grad ≈ 0.000003). Here

1. symbackprop derives ∂L/∂z₁ of a 10-layer chain (``generate.sigmoid_chain(10)``)
   and shows the closed form: the product of the ten local derivatives
   aₖ(1 − aₖ), each at most 1/4, and the numbers of one point against the bound;
2. a 10-layer sigmoid network in matrix form (``matrix.generate.mlp``, width 16,
   weights N(0, 1/fan_in), a batch of 64) gets its per-layer gradient norms from
   symbackprop's gradient, drawn as the article's bar chart;
3. the same network with ReLU hidden layers (He initialisation) does not decay.

    python examples/vanishing_gradients.py [--plot vanishing.png]
"""
from __future__ import annotations

import argparse
import math

import numpy as np
import sympy as sp

import symbackprop as sb
from symbackprop.analysis import exported_gradient, layer_gradient_norms, sigmoid_bound
from symbackprop.generate import sigmoid_chain
from symbackprop.reader.forward import network_from_latex
from symbackprop.generate_matrix import mlp
from plotting import pyplot, save

DEPTH, WIDTH, BATCH = 10, 16, 64
#: the article's illustration (its numbers are drawn, not computed)
ARTICLE_BARS = {10: 0.30, 9: 0.07, 8: 0.017, 7: 0.004, 6: 0.001, 1: 0.000003}


# ---- 1. the chain, symbolically ------------------------------------------------------
def chain_closed_form(depth: int = DEPTH):
    """The derivation of a ``depth``-layer chain and ∂L/∂z₁ in node names."""
    spec = sigmoid_chain(depth)
    net = sb.network_from_latex(spec["forward"], params=spec["params"])
    return net, sb.backprop(net).expand("z_1")


def sigma_prime_factors(expr: sp.Expr, depth: int = DEPTH) -> list[int]:
    """The layers k whose local derivative aₖ(1 − aₖ) is a factor of ``expr``."""
    factors = set(sp.Mul.make_args(expr))
    found = []
    for k in range(1, depth + 1):
        a = sp.Symbol(f"a_{k}", real=True)
        if a in factors and 1 - a in factors:
            found.append(k)
    return found


def chain_report(depth: int = DEPTH) -> dict:
    net, closed = chain_closed_form(depth)
    a = [sp.Symbol(f"a_{k}", real=True) for k in range(1, depth + 1)]
    w = [sp.Symbol(f"w_{k}", real=True) for k in range(1, depth + 1)]
    y = sp.Symbol("y", real=True)
    textbook = 2 * (a[-1] - y) * sp.Mul(*w[1:]) * sp.Mul(*(ak * (1 - ak) for ak in a))
    same = sp.expand(closed - textbook) == 0
    layers = sigma_prime_factors(closed, depth)
    print(f"1. A chain of {depth} sigmoid layers (z_k = w_k a_(k-1), a_k = σ(z_k), "
          f"L = (a_{depth} - y)²), derived by symbackprop:")
    print(f"   ∂L/∂z_1 = 2(a_{depth} − y) · w_{depth} w_{depth - 1} ⋯ w_2 · "
          + " · ".join(f"a_{k}(1 − a_{k})" for k in (depth, depth - 1)) + " ⋯ a_1(1 − a_1)")
    print(f"   (the derivation's closed form equals this: {same}; σ' factors a_k(1 − a_k) in it: "
          f"{len(layers)}, for layers {layers[0]}…{layers[-1]})")
    bound = sigmoid_bound(depth)
    print(f"   each σ′(z) = a(1 − a) ≤ 0.25, so their product ≤ 0.25^{depth} = {bound:.2e} ≈ 1e-6 "
          "(the article: 0.000001)")

    # numbers at one point: all weights 1, x = 1, y = 0
    values = {**{f"w_{k}": 1.0 for k in range(1, depth + 1)}, "x": 1.0, "y": 0.0}
    d = sb.backprop(net, values)
    product = math.prod(d.step(f"z_{k}").terms[0].value for k in range(1, depth + 1))
    print(f"   at w_k = 1, x = 1, y = 0: the ten σ' values multiply to {product:.2e} "
          f"(each about {product ** (1 / depth):.3f}); ∂L/∂z_{depth} = {d.adjoint_value(f'z_{depth}'):.2e}, "
          f"∂L/∂z_1 = {d.adjoint_value('z_1'):.2e}")
    return {"closed_form_matches": same, "sigma_prime_factors": len(layers), "bound": bound,
            "chain_product": product}


# ---- 2./3. matrix networks -----------------------------------------------------------
def deep_network(activation: str):
    sizes = [2] + [WIDTH] * (DEPTH - 1) + [1]
    return sizes, network_from_latex(**mlp(sizes, activation))


def layer_norms(activation: str, seed: int = 0) -> dict[int, float]:
    """‖∂L/∂W_k, ∂L/∂b_k‖ per layer at a random start; sigmoid: N(0, 1/n), ReLU: N(0, 2/n) (He)."""
    sizes, net = deep_network(activation)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(BATCH, 2))
    arrays = {"X": X, "Y": (np.linalg.norm(X, axis=1, keepdims=True) > 1).astype(float)}
    gain = 1.0 if activation == "sigmoid" else 2.0
    for k in range(1, len(sizes)):
        arrays[f"W_{k}"] = rng.normal(size=(sizes[k - 1], sizes[k])) * np.sqrt(gain / sizes[k - 1])
        arrays[f"b_{k}"] = np.zeros(sizes[k])
    _, grads = exported_gradient(net)(**arrays)
    return layer_gradient_norms(grads)


def bar(value: float, largest: float, blocks: int = 12, per_decade: int = 4) -> str:
    """The article's bars: ``blocks`` for the largest value, ``per_decade`` fewer per factor of 10."""
    length = blocks + per_decade * math.log10(value / largest) if value > 0 else 0.0
    whole, half = int(length), length - int(length) >= 0.5
    return "█" * whole + ("▌" if half else "") if length >= 0.5 else "·"


def bar_chart(norms: dict[int, float]) -> None:
    largest = max(norms.values())
    for k in sorted(norms, reverse=True):
        print(f"   第{k}层{'' if k >= 10 else ' '}   {bar(norms[k], largest):<13} grad = {norms[k]:.2g}")


def plot(path: str, sigmoid: dict[int, float], relu: dict[int, float]) -> bool:
    """Per-layer gradient norms on a log scale; False when matplotlib is missing."""
    plt = pyplot(path)
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    layers = sorted(sigmoid)
    ax.semilogy(layers, [sigmoid[k] for k in layers], "o-", label="sigmoid")
    ax.semilogy(layers, [relu[k] for k in layers], "s-", label="ReLU (He init)")
    top = sigmoid[layers[-1]]
    ax.semilogy(layers, [top * 0.25 ** (layers[-1] - k) for k in layers], "k--", lw=0.8,
                label="×0.25 per layer (σ' ≤ 1/4)")
    ax.set_xlabel("layer")
    ax.set_ylabel("‖∂L/∂W_k, ∂L/∂b_k‖")
    ax.set_title(f"Gradient norm per layer, {DEPTH}-layer network")
    ax.set_xticks(layers)
    ax.legend()
    save(fig, path)
    return True


def main(fast: bool = False, plot_to: str | None = None) -> dict:
    """Print the chain's closed form, the bar chart and the ReLU comparison; return the norms.

    ``fast`` changes nothing: the example is already quick.
    """
    figures = chain_report()

    sigmoid = layer_norms("sigmoid")
    relu = layer_norms("relu")
    print(f"\n2. A {DEPTH}-layer sigmoid network, width {WIDTH}, batch {BATCH}, weights N(0, 1/fan_in):")
    print("   gradient norm of each layer (‖∂L/∂W_k‖ and ‖∂L/∂b_k‖ together), from symbackprop's "
          "gradient;\n   bars on a log scale, 4 blocks per factor of 10:")
    bar_chart(sigmoid)
    drop = sigmoid[1] / sigmoid[DEPTH]
    print(f"   layer 1 gets {drop:.1e} of layer {DEPTH}'s gradient "
          f"(the article's drawing: {ARTICLE_BARS[1] / ARTICLE_BARS[10]:.0e}).")

    print("\n3. The same network with ReLU hidden layers (He initialisation N(0, 2/fan_in)):")
    bar_chart(relu)
    print(f"   layer 1 / layer {DEPTH}: {relu[1] / relu[DEPTH]:.2f} — ReLU' = 1 where z > 0, "
          "so the gradient does not decay.")

    if plot_to:
        plot(plot_to, sigmoid, relu)
    return {**figures, "sigmoid_norms": sigmoid, "relu_norms": relu,
            "sigmoid_first_over_last": drop, "relu_first_over_last": relu[1] / relu[DEPTH]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="accepted for uniformity; no effect")
    parser.add_argument("--plot", metavar="FILE", help="save a plot of the per-layer norms (PNG)")
    args = parser.parse_args()
    main(fast=args.fast, plot_to=args.plot)
