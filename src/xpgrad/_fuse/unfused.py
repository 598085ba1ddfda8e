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
        return [o._require() for o in outputs]

    return run
