"""`xpgrad.fuse`'s compile time: B2's op chain (x*1.0001, x+0.001, sin(x), cycling; then sum) with its gradient,
at 100, 1,000, 3,000, 10^4, 3 * 10^4 and 10^5 ops, from `fuse` to the end of the first call (the numba engine),
or to its refusal (a program longer than `lower.MAX_INSTRUCTIONS`: the time to the refusal is reported).

Each size runs in a fresh child process (no kernel or compiled operation carried over from a smaller size), after
a trivial numba function has been compiled there (numba's own start-up, ~0.5-1 s, is not counted). Reported: the
wall and CPU seconds, the program's instructions, and whether the result equals the unfused graph's. With
``--base REF`` (a commit, a folder) the same runs of that version come first, and the table gives both side by side
with the ratios (base / head): on a shared machine the two runs of a size are taken back to back.

    python -m benchmarks.compile_time                     # this working tree
    python -m benchmarks.compile_time --base main         # main against this working tree
    python -m benchmarks.compile_time --sizes 100,1000 --timeout 120
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from contextlib import ExitStack
from typing import Any

from . import versions

SIZES = (100, 1000, 3000, 10000, 30000, 100000)

CHILD = r"""
import json, sys, time
import numpy as np
import numba
import xpgrad
from xpgrad._compile.fuse import FusionError
from xpgrad._compile.fuse.lower import lower
from benchmarks.exprs import op_chain

numba.njit(lambda v: v + 1)(1.0)  # numba's start-up, not counted
n_ops = int(sys.argv[1])
x = xpgrad.placeholder(shape=(None,), dtype="float64")
out = op_chain(n_ops)(xpgrad, x)
outs = [out, *xpgrad.grad(out, [x])]
data = np.linspace(-2.0, 2.0, 1000)
row = {"ops": n_ops, "file": xpgrad.__file__}
try:
    row["instructions"] = len(lower([x], outs).body)
except FusionError:
    pass
wall, cpu = time.perf_counter(), time.process_time()
try:
    got = xpgrad.fuse([x], outs, engine="numba")(data)
except FusionError as e:
    row["refused"] = str(e)[:200]
    row["wall_s"], row["cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
else:
    row["wall_s"], row["cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
    want = xpgrad.fuse([x], outs, engine="unfused")(data)
    row["equal"] = bool(np.array_equal(got[1], want[1]) and abs(got[0] - want[0]) <= 1e-9 * abs(want[0]))
print(json.dumps(row))
"""


def measure(src: Any, n_ops: int, timeout: float) -> dict[str, Any]:
    """One size in a child process importing xpgrad from ``src``."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(n_ops)],
            env=versions.child_env(src),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"ops": n_ops, "timeout_s": timeout}
    if done.returncode != 0:
        return {"ops": n_ops, "error": done.stderr.strip().splitlines()[-1:]}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    versions.imported_from(src, row.pop("file"))
    return row


def cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    if "refused" in row:
        return f"refused after {row['wall_s']:.2f} s wall, {row['cpu_s']:.2f} s CPU" if "cpu_s" in row else "refused"
    if "timeout_s" in row:
        return f"> {row['timeout_s']:.0f} s"
    if "error" in row:
        return "error"
    eq = "" if row["equal"] else " (differs!)"
    return f"{row['wall_s']:.2f} s wall, {row['cpu_s']:.2f} s CPU{eq}"


def table(rows: list[tuple[dict[str, Any] | None, dict[str, Any]]]) -> str:
    base = rows[0][0] is not None
    head = "| ops | instructions | " + ("base | head | base / head (CPU) |" if base else "first call |")
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for b, h in rows:
        ratio = ""
        if b is not None and "cpu_s" in b and "cpu_s" in h and "refused" not in b and "refused" not in h:
            ratio = f"{b['cpu_s'] / h['cpu_s']:.1f}x"
        n = h.get("instructions", (b or {}).get("instructions"))
        cells = [cell(b), cell(h), ratio] if base else [cell(h)]
        lines.append(f"| {h['ops']:,} | {'' if n is None else f'{n:,}'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", help="a commit-ish or folder to compare with (run first, size by size)")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="op counts, comma-separated")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds a size may take (each version)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with ExitStack() as stack:
        label, src = versions.source(stack, None)
        base = versions.source(stack, args.base) if args.base else None
        print(f"head: {label}" + (f"\nbase: {base[0]}" if base else ""), flush=True)
        rows = []
        for n in sizes:
            b = measure(base[1], n, args.timeout) if base else None
            h = measure(src, n, args.timeout)
            print(json.dumps({"base": b, "head": h}), flush=True)
            rows.append((b, h))
    print(table(rows))


if __name__ == "__main__":
    main()
