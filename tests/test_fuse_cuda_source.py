"""The CUDA kernels' source, tested on the CPU: `tests/fake_cupy.py` compiles the generated kernels with
the host C++ compiler (a few macros stand in for CUDA's) and runs a launch a block at a time, the block's
threads as coroutines that all reach each ``__syncthreads()`` before any goes on (in a shuffled order);
through `compile_cuda`'s own runner, it must equal the unfused graph. Where nvcc is installed, the same
sources must also compile for the GPU.

On a GPU the same kernels run under CuPy in `test_fuse_gpu.py`.
"""

from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fake_cupy
import xpgrad
from fuse_cases import (
    B1,
    FUSIBLE_OPS,
    Together,
    agree,
    batch_of,
    inputs,
    op_graph,
    ops_together,
    placeholders,
    same,
    with_grads,
)
from xpgrad._fuse.cuda import BLOCK, compile_cuda, grid, kernel_body, raw_source
from xpgrad._fuse.lower import lower

NVCC = shutil.which("nvcc")
host = pytest.mark.skipif(fake_cupy.CXX is None, reason="no host C++ compiler to compile the kernel with")


def _on_host(ps: list[Any], outs: list[Any], data: list[np.ndarray], dtype: str = "float64") -> None:
    agree(compile_cuda(lower(ps, outs)), ps, outs, *data, dtype=dtype)


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
    assert "total0 += r0;" in src and "p_partial[0 * gridDim.x + blockIdx.x] = xpgrad_red[0];" in src
    sums = re.search(r"xpgrad_sums\((.*)\)", src).group(1).split(", ")
    assert sums == [
        "const double* __restrict__ p_partial",
        "double* __restrict__ p_s0",  # output 0, the value: a sum
        "const long long blocks",
        "const long long n",
    ]
    # each of the two block totals: after the store, in the tree, and before the buffer is reused (the last
    # is redundant after the tree's final barrier, and kept so each total stands alone)
    assert src.count("__syncthreads();") == 2 * 3
    no_sums = raw_source(lower(ps, [ps[0] * ps[1]]))
    assert "xpgrad_sums" not in no_sums and "partial" not in no_sums and "__shared__" not in no_sums


def test_the_grid_holds_one_thread_an_element_up_to_the_resident_limit() -> None:
    assert grid(0, 132) == 1 and grid(1, 132) == 1 and grid(BLOCK + 1, 132) == 2
    assert grid(10**8, 132) == 132 * 8


@host
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [5000, 100])  # more elements than threads (each strides), and fewer
@pytest.mark.parametrize("expr", sorted(B1))
def test_b1_kernel_equals_unfused_on_the_host(cp: Any, expr: str, n: int, dtype: str) -> None:
    ps = placeholders(2, dtype)
    _on_host(ps, with_grads(B1[expr](*ps), ps), inputs(n, 2, dtype), dtype)
    fused, sums = fake_cupy.launches[-2:]  # the pass, then the final sums (one block)
    assert (fused["kernel"], sums["kernel"]) == ("xpgrad_fused", "xpgrad_sums")
    assert fused["blocks"] == grid(n, fake_cupy.SMS) and sums["blocks"] == 1


@functools.cache
def _on_host_together(names: tuple[str, ...], dtype: str) -> Together:
    return ops_together(names, dtype, lambda ins, outs: compile_cuda(lower(ins, outs)))


@host
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", FUSIBLE_OPS)
def test_every_op_kernel_equals_unfused_on_the_host(cp: Any, name: str, dtype: str) -> None:
    fused, plain = _on_host_together(batch_of(name), dtype).outputs[name]
    same(fused, plain, dtype, 5000)


def _specials(dtype: str) -> tuple[list[Any], list[Any]]:
    """A graph whose kernel holds inf, -inf and nan literals (the NVRTC fallback macros' cases)."""
    (x,) = placeholders(1, dtype)
    return [x], [xpgrad.where(x > 0, x * math.inf, -math.inf) + math.nan * (x - x)]


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed: the CUDA sources are compiled on the GPU run only")
def test_every_kernel_compiles_for_the_gpu(tmp_path: Path) -> None:
    ps = placeholders(2)
    graphs = [(ps, with_grads(B1[e](*ps), ps)) for e in sorted(B1)]
    graphs += [op_graph(name, dtype=dt) for name in FUSIBLE_OPS for dt in ("float64", "float32")]
    graphs += [_specials(dt) for dt in ("float64", "float32")]
    kernels = [raw_source(lower(list(i), list(o))) for i, o in graphs]
    assert "INFINITY" in kernels[-1] and "NAN" in kernels[-1]
    # NVRTC has no math.h: the kernels' own INFINITY and NAN must compile without it
    src = "".join(
        "#undef INFINITY\n#undef NAN\n" + k.replace("xpgrad_fused", f"k{j}").replace("xpgrad_sums", f"s{j}")
        for j, k in enumerate(kernels)
    )
    (tmp_path / "k.cu").write_text(src)
    r = subprocess.run(
        [NVCC, "-arch=sm_80", "-ptx", "-o", str(tmp_path / "k.ptx"), str(tmp_path / "k.cu")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


@host
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_fallback_specials_equal_unfused_on_the_host(cp: Any, dtype: str) -> None:
    ps, outs = _specials(dtype)
    _on_host(ps, outs, inputs(300, 1, dtype), dtype)
