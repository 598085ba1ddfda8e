"""Dask: B1's value and both gradients, xpgrad against the same gradient written by hand in Dask (issue 16).

    python -m benchmarks.dask_b1                        # 10^8 float64 elements, chunks of 10^7, threads and a 2-worker cluster
    python -m benchmarks.dask_b1 --n 1e6 --chunk 1e5    # a quick look
    python -m benchmarks.dask_b1 --n 1e9 --reduce --schedulers threads   # each gradient's sum and max only
    python -m benchmarks.dask_b1 --huge 4e9             # beyond memory: --n 4e9 --reduce --schedulers threads

Contenders, each in a fresh interpreter, rounds interleaved (dask, xpgrad, xpgrad-fn, dask, ...):
- ``dask``: the gradients written by hand with ``dask.array`` (``exprs.compute_bound``'s closed form), every
  output in one ``dask.compute``;
- ``xpgrad``: Tensors over the Dask arrays, ``xpgrad.grad(f, [x, y])``, then ``xpgrad.compute(f, gx, gy)``;
- ``xpgrad-fn``: ``xpgrad.function`` over ``(None,)`` placeholders, called with the Dask arrays.

The inputs are made chunk by chunk by Dask's random generator inside the computation, so neither input is ever
whole in memory; the outputs are (the value and two n-element gradients: 2*n*8 bytes), except with ``--reduce``,
where each gradient's sum and max are taken inside the same computation (it is computed, element by element,
but never held: the run over an array larger than memory, ``--huge``, which also prints the inputs' size against
this machine's memory). Measured: wall time of building and computing, and the peak resident
memory above what the process (and each worker) held before: VmHWM after resetting it (``/proc/self/clear_refs``),
summed over the client and the workers on a ``dask.distributed`` ``LocalCluster``. A figure, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

CONTENDERS = ("dask", "xpgrad", "xpgrad-fn")


def _kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset() -> int:
    """Reset this process's resident high-water mark; the resident set now, in KiB."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _kib("VmRSS")


def _peak() -> int:
    return _kib("VmHWM")


def _cpu() -> float:
    """This process's CPU seconds (user and system, all threads): less moved by other jobs than wall time."""
    return time.process_time()


def _inputs(n: int, chunk: int) -> tuple[Any, Any]:
    import dask.array as da

    rng = da.random.default_rng(0)
    return rng.random(n, chunks=chunk) + 0.1, rng.random(n, chunks=chunk) + 0.1


def _hand(x: Any, y: Any) -> list[Any]:
    """B1 and its gradients in Dask, written as one would by hand (shared subexpressions named once)."""
    import dask.array as da

    s, e, d = da.sin(x), da.exp(x * y), 1 + y * y
    q = e / d
    f = da.sum(s * y + q)
    gx = da.cos(x) * y + y * q
    gy = s + x * q - 2 * y * q / d
    return [f, gx, gy]


def _b1(m: Any, x: Any, y: Any) -> Any:
    return m.sum(m.sin(x) * y + m.exp(x * y) / (1 + y * y))


def _run(contender: str, x: Any, y: Any, reduce: bool) -> list[Any]:
    import dask

    import xpgrad

    if contender == "dask":
        outs = _hand(x, y)
        if reduce:
            outs = [outs[0], outs[1].sum(), outs[1].max(), outs[2].sum(), outs[2].max()]
        return list(dask.compute(*outs))
    if contender == "xpgrad":
        tx, ty = xpgrad.Tensor(x), xpgrad.Tensor(y)
        f = _b1(xpgrad, tx, ty)
        gx, gy = xpgrad.grad(f, [tx, ty])
        return list(xpgrad.compute(f, *(_reduced(gx, gy) if reduce else (gx, gy))))
    px = xpgrad.placeholder(shape=(None,), dtype="float64", name="x")
    py = xpgrad.placeholder(shape=(None,), dtype="float64", name="y")
    f = _b1(xpgrad, px, py)
    gx, gy = xpgrad.grad(f, [px, py])
    return list(xpgrad.function([px, py], [f, *(_reduced(gx, gy) if reduce else (gx, gy))])(x, y))


def _reduced(gx: Any, gy: Any) -> list[Any]:
    import xpgrad

    return [xpgrad.sum(gx), xpgrad.max(gx), xpgrad.sum(gy), xpgrad.max(gy)]


def child(contender: str, n: int, chunk: int, scheduler: str, reduce: bool) -> dict[str, Any]:
    """One measured call in this fresh interpreter."""
    import numpy as np

    client = cluster = None
    if scheduler == "distributed":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", memory_limit="8GiB"
        )
        client = Client(cluster)
    else:
        import dask

        dask.config.set(scheduler="threads")
    try:
        x, y = _inputs(n, chunk)
        import xpgrad  # noqa: F401  (imported before the baseline, as dask is)

        workers_before = client.run(_reset) if client is not None else {}
        cpu_before = client.run(_cpu) if client is not None else {}
        before = _reset()
        c0, t0 = _cpu(), time.perf_counter()
        out = _run(contender, x, y, reduce)
        seconds = time.perf_counter() - t0
        cpu = _cpu() - c0
        peak = _peak() - before
        workers = client.run(_peak) if client is not None else {}
        worker_peaks = [workers[w] - workers_before[w] for w in workers]
        if client is not None:
            cpu += sum(c - cpu_before[w] for w, c in client.run(_cpu).items())
        sums = [float(np.sum(np.asarray(o))) for o in out]
        del out
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    return {
        "contender": contender,
        "scheduler": scheduler,
        "seconds": seconds,
        "cpu_s": cpu,
        "load": os.getloadavg()[0],
        "peak_mb": (peak + sum(worker_peaks)) / 1024,
        "client_peak_mb": peak / 1024,
        "worker_peaks_mb": [p / 1024 for p in worker_peaks],
        "sums": sums,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=float, default=1e8)
    ap.add_argument("--chunk", type=float, default=1e7)
    ap.add_argument("--schedulers", default="threads,distributed")
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--reduce", action="store_true", help="each gradient's sum and max, inside the computation")
    ap.add_argument("--huge", type=float, default=None, help="N: --n N --reduce --schedulers threads")
    ap.add_argument("--out", default=None, help="append the JSON results to this file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.huge is not None:
        a.n, a.reduce, a.schedulers = a.huge, True, "threads"
    n, chunk = int(a.n), int(a.chunk)
    if a.child is not None:
        contender, scheduler = a.child.split(":")
        print(json.dumps(child(contender, n, chunk, scheduler, a.reduce)))
        return
    results: list[dict[str, Any]] = []
    with open("/proc/meminfo") as f:
        ram = int(f.readline().split()[1]) / 2**20
    print(f"inputs: 2 x {n:.1e} float64 = {2 * n * 8 / 2**30:.1f} GiB; this machine's memory {ram:.1f} GiB", flush=True)
    for scheduler in a.schedulers.split(","):
        for r in range(a.rounds):
            for contender in a.contenders.split(","):
                cmd = [sys.executable, "-m", "benchmarks.dask_b1", "--n", str(n), "--chunk", str(chunk)]
                cmd += ["--child", f"{contender}:{scheduler}"] + (["--reduce"] if a.reduce else [])
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    print(f"{contender} on {scheduler}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                    continue
                res = json.loads(done.stdout.strip().splitlines()[-1])
                res["round"] = r
                results.append(res)
                print(
                    f"n={n:.0e} chunk={chunk:.0e} {scheduler:11} {contender:9} {res['seconds']:7.2f} s "
                    f"(cpu {res['cpu_s']:6.1f} s, load {res['load']:4.1f})  "
                    f"peak {res['peak_mb']:8.0f} MB (client {res['client_peak_mb']:.0f}, workers "
                    f"{[round(p) for p in res['worker_peaks_mb']]})",
                    flush=True,
                )
    _report(results, n, chunk, a.reduce)
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps({"n": n, "chunk": chunk, "reduce": a.reduce, "results": results}) + "\n")


def _report(results: list[dict[str, Any]], n: int, chunk: int, reduce: bool) -> None:
    """Ratios to hand-written Dask of the same scheduler and round, their medians over the rounds; agreement of
    the outputs' sums."""
    import math
    import statistics

    base = {(r["scheduler"], r["round"]): r for r in results if r["contender"] == "dask"}
    ratios: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for r in results:
        b = base.get((r["scheduler"], r["round"]))
        if b is None or r is b:
            continue
        agree = all(math.isclose(p, q, rel_tol=1e-9) for p, q in zip(r["sums"], b["sums"], strict=True))
        t, c, m = r["seconds"] / b["seconds"], r["cpu_s"] / b["cpu_s"], r["peak_mb"] / b["peak_mb"]
        ratios.setdefault((r["scheduler"], r["contender"]), []).append((t, c, m))
        print(
            f"{r['scheduler']:11} {r['contender']:9} round {r['round']}: time {t:.2f}x (cpu {c:.2f}x), "
            f"peak memory {m:.2f}x of hand-written Dask"
            f"{'' if agree else '  !!! MISMATCH ' + repr((r['sums'], b['sums']))}"
        )
    loads = [r["load"] for r in results]
    for (sched, who), rs in ratios.items():
        med = [statistics.median(col) for col in zip(*rs, strict=True)]
        print(
            f"median over {len(rs)} round(s): {sched:11} {who:9} time {med[0]:.2f}x (cpu {med[1]:.2f}x), "
            f"peak memory {med[2]:.2f}x of hand-written Dask   (load average {min(loads):.1f}-{max(loads):.1f})"
        )


if __name__ == "__main__":
    main()
