"""Reductions, shape ops and indexing: the non-elementwise ops that losses and masks are written with.

Same contract as `basic`: each op beside its rules, rules written in xpgrad ops. Conventions:
``max``/``min`` split the gradient evenly between tied maxima (JAX's reduce_max, PyTorch's amax);
``prod``'s rule is exact at zeros to first order without dividing by zero; ``std``'s gradient is 0
where the standard deviation is 0 (PyTorch's mask; JAX's sqrt gives nan there).
"""

from __future__ import annotations

import numbers
from typing import Any

from .. import _dtypes, _shapes
from .._core.opdef import LINEAR, ZERO, defop, takes_backend
from .._core.tensor import Tensor
from . import text_forms as _text
from .basic import _dtype_first, _dtype_sum, _f, _like_second, _reduced, through_cast

__all__: list[str] = []

where, expand, ones_like, zeros_like, fit = map(_f, ("where", "expand", "ones_like", "zeros_like", "fit"))
sum_, mean, prod = map(_f, ("sum", "mean", "prod"))
index, unindex, reshape_like, astype_vjp = map(_f, ("index", "unindex", "reshape_like", "astype_vjp"))
zero_guard, zero_check = map(_f, ("prod_zero_guard", "prod_zero_check"))

_AXES = {"axis": None, "keepdims": False}


def _spread(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """The reduced cotangent ``g`` broadcast back over ``x``'s shape."""
    return expand(g, x, axis=axis, keepdims=keepdims)


def _prod_rule(g: Any, out: Any, x: Any, axis: Any, keepdims: bool, dtype: Any) -> Any:
    return through_cast(x, dtype, lambda: _prod_cotangent(g, x, axis, keepdims))


def _prod_cotangent(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    # d prod / d x_i = product of the others: out / x_i where no x is 0; at the one zero of a slice,
    # the product of the non-zeros; 0 elsewhere. No division by 0, so no nan at zeros.
    zero = x == 0
    safe = where(zero, 1, x)
    nonzero = prod(safe, axis=axis, keepdims=True)
    count = sum_(where(zero, ones_like(x), zeros_like(x)), axis=axis, keepdims=True)
    others = where(zero, where(count == 1, nonzero, 0), where(count == 0, nonzero / safe, 0))
    # Exact to first order everywhere, but its own derivative misses terms where x has zeros: the guard
    # makes any higher-order derivative through it raise there instead of returning a wrong number.
    return _spread(g, x, axis, keepdims) * zero_guard(others, x)


@takes_backend
def _check_no_zeros(bk: Any, g: Any, x: Any) -> Any:
    xp = bk.xp
    if not bk.readable(x):  # a JAX tracer: no value to test now, and none later; nan wherever the answer is wrong
        return xp.where(xp.any(x == 0), xp.full_like(g, float("nan")), g)
    # (`Backend.guard`: a lazy backend raises when the value is computed; reading the flag now computes early)
    error = NotImplementedError(
        "prod: derivatives of order 2 and higher are not supported where the input contains zeros "
        "(the first derivative is exact there); differentiate prod of a zero-free input, or write "
        "the product explicitly"
    )
    return bk.guard(g, xp.any(x == 0), error)


def _extremum_rule(g: Any, out: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    hit = where(x == _spread(out, x, axis, keepdims), ones_like(x), zeros_like(x))
    return _spread(g, x, axis, keepdims) * (hit / sum_(hit, axis=axis, keepdims=True))


def _count(x: Any, axis: Any) -> Any:
    return sum_(ones_like(x), axis=axis, keepdims=True)  # works for shapes known only at run time


def _var_rule(g: Any, out: Any, x: Any, axis: Any, correction: float, keepdims: bool) -> Any:
    centred = x - mean(x, axis=axis, keepdims=True)
    return _spread(g, x, axis, keepdims) * ((2 * centred) / (_count(x, axis) - correction))


def _std_rule(g: Any, out: Any, x: Any, axis: Any, correction: float, keepdims: bool) -> Any:
    centred = x - mean(x, axis=axis, keepdims=True)
    s = _spread(out, x, axis, keepdims)
    return _spread(g, x, axis, keepdims) * (centred / ((_count(x, axis) - correction) * where(s == 0, 1, s)))


def _extremum_shape(name: str, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """max/min: the reduced shape; an empty reduction is refused now (it has no identity: the backend
    failed at evaluation, naming no op)."""
    out = _reduced(name, x, axis=axis, keepdims=keepdims)
    s = x._shape
    if s is not None and 0 in s:
        axes = _shapes.normalize_axis(name, axis, len(s))
        if any(s[i] == 0 for i in (range(len(s)) if axes is None else axes)):
            what = "maximum" if name == "max" else "minimum"
            over = "" if axis is None else f" along axis {axis!r}"
            raise ValueError(
                f"{name}: an empty array (shape {s}) has no {what}{over}; check the size first, or reduce "
                "along an axis of nonzero size"
            )
    return out


def _spread_shape(name: str, x: Any, axis: Any = None, correction: Any = 0.0, keepdims: bool = False) -> Any:
    """var/std: the reduced shape, after refusing a correction that is not a real number (the backend
    failed at evaluation comparing it, naming no op)."""
    if isinstance(correction, bool) or not isinstance(correction, numbers.Real):
        raise TypeError(
            f"{name}: correction must be a real number (0: divide by N, 1: by N - 1, NumPy's ddof); got "
            f"{type(correction).__name__} {correction!r:.40}"
        )
    return _reduced(name, x, axis=axis, keepdims=keepdims)


defop(
    "prod",
    1,
    vjp=(_prod_rule,),
    elementwise=False,
    params={**_AXES, "dtype": None},
    shape=_reduced,
    dtype=_dtype_sum,
)
# The guard of prod's rule: identity forward; its cotangent goes through a check that x has no zero. Where no
# value can be read (under a JAX trace) the check gives nan instead of raising; ``where`` masks in the rule would
# turn some of those nans into zeros, so the guard also adds the check of zeros straight to x's cotangent: nan
# there too (eagerly: zeros, or the same error).
defop(
    "prod_zero_guard",
    2,
    lambda xp, a, x: a,
    vjp=(lambda g, out, a, x: zero_check(g, x), lambda g, out, a, x: zero_check(zeros_like(x), x)),
    jvp=(LINEAR, ZERO),
    elementwise=False,
    public=False,
    shape=lambda name, a, x: a._shape,
    dtype=_dtype_first,
)
defop(
    "prod_zero_check",
    2,
    _check_no_zeros,
    vjp=(lambda g, out, a, x: zero_check(g, x), ZERO),
    jvp=(LINEAR, ZERO),
    elementwise=False,
    public=False,
    shape=lambda name, a, x: a._shape,
    dtype=_dtype_first,
)
for _name in ("max", "min"):
    defop(_name, 1, vjp=(_extremum_rule,), domain="real", elementwise=False, params=_AXES, shape=_extremum_shape)
for _name, _rule in (("var", _var_rule), ("std", _std_rule)):
    defop(
        _name,
        1,
        vjp=(_rule,),
        domain="real_floating",
        elementwise=False,
        params={"axis": None, "correction": 0.0, "keepdims": False},
        shape=_spread_shape,
    )
for _name in ("all", "any"):
    defop(_name, 1, vjp=(ZERO,), domain="any", result="bool", elementwise=False, params=_AXES, shape=_reduced)


# ----------------------------------------------------------------- dtype and shape
def _astype_rule(g: Any, out: Any, x: Any, dtype: Any, copy: bool) -> Any:
    return through_cast(x, dtype, lambda: g)  # float -> int: 0 (a staircase)


def _astype_vjp(xp: Any, g: Any, x: Any) -> Any:
    """The cotangent of a cast to an integer or bool dtype: zero from a floating ``x``, else ``g``."""
    return xp.zeros_like(g) if xp.isdtype(x.dtype, ("real floating", "complex floating")) else g


def _dtype_cast(x: Any, dtype: Any, copy: bool) -> Any:
    xp = x._bk.xp
    if x._dtype is not None and _dtypes.dtype_kind(xp, x._dtype) == _dtypes.COMPLEX > _dtypes.dtype_kind(xp, dtype):
        raise TypeError(
            f"astype: cannot cast {_dtypes.dtype_name(xp, x._dtype)} to {_dtypes.dtype_name(xp, dtype)} (the "
            "standard forbids dropping the imaginary part); use xpgrad.real or xpgrad.imag first"
        )
    return dtype


defop(
    "astype",
    1,
    lambda xp, x, dtype, copy: xp.astype(x, dtype, copy=copy),
    vjp=(_astype_rule,),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    params={"dtype": None, "copy": True},
    dtype=_dtype_cast,
)
defop(
    "astype_vjp",
    2,
    _astype_vjp,
    vjp=(lambda g, out, a, x: astype_vjp(g, x), ZERO),  # linear in g: its own adjoint
    jvp=(LINEAR, ZERO),
    domain="any",
    elementwise=False,
    public=False,
    promote=(),
    shape=_like_second,
    dtype=_dtype_first,
)


def _number_of(fill_value: Any) -> Any:
    """A fill value as the backend takes it: a Tensor (a constant here: full_like has no gradient in it) as its
    value, which NumPy would otherwise ask the Tensor for through ``np.copyto``, which Tensors refuse."""
    return fill_value._require() if isinstance(fill_value, Tensor) else fill_value


defop(  # full_like(x, fill_value, dtype=...) on a Tensor whose value comes later (a placeholder)
    "fill_like",
    1,
    lambda xp, x, fill_value, dtype: xp.full_like(x, _number_of(fill_value), dtype=dtype),
    text=_text.fill_like,
    vjp=(ZERO,),
    domain="any",
    elementwise=False,
    public=False,
    promote=(),
    params={"fill_value": 0, "dtype": None},
    dtype=lambda x, fill_value, dtype: x._dtype if dtype is None else dtype,
    meta=(0,),
)


def _reshaped(name: str, x: Any, shape: tuple[int, ...], copy: Any = None) -> Any:
    return _shapes.reshaped(name, x._shape, shape)


defop(
    "reshape",
    1,
    lambda xp, x, shape, copy: xp.reshape(x, shape, copy=copy),
    vjp=(lambda g, out, x, shape, copy: reshape_like(g, x),),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    params={"shape": (), "copy": None},
    shape=_reshaped,
)
defop(
    "reshape_like",
    2,
    lambda xp, a, ref: xp.reshape(a, tuple(ref.shape)),
    text=_text.reshape_like,
    vjp=(lambda g, out, a, ref: reshape_like(g, a), ZERO),
    jvp=(LINEAR, ZERO),
    domain="any",
    elementwise=False,
    public=False,
    shape=_like_second,
    dtype=_dtype_first,
)
defop(
    "broadcast_to",
    1,
    lambda xp, x, shape: xp.broadcast_to(x, shape),
    vjp=(lambda g, out, x, shape: fit(g, x),),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    params={"shape": ()},
    shape=lambda name, x, shape: _shapes.broadcast_onto(name, x._shape, shape),
)

# ----------------------------------------------------------------- basic indexing, and its adjoint
defop(
    "index",
    1,
    takes_backend(lambda bk, x, key: bk.index(x, _shapes.unpack_key(key))),
    vjp=(lambda g, out, x, key: unindex(g, x, key=key),),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    public=False,  # x[key]: `Tensor.__getitem__`
    infix="[]",
    params={"key": ()},
    shape=lambda name, x, key: _shapes.indexed(x._shape, key),
)


@takes_backend
def _unindex(bk: Any, g: Any, ref: Any, key: Any) -> Any:
    """Zeros shaped like ``ref`` with ``g`` written at ``ref[key]`` (basic indexing hits each element once;
    written through the backend's hook: a new array where arrays are immutable)."""
    import array_api_compat

    xp = bk.xp
    out = xp.zeros(tuple(ref.shape), dtype=g.dtype, device=array_api_compat.device(g))
    packed = tuple(i for i in key if i is not None)  # new axes of g are size 1: drop them
    shape = _shapes.indexed(tuple(ref.shape), packed)
    return bk.write(out, _shapes.unpack_key(packed), xp.reshape(g, shape))


defop(
    "unindex",
    2,
    _unindex,
    vjp=(lambda g, out, a, ref, key: index(g, key=key), ZERO),
    jvp=(LINEAR, ZERO),
    domain="any",
    elementwise=False,
    public=False,
    params={"key": ()},
    shape=lambda name, a, ref, key: ref._shape,
    dtype=_dtype_first,
)
