"""NumPy's functions on Tensors (`__array_function__`): a right answer, as a graph, or a TypeError naming the
function and what to use instead; never a value computed on an object array or cut from the graph."""

from __future__ import annotations

import importlib
import re
import warnings
from typing import Any

import numpy as np
import pytest

import xpgrad
from xpgrad._api.numpy_protocol import handled
from xpgrad._core import plugins as _plugins

V = np.array([0.5, -1.25, 2.0])
M = np.array([[0.5, -1.25, 2.0], [1.5, 0.3, -0.6]])
S = np.array([[2.0, 0.5, -1.0], [0.25, 1.5, 0.75], [-0.5, 1.0, 3.0]])
C = np.arange(24.0).reshape(2, 3, 4) / 7 - 1
B = M > 0
# the calls tried on every function: positional arrays (lists of arrays for the joining functions) and keywords
PROBES: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((V,), {}),
    ((M,), {}),
    ((C,), {}),
    ((V, V), {}),
    ((M, M), {}),
    ((M, S), {}),
    ((S, S), {}),
    ((M, V), {}),
    ((C, V), {}),
    ((C, np.ones((4, 2))), {}),
    ((V, C[0].T), {}),
    ((M,), {"axis": 0}),
    ((C,), {"axis": -1, "keepdims": True}),
    ((M, 1), {}),
    ((M, [0, 2]), {"axis": 1}),
    (([M, M],), {}),
    (([M, M],), {"axis": 1}),
    ((B, M, V), {}),
    ((M, -0.5, 0.5), {}),
    ((C, 2, 0), {}),
    ((C, (2, 0, 1)), {}),
    ((M, (3, 2)), {}),
    ((V, (2, 3)), {}),
    ((M, "float32"), {}),
    ((M, np.array([[0, 2], [1, 1]])), {"axis": 1}),
]


def _dispatched_functions() -> list[tuple[str, Any]]:
    """Every public NumPy function that dispatches through ``__array_function__``, by its public name."""
    modules = ["numpy", "numpy.linalg", "numpy.fft", "numpy.char", "numpy.strings", "numpy.lib.scimath"]
    modules += ["numpy.lib.stride_tricks", "numpy.lib.recfunctions", "numpy.lib.array_utils"]
    seen: set[int] = set()
    found = []
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except ImportError:  # (a module of another NumPy version)
            continue
        for attr in dir(mod):
            f = getattr(mod, attr, None)
            if not attr.startswith("_") and type(f).__name__ == "_ArrayFunctionDispatcher" and id(f) not in seen:
                seen.add(id(f))
                found.append((f"{name}.{attr}", f))
    return found


FUNCTIONS = _dispatched_functions()


def _tensors(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return xpgrad.Tensor(v)
    if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
        return [xpgrad.Tensor(a) for a in v]
    return v


def _same(got: Any, want: Any) -> None:
    """``got`` (xpgrad's answer) is NumPy's ``want``: a Tensor graph of the same values for an array or a NumPy
    scalar, the same Python value otherwise (np.shape, np.ndim)."""
    if isinstance(want, (np.ndarray, np.generic)):
        assert isinstance(got, xpgrad.Tensor), f"a Tensor graph, not {type(got).__name__}"
        value = np.asarray(got.numpy())
        assert value.shape == np.shape(want) and value.dtype.kind == np.asarray(want).dtype.kind
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
    elif isinstance(want, tuple) and want and isinstance(want[0], np.ndarray):  # np.nonzero, np.unstack...
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _same(g, w)
    elif type(want) is int and isinstance(got, xpgrad.Tensor):  # np.count_nonzero(a): a Python int
        assert got.shape == () and got.item() == want
    else:
        assert type(got) is type(want) and got == want, (got, want)


@pytest.mark.parametrize("name, f", FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_every_numpy_function_is_right_or_refused(name: str, f: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    table = handled()
    answered = 0
    asked: list[Any] = []
    protocol = _plugins.above.array_function

    def recording(*a: Any) -> Any:
        asked.append(a[0])
        return protocol(*a)

    monkeypatch.setattr(_plugins.above, "array_function", recording)
    for args, kwargs in PROBES:
        asked.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (NumPy's own warnings on odd probes: not what is tested)
            try:
                got: Any = f(*map(_tensors, args), **kwargs)
                error = None
            except Exception as e:
                got, error = None, e
        if not asked:  # NumPy did not ask the Tensors: a list holding them where NumPy reads one array itself
            # (no protocol reaches them there), or a call NumPy refuses before dispatching, as it refuses arrays
            if not any(isinstance(a, list) for a in args):
                assert error is not None, f"{name}{args}: NumPy did not ask the Tensor"
                with pytest.raises(Exception):  # noqa: B017  (NumPy's own refusal, of whatever type)
                    f(*args, **kwargs)
            continue
        if f not in table:
            assert isinstance(error, TypeError), f"{name}{args}: expected the refusal, got {got!r:.80}"
            refused = rf"numpy\.(\w+\.)*{re.escape(f.__name__)} is not (supported|dispatched) on xpgrad"
            assert re.match(refused, str(error))
            assert "use " in str(error) or "build it from xpgrad's functions" in str(error)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                want = f(*args, **kwargs)
            except Exception:
                assert error is not None, f"{name}: NumPy refuses {args} {kwargs}, xpgrad answered {got!r:.80}"
                continue
        if isinstance(error, TypeError) and re.match(rf"{re.escape(name)} on Tensors: ", str(error)):
            continue  # an argument xpgrad does not take, refused naming the function (out=, decimals=...)
        assert error is None, f"{name}: NumPy answers {args} {kwargs}, xpgrad raised {error!r}"
        try:
            _same(got, want)
        except AssertionError as e:
            raise AssertionError(f"{name}{args} {kwargs}: {e}") from None
        answered += 1
    if f in table:
        assert answered, f"{name}: dispatched, but no probe exercised it"


def test_the_table_dispatches_the_issue_examples() -> None:
    x = xpgrad.Tensor(np.array([1.0, 2.0, 3.0]))
    d = np.dot(x, x)  # was the elementwise product [1, 4, 9]
    assert isinstance(d, xpgrad.Tensor) and d.item() == 14.0 and np.inner(x, x).item() == 14.0
    o = np.outer(x, x)  # was a 1x1 object array
    np.testing.assert_array_equal(o.numpy(), np.outer([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(np.dot(x, x).grad(x).numpy(), [2.0, 4.0, 6.0])  # a graph: differentiable
    assert np.sum(x) is xpgrad.sum(x) and np.concatenate([x, x]).shape == (6,)
    with pytest.raises(TypeError, match=r"numpy.median is not supported on xpgrad Tensors.*t.numpy\(\)"):
        np.median(x)
    with pytest.raises(TypeError, match=r"numpy.einsum is not dispatched.*use xpgrad.tensordot"):
        np.einsum("i,i", x, x)
    with pytest.raises(TypeError, match=r"numpy.linalg.inv is not dispatched .*; use xpgrad.linalg.inv"):
        np.linalg.inv(xpgrad.Tensor(np.eye(2)))  # xpgrad has it: the message must not say it has no equivalent
    with pytest.raises(TypeError, match=r"numpy.sum on Tensors: out=.* is not supported"):
        np.sum(x, out=np.empty(()))
    # ufuncs (np.sin, np.matmul) go through __array_ufunc__, which Tensors refuse (NumPy's own TypeError)
    with pytest.raises(TypeError, match="does not support ufuncs"):
        np.matmul(x, x)
    every = {id(f) for _, f in FUNCTIONS}
    assert all(id(f) in every for f in handled()), "each dispatched function is among those the test walks"


def test_xpgrad_never_hands_numpy_a_tensor_it_would_refuse() -> None:
    # a Tensor as a constant fill value reached NumPy's full_like, whose np.copyto asks the Tensor (refused now)
    t, x = xpgrad.Tensor(np.float64(3.0)), xpgrad.Tensor(np.ones(2))
    assert xpgrad.full_like(x, t).tolist() == [3.0, 3.0] and xpgrad.full((2,), t).tolist() == [3.0, 3.0]
    p = xpgrad.placeholder(shape=(2,), dtype="float64")
    node = xpgrad.full_like(p, t)
    p.value = np.zeros(2)
    assert node.forward().tolist() == [3.0, 3.0]
