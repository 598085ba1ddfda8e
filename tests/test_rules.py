"""Every derivative rule of the core vocabulary against finite differences and closed forms.

One table: op name -> (sample domain, orders to check). Adding an op adds one line here.
"""

from __future__ import annotations

import contextlib
import math
import random

import numpy as np
import pytest

import xpgrad
from xpgrad._core.walk import toposort

# name: (low, high) of sample inputs, and the derivative order checked (3 where smooth there)
UNARY = {
    "exp": ((-2.0, 2.0), 3),
    "log": ((0.5, 3.0), 3),
    "sin": ((-3.0, 3.0), 3),
    "cos": ((-3.0, 3.0), 3),
    "tanh": ((-2.0, 2.0), 3),
    "sqrt": ((0.5, 3.0), 3),
    "square": ((-2.0, 2.0), 3),
    "negative": ((-2.0, 2.0), 3),
    "positive": ((-2.0, 2.0), 3),
    "abs": ((0.2, 2.0), 2),  # away from the kink; the convention at 0 is tested below
}
BINARY = {
    "add": (((-2.0, 2.0), (-2.0, 2.0)), 3),
    "subtract": (((-2.0, 2.0), (-2.0, 2.0)), 3),
    "multiply": (((-2.0, 2.0), (-2.0, 2.0)), 3),
    "divide": (((-2.0, 2.0), (0.5, 2.0)), 3),
    "pow": (((0.5, 2.0), (-1.5, 2.5)), 3),
    "maximum": (((-2.0, 2.0), (-2.0, 2.0)), 2),  # ties have probability 0 with random samples
    "minimum": (((-2.0, 2.0), (-2.0, 2.0)), 2),
}
REDUCTIONS = {"sum": xpgrad.sum, "mean": xpgrad.mean}


def sample(tb, lo: float, hi: float, shape: tuple[int, ...], dtype: str, seed: int):
    rng = random.Random(seed)
    data = np.array([rng.uniform(lo, hi) for _ in range(math.prod(shape))]).reshape(shape)
    return tb.arr(data, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", UNARY)
def test_unary_rule(tb, name: str, dtype: str) -> None:
    (lo, hi), order = UNARY[name]
    x = sample(tb, lo, hi, (2, 3), dtype, seed=hash(name) % 1000)
    fn = getattr(xpgrad, name)
    out = fn(xpgrad.Tensor(x))
    np.testing.assert_array_equal(tb.np(out), tb.np(getattr(tb.xp, name)(x)))
    assert out.dtype == x.dtype
    xpgrad.check_grads(fn, x, order=order if dtype == "float64" else 2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", BINARY)
def test_binary_rule(tb, name: str, dtype: str) -> None:
    ((la, ha), (lb, hb)), order = BINARY[name]
    a = sample(tb, la, ha, (2, 3), dtype, seed=1)
    b = sample(tb, lb, hb, (2, 3), dtype, seed=2)
    fn = getattr(xpgrad, name)
    out = fn(xpgrad.Tensor(a), xpgrad.Tensor(b))
    np.testing.assert_array_equal(tb.np(out), tb.np(getattr(tb.xp, name)(a, b)))
    xpgrad.check_grads(fn, a, b, order=order if dtype == "float64" else 2)


@pytest.mark.parametrize("name", BINARY)
def test_binary_rule_broadcasting(tb, name: str) -> None:
    ((la, ha), (lb, hb)), _ = BINARY[name]
    a = sample(tb, la, ha, (3, 1), "float64", seed=3)
    b = sample(tb, lb, hb, (1, 4), "float64", seed=4)
    xpgrad.check_grads(getattr(xpgrad, name), a, b, order=2)
    s = sample(tb, lb, hb, (), "float64", seed=5)
    xpgrad.check_grads(getattr(xpgrad, name), a, s, order=2)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_rule(tb, name: str, axis, keepdims: bool) -> None:
    x = sample(tb, -2, 2, (3, 4), "float64", seed=6)
    fn = REDUCTIONS[name]
    out = fn(xpgrad.Tensor(x), axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(tb.np(out), tb.np(getattr(tb.xp, name)(x, axis=axis, keepdims=keepdims)))
    xpgrad.check_grads(lambda t: fn(xpgrad.sin(t) * t, axis=axis, keepdims=keepdims), x, order=3)


def test_closed_forms(tb) -> None:
    xs = np.array([0.3, 1.1, 2.5])
    x = tb.t(xs)
    cases = [
        (xpgrad.sin(x), np.cos(xs), -np.sin(xs)),
        (xpgrad.exp(x), np.exp(xs), np.exp(xs)),
        (xpgrad.log(x), 1 / xs, -1 / xs**2),
        (xpgrad.tanh(x), 1 - np.tanh(xs) ** 2, -2 * np.tanh(xs) * (1 - np.tanh(xs) ** 2)),
        (xpgrad.sqrt(x), 0.5 / np.sqrt(xs), -0.25 * xs**-1.5),
        (x**3, 3 * xs**2, 6 * xs),
        (1 / x, -1 / xs**2, 2 / xs**3),
        (x * x * x - 2 * x, 3 * xs**2 - 2, 6 * xs),
    ]
    for y, d1, d2 in cases:
        g = y.grad(x)
        np.testing.assert_allclose(tb.np(g), d1, rtol=1e-13)
        np.testing.assert_allclose(tb.np(g.grad(x)), d2, rtol=1e-13)


@pytest.mark.parametrize("merging", [True, False], ids=["merging", "no-merging"])
@pytest.mark.parametrize("name", BINARY)
def test_binary_rule_of_one_operand_twice(tb, name: str, merging: bool) -> None:
    # op(x, x): both inputs' rules reach the same node (the sweep takes one contribution twice for the
    # ops marked symmetric, add and multiply), with merging on and off
    ((lo, hi), (lo_b, hi_b)), order = BINARY[name]
    x = sample(tb, max(lo, lo_b), min(hi, hi_b), (2, 3), "float64", seed=7)
    fn = getattr(xpgrad, name)
    with contextlib.nullcontext() if merging else xpgrad.options(merge=False):
        xpgrad.check_grads(lambda t: fn(t, t), x, order=order)
        xs, t = tb.np(x), xpgrad.Tensor(x)
        closed = {
            "add": lambda: 2.0,
            "subtract": lambda: 0.0,
            "multiply": lambda: 2 * xs,
            "divide": lambda: 0.0,
            "pow": lambda: xs**xs * (np.log(xs) + 1),
        }
        if name in closed:
            want = np.broadcast_to(closed[name](), xs.shape)
            np.testing.assert_allclose(tb.np(fn(t, t).grad(t)), want, rtol=1e-13)


def test_a_product_of_one_operand_twice_has_one_product_in_its_gradient() -> None:
    # the rules of x * x give g * x for both inputs: built once, not once and again to be merged (issue 5, B4)
    with xpgrad.options(merge=False):
        x = xpgrad.Tensor(np.array([0.5, 1.5]))
        (g,) = xpgrad.grad(x * x, [x], cotangent=np.array([3.0, 5.0]))
    np.testing.assert_array_equal(g.numpy(), [3.0, 15.0])
    assert sum(n.op is not None and n.op.name == "multiply" for n in toposort([g])) == 1


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # NumPy warns on IEEE inf; others don't
def test_edge_conventions(tb) -> None:
    z = tb.t([0.0, 0.0])
    assert tb.np(xpgrad.abs(z).grad(z)).tolist() == [0.0, 0.0]  # abs'(0) = 0, as in JAX and PyTorch
    a, b = tb.t([1.0, 2.0]), tb.t([1.0, 3.0])
    assert tb.np(xpgrad.maximum(a, b).grad(a)).tolist() == [0.5, 0.0]  # a tie splits evenly
    assert tb.np(xpgrad.maximum(a, b).grad(b)).tolist() == [0.5, 1.0]
    assert tb.np(xpgrad.minimum(a, b).grad(a)).tolist() == [0.5, 1.0]
    assert math.isinf(tb.np(xpgrad.sqrt(z).grad(z))[0])  # sqrt'(0) = +inf, as in JAX and PyTorch
    e = tb.t([0.0, 2.0])
    assert tb.np((z**e).grad(e)).tolist() == [0.0, 0.0]  # d/db 0**b = 0 (JAX's convention)
    assert tb.np((e ** tb.t([0.0, 0.0])).grad(e)).tolist() == [0.0, 0.0]  # d/da a**0 = 0, also at a = 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_kept_through_orders(tb, dtype: str) -> None:
    x = tb.t([0.5, 1.5], dtype)
    y = xpgrad.sum(xpgrad.exp(x) * 3.0 + xpgrad.sin(x) / x - x**2.5 + xpgrad.tanh(x * 0.5))
    g = y.grad(x)
    for _ in range(3):
        assert g.dtype == x.dtype
        g = xpgrad.sum(g).grad(x)
    assert g.dtype == x.dtype


def test_integers_stay_exact_and_float_only_ops_promote(tb) -> None:
    i = tb.t([1, 2, 3], "int64")
    assert (i * i + 2 * i).dtype == tb.xp.int64
    assert tb.np((i * i * i).grad(i)).tolist() == [3, 12, 27]
    default_float = tb.xp.__array_namespace_info__().default_dtypes(device=tb.device)["real floating"]
    assert xpgrad.sin(i).dtype == default_float
    assert (i / 2).dtype == default_float
    assert (i * 0.5).dtype == default_float
    assert (xpgrad.sin(i) * i).dtype == default_float
    f32 = tb.t([1.0, 2.0, 3.0], "float32")
    assert (f32 * i).dtype == tb.xp.float32  # mixed kinds: the float operand wins (PyTorch, JAX)
    assert (f32 * 2.0).dtype == tb.xp.float32  # Python numbers are weak


def test_prod_higher_orders_at_zeros_raise_instead_of_lying(tb) -> None:
    x = tb.t([0.0, 2.0, 3.0])
    g = xpgrad.prod(x).grad(x)
    assert tb.np(g).tolist() == [6.0, 0.0, 0.0]  # first order is exact at a zero
    with pytest.raises(NotImplementedError, match="prod: derivatives of order 2 and higher"):
        # (at once, or where arrays are lazy (Dask) when computed: the check reads the values)
        xpgrad.compute(xpgrad.sum(g * tb.arr([1.0, 2.0, 3.0])).grad(x))
    y = tb.t([1.0, 2.0, 3.0])  # away from zeros every order works, checked against the closed form
    h = xpgrad.sum(xpgrad.prod(y).grad(y) * tb.arr([1.0, 2.0, 3.0])).grad(y)
    assert tb.np(h).tolist() == [2 * 3 + 3 * 2, 1 * 3 + 3 * 1, 1 * 2 + 2 * 1]
    xpgrad.check_grads(lambda t: xpgrad.prod(t, axis=0), tb.arr([[0.5, 1.5], [2.0, -1.0]]), order=3)


def test_check_grads_refines_finite_differences_before_blaming_a_rule() -> None:
    # sin(200 x): the fourth-order estimate is off by ~1e-5 relative (the tolerance is 1e-6); one
    # Richardson step brings it within, so the right rule passes ...
    x = np.array([0.3, -0.7])
    xpgrad.check_grads(lambda t: xpgrad.sin(200.0 * t), x, order=1)
    # ... and a rule off by 1e-5 relative still fails against the refined estimate
    sin = xpgrad._core.opdef.OPS["sin"]
    right = sin.vjp
    object.__setattr__(sin, "vjp", (lambda g, out, a: g * xpgrad.cos(a) * (1 + 1e-5),))
    try:
        with pytest.raises(AssertionError, match="disagrees with finite differences"):
            xpgrad.check_grads(lambda t: xpgrad.sin(200.0 * t), x, order=1)
    finally:
        object.__setattr__(sin, "vjp", right)


def test_check_grads_takes_the_tolerance_of_single_precision_wherever_f_computes_in_it() -> None:
    # float64 arguments cast to float32 inside f: finite differences of a float32 function disagree with
    # the exact rule at float32's rounding, which float64's tolerance reported as a wrong rule
    x = np.array([0.3, 1.2, -2.0])
    xpgrad.check_grads(lambda a: xpgrad.astype(a, "float32"), x)
    xpgrad.check_grads(lambda a: xpgrad.sin(xpgrad.astype(a, "float32")) * 3.0, x, order=2)
    sin = xpgrad._core.opdef.OPS["sin"]
    right = sin.vjp
    object.__setattr__(sin, "vjp", (lambda g, out, a: g * xpgrad.cos(a) * (1 + 1e-2),))
    try:  # a rule 1e-2 off still fails at float32's tolerance
        with pytest.raises(AssertionError, match="disagrees with finite differences"):
            xpgrad.check_grads(lambda a: xpgrad.sin(xpgrad.astype(a, "float32")), x, order=1)
    finally:
        object.__setattr__(sin, "vjp", right)


@pytest.mark.parametrize("order", [0, -1, 1.5])
def test_check_grads_refuses_an_order_that_checks_nothing(order: object) -> None:
    with pytest.raises(ValueError, match="order must be an int of 1 or more"):
        xpgrad.check_grads(lambda a: a * a, np.array([1.0]), order=order)
