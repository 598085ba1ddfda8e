"""The standard's optional ``linalg`` extension: ``inv det slogdet solve cholesky trace diagonal outer cross
vector_norm matrix_norm matrix_power pinv eigh eigvalsh qr svd svdvals matrix_rank``, each an op ``linalg.<name>``.

Same contract as `basic`: each op beside its rules, rules written in xpgrad ops (``linalg.inv``, ``matmul``,
``linalg.solve``...), so every order works; batch dimensions (stacks of matrices) as the standard says. The ops
are internal (``public=False``): users call them through `xpgrad.linalg` (`_api.linalg`), which also refuses a
backend whose namespace lacks the function.

Multi-output functions (``slogdet eigh qr svd``) are one op each whose output *packs* the parts into one array
along the second-to-last axis (``eigh``: the eigenvectors' n rows, then the eigenvalues as row n), and
`xpgrad.linalg` returns basic-index views of it (``out[..., :-1, :]``, ``out[..., -1, :]``) in a named tuple.
Cost: one decomposition per call, plus one copy of its results into the packed array (O(n^2) beside O(n^3));
a rule receives the packed cotangent and cuts it (the part not used is zeros). Complex inputs are computed
(the real parts ``real(...)`` of a packed complex array), but only the holomorphic ops (inv det solve trace
diagonal outer cross matrix_power) differentiate complex values; the others refuse, naming the op.

``cholesky``, ``eigh`` and ``eigvalsh`` read ``(x + x^H) / 2`` (JAX's ``symmetrize_input``): the same values for a
symmetric input, bit for bit, and a gradient that is symmetric. ``eigh`` and ``svd``'s rules divide by the
differences of eigenvalues (squared singular values): inf or nan where two coincide, as in JAX and PyTorch.
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from .. import _shapes
from .._core.opdef import LINEAR, ZERO, defop
from .basic import _dtype_first, _dtype_sum, _f, _reduced, by_kind, through_cast
from .linalg import ndim_of
from .manipulation import index_dtype

__all__ = ["packed_part", "refuse_complex_gradient"]

matmul, mT, expand_dims, squeeze, index = map(_f, ("matmul", "matrix_transpose", "expand_dims", "squeeze", "index"))
expand, where, sign, abs_, sum_, concat = map(_f, ("expand", "where", "sign", "abs", "sum", "concat"))
zeros_like, ones_like, pow_ = map(_f, ("zeros_like", "ones_like", "pow"))
tril = _f("tril")
inv, solve, mask, trace, cross = map(_f, ("linalg.inv", "linalg.solve", "linalg.mask", "linalg.trace", "linalg.cross"))
eigh_packed, svd_packed = _f("linalg.eigh"), _f("linalg.svd")


def _la(xp: Any, name: str) -> Any:
    """``xp.linalg.<name>``, or a NotImplementedError naming it (a backend without it: `_api.linalg` refuses it
    when the graph is built; this is the check of last resort, for a graph moved to such a backend)."""
    f = getattr(getattr(xp, "linalg", None), name, None)
    if f is None:
        raise NotImplementedError(
            f"linalg.{name}: the backend's namespace {getattr(xp, '__name__', xp)!r} has no linalg.{name}; "
            "use a backend that has it (numpy, torch, jax, array_api_strict, cupy)"
        )
    return f


def refuse_complex_gradient(name: str, x: Any, rule: Any) -> Any:
    """``rule()``, the real rule, where ``x`` is real; a NotImplementedError naming the op where it is complex."""

    def complex_() -> Any:
        raise NotImplementedError(
            f"{name}: the derivative through complex values is not implemented (only real inputs, and the "
            "holomorphic functions inv det solve trace diagonal outer cross matrix_power); differentiate "
            "xpgrad.real/xpgrad.imag parts, or compute it on real inputs"
        )

    return by_kind(x, rule, complex_)


def packed_part(t: Any, rows: Any) -> Any:
    """``t[..., rows, :]``: a part of a packed output (``rows`` an int or a slice)."""
    return index(t, key=_shapes.pack_key("index", (Ellipsis, rows, slice(None))))


def _last(t: Any, i: Any) -> Any:
    return index(t, key=_shapes.pack_key("index", (Ellipsis, i)))


def _mat(g: Any) -> Any:
    """A value per matrix, ``(...)``, as ``(..., 1, 1)``: to scale each matrix of a stack."""
    return expand_dims(expand_dims(g, axis=-1), axis=-1)


def _sym(a: Any) -> Any:
    return (a + mT(a)) * 0.5


def _size(name: str, t: Any, axis: int) -> int:
    s = t._shape
    if s is None or s[axis] is None:
        raise ValueError(
            f"{name}: the derivative needs the matrix's size, and an operand is a placeholder of unknown size; "
            "declare it, e.g. xpgrad.placeholder(shape=(None, 3, 3))"
        )
    return int(s[axis])


# ----------------------------------------------------------------- shapes
def _matrix(name: str, x: Any, square: bool = False) -> Any:
    s = x._shape
    if s is None:
        return None
    if len(s) < 2:
        raise ValueError(f"{name}: needs a matrix or a stack of matrices (at least 2 dimensions); got shape {s}")
    if square and s[-1] is not None and s[-2] is not None and s[-1] != s[-2]:
        raise ValueError(f"{name}: needs square matrices; got shape {s} ({s[-2]} x {s[-1]})")
    return s


def _square_shape(name: str, x: Any, **_: Any) -> Any:
    return _matrix(name, x, square=True)


def _batch_shape(name: str, x: Any, **_: Any) -> Any:
    s = _matrix(name, x, square=True)
    return None if s is None else s[:-2]


def _transposed_shape(name: str, x: Any, **_: Any) -> Any:
    s = _matrix(name, x)
    return None if s is None else (*s[:-2], s[-1], s[-2])


# ----------------------------------------------------------------- mask: constant matrices the rules need
def _mask(xp: Any, x: Any, kind: str, k: int) -> Any:
    n, m = x.shape[-2], x.shape[-1]
    dev = array_api_compat.device(x)
    eye = xp.eye(n, m, k=k, dtype=x.dtype, device=dev)
    if kind == "eye":
        return eye
    return xp.tril(xp.ones((n, m), dtype=x.dtype, device=dev), k=k) - eye * 0.5  # "phi": tril, its diagonal halved


defop(  # an (n, m) matrix of x's dtype and device (x's last two sizes): eye(k=k), or tril(ones, k) its diagonal halved
    "linalg.mask",
    1,
    _mask,
    vjp=(ZERO,),
    jvp=(ZERO,),
    domain="any",
    elementwise=False,
    public=False,
    params={"kind": "eye", "k": 0},
    meta=(0,),
    shape=lambda name, x, kind, k: None if x._shape is None else tuple(x._shape[-2:]),
    dtype=_dtype_first,
)


def _eye(t: Any) -> Any:
    return mask(t, kind="eye", k=0)


# ----------------------------------------------------------------- tril, triu (the standard's creation functions)
def _triangle_shape(name: str, x: Any, k: int = 0) -> Any:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"{name}: k must be an int; got {k!r}")
    return _matrix(name, x)


for _name in ("tril", "triu"):
    defop(  # linear: each keeps a triangle, and so does its adjoint
        _name,
        1,
        lambda xp, x, k, _name=_name: getattr(xp, _name)(x, k=k),
        vjp=(lambda g, out, x, k, _name=_name: _f(_name)(g, k=k),),
        jvp=(LINEAR,),
        domain="any",
        elementwise=False,
        params={"k": 0},
        shape=_triangle_shape,
    )


# ----------------------------------------------------------------- inv, det, slogdet
defop(
    "linalg.inv",
    1,
    lambda xp, x: _la(xp, "inv")(x),
    vjp=(lambda g, out, x: -(mT(out) @ g @ mT(out)),),  # d inv = -inv dA inv
    jvp=(lambda t, out, x: -(out @ t @ out),),
    domain="floating",
    elementwise=False,
    public=False,
    shape=_square_shape,
)
defop(
    "linalg.det",
    1,
    lambda xp, x: _la(xp, "det")(x),
    vjp=(lambda g, out, x: _mat(g * out) * mT(inv(x)),),  # d det = det tr(inv(A) dA)
    jvp=(lambda t, out, x: out * trace(solve(x, t)),),
    domain="floating",
    elementwise=False,
    public=False,
    shape=_batch_shape,
)


def _slogdet(xp: Any, x: Any) -> Any:
    s, logabs = _la(xp, "slogdet")(x)
    return xp.stack([s, xp.astype(logabs, s.dtype)], axis=-1)  # (complex x: a complex sign, a real log)


defop(  # packed: [..., 0] the sign, [..., 1] log|det|
    "linalg.slogdet",
    1,
    _slogdet,
    vjp=(
        lambda g, out, x: refuse_complex_gradient(
            "linalg.slogdet", x, lambda: _mat(_last(g, 1)) * mT(inv(x))
        ),  # (the sign: piecewise constant)
    ),
    domain="floating",
    elementwise=False,
    public=False,
    shape=lambda name, x: None if _batch_shape(name, x) is None else (*x._shape[:-2], 2),
)


# ----------------------------------------------------------------- solve
def _solve_shape(name: str, a: Any, b: Any) -> Any:
    sa, sb = _matrix(name, a, square=True), b._shape
    if sa is None or sb is None:
        return None
    if not sb:
        raise ValueError(f"{name}: x2 must be a vector (M,) or a stack of matrices (..., M, K); got a 0-d array")
    if len(sb) == 1:
        if sb[0] is not None and sa[-1] is not None and sb[0] != sa[-1]:
            raise ValueError(f"{name}: x1 of shape {sa} and the vector x2 of shape {sb} differ in size")
        return (*sa[:-2], sb[0])
    if sb[-2] != sa[-1] and None not in (sb[-2], sa[-1]):
        raise ValueError(
            f"{name}: x1 of shape {sa} and x2 of shape {sb} are not aligned (x2 must be (..., {sa[-1]}, K) or "
            f"({sa[-1]},))"
        )
    batch = _shapes.broadcast(name, sa[:-2], sb[:-2])
    return None if batch is None else (*batch, *sb[-2:])


def _as_columns(b: Any, t: Any) -> Any:
    """``t`` as the standard reads x2 (a 1-d x2 is one column)."""
    return expand_dims(t, axis=-1) if ndim_of("linalg.solve", b) == 1 else t


def _solve_b(g: Any, out: Any, a: Any, b: Any) -> Any:
    gb = solve(mT(a), _as_columns(b, g))  # A^-T g
    return squeeze(gb, axis=-1) if ndim_of("linalg.solve", b) == 1 else gb


def _solve_a(g: Any, out: Any, a: Any, b: Any) -> Any:
    return -(solve(mT(a), _as_columns(b, g)) @ mT(_as_columns(b, out)))  # -A^-T g out^T


def _solve_jvp(ts: Any, out: Any, a: Any, b: Any) -> Any:
    ta, tb = ts
    rhs = None if tb is None else _as_columns(b, tb)
    if ta is not None:
        r = -(ta @ _as_columns(b, out))
        rhs = r if rhs is None else rhs + r
    t = solve(a, rhs)  # d x = A^-1 (dB - dA x)
    return squeeze(t, axis=-1) if ndim_of("linalg.solve", b) == 1 else t


defop(
    "linalg.solve",
    2,
    lambda xp, a, b: _la(xp, "solve")(a, b),
    vjp=(_solve_a, _solve_b),
    jvp=_solve_jvp,
    domain="floating",
    elementwise=False,
    public=False,
    shape=_solve_shape,
)


# ----------------------------------------------------------------- cholesky
def _hermitian_part(xp: Any, x: Any) -> Any:
    h = xp.matrix_transpose(x)
    if xp.isdtype(x.dtype, "complex floating"):
        h = xp.conj(h)
    return (x + h) / 2


def _cholesky_rule(g: Any, out: Any, x: Any, upper: bool) -> Any:
    def rule() -> Any:
        low, gl = (mT(out), mT(g)) if upper else (out, g)
        p = mask(low, kind="phi", k=0) * (mT(low) @ gl)  # Phi(L^T gL): the lower triangle, diagonal halved
        a = solve(mT(low), p)  # L^-T P
        return _sym(mT(solve(mT(low), mT(a))))  # L^-T P L^-1, symmetrized (Murray 2016; PyTorch, JAX)

    return refuse_complex_gradient("linalg.cholesky", x, rule)


defop(
    "linalg.cholesky",
    1,
    lambda xp, x, upper: _la(xp, "cholesky")(_hermitian_part(xp, x), upper=upper),
    vjp=(_cholesky_rule,),
    domain="floating",
    elementwise=False,
    public=False,
    params={"upper": False},
    shape=_square_shape,
)


# ----------------------------------------------------------------- trace, diagonal, outer, cross
def _trace_shape(name: str, x: Any, offset: int = 0, dtype: Any = None) -> Any:
    s = _matrix(name, x)
    return None if s is None else s[:-2]


defop(
    "linalg.trace",
    1,
    lambda xp, x, offset, dtype: _la(xp, "trace")(x, offset=offset, dtype=dtype),
    vjp=(lambda g, out, x, offset, dtype: through_cast(x, dtype, lambda: _mat(g) * mask(x, kind="eye", k=offset)),),
    jvp=(LINEAR,),
    domain="numeric",
    elementwise=False,
    public=False,
    params={"offset": 0, "dtype": None},
    shape=_trace_shape,
    dtype=_dtype_sum,
)


def _diagonal_size(n: int, m: int, k: int) -> int:
    return max(0, min(n, m - k) if k >= 0 else min(n + k, m))


def _diagonal_shape(name: str, x: Any, offset: int = 0) -> Any:
    s = _matrix(name, x)
    if s is None:
        return None
    n, m = s[-2:]
    return (*s[:-2], None if n is None or m is None else _diagonal_size(n, m, offset))


def _diagonal_rule(g: Any, out: Any, x: Any, offset: int) -> Any:
    # element i of the diagonal is x[i, i + k] (k >= 0) or x[i - k, i]: g spread along the rows (or columns),
    # padded with zeros where the diagonal is shorter, times the ones of that diagonal
    n, m = _size("linalg.diagonal", x, -2), _size("linalg.diagonal", x, -1)
    size = _diagonal_size(n, m, offset)
    rows = offset >= 0
    if size < (n if rows else m):
        key = (Ellipsis, slice(size, None), 0) if rows else (Ellipsis, 0, slice(size, None))
        g = concat(g, zeros_like(index(x, key=_shapes.pack_key("index", key))), axis=-1)
    return expand_dims(g, axis=-1 if rows else -2) * mask(x, kind="eye", k=offset)


defop(
    "linalg.diagonal",
    1,
    lambda xp, x, offset: _la(xp, "diagonal")(x, offset=offset),
    vjp=(_diagonal_rule,),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    public=False,
    params={"offset": 0},
    shape=_diagonal_shape,
)


def _outer_shape(name: str, a: Any, b: Any) -> Any:
    sa, sb = a._shape, b._shape
    for t, s in (("x1", sa), ("x2", sb)):
        if s is not None and len(s) != 1:
            raise ValueError(f"{name}: {t} must be 1-d; got shape {s} (use x1[..., :, None] * x2[..., None, :])")
    return None if sa is None or sb is None else (sa[0], sb[0])


defop(
    "linalg.outer",
    2,
    lambda xp, a, b: _la(xp, "outer")(a, b),
    vjp=(lambda g, out, a, b: g @ b, lambda g, out, a, b: mT(g) @ a),
    jvp=(LINEAR, LINEAR),
    domain="numeric",
    elementwise=False,
    public=False,
    shape=_outer_shape,
)


def _cross_shape(name: str, a: Any, b: Any, axis: int = -1) -> Any:
    if isinstance(axis, bool) or not isinstance(axis, int) or axis >= 0:
        raise ValueError(f"{name}: axis must be a negative int (counted from the last axis); got {axis!r}")
    sa, sb = a._shape, b._shape
    if sa is None or sb is None:
        return None
    for t, s in (("x1", sa), ("x2", sb)):
        if len(s) < -axis or s[axis] not in (3, None):
            raise ValueError(f"{name}: {t} must have size 3 along axis {axis}; got shape {s}")
    return _shapes.broadcast(name, sa, sb)


defop(  # d(a x b) = da x b + a x db: ga = b x g, gb = g x a
    "linalg.cross",
    2,
    lambda xp, a, b, axis: _la(xp, "cross")(a, b, axis=axis),
    vjp=(lambda g, out, a, b, axis: cross(b, g, axis=axis), lambda g, out, a, b, axis: cross(g, a, axis=axis)),
    jvp=(LINEAR, LINEAR),
    domain="numeric",
    elementwise=False,
    public=False,
    params={"axis": -1},
    shape=_cross_shape,
)


# ----------------------------------------------------------------- norms
def _positive(t: Any) -> Any:
    return where(t == 0, ones_like(t), t)  # (a norm of 0: its gradient x / 1 is 0 there, PyTorch's choice)


def _ties(hit: Any, x: Any, axis: Any) -> Any:
    """1 where ``hit``, shared evenly among the ties along ``axis``."""
    w = where(hit, ones_like(x), zeros_like(x))
    return w / sum_(w, axis=axis, keepdims=True)


def _vector_norm_rule(g: Any, out: Any, x: Any, axis: Any, keepdims: bool, ord: Any) -> Any:
    def rule() -> Any:
        ge, oe = expand(g, x, axis=axis, keepdims=keepdims), expand(out, x, axis=axis, keepdims=keepdims)
        if ord == 2:
            return ge * x / _positive(oe)
        if ord == 1:
            return ge * sign(x)
        if ord == 0:
            return zeros_like(x)  # (a count: piecewise constant)
        if ord in (float("inf"), -float("inf")):
            return ge * sign(x) * _ties(abs_(x) == oe, x, axis)
        return ge * sign(x) * pow_(abs_(x) / _positive(oe), ord - 1)  # |x|^(p-1) / norm^(p-1)

    return refuse_complex_gradient("linalg.vector_norm", x, rule)


def _vector_norm_shape(name: str, x: Any, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"{name}: ord must be an int, a float, inf or -inf; got {ord!r}")
    return _reduced(name, x, axis=axis, keepdims=keepdims)


defop(
    "linalg.vector_norm",
    1,
    lambda xp, x, axis, keepdims, ord: _la(xp, "vector_norm")(x, axis=axis, keepdims=keepdims, ord=ord),
    vjp=(_vector_norm_rule,),
    domain="floating",
    result="real",
    elementwise=False,
    public=False,
    params={"axis": None, "keepdims": False, "ord": 2},
    shape=_vector_norm_shape,
)

MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf"))


def _matrix_norm_shape(name: str, x: Any, keepdims: bool = False, ord: Any = "fro") -> Any:
    if isinstance(ord, bool) or ord not in MATRIX_ORDS:
        raise ValueError(f"{name}: ord must be one of 'fro', 'nuc', 1, -1, 2, -2, inf, -inf; got {ord!r}")
    if type(keepdims) is not bool:
        raise TypeError(f"{name}: keepdims must be True or False; got {keepdims!r}")
    s = _matrix(name, x)
    return None if s is None else (*s[:-2], *((1, 1) if keepdims else ()))


def _matrix_norm_rule(g: Any, out: Any, x: Any, keepdims: bool, ord: Any) -> Any:
    def rule() -> Any:
        axes = (-2, -1)
        ge, oe = expand(g, x, axis=axes, keepdims=keepdims), expand(out, x, axis=axes, keepdims=keepdims)
        if ord == "fro":
            return ge * x / _positive(oe)
        if ord in ("nuc", 2, -2):  # sum of singular values: U V^T; the largest (smallest): u1 v1^T
            m = _size("linalg.matrix_norm", x, -2)
            p = svd_packed(x)
            u, vt = packed_part(p, slice(None, m)), mT(packed_part(p, slice(m + 1, None)))
            if ord != "nuc":
                k = slice(None, 1) if ord == 2 else slice(-1, None)
                u, vt = index(u, key=_shapes.pack_key("index", (Ellipsis, k))), packed_part(vt, k)
            return ge * (u @ vt)
        # 1 / -1: max (min) over columns of the sums of |x| down each column; inf / -inf: over rows
        summed, across = (-2, -1) if ord in (1, -1) else (-1, -2)
        return ge * sign(x) * _ties(sum_(abs_(x), axis=summed, keepdims=True) == oe, x, across)

    return refuse_complex_gradient("linalg.matrix_norm", x, rule)


defop(
    "linalg.matrix_norm",
    1,
    lambda xp, x, keepdims, ord: _la(xp, "matrix_norm")(x, keepdims=keepdims, ord=ord),
    vjp=(_matrix_norm_rule,),
    domain="floating",
    result="real",
    elementwise=False,
    public=False,
    params={"keepdims": False, "ord": "fro"},
    shape=_matrix_norm_shape,
)


# ----------------------------------------------------------------- matrix_power, pinv
def _power_rule(g: Any, x: Any, n: int) -> Any:
    """The cotangent of x in x^n (n >= 1): the sum over k of (x^T)^k g (x^T)^(n-1-k)."""
    xt = mT(x)
    powers = [None, xt]  # (x^T)^k, None for the identity
    for _ in range(2, n):
        powers.append(powers[-1] @ xt)
    total = None
    for k in range(n):
        left, right = powers[k], powers[n - 1 - k]
        term = g if left is None else left @ g
        term = term if right is None else term @ right
        total = term if total is None else total + term
    return total


def _matrix_power_rule(g: Any, out: Any, x: Any, n: int) -> Any:
    if n == 0:
        return zeros_like(x)
    if n > 0:
        return _power_rule(g, x, n)
    y = inv(x)  # x^n = inv(x)^-n
    gy = _power_rule(g, y, -n)
    return -(mT(y) @ gy @ mT(y))


def _matrix_power_shape(name: str, x: Any, n: Any = 1) -> Any:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name}: n must be an int; got {n!r}")
    return _matrix(name, x, square=True)


defop(
    "linalg.matrix_power",
    1,
    lambda xp, x, n: _la(xp, "matrix_power")(x, n),
    vjp=(_matrix_power_rule,),
    domain="floating",
    elementwise=False,
    public=False,
    params={"n": 1},
    shape=_matrix_power_shape,
)


def _pinv_rule(g: Any, out: Any, x: Any, rtol: Any) -> Any:
    def rule() -> Any:
        # Golub & Pereyra: d P = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P, for a constant rank
        p, pt = out, mT(out)
        ap, pa = x @ p, p @ x
        first = -(pt @ g @ pt)
        second = (_eye(ap) - ap) @ mT(g) @ (p @ pt)
        third = (pt @ p) @ mT(g) @ (_eye(pa) - pa)
        return first + second + third

    return refuse_complex_gradient("linalg.pinv", x, rule)


defop(
    "linalg.pinv",
    1,
    lambda xp, x, rtol: _la(xp, "pinv")(x, rtol=rtol),
    vjp=(_pinv_rule,),
    domain="floating",
    elementwise=False,
    public=False,
    params={"rtol": None},
    shape=_transposed_shape,
)
defop(  # rtol an array (one per matrix of the stack): an operand, without gradient
    "linalg.pinv_rtol",
    2,
    lambda xp, x, rtol: _la(xp, "pinv")(x, rtol=rtol),
    vjp=(lambda g, out, x, rtol: _pinv_rule(g, out, x, None), ZERO),
    domain="floating",
    promote=(0,),
    elementwise=False,
    public=False,
    shape=lambda name, x, rtol: _transposed_shape(name, x),
    dtype=_dtype_first,
)


# ----------------------------------------------------------------- eigh, eigvalsh
def _eigh(xp: Any, x: Any) -> Any:
    w, v = _la(xp, "eigh")(_hermitian_part(xp, x))
    return xp.concat([v, xp.astype(w, v.dtype)[..., None, :]], axis=-2)


def _reciprocal_gaps(w: Any, eye: Any) -> Any:
    """F[i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it (inf where two values coincide)."""
    return 1 / (expand_dims(w, axis=-2) - expand_dims(w, axis=-1) + eye) - eye


def _eigh_rule(g: Any, out: Any, x: Any) -> Any:
    def rule() -> Any:
        v, w = packed_part(out, slice(None, -1)), packed_part(out, -1)
        gv, gw = packed_part(g, slice(None, -1)), packed_part(g, -1)
        eye = _eye(v)
        inner = expand_dims(gw, axis=-1) * eye + _reciprocal_gaps(w, eye) * (mT(v) @ gv)
        return _sym(v @ inner @ mT(v))

    return refuse_complex_gradient("linalg.eigh", x, rule)


defop(  # packed: [..., :-1, :] the eigenvectors (columns), [..., -1, :] the eigenvalues, ascending
    "linalg.eigh",
    1,
    _eigh,
    vjp=(_eigh_rule,),
    domain="floating",
    elementwise=False,
    public=False,
    shape=lambda name, x: (
        None
        if _square_shape(name, x) is None
        else (*x._shape[:-2], None if x._shape[-2] is None else x._shape[-2] + 1, x._shape[-1])
    ),
)


def _eigvalsh_rule(g: Any, out: Any, x: Any) -> Any:
    def rule() -> Any:
        v = packed_part(eigh_packed(x), slice(None, -1))
        return (v * expand_dims(g, axis=-2)) @ mT(v)  # V diag(g) V^T

    return refuse_complex_gradient("linalg.eigvalsh", x, rule)


def _eigvalsh_shape(name: str, x: Any) -> Any:
    s = _square_shape(name, x)
    return None if s is None else s[:-1]


defop(
    "linalg.eigvalsh",
    1,
    lambda xp, x: _la(xp, "eigvalsh")(_hermitian_part(xp, x)),
    vjp=(_eigvalsh_rule,),
    domain="floating",
    result="real",
    elementwise=False,
    public=False,
    shape=_eigvalsh_shape,
)


# ----------------------------------------------------------------- qr
def _qr(xp: Any, x: Any, mode: str) -> Any:
    q, r = _la(xp, "qr")(x, mode=mode)
    return xp.concat([q, xp.matrix_transpose(r)], axis=-2)


def _qr_k(s: Any, mode: str) -> Any:
    m, n = s[-2:]
    if mode == "complete":
        return m
    return None if m is None or n is None else min(m, n)


def _qr_shape(name: str, x: Any, mode: str = "reduced") -> Any:
    if mode not in ("reduced", "complete"):
        raise ValueError(f"{name}: mode must be 'reduced' or 'complete'; got {mode!r}")
    s = _matrix(name, x)
    if s is None:
        return None
    m, n = s[-2:]
    return (*s[:-2], None if m is None or n is None else m + n, _qr_k(s, mode))


def _qr_rule(g: Any, out: Any, x: Any, mode: str) -> Any:
    def rule() -> Any:
        m, n = _size("linalg.qr", x, -2), _size("linalg.qr", x, -1)
        if _qr_k(x._shape, mode) != n:
            raise NotImplementedError(
                f"linalg.qr: the derivative is defined for R square (at least as many rows as columns, and "
                f"mode='reduced' where there are more), as in JAX; got a {m} x {n} matrix with mode={mode!r}"
            )
        q, r = packed_part(out, slice(None, m)), mT(packed_part(out, slice(m, None)))
        gq, gr = packed_part(g, slice(None, m)), mT(packed_part(g, slice(m, None)))
        # from the jvp (JAX's qr_jvp_rule), transposed: M = Q^T gQ - gR R^T, N = tril(M - M^T, -1) - M,
        # gA = (gQ + Q N) R^-T
        mm = mT(q) @ gq - gr @ mT(r)
        nn = tril(mm - mT(mm), k=-1) - mm
        return mT(solve(r, mT(gq + q @ nn)))

    return refuse_complex_gradient("linalg.qr", x, rule)


defop(  # packed: [..., :m, :] Q, [..., m:, :] R^T
    "linalg.qr",
    1,
    _qr,
    vjp=(_qr_rule,),
    domain="floating",
    elementwise=False,
    public=False,
    params={"mode": "reduced"},
    shape=_qr_shape,
)


# ----------------------------------------------------------------- svd, svdvals
def _svd(xp: Any, x: Any) -> Any:
    u, s, vh = _la(xp, "svd")(x, full_matrices=False)
    return xp.concat([u, xp.astype(s, u.dtype)[..., None, :], xp.conj(xp.matrix_transpose(vh))], axis=-2)


def _svd_shape(name: str, x: Any) -> Any:
    s = _matrix(name, x)
    if s is None:
        return None
    m, n = s[-2:]
    return (*s[:-2], None if m is None or n is None else m + 1 + n, None if m is None or n is None else min(m, n))


def _svd_rule(g: Any, out: Any, x: Any) -> Any:
    def rule() -> Any:
        m, n = _size("linalg.svd", x, -2), _size("linalg.svd", x, -1)
        k = min(m, n)
        u, s, v = packed_part(out, slice(None, m)), packed_part(out, m), packed_part(out, slice(m + 1, None))
        gu, gs, gv = packed_part(g, slice(None, m)), packed_part(g, m), packed_part(g, slice(m + 1, None))
        eye = _eye(mT(u) @ u)
        f = _reciprocal_gaps(s * s, eye)  # 1 / (s_j^2 - s_i^2)
        j = f * (mT(u) @ gu - mT(gu) @ u)
        kk = f * (mT(v) @ gv - mT(gv) @ v)
        inner = j * expand_dims(s, axis=-2) + expand_dims(gs, axis=-1) * eye + expand_dims(s, axis=-1) * kk
        ga = u @ inner @ mT(v)  # Townsend 2016, "Differentiating the singular value decomposition"
        if k < m:  # (I - U U^T) gU S^-1 V^T
            ga = ga + ((gu - u @ (mT(u) @ gu)) / expand_dims(s, axis=-2)) @ mT(v)
        if k < n:  # U S^-1 gV^T (I - V V^T)
            ga = ga + u @ ((mT(gv) - (mT(gv) @ v) @ mT(v)) / expand_dims(s, axis=-1))
        return ga

    return refuse_complex_gradient("linalg.svd", x, rule)


defop(  # packed, full_matrices=False: [..., :m, :] U, [..., m, :] S, [..., m + 1:, :] V (= Vh^H)
    "linalg.svd",
    1,
    _svd,
    vjp=(_svd_rule,),
    domain="floating",
    elementwise=False,
    public=False,
    shape=_svd_shape,
)


def _svd_full_rule(g: Any, out: Any, x: Any, part: int) -> Any:
    raise NotImplementedError(
        "linalg.svd: U and Vh of a non-square matrix with full_matrices=True have no derivative (the added "
        "columns are not unique; JAX refuses them too); pass full_matrices=False, or differentiate S only"
    )


def _svd_full_shape(name: str, x: Any, part: int = 0) -> Any:
    s = _matrix(name, x)
    return None if s is None else (*s[:-2], s[-2], s[-2]) if part == 0 else (*s[:-2], s[-1], s[-1])


defop(  # U (part 0) or Vh (part 2) of svd(x, full_matrices=True)
    "linalg.svd_full",
    1,
    lambda xp, x, part: _la(xp, "svd")(x, full_matrices=True)[part],
    vjp=(_svd_full_rule,),
    domain="floating",
    elementwise=False,
    public=False,
    params={"part": 0},
    shape=_svd_full_shape,
)


def _svdvals_rule(g: Any, out: Any, x: Any) -> Any:
    def rule() -> Any:
        m = _size("linalg.svdvals", x, -2)
        p = svd_packed(x)
        u, vt = packed_part(p, slice(None, m)), mT(packed_part(p, slice(m + 1, None)))
        return (u * expand_dims(g, axis=-2)) @ vt  # U diag(g) V^T

    return refuse_complex_gradient("linalg.svdvals", x, rule)


def _svdvals_shape(name: str, x: Any) -> Any:
    s = _matrix(name, x)
    if s is None:
        return None
    m, n = s[-2:]
    return (*s[:-2], None if m is None or n is None else min(m, n))


defop(
    "linalg.svdvals",
    1,
    lambda xp, x: _la(xp, "svdvals")(x),
    vjp=(_svdvals_rule,),
    domain="floating",
    result="real",
    elementwise=False,
    public=False,
    shape=_svdvals_shape,
)


# ----------------------------------------------------------------- matrix_rank
defop(
    "linalg.matrix_rank",
    1,
    lambda xp, x, rtol: _la(xp, "matrix_rank")(x, rtol=rtol),
    vjp=(ZERO,),  # an integer output: no gradient flows through it
    domain="floating",
    elementwise=False,
    public=False,
    params={"rtol": None},
    shape=lambda name, x, rtol: None if _matrix(name, x) is None else x._shape[:-2],
    dtype=index_dtype("linalg.matrix_rank"),
)
defop(  # rtol an array (one per matrix of the stack)
    "linalg.matrix_rank_rtol",
    2,
    lambda xp, x, rtol: _la(xp, "matrix_rank")(x, rtol=rtol),
    vjp=(ZERO, ZERO),
    domain="floating",
    promote=(0,),
    elementwise=False,
    public=False,
    shape=lambda name, x, rtol: None if _matrix(name, x) is None else x._shape[:-2],
    dtype=index_dtype("linalg.matrix_rank_rtol"),
)
