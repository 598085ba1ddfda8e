"""Linear algebra, manipulation, searching and creation: forward against the backend's own function, rules
against finite differences to order 2-3 and against closed forms, on every backend."""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np
import pytest

import xpgrad

RNG = np.random.default_rng(7)


def _r(*shape: int) -> np.ndarray:
    return RNG.uniform(-1.5, 1.5, size=shape)


# (name, how to call it on a namespace, input shapes, derivative order checked). The forward is compared with
# the backend's own function of the same call; the rule with central differences of sin(f(...)) (so a linear
# op's second and third derivatives are not trivially zero).
CASES: list[tuple[str, Any, tuple[tuple[int, ...], ...], int]] = [
    ("matmul 2-d", lambda ns, a, b: ns.matmul(a, b), ((3, 4), (4, 2)), 3),
    ("matmul 1-d @ 2-d", lambda ns, a, b: ns.matmul(a, b), ((4,), (4, 2)), 3),
    ("matmul 2-d @ 1-d", lambda ns, a, b: ns.matmul(a, b), ((3, 4), (4,)), 3),
    ("matmul 1-d @ 1-d", lambda ns, a, b: ns.matmul(a, b), ((4,), (4,)), 3),
    ("matmul batch broadcast", lambda ns, a, b: ns.matmul(a, b), ((2, 1, 3, 4), (5, 4, 2)), 2),
    ("matmul 1-d @ batch", lambda ns, a, b: ns.matmul(a, b), ((4,), (2, 4, 3)), 2),
    ("matmul batch @ 1-d", lambda ns, a, b: ns.matmul(a, b), ((2, 3, 4), (4,)), 2),
    ("tensordot axes=1", lambda ns, a, b: ns.tensordot(a, b, axes=1), ((2, 3), (3, 4)), 3),
    ("tensordot axes=2", lambda ns, a, b: ns.tensordot(a, b, axes=2), ((2, 3, 4), (3, 4, 2)), 2),
    ("tensordot pairs", lambda ns, a, b: ns.tensordot(a, b, axes=((0, 2), (2, 0))), ((2, 3, 4), (4, 5, 2)), 2),
    ("tensordot axes=0", lambda ns, a, b: ns.tensordot(a, b, axes=0), ((2,), (3,)), 2),
    ("vecdot", lambda ns, a, b: ns.vecdot(a, b), ((2, 3, 4), (3, 4)), 3),
    ("vecdot axis=-2", lambda ns, a, b: ns.vecdot(a, b, axis=-2), ((2, 3, 4), (3, 1)), 2),
    ("matrix_transpose", lambda ns, a: ns.matrix_transpose(a), ((2, 3, 4),), 3),
    ("permute_dims", lambda ns, a: ns.permute_dims(a, (2, 0, 1)), ((2, 3, 4),), 3),
    ("expand_dims", lambda ns, a: ns.expand_dims(a, axis=-2), ((2, 3),), 3),
    ("squeeze", lambda ns, a: ns.squeeze(a, axis=(0, 2)), ((1, 3, 1),), 3),
    ("concat", lambda ns, a, b: ns.concat([a, b, a], axis=1), ((2, 3), (2, 1)), 3),
    ("concat axis=None", lambda ns, a, b: ns.concat((a, b), axis=None), ((2, 3), (4,)), 2),
    ("stack", lambda ns, a, b: ns.stack([a, b], axis=-1), ((2, 3), (2, 3)), 3),
    ("flip", lambda ns, a: ns.flip(a, axis=1), ((2, 3, 2),), 3),
    ("flip all", lambda ns, a: ns.flip(a), ((2, 3),), 2),
    ("roll", lambda ns, a: ns.roll(a, 2, axis=1), ((2, 3),), 3),
    ("roll tuple", lambda ns, a: ns.roll(a, (1, -1), axis=(0, 1)), ((2, 3),), 2),
    ("roll flat", lambda ns, a: ns.roll(a, 4), ((2, 3),), 2),
    ("cumulative_sum", lambda ns, a: ns.cumulative_sum(a, axis=1), ((2, 4),), 3),
    ("cumulative_sum initial", lambda ns, a: ns.cumulative_sum(a, axis=0, include_initial=True), ((3, 2),), 3),
    ("cumulative_sum 1-d", lambda ns, a: ns.cumulative_sum(a), ((5,),), 2),
    ("moveaxis", lambda ns, a: ns.moveaxis(a, (0, 1), (2, 0)), ((2, 3, 4),), 2),
    ("tile", lambda ns, a: ns.tile(a, (2, 1, 3)), ((2, 3),), 3),
    ("repeat", lambda ns, a: ns.repeat(a, 2, axis=1), ((2, 3),), 3),
    ("repeat flat", lambda ns, a: ns.repeat(a, 3), ((2, 2),), 2),
    ("unstack", lambda ns, a: ns.stack(ns.unstack(a, axis=1)[::-1], axis=0), ((2, 3),), 3),
    ("meshgrid xy", lambda ns, a, b: ns.stack(ns.meshgrid(a, b)), ((3,), (2,)), 3),
    ("meshgrid ij", lambda ns, a, b: ns.stack(ns.meshgrid(a, b, a, indexing="ij")), ((3,), (2,)), 2),
    ("broadcast_arrays", lambda ns, a, b: ns.stack(ns.broadcast_arrays(a, b)), ((2, 1), (3,)), 3),
    ("sort", lambda ns, a: ns.sort(a, axis=0), ((4, 3),), 3),
    ("sort descending", lambda ns, a: ns.sort(a, descending=True), ((2, 5),), 2),
]


def _ids(cases: list[Any]) -> list[str]:
    return [c[0] for c in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_forward_and_rules(tb: Any, case: Any) -> None:
    _, f, shapes, order = case
    arrays = [tb.arr(_r(*s)) for s in shapes]
    ns = xpgrad.namespace(tb.name)
    got = f(ns, *(xpgrad.Tensor(a) for a in arrays))
    want = f(tb.xp, *arrays)
    assert got.shape == tuple(want.shape) and got.dtype == want.dtype
    np.testing.assert_allclose(tb.np(got), tb.np(want), rtol=1e-13, atol=1e-13)
    xpgrad.check_grads(lambda *ts: xpgrad.sin(f(ns, *ts)), *arrays, order=order)
    if not case[0].startswith("sort"):  # (float32 differences of a sort may cross a reordering)
        f32 = [tb.arr(_r(*s), "float32") for s in shapes]
        xpgrad.check_grads(lambda *ts: f(ns, *ts), *f32, order=1, rtol=1e-3)


def test_take(tb: Any) -> None:
    x = tb.arr(_r(3, 4))
    idx = tb.arr([0, 2, 2, -1], "int64")
    got = xpgrad.take(xpgrad.Tensor(x), xpgrad.Tensor(idx), axis=1)
    np.testing.assert_array_equal(tb.np(got), tb.np(tb.xp.take(x, idx, axis=1)))
    i = xpgrad.Tensor(idx)
    xpgrad.check_grads(lambda t: xpgrad.sin(xpgrad.take(t, i, axis=1)), x, order=3)
    xpgrad.check_grads(lambda t: xpgrad.sin(xpgrad.take(t, i, axis=0)) * 2, tb.arr(_r(4, 2)), order=2)
    # closed form: repeated indices add up; never-taken elements get 0
    t = tb.t([1.0, 2.0, 3.0, 4.0])
    g = xpgrad.sum(xpgrad.take(t, xpgrad.Tensor(tb.arr([0, 2, 2, -1], "int64")))).grad(t)
    assert tb.np(g).tolist() == [1.0, 0.0, 2.0, 1.0]
    with pytest.raises(TypeError, match="take: indices must be an integer array"):
        xpgrad.take(t, t)


def test_take_along_axis(tb: Any) -> None:
    x = tb.arr(_r(3, 4))
    idx = tb.arr([[0, 2, 2], [3, -1, 0], [1, 1, 1]], "int64")
    got = xpgrad.take_along_axis(xpgrad.Tensor(x), xpgrad.Tensor(idx), axis=1)
    np.testing.assert_array_equal(tb.np(got), tb.np(tb.xp.take_along_axis(x, idx, axis=1)))
    i = xpgrad.Tensor(idx)
    xpgrad.check_grads(lambda t: xpgrad.sin(xpgrad.take_along_axis(t, i, axis=1)), x, order=3)
    # broadcast indices: the gradient sums over the axes they broadcast
    j = xpgrad.Tensor(tb.arr([[1, 0]], "int64"))
    xpgrad.check_grads(lambda t: xpgrad.sin(xpgrad.take_along_axis(t, j, axis=-1)), x, order=2)
    t = tb.t([[1.0, 2.0, 3.0]])
    g = xpgrad.sum(xpgrad.take_along_axis(t, xpgrad.Tensor(tb.arr([[0, 0, 2]], "int64")), axis=1)).grad(t)
    assert tb.np(g).tolist() == [[2.0, 0.0, 1.0]]


def test_integer_outputs(tb: Any) -> None:
    # nonzero, searchsorted, count_nonzero, argsort: forward as the backend; integer outputs carry no gradient
    x = tb.arr([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    X = xpgrad.Tensor(x)
    if tb.lazy:  # (its size depends on the values, unknown until computed: refused, naming the op)
        with pytest.raises(ValueError, match=r"op 'nonzero_part': a Dask array of unknown chunk sizes"):
            xpgrad.nonzero(X)
    else:
        for got, want in zip(xpgrad.nonzero(X), tb.xp.nonzero(x), strict=True):
            np.testing.assert_array_equal(tb.np(got), tb.np(want))
    np.testing.assert_array_equal(tb.np(xpgrad.count_nonzero(X, axis=1)), tb.np(tb.xp.count_nonzero(x, axis=1)))
    np.testing.assert_array_equal(tb.np(xpgrad.argsort(X, axis=0)), tb.np(tb.xp.argsort(x, axis=0)))
    s = tb.arr([1.0, 2.0, 2.0, 5.0])
    v = tb.arr([2.0, 0.0, 9.0])
    for side in ("left", "right"):
        got = xpgrad.searchsorted(xpgrad.Tensor(s), xpgrad.Tensor(v), side=side)
        np.testing.assert_array_equal(tb.np(got), tb.np(tb.xp.searchsorted(s, v, side=side)))
    got = xpgrad.searchsorted(tb.t([5.0, 1.0, 2.0]), tb.t([3.0]), sorter=tb.arr([1, 2, 0], "int64"))
    assert tb.np(got).tolist() == [2]
    g = xpgrad.sum(xpgrad.astype(xpgrad.count_nonzero(X), "float64") * X).grad(X)
    np.testing.assert_array_equal(tb.np(g), np.full((2, 3), 3.0))


def test_matmul_closed_forms(tb: Any) -> None:
    x, w = _r(3, 4), _r(4, 2)
    X, W = tb.t(x), tb.t(w)
    g = _r(3, 2)
    gx, gw = xpgrad.grad(X @ W, [X, W], cotangent=tb.arr(g))
    np.testing.assert_allclose(tb.np(gw), x.T @ g, rtol=1e-13)  # d(x @ w)/dw = x^T g
    np.testing.assert_allclose(tb.np(gx), g @ w.T, rtol=1e-13)  # d(x @ w)/dx = g w^T
    # broadcast batch axes: the gradient of the shared operand sums over the batch
    a, b = _r(5, 3, 4), _r(4, 2)
    A, B = tb.t(a), tb.t(b)
    gb = xpgrad.sum(A @ B).grad(B)
    np.testing.assert_allclose(tb.np(gb), np.sum(np.swapaxes(a, -1, -2) @ np.ones((5, 3, 2)), axis=0), rtol=1e-13)
    assert gb.shape == (4, 2)
    # 1-d @ 1-d is the dot product: its gradient the other vector
    u, v = tb.t([1.0, 2.0, 3.0]), tb.t([4.0, 5.0, 6.0])
    assert (u @ v).item() == 32.0 and tb.np((u @ v).grad(u)).tolist() == [4.0, 5.0, 6.0]
    # the Hessian of x^T A x is A + A^T: a rule of a rule
    m = _r(3, 3)
    M = tb.t(m)
    xv = tb.t([0.5, -1.0, 2.0])
    gx1 = (xv @ (M @ xv)).grad(xv)
    rows = [tb.np(gx1[i].grad(xv)) for i in range(3)]
    np.testing.assert_allclose(np.array(rows), m + m.T, rtol=1e-13)


def test_operators_and_properties(tb: Any) -> None:
    a, b = _r(2, 3), _r(3, 2)
    A = tb.t(a)
    assert isinstance(A @ tb.arr(b), xpgrad.Tensor)
    np.testing.assert_allclose(tb.np(A @ tb.arr(b)), a @ b, rtol=1e-13)
    if tb.name == "numpy":  # (array-api-strict arrays refuse foreign operands: the Tensor goes on the left)
        np.testing.assert_allclose(tb.np(b @ A), b @ a, rtol=1e-13)  # __rmatmul__
    np.testing.assert_array_equal(tb.np(A.T), a.T)
    np.testing.assert_array_equal(tb.np(A.mT), a.T)
    assert A.T.grad(A).shape == (2, 3)
    v = tb.t([1.0, 2.0])
    assert v.T is v and len(v) == 2 and len(A) == 2
    with pytest.raises(ValueError, match=r"t.T: defined for 2-d Tensors.*t.mT"):
        _ = tb.t(_r(2, 2, 2)).T
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d Tensor"):
        len(tb.t(1.0))
    with pytest.raises(TypeError, match=r"len\(\) of a Tensor of unknown first dimension"):
        len(xpgrad.placeholder(shape=(None, 2)))
    assert (A @ A.T).expr() == "t0 @ matrix_transpose(t0)" or "@" in (A @ A.T).expr()


def test_argmax_argmin_have_no_gradient(tb: Any) -> None:
    x = _r(3, 4)
    X = tb.t(x)
    for name in ("argmax", "argmin"):
        for axis, keepdims in ((None, False), (1, False), (0, True)):
            got = getattr(xpgrad, name)(X, axis=axis, keepdims=keepdims)
            want = getattr(tb.xp, name)(tb.arr(x), axis=axis, keepdims=keepdims)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(tb.np(got), tb.np(want))
    # JAX's convention: an integer output carries no gradient; what flows through it is zero
    i = xpgrad.astype(xpgrad.argmax(X, axis=1), "float64")
    g = xpgrad.sum(i * xpgrad.sum(X, axis=1)).grad(X)
    np.testing.assert_array_equal(tb.np(g), np.repeat(np.argmax(x, axis=1)[:, None], 4, axis=1).astype(float))
    with pytest.raises(ValueError, match="argmax: an empty array"):
        xpgrad.argmax(tb.t(np.zeros((0,))))


def test_creation(tb: Any) -> None:
    xp, dev = tb.xp, tb.device
    for got, want in (
        (xpgrad.arange(5, backend=tb.name, device=dev), xp.arange(5, device=dev)),
        (xpgrad.arange(1.0, 2.0, 0.25, backend=tb.name, device=dev), xp.arange(1.0, 2.0, 0.25, device=dev)),
        (xpgrad.linspace(0, 1, 5, backend=tb.name, device=dev), xp.linspace(0, 1, 5, device=dev)),
        (
            xpgrad.linspace(0, 1, 4, endpoint=False, dtype="float32", backend=tb.name, device=dev),
            xp.linspace(0, 1, 4, endpoint=False, dtype=xp.float32, device=dev),
        ),
        (xpgrad.eye(3, 4, k=1, backend=tb.name, device=dev), xp.eye(3, 4, k=1, device=dev)),
    ):
        assert got.op is None and got.backend == tb.bk.name and got.dtype == want.dtype
        assert xpgrad.get_backend(tb.name).xp.__name__ and str(got.device) == str(array_api_compat.device(want))
        np.testing.assert_array_equal(tb.np(got), tb.np(want))
    ns = xpgrad.namespace(tb.name)
    assert ns.eye(2).backend == tb.bk.name and ns.arange(3).shape == (3,)


def test_graphs_compile_and_differentiate_again(tb: Any) -> None:
    x = xpgrad.placeholder(shape=(None, 3), dtype="float64", backend=tb.name, name="x", device=tb.device)
    w = tb.t(_r(3, 2), name="w")
    idx = tb.t([1, 0], "int64")
    h = xpgrad.concat([x @ w, xpgrad.take(x, idx, axis=1)], axis=1)
    loss = xpgrad.sum(xpgrad.cumulative_sum(xpgrad.tanh(h), axis=1) * xpgrad.flip(h, axis=1))
    gw = loss.grad(w)
    f = xpgrad.function([x], [loss, gw])
    xv = tb.arr(_r(4, 3))
    value, grad_w = f(xv)
    x.value = xv
    np.testing.assert_allclose(tb.np(value), tb.np(loss.forward()), rtol=1e-13)
    np.testing.assert_allclose(tb.np(grad_w), tb.np(gw.forward()), rtol=1e-13)
    xpgrad.check_grads(
        lambda xt, wt: xpgrad.sum(
            xpgrad.cumulative_sum(xpgrad.tanh(xpgrad.concat([xt @ wt, xpgrad.take(xt, idx, axis=1)], axis=1)), axis=1)
        ),
        xv,
        tb.arr(_r(3, 2)),
        order=3,
    )


def test_placeholders_of_unknown_sizes() -> None:
    # the cuts of concat read the first operand's size when evaluated: placeholders of unknown sizes work
    a, b, c = (xpgrad.placeholder(shape=(None,), dtype="float64") for _ in range(3))
    out = xpgrad.sum(xpgrad.concat([a, b]) * c)
    ga, gb = xpgrad.grad(out, [a, b])
    a.value, b.value, c.value = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]), np.array([10.0, 20, 30, 40, 50])
    assert ga.forward().tolist() == [10.0, 20.0] and gb.forward().tolist() == [30.0, 40.0, 50.0]
    u = xpgrad.placeholder()
    with pytest.raises(ValueError, match="matmul: the derivative needs the number of dimensions"):
        xpgrad.sum(u @ np.ones((2, 2))).grad(u)


def test_shape_errors_name_the_op() -> None:
    a = xpgrad.Tensor(np.ones((2, 3)))
    for call, match in (
        (lambda: a @ a, r"matmul: shapes \(2, 3\) and \(2, 3\) are not aligned"),
        (lambda: a @ xpgrad.Tensor(np.float64(2.0)), "matmul: operands must have at least one dimension"),
        (lambda: xpgrad.tensordot(a, a, axes=([0], [1])), "tensordot: axis 0 of x1 .size 2. and axis 1"),
        (lambda: xpgrad.vecdot(a, a, axis=0), "vecdot: axis 0 is out of range"),
        (lambda: xpgrad.permute_dims(a, (0, 0)), "permute_dims: axes .0, 0. is not a permutation"),
        (lambda: xpgrad.squeeze(a, 0), "squeeze: axis 0 of shape .2, 3. has size 2"),
        (lambda: xpgrad.concat([a, xpgrad.Tensor(np.ones((3, 3)))], axis=1), "concat: shapes .* differ along axis 0"),
        (lambda: xpgrad.concat(a), "concat: expected a list or tuple of arrays; got one Tensor"),
        (lambda: xpgrad.stack([a, a.T]), "stack: arrays must all have the same shape"),
        (lambda: xpgrad.cumulative_sum(a), "cumulative_sum: axis is required"),
        (lambda: xpgrad.take(a, xpgrad.Tensor(np.array([0]))), "take: axis is required"),
        (lambda: xpgrad.matrix_transpose(xpgrad.Tensor(np.ones(3))), "matrix_transpose: needs an array of at least 2"),
    ):
        with pytest.raises((ValueError, TypeError), match=match):
            call()


def test_an_axis_out_of_range_is_an_index_error_and_a_value_error() -> None:
    # the standard asks expand_dims for an IndexError; NumPy's AxisError is both, and so is xpgrad's
    a = xpgrad.Tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match="expand_dims: axis 3 is out of range"):
        xpgrad.expand_dims(a, axis=3)
    with pytest.raises(xpgrad.AxisError):
        xpgrad.cumulative_sum(a, axis=-3)
    assert xpgrad.expand_dims(a, axis=-3).shape == (1, 2, 3) and xpgrad.expand_dims(a, axis=2).shape == (2, 3, 1)


def test_real_only_functions_refuse_complex_when_built(tb: Any) -> None:
    # the standard orders real numbers only: sort, argsort, argmax, argmin and searchsorted refuse complex inputs
    # when the node is built (array-api-strict refuses them too), naming the function
    import array_api_strict

    z = xpgrad.placeholder(shape=(2, 2), dtype="complex128", backend=tb.bk, device=tb.device)
    zs = array_api_strict.asarray([[1 + 2j, 3 - 1j], [0j, 1 + 0j]])
    for name, call in (
        ("sort", lambda ns, a: ns.sort(a)),
        ("argsort", lambda ns, a: ns.argsort(a)),
        ("argmax", lambda ns, a: ns.argmax(a)),
        ("argmin", lambda ns, a: ns.argmin(a)),
        ("searchsorted", lambda ns, a: ns.searchsorted(a[0, ...], a)),
    ):
        with pytest.raises(TypeError):
            call(array_api_strict, zs)
        with pytest.raises(TypeError, match=rf"^{name}: only .*dtypes are allowed; got complex128"):
            call(xpgrad, z)
    for call in (lambda ns, a: ns.matmul(a, a), lambda ns, a: ns.vecdot(a, a), lambda ns, a: ns.flip(a)):
        call(array_api_strict, zs)  # numeric (or any dtype): complex is built
        call(xpgrad, z)


def test_fused_engines_refuse_them_naming_the_op() -> None:
    x = xpgrad.placeholder(shape=(3, 3), dtype="float64", name="x")
    for out, name in (
        (x @ x, "matmul"),
        (xpgrad.flip(x, axis=0) + 1, "flip"),
        (xpgrad.cumulative_sum(x, axis=0), "cumulative_sum"),
        (xpgrad.matrix_transpose(x) * 2, "matrix_transpose"),
    ):
        with pytest.raises(xpgrad.FusionError, match=f"fuse: op '{name}' has no fused form"):
            xpgrad.fuse([x], out, engine="numba")


def _example() -> Any:
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / "two_layer_net.py"
    spec = importlib.util.spec_from_file_location("two_layer_net", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_two_layer_network_example_learns(tb: Any) -> None:
    # examples/two_layer_net.py on a tiny size: `@` in the model, trained by a compiled gradient
    if tb.device_name is not None:
        pytest.skip("the example makes its arrays on the backend's default device")
    curve, accuracy = _example().train(steps=60, hidden=8, n=100, backend=tb.name)
    assert len(curve) == 60 and curve[-1] < 0.5 * curve[0] and accuracy > 0.8


def test_the_two_layer_network_example_draws_its_loss_curve(tmp_path: Any) -> None:
    pytest.importorskip("matplotlib", reason="the loss curve is drawn with matplotlib (the bench extra)")
    png = tmp_path / "loss.png"
    curve, _ = _example().main(["--steps", "20", "--hidden", "4", "--n", "50", "--every", "0", "--png", str(png)])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(curve) == 20


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_forward_mode_matches_finite_differences(tb: Any, case: Any) -> None:
    # xpgrad.jvp through each op: its forward rule (LINEAR, or the transpose of its vjp rule) against central
    # differences along the same direction
    _, f, shapes, _ = case
    ns = xpgrad.namespace(tb.name)
    arrays = [_r(*s) for s in shapes]
    directions = [_r(*s) for s in shapes]

    def value(eps: float) -> np.ndarray:
        moved = [xpgrad.Tensor(tb.arr(a + eps * d)) for a, d in zip(arrays, directions, strict=True)]
        return tb.np(xpgrad.sin(f(ns, *moved)))

    primals = tuple(xpgrad.Tensor(tb.arr(a)) for a in arrays)
    tangents = tuple(xpgrad.Tensor(tb.arr(d)) for d in directions)
    out, tangent = xpgrad.jvp(lambda *ts: xpgrad.sin(f(ns, *ts)), primals, tangents)
    np.testing.assert_allclose(tb.np(out), value(0.0), rtol=1e-13, atol=1e-13)
    h = 1e-6
    np.testing.assert_allclose(tb.np(tangent), (value(h) - value(-h)) / (2 * h), rtol=1e-6, atol=1e-7)


def test_forward_mode_of_linear_ops_is_the_op_on_the_tangents() -> None:
    # matmul is linear in each operand: its tangent is two products (not a transposed reverse rule)
    x, w = xpgrad.Tensor(_r(2, 3), name="x"), xpgrad.Tensor(_r(3, 2), name="w")
    tx, tw = xpgrad.Tensor(_r(2, 3), name="tx"), xpgrad.Tensor(_r(3, 2), name="tw")
    _, t = xpgrad.jvp(lambda a, b: a @ b, (x, w), (tx, tw))
    assert t.expr() == "tx @ w + x @ tw"
    _, t = xpgrad.jvp(lambda a, b: xpgrad.concat([a, b.mT]), (x, w), (tx, tw))
    assert t.expr() == "concat(tx, matrix_transpose(tw))"  # (axis=0, the default, is not printed)
