"""Backend registry: names -> `Backend` records, the default backend, and the CPU fallback.

A backend is a lookup, not logic: each module beside this one says how to load one library's
array-API namespace and how to move arrays to and from host NumPy. Nothing here is imported at
``import xpgrad`` time beyond NumPy's record, and CUDA is probed only when CuPy is asked for.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import Any

from .._errors import BackendUnavailableError
from . import _base
from . import array_api_strict as _strict
from . import cupy as _cupy
from . import dask as _dask
from . import jax as _jax
from . import numpy as _numpy
from . import torch as _torch
from ._base import Backend

__all__ = [
    "Backend",
    "available_backends",
    "backend_named",
    "backend_of",
    "default_backend",
    "get_backend",
    "set_default_backend",
]

BACKENDS: list[ModuleType] = [_numpy, _cupy, _strict, _dask, _torch, _jax]
"""The backend modules, in the order `available_backends` lists them. Each has ``NAME``, ``probe()`` (None
when usable, else why and what to install), ``load()`` (its `Backend`, with the hooks it needs),
``is_module(mod)`` (whether a module a user holds names it) and optionally ``ROOTS`` (the top-level packages
whose array types it owns; default: its name). A new backend is a module and one line here."""
_MODULES: dict[str, ModuleType] = {m.NAME: m for m in BACKENDS}
_ROOTS: dict[str, str] = {root: m.NAME for m in BACKENDS for root in getattr(m, "ROOTS", (m.NAME,))}
BACKEND_NAMES = (*_MODULES, "auto")
_loaded: dict[str, Backend] = {}
_by_type: dict[type, Backend] = {}
_default: str | None = None


_loading = threading.RLock()
"""Held while a Backend is made: two threads meeting a library's first array at once must get the same
Backend (two 'numpy' Backends refused each other's operands: "different backends ('numpy' and 'numpy')")."""


def _load(name: str, env: str | None = None) -> Backend:
    """The Backend ``name``, made on first use; ``env``: the value of $XPGRAD_BACKEND that chose it."""
    bk = _loaded.get(name)
    if bk is not None:
        return bk
    with _loading:
        bk = _loaded.get(name)
        if bk is not None:  # made by another thread meanwhile
            return bk
        mod = _MODULES[name]
        reason = mod.probe()
        if reason is not None:
            if env is not None:  # no backend= was passed: say what chose it, and how to change that
                raise BackendUnavailableError(
                    f"backend {name!r}, chosen by the environment variable XPGRAD_BACKEND={env!r}, is "
                    f"unavailable: {reason}. Set XPGRAD_BACKEND=auto to fall back to NumPy when no GPU is "
                    "usable, unset it, or call xpgrad.set_default_backend(...)"
                )
            hint = getattr(mod, "HINT", "")
            raise BackendUnavailableError(f"backend {name!r} is unavailable: {reason}.{hint}")
        bk = _loaded[name] = mod.load()
        return bk


def _resolve_name(spec: str) -> str:
    if spec == "auto":
        return "cupy" if _cupy.probe() is None else "numpy"
    if spec in _MODULES or spec in _loaded:  # (the latter: another namespace, by the name `t.backend` gave)
        return spec
    for mod in BACKENDS:  # a module's name: 'jax.numpy', 'array_api_compat.torch'
        if mod.is_module(_Named(spec)):
            return str(mod.NAME)
    raise ValueError(f"unknown backend {spec!r}; valid backends are {', '.join(map(repr, BACKEND_NAMES))}")


class _Named:
    """A stand-in for a module of that name (what `is_module` reads), without importing it."""

    def __init__(self, name: str) -> None:
        self.__name__ = name


def _generic(xp: ModuleType) -> Backend:
    """A Backend for any other namespace array-api-compat understands."""
    import numpy as np

    def to_numpy(x: Any) -> Any:
        try:
            return np.from_dlpack(x)
        except Exception:
            return np.asarray(x)

    name = getattr(xp, "__name__", repr(xp))
    with _loading:
        bk = _loaded.get(name)
        if bk is None:
            bk = _loaded[name] = Backend(
                name=name,
                xp=xp,
                owns=lambda x: _namespace_name(x) == name,
                to_numpy=to_numpy,
                from_numpy=lambda a, device=None: xp.asarray(a, device=device),
            )
    return bk


def _namespace_name(x: Any) -> str | None:
    import array_api_compat

    try:
        return array_api_compat.array_namespace(x).__name__
    except TypeError:
        return None


def get_backend(spec: str | ModuleType | Backend | None = None) -> Backend:
    """The Backend for a name ('numpy', 'cupy', 'array_api_strict', 'torch', 'jax', 'auto'), a namespace module
    (``numpy``, ``torch``, ``jax.numpy``, ``array_api_compat.torch``...), or None (the default)."""
    if isinstance(spec, Backend):
        return spec
    if spec is None:
        spec = default_backend()
        if _default is None and spec not in _loaded:  # chosen by $XPGRAD_BACKEND (or NumPy, without it)
            return _load(spec, os.environ.get("XPGRAD_BACKEND") or None)
    if isinstance(spec, str):
        return _load(_resolve_name(spec))
    if isinstance(spec, ModuleType):
        own = spec.__dict__.get("__xpgrad_backend__")  # xpgrad.namespace(...): the backend under it
        if own is not None:
            return own
        for name, mod in _MODULES.items():
            if mod.is_module(spec):
                return _load(name)
        import array_api_compat

        if hasattr(spec, "__array_api_version__") or array_api_compat.is_array_api_obj(spec):
            return _generic(spec)  # type: ignore[arg-type]  # (a module: is_array_api_obj narrowed it to arrays)
    raise ValueError(
        f"unknown backend {spec!r}; valid backends are {', '.join(map(repr, BACKEND_NAMES))} "
        "or an array-API namespace module"
    )


def backend_named(name: str) -> Backend:
    """The Backend a pickled one names: a backend of the registry, or any other namespace by its module name."""
    if name in _MODULES:
        return _load(name)
    import importlib

    return get_backend(importlib.import_module(name))


_base.lookup = backend_named  # (how a pickled Backend is loaded: by name, from this registry)


def backend_of(x: Any) -> Backend | None:
    """The Backend owning array ``x``, or None when ``x`` is no array of a supported library."""
    tp = type(x)
    bk = _by_type.get(tp)
    if bk is not None:
        return bk
    root = _ROOTS.get(tp.__module__.split(".")[0])
    if root is not None:
        bk = _load(root)
    elif root in ("builtins", "xpgrad"):  # xpgrad's own Tensors are not backend arrays
        return None
    else:
        import array_api_compat

        if not array_api_compat.is_array_api_obj(x):
            return None
        bk = _generic(array_api_compat.array_namespace(x))
    if bk.owns(x):
        _by_type[tp] = bk
        return bk
    return None


def set_default_backend(spec: str | ModuleType) -> None:
    """Make ``spec`` the backend of new Tensors built from Python values (checked now)."""
    global _default
    if isinstance(spec, str) and spec == "auto":
        _default = "auto"
        return
    _default = get_backend(spec).name


def default_backend() -> str:
    """The name of the backend new Tensors use: set_default_backend, else $XPGRAD_BACKEND, else 'numpy'.

    'auto' is resolved here: 'cupy' when a CUDA device is usable, else 'numpy'.
    """
    if _default is not None:
        return _resolve_name(_default)
    spec = os.environ.get("XPGRAD_BACKEND") or "numpy"
    try:
        return _resolve_name(spec)
    except (ValueError, KeyError) as e:
        raise type(e)(f"the environment variable XPGRAD_BACKEND={spec!r}: {e}") from None


def available_backends() -> list[str]:
    """Names of the backends usable on this machine (probing CUDA at most once)."""
    return [name for name, mod in _MODULES.items() if mod.probe() is None]
