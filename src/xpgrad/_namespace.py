"""xpgrad as an array-API namespace: one module object per backend, returned by `Tensor.__array_namespace__`.

Design: a Tensor's dtype *is* its backend's dtype object (``numpy.float64``, ``array_api_strict.float64``),
so a namespace must hand out the dtypes of the Tensors it serves. `namespace(backend)` therefore builds,
once per backend, a module ``xpgrad.namespace.<backend>`` holding

- every xpgrad function (differentiable, backend taken from the Tensor arguments);
- the creation functions, making leaves on *this* backend by default;
- the backend's dtype objects and constants, and ``finfo iinfo isdtype result_type can_cast`` and
  ``__array_namespace_info__``, which accept Tensors and delegate to the backend's namespace.

So ``array_api_compat.array_namespace(t)`` returns the module for ``t``'s backend, and code written with
``xp.`` calls builds differentiable graphs.
"""

from __future__ import annotations

import functools
import types
from typing import Any

from ._tensor import Tensor
from .backends import Backend, get_backend

__all__ = ["namespace"]

API_VERSION = "2024.12"
_DTYPES = "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128".split()
_CREATION = ("asarray", "zeros", "ones", "empty", "full")
_modules: dict[str, types.ModuleType] = {}


def _dtype_of(x: Any) -> Any:
    return x.dtype if isinstance(x, Tensor) else x


def namespace(backend: Any = None) -> types.ModuleType:
    """The array-API namespace of xpgrad over ``backend`` (a name, module or Backend; default: the default)."""
    bk: Backend = get_backend(backend)
    mod = _modules.get(bk.name)
    if mod is None:
        mod = _modules[bk.name] = _build(bk)
    return mod


def _build(bk: Backend) -> types.ModuleType:
    import xpgrad

    from ._functions import public_functions

    xp = bk.xp
    mod = types.ModuleType(f"xpgrad.namespace.{bk.name}", f"xpgrad's array-API namespace over {bk.name}.")
    ns = mod.__dict__
    ns["__array_api_version__"] = API_VERSION
    ns["__xpgrad_backend__"] = bk
    ns.update(public_functions(bk))
    for name in _CREATION:
        ns[name] = functools.partial(getattr(xpgrad, name), backend=bk)
    for name in _DTYPES:
        if hasattr(xp, name):
            ns[name] = getattr(xp, name)
    for name in ("e", "inf", "nan", "pi", "newaxis"):
        ns[name] = getattr(xp, name)
    ns["isdtype"] = lambda dtype, kind: xp.isdtype(_dtype_of(dtype), kind)
    ns["finfo"] = lambda t: xp.finfo(_dtype_of(t))
    ns["iinfo"] = lambda t: xp.iinfo(_dtype_of(t))
    ns["result_type"] = lambda *args: xp.result_type(*map(_dtype_of, args))
    ns["can_cast"] = lambda from_, to: xp.can_cast(_dtype_of(from_), to)
    ns["__array_namespace_info__"] = xp.__array_namespace_info__
    ns["Tensor"] = Tensor
    ns["__getattr__"] = functools.partial(_missing, bk.name)
    return mod


def _missing(backend: str, name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"xpgrad.namespace({backend!r}) has no {name!r}: xpgrad provides the standard's elementwise functions, "
        "where, reductions (sum prod mean max min var std all any), astype, reshape, broadcast_to, basic "
        "indexing and creation functions; compute the rest on t.value, or add an op to xpgrad's table"
    )
