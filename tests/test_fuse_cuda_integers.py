"""Fused programs of integers on the CUDA engine: every elementwise op with an integer form (its table entry's
`OpDef.int_c`), on all 8 integer dtypes, bit for bit against eager (NumPy's integer loops).

The kernels are compiled by the host C++ compiler and run by `tests/fake_cupy.py` (no GPU on the test machine;
with nvcc installed they are also compiled for the GPU, and on a GPU `test_on_a_gpu` runs them under CuPy). Data as
tests/test_fuse_integers.py's: each dtype's extremes, 0 and -1 as divisors, shift counts around the width. C's
signed overflow, division by zero, ``MIN / -1`` and out-of-range shifts are undefined: the forms avoid them, which a
run under the host compiler's undefined-behaviour sanitizer checks.
"""

from __future__ import annotations

import functools
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fake_cupy
import xpgrad
from fuse_cases import ELEMENTWISE, apply_op, integer_values, unfused
from xpgrad._compile.fuse import FusionError
from xpgrad._compile.fuse.cuda import compile_cuda, raw_source
from xpgrad._compile.fuse.integers import INTEGER_DTYPES
from xpgrad._compile.fuse.lower import lower

pytestmark = pytest.mark.skipif(fake_cupy.CXX is None, reason="no host C++ compiler to compile the kernels with")

NVCC = shutil.which("nvcc")


def _has_form(name: str) -> bool:
    int_c = xpgrad.OPS[name].int_c
    return int_c is not None and not int_c.refused


def _outputs(dtype: str) -> tuple[list[Any], dict[str, list[Any]]]:
    """Three placeholders of ``dtype`` and, for each op with an integer form that eager computes on ``dtype``, its
    result on them (``where``: of ``x > 0``), with its sum for a 64-bit dtype (a sum of a narrower one is checked
    below): one kernel for all of them."""
    ps = [xpgrad.placeholder(shape=(None,), dtype=dtype, name=n) for n in "xyz"]
    outs: dict[str, list[Any]] = {}
    for name in ELEMENTWISE:
        op = xpgrad.OPS[name]
        if not _has_form(name):
            continue
        args = [ps[0] > 0, ps[1], ps[2]] if name == "where" else ps[: op.arity]
        r = apply_op(name, args)  # (every op with an integer form takes every integer dtype)
        outs[name] = [r, xpgrad.sum(r)] if INTEGER_DTYPES[dtype] == 64 and op.result != "bool" else [r]
    return ps, outs


def _data(dtype: str) -> list[np.ndarray]:
    x, y = integer_values(dtype, 2)
    return [x, y, y[::-1].copy()]


@functools.cache
def _on_host(dtype: str) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Each op's outputs from the kernel on the host (called with `fake_cupy` installed) and from the unfused
    graph (eager's loops)."""
    ps, outs = _outputs(dtype)
    flat = [o for os in outs.values() for o in os]
    data = _data(dtype)
    got = compile_cuda(lower(ps, flat))(*data)
    with np.errstate(all="ignore"):  # NumPy warns at an integer division by zero (and gives 0)
        want = unfused(ps, flat)(*data)
    fused, plain, k = {}, {}, 0
    for name, os in outs.items():
        fused[name], plain[name] = got[k : k + len(os)], want[k : k + len(os)]
        k += len(os)
    return fused, plain


CASES = [(n, d) for n in ELEMENTWISE if _has_form(n) for d in INTEGER_DTYPES]


@pytest.mark.parametrize(("name", "dtype"), CASES, ids=[f"{n}-{d}" for n, d in CASES])
def test_every_integer_form_equals_eager_on_the_host(cp: Any, name: str, dtype: str) -> None:
    fused, plain = _on_host(dtype)
    for g, w in zip(fused[name], plain[name], strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, w.dtype, g.shape, w.shape)
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "uint64"])
@pytest.mark.parametrize(("n", "sms"), [(1, 2), (5000, 2), (70_000, 64)])
def test_sums_and_products_wrap_as_numpys(monkeypatch: pytest.MonkeyPatch, dtype: str, n: int, sms: int) -> None:
    """NumPy sums and multiplies int8 in int64 and uint16 in uint64, wrapping around: over one block to 274 (the
    threads' totals, the blocks' and the final tree add in unsigned 64 bits)."""
    fake_cupy.install(monkeypatch, sms=sms)
    x = xpgrad.placeholder(shape=(None,), dtype=dtype)
    outs = [xpgrad.sum(x * x), xpgrad.prod(x | 1), xpgrad.sum(x), xpgrad.sum(x > 3)]
    info = np.iinfo(dtype)
    data = np.resize(np.array([info.max, info.max, info.min, 3, 5, info.min + 1], dtype), n)
    got = compile_cuda(lower([x], outs))(data)
    with np.errstate(all="ignore"):
        want = unfused([x], outs)(data)
    for g, w in zip(got, want, strict=True):
        assert np.asarray(g).dtype == np.asarray(w).dtype and g == w


def test_literals_of_64_bits_are_exact(cp: Any) -> None:
    """A literal past 2**53 (a double would round it), int64's extremes and uint64's upper half."""
    x = xpgrad.placeholder(shape=(None,), dtype="int64")
    u = xpgrad.placeholder(shape=(None,), dtype="uint64")
    cases = [
        (x, [x + (2**62 + 1), x * -(2**63 - 1), x - (-(2**63) + 1), x | -(2**63)], [0, 1, -1, 2**63 - 1, -(2**63)]),
        (u, [u ^ (2**64 - 1), u + 2**63 + 3, u * (2**62 + 1)], [0, 1, 2**64 - 1, 2**63, 7]),
    ]
    for p, outs, values in cases:
        data = np.array(values, p.dtype)
        with np.errstate(all="ignore"):
            want = unfused([p], outs)(data)
        for g, w in zip(compile_cuda(lower([p], outs))(data), want, strict=True):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)


_UNARY = ["negative", "abs", "sign", "square", "bitwise_invert", "positive", "floor", "round"]
_BINARY = ["add", "subtract", "multiply", "floor_divide", "remainder", "bitwise_and", "bitwise_or", "bitwise_xor"]
_BINARY += ["bitwise_left_shift", "bitwise_right_shift", "maximum", "minimum"]


@pytest.mark.parametrize("seed", range(8))
def test_random_integer_graphs_equal_eager(cp: Any, seed: int) -> None:
    """Chains of a dozen random ops (bools from comparisons selecting values, numbers mixed in) on a random
    integer dtype: each op's form composes with the others as eager's loops do."""
    rng = random.Random(seed)
    dtype = rng.choice(sorted(INTEGER_DTYPES))
    ps = [xpgrad.placeholder(shape=(None,), dtype=dtype) for _ in range(2)]
    vals: list[Any] = list(ps)
    for _ in range(12):
        r = rng.random()
        if r < 0.3:
            vals.append(apply_op(rng.choice(_UNARY), [rng.choice(vals)]))
        elif r < 0.8:
            vals.append(apply_op(rng.choice(_BINARY), [rng.choice(vals), rng.choice(vals)]))
        elif r < 0.9:
            c = apply_op(rng.choice(["greater", "less_equal", "equal"]), [rng.choice(vals), rng.choice(vals)])
            vals.append(xpgrad.where(c, rng.choice(vals), rng.choice(vals)))
        else:
            vals.append(rng.choice(vals) + rng.choice([1, 3, 7, 100]))
    outs = [*vals[-3:], xpgrad.sum(vals[-1])]
    data = integer_values(dtype, 2)
    with np.errstate(all="ignore"):
        want = unfused(ps, outs)(*data)
    for g, w in zip(compile_cuda(lower(ps, outs))(*data), want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_pow_is_refused_naming_op_dtype_and_what_to_do(cp: Any) -> None:
    x = xpgrad.placeholder(shape=(None,), dtype="uint8")
    with pytest.raises(FusionError, match=r"op 'pow' has no fused form for uint8 operands \(NumPy raises .*x \* x"):
        compile_cuda(lower([x], [x**x]))


def _sanitized(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cupy.install(monkeypatch)
    monkeypatch.setattr(fake_cupy, "FLAGS", [*fake_cupy.FLAGS, "-fsanitize=undefined", "-fno-sanitize=alignment"])


@pytest.mark.parametrize("dtype", sorted(INTEGER_DTYPES))
def test_no_undefined_behaviour_in_c(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture, dtype: str) -> None:
    """Every integer form, run on the extremes under the undefined-behaviour sanitizer: no signed overflow, no
    division of MIN by -1 or by zero, no shift by a negative count or past the width."""
    _sanitized(monkeypatch)
    ps, outs = _outputs(dtype)
    compile_cuda(lower(ps, [o for os in outs.values() for o in os]))(*_data(dtype))
    err = capfd.readouterr().err
    assert "runtime error" not in err, err


def test_the_sanitizer_sees_a_signed_overflow(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    """The check above can fail: a naive C form (``a + b`` in int) on the extremes is reported."""
    from xpgrad._compile.fuse import cuda

    _sanitized(monkeypatch)
    monkeypatch.setattr(cuda, "integer_form", lambda op, dtype, engine: "({0} + {1})")
    x, y = (xpgrad.placeholder(shape=(None,), dtype="int32") for _ in range(2))
    cuda.compile_cuda(lower([x, y], [x + y]))(*integer_values("int32", 2))
    assert "signed integer overflow" in capfd.readouterr().err


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed: the CUDA sources are compiled on the GPU run only")
def test_every_integer_kernel_compiles_for_the_gpu(tmp_path: Path) -> None:
    kernels = []
    for dtype in INTEGER_DTYPES:
        ps, outs = _outputs(dtype)
        kernels.append(raw_source(lower(ps, [o for os in outs.values() for o in os])))
    src = "".join(
        "#undef INFINITY\n#undef NAN\n" + k.replace("xpgrad_fused", f"k{j}").replace("xpgrad_sums", f"s{j}")
        for j, k in enumerate(kernels)
    )
    (tmp_path / "k.cu").write_text(src)
    r = subprocess.run(
        [NVCC, "-arch=sm_80", "-ptx", "-o", str(tmp_path / "k.ptx"), str(tmp_path / "k.cu")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("dtype", sorted(INTEGER_DTYPES))
def test_on_a_gpu(dtype: str) -> None:
    """The same kernels under CuPy on a CUDA device, against CuPy's own loops op by op."""
    from conftest import ALL, _reason

    why = _reason(next(tb for tb in ALL if tb.id == "cupy"))
    if why is not None:
        pytest.skip(f"no CUDA device (backend cupy: {why})")
    import cupy

    ps = [xpgrad.placeholder(shape=(None,), dtype=dtype, backend="cupy", name=n) for n in "xyz"]
    outs = []
    for name in ELEMENTWISE:
        if _has_form(name):
            args = [ps[0] > 0, ps[1], ps[2]] if name == "where" else ps[: xpgrad.OPS[name].arity]
            outs.append(apply_op(name, args))
    data = [cupy.asarray(a) for a in _data(dtype)]
    f = xpgrad.fuse(ps, outs)
    assert "xpgrad_fused" in f.source
    for g, w in zip(f(*data), unfused(ps, outs)(*data), strict=True):
        np.testing.assert_array_equal(cupy.asnumpy(g), cupy.asnumpy(w))
