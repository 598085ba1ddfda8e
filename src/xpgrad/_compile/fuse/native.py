"""The CPU kernel as LLVM IR: numba compiles each distinct operation once, this module writes the loop around them.

Why (issue 18): numba compiled the whole generated Python loop at ~1.7 ms an instruction, nearly all of it in its
Python front end (type inference and lowering of every statement; LLVM's optimisation level changed nothing): a
1,000-op chain with its gradient, 2,500 instructions, took 4-5 s at its first call. Here numba compiles each
distinct instruction *form* (op, operand types) once a process, as a tiny function ``op(x0, x1..)``, whose C
wrapper (``cfunc.<name>``) the kernel calls; the loop, loads, stores and sums are LLVM IR written here. numba's
own code generator links the kernel with the operations' code and optimises it (its passes, its target: LLVM
inlines every operation), so a kernel costs LLVM's time alone. That grows faster than the instructions of one
function: a program of more than `SPLIT` elementwise instructions is written as stages of `STAGE` (`_plan`), one
function each, the values between them passed through a small scratch array, so its compile time is linear.

The results are the numba loop's, bit for bit: each instruction is the code numba compiles for the same
expression (`expression`) on the same numba types (each helper's operand types are the types numba gave its
operands, and straight-line code of single assignments is typed exactly so); the sums add in the same order
(per block of `BLOCK` elements, then per chunk); nothing is fast-math. Plain ``+ - * /`` of two values of the
program's float type are written as LLVM's ``fadd``... directly (what numba emits for them, with its numpy error
model), so the common ops cost no helper.

The kernel is ``body(args, c, lo, hi, n)``: ``args`` the address of a table of array addresses (the kernel's
arrays, its elementwise outputs, its uniform outputs, then the (chunks, sums) float64 partial totals), ``c`` the
chunk and ``[lo, hi)`` its elements. A serial call is one ctypes call; a parallel one is a numba ``prange`` over
chunks, compiled once a process, calling the body through its address.
"""

from __future__ import annotations

import heapq
import math
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .integers import INTEGER_DTYPES, integer_form
from .lower import FusionError, Instr, Program, form

__all__ = ["BLOCK", "Native", "build", "expression"]

BLOCK = 1024
"""Elements a sum adds in its own running total before adding that to the chunk's (their rounding error stays
within a few ``(BLOCK + n/BLOCK) * eps * sum|x|``)."""

_DIRECT = {
    "add": ("({0} + {1})", "fadd"),
    "subtract": ("({0} - {1})", "fsub"),
    "multiply": ("({0} * {1})", "fmul"),
    "divide": ("({0} / {1})", "fdiv"),
}
"""Ops written as one LLVM instruction when both operands are of the program's float type (numba's own lowering
of these Python operators, with ``error_model="numpy"``)."""

_lock = threading.RLock()
_helpers: dict[tuple[str, tuple[Any, ...]], tuple[str, Any, Any]] = {}  # (source, arg types) -> helper
SPLIT = 4000
"""Elementwise instructions above which a program is split into stages (`_plan`). LLVM's time on one function grows
faster than its instructions (its passes on one basic block of calls): a 10^4-op chain with its gradient, 20,004
instructions, took 3.3 s of LLVM as one function and 2.4 s as stages of `STAGE`; at 6,000 the two are even."""
STAGE = 500
"""Elementwise instructions a stage: measured on a 10^4-op chain (2-core VM), 250, 500 and 1,000 took the same
LLVM time (1.8-1.9 s), 2,000 2.6 s and 4,000 5.8 s (each stage's scratch loads and stores cost LLVM more than
registers). A split kernel runs ~1.3x the time of the same program as one function (that chain, 10^3 and 10^5
elements, one thread: the scratch's loads and stores, a call a stage an element)."""

HELPERS = 4096
"""The most helpers `_helpers` keeps; then it starts again (each is a few KB of machine code)."""


def expression(
    ins: Instr, dt: str, squares: set[str], halves: set[str], scalar_exponents: set[str], integer: bool = False
) -> str:
    """The Python expression numba compiles for instruction ``ins`` (operands named by ``ins.args``); ``integer``:
    an operand is of the program's integer dtype ``dt`` (`integers`)."""
    if integer:
        return integer_form(ins.op, dt).format(*ins.args)
    if ins.op == "pow" and ins.args[1] in squares:  # x ** 2.0 is x * x exactly (as NumPy computes it)
        return "({0} * {0})".format(*ins.args)
    if ins.op == "pow" and ins.var in scalar_exponents:  # NumPy's power: x ** 0.5 is sqrt(x), -0.0 and -inf too
        if ins.args[1] in halves:
            return f"math.sqrt({ins.args[0]})"
        return "(math.sqrt({0}) if {1} == 0.5 else {0} ** {1})".format(*ins.args)
    if ins.op == "count":
        return f"{ins.dtype}(n)"
    return form(ins.op).numba.format(*ins.args, T=dt)


def _boolean() -> Any:
    import numba

    return numba.types.boolean


def _scope() -> dict[str, Any]:
    import numba

    return {
        "math": math,
        "np": np,
        "inf": math.inf,
        "nan": math.nan,
        "float64": np.float64,
        "float32": np.float32,
        "uint64": numba.uint64,
        **{d: getattr(np, d) for d in INTEGER_DTYPES if d != "uint64"},
    }


def _ll(t: Any) -> str:
    """The LLVM type of numba type ``t`` as numba passes and returns it (a bool is a byte, 0 or 1)."""
    import numba

    if t == numba.types.boolean:
        return "i8"
    if t == numba.types.float64:
        return "double"
    if t == numba.types.float32:
        return "float"
    if isinstance(t, numba.types.Integer):
        integer: Any = t
        return f"i{integer.bitwidth}"
    raise FusionError(f"fuse: a kernel value of numba type {t} is not supported")


def _helper(src: str, argtypes: tuple[Any, ...]) -> tuple[str, Any, Any]:
    """numba's compile of ``def op(x0..): return src`` on ``argtypes``: (its name, its return type, its library),
    compiled once a process. The kernel calls the function itself, ``i32 name(ret*, exc*, args..)`` (numba's
    calling convention), which LLVM inlines (numba's C wrapper calls it as ``noinline``)."""
    key = (src, argtypes)
    got = _helpers.get(key)
    if got is not None:
        return got
    import numba

    params = ", ".join(f"x{k}" for k in range(len(argtypes)))
    scope = _scope()
    exec(compile(f"def op({params}):\n    return {src}\n", "<xpgrad fused op>", "exec"), scope)
    disp = numba.njit(error_model="numpy", nogil=True)(scope["op"])
    disp.compile(argtypes)
    cres: Any = disp.overloads[argtypes]
    name = cres.fndesc.mangled_name
    if len(_helpers) >= HELPERS:
        _helpers.clear()
    # (a constant's type, Literal[bool](False), is its type's)
    got = _helpers[key] = (name, numba.types.unliteral(cres.signature.return_type), cres.library)
    return got


def _const(value: Any, t: Any) -> str:
    """An LLVM constant of numba type ``t`` (a float as the hex of its double, exactly)."""
    ll = _ll(t)
    if ll.startswith("i"):  # (a bool: 0 or 1)
        return str(int(bool(value)) if t == _boolean() else int(value))
    f = float(np.float32(value)) if ll == "float" else float(value)
    if f != f:
        return "0x7FF8000000000000"
    return f"0x{struct.unpack('<Q', struct.pack('<d', f))[0]:016X}"


class _Writer:
    """The IR of one kernel: values by var, each with its numba type, and the helpers it calls."""

    def __init__(self, prog: Program, shared: _Writer | None = None) -> None:
        import numba

        self.prog = prog
        self.numba = numba
        self.lines: list[str] = []
        self.val: dict[str, str] = {}  # var -> LLVM operand (a register or a constant)
        self.typ: dict[str, Any] = {}  # var -> numba type
        # helper name -> its declaration, and the libraries: one module's (``shared``: the kernel's, for a stage)
        self.declared: dict[str, str] = shared.declared if shared is not None else {}
        self.libraries: list[Any] = shared.libraries if shared is not None else []
        self.ret: dict[str, str] = {}  # an LLVM type -> the alloca numba's functions return it in
        self.tmp = 0
        dt = prog.dtype
        self.squares: set[str]
        self.halves: set[str]
        if shared is not None:
            self.squares, self.halves = shared.squares, shared.halves
        else:
            self.squares = {i.var for i in prog.body if i.op == "literal" and i.dtype != "bool" and i.args[0] == 2}
            self.halves = {i.var for i in prog.body if i.op == "literal" and i.dtype != "bool" and i.args[0] == 0.5}
        self.float = numba.from_dtype(np.dtype(dt))

    def reg(self) -> str:
        self.tmp += 1
        return f"%r{self.tmp}"

    def call(self, src: str, args: list[str], into: str | None = None) -> Any:
        """``src`` (over ``x0``..) applied to the vars ``args``, into register ``into`` (a new one when None): its
        numba type."""
        argtypes = tuple(self.typ[a] for a in args)
        name, rtype, lib = _helper(src, argtypes)
        if name not in self.declared:
            params = ", ".join(["ptr", "ptr", *(_ll(t) for t in argtypes)])
            self.declared[name] = f'declare i32 @"{name}"({params})'
            self.libraries.append(lib)
        r = into or self.reg()
        ret = self.ret.setdefault(_ll(rtype), f"%ret.{_ll(rtype)}")  # (an alloca of the entry block: promoted)
        operands = ", ".join([f"ptr {ret}", "ptr %exc", *(f"{_ll(self.typ[a])} {self.val[a]}" for a in args)])
        status = self.reg()
        self.lines.append(f'  {status} = call i32 @"{name}"({operands})')
        self.lines.append(f"  {r} = load {_ll(rtype)}, ptr {ret}")
        return rtype

    def instr(self, ins: Instr) -> None:
        prog = self.prog
        if ins.op == "literal":
            t = self.numba.types.boolean if ins.dtype == "bool" else self.numba.from_dtype(np.dtype(ins.dtype))
            self.val[ins.var], self.typ[ins.var] = _const(ins.args[0], t), t
            return
        args = list(ins.args) if ins.op != "count" else []
        if ins.op == "count":
            self.typ["n"], self.val["n"] = self.numba.types.int64, "%n"
            r = self.reg()
            t = self.call(f"{ins.dtype}(x0)", ["n"], r)
        elif (
            prog.dtype not in INTEGER_DTYPES
            and ins.op in _DIRECT
            and form(ins.op).numba == _DIRECT[ins.op][0]
            and all(self.typ[a] == self.float for a in args)
        ):
            r, t = self.reg(), self.float
            a, b = (self.val[v] for v in args)
            self.lines.append(f"  {r} = {_DIRECT[ins.op][1]} {_ll(t)} {a}, {b}")
        else:
            names = [f"x{k}" for k in range(len(args))]
            renamed = Instr(ins.var, ins.op, tuple(names), ins.kind, ins.dtype)
            sq = {n for n, a in zip(names, args, strict=True) if a in self.squares}
            hv = {n for n, a in zip(names, args, strict=True) if a in self.halves}
            integer = any(isinstance(self.typ[a], self.numba.types.Integer) for a in args)
            src = expression(renamed, prog.dtype, sq, hv, prog.scalar_exponents, integer)
            r = self.reg()
            t = self.call(src, args, r)
        self.val[ins.var], self.typ[ins.var] = r, t

    def cast(self, var: str, t: Any) -> str:
        """Var ``var``'s value as numba type ``t`` (as numba's setitem casts it)."""
        if self.typ[var] == t:
            return self.val[var]
        name = "np.bool_" if t == self.numba.types.boolean else f"np.{t}"
        r = self.reg()
        self.call(f"{name}(x0)", [var], r)
        return r

    def store(self, var: str, t: Any, ptr: str, index: str) -> None:
        """``ptr[index] = var`` for an array of numba element type ``t``."""
        v = self.cast(var, t)
        at = self.reg()
        self.lines.append(f"  {at} = getelementptr inbounds {_ll(t)}, ptr {ptr}, i64 {index}")
        self.lines.append(f"  store {_ll(t)} {v}, ptr {at}")

    def load(self, var: str, t: Any, ptr: str, index: str) -> None:
        at, r = self.reg(), self.reg()
        self.lines.append(f"  {at} = getelementptr inbounds {_ll(t)}, ptr {ptr}, i64 {index}")
        self.lines.append(f"  {r} = load {_ll(t)}, ptr {at}")
        if t == self.numba.types.boolean:  # (any nonzero byte is true: 0 or 1, as numba reads a bool array)
            b, z = self.reg(), self.reg()
            self.lines += [f"  {b} = icmp ne i8 {r}, 0", f"  {z} = zext i1 {b} to i8"]
            r = z
        self.val[var], self.typ[var] = r, t


def source(prog: Program, out_dtypes: list[Any]) -> tuple[str, list[Any], dict[str, Any]]:
    """The kernel's LLVM IR, the numba libraries it links (its helpers) and each var's numba type.

    ``out_dtypes``: each output's NumPy dtype (the elementwise ones are the arrays written)."""
    with _lock:  # (the helpers' cache: one thread compiles a helper another one waits for)
        return _source(prog, out_dtypes)


def _source(prog: Program, out_dtypes: list[Any]) -> tuple[str, list[Any], dict[str, Any]]:
    import numba

    w = _Writer(prog)
    elems = [k for k, (_, how) in enumerate(prog.outputs) if how == "elem"]
    unis = [k for k, (_, how) in enumerate(prog.outputs) if how == "uniform"]
    sums = prog.sums
    ncols = max(1, len(sums))
    arrays = prog.arrays
    slots = len(arrays) + len(elems) + len(unis) + 1
    params = ", ".join(f"ptr noalias %p{j}" for j in range(slots))
    lines = w.lines
    el: dict[str, Any] = {}
    for v in arrays:
        el[v] = numba.from_dtype(np.dtype(prog.array_dtypes.get(v, prog.dtype)))
    # the pass: ``kernel(p0.., c, lo, hi, n)`` with noalias pointers (outputs are arrays of their own), called by
    # ``body`` with the table's addresses (so LLVM may vectorise without checks between the arrays)
    lines.append(f"define internal void @kernel({params}, i64 %c, i64 %lo, i64 %hi, i64 %n) alwaysinline {{")
    lines.append("entry:")
    for j, v in enumerate(arrays):
        if v in prog.scalar_inputs:  # a 0-d array: read once
            w.load(v, el[v], f"%p{j}", "0")
    for ins in prog.body:  # the values the same for every element
        if ins.kind == "s":
            w.instr(ins)
    plan = _plan(prog, arrays)
    stages: list[str] = []
    if plan is not None:  # the scratch slots, and the uniform values the stages read
        plan.uniform = [v for v in plan.outside if w.val[v].startswith("%")]
        lines.append(f"  %scr = call ptr @malloc(i64 {max(8, plan.slots * 8)})")
        lines.append(f"  %sc = alloca [{max(1, len(plan.uniform))} x i64]")
        for m, v in enumerate(plan.uniform):
            held = w.reg()
            lines.append(f"  {held} = getelementptr inbounds i64, ptr %sc, i64 {m}")
            lines.append(f"  store {_ll(w.typ[v])} {w.val[v]}, ptr {held}")
        stages = _stages(w, plan, arrays, el)
    base_out = len(arrays)
    base_uni = base_out + len(elems)
    partial = f"%p{slots - 1}"
    if unis:
        lines += ["  %first = icmp eq i64 %c, 0", "  br i1 %first, label %uniform, label %start", "uniform:"]
        for j, k in enumerate(unis):
            w.store(prog.outputs[k][0], numba.from_dtype(out_dtypes[k]), f"%p{base_uni + j}", "0")
        lines.append("  br label %start")
        lines.append("start:")
    else:
        lines += ["  br label %start", "start:"]
    acc_t: list[Any] = []
    start: list[str] = []
    for v in sums:
        ins = prog.body[int(v[1:])]
        t = numba.from_dtype(np.dtype(ins.dtype))
        acc_t.append(t)
        start.append(_const(0 if ins.op == "sum" else 1, t))
    # outer loop over blocks: blo, and each sum's chunk total s<j>
    lines.append("  br label %outer")
    lines.append("outer:")
    lines.append("  %blo = phi i64 [%lo, %start], [%blo.next, %block.end]")
    for j, t in enumerate(acc_t):
        lines.append(f"  %s{j} = phi {_ll(t)} [{start[j]}, %start], [%s{j}.next, %block.end]")
    lines.append("  %more = icmp slt i64 %blo, %hi")
    lines.append("  br i1 %more, label %block, label %done")
    lines.append("block:")
    lines.append(f"  %blo.end = add i64 %blo, {BLOCK}")
    lines.append("  %short = icmp slt i64 %blo.end, %hi")
    lines.append("  %bhi = select i1 %short, i64 %blo.end, i64 %hi")
    lines.append("  br label %inner")
    lines.append("inner:")
    lines.append("  %i = phi i64 [%blo, %block], [%i.next, %inner.end]")
    for j, t in enumerate(acc_t):
        lines.append(f"  %b{j} = phi {_ll(t)} [{start[j]}, %block], [%b{j}.next, %inner.end]")
    if plan is None:
        for j, v in enumerate(arrays):
            if v not in prog.scalar_inputs:
                w.load(v, el[v], f"%p{j}", "%i")
        for ins in prog.body:
            if ins.kind == "v":
                w.instr(ins)
    else:  # each stage on element i, then the outputs and sums read from the scratch
        pointers = "".join(f"ptr %p{j}, " for j in range(len(arrays)))
        for k in range(len(stages)):
            lines.append(f"  call void @stage{k}({pointers}ptr %scr, ptr %sc, i64 %i, i64 %n)")
        for v in plan.reads[-1]:
            _read(w, plan, v, arrays, el)
    for j, k in enumerate(elems):
        w.store(prog.outputs[k][0], numba.from_dtype(out_dtypes[k]), f"%p{base_out + j}", "%i")
    for j, v in enumerate(sums):  # b<j> += summand
        w.typ[f"b{j}"], w.val[f"b{j}"] = acc_t[j], f"%b{j}"
        _accumulate(w, prog.reduction(v), f"b{j}", prog.summand(v), acc_t[j], f"%b{j}.next")
    lines.append("  br label %inner.end")
    lines.append("inner.end:")
    lines.append("  %i.next = add i64 %i, 1")
    lines.append("  %again = icmp slt i64 %i.next, %bhi")
    lines.append("  br i1 %again, label %inner, label %block.end")
    lines.append("block.end:")
    for j, v in enumerate(sums):  # s<j> += b<j>
        w.typ[f"s{j}"], w.val[f"s{j}"] = acc_t[j], f"%s{j}"
        w.typ[f"b{j}'"], w.val[f"b{j}'"] = acc_t[j], f"%b{j}.next"
        _accumulate(w, prog.reduction(v), f"s{j}", f"b{j}'", acc_t[j], f"%s{j}.next")
    lines.append(f"  %blo.next = add i64 %blo, {BLOCK}")
    lines.append("  br label %outer")
    lines.append("done:")
    # partial[c, j] = s<j>, as a float64 (an int64 in an integer program: its sums wrap around as NumPy's)
    part = numba.types.int64 if prog.dtype in INTEGER_DTYPES else numba.types.float64
    for j in range(len(sums)):
        lines.append(f"  %row.{j} = mul i64 %c, {ncols}")
        lines.append(f"  %at.{j} = add i64 %row.{j}, {j}")
        w.store(f"s{j}", part, partial, f"%at.{j}")
    if plan is not None:
        lines.append("  call void @free(ptr %scr)")
    lines += ["  ret void", "}"]
    at = lines.index("entry:") + 1  # the slots numba's functions return their values in (and their exceptions')
    lines[at:at] = ["  %exc = alloca ptr", *(f"  {r} = alloca {t}" for t, r in w.ret.items())]
    loads = [
        f"  %q{j} = getelementptr inbounds i64, ptr %t, i64 {j}\n  %a{j} = load ptr, ptr %q{j}" for j in range(slots)
    ]
    body = [
        "define void @body(i64 %args, i64 %c, i64 %lo, i64 %hi, i64 %n) {",
        "entry:",
        "  %t = inttoptr i64 %args to ptr",
        *loads,
        f"  call void @kernel({', '.join(f'ptr %a{j}' for j in range(slots))}, i64 %c, i64 %lo, i64 %hi, i64 %n)",
        "  ret void",
        "}",
    ]
    libc = ["declare ptr @malloc(i64)", "declare void @free(ptr)"] if plan is not None else []
    functions = [ln for f in stages for ln in (f, "")]  # (none: the text of a kernel of one function, as before)
    text = "\n".join([*w.declared.values(), *libc, "", *functions, *lines, "", *body]) + "\n"
    return text, w.libraries, dict(w.typ) | (plan.typ if plan is not None else {})


@dataclass
class _Plan:
    """A program split into stages (`SPLIT`): each one a function computing its instructions for one element,
    reading the values of earlier stages from a scratch array (one slot a value) and writing there the ones read
    later; the kernel's loop calls the stages in turn for each element, then stores its outputs and adds its sums
    as one function does (the same operations in the same order: the same bits)."""

    stages: list[list[Instr]]
    reads: list[list[str]]  # what each stage (and last, the loop storing the outputs and adding the sums) reads
    slot: dict[str, int]  # the scratch slot of each value a later stage reads (reused once read for good)
    slots: int
    outside: list[str]  # the uniform values the stages read (computed once, before the pass)
    uniform: list[str] = field(default_factory=list)  # those held in registers: passed in an array (``%sc``)
    typ: dict[str, Any] = field(default_factory=dict)  # the stages' values' numba types


def _plan(prog: Program, arrays: list[str]) -> _Plan | None:
    """How a program of more than `SPLIT` elementwise instructions is split (None: it is not)."""
    body = [i for i in prog.body if i.kind == "v"]
    if len(body) <= SPLIT:
        return None
    stages = [body[k : k + STAGE] for k in range(0, len(body), STAGE)]
    stage_of = {ins.var: k for k, st in enumerate(stages) for ins in st}
    per_element = {v for v in arrays if v not in prog.scalar_inputs}
    last: dict[str, int] = {}  # each value's last reading stage, where another than its own
    reads: list[list[str]] = []
    outside: dict[str, None] = {}
    for k, st in enumerate(stages):
        got: dict[str, None] = {}
        for ins in st:
            if ins.op in ("literal", "count"):
                continue
            for a in ins.args:
                if stage_of.get(a) != k:
                    got[a] = None
        for a in got:
            if a in stage_of:
                last[a] = k
            elif a not in per_element:
                outside[a] = None
        reads.append(list(got))
    final = dict.fromkeys([*(v for v, how in prog.outputs if how == "elem"), *(prog.summand(v) for v in prog.sums)])
    for a in final:
        if a in stage_of:
            last[a] = len(stages)
    reads.append(list(final))
    slot: dict[str, int] = {}
    free: list[int] = []
    ends: dict[int, list[str]] = {}
    slots = 0
    for k, st in enumerate(stages):
        for v in ends.pop(k - 1, ()):  # (read for the last time by the stage before: this one may write its slot)
            heapq.heappush(free, slot[v])
        for ins in st:
            u = last.get(ins.var)
            if u is not None:
                if free:
                    slot[ins.var] = heapq.heappop(free)
                else:
                    slot[ins.var], slots = slots, slots + 1
                ends.setdefault(u, []).append(ins.var)
    return _Plan(stages, reads, slot, slots, list(outside))


def _stages(w: _Writer, plan: _Plan, arrays: list[str], el: dict[str, Any]) -> list[str]:
    """The IR of each stage's function ``stage<k>(arrays.., scratch, uniform, i, n)``: its instructions at element
    ``i``. (Not a loop over elements: LLVM's loop passes and instruction selection took 10-20 times longer on a
    loop of a stage's loads and stores than on the same code straight.)"""
    texts = []
    params = ", ".join([*(f"ptr noalias %p{j}" for j in range(len(arrays))), "ptr noalias %scr", "ptr noalias %sc"])
    held = {v: m for m, v in enumerate(plan.uniform)}
    per_element = {v for v in arrays if v not in w.prog.scalar_inputs}
    for k, st in enumerate(plan.stages):
        s = _Writer(w.prog, w)
        lines = s.lines
        lines.append(f"define internal void @stage{k}({params}, i64 %i, i64 %n) noinline {{")
        lines.append("entry:")
        for v in plan.reads[k]:
            if v in held:
                at, r = s.reg(), s.reg()
                lines.append(f"  {at} = getelementptr inbounds i64, ptr %sc, i64 {held[v]}")
                lines.append(f"  {r} = load {_ll(w.typ[v])}, ptr {at}")
                s.val[v], s.typ[v] = r, w.typ[v]
            elif v not in plan.slot and v not in per_element:  # a constant
                s.val[v], s.typ[v] = w.val[v], w.typ[v]
            else:
                _read(s, plan, v, arrays, el)
        for ins in st:
            s.instr(ins)
        for ins in st:
            m = plan.slot.get(ins.var)
            if m is not None:
                t = s.typ[ins.var]
                at = s.reg()
                lines.append(f"  {at} = getelementptr inbounds i64, ptr %scr, i64 {m}")
                lines.append(f"  store {_ll(t)} {s.val[ins.var]}, ptr {at}")
            plan.typ[ins.var] = s.typ[ins.var]
        lines += ["  ret void", "}"]
        lines[2:2] = ["  %exc = alloca ptr", *(f"  {r} = alloca {t}" for t, r in s.ret.items())]
        texts.append("\n".join(lines))
    return texts


def _read(w: _Writer, plan: _Plan, v: str, arrays: list[str], el: dict[str, Any]) -> None:
    """Value ``v`` at element ``%i`` into ``w``: from its scratch slot, or its array; a uniform value is ``w``'s
    already."""
    m = plan.slot.get(v)
    if m is not None:
        t = plan.typ[v]
        at, r = w.reg(), w.reg()
        w.lines.append(f"  {at} = getelementptr inbounds i64, ptr %scr, i64 {m}")
        w.lines.append(f"  {r} = load {_ll(t)}, ptr {at}")
        w.val[v], w.typ[v] = r, t
    elif v in arrays and v not in w.prog.scalar_inputs:
        j = arrays.index(v)
        w.load(v, el[v], f"%p{j}", "%i")


def _accumulate(w: _Writer, how: str, acc: str, value: str, t: Any, into: str) -> None:
    """``into = acc + value`` (``*`` for a product) as numba adds them, in the accumulator's type ``t``."""
    got = w.call(f"x0 {'+' if how == 'sum' else '*'} x1", [acc, value], into)
    if got != t:
        raise FusionError(f"fuse: a {how} of {w.typ[value]} values adds in {got}, not {t}")


class Native:
    """One compiled kernel: `run` calls it on a list of arrays (`source`'s table, in order)."""

    def __init__(self, text: str, libraries: list[Any], types: dict[str, Any]) -> None:
        self.source, self.types = text, types
        import llvmlite.binding as ll  # type: ignore[import-untyped]
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.registry import cpu_target

        with global_compiler_lock:
            lib = cpu_target.target_context.codegen().create_library("xpgrad_fused")
            for dep in {id(d): d for d in libraries}.values():
                lib.add_linking_library(dep)
            lib.add_llvm_module(ll.parse_assembly(text))
            lib.finalize()
            self.address = lib.get_pointer_to_function("body")
        self._library = lib  # (keeps the machine code alive)

    def run(self, arrays: list[Any], nchunks: int, n: int) -> None:
        """The pass over ``n`` elements: on this thread (``nchunks`` 1: a numba function for this count of arrays
        takes their addresses, as fast as a call of a numba kernel), else in ``nchunks`` chunks on numba's threads.
        The arrays are flat and C-contiguous (the partial totals: (chunks, sums))."""
        if nchunks == 1:
            _launcher(len(arrays))(self.address, 0, 0, n, n, *arrays)
        else:
            table = np.array([a.__array_interface__["data"][0] for a in arrays], dtype=np.int64)
            _parallel()(self.address, table, nchunks, n)


_pass: Any = None
_launchers: dict[int, Any] = {}
_call: Any = None


def _call_body() -> Any:
    """The numba intrinsic ``call(body, table, c, lo, hi, n)``: a call of the kernel at address ``body`` on the
    addresses in ``table`` (an int64 array, alive through the call)."""
    global _call
    if _call is not None:
        return _call
    import numba
    from llvmlite import ir
    from numba.extending import intrinsic

    i64 = numba.types.int64

    @intrinsic
    def call(typingctx: Any, fn: Any, table: Any, c: Any, lo: Any, hi: Any, n: Any) -> Any:
        sig = numba.types.void(i64, table, i64, i64, i64, i64)

        def codegen(context: Any, builder: Any, signature: Any, llargs: Any) -> Any:
            data = context.make_array(signature.args[1])(context, builder, llargs[1]).data
            fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(64)] * 5)
            target = builder.inttoptr(llargs[0], fnty.as_pointer())
            builder.call(target, [builder.ptrtoint(data, ir.IntType(64)), *llargs[2:]])
            return context.get_dummy_value()

        return sig, codegen

    _call = call
    return call


def _launcher(k: int) -> Any:
    """``launch(body, c, lo, hi, n, a0, .., a<k-1>)``: the kernel at ``body`` on the arrays' addresses (numba
    reads an array argument's address in C: ~0.2 us, where Python's ``__array_interface__`` takes ~1 us), compiled
    once a process for each count of arrays and their types."""
    got = _launchers.get(k)
    if got is None:
        import numba

        with _lock:
            names = ", ".join(f"a{j}" for j in range(k))
            lines = [f"def launch(body, c, lo, hi, n, {names}):", f"    t = np.empty({k}, np.int64)"]
            lines += [f"    t[{j}] = a{j}.ctypes.data" for j in range(k)]
            lines += ["    call(body, t, c, lo, hi, n)"]
            scope: dict[str, Any] = {"np": np, "call": _call_body()}
            exec(compile("\n".join(lines) + "\n", "<xpgrad fused launcher>", "exec"), scope)
            got = _launchers[k] = numba.njit(nogil=True)(scope["launch"])
    return got


def _parallel() -> Any:
    """``run(body, table, nchunks, n)``: the chunks of a pass on numba's threads, each a call of the body at
    address ``body`` (one numba function for every kernel, compiled at the first parallel pass of a process)."""
    global _pass
    if _pass is None:
        with _lock:
            if _pass is None:
                _pass = _compile_parallel()
    return _pass


def _compile_parallel() -> Any:
    import numba

    call = _call_body()

    # (c is made an int64: prange's index is unsigned in the parallel pass)
    @numba.njit(parallel=True, nogil=True)
    def run(body: int, table: Any, nchunks: int, n: int) -> None:
        for c in numba.prange(nchunks):
            j = np.int64(c)
            call(body, table, j, (j * n) // nchunks, ((j + 1) * n) // nchunks, n)

    return run


def build(prog: Program, out_dtypes: list[Any]) -> Native:
    """The program's kernel, compiled (its helpers compiled by numba where not yet)."""
    text, libraries, types = source(prog, out_dtypes)
    return Native(text, libraries, types)
