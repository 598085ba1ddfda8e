"""Complex gradients with JAX's convention (docs/complex.md), on every backend with complex dtypes.

Oracles: JAX itself on random complex graphs (values, first and second order), and central finite
differences in the complex plane, the real and imaginary parts of each input perturbed separately: a
real ``f`` of ``z = x + iy`` has the gradient df/dx - i df/dy, a holomorphic one f'(z).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import xpgrad

W = np.array([0.7 - 0.4j, -0.3 + 1.1j, 0.5 + 0.2j])  # a fixed complex weight: real(w * u) sees both parts

# unary ops of the vocabulary as (xpgrad's function, JAX's), holomorphic first
HOLOMORPHIC = {
    "exp": ("exp", "exp"),
    "log": ("log", "log"),
    "sin": ("sin", "sin"),
    "cos": ("cos", "cos"),
    "tan": ("tan", "tan"),
    "sinh": ("sinh", "sinh"),
    "cosh": ("cosh", "cosh"),
    "tanh": ("tanh", "tanh"),
    "sqrt": ("sqrt", "sqrt"),
    "square": ("square", "square"),
    "expm1": ("expm1", "expm1"),
    "log1p": ("log1p", "log1p"),
    "log2": ("log2", "log2"),
    "log10": ("log10", "log10"),
    "asin": ("asin", "arcsin"),
    "acos": ("acos", "arccos"),
    "atan": ("atan", "arctan"),
    "asinh": ("asinh", "arcsinh"),
    "acosh": ("acosh", "arccosh"),  # (JAX's is wrong for Re(z) < 0: the points here have Re(z) > 0)
    "atanh": ("atanh", "arctanh"),
    "reciprocal": ("reciprocal", "reciprocal"),
    "negative": ("negative", "negative"),
    "positive": ("positive", "positive"),
    "cube": (lambda t: t**3, lambda a: a**3),
    "z^w": (lambda t: t ** (0.5 + 0.25j), lambda a: a ** (0.5 + 0.25j)),
    "w^z": (lambda t: (1.5 - 0.5j) ** t, lambda a: (1.5 - 0.5j) ** a),
    "sinc": ("sinc", "sinc"),
}
NON_HOLOMORPHIC = {
    "real": ("real", "real"),
    "imag": ("imag", "imag"),
    "conj": ("conj", "conj"),
    "abs": (lambda t: abs(t), lambda a: abs(a)),
    "abs2": (lambda t: abs(t) ** 2, lambda a: abs(a) ** 2),
    "angle": (lambda t: xpgrad.atan2(xpgrad.imag(t), xpgrad.real(t)), "angle"),
    "sign": ("sign", "sign"),  # derivative 0, as JAX's
}
UNARY = {**HOLOMORPHIC, **NON_HOLOMORPHIC}
BINARY = {
    "add": (lambda a, b: a + b),
    "subtract": (lambda a, b: a - b),
    "multiply": (lambda a, b: a * b),
    "divide": (lambda a, b: a / b),
    "pow": (lambda a, b: a**b),
}


def _fn(spec: Any, ns: Any) -> Callable[..., Any]:
    return getattr(ns, spec) if isinstance(spec, str) else spec


def _points(tb: Any, seed: int, n: int = 3) -> Any:
    """Points off every branch cut of the vocabulary: 0.3 < Re < 1.2, 0.2 < Im < 0.9."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.3, 1.2, n) + 1j * rng.uniform(0.2, 0.9, n)


def _xp_value(tb: Any, f: Callable[..., xpgrad.Tensor], *vals: Any) -> Any:
    return tb.np(f(*(xpgrad.Tensor(tb.arr(v, "complex128" if np.iscomplexobj(v) else "float64")) for v in vals)))


def _fd_grad(value: Callable[..., Any], vals: list[Any], k: int, h: float = 1e-6) -> Any:
    """Central differences of the real scalar ``value(*vals)`` in input ``k``: df/dx - i df/dy (df/dx if real)."""
    v = vals[k]
    out = np.zeros(v.shape, dtype=v.dtype)
    for i in range(v.size):
        steps = (1.0, 1j) if np.iscomplexobj(v) else (1.0,)
        for s in steps:
            e = np.zeros(v.shape, dtype=v.dtype)
            e.flat[i] = s * h
            up = value(*(e + w if j == k else w for j, w in enumerate(vals)))
            down = value(*(w - e if j == k else w for j, w in enumerate(vals)))
            d = (up - down) / (2 * h)
            out.flat[i] += d if s == 1.0 else -1j * d
    return out


def _real_loss(u: Callable[[Any], Any], w: Any) -> Callable[[Any], Any]:
    """The real scalar sum(real(w * u(z))) of a unary op."""
    return lambda z: xpgrad.sum(xpgrad.real(u(z) * w))


# ----------------------------------------------------------------- finite differences, no JAX needed
@pytest.mark.parametrize("name", sorted(set(UNARY) - {"sign"}))  # (sign's derivative is 0 by definition, as JAX's)
def test_real_loss_of_each_op_against_finite_differences(tb, name: str) -> None:
    u = _fn(UNARY[name][0], xpgrad)
    z = _points(tb, 0)
    f = _real_loss(u, tb.arr(W, "complex128"))
    zt = xpgrad.Tensor(tb.arr(z, "complex128"))
    g = xpgrad.grad(f(zt), [zt])[0]
    assert g.dtype == tb.xp.complex128 and g.device == zt.device
    want = _fd_grad(lambda v: float(_xp_value(tb, f, v)), [z], 0)
    np.testing.assert_allclose(tb.np(g), want, rtol=1e-6, atol=1e-8)
    # second order: the gradient of sum(real(w2 * grad f)), against differences of the first gradient
    w2 = tb.arr([0.2 + 0.9j, 1.0 - 0.5j, -0.6 + 0.3j], "complex128")

    def first(t: xpgrad.Tensor) -> xpgrad.Tensor:
        return xpgrad.sum(xpgrad.real(xpgrad.grad(f(t), [t])[0] * w2))

    g2 = xpgrad.grad(first(zt), [zt])[0]
    want2 = _fd_grad(lambda v: float(_xp_value(tb, first, v)), [z], 0)
    np.testing.assert_allclose(tb.np(g2), want2, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(HOLOMORPHIC))
def test_holomorphic_derivative_of_each_op_against_finite_differences(tb, name: str) -> None:
    u = _fn(HOLOMORPHIC[name][0], xpgrad)
    z = _points(tb, 1)
    zt = xpgrad.Tensor(tb.arr(z, "complex128"))
    d = xpgrad.grad(xpgrad.sum(u(zt)), [zt], holomorphic=True)[0]
    assert d.dtype == tb.xp.complex128
    h = 1e-6
    fd = (_xp_value(tb, u, z + h) - _xp_value(tb, u, z - h)) / (2 * h)  # along the real axis: f'(z)
    np.testing.assert_allclose(tb.np(d), fd, rtol=1e-6, atol=1e-8)
    fd_i = (_xp_value(tb, u, z + 1j * h) - _xp_value(tb, u, z - 1j * h)) / (2j * h)  # the same along i
    np.testing.assert_allclose(tb.np(d), fd_i, rtol=1e-6, atol=1e-8)
    assert tb.np(zt.grad(zt, holomorphic=True)).tolist() == [1, 1, 1]  # Tensor.grad takes the keyword too


def test_acosh_takes_the_principal_branch_left_of_the_imaginary_axis(tb) -> None:
    # 1/sqrt((z-1)(z+1)) is -1/(sqrt(z-1) sqrt(z+1)) for Re(z) < 0: the real rule's form (and JAX's) takes the
    # other branch there; the complex rule agrees with the differences of acosh itself
    z = np.array([-2.0 + 0.5j, -0.5 - 1.5j, 0.7 + 0.1j])
    zt = xpgrad.Tensor(tb.arr(z, "complex128"))
    d = xpgrad.grad(xpgrad.sum(xpgrad.acosh(zt)), [zt], holomorphic=True)[0]
    h = 1e-6
    fd = (_xp_value(tb, xpgrad.acosh, z + h) - _xp_value(tb, xpgrad.acosh, z - h)) / (2 * h)
    np.testing.assert_allclose(tb.np(d), fd, rtol=1e-6)
    np.testing.assert_allclose(tb.np(d), 1 / (np.sqrt(z - 1) * np.sqrt(z + 1)), rtol=1e-14)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_of_complex_and_real_inputs_against_finite_differences(tb, name: str) -> None:
    op = BINARY[name]
    a, b = _points(tb, 2), _points(tb, 3)
    x = np.array([0.8, 1.3, 0.6])  # a real input, promoted to complex by the op
    for args in ([a, b], [x, b], [a, x]):

        def f(*ts: xpgrad.Tensor) -> xpgrad.Tensor:
            return xpgrad.sum(xpgrad.real(op(*ts) * tb.arr(W, "complex128"))) + xpgrad.sum(abs(op(*ts)))

        ts = [xpgrad.Tensor(tb.arr(v, "complex128" if np.iscomplexobj(v) else "float64")) for v in args]
        gs = xpgrad.grad(f(*ts), ts)
        for k, g in enumerate(gs):
            assert g.dtype == ts[k].dtype, (name, k)
            want = _fd_grad(lambda *vs: float(_xp_value(tb, f, *vs)), args, k)
            np.testing.assert_allclose(tb.np(g), want, rtol=1e-6, atol=1e-8)


def test_reductions_casts_and_indexing_against_finite_differences(tb) -> None:
    z = np.concatenate([_points(tb, 4), _points(tb, 5)]).reshape(2, 3)
    x = np.array([[0.5], [1.5]])
    cases = {
        "sum": lambda t, r: xpgrad.sum(t * t, axis=1),
        "mean": lambda t, r: xpgrad.mean(t * r, axis=0),
        "prod": lambda t, r: xpgrad.prod(t + r, axis=1),
        "where": lambda t, r: xpgrad.where(xpgrad.real(t) > 0.7, t * t, xpgrad.conj(t) * r),
        "index, reshape": lambda t, r: xpgrad.reshape(t[:, 1:] * r, (4,)),
        "astype": lambda t, r: t * xpgrad.astype(r, "complex128"),
        "broadcast": lambda t, r: t / (r + 1j),
        "matmul": lambda t, r: xpgrad.matmul(t, xpgrad.matrix_transpose(t)) * r,
        "tensordot": lambda t, r: xpgrad.tensordot(t * r, xpgrad.conj(t), axes=([1], [1])),
        "vecdot": lambda t, r: xpgrad.vecdot(t, t * r),  # sum(conj(a) * b): conjugate-linear in a
        "vecdot, a real": lambda t, r: xpgrad.vecdot(xpgrad.real(t) * r, t),
        "vecdot, b real": lambda t, r: xpgrad.vecdot(t, xpgrad.imag(t) * r),
        "cumulative_sum": lambda t, r: xpgrad.cumulative_sum(t * r, axis=1),
    }
    for name, body in cases.items():

        def f(t: xpgrad.Tensor, r: xpgrad.Tensor) -> xpgrad.Tensor:
            y = body(t, r)  # noqa: B023 (called in this iteration only)
            return xpgrad.sum(xpgrad.real(y * (0.3 - 0.8j))) + xpgrad.sum(abs(y) ** 2)

        ts = [xpgrad.Tensor(tb.arr(z, "complex128")), xpgrad.Tensor(tb.arr(x, "float64"))]
        gs = xpgrad.grad(f(*ts), ts)
        for k, g in enumerate(gs):
            assert g.dtype == ts[k].dtype and g.shape == ts[k].shape, (name, k)
            want = _fd_grad(lambda *vs: float(_xp_value(tb, f, *vs)), [z, x], k)
            np.testing.assert_allclose(tb.np(g), want, rtol=1e-6, atol=1e-8, err_msg=name)


def test_complex64_gradients_keep_their_dtype(tb) -> None:
    z = xpgrad.Tensor(tb.arr([1 + 2j, -0.5 + 0.25j], "complex64"))
    x = xpgrad.Tensor(tb.arr([0.5, 2.0], "float32"))
    gz, gx = xpgrad.grad(xpgrad.sum(abs(z * x) ** 2), [z, x])
    assert gz.dtype == tb.xp.complex64 and gx.dtype == tb.xp.float32
    zn, xn = tb.np(z), tb.np(x)
    np.testing.assert_allclose(tb.np(gz), 2 * np.conj(zn) * xn**2, rtol=1e-6)  # |zx|^2 = z conj(z) x^2
    np.testing.assert_allclose(tb.np(gx), 2 * abs(zn) ** 2 * xn, rtol=1e-6)


# ----------------------------------------------------------------- JAX's rules for outputs and keywords
def test_complex_outputs_need_holomorphic_or_a_cotangent(tb) -> None:
    z = xpgrad.Tensor(tb.arr([1 + 2j], "complex128"))
    x = xpgrad.Tensor(tb.arr([1.0], "float64"))
    with pytest.raises(TypeError, match=r"^grad requires real-valued outputs, but got complex128: .*holomorphic=True"):
        xpgrad.grad(z * z, [z])
    with pytest.raises(TypeError, match=r"grad requires real-valued outputs"):
        (z * x).grad(x)  # a complex output of a real input too (JAX's rule)
    with pytest.raises(
        TypeError, match=r"^grad: holomorphic=True requires complex wrt, but wrt\[0\] has dtype float64"
    ):
        xpgrad.grad(z * x, [x], holomorphic=True)
    with pytest.raises(TypeError, match=r"^grad: holomorphic=True requires a complex output, but got float64"):
        abs(z).grad(z, holomorphic=True)
    # a cotangent: the vector-Jacobian product, ct * f'(z) for holomorphic f (JAX's vjp)
    g = xpgrad.grad(z * z, [z], cotangent=tb.arr([1j], "complex128"))[0]
    np.testing.assert_allclose(tb.np(g), [1j * 2 * (1 + 2j)], rtol=1e-15)


def test_holomorphic_true_on_a_non_holomorphic_function_does_as_jax(tb) -> None:
    # JAX does not check holomorphy: it returns the vjp of the cotangent 1, conj(1) = 1 for conj(z) and
    # real(1) = 1 for real(z) + 0j; xpgrad does the same (documented in docs/complex.md)
    z = xpgrad.Tensor(tb.arr([1 + 2j, 3 - 1j], "complex128"))
    np.testing.assert_array_equal(tb.np(xpgrad.conj(z).grad(z, holomorphic=True)), [1, 1])
    np.testing.assert_array_equal(tb.np((xpgrad.real(z) + 0j).grad(z, holomorphic=True)), [1, 1])


# ----------------------------------------------------------------- JAX as the oracle, on random graphs


def _random_graph(seed: int, holomorphic: bool) -> Callable[..., Any]:
    """A random graph of two complex inputs and a real one, as a function of a namespace ``ns`` (xpgrad or
    jax.numpy) and the inputs; a real scalar, or a complex one when ``holomorphic``."""
    rnd = random.Random(seed)
    pool = sorted(HOLOMORPHIC) if holomorphic else sorted(UNARY)
    safe = [n for n in pool if n not in ("log", "log2", "log10", "reciprocal", "z^w", "acosh", "sinc")]
    steps = []
    for _ in range(rnd.randint(3, 6)):
        if rnd.random() < 0.5:
            steps.append(("u", rnd.choice(safe), rnd.randrange(10)))
        else:
            steps.append(("b", rnd.choice(["add", "subtract", "multiply"]), rnd.randrange(10), rnd.randrange(10)))

    def f(ns: Any, z1: Any, z2: Any, x: Any) -> Any:
        jax_side = ns is not xpgrad
        nodes = [z1, z2] if holomorphic else [z1, z2, x]
        for step in steps:
            if step[0] == "u":
                spec = UNARY[step[1]][1 if jax_side else 0]
                a = nodes[step[2] % len(nodes)]
                y = _fn(spec, ns)(a)
                if step[1] in ("real", "imag", "abs", "abs2", "angle"):
                    y = y * (0.5 + 0.5j)  # back to complex, so later steps see complex values
                nodes.append(y)
            else:
                nodes.append(BINARY[step[1]](nodes[step[2] % len(nodes)], nodes[step[3] % len(nodes)]))
        out = nodes[-1] * 0.3 + nodes[-2] * (0.2 - 0.1j)
        return ns.sum(out) if holomorphic else ns.sum(ns.real(out * (0.4 + 0.9j)))

    return f


@pytest.mark.parametrize("seed", range(8))
def test_random_real_valued_graphs_against_jax(tb, jax_x64, seed: int) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    f = _random_graph(seed, holomorphic=False)
    z1, z2 = _points(tb, 10 + seed) * 0.8, _points(tb, 40 + seed) * 0.8
    x = np.array([0.3, -0.6, 0.9])
    ts = [xpgrad.Tensor(tb.arr(z1, "complex128")), xpgrad.Tensor(tb.arr(z2, "complex128"))]
    ts.append(xpgrad.Tensor(tb.arr(x, "float64")))
    out = f(xpgrad, *ts)
    want_out = f(jnp, z1, z2, x)
    np.testing.assert_allclose(tb.np(out), np.asarray(want_out), rtol=1e-12)
    gs = xpgrad.grad(out, ts)
    want = jax.grad(lambda *a: f(jnp, *a), argnums=(0, 1, 2))(z1, z2, x)
    for k in range(3):
        np.testing.assert_allclose(tb.np(gs[k]), np.asarray(want[k]), rtol=1e-9, atol=1e-12, err_msg=f"input {k}")
    # second order: the gradient of sum(real(w * df/dz1)) + sum(x * df/dx)
    h = xpgrad.sum(xpgrad.real(gs[0] * tb.arr(W, "complex128"))) + xpgrad.sum(gs[2] * tb.arr(x, "float64"))
    gs2 = xpgrad.grad(h, ts)

    def jh(*a: Any) -> Any:
        d = jax.grad(lambda *b: f(jnp, *b), argnums=(0, 2))(*a)
        return jnp.sum(jnp.real(d[0] * W)) + jnp.sum(d[1] * x)

    want2 = jax.grad(jh, argnums=(0, 1, 2))(z1, z2, x)
    for k in range(3):
        np.testing.assert_allclose(tb.np(gs2[k]), np.asarray(want2[k]), rtol=1e-8, atol=1e-11, err_msg=f"input {k}")


@pytest.mark.parametrize("seed", range(8))
def test_random_holomorphic_graphs_against_jax(tb, jax_x64, seed: int) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    f = _random_graph(100 + seed, holomorphic=True)
    z1, z2 = _points(tb, 70 + seed) * 0.8, _points(tb, 90 + seed) * 0.8
    x = np.zeros(3)  # (unused by holomorphic graphs)
    ts = [xpgrad.Tensor(tb.arr(z1, "complex128")), xpgrad.Tensor(tb.arr(z2, "complex128"))]
    out = f(xpgrad, *ts, None)
    np.testing.assert_allclose(tb.np(out), np.asarray(f(jnp, z1, z2, x)), rtol=1e-12)
    gs = xpgrad.grad(out, ts, holomorphic=True)
    want = jax.grad(lambda a, b: f(jnp, a, b, x), argnums=(0, 1), holomorphic=True)(z1, z2)
    for k in range(2):
        np.testing.assert_allclose(tb.np(gs[k]), np.asarray(want[k]), rtol=1e-9, atol=1e-12, err_msg=f"input {k}")
    gs2 = xpgrad.grad(
        xpgrad.sum(gs[0] * tb.arr(W, "complex128")), ts, holomorphic=True
    )  # second order, holomorphic again

    def jh(a: Any, b: Any) -> Any:
        return jnp.sum(jax.grad(lambda p, q: f(jnp, p, q, x), holomorphic=True)(a, b) * W)

    want2 = jax.grad(jh, argnums=(0, 1), holomorphic=True)(z1, z2)
    for k in range(2):
        np.testing.assert_allclose(tb.np(gs2[k]), np.asarray(want2[k]), rtol=1e-8, atol=1e-11, err_msg=f"input {k}")


@pytest.mark.parametrize("name", sorted(UNARY))
def test_each_op_against_jax(tb, jax_x64, name: str) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    mine, theirs = _fn(UNARY[name][0], xpgrad), _fn(UNARY[name][1], jnp)
    z = _points(tb, 7)
    zt = xpgrad.Tensor(tb.arr(z, "complex128"))
    g = xpgrad.grad(xpgrad.sum(xpgrad.real(mine(zt) * tb.arr(W, "complex128"))), [zt])[0]
    want = jax.grad(lambda a: jnp.sum(jnp.real(theirs(a) * W)))(z)
    np.testing.assert_allclose(tb.np(g), np.asarray(want), rtol=1e-10, atol=1e-13)
    if name in HOLOMORPHIC or name == "conj":
        d = xpgrad.grad(xpgrad.sum(mine(zt)), [zt], holomorphic=True)[0]
        want_d = jax.grad(lambda a: jnp.sum(theirs(a)), holomorphic=True)(z)
        np.testing.assert_allclose(tb.np(d), np.asarray(want_d), rtol=1e-10, atol=1e-13)


def test_function_forms_take_holomorphic(tb) -> None:
    z = tb.arr([1 + 2j, -0.5 + 0.25j], "complex128")
    zn = tb.np(z)
    d = xpgrad.grad(lambda t: xpgrad.sum(t * t * t), holomorphic=True)(z)  # 3 z^2
    np.testing.assert_allclose(tb.np(d), 3 * zn**2, rtol=1e-15)
    value, g = xpgrad.value_and_grad(lambda t: xpgrad.sum(abs(t) ** 2))(z)  # |z|^2, 2 conj(z)
    np.testing.assert_allclose(tb.np(value), np.sum(abs(zn) ** 2), rtol=1e-15)
    np.testing.assert_allclose(tb.np(g), 2 * np.conj(zn), rtol=1e-15)
    value, d = xpgrad.value_and_grad(lambda t: xpgrad.sum(xpgrad.exp(t)), holomorphic=True)(z)
    np.testing.assert_allclose(tb.np(d), np.exp(zn), rtol=1e-15)
    with pytest.raises(TypeError, match="grad requires real-valued outputs"):
        xpgrad.grad(lambda t: xpgrad.sum(t * t))(z)


def test_dask_complex_gradients() -> None:
    pytest.importorskip("dask", reason="dask is not installed (the dask extra)")
    zn, xn = np.array([1 + 2j, 3 - 1j]), np.array([0.5, 2.0])
    z, x = xpgrad.asarray(zn, backend="dask"), xpgrad.asarray(xn, backend="dask")
    gz, gx = xpgrad.grad(xpgrad.sum(abs(z * x) ** 2 + xpgrad.imag(z)), [z, x])
    np.testing.assert_allclose(gz.numpy(), 2 * np.conj(zn) * xn**2 - 1j, rtol=1e-15)  # |zx|^2 + Im z
    np.testing.assert_allclose(gx.numpy(), 2 * abs(zn) ** 2 * xn, rtol=1e-15)
