"""Long fused programs are compiled as stages (issue 18, item 7): a program of more than `native.SPLIT` elementwise
instructions is written as functions of `native.STAGE` instructions each, called in turn for each element, the
values between them passed through a scratch array. LLVM's time on one function grew faster than its size (a
10^4-op chain with its gradient, one function of 20,004 instructions, took 3.3 s of LLVM; 3 * 10^4 ops were refused
past 25,000 instructions); stages bound every function, so the compile is linear in the program.

A split kernel computes the same operations in the same order as one function: its outputs, sums included, are
the unsplit kernel's bits (checked by splitting small programs into stages of a few instructions)."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import xpgrad
from fuse_cases import BATCH, FUSIBLE_OPS, agree, inputs, ops_together, placeholders, same, with_grads
from xpgrad._compile.fuse import FusionError, cpu, fuse, lower, native

pytest.importorskip("numba", reason="the fuse extra (numba) is not installed; fused kernels run unfused")


def _bits(a: Any) -> tuple[str, tuple[int, ...], bytes]:
    """An array's dtype, shape and bits, every nan made one (its sign and payload are the machine's: x86 makes
    -nan of an invalid operation, where LLVM folding a constant one makes +nan; no kernel promises them)."""
    a = np.asarray(a)
    if a.dtype.kind in "fc":
        a = np.where(np.isnan(a), np.array(np.nan, a.dtype), a)
    return str(a.dtype), a.shape, a.tobytes()


def _numba(ins: list[Any], outs: list[Any]) -> Any:
    return fuse(ins, outs, engine="numba")


def _split(monkeypatch: pytest.MonkeyPatch, stage: int) -> None:
    """Every program split, into stages of ``stage`` elementwise instructions."""
    monkeypatch.setattr(native, "SPLIT", 0)
    monkeypatch.setattr(native, "STAGE", stage)


def _functions(ir: str) -> dict[str, int]:
    """The lines of each function of a kernel's IR, by name."""
    sizes: dict[str, int] = {}
    name = None
    for line in ir.splitlines():
        m = re.match(r"define .*@(\w+)\(", line)
        if m:
            name = m.group(1)
            sizes[name] = 0
        elif line == "}":
            name = None
        elif name is not None:
            sizes[name] += 1
    return sizes


def _chain(n_ops: int) -> tuple[Any, list[Any]]:
    """B2's op chain (`benchmarks.exprs.op_chain`), its sum and the gradient."""
    (x,) = placeholders(1)
    y = x
    for i in range(n_ops):
        y = y * 1.0001 if i % 3 == 0 else y + 0.001 if i % 3 == 1 else xpgrad.sin(y)
    return x, with_grads(xpgrad.sum(y), [x])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("first", range(0, len(FUSIBLE_OPS), BATCH))
def test_every_op_split_into_stages_gives_the_unsplit_kernels_bits(
    monkeypatch: pytest.MonkeyPatch, first: int, dtype: str
) -> None:
    """Each fusible op's value, sum and gradients (bools, specials, inf and nan included), split into stages of
    2 instructions: the bits of the kernel compiled as one function, and the unfused graph's values."""
    names = tuple(FUSIBLE_OPS[first : first + BATCH])
    whole = ops_together(names, dtype, _numba)
    _split(monkeypatch, 2)
    split = ops_together(names, dtype, _numba)
    assert "@stage1(" in split.fused.source and "@stage" not in whole.fused.source  # type: ignore[attr-defined]
    for name in names:
        got, plain = split.outputs[name]
        assert [_bits(a) for a in got] == [_bits(a) for a in whole.outputs[name][0]], name
        same(got, plain, dtype, 5000)


def _features(n: int, dtype: str) -> tuple[list[Any], list[Any], list[Any]]:
    """A graph of every kind of value a stage reads or writes: a 0-d input (a uniform value passed to the
    stages), a captured leaf, bools crossing stages, a uniform output, a count (a mean's gradient), sums, a mean
    and a product, and a gradient of the 0-d input (a sum)."""
    x = xpgrad.placeholder(shape=(None,), dtype=dtype, name="x")
    s = xpgrad.placeholder(shape=(), dtype=dtype, name="s")
    w = xpgrad.Tensor(np.linspace(-1.0, 1.0, n).astype(dtype))
    c = x * s + w
    m = c > 0.1
    y = xpgrad.where(m, xpgrad.sin(c), c * c)
    loss = xpgrad.mean(y)
    outs = [y, m, s * 2.0, xpgrad.sum(y), xpgrad.mean(y * x), xpgrad.prod(1.0 + y * 1e-6), *xpgrad.grad(loss, [x, s])]
    rng = np.random.default_rng(n)
    return [x, s], outs, [rng.uniform(-2.0, 2.0, n).astype(dtype), np.asarray(0.75, dtype)]


@pytest.mark.parametrize("stage", [1, 3, 1000])
@pytest.mark.parametrize("n", [7, cpu.SERIAL_BELOW + 5000])  # serial, and in parallel chunks
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_kind_of_value_crosses_stages(monkeypatch: pytest.MonkeyPatch, stage: int, n: int, dtype: str) -> None:
    ins, outs, args = _features(n, dtype)
    want = [_bits(a) for a in _numba(ins, outs)(*args)]
    _split(monkeypatch, stage)
    f = _numba(ins, outs)
    assert "@stage0(" in f.source  # type: ignore[attr-defined]
    assert [_bits(a) for a in f(*args)] == want
    agree(f, ins, outs, *args, dtype=dtype)


@pytest.mark.parametrize("dtype", ["int64", "int8", "uint32"])
def test_integer_programs_split_into_stages(monkeypatch: pytest.MonkeyPatch, dtype: str) -> None:
    a, b = (xpgrad.placeholder(shape=(None,), dtype=dtype, name=k) for k in "ab")
    c = a * b + (a // 3) - (b % 5)
    outs = [c, c > a, xpgrad.sum(c), xpgrad.sum(a > b)]
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    args = [rng.integers(max(info.min, -100), min(info.max, 100), 5000).astype(dtype) for _ in range(2)]
    want = [_bits(v) for v in _numba([a, b], outs)(*args)]
    _split(monkeypatch, 2)
    f = _numba([a, b], outs)
    assert "@stage1(" in f.source  # type: ignore[attr-defined]
    assert [_bits(v) for v in f(*args)] == want
    assert [_bits(v) for v in f(*args)] == [_bits(v) for v in xpgrad.function([a, b], outs)(*args)]


def test_a_thirty_thousand_op_chain_fuses_as_stages_of_bounded_size() -> None:
    """A 3 * 10^4-op chain with its gradient (60,003 instructions) was refused past 25,000; it compiles as stages
    now, every function of its IR bounded by `native.STAGE` whatever the program's length (LLVM's time on each is
    bounded: the compile is linear), and its gradient is `xpgrad.function`'s, bit for bit."""
    x, outs = _chain(30_000)
    body = lower.lower([x], outs).body
    elementwise = sum(i.kind == "v" for i in body)
    assert len(body) > 60_000 and elementwise > native.SPLIT
    f = _numba([x], outs)
    sizes = _functions(f.source)  # type: ignore[attr-defined]
    stages = [k for k in sizes if k.startswith("stage")]
    assert len(stages) == math.ceil(elementwise / native.STAGE)
    # a stage: per instruction, a call and its load, or an fadd..; the values read and written
    assert max(sizes[k] for k in stages) <= 6 * native.STAGE
    assert sizes["kernel"] <= 2 * len(stages) + 200  # a call a stage, and a bounded loop around them
    assert f.source.count("declare ") <= 10  # type: ignore[attr-defined]  # (sin, cos.. once, malloc and free)
    data = np.linspace(-2.0, 2.0, 1000)
    got, want = f(data), xpgrad.function([x], outs)(data)
    np.testing.assert_array_equal(got[1], want[1])  # (the same operations in the same order: the same bits)
    same(got, want, "float64", len(data))


def test_a_program_past_the_limit_is_refused_before_it_is_lowered_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past `lower.MAX_INSTRUCTIONS` lowering stops and refuses, with the figures: the time to the refusal is that
    of lowering the limit's instructions, not the whole graph (a 10^6-op chain would take ~30 s to lower)."""
    x, outs = _chain(3000)
    calls = 0
    node = lower._Lowering.node

    def counted(self: Any, *args: Any) -> None:
        nonlocal calls
        calls += 1
        node(self, *args)

    monkeypatch.setattr(lower._Lowering, "node", counted)
    monkeypatch.setattr(lower, "MAX_INSTRUCTIONS", 100)
    want = r"more than the 100 scalar instructions one kernel is compiled from \(about [\d,]+, from the part lowered"
    with pytest.raises(FusionError, match=want):
        fuse([x], outs, engine="numba")
    assert calls < 200
    with pytest.raises(FusionError, match=r"took \d+ s\); fuse parts of the graph separately, or run it unfused"):
        fuse([x], outs, engine="numba")
    assert len(fuse([x], outs, engine="unfused")(np.ones(3))) == 2  # unfused: no kernel to compile


def test_a_split_programs_inputs_are_read_by_the_stages_that_need_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two inputs and many values crossing stages: the scratch holds only what a later stage reads (a slot is
    reused once its value is read for good), and every input is read where an instruction needs it."""
    x, y = placeholders(2)
    z = x
    for k in range(60):
        z = xpgrad.sin(z) * y + float(k)
    outs = with_grads(xpgrad.sum(z), [x, y])
    args = inputs(3000, 2)
    want = [_bits(v) for v in _numba([x, y], outs)(*args)]
    _split(monkeypatch, 7)
    f = _numba([x, y], outs)
    assert [_bits(v) for v in f(*args)] == want
    prog = lower.lower([x, y], outs)
    plan = native._plan(prog, prog.arrays)
    assert plan is not None and 0 < plan.slots < len(plan.slot)  # (slots reused)
