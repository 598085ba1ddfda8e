"""Common-subexpression elimination as graphs are built (hash-consing), in one dict lookup.

`_build.apply` asks `find` before making a node and calls `remember` after (`_build.apply_binary`
inlines `key` and `remember` for two operands without params: change them together). Two op nodes are the
same when they have the same op, the same children *by identity* (Python numbers met in an
expression by type and bit pattern, so ``-0.0`` is not ``0.0`` and ``1`` is not ``1.0`` or
``True``) and equal params. Leaves and placeholders are never merged: only `apply` builds nodes.

Safety:
- The table holds nodes through weak references, so a graph nobody uses is freed as before; the
  entry goes when its node goes (weakref callbacks run before a node's children are released).
- Keys hold children's ``id``s. A node keeps its children alive, so while its entry exists no id
  in its key can be reused; `find` still checks the children by identity, so a reused id can
  never return a wrong node.
- Merging never changes a result: the found node computes exactly what the new one would.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._tensor import Tensor

__all__ = ["disabled", "find", "remember", "size"]


class _Ref(weakref.ref):  # type: ignore[type-arg]
    """A weak reference that knows its table key (no closure per node: cheaper than a lambda)."""

    __slots__ = ("key",)


_table: dict[Any, _Ref] = {}
_on = [True]


def _const_part(v: Any) -> Any:
    # equal floats differ only as 0.0 / -0.0, and nan never equals itself: key those by their text;
    # every other number keys as itself (1 == 1.0 == True collide here; `find` tells them apart)
    return repr(v) if v != v or v == 0 else v


def key(op: Any, children: list[Tensor], params: dict[str, Any]) -> Any:
    """The merge key of ``op(*children, **params)``, or None when it cannot be hashed."""
    if not _on[0]:
        return None
    if len(children) == 2 and not params:  # the common binary case, without a list (issue 5: per-op cost)
        a, b = children
        return (op.name, _const_part(a._value) if a._const else id(a), _const_part(b._value) if b._const else id(b))
    k = (op.name, *[_const_part(c._value) if c._const else id(c) for c in children])  # atoms only: GC-untracked
    if params:
        k = (*k, tuple(params.items()))
        try:
            hash(k)
        except TypeError:  # an unhashable parameter (a list axis...): no merging for this node
            return None
    return k


def _same_const(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return struct.pack("<d", a) == struct.pack("<d", b)
    if type(a) is complex:
        return struct.pack("<dd", a.real, a.imag) == struct.pack("<dd", b.real, b.imag)
    return bool(a == b)


def find(k: Any, children: list[Tensor]) -> Tensor | None:
    """The live node with key ``k`` whose children are ``children`` (constants: same type and bits)."""
    ref = _table.get(k)
    if ref is None:
        return None
    node = ref()
    if node is None:
        return None
    for a, b in zip(node.children, children, strict=True):
        if a is not b and not (a._const and b._const and _same_const(a._value, b._value)):
            return None
    return node


def remember(k: Any, node: Tensor) -> None:
    ref = _Ref(node, _forget)
    ref.key = k
    _table[k] = ref


def _forget(ref: _Ref) -> None:
    if _table.get(ref.key) is ref:
        del _table[ref.key]


def size() -> int:
    """How many live nodes the table knows (for tests and figures)."""
    return len(_table)


@contextmanager
def disabled() -> Iterator[None]:
    """Build without merging (to measure what CSE saves, or to get distinct nodes on purpose)."""
    prev = _on[0]
    _on[0] = False
    try:
        yield
    finally:
        _on[0] = prev
