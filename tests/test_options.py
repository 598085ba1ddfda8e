"""`xpgrad.options`: merging and releasing switched per thread and per asyncio task, as a setter and a block."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import numpy as np
import pytest

import xpgrad
from conftest import TB
from in_threads import run_in_threads


def _twice(tb: TB) -> tuple[xpgrad.Tensor, xpgrad.Tensor]:
    """``x * y`` built twice on the same operands (through the build's fast path the second time)."""
    x, y = tb.t([0.5, 2.0]), tb.t([3.0, -1.0])
    return x * y, x * y


def _grad_of_one_occurrence(tb: TB) -> Any:
    """``d(u + sin(x*y))/du`` with ``u = x*y``: ``1 + cos(u)`` when the two are one node, 1 when apart."""
    x, y = tb.t([0.5, 2.0]), tb.t([3.0, -1.0])
    u = x * y
    return tb.np(xpgrad.grad(u + xpgrad.sin(x * y), [u])[0])


_MERGED = 1.0 + np.cos(np.array([1.5, -2.0]))


def test_defaults_merge_and_release() -> None:
    assert xpgrad.options() == xpgrad.Options(merge=True, release=True)
    assert xpgrad.options().merge is True and xpgrad.options().release is True


def test_a_block_sets_options_and_restores_them(tb: TB) -> None:
    with xpgrad.options(merge=False) as now:
        assert now == xpgrad.options() == xpgrad.Options(merge=False, release=True)
        a, b = _twice(tb)
        assert a is not b  # each occurrence a node of its own
        np.testing.assert_array_equal(_grad_of_one_occurrence(tb), [1.0, 1.0])
    assert xpgrad.options() == xpgrad.Options()
    a, b = _twice(tb)
    assert a is b
    np.testing.assert_allclose(_grad_of_one_occurrence(tb), _MERGED, rtol=1e-15)


def test_a_block_restores_options_on_error_and_undoes_what_was_set_inside() -> None:
    with pytest.raises(ZeroDivisionError):
        with xpgrad.options(release=False):
            xpgrad.options(merge=False)  # set inside: undone with the block
            assert xpgrad.options() == xpgrad.Options(merge=False, release=False)
            1 / 0  # noqa: B018
    assert xpgrad.options() == xpgrad.Options()


def test_blocks_nest_and_an_option_left_out_keeps_its_value() -> None:
    with xpgrad.options(merge=False):
        with xpgrad.options(release=False, merge=None):
            assert xpgrad.options() == xpgrad.Options(merge=False, release=False)
        assert xpgrad.options() == xpgrad.Options(merge=False, release=True)
    assert xpgrad.options() == xpgrad.Options()


def test_the_setter_holds_for_the_thread_until_changed(tb: TB) -> None:
    def job() -> None:  # in a thread of its own, so the suite's main thread keeps the defaults
        xpgrad.options(merge=False)
        assert xpgrad.options() == xpgrad.Options(merge=False)
        a, b = _twice(tb)
        assert a is not b
        xpgrad.options(merge=True)
        a, b = _twice(tb)
        assert a is b

    run_in_threads(job)
    assert xpgrad.options() == xpgrad.Options()


def test_release_off_keeps_every_large_value() -> None:
    x = xpgrad.Tensor(np.linspace(0.0, 1.0, 1 << 16))
    with xpgrad.options(release=False):
        kept = x * 2.0
        e = xpgrad.exp(kept)  # exp's rule reads its output only: ``kept`` would be released
    assert "released" not in xpgrad.format_tree(e)
    released = x * 3.0
    e = xpgrad.exp(released)
    assert "released" in xpgrad.format_tree(e)
    np.testing.assert_array_equal(released.numpy(), x.numpy() * 3.0)  # recomputed on demand


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"merge": 0}, "merge must be True or False (None keeps it); got int 0"),
        ({"release": "no"}, "release must be True or False (None keeps it); got str 'no'"),
        ({"merge": np.bool_(False)}, "merge must be True or False (None keeps it); got numpy.bool"),
        ({"merg": False}, "unexpected keyword argument 'merg'"),
    ],
)
def test_bad_options_are_refused_naming_the_option(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        xpgrad.options(**kwargs)
    assert xpgrad.options() == xpgrad.Options()  # nothing was set


def test_positional_options_are_refused() -> None:
    with pytest.raises(TypeError, match="positional"):
        xpgrad.options(False)  # type: ignore[misc]


def test_only_a_call_that_sets_options_makes_a_block() -> None:
    with pytest.raises(TypeError, match=r"restores nothing; write `with xpgrad.options\(merge=..., release=...\):`"):
        with xpgrad.options():
            pass
    setting = xpgrad.options(merge=False)
    with setting:
        pass
    with pytest.raises(RuntimeError, match="left twice, or in another thread or asyncio task"):
        with setting:
            pass
    assert xpgrad.options() == xpgrad.Options()


def test_two_threads_with_different_options_at_once_each_get_their_own(tb: TB) -> None:
    # Both threads are inside their settings together; the first leaves its block while the second is
    # still in its own (with one process-wide flag, the second then merged again, and merging stayed off
    # for the whole process once it left)
    inside, left, checked = threading.Barrier(2), threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def apart() -> None:
        with xpgrad.options(merge=False):
            inside.wait()
            results["apart"] = _grad_of_one_occurrence(tb)
            a, b = _twice(tb)
            results["apart same"] = a is b
        left.set()
        checked.wait()
        results["apart after"] = xpgrad.options()

    def merged_then_apart() -> None:
        inside.wait()  # merging on here while the other thread has it off
        results["merged"] = _grad_of_one_occurrence(tb)
        a, b = _twice(tb)
        results["merged same"] = a is b
        with xpgrad.options(merge=False):
            left.wait()  # the other thread has left its block
            a, b = _twice(tb)
            results["still apart"] = a is not b
            results["still apart grad"] = _grad_of_one_occurrence(tb)
        checked.set()

    run_in_threads(apart, merged_then_apart)
    np.testing.assert_array_equal(results["apart"], [1.0, 1.0])
    assert results["apart same"] is False
    np.testing.assert_allclose(results["merged"], _MERGED, rtol=1e-15)
    assert results["merged same"] is True
    assert results["still apart"] is True
    np.testing.assert_array_equal(results["still apart grad"], [1.0, 1.0])
    assert results["apart after"] == xpgrad.Options()
    assert xpgrad.options() == xpgrad.Options()  # and the process's main thread was never touched
    a, b = _twice(tb)
    assert a is b


def test_two_threads_release_or_keep_large_values_at_once() -> None:
    x = xpgrad.Tensor(np.linspace(0.0, 1.0, 1 << 16))
    both = threading.Barrier(2)
    trees: dict[bool, str] = {}

    def job(release: bool) -> None:
        with xpgrad.options(release=release):
            both.wait()
            u = x * (4.0 if release else 5.0)
            e = xpgrad.exp(u)
            both.wait()  # both built while the other's setting was in force
            trees[release] = xpgrad.format_tree(e)
            np.testing.assert_array_equal(u.numpy(), x.numpy() * (4.0 if release else 5.0))

    run_in_threads(lambda: job(True), lambda: job(False))
    assert "released" in trees[True]
    assert "released" not in trees[False]


def test_two_asyncio_tasks_with_different_options_each_get_their_own(tb: TB) -> None:
    async def apart(go: asyncio.Event, done: asyncio.Event) -> Any:
        xpgrad.options(merge=False)  # the setter, in this task only
        go.set()
        await done.wait()  # the other task builds while this one has merging off
        return _grad_of_one_occurrence(tb), xpgrad.options()

    async def merged(go: asyncio.Event, done: asyncio.Event) -> Any:
        await go.wait()
        out = _grad_of_one_occurrence(tb), xpgrad.options()
        done.set()
        return out

    async def main() -> Any:
        go, done = asyncio.Event(), asyncio.Event()
        results = await asyncio.gather(apart(go, done), merged(go, done))
        return results, xpgrad.options()

    (a, b), after = asyncio.run(main())
    np.testing.assert_array_equal(a[0], [1.0, 1.0])
    assert a[1] == xpgrad.Options(merge=False)
    np.testing.assert_allclose(b[0], _MERGED, rtol=1e-15)
    assert b[1] == xpgrad.Options()
    assert after == xpgrad.Options()  # a task's setting stays in the task
