"""The standard's manipulation and searching functions: permute_dims, expand_dims, squeeze, concat, flip,
roll, take, cumulative_sum, argmax, argmin.

Same contract as `basic`: each op beside its rules, rules written in xpgrad ops (each rule of a linear op is
its adjoint, itself an op with a rule), so every order works. ``concat`` is a binary op (``xpgrad.concat``
of n arrays nests them, `_api.shape_functions`); its rules cut the cotangent at the first operand's size,
read when evaluated, so they work on placeholders too. ``argmax``/``argmin`` have integer outputs, which
carry no gradient (JAX's convention): a gradient never flows through them (their rule is zero).
"""

from __future__ import annotations

import operator
from typing import Any

from .. import _dtypes, _shapes
from .._core.opdef import LINEAR, OPS, ZERO, defop, takes_backend
from .._errors import AxisError
from .basic import _dtype_first, _dtype_sum, _f, _reduced, through_cast
from .linalg import ndim_of

__all__: list[str] = []

permute_dims, reshape_like, flip, roll, take, untake = map(
    _f, ("permute_dims", "reshape_like", "flip", "roll", "take", "untake")
)
concat, cut_first, cut_rest, zeros_like, cumulative_sum, index = map(
    _f, ("concat", "concat_first", "concat_rest", "zeros_like", "cumulative_sum", "index")
)


def _axis_int(name: str, axis: Any, ndim: int | None, extra: int = 0) -> int:
    """One axis, normalized to ``0 <= axis < ndim + extra`` when ``ndim`` is known (else as given)."""
    if isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise TypeError(f"{name}: axis must be an int; got {axis!r}")
    axis = operator.index(axis)
    if ndim is None:
        return axis
    n = ndim + extra
    if not -n <= axis < n:
        raise AxisError(f"{name}: axis {axis} is out of range for an array of {ndim} dimensions")
    return axis % n


def _ndim(x: Any) -> int | None:
    return None if x._shape is None else len(x._shape)


# ----------------------------------------------------------------- permute_dims, expand_dims, squeeze
def _permute_shape(name: str, x: Any, axes: tuple[int, ...]) -> Any:
    s = x._shape
    if s is not None and sorted(a % len(s) if -len(s) <= a < len(s) else a for a in axes) != list(range(len(s))):
        raise ValueError(
            f"permute_dims: axes {axes} is not a permutation of the {len(s)} axes of an array of shape {s}; "
            f"name each axis once, e.g. {tuple(reversed(range(len(s))))}"
        )
    return None if s is None else tuple(s[a] for a in axes)


def _permute_rule(g: Any, out: Any, x: Any, axes: tuple[int, ...]) -> Any:
    n = len(axes)
    inverse = [0] * n
    for i, a in enumerate(axes):
        inverse[a % n] = i
    return permute_dims(g, axes=tuple(inverse))


defop(
    "permute_dims",
    1,
    lambda xp, x, axes: xp.permute_dims(x, axes),
    vjp=(_permute_rule,),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    params={"axes": ()},
    shape=_permute_shape,
)


def _expand_shape(name: str, x: Any, axis: int = 0) -> Any:
    s = x._shape
    a = _axis_int(name, axis, _ndim(x), extra=1)
    return None if s is None else (*s[:a], 1, *s[a:])


defop(
    "expand_dims",
    1,
    lambda xp, x, axis: xp.expand_dims(x, axis=axis),
    vjp=(lambda g, out, x, axis: reshape_like(g, x),),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    params={"axis": 0},
    shape=_expand_shape,
)


def _squeeze_shape(name: str, x: Any, axis: Any) -> Any:
    s = x._shape
    axes = _shapes.normalize_axis(name, axis, _ndim(x))
    if axes is None:
        raise TypeError("squeeze: axis is required (an int or a tuple of ints), as the standard asks")
    if s is None:
        return None
    for a in axes:
        if s[a] is not None and s[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {s} has size {s[a]}, not 1; only size-1 axes can go")
    return tuple(d for i, d in enumerate(s) if i not in axes)


defop(
    "squeeze",
    1,
    lambda xp, x, axis: xp.squeeze(x, axis=axis),
    vjp=(lambda g, out, x, axis: reshape_like(g, x),),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    params={"axis": None},
    shape=_squeeze_shape,
)


# ----------------------------------------------------------------- concat (binary), and its cuts
def _concat_shape(name: str, a: Any, b: Any, axis: int = 0) -> Any:
    sa, sb = a._shape, b._shape
    if sa is None or sb is None:
        return None
    if len(sa) != len(sb) or not sa:
        raise ValueError(
            f"concat: arrays must have the same number of dimensions (at least 1); got shapes {sa} and {sb}"
        )
    ax = _axis_int(name, axis, len(sa))
    out = []
    for i, (p, q) in enumerate(zip(sa, sb, strict=True)):
        if i == ax:
            out.append(None if p is None or q is None else p + q)
        elif p is not None and q is not None and p != q:
            raise ValueError(
                f"concat: shapes {sa} and {sb} differ along axis {i} ({p} and {q}), which is not the axis "
                f"{axis} they are joined along"
            )
        else:
            out.append(p if q is None else q)
    return tuple(out)


def _cut(xp: Any, g: Any, ref: Any, axis: int, first: bool) -> Any:
    """``g`` cut along ``axis`` at ``ref``'s size there: the first part (``first``) or the rest."""
    n = ref.shape[axis]
    key = (slice(None),) * (axis % g.ndim) + (slice(None, n) if first else slice(n, None), ...)
    return g[key]


def _concat_jvp(ts: Any, out: Any, a: Any, b: Any, axis: int) -> Any:
    # concat is linear in both operands together: the tangents joined, zeros where one has none
    ta, tb = ts
    return concat(zeros_like(a) if ta is None else ta, zeros_like(b) if tb is None else tb, axis=axis)


defop(
    "concat",
    2,
    lambda xp, a, b, axis: xp.concat((a, b), axis=axis),
    vjp=(lambda g, out, a, b, axis: cut_first(g, a, axis=axis), lambda g, out, a, b, axis: cut_rest(g, a, axis=axis)),
    jvp=_concat_jvp,
    domain="any",
    elementwise=False,
    # (`xpgrad.concat` is `_api.shape_functions.concat`: a sequence of arrays, nested binary concats)
    params={"axis": 0},
    shape=_concat_shape,
)


def _cut_shape(first: bool) -> Any:
    def shape(name: str, g: Any, ref: Any, axis: int) -> Any:
        sg, sr = g._shape, ref._shape
        if sg is None or sr is None:
            return None
        ax = axis % len(sg)
        n = sr[ax] if first else None if sg[ax] is None or sr[ax] is None else sg[ax] - sr[ax]
        return (*sg[:ax], n, *sg[ax + 1 :])

    return shape


defop(  # g[..., :n] along axis, n the size of ref there: the cotangent of concat's first operand
    "concat_first",
    2,
    lambda xp, g, ref, axis: _cut(xp, g, ref, axis, True),
    vjp=(lambda gg, out, g, ref, axis: concat(gg, zeros_like(cut_rest(g, ref, axis=axis)), axis=axis), ZERO),
    jvp=(LINEAR, ZERO),
    domain="any",
    elementwise=False,
    public=False,
    promote=(),
    params={"axis": 0},
    meta=(1,),
    shape=_cut_shape(True),
    dtype=_dtype_first,
)
defop(  # g[..., n:] along axis: the cotangent of concat's second operand
    "concat_rest",
    2,
    lambda xp, g, ref, axis: _cut(xp, g, ref, axis, False),
    vjp=(lambda gg, out, g, ref, axis: concat(zeros_like(cut_first(g, ref, axis=axis)), gg, axis=axis), ZERO),
    jvp=(LINEAR, ZERO),
    domain="any",
    elementwise=False,
    public=False,
    promote=(),
    params={"axis": 0},
    meta=(1,),
    shape=_cut_shape(False),
    dtype=_dtype_first,
)


# ----------------------------------------------------------------- flip, roll
def _axes_shape(name: str, x: Any, axis: Any = None, **_: Any) -> Any:
    _shapes.normalize_axis(name, axis, _ndim(x))  # (checked)
    return x._shape


defop(
    "flip",
    1,
    lambda xp, x, axis: xp.flip(x, axis=axis),
    vjp=(lambda g, out, x, axis: flip(g, axis=axis),),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    params={"axis": None},
    shape=_axes_shape,
)


def _negated(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


def _roll_shape(name: str, x: Any, shift: Any = 0, axis: Any = None) -> Any:
    shifts = shift if isinstance(shift, tuple) else (shift,)
    if any(isinstance(s, bool) or not isinstance(s, int) for s in shifts):
        raise TypeError(f"roll: shift must be an int or a tuple of ints; got {shift!r}")
    if isinstance(shift, tuple) and (not isinstance(axis, tuple) or len(axis) != len(shift)):
        raise ValueError(f"roll: a tuple shift {shift!r} needs a tuple axis of the same length; got axis={axis!r}")
    return _axes_shape(name, x, axis)


defop(
    "roll",
    1,
    lambda xp, x, shift, axis: xp.roll(x, shift, axis=axis),
    vjp=(lambda g, out, x, shift, axis: roll(g, shift=_negated(shift), axis=axis),),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    params={"shift": 0, "axis": None},
    shape=_roll_shape,
)


# ----------------------------------------------------------------- take, and its adjoint
def _take_shape(name: str, x: Any, indices: Any, axis: Any = None) -> Any:
    s, si = x._shape, indices._shape
    if indices._dtype is not None and not _dtypes.dtype_kind(indices._bk.xp, indices._dtype) == _dtypes.INT:
        raise TypeError(f"take: indices must be an integer array; got dtype {indices._dtype}")
    if si is not None and len(si) != 1:
        raise ValueError(f"take: indices must be 1-d; got shape {si}")
    if axis is None:
        if s is not None and len(s) != 1:
            raise ValueError(f"take: axis is required for an array of {len(s)} dimensions (shape {s})")
        return None if si is None else (si[0],)
    if s is None:
        return None
    a = _axis_int(name, axis, len(s))
    return (*s[:a], None if si is None else si[0], *s[a + 1 :])


@takes_backend
def _untake(bk: Any, g: Any, ref: Any, indices: Any, axis: Any) -> Any:
    """The adjoint of ``take(ref, indices, axis=axis)``: zeros shaped like ``ref`` plus ``g`` added at the
    indices (repeated indices add up), by the backend's scatter-add (`Backend.add_at`: memory of the result
    only, where the backend has one; else the standard's one-hot product)."""
    a = 0 if axis is None else axis % ref.ndim
    n = ref.shape[a]
    return bk.add_at(g, bk.xp.where(indices < 0, indices + n, indices), n, a)


defop(
    "take",
    2,
    lambda xp, x, indices, axis: xp.take(x, indices, axis=axis),
    vjp=(lambda g, out, x, indices, axis: untake(g, x, indices, axis=axis), ZERO),
    jvp=(LINEAR, ZERO),
    domain="any",
    elementwise=False,
    promote=(),
    params={"axis": None},
    shape=_take_shape,
    dtype=_dtype_first,
)
defop(
    "untake",
    3,
    _untake,
    vjp=(lambda gg, out, g, ref, indices, axis: take(gg, indices, axis=axis), ZERO, ZERO),
    jvp=(LINEAR, ZERO, ZERO),
    domain="any",
    elementwise=False,
    public=False,
    promote=(),
    params={"axis": None},
    meta=(1,),
    shape=lambda name, g, ref, indices, axis: ref._shape,
    dtype=_dtype_first,
)


# ----------------------------------------------------------------- cumulative_sum
def cumulative_axis(x: Any, axis: Any, name: str = "cumulative_sum") -> int | None:
    """A cumulative op's axis: ``axis``, or 0 for a 1-d ``x`` (the standard requires it otherwise)."""
    nd = _ndim(x)
    if axis is None:
        if nd is not None and nd != 1:
            raise ValueError(f"{name}: axis is required for an array of {nd} dimensions (shape {x._shape})")
        return 0
    return _axis_int(name, axis, nd)


def cumulative_shape(name: str, x: Any, axis: Any = None, dtype: Any = None, include_initial: bool = False) -> Any:
    """A cumulative op's shape (``cumulative_sum``, ``cumulative_prod``): one longer on ``axis`` with the initial."""
    a = cumulative_axis(x, axis, name)
    s = x._shape
    if type(include_initial) is not bool:
        raise TypeError(f"{name}: include_initial must be True or False; got {include_initial!r}")
    if s is None or not include_initial:
        return s
    assert a is not None
    return (*s[:a], None if s[a] is None else s[a] + 1, *s[a + 1 :])


def _cumsum_rule(g: Any, out: Any, x: Any, axis: Any, dtype: Any, include_initial: bool) -> Any:
    def cotangent() -> Any:
        # x_i is in out_j for every j > i (j >= i without the initial 0): a cumulative sum from the end
        a = cumulative_axis(x, axis)
        assert a is not None
        if axis is None:
            a = 0
        r = flip(cumulative_sum(flip(g, axis=a), axis=a), axis=a)
        if include_initial:
            r = index(r, key=_shapes.pack_key("index", (slice(None),) * (a % ndim_of(name, x)) + (slice(1, None),)))
        return r

    name = "cumulative_sum"
    return through_cast(x, dtype, cotangent)


defop(
    "cumulative_sum",
    1,
    vjp=(_cumsum_rule,),
    elementwise=False,
    params={"axis": None, "dtype": None, "include_initial": False},
    shape=cumulative_shape,
    dtype=_dtype_sum,
)


# ----------------------------------------------------------------- argmax, argmin
def index_dtype(name: str) -> Any:
    """The dtype hook of an op with an integer output (indices, counts): the backend's default integer dtype,
    after the check of the operands' dtypes against the op's domain that a dtype hook replaces (argmax of a
    complex array is refused, naming the op, as the standard and array-api-strict refuse it)."""

    def hook(*operands: Any, **_: Any) -> Any:
        x = operands[0]
        known = [t._dtype for t in operands if not t._const]
        if None not in known:
            _dtypes.resolve(x._bk, OPS[name], known, [], x._device)
        return _dtypes._default(x._bk, _dtypes.INT, x._device)

    return hook


def _arg_shape(name: str, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    if axis is not None:
        _axis_int(name, axis, _ndim(x))
    s = x._shape
    if s is not None and 0 in s:
        raise ValueError(f"{name}: an empty array (shape {s}) has no {name[3:]}imum; check the size first")
    return _reduced(name, x, axis=axis, keepdims=keepdims)


for _name in ("argmax", "argmin"):
    defop(
        _name,
        1,
        vjp=(ZERO,),  # an integer output: no gradient flows through it (JAX's float0 zeros)
        domain="real",
        elementwise=False,
        params={"axis": None, "keepdims": False},
        shape=_arg_shape,
        dtype=index_dtype(_name),
    )
