"""Fused kernels (numba, and the CUDA runner on the host through `tests/fake_cupy.py`) return what the unfused
graph returns, or refuse: gradients of 0-d and one-element parameters, captured leaves changed between calls,
0-d inputs and outputs, counts, the sign of zero, and sums as 0-d arrays. Each test runs on both engines,
unless it names one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fake_cupy
import xpgrad
from fuse_cases import agree, inputs, placeholders, unfused
from xpgrad._compile.fuse import FusionError, fuse
from xpgrad._compile.fuse.cuda import compile_cuda
from xpgrad._compile.fuse.lower import captured_cache, captured_values, lower

Compile = Callable[[list[Any], list[Any]], Callable[..., list[Any]]]


@pytest.fixture(params=["numba", "cuda"])
def engine(request: pytest.FixtureRequest) -> Compile:
    """A fused compiler: numba's, or the CUDA runner with its kernels built by the host C++ compiler."""
    if request.param == "numba":
        pytest.importorskip("numba", reason="the fuse extra (numba) is not installed")
        return lambda ins, outs: fuse(ins, outs, engine="numba")
    if fake_cupy.CXX is None:
        pytest.skip("no host C++ compiler for the CUDA kernels")
    request.getfixturevalue("cp")  # the fake CuPy, as `cp` installs it
    return lambda ins, outs: compile_cuda(lower(ins, outs))


def _x(shape: tuple[Any, ...] = (None,)) -> xpgrad.Tensor:
    return xpgrad.placeholder(shape=shape, dtype="float64", name="x")


def _agree(engine: Compile, ins: list[Any], outs: list[Any], *arrays: Any) -> list[Any]:
    return agree(engine(ins, outs), ins, outs, *arrays)


@pytest.mark.parametrize("shape", [(), (1,)])
def test_gradient_of_a_captured_parameter_of_one_element_is_summed(engine: Compile, shape: tuple[int, ...]) -> None:
    """The fit back to w's shape is a sum over the call (it was the identity: an array of n values)."""
    x = _x()
    w = xpgrad.Tensor(np.full(shape, 2.0), name="w")
    gw = xpgrad.sum(xpgrad.sin(x) * w).grad(w)
    (got,) = _agree(engine, [x], [gw], np.arange(4.0))
    assert got.shape == shape
    np.testing.assert_allclose(got, np.sum(np.sin(np.arange(4.0))))


def test_gradient_of_a_1x1_parameter_of_a_matrix(engine: Compile) -> None:
    x = _x((None, None))
    w = xpgrad.Tensor(np.full((1, 1), 0.5), name="w")
    (gw,) = xpgrad.grad(xpgrad.sum(x * w + x), [w])  # w itself is not read: only its shape
    (got,) = _agree(engine, [x], [gw], np.arange(6.0).reshape(2, 3))
    assert got.shape == (1, 1) and float(got[0, 0]) == 15.0


def test_a_uniform_gradient_of_a_0d_input_is_the_count_times_it(engine: Compile) -> None:
    """d sum(x + y) / dy is n, a value the same everywhere: it is n * 1, not 1, wherever it is used."""
    x, y = _x(), xpgrad.placeholder(shape=(), dtype="float64", name="y")
    (gy,) = xpgrad.grad(xpgrad.sum(x + y), [y])
    got = _agree(engine, [x, y], [x * gy + y], np.arange(5.0), np.array(2.0))
    np.testing.assert_array_equal(got[0], np.arange(5.0) * 5 + 2)
    s = xpgrad.placeholder(shape=(3,), dtype="float64", name="s")  # a static count
    (gs,) = xpgrad.grad(xpgrad.sum(s + y), [y])
    np.testing.assert_array_equal(_agree(engine, [s, y], [s * gs], np.ones(3), np.array(2.0))[0], [3.0, 3.0, 3.0])


def test_a_varying_gradient_of_a_0d_input_is_a_sum_and_only_an_output(engine: Compile) -> None:
    x, y = _x(), xpgrad.placeholder(shape=(), dtype="float64", name="y")
    (gy,) = xpgrad.grad(xpgrad.sum(x * y), [y])
    got = _agree(engine, [x, y], [gy], np.arange(5.0), np.array(2.0))
    assert got[0].shape == () and float(got[0]) == 10.0
    with pytest.raises(FusionError, match="uses the result of a sum"):
        engine([x, y], [x * gy])


def test_partial_sums_back_to_a_parameter_are_refused(engine: Compile) -> None:
    """A gradient summed over some axes only (a bias of a matrix) cannot be one elementwise pass; the fit
    of a uniform cotangent was the identity, a wrong array of the call's shape."""
    x = _x((None, 3))
    for bias in (np.zeros(3), np.zeros((1, 3))):
        b = xpgrad.Tensor(bias, name="b")
        with pytest.raises(FusionError, match="'fit' from shape"):
            engine([x], [*xpgrad.grad(xpgrad.sum(x + b), [b])])
        with pytest.raises(FusionError, match="'fit' from shape"):
            engine([x], [*xpgrad.grad(xpgrad.sum(x * b), [b])])


def test_a_shape_taken_from_a_leaf_the_kernel_does_not_read_is_checked(engine: Compile) -> None:
    """gw has w's shape (3,), which the kernel never reads: a call of another shape is refused, not
    answered with an array of the call's shape."""
    x = _x()
    w = xpgrad.Tensor(np.ones(3), name="w")
    loss = xpgrad.sum(xpgrad.sin(x)) + xpgrad.sum(w)
    outs = xpgrad.grad(loss, [x, w])
    f = engine([x], outs)
    agree(f, [x], outs, np.ones(3))
    with pytest.raises(ValueError, match=r"has shape \(3,\) and the inputs have shape \(5,\)"):
        f(np.ones(5))


def test_captured_leaves_are_read_at_each_call(engine: Compile) -> None:
    """As `xpgrad.function` and the unfused graph: ``w.value = ...`` between calls is seen."""
    x = _x()
    w = xpgrad.Tensor(np.array([1.0, 2.0, 3.0]), name="w")
    c = xpgrad.Tensor(np.array(1.0), name="c")  # a 0-d one, passed as a scalar
    loss = xpgrad.sum(x * w * c)
    outs = [loss, loss.grad(x), c]
    f = engine([x], outs)
    agree(f, [x], outs, np.ones(3))  # the first call, on f itself: the next must not reuse what it read
    w.value, c.value = np.array([10.0, 20.0, 30.0]), np.array(2.0)
    got = agree(f, [x], outs, np.ones(3))
    np.testing.assert_array_equal(got[1], [20.0, 40.0, 60.0])
    assert float(got[2]) == 2.0


def test_a_captured_leaf_is_converted_again_only_when_it_was_set() -> None:
    x = _x()
    w = xpgrad.Tensor(np.ones(3), name="w")
    prog, converted = lower([x], [x * w]), []
    cache = captured_cache(prog)
    for _ in range(3):
        captured_values(prog, cache, lambda leaf, a: converted.append(a) or a)
    w.value = np.full(3, 2.0)
    shapes, args = captured_values(prog, cache, lambda leaf, a: converted.append(a) or a)
    assert len(converted) == 2 and shapes == [(3,)] and args[0] is w.value
    w.value = w.value  # the same array set again (changed in place meanwhile, maybe): converted again
    captured_values(prog, cache, lambda leaf, a: converted.append(a) or a)
    assert len(converted) == 3


def test_a_captured_leaf_changed_in_place_and_set_again_is_read_again(engine: Compile) -> None:
    """``w.value += 1`` sets the same array again: a kernel reading a converted copy (a non-contiguous leaf is
    copied to contiguous memory; a host leaf to the GPU) must convert it again, as `xpgrad.function` does."""
    x = _x()
    w = xpgrad.Tensor(np.ones((3, 2))[:, 0], name="w")  # a strided view: the kernel reads a contiguous copy
    outs = [xpgrad.sum(x * w)]
    f = engine([x], outs)
    assert float(np.asarray(f(np.ones(3))[0])) == 3.0
    w.value += 1
    assert float(np.asarray(f(np.ones(3))[0])) == 6.0
    agree(f, [x], outs, np.ones(3))


def test_0d_inputs_unread_or_returned(engine: Compile) -> None:
    x, y = _x(), xpgrad.placeholder(shape=(), dtype="float64", name="y")
    _agree(engine, [x, y], [xpgrad.sin(x)], np.arange(3.0), np.array(1.0))  # y unread: was refused as "an array"
    got = _agree(engine, [x, y], [y, x * y], np.arange(3.0), np.array(2.0))  # y was broadcast to (3,)
    assert got[0].shape == () and float(got[0]) == 2.0


def test_sign_of_zero_is_plus_zero(engine: Compile) -> None:
    x = _x()
    (got,) = _agree(engine, [x], [xpgrad.sign(x)], np.array([-0.0, 0.0, np.nan, -2.0, 3.0]))  # (signs of zeros too)
    np.testing.assert_array_equal(got, [0.0, 0.0, np.nan, -1.0, 1.0])


def test_a_count_has_the_dtype_of_the_unfused_one(engine: Compile) -> None:
    """sum of a comparison is NumPy's int64 (mean: float64), not the program's float64."""
    x = _x()
    outs = [xpgrad.sum(x > 0.5), xpgrad.mean(x > 0.5), xpgrad.sum(x)]
    data = np.linspace(0.0, 1.0, 11)
    got, plain = engine([x], outs)(data), unfused([x], outs)(data)
    assert [g.dtype for g in got] == [p.dtype for p in plain] == [np.int64, np.float64, np.float64]
    np.testing.assert_allclose([float(g) for g in got], [float(p) for p in plain], rtol=1e-15)
    assert int(got[0]) == 5


def test_a_count_in_float32_on_the_gpu_is_refused(cp: Any) -> None:
    """The GPU kernel adds in the program's type: float32 counts only to 2**24."""
    x = xpgrad.placeholder(shape=(None,), dtype="float32", name="x")
    with pytest.raises(FusionError, match="sums bools"):
        compile_cuda(lower([x], [xpgrad.sum(x > 0.5)]))


def test_sums_are_0d_arrays_on_every_engine(engine: Compile) -> None:
    x = _x()
    outs = [xpgrad.sum(x), xpgrad.mean(x * x)]
    for f in (engine([x], outs), fuse([x], outs, engine="unfused")):
        got = f(np.arange(3.0))
        assert all(type(v) is np.ndarray and v.shape == () for v in got), [type(v) for v in got]


def test_the_fallback_is_the_plan_executor_and_feeds_no_placeholder(tb) -> None:
    """``engine="unfused"`` (and "auto" without a fused engine for the backend) runs `xpgrad.function`'s
    plan: eager's results to the bit, on any backend's arrays, and the graph's own placeholders stay unfed
    (it fed them, so the user's graph held the last call's arrays, and two threads fed one graph)."""
    x = xpgrad.placeholder(shape=(None,), dtype="float64", name="x")
    loss = xpgrad.sum(xpgrad.sin(x) * x)
    outs = [loss, loss.grad(x)]
    f = fuse([x], outs, engine="unfused")
    data = tb.arr([0.5, 1.0, 2.0])
    got = f(data)
    assert x.value is None and loss._value is None
    leaf = xpgrad.Tensor(data)
    eager = xpgrad.sum(xpgrad.sin(leaf) * leaf)
    for g, want in zip(got, [eager, eager.grad(leaf)], strict=True):
        assert getattr(g, "shape", None) == want.shape  # a 0-d array, not a scalar
        np.testing.assert_array_equal(tb.np(g), tb.np(want))


def test_a_where_of_bools_is_bool(engine: Compile) -> None:
    """An op's result has the graph's dtype: ``where(c, x > 1, y > 0)`` is bool (it was written as 0.0/1.0), its
    sum NumPy's int64 count."""
    x, y = placeholders(2)
    w = xpgrad.where(x > 0, x > 1, y > 0)
    outs = [w, xpgrad.sum(w)]
    data = inputs(300, 2)
    (got, count), (want, want_count) = engine([x, y], outs)(*data), unfused([x, y], outs)(*data)
    assert got.dtype == want.dtype == bool and count.dtype == want_count.dtype == np.int64
    np.testing.assert_array_equal(got, want)
    assert count == want_count


def test_inputs_of_a_graph_of_sums_are_checked_against_their_declared_shapes(engine: Compile) -> None:
    """With only sums as outputs, nothing else pins the call's shape: a (3,) placeholder fed 5 elements, or a
    (None,) one fed a matrix, was summed over all of them where the unfused graph refuses the call."""
    x, v = xpgrad.placeholder(shape=(3,), dtype="float64"), xpgrad.placeholder(shape=(None,), dtype="float64")
    f, g = engine([x], [xpgrad.sum(x * x)]), engine([v], [xpgrad.mean(v)])
    assert float(f(np.ones(3))[0]) == 3.0 and float(g(np.ones(4))[0]) == 1.0
    for call, data in ((f, np.ones(5)), (f, np.ones((1, 3))), (g, np.ones((2, 3)))):
        with pytest.raises(ValueError, match=r"input 0 \(placeholder\) as declared"):
            call(data)


def test_the_readme_softplus_fuses(engine: Compile) -> None:
    """The README's softplus, written against the array API, with its gradient: ``log1p`` was refused ("op
    'log1p' has no fused form"), as every elementwise op outside a hand-kept list of 25 was."""
    import array_api_compat

    def softplus(x: Any) -> Any:
        xp = array_api_compat.array_namespace(x)
        return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))

    x = _x()
    out = xpgrad.sum(softplus(x))
    data = np.concatenate([np.linspace(-40.0, 40.0, 101), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    got = _agree(engine, [x], [out, *xpgrad.grad(out, [x])], data)
    np.testing.assert_allclose(got[1][:101], 1 / (1 + np.exp(-data[:101])), rtol=1e-15)
