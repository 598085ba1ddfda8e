"""Fused kernels (numba, and the CUDA runner on the host through `tests/fake_cupy.py`) return what the unfused
graph returns, or refuse: gradients of 0-d and one-element parameters, captured leaves changed between calls,
0-d inputs and outputs, counts, the sign of zero, outputs of the kinds `xpgrad.function` returns, inputs and
outputs of other shapes, products and basic indexing. Each test runs on both engines, unless it names one."""

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


def _cuda(f: Any) -> bool:
    return "xpgrad_fused" in getattr(f, "source", "")


def _kinds(f: Any, got: list[Any], want: list[Any]) -> None:
    """Outputs of the kinds `xpgrad.function` returns: its own on NumPy (a NumPy scalar for a sum, as ``np.sum``
    gives); on the CUDA runner a 0-d array where it returns a scalar (CuPy's, here the fake's NumPy array)."""
    for g, w in zip(got, want, strict=True):
        if _cuda(f) and isinstance(w, np.generic):
            assert type(g) is np.ndarray and g.shape == () and g.dtype == w.dtype
        else:
            assert type(g) is type(w) and np.shape(g) == np.shape(w), (type(g), type(w))


def test_outputs_are_of_the_kinds_function_returns(engine: Compile) -> None:
    """Issue 18: `fuse` returned sums as 0-d arrays where `xpgrad.function` (and NumPy) return NumPy scalars, and
    refused a 0-d op result ("output 4 is a 0-d sin, not a sum") and a zeros_like gradient of an unused 0-d input."""
    x, z = _x(), xpgrad.placeholder(shape=(), dtype="float64", name="z")
    u = xpgrad.placeholder(shape=(), dtype="float64", name="u")  # not used by the outputs: its gradient is zeros
    w = xpgrad.Tensor(np.asarray(2.0), name="w")  # captured, and returned
    loss = xpgrad.sum(x * z * w)
    outs = [loss, xpgrad.mean(x * x), x * z, z, xpgrad.sin(z), *xpgrad.grad(loss, [z, u]), w]
    f = engine([x, z, u], outs)
    args = (np.arange(3.0), np.asarray(0.5), np.asarray(1.0))
    got = agree(f, [x, z, u], outs, *args)
    _kinds(f, f(*args), xpgrad.function([x, z, u], outs)(*args))
    assert got[3] is args[1] or _cuda(f)  # an input returned as it is (on the GPU: moved to the device)
    assert float(got[4]) == np.sin(0.5) and float(got[5]) == 6.0 and got[6].shape == ()
    with np.errstate(invalid="ignore"):  # (the mean of no element: 0 / 0)
        empty = f(np.zeros(0), np.asarray(0.5), np.asarray(1.0))  # no element: the 0-d values are still computed
    assert float(empty[4]) == np.sin(0.5) and float(empty[0]) == 0.0


@pytest.mark.parametrize("how", ["leaves", "placeholders (1, 1)", "placeholders (1,)", "a captured w"])
def test_the_gradient_of_a_0d_parameter_is_0d(engine: Compile, how: str) -> None:
    """Issue 18: d sum(sin(w * x)) / dw for a 0-d w and a one-element x came back with x's shape (1, 1): the fit of a
    one-element value down to () was taken for the identity and written at the call's shape."""
    xshape = (1,) if how.endswith("(1,)") else (1, 1)
    w, x = xpgrad.Tensor(np.asarray(0.3), name="w"), xpgrad.Tensor(np.full(xshape, 0.7), name="x")
    if how.startswith("placeholders"):
        w, x = xpgrad.placeholder(shape=(), dtype="float64"), xpgrad.placeholder(shape=xshape, dtype="float64")
    loss = xpgrad.sum(xpgrad.sin(w * x))
    outs = [loss, *xpgrad.grad(loss, [w, x])]
    ins, args = (
        ([x], [np.full(xshape, 0.7)]) if how == "a captured w" else ([w, x], [np.asarray(0.3), np.full(xshape, 0.7)])
    )
    f = engine(ins, outs)
    got = agree(f, ins, outs, *args)
    assert [np.shape(g) for g in got] == [(), (), xshape]
    _kinds(f, f(*args), xpgrad.function(ins, outs)(*args))


@pytest.mark.parametrize("name", ["numba", "cupy", "unfused"])
def test_fuse_takes_and_returns_the_forms_function_does(request: pytest.FixtureRequest, name: str) -> None:
    """Issue 18: ``fuse([a], sin(a))`` iterated the output Tensor (three 0-d ``index`` nodes; "op 'index' has no
    fused form"), ``fuse(a, [...])`` took ``a`` for an op node, and a Python number argument was refused: as
    `xpgrad.function`, one Tensor is one input or one output, and numbers and lists are arguments."""
    if name == "numba":
        pytest.importorskip("numba", reason="the fuse extra (numba) is not installed")
    if name == "cupy":
        if fake_cupy.CXX is None:
            pytest.skip("no host C++ compiler for the CUDA kernels")
        request.getfixturevalue("cp")
    a = xpgrad.placeholder(shape=(3,), dtype="float64", name="a")
    data = np.array([0.5, 1.0, 2.0])
    for ins, outs in ((a, xpgrad.sin(a)), ([a], xpgrad.sin(a)), (a, [xpgrad.sin(a)]), (a, xpgrad.sum(a))):
        f = fuse(ins, outs, engine=name)
        got, want = f(data), xpgrad.function(ins, outs)(data)
        if isinstance(want, list):
            assert isinstance(got, list) and len(got) == len(want) == 1
            got, want = got[0], want[0]
        assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(got), want)
        if name != "cupy":
            assert type(got) is type(want)
    s = xpgrad.placeholder(shape=(), dtype="float64", name="s")
    f = fuse([s, a], [xpgrad.sum(a * s), a * s], engine=name)
    got = f(2.0, [1.0, 2.0, 3.0])  # a number and a list, made arrays as feeding makes them
    assert float(got[0]) == 12.0 and np.asarray(got[1]).tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(ValueError, match="an input is listed twice"):
        fuse([a, a], [a * 2.0], engine=name)


def test_inputs_the_kernel_does_not_read_may_have_other_shapes(engine: Compile) -> None:
    """Issue 18: an unused input, or a leaf output, of another shape than the arrays the kernel reads was taken for
    the call's shape, so every call failed ("input 1 has shape (3, 4); the others have (4,)"), blaming the consistent
    input; `xpgrad.function` runs them. They are checked against their declarations only, and returned as they are."""
    u = xpgrad.placeholder(shape=(4,), dtype="float64", name="u")
    v = xpgrad.placeholder(shape=(3, 4), dtype="float64", name="v")
    leaf = xpgrad.Tensor(np.arange(12.0).reshape(3, 4), name="leaf")
    outs = [xpgrad.sin(u), leaf, v, xpgrad.sum(u)]
    f = engine([u, v], outs)
    got = agree(f, [u, v], outs, np.arange(4.0), np.ones((3, 4)))
    assert got[1].shape == (3, 4) and got[2].shape == (3, 4)
    with pytest.raises(ValueError, match=r"input 1: placeholder 'v' is declared with shape \(3, 4\) but was fed"):
        f(np.arange(4.0), np.ones((2, 4)))


def test_static_shapes_that_broadcast_run_and_others_are_refused_naming_both(engine: Compile) -> None:
    """Issue 18: inputs of static shapes (4,) and (3, 4) were refused at every call; the host broadcasts the smaller
    one (a copy) where every shape is static, and what cannot run at the broadcast shape is refused when fusing."""
    u = xpgrad.placeholder(shape=(4,), dtype="float64", name="u")
    v = xpgrad.placeholder(shape=(3, 4), dtype="float64", name="v")
    loss = xpgrad.sum(xpgrad.sin(u) * v)
    outs = [loss, u * v, *xpgrad.grad(loss, [v])]
    agree(engine([u, v], outs), [u, v], outs, np.linspace(-1.0, 1.0, 4), np.arange(12.0).reshape(3, 4))
    with pytest.raises(FusionError, match=r"'fit' from shape \(3, 4\) to \(4,\) is a partial sum"):
        engine([u, v], xpgrad.grad(loss, [u]))  # the gradient of the broadcast input
    with pytest.raises(FusionError, match=r"op 'sum' reduces a value of shape \(4,\) in a kernel run at the broadcast"):
        engine([u, v], [xpgrad.sum(u), u * v])
    with pytest.raises(FusionError, match=r"output 0 \(op node sin\) has shape \(4,\)"):
        engine([u, v], [xpgrad.sin(u), u * v])
    w = xpgrad.placeholder(shape=(3, 5), dtype="float64", name="w")
    with pytest.raises(
        FusionError, match=r"read placeholder 'w' of shape \(3, 5\) and placeholder 'u' of shape \(4,\)"
    ):
        engine([u, w], [xpgrad.sin(u), xpgrad.sin(w)])


def test_a_call_of_two_shapes_names_both_inputs(engine: Compile) -> None:
    x, y = placeholders(2)
    f = engine([x, y], [x * y])
    with pytest.raises(
        ValueError,
        match=r"input 1 \(placeholder 'x1'\) has shape \(4,\) and input 0 \(placeholder 'x0'\) has shape \(3,\)",
    ):
        f(np.ones(3), np.ones(4))


def test_products_are_fused_and_their_gradients_refused(engine: Compile) -> None:
    """Issue 18: `prod` was refused ("op 'prod' has no fused form"): a full product is a reduction, as a sum is. Its
    gradient uses the product (and a count of zeros) inside the graph: two passes, refused naming the op."""
    (x,) = placeholders(1)
    outs = [xpgrad.prod(x), xpgrad.prod(x * x, keepdims=True), xpgrad.sum(x), xpgrad.prod(x + 1.0) * 2.0]
    f = engine([x], outs[:3])
    for data in (np.random.default_rng(5).uniform(0.5, 1.5, 5000), np.array([2.0, np.nan, 0.0]), np.zeros(0)):
        got = agree(f, [x], outs[:3], data)
        assert got[1].shape == (1,)
    np.testing.assert_allclose(float(f(np.arange(1.0, 7.0))[0]), 720.0, rtol=0)
    with pytest.raises(FusionError, match="uses the result of a product inside the graph"):
        engine([x], outs[3:])
    with pytest.raises(FusionError, match="uses the result of a"):
        engine([x], xpgrad.grad(xpgrad.prod(x), [x]))


@pytest.mark.parametrize(
    "key", [(slice(1, None),), (slice(None), slice(None, None, 2)), (0,), (None, slice(1, None), 0), (Ellipsis, -1)]
)
def test_basic_indexing_and_its_gradient(engine: Compile, key: tuple[Any, ...]) -> None:
    """Issue 18: basic indexing was refused ("op 'index' has no fused form"). The host indexes the arrays the kernel
    reads (a view, copied where not contiguous); the gradient writes into the indexed input's shape with a mask."""
    m = xpgrad.placeholder(shape=(3, 4), dtype="float64", name="m")
    data = np.random.default_rng(1).uniform(-2.0, 2.0, (3, 4))
    y = m[key]
    forward = [xpgrad.sin(y) * 2.0, xpgrad.sum(xpgrad.sin(y)), y]
    agree(engine([m], forward), [m], forward, data)
    loss = xpgrad.sum(xpgrad.sin(y) * y)
    backward = [*xpgrad.grad(loss, [m]), m * 2.0]
    got = agree(engine([m], backward), [m], backward, data)
    mask = np.zeros((3, 4), bool)
    mask[tuple(k for k in key if k is not None)] = True
    assert np.all(got[0][~mask] == 0.0) and np.all(got[0][mask] != 0.0)


def test_indexing_of_values_leaves_and_two_slices_of_one_input(engine: Compile) -> None:
    """Indexing a computed value is indexing its operands; a captured leaf is indexed at each call; two slices of one
    input (finite differences) read two arrays, and their gradients scatter one into the other's place."""
    x = xpgrad.placeholder(shape=(6,), dtype="float64", name="x")
    w = xpgrad.Tensor(np.linspace(1.0, 2.0, 6), name="w")
    d = x[1:] - x[:-1]
    loss = xpgrad.sum(d * d * w[1:])
    outs = [loss, xpgrad.sin(x * w)[::2], *xpgrad.grad(loss, [x])]
    data = np.array([0.5, -1.0, 2.0, 0.25, 3.0, -2.0])
    for o in ([outs[0]], [outs[1]], outs[2:]):  # (each reads arrays of one shape: (5,), (3,), (6,))
        agree(engine([x], o), [x], o, data)
    w.value = np.linspace(-1.0, 1.0, 6)  # a new value: indexed again
    agree(engine([x], outs[2:]), [x], outs[2:], data)
    with pytest.raises(FusionError, match=r"the host's array of placeholder 'x' of shape \(5,\) and placeholder 'x'"):
        engine([x], [d, x * 2.0])  # x[1:] and x: two shapes


def test_a_uniform_gradient_takes_its_shape_from_the_input(engine: Compile) -> None:
    """d sum(x - x) / dx is zeros everywhere: the kernel read no array, so it wrote its output at the shape () and
    the call was refused ("output 0 (op node add) has shape (None, None) and the inputs have shape ()"); it reads x
    for its shape (found by the fuzzer)."""
    x = _x((None, None))
    outs = xpgrad.grad(xpgrad.sum(x - x), [x])
    (got,) = agree(engine([x], outs), [x], outs, np.ones((2, 3)))
    assert got.shape == (2, 3)


def test_an_op_broadcasting_under_an_indexing_is_refused(engine: Compile) -> None:
    x = xpgrad.placeholder(shape=(3, 4), dtype="float64", name="x")
    b = xpgrad.placeholder(shape=(4,), dtype="float64", name="b")
    with pytest.raises(FusionError, match=r"op 'add' broadcasts an operand of shape \(4,\) to \(3, 4\) and is indexed"):
        engine([x, b], [(x + b)[1:]])
    y, z = placeholders(2)
    f = engine([y, z], [(y * z)[1:]])
    agree(f, [y, z], [(y * z)[1:]], np.arange(4.0), np.ones(4))
    w = xpgrad.Tensor(np.arange(4.0), name="w")  # (4,) and (None,): one shape at a call that runs
    agree(engine([y], [(y * w)[1:]]), [y], [(y * w)[1:]], np.ones(4))
    with pytest.raises(ValueError, match="an op of both is indexed"):  # (unfused broadcasts z: (4,) * (1,))
        f(np.arange(4.0), np.ones(1))


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
        assert getattr(g, "shape", None) == want.shape  # (the sum a NumPy scalar on NumPy, as function's)
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
