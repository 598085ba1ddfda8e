"""The CUDA kernel's source, tested on the CPU: the whole generated kernel is compiled by the host C++
compiler (a few macros stand in for CUDA's) and run thread by thread, which is exact because its
threads never wait for one another; it must equal the unfused graph. Where nvcc is installed, the
same sources must also compile for the GPU.

On a GPU the same kernels run under CuPy in test_backends and test_fuse_gpu (the cupy backend).
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fuse_cases import B1, FUSIBLE_OPS, inputs, op_graph, placeholders, unfused, with_grads
from xpgrad._fuse.cuda import BLOCK, grid, kernel_body, out_dtypes, raw_source
from xpgrad._fuse.lower import lower

CXX = shutil.which("c++") or shutil.which("g++")
NVCC = shutil.which("nvcc")

SHIM = f"""#include <math.h>
struct Dim {{ unsigned x; }};
static Dim blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __launch_bounds__(n)
extern "C" void at(unsigned block, unsigned thread, unsigned blocks) {{
  blockIdx.x = block; threadIdx.x = thread; blockDim.x = {BLOCK}; gridDim.x = blocks;
}}
"""


def _run_on_host(prog: Any, arrays: list[np.ndarray], tmp: Path, sms: int = 1) -> list[np.ndarray]:
    """The kernel run as a launch of ``grid(n, sms)`` blocks would, one thread after another."""
    src = tmp / "k.cpp"
    src.write_text(SHIM + raw_source(prog))
    lib = tmp / "k.so"
    subprocess.run([CXX, "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", lib, src], check=True)
    so = ctypes.CDLL(str(lib))
    n = arrays[0].size
    blocks = grid(n, sms)
    captured = [np.ascontiguousarray(a, dtype=prog.dtype) for _, a in prog.captured]
    outs = [np.empty(n, dtype=d) for d in out_dtypes(prog)]
    partial = np.full((max(1, len(prog.sums)), blocks * BLOCK), np.nan)  # every thread must write its totals
    ptrs = [a.ctypes.data_as(ctypes.c_void_p) for a in [*arrays, *captured, *outs, partial]]
    for b in range(blocks):
        for t in range(BLOCK):
            so.at(b, t, blocks)
            so.xpgrad_fused(*ptrs, ctypes.c_longlong(n))
    res, it = [], iter(outs)
    with np.errstate(invalid="ignore"):  # inf - inf in a sum of specials is nan, as unfused
        totals = partial.sum(axis=1)
    for v, how in prog.outputs:
        if how == "elem":
            res.append(next(it))
        else:
            t = totals[prog.sums.index(v)]
            res.append(t / n if how == "mean" else t)
    return res


def _check(fused: list[np.ndarray], plain: list[Any]) -> None:
    for f, u in zip(fused, plain, strict=True):
        u = np.asarray(u, dtype=np.float64)
        f = np.asarray(f, dtype=np.float64)
        finite = np.isfinite(u)
        np.testing.assert_array_equal(f[~finite], u[~finite])
        err = np.abs(f[finite] - u[finite])
        assert np.all(err <= 4 * np.finfo(np.float64).eps * (np.abs(u[finite]) + 1)), float(np.max(err))


def test_the_kernel_is_c_with_the_declared_parameters() -> None:
    ps = placeholders(2)
    prog = lower(ps, with_grads(B1["compute"](*ps), ps))
    body = kernel_body(prog)
    lines = body.splitlines()
    assert all(line.endswith(";") for line in lines)
    assert {"sin(a0)", "cos(a0)"} <= set(re.findall(r"\w+\(a0\)", body))
    assert not re.search(r"math\.|\*\*|np\.", body)  # no Python left in the C
    assert lines[-3:] == [
        f"o1 = {prog.outputs[1][0]};",
        f"o2 = {prog.outputs[2][0]};",
        f"r0 = {prog.summand(prog.outputs[0][0])};",
    ]
    src = raw_source(prog)
    params = re.search(r"xpgrad_fused\((.*)\)", src).group(1).split(", ")
    assert params == [
        "const double* __restrict__ p_a0",
        "const double* __restrict__ p_a1",
        "double* __restrict__ p_o1",
        "double* __restrict__ p_o2",
        "double* __restrict__ p_partial",
        "const long long n",
    ]
    assert "total0 += r0;" in src and "p_partial[0 * threads + thread] = total0;" in src


def test_the_grid_holds_one_thread_an_element_up_to_the_resident_limit() -> None:
    assert grid(0, 132) == 1 and grid(1, 132) == 1 and grid(BLOCK + 1, 132) == 2
    assert grid(10**8, 132) == 132 * 8


@pytest.mark.skipif(CXX is None, reason="no host C++ compiler to compile the kernel with")
@pytest.mark.parametrize("n", [4000, 100])  # more elements than threads (each strides), and fewer
@pytest.mark.parametrize("expr", sorted(B1))
def test_b1_kernel_equals_unfused_on_the_host(expr: str, n: int, tmp_path: Path) -> None:
    ps = placeholders(2)
    outs = with_grads(B1[expr](*ps), ps)
    data = inputs(n, 2)
    _check(_run_on_host(lower(ps, outs), data, tmp_path), unfused(ps, outs)(*data))


@pytest.mark.skipif(CXX is None, reason="no host C++ compiler to compile the kernel with")
@pytest.mark.parametrize("name", FUSIBLE_OPS)
def test_every_op_kernel_equals_unfused_on_the_host(name: str, tmp_path: Path) -> None:
    ps, outs = op_graph(name)
    data = inputs(3000, len(ps))
    _check(_run_on_host(lower(ps, outs), data, tmp_path), unfused(ps, outs)(*data))


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed: the CUDA sources are compiled on the GPU run only")
def test_every_kernel_compiles_for_the_gpu(tmp_path: Path) -> None:
    ps = placeholders(2)
    graphs = [(ps, with_grads(B1[e](*ps), ps)) for e in sorted(B1)] + [op_graph(name) for name in FUSIBLE_OPS]
    src = "".join(
        raw_source(lower(list(i), list(o))).replace("xpgrad_fused", f"k{k}") for k, (i, o) in enumerate(graphs)
    )
    (tmp_path / "k.cu").write_text(src)
    r = subprocess.run(
        [NVCC, "-arch=sm_80", "-ptx", "-o", str(tmp_path / "k.ptx"), str(tmp_path / "k.cu")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
