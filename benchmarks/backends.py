"""xpgrad eager on other backends, against each backend's own hand-written gradients (issue 16, item 5).

    python -m benchmarks.backends                  # numpy, torch, jax (CPU), B1 at 1e6 and B2; ~2 min
    python -m benchmarks.backends --sizes 1000000,10000000 --backends torch --rounds 7

For each backend the baseline is `peers/numpy_ref.hand_written` run with that backend's namespace
(``array_api_compat.torch``, ``jax.numpy``): the same hand-written value and gradients, op for op, on the
same arrays. The contender is xpgrad eager on that backend (`peers/xpgrad_peer.graph` on Tensors of the
backend's arrays, values read). Rounds interleave the two (`timing.interleave`) and the ratio is xpgrad's
time over the hand-written one of the same round: the median is reported, so each backend's figure is a
ratio against itself, measured in the same run. JAX runs in its 64-bit mode (the inputs are float64) and
op by op (no jit); each sample ends with the backend's synchronisation (``block_until_ready``).
Agreement with NumPy's hand-written outputs is checked first (`timing.disagreement`).
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np

from . import timing
from .peers.numpy_ref import hand_written
from .peers.xpgrad_peer import graph
from .scenarios import Task


def _namespace(name: str) -> tuple[Any, Callable[[Any], Any], Callable[[Any], Any]]:
    """The backend's namespace, how to make its array from NumPy, and how to wait for an array's work."""
    if name == "torch":
        import array_api_compat.torch as xp
        import torch

        return xp, torch.from_numpy, lambda a: a
    if name == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        return jnp, jnp.asarray, lambda a: a.block_until_ready()
    import numpy as xp

    return xp, lambda a: a, lambda a: a


def _tasks(sizes: list[int], b2_ops: int, b2_size: int) -> list[tuple[str, Task]]:
    out = [(f"B1 {kind} n=1e{round(math.log10(n))}", Task(kind, 1, n)) for n in sizes for kind in ("compute", "memory")]
    return [*out, (f"B2 chain {b2_ops} ops, {b2_size} elements", Task("chain", 1, b2_size, b2_ops))]


def run(backends: list[str], sizes: list[int], rounds: int, target_s: float) -> list[dict[str, Any]]:
    import xpgrad as xg

    rows = []
    for label, task in _tasks(sizes, 200, 16):
        host = task.inputs()  # (the inputs of `benchmarks.run`)
        want = [np.asarray(w) for w in hand_written(task)(*host)]
        for name in backends:
            xp, make, wait = _namespace(name)
            arrays = [make(a) for a in host]
            by_hand = hand_written(task, xp)

            def base(fn: Callable[..., Any] = by_hand, a: list[Any] = arrays, w: Any = wait) -> list[Any]:
                return [w(o) for o in fn(*a)]

            def eager(a: list[Any] = arrays, w: Any = wait, k: Task = task) -> list[Any]:
                return [w(t.value) for t in graph(xg, k, [xg.Tensor(v) for v in a])]

            labels = ["value", *(f"grad {i}" for i in range(len(host)))]
            bad = timing.disagreement([xg.Tensor(o).numpy() for o in eager()], want, labels)
            bad = bad or timing.disagreement([xg.Tensor(o).numpy() for o in base()], want, labels)
            if bad is not None:
                rows.append({"scenario": label, "backend": name, "mismatch": bad})
                continue
            n_base = timing.inner_count(timing.timed(base)[1], target_s)
            n_eager = timing.inner_count(timing.timed(eager)[1], target_s)
            base_t, times, ratios = timing.interleave((base, n_base), {"xpgrad": (eager, n_eager)}, rounds)
            rows.append(
                {
                    "scenario": label,
                    "backend": name,
                    "ratio": statistics.median(ratios["xpgrad"]),
                    "hand_ms": 1e3 * statistics.median(base_t),
                    "xpgrad_ms": 1e3 * statistics.median(times["xpgrad"]),
                    "rounds": rounds,
                }
            )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "xpgrad eager / the backend's own hand-written gradient (median ratio of interleaved rounds, one run)",
        f"{'scenario':<34} {'backend':<7} {'ratio':>6} {'hand ms':>9} {'xpgrad ms':>10}",
    ]
    for r in rows:
        if "mismatch" in r:
            lines.append(f"{r['scenario']:<34} {r['backend']:<7} MISMATCH {r['mismatch']}")
        else:
            ms = f"{r['hand_ms']:>9.3f} {r['xpgrad_ms']:>10.3f}"
            lines.append(f"{r['scenario']:<34} {r['backend']:<7} {r['ratio']:>5.2f}x {ms}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", default="numpy,torch,jax")
    p.add_argument("--sizes", default="1000000", help="B1 sizes, comma-separated")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--target-s", type=float, default=0.05, help="seconds one sample lasts at least")
    a = p.parse_args(argv)
    rows = run(a.backends.split(","), [int(s) for s in a.sizes.split(",")], a.rounds, a.target_s)
    print(table(rows))


if __name__ == "__main__":
    main()
