"""Graph semantics: eager forward, re-evaluation, placeholders, grad w.r.t. any node, one sweep."""

from __future__ import annotations

import numpy as np
import pytest

import xpgrad
from xpgrad import Tensor
from xpgrad._dtypes import dtype_name
from xpgrad._views.tree import format_tree


def test_building_evaluates_and_forward_reevaluates(tb) -> None:
    x = tb.t([1.0, 2.0])
    y = xpgrad.exp(x) * x
    np.testing.assert_allclose(tb.np(y), np.exp([1.0, 2.0]) * [1.0, 2.0])
    x.value = tb.arr([3.0, 4.0])
    assert y.forward() is y
    np.testing.assert_allclose(tb.np(y), np.exp([3.0, 4.0]) * [3.0, 4.0])


def test_placeholders_fed_refed_and_grads(tb) -> None:
    p = xpgrad.placeholder(shape=(None,), dtype="float64", backend=tb.name, device=tb.device, name="p")
    out = xpgrad.sum(xpgrad.sin(p) * p)
    g = out.grad(p)
    assert out.value is None and g.value is None and str(g) == "T:None"
    for data in ([0.5, 1.0], [0.1, 0.2, 0.3]):
        p.value = tb.arr(data)
        g.forward()
        d = np.array(data)
        np.testing.assert_allclose(tb.np(g), np.cos(d) * d + np.sin(d), rtol=1e-14)
    out.forward()
    np.testing.assert_allclose(float(tb.np(out)), np.sum(np.sin(d) * d), rtol=1e-14)


def test_misfeeding_a_placeholder_raises_at_once(tb) -> None:
    p = xpgrad.placeholder(shape=(2, None), dtype="float32", backend=tb.name, device=tb.device, name="p")
    with pytest.raises(
        ValueError, match=r"placeholder 'p' is declared with shape \(2, None\) but was fed shape \(3, 1\)"
    ):
        p.value = tb.arr([[1.0], [2.0], [3.0]], "float32")
    with pytest.raises(TypeError, match="placeholder 'p' is declared with dtype float32 but was fed float64"):
        p.value = tb.arr([[1.0], [2.0]], "float64")
    other = "array_api_strict" if tb.name == "numpy" else "numpy"
    q = xpgrad.placeholder(shape=(2,), backend=other, name="q")
    with pytest.raises(xpgrad.BackendMismatchError, match=f"placeholder 'q' is on backend '{other}' but was fed"):
        q.value = tb.arr([1.0, 2.0])


def test_unfed_placeholder_value_names_it(tb) -> None:
    p = xpgrad.placeholder(backend=tb.name, name="inputs")
    y = p * 2.0 + 1.0
    with pytest.raises(xpgrad.PlaceholderError, match="placeholder 'inputs'"):
        y.numpy()
    assert y.value is None


def test_forward_with_an_unfed_placeholder_raises_naming_them(tb) -> None:
    # forward() returned the node with value None silently (only reading raised); building stays the feature
    p = xpgrad.placeholder(backend=tb.name, device=tb.device, name="p")
    q = xpgrad.Tensor(None, backend=tb.name, name="q")  # Tensor(None): a placeholder of unknown shape and dtype
    assert q.is_placeholder and q.shape is None and q.dtype is None and q.value is None
    y = q + 1  # graphs are built before values exist
    assert y.op.name == "add" and y.value is None and y.shape is None
    out = xpgrad.sum(p * 2.0 + y)
    with pytest.raises(xpgrad.PlaceholderError, match=r"^forward: op node sum depends on unfed placeholder 'p', "):
        out.forward()
    q.value = tb.arr([1.0, 2.0])
    x = tb.t([3.0, 4.0], name="x")
    kept = x * 3.0  # a current value: nothing is recomputed before the error
    w = kept + p
    with pytest.raises(xpgrad.PlaceholderError, match=r"depends on unfed placeholder 'p'; set p\.value"):
        w.forward()
    assert tb.np(kept).tolist() == [9.0, 12.0]
    p.value = tb.arr([0.5, 1.0])
    assert out.forward() is out and float(out) == 8.0  # 2 * (0.5 + 1.0) + (1 + 1) + (2 + 1)
    x.value = None  # a leaf set to None is unfed too, named as a leaf
    with pytest.raises(xpgrad.PlaceholderError, match="depends on unfed leaf 'x'"):
        w.forward()
    many = [xpgrad.placeholder(backend=tb.name, name=f"p{i}") for i in range(7)]
    with pytest.raises(xpgrad.PlaceholderError, match=r"unfed placeholder 'p0', .*'p4' and 2 more"):
        sum(many[1:], many[0]).forward()


def test_grad_wrt_intermediate_and_unrelated(tb) -> None:
    x, y = tb.t([1.0, 2.0]), tb.t([3.0, 4.0])
    z1 = x * y
    z2 = xpgrad.sin(z1) + y
    gz1, gx, gy = xpgrad.grad(z2, [z1, x, y])
    np.testing.assert_allclose(tb.np(gz1), np.cos([3.0, 8.0]))
    np.testing.assert_allclose(tb.np(gx), np.cos([3.0, 8.0]) * [3.0, 4.0])
    np.testing.assert_allclose(tb.np(gy), np.cos([3.0, 8.0]) * [1.0, 2.0] + 1)
    w = tb.t([[1.0, 2.0, 3.0]])
    gw = z2.grad(w)
    assert tb.np(gw).tolist() == [[0.0, 0.0, 0.0]] and gw.shape == (1, 3)


def test_one_sweep_shares_work() -> None:
    x, y = Tensor(np.array([1.0, 2.0])), Tensor(np.array([0.5, 0.25]))
    s = xpgrad.exp(x * y)
    out = xpgrad.sum(s * s + s)
    gx, gy = xpgrad.grad(out, [x, y])
    # both gradients reuse the same cotangent node of x * y
    shared = {id(n) for n in _nodes(gx)} & {id(n) for n in _nodes(gy)}
    assert len(shared) > 3


def _nodes(t):
    from xpgrad._core.walk import toposort

    return toposort([t])


def test_cotangent_and_broadcast_shapes(tb) -> None:
    a = tb.t([[1.0], [2.0], [3.0]])  # (3, 1)
    b = tb.t([[1.0, 2.0, 3.0, 4.0]])  # (1, 4)
    out = a * b
    ga, gb = xpgrad.grad(out, [a, b])
    assert ga.shape == (3, 1) and gb.shape == (1, 4)
    np.testing.assert_allclose(tb.np(ga), [[10.0]] * 3)
    np.testing.assert_allclose(tb.np(gb), [[6.0] * 4])
    ct = tb.arr(np.arange(12.0).reshape(3, 4))
    ga2 = xpgrad.grad(out, [a], cotangent=ct)[0]
    np.testing.assert_allclose(tb.np(ga2), (np.arange(12.0).reshape(3, 4) * [1, 2, 3, 4]).sum(1, keepdims=True))
    s = tb.t(2.0)
    np.testing.assert_allclose(float(tb.np((s * b).grad(s))), 10.0)
    with pytest.raises(ValueError, match="cotangent shape"):
        xpgrad.grad(out, [a], cotangent=tb.arr([1.0, 2.0]))


def test_no_zero_or_one_clutter_in_gradient_graphs(tb) -> None:
    x, y = tb.t([1.0, 2.0]), tb.t([3.0, 4.0])
    out = xpgrad.sin(x) * y + x * x
    for g in xpgrad.grad(out, [x, y]):
        for n in _nodes(g):
            assert n.op is None or n.op.name not in ("zeros_like",), n
            assert not (n._const and n._value in (0, 1)), n
    # the cotangent of ones is never multiplied in
    gy = out.grad(y)
    assert gy.op.name == "sin"


def test_repr_and_str(tb) -> None:
    x = tb.t([1.0, 2.0], name="x")
    y = x * 2.0
    assert str(y).startswith("T:")
    r = repr(y)
    assert "multiply" in r and "(2,)" in r and tb.name in r and "float64" in r
    assert "leaf 'x'" in repr(x)
    assert repr(xpgrad.placeholder(name="p")).startswith("Tensor(placeholder 'p'")


def test_backend_arrays_on_either_side() -> None:
    x = Tensor(np.array([1.0, 2.0]))
    for y in (np.array([3.0, 4.0]) + x, x + np.array([3.0, 4.0]), np.array([3.0, 4.0]) * x, 2.0**x):
        assert isinstance(y, Tensor)
    y = np.array([3.0, 4.0]) * x
    np.testing.assert_allclose(y.grad(x).numpy(), [3.0, 4.0])
    np.testing.assert_allclose((2.0**x).grad(x).numpy(), np.log(2.0) * 2.0 ** np.array([1.0, 2.0]))


def test_feeding_python_values_never_truncates(tb) -> None:
    p = xpgrad.placeholder(dtype="int64", backend=tb.name, device=tb.device, name="p")
    floats = dtype_name(tb.xp, xpgrad.Tensor(1.5, backend=tb.name).dtype)  # the backend's default (PyTorch: float32)
    with pytest.raises(TypeError, match=f"placeholder 'p' is declared with dtype int64 but was fed {floats} values"):
        p.value = [1.5, 2.7]  # used to become [1, 2] silently
    with pytest.raises(TypeError, match=f"leaf was built with dtype bool but was fed {floats} values"):
        xpgrad.Tensor([2.0, 0.0], backend=tb.name, dtype="bool")
    q = xpgrad.placeholder(dtype="float32", backend=tb.name, device=tb.device)
    q.value = [1, 2]  # Python ints widen to floats: no information lost
    assert q.dtype == tb.xp.float32 and tb.np(q).tolist() == [1.0, 2.0]


def test_declared_dtypes_print_by_name() -> None:
    # a declared dtype is the backend's class (numpy.float64): repr, show and expr printed "<class ...>"
    p = xpgrad.placeholder(shape=(None,), dtype="float64", name="p")
    y = xpgrad.astype(p, "float32") * 2.0
    assert "dtype=float64," in repr(p)
    assert format_tree(y).splitlines()[0] == "multiply (no value; (None,) float32)"
    assert y.expr() == "astype(p, dtype='float32') * 2.0"
