"""xpgrad compiled and fused: placeholders, ``xg.grad``, then ``xg.fuse`` (one generated numba pass).

Graphs too long to compile as one kernel (B3's and B4's long chains) are reported unavailable: a fused
kernel is meant for array expressions, and a 10^6-line generated loop would take minutes to compile.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..scenarios import Task
from .base import Prepared, Unavailable, arrays
from .xpgrad_peer import graph

MAX_NODES = 600  # nodes of the value + gradient graph a kernel is generated for


class XpgradFusedPeer:
    name = "xpgrad-fused"
    compiled = True

    def __init__(self, xg: Any) -> None:
        self.xg = xg

    def version(self) -> str:
        import numba

        return f"{self.xg.__version__} (numba {numba.__version__})"

    def prepare(self, task: Task, inputs: Sequence[np.ndarray]) -> Prepared:
        xg = self.xg
        if task.steps * (3 if task.expr_name == "shared" else 1) > MAX_NODES // 2:
            raise Unavailable(f"{task.steps}-step chain: too long for one generated kernel (limit ~{MAX_NODES} nodes)")
        t0 = time.perf_counter()
        ps = [xg.placeholder(shape=a.shape, dtype=str(a.dtype)) for a in inputs]
        try:
            fn = xg.fuse(ps, graph(xg, task, ps), engine="numba")
        except xg.FusionError as e:
            raise Unavailable(str(e)) from e
        fn(*inputs)  # numba compiles on the first call
        return Prepared(call=lambda: fn(*inputs), to_numpy=arrays, compile_s=time.perf_counter() - t0)


def load() -> XpgradFusedPeer:
    try:
        import numba  # noqa: F401

        import xpgrad
    except ImportError as e:
        raise Unavailable(f"not importable: {e} (pip install 'xpgrad[fuse]')") from e
    if not hasattr(xpgrad, "fuse"):
        raise Unavailable("xpgrad has no fuse()")
    return XpgradFusedPeer(xpgrad)
