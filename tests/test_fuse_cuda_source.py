"""The CuPy ElementwiseKernel source, tested on the CPU: its C body is compiled by the host C compiler
inside a plain loop (a stand-in for CuPy's per-element launch) and must equal the unfused graph.

On a GPU the same kernels run under CuPy in test_backends (the cupy backend); here no GPU is needed.
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
from xpgrad._fuse.cuda import C_TYPES, kernel_source
from xpgrad._fuse.lower import lower

CC = shutil.which("cc") or shutil.which("gcc")


def _params(spec: str) -> list[tuple[str, str]]:
    return [tuple(p.split()) for p in spec.split(", ")] if spec else []  # type: ignore[misc]


def _host_harness(prog: Any) -> str:
    """A C function looping the kernel body over n elements, as CuPy would per thread."""
    in_params, out_params, body = kernel_source(prog)
    ins, outs = _params(in_params), _params(out_params)
    args = ["long n"] + [f"const {C_TYPES[t]}* {v.upper()}" for t, v in ins]
    args += [f"{C_TYPES[t]}* {v.upper()}" for t, v in outs]
    load = " ".join(f"{C_TYPES[t]} {v} = {v.upper()}[i];" for t, v in ins)
    decl = " ".join(f"{C_TYPES[t]} {v};" for t, v in outs)
    store = " ".join(f"{v.upper()}[i] = {v};" for _, v in outs)
    return (
        "#include <math.h>\n#include <stdbool.h>\n#define XPGRAD_N n\n"
        f"void kernel({', '.join(args)}) {{\n for (long i = 0; i < n; i++) {{\n"
        f" {load} {decl}\n{body}\n {store}\n }}\n}}\n"
    )


def _run_on_host(prog: Any, arrays: list[np.ndarray], tmp: Path) -> list[np.ndarray]:
    src = tmp / "k.c"
    src.write_text(_host_harness(prog))
    lib = tmp / "k.so"
    subprocess.run([CC, "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", lib, src, "-lm"], check=True)
    fn = ctypes.CDLL(str(lib)).kernel
    n = arrays[0].size
    _, out_params, _ = kernel_source(prog)
    outs = [np.empty(n) for _ in _params(out_params)]
    ptr = [a.ctypes.data_as(ctypes.c_void_p) for a in [*arrays, *outs]]
    fn(ctypes.c_long(n), *ptr)
    res, it = [], iter(outs)
    elems = [next(it) for _, how in prog.outputs if how == "elem"]
    summands = list(it)
    e = iter(elems)
    for v, how in prog.outputs:
        if how == "elem":
            res.append(next(e))
        else:
            with np.errstate(invalid="ignore"):  # inf - inf in a sum of specials is nan, as unfused
                t = np.sum(summands[prog.sums.index(v)])
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


def test_kernel_source_is_c_with_the_declared_parameters() -> None:
    ps = placeholders(2)
    prog = lower(ps, with_grads(B1["compute"](*ps), ps))
    in_params, out_params, body = kernel_source(prog)
    assert in_params == "float64 a0, float64 a1"
    assert out_params == "float64 o1, float64 o2, float64 r0"
    lines = body.splitlines()
    assert all(line.endswith(";") for line in lines)
    assert {"sin(a0)", "cos(a0)"} <= set(re.findall(r"\w+\(a0\)", body))
    assert not re.search(r"math\.|\*\*|np\.", body)  # no Python left in the C
    assert lines[-3:] == [
        f"o1 = {prog.outputs[1][0]};",
        f"o2 = {prog.outputs[2][0]};",
        f"r0 = {prog.summand(prog.outputs[0][0])};",
    ]


@pytest.mark.skipif(CC is None, reason="no host C compiler to compile the kernel body with")
@pytest.mark.parametrize("expr", sorted(B1))
def test_b1_kernel_body_equals_unfused_on_the_host(expr: str, tmp_path: Path) -> None:
    ps = placeholders(2)
    outs = with_grads(B1[expr](*ps), ps)
    data = inputs(4000, 2)
    _check(_run_on_host(lower(ps, outs), data, tmp_path), unfused(ps, outs)(*data))


@pytest.mark.skipif(CC is None, reason="no host C compiler to compile the kernel body with")
@pytest.mark.parametrize("name", FUSIBLE_OPS)
def test_every_op_kernel_body_equals_unfused_on_the_host(name: str, tmp_path: Path) -> None:
    ps, outs = op_graph(name)
    data = inputs(3000, len(ps))
    _check(_run_on_host(lower(ps, outs), data, tmp_path), unfused(ps, outs)(*data))
