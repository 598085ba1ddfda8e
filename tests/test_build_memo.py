"""The build memo and shared constants (issue 5) keep behaviour: same checks, exact zeros, fresh errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad


def test_constants_are_shared_except_zeros() -> None:
    x, y = xpgrad.Tensor(np.ones(3)), xpgrad.Tensor(np.ones(4))
    assert (x * 2.5).children[1] is (y * 2.5).children[1]
    assert (x * 2).children[1] is not (x * 2.0).children[1]  # int and float constants stay apart
    pos, neg = (x + 0.0).children[1], (x * -0.0).children[1]
    assert pos is not neg and math.copysign(1.0, neg.value) < 0


def test_a_memoized_signature_still_checks_new_operands() -> None:
    a, b = xpgrad.Tensor(np.ones(3)), xpgrad.Tensor(np.ones(3))
    assert (a * b).shape == (3,)
    with pytest.raises(ValueError, match="multiply: shapes"):
        a * xpgrad.Tensor(np.ones(4))
    with pytest.raises(TypeError, match="only"):
        xpgrad.Tensor(np.ones(3, dtype=bool)) * xpgrad.Tensor(np.ones(3, dtype=bool))
    f32 = xpgrad.Tensor(np.ones(3, dtype=np.float32))
    assert (f32 * 0.5).dtype == np.float32 and (f32 * b).dtype == np.float64
