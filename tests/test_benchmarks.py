"""The benchmark suite at tiny sizes: every scenario runs, and every importable library agrees with the
hand-written NumPy gradients. No timing is asserted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the benchmarks package lives at the repository root

from benchmarks import memory, report  # noqa: E402
from benchmarks.peers import BASELINE, CONTENDERS  # noqa: E402
from benchmarks.runner import Runner, load_peers, run_isolated_child  # noqa: E402
from benchmarks.scenarios import Config, Task, all_scenarios  # noqa: E402

CFG = Config.for_test()
SCENARIOS = all_scenarios(CFG)
OK_STATES = ("ok", "unavailable", "skipped")


@pytest.fixture(scope="module")
def runner() -> Runner:
    peers, _ = load_peers(list(CONTENDERS))
    assert BASELINE in peers
    return Runner(CFG, peers, log=lambda msg: None)


@pytest.fixture(scope="module")
def done() -> list[dict[str, Any]]:
    return []


def _check(result: dict[str, Any]) -> None:
    bad = {
        name: e["status"] for name, e in result["results"].items() if str(e["status"]).split(":")[0] not in OK_STATES
    }
    assert not bad, f"{result['id']}: {bad}"
    assert result["results"][BASELINE].get("median_s") is not None


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario_agrees_with_numpy(sc: Any, runner: Runner, done: list[dict[str, Any]]) -> None:
    result = runner.run(sc)
    done.append(result)
    _check(result)
    for name, e in result["results"].items():
        if e["status"] == "ok" and name != BASELINE:
            assert e["median_ratio"] > 0


def test_report_renders(runner: Runner, done: list[dict[str, Any]], tmp_path: Path) -> None:
    from benchmarks import chart, machine

    scenarios = done or [runner.run(sc) for sc in SCENARIOS[:2]]
    info = {name: {"status": "ok", "version": p.version()} for name, p in runner.peers.items()}
    bandwidth = {"1000": {"n": 1000, "gb_per_s": 1.0}}
    run = {"threads": 1, "contenders": info, "bandwidth": bandwidth, "scenarios": scenarios}
    doc = {"meta": {"date": machine.now(), "machine": machine.info(), "quick": True}, "runs": [run], "memory": {}}
    text = report.render(doc)
    assert "B1 compute" in text and "numpy" in text
    message = chart.draw(doc, tmp_path / "ratios.png")
    assert "chart" in message


def test_isolated_child_runs_one_contender() -> None:
    peers, _ = load_peers(list(CONTENDERS))
    name = next((n for n in ("xpgrad", "autograd", "torch") if n in peers), None)
    if name is None:
        pytest.skip("no cheap contender importable")
    out = run_isolated_child(Task("deep", 1, 1, 50), name, CFG)
    assert out[name]["status"].split(":")[0] in OK_STATES, out[name]
    assert out[BASELINE]["status"] == "ok"


def test_memory_measure_numpy() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "numpy", "1000"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["compute"]["status"] == "ok"
    assert result["compute"]["tracemalloc_peak_mb"] > 0
    assert memory.NUMPY_BASED[0] == "numpy"


def test_listing_contenders_imports_no_heavy_library() -> None:
    code = "import sys, benchmarks.run; print(sorted({'jax', 'torch', 'autograd'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["compute", "memory", "chain", "sinx"])
def test_the_gpu_harness_agrees_on_numpy(name: str) -> None:
    """`benchmarks.gpu` with NumPy standing in for CuPy: every contender agrees with the hand-written gradient."""
    import numpy as np
    from benchmarks import gpu
    from benchmarks.peers.numpy_ref import hand_written

    dev = gpu.Device("numpy")
    task = Task(name, 1, 64, 12 if name == "chain" else 0)
    xs = [dev.put(a) for a in task.inputs()]
    want = [np.asarray(w) for w in hand_written(task, np)(*xs)]
    calls, notes = gpu.contenders(task, dev, xs, want)
    assert {"xpgrad", "xpgrad-fn"} <= set(calls)
    assert not [v for v in notes.values() if v.startswith("mismatch")], notes
    res = gpu.interleave(lambda: hand_written(task, np)(*xs), calls, dev, rounds=1, target_s=0.001)
    assert set(res) == {"hand", *calls} and all(r["median_s"] > 0 for r in res.values())


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None, reason="no host C++ compiler")
def test_the_gpu_profile_runs_on_a_stand_in_for_cupy(monkeypatch: pytest.MonkeyPatch) -> None:
    """`benchmarks.gpu_profile` with `tests/fake_cupy.py` for CuPy: every part is measured, the host steps it
    wraps are the ones a fused call takes (each timed at least once), and the grid sizes tried do differ."""
    from benchmarks import gpu_profile

    import fake_cupy
    from xpgrad._compile.fuse import cuda

    cp = fake_cupy.install(monkeypatch)
    n = 5000  # 20 blocks' worth: more than the fake's 2 SMs hold at 8 blocks each, so the grid sizes tried differ
    report = gpu_profile.profile(cp, lambda: None, [n], repeat=1)
    swept = [launch["blocks"] for launch in fake_cupy.launches[-12:] if launch["kernel"] == "xpgrad_fused"]
    assert swept == [2, 4, 8, 16, 20, 20]  # min(the 20 blocks 5000 elements fill, 2 SMs * 1, 2, 4... blocks each)
    entry = report["sizes"][str(n)]
    assert set(entry) == {"copy", "add", "fused compute", "fused memory", "blocks"}
    for name in ("fused compute", "fused memory"):
        took = entry[name]["steps"]  # (contiguous inputs are passed as they are: no ascontiguousarray)
        assert all(took[s] > 0 for s in gpu_profile.STEPS if s != "ascontiguousarray"), took
    assert set(entry["blocks"]) == {"1", "2", "4", "8", "16", "32"} and cuda.BLOCKS_PER_SM == 8
    assert cp.RawModule is fake_cupy.RawModule and "fused memory" in gpu_profile.table(report)
    cases = [("B3 deep 50 steps", Task("deep", 1, 1, 50))]
    report["eager"] = gpu_profile.eager(cp, lambda: None, cases, top=5)
    (e,) = report["eager"].values()
    assert e["seconds"] > 0 and 0 <= e["gc_fraction"] < 1 and any("(build)" in ln for ln in e["top"]), e["top"]
    assert "eager B3 deep 50 steps" in gpu_profile.table(report)
