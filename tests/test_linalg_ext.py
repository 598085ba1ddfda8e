"""The standard's linalg extension (`xpgrad.linalg`) and cumulative_prod: forward against the backend's own
function, rules against central finite differences to order 2, closed forms and JAX, on every backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpgrad

RNG = np.random.default_rng(11)
INF = float("inf")


def _r(*shape: int) -> np.ndarray:
    return RNG.uniform(-1.0, 1.0, size=shape)


def _square(*shape: int) -> np.ndarray:
    return _r(*shape) + 3 * np.eye(shape[-1])  # well conditioned


def _spd(*shape: int) -> np.ndarray:
    m = _r(*shape)
    return m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])  # symmetric positive definite


def _sym(*shape: int) -> np.ndarray:
    m = _r(*shape)
    return m + np.swapaxes(m, -1, -2)  # symmetric (distinct eigenvalues, almost surely)


# (name, f(namespace, *arrays) -> one array, inputs, derivative order checked). ``f`` runs on xpgrad's namespace
# and on the backend's own: the forward must agree; the derivative of sin(f) is checked by central differences
LA: list[tuple[str, Any, tuple[np.ndarray, ...], int]] = [
    ("inv", lambda ns, a: ns.linalg.inv(a), (_square(2, 3, 3),), 2),
    ("det", lambda ns, a: ns.linalg.det(a), (_square(2, 3, 3),), 2),
    ("slogdet sign", lambda ns, a: ns.linalg.slogdet(a).sign, (_square(3, 3) - 6 * np.eye(3),), 1),
    ("slogdet logabsdet", lambda ns, a: ns.linalg.slogdet(a).logabsdet, (_square(2, 3, 3) - 6 * np.eye(3),), 2),
    ("solve", lambda ns, a, b: ns.linalg.solve(a, b), (_square(2, 3, 3), _r(2, 3, 2)), 2),
    ("solve vector", lambda ns, a, b: ns.linalg.solve(a, b), (_square(2, 3, 3), _r(3)), 2),
    ("solve batch broadcast", lambda ns, a, b: ns.linalg.solve(a, b), (_square(3, 3), _r(2, 3, 2)), 2),
    ("cholesky", lambda ns, a: ns.linalg.cholesky(a), (_spd(2, 3, 3),), 2),
    ("cholesky upper", lambda ns, a: ns.linalg.cholesky(a, upper=True), (_spd(3, 3),), 2),
    ("trace", lambda ns, a: ns.linalg.trace(a), (_r(2, 3, 3),), 2),
    ("trace offset", lambda ns, a: ns.linalg.trace(a, offset=-1), (_r(2, 4, 3),), 2),
    ("diagonal", lambda ns, a: ns.linalg.diagonal(a), (_r(2, 3, 4),), 2),
    ("diagonal offset 1", lambda ns, a: ns.linalg.diagonal(a, offset=1), (_r(4, 3),), 2),
    ("diagonal offset -2", lambda ns, a: ns.linalg.diagonal(a, offset=-2), (_r(5, 3),), 2),
    ("outer", lambda ns, a, b: ns.linalg.outer(a, b), (_r(3), _r(4)), 2),
    ("cross", lambda ns, a, b: ns.linalg.cross(a, b), (_r(2, 3), _r(2, 3)), 2),
    ("cross axis", lambda ns, a, b: ns.linalg.cross(a, b, axis=-2), (_r(3, 2), _r(3, 2)), 2),
    ("vector_norm", lambda ns, a: ns.linalg.vector_norm(a), (_r(3, 4),), 2),
    ("vector_norm ord=1 axis", lambda ns, a: ns.linalg.vector_norm(a, axis=1, ord=1), (_r(3, 4),), 2),
    ("vector_norm inf", lambda ns, a: ns.linalg.vector_norm(a, axis=0, ord=INF, keepdims=True), (_r(3, 4),), 2),
    ("vector_norm -inf", lambda ns, a: ns.linalg.vector_norm(a, axis=(0, 1), ord=-INF), (_r(2, 3, 2),), 2),
    ("vector_norm ord=3", lambda ns, a: ns.linalg.vector_norm(a, axis=-1, ord=3), (_r(3, 4),), 2),
    ("matrix_norm fro", lambda ns, a: ns.linalg.matrix_norm(a), (_r(2, 3, 4),), 2),
    ("matrix_norm nuc", lambda ns, a: ns.linalg.matrix_norm(a, ord="nuc"), (_r(2, 3, 4),), 2),
    ("matrix_norm 2", lambda ns, a: ns.linalg.matrix_norm(a, ord=2), (_r(4, 3),), 2),
    ("matrix_norm -2", lambda ns, a: ns.linalg.matrix_norm(a, ord=-2, keepdims=True), (_r(3, 3),), 2),
    ("matrix_norm 1", lambda ns, a: ns.linalg.matrix_norm(a, ord=1), (_r(2, 3, 4),), 2),
    ("matrix_norm -1", lambda ns, a: ns.linalg.matrix_norm(a, ord=-1), (_r(3, 4),), 2),
    ("matrix_norm inf", lambda ns, a: ns.linalg.matrix_norm(a, ord=INF), (_r(3, 4),), 2),
    ("matrix_norm -inf", lambda ns, a: ns.linalg.matrix_norm(a, ord=-INF), (_r(3, 4),), 2),
    ("matrix_power 3", lambda ns, a: ns.linalg.matrix_power(a, 3), (_r(2, 3, 3),), 2),
    ("matrix_power -2", lambda ns, a: ns.linalg.matrix_power(a, -2), (_square(3, 3),), 2),
    ("matrix_power 0", lambda ns, a: ns.linalg.matrix_power(a, 0) * a, (_r(3, 3),), 2),
    ("pinv", lambda ns, a: ns.linalg.pinv(a), (_r(4, 3),), 2),
    ("pinv wide batch", lambda ns, a: ns.linalg.pinv(a), (_r(2, 3, 5),), 2),
    ("eigh eigenvalues", lambda ns, a: ns.linalg.eigh(a).eigenvalues, (_sym(2, 3, 3),), 2),
    ("eigh eigenvectors", lambda ns, a: ns.linalg.eigh(a).eigenvectors ** 2, (_sym(3, 3),), 2),
    ("eigvalsh", lambda ns, a: ns.linalg.eigvalsh(a), (_sym(2, 3, 3),), 2),
    ("qr Q", lambda ns, a: ns.linalg.qr(a).Q, (_r(2, 4, 3),), 2),
    ("qr R", lambda ns, a: ns.linalg.qr(a).R, (_r(4, 3),), 2),
    ("qr complete square", lambda ns, a: ns.linalg.qr(a, mode="complete").Q, (_r(3, 3),), 2),
    ("svd U", lambda ns, a: ns.linalg.svd(a, full_matrices=False).U ** 2, (_r(4, 3),), 2),
    ("svd S", lambda ns, a: ns.linalg.svd(a, full_matrices=False).S, (_r(2, 3, 4),), 2),
    ("svd Vh", lambda ns, a: ns.linalg.svd(a, full_matrices=False).Vh ** 2, (_r(2, 3, 5),), 2),
    ("svd square", lambda ns, a: ns.linalg.svd(a).U ** 2, (_r(3, 3),), 2),
    ("svd full S", lambda ns, a: ns.linalg.svd(a).S, (_r(3, 5),), 2),
    ("svdvals", lambda ns, a: ns.linalg.svdvals(a), (_r(2, 4, 3),), 2),
    ("pinv rtol array", lambda ns, a, r: ns.linalg.pinv(a, rtol=r), (_r(2, 4, 3), np.array([0.1, 0.2])), 2),
    ("tril", lambda ns, a: ns.tril(a, k=-1), (_r(2, 3, 4),), 2),
    ("triu", lambda ns, a: ns.triu(a, k=1), (_r(4, 3),), 2),
    ("linalg.matmul", lambda ns, a, b: ns.linalg.matmul(a, b), (_r(2, 3), _r(3, 2)), 2),
    ("linalg.tensordot", lambda ns, a, b: ns.linalg.tensordot(a, b, axes=1), (_r(2, 3), _r(3, 2)), 2),
    ("linalg.vecdot", lambda ns, a, b: ns.linalg.vecdot(a, b), (_r(2, 3), _r(3)), 2),
    ("linalg.matrix_transpose", lambda ns, a: ns.linalg.matrix_transpose(a), (_r(2, 3),), 2),
    ("cumulative_prod", lambda ns, a: ns.cumulative_prod(a, axis=1), (_r(2, 7),), 2),
    (
        "cumulative_prod zeros",
        lambda ns, a: ns.cumulative_prod(a),
        (np.array([0.5, 0.0, 2.0, 0.0, 1.5, -1.0, 0.7, 1.2, 0.0]),),
        2,
    ),
    (
        "cumulative_prod initial",
        lambda ns, a: ns.cumulative_prod(a, axis=0, include_initial=True),
        (np.array([[0.0, 1.0], [2.0, 0.0], [3.0, 1.0]]),),
        2,
    ),
]


def _ids(cases: list[Any]) -> list[str]:
    return [c[0] for c in cases]


# JAX runs op by op here, dispatching each op of a second-order graph (about 3 s a case): there, the variants of a
# function (its later cases) are checked to order 1, its first case to order 2, as on the other backends
_FIRST = {c[0] for i, c in enumerate(LA) if c[0].split()[0] not in {d[0].split()[0] for d in LA[:i]}}
_FIRST |= {"cumulative_prod zeros", "eigh eigenvectors", "svd S", "qr R", "solve vector"}


@pytest.mark.parametrize("case", LA, ids=_ids(LA))
def test_forward_and_rules(tb: Any, case: Any) -> None:
    name, f, inputs, order = case
    if tb.name == "jax" and name not in _FIRST:
        order = 1
    arrays = [tb.arr(a) for a in inputs]
    ns = xpgrad.namespace(tb.name)
    got = f(ns, *(xpgrad.Tensor(a) for a in arrays))
    want = f(tb.xp, *arrays)
    assert got.shape == tuple(want.shape) and got.dtype == want.dtype, (got.shape, want.shape, got.dtype)
    np.testing.assert_allclose(tb.np(got), tb.np(want), rtol=1e-12, atol=1e-12)
    if name != "slogdet sign":
        xpgrad.check_grads(lambda *ts: xpgrad.sin(f(ns, *ts)), *arrays, order=order)
    else:  # piecewise constant: no gradient
        x = xpgrad.Tensor(arrays[0])
        assert not tb.np(xpgrad.sum(f(ns, x)).grad(x)).any()


def test_closed_forms() -> None:
    a = _square(3, 3)
    x = xpgrad.Tensor(a)
    # d det A = det A inv(A)^T
    want = np.linalg.det(a) * np.linalg.inv(a).T
    np.testing.assert_allclose(xpgrad.linalg.det(x).grad(x).numpy(), want, rtol=1e-12)
    # d inv = -inv dA inv: the cotangent G gives -inv^T G inv^T
    g = _r(3, 3)
    (got,) = xpgrad.grad(xpgrad.linalg.inv(x), [x], xpgrad.Tensor(g))
    ai = np.linalg.inv(a)
    np.testing.assert_allclose(got.numpy(), -ai.T @ g @ ai.T, rtol=1e-12)
    # log|det| = trace(log(eigenvalues)) of an SPD matrix: both give inv(A)^T
    s = xpgrad.Tensor(_spd(3, 3))
    g1 = xpgrad.linalg.slogdet(s).logabsdet.grad(s)
    g2 = xpgrad.sum(xpgrad.log(xpgrad.linalg.eigvalsh(s))).grad(s)
    np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-10)
    np.testing.assert_allclose(g1.numpy(), np.linalg.inv(s.numpy()).T, rtol=1e-12)
    # trace's gradient is the identity, diagonal's puts g on the diagonal
    np.testing.assert_array_equal(xpgrad.linalg.trace(x).grad(x).numpy(), np.eye(3))
    d = xpgrad.sum(xpgrad.linalg.diagonal(x) * xpgrad.Tensor(np.array([1.0, 2.0, 3.0]))).grad(x)
    np.testing.assert_array_equal(d.numpy(), np.diag([1.0, 2.0, 3.0]))


def test_cumulative_prod_gradient_at_zeros_is_exact() -> None:
    # the standard's formula (reversed cumsum of g * out, divided by x) divides by zero here
    v = np.array([2.0, 0.0, 3.0, 4.0])
    x = xpgrad.Tensor(v)
    g = xpgrad.sum(xpgrad.cumulative_prod(x)).grad(x).numpy()
    # out = [2, 0, 0, 0]: d/dx0 = 1; d/dx1 = 2 + 2*3 + 2*3*4 = 32; d/dx2 = d/dx3 = 0 (x1 = 0 in each product)
    np.testing.assert_array_equal(g, [1.0, 32.0, 0.0, 0.0])
    # second order: d/dx1 sum = x0 + x0 x2 + x0 x2 x3, whose gradient is [1 + x2 + x2 x3, 0, x0 + x0 x3, x0 x2]
    e1 = xpgrad.Tensor(np.array([0.0, 1.0, 0.0, 0.0]))
    h = xpgrad.sum(xpgrad.sum(xpgrad.cumulative_prod(x)).grad(x) * e1).grad(x)
    np.testing.assert_array_equal(h.numpy(), [16.0, 0.0, 10.0, 6.0])


def _jax_pairs() -> list[tuple[str, Any, Any, np.ndarray]]:
    jnp = pytest.importorskip("jax.numpy", reason="jax is the oracle of this test")
    la = xpgrad.linalg
    return [
        ("inv", la.inv, jnp.linalg.inv, _square(2, 3, 3)),
        ("det", la.det, jnp.linalg.det, _square(2, 3, 3)),
        ("slogdet", lambda a: la.slogdet(a).logabsdet, lambda a: jnp.linalg.slogdet(a)[1], _square(3, 3)),
        ("cholesky", la.cholesky, jnp.linalg.cholesky, _spd(2, 3, 3)),
        ("eigh", lambda a: la.eigh(a).eigenvectors ** 2, lambda a: jnp.linalg.eigh(a)[1] ** 2, _sym(3, 3)),
        ("eigvalsh", la.eigvalsh, jnp.linalg.eigvalsh, _sym(2, 3, 3)),
        (
            "qr",
            lambda a: la.qr(a).Q + 0.3 * la.qr(a).R[0],
            lambda a: jnp.linalg.qr(a)[0] + 0.3 * jnp.linalg.qr(a)[1][0],
            _r(4, 3),
        ),
        (
            "svd",
            lambda a: la.svd(a, full_matrices=False).U ** 2,
            lambda a: jnp.linalg.svd(a, full_matrices=False)[0] ** 2,
            _r(4, 3),
        ),
        ("svdvals", la.svdvals, jnp.linalg.svdvals, _r(3, 5)),
        ("pinv", la.pinv, jnp.linalg.pinv, _r(4, 3)),
        (
            "matrix_norm nuc",
            lambda a: la.matrix_norm(a, ord="nuc"),
            lambda a: jnp.linalg.matrix_norm(a, ord="nuc"),
            _r(3, 4),
        ),
        ("matrix_power", lambda a: la.matrix_power(a, 4), lambda a: jnp.linalg.matrix_power(a, 4), _r(3, 3)),
        (
            "cumulative_prod",
            lambda a: xpgrad.cumulative_prod(a, axis=0),
            lambda a: jnp.cumulative_prod(a, axis=0),
            np.array([[0.5, 0.0], [0.0, 2.0], [3.0, -1.0]]),
        ),
    ]


def test_gradients_and_hessian_vector_products_agree_with_jax() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    for name, ours, theirs, a in _jax_pairs():
        v = _r(*a.shape)
        x = xpgrad.Tensor(a)
        loss = xpgrad.sum(xpgrad.sin(ours(x)))
        (g,) = xpgrad.grad(loss, [x])
        (hv,) = xpgrad.grad(xpgrad.sum(g * xpgrad.Tensor(v)), [x])

        def f(t: Any, theirs: Any = theirs) -> Any:
            return jnp.sum(jnp.sin(theirs(t)))

        jg = jax.grad(f)(a)
        jhv = jax.grad(lambda t, f=f, v=v: jnp.vdot(jax.grad(f)(t), v))(a)
        np.testing.assert_allclose(g.numpy(), np.asarray(jg), rtol=1e-9, atol=1e-10, err_msg=name)
        np.testing.assert_allclose(hv.numpy(), np.asarray(jhv), rtol=1e-8, atol=1e-9, err_msg=name)


@pytest.mark.parametrize(
    "name",
    ["inv", "det", "solve", "cholesky", "eigvalsh", "svdvals", "matrix_norm 2", "cumulative_prod zeros", "outer"],
)
def test_forward_mode_matches_finite_differences(tb: Any, name: str) -> None:
    _, f, inputs, _ = next(c for c in LA if c[0] == name)
    ns = xpgrad.namespace(tb.name)
    directions = [_r(*a.shape) for a in inputs]

    def value(eps: float) -> np.ndarray:
        moved = [xpgrad.Tensor(tb.arr(a + eps * d)) for a, d in zip(inputs, directions, strict=True)]
        return tb.np(f(ns, *moved))

    primals = tuple(xpgrad.Tensor(tb.arr(a)) for a in inputs)
    tangents = tuple(xpgrad.Tensor(tb.arr(d)) for d in directions)
    out, tangent = xpgrad.jvp(lambda *ts: f(ns, *ts), primals, tangents)
    np.testing.assert_allclose(tb.np(out), value(0.0), rtol=1e-13, atol=1e-13)
    h = 1e-6
    np.testing.assert_allclose(tb.np(tangent), (value(h) - value(-h)) / (2 * h), rtol=1e-6, atol=1e-7)


def test_jacfwd_equals_jacrev() -> None:
    for f, a in (
        (xpgrad.linalg.inv, _square(3, 3)),
        (xpgrad.linalg.eigvalsh, _sym(3, 3)),
        (lambda t: xpgrad.linalg.solve(t, xpgrad.Tensor(np.ones(3))), _square(3, 3)),
    ):
        x = xpgrad.Tensor(a)
        np.testing.assert_allclose(xpgrad.jacfwd(f)(x).numpy(), xpgrad.jacrev(f)(x).numpy(), rtol=1e-10, atol=1e-12)


def test_forward_rules_are_the_closed_forms() -> None:
    a, t = xpgrad.Tensor(_square(3, 3), name="a"), xpgrad.Tensor(_r(3, 3), name="t")
    _, ti = xpgrad.jvp(xpgrad.linalg.inv, (a,), (t,))
    assert ti.expr() == "_1 = linalg.inv(a)\n-(_1 @ t @ _1)"  # (the output, shared)
    _, tt = xpgrad.jvp(xpgrad.linalg.trace, (a,), (t,))
    assert tt.expr() == "linalg.trace(t)"


def test_named_tuples_and_the_namespace(tb: Any) -> None:
    x = xpgrad.Tensor(tb.arr(_sym(3, 3)))
    ns = x.__array_namespace__()
    assert ns.linalg.inv is xpgrad.linalg.inv and ns.linalg.matmul is xpgrad.matmul
    w, v = ns.linalg.eigh(x)
    assert type(ns.linalg.eigh(x)).__name__ == "EighResult" and w.shape == (3,) and v.shape == (3, 3)
    q, r = xpgrad.linalg.qr(x)
    np.testing.assert_allclose(tb.np(q @ r), tb.np(x), atol=1e-12)
    u, s, vh = xpgrad.linalg.svd(x)
    np.testing.assert_allclose(tb.np((u * s) @ vh), tb.np(x), atol=1e-12)
    sign, logabs = xpgrad.linalg.slogdet(x)
    np.testing.assert_allclose(tb.np(sign * xpgrad.exp(logabs)), tb.np(xpgrad.linalg.det(x)), rtol=1e-12)
    rank = xpgrad.linalg.matrix_rank(x)
    assert int(tb.np(rank)) == 3 and not tb.np(xpgrad.sum(rank * 1.0).grad(x)).any()
    low = xpgrad.Tensor(tb.arr(np.diag([1.0, 1e-3, 1e-9])))
    ranks = xpgrad.linalg.matrix_rank(xpgrad.stack([low, low]), rtol=tb.arr([1e-6, 1e-2]))  # rtol per matrix
    assert tb.np(ranks).tolist() == [2, 1]


def test_errors_name_the_function() -> None:
    la = xpgrad.linalg
    with pytest.raises(ValueError, match=r"linalg.inv: needs square matrices; got shape \(2, 3\)"):
        la.inv(xpgrad.Tensor(_r(2, 3)))
    with pytest.raises(ValueError, match=r"linalg.solve: x2 must be a vector \(M,\) or a stack of matrices"):
        la.solve(xpgrad.Tensor(_square(3, 3)), xpgrad.Tensor(np.float64(1.0)))
    with pytest.raises(ValueError, match=r"linalg.det: needs a matrix or a stack of matrices"):
        la.det(xpgrad.Tensor(_r(3)))
    x = xpgrad.Tensor(_r(3, 5))
    with pytest.raises(NotImplementedError, match=r"linalg.qr: the derivative is defined for R square"):
        xpgrad.sum(la.qr(x).Q).grad(x)
    with pytest.raises(NotImplementedError, match=r"linalg.svd: U and Vh of a non-square matrix"):
        xpgrad.sum(la.svd(x).U).grad(x)
    np.testing.assert_allclose(xpgrad.sum(la.svd(x).S).grad(x).numpy(), xpgrad.sum(la.svdvals(x)).grad(x).numpy())
    z = xpgrad.Tensor(_sym(3, 3) + 1j * _r(3, 3))
    with pytest.raises(NotImplementedError, match=r"linalg.eigvalsh: the derivative through complex values"):
        xpgrad.sum(la.eigvalsh(z)).grad(z)
    with pytest.raises(ValueError, match=r"linalg.matrix_norm: ord must be one of"):
        la.matrix_norm(x, ord=3)
    with pytest.raises(TypeError, match=r"linalg.matrix_power: n must be an int"):
        la.matrix_power(xpgrad.Tensor(_r(3, 3)), 1.5)


def test_complex_inputs_of_holomorphic_functions_differentiate_as_jax() -> None:
    jax = pytest.importorskip("jax", reason="jax is the oracle of this test")
    jax.config.update("jax_enable_x64", True)
    a = _square(3, 3) + 1j * _r(3, 3)
    x = xpgrad.Tensor(a)
    got = xpgrad.grad(xpgrad.real(xpgrad.sum(xpgrad.linalg.inv(x) * xpgrad.linalg.det(x))), [x])[0]
    want = jax.grad(lambda t: jax.numpy.real(jax.numpy.sum(jax.numpy.linalg.inv(t) * jax.numpy.linalg.det(t))))(a)
    np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-10)


def test_a_backend_without_the_function_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # every backend of the suite has the whole extension now: take det away from one (as a namespace without it)
    da = pytest.importorskip("dask.array", reason="dask is the backend this test takes linalg.det from")
    from xpgrad.backends import get_backend

    monkeypatch.delattr(get_backend("dask").xp.linalg, "det")
    x = xpgrad.Tensor(da.from_array(_square(3, 3)))
    with pytest.raises(NotImplementedError, match=r"linalg.det: backend 'dask' has no linalg.det"):
        xpgrad.linalg.det(x)
    np.testing.assert_allclose(xpgrad.linalg.inv(x).numpy(), np.linalg.inv(x.numpy()), rtol=1e-12)  # (it has inv)


def test_dask_runs_the_extension_on_stacks_in_chunks() -> None:
    # Dask's own linalg takes 2-d arrays in particular chunkings and has no det, eigh, pinv...: each matrix is
    # one chunk and each block goes to the chunks' library, batch axes keeping their chunks, nothing computed early
    da = pytest.importorskip("dask.array", reason="dask is not installed")
    a = np.stack([_square(3, 3) + np.eye(3) * k for k in range(4)])
    x = xpgrad.Tensor(da.from_array(a, chunks=(2, 2, 3)))
    d = xpgrad.linalg.det(x)
    assert d.value.chunks == ((2, 2),)
    np.testing.assert_allclose(d.numpy(), np.linalg.det(a), rtol=1e-12)
    w = xpgrad.linalg.eigh(x @ x.mT).eigenvalues
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(a @ np.swapaxes(a, -1, -2)), rtol=1e-10)
    (g,) = xpgrad.grad(xpgrad.sum(d), [x])
    np.testing.assert_allclose(xpgrad.compute(g)[0], np.linalg.det(a)[:, None, None] * np.linalg.inv(a).mT, rtol=1e-10)


def test_fused_engines_refuse_them_naming_the_op() -> None:
    x = xpgrad.placeholder(shape=(3, 3), dtype="float64", name="x")
    for out, name in (
        (xpgrad.linalg.inv(x), "linalg.inv"),
        (xpgrad.linalg.det(x) + 1, "linalg.det"),
        (xpgrad.cumulative_prod(x, axis=0), "cumulative_prod"),
    ):
        with pytest.raises(xpgrad.FusionError, match=f"fuse: op '{name}' has no fused form"):
            xpgrad.fuse([x], out, engine="numba")
