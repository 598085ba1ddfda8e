"""Common-subexpression elimination as graphs are built (hash-consing), in one dict lookup.

`_build.apply` asks `find` before making a node and calls `remember` after (`_build.apply_binary`
inlines `key` and `remember` for two operands without params: change them together). Two op nodes are the
same when they have the same op, the same children *by identity* (Python numbers met in an
expression by type and bit pattern, so ``-0.0`` is not ``0.0`` and ``1`` is not ``1.0`` or
``True``) and equal params. Leaves and placeholders are never merged: only `apply` builds nodes.

Safety:
- The table holds nodes through plain weak references (no callback: a callback per node was a
  third of the cost of building one, issue 5), so a graph nobody uses is freed as before. A dead
  entry stays until the table has doubled since the last sweep, then `purge` drops every dead entry
  at once (amortized O(1) a node; the table holds at most about twice the live entries, +4096).
- Keys hold children's ``id``s. A node keeps its children alive, so while its node lives no id in
  its key can be reused; an entry whose node died is dead (its weak reference returns None), so a
  reused id meets a dead entry and misses; `find` also checks the children by identity.
- Merging never changes a result: the found node computes exactly what the new one would.
"""

from __future__ import annotations

import struct
import weakref
from contextlib import AbstractContextManager
from typing import Any

from ._flags import off
from ._tensor import Tensor
from ._untrack import untrack

__all__ = ["disabled", "find", "remember", "size"]


_table: dict[Any, weakref.ReferenceType[Tensor]] = {}
_on = [True]
_limit = [4096]
UNTRACK_ABOVE = 1 << 17
"""Live graphs this large have their nodes untracked at each sweep: below it, full collections cost
little, and graphs built and dropped again and again (training steps of 10^4 nodes) would pay for
untracking nodes that die soon after (issue 5: B3 at 10^4 steps, 1.0x -> 1.4x PyTorch's time)."""
"""`remember` sweeps dead entries out once the table holds more entries than this."""


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
        # each value after its type: keys that collide compare the types first, so a backend's dtype is
        # never compared with another backend's (array-api-strict warns on that comparison)
        k = (*k, tuple((name, type(v), v) for name, v in params.items()))
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
    _table[k] = weakref.ref(node)
    if len(_table) > _limit[0]:
        purge()


def purge() -> None:
    """Drop the entries whose node has died, and let the table grow to twice what is left.

    When more than `UNTRACK_ABOVE` nodes survive, they (and their entries) leave the cyclic garbage
    collector's lists (`_untrack`; Tensors never form cycles)."""
    dead = []
    live: list[Any] = []
    big = len(_table) >= UNTRACK_ABOVE  # only then can the survivors be a large live graph
    for k, ref in list(_table.items()):  # a snapshot: another thread may build (and insert) meanwhile
        node = ref()
        if node is None:
            dead.append((k, ref))
        elif big:
            live += (node, node.children, ref)
    for k, ref in dead:
        if _table.get(k) is ref:  # not replaced since by a live entry (a race costs a merge, never a result)
            _table.pop(k, None)  # another thread's sweep may have dropped it meanwhile
    if len(live) >= 3 * UNTRACK_ABOVE:  # a large live graph: its old nodes leave the collector's lists
        untrack(live)
    _limit[0] = 2 * len(_table) + 4096


def size() -> int:
    """How many live nodes the table knows (for tests and figures)."""
    purge()
    return len(_table)


def disabled() -> AbstractContextManager[None]:
    """Build without merging (to measure what CSE saves, or to get distinct nodes on purpose)."""
    return off(_on)
