"""Issue 2's scale figures: a 10^6-op chain (build, forward, grad, print, free) and the shared DAG
``y = y*y + y`` at 10 to 160 steps. Timings for the notes, not a test: ``python examples/scale_figures.py``.
"""

from __future__ import annotations

import gc
import time

import numpy as np

import xpgrad as xg
from xpgrad._core.walk import toposort


def chain(steps: int = 500_000) -> None:
    x = xg.Tensor(np.array([0.5, 2.0]), name="x")
    y = x
    t0 = time.perf_counter()
    for _ in range(steps):  # two ops a step
        y = y * 0.999999 + 0.000001
    t1 = time.perf_counter()
    y.forward()
    t2 = time.perf_counter()
    g = y.grad(x)
    t3 = time.perf_counter()
    text = str(g) + repr(g)
    t4 = time.perf_counter()
    nodes = len(toposort([g]))
    del g, y, text
    gc.collect()
    t5 = time.perf_counter()
    ops = 2 * steps
    print(
        f"{ops:.0e}-op chain: build {t1 - t0:.1f} s ({(t1 - t0) / ops * 1e6:.1f} us/op), forward {t2 - t1:.1f} s, "
        f"grad {t3 - t2:.1f} s ({nodes} nodes), str+repr {(t4 - t3) * 1e3:.2f} ms, free {t5 - t4:.1f} s"
    )


def shared_dag() -> None:
    for steps in (10, 20, 40, 80, 160):
        x = xg.Tensor(np.array([1e-3, 2e-3]))
        y = x
        t0 = time.perf_counter()
        for _ in range(steps):
            y = y * y + y
        t1 = time.perf_counter()
        g = y.grad(x)
        t2 = time.perf_counter()
        print(
            f"y = y*y + y, {steps} steps: build {(t1 - t0) * 1e3:.2f} ms, grad {(t2 - t1) * 1e3:.2f} ms "
            f"({(t2 - t1) / steps * 1e6:.0f} us/step), {len(toposort([g]))} gradient nodes"
        )


if __name__ == "__main__":
    shared_dag()
    chain()
