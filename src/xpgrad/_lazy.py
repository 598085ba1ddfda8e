"""Evaluating a freshly built gradient graph in one go, freeing each intermediate after its last use.

Performance (issue 5): built eagerly, every node of a gradient graph keeps its array for as long as
the graph lives, so differentiating ``sum(f(x, y))`` on 10^7 elements held ~20 arrays where a
hand-written gradient holds ~6 (and paid for the fresh memory in page faults). For large arrays
`grad` therefore builds the whole gradient graph first, then evaluates it here in creation order
(which is topological) and drops the value of every new intermediate node once its last consumer
is computed. The returned gradients keep their values; an internal node of a gradient graph has
``value`` None afterwards, and ``forward()`` on a gradient recomputes it like any other node.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import _build, _remat, _shapes
from ._graph import toposort
from ._tensor import Tensor

__all__ = ["LARGE", "deferred", "is_large", "settle_all"]

LARGE = 1 << 16
"""Gradients with respect to arrays of at least this many elements are built deferred and freed."""


def is_large(t: Tensor) -> bool:
    n = _shapes.size(t._shape)
    return n is not None and n >= LARGE


@contextmanager
def deferred() -> Iterator[list[Tensor]]:
    """Within: new nodes are recorded (in creation order) instead of evaluated."""
    prev = _build._deferred[0]
    created: list[Tensor] = []
    _build._deferred[0] = created
    try:
        yield created
    finally:
        _build._deferred[0] = prev


def settle_all(created: list[Tensor], keep: list[Tensor]) -> None:
    """Evaluate ``created`` in order where inputs allow, freeing intermediates not in ``keep``."""
    mine = {id(n) for n in created}
    uses: dict[int, int] = {}  # also of the older (forward) nodes, released after their last use here
    for n in created:
        for c in n.children:
            uses[id(c)] = uses.get(id(c), 0) + 1
    _recompute_freed([c for n in created for c in n.children if id(c) not in mine])
    kept = {id(k) for k in keep}
    for n in created:
        children = n.children
        if all(c._value is not None or c._remat == _remat.RELEASED for c in children):
            i = _donor(n, uses, kept, mine)
            if i is None:
                _build.settle(n)
            else:  # into the buffer of an operand at its last use (NumPy's temporary elision)
                n._value = n._bk.into(n.op)(*[c._value for c in children], out=children[i]._value)
        for c in children:
            k = id(c)
            left = uses[k] - 1
            uses[k] = left
            if left == 0 and k not in kept:
                if k in mine:
                    c._value = None
                else:  # a large forward value the gradient read: recomputed if needed again
                    _remat.release(c)


def _donor(n: Tensor, uses: dict[int, int], kept: set[int], mine: set[int]) -> int | None:
    """The operand of ``n`` whose buffer ``n`` may write into: used for the last time here and freed
    after (a gradient intermediate, or a forward value `_remat.release` will release), an array of
    exactly ``n``'s shape and dtype owning its contiguous memory, and held by nothing but its node
    (the reference count, as NumPy's own temporary elision checks it). None: allocate as usual."""
    if n._target is not None or n.params or not n.op.elementwise or n._dtype is None or refcount is None:
        return None
    if n._bk.into(n.op) is None or any(c._value is None for c in n.children):  # released: recomputed by settle
        return None
    for i, c in enumerate(n.children):
        k = id(c)
        if uses[k] != 1 or k in kept or (k not in mine and not _remat.releasable(c)):
            continue
        v = c._value
        if v is None or v.dtype != n._dtype or tuple(v.shape) != n._shape:
            continue
        if refcount(v) > _remat.SOLE:  # the slot, ``v`` and the argument; more: another holder, or a view
            continue
        flags = v.flags
        if flags.c_contiguous and flags.owndata and getattr(flags, "writeable", True):
            return i
    return None


refcount = _remat.refcount


def _recompute_freed(outside: list[Any]) -> None:
    """Re-evaluate older op nodes whose values were freed (a gradient of a gradient needs them)."""
    released = _remat.RELEASED  # released forward values are recomputed where needed, not here
    missing = [c for c in outside if c._value is None and c.op is not None and c._remat != released]
    if not missing:
        return
    for node in toposort(missing):
        if (
            node.op is not None
            and node._value is None
            and node._remat != released
            and all(c._value is not None or c._remat == released for c in node.children)
        ):
            _build.settle(node)
