"""A stand-in for CuPy on the host, enough for `xpgrad._compile.fuse.cuda.compile_cuda`: arrays are NumPy
arrays, and `RawModule` compiles the generated CUDA source with the host C++ compiler (a few macros and
a launcher stand in for CUDA's) and runs a launch a block at a time, the block's `BLOCK` threads as
coroutines that all reach a ``__syncthreads()`` before any goes on, in a shuffled order each time, sharing
the block's ``__shared__`` arrays (NaN until written). Every array argument is copied into a buffer
followed by GUARD sentinel elements, so a read past its end gives SENTINEL (and the copy-back after the
launch checks that nothing wrote past the end)."""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from xpgrad._compile.fuse.cuda import BLOCK

CXX = shutil.which("c++") or shutil.which("g++")
GUARD = 64
SENTINEL = 7777.0
SMS = 2  # a small "GPU": 2 SMs, so 16 blocks of 256 threads at most (`install(..., sms=)` for more)
FLAGS = ["-O1", "-ffp-contract=off", "-shared", "-fPIC"]
"""The host compiler's flags (a test may add a sanitizer's)."""

SHIM = f"""#include <math.h>
#include <string.h>
#include <ucontext.h>
struct Dim {{ unsigned x; }};
static Dim blockIdx, threadIdx, blockDim, gridDim;
static ucontext_t xpgrad_main, xpgrad_team[{BLOCK}];
static char xpgrad_stacks[{BLOCK}][1 << 16];
static int xpgrad_done[{BLOCK}], xpgrad_at[{BLOCK}], xpgrad_poison, xpgrad_error;
static unsigned xpgrad_order[{BLOCK}], xpgrad_seed;
static void** xpgrad_args;
#define __global__
#define __launch_bounds__(n)
/* a thread at a barrier hands over to the scheduler, which runs the block's other threads up to a
   barrier before resuming it; ``at`` records which one, so that threads waiting at different barriers
   (a barrier in divergent code) are reported */
static void xpgrad_sync(int line) {{
  xpgrad_at[threadIdx.x] = line;
  swapcontext(&xpgrad_team[threadIdx.x], &xpgrad_main);
}}
#define __syncthreads() xpgrad_sync(__LINE__)
"""

SHARED = re.compile(r"__shared__ (\w+(?: \w+)*) (\w+)\[(\d+)\];")
"""A ``__shared__`` array becomes one static array (a block runs at a time), filled with NaN bits by the first
thread of each block to reach its declaration (before any writes to it): a read of an element no thread of
the block wrote gives NaN, not a value left over from the previous block or the previous sum."""


def _shared(code: str) -> str:
    return SHARED.sub(r"static \1 \2[\3]; if (xpgrad_poison) { memset(\2, 0xff, sizeof \2); xpgrad_poison = 0; }", code)


def _launcher(name: str, params: list[str]) -> str:
    """A C function ``launch_<name>(blocks, threads, args, seed)`` running the kernel's grid: a block at a
    time, its threads as coroutines. A round runs every thread up to its next ``__syncthreads()``, in an
    order shuffled afresh each round (a race then shows whichever thread comes first), so all reach a barrier
    before any goes on, as on a GPU. Returns 1 when threads waited at different barriers, or some ended while
    others waited."""
    args = []
    for k, p in enumerate(params):
        ctype = p.rsplit(" ", 1)[0].replace("__restrict__", "").strip()
        args.append(f"({ctype})xpgrad_args[{k}]" if "*" in ctype else f"*({ctype}*)xpgrad_args[{k}]")
    return f"""
static void run_{name}(unsigned t) {{
  {name}({", ".join(args)});
  xpgrad_done[t] = 1;
}}
extern "C" int launch_{name}(unsigned blocks, unsigned threads, void** args, unsigned seed) {{
  gridDim.x = blocks; blockDim.x = threads; xpgrad_args = args; xpgrad_seed = seed; xpgrad_error = 0;
  for (unsigned b = 0; b < blocks; ++b) {{
    blockIdx.x = b;
    xpgrad_poison = 1;
    for (unsigned t = 0; t < threads; ++t) {{
      getcontext(&xpgrad_team[t]);
      xpgrad_team[t].uc_stack.ss_sp = xpgrad_stacks[t];
      xpgrad_team[t].uc_stack.ss_size = sizeof xpgrad_stacks[t];
      xpgrad_team[t].uc_link = &xpgrad_main;
      makecontext(&xpgrad_team[t], (void (*)())run_{name}, 1, t);
      xpgrad_done[t] = 0;
      xpgrad_order[t] = t;
    }}
    for (int running = 1; running;) {{
      for (unsigned t = threads - 1; t > 0; --t) {{  /* Fisher-Yates, with a linear congruential generator */
        xpgrad_seed = xpgrad_seed * 1664525u + 1013904223u;
        unsigned k = (xpgrad_seed >> 8) % (t + 1), tmp = xpgrad_order[t];
        xpgrad_order[t] = xpgrad_order[k]; xpgrad_order[k] = tmp;
      }}
      running = 0;
      int ended = 0, line = -1;
      for (unsigned i = 0; i < threads; ++i) {{
        unsigned t = xpgrad_order[i];
        if (xpgrad_done[t]) continue;
        threadIdx.x = t;
        swapcontext(&xpgrad_main, &xpgrad_team[t]);
        if (xpgrad_done[t]) {{ ended = 1; continue; }}
        running = 1;
        if (line != -1 && xpgrad_at[t] != line) xpgrad_error = 1;
        line = xpgrad_at[t];
      }}
      if (ended && running) xpgrad_error = 1;
      if (xpgrad_error) return 1;
    }}
  }}
  return 0;
}}
"""


_dir = Path(tempfile.mkdtemp(prefix="fake_cupy_"))
launches: list[dict[str, Any]] = []
modules: list[RawModule] = []  # every module compiled, with the NVRTC options it was given


class RawModule:
    def __init__(self, code: str, options: tuple[str, ...] = ()) -> None:
        self.options = options
        modules.append(self)
        self.kernels = {m[0]: m[1].split(", ") for m in re.findall(r"__launch_bounds__\(\d+\) (\w+)\((.*)\) \{", code)}
        src = SHIM + _shared(code) + "".join(_launcher(k, p) for k, p in self.kernels.items())
        key = hashlib.sha1((src + " ".join(FLAGS)).encode()).hexdigest()[:16]
        cpp, lib = _dir / f"{key}.cpp", _dir / f"{key}.so"
        if not lib.exists():
            cpp.write_text(src)
            subprocess.run([CXX, *FLAGS, "-o", lib, cpp], check=True)
        self.so = ctypes.CDLL(str(lib))

    def get_function(self, name: str) -> Any:
        assert name in self.kernels, name
        launch = getattr(self.so, f"launch_{name}")
        return lambda grid, block, args: _launch(name, launch, grid, block, args)


def _launch(name: str, launch: Any, grid: tuple[int], block: tuple[int], args: tuple[Any, ...]) -> None:
    (blocks,), (threads,) = grid, block
    assert threads == BLOCK
    launches.append({"kernel": name, "blocks": blocks})
    bufs, ptrs, keep = [], [], []
    for a in args:
        if isinstance(a, np.ndarray):
            assert a.flags.c_contiguous, "kernel arguments must be C-contiguous"
            fill = True if a.dtype == bool else SENTINEL
            buf = np.full(a.size + GUARD, fill, dtype=a.dtype)
            fill = buf[-1]  # (as the dtype holds it: an int8's SENTINEL wraps)
            buf[: a.size] = a.reshape(-1)
            bufs.append((a, buf, fill))
            ptrs.append(buf.ctypes.data)
        else:
            assert isinstance(a, np.int64)
            v = ctypes.c_longlong(int(a))
            keep.append(v)
            ptrs.append(ctypes.addressof(v))
    seed = ctypes.c_uint(len(launches))  # a different thread order each launch, the same each test run
    diverged = launch(ctypes.c_uint(blocks), ctypes.c_uint(threads), (ctypes.c_void_p * len(ptrs))(*ptrs), seed)
    assert not diverged, f"{name}: threads of a block waited at different barriers, or some ended while others waited"
    for a, buf, fill in bufs:
        assert np.all(buf[a.size :] == fill), "the kernel wrote past the end of an array"
        if a.size:
            a.reshape(-1)[...] = buf[: a.size]


class _Device:
    attributes: ClassVar[dict[str, int]] = {"MultiProcessorCount": SMS}


def module() -> types.ModuleType:
    m = types.ModuleType("cupy")
    m.RawModule = RawModule
    m.ndarray = np.ndarray
    m.ascontiguousarray = np.ascontiguousarray
    m.asarray = np.asarray
    m.empty = np.empty
    m.ones, m.copyto, m.add = np.ones, np.copyto, np.add  # (for benchmarks.gpu_profile's copy and x + y)
    # (for the host's arrays of a fused call: indexed, scattered or broadcast inputs, and outputs it makes)
    m.zeros, m.zeros_like, m.ones_like, m.full = np.zeros, np.zeros_like, np.ones_like, np.full
    m.broadcast_to, m.reshape = np.broadcast_to, np.reshape
    m.cuda = types.SimpleNamespace(Device=_Device)
    return m


def install(monkeypatch: Any, sms: int = SMS) -> types.ModuleType:
    """Put the stand-in in ``sys.modules`` as ``cupy``, on a "GPU" of ``sms`` multiprocessors (at most
    8 * sms blocks a launch)."""
    m = module()
    monkeypatch.setitem(sys.modules, "cupy", m)
    monkeypatch.setattr(_Device, "attributes", {"MultiProcessorCount": sms})
    launches.clear()
    modules.clear()
    return m
