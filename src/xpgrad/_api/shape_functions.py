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

from .._core.build import apply
from .._core.opdef import OPS
from .._core.tensor import Tensor
from .._ops.linalg import tensordot_axes
from ..backends import get_backend

__all__ = [
    "arange",
    "concat",
    "cumulative_sum",
    "eye",
    "linspace",
    "permute_dims",
    "roll",
    "squeeze",
    "stack",
    "tensordot",
]


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
