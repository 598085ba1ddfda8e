"""The cyclic garbage collector paused while `grad` builds the gradient of a large graph, resumed after.

Why: Tensors never form reference cycles among themselves (a node refers to older nodes, its op,
params, backend and array; its record of its parents holds weak references), so reference counting
frees them, and the cyclic collector finds nothing in them. Yet its full collections traverse every
live node, and building a gradient graph as large as the forward graph sets several off: the sweep of
a 10^5-step chain (B3) spent a fifth of its time in them (measured: benchmarks/results/log.md).

What it keeps: no object is ever taken off the collector's lists, so the collector reclaims every
cycle (a user's object set as a node's ``name`` that refers back to the node included); those made
during a pause at the first collection after it. The pause is process-wide, as the collector is: while
a sweep runs, no thread's allocations start a collection (``gc.collect()`` still collects). The
collector is resumed when the last sweep in progress, in any thread, ends, and only if it was enabled
when the first began: a process that disabled it keeps it disabled. (A process that disables it
*during* a sweep has it enabled again when the sweep ends.) A child forked during a pause resumes it
(`_forked`: a fork hook registered at the first pause, none at import).
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["NODES", "paused"]

NODES = 1 << 12
"""`grad` pauses the collector for graphs of more nodes than this (smaller ones set off no full collection)."""

_lock = threading.Lock()
_sweeps = 0
"""Sweeps in progress, in every thread."""
_resume = False
"""Whether the collector was enabled when the first of them began (then the last one enables it again)."""
_fork_hook = False


@contextmanager
def paused() -> Iterator[None]:
    """Within: the cyclic collector does not run on its own (see the module's docstring)."""
    _enter()
    try:
        yield
    finally:
        _leave()


def _enter() -> None:
    global _sweeps, _resume, _fork_hook
    with _lock:
        if not _fork_hook and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forked)
            _fork_hook = True
        if _sweeps == 0:
            _resume = gc.isenabled()
            gc.disable()
        _sweeps += 1


def _leave() -> None:
    global _sweeps, _resume
    with _lock:
        _sweeps -= 1
        if _sweeps == 0 and _resume:
            _resume = False
            gc.enable()


def _forked() -> None:
    """In a child forked while another thread was sweeping: that thread is not there to resume the collector."""
    global _lock, _sweeps, _resume
    _lock = threading.Lock()  # (that thread may have held it)
    if _sweeps and _resume:
        gc.enable()
    _sweeps, _resume = 0, False
