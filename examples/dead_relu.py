"""死亡 ReLU: units whose gradient is zero over the whole batch, and Leaky ReLU as the fix.

The article: ReLU' is 0 for z < 0, so a unit whose input stays negative gets no
gradient and never updates — typically after a too-large learning rate shifts
the weights (the biases) to where z < 0 for every input. Here

1. the article's snippet (z = −5.0 → relu_grad = 0.0) and symbackprop's
   derivation of one ReLU neuron at z = −5: the local derivative 𝟙[z > 0] is 0,
   so ∂L/∂w = ∂L/∂b = 0;
2. the article's circle network (``derivations/circle_relu_bce.toml``) after three
   plain gradient steps with learning rate 10: the biases of the first layer
   move far below zero and ``symbackprop.analysis.dead_units`` — the local
   derivative of the derivation's step ``∂L/∂Z_1 = ∂L/∂A_1 ⊙ ReLU'(Z_1)``, zero on
   every row — finds the dead units; their columns of symbackprop's ∂L/∂W_1 are
   exactly zero, and the article's training loop (Adam, lr 0.01) never revives them;
3. the same network with Leaky ReLU (slope 0.01 below zero), the same steps: its
   units keep a nonzero gradient, and units pushed below zero come back.

    python examples/dead_relu.py
"""
from __future__ import annotations

import argparse
import tomllib

import numpy as np
import sympy as sp

import symbackprop as sb
from symbackprop.analysis import dead_units, exported_gradient, local_derivative, node_values
from symbackprop.reader.forward import network_from_latex
from symbackprop.printing.ir import to_text
from symbackprop.ir import scalar_derivative
from symbackprop.printing.sympy import sympy_text as scalar_text
from training_loop import SPEC, batches, circle_data, linear_init, train

BAD_LR, BAD_STEPS = 10.0, 3
EPOCHS = 100
HIDDEN = {"Z_1": 16, "Z_2": 8}


def the_article_snippet() -> float:
    # 模拟死亡 ReLU
    z = -5.0
    relu_grad = 1.0 if z > 0 else 0.0  # 恒为 0，梯度断了
    return relu_grad


def one_neuron() -> dict[str, float]:
    """symbackprop's derivation of ``a = ReLU(w x + b)`` at z = 1·2 − 7 = −5."""
    net = sb.network_from_latex(r"""
z = w x + b
a = \mathrm{ReLU}(z)
L = (a - y)^2""", params=["w", "b"])
    d = sb.backprop(net, {"w": 1.0, "x": 2.0, "b": -7.0, "y": 1.0})
    local = d.step("z").terms[0]
    print(f"   symbackprop, a = ReLU(w x + b) at w = 1, x = 2, b = −7 (z = {d.values['z']:g}):")
    print(f"   ∂a/∂z = {scalar_text(local.expr)} = {local.value:g}, so ∂L/∂z = "
          f"{scalar_text(d.step('z').adjoint)} = {d.adjoint_value('z'):g}, "
          f"∂L/∂w = {d.gradient_value('w'):g}, ∂L/∂b = {d.gradient_value('b'):g}")
    return {p: d.gradient_value(p) for p in ("w", "b")}


def networks():
    """The circle network as the spec writes it, and with every ReLU a Leaky ReLU (α = 0.01)."""
    raw = tomllib.loads(SPEC.read_text(encoding="utf-8"))
    leaky = raw["forward"].replace(r"\mathrm{ReLU}", r"\mathrm{LeakyReLU}")
    return (sb.load_spec(SPEC).network,
            network_from_latex(leaky, params=raw["params"], shapes=raw["shapes"]))


def too_large_steps(network, params, X, y) -> dict[str, np.ndarray]:
    """``BAD_STEPS`` full-batch gradient-descent steps with learning rate ``BAD_LR``."""
    f = exported_gradient(network)
    for _ in range(BAD_STEPS):
        _, grads = f(X=X, Y=y, **params)
        params = {p: params[p] - BAD_LR * grads[p] for p in params}
    return params


def dead(network, params, X, y) -> dict[str, np.ndarray]:
    """Per hidden layer, the mask of units whose local derivative is zero on every row."""
    d = sb.backprop(network)
    values = node_values(network, {"X": X, "Y": y, **params}, names=list(HIDDEN))
    return {z: dead_units(values[z], local_derivative(d, z)) for z in HIDDEN}


def negative(network, params, X, y) -> dict[str, np.ndarray]:
    """Per hidden layer, the units with z ≤ 0 on every row (dead, were it ReLU)."""
    values = node_values(network, {"X": X, "Y": y, **params}, names=list(HIDDEN))
    return {z: ~np.any(values[z] > 0, axis=0) for z in HIDDEN}


def counts(masks: dict[str, np.ndarray]) -> str:
    return ", ".join(f"layer {z[-1]}: {int(m.sum())}/{HIDDEN[z]}" for z, m in masks.items())


def accuracy(network, params, X, y) -> float:
    return float(np.mean((node_values(network, {"X": X, "Y": y, **params}, names=["A_3"])["A_3"] > 0.5) == y))


def main(fast: bool = False) -> dict:
    """Run the three parts and print them; return the counts. ``fast`` changes nothing."""
    print("1. The article's snippet: z = -5.0; relu_grad = 1.0 if z > 0 else 0.0 →",
          the_article_snippet())
    neuron = one_neuron()

    relu_net, leaky_net = networks()
    d = sb.backprop(relu_net)
    z = sp.Symbol("z", real=True)
    print(f"\n2. The article's circle network ({SPEC.name}). symbackprop derives\n"
          f"   ∂L/∂Z_1 = {to_text(d.step('Z_1').adjoint)},  ReLU'(z) = "
          f"{scalar_text(scalar_derivative('relu', z))}")
    X, y = circle_data()
    initial = linear_init(np.random.default_rng(0))
    print(f"   dead units at the start (nn.Linear init): {counts(dead(relu_net, initial, X, y))}")

    bad = too_large_steps(relu_net, initial, X, y)
    shift = bad["b_1"] - initial["b_1"]
    masks = dead(relu_net, bad, X, y)
    print(f"   after {BAD_STEPS} gradient steps with learning rate {BAD_LR:g}: b_1 moved by "
          f"{shift.mean():+.2f} on average (most: {shift.min():+.2f})")
    print(f"   dead units (ReLU'(Z) = 1[Z > 0] is 0 on all {len(X)} rows): {counts(masks)}")
    _, grads = exported_gradient(relu_net)(X=X, Y=y, **bad)
    cut = masks["Z_1"]
    frozen = max(float(np.abs(grads["W_1"][:, cut]).max()), float(np.abs(grads["b_1"][cut]).max()))
    print(f"   symbackprop's gradient of their weights: max |∂L/∂W_1[:, dead]|, |∂L/∂b_1[dead]| = {frozen:g}")

    epochs = EPOCHS
    schedule = batches(np.random.default_rng(1), epochs)
    trained = dict(bad)
    train(trained, X, y, schedule, relu_net, report=lambda line: None)
    after = dead(relu_net, trained, X, y)
    revived = int((cut & ~after["Z_1"]).sum())
    relu_acc = accuracy(relu_net, trained, X, y)
    print(f"   then the article's loop (Adam, lr 0.01, {epochs} epochs): accuracy {relu_acc:.3f}, but dead\n"
          f"   {counts(after)}; of the {int(cut.sum())} dead first-layer units {revived} came back")
    print("   (a dead first-layer unit cannot come back: its input X is fixed and its weights get "
          "no gradient;\n   a second-layer unit can, when the first layer's outputs change)")

    print("\n3. The same network with Leaky ReLU, slope 0.01 for z < 0:")
    leaky_bad = too_large_steps(leaky_net, initial, X, y)
    below = negative(leaky_net, leaky_bad, X, y)
    leaky_dead = dead(leaky_net, leaky_bad, X, y)
    _, leaky_grads = exported_gradient(leaky_net)(X=X, Y=y, **leaky_bad)
    low = below["Z_1"]
    smallest = float(np.min(np.linalg.norm(leaky_grads["W_1"][:, low], axis=0))) if low.any() else None
    print(f"   after the same {BAD_STEPS} steps, units with z < 0 on every row: {counts(below)}")
    print(f"   dead units (local derivative 0 on every row): {counts(leaky_dead)}"
          + (f"\n   smallest ‖∂L/∂W_1[:, j]‖ of those layer-1 units: {smallest:.1e} (small, not zero)"
             if smallest is not None else ""))
    leaky_trained = dict(leaky_bad)
    train(leaky_trained, X, y, schedule, leaky_net, report=lambda line: None)
    below_after = negative(leaky_net, leaky_trained, X, y)
    leaky_revived = int((low & ~below_after["Z_1"]).sum())
    leaky_acc = accuracy(leaky_net, leaky_trained, X, y)
    print(f"   after the same training: accuracy {leaky_acc:.3f}; below zero on every row "
          f"{counts(below_after)};\n   of the {int(low.sum())} layer-1 units below zero "
          f"{leaky_revived} came back")
    return {
        "neuron_gradients": neuron,
        "dead_after_bad_steps": {z: int(m.sum()) for z, m in masks.items()},
        "dead_gradient_max": frozen,
        "dead_after_training": {z: int(m.sum()) for z, m in after.items()},
        "relu_revived": revived,
        "relu_accuracy": relu_acc,
        "leaky_dead": {z: int(m.sum()) for z, m in leaky_dead.items()},
        "leaky_below_zero": {z: int(m.sum()) for z, m in below.items()},
        "leaky_smallest_gradient": smallest,
        "leaky_revived": leaky_revived,
        "leaky_accuracy": leaky_acc,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="accepted for uniformity; no effect")
    main(fast=parser.parse_args().fast)
