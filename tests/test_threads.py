"""Graphs built in several threads at once: one thread's `grad` never changes the nodes another builds."""

from __future__ import annotations

import numpy as np

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


def test_a_large_gradient_in_one_thread_defers_none_of_another_threads_nodes() -> None:
    n = 1 << 16  # large: this gradient graph is built first and evaluated afterwards (`_lazy`)

    def differentiate() -> None:
        for _ in range(10):
            x = xpgrad.Tensor(np.linspace(0.0, 1.0, n))
            (gx,) = xpgrad.grad(xpgrad.sum(x * x), [x])
            np.testing.assert_allclose(gx.numpy(), 2 * np.linspace(0.0, 1.0, n))

    def build() -> None:
        for i in range(3000):
            y = xpgrad.Tensor(np.array([1.0])) * float(i + 2)
            assert y._value is not None and float(y.numpy()[0]) == float(i + 2)  # evaluated at once

    run_in_threads(differentiate, build)
