"""The CPU code generator: one pass computing every output, on numba's threads for large arrays.

Why numba: a fused gradient has several elementwise outputs AND full sums, all from one read of
the inputs. numba compiles each operation of the program to machine code (`native` writes the loop around
them as LLVM IR and numba's code generator compiles it), runs the chunks on all cores (``prange``) and the
kernel keeps each chunk's partial sums in registers. numexpr evaluates one expression per call (one output,
its reductions single-threaded and not mixable with elementwise outputs), so it would need one pass per
output. numba is the optional ``fuse`` extra; without it `xpgrad.fuse` evaluates the graph unfused.

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

from ..._core.build import evaluate
from ..._opt.release import lends
from . import native
from .lower import (
    Program,
    arguments,
    call_shape,
    captured_cache,
    captured_values,
    derive,
    host_output,
    passed,
    sources,
)

__all__ = ["BLOCK", "available", "compile_cpu"]

BLOCK = native.BLOCK


def available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def compile_cpu(prog: Program) -> Callable[..., list[Any]]:
    """A function ``f(*input_arrays) -> [outputs]`` running the program as one pass (`native`: LLVM IR, numba's
    code for each operation), on numba's threads for large arrays."""
    out_dtypes = [np.dtype(d) for d in prog.output_dtypes]
    src, libraries, types = native.source(prog, out_dtypes)
    kernel = _compiled.get(src)
    if kernel is None:
        if len(_compiled) >= KERNELS:  # (a fused function holds its kernel itself: only sharing is lost)
            _compiled.clear()
        kernel = _compiled[src] = native.Native(src, libraries, types)
    dtype = np.dtype(prog.dtype)
    return _runner(prog, kernel, dtype, prog.sums, out_dtypes, src)


def _host_array(leaf: Any, value: Any) -> Any:
    """A captured leaf's value as the kernel reads it (`_flat`), from any backend."""
    return _flat(leaf._bk.to_numpy(value))


def _flat(a: Any) -> Any:
    """An array as the kernel reads it: flat and C-contiguous (a 0-d one of one element)."""
    return np.ascontiguousarray(a).reshape(-1)


SERIAL_BELOW = 1 << 15
"""Arrays smaller than this run the serial build of the kernel: waking threads costs more than the work.

Measured on the 2-core VM (issue 5), two threads against one: at 2.5 * 10^5 elements 4.4 vs 7.3 ms
(compute-bound B1) and 0.21-0.32 vs 0.43 ms (memory-bound); at 10^6 18 vs 27 ms and 1.3-1.7 vs 2.6 ms.
When the other core is busy with another process, the second thread waits for a time slice (the
memory-bound kernel at 10^6 then took 8 ms on two threads against 1.8 on one): pin the thread count
(``NUMBA_NUM_THREADS``, ``numba.set_num_threads``) on a shared machine."""


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
    unis = [k for k, (_, how) in enumerate(prog.outputs) if how == "uniform"]
    scalars = _scalars(prog)
    # where the kernel's arrays come from: ("a", k) the call's input k, ("c", j) captured leaf j, ("d", j) the host's
    where = sources(prog)
    host = bool(prog.derived) or any(how in ("pass", "host") for _, how in prog.outputs)
    direct = prog.arrays == prog.inputs  # the kernel reads the call's arrays, in order, and nothing else
    prods = [prog.reduction(v) == "prod" for v in sums] if any(prog.reduction(v) == "prod" for v in sums) else []
    n_in = len(prog.inputs)
    slot = {v: j for j, v in enumerate(sums)} | {k: j for j, k in enumerate(unis)}  # (keys: vars, and ints)
    no_shapes: list[tuple[int, ...]] = []
    n_cols = max(1, len(sums))
    part = np.int64 if dtype.kind in "iu" else np.float64  # the chunks' totals: integer sums wrap as NumPy's

    def run(*arrays: Any) -> list[Any]:
        if len(arrays) != n_in:
            arguments(prog, arrays)  # (refuses the count)
        for a in arrays:
            if not hasattr(a, "dtype"):
                arrays = arguments(prog, arrays)  # numbers and lists, made arrays
                break
        shapes, captured = captured_values(prog, cache, _host_array) if prog.captured else (no_shapes, no_shapes)
        # the captured leaves as they are (host arrays, returned and indexed), where needed
        values = [leaf._bk.to_numpy(v) for (_, leaf), v in zip(prog.captured, cache[0], strict=True)] if host else []
        derived = derive(prog, arrays, values, np) if prog.derived else no_shapes
        shape = call_shape(prog, arrays, dtype, shapes, derived)
        if direct:
            flat = [_flat(a) for a in arrays]
        else:
            flat = [_flat(arrays[j] if s == "a" else captured[j] if s == "c" else derived[j]) for s, j in where]
        n = math.prod(shape)
        with lock:  # (once this call's ``outs`` holds an array, `lends` sees it taken)
            outs = {k: _buffer(held, k, shape, out_dtypes[k]) for k in elems}
            held.clear()
            held.update(outs)
        uniform: list[Any] = [np.empty(1, out_dtypes[k]) for k in unis]
        nchunks = 1 if n < SERIAL_BELOW else max(1, min(n // (4 * BLOCK), 8 * numba.get_num_threads()))
        partial = np.zeros((nchunks, n_cols), part)
        kernel.run([*flat, *(o.reshape(-1) for o in outs.values()), *uniform, partial], nchunks, n)
        totals = partial.sum(axis=0) if not prods else np.where(prods, partial.prod(axis=0), partial.sum(axis=0))
        result: list[Any] = []
        for k, (v, how) in enumerate(prog.outputs):
            if how == "elem":
                r = outs[k]
                if k in prog.out_shapes:  # one element, in its own shape
                    r = r.reshape(prog.out_shapes[k])
                    r = r[()] if k in scalars else r
                result.append(r)
            elif how == "uniform":
                u = uniform[slot[k]]
                result.append(u[0] if k in scalars else u.reshape(()))
            elif how == "pass":  # an input or captured leaf, as the unfused graph returns it
                result.append(passed(prog, v, arrays, values))
            elif how == "host":
                result.append(host_output(prog, k, arrays, values, np))
            else:  # a sum, mean or product: a NumPy scalar (an array of the target's shape after a fit to it)
                t = totals[slot[v]] / n if how == "mean" else totals[slot[v]]
                if dtype.kind in "iu":  # (an int64 total, whose bits are a uint64 sum's)
                    t = np.asarray(t).astype(out_dtypes[k])[()]
                if k in scalars and k not in prog.sum_shapes:
                    result.append(out_dtypes[k].type(t))
                else:
                    r = np.asarray(t, dtype=out_dtypes[k])
                    result.append(r.reshape(prog.sum_shapes[k]) if k in prog.sum_shapes else r)
        return result

    run.source = src  # type: ignore[attr-defined]
    return run


def _scalars(prog: Program) -> set[int]:
    """The 0-d outputs computed by the kernel that `xpgrad.function` returns as NumPy scalars: as the op's NumPy
    function gives it (``np.sum`` and ufuncs a scalar, ``broadcast_to`` and ``zeros_like`` a 0-d array), found by
    evaluating each one's op once, on ones of its operands' shapes (a free size 1) and dtypes."""
    out = set()
    for k, ((_, how), node) in enumerate(zip(prog.outputs, prog.results, strict=True)):
        zero_d = how in ("uniform", "sum", "mean", "prod") and k not in prog.sum_shapes
        if not (zero_d or prog.out_shapes.get(k) == ()) or node.op is None:
            continue
        xp = node._bk.xp
        try:
            vals = [
                c._value if c._const else xp.ones(tuple(d or 1 for d in c._shape or ()), dtype=c._dtype or prog.dtype)
                for c in node.children
            ]
            with np.errstate(all="ignore"):
                value = evaluate(node, vals)
        except Exception:  # (an op the stand-ins do not fit: a scalar, as most are)
            value = np.float64(0)
        if isinstance(value, np.generic):
            out.add(k)
    return out


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
