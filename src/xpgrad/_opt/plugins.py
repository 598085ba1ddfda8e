"""Releasing large values and evaluating large gradients in one go, plugged into the core (`_plugins.Release`).

The mechanisms live in `_remat` (eager values: release, recompute, lend buffers) and `_lazy` (a large
gradient graph built first, then evaluated in one pass that frees its intermediates); this is the one object
``xpgrad/__init__.py`` connects to the core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._core.plugins import Release
from .._core.tensor import Tensor
from .._options import current
from . import large_gradients as _lazy
from . import release as _remat

__all__ = ["RELEASE", "Releasing"]


class Releasing(Release):
    """`Release`, done: see `_remat` and `_lazy`."""

    # (each looks its function up when called: one place to replace it, e.g. in a test)
    def watch(self, children: tuple[Tensor, ...]) -> bool:
        return _remat.watch(children)

    def fill(self, node: Tensor) -> Tensor:
        return _remat.fill(node)

    def after(self, node: Tensor) -> None:
        return _remat.after(node)

    def run(self, node: Tensor, fn: Any) -> Tensor:
        return _remat.run(node, fn)

    def standin(self, c: Tensor) -> Any:
        return _remat.standin(c)

    def keep(self, t: Tensor) -> Any:
        return _remat.keep(t)

    def recompute(self, t: Tensor) -> Any:
        return _remat.recompute(t)

    def reuse(self, node: Tensor) -> None:
        return _remat.reuse(node)

    def released(self, order: list[Tensor]) -> Any:
        return _remat.released(order)

    def reevaluated(self, node: Tensor, known: bool) -> None:
        return _remat.reevaluated(node, known)

    def used(self, c: Tensor, uses: Any) -> None:
        return _remat.used(c, uses)

    def settle_all(self, made: Any, keep: list[Tensor]) -> None:
        _lazy.settle_all(made, keep)

    @contextmanager
    def gradient(self, targets: list[Tensor]) -> Iterator[Any]:
        """Around a reverse sweep with respect to large arrays: its nodes are built first, then evaluated in
        one go by `settle_all` (not with releasing off: every value is kept then)."""
        if current().release and any(_lazy.is_large(w) for w in targets):
            with _lazy.deferred() as made:
                yield made
        else:
            yield None


RELEASE = Releasing()
