"""matmul's gradient against hand-written NumPy: ``python -m benchmarks.matmul_grad [--n 1000] [--rounds 7]``.

Each contender computes ``loss = sum(x @ w)`` and both gradients, from arrays to arrays, with the same three BLAS
products (``x @ w``, ``g @ w.T``, ``x.T @ g``):

- ``numpy``: written by hand (the baseline);
- ``xpgrad``: eager, ``xpgrad.grad(xpgrad.sum(x @ w), [x, w])`` from leaves made of the arrays;
- ``xpgrad-fn``: compiled once, ``xpgrad.function([x, w], [loss, gx, gw])``, then called on the arrays.

Rounds are interleaved (each round times every contender once); each contender is checked against the baseline
first; the best round is reported, and its ratio to the baseline's best round of the same run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import xpgrad


def contenders(x: np.ndarray, w: np.ndarray) -> dict[str, Callable[[], Any]]:
    def numpy_ref() -> Any:
        out = x @ w
        g = np.ones_like(out)
        return out.sum(), g @ w.T, x.T @ g

    def eager() -> Any:
        X, W = xpgrad.Tensor(x), xpgrad.Tensor(w)
        loss = xpgrad.sum(X @ W)
        gx, gw = xpgrad.grad(loss, [X, W])
        return loss.value, gx.value, gw.value

    px = xpgrad.placeholder(shape=x.shape, dtype="float64", name="x")
    pw = xpgrad.placeholder(shape=w.shape, dtype="float64", name="w")
    loss = xpgrad.sum(px @ pw)
    f = xpgrad.function([px, pw], [loss, *xpgrad.grad(loss, [px, pw])])

    return {"numpy": numpy_ref, "xpgrad": eager, "xpgrad-fn": lambda: f(x, w)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((args.n, args.n)), rng.standard_normal((args.n, args.n))
    runs = contenders(x, w)
    want = runs["numpy"]()
    for name, run in runs.items():
        for a, b in zip(run(), want, strict=True):
            np.testing.assert_allclose(np.asarray(a), b, rtol=1e-10)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
    print(f"sum(x @ w) and both gradients, {args.n}x{args.n} float64, best of {args.rounds} interleaved rounds")
    for name, t in best.items():
        print(f"  {name:10s} {t * 1e3:8.2f} ms   {t / best['numpy']:.3f}x numpy")


if __name__ == "__main__":
    main()
