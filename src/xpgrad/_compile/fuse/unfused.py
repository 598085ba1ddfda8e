"""The fallback: the plan executor of `xpgrad.function` (what a fused kernel must equal).

`fuse` runs a graph on it where no fused engine is installed for the backend (numba on the CPU), or when
asked for ``engine="unfused"``: the results are exactly those of eager evaluation, the graph's own
placeholders are not fed (the plan runs on copies of its nodes), and sums are returned as 0-d arrays, as
the fused engines return them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..._core.tensor import Tensor
from ..function import Function

__all__ = ["compile_unfused"]


def compile_unfused(inputs: list[Tensor], outputs: list[Tensor]) -> Callable[..., list[Any]]:
    plan = Function(inputs, outputs, single=False)

    def run(*arrays: Any) -> list[Any]:
        return [np.asarray(v) if isinstance(v, np.generic) else v for v in plan(*arrays)]

    return run
