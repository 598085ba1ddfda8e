"""The benchmarked expressions, written once for every library.

Each expression takes ``m``, a namespace with ``sin``, ``exp`` and ``sum`` (``numpy``, ``jax.numpy``,
``autograd.numpy``, ``torch`` or ``xpgrad``), and the inputs; it returns a scalar (the sum).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Expr = Callable[..., Any]

# B2 cycle: one op each.
CHAIN_CYCLE = ("mul", "add", "sin")
CHAIN_MUL = 1.0001
CHAIN_ADD = 0.001
DEEP_MUL = 0.999
DEEP_ADD = 0.001


def compute_bound(m: Any, x: Any, y: Any) -> Any:
    """B1: transcendental-heavy; 1 + y*y exercises scalar-on-the-left operators."""
    return m.sum(m.sin(x) * y + m.exp(x * y) / (1 + y * y))


def memory_bound(m: Any, x: Any, y: Any) -> Any:
    """B1: cheap ops, so time is set by memory traffic."""
    return m.sum((x * y + x) * y)


def chain_kind(i: int) -> str:
    return CHAIN_CYCLE[i % len(CHAIN_CYCLE)]


def op_chain(n_ops: int) -> Expr:
    """B2: ``n_ops`` ops cycling x*1.0001, x+0.001, sin(x); then sum."""

    def f(m: Any, x: Any) -> Any:
        for i in range(n_ops):
            kind = chain_kind(i)
            if kind == "mul":
                x = x * CHAIN_MUL
            elif kind == "add":
                x = x + CHAIN_ADD
            else:
                x = m.sin(x)
        return m.sum(x)

    return f


def deep_chain(steps: int) -> Expr:
    """B3: ``x = x*0.999 + 0.001``, ``steps`` times (2 ops a step); then sum."""

    def f(m: Any, x: Any) -> Any:
        for _ in range(steps):
            x = x * DEEP_MUL + DEEP_ADD
        return m.sum(x)

    return f


def shared_chain(steps: int) -> Expr:
    """B4: ``y = y*y + y``: each step uses y three times, so a tree walk would be exponential."""

    def f(m: Any, x: Any) -> Any:
        y = x
        for _ in range(steps):
            y = y * y + y
        return m.sum(y)

    return f


def sin_times_x(m: Any, x: Any) -> Any:
    """B5: sum(sin(x)*x)."""
    return m.sum(m.sin(x) * x)


def cube(m: Any, x: Any) -> Any:
    """B5: sum(x**3)."""
    return m.sum(x**3)
