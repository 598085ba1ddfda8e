"""Runs scenarios in this process: check every contender against the baseline, then time them interleaved."""

from __future__ import annotations

import gc
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import timing
from .peers import BASELINE, Peer, Unavailable, load
from .scenarios import Config, Scenario, Task

Entry = dict[str, Any]
REPO_ROOT = Path(__file__).resolve().parent.parent
Log = Callable[[str], None]


def log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_peers(names: list[str]) -> tuple[dict[str, Peer], dict[str, Entry]]:
    """Adapters of the importable contenders, and each one's status and version."""
    peers: dict[str, Peer] = {}
    info: dict[str, Entry] = {}
    for name in names:
        try:
            peer = load(name)
            info[name] = {"status": "ok", "version": peer.version()}
            peers[name] = peer
        except Unavailable as e:
            info[name] = {"status": f"unavailable: {e}"}
        except Exception as e:
            info[name] = {"status": f"error: {type(e).__name__}: {e}"}
    return peers, info


def output_labels(task: Task) -> list[str]:
    if task.order == 2:
        return ["d2/dx2"]
    if task.expr_name in ("compute", "memory"):
        return ["value", "d/dx", "d/dy"]
    return ["value", "d/dx"]


def _short(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text if len(text) <= 300 else text[:297] + "..."


class Runner:
    def __init__(self, cfg: Config, peers: dict[str, Peer], log: Log = log_stderr) -> None:
        self.cfg = cfg
        self.peers = peers
        self.log = log
        # Objects that exist now (the libraries' modules) are never collected: collections during a timed
        # call then cost the same whichever libraries are loaded, and gc.collect() before a sample is cheap.
        gc.freeze()
        self.history: dict[tuple[str, str], list[tuple[int, float]]] = {}  # (series, name) -> [(steps, cost_s)]
        self.dead: dict[tuple[str, str], str] = {}  # (series, name) -> why larger sizes are skipped

    def run(self, sc: Scenario) -> Entry:
        results = self._run_isolated(sc) if sc.isolated else self.run_here(sc)
        self.log(f"  {sc.id:<22} " + "  ".join(f"{n}: {_brief(e)}" for n, e in results.items() if n != BASELINE))
        return {
            "id": sc.id,
            "group": sc.group,
            "title": sc.title,
            "ops": sc.ops,
            "steps": sc.steps,
            "bytes_min": sc.bytes_min,
            "isolated": sc.isolated,
            "size": sc.task.size,
            "order": sc.task.order,
            "results": results,
        }

    # -- skipping grown series -------------------------------------------------------------------------------
    def _skip_reason(self, sc: Scenario, name: str, cap_s: float) -> str | None:
        if not sc.series:
            return None
        key = (sc.series, name)
        if key in self.dead:
            return f"{self.dead[key]} at a smaller size"
        hist = self.history.get(key, [])
        if not hist:
            return None
        n1, c1 = hist[-1]
        p = 2.0 if self.peers[name].compiled else 1.0
        if len(hist) >= 2:
            n0, c0 = hist[-2]
            if c0 > 0 and c1 > 0:
                p = max(p, math.log(c1 / c0) / math.log(n1 / n0))
        est = c1 * (sc.task.steps / n1) ** p
        if est > cap_s:
            why = f"estimated {est:.0f} s a call > cap {cap_s:.0f} s (growth ~n^{p:.1f} from {n1} steps)"
            self.dead[key] = "skipped"
            return why
        return None

    def _record(self, sc: Scenario, name: str, entry: Entry) -> None:
        if not sc.series:
            return
        key = (sc.series, name)
        status = entry["status"]
        if status == "ok":
            cost = (entry.get("compile_s") or 0.0) + min(entry["first_s"], entry["warm_s"])
            self.history.setdefault(key, []).append((sc.task.steps, cost))
        elif not status.startswith("unavailable"):
            self.dead.setdefault(key, status.split(":")[0])

    # -- one scenario, in this process -------------------------------------------------------------------------
    def run_here(self, sc: Scenario, single_shot: bool = False) -> dict[str, Entry]:
        """Check, then time interleaved rounds. ``single_shot``: the checked call is the only timing (for
        runs of minutes, where warm-up effects vanish and a second call would double the cost)."""
        task = sc.task
        inputs = task.inputs()
        labels = output_labels(task)
        base = self.peers[BASELINE].prepare(task, inputs)
        raw, base_first = timing.timed(base.call)
        want = base.to_numpy(raw)
        del raw
        base_warm = base_first if single_shot else min(timing.timed(base.call)[1] for _ in range(2))
        base_inner = timing.inner_count(base_warm, self.cfg.target_s)
        results: dict[str, Entry] = {BASELINE: {"status": "ok", "first_s": base_first, "inner": base_inner}}
        ready: dict[str, tuple[Callable[[], Any], int]] = {}
        cost = base_warm * base_inner
        for name, peer in self.peers.items():
            if name == BASELINE:
                continue
            entry, call = self._prepare_one(sc, name, peer, inputs, want, labels, single_shot)
            self._record(sc, name, entry)
            results[name] = entry
            if call is not None:
                ready[name] = (call, entry["inner"])
                cost += entry["warm_s"] * entry["inner"]
        # A growing series' round costing more than the whole budget (B3 at 1e5 steps): the checked call
        # is the timing. Other scenarios always get at least 3 rounds.
        single_shot = single_shot or (bool(sc.series) and cost > self.cfg.budget_s)
        if single_shot:
            base_times = [base_first]
            times = {name: [results[name]["first_s"]] for name in ready}
            ratios = {name: [times[name][0] / base_first] for name in ready}
            rounds = 0
        else:
            rounds = max(1, min(self.cfg.rounds, int(self.cfg.budget_s / max(cost, 1e-9))))
            if rounds < 3 and (not sc.series or 3 * cost <= 1.5 * self.cfg.budget_s):
                rounds = min(3, self.cfg.rounds)
            base_times, times, ratios = timing.interleave((base.call, base_inner), ready, rounds)
        results[BASELINE].update(times_s=base_times, median_s=timing.median(base_times), rounds=rounds)
        for name in ready:
            results[name].update(
                times_s=times[name],
                ratios=ratios[name],
                rounds=rounds,
                median_s=timing.median(times[name]),
                median_ratio=timing.median(ratios[name]),
            )
        return results

    def _prepare_one(
        self,
        sc: Scenario,
        name: str,
        peer: Peer,
        inputs: list[Any],
        want: list[Any],
        labels: list[str],
        single_shot: bool = False,
    ) -> tuple[Entry, Callable[[], Any] | None]:
        skip = self._skip_reason(sc, name, self.cfg.cap_s)
        if skip:
            return {"status": f"skipped: {skip}"}, None
        try:
            prepared = peer.prepare(sc.task, inputs)
            raw, first_s = timing.timed(prepared.call)
            got = prepared.to_numpy(raw)
            del raw
        except Unavailable as e:
            return {"status": f"unavailable: {e}"}, None
        except (RecursionError, MemoryError) as e:
            return {"status": f"failed: {_short(e)}"}, None
        except Exception as e:
            return {"status": f"error: {_short(e)}"}, None
        bad = timing.disagreement(got, want, labels)
        if bad:
            self.log(f"!!! MISMATCH {name} vs hand-written numpy in {sc.id}: {bad} -- not timed")
            return {"status": f"mismatch: {bad}"}, None
        warm = not single_shot and first_s < 1.0  # slower first calls are warm-up enough
        warm_s = timing.timed(prepared.call)[1] if warm else first_s
        entry: Entry = {
            "status": "ok",
            "first_s": first_s,
            "warm_s": warm_s,
            "compile_s": prepared.compile_s,
            "inner": timing.inner_count(warm_s, self.cfg.target_s),
        }
        return entry, prepared.call

    # -- one scenario, each contender in its own subprocess ----------------------------------------------------
    def _run_isolated(self, sc: Scenario) -> dict[str, Entry]:
        results: dict[str, Entry] = {}
        for name in self.peers:
            if name == BASELINE:
                continue
            skip = self._skip_reason(sc, name, self.cfg.isolated_cap_s)
            if skip:
                results[name] = {"status": f"skipped: {skip}"}
                continue
            child = run_isolated_child(sc.task, name, self.cfg)
            if BASELINE in child and BASELINE not in results:
                results[BASELINE] = child[BASELINE]
            entry = child.get(name, {"status": "failed: no result"})
            self._record(sc, name, entry)
            results[name] = entry
        results.setdefault(BASELINE, {"status": "ok"})
        return dict(sorted(results.items(), key=lambda kv: kv[0] != BASELINE))


def run_isolated_child(task: Task, name: str, cfg: Config) -> dict[str, Entry]:
    """Run one task for numpy and one contender in a fresh interpreter (same environment), with a timeout."""
    spec = {
        "task": [task.expr_name, task.order, task.size, task.steps],
        "contender": name,
        "rounds": cfg.rounds,
        "budget_s": cfg.budget_s,
        "target_s": cfg.target_s,
    }
    cmd = [sys.executable, "-m", "benchmarks.isolated", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=cfg.isolated_timeout_s, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        return {name: {"status": f"failed: timeout after {cfg.isolated_timeout_s:.0f} s"}}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return {name: {"status": f"failed: exit code {proc.returncode}: {tail[-300:]}"}}
    result: dict[str, Entry] = json.loads(lines[-1])
    return result


def _brief(e: Entry) -> str:
    if e.get("median_ratio") is not None:
        return f"{e['median_ratio']:.2f}x"
    return str(e.get("status", "?")).split(":")[0]
