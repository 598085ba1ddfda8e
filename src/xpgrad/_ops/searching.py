"""The standard's searching functions beside argmax/argmin (`manipulation`), and take_along_axis.

``nonzero``, ``searchsorted`` and ``count_nonzero`` have integer outputs: no gradient flows through them (JAX's
convention, as for argmax). ``nonzero``'s output sizes depend on the values: its ops have a shape of unknown
size, known once evaluated. ``take_along_axis`` is differentiable in ``x``: its rule is its adjoint
(`untake_along`, whose rule is take_along_axis again), so every order works.
"""

from __future__ import annotations

from typing import Any

from .. import _dtypes, _shapes
from .._core.opdef import LINEAR, ZERO, defop
from . import array_impls as _impls
from .basic import _dtype_first, _f, _reduced
from .manipulation import _axis_int, index_dtype

__all__: list[str] = []

take_along_axis, untake_along, argsort = map(_f, ("take_along_axis", "untake_along", "argsort"))


def _nonzero_shape(name: str, x: Any, index: int = 0) -> Any:
    if x._shape == ():
        raise ValueError("nonzero: a 0-d array has no axes to index (the standard refuses it); reshape it to (1,)")
    return (None,)


defop(  # the ``index``-th array of ``nonzero(x)``: its size depends on the values
    "nonzero_part",
    1,
    lambda xp, x, index: xp.nonzero(x)[index],
    vjp=(ZERO,),
    domain="any",
    elementwise=False,
    public=False,  # `xpgrad.nonzero` (`_api.shape_functions`) returns a tuple of them
    params={"index": 0},
    shape=_nonzero_shape,
    dtype=index_dtype("nonzero_part"),
)


def _searchsorted_shape(name: str, x1: Any, x2: Any, side: str = "left") -> Any:
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right'; got {side!r}")
    if x1._shape is not None and len(x1._shape) != 1:
        raise ValueError(f"searchsorted: x1 must be 1-d (sorted); got shape {x1._shape}")
    return x2._shape


defop(
    "searchsorted",
    2,
    lambda xp, x1, x2, side: xp.searchsorted(x1, x2, side=side),
    vjp=(ZERO, ZERO),
    domain="real",
    elementwise=False,
    # (`xpgrad.searchsorted` is `_api.shape_functions.searchsorted`, which applies ``sorter`` first)
    params={"side": "left"},
    shape=_searchsorted_shape,
    dtype=index_dtype("searchsorted"),
)


def _count_shape(name: str, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _reduced(name, x, axis=axis, keepdims=keepdims)


defop(
    "count_nonzero",
    1,
    vjp=(ZERO,),
    domain="any",
    elementwise=False,
    params={"axis": None, "keepdims": False},
    shape=_count_shape,
    dtype=index_dtype("count_nonzero"),
)


# ----------------------------------------------------------------- take_along_axis, and its adjoint
def _along_shape(name: str, x: Any, indices: Any, axis: int = -1) -> Any:
    sx, si = x._shape, indices._shape
    if indices._dtype is not None and _dtypes.dtype_kind(indices._bk.xp, indices._dtype) != _dtypes.INT:
        raise TypeError(f"take_along_axis: indices must be an integer array; got dtype {indices._dtype}")
    if sx is None or si is None:
        return None
    if len(sx) != len(si) or not sx:
        raise ValueError(
            f"take_along_axis: x and indices must have the same number of dimensions (at least 1); got shapes "
            f"{sx} and {si}"
        )
    a = _axis_int(name, axis, len(sx))
    rest = _shapes.broadcast(name, sx[:a] + sx[a + 1 :], si[:a] + si[a + 1 :])
    assert rest is not None
    return (*rest[:a], si[a], *rest[a:])


def _untake_along(xp: Any, g: Any, ref: Any, indices: Any, axis: int) -> Any:
    """The adjoint of ``take_along_axis(ref, indices, axis=axis)``: ``g`` added into zeros shaped like ``ref`` at
    the indices (repeated ones add up), as a product with their one-hot matrices (exact: one nonzero term per
    index), then summed over axes that indices broadcast."""
    import array_api_compat

    a = axis % ref.ndim
    n = ref.shape[a]
    idx = xp.where(indices < 0, indices + n, indices)
    gm, im = xp.moveaxis(g, a, -1), xp.moveaxis(idx, a, -1)
    positions = xp.arange(n, dtype=idx.dtype, device=array_api_compat.device(g))
    onehot = xp.astype(im[..., :, None] == positions, g.dtype)  # (..., k, n)
    out = xp.matmul(gm[..., None, :], onehot)[..., 0, :]  # (..., n)
    return _impls.fit(xp, xp.moveaxis(out, -1, a), ref)


defop(
    "take_along_axis",
    2,
    lambda xp, x, indices, axis: xp.take_along_axis(x, indices, axis=axis),
    vjp=(lambda g, out, x, indices, axis: untake_along(g, x, indices, axis=axis), ZERO),
    jvp=(LINEAR, ZERO),
    domain="any",
    elementwise=False,
    promote=(),
    params={"axis": -1},
    shape=_along_shape,
    dtype=_dtype_first,
)
defop(
    "untake_along",
    3,
    _untake_along,
    vjp=(lambda gg, out, g, ref, indices, axis: take_along_axis(gg, indices, axis=axis), ZERO, ZERO),
    jvp=(LINEAR, ZERO, ZERO),
    domain="any",
    elementwise=False,
    public=False,
    promote=(),
    params={"axis": -1},
    meta=(1,),
    shape=lambda name, g, ref, indices, axis: ref._shape,
    dtype=_dtype_first,
)


# ----------------------------------------------------------------- sort, argsort
def _sort_shape(name: str, x: Any, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    if x._shape == ():
        raise ValueError(f"{name}: a 0-d array has no axis to sort along")
    if x._shape is not None:
        _axis_int(name, axis, len(x._shape))
    for what, v in (("descending", descending), ("stable", stable)):
        if type(v) is not bool:
            raise TypeError(f"{name}: {what} must be True or False; got {v!r}")
    return x._shape


def _sort_rule(g: Any, out: Any, x: Any, axis: int, descending: bool, stable: bool) -> Any:
    # out = take_along_axis(x, argsort(x)): the cotangent goes back to where each element came from
    return untake_along(g, x, argsort(x, axis=axis, descending=descending, stable=stable), axis=axis)


_SORT = {"axis": -1, "descending": False, "stable": True}
defop(
    "sort",
    1,
    lambda xp, x, axis, descending, stable: xp.sort(x, axis=axis, descending=descending, stable=stable),
    vjp=(_sort_rule,),
    domain="real",
    elementwise=False,
    params=_SORT,
    shape=_sort_shape,
)
defop(
    "argsort",
    1,
    lambda xp, x, axis, descending, stable: xp.argsort(x, axis=axis, descending=descending, stable=stable),
    vjp=(ZERO,),
    domain="real",
    elementwise=False,
    params=_SORT,
    shape=_sort_shape,
    dtype=index_dtype("argsort"),
)
