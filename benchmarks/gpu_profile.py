"""Where a fused CUDA call spends its time: the profile issue 5 asks for where the GPU targets are missed.

    python -m benchmarks.gpu_profile --out DIR      # on a machine with CuPy and a CUDA device (~1 min)

For the B1 expressions fused with ``engine="cupy"`` at each size, and for the device's own copy and
``x + y`` at the same sizes (what any single pass reaches there), it reports:
- ``wall``: the median time of a call followed by a device synchronisation (what `benchmarks.gpu` times);
- ``stream``: the mean time of calls made back to back, then one synchronisation (`timing.sample`): the
  larger of the host's and the device's time a call (the queue hides the other);
- ``cpu`` / ``gpu``: `cupyx.profiler.benchmark`'s host time of a call and the time between events recorded
  on the stream before and after it (the device's time, or the host's where the host is slower);
- ``steps``: the host time of each step of one fused call (the input checks, ``ascontiguousarray``, the
  output allocations, the kernel launches (the pass and the final sums), the rest), timed by wrapping them;
- ``blocks``: the fused memory-bound pass's ``stream`` time for several grid sizes (`cuda.BLOCKS_PER_SM`);
- ``eager``: a host profile (cProfile, and the share of time in the garbage collector) of eager B1 at 10^6
  and B3 at 10^3 and 10^4 steps, the eager misses on the GPU.
A call whose ``stream`` time is near the copy's at that size is limited by the device; one whose ``cpu`` time
is near its ``wall`` time, by the host steps. The array module is a parameter (`profile`), so the suite
runs this harness on the host with `tests/fake_cupy.py` standing in for CuPy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import timing
from .gpu import bandwidth_calls
from .peers.xpgrad_peer import graph
from .scenarios import F64, Task

EXPRS = ("compute", "memory")  # the B1 expressions (`Task.expr_name`), fused
STEPS = ("call_shape", "ascontiguousarray", "empty", "launch")


def timings(call: Callable[[], Any], sync: Callable[[], None], repeat: int) -> dict[str, float]:
    """Median seconds a call: ``wall`` (synchronised each time); ``cpu`` and ``gpu`` where cupyx is there."""
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        sync()
        walls.append(time.perf_counter() - t0)
    out = {"wall": statistics.median(walls), "stream": timing.sample(call, repeat, sync)}
    try:
        from cupyx.profiler import benchmark
    except ImportError:
        return out
    r = benchmark(call, n_repeat=repeat, n_warmup=3)
    out["cpu"] = float(np.median(r.cpu_times))
    out["gpu"] = float(np.median(r.gpu_times[0]))
    return out


@contextmanager
def _timed_steps(xp: Any, cuda: Any, spent: dict[str, float]) -> Iterator[None]:
    """Wrap the runner's steps (module attributes it looks up at call time) to add their host time to ``spent``."""

    def wrap(owner: Any, name: str, label: str) -> Any:
        real = getattr(owner, name)

        def timed(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return real(*a, **k)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0

        setattr(owner, name, timed)
        return real

    saved = [(cuda, "call_shape", wrap(cuda, "call_shape", "call_shape"))]
    saved += [(xp, n, wrap(xp, n, n)) for n in ("ascontiguousarray", "empty")]
    try:
        yield
    finally:
        for owner, name, real in saved:
            setattr(owner, name, real)


_spent: dict[str, float] = {}
"""Host seconds by step, added to by the wrapped steps while `steps` runs."""
_timing = [False]  # whether `steps` is running


class _TimedKernel:
    """A kernel (`RawModule.get_function`) whose launches add their host time to ``_spent["launch"]``."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __call__(self, *a: Any, **k: Any) -> Any:
        if not _timing[0]:  # (the other figures time the launch alone)
            return self.real(*a, **k)
        t0 = time.perf_counter()
        try:
            return self.real(*a, **k)
        finally:
            _spent["launch"] = _spent.get("launch", 0.0) + time.perf_counter() - t0


def fused(name: str, n: int, xp: Any) -> tuple[Callable[..., Any], list[Any]]:
    """The B1 expression ``name`` and its gradients, fused for CUDA, and its inputs on the device."""
    import xpgrad as xg

    real = xp.RawModule

    class Timed:
        def __init__(self, *a: Any, **k: Any) -> None:
            self.module = real(*a, **k)

        def get_function(self, name: str) -> _TimedKernel:
            return _TimedKernel(self.module.get_function(name))

    xp.RawModule = Timed
    try:
        ps = [xg.placeholder(shape=(None,), dtype="float64") for _ in range(2)]
        f = xg.fuse(ps, graph(xg, Task(name, 1, n), ps), engine="cupy")
    finally:
        xp.RawModule = real
    return f, [xp.asarray(a) for a in Task(name, 1, n).inputs()]


def steps(f: Callable[..., Any], xs: list[Any], xp: Any, sync: Callable[[], None], repeat: int) -> dict[str, float]:
    """Mean host seconds of each step of one fused call (``rest``: what the wrapped steps leave)."""
    from xpgrad._compile.fuse import cuda

    _spent.clear()
    total = 0.0
    _timing[0] = True
    try:
        with _timed_steps(xp, cuda, _spent):
            for _ in range(repeat):
                sync()
                t0 = time.perf_counter()
                f(*xs)
                total += time.perf_counter() - t0
    finally:
        _timing[0] = False
    out = {k: _spent.get(k, 0.0) / repeat for k in STEPS}
    out["rest"] = total / repeat - sum(out.values())
    return out


def profile(xp: Any, sync: Callable[[], None], sizes: list[int], repeat: int) -> dict[str, Any]:
    from xpgrad._compile.fuse import cuda

    report: dict[str, Any] = {"sizes": {}}
    for n in sizes:
        entry: dict[str, Any] = {
            name: timings(call, sync, repeat) | {"bytes": nbytes} for name, call, nbytes in bandwidth_calls(xp, n)
        }
        for name in EXPRS:  # (the memory-bound one last: its function is the grid sizes' below)
            f, xs = fused(name, n, xp)
            f(*xs)
            entry[f"fused {name}"] = timings(lambda f=f, xs=xs: f(*xs), sync, repeat) | {"bytes": 4 * n * F64}
            entry[f"fused {name}"]["steps"] = steps(f, xs, xp, sync, repeat)
        kept = cuda.BLOCKS_PER_SM
        try:
            blocks = {}
            for b in (1, 2, 4, 8, 16, 32):
                cuda.BLOCKS_PER_SM = b
                blocks[str(b)] = timing.sample(lambda f=f, xs=xs: f(*xs), repeat, sync)
            entry["blocks"] = blocks
        finally:
            cuda.BLOCKS_PER_SM = kept
        report["sizes"][str(n)] = entry
    return report


EAGER = (
    ("B1 memory n=1e+06", Task("memory", 1, 10**6)),
    *((f"B3 deep {s} steps", Task("deep", 1, 1, s)) for s in (10**3, 10**4)),
)
"""The eager cases `eager` profiles: B1 at 10^6 is launch-bound on a GPU, B3 slowed down per op from 10^3
to 10^4 steps on the H200 (1.22x -> 1.61x hand-written) where it does not on the CPU."""


def eager(xp: Any, sync: Callable[[], None], cases: Any = EAGER, top: int = 15) -> dict[str, Any]:
    """Host profile of one eager value-and-gradient call a case: seconds, the share spent in the cyclic
    garbage collector, and the functions with the most own time (cProfile)."""
    import cProfile
    import gc
    import io
    import pstats

    import xpgrad as xg

    out: dict[str, Any] = {}
    for label, task in cases:
        xs = [xp.asarray(a) for a in task.inputs()]
        expr = task.expr()

        def call(xs: list[Any] = xs, expr: Any = expr) -> None:
            leaves = [xg.Tensor(a) for a in xs]
            o = expr(xg, *leaves)
            [g.value for g in xg.grad(o, leaves)]
            sync()

        call()
        in_gc = [0.0, 0.0]

        def collecting(phase: str, info: dict[str, int], in_gc: list[float] = in_gc) -> None:
            if phase == "start":
                in_gc[1] = time.perf_counter()
            else:
                in_gc[0] += time.perf_counter() - in_gc[1]

        gc.callbacks.append(collecting)
        try:
            t0 = time.perf_counter()
            call()
            seconds = time.perf_counter() - t0
        finally:
            gc.callbacks.remove(collecting)
        prof = cProfile.Profile()
        prof.runcall(call)
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(top)
        lines = [ln for ln in text.getvalue().splitlines() if ln.strip()]
        out[label] = {"seconds": seconds, "gc_fraction": in_gc[0] / seconds, "top": lines[-(top + 1) :]}
    return out


def table(report: dict[str, Any]) -> str:
    lines = [f"# {report.get('device', '?')}, {report.get('date', '?')}; us a call; GB/s of the minimum traffic"]
    for n, entry in report["sizes"].items():
        lines.append(f"n = {int(n):.0e}")
        for k, t in entry.items():
            if k == "blocks":
                by = ", ".join(f"{b}: {s * 1e6:.1f}" for b, s in t.items())
                lines.append(f"  fused memory, stream us by blocks/SM: {by}")
                continue
            times = ", ".join(f"{m} {t[m] * 1e6:.1f}" for m in ("wall", "stream", "cpu", "gpu") if m in t)
            best = t["stream"]
            lines.append(f"  {k:15s} {times}; {t['bytes'] / best / 1e9:.0f} GB/s")
            if "steps" in t:
                lines.append("    host steps: " + ", ".join(f"{s} {v * 1e6:.1f}" for s, v in t["steps"].items()))
    for label, e in report.get("eager", {}).items():
        lines.append(f"eager {label}: {e['seconds'] * 1e3:.2f} ms, {e['gc_fraction'] * 100:.1f}% in the collector")
        lines += [f"    {ln}" for ln in e["top"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="sizes 10^3 and 10^6 only")
    args = ap.parse_args(argv)
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    sizes = [10**3, 10**6] if args.quick else [10**3, 10**6, 10**7, 10**8]
    sync = cupy.cuda.get_current_stream().synchronize
    report = profile(cupy, sync, sizes, args.repeat)
    report["eager"] = eager(cupy, sync)
    report["device"] = f"{props['name'].decode()} (CuPy {cupy.__version__})"
    report["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "gpu-profile.json"), "w") as f:
        json.dump(report, f, indent=1)
    text = table(report)
    with open(os.path.join(args.out, "gpu-profile.txt"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
