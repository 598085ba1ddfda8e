"""The baseline: gradients written by hand with NumPy.

Chains keep what their reverse sweep needs on the way forward and sweep back in a loop, as a hand-written
reverse pass would; B5's derivatives are closed forms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import exprs
from ..scenarios import Task
from .base import Prepared, arrays

Outs = list[Any]


def _compute(xp: Any) -> Callable[..., Outs]:
    def run(x: Any, y: Any) -> Outs:
        s = xp.sin(x)
        ed = xp.exp(x * y) / (1 + y * y)
        value = xp.sum(s * y + ed)
        gx = xp.cos(x) * y + y * ed
        gy = s + x * ed - 2 * y * ed / (1 + y * y)
        return [value, gx, gy]

    return run


def _memory(xp: Any) -> Callable[..., Outs]:
    def run(x: Any, y: Any) -> Outs:
        t = x * y + x
        value = xp.sum(t * y)
        gx = (y + 1) * y
        gy = t + x * y
        return [value, gx, gy]

    return run


def _chain(xp: Any, n_ops: int) -> Callable[..., Outs]:
    def run(x: Any) -> Outs:
        saved = []
        for i in range(n_ops):
            kind = exprs.chain_kind(i)
            if kind == "mul":
                x = x * exprs.CHAIN_MUL
            elif kind == "add":
                x = x + exprs.CHAIN_ADD
            else:
                saved.append(xp.cos(x))
                x = xp.sin(x)
        value = xp.sum(x)
        g = xp.ones_like(x)
        for i in reversed(range(n_ops)):
            kind = exprs.chain_kind(i)
            if kind == "mul":
                g = g * exprs.CHAIN_MUL
            elif kind == "sin":
                g = g * saved.pop()
        return [value, g]

    return run


def _deep(xp: Any, steps: int) -> Callable[..., Outs]:
    def run(x: Any) -> Outs:
        for _ in range(steps):
            x = x * exprs.DEEP_MUL + exprs.DEEP_ADD
        value = xp.sum(x)
        g = xp.ones_like(x)
        for _ in range(steps):
            g = g * exprs.DEEP_MUL
        return [value, g]

    return run


def _shared(xp: Any, steps: int) -> Callable[..., Outs]:
    def run(x: Any) -> Outs:
        ys = []
        y = x
        for _ in range(steps):
            ys.append(y)
            y = y * y + y
        value = xp.sum(y)
        g = xp.ones_like(x)
        for y_i in reversed(ys):
            g = g * (2 * y_i + 1)
        return [value, g]

    return run


def _sinx(xp: Any, order: int) -> Callable[..., Outs]:
    if order == 1:
        return lambda x: [xp.sum(xp.sin(x) * x), xp.cos(x) * x + xp.sin(x)]
    return lambda x: [2 * xp.cos(x) - x * xp.sin(x)]


def _cube(xp: Any, order: int) -> Callable[..., Outs]:
    if order == 1:
        return lambda x: [xp.sum(x**3), 3 * x * x]
    return lambda x: [6 * x]


def hand_written(task: Task, xp: Any = np) -> Callable[..., Outs]:
    """The hand-written gradient of ``task`` with the array module ``xp`` (NumPy; CuPy for the GPU run)."""
    name = task.expr_name
    if name == "compute":
        return _compute(xp)
    if name == "memory":
        return _memory(xp)
    if name == "chain":
        return _chain(xp, task.steps)
    if name == "deep":
        return _deep(xp, task.steps)
    if name == "shared":
        return _shared(xp, task.steps)
    if name == "sinx":
        return _sinx(xp, task.order)
    if name == "cube":
        return _cube(xp, task.order)
    raise ValueError(f"no hand-written gradient for {name!r}")


class NumpyPeer:
    name = "numpy"
    compiled = False

    def version(self) -> str:
        return np.__version__

    def prepare(self, task: Task, inputs: Sequence[np.ndarray]) -> Prepared:
        fn = hand_written(task)
        return Prepared(call=lambda: fn(*inputs), to_numpy=arrays)


def load() -> NumpyPeer:
    return NumpyPeer()
