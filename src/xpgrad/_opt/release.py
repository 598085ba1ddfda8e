"""Rematerializable forward values: large intermediates no derivative rule reads are dropped, and
recomputed (bit for bit: the same op on the same inputs) when something needs them again.

Performance (issue 5): built eagerly, every node kept its array for as long as its graph lived,
even arrays no derivative rule will ever read (``x*y`` under ``exp``, whose rule reads exp's output;
the ``add`` under ``sum``, read only for its shape). Like PyTorch, which keeps only what backward
saves, an eager node's value is now released when a parent is evaluated, if

- it is an op node (never a leaf, placeholder or constant) of at least `LARGE` elements with a
  fully known static shape and dtype, laid out in row-major order as its stand-in would make what is
  made like it (`like_standin`),
- its own rule does not read its output, and no parent's rule read it (that pins it for good).

What a rule reads is found once per op (and params and constant operands) by tracing the rule on
placeholders (`reads`): the op table stays the one place that knows, with no per-op code here.
Operands an op reads only for their shape, dtype and device (``OpDef.meta``: ``expand``, ``fit``,
``ones_like``...) do not pin; a released one is given a zero-strided stand-in (`standin`).

A released node has ``_value`` None and ``_remat`` `RELEASED`, which tells it apart from a node on
an unfed placeholder. Anything that needs its value (``t.value``, printing, a new op on it, a
gradient) recomputes it with `recompute`, iteratively, a chain of released nodes in topological
order, each freed again after its last use; a user's read (``t.value``) keeps it (`keep`).

An eager op with large operands is evaluated by `run`, which writes the result into the buffer of
an operand it is about to release when nothing else holds that array (NumPy's temporary elision;
`large_gradients` does the same for large gradients). ``xpgrad.options(release=False)`` turns releasing and this
reuse off.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from .. import _shapes
from .._core import build as _build
from .._core import tensor as _tensor
from .._core.build import derivative_level
from .._core.opdef import NO_RULE, ZERO
from .._core.plugins import State
from .._core.tensor import Tensor, placeholder
from .._core.walk import toposort
from .._keys import params_key
from .._options import current

__all__ = [
    "LARGE",
    "PINNED",
    "RELEASED",
    "after",
    "fill",
    "like_standin",
    "recompute",
    "reads",
    "release",
    "releasable",
    "released",
    "run",
    "standin",
    "watch",
]

LARGE = 1 << 16
"""Only values of at least this many elements are released (as `large_gradients.LARGE`)."""
HELD, PINNED, RELEASED, FREED = State.HELD, State.PINNED, State.RELEASED, State.FREED
"""A node's states (``_remat``), which this module and `large_gradients` write: see `State`."""

_releases = [0]  # how many values were ever released: 0 spares `forward` the bookkeeping
_reads: dict[Any, tuple[bool, ...]] = {}
_reads_plain: dict[Any, tuple[bool, ...]] = {}
"""`reads` of nodes without params or constant operands, by op."""
_big: dict[Any, bool] = {}


def is_big(t: Tensor) -> bool:
    """A value worth releasing: an array of at least `LARGE` elements, static shape and dtype known, of a
    backend that releases values (`Backend.releases`: not Dask's lazy ones). (Memoized by signature, which
    names the backend, shape and dtype, a constant's its Python type: each is sized once.)"""
    s = t._sig
    big = _big.get(s) if s is not None else None
    if big is None:
        n = None if t._const or t._dtype is None or not t._bk.releases else _shapes.size(t._shape)
        big = n is not None and n >= LARGE
        if s is not None:
            if len(_big) >= _tensor.SIGNATURES:  # (signatures are never reused: a bound, not a leak)
                _big.clear()
            _big[s] = big
    return big


def watch(children: tuple[Tensor, ...]) -> bool:
    """Whether building on ``children`` may release one (memoized with `apply`'s decisions)."""
    for c in children:
        if is_big(c):
            return True
    return False


def reads(node: Tensor) -> tuple[bool, ...]:
    """(output read?, input 0 read?, ...): what ``node``'s derivative rules (all of them) read."""
    op = node.op
    assert op is not None  # (an op node)
    children = node.children
    if node.params is op.params:  # the common case (its defaults), without a key to build (issue 5)
        for c in children:
            if c._const:
                break
        else:
            hit = _reads_plain.get(op)
            if hit is None:
                hit = _reads_plain[op] = _trace(node)
            return hit
    try:
        params = params_key(node.params)
        key = (op, params, tuple((type(c._value), c._value) if c._const else 0 for c in children))
        hit = _reads.get(key)
    except TypeError:  # unhashable params: assume every value is read
        return (True,) * (len(children) + 1)
    if hit is None:
        hit = _trace(node)
        if len(_reads) < 4096:
            _reads[key] = hit
    return hit


def _trace(node: Tensor) -> tuple[bool, ...]:
    """Build each rule of ``node``'s op on placeholders and see which of them the graph reads."""
    op = node.op
    assert op is not None  # (an op node)
    everything = (True,) * (len(node.children) + 1)

    def stand(t: Tensor) -> Tensor:
        return t if t._const else placeholder(t._shape, t._dtype, t._bk, device=t._device)

    try:
        out = stand(node)
        ins = [stand(c) for c in node.children]
        pos = {id(t): i for i, t in enumerate([out, *ins]) if not t._const}
        seen = [False] * len(everything)
        with _build.deferring(None):
            with derivative_level(node._level + 1):
                for rule, child in zip(op.vjp, node.children, strict=True):
                    if rule is ZERO or rule is NO_RULE or child._const:  # a constant never gets a gradient
                        continue
                    g = placeholder(node._shape, node._dtype, node._bk, device=node._device)
                    res = rule(g, out, *ins, **node.params) if node.params else rule(g, out, *ins)
                    if id(res) in pos:
                        seen[pos[id(res)]] = True
                    for n in toposort([res]):
                        meta = n.op.meta if n.op is not None else ()
                        for i, c in enumerate(n.children):
                            if i not in meta and id(c) in pos:
                                seen[pos[id(c)]] = True
    except Exception:  # a rule that cannot be traced on placeholders: assume it reads everything
        return everything
    return tuple(seen)


_lock = threading.RLock()
"""Held while a large value's state changes (pinned, released, lent): another thread may be evaluating
on the same nodes (an op on them, a gradient through them). Re-entrant: `reads` may build (and trace)."""


def after(p: Tensor, r: tuple[bool, ...] | None = None, vals: list[Any] | None = None) -> None:
    """``p`` was just evaluated eagerly (from ``vals``, its operands' values, when the caller has them): pin
    the children its rules read (``r``: `reads` of ``p``, when the caller has it), release the others. A
    child another thread released meanwhile is pinned with the value ``p`` was computed from."""
    if not current().release:
        return
    if r is None:
        r = reads(p)
    with _lock:
        for i, c in enumerate(p.children):
            if r[i + 1]:
                if c.op is not None:
                    if c._value is None and vals is not None:
                        c._value = vals[i]  # (recomputed: maybe a change, see `fill`)
                        _tensor.restamp(c)
                        p._epoch = _tensor.serial()  # (computed from that very value: not outdated by it)
                    if c._value is not None:  # (else released by another thread: recomputed when needed)
                        c._remat = PINNED
            elif c._remat == HELD and releasable(c) and not reads(c)[0]:
                _dropping(c)
                c._remat = RELEASED  # (first: a thread reading ``value`` meanwhile gets the array, or recomputes it)
                c._value = None
                _releases[0] += 1


def releasable(c: Tensor) -> bool:
    """Whether `release` would release ``c``: only a value `recompute` can compute again, i.e. whose
    operands have values or are released themselves. (An operand with neither is an intermediate of an
    earlier gradient that `large_gradients` freed: a returned gradient must keep its value, or reading it after a
    second derivative would give None.)"""
    if not (
        current().release
        and c.op is not None
        and c._value is not None
        and is_big(c)
        and c._bk.releases  # the backend's policy (off where arrays are lazy)
        and c._bk.readable(c._value)  # (a JAX tracer: recomputing would trace it again)
        and like_standin(c._bk, c._value)
    ):
        return False
    for d in c.children:  # (a loop, not all(<generator>): issue 5, per large node)
        if d._value is None and d._remat != RELEASED:
            return False
    return True


def like_standin(bk: Any, v: Any) -> bool:
    """Whether the array ``v`` is laid out as its `standin` lays out what is made like it: ``ones_like``,
    ``zeros_like`` (NumPy's and CuPy's order 'K') follow their operand's strides, and a stand-in's, all zero,
    give row-major order. A value in another order (a transpose's column-major one) is not released: made
    like its stand-in, a ones_like would be laid out otherwise than with the value, and a later sum of a
    product with it would add in another order (other last bits). ``bk``: ``v``'s backend."""
    strides = getattr(v, "strides", None) if bk.strides is None or v is None else bk.strides(v)
    if strides is None or len(strides) < 2:
        return True
    outer = None
    for n, s in zip(v.shape, strides, strict=True):  # |strides| of the axes that are not 1 never grow
        if n > 1:
            if outer is not None and abs(s) > outer:
                return False
            outer = abs(s)
    return True


def _dropping(c: Tensor) -> None:
    """``c``'s value is about to be released: recomputed from its operands' present values from then on. If
    an operand changed since ``c`` was computed (a leaf fed without ``forward()``), that is another value: a
    change for the nodes computed on ``c`` before (a merge with one recomputes it, as a new node would read
    ``c``; a gradient computed from the kept value, then merged, returned it; found by a differential fuzz)."""
    if not _build.current(c):
        _tensor.restamp(c)


def release(c: Tensor) -> None:
    """Release ``c``'s value once a gradient has read it for the last time (`large_gradients.settle_all`): it
    is recomputed if anything needs it again, like a value no rule reads."""
    with _lock:
        if releasable(c):
            _dropping(c)
            c._remat = RELEASED  # (before the value goes: see `after`)
            c._value = None
            _releases[0] += 1


def take(c: Tensor, vals: list[Any], i: int) -> bool:
    """Whether an op may write its result into ``vals[i]``, the value of ``c`` it has read: ``c`` is
    released first, so that no thread can get that array from it any more, then the array must be held by
    ``vals`` only (whoever got it before shows in its reference count). False also when ``c`` no longer
    holds it (another thread released it). ``c`` stays released either way: the callers lend only what
    `after` or a gradient's last use would release."""
    with _lock:
        if c._value is not vals[i]:
            return False
        _dropping(c)
        c._remat = RELEASED
        c._value = None
        _releases[0] += 1
    return alone(vals, i, 0)


def run(node: Tensor, fn: Any) -> Tensor:
    """Evaluate an eager ``node`` with large operands (`build.build`: ``fn`` the backend's function to call
    directly, or None where `build.evaluate` casts operands or passes params), then `after`. Called directly, an
    operand `after` will release, held by nothing but its node, lends its buffer to the result when the backend's
    ufunc can write into it (`large_gradients._donor`)."""
    children = node.children
    vals = [c._value for c in children]  # read once: another thread may release an operand meanwhile
    if _missing(vals):
        return fill(node)
    on = current().release
    r = reads(node) if on else None
    if fn is None:
        _build.settle(node, None, list(vals))  # (a copy: `evaluate` puts the casts in its list)
    else:
        i = _donor(node, r, vals) if on else None
        if i is not None and not take(children[i], vals, i):
            i = None  # another thread released it, or holds its array: a fresh array (it stays released)
        try:  # (`_donor` chose i for the op's ufunc: into() is not None)
            node._value = fn(*vals) if i is None else node._bk.into(node.op)(*vals, out=vals[i])  # type: ignore[misc]
        except Exception as e:
            _build._note(e, node, vals)
            raise
    if on:
        after(node, r, vals)
    return node


def _missing(vals: list[Any]) -> bool:
    """Whether a value is None (a loop in a frame of its own: no local is left holding an array)."""
    for v in vals:
        if v is None:
            return True
    return False


def _donor(node: Tensor, r: Any, vals: list[Any]) -> int | None:
    """The operand whose buffer ``node`` may take: one `after` releases (``r``: `reads` of ``node``), of
    ``node``'s exact shape and dtype, owning contiguous memory, held by its node and ``vals`` only (reference
    count; checked again once it is taken), met once."""
    assert node.op is not None  # (an op node)
    if node.op.meta or node._dtype is None or node._bk.into(node.op) is None:
        return None
    children = node.children
    for i, c in enumerate(children):
        if r[i + 1] or c._remat != HELD or c.op is None or not is_big(c) or reads(c)[0] or not releasable(c):
            continue
        if fits(vals[i], node._dtype, node._shape) and alone(vals, i, 1):  # (``y * y``: held twice by vals)
            return i
    return None


refcount = getattr(sys, "getrefcount", None)


def writes_into(node: Tensor) -> bool:
    """Whether ``node`` may be computed into an operand's array at all: an elementwise op without params
    or a cast, of a known dtype, whose backend function is a ufunc taking ``out=`` (NumPy, CuPy). Which
    operand's array, if any, is for `lends` to say."""
    op = node.op
    assert op is not None  # (an op node)
    return (
        not node.params
        and op.elementwise
        and node._target is None
        and node._dtype is not None
        and node._bk.into(op) is not None
    )


def lends(v: Any, dtype: Any, shape: Any) -> bool:
    """Whether the array ``v``, read from a node's slot, may be written over by a result of ``dtype`` and
    ``shape``: exactly that dtype and shape, its own contiguous writeable memory, and held by nothing
    but that slot (reference count: no name, list or view elsewhere), as NumPy's temporary elision
    checks it. Call it as ``lends(node._value, ...)``, the way `SOLE` was measured. (For nodes no other
    thread can reach: a compiled function's; shared ones take the array out first: `take`, `alone`.)"""
    return fits(v, dtype, shape) and refcount(v) <= SOLE  # type: ignore[misc]  # (fits: False without refcount)


def fits(v: Any, dtype: Any, shape: Any) -> bool:
    """Whether a result of ``dtype`` and ``shape`` may be written into the array ``v``: exactly that dtype
    and shape, its own contiguous writeable memory (who else holds it is for `lends` or `alone` to say)."""
    if v is None or refcount is None or v.dtype != dtype or tuple(v.shape) != shape:
        return False
    flags = v.flags
    return bool(flags.c_contiguous and flags.owndata and getattr(flags, "writeable", True))


def alone(vals: list[Any], i: int, held: int) -> bool:
    """Whether ``vals[i]`` is held by the list ``vals`` and ``held`` other references only (its node's
    slot: 1; none once `take` emptied it). Call it as ``alone(vals, i, ...)``, the way `IN_LIST` was measured."""
    return refcount is not None and refcount(vals[i]) <= IN_LIST + held


def _count(v: Any) -> int:
    return refcount(v) if refcount is not None else 0


def _sole() -> int:
    """What `lends` sees as the reference count of an array only a node's slot holds.

    The slot, the parameter and the argument make 3 on CPython up to 3.13; measured with the same call
    shape rather than assumed, so an interpreter that counts differently never lends a buffer someone
    still holds (at worst it lends none: a lost optimisation, never a wrong value)."""

    class Slot:
        __slots__ = ("_value",)
        _value: Any

    s = Slot()
    s._value = bytearray(8)  # a fresh object, as an array a node owns
    return _count(s._value)


SOLE = _sole()
"""The reference count of an array held by its node's slot only (see `_sole`)."""


def _in_list() -> int:
    """What `alone` sees as the reference count of an array only a list holds (measured, as `SOLE`)."""
    vals = [bytearray(8)]
    return _count_item(vals, 0)


def _count_item(vals: list[Any], i: int) -> int:
    return refcount(vals[i]) if refcount is not None else 0


IN_LIST = _in_list()
"""The reference count `alone` sees for an array held by one list only."""


def released(order: list[Tensor]) -> dict[int, int] | None:
    """For `forward`: how many nodes of ``order`` use each released node (which it drops again after
    the last); a released root is kept from now on. None when no value was ever released."""
    if not _releases[0]:
        return None
    uses: dict[int, int] = {}
    for n in order:
        for c in n.children:
            if c._remat == RELEASED:
                uses[id(c)] = uses.get(id(c), 0) + 1
    for n in order:
        if n._remat == RELEASED and id(n) not in uses:
            n._remat = HELD
    return uses


def fill(node: Tensor) -> Tensor:
    """Evaluate ``node`` whose children have values or are released (else leave it unevaluated)."""
    children = node.children
    for c in children:
        if c._value is None and c._remat < RELEASED:  # (released and freed ones are recomputed)
            return node
    if current().release:  # operands the node's rules read are kept from now on
        r = reads(node)
        for i, c in enumerate(children):
            if r[i + 1] and c._value is None:
                v = recompute(c)
                with _lock:  # (another thread may have kept it meanwhile)
                    if c._value is None:
                        c._value = v  # recomputed from its operands' present values: maybe a change
                        _tensor.restamp(c)
                    if c._value is not None:
                        c._remat = PINNED
    _build.settle(node)
    node._epoch = _tensor.serial()  # computed now, from the values just kept: not outdated by their new stamps
    after(node)
    return node


def standin(c: Tensor) -> Any:
    """An array with ``c``'s shape, dtype and device that allocates nothing (zero strides)."""
    xp = c._bk.xp
    return xp.broadcast_to(xp.zeros((), dtype=c._dtype, device=c._device), c._shape)


def keep(t: Tensor) -> Any:
    """The value of a released or freed ``t`` that a user reads (`Tensor.value`): recomputed, and kept from
    then on (pinned) so that the next read costs nothing. None when an input has no value (unfed)."""
    v = recompute(t)
    if v is None:
        return None
    with _lock:  # (another thread may have kept it meanwhile: one value)
        if t._value is None and t._remat >= RELEASED:
            t._value = v  # from its operands' present values: maybe a change (see `fill`)
            _tensor.restamp(t)
            t._remat = PINNED
        return t._value if t._value is not None else v


def recompute(t: Tensor) -> Any:
    """The value of a released ``t``, recomputed with the nodes below it that have no value (released
    ones, and gradient intermediates `large_gradients` freed), which stay without: each is dropped after its last
    use here. None when an input has no value (unfed). Nothing is written into the nodes (safe while other
    threads evaluate them)."""
    order: list[Tensor] = []
    opened: set[int] = set()
    done: set[int] = set()
    stack: list[Tensor] = [t]
    while stack:  # `toposort`, restricted to released nodes (the others have their values)
        n = stack[-1]
        k = id(n)
        if k in opened:
            stack.pop()
            if k not in done:
                done.add(k)
                order.append(n)
            continue
        opened.add(k)
        assert n.op is not None  # (released and freed nodes are op nodes)
        meta = n.op.meta
        for i, c in enumerate(n.children):
            if c._value is None:
                if c.op is None:  # an unfed placeholder: no value to compute
                    return None
                # released, or a gradient intermediate `large_gradients` freed: computed here too (a released
                # operand read only for its shape gets a stand-in instead)
                if (i not in meta or c._remat != RELEASED) and id(c) not in opened:
                    stack.append(c)
    uses: dict[int, int] = {}  # of the nodes computed here (`done`), not of their states: another thread
    for n in order:  # may release or keep one meanwhile
        assert n.op is not None
        for i, c in enumerate(n.children):
            if id(c) in done and i not in n.op.meta:
                uses[id(c)] = uses.get(id(c), 0) + 1
    # The values live here, never in the nodes' slots: another thread may be filling the same nodes
    # meanwhile (`fill` keeps a value a rule reads), and clearing a slot afterwards would lose its value.
    known: dict[Tensor, Any] = {}
    for n in order:
        known[n] = _build.evaluate(n, [known[c] if c in known else c._value for c in n.children])
        assert n.op is not None
        for i, c in enumerate(n.children):
            if id(c) in done and i not in n.op.meta:
                left = uses[id(c)] = uses[id(c)] - 1
                if left == 0 and c is not t:
                    known.pop(c, None)
    return known[t]


def reuse(node: Tensor) -> None:
    """``node``'s value was recomputed and is kept (a merge, a second sweep): no longer released or freed."""
    if node._remat >= RELEASED:
        node._remat = HELD


def reevaluated(node: Tensor, known: bool) -> None:
    """``forward`` set ``node``'s value (``known``: a freed intermediate is kept from now on; a released
    value is dropped again after its last use, `used`), or found an input unfed (not released: unknown)."""
    if node._remat == FREED or (not known and node._remat >= RELEASED):
        node._remat = HELD


def used(c: Tensor, uses: dict[int, int]) -> None:
    """``forward`` used released ``c`` once more (``uses``: `released`): its value is dropped after the last
    use, unless it is now laid out unlike its stand-in (a leaf fed a transpose): then it is kept."""
    left = uses[id(c)] = uses[id(c)] - 1
    if left == 0:
        if like_standin(c._bk, c._value):
            c._value = None
        else:
            c._remat = HELD
