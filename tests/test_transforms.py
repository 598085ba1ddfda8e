"""The transforms (grad, value_and_grad, vjp, jvp, jacfwd, jacrev, jacobian, hessian, hvp) against JAX on random
graphs, to first and second order, and against central finite differences; on every backend."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import xpgrad
from xpgrad._core.walk import toposort

# Random graphs: each step applies one of these to two earlier values (the same code runs on xpgrad and on
# jax.numpy). Bounded where they compose (tanh, 1.5 + b^2), smooth where the samples fall (no ties).
STEPS: list[Callable[[Any, Any, Any], Any]] = [
    lambda m, a, b: m.sin(a) * b,
    lambda m, a, b: m.exp(m.tanh(a)) + b,
    lambda m, a, b: a / (1.5 + m.square(b)),
    lambda m, a, b: m.log1p(m.square(a)) - b,
    lambda m, a, b: m.sqrt(1.0 + a * a) * m.cos(b),
    lambda m, a, b: a * m.mean(b),
    lambda m, a, b: m.maximum(a, b),
    lambda m, a, b: a * m.sum(b * b) * 0.1,
    lambda m, a, b: m.max(a) + b,
    lambda m, a, b: m.prod(m.tanh(a)) + b,
    lambda m, a, b: m.where(a > b, a * b, a - b),
    lambda m, a, b: a[::-1] * b,
    lambda m, a, b: m.std(a) * b + m.var(b),
    lambda m, a, b: m.reshape(m.reshape(a, (2, 2)) * m.sum(m.reshape(b, (2, 2)), axis=0), (4,)),
]
SEEDS = range(4)


def program(seed: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    prog = []
    for k in range(6):
        i, j = rng.choice(k + 2, size=2, replace=False)  # two different values: no std of a - a == 0
        prog.append((int(rng.integers(len(STEPS))), int(i), int(j)))
    return prog


def run(m: Any, prog: list[tuple[int, int, int]], x: Any, y: Any) -> Any:
    pool = [x, y]
    for step, i, j in prog:
        pool.append(STEPS[step](m, pool[i], pool[j]))
    return pool[-1] + 0.5 * pool[-2]


def vector(seed: int) -> Callable[..., Any]:
    prog = program(seed)
    return lambda m: lambda x, y: run(m, prog, x, y)


def scalar(seed: int) -> Callable[..., Any]:
    prog = program(seed)
    return lambda m: lambda x, y: m.sum(m.tanh(run(m, prog, x, y)) * (x + 2.0))


def data(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + seed)
    return [rng.uniform(-1.5, 1.5, 4) for _ in range(4)]  # x, y and two tangents / cotangents


@pytest.fixture
def own_ops() -> Iterator[None]:
    """The custom ops a test defines leave the table with it (other tests read the table as the built-in ops)."""
    before = set(xpgrad.OPS)
    yield
    for name in set(xpgrad.OPS) - before:
        del xpgrad.OPS[name]


def close(got: Any, want: Any, tb: Any) -> None:
    got = got if isinstance(got, (tuple, list)) else (got,)
    want = want if isinstance(want, (tuple, list)) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert isinstance(g, xpgrad.Tensor)  # every result is a graph
        w = tb.np(w) if isinstance(w, xpgrad.Tensor) else np.asarray(w)
        np.testing.assert_allclose(tb.np(g), w, rtol=1e-9, atol=1e-11)


@functools.cache
def oracle(seed: int) -> dict[str, Any]:
    """JAX's answers for program ``seed``, in float64 (computed once, shared by the backends)."""
    jax = pytest.importorskip("jax", reason="jax not installed: the transforms' oracle")
    with jax.enable_x64(True):
        jnp = jax.numpy
        x, y, u, v = data(seed)
        fj, sj = vector(seed)(jnp), scalar(seed)(jnp)
        got = {
            "f": fj(x, y),
            "grad": jax.grad(sj, (0, 1))(x, y),
            "value_and_grad": jax.value_and_grad(sj, 1)(x, y),
            "jvp": jax.jvp(fj, (x, y), (u, v)),
            "vjp": jax.vjp(fj, x, y)[1](u),
            "jacfwd": jax.jacfwd(fj, (0, 1))(x, y),
            "jacrev": jax.jacrev(fj, (0, 1))(x, y),
            "jacobian": jax.jacrev(sj)(x, y),
            "hessian": jax.hessian(sj, (0, 1))(x, y),
            "hvp": jax.jvp(jax.grad(sj, (0, 1)), (x, y), (u, v))[1],
            # forward over forward, reverse over forward, forward over reverse
            "ff": jax.jvp(lambda a: jax.jvp(lambda b: fj(b, y), (a,), (u,))[1], (x,), (v,))[1],
            "rf": jax.grad(lambda a: jnp.sum(jax.jvp(lambda b: fj(b, y), (a,), (u,))[1] * v))(x),
            "fr": jax.jacfwd(jax.grad(sj))(x, y),
        }
        return jax.tree_util.tree_map(np.asarray, got)


@pytest.mark.parametrize("seed", SEEDS)
def test_first_order_transforms_agree_with_jax(tb, seed: int) -> None:
    want = oracle(seed)
    x, y, u, v = data(seed)
    X, Y, U = (tb.t(a) for a in (x, y, u))
    V = tb.t(v)
    f, s = vector(seed)(xpgrad), scalar(seed)(xpgrad)
    close(f(X, Y), want["f"], tb)
    close(xpgrad.grad(s, (0, 1))(X, Y), want["grad"], tb)
    value, g = xpgrad.value_and_grad(s, 1)(X, Y)
    close([value, g], want["value_and_grad"], tb)
    close(xpgrad.jvp(f, (X, Y), (U, V)), want["jvp"], tb)
    close(xpgrad.vjp(f, X, Y)[1](U), want["vjp"], tb)
    close(xpgrad.jacfwd(f, (0, 1))(X, Y), want["jacfwd"], tb)
    close(xpgrad.jacrev(f, (0, 1))(X, Y), want["jacrev"], tb)
    close(xpgrad.jacobian(s)(X, Y), want["jacobian"], tb)


@pytest.mark.parametrize("seed", SEEDS)
def test_second_order_transforms_agree_with_jax(tb, seed: int) -> None:
    want = oracle(seed)
    x, y, u, v = data(seed)
    X, Y, U, V = (tb.t(a) for a in (x, y, u, v))
    f, s = vector(seed)(xpgrad), scalar(seed)(xpgrad)
    for got, w in zip(xpgrad.hessian(s, (0, 1))(X, Y), want["hessian"], strict=True):
        close(got, w, tb)
    close(xpgrad.hvp(s, (X, Y), (U, V)), want["hvp"], tb)
    close(xpgrad.jvp(lambda a: xpgrad.jvp(lambda b: f(b, Y), (a,), (U,))[1], (X,), (V,))[1], want["ff"], tb)
    close(xpgrad.grad(lambda a: xpgrad.sum(xpgrad.jvp(lambda b: f(b, Y), (a,), (U,))[1] * V))(X), want["rf"], tb)
    close(xpgrad.jacfwd(xpgrad.grad(s))(X, Y), want["fr"], tb)


def fd_jvp(f: Callable[..., Any], xs: list[np.ndarray], ts: list[np.ndarray], eps: float = 1e-5) -> np.ndarray:
    plus = f(*[a + eps * t for a, t in zip(xs, ts, strict=True)])
    minus = f(*[a - eps * t for a, t in zip(xs, ts, strict=True)])
    return (plus - minus) / (2 * eps)


@pytest.mark.parametrize("seed", SEEDS)
def test_jvp_and_hvp_agree_with_finite_differences(tb, seed: int) -> None:
    x, y, u, v = data(seed)
    f, s = vector(seed)(xpgrad), scalar(seed)(xpgrad)

    def f_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return tb.np(f(tb.t(a), tb.t(b)))

    def grad_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([tb.np(g) for g in xpgrad.grad(s, (0, 1))(tb.t(a), tb.t(b))])

    _, tangent = xpgrad.jvp(f, (tb.t(x), tb.t(y)), (tb.t(u), tb.t(v)))
    np.testing.assert_allclose(tb.np(tangent), fd_jvp(f_np, [x, y], [u, v]), rtol=1e-6, atol=1e-7)
    hv = xpgrad.hvp(s, (tb.t(x), tb.t(y)), (tb.t(u), tb.t(v)))
    want = fd_jvp(grad_np, [x, y], [u, v])
    np.testing.assert_allclose(np.concatenate([tb.np(h) for h in hv]), want, rtol=1e-6, atol=1e-7)


def test_graph_forms_are_the_function_forms(tb) -> None:
    x, y, u, v = data(3)
    X, Y = tb.t(x, name="x"), tb.t(y, name="y")
    out = scalar(3)(xpgrad)(X, Y)
    vec = vector(3)(xpgrad)(X, Y)
    gx, gy = xpgrad.grad(out, [X, Y])
    close([gx, gy], xpgrad.grad(scalar(3)(xpgrad), (0, 1))(X, Y), tb)
    same, tangent = xpgrad.jvp(vec, [X, Y], [tb.arr(u), tb.arr(v)])
    assert same is vec
    close(tangent, xpgrad.jvp(vector(3)(xpgrad), (X, Y), (tb.t(u), tb.t(v)))[1], tb)
    same, pullback = xpgrad.vjp(vec, X)
    close(pullback(tb.arr(u)), xpgrad.vjp(lambda a: vector(3)(xpgrad)(a, Y), X)[1](tb.arr(u)), tb)
    close(xpgrad.hvp(out, [X, Y], [tb.t(u), tb.t(v)]), xpgrad.hvp(scalar(3)(xpgrad), (X, Y), (tb.t(u), tb.t(v))), tb)
    close(xpgrad.hessian(out, X), xpgrad.hessian(scalar(3)(xpgrad))(X, Y), tb)
    close(xpgrad.jacobian(vec, [X, Y]), xpgrad.jacobian(vector(3)(xpgrad), (0, 1))(X, Y), tb)
    close(xpgrad.jacrev(vec, X), xpgrad.jacfwd(vec, X), tb)


def test_jvp_costs_a_constant_times_the_forward_graph() -> None:
    """Forward mode adds a bounded number of nodes per forward node, whatever the inputs' size (no sweep per
    element), for a deep chain as for B1's expression."""

    def nodes(t: Any) -> int:
        return len(toposort(t if isinstance(t, list) else [t]))

    for n in (10, 10_000):
        x, y = xpgrad.Tensor(np.linspace(0.1, 1, n)), xpgrad.Tensor(np.linspace(1, 2, n))
        f = xpgrad.sum(xpgrad.sin(x) * y + xpgrad.exp(x * y) / (1 + y * y))
        _, t = xpgrad.jvp(f, [x, y], [np.ones(n), np.ones(n)])
        assert nodes([f, t]) <= 3 * nodes(f), (n, nodes(f), nodes([f, t]))
    z = x
    for _ in range(200):
        z = xpgrad.tanh(z) * 1.01 + xpgrad.sum(z) * 1e-6
    _, t = xpgrad.jvp(z, [x], [np.ones(n)])
    assert nodes([z, t]) <= 3 * nodes(z)
    _, pullback = xpgrad.vjp(xpgrad.sum(z), x)
    hv = xpgrad.hvp(xpgrad.sum(z), x, xpgrad.Tensor(np.ones(n)))
    assert nodes(hv) <= 4 * nodes(pullback(1.0)[0])


def test_transforms_compile_fuse_print_and_pickle() -> None:
    x = xpgrad.placeholder(shape=(None,), dtype="float64", name="x")
    t = xpgrad.placeholder(shape=(None,), dtype="float64", name="t")
    f = xpgrad.sum(xpgrad.sin(x) * x + xpgrad.exp(x * 0.5))
    _, tangent = xpgrad.jvp(f, [x], [t])
    (hv,) = xpgrad.hvp(f, [x], [t])
    a, d = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])
    want_t = np.sum((np.cos(a) * a + np.sin(a) + 0.5 * np.exp(a * 0.5)) * d)
    want_h = (2 * np.cos(a) - np.sin(a) * a + 0.25 * np.exp(a * 0.5)) * d
    compiled = xpgrad.function([x, t], [tangent, hv])
    got_t, got_h = compiled(a, d)
    np.testing.assert_allclose(got_t, want_t, rtol=1e-12)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-12)
    fused = xpgrad.fuse([x, t], [f, tangent, hv])  # elementwise with a final sum: one pass where numba is
    np.testing.assert_allclose(fused(a, d)[1], want_t, rtol=1e-12)
    np.testing.assert_allclose(fused(a, d)[2], want_h, rtol=1e-12)
    assert "cos(x)" in tangent.expr() and "t" in tangent.expr()
    assert "x = " in xpgrad.format_tree(hv) or "x" in xpgrad.format_tree(hv)
    again = pickle.loads(pickle.dumps(xpgrad.function([x, t], [hv])))
    np.testing.assert_allclose(again(a, d)[0], want_h, rtol=1e-12)


def test_jacobians_of_every_shape(tb) -> None:
    x = tb.t(np.arange(6.0).reshape(2, 3))
    j = xpgrad.jacrev(lambda x: xpgrad.sum(x * x, axis=1))(x)  # (2,) by (2, 3)
    want = np.zeros((2, 2, 3))
    want[0, 0], want[1, 1] = 2 * np.arange(3.0), 2 * np.arange(3.0, 6.0)
    np.testing.assert_array_equal(tb.np(j), want)
    np.testing.assert_array_equal(tb.np(xpgrad.jacfwd(lambda x: xpgrad.sum(x * x, axis=1))(x)), want)
    assert tuple(xpgrad.jacobian(xpgrad.sum(x), x).shape) == (2, 3)  # a scalar's: the gradient's shape
    empty = tb.t(np.zeros((0,)))
    assert tuple(xpgrad.jacobian(xpgrad.sin(empty), empty).shape) == (0, 0)


def test_a_placeholder_cotangent_makes_a_pullback_graph() -> None:
    x = xpgrad.Tensor(np.array([0.5, 1.0]), name="x")
    _, pullback = xpgrad.vjp(xpgrad.sin(x) * x, x)
    ct = xpgrad.placeholder(shape=(2,), dtype="float64", name="ct")
    (g,) = pullback(ct)
    ct.value = np.array([1.0, -3.0])
    want = (np.cos([0.5, 1.0]) * [0.5, 1.0] + np.sin([0.5, 1.0])) * [1.0, -3.0]
    np.testing.assert_allclose(g.forward().numpy(), want, rtol=1e-14)


def test_nested_transforms_tell_their_variables_apart() -> None:
    # JAX's perturbation confusion example: d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x
    got = xpgrad.grad(lambda x: x * xpgrad.grad(lambda y: x * y)(x))(3.0)
    assert float(got) == 6.0
    assert float(xpgrad.grad(xpgrad.grad(xpgrad.grad(lambda x: x**4)))(2.0)) == 48.0


def test_grad_and_tensor_grad_keep_their_meaning() -> None:
    x, y = xpgrad.Tensor(3), xpgrad.Tensor(5)
    z2 = (x + y) * y
    g = z2.grad(y)
    assert str(g) == "T:13" and str(xpgrad.grad(z2, [y])[0]) == "T:13"
    v = xpgrad.Tensor(np.array([1.0, 2.0]))
    assert xpgrad.grad(v * v, v)[0].numpy().tolist() == [2.0, 4.0]  # of sum(out), as before
    assert xpgrad.grad(v * v, [v], np.array([1.0, 0.0]))[0].numpy().tolist() == [2.0, 0.0]


def test_misuse_is_named(own_ops: None) -> None:
    v = xpgrad.Tensor(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"grad: f must return a scalar \(shape \(\)\), as with jax.grad; got shape"):
        xpgrad.grad(lambda x: x * x)(v)
    with pytest.raises(ValueError, match=r"jvp: tangents\[0\] has shape \(3,\), but its input has shape \(2,\)"):
        xpgrad.jvp(lambda x: x, (v,), (np.ones(3),))
    with pytest.raises(ValueError, match="jvp: 1 inputs but 2 tangents"):
        xpgrad.jvp(v * v, [v], [np.ones(2), np.ones(2)])
    with pytest.raises(TypeError, match=r"jvp: primals and tangents are tuples"):
        xpgrad.jvp(lambda x: x, v, np.ones(2))
    with pytest.raises(TypeError, match="argnums names argument 1, but the function got 1 argument"):
        xpgrad.grad(lambda x: xpgrad.sum(x), 1)(v)
    with pytest.raises(ValueError, match=r"jacobian: the shape of the output is not known"):
        p = xpgrad.placeholder(shape=(None,), dtype="float64")
        xpgrad.jacobian(p * 2, p)
    no_rule = xpgrad.custom_op(lambda xp, x: x * 2, vjp=None, name="no_rule_here")
    with pytest.raises(NotImplementedError, match="jvp: op 'no_rule_here' has no derivative rule for its input 0"):
        xpgrad.jvp(xpgrad.sum(no_rule(v)), [v], [np.ones(2)])
    with pytest.raises(NotImplementedError, match="grad: op 'no_rule_here' has no derivative rule for its input 0"):
        xpgrad.grad(xpgrad.sum(no_rule(v)), [v])


def test_deep_graphs_take_no_recursion() -> None:
    import sys

    x = xpgrad.Tensor(np.array([0.5]))
    y = x
    for _ in range(20_000):
        y = y * 0.9999 + 0.001
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # (a recursive walk of 20,000 nodes fails at once)
    try:
        _, t = xpgrad.jvp(y, [x], [np.ones(1)])
        (hv,) = xpgrad.hvp(xpgrad.sum(y * y), [x], [np.ones(1)])
    finally:
        sys.setrecursionlimit(limit)
    np.testing.assert_allclose(t.numpy(), [0.9999**20_000], rtol=1e-10)
    np.testing.assert_allclose(hv.numpy(), [2 * 0.9999**40_000], rtol=1e-10)
