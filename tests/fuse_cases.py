"""Graphs and inputs shared by the fused-kernel tests (fused == unfused on each)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import xpgrad
from xpgrad._compile import fuse as _fuse

SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e300, -1e300, 1e-310, np.inf, -np.inf, np.nan]


def inputs(n: int, k: int, dtype: str = "float64", seed: int = 0) -> list[np.ndarray]:
    """``k`` arrays of ``n`` values: random ones, then every pair of special values (inf, nan, -0.0...)."""
    rng = np.random.default_rng(seed)
    m = len(SPECIALS)
    out = []
    for j in range(k):
        a = rng.uniform(-3.0, 3.0, n)
        grid = np.array(SPECIALS)[(np.arange(m * m) // m**j) % m] if k > 1 else np.array(SPECIALS)
        a[: len(grid)] = grid[:n]
        with np.errstate(over="ignore"):  # 1e300 is inf in float32
            out.append(a.astype(dtype))
    return out


def integer_values(dtype: str, arity: int) -> list[Any]:
    """Each operand's values: every pair of the specials (extremes, 0, +-1, +-2, small and shift counts around
    the width), then random ones, as arrays of ``dtype``."""
    info = np.iinfo(dtype)
    w = info.bits
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


def placeholders(k: int, dtype: str = "float64", backend: str | None = None) -> list[xpgrad.Tensor]:
    return [xpgrad.placeholder(shape=(None,), dtype=dtype, backend=backend, name=f"x{j}") for j in range(k)]


def compute_bound(x: Any, y: Any) -> Any:
    return xpgrad.sum(xpgrad.sin(x) * y + xpgrad.exp(x * y) / (1 + y * y))


def memory_bound(x: Any, y: Any) -> Any:
    return xpgrad.sum((x * y + x) * y)


B1: dict[str, Callable[..., Any]] = {"compute": compute_bound, "memory": memory_bound}


def with_grads(out: Any, ps: list[Any]) -> list[Any]:
    return [out, *xpgrad.grad(out, ps)]


def op_graph(name: str, backend: str | None = None, dtype: str = "float64") -> tuple[list[Any], list[Any]]:
    """Placeholders and outputs exercising op ``name``: its result, a sum of it, and its gradients. An op of bool
    operands (logical, bitwise) gets comparisons of the placeholders; a bool result selects between them."""
    op = xpgrad.OPS[name]
    ps = placeholders(op.arity, dtype, backend)
    args: list[Any] = list(ps)
    if name == "where":
        args[0] = ps[0] > 0.25
    elif op.domain in ("bool", "integer_or_bool"):
        args = [p > 0.25 for p in ps]
    r = apply_op(name, args)
    if op.result == "bool" or op.domain in ("bool", "integer_or_bool"):
        r = xpgrad.where(r, ps[0], ps[1] if len(ps) > 1 else 2 * ps[0])
    outs = [r, xpgrad.sum(r)]
    try:
        outs += xpgrad.grad(xpgrad.sum(r), ps)
    except NotImplementedError:
        pass
    return ps, outs


def apply_op(name: str, args: list[Any]) -> Any:
    from xpgrad._core.build import apply

    return apply(xpgrad.OPS[name], *args)


ELEMENTWISE = sorted(n for n, op in xpgrad.OPS.items() if op.elementwise)
"""The checklist of the fused engines: every elementwise op of the table."""
FUSIBLE_OPS = [n for n in ELEMENTWISE if xpgrad.OPS[n].domain != "integer"]
"""The elementwise ops a fused program can hold: its values are of its floating dtype or bool, so an op of
integers only never reaches a kernel (`fuse` refuses the integer inputs)."""

BATCH = 8
"""Ops whose graphs `ops_together` compiles into one kernel: a compile an op cost the table's walks (65 ops, two
dtypes, two engines) about a minute of CPU; eight ops a kernel compile in about a third of the time."""


def batch_of(name: str) -> tuple[str, ...]:
    """The ops of `FUSIBLE_OPS` compiled with ``name`` (its batch of `BATCH`)."""
    k = FUSIBLE_OPS.index(name) // BATCH * BATCH
    return tuple(FUSIBLE_OPS[k : k + BATCH])


@dataclass
class Together:
    """`ops_together`'s result: each op's fused and unfused outputs, the fused function and its graph."""

    outputs: dict[str, tuple[list[Any], list[Any]]]
    fused: Callable[..., list[Any]]
    inputs: list[Any]
    graph: list[Any]


def ops_together(names: tuple[str, ...], dtype: str, compile: Callable[..., Any], n: int = 5000) -> Together:
    """Each op's `op_graph` on its own placeholders and `inputs` (the data it gets alone), all compiled by
    ``compile(inputs, outputs)`` into one kernel and called once, beside the unfused graph's results."""
    graphs = [op_graph(name, dtype=dtype) for name in names]
    ps = [p for g, _ in graphs for p in g]
    outs = [o for _, g in graphs for o in g]
    data = [a for g, _ in graphs for a in inputs(n, len(g), dtype)]
    f = compile(ps, outs)
    with np.errstate(invalid="ignore"):  # NumPy (standing in for CuPy) warns at inf - inf in the final sums
        fused = [np.asarray(v) for v in f(*data)]
    plain = unfused(ps, outs)(*data)
    result, k = {}, 0
    for name, (_, g) in zip(names, graphs, strict=True):
        result[name] = (fused[k : k + len(g)], plain[k : k + len(g)])
        k += len(g)
    return Together(result, f, ps, outs)


def unfused(ps: list[Any], outs: list[Any]) -> Callable[..., list[Any]]:
    """The reference: the graph evaluated op by op (NumPy's warnings on inf/nan silenced)."""
    f = _fuse.fuse(ps, outs, engine="unfused")

    def run(*arrays: Any) -> list[Any]:
        with np.errstate(all="ignore"):
            return f(*arrays)

    return run


ULP = {"float64": 4 * np.finfo(np.float64).eps, "float32": 4 * np.finfo(np.float32).eps}


def agree(
    fused: Callable[..., list[Any]], ps: list[Any], outs: list[Any], *arrays: Any, dtype: str = "float64"
) -> list:
    """Call a fused function of ``outs`` and check that it gives the unfused results (`same`); its outputs."""
    with np.errstate(invalid="ignore"):  # NumPy (standing in for CuPy) warns at inf - inf in the final sums
        got = [np.asarray(v) for v in fused(*arrays)]
    same(got, unfused(ps, outs)(*arrays), dtype, max((np.size(a) for a in arrays), default=1))
    return got


def same(fused: list, plain: list, dtype: str, n_sum_terms: int) -> None:
    """Fused outputs equal unfused ones: specials exactly (inf, nan, and the sign of a zero), elementwise within ULP,
    sums within the summation-order bound (both given as host NumPy arrays)."""
    assert len(fused) == len(plain)
    for f, u in zip(fused, plain, strict=True):
        f, u = np.asarray(f), np.asarray(u)
        assert f.shape == u.shape and f.dtype == u.dtype
        if f.ndim == 0:  # a sum: same specials, and within the summation-order bound
            if not np.isfinite(u):
                np.testing.assert_array_equal(f, u)
                continue
            eps = np.finfo(u.dtype).eps
            bound = (1024 + n_sum_terms / 1024 + 64) * eps * max(abs(float(u)), 1.0) * 8
            assert abs(float(f) - float(u)) <= bound
        else:
            np.testing.assert_array_equal(np.isnan(f), np.isnan(u))
            finite = np.isfinite(u)
            np.testing.assert_array_equal(f[~finite], u[~finite])
            zero = u == 0  # a zero keeps its sign (-0.0 is a special value too)
            np.testing.assert_array_equal(np.signbit(f[zero]), np.signbit(u[zero]))
            err = np.abs(f[finite].astype(np.float64) - u[finite])
            assert np.all(err <= ULP[dtype] * (np.abs(u[finite]) + 1)), float(np.max(err))


def finite_sums(n: int, dtype: str = "float64", backend: str | None = None) -> tuple[list[Any], list[Any], list[Any]]:
    """Placeholders, outputs with several sums and means (and elementwise ones), and positive inputs (finite
    sums: an error shows, where the special values of `inputs` make most sums inf or nan)."""
    x, y = placeholders(2, dtype, backend)
    outs = [xpgrad.sum(x * y), xpgrad.mean(x * y), x > y, xpgrad.sum(x + y), xpgrad.mean(y), x * y]
    rng = np.random.default_rng(n)
    return [x, y], outs, [rng.uniform(0.5, 1.5, n).astype(dtype) for _ in range(2)]  # positive: no cancellation


def sums_are_exact(got: list[Any], data: list[Any], dtype: str) -> None:
    """The sums and means of `finite_sums` against exact ones (``math.fsum`` of the float64 values)."""
    import math

    a, b = (np.asarray(d, dtype=np.float64) for d in data)
    n = a.size
    exact = [math.fsum(a * b), math.fsum(a * b) / n, math.fsum(a + b), math.fsum(b) / n]
    rel = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose([float(got[k]) for k in (0, 1, 3, 4)], exact, rtol=rel)


def refuses_bad_calls(f: Callable[..., Any], xp: Any) -> None:
    """``f``, fused from two float64 placeholders, refuses mismatched shapes, another dtype, a wrong count and an
    argument that is not an array, a number or a list of numbers."""
    import pytest

    with pytest.raises(ValueError, match="shape"):
        f(xp.zeros(3), xp.zeros(4))
    with pytest.raises(TypeError, match="dtype"):
        f(xp.zeros(3, xp.float32), xp.zeros(3, xp.float32))
    with pytest.raises(TypeError, match="takes 2 arrays"):
        f(xp.zeros(3))
    with pytest.raises(ValueError, match=r"input 1 has shape \(\); it was fused as an array"):
        f(xp.zeros(3), 2.0)  # a number is made an array as feeding makes it: 0-d, not this input's shape
    with pytest.raises(TypeError, match=r"input 0: placeholder .x0.: cannot make a \w+ array from str"):
        f("abc", xp.zeros(2))
