"""xpgrad as an array-API namespace: code written only against the standard differentiates unchanged."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import xpgrad


# ----------------------------------------------------------------- generic functions: xp.* calls only
def softplus(x):
    xp = array_api_compat.array_namespace(x)
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))  # stable for large |x|


def logistic_loss(w, X, y):
    xp = array_api_compat.array_namespace(w, X, y)
    z = xp.sum(X * w, axis=-1)
    return xp.mean(softplus(-y * z))


def huber(r, delta=1.0):
    xp = array_api_compat.array_namespace(r)
    a = xp.abs(r)
    return xp.mean(xp.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta)))


def test_array_namespace_of_a_tensor(tb) -> None:
    t = tb.t([1.0, 2.0])
    xp = array_api_compat.array_namespace(t)
    assert xp is t.__array_namespace__() is xpgrad.namespace(tb.bk)
    assert xp.__array_api_version__ == "2024.12"
    assert array_api_compat.array_namespace(t, xp.exp(t), 2.0) is xp
    assert t.dtype == xp.float64 and xp.isdtype(t.dtype, "real floating") and xp.isdtype(t, "real floating")
    assert xp.finfo(t).eps == tb.xp.finfo(tb.xp.float64).eps and xp.iinfo(xp.int32).max == 2**31 - 1
    assert xp.result_type(t, xp.float32) == xp.float64 and xp.can_cast(t, xp.complex128)
    made = xp.asarray([1, 2], dtype=xp.float32, device=tb.device)
    assert isinstance(made, xpgrad.Tensor) and made.backend == tb.bk.name and made.dtype == xp.float32
    assert xp.zeros((2,), device=tb.device).device == t.device


RESULT_DTYPES = ("bool", "int8", "uint8", "int64", "uint16", "float32", "float64", "complex64", "complex128")


def test_result_type_is_the_dtype_xpgrads_ops_give(tb) -> None:
    # the backend's result_type disagrees across kinds (int64 with float32: NumPy float64, array-api-strict
    # refuses), where xpgrad's ops give the higher kind's dtype (float32)
    xp = xpgrad.namespace(tb.bk)
    dtypes = [d for d in RESULT_DTYPES if d not in tb.few_ops]  # (PyTorch promotes no uint16 with another dtype)
    for da in dtypes:
        a = tb.t([1, 0], da)
        for db in dtypes:
            b = tb.t([0, 1], db)
            built = xpgrad.where(a == a, a, b)  # promotes its two branches, any kinds
            assert xp.result_type(a, b) == xp.result_type(getattr(xp, da), b) == built.dtype, (da, db)
            if "bool" not in (da, db):
                assert xp.result_type(a, b) == (a + b).dtype, (da, db)
        for number in (True, 2, 1.5, 1j):
            if da != "bool":
                assert xp.result_type(a, number) == (a * number).dtype, (da, number)
    i, f = tb.t([1, 2], "int64"), tb.t([1.0], "float32")
    assert xp.result_type(i, f) == (i * f).dtype == xp.float32
    assert xp.result_type(i.value, f.value) == xp.float32  # the backend's own arrays
    with pytest.raises(TypeError, match="result_type: pass at least one array or dtype"):
        xp.result_type(1, 2.0)
    with pytest.raises(TypeError, match="result_type: got a placeholder of unknown dtype"):
        xp.result_type(xpgrad.placeholder(backend=tb.bk), f)


def test_missing_functions_say_what_exists(tb) -> None:
    with pytest.raises(AttributeError, match=r"has no 'diff'.*add an op to xpgrad's table"):
        xpgrad.namespace(tb.bk).diff  # noqa: B018


def test_iteration(tb) -> None:
    t = tb.t([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rows = list(t)
    assert len(rows) == 3 and tb.np(rows[2]).tolist() == [5.0, 6.0]
    assert tb.np(xpgrad.sum(rows[0] * rows[2]).grad(t)).tolist() == [[5.0, 6.0], [0.0, 0.0], [1.0, 2.0]]
    with pytest.raises(TypeError, match="0-d Tensor"):
        iter(tb.t(1.0))
    with pytest.raises(TypeError, match="unknown first dimension"):
        iter(xpgrad.placeholder(shape=(None, 2), backend=tb.bk))


def test_tensor_array_attributes(tb) -> None:
    t = tb.t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert (t.shape, t.ndim, t.size, t.dtype) == ((2, 3), 2, 6, tb.xp.float64)
    assert t.device == array_api_compat.device(tb.arr([0.0]))
    assert t.to_device(t.device).device == t.device
    one = tb.t([2.5])[0]
    assert float(one) == 2.5 and complex(one) == 2.5 + 0j and bool(one) is True
    i = xpgrad.Tensor(tb.arr(3, "int64"))
    assert int(i) == 3 and [10, 20, 30, 40][i] == 40
    p = xpgrad.placeholder(shape=(), dtype="float64", backend=tb.bk, name="p")
    with pytest.raises(xpgrad.PlaceholderError, match="unfed placeholder 'p'"):
        bool(p * 2 > 1)
    with pytest.raises(xpgrad.PlaceholderError):
        float(p)
    assert xpgrad.placeholder(shape=(None, 3), backend=tb.bk).size is None


@pytest.mark.parametrize("fn", [softplus, huber], ids=["softplus", "huber"])
def test_generic_functions_differentiate(tb, fn) -> None:
    r = tb.arr([-3.0, -0.4, 0.2, 0.6, 2.5, 4.0])  # away from the kinks (0 inside softplus; 1 in huber)
    want = fn(r)  # the same code on the backend's own arrays
    got = fn(xpgrad.Tensor(r))
    assert isinstance(got, xpgrad.Tensor)
    np.testing.assert_allclose(tb.np(got), tb.np(want), rtol=1e-15)
    xpgrad.check_grads(fn, r, order=2)


def test_generic_logistic_loss(tb) -> None:
    X = tb.arr([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-2.0, 0.1, 0.4], [0.2, 0.2, 0.2]])
    y = tb.arr([1.0, -1.0, 1.0, -1.0])
    w0 = tb.arr([0.1, -0.2, 0.3])
    want = logistic_loss(w0, X, y)
    w = xpgrad.Tensor(w0)
    loss = logistic_loss(w, xpgrad.Tensor(X), xpgrad.Tensor(y))
    np.testing.assert_allclose(tb.np(loss), tb.np(want), rtol=1e-15)
    # closed form: d/dw mean(softplus(-y X w)) = mean(-y sigmoid(-y X w) X)
    Xn, yn, wn = tb.np(X), tb.np(y), tb.np(w0)
    m = -yn * (Xn @ wn)
    expected = (-yn / (1 + np.exp(-m)))[:, None] * Xn
    np.testing.assert_allclose(tb.np(loss.grad(w)), expected.mean(axis=0), rtol=1e-13)
    xpgrad.check_grads(lambda w: logistic_loss(w, xpgrad.Tensor(X), xpgrad.Tensor(y)), w0, order=3)
    big = tb.t([1000.0, -1000.0])
    assert tb.np(softplus(big)).tolist() == [1000.0, 0.0]  # no exp overflow
    assert tb.np(softplus(big).grad(big)).tolist() == [1.0, 0.0]


def test_getting_started_generic_example_runs() -> None:
    import pathlib

    text = (pathlib.Path(__file__).parent.parent / "docs" / "getting-started.md").read_text()
    block = next(b for b in text.split("```python\n")[1:] if "def logistic_loss" in b).split("```")[0]
    scope: dict = {}
    exec(block, scope)
    X = np.array([[0.5, -1.0], [1.5, 0.3], [-2.0, 0.1]])
    y = np.array([1.0, -1.0, 1.0])
    w = xpgrad.Tensor(np.array([0.1, -0.2]))
    loss = scope["logistic_loss"](w, xpgrad.Tensor(X), xpgrad.Tensor(y))
    m = -y * (X @ w.numpy())
    expected = ((-y / (1 + np.exp(-m)))[:, None] * X).mean(axis=0)  # closed form of the logistic gradient
    np.testing.assert_allclose(loss.grad(w).numpy(), expected, rtol=1e-13)


def test_namespace_functions_of_python_numbers_stay_on_its_backend(tb) -> None:
    xp = xpgrad.namespace(tb.bk)
    assert xpgrad.Tensor([1.0], backend=xp).backend == tb.bk.name  # the namespace names its backend
    assert xp.exp(1.0).backend == tb.bk.name
    assert xp.asarray(2.0).backend == tb.bk.name
