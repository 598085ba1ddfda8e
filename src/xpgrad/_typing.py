"""The types of xpgrad's public signatures, for type checkers and IDEs (nothing here runs per call).

A function's array arguments are `TensorLike`: a Tensor, an array of a supported backend, or a Python
number. Backends' arrays share no base class, so `Array` is the part of the array API every one of them
has (``shape`` and ``dtype``); dtypes and devices are each backend's own objects, hence `Any`.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

from ._tensor import Tensor

__all__ = ["Array", "Axis", "DTypeLike", "Device", "Key", "TensorLike"]


class Array(Protocol):
    """An array of a supported backend (``numpy.ndarray``, ``cupy.ndarray``, array-api-strict's ``Array``)."""

    @property
    def shape(self) -> tuple[int | None, ...]: ...

    @property
    def dtype(self) -> Any: ...


TensorLike: TypeAlias = Tensor | Array | bool | int | float | complex
"""An array argument of xpgrad's functions and operators: a Tensor, a backend array or a Python number."""

Axis: TypeAlias = int | tuple[int, ...] | list[int] | None
"""A reduction's ``axis``: one axis, several (a tuple; a list as PyTorch takes it) or None for all."""

DTypeLike: TypeAlias = Any
"""A dtype: the backend's dtype object (``numpy.float32``) or its standard name (``'float32'``)."""

Device: TypeAlias = Any
"""A device object of the Tensor's backend."""

Key: TypeAlias = Any
"""A basic index (``t[key]``): ints, slices, None, ``...``, or a tuple of them."""
