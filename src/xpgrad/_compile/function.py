"""Compiled functions: a graph planned once, then run many times on new input arrays.

`function(inputs, outputs)` sorts the graph of all outputs once (iteratively) into a flat list of
steps, and copies its nodes once per backend and device it is called on (a "mirror": the same op,
params, promotion dtype and operands, Python-number constants shared). A call feeds the mirror's
inputs and runs each step in order: the backend's function for the op where the node needs no cast
(its choice made once per mirror, as the eager fast path makes it once per signature), `build.evaluate`
(promotion at run time) otherwise, so the results are exactly those of eager evaluation. After each
step, every node whose last reader it was is released, so a call holds about as many arrays at once
as hand-written NumPy would. Calls of one Function are serialized by a lock (the mirror holds one
call's values).

Decisions:
- Every input is passed on every call (no defaults), in the order of ``inputs``. Inputs are
  placeholders or leaves; a leaf NOT listed is captured: its current ``value`` is read at each call
  (so updating ``w.value`` between calls is seen). A placeholder the outputs need must be listed.
- ``outputs`` a list or tuple: the call returns a list of arrays. A single Tensor: one array.
- Each argument is checked against its input's declared shape (None dimensions are free), dtype
  and device, with the placeholder's own error messages.
- The call runs on the backend of the arrays it is given: all arguments must share one backend.
  A graph built on NumPy runs on array-api-strict or CuPy arrays unchanged (dtypes are matched by
  name; captured leaves are moved once per new value). Graphs that move arrays themselves (op
  ``to``) run only on the backend they were built for.
- On a lazy backend (Dask) a call builds the outputs' recipes, then computes them all in one computation
  (`Backend.compute`: ``dask.compute``), so the forward values the gradients share run once, on whatever
  scheduler Dask is set to; it returns the computed arrays (NumPy or CuPy, as the chunks are).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import partial
from typing import Any

from .._core.build import _RUNTIME, _note, _number_slot, evaluate, number_value, settle
from .._core.pickling import constant, op_node
from .._core.tensor import Tensor, _device_of, devices_differ, fill_slots
from .._core.walk import toposort
from .._dtypes import dtype_name
from .._errors import BackendMismatchError, PlaceholderError
from .._opt import release as _remat
from .._options import current
from ..backends import Backend, backend_of, get_backend
from .compute import lazy_values

__all__ = ["Function", "function"]


def function(inputs: Sequence[Tensor], outputs: Tensor | Sequence[Tensor], *, simplify: bool = False) -> Function:
    """Compile the graphs of ``outputs`` into a function of the arrays fed to ``inputs``.

    Arguments:
        inputs: placeholders or leaves, in the order the compiled function takes its arguments.
        outputs: a Tensor, or a list of Tensors (forward values and gradient graphs together).
        simplify: first apply `xpgrad.simplify` to the outputs (IEEE-exact rewrites only).

    Returns:
        A `Function`: ``f(*arrays)`` returns a list of arrays (one array when ``outputs`` is a Tensor).

    Example:
        >>> x = xpgrad.placeholder(shape=(None,), name="x")
        >>> y = xpgrad.sum(xpgrad.sin(x) * x)
        >>> f = xpgrad.function([x], [y, y.grad(x)])
        >>> value, gradient = f(np.array([0.5, 1.0]))
    """
    single = isinstance(outputs, Tensor)
    outs: list[Tensor] = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins: list[Tensor] = [inputs] if isinstance(inputs, Tensor) else list(inputs)  # function(x, loss): one input
    for what, seq in (("inputs", ins), ("outputs", outs)):
        for i, t in enumerate(seq):
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"function: {what}[{i}] is a {type(t).__name__}, not a Tensor; pass Tensors of the graph"
                )
    for i, t in enumerate(ins):
        if t.op is not None or t._const:
            raise TypeError(
                f"function: inputs[{i}] is {t._label()}, not a leaf or placeholder; list the placeholders "
                "(xpgrad.placeholder) or leaves the outputs are computed from"
            )
    if len({id(t) for t in ins}) != len(ins):
        raise ValueError("function: an input is listed twice; list each placeholder or leaf once")
    if simplify:
        from .simplify import simplify as _simplify

        outs = _simplify(*outs)
    return Function(ins, outs, single)


class _Mirror:
    """The plan's nodes, copied for one backend and device: `evaluate` runs on them unchanged."""

    __slots__ = ("captured", "held", "inputs", "outs", "steps")

    steps: list[tuple[Tensor, tuple[Any, ...], tuple[Tensor, ...], Any, tuple[int, ...]]]
    """Each step: (node, where its operands' values are read, the nodes to free after it, the backend's
    function to call on them (None: `evaluate`, which casts), the operands it may write its result into)."""

    def __init__(self, fn: Function, bk: Backend, dev: Any) -> None:
        home, pinned = fn._home, fn._pinned is not None
        rename = home is not None and bk is not home and not pinned
        copies: list[Tensor] = []
        for n in fn._order:
            if n._const:  # immutable: shared with the graph
                copies.append(n)
                continue
            m = _blank_copy(n)
            if n.op is not None:
                m.children = tuple(copies[i] for i in fn._args[len(copies)])
                if not pinned:  # a graph that moves arrays runs each op where it was built
                    m._bk, m._device = bk, (dev if dev is not None else n._device)
                t = n._target
                if rename and home is not None and t is not None and t is not _RUNTIME:  # same dtype in bk
                    m._target = getattr(bk.xp, dtype_name(home.xp, t))
                d = n.params.get("dtype")
                if rename and d is not None:  # astype, sum(dtype=)...: the backend's function takes its own
                    assert home is not None  # (renaming: from the graph's own backend)
                    m.params = {**n.params, "dtype": getattr(bk.xp, dtype_name(home.xp, d))}
            copies.append(m)
        self.inputs = [copies[i] for i in fn._input_pos]
        self.captured = [(copies[i], leaf) for i, leaf in fn._captured]
        # an input keeps its argument for the whole call (the call holds the array anyway): an operand that does
        # not broadcast names the placeholders it comes from with their shapes (`build._unbroadcastable`)
        listed = set(fn._input_pos)
        self.steps = [
            _plan(copies[i], tuple(copies[j] for j in free if j not in listed), lendable, numbers=not rename)
            for (i, free), lendable in zip(fn._steps, fn._lendable, strict=True)
        ]
        self.outs = [copies[i] for i in fn._out_pos]
        self.held = [m for m in (*self.inputs, *(c for c, _ in self.captured), *self.outs) if not m._const]


def _blank_copy(n: Tensor) -> Tensor:
    """A copy of node ``n`` (op, params, static facts, children) without its value."""
    m = fill_slots(
        object.__new__(Tensor), n.op, n.children, n.params, n.name, n._bk, n._device, n._shape, n._dtype, n._target,
        n._sig, n._level, n._const,
    )  # fmt: skip
    m._ph = n._ph
    return m


def _detach(order: list[Tensor]) -> list[Tensor]:
    """Copies of ``order``'s nodes without values, wired to each other (constants shared)."""
    copies: dict[int, Tensor] = {}
    out: list[Tensor] = []
    for n in order:
        if n._const:
            m = n
        else:
            m = _blank_copy(n)
            m.children = tuple(copies[id(c)] for c in n.children)
        copies[id(n)] = m
        out.append(m)
    return out


class Function:
    """A compiled graph (see `function`). Call it with one array per input."""

    def __init__(self, inputs: list[Tensor], outputs: list[Tensor], single: bool) -> None:
        self.inputs = inputs
        self._single = single
        order = toposort([*inputs, *outputs])
        pos = {id(n): i for i, n in enumerate(order)}
        self._input_pos = [pos[id(t)] for t in inputs]
        listed = set(self._input_pos)
        self._captured: list[tuple[int, Tensor]] = []
        self._args: dict[int, tuple[int, ...]] = {}
        steps: list[int] = []
        moves = False
        for i, n in enumerate(order):
            if n.op is not None:
                self._args[i] = tuple(pos[id(c)] for c in n.children)
                steps.append(i)
                moves = moves or n.op.moves
            elif not n._const and i not in listed:
                if n._ph:  # (also one fed before: the plan would read its last feed at every call)
                    raise PlaceholderError(
                        f"function: the outputs depend on {n._label()}, which is not among the inputs; add it to inputs"
                    )
                self._captured.append((i, n))
        self._out_pos = [pos[id(t)] for t in outputs]
        keep = set(self._out_pos)
        last: dict[int, int] = {}  # the last step that reads each node
        for k, i in enumerate(steps):
            for a in self._args[i]:
                last[a] = k
        frees: list[list[int]] = [[] for _ in steps]
        for a, k in last.items():
            if a not in keep and not order[a]._const:
                frees[k].append(a)
        self._steps = [(i, tuple(f)) for i, f in zip(steps, frees, strict=True)]
        # operands (by place) whose buffer a step may write its result into: op results read for the
        # last time by that step, once (`_lend`); inputs, captured leaves and outputs are never lent
        self._lendable = [
            tuple(j for j, a in enumerate(args) if a in free and a in self._args and args.count(a) == 1)
            for args, free in ((self._args[i], free) for i, free in self._steps)
        ]
        if not moves:
            _one_place(order)
        self._order = _detach(order)  # the plan keeps no original node, so no eager value stays alive
        self._home: Backend | None = next((t._bk for t in order if t._bk is not None), None)
        # where a call of Python numbers only runs: the graph's device (its leaves' and ops'), as an eager op
        # takes a number to the arrays it meets; not the default device, where a captured leaf cannot join it
        self._home_device = None if moves else next((t._device for t in order if t._device is not None), None)
        # a graph with explicit moves runs only with arrays on its inputs' own backend
        self._pinned = (inputs[0]._bk if inputs else self._home) if moves else None
        self._mirrors: dict[tuple[str, str], _Mirror] = {}
        self._moved: dict[tuple[str, str, int], tuple[Any, int, Any]] = {}
        self._lock = threading.Lock()
        self.n_nodes = len(order)
        self.n_steps = len(steps)

    def __call__(self, *arrays: Any) -> Any:
        ins = self.inputs
        if len(arrays) != len(ins):
            names = ", ".join(t._label() for t in ins)
            raise TypeError(f"function: takes {len(ins)} array(s) ({names}) but {len(arrays)} were given")
        bk, dev = self._backend_of_call(arrays)
        fed = [self._checked(i, t, a, bk, dev) for i, (t, a) in enumerate(zip(ins, arrays, strict=True))]
        with self._lock:  # the mirror nodes hold one call's values
            m = self._mirror(bk, dev)
            try:
                for node, arr in zip(m.inputs, fed, strict=True):
                    node._value = arr
                for node, leaf in m.captured:
                    node._value = self._leaf_value(leaf, bk, dev)
                lend = current().release
                lazy = bk.compute is not None  # (Dask: values are recipes; `lazy_values` reads them all again)
                for node, srcs, free, fn, lendable in m.steps:
                    vals = [c._value for c in srcs]
                    if lendable and lend and (j := _lend(node, vals, lendable)) is not None:
                        settle(node, j, vals)  # into the buffer of an operand read for the last time here
                    elif fn is not None:  # no cast: the backend's function itself (issue 5: per-step cost)
                        try:
                            node._value = fn(*vals)
                        except Exception as e:
                            _note(e, node, [c._value for c in node.children])
                            raise
                    else:
                        node._value = evaluate(node, vals)
                    del vals
                    if not lazy:
                        for f in free:
                            f._value = None
                if not lazy:
                    res = [self._as_array(node._value, bk, dev) for node in m.outs]
                else:  # (lazy: elementwise regions as one task per chunk, see `_compile.compute`)
                    res = [self._as_array(v, bk, dev) for v in lazy_values(bk, m.outs)]
            except BaseException:
                for node, *_ in m.steps:
                    node._value = None
                raise
            finally:
                for node in m.held:
                    node._value = None
        if bk.compute is not None:  # lazy arrays (Dask): every output in one computation, shared tasks run once
            res = list(bk.compute(*res))
        return res[0] if self._single else res

    def _mirror(self, bk: Backend, dev: Any) -> _Mirror:
        key = (bk.name, repr(dev))
        m = self._mirrors.get(key)
        if m is None:
            m = self._mirrors[key] = _Mirror(self, bk, dev)
        return m

    # ----------------------------------------------------------------- per-call helpers
    def _backend_of_call(self, arrays: tuple[Any, ...]) -> tuple[Backend, Any]:
        bk: Backend | None = None
        dev = None
        first = 0  # the argument that chose the backend (Python numbers before it choose none)
        for i, a in enumerate(arrays):
            owner = backend_of(a)
            if owner is None:
                continue
            if bk is None:
                bk, dev, first = owner, _device_of(a), i
            elif owner is not bk:
                raise BackendMismatchError(
                    f"function: argument {i} is a {owner.name} array but argument {first} is {bk.name}; pass "
                    "arrays of one backend (move them with xpgrad.Tensor(a).to(name).value)"
                )
            elif devices_differ(d := _device_of(a), dev):
                raise BackendMismatchError(  # else the first op combining them fails inside the backend
                    f"function: argument {i} is on device {d} but argument {first} is on {dev}; pass arrays "
                    "on one device (move them with xpgrad.Tensor(a).to_device(device).value)"
                )
        if bk is None:  # Python numbers or lists only: the graph's own backend and device (no graph: the default)
            bk = self._home or (self.inputs[0]._bk if self.inputs else None) or get_backend(None)
            dev = self._home_device if bk is self._home else None
        if self._pinned is not None and bk is not self._pinned:
            raise BackendMismatchError(
                f"function: this graph moves arrays between backends (op 'to'), so it runs only on "
                f"{self._pinned.name!r} arrays; got {bk.name} arrays"
            )
        return bk, dev

    def _checked(self, i: int, t: Tensor, a: Any, bk: Backend, dev: Any) -> Any:
        try:
            if backend_of(a) is None:  # a Python number or list: made as a feed makes it (declared dtype, checks),
                a = t._coerce(a, None)  # then moved to where the call runs (other backend, other device)
                if t._bk is not bk or (dev is not None and _device_of(a) != dev):
                    a = bk.from_numpy(t._bk.to_numpy(a), dev)
            if t._bk is bk:
                arr = t._coerce(a, backend_of(a))
                t._check_feed(arr)
                return arr
            arr = a if backend_of(a) is bk else bk.xp.asarray(a)
            if t._dtype is not None:
                want, got = dtype_name(t._bk.xp, t._dtype), dtype_name(bk.xp, arr.dtype)
                if want != got:
                    raise TypeError(
                        f"{t._label()} is declared with dtype {want} but was fed {got}; cast the array "
                        "(xp.astype) or declare another dtype"
                    )
            t._check_shape(arr)
            return arr
        except (TypeError, ValueError, BackendMismatchError) as e:
            raise type(e)(f"function: argument {i}: {e}") from None

    def _leaf_value(self, leaf: Tensor, bk: Backend, dev: Any) -> Any:
        v = leaf._value
        if v is None:
            raise PlaceholderError(f"function: captured {leaf._label()} has no value; set it, or list it in inputs")
        if leaf._bk is bk and (dev is None or leaf._device == dev):
            return v
        key = (bk.name, repr(dev), id(leaf))  # per device too: a copy on another device cannot be combined
        hit = self._moved.get(key)
        # a new value, or the same array set again (``w.value += 1`` changed it in place): the copy is stale
        if hit is None or hit[0] is not v or hit[1] != leaf._epoch:
            hit = self._moved[key] = (v, leaf._epoch, bk.from_numpy(leaf._bk.to_numpy(v), dev))
        return hit[2]

    @staticmethod
    def _as_array(v: Any, bk: Backend, dev: Any) -> Any:
        if backend_of(v) is None:  # an output that is a Python-number constant
            return bk.xp.asarray(v, device=dev)
        return v

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickling: the inputs, captured leaves and plan, planned again when loaded (see `xpgrad._core.pickling`)."""
        return _reduce_function(self)

    def __repr__(self) -> str:
        names = ", ".join(t._label() for t in self.inputs)
        return f"<xpgrad.function of ({names}): {self.n_steps} op(s) over {self.n_nodes} node(s)>"


def _one_place(order: list[Tensor]) -> None:
    """Refuse a graph (without explicit moves) whose nodes live on two backends or devices: outputs built
    apart, each op's operands on one place. A mirror runs every node on the call's backend and device, so
    one part would be moved silently (a result elsewhere than eagerly) or cast with the other backend's dtype."""
    first: Tensor | None = None
    for n in order:
        if n._const or n._bk is None:
            continue
        if first is None:
            first = n
        elif n._bk is not first._bk or devices_differ(n._device, first._device):
            where = (
                f"backends {first._bk.name!r} and {n._bk.name!r}"
                if n._bk is not first._bk
                else f"devices {first._device} and {n._device}"
            )
            raise BackendMismatchError(
                f"function: the graph lives on two {where} ({first._label()} and {n._label()}); build "
                "all outputs on one, moving a part with t.to(backend) or t.to_device(device)"
            )
        elif first._device is None:
            first = n


def _plan(
    node: Tensor, free: tuple[Tensor, ...], lendable: tuple[int, ...], numbers: bool
) -> tuple[Tensor, tuple[Any, ...], tuple[Tensor, ...], Any, tuple[int, ...]]:
    """A step of a mirror (see `_Mirror.steps`), its per-node choices made once: the function to call
    when there is no cast (the op's params bound), a Python-number operand as the 0-d array NumPy takes
    faster (`build.number_array`; ``numbers``: the mirror has the graph's own dtypes), and whether the op
    can write into an operand's array at all (`_remat.writes_into`)."""
    assert node.op is not None  # (an op node)
    srcs: tuple[Any, ...] = node.children
    fn = None
    if node._target is None:
        f = node._bk.fn(node.op)
        fn = partial(f, **node.params) if node.params else f
        k = _number_slot(node.op, srcs, node._bk, node._dtype) if numbers and not node.params else 0
        if k:
            c, other = srcs[k - 1], srcs[2 - k]
            fixed = _Fixed(number_value(c._value, other))
            srcs = (srcs[0], fixed) if k == 2 else (fixed, srcs[1])
    return node, srcs, free, fn, (lendable if lendable and _remat.writes_into(node) else ())


class _Fixed:
    """A constant operand's value as a step reads it (the constant itself is shared with the graph)."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value


def _lend(node: Tensor, vals: list[Any], places: tuple[int, ...]) -> int | None:
    """The operand of ``node`` (among ``places``; ``vals``: the operands' values) whose array its result
    may be written into: a large result (`_remat.LARGE` elements: NumPy reuses small blocks itself, and the
    checks cost more than they save there), every array operand of the same shape, and an array nothing
    else holds (`_remat.alone`: not a view's base, not returned). Writing into a dead intermediate saves
    the fresh pages of a new one (issue 5: compiled B1 at 10^6). The op may (`_plan`)."""
    shape = None
    for i, c in enumerate(node.children):  # (no local may hold an operand's array: `alone` counts references)
        if not c._const:
            if shape is None:
                shape = tuple(vals[i].shape)
                if vals[i].size < _remat.LARGE:
                    return None
            elif tuple(vals[i].shape) != shape:
                return None
    for j in places:
        if _remat.fits(vals[j], node._dtype, shape) and _remat.alone(vals, j, 1):
            return j
    return None


# ----------------------------------------------------------------- pickling
def _reduce_function(f: Function) -> tuple[Any, ...]:
    """``Function.__reduce__()``: its inputs, captured leaves and plan, as flat records."""
    inputs = {i: k for k, i in enumerate(f._input_pos)}
    captured = {i: k for k, (i, _) in enumerate(f._captured)}
    records: list[tuple[Any, ...]] = []
    for i, n in enumerate(f._order):
        if n._const:
            records.append(("number", n._value))
        elif n.op is None:
            records.append(("input", inputs[i]) if i in inputs else ("captured", captured[i]))
        else:
            params = {} if n.params is n.op.params else n.params
            records.append(("op", n.op.name, f._args[i], params, n.name, n._level))
    leaves = [leaf for _, leaf in f._captured]
    return _rebuilt, (f.inputs, leaves, records, f._out_pos, f._single)


def _rebuilt(
    inputs: list[Tensor], leaves: list[Tensor], records: list[tuple[Any, ...]], outs: list[int], single: bool
) -> Function:
    nodes: list[Any] = []
    for r in records:
        kind = r[0]
        if kind == "number":
            nodes.append(constant(r[1]))
        elif kind == "input":
            nodes.append(inputs[r[1]])
        elif kind == "captured":
            nodes.append(leaves[r[1]])
        else:
            _, name, args, params, label, level = r
            nodes.append(op_node(name, tuple(nodes[j] for j in args), params, label, level))
    outputs = [nodes[i] for i in outs]
    return function(inputs, outputs[0] if single else outputs)
