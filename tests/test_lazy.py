"""Large gradients are built first, then evaluated with each intermediate freed after its last use."""

from __future__ import annotations

import numpy as np

import xpgrad
from xpgrad import _remat
from xpgrad._graph import toposort
from xpgrad._lazy import LARGE
from xpgrad._show import format_tree


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, LARGE), rng.uniform(-1, 1, LARGE)


def test_large_gradients_are_right_and_intermediates_freed() -> None:
    a, b = _data()
    x, y = xpgrad.Tensor(a), xpgrad.Tensor(b)
    out = xpgrad.sum(xpgrad.sin(x) * y + xpgrad.exp(x * y) / (1 + y * y))
    gx, gy = xpgrad.grad(out, [x, y])
    ed = np.exp(a * b) / (1 + b * b)
    np.testing.assert_allclose(gx.value, np.cos(a) * b + b * ed, rtol=1e-13)
    np.testing.assert_allclose(gy.value, np.sin(a) + a * ed - 2 * b * ed / (1 + b * b), rtol=1e-12, atol=1e-15)
    forward_graph = {id(n) for n in toposort([out])}
    internal = [n for n in toposort([gx, gy]) if n.op is not None and id(n) not in forward_graph]
    freed = [n for n in internal if n._value is None]
    assert freed and all(n is not gx and n is not gy for n in freed)
    with xpgrad.options(release=False):  # the same graph, every value kept: what each freed node's value must read
        xs, ys = xpgrad.Tensor(a), xpgrad.Tensor(b)
        o = xpgrad.sum(xpgrad.sin(xs) * ys + xpgrad.exp(xs * ys) / (1 + ys * ys))
        kept = [n for n in toposort(xpgrad.grad(o, [xs, ys])) if n.op is not None]
    by_place = dict(zip([n for n in toposort([gx, gy]) if n.op is not None], kept, strict=True))
    for n in freed:  # shown as freed; recomputed when read, and kept from then on
        assert n._remat == _remat.FREED and "(freed;" in format_tree(n).splitlines()[0]
        np.testing.assert_allclose(n.value, by_place[n].value, rtol=1e-13)
        assert n._value is not None and n._remat == _remat.PINNED
    assert all(n.value is not None for n in toposort([out]) if n.op is not None)  # the forward graph keeps its own
    before = gx.value.copy()
    gx.forward()
    np.testing.assert_array_equal(gx.value, before)


def test_second_derivative_recomputes_freed_values() -> None:
    a, _ = _data()
    x = xpgrad.Tensor(a)
    (g,) = xpgrad.grad(xpgrad.sum(xpgrad.sin(x) * x), [x])
    (h,) = xpgrad.grad(xpgrad.sum(g), [x])
    np.testing.assert_allclose(h.value, 2 * np.cos(a) - a * np.sin(a), rtol=1e-12, atol=1e-15)


def test_small_gradients_stay_evaluated_node_by_node() -> None:
    x = xpgrad.Tensor(np.linspace(0, 1, 8))
    (g,) = xpgrad.grad(xpgrad.sum(xpgrad.sin(x) * x), [x])
    assert all(n.value is not None for n in toposort([g]))


def test_a_merged_node_of_a_large_gradient_is_evaluated_once_with_the_rest() -> None:
    # ``y * y``'s rule builds ``g * y`` twice: the second is merged into the first while that one is
    # still unevaluated (deferred), and must not be evaluated eagerly then (its intermediates would
    # never be freed); the result is still right
    a, _ = _data()
    x = xpgrad.Tensor(a)
    y = x
    for _ in range(3):
        y = y * y + y
    out = xpgrad.sum(y)
    (g,) = xpgrad.grad(out, [x])
    expect, yv = np.ones_like(a), a
    chain = []
    for _ in range(3):
        chain.append(yv)
        yv = yv * yv + yv
    for yv in reversed(chain):
        expect = expect * (2 * yv + 1)
    np.testing.assert_allclose(g.value, expect, rtol=1e-12)
    forward_graph = set(toposort([out]))
    internal = [n for n in toposort([g]) if n.op is not None and n not in forward_graph and n is not g]
    large = [n for n in internal if n.shape == a.shape]
    assert large and all(n._value is None for n in large)  # every large gradient intermediate freed


def test_a_large_gradient_never_merges_with_a_value_gone_stale() -> None:
    # sin's rule builds cos(x): the user's cos(x), computed before x was fed again, must be recomputed,
    # not merged as it is (the gradient is built deferred, then evaluated: its merges are checked too)
    x = xpgrad.Tensor(np.full(LARGE, 0.5))
    c = xpgrad.cos(x)
    x.value = np.full(LARGE, 1.0)
    (g,) = xpgrad.grad(xpgrad.sum(xpgrad.sin(x)), [x])
    np.testing.assert_allclose(g.value, np.cos(1.0), rtol=1e-15)
    np.testing.assert_allclose(c.value, np.cos(1.0), rtol=1e-15)  # the merged node is current again


def test_releasing_off_keeps_every_value_of_a_large_gradient() -> None:
    # Found by review: `xpgrad.options(release=False)` still built large gradients deferred, freeing their intermediates
    # and writing results into their buffers, where the README says it keeps everything (the reference the
    # released and lent values are compared with).
    a, b = _data()
    with xpgrad.options(release=False):
        x, y = xpgrad.Tensor(a), xpgrad.Tensor(b)
        out = xpgrad.sum(xpgrad.sin(x) * y + xpgrad.exp(x * y) / (1 + y * y))
        nodes = [n for n in toposort(xpgrad.grad(out, [x, y])) if n.op is not None]
    assert all(n._value is not None and n._remat == 0 for n in nodes)
