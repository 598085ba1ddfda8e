"""One pass of every scenario at one thread count, in a process whose thread environment was set before
any numerical library was imported. Writes its results as JSON to the given path."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from . import threads


def copy_bandwidth(n: int, rounds: int) -> dict[str, Any]:
    """NumPy's ``z = x + y`` on n float64: 3*n*8 bytes moved (read x, y; write z)."""
    import numpy as np

    from .timing import median, sample

    x, y = np.ones(n), np.ones(n)
    _ = x + y  # warm-up
    secs = [sample(lambda: x + y, 1) for _ in range(rounds)]
    t = median(secs) or float("nan")
    return {"n": n, "bytes": 3 * n * 8, "times_s": secs, "median_s": t, "gb_per_s": 3 * n * 8 / t / 1e9}


def run(n_threads: int, quick: bool, first_pass: bool, names: list[str]) -> dict[str, Any]:
    from .peers import CONTENDERS
    from .runner import Runner, load_peers, log_stderr
    from .scenarios import Config, all_scenarios

    cfg = Config.for_quick() if quick else Config.for_full()
    t0 = time.perf_counter()
    peers, info = load_peers(names or list(CONTENDERS))
    pinning = threads.pin_in_process(n_threads)
    log_stderr(f"[{n_threads} thread(s)] contenders: " + ", ".join(f"{k} ({v['status']})" for k, v in info.items()))
    bandwidth = {str(n): copy_bandwidth(n, 2 * cfg.rounds + 1) for n in cfg.b1_sizes}
    runner = Runner(cfg, peers)
    load_start = os.getloadavg()
    scenarios = [runner.run(sc) for sc in all_scenarios(cfg, first_pass=first_pass)]
    return {
        "threads": n_threads,
        "pinning": pinning,
        "contenders": info,
        "bandwidth": bandwidth,
        "scenarios": scenarios,
        "wall_s": time.perf_counter() - t0,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--first-pass", action="store_true", help="also the longest B3 chains (1e5, 1e6 isolated)")
    ap.add_argument("--only", default="", help="comma-separated contenders (numpy is always included)")
    ap.add_argument("--json", required=True)
    args = ap.parse_args(argv)
    if threads.pinned_threads() != args.threads:  # run directly: pin now, before numpy is imported
        os.environ.update(threads.thread_env(args.threads))
    names = ["numpy", *[n for n in args.only.split(",") if n and n != "numpy"]] if args.only else []
    result = run(args.threads, args.quick, args.first_pass, names)
    with open(args.json, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
