"""Derivation stays linear in the size of the network (never the composed loss)."""
import random

import pytest
import sympy as sp

from symbackprop import backprop
from symbackprop.generate import explicit_mlp, sigmoid_chain
from symbackprop.spec import spec_from_dict

from helpers import assert_close, central_difference


def derivation_size(d) -> int:
    """Total operation count of every adjoint and local derivative the derivation holds."""
    return sum(sp.count_ops(d.scalar_form(s.adjoint)) + sum(sp.count_ops(d.scalar_form(t.local))
                                                             for t in s.terms)
               for s in d.backward)


def test_expression_size_grows_linearly_with_depth():
    sizes = {}
    for depth in (10, 20, 40):
        spec = spec_from_dict(sigmoid_chain(depth))
        sizes[depth] = derivation_size(backprop(spec.network))
    per_layer = [sizes[k] / k for k in sizes]
    assert max(per_layer) / min(per_layer) < 1.15, sizes
    # and each gradient (in adjoints) has constant size, whatever the depth
    spec = spec_from_dict(sigmoid_chain(40))
    d = backprop(spec.network)
    assert sp.count_ops(d.gradient("w_1")) == sp.count_ops(d.gradient("w_40"))


def test_sixty_layer_chain_matches_central_differences():
    spec = spec_from_dict(sigmoid_chain(60, "tanh"))
    rng = random.Random(1)
    values = {p: rng.uniform(0.9, 1.3) for p in spec.network.params}
    values.update(x=0.7, y=0.2)
    d = backprop(spec.network, values)
    for p in ("w_1", "w_30", "w_60"):
        assert_close(d.gradient_value(p), central_difference(spec.network, values, p), 1e-6)


def test_explicit_4_8_8_1_mlp_matches_central_differences():
    spec = spec_from_dict(explicit_mlp([4, 8, 8, 1], values=True, seed=3))
    d = backprop(spec.network, spec.values)
    assert len(d.params) == 4 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    for p in ("w_1,1,1", "w_1,4,8", "b_1,3", "w_2,5,2", "w_3,8,1", "b_3,1"):
        assert_close(d.gradient_value(p), central_difference(spec.network, spec.values, p), 1e-6)


def test_expression_size_grows_linearly_with_width():
    small = derivation_size(backprop(spec_from_dict(explicit_mlp([4, 4, 4, 1])).network))
    large = derivation_size(backprop(spec_from_dict(explicit_mlp([4, 8, 8, 1])).network))
    edges_small = 4 * 4 + 4 * 4 + 4
    edges_large = 4 * 8 + 8 * 8 + 8
    assert large / small == pytest.approx(edges_large / edges_small, rel=0.2)
