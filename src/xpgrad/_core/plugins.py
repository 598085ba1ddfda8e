"""The core's plug-in interface: what the node, the build path and the sweep ask of what lies above them.

The core (`tensor`, `build`, `forward`, `sweep`) never imports the optimisations nor the public layers;
it calls the slots defined here, and ``xpgrad/__init__.py`` connects them once (`connect`):

- `release`: releasing large values no derivative rule reads and recomputing them on demand, and
  evaluating large gradients in one go, freeing intermediates (`xpgrad._opt.release`,
  `xpgrad._opt.large_gradients`). Until it is connected, `Release`'s defaults keep every value, as xpgrad does
  with ``options(release=False)``.
- `merge`: merging equal nodes as they are built (`xpgrad._opt.merge`). Default: nothing merges.
- `above`: the functions a Tensor's own methods call that are built on the node (the build path, the
  reverse sweep, re-evaluation, the namespace, the text and picture forms): they import the node, so the
  node cannot import them.

A node's value state (`State`) is the release optimisation's to write; the core reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["Above", "Merge", "Release", "State", "above", "connect", "merge", "release"]


AT_ONCE: AbstractContextManager[Any] = nullcontext(None)
"""`Release.gradient` without deferring: every node is evaluated as it is built (reusable: it holds no state)."""


class State(IntEnum):
    """Where a node's value is (its ``_remat`` slot). Ordered: ``>= RELEASED`` means "recomputed on demand"."""

    HELD = 0
    """It holds its value, or has none because a placeholder below it is unfed."""
    PINNED = 1
    """A parent's derivative rule reads the value: it is kept for as long as the node lives."""
    RELEASED = 2
    """The value was dropped and is recomputed on demand (`xpgrad._opt.release`)."""
    FREED = 3
    """An intermediate of a large gradient, freed after its last use (`xpgrad._opt.large_gradients`): recomputed where
    needed, like a released value."""


class Release:
    """Releasing large values and evaluating large gradients in one go: the slots the core calls, with the
    behaviour without the optimisation (every value kept). `xpgrad._opt.release` provides the real one."""

    def watch(self, children: tuple[Tensor, ...]) -> bool:
        """Whether building on ``children`` may release one (memoized with the build path's decisions)."""
        return False

    def fill(self, node: Tensor) -> Tensor:
        """Evaluate ``node`` whose children have values or are released (else leave it unevaluated)."""
        if all(c._value is not None for c in node.children):
            above.settle(node)
        return node

    def after(self, node: Tensor) -> None:
        """``node`` was just evaluated eagerly: pin the operands its rules read, release the others."""

    def run(self, node: Tensor, fn: Callable[..., Any]) -> Tensor:
        """Evaluate an eager ``node`` with large operands by one direct call of ``fn``, then `after`."""
        node._value = fn(*[c._value for c in node.children])
        return node

    def standin(self, c: Tensor) -> Any:
        """An array with released ``c``'s shape, dtype and device that allocates nothing."""
        raise AssertionError("no value is released without the release optimisation")

    def keep(self, t: Tensor) -> Any:
        """The value of a released ``t`` that a user reads, recomputed and kept from then on."""
        return t._value

    def recompute(self, t: Tensor) -> Any:
        """The value of a released ``t``, recomputed without being stored."""
        return t._value

    def reuse(self, node: Tensor) -> None:
        """``node``'s value was recomputed and is kept: it is no longer released or freed."""

    def released(self, order: list[Tensor]) -> dict[int, int] | None:
        """For re-evaluation: how many nodes of ``order`` use each released node (None: none is released)."""
        return None

    def reevaluated(self, node: Tensor, known: bool) -> None:
        """Re-evaluation set ``node``'s value (``known``) or found an input unfed (its value is then None)."""

    def used(self, c: Tensor, uses: dict[int, int]) -> None:
        """Re-evaluation used released ``c`` once more: dropped again after its last use."""

    def gradient(self, targets: list[Tensor]) -> AbstractContextManager[Any]:
        """Around a reverse sweep: a context manager giving where its new nodes go to be evaluated in one go (None:
        at once)."""
        return AT_ONCE

    def settle_all(self, made: Any, keep: list[Tensor]) -> None:
        """Evaluate the nodes deferred by `gradient` that ``keep`` needs, freeing intermediates."""


class Merge:
    """Merging equal nodes as they are built (hash-consing): the slots the build path calls, with the
    behaviour without the optimisation (nothing merges). `xpgrad._opt.merge` provides the real one."""

    active = False
    """Whether this merges at all (the build path reads it before the node's record of its parents, ``_users``,
    whose one-parent case it handles inline: None, or the weak reference of that parent)."""

    def find(self, op: Any, children: tuple[Tensor, ...] | list[Tensor], params: dict[str, Any]) -> Tensor | None:
        """The live node ``op(*children, **params)``, or None."""
        return None

    def among(
        self, u: Any, op: Any, children: tuple[Tensor, ...] | list[Tensor], params: dict[str, Any]
    ) -> Tensor | None:
        """The live node ``op(*children, **params)`` among the parents ``u`` of its index operand, or None."""
        return None

    def same(self, node: Tensor, op: Any, children: tuple[Tensor, ...] | list[Tensor], params: dict[str, Any]) -> bool:
        """Whether ``node`` is ``op(*children, **params)``."""
        return False

    def remember(self, node: Tensor) -> None:
        """Record the new ``node`` so that building it again finds it."""

    def add_user(self, o: Tensor, u: Any, node: Tensor, w: Any) -> None:
        """Record ``node`` (weak reference ``w``) among the parents ``u`` of ``o``, which has some."""


class Above:
    """The functions a Tensor's methods and the core call that are built on the node. Each slot raises until
    `connect` fills it (``import xpgrad`` does)."""

    apply: Callable[..., Tensor]
    """`xpgrad._core.build.apply`: build (and evaluate) ``op(*args, **params)``."""
    settle: Callable[..., None]
    """`xpgrad._core.build.settle`: evaluate a node whose children have values."""
    forward: Callable[..., None]
    """`xpgrad._core.forward.forward`: re-evaluate the graph below some roots."""
    grad: Callable[..., list[Tensor]]
    """`xpgrad._core.sweep.grad`: the reverse sweep."""
    namespace: Callable[..., Any]
    """`xpgrad._api.namespace.namespace`: the array-API namespace of a backend."""
    expr: Callable[..., str]
    """`xpgrad._views.infix.expr`: a graph as infix text."""
    svg: Callable[..., str | None]
    """`xpgrad._views.render.repr_svg`: a graph as an SVG picture (None without Graphviz)."""
    reduce: Callable[..., tuple[Any, ...]]
    """`xpgrad._core.pickling.reduce_tensor`: a Tensor's recipe for pickling."""
    array_function: Callable[..., Any]
    """`xpgrad._api.numpy_protocol.array_function`: NumPy's ``__array_function__`` protocol on Tensors."""


release: Release = Release()
merge: Merge = Merge()
above: Above = Above()


def connect(*, release: Release | None = None, merge: Merge | None = None, **slots: Callable[..., Any]) -> None:
    """Plug ``release`` and ``merge`` into the core and fill the `above` slots named in ``slots``."""
    g = globals()
    if release is not None:
        g["release"] = release
    if merge is not None:
        g["merge"] = merge
    for name, fn in slots.items():
        if name not in Above.__annotations__:
            raise TypeError(f"connect: no slot named {name!r}; the slots are {sorted(Above.__annotations__)}")
        setattr(above, name, fn)
