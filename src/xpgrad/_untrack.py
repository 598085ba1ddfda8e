"""Long-lived graph nodes out of the cyclic garbage collector's way (issue 5: deep graphs).

Tensors never form reference cycles: a node refers to its children (always older nodes), its op,
params, backend and array, none of which refers back to it (its record of its parents, `_cse`, holds
weak references only). The cyclic collector gains nothing by
tracking them, yet every full collection traverses every live node: building and differentiating
a 10^5-step chain spent 1.7 s of 4.7 s in 9 full collections. `untrack` takes nodes off the
collector's lists (CPython's ``PyObject_GC_UnTrack``, which the interpreter itself calls on objects
that cannot be in cycles); reference counting still frees them as before. `_cse` calls it
(`_cse._age`) on nodes that outlived BATCH newer ones, and, where full collections are costly, on
the live nodes a collection would otherwise promote to the oldest generation; each node once.
Elsewhere than CPython it does nothing.

What a user may trip over: a reference cycle the user makes *through* a node (an object set as a node's
``name`` that refers back to the node) is not collected once the node has left the collector's lists;
untracked nodes and their ``children`` tuples are also missing from ``gc.get_objects()`` (objgraph).
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable
from typing import Any

__all__ = ["can_untrack", "untrack"]


def _load() -> Any:
    if sys.implementation.name != "cpython":
        return None
    try:
        import ctypes

        f = ctypes.pythonapi.PyObject_GC_UnTrack
    except (ImportError, AttributeError):
        return None
    f.argtypes = [ctypes.py_object]
    f.restype = None
    return f


_gc_untrack = _load()


def can_untrack() -> bool:
    """Whether `untrack` does anything here (CPython)."""
    return _gc_untrack is not None


def untrack(objs: Iterable[Any]) -> None:
    """Take each object of ``objs`` off the cyclic collector's lists (an untracked one stays so)."""
    if _gc_untrack is not None:
        deque(map(_gc_untrack, objs), maxlen=0)  # the loop in C: ~0.27 us an object, the ctypes call
