"""Fused programs of integers (issue 18): every elementwise op of the table, on every integer dtype it accepts,
fused against eager bit for bit, or refused naming the op and the dtype.

The data hold each dtype's extremes (wrap-around of +, -, *, negation and ``abs`` of the minimum), zeros and -1 as
divisors (NumPy gives 0 for a division by zero, and ``MIN // -1`` wraps), and shift counts from negative to past
the width (NumPy's ``npy_lshift``/``npy_rshift`` give 0, or -1 for ``>>`` of a negative value).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xpgrad
from fuse_cases import ELEMENTWISE, apply_op, integer_values
from xpgrad._compile.fuse import FusionError, fuse
from xpgrad._compile.fuse.integers import INTEGER_DTYPES

pytest.importorskip("numba", reason="the numba engine fuses integer programs; numba is not installed")

MUST_FUSE = {
    "add",
    "subtract",
    "multiply",
    "negative",
    "abs",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "floor_divide",
    "remainder",
}
"""The integer ops issue 18 asks a fused form of (the others with an integer form are checked the same way)."""


def _fuses(name: str) -> bool:
    """Op ``name``'s table entry gives it an integer form (`OpDef.int_c`, not a refusal)."""
    int_c = xpgrad.OPS[name].int_c
    return int_c is not None and not int_c.refused


def _graph(name: str, dtype: str) -> tuple[list[Any], list[Any]] | None:
    """Integer placeholders, the op's result and, for a 64-bit dtype, its sum; None where eager refuses the
    dtype (the op does not accept integers)."""
    op = xpgrad.OPS[name]
    ps = [xpgrad.placeholder(shape=(None,), dtype=dtype, name=f"x{k}") for k in range(op.arity)]
    args: list[Any] = list(ps)
    if name == "where":
        args[0] = ps[0] > 0
    try:
        r = apply_op(name, args)
        probe = [np.ones(3, dtype)] * op.arity
        with np.errstate(all="ignore"):
            fuse(ps, [r], engine="unfused")(*probe)
    except TypeError:
        return None
    outs = [r]
    if INTEGER_DTYPES[dtype] == 64 and op.result != "bool":
        outs.append(xpgrad.sum(r))
    return ps, outs


CASES = [(name, dtype) for name in ELEMENTWISE for dtype in INTEGER_DTYPES]


@pytest.mark.parametrize(("name", "dtype"), CASES, ids=[f"{n}-{d}" for n, d in CASES])
def test_every_elementwise_op_on_integers_fuses_exactly_or_is_refused_by_name(name: str, dtype: str) -> None:
    got = _graph(name, dtype)
    if got is None:  # eager refuses integers of this dtype: nothing to fuse
        assert name not in MUST_FUSE
        return
    ps, outs = got
    if not _fuses(name):  # (a float result, a bool op, pow): refused, naming the op and what it computes in
        with pytest.raises(FusionError, match=rf"op '{name}' (has no fused form for {dtype} operands|computes in)"):
            fuse(ps, outs, engine="numba")
        return
    f = fuse(ps, outs, engine="numba")
    data = integer_values(dtype, len(ps))
    with np.errstate(all="ignore"):  # NumPy warns at an integer division by zero (and gives 0)
        want = fuse(ps, outs, engine="unfused")(*data)
    got_values = f(*data)
    for g, w in zip(got_values, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def test_pow_of_integers_is_refused_naming_the_dtype() -> None:
    """NumPy raises for an integer to a negative integer power; a kernel cannot raise, so pow is refused, saying
    what to do instead."""
    x = xpgrad.placeholder(shape=(None,), dtype="int32")
    with pytest.raises(FusionError, match=r"op 'pow' has no fused form for int32 operands \(NumPy raises") as e:
        fuse([x], [x**2], engine="numba")
    assert "x * x" in str(e.value) and "floating dtype" in str(e.value) and "engine='unfused'" in str(e.value)


def test_a_sum_of_narrow_integers_is_in_the_backends_dtype() -> None:
    """NumPy sums int8 in int64 and uint16 in uint64: the fused sum too, wrapping around as NumPy's does."""
    for dtype, want in (("int8", np.int64), ("uint16", np.uint64), ("int64", np.int64)):
        x = xpgrad.placeholder(shape=(None,), dtype=dtype)
        f = fuse([x], [xpgrad.sum(x * x), xpgrad.prod(x)], engine="numba")
        info = np.iinfo(dtype)
        data = np.array([info.max, info.max, info.min, 3, 5] * 1000, dtype)
        with np.errstate(all="ignore"):
            got, expect = f(data), fuse([x], [xpgrad.sum(x * x), xpgrad.prod(x)], engine="unfused")(data)
        for g, e in zip(got, expect, strict=True):
            assert np.asarray(g).dtype == want and g == e


REFUSED_BY_DOMAIN = ("floating", "real_floating", "bool")
"""Domains whose ops never compute on integers: they cast integer operands to a floating dtype (a program of
integers refuses their floating result: "computes in float64"), or take bools only."""


def test_every_elementwise_op_has_an_integer_form_or_a_reason_in_its_table_entry() -> None:
    """Issue 15's "an op is one table entry": each elementwise op's entry says how it computes on integers
    (`OpDef.int_c`: a form for signed and one for unsigned dtypes, for numba and CUDA), or why it cannot (a refusal
    that `fuse` quotes, or a domain that never gives it integers); the fused engines read nothing else."""
    for name in ELEMENTWISE:  # (the table's ops, not those tests define while running)
        op = xpgrad.OPS[name]
        if op.int_c is None:
            assert op.domain in REFUSED_BY_DOMAIN, f"{name} ({op.domain}) has no integer form and no refusal"
        elif op.int_c.refused:
            assert op.int_c.signed is None and op.int_c.unsigned is None, name
            assert "unfused" in op.int_c.refused, f"{name}'s refusal must say what to do"
        else:
            for form in (op.int_c.signed, op.int_c.unsigned):
                assert form is not None and form.numba and form.cuda, name
    assert [n for n in ELEMENTWISE if (c := xpgrad.OPS[n].int_c) is not None and c.refused] == ["pow"]
    assert {n for n in MUST_FUSE if not _fuses(n)} == set()
