"""Fused GPU kernels (CuPy): the same results as the graph evaluated op by op on CuPy, inf and nan included.

Runs where CuPy can use a CUDA device (``bash ci/gpu.sh``); elsewhere each test is skipped with the reason.
The bounds are those of the CPU kernels (`fuse_cases.same`): elementwise outputs are the same IEEE
operations in the same order with CUDA's math library on both sides; sums differ in summation order
(each thread's running total, then trees over the threads' and the blocks' totals, against CuPy's own
reduction).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpgrad
from conftest import ALL, _reason
from fuse_cases import (
    B1,
    FUSIBLE_OPS,
    finite_sums,
    inputs,
    op_graph,
    placeholders,
    refuses_bad_calls,
    same,
    sums_are_exact,
    unfused,
    with_grads,
)
from xpgrad._fuse import fuse


@pytest.fixture
def gpu_cp() -> Any:
    why = _reason(next(tb for tb in ALL if tb.id == "cupy"))
    if why is not None:
        pytest.skip(f"backend cupy unavailable: {why}")
    import cupy

    return cupy


def _host(outs: list[Any]) -> list[np.ndarray]:
    import cupy

    return [cupy.asnumpy(o) for o in outs]


def _check(gpu_cp: Any, ps: list[Any], outs: list[Any], data: list[np.ndarray], dtype: str) -> Any:
    f = fuse(ps, outs)  # the auto engine on CuPy placeholders: the CUDA kernel
    assert "xpgrad_fused" in f.source  # not the unfused fallback, which would compare the graph with itself
    arrays = [gpu_cp.asarray(a) for a in data]
    got = _host(f(*arrays))
    same(got, _host(unfused(ps, outs)(*arrays)), dtype, data[0].size)
    return got


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("expr", sorted(B1))
def test_b1_fused_equals_unfused_on_the_gpu(gpu_cp: Any, expr: str, dtype: str) -> None:
    ps = placeholders(2, dtype, backend="cupy")
    outs = with_grads(B1[expr](*ps), ps)
    for n in (1, 150, 100_003):  # fewer elements than threads, and more (threads stride)
        _check(gpu_cp, ps, outs, inputs(n, 2, dtype), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_b1_fused_sums_of_many_finite_inputs_on_the_gpu(gpu_cp: Any, dtype: str) -> None:
    ps = placeholders(2, dtype, backend="cupy")
    outs = with_grads(B1["compute"](*ps), ps)
    rng = np.random.default_rng(3)
    data = [rng.uniform(-1, 1, 3_000_001).astype(dtype) for _ in range(2)]  # ~11 elements a thread on an H100
    _check(gpu_cp, ps, outs, data, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [0, 1, 300, 70_000, 1_000_003])  # up to a full grid (8 blocks an SM), each adds many
def test_several_finite_sums_and_means_on_the_gpu(gpu_cp: Any, dtype: str, n: int) -> None:
    ps, outs, data = finite_sums(n, dtype, backend="cupy")
    if n > 0:
        sums_are_exact(_check(gpu_cp, ps, outs, data, dtype), data, dtype)
        return
    f = fuse(ps, outs)
    assert "xpgrad_fused" in f.source  # the CUDA kernel ran, also for no elements
    got = _host(f(*[gpu_cp.asarray(a) for a in data]))
    assert [float(got[k]) for k in (0, 3)] == [0.0, 0.0] and np.isnan(got[1]) and np.isnan(got[4])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", FUSIBLE_OPS)
def test_every_fusible_op_equals_unfused_on_the_gpu(gpu_cp: Any, name: str, dtype: str) -> None:
    ps, outs = op_graph(name, backend="cupy", dtype=dtype)
    _check(gpu_cp, ps, outs, inputs(5000, len(ps), dtype), dtype)


def test_mean_a_constant_gradient_and_a_captured_leaf_on_the_gpu(gpu_cp: Any) -> None:
    (x,) = placeholders(1, backend="cupy")
    w = xpgrad.Tensor(gpu_cp.linspace(0.0, 1.0, 10))
    m, s = xpgrad.mean(x * 3.0), xpgrad.sum(w * x)
    outs = [m, s, *xpgrad.grad(m + s, [x])]
    data = np.arange(10.0)
    _check(gpu_cp, [x], outs, [data], "float64")
    mean, total, gx = _host(fuse([x], outs)(gpu_cp.asarray(data)))
    np.testing.assert_allclose(mean, 13.5)
    np.testing.assert_allclose(total, np.sum(np.linspace(0.0, 1.0, 10) * data))
    np.testing.assert_allclose(gx, 0.3 + np.linspace(0.0, 1.0, 10))


def test_a_captured_cupy_leaf_changed_between_calls_stays_on_the_device(
    gpu_cp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a training loop sets w.value each step: the fused call reads it there, without a host round trip
    (x,) = placeholders(1, backend="cupy")
    w = xpgrad.Tensor(gpu_cp.ones(10))
    f = fuse([x], [xpgrad.sum(w * x)])
    data = gpu_cp.arange(10.0)
    assert float(f(data)[0]) == 45.0
    w.value = gpu_cp.full(10, 2.0)
    monkeypatch.setattr(w._bk, "to_numpy", lambda *a, **k: pytest.fail("a captured CuPy leaf went through the host"))
    assert float(f(data)[0].get()) == 90.0


def test_gpu_inputs_are_checked_on_each_call(gpu_cp: Any) -> None:
    ps = placeholders(2, backend="cupy")
    refuses_bad_calls(fuse(ps, with_grads(B1["memory"](*ps), ps)), gpu_cp)
