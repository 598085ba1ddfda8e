"""Static shape inference. A shape is a tuple of ints, with None for a dimension not known yet
(placeholders), or None when even the rank is unknown."""

from __future__ import annotations

import operator
from typing import Any

__all__ = [
    "axis_ints",
    "broadcast",
    "broadcast_onto",
    "index_int",
    "indexed",
    "normalize_axis",
    "pack_key",
    "reduced",
    "reshaped",
    "unpack_key",
]

Shape = tuple[Any, ...] | None


def broadcast(opname: str, *shapes: Shape) -> Shape:
    """The broadcast shape of ``shapes``, or a ValueError naming the op and the shapes."""
    if not shapes:
        return ()
    first = shapes[0]
    if all(s == first for s in shapes):
        return first
    if any(s is None for s in shapes):
        return None
    ndim = max(len(s) for s in shapes)  # type: ignore[arg-type]
    out: list[Any] = []
    for i in range(-ndim, 0):
        dims = [s[i] for s in shapes if len(s) >= -i]  # type: ignore[index,arg-type]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(
                f"{opname}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast "  # type: ignore[arg-type]  # (no None: returned above)
                f"together (axis {i}: sizes {sorted(known)}); make the sizes equal or 1, e.g. with "
                "reshape or indexing"
            )
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def normalize_axis(opname: str, axis: Any, ndim: int | None) -> tuple[int, ...] | None:
    """``axis`` as a sorted tuple of non-negative ints (None = all axes), checked against ``ndim``."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else axis if isinstance(axis, tuple) else (axis,)
    if any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
        raise TypeError(f"{opname}: axis must be an int, a tuple of ints or None; got {axis!r}")
    if ndim is None:
        return axes  # rank unknown until fed: the op normalizes at run time
    norm = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{opname}: axis {axis!r} is out of range for an array of {ndim} dimensions")
        norm.append(a % ndim)
    if len(set(norm)) != len(norm):
        raise ValueError(f"{opname}: axis {axis!r} repeats an axis")
    return tuple(sorted(norm))


def reduced(shape: Shape, axes: tuple[int, ...] | None, keepdims: bool) -> Shape:
    if shape is None:
        return None
    if axes is None:
        axes = tuple(range(len(shape)))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def reshaped(opname: str, shape: Shape, new: tuple[int, ...]) -> Shape:
    """The shape ``reshape`` gives (one -1 resolved when ``shape`` is known), or a ValueError."""
    new = tuple(new)
    if sum(d == -1 for d in new) > 1 or any(not isinstance(d, int) or d < -1 for d in new):
        raise ValueError(f"{opname}: invalid shape {new}; use non-negative sizes and at most one -1")
    if shape is None or None in shape:
        return new if -1 not in new else None
    size, known = 1, 1
    for d in shape:
        size *= d
    for d in new:
        known *= d if d != -1 else 1
    if -1 in new:
        if known == 0 or size % known:
            raise ValueError(f"{opname}: cannot reshape an array of shape {shape} into {new}")
        return tuple(size // known if d == -1 else d for d in new)
    if known != size:
        raise ValueError(f"{opname}: cannot reshape an array of shape {shape} ({size} elements) into {new}")
    return new


def broadcast_onto(opname: str, shape: Shape, target: tuple[int, ...]) -> Shape:
    """``target``, checked that ``shape`` broadcasts onto it."""
    target = tuple(target)
    if shape is not None and broadcast(opname, shape, target) != target:
        raise ValueError(f"{opname}: an array of shape {shape} cannot be broadcast to {target}")
    return target


# A basic index is stored in op params as a hashable tuple: ints, None, Ellipsis, and slices as
# ("slice", start, stop, step) (slices are unhashable before Python 3.12), always with an Ellipsis.
def pack_key(opname: str, key: Any) -> tuple[Any, ...]:
    """``key`` (what ``t[key]`` received) as a hashable tuple, or a TypeError for non-basic indices."""
    items = key if isinstance(key, tuple) else (key,)
    out: list[Any] = []
    for k in items:
        if k is None or k is Ellipsis:
            out.append(k)
        elif isinstance(k, slice):
            out.append(("slice", *(None if v is None else operator.index(v) for v in (k.start, k.stop, k.step))))
        else:  # an int of any kind (np.int64(1), a 0-d integer array or Tensor), as NumPy and the standard take
            i = index_int(k)
            if i is None:
                raise TypeError(
                    f"{opname}: only basic indexing is supported (ints, slices, None, ...); got "
                    f"{type(k).__name__} {k!r:.40}; use xpgrad.where for masks"
                )
            out.append(i)
    n = sum(k is Ellipsis for k in out)
    if n > 1:
        raise IndexError(f"{opname}: an index can only have a single ellipsis ('...'); got {key!r}")
    return tuple(out) if n else (*out, Ellipsis)  # t[0] means t[0, ...], also where the backend is strict


def index_int(v: Any) -> int | None:
    """``v`` as a Python int where it is an integer of any kind (an object with ``__index__``: ``np.int64(1)``, a
    0-d integer array or Tensor), else None (a bool, a float, a mask, a multi-element array, a float Tensor)."""
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        return None
    try:
        return operator.index(v)
    except TypeError:  # (NumPy's bools and arrays of other shapes have an __index__ that refuses)
        return None


def axis_ints(axis: Any) -> Any:
    """An ``axis`` parameter with integers of any kind (``np.int64(0)``, in a tuple or alone) as Python ints; what is
    no integer is left as it is, for `normalize_axis` to refuse naming the op."""
    if type(axis) is tuple:
        return tuple(a if type(a) is int else _int_or_same(a) for a in axis)
    return _int_or_same(axis)


def _int_or_same(v: Any) -> Any:
    i = index_int(v)
    return v if i is None else i


def unpack_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(slice(*k[1:]) if isinstance(k, tuple) else k for k in key)


def indexed(shape: Shape, key: tuple[Any, ...]) -> Shape:
    """The shape of ``x[key]`` for a packed basic index, or an IndexError naming what is out of range."""
    if shape is None:
        return None
    consumed = sum(k is not None and k is not Ellipsis for k in key)
    if consumed > len(shape):
        raise IndexError(f"index: too many indices ({consumed}) for an array of {len(shape)} dimensions")
    fill = ("slice", None, None, None)
    if Ellipsis in key:
        i = key.index(Ellipsis)
        key = key[:i] + (fill,) * (len(shape) - consumed) + key[i + 1 :]
    else:
        key = key + (fill,) * (len(shape) - consumed)
    out: list[Any] = []
    d = 0
    for k in key:
        if k is None:
            out.append(1)
            continue
        n = shape[d]
        if isinstance(k, tuple):
            out.append(None if n is None else len(range(*slice(*k[1:]).indices(n))))
        elif n is not None and not -n <= k < n:
            raise IndexError(f"index: index {k} is out of bounds for axis {d} with size {n}")
        d += 1
    return tuple(out)


def size(shape: Shape) -> int | None:
    """The number of elements of ``shape``, or None while a dimension is unknown."""
    if shape is None or None in shape:
        return None
    n = 1
    for d in shape:
        n *= d
    return n
