"""Graphs built in several threads at once: one thread's `grad` never changes the nodes another builds."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

import xpgrad
from in_threads import run_in_threads


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
    from xpgrad import _grad

    n = 1 << 16  # large: this gradient graph is built first and evaluated afterwards (`_lazy`)
    deferring, built = threading.Event(), threading.Event()
    sweep = _grad._sweep

    def sweep_then_wait_for_the_other_thread(*args: Any) -> Any:
        results = sweep(*args)
        deferring.set()  # this thread's gradient graph is built, not yet evaluated: its deferral is on
        built.wait(timeout=30)
        return results

    monkeypatch.setattr(_grad, "_sweep", sweep_then_wait_for_the_other_thread)

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
