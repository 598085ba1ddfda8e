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
