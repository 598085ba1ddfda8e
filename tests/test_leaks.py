"""No leaks by design: the collector reclaims every cycle, every table is bounded, nothing is hooked at import.

The module-level tables that grow with what a process builds, and what bounds each (checked below by
`test_no_table_grows_with_the_shapes_constants_and_graphs_built`; the others are keyed by a finite set:
ops, backends, dtypes, devices, threads inside a block, or are constants built at import):

- `_core.tensor._signatures` (build facts -> int): `_core.tensor.SIGNATURES` entries, then it starts again,
  numbering on;
- `_opt.release._big`, `_core.sweep._plain_sigs` (by signature):
  `_core.tensor.SIGNATURES` each;
- `_core.build._decided` (the build decisions): 65,536;
- `_core.build._consts` (shared Python-number constants), `_core.build._numbers` (their 0-d arrays),
  `_opt.release._reads` (what rules read, by params and constants): 4,096 each;
- `_compile.fuse.cpu._compiled` (numba kernels by source): `_compile.fuse.cpu.KERNELS`;
- `_compile.fuse.native._helpers` (numba-compiled operations by source and types): `_compile.fuse.native.HELPERS`;
  `_compile.fuse.native._launchers`: one per array count and array types;
- per object, not per module: a fused program's checked call shapes (64), a compiled function's mirrors
  and moved leaves (by backend, device and leaf), a Backend's functions (by op) and dtypes.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import types
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xpgrad
from in_threads import run_in_threads
from xpgrad import _gc_pause
from xpgrad._core import build as _build
from xpgrad._core import sweep as _grad
from xpgrad._core import tensor as _tensor
from xpgrad._opt import release as _remat


class _Holder:
    """A user's object that a node names and that refers back to it."""

    t: Any = None


def _chain(x: xpgrad.Tensor, steps: int) -> xpgrad.Tensor:
    for _ in range(steps):
        x = x * 0.999 + 0.001
    return x


def test_a_cycle_through_an_old_node_is_reclaimed() -> None:
    # Nodes that outlived 4096 newer ones, or that a gradient of a large graph walked, were taken off the
    # collector's lists: a cycle through one (its name refers back to it) was never reclaimed
    x = xpgrad.Tensor(np.array([1e-3]))
    t = x * 0.5
    y = _chain(t, 3 * 4096)  # many newer nodes, kept alive
    xpgrad.grad(y, [x])  # and a gradient of the large graph holding t
    h = _Holder()
    t.name, h.t = h, t  # type: ignore[assignment]
    dead_t, dead_h = weakref.ref(t), weakref.ref(h)
    del t, h, y
    gc.collect()
    assert dead_h() is None and dead_t() is None


def test_a_cycle_made_while_a_large_gradient_is_built_is_reclaimed_after(monkeypatch: pytest.MonkeyPatch) -> None:
    x = xpgrad.Tensor(np.array([1e-3]))
    y = _chain(x, 3000)  # 6000 nodes: the sweep pauses the collector
    made, sweeping = threading.Event(), threading.Event()
    refs: list[Any] = []
    real = _grad._sweep

    def sweep(*a: Any) -> Any:  # the sweep waits for the cycle another thread makes meanwhile
        sweeping.set()
        assert made.wait(10)
        return real(*a)

    def cycle() -> None:
        assert sweeping.wait(10)
        h = _Holder()
        h.t = h
        refs.append(weakref.ref(h))
        made.set()

    monkeypatch.setattr(_grad, "_sweep", sweep)
    run_in_threads(lambda: xpgrad.grad(y, [x]), cycle)
    assert gc.isenabled()
    gc.collect()
    assert refs[0]() is None


def test_the_collector_is_paused_only_while_a_large_gradient_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = _grad._sweep

    def sweep(*a: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*a)

    monkeypatch.setattr(_grad, "_sweep", sweep)
    x = xpgrad.Tensor(np.array([1e-3]))
    small, large = _chain(x, 100), _chain(x, 3000)
    xpgrad.grad(small, [x])
    assert seen == [True]  # a small graph: left alone
    np.testing.assert_allclose(xpgrad.grad(large, [x])[0].numpy(), [0.999**3000], rtol=1e-12)
    assert seen == [True, False]
    assert gc.isenabled()


def test_a_paused_collector_is_resumed_by_the_last_sweep_and_left_off_if_it_was() -> None:
    with _gc_pause.paused():
        with _gc_pause.paused():  # (another thread's sweep, begun meanwhile)
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        with _gc_pause.paused():
            1 / 0  # noqa: B018
    assert gc.isenabled()
    gc.disable()  # a process that turned the collector off keeps it off
    try:
        with _gc_pause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_sweeps_in_threads_resume_the_collector_once_all_are_done() -> None:
    def work(seed: int) -> None:
        x = xpgrad.Tensor(np.array([1e-3]))
        y = _chain(x * (1.0 + seed), 2500)
        np.testing.assert_allclose(xpgrad.grad(y, [x])[0].numpy(), [(1.0 + seed) * 0.999**2500], rtol=1e-12)

    run_in_threads(*[lambda s=s: work(s) for s in range(4)])
    assert gc.isenabled()


def test_no_table_grows_with_the_shapes_constants_and_graphs_built(monkeypatch: pytest.MonkeyPatch) -> None:
    cap = 512
    monkeypatch.setattr(_tensor, "SIGNATURES", cap)  # (1 << 14: fed as many shapes, the test took 10 s)
    bounded = {
        (_tensor, "_signatures"): cap,
        (_remat, "_big"): cap,
        (_grad, "_plain_sigs"): cap,
        (_build, "_decided"): 1 << 16,
        (_build, "_consts"): 4096,
        (_build, "_numbers"): 4096,
        (_remat, "_reads"): 4096,
    }
    before = _tables()
    n = 3 * cap
    w = xpgrad.Tensor(np.array([1.0, 2.0]))
    total = xpgrad.sum(w)
    for k in range(1, n + 1):
        x = xpgrad.Tensor(np.zeros((k, 0)))  # every array of a shape of its own (and no memory)
        total = total + xpgrad.sum(x * 2.0) + xpgrad.sum(w * (k + 0.25))  # and a constant of its own
    for k in range(5000):
        w * (k + 0.5)  # more constants, dropped at once
    gw, gx = xpgrad.grad(total, [w, x])
    np.testing.assert_allclose(gw.numpy(), np.full(2, 1.0 + sum(k + 0.25 for k in range(1, n + 1))))
    assert gx.shape == (n, 0)
    after = _tables()
    for (mod, name), most in bounded.items():
        assert len(getattr(mod, name)) <= most, (mod.__name__, name, len(getattr(mod, name)))
    grown = {k: (before.get(k, 0), v) for k, v in after.items() if v > before.get(k, 0) + 64}
    unlisted = {k: v for k, v in grown.items() if k not in {f"{m.__name__}.{name}" for m, name in bounded}}
    assert not unlisted, f"module-level tables grown with the work, unbounded: {unlisted}"


def _tables() -> dict[str, int]:
    """The sizes of every module-level dict, list, set and deque of xpgrad's modules."""
    sizes = {}
    for mod in list(sys.modules.values()):
        if not isinstance(mod, types.ModuleType) or not mod.__name__.startswith("xpgrad"):
            continue
        for name, v in list(vars(mod).items()):
            if type(v) in (dict, list, set) or type(v).__name__ == "deque":
                sizes[f"{mod.__name__}.{name}"] = len(v)
    return sizes


def test_a_signature_is_never_given_to_other_facts_when_the_table_starts_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_tensor, "_signatures", {})  # a table of its own, to start again from empty
    x = xpgrad.Tensor(np.ones(3))
    _tensor._signatures.clear()  # as when it is full
    y = xpgrad.Tensor(np.ones(5))
    assert y._sig != x._sig  # (numbered from its size, the 5-element array took the 3-element one's number)
    z = xpgrad.Tensor(np.ones(3))
    assert z._sig not in (x._sig, y._sig)  # the same facts get a new number: memos miss, never err
    np.testing.assert_array_equal((x + z).numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="broadcast"):
        x + y


_IMPORT = """
import atexit, gc, os, sys, threading

calls = []  # which files registered fork and exit hooks: the standard library's threading, random and logging
# register theirs when xpgrad (or the backend it loads) imports them, and those are not xpgrad's


def spy(register):
    return lambda *a, **kw: (calls.append(sys._getframe(1).f_code.co_filename), register(*a, **kw))[1]


os.register_at_fork, atexit.register = spy(os.register_at_fork), spy(atexit.register)


def state():
    return (
        list(gc.callbacks), gc.isenabled(), gc.get_threshold(), gc.get_freeze_count(), sys.gettrace(),
        sys.getprofile(), sys.excepthook, sys.unraisablehook, threading.excepthook,
        sorted(f for f in calls if os.sep + "xpgrad" + os.sep in f),  # (a file of the package, wherever it lies)
    )


before = state()
import numpy
import xpgrad

after_import = state()
x = xpgrad.Tensor(numpy.array([1e-3]))
y = x
for _ in range(20000):
    y = y * 0.999 + 0.001
after_build = state()
xpgrad.grad(y, [x])
after_grad = state()
print(before == after_import, before == after_build, before[:-1] == after_grad[:-1], after_grad[-1])
"""


def test_nothing_is_hooked_at_import_nor_while_building() -> None:
    # A fresh interpreter: this one has imported xpgrad and other libraries already
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])}
    r = subprocess.run([sys.executable, "-c", _IMPORT], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    imported, built, differentiated, hooks = r.stdout.split(maxsplit=3)
    assert imported == "True"  # no gc callback, fork or exit hook, tracer or collector setting at import
    assert built == "True"  # nor while graphs are built
    assert differentiated == "True"  # a large gradient leaves the collector as it found it
    # (the pause's fork hook, at the first; counted as files: a checkout's own path may hold "xpgrad" too)
    assert hooks.count(".py'") <= 1 and "_gc_pause.py" in hooks


def test_a_child_forked_while_a_sweep_pauses_the_collector_resumes_it() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])}
    r = subprocess.run([sys.executable, "-c", _FORK], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


_FORK = """
import gc, os, sys
from xpgrad import _gc_pause

with _gc_pause.paused():  # as if another thread were sweeping when this one forks
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if gc.isenabled() else 3
            with _gc_pause.paused():  # and the child can pause and resume it again
                pass
            code = code or (0 if gc.isenabled() else 4)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
assert gc.isenabled()
sys.exit(os.waitstatus_to_exitcode(status))
"""
