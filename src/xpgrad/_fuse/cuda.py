"""The GPU code generator: the same scalar program as one CuPy ``ElementwiseKernel``.

The kernel's outputs are every elementwise result and, for each final sum, its summand; the sums
are then ``cupy.sum`` of those summand arrays (a tree reduction). Decision: this keeps the kernel a
plain ElementwiseKernel generated from the same per-op C expressions (`cexpr.C`), at the price of
writing and re-reading one array per sum (for the memory-bound B1 expression, 6 array passes where
4 are the minimum). The plan if a GPU measurement shows it matters: a RawKernel with per-block
partial sums (shared-memory tree + one atomicAdd per block) in the same generated loop body.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import cexpr
from .lower import Instr, Program

__all__ = ["C_TYPES", "PREAMBLE", "compile_cuda", "kernel_source"]

C_TYPES = {"float64": "double", "float32": "float", "bool": "bool"}
PREAMBLE = "#define XPGRAD_N (_ind.size())"


def _literal(ins: Instr) -> str:
    v = ins.args[0]
    if ins.dtype == "bool":
        return "true" if v else "false"
    f = float(v)
    text = "INFINITY" if f == math.inf else "-INFINITY" if f == -math.inf else "NAN" if f != f else repr(f)
    return f"(({C_TYPES[ins.dtype]}){text})"


def kernel_source(prog: Program) -> tuple[str, str, str]:
    """``(in_params, out_params, operation)`` for ``cupy.ElementwiseKernel``.

    Inputs are ``a0``... then captured arrays ``c0``...; outputs ``o<k>`` for the k-th output when it
    is elementwise and ``r<j>`` for the summand of the j-th distinct sum.
    """
    dt = prog.dtype
    ins = [*prog.inputs, *(c for c, _ in prog.captured)]
    in_params = ", ".join(f"{dt} {v}" for v in ins)
    sums = prog.sums
    outs = [f"{dt} o{k}" for k, (_, how) in enumerate(prog.outputs) if how == "elem"]
    outs += [f"{dt} r{j}" for j in range(len(sums))]
    lines = []
    for i in prog.body:
        if i.op == "sum":
            continue
        if i.op == "literal":
            expr = _literal(i)
        elif i.op == "count":  # the element count; PREAMBLE defines it from CuPy's index
            expr = f"(({C_TYPES[i.dtype]})XPGRAD_N)"
        else:
            expr = cexpr.C[i.op].format(*i.args, T=C_TYPES[dt])
        lines.append(f"{C_TYPES[i.dtype]} {i.var} = {expr};")
    lines += [f"o{k} = {v};" for k, (v, how) in enumerate(prog.outputs) if how == "elem"]
    lines += [f"r{j} = {prog.summand(v)};" for j, v in enumerate(sums)]
    return in_params, ", ".join(outs), "\n".join(lines)


def compile_cuda(prog: Program) -> Callable[..., list[Any]]:
    """``f(*cupy_arrays) -> [outputs]``: one ElementwiseKernel launch, then one cupy.sum per sum."""
    import cupy

    in_params, out_params, operation = kernel_source(prog)
    kernel = cupy.ElementwiseKernel(in_params, out_params, operation, "xpgrad_fused", preamble=PREAMBLE)
    captured = [cupy.asarray(a) for _, a in prog.captured]
    sums = prog.sums
    n_elem = sum(1 for _, how in prog.outputs if how == "elem")

    def run(*arrays: Any) -> list[Any]:
        res = kernel(*arrays, *captured)
        res = res if isinstance(res, tuple) else (res,)
        elems, summands = res[:n_elem], res[n_elem:]
        totals = [cupy.sum(r) for r in summands]
        out: list[Any] = []
        it = iter(elems)
        for v, how in prog.outputs:
            if how == "elem":
                out.append(next(it))
            else:
                t = totals[sums.index(v)]
                out.append(t / t.dtype.type(summands[0].size) if how == "mean" else t)
        return out

    run.source = operation  # type: ignore[attr-defined]
    return run
