"""Write docs/tutorial.ipynb from the cells below, executed, with its outputs (pictures inline) stored, so the
site and GitHub show them: ``python tools/make_tutorial.py``. tests/test_docs.py executes the notebook again and
checks that it runs and prints what is stored."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PATH = Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"

CELLS = [
    (
        "markdown",
        """# Tutorial: graphs you can look at

xpgrad builds a graph as you compute, and `grad` returns another graph. In a notebook a Tensor displays as the
picture of its graph (this needs Graphviz's `dot` and `pip install 'xpgrad[viz]'`; without them it displays
as text).""",
    ),
    (
        "code",
        """import numpy as np
import xpgrad
from xpgrad import Tensor""",
    ),
    (
        "markdown",
        """## The seed example

Two numbers, a sum and a product. The Tensor `z2` holds its value, 40, and the graph that computed it:""",
    ),
    (
        "code",
        """x = Tensor(3, name="x")
y = Tensor(5, name="y")
z1 = x + y
z2 = z1 * y
print(x, y, z2)
z2""",
    ),
    (
        "markdown",
        """## Its gradient is a graph too

`z2.grad(y)` is d/dy (x + y) * y = (x + y) + y: a new node over the forward node `x + y` and `y`. Gradient ops are
drawn in orange (green, purple for second and third derivatives):""",
    ),
    (
        "code",
        """g = z2.grad(y)
print(g, "=", g.expr())
g""",
    ),
    (
        "code",
        """xpgrad.show(g)
print(g.grad(y), g.grad(x))  # differentiate the gradient again""",
    ),
    ("markdown", """Both graphs in one picture, shared nodes drawn once:"""),
    (
        "code",
        """from IPython.display import SVG

SVG(xpgrad.render(z2, g, path="seed.svg").read_text())""",
    ),
    (
        "markdown",
        """## Arrays, and how gradient graphs read

`b` of shape (2, 1) is broadcast against `a` of shape (3,). Its gradient sums the broadcast axis back: the text
and the picture say so with the standard functions (`sum(..., axis=1, keepdims=True)`, `broadcast_to`); the
dotted edge is an input read only for its shape.""",
    ),
    (
        "code",
        """a = Tensor(np.array([0.5, 1.0, 2.0]), name="a")
b = Tensor(np.array([[1.0], [2.0]]), name="b")
gb = xpgrad.sum(a * b).grad(b)
print(gb.expr())
gb""",
    ),
    (
        "code",
        """f = xpgrad.sum(xpgrad.sin(a) * b + xpgrad.exp(a * b) / (1 + b * b))
ga = f.grad(a)
print("df/da  ", ga)
print("d2f/da2", xpgrad.sum(ga).grad(a))
xpgrad.check_grads(lambda a, b: xpgrad.sin(a) * b, a.value, b.value, order=3)  # against finite differences""",
    ),
]


def notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells = [make[kind](src) for kind, src in CELLS]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nb


def execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel in ``cwd``; raises on the first cell that fails."""
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        done = execute(notebook(), Path(tmp))
    for cell in done.cells:
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(done, PATH)
    print(f"wrote {PATH}", file=sys.stderr)
