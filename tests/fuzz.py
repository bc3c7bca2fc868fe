r"""Fuzzing symbackprop (issue #12): input generators, hypothesis strategies and the driver.

Every generator takes a :class:`random.Random` (or hypothesis's ``HypothesisRandom``) and
returns a :class:`Case`: a spec as TOML text (read by ``load_spec`` or ``spec_from_toml``) or
as a dict (``spec_from_dict``), the entry points to run it through, claims to verify, a
tiny class to grade, and what is expected of it (``"ok"``: a valid input that must succeed
everywhere; ``"any"``: success or a clean error). The families (:data:`FAMILIES`):

* ``mutation`` -- ``derivations/*.toml`` and ``tests/sources/*.toml`` with characters and
  tokens flipped, inserted, deleted, lines dropped, doubled or swapped;
* ``scalar`` / ``matrix`` -- forward passes from a small grammar (scalar, and batched with
  ``[shapes]``); valid by construction, or with one semantic fault put in;
* ``randnet`` -- the random networks of ``tests/randnet.py`` (valid, values in their domain);
* ``dict`` -- spec dicts for ``spec_from_dict``: NumPy arrays as values, NUL characters in
  names, huge ints, 1e308, nan, 200-digit and 5000-digit numbers, deep nesting ``w({{{…``,
  long products ``w (x x … x)``, names that compile to one Python identifier, …;
* ``text`` -- TOML spec texts with the same and with BOM, CRLF, tabs, escapes;
* ``claims`` -- claims (``\frac{\partial L}{\partial w}``, ``dL/dw``, ``\nabla_W L``, Ng's
  ``dW^{[1]}``, numbers, functions, matrices) against the corpus specs, and graded classes;
* ``injection`` -- ``__import__('os').system('touch CANARY')`` and friends in every field.

:func:`fuzz_one` runs a case through the public entry points (load, derive, the text /
Markdown / LaTeX / JSON writers, ``Derivation.compile()`` and a call, the exported module's
source compiled and called, the gradient check, verify, grade, the graph's Mermaid and DOT
text) under a per-input time bound (SIGALRM, main thread) and returns an :class:`Outcome`:
ok / clean error (a ``SymbackpropError`` of one line) / uncaught exception (type, message and
the innermost frame in symbackprop) / hang. :class:`Runner` runs cases in a forked worker
process, so that a hang inside C code (a 10⁶-digit integer) or a memory blow-up is killed
from outside and reported too; the canary file is looked for after every case.

The generators share no code with symbackprop: what they know of the LaTeX dialect is written
here (and in ``tests/randnet.py``).
"""
from __future__ import annotations

import io
import json
import math
import multiprocessing
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "symbackprop"
TESTS = Path(__file__).resolve().parent
BOUND = 10.0  #: seconds per input
#: the recursion limit a user has (read at import: hypothesis raises it while a test runs)
USER_RECURSION_LIMIT = sys.getrecursionlimit()
CANARY = "CANARY"

if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


# ======================================================================================
# Small helpers for writing TOML
# ======================================================================================
def toml_str(s: str) -> str:
    """A TOML basic string: every control character escaped (NUL too)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else toml_str(k)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v)) if abs(int(v)) < 10 ** 4000 else "9" * 5000  # never str() of a huge int
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return repr(f)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, np.ndarray):
        return toml_value(v.tolist())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def toml_forward(forward: str, rng) -> str:
    """``forward = '''…'''`` (or a basic / multi-line basic string when it must be)."""
    plain = not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", forward.replace("\r\n", "\n"))
    r = rng.random()
    if plain and "'''" not in forward and r < 0.8:
        return "forward = '''\n" + forward + "\n'''" if r < 0.6 else "forward = '''" + forward + "'''"
    if plain and r < 0.9 and '"""' not in forward:
        return 'forward = """\n' + forward.replace("\\", "\\\\") + '\n"""'
    return "forward = " + toml_str(forward)


def spec_text(rng, forward: str, params: list, values: dict | None = None, shapes: dict | None = None,
              extra: dict | None = None) -> str:
    """A TOML spec text from its parts (keys in a drawn spelling)."""
    lines = [toml_forward(forward, rng), "params = " + toml_value(list(params))]
    for k, v in (extra or {}).items():
        lines.append(f"{toml_key(k)} = {toml_value(v)}")
    if shapes:
        lines += ["", "[shapes]"] + [f"{toml_key(k)} = {toml_value(list(v))}" for k, v in shapes.items()]
    if values:
        lines += ["", "[values]"] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _digits(rng, n: int) -> str:
    """``n`` random digits with few draws (a leading 1-9)."""
    out = str(rng.randint(1, 9))
    while len(out) < n:
        out += str(rng.getrandbits(60)).zfill(18)[:18]
    return out[:n]


# ======================================================================================
# The corpus: specs and claims checked in
# ======================================================================================
@dataclass(frozen=True)
class CorpusSpec:
    path: str  #: relative to the repository
    text: str
    data: dict
    params: tuple
    nodes: tuple  #: left-hand sides of ``forward``
    loss: str
    matrix: bool


_CORPUS: list = []


def _lhs_names(forward: str) -> list:
    out = []
    for line in forward.splitlines():
        m = re.match(r"\s*([^=]+?)\s*=", line)
        if m:
            out.append(m.group(1))
    return out


def corpus() -> list:
    """The specs of ``derivations/*.toml`` and ``tests/sources/*.toml`` (read once)."""
    if not _CORPUS:
        files = sorted((ROOT / "derivations").glob("*.toml")) + sorted((ROOT / "tests" / "sources").glob("*.toml"))
        for f in files:
            text = f.read_text(encoding="utf-8")
            try:
                data = tomllib.loads(text)
            except (tomllib.TOMLDecodeError, ValueError):
                continue
            fwd = data.get("forward", "")
            nodes = _lhs_names(fwd) if isinstance(fwd, str) else []
            params = [p for p in data.get("params", []) if isinstance(p, str)]
            loss = data.get("loss") or (nodes[-1] if nodes else "L")
            values = data.get("values") or {}
            matrix = bool(data.get("shapes")) or any(isinstance(v, list) for v in values.values())
            _CORPUS.append(CorpusSpec(str(f.relative_to(ROOT)), text, data, tuple(params), tuple(nodes),
                                      loss, matrix))
    return _CORPUS


_CLAIM_LINES: list = []


def corpus_claims() -> list:
    """Claim lines of ``derivations/*.claims`` (comments dropped)."""
    if not _CLAIM_LINES:
        for f in sorted((ROOT / "derivations").glob("*.claims")):
            for line in f.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.lstrip().startswith("%"):
                    _CLAIM_LINES.append(line.strip())
    return _CLAIM_LINES


# ======================================================================================
# Injection payloads (the canary)
# ======================================================================================
INJECTIONS = [
    "__import__('os').system('touch CANARY')",
    "open('CANARY','w')",
    "`touch CANARY`",
    "$(touch CANARY)",
    "{{7*7}}",
    "${7*7}",
    '"""; open("CANARY", "w"); """',
    "'''\nopen('CANARY','w')\n'''",
    "\"\"\"\n__import__('os').system('touch CANARY')\n\"\"\"",
    "\\\"\"\"\n__import__('os').system('touch CANARY')\n#",
    "'); open('CANARY','w'); ('",
    "\"); open(\"CANARY\",\"w\"); (\"",
    "\n__import__('os').system('touch CANARY')\n",
    "eval(\"open('CANARY','w')\")",
    "exec('open(\"CANARY\",\"w\")')",
    "\x00open('CANARY','w')",
    "\\immediate\\write18{touch CANARY}",
    "\\input{CANARY}",
    "{0.__class__.__mro__}",
    "%(x)s %s {x}",
    "]]; open('CANARY','w'); [[",
    "a; import os; os.system('touch CANARY')",
    "x = __import__('os').system('touch CANARY')",
    "lambda: open('CANARY','w')",
    "\\x00\\n\\r $(touch CANARY) `touch CANARY`",
]


def injection(rng) -> str:
    return rng.choice(INJECTIONS)


# ======================================================================================
# Scalar forward passes from a grammar
# ======================================================================================
#: leaf spellings (LaTeX, key) for a letter and an index; the key is what params/[values] use
def _leaf_spelling(rng, letter: str, i: int):
    r = rng.random()
    if r < 0.45:
        return f"{letter}_{i}", f"{letter}_{i}"
    if r < 0.65:
        return f"{letter}_{{{i}}}", rng.choice([f"{letter}_{i}", f"{letter}_{{{i}}}"])
    if r < 0.75:
        g = rng.choice(["theta", "alpha", "beta", "mu", "omega", "kappa"])
        return f"\\{g}_{{{i}}}", rng.choice([f"\\{g}_{i}", f"\\{g}_{{{i}}}"])
    if r < 0.82:
        return f"{letter}^{{({i})}}", rng.choice([f"{letter}^({i})", f"{letter}^{{({i})}}"])
    if r < 0.88:
        return f"\\hat{{{letter}}}_{{{i}}}", f"\\hat{{{letter}}}_{i}"
    if r < 0.94:
        return f"\\text{{{letter}{'abc'[i % 3]}}}", f"{letter}{'abc'[i % 3]}"
    return f"{letter}_{{{i}{i}}}", f"{letter}_{i}{i}"


#: squashing wraps: bounded output whatever the input ('@' is the argument)
SQUASH = [r"\sigma(@)", r"\sigma\left(@\right)", r"\tanh(@)", r"\tanh\left(@\right)", r"\sin(@)", r"\cos(@)",
          r"\mathrm{sigmoid}(@)", r"\operatorname{tanh}(@)", r"\frac{@}{1 + |@|}", r"\frac{1}{1 + e^{-(@)}}"]
#: wraps that are safe on a moderate argument (not on an unbounded one)
MODERATE = [r"\mathrm{ReLU}(@)", r"\max(0, @)", r"\mathrm{LeakyReLU}(@)", r"\mathrm{ELU}(@)",
            r"\mathrm{GELU}(@)", r"\mathrm{softplus}(@)", r"|@|", r"\exp(@)", r"e^{@}", r"\ln(1 + (@)^2)",
            r"\sqrt{1 + (@)^2}", r"(@)^2", r"(@)^{3}", r"\left(@\right)^2", r"@", r"-(@)", r"\frac{1}{2}(@)",
            r"\max(@, 0.5)", r"\min(@, 1)", r"\mathrm{LeakyReLU}(@, 0.2)", r"\mathrm{ELU}(@, 1.5)",
            r"\cosh(@)", r"\sinh(@)"]
NUMBERS = ["2", "3", "0.5", "1.5", "0.25", r"\frac{1}{2}", "2.5e-1", r"\pi", "0.1", "4"]
PRODUCT = [" ", r" \cdot ", r" \times ", " · ", " × "]


@dataclass
class ScalarNet:
    forward: str
    params: list
    values: dict | None
    nodes: list  #: LaTeX of the defined nodes
    leaves: list  #: keys of the leaves
    loss: str
    extra: dict = field(default_factory=dict)


def scalar_net(rng, n_nodes: int | None = None, values: bool | None = None) -> ScalarNet:
    """A valid scalar network: every value finite, bounded, in its function's domain."""
    n = n_nodes if n_nodes is not None else rng.randint(1, 8)
    lr = rng.random() < 0.3
    moderate = [w for w in MODERATE if not lr or not re.search(r"exp|e\^|cosh|sinh|\{3\}", w)]
    letters = ["w", "x", "b", "c", "u", "v", "p", "q"]
    n_leaves = rng.randint(1, 5)
    leaves = []  # (tex, key)
    seen_keys = set()
    for i in range(n_leaves):
        tex, key = _leaf_spelling(rng, letters[i % len(letters)], i + 1)
        canon = re.sub(r"[{}]", "", key)
        if canon in seen_keys:
            tex, key = f"{letters[i % len(letters)]}_{i + 1}", f"{letters[i % len(letters)]}_{i + 1}"
            canon = key
        seen_keys.add(canon)
        leaves.append((tex, key))
    # bounded: leaves and squashed nodes (|v| <= ~2); moderate nodes may only read bounded ones
    bounded = [t for t, _ in leaves]
    every = list(bounded)
    lines, node_tex = [], []
    node_letters = ["z", "a", "h", "s", "g", "k", "r", "t"]
    used = set()
    for j in range(n):
        name = f"{node_letters[j % len(node_letters)]}_{{{j + 1}}}" if rng.random() < 0.5 else \
            f"{node_letters[j % len(node_letters)]}_{j + 1}"
        squash = rng.random() < 0.6
        pool = every if squash else bounded
        terms = []
        for _ in range(rng.randint(1, 3)):
            r = rng.random()
            a = rng.choice(pool)
            used.add(a)
            if r < 0.35:
                t = a
            elif r < 0.6:
                t = rng.choice(NUMBERS) + " " + a if rng.random() < 0.7 else f"{rng.choice(NUMBERS)} \\cdot {a}"
            elif r < 0.85:
                b = rng.choice(pool)
                used.add(b)
                t = a + rng.choice(PRODUCT) + b
            else:
                t = rng.choice(SQUASH).replace("@", a)
            terms.append(t)
        inner = terms[0]
        for t in terms[1:]:
            inner += rng.choice([" + ", " - ", " − "]) + t
        wrap = rng.choice(SQUASH if squash else moderate)
        expr = wrap.replace("@", inner)
        lines.append(f"{name} = {expr}")
        node_tex.append(name)
        every.append(name)
        if squash:
            bounded.append(name)
    out = node_tex[-1] if node_tex else rng.choice(bounded)
    used.add(out)
    target = rng.choice(["y", r"y^{target}", r"\hat{y}", "t"])
    loss_name = rng.choice(["L", r"\mathcal{L}", "E", "J", "C"])
    loss = rng.choice([f"({out} - {target})^2", f"\\frac{{1}}{{2}}({out} - {target})^2",
                       f"\\left({out} - {target}\\right)^2", f"|{out} - {target}|",
                       f"({out} - {target})^2 + {rng.choice(bounded)}^2"])
    lines.append(f"{loss_name} = {loss}")
    forward = "\n".join(lines)
    used_leaves = [(t, k) for t, k in leaves if t in forward]
    if not used_leaves:
        used_leaves = leaves[:1]
    k = rng.randint(1, len(used_leaves))
    params = [key for _, key in rng.sample(used_leaves, k)]
    vals = None
    if values if values is not None else rng.random() < 0.75:
        vals = {}
        for _, key in used_leaves:
            v = rng.uniform(0.1, 1.5) * rng.choice([1, -1])
            vals[key] = round(v, rng.choice([1, 2, 3, 17]))
        tkey = {"y": "y", r"y^{target}": "y^target", r"\hat{y}": r"\hat{y}", "t": "t"}[target]
        vals[tkey] = round(rng.uniform(-1, 1), 3)
    extra = {}
    if lr:
        extra["learning_rate"] = rng.choice([0.1, 0.01, 0.001])
    if rng.random() < 0.15:
        extra["digits"] = rng.randint(0, 8)
    if rng.random() < 0.1:
        extra["mode"] = "hand"
    if rng.random() < 0.1:
        extra["lang"] = "zh"
    if rng.random() < 0.1:
        extra["title"] = rng.choice(["A network", "网络", "Fuzz: σ & tanh", "x_1 \\cdot w"])
    return ScalarNet(forward, params, vals, node_tex, [k for _, k in used_leaves], loss_name, extra)


#: faults put into a valid forward pass (each one a mistake a person might make)
def _fault(rng, net: ScalarNet) -> ScalarNet:
    lines = net.forward.split("\n")
    params, values, extra = list(net.params), dict(net.values or {}), dict(net.extra)
    kind = rng.randrange(24)
    if kind == 0 and len(lines) > 1:  # use before definition
        i = rng.randrange(len(lines) - 1)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif kind == 1:  # redefinition
        lines.insert(rng.randrange(len(lines)), lines[0])
    elif kind == 2:  # unknown function
        lines[0] = lines[0].replace("=", r"= \foo(", 1) + ")"
    elif kind == 3:  # undefined name in the loss... as a parameter
        params.append("nonexistent")
    elif kind == 4:  # a parameter that is not a leaf
        params.append(net.nodes[0] if net.nodes else net.loss)
    elif kind == 5:  # unbalanced brace
        i = rng.randrange(len(lines))
        lines[i] = lines[i] + rng.choice(["{", "}", "(", ")", r"\left(", r"\right)", "|"])
    elif kind == 6:  # w^(1) without braces
        lines[0] = lines[0] + " + w^(1)"
    elif kind == 7:  # an undeclared function call
        lines[0] = lines[0] + r" + \phi(2)"
    elif kind == 8:  # a declared function
        extra["activations"] = {rng.choice(["phi", "\\phi", "φ", "g", "g^{[1]}", "sigma", "relu", "f"]):
                                rng.choice(["relu", "tanh", "gelu", "unknown", "", "max", "sigmoid"])}
        lines[0] = lines[0].replace("=", r"= \phi(", 1) + ")"
    elif kind == 9:  # a value out of the domain
        lines[0] = lines[0] + r" + \ln(" + (net.leaves[0] if net.leaves else "0") + ")"
    elif kind == 10:  # division by zero at the given values
        if net.leaves:
            values[net.leaves[0]] = 0.0
            lines[0] = lines[0] + r" + \frac{1}{" + re.sub(r"_(\w)", r"_{\1}", net.leaves[0]) + "}"
    elif kind == 11:  # a cycle
        lines.append(f"{net.nodes[0] if net.nodes else 'z'} = {net.loss}")
    elif kind == 12:  # a value missing
        if values:
            values.pop(next(iter(values)))
    elif kind == 13:  # a value for a name that is not there
        values["nonexistent"] = 1.0
    elif kind == 14:  # a loss that is not a node
        extra["loss"] = rng.choice(["nonexistent", net.leaves[0] if net.leaves else "w", "", "\x00"])
    elif kind == 15:  # an unknown key
        extra[rng.choice(["learningrate", "Params", "value", "forward2"])] = 1
    elif kind == 16:  # a letter run that is not a node
        lines[0] = lines[0] + " + tax"
    elif kind == 17:  # a prime on a non-function
        lines[0] = lines[0] + " + w'"
    elif kind == 18:  # the sigmoid squared without an argument
        lines[0] = lines[0] + r" + \sigma^2"
    elif kind == 19:  # matrix notation in a scalar network
        lines[0] = lines[0] + rng.choice([r" + \sum x", r" + \|x\|^2", r" + x^\top", r" + x \odot x"])
    elif kind == 20:  # an empty right-hand side
        lines[0] = lines[0].split("=")[0] + "="
    elif kind == 21:  # two spellings of one name in [values]
        if values:
            k = next(iter(values))
            values[k.replace("_", "_{", 1) + "}" if "_" in k and "{" not in k else k + " "] = 1.0
    elif kind == 22:  # an overflow at the given values
        lines[0] = lines[0] + r" + e^{e^{e^{10}}}"
    else:  # a wrong type somewhere
        extra[rng.choice(["learning_rate", "digits", "mode", "lang", "title", "elementwise_powers"])] = \
            rng.choice(["0.1", -1, 99, True, "fr", [1], {"de": "x"}, 1e308, float("nan")])
    return ScalarNet("\n".join(lines), params, values or None, net.nodes, net.leaves, net.loss, extra)


def scalar_case(rng, valid: bool | None = None, full: float = 0.15, max_nodes: int = 8) -> "Case":
    net = scalar_net(rng, rng.randint(1, max_nodes))
    valid = rng.random() < 0.6 if valid is None else valid
    if not valid:
        net = _fault(rng, net)
    text = spec_text(rng, net.forward, net.params, net.values, extra=net.extra)
    info = {"params": net.params, "nodes": net.nodes, "loss": net.loss, "matrix": False}
    return _with_pipeline(rng, Case("scalar" if valid else "scalar-fault", text=text,
                                    expect="ok" if valid else "any", info=info), full)


# ======================================================================================
# Matrix forward passes with [shapes]
# ======================================================================================
MATRIX_ACTS = [r"\sigma(@)", r"\tanh(@)", r"\mathrm{ReLU}(@)", r"\mathrm{softplus}(@)", r"\mathrm{GELU}(@)",
               r"\mathrm{LeakyReLU}(@)", r"\mathrm{ELU}(@)", r"\max(0, @)", r"\sigma\left(@\right)", "@"]


@dataclass
class MatrixNet:
    forward: str
    params: list
    shapes: dict
    values: dict | None
    nodes: list
    loss: str
    extra: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)


def matrix_net(rng, n_layers: int | None = None) -> MatrixNet:
    """A valid batched network ``Z_k = A_{k-1} W_k + b_k``, ``A_k = act(Z_k)``, an MSE-like loss."""
    L = n_layers or rng.randint(1, 3)
    named = rng.random() < 0.8  # dimension names, or numbers
    m = rng.randint(1, 4)
    widths = [rng.randint(1, 4) for _ in range(L + 1)]
    dname = ["n_{in}"] + [f"n_{k}" for k in range(1, L + 1)]
    dims = {"m": m, **{d: w for d, w in zip(dname, widths)}}

    def dim(i):
        return dname[i] if named else widths[i]

    batch = "m" if named or rng.random() < 0.5 else m
    shapes = {"X": [batch, dim(0)]}
    lines, params, nodes = [], [], []
    prev = "X"
    residual = [False] * (L + 1)
    for k in range(2, L + 1):  # a sum of nodes: H_k = A_k + A_{k-1}, layer k as wide as k - 1
        if rng.random() < 0.3:
            residual[k] = True
            widths[k], dname[k] = widths[k - 1], dname[k - 1]
            dims = {"m": m, **{d: w for d, w in zip(dname, widths)}}
    for k in range(1, L + 1):
        t = rng.random() < 0.25  # stored transposed
        shapes[f"W_{k}"] = [dim(k), dim(k - 1)] if t else [dim(k - 1), dim(k)]
        bias = rng.random() < 0.8
        if bias:
            shapes[f"b_{k}"] = rng.choice([[dim(k)], [1, dim(k)]])
        prod = rng.choice([" ", r" \cdot "])
        wt = f"W_{k}" + (rng.choice([r"^\top", "^T", r"^{\top}"]) if t else "")
        z = f"{prev}{prod}{wt}" + (f" + b_{k}" if bias else "")
        lines.append(f"Z_{k} = {z}")
        act = rng.choice(MATRIX_ACTS)
        lines.append(f"A_{k} = {act.replace('@', f'Z_{k}')}")
        nodes += [f"Z_{k}", f"A_{k}"]
        params += [f"W_{k}"] + ([f"b_{k}"] if bias else [])
        if residual[k]:
            lines.append(f"H_{k} = A_{k} + {prev}")
            nodes.append(f"H_{k}")
            prev = f"H_{k}"
        else:
            prev = f"A_{k}"
    shapes["Y"] = [batch, dim(L)]
    loss = rng.choice([r"\frac{1}{m}\|@ - Y\|^2", r"\|@ - Y\|^2", r"\sum (@ - Y) \odot (@ - Y)",
                       r"\frac{1}{2}\left\|@ - Y\right\|^2", r"\sum (@ - Y)^{\circ 2}"])
    if "m" not in str(batch) and r"\frac{1}{m}" in loss:
        loss = loss.replace(r"\frac{1}{m}", r"\frac{1}{2}")
    if rng.random() < 0.2:
        loss += r" + \frac{\lambda}{2}\|W_1\|^2"
        shapes["\\lambda"] = []
    lines.append("L = " + loss.replace("@", prev))
    nodes.append("L")
    vals = None
    if rng.random() < 0.7:
        vals = {}
        for name, shp in shapes.items():
            size = [dims[d] if isinstance(d, str) else d for d in shp]
            a = np.round(np.array([rng.uniform(-1, 1) for _ in range(int(np.prod(size)) if size else 1)]), 3)
            vals[name] = a.reshape(size).tolist() if size else float(a[0])
        if "\\lambda" in vals:
            vals["\\lambda"] = 0.1
    params = [p for p in params if rng.random() < 0.85] or params[:1]
    return MatrixNet("\n".join(lines), params, shapes, vals, nodes, "L", sizes=dims)


def _matrix_fault(rng, net: MatrixNet) -> MatrixNet:
    lines = net.forward.split("\n")
    shapes = {k: list(v) for k, v in net.shapes.items()}
    values = dict(net.values or {})
    extra, params = dict(net.extra), list(net.params)
    kind = rng.randrange(14)
    if kind == 0:  # a product that does not conform
        shapes["W_1"] = list(reversed(shapes["W_1"])) + (["q"] if rng.random() < 0.3 else [])
    elif kind == 1:  # a power of a matrix
        lines[0] = lines[0].replace("=", "= (", 1) + ")^2"
    elif kind == 2:  # a transpose too many
        lines[0] = lines[0].replace("X", r"X^\top", 1)
    elif kind == 3:  # a value of the wrong size
        if values:
            k = rng.choice(sorted(values))
            values[k] = rng.choice([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [[1.0], [2.0, 3.0]], [], [[[1.0]]], 1.0,
                                    [[float("nan")]], [[1e308, 1e308]], "matrix"])
    elif kind == 4:  # a shape that is not a shape
        k = rng.choice(sorted(shapes))
        shapes[k] = rng.choice([[-1], [0], ["m", 0], [1.5], [True], ["m", "m", "m", "m"], [10 ** 30], [""],
                                ["\x00"], [[1]], ["n_{in}", "n_{in}"]])
    elif kind == 5:  # elementwise powers
        extra["elementwise_powers"] = rng.choice([True, False, "yes", 1])
        lines[-1] = "L = \\sum (" + lines[-1].split("=", 1)[1] + ")^2"
    elif kind == 6:  # a Hadamard product of mismatched shapes
        lines.insert(-1, r"G = X \odot Y")
    elif kind == 7:  # a sum over a scalar
        lines[-1] = lines[-1] + r" + \sum_{i=1}^{m} \lambda"
        shapes["\\lambda"] = []
        values["\\lambda"] = 0.5
    elif kind == 8:  # a matrix without a shape
        lines.insert(-1, r"Q = X V")
    elif kind == 9:  # a loss that is a matrix
        lines[-1] = "L = A_1 - Y"
    elif kind == 10:  # a scalar activation of a matrix node named like a function
        lines[0] = lines[0].replace("=", r"= \phi(", 1) + ")"
        extra["activations"] = {"phi": rng.choice(["relu", "softmax", "max", "nope"])}
    elif kind == 11:  # softmax across the wrong axis
        lines.insert(-1, r"P = \operatorname{softmax}(Z_1)")
    elif kind == 12:  # a shared weight with a clashing shape
        lines.insert(-1, r"S = W_1 W_1")
    else:  # a numeric matrix literal in the forward pass
        lines.insert(-1, r"N = \begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}")
    return MatrixNet("\n".join(lines), params, shapes, values or None, net.nodes, net.loss, extra, net.sizes)


def matrix_case(rng, valid: bool | None = None, full: float = 0.2) -> "Case":
    net = matrix_net(rng)
    valid = rng.random() < 0.6 if valid is None else valid
    if not valid:
        net = _matrix_fault(rng, net)
    text = spec_text(rng, net.forward, net.params, net.values, net.shapes, extra=net.extra)
    info = {"params": net.params, "nodes": net.nodes, "loss": net.loss, "matrix": True}
    return _with_pipeline(rng, Case("matrix" if valid else "matrix-fault", text=text,
                                    expect="ok" if valid else "any", info=info), full)


def randnet_case(rng, max_nodes: int = 10, full: float = 0.5) -> "Case":
    """A network of tests/randnet.py (valid, values away from kinks and poles)."""
    import randnet as R

    if rng.random() < 0.6:
        net = R.scalar_network(rng, rng.randint(3, max_nodes))
        nodes = [tex for _, tex, _ in net.meta["nodes"]]
        info = {"params": list(net.params), "nodes": nodes, "loss": "L", "matrix": False}
    else:
        net = R.matrix_network(rng, rng.randint(1, 3))
        m = re.search(r"forward = '''\n(.*?)\n'''", net.toml, re.S)
        info = {"params": list(net.params), "nodes": _lhs_names(m.group(1)) if m else [], "loss": "L",
                "matrix": True}
        if info["nodes"]:
            info["loss"] = info["nodes"][-1]
    return _with_pipeline(rng, Case("randnet", text=net.toml, expect="ok", info=info), full)


# ======================================================================================
# Claims
# ======================================================================================
def latex_of(key: str) -> str:
    """A LaTeX spelling of a canonical name: ``W_1,2,2`` -> ``W_{1,2,2}``, ``n_in`` -> ``n_{in}``."""
    return re.sub(r"_([^{}_\\\s]{2,})$", r"_{\1}", key)


def _d_name(n: str) -> str:
    """Ng's d-spelling of a name: W^{[1]} -> dW^{[1]}."""
    return "d" + n


def _claim_lhs(rng, info: dict) -> str:
    names = [latex_of(n) for n in info.get("params") or []] + list(info.get("nodes") or [])
    p = rng.choice(names) if names else "w"
    loss = info.get("loss") or "L"
    forms = [rf"\frac{{\partial {loss}}}{{\partial {p}}}", rf"\partial {loss}/\partial {p}",
             rf"\partial {loss} / \partial {p}", rf"d{loss}/d{p}", rf"\frac{{d{loss}}}{{d{p}}}",
             rf"\dfrac{{\partial {loss}}}{{\partial {p}}}", rf"\nabla_{{{p}}} {loss}", rf"\nabla_{p} {loss}",
             _d_name(p), rf"\delta_{rng.randint(1, 3)}", p, rf"\frac{{\partial {rng.choice(names or ['z'])}}}"
             rf"{{\partial {p}}}", rf"\frac{{\partial^2 {loss}}}{{\partial {p}^2}}",
             rf"dW^{{[{rng.randint(1, 3)}]}}", rf"db^{{[{rng.randint(1, 2)}]}}", rf"dZ^{{[{rng.randint(1, 2)}]}}",
             rf"\nabla_{{W}} {loss}", rf"\frac{{\partial {loss}}}{{\partial {p}}}\Big|_{{{p}=0}}",
             rf"\frac{{\partial {loss}}}{{\partial}}", r"\frac{\partial}{\partial w}", "=", ""]
    w = [8, 4, 2, 5, 3, 2, 3, 2, 4, 2, 3, 3, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1]
    return rng.choices(forms, weights=w)[0]


def _number(rng) -> str:
    r = rng.random()
    if r < 0.5:
        return f"{rng.uniform(-3, 3):.{rng.choice([0, 1, 2, 3, 5])}f}"
    return rng.choice(["0", "1", "-1", "0.116", "-1.350", r"\mathbf{-0.296}", r"\mathbf{+0.296}", "2(0.325 - 1.0)",
                       "1e308", "-1e308", "1e-320", "9^{9^{9}}", "10^{400}", r"\infty", "nan", r"\frac{1}{0}",
                       "9" * 200, "0." + "3" * 300, "1" + "0" * rng.choice([20, 400]), r"\sqrt{-1}", "e^{1000}",
                       "2.5e-3", r"\pi", "e", "0.5 \\times 0.5", "5(-3) + 1(1)", "-0", "+0.0", "1,000", "1.2.3"])


def _matrix_literal(rng) -> str:
    rows, cols = rng.randint(1, 3), rng.randint(1, 3)
    cells = [[f"{rng.uniform(-2, 2):.3f}" for _ in range(cols)] for _ in range(rows)]
    if rng.random() < 0.5:
        env = rng.choice(["bmatrix", "pmatrix", "matrix", "vmatrix"])
        body = r" \\ ".join(" & ".join(r) for r in cells)
        if rng.random() < 0.1:
            body += r" \\ 1"  # ragged
        return rf"\begin{{{env}}} {body} \end{{{env}}}"
    return "[" + ", ".join("[" + ", ".join(r) + "]" for r in cells) + "]"


def _claim_rhs(rng, info: dict, depth: int = 0) -> str:
    names = list(info.get("params") or []) + list(info.get("nodes") or [])
    n = rng.choice(names) if names else "w"
    loss = info.get("loss") or "L"
    r = rng.random()
    if depth == 0 and r < 0.06:  # the shapes that break readers: depth, length, size
        k = rng.choice([50, 101, 300, 1000])
        return rng.choice(["(" * k + n + ")" * k, n + f" {n}" * k, "9" * (k * 5), "1e999999", r"\frac{1}{" * k + n + "}" * k,
                           "-" * k + n, n + "^{2}" * k, r"\sigma(" * k + n + ")" * k, "{" * k, n + " + 1" * k,
                           rf"\frac{{\partial {loss}}}{{\partial {n}}}" * k, r"\begin{bmatrix}" * k, "\x00" + n])
    if r < 0.25:
        atom = _number(rng)
    elif r < 0.4:
        atom = rf"\frac{{\partial {loss}}}{{\partial {n}}}"
    elif r < 0.55:
        atom = n
    elif r < 0.7:
        atom = rng.choice([r"\sigma(@)", r"\sigma'(@)", r"\tanh'(@)", r"\mathrm{ReLU}'(@)", r"g'(@)", r"(1 - @)",
                           r"@(1 - @)", r"1 - @^2", r"\tanh(@)", r"\mathbb{1}[@ > 0]", r"e^{@}", r"\ln @",
                           r"@^\top", r"\sum_{i=1}^{m} @", r"\sum @", r"\frac{1}{m} @", r"g^{[1]'}(@)",
                           r"np.sum(@, axis=1, keepdims=True)", r"@ * @", r"\|@\|^2"]).replace("@", n)
    elif r < 0.8 and info.get("matrix"):
        atom = _matrix_literal(rng)
    elif r < 0.85:
        atom = injection(rng)
    else:
        atom = rng.choice(corpus_claims()).split("=")[-1] if corpus_claims() else "0"
    if depth < 2 and rng.random() < 0.4:
        op = rng.choice([" + ", " - ", r" \cdot ", " ", r" \times ", r" \odot ", " / ", "^"])
        other = _claim_rhs(rng, info, depth + 1)
        atom = f"{atom}{op}{{{other}}}" if op == "^" else f"{atom}{op}{other}"
    if depth == 0 and rng.random() < 0.1:
        atom += rng.choice([r" \qquad \in \mathbb{R}^{m \times n_1}", r" \in \mathbb{R}^{2}", r" \in \mathbb{R}",
                            r" \in \mathbb{R}^{1 \times 1}"])
    return atom


def claims(rng, info: dict) -> list:
    """1-4 claims (lines, chains, align rows, $$ blocks) about a network with these names."""
    out = []
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.1 and corpus_claims():
            line = rng.choice(corpus_claims())
        else:
            lhs = _claim_lhs(rng, info)
            parts = [_claim_rhs(rng, info) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
            rel = rng.choice(["=", "=", "=", r"\approx", "&="])
            line = lhs + f" {rel} " + f" {rel} ".join(parts)
        r = rng.random()
        if r < 0.1:
            line = f"$${line}$$"
        elif r < 0.15:
            line = r"\begin{align}" + line.replace(" = ", " &= ", 1) + r" \\ \end{align}"
        elif r < 0.2:
            line = line + " % a comment"
        elif r < 0.23:
            line = line.replace("=", "=\n  ", 1)
        out.append(line)
    return out


def _grade_files(rng, info: dict) -> dict:
    files = {}
    for i in range(rng.randint(1, 3)):
        lines = claims(rng, info)
        kind = rng.choice([".claims", ".tex", ".md", ".txt"] + ([""] if i else []))
        name = rng.choice(["alice", "bob", "carol", "李雷", "d\x00ve" if rng.random() < 0.05 else "dave"]) + str(i)
        if kind == ".tex":
            body = "\\begin{align}\n" + " \\\\\n".join(l.replace("=", "&=", 1) for l in lines) + "\n\\end{align}\n"
        elif kind == ".md":
            body = "# Homework\n\n" + "\n\n".join(f"$${l}$$" for l in lines) + "\n"
        else:
            body = "\n".join(lines) + "\n"
        r = rng.random()
        if r < 0.1:
            body = "\ufeff" + body
        elif r < 0.2:
            body = body.replace("\n", "\r\n")
        elif r < 0.25:
            body = body.replace(" ", "\t")
        data: Any = body
        if rng.random() < 0.08:
            data = body.encode("utf-8") + rng.choice([b"\xff\xfe", b"\x80", b"\xc3"])
        elif rng.random() < 0.05:
            data = body.encode("utf-16")
        files[name.replace("\x00", "") + kind] = data
    return files


def _rubric(rng, info: dict, valid: bool = False):
    """A rubric table (None: one point per claim); with faults unless ``valid``."""
    if rng.random() < 0.6:
        return None
    steps = []
    targets = list(info.get("params") or ["w"])
    rng.shuffle(targets)
    for i in range(rng.randint(1, min(3, len(targets)) if valid else 3)):
        if valid:
            p = latex_of(targets[i])
            loss = info.get("loss") or "L"
            target = rng.choice([rf"\frac{{\partial {loss}}}{{\partial {p}}}", rf"\partial {loss}/\partial {p}"])
            step = {"name": f"step {i}", "target": target, "points": rng.choice([1, 2, 0.5, 3])}
        else:
            step = {"name": rng.choice([f"step {i}", "dL/dw", "", "\x00", injection(rng)]),
                    "target": _claim_lhs(rng, info),
                    "points": rng.choice([1, 2, 0.5, 0, -1, 10 ** 30, float("nan"), "2", 1e308])}
            if rng.random() < 0.1:
                step.pop(rng.choice(sorted(step)))
        steps.append(step)
    return {"step": steps} if valid or rng.random() < 0.95 else {"steps": steps}


def claims_case(rng) -> "Case":
    """A corpus spec (unchanged) with generated claims to verify, sometimes a class to grade."""
    spec = rng.choice(corpus())
    info = {"params": list(spec.params), "nodes": list(spec.nodes), "loss": spec.loss, "matrix": spec.matrix}
    grade = None
    if rng.random() < 0.3:
        grade = {"files": _grade_files(rng, info), "rubric": _rubric(rng, info, valid=True),
                 "format": rng.choice(["text", "json", "csv", "markdown"]), "mapping": rng.random() < 0.3}
    stages = ("load", "verify") + (("grade",) if grade else ())
    return Case("claims", text=spec.text, stages=stages, claims=claims(rng, info), grade=grade, expect="ok",
                info=info, note=spec.path)


# ======================================================================================
# Adversarial forward passes, dicts and TOML texts
# ======================================================================================
def adversarial_forward(rng) -> tuple:
    """(forward, params, values or None) of the shapes the issue lists, and more of their kind."""
    k = rng.randrange(34)
    n = rng.choice([10, 50, 99, 100, 101, 200, 500])
    vals = {"w": rng.choice([1.0, 0.5, -2.0])}
    if k == 0:
        return rng.choice(["z=0w", "z = 0w", "z = 0 w", "z=00w", "z = 0.0w", "z = 1e0w", "z = 0w_1"]), ["w"], None
    if k == 1:
        return "z = w(" + "{" * n, ["w"], None
    if k == 2:
        return "z = w (" + " ".join("x" * n) + ")", ["w"], rng.choice([None, {"w": 2.0, "x": 1.01}])
    if k == 3:
        return rng.choice(["z = 9^{9^{9}} w", "z = 9^{9^{9^{9}}} w", "z = 2^{2^{2^{2^{2}}}} w", "z = 10^{10^{6}} w"]), \
            ["w"], rng.choice([None, vals])
    if k == 4:
        return rng.choice(["z = 1e999999 w", "z = 1e309 w", "z = 1e-999999 w", "z = 1e99999999 w"]), ["w"], \
            rng.choice([None, vals])
    if k == 5:
        return "z = " + _digits(rng, rng.choice([200, 1000, 5000])) + " w\nL = z^2", ["w"], rng.choice([None, vals])
    if k == 6:
        return "z = " + "(" * n + "w" + ")" * n + "\nL = z^2", ["w"], vals
    if k == 7:
        return "z = w" + " + w" * rng.choice([100, 1000, 3000]) + "\nL = z^2", ["w"], vals
    if k == 8:
        return "z = " + "-" * n + "w\nL = z^2", ["w"], vals
    if k == 9:
        return "z = " + r"\sqrt{" * n + "w" + "}" * n + "\nL = z^2", ["w"], {"w": 2.0}
    if k == 10:
        return "z = " + r"\frac{1}{" * min(n, 120) + "w" + "}" * min(n, 120) + "\nL = z^2", ["w"], vals
    if k == 11:
        lines = ["a_0 = w"] + [f"a_{{{i}}} = a_{{{i - 1}}} + w" for i in range(1, rng.choice([100, 400]))]
        return "\n".join(lines) + f"\nL = a_{{{len(lines) - 1}}}^2", ["w"], vals
    if k == 12:
        return r"a = \mathrm{GELU}(w)" + "\nL = a^2", ["w"], {"w": rng.choice([-100.0, -1000.0, -38.0, 1e308, -1e308])}
    if k == 13:
        return "z = w^{w^{w^{w}}}\nL = z^2", ["w"], {"w": rng.choice([2.0, 3.0, 10.0, -1.0])}
    if k == 14:
        return "z = e^{e^{e^{w}}}\nL = z", ["w"], {"w": rng.choice([1.0, 10.0, 100.0])}
    if k == 15:
        f = rng.choice([r"\ln(w)", r"\frac{1}{w}", "w^{-1}", r"\sqrt{w}", "|w|", r"\max(w, w)", "w^{0.5}",
                        r"\log_{w}(2)", r"\sqrt[w]{2}", "0^{w}", "w^{0}", r"\tan(w)"])
        return f"z = {f}\nL = z^2", ["w"], {"w": rng.choice([0.0, -1.0, -0.0, 1e-320, math.pi / 2])}
    if k == 16:
        return "z = w_{" + "1" * rng.choice([100, 5000]) + "} x\nL = z^2", ["w_{" + "1" * 100 + "}"], None
    if k == 17:
        return r"z = \text{" + "a" * rng.choice([100, 10000]) + "} w\nL = z^2", ["w"], None
    if k == 18:
        return "z = w " + r"\cdot w " * rng.choice([50, 500, 2000]) + "\nL = z", ["w"], vals
    if k == 19:
        return "z = " + r"\sigma(" * n + "w" + ")" * n + "\nL = z", ["w"], vals
    if k == 20:
        return "z = w" + "^{2}" * rng.choice([2, 10, 60]) + "\nL = z", ["w"], {"w": 1.5}
    if k == 21:
        return "L = (y)", ["w"], rng.choice([None, {"y": 1.0, "w": 1.0}])
    if k == 22:
        return "z = w x\nL = (y)", ["w"], rng.choice([None, {"y": 1.0, "w": 1.0, "x": 2.0}])
    if k == 23:
        return "z = w x" + "\n" * rng.choice([1, 1000]) + "L = z^2", ["w"], None
    if k == 24:
        return "z\x00 = w\x00 x\nL = z\x00^2", [rng.choice(["w\x00", "w"])], None
    if k == 25:
        return "z = w x\nL = z^2" + "\n%" + "x" * 100, ["w"], None
    if k == 26:
        return r"z = \begin{bmatrix} w & 1 \\ 2 & 3 \end{bmatrix}" + "\nL = \\sum z", ["w"], None
    if k == 27:
        return r"z = \frac{\partial w}{\partial x}" + "\nL = z^2", ["w"], None
    if k == 28:
        return "z = w x\nL = z^2\nL = z", ["w"], None
    if k == 29:
        terms = " + ".join(f"w_{{{i}}}" for i in range(rng.choice([50, 500])))
        return "L = " + terms, [f"w_{{{i}}}" for i in range(3)], None
    if k == 30:
        return "z = " + "w " * rng.choice([2, 20, 200]) + "\nL = z", ["w"], {"w": rng.choice([2.0, 1e10])}
    if k == 31:
        return rng.choice(["z = w x \\\\ L = z^2", "z = w x; L = z^2", "z := w x\nL = z^2", "z = w x\nL == z^2",
                           "z = w x\n= z^2", "= w\nL = z", "z = w x\n\nL = z^2\n\n"]), ["w"], None
    if k == 32:
        vals = {"w": 10 ** 400, "x": 2.0} if rng.random() < 0.5 else {"w": float("nan"), "x": 1.0}
        return "z = w x\nL = z^2", ["w"], vals
    return injection(rng) + " = w\nL = " + injection(rng), ["w"], None


#: pairs of distinct names that a Python identifier writer may map to one identifier
IDENTIFIER_TWINS = [("w_{1,2}", "w_{12}"), ("w_{1,2}", r"\text{w\_1\_2}"), (r"\hat{y}", r"\text{y\_hat}"),
                    (r"\lambda", r"\text{lambda\_}"), ("a'", r"\text{a\_prime}"), (r"w^{(1)}", "w_1"),
                    (r"W^{[1]}", "W_1"), (r"\text{x\_}", "x"), ("w_{1,1}", "w_{1_1}"), (r"\text{np}", "n p"),
                    (r"\text{loss\_and\_grad}", "w"), (r"\text{arrays}", "w"), (r"\text{def}", "w"),
                    (r"\text{\_\_import\_\_}", "w"), (r"\text{\_by\_identifier}", "w"), (r"\text{erf}", "w"),
                    ("ŷ", r"\hat{y}"), ("μ_B", r"\mu_B"), ("x_{ab}", r"\text{x\_ab}"), ("w_{a,b}", "w_{a_b}")]


def _twin_forward(rng) -> tuple:
    a, b = rng.choice(IDENTIFIER_TWINS)
    fwd = f"z = {a} \\cdot {b}\nL = (z - y)^2" if b not in ("w", "x", "n p") else f"z = {a} \\cdot w\nL = z^2"
    params = [a, b] if b not in ("n p",) else [a]
    return fwd, params


def _weird_value(rng):
    return rng.choice([np.float64(0.5), np.float32(0.5), np.int64(3), np.array(0.5), np.array([0.5]),
                       np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1, 2], [3, 4]]), np.array([True]),
                       np.array(["a"]), np.array([1 + 2j]), np.array([[np.nan, np.inf]]), np.zeros((0,)),
                       np.zeros((2, 0)), np.ones((2, 2, 2)), np.array([1.0, 2.0], dtype=object),
                       10 ** 5000, 10 ** 200, -(10 ** 309), 1e308, -1e308, 5e-324, float("nan"), float("inf"),
                       float("-inf"), -0.0, True, None, "1.0", b"1", [1, [2]], [], [[]], [[1.0], [2.0, 3.0]],
                       [float("nan")], [[10 ** 400]], {"a": 1}, (1.0, 2.0), complex(1, 2),
                       _deep_list(rng.choice([50, 500, 5000])), 1.0, -2.5, 0])


def _deep_list(n: int):
    v: Any = 1.0
    for _ in range(n):
        v = [v]
    return v


def spec_dict(rng) -> dict:
    """A spec dict for ``spec_from_dict``: a valid base with 1-3 adversarial changes."""
    r = rng.random()
    if r < 0.35:
        net = scalar_net(rng)
        d: dict = {"forward": net.forward, "params": list(net.params)}
        if net.values:
            d["values"] = dict(net.values)
        d.update(net.extra)
    elif r < 0.55:
        net = matrix_net(rng)
        d = {"forward": net.forward, "params": list(net.params), "shapes": dict(net.shapes)}
        if net.values:
            d["values"] = {k: (np.array(v) if rng.random() < 0.5 else v) for k, v in net.values.items()}
    elif r < 0.75:
        fwd, params, vals = adversarial_forward(rng)
        d = {"forward": fwd, "params": params}
        if vals:
            d["values"] = dict(vals)
    else:
        base = rng.choice(corpus())
        d = json.loads(json.dumps(base.data))  # a deep copy
    for _ in range(rng.randint(1, 3)):
        try:
            _perturb_dict(rng, d)
        except (TypeError, AttributeError, ValueError, KeyError, IndexError):
            pass  # a change that does not apply to what earlier changes left
    return d


def _perturb_dict(rng, d: dict) -> None:
    k = rng.randrange(20)
    values = d.get("values") if isinstance(d.get("values"), dict) else None
    if k == 0 and values:  # a weird value
        values[rng.choice(sorted(values, key=str))] = _weird_value(rng)
    elif k == 1 and values:  # every list as a NumPy array
        for key in list(values):
            if isinstance(values[key], list):
                try:
                    values[key] = np.array(values[key], dtype=rng.choice([float, np.float32, int, object]))
                except (ValueError, TypeError):
                    pass
    elif k == 2:  # a NUL character in a name
        where = rng.choice(["params", "values", "forward", "loss", "shapes", "activations"])
        if where == "params" and isinstance(d.get("params"), list) and d["params"]:
            d["params"][0] = d["params"][0] + "\x00"
        elif where == "values" and values:
            key = next(iter(values))
            values[key + "\x00"] = values.pop(key)
        elif where == "forward" and isinstance(d.get("forward"), str):
            i = rng.randrange(len(d["forward"]) + 1)
            d["forward"] = d["forward"][:i] + "\x00" + d["forward"][i:]
        elif where == "loss":
            d["loss"] = "L\x00"
        elif where == "shapes":
            if not isinstance(d.get("shapes"), dict):
                d["shapes"] = {}
            d["shapes"]["\x00"] = ["m"]
        else:
            d["activations"] = {"\x00": "relu"}
    elif k == 3:  # a huge or odd learning rate
        d["learning_rate"] = rng.choice([10 ** 200, 10 ** 5000, 1e308, float("nan"), float("inf"), -1, 0, -0.0,
                                         np.float64(0.1), np.array(0.1), "0.1", 1e-320, True])
    elif k == 4:
        d["digits"] = rng.choice([-1, 16, 10 ** 100, True, np.int64(3), 3.0, "3", None, 15, 0])
    elif k == 5:
        d[rng.choice(["mode", "lang"])] = rng.choice(["hand", "zh", "HAND", "", None, "\x00", 1, ["en"], "en\x00"])
    elif k == 6:
        d["title"] = rng.choice(["\x00", "a" * 10000, {"en": "x", "fr": "y"}, {}, {"en": 1}, ["t"], 1,
                                 injection(rng), {"en": injection(rng), "zh": "标题"}, '"""', "\\", "}{", "$$"])
    elif k == 7:
        d["activations"] = rng.choice([{"phi": "relu"}, {"phi": "nope"}, {"sigma": "tanh"}, {"\\sigma": "relu"},
                                       {"phi": 3}, [], "relu", {"": "relu"}, {"phi": ""}, {"x": "relu"},
                                       {"w": "tanh"}, {"phi": "softmax"}, {"phi" * 100: "relu"}])
    elif k == 8:
        if not isinstance(d.get("shapes"), dict):
            d["shapes"] = {}
        shapes = d["shapes"]
        key = rng.choice(sorted(shapes, key=str) or ["w"])
        shapes[key] = rng.choice([["m", -1], [0], [10 ** 100], ["m", "m"], [1.5], [True], ["n"] * 64, [[1]],
                                  "m", None, [], [np.int64(2)], ["\x00"], ["m", ""], [2 ** 63]])
    elif k == 9:  # the forward pass replaced by an adversarial one
        fwd, params, vals = adversarial_forward(rng)
        d["forward"], d["params"] = fwd, params
        if vals:
            d["values"] = dict(vals)
        else:
            d.pop("values", None)
        d.pop("shapes", None)
        d.pop("loss", None)
    elif k == 10:  # twins: two names, one Python identifier
        d["forward"], d["params"] = _twin_forward(rng)
        d.pop("values", None)
        d.pop("shapes", None)
        d.pop("loss", None)
        if rng.random() < 0.5:
            d["values"] = {p: 0.5 for p in d["params"]} | {"y": 1.0}
    elif k == 11:
        d["params"] = rng.choice([[], "w", [1], [None], ["w", "w"], ["w"] * 1000, [["w"]], ("w",), None,
                                  [injection(rng)], ["w_{1"], [""]])
    elif k == 12:
        d["forward"] = rng.choice(["", " ", None, 1, ["z = w"], b"z = w", "\n\n", "%", "z = w x\r\nL = z^2",
                                   "\ufeffz = w x\nL = z^2", "z = w x\rL = z^2", "z = w\tx\nL = z^2"])
    elif k == 13:
        d[rng.choice(["extra", "Forward", "", "\x00", "values "])] = 1
    elif k == 14:
        d["elementwise_powers"] = rng.choice([True, 1, "true", None, np.bool_(True)])
    elif k == 15:
        d["values"] = rng.choice([[], "x", None, 1, {}, {"w": {"a": 1}}])
    elif k == 16:
        d["shapes"] = rng.choice([[], "x", None, {}, {"w": {"m": 1}}])
    elif k == 17 and values:  # two spellings of one name
        key = next(iter(values))
        twin = {"w_1": "w_{1}", "x_1": "x_{1}", "b": "{b}"}.get(key, key + " ")
        values[twin] = 0.5
    elif k == 18:
        d["loss"] = rng.choice(["nonexistent", "", 1, None, "w", r"\mathcal{L}", "L ", "l"])
    else:  # values, params and shapes keys in another Unicode normal form
        if values:
            key = next(iter(values))
            values["ｗ" if key == "w" else key.upper()] = 1.0


def dict_case(rng) -> "Case":
    d = spec_dict(rng)
    return _with_pipeline(rng, Case("dict", kind="dict", data=d, expect="any", info=_info_of_dict(d)), 0.1)


def _info_of_dict(d: dict) -> dict:
    fwd = d.get("forward") if isinstance(d.get("forward"), str) else ""
    params = [p for p in d.get("params") or [] if isinstance(p, str)] if isinstance(d.get("params"), list) else []
    nodes = _lhs_names(fwd)
    return {"params": params, "nodes": nodes, "loss": nodes[-1] if nodes else "L", "matrix": bool(d.get("shapes"))}


def text_case(rng) -> "Case":
    """An adversarial TOML spec text."""
    r = rng.random()
    if r < 0.4:
        fwd, params, vals = adversarial_forward(rng)
        extra = {}
    elif r < 0.7:
        net = scalar_net(rng)
        fwd, params, vals, extra = net.forward, net.params, net.values, dict(net.extra)
    else:
        fwd, params = _twin_forward(rng)
        vals, extra = ({p: 0.5 for p in params} | {"y": 1.0}) if rng.random() < 0.5 else None, {}
    if rng.random() < 0.3:
        extra["learning_rate"] = rng.choice([0.1, 10 ** 199, 1e308, float("nan"), float("inf"), -1, 0])
    text = spec_text(rng, fwd, params, vals, extra=extra)
    for _ in range(rng.randint(0, 3)):
        text = _perturb_text(rng, text)
    return _with_pipeline(rng, Case("text", text=text, expect="any",
                                    info={"params": params, "nodes": _lhs_names(fwd), "loss": "L", "matrix": False}),
                          0.1)


def _perturb_text(rng, text: str) -> str:
    k = rng.randrange(16)
    if k == 0:
        return "\ufeff" + text
    if k == 1:
        return text.replace("\n", "\r\n")
    if k == 2:
        return text.replace("\n", "\r")
    if k == 3:
        return text.replace(" = ", "\t=\t")
    if k == 4:  # a number with thousands of digits, or 200
        key = rng.choice(["learning_rate", "digits"])
        return text + "\n" + key + " = " + _digits(rng, rng.choice([200, 4301, 5000])) + "\n"
    if k == 5:
        return re.sub(r"= (-?\d+\.\d+)", lambda m: "= " + rng.choice(["1e308", "-1e308", "nan", "inf", "-inf",
                                                                       "1e-400", "+1.5", "0x10", "1_000",
                                                                       "1" + "0" * 400 + ".0", "9" * 200,
                                                                       "0.1e999"]), text, count=1)
    if k == 6:  # a [values] entry with thousands of digits
        entry = "w = " + _digits(rng, rng.choice([300, 4300, 4301, 10000])) + "\n"
        if "[values]" not in text:
            return text + "\n[values]\n" + entry
        return text.replace("[values]\n", "[values]\n" + entry, 1)
    if k == 7:
        return text + "\ntitle = " + toml_str(rng.choice(["\x00", injection(rng), "a\nb", '"""', "\u202e evil"])) + "\n"
    if k == 8:
        return text.replace("forward", rng.choice(["forward ", '"forward"', "'forward'", "Forward", "forward.x"]), 1)
    if k == 9:
        return text + "\n" + rng.choice(["[values]", "[shapes]", "[[values]]", "[values.w]", "params = []",
                                         "forward = 'z = w'", "values = 1", "x = 1979-05-27T07:32:00Z"]) + "\n"
    if k == 10:
        return text + "\n[values]\nw = " + rng.choice(["1979-05-27", "true", "'1.0'", "[1, 'a']", "{a = 1}",
                                                       "[[1, 2], [3]]", "[" * 100 + "1" + "]" * 100, "[]"]) + "\n"
    if k == 11:
        return text.replace("'''", '"""', 2)
    if k == 12:
        return text.replace("\n", "\n" * rng.choice([2, 50]), 3)
    if k == 13:
        return text + "\n#" + "x" * rng.choice([100, 100000]) + "\n"
    if k == 14:
        return "\x00" + text if rng.random() < 0.5 else text + "\x00"
    return text.replace("forward = '''\n", "forward = '''\n" + r"% a comment \frac{" + "\n", 1)


# ======================================================================================
# Mutation of the checked-in specs
# ======================================================================================
_TOKEN = re.compile(r"\\[A-Za-z]+|\d+(?:\.\d+)?|[A-Za-z]+|\s+|.", re.S)
ALPHABET = list("\\{}^_()[]|&$%#'\"=+-*/.,;:!<>~ \n\t0123456789abcxyzwLWZAδσ") + \
    ["α", "·", "×", "−", "⊙", "∘", "²", "′", "\x00", "\ufeff", "\r", "苹", "ŷ", "\u200b", "\ud7ff"]
TOKENS = [r"\frac", r"\sigma", r"\tanh", r"\mathrm{ReLU}", "^{", "}", "{", "_{", r"\left(", r"\right)", r"\sum",
          r"\|", r"\odot", r"^\top", "^T", "0", "1e308", "9^{9^{9}}", "1e999999", "'''", '"""', "[values]",
          "[shapes]", "=", "\n", r"\partial", r"\mathbb{R}", "^{[1]}", "^{(2)}", "'", r"\text{", r"\operatorname{",
          r"\begin{bmatrix}", r"\end{bmatrix}", "&", r"\\", "nan", "inf", "-", "+", r"\cdot", "(", ")", "[", "]",
          "x", "w", "W", "Z", "L", r"\sqrt{", r"\ln", "e^{", r"\max(", ",", "|", "%", "#", "\x00", "9" * 200]


def mutate(rng, text: str, n_ops: int | None = None) -> str:
    """``text`` with 1-8 character, token or line edits."""
    for _ in range(n_ops or rng.choice([1, 1, 1, 2, 2, 3, 4, 8])):
        k = rng.randrange(10)
        if not text:
            text = rng.choice(TOKENS)
            continue
        if k <= 2:  # characters
            i = rng.randrange(len(text))
            c = rng.choice(ALPHABET)
            text = (text[:i] + c + text[i + 1:], text[:i] + c + text[i:], text[:i] + text[i + 1:])[k]
        elif k <= 6:  # tokens
            toks = _TOKEN.findall(text)
            i = rng.randrange(len(toks))
            if k == 3:
                toks[i] = rng.choice(TOKENS)
            elif k == 4:
                toks.insert(i, rng.choice(TOKENS))
            elif k == 5:
                del toks[i]
            elif i + 1 < len(toks):
                toks[i], toks[i + 1] = toks[i + 1], toks[i]
            text = "".join(toks)
        else:  # lines
            lines = text.split("\n")
            i = rng.randrange(len(lines))
            if k == 7:
                del lines[i]
            elif k == 8:
                lines.insert(i, lines[i])
            else:
                j = rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


def mutation_case(rng, full: float = 0.05) -> "Case":
    spec = rng.choice(corpus())
    text = mutate(rng, spec.text)
    info = {"params": list(spec.params), "nodes": list(spec.nodes), "loss": spec.loss, "matrix": spec.matrix}
    return _with_pipeline(rng, Case("mutation", text=text, expect="any", info=info, note=spec.path), full)


# ======================================================================================
# Injection: the canary must never appear
# ======================================================================================
def injection_case(rng) -> "Case":
    payload = injection(rng)
    net = scalar_net(rng, values=True)
    fwd, params, values, extra = net.forward, list(net.params), dict(net.values or {}), dict(net.extra)
    where = rng.randrange(12)
    if where == 0:
        extra["title"] = payload
    elif where == 1:
        extra["title"] = {"en": payload, "zh": payload}
    elif where == 2:  # a \text{} name
        fwd = fwd.replace(net.nodes[0], r"\text{" + payload + "}", 1) if net.nodes else fwd
    elif where == 3:
        params.append(payload)
    elif where == 4:
        values[payload] = 1.0
    elif where == 5:
        extra["loss"] = payload
    elif where == 6:
        extra["activations"] = {"phi": payload} if rng.random() < 0.5 else {payload: "relu"}
    elif where == 7:
        fwd = fwd + "\n% " + payload
    elif where == 8:
        fwd = payload + "\n" + fwd
    elif where == 9 and values:
        values[next(iter(values))] = payload
    elif where == 10:
        extra["mode"] = payload
    else:
        fwd = fwd.replace("=", "= " + payload + " +", 1)
    text = spec_text(rng, fwd, params, values, extra=extra)
    info = {"params": params, "nodes": net.nodes, "loss": net.loss, "matrix": False}
    stages = tuple(s for s in FULL if s != "check")  # the check runs no user text that compile does not
    case = Case("injection", text=text, expect="any", info=info, stages=stages, note=f"payload in field {where}")
    case.claims = [f"{_claim_lhs(rng, info)} = {payload}", f"{payload} = 0"]
    case.grade = {"files": {"mallory.claims": "\n".join(case.claims), f"{payload[:20]}.tex": payload},
                  "rubric": {"step": [{"name": payload, "target": payload, "points": 1}]} if rng.random() < 0.5
                  else None, "format": rng.choice(["text", "json", "csv", "markdown"]), "mapping": rng.random() < 0.5}
    return case


# ======================================================================================
# Cases and outcomes
# ======================================================================================
CHEAP = ("load", "derive", "to_text")
FULL = ("load", "derive", "to_text", "to_markdown", "to_latex", "to_json", "graph", "compile", "compiled_call",
        "export", "check", "verify", "grade")
WRITER_STAGES = ("to_text", "to_markdown", "to_latex", "to_json", "graph")


@dataclass
class Case:
    family: str
    kind: str = "toml"  #: "toml": ``text`` is a spec file's text; "dict": ``data`` goes to spec_from_dict
    text: str = ""
    data: Any = None
    via: str = "text"  #: toml: "text" (spec_from_toml) or "file" (load_spec of a file written with the text)
    stages: tuple = CHEAP
    claims: list = field(default_factory=list)  #: for verify (None: drawn from ``info`` by the driver)
    grade: Optional[dict] = None  #: {"files": {name: str|bytes}, "rubric": dict|None, "format": str, "mapping": bool}
    options: dict = field(default_factory=dict)  #: derive overrides and writer options
    expect: str = "any"  #: "ok": every stage must succeed; "any": ok or a clean error
    oracles: tuple = ("autograd",)  #: for the gradient check
    expected: Optional[dict] = None  #: right results: {"gradient": {p: v}, "loss": v, "rel": tol, "finite": True}
    info: dict = field(default_factory=dict)  #: names: params, nodes, loss, matrix (for claims)
    note: str = ""

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example; describe() has it all
        body = self.text if self.kind == "toml" else short_repr(self.data, 300)
        return f"<Case {self.family} ({self.size()} characters): {compress(body, 300)}>"

    def size(self) -> int:
        if self.kind == "toml":
            return len(self.text)
        return len(short_repr(self.data, 10 ** 9))

    def describe(self, limit: int = 4000) -> str:
        """A reproduction: the entry points and the input (long runs written as repetitions)."""
        head = f"[{self.family}{': ' + self.note if self.note else ''}] stages={','.join(self.stages)}"
        if self.options:
            head += f" options={self.options!r}"
        if self.kind == "toml":
            body = f"spec_from_toml({compress(self.text, limit)})" if self.via == "text" else \
                f"load_spec(<file with text {compress(self.text, limit)}>)"
        else:
            body = f"spec_from_dict({short_repr(self.data, limit)})"
        if "verify" in self.stages and self.claims:
            body += f"\nclaims={short_repr(list(self.claims), 1000)}"
        if "grade" in self.stages and self.grade:
            body += f"\ngrade={short_repr(self.grade, 1000)}"
        return head + "\n" + body


def _with_pipeline(rng, case: Case, full: float) -> Case:
    """Cheap (load, derive, text) for most cases; the full pipeline for a fraction ``full``."""
    case.via = "file" if rng.random() < 0.3 else "text"
    if rng.random() < full:
        case.stages = FULL
        case.claims = claims(rng, case.info)
        if rng.random() < 0.3:
            case.grade = {"files": _grade_files(rng, case.info),
                          "rubric": _rubric(rng, case.info, valid=case.expect == "ok"),
                          "format": rng.choice(["text", "json", "csv", "markdown"]), "mapping": rng.random() < 0.5}
    if rng.random() < 0.25:
        opts = {}
        for key, choices in (("lang", ["en", "zh"]), ("digits", [0, 1, 6, 15]), ("mode", ["exact", "hand"]),
                             ("closed_forms", [True, "nodes", "leaves"]), ("standalone", [True, False]),
                             ("heading", ["chapter", "subsubsection", "paragraph"])):
            if rng.random() < 0.3:
                opts[key] = rng.choice(choices)
        if opts.get("closed_forms") == "leaves" and case.family in ("randnet",):
            opts["closed_forms"] = "nodes"  # the leaf form of a deep network is long by design
        if opts.get("heading") == "chapter" and opts.get("standalone"):
            opts["heading"] = "section"  # an article has no \chapter: refused, rightly
        case.options = opts
    return case


#: outcome statuses, least to most severe
STATUSES = ("ok", "error", "rejected", "wrong", "multiline", "crash", "hang", "canary")
FINDINGS = ("rejected", "wrong", "multiline", "crash", "hang", "canary")


@dataclass
class StageResult:
    stage: str
    status: str  #: ok, error (clean), multiline (a SymbackpropError of several lines), crash, hang, wrong
    exc_type: str = ""
    message: str = ""
    where: str = ""  #: innermost frame in symbackprop: "symbackprop/reader/lower.py:113 in binop"
    origin: str = ""  #: innermost frame anywhere
    seconds: float = 0.0


@dataclass
class Outcome:
    status: str
    stages: list
    seconds: float
    canary: bool = False
    hard: bool = False  #: killed from outside (a hang in C code, or the worker died)
    notes: list = field(default_factory=list)

    @property
    def finding(self) -> Optional[StageResult]:
        """The most severe stage that is a finding (None: acceptable for an "any" case)."""
        bad = [s for s in self.stages if s.status in FINDINGS]
        return max(bad, key=lambda s: STATUSES.index(s.status)) if bad else None

    def acceptable(self, case: Case) -> bool:
        return self.status in ("ok", "error") and not self.canary and (case.expect == "any" or self.status == "ok")

    def signature(self) -> tuple:
        """What identifies a bug: status, stage, exception type, the innermost symbackprop frame."""
        f = self.finding
        if self.canary:
            return ("canary", "", "", "")
        if f is None:
            return (self.status, "", "", "")
        where = f.where
        if f.status == "hang":  # where a hang was interrupted varies; the file and function do not
            where = re.sub(r":\d+ in", " in", where)
        if f.status in ("rejected", "wrong"):
            return (f.status, f.stage, f.exc_type, re.sub(r"\d+(\.\d+)?", "N", f.message)[:80])
        return (f.status, f.stage, f.exc_type, where)

    def report(self, case: Case) -> str:
        lines = [f"status: {self.status} after {self.seconds:.2f} s" + (" (killed from outside)" if self.hard else "")
                 + (" — THE CANARY FILE APPEARED" if self.canary else "")]
        for s in self.stages:
            if s.status != "ok":
                lines.append(f"  {s.stage}: {s.status} {s.exc_type}: {s.message[:500]!r}")
                if s.where or s.origin:
                    lines.append(f"      at {s.where or '-'} (raised in {s.origin or '-'})")
        lines += self.notes
        lines.append("--- reproduction ---")
        lines.append(case.describe())
        return "\n".join(lines)


# ======================================================================================
# The driver
# ======================================================================================
class FuzzTimeout(BaseException):
    """The per-input time bound was hit (a BaseException: ``except Exception`` lets it pass)."""


@contextmanager
def time_bound(seconds: float):
    """SIGALRM after ``seconds`` (main thread only; elsewhere no bound)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise FuzzTimeout(f"no result after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _frames(tb) -> tuple:
    """(innermost frame in symbackprop, innermost frame anywhere) of a traceback."""
    frames = traceback.extract_tb(tb)
    pkg = str(PACKAGE) + os.sep
    ours = [f for f in frames if f.filename.startswith(pkg)]

    def fmt(f):
        name = f.filename
        if name.startswith(str(ROOT) + os.sep):
            name = name[len(str(ROOT)) + 1:]
        else:
            name = re.sub(r".*/(site-packages|lib/python3\.\d+)/", "", name)
        return f"{name}:{f.lineno} in {f.name}"

    return (fmt(ours[-1]) if ours else "", fmt(frames[-1]) if frames else "")


class _StopCase(Exception):
    pass


def canary_paths(workdir: Path | None = None) -> list:
    paths = [ROOT / CANARY, Path.cwd() / CANARY, TESTS / CANARY, Path(tempfile.gettempdir()) / CANARY]
    if workdir is not None:
        paths.append(Path(workdir) / CANARY)
    return paths


def canary_seen(workdir: Path | None = None) -> bool:
    return any(p.exists() for p in canary_paths(workdir))


class _Run:
    def __init__(self, case: Case, workdir: Path, stage_hook: Callable | None = None):
        self.case, self.workdir = case, workdir
        self.results: list = []
        self.hook = stage_hook

    def stage(self, name: str, fn: Callable):
        import symbackprop as sb

        if self.hook:
            self.hook(name)
        t0 = time.perf_counter()
        try:
            value = fn()
        except FuzzTimeout as e:
            where, origin = _frames(e.__traceback__)
            self.results.append(StageResult(name, "hang", "FuzzTimeout", str(e), where, origin,
                                            time.perf_counter() - t0))
            raise _StopCase() from None
        except KeyboardInterrupt:
            raise
        except sb.SymbackpropError as e:
            msg = str(e)
            where, origin = _frames(e.__traceback__)
            status = "multiline" if ("\n" in msg or "\r" in msg or not msg.strip()) else "error"
            if status == "error" and self.case.expect == "ok":
                status = "rejected"
            self.results.append(StageResult(name, status, type(e).__name__, msg[:2000], where, origin,
                                            time.perf_counter() - t0))
            return None
        except BaseException as e:  # noqa: BLE001 - every other exception is a finding
            where, origin = _frames(e.__traceback__)
            try:
                msg = str(e)
            except Exception:  # noqa: BLE001
                msg = "<unprintable>"
            self.results.append(StageResult(name, "crash", type(e).__name__, msg[:2000], where, origin,
                                            time.perf_counter() - t0))
            return None
        self.results.append(StageResult(name, "ok", seconds=time.perf_counter() - t0))
        return value

    # ---- the entry points ------------------------------------------------------------------------
    def run(self):
        import symbackprop as sb
        from symbackprop.spec import load_spec, spec_from_dict, spec_from_toml

        case, stages, opts = self.case, self.case.stages, self.case.options
        if case.kind == "dict":
            spec = self.stage("load", lambda: spec_from_dict(case.data))
        elif case.via == "file":
            path = self.workdir / "spec.toml"
            path.write_bytes(case.text.encode("utf-8", "surrogatepass"))
            spec = self.stage("load", lambda: load_spec(path))
        else:
            spec = self.stage("load", lambda: spec_from_toml(case.text))
        if spec is None:
            return
        d = None
        if "derive" in stages:
            overrides = {k: opts[k] for k in ("digits", "mode", "lang") if k in opts}
            d = self.stage("derive", lambda: sb.derive(spec, **overrides))
        writer = {k: opts[k] for k in ("lang", "closed_forms") if k in opts}
        if d is not None:
            if "to_text" in stages:
                self.stage("to_text", lambda: d.to_text(**writer))
            if "to_markdown" in stages:
                self.stage("to_markdown", lambda: d.to_markdown(**writer))
            if "to_latex" in stages:
                latex = dict(writer, **{k: opts[k] for k in ("standalone", "heading") if k in opts})
                self.stage("to_latex", lambda: d.to_latex(**latex))
            if "to_json" in stages:
                self.stage("to_json", lambda: json.dumps(d.to_json(**writer), ensure_ascii=False))
            if "graph" in stages:
                self.stage("graph", lambda: _graph(d))
            fn = self.stage("compile", d.compile) if "compile" in stages else None
            if fn is not None and "compiled_call" in stages:
                self.stage("compiled_call", lambda: _call(fn, _point(spec, d)))
            if "export" in stages:
                self.stage("export", lambda: _export(d, _point(spec, d)))
        if "check" in stages:
            self.stage("check", lambda: _check(spec, case.oracles))
        if "verify" in stages:
            self.stage("verify", lambda: _verify(spec, case.claims))
        if "grade" in stages and case.grade:
            self.stage("grade", lambda: _grade(spec, case.grade, self.workdir))
        if case.expected and d is not None:
            self.expect(d)

    def expect(self, d):
        exp, rel = self.case.expected, self.case.expected.get("rel", 1e-9)
        wrong = []
        for p, want in exp.get("gradient", {}).items():
            got = d.gradient_value(p)
            if got is None or not _close(got, want, rel):
                wrong.append(f"∂L/∂{p} = {got!r}, expected {want!r}")
        if "loss" in exp and not _close(d.loss_value, exp["loss"], rel):
            wrong.append(f"loss = {d.loss_value!r}, expected {exp['loss']!r}")
        if exp.get("finite") and d.values is not None:
            for n in d.network.order:
                v = d.value(n)
                if not np.all(np.isfinite(np.asarray(v, dtype=float))):
                    wrong.append(f"{n} = {v!r} is not finite")
        if wrong:
            self.results.append(StageResult("expected", "wrong", "WrongResult", "; ".join(wrong)[:2000]))
        else:
            self.results.append(StageResult("expected", "ok"))


def _close(got, want, rel) -> bool:
    try:
        g, w = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
        return g.shape == w.shape and bool(np.all(np.abs(g - w) <= rel * np.maximum(1.0, np.abs(w))))
    except (TypeError, ValueError):
        return False


def _graph(d) -> str:
    from symbackprop.render.graph import annotated_graph, graph_dot, graph_mermaid

    g = annotated_graph(d)
    return graph_mermaid(g) + graph_dot(g)


def _point(spec, d) -> dict:
    """Leaf values to call compiled code with: the derivation's, else drawn (seeded)."""
    net = d.network
    if d.values is not None:
        return {n: d.values[n] if np.ndim(d.values[n]) else float(d.values[n]) for n in net.order
                if net.node(n).is_leaf}
    from symbackprop.check import random_point

    return random_point(net, 0, spec.values)[0]


def _call(fn, point):
    loss, grads = fn(**point)
    np.asarray(loss, dtype=float)
    for g in grads.values():
        np.asarray(g, dtype=float)
    return loss, grads


def _export(d, point):
    from symbackprop.codegen.module import module_source

    source = module_source(d, origin="fuzz.toml")
    namespace: dict = {"__name__": "symbackprop_fuzz_export"}
    exec(compile(source, "<exported module>", "exec"), namespace)  # the exported module, as a user runs it
    return _call(namespace["loss_and_grad"], point)


def _check(spec, oracles):
    from symbackprop.check import gradient_check

    report = gradient_check(spec.network, spec.values, oracles=list(oracles))
    report.to_text()
    json.dumps(report.to_json())
    return report


def _verify(spec, claims_):
    import symbackprop as sb

    report = sb.verify(spec, claims_ if claims_ else r"\frac{\partial L}{\partial w} = 0")
    report.to_text()
    json.dumps(report.to_json(), ensure_ascii=False)
    return report


def _grade(spec, grade: dict, workdir: Path):
    import symbackprop as sb

    if grade.get("mapping"):
        report = sb.grade(spec, dict(grade["files"]), rubric=grade.get("rubric"))
    else:
        cls = Path(tempfile.mkdtemp(prefix="class-", dir=workdir))
        for name, data in grade["files"].items():
            try:
                (cls / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
            except (OSError, ValueError):
                pass  # a name the file system refuses
        rubric = grade.get("rubric")
        if rubric and isinstance(rubric, dict):  # as a file, beside the class
            path = workdir / "rubric.toml"
            try:
                path.write_text(_rubric_toml(rubric), encoding="utf-8")
                rubric = path if _rubric_toml_ok(path) else rubric
            except (OSError, ValueError):
                pass
        report = sb.grade(spec, cls, rubric=rubric)
    report.render(grade.get("format", "text"))
    json.dumps(report.to_json(), ensure_ascii=False)
    return report


def _rubric_toml(rubric: dict) -> str:
    out = []
    for key, steps in rubric.items():
        for s in steps if isinstance(steps, list) else []:
            out.append(f"[[{toml_key(key)}]]")
            for k, v in s.items():
                try:
                    out.append(f"{k} = {toml_value(v)}")
                except TypeError:
                    pass
    return "\n".join(out) + "\n"


def _rubric_toml_ok(path: Path) -> bool:
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
        return True
    except (tomllib.TOMLDecodeError, ValueError):
        return False


def fuzz_one(case: Case, bound: float = BOUND, workdir: str | Path | None = None,
             stage_hook: Callable | None = None) -> Outcome:
    """Run ``case`` through the entry points its ``stages`` name, within ``bound`` seconds in all.

    The working directory is ``workdir`` (a fresh temporary one by default) while it runs, so a
    relative ``CANARY`` lands there; the outcome says whether it appeared anywhere we look.
    """
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="sbfuzz-")) if own else Path(workdir)
    for p in canary_paths(workdir):
        if p.parent == workdir and p.exists():
            p.unlink()
    run = _Run(case, workdir, stage_hook)
    cwd = os.getcwd()
    t0 = time.perf_counter()
    try:
        os.chdir(workdir)
        with warnings.catch_warnings(), np.errstate(all="ignore"), \
                redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                with time_bound(bound):
                    try:
                        run.run()
                    except _StopCase:
                        pass
            except FuzzTimeout as e:  # between stages, in the driver itself
                where, origin = _frames(e.__traceback__)
                run.results.append(StageResult("driver", "hang", "FuzzTimeout", str(e), where, origin))
            except _StopCase:
                pass
    finally:
        os.chdir(cwd)
    seconds = time.perf_counter() - t0
    canary = canary_seen(workdir)
    if own:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    statuses = [r.status for r in run.results] or ["ok"]
    status = max(statuses, key=STATUSES.index)
    if canary:
        status = "canary"
    return Outcome(status, run.results, seconds, canary)


# ======================================================================================
# A worker process: hangs in C code and memory blow-ups are contained
# ======================================================================================
def _worker(conn, bound: float, workdir: str, memory: int | None):
    import faulthandler

    try:
        if memory:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ValueError, OSError):
        pass
    dump = open(Path(workdir) / "faulthandler.txt", "w")
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.setrecursionlimit(USER_RECURSION_LIMIT)  # what a user has, not what hypothesis raised it to

    def hook(stage):
        try:
            conn.send(("stage", stage))
        except (OSError, ValueError):
            pass

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if msg is None:
            break
        try:
            out = fuzz_one(msg, bound, workdir, stage_hook=hook)
        except BaseException as e:  # noqa: BLE001 - the driver itself failed
            out = Outcome("crash", [StageResult("driver", "crash", type(e).__name__, str(e)[:500],
                                                *_frames(e.__traceback__))], 0.0)
        try:
            conn.send(("done", out))
        except (OSError, ValueError, MemoryError):
            break


_WARM: list = []
WARM_SPEC = """forward = '''
z = w x
a = \\sigma(z)
L = (a - y)^2
'''
params = ["w"]
learning_rate = 0.1
[values]
w = 0.5
x = 2.0
y = 1.0
"""


def warm() -> None:
    """Import every entry point and run one small case here, so that forked workers start warm."""
    if _WARM:
        return
    _WARM.append(True)
    fuzz_one(Case("warm", text=WARM_SPEC, stages=FULL, claims=[r"\frac{\partial L}{\partial w} = 0.1"],
                  grade={"files": {"a.claims": "dL/dw = 0.1\n"}, "rubric": None, "format": "text",
                         "mapping": False}), bound=0)


class Runner:
    """Runs cases one at a time in a worker process (restarted after a crash or a hard timeout).

    A case gets ``bound`` seconds (SIGALRM inside the worker); when the worker does not answer
    within ``bound + grace`` seconds (stuck in C code), its Python stack is dumped (faulthandler),
    it is killed and the case is a hang. ``memory`` caps the worker's address space (bytes).
    """

    def __init__(self, bound: float = BOUND, grace: float = 10.0, memory: int | None = 6 * 2 ** 30):
        self.bound, self.grace, self.memory = bound, grace, memory
        self.workdir = Path(tempfile.mkdtemp(prefix="sbfuzz-runner-"))
        self.proc = None
        self.conn = None
        self.stage = ""
        self.case: Optional[Case] = None
        self.started = 0.0

    def _start(self):
        warm()
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, self.bound, str(self.workdir), self.memory),
                                daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def submit(self, case: Case):
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.case, self.stage, self.started = case, "", time.perf_counter()
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 30000))  # a value nested 5000 lists deep pickles recursively
        try:
            self.conn.send(case)
        finally:
            sys.setrecursionlimit(limit)

    def poll(self, timeout: float) -> Optional[Outcome]:
        """The outcome of the submitted case, or None if it is still running after ``timeout``."""
        deadline = self.started + self.bound + self.grace
        end = time.perf_counter() + timeout
        while True:
            left = min(end, deadline) - time.perf_counter()
            try:
                ready = self.conn.poll(max(0.0, left))
            except (OSError, EOFError):
                ready = True
            if ready:
                try:
                    kind, payload = self.conn.recv()
                except (EOFError, OSError):
                    return self._died()
                if kind == "stage":
                    self.stage = payload
                    continue
                out = payload
                if not out.canary and canary_seen(self.workdir):
                    out.canary, out.status = True, "canary"
                return out
            if time.perf_counter() >= deadline:
                return self._kill()
            if time.perf_counter() >= end:
                return None

    def run(self, case: Case) -> Outcome:
        self.submit(case)
        while True:
            out = self.poll(3600)
            if out is not None:
                return out

    def _stack(self) -> tuple:
        path = self.workdir / "faulthandler.txt"
        try:
            size = path.stat().st_size
            os.kill(self.proc.pid, signal.SIGUSR1)
            time.sleep(0.3)
            text = path.read_text(errors="replace")[size:]
        except OSError:
            return "", ""
        frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', text)  # most recent first
        pkg = str(PACKAGE) + os.sep
        ours = [f for f in frames if f[0].startswith(pkg)]

        def fmt(f):
            name = f[0][len(str(ROOT)) + 1:] if f[0].startswith(str(ROOT)) else \
                re.sub(r".*/(site-packages|lib/python3\.\d+)/", "", f[0])
            return f"{name}:{f[1]} in {f[2]}"

        return (fmt(ours[0]) if ours else "", fmt(frames[0]) if frames else "")

    def _kill(self) -> Outcome:
        where, origin = self._stack()
        self.proc.kill()
        self.proc.join(5)
        self.proc = None
        seconds = time.perf_counter() - self.started
        out = Outcome("hang", [StageResult(self.stage or "?", "hang", "Killed",
                                           f"no answer after {seconds:.0f} s (stuck outside Python?)", where, origin,
                                           seconds)], seconds, canary_seen(self.workdir), hard=True)
        if out.canary:
            out.status = "canary"
        return out

    def _died(self) -> Outcome:
        self.proc.join(5)
        code = self.proc.exitcode
        self.proc = None
        seconds = time.perf_counter() - self.started
        out = Outcome("crash", [StageResult(self.stage or "?", "crash", "WorkerDied", f"exit code {code}",
                                            "", "", seconds)], seconds, canary_seen(self.workdir), hard=True)
        if out.canary:
            out.status = "canary"
        return out

    def close(self):
        if self.proc is not None:
            try:
                self.conn.send(None)
                self.proc.join(5)
            except (OSError, ValueError):
                pass
            if self.proc.is_alive():
                self.proc.kill()
            self.proc = None
        import shutil

        shutil.rmtree(self.workdir, ignore_errors=True)


# ======================================================================================
# Families, strategies, and every case of one run
# ======================================================================================
#: family -> (generator, weight in a mixed run)
FAMILIES: dict = {
    "mutation": (mutation_case, 30),
    "scalar": (scalar_case, 14),
    "matrix": (matrix_case, 8),
    "randnet": (randnet_case, 3),
    "dict": (dict_case, 17),
    "text": (text_case, 12),
    "claims": (claims_case, 10),
    "injection": (injection_case, 6),
}


def any_case(rng) -> Case:
    names = list(FAMILIES)
    fam = rng.choices(names, weights=[FAMILIES[n][1] for n in names])[0]
    return FAMILIES[fam][0](rng)


def strategy(generator: Callable):
    """A hypothesis strategy of the cases ``generator(rng)`` makes (it shrinks with the draws)."""
    from hypothesis import strategies as st

    return st.randoms(use_true_random=False).map(generator)


def case_for(seed: int, index: int, family: str | None = None) -> Case:
    """The ``index``-th case of a run seeded ``seed`` (the benchmark's; reproducible one by one)."""
    rng = random.Random(f"symbackprop-fuzz:{seed}:{index}")
    return FAMILIES[family][0](rng) if family else any_case(rng)


# ======================================================================================
# Reproductions: compress, shorten, reduce
# ======================================================================================
def compress(s: str, limit: int = 4000) -> str:
    """A Python expression for ``s`` with long runs written as repetitions (``'{' * 100``)."""
    parts = []
    i, lit = 0, []
    n = len(s)
    while i < n:
        found = None
        for period in range(1, 17):
            unit = s[i:i + period]
            if len(unit) < period:
                break
            j = i + period
            while s[j:j + period] == unit:
                j += period
            reps = (j - i) // period
            if reps * period >= 24 and reps >= (6 if period < 5 else 3):
                found = (unit, reps)
                break
        if found:
            if lit:
                parts.append(repr("".join(lit)))
                lit = []
            parts.append(f"{found[0]!r} * {found[1]}")
            i += len(found[0]) * found[1]
        else:
            lit.append(s[i])
            i += 1
    if lit:
        parts.append(repr("".join(lit)))
    out = " + ".join(parts) if parts else "''"
    return out if len(out) <= limit else out[:limit] + f"… ({len(out)} characters)"


def short_repr(obj, limit: int = 4000) -> str:
    def r(o, depth=0):
        if depth > 12:
            return "…"
        if isinstance(o, str):
            return compress(o, 400)
        if isinstance(o, bool) or o is None:
            return repr(o)
        if isinstance(o, int):
            if abs(o) < 10 ** 50:
                return repr(o)
            k = int(abs(o).bit_length() * math.log10(2))
            k = next((j for j in (k - 1, k, k + 1) if 10 ** j == abs(o)), None)
            return (f"{'-' if o < 0 else ''}10 ** {k}" if k is not None else
                    f"<an int of about {int(abs(o).bit_length() * math.log10(2)) + 1} digits>")
        if isinstance(o, np.ndarray):
            return f"np.array({r(o.tolist(), depth + 1)}, dtype={o.dtype.name!r})" if o.dtype != object else \
                f"np.array({r(o.tolist(), depth + 1)}, dtype=object)"
        if isinstance(o, np.generic):
            return f"np.{type(o).__name__}({o!r})"
        if isinstance(o, dict):
            return "{" + ", ".join(f"{r(k, depth + 1)}: {r(v, depth + 1)}" for k, v in o.items()) + "}"
        if isinstance(o, list):
            if len(o) == 1 and isinstance(o[0], list) and depth > 3:
                d, x = 0, o
                while isinstance(x, list) and len(x) == 1:
                    x, d = x[0], d + 1
                return f"<{d} nested lists around {r(x, depth + 1)}>"
            return "[" + ", ".join(r(x, depth + 1) for x in o[:50]) + (", …" if len(o) > 50 else "") + "]"
        if isinstance(o, tuple):
            return "(" + ", ".join(r(x, depth + 1) for x in o) + ("," if len(o) == 1 else "") + ")"
        if isinstance(o, bytes):
            return repr(o[:200])
        try:
            return repr(o)[:200]
        except Exception:  # noqa: BLE001
            return f"<{type(o).__name__}>"

    out = r(obj)
    return out if len(out) <= limit else out[:limit] + f"… ({len(out)} characters)"


def reduce_case(case: Case, keeps: Callable[[Outcome], bool], run: Callable[[Case], Outcome],
                budget: int = 200) -> Case:
    """A smaller case that still ``keeps`` its finding (greedy: stages, lines, chunks, characters)."""
    import copy

    tries = [0]

    def ok(c: Case) -> bool:
        if tries[0] >= budget:
            return False
        tries[0] += 1
        try:
            return keeps(run(c))
        except Exception:  # noqa: BLE001
            return False

    best = case
    # fewer stages: the finding's own stage and those before it
    for cut in range(1, len(best.stages)):
        c = copy.copy(best)
        c.stages = best.stages[:cut]
        if ok(c):
            best = c
            break
    if best.claims and len(best.claims) > 1:
        for i in range(len(best.claims)):
            c = copy.copy(best)
            c.claims = [best.claims[i]]
            if ok(c):
                best = c
                break
    if best.options:
        c = copy.copy(best)
        c.options = {}
        if ok(c):
            best = c
    if best.kind == "toml":
        best = _reduce_text(best, "text", ok)
    else:
        best = _reduce_dict(best, ok)
    return best


def _reduce_text(case: Case, attr: str, ok) -> Case:
    import copy

    def with_text(t):
        c = copy.copy(case)
        if attr == "text":
            c.text = t
        else:
            c.data = dict(c.data, forward=t)
        return c

    text = case.text if attr == "text" else case.data["forward"]
    best = case
    for unit in ("lines", 64, 16, 4, 1):
        pieces = text.split("\n") if unit == "lines" else [text[i:i + unit] for i in range(0, len(text), unit)]
        sep = "\n" if unit == "lines" else ""
        i = 0
        while i < len(pieces) and len(pieces) > 1:
            cand = pieces[:i] + pieces[i + 1:]
            c = with_text(sep.join(cand))
            if ok(c):
                pieces, best = cand, c
            else:
                i += 1
            if len(pieces) > 400 and unit != "lines":  # long texts: halve runs instead
                break
        text = sep.join(pieces)
        # long runs of one character: halve them while the finding stays
        for m in sorted(set(re.findall(r"((.)\2{19,})", text)), key=lambda x: -len(x[0]))[:3]:
            run_ = m[0]
            while len(run_) > 1:
                shorter = run_[: len(run_) // 2]
                c = with_text(text.replace(run_, shorter, 1))
                if not ok(c):
                    break
                text, run_, best = text.replace(run_, shorter, 1), shorter, c
    return best


def _reduce_dict(case: Case, ok) -> Case:
    import copy

    best = case
    data = best.data
    if not isinstance(data, dict):
        return best
    for key in list(data):
        c = copy.copy(best)
        c.data = {k: v for k, v in best.data.items() if k != key}
        if ok(c):
            best = c
    for table in ("values", "shapes", "activations"):
        t = best.data.get(table)
        if isinstance(t, dict):
            for key in list(t):
                c = copy.copy(best)
                c.data = dict(best.data, **{table: {k: v for k, v in best.data[table].items() if k != key}})
                if ok(c):
                    best = c
    if isinstance(best.data.get("forward"), str):
        best = _reduce_text(best, "forward", ok)
    return best
