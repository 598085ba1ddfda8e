"""Depth and sharing: no recursion anywhere, work linear in the graph.

Timings are reported by the benchmarks, never asserted here; these tests assert that deep and
heavily shared graphs work at all and give the right numbers.
"""

from __future__ import annotations

import gc
import math

import numpy as np

import xpgrad
from xpgrad._core.walk import toposort
from xpgrad._views.tree import format_tree


def test_chain_of_a_million_ops() -> None:
    x = xpgrad.Tensor(np.array([0.5, 2.0]), name="x")
    y = x
    steps = 500_000  # two ops a step: 10^6 ops
    for _ in range(steps):
        y = y * 0.999999 + 0.000001
    expect = 0.999999**steps
    np.testing.assert_allclose(y.numpy(), (np.array([0.5, 2.0]) - 1) * expect + 1, rtol=1e-9)
    x.value = np.array([1.0, 3.0])
    y.forward()
    np.testing.assert_allclose(y.numpy(), (np.array([1.0, 3.0]) - 1) * expect + 1, rtol=1e-9)
    g = y.grad(x)
    np.testing.assert_allclose(g.numpy(), [expect, expect], rtol=1e-9)
    assert str(g).startswith("T:[") and "multiply" in repr(g)
    assert len(format_tree(g, max_nodes=50).splitlines()) <= 51
    del g, y
    gc.collect()


def test_freeing_a_deep_graph_does_not_crash() -> None:
    y = xpgrad.Tensor(1.0)
    for _ in range(1_000_000):
        y = y + 1.0  # not -y: the -(-x) == x rewrite would keep that graph one node deep
    assert float(y) == 1_000_001.0 and len(toposort([y])) > 1_000_000
    del y  # a million nested deallocations: CPython's trashcan keeps this iterative


def test_shared_dag_40_steps_is_linear() -> None:
    x0 = np.array([1e-3, 2e-3])
    x = xpgrad.Tensor(x0)
    y = x
    for _ in range(40):
        y = y * y + y
    g = y.grad(x)
    # closed form of the derivative by the chain rule, step by step in NumPy
    v, d = x0.copy(), np.ones(2)
    for _ in range(40):
        v, d = v * v + v, d * (2 * v + 1)
    np.testing.assert_allclose(y.numpy(), v, rtol=1e-12)
    np.testing.assert_allclose(g.numpy(), d, rtol=1e-12)
    # linear: a constant number of gradient nodes per step, not 3.8x growth per step
    assert len(toposort([g])) < 10 * 40
    gg = xpgrad.sum(g).grad(x)
    assert len(toposort([gg])) < 40 * 40
    assert math.isfinite(float(xpgrad.sum(gg).numpy()))


def test_a_deep_chain_prints_short_lines() -> None:
    # a cut tree of a deep chain was indented by 4 characters a level: 2000 lines up to 8000 wide (8 MB)
    t = xpgrad.Tensor(np.ones(2), name="x")
    for _ in range(3000):
        t = xpgrad.sin(t)
    lines = format_tree(t).splitlines()
    assert len(lines) == 2001 and max(map(len, lines)) < 200
    assert lines[40].startswith("[depth ") and "sin" in lines[40]  # the depth written where the indent restarts
    assert lines[-1].endswith("... (tree cut at 2000 lines)")
