"""Integer dtypes: arithmetic wraps around as NumPy's does (README, dtypes), and a Python integer that does not fit
the integer dtype it meets is refused at build time, naming the op, the number and the dtype."""

from __future__ import annotations

import numpy as np
import pytest

import xpgrad
from xpgrad import Tensor

REFUSED = {  # name: (dtype of x, the expression, the number refused, the op named)
    "int64 * 2**70": ("int64", lambda x: x * 2**70, 2**70, "multiply"),
    "2**70 * int64": ("int64", lambda x: 2**70 * x, 2**70, "multiply"),
    "int64 - (-2**63 - 1)": ("int64", lambda x: x - (-(2**63) - 1), -(2**63) - 1, "subtract"),
    "uint8 + (-1)": ("uint8", lambda x: x + (-1), -1, "add"),
    "uint64 * 2**64": ("uint64", lambda x: x * 2**64, 2**64, "multiply"),
    "int8 < 300 (NumPy compared it exactly)": ("int8", lambda x: x < 300, 300, "less"),
    "where(c, int8, 300)": ("int8", lambda x: xpgrad.where(x > 0, x, 300), 300, "where"),
    "maximum(int16, 2**15)": ("int16", lambda x: xpgrad.maximum(x, 2**15), 2**15, "maximum"),
    "bool + 2**70 (as the default integer)": ("bool", lambda x: x + 2**70, 2**70, "add"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_python_integer_that_does_not_fit_is_refused_naming_op_number_and_dtype(tb, name) -> None:
    # Tensor(np.array([1, 2])) * 2**70 raised NumPy's bare "Python int too large to convert to C long"
    dtype, build, number, op = REFUSED[name]
    want = "int64" if dtype == "bool" else dtype
    x = Tensor(tb.arr([1, 0], dtype))
    match = rf"^{op}: the Python integer {number} does not fit the {want} operand .*astype"
    with pytest.raises(OverflowError, match=match):
        build(x)
    p = xpgrad.placeholder(shape=(2,), dtype=dtype, backend=tb.name, device=tb.device)
    with pytest.raises(OverflowError, match=match):  # a declared dtype: refused at build time too
        build(p)
    q = xpgrad.placeholder(backend=tb.name, device=tb.device)  # dtype known once fed: refused when evaluated
    y = build(q)
    q.value = x.value
    with pytest.raises(OverflowError, match=match):
        y.forward()
    with pytest.raises(OverflowError, match=match):
        xpgrad.function([q], y)(x.value)


def test_the_refusal_is_not_memoized_away(tb) -> None:
    # decisions are memoized by the operands' build-time facts: a number in range must not open the way for one
    # out of range (a constant's facts say which integer dtypes hold it)
    x = Tensor(tb.arr([1, 2], "int8"))
    for ok in (100, 127, -128, 0, 1):
        np.testing.assert_array_equal(tb.np(x + ok), tb.np(x.value + ok))
    for bad in (128, 300, -129, 2**70):
        with pytest.raises(OverflowError, match=f"the Python integer {bad} does not fit the int8"):
            x + bad
    u = Tensor(tb.arr([1, 2], "uint8"))
    assert tb.np(u + 255).tolist() == [0, 1]  # in range: the sum wraps around, as NumPy's
    with pytest.raises(OverflowError, match="-1 does not fit the uint8"):
        u + (-1)


def test_integer_arithmetic_wraps_around_as_numpy(tb) -> None:
    # the README says so: Tensor(2**62) * 4 is 0 in int64, and the Tensors hold what the backend computes
    big = Tensor(tb.arr(2**62, "int64"))
    assert (big * 4).item() == 0
    assert (Tensor(tb.arr(127, "int8")) + 1).item() == -128
    np.testing.assert_array_equal(tb.np(big * 4), tb.np(tb.xp.multiply(big.value, tb.arr(4, "int64"))))
    assert (Tensor(3) * Tensor(5)).item() == 15 and (Tensor(3) * Tensor(5)).dtype == np.int64
