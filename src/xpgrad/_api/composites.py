"""Public functions that are not one op: the standard's signatures over table ops, and creation.

`clip` takes optional bounds; `astype`, `reshape` and `broadcast_to` take their dtype or shape
positionally, as the standard does; `t[key]` is the `index` op. Each is a thin function that builds
ops with `apply`, so gradients come from the ops' own rules. Creation functions make leaves on a
backend (``backend=``, default: `xpgrad.default_backend()`); ``dtype`` is a name ('float32') or the
backend's dtype object.
"""

from __future__ import annotations

import operator
from typing import Any

from .. import _dtypes
from .._core.build import apply
from .._core.opdef import OPS
from .._core.plugins import State
from .._core.tensor import Tensor, refuse_tensors_in
from ..backends import Backend, backend_of, get_backend
from . import shape_functions

__all__ = ["COMPOSITES", "clip", "getitem", "iterate"]


def clip(x: Any, /, min: Any = None, max: Any = None) -> Tensor:
    """clip(x, /, min=None, max=None): the array API's clip, differentiable.

    The gradient goes to ``x`` where ``min <= x <= max`` (bounds included, as PyTorch's clamp) and to
    a bound where it binds. Bounds may be Tensors, arrays or Python numbers.
    """
    for what, v in (("x", x), ("min", min), ("max", max)):
        if not (isinstance(v, (Tensor, bool, int, float, complex)) or (v is None and what != "x") or _is_array(v)):
            raise TypeError(
                f"clip: cannot use {type(v).__name__} {v!r:.40} as {what}; pass a Tensor, a Python number, or an "
                "array of a supported backend (wrap lists with xpgrad.asarray)"
            )
    try:
        out = x
        if not isinstance(x, Tensor):
            owner = next((b if isinstance(b, Tensor) else Tensor(b) for b in (min, max) if _is_array(b)), None)
            if owner is not None and isinstance(x, (bool, int, float, complex)):
                out = _number_like(x, owner)  # the backend's clip needs an array x: on the bound's backend and device
            else:
                out = apply(OPS["positive"], x)  # an array, or a Python number among numbers (default backend)
        if min is not None:
            out = apply(OPS["clip_min"], out, min)
        if max is not None:
            out = apply(OPS["clip_max"], out, max)
    except (TypeError, ValueError) as e:  # a build-time refusal names the op clip is made of: name clip
        head, _, rest = str(e).partition(": ")
        if head not in _CLIP_PARTS or getattr(e, "__notes__", None):
            raise
        raise type(e)(f"clip: {rest}") from None
    return out


_CLIP_PARTS = ("positive", "clip_min", "clip_max")


def _is_array(b: Any) -> bool:
    return isinstance(b, Tensor) or (b is not None and backend_of(b) is not None)


def _number_like(x: Any, owner: Tensor) -> Tensor:
    """The Python number ``x`` filled in ``owner``'s shape, backend and device; owner's dtype if it holds x."""
    kind, dt = _dtypes.scalar_kind(x), owner._dtype
    if dt is None or _dtypes.dtype_kind(owner._bk.xp, dt) < kind:
        dt = _dtypes._default(owner._bk, kind, owner._device)
    return apply(OPS["fill_like"], owner, fill_value=x, dtype=dt)


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Tensor:
    """astype(x, dtype, /, *, copy=True, device=None): differentiable where the cast keeps floats."""
    t = x if isinstance(x, Tensor) else Tensor(x)
    out = apply(OPS["astype"], t, dtype=t._bk.dtype(dtype), copy=copy)
    return out if device is None else out.to_device(device)


def reshape(x: Any, /, shape: tuple[int, ...], *, copy: bool | None = None) -> Tensor:
    """reshape(x, /, shape, *, copy=None): the array API's reshape, differentiable."""
    if isinstance(shape, int):  # reshape(x, 6), as NumPy takes it
        shape = (shape,)
    elif not isinstance(shape, (tuple, list)):
        raise TypeError(f"reshape: shape must be an int or a tuple of ints; got {type(shape).__name__} {shape!r}")
    return apply(OPS["reshape"], x, shape=tuple(shape), copy=copy)


def broadcast_to(x: Any, /, shape: tuple[int, ...]) -> Tensor:
    """broadcast_to(x, /, shape): the array API's broadcast_to; the gradient sums back over new axes."""
    return apply(OPS["broadcast_to"], x, shape=_shape("broadcast_to", shape))


getitem = shape_functions.getitem  # ``t[key]``: the `index` op


def iterate(x: Tensor) -> Any:
    """``for row in t``: ``t[0], t[1], ...`` along the first axis (its size must be known)."""
    s = x.shape
    if s is None or not s or s[0] is None:
        what = "a 0-d Tensor" if s == () else f"a Tensor of unknown first dimension (shape {s})"
        raise TypeError(f"iteration over {what} is not possible; index it (t[i]) or feed its placeholders first")
    return (getitem(x, i) for i in range(s[0]))


# ----------------------------------------------------------------- creation
def _on(backend: Any) -> Backend:
    return get_backend(backend)  # None: the default backend


def asarray(
    obj: Any, /, *, dtype: Any = None, device: Any = None, copy: bool | None = None, backend: Any = None
) -> Tensor:
    """asarray(obj, /, *, dtype=None, device=None, copy=None, backend=None): a leaf Tensor.

    A Tensor is returned as is (cast or moved if ``dtype``/``device`` ask for it).
    """
    if isinstance(obj, Tensor):
        out = obj if dtype is None else astype(obj, dtype)
        return out if device is None or device == out.device else out.to_device(device)
    owner = backend_of(obj)
    bk = _on(backend) if backend is not None or owner is None else owner
    try:
        arr = bk.xp.asarray(obj, dtype=bk.dtype(dtype), device=device, copy=copy)
    except Exception:
        refuse_tensors_in(obj, "asarray")  # (the reason, where Tensors are it)
        raise
    if not bk.supports(arr.dtype):
        refuse_tensors_in(obj, "asarray")
    return Tensor(arr, backend=bk)


def _shape(name: str, shape: Any) -> tuple[int, ...]:
    """``shape`` as a tuple of ints (an int alone: one dimension), refused here, naming the function ``name``,
    unless each size is a non-negative integer (the backend's own errors named no function)."""
    try:
        dims = (shape,) if hasattr(shape, "__index__") else tuple(shape)
        out = tuple(operator.index(d) for d in dims if not isinstance(d, bool))
    except TypeError:
        dims, out = (shape,), ()
    if len(out) != len(dims):
        raise TypeError(f"{name}: shape must be an int or a tuple of ints; got {type(shape).__name__} {shape!r:.60}")
    if any(d < 0 for d in out):
        raise ValueError(f"{name}: shape {shape!r:.60} has a negative size; sizes must be 0 or more")
    return out


def zeros(shape: Any, *, dtype: Any = None, device: Any = None, backend: Any = None) -> Tensor:
    """zeros(shape, *, dtype=None, device=None, backend=None): a leaf Tensor of zeros."""
    bk = _on(backend)
    return Tensor(bk.xp.zeros(_shape("zeros", shape), dtype=bk.dtype(dtype), device=device), backend=bk)


def ones(shape: Any, *, dtype: Any = None, device: Any = None, backend: Any = None) -> Tensor:
    """ones(shape, *, dtype=None, device=None, backend=None): a leaf Tensor of ones."""
    bk = _on(backend)
    return Tensor(bk.xp.ones(_shape("ones", shape), dtype=bk.dtype(dtype), device=device), backend=bk)


def empty(shape: Any, *, dtype: Any = None, device: Any = None, backend: Any = None) -> Tensor:
    """empty(shape, *, dtype=None, device=None, backend=None): a leaf Tensor (values unspecified)."""
    bk = _on(backend)
    return Tensor(bk.xp.empty(_shape("empty", shape), dtype=bk.dtype(dtype), device=device), backend=bk)


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None, backend: Any = None) -> Tensor:
    """full(shape, fill_value, *, dtype=None, device=None, backend=None): a leaf Tensor."""
    bk = _on(backend)
    if isinstance(fill_value, Tensor):  # a constant fill (no gradient in it): its value
        fill_value = fill_value._require()
    return Tensor(bk.xp.full(_shape("full", shape), fill_value, dtype=bk.dtype(dtype), device=device), backend=bk)


def _like(x: Any, node_op: str | None, fill: Any, dtype: Any, device: Any) -> Tensor:
    if isinstance(x, Tensor) and dtype is None and device is None and node_op is not None:
        return apply(OPS[node_op], x)  # a graph node: follows x's shape, also for placeholders
    t = x if isinstance(x, Tensor) else Tensor(x)
    xp = t._bk.xp
    if t._value is None and t._remat != State.RELEASED:  # a placeholder (or a node on one): a node, evaluated once fed
        node = apply(OPS["fill_like"], t, fill_value=fill, dtype=None if dtype is None else t._bk.dtype(dtype))
        return node if device is None else node.to_device(device)
    v = t._require()
    if isinstance(fill, Tensor):  # a constant fill (no gradient in it): its value, not the Tensor NumPy would refuse
        fill = fill._require()
    return Tensor(xp.full_like(v, fill, dtype=t._bk.dtype(dtype), device=device), backend=t._bk)


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """zeros_like(x, /, *, dtype=None, device=None); without dtype/device, a node that follows x."""
    return _like(x, "zeros_like", 0, dtype, device)


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """ones_like(x, /, *, dtype=None, device=None); without dtype/device, a node that follows x."""
    return _like(x, "ones_like", 1, dtype, device)


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """full_like(x, /, fill_value, *, dtype=None, device=None): a leaf Tensor (a node on a placeholder)."""
    return _like(x, None, fill_value, dtype, device)


def empty_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Tensor:
    """empty_like(x, /, *, dtype=None, device=None): a leaf Tensor of zeros (a node on a placeholder)."""
    return _like(x, None, 0, dtype, device)


_shape_functions = tuple(getattr(shape_functions, name) for name in shape_functions.__all__)
COMPOSITES = {
    f.__name__: f
    for f in (
        clip,
        astype,
        reshape,
        broadcast_to,
        asarray,
        zeros,
        ones,
        empty,
        full,
        zeros_like,
        ones_like,
        full_like,
        empty_like,
        *_shape_functions,
    )
}
