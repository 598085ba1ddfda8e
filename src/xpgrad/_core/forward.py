"""Re-evaluating graphs: every op node below some roots, recomputed in topological order.

Nothing here recurses, so graphs of any depth (10^6 and beyond) can be evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._errors import PlaceholderError
from . import plugins as _plugins
from .build import evaluate
from .tensor import Tensor, changed, serial
from .walk import toposort

__all__ = ["forward"]

_RELEASED = _plugins.State.RELEASED


def forward(roots: Iterable[Tensor]) -> None:
    """Recompute every op node below ``roots`` from the current leaf values; a PlaceholderError naming the
    unfed placeholders (and leaves set to None) they depend on, before anything is recomputed."""
    order = toposort(roots)
    unfed = [n for n in order if n.op is None and n._value is None and not n._const]
    if unfed:
        raise PlaceholderError(f"forward: {_depends(roots, unfed)}; set p.value = array for each, then call forward()")
    uses = _plugins.release.released(order)
    try:
        _recompute(order, uses)
    finally:
        changed[0] = serial()  # (also after an error: the nodes recomputed so far changed)


def _recompute(order: list[Tensor], uses: dict[int, int] | None) -> None:
    release = _plugins.release
    for node in order:
        if node.op is None:
            continue
        children = node.children
        if all(c._value is not None or c._remat == _RELEASED for c in children):
            node._value = evaluate(node)
            if node._remat:
                release.reevaluated(node, True)
        else:
            node._value = None
            if node._remat:
                release.reevaluated(node, False)  # unknown (an input is unfed), not released
        node._epoch = serial()  # (after its children's: computed from their present values)
        if uses:  # a released value is dropped again after its last use here
            for c in children:
                if c._remat == _RELEASED and id(c) in uses:
                    release.used(c, uses)


def _depends(roots: Iterable[Tensor], unfed: list[Tensor]) -> str:
    what = " and ".join(dict.fromkeys(r._label() for r in roots))
    names = ", ".join(p._label() for p in unfed[:5]) + (f" and {len(unfed) - 5} more" if len(unfed) > 5 else "")
    return f"{what} depends on unfed {names}"
