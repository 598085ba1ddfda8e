"""Every error raised where the mistake is made, naming the op, what it got, and what to do."""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest

import xpgrad


def test_backend_mismatch() -> None:
    import array_api_strict as s

    a = xpgrad.Tensor(np.array([1.0]))
    b = xpgrad.Tensor(s.asarray([1.0]))
    with pytest.raises(
        xpgrad.BackendMismatchError,
        match=r"multiply: operands live on different backends \('numpy' and 'array_api_strict'\); move one first",
    ):
        a * b
    assert isinstance(xpgrad.BackendMismatchError("x"), TypeError)


def test_device_mismatch() -> None:
    import array_api_strict as s

    a = xpgrad.Tensor(s.asarray([1.0], device=s.Device("device1")))
    b = xpgrad.Tensor(s.asarray([1.0]))
    with pytest.raises(xpgrad.BackendMismatchError, match="add: operands live on different devices"):
        a + b
    c = b.to_device(s.Device("device1"))
    assert (a + c).device == s.Device("device1")


def test_shape_mismatch_names_op_and_shapes() -> None:
    a, b = xpgrad.Tensor(np.ones(3)), xpgrad.Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"subtract: shapes \(3,\) and \(2, 4\) cannot be broadcast"):
        a - b


def test_unknown_backend_lists_valid_ones() -> None:
    with pytest.raises(
        ValueError,
        match="unknown backend 'tpu'; valid backends are 'numpy', 'cupy', 'array_api_strict', 'dask', 'torch', 'jax', "
        "'auto'",
    ):
        xpgrad.Tensor(1.0, backend="tpu")
    with pytest.raises(ValueError, match="unknown backend"):
        xpgrad.set_default_backend("tpu")


def test_unavailable_cupy_says_why_and_how_to_fall_back() -> None:
    from xpgrad.backends import cupy as cupy_backend

    if cupy_backend.probe() is None:
        pytest.skip("CuPy is usable here: the unavailable path cannot be exercised")
    with pytest.raises(xpgrad.BackendUnavailableError, match=r"backend 'cupy' is unavailable: .*backend='auto'"):
        xpgrad.Tensor(1.0, backend="cupy")
    assert isinstance(xpgrad.BackendUnavailableError("x"), RuntimeError)


def test_bad_operand_and_arity() -> None:
    x = xpgrad.Tensor(np.ones(2))
    with pytest.raises(TypeError, match="multiply: cannot use str"):
        x * "a"
    with pytest.raises(TypeError, match=r"sin\(\) takes 1 array argument"):
        xpgrad.sin(x, x)
    with pytest.raises(TypeError, match=r"sum\(\) got unexpected keyword"):
        xpgrad.sum(x, axes=0)


def test_bad_axis() -> None:
    with pytest.raises(ValueError, match="sum: axis 2 is out of range for an array of 2 dimensions"):
        xpgrad.sum(xpgrad.Tensor(np.ones((2, 2))), axis=2)
    for p in (xpgrad.Tensor(np.ones((2, 2))), xpgrad.placeholder()):  # also where the rank is unknown
        for bad in (1.0, True, (0, "1")):
            with pytest.raises(TypeError, match=r"mean: axis must be an int, a tuple of ints or None; got"):
                xpgrad.mean(p, axis=bad)


def test_check_grads_needs_a_tensor_result() -> None:
    with pytest.raises(TypeError, match=r"check_grads: f must return an xpgrad Tensor .* it returned ndarray"):
        xpgrad.check_grads(lambda x: x.value * 2, np.array([1.0]))


def test_setting_an_op_value_is_refused() -> None:
    y = xpgrad.Tensor(1.0) * 2
    with pytest.raises(AttributeError, match="computed from its inputs"):
        y.value = 3.0


def test_leaf_refeed_must_keep_shape() -> None:
    x = xpgrad.Tensor(np.ones(2), name="x")
    with pytest.raises(ValueError, match=r"leaf 'x' was built with shape \(2,\).*xpgrad.placeholder"):
        x.value = np.ones(3)


def test_bool_arithmetic_and_complex_grads_refused() -> None:
    m = xpgrad.Tensor(np.array([True, False]))
    with pytest.raises(TypeError, match="add: only integer or real floating or complex floating dtypes"):
        m + m
    c = xpgrad.Tensor(np.array([1 + 1j]))
    with pytest.raises(TypeError, match=r"grad requires real-valued outputs, but got complex128.*holomorphic=True"):
        (c * c).grad(c)  # (JAX's rule; this raised NotImplementedError for any complex gradient)


def test_missing_rule_is_an_error_not_a_zero() -> None:
    from xpgrad._core.build import apply
    from xpgrad._core.opdef import OPS, defop

    # (not public: the tables' checks of every public op, and the namespaces, must not meet it)
    op = OPS.get("_test_no_rule") or defop("_test_no_rule", 1, lambda xp, a: a * 2, public=False)
    x = xpgrad.Tensor(np.ones(2))
    y = apply(op, x)
    with pytest.raises(NotImplementedError, match="op '_test_no_rule' has no derivative rule"):
        y.grad(x)


def test_gradients_through_complex_intermediates_of_real_inputs() -> None:
    # |r * c| = |c| r for r > 0, imag(r * c) = imag(c) r, real(r * 1j) = 0: closed forms (these raised
    # NotImplementedError; real rules on complex values would have dropped the imaginary part)
    r = xpgrad.Tensor(np.array([1.0, 2.0]))
    c = xpgrad.Tensor(np.array([1 + 1j, 2j]))
    for out, want in ((abs(r * c), np.abs(c.value)), (xpgrad.imag(r * c), c.value.imag), (xpgrad.real(r * 1j), 0)):
        g = out.grad(r)
        assert g.dtype == np.float64
        np.testing.assert_allclose(g.value, np.broadcast_to(want, (2,)), rtol=1e-15)
    p = xpgrad.placeholder()  # dtype known only when fed: the real rule, refused when fed complex values
    g = abs(r * p).grad(r)
    p.value = np.array([1 + 1j, 2j])
    with pytest.raises(NotImplementedError, match="input is now complex128; declare the placeholder's dtype"):
        g.forward()
    p.value = np.array([-3.0, 0.5])  # real values: the real rule, sign(r * p) * p = |p| (r > 0)
    np.testing.assert_array_equal(g.forward().value, [3.0, 0.5])


def test_cotangent_dtype_is_checked_and_placed_on_the_outputs_device() -> None:
    import array_api_strict as s

    x = xpgrad.Tensor(np.array([1.0, 2.0]))
    for bad in (np.array([True, False]), np.array([1j, 1j])):
        with pytest.raises(TypeError, match=f"grad: the cotangent has dtype {bad.dtype}"):
            xpgrad.grad(x * x, [x], cotangent=bad)
    d1 = s.Device("device1")
    y = xpgrad.Tensor(s.asarray([1.0, 2.0], device=d1))
    for ct in ([1.0, 3.0], s.asarray([1.0, 3.0]), np.array([1.0, 3.0])):
        g = xpgrad.grad(y * y, [y], cotangent=ct)[0]
        assert g.device == d1 and g.numpy().tolist() == [2.0, 12.0]


def test_where_condition_must_be_bool() -> None:
    x = xpgrad.Tensor(np.array([0.5, 0.0]))
    with pytest.raises(TypeError, match="where: the condition must be a bool array; got float64"):
        xpgrad.where(x, x, 0.0)  # NumPy would silently use the truthiness of x
    p = xpgrad.placeholder()
    y = xpgrad.where(p, x, 0.0)
    p.value = np.array([1, 0])
    with pytest.raises(TypeError, match="where: the condition must be a bool array; got int64"):
        y.forward()
    assert xpgrad.where(x > 0.1, x, 0.0).numpy().tolist() == [0.5, 0.0]


def test_declarations_are_checked_when_a_value_is_given() -> None:
    import array_api_strict as s

    with pytest.raises(TypeError, match="leaf was built with dtype float32 but was fed float64"):
        xpgrad.Tensor(np.ones(2), dtype="float32")  # the declaration used to be dropped silently
    assert xpgrad.Tensor([1, 2], dtype="float32").dtype == np.float32
    for bad in ("abc", {}, np.array(["a"])):
        with pytest.raises(TypeError, match="unsupported dtype"):
            xpgrad.Tensor(bad)
    for shape in ((2.5,), (-1,), (True,)):
        with pytest.raises(ValueError, match="is not a valid shape"):
            xpgrad.placeholder(shape=shape)
    assert xpgrad.placeholder(shape=3).shape == (3,)
    with pytest.raises(ValueError, match="is not a supported dtype of backend 'numpy'"):
        xpgrad.placeholder(dtype=s.float32)


def test_tensor_grad_takes_one_tensor() -> None:
    x = xpgrad.Tensor(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"Tensor.grad\(wrt\) takes one Tensor, got list; for several use xpgrad.grad"):
        (x * x).grad([x])


def test_bool_inputs_have_no_gradient_and_abs_of_complex_is_real() -> None:
    b = xpgrad.Tensor(np.array([True, False]))
    with pytest.raises(TypeError, match="grad: wrt\\[0\\] has dtype bool, which has no gradient"):
        xpgrad.atan(b).grad(b)  # used to fail inside the sweep: "square: only integer ... got bool"
    z = xpgrad.Tensor(np.array([3 + 4j], dtype=np.complex64))
    for y in (abs(z), xpgrad.real(z), xpgrad.imag(z)):
        assert y._dtype == y.value.dtype == np.float32  # the static dtype said complex64 for abs


def test_evaluation_errors_name_the_op_without_add_note(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.10 has no add_note: the context goes into the message of an error of the same type."""
    from xpgrad._core import build as _build

    p = xpgrad.placeholder()
    r = xpgrad.reshape(p, (5,))
    p.value = np.ones(6)
    with pytest.raises(ValueError, match=r"(?s)while evaluating xpgrad op 'reshape' on numpy operands"):
        r.forward()
    monkeypatch.setattr(_build, "_HAS_ADD_NOTE", False)
    with pytest.raises(ValueError, match=r"(?s)while evaluating xpgrad op 'reshape' on numpy operands") as info:
        r.forward()
    assert type(info.value) is ValueError and isinstance(info.value.__cause__, ValueError)

    class Picky(Exception):
        def __init__(self, a: int, b: int) -> None:
            super().__init__(a, b)

    node = xpgrad.Tensor(np.ones(2)) + 1.0
    _build._note(Picky(1, 2), node, [np.ones(2), 1.0])  # cannot be rebuilt from a message: left as it is


@pytest.mark.parametrize("dtype", ["float64", None])
def test_errors_in_compiled_calls_name_the_op(dtype: str | None) -> None:
    # a step without a cast calls the backend's function itself, one with a runtime dtype goes through
    # `evaluate`: either way the backend's error says which op failed on which operands
    p = xpgrad.placeholder(shape=(None,), dtype=dtype)
    f = xpgrad.function([p], xpgrad.reshape(p * 2.0, (5,)))
    np.testing.assert_array_equal(f(np.ones(5)), np.full(5, 2.0))
    with pytest.raises(ValueError, match=r"(?s)while evaluating xpgrad op 'reshape' on numpy operands: \(6,\) float64"):
        f(np.ones(6))
    np.testing.assert_array_equal(f(np.ones(5)), np.full(5, 2.0))  # and the function still runs


def test_bool_results_of_unknown_dtype_placeholders_are_known_at_build_time() -> None:
    p = xpgrad.placeholder()
    for made in (p > 0, xpgrad.isnan(p), xpgrad.logical_not(p), xpgrad.equal(p, p)):
        assert made.dtype == np.bool_
    with pytest.raises(TypeError, match="add: only integer or real floating or complex floating dtypes"):
        (p > 0) + (p < 1)  # refused while building, not after feeding
    y = xpgrad.where(p > 0, p, 0.0)
    p.value = np.array([-1.0, 2.0])
    assert y.forward().numpy().tolist() == [0.0, 2.0]
    assert xpgrad.sum(y).grad(p).forward().numpy().tolist() == [0.0, 1.0]


def test_habits_from_other_libraries_get_errors_that_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    a = xpgrad.Tensor(np.ones((2, 3)))
    with pytest.raises(
        TypeError, match=r"sum\(\) takes 1 array argument\(s\) but 2 were given; pass its parameters by keyword \(axis="
    ):
        xpgrad.sum(a, 0)  # NumPy's positional axis
    with pytest.raises(TypeError, match=r"takes argnums \(positions\), not Tensors: grad\(f\)\(x\), as jax.grad; or"):
        xpgrad.grad(lambda x: x, [a])  # the two forms mixed
    with pytest.raises(TypeError, match="show/format_tree: expected one Tensor, got float"):
        xpgrad.show(3.0)
    with pytest.raises(TypeError, match="a modulus is not supported"):
        pow(a, 2, 5)
    with pytest.raises(ValueError, match=r"leaf was built with shape \(2, 3\) but was fed shape \(3,\)"):
        a.value = np.ones(3)  # (a leaf from an array declared nothing)
    with pytest.raises(ValueError, match=r"is declared with shape \(2,\)"):
        xpgrad.placeholder(shape=(2,)).value = np.ones(3)
    p = xpgrad.placeholder(shape=(None,), dtype="float64")
    assert float(xpgrad.function(p, xpgrad.sum(p * p))(np.ones(3))) == 3.0  # one input, not in a list
    from xpgrad import backends

    monkeypatch.setattr(backends, "_default", None)
    monkeypatch.setenv("XPGRAD_BACKEND", "bogus")
    with pytest.raises(ValueError, match="the environment variable XPGRAD_BACKEND='bogus': unknown backend"):
        xpgrad.Tensor(1.0)


# ----------------------------------------------------------------- issue 18, items 8, 9 and 11
def test_operands_that_do_not_broadcast_name_their_placeholders(tb) -> None:
    # placeholders of free sizes fed arrays that do not broadcast: the backend's "operands could not be
    # broadcast together" named no op or placeholder; now the error of a build with known shapes, naming both
    x = xpgrad.placeholder(shape=(None,), name="x", backend=tb.bk, device=tb.device)
    y = xpgrad.placeholder(shape=(None,), backend=tb.bk, device=tb.device)
    z = xpgrad.sin(x) + y * 2.0
    expected = (
        r"add: shapes \(10,\) and \(7,\) cannot be broadcast together \(axis -1: sizes \[7, 10\]\); make the sizes "
        r"equal or 1.* operand 1 \(10,\) comes from placeholder 'x' \(fed shape \(10,\)\); operand 2 \(7,\) comes "
        r"from placeholder \(fed shape \(7,\)\): feed arrays whose shapes broadcast"
    )
    f = xpgrad.function([x, y], z)
    with pytest.raises(ValueError, match=expected):
        f(tb.arr(np.ones(10)), tb.arr(np.ones(7)))
    assert tb.np(f(tb.arr(np.ones(7)), tb.arr(np.ones(7)))).shape == (7,)  # and the function still runs
    x.value, y.value = tb.arr(np.ones(10)), tb.arr(np.ones(7))
    with pytest.raises(ValueError, match=expected):
        z.forward()
    with pytest.raises(ValueError, match=r"multiply: shapes \(10,\) and \(4,\) .* operand 2 \(4,\) comes from no pl"):
        (x * 2.0) * tb.t(np.ones(4))  # an eager build on a node of unknown static shape


def _standard_refuses_complex(name: str, arity: int) -> bool:
    """Whether the standard's reference implementation, array-api-strict, refuses complex128 for ``name``."""
    import array_api_strict as s

    z = s.asarray([1 + 2j, 3 - 1j])
    try:
        getattr(s, name)(*[z] * arity)
    except TypeError:
        return True
    return False


def test_real_only_functions_refuse_complex_when_built(tb) -> None:
    # floor/ceil/trunc/atan2... of complex failed inside NumPy ("ufunc 'floor' not supported"), maximum/max/var...
    # worked on NumPy and failed inside array-api-strict: the table's domains now follow the standard, checked
    # here against its reference implementation, on placeholders (no value: refused while building)
    from xpgrad import OPS

    z = xpgrad.placeholder(shape=(2,), dtype="complex128", backend=tb.bk, device=tb.device)
    refused = []
    for name, op in OPS.items():
        fn = getattr(xpgrad, name, None)
        if fn is None or op.arity > 2 or name in ("astype", "reshape", "broadcast_to"):
            continue  # (internal ops; the three that need a dtype or a shape argument accept any dtype)
        if not op.elementwise and name not in ("sum", "prod", "mean", "max", "min", "var", "std", "all", "any"):
            continue  # (shape functions and linear algebra need other shapes: tests/test_linalg.py checks them)
        if not hasattr(array_api_strict, name):
            continue  # not the standard's (sinc): its reference implementation has nothing to compare with
        if not _standard_refuses_complex(name, op.arity):
            fn(*[z] * op.arity)  # built
            continue
        refused.append(name)
        with pytest.raises(TypeError, match=rf"^{name}: only .*dtypes are allowed; got complex128.*xpgrad.real"):
            fn(*[z] * op.arity)
    assert {"floor", "ceil", "trunc", "atan2", "maximum", "greater", "max", "var", "std"} <= set(refused)
    x = tb.t([0.5, -1.5])
    with pytest.raises(TypeError, match="atan2: only bool or integer or real floating dtypes are allowed; got "):
        xpgrad.atan2(x, 1j)  # a complex Python number too
    assert tb.np(xpgrad.floor(x)).tolist() == [0.0, -2.0]  # real inputs as before


def test_std_and_var_check_correction_and_take_numpys_ddof(tb) -> None:
    x = tb.t([1.0, 2.0, 4.0])
    for name in ("std", "var"):
        with pytest.raises(TypeError, match=rf"{name}: correction must be a real number .*; got str '1'"):
            getattr(xpgrad, name)(x, correction="1")  # failed inside the backend, comparing it
        ref = getattr(tb.xp, name)
        # np.std(t) calls t.std(axis=None, dtype=None, out=None, ddof=0): NumPy's name for correction
        np.testing.assert_array_equal(tb.np(getattr(np, name)(x)), tb.np(ref(x.value)))
        np.testing.assert_array_equal(tb.np(getattr(np, name)(x, ddof=1)), tb.np(ref(x.value, correction=1)))
        with pytest.raises(TypeError, match=rf"{name}: pass correction= .* or NumPy's ddof=, not both"):
            getattr(x, name)(ddof=1, correction=1)


def test_max_and_min_of_an_empty_array_are_refused_when_built(tb) -> None:
    e = tb.t(np.zeros((0, 3)))
    for name, what in (("max", "maximum"), ("min", "minimum")):
        fn = getattr(xpgrad, name)
        with pytest.raises(ValueError, match=rf"{name}: an empty array \(shape \(0, 3\)\) has no {what}; check"):
            fn(e)
        with pytest.raises(ValueError, match=rf"{name}: an empty array .* has no {what} along axis 0"):
            fn(e, axis=0)
        assert fn(e, axis=1).shape == (0,)  # a reduction along an axis of nonzero size is fine


def test_creation_and_broadcast_to_check_their_shape(tb) -> None:
    on = {"backend": tb.bk, "device": tb.device}
    with pytest.raises(ValueError, match="zeros: shape -1 has a negative size"):
        xpgrad.zeros(-1, **on)
    with pytest.raises(TypeError, match=r"ones: shape must be an int or a tuple of ints; got tuple \(2.5,\)"):
        xpgrad.ones((2.5,), **on)
    with pytest.raises(TypeError, match="full: shape must be an int or a tuple of ints; got bool True"):
        xpgrad.full(True, 1.0, **on)
    with pytest.raises(TypeError, match="empty: shape must be an int or a tuple of ints; got str 'abc'"):
        xpgrad.empty("abc", **on)
    x = tb.t([1.0, 2.0])
    with pytest.raises(TypeError, match="broadcast_to: shape must be an int or a tuple of ints; got str 'abc'"):
        xpgrad.broadcast_to(x, "abc")
    assert xpgrad.zeros(np.int64(2), **on).shape == xpgrad.full([2, np.int32(3)], 1.0, **on).shape[:1] == (2,)
    assert xpgrad.broadcast_to(x, [3, 2]).shape == (3, 2)


def test_to_device_refuses_a_tensor(tb) -> None:
    x = tb.t([1.0, 2.0])
    with pytest.raises(TypeError, match=r"to_device: expected a device, got a Tensor; pass its .device"):
        x.to_device(x)
    with pytest.raises(TypeError, match=r"to: expected a device, got a Tensor"):
        x.to(tb.bk, device=x)
    assert x.to_device(x.device).device == x.device


def test_integer_to_a_negative_integer_power_is_refused_when_built(tb) -> None:
    two = tb.t(2, "int64")
    for build in (lambda: two**-1, lambda: xpgrad.pow(two, -2), lambda: tb.t([1, 2], "int32") ** -1):
        with pytest.raises(ValueError, match=r"pow: integers to negative integer powers are not allowed; got int"):
            build()
    assert float(two**-1.0) == 0.5 and int(two**2) == 4 and float(tb.t(2.0) ** -1) == 0.5


def test_clip_names_clip_not_the_ops_it_is_made_of(tb) -> None:
    x = tb.t([0.5, 2.0])
    with pytest.raises(TypeError, match="clip: cannot use str 'abc' as x; pass a Tensor"):
        xpgrad.clip("abc", min=0)  # named 'positive'
    with pytest.raises(TypeError, match="clip: cannot use str 'abc' as max"):
        xpgrad.clip(x, max="abc")  # named 'clip_max'
    with pytest.raises(ValueError, match=r"clip: shapes \(2,\) and \(3,\) cannot be broadcast"):
        xpgrad.clip(x, min=tb.t([0.0, 0.0, 0.0]))
    with pytest.raises(TypeError, match="clip: only integer or real floating dtypes are allowed; got complex128"):
        xpgrad.clip(tb.t([1j], "complex128"), min=0.0)  # named 'clip_min'
    assert tb.np(xpgrad.clip(x, min=1.0, max=1.5)).tolist() == [1.0, 1.5]


def test_an_unusable_backend_from_the_environment_says_the_variable_chose_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from xpgrad import backends
    from xpgrad.backends import cupy as cupy_backend

    monkeypatch.setattr(cupy_backend, "probe", lambda: "CuPy found no CUDA device")  # as on a machine without one
    monkeypatch.setattr(backends, "_loaded", {k: v for k, v in backends._loaded.items() if k != "cupy"})
    monkeypatch.setattr(backends, "_default", None)
    monkeypatch.setenv("XPGRAD_BACKEND", "cupy")
    with pytest.raises(
        xpgrad.BackendUnavailableError,
        match=r"backend 'cupy', chosen by the environment variable XPGRAD_BACKEND='cupy', is unavailable: CuPy "
        r"found no CUDA device. Set XPGRAD_BACKEND=auto",
    ):
        xpgrad.Tensor(1.0)
    with pytest.raises(xpgrad.BackendUnavailableError, match=r"backend 'cupy' is unavailable: .*backend='auto'"):
        xpgrad.Tensor(1.0, backend="cupy")  # asked for by name: the hint for the argument, as before


def test_floating_point_warnings_name_the_op_when_made_errors() -> None:
    # README: NumPy's RuntimeWarnings point at xpgrad's line; np.errstate(all="raise") (or warnings as errors)
    # makes them errors whose note names the op, eagerly and in a compiled call
    p = xpgrad.placeholder(shape=(None,))
    f = xpgrad.function([p], xpgrad.log(p) * 2.0)
    with np.errstate(divide="raise"):
        for run in (lambda: xpgrad.log(xpgrad.Tensor(np.zeros(2))), lambda: f(np.zeros(2))):
            with pytest.raises(FloatingPointError) as info:
                run()
            assert "while evaluating xpgrad op 'log' on numpy operands: (2,) float64" in info.value.__notes__


def test_public_errors_are_named_as_users_import_them() -> None:
    # a traceback names the class by its module: users import these from xpgrad, never from a private module
    import pickle
    import traceback

    for cls in (xpgrad.PlaceholderError, xpgrad.BackendMismatchError, xpgrad.BackendUnavailableError, xpgrad.AxisError):
        assert cls.__module__ == "xpgrad"
        err = pickle.loads(pickle.dumps(cls("m")))
        assert type(err) is cls and traceback.format_exception_only(err)[0].startswith(f"xpgrad.{cls.__name__}: m")
