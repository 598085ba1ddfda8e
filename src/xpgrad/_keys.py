"""Params as keys: each value with its exact type, floats by their bits.

Building memoizes decisions on an op's params, and merging compares the params of equal nodes: both need
``(1,)``, ``(True,)`` and ``(1.0,)`` told apart (equal tuples with equal hashes, but different params), and
``0.0`` from ``-0.0``.
"""

from __future__ import annotations

import numbers
import struct
from typing import Any

__all__ = ["EXACT", "params_key", "typed"]


def typed(v: Any) -> Any:
    """``v`` with its exact type, a tuple's items each with theirs: ``(1,)``, ``(True,)`` and ``(1.0,)`` are
    equal tuples with equal hashes, but different params (a shape, an axis). Params are shallow tuples.
    A float or complex number keys as its bits: ``0.0 == -0.0``, but ``full_like(x, -0.0)`` is not
    ``full_like(x, 0.0)`` (1 / it is -inf), and a nan, never equal to itself, equals the same nan."""
    t = type(v)
    if t is tuple:
        return (tuple, tuple([typed(x) for x in v]))
    if t is float:
        return (t, struct.pack("<d", v))
    if t is complex:
        return (t, struct.pack("<dd", v.real, v.imag))
    if t not in EXACT and isinstance(v, numbers.Complex) and not isinstance(v, numbers.Integral):
        return (t, repr(v))  # another library's float (numpy.float32(-0.0)): its repr tells the signs apart
    return (t, v)


EXACT = frozenset((type(None), bool, int, str, type(Ellipsis)))
"""Param types `typed` keys as themselves (not floats: 0.0 == -0.0, and nan != nan)."""


def params_key(params: dict[str, Any]) -> tuple[Any, ...]:
    """``params`` as a key: each value after its exact type (`typed`), so keys that collide compare the
    types first and a backend's dtype is never compared with another backend's (array-api-strict warns on
    that comparison). May hold an unhashable value: the caller hashes."""
    return tuple([(name, typed(v)) for name, v in params.items()])
