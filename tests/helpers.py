"""Independent numeric truth for tests: central differences on the forward pass alone."""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import sympy as sp

from symbackprop.network import Network
from symbackprop.sympy_form import to_sympy


def forward_loss(net: Network, values: dict[str, float]) -> float:
    """The loss, evaluated node by node with mpmath-backed SymPy numbers (no derivatives)."""
    env = {}
    for name in net.order:
        node = net.node(name)
        if node.is_leaf:
            env[node.symbol] = sp.Float(values[name], 40)
        else:
            env[node.symbol] = sp.Float(to_sympy(node.expr).xreplace(env).evalf(40), 40)
    return float(env[net.node(net.loss).symbol])


def central_difference(net: Network, values: dict[str, float], param: str, eps: float = 1e-6) -> float:
    plus, minus = dict(values), dict(values)
    plus[param] += eps
    minus[param] -= eps
    return (forward_loss(net, plus) - forward_loss(net, minus)) / (2 * eps)


def rel_err(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def assert_close(a: float, b: float, rel: float = 1e-6) -> None:
    assert math.isfinite(a) and math.isfinite(b)
    assert rel_err(a, b) <= rel, (a, b)


def import_file(path, name: str = "grads"):
    """Import a generated module from its file."""
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def export(spec_path, tmp_path, backend: str = "numpy"):
    """``symbackprop export`` of a spec into ``tmp_path``; the file written."""
    from symbackprop.cli import main

    out = tmp_path / f"grads_{backend}_{spec_path.stem}.py"
    assert main(["export", str(spec_path), "-o", str(out), "--backend", backend]) == 0
    return out


def run_without_sympy(module_path, values: dict):
    """Call an exported module's ``loss_and_grad(**values)`` in a fresh interpreter in which
    SymPy and symbackprop cannot be imported; ``(loss, {param: gradient as nested lists})``."""
    code = (
        "import sys, json\n"
        "import numpy as np\n"
        "sys.modules['sympy'] = None\n"
        "sys.modules['symbackprop'] = None\n"
        f"sys.path.insert(0, {str(module_path.parent)!r})\n"
        f"import {module_path.stem} as g\n"
        f"loss, grads = g.loss_and_grad(**{values!r})\n"
        "print(json.dumps([float(loss), {k: np.asarray(v).tolist() for k, v in grads.items()}]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=module_path.parent)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)
