"""The GPU code generator: the same scalar program as CUDA kernels, compiled by CuPy (``RawModule``).

``xpgrad_fused``: each thread strides over the elements (``i = thread, thread + threads, ...``), computes
the program for element ``i``, writes the elementwise outputs and adds each sum's summand to a running
total of its own; then each block adds its threads' totals and stores one per sum. ``xpgrad_sums`` (one
block) adds the blocks' totals and writes each sum or mean output. So the pass reads each input once and
writes each output once: for the memory-bound B1 expression 4 array passes, the minimum (issue 5). The
first version, a CuPy ``ElementwiseKernel`` writing each sum's summand as an array to be summed afterwards,
made 6 and reached 59-65% of the H200's copy bandwidth; the one-pass kernel 86% (measured on that GPU, see
benchmarks/results/log.md). The final sums were then a ``cupy.sum`` over the threads' totals, a 0-d view of its
result per output and a division for a mean: three library calls' host time a call, which is most of a
call on 10^6 elements; they are one launch of ``xpgrad_sums`` now. The per-element body (`kernel_body`) is
generated from the ops' C expressions (`OpDef.c`, ``.cuda``; on integer operands `OpDef.int_c`'s) and tested on the
host; `raw_source` wraps it in the kernels, which `tests/fake_cupy.py` runs on the host (a block's threads as
coroutines meeting at each barrier).

A program of one integer dtype computes as NumPy's integer loops (`integers`): its forms wrap around in unsigned
arithmetic (C's signed overflow is undefined), guard division by zero and ``MIN / -1`` and shifts past the width,
and its sums and products accumulate in ``unsigned long long`` (wrapping as NumPy's int64 and uint64 totals do;
the C conversions of an out-of-range value to a signed type keep its low bits in GCC, Clang and NVCC, and by
definition since C++20).

The totals are deterministic (a fixed grid for a given size and device; no atomics): each thread adds its
summands in order, and the blocks' and the final totals add in a fixed tree order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .integers import C_INTEGER_TYPES, INTEGER_DTYPES, integer_form
from .lower import (
    REDUCTIONS,
    FusionError,
    Instr,
    Program,
    arguments,
    call_shape,
    captured_cache,
    captured_values,
    derive,
    form,
    host_output,
    passed,
    sources,
)

__all__ = [
    "BLOCK",
    "C_TYPES",
    "MAX_INSTRUCTIONS",
    "OPTIONS",
    "compile_cuda",
    "grid",
    "kernel_body",
    "raw_source",
    "uniform_body",
]

C_TYPES = {"float64": "double", "float32": "float", "bool": "bool", **C_INTEGER_TYPES}

_ACCUMULATOR = "unsigned long long"
"""The C type an integer program's sums and products accumulate in (any NumPy integer total is 64 bits: its low
bits are the same in two's complement and unsigned arithmetic)."""


def _literal(ins: Instr) -> str:
    v = ins.args[0]
    if ins.dtype == "bool":
        return "true" if v else "false"
    if ins.dtype in INTEGER_DTYPES:  # exactly, as an integer literal of 64 bits (the unsigned one past int64's)
        v = int(v)
        text = f"{v}LL" if -(2**63) < v < 2**63 else f"{v % 2**64}ULL"
        return f"(({C_TYPES[ins.dtype]}){text})"
    f = float(v)
    text = "INFINITY" if f == math.inf else "-INFINITY" if f == -math.inf else "NAN" if f != f else repr(f)
    return f"(({C_TYPES[ins.dtype]}){text})"


def kernel_body(prog: Program) -> str:
    """The C statements computing one element: inputs ``a0``... and captured arrays ``c0``... are
    in scope, and the values the same for every element (`uniform_body`); they set ``o<k>`` for the k-th output
    when it is elementwise and ``r<j>`` to the operand of the j-th distinct sum or product (both declared by the
    caller); ``XPGRAD_N`` is the element count.
    """
    lines = [_statement(i, prog) for i in prog.body if i.kind == "v"]
    lines += [f"o{k} = {v};" for k, (v, how) in enumerate(prog.outputs) if how == "elem"]
    lines += [f"r{j} = {prog.summand(v)};" for j, v in enumerate(prog.sums)]
    return "\n".join(lines)


def uniform_body(prog: Program) -> str:
    """The C statements computing the values the same for every element (literals, 0-d inputs' functions): once
    a thread, before its elements."""
    return "\n".join(_statement(i, prog) for i in prog.body if i.kind == "s")


def _statement(i: Instr, prog: Program) -> str:
    dt = prog.dtype
    if i.op == "literal":
        expr = _literal(i)
    elif i.op == "count":
        expr = f"(({C_TYPES[i.dtype]})XPGRAD_N)"
    elif dt in INTEGER_DTYPES and any(_dtype_of(prog, a) in INTEGER_DTYPES for a in i.args):
        expr = integer_form(i.op, dt, "cuda").format(*i.args)
    else:
        expr = form(i.op).cuda.format(*i.args, T=C_TYPES[dt])
    return f"{C_TYPES[i.dtype]} {i.var} = {expr};"


def _dtype_of(prog: Program, v: str) -> str:
    """The dtype of var ``v``: its instruction's, else (an array the kernel reads) its own."""
    return prog.body[int(v[1:])].dtype if v[0] == "t" else prog.array_dtypes.get(v, prog.dtype)


MAX_INSTRUCTIONS = 10_000
"""The longest program compiled into one CUDA kernel: `lower.MAX_INSTRUCTIONS` before the CPU kernel's compile was
made linear (issue 18); NVRTC's compile time past it has not been measured on a GPU."""

BLOCK = 256  # threads a block
BLOCKS_PER_SM = 8  # 2048 resident threads an SM on sm_80/sm_90: enough loads in flight to fill the memory bus

RAW_PREAMBLE = """#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif
#define XPGRAD_N n
"""


def _elem_dtypes(prog: Program) -> list[tuple[int, str]]:
    """(k, dtype) of each elementwise output ``k``."""
    pairs = enumerate(zip(prog.outputs, prog.output_dtypes, strict=True))
    return [(k, d) for k, ((_, how), d) in pairs if how == "elem"]


def _block_sum(value: str, into: str, op: str = "+=") -> list[str]:
    """The lines adding ``value`` over the threads of a block (multiplying, for ``op`` "*="), in a fixed tree
    order, then storing the block's total with ``into`` (a statement on ``xpgrad_red[0]``, run by thread 0).
    Every thread runs them."""
    return [
        f"xpgrad_red[threadIdx.x] = {value};",
        "__syncthreads();",
        f"for (unsigned s = {BLOCK // 2}; s > 0; s >>= 1) {{",
        f"  if (threadIdx.x < s) xpgrad_red[threadIdx.x] {op} xpgrad_red[threadIdx.x + s];",
        "  __syncthreads();",
        "}",
        f"if (threadIdx.x == 0) {into}",
        "__syncthreads();",
    ]


def _accumulation(prog: Program, var: str) -> tuple[str, str]:
    """How the j-th distinct reduction ``var`` accumulates: its operator and its start."""
    return ("*=", "1") if prog.reduction(var) == "prod" else ("+=", "0")


def raw_source(prog: Program) -> str:
    """The CUDA source of kernel ``xpgrad_fused(arrays..., outputs..., uniform outputs..., [partial,] n)`` and, when
    the program has sums, of ``xpgrad_sums(partial, sums..., blocks, n)``.

    The kernel's arrays (``prog.arrays``: inputs, captured and the host's arrays) are flat C-contiguous pointers
    (0-d ones read at index 0). ``xpgrad_fused`` computes the uniform values, thread 0 writes the uniform outputs,
    then each thread computes its elements and stores each block's total of each distinct sum (or product) in
    ``partial[j * blocks + block]``; ``xpgrad_sums``, launched as one block, adds those up and writes each sum or
    mean output (a 0-d array of its own). Both add in a fixed order (a strided loop, then a tree over the block's
    threads): the totals are deterministic.
    """
    if len(prog.body) > MAX_INSTRUCTIONS:
        raise FusionError(
            f"fuse: the graph lowers to {len(prog.body):,} scalar instructions, more than the {MAX_INSTRUCTIONS:,} "
            "a CUDA kernel is compiled from (NVRTC's time on longer kernels is not measured yet); fuse parts of "
            "the graph separately, or run it unfused (fuse(..., engine='unfused'))"
        )
    t = C_TYPES[prog.dtype]
    acc = _ACCUMULATOR if prog.dtype in INTEGER_DTYPES else t  # the type sums and products add up in
    counts = [k for k, _, _ in _sum_outputs(prog) if prog.output_dtypes[k] != prog.dtype]
    if counts and prog.dtype == "float32":  # the totals add in the program's type: float counts only to 2**24
        raise FusionError(
            f"fuse: output {counts[0]} sums bools; the GPU kernel adds them in float32, exact only up to 2**24 "
            "trues (fuse in float64, or sum where(condition, 1.0, 0.0))"
        )
    body = kernel_body(prog)
    ins = prog.arrays
    types = {v: C_TYPES[prog.array_dtypes.get(v, prog.dtype)] for v in ins}
    outs = [(f"o{k}", C_TYPES[d]) for k, d in _elem_dtypes(prog)]
    unis = [
        (k, v, C_TYPES[d])
        for k, ((v, how), d) in enumerate(zip(prog.outputs, prog.output_dtypes, strict=True))
        if how == "uniform"
    ]
    sums = prog.sums
    params = [f"const {types[v]}* __restrict__ p_{v}" for v in ins]
    params += [f"{ct}* __restrict__ p_{o}" for o, ct in outs]
    params += [f"{ct}* __restrict__ p_u{k}" for k, _, ct in unis]
    params += [f"{acc}* __restrict__ p_partial"] * bool(sums) + ["const long long n"]
    scalars = [f"const {types[v]} {v} = p_{v}[0];" for v in ins if v in prog.scalar_inputs]
    loads = [f"const {types[v]} {v} = p_{v}[i];" for v in ins if v not in prog.scalar_inputs]
    decls = [f"{t} {o};" for o, _ in outs] + [f"{acc} r{j};" for j in range(len(sums))]
    lines = [
        RAW_PREAMBLE + f'extern "C" __global__ void __launch_bounds__({BLOCK}) xpgrad_fused({", ".join(params)}) {{',
        "  const long long threads = (long long)gridDim.x * blockDim.x;",
        "  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;",
        *(f"  {x}" for x in (*scalars, *uniform_body(prog).splitlines())),
        *(f"  if (thread == 0) p_u{k}[0] = ({ct}){v};" for k, v, ct in unis),
        *(f"  {acc} total{j} = {_accumulation(prog, v)[1]};" for j, v in enumerate(sums)),
        "  for (long long i = thread; i < n; i += threads) {",
        *(f"    {x}" for x in (*loads, *decls)),
        *(f"    {x}" for x in body.splitlines()),
        *(f"    p_{o}[i] = ({ct}){o};" for o, ct in outs),
        *(f"    total{j} {_accumulation(prog, v)[0]} r{j};" for j, v in enumerate(sums)),
        "  }",
    ]
    if sums:
        lines.append(f"  __shared__ {acc} xpgrad_red[{BLOCK}];")
        for j, v in enumerate(sums):
            into = f"p_partial[{j} * gridDim.x + blockIdx.x] = xpgrad_red[0];"
            lines += [f"  {x}" for x in _block_sum(f"total{j}", into, _accumulation(prog, v)[0])]
    lines.append("}")
    if sums:
        lines += _sums_kernel(prog, acc)
    return "\n".join(lines) + "\n"


def _sum_outputs(prog: Program) -> list[tuple[int, str, str]]:
    """(k, var, "sum" | "mean" | "prod") of each output that is a reduction."""
    return [(k, v, how) for k, (v, how) in enumerate(prog.outputs) if how in REDUCTIONS]


def _sums_kernel(prog: Program, t: str) -> list[str]:
    """``xpgrad_sums``: one block adds (or multiplies) the blocks' totals of each distinct reduction, of C type ``t``,
    and writes its outputs."""
    outs = _sum_outputs(prog)
    cts = [C_TYPES[d] for d in prog.output_dtypes]  # a count (a sum of bools) is written as an integer
    params = [f"const {t}* __restrict__ p_partial", *(f"{cts[k]}* __restrict__ p_s{k}" for k, _, _ in outs)]
    params += ["const long long blocks", "const long long n"]
    lines = [
        f'extern "C" __global__ void __launch_bounds__({BLOCK}) xpgrad_sums({", ".join(params)}) {{',
        f"  __shared__ {t} xpgrad_red[{BLOCK}];",
    ]
    for j, v in enumerate(prog.sums):
        writes = " ".join(
            f"p_s{k}[0] = ({cts[k]})(xpgrad_red[0]{f' / ({t})n' if how == 'mean' else ''});"
            for k, w, how in outs
            if w == v
        )
        op, start = _accumulation(prog, v)
        lines += [
            "  {",
            f"    {t} total = {start};",
            f"    for (long long b = threadIdx.x; b < blocks; b += {BLOCK}) total {op} p_partial[{j} * blocks + b];",
            *(f"    {x}" for x in _block_sum("total", f"{{ {writes} }}", op)),
            "  }",
        ]
    return [*lines, "}"]


OPTIONS = ("--fmad=false",)
"""NVRTC's options. NVRTC contracts a multiply and an add into one fused multiply-add by default (``--fmad=true``),
across the kernel's statements: ``x * x - y`` then skips the rounding of ``x * x`` (an error of up to half an ulp
of ``x * x``, unbounded relative to the result) where CuPy's unfused ``multiply`` and ``subtract`` round each."""


def grid(n: int, sms: int) -> int:
    """Blocks of `BLOCK` threads for ``n`` elements: one thread an element up to what the SMs hold at once."""
    return max(1, min(-(-n // BLOCK), sms * BLOCKS_PER_SM))


def compile_cuda(prog: Program) -> Callable[..., list[Any]]:
    """``f(*cupy_arrays) -> [outputs]``: one kernel launch for the pass, and one for the sums if any."""
    import cupy
    import numpy as np

    src = raw_source(prog)
    module = cupy.RawModule(code=src, options=OPTIONS)
    kernel = module.get_function("xpgrad_fused")
    dtype = np.dtype(prog.dtype)
    partial_dtype = np.dtype(np.uint64) if prog.dtype in INTEGER_DTYPES else dtype  # (`_ACCUMULATOR`)
    cache = captured_cache(prog)  # each captured leaf's last value and its device array
    sums, n_sums = _sum_outputs(prog), len(prog.sums)
    sum_dtypes = [np.dtype(prog.output_dtypes[k]) for k, _, _ in sums]
    add_up = module.get_function("xpgrad_sums") if sums else None
    dtypes = [np.dtype(d) for _, d in _elem_dtypes(prog)]
    sms = cupy.cuda.Device().attributes["MultiProcessorCount"]

    def to_device(leaf: Any, value: Any) -> Any:
        # a CuPy value as it is (no host round trip a training step); others through the host. (NumPy's
        # ascontiguousarray makes a 0-d array 1-d: the shape is put back, a 0-d leaf may be an output)
        a = value if type(value) is cupy.ndarray else leaf._bk.to_numpy(value)
        return cupy.ascontiguousarray(cupy.asarray(a)).reshape(tuple(value.shape))

    unis = [k for k, (_, how) in enumerate(prog.outputs) if how == "uniform"]
    uni_dtypes = [np.dtype(prog.output_dtypes[k]) for k in unis]
    where = sources(prog)

    def run(*arrays: Any) -> list[Any]:
        arrays = tuple(a if type(a) is cupy.ndarray else cupy.asarray(a) for a in arguments(prog, arrays))
        shapes, captured = captured_values(prog, cache, to_device)
        derived = derive(prog, arrays, captured, cupy)
        shape = call_shape(prog, arrays, dtype, shapes, derived)
        n = math.prod(shape)
        read = [arrays[j] if s == "a" else captured[j] if s == "c" else derived[j] for s, j in where]
        flat = [a if a.flags.c_contiguous else cupy.ascontiguousarray(a) for a in read]
        outs = [cupy.empty(shape, d) for d in dtypes]
        uniform = [cupy.empty((), d) for d in uni_dtypes]
        blocks = grid(n, sms)
        totals: list[Any] = []
        if add_up is None:
            kernel((blocks,), (BLOCK,), (*flat, *outs, *uniform, np.int64(n)))
        else:
            partial = cupy.empty(n_sums * blocks, partial_dtype)
            kernel((blocks,), (BLOCK,), (*flat, *outs, *uniform, partial, np.int64(n)))
            totals = [cupy.empty(prog.sum_shapes.get(k, ()), d) for (k, _, _), d in zip(sums, sum_dtypes, strict=True)]
            add_up((1,), (BLOCK,), (partial, *totals, np.int64(blocks), np.int64(n)))
        elem, total, uni = iter(outs), iter(totals), iter(uniform)
        result = []
        for k, (v, how) in enumerate(prog.outputs):
            if how == "pass":  # an input or captured leaf, as the unfused graph returns it
                result.append(passed(prog, v, arrays, captured))
            elif how == "host":
                result.append(host_output(prog, k, arrays, captured, cupy))
            elif how == "uniform":
                result.append(next(uni))
            elif how == "elem":
                r = next(elem)
                result.append(r.reshape(prog.out_shapes[k]) if k in prog.out_shapes else r)
            else:
                result.append(next(total))
        return result

    run.source = src  # type: ignore[attr-defined]
    return run
