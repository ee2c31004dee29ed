"""companion._validate: named-dimension shape checks and explicit random generators."""

import numpy as np
import pytest

from companion._validate import Dims, as_rng


def test_dims_bind_across_arrays_and_multipliers():
    d = Dims("f")
    d.check("Wx", np.zeros((3, 8)), "D 4H")
    assert d["D"] == 3 and d["H"] == 2
    d.check("b", np.zeros(8), "4H")
    with pytest.raises(ValueError, match=r"f: expected Wh of shape \(H, 4H\) = \(2, 8\), got \(2, 6\)"):
        d.check("Wh", np.zeros((2, 6)), "H 4H")


def test_dims_refuse_a_size_that_is_not_a_multiple():
    with pytest.raises(ValueError, match=r"expected b of shape \(4H,\), got \(6,\)"):
        Dims("f").check("b", np.zeros(6), "4H")


def test_same_letter_twice_in_one_array():
    with pytest.raises(ValueError, match=r"expected Wh of shape \(H, H\), got \(2, 3\)"):
        Dims("f").check("Wh", np.zeros((2, 3)), "H H")


def test_as_rng_from_seed_is_reproducible_and_refuses_none():
    assert as_rng(5).normal() == as_rng(5).normal()
    gen = np.random.default_rng(1)
    assert as_rng(gen) is gen
    for bad in (None, 1.5, True):
        with pytest.raises(TypeError, match="int seed or a numpy.random.Generator"):
            as_rng(bad)
