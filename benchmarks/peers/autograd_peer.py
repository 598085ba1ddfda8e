"""autograd (HIPS): eager reverse mode over autograd.numpy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..scenarios import Task
from .base import Prepared, Unavailable, arrays, flatten_value_and_grads


class AutogradPeer:
    name = "autograd"
    compiled = False

    def __init__(self, autograd: Any, anp: Any) -> None:
        self.ag = autograd
        self.anp = anp

    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("autograd")
        except PackageNotFoundError:
            return str(getattr(self.ag, "__version__", "?"))

    def prepare(self, task: Task, inputs: Sequence[np.ndarray]) -> Prepared:
        expr, anp, ag = task.expr(), self.anp, self.ag
        if task.order == 1:
            vg = ag.value_and_grad(lambda xs: expr(anp, *xs))
            args = tuple(inputs)
            return Prepared(call=lambda: vg(args), to_numpy=flatten_value_and_grads)
        g1 = ag.grad(lambda x: expr(anp, x))
        g2 = ag.grad(lambda x: anp.sum(g1(x)))
        (x,) = inputs
        return Prepared(call=lambda: [g2(x)], to_numpy=arrays)


def load() -> AutogradPeer:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError as e:
        raise Unavailable(f"not importable: {e}") from e
    return AutogradPeer(autograd, anp)
