"""`compute`: the values of several Tensors at once, one computation on a lazy backend (Dask).

On Dask a Tensor's value is a recipe (a Dask array): reading ``t.value`` computes nothing, and computing
values one by one (``t.numpy()`` for each) runs what they share once per value: the forward pass again for
every gradient. `compute` hands all of them to the backend's `Backend.compute` (``dask.compute``), which
merges their task graphs and runs each task once, on whatever scheduler Dask is set to (threads, processes,
a ``dask.distributed`` cluster). On eager backends (NumPy, CuPy...) the values are there already: returned
as they are.

Blockwise regions (`lazy_values`). Dask fuses a chain of elementwise steps into one task per chunk, but a
value read by several steps (a forward value its gradients reuse) ends a chain: it is made as a task of its
own per chunk, held until every reader ran, and on a cluster sent to the workers that read it. A gradient
reuses many (B1's: ``exp(x*y)``, ``1/(1+y*y)`` and their product beside hand-written Dask's one quotient),
so before computing, the elementwise ops over arrays of one shape and chunking are gathered into regions,
and each region becomes ONE Dask task per chunk that runs its ops on the chunk (the same functions of the
chunks' library that Dask would call, so the results are the same bits) and returns the values read
outside it. Regions are staged so that none reads, through a reduction, a value of its own.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .._core.build import _RUNTIME, evaluate
from .._core.opdef import OPS
from .._core.tensor import Tensor
from .._core.walk import toposort
from ..backends import Backend, backend_of

__all__ = ["compute", "lazy_values"]


def compute(*tensors: Tensor) -> tuple[Any, ...]:
    """The values of ``tensors``, computed together.

    Arguments:
        tensors: Tensors of any backends (forward values and gradient graphs together).

    Returns:
        A tuple of arrays, one per Tensor, in order: on Dask, computed in one ``dask.compute`` (NumPy or
        CuPy arrays, as the chunks are; the elementwise ops of each chunk in one task, see the module's
        docstring); on eager backends, the values themselves.

    Example:
        >>> x = xpgrad.Tensor(np.array([0.5, 1.0]))
        >>> y = xpgrad.sum(xpgrad.sin(x) * x)
        >>> value, gradient = xpgrad.compute(y, y.grad(x))
    """
    values: list[Any] = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"compute: argument {i} is a {type(t).__name__}, not a Tensor; pass Tensors")
        values.append(t._require())  # (an unfed placeholder: PlaceholderError, naming it)
    lazy: dict[Any, list[int]] = {}  # backend -> the places of its values, for backends that compute
    for i, t in enumerate(tensors):
        if t._bk is not None and t._bk.compute is not None:
            lazy.setdefault(t._bk, []).append(i)
    for bk, places in lazy.items():
        arrays = lazy_values(bk, [tensors[i] for i in places])
        done = bk.compute(*arrays)
        for i, v in zip(places, done, strict=True):
            values[i] = v
    return tuple(values)


def lazy_values(bk: Backend, roots: list[Tensor]) -> list[Any]:
    """The lazy arrays of ``roots`` (nodes of backend ``bk``), with each region of elementwise ops over arrays
    of one shape and blocking made one block-by-block step (`Backend.blockwise`); their values as they are
    where ``bk`` has no such hook or no region has two ops. Op nodes without a value (a compiled function's
    copies) are evaluated from their children's, leaves must have theirs."""
    g = _Graph(toposort(roots))
    if bk.blockwise is None or bk.blocks is None:
        return [g.val[id(t)] for t in roots]
    region = g.regions(bk)
    if not region:
        return [g.val[id(t)] for t in roots]
    return g.rebuild(bk, roots, region)


class _Graph:
    """The nodes below some roots with their (lazy) arrays, as `lazy_values` reads them: a node whose array IS
    one of its operands' (``fit`` to an equal shape, a cast to the same dtype) stands for that operand
    (`rep`), and operands read only for their shape (`OpDef.meta`) carry no value (`reads`)."""

    def __init__(self, order: list[Tensor]) -> None:
        self.order = order
        self.val: dict[int, Any] = {}
        self.rep: dict[int, Tensor] = {}
        for n in order:
            v = n._value
            if v is None and n.op is not None:
                v = evaluate(n, [self.val[id(c)] for c in n.children])
            self.val[id(n)] = v
            if n.op is not None:
                for c in self.reads(n):
                    if self.val[id(c)] is v:
                        self.rep[id(n)] = c
                        break

    def of(self, c: Tensor) -> Tensor:
        return self.rep.get(id(c), c)

    def reads(self, n: Tensor) -> list[Tensor]:
        """``n``'s operands whose values it reads, each as the node it stands for."""
        meta = n.op.meta  # type: ignore[union-attr]  # (an op node)
        return [self.of(c) for i, c in enumerate(n.children) if i not in meta]

    def chunkwise(self, bk: Backend, n: Tensor) -> Any:
        """``n``'s blocking when it is an elementwise op of ``bk`` over arrays of its own shape and blocking (and
        Python numbers) that can run block by block; else None."""
        op, blocks_of = n.op, bk.blocks
        if op is None or not op.elementwise or op.meta or op.moves or n._bk is not bk or n._target is _RUNTIME:
            return None
        if id(n) in self.rep or blocks_of is None:
            return None
        v = self.val[id(n)]
        blocks = blocks_of(v) if bk.owns(v) else None
        if blocks is None or all(c._const for c in n.children):
            return None
        for c in n.children:
            cv = self.val[id(c)]
            if c._const and not bk.owns(cv):
                continue
            if not bk.owns(cv) or tuple(cv.shape) != tuple(v.shape) or blocks_of(cv) != blocks:
                return None
        return blocks

    def regions(self, bk: Backend) -> dict[int, int]:
        """Node id -> region number, for the elementwise nodes gathered into regions of two ops or more.

        A chunkwise node's stage is the latest stage it reads (a chunkwise operand's own, or one past the last
        region a non-chunkwise operand depends on), so a region never waits on itself through a reduction; a
        region is the chunkwise nodes of one stage and one blocking."""
        stage: dict[int, int] = {}  # chunkwise nodes
        after: dict[int, int] = {}  # other nodes: the first stage that may read them
        groups: dict[tuple[int, Any], list[int]] = {}
        for n in self.order:
            if n.op is None or id(n) in self.rep:
                continue
            blocks = self.chunkwise(bk, n)
            reads = self.reads(n)
            if blocks is None:
                after[id(n)] = max(
                    (stage[id(c)] + 1 if id(c) in stage else after.get(id(c), 0) for c in reads), default=0
                )
            else:
                s = max((stage[id(c)] if id(c) in stage else after.get(id(c), 0) for c in reads), default=0)
                stage[id(n)] = s
                groups.setdefault((s, blocks), []).append(id(n))
        region: dict[int, int] = {}
        for k, members in enumerate(m for m in groups.values() if len(m) > 1):
            for i in members:
                region[i] = k
        return region

    def rebuild(self, bk: Backend, roots: list[Tensor], region: dict[int, int]) -> list[Any]:
        """Every node's array again, each region one `Backend.blockwise` step, in an order where a region comes
        after everything it reads (Kahn's algorithm over the graph with each region one vertex). Operands read
        for their shape keep their arrays (the same shape): they order nothing."""
        val, order = self.val, self.order
        members: dict[int, list[Tensor]] = {}
        for n in order:
            if id(n) in region:
                members.setdefault(region[id(n)], []).append(n)
        outside = {id(self.of(t)) for t in roots if id(self.of(t)) in region}  # members read outside their region
        for n in order:
            if n.op is not None and id(n) not in self.rep:
                for c in self.reads(n):
                    if id(c) in region and region.get(id(n)) != region[id(c)]:
                        outside.add(id(c))

        def unit(n: Tensor) -> Any:
            return ("r", region[id(n)]) if id(n) in region else id(n)

        deps: dict[Any, set[Any]] = {}
        for n in order:
            if id(n) in self.rep:
                continue
            u = unit(n)
            d = deps.setdefault(u, set())
            for c in self.reads(n) if n.op is not None else ():
                if unit(c) != u:
                    d.add(unit(c))
        users: dict[Any, list[Any]] = {u: [] for u in deps}
        for u, d in deps.items():
            for c in d:
                users[c].append(u)
        left = {u: len(d) for u, d in deps.items()}
        ready = deque(u for u, k in left.items() if k == 0)
        node = {id(n): n for n in order}
        new: dict[int, Any] = {}
        while ready:
            u = ready.popleft()
            if isinstance(u, tuple):
                self.lower(bk, members[u[1]], new, outside)
            else:
                n = node[u]
                if n.op is not None and any(id(c) in new for c in self.reads(n)):
                    meta = n.op.meta
                    vals = [
                        val[id(c)] if i in meta else new.get(id(self.of(c)), val[id(c)])
                        for i, c in enumerate(n.children)
                    ]
                    new[u] = evaluate(n, vals)
            for w in users[u]:
                left[w] -= 1
                if left[w] == 0:
                    ready.append(w)
        return [new.get(id(self.of(t)), val[id(t)]) for t in roots]

    def lower(self, bk: Backend, nodes: list[Tensor], new: dict[int, Any], outside: set[int]) -> None:
        """One region as a block-by-block program: its inputs' arrays in, the arrays read outside it out (into
        ``new``). A step is (op name, params, cast dtype, operands, slots freed after it); an operand is a slot
        (the inputs first, then the steps' results) or a 1-tuple holding a Python number."""
        val = self.val
        mine = {id(n) for n in nodes}
        slot: dict[int, int] = {}
        inputs: list[Any] = []
        for n in nodes:  # (in topological order)
            for c in self.reads(n):
                if id(c) not in slot and id(c) not in mine and not (c._const and not bk.owns(val[id(c)])):
                    slot[id(c)] = len(inputs)
                    u = _uniform(c)  # a 0-d value broadcast: the region reads the 0-d array (no chunks of it)
                    inputs.append(
                        new.get(id(u), val[id(u)])
                        if u is not None and bk.owns(val[id(u)])
                        else new.get(id(c), val[id(c)])
                    )
        for j, n in enumerate(nodes):
            slot[id(n)] = len(inputs) + j
        kept = [n for n in nodes if id(n) in outside]
        outs = tuple(slot[id(n)] for n in kept)
        last: dict[int, int] = {}
        args_of = []
        for j, n in enumerate(nodes):
            args = tuple(slot[id(c)] if id(c) in slot else (val[id(c)],) for c in self.reads(n))
            args_of.append(args)
            for a in args:
                if isinstance(a, int):
                    last[a] = j
        frees: list[list[int]] = [[] for _ in nodes]
        for s, j in last.items():
            if s not in outs:
                frees[j].append(s)
        steps = tuple(
            (n.op.name, tuple(sorted(n.params.items())), n._target, args_of[j], tuple(frees[j]))  # type: ignore[union-attr]
            for j, n in enumerate(nodes)
        )
        arrays = bk.blockwise(_run, (steps, outs), inputs, [val[id(n)] for n in kept])  # type: ignore[misc]
        for n, a in zip(kept, arrays, strict=True):
            new[id(n)] = a


_EXPAND = OPS["expand"]


def _uniform(n: Tensor) -> Tensor | None:
    """The 0-d node whose value ``n`` repeats over its shape (a full sum's cotangent spread back, as a gradient's
    seed is), or None. A region reads the 0-d value and lets its ops broadcast it: the same numbers, with no
    chunks of copies to make, hold or send between workers."""
    if n.op is _EXPAND and not n.params["mean"] and n.children[0]._shape == ():
        return n.children[0]
    return None


def _run(program: tuple[Any, ...], *blocks: Any) -> tuple[Any, ...]:
    """A region's program on one block of each input (NumPy or CuPy arrays): the ops as `build.evaluate`
    runs them (cast to the node's dtype first where it has one), with the chunks' own library."""
    steps, outs = program
    cbk = backend_of(blocks[0])
    assert cbk is not None  # (a block of an array of a supported library)
    slots: list[Any] = [*blocks, *([None] * len(steps))]
    base = len(blocks)
    for j, (name, params, target, args, frees) in enumerate(steps):
        op = OPS[name]
        vals = [slots[a] if isinstance(a, int) else a[0] for a in args]
        if target is not None:
            for i in op.promote:
                if isinstance(args[i], int) and vals[i].dtype != target:
                    vals[i] = cbk.xp.astype(vals[i], target)
        slots[base + j] = cbk.fn(op)(*vals, **dict(params))
        for s in frees:
            slots[s] = None
    shape = max((b.shape for b in blocks), key=len)  # the block's (0-d inputs are uniform values)
    return tuple(_full(cbk, slots[s], shape) for s in outs)


def _full(cbk: Any, v: Any, shape: tuple[int, ...]) -> Any:
    """``v`` as a block of ``shape``: a value computed from uniform inputs only is 0-d, and repeats."""
    return v if v.shape == shape else cbk.xp.asarray(cbk.xp.broadcast_to(v, shape), copy=True)
