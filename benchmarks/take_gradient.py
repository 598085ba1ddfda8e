"""``take``'s gradient: the backend's scatter-add (`Backend.scatter_add`) against the standard's one-hot product.

    python -m benchmarks.take_gradient [--n 5000] [--k 5000] [--big 100000]

Both in one process, on NumPy, one thread: the cotangent ``g`` of ``take(x, indices)`` (``k`` indices into an
axis of length ``n``) added back into zeros of ``x``'s shape, timed (best of 5) and its peak traced memory
(tracemalloc). The one-hot product holds a k x n matrix; the scatter-add only the result. ``--big`` times the
scatter-add alone at n = k = big, where the one-hot matrix (8 big^2 bytes) would not fit.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from .threads import thread_env

if __name__ == "__main__":
    os.environ.update(thread_env(1))

import numpy as np


def _measure(f: Callable[[], Any], repeat: int = 5) -> tuple[float, int]:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    try:
        f()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return best, peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--big", type=int, default=100_000)
    a = p.parse_args()
    from xpgrad.backends import get_backend
    from xpgrad.backends._base import _one_hot_add

    bk = get_backend("numpy")
    rng = np.random.default_rng(0)
    for shape in ((), (4,)):  # a 1-d x (np.bincount) and rows of a 2-d one (np.add.at)
        g = rng.standard_normal((*shape, a.k))
        idx = rng.integers(0, a.n, a.k)
        axis = len(shape)
        new = bk.add_at(g, idx, a.n, axis)
        old = _one_hot_add(bk.xp, g, idx, a.n, axis)
        assert np.allclose(new, old, rtol=1e-14, atol=0)
        t_old, m_old = _measure(lambda: _one_hot_add(bk.xp, g, idx, a.n, axis))  # noqa: B023
        t_new, m_new = _measure(lambda: bk.add_at(g, idx, a.n, axis))  # noqa: B023
        print(
            f"x shape {(*shape, a.n)}, {a.k} indices: one-hot {t_old * 1e3:.2f} ms {m_old / 1e6:.1f} MB, "
            f"scatter-add {t_new * 1e3:.3f} ms {m_new / 1e6:.3f} MB: time ratio {t_old / t_new:.0f}x, "
            f"memory ratio {m_old / m_new:.0f}x"
        )
    g, idx = rng.standard_normal(a.big), rng.integers(0, a.big, a.big)
    t_new, m_new = _measure(lambda: bk.add_at(g, idx, a.big, 0))
    one_hot = 8 * a.big**2 / 1e9
    print(f"n = k = {a.big}: scatter-add {t_new * 1e3:.2f} ms, {m_new / 1e6:.2f} MB (one-hot: {one_hot:.0f} GB)")


if __name__ == "__main__":
    main()
