"""Every error raised where the mistake is made, naming the op, what it got, and what to do."""

from __future__ import annotations

import numpy as np
import pytest

import xpgrad


def test_backend_mismatch() -> None:
    import array_api_strict as s

    a = xpgrad.Tensor(np.array([1.0]))
    b = xpgrad.Tensor(s.asarray([1.0]))
    with pytest.raises(
        xpgrad.BackendMismatchError,
        match=r"multiply: operands live on different backends \('numpy' and 'array_api_strict'\); move one first",
    ):
        a * b
    assert isinstance(xpgrad.BackendMismatchError("x"), TypeError)


def test_device_mismatch() -> None:
    import array_api_strict as s

    a = xpgrad.Tensor(s.asarray([1.0], device=s.Device("device1")))
    b = xpgrad.Tensor(s.asarray([1.0]))
    with pytest.raises(xpgrad.BackendMismatchError, match="add: operands live on different devices"):
        a + b
    c = b.to_device(s.Device("device1"))
    assert (a + c).device == s.Device("device1")


def test_shape_mismatch_names_op_and_shapes() -> None:
    a, b = xpgrad.Tensor(np.ones(3)), xpgrad.Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"subtract: shapes \(3,\) and \(2, 4\) cannot be broadcast"):
        a - b


def test_unknown_backend_lists_valid_ones() -> None:
    with pytest.raises(
        ValueError, match="unknown backend 'jax'; valid backends are 'numpy', 'cupy', 'array_api_strict', 'auto'"
    ):
        xpgrad.Tensor(1.0, backend="jax")
    with pytest.raises(ValueError, match="unknown backend"):
        xpgrad.set_default_backend("tpu")


def test_unavailable_cupy_says_why_and_how_to_fall_back() -> None:
    from xpgrad.backends import cupy as cupy_backend

    if cupy_backend.probe() is None:
        pytest.skip("CuPy is usable here: the unavailable path cannot be exercised")
    with pytest.raises(xpgrad.BackendUnavailableError, match=r"backend 'cupy' is unavailable: .*backend='auto'"):
        xpgrad.Tensor(1.0, backend="cupy")
    assert isinstance(xpgrad.BackendUnavailableError("x"), RuntimeError)


def test_bad_operand_and_arity() -> None:
    x = xpgrad.Tensor(np.ones(2))
    with pytest.raises(TypeError, match="multiply: cannot use str"):
        x * "a"
    with pytest.raises(TypeError, match=r"sin\(\) takes 1 array argument"):
        xpgrad.sin(x, x)
    with pytest.raises(TypeError, match=r"sum\(\) got unexpected keyword"):
        xpgrad.sum(x, axes=0)


def test_bad_axis() -> None:
    with pytest.raises(ValueError, match="sum: axis 2 is out of range for an array of 2 dimensions"):
        xpgrad.sum(xpgrad.Tensor(np.ones((2, 2))), axis=2)


def test_setting_an_op_value_is_refused() -> None:
    y = xpgrad.Tensor(1.0) * 2
    with pytest.raises(AttributeError, match="computed from its inputs"):
        y.value = 3.0


def test_leaf_refeed_must_keep_shape() -> None:
    x = xpgrad.Tensor(np.ones(2), name="x")
    with pytest.raises(ValueError, match=r"leaf 'x' is declared with shape \(2,\).*xpgrad.placeholder"):
        x.value = np.ones(3)


def test_bool_arithmetic_and_complex_grads_refused() -> None:
    m = xpgrad.Tensor(np.array([True, False]))
    with pytest.raises(TypeError, match="add: only integer or real floating or complex floating dtypes"):
        m + m
    c = xpgrad.Tensor(np.array([1 + 1j]))
    with pytest.raises(NotImplementedError, match="complex"):
        (c * c).grad(c)


def test_missing_rule_is_an_error_not_a_zero() -> None:
    from xpgrad._build import apply
    from xpgrad._ops import OPS, defop

    op = OPS.get("_test_no_rule") or defop("_test_no_rule", 1, lambda xp, a: a * 2)
    x = xpgrad.Tensor(np.ones(2))
    y = apply(op, x)
    with pytest.raises(NotImplementedError, match="op '_test_no_rule' has no derivative rule"):
        y.grad(x)
