"""Lowering a graph to a straight-line scalar program: the one representation both code generators read.

Every node a fused kernel needs becomes one instruction ``var = op(args)`` on scalars. A value is of
class ``"v"`` (varies per element: an input array or anything computed from one), ``"s"`` (the same
for every element: a constant, a 0-d array, ``ones_like``) or ``"r"`` (a full ``sum``/``mean``: only
allowed as an output, accumulated across the pass). The structural ops the reverse sweep builds are
lowered away: ``ones_like``/``zeros_like`` are literals, ``expand`` of a 0-d cotangent is that scalar
(divided by the count for ``mean``), ``fit``/``broadcast_like`` are the identity between shapes the call
shape must match (checked on each call), and a ``fit`` down to one element (a gradient of a 0-d or ``(1,)``
parameter) is a full sum, or the count times a uniform value. Anything else raises `FusionError`, naming the op.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..._core.opdef import OPS, CForm
from ..._core.tensor import Tensor
from ..._core.walk import toposort
from ..._dtypes import dtype_name

__all__ = [
    "FusionError",
    "Instr",
    "Program",
    "call_shape",
    "captured_cache",
    "captured_values",
    "form",
    "lower",
    "passed",
]

_SHAPE_ONLY = {"ones_like": (), "zeros_like": (), "expand": (0,), "fit": (0,), "broadcast_like": (0,)}
"""Structural ops and which of their operands carry values (the others give only a shape)."""


class FusionError(ValueError):
    """A graph cannot be lowered to one fused elementwise pass."""


@dataclass(frozen=True)
class Instr:
    var: str
    # an op of the table with a fused form (`form`); "literal" (args[0]: the value); "sum" (args[0]: the
    # summand); "count" (n)
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
    scalar_inputs: set[str]  # input or captured vars that are 0-d (passed as scalars)
    body: list[Instr] = field(default_factory=list)
    # (var, "elem" | "sum" | "mean" | "pass"); "pass": a 0-d input or captured leaf, returned as it is
    outputs: list[tuple[str, str]] = field(default_factory=list)
    sum_shapes: dict[int, tuple[int, ...]] = field(default_factory=dict)  # output k's shape, when a sum's is not ()
    checks: dict[tuple[Any, ...], str] = field(default_factory=dict)  # shape pattern -> what: the call shape's patterns
    checked: set[tuple[int, ...]] = field(default_factory=set)  # call shapes that passed ``checks`` (a cache)
    # ``pow`` instructions whose exponent is a number or a 0-d array in the graph: NumPy's power takes the
    # square root for such an exponent of 0.5 (sqrt(-0.0) is -0.0, pow's +0.0; sqrt(-inf) nan, pow's inf)
    scalar_exponents: set[str] = field(default_factory=set)

    @property
    def sums(self) -> list[str]:
        """The reduced vars (accumulators), in output order, each once."""
        return list(dict.fromkeys(v for v, how in self.outputs if how in ("sum", "mean")))

    def summand(self, var: str) -> str:
        return next(i.args[0] for i in self.body if i.var == var)

    @property
    def output_dtypes(self) -> list[str]:
        """Each output's dtype, in order: its instruction's (a comparison's is bool), else the program's."""
        var_dtype = {i.var: i.dtype for i in self.body}
        return [var_dtype.get(v, self.dtype) for v, _ in self.outputs]


def call_shape(
    prog: Program, arrays: tuple[Any, ...], dtype: Any, captured: Sequence[tuple[int, ...]] = ()
) -> tuple[int, ...]:
    """The shape of one call's elementwise outputs, after checking the arrays (count, dtype, shapes).

    The kernels read an input or captured array at every element, except the 0-d ones of
    ``prog.scalar_inputs`` (read once): so each array must be 0-d exactly when lowered as such, and
    every other one must have the call's shape (a kernel does not broadcast; it would read past the end).
    ``captured`` holds the captured leaves' current shapes (`captured_values`). The shapes the lowering
    took as the call's (``prog.checks``: a gradient's target, an output) must match it too.
    """
    n_in = len(prog.inputs)
    if len(arrays) != n_in:
        raise TypeError(f"fused function takes {n_in} arrays but {len(arrays)} were given")
    shape = next((tuple(a.shape) for a in arrays if getattr(a, "ndim", 0)), None)
    if shape is None:
        shape = next((c for c in captured if c), ())
    for k, (v, a) in enumerate(zip(prog.inputs, arrays, strict=True)):
        if not hasattr(a, "dtype"):  # (a Python number or list: the kernel reads arrays of its dtype only)
            raise TypeError(f"fused function: input {k} is a {type(a).__name__}; pass an array of dtype {dtype}")
        if a.dtype != dtype:
            raise TypeError(f"fused function: input {k} has dtype {a.dtype}; it was compiled for {dtype}")
        if (a.ndim == 0) != (v in prog.scalar_inputs):
            raise ValueError(
                f"fused function: input {k} has shape {tuple(a.shape)}; it was fused as "
                f"{'a 0-d array' if v in prog.scalar_inputs else 'an array of one or more dimensions'}"
            )
        if a.ndim and tuple(a.shape) != shape:
            raise ValueError(f"fused function: input {k} has shape {tuple(a.shape)}; the others have {shape}")
    for c in captured:
        if c and c != shape:
            raise ValueError(
                f"fused function: the graph holds an array of shape {c} and the inputs have "
                f"shape {shape}; a fused kernel does not broadcast (broadcast the array when building the graph)"
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
        if got != prog.dtype:
            raise TypeError(
                f"fused function: captured {leaf._label()} now has dtype {got}; it was fused "
                f"for {prog.dtype} (cast the new value, or fuse again)"
            )
        if (shape == ()) != (v in prog.scalar_inputs):
            raise ValueError(
                f"fused function: captured {leaf._label()} now has shape {shape}; it was fused as "
                f"{'a 0-d array' if v in prog.scalar_inputs else 'an array of one or more dimensions'} (fuse again)"
            )
        values[j], stamps[j], shapes[j], args[j] = value, leaf._epoch, shape, convert(leaf, value)
    return shapes, args


def passed(prog: Program, v: str, arrays: Sequence[Any], captured: Sequence[Any]) -> Any:
    """The value of a "pass" output ``v``: the call's 0-d input, or the captured leaf's current value, as it is."""
    return arrays[prog.inputs.index(v)] if v in prog.inputs else captured[int(v[1:])]


def form(op: str) -> CForm:
    """The fused form of an instruction's ``op``, an op of the table with one (`lower` emits no other)."""
    c = OPS[op].c
    assert c is not None, op
    return c


def _label(node: Tensor) -> str:
    return node.op.name if node.op is not None else ("a constant" if node._const else "a leaf")


def lower(inputs: list[Tensor], outputs: list[Tensor]) -> Program:
    """The scalar program computing ``outputs`` from ``inputs``, or a FusionError naming the op."""
    order = toposort(outputs)
    needed = {id(o) for o in outputs}
    for node in reversed(order):  # only value operands are needed, not shape references
        if id(node) in needed and node.op is not None:
            keep = _SHAPE_ONLY.get(node.op.name, range(len(node.children)))
            for k in keep:
                needed.add(id(node.children[k]))
    dtypes = {dtype_name(t._bk.xp, t._dtype) for t in inputs if t._dtype is not None}
    for t in order:
        if id(t) in needed and t.op is None and not t._const and t._dtype is not None:
            dtypes.add(dtype_name(t._bk.xp, t._dtype))
    if len(dtypes) != 1 or not dtypes <= {"float32", "float64"}:
        raise FusionError(
            f"fuse: every input must have the same real floating dtype, known when fusing; got "
            f"{sorted(dtypes) or 'undeclared dtypes'}; declare placeholders with dtype='float64' (or cast)"
        )
    (dt,) = dtypes
    input_var = {id(t): f"a{k}" for k, t in enumerate(inputs)}
    prog = Program(dtype=dt, inputs=[input_var[id(t)] for t in inputs], captured=[], scalar_inputs=set())
    # every 0-d input is passed as a scalar, read by the outputs or not: the call checks each input against this
    prog.scalar_inputs.update(input_var[id(t)] for t in inputs if t._shape == ())
    for k, t in enumerate(inputs):  # as the unfused graph checks its placeholders (a graph of sums has no other check)
        if t._shape:
            prog.checks.setdefault(tuple(t._shape), f"input {k} ({t._label()}) as declared")
    var: dict[int, str] = {}
    kind: dict[int, str] = {}
    for node in order:
        key = id(node)
        if key not in needed:
            continue
        if key in input_var:
            var[key] = input_var[key]
            kind[key] = "s" if node._shape == () else "v"
            continue
        if node._const:
            var[key] = _literal(prog, node._value, "bool" if type(node._value) is bool else dt)
            kind[key] = "s"
            continue
        if node.op is None:
            if node._value is None:
                raise FusionError(
                    f"fuse: the graph needs placeholder {node.name or ''!s} that is not among the inputs; pass it"
                )
            name = f"c{len(prog.captured)}"
            prog.captured.append((name, node))  # read at each call (`captured_values`)
            var[key], kind[key] = name, ("s" if tuple(node._value.shape) == () else "v")
            if kind[key] == "s":
                prog.scalar_inputs.add(name)
            continue
        var[key], kind[key] = _lower_op(prog, node, [id(c) for c in node.children], var, kind, dt)
    for k, o in enumerate(outputs):
        v, c = var[id(o)], kind[id(o)]
        if c == "r":
            assert o.op is not None  # (a sum)
            prog.outputs.append((v, "mean" if o.op.name == "mean" else "sum"))
            if o._shape:  # a fit to (1,): a sum the shape of its target
                prog.sum_shapes[k] = tuple(o._shape)  # type: ignore[arg-type]  # (its target's static shape)
        elif o._shape == () and c == "s":
            if o.op is not None or o._const:
                raise FusionError(f"fuse: output {k} is a 0-d {_label(o)}, not a sum; compute it outside the kernel")
            prog.outputs.append((v, "pass"))  # a 0-d input or leaf: returned as it is, not broadcast
        else:
            prog.outputs.append((v, "elem"))
            if o._shape is not None and o._shape != ():  # written in the call's shape: it must be the output's
                prog.checks.setdefault(tuple(o._shape), f"output {k} ({o._label()})")
    return prog


def _literal(prog: Program, value: Any, dt: str) -> str:
    name = f"t{len(prog.body)}"
    prog.body.append(Instr(name, "literal", (value,), "s", dt))
    return name


def _lower_op(
    prog: Program, node: Tensor, kids: list[int], var: dict[int, str], kind: dict[int, str], dt: str
) -> tuple[str, str]:
    assert node.op is not None  # (an op node)
    name = node.op.name
    for k in _SHAPE_ONLY.get(name, range(len(kids))):
        if kind[kids[k]] == "r":
            raise FusionError(
                f"fuse: op {name!r} uses the result of a sum inside the graph; a fused kernel can only end "
                "with sums (split the computation, or run it unfused)"
            )
    if name in ("ones_like", "zeros_like"):
        return _literal(prog, 1 if name == "ones_like" else 0, dt), "s"
    if name == "expand":
        g = kids[0]
        if node.children[0]._shape != ():
            raise FusionError("fuse: op 'expand' of a partial reduction cannot be fused; only full sums can")
        if not node.params["mean"]:
            return var[g], kind[g]
        static = node._shape is not None and None not in node._shape
        count = _literal(prog, math.prod(node._shape), dt) if static else _emit(prog, "count", (), "s", dt)  # type: ignore[arg-type]  # (static: no None)
        return _emit(prog, "divide", (var[g], count), kind[g], dt), kind[g]
    if name in ("fit", "broadcast_like"):
        return _lower_fit(prog, node, var[kids[0]], kind[kids[0]], dt)
    if name in ("sum", "mean"):
        axis = node.params["axis"]
        nd = None if node.children[0]._shape is None else len(node.children[0]._shape)
        if node.params["keepdims"] or not (axis is None or (nd is not None and len(_axes(axis)) == nd)):
            raise FusionError(f"fuse: op {name!r} over some axes cannot be fused; only full sums can")
        if kind[kids[0]] != "v":
            raise FusionError(f"fuse: op {name!r} of a value that does not vary per element; compute it directly")
        out_dt = dt
        if _dtype_of(prog, var[kids[0]]) == "bool":  # a count: in the dtype the backend gives (NumPy: int64)
            out_dt = _bool_sum_dtype(node, name)
        return _emit(prog, "sum", (var[kids[0]],), "r", out_dt), "r"
    if node.op.c is None or not node.op.elementwise:
        fusible = sorted(n for n, op in OPS.items() if op.c is not None and op.elementwise)
        raise FusionError(f"fuse: op {name!r} has no fused form; fusible ops are {', '.join(fusible)}, plus full sums")
    c = "v" if any(kind[k] == "v" for k in kids) else "s"
    if name == "multiply":  # 1 * x == x exactly (graphs of placeholders keep these: shapes unknown)
        for one, other in ((kids[0], kids[1]), (kids[1], kids[0])):
            if _is_literal_one(prog, var[one]) and node._dtype == node.children[kids.index(other)]._dtype:
                return var[other], kind[other]
    out_dt = _result_dtype(node, dt)
    v = _emit(prog, name, tuple(var[k] for k in kids), c, out_dt)
    if name == "pow" and node.children[1]._shape == ():
        prog.scalar_exponents.add(v)
    return v, c


def _result_dtype(node: Tensor, dt: str) -> str:
    """The dtype of an elementwise op's result: bool (a comparison, a ``where`` of bools) or the program's ``dt``.

    Any other dtype is refused: NumPy computes some ops of bools in float64 (``exp`` of a bool, a bool
    divided by a bool) where the kernel would compute in a float32 program's float32."""
    assert node.op is not None  # (an op node)
    if node._dtype is None:  # (not known when building: as the op table says)
        return "bool" if node.op.result == "bool" else dt
    got = dtype_name(node._bk.xp, node._dtype)
    if got not in ("bool", dt):
        raise FusionError(
            f"fuse: op {node.op.name!r} computes in {got} in a {dt} program; a fused kernel computes in {dt} "
            "only (cast its operands to it, or run unfused)"
        )
    return got


def _lower_fit(prog: Program, node: Tensor, g: str, k: str, dt: str) -> tuple[str, str]:
    """``fit`` (sum down to the target's shape) or ``broadcast_like`` of ``g`` (of kind ``k``).

    A "v" value has the call's shape, an "s" one is the same everywhere. So the identity is right only
    where the call's shape is the target's (recorded in ``prog.checks``: the target may be a leaf used only
    for its shape, which nothing else checks); a fit down to one element is a full sum (the count times an
    "s" value); a partial sum, or a cast, is refused.
    """
    assert node.op is not None  # (an op node)
    name = node.op.name
    src, dst = node.children[0]._shape, node._shape
    child_dt = node.children[0]._dtype
    if node._dtype is not None and child_dt is not None and node._dtype != child_dt:
        raise FusionError(
            f"fuse: op {name!r} casts a gradient to {dtype_name(node._bk.xp, node._dtype)}; a fused kernel computes "
            f"in {dt} only (give the target dtype {dt}, or run unfused)"
        )
    if src == dst:
        return g, k
    if name == "broadcast_like" and k == "s":
        return g, k  # a uniform value broadcast is the same value everywhere
    if name == "fit" and dst is not None and all(d == 1 for d in dst):
        if src is not None and None not in src and math.prod(src) == 1:  # type: ignore[arg-type]  # (no None)
            return g, k
        if k == "v":
            return _emit(prog, "sum", (g,), "r", dt), "r"
        if src is None:
            raise FusionError(f"fuse: op {name!r} of a value of unknown rank; declare the shapes of placeholders")
        count = _literal(prog, math.prod(src), dt) if None not in src else _emit(prog, "count", (), "s", dt)
        return _emit(prog, "multiply", (g, count), "s", dt), "s"  # the sum of ``count`` equal values
    if _call_shaped(src, dst):
        prog.checks.setdefault(tuple(dst), f"the target of op {name!r} ({node.children[1]._label()})")  # type: ignore[arg-type]  # (_call_shaped: not None)
        return g, k
    raise FusionError(
        f"fuse: op {name!r} from shape {src} to {dst} is a partial sum or a broadcast; only full sums can be fused"
    )


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
    """The dtype of var ``v``: its instruction's, else (an input or captured array) the program's."""
    ins = prog.body[int(v[1:])] if v.startswith("t") else None
    return ins.dtype if ins is not None else prog.dtype


def _is_literal_one(prog: Program, v: str) -> bool:
    ins = prog.body[int(v[1:])] if v.startswith("t") else None
    return ins is not None and ins.op == "literal" and ins.dtype != "bool" and ins.args[0] == 1


def _axes(axis: Any) -> tuple[int, ...]:
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _emit(prog: Program, op: str, args: tuple[Any, ...], kind: str, dt: str) -> str:
    name = f"t{len(prog.body)}"
    prog.body.append(Instr(name, op, args, kind, dt))
    return name
