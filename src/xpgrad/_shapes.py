"""Static shape inference. A shape is a tuple of ints, with None for a dimension not known yet
(placeholders), or None when even the rank is unknown."""

from __future__ import annotations

from typing import Any

__all__ = ["broadcast", "normalize_axis", "reduced"]

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
                f"{opname}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast "
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
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if ndim is None:
        return axes  # rank unknown until fed: the op normalizes at run time
    norm = []
    for a in axes:
        if not isinstance(a, int) or not -ndim <= a < ndim:
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
