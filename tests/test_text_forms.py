"""Gradient graphs read as maths: the internal ops the sweep builds (`fit`, `expand`, `broadcast_like`,
`reshape_like`) print as the standard functions they amount to, in `expr()`, `show` and pictures.

The oracle: the printed text, run as NumPy code, computes the gradient's value.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpgrad
from xpgrad import Tensor

_NP = {
    "sum": lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims),
    "mean": lambda a, axis=None, keepdims=False: np.mean(a, axis=axis, keepdims=keepdims),
    "broadcast_to": lambda a, shape: np.broadcast_to(a, shape),
    "expand_dims": lambda a, axis: np.expand_dims(a, axis),
    "reshape": lambda a, shape: np.reshape(a, shape),
    "astype": lambda a, dtype: np.asarray(a).astype(dtype),
    "ones_like": np.ones_like,
    "sin": np.sin,
    "cos": np.cos,
}

X = np.array([0.5, 1.0, 2.0])
B = np.array([[1.5], [-2.0]])

CASES = {
    "broadcast undone (sum over the size-1 axis)": (lambda x, b: xpgrad.sum(x * b), "b"),
    "broadcast undone (sum over the leading axis)": (lambda x, b: xpgrad.sum(x * b), "x"),
    "sum over an axis": (lambda x, b: xpgrad.sum(xpgrad.sum(xpgrad.sin(x) * b, axis=1)), "b"),
    "mean over an axis": (lambda x, b: xpgrad.sum(xpgrad.mean(xpgrad.sin(b) * x, axis=1)), "b"),
    "mean": (lambda x, b: xpgrad.mean(x * x), "x"),
    "reshape": (lambda x, b: xpgrad.sum(xpgrad.sin(xpgrad.reshape(x, (1, 3))) * b), "x"),
    "cast": (lambda x, b: xpgrad.sum(xpgrad.sin(xpgrad.astype(x, "float32"))), "x"),
    "broadcast_to": (lambda x, b: xpgrad.sum(xpgrad.broadcast_to(x, (2, 3)) * b), "x"),
}


@pytest.mark.parametrize("case", CASES)
def test_gradient_text_is_numpy_code_computing_the_gradient(case: str) -> None:
    f, wrt = CASES[case]
    x, b = Tensor(X, name="x"), Tensor(B, name="b")
    g = f(x, b).grad({"x": x, "b": b}[wrt])
    text = g.expr()
    for internal in ("fit(", "expand(", "broadcast_like(", "reshape_like("):
        assert internal not in text, text
    *lets, last = text.split("\n")
    scope = {**_NP, "x": X, "b": B}
    for line in lets:
        exec(line, scope)
    np.testing.assert_allclose(eval(last, scope), g.numpy(), rtol=1e-6)


def test_unknown_shapes_refer_to_the_operand_shape() -> None:
    p = xpgrad.placeholder(shape=(None,), dtype="float64", name="p")
    text = xpgrad.sum(xpgrad.sin(p)).grad(p).expr()
    assert "broadcast_to(ones_like(sum(sin(p))), shape=sin(p).shape)" in text, text
    assert "fit(" in text  # which axes it sums over is known only once p is fed: docs/concepts.md explains it


def test_show_and_pictures_name_internal_ops_by_their_standard_functions() -> None:
    x, b = Tensor(X, name="x"), Tensor(B, name="b")
    g = xpgrad.sum(x * b).grad(b)
    tree = xpgrad.format_tree(g)
    assert tree.splitlines()[0].startswith("sum(·, axis=1, keepdims=True) = ")
    assert "broadcast_to(·, shape=(2, 3))" in tree and "fit" not in tree and "expand" not in tree
    assert "└── (shape) b = " in tree  # b is read for its shape only
    dot = xpgrad.to_dot(g)
    assert 'label="sum(·, axis=1, keepdims=True)' in dot and "style=dotted" in dot


def test_unindex_writes_its_key_as_a_subscript() -> None:
    x = Tensor(X, name="x")
    assert x[1:].sum().grad(x).expr().endswith(", x, key=[1:])")


def test_full_like_of_a_placeholder_prints_as_full_like() -> None:
    p = xpgrad.placeholder(shape=(2,), dtype="float64", name="p")
    t = xpgrad.full_like(p, 2.5)
    assert t.op.name == "fill_like"  # built before p has a value
    assert t.expr() == "full_like(p, fill_value=2.5)"
