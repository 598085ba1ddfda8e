"""Forward mode through complex values, with JAX's convention: ``jvp`` is the R-linear map of the tangent
(``Re(conj(z) dz) / |z|`` for ``abs``, ``Im(dz)`` for ``imag``, ``f'(z) dz`` for a holomorphic op).

Oracles: central differences along the tangent (a complex tangent moves the real and imaginary parts
together; 1 and 1j move each alone), and ``jax.jvp`` on random complex graphs, first and second order
(``hvp``: forward over reverse), on every backend with complex dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpgrad
from test_complex import HOLOMORPHIC, UNARY, W, _fn, _points, _random_graph, _xp_value

OTHER_OPS = {  # beyond elementwise, each complex in and out (or real out)
    "sum": (lambda t: xpgrad.sum(t * t, axis=0), lambda a: (a * a).sum(axis=0)),
    "prod": (lambda t: xpgrad.prod(t + 0.5, axis=1), lambda a: (a + 0.5).prod(axis=1)),
    "mean": (lambda t: xpgrad.mean(abs(t), axis=1), None),
    "matmul": (lambda t: xpgrad.matmul(t, xpgrad.matrix_transpose(t)), lambda a: a @ a.T),
    "vecdot": (lambda t: xpgrad.vecdot(t, t * (0.3 - 1j)), lambda a: np.sum(np.conj(a) * a * (0.3 - 1j), axis=-1)),
    "vecdot, a real": (lambda t: xpgrad.vecdot(xpgrad.real(t), t), None),
    "tensordot": (lambda t: xpgrad.tensordot(t, xpgrad.conj(t), axes=([1], [1])), None),
    "take": (lambda t: xpgrad.take(t, xpgrad.asarray([2, 0, 2], backend=t.backend, device=t.device), axis=1), None),
    "cumulative_sum": (lambda t: xpgrad.cumulative_sum(t * t, axis=1), None),
    "where": (lambda t: xpgrad.where(xpgrad.real(t) > 0.7, t * t, xpgrad.conj(t)), None),
    "index": (lambda t: t[:, 1:] * t[:, :2], None),
    "astype": (lambda t: t * xpgrad.astype(xpgrad.real(t), "complex128"), None),
}


def _fd_jvp(tb: Any, f: Any, z: np.ndarray, t: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return (_xp_value(tb, f, z + h * t) - _xp_value(tb, f, z - h * t)) / (2 * h)


def _jvp(tb: Any, f: Any, z: np.ndarray, t: np.ndarray) -> tuple[Any, Any]:
    out, tan = xpgrad.jvp(f, (xpgrad.Tensor(tb.arr(z, "complex128")),), (tb.arr(t, "complex128"),))
    return out, tan


@pytest.mark.parametrize("name", sorted(UNARY))
def test_each_op_against_finite_differences(tb, name: str) -> None:
    u = _fn(UNARY[name][0], xpgrad)
    z = _points(tb, 3)
    for t in (np.ones(3), 1j * np.ones(3), np.array([0.3 - 0.7j, -1.1 + 0.2j, 0.5 + 0.5j])):
        out, tan = _jvp(tb, u, z, t)
        assert tan.dtype == out.dtype and tan.shape == out.shape, name
        want = 0 * z.real if name == "sign" else _fd_jvp(tb, u, z, t)  # (sign's derivative is 0, as JAX's)
        np.testing.assert_allclose(tb.np(tan), want, rtol=1e-6, atol=1e-8, err_msg=f"{name} along {t}")


def test_the_closed_forms_of_the_non_holomorphic_ops(tb) -> None:
    z, t = np.array([1 + 2j, -3 + 0.5j]), np.array([0.25 - 1j, 2 + 1j])
    zt, tt = xpgrad.Tensor(tb.arr(z, "complex128")), tb.arr(t, "complex128")
    cases = {
        "abs": (lambda a: abs(a), (np.conj(z) * t).real / abs(z)),
        "real": (xpgrad.real, t.real),
        "imag": (xpgrad.imag, t.imag),
        "conj": (xpgrad.conj, np.conj(t)),
        "vecdot": (lambda a: xpgrad.vecdot(a, a * 2j), np.sum(np.conj(t) * z * 2j + np.conj(z) * t * 2j)),
    }
    for name, (f, want) in cases.items():
        _, tan = xpgrad.jvp(f, (zt,), (tt,))
        np.testing.assert_allclose(tb.np(tan), want, rtol=1e-14, err_msg=name)


@pytest.mark.parametrize("name", sorted(OTHER_OPS))
def test_ops_beyond_elementwise_against_finite_differences(tb, name: str) -> None:
    f = OTHER_OPS[name][0]
    z = np.concatenate([_points(tb, 4), _points(tb, 5)]).reshape(2, 3)
    t = np.array([[0.3 - 0.7j, -1.1 + 0.2j, 0.5 + 0.5j], [1j, 1.0, -0.4 + 0.9j]])
    out, tan = _jvp(tb, f, z, t)
    assert tan.dtype == out.dtype and tan.shape == out.shape, name
    np.testing.assert_allclose(tb.np(tan), _fd_jvp(tb, f, z, t), rtol=1e-6, atol=1e-8, err_msg=name)


def test_real_inputs_meeting_complex_values(tb) -> None:
    x, z = np.array([0.8, 1.3]), np.array([1 + 2j, 0.5 - 1j])
    xt, zt = xpgrad.Tensor(tb.arr(x)), xpgrad.Tensor(tb.arr(z, "complex128"))
    f = lambda a, b: xpgrad.exp(a * b) + abs(b / a)
    _, tan = xpgrad.jvp(f, (xt, zt), (tb.arr([1.0, -2.0]), tb.arr([0.5j, 1.0], "complex128")))
    h, dx, dz = 1e-6, np.array([1.0, -2.0]), np.array([0.5j, 1.0])
    fn = lambda a, b: np.exp(a * b) + abs(b / a)
    want = (fn(x + h * dx, z + h * dz) - fn(x - h * dx, z - h * dz)) / (2 * h)
    np.testing.assert_allclose(tb.np(tan), want, rtol=1e-7)
    with pytest.raises(TypeError, match=r"jvp: tangents\[0\] is complex \(complex128\) but its input is real"):
        xpgrad.jvp(f, (xt, zt), (tb.arr([1j, 0], "complex128"), tb.arr(z, "complex128")))
    # a real tangent of a complex input moves it along the real axis (cast to the input's dtype)
    _, tan = xpgrad.jvp(xpgrad.sin, (zt,), (tb.arr([1.0, 1.0]),))
    assert tan.dtype == zt.dtype
    np.testing.assert_allclose(tb.np(tan), np.cos(z), rtol=1e-14)


def test_second_order_against_finite_differences(tb) -> None:
    # hvp (forward over reverse) of a real function of a complex input: the directional derivative of its
    # gradient (JAX's, df/dx - i df/dy) along the tangent
    w = tb.arr(W, "complex128")

    def f(a: xpgrad.Tensor) -> xpgrad.Tensor:
        return xpgrad.sum(xpgrad.real(xpgrad.sin(a) * w)) + xpgrad.sum(abs(a) ** 3) + xpgrad.sum(xpgrad.imag(a * a))

    def g(a: xpgrad.Tensor) -> xpgrad.Tensor:
        return xpgrad.grad(f)(a)

    z, t = _points(tb, 6), np.array([0.3 - 0.7j, -1.1 + 0.2j, 0.5 + 0.5j])
    (hv,) = xpgrad.hvp(f, (xpgrad.Tensor(tb.arr(z, "complex128")),), (tb.arr(t, "complex128"),))
    np.testing.assert_allclose(tb.np(hv), _fd_jvp(tb, g, z, t), rtol=1e-6, atol=1e-8)

    # forward over forward: the jvp of a jvp
    def first(a: xpgrad.Tensor) -> xpgrad.Tensor:
        return xpgrad.jvp(lambda b: abs(xpgrad.exp(b)) * b, (a,), (tb.arr(t, "complex128"),))[1]

    _, second = _jvp(tb, first, z, t)
    np.testing.assert_allclose(tb.np(second), _fd_jvp(tb, first, z, t), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------- JAX as the oracle, on random graphs
@pytest.mark.parametrize("holomorphic", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_against_jax(tb, jax_x64, seed: int, holomorphic: bool) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    f = _random_graph(200 + seed, holomorphic=holomorphic)
    z1, z2 = _points(tb, 20 + seed) * 0.8, _points(tb, 50 + seed) * 0.8
    x = np.array([0.3, -0.6, 0.9])
    rng = np.random.default_rng(seed)
    t1, t2 = rng.normal(size=3) + 1j * rng.normal(size=3), rng.normal(size=3) + 1j * rng.normal(size=3)
    tx = rng.normal(size=3)
    ins = (tb.arr(z1, "complex128"), tb.arr(z2, "complex128"), tb.arr(x))
    tans = (tb.arr(t1, "complex128"), tb.arr(t2, "complex128"), tb.arr(tx))
    out, tan = xpgrad.jvp(lambda a, b, c: f(xpgrad, a, b, c), ins, tans)
    want_out, want = jax.jvp(lambda a, b, c: f(jnp, a, b, c), (z1, z2, x), (t1, t2, tx))
    np.testing.assert_allclose(tb.np(out), np.asarray(want_out), rtol=1e-12)
    np.testing.assert_allclose(tb.np(tan), np.asarray(want), rtol=1e-9, atol=1e-12)
    if holomorphic:
        return
    # second order: hvp, forward over reverse, against JAX's jvp of its grad
    hv = xpgrad.hvp(lambda a, b, c: f(xpgrad, a, b, c), ins, tans)
    _, want2 = jax.jvp(jax.grad(lambda a, b, c: f(jnp, a, b, c), argnums=(0, 1, 2)), (z1, z2, x), (t1, t2, tx))
    for k in range(3):
        np.testing.assert_allclose(tb.np(hv[k]), np.asarray(want2[k]), rtol=1e-8, atol=1e-11, err_msg=f"input {k}")


@pytest.mark.parametrize("name", sorted(UNARY))
def test_each_op_against_jax(tb, jax_x64, name: str) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    mine, theirs = _fn(UNARY[name][0], xpgrad), _fn(UNARY[name][1], jnp)
    z, t = _points(tb, 8), np.array([0.3 - 0.7j, -1.1 + 0.2j, 0.5 + 0.5j])
    _, tan = _jvp(tb, mine, z, t)
    _, want = jax.jvp(theirs, (z,), (t,))
    np.testing.assert_allclose(tb.np(tan), np.asarray(want), rtol=1e-10, atol=1e-13)
    if name in HOLOMORPHIC:  # jacfwd of a holomorphic op: f'(z) on the diagonal
        jac = xpgrad.jacfwd(mine, holomorphic=True)(tb.arr(z, "complex128"))
        np.testing.assert_allclose(tb.np(jac), np.asarray(jax.jacfwd(theirs, holomorphic=True)(z)), rtol=1e-10)


def test_jacobians_and_hessian_take_holomorphic_as_jax(tb, jax_x64) -> None:
    jax, jnp = jax_x64, jax_x64.numpy
    z, x = _points(tb, 9), np.array([0.5, -1.0, 2.0])
    zt, xt = tb.arr(z, "complex128"), tb.arr(x)
    for name in ("jacfwd", "jacrev", "jacobian"):
        got = getattr(xpgrad, name)(lambda t: xpgrad.sin(t) * t[0], holomorphic=True)(zt)
        want = getattr(jax, name)(lambda t: jnp.sin(t) * t[0], holomorphic=True)(z)
        np.testing.assert_allclose(tb.np(got), np.asarray(want), rtol=1e-12, err_msg=name)
        with pytest.raises(TypeError, match=rf"^{name} requires real-valued inputs, but got complex128 \(as jax"):
            getattr(xpgrad, name)(lambda t: t * t)(zt)
        with pytest.raises(TypeError, match=rf"^{name} with holomorphic=True requires inputs with a complex dtype"):
            getattr(xpgrad, name)(lambda t: t * t, holomorphic=True)(xt)
    got = xpgrad.hessian(lambda t: xpgrad.sum(xpgrad.sin(t) * t), holomorphic=True)(zt)
    want = jax.hessian(lambda t: jnp.sum(jnp.sin(t) * t), holomorphic=True)(z)
    np.testing.assert_allclose(tb.np(got), np.asarray(want), rtol=1e-12)
    # a complex output of a real input: forward mode gives it (as jax.jacfwd), reverse mode refuses it
    got = xpgrad.jacfwd(lambda t: xpgrad.exp(t * 1j))(xt)
    np.testing.assert_allclose(tb.np(got), np.asarray(jax.jacfwd(lambda t: jnp.exp(t * 1j))(x)), rtol=1e-14)
    with pytest.raises(TypeError, match=r"^jacrev requires real-valued outputs, but got complex128"):
        xpgrad.jacrev(lambda t: xpgrad.exp(t * 1j))(xt)
