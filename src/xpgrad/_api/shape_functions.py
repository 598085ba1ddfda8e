"""The standard's signatures over the linear-algebra and manipulation ops, and three creation functions.

``permute_dims``, ``squeeze``, ``roll`` and ``tensordot`` take an argument positionally that the op holds as
a parameter; ``concat`` and ``stack`` take a sequence of arrays, joined by the binary ``concat`` op (nested:
``concat(concat(a, b), c)``, each rule a cut of the cotangent). ``arange``, ``linspace`` and ``eye`` make
leaves on a backend (``backend=``, default: `xpgrad.default_backend()`), as `zeros` does.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from .. import _dtypes, _shapes
from .._core.build import apply
from .._core.opdef import OPS
from .._core.tensor import Tensor
from .._errors import AxisError
from .._ops.linalg import tensordot_axes
from .._shapes import pack_key
from ..backends import get_backend

__all__ = [
    "arange",
    "broadcast_arrays",
    "concat",
    "cumulative_sum",
    "eye",
    "linspace",
    "meshgrid",
    "moveaxis",
    "nonzero",
    "permute_dims",
    "repeat",
    "roll",
    "searchsorted",
    "squeeze",
    "stack",
    "tensordot",
    "tile",
    "unstack",
]


def getitem(x: Tensor, key: Any) -> Tensor:
    """``t[key]`` for basic indices (ints, slices, None, ...); the gradient scatters back into zeros."""
    return apply(OPS["index"], x, key=pack_key("index", key))


def _tensor(name: str, x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float, complex)):
        return Tensor(x)
    try:
        return Tensor(x)
    except TypeError:
        raise TypeError(
            f"{name}: cannot use {type(x).__name__} {x!r:.40} as an array; pass a Tensor or an array of a supported "
            "backend (wrap lists with xpgrad.asarray)"
        ) from None


def _ints(name: str, what: str, v: Any) -> tuple[int, ...]:
    try:
        return tuple(operator.index(a) for a in ((v,) if hasattr(v, "__index__") else v) if not isinstance(a, bool))
    except TypeError:
        raise TypeError(f"{name}: {what} must be an int or a tuple of ints; got {v!r:.60}") from None


def permute_dims(x: Any, /, axes: tuple[int, ...]) -> Tensor:
    """permute_dims(x, /, axes): the array API's permute_dims; the gradient permutes back."""
    return apply(OPS["permute_dims"], x, axes=_ints("permute_dims", "axes", axes))


def squeeze(x: Any, /, axis: int | tuple[int, ...]) -> Tensor:
    """squeeze(x, /, axis): the array API's squeeze (size-1 axes removed); the gradient reshapes back."""
    a = _ints("squeeze", "axis", axis)
    return apply(OPS["squeeze"], x, axis=a if isinstance(axis, (tuple, list)) else a[0])


def roll(x: Any, /, shift: int | tuple[int, ...], *, axis: int | tuple[int, ...] | None = None) -> Tensor:
    """roll(x, /, shift, *, axis=None): the array API's roll; the gradient rolls back."""
    if isinstance(shift, list):
        shift = tuple(shift)
    if isinstance(axis, list):
        axis = tuple(axis)
    return apply(OPS["roll"], x, shift=shift, axis=axis)


def tensordot(x1: Any, x2: Any, /, *, axes: int | tuple[Sequence[int], Sequence[int]] = 2) -> Tensor:
    """tensordot(x1, x2, /, *, axes=2): the array API's tensordot (NumPy's axes forms); differentiable."""
    a, b = _tensor("tensordot", x1), _tensor("tensordot", x2)
    return apply(OPS["tensordot"], a, b, axes=tensordot_axes(a, b, axes))


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None, include_initial: bool = False) -> Tensor:
    """cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False): the array API's cumulative_sum;
    the gradient is the cumulative sum of the cotangent taken from the end."""
    t = _tensor("cumulative_sum", x)
    if dtype is not None:
        dtype = t._bk.dtype(dtype)
    return apply(OPS["cumulative_sum"], t, axis=axis, dtype=dtype, include_initial=include_initial)


def concat(arrays: Sequence[Any], /, *, axis: int | None = 0) -> Tensor:
    """concat(arrays, /, *, axis=0): the array API's concat (axis=None: flattened first); differentiable.

    Example:
        >>> import numpy as np, xpgrad
        >>> a, b = xpgrad.Tensor(np.array([1.0, 2.0])), xpgrad.Tensor(np.array([3.0]))
        >>> print(xpgrad.concat([a, b]))
        T:[1. 2. 3.]
    """
    ts = _sequence("concat", arrays)
    if axis is None:
        ts = [apply(OPS["reshape"], t, shape=(-1,), copy=None) for t in ts]
        axis = 0
    elif isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise TypeError(f"concat: axis must be an int or None; got {axis!r}")
    return _join(ts, operator.index(axis))


def stack(arrays: Sequence[Any], /, *, axis: int = 0) -> Tensor:
    """stack(arrays, /, *, axis=0): the array API's stack (a new axis); differentiable."""
    ts = _sequence("stack", arrays)
    shapes = {t._shape for t in ts if t._shape is not None}
    if len(shapes) > 1:
        raise ValueError(f"stack: arrays must all have the same shape; got {sorted(shapes, key=str)}")
    return _join([apply(OPS["expand_dims"], t, axis=axis) for t in ts], axis)


def _sequence(name: str, arrays: Any) -> list[Tensor]:
    if isinstance(arrays, Tensor) or not isinstance(arrays, (list, tuple)):
        raise TypeError(
            f"{name}: expected a list or tuple of arrays; got {type(arrays).__name__} (wrap one array: [{name}(x)])"
            if not isinstance(arrays, Tensor)
            else f"{name}: expected a list or tuple of arrays; got one Tensor (pass [x, y, ...])"
        )
    if not arrays:
        raise ValueError(f"{name}: needs at least one array; got an empty sequence")
    return [_tensor(name, a) for a in arrays]


def _join(ts: list[Tensor], axis: int) -> Tensor:
    """``ts`` joined along ``axis`` by binary concats, as a balanced tree (each element copied log n times)."""
    if len(ts) == 1:  # nothing to join: the array itself (a graph never writes into a node)
        s = ts[0]._shape
        if s == ():
            raise ValueError("concat: arrays must have at least 1 dimension; got a 0-d array")
        if s is not None and not -len(s) <= axis < len(s):
            raise ValueError(f"concat: axis {axis} is out of range for an array of {len(s)} dimensions")
        return ts[0]
    while len(ts) > 1:
        ts = [
            apply(OPS["concat"], ts[i], ts[i + 1], axis=axis) if i + 1 < len(ts) else ts[i]
            for i in range(0, len(ts), 2)
        ]
    return ts[0]


# ----------------------------------------------------------------- creation
def arange(
    start: int | float,
    /,
    stop: int | float | None = None,
    step: int | float = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    backend: Any = None,
) -> Tensor:
    """arange(start, /, stop=None, step=1, *, dtype=None, device=None, backend=None): a leaf Tensor."""
    bk = get_backend(backend)
    return Tensor(bk.xp.arange(start, stop, step, dtype=bk.dtype(dtype), device=device), backend=bk)


def linspace(
    start: int | float | complex,
    stop: int | float | complex,
    /,
    num: int,
    *,
    dtype: Any = None,
    device: Any = None,
    endpoint: bool = True,
    backend: Any = None,
) -> Tensor:
    """linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True, backend=None): a leaf Tensor."""
    bk = get_backend(backend)
    return Tensor(bk.xp.linspace(start, stop, num, dtype=bk.dtype(dtype), device=device, endpoint=endpoint), backend=bk)


def eye(
    n_rows: int,
    n_cols: int | None = None,
    /,
    *,
    k: int = 0,
    dtype: Any = None,
    device: Any = None,
    backend: Any = None,
) -> Tensor:
    """eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None, backend=None): a leaf Tensor."""
    bk = get_backend(backend)
    return Tensor(bk.xp.eye(n_rows, n_cols, k=k, dtype=bk.dtype(dtype), device=device), backend=bk)


def moveaxis(x: Any, source: int | tuple[int, ...], destination: int | tuple[int, ...], /) -> Tensor:
    """moveaxis(x, source, destination, /): the array API's moveaxis, a `permute_dims`; differentiable."""
    t = _tensor("moveaxis", x)
    n = _known_ndim("moveaxis", t)
    src = [_in_range("moveaxis", a, n) for a in _ints("moveaxis", "source", source)]
    dst = [_in_range("moveaxis", a, n) for a in _ints("moveaxis", "destination", destination)]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(
            f"moveaxis: source {source!r} and destination {destination!r} must name as many distinct axes each"
        )
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return permute_dims(t, tuple(order))


def _known_ndim(name: str, t: Tensor) -> int:
    if t._shape is None:
        raise ValueError(f"{name}: needs the number of dimensions; declare the placeholder's shape")
    return len(t._shape)


def _in_range(name: str, a: int, n: int) -> int:
    if not -n <= a < n:
        raise AxisError(f"{name}: axis {a} is out of range for an array of {n} dimensions")
    return a % n


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Tensor, ...]:
    """unstack(x, /, *, axis=0): the arrays along ``axis``, each ``x[..., i, ...]``; differentiable."""
    t = _tensor("unstack", x)
    n = _known_ndim("unstack", t)
    if n == 0:
        raise ValueError("unstack: a 0-d array has no axis to split along")
    a = _in_range("unstack", operator.index(axis), n)
    size = t._shape[a]
    if size is None:
        raise ValueError(f"unstack: the size of axis {a} is unknown (shape {t._shape}); feed the placeholder first")
    return tuple(getitem(t, (slice(None),) * a + (i,)) for i in range(size))


def tile(x: Any, repetitions: tuple[int, ...], /) -> Tensor:
    """tile(x, repetitions, /): the array API's tile, as a reshape of a broadcast; differentiable."""
    t = _tensor("tile", x)
    reps = _ints("tile", "repetitions", repetitions)
    s = t._shape
    if s is None or None in s:
        raise ValueError(f"tile: needs a known shape; got {s}")
    n = max(len(s), len(reps))
    s2: tuple[int, ...] = (1,) * (n - len(s)) + tuple(d for d in s if d is not None)  # (none is None)
    r2 = (1,) * (n - len(reps)) + reps
    if any(r < 0 for r in r2):
        raise ValueError(f"tile: repetitions must be non-negative; got {repetitions!r}")
    spread = apply(OPS["reshape"], t, shape=tuple(d for k in s2 for d in (1, k)), copy=None)
    spread = apply(OPS["broadcast_to"], spread, shape=tuple(d for pair in zip(r2, s2, strict=True) for d in pair))
    return apply(OPS["reshape"], spread, shape=tuple(r * k for r, k in zip(r2, s2, strict=True)), copy=None)


def repeat(x: Any, repeats: Any, /, *, axis: int | None = None) -> Tensor:
    """repeat(x, repeats, /, *, axis=None): the array API's repeat; differentiable in ``x`` (a `take` of
    repeated indices, computed from ``repeats``' value, which must be known: integers have no gradient)."""
    t = _tensor("repeat", x)
    if axis is None:
        t = apply(OPS["reshape"], t, shape=(-1,), copy=None)
        axis = 0
    n = _known_ndim("repeat", t)
    a = _in_range("repeat", operator.index(axis), n)
    size = t._shape[a]
    xp = t._bk.xp
    if isinstance(repeats, Tensor):
        repeats = repeats._require()
    if size is None:
        raise ValueError(f"repeat: the size of axis {a} is unknown (shape {t._shape}); feed the placeholder first")
    positions = xp.arange(size, dtype=_index(t), device=t.device)
    if hasattr(repeats, "shape"):
        counts = xp.astype(repeats, _index(t))
        indices = xp.repeat(positions, counts if counts.shape != (1,) else int(counts[0]))
    else:
        indices = xp.repeat(positions, operator.index(repeats))
    return apply(OPS["take"], t, Tensor(indices, backend=t._bk), axis=a)


def _index(t: Tensor) -> Any:
    return _dtypes._default(t._bk, _dtypes.INT, t._device)


def meshgrid(*arrays: Any, indexing: str = "xy") -> list[Tensor]:
    """meshgrid(*arrays, indexing='xy'): the array API's meshgrid (each output a broadcast); differentiable."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij'; got {indexing!r}")
    ts = [_tensor("meshgrid", a) for a in arrays]
    for t in ts:
        if t._shape is None or len(t._shape) != 1:
            raise ValueError(f"meshgrid: every array must be 1-d; got shape {t._shape}")
    sizes = [t._shape[0] for t in ts]
    if indexing == "xy" and len(ts) > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(ts):
        k = (1 - i if i < 2 else i) if indexing == "xy" and len(ts) > 1 else i
        shape = tuple(-1 if j == k else 1 for j in range(len(ts)))
        out.append(apply(OPS["broadcast_to"], apply(OPS["reshape"], t, shape=shape, copy=None), shape=tuple(sizes)))
    return out


def nonzero(x: Any, /) -> tuple[Tensor, ...]:
    """nonzero(x, /): the indices of the nonzero elements, one array per axis (sizes known once evaluated)."""
    t = _tensor("nonzero", x)
    n = _known_ndim("nonzero", t)
    if n == 0:
        raise ValueError("nonzero: a 0-d array has no axes to index (the standard refuses it); reshape it to (1,)")
    return tuple(apply(OPS["nonzero_part"], t, index=i) for i in range(n))


def searchsorted(x1: Any, x2: Any, /, *, side: str = "left", sorter: Any = None) -> Tensor:
    """searchsorted(x1, x2, /, *, side='left', sorter=None): the array API's searchsorted (integer output)."""
    a = _tensor("searchsorted", x1)
    if sorter is not None:
        a = apply(OPS["take"], a, sorter if isinstance(sorter, Tensor) else Tensor(sorter, backend=a._bk), axis=0)
    return apply(OPS["searchsorted"], a, x2, side=side)


def broadcast_arrays(*arrays: Any) -> list[Tensor]:
    """broadcast_arrays(*arrays): each array broadcast to their common shape; differentiable."""
    ts = [_tensor("broadcast_arrays", a) for a in arrays]
    shape = _shapes.broadcast("broadcast_arrays", *(t._shape for t in ts))
    if shape is None or None in shape:
        raise ValueError("broadcast_arrays: needs known shapes; feed the placeholders first")
    return [t if t._shape == shape else apply(OPS["broadcast_to"], t, shape=shape) for t in ts]
