"""Comparing results bit for bit, and drawing data that shows every difference (shared by the tests that
check that a rewrite, a pickle round trip or a compiled graph gives exactly eager's values); and the small
random programs the composition fuzzers draw and run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st


def draw(rng: np.random.Generator, n: int, dtype: str) -> np.ndarray:
    """``n`` random values of ``dtype`` with the values where results differ first: for floating dtypes zeros
    of both signs, infinities, nan, subnormals and the largest finite (complex: in both parts, drawn apart;
    1j * inf would put a nan in the real part); for integers both extremes, 0, 1 and -1; for bool both."""
    if dtype.startswith("complex"):
        out = np.empty(n, dtype=dtype)
        part = "float64" if dtype == "complex128" else "float32"
        out.real, out.imag = draw(rng, n, part), draw(rng, n, part)
        return out
    if dtype == "bool":
        return rng.integers(0, 2, size=n).astype(bool)
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        special = np.array(
            sorted({int(info.min), int(info.max), 0, 1, int(info.max) - 1} | ({-1} if info.min else set())),
            dtype=dtype,
        )
        drawn = rng.integers(int(info.min), int(info.max), size=n, endpoint=True, dtype=dtype)
        a = np.concatenate([special, drawn])
        return rng.permutation(a)[:n] if n < len(special) else rng.permutation(a[:n])
    fi = np.finfo(dtype)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, fi.smallest_subnormal, -fi.smallest_subnormal, fi.max, -fi.max]
    special += [1.0, -1.0, 2.5, fi.tiny / 3]
    with np.errstate(over="ignore"):  # (float16: the drawn magnitudes beyond its range are inf)
        a = (rng.normal(size=n) * 10.0 ** rng.integers(-5, 5, size=n)).astype(dtype)
    a = np.concatenate([np.array(special, dtype=dtype), a])
    return rng.permutation(a)[:n] if n < len(special) else rng.permutation(a[:n])


def same_bits(got: np.ndarray, want: np.ndarray) -> None:
    """``got`` is ``want``: the same dtype and shape, and every element the same bits (a nan may differ in its
    sign bit, which IEEE 754 leaves unspecified; -0.0 is not 0.0). Complex part by part."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if want.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, want)
        return
    if want.dtype.kind == "c":
        same_bits(got.real, want.real)
        same_bits(got.imag, want.imag)
        return
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    ints = {2: np.uint16, 4: np.uint32, 8: np.uint64}[want.dtype.itemsize]
    np.testing.assert_array_equal(got[~nan].view(ints), want[~nan].view(ints))


def programs(unary: dict[str, Any], binary: dict[str, Any]) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """1 to 6 steps, each ``("u", name, i)`` (``unary[name]`` of value ``i``) or ``("b", name, i, j)``; the
    indices are taken modulo the number of values so far (see `run_program`)."""
    return st.lists(
        st.one_of(
            st.tuples(st.just("u"), st.sampled_from(sorted(unary)), st.integers(0, 99)),
            st.tuples(st.just("b"), st.sampled_from(sorted(binary)), st.integers(0, 99), st.integers(0, 99)),
        ),
        min_size=1,
        max_size=6,
    )


def run_program(
    program: Sequence[tuple[Any, ...]],
    leaves: Sequence[Any],
    unary: dict[str, Callable[[Any], Any]],
    binary: dict[str, Callable[[Any, Any], Any]],
    *,
    skip: type[Exception] | tuple[type[Exception], ...] = (),
) -> list[Any]:
    """The leaves, then the value of each step of ``program`` (drawn by `programs`); a binary step that
    raises ``skip`` (e.g. shapes that do not broadcast) adds no value."""
    vals = list(leaves)
    for step in program:
        if step[0] == "u":
            vals.append(unary[step[1]](vals[step[2] % len(vals)]))
        else:
            try:
                vals.append(binary[step[1]](vals[step[2] % len(vals)], vals[step[3] % len(vals)]))
            except skip:
                continue
    return vals
