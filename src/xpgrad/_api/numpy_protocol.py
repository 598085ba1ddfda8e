"""NumPy's ``__array_function__`` protocol on Tensors: never a silently wrong answer.

A NumPy function called with a Tensor among its arguments (``np.dot(x, y)``, ``np.concatenate([x, y])``)
comes here. Those with an xpgrad equivalent build its graph, with NumPy's meaning of every argument they
accept (``np.dot`` of N-d arrays is a tensordot, of 1-d ones a vector dot; ``np.transpose`` reverses every
axis); an argument xpgrad cannot honour (``out=``, ``where=``, ``order='F'``...) is refused, naming it. Every
other function raises a TypeError naming it and what to use instead: NumPy would compute on the value, cut
from the graph, or (as before this protocol) on an object array holding the Tensor (``np.dot(x, x)`` of 1-d
Tensors was their elementwise product, ``np.outer(x, x)`` a 1x1 object array).

NumPy's ufuncs (``np.sin``, ``np.add``, ``np.matmul``, ``np.vecdot``...) go through the other protocol,
``__array_ufunc__``, which a Tensor sets to None: they refuse Tensors with NumPy's own TypeError (and
``array * t`` calls the Tensor's reflected operator). Use ``xpgrad.sin``, ``x @ y``...
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from .._core.tensor import Tensor
from . import public as xg

__all__ = ["array_function", "handled"]

_NO: Any = object()  # "argument not given" (NumPy's own sentinel differs between versions)


def _t(x: Any) -> Any:
    """``x`` as xpgrad takes it: Tensors and numbers as they are, NumPy arrays as leaves, lists as arrays."""
    if isinstance(x, (Tensor, bool, int, float, complex)):
        return x
    if isinstance(x, (list, tuple)):
        return xg.asarray(x)
    return Tensor(x)


def _ndim(x: Any) -> int:
    x = _t(x)
    if isinstance(x, Tensor):
        if x.ndim is None:
            raise TypeError("a placeholder of unknown shape: declare its shape (placeholder(shape=...)) first")
        return x.ndim
    return 0


def _unsupported(name: str, **given: Any) -> None:
    """Refuse each argument of ``given`` that is not its default (None, False, or the sentinel ``_NO``)."""
    for k, v in given.items():
        if v is not None and v is not False and v is not _NO:
            hint = (
                " (a Tensor is a new graph node, never written into: use the result)"
                if k == "out"
                else " (xpgrad has no such option)"
            )
            raise TypeError(f"numpy.{name} on Tensors: {k}={v!r:.40} is not supported{hint}")


def _axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


# ----------------------------------------------------------------- reductions
def _reduction(name: str) -> Callable[..., Any]:
    fn = getattr(xg, name)

    def handler(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = False, **kw: Any) -> Any:
        ddof = kw.pop("ddof", 0)
        correction = kw.pop("correction", _NO)
        initial, where, mean = kw.pop("initial", _NO), kw.pop("where", _NO), kw.pop("mean", _NO)
        if kw:
            raise TypeError(f"numpy.{name}() on Tensors got unexpected keyword(s) {sorted(kw)}")
        _unsupported(name, out=out, initial=initial, where=None if where is True else where, mean=mean)
        keep = bool(keepdims) if keepdims is not _NO else False
        params: dict[str, Any] = {"axis": _axis(axis), "keepdims": keep}
        if name in ("sum", "prod"):
            params["dtype"] = dtype
        else:
            _unsupported(name, dtype=dtype)
        if name in ("var", "std"):
            params["correction"] = ddof if correction is _NO else correction
        elif ddof:
            raise TypeError(f"numpy.{name}() on Tensors got an unexpected keyword 'ddof'")
        return fn(_t(a), **params)

    return handler


def _logical(name: str) -> Callable[..., Any]:
    fn = getattr(xg, name)

    def handler(a: Any, axis: Any = None, out: Any = None, keepdims: Any = False, *, where: Any = True) -> Any:
        _unsupported(name, out=out, where=None if where is True else where)
        return fn(_t(a), axis=_axis(axis), keepdims=bool(keepdims) if keepdims is not _NO else False)

    return handler


def _extremum(name: str) -> Callable[..., Any]:
    fn = getattr(xg, name)

    def handler(
        a: Any, axis: Any = None, out: Any = None, keepdims: Any = False, initial: Any = _NO, where: Any = True
    ) -> Any:
        _unsupported(name, out=out, initial=initial, where=None if where is True else where)
        return fn(_t(a), axis=_axis(axis), keepdims=bool(keepdims) if keepdims is not _NO else False)

    return handler


def _arg(name: str) -> Callable[..., Any]:
    fn = getattr(xg, name)

    def handler(a: Any, axis: Any = None, out: Any = None, *, keepdims: Any = False) -> Any:
        _unsupported(name, out=out)
        keep = bool(keepdims) if keepdims is not _NO else False
        if axis is None:  # NumPy: the index into the flattened array
            a = xg.reshape(_t(a), (-1,))
            out_ = fn(a)
            return xg.reshape(out_, (1,) * _ndim(a)) if keep else out_
        return fn(_t(a), axis=operator.index(axis), keepdims=keep)

    return handler


# ----------------------------------------------------------------- products
def _dot(a: Any, b: Any, out: Any = None) -> Any:
    _unsupported("dot", out=out)
    a, b = _t(a), _t(b)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return xg.multiply(a, b)
    if (nb <= 2 and na <= 2) or nb == 1 or na == 1:
        return xg.matmul(a, b)  # (1-d with N-d b: the sum over b's second-to-last axis, as matmul's)
    return xg.tensordot(a, b, axes=([na - 1], [nb - 2]))


def _inner(a: Any, b: Any) -> Any:
    a, b = _t(a), _t(b)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return xg.multiply(a, b)
    return xg.tensordot(a, b, axes=([na - 1], [nb - 1]))


def _outer(a: Any, b: Any, out: Any = None) -> Any:
    _unsupported("outer", out=out)
    return xg.reshape(_t(a), (-1, 1)) * xg.reshape(_t(b), (1, -1))


def _linalg_outer(x1: Any, x2: Any, /) -> Any:
    if _ndim(x1) != 1 or _ndim(x2) != 1:
        raise ValueError("numpy.linalg.outer: x1 and x2 must be 1-d")
    return _outer(x1, x2)


def _vdot(a: Any, b: Any) -> Any:
    a, b = xg.reshape(_t(a), (-1,)), xg.reshape(_t(b), (-1,))
    if a.shape != b.shape:
        raise ValueError(f"numpy.vdot: vectors have different lengths ({a.shape[0]} and {b.shape[0]})")
    return xg.sum(xg.conj(a) * b)


def _matmul(x1: Any, x2: Any, /) -> Any:
    return xg.matmul(_t(x1), _t(x2))


def _tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    return xg.tensordot(_t(a), _t(b), axes=axes)


def _linalg_vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    return xg.vecdot(_t(x1), _t(x2), axis=axis)


# ----------------------------------------------------------------- shapes
def _axes_of(name: str, axes: Any, n: int, repeat: bool = False) -> list[int]:
    """``axes`` as non-negative axes of an array of ``n`` dimensions, refused out of range (NumPy's AxisError)
    or, unless ``repeat``, repeated."""
    import numpy

    out = []
    for i in (axes,) if hasattr(axes, "__index__") else axes:
        i = operator.index(i)
        if not -n <= i < n:
            raise numpy.exceptions.AxisError(i, n)
        out.append(i % n)
    if not repeat and len(set(out)) != len(out):
        raise ValueError(f"numpy.{name}: repeated axis")
    return out


def _transpose(a: Any, axes: Any = None) -> Any:
    a = _t(a)
    n = _ndim(a)
    perm = tuple(reversed(range(n))) if axes is None else tuple(_axes_of("transpose", axes, n))
    if len(perm) != n:
        raise ValueError("numpy.transpose: axes don't match array")
    return xg.permute_dims(a, perm)


def _matrix_transpose(x: Any, /) -> Any:
    return xg.matrix_transpose(_t(x))


def _swapaxes(a: Any, axis1: Any, axis2: Any) -> Any:
    a = _t(a)
    n = _ndim(a)
    perm = list(range(n))
    i, j = operator.index(axis1) % n, operator.index(axis2) % n
    perm[i], perm[j] = perm[j], perm[i]
    return xg.permute_dims(a, tuple(perm))


def _moveaxis(a: Any, source: Any, destination: Any) -> Any:
    a = _t(a)
    n = _ndim(a)
    src = [operator.index(s) % n for s in ((source,) if hasattr(source, "__index__") else source)]
    dst = [operator.index(d) % n for d in ((destination,) if hasattr(destination, "__index__") else destination)]
    if len(src) != len(dst):
        raise ValueError("numpy.moveaxis: source and destination must have the same number of elements")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return xg.permute_dims(a, tuple(order))


def _expand_dims(a: Any, axis: Any) -> Any:
    a = _t(a)
    axes = (axis,) if hasattr(axis, "__index__") else tuple(axis)
    n = _ndim(a) + len(axes)
    for ax in sorted(_axes_of("expand_dims", axes, n)):
        a = xg.expand_dims(a, axis=ax)
    return a


def _squeeze(a: Any, axis: Any = None) -> Any:
    a = _t(a)
    if axis is None:
        axis = tuple(i for i, d in enumerate(a.shape) if d == 1)
    return xg.squeeze(a, axis)


def _reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None, copy: Any = None) -> Any:
    _unsupported("reshape", order=None if order == "C" else order)
    shape = newshape if shape is None else shape
    return xg.reshape(_t(a), shape, copy=copy)


def _ravel(a: Any, order: str = "C") -> Any:
    _unsupported("ravel", order=None if order == "C" else order)
    return xg.reshape(_t(a), (-1,))


def _join(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def handler(arrays: Any, axis: Any = 0, out: Any = None, *, dtype: Any = None, casting: Any = "same_kind") -> Any:
        _unsupported(name, out=out, dtype=dtype)
        return fn([_t(a) for a in arrays], axis=axis)

    return handler


def _flip(m: Any, axis: Any = None) -> Any:
    return xg.flip(_t(m), axis=_axis(axis))


def _roll(a: Any, shift: Any, axis: Any = None) -> Any:
    a = _t(a)
    if axis is None:  # NumPy: rolled flattened, the shape restored
        if not hasattr(shift, "__index__"):
            shift = sum(operator.index(s) for s in shift)
        return xg.reshape(xg.roll(xg.reshape(a, (-1,)), shift), a.shape)
    if hasattr(shift, "__index__") and hasattr(axis, "__index__"):
        return xg.roll(a, operator.index(shift), axis=operator.index(axis))
    shifts = [shift] if hasattr(shift, "__index__") else list(shift)
    axes = _axes_of("roll", axis, _ndim(a), repeat=True)
    if len(shifts) == 1:  # NumPy broadcasts shift against axis, and adds the shifts of a repeated axis
        shifts = shifts * len(axes)
    elif len(axes) == 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError("numpy.roll: 'shift' and 'axis' should be scalars or 1D sequences of the same length")
    total: dict[int, int] = {}
    for s_, ax in zip(shifts, axes, strict=True):
        total[ax] = total.get(ax, 0) + operator.index(s_)
    return xg.roll(a, tuple(total.values()), axis=tuple(total))


def _take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Any:
    _unsupported("take", out=out, mode=None if mode == "raise" else mode)
    a = _t(a)
    idx = indices if isinstance(indices, Tensor) else xg.asarray(indices, backend=a._bk)
    if _ndim(idx) > 1:
        raise TypeError(
            f"numpy.take on Tensors: only 0-d and 1-d integer indices are supported (got shape {idx.shape})"
        )
    if axis is None:
        a = xg.reshape(a, (-1,))
    if _ndim(idx) == 0:  # one index: that axis goes
        ax = 0 if axis is None else operator.index(axis)
        return xg.squeeze(xg.take(a, xg.reshape(idx, (1,)), axis=axis), ax)
    return xg.take(a, idx, axis=axis)


def _cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _unsupported("cumsum", out=out)
    a = _t(a)
    if axis is None:
        a = xg.reshape(a, (-1,))
    return xg.cumulative_sum(a, axis=axis, dtype=dtype)


def _cumulative_sum(
    x: Any, /, *, axis: Any = None, dtype: Any = None, out: Any = None, include_initial: bool = False
) -> Any:
    _unsupported("cumulative_sum", out=out)
    return xg.cumulative_sum(_t(x), axis=axis, dtype=dtype, include_initial=include_initial)


def _broadcast_to(array: Any, shape: Any, subok: bool = False) -> Any:
    return xg.broadcast_to(_t(array), shape)


# ----------------------------------------------------------------- elementwise functions that are not ufuncs
def _where(condition: Any, x: Any = _NO, y: Any = _NO) -> Any:
    if x is _NO or y is _NO:
        raise TypeError(
            "numpy.where on Tensors: one argument (the indices of nonzero elements) is not supported; pass both "
            "branches, numpy.where(condition, x, y), or use xpgrad.where"
        )
    return xg.where(_t(condition), _t(x), _t(y))


def _clip(
    a: Any, a_min: Any = _NO, a_max: Any = _NO, out: Any = None, *, min: Any = _NO, max: Any = _NO, **kw: Any
) -> Any:
    _unsupported("clip", out=out, **kw)
    if a_min is not _NO and a_max is _NO and max is _NO:  # (NumPy's own refusal)
        raise TypeError("clip() missing 1 required positional argument: 'a_max'")
    lo = a_min if a_min is not _NO else min
    hi = a_max if a_max is not _NO else max
    lo, hi = (None if v is _NO else v for v in (lo, hi))
    return xg.clip(_t(a), min=lo, max=hi)


def _round(name: str) -> Callable[..., Any]:
    def handler(a: Any, decimals: int = 0, out: Any = None) -> Any:
        _unsupported(name, out=out, decimals=decimals or None)
        return xg.round(_t(a))

    return handler


def _real_imag(name: str) -> Callable[..., Any]:
    fn = getattr(xg, name)
    return lambda val: fn(_t(val))


def _astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    return xg.astype(_t(x), dtype, copy=copy, device=device)


def _like(name: str) -> Callable[..., Any]:
    fn = getattr(xg, name)

    def handler(
        a: Any,
        *rest: Any,
        dtype: Any = None,
        order: str = "K",
        subok: bool = True,
        shape: Any = None,
        device: Any = None,
        **kw: Any,
    ) -> Any:
        _unsupported(name, shape=shape, device=device, order=None if order in ("K", "C") else order, **kw)
        a = _t(a)
        if name == "full_like":
            (fill_value, *more) = rest
            if more:
                dtype = more[0]
            out = fn(a, fill_value, dtype=dtype)
        else:
            if rest:
                dtype = rest[0]
            out = fn(a, dtype=dtype)
        return out

    return handler


def _shape(a: Any) -> Any:
    return a.shape if isinstance(a, Tensor) else _t(a).shape


def _ndim_of(a: Any) -> Any:
    return _t(a).ndim


def _size(a: Any, axis: Any = None) -> Any:
    s = _t(a).shape
    axes = range(len(s)) if axis is None else (axis,) if hasattr(axis, "__index__") else axis
    n = 1
    for i in axes:
        n *= s[operator.index(i)]
    return n


def _sorting(name: str) -> Callable[..., Any]:
    fn = getattr(xg, name)

    def handler(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Any:
        _unsupported(name, kind=None if kind in (None, "stable") else kind, order=order)
        a = _t(a)
        if axis is None:
            a, axis = xg.reshape(a, (-1,)), 0
        return fn(a, axis=operator.index(axis), stable=True)  # (a valid order of ties, NumPy's stable one)

    return handler


def _tile(A: Any, reps: Any) -> Any:
    return xg.tile(_t(A), (reps,) if hasattr(reps, "__index__") else tuple(reps))


def _repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    return xg.repeat(_t(a), repeats, axis=axis)


def _nonzero(a: Any) -> Any:
    return xg.nonzero(_t(a))


def _searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Any:
    a, v = _t(a), _t(v)
    if not isinstance(v, Tensor):
        v = xg.asarray(v, backend=a._bk)
    return xg.searchsorted(a, v, side=side, sorter=sorter)


def _count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False) -> Any:
    return xg.count_nonzero(_t(a), axis=_axis(axis), keepdims=keepdims)


def _take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Any:
    arr, indices = _t(arr), _t(indices)
    if axis is None:
        arr, indices, axis = xg.reshape(arr, (-1,)), xg.reshape(indices, (-1,)), 0
    return xg.take_along_axis(arr, indices, axis=operator.index(axis))


def _unstack(x: Any, /, *, axis: int = 0) -> Any:
    return xg.unstack(_t(x), axis=axis)


def _meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> Any:
    _unsupported("meshgrid", sparse=sparse)
    return tuple(xg.meshgrid(*(xg.reshape(_t(x), (-1,)) for x in xi), indexing=indexing))  # (NumPy flattens each)


def _handlers(np: Any) -> dict[Any, Callable[..., Any]]:
    table: dict[str, Callable[..., Any]] = {
        "dot": _dot,
        "inner": _inner,
        "outer": _outer,
        "vdot": _vdot,
        "tensordot": _tensordot,
        "linalg.matmul": _matmul,
        "linalg.tensordot": _tensordot,
        "linalg.vecdot": _linalg_vecdot,
        "linalg.outer": _linalg_outer,
        "linalg.matrix_transpose": _matrix_transpose,
        "matrix_transpose": _matrix_transpose,
        "transpose": _transpose,
        "permute_dims": _transpose,
        "swapaxes": _swapaxes,
        "moveaxis": _moveaxis,
        "expand_dims": _expand_dims,
        "squeeze": _squeeze,
        "reshape": _reshape,
        "ravel": _ravel,
        "concatenate": _join("concatenate", xg.concat),
        "concat": _join("concat", xg.concat),
        "stack": _join("stack", xg.stack),
        "flip": _flip,
        "roll": _roll,
        "take": _take,
        "cumsum": _cumsum,
        "cumulative_sum": _cumulative_sum,
        "broadcast_to": _broadcast_to,
        "where": _where,
        "clip": _clip,
        "round": _round("round"),
        "around": _round("around"),
        "real": _real_imag("real"),
        "imag": _real_imag("imag"),
        "astype": _astype,
        "zeros_like": _like("zeros_like"),
        "ones_like": _like("ones_like"),
        "full_like": _like("full_like"),
        "shape": _shape,
        "ndim": _ndim_of,
        "size": _size,
        "sort": _sorting("sort"),
        "argsort": _sorting("argsort"),
        "tile": _tile,
        "repeat": _repeat,
        "nonzero": _nonzero,
        "searchsorted": _searchsorted,
        "count_nonzero": _count_nonzero,
        "take_along_axis": _take_along_axis,
        "unstack": _unstack,
        "meshgrid": _meshgrid,
        "argmax": _arg("argmax"),
        "argmin": _arg("argmin"),
        "all": _logical("all"),
        "any": _logical("any"),
        "max": _extremum("max"),
        "amax": _extremum("max"),
        "min": _extremum("min"),
        "amin": _extremum("min"),
    }
    for name in ("sum", "prod", "mean", "var", "std"):
        table[name] = _reduction(name)
    out = {}
    for path, fn in table.items():
        obj = np
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            out[obj] = fn
    return out


# NumPy functions without an xpgrad equivalent that have a close one, named in the error
_ALTERNATIVES = {
    "einsum": "xpgrad.tensordot, xpgrad.matmul (@) or xpgrad.vecdot",
    "linalg.norm": "xpgrad.linalg.vector_norm or xpgrad.linalg.matrix_norm",
    "linalg.vector_norm": "xpgrad.linalg.vector_norm",
    "average": "xpgrad.mean, or xpgrad.sum(w * x) / xpgrad.sum(w)",
    "diff": "x[1:] - x[:-1]",
    "trace": "xpgrad.linalg.trace",
    "linalg.trace": "xpgrad.linalg.trace",
    "diagonal": "xpgrad.linalg.diagonal (of the last two axes)",
    "ptp": "xpgrad.max(x) - xpgrad.min(x)",
    "nansum": "xpgrad.sum(xpgrad.where(xpgrad.isnan(x), 0.0, x))",
    "copy": "the Tensor itself (a graph node is never written into)",
    "asarray": "t.numpy() for the value (outside the graph), or the Tensor itself",
    "array": "t.numpy() for the value (outside the graph), or the Tensor itself",
    "atleast_2d": "xpgrad.reshape or xpgrad.expand_dims",
    "hstack": "xpgrad.concat(arrays, axis=-1)",
    "vstack": "xpgrad.concat (of 2-d arrays) or xpgrad.stack",
    "column_stack": "xpgrad.stack(arrays, axis=1)",
    "cumprod": "xpgrad.cumulative_prod",
    **{
        f"linalg.{name}": f"xpgrad.linalg.{name} (the array API's signature)"
        for name in (
            "inv",
            "det",
            "slogdet",
            "solve",
            "cholesky",
            "cross",
            "diagonal",
            "eigh",
            "eigvalsh",
            "matrix_norm",
            "matrix_power",
            "matrix_rank",
            "pinv",
            "qr",
            "svd",
            "svdvals",
        )
    },
    "logsumexp": "xpgrad.logaddexp",
    "allclose": "t.numpy() (comparing values is outside the graph)",
    "array_equal": "t.numpy() (comparing values is outside the graph)",
    "isclose": "xpgrad.abs(a - b) <= atol + rtol * xpgrad.abs(b)",
    "nonzero": "xpgrad.where(mask, x, 0) (shapes of Tensors do not depend on values)",
    "argwhere": "xpgrad.where(mask, x, 0) (shapes of Tensors do not depend on values)",
}

_table: dict[Any, Callable[..., Any]] | None = None


def handled() -> dict[Any, Callable[..., Any]]:
    """NumPy function -> its handler, made once (NumPy is imported only once a Tensor meets it)."""
    global _table
    if _table is None:
        import numpy

        _table = _handlers(numpy)
    return _table


def _qualname(func: Any) -> str:
    module = getattr(func, "__module__", "numpy") or "numpy"
    name = getattr(func, "__name__", repr(func))
    public = "numpy" + "".join(f".{p}" for p in module.split(".")[1:] if not p.startswith("_"))
    return f"{public}.{name}"


def array_function(func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    """`Tensor.__array_function__`: dispatch to xpgrad's equivalent of ``func``, or refuse, naming it."""
    if not all(issubclass(t, Tensor) or t.__module__.split(".")[0] == "numpy" for t in types):
        return NotImplemented  # another library's arrays too: let it (or NumPy) decide
    handler = handled().get(func)
    name = _qualname(func)
    if handler is None:
        short = name.removeprefix("numpy.")
        alternative = _ALTERNATIVES.get(short) or _ALTERNATIVES.get(short.rpartition(".")[2])
        if alternative:  # xpgrad has it with the array API's meaning, which NumPy's arguments may not share
            raise TypeError(
                f"{name} is not dispatched on xpgrad Tensors (NumPy would compute on the value cut from the graph, "
                f"with no gradient); use {alternative}"
            )
        raise TypeError(
            f"{name} is not supported on xpgrad Tensors: xpgrad has no equivalent, and NumPy would compute on "
            "the value cut from the graph (no gradient); build it from xpgrad's functions (docs/ops.md, "
            "docs/linalg.md), or call it on t.numpy() for a plain array outside the graph (not differentiated)"
        )
    try:
        return handler(*args, **kwargs)
    except TypeError as e:  # an argument xpgrad cannot take: say which NumPy function refused it
        if str(e).startswith(name):
            raise
        raise TypeError(f"{name} on Tensors: {e}") from e
