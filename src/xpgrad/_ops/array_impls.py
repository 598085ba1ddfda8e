"""Array-level implementations of the ops that are not one namespace call.

Each takes the namespace ``xp`` first and uses only standard functions, so it runs on any backend.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat

from ..backends import backend_of

__all__ = ["broadcast_like", "expand", "fit", "imag", "move"]


def fit(xp: Any, g: Any, ref: Any) -> Any:
    """Sum ``g`` down to ``ref``'s shape (undoing broadcasting) and cast to a floating ``ref``'s dtype."""
    shape = tuple(ref.shape)
    if tuple(g.shape) != shape:
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1)
        if axes:
            g = xp.sum(g, axis=axes, dtype=g.dtype)  # integers too keep their dtype (NumPy widens int32)
        g = xp.reshape(g, shape)
    return _cast_like(xp, g, ref)


def _cast_like(xp: Any, g: Any, ref: Any) -> Any:
    """``g`` in a floating or complex ``ref``'s dtype. A complex ``g`` gives a real ``ref`` its real part: the
    adjoint of the real-to-complex cast, JAX's convention (docs/complex.md)."""
    if g.dtype != ref.dtype and xp.isdtype(ref.dtype, ("real floating", "complex floating")):
        if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(ref.dtype, "complex floating"):
            g = xp.real(g)
        if g.dtype != ref.dtype:
            g = xp.astype(g, ref.dtype)
    return g


def broadcast_like(xp: Any, a: Any, ref: Any) -> Any:
    """The adjoint of `fit`: broadcast ``a`` to ``ref``'s shape, in a floating or complex ``ref``'s dtype."""
    a = _cast_like(xp, a, ref)
    return a if tuple(a.shape) == tuple(ref.shape) else _broadcast(xp, a, ref)


def _broadcast(xp: Any, a: Any, ref: Any) -> Any:
    """``a`` broadcast to ``ref``'s shape, laid out as its backend lays out ``ref`` (`Backend.broadcast`: Dask's
    chunks, where ``xp.broadcast_to`` makes one chunk of the whole shape)."""
    bk = backend_of(ref)
    f = bk.broadcast if bk is not None else None
    return xp.broadcast_to(a, tuple(ref.shape)) if f is None else f(a, ref)


def expand(xp: Any, g: Any, x: Any, axis: Any, keepdims: bool, mean: bool) -> Any:
    """The adjoint of ``sum(x, axis, keepdims)`` (divided by the count when ``mean``)."""
    nd = x.ndim
    axes = range(nd) if axis is None else [a % nd for a in ((axis,) if isinstance(axis, int) else axis)]
    if not keepdims:
        g = xp.reshape(g, tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    out = _broadcast(xp, g, x)
    if mean:
        out = out / math.prod(x.shape[i] for i in axes)
    return out


def imag(xp: Any, x: Any) -> Any:
    """The imaginary part of ``x``; of a real ``x``, zeros of its own dtype on every backend (NumPy's, JAX's and
    PyTorch's answer: the standard defines ``imag`` for complex arrays only, and array-api-strict refuses others)."""
    return xp.imag(x) if xp.isdtype(x.dtype, "complex floating") else xp.zeros_like(x)


def move(xp: Any, a: Any, backend: Any, device: Any) -> Any:
    """``a`` on ``backend`` (whose namespace is ``xp``) and ``device``."""
    src = backend_of(a)
    assert src is not None  # (a node's value: an array of a backend)
    if src is backend:
        return a if device is None else array_api_compat.to_device(a, device)
    return backend.from_numpy(src.to_numpy(a), device)
