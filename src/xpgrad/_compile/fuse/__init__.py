"""Fused kernels: a graph of elementwise ops, basic indexing and final sums, lowered to one pass over its inputs.

`fuse(inputs, outputs)` returns ``f(*arrays) -> [arrays]``. On NumPy arrays with numba installed
(the ``fuse`` extra) it is one generated, multi-threaded loop (`cpu`); `cuda` generates the same
program as CUDA kernels (CuPy RawModule): one pass, then one launch for the final sums. Without numba the
graph runs on `xpgrad.function`'s plan executor, unfused (`unfused`).
"""

from __future__ import annotations

from .api import fuse
from .lower import FusionError

__all__ = ["FusionError", "fuse"]
