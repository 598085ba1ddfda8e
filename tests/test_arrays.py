"""Reductions, shape ops, indexing and creation: forward against the backend, rules against finite differences."""

from __future__ import annotations

import math

import array_api_compat
import numpy as np
import pytest

import xpgrad

AXES = [None, 0, 1, -1, (0, 1)]
X = [[0.5, -1.25, 2.0, 0.75], [1.5, 0.3, -0.6, 1.1], [-0.9, 2.2, 0.4, -1.7]]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", ["prod", "max", "min", "var", "std"])
def test_reductions(tb, name: str, axis, keepdims: bool) -> None:
    x = tb.arr(X)
    fn = getattr(xpgrad, name)
    out = fn(xpgrad.Tensor(x), axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(tb.np(out), tb.np(getattr(tb.xp, name)(x, axis=axis, keepdims=keepdims)))
    order = 2 if name in ("max", "min") else 3  # max/min are piecewise linear: order 2 is 0 = 0
    xpgrad.check_grads(lambda t: fn(t * t + t, axis=axis, keepdims=keepdims), x, order=order)
    xpgrad.check_grads(lambda t: fn(t, axis=axis, keepdims=keepdims), tb.arr(X, "float32"), order=2)


@pytest.mark.parametrize("correction", [0, 1, 1.5])
def test_var_std_correction(tb, correction) -> None:
    if tb.name == "torch" and correction == 1.5:
        pytest.skip("PyTorch's var and std take integer corrections only (docs/backends.md)")
    x = tb.arr(X)
    for name in ("var", "std"):
        fn = getattr(xpgrad, name)
        want = getattr(tb.xp, name)(x, axis=1, correction=correction)
        np.testing.assert_array_equal(tb.np(fn(xpgrad.Tensor(x), axis=1, correction=correction)), tb.np(want))
        xpgrad.check_grads(lambda t, f=fn: f(t, axis=1, correction=correction), x, order=2)


def test_reduction_conventions(tb) -> None:
    x = tb.t([[3.0, 1.0, 3.0], [2.0, 0.0, 5.0]])
    # max/min: tied extrema share the gradient evenly (JAX's reduce_max, PyTorch's amax)
    assert tb.np(xpgrad.max(x, axis=1).grad(x)).tolist() == [[0.5, 0.0, 0.5], [0.0, 0.0, 1.0]]
    assert tb.np(xpgrad.min(x).grad(x)).tolist() == [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    # prod: exact at zeros: one zero gets the product of the others, two zeros give 0 everywhere
    p = tb.t([[2.0, 0.0, 3.0], [0.0, 4.0, 0.0], [2.0, 5.0, 0.5]])
    assert tb.np(xpgrad.prod(p, axis=1).grad(p)).tolist() == [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [2.5, 1.0, 10.0]]
    # std: 0 where the standard deviation is 0 (PyTorch's mask, not JAX's nan)
    c = tb.t([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
    g = tb.np(xpgrad.std(c, axis=1).grad(c))
    assert g[0].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(g[1], np.array([-1.0, 0.0, 1.0]) / (3 * math.sqrt(2 / 3)), rtol=1e-12)


def test_all_any(tb) -> None:
    m = tb.arr([[True, False], [True, True]], "bool")
    for name in ("all", "any"):
        for axis in (None, 0, 1):
            got = getattr(xpgrad, name)(xpgrad.Tensor(m), axis=axis)
            np.testing.assert_array_equal(tb.np(got), tb.np(getattr(tb.xp, name)(m, axis=axis)))
    x = tb.t([1.0, -2.0])
    assert tb.np(xpgrad.where(xpgrad.all(x > 0), x, 2 * x).grad(x)).tolist() == [2.0, 2.0]


def test_astype(tb) -> None:
    x = tb.t([1.7, -2.2])
    f32 = xpgrad.astype(x, "float32")
    assert f32.dtype == tb.xp.float32
    assert f32.grad(x).dtype == tb.xp.float64
    xpgrad.check_grads(lambda t: xpgrad.astype(t * t, tb.xp.float32), tb.arr([0.5, 1.5]), order=2, rtol=1e-5)
    i = xpgrad.astype(x, "int64")
    np.testing.assert_array_equal(tb.np(i), tb.np(tb.xp.astype(tb.arr([1.7, -2.2]), tb.xp.int64)))
    assert tb.np(xpgrad.sum(xpgrad.astype(i, "float64") * x).grad(x)).tolist() == [1.0, -2.0]  # int path: 0


def test_reshape_and_broadcast_to(tb) -> None:
    x = tb.arr(X)
    t = xpgrad.Tensor(x)
    np.testing.assert_array_equal(tb.np(xpgrad.reshape(t, (4, -1))), tb.np(tb.xp.reshape(x, (4, -1))))
    xpgrad.check_grads(lambda t: xpgrad.sin(xpgrad.reshape(t * t, (2, 2, 3))), x, order=3)
    r = tb.arr([[1.0], [2.0]])
    np.testing.assert_array_equal(
        tb.np(xpgrad.broadcast_to(xpgrad.Tensor(r), (3, 2, 4))), tb.np(tb.xp.broadcast_to(r, (3, 2, 4)))
    )
    xpgrad.check_grads(lambda t: xpgrad.broadcast_to(t * t, (3, 2, 4)), r, order=3)
    with pytest.raises(ValueError, match="reshape: cannot reshape an array of shape"):
        xpgrad.reshape(t, (5, -1))
    with pytest.raises(ValueError, match="broadcast_to"):
        xpgrad.broadcast_to(t, (3, 5))


KEYS = [
    1,
    -1,
    (slice(None), 2),
    (slice(1, None), slice(None, None, 2)),
    (None, Ellipsis, 0),
    (Ellipsis, None),
    (slice(None, None, -1), slice(1, 3)),
    (2, slice(3, 1, -1), None),
    (),
]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_basic_indexing(tb, key) -> None:
    x = tb.arr(X)
    t = xpgrad.Tensor(x)
    got = t[key]
    full = key if isinstance(key, tuple) and Ellipsis in key else (*(key if isinstance(key, tuple) else (key,)), ...)
    want = tb.np(x)[full]  # (NumPy's subscript as the oracle: PyTorch's refuses negative steps)
    np.testing.assert_array_equal(tb.np(got), want)  # t[0] means t[0, ...] as in NumPy
    assert got.shape == want.shape
    xpgrad.check_grads(lambda t: xpgrad.sin(t[key]) * t[key], x, order=3)


def test_indexing_errors(tb) -> None:
    t = tb.t(X)
    with pytest.raises(IndexError, match="index: too many indices"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 4"):
        t[0, 4]
    with pytest.raises(TypeError, match="only basic indexing"):
        t[tb.arr([0, 1], "int64")]


def test_integers_of_any_kind_index_and_name_axes(tb) -> None:
    # np.int64(1) and a 0-d integer array are integers to NumPy and the standard (``__index__``): t[np.int64(1)]
    # and max(t, axis=np.int64(0)) were refused; they are Python ints in the graph, so they merge with them
    x = tb.arr(X)
    t = xpgrad.Tensor(x)
    for key, same in (
        (np.int64(1), 1),
        ((np.int32(0), np.uint8(2)), (0, 2)),
        ((slice(np.int64(1), None), np.int16(-1)), (slice(1, None), -1)),
        (np.array(1), 1),
        (xpgrad.Tensor(tb.arr(2, "int64")), 2),
    ):
        got = t[key]
        assert got is t[same] and got.params == t[same].params
        full = (*(same if isinstance(same, tuple) else (same,)), ...)  # (array-api-strict wants the ...)
        np.testing.assert_array_equal(tb.np(got), tb.np(x[full]))
        xpgrad.check_grads(lambda t, key=key: xpgrad.sin(t[key]), x, order=1)
    for f in (xpgrad.max, xpgrad.min, xpgrad.sum, xpgrad.prod, xpgrad.mean, xpgrad.var, xpgrad.std):
        for axis, same in (
            (np.int64(0), 0),
            (np.int8(-1), -1),
            ((np.int64(0), np.int32(1)), (0, 1)),
            ([np.int16(1)], (1,)),
        ):
            got = f(t, axis=axis)
            assert got is f(t, axis=same), f.__name__
            assert all(type(a) is int for a in ((got.params["axis"],) if type(same) is int else got.params["axis"]))
    assert t.sum(np.int64(1)) is t.sum(1) and t.max(axis=np.int64(0)) is t.max(axis=0)
    np.testing.assert_array_equal(tb.np(xpgrad.max(t, axis=np.int64(0))), tb.np(tb.xp.max(x, axis=0)))
    # what is no integer is still refused, naming the op: bools (also NumPy's), floats, masks, float Tensors
    for key in (True, np.True_, 1.0, np.array([1]), xpgrad.Tensor(tb.arr(1.0))):
        with pytest.raises(TypeError, match="index: only basic indexing"):
            t[key]
    for axis in (True, np.True_, 1.0, xpgrad.Tensor(tb.arr(1.0)), (np.int64(0), 1.5)):
        with pytest.raises(TypeError, match="max: axis must be an int"):
            xpgrad.max(t, axis=axis)


def test_creation(tb) -> None:
    kw = {"backend": tb.bk, "device": tb.device}
    for made, want in (
        (xpgrad.zeros((2, 3), dtype="float32", **kw), tb.xp.zeros((2, 3), dtype=tb.xp.float32, device=tb.device)),
        (xpgrad.ones(2, **kw), tb.xp.ones(2, device=tb.device)),
        (xpgrad.full((2,), 7, **kw), tb.xp.full((2,), 7, device=tb.device)),
        (xpgrad.asarray([1.5, 2.0], **kw), tb.xp.asarray([1.5, 2.0], device=tb.device)),
    ):
        assert made.backend == tb.bk.name and made.device == array_api_compat.device(want)
        assert made.dtype == want.dtype
        np.testing.assert_array_equal(tb.np(made), tb.np(want))
    x = tb.t([1.0, 2.0])
    z, o = xpgrad.zeros_like(x), xpgrad.ones_like(x, dtype="int64")
    assert tb.np(z).tolist() == [0.0, 0.0] and tb.np(o).tolist() == [1, 1] and o.dtype == tb.xp.int64
    f = xpgrad.full_like(x, 2.5)
    assert tb.np(f).tolist() == [2.5, 2.5] and f.device == x.device
    assert xpgrad.asarray(x) is x
    p = xpgrad.placeholder(shape=(None,), dtype="float64", backend=tb.bk)
    zp = xpgrad.zeros_like(p)  # a node: follows the placeholder once it is fed
    p.value = tb.arr([1.0, 2.0, 3.0])
    assert tb.np(zp.forward()).tolist() == [0.0, 0.0, 0.0]


def test_where_of_two_python_numbers(tb) -> None:
    x = tb.t([1.5, -2.0])
    mask = xpgrad.where(x > 0, 1.0, 0.0)
    defaults = tb.xp.__array_namespace_info__().default_dtypes(device=tb.device)  # (PyTorch's float: float32)
    assert mask.dtype == defaults["real floating"] and tb.np(mask).tolist() == [1.0, 0.0]
    assert mask.device == x.device
    assert tb.np(xpgrad.sum(mask * x * x).grad(x)).tolist() == [3.0, 0.0]
    assert xpgrad.where(x > 0, 1, 0).dtype == defaults["integral"]


def test_sum_and_prod_dtype(tb) -> None:
    x = tb.arr([[0.5, 1.5], [2.0, 3.0]], "float32")
    for name in ("sum", "prod"):
        fn = getattr(xpgrad, name)
        out = fn(xpgrad.Tensor(x), axis=0, dtype=tb.xp.float64)
        want = getattr(tb.xp, name)(x, axis=0, dtype=tb.xp.float64)
        assert out.dtype == want.dtype == tb.xp.float64
        np.testing.assert_array_equal(tb.np(out), tb.np(want))
        t = xpgrad.Tensor(x)
        assert xpgrad.sum(fn(t, dtype=tb.xp.float64)).grad(t).dtype == tb.xp.float32
    i = tb.arr([1, 2, 3], "int32")
    np.testing.assert_array_equal(tb.np(xpgrad.sum(xpgrad.Tensor(i))), tb.np(tb.xp.sum(i)))
    assert xpgrad.sum(xpgrad.Tensor(i)).dtype == tb.xp.sum(i).dtype


def test_astype_on_placeholders_of_unknown_dtype(tb) -> None:
    # the rule needs the source dtype: it used to crash building the gradient of an unknown-dtype placeholder
    for data, dtype, want in (([1.5, -2.5], "float64", [1.0, -2.0]), ([3, 4], "int64", [6, 8])):
        p = xpgrad.placeholder(backend=tb.name)
        y = xpgrad.astype(p, "int64") * p  # a float-to-int cast is a staircase (0); int-to-int is the identity
        g = y.grad(p)
        gg = xpgrad.sum(g).grad(p)
        p.value = tb.arr(data, dtype)
        g.forward()
        gg.forward()
        assert tb.np(g).tolist() == want
        assert tb.np(gg).tolist() == ([0.0, 0.0] if dtype == "float64" else [2, 2])


@pytest.mark.parametrize("name", ["sum", "prod"])
def test_reductions_to_an_integer_dtype_have_the_gradient_of_astype(tb, name) -> None:
    # sum(x, dtype=int64) casts each element first (sum([1.5, 2.7]) is 1 + 2 = 3): a staircase, whose
    # gradient is astype's, 0 from a floating x (it was that of the float sum, [1, 1]); an int x passes g on
    reduce = getattr(xpgrad, name)
    x = tb.t([1.5, 2.7, -3.5])
    for dtype in ("int64", "int32"):
        y = reduce(x, dtype=dtype)
        np.testing.assert_array_equal(tb.np(y), tb.np(getattr(tb.xp, name)(x.value, dtype=getattr(tb.xp, dtype))))
        assert tb.np(y.grad(x)).tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(tb.np(reduce(x, dtype="float32").grad(x)), tb.np(reduce(x).grad(x)), rtol=1e-6)
    int_grad = {"sum": [1, 1], "prod": [4, 3]}[name]
    for data, dtype, want in (([1.5, -2.5], "float64", [0.0, 0.0]), ([3, 4], "int64", int_grad)):
        p = xpgrad.placeholder(backend=tb.name)  # dtypes known only when fed
        g, via_astype = reduce(p, dtype="int64").grad(p), reduce(xpgrad.astype(p, "int64")).grad(p)
        p.value = tb.arr(data, dtype)
        assert tb.np(g.forward()).tolist() == tb.np(via_astype.forward()).tolist() == want


def test_astype_refuses_to_drop_imaginary_parts(tb) -> None:
    z = xpgrad.Tensor(tb.arr([1 + 2j], "complex128"))
    with pytest.raises(TypeError, match="astype: cannot cast complex128 to float64"):
        xpgrad.astype(z, "float64")


def test_sum_and_prod_take_dtype_names(tb) -> None:
    t = tb.t([1.0, 2.0], "float32")
    for fn in (xpgrad.sum, xpgrad.prod):
        y = fn(t, dtype="float64")  # the name used to reach the backend (and the rule) unresolved
        assert y.dtype == tb.xp.float64
        assert y.grad(t).dtype == tb.xp.float32
    assert tb.np(xpgrad.prod(t, dtype="float64").grad(t)).tolist() == [2.0, 1.0]


def test_where_with_python_conditions_and_mixed_number_branches(tb) -> None:
    x, y = tb.t([1.0, 2.0]), tb.t([[3.0], [4.0]])
    for c, want in ((True, [[1.0, 2.0]] * 2), (False, [[3.0, 3.0], [4.0, 4.0]])):
        w = xpgrad.where(c, x, y)  # a Python bool condition used to reach array-api-strict unconverted
        assert tb.np(w).tolist() == want
        gx, gy = xpgrad.grad(w, [x, y])
        assert tb.np(gx).tolist() == ([2.0, 2.0] if c else [0.0, 0.0])
        assert tb.np(gy).tolist() == ([[0.0], [0.0]] if c else [[2.0], [2.0]])
    m = xpgrad.where(x > 1.5, 1, 0.0)  # int and float branches: a float result, as NumPy gives
    assert tb.np(m).tolist() == [0.0, 1.0] and tb.xp.isdtype(m.dtype, "real floating")


def test_unbroadcast_gradients_keep_integer_dtypes(tb) -> None:
    i = tb.t([[1], [2]], "int32")
    g = xpgrad.broadcast_to(i, (3, 2, 4)).grad(i)  # NumPy's sum widened int32 to int64 under an int32 static dtype
    assert g.dtype == g._dtype == tb.xp.int32 and tb.np(g).tolist() == [[12], [12]]


def test_like_creation_with_dtype_or_device_on_placeholders(tb) -> None:
    # these raised PlaceholderError while building: they are nodes, evaluated once the placeholder is fed
    p = xpgrad.placeholder(backend=tb.bk)
    o = xpgrad.ones_like(p, dtype="float32")
    z = xpgrad.zeros_like(p, device=tb.device)
    f = xpgrad.full_like(p, 7, dtype="int32")
    e = xpgrad.empty_like(p)
    assert o.value is None and o.dtype == tb.xp.float32 and f.dtype == tb.xp.int32
    p.value = tb.arr([1.5, 2.5, 3.5])
    for node, want, dtype in ((o, 1, tb.xp.float32), (z, 0, tb.xp.float64), (f, 7, tb.xp.int32), (e, 0, None)):
        node.forward()
        assert tb.np(node).tolist() == [want] * 3 and (dtype is None or node.dtype == dtype)
        assert array_api_compat.device(node.value) == array_api_compat.device(p.value)
    assert tb.np(xpgrad.sum(p * f).grad(p).forward()).tolist() == [7.0] * 3


def test_clip_of_a_python_number_takes_the_bounds_backend_and_device(tb) -> None:
    # it was clip_min(positive(2.0), t): an array on the default backend, a BackendMismatchError naming clip_min
    t = tb.t([1.0, 3.0])
    r = xpgrad.clip(2.0, t, 4.0)
    assert r.backend == tb.bk.name and tb.np(r).tolist() == [2.0, 3.0]
    assert array_api_compat.device(r.value) == array_api_compat.device(t.value)
    assert tb.np(r.grad(t)).tolist() == [0.0, 1.0]
    assert tb.np(xpgrad.clip(5.0, None, t)).tolist() == [1.0, 3.0]
    assert tb.np(xpgrad.clip(2.5, tb.t([1, 3], "int64"))).tolist() == [2.5, 3.0]
    assert xpgrad.clip(1.0, 0.5, 3.0).value == 1.0


def test_the_methods_and_conversions_numpy_pytorch_and_jax_users_reach_for(tb) -> None:
    data = np.arange(6.0).reshape(2, 3)
    x = tb.t(data)
    for name in ("sum", "mean", "max", "min", "prod", "var", "std"):
        for axis in (None, 0, 1):
            got = getattr(x, name)(axis) if axis is not None else getattr(x, name)()
            want = getattr(xpgrad, name)(x, axis=axis)
            assert got is want, (name, axis)  # the same node as the function's
    assert x.sum(axis=0, keepdims=True).shape == (1, 3) and (x > 2.0).any() is xpgrad.any(x > 2.0)
    assert x.reshape(3, 2).shape == x.reshape((3, 2)).shape == (3, 2) and x.reshape(-1).shape == (6,)
    assert xpgrad.reshape(x, 6).shape == (6,)  # an int shape, as NumPy takes it
    assert x.astype("float32").dtype == tb.xp.float32
    g = (x * x).sum().grad(x)  # the methods differentiate like the functions
    np.testing.assert_array_equal(tb.np(g), 2 * data)
    loss = (x * x).sum()
    assert f"{loss:.2f}" == "55.00" and f"{loss}" == str(loss) and round(loss, 1) == 55.0 and round(loss) == 55
    with pytest.raises(TypeError, match=r"format spec '.2f' of a Tensor of shape \(2, 3\)"):
        f"{x:.2f}"
    assert x.tolist() == data.tolist() and loss.tolist() == 55.0
    with pytest.raises(TypeError):
        np.sin(x)  # NumPy's ufuncs refuse Tensors (they would compute on the value, cut from the graph)
    assert np.sum(x) is xpgrad.sum(x) and np.mean(x, axis=0) is xpgrad.mean(x, axis=0)  # via the methods
    with pytest.raises(TypeError, match="out= is not supported"):
        x.sum(out=np.empty(()))


def test_numpy_functions_never_cut_the_graph_silently() -> None:
    # a Tensor is not an array to NumPy (no __array__): NumPy's functions raise, or build xpgrad's graph
    # (np.sum, np.where...), never return a constant array of its values (a silent zero gradient)
    t, w = xpgrad.Tensor(np.array([1.0, 2.0, 3.0])), xpgrad.Tensor(np.ones(3))
    with pytest.raises((TypeError, ValueError)):
        xpgrad.sum(xpgrad.asarray(np.array([t, t])) * w)
    # NumPy's functions with an xpgrad equivalent build its graph (`__array_function__`): differentiable
    for f, want in (
        (lambda: xpgrad.sum(np.where(t > 1.0, t, 0.0) * w), [0.0, 1.0, 1.0]),
        (lambda: xpgrad.sum(np.concatenate([t, t]) * xpgrad.concat([w, w])), [2.0, 2.0, 2.0]),
        (lambda: xpgrad.sum(np.clip(t, 0.0, 1.5) * w), [1.0, 0.0, 0.0]),
    ):
        np.testing.assert_array_equal(xpgrad.grad(f(), [t])[0].numpy(), want)
    g = xpgrad.grad(xpgrad.sum(xpgrad.where(t > 1.0, t, 0.0) * w), [t])[0]  # xpgrad's own: differentiates
    np.testing.assert_array_equal(g.numpy(), [0.0, 1.0, 1.0])
    assert type(np.float64(2.0) * t) is xpgrad.Tensor and type(np.array([1.0, 2.0, 3.0]) * t) is xpgrad.Tensor


def test_lists_holding_tensors_are_refused_not_detached(tb) -> None:
    # np.asarray reads a Tensor's value (`__array__`): a list of Tensors would become a constant array,
    # with no gradient back to them
    x = tb.t([1.0, 2.0])
    for make in (lambda: xpgrad.asarray([x, x]), lambda: xpgrad.Tensor([x, 1.0]), lambda: xpgrad.Tensor([[1.0], (x,)])):
        with pytest.raises(TypeError, match="a list holding Tensors cannot become an array"):
            make()
    assert xpgrad.asarray([[1.0, 2.0]], backend=tb.name).shape == (1, 2)
