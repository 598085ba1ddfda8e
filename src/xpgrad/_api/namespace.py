"""xpgrad as an array-API namespace: one module object per backend, returned by `Tensor.__array_namespace__`.

Design: a Tensor's dtype *is* its backend's dtype object (``numpy.float64``, ``array_api_strict.float64``),
so a namespace must hand out the dtypes of the Tensors it serves. `namespace(backend)` therefore builds,
once per backend, a module ``xpgrad.namespace.<backend>`` holding

- every xpgrad function (differentiable, backend taken from the Tensor arguments);
- the creation functions, making leaves on *this* backend by default;
- the backend's dtype objects and constants, and ``finfo iinfo isdtype can_cast`` and
  ``__array_namespace_info__``, which accept Tensors and delegate to the backend's namespace;
- ``result_type``, which answers with xpgrad's own promotion (`_dtypes.promote`), the dtype its ops produce.

So ``array_api_compat.array_namespace(t)`` returns the module for ``t``'s backend, and code written with
``xp.`` calls builds differentiable graphs.
"""

from __future__ import annotations

import functools
import types
from typing import Any

from .. import _dtypes
from .._core.tensor import Tensor
from ..backends import Backend, get_backend
from . import linalg as _linalg
from .composites import COMPOSITES
from .functions import public_functions

__all__ = ["namespace"]

API_VERSION = "2024.12"
_DTYPES = "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128".split()
_CREATION = ("asarray", "zeros", "ones", "empty", "full", "arange", "linspace", "eye")
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


def for_tensor(backend: Backend, *, api_version: str | None = None) -> types.ModuleType:
    """`Tensor.__array_namespace__`: `namespace` of ``backend``, refusing an ``api_version`` newer than xpgrad's."""
    if api_version is not None and api_version > API_VERSION:
        raise ValueError(f"xpgrad implements the array API {API_VERSION}; api_version={api_version!r} is newer")
    return namespace(backend)


def _build(bk: Backend) -> types.ModuleType:
    xp = bk.xp
    mod = types.ModuleType(f"xpgrad.namespace.{bk.name}", f"xpgrad's array-API namespace over {bk.name}.")
    ns = mod.__dict__
    ns["__array_api_version__"] = API_VERSION
    ns["__xpgrad_backend__"] = bk
    ns.update(public_functions(bk))
    for name in _CREATION:
        make: Any = COMPOSITES[name]  # (asarray, zeros...: each takes backend=)
        ns[name] = functools.partial(make, backend=bk)
    for name in _DTYPES:
        if hasattr(xp, name):
            ns[name] = getattr(xp, name)
    for name in ("e", "inf", "nan", "pi", "newaxis"):
        ns[name] = getattr(xp, name)
    ns["isdtype"] = lambda dtype, kind: xp.isdtype(_dtype_of(dtype), kind)
    ns["finfo"] = lambda t: xp.finfo(_dtype_of(t))
    ns["iinfo"] = lambda t: xp.iinfo(_dtype_of(t))
    ns["result_type"] = functools.partial(_result_type, bk)
    ns["can_cast"] = lambda from_, to: xp.can_cast(_dtype_of(from_), to)
    ns["__array_namespace_info__"] = xp.__array_namespace_info__
    ns["Tensor"] = Tensor
    ns["linalg"] = _linalg_module(bk)
    ns["__getattr__"] = functools.partial(_missing, bk.name)
    return mod


def _linalg_module(bk: Backend) -> types.ModuleType:
    """The namespace's ``linalg`` extension: `xpgrad.linalg`'s functions (each takes its backend from its arrays)."""
    mod = types.ModuleType(f"xpgrad.namespace.{bk.name}.linalg", "xpgrad's linalg extension over {bk.name}.")
    mod.__dict__.update({name: getattr(_linalg, name) for name in _linalg.__all__})
    return mod


def _result_type(bk: Backend, *arrays_and_dtypes: Any) -> Any:
    """The dtype xpgrad's ops give these arrays, dtypes and (weak) Python numbers: `_dtypes.promote`, not the
    backend's ``result_type``, which disagrees across kinds (int64 with float32: xpgrad's ``i * f`` is float32,
    NumPy says float64, array-api-strict refuses; the standard leaves it undefined)."""
    import array_api_compat

    dtypes: list[Any] = []
    scalars: list[Any] = []
    device = None
    for a in arrays_and_dtypes:
        if isinstance(a, Tensor):
            if a.dtype is None:
                raise TypeError(
                    "result_type: got a placeholder of unknown dtype; declare it with placeholder(dtype=...) or "
                    "feed it first"
                )
            dtypes.append(a.dtype)
            device = a.device if device is None else device
        elif type(a) in (bool, int, float, complex):
            scalars.append(a)
        else:
            array = not isinstance(a, type) and array_api_compat.is_array_api_obj(a)  # (NumPy's dtypes are classes)
            dtypes.append(a.dtype if array else a)
    if not dtypes:
        raise TypeError("result_type: pass at least one array or dtype (Python numbers alone have no dtype)")
    try:
        return _dtypes.promote(bk, dtypes, scalars, device)[0]
    except (TypeError, ValueError) as e:  # not a dtype of this backend; a pair its table leaves out
        got = ", ".join(repr(d) for d in dtypes)
        raise TypeError(f"result_type: expected arrays or dtypes of backend {bk.name!r}; got {got} ({e})") from e


def _missing(backend: str, name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"xpgrad.namespace({backend!r}) has no {name!r}: xpgrad provides the standard's elementwise functions, "
        "where, reductions (sum prod mean max min var std all any), astype, reshape, broadcast_to, basic "
        "indexing, linear algebra (matmul tensordot vecdot matrix_transpose, and the linalg extension), manipulation "
        "(permute_dims expand_dims squeeze concat stack flip roll take), cumulative_sum, cumulative_prod, argmax, "
        "argmin and creation functions; "
        "compute the rest on t.value, or add an op to xpgrad's table"
    )
