"""THE test table of the elementwise vocabulary: one line per elementwise function, those of the array API
standard and any beyond it.

Each entry says how to sample its inputs, which dtypes the backends accept for it, the derivative
order checked (0: not differentiable, its rule is zero by definition), and, for the documentation,
its derivative and its edge convention. tests/test_vocabulary.py and docs/gen_ops_table.py read it, and
tests/test_vocabulary.py checks that every public elementwise op of the op table (`xpgrad.OPS`) has its
line here: adding an op is one entry in the op table and one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# dtype families the forward test runs on (each backend's own function must accept them natively)
DTYPES = {
    "float": ("float64", "float32"),
    "real": ("float64", "int64", "int32"),
    "numeric": ("float64", "int64", "complex128"),
    "int": ("int64", "int32"),
    "intbool": ("int64", "bool"),
    "bool": ("bool",),
    "complex": ("complex128",),
}

R = (-2.0, 2.0)  # the default sample range


@dataclass(frozen=True)
class Entry:
    name: str
    ranges: tuple[tuple[float, float], ...]  # one (low, high) per input
    dtypes: str  # a key of DTYPES
    order: int  # derivative order checked in float64 (float32: min(order, 2)); 0 = not differentiable
    derivative: str
    edge: str = ""
    call: Callable[..., Any] | None = None  # how to call it: call(namespace, *inputs); default ns.<name>
    # a function beyond the standard, which the backends' namespaces lack: the name of NumPy's function giving
    # the expected values from the inputs' host copies (the standard's functions: the backend's own)
    reference: str = ""
    points: tuple[float, ...] = ()  # inputs of a unary function where its rule is checked too (its edge cases)

    def __call__(self, ns: Any, *args: Any) -> Any:
        return self.call(ns, *args) if self.call else getattr(ns, self.name)(*args)


def _u(
    name: str, lo_hi: tuple[float, float], order: int, derivative: str, edge: str = "", d: str = "float", **kw: Any
) -> Entry:
    return Entry(name, (lo_hi,), d, order, derivative, edge, **kw)


def _b(name: str, ra: Any, rb: Any, order: int, derivative: str, edge: str = "", d: str = "float") -> Entry:
    return Entry(name, (ra, rb), d, order, derivative, edge)


ZERO_DOC = "0 (piecewise constant)"
BOOL_DOC = "none: boolean output, never differentiated through"
INT_DOC = "none: integer/boolean op, zero by definition"

ENTRIES = [
    _u("abs", (0.2, 2.0), 2, "sign(x); complex: conj(x)/abs(x)", "0 at x = 0 (JAX, PyTorch)", "real"),
    _u("acos", (-0.9, 0.9), 3, "-1/sqrt((1-x)(1+x))", "-inf at x = +-1"),
    _u("acosh", (1.2, 3.0), 3, "1/sqrt((x-1)(x+1)); complex: 1/(sqrt(x-1)sqrt(x+1))", "+inf at x = 1"),
    _b("add", R, R, 3, "1, 1", d="real"),
    _u("asin", (-0.9, 0.9), 3, "1/sqrt((1-x)(1+x))", "+inf at x = +-1"),
    _u("asinh", R, 3, "1/hypot(x, 1); complex: 1/sqrt(x^2+1)"),
    _u("atan", R, 3, "1/(1+x^2)"),
    _b("atan2", R, (0.5, 2.0), 3, "b/h^2, -a/h^2 with h = hypot(a, b)", "nan at (0, 0) (JAX, PyTorch)"),
    _u("atanh", (-0.9, 0.9), 3, "1/((1-x)(1+x))", "+inf at x = +-1"),
    _b("bitwise_and", (0, 9), (0, 9), 0, INT_DOC, d="intbool"),
    _b("bitwise_left_shift", (0, 9), (0, 5), 0, INT_DOC, d="int"),
    _u("bitwise_invert", (0, 9), 0, INT_DOC, d="intbool"),
    _b("bitwise_or", (0, 9), (0, 9), 0, INT_DOC, d="intbool"),
    _b("bitwise_right_shift", (0, 99), (0, 5), 0, INT_DOC, d="int"),
    _b("bitwise_xor", (0, 9), (0, 9), 0, INT_DOC, d="intbool"),
    _u("ceil", R, 0, ZERO_DOC, d="real"),
    Entry(
        "clip",
        (R, (-1.5, -0.1), (0.1, 1.5)),
        "real",
        2,
        "1 to x where min <= x <= max, else 1 to the bound that binds",
        "at a bound the gradient goes to x (PyTorch's clamp; JAX splits ties)",
        call=lambda ns, x, lo, hi: ns.clip(x, min=lo, max=hi),
    ),
    _u("conj", R, 3, "1 (real input); conj(g) (complex)", d="real"),
    _b("copysign", (0.2, 2.0), R, 2, "sign(a) sign(out), 0", "d/da = 0 at a = 0; d/db = 0 (JAX, PyTorch)"),
    _u("cos", (-3.0, 3.0), 3, "-sin(x)"),
    _u("cosh", R, 3, "sinh(x)"),
    _b("divide", R, (0.5, 2.0), 3, "1/b, -out/b"),
    _b("equal", (0, 3), (0, 3), 0, BOOL_DOC, d="numeric"),
    _u("exp", R, 3, "out"),
    _u("expm1", R, 3, "out + 1", points=(0.0, 1e-10)),  # (where it is not exp(x) - 1)
    _u("floor", R, 0, ZERO_DOC, d="real"),
    _b("floor_divide", (-5, 5), (1, 4), 0, ZERO_DOC, d="real"),
    _b("greater", (0, 3), (0, 3), 0, BOOL_DOC, d="real"),
    _b("greater_equal", (0, 3), (0, 3), 0, BOOL_DOC, d="real"),
    _b("hypot", R, R, 3, "a/out, b/out", "0 at (0, 0) (JAX)"),
    _u(
        "imag",
        R,
        3,
        "0 (real input); -1j g (complex)",
        "of a real input: zeros of its dtype, on every backend",
        d="complex",
    ),
    _u("isfinite", R, 0, BOOL_DOC, d="real"),
    _u("isinf", R, 0, BOOL_DOC, d="real"),
    _u("isnan", R, 0, BOOL_DOC, d="real"),
    _b("less", (0, 3), (0, 3), 0, BOOL_DOC, d="real"),
    _b("less_equal", (0, 3), (0, 3), 0, BOOL_DOC, d="real"),
    _u("log", (0.5, 3.0), 3, "1/x"),
    _u("log1p", (-0.5, 2.0), 3, "1/(1+x)", points=(0.0, 1e-10)),  # (where it is not log(1 + x))
    _u("log2", (0.5, 3.0), 3, "1/(x ln 2)"),
    _u("log10", (0.5, 3.0), 3, "1/(x ln 10)"),
    _b(
        "logaddexp",
        R,
        R,
        3,
        "exp(a - out), exp(b - out)",
        "(1, 0) at a = +inf (PyTorch; JAX gives exp(b) to b); (1/2, 1/2) at a = b = +-inf",
    ),
    _b("logical_and", (0, 1), (0, 1), 0, BOOL_DOC, d="bool"),
    _u("logical_not", (0, 1), 0, BOOL_DOC, d="bool"),
    _b("logical_or", (0, 1), (0, 1), 0, BOOL_DOC, d="bool"),
    _b("logical_xor", (0, 1), (0, 1), 0, BOOL_DOC, d="bool"),
    _b("maximum", R, R, 2, "1 where a > b, else 0 (and swapped)", "a tie gives 1/2 to each (JAX, PyTorch)", "real"),
    _b("minimum", R, R, 2, "1 where a < b, else 0 (and swapped)", "a tie gives 1/2 to each (JAX, PyTorch)", "real"),
    _b("multiply", R, R, 3, "b, a", d="real"),
    _u("negative", R, 3, "-1", d="real"),
    _b("nextafter", R, R, 0, "0, 0 (a staircase over the reals)", "JAX and PyTorch define no rule; xpgrad: 0"),
    _b("not_equal", (0, 3), (0, 3), 0, BOOL_DOC, d="numeric"),
    _u("positive", R, 3, "1", d="real"),
    _b(
        "pow",
        (0.5, 2.0),
        (-1.5, 2.5),
        3,
        "b a^(b-1), out log(a)",
        "d/da = 0 where b = 0 (also at a = 0); d/db = 0 where a = 0 and b >= 0, nan where a = 0 and b < 0 (JAX)",
    ),
    _u("real", R, 3, "1 (real input); g + 0j (complex)", d="real"),
    _u("reciprocal", (0.5, 2.0), 3, "-out^2"),
    _b("remainder", (1.1, 1.3), (0.7, 0.9), 2, "1, -floor(a/b)", "as PyTorch and JAX", "real"),
    _u("round", R, 0, ZERO_DOC, d="real"),
    _u("sign", R, 0, ZERO_DOC, "0 everywhere, also at 0 (JAX, PyTorch)", "real"),
    _u("signbit", R, 0, BOOL_DOC),
    _u("sin", (-3.0, 3.0), 3, "cos(x)"),
    _u("sinc", R, 3, "(cos(pi x) - out)/x", "0 at 0 (a series near 0)", reference="sinc", points=(0, 0.19)),
    _u("sinh", R, 3, "cosh(x)"),
    _u("square", R, 3, "2x", d="real"),
    _u("sqrt", (0.5, 3.0), 3, "1/(2 out)", "+inf at x = 0 (JAX, PyTorch)"),
    _u(
        "stop_gradient",
        R,
        0,
        "0 (by definition: the value passes, the derivative does not)",
        d="real",
        reference="positive",
    ),
    _b("subtract", R, R, 3, "1, -1", d="real"),
    _u("tan", (-1.2, 1.2), 3, "1 + out^2"),
    _u("tanh", R, 3, "1 - out^2"),
    _u("trunc", R, 0, ZERO_DOC, d="real"),
]
TABLE = {e.name: e for e in ENTRIES}

# The rest of the vocabulary (tested in tests/test_arrays.py): name, derivative, edge convention.
ARRAY_FUNCTIONS = [
    ("where", "g to x1 where condition, to x2 elsewhere; 0 to condition", "both branches are differentiable"),
    (
        "sum",
        "g spread over the reduced axes",
        "an integer or bool dtype= casts each element first: 0 from floating x, as astype",
    ),
    (
        "prod",
        "product of the other elements",
        "exact at zeros to first order (no division by 0); an integer or bool dtype= casts each element first: "
        "0 from floating x, as astype",
    ),
    ("mean", "g / n spread over the reduced axes", ""),
    ("max", "g to the maximal elements", "ties share g evenly (JAX's reduce_max, PyTorch's amax)"),
    ("min", "g to the minimal elements", "ties share g evenly (JAX, PyTorch's amin)"),
    ("var", "2 (x - mean) / (n - correction)", ""),
    ("std", "(x - mean) / ((n - correction) std)", "0 where std = 0 (PyTorch; JAX gives nan)"),
    ("all", BOOL_DOC, ""),
    ("any", BOOL_DOC, ""),
    (
        "astype",
        "g cast back to x's dtype",
        "0 for a cast from floating to integer or bool (a staircase; JAX gives float0 zeros, PyTorch refuses)",
    ),
    ("reshape", "g reshaped back", ""),
    ("broadcast_to", "g summed over the broadcast axes", ""),
    ("t[key] (index)", "g scattered into zeros (op unindex, whose rule is index)", "basic indices only"),
    ("asarray zeros ones empty full *_like", "creation: leaves (zeros_like/ones_like of a Tensor: ZERO)", ""),
    # linear algebra and manipulation (tested in tests/test_linalg.py, their rules to order 2-3)
    (
        "matmul (@)",
        "g @ x2^T, x1^T @ g",
        "batch axes broadcast (the gradient sums back over them); 1-d operands as the standard promotes them",
    ),
    ("tensordot", "tensordot of g with the other operand over its free axes, permuted back", ""),
    ("vecdot", "g x2, g x1 (spread over the contracted axis)", "real operands (complex gradients: not yet)"),
    ("matrix_transpose (.mT, .T)", "g transposed", "t.T of a 2-d Tensor (0-d and 1-d: itself, as NumPy)"),
    ("permute_dims moveaxis", "g permuted back", ""),
    ("expand_dims squeeze", "g reshaped back", "an axis out of range: AxisError (a ValueError and an IndexError)"),
    (
        "concat stack unstack",
        "g cut at each operand's size (ops concat_first, concat_rest)",
        "n arrays join as nested binary concats",
    ),
    ("flip roll", "g flipped, rolled back", ""),
    (
        "tile repeat broadcast_arrays meshgrid",
        "g summed back (broadcast_to's rule, or take's)",
        "repeat's counts must have a value (integers: no gradient)",
    ),
    (
        "take take_along_axis",
        "g added into zeros at the indices (ops untake, untake_along)",
        "repeated indices add up; a product with one-hot matrices: memory len(indices) x axis size",
    ),
    ("cumulative_sum", "the cumulative sum of g from the end", "include_initial: the first element dropped"),
    (
        "cumulative_prod",
        "the reverse sweep of a doubling prefix product (O(n log n) ops, no division)",
        "exact where x has zeros, to every order (the standard's formula divides by them)",
    ),
    ("tril triu", "the same triangle of g", ""),
    # the linalg extension, `xpgrad.linalg` (tested in tests/test_linalg_ext.py, order 2, and against JAX)
    ("linalg.inv", "-inv^T g inv^T", "singular x: inf or nan"),
    ("linalg.det", "g det(x) inv(x)^T", "singular x: inf or nan (through inv)"),
    ("linalg.slogdet", "sign: 0; logabsdet: g inv(x)^T", "real inputs"),
    ("linalg.solve", "x2: solve(x1^T, g); x1: -solve(x1^T, g) out^T", "a 1-d x2 is one vector; batch axes broadcast"),
    ("linalg.cholesky", "sym(L^-T Phi(L^T g) L^-1), Phi: the lower triangle, diagonal halved", "reads (x + x^T) / 2"),
    ("linalg.trace linalg.diagonal", "g on the diagonal (offset)", ""),
    ("linalg.outer linalg.cross", "g x2, g^T x1; x2 x g, g x x1", "cross: broadcast axes summed back"),
    (
        "linalg.vector_norm",
        "2: g x / norm; 1: g sign(x); inf: g sign(x) at the maximal elements; p: sign(x) |x/norm|^(p-1)",
        "2-norm: 0 where the norm is 0 (PyTorch); ties of inf share g evenly",
    ),
    (
        "linalg.matrix_norm",
        "fro: g x / norm; nuc: g U V^T; 2, -2: g u v^T (SVD); 1, inf: g sign(x) on the extreme column or row",
        "2, -2: distinct extreme singular values",
    ),
    ("linalg.matrix_power", "sum over k of (x^T)^k g (x^T)^(n-1-k); n < 0: through inv", ""),
    (
        "linalg.pinv",
        "-P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A) (Golub, Pereyra)",
        "where the rank is constant",
    ),
    (
        "linalg.eigh linalg.eigvalsh",
        "sym(V (diag(g_w) + F o V^T g_V) V^T), F = 1 / (w_j - w_i)",
        "reads (x + x^T) / 2; repeated eigenvalues: inf or nan (JAX, PyTorch)",
    ),
    ("linalg.qr", "(g_Q + Q N) R^-T, N = tril(M - M^T, -1) - M, M = Q^T g_Q - g_R R^T", "R square: m >= n (JAX)"),
    (
        "linalg.svd linalg.svdvals",
        "U (F o [U^T g_U - g_U^T U] S + diag(g_S) + S F o [V^T g_V - g_V^T V]) V^T + projections (Townsend)",
        "U, Vh: full_matrices=False or square; repeated singular values: inf or nan",
    ),
    ("linalg.matrix_rank", "none: integer output", ""),
    ("sort", "g put back where each element came from (argsort)", "ties: argsort's stable order"),
    (
        "argmax argmin argsort nonzero searchsorted count_nonzero",
        "none: integer output, no gradient (JAX)",
        "what flows through them is zero",
    ),
    ("arange linspace eye", "creation: leaves", ""),
]
