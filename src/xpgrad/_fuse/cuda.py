"""The GPU code generator: the same scalar program as one CUDA kernel, compiled by CuPy (``RawKernel``).

Each thread strides over the elements (``i = thread, thread + threads, ...``), computes the program
for element ``i``, writes the elementwise outputs and adds each sum's summand to a running total of
its own; at the end it stores its totals in ``partial[j, thread]``, and the sums are ``cupy.sum`` of
those rows. So the pass reads each input once and writes each output once: for the memory-bound B1
expression 4 array passes, the minimum (issue 5). The first version, a CuPy ``ElementwiseKernel``
writing each sum's summand as an array to be summed afterwards, made 6 and reached 59-65% of the
H200's copy bandwidth; measured on that GPU, see docs/performance.md. The per-element body
(`kernel_body`) is the same C for both, generated from the per-op C expressions (`cexpr.C`), and
is tested on the host; `raw_source` wraps it in the kernel.

The totals are deterministic (a fixed thread count for a given size and device; no atomics): each
thread adds up to ``n / threads`` summands in order, then ``cupy.sum`` adds the threads' totals.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import cexpr
from .lower import Instr, Program, call_shape

__all__ = ["BLOCK", "C_TYPES", "compile_cuda", "grid", "kernel_body", "raw_source"]

C_TYPES = {"float64": "double", "float32": "float", "bool": "bool"}


def _literal(ins: Instr) -> str:
    v = ins.args[0]
    if ins.dtype == "bool":
        return "true" if v else "false"
    f = float(v)
    text = "INFINITY" if f == math.inf else "-INFINITY" if f == -math.inf else "NAN" if f != f else repr(f)
    return f"(({C_TYPES[ins.dtype]}){text})"


def kernel_body(prog: Program) -> str:
    """The C statements computing one element: inputs ``a0``... and captured arrays ``c0``... are
    in scope; they set ``o<k>`` for the k-th output when it is elementwise and ``r<j>`` to the summand
    of the j-th distinct sum (both declared by the caller); ``XPGRAD_N`` is the element count.
    """
    dt = prog.dtype
    lines = []
    for i in prog.body:
        if i.op == "sum":
            continue
        if i.op == "literal":
            expr = _literal(i)
        elif i.op == "count":
            expr = f"(({C_TYPES[i.dtype]})XPGRAD_N)"
        else:
            expr = cexpr.C[i.op].format(*i.args, T=C_TYPES[dt])
        lines.append(f"{C_TYPES[i.dtype]} {i.var} = {expr};")
    lines += [f"o{k} = {v};" for k, (v, how) in enumerate(prog.outputs) if how == "elem"]
    lines += [f"r{j} = {prog.summand(v)};" for j, v in enumerate(prog.sums)]
    return "\n".join(lines)


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


def raw_source(prog: Program) -> str:
    """The CUDA source of kernel ``xpgrad_fused(inputs..., captured..., outputs..., partial, n)``.

    Inputs and captured arrays are flat C-contiguous pointers (0-d ones read at index 0); ``partial``
    holds ``len(prog.sums)`` rows of one total per thread.
    """
    body = kernel_body(prog)
    t = C_TYPES[prog.dtype]
    ins = [*prog.inputs, *(c for c, _ in prog.captured)]
    outs = [(f"o{k}", C_TYPES[d]) for k, d in _elem_dtypes(prog)]
    n_sums = len(prog.sums)
    params = [f"const {t}* __restrict__ p_{v}" for v in ins]
    params += [f"{ct}* __restrict__ p_{o}" for o, ct in outs]
    params += [f"{t}* __restrict__ p_partial", "const long long n"]
    loads = [f"const {t} {v} = p_{v}[{'0' if v in prog.scalar_inputs else 'i'}];" for v in ins]
    decls = [f"{t} {o};" for o, _ in outs] + [f"{t} r{j};" for j in range(n_sums)]
    lines = [
        RAW_PREAMBLE + f'extern "C" __global__ void __launch_bounds__({BLOCK}) xpgrad_fused({", ".join(params)}) {{',
        "  const long long threads = (long long)gridDim.x * blockDim.x;",
        "  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;",
        *(f"  {t} total{j} = 0;" for j in range(n_sums)),
        "  for (long long i = thread; i < n; i += threads) {",
        *(f"    {x}" for x in (*loads, *decls)),
        *(f"    {x}" for x in body.splitlines()),
        *(f"    p_{o}[i] = ({ct}){o};" for o, ct in outs),
        *(f"    total{j} += r{j};" for j in range(n_sums)),
        "  }",
        *(f"  p_partial[{j} * threads + thread] = total{j};" for j in range(n_sums)),
        "}",
    ]
    return "\n".join(lines) + "\n"


def grid(n: int, sms: int) -> int:
    """Blocks of `BLOCK` threads for ``n`` elements: one thread an element up to what the SMs hold at once."""
    return max(1, min(-(-n // BLOCK), sms * BLOCKS_PER_SM))


def compile_cuda(prog: Program) -> Callable[..., list[Any]]:
    """``f(*cupy_arrays) -> [outputs]``: one kernel launch, then one ``cupy.sum`` over the threads' totals."""
    import cupy
    import numpy as np

    src = raw_source(prog)
    kernel = cupy.RawKernel(src, "xpgrad_fused")
    dtype = np.dtype(prog.dtype)
    captured = [cupy.ascontiguousarray(cupy.asarray(a, dtype=dtype)) for _, a in prog.captured]
    sums = prog.sums
    dtypes = [np.dtype(d) for _, d in _elem_dtypes(prog)]
    sms = cupy.cuda.Device().attributes["MultiProcessorCount"]

    def run(*arrays: Any) -> list[Any]:
        shape = call_shape(prog, arrays, dtype)
        n = math.prod(shape)
        flat = [cupy.ascontiguousarray(a) for a in arrays]
        outs = [cupy.empty(shape, d) for d in dtypes]
        blocks = grid(n, sms)
        partial = cupy.empty((max(1, len(sums)), blocks * BLOCK), dtype)
        kernel((blocks,), (BLOCK,), (*flat, *captured, *outs, partial, np.int64(n)))
        totals = partial.sum(axis=1) if sums else None
        result: list[Any] = []
        it = iter(outs)
        for v, how in prog.outputs:
            if how == "elem":
                result.append(next(it))
            else:
                total = totals[sums.index(v)]
                result.append(total / dtype.type(n) if how == "mean" else total)
        return result

    run.source = src  # type: ignore[attr-defined]
    return run
