"""What every library adapter provides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..scenarios import Task


class Unavailable(Exception):
    """The library, or the feature a task needs, is missing: reported as 'unavailable: <reason>'."""


@dataclass
class Prepared:
    """A ready-to-time computation: ``call()`` computes the task's outputs (synchronously)."""

    call: Callable[[], Any]
    to_numpy: Callable[[Any], list[np.ndarray]]
    compile_s: float | None = None  # time to trace/compile, for compiled modes


class Peer(Protocol):
    name: str
    compiled: bool

    def prepare(self, task: Task, inputs: Sequence[np.ndarray]) -> Prepared: ...

    def version(self) -> str: ...


def arrays(outs: Sequence[Any]) -> list[np.ndarray]:
    return [np.asarray(o) for o in outs]


def flatten_value_and_grads(out: Any) -> list[np.ndarray]:
    """(value, (g1, g2, ...)) -> [value, g1, g2, ...]."""
    value, grads = out
    return arrays([value, *grads])
