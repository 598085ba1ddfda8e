"""Issue 5's B5 figures: the array passes and the time of a second derivative against the first.

First derivative: ``out = sum(f(x))``, value and ``grad(out, [x])``; second: ``grad(sum(grad(out, [x])[0]), [x])``;
x float64 of 10^6 elements, eager (Tensor leaves) and compiled (`xpgrad.function`). The two orders are timed
side by side in one process, alternating, and the medians compared (the machine is shared). A pass is one
array of x's size computed. Not a test: ``python examples/b5_figures.py [rounds]``.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

import xpgrad as xg
from xpgrad._core import build as _build

N = 10**6
EXPRS: dict[str, Callable[[Any], Any]] = {
    "sum(sin(x)*x)": lambda x: xg.sum(xg.sin(x) * x),
    "sum(x**3)": lambda x: xg.sum(x**3),
}


def first(f: Callable[[Any], Any], a: np.ndarray) -> list[Any]:
    x = xg.Tensor(a)
    out = f(x)
    return [out.value, xg.grad(out, [x])[0].value]


def second(f: Callable[[Any], Any], a: np.ndarray) -> list[Any]:
    x = xg.Tensor(a)
    (g,) = xg.grad(f(x), [x])
    return [xg.grad(xg.sum(g), [x])[0].value]


def compiled(f: Callable[[Any], Any], order: int) -> Callable[[np.ndarray], Any]:
    p = xg.placeholder(shape=(N,), dtype="float64")
    out = f(p)
    (g,) = xg.grad(out, [p])
    return xg.function([p], [out, g] if order == 1 else [xg.grad(xg.sum(g), [p])[0]])


def passes(run: Callable[[], Any]) -> Counter[str]:
    """Op name -> arrays of N elements computed by ``run``. Every evaluation (eager, `_lazy`, compiled)
    calls a function the backend resolved with ``Backend.fn``; the memos holding those functions are
    emptied for the run, so each is resolved again through a counting wrapper, and restored after."""
    seen: Counter[str] = Counter()
    backend = type(xg.Tensor(np.zeros(1))._bk)
    resolve = backend.fn
    memos = [m for m in (getattr(_build, "_quick", None), _build._decided) if m is not None]  # (older: no _quick)
    saved = [dict(m) for m in memos]

    def counting(self: Any, op: Any) -> Callable[..., Any]:
        fn = resolve(self, op)

        def call(*args: Any, **kw: Any) -> Any:
            v = fn(*args, **kw)
            seen[op.name] += getattr(v, "size", 1) == N
            return v

        return call

    for m in memos:
        m.clear()
    backend.fn = counting  # type: ignore[method-assign]
    try:
        run()
    finally:
        backend.fn = resolve  # type: ignore[method-assign]
        for m, old in zip(memos, saved, strict=True):
            m.clear()
            m.update(old)
    return Counter({k: v for k, v in seen.items() if v})


def main(rounds: int) -> None:
    a = np.random.default_rng(0).uniform(-3, 3, N)
    for name, f in EXPRS.items():
        c1, c2 = compiled(f, 1), compiled(f, 2)
        runs: dict[str, Callable[[], Any]] = {
            "d1": lambda f=f: first(f, a),
            "d2": lambda f=f: second(f, a),
            "c1": lambda c=c1: c(a),
            "c2": lambda c=c2: c(a),
        }
        for run in runs.values():
            run()  # warm the memo of `_build` before counting
        for k in runs:
            p = passes(runs[k])
            print(f"{name}: {k} {p.total()} passes {dict(p)}")
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(rounds):
            for k, run in runs.items():
                gc.collect()
                t0 = time.perf_counter()
                run()
                times[k].append(time.perf_counter() - t0)
        m = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"{name}: eager d1 {m['d1'] * 1e3:.1f} ms, d2 {m['d2'] * 1e3:.1f} ms, d2/d1 {m['d2'] / m['d1']:.2f}; "
            f"compiled d2/d1 {m['c2'] / m['c1']:.2f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
