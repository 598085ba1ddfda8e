"""The CPU code generator: one numba ``prange`` loop computing every output in a single pass.

Why numba: a fused gradient has several elementwise outputs AND full sums, all from one read of
the inputs. numba compiles a generated Python loop to machine code, runs its chunks on all cores
(``prange``) and keeps each chunk's partial sums in registers. numexpr evaluates one expression per
call (one output, its reductions single-threaded and not mixable with elementwise outputs), so it
would need one pass per output. numba is the optional ``fuse`` extra; without it `xpgrad.fuse`
evaluates the graph unfused.

Numerics: ``error_model="numpy"`` and no fastmath, so inf, nan and signed zeros follow IEEE as NumPy
does. Sums are accumulated in their own dtype (float32 ones in float32, as NumPy), per chunk in blocks of
1024 (then per chunk, then across chunks with NumPy's pairwise sum), so their rounding error stays within a
few ``(1024 + n/1024) * eps * sum|x|``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..._opt.release import lends
from .lower import Instr, Program, call_shape, captured_cache, captured_values, form, passed

__all__ = ["available", "compile_cpu", "source"]

BLOCK = 1024


def available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _expr(ins: Instr, dt: str, squares: set[str], halves: set[str], scalar_exponents: set[str]) -> str:
    if ins.op == "pow" and ins.args[1] in squares:  # x ** 2.0 is x * x exactly (as NumPy computes it)
        return "({0} * {0})".format(*ins.args)
    if ins.op == "pow" and ins.var in scalar_exponents:  # NumPy's power: x ** 0.5 is sqrt(x), -0.0 and -inf too
        if ins.args[1] in halves:
            return f"math.sqrt({ins.args[0]})"
        return "(math.sqrt({0}) if {1} == 0.5 else {0} ** {1})".format(*ins.args)
    if ins.op == "count":
        return f"{ins.dtype}(n)"
    if ins.op == "literal":
        v = ins.args[0]
        if ins.dtype == "bool":
            return repr(bool(v))
        f = float(v)
        text = "inf" if f == math.inf else "-inf" if f == -math.inf else "nan" if f != f else repr(f)
        return f"{ins.dtype}({text})"
    return form(ins.op).numba.format(*ins.args, T=dt)


def source(prog: Program) -> str:
    """The Python source of the kernel ``kernel(a0.., c0.., o0.., partial, nchunks, n)``."""
    arrays = [*prog.inputs, *(c for c, _ in prog.captured)]
    elems = [k for k, (_, how) in enumerate(prog.outputs) if how == "elem"]
    sums = prog.sums
    params = [v.upper() if v not in prog.scalar_inputs else v for v in arrays]
    params += [f"O{k}" for k in elems] + ["partial", "nchunks", "n"]
    ind = " " * 16
    squares = {i.var for i in prog.body if i.op == "literal" and i.dtype != "bool" and i.args[0] == 2}
    halves = {i.var for i in prog.body if i.op == "literal" and i.dtype != "bool" and i.args[0] == 0.5}
    lines = [f"def kernel({', '.join(params)}):", "    for c in prange(nchunks):"]
    lines += ["        lo = (c * n) // nchunks", "        hi = ((c + 1) * n) // nchunks"]
    # Each sum adds in its own dtype, as NumPy's: a float32 sum in float32 (in float64, 3e38 + 3e38 - 3e38 was 3e38
    # where NumPy's is inf), a count in int64
    zero = {i.var: f"{i.dtype}(0)" for i in prog.body if i.op == "sum"}
    lines += [f"        s{j} = {zero[v]}" for j, v in enumerate(sums)]
    lines += [f"        for blo in range(lo, hi, {BLOCK}):", f"            bhi = min(blo + {BLOCK}, hi)"]
    lines += [f"            b{j} = {zero[v]}" for j, v in enumerate(sums)]
    # An unsigned index: numba wraps a negative signed index around, a test per access that kept LLVM from
    # vectorising the loop (issue 5: 3 * (2 * x) at 10^6 on one thread 0.92 -> 0.25 ms, NumPy's 6 * x 0.25;
    # the memory-bound B1 kernel 1.71 -> 1.13 ms)
    lines += ["            for i in range(blo, bhi):", f"{ind}i = uint64(i)"]
    lines += [f"{ind}{v} = {v.upper()}[i]" for v in arrays if v not in prog.scalar_inputs]
    for ins in prog.body:
        if ins.op == "sum":
            lines.append(f"{ind}b{sums.index(ins.var)} += {ins.args[0]}")
        else:
            lines.append(f"{ind}{ins.var} = {_expr(ins, prog.dtype, squares, halves, prog.scalar_exponents)}")
    lines += [f"{ind}O{k}[i] = {prog.outputs[k][0]}" for k in elems]
    lines += [f"            s{j} += b{j}" for j in range(len(sums))]
    lines += [f"        partial[c, {j}] = s{j}" for j in range(len(sums))]
    return "\n".join(lines) + "\n"


def compile_cpu(prog: Program) -> Callable[..., list[Any]]:
    """A function ``f(*input_arrays) -> [outputs]`` running the program as one parallel numba loop."""
    src = source(prog)
    kernel = _compiled.get(src)
    if kernel is None:
        if len(_compiled) >= KERNELS:  # (a fused function holds its kernel itself: only sharing is lost)
            _compiled.clear()
        kernel = _compiled[src] = _Kernel(src)
    dtype = np.dtype(prog.dtype)
    sums = prog.sums
    out_dtypes = [np.dtype(d) for d in prog.output_dtypes]
    return _runner(prog, kernel, dtype, sums, out_dtypes, src)


def _flat(a: Any) -> Any:
    """An array as the kernel reads it: flat and C-contiguous, or a 0-d one as its scalar."""
    return np.ascontiguousarray(a).reshape(-1) if a.ndim else a[()]


SERIAL_BELOW = 1 << 15
"""Arrays smaller than this run the serial build of the kernel: waking threads costs more than the work.

Measured on the 2-core VM (issue 5), two threads against one: at 2.5 * 10^5 elements 4.4 vs 7.3 ms
(compute-bound B1) and 0.21-0.32 vs 0.43 ms (memory-bound); at 10^6 18 vs 27 ms and 1.3-1.7 vs 2.6 ms.
When the other core is busy with another process, the second thread waits for a time slice (the
memory-bound kernel at 10^6 then took 8 ms on two threads against 1.8 on one): pin the thread count
(``NUMBA_NUM_THREADS``, ``numba.set_num_threads``) on a shared machine."""


class _Kernel:
    """One generated kernel, built (lazily) twice by numba: parallel, and serial for small arrays."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.builds: dict[bool, Any] = {}

    def __call__(self, *args: Any) -> None:
        parallel = args[-1] >= SERIAL_BELOW
        f = self.builds.get(parallel)
        if f is None:
            f = self.builds[parallel] = _jit(self.src, parallel)
        f(*args)


def _jit(src: str, parallel: bool) -> Any:
    import numba

    scope: dict[str, Any] = {
        "math": math,
        "np": np,
        "prange": numba.prange,
        "inf": math.inf,
        "nan": math.nan,
        "float64": np.float64,
        "float32": np.float32,
        "uint64": numba.uint64,
        "int64": np.int64,
    }
    exec(compile(src, "<xpgrad fused kernel>", "exec"), scope)
    return numba.njit(parallel=parallel, error_model="numpy", nogil=True)(scope["kernel"])


_compiled: dict[str, Any] = {}
"""Kernels by source: the same graph fused twice compiles once (numba compiles on the first call)."""
KERNELS = 256
"""The most kernels `_compiled` shares; then it starts again (a process fusing ever new graphs keeps no more)."""


def _runner(
    prog: Program,
    kernel: Any,
    dtype: Any,
    sums: list[str],
    out_dtypes: list[Any],
    src: str,
) -> Callable[..., list[Any]]:
    import numba

    held: dict[int, Any] = {}  # the last call's outputs, reused once the caller has let them go
    # Choosing the outputs and holding them is one step: two threads that both saw a dropped output as free
    # would take the same array (and write each other's results into it), or find it gone from ``held``
    lock = threading.Lock()
    cache = captured_cache(prog)  # each captured leaf's last value and its flat array
    elems = [k for k, (_, how) in enumerate(prog.outputs) if how == "elem"]

    def run(*arrays: Any) -> list[Any]:
        shapes, captured = captured_values(prog, cache, lambda leaf, v: _flat(leaf._bk.to_numpy(v)))
        shape = call_shape(prog, arrays, dtype, shapes)
        flat = [_flat(a) for a in arrays]
        n = math.prod(shape)
        with lock:  # (once this call's ``outs`` holds an array, `lends` sees it taken)
            outs = {k: _buffer(held, k, shape, out_dtypes[k]) for k in elems}
            held.clear()
            held.update(outs)
        nchunks = max(1, min(n // (4 * BLOCK), 8 * numba.get_num_threads())) if n >= SERIAL_BELOW else 1
        partial = np.zeros((nchunks, max(1, len(sums))))
        kernel(*flat, *captured, *(o.reshape(-1) for o in outs.values()), partial, nchunks, n)
        totals = partial.sum(axis=0)
        result: list[Any] = []
        for k, (v, how) in enumerate(prog.outputs):
            if how == "elem":
                result.append(outs[k])
            elif how == "pass":  # a 0-d input or captured leaf, as the unfused graph returns it
                result.append(np.asarray(passed(prog, v, arrays, captured)))
            else:
                t = totals[sums.index(v)] / (n if how == "mean" else 1)
                r = np.asarray(t, dtype=out_dtypes[k])
                result.append(r.reshape(prog.sum_shapes[k]) if k in prog.sum_shapes else r)
        return result

    run.source = src  # type: ignore[attr-defined]
    return run


def _buffer(held: dict[int, Any], k: int, shape: tuple[int, ...], dtype: Any) -> Any:
    """Output ``k``'s array: the previous call's, when nothing but ``held`` refers to it any more, else a new one.

    Performance (issue 5): every fresh output array of a few MB is fresh memory, and its first touch
    costs a page fault per 4 KiB page: a 2-output kernel at 10^6 elements ran 1.7 ms on reused
    arrays and 4.9 ms on fresh ones, where NumPy's own ``x + y`` gets its freed block back from the
    allocator. Reusing an output is safe only when no one else holds it (no Tensor, list, view or
    argument of this call): its reference count says so, as for a caching allocator.
    """
    if lends(held.get(k), dtype, shape):  # called on the dict's entry, as `lends` asks
        return held[k]
    return np.empty(shape, dtype)
