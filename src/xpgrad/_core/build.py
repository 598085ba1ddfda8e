"""Building graph nodes: the one function every op goes through.

`apply(op, *args, **params)` turns operands into Tensors, checks that they share a backend and a
device, infers the static shape and dtype (raising at build time, naming the op), lets the op's
rewrites return an existing node instead of a new one, and evaluates the node at once when every
input has a value (the seed's eager forward).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from threading import Lock, get_ident
from typing import Any

from .. import _dtypes, _shapes
from .._errors import BackendMismatchError
from .._keys import EXACT, typed
from .._options import current as _options_now
from ..backends import Backend, backend_of, get_backend
from . import plugins as _plugins
from .opdef import OpDef
from .tensor import (
    _NO_PARAMS,
    _NUMBER,
    Tensor,
    _device_of,
    changed,
    devices_differ,
    fill_slots,
    restamp,
    signature,
)

__all__ = ["apply", "apply_binary", "apply_unary", "const", "derivative_level", "evaluate", "number", "settle"]

_HELD, _RELEASED = _plugins.State.HELD, _plugins.State.RELEASED
_RUNTIME: Any = object()  # node._target when dtypes are only known once placeholders are fed
_ABSENT: Any = object()
_new = object.__new__

# Per-thread build state (a thread's `grad` must not change the nodes another thread builds meanwhile):
# the dicts map a thread to its state; the one-element lists count the threads with one, and are
# what the fast path reads: 0 while no thread has any state, so building outside `grad` never looks the thread up.
_levels: dict[int, int] = {}
"""Thread -> the derivative order of the nodes it builds (`derivative_level`); absent: 0."""
_level = [0]
_deferrals: dict[int, Deferred] = {}
"""Thread -> the list its new nodes go to instead of being evaluated (`deferring`)."""
_deferred = [0]
_state_lock = Lock()


def _set(table: dict[int, Any], flag: list[int], tid: int, value: Any) -> None:
    with _state_lock:
        if value is None:
            table.pop(tid, None)
        else:
            table[tid] = value
        flag[0] = len(table)


def level_now() -> int:
    """The derivative order of a node this thread builds now."""
    return _levels.get(get_ident(), 0) if _level[0] else 0


def deferral() -> Deferred | None:
    """Where this thread's new nodes go instead of being evaluated (None: evaluated at once)."""
    return _deferrals.get(get_ident()) if _deferred[0] else None


class derivative_level:
    """Context manager: nodes this thread builds inside belong to the gradient graph of order ``n``."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        self.tid = get_ident()
        self.prev = _levels.get(self.tid)
        _set(_levels, _level, self.tid, self.n)

    def __exit__(self, *exc: object) -> None:
        _set(_levels, _level, self.tid, self.prev)


class Deferred(list):
    """The nodes a thread built while deferring their evaluation, in creation order, and as a set: a
    merge with a node that has no value yet is right only with one of these (`_merged`)."""

    __slots__ = ("members",)

    def __init__(self) -> None:
        super().__init__()
        self.members: set[Tensor] = set()

    def add(self, node: Tensor) -> None:
        self.append(node)
        self.members.add(node)


@contextmanager
def deferring(into: Deferred | None) -> Iterator[None]:
    """Within: this thread's new nodes are added to ``into`` instead of evaluated (None: evaluated)."""
    tid = get_ident()
    prev = _deferrals.get(tid)
    _set(_deferrals, _deferred, tid, into)
    try:
        yield
    finally:
        _set(_deferrals, _deferred, tid, prev)


def const(v: Any) -> Tensor:
    """An internal constant: a Python number that takes its dtype and device from the arrays it meets (no backend of
    its own); its build-time facts are its Python type (`number_sig`)."""
    return fill_slots(_new(Tensor), None, (), _NO_PARAMS, None, None, None, (), None, None, number_sig(v), 0, True, v)


def number_sig(v: Any) -> Any:
    """The build-time facts of the Python number ``v`` (its `_sig`, a key of `apply`'s memos): its type; for an int
    outside 0..127 (which every integer dtype holds), also which integer dtypes hold it (its bit length, negated
    for a negative int), so a decision memoized for one int is never taken for one that overflows the dtype."""
    if type(v) is int and not 0 <= v <= 127:
        return (int, v.bit_length() if v > 0 else -1 - (~v).bit_length())
    return type(v)


_consts: dict[tuple[type, Any], Tensor] = {}
"""Constants are immutable leaves, so one Tensor per (type, value) serves every node (issue 5: no
allocation per ``x * 0.999``). Zeros are never shared (0.0 == -0.0 would merge them); nan never hits."""


_PLAIN = frozenset(_NUMBER)


def _shared(a: Any) -> bool:
    """Whether the number ``a`` may share one constant with every number equal to it: not a zero (0.0 == -0.0)
    nor a complex number with a zero part (``complex(2, -0.0) == complex(2, 0.0)``, which multiply
    ``-0.0 + 0j`` differently)."""
    return bool(a) and not (type(a) is complex and not (a.real and a.imag))


def _operand(op: OpDef, a: Any) -> Tensor:
    if type(a) in _PLAIN and a:  # a nonzero Python number met before: one lookup (issue 5; see `_shared`)
        t = _consts.get((type(a), a))
        if t is not None:
            return t
    if isinstance(a, Tensor):
        return a
    if isinstance(a, _NUMBER):
        return number(a)
    if backend_of(a) is not None:
        return Tensor(a)
    raise TypeError(
        f"{op.name}: cannot use {type(a).__name__} {a!r:.40} as an operand; pass a Tensor, a Python number, "
        "or an array of a supported backend (wrap lists with xpgrad.asarray)"
    )


def number(a: Any) -> Tensor:
    """The constant for the Python number ``a`` (shared with every operand equal to it, see `_consts`)."""
    if type(a) not in _NUMBER:  # a subclass (numpy.float64) becomes the plain number the backend accepts
        a = next(t for t in _NUMBER if isinstance(a, t))(a)
    if not _shared(a):
        return const(a)
    key = (type(a), a)
    t = _consts.get(key)
    if t is None:
        if len(_consts) >= 4096:
            _consts.clear()
        t = _consts[key] = const(a)
    return t


def apply(op: OpDef, *args: Any, **params: Any) -> Tensor:
    """Build (and, when possible, evaluate) the node ``op(*args, **params)``."""
    if params:  # params that are all their defaults, by identity (None, False: a rule's ``axis=axis``)
        defaults = op.params
        for k, v in params.items():
            if defaults.get(k, _ABSENT) is not v:
                break
        else:  # are the op's own defaults: the common case (issue 5: ``sum(y)``'s rule, ``expand``)
            params = _NO_PARAMS
    if not params:  # one or two operands: no list, no checks beyond `_operand` (issue 5)
        n = len(args)
        if n == 2 and op.arity == 2:
            return apply_binary(op, *args)
        if n == 1 and op.arity == 1:
            return apply_unary(op, args[0])
    return _apply(op, args, params)


def _apply(op: OpDef, args: tuple[Any, ...], params: dict[str, Any]) -> Tensor:
    """`apply` for any call: the arity and the params' names checked, the operands made Tensors, then `build`."""
    if len(args) != op.arity:
        hint = f"; pass its parameters by keyword ({', '.join(f'{k}=...' for k in op.params)})" if op.params else ""
        raise TypeError(f"{op.name}() takes {op.arity} array argument(s) but {len(args)} were given{hint}")
    if params:
        unknown = params.keys() - op.params.keys()
        if unknown:
            raise TypeError(f"{op.name}() got unexpected keyword(s) {sorted(unknown)}; it accepts {sorted(op.params)}")
        params = {**op.params, **params}
    else:
        params = op.params
    for a in args:
        if type(a) is not Tensor:
            return build(op, tuple([a if type(a) is Tensor else _operand(op, a) for a in args]), params)
    return build(op, args, params)


def apply_binary(op: OpDef, a: Any, b: Any) -> Tensor:
    """`apply(op, a, b)` with the op's default params (the Python operators: ``x * 0.999``, ``y + g``)."""
    return build(
        op, (a if type(a) is Tensor else _operand(op, a), b if type(b) is Tensor else _operand(op, b)), op.params
    )


def apply_unary(op: OpDef, a: Any) -> Tensor:
    """`apply(op, a)` with the op's default params (``sin(x)``, the rules' ``ones_like(y)``)."""
    return build(op, (a if type(a) is Tensor else _operand(op, a),), op.params)


def build(op: OpDef, children: tuple[Tensor, ...], params: dict[str, Any]) -> Tensor:
    """The one build path: the node ``op(*children, **params)`` (``params``: ``op.params`` itself for the op's
    defaults, else every param), or the node an op's rewrite or a merge gives instead.

    1. The decision (`_decide`: backends, devices, static shape and dtype, checked, raising at build time and
       naming the op), memoized in `_decided` on the op, its operands' signatures (an int naming backend, device,
       shape and dtype; a constant's Python type) and the params (issue 5: per-op overhead).
    2. The op's rewrite (``simplify``), then a merge with a live equal node (`plugins.Merge`).
    3. The node (`fill_slots`), recorded for merges; deferred (`deferring`), left unfed, or evaluated: by the
       backend's function at once in the common case, by `evaluate` where operands are cast or params passed, by
       `plugins.Release.run` where an operand is large."""
    n = len(children)
    try:
        if n == 2:
            key: Any = (op, children[0]._sig, children[1]._sig)
        elif n == 1:
            key = (op, children[0]._sig)
        else:
            key = (op, *[c._sig for c in children])
        if params is not op.params:  # a sum, an expand, a reshape with params of its own: see `_memo_params`
            key = (*key, _memo_params(params))
        decided = _decided.get(key)
    except (AttributeError, TypeError):  # a Tensor made outside `apply`/`Tensor()`/`const`; unhashable params
        key = decided = None
    if decided is None:
        decided = _decision(op, children, params, key)
        if type(decided) is Tensor:  # folded constant (only Python numbers met)
            return decided
        if decided[9] is not None:  # operands made into arrays on the default backend (not memoized)
            children = decided[9]
    bk, dev, shape, dtype, target, fn, sig, big, num, _ = decided
    simplify = op.simplify
    if simplify is not None:
        found = simplify(*children, **params) if params else simplify(*children)
        if found is not None:
            return found
    into = _deferrals.get(get_ident()) if _deferred[0] else None  # `deferral`, inlined
    o = None
    if _options_now().merge and _plugins.merge.active:  # `merge.find` and `remember`, the one-parent case inlined
        o = children[0] if n and not children[0]._const else _index(children)
        u = o._users if o is not None else None
        if u is not None:  # it has parents: one of them may be this node
            found = u() if type(u) is _WEAKREF else _plugins.merge.among(u, op, children, params)
            if found is not None and found.op is op:  # a hit (B4: ``g * y`` for both operands of ``y * y``)
                fc = found.children
                if (
                    found.params is params and fc[0] is children[0] and (n == 1 or (n == 2 and fc[1] is children[1]))
                ) or _plugins.merge.same(found, op, children, params):
                    if not _deferred[0] and found._value is not None and (found._epoch > changed[0] or current(found)):
                        return found  # `_merged`'s common case: a current value, no thread deferring
                    found = _merged(found, into)
                    if found is not None:
                        return found
    node = fill_slots(
        _new(Tensor),
        op,
        children,
        params,
        None,
        bk,
        dev,
        shape,
        dtype,
        target,
        sig,
        _levels.get(get_ident(), 0) if _level[0] else 0,
    )
    if into is not None:  # deferred: a member of this thread's graph before another thread can find it
        into.add(node)  # (`_merged` leaves another thread's deferred nodes alone)
    if o is not None:  # `merge.remember`, inlined: most operands get their first parent here
        w = _weakref(node)
        u = o._users
        if u is None:
            o._users = w
        else:
            _plugins.merge.add_user(o, u, node, w)
    if into is not None:  # building a large gradient graph: evaluated afterwards (see `_opt.large_gradients`)
        return node
    if big:  # large operands: evaluated by `_opt.release`, which releases those no rule reads
        return _plugins.release.run(node, fn)
    if fn is None:  # casts first, params to pass, or a device known once evaluated
        for c in children:
            if c._value is None:
                return _plugins.release.fill(node)  # unfed (left unevaluated), or released values to recompute
        settle(node)
        return node
    if n == 2:
        a, b = children
        av, bv = a._value, b._value
        if av is None or bv is None:
            return _plugins.release.fill(node)
        if num:  # a Python number operand, as the 0-d array the backend takes faster (`number_array`)
            if num == 2:
                bv = _numbers.get((b, a._sig))
                if bv is None:
                    bv = number_array(b, a)
            else:
                av = _numbers.get((a, b._sig))
                if av is None:
                    av = number_array(a, b)
        try:
            node._value = fn(av, bv)
        except Exception as e:
            _note(e, node, [av, bv])
            raise
        return node
    if n == 1:
        av = children[0]._value
        if av is None:
            return _plugins.release.fill(node)
        try:
            node._value = fn(av)
        except Exception as e:
            _note(e, node, [av])
            raise
        return node
    vals = [c._value for c in children]
    for v in vals:
        if v is None:
            return _plugins.release.fill(node)
    try:
        node._value = fn(*vals)
    except Exception as e:
        _note(e, node, vals)
        raise
    return node


def _index(children: tuple[Tensor, ...]) -> Tensor | None:
    """The operand a node is recorded on for merges: its first that is not a constant (`_opt.merge.index`)."""
    for c in children:
        if not c._const:
            return c
    return None


def _decision(op: OpDef, children: tuple[Tensor, ...], params: dict[str, Any], key: Any) -> Any:
    """`build`'s decision for a first meeting (memoized under ``key`` when it leaves the operands as given):
    ``(backend, device, shape, dtype, target, fn, signature, large, number slot, new operands)``, or a folded
    constant. ``fn`` is the backend's function to call directly (the op's default params bound), None where
    `evaluate` must run instead: a cast, other params, or a device known only once evaluated."""
    d = _decide(op, children, params)
    if type(d) is Tensor:
        return d
    bk, dev, shape, dtype, target, new_children, _, sig = d
    if new_children is not None:
        children = new_children
    fn = None
    num = 0
    if target is None and dev is not None and params is op.params:
        fn = partial(bk.fn(op), **params) if params else bk.fn(op)
        num = 0 if params else _number_slot(op, children, bk, dtype)
    decided = (bk, dev, shape, dtype, target, fn, sig, _plugins.release.watch(children), num, new_children)
    if new_children is None and key is not None and not op.moves and None not in key:
        if len(_decided) >= 1 << 16:  # (many distinct params: a memo, never a leak)
            _decided.clear()
        _decided[key] = decided
    return decided


def _number_slot(op: OpDef, children: tuple[Tensor, ...], bk: Backend, dtype: Any) -> int:
    """Which operand of a node `_fast` evaluates is a Python number to pass as a 0-d array (1 or 2; 0:
    none): where the backend asks for it, the op is one of its ufuncs, and the other operand is a real
    floating array of the result's dtype (``x * 0.999``, ``y + 1``); a number of an integer or complex result
    stays a number (NumPy's checks of range and kind, at every call). The decision holds for every number of
    that Python type; `number_array` may still keep one as it is."""
    if not bk.number_arrays or len(children) != 2 or bk.into(op) is None:
        return 0
    a, b = children
    if a._const == b._const:
        return 0
    number, array = (b, a) if b._const else (a, b)
    if type(number._value) not in (int, float) or array._dtype is None or array._dtype != dtype:
        return 0
    return (2 if b._const else 1) if bk.xp.isdtype(dtype, "real floating") else 0


def number_array(number: Tensor, array: Tensor) -> Any:
    """The Python number of constant ``number`` as a 0-d array of ``array``'s backend, device and dtype,
    made once per (constant, ``array``'s signature) (issue 5: NumPy converts a number at every call, half
    the time of ``x * 0.999`` on small arrays). The same value the backend would use: the number converted
    to the array's dtype, rounded to nearest. Kept a number where that would not be exact for another reason:
    an int beyond 2**53 (NumPy may not convert it), a float that overflows the dtype (NumPy 1 widens then)."""
    v = number._value
    if not v:  # a zero: a constant of its own at each use (`_consts`), so nothing to keep it for
        return v
    made = number_value(v, array)
    if len(_numbers) >= 4096:
        _numbers.clear()
    _numbers[number, array._sig] = made
    return made


def number_value(v: Any, array: Tensor) -> Any:
    """`number_array`'s value for the Python number ``v``, not memoized."""
    if type(v) is float or -(1 << 53) <= v <= 1 << 53:
        made = array._bk.xp.asarray(v, dtype=array._dtype, device=array._device)
        if not (math.isinf(float(made)) and not math.isinf(v)):
            return made
    return v


_numbers: dict[tuple[Tensor, int], Any] = {}
"""`number_array`'s memo: (constant, the other operand's signature) -> the value to pass."""


_ATOMS = EXACT


def _memo_params(params: dict[str, Any]) -> Any:
    """The part of `_decided`'s key for ``params``: `_keys.params_key` (an axis ``(1.0,)`` is refused where
    ``(1,)`` is accepted, and must not share its decision), built in the same loop that refuses a Tensor or
    an array among them: the memo would keep it (and its graph) alive, so that decision is not memoized."""
    parts = []
    for k, v in params.items():
        t = type(v)
        if t in _ATOMS:
            parts.append((k, (t, v)))  # = `typed(v)`, without the call
        elif t is tuple or t is float or t is complex or not (t is Tensor or backend_of(v) is not None):
            parts.append((k, typed(v)))  # (a float by its bits, a dtype...)
        else:
            return None
    return tuple(parts)


def _merged(found: Tensor, into: Deferred | None) -> Tensor | None:
    """What building a node equal to ``found`` returns (None: build a new node after all), for a thread
    deferring into ``into`` (None: evaluating as it builds)."""
    if _deferred[0] and (into is None or found not in into.members):
        for other in _deferrals.copy().values():  # (a copy: other threads may start or end deferring)
            if other is not None and other is not into and found in other.members:
                return None  # another thread's deferred graph: that thread frees its intermediates as it settles
    if into is not None and current(found):
        return found  # current, or deferred here: evaluated with the rest (`_opt.large_gradients.settle_all`)
    return _reuse(found)  # recomputed if an operand changed since (also while deferring: never a stale value)


def current(node: Tensor) -> bool:
    """Whether op node ``node``'s value (or the one it will get, deferred) was computed from its operands'
    present values: every operand's stamp is older than its own (see `serial`). A node built on operands
    that were outdated themselves is current for them: it is what a new node would compute now."""
    e = node._epoch
    if e > changed[0]:  # nothing changed since it was computed (the common case)
        return True
    for c in node.children:  # (a released or freed operand is recomputed from its own operands: maybe changed)
        if c._epoch >= e or (c._value is None and c._remat >= _RELEASED):
            return False
    return True


def _reuse(found: Tensor) -> Tensor:
    """A merged node, with the value a new node would get: kept when its operands did not change since it
    was computed (no work done twice), recomputed when one did (a leaf fed, an operand recomputed by
    `forward` or by a merge), or when it was freed (`_opt.large_gradients`)."""
    if found._value is None or not current(found):
        ready = True
        for c in found.children:
            if c._value is None and c._remat < _RELEASED:  # (released and freed ones recompute)
                ready = False
                break
        found._value = evaluate(found) if ready else None
        restamp(found)  # (its parents computed before are outdated)
        _plugins.release.reuse(found)  # a released value recomputed here is kept: the caller holds the node again
    return found


# what `build` inlines of merging: a node's record of its parents is one weak reference while it has one
_weakref, _WEAKREF = weakref.ref, weakref.ReferenceType

_decided: dict[Any, Any] = {}
"""`build`'s memo of `_decision`: (op, operand signatures..., params unless the op's defaults) -> (backend, device,
shape, dtype, target, the backend's function to call directly or None, the result's signature, whether an
operand is large (`_opt.release.watch`), the number slot (`_number_slot`), None)."""


def evaluate_into(node: Tensor, i: int, vals: list[Any] | None = None) -> Any:
    """The value of ``node``, written into the array of its operand ``i`` (which nobody else holds:
    see `_opt.release.lends`) by the backend's ufunc for the op; ``vals``: the operands' values, when read."""
    if vals is None:
        vals = [c._value for c in node.children]
    return node._bk.into(node.op)(*vals, out=vals[i])  # type: ignore[misc]  # (chosen for its ufunc: not None)


def settle(node: Tensor, into: int | None = None, vals: list[Any] | None = None) -> None:
    """Evaluate a node built while evaluation was deferred (its children have values, or ``vals``: the
    values read, each set); with ``into``, write the result into that operand's array (which its owner gave
    up: see `_opt.large_gradients._donor`)."""
    if into is not None:
        node._value = evaluate_into(node, into, vals)
    else:
        node._value = evaluate(node, vals)
    if node._device is None:
        node._device = _device_of(node._value)
        node._sig = signature(node._bk, node._device, node._shape, node._dtype)


def _decide(op: OpDef, children: tuple[Tensor, ...], params: dict[str, Any]) -> Any:
    """Check the operands and infer the static facts of ``op(*children)``, raising at build time.

    Returns a folded constant when every operand is a Python number and the op folds them, else
    ``(backend, device, shape, dtype, target, new_children, None, signature)``; ``new_children`` is
    None unless the Python-number operands had to become arrays on the default backend. (`apply`
    memoizes it with the backend's function for the op in place of the None.)
    """
    bk: Backend | None = None
    dev = None
    for c in children:
        if c._const:
            continue
        if bk is None:
            bk, dev = c._bk, c._device
        elif c._bk is not bk:
            raise BackendMismatchError(
                f"{op.name}: operands live on different backends ({bk.name!r} and {c._bk.name!r}); "
                f"move one first, e.g. t.to({bk.name!r})"
            )
        elif devices_differ(c._device, dev):
            raise BackendMismatchError(
                f"{op.name}: operands live on different devices ({dev} and {c._device}) of backend "
                f"{bk.name!r}; move one first with t.to_device(device)"
            )
        elif dev is None:
            dev = c._device
    new_children = None
    if bk is None:  # only Python numbers: fold, or make arrays on the default backend
        if op.fold is not None:
            try:
                return const(op.fold(*(c._value for c in children), **params))
            except (ArithmeticError, ValueError, TypeError):
                pass
        bk = get_backend(None)
        children = new_children = tuple(Tensor(c._value, backend=bk) for c in children)
        dev = children[0]._device if children else None
    weak = _weak_bools(op, bk, children)
    if weak is not children:  # not memoized: `apply` keeps only decisions that leave the operands as given
        children = new_children = tuple(weak)
    if op.moves:  # `to`: the output lives where the params say
        bk, dev = params["backend"], params["device"]
    shape = (
        op.shape(op.name, *children, **params)
        if op.shape
        else _shapes.broadcast(op.name, *(c._shape for c in children))
    )
    target, dtype = _static_dtype(op, children, params, bk, dev)
    return bk, dev, shape, dtype, target, new_children, None, signature(bk, dev, shape, dtype)


def _weak_bools(op: OpDef, bk: Backend, children: Sequence[Tensor]) -> Sequence[Tensor]:
    """A Python bool met with numeric arrays becomes 0 or 1 (array-api-strict refuses to promote it)."""
    if not any(children[i]._const and type(children[i]._value) is bool for i in op.promote):
        return children
    if not any(not c._const and c._dtype is not None and not bk.xp.isdtype(c._dtype, "bool") for c in children):
        return children
    return [
        const(int(c._value)) if i in op.promote and c._const and type(c._value) is bool else c
        for i, c in enumerate(children)
    ]


def _static_dtype(op: OpDef, cs: tuple[Tensor, ...], params: dict[str, Any], bk: Backend, dev: Any) -> Any:
    """(target, dtype): the operands' common dtype when a cast is needed (else None), and the result's."""
    if op.dtype is not None:  # ops with their own rule (reductions, shape references, moves)
        return None, op.dtype(*cs, **params)
    idx = op.promote
    dts = [cs[i]._dtype for i in idx if not cs[i]._const]
    if any(d is None for d in dts):  # known once fed; a bool result (comparisons, isnan...) is known now
        return _RUNTIME, (bk.xp.bool if op.result == "bool" else None)
    scalars = [cs[i]._value for i in idx if cs[i]._const]
    target, out = _dtypes.resolve(bk, op, dts, scalars, dev)
    if scalars:
        _dtypes.check_ints(bk, op, target, scalars)
    return (None if all(d == target for d in dts) else target), out


def evaluate(node: Tensor, vals: list[Any] | None = None) -> Any:
    """The value of ``node`` from its children's values (which must all be set), or from ``vals``, their
    values as the caller has them (read once: another thread may release one meanwhile; or computed without
    being stored, `_opt.release.recompute`). The list is the caller's to give: released values and casts replace
    its items."""
    op = node.op
    assert op is not None  # (an op node)
    bk = node._bk
    if vals is None:
        vals = [c._value for c in node.children]
    for i, v in enumerate(vals):
        if v is None:  # a released value (`_opt.release`): recomputed, or a stand-in where only its shape is read
            c = node.children[i]
            vals[i] = _plugins.release.standin(c) if i in op.meta and c._remat == _RELEASED else c._require()
    target = node._target
    if target is not None:
        xp = bk.xp
        idx = op.promote
        if target is _RUNTIME:
            dts = [vals[i].dtype for i in idx if not node.children[i]._const]
            scalars = [vals[i] for i in idx if node.children[i]._const]
            target = _dtypes.resolve(bk, op, dts, scalars, node._device)[0]
            if scalars:
                _dtypes.check_ints(bk, op, target, scalars)
        for i in idx:
            v = vals[i]
            if not node.children[i]._const and v.dtype != target:
                vals[i] = xp.astype(v, target)
    try:
        return bk.fn(op)(*vals, **node.params)
    except Exception as e:
        _note(e, node, vals)
        raise


_HAS_ADD_NOTE = hasattr(BaseException, "add_note")  # Python 3.11+


def _note(e: Exception, node: Tensor, vals: list[Any]) -> None:
    """Add the op and its operands' shapes and dtypes to an error raised while evaluating ``node``.

    On Python 3.11+ the context is a note on ``e`` (the caller re-raises it). On 3.10 it raises, from
    ``e``, an exception of the same type whose message carries the context, when that type can be
    built from one message; otherwise it returns and ``e`` is re-raised unchanged. Operands whose shapes
    do not broadcast (placeholders fed arrays of other sizes) raise, from ``e``, the ValueError a build
    with known shapes raises, naming the placeholders each operand is computed from.
    """
    unbroadcastable = _unbroadcastable(node, vals)
    if unbroadcastable is not None:
        raise ValueError(unbroadcastable) from e
    shapes = ", ".join(
        repr(v) if node.children[i]._const else f"{tuple(getattr(v, 'shape', ()))} {getattr(v, 'dtype', '?')}"
        for i, v in enumerate(vals)
    )
    assert node.op is not None  # (an op node)
    note = f"while evaluating xpgrad op {node.op.name!r} on {node._bk.name} operands: {shapes}"
    if _HAS_ADD_NOTE:
        e.add_note(note)  # type: ignore[attr-defined, unused-ignore]  # (Python 3.11+: mypy checks for 3.10)
        return
    try:
        again = type(e)(f"{e}\n{note}")
    except Exception:  # a type that needs more than a message (UnicodeDecodeError...): keep e as it is
        return
    if type(again) is type(e):
        raise again from e


def _unbroadcastable(node: Tensor, vals: list[Any]) -> str | None:
    """The message of `_shapes.broadcast` when the operands of elementwise ``node`` (values ``vals``) do not
    broadcast, with the placeholders (and their fed shapes) each operand is computed from; else None."""
    op = node.op
    if op is None or not op.elementwise or len(vals) < 2:
        return None
    arrays = [(k, c, v) for k, (c, v) in enumerate(zip(node.children, vals, strict=False), 1) if not c._const]
    try:
        _shapes.broadcast(op.name, *(tuple(getattr(v, "shape", ())) for _, _, v in arrays))
        return None
    except ValueError as e:
        message = str(e)
    parts = []
    for k, c, v in arrays:
        names = ", ".join(
            f"{p._label()} (fed shape {tuple(getattr(p._value, 'shape', ()))})" for p in _placeholders_of(c)
        )
        parts.append(f"operand {k} {tuple(getattr(v, 'shape', ()))} comes from {names or 'no placeholder'}")
    return f"{message}. Here {'; '.join(parts)}: feed arrays whose shapes broadcast"


def _placeholders_of(t: Tensor, limit: int = 3) -> list[Tensor]:
    """The first ``limit`` placeholders ``t`` is computed from, in creation order (an iterative walk)."""
    found: list[Tensor] = []
    seen = {id(t)}
    stack = [t]
    while stack and len(found) < limit:
        n = stack.pop()
        if n._ph:
            found.append(n)
        for c in n.children:
            if id(c) not in seen:
                seen.add(id(c))
                stack.append(c)
    return sorted(found, key=lambda p: p._n)
