"""Gradient speed: symbackprop's exported code against hand-written NumPy, autograd and PyTorch.

Every candidate computes the loss and the batch gradients of the article's
two-layer sigmoid MLP (squared error, averaged over the batch). They are timed
side by side in one process: after a warm-up, each round times a block of calls
of every candidate in turn (the order rotating between rounds), and a ratio is
the median over rounds of (candidate time / hand NumPy time in the same round).

* **hand NumPy** — :func:`hand_numpy.hand_loss_and_grad`, the baseline (1.00×).
* **exported** — the module ``symbackprop export`` writes for the matrix spec
  (``Z_1 = X W_1 + b_1``, …; :mod:`symbackprop.codegen`): in-place NumPy
  with work arrays kept per size, the module's default. **expressions**: the
  same statements printed as NumPy expressions (``inplace=False``, the JAX form).
* **explicit elements** (2-4-1 only) — the scalar spec written one line per
  neuron (:func:`symbackprop.generate.explicit_mlp`) broadcast over the batch
  axis, then averaged over the batch ("per point" leaves out that mean).
* **autograd** — HIPS autograd on the same forward pass; **torch** — PyTorch
  eager, float64 on the CPU, when ``import torch`` works.

Everything runs on one thread (``--threads`` to change): on this 2-core machine,
shared with other work, multi-threaded OpenBLAS was 5-40× slower and erratic.

The allocator matters as much as the arithmetic: glibc gives a fresh array of
more than ~128 KiB new pages (a page fault per 4 KiB on first touch) unless its
thresholds have grown, which depends on what ran before in the process (one
PyTorch call made hand NumPy 2.7× faster at 64-256-10, batch 256). So the
state is fixed: ``--malloc warm`` (the default) restarts the script with glibc's
trim and mmap thresholds at 1 GB, so temporaries are reused memory, the
strongest baseline; ``--malloc default`` keeps glibc's own settings (use it with
``--only exported,expressions``, as the other candidates warm the allocator).

Run ``python benchmarks/gradients.py`` (``--quick`` for a short run, ``--markdown``
for the README table).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable


def _from_argv(option: str, default: str) -> str:
    argv = sys.argv
    return argv[argv.index(option) + 1] if option in argv[:-1] else default


THREADS = _from_argv("--threads", "1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)  # before NumPy or PyTorch load their BLAS

#: glibc reads these at start-up: temporaries come from reused memory, no page faults
WARM_MALLOC = {"MALLOC_TRIM_THRESHOLD_": "1000000000", "MALLOC_MMAP_THRESHOLD_": "1000000000"}
if __name__ == "__main__" and _from_argv("--malloc", "warm") == "warm" \
        and any(os.environ.get(k) != v for k, v in WARM_MALLOC.items()):
    os.environ.update(WARM_MALLOC)
    os.execv(sys.executable, [sys.executable] + sys.argv)  # restart with the allocator settled

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hand_numpy import autograd_loss_and_grad, hand_loss_and_grad, torch_loss_and_grad  # noqa: E402

SIZES = [(2, 4, 1), (64, 256, 10)]
BATCHES = [4, 256, 16384]

#: the article's network in matrix form: the module `symbackprop export` writes for it
MATRIX_SPEC = Path(__file__).resolve().parent.parent / "derivations" / "seed_matrix.toml"


# ---- problems ---------------------------------------------------------------------
def problem(sizes, batch: int, seed: int = 0) -> dict:
    n_in, n_hidden, n_out = sizes
    rng = np.random.default_rng(seed)
    return {
        "X": rng.standard_normal((batch, n_in)),
        "Y": rng.uniform(0, 1, (batch, n_out)),
        "W1": rng.standard_normal((n_in, n_hidden)) * np.sqrt(2 / n_in),
        "b1": rng.standard_normal(n_hidden) * 0.1,
        "W2": rng.standard_normal((n_hidden, n_out)) * np.sqrt(2 / n_hidden),
        "b2": rng.standard_normal(n_out) * 0.1,
    }


def hand(p) -> Callable[[], object]:
    args = (p["X"], p["Y"], p["W1"], p["b1"], p["W2"], p["b2"])
    return lambda: hand_loss_and_grad(*args)


def autograd_candidate(p):
    run = autograd_loss_and_grad()
    args = (p["X"], p["Y"], p["W1"], p["b1"], p["W2"], p["b2"])
    return lambda: run(*args)


def torch_candidate(p):
    import torch

    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k not in ("X", "Y")) for k, v in p.items()}
    run = torch_loss_and_grad()
    args = (t["X"], t["Y"], t["W1"], t["b1"], t["W2"], t["b2"])
    return lambda: run(*args)


_EXPORTED: dict = {}


def explicit_element_module(sizes):
    """The exported scalar module of the explicit-element spec (derived once per size)."""
    if sizes not in _EXPORTED:
        from symbackprop import backprop
        from symbackprop.generate import explicit_mlp
        from symbackprop.spec import spec_from_dict

        spec = spec_from_dict(explicit_mlp(list(sizes)))
        _EXPORTED[sizes] = backprop(spec.network).compile()
    return _EXPORTED[sizes]


def exported_scalar(p, sizes, mean: bool = True):
    """Explicit elements: x_i, y_j are batch vectors (contiguous), weights are numbers."""
    f = explicit_element_module(sizes)
    n_in, n_hidden, n_out = sizes
    kwargs = {f"x_{i + 1}": np.ascontiguousarray(p["X"][:, i]) for i in range(n_in)}
    kwargs.update({f"y_{j + 1}": np.ascontiguousarray(p["Y"][:, j]) for j in range(n_out)})
    for layer, (W, b) in enumerate([(p["W1"], p["b1"]), (p["W2"], p["b2"])], start=1):
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                kwargs[f"w_{layer},{i + 1},{j + 1}"] = float(W[i, j])
        for j in range(W.shape[1]):
            kwargs[f"b_{layer},{j + 1}"] = float(b[j])
    m = p["X"].shape[0]

    if not mean:
        return lambda: f(**kwargs)

    def run():  # per-point gradients, then their batch mean
        loss, grads = f(**kwargs)
        if m <= 4096:  # small batches: one reduction for all (per-call overhead dominates)
            return loss.sum() / m, dict(zip(grads, np.stack(tuple(grads.values())).sum(axis=1) / m))
        return loss.sum() / m, {k: g.sum() / m for k, g in grads.items()}

    return run


_MATRIX: dict = {}


def matrix_module(inplace: bool = True):
    """The exported matrix-form module (derived once; one module serves every size)."""
    if inplace not in _MATRIX:
        from symbackprop import load_spec
        from symbackprop.backprop import backprop as matrix_backprop
        from symbackprop.codegen.module import module_source as matrix_module_source

        net = load_spec(MATRIX_SPEC).network  # its shapes have names: one module, any sizes
        namespace: dict = {}
        exec(matrix_module_source(matrix_backprop(net), inplace=inplace), namespace)  # our own code
        _MATRIX[inplace] = namespace["loss_and_grad"]
    return _MATRIX[inplace]


def exported_matrix(p, inplace: bool = True):
    f = matrix_module(inplace)
    kwargs = {"X": p["X"], "Y": p["Y"], "W_1": p["W1"], "b_1": p["b1"], "W_2": p["W2"], "b_2": p["b2"]}
    return lambda: f(**kwargs)


def check_agreement(p, sizes, candidate) -> None:
    """Every candidate must compute the hand-written numbers before it is timed."""
    loss, grads = hand(p)()
    other_loss, other = candidate()
    other_loss = other_loss.item() if hasattr(other_loss, "item") else float(other_loss)
    assert np.isclose(other_loss, loss, rtol=1e-9), (other_loss, loss)
    if "w_1,1,1" in other:
        n_in, n_hidden, n_out = sizes
        assert np.isclose(float(other["w_1,1,1"]), grads["W1"][0, 0], rtol=1e-9)
        assert np.isclose(float(other[f"b_2,{n_out}"]), grads["b2"][-1], rtol=1e-9)
        return
    for key, value in grads.items():
        got = other.get(key, other.get(key[0] + "_" + key[1]))
        got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got)
        assert np.allclose(got, value, rtol=1e-9, atol=1e-14), key


# ---- timing ----------------------------------------------------------------------
def calls_per_block(fn, target: float) -> int:
    for _ in range(3):  # warm-up
        fn()
    n, elapsed = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target / 4 or n >= 1 << 20:
            return max(1, int(n * target / max(elapsed, 1e-9)))
        n *= 2


def measure(candidates: dict[str, Callable], rounds: int, target: float) -> dict[str, dict]:
    """Interleaved rounds; per candidate the median time per call and median ratio to 'hand'."""
    blocks = {k: calls_per_block(fn, target) for k, fn in candidates.items()}
    times: dict[str, list[float]] = {k: [] for k in candidates}
    names = list(candidates)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            fn, n = candidates[k], blocks[k]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            times[k].append((time.perf_counter() - start) / n)
    base = times["hand"]
    return {k: {"time": statistics.median(t),
                "ratio": statistics.median(a / b for a, b in zip(t, base))}
            for k, t in times.items()}


def run(rounds: int, target: float, sizes=SIZES, batches=BATCHES, only=None) -> list[dict]:
    try:
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    rows = []
    for size in sizes:
        for batch in batches:
            p = problem(size, batch)
            candidates = {"hand": hand(p), "exported": exported_matrix(p),
                          "expressions": exported_matrix(p, inplace=False)}
            notes = []
            if size[0] * size[1] <= 64:  # explicit elements: one line per neuron
                candidates["explicit"] = exported_scalar(p, size)
                candidates["explicit per point"] = exported_scalar(p, size, mean=False)
            candidates["autograd"] = autograd_candidate(p)
            if torch_version:
                candidates["torch"] = torch_candidate(p)
            if only:
                candidates = {k: v for k, v in candidates.items() if k == "hand" or k in only}
            for name, fn in candidates.items():
                if name not in ("hand", "explicit per point"):
                    check_agreement(p, size, fn)
            result = measure(candidates, rounds, target)
            rows.append({"size": "-".join(map(str, size)), "batch": batch, "result": result,
                         "notes": notes})
            print(_line(rows[-1]), file=sys.stderr, flush=True)
    return rows


COLUMNS = ["exported", "expressions", "explicit", "explicit per point", "autograd", "torch"]


def _line(row) -> str:
    res = row["result"]
    cells = [f"{row['size']:>9} batch {row['batch']:>5}: hand {res['hand']['time'] * 1e6:9.1f} µs"]
    cells += [f"{c} {res[c]['ratio']:.2f}×" for c in COLUMNS if c in res]
    return "  ".join(cells + row["notes"])


def markdown(rows) -> str:
    head = ("| size | batch | hand NumPy | exported | exported, expressions | explicit elements "
            "| explicit elements, per point | HIPS autograd | torch eager |")
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        res = row["result"]
        cells = [row["size"], str(row["batch"]), f"{res['hand']['time'] * 1e6:,.1f} µs"]
        for c in COLUMNS:
            text = f"{res[c]['ratio']:.2f}×" if c in res else "—"
            cells.append(f"**{text}**" if c == "exported" else text)
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--block", type=float, default=0.02, help="seconds per timed block")
    parser.add_argument("--quick", action="store_true", help="5 rounds of 5 ms blocks")
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    parser.add_argument("--threads", default="1", help="BLAS / PyTorch threads (default 1)")
    parser.add_argument("--malloc", choices=["warm", "default"], default="warm",
                        help="glibc allocator: thresholds raised (default) or as glibc sets them")
    parser.add_argument("--only", help="candidates besides hand NumPy, comma-separated "
                                       f"({', '.join(COLUMNS)})")
    args = parser.parse_args(argv)
    rounds, block = (5, 0.005) if args.quick else (args.rounds, args.block)
    only = {c.strip() for c in args.only.split(",")} if args.only else None
    rows = run(rounds, block, only=only)
    if args.markdown:
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
