"""The seed document's two examples, verbatim but for the import, print what the seed prints."""

from __future__ import annotations

import subprocess
import sys

SEED = """
from xpgrad import Tensor

x = Tensor(3)
y = Tensor(5)

z1 = x + y
z2 = z1 * y
print(x, y)
print(z2)

print(x, y)
g = z2.grad(y)
print(g)
"""


def test_seed_examples_print_what_the_seed_prints() -> None:
    out = subprocess.run([sys.executable, "-c", SEED], capture_output=True, text=True, check=True).stdout
    assert out.split("\n") == ["T:3 T:5", "T:40", "T:3 T:5", "T:13", ""]


def test_seed_gradient_graph_is_what_a_person_writes() -> None:
    from xpgrad import Tensor

    x, y = Tensor(3, name="x"), Tensor(5, name="y")
    z1 = x + y
    z2 = z1 * y
    g = z2.grad(y)
    # d/dy (x + y) * y = (x + y) + y: one add over the forward node z1 and y, no 0/1 clutter
    assert g.op.name == "add"
    assert g.children == (z1, y)
    assert z2.grad(x) is y  # d/dx = y, the node itself
    assert int(g.numpy()) == 13 and int(z2.grad(x).numpy()) == 5


def test_grad_of_grad_on_the_seed() -> None:
    from xpgrad import Tensor

    x, y = Tensor(3), Tensor(5)
    z = (x + y) * y
    assert int(z.grad(y).grad(y).numpy()) == 2
    assert int(z.grad(y).grad(x).numpy()) == 1
    assert int(z.grad(x).grad(x).numpy()) == 0
