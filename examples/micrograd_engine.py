"""实现一：the article's micrograd-style scalar engine against the symbolic derivation.

The article builds a tiny reverse-mode engine (`Value`) and runs its example
through it. Here the same engine, written as in the article, computes the
gradients numerically, and symbackprop derives them symbolically from the spec;
the two must agree to machine precision, node by node.

    python examples/micrograd_engine.py
"""
from __future__ import annotations

import math
from pathlib import Path

import symbackprop as sb
from symbackprop.printing.sympy import sympy_text as to_text

SPEC = Path(__file__).resolve().parent.parent / "derivations" / "seed_scalar.toml"


class Value:
    """A scalar that remembers how it was computed (the article's engine)."""

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op
        self.label = label

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def sigmoid(self):
        s = 1 / (1 + math.exp(-self.data))
        out = Value(s, (self,), "sigmoid")

        def _backward():
            self.grad += s * (1 - s) * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exp):
        out = Value(self.data ** exp, (self,), f"**{exp}")

        def _backward():
            self.grad += exp * (self.data ** (exp - 1)) * out.grad

        out._backward = _backward
        return out

    def __sub__(self, other):
        return self + (-1) * other

    def __rmul__(self, other):
        return self * other

    def __radd__(self, other):
        return self + other

    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()


def engine_gradients(values: dict[str, float]) -> dict[str, float]:
    """The article's forward pass through the engine, then L.backward()."""
    x, y = Value(values["x"]), Value(values["y"])
    w1, w2, b = Value(values["w_1"]), Value(values["w_2"]), Value(values["b"])
    z1 = w1 * x
    a1 = z1.sigmoid()
    z2 = w2 * a1 + b
    a2 = z2.sigmoid()
    L = (a2 - y) ** 2
    L.backward()
    return {"L": L.data, "w_1": w1.grad, "w_2": w2.grad, "b": b.grad,
            "z_1": z1.grad, "a_1": a1.grad, "z_2": z2.grad, "a_2": a2.grad}


def main() -> dict[str, float]:
    spec = sb.load_spec(SPEC)
    d = sb.backprop(spec.network, spec.values)
    engine = engine_gradients(spec.values)
    print(f"L  = {engine['L']:.4f}   (symbolic: {d.loss_value:.4f})")
    worst = 0.0
    for name in ("a_2", "z_2", "w_2", "b", "a_1", "z_1", "w_1"):
        symbolic = d.adjoint_value(name)
        err = abs(symbolic - engine[name])
        worst = max(worst, err)
        print(f"∂L/∂{name:<4} engine {engine[name]: .4f}   symbolic {symbolic: .4f}"
              f"   = {to_text(d.gradient(name))}")
    print(f"largest difference: {worst:.1e}")
    return {"max_abs_difference": worst}


if __name__ == "__main__":
    main()
