"""手算一次完整的反向传播: the article's scalar example, by hand, derived and compiled.

The article pushes x = 2.0, y = 1.0 through z₁ = w₁x, a₁ = σ(z₁), z₂ = w₂a₁ + b,
a₂ = σ(z₂), L = (a₂ − y)² with w₁ = 0.5, w₂ = −1.0, b = 0.0, and works the
gradient out in seven steps, printing three decimals. This script

1. redoes the article's hand calculation in plain Python (the formulas as the
   article writes them) and prints it the way the article does;
2. checks every printed number against the article's own;
3. derives the same gradients with symbackprop (``derivations/seed_scalar.toml``)
   and compiles the derivation to NumPy; all three must agree to rounding error;
4. prints the article's update table (η = 0.1).

    python examples/worked_example.py

The whole worked solution, in English or Chinese:
``symbackprop derive derivations/seed_scalar.toml --lang zh``.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import symbackprop as sb
from symbackprop.printing.sympy import sympy_text as to_text

SPEC = Path(__file__).resolve().parent.parent / "derivations" / "seed_scalar.toml"

#: every number of the article's 手算 section, and its update table
ARTICLE = {
    "z_1": 1.0, "1 + e^{-z_1}": 1.368, "a_1": 0.731, "1 + e^{-z_2}": 3.078, "z_2": -0.731, "a_2": 0.325, "L": 0.456,
    "∂L/∂a_2": -1.350, "∂a_2/∂z_2": 0.219, "∂L/∂z_2": -0.296, "∂L/∂w_2": -0.217,
    "∂L/∂b": -0.296, "∂L/∂a_1": 0.296, "∂a_1/∂z_1": 0.197, "∂L/∂z_1": 0.058,
    "∂L/∂w_1": 0.116,
}
ARTICLE_UPDATED = {"w_1": 0.488, "w_2": -0.978, "b": 0.030}
LEARNING_RATE = 0.1


def sigma(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def by_hand(x: float, y: float, w_1: float, w_2: float, b: float) -> dict[str, float]:
    """The article's forward pass and seven backward steps, formula by formula."""
    h: dict[str, float] = {}
    h["z_1"] = w_1 * x
    h["1 + e^{-z_1}"] = 1 + math.exp(-h["z_1"])
    h["a_1"] = sigma(h["z_1"])
    h["z_2"] = w_2 * h["a_1"] + b
    h["1 + e^{-z_2}"] = 1 + math.exp(-h["z_2"])
    h["a_2"] = sigma(h["z_2"])
    h["L"] = (h["a_2"] - y) ** 2
    h["∂L/∂a_2"] = 2 * (h["a_2"] - y)                            # 第 1 步
    h["∂a_2/∂z_2"] = h["a_2"] * (1 - h["a_2"])                   # 第 2 步
    h["∂L/∂z_2"] = h["∂L/∂a_2"] * h["∂a_2/∂z_2"]                 # 第 3 步
    h["∂L/∂w_2"] = h["∂L/∂z_2"] * h["a_1"]                       # 第 4 步
    h["∂L/∂b"] = h["∂L/∂z_2"] * 1
    h["∂L/∂a_1"] = h["∂L/∂z_2"] * w_2                            # 第 5 步
    h["∂a_1/∂z_1"] = h["a_1"] * (1 - h["a_1"])                   # 第 6 步
    h["∂L/∂z_1"] = h["∂L/∂a_1"] * h["∂a_1/∂z_1"]
    h["∂L/∂w_1"] = h["∂L/∂z_1"] * x                              # 第 7 步
    return h


def print_hand_calculation(h: dict[str, float], v: dict[str, float]) -> None:
    x, y, w1, w2, b = v["x"], v["y"], v["w_1"], v["w_2"], v["b"]
    print("前向传播 (forward pass)")
    print(f"  z₁ = w₁ · x = {w1} × {x} = {h['z_1']:.1f}")
    print(f"  a₁ = σ({h['z_1']:.1f}) = 1 / (1 + e^{{{-h['z_1']:.1f}}}) = 1 / {h['1 + e^{-z_1}']:.3f}"
          f" ≈ {h['a_1']:.3f}")
    print(f"  z₂ = w₂ · a₁ + b = {w2} × {h['a_1']:.3f} + {b:g} = {h['z_2']:.3f}")
    print(f"  a₂ = σ({h['z_2']:.3f}) = 1 / (1 + e^{{{-h['z_2']:.3f}}}) = 1 / {h['1 + e^{-z_2}']:.3f}"
          f" ≈ {h['a_2']:.3f}")
    print(f"  L  = (a₂ − y)² = ({h['a_2']:.3f} − {y})² = {h['L']:.3f}")
    print()
    print("反向传播 (backward pass), the article's seven steps")
    rows = [
        ("第 1 步", "∂L/∂a₂ = 2(a₂ − y)", f"2({h['a_2']:.3f} − {y})", "∂L/∂a_2"),
        ("第 2 步", "∂a₂/∂z₂ = a₂(1 − a₂)", f"{h['a_2']:.3f} × {1 - h['a_2']:.3f}", "∂a_2/∂z_2"),
        ("第 3 步", "∂L/∂z₂ = ∂L/∂a₂ · ∂a₂/∂z₂", f"{h['∂L/∂a_2']:.3f} × {h['∂a_2/∂z_2']:.3f}",
         "∂L/∂z_2"),
        ("第 4 步", "∂L/∂w₂ = ∂L/∂z₂ · a₁", f"{h['∂L/∂z_2']:.3f} × {h['a_1']:.3f}", "∂L/∂w_2"),
        ("", "∂L/∂b  = ∂L/∂z₂ · 1", None, "∂L/∂b"),
        ("第 5 步", "∂L/∂a₁ = ∂L/∂z₂ · w₂", f"{h['∂L/∂z_2']:.3f} × ({w2})", "∂L/∂a_1"),
        ("第 6 步", "∂a₁/∂z₁ = a₁(1 − a₁)", f"{h['a_1']:.3f} × {1 - h['a_1']:.3f}", "∂a_1/∂z_1"),
        ("", "∂L/∂z₁ = ∂L/∂a₁ · ∂a₁/∂z₁", f"{h['∂L/∂a_1']:.3f} × {h['∂a_1/∂z_1']:.3f}", "∂L/∂z_1"),
        ("第 7 步", "∂L/∂w₁ = ∂L/∂z₁ · x", f"{h['∂L/∂z_1']:.3f} × {x}", "∂L/∂w_1"),
    ]
    for label, formula, numbers, key in rows:
        sign = "+" if key == "∂L/∂a_1" else ""  # the article writes +0.296 (the sign flipped)
        value = f"{h[key]:{sign}.3f}"
        middle = f" = {numbers}" if numbers else ""
        print(f"  {label:<5} {formula}{middle} = {value}")


def main(fast: bool = False) -> dict:
    """Print the article's calculation, the derivation and the update table; return the figures.

    ``fast`` changes nothing: the example is already quick.
    """
    spec = sb.load_spec(SPEC)
    values = spec.values
    h = by_hand(**values)
    print_hand_calculation(h, values)

    mismatched = [k for k, printed in ARTICLE.items() if round(h[k], 3) != printed]
    print(f"\nthe article's {len(ARTICLE)} numbers, recomputed to 3 decimals: "
          f"{len(ARTICLE) - len(mismatched)} agree")
    for k in mismatched:
        print(f"  {k}: the article prints {ARTICLE[k]}, it is {h[k]:.4f}")

    # ---- the same, derived symbolically and compiled ----
    d = sb.backprop(spec.network, values, learning_rate=LEARNING_RATE)
    print("\nsymbackprop's derivation (derivations/seed_scalar.toml): the steps it derives")
    derived: dict[str, float] = {"L": d.loss_value}
    for step in d.backward:
        term = step.terms[0]  # one consumer each in this network
        local = d.scalar_form(term.local)
        shown = "" if term.of == d.loss else f"    (∂{term.of}/∂{step.node} = {to_text(local)})"
        print(f"  step {step.number}: ∂L/∂{step.node:<4}= {to_text(d.gradient(step.node)):<24}"
              f"= {step.value: .3f}{shown}")
        derived[f"∂L/∂{step.node}"] = step.value
        if not local.is_Atom:  # σ' steps: the article prints the local derivative too
            derived[f"∂{term.of}/∂{step.node}"] = term.local_value
    loss, grads = d.compile()(**values)
    compiled = {"L": float(loss), **{f"∂L/∂{p}": float(g) for p, g in grads.items()}}

    hand_vs_derived = max(abs(h[k] - v) for k, v in derived.items())
    derived_vs_compiled = max(abs(derived[k] - v) for k, v in compiled.items())
    print(f"\nhand calculation vs derived steps: largest difference {hand_vs_derived:.1e} "
          f"({len(derived)} numbers)")
    print(f"derived steps vs compiled NumPy function: largest difference {derived_vs_compiled:.1e}")

    # ---- 汇总：更新参数 ----
    print(f"\n汇总：更新参数（学习率 η = {LEARNING_RATE}）")
    print("  参数    当前值    梯度      更新后")
    updated = {}
    for p in d.params:
        u = d.updates[p]
        updated[p] = u.updated
        print(f"  {p:<6} {u.current:7.3f}  {u.gradient:+7.3f}  {u.updated:+8.3f}")
    update_mismatched = [p for p, printed in ARTICLE_UPDATED.items() if round(updated[p], 3) != printed]
    print(f"the article's table (w₁ 0.488, w₂ −0.978, b 0.030): "
          f"{'reproduced' if not update_mismatched else 'differs at ' + ', '.join(update_mismatched)}")
    print(f"loss after the step: {d.loss_value:.3f} → {d.loss_after:.3f} "
          "(the article: 损失会从 0.456 下降一点)")

    return {
        "loss": d.loss_value,
        "gradients": {p: d.gradient_value(p) for p in d.params},
        "updated": updated,
        "loss_after": d.loss_after,
        "article_mismatches": mismatched + update_mismatched,
        "hand_vs_derived": hand_vs_derived,
        "derived_vs_compiled": derived_vs_compiled,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="accepted for uniformity; no effect")
    main(fast=parser.parse_args().fast)
