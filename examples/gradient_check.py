"""梯度检验 and 在 PyTorch 中看反向传播: the article's two checks of a gradient.

1. The article's ``gradient_check``: central differences (ε = 1e-5) for every
   entry of every parameter of its XOR MLP, the relative error
   ``|a − n| / (|a| + |n| + 1e-8)``, and its verdict table (< 1e-5 correct,
   1e-5 … 1e-3 suspicious, > 1e-3 a bug). First the function exactly as the
   article writes it, then the same logic with the gradient symbackprop
   exports for ``derivations/seed_matrix.toml`` as the analytic side.
2. The article's PyTorch snippet (``nn.Sequential`` with w₁ = 0.5, w₂ = −1.0,
   b = 0.0) against symbackprop's derivation of the scalar example, when torch
   is installed.

    python examples/gradient_check.py
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import symbackprop as sb
from symbackprop.analysis import exported_gradient, node_values
from symbackprop import check
from symbackprop.check import BUG, CORRECT, relative_error, verdict
from xor_mlp import SEED, TwoLayerMLP, X, he_init, mse_loss, y

ROOT = Path(__file__).resolve().parent.parent
MATRIX_SPEC = ROOT / "derivations" / "seed_matrix.toml"
SCALAR_SPEC = ROOT / "derivations" / "seed_scalar.toml"
EPS, TOL = 1e-5, 1e-4
#: the values in the comments of the article's PyTorch snippet
ARTICLE_TORCH = {"w_1": 0.1164, "w_2": -0.2166, "b": -0.2962}


# ---- the article's gradient_check, as written ------------------------------------
def gradient_check(model, X, y, eps=1e-5, tol=1e-4):
    """
    对模型所有参数进行数值梯度检验
    返回：解析梯度与数值梯度的最大相对误差
    """
    # 先做一次前向+反向，获取解析梯度
    model.forward(X)  # the article assigns this to pred, which it never uses
    model.backward(y)

    analytic = {
        'W1': model.W1.copy(), 'b1': model.b1.copy(),
        'W2': model.W2.copy(), 'b2': model.b2.copy()
    }
    # 注意：backward 已经把梯度存在了参数里（这里简化处理，
    # 实际应存在单独的 grad 属性中）

    params = [('W1', model.W1), ('b1', model.b1),
              ('W2', model.W2), ('b2', model.b2)]

    max_err = 0.0
    for name, param in params:
        num_grad = np.zeros_like(param)
        it = np.nditer(param, flags=['multi_index'])
        while not it.finished:
            ix = it.multi_index
            orig = param[ix]

            param[ix] = orig + eps
            L_plus = mse_loss(model.forward(X), y)

            param[ix] = orig - eps
            L_minus = mse_loss(model.forward(X), y)

            param[ix] = orig   # 还原
            num_grad[ix] = (L_plus - L_minus) / (2 * eps)
            it.iternext()

        # 相对误差
        a_grad = analytic[name]
        err = np.abs(num_grad - a_grad) / (np.abs(num_grad) + np.abs(a_grad) + 1e-8)
        max_err = max(max_err, err.max())
        print(f"{name}: max relative error = {err.max():.2e}")

    if max_err < tol:
        print(f"\n✓ 梯度检验通过（最大误差 {max_err:.2e} < {tol}）")
    else:
        print(f"\n✗ 梯度检验失败！最大误差 {max_err:.2e}")

    return max_err


# ---- the same logic around symbackprop ---------------------------------------------
def spec_loss(network):
    """``loss(**arrays)``: the network's forward pass alone (no derivative is used)."""
    def loss(**arrays) -> float:
        return float(node_values(network, arrays)[network.loss])
    return loss


def numeric_gradient(loss, arrays: dict[str, np.ndarray], param: str, eps: float = EPS) -> np.ndarray:
    """Central differences, one entry at a time, as the article's ``gradient_check`` does."""
    arrays = {k: np.array(v, dtype=float) for k, v in arrays.items()}
    p = arrays[param]
    grad = np.zeros_like(p)
    for ix in np.ndindex(p.shape):
        orig = p[ix]
        p[ix] = orig + eps
        plus = loss(**arrays)
        p[ix] = orig - eps
        minus = loss(**arrays)
        p[ix] = orig
        grad[ix] = (plus - minus) / (2 * eps)
    return grad


def check_exported(arrays: dict[str, np.ndarray], label: str, corrupt: str | None = None) -> dict[str, float]:
    """Max relative error per parameter: exported gradient against central differences.

    ``corrupt`` names a parameter whose gradient gets the sign slip of the article's
    warning (一个符号写错), to see the check catch it.
    """
    network = sb.load_spec(MATRIX_SPEC).network
    _, analytic = exported_gradient(network)(**arrays)
    loss = spec_loss(network)
    print(f"\n{label}")
    errors = {}
    for p in network.params:
        a = -analytic[p] if p == corrupt else analytic[p]
        n = numeric_gradient(loss, arrays, p)
        errors[p] = max(relative_error(float(ai), float(ni)) for ai, ni in zip(a.ravel(), n.ravel()))
        print(f"  {p}: max relative error = {errors[p]:.2e}   {verdict(errors[p])}")
    worst = max(errors.values())
    print(f"  → largest {worst:.2e}: {verdict(worst)}")
    return errors


def library_check(arrays: dict[str, np.ndarray]):
    """:func:`symbackprop.check.gradient_check` of the spec's network at ``arrays``."""
    return check.gradient_check(sb.load_spec(MATRIX_SPEC).network, arrays, eps=EPS)


def torch_cross_check() -> dict[str, float] | None:
    """The article's nn.Sequential snippet; None when torch is not installed."""
    try:
        import torch
        import torch.nn as nn
    except ImportError:
        return None
    x = torch.tensor([[2.0]])
    y_ = torch.tensor([[1.0]])
    model = nn.Sequential(
        nn.Linear(1, 1, bias=False),  # w1
        nn.Sigmoid(),
        nn.Linear(1, 1, bias=True),   # w2, b
        nn.Sigmoid()
    )
    with torch.no_grad():
        model[0].weight.fill_(0.5)   # w1
        model[2].weight.fill_(-1.0)  # w2
        model[2].bias.fill_(0.0)     # b
    pred = model(x)
    loss = ((pred - y_) ** 2)
    loss.backward()
    return {"w_1": model[0].weight.grad.item(), "w_2": model[2].weight.grad.item(),
            "b": model[2].bias.grad.item()}


def main(fast: bool = False) -> dict:
    """Run both checks and print them; return the errors. ``fast`` changes nothing."""
    print("梯度检验 — the article's gradient_check, run as written on its XOR model "
          f"(np.random.seed({SEED})):\n")
    np.random.seed(SEED)
    model = TwoLayerMLP(n_in=2, n_hidden=4, n_out=1, lr=0.5)
    article_error = float(gradient_check(model, X, y, eps=EPS, tol=TOL))
    print("\nIt fails however right the gradient is: model.backward() updates the weights and keeps\n"
          "no gradient, so its `analytic` dict holds the updated weights W − η∇L, not ∇L (the\n"
          "comment 'backward 已经把梯度存在了参数里' is not what backward does). The same logic with\n"
          "a real analytic gradient — symbackprop's, exported for seed_matrix.toml:")

    np.random.seed(SEED)
    he = {**he_init(2, 4, 1), "X": X, "Y": y}
    at_init = check_exported(he, f"at the article's He initialisation (seed {SEED}), eps = {EPS:g}:")
    values = {k: np.asarray(v, dtype=float) for k, v in sb.load_spec(MATRIX_SPEC).values.items()}
    at_spec = check_exported(values, f"at the values of {MATRIX_SPEC.name}:")
    slipped = check_exported(he, "the same, with the sign of ∂L/∂W_1 flipped (一个符号写错):",
                             corrupt="W_1")
    report = library_check(he)
    print("\nsymbackprop.check.gradient_check does all of this in one call, and compares with HIPS\n"
          "autograd and torch (when installed) too:\n")
    print("\n".join(f"  {line}" if line else "" for line in report.to_text().rstrip().splitlines()))

    print(f"\n误差判读标准 (the article's table, symbackprop.check.verdict):\n"
          f"  < {CORRECT:g}        correct     非常好，实现正确\n"
          f"  {CORRECT:g} ~ {BUG:g}  suspicious  有点可疑，需要检查\n"
          f"  > {BUG:g}        bug         实现有 bug")

    print("\n在 PyTorch 中看反向传播 — the article's nn.Sequential against the derivation of "
          f"{SCALAR_SPEC.name}:")
    spec = sb.load_spec(SCALAR_SPEC)
    d = sb.backprop(spec.network, spec.values)
    derived = {p: d.gradient_value(p) for p in d.params}
    torch_grads = torch_cross_check()
    if torch_grads is None:
        print("  torch is not installed: skipped (pip install torch to run it)")
        torch_gap = None
    else:
        torch_gap = max(abs(torch_grads[p] - derived[p]) for p in derived)
        for p in derived:
            print(f"  ∂L/∂{p:<4} torch {torch_grads[p]: .4f}   symbackprop {derived[p]: .6f}"
                  f"   (the article's comment: ≈ {ARTICLE_TORCH[p]})")
        print(f"  largest difference {torch_gap:.1e} (torch computes in float32): they agree.")
        off = [p for p in derived if round(derived[p], 4) != ARTICLE_TORCH[p]]
        if off:
            print("  The article's comments are off in the fourth decimal for "
                  + ", ".join(f"∂L/∂{p} ({derived[p]:.6f} rounds to {derived[p]:.4f}, not {ARTICLE_TORCH[p]})"
                              for p in off) + ".")

    return {
        "article_function_error": article_error,
        "max_rel_error_he_init": max(at_init.values()),
        "max_rel_error_spec_values": max(at_spec.values()),
        "max_rel_error_sign_slip": max(slipped.values()),
        "library_max_rel_error": report.max_rel_error,
        "library_verdict": report.verdict,
        "torch_gradients": torch_grads,
        "symbolic_gradients": derived,
        "torch_max_difference": torch_gap,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="accepted for uniformity; no effect")
    main(fast=parser.parse_args().fast)
