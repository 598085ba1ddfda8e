"""Evaluating a freshly built gradient graph in one go, freeing each intermediate after its last use.

Performance (issue 5): built eagerly, every node of a gradient graph keeps its array for as long as
the graph lives, so differentiating ``sum(f(x, y))`` on 10^7 elements held ~20 arrays where a
hand-written gradient holds ~6 (and paid for the fresh memory in page faults). For large arrays
`grad` therefore builds the whole gradient graph first, then evaluates it here in creation order
(which is topological) and drops the value of every new intermediate node once its last consumer
is computed. The returned gradients keep their values; an internal node of a gradient graph is
`_remat.FREED` afterwards: recomputed where needed, like a released value (reading ``value`` keeps
it), and ``forward()`` on a gradient recomputes and keeps it like any other node. The
exception is a libm function of forward values (``cos(x)`` for ``sin``'s rule, see `_residual`),
which keeps its value like those forward values: a second derivative needs it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import _shapes
from .._core import build as _build
from .._core.tensor import Tensor
from .._core.walk import toposort
from . import release as _remat

__all__ = ["LARGE", "deferred", "is_large", "settle_all"]

LARGE = _remat.LARGE
"""Gradients with respect to arrays of at least this many elements are built deferred and freed."""


def is_large(t: Tensor) -> bool:
    """At least `LARGE` elements, on a backend that frees values (`Backend.releases`: not Dask's lazy ones)."""
    if t._bk is None or not t._bk.releases:
        return False
    n = _shapes.size(t._shape)
    return n is not None and n >= LARGE


@contextmanager
def deferred() -> Iterator[_build.Deferred]:
    """Within: new nodes are recorded (in creation order) instead of evaluated."""
    created = _build.Deferred()
    with _build.deferring(created):
        yield created


def settle_all(created: _build.Deferred, keep: list[Tensor]) -> None:
    """Evaluate the nodes of ``created`` that ``keep`` needs, in order, freeing intermediates not in ``keep``.

    Nodes a rewrite made and then dropped (the seed's ``expand`` of ones under ``1 * y -> y``, a
    ``-b`` that became ``a - b``) are never evaluated: each would be a full array pass and a fresh
    allocation (issue 5, B5). An older node that a gradient needs but whose value was freed by an
    earlier sweep is recomputed first, also when it is itself a returned gradient.
    """
    # sets and dicts of the nodes themselves (a Tensor hashes by identity, in C): no ``id`` call a node
    mine = created.members  # (built as they were deferred)
    kept = set(keep)
    # One pass from the newest node (creation order is topological, so a node's users come before it):
    # a node is needed when kept or used by a needed node, i.e. already counted in ``uses``; a node a
    # rewrite dropped has neither (issue 5: no separate walk from ``keep``)
    uses: dict[Tensor, int] = {}  # also of the older (forward) nodes, released after their last use here
    get = uses.get
    live: list[Tensor] = []
    older: list[Tensor] = []
    for n in reversed(created):
        if n in uses or n in kept:
            live.append(n)
            for c in n.children:
                uses[c] = get(c, 0) + 1
                if c not in mine:
                    older.append(c)
    live.reverse()
    _recompute_freed(older + [k for k in keep if k not in mine])  # a gradient can be an older node
    kept.update(n for n in live if _residual(n, mine))
    released = _remat.RELEASED
    for n in live:
        children = n.children
        vals = [c._value for c in children]  # read once: another thread may release a forward value
        lend = True  # every operand has its value (a released one is recomputed by `settle`: none lends)
        for k, c in enumerate(children):
            if vals[k] is None:
                if c._remat != released:
                    break
                lend = False
        else:
            if lend:  # maybe into an operand's buffer at its last use
                i = _donor(n, uses, kept, mine, vals)
                if i is not None and children[i] not in mine and not _remat.take(children[i], vals, i):
                    i = None
                _build.settle(n, i, vals)
            else:
                _build.settle(n)
        for c in children:
            left = uses[c] - 1
            uses[c] = left
            if left == 0 and c not in kept:
                if c in mine:
                    c._remat = _remat.FREED  # (first: see `_remat.after`)
                    c._value = None
                elif _releases(c):  # a large forward value the gradient read: recomputed if needed again
                    _remat.release(c)


def _donor(n: Tensor, uses: dict[Tensor, int], kept: set[Tensor], mine: set[Tensor], vals: list[Any]) -> int | None:
    """The operand of ``n`` whose buffer ``n`` may write into: used for the last time here and freed
    after (a gradient intermediate, or a forward value `_remat.release` will release), an array of
    exactly ``n``'s shape and dtype owning its contiguous memory, and held by nothing but its node and
    ``vals`` (the reference count, as NumPy's own temporary elision checks it). None: allocate as usual."""
    if not _remat.writes_into(n):  # (`settle_all` asks only when every operand has its value)
        return None
    for i, c in enumerate(n.children):
        if uses[c] != 1 or c in kept or (c not in mine and not _releases(c)):
            continue
        if _remat.fits(vals[i], n._dtype, n._shape) and _remat.alone(vals, i, 1):
            return i
    return None


def _residual(n: Tensor, mine: set[Tensor]) -> bool:
    """A unary floating-point function (sin, cos, exp, log, sqrt... the costly libm passes) of a value
    computed before this sweep: ``cos(x)`` for ``sin``'s rule, ``sinh(x)`` for ``cosh``'s.

    Such a node depends on the forward values alone, and it keeps its value like they do: a second
    derivative walks the gradient graph again and needs it as an operand (``x * cos(x)``'s rule reads
    ``cos(x)``), where recomputing it was the costliest pass (issue 5, B5: sum(sin(x)*x), 1.5-1.7x ->
    ~1.1x). The price is one array per such node for as long as the gradient lives (B1: 12 -> 13 at peak).
    """
    return _libm(n) and n.children[0] not in mine


def _releases(c: Tensor) -> bool:
    """Whether a forward value the gradient has read for the last time is released (the one test
    `settle_all` and `_donor` share: a buffer is lent only by a value that is released)."""
    return _remat.releasable(c) and not _libm(c)


def _libm(n: Tensor) -> bool:
    """A unary floating-point function (sin, exp...): a costly pass to recompute, so its value is kept
    (`_residual`), and a forward one is not released after the gradient read it (`_remat.release`):
    the second derivative reads ``sin(x)`` of ``sum(sin(x)*x)`` again."""
    op = n.op
    libm = _LIBM.get(op)
    if libm is None:
        libm = _LIBM[op] = op is not None and op.arity == 1 and op.domain in ("floating", "real_floating")
    return libm


_LIBM: dict[Any, bool] = {}
"""`_libm` by op (None: a leaf)."""


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
            _remat.reuse(node)  # (kept: no longer freed)
