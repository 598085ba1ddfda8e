"""Releasing large values and evaluating large gradients in one go, plugged into the core (`_core.plugins.Release`).

The mechanisms live in `release` (eager values: release, recompute, lend buffers) and `large_gradients` (a large
gradient graph built first, then evaluated in one pass that frees its intermediates); this is the one object
``xpgrad/__init__.py`` connects to the core.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from .._core.plugins import AT_ONCE, Release
from .._core.tensor import Tensor
from .._options import current
from . import large_gradients, release

__all__ = ["RELEASE", "Releasing"]


class Releasing(Release):
    """`Release`, done: see `release` and `large_gradients`."""

    # (each looks its function up when called: one place to replace it, e.g. in a test)
    def watch(self, children: tuple[Tensor, ...]) -> bool:
        return release.watch(children)

    def fill(self, node: Tensor) -> Tensor:
        return release.fill(node)

    def after(self, node: Tensor) -> None:
        return release.after(node)

    def run(self, node: Tensor, fn: Any) -> Tensor:
        return release.run(node, fn)

    def standin(self, c: Tensor) -> Any:
        return release.standin(c)

    def keep(self, t: Tensor) -> Any:
        return release.keep(t)

    def recompute(self, t: Tensor) -> Any:
        return release.recompute(t)

    def reuse(self, node: Tensor) -> None:
        return release.reuse(node)

    def released(self, order: list[Tensor]) -> Any:
        return release.released(order)

    def reevaluated(self, node: Tensor, known: bool) -> None:
        return release.reevaluated(node, known)

    def used(self, c: Tensor, uses: Any) -> None:
        return release.used(c, uses)

    def settle_all(self, made: Any, keep: list[Tensor]) -> None:
        large_gradients.settle_all(made, keep)

    def gradient(self, targets: list[Tensor]) -> AbstractContextManager[Any]:
        """Around a reverse sweep with respect to large arrays: its nodes are built first, then evaluated in
        one go by `settle_all` (not with releasing off: every value is kept then)."""
        if current().release and any(large_gradients.is_large(w) for w in targets):
            return large_gradients.deferred()
        return AT_ONCE


RELEASE = Releasing()
