"""Second derivatives of large arrays (issue 5, B5): exact values, and no array pass more than needed.

The pass counts are those of `_lazy.settle_all`, which evaluates every array of a large gradient: a
rewrite that stops firing, or a dropped node that gets evaluated again, shows up here as one more pass.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

import xpgrad
from xpgrad import _build
from xpgrad._lazy import LARGE


def _x() -> np.ndarray:
    return np.random.default_rng(5).uniform(-3, 3, LARGE)


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Op name -> how many arrays `_lazy` evaluated (the passes of large gradient graphs)."""
    seen: Counter[str] = Counter()
    settle = _build.settle

    def counting(node: Any) -> None:
        seen[node.op.name] += 1
        settle(node)

    monkeypatch.setattr(_build, "settle", counting)
    return seen


def test_first_derivative_evaluates_only_what_the_gradient_needs(passes: Counter[str]) -> None:
    a = _x()
    x = xpgrad.Tensor(a)
    (g,) = xpgrad.grad(xpgrad.sum(xpgrad.sin(x) * x), [x])
    # the seed's expand(ones_like(out)) is dropped by 1 * y -> y and never filled
    assert passes == Counter({"cos": 1, "multiply": 1, "add": 1})
    np.testing.assert_array_equal(g.value, np.sin(a) + a * np.cos(a))


def test_a_gradient_that_is_a_freed_node_of_an_earlier_gradient_has_its_value() -> None:
    a, b = _x(), _x()[::-1].copy()
    x, y = xpgrad.Tensor(a), xpgrad.Tensor(b)
    gx, _ = xpgrad.grad(xpgrad.sum(xpgrad.sin(x) * y), [x, y])  # y * cos(x): cos(x) is freed
    (h,) = xpgrad.grad(xpgrad.sum(gx), [y])  # that very cos(x) node
    assert h.op is not None and h.op.name == "cos"
    np.testing.assert_array_equal(h.value, np.cos(a))
