"""Property tests over random networks (CI size): every gradient symbackprop gives -- in the
derivation, from ``Derivation.compile()`` and from the module ``symbackprop export``
writes -- against central differences of an independent evaluator built by the generator
from its own tree (tests/randnet.py: mpmath at 40 digits for scalars, NumPy for matrices).

Any disagreement (``max|a - b| / max(1, max|b|) > 1e-6``) or exception fails the test
with the spec. Deterministic: hypothesis derandomized, no example database. Shrinking is
off to keep the run short; ``benchmarks/random_networks.py`` runs thousands and reports the
smallest network of each failure class.

Besides the hypothesis draws, a covering sample (``R.covering_networks``: a few networks
that between them use every function, operator and spelling the reader accepts, listed in
``R.SCALAR_FEATURES`` / ``R.MATRIX_FEATURES``) runs on every test run, so no notation is
left to the luck of the draw.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

import randnet as R  # noqa: E402

SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=False,
                phases=(Phase.explicit, Phase.generate),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def _check(net, tmp_path):
    out = R.compare(net, tmp_path, timeout=20.0)
    if os.environ.get("RANDNET_TIME_ONLY"):  # time a passing run while the package still has bugs
        return
    if not out.ok:
        pytest.fail(f"{', '.join(out.classes())}\n{out.describe()}\n--- spec ---\n{net.toml}", pytrace=False)


@settings(max_examples=60, **SETTINGS)
@given(net=R.scalar_networks())
def test_random_scalar_networks(net, tmp_path):
    _check(net, tmp_path)


@settings(max_examples=25, **SETTINGS)
@given(net=R.matrix_networks())
def test_random_matrix_networks(net, tmp_path):
    _check(net, tmp_path)


@pytest.mark.parametrize("kind", ["scalar", "matrix"])
def test_a_covering_sample_of_networks(kind, tmp_path):
    """Networks that between them use every notation of R.SCALAR_FEATURES / R.MATRIX_FEATURES."""
    nets = R.covering_networks(kind)  # RuntimeError if the generator lost some notation
    failures = []
    for net in nets:
        out = R.compare(net, tmp_path, timeout=20.0)
        if not out.ok:
            uses = ", ".join(sorted(R.features(net) & (R.SCALAR_FEATURES | R.MATRIX_FEATURES)))
            failures.append(f"{', '.join(out.classes())}\n{out.describe()}\n--- uses: {uses}\n"
                            f"--- spec ---\n{net.toml}")
    if failures and not os.environ.get("RANDNET_TIME_ONLY"):
        pytest.fail(f"{len(failures)} of {len(nets)} networks fail\n\n" + "\n\n".join(failures), pytrace=False)


@pytest.mark.parametrize("features", [("residual",), ("gate",), ("shared",), ("reg",), ("transpose",),
                                      ("center",), ("normalize",), ("fn",)])
@pytest.mark.parametrize("loss", ["mse", "bce", "softmax"])
def test_each_matrix_feature_with_each_loss(features, loss, tmp_path):
    import random

    net = R.matrix_network(random.Random(f"{features}:{loss}"), n_layers=3 if "shared" in features else 2,
                           loss=loss, features=features)
    _check(net, tmp_path)


def test_the_error_measure():
    assert R.rel_err(1.0 + 1e-9, 1.0) < 1e-6 < R.rel_err(1.0 + 1e-5, 1.0)
    assert R.rel_err(1e-20, 0.0) < 1e-6  # absolute for small values
    assert R.rel_err(2e6 + 1, 2e6) < 1e-6  # relative for large ones
    assert R.rel_err([[1.0, 2.0]], [1.0, 2.0]) == float("inf")  # a gradient of the wrong shape
    assert R.rel_err(float("nan"), 1.0) == float("inf")
