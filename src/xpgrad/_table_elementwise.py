"""The rest of the array API's elementwise vocabulary (2024.12), each op beside its derivative rules.

The core arithmetic (add ... sqrt, comparisons, where) lives in `_table`; this file adds the other
elementwise functions of the standard, so that every one of its 67 is an xpgrad op. Rules follow
`_table`'s contract (``rule(g, out, *inputs) -> Tensor``, written in xpgrad ops) and are chosen for
accuracy: the forward output is reused where it is the derivative's cheapest exact form, and stable
forms replace the naive ones where those overflow or cancel. Edge conventions follow JAX (and
PyTorch where JAX is silent); each is named in a comment and listed in docs/ops.md.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

from . import _table
from ._ops import ZERO
from ._table import _f, _unary

__all__: list[str] = []

cosh, sinh, sqrt, exp, hypot, sign, square, where, floor_divide = map(
    _f, ("cosh", "sinh", "sqrt", "exp", "hypot", "sign", "square", "where", "floor_divide")
)


_binary = functools.partial(_table._binary, domain="floating")  # most binary functions here are float-only


# ----------------------------------------------------------------- smooth unary functions
_unary("expm1", lambda g, out, a: g * (out + 1))  # the output gives exp(a) without a second exp
_unary("log1p", lambda g, out, a: g / (a + 1))  # rounding 1 + a for tiny a costs under an ulp of 1/(1+a)
_unary("log2", lambda g, out, a: g / (a * math.log(2)))
_unary("log10", lambda g, out, a: g / (a * math.log(10)))
_unary("tan", lambda g, out, a: g * (1 + square(out)))  # sec^2 from the output, as in JAX
_unary("sinh", lambda g, out, a: g * cosh(a))
_unary("cosh", lambda g, out, a: g * sinh(a))
# (1 - a)(1 + a) instead of 1 - a*a: no cancellation near |a| = 1; +-inf at the ends, as in JAX
_unary("asin", lambda g, out, a: g / sqrt((1 - a) * (1 + a)))
_unary("acos", lambda g, out, a: -(g / sqrt((1 - a) * (1 + a))))
_unary("atan", lambda g, out, a: g / (1 + square(a)))  # a*a -> inf gives the exact limit 0
_unary("asinh", lambda g, out, a: g / hypot(a, 1))  # hypot: no overflow of a*a for |a| > 1e154
# (a - 1)(a + 1) instead of a*a - 1: exact near 1, where acosh's derivative blows up (+inf at 1)
_unary("acosh", lambda g, out, a: g / sqrt((a - 1) * (a + 1)))
_unary("atanh", lambda g, out, a: g / ((1 - a) * (1 + a)))
_unary("reciprocal", lambda g, out, a: -(g * square(out)))  # -1/a^2 from the output

# ----------------------------------------------------------------- complex parts (real inputs: identity-like)
_unary("real", lambda g, out, a: g, domain="numeric", result="real")
_unary("imag", ZERO, domain="numeric", result="real")  # imag of a real input is 0
_unary("conj", lambda g, out, a: g, domain="numeric")

# ----------------------------------------------------------------- piecewise-constant: zero by definition
for _name in ("floor", "ceil", "round", "trunc"):
    _unary(_name, ZERO, domain="numeric")
_unary("signbit", ZERO, result="bool")
for _name in ("isnan", "isinf", "isfinite"):
    _unary(_name, ZERO, domain="numeric", result="bool")
_unary("logical_not", ZERO, domain="bool", result="bool")
_unary("bitwise_invert", ZERO, domain="integer_or_bool", dunder="invert")

# ----------------------------------------------------------------- smooth binary functions
# d/da = b / (a^2 + b^2) written (b/h)/h with h = hypot(a, b): no overflow of the squares.
# nan at (0, 0), as in JAX and PyTorch (atan2 has no limit there).
_binary(
    "atan2",
    lambda g, out, a, b: g * ((b / hypot(a, b)) / hypot(a, b)),
    lambda g, out, a, b: -(g * ((a / hypot(a, b)) / hypot(a, b))),
)
# a / hypot, with the output reused; 0 at (0, 0) (JAX's hypot), where out == 0 forces a == 0 == a/1
_binary(
    "hypot",
    lambda g, out, a, b: g * (a / where(out == 0, 1, out)),
    lambda g, out, a, b: g * (b / where(out == 0, 1, out)),
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


_binary("logaddexp", _logaddexp_rule, lambda g, out, a, b: _logaddexp_rule(g, out, b, a))
# clip(x, min, max) is clip_max(clip_min(x, min), max), the standard's order. Like PyTorch's clamp,
# the gradient goes to x on the closed interval (at a bound too) and to a bound only where it binds.
_binary(
    "clip_min",
    lambda g, out, x, lo: where(x >= lo, g, 0),
    lambda g, out, x, lo: where(x < lo, g, 0),
    domain="numeric",
    impl=lambda xp, x, lo: xp.clip(x, min=lo),
    public=False,
)
_binary(
    "clip_max",
    lambda g, out, x, hi: where(x <= hi, g, 0),
    lambda g, out, x, hi: where(x > hi, g, 0),
    domain="numeric",
    impl=lambda xp, x, hi: xp.clip(x, max=hi),
    public=False,
)
# copysign(a, b) = +-|a|: d/da = sign(a) * sign(out), 0 at a = 0 (JAX: |a|'(0) = 0; PyTorch masks a == 0 to 0);
# d/db = 0: only b's sign bit matters (JAX, PyTorch)
_binary("copysign", lambda g, out, a, b: g * (sign(a) * sign(out)), ZERO)
# remainder(a, b) = a - floor(a / b) * b: d/da = 1, d/db = -floor(a / b), as in PyTorch and JAX
_binary(
    "remainder",
    lambda g, out, a, b: g,
    lambda g, out, a, b: -(g * floor_divide(a, b)),
    domain="numeric",
    dunder="mod",
)
# nextafter is a staircase over the reals (constant between representable numbers, like floor):
# zero in both arguments. JAX and PyTorch define no rule (differentiating raises there).
_binary("nextafter", ZERO, ZERO)

# ----------------------------------------------------------------- piecewise-constant binary functions
_binary("floor_divide", ZERO, ZERO, domain="numeric", dunder="floordiv", fold=operator.floordiv)
for _name in ("logical_and", "logical_or", "logical_xor"):
    _binary(_name, ZERO, ZERO, domain="bool", result="bool")
for _name, _dunder, _fold in (
    ("bitwise_and", "and", operator.and_),
    ("bitwise_or", "or", operator.or_),
    ("bitwise_xor", "xor", operator.xor),
):
    _binary(_name, ZERO, ZERO, domain="integer_or_bool", dunder=_dunder, fold=_fold)
_binary("bitwise_left_shift", ZERO, ZERO, domain="integer", dunder="lshift", fold=operator.lshift)
_binary("bitwise_right_shift", ZERO, ZERO, domain="integer", dunder="rshift", fold=operator.rshift)
