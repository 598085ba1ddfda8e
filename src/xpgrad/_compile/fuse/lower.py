"""Lowering a graph to a straight-line scalar program: the one representation both code generators read.

Every node a fused kernel needs becomes one instruction ``var = op(args)`` on scalars. A value is of
class ``"v"`` (varies per element: an input array or anything computed from one), ``"s"`` (the same
for every element: a constant, a 0-d array, ``ones_like``; computed once, before the pass) or ``"r"`` (a full
``sum``/``mean``/``prod``: only allowed as an output, accumulated across the pass). The structural ops the
reverse sweep builds are lowered away: ``ones_like``/``zeros_like`` are literals, ``expand`` of a 0-d cotangent
is that scalar (divided by the count for ``mean``), ``fit``/``broadcast_like`` are the identity between shapes
the call shape must match (checked on each call), and a ``fit`` down to one element (a gradient of a 0-d or
``(1,)`` parameter) is a full sum, or the count times a uniform value. Anything else raises `FusionError`,
naming the op.

Basic indexing is done by the host, on the arrays the kernel reads: ``x[1:]`` of an input or captured leaf ``x``
is an array made at each call (a view, copied only when the kernel cannot read it flat); indexing a computed value
is pushed down to the leaves it is computed from (``sin(x)[1:]`` is ``sin(x[1:])``). Its adjoint, ``unindex(g,
ref, key)`` (zeros shaped like ``ref``, ``g`` written at ``ref[key]``), is ``where(mask, g', 0)`` in ``ref``'s
shape, ``mask`` true at ``ref[key]`` and ``g'`` computed from its leaves scattered into ``ref``'s shape the same
way; a leaf ``ref`` read as ``ref[key]`` is ``ref`` itself there (the mask hides the rest). A leaf carries these
host steps as its *space* (`Space`): the same node read in two spaces is two arrays.

The kernel reads every array it takes at the same shape (the call's): where every array's shape is static and
they differ, the smaller ones are broadcast by the host (a copy each call), else a call of arrays of two shapes
is refused. Inputs the kernel does not read (unused, or only returned) are checked against their declared
shape only, and an input or captured leaf that is an output is returned as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..._core.opdef import OPS, CForm, OpDef
from ..._core.tensor import Tensor
from ..._core.walk import toposort
from ..._dtypes import dtype_name
from ..._shapes import indexed, unpack_key
from .integers import INTEGER_DTYPES, refusal

__all__ = [
    "MAX_INSTRUCTIONS",
    "FusionError",
    "Instr",
    "Program",
    "arguments",
    "call_shape",
    "captured_cache",
    "captured_values",
    "derive",
    "form",
    "host_output",
    "lower",
    "passed",
    "sources",
]

_SHAPE_ONLY = {
    "ones_like": (),
    "zeros_like": (),
    "expand": (0,),
    "fit": (0,),
    "broadcast_like": (0,),
    "unindex": (0,),
}
"""Structural ops and which of their operands carry values (the others give only a shape)."""

REDUCTIONS = {"sum": "sum", "mean": "sum", "prod": "prod"}
"""The reductions a kernel ends with, by op: the accumulation each is (a mean is a sum divided by the count)."""

MAX_INSTRUCTIONS = 25_000
"""The largest program compiled into one kernel: a 12,500-op chain with its gradient. The CPU kernel compiles in
~0.25 ms of CPU an instruction up to a few thousand, ~0.35 ms at 20,000 (`native`; 2,004 instructions 0.54 s,
20,004 7.2 s on the 2-core VM, issue 18), growing faster past that: a longer program is refused when fusing, with
these figures (run it unfused, or fuse parts of it). (Before `native`, numba compiled the generated
loop at ~2 ms an instruction, 772 s for 25,003, and a 10^5-op chain ran 18 minutes and 3.1 GB before it was
stopped: the limit was 10,000.)"""

Space = tuple[tuple[Any, ...], ...]
"""Host steps applied to a leaf's array, first to last: ``("index", key)``; ``("unindex", key, ref)`` (zeros
shaped like ``ref``, the array written at ``[key]``); ``("mask", key, ref)`` (the first step of a mask: false
shaped like ``ref``, true at ``[key]``); ``("broadcast", shape)``. ``ref`` is ``("var", v)`` (an input's or
captured leaf's array: its shape at the call) or ``("shape", s)`` (a static shape). The empty space is the leaf."""


class FusionError(ValueError):
    """A graph cannot be lowered to one fused elementwise pass."""


@dataclass(frozen=True)
class Instr:
    var: str
    # an op of the table with a fused form (`form`); "literal" (args[0]: the value); "sum"/"prod" (args[0]: the
    # operand); "count" (n)
    op: str
    args: tuple[Any, ...]
    kind: str  # "v", "s" or "r"
    dtype: str  # "float64", "float32" or "bool"; a sum of bools: NumPy's count dtype ("int64")


@dataclass
class Program:
    """The kernel: array inputs (``a0``... then captured arrays ``c0``...), instructions, outputs."""

    dtype: str
    inputs: list[str]  # the caller's arrays, in order
    captured: list[tuple[str, Tensor]]  # (var, leaf) of leaves the graph holds that are not inputs
    scalar_inputs: set[str]  # input, captured or derived vars that are 0-d (passed as scalars)
    body: list[Instr] = field(default_factory=list)
    # (var, how): how is "elem" (an array of the call's shape), "sum" | "mean" | "prod" (a reduction), "uniform"
    # (a 0-d value computed once), "pass" (an input or captured leaf, returned as it is) or "host" (made by the
    # host: `host_output`)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    sum_shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)  # output k's shape, when a sum's is not ()
    checks: dict[tuple[Any, ...], str] = field(default_factory=dict)  # shape pattern -> what: the call shape's patterns
    checked: set[tuple[int, ...]] = field(default_factory=set)  # call shapes that passed ``checks`` (a cache)
    # ``pow`` instructions whose exponent is a number or a 0-d array in the graph: NumPy's power takes the
    # square root for such an exponent of 0.5 (sqrt(-0.0) is -0.0, pow's +0.0; sqrt(-inf) nan, pow's inf)
    scalar_exponents: set[str] = field(default_factory=set)
    feeds: list[Tensor] = field(default_factory=list)  # the inputs themselves (how a number argument is made)
    results: list[Tensor] = field(default_factory=list)  # the outputs themselves (what kind a 0-d one is)
    read: set[str] = field(default_factory=set)  # the input and captured vars the kernel reads
    derived: list[tuple[str, str | None, Space]] = field(default_factory=list)  # (var, base var, steps) by the host
    array_dtypes: dict[str, str] = field(default_factory=dict)  # kernel arrays not of the program's dtype (masks)
    out_shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)  # an elementwise output of one element
    host: dict[int, tuple[str, Any, Any]] = field(default_factory=dict)  # output k made by the host: `host_output`
    labels: dict[str, str] = field(default_factory=dict)  # what each kernel array is, for errors
    arrays: list[str] = field(default_factory=list)  # the kernel's array parameters, in order (`lower` sets it)

    @property
    def sums(self) -> list[str]:
        """The reduced vars (accumulators), in output order, each once."""
        return list(dict.fromkeys(v for v, how in self.outputs if how in REDUCTIONS))

    def summand(self, var: str) -> str:
        return self.body[int(var[1:])].args[0]

    def reduction(self, var: str) -> str:
        """How the accumulator ``var`` adds up: "sum" or "prod"."""
        return self.body[int(var[1:])].op

    @property
    def output_dtypes(self) -> list[str]:
        """Each output's dtype, in order: its instruction's (a comparison's is bool), else the program's."""
        var_dtype = {i.var: i.dtype for i in self.body}
        return [var_dtype.get(v, self.dtype) for v, _ in self.outputs]


def arguments(prog: Program, arrays: tuple[Any, ...]) -> tuple[Any, ...]:
    """The call's arguments, a Python number or list made an array as feeding its input makes it (as
    `xpgrad.function` takes them), after checking their count."""
    n_in = len(prog.inputs)
    if len(arrays) != n_in:
        raise TypeError(f"fused function takes {n_in} arrays but {len(arrays)} were given")
    if all(hasattr(a, "dtype") for a in arrays):
        return arrays
    out = list(arrays)
    for k, (t, a) in enumerate(zip(prog.feeds, arrays, strict=True)):
        if not hasattr(a, "dtype"):
            try:
                out[k] = t._coerce(a, None)
            except TypeError as e:
                raise TypeError(f"fused function: input {k}: {e}") from None
    return tuple(out)


def call_shape(
    prog: Program, arrays: tuple[Any, ...], dtype: Any, captured: Sequence[tuple[int, ...]] = (), derived: Any = ()
) -> tuple[int, ...]:
    """The shape of one call's elementwise outputs, after checking the arrays (dtype, shapes).

    The kernels read the arrays they take at every element, except the 0-d ones of ``prog.scalar_inputs``
    (read once): so each must be 0-d exactly when lowered as such, and every other one must have the call's
    shape (a kernel does not broadcast; it would read past the end). ``captured`` holds the captured leaves'
    current shapes (`captured_values`), ``derived`` the host's arrays (`derive`). Inputs the kernel does not read
    are checked against their declared shapes only. The shapes the lowering took as the call's (``prog.checks``:
    a gradient's target, an output) must match it too.
    """
    shape: tuple[int, ...] | None = None
    first = ""
    read = prog.read
    for k, (v, a) in enumerate(zip(prog.inputs, arrays, strict=True)):
        if v not in read:  # (unused, only returned, or read through the host's arrays): as declared
            try:
                prog.feeds[k]._check_feed(a)
            except (TypeError, ValueError) as e:
                raise type(e)(f"fused function: input {k}: {e}") from None
            continue
        if a.dtype != dtype:
            raise TypeError(f"fused function: input {k} has dtype {a.dtype}; it was compiled for {dtype}")
        if (a.ndim == 0) != (v in prog.scalar_inputs):
            raise ValueError(
                f"fused function: input {k} has shape {tuple(a.shape)}; it was fused as "
                f"{'a 0-d array' if v in prog.scalar_inputs else 'an array of one or more dimensions'}"
            )
        if a.ndim:
            got = tuple(a.shape)
            if shape is None:
                shape, first = got, f"input {k} ({prog.labels[v]})"
            elif got != shape:
                raise ValueError(
                    f"fused function: input {k} ({prog.labels[v]}) has shape {got} and {first} has shape {shape}; "
                    "a fused kernel reads every array at one shape, it does not broadcast (broadcast it when "
                    "building the graph, or run the graph unfused: fuse(..., engine='unfused'))"
                )
    if shape is None:
        shape = next((c for (v, _), c in zip(prog.captured, captured, strict=True) if c and v in prog.read), None)
        if shape is None:
            shape = next((tuple(d.shape) for d in derived if d.ndim), ())
    for (v, _), c in zip(prog.captured, captured, strict=True) if captured else ():
        if c and c != shape and v in prog.read:
            raise ValueError(
                f"fused function: the graph holds an array of shape {c} and the inputs have "
                f"shape {shape}; a fused kernel does not broadcast (broadcast the array when building the graph)"
            )
    for (v, _, _), d in zip(prog.derived, derived, strict=True) if derived else ():
        if v not in prog.array_dtypes and d.dtype != dtype:
            raise TypeError(f"fused function: {prog.labels[v]} has dtype {d.dtype}; it was compiled for {dtype}")
        if (d.ndim == 0) != (v in prog.scalar_inputs) or (d.ndim and tuple(d.shape) != shape):
            raise ValueError(
                f"fused function: {prog.labels[v]} has shape {tuple(d.shape)} and the other arrays the kernel reads "
                f"have shape {shape}; a fused kernel reads every array at one shape (run the graph unfused: "
                "fuse(..., engine='unfused'))"
            )
    if prog.checks and shape not in prog.checked:  # (the patterns cost ~2 us a call: checked once per shape)
        for pattern, what in prog.checks.items():
            if len(pattern) != len(shape) or any(
                p is not None and p != d for p, d in zip(pattern, shape, strict=False)
            ):
                raise ValueError(
                    f"fused function: {what} has shape {pattern} and the inputs have shape {shape}; the kernel was "
                    "fused for one shape (run this call unfused: fuse(..., engine='unfused'))"
                )
        if len(prog.checked) >= 64:  # a bound, for calls of ever new shapes
            prog.checked.clear()
        prog.checked.add(shape)
    return shape


Cache = tuple[list[Any], list[int], list[tuple[int, ...]], list[Any]]


def captured_cache(prog: Program) -> Cache:
    """An empty cache for `captured_values`: each captured leaf's last value, the stamp of its last feed, its
    shape and its conversion."""
    n = len(prog.captured)
    return [_UNSEEN] * n, [-1] * n, [()] * n, [None] * n


_UNSEEN = object()


def sources(prog: Program) -> list[tuple[str, int]]:
    """Where each of the kernel's arrays (``prog.arrays``) comes from: ``("a", j)`` the call's j-th array,
    ``("c", j)`` the j-th captured leaf (`captured_values`), ``("d", j)`` the j-th derived array (`derive`)."""
    captured_pos = {v: j for j, (v, _) in enumerate(prog.captured)}
    return [("c", captured_pos[v]) if v[0] == "c" else (v[0], int(v[1:])) for v in prog.arrays]


def captured_values(
    prog: Program, cache: Cache, convert: Callable[[Tensor, Any], Any]
) -> tuple[list[tuple[int, ...]], list[Any]]:
    """The shapes and ``convert(leaf, value)`` of the captured leaves' current values, in ``prog.captured`` order
    (``value`` on the leaf's backend: the engine moves it, a CuPy value to a CUDA kernel without a host copy).

    A captured leaf is read at every call, as `xpgrad.function` reads it (``w.value = ...`` between calls
    is seen); it is converted for the kernel only when it was fed since (``cache``, from `captured_cache`,
    keeps the last value and feed stamp), so an unchanged parameter costs two tests a call. A feed of the same
    array counts (``w.value += 1`` changes it in place: a conversion that copied, a non-contiguous leaf's or a
    host leaf's for the GPU, would be stale), as `xpgrad.function` does.
    """
    values, stamps, shapes, args = cache
    for j, (v, leaf) in enumerate(prog.captured):
        value = leaf._value
        if value is values[j] and leaf._epoch == stamps[j]:
            continue
        if value is None:
            raise ValueError(f"fused function: captured {leaf._label()} has no value; set it, or list it in inputs")
        shape, got = tuple(value.shape), dtype_name(leaf._bk.xp, value.dtype)
        if got != prog.dtype and v in prog.read:
            raise TypeError(
                f"fused function: captured {leaf._label()} now has dtype {got}; it was fused "
                f"for {prog.dtype} (cast the new value, or fuse again)"
            )
        if (shape == ()) != (v in prog.scalar_inputs) and v in prog.read:
            raise ValueError(
                f"fused function: captured {leaf._label()} now has shape {shape}; it was fused as "
                f"{'a 0-d array' if v in prog.scalar_inputs else 'an array of one or more dimensions'} (fuse again)"
            )
        values[j], stamps[j], shapes[j], args[j] = value, leaf._epoch, shape, convert(leaf, value)
    return shapes, args


def derive(prog: Program, arrays: Sequence[Any], captured: Sequence[Any], xp: Any) -> list[Any]:
    """The host's arrays of one call (``prog.derived``: indexed, scattered or broadcast inputs and captured
    leaves, and masks), from the call's arrays and the captured leaves' converted values, with ``xp``'s functions."""
    if not prog.derived:
        return []

    def value(v: str) -> Any:
        return passed(prog, v, arrays, captured)

    def ref_shape(ref: tuple[str, Any]) -> tuple[int, ...]:
        return tuple(value(ref[1]).shape) if ref[0] == "var" else ref[1]

    out = []
    bases: dict[Space, tuple[str, tuple[int, ...]]] = {}
    for v, base, steps in prog.derived:
        a: Any = None if base is None else value(base)
        if base is not None and steps[0][0] != "broadcast":  # an op pushed down an indexing: its operands of one shape
            first = bases.setdefault(steps, (base, tuple(a.shape)))
            if first[1] != tuple(a.shape):
                raise ValueError(
                    f"fused function: {prog.labels[first[0]]} has shape {first[1]} and {prog.labels[base]} has "
                    f"shape {tuple(a.shape)}, and an op of both is indexed; a fused kernel indexes operands of one "
                    "shape only (run the graph unfused: fuse(..., engine='unfused'))"
                )
        try:
            for step in steps:
                if step[0] == "index":
                    a = a[unpack_key(step[1])]
                elif step[0] == "broadcast":
                    a = xp.broadcast_to(a, step[1])
                else:  # "unindex" or "mask": zeros shaped like ref, the array (or true) written at [key]
                    fill = a if step[0] == "unindex" else True
                    z = xp.zeros(ref_shape(step[2]), dtype=bool if fill is True else a.dtype)
                    k = tuple(i for i in unpack_key(step[1]) if i is not None)  # new axes are size 1: drop them
                    z[k] = fill if fill is True else xp.reshape(fill, tuple(z[k].shape))
                    a = z
        except (ValueError, IndexError) as e:
            raise ValueError(f"fused function: {prog.labels[v]}: {e} (run the graph unfused to see where)") from None
        out.append(a)
    return out


def passed(prog: Program, v: str, arrays: Sequence[Any], captured: Sequence[Any]) -> Any:
    """The value of input or captured var ``v``: the call's input, or the captured leaf's current value, as it is."""
    return arrays[int(v[1:])] if v[0] == "a" else captured[int(v[1:])]


def host_output(prog: Program, k: int, arrays: Sequence[Any], captured: Sequence[Any], xp: Any) -> Any:
    """Output ``k`` made by the host, as the unfused graph makes it: ``zeros_like``/``ones_like`` of an input or
    captured leaf, or of a static shape (the gradient of an input the outputs do not depend on)."""
    what, fill, ref = prog.host[k]
    if ref[0] == "var":
        a = passed(prog, ref[1], arrays, captured)
        return xp.zeros_like(a) if fill == 0 else xp.ones_like(a)
    return xp.full(ref[1], fill, dtype=what)


def form(op: str) -> CForm:
    """The fused form of an instruction's ``op`` on floating or bool operands, an op of the table with one (`lower`
    emits no other; on integer operands, its `OpDef.int_c`: `integers.integer_form`)."""
    c = OPS[op].c
    assert c is not None, op
    return c


def _label(node: Tensor) -> str:
    return node.op.name if node.op is not None else ("a constant" if node._const else "a leaf")


def _static(shape: Any) -> bool:
    return shape is not None and None not in shape


def _dims(shape: Any) -> tuple[int, ...]:
    """A static shape (`_static`, or known not None) as a tuple of sizes."""
    return tuple(shape)


def _op(node: Tensor) -> OpDef:
    """The op of an op node."""
    assert node.op is not None, node
    return node.op


def _child_space(node: Tensor, k: int, sp: Space) -> Space:
    """The space operand ``k`` of ``node`` is read in, for ``node`` in space ``sp``."""
    name = _op(node).name
    if name == "index":
        return (("index", node.params["key"]), *sp)
    if name == "unindex":
        return (("unindex", node.params["key"], id(node.children[1])), *sp)
    if sp and node.children[k]._shape == ():  # a 0-d operand is the same in every space
        return ()
    return sp


def lower(inputs: list[Tensor], outputs: list[Tensor]) -> Program:
    """The scalar program computing ``outputs`` from ``inputs``, or a FusionError naming the op."""
    order = toposort(outputs)
    need: dict[int, list[Space]] = {}  # the spaces each node is needed in; outputs in the empty one
    for o in outputs:
        need.setdefault(id(o), [()])
    operands: set[int] = set()  # nodes read as the value operand of an op (not only returned, or for a shape)
    refs: dict[int, Tensor] = {}  # the targets of ``unindex`` (its host steps name them)
    for node in reversed(order):
        spaces = need.get(id(node))
        if not spaces or node.op is None:
            continue
        if node.op.name == "unindex":
            refs[id(node.children[1])] = node.children[1]
        for k in _SHAPE_ONLY.get(node.op.name, range(len(node.children))):
            c = node.children[k]
            operands.add(id(c))
            for sp in spaces:
                csp = _child_space(node, k, sp)
                have = need.setdefault(id(c), [])
                if csp not in have:
                    have.append(csp)
    input_var = {id(t): f"a{k}" for k, t in enumerate(inputs)}
    leaves = [t for t in order if id(t) in operands and t.op is None and not t._const]
    dt = _program_dtype(inputs, leaves, order, need)
    prog = Program(dtype=dt, inputs=[input_var[id(t)] for t in inputs], captured=[], scalar_inputs=set())
    prog.feeds, prog.results = list(inputs), list(outputs)
    # every 0-d input is passed as a scalar, read by the outputs or not: the call checks each input against this
    prog.scalar_inputs.update(input_var[id(t)] for t in inputs if t._shape == ())
    for t in inputs:
        prog.labels[input_var[id(t)]] = t._label()
    low = _Lowering(prog, input_var, dt, _broadcast_shape(leaves, need), refs)
    for node in order:
        if node.op is None and not node._const and id(node) not in operands:
            continue  # a leaf only returned (as it is), or read for its shape
        for sp in need.get(id(node), ()):
            low.node(node, sp)
    for k, o in enumerate(outputs):
        low.output(k, o)
    low.shape_source(outputs)
    for k, t in enumerate(inputs):  # as the unfused graph checks its placeholders (a graph of sums has no other check)
        if t._shape and input_var[id(t)] in prog.read:
            prog.checks.setdefault(tuple(t._shape), f"input {k} ({t._label()}) as declared")
    prog.arrays = [
        *(v for v in prog.inputs if v in prog.read),
        *(c for c, _ in prog.captured if c in prog.read),
        *(d for d, _, _ in prog.derived),
    ]
    _refuse_static_mismatch(prog, low)
    if len(prog.body) > MAX_INSTRUCTIONS:
        raise FusionError(
            f"fuse: the graph lowers to {len(prog.body):,} scalar instructions, more than the {MAX_INSTRUCTIONS:,} "
            "one kernel is compiled from (20,004 instructions took 7 s of CPU on a 2-core machine, and compile time "
            "grows faster than the program past that); fuse parts of the graph separately, or run it unfused "
            "(fuse(..., engine='unfused'))"
        )
    return prog


def _program_dtype(inputs: list[Tensor], leaves: list[Tensor], order: list[Tensor], need: dict) -> str:
    """The program's one real floating dtype: that of the inputs and leaves the kernel reads (an input only
    returned, or unused, is checked against its own declaration)."""
    dtypes = {dtype_name(t._bk.xp, t._dtype) for t in leaves if t._dtype is not None}
    if not dtypes:  # nothing read: the inputs' (or a graph of constants fails below)
        dtypes = {dtype_name(t._bk.xp, t._dtype) for t in inputs if t._dtype is not None}
        dtypes |= {dtype_name(t._bk.xp, t._dtype) for t in order if id(t) in need and t.op is None and t._dtype}
    if len(dtypes) != 1 or not dtypes <= {"float32", "float64", *INTEGER_DTYPES}:
        raise FusionError(
            f"fuse: every input must have the same real floating or integer dtype, known when fusing; got "
            f"{sorted(dtypes) or 'undeclared dtypes'}; declare placeholders with dtype='float64' (or cast)"
        )
    return next(iter(dtypes))


def _leaf_shape(t: Tensor) -> Any:
    return tuple(t._value.shape) if t._value is not None and not t._ph and t.op is None else t._shape


def _broadcast_shape(leaves: list[Tensor], need: dict) -> tuple[int, ...] | None:
    """The shape the kernel runs at when the leaves it reads have static shapes that differ but broadcast
    together (each smaller one is then broadcast by the host); None otherwise (they must be equal at each call)."""
    shapes = [_leaf_shape(t) for t in leaves]
    nd = [s for s in shapes if s != ()]
    if len(set(nd)) < 2 or not all(_static(s) for s in nd):
        return None
    if any(sp for t in leaves for sp in need[id(t)]):  # indexing as well: not both
        return None
    try:
        return _broadcast_shapes(nd)
    except ValueError:
        return None  # refused by `_refuse_static_mismatch`, naming two of them


def _broadcast_shapes(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    nd = max(len(s) for s in shapes)
    out = [1] * nd
    for s in shapes:
        for i, d in enumerate(s, nd - len(s)):
            if d != 1 and out[i] not in (1, d):
                raise ValueError(f"shapes {shapes} do not broadcast")
            out[i] = d if d != 1 else out[i]
    return tuple(out)


def _refuse_static_mismatch(prog: Program, low: _Lowering) -> None:
    """Refuse, naming both, two arrays the kernel would read whose static shapes can never be equal."""
    seen: list[tuple[str, Any]] = []
    for v in prog.arrays:
        s = low.static.get(v)
        if s is None or s == () or v in prog.scalar_inputs:
            continue
        for w, other in seen:
            if len(s) != len(other) or any(
                p is not None and q is not None and p != q for p, q in zip(s, other, strict=False)
            ):
                raise FusionError(
                    f"fuse: the kernel would read {prog.labels[v]} of shape {s} and {prog.labels[w]} of shape "
                    f"{other}; a fused kernel reads every array at one shape, broadcasting only between static "
                    "shapes that broadcast (broadcast one when building the graph, or run the graph unfused: "
                    "fuse(..., engine='unfused'))"
                )
        seen.append((v, s))


class _Lowering:
    """The state of one `lower`: each (node, space)'s var and kind, and the program being written."""

    def __init__(
        self, prog: Program, input_var: dict[int, str], dt: str, shape: tuple[int, ...] | None, refs: dict[int, Tensor]
    ) -> None:
        self.prog, self.input_var, self.dt = prog, input_var, dt
        self.bshape = shape  # the kernel's static shape, when the host broadcasts (`_broadcast_shape`)
        self.var: dict[tuple[int, Space], str] = {}
        self.kind: dict[tuple[int, Space], str] = {}
        self.leaf_var: dict[int, str] = {}  # an input's or captured leaf's var
        self.derived: dict[tuple[str | None, Space], str] = {}
        self.static: dict[str, Any] = {}  # each kernel array's static shape, where known
        self.refs = refs

    def emit(self, op: str, args: tuple[Any, ...], kind: str, dt: str) -> str:
        return _emit(self.prog, op, args, kind, dt)

    def get(self, node: Tensor, sp: Space) -> tuple[str, str]:
        key = (id(node), sp)
        return self.var[key], self.kind[key]

    def node(self, node: Tensor, sp: Space) -> None:
        key = (id(node), sp)
        if node._const:
            v, k = _literal(self.prog, node._value, "bool" if type(node._value) is bool else self.dt), "s"
        elif node.op is None:
            v, k = self.leaf(node, sp)
        else:
            v, k = self.op(node, sp)
        self.var[key], self.kind[key] = v, k

    # ----------------------------------------------------------------- leaves
    def base(self, node: Tensor) -> str:
        """The var of an input or captured leaf (a captured one is read at each call: `captured_values`)."""
        v = self.input_var.get(id(node)) or self.leaf_var.get(id(node))
        if v is not None:
            return v
        if node._value is None:
            raise FusionError(
                f"fuse: the graph needs placeholder {node.name or ''!s} that is not among the inputs; pass it"
            )
        v = self.leaf_var[id(node)] = f"c{len(self.prog.captured)}"
        self.prog.captured.append((v, node))
        self.prog.labels[v] = f"captured {node._label()}"
        if tuple(node._value.shape) == ():
            self.prog.scalar_inputs.add(v)
        return v

    def leaf(self, node: Tensor, sp: Space) -> tuple[str, str]:
        v = self.base(node)
        shape = _leaf_shape(node)
        if self.bshape is not None and shape not in ((), self.bshape):
            sp = (("broadcast", self.bshape),)
        steps = list(sp)
        while len(steps) > 1 and steps[0][0] == "index" and steps[1][0] == "unindex" and steps[0][1] == steps[1][1]:
            if steps[1][2] != id(node):  # unindex(x[key], x, key) is x where the mask reads it
                break
            del steps[:2]
        if not steps:
            self.prog.read.add(v)
            self.static[v] = shape
            return v, ("s" if shape == () else "v")
        return self.derive(v, node._label(), shape, tuple(steps))

    def derive(self, base: str | None, what: str, shape: Any, steps: tuple[Any, ...]) -> tuple[str, str]:
        """The var of the host's array ``steps`` of ``base`` (a mask when ``base`` is None)."""
        steps = tuple((s[0], s[1], self.ref(s[2])) if s[0] in ("unindex", "mask") else s for s in steps)
        key = (base, steps)
        v = self.derived.get(key)
        if v is None:
            for s in steps:
                if s[0] == "index":
                    shape = indexed(shape, s[1])
                elif s[0] == "broadcast":
                    shape = s[1]
                else:
                    shape = s[2][1] if s[2][0] == "shape" else self._ref_shape(s[2][1])
            v = self.derived[key] = f"d{len(self.prog.derived)}"
            self.prog.derived.append((v, base, steps))
            self.prog.labels[v] = f"the host's {'mask' if base is None else 'array'} of {what}"
            self.static[v] = shape
            if base is None:
                self.prog.array_dtypes[v] = "bool"
            if shape == ():
                self.prog.scalar_inputs.add(v)
        return v, ("s" if v in self.prog.scalar_inputs else "v")

    def _ref_shape(self, v: str) -> Any:
        if v[0] == "a":
            return self.prog.feeds[int(v[1:])]._shape
        return _leaf_shape(self.prog.captured[int(v[1:])][1])

    def ref(self, ref: Any) -> tuple[str, Any]:
        """An ``unindex``/mask target (a node's id) as the host finds its shape: an input's or captured leaf's array,
        or a static shape."""
        if isinstance(ref, tuple):
            return ref
        node = self.refs[ref]
        if node.op is None and not node._const:
            return ("var", self.base(node))
        if _static(node._shape):
            return ("shape", _dims(node._shape))
        raise FusionError(
            f"fuse: op 'unindex' (the gradient of an indexing) writes into {node._label()} of unknown shape "
            f"{node._shape}; declare the shapes of placeholders, or run the graph unfused"
        )

    # ----------------------------------------------------------------- ops
    def op(self, node: Tensor, sp: Space) -> tuple[str, str]:
        name = _op(node).name
        prog, dt = self.prog, self.dt
        kids: list[tuple[str, str]] = []
        for k in _SHAPE_ONLY.get(name, range(len(node.children))):
            v, c = self.get(node.children[k], _child_space(node, k, sp))
            if c == "r":
                what = "product" if prog.reduction(v) == "prod" else "sum"
                raise FusionError(
                    f"fuse: op {name!r} uses the result of a {what} inside the graph; a fused kernel can only end "
                    f"with {what}s (split the computation, or run it unfused)"
                )
            kids.append((v, c))
        if name in ("ones_like", "zeros_like"):
            return _literal(prog, 1 if name == "ones_like" else 0, dt), "s"
        if name == "index":
            return kids[0]
        if name == "unindex":
            mask_steps = (("mask", node.params["key"], id(node.children[1])), *sp)
            mask, _ = self.derive(None, f"op 'unindex' ({node._label()})", None, mask_steps)
            g, g_dt = kids[0][0], _dtype_of(prog, kids[0][0])
            zero = _literal(prog, False if g_dt == "bool" else 0, g_dt)
            return self.emit("where", (mask, g, zero), "v", g_dt), "v"
        if name == "expand":
            g, gk = kids[0]
            if node.children[0]._shape != ():
                raise FusionError("fuse: op 'expand' of a partial reduction cannot be fused; only full sums can")
            if not node.params["mean"]:
                return g, gk
            if _static(node._shape):
                count = _literal(prog, math.prod(_dims(node._shape)), dt)
            else:
                self._refuse_count(name, sp)
                count = self.emit("count", (), "s", dt)
            return self.emit("divide", (g, count), gk, dt), gk
        if name in ("fit", "broadcast_like"):
            return self.fit(node, kids[0][0], kids[0][1], sp)
        if name in REDUCTIONS:
            return self.reduction(node, kids[0], sp)
        ints = sorted({d for d in (_dtype_of(prog, v) for v, _ in kids) if d in INTEGER_DTYPES})
        why = refusal(_op(node), ints[0]) if ints else None
        if why is not None:
            raise FusionError(why)
        if (_op(node).c is None and not ints) or not _op(node).elementwise:
            fusible = sorted(n for n, op in OPS.items() if op.c is not None and op.elementwise)
            raise FusionError(
                f"fuse: op {name!r} has no fused form; fusible ops are {', '.join(fusible)}, plus full sums, means "
                "and products, and basic indexing"
            )
        if sp:  # pushed down an indexing: each operand must be indexed as the result is
            for child in node.children:
                if child._shape != () and not _may_equal(child._shape, node._shape):
                    raise FusionError(
                        f"fuse: op {name!r} broadcasts an operand of shape {child._shape} to {node._shape} and is "
                        "indexed "
                        "(or its gradient is); index the operands instead, or run the graph unfused"
                    )
        c = "v" if any(k == "v" for _, k in kids) else "s"
        if name == "multiply":  # 1 * x == x exactly (graphs of placeholders keep these: shapes unknown)
            for j in (0, 1):
                one, other = kids[j], kids[1 - j]
                if _is_literal_one(prog, one[0]) and node._dtype == node.children[1 - j]._dtype:
                    return other
        out_dt = _result_dtype(node, dt)
        v = self.emit(name, tuple(v for v, _ in kids), c, out_dt)
        if name == "pow" and node.children[1]._shape == ():
            prog.scalar_exponents.add(v)
        return v, c

    def _refuse_count(self, name: str, sp: Space) -> None:
        if sp:
            raise FusionError(
                f"fuse: op {name!r} counts the elements of a value of unknown size inside an indexing; declare the "
                "shapes of placeholders, or run the graph unfused"
            )

    def _at_call_shape(self, name: str, shape: Any) -> None:
        """Where the host broadcasts, a reduction's operand must have the kernel's whole shape."""
        if self.bshape is not None and shape != self.bshape:
            raise FusionError(
                f"fuse: op {name!r} reduces a value of shape {shape} in a kernel run at the broadcast shape "
                f"{self.bshape}; fuse it separately, or run the graph unfused"
            )

    def reduction(self, node: Tensor, kid: tuple[str, str], sp: Space) -> tuple[str, str]:
        name = _op(node).name
        prog, dt = self.prog, self.dt
        axis = node.params["axis"]
        nd = None if node.children[0]._shape is None else len(node.children[0]._shape)
        full = axis is None or (nd is not None and len(_axes(axis)) == nd)
        if not full or (node.params["keepdims"] and nd is None):
            raise FusionError(f"fuse: op {name!r} over some axes cannot be fused; only full sums can")
        if sp:
            raise FusionError(f"fuse: op {name!r} inside an indexing cannot be fused; only final reductions can")
        if node.children[0]._shape == () and _dtype_of(prog, kid[0]) == dt:
            return kid  # of a 0-d value: that value (as NumPy's reduction over no axis returns it, -0.0 included)
        if kid[1] != "v":
            raise FusionError(f"fuse: op {name!r} of a value that does not vary per element; compute it directly")
        self._at_call_shape(name, node.children[0]._shape)
        out_dt = dt
        if _dtype_of(prog, kid[0]) == "bool":  # a count: in the dtype the backend gives (NumPy: int64)
            if name == "prod":
                raise FusionError("fuse: op 'prod' of a bool value cannot be fused; cast it first (or use all)")
            out_dt = _bool_sum_dtype(node, name)
        elif dt in INTEGER_DTYPES:  # in the backend's dtype for this one (NumPy: int64 for an int8 sum, as uint64...)
            out_dt = _integer_sum_dtype(node, name, dt)
            if out_dt not in INTEGER_DTYPES:
                raise FusionError(
                    f"fuse: op {name!r} of {dt} values computes in {out_dt}; a fused kernel of {dt} values adds "
                    "integers only (cast to a floating dtype first, or run unfused)"
                )
        elif node._dtype is not None and dtype_name(node._bk.xp, node._dtype) != dt:
            raise FusionError(
                f"fuse: op {name!r} computes in {dtype_name(node._bk.xp, node._dtype)} in a {dt} program; a fused "
                f"kernel computes in {dt} only (run unfused)"
            )
        return self.emit(REDUCTIONS[name], (kid[0],), "r", out_dt), "r"

    def fit(self, node: Tensor, g: str, k: str, sp: Space) -> tuple[str, str]:
        """``fit`` (sum down to the target's shape) or ``broadcast_like`` of ``g`` (of kind ``k``).

        A "v" value has the call's shape, an "s" one is the same everywhere. So the identity is right only
        where the call's shape is the target's (recorded in ``prog.checks``: the target may be a leaf used only
        for its shape, which nothing else checks); a fit down to one element is a full sum (the count times an
        "s" value); a partial sum, or a cast, is refused.
        """
        prog, dt = self.prog, self.dt
        name = _op(node).name
        src, dst = node.children[0]._shape, node._shape
        child_dt = node.children[0]._dtype
        if node._dtype is not None and child_dt is not None and node._dtype != child_dt:
            raise FusionError(
                f"fuse: op {name!r} casts a gradient to {dtype_name(node._bk.xp, node._dtype)}; a fused kernel "
                f"computes in {dt} only (give the target dtype {dt}, or run unfused)"
            )
        if src == dst:
            return g, k
        if name == "broadcast_like" and (k == "s" or self.bshape is not None):
            return g, k  # a uniform value broadcast is the same value everywhere (as is a value the host broadcasts)
        if name == "fit" and dst is not None and all(d == 1 for d in dst):
            if _static(src) and math.prod(_dims(src)) == 1:
                return g, k
            if sp:
                raise FusionError(f"fuse: op {name!r} (a sum) inside an indexing cannot be fused; run unfused")
            if k == "v":
                self._at_call_shape(name, src)
                return self.emit("sum", (g,), "r", dt), "r"
            if src is None:
                raise FusionError(f"fuse: op {name!r} of a value of unknown rank; declare the shapes of placeholders")
            count = _literal(prog, math.prod(src), dt) if None not in src else self.emit("count", (), "s", dt)
            return self.emit("multiply", (g, count), "s", dt), "s"  # the sum of ``count`` equal values
        if _call_shaped(src, dst) and not sp:
            prog.checks.setdefault(_dims(dst), f"the target of op {name!r} ({node.children[1]._label()})")
            return g, k
        raise FusionError(
            f"fuse: op {name!r} from shape {src} to {dst} is a partial sum or a broadcast; only full sums can be fused"
        )

    # ----------------------------------------------------------------- outputs
    def shape_source(self, outputs: list[Tensor]) -> None:
        """Where an output is written at the call's shape but the kernel reads no array (a gradient that is the
        same everywhere: ``ones - ones``), the kernel reads the leaves of one or more dimensions it is computed from
        (or takes its shape from): their shape is the call's."""
        prog = self.prog
        elems = [o for o, (_, how) in zip(outputs, prog.outputs, strict=True) if how == "elem"]
        if not elems or any(v not in prog.scalar_inputs for v in prog.read | {d for d, _, _ in prog.derived}):
            return
        stack, seen = list(elems), {id(o) for o in elems}
        while stack:
            node = stack.pop()
            if node.op is None and not node._const and _leaf_shape(node) not in ((), None):
                v = self.base(node)
                prog.read.add(v)
                self.static[v] = _leaf_shape(node)
            for c in node.children:
                if id(c) not in seen:
                    seen.add(id(c))
                    stack.append(c)

    def output(self, k: int, o: Tensor) -> None:
        prog = self.prog
        if o.op is None and not o._const:  # an input or captured leaf: returned as it is
            prog.outputs.append((self.base(o), "pass"))
            return
        v, c = self.get(o, ())
        kids = o.children
        if c == "r":
            prog.outputs.append((v, "mean" if _op(o).name == "mean" else prog.reduction(v)))
            if o._shape:  # a fit to (1,), or keepdims: a sum the shape of its target
                prog.sum_shapes[k] = _dims(o._shape)
        elif (
            o.op is not None
            and o.op.name in ("zeros_like", "ones_like")
            and ((kids[0].op is None and not kids[0]._const) or _static(o._shape))
        ):
            ref = ("var", self.base(kids[0])) if kids[0].op is None else ("shape", _dims(o._shape))
            prog.host[k] = (_dtype_of(prog, v), 0 if o.op.name == "zeros_like" else 1, ref)
            prog.outputs.append((v, "host"))
        elif c == "s" and o._shape == ():
            prog.outputs.append((v, "uniform"))  # computed once; returned as a 0-d value
        else:
            prog.outputs.append((v, "elem"))
            if self.bshape is not None and o._shape != self.bshape:
                raise FusionError(
                    f"fuse: output {k} ({o._label()}) has shape {o._shape} and the kernel runs at the broadcast "
                    f"shape {self.bshape}; fuse it separately, or run the graph unfused"
                )
            if _static(o._shape) and math.prod(_dims(o._shape)) == 1 and c == "v":
                prog.out_shapes[k] = _dims(o._shape)  # one element (a 0-d gradient): reshaped, not the call's shape
            elif o._shape is not None and o._shape != ():  # written in the call's shape: it must be the output's
                prog.checks.setdefault(tuple(o._shape), f"output {k} ({o._label()})")


def _may_equal(a: Any, b: Any) -> bool:
    """Static shapes that may be one shape at a call: of one rank, each pair of sizes equal or one of them free.
    (An operand of such a shape is indexed as the result is: the call checks that the arrays a pushed-down indexing
    reads have one shape, `derive`, and a size-1 operand indexed to the result's size is the broadcast value.)"""
    return (
        a is not None
        and b is not None
        and len(a) == len(b)
        and all(p is None or q is None or p == q for p, q in zip(a, b, strict=True))
    )


def _literal(prog: Program, value: Any, dt: str) -> str:
    name = f"t{len(prog.body)}"
    prog.body.append(Instr(name, "literal", (value,), "s", dt))
    return name


def _result_dtype(node: Tensor, dt: str) -> str:
    """The dtype of an elementwise op's result: bool (a comparison, a ``where`` of bools) or the program's ``dt``.

    Any other dtype is refused: NumPy computes some ops of bools in float64 (``exp`` of a bool, a bool
    divided by a bool) where the kernel would compute in a float32 program's float32."""
    if node._dtype is None:  # (not known when building: as the op table says)
        return "bool" if _op(node).result == "bool" else dt
    got = dtype_name(node._bk.xp, node._dtype)
    if got not in ("bool", dt):
        raise FusionError(
            f"fuse: op {_op(node).name!r} computes in {got} in a {dt} program; a fused kernel computes in {dt} "
            "only (cast its operands to it, or run unfused)"
        )
    return got


def _integer_sum_dtype(node: Tensor, name: str, dt: str) -> str:
    """The dtype of ``sum``/``mean``/``prod`` of integers of dtype ``dt`` on ``node``'s backend (NumPy: its default
    integer for a narrower signed one), found by asking the backend, as the unfused graph does."""
    xp = node._bk.xp
    return dtype_name(xp, getattr(xp, name)(xp.asarray([1], dtype=getattr(xp, dt))).dtype)


def _bool_sum_dtype(node: Tensor, name: str) -> str:
    """The dtype of ``sum``/``mean`` of bools on ``node``'s backend (its default integer for a sum; NumPy's
    mean is float64), found by asking the backend, as the unfused graph does."""
    xp = node._bk.xp
    try:
        return dtype_name(xp, getattr(xp, name)(xp.asarray([True, False])).dtype)
    except Exception as e:  # a backend without sums of bools: the unfused graph fails too
        raise FusionError(f"fuse: op {name!r} of a bool value is refused by the backend ({e}); cast it first") from e


def _call_shaped(a: Any, b: Any) -> bool:
    """Static shapes that are equal when both are the call's shape: same rank, and each pair of sizes equal or
    a free size (None) against a size other than 1 (None against 1 would be a sum or a broadcast)."""
    if a is None or b is None:
        return False
    pairs = zip(a, b, strict=False)
    return len(a) == len(b) and all(p == q or (p is None and q != 1) or (q is None and p != 1) for p, q in pairs)


def _dtype_of(prog: Program, v: str) -> str:
    """The dtype of var ``v``: its instruction's, else (an input, captured or host array) its own."""
    ins = prog.body[int(v[1:])] if v.startswith("t") else None
    return ins.dtype if ins is not None else prog.array_dtypes.get(v, prog.dtype)


def _is_literal_one(prog: Program, v: str) -> bool:
    ins = prog.body[int(v[1:])] if v.startswith("t") else None
    return ins is not None and ins.op == "literal" and ins.dtype != "bool" and ins.args[0] == 1


def _axes(axis: Any) -> tuple[int, ...]:
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _emit(prog: Program, op: str, args: tuple[Any, ...], kind: str, dt: str) -> str:
    name = f"t{len(prog.body)}"
    prog.body.append(Instr(name, op, args, kind, dt))
    return name
