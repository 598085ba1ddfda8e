"""Peak memory of B1 (value + both gradients), one contender per fresh interpreter.

Two measures, both taken on a call after a warm-up call (so compilation and caches are not counted):
- ``rss_peak_mb``: resident-set high-water mark during the call minus the resident set just before it.
  The high-water mark is reset first by writing 5 to /proc/self/clear_refs and read as VmHWM (this is
  ru_maxrss made resettable); where that is not possible, the increase of ru_maxrss is used instead.
  It sees every allocator (NumPy, XLA, PyTorch) but only memory the allocator touched.
- ``tracemalloc_peak_mb``: tracemalloc's peak over the call, for the NumPy-based contenders only (NumPy
  reports its array buffers to tracemalloc; JAX and PyTorch allocate outside it).
Inputs exist before the call and are not counted; the outputs (value + 2 gradients, 2*n*8 bytes) are.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import tracemalloc
from typing import Any

from . import threads

NUMPY_BASED = ("numpy", "autograd", "xpgrad", "xpgrad-fn", "xpgrad-fused")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _status_kib("VmHWM")
        return True
    except (OSError, KeyError):
        return False


def _rss_peak_mb(call: Any) -> tuple[float, str]:
    gc.collect()
    if _reset_peak():
        before = _status_kib("VmRSS")
        out = call()
        peak = _status_kib("VmHWM")
        del out
        return (peak - before) / 1024, "VmHWM-VmRSS"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = call()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del out
    return (peak - before) / 1024, "ru_maxrss delta"


def _tracemalloc_peak_mb(call: Any) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        out = call()
        peak = tracemalloc.get_traced_memory()[1]
        del out
    finally:
        tracemalloc.stop()
    return peak / 2**20


def measure(name: str, size: int) -> dict[str, Any]:
    from .peers import Unavailable
    from .runner import load_peers
    from .scenarios import Task

    peers, info = load_peers([name])
    threads.pin_in_process(threads.pinned_threads())
    if name not in peers:
        return {"status": info[name]["status"]}
    peer = peers[name]
    result: dict[str, Any] = {"status": "ok", "size": size, "outputs_mb": 2 * size * 8 / 2**20}
    for expr in ("compute", "memory"):
        task = Task(expr, 1, size)
        try:
            prepared = peer.prepare(task, task.inputs())
            prepared.call()
            rss, method = _rss_peak_mb(prepared.call)
            entry: dict[str, Any] = {"status": "ok", "rss_peak_mb": rss, "rss_method": method}
            if name in NUMPY_BASED:
                entry["tracemalloc_peak_mb"] = _tracemalloc_peak_mb(prepared.call)
        except Unavailable as e:
            entry = {"status": f"unavailable: {e}"}
        except Exception as e:
            entry = {"status": f"error: {type(e).__name__}: {e}"[:300]}
        result[expr] = entry
    return result


def main(argv: list[str]) -> int:
    print(json.dumps(measure(argv[0], int(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
