"""Pickling graphs (multiprocessing, Dask, ``copy.deepcopy``), without recursion.

A Tensor pickles as the recipe of its node, never as its internals (backend modules, memos, released values):
- a leaf or placeholder: its backend by NAME, its value as a host NumPy array and the device it lives on,
  and what it declares (dtype, shape, device, name, whether it is a placeholder);
- a constant: its Python number;
- an op node: its op's name in the table, its operands, its params, its name and derivative order.
Loading builds each op node through `build.apply`, the normal build path: merging and the build-time
rewrites apply as to any new node, and values are computed from the leaves' values, as when the graph was built.

Python's pickle (and ``deepcopy``) saves an object's operands before the object, recursively: a chain 10^5 deep
would exceed the recursion limit. So the first Tensor met (a root) saves the graph below it first, as a flat
stream of nodes in topological order; while that stream is saved, every node's operands were saved before it,
so its recipe only refers to them (pickle's memo) and nothing nests. Nodes keep their identity within one
pickle: a node met again (a leaf of two roots, a Function's input) is one object after loading.

(A `Function` pickles with the same recipes: see `xpgrad._compile.function`.)
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .build import apply, derivative_level, level_now, number
from .opdef import OPS
from .tensor import Tensor, canonical_device
from .walk import toposort

if TYPE_CHECKING:
    from ..backends import Backend

__all__ = ["constant", "op_node", "reduce_tensor"]

_local = threading.local()


def _streams() -> list[set[Tensor]]:
    """This thread's sets of nodes whose operands are saved before them (one per stream being saved)."""
    s = getattr(_local, "streams", None)
    if s is None:
        s = _local.streams = []
    return s


def reduce_tensor(t: Tensor) -> tuple[Any, ...]:
    """``t.__reduce__()``: its recipe, after the stream of the graph below it where it is a root."""
    for members in _streams():
        if t in members:  # inside a stream: the operands are saved already
            return _recipe(t)
    if not t.children:
        return _recipe(t)
    below = toposort([t])
    below.pop()  # (t itself: the youngest node, so the last)
    fn, args = _recipe(t)
    return _after, (_Stream(below), fn, *args)


def _recipe(t: Tensor) -> tuple[Any, tuple[Any, ...]]:
    if t._const:
        return constant, (t._value,)
    op = t.op
    if op is None:
        bk = t._bk
        v = t._value
        host = None if v is None else v if bk.pickles_arrays else bk.to_numpy(v)
        where = None if v is None else bk.portable(_array_device(v))
        return _leaf, (bk, host, where, bk.portable(t._device), t._dtype, t._shape, t.name, t._ph)
    if OPS.get(op.name) is not op:  # pragma: no cover - every op is registered once, by name
        import pickle

        raise pickle.PicklingError(f"cannot pickle op node {op.name!r}: its op is not the table's op of that name")
    params = {} if t.params is op.params else t.params
    return op_node, (op.name, t.children, params, t.name, t._level)


def _array_device(v: Any) -> Any:
    import array_api_compat

    return array_api_compat.device(v)


class _Stream:
    """The nodes below a root, in topological order: pickled as a list whose items are saved one by one."""

    __slots__ = ("nodes",)

    def __init__(self, nodes: list[Tensor]) -> None:
        self.nodes = nodes

    def __reduce__(self) -> tuple[Any, ...]:
        return list, (), None, _items(self.nodes)


def _items(nodes: list[Tensor]) -> Any:
    """The stream's items: its nodes, each saved as its recipe (its operands precede it), then the marker that
    ends the stream where it is saved (a pickler fetches items ahead of saving them)."""
    stack = _streams()
    members = set(nodes)
    end = _End(stack, members)
    stack.append(members)
    yield from nodes
    yield end


class _End:
    """Saved after the last node of a stream: from then on its nodes pickle as roots again. Also when a failed
    pickle drops it unsaved (``__del__``), so no stream outlives its pickling."""

    __slots__ = ("members", "stack")

    def __init__(self, stack: list[set[Tensor]], members: set[Tensor]) -> None:
        self.stack, self.members = stack, members

    def close(self) -> None:
        stack = self.stack
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is self.members:
                del stack[i]
                break

    def __reduce__(self) -> tuple[Any, ...]:
        self.close()
        return _nothing, ()

    def __del__(self) -> None:
        self.close()


# ----------------------------------------------------------------- loading
def _nothing() -> None:
    """What a stream's end loads as (an item of the stream's list, which nothing reads)."""


def _after(stream: Any, fn: Any, *args: Any) -> Tensor:
    """A root: its recipe, built once the stream below it was (``stream``: loaded, nothing more to do with it)."""
    return fn(*args)


def constant(v: Any) -> Tensor:
    """A constant, loaded."""
    return number(v)


def _leaf(
    bk: Backend, host: Any, where: Any, device: Any, dtype: Any, shape: Any, name: str | None, ph: bool
) -> Tensor:
    dev = None if device is None else canonical_device(bk.device(device))
    t = Tensor(None, backend=bk, name=name, dtype=dtype, device=dev, shape=shape)  # (a leaf's are its array's)
    t._ph = ph
    if host is not None:
        t.value = host if bk.pickles_arrays else bk.from_numpy(host, bk.device(where))
    return t


def op_node(name: str, children: tuple[Tensor, ...], params: dict[str, Any], label: str | None, level: int) -> Tensor:
    if level == level_now():  # (most nodes: no thread state to set and reset)
        t = apply(OPS[name], *children, **params)
    else:
        with derivative_level(level):
            t = apply(OPS[name], *children, **params)
    if label and t.name is None and t.op is not None:
        t.name = label
    return t
