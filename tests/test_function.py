"""Compiled functions: the same numbers as eager evaluation, on every backend, with checked inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import xpgrad

ROOT = Path(__file__).resolve().parents[1]


def _model(tb, p_shape=(None,)):
    x = xpgrad.placeholder(shape=p_shape, dtype="float64", backend=tb.name, device=tb.device, name="x")
    y = xpgrad.placeholder(shape=(), dtype="float64", backend=tb.name, device=tb.device, name="y")
    f = xpgrad.sum(xpgrad.sin(x) * y + xpgrad.exp(x * y) / (1 + y * y))
    gx, gy = xpgrad.grad(f, [x, y])
    (hx,) = xpgrad.grad(xpgrad.sum(gx), [x])
    return x, y, [f, gx, gy, hx]


def test_compiled_equals_eager_bit_for_bit(tb) -> None:
    x, y, outs = _model(tb)
    f = xpgrad.function([x, y], outs)
    for data, yv in (([0.3, -1.2, 2.0], 0.7), ([5.0], -2.5), (np.linspace(-3, 3, 11), 1.5)):
        xa, ya = tb.arr(data), tb.arr(yv)
        got = f(xa, ya)
        x.value, y.value = xa, ya
        for o, g in zip(outs, got, strict=True):
            o.forward()
            np.testing.assert_array_equal(tb.np(g), tb.np(o))
            assert g.dtype == o.value.dtype and g.shape == o.value.shape


def test_graph_built_on_numpy_runs_on_every_backend(tb) -> None:
    x = xpgrad.placeholder(shape=(None,), dtype="float64", backend="numpy", name="x")
    w = xpgrad.Tensor(np.array([2.0, -1.0, 0.5]), name="w")  # captured leaf: moved to the call's backend
    out = xpgrad.sum(w * xpgrad.exp(x) + x)
    f = xpgrad.function([x], [out, out.grad(x)])
    data = np.array([0.1, 0.2, -0.3])
    want = xpgrad.function([x], [out, out.grad(x)])(data)
    got = f(tb.arr(data))
    for g, e in zip(got, want, strict=True):
        np.testing.assert_array_equal(tb.np(g), e)
    w.value = np.array([1.0, 1.0, 1.0])  # captured leaves are read at each call
    np.testing.assert_allclose(float(tb.np(f(tb.arr(data))[0])), np.sum(np.exp(data) + data), rtol=1e-15)


def test_single_output_returns_one_array_and_refeeding_new_shapes(tb) -> None:
    x = xpgrad.placeholder(shape=(2, None), dtype="float32", backend=tb.name, device=tb.device, name="x")
    f = xpgrad.function([x], xpgrad.sum(x * x, axis=1))
    for cols in (1, 4, 7):
        a = np.arange(2 * cols, dtype=np.float32).reshape(2, cols)
        out = f(tb.arr(a, "float32"))
        np.testing.assert_array_equal(tb.np(out), np.sum(a * a, axis=1))
        assert tb.np(out).dtype == np.float32


def test_wrong_arguments_fail_clearly(tb) -> None:
    x = xpgrad.placeholder(shape=(2, None), dtype="float32", backend=tb.name, device=tb.device, name="x")
    f = xpgrad.function([x], [x * 2.0])
    with pytest.raises(ValueError, match=r"argument 0: placeholder 'x' is declared with shape \(2, None\) but was fed"):
        f(tb.arr([[1.0, 2.0, 3.0]], "float32"))
    with pytest.raises(TypeError, match="argument 0: placeholder 'x' is declared with dtype float32 but was fed"):
        f(tb.arr([[1.0], [2.0]], "float64"))
    with pytest.raises(TypeError, match=r"takes 1 array\(s\) \(placeholder 'x'\) but 2 were given"):
        f(tb.arr([[1.0], [2.0]], "float32"), tb.arr([[1.0], [2.0]], "float32"))
    y = xpgrad.placeholder(shape=(2, None), dtype="float32", backend=tb.name, device=tb.device, name="y")
    g = xpgrad.function([x, y], [x + y])
    other = "array_api_strict" if tb.name == "numpy" else "numpy"
    oth = xpgrad.get_backend(other)
    with pytest.raises(xpgrad.BackendMismatchError, match=f"argument 1 is a {other} array but argument 0 is"):
        g(tb.arr([[1.0], [2.0]], "float32"), oth.xp.asarray([[1.0], [2.0]], dtype=oth.xp.float32))


def test_build_errors_name_the_input() -> None:
    x = xpgrad.placeholder(shape=(None,), name="x")
    q = xpgrad.placeholder(shape=(None,), name="q")
    with pytest.raises(xpgrad.PlaceholderError, match="depend on placeholder 'q', which is not among the inputs"):
        xpgrad.function([x], [x * q])
    with pytest.raises(TypeError, match="inputs\\[0\\] is op node multiply, not a leaf or placeholder"):
        xpgrad.function([x * 2.0], [x])
    with pytest.raises(ValueError, match="listed twice"):
        xpgrad.function([x, x], [x])


def test_intermediates_are_released_after_their_last_use() -> None:
    n, depth = 1_000_000, 40  # 8 MB per array; keeping every intermediate would hold 320 MB
    x = xpgrad.placeholder(shape=(n,), dtype="float64", backend="numpy", name="x")
    y = x
    for _ in range(depth):
        y = xpgrad.sin(y) * 0.5
    f = xpgrad.function([x], y)
    a = np.full(n, 0.25)
    tracemalloc.start()
    try:
        f(a)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * a.nbytes, f"peak {peak / a.nbytes:.1f} arrays"


def test_a_chain_of_100k_ops_compiles_simplifies_and_runs() -> None:
    x = xpgrad.placeholder(shape=(2,), dtype="float64", backend="numpy", name="x")
    y = x
    for _ in range(50_000):  # 10^5 ops
        y = y * 0.5 + 0.5
    f = xpgrad.function([x], [y])
    (same,) = xpgrad.simplify(y)  # iterative too; nothing to rewrite, so the very same graph
    assert same is y
    (out,) = f(np.array([3.0, -1.0]))
    np.testing.assert_array_equal(out, [1.0, 1.0])  # (v - 1) halves 5 * 10^4 times to exactly 0


def test_fit_linear_example_runs_and_converges() -> None:
    paths = [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]  # keep where the deps may be
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    r = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "fit_linear.py"), "--steps", "60", "--every", "20"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("step")]
    assert [int(ln.split()[1]) for ln in lines] == [1, 20, 40, 60]
    losses = [float(ln.split()[3]) for ln in lines]
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0] / 10


def test_a_graph_that_moves_between_backends_runs_each_op_where_built() -> None:
    x = xpgrad.placeholder(shape=(None,), dtype="float64", backend="numpy", name="x")
    moved = xpgrad.exp(x).to("array_api_strict")
    out = xpgrad.sum(moved * 2.0)
    gx = out.grad(x)
    f = xpgrad.function([x], [out, gx])
    data = np.array([0.5, -1.0])
    total, g = f(data)
    assert xpgrad.get_backend("array_api_strict").owns(total) and isinstance(g, np.ndarray)
    np.testing.assert_allclose(float(total), np.sum(np.exp(data) * 2.0), rtol=1e-15)
    np.testing.assert_allclose(g, 2.0 * np.exp(data), rtol=1e-15)
    import array_api_strict

    with pytest.raises(xpgrad.BackendMismatchError, match="runs only on 'numpy' arrays"):
        f(array_api_strict.asarray(data))


def test_a_compiled_function_does_not_keep_the_graph_alive() -> None:
    import gc
    import weakref

    x = xpgrad.placeholder(shape=(None,), dtype="float64", backend="numpy", name="x")
    w = xpgrad.Tensor(np.ones(3), name="w")
    big = xpgrad.exp(w * 2.0)  # evaluated eagerly: holds an array
    out = xpgrad.sum(big * x)
    f = xpgrad.function([x], out)
    ref = weakref.ref(big)
    del big, out
    gc.collect()
    assert ref() is None  # the plan holds copies of the nodes, not the nodes and their values
    np.testing.assert_allclose(f(np.ones(3)), 3 * np.exp(2.0), rtol=1e-15)


def _b1_function(n: int, compute: bool):
    px, py = xpgrad.placeholder(shape=(n,), dtype="float64"), xpgrad.placeholder(shape=(n,), dtype="float64")
    if compute:
        out = xpgrad.sum(xpgrad.sin(px) * py + xpgrad.exp(px * py) / (1 + py * py))
    else:
        out = xpgrad.sum((px * py + px) * py)
    return xpgrad.function([px, py], [out, *xpgrad.grad(out, [px, py])])


@pytest.mark.parametrize("compute", [True, False])
def test_compiled_calls_write_into_dead_intermediates_without_changing_a_bit(compute: bool) -> None:
    import tracemalloc

    n = 1 << 16
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    x0, y0 = x.copy(), y.copy()
    f = _b1_function(n, compute)
    f(x, y)

    def peak(fn):
        tracemalloc.start()
        try:
            out = fn()
            return out, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    lent, p_lent = peak(lambda: f(x, y))
    with xpgrad.options(release=False):
        plain, p_plain = peak(lambda: f(x, y))
    for a, b in zip(lent, plain, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x, x0)  # the caller's arrays are never written into
    np.testing.assert_array_equal(y, y0)
    assert p_lent < p_plain - 0.9 * n * 8  # one array less at the peak, at least


def test_compiled_unary_ops_write_into_their_operand() -> None:
    # a chain of unary ops (the operand is its node's only child, and the last one `_lend` looks at)
    # needs one buffer, not one a step
    import tracemalloc

    n = 1 << 16
    p = xpgrad.placeholder(shape=(n,), dtype="float64")
    f = xpgrad.function([p], xpgrad.exp(xpgrad.cos(xpgrad.sin(p * 2.0))))
    x = np.linspace(-1.0, 1.0, n)
    f(x)
    tracemalloc.start()
    try:
        out = f(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, np.exp(np.cos(np.sin(x * 2.0))))
    assert peak < 1.5 * n * 8  # the result's array, written into by every step after the first


def test_compiled_calls_never_write_into_a_view_of_an_input() -> None:
    n = 1 << 10
    p = xpgrad.placeholder(shape=(n,), dtype="float64")
    v = xpgrad.reshape(p, (n,))  # may be the input itself, or a view of it
    out = (v * 2.0) + 1.0
    f = xpgrad.function([p], [out, xpgrad.exp(v)])
    x = np.linspace(0, 1, n)
    x0 = x.copy()
    r, e = f(x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(r, x0 * 2.0 + 1.0)
    np.testing.assert_array_equal(e, np.exp(x0))


def test_captured_leaf_moved_to_each_device_it_is_called_on() -> None:
    pytest.importorskip("array_api_strict")
    import array_api_strict as s

    x = xpgrad.placeholder(shape=(None,), dtype="float64", backend="numpy", name="x")
    w = xpgrad.Tensor(np.array([1.0, 2.0]), name="w")  # captured: moved to the call's backend and device
    f = xpgrad.function([x], x * w)
    for dev in (s.Device("CPU_DEVICE"), s.Device("device1"), s.Device("CPU_DEVICE")):
        out = f(s.asarray([3.0, 4.0], device=dev))
        assert out.device == dev
        np.testing.assert_array_equal(np.asarray(s.asarray(out, device=s.Device("CPU_DEVICE"))), [3.0, 8.0])


def test_dtype_params_are_matched_by_name_on_another_backend() -> None:
    pytest.importorskip("array_api_strict")
    import array_api_strict as s

    x = xpgrad.placeholder(shape=(None,), dtype="float64", backend="numpy", name="x")
    outs = [xpgrad.astype(x, "float32"), xpgrad.sum(x, dtype="float32"), xpgrad.prod(x, dtype="float32")]
    f = xpgrad.function([x], outs)
    a = s.asarray([1.5, -2.0, 3.25])
    got = f(a)
    leaf = xpgrad.Tensor(a)
    want = [xpgrad.astype(leaf, "float32"), xpgrad.sum(leaf, dtype="float32"), xpgrad.prod(leaf, dtype="float32")]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.value.dtype == s.float32
        assert s.all(g == w.value)


def test_python_number_arguments_join_the_calls_arrays() -> None:
    pytest.importorskip("array_api_strict")
    import array_api_strict as s

    x = xpgrad.placeholder(shape=(None,), dtype="float32", backend="numpy", name="x")
    y = xpgrad.placeholder(shape=(), dtype="float32", backend="numpy", name="y")
    f = xpgrad.function([x, y], x * y)
    np.testing.assert_array_equal(f(np.ones(2, np.float32), 2.0), np.full(2, 2.0, np.float32))
    for dev in (s.Device("CPU_DEVICE"), s.Device("device1")):  # another backend, another device: as on NumPy
        out = f(s.ones(2, dtype=s.float32, device=dev), 2.0)
        assert out.dtype == s.float32 and out.device == dev
        assert s.all(out == s.asarray(2.0, dtype=s.float32, device=dev))
    xs = xpgrad.placeholder(shape=(None,), dtype="float32", backend="array_api_strict", name="xs")
    ys = xpgrad.placeholder(shape=(), dtype="float32", backend="array_api_strict", name="ys")
    out = xpgrad.function([xs, ys], xs * ys)(s.ones(2, dtype=s.float32, device=s.Device("device1")), 2.0)
    assert out.device == s.Device("device1")
    with pytest.raises(TypeError, match="argument 1: placeholder 'y'"):  # the feed's own checks still hold
        f(s.ones(2, dtype=s.float32), 1.5j)


def test_captured_leaf_changed_in_place_is_moved_again(monkeypatch) -> None:
    pytest.importorskip("array_api_strict")
    import array_api_strict as s

    bk = xpgrad.get_backend("array_api_strict")  # a move that copies, as CuPy's does (strict shares memory)
    monkeypatch.setattr(bk, "from_numpy", lambda a, device=None: s.asarray(np.array(a, copy=True), device=device))
    x = xpgrad.placeholder(shape=(None,), dtype="float64", backend="numpy", name="x")
    w = xpgrad.Tensor(np.array([1.0, 2.0]), name="w")
    f = xpgrad.function([x], x * w)
    f(s.asarray([1.0, 1.0]))
    w.value += 1  # the same array, changed in place and set again
    np.testing.assert_array_equal(np.asarray(f(s.asarray([1.0, 1.0]))), [2.0, 3.0])


def test_backend_mismatch_names_the_argument_that_chose_the_backend() -> None:
    pytest.importorskip("array_api_strict")
    import array_api_strict as s

    c = xpgrad.placeholder(shape=(), dtype="float64", backend="numpy", name="c")
    x = xpgrad.placeholder(shape=(None,), dtype="float64", backend="numpy", name="x")
    y = xpgrad.placeholder(shape=(None,), dtype="float64", backend="numpy", name="y")
    f = xpgrad.function([c, x, y], c * x + y)
    with pytest.raises(xpgrad.BackendMismatchError, match="argument 2 is a array_api_strict array but argument 1 is"):
        f(2.0, np.ones(2), s.ones(2))  # argument 0 is a Python number: it chose no backend


def test_a_fed_placeholder_the_outputs_need_must_be_listed_too() -> None:
    x = xpgrad.placeholder(shape=(None,), dtype="float64", name="x")
    y = xpgrad.placeholder(shape=(None,), dtype="float64", name="y")
    x.value = np.ones(2)  # fed once, for an eager look: not a captured leaf for it
    with pytest.raises(xpgrad.PlaceholderError, match="placeholder 'x', which is not among the inputs"):
        xpgrad.function([y], x * y)


def test_a_function_with_no_graph_returns_nothing() -> None:
    # found by mypy: with no input and no node, a call had no backend to run on (AttributeError on None)
    assert xpgrad.function([], [])() == []
