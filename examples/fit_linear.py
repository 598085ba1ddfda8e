"""Fit y = X @ w + b by gradient descent with ONE compiled function for the loss and its gradients.

The graph (loss and the gradient graphs `xpgrad.grad` builds) is made once over placeholders;
`xpgrad.function` plans it once; the loop only calls it with new arrays. Runs on any backend:
    python examples/fit_linear.py --steps 300 --every 50 --backend numpy
"""

from __future__ import annotations

import argparse

import numpy as np

import xpgrad


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--every", type=int, default=50, help="print a progress line every N steps")
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--backend", default="numpy")
    args = ap.parse_args(argv)

    bk = xpgrad.get_backend(args.backend)
    xp = bk.xp
    rng = np.random.default_rng(0)
    true_w, true_b = np.array([2.0, -3.0, 0.5]), 1.25
    x_np = rng.normal(size=(200, 3))
    y_np = x_np @ true_w + true_b + 0.01 * rng.normal(size=200)

    # the model, once, over placeholders: rows of X vary in number (None)
    X = xpgrad.placeholder(shape=(None, 3), dtype="float64", backend=bk, name="X")
    Y = xpgrad.placeholder(shape=(None,), dtype="float64", backend=bk, name="Y")
    w = xpgrad.placeholder(shape=(3,), dtype="float64", backend=bk, name="w")
    b = xpgrad.placeholder(shape=(), dtype="float64", backend=bk, name="b")
    pred = xpgrad.sum(X * w, axis=1) + b
    loss = xpgrad.mean(xpgrad.square(pred - Y))
    step = xpgrad.function([X, Y, w, b], [loss, *xpgrad.grad(loss, [w, b])])

    Xa, Ya = bk.from_numpy(x_np, None), bk.from_numpy(y_np, None)
    wa, ba = xp.zeros(3, dtype=xp.float64), xp.asarray(0.0, dtype=xp.float64)
    value = float("nan")
    for i in range(1, args.steps + 1):
        value_a, gw, gb = step(Xa, Ya, wa, ba)
        wa, ba = wa - args.lr * gw, ba - args.lr * gb
        value = float(value_a)
        if i == 1 or i % args.every == 0 or i == args.steps:
            print(f"step {i:5d}  loss {value:.6f}  w {np.round(bk.to_numpy(wa), 3)}  b {float(ba):.3f}")
    return value


if __name__ == "__main__":
    main()
