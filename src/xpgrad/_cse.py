"""Common-subexpression elimination as graphs are built (hash-consing), in one dict lookup.

`_build.apply` asks `find` before making a node and calls `remember` after (`_build.apply_binary`
inlines `key` and `remember` for two operands without params: change them together). Two op nodes are the
same when they have the same op, the same children *by identity* (Python numbers met in an
expression by type and bit pattern, so ``-0.0`` is not ``0.0`` and ``1`` is not ``1.0`` or
``True``) and equal params. Leaves and placeholders are never merged: only `apply` builds nodes.

Safety:
- The table holds nodes through plain weak references (no callback: a callback per node was a
  third of the cost of building one, issue 5), so a graph nobody uses is freed as before. New
  entries go to `_table`; `grown` drops the dead among its oldest ones and moves the live ones to
  `_old`, whose dead entries are dropped when it has doubled since its last sweep (amortized O(1) a
  node; the tables hold at most about twice the live entries, + 3 * BATCH).
- Keys hold children's ``id``s. A node keeps its children alive, so while its node lives no id in
  its key can be reused; an entry whose node died is dead (its weak reference returns None), so a
  reused id meets a dead entry and misses; `find` also checks the children by identity.
- Merging never changes a result: the found node computes exactly what the new one would.
"""

from __future__ import annotations

import gc
import os
import struct
import weakref
from contextlib import AbstractContextManager
from itertools import islice
from time import perf_counter
from typing import Any

from ._flags import off
from ._tensor import Tensor
from ._untrack import can_untrack, untrack

__all__ = ["disabled", "find", "remember", "size"]


_table: dict[Any, weakref.ReferenceType[Tensor]] = {}
_on = [True]
BATCH = 1 << 12
"""New entries go to `_table`; once it holds 2 * BATCH, its oldest BATCH entries leave it (`grown`)."""
_old: dict[Any, weakref.ReferenceType[Tensor]] = {}
"""Entries whose node outlived BATCH newer ones: a graph that is kept. These nodes, their entries and
this dict itself are off the cyclic collector's lists (`_untrack`; Tensors never form cycles), so a
full collection no longer traverses a live graph node by node (issue 5: B3 at 10^6 steps spent half
its time there). Graphs built and dropped again and again (training steps, B2) die in `_table` and
are never touched."""
_limit = [2 * BATCH]
_sweep_at = [4096]
"""`grown` sweeps the dead entries out of `_old` once it holds more entries than this."""


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


def lookup(k: Any) -> weakref.ReferenceType[Tensor] | None:
    ref = _table.get(k)
    return _old.get(k) if ref is None else ref


def find(k: Any, children: list[Tensor]) -> Tensor | None:
    """The live node with key ``k`` whose children are ``children`` (constants: same type and bits)."""
    ref = lookup(k)
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
    _table.pop(k, None)  # a dead entry keeps its place in the dict's order: the new one goes last
    _table[k] = weakref.ref(node)
    if len(_table) > _limit[0]:
        grown()


def grown() -> None:
    """`_table` passed `_limit`: its oldest BATCH entries leave it (`_age`)."""
    _age(BATCH)


def _age(n: int) -> None:
    """The oldest ``n`` entries of `_table` leave it: those whose node is alive move to `_old`,
    untracked with their nodes; `_old` is swept when it has doubled since its last sweep.

    Safe from several threads (it works on snapshots, and every step may be done twice); not
    re-entered from the collector's hook (`_busy`), which an allocation here may run."""
    if _busy[0]:
        return
    _busy[0] = True
    try:
        items = _snapshot(_table, n)
        moved = {}
        live: list[Any] = []
        for k, ref in items:
            if _table.get(k) is ref:  # another thread may have taken it, or a new entry replaced it
                _table.pop(k, None)
            node = ref()
            if node is not None:
                moved[k] = ref
                live += (node, node.children, ref)
        _old.update(moved)  # (this makes `_old` tracked again)
        live.append(_old)
        untrack(live)
        if len(_old) > _sweep_at[0]:
            _sweep_old()
    finally:
        _busy[0] = False


_busy = [False]
if hasattr(os, "register_at_fork"):  # a fork while another thread was in `_age`: the child has no such thread
    os.register_at_fork(after_in_child=lambda: _busy.__setitem__(0, False))


def _snapshot(table: dict[Any, Any], n: int | None = None) -> list[tuple[Any, Any]]:
    """The first ``n`` (default: all) items of ``table`` as a list. Copying runs in C, but an
    allocation there may start a collection whose callbacks (Python code) let another thread insert:
    then the copy is tried again (issue 5: never an error out of an ordinary ``x * c``)."""
    for _ in range(16):
        try:
            return list(table.items() if n is None else islice(table.items(), n))
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return []  # the table keeps changing: this round is skipped, nothing is lost


KEEP_YOUNG = 64
"""Nodes this new are left to the collector even when full collections are costly: the temporaries
of the expression being built die before the collection that would promote them."""
COSTLY_S = 0.015
"""A full collection slower than this makes the nodes the next collections would promote leave the
collector's lists first (`_before_collection`)."""
_full = [0.0, 0.0]  # when the running full collection started; how long the last one took


def _before_collection(phase: str, info: dict[str, int]) -> None:
    """A `gc.callbacks` entry: before a collection of generation 1 or 2, when full collections are
    costly, the live nodes of `_table` but the newest KEEP_YOUNG leave the collector's lists (`_age`).

    Why (issue 5): a node that survives a generation-1 collection is promoted to the oldest
    generation, and CPython runs a full collection once the promoted objects reach a quarter of that
    generation. In a process holding many objects (the benchmark's, with PyTorch and JAX imported, took
    0.12 s a full collection) every deep chain of 10^4 steps set off several: B3 spent half its time
    there (21 -> 10 us an op). Untracking costs ~0.75 us a node, so it is done only where a full
    collection costs more than that over the ~17,500 nodes promoted between two of them (COSTLY_S):
    never in a small process building small graphs. It never raises."""
    try:
        gen = info["generation"]
        if gen == 0:
            return
        if phase == "start":
            if gen == 2:
                _full[0] = perf_counter()
            if _full[1] > COSTLY_S and len(_table) > KEEP_YOUNG:
                _age(len(_table) - KEEP_YOUNG)
        elif gen == 2:
            _full[1] = perf_counter() - _full[0]
    except Exception:  # at interpreter exit the module's globals may be gone; nothing to do then
        return


if can_untrack():
    gc.callbacks.append(_before_collection)


def _sweep_old() -> None:
    """Sweep `_old`, and let it grow to twice what is left before the next sweep."""
    _sweep(_old)
    _sweep_at[0] = 2 * len(_old) + 4096


def _sweep(table: dict[Any, weakref.ReferenceType[Tensor]]) -> None:
    """Drop the entries of ``table`` whose node has died."""
    for k, ref in _snapshot(table):  # another thread may build (and insert) meanwhile
        if ref() is None and table.get(k) is ref:  # not replaced since by a live entry
            table.pop(k, None)  # another thread's sweep may have dropped it meanwhile


def size() -> int:
    """How many live nodes the tables know (for tests and figures)."""
    _sweep(_table)
    _sweep_old()
    return len(_table) + len(_old)


def disabled() -> AbstractContextManager[None]:
    """Build without merging (to measure what CSE saves, or to get distinct nodes on purpose)."""
    return off(_on)
