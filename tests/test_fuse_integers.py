"""Fused programs of integers (issue 18): every elementwise op of the table, on every integer dtype it accepts,
fused against eager bit for bit, or refused naming the op and the dtype.

The data hold each dtype's extremes (wrap-around of +, -, *, negation and ``abs`` of the minimum), zeros and -1 as
divisors (NumPy gives 0 for a division by zero, and ``MIN // -1`` wraps), and shift counts from negative to past
the width (NumPy's ``npy_lshift``/``npy_rshift`` give 0, or -1 for ``>>`` of a negative value).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import xpgrad
from fuse_cases import ELEMENTWISE, apply_op
from xpgrad._compile.fuse import FusionError, fuse
from xpgrad._compile.fuse.integers import FORMS, INTEGER_DTYPES

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
"""The integer ops issue 18 asks a fused form of (the others of `FORMS` are checked the same way)."""


def _values(dtype: str, arity: int) -> list[Any]:
    """Each operand's values: every pair of the specials (extremes, 0, +-1, +-2, small and shift counts around
    the width), then random ones, as arrays of ``dtype``."""
    info, w = np.iinfo(dtype), INTEGER_DTYPES[dtype]
    specials = {info.min, info.min + 1, info.max, info.max - 1, 0, 1, 2, 3, 7, w - 1, w, w + 1, 2 * w, 100}
    if info.min < 0:
        specials |= {-1, -2, -3, -w, -(w + 1)}
    specials = sorted(v for v in specials if info.min <= v <= info.max)
    rng = np.random.default_rng(18)
    rand = rng.integers(info.min, info.max, size=200, dtype=dtype, endpoint=True)
    if arity == 1:
        return [np.concatenate([np.array(specials, dtype), rand])]
    pairs = np.array(list(itertools.product(specials, repeat=arity)), dtype=dtype).T
    more = rng.integers(info.min, info.max, size=(arity, 200), dtype=dtype, endpoint=True)
    return [np.concatenate([p, m]) for p, m in zip(pairs, more, strict=True)]


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
    if name not in FORMS:  # (a float result, a bool op, pow): refused, naming the op and what it computes in
        with pytest.raises(FusionError, match=rf"op '{name}' (has no fused form for {dtype} operands|computes in)"):
            fuse(ps, outs, engine="numba")
        return
    f = fuse(ps, outs, engine="numba")
    data = _values(dtype, len(ps))
    with np.errstate(all="ignore"):  # NumPy warns at an integer division by zero (and gives 0)
        want = fuse(ps, outs, engine="unfused")(*data)
    got_values = f(*data)
    for g, w in zip(got_values, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


def test_pow_of_integers_is_refused_naming_the_dtype() -> None:
    """NumPy raises for an integer to a negative integer power; a kernel cannot raise, so pow is refused."""
    x = xpgrad.placeholder(shape=(None,), dtype="int32")
    with pytest.raises(FusionError, match=r"op 'pow' has no fused form for int32 operands \(NumPy raises"):
        fuse([x], [x**2], engine="numba")


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


def test_the_cuda_engine_refuses_an_integer_program(monkeypatch: pytest.MonkeyPatch) -> None:
    import fake_cupy

    fake_cupy.install(monkeypatch)
    from xpgrad._compile.fuse import cuda
    from xpgrad._compile.fuse.lower import lower

    x = xpgrad.placeholder(shape=(None,), dtype="int64")
    with pytest.raises(FusionError, match="CUDA engine fuses floating programs only, and this one computes in int64"):
        cuda.compile_cuda(lower([x], [x + 1]))
