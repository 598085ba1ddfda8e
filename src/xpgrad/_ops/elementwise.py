"""The rest of the array API's elementwise vocabulary (2024.12), each op beside its derivative rules.

The core arithmetic (add ... sqrt, comparisons, where) lives in `basic`; this file adds the other
elementwise functions of the standard, so that every one of its 67 is an xpgrad op. Rules follow
`basic`'s contract (``rule(g, out, *inputs) -> Tensor``, written in xpgrad ops) and are chosen for
accuracy: the forward output is reused where it is the derivative's cheapest exact form, and stable
forms replace the naive ones where those overflow or cancel. Edge conventions follow JAX (and
PyTorch where JAX is silent); each is named in a comment and listed in docs/ops.md. Fused forms
(``c=``) compute what NumPy computes, operation for operation where NumPy's own loop is not a libm call.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

from .._core.opdef import INT_IDENTITY, OPS, ZERO, CForm, IntForm
from . import array_impls as _impls
from . import basic
from .basic import _f, _unary, by_kind

__all__: list[str] = []

cosh, sinh, sqrt, exp, hypot, sign, square, where, floor_divide, conj = map(
    _f, ("cosh", "sinh", "sqrt", "exp", "hypot", "sign", "square", "where", "floor_divide", "conj")
)


# most binary functions here are real floating only (the standard's atan2, hypot, logaddexp, copysign, nextafter)
_binary = functools.partial(basic._binary, domain="real_floating")


# ----------------------------------------------------------------- smooth unary functions
_unary("expm1", lambda g, out, a: g * (out + 1), c=CForm.libm("expm1"))  # the output gives exp(a), no second exp
# rounding 1 + a for tiny a costs under an ulp of 1/(1+a)
_unary("log1p", lambda g, out, a: g / (a + 1), c=CForm.libm("log1p"))
_unary("log2", lambda g, out, a: g / (a * math.log(2)), c=CForm.libm("log2"))
_unary("log10", lambda g, out, a: g / (a * math.log(10)), c=CForm.libm("log10"))
_unary("tan", lambda g, out, a: g * (1 + square(out)), c=CForm.libm("tan"))  # sec^2 from the output, as in JAX
_unary("sinh", lambda g, out, a: g * cosh(a), c=CForm.libm("sinh"))
_unary("cosh", lambda g, out, a: g * sinh(a), c=CForm.libm("cosh"))
# (1 - a)(1 + a) instead of 1 - a*a: no cancellation near |a| = 1; +-inf at the ends, as in JAX
_unary("asin", lambda g, out, a: g / sqrt((1 - a) * (1 + a)), c=CForm.libm("asin"))
_unary("acos", lambda g, out, a: -(g / sqrt((1 - a) * (1 + a))), c=CForm.libm("acos"))
_unary("atan", lambda g, out, a: g / (1 + square(a)), c=CForm.libm("atan"))  # a*a -> inf gives the exact limit 0
# Complex rules of the holomorphic functions are their real ones (JAX's convention: g * f'(z), docs/complex.md),
# except where a real form has no complex meaning: asinh's hypot, and acosh's sqrt((a-1)(a+1)), which takes the
# wrong branch for Re(a) < 0 (as JAX's does); sqrt(a - 1) * sqrt(a + 1) is the principal branch's derivative
_unary(  # no overflow of a*a for |a| > 1e154
    "asinh",
    lambda g, out, a: by_kind(a, lambda: g / hypot(a, 1), lambda: g / sqrt(square(a) + 1)),
    c=CForm.libm("asinh"),
)
# (a - 1)(a + 1) instead of a*a - 1: exact near 1, where acosh's derivative blows up (+inf at 1)
_unary(
    "acosh",
    lambda g, out, a: by_kind(a, lambda: g / sqrt((a - 1) * (a + 1)), lambda: g / (sqrt(a - 1) * sqrt(a + 1))),
    c=CForm.libm("acosh"),
)
_unary("atanh", lambda g, out, a: g / ((1 - a) * (1 + a)), c=CForm.libm("atanh"))
# -1/a^2 from the output; fused: 1 / a, as NumPy's reciprocal
_unary("reciprocal", lambda g, out, a: -(g * square(out)), c=CForm("({T}(1) / {0})", "(({T})1 / {0})"))


# sinc(x) = sin(pi x) / (pi x), 1 at 0, as numpy.sinc (the standard has none: written with its functions). Its
# derivative (cos(pi x) - out) / x cancels near 0; for |x| < 0.19 the Taylor series to x^13 instead, within an
# ulp there and exact at 0 to order 14 (0, then -pi^2/3...). Each branch of the where sees a harmless argument
# (0, 1) where the other is used, so no inf or nan reaches a derivative of any order.
_SINC_SERIES = [(-1) ** k * 2 * k * math.pi ** (2 * k) / math.factorial(2 * k + 1) for k in range(7, 0, -1)]


def _sinc(xp: Any, x: Any) -> Any:
    y = xp.where(x == 0, xp.ones_like(x), x) * math.pi
    return xp.where(x == 0, xp.ones_like(x), xp.sin(y) / y)


def _sinc_rule(g: Any, out: Any, a: Any) -> Any:
    near = abs(a) < 0.19
    t, d = where(near, a, 0), where(near, 1, a)
    u = square(t)
    series = t * functools.reduce(lambda p, c: p * u + c, _SINC_SERIES)
    return g * where(near, series, (_f("cos")(math.pi * d) - out) / d)


_unary(
    "sinc",
    _sinc_rule,
    impl=_sinc,
    c=CForm(
        "({T}(1) if {0} == 0 else math.sin({0} * {T}(3.141592653589793)) / ({0} * {T}(3.141592653589793)))",
        "(({0} == 0) ? ({T})1 : (sin({0} * ({T})3.141592653589793) / ({0} * ({T})3.141592653589793)))",
    ),
)

# ----------------------------------------------------------------- complex parts (real inputs: identity-like)
# JAX's convention (docs/complex.md): real's cotangent g becomes g + 0j (the sweep's cast), imag's -1j * g
# (d imag(z) = Im(dz) = Re(-1j * dz)), conj's conj(g)
_unary("real", lambda g, out, a: g, domain="numeric", result="real", c=CForm.same("({0})"), int_c=INT_IDENTITY)
# imag of a real input: zeros of its dtype (+0.0, as NumPy's)
_unary(
    "imag",
    lambda g, out, a: by_kind(a, lambda: None, lambda: g * -1j),
    domain="numeric",
    result="real",
    impl=_impls.imag,
    c=CForm("{T}(0)", "(({T})0)"),
    int_c=IntForm.same("{T}(0)", "(({T})0)"),
)
_unary(
    "conj",
    lambda g, out, a: by_kind(a, lambda: g, lambda: conj(g)),
    domain="numeric",
    c=CForm.same("({0})"),
    int_c=INT_IDENTITY,
)

# ----------------------------------------------------------------- piecewise-constant: zero by definition
# real only (the standard; NumPy has no complex loop); of an integer: the integer itself
for _name, _c in (("floor", "floor"), ("ceil", "ceil"), ("trunc", "trunc")):
    _unary(_name, ZERO, domain="real", c=CForm(f"np.{_c}({{0}})", f"{_c}({{0}})"), int_c=INT_IDENTITY)
# complex: each part; half to even
_unary("round", ZERO, domain="numeric", c=CForm("np.rint({0})", "rint({0})"), int_c=INT_IDENTITY)
# (an integer operand: NumPy casts it to a float, whose sign bit is its sign)
_unary(
    "signbit",
    ZERO,
    domain="real_floating",
    result="bool",
    c=CForm("np.signbit({0})", "signbit({0})"),
    int_c=IntForm(CForm.same("({0} < 0)"), CForm("False", "false")),
)
for _name, _int in (("isnan", ("False", "false")), ("isinf", ("False", "false")), ("isfinite", ("True", "true"))):
    _unary(_name, ZERO, domain="numeric", result="bool", c=CForm.libm(_name), int_c=IntForm.same(*_int))
_unary("logical_not", ZERO, domain="bool", result="bool", c=CForm("(not {0})", "(!{0})"))
_unary(
    "bitwise_invert",
    ZERO,
    domain="integer_or_bool",
    dunder="invert",
    c=OPS["logical_not"].c,  # (of a bool)
    int_c=IntForm.same("{T}(~{0})", "(({T})~{0})"),
)

# ----------------------------------------------------------------- smooth binary functions
# d/da = b / (a^2 + b^2) written (b/h)/h with h = hypot(a, b): no overflow of the squares.
# nan at (0, 0), as in JAX and PyTorch (atan2 has no limit there).
_binary(
    "atan2",
    lambda g, out, a, b: g * ((b / hypot(a, b)) / hypot(a, b)),
    lambda g, out, a, b: -(g * ((a / hypot(a, b)) / hypot(a, b))),
    c=CForm.libm("atan2", 2),
)
# a / hypot, with the output reused; 0 at (0, 0) (JAX's hypot), where out == 0 forces a == 0 == a/1
_binary(
    "hypot",
    lambda g, out, a, b: g * (a / where(out == 0, 1, out)),
    lambda g, out, a, b: g * (b / where(out == 0, 1, out)),
    c=CForm.libm("hypot", 2),
)


# exp(a - out) is in [0, 1]: never overflows, unlike exp(a) / (exp(a) + exp(b)). Where a == out it
# is exactly 1 (also at a = +inf, where a - out is nan): logaddexp(inf, b) gives (1, 0), the limit,
# as PyTorch's 1 / (1 + exp(b - a)) does (JAX gives exp(b) to b there).
# Where both equal out (a = b = +-inf) each gets 1/2, the limit along the diagonal, not 1 + 1.
# Each where has an array branch, so the exponent has out's dtype (a where of two Python numbers is an
# array of the default float: float32 inputs computed their cotangents in float64, then cast back).
def _logaddexp_rule(g: Any, out: Any, a: Any, b: Any) -> Any:
    e = where(a == out, 0, a - out)
    return g * exp(where(b == out, where(a == out, -math.log(2), e), e))


# Fused: NumPy's npy_logaddexp, step for step: a + log 2 where a == b (infinities of one sign too), else the
# larger plus log1p(exp(-|a - b|)), and a - b (nan) where that difference is nan
_binary(
    "logaddexp",
    _logaddexp_rule,
    lambda g, out, a, b: _logaddexp_rule(g, out, b, a),
    c=CForm(
        "(({0} + {T}(0.6931471805599453)) if {0} == {1} else (({0} + math.log1p(math.exp(-({0} - {1})))) "
        "if {0} - {1} > 0 else (({1} + math.log1p(math.exp({0} - {1}))) if {0} - {1} <= 0 else ({0} - {1}))))",
        "(({0} == {1}) ? ({0} + ({T})0.6931471805599453) : (({0} - {1} > 0) ? ({0} + log1p(exp(-({0} - {1})))) "
        ": (({0} - {1} <= 0) ? ({1} + log1p(exp({0} - {1}))) : ({0} - {1}))))",
    ),
)
# clip(x, min, max) is clip_max(clip_min(x, min), max), the standard's order. Like PyTorch's clamp,
# the gradient goes to x on the closed interval (at a bound too) and to a bound only where it binds.
# Fused: NumPy's clip with one bound is its maximum (minimum), nan and a tie of zeros included (CuPy's, through
# array-api-compat, keeps x at a tie of zeros: the CUDA form is NumPy's; not yet compared on a GPU).
_binary(
    "clip_min",
    lambda g, out, x, lo: where(x >= lo, g, 0),
    lambda g, out, x, lo: where(x < lo, g, 0),
    domain="real",
    impl=lambda xp, x, lo: xp.clip(x, min=lo),
    c=OPS["maximum"].c,
    int_c=OPS["maximum"].int_c,
    public=False,
)
_binary(
    "clip_max",
    lambda g, out, x, hi: where(x <= hi, g, 0),
    lambda g, out, x, hi: where(x > hi, g, 0),
    domain="real",
    impl=lambda xp, x, hi: xp.clip(x, max=hi),
    c=OPS["minimum"].c,
    int_c=OPS["minimum"].int_c,
    public=False,
)
# copysign(a, b) = +-|a|: d/da = sign(a) * sign(out), 0 at a = 0 (JAX: |a|'(0) = 0; PyTorch masks a == 0 to 0);
# d/db = 0: only b's sign bit matters (JAX, PyTorch)
_binary("copysign", lambda g, out, a, b: g * (sign(a) * sign(out)), ZERO, c=CForm.libm("copysign", 2))
# The fused forms of remainder and floor_divide are NumPy's npy_divmod, step for step: m = fmod(a, b), moved
# by b where its sign is not b's; a zero m takes b's sign. The quotient (a - m) / b, one less where m moved,
# is floored and rounded up past .5; a zero quotient takes the sign of a / b; b == 0 gives a / b.
_M = ("np.fmod({0}, {1})", "fmod({0}, {1})")
_MOVES = (f"({_M[0]} != 0 and (({{1}} < 0) != ({_M[0]} < 0)))", f"({_M[1]} != 0 && (({{1}} < 0) != ({_M[1]} < 0)))")
_Q = (
    f"((({{0}} - {_M[0]}) / {{1}} - {{T}}(1)) if {_MOVES[0]} else (({{0}} - {_M[0]}) / {{1}}))",
    f"({_MOVES[1]} ? (({{0}} - {_M[1]}) / {{1}} - ({{T}})1) : (({{0}} - {_M[1]}) / {{1}}))",
)
# remainder(a, b) = a - floor(a / b) * b: d/da = 1, d/db = -floor(a / b), as in PyTorch and JAX
_binary(
    "remainder",
    lambda g, out, a, b: g,
    lambda g, out, a, b: -(g * floor_divide(a, b)),
    domain="real",
    dunder="mod",
    c=CForm(
        f"(({_M[0]} + {{1}}) if {_MOVES[0]} else ({_M[0]} if {_M[0]} != 0 else math.copysign({{T}}(0), {{1}})))",
        f"({_MOVES[1]} ? ({_M[1]} + {{1}}) : (({_M[1]} != 0) ? {_M[1]} : copysign(({{T}})0, {{1}})))",
    ),
    # NumPy's integer loop: 0 for a divisor of 0 or -1 (never the machine's MIN % -1, a trap on x86), else C's
    # remainder, moved by the divisor where its sign is not the divisor's
    int_c=IntForm(
        CForm(
            "({T}(0) if ({1} == 0 or {1} == -1) else {T}({0} % {1}))",
            "((({1} == 0) || ({1} == -1)) ? ({T})0 : (((({0} % {1}) != 0) && ((({0} % {1}) < 0) != ({1} < 0))) "
            "? ({T})(({0} % {1}) + {1}) : ({T})({0} % {1})))",
        ),
        CForm("({T}(0) if {1} == 0 else {T}({0} % {1}))", "(({1} == 0) ? ({T})0 : ({T})({0} % {1}))"),
    ),
)
# nextafter is a staircase over the reals (constant between representable numbers, like floor):
# zero in both arguments. JAX and PyTorch define no rule (differentiating raises there).
_binary("nextafter", ZERO, ZERO, c=CForm("np.nextafter({0}, {1})", "nextafter({0}, {1})"))

# ----------------------------------------------------------------- piecewise-constant binary functions
_binary(
    "floor_divide",
    ZERO,
    ZERO,
    domain="real",
    dunder="floordiv",
    fold=operator.floordiv,
    c=CForm(
        f"(({{0}} / {{1}}) if {{1}} == 0 else (((np.floor({_Q[0]}) + {{T}}(1)) if {_Q[0]} - np.floor({_Q[0]}) > "
        f"{{T}}(0.5) else np.floor({_Q[0]})) if {_Q[0]} != 0 else math.copysign({{T}}(0), {{0}} / {{1}})))",
        f"(({{1}} == 0) ? ({{0}} / {{1}}) : (({_Q[1]} != 0) ? ((({_Q[1]} - floor({_Q[1]})) > ({{T}})0.5) ? "
        f"(floor({_Q[1]}) + ({{T}})1) : floor({_Q[1]})) : copysign(({{T}})0, {{0}} / {{1}})))",
    ),
    # NumPy's integer loop: 0 for a divisor of 0, MIN // -1 wraps to MIN (the negation), else C's quotient
    # rounded down where the remainder is not 0 and the signs differ
    int_c=IntForm(
        CForm(
            "({T}(0) if {1} == 0 else ({T}(-{0}) if {1} == -1 else {T}({0} // {1})))",
            "(({1} == 0) ? ({T})0 : (({1} == -1) ? ({T})(({U})0 - ({U}){0}) : ({T})({0} / {1} - "
            "(((({0} % {1}) != 0) && (({0} < 0) != ({1} < 0))) ? 1 : 0))))",
        ),
        CForm("({T}(0) if {1} == 0 else {T}({0} // {1}))", "(({1} == 0) ? ({T})0 : ({T})({0} / {1}))"),
    ),
)
# (``c``: the forms of bool operands; ``int_c``: of integers)
for _name, _c in (("logical_and", "&"), ("logical_or", "|"), ("logical_xor", "^")):
    _binary(_name, ZERO, ZERO, domain="bool", result="bool", c=CForm.same(f"({{0}} {_c} {{1}})"))
for _name, _dunder, _symbol, _fold in (
    ("bitwise_and", "and", "&", operator.and_),
    ("bitwise_or", "or", "|", operator.or_),
    ("bitwise_xor", "xor", "^", operator.xor),
):
    _binary(
        _name,
        ZERO,
        ZERO,
        domain="integer_or_bool",
        dunder=_dunder,
        fold=_fold,
        c=OPS[f"logical_{_dunder}"].c,
        int_c=IntForm.same(f"{{T}}({{0}} {_symbol} {{1}})", f"(({{T}})({{0}} {_symbol} {{1}}))"),
    )
# integer only: no floating form. NumPy's npy_lshift/npy_rshift: a count that is negative or not below the width
# gives 0 (>> of a negative value: -1); >> of a negative value in C is ~(~a >> n), defined where a >> n is not
_binary(
    "bitwise_left_shift",
    ZERO,
    ZERO,
    domain="integer",
    dunder="lshift",
    fold=operator.lshift,
    int_c=IntForm(
        CForm(
            "({T}({0} << {1}) if ({1} >= 0 and {1} < {W}) else {T}(0))",
            "((({1} >= 0) && ({1} < {W})) ? ({T})(({U}){0} << {1}) : ({T})0)",
        ),
        CForm("({T}({0} << {1}) if {1} < {T}({W}) else {T}(0))", "(({1} < {W}) ? ({T})(({U}){0} << {1}) : ({T})0)"),
    ),
)
_binary(
    "bitwise_right_shift",
    ZERO,
    ZERO,
    domain="integer",
    dunder="rshift",
    fold=operator.rshift,
    int_c=IntForm(
        CForm(
            "({T}({0} >> {1}) if ({1} >= 0 and {1} < {W}) else ({T}(-1) if {0} < 0 else {T}(0)))",
            "((({1} >= 0) && ({1} < {W})) ? (({0} < 0) ? ({T})~(~{0} >> {1}) : ({T})({0} >> {1})) "
            ": (({0} < 0) ? ({T})-1 : ({T})0))",
        ),
        CForm("({T}({0} >> {1}) if {1} < {T}({W}) else {T}(0))", "(({1} < {W}) ? ({T})({0} >> {1}) : ({T})0)"),
    ),
)
