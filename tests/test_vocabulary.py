"""The elementwise vocabulary, driven by tests/vocab.py: forward values, rules, edge conventions, operators."""

from __future__ import annotations

import inspect
import math
import random
import zlib

import numpy as np
import pytest

import xpgrad
from vocab import ARRAY_FUNCTIONS, DTYPES, ENTRIES, TABLE
from xpgrad import OPS
from xpgrad._core.opdef import ZERO


def sample(tb, lo: float, hi: float, shape: tuple[int, ...], dtype: str, seed: int):
    rng = random.Random(seed)
    n = math.prod(shape)
    if dtype == "bool":
        data = np.array([rng.random() < 0.5 for _ in range(n)])
    elif dtype.startswith("int"):
        lo, hi = math.ceil(lo), max(math.floor(hi), math.ceil(lo))  # a range without integers: its ceiling
        data = np.array([rng.randint(lo, hi) for _ in range(n)])
    elif dtype.startswith("complex"):
        data = np.array([complex(rng.uniform(lo, hi), rng.uniform(lo, hi)) for _ in range(n)])
    else:
        data = np.array([rng.uniform(lo, hi) for _ in range(n)])
    return tb.arr(data.reshape(shape), dtype)


def inputs(tb, name: str, dtype: str, shapes=None) -> list:
    e = TABLE[name]
    shapes = shapes or [(2, 3)] * len(e.ranges)
    seed = zlib.crc32(name.encode())
    pairs = enumerate(zip(e.ranges, shapes, strict=True))
    return [sample(tb, lo, hi, s, dtype, seed + k) for k, ((lo, hi), s) in pairs]


def test_the_test_table_is_the_op_table() -> None:
    """Every public elementwise op of the op table has its line in the test table (``where``'s is among the
    array functions), and every line is a public function; an op is checked at order 0 exactly when all of
    its rules are zero by definition."""
    lines = set(TABLE) | {name for name, _, _ in ARRAY_FUNCTIONS}
    assert sorted(n for n, op in OPS.items() if op.public and op.elementwise and n not in lines) == []
    assert [n for n in TABLE if not callable(getattr(xpgrad, n, None))] == []
    for e in ENTRIES:
        op = OPS.get(e.name)  # (clip is a composite of clip_min and clip_max)
        if op is not None:
            assert (e.order == 0) == all(r is ZERO for r in op.vjp), e.name


def test_the_table_holds_the_standard() -> None:
    """Every elementwise function of the array API standard, as its reference implementation lists them."""
    pytest.importorskip("array_api_strict", reason="the standard's list of functions is array-api-strict's")
    from array_api_strict import _elementwise_functions as listed

    functions = [(n, f) for n, f in vars(listed).items() if inspect.isfunction(f) and not n.startswith("_")]
    standard = {n for n, f in functions if f.__module__ == listed.__name__}
    assert len(standard) >= 67  # 2024.12's 67: a listing that finds fewer is broken
    assert sorted(standard - set(TABLE)) == []
    assert sorted(e.name for e in ENTRIES if not e.reference and e.name not in standard) == []


FORWARD = [(e.name, d) for e in ENTRIES for d in DTYPES[e.dtypes]]


@pytest.mark.parametrize(("name", "dtype"), FORWARD, ids=[f"{n}-{d}" for n, d in FORWARD])
def test_forward_equals_the_backend(tb, name: str, dtype: str) -> None:
    xs = inputs(tb, name, dtype)
    e = TABLE[name]
    got = e(xpgrad, *[xpgrad.Tensor(x) for x in xs])
    if e.reference:  # beyond the standard: NumPy's function, on the host
        want = getattr(np, e.reference)(*(tb.np(x) for x in xs))
        assert tb.np(got).dtype == want.dtype
        if tb.numpy_maths or want.dtype.kind not in "fc":
            np.testing.assert_array_equal(tb.np(got), want)
        else:  # another maths library (PyTorch's, JAX's sin): NumPy's bits within 4 ulps
            np.testing.assert_allclose(tb.np(got), want, rtol=4 * np.finfo(want.dtype).eps, atol=0)
        return
    want = e(tb.xp, *xs)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(tb.np(got), tb.np(want))


GRADS = [(e.name, d) for e in ENTRIES if e.order > 0 for d in ("float64", "float32")]


@pytest.mark.parametrize(("name", "dtype"), GRADS, ids=[f"{n}-{d}" for n, d in GRADS])
def test_rule_matches_finite_differences(tb, name: str, dtype: str) -> None:
    e = TABLE[name]
    xs = inputs(tb, name, dtype)
    xpgrad.check_grads(lambda *ts: e(xpgrad, *ts), *xs, order=e.order if dtype == "float64" else min(e.order, 2))


POINTS = [e.name for e in ENTRIES if e.points]


@pytest.mark.parametrize("name", POINTS)
def test_rule_at_its_edge_points(tb, name: str) -> None:
    e = TABLE[name]
    xpgrad.check_grads(lambda t: e(xpgrad, t), tb.arr(np.array(e.points)), order=e.order)


BROADCAST = [e.name for e in ENTRIES if e.order > 0 and len(e.ranges) == 2]


@pytest.mark.parametrize("name", BROADCAST)
def test_rule_with_broadcasting(tb, name: str) -> None:
    e = TABLE[name]
    a, b = inputs(tb, name, "float64", shapes=[(3, 1), (1, 4)])
    xpgrad.check_grads(lambda *ts: e(xpgrad, *ts), a, b, order=1)
    a, s = inputs(tb, name, "float64", shapes=[(2, 3), ()])
    xpgrad.check_grads(lambda *ts: e(xpgrad, *ts), a, s, order=1)


@pytest.mark.parametrize("name", [e.name for e in ENTRIES if e.order == 0])
def test_non_differentiable_rules_are_explicit_zeros(tb, name: str) -> None:
    op = OPS.get(name)
    if op is not None:
        assert all(r is ZERO for r in op.vjp), f"{name} must have explicit ZERO rules"
    dtype = DTYPES[TABLE[name].dtypes][0]
    if dtype.startswith("complex"):
        return  # no gradients with respect to complex inputs (tested below)
    xs = [xpgrad.Tensor(x) for x in inputs(tb, name, dtype)]
    out = TABLE[name](xpgrad, *xs)
    for x in xs:
        if x.dtype == tb.xp.bool:  # booleans have no gradient: asking is an error, not a zero
            with pytest.raises(TypeError, match="has dtype bool, which has no gradient"):
                xpgrad.grad(out, [x])
            continue
        g = xpgrad.sum(out).grad(x) if out.dtype != tb.xp.bool else xpgrad.grad(out, [x])[0]
        assert not tb.np(g).any()


def test_complex_forward_and_gradients(tb) -> None:
    z = tb.arr([1 + 2j, -3 + 0.5j], "complex128")
    t = xpgrad.Tensor(z)
    for name in ("real", "imag", "conj", "exp", "sqrt", "abs"):
        np.testing.assert_array_equal(tb.np(getattr(xpgrad, name)(t)), tb.np(getattr(tb.xp, name)(z)))
    # real(z^2) = x^2 - y^2: d/dx - i d/dy = 2x + 2iy = 2z (JAX's convention; tests/test_complex.py for more)
    np.testing.assert_allclose(tb.np(xpgrad.sum(xpgrad.real(t * t)).grad(t)), 2 * tb.np(z), rtol=1e-15)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int64", "int32", "uint8"])
def test_imag_of_a_real_input_is_zeros_of_its_dtype_on_every_backend(tb, dtype) -> None:
    # NumPy gave zeros and array-api-strict refused a real input (the standard defines imag for complex only)
    if not hasattr(tb.xp, dtype):
        pytest.skip(f"backend {tb.id} has no {dtype} (the array API standard does not define it)")
    x = xpgrad.Tensor(tb.arr([[1.5, -2.0, 0.0]] if dtype.startswith("float") else [[1, 7, 0]], dtype))
    got = xpgrad.imag(x)
    assert got.dtype == x.dtype and got.shape == (1, 3) and got.device == x.device
    np.testing.assert_array_equal(tb.np(got), np.zeros((1, 3), dtype))
    f = xpgrad.function([x], got)
    np.testing.assert_array_equal(tb.np(f(x.value)), np.zeros((1, 3), dtype))
    if dtype.startswith("float"):  # d imag(x)/dx = 0 for real x; next to x's own term, the derivative is 1
        np.testing.assert_array_equal(tb.np(xpgrad.sum(xpgrad.imag(x)).grad(x)), np.zeros((1, 3), dtype))
        np.testing.assert_array_equal(tb.np(xpgrad.sum(xpgrad.imag(x) * x + x).grad(x)), np.ones((1, 3), dtype))
    with pytest.raises(TypeError, match="imag: only"):
        xpgrad.imag(x > 0)


def test_float32_is_kept_and_integers_promote(tb) -> None:
    default_float = tb.xp.__array_namespace_info__().default_dtypes(device=tb.device)["real floating"]
    for e in ENTRIES:
        if e.order > 0:
            xs = [xpgrad.Tensor(x) for x in inputs(tb, e.name, "float32")]
            y = e(xpgrad, *xs)
            for x in xs:
                g = xpgrad.grad(y, [x])[0]
                assert y.dtype == g.dtype == tb.xp.float32, e.name
                assert xpgrad.sum(g).grad(x).dtype == tb.xp.float32, e.name
    assert xpgrad.log1p(tb.t([1, 2], "int64")).dtype == default_float
    assert xpgrad.atan2(tb.t([1, 2], "int64"), 1).dtype == default_float


def test_float32_gradients_compute_in_float32(tb) -> None:
    # not only their results: logaddexp's rule made its exponent with a where of two Python numbers, a
    # default-float (float64) array, so float32 cotangents were computed in float64 and cast back
    from xpgrad._core.walk import toposort

    for e in ENTRIES:
        if e.order > 0:
            xs = [xpgrad.Tensor(x) for x in inputs(tb, e.name, "float32")]
            gs = xpgrad.grad(xpgrad.sum(e(xpgrad, *xs)), xs)
            second = xpgrad.grad(xpgrad.sum(gs[0]), xs)
            kept = (tb.xp.float32, tb.xp.bool)
            wide = {str(n.dtype) for n in toposort([*gs, *second]) if not n._const and n.dtype not in kept}
            assert not wide, (e.name, wide)


def test_a_complex_number_keeps_a_real_arrays_precision(tb) -> None:
    # float32 * 1j is complex64 in NumPy 2 and array-api-strict (the standard); it was complex128
    x = tb.t([1.5, -0.0], "float32")
    for out in (x * 1j, 1j * x, x + complex(1.0, -0.0), xpgrad.where(x == x, x, 2j)):
        assert out.dtype == tb.xp.complex64
    c64 = tb.xp.complex64
    want = tb.xp.multiply(tb.xp.astype(x.value, c64), tb.xp.asarray(1j, dtype=c64, device=tb.device))
    np.testing.assert_array_equal(tb.np(x * 1j), tb.np(want))
    assert xpgrad.namespace(tb.bk).result_type(x, 1j) == tb.xp.complex64
    assert (tb.t([1.5], "float64") * 1j).dtype == tb.xp.complex128
    default = tb.xp.__array_namespace_info__().default_dtypes(device=tb.device)["complex floating"]
    assert (tb.t([1], "int32") * 1j).dtype == default  # an integer array: the default complex dtype (PyTorch's: c64)


# ----------------------------------------------------------------- edge conventions, at their points
def _g(tb, f, *vals):
    ts = [tb.t(v) for v in vals]
    return [tb.np(g).tolist() for g in xpgrad.grad(xpgrad.sum(f(*ts)), ts)]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns on the IEEE infinities it returns
def test_edge_conventions(tb) -> None:
    inf = math.inf
    assert _g(tb, xpgrad.abs, [0.0, -0.0]) == [[0.0, 0.0]]
    assert _g(tb, xpgrad.sign, [0.0, 1.0]) == [[0.0, 0.0]]
    assert _g(tb, xpgrad.sqrt, [0.0]) == [[inf]]
    assert _g(tb, xpgrad.acosh, [1.0]) == [[inf]]
    assert _g(tb, xpgrad.asin, [1.0, -1.0]) == [[inf, inf]]
    assert _g(tb, xpgrad.maximum, [1.0, 2.0], [1.0, 3.0]) == [[0.5, 0.0], [0.5, 1.0]]
    assert _g(tb, xpgrad.minimum, [1.0, 2.0], [1.0, 3.0]) == [[0.5, 1.0], [0.5, 0.0]]
    clip = lambda x, lo, hi: xpgrad.clip(x, min=lo, max=hi)
    # x at the lower bound, inside, at the upper bound, below, above: x gets 1 on [min, max]
    assert _g(tb, clip, [0.0, 0.5, 1.0, -1.0, 2.0], [0.0] * 5, [1.0] * 5) == [
        [1.0, 1.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 1.0],
    ]
    assert _g(tb, xpgrad.pow, [0.0, 0.0, 2.0], [0.0, 2.0, 0.0]) == [[0.0, 0.0, 0.0], [0.0, 0.0, math.log(2.0)]]
    assert _g(tb, xpgrad.copysign, [0.0, 2.0, 2.0], [-1.0, -1.0, 1.0]) == [[0.0, -1.0, 1.0], [0.0, 0.0, 0.0]]
    assert _g(tb, xpgrad.remainder, [5.5, -5.5], [2.0, 2.0]) == [[1.0, 1.0], [-2.0, 3.0]]
    assert _g(tb, xpgrad.nextafter, [1.0], [2.0]) == [[0.0], [0.0]]
    assert _g(tb, xpgrad.hypot, [0.0, 3.0], [0.0, 4.0]) == [[0.0, 0.6], [0.0, 0.8]]
    assert _g(tb, xpgrad.logaddexp, [inf, 0.0], [1.0, 0.0]) == [[1.0, 0.5], [0.0, 0.5]]
    # ties at +-inf: 1/2 each (they used to get 1 each, so d/dx logaddexp(x, x) was 2, not 1)
    assert _g(tb, xpgrad.logaddexp, [inf, -inf], [inf, -inf]) == [[0.5, 0.5], [0.5, 0.5]]
    assert _g(tb, xpgrad.atan2, [1.0], [0.0]) == [[0.0], [-1.0]]


def test_stable_forms_where_naive_ones_fail(tb) -> None:
    big = tb.t([1e200, -1e200])
    assert tb.np(xpgrad.asinh(big).grad(big)).tolist() == pytest.approx([1e-200, 1e-200])  # not 1/sqrt(inf)
    h = xpgrad.Tensor(tb.arr([1e200]))
    assert tb.np(xpgrad.hypot(h, h).grad(h)).tolist() == pytest.approx([math.sqrt(2)])  # not inf/inf
    a, b = tb.t([1e200]), tb.t([1e200])
    ga, gb = xpgrad.grad(xpgrad.atan2(a, b), [a, b])
    assert tb.np(ga).tolist() == pytest.approx([0.5e-200]) and tb.np(gb).tolist() == pytest.approx([-0.5e-200])
    a, b = tb.t([1000.0]), tb.t([0.0])
    assert tb.np(xpgrad.logaddexp(a, b).grad(a)).tolist() == [1.0]  # not exp(1000) / exp(1000)
    x = tb.t([1.0 + 1e-12])
    d = tb.np(xpgrad.acosh(x).grad(x))[0]
    assert d == pytest.approx(1 / math.sqrt(1e-12 * (2 + 1e-12)), rel=1e-4)  # sqrt(x*x-1) loses digits here


# ----------------------------------------------------------------- Python operators
BINOPS = [
    ("+", "add"),
    ("-", "subtract"),
    ("*", "multiply"),
    ("/", "divide"),
    ("//", "floor_divide"),
    ("%", "remainder"),
    ("**", "pow"),
    ("<", "less"),
    ("<=", "less_equal"),
    (">", "greater"),
    (">=", "greater_equal"),
    ("==", "equal"),
    ("!=", "not_equal"),
]
INTOPS = [("&", "bitwise_and"), ("|", "bitwise_or"), ("^", "bitwise_xor"), ("<<", "bitwise_left_shift")]
INTOPS += [(">>", "bitwise_right_shift")]


@pytest.mark.parametrize(("sym", "name"), BINOPS + INTOPS)
def test_python_operators(tb, sym: str, name: str) -> None:
    ints = (sym, name) in INTOPS
    a = tb.arr([5, 3, 7], "int64") if ints else tb.arr([1.5, 2.0, 3.0])
    b = tb.arr([1, 2, 3], "int64") if ints else tb.arr([0.5, 2.0, 1.25])
    s = 2 if ints else 1.5
    f = eval(f"lambda x, y: x {sym} y")
    fn = getattr(tb.xp, name)
    t, u = xpgrad.Tensor(a), xpgrad.Tensor(b)
    for got, want in (
        (f(t, u), fn(a, b)),  # Tensor op Tensor
        (f(t, s), fn(a, tb.xp.asarray(s, dtype=a.dtype, device=tb.device))),  # Tensor op scalar
        (f(s, t), fn(tb.xp.asarray(s, dtype=a.dtype, device=tb.device), a)),  # reflected
    ):
        assert isinstance(got, xpgrad.Tensor)
        np.testing.assert_array_equal(tb.np(got), tb.np(want))


def test_unary_operators(tb) -> None:
    a = tb.arr([-1.5, 2.0])
    t = xpgrad.Tensor(a)
    np.testing.assert_array_equal(tb.np(-t), tb.np(tb.xp.negative(a)))
    np.testing.assert_array_equal(tb.np(+t), tb.np(a))
    np.testing.assert_array_equal(tb.np(abs(t)), tb.np(tb.xp.abs(a)))
    i = tb.arr([5, 0], "int64")
    np.testing.assert_array_equal(tb.np(~xpgrad.Tensor(i)), tb.np(tb.xp.bitwise_invert(i)))
    m = tb.arr([True, False], "bool")
    np.testing.assert_array_equal(tb.np(~xpgrad.Tensor(m)), [False, True])
    assert tb.np((t % 1.0).grad(t)).tolist() == [1.0, 1.0]
