"""``xpgrad.linalg``: the array API standard's optional linear-algebra extension, differentiable.

Each function builds one op of the table (``linalg.inv``...: `_ops.linalg_ext`), whose derivative rules are
written in xpgrad ops, so gradients, Jacobians and Hessians of any order work; batch dimensions (stacks of
matrices) as the standard says. A backend whose namespace lacks a function (Dask has no ``det``, ``eigh``...)
is refused when the graph is built, naming the function. ``slogdet``, ``eigh``, ``qr`` and ``svd`` return
named tuples of Tensors, as the standard does (each part a view of one packed result: one decomposition).

Example:
    >>> import numpy as np, xpgrad
    >>> a = xpgrad.Tensor(np.array([[2.0, 0.0], [0.0, 3.0]]))
    >>> print(xpgrad.linalg.det(a), xpgrad.linalg.det(a).grad(a))   # d det = det inv(A)^T
    T:6.0 T:[[3. 0.]
     [0. 2.]]
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .._core.build import apply
from .._core.opdef import OPS
from .._core.tensor import Tensor
from .._ops.linalg_ext import packed_part
from .._shapes import pack_key
from .public import matmul as matmul
from .public import matrix_transpose as matrix_transpose
from .public import vecdot as vecdot
from .shape_functions import _tensor
from .shape_functions import tensordot as tensordot

__all__ = [
    "EighResult",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cross",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "trace",
    "vecdot",
    "vector_norm",
]


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


def _arg(name: str, x: Any) -> Tensor:
    """``x`` as a Tensor, refused where its backend's namespace has no ``linalg.<name>``."""
    t = _tensor(f"linalg.{name}", x)
    bk = t._bk
    if bk is not None and getattr(getattr(bk.xp, "linalg", None), name, None) is None:
        raise NotImplementedError(
            f"linalg.{name}: backend {bk.name!r} has no linalg.{name} in its namespace; move the Tensor to a "
            "backend that has it (x.to('numpy'); numpy, torch, jax, array_api_strict and cupy have every function)"
        )
    return t


def _op(name: str, *args: Any, **params: Any) -> Tensor:
    return apply(OPS[f"linalg.{name}"], *args, **params)


def _real_part(t: Tensor) -> Tensor:
    """A real-valued part of a packed complex result (eigenvalues, singular values, log|det|) as real."""
    return apply(OPS["real"], t) if t.dtype is not None and t._bk.xp.isdtype(t.dtype, "complex floating") else t


def _known_rows(name: str, t: Tensor) -> int:
    s = t._shape
    if s is None or len(s) < 2 or s[-2] is None:
        raise ValueError(
            f"linalg.{name}: needs the number of rows of the matrix when the graph is built; got a placeholder of "
            "unknown shape; declare it, e.g. xpgrad.placeholder(shape=(None, 4, 3))"
        )
    return int(s[-2])


def inv(x: Any, /) -> Tensor:
    """inv(x, /): the inverse of each square matrix; d inv = -inv dA inv."""
    return _op("inv", _arg("inv", x))


def det(x: Any, /) -> Tensor:
    """det(x, /): the determinant of each square matrix; d det = det tr(inv(A) dA)."""
    return _op("det", _arg("det", x))


def slogdet(x: Any, /) -> SlogdetResult:
    """slogdet(x, /): (sign, logabsdet) of each square matrix's determinant; the sign has no gradient."""
    p = _op("slogdet", _arg("slogdet", x))
    sign, logabs = (apply(OPS["index"], p, key=pack_key("index", (Ellipsis, i))) for i in (0, 1))
    return SlogdetResult(sign, _real_part(logabs))


def solve(x1: Any, x2: Any, /) -> Tensor:
    """solve(x1, x2, /): X with x1 @ X = x2 (x2 of shape (M,): one vector); batch axes broadcast."""
    return _op("solve", _arg("solve", x1), _tensor("linalg.solve", x2))


def cholesky(x: Any, /, *, upper: bool = False) -> Tensor:
    """cholesky(x, /, *, upper=False): L with x = L L^H (U^H U if upper), of (x + x^H) / 2 (JAX's choice)."""
    if type(upper) is not bool:
        raise TypeError(f"linalg.cholesky: upper must be True or False; got {upper!r}")
    return _op("cholesky", _arg("cholesky", x), upper=upper)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Tensor:
    """trace(x, /, *, offset=0, dtype=None): the sum of each matrix's diagonal ``offset``."""
    t = _arg("trace", x)
    return _op("trace", t, offset=_int("trace", "offset", offset), dtype=None if dtype is None else t._bk.dtype(dtype))


def diagonal(x: Any, /, *, offset: int = 0) -> Tensor:
    """diagonal(x, /, *, offset=0): each matrix's diagonal ``offset`` (above the main one where positive)."""
    return _op("diagonal", _arg("diagonal", x), offset=_int("diagonal", "offset", offset))


def outer(x1: Any, x2: Any, /) -> Tensor:
    """outer(x1, x2, /): the outer product of two vectors."""
    return _op("outer", _arg("outer", x1), _tensor("linalg.outer", x2))


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Tensor:
    """cross(x1, x2, /, *, axis=-1): the cross product of 3-vectors along ``axis``; other axes broadcast."""
    return _op("cross", _arg("cross", x1), _tensor("linalg.cross", x2), axis=_int("cross", "axis", axis))


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: int | float = 2) -> Tensor:
    """vector_norm(x, /, *, axis=None, keepdims=False, ord=2): the p-norm over ``axis`` (all axes: None).
    The gradient of the 2-norm is 0 where the norm is 0 (PyTorch's); ties of the inf-norm share it evenly."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return _op("vector_norm", _arg("vector_norm", x), axis=axis, keepdims=keepdims, ord=ord)


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Tensor:
    """matrix_norm(x, /, *, keepdims=False, ord='fro'): 'fro', 'nuc', 1, -1, 2, -2, inf, -inf of each matrix.
    'nuc', 2 and -2 differentiate through the SVD (2 and -2: distinct extreme singular values)."""
    return _op("matrix_norm", _arg("matrix_norm", x), keepdims=keepdims, ord=ord)


def matrix_power(x: Any, n: int, /) -> Tensor:
    """matrix_power(x, n, /): x multiplied by itself n times (n < 0: of inv(x); n = 0: the identity)."""
    return _op("matrix_power", _arg("matrix_power", x), n=_int("matrix_power", "n", n))


def pinv(x: Any, /, *, rtol: float | None = None) -> Tensor:
    """pinv(x, /, *, rtol=None): the Moore-Penrose pseudo-inverse; its gradient holds where the rank is constant."""
    t = _arg("pinv", x)
    r = _rtol("pinv", rtol)
    return _op("pinv", t, rtol=r) if not isinstance(r, Tensor) else _op("pinv_rtol", t, r)


def eigh(x: Any, /) -> EighResult:
    """eigh(x, /): (eigenvalues ascending, eigenvectors as columns) of (x + x^H) / 2. The gradient of the
    eigenvectors is inf or nan where two eigenvalues coincide (JAX's and PyTorch's formula)."""
    p = _op("eigh", _arg("eigh", x))
    return EighResult(_real_part(packed_part(p, -1)), packed_part(p, slice(None, -1)))


def eigvalsh(x: Any, /) -> Tensor:
    """eigvalsh(x, /): the eigenvalues of (x + x^H) / 2, ascending; gradient V diag(g) V^T."""
    return _op("eigvalsh", _arg("eigvalsh", x))


def qr(x: Any, /, *, mode: str = "reduced") -> QRResult:
    """qr(x, /, *, mode='reduced'): (Q, R); differentiable where R is square (m >= n, reduced), as in JAX."""
    t = _arg("qr", x)
    p = _op("qr", t, mode=mode)
    m = _known_rows("qr", t)
    return QRResult(packed_part(p, slice(None, m)), apply(OPS["matrix_transpose"], packed_part(p, slice(m, None))))


def svd(x: Any, /, *, full_matrices: bool = True) -> SVDResult:
    """svd(x, /, *, full_matrices=True): (U, S, Vh). U and Vh are differentiable with full_matrices=False, or
    for square matrices (then the same); S always. The gradient is inf or nan where singular values coincide."""
    t = _arg("svd", x)
    if type(full_matrices) is not bool:
        raise TypeError(f"linalg.svd: full_matrices must be True or False; got {full_matrices!r}")
    m = _known_rows("svd", t)
    n = t._shape[-1] if t._shape is not None else None
    if full_matrices and m != n:
        return SVDResult(_op("svd_full", t, part=0), _op("svdvals", t), _op("svd_full", t, part=2))
    p = _op("svd", t)
    v = packed_part(p, slice(m + 1, None))
    vh = apply(OPS["matrix_transpose"], v)
    if t.dtype is not None and t._bk.xp.isdtype(t.dtype, "complex floating"):
        vh = apply(OPS["conj"], vh)
    return SVDResult(packed_part(p, slice(None, m)), _real_part(packed_part(p, m)), vh)


def svdvals(x: Any, /) -> Tensor:
    """svdvals(x, /): the singular values, descending; gradient U diag(g) V^T."""
    return _op("svdvals", _arg("svdvals", x))


def matrix_rank(x: Any, /, *, rtol: float | None = None) -> Tensor:
    """matrix_rank(x, /, *, rtol=None): the rank of each matrix (an integer: no gradient)."""
    t = _arg("matrix_rank", x)
    r = _rtol("matrix_rank", rtol)
    return _op("matrix_rank", t, rtol=r) if not isinstance(r, Tensor) else _op("matrix_rank_rtol", t, r)


def _int(name: str, what: str, v: Any) -> int:
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise TypeError(f"linalg.{name}: {what} must be an int; got {v!r:.40}")
    return int(v.__index__())


def _rtol(name: str, rtol: Any) -> Any:
    """A Python number or None as it is (a parameter); an array as a Tensor (an operand, broadcast to the stack)."""
    if rtol is None or (isinstance(rtol, (int, float)) and not isinstance(rtol, bool)):
        return rtol
    try:
        return _tensor(f"linalg.{name}", rtol)
    except TypeError:
        raise TypeError(
            f"linalg.{name}: rtol must be a float, an array (one per matrix) or None; got {type(rtol).__name__} "
            f"{rtol!r:.40}"
        ) from None
