"""``python -m benchmarks.ab --base REV [--head REV|PATH] [--quick] [--rounds N] [--sessions K] [--out FILE]``:
B1-B5 for two versions of xpgrad, side by side, eager and compiled.

A session starts one worker per version (``python -m benchmarks.ab --worker``, PYTHONPATH set to that version's
``src``; the harness, this package, is the same copy for both). For each scenario both workers prepare every
mode (``xpgrad``, ``xpgrad-fn``, ``xpgrad-fused``) and check its outputs against the hand-written NumPy ones, as
the runner does; then the rounds alternate the two versions sample by sample (base then head, then head then
base, ...), so that both see the same load. Each sample repeats the call until it lasts ``target_s``, with the
same repeat count in both versions, and takes the process's CPU time (which other processes on a busy machine
do not inflate, as they do the wall clock; the workers run one thread) and the wall-clock time. The rounds are
spread over ``--sessions`` fresh pairs of workers. Reported per scenario and mode: each version's median CPU
time, the median, quartiles and range of the per-round ratios head / base of CPU times, the ratio of the two
versions' fastest samples (which a slow spell of the machine does not move), and the median ratio of wall-clock
times.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import machine, threads, timing, versions
from .report import table
from .runner import REPO_ROOT

MODES = ("xpgrad", "xpgrad-fn", "xpgrad-fused")
VERSIONS = ("base", "head")
QUIET = ("skipped", "unavailable")  # statuses that are no finding (any other is: a mismatch, an error)
TARGET_S = {False: 0.05, True: 0.02}  # a sample repeats the call until it lasts this (full, quick)
ROUNDS = {False: 18, True: 20}
SESSIONS = {False: 3, True: 2}


# -- the worker: one version, in its own process, answering the controller -------------------------------------
def serve(quick: bool) -> None:
    """Answers JSON lines on stdin: {"prepare": scenario id} -> each mode's check; {"sample": mode, "inner": n}
    -> seconds a call. Replies go to the real stdout; anything a library prints goes to stderr."""
    reply_to, sys.stdout = sys.stdout, sys.stderr
    import xpgrad

    from .peers import BASELINE
    from .runner import Runner, load_peers, output_labels
    from .scenarios import Config

    def reply(obj: Any) -> None:
        reply_to.write(json.dumps(obj) + "\n")
        reply_to.flush()

    cfg = Config.for_quick() if quick else Config.for_full()
    # Four times the run's cap on estimated call times: a mode near it would be timed in one session, not the next.
    cfg = dataclasses.replace(cfg, cap_s=4 * cfg.cap_s)
    peers, info = load_peers([BASELINE, *MODES])
    threads.pin_in_process(threads.pinned_threads())
    runner = Runner(cfg, peers, log=lambda msg: print(msg, file=sys.stderr, flush=True))  # freezes gc
    scenarios = {sc.id: sc for sc in scenario_list(quick)}
    calls: dict[str, Any] = {}
    reply({"xpgrad_file": xpgrad.__file__, "contenders": info})
    for line in sys.stdin:
        request = json.loads(line)
        if "sample" in request:
            reply(sample(calls[request["sample"]], request["inner"]))
            continue
        calls.clear()  # the previous scenario's graphs and arrays
        sc = scenarios[request["prepare"]]
        inputs = sc.task.inputs()
        base = peers[BASELINE].prepare(sc.task, inputs)
        want = base.to_numpy(base.call())
        entries = {}
        for name in MODES:
            if name not in peers:
                entries[name] = info[name]
                continue
            # The runner's check and warm-up; a grown series skips a contender as the runner does.
            entries[name], call = runner._prepare_one(sc, name, peers[name], inputs, want, output_labels(sc.task))
            runner._record(sc, name, entries[name])
            if call is not None:
                calls[name] = call
        reply(entries)


def sample(call: Callable[[], Any], inner: int) -> tuple[float, float]:
    """(CPU, wall-clock) seconds a call, over ``inner`` calls, garbage collected before (as ``timing.sample``).
    One untimed call first: the timed ones follow this call, not whatever the other worker ran last (a call on
    1e7 elements took 0.4 s after itself and 0.9-1.5 s of CPU time, page faults included, after the other
    worker's fused call)."""
    call()
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(inner):
        call()
    return (time.process_time() - cpu) / inner, (time.perf_counter() - wall) / inner


def scenario_list(quick: bool) -> list[Any]:
    """The full run's scenarios (without B3's 1e5 and 1e6 chains, its first pass only), or the quick run's."""
    from .scenarios import Config, all_scenarios

    return all_scenarios(Config.for_quick() if quick else Config.for_full(), first_pass=False)


# -- the controller ----------------------------------------------------------------------------------------------
class Worker:
    def __init__(self, src: Path, quick: bool, n_threads: int) -> None:
        cmd = [sys.executable, "-m", "benchmarks.ab", "--worker"] + ["--quick"] * quick
        env = versions.child_env(src, threads.thread_env(n_threads))
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT
        )
        versions.imported_from(src, self.ask(None)["xpgrad_file"])

    def ask(self, request: dict[str, Any] | None) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if request is not None:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"a worker stopped with exit code {self.proc.wait()} (its messages are above)")
        return json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def session(srcs: dict[str, Path], quick: bool, n_threads: int, rounds: int, k: int) -> dict[str, Any]:
    """One pair of workers (session ``k``: base started first when k is even): per scenario, each version's
    checks and the ([cpu, wall] base, head) of each round."""
    started = {which: Worker(srcs[which], quick, n_threads) for which in (VERSIONS if k % 2 == 0 else VERSIONS[::-1])}
    workers = {which: started[which] for which in VERSIONS}
    done: dict[str, Any] = {}
    try:
        for sc in scenario_list(quick):
            checks = {which: w.ask({"prepare": sc.id}) for which, w in workers.items()}
            timed = [m for m in MODES if all(checks[which][m]["status"] == "ok" for which in VERSIONS)]
            inner = {
                m: max(timing.inner_count(checks[w][m]["warm_s"], TARGET_S[quick]) for w in VERSIONS) for m in timed
            }
            pairs: dict[str, list[list[list[float]]]] = {m: [] for m in timed}  # [[cpu, wall] base, ... head]
            for i in range(rounds):
                order = VERSIONS if i % 2 == 0 else VERSIONS[::-1]
                for m in timed:
                    got = {which: workers[which].ask({"sample": m, "inner": inner[m]}) for which in order}
                    pairs[m].append([got["base"], got["head"]])
            done[sc.id] = {"checks": checks, "inner": inner, "pairs": pairs}
            print(f"  {sc.id}: " + ", ".join(f"{m} {ratio_text(p)}" for m, p in pairs.items()), file=sys.stderr)
    finally:
        for w in workers.values():
            w.close()
    return done


def ratio_text(pairs: list[list[list[float]]]) -> str:
    return f"{timing.median([h[0] / b[0] for b, h in pairs]):.3f}" if pairs else "-"


def summarise(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scenario and mode, over every session: each version's median time and the ratios head / base, and what
    stopped a check in some session ("base: skipped: ..."). A mismatch or an error anywhere is the row's result."""
    rows = []
    for sc_id in sessions[0]:
        for name in MODES:
            pairs = [p for s in sessions for p in s[sc_id]["pairs"].get(name, [])]
            notes = {}  # the first of each kind, per version
            for s in sessions:
                for which in VERSIONS:
                    status = s[sc_id]["checks"][which][name]["status"]
                    if status != "ok":
                        notes.setdefault(f"{which}: {status.split(':')[0]}", f"{which}: {status}")
            loud = [n for n in notes.values() if not n.split(": ")[1].startswith(QUIET)]
            row: dict[str, Any] = {"scenario": sc_id, "mode": name, "notes": list(notes.values())}
            if loud or not pairs:
                rows.append({**row, "status": "/".join(sorted({k.split(": ")[1] for k in notes}))})
                continue
            ratios = sorted(h[0] / b[0] for b, h in pairs)
            q = len(ratios) // 4
            row.update(
                status="ok",
                rounds=len(pairs),
                base_s=timing.median([b[0] for b, _ in pairs]),
                head_s=timing.median([h[0] for _, h in pairs]),
                ratios=ratios,
                ratio_median=timing.median(ratios),
                ratio_quartiles=[ratios[q], ratios[-1 - q]],
                ratio_range=[ratios[0], ratios[-1]],
                best_ratio=min(h[0] for _, h in pairs) / min(b[0] for b, _ in pairs),
                wall_ratio_median=timing.median([h[1] / b[1] for b, h in pairs]),
            )
            rows.append(row)
    return rows


def render(doc: dict[str, Any]) -> str:
    meta, cells, notes = doc["meta"], [], []
    for r in doc["rows"]:
        notes += [f"{r['scenario']} {r['mode']}: {n}" for n in r["notes"]]
        if r["status"] != "ok":
            word = "/".join(
                {"skipped": "skipped", "unavailable": "n/a"}.get(k, k.upper()) for k in r["status"].split("/")
            )
            cells.append([r["scenario"], r["mode"], "-", "-", word, "", "", "", ""])
            continue
        some = f" ({r['rounds']} rounds)" if r["rounds"] < meta["rounds"] else ""
        (q1, q3), (lo, hi) = r["ratio_quartiles"], r["ratio_range"]
        cells.append(
            [
                r["scenario"],
                r["mode"],
                f"{r['base_s'] * 1e3:.3f}",
                f"{r['head_s'] * 1e3:.3f}",
                f"{r['ratio_median']:.3f}",
                f"{q1:.3f}-{q3:.3f}",
                f"{lo:.3f}-{hi:.3f}{some}",
                f"{r['best_ratio']:.3f}",
                f"{r['wall_ratio_median']:.3f}",
            ]
        )
    lines = [
        f"xpgrad A/B, {meta['date']}: {meta['rounds']} rounds in {meta['sessions']} sessions, "
        f"{meta['threads']} thread(s){', quick' if meta['quick'] else ''}; {meta['wall_s']:.0f} s",
        f"base: {meta['base']}",
        f"head: {meta['head']}",
        f"load average 1/5/15 min: {meta['loadavg_start']} at start, {meta['loadavg_end']} at end",
        "",
        "median CPU time a call (ms); per-round ratios head / base of CPU times (median, middle half, range); the",
        "ratio of the fastest samples (best); the median per-round ratio of wall-clock times (wall)",
        table(["scenario", "mode", "base ms", "head ms", "head/base", "middle half", "range", "best", "wall"], cells),
    ]
    return "\n".join(lines + (["", "not timed (in some or all sessions):", *notes] if notes else []))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="commit-ish to compare against (checked out in a temporary worktree)")
    ap.add_argument("--head", help="commit-ish, or a folder holding src/xpgrad (default: this working tree)")
    ap.add_argument("--quick", action="store_true", help="the quick run's sizes (~3 min on 2 cores)")
    ap.add_argument("--rounds", type=int, help=f"rounds in all (default {ROUNDS[False]}, quick {ROUNDS[True]})")
    ap.add_argument(
        "--sessions", type=int, help=f"fresh worker pairs (default {SESSIONS[False]}, quick {SESSIONS[True]})"
    )
    ap.add_argument("--threads", type=int, default=1, help="pinned thread count of the workers (default 1)")
    ap.add_argument("--out", type=Path, help="write the JSON here and the table next to it (.txt)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # internal: serve one version
    args = ap.parse_args(argv)
    if args.worker:
        serve(args.quick)
        return 0
    if not args.base:
        ap.error("--base is required")
    rounds, n_sessions = args.rounds or ROUNDS[args.quick], args.sessions or SESSIONS[args.quick]
    t0, load_start = time.perf_counter(), os.getloadavg()
    with ExitStack() as stack:
        labelled = {"base": versions.source(stack, args.base), "head": versions.source(stack, args.head)}
        srcs = {which: src for which, (_, src) in labelled.items()}
        done = []
        for k in range(n_sessions):
            print(f"session {k + 1}/{n_sessions}", file=sys.stderr, flush=True)
            share = rounds // n_sessions + (k < rounds % n_sessions)
            done.append(session(srcs, args.quick, args.threads, share, k))
    doc = {
        "meta": {
            "date": machine.now(),
            "machine": machine.info(),
            "base": labelled["base"][0],
            "head": labelled["head"][0],
            "quick": args.quick,
            "rounds": rounds,
            "sessions": n_sessions,
            "threads": args.threads,
            "target_s": TARGET_S[args.quick],
            "wall_s": time.perf_counter() - t0,
            "loadavg_start": [round(x, 1) for x in load_start],
            "loadavg_end": [round(x, 1) for x in os.getloadavg()],
        },
        "rows": summarise(done),
        "sessions": done,
    }
    text = render(doc)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1))
        args.out.with_suffix(".txt").write_text(text + "\n")
        print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
