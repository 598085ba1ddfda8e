"""Graphs built in several threads at once: one thread's `grad` never changes the nodes another builds."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

import xpgrad
from in_threads import run_in_threads
from xpgrad._opt.release import LARGE, RELEASED


def _large() -> np.ndarray:
    return np.linspace(0.1, 1.0, LARGE)  # large: its intermediates are released and lend buffers (`_opt/release.py`)


def test_gradients_in_threads_leave_every_other_node_at_order_zero() -> None:
    def differentiate() -> None:
        for _ in range(200):
            x = xpgrad.Tensor(np.array([0.3, 0.7]))
            (gx,) = xpgrad.grad(xpgrad.sum(xpgrad.sin(x) * x), [x])
            assert gx._level == 1

    def build() -> None:
        for i in range(3000):
            y = xpgrad.Tensor(np.array([1.0])) * float(i + 2)
            assert y._level == 0  # a forward node, whatever another thread differentiates meanwhile

    run_in_threads(differentiate, differentiate, build)
    assert (xpgrad.Tensor(np.array([1.0])) * 3.0)._level == 0  # and nothing is left behind


def test_a_large_gradient_in_one_thread_defers_none_of_another_threads_nodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xpgrad._core import sweep

    n = LARGE  # large: this gradient graph is built first and evaluated afterwards (`_opt/large_gradients.py`)
    deferring, built = threading.Event(), threading.Event()
    real_sweep = sweep._sweep

    def sweep_then_wait_for_the_other_thread(*args: Any) -> Any:
        results = real_sweep(*args)
        deferring.set()  # this thread's gradient graph is built, not yet evaluated: its deferral is on
        built.wait(timeout=30)
        return results

    monkeypatch.setattr(sweep, "_sweep", sweep_then_wait_for_the_other_thread)

    def differentiate() -> None:
        x = xpgrad.Tensor(np.linspace(0.0, 1.0, n))
        (gx,) = xpgrad.grad(xpgrad.sum(x * x), [x])
        np.testing.assert_allclose(gx.numpy(), 2 * np.linspace(0.0, 1.0, n))

    def build() -> None:
        assert deferring.wait(timeout=30)
        try:
            for i in range(100):
                y = xpgrad.Tensor(np.array([1.0])) * float(i + 2)
                assert y._value is not None and float(y.numpy()[0]) == float(i + 2)  # evaluated at once
        finally:
            built.set()

    run_in_threads(differentiate, build)


def test_a_thread_never_merges_with_a_large_gradient_another_thread_is_settling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # thread A differentiates on large arrays: its gradient graph is built, then evaluated, and its
    # intermediates freed (`large_gradients.settle_all`); thread B builds an equal node meanwhile: merged with A's,
    # B would hold a node whose value A frees
    from xpgrad._opt import large_gradients

    n = LARGE
    x, y = xpgrad.Tensor(np.linspace(0.1, 1.0, n)), xpgrad.Tensor(np.linspace(1.0, 2.0, n))
    out = xpgrad.sum(xpgrad.exp(x) * y * y)
    settling, built = threading.Event(), threading.Event()
    settle_all = large_gradients.settle_all

    def settle_after_the_other_thread(made: Any, keep: Any) -> None:
        settling.set()
        assert built.wait(10)
        settle_all(made, keep)

    monkeypatch.setattr(large_gradients, "settle_all", settle_after_the_other_thread)
    got: dict[str, Any] = {}

    def a() -> None:
        got["g"] = xpgrad.grad(out, [x])[0]

    def b() -> None:
        assert settling.wait(10)
        try:
            got["yy"] = y * y  # A's gradient holds an equal node (exp(x) * y * y's rule)
        finally:
            built.set()

    run_in_threads(a, b)
    yv, xv = np.linspace(1.0, 2.0, n), np.linspace(0.1, 1.0, n)
    np.testing.assert_allclose(got["g"].value, np.exp(xv) * yv * yv, rtol=1e-14)
    assert got["yy"].value is not None
    np.testing.assert_array_equal(got["yy"].value, yv * yv)
    np.testing.assert_array_equal((got["yy"] + 1.0).value, yv * yv + 1.0)


def test_threads_meeting_a_librarys_first_arrays_at_once_get_one_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # two Backends for 'numpy' refused each other's operands ("different backends ('numpy' and 'numpy')")
    import time

    from xpgrad import backends
    from xpgrad.backends import numpy as numpy_backend

    monkeypatch.setattr(backends, "_loaded", {})  # as in a new process: no Backend made yet
    monkeypatch.setattr(backends, "_by_type", {})
    load = numpy_backend.load

    def slow_load() -> Any:
        time.sleep(0.05)  # the window in which another thread meets its first array
        return load()

    monkeypatch.setattr(numpy_backend, "load", slow_load)
    start = threading.Barrier(4)
    got: list[Any] = []

    def first_array() -> None:
        start.wait()
        got.append(backends.backend_of(np.ones(2)))

    run_in_threads(*[first_array] * 4)
    assert len(got) == 4 and all(bk is got[0] for bk in got)


def test_a_value_released_and_kept_again_by_another_thread_never_reads_as_none() -> None:
    """A large forward value that gradients read is released after each sweep and kept again by the next
    ``y * y`` (its rule reads y): a thread reading ``y.value`` meanwhile always gets the array. (Found:
    reading ``None`` between the two steps of a refill, and a recompute in the reader clearing the value the
    other thread had just kept.)"""
    x = xpgrad.Tensor(_large())
    y = xpgrad.sin(x) * x
    want = np.sin(x.value) * x.value
    stop, seen = threading.Event(), {"reads": 0, "none": 0, "wrong": 0}

    def read() -> None:
        while not stop.is_set():
            v = y.value
            seen["reads"] += 1
            if v is None:
                seen["none"] += 1
            elif not np.array_equal(v, want):
                seen["wrong"] += 1

    def differentiate() -> None:
        try:
            for _ in range(100):
                xpgrad.grad(xpgrad.sum(y * y), [x])
        finally:
            stop.set()

    run_in_threads(read, differentiate)
    assert seen["reads"] > 1000 and seen["none"] == 0 and seen["wrong"] == 0, seen
    np.testing.assert_array_equal(y.value, want)


def _aborting(barrier: threading.Barrier) -> Any:
    """A job that breaks ``barrier`` when it raises, so the thread waiting there raises too (no hang)."""

    def wrap(job: Any) -> Any:
        def run(*args: Any) -> None:
            try:
                job(*args)
            except BaseException:
                barrier.abort()
                raise

        return run

    return wrap


def test_two_threads_building_on_one_large_node_get_their_own_results() -> None:
    """``y + 1`` and ``y + 2`` built at once on a fresh large y, which neither op's rule reads: at most one
    may write into y's array, and only when nobody else holds it (found: both did, or one read it released)."""
    a = _large()
    want = {1.0: a * 2.0 + 1.0, 2.0: a * 2.0 + 2.0}
    both = threading.Barrier(2, timeout=30)  # (a thread that raises breaks it: the other raises too)
    shared: dict[str, Any] = {}
    bad: list[str] = []

    @_aborting(both)
    def build(c: float) -> None:
        for _ in range(300):
            both.wait()
            if c == 1.0:
                shared["y"] = xpgrad.Tensor(a) * 2.0
            both.wait()
            y = shared["y"]
            v = (y + c).value
            if not np.array_equal(v, want[c]):
                bad.append(f"y + {c}")
            both.wait()
            if c == 1.0 and not np.array_equal(y.value, a * 2.0):
                bad.append("y")

    run_in_threads(lambda: build(1.0), lambda: build(2.0))
    assert not bad, bad[:5]


def test_an_array_a_thread_holds_is_never_written_into_by_another() -> None:
    """A reader keeps ``y.value`` while another thread builds ``y + 1``, which may write into y's buffer
    when nothing else holds it (found: checked before the reader took it, written after)."""
    a = _large()
    both = threading.Barrier(2, timeout=30)
    shared: dict[str, Any] = {}
    bad: list[str] = []

    @_aborting(both)
    def read() -> None:
        for _ in range(400):
            both.wait()
            v = shared["y"].value
            both.wait()
            if not np.array_equal(v, a * 2.0):
                bad.append("overwritten")

    @_aborting(both)
    def build() -> None:
        for _ in range(400):
            shared["y"] = xpgrad.Tensor(a) * 2.0
            both.wait()
            shared["y"] + 1.0
            both.wait()

    run_in_threads(read, build)
    assert not bad, (len(bad), bad[:3])


def test_a_value_pinned_while_a_gradient_releases_it_keeps_it() -> None:
    """One thread builds ``t * t`` (its rule reads t: kept) while another differentiates a graph reading t,
    which releases t after its last use: t always ends with a value or released, never pinned without one."""
    a = _large()
    stop = threading.Event()
    cur: dict[str, Any] = {}
    broken = [0]

    def new() -> None:
        x = xpgrad.Tensor(a)
        t = x + 1.0
        cur.update(x=x, t=t, out=xpgrad.sum((x * x) * t))

    def square() -> None:
        while not stop.is_set():
            cur["t"] * cur["t"]

    def differentiate() -> None:
        try:
            for _ in range(400):
                t = cur["t"]
                xpgrad.grad(cur["out"], [cur["x"]])
                if t._value is None and t._remat != RELEASED:
                    broken[0] += 1
                    new()
                np.testing.assert_array_equal(t.value, a + 1.0)
        finally:
            stop.set()

    new()
    run_in_threads(square, differentiate)
    assert broken[0] == 0, broken[0]


def test_a_released_value_recomputed_while_another_thread_releases_its_operand() -> None:
    """``u.value`` recomputes the released ``u = t * 2`` while another thread's gradients keep t and release
    it again: the recompute must not depend on t's state staying put (found: a KeyError)."""
    a = _large()
    x = xpgrad.Tensor(a)
    t = x + 1.0
    u = t * 2.0
    u + 1.0  # add's rule reads neither operand: u is released
    assert u._remat == RELEASED
    stop = threading.Event()
    bad: list[str] = []
    reads = [0]

    def differentiate() -> None:
        try:  # (until the reader has had its turns too: a busy machine may give it few; the bound is time only)
            i, deadline = 0, time.monotonic() + 60
            while (i < 150 or reads[0] <= 10) and time.monotonic() < deadline:
                xpgrad.grad(xpgrad.sum(t * t), [x])  # t * t keeps t; the gradient releases it after its last use
                i += 1
        finally:
            stop.set()

    def read() -> None:
        while not stop.is_set():
            reads[0] += 1
            # a transient read recomputes u at every turn (``u.value`` would keep it after the first)
            if not np.array_equal(u._peek(), (a + 1.0) * 2.0):
                bad.append("u")

    run_in_threads(differentiate, read)
    assert reads[0] > 10 and not bad, (reads[0], bad[:3])  # (the reader ran alongside, many times)


def test_a_deferred_node_belongs_to_its_thread_before_another_can_find_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a thread builds a large gradient (deferred, see `_opt/large_gradients.py`), each new node is a
    member of its deferred graph by the time it is recorded for merging, so another thread that finds it leaves
    it alone (found: merged in that window, another thread's gradient came out None or overwritten)."""
    from xpgrad._core import build as _build

    early: list[str] = []
    checked = {"first meetings": 0, "memo hits": 0}  # deferred nodes seen, by how their build was decided
    now = ["first meetings"]

    def check(node: Any) -> None:
        into = _build.deferral()
        if into is not None:
            checked[now[0]] += 1
            if node not in into.members:
                early.append(node.op.name)

    weak = _build._weakref

    def recorded(node: Any) -> Any:  # the record of a node among its operand's parents (the weak reference)
        check(node)
        return weak(node)

    monkeypatch.setattr(_build, "_weakref", recorded)
    monkeypatch.setattr(_build, "_decided", {})  # (as in a new process: each first meeting decides anew)
    for turn in ("first meetings", "memo hits"):  # the same signatures again: decided from the memo
        now[0] = turn
        x = xpgrad.Tensor(_large())
        y = xpgrad.sin(x) * x
        (g,) = xpgrad.grad(xpgrad.sum(y * y), [x])
        xpgrad.grad(xpgrad.sum(g), [x])  # (a second derivative: deferred too)
    assert not early, early
    assert checked["first meetings"] > 0 and checked["memo hits"] > 0, checked
    a = x.value
    np.testing.assert_allclose(g.value, 2 * np.sin(a) * a * (np.cos(a) * a + np.sin(a)), rtol=1e-12)
