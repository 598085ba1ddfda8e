"""Agreement with the baseline, and interleaved timing (numpy, then each library, round after round)."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

RTOL = 1e-6
ATOL = 1e-9


def disagreement(got: Sequence[np.ndarray], want: Sequence[np.ndarray], labels: Sequence[str]) -> str | None:
    """None when every output matches the baseline (np.allclose, RTOL/ATOL), else what differs."""
    if len(got) != len(want):
        return f"{len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        label = labels[i] if i < len(labels) else f"output {i}"
        g = np.asarray(g, dtype=np.float64)
        if g.shape != w.shape and not (g.size == w.size == 1):
            return f"{label}: shape {g.shape}, expected {w.shape}"
        g = g.reshape(w.shape)
        if not np.allclose(g, w, rtol=RTOL, atol=ATOL):
            diff = np.abs(g - w)
            k = int(np.nanargmax(np.where(np.isnan(diff), np.inf, diff)))
            return (
                f"{label}: max |diff| {np.nanmax(diff):.3g} at index {k} "
                f"(got {g.flat[k]!r}, expected {w.flat[k]!r}; rtol={RTOL}, atol={ATOL})"
            )
    return None


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = call()
    return out, time.perf_counter() - t0


def sample(call: Callable[[], Any], inner: int, sync: Callable[[], Any] | None = None) -> float:
    """Seconds per call, over ``inner`` back-to-back calls (garbage collected before, enabled during).
    ``sync``: a device's synchronisation, called before and after, so the time is the calls' whole work."""
    gc.collect()
    if sync is not None:
        sync()
    t0 = time.perf_counter()
    for _ in range(inner):
        call()
    if sync is not None:
        sync()
    return (time.perf_counter() - t0) / inner


def inner_count(seconds_per_call: float, target_s: float) -> int:
    if seconds_per_call <= 0:
        return 1000
    return max(1, min(100_000, math.ceil(target_s / seconds_per_call)))


def interleave(
    baseline: tuple[Callable[[], Any], int],
    others: dict[str, tuple[Callable[[], Any], int]],
    rounds: int,
    sync: Callable[[], Any] | None = None,
) -> tuple[list[float], dict[str, list[float]], dict[str, list[float]]]:
    """Each round times the baseline, then each other; ratio = other / baseline of that round."""
    base_times: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in others}
    ratios: dict[str, list[float]] = {name: [] for name in others}
    for _ in range(rounds):
        tb = sample(*baseline, sync)
        base_times.append(tb)
        for name, (call, inner) in others.items():
            t = sample(call, inner, sync)
            times[name].append(t)
            ratios[name].append(t / tb)
    return base_times, times, ratios


def median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None
