"""The build memo and shared constants (issue 5) keep behaviour: same checks, exact zeros, fresh errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad


def test_constants_are_shared_except_zeros() -> None:
    x, y = xpgrad.Tensor(np.ones(3)), xpgrad.Tensor(np.ones(4))
    assert (x * 2.5).children[1] is (y * 2.5).children[1]
    assert (x * 2).children[1] is not (x * 2.0).children[1]  # int and float constants stay apart
    pos, neg = (x + 0.0).children[1], (x * -0.0).children[1]
    assert pos is not neg and math.copysign(1.0, neg.value) < 0


def test_a_memoized_signature_still_checks_new_operands() -> None:
    a, b = xpgrad.Tensor(np.ones(3)), xpgrad.Tensor(np.ones(3))
    assert (a * b).shape == (3,)
    with pytest.raises(ValueError, match="multiply: shapes"):
        a * xpgrad.Tensor(np.ones(4))
    with pytest.raises(TypeError, match="only"):
        xpgrad.Tensor(np.ones(3, dtype=bool)) * xpgrad.Tensor(np.ones(3, dtype=bool))
    f32 = xpgrad.Tensor(np.ones(3, dtype=np.float32))
    assert (f32 * 0.5).dtype == np.float32 and (f32 * b).dtype == np.float64


def test_decisions_of_ops_with_params_are_memoized_per_params() -> None:
    # the memo's key holds the params (each after its type): two calls that differ only there get
    # decisions of their own, and a decision taken from the memo is evaluated with its params
    x = xpgrad.Tensor(np.arange(6.0).reshape(2, 3))
    for _ in range(2):  # the second round takes every decision from the memo
        assert xpgrad.sum(x, axis=0).shape == (3,)
        assert xpgrad.sum(x, axis=1).shape == (2,)
        assert xpgrad.sum(x, axis=1, keepdims=True).shape == (2, 1)
        np.testing.assert_array_equal(xpgrad.sum(x, axis=0).numpy(), [3.0, 5.0, 7.0])
        np.testing.assert_array_equal(xpgrad.sum(x, axis=1).numpy(), [3.0, 12.0])
        assert xpgrad.sum(x).shape == ()
    with pytest.raises(Exception, match="axis"):
        xpgrad.sum(x, axis=2)  # out of range: refused at build time, memo or not
    with pytest.raises(Exception, match="axis"):
        xpgrad.sum(x, axis=2)
    assert xpgrad.sum(x, axis=[0]) is xpgrad.sum(x, axis=(0,))  # a list, as PyTorch takes it: the tuple
    p = xpgrad.placeholder(shape=(2, 3), dtype="float64")
    for name in ("sum", "mean", "max", "min", "prod", "var", "std", "all", "any"):
        r = getattr(xpgrad, name)(p > 1.0 if name in ("all", "any") else p, axis=[1])
        assert r.shape == (2,) and r.params["axis"] == (1,), name  # (NumPy itself refuses a list)
        with pytest.raises(TypeError, match=f"{name}: keepdims must be True or False"):
            getattr(xpgrad, name)(p > 1.0 if name in ("all", "any") else p, keepdims="yes")
    p.value = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(xpgrad.sum(p, axis=[1]).forward().numpy(), [3.0, 12.0])


def test_the_decision_memo_tells_params_apart_by_their_items_types() -> None:
    # (1,), (True,) and (1.0,) are equal tuples with equal hashes: the first is an axis, the others are
    # refused, also after the first has been decided (and memoized)
    x = xpgrad.Tensor(np.arange(6.0).reshape(2, 3))
    p = xpgrad.placeholder(shape=(2, 3), dtype="float64")
    xpgrad.sum(x, axis=(1,))
    xpgrad.sum(p, axis=(1,))
    assert xpgrad.reshape(p, (3, 2)).shape == (3, 2)
    with pytest.raises(TypeError, match="sum: axis must be"):
        xpgrad.sum(x, axis=(True,))
    with pytest.raises(TypeError, match="sum: axis must be"):
        xpgrad.sum(p, axis=(1.0,))
    with pytest.raises(ValueError, match="reshape: invalid shape"):
        xpgrad.reshape(p, (3.0, 2))  # at build time, not at forward()


def test_the_decision_memo_keeps_no_tensor_alive() -> None:
    import gc
    import weakref

    p = xpgrad.placeholder(shape=(3,), dtype="float64")
    big = xpgrad.Tensor(np.ones(1 << 10))
    node = xpgrad.full_like(p, xpgrad.sum(big * 2.0))  # a param that is a Tensor, with a graph behind it
    p.value = np.zeros(3)
    node.forward()
    np.testing.assert_array_equal(node.numpy(), [2048.0] * 3)
    ref = weakref.ref(big)
    del big, node
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("hashing", ["by identity", "unhashable"])
def test_equal_device_objects_share_one_signature(hashing: str) -> None:
    """CuPy makes a new Device for every ``array.device``: equal devices must still share decisions."""
    from xpgrad._core.tensor import signature
    from xpgrad.backends import get_backend

    class Dev:
        def __init__(self, i: int) -> None:
            self.i = i

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Dev) and other.i == self.i

        __hash__ = object.__hash__ if hashing == "by identity" else None  # type: ignore[assignment]

    bk = get_backend("numpy")
    a, b, c = (signature(bk, Dev(i), (3,), np.float64) for i in (0, 0, 1))
    assert a is not None and a == b and c != a


def test_fresh_arrays_reuse_the_memoized_decisions(tb, monkeypatch: pytest.MonkeyPatch) -> None:
    from xpgrad._core import build as _build
    from xpgrad._core import tensor as _tensor

    def build() -> xpgrad.Tensor:
        x = tb.t([1.0, 2.0])
        return xpgrad.sin(x * 2.0 + 1.0) * x

    build()
    n, decided = len(_tensor._signatures), len(_build._decided)
    checked: list[str] = []
    real = _build._apply
    monkeypatch.setattr(_build, "_apply", lambda op, *a: checked.append(op.name) or real(op, *a))
    for _ in range(5):
        build()
    assert len(_tensor._signatures) == n and len(_build._decided) == decided > 0
    assert checked == []  # every op of the repeats decided from the memo (CuPy: a new Device an array)


def test_ops_called_with_their_default_params_take_the_fast_path() -> None:
    """``sum(y)`` and its rule's ``expand(g, x, axis=None, keepdims=False)`` are built without `apply`'s checks
    (issue 5), which merges a node only with one of the same params and evaluates with the defaults."""
    from xpgrad._core import build as _build

    x, w = xpgrad.Tensor(np.arange(6.0).reshape(2, 3)), xpgrad.Tensor(np.ones((2, 3)))
    xpgrad.grad(xpgrad.sum(w), [w])  # first meetings: the checked path decides, and leaves it to the fast path
    built = []
    real = _build._apply
    _build._apply = lambda *a: built.append(a[0].name) or real(*a)  # type: ignore[assignment]
    try:
        s = xpgrad.sum(x)
        by_axis = xpgrad.sum(x, axis=0)  # explicit params: the checked path, a node of its own
        again = xpgrad.sum(x, axis=None, keepdims=False)  # the defaults, spelled out: the same node
        (g,) = xpgrad.grad(s, [x])
        (g2,) = xpgrad.grad(s, [x])
    finally:
        _build._apply = real  # type: ignore[assignment]
    assert built == ["sum"]  # only the one with an axis
    assert again is s and by_axis is not s and xpgrad.sum(x, axis=0) is by_axis
    assert s.params is xpgrad.sum(x).params and by_axis.params["axis"] == 0
    assert float(s.value) == 15.0 and by_axis.shape == (3,)
    np.testing.assert_array_equal(by_axis.numpy(), [3.0, 5.0, 7.0])
    assert g.op.name == "expand" and g2 is g and g.shape == (2, 3)
    np.testing.assert_array_equal(g.numpy(), np.ones((2, 3)))
    keep = xpgrad.sum(x, keepdims=True)  # a param that is not its default (True is not False)
    assert keep.shape == (1, 1) and keep is not s
    assert xpgrad.mean(xpgrad.placeholder(shape=(2,), dtype="float64")).shape == ()


_UFUNCS = ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "atan2", "hypot", "logaddexp"]
_UFUNCS += ["copysign", "remainder", "nextafter", "floor_divide", "greater", "equal"]
_NUMBERS = [0.999, -0.0, 0.0, 2.5, 3, -7, 1e-310, 1e300, math.inf, -math.inf, math.nan, 1 << 60, 2**53 + 1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", _UFUNCS)
def test_python_numbers_passed_as_arrays_give_numpys_own_results(name: str, dtype: str) -> None:
    """On NumPy the fast path and a compiled function's plan pass ``0.999`` of ``x * 0.999`` as a 0-d array of
    x's dtype (issue 5: half the call's time on small arrays): every result is NumPy's own for the Python
    number, bit for bit (signed
    zeros, nan, inf, subnormals, ints beyond 2**53, a float that overflows float32), on either side."""
    from xpgrad._core import build as _build
    from xpgrad._core.opdef import OPS

    ufunc = getattr(np, {"pow": "power", "atan2": "arctan2"}.get(name, name))
    values = np.array([0.5, -1.5, 0.0, -0.0, 3.0, 1e-300, np.inf, -np.inf, np.nan, 7.25], dtype=dtype)
    with np.errstate(all="ignore"):
        for c in _NUMBERS:
            for side in (0, 1):
                gots = []
                for _ in range(2):  # the first meeting decides (checked path); the second takes the fast path
                    x = xpgrad.Tensor(values.copy())
                    gots.append(_build.apply(OPS[name], *((x, c) if side == 0 else (c, x))).numpy())
                p = xpgrad.placeholder(shape=values.shape, dtype=dtype)
                compiled = xpgrad.function([p], _build.apply(OPS[name], *((p, c) if side == 0 else (c, p))))
                want = ufunc(values, c) if side == 0 else ufunc(c, values)
                for result in (*gots, compiled(values.copy())):  # eager (both paths), compiled (its plan)
                    assert result.dtype == want.dtype, (c, side)
                    assert result.tobytes() == want.tobytes(), (c, side, result, want)
                number = _build._consts.get((type(c), c))  # the shared constant (zeros are not shared)
                if want.dtype == values.dtype and number is not None:
                    assert (number, x._sig) in _build._numbers  # the path was taken
