"""The op table: every op, its dtype domain, and its derivative rules, side by side.

A rule is ``rule(g, out, *inputs, **params) -> Tensor``: the cotangent of one input, given the
cotangent ``g`` of the output. Rules are written in xpgrad ops, so gradients are graphs that can be
differentiated again; `ZERO` marks a derivative that is zero by definition. Broadcasting and dtype
are undone centrally by the sweep (`_core.sweep._fit`), never in a rule.
"""

from __future__ import annotations

import cmath
import math
import operator
from collections.abc import Callable
from typing import Any

from .. import _shapes
from .._core.build import apply, apply_unary
from .._core.opdef import INT_IDENTITY, LINEAR, OPS, ZERO, CForm, IntForm, defop
from .._core.tensor import Tensor
from .._dtypes import COMPLEX, FLOAT, INT, dtype_kind, dtype_name, resolve, scalar_kind
from . import array_impls as _impls
from . import text_forms as _text

__all__ = ["by_kind", "negation_exact", "result_dtype", "through_cast"]


def _f(name: str) -> Any:
    """The xpgrad-level op ``name`` (used by rules, which run long after the table is built)."""

    def call(*args: Any, **params: Any) -> Tensor:
        if len(args) == 1 and not params:  # cos(a) in sin's rule: the fast path, one call less (issue 5)
            return apply_unary(OPS[name], args[0])
        return apply(OPS[name], *args, **params)

    return call


cos, sin, log, sign, square, where, conj = map(_f, ("cos", "sin", "log", "sign", "square", "where", "conj"))
real_rule_only = _f("real_rule_only")
expand, fit, broadcast_like, sum_, mean_op = map(_f, ("expand", "fit", "broadcast_like", "sum", "mean"))
zeros_like, astype_vjp = map(_f, ("zeros_like", "astype_vjp"))


def through_cast(x: Tensor, dtype: Any, cotangent: Callable[[], Tensor]) -> Tensor:
    """The cotangent of ``x`` through a cast to ``dtype`` (``astype``, and ``sum``'s and ``prod``'s ``dtype=``,
    which cast each element first), ``cotangent()`` being x's cotangent without the cast. From floating to
    integer or bool it is zero (a staircase: JAX gives float0 zeros, PyTorch refuses integer outputs), so
    ``sum(x, dtype=int64)`` has the gradient of ``sum(astype(x, int64))``; any other cast passes it on."""
    xp = x._bk.xp
    if dtype is None or dtype_kind(xp, dtype) >= FLOAT:
        return cotangent()  # `_core.sweep._fit` casts back to a floating x's dtype
    if x._dtype is None:  # a placeholder of unknown dtype: decided when it is fed
        return astype_vjp(cotangent(), x)
    return zeros_like(x) if dtype_kind(xp, x._dtype) >= FLOAT else cotangent()


def by_kind(a: Tensor, real: Callable[[], Tensor | None], complex_: Callable[[], Tensor | None]) -> Tensor | None:
    """A rule that differs for complex ``a`` (a non-holomorphic op: docs/complex.md): ``complex_()`` for complex
    ``a``, else ``real()`` (the real rule, unchanged). While ``a``'s dtype is unknown (a placeholder without a
    dtype), the real rule behind a check that refuses a complex ``a`` when evaluated, never a wrong gradient."""
    d = a._dtype
    if d is None:
        r = real()  # (no gradient, None, becomes zeros here: a complex ``a`` must still be refused)
        return real_rule_only(zeros_like(a) if r is None else r, a)
    return complex_() if dtype_kind(a._bk.xp, d) == COMPLEX else real()


def _real_rule_only(xp: Any, r: Any, a: Any) -> Any:
    if xp.isdtype(a.dtype, "complex floating"):
        raise NotImplementedError(
            f"grad: a gradient built while an input's dtype was unknown (a placeholder without dtype=) used the "
            f"rule for real inputs, and the input is now {a.dtype}; declare the placeholder's dtype "
            "(xpgrad.placeholder(..., dtype='complex128')) to differentiate complex values"
        )
    return r


# ----------------------------------------------------------------- build-time rewrites (IEEE-exact)
def _is(t: Tensor, v: Any) -> bool:
    return t._const and type(t._value) is not bool and t._value == v


def _is_one(t: Tensor) -> bool:
    """``t`` is 1 everywhere: the constant 1, ``ones_like``, or ``sum``'s adjoint ``expand`` of ones."""
    op = t.op
    if op is None:
        return t._const and t._value == 1 and type(t._value) is not bool
    if op is _EXPAND and not t.params["mean"]:  # the cotangent of sum(...) seeded with ones (issue 5)
        op = t.children[0].op
    return op is _ONES_LIKE


_ONES_LIKE: Any = None  # OPS["ones_like"], OPS["expand"]..., set once the table is built
_EXPAND: Any = None
_ONE_OPS: set[Any] = set()  # the two, for `_simplify_multiply`'s first test
_NEGATIVE: Any = None
_MULTIPLY: Any = None
_SUBTRACT: Any = None
_ADD_OP: Any = None


def _unchanged(keep: Tensor, other: Tensor, result_kind_ok: bool = True) -> Tensor | None:
    """``keep`` when combining it with ``other`` can change neither its shape nor its dtype."""
    s = keep._shape
    if s is None or None in s or not result_kind_ok or keep._dtype is None:
        return None
    kind = dtype_kind(keep._bk.xp, keep._dtype)
    if kind == COMPLEX:  # no identity is exact: (inf + 0j) * (1 + 0j) is inf + nanj, (1 - 0j) + (-0.0) is 1 + 0j
        return None
    if other._const:
        return keep if scalar_kind(other._value) <= kind else None
    if other._dtype == keep._dtype and _shapes.broadcast("", s, other._shape) == s:
        return keep
    return None


def _simplify_multiply(a: Tensor, b: Tensor) -> Tensor | None:
    # 1 * x == x exactly, for every x including inf, nan and -0.0. Runs on every multiply, so the
    # common case (neither operand a ones node nor the constant 1, nor a product of one) exits on a few
    # tests, no call (issue 5)
    ao, bo = a.op, b.op
    if ao in _ONE_OPS or bo in _ONE_OPS or (a._const and a._value == 1) or (b._const and b._value == 1):
        if _is_one(a):
            return _unchanged(b, a)
        if _is_one(b):
            return _unchanged(a, b)
    # a product with a ones node among its operands may be a scaled one (`_times_scaled_one`)
    if ao is _MULTIPLY:
        p, q = a.children
        if p.op in _ONE_OPS or q.op in _ONE_OPS:
            return _times_scaled_one(a, b)
    if bo is _MULTIPLY:
        p, q = b.children
        if p.op in _ONE_OPS or q.op in _ONE_OPS:
            return _times_scaled_one(a, b)
    return None


def _times_scaled_one(a: Tensor, b: Tensor) -> Tensor | None:
    # (1 * c) * y == c * y exactly (1 * c == c): a cotangent scaled by a constant (``sum(3 * f(x))``,
    # ``x ** 3``'s rule) is never filled into an array, and ``1 * c`` is not evaluated (issue 5, B5)
    for s, y in ((a, b), (b, a)):
        if s.op is _MULTIPLY:
            c = _scale_of_one(s)
            if c is not None and _unchanged(y, s) is not None:
                return apply(_MULTIPLY, c, y)  # type: ignore[arg-type]  # (`is s.op` narrowed it to Optional)
    return None


def _scale_of_one(t: Tensor) -> Tensor | None:
    """The constant ``c`` when ``t`` is ``1 * c`` (a ones node times a Python number), else None."""
    p, q = t.children
    if q._const:
        return q if _is_one(p) and p.op is not None else None
    if p._const:
        return p if _is_one(q) and q.op is not None else None
    return None


def result_dtype(op: Any, a: Tensor, b: Tensor) -> Any:
    """The dtype of ``op(a, b)`` by xpgrad's promotion (`_dtypes.resolve`); None while a dtype is unknown."""
    if a._const:
        a, b = b, a
    if a._const or a._dtype is None or not (b._const or b._dtype is not None):
        return None
    if b._const:
        return resolve(a._bk, op, [a._dtype], [b._value], a._device)[1]
    return resolve(a._bk, op, [a._dtype, b._dtype], [], a._device)[1]


def negation_exact(x: Tensor, result: Any) -> bool:
    """Whether ``-x`` computed in x's dtype, then cast to ``result``, is ``-x`` computed in ``result``: the
    condition for moving a negation across an op (``a + (-x)`` -> ``a - x`` negates in the result dtype).
    Always when ``result`` is x's dtype; for floating x when ``result`` is of x's kind (negation and widening
    are exact); never for integer x promoted (``-x`` wraps first: -uint8(1) is 255, not -1, and -int8(-128)
    is -128, not 128), nor for real x into complex (the cast adds an imaginary +0.0 after the negation,
    and ``im + 0.0`` is not ``im - 0.0`` where ``im`` is -0.0)."""
    d = x._dtype
    if d is None or result is None:
        return False
    if d == result:
        return True
    xp = x._bk.xp
    kind = dtype_kind(xp, d)
    return kind >= FLOAT and dtype_kind(xp, result) == kind


def _negation_moves(op: Any, other: Tensor, neg: Tensor) -> bool:
    """Whether ``op(other, neg)``, ``neg`` a negation ``-x``, may negate x in the result dtype instead."""
    x = neg.children[0]
    if not other._const and other._dtype is x._dtype is not None:  # the common case, without `resolve`:
        return True  # a result of the operands' own dtype (a cotangent's ``g + (-h)``)
    return negation_exact(x, result_dtype(op, other, neg))


def _simplify_add(a: Tensor, b: Tensor) -> Tensor | None:
    # a + (-b) == a - b exactly (IEEE 754 defines subtraction so; two's complement wraps alike) where
    # ``-b`` is exactly the negation of b in the sum's dtype (`negation_exact`): one array pass instead of
    # two, and no ``-b`` array. Cotangents meet this when a rule's contribution (``-(g * sin(a))``) is
    # accumulated (issue 5, B5).
    if b.op is _NEGATIVE and _negation_moves(_ADD_OP, a, b):
        return apply(_SUBTRACT, a, b.children[0])
    if a.op is _NEGATIVE and _negation_moves(_ADD_OP, b, a):
        return apply(_SUBTRACT, b, a.children[0])
    # ones + ones == ones * 2 exactly (add refuses bool): a seed reaching a node twice (``s + s``) stays
    # a scaled one, which `_simplify_multiply` and `_simplify_divide` fold into the next rule's product
    if a is b and a.op is not None and _is_one(a):
        return apply(_MULTIPLY, a, 2)
    # x + (-0.0) == x for every x; x + 0 only for integers (-0.0 + 0.0 is +0.0)
    if b._const:
        z, x = b, a
    elif a._const:
        z, x = a, b
    else:
        return None
    v = z._value
    if v or x._const or x._dtype is None:  # the common ``x + 0.001`` leaves here (nan is true too)
        return None
    if type(v) is int and dtype_kind(x._bk.xp, x._dtype) <= INT:
        return _unchanged(x, z)
    if type(v) is float and math.copysign(1.0, v) < 0:
        return _unchanged(x, z)
    return None


def _simplify_subtract(a: Tensor, b: Tensor) -> Tensor | None:
    if b.op is _NEGATIVE and _negation_moves(_SUBTRACT, a, b):
        return apply(_ADD_OP, a, b.children[0])  # a - (-b) == a + b exactly (as in `_simplify_add`)
    # x - 0 == x for every x, -0.0 included; x - (-0.0) is not (-0.0 - -0.0 is +0.0)
    # (a complex zero: `_unchanged` refuses every complex result)
    negative_zero = type(b._value) is float and math.copysign(1.0, b._value) < 0
    return _unchanged(a, b) if _is(b, 0) and not negative_zero else None


def _simplify_divide(a: Tensor, b: Tensor) -> Tensor | None:
    ao = a.op
    if ao is _EXPAND or ao is _ONES_LIKE or ao is _MULTIPLY:  # ones / b == 1 / b, (1 * c) / b == c / b
        c = _scale_of_one(a) if ao is _MULTIPLY else 1 if _is_one(a) else None  # (the seed of sum, issue 5)
        if c is not None and _unchanged(b, a) is not None:
            return apply(OPS["divide"], c, b)
    return _unchanged(a, b) if _is(b, 1) and type(b._value) is float else None


def _simplify_pow(a: Tensor, b: Tensor) -> Tensor | None:
    if b._const:  # (`_is`, inlined: this runs on every pow)
        v = b._value
        if v == 1 and type(v) is not bool:
            return _unchanged(a, b)  # x ** 1 == x
        if type(v) is int and v < 0:
            _integer_to_negative_power(a, b)
    return None


def _integer_to_negative_power(a: Tensor, b: Tensor) -> None:
    """Refuse ``int_array ** -1`` when it is built (the backend raised when evaluating it, naming no op). Here,
    not in `_decide`: its decision is memoized on the exponent's Python type, and only a negative value fails."""
    result = result_dtype(OPS["pow"], a, b)
    if result is not None and dtype_kind(a._bk.xp, result) == INT:
        raise ValueError(
            f"pow: integers to negative integer powers are not allowed; got {dtype_name(a._bk.xp, result)} ** "
            f"{b._value}. Use a floating exponent or base, e.g. t ** {b._value}.0 or xpgrad.astype(t, 'float64')"
        )


def _simplify_negative(a: Tensor) -> Tensor | None:
    return a.children[0] if a.op is OPS["negative"] else None  # -(-x) == x


def _simplify_where(c: Tensor, a: Tensor, b: Tensor) -> Tensor | None:
    if c._const:
        keep, other = (a, b) if c._value else (b, a)
        return None if keep._const else _unchanged(keep, other)
    return None


# ----------------------------------------------------------------- shape and dtype hooks
def _same_shape(name: str, x: Tensor, *_: Any, **__: Any) -> Any:
    return x._shape


def _like_second(name: str, a: Tensor, ref: Tensor, **_: Any) -> Any:
    return ref._shape


def _reduced(name: str, x: Tensor, axis: Any = None, keepdims: bool = False, **_: Any) -> Any:
    if type(keepdims) is not bool:  # (the backend would take any truthy object, or refuse it at run time)
        raise TypeError(f"{name}: keepdims must be True or False; got {keepdims!r}")
    nd = None if x._shape is None else len(x._shape)
    return _shapes.reduced(x._shape, _shapes.normalize_axis(name, axis, nd), keepdims)


def _dtype_first(x: Tensor, *_: Any, **__: Any) -> Any:
    return x._dtype


def _dtype_moved(x: Tensor, backend: Any, device: Any) -> Any:
    if x._dtype is None or backend is x._bk:
        return x._dtype
    return getattr(backend.xp, dtype_name(x._bk.xp, x._dtype))


def _dtype_fitted(g: Tensor, ref: Tensor) -> Any:
    if ref._dtype is not None and dtype_kind(ref._bk.xp, ref._dtype) >= FLOAT:
        return ref._dtype
    return g._dtype


def _dtype_sum(x: Tensor, dtype: Any = None, **_: Any) -> Any:
    """sum/prod: the ``dtype`` asked for, else a floating input's own; integers accumulate in a dtype
    the backend picks (the default integer on most), known once evaluated."""
    if dtype is not None:
        return dtype
    d = x._dtype
    return d if d is not None and dtype_kind(x._bk.xp, d) >= FLOAT else None


# ----------------------------------------------------------------- the table
def _unary(name: str, rule: Any, domain: str = "floating", **kw: Any) -> None:
    defop(name, 1, vjp=(rule,), domain=domain, **kw)


def _binary(name: str, ra: Any, rb: Any, domain: str = "numeric", **kw: Any) -> None:
    defop(name, 2, vjp=(ra, rb), domain=domain, **kw)


_binary(
    "add",
    lambda g, out, a, b: g,
    lambda g, out, a, b: g,
    c=CForm.same("({0} + {1})"),
    int_c=IntForm.wrapping("+"),
    infix="+",
    dunder="add",
    fold=operator.add,
    simplify=_simplify_add,
    symmetric=True,
)
_binary(
    "subtract",
    lambda g, out, a, b: g,
    lambda g, out, a, b: -g,
    c=CForm.same("({0} - {1})"),
    int_c=IntForm.wrapping("-"),
    infix="-",
    dunder="sub",
    fold=operator.sub,
    simplify=_simplify_subtract,
)
_binary(
    "multiply",
    lambda g, out, a, b: g * b,
    lambda g, out, a, b: g * a,
    c=CForm.same("({0} * {1})"),
    int_c=IntForm.wrapping("*"),
    infix="*",
    dunder="mul",
    fold=operator.mul,
    simplify=_simplify_multiply,
    symmetric=True,
)
# d(a/b)/db = -out/b: no b*b, which would overflow for |b| > 1e154


def _divide_jvp(ts: tuple[Any, ...], out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """(ta - out * tb) / b: one division for both tangents (a division costs as much as an exp)."""
    ta, tb = ts
    if tb is None:
        return ta / b
    return (ta - tb * out) / b if ta is not None else -(tb * out) / b


_binary(
    "divide",
    lambda g, out, a, b: g / b,
    lambda g, out, a, b: -(g * out) / b,
    jvp=_divide_jvp,
    domain="floating",
    c=CForm.same("({0} / {1})"),
    infix="/",
    dunder="truediv",
    simplify=_simplify_divide,
)


def _log_base(a: Tensor) -> Any:
    """log(a), with log 0 replaced by 0. A Python-number base (2.0 ** x) is folded here: as a graph
    node it would be evaluated on the default backend, away from x's backend and device."""
    if a._const:
        v = a._value
        if isinstance(v, complex):  # (1 + 2j) ** z: the principal log, as the array's
            return 0.0 if v == 0 else cmath.log(v)
        return 0.0 if v == 0 else math.log(v) if v > 0 else math.nan
    return log(where(a == 0, 1, a))


# pow: JAX's conventions: d/da is 0 where b == 0; d/db is 0 where a == 0 (log of 0 replaced by log 1).
# Where b == 0 the exponent b - 1 is replaced by 0, so b * a ** 0 is an exact 0 with no 0 * inf.
_binary(
    "pow",
    lambda g, out, a, b: g * (b * a ** (where(b == 0, 1, b) - 1)),
    lambda g, out, a, b: g * (out * _log_base(a)),
    c=CForm("({0} ** {1})", "pow({0}, {1})"),  # (NumPy's square and square root for a 0-d exponent: `_fuse.cpu`)
    int_c=IntForm.refuse(
        "NumPy raises for a negative exponent, which a kernel cannot; write a constant power as products (x * x), "
        "cast the operands to a floating dtype, or run the graph unfused: fuse(..., engine='unfused')"
    ),
    infix="**",
    dunder="pow",
    simplify=_simplify_pow,
)
# ties split the gradient evenly, as in JAX and PyTorch. Fused: nan propagates from either operand, and a
# tie (-0.0 and 0.0) gives the second operand, as NumPy's
_binary(
    "maximum",
    lambda g, out, a, b: where(a > b, g, where(a == b, g * 0.5, 0)),
    lambda g, out, a, b: where(b > a, g, where(a == b, g * 0.5, 0)),
    domain="real",
    c=CForm("({0} if ({0} > {1} or {0} != {0}) else {1})", "((({0} > {1}) || ({0} != {0})) ? {0} : {1})"),
    int_c=IntForm.same("({0} if {0} > {1} else {1})", "(({0} > {1}) ? {0} : {1})"),
)
_binary(
    "minimum",
    lambda g, out, a, b: where(a < b, g, where(a == b, g * 0.5, 0)),
    lambda g, out, a, b: where(b < a, g, where(a == b, g * 0.5, 0)),
    domain="real",
    c=CForm("({0} if ({0} < {1} or {0} != {0}) else {1})", "((({0} < {1}) || ({0} != {0})) ? {0} : {1})"),
    int_c=IntForm.same("({0} if {0} < {1} else {1})", "(({0} < {1}) ? {0} : {1})"),
)

for _name, _symbol, _dunder, _fold, _domain in (
    ("equal", "==", "eq", operator.eq, "any"),
    ("not_equal", "!=", "ne", operator.ne, "any"),
    ("greater", ">", "gt", operator.gt, "real"),  # the standard orders real numbers only (not bool, not complex)
    ("greater_equal", ">=", "ge", operator.ge, "real"),
    ("less", "<", "lt", operator.lt, "real"),
    ("less_equal", "<=", "le", operator.le, "real"),
):
    _binary(
        _name,
        ZERO,
        ZERO,
        domain=_domain,
        result="bool",
        c=CForm.same(f"({{0}} {_symbol} {{1}})"),
        int_c=IntForm.same(f"({{0}} {_symbol} {{1}})"),
        infix=_symbol,
        dunder=_dunder,
        fold=_fold,
    )

_unary(
    "negative",
    lambda g, out, a: -g,
    domain="numeric",
    c=CForm.same("(-{0})"),
    int_c=IntForm(
        CForm("{T}(-{0})", "(({T})(({U})0 - ({U}){0}))"), CForm("{T}({T}(0) - {0})", "(({T})(({U})0 - ({U}){0}))")
    ),
    infix="-",
    dunder="neg",
    fold=operator.neg,
    simplify=_simplify_negative,
)
_unary(
    "positive",
    lambda g, out, a: g,
    domain="numeric",
    c=CForm.same("(+{0})"),
    int_c=INT_IDENTITY,
    infix="+",
    dunder="pos",
)
# 0 at 0 (JAX, PyTorch). Complex: g * conj(a) / |a| (JAX's convention), written in differentiable ops (not
# sign(a), whose rule is zero) so that higher derivatives are right too
_unary(
    "abs",
    lambda g, out, a: by_kind(a, lambda: g * sign(a), lambda: g * (conj(a) / where(out == 0, 1, out))),
    domain="numeric",
    c=CForm("abs({0})", "fabs({0})"),
    int_c=IntForm(
        CForm("({T}(-{0}) if {0} < 0 else {0})", "(({0} < 0) ? ({T})(({U})0 - ({U}){0}) : {0})"), INT_IDENTITY.unsigned
    ),
    dunder="abs",
    result="real",
)
# Fused: nan stays nan, and both zeros give +0.0, as NumPy's (``+ 0`` turns -0.0 into +0.0 and leaves every
# other value as it is; numba's ``np.sign(-0.0)`` is -0.0)
_unary(
    "sign",
    ZERO,
    domain="numeric",
    c=CForm("(np.sign({0}) + {T}(0))", "(({0} > 0) ? ({T})1 : (({0} < 0) ? ({T})-1 : ({0} + ({T})0)))"),
    int_c=IntForm(
        CForm(
            "({T}(1) if {0} > 0 else ({T}(-1) if {0} < 0 else {T}(0)))",
            "(({0} > 0) ? ({T})1 : (({0} < 0) ? ({T})-1 : ({T})0))",
        ),
        CForm("({T}(1) if {0} > 0 else {T}(0))", "(({0} > 0) ? ({T})1 : ({T})0)"),
    ),
)
_unary(
    "square",
    lambda g, out, a: g * (2 * a),
    domain="numeric",
    c=CForm.same("({0} * {0})"),
    int_c=IntForm.same("{T}({0} * {0})", "(({T})(({U}){0} * ({U}){0}))"),
)
_unary("exp", lambda g, out, a: g * out, c=CForm.libm("exp"))  # the output is the derivative: no second exp
_unary("log", lambda g, out, a: g / a, c=CForm.libm("log"))
_unary("sin", lambda g, out, a: g * cos(a), c=CForm.libm("sin"))
_unary("cos", lambda g, out, a: -(g * sin(a)), c=CForm.libm("cos"))
# (1 - out)(1 + out), as JAX writes it: 1 - out is exact (Sterbenz), and out*out adds no rounding step
_unary("tanh", lambda g, out, a: g * ((1 - out) * (1 + out)), c=CForm.libm("tanh"))  # bounded, no cosh overflow
_unary("sqrt", lambda g, out, a: g / (2 * out), c=CForm.libm("sqrt"))  # +inf at 0, as in JAX and PyTorch


_NUMBER_KINDS = (bool, int, float, complex)


def _where_shape(name: str, c: Tensor, a: Tensor, b: Tensor) -> Any:
    """Broadcast shape, after refusing a non-boolean condition (NumPy would use its truthiness)."""
    if not c._const and c._dtype is not None:
        _bool_condition(c._bk.xp, c._dtype)
    return _shapes.broadcast(name, c._shape, a._shape, b._shape)


def _bool_condition(xp: Any, dtype: Any) -> None:
    if not xp.isdtype(dtype, "bool"):
        raise TypeError(f"where: the condition must be a bool array; got {dtype}. Compare first: where(x > 0, ...)")


def _where(xp: Any, c: Any, a: Any, b: Any) -> Any:
    import array_api_compat

    if not hasattr(c, "dtype"):  # where(True, x, y): the standard wants an array condition
        c = xp.asarray(c, device=array_api_compat.device(a if hasattr(a, "dtype") else b))
    _bool_condition(xp, c.dtype)  # a placeholder's dtype is only known now
    if not hasattr(a, "dtype") and not hasattr(b, "dtype"):  # two Python numbers: the standard wants an array
        kind = max(type(a), type(b), key=_NUMBER_KINDS.index)  # where(m, 1, 0.0) is float, as in NumPy
        a, b = kind(a), kind(b)
        a = xp.asarray(a, device=array_api_compat.device(c))
    return xp.where(c, a, b)


defop(
    "where",
    3,
    _where,
    vjp=(ZERO, lambda g, out, c, a, b: where(c, g, 0), lambda g, out, c, a, b: where(c, 0, g)),
    domain="any",
    promote=(1, 2),
    fold=lambda c, a, b: a if c else b,
    c=CForm("({1} if {0} else {2})", "({0} ? {1} : {2})"),
    int_c=IntForm.same("({1} if {0} else {2})", "({0} ? {1} : {2})"),
    shape=_where_shape,
    simplify=_simplify_where,
)


# reductions
def _sum_rule(g: Tensor, out: Tensor, x: Tensor, axis: Any, keepdims: bool, dtype: Any) -> Tensor:
    return through_cast(x, dtype, lambda: expand(g, x, axis=axis, keepdims=keepdims))


defop(
    "sum",
    1,
    vjp=(_sum_rule,),
    jvp=(LINEAR,),
    elementwise=False,
    params={"axis": None, "keepdims": False, "dtype": None},
    shape=_reduced,
    dtype=_dtype_sum,
)
defop(
    "mean",
    1,
    vjp=(lambda g, out, x, axis, keepdims: expand(g, x, axis=axis, keepdims=keepdims, mean=True),),
    jvp=(LINEAR,),
    domain="floating",
    elementwise=False,
    params={"axis": None, "keepdims": False},
    shape=_reduced,
)

# structural ops the sweep builds: the seed cotangent, zeros for unrelated inputs, un-broadcasting
defop("ones_like", 1, vjp=(ZERO,), elementwise=False, dtype=_dtype_first, meta=(0,))
defop("zeros_like", 1, vjp=(ZERO,), elementwise=False, dtype=_dtype_first, meta=(0,))
defop(
    "fit",
    2,
    _impls.fit,
    public=False,
    text=_text.fit,
    vjp=(lambda g, out, a, ref: broadcast_like(g, a), ZERO),
    jvp=(LINEAR, ZERO),
    elementwise=False,
    shape=_like_second,
    dtype=_dtype_fitted,
    meta=(1,),
)
defop(  # `by_kind`'s check: the real rule ``r`` of an input ``a`` whose dtype was unknown when it was built
    "real_rule_only",
    2,
    _real_rule_only,
    public=False,
    vjp=(lambda g, out, r, a: real_rule_only(g, a), ZERO),
    domain="any",
    elementwise=False,
    promote=(),
    shape=lambda name, r, a: r._shape,
    dtype=_dtype_first,
)
defop(
    "broadcast_like",
    2,
    _impls.broadcast_like,
    public=False,
    text=_text.broadcast_like,
    vjp=(lambda g, out, a, ref: fit(g, a), ZERO),
    jvp=(LINEAR, ZERO),
    elementwise=False,
    shape=_like_second,
    dtype=_dtype_fitted,
    meta=(1,),
)
defop(
    "expand",
    2,
    _impls.expand,
    public=False,
    text=_text.expand,
    vjp=(lambda g, out, a, x, axis, keepdims, mean: (mean_op if mean else sum_)(g, axis=axis, keepdims=keepdims), ZERO),
    jvp=(LINEAR, ZERO),
    elementwise=False,
    params={"axis": None, "keepdims": False, "mean": False},
    shape=_like_second,
    dtype=_dtype_first,
    meta=(1,),
)
defop(
    "to",
    1,
    _impls.move,
    public=False,
    vjp=(lambda g, out, a, backend, device: apply(OPS["to"], g, backend=a._bk, device=a._device),),
    jvp=(LINEAR,),
    elementwise=False,
    params={"backend": None, "device": None},
    moves=True,
    shape=_same_shape,
    dtype=_dtype_moved,
)

_ONES_LIKE, _EXPAND = OPS["ones_like"], OPS["expand"]
_ONE_OPS.update((_ONES_LIKE, _EXPAND))
_NEGATIVE, _MULTIPLY, _SUBTRACT, _ADD_OP = OPS["negative"], OPS["multiply"], OPS["subtract"], OPS["add"]
