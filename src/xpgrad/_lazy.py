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
            _build.settle(n)
        for c in children:
            k = id(c)
            left = uses[k] - 1
            uses[k] = left
            if left == 0 and k not in kept:
                if k in mine:
                    c._value = None
                else:  # a large forward value the gradient read: recomputed if needed again
                    _remat.release(c)


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
