"""User-defined ops (`xpgrad.custom_op`) and `stop_gradient` / `detach`, on every backend."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import numpy as np
import pytest

import xpgrad


def _log1pexp_vjp(g, out, x):  # type: ignore[no-untyped-def]
    return g * xpgrad.exp(x - out)  # sigmoid(x), without exp(x) overflowing


def _log1pexp(xp, x):  # type: ignore[no-untyped-def]
    """log(1 + exp(x)), stably: no overflow for large x."""
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


@pytest.fixture(autouse=True)
def own_ops() -> Iterator[None]:
    """Each test's custom ops leave the table with it (the suite's other tests read the table as the built-in
    ops: the fused engines' checklist, the vocabulary)."""
    before = set(xpgrad.OPS)
    yield
    for name in set(xpgrad.OPS) - before:
        del xpgrad.OPS[name]


@pytest.fixture
def log1pexp() -> xpgrad.CustomOp:
    return xpgrad.custom_op(_log1pexp, vjp=_log1pexp_vjp, name="log1pexp_tested")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def test_log1pexp_matches_finite_differences_to_order_3(tb, log1pexp) -> None:
    xpgrad.check_grads(log1pexp, tb.arr([-3.0, -0.4, 0.2, 2.5]), order=3)
    xpgrad.check_grads(lambda a, b: log1pexp(a * b), tb.arr([[0.5], [-1.0]]), tb.arr([1.5, -2.0, 0.3]), order=2)


def test_log1pexp_stays_finite_where_the_naive_form_overflows(tb, log1pexp) -> None:
    x = tb.t([1000.0, -1000.0, 0.0])
    with np.errstate(over="ignore"):
        assert np.isinf(np.log1p(np.exp(1000.0)))  # the naive form
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # (no overflow, nan or inf on the way)
        y = log1pexp(x)
        g = xpgrad.grad(xpgrad.sum(y), [x])[0]
        h = xpgrad.grad(xpgrad.sum(g), [x])[0]
        _, t = xpgrad.jvp(y, [x], [tb.arr([1.0, 1.0, 1.0])])
    np.testing.assert_allclose(tb.np(y), [1000.0, 0.0, np.log(2.0)], rtol=1e-15, atol=0)
    np.testing.assert_allclose(tb.np(g), [1.0, 0.0, 0.5], rtol=1e-15, atol=0)
    np.testing.assert_allclose(tb.np(h), [0.0, 0.0, 0.25], rtol=1e-15, atol=0)  # sigmoid (1 - sigmoid)
    np.testing.assert_allclose(tb.np(t), [1.0, 0.0, 0.5], rtol=1e-15, atol=0)


def test_a_custom_op_works_in_every_transform_and_tool(tb, log1pexp) -> None:
    a = np.array([-1.5, 0.3, 2.0])
    x = tb.t(a, name="x")
    f = xpgrad.sum(log1pexp(x * x))
    want_g = 2 * a * _sigmoid(a * a)
    np.testing.assert_allclose(tb.np(xpgrad.grad(f, [x])[0]), want_g, rtol=1e-13)
    _, t = xpgrad.jvp(f, [x], [tb.arr([1.0, 0.0, 0.0])])
    np.testing.assert_allclose(tb.np(t), want_g[0], rtol=1e-13)
    s = _sigmoid(a * a)
    want_h = np.diag(2 * s + 4 * a * a * s * (1 - s))
    np.testing.assert_allclose(tb.np(xpgrad.hessian(f, x)), want_h, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tb.np(xpgrad.jacfwd(lambda x: log1pexp(x))(x)), np.diag(_sigmoid(a)), rtol=1e-13)
    assert "log1pexp_tested(x * x)" in f.expr() and "log1pexp_tested" in xpgrad.format_tree(f)
    assert "log1pexp_tested" in xpgrad.to_dot(f)  # (the picture's source)
    p = xpgrad.placeholder(shape=(3,), dtype="float64", name="p")
    compiled = xpgrad.function([p], [xpgrad.grad(xpgrad.sum(log1pexp(p * p)), [p])[0]])
    np.testing.assert_allclose(tb.np(compiled(tb.arr(a))[0]), want_g, rtol=1e-13)
    again = pickle.loads(pickle.dumps(f))  # (the op is found by its name: defined before loading)
    np.testing.assert_allclose(tb.np(again), tb.np(f), rtol=0)


def test_a_forward_rule_is_used_and_a_rule_per_input() -> None:
    calls = []

    def jvp_a(t, out, a, b):  # type: ignore[no-untyped-def]
        calls.append("jvp")
        return t * b

    @xpgrad.custom_op(vjp=(lambda g, out, a, b: g * b, None), jvp=(jvp_a, None), name="times_frozen")
    def times_frozen(xp, a, b):  # type: ignore[no-untyped-def]
        return a * b

    a, b = xpgrad.Tensor(np.array([1.0, 2.0])), xpgrad.Tensor(np.array([3.0, 4.0]))
    y = times_frozen(a, b)
    assert xpgrad.grad(y, [a, b])[1].numpy().tolist() == [0.0, 0.0]  # None: zero
    assert xpgrad.jvp(y, [a, b], [np.ones(2), np.ones(2)])[1].numpy().tolist() == [3.0, 4.0]
    assert calls == ["jvp"]


def test_custom_op_misuse_is_named() -> None:
    with pytest.raises(ValueError, match="'sin' is the name of a built-in op; choose another"):
        xpgrad.custom_op(lambda xp, x: x, vjp=lambda g, out, x: g, name="sin")
    with pytest.raises(TypeError, match=r"impl takes the array namespace first, then the arrays: def f\(xp, x"):
        xpgrad.custom_op(lambda x: x, vjp=lambda g, out, x: g, name="f")
    with pytest.raises(ValueError, match=r"'g2': 2 array argument\(s\) but 1 vjp rule\(s\)"):
        xpgrad.custom_op(lambda xp, a, b: a, vjp=lambda g, out, a, b: g, name="g2")
    # defined again under the same name (a notebook cell run twice): the new definition
    first = xpgrad.custom_op(lambda xp, x: x * 2, vjp=lambda g, out, x: g * 2, name="again")
    second = xpgrad.custom_op(lambda xp, x: x * 3, vjp=lambda g, out, x: g * 3, name="again")
    x = xpgrad.Tensor(1.0)
    assert float(first(x)) == 2.0 and float(second(x)) == 3.0


def test_stop_gradient_passes_the_value_and_no_derivative(tb) -> None:
    a = np.array([0.5, -1.0, 2.0])
    x = tb.t(a)
    s = xpgrad.stop_gradient(x)
    np.testing.assert_array_equal(tb.np(s), a)
    g = xpgrad.grad(xpgrad.sum(s * s), [x])[0]
    assert tuple(g.shape) == (3,) and not tb.np(g).any()  # zeros of the right shape
    # d/dx [x^2 * sg(x)] = 2 x sg(x), and its derivative 2 sg(x): sg(x) stays a constant at every order
    f = xpgrad.sum(x * x * x.detach())
    g = xpgrad.grad(f, [x])[0]
    np.testing.assert_allclose(tb.np(g), 2 * a * a)
    np.testing.assert_allclose(tb.np(xpgrad.grad(xpgrad.sum(g), [x])[0]), 2 * a)
    _, t = xpgrad.jvp(f, [x], [tb.arr([1.0, 1.0, 1.0])])
    np.testing.assert_allclose(tb.np(t), np.sum(2 * a * a))
    assert tb.np(xpgrad.detach(x)).tolist() == a.tolist() and tb.np(x.stop_gradient()).tolist() == a.tolist()
    np.testing.assert_allclose(tb.np(xpgrad.hessian(f, x)), np.diag(2 * a))


def test_stop_gradient_matches_jax() -> None:
    jax = pytest.importorskip("jax", reason="jax not installed: the oracle")
    with jax.enable_x64(True):
        fj = lambda x: jax.numpy.sum(jax.numpy.sin(x) * jax.lax.stop_gradient(jax.numpy.cos(x) * x))
        a = np.array([0.3, -1.1])
        want = np.asarray(jax.hessian(fj)(a))
    f = lambda x: xpgrad.sum(xpgrad.sin(x) * xpgrad.stop_gradient(xpgrad.cos(x) * x))
    np.testing.assert_allclose(xpgrad.hessian(f)(a).numpy(), want, rtol=1e-14)
