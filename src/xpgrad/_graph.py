"""Walking graphs: topological order with an explicit stack, and re-evaluation in that order.

Nothing here recurses, so graphs of any depth (10^6 and beyond) can be sorted and evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from ._errors import PlaceholderError
from ._tensor import Tensor, changed, serial

__all__ = ["forward", "host_item", "toposort", "unfed_placeholders"]


def toposort(roots: Iterable[Tensor]) -> list[Tensor]:
    """Every node reachable from ``roots``, each once, inputs before the nodes that use them."""
    # Every node is younger than its children (`Tensor._n`, its creation number), so collecting the
    # reachable nodes in any order and sorting them by age is a topological order: one visit a node and
    # a sort in C, where a depth-first post-order visits each node twice (issue 5: twice as fast).
    stack = list(dict.fromkeys(roots))  # a root named twice is still one node
    seen = set(stack)  # of the nodes themselves: a Tensor hashes by identity, in C (no ``id`` call)
    found: list[Tensor] = []
    pop, push, emit, mark = stack.pop, stack.append, found.append, seen.add
    while stack:
        node = pop()
        emit(node)
        for c in node.children:
            if c not in seen:
                mark(c)
                push(c)
    found.sort(key=_age)
    return found


_age = attrgetter("_n")


def forward(roots: Iterable[Tensor]) -> None:
    """Recompute every op node below ``roots`` from the current leaf values; a PlaceholderError naming the
    unfed placeholders (and leaves set to None) they depend on, before anything is recomputed."""
    from ._remat import released

    order = toposort(roots)
    unfed = [n for n in order if n.op is None and n._value is None and not n._const]
    if unfed:
        raise PlaceholderError(f"forward: {_depends(roots, unfed)}; set p.value = array for each, then call forward()")
    uses = released(order)
    try:
        _recompute(order, uses)
    finally:
        changed[0] = serial()  # (also after an error: the nodes recomputed so far changed)


def _recompute(order: list[Tensor], uses: dict[int, int] | None) -> None:
    from ._build import evaluate
    from ._remat import FREED, RELEASED, like_standin

    for node in order:
        if node.op is None:
            continue
        children = node.children
        if all(c._value is not None or c._remat == RELEASED for c in children):
            node._value = evaluate(node)
            if node._remat == FREED:
                node._remat = 0  # (kept from now on)
        else:
            node._value = None
            node._remat &= 1  # unknown (an input is unfed), not released
        node._epoch = serial()  # (after its children's: computed from their present values)
        if uses:  # a released value is dropped again after its last use here (see `_remat`)
            for c in children:
                if c._remat == RELEASED and id(c) in uses:
                    left = uses[id(c)] = uses[id(c)] - 1
                    if left == 0:
                        if like_standin(c._bk, c._value):
                            c._value = None
                        else:  # now laid out unlike its stand-in (a leaf fed a transpose): kept (see `_remat`)
                            c._remat = 0


def _depends(roots: Iterable[Tensor], unfed: list[Tensor]) -> str:
    what = " and ".join(dict.fromkeys(r._label() for r in roots))
    names = ", ".join(p._label() for p in unfed[:5]) + (f" and {len(unfed) - 5} more" if len(unfed) > 5 else "")
    return f"{what} depends on unfed {names}"


def unfed_placeholders(root: Tensor) -> list[Tensor]:
    """The placeholders without a value that ``root`` depends on."""
    return [n for n in toposort([root]) if n.op is None and not n._const and n._value is None]


def host_item(t: Tensor) -> Any:
    v = t._require()
    n = 1
    for d in v.shape:
        n *= d
    if n != 1:
        raise TypeError(f"item() needs a Tensor with one element; this one has shape {tuple(v.shape)}")
    return t._bk.to_numpy(v).reshape(()).item()
