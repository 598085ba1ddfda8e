"""Second derivatives of large arrays (issue 5, B5): exact values, and no array pass more than needed.

The pass counts are those of `_opt.large_gradients.settle_all`, which evaluates every array of a large gradient: a
rewrite that stops firing, or a dropped node that gets evaluated again, shows up here as one more pass.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

import xpgrad
from xpgrad._core import build as _build
from xpgrad._core.walk import toposort
from xpgrad._opt.large_gradients import LARGE


def _x() -> np.ndarray:
    return np.random.default_rng(5).uniform(-3, 3, LARGE)


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Op name -> how many arrays `_opt.large_gradients` evaluated (the passes of large gradient graphs)."""
    seen: Counter[str] = Counter()
    settle = _build.settle

    def counting(node: Any, into: Any = None, vals: Any = None) -> None:
        seen[node.op.name] += 1
        settle(node, into, vals)

    monkeypatch.setattr(_build, "settle", counting)
    return seen


def test_first_derivative_evaluates_only_what_the_gradient_needs(passes: Counter[str]) -> None:
    a = _x()
    x = xpgrad.Tensor(a)
    (g,) = xpgrad.grad(xpgrad.sum(xpgrad.sin(x) * x), [x])
    # the seed's expand(ones_like(out)) is dropped by 1 * y -> y and never filled
    assert passes == Counter({"cos": 1, "multiply": 1, "add": 1})
    np.testing.assert_array_equal(g.value, np.sin(a) + a * np.cos(a))


def test_second_derivative_of_sin_x_times_x(passes: Counter[str]) -> None:
    a = _x()
    x = xpgrad.Tensor(a)
    (g,) = xpgrad.grad(xpgrad.sum(xpgrad.sin(x) * x), [x])
    passes.clear()
    (h,) = xpgrad.grad(xpgrad.sum(g), [x])
    # d2 = cos - x*sin + cos: no negative pass (a + (-b) -> a - b), no seed fill, sin(x) shared with the
    # forward graph and cos(x) with the first derivative, whose value it kept (not recomputed)
    assert passes == Counter({"multiply": 1, "subtract": 1, "add": 1})
    assert h.expr() == "cos(t0) - t0 * sin(t0) + cos(t0)"
    np.testing.assert_allclose(h.value, 2 * np.cos(a) - a * np.sin(a), rtol=1e-12, atol=1e-14)


def test_second_derivative_of_a_cube(passes: Counter[str]) -> None:
    a = _x()
    x = xpgrad.Tensor(a)
    (g,) = xpgrad.grad(xpgrad.sum(x**3), [x])
    passes.clear()
    (h,) = xpgrad.grad(xpgrad.sum(g), [x])
    # (1 * 3) * y -> 3 * y: the cotangent 3 is never filled into an array
    assert passes == Counter({"multiply": 2})
    assert h.expr() == "3 * (2 * t0)"
    np.testing.assert_array_equal(h.value, 3 * (2 * a))


def test_a_gradient_that_is_a_freed_node_of_an_earlier_gradient_has_its_value() -> None:
    a, b = _x(), _x()[::-1].copy()
    x, y = xpgrad.Tensor(a), xpgrad.Tensor(b)
    gx, _ = xpgrad.grad(xpgrad.sum(xpgrad.sin(x) * y), [x, y])  # y * cos(x): cos(x) is freed
    (h,) = xpgrad.grad(xpgrad.sum(gx), [y])  # that very cos(x) node
    assert h.op is not None and h.op.name == "cos"
    np.testing.assert_array_equal(h.value, np.cos(a))


def test_a_constant_times_the_seed_is_never_filled(passes: Counter[str]) -> None:
    a = _x()
    x = xpgrad.Tensor(a)
    (g,) = xpgrad.grad(xpgrad.sum(2.5 * xpgrad.sin(x)), [x])
    assert passes == Counter({"cos": 1, "multiply": 1})
    assert g.expr() == "2.5 * cos(t0)"
    np.testing.assert_array_equal(g.value, 2.5 * np.cos(a))


def test_adding_a_negation_is_a_subtraction_bit_for_bit() -> None:
    fi = np.finfo(np.float64)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, fi.smallest_subnormal, fi.max, -fi.max, 1.0, -2.5]
    a = np.array([p for p in special for _ in special])
    b = np.array([q for _ in special for q in special])
    x, y = xpgrad.Tensor(a), xpgrad.Tensor(b)
    with np.errstate(all="ignore"):
        cases = [(x + -y, a + -b), (-y + x, -b + a), (x - -y, a - -b), (1.5 + -y, 1.5 + -b)]
    for built, want in cases:
        assert built.op is not None and built.op.name in ("subtract", "add")
        assert all(c.op is None or c.op.name != "negative" for c in built.children)
        got = built.value
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(got), nan)
        np.testing.assert_array_equal(got[~nan].view(np.uint64), want[~nan].view(np.uint64))
    ints = np.array([0, 1, -1, np.iinfo(np.int64).min, np.iinfo(np.int64).max], dtype=np.int64)
    i, j = xpgrad.Tensor(ints), xpgrad.Tensor(ints[::-1].copy())
    np.testing.assert_array_equal((i + -j).value, ints + -ints[::-1])  # two's complement wraps alike
    u, v = np.array([0, 1, 7], dtype=np.uint8), np.array([7, 1, 0], dtype=np.uint8)
    np.testing.assert_array_equal((xpgrad.Tensor(u) + -xpgrad.Tensor(v)).value, u + -v)


def test_rewrites_keep_second_derivatives_small() -> None:
    x = xpgrad.Tensor(np.linspace(-1, 1, 5), name="x")
    (g,) = xpgrad.grad(xpgrad.sum(xpgrad.sin(x) * x), [x])
    (h,) = xpgrad.grad(xpgrad.sum(g), [x])
    ops = [n.op.name for n in toposort([h]) if n.op is not None]
    assert "negative" not in ops and len(ops) == 5  # cos, sin, x*sin, cos - x*sin, + cos


def test_a_libm_function_of_forward_values_keeps_its_value_other_intermediates_are_freed() -> None:
    a = _x()
    x = xpgrad.Tensor(a)
    out = xpgrad.sum(xpgrad.sin(x) * x)
    (g,) = xpgrad.grad(out, [x])  # sin(x) + x * cos(x)
    forward = {id(n) for n in toposort([out])}
    inner = {n.expr(): n for n in toposort([g]) if n.op is not None and id(n) not in forward and n is not g}
    assert set(inner) == {"cos(t0)", "t0 * cos(t0)"}
    np.testing.assert_array_equal(inner["cos(t0)"].value, np.cos(a))  # a second sweep needs it: kept
    assert inner["t0 * cos(t0)"]._value is None  # nothing needs it again: freed (recomputed if read)


def test_the_seed_divided_is_a_constant_divided(passes: Counter[str]) -> None:
    a = _x() + 4.0
    x = xpgrad.Tensor(a)
    for scale, want in ((None, "1 / t0"), (3.0, "3.0 / t0")):
        passes.clear()
        out = xpgrad.sum(xpgrad.log(x) if scale is None else scale * xpgrad.log(x))
        (g,) = xpgrad.grad(out, [x])
        assert g.expr() == want and passes == Counter({"divide": 1})  # no array of ones, nor of 3s
        np.testing.assert_array_equal(g.value, (1 if scale is None else scale) / a)


def test_the_seed_reaching_a_node_twice_stays_a_constant(passes: Counter[str]) -> None:
    a = _x()
    x = xpgrad.Tensor(a)
    s = xpgrad.sin(x)
    (g,) = xpgrad.grad(xpgrad.sum(s + s), [x])  # ones + ones -> ones * 2, then (1 * 2) * cos(x) -> 2 * cos(x)
    assert g.expr() == "2 * cos(t0)" and passes == Counter({"cos": 1, "multiply": 1})
    np.testing.assert_array_equal(g.value, 2 * np.cos(a))
