"""梯度爆炸: large initial weights make the gradient grow layer by layer; clipping by global norm.

The article: ∂L/∂w₁ ~ W₂ · W₃ ⋯ Wₙ · δ, so with large weights the gradient grows
exponentially towards the input and one update can blow the parameters up;
``torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)`` scales all
gradients down together when their global norm exceeds ``max_norm``, keeping
the direction. Here

1. symbackprop derives a 10-layer ReLU network (width 16, linear output, MSE)
   and shows where the weights enter the backward pass (∂L/∂A_k = ∂L/∂Z_{k+1} W_{k+1}ᵀ);
2. at He initialisation (weights N(0, 2/fan_in)) the error signal of each layer,
   ‖∂L/∂b_k‖ = ‖Σ_rows ∂L/∂Z_k‖, stays level; with weights 1.77× larger
   (N(0, 6.25/fan_in)) it grows layer by layer towards the input;
3. ``symbackprop.analysis.clip_by_global_norm`` cuts the global norm to 1.0 with
   the direction unchanged — checked against ``torch.nn.utils.clip_grad_norm_``
   when torch is installed — and gradient descent with and without it is compared.

    python examples/exploding_gradients.py [--plot exploding.png]
"""
from __future__ import annotations

import argparse

import numpy as np

import symbackprop as sb
from symbackprop.analysis import (clip_by_global_norm, exported_gradient, global_norm,
                                  layer_gradient_norms)
from symbackprop.reader.forward import network_from_latex
from symbackprop.printing.ir import to_text
from symbackprop.generate_matrix import mlp
from plotting import pyplot, save

DEPTH, WIDTH, BATCH = 10, 16, 64
HE, LARGE = 2.0, 6.25  #: weight variance × fan_in: He, and (1.77 × He's standard deviation)²
MAX_NORM, LR, STEPS, FAST_STEPS = 1.0, 0.01, 20, 10


def deep_relu_regression():
    """A ``DEPTH``-layer ReLU network with a linear output and MSE (``mlp`` without its σ)."""
    sizes = [2] + [WIDTH] * (DEPTH - 1) + [1]
    spec = mlp(sizes, "relu")
    *hidden, _sigmoid_output, _loss = spec["forward"].splitlines()
    spec["forward"] = "\n".join(hidden + [rf"L = \frac{{1}}{{m}}\|Z_{{{DEPTH}}} - Y\|^2"])
    return sizes, network_from_latex(**spec)


def start(sizes, variance: float, seed: int = 0) -> dict[str, np.ndarray]:
    """A batch and weights N(0, variance/fan_in), biases 0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(BATCH, sizes[0]))
    arrays = {"X": X, "Y": (np.linalg.norm(X, axis=1, keepdims=True) > 1).astype(float)}
    for k in range(1, len(sizes)):
        arrays[f"W_{k}"] = rng.normal(size=(sizes[k - 1], sizes[k])) * np.sqrt(variance / sizes[k - 1])
        arrays[f"b_{k}"] = np.zeros(sizes[k])
    return arrays


def bias_norms(grads) -> dict[int, float]:
    return layer_gradient_norms({p: g for p, g in grads.items() if p.startswith("b_")})


def torch_clip(grads: dict[str, np.ndarray], max_norm: float):
    """``torch.nn.utils.clip_grad_norm_`` on tensors holding ``grads``; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    tensors = {}
    for p, g in grads.items():
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.from_numpy(np.array(g, dtype=float))
        tensors[p] = t
    total = torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm=max_norm)
    return {p: t.grad.numpy() for p, t in tensors.items()}, float(total)


def descend(f, arrays, steps: int, clip: bool) -> list[float]:
    """Plain gradient descent (lr ``LR``); the loss before each step, up to the first inf or nan."""
    arrays = dict(arrays)
    params = [p for p in arrays if p[0] in "Wb"]
    losses = []
    for _ in range(steps):
        with np.errstate(all="ignore"):
            loss, grads = f(**arrays)
        losses.append(float(loss))
        if not np.isfinite(loss):
            break
        if clip:
            grads, _ = clip_by_global_norm(grads, MAX_NORM)
        for p in params:
            arrays[p] = arrays[p] - LR * grads[p]
    return losses


def plot(path: str, he: dict[int, float], large: dict[int, float]) -> bool:
    plt = pyplot(path)
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    layers = sorted(he)
    ax.semilogy(layers, [he[k] for k in layers], "o-", label="He init, N(0, 2/n)")
    ax.semilogy(layers, [large[k] for k in layers], "s-", label=f"large init, N(0, {LARGE}/n)")
    ax.set_xlabel("layer")
    ax.set_ylabel("‖∂L/∂b_k‖ = ‖Σ_rows ∂L/∂Z_k‖")
    ax.set_title(f"Error signal per layer, {DEPTH}-layer ReLU network")
    ax.set_xticks(layers)
    ax.legend()
    save(fig, path)
    return True


def main(fast: bool = False, plot_to: str | None = None) -> dict:
    """Print the per-layer norms, the clipping and the descent; return the figures.

    ``fast`` takes fewer descent steps.
    """
    sizes, net = deep_relu_regression()
    d = sb.backprop(net)
    k = DEPTH - 1
    print(f"1. A {DEPTH}-layer ReLU network, width {WIDTH}, linear output, MSE. symbackprop derives")
    for node in (f"A_{k}", f"Z_{k}", f"b_{k}"):
        print(f"   ∂L/∂{node} = {to_text(d.gradient(node) if node.startswith('b') else d.step(node).adjoint)}")
    print("   so every layer multiplies the error signal by a weight matrix on its way back "
          "(the article: ∂L/∂w₁ ~ W₂ W₃ ⋯ Wₙ δ).")

    f = exported_gradient(net)
    he_arrays, large_arrays = start(sizes, HE), start(sizes, LARGE)
    _, he_grads = f(**he_arrays)
    large_loss, grads = f(**large_arrays)
    he, large = bias_norms(he_grads), bias_norms(grads)
    growth = (large[1] / large[DEPTH]) ** (1 / (DEPTH - 1))
    print(f"\n2. The error signal of each layer, ‖∂L/∂b_k‖ (batch {BATCH}):")
    print(f"   layer   He init N(0, 2/n)   large init N(0, {LARGE}/n)")
    for layer in sorted(he, reverse=True):
        print(f"   {layer:5d}   {he[layer]:17.2e}   {large[layer]:21.2e}")
    print(f"   large init: ×{growth:.2f} per layer towards the input, "
          f"×{large[1] / large[DEPTH]:.0f} from layer {DEPTH} to layer 1 "
          f"(He init: ×{he[1] / he[DEPTH]:.2f}); the loss is {large_loss:.2e}")

    before = global_norm(grads)
    clipped, total = clip_by_global_norm(grads, MAX_NORM)
    after = global_norm(clipped)
    flat = np.concatenate([g.ravel() for g in grads.values()])
    flat_clipped = np.concatenate([clipped[p].ravel() for p in grads])
    cosine = float(flat @ flat_clipped / (np.linalg.norm(flat) * np.linalg.norm(flat_clipped)))
    print(f"\n3. clip_by_global_norm(grads, max_norm={MAX_NORM}):")
    print(f"   global norm before {before:.4e}, after {after:.6f}; every gradient × {MAX_NORM / total:.3e}; "
          f"cosine(before, after) = {cosine:.12f} (direction unchanged)")
    torch_result = torch_clip(grads, MAX_NORM)
    if torch_result is None:
        torch_gap = None
        print("   torch is not installed: the cross-check with clip_grad_norm_ is skipped")
    else:
        torch_grads, torch_total = torch_result
        torch_gap = max(float(np.max(np.abs(torch_grads[p] - clipped[p]))) for p in grads)
        print(f"   torch.nn.utils.clip_grad_norm_: total norm {torch_total:.4e} (ours {total:.4e}), "
              f"clipped gradients differ by at most {torch_gap:.1e}\n"
              f"   (torch divides by total_norm + 1e-6)")

    steps = FAST_STEPS if fast else STEPS
    plain = descend(f, large_arrays, steps, clip=False)
    clipped_run = descend(f, large_arrays, steps, clip=True)
    print(f"\n   gradient descent from the large initialisation, lr {LR}, {steps} steps:")
    print(f"   without clipping: loss {' → '.join(f'{v:.2e}' for v in plain[:3])} → … → {plain[-1]:.2e}")
    print(f"   with clipping:    loss {' → '.join(f'{v:.2e}' for v in clipped_run[:3])} → … → "
          f"{clipped_run[-1]:.2e}")
    print(f"   One unclipped step (length {LR * before:.1e}) throws the weights so far that the loss "
          f"jumps ×{plain[1] / plain[0]:.0e};\n   clipped steps have length {LR * MAX_NORM} and the loss "
          "falls steadily.")
    if plot_to:
        plot(plot_to, he, large)
    return {"he_bias_norms": he, "large_bias_norms": large, "growth_per_layer": growth,
            "norm_before": before, "norm_after": after, "cosine": cosine,
            "torch_max_difference": torch_gap, "losses_plain": plain, "losses_clipped": clipped_run}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help=f"{FAST_STEPS} descent steps, not {STEPS}")
    parser.add_argument("--plot", metavar="FILE", help="save a plot of the per-layer norms (PNG)")
    args = parser.parse_args()
    main(fast=args.fast, plot_to=args.plot)
