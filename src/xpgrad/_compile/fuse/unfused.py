"""The fallback: the plan executor of `xpgrad.function` (what a fused kernel must equal).

`fuse` runs a graph on it where no fused engine is installed for the backend (numba on the CPU), or when
asked for ``engine="unfused"``: the results are exactly those of eager evaluation, of the kinds
`xpgrad.function` returns (a sum is a NumPy scalar on NumPy), and the graph's own placeholders are not fed (the
plan runs on copies of its nodes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._core.tensor import Tensor
from ..function import Function

__all__ = ["compile_unfused"]


def compile_unfused(inputs: list[Tensor], outputs: list[Tensor]) -> Callable[..., list[Any]]:
    return Function(inputs, outputs, single=False)
