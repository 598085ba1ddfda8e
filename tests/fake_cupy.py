"""A stand-in for CuPy on the host, enough for `xpgrad._fuse.cuda.compile_cuda`: arrays are NumPy
arrays, and `RawKernel` compiles the generated CUDA source with the host C++ compiler (the shim of
test_fuse_cuda_source) and runs the launch one thread after another. Every array argument is copied
into a buffer followed by GUARD sentinel elements, so a read past its end gives SENTINEL (and the
copy-back after the launch checks that nothing wrote past the end)."""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from xpgrad._fuse.cuda import BLOCK

CXX = shutil.which("c++") or shutil.which("g++")
GUARD = 64
SENTINEL = 7777.0
SMS = 2  # a small "GPU": 2 SMs, so 16 blocks of 256 threads at most

SHIM = f"""#include <math.h>
struct Dim {{ unsigned x; }};
static Dim blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __launch_bounds__(n)
extern "C" void at(unsigned block, unsigned thread, unsigned blocks) {{
  blockIdx.x = block; threadIdx.x = thread; blockDim.x = {BLOCK}; gridDim.x = blocks;
}}
"""

_dir = Path(tempfile.mkdtemp(prefix="fake_cupy_"))
launches: list[dict[str, Any]] = []


class RawKernel:
    def __init__(self, src: str, name: str) -> None:
        assert name == "xpgrad_fused"
        key = hashlib.sha1(src.encode()).hexdigest()[:16]
        cpp, lib = _dir / f"{key}.cpp", _dir / f"{key}.so"
        if not lib.exists():
            cpp.write_text(SHIM + src)
            subprocess.run([CXX, "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", lib, cpp], check=True)
        self.so = ctypes.CDLL(str(lib))

    def __call__(self, grid: tuple[int], block: tuple[int], args: tuple[Any, ...]) -> None:
        (blocks,), (threads,) = grid, block
        assert threads == BLOCK
        launches.append({"blocks": blocks, "args": args})
        bufs, ptrs = [], []
        for a in args:
            if isinstance(a, np.ndarray):
                assert a.flags.c_contiguous, "kernel arguments must be C-contiguous"
                fill = True if a.dtype == bool else SENTINEL
                buf = np.full(a.size + GUARD, fill, dtype=a.dtype)
                buf[: a.size] = a.reshape(-1)
                bufs.append((a, buf))
                ptrs.append(buf.ctypes.data_as(ctypes.c_void_p))
            else:
                assert isinstance(a, np.int64)
                ptrs.append(ctypes.c_longlong(int(a)))
        for b in range(blocks):
            for t in range(BLOCK):
                self.so.at(b, t, blocks)
                self.so.xpgrad_fused(*ptrs)
        for a, buf in bufs:
            fill = True if a.dtype == bool else SENTINEL
            assert np.all(buf[a.size :] == fill), "the kernel wrote past the end of an array"
            if a.size:
                a.reshape(-1)[...] = buf[: a.size]


class _Device:
    attributes: ClassVar[dict[str, int]] = {"MultiProcessorCount": SMS}


def module() -> types.ModuleType:
    m = types.ModuleType("cupy")
    m.RawKernel = RawKernel
    m.ascontiguousarray = np.ascontiguousarray
    m.asarray = np.asarray
    m.empty = np.empty
    m.ones, m.copyto, m.add = np.ones, np.copyto, np.add  # (for benchmarks.gpu_profile's copy and x + y)
    m.cuda = types.SimpleNamespace(Device=_Device)
    return m


def install(monkeypatch: Any) -> types.ModuleType:
    m = module()
    monkeypatch.setitem(sys.modules, "cupy", m)
    launches.clear()
    return m
