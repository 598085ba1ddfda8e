"""Differential fuzzing of `xpgrad.fuse` against `xpgrad.function` (issue 18), on both fused engines (numba, and
the CUDA runner through `tests/fake_cupy.py`).

Random small graphs of fusible ops over one to three inputs, 0-d or of one array shape among (1,), (3,), (1, 1) and
(2, 3), declared with static or free sizes, and a captured leaf; their outputs a random choice of the value, its
sum, mean and product, the gradients of its sum (of 0-d and one-element inputs too), an input returned as it is,
and a slice. A fused function must either be refused when fusing for what one pass cannot do (`REFUSALS`), or return
what `xpgrad.function` returns: the same number of outputs, each of the same shape, dtype and kind (a NumPy scalar
where `function` returns one; on the CUDA runner a 0-d array, CuPy's kind), and the same values up to the
rounding of the math library and of the summation order. Derandomized, with few examples, so CI runs the same
graphs every time in a few seconds (most of it numba's and the C++ compiler's time).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fake_cupy
import xpgrad as xg
from xpgrad._compile.fuse import FusionError, fuse
from xpgrad._compile.fuse.cuda import compile_cuda
from xpgrad._compile.fuse.lower import lower

UNARY = {
    "sin": xg.sin,
    "exp": lambda a: xg.exp(a * 0.5),
    "neg": lambda a: -a,
    "square": xg.square,
    "abs": xg.abs,
    "sqrt": lambda a: xg.sqrt(xg.abs(a)),
    "tanh": xg.tanh,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0),
    "max": xg.maximum,
    "where": lambda a, b: xg.where(a > b, a, b * 2.0),
    "pow": lambda a, b: (xg.abs(a) + 0.5) ** b,
}
CALL_SHAPES = [(1,), (3,), (1, 1), (2, 3)]
REFUSALS = (
    "uses the result of a",  # a gradient through a 0-d value needs its sum inside the pass: two passes
    "the kernel would read",  # a slice and the whole value: arrays of two shapes
)
"""The refusals these graphs may meet: what one pass over one shape cannot compute."""
OUTPUTS = ("value", "sum", "mean", "prod", "grads", "input", "slice")

steps = st.lists(
    st.tuples(st.sampled_from(sorted(UNARY) + sorted(BINARY)), st.integers(0, 9), st.integers(0, 9)),
    min_size=1,
    max_size=6,
)
graphs = st.fixed_dictionaries(
    {
        "shape": st.sampled_from(CALL_SHAPES),
        "inputs": st.lists(st.booleans(), min_size=1, max_size=3),  # each input 0-d (True) or of the call's shape
        "free": st.booleans(),  # array inputs declared with free sizes (None)
        "captured": st.sampled_from(["none", "0-d", "array"]),
        "steps": steps,
        "outputs": st.lists(st.sampled_from(OUTPUTS), min_size=1, max_size=4, unique=True),
        "seed": st.integers(0, 2**32 - 1),
    }
)


def _build(g: dict[str, Any]) -> tuple[list[Any], list[Any], list[np.ndarray]]:
    """The inputs, the outputs and the call's arrays of graph description ``g``."""
    rng = np.random.default_rng(g["seed"])
    shape = g["shape"]
    ins, args = [], []
    for k, zero_d in enumerate(g["inputs"]):
        s = () if zero_d else shape
        ins.append(xg.placeholder(shape=tuple(None for _ in s) if g["free"] else s, dtype="float64", name=f"x{k}"))
        args.append(rng.uniform(-2.0, 2.0, s))
    values: list[Any] = list(ins)
    if g["captured"] != "none":
        values.append(xg.Tensor(rng.uniform(-2.0, 2.0, () if g["captured"] == "0-d" else shape), name="w"))
    for name, i, j in g["steps"]:
        a, b = values[i % len(values)], values[j % len(values)]
        values.append(UNARY[name](a) if name in UNARY else BINARY[name](a, b))
    r = values[-1]
    outs: list[Any] = []
    for what in g["outputs"]:
        if what == "value":
            outs.append(r)
        elif what in ("sum", "mean", "prod"):
            outs.append(getattr(xg, what)(r))
        elif what == "grads":
            outs += xg.grad(xg.sum(r), ins)
        elif what == "input":
            outs.append(ins[-1])
        elif r.ndim:  # a slice of the value, along its first axis
            outs.append(r[:1])
    return ins, outs, args


def _check(f: Any, ins: list[Any], outs: list[Any], args: list[np.ndarray], gpu: bool) -> None:
    with np.errstate(all="ignore"):
        want = xg.function(ins, outs)(*args)
        got = f(*args)
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        if gpu and isinstance(b, np.generic):
            assert type(a) is np.ndarray and a.shape == (), (k, type(a))
        else:
            assert type(a) is type(b), (k, type(a), type(b))
        assert np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype, (k, np.shape(a), np.shape(b))
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=f"{k}")


def _fuzz(g: dict[str, Any], compile_: Any, gpu: bool) -> None:
    ins, outs, args = _build(g)
    try:
        f = compile_(ins, outs)
    except FusionError as e:  # refused when fusing: only what one pass cannot do
        assert any(why in str(e) for why in REFUSALS), str(e)
        return
    try:
        _check(f, ins, outs, args, gpu)
    except ValueError as e:  # free sizes: a slice of (None,) may have another size than the arrays beside it
        if "a fused kernel reads every array at one shape" not in str(e) or not g["free"]:
            raise


@settings(max_examples=12, deadline=None, derandomize=True)
@given(g=graphs)
def test_numba_kernels_return_what_function_returns(g: dict[str, Any]) -> None:
    pytest.importorskip("numba", reason="the fuse extra (numba) is not installed")
    _fuzz(g, lambda ins, outs: fuse(ins, outs, engine="numba"), gpu=False)


@pytest.mark.skipif(fake_cupy.CXX is None, reason="no host C++ compiler for the CUDA kernels")
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=graphs)
def test_cuda_kernels_return_what_function_returns(cp: Any, g: dict[str, Any]) -> None:
    _fuzz(g, lambda ins, outs: compile_cuda(lower(ins, outs)), gpu=True)
