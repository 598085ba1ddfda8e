"""Common-subexpression elimination as graphs are built (hash-consing), indexed on the operands.

`build.apply` asks `find` before making a node and calls `remember` after (`build._fast` inlines
both for one or two operands without params: change them together). Two op nodes are the same when
they have the same op, the same children *by identity* (Python numbers met in an expression by type
and bit pattern, so ``-0.0`` is not ``0.0`` and ``1`` is not ``1.0`` or ``True``) and the same params (by
type and bits too: `typed`).
Leaves and placeholders are never merged: only `apply` builds nodes.

Where the merge index lives (issue 5): a node that could be merged with ``op(a, b)`` is a parent of
``a``, so each node records its own parents, weakly, in its slot ``_users``: None (no parent yet),
the weak reference of its one parent, a tuple of the weak references of a few (up to SMALL), or a dict
``{key: weak reference}`` beyond. A node is recorded on its *index operand*, its first child that is
not a constant. Most nodes are used once or twice (a chain, a rule's product, an accumulated
cotangent), so most lookups read one slot and build no key: a process-wide dict keyed by
``(op, id(a), id(b))`` cost a quarter of the time of a 16-element op (B2), and a fifth of
``y = y*y + y`` (B4).

Safety:
- Parents are held through plain weak references (no callback: a callback per node was a third of
  the cost of building one), so a graph nobody uses is freed as before; a parent's death leaves a dead
  reference behind, dropped when the next parent is recorded (a tuple keeps its live ones only), and a
  dict of parents drops its dead entries once it has doubled since its last sweep (amortized O(1) a
  parent): it holds at most twice the live entries of its last sweep + 16, and never more than at its
  peak (a dead entry is also replaced by the next parent with its key).
- Keys hold children's ``id``s. A node keeps its children alive, so while a parent lives no id in its
  key can be reused; a reused id meets a dead entry and misses, and a found parent's children are
  compared by identity anyway.
- Merging never changes a result: the found node computes exactly what the new one would.
- Several threads may build on the same operand at once: a record one of them overwrites is a merge
  missed (two equal nodes), never a wrong one.
"""

from __future__ import annotations

import struct
import weakref
from typing import Any

from .._core import plugins as _plugins
from .._core.tensor import Tensor
from .._keys import params_key
from .._options import current

__all__ = ["find", "key", "remember"]

_WEAKREF = weakref.ReferenceType
SMALL = 8
"""Up to this many parents are recorded in a tuple, searched one by one (no keys); more in a dict."""
_AT = ("sweep at",)
"""The key under which a dict of parents keeps the size at which it sweeps next (no node's key: those
start with an op's name and have an entry a child)."""


def _const_part(v: Any) -> Any:
    # a nonzero float that is not nan keys as itself (the common ``x * 0.999``); any other number by its
    # type and text, so that 2, 2.0 and True, 0.0 and -0.0 differ and nan equals itself
    return v if type(v) is float and v == v and v else (type(v), repr(v))


def index(children: tuple[Tensor, ...] | list[Tensor]) -> Tensor | None:
    """The child a node is recorded on: its first that is not a constant (None: only constants)."""
    for c in children:
        if not c._const:
            return c
    return None


def key(op: Any, children: tuple[Tensor, ...] | list[Tensor], params: dict[str, Any]) -> Any:
    """The key of ``op(*children, **params)`` among its index operand's parents: the op's name, then each
    child's part (a constant's value, None for the index operand itself, another child's ``id``), then
    the params; None when it cannot be hashed (such a node is never merged)."""
    parts: list[Any] = [op.name]
    first = True
    for c in children:
        if c._const:
            parts.append(_const_part(c._value))
        elif first:
            parts.append(None)
            first = False
        else:
            parts.append(id(c))
    if params:
        parts.append(params_key(params))
    k = tuple(parts)
    if params:
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


def same(node: Tensor, op: Any, children: tuple[Tensor, ...] | list[Tensor], params: dict[str, Any]) -> bool:
    """Whether ``node`` is ``op(*children, **params)``: children by identity, constants by type and bits."""
    if node.op is not op or len(node.children) != len(children):
        return False
    for a, b in zip(node.children, children, strict=True):
        if a is not b and not (a._const and b._const and _same_const(a._value, b._value)):
            return False
    if not (params or node.params):
        return True
    k = key(op, children, params)
    return k is not None and k == key(op, node.children, node.params)


def find(op: Any, children: tuple[Tensor, ...] | list[Tensor], params: dict[str, Any]) -> Tensor | None:
    """The live node ``op(*children, **params)``, or None (always, where merging is off: `options`)."""
    if not current().merge:
        return None
    o = index(children)
    if o is None:
        return None
    u = o._users
    if u is None:
        return None
    found = u() if type(u) is _WEAKREF else among(u, op, children, params)
    return found if found is not None and same(found, op, children, params) else None


def among(u: Any, op: Any, children: tuple[Tensor, ...] | list[Tensor], params: dict[str, Any]) -> Tensor | None:
    """The live node ``op(*children, **params)`` among the parents ``u`` (a tuple or a dict), or None."""
    if type(u) is tuple:
        n = len(children)
        for r in u:
            p = r()
            if p is None or p.op is not op:
                continue
            pc = p.children  # the common case by identity, without a call (issue 5: per-op cost)
            if not (params or p.params) and pc[0] is children[0] and (n == 1 or (n == 2 and pc[1] is children[1])):
                return p
            if same(p, op, children, params):
                return p
        return None
    k = key(op, children, params)
    r = u.get(k) if k is not None else None
    return r() if r is not None else None


def remember(node: Tensor) -> None:
    """Record ``node`` on its index operand, unless merging is off. (A node whose params cannot be
    hashed is recorded too, but never found: `same` and `key` refuse it.)"""
    if not current().merge:
        return
    o = index(node.children)
    if o is None:
        return
    w = weakref.ref(node)
    u = o._users
    if u is None:
        o._users = w
    else:
        add_user(o, u, node, w)


def add_user(o: Tensor, u: Any, node: Tensor, w: weakref.ReferenceType[Tensor]) -> None:
    """Record ``node`` (weak reference ``w``) among the parents of ``o``, which has some (``u``)."""
    if type(u) is _WEAKREF:
        o._users = w if u() is None else (u, w)  # a dead parent gives its place
        return
    if type(u) is tuple:
        live = [r for r in u if r() is not None]
        if len(live) < SMALL:
            o._users = (*live, w) if live else w
            return
        u = {_AT: 2 * SMALL + 16}
        for r in live:  # (a parent whose params cannot be hashed is left out: a merge missed)
            p = r()
            pk = key(p.op, p.children, p.params) if p is not None else None
            if pk is not None:
                u[pk] = r
    k = key(node.op, node.children, node.params)
    if k is None:
        return
    u[k] = w
    if len(u) > u[_AT]:
        _sweep(u)
    o._users = u


def _sweep(u: dict[Any, Any]) -> None:
    """Drop the dead parents of the dict ``u``; it sweeps again once it has doubled (amortized O(1))."""
    # (over a copy: other threads may record parents meanwhile, e.g. while a collection started by an
    # allocation here runs a finalizer or another library's hook; copying a dict allocates no object an item)
    for dk, r in u.copy().items():
        if dk is not _AT and r() is None and u.get(dk) is r:
            u.pop(dk, None)
    u[_AT] = 2 * len(u) + 16


def parents(t: Tensor) -> list[Tensor]:
    """The live nodes recorded on ``t`` (for tests and figures)."""
    u = t._users
    refs = [] if u is None else [u] if type(u) is _WEAKREF else list(u) if type(u) is tuple else list(u.copy().values())
    return [p for p in (r() for r in refs if type(r) is _WEAKREF) if p is not None]


class Merging(_plugins.Merge):
    """`_plugins.Merge`, done: the functions of this module."""

    find = staticmethod(find)
    among = staticmethod(among)
    same = staticmethod(same)
    remember = staticmethod(remember)
    add_user = staticmethod(add_user)
    active = True


MERGE = Merging()
