"""Node counts of gradient graphs, orders 1 to 3: built without merging, as built, and simplified.

    python examples/graph_sizes.py        (the table in docs/simplification.md)

A count is every node reachable from the gradient Tensors (leaves, constants and the forward nodes
the gradient reuses included): what `xpgrad.function` would hold and run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import xpgrad
from xpgrad import Tensor
from xpgrad._graph import toposort


def seed() -> tuple[Tensor, list[Tensor]]:
    x, y = Tensor(3.0, name="x"), Tensor(5.0, name="y")
    return (x + y) * y, [y]


def mixed() -> tuple[Tensor, list[Tensor]]:
    x = Tensor(np.array([0.3, -0.7, 1.1]), name="x")
    y = Tensor(np.array([0.5, 2.0, -1.5]), name="y")
    return xpgrad.sum(xpgrad.sin(x) * y + xpgrad.exp(x * y) / (1 + y * y)), [x, y]


def chain() -> tuple[Tensor, list[Tensor]]:
    x = Tensor(0.01, name="x")
    y = x
    for _ in range(20):
        y = y * y + y
    return y, [x]


EXAMPLES: dict[str, Callable[[], tuple[Tensor, list[Tensor]]]] = {
    "seed (x + y) * y, d/dy": seed,
    "sum(sin(x)*y + exp(x*y)/(1+y*y)), d/dx, d/dy": mixed,
    "20 steps of y = y*y + y, d/dx": chain,
}


def gradients(make: Callable[[], tuple[Tensor, list[Tensor]]], order: int) -> list[Tensor]:
    """The order-th gradients: grad of f, then grad of the sum of all previous gradients, and so on."""
    f, wrt = make()
    gs = xpgrad.grad(f, wrt)
    for _ in range(order - 1):
        total = xpgrad.sum(gs[0])
        for g in gs[1:]:
            total = total + xpgrad.sum(g)
        gs = xpgrad.grad(total, wrt)
    return gs


def count(ts: list[Tensor]) -> int:
    return len(toposort(ts))


def table() -> list[tuple[str, int, int, int, int]]:
    rows = []
    for name, make in EXAMPLES.items():
        for order in (1, 2, 3):
            with xpgrad.options(merge=False):
                plain = gradients(make, order)
                n_plain = count(plain)
                n_plain_simpl = count(xpgrad.simplify(*plain))  # simplify also merges, even when built without
            built = gradients(make, order)
            rows.append((name, order, n_plain, count(built), count(xpgrad.simplify(*built))))
            del plain, built
            _ = n_plain_simpl
    return rows


def main() -> None:
    print("| graph | order | no CSE | as built (CSE) | simplify() |\n|---|---|---|---|---|")
    for name, order, a, b, c in table():
        print(f"| {name} | {order} | {a} | {b} | {c} |")


if __name__ == "__main__":
    main()
