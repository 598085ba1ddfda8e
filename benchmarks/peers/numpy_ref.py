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


def _compute(x: np.ndarray, y: np.ndarray) -> Outs:
    s = np.sin(x)
    ed = np.exp(x * y) / (1 + y * y)
    value = np.sum(s * y + ed)
    gx = np.cos(x) * y + y * ed
    gy = s + x * ed - 2 * y * ed / (1 + y * y)
    return [value, gx, gy]


def _memory(x: np.ndarray, y: np.ndarray) -> Outs:
    t = x * y + x
    value = np.sum(t * y)
    gx = (y + 1) * y
    gy = t + x * y
    return [value, gx, gy]


def _chain(n_ops: int) -> Callable[[np.ndarray], Outs]:
    def run(x: np.ndarray) -> Outs:
        saved = []
        for i in range(n_ops):
            kind = exprs.chain_kind(i)
            if kind == "mul":
                x = x * exprs.CHAIN_MUL
            elif kind == "add":
                x = x + exprs.CHAIN_ADD
            else:
                saved.append(np.cos(x))
                x = np.sin(x)
        value = np.sum(x)
        g = np.ones_like(x)
        for i in reversed(range(n_ops)):
            kind = exprs.chain_kind(i)
            if kind == "mul":
                g = g * exprs.CHAIN_MUL
            elif kind == "sin":
                g = g * saved.pop()
        return [value, g]

    return run


def _deep(steps: int) -> Callable[[np.ndarray], Outs]:
    def run(x: np.ndarray) -> Outs:
        for _ in range(steps):
            x = x * exprs.DEEP_MUL + exprs.DEEP_ADD
        value = np.sum(x)
        g = np.ones_like(x)
        for _ in range(steps):
            g = g * exprs.DEEP_MUL
        return [value, g]

    return run


def _shared(steps: int) -> Callable[[np.ndarray], Outs]:
    def run(x: np.ndarray) -> Outs:
        ys = []
        y = x
        for _ in range(steps):
            ys.append(y)
            y = y * y + y
        value = np.sum(y)
        g = np.ones_like(x)
        for y_i in reversed(ys):
            g = g * (2 * y_i + 1)
        return [value, g]

    return run


def _sinx(order: int) -> Callable[[np.ndarray], Outs]:
    if order == 1:
        return lambda x: [np.sum(np.sin(x) * x), np.cos(x) * x + np.sin(x)]
    return lambda x: [2 * np.cos(x) - x * np.sin(x)]


def _cube(order: int) -> Callable[[np.ndarray], Outs]:
    if order == 1:
        return lambda x: [np.sum(x**3), 3 * x * x]
    return lambda x: [6 * x]


def hand_written(task: Task) -> Callable[..., Outs]:
    name = task.expr_name
    if name == "compute":
        return _compute
    if name == "memory":
        return _memory
    if name == "chain":
        return _chain(task.steps)
    if name == "deep":
        return _deep(task.steps)
    if name == "shared":
        return _shared(task.steps)
    if name == "sinx":
        return _sinx(task.order)
    if name == "cube":
        return _cube(task.order)
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
