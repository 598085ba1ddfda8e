"""Dask: B1's value and both gradients, xpgrad against the same gradient written by hand in Dask (issue 16).

    python -m benchmarks.dask_b1                        # 10^8 float64 elements, chunks of 10^7, threads and a 2-worker cluster
    python -m benchmarks.dask_b1 --n 1e6 --chunk 1e5    # a quick look
    python -m benchmarks.dask_b1 --n 1e9 --reduce --schedulers threads   # beyond memory: the gradients summed

Contenders, each in a fresh interpreter, rounds interleaved (dask, xpgrad, xpgrad-fn, dask, ...):
- ``dask``: the gradients written by hand with ``dask.array`` (``exprs.compute_bound``'s closed form), every
  output in one ``dask.compute``;
- ``xpgrad``: Tensors over the Dask arrays, ``xpgrad.grad(f, [x, y])``, then ``xpgrad.compute(f, gx, gy)``;
- ``xpgrad-fn``: ``xpgrad.function`` over ``(None,)`` placeholders, called with the Dask arrays.

The inputs are made chunk by chunk by Dask's random generator inside the computation, so neither input is ever
whole in memory; the outputs are (the value and two n-element gradients: 2*n*8 bytes), except with ``--reduce``,
where each gradient is summed inside the same computation (it is computed, element by element, but never held:
the run over an array larger than memory). Measured: wall time of building and computing, and the peak resident
memory above what the process (and each worker) held before: VmHWM after resetting it (``/proc/self/clear_refs``),
summed over the client and the workers on a ``dask.distributed`` ``LocalCluster``. A figure, not a test.
"""

from __future__ import annotations

import argparse
import json
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
            outs = [outs[0], outs[1].sum(), outs[2].sum()]
        return list(dask.compute(*outs))
    if contender == "xpgrad":
        tx, ty = xpgrad.Tensor(x), xpgrad.Tensor(y)
        f = _b1(xpgrad, tx, ty)
        gx, gy = xpgrad.grad(f, [tx, ty])
        if reduce:
            gx, gy = xpgrad.sum(gx), xpgrad.sum(gy)
        return list(xpgrad.compute(f, gx, gy))
    px = xpgrad.placeholder(shape=(None,), dtype="float64", name="x")
    py = xpgrad.placeholder(shape=(None,), dtype="float64", name="y")
    f = _b1(xpgrad, px, py)
    gx, gy = xpgrad.grad(f, [px, py])
    if reduce:
        gx, gy = xpgrad.sum(gx), xpgrad.sum(gy)
    return list(xpgrad.function([px, py], [f, gx, gy])(x, y))


def child(contender: str, n: int, chunk: int, scheduler: str, reduce: bool) -> dict[str, Any]:
    """One measured call in this fresh interpreter."""
    import numpy as np

    client = cluster = None
    if scheduler == "distributed":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="8GiB"
        )
        client = Client(cluster)
    else:
        import dask

        dask.config.set(scheduler="threads")
    try:
        x, y = _inputs(n, chunk)
        import xpgrad  # noqa: F401  (imported before the baseline, as dask is)

        workers_before = client.run(_reset) if client is not None else {}
        before = _reset()
        t0 = time.perf_counter()
        out = _run(contender, x, y, reduce)
        seconds = time.perf_counter() - t0
        peak = _peak() - before
        workers = client.run(_peak) if client is not None else {}
        worker_peaks = [workers[w] - workers_before[w] for w in workers]
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
    ap.add_argument("--reduce", action="store_true", help="sum each gradient inside the computation")
    ap.add_argument("--out", default=None, help="append the JSON results to this file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    n, chunk = int(a.n), int(a.chunk)
    if a.child is not None:
        contender, scheduler = a.child.split(":")
        print(json.dumps(child(contender, n, chunk, scheduler, a.reduce)))
        return
    results: list[dict[str, Any]] = []
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
                    f"n={n:.0e} chunk={chunk:.0e} {scheduler:11} {contender:9} {res['seconds']:7.2f} s  "
                    f"peak {res['peak_mb']:8.0f} MB (client {res['client_peak_mb']:.0f}, workers "
                    f"{[round(p) for p in res['worker_peaks_mb']]})",
                    flush=True,
                )
    _report(results, n, chunk, a.reduce)
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps({"n": n, "chunk": chunk, "reduce": a.reduce, "results": results}) + "\n")


def _report(results: list[dict[str, Any]], n: int, chunk: int, reduce: bool) -> None:
    """Ratios to hand-written Dask of the same scheduler and round; agreement of the outputs' sums."""
    import math

    base = {(r["scheduler"], r["round"]): r for r in results if r["contender"] == "dask"}
    for r in results:
        b = base.get((r["scheduler"], r["round"]))
        if b is None or r is b:
            continue
        agree = all(math.isclose(p, q, rel_tol=1e-9) for p, q in zip(r["sums"], b["sums"], strict=True))
        print(
            f"{r['scheduler']:11} {r['contender']:9} round {r['round']}: time {r['seconds'] / b['seconds']:.2f}x, "
            f"peak memory {r['peak_mb'] / b['peak_mb']:.2f}x of hand-written Dask"
            f"{'' if agree else '  !!! MISMATCH ' + repr((r['sums'], b['sums']))}"
        )


if __name__ == "__main__":
    main()
