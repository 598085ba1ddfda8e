"""The scenarios on a GPU: xpgrad on CuPy against gradients written by hand with CuPy (and PyTorch CUDA).

    python -m benchmarks.gpu --out DIR            # on a machine with CuPy and a CUDA device (~2 min)
    python -m benchmarks.gpu --backend numpy      # the same harness on NumPy, to check it without a GPU

Each call is followed by a device synchronisation, so a time is the call's whole work. Contenders are
interleaved round by round with the hand-written baseline and a ratio is a contender's time over the
baseline's time of the same round (median over rounds). Every contender must agree with the baseline
(``timing.disagreement``) before it is timed. Bandwidth: the device's copy (``copyto``: read n, write n)
and ``x + y`` into a preallocated output (read 2n, write n) are measured in the same process; the fused
B1 kernels' effective GB/s counts the minimum traffic (read x, y; write gx, gy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import timing
from .peers.numpy_ref import hand_written
from .peers.xpgrad_peer import graph
from .runner import output_labels
from .scenarios import F64, Task
from .timing import disagreement

Call = Callable[[], Any]


class Device:
    """The array module, its synchronisation and transfers, for CuPy or (to check the harness) NumPy."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        if backend == "cupy":
            import cupy

            self.xp = cupy
            self.sync: Callable[[], None] = cupy.cuda.get_current_stream().synchronize
            self.host: Callable[[Any], np.ndarray] = cupy.asnumpy
            props = cupy.cuda.runtime.getDeviceProperties(0)
            self.name = f"{props['name'].decode()} (CuPy {cupy.__version__})"
        else:
            self.xp = np
            self.sync = lambda: None
            self.host = np.asarray
            self.name = f"CPU (NumPy {np.__version__})"

    def put(self, a: np.ndarray) -> Any:
        return self.xp.asarray(a)


def calibrate(call: Call, dev: Device, target_s: float) -> int:
    """Back-to-back calls a sample makes to last about ``target_s``."""
    return timing.inner_count(timing.sample(call, 1, dev.sync), target_s)


def interleave(base: Call, others: dict[str, Call], dev: Device, rounds: int, target_s: float) -> dict[str, Any]:
    """`timing.interleave` with the device synchronised around each sample: the median seconds of the
    baseline (``hand``) and of each other, and each other's median ratio to the baseline's round."""
    base_times, times, ratios = timing.interleave(
        (base, calibrate(base, dev, target_s)),
        {k: (c, calibrate(c, dev, target_s)) for k, c in others.items()},
        rounds,
        dev.sync,
    )
    out: dict[str, Any] = {"hand": {"median_s": statistics.median(base_times)}}
    for k in others:
        out[k] = {"median_s": statistics.median(times[k]), "ratio": statistics.median(ratios[k])}
    return out


def contenders(task: Task, dev: Device, xs: list[Any], want: list[np.ndarray]) -> tuple[dict[str, Call], dict]:
    """The calls to time, each checked against ``want`` first; and what was not timed, with the reason."""
    import xpgrad as xg

    calls: dict[str, Call] = {}
    notes: dict[str, str] = {}

    def eager() -> list[Any]:
        return [t.value for t in graph(xg, task, [xg.Tensor(a) for a in xs])]

    calls["xpgrad"] = eager
    t0 = time.perf_counter()
    ps = [xg.placeholder(shape=a.shape, dtype=str(a.dtype), backend=dev.backend) for a in xs]
    fn = xg.function(ps, graph(xg, task, ps))
    notes["xpgrad-fn compile_s"] = f"{time.perf_counter() - t0:.3f}"
    calls["xpgrad-fn"] = lambda: fn(*xs)
    if task.expr_name in ("compute", "memory", "sinx", "cube", "chain") or task.steps <= 100:
        t0 = time.perf_counter()
        try:
            fused = xg.fuse(ps, graph(xg, task, ps))
            fused(*xs)
            dev.sync()
            notes["xpgrad-fused compile_s"] = f"{time.perf_counter() - t0:.3f}"
            calls["xpgrad-fused"] = lambda: fused(*xs)
        except xg.FusionError as e:
            notes["xpgrad-fused"] = f"unavailable: {e}"
    torch_call = _torch(task, dev, xs)
    if isinstance(torch_call, str):
        notes["torch"] = torch_call
    else:
        calls["torch"] = torch_call
    checked: dict[str, Call] = {}
    labels = output_labels(task)
    for name, call in calls.items():
        got = [np.asarray(dev.host(g) if not isinstance(g, float) else g) for g in _plain(call())]
        why = disagreement(got, want, labels)
        if why is None:
            checked[name] = call
        else:
            notes[name] = f"mismatch: {why}"
            print(f"!!! MISMATCH {name} {task}: {why}", flush=True)
    return checked, notes


def _plain(outs: Sequence[Any]) -> list[Any]:
    res = []
    for o in outs:
        if hasattr(o, "detach"):  # torch
            o = o.detach().cpu().numpy()
        res.append(o)
    return res


def _torch(task: Task, dev: Device, xs: list[Any]) -> Call | str:
    """PyTorch on the same device (CUDA for CuPy), or why not."""
    try:
        import torch
    except ImportError as e:
        return f"unavailable: {e}"
    if dev.backend == "cupy":
        if not torch.cuda.is_available():
            return "unavailable: torch sees no CUDA device"
        ts = [torch.from_dlpack(a) for a in xs]
    else:
        ts = [torch.from_numpy(np.asarray(a)) for a in xs]
    expr = task.expr()

    def call() -> list[Any]:
        leaves = [t.detach().requires_grad_() for t in ts]
        out = expr(torch, *leaves)
        if task.order == 1:
            return [out.detach(), *torch.autograd.grad(out, leaves)]
        (g,) = torch.autograd.grad(out, [leaves[0]], create_graph=True)
        return list(torch.autograd.grad(g.sum(), [leaves[0]]))

    if dev.backend == "cupy":
        import cupy

        torch_stream = torch.cuda.current_stream()
        if torch_stream.cuda_stream != cupy.cuda.get_current_stream().ptr:
            inner = call

            def call() -> list[Any]:
                out = inner()
                torch.cuda.synchronize()
                return out

    return call


def bandwidth_calls(xp: Any, n: int) -> list[tuple[str, Call, int]]:
    """The device's copy and ``x + y`` on ``n`` float64 elements (into a buffer of their own), with the bytes
    each moves: the bandwidth the fused kernels are measured against."""
    x, y, z = xp.ones(n), xp.ones(n), xp.empty(n)
    return [("copy", lambda: xp.copyto(z, x), 2 * n * F64), ("add", lambda: xp.add(x, y, out=z), 3 * n * F64)]


def bandwidth(dev: Device, n: int, rounds: int) -> dict[str, float]:
    xp = dev.xp
    res = {}
    for name, call, nbytes in bandwidth_calls(xp, n):
        inner = calibrate(call, dev, 0.02)
        t = statistics.median(timing.sample(call, inner, dev.sync) for _ in range(rounds))
        res[f"{name}_GBps"] = nbytes / t / 1e9
    return res


def scenarios(quick: bool) -> list[tuple[str, Task, dict[str, int]]]:
    b1 = (10**5, 10**6) if quick else (10**6, 10**7, 10**8)
    out: list[tuple[str, Task, dict[str, int]]] = []
    for n in b1:
        for name in ("compute", "memory"):
            out.append((f"B1 {name} n={n:.0e}", Task(name, 1, n), {"bytes_min": 4 * n * F64}))
    out.append(("B2 chain 200 ops n=16", Task("chain", 1, 16, 200), {"ops": 200}))
    for s in (10**3,) if quick else (10**3, 10**4):
        out.append((f"B3 deep {s} steps", Task("deep", 1, 1, s), {"ops": 2 * s}))
    for s in (5, 100) if quick else (5, 100, 1000):
        out.append((f"B4 shared {s} steps", Task("shared", 1, 16, s), {"steps": s}))
    n5 = 10**5 if quick else 10**6
    for name in ("sinx", "cube"):
        for order in (1, 2):
            out.append((f"B5 {name} d{order} n={n5:.0e}", Task(name, order, n5), {}))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="cupy", choices=["cupy", "numpy"])
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    dev = Device(args.backend)
    import xpgrad

    report: dict[str, Any] = {
        "device": dev.name,
        "xpgrad": xpgrad.__version__,
        "python": sys.version.split()[0],
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "bandwidth": bandwidth(dev, 10**6 if args.quick else 10**8, args.rounds),
        "scenarios": {},
    }
    print(f"{dev.name}; copy {report['bandwidth']['copy_GBps']:.0f} GB/s, add {report['bandwidth']['add_GBps']:.0f}")
    for label, task, extra in scenarios(args.quick):
        xs = [dev.put(a) for a in task.inputs()]
        base = hand_written(task, dev.xp)
        want = [np.asarray(dev.host(w)) for w in base(*xs)]
        calls, notes = contenders(task, dev, xs, want)
        res = interleave(lambda base=base, xs=xs: base(*xs), calls, dev, args.rounds, 0.02)
        entry = {"results": res, "notes": notes, **extra}
        report["scenarios"][label] = entry
        print(line(label, entry), flush=True)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"gpu-{args.backend}")
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(stem + ".txt", "w") as f:
        f.write(table(report))
    print(chart(report, stem + ".png"))
    print(table(report))
    return 0


def chart(report: dict[str, Any], path: str) -> str:
    """PNG of the ratios to hand-written code, a bar per contender and scenario (log scale)."""
    from .chart import bars, pyplot, save

    plt = pyplot()
    if plt is None:
        return "matplotlib is not installed: chart skipped"
    scs = report["scenarios"]
    names = list(dict.fromkeys(k for e in scs.values() for k in e["results"] if k != "hand"))
    fig, ax = plt.subplots(figsize=(15, 5))
    title = f"{report['device']}, {report['date']}: median of per-round ratios (lower: faster; no bar: not timed)"
    bars(ax, list(scs), names, lambda s, n: scs[s]["results"].get(n, {}).get("ratio"), title, "time / hand-written")
    return save(plt, fig, path)


def versions() -> dict[str, str]:
    """The versions of the libraries timed (PyTorch only when installed)."""
    import importlib

    out = {}
    for name in ("numpy", "cupy", "array_api_compat", "torch"):
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            continue
    return out


def line(label: str, entry: dict[str, Any]) -> str:
    parts = [label]
    for k, r in entry["results"].items():
        t = r["median_s"]
        extra = ""
        if entry.get("ops"):
            extra = f" {t / entry['ops'] * 1e6:.2f} us/op"
        elif entry.get("steps"):
            extra = f" {t / entry['steps'] * 1e6:.1f} us/step"
        elif entry.get("bytes_min"):
            extra = f" {entry['bytes_min'] / t / 1e9:.0f} GB/s"
        ratio = f" {r['ratio']:.2f}x" if "ratio" in r else ""
        parts.append(f"{k} {t * 1e3:.3f} ms{extra}{ratio}")
    return " | ".join(parts) + "".join(f"\n    {k}: {v}" for k, v in entry["notes"].items())


def table(report: dict[str, Any]) -> str:
    bw = report["bandwidth"]
    head = (
        f"# xpgrad on {report['device']}, {report['date']}, Python {report['python']}\n"
        f"# {', '.join(f'{k} {v}' for k, v in report.get('versions', {}).items())}\n"
        f"# measured bandwidth: copy {bw['copy_GBps']:.0f} GB/s, x + y {bw['add_GBps']:.0f} GB/s\n"
        "# time: median ms per call (ratio: over hand-written, same round); us/op, us/step, GB/s (minimum traffic)\n"
    )
    return head + "\n".join(line(k, e) for k, e in report["scenarios"].items()) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
