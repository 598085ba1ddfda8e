"""The Dask backend's namespace: array-api-compat's Dask wrapper, completed where it falls short of the standard.

array-api-compat 1.16 over Dask 2026.11 lacks ``take_along_axis``, refuses ``axis=None`` in ``take`` (of a 1-d
array) and ``repeat`` (flattened); Dask's ``reshape`` refuses chunks that do not merge or split evenly into
the new shape (``(3, 4)`` in chunks of 2 rows to ``(4, 3)``), and its ``eye`` of more columns than rows
declares chunks that do not cover them (the array fails when computed: "Missing dependency"). Each is written
here in Dask's own lazy operations, so nothing is computed when a graph is built; the rest of the namespace is
the wrapper's, unchanged.

Functions that need a whole axis at once (``take_along_axis``, like the wrapper's ``sort``) put that axis in
one chunk, and apply the chunks' own library (NumPy or CuPy) block by block.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

NAME = "xpgrad.backends.dask.xp"
"""The namespace's ``__name__`` (`dask.is_module` accepts it, as the modules users hold)."""


def namespace() -> ModuleType:
    """array-api-compat's Dask namespace with this module's functions in place of (or beside) its own."""
    import array_api_compat.dask.array as compat

    xp = ModuleType(NAME, compat.__doc__)
    xp.__dict__.update((k, v) for k, v in vars(compat).items() if k not in _IDENTITY)
    xp.__dict__.update(take_along_axis=take_along_axis, take=take, repeat=repeat, reshape=reshape, eye=eye)
    xp.__dict__["linalg"] = linalg_namespace()
    return xp


_IDENTITY = frozenset(("__name__", "__doc__", "__file__", "__package__", "__path__", "__spec__", "__loader__"))
"""The wrapper's attributes that say which module it is: the namespace keeps its own."""


def _compat() -> Any:
    import array_api_compat.dask.array as compat

    return compat


def take_along_axis(x: Any, indices: Any, /, *, axis: int = -1) -> Any:
    """The standard's ``take_along_axis``: ``x`` and ``indices`` broadcast against each other off ``axis``,
    that axis in one chunk in both, and each pair of blocks taken by the chunks' own library."""
    import dask.array as da

    if x.ndim != indices.ndim or x.ndim == 0:
        raise ValueError(
            f"take_along_axis: x and indices must have the same number of dimensions (at least 1); got shapes "
            f"{x.shape} and {indices.shape}"
        )
    a = axis % x.ndim
    rest = _broadcast_shapes(x.shape[:a] + x.shape[a + 1 :], indices.shape[:a] + indices.shape[a + 1 :])
    x = da.broadcast_to(x, (*rest[:a], x.shape[a], *rest[a:]))
    indices = da.broadcast_to(indices, (*rest[:a], indices.shape[a], *rest[a:]))
    x = x.rechunk({a: -1})
    indices = indices.rechunk(tuple(-1 if i == a else c for i, c in enumerate(x.chunks)))
    return da.map_blocks(_take_along_block, x, indices, axis=a, dtype=x.dtype, chunks=indices.chunks, meta=x._meta)


def _take_along_block(x: Any, indices: Any, axis: int) -> Any:
    import array_api_compat

    return array_api_compat.array_namespace(x, indices).take_along_axis(x, indices, axis=axis)


def _broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    import numpy as np

    return tuple(np.broadcast_shapes(a, b))


def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Any:
    """The standard's ``take``, ``axis`` optional for a 1-d ``x`` (Dask requires it)."""
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take: axis is required for an array of {x.ndim} dimensions (shape {x.shape})")
        axis = 0
    import warnings

    import numpy as np

    with warnings.catch_warnings():
        # Dask types its own integer chunk offsets with a complex x's meta (an empty array) and NumPy warns at
        # that cast; no value is cast (dask.array.slicing.slice_with_int_dask_array_on_axis)
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        return _compat().take(x, indices, axis=axis)


def repeat(x: Any, repeats: Any, /, *, axis: int | None = None) -> Any:
    """The standard's ``repeat``; ``axis=None`` repeats the flattened array (Dask requires an axis)."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return _compat().repeat(x, repeats, axis=axis)


def reshape(x: Any, /, shape: tuple[int, ...], *, copy: bool | None = None) -> Any:
    """The standard's ``reshape``. Dask reshapes by merging or splitting axes whose chunks fit the new shape
    evenly, and refuses others (NotImplementedError, when the graph is built): those are reshaped from one chunk
    along every axis from the first whose length changes (the leading axes the reshape keeps keep their chunks)."""
    compat = _compat()
    try:
        return compat.reshape(x, shape, copy=copy)
    except NotImplementedError:
        pass
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if -1 in shape:  # (a bad shape is refused by Dask's own reshape below, with its own message)
        known = math.prod(n for n in shape if n != -1)
        shape = tuple(math.prod(x.shape) // known if n == -1 and known else n for n in shape)
    keep = 0
    while keep < min(x.ndim, len(shape)) and x.shape[keep] == shape[keep]:
        keep += 1
    x = x.rechunk({i: -1 for i in range(keep, x.ndim)})
    return compat.reshape(x, shape, copy=copy)


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None, device: Any = None) -> Any:
    """The standard's ``eye``, as where a row index plus ``k`` equals the column index, in Dask's automatic chunks
    (Dask's own ``eye(3, 4)`` declares chunks of 3 columns in all, and fails when computed)."""
    compat = _compat()
    rows = compat.arange(n_rows, device=device)[:, None]
    cols = compat.arange(n_rows if n_cols is None else n_cols, device=device)[None, :]
    return compat.astype(rows + k == cols, compat.float64 if dtype is None else dtype)


# ----------------------------------------------------------------- linalg: stacks of matrices, block by block
def linalg_namespace() -> ModuleType:
    """array-api-compat's Dask ``linalg`` with the functions that need whole matrices run as generalized ufuncs:
    each matrix in one chunk (the batch axes keep theirs), each block by the chunks' own library. Dask's own
    ``inv``/``solve``/``cholesky``/``qr``/``svd`` take 2-d arrays in particular chunkings only, and it has no
    ``det``, ``slogdet``, ``eigh``, ``pinv``..."""
    import array_api_compat.dask.array.linalg as compat

    la = ModuleType(NAME + ".linalg", compat.__doc__)
    la.__dict__.update((k, v) for k, v in vars(compat).items() if k not in _IDENTITY)
    la.__dict__.update(
        inv=lambda x: _gufunc("inv", "(i,j)->(i,j)", (x,), [x.dtype]),
        det=lambda x: _gufunc("det", "(i,j)->()", (x,), [x.dtype]),
        slogdet=lambda x: compat.SlogdetResult(*_gufunc("slogdet", "(i,j)->(),()", (x,), [x.dtype, _real(x.dtype)])),
        solve=_solve,
        cholesky=lambda x, /, *, upper=False: _gufunc("cholesky", "(i,j)->(i,j)", (x,), [x.dtype], upper=upper),
        cross=_cross,
        matrix_norm=_matrix_norm,
        matrix_power=lambda x, n, /: _gufunc("matrix_power", "(i,j)->(i,j)", (x,), [x.dtype], n=n),
        pinv=lambda x, /, *, rtol=None: _with_rtol("pinv", "(i,j)", "(j,i)", x, rtol, x.dtype),
        matrix_rank=lambda x, /, *, rtol=None: _with_rtol("matrix_rank", "(i,j)", "()", x, rtol, _int()),
        eigh=lambda x, /: compat.EighResult(*_gufunc("eigh", "(i,j)->(i),(i,j)", (x,), [_real(x.dtype), x.dtype])),
        eigvalsh=lambda x, /: _gufunc("eigvalsh", "(i,j)->(i)", (x,), [_real(x.dtype)]),
        qr=lambda x, /, *, mode="reduced": compat.QRResult(*_qr(x, mode=mode)),
        svd=lambda x, /, *, full_matrices=True: compat.SVDResult(*_svd(x, full_matrices=full_matrices)),
        svdvals=lambda x, /: _gufunc("svdvals", "(i,j)->(k)", (x,), [_real(x.dtype)], sizes={"k": min(x.shape[-2:])}),
    )
    return la


def _real(dtype: Any) -> Any:
    import numpy as np

    return np.empty((), dtype).real.dtype


def _int() -> Any:
    import numpy as np

    return np.dtype(np.int64)


def _gufunc(name: str, signature: str, arrays: tuple[Any, ...], dtypes: list[Any], sizes: Any = None, **kw: Any) -> Any:
    """``linalg.<name>(*blocks, **kw)`` of the chunks' own library over the core axes of ``signature``."""
    import dask.array as da

    out = da.apply_gufunc(
        _block_linalg,
        signature,
        *_whole_cores(signature, arrays),
        name_=name,
        kw_=kw,
        output_dtypes=dtypes if len(dtypes) > 1 else dtypes[0],
        output_sizes=sizes,
        allow_rechunk=True,
        vectorize=False,
    )
    return tuple(out) if isinstance(out, (list, tuple)) else out


def _whole_cores(signature: str, arrays: tuple[Any, ...]) -> list[Any]:
    """``arrays`` with their core axes (the signature's, last) in one chunk each and other axes as they were
    (Dask's own ``allow_rechunk`` may rechunk every axis)."""
    cores = [len([d for d in part.strip("()").split(",") if d]) for part in signature.split("->")[0].split("),(")]
    return [a.rechunk({a.ndim - 1 - k: -1 for k in range(c)}) if c else a for a, c in zip(arrays, cores, strict=True)]


def _block_linalg(*blocks: Any, name_: str, kw_: dict[str, Any]) -> Any:
    import array_api_compat

    out = getattr(array_api_compat.array_namespace(*blocks).linalg, name_)(*blocks, **kw_)
    return tuple(out) if isinstance(out, tuple) else out


def _solve(x1: Any, x2: Any, /) -> Any:
    import numpy as np

    dt = np.result_type(x1.dtype, x2.dtype)
    if x2.ndim == 1:
        return _gufunc("solve", "(i,j),(j)->(i)", (x1, x2), [dt])
    return _gufunc("solve", "(i,j),(j,k)->(i,k)", (x1, x2), [dt])


def _cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    import dask.array as da
    import numpy as np

    nd = max(x1.ndim, x2.ndim)
    x1, x2 = (da.broadcast_to(a, np.broadcast_shapes(x1.shape, x2.shape)) for a in (x1, x2))
    a = axis % nd
    return da.apply_gufunc(
        _block_cross,
        "(k),(k)->(k)",
        x1,
        x2,
        axes=[(a,), (a,), (a,)],
        output_dtypes=np.result_type(x1.dtype, x2.dtype),
        allow_rechunk=True,
    )


def _block_cross(a: Any, b: Any) -> Any:
    import array_api_compat

    return array_api_compat.array_namespace(a, b).linalg.cross(a, b, axis=-1)


def _matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    out = _gufunc("matrix_norm", "(i,j)->()", (x,), [_real(x.dtype)], ord=ord)
    return out[..., None, None] if keepdims else out


def _with_rtol(name: str, core: str, result: str, x: Any, rtol: Any, dtype: Any) -> Any:
    if rtol is None or isinstance(rtol, (int, float)):
        return _gufunc(name, f"{core}->{result}", (x,), [dtype], rtol=rtol)
    import dask.array as da

    return da.apply_gufunc(
        _block_rtol, f"{core},()->{result}", x, rtol, name_=name, output_dtypes=dtype, allow_rechunk=True
    )


def _block_rtol(x: Any, rtol: Any, name_: str) -> Any:
    import array_api_compat

    return getattr(array_api_compat.array_namespace(x).linalg, name_)(x, rtol=rtol)


def _qr(x: Any, /, *, mode: str = "reduced") -> Any:
    m, n = x.shape[-2:]
    if mode == "complete":
        return _gufunc("qr", "(i,j)->(i,m),(i,j)", (x,), [x.dtype, x.dtype], sizes={"m": m}, mode=mode)
    k = min(m, n)
    return _gufunc("qr", "(i,j)->(i,k),(k,j)", (x,), [x.dtype, x.dtype], sizes={"k": k}, mode=mode)


def _svd(x: Any, /, *, full_matrices: bool = True) -> Any:
    m, n = x.shape[-2:]
    dts = [x.dtype, _real(x.dtype), x.dtype]
    if full_matrices:
        sizes = {"m": m, "n": n, "k": min(m, n)}
        return _gufunc("svd", "(i,j)->(i,m),(k),(n,j)", (x,), dts, sizes=sizes, full_matrices=True)
    k = min(m, n)
    return _gufunc("svd", "(i,j)->(i,k),(k),(k,j)", (x,), dts, sizes={"k": k}, full_matrices=False)
