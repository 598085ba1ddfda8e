"""xpgrad.linalg and cumulative_prod against hand-written NumPy: ``python -m benchmarks.linalg_grad``.

Each pair computes a value and its gradient from arrays to arrays, the hand-written one with the closed form
(``-inv^T g inv^T``, ``det inv^T``, ``V V^T`` for ``sum(eigvalsh)``, and the standard's division formula for
``cumulative_prod``, which is wrong where the input has zeros). Each is checked against the other first; the
best of several repeats is reported as the ratio xpgrad / NumPy, both measured in the same run.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

import xpgrad


def _best(f: Callable[[], Any], number: int = 5, repeat: int = 5) -> float:
    return min(timeit.repeat(f, number=number, repeat=repeat)) / number


def _pair(name: str, ours: Callable[[], Any], hand: Callable[[], Any], number: int = 5) -> None:
    for a, b in zip(ours(), hand(), strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-7, atol=1e-9)
    ratio = _best(ours, number) / _best(hand, number)
    print(f"{name}: xpgrad / NumPy = {ratio:.2f}")


def _value_and_grad(f: Callable[[Any], Any], a: np.ndarray) -> Callable[[], Any]:
    def run() -> Any:
        x = xpgrad.Tensor(a)
        y = xpgrad.sum(f(x))
        (g,) = xpgrad.grad(y, [x])
        return y.numpy(), g.numpy()

    return run


def main() -> None:
    la = xpgrad.linalg
    rng = np.random.default_rng(0)
    for n in (100, 300):
        a = rng.uniform(size=(n, n))
        a = a + a.T + n * np.eye(n)

        def inv_hand(a: np.ndarray = a) -> Any:
            ai = np.linalg.inv(a)
            return ai.sum(), -(ai.T @ np.ones_like(a) @ ai.T)

        def det_hand(a: np.ndarray = a, n: int = n) -> Any:
            d = np.linalg.det(a / n)  # (scaled: det of a is out of range)
            return d, d * np.linalg.inv(a / n).T / n

        def eigvalsh_hand(a: np.ndarray = a) -> Any:
            w, v = np.linalg.eigh(a)
            return w.sum(), v @ v.T

        _pair(f"sum(inv(x)) and its gradient, {n}x{n}", _value_and_grad(la.inv, a), inv_hand)
        _pair(f"det(x / n) and its gradient, {n}x{n}", _value_and_grad(lambda x, n=n: la.det(x / n), a), det_hand)
        _pair(f"sum(eigvalsh(x)) and its gradient, {n}x{n}", _value_and_grad(la.eigvalsh, a), eigvalsh_hand)
    for n in (10**4, 10**6):
        v = rng.uniform(0.999, 1.001, size=n)

        def cumprod_hand(v: np.ndarray = v) -> Any:
            out = np.cumprod(v)
            return out.sum(), np.cumsum(out[::-1])[::-1] / v

        _pair(
            f"sum(cumulative_prod(x)) and its gradient, {n}",
            _value_and_grad(xpgrad.cumulative_prod, v),
            cumprod_hand,
            2,
        )


if __name__ == "__main__":
    main()
