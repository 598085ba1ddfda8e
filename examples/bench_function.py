"""Time and peak memory of one compiled call vs eager re-evaluation vs hand-written NumPy.

    python examples/bench_function.py            (figures in docs/compiled.md)

The graph: f = sum(sin(x)*y + exp(x*y)/(1+y*y)) and its gradients in x and y, over placeholders.
Peak memory is measured with tracemalloc (NumPy reports its allocations there), in arrays of n.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import xpgrad


def hand(a: np.ndarray, b: np.ndarray) -> tuple[Any, ...]:
    s, e, d = np.sin(a), np.exp(a * b), 1 + b * b
    return np.sum(s * b + e / d), np.cos(a) * b + e * b / d, s + e * a / d - e / d / d * 2 * b


def measure(run: Callable[[], Any], reps: int, n: int) -> tuple[float, float]:
    run()
    t = time.perf_counter()
    for _ in range(reps):
        run()
    dt = (time.perf_counter() - t) / reps
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return dt, peak / (8 * n)


def rows(n: int, reps: int) -> list[str]:
    x = xpgrad.placeholder(shape=(None,), dtype="float64", name="x")
    y = xpgrad.placeholder(shape=(None,), dtype="float64", name="y")
    f = xpgrad.sum(xpgrad.sin(x) * y + xpgrad.exp(x * y) / (1 + y * y))
    outs = [f, *xpgrad.grad(f, [x, y])]
    plain, simple = xpgrad.function([x, y], outs), xpgrad.function([x, y], outs, simplify=True)
    rng = np.random.default_rng(0)
    a, b = rng.random(n), rng.random(n)

    def eager() -> None:
        x.value, y.value = a, b
        for o in outs:
            o.forward()

    ways: dict[str, Callable[[], Any]] = {
        f"function ({plain.n_steps} ops)": lambda: plain(a, b),
        f"function simplify=True ({simple.n_steps} ops)": lambda: simple(a, b),
        "eager: feed + forward()": eager,
        "hand-written NumPy": lambda: hand(a, b),
    }
    out = []
    for name, run in ways.items():
        dt, peak = measure(run, reps, n)
        out.append(f"| {n} | {name} | {dt * 1e6:.0f} us | {peak:.1f} |")
    return out


def main() -> None:
    print("| n | way | time per call | peak memory (arrays of n) |\n|---|---|---|---|")
    for n, reps in ((10, 2000), (1_000_000, 10)):
        print("\n".join(rows(n, reps)))


if __name__ == "__main__":
    main()
