"""PyTorch on CPU, eager autograd (torch.autograd.grad; create_graph for the second derivative)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..scenarios import Task
from .base import Prepared, Unavailable


def _to_numpy(outs: Sequence[Any]) -> list[np.ndarray]:
    return [np.asarray(o.detach().numpy()) for o in outs]


class TorchPeer:
    name = "torch"
    compiled = False

    def __init__(self, torch: Any) -> None:
        self.torch = torch

    def version(self) -> str:
        return str(self.torch.__version__)

    def prepare(self, task: Task, inputs: Sequence[np.ndarray]) -> Prepared:
        torch, expr, order = self.torch, task.expr(), task.order

        def call() -> list[Any]:
            xs = [torch.from_numpy(a).requires_grad_() for a in inputs]
            out = expr(torch, *xs)
            if order == 1:
                return [out.detach(), *torch.autograd.grad(out, xs)]
            (g,) = torch.autograd.grad(out, xs, create_graph=True)
            return list(torch.autograd.grad(g.sum(), xs))

        return Prepared(call=call, to_numpy=_to_numpy)


def load() -> TorchPeer:
    try:
        import torch
    except ImportError as e:
        raise Unavailable(f"not importable: {e}") from e
    return TorchPeer(torch)
