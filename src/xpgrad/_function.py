"""Compiled functions: a graph planned once, then run many times on new input arrays.

`function(inputs, outputs)` sorts the graph of all outputs once (iteratively) into a flat list of
instructions: the op, the slots of its operands (Python-number constants pre-bound), the dtype it
promotes to, the slot it writes, and the slots whose last reader it is, released right after it
runs. So a call holds about as many arrays at once as a hand-written NumPy version would.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._build import _RUNTIME, call
from ._dtypes import dtype_name
from ._errors import BackendMismatchError, PlaceholderError
from ._graph import toposort
from ._tensor import Tensor, _device_of
from .backends import Backend, backend_of

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
    outs = [outputs] if single else list(outputs)
    ins = list(inputs)
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
        from ._simplify import simplify as _simplify

        outs = _simplify(*outs)
    return Function(ins, outs, single)


class Function:
    """A compiled graph (see `function`). Call it with one array per input."""

    def __init__(self, inputs: list[Tensor], outputs: list[Tensor], single: bool) -> None:
        self.inputs = inputs
        self._single = single
        order = toposort(outputs)
        slot_of: dict[int, int] = {}
        template: list[Any] = []
        for i, t in enumerate(inputs):
            slot_of[id(t)] = i
            template.append(None)
        captured: list[tuple[int, Tensor]] = []
        steps: list[tuple[Any, ...]] = []
        moves = False
        for n in order:
            if id(n) in slot_of:
                continue
            slot_of[id(n)] = len(template)
            if n._const:
                template.append(n._value)
            elif n.op is None:
                if n._ph and n._value is None:
                    raise PlaceholderError(
                        f"function: the outputs depend on {n._label()}, which is not among the inputs; add it to inputs"
                    )
                captured.append((len(template), n))
                template.append(None)
            else:
                template.append(None)
                moves = moves or n.op.moves
                args = tuple(slot_of[id(c)] for c in n.children)
                consts = tuple(c._const for c in n.children)
                steps.append((n.op, n.params, args, consts, n._target, slot_of[id(n)], n._bk, n._device))
        self._out_slots = [slot_of[id(t)] for t in outputs]
        keep = set(self._out_slots)
        last: dict[int, int] = {}
        for k, (_op, _params, args, *_rest) in enumerate(steps):  # last reader of each slot
            for a in args:
                last[a] = k
        frees: list[list[int]] = [[] for _ in steps]
        for s, k in last.items():
            if s not in keep and template[s] is None:
                frees[k].append(s)
        self._steps = [(*st, tuple(f)) for st, f in zip(steps, frees, strict=True)]
        self._home: Backend | None = next((t._bk for t in order if t._bk is not None), None)
        # a graph with explicit moves runs only with arrays on its inputs' own backend
        self._pinned = (inputs[0]._bk if inputs else self._home) if moves else None
        self._template = template
        self._captured = captured
        self._moved: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._targets: dict[str, list[Any]] = {}
        self.n_nodes = len(order)
        self.n_steps = len(steps)

    def __call__(self, *arrays: Any) -> Any:
        ins = self.inputs
        if len(arrays) != len(ins):
            names = ", ".join(t._label() for t in ins)
            raise TypeError(f"function: takes {len(ins)} array(s) ({names}) but {len(arrays)} were given")
        bk, dev = self._backend_of_call(arrays)
        slots = list(self._template)
        for i, (t, a) in enumerate(zip(ins, arrays, strict=True)):
            slots[i] = self._checked(i, t, a, bk)
        for s, leaf in self._captured:
            slots[s] = self._leaf_value(leaf, bk, dev)
        targets = self._targets_for(bk)
        pinned = self._pinned is not None  # a graph that moves arrays runs each op where it was built
        for (op, params, args, consts, _t, out, own_bk, own_dev, free), target in zip(
            self._steps, targets, strict=True
        ):
            b, d = (own_bk, own_dev) if pinned else (bk, dev)
            slots[out] = call(op, b, d, target, consts, [slots[a] for a in args], params)
            for f in free:
                slots[f] = None
        res = [self._as_array(slots[s], bk, dev) for s in self._out_slots]
        return res[0] if self._single else res

    # ----------------------------------------------------------------- per-call helpers
    def _backend_of_call(self, arrays: tuple[Any, ...]) -> tuple[Backend, Any]:
        bk: Backend | None = None
        dev = None
        for i, a in enumerate(arrays):
            owner = backend_of(a)
            if owner is None:
                continue
            if bk is None:
                bk, dev = owner, _device_of(a)
            elif owner is not bk:
                raise BackendMismatchError(
                    f"function: argument {i} is a {owner.name} array but argument 0 is {bk.name}; pass arrays "
                    "of one backend (move them with xpgrad.Tensor(a).to(name).value)"
                )
        if bk is None:  # Python numbers or lists only: the graph's own backend
            bk = self._home or (self.inputs[0]._bk if self.inputs else None)
            dev = None
        if self._pinned is not None and bk is not self._pinned:
            raise BackendMismatchError(
                f"function: this graph moves arrays between backends (op 'to'), so it runs only on "
                f"{self._pinned.name!r} arrays; got {bk.name} arrays"
            )
        return bk, dev

    def _checked(self, i: int, t: Tensor, a: Any, bk: Backend) -> Any:
        try:
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
        key = (bk.name, id(leaf))
        hit = self._moved.get(key)
        if hit is None or hit[0] is not v:
            hit = self._moved[key] = (v, bk.from_numpy(leaf._bk.to_numpy(v), dev))
        return hit[1]

    def _targets_for(self, bk: Backend) -> list[Any]:
        """Each step's promotion dtype in ``bk``'s namespace (the same dtype, matched by name)."""
        found = self._targets.get(bk.name)
        if found is None:
            home = self._home
            found = [st[4] for st in self._steps]
            if home is not None and bk is not home and self._pinned is None:
                found = [t if t is None or t is _RUNTIME else getattr(bk.xp, dtype_name(home.xp, t)) for t in found]
            self._targets[bk.name] = found
        return found

    @staticmethod
    def _as_array(v: Any, bk: Backend, dev: Any) -> Any:
        if backend_of(v) is None:  # an output that is a Python-number constant
            return bk.xp.asarray(v, device=dev)
        return v

    def __repr__(self) -> str:
        names = ", ".join(t._label() for t in self.inputs)
        return f"<xpgrad.function of ({names}): {self.n_steps} op(s) over {self.n_nodes} node(s)>"
