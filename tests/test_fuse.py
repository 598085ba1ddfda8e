"""Fused CPU kernels (numba): the same results as the unfused graph, inf and nan included.

Bound (documented in `xpgrad._compile.fuse.cpu`): elementwise outputs are the same IEEE operations in the
same order, so they agree up to the math library's last bits: |fused - unfused| <= 4 eps (|unfused| + 1)
(NumPy's float32 sin/exp are its own SIMD routines, numba calls libm); sums differ
only in summation order, within ``(1024 + n/1024 + chunks) * eps * sum|summand|``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import xpgrad
from fuse_cases import (
    B1,
    ELEMENTWISE,
    FUSIBLE_OPS,
    Together,
    agree,
    batch_of,
    inputs,
    ops_together,
    placeholders,
    refuses_bad_calls,
    same,
    unfused,
    with_grads,
)
from in_threads import run_in_threads
from xpgrad._compile.fuse import FusionError, fuse

pytest.importorskip("numba", reason="the fuse extra (numba) is not installed; fused kernels run unfused")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("expr", sorted(B1))
def test_b1_fused_equals_unfused(expr: str, dtype: str) -> None:
    ps = placeholders(2, dtype)
    outs = with_grads(B1[expr](*ps), ps)
    f = fuse(ps, outs, engine="numba")
    for n in (1, 150, 100_003):
        data = inputs(n, 2, dtype)
        same(f(*data), unfused(ps, outs)(*data), dtype, n)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("expr", sorted(B1))
def test_b1_fused_sums_of_finite_inputs(expr: str, dtype: str) -> None:
    ps = placeholders(2, dtype)
    outs = with_grads(B1[expr](*ps), ps)
    rng = np.random.default_rng(3)
    data = [rng.uniform(-1, 1, 300_001).astype(dtype) for _ in range(2)]
    same(fuse(ps, outs, engine="numba")(*data), unfused(ps, outs)(*data), dtype, 300_001)


@functools.cache
def _fused_together(names: tuple[str, ...], dtype: str) -> Together:
    return ops_together(names, dtype, lambda ins, outs: fuse(ins, outs, engine="numba"))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_elementwise_op_of_the_table_fuses_and_agrees(name: str) -> None:
    """The op table is the checklist: each elementwise op fuses, its value, sum and gradients equal to the
    unfused graph's (eager's) in float64 and float32, specials included. An op of integers only is checked on every
    integer dtype by tests/test_fuse_integers.py (its form is its entry's ``int_c``, of integers)."""
    op = xpgrad.OPS[name]
    if op.domain == "integer":
        assert op.c is None and name not in FUSIBLE_OPS and op.int_c is not None and not op.int_c.refused
        return
    for dtype in ("float64", "float32"):
        fused, plain = _fused_together(batch_of(name), dtype).outputs[name]
        same(fused, plain, dtype, 5000)


@pytest.mark.parametrize("name", FUSIBLE_OPS)
def test_every_fused_form_computes_float32_in_float32(name: str) -> None:
    """numba types each expression from its operands: a form mixing in a float64 (a Python float, a function
    without a float32 version) computes a float32 program's values in float64 and rounds once more on the
    store, which the ulp bound of the test above cannot see. Every value the op computes is float32 or bool."""
    from xpgrad._compile.fuse import cpu
    from xpgrad._compile.fuse.lower import lower

    run = _fused_together(batch_of(name), "float32")
    body = lower(run.inputs, run.graph).body
    kernel = cpu._compiled[run.fused.source]  # type: ignore[attr-defined]
    # the numba type of each of the op's instructions (each is numba's compile of its form on its operands' types)
    types = {i.var: str(kernel.types[i.var]) for i in body if i.op == name}
    assert types and {v: t for v, t in types.items() if t not in ("float32", "bool")} == {}


def test_auto_engine_is_numba_and_leaves_are_captured() -> None:
    (x,) = placeholders(1)
    w = xpgrad.Tensor(np.linspace(0.0, 1.0, 7))
    out = xpgrad.sum(xpgrad.sin(x) * w + 2.5)
    outs = with_grads(out, [x])
    f = fuse([x], outs)
    assert "define void @body" in f.source  # type: ignore[attr-defined]  # (the kernel's LLVM IR)
    data = np.linspace(-1.0, 1.0, 7)
    same(f(data), unfused([x], outs)(data), "float64", 7)


def test_mean_and_a_gradient_that_is_a_constant() -> None:
    (x,) = placeholders(1)
    out = xpgrad.mean(x * 3.0)
    outs = with_grads(out, [x])
    data = np.arange(10.0)
    fused = fuse([x], outs, engine="numba")(data)
    np.testing.assert_allclose(fused[0], 13.5)
    np.testing.assert_allclose(fused[1], np.full(10, 0.3))
    same(fused, unfused([x], outs)(data), "float64", 10)


def test_unfusible_graphs_name_the_op() -> None:
    x = xpgrad.placeholder(shape=(3, 4), dtype="float64")
    with pytest.raises(FusionError, match="'sum' over some axes"):
        fuse([x], [xpgrad.sum(x, axis=0)], engine="numba")
    with pytest.raises(FusionError, match="'subtract' uses the result of a sum"):
        fuse([x], [x - xpgrad.sum(x)], engine="numba")
    y = xpgrad.placeholder(shape=(3, 4), dtype="float64", name="y")
    with pytest.raises(FusionError, match="placeholder y"):
        fuse([x], [x * y], engine="numba")
    i = xpgrad.placeholder(shape=(3,), dtype="int64")
    with pytest.raises(
        FusionError, match=r"same real floating or integer dtype, known when fusing; got \['float64', 'int64'\]"
    ):
        fuse([i, x], [i * 2 + x[0, :3]], engine="numba")
    with pytest.raises(FusionError, match="op 'pow' has no fused form for int64 operands"):
        fuse([i], [i**3], engine="numba")


def test_inputs_are_checked_on_each_call() -> None:
    ps = placeholders(2)
    refuses_bad_calls(fuse(ps, with_grads(B1["memory"](*ps), ps), engine="numba"), np)


def test_without_numba_auto_runs_unfused(monkeypatch: pytest.MonkeyPatch) -> None:
    from xpgrad._compile.fuse import cpu

    monkeypatch.setattr(cpu, "available", lambda: False)
    ps = placeholders(2)
    outs = with_grads(B1["memory"](*ps), ps)
    f = fuse(ps, outs)
    assert not hasattr(f, "source")  # the unfused evaluator, not a generated kernel
    data = inputs(50, 2)
    with np.errstate(all="ignore"):
        got = f(*data)
    same(got, unfused(ps, outs)(*data), "float64", 50)
    with pytest.raises(FusionError, match="needs numba"):
        fuse(ps, outs, engine="numba")


def _fused_memory_bound(n: int):  # value and both gradients of sum((x*y + x)*y)
    px, py = xpgrad.placeholder(shape=(n,), dtype="float64"), xpgrad.placeholder(shape=(n,), dtype="float64")
    out = xpgrad.sum((px * py + px) * py)
    return fuse([px, py], [out, *xpgrad.grad(out, [px, py])])


def _data(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_outputs_the_caller_dropped_are_reused() -> None:
    f = _fused_memory_bound(1000)
    x, y = np.linspace(-1, 1, 1000), np.linspace(2, 3, 1000)
    first = [_data(a) for a in f(x, y)[1:]]  # the list and its arrays are dropped at once
    others = [np.empty(1000) for _ in range(8)]  # would take the freed blocks, were they freed
    second = f(x, y)
    assert all(_data(o) not in first for o in others)
    assert [_data(a) for a in second[1:]] == first
    np.testing.assert_allclose(second[1], (y + 1) * y, rtol=1e-14)


def test_outputs_still_held_are_never_overwritten() -> None:
    f = _fused_memory_bound(1000)
    x, y = np.linspace(-1, 1, 1000), np.linspace(2, 3, 1000)
    held = f(x, y)
    gx = held[1]
    view = held[2][:5]
    del held
    again = f(x + 1, y + 1)  # gx is held by name, the second gradient by a view of it
    assert _data(again[1]) != _data(gx) and _data(again[2]) != _data(view)
    np.testing.assert_allclose(gx, (y + 1) * y, rtol=1e-14)
    np.testing.assert_allclose(view, ((x * y + x) + x * y)[:5], rtol=1e-14)
    again2 = f(gx, y)  # an output passed back as an input is not written over while it is read
    np.testing.assert_allclose(again2[1], (y + 1) * y, rtol=1e-14)
    np.testing.assert_allclose(again2[2], (gx * y + gx) + gx * y, rtol=1e-14)


def test_arrays_a_kernel_would_read_past_the_end_of_are_refused() -> None:
    """The kernel reads every array at every element (a 0-d input only at its first): the graph holds a
    10-element array, so 20-element inputs are refused, as is a 0-d array fed for an array input."""
    x = xpgrad.placeholder(shape=(None,), dtype="float64")
    w = xpgrad.Tensor(np.arange(10.0))
    f = fuse([x], [x * w], engine="numba")
    with pytest.raises(ValueError, match="does not broadcast"):
        f(np.ones(20))
    y, z = placeholders(2)
    g = fuse([y, z], [y * z], engine="numba")
    with pytest.raises(ValueError, match="fused as an array"):
        g(np.array(2.0), np.ones(4))


def test_threads_calling_one_function_never_share_an_output() -> None:
    """Each call takes its outputs from the last call's under a lock: two threads that both saw a dropped output
    as free took the same array (and wrote each other's results into it), or found it gone (a KeyError)."""
    x = xpgrad.placeholder(shape=(None,), dtype="float64")
    f = fuse([x], [x * 2.0], engine="numba")
    f(np.ones(64))  # compiled before the threads start

    def job(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(3000):
            a = rng.standard_normal(64)
            (r,) = f(a)
            np.testing.assert_array_equal(r, a * 2.0)
            del r  # dropped: free for the next call to write into

    run_in_threads(*(lambda s=s: job(s) for s in range(8)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_number_or_0d_exponent_of_one_half_is_numpys_square_root(dtype: str) -> None:
    """NumPy's power takes the square root for an exponent of 0.5 that is a number or a 0-d array (not for an
    array of 0.5s): -0.0 ** 0.5 is -0.0 and -inf ** 0.5 nan there, where pow gives +0.0 and inf."""
    x = xpgrad.placeholder(shape=(None,), dtype=dtype)
    e = xpgrad.placeholder(shape=(), dtype=dtype)
    y = xpgrad.placeholder(shape=(None,), dtype=dtype)
    ps, outs = [x, e, y], [x**0.5, x**e, x**y, xpgrad.sum(x**0.5 * y)]
    data = np.array([-0.0, -np.inf, np.inf, 0.0, 4.0, 2.0, -1.0, np.nan], dtype)
    for half in (0.5, 1.5):
        args = (data, np.array(half, dtype), np.full(8, half, dtype))
        agree(fuse(ps, outs, engine="numba"), ps, outs, *args, dtype=dtype)  # (the signs of zeros too)


def test_ops_in_another_float_dtype_are_refused() -> None:
    """An op NumPy computes in float64 in a float32 program (``exp`` of a bool, a bool over a bool) is refused, naming
    it (it was computed in float32). (A ``where`` of bools: `test_fuse_agrees.test_a_where_of_bools_is_bool`.)"""
    a, b = placeholders(2, "float32")
    for out, op in ((xpgrad.exp(a > 0), "exp"), ((a > 0) / (b > 0), "divide")):
        with pytest.raises(FusionError, match=f"op '{op}' computes in float64 in a float32 program"):
            fuse([a, b], [out * a], engine="numba")


def test_float32_sums_add_in_float32_as_numpys() -> None:
    """A float32 sum overflows where NumPy's does: the kernel added float32 summands in float64, so the mean of
    [3e38, 3e38] was 3e38 and the sum of [3e38, 3e38, -3e38] 3e38, where NumPy's are inf."""
    (x,) = placeholders(1, "float32")
    outs = [xpgrad.mean(x), xpgrad.sum(x), xpgrad.sum(x > 0)]
    for data in ([3e38, 3e38], [3e38, 3e38, -3e38]):
        a = np.array(data, np.float32)
        with np.errstate(over="ignore"):
            same(fuse([x], outs[:2], engine="numba")(a), unfused([x], outs[:2])(a), "float32", len(data))
        assert fuse([x], outs, engine="numba")(a)[2] == len(data) - data.count(-3e38)  # counts still add in int64


def test_an_engine_for_another_backend_is_refused_when_fusing() -> None:
    """engine='numba' on array-api-strict placeholders fused, then refused every call: "input 0 has dtype
    array_api_strict.float64; it was compiled for float64"."""
    pytest.importorskip("array_api_strict")
    x = xpgrad.placeholder(shape=(None,), dtype="float64", backend="array_api_strict")
    with pytest.raises(ValueError, match="engine 'numba' runs numpy arrays and the inputs are on array_api_strict"):
        fuse([x], [x * 2.0], engine="numba")


def test_the_serial_and_parallel_passes_run_one_compiled_body() -> None:
    """Issue 18: numba compiled the program once for each build (its parallel passes over a whole program grew
    fastest of all: a 3,000-op chain with its gradient took 22 s serial and 465 s parallel). The kernel is one
    compiled body now, which a serial call runs directly and the parallel pass, one numba function for every
    kernel, calls for each chunk."""
    from xpgrad._compile.fuse import cpu, native

    (x,) = placeholders(1)
    for outs in ([xpgrad.sum(xpgrad.sin(x) * 1.25 + x)], [xpgrad.sum(xpgrad.cos(x) * 0.5 - x), x * 3.0]):
        f = fuse([x], outs, engine="numba")
        kernel = cpu._compiled[f.source]  # type: ignore[attr-defined]
        for n in (10, cpu.SERIAL_BELOW + 10):  # a serial call, then a parallel one (positive values: no cancellation)
            data = np.linspace(0.5, 1.5, n)
            same(f(data), unfused([x], outs)(data), "float64", n)
        assert isinstance(kernel, native.Native)
    assert len(native._parallel().signatures) == 1  # (one numba compile for both kernels' parallel passes)


def test_a_ten_thousand_op_chain_fuses_into_one_kernel_of_linear_size() -> None:
    """Issue 18: a 1,000-op chain with its gradient compiled in 4-5 s, 3,000 in 15 s, and a 10^4-op chain was
    refused (over 10,000 instructions; numba's compile grew faster than the program). The kernel is LLVM IR now, a
    few lines an instruction, calling each distinct operation's compiled form: a 10^4-op chain with its gradient
    (20,004 instructions) is one kernel of IR linear in its program, and its results are `xpgrad.function`'s."""
    from xpgrad._compile.fuse.lower import MAX_INSTRUCTIONS, lower

    (x,) = placeholders(1)
    y = x
    for i in range(10_000):  # (benchmarks.exprs.op_chain: B2's chain)
        y = y * 1.0001 if i % 3 == 0 else y + 0.001 if i % 3 == 1 else xpgrad.sin(y)
    outs = with_grads(xpgrad.sum(y), [x])
    body = lower([x], outs).body
    assert 20_000 <= len(body) <= MAX_INSTRUCTIONS
    f = fuse([x], outs, engine="numba")
    ir = f.source  # type: ignore[attr-defined]
    assert ir.count("\n") <= 2 * len(body) + 200  # one line an instruction, and a bounded loop around them
    assert ir.count("declare ") <= 8  # the distinct operations (sin, cos... on float64), each compiled once
    data = np.linspace(-2.0, 2.0, 1000)
    got, want = f(data), xpgrad.function([x], outs)(data)
    np.testing.assert_array_equal(got[1], want[1])  # (the same operations in the same order: the same bits)
    same(got, want, "float64", len(data))


def test_a_program_too_long_to_compile_is_refused_with_the_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past `lower.MAX_INSTRUCTIONS` a graph is refused when fusing, saying how long it would take (a 10^5-op chain
    with its gradient, 250,003 instructions, ran 18 minutes and 3.1 GB before it was stopped)."""
    from xpgrad._compile.fuse import lower

    (x,) = placeholders(1)
    y = x
    for _ in range(40):
        y = xpgrad.sin(y) * 1.0001
    outs = with_grads(xpgrad.sum(y), [x])
    monkeypatch.setattr(lower, "MAX_INSTRUCTIONS", 100)
    with pytest.raises(FusionError, match=r"lowers to 2\d\d scalar instructions, more than the 100 one kernel"):
        fuse([x], outs, engine="numba")
    assert len(fuse([x], outs, engine="unfused")(np.ones(3))) == 2  # unfused: no kernel to compile
