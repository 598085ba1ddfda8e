"""``python -m benchmarks.run [--quick] [--out DIR]``: every scenario, every importable contender, at each
pinned thread count (each in a fresh subprocess), plus peak memory; saves JSON and a PNG, prints tables."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import machine, threads
from .chart import draw
from .peers import CONTENDERS
from .report import render
from .runner import REPO_ROOT
from .scenarios import Config

DEFAULT_OUT = Path(__file__).parent / "results"


def run_worker(n: int, quick: bool, first_pass: bool, only: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.json"
        cmd = [sys.executable, "-m", "benchmarks.worker", "--threads", str(n), "--json", str(path)]
        cmd += ["--quick"] * quick + ["--first-pass"] * first_pass + (["--only", only] if only else [])
        proc = subprocess.run(cmd, env=threads.thread_env(n), cwd=REPO_ROOT)
        if proc.returncode != 0 or not path.exists():
            raise SystemExit(f"worker for {n} thread(s) failed with exit code {proc.returncode}")
        result: dict[str, Any] = json.loads(path.read_text())
        return result


def run_memory(names: list[str], size: int) -> dict[str, Any]:
    """Each contender in its own interpreter, 1 thread."""
    out: dict[str, Any] = {}
    for name in names:
        cmd = [sys.executable, "-m", "benchmarks.memory", name, str(size)]
        proc = subprocess.run(
            cmd, env=threads.thread_env(1), capture_output=True, text=True, timeout=600, cwd=REPO_ROOT
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            out[name] = {"status": f"failed: exit code {proc.returncode}: {tail[-300:]}"}
        else:
            out[name] = json.loads(lines[-1])
        print(f"  memory {name}: {out[name].get('status')}", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, few rounds (seconds, not minutes)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for JSON and PNG (default {DEFAULT_OUT})")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--only", default="", help="comma-separated contenders besides numpy (default: all)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    args = ap.parse_args(argv)
    cfg = Config.for_quick() if args.quick else Config.for_full()
    counts = [int(t) for t in args.threads.split(",") if t]
    names = ["numpy", *[n for n in args.only.split(",") if n and n != "numpy"]] if args.only else list(CONTENDERS)
    t0 = time.perf_counter()
    runs = []
    for i, n in enumerate(counts):
        print(f"== {n} thread(s) ==", file=sys.stderr, flush=True)
        # The longest 1-element chains (B3 1e5, 1e6) run in the first pass only: they use no threads.
        runs.append(run_worker(n, args.quick, first_pass=(i == 0), only=args.only))
    memory = {} if args.no_memory else run_memory(names, cfg.mem_size)
    doc = {
        "meta": {
            "date": machine.now(),
            "machine": machine.info(),
            "quick": args.quick,
            "argv": sys.argv[1:],
            "wall_s": time.perf_counter() - t0,
        },
        "config": dataclasses.asdict(cfg),
        "runs": runs,
        "memory": memory,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "results-quick" if args.quick else "results"
    json_path = args.out / f"{stem}.json"
    json_path.write_text(json.dumps(doc, indent=1))
    text = render(doc)
    (args.out / f"{stem}.txt").write_text(text + "\n")
    print(text)
    print(f"\nJSON: {json_path}")
    print(draw(doc, args.out / f"{stem}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
