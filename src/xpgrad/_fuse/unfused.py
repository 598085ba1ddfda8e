"""The fallback: feed the inputs and re-evaluate the graph op by op (what a fused kernel must equal)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._graph import forward
from .._tensor import Tensor

__all__ = ["compile_unfused"]


def compile_unfused(inputs: list[Tensor], outputs: list[Tensor]) -> Callable[..., list[Any]]:
    def run(*arrays: Any) -> list[Any]:
        if len(arrays) != len(inputs):
            raise TypeError(f"fused function takes {len(inputs)} arrays but {len(arrays)} were given")
        for t, a in zip(inputs, arrays, strict=True):
            t.value = a
        forward(outputs)
        return [_as_array(o) for o in outputs]

    return run


def _as_array(o: Tensor) -> Any:
    """``o``'s value, a 0-d one as a 0-d array as the fused engines return it (NumPy's sums are NumPy scalars)."""
    v = o._require()
    if getattr(v, "ndim", 0) == 0 and o._bk is not None:
        v = o._bk.xp.asarray(v)
    return v
