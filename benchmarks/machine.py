"""What the figures were measured on."""

from __future__ import annotations

import datetime
import os
import platform
from typing import Any


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _thp() -> dict[str, str]:
    """Transparent huge pages: with defrag=madvise, NumPy's madvised large arrays may stall in compaction."""
    out = {}
    for key in ("enabled", "defrag"):
        try:
            with open(f"/sys/kernel/mm/transparent_hugepage/{key}") as f:
                out[key] = f.read().strip()
        except OSError:
            pass
    return out


def info() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "mem_gib": _mem_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "transparent_hugepage": _thp(),
    }


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
