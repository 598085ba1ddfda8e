"""`options`: which optimisations apply to the graphs built now, for the current thread or asyncio task.

Two optimisations change nothing in any result, but do change what a graph holds:

- ``merge``: equal subexpressions are one node (``x * y`` built twice is the same Tensor; see
  "merging" in docs/simplification.md). Off: every op builds a node of its own, so that
  ``f.grad(u)`` treats each occurrence apart, or to measure what merging saves.
- ``release``: a large intermediate (65,536 elements and more) that no derivative rule reads gives
  up its array once its parents are computed, and is recomputed, bit for bit, if read again; its
  array, and a large gradient's, may be reused for a result. Off: every value is kept.

The values live in a `contextvars.ContextVar`, so each thread (which starts with the defaults) and
each asyncio task (which starts with its creator's values) has its own: one thread turning merging
off never changes what another builds. Building reads them once per op (`current`: one ContextVar
read, ~15 ns, measured against the module flag it replaced: within the noise of a 2 us op).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

__all__ = ["Options", "current", "options"]


@dataclass(frozen=True, slots=True)
class Options:
    """The options in force (`options` returns one).

    Arguments:
        merge: equal subexpressions are one node (default True).
        release: large intermediates no rule reads are released and recomputed on demand (default True).

    Returned by ``xpgrad.options(...)`` that sets some, it is also a context manager: leaving its
    ``with`` block restores the options in force before the call (changes made inside included).
    """

    merge: bool = True
    release: bool = True
    _restore: Token[Options] | None = field(default=None, repr=False, compare=False)

    def __enter__(self) -> Options:
        if self._restore is None:
            raise TypeError(
                "xpgrad.options: this Options object restores nothing; write "
                "`with xpgrad.options(merge=..., release=...):` to set options for a block"
            )
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        assert self._restore is not None  # (`__enter__` refused the others)
        try:
            _current.reset(self._restore)
        except (RuntimeError, ValueError) as e:  # used twice, or left in another thread or task
            raise RuntimeError(
                "xpgrad.options: a `with xpgrad.options(...)` block was left twice, or in another thread or "
                "asyncio task than the one that entered it; enter each block once, where it is left"
            ) from e


DEFAULTS = Options()
_current: ContextVar[Options] = ContextVar("xpgrad.options", default=DEFAULTS)
current = _current.get
"""The options in force here (a bound method: the build path calls it once per op)."""


def options(*, merge: bool | None = None, release: bool | None = None) -> Options:
    """Set options for the current thread or asyncio task, or read them.

    Arguments:
        merge: build equal subexpressions as one node (True, the default) or each apart (False); None (left
            out) keeps the present value.
        release: release large intermediates no derivative rule reads and recompute them on demand
            (True, the default), or keep every value (False); None keeps the present value.

    Returns:
        The options now in force. Called with options to set, it is also a context manager that
        restores the previous ones when its block is left; without, it only reads them.

    Example:
        >>> import xpgrad
        >>> with xpgrad.options(merge=False):
        ...     print(xpgrad.options())
        Options(merge=False, release=True)
        >>> xpgrad.options().merge
        True
    """
    now = _current.get()
    if merge is None and release is None:
        return now
    new = Options(
        merge=now.merge if merge is None else _checked("merge", merge),
        release=now.release if release is None else _checked("release", release),
    )
    return replace(new, _restore=_current.set(new))


def _checked(name: str, v: Any) -> bool:
    if type(v) is not bool:
        t = type(v)
        kind = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
        raise TypeError(f"xpgrad.options: {name} must be True or False (None keeps it); got {kind} {v!r}")
    return v
