"""``take``'s gradient by the backend's scatter-add (`Backend.scatter_add`): values and derivatives to order 2-3
against finite differences on every backend, the memory of the result only (no one-hot matrix of the indices),
an infinite cotangent kept at its index, and the same gradient under ``jax.jit``."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest

import xpgrad


def _r(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape)


@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
def test_derivatives_of_every_order_against_finite_differences(tb, index_dtype: str) -> None:
    idx = [3, 0, 2, 2, -1, -4]  # repeated, and negative
    i = xpgrad.Tensor(tb.arr(idx, index_dtype))
    x1, x2, x3 = tb.arr(_r(4)), tb.arr(_r(3, 4)), tb.arr(_r(4, 2, 3))
    xpgrad.check_grads(lambda t: xpgrad.sin(xpgrad.take(t, i)) * xpgrad.take(t, i), x1, order=3)  # 1-d
    xpgrad.check_grads(lambda t: xpgrad.sin(xpgrad.take(t, i, axis=1)), x2, order=2)
    xpgrad.check_grads(lambda t: xpgrad.exp(xpgrad.take(t, i, axis=0)) * 2, x3, order=2)
    xpgrad.check_grads(lambda t: xpgrad.take(t * t, i, axis=-1) ** 3, tb.arr(_r(2, 4)), order=2)
    # closed forms: repeated indices add up, never-taken elements get 0, float32 stays float32
    t = xpgrad.Tensor(tb.arr([1.0, 2.0, 3.0, 4.0], "float32"))
    g = xpgrad.grad(xpgrad.take(t, i), [t], tb.arr([1.0, 10.0, 100.0, 1000.0, 1e4, 1e5], "float32"))[0]
    assert g.dtype == t.dtype
    want = np.zeros(4, dtype=np.float32)
    np.add.at(want, np.array(idx) % 4, np.array([1.0, 10.0, 100.0, 1000.0, 1e4, 1e5], dtype=np.float32))
    np.testing.assert_array_equal(tb.np(g), want)


def test_complex_values(tb) -> None:
    z = tb.arr(_r(3, 4) + 1j * _r(3, 4, seed=1), "complex128")
    i = xpgrad.Tensor(tb.arr([1, 1, 3], "int64"))
    t = xpgrad.Tensor(z)
    g = xpgrad.grad(xpgrad.take(t, i, axis=1), [t], tb.arr(np.full((3, 3), 1 - 2j), "complex128"))[0]
    assert g.dtype == t.dtype
    np.testing.assert_array_equal(tb.np(g), np.array([[0, 2 - 4j, 0, 1 - 2j]] * 3))


def test_an_infinite_cotangent_stays_at_its_index(tb) -> None:
    if tb.bk.scatter_add is None:
        pytest.skip(f"{tb.id} has no scatter-add: the standard's one-hot product, where inf * 0 is nan elsewhere")
    t = tb.t([1.0, 2.0, 3.0])
    g = xpgrad.grad(xpgrad.take(t, xpgrad.Tensor(tb.arr([2, 0], "int64"))), [t], tb.arr([np.inf, 1.0]))[0]
    assert tb.np(g).tolist() == [1.0, 0.0, np.inf]  # (the one-hot product made it [nan, nan, inf])


@pytest.mark.parametrize("ndim", [1, 2])
def test_the_gradient_allocates_no_one_hot_matrix(ndim: int) -> None:
    # axis length n and k indices: the one-hot product needs k * n elements (8 * 4000 * 3000 bytes = 96 MB
    # here); the scatter-add needs the result, n elements per row (of the order of 32 KB to 100 KB)
    n, k = 4000, 3000
    x = xpgrad.Tensor(_r(*(2,) * (ndim - 1), n))
    i = xpgrad.Tensor(np.random.default_rng(1).integers(0, n, k))
    y = xpgrad.sum(xpgrad.take(x, i, axis=ndim - 1) ** 2)
    tracemalloc.start()
    try:
        g = xpgrad.grad(y, [x])[0]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"peak {peak} bytes: the one-hot matrix takes {8 * n * k}"
    want = np.zeros_like(x.numpy())
    np.add.at(want, (slice(None),) * (ndim - 1) + (i.numpy(),), 2 * np.take(x.numpy(), i.numpy(), axis=-1))
    np.testing.assert_allclose(g.numpy(), want, rtol=1e-15)


def test_under_jax_jit() -> None:
    jax = pytest.importorskip("jax", reason="JAX is not installed (pip install jax)")
    jnp = jax.numpy
    idx = jnp.asarray([2, 0, 2, 1])

    def g(a: Any) -> Any:
        t = xpgrad.Tensor(a)
        return xpgrad.grad(xpgrad.sum(xpgrad.sin(xpgrad.take(t, xpgrad.Tensor(idx), axis=1))), [t])[0].value

    x = jnp.asarray(_r(2, 3))
    want = jax.grad(lambda a: jnp.sum(jnp.sin(jnp.take(a, idx, axis=1))))(x)
    np.testing.assert_allclose(np.asarray(jax.jit(g)(x)), np.asarray(want), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(g(x)), np.asarray(want), rtol=1e-14)
