"""How the internal ops of gradient graphs read as maths (`OpDef.text`): each as the standard functions it amounts
to, a template over its operands' texts (``{0}``, ``{1}``), for `expr()`, `show` and pictures.

The reverse sweep undoes a reduction with `expand` (``broadcast_to``) and broadcasting with `fit` (``sum`` over the
broadcast axes); where shapes are known when the graph is built the text says which axes, else it refers to the
operand's ``.shape``, or (`fit` over unknown dimensions) None: the op's own name, explained on docs/concepts.md.
"""

from __future__ import annotations

import math
from typing import Any

from .._core.tensor import Tensor
from .._dtypes import FLOAT, dtype_kind, dtype_name

__all__ = ["broadcast_like", "expand", "fill_like", "fit", "reshape_like"]


def _known(t: Tensor) -> tuple[int, ...] | None:
    """``t``'s shape where every dimension is known when the graph is built, else None."""
    s = t.shape
    return None if s is None or None in s else s  # type: ignore[return-value]  # (no None left)


def _axes(axes: tuple[int, ...]) -> str:
    return str(axes[0]) if len(axes) == 1 else repr(axes)


def _shape_of(ref: Tensor, k: int) -> str:
    """``ref``'s shape as Python writes it, or ``{k}.shape`` (operand k's text) when not known yet."""
    s = _known(ref)
    return repr(s) if s is not None else f"{{{k}}}.shape"


def _cast(text: str, g: Tensor, ref: Tensor) -> str:
    """``astype`` around ``text`` where the op casts to a floating ``ref``'s dtype (as `fit` and `broadcast_like`)."""
    if ref._dtype is None or g._dtype is None or ref._dtype == g._dtype:
        return text
    if dtype_kind(ref._bk.xp, ref._dtype) != FLOAT:
        return text
    return f"astype({text}, dtype={dtype_name(ref._bk.xp, ref._dtype)!r})"


def fit(g: Tensor, ref: Tensor) -> str | None:
    """``g`` summed down to ``ref``'s shape: over its extra leading axes, then over the axes ``ref`` has as 1."""
    gs, rs = _known(g), _known(ref)
    if gs is None or rs is None or len(gs) < len(rs):
        return None
    lead = len(gs) - len(rs)
    text = "{0}"
    if lead:
        text = f"sum({text}, axis={_axes(tuple(range(lead)))})"
    kept = tuple(i for i, d in enumerate(rs) if d == 1 and gs[lead + i] != 1)
    if kept:
        text = f"sum({text}, axis={_axes(kept)}, keepdims=True)"
    text = _cast(text, g, ref)
    return None if text == "{0}" else text


def broadcast_like(a: Tensor, ref: Tensor) -> str:
    """``a`` broadcast to ``ref``'s shape (the adjoint of `fit`)."""
    return _cast(f"broadcast_to({{0}}, shape={_shape_of(ref, 1)})", a, ref)


def reshape_like(a: Tensor, ref: Tensor) -> str:
    """``a`` reshaped to ``ref``'s shape (the adjoint of ``reshape``)."""
    return f"reshape({{0}}, shape={_shape_of(ref, 1)})"


def expand(g: Tensor, x: Tensor, axis: Any, keepdims: bool, mean: bool) -> str | None:
    """The cotangent ``g`` of ``sum(x, axis)`` (``mean``) broadcast back over ``x``'s shape (divided by the count)."""
    xs = x.shape
    if xs is None:
        return None
    nd = len(xs)
    axes = (
        tuple(range(nd))
        if axis is None
        else tuple(sorted(a % nd for a in ((axis,) if isinstance(axis, int) else axis)))
    )
    text = "{0}"
    if axis is not None and not keepdims:
        for a in axes:  # the reduced axes back as size 1 (one axis at a time, as the standard's expand_dims takes)
            text = f"expand_dims({text}, axis={a})"
    if mean:
        dims = [xs[a] for a in axes]
        if None in dims:
            return None
        text = f"{text} / {math.prod(dims)}"  # type: ignore[arg-type]  # (no None left)
    return f"broadcast_to({text}, shape={_shape_of(x, 1)})"


def fill_like(x: Tensor, fill_value: Any, dtype: Any) -> str:
    """``full_like``, on a Tensor whose value comes later."""
    extra = "" if dtype is None else f", dtype={dtype_name(x._bk.xp, dtype)!r}"
    return f"full_like({{0}}, fill_value={fill_value!r}{extra})"
