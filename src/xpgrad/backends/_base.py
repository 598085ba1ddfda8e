"""The `Backend` record: an array namespace plus the few conversions the standard leaves out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

__all__ = ["Backend"]


@dataclass(eq=False, repr=False)
class Backend:
    """One array library as xpgrad sees it.

    Everything mathematical goes through ``xp`` (an array-API namespace, usually from
    array-api-compat). The three callables cover what the standard does not: recognising the
    library's arrays and moving arrays to and from host NumPy (for ``Tensor.to`` and ``numpy()``).
    """

    name: str
    xp: ModuleType
    owns: Callable[[Any], bool]
    to_numpy: Callable[[Any], Any]
    from_numpy: Callable[..., Any]  # (array, device=None)
    ufuncs: ModuleType | None = None
    """The library itself when its elementwise functions are ufuncs taking ``out=`` (NumPy, CuPy): a
    large gradient then writes a result into an operand's buffer at its last use (`_opt.large_gradients`)."""
    number_arrays: bool = False
    """Whether a Python number met with an array of this library is passed to its ufuncs as a 0-d array
    of the array's dtype (made once; `_core.build.number_array`): NumPy takes ``x * a0d`` in ~0.45 us and
    ``x * 0.999`` in ~1.0 us on small arrays (it converts the number at every call). The result is the
    same: the number takes the array's dtype either way. CuPy leaves it off (a number is a kernel argument,
    a 0-d array a device read)."""
    strides: Callable[[Any], Any] | None = None
    """An array's strides, where the array has no ``strides`` of its own (array-api-strict): only their
    order is read, to know whether a released value's stand-in is laid out as the value
    (`_opt.release.like_standin`)."""
    getitem: Callable[[Any, Any], Any] | None = None
    """``x[key]`` for a basic index, where the library's own subscript lacks part of it (PyTorch: negative
    steps). None: ``x[key]``."""
    setitem: Callable[[Any, Any, Any], Any] | None = None
    """``out`` with ``value`` written at ``out[key]``, returned (the adjoint of indexing writes a cotangent
    into zeros): into ``out`` itself where the library's arrays are mutable, a new array where they are not
    (JAX: ``out.at[key].set(value)``). None: ``out[key] = value`` in place."""
    concrete: Callable[[Any], bool] | None = None
    """Whether an array's values can be read now without tracing or computing anything (False for a JAX
    tracer under ``jax.jit``, a lazy array): where not, nothing reads them (a check that would raise on
    them gives nan instead, and their values are not released). None: always."""
    releases: bool = True
    """Whether large values may be released and recomputed, and large gradients' intermediates freed
    (`_opt.release`, `_opt.large_gradients`). Off where arrays are lazy (Dask): a value is a recipe there, not
    memory, and dropping it would only rebuild the recipe."""
    broadcast: Callable[[Any, Any], Any] | None = None
    """``broadcast(a, ref)``: ``a`` broadcast to ``ref``'s shape and laid out like ``ref`` (Dask: in ``ref``'s
    chunks, where ``xp.broadcast_to`` makes one chunk the size of the whole array); None: ``xp.broadcast_to``."""
    compute: Callable[..., tuple[Any, ...]] | None = None
    """``compute(*arrays)``: the concrete values of lazy arrays, computed together so that what they share
    runs once (Dask: ``dask.compute``); None where arrays are values already (`xpgrad.compute`)."""
    refuse_if: Callable[[Any, Any, Exception], Any] | None = None
    """``refuse_if(value, flag, error)``: ``value``, raising ``error`` where the 0-d bool array ``flag`` is
    true, without reading ``flag`` now (Dask: when the value is computed); None: checked at once (`guard`)."""
    check: Callable[[Any, str], None] | None = None
    """``check(array, what)``: refuse an array this backend has but xpgrad cannot hold (Dask: unknown chunk
    sizes), naming ``what`` (a leaf, or an op that made it). None: every array of the library is accepted."""
    pickles_arrays: bool = False
    """Whether a leaf's array is pickled as it is (Dask: a recipe, pickled lazily in its chunks, as Dask sends
    arrays to its workers; a host copy would compute it, and come back in other chunks). False: as a host NumPy
    copy, its device apart (`device_ref`)."""
    device_spec: Callable[[Any], Any] | None = None
    """A device as users write it (PyTorch's ``"cuda:1"``) made the library's device object, which arrays'
    ``.device`` compare equal to. None: devices are taken as given."""
    device_ref: Callable[[Any], Any] | None = None
    """A picklable name for a device whose object is not picklable (JAX's: ``"cpu:0"``), which `device_spec`
    turns back into the device. None: devices pickle as they are."""
    scatter_add: Callable[[Any, Any, int, int], Any] | None = None
    """``scatter_add(g, indices, n, axis)``: zeros shaped like ``g`` but of length ``n`` along ``axis``, with
    ``g``'s slices along ``axis`` added at ``indices`` (non-negative; repeated ones add up): the adjoint of
    ``take`` (NumPy: ``np.add.at``, PyTorch: ``index_add_``, JAX: ``.at[...].add``). None: the standard's
    functions only, a product with the one-hot matrix of the indices (memory len(indices) * n; `add_at`)."""
    dtype_refusal: Callable[[Any], str | None] | None = None
    """Why a dtype of the namespace cannot be used now (JAX's float64 without x64: arrays would silently
    be float32), else None. Checked where a dtype is named or a host array converted."""
    blocks: Callable[[Any], Any] | None = None
    """An array's blocking, comparable between arrays (Dask: its ``chunks``), for `blockwise`; None: arrays
    are not made of blocks."""
    blockwise: Callable[..., list[Any]] | None = None
    """``blockwise(fn, program, arrays, likes)``: one lazy step calling ``fn(program, *blocks)`` on each block
    of ``arrays`` (one shape and blocking), which returns a tuple of blocks; the arrays of those, one per array
    of ``likes``, whose dtype and kind of blocks each takes (Dask: ``da.blockwise``, ONE task per chunk for a
    region of elementwise ops, see `_compile.compute`). None: no such steps."""
    _fns: dict[Any, Callable[..., Any]] = field(default_factory=dict)
    _into: dict[Any, Any] = field(default_factory=dict)

    def fn(self, op: Any) -> Callable[..., Any]:
        """The array-level function of ``op`` in this namespace, resolved once (performance, issue 5).

        An op whose ``impl`` is a plain namespace call (``xp.add``) gets that function itself, so
        evaluating a node is one call; any other impl gets ``impl`` with ``xp`` bound.
        """
        try:
            return self._fns[op]
        except KeyError:
            name = getattr(op.impl, "namespace_name", None)
            if name is not None and hasattr(self.xp, name):
                f = getattr(self.xp, name)
            else:  # (an impl that needs a backend's hooks takes the Backend itself: `takes_backend`)
                f = partial(op.impl, self if getattr(op.impl, "takes_backend", False) else self.xp)
            if self.check is not None:  # every result checked, naming the op (Dask: unknown chunk sizes)
                f = partial(_checked, f, self.check, f"op {op.name!r}")
            self._fns[op] = f
            return f

    def into(self, op: Any) -> Callable[..., Any] | None:
        """``op``'s ufunc, which accepts ``out=`` (a buffer to write into); None where there is none, or
        where the namespace wraps it (then the wrapper's semantics, e.g. an integer ``ceil``, may differ)."""
        try:
            return self._into[op]
        except KeyError:
            lib, name = self.ufuncs, getattr(op.impl, "namespace_name", None)
            f = getattr(lib, name, None) if lib is not None and name is not None else None
            ok = f is not None and isinstance(f, getattr(lib, "ufunc", ())) and self.fn(op) is f
            self._into[op] = f = f if ok else None
            return f

    def guard(self, value: Any, flag: Any, error: Exception) -> Any:
        """``value``, or ``error`` raised where the 0-d bool array ``flag`` is true: at once, or, on a lazy
        backend (`refuse_if`), when ``value`` is computed (reading ``flag`` now would compute it early)."""
        if self.refuse_if is not None:
            return self.refuse_if(value, flag, error)
        if bool(flag):
            raise error
        return value

    _supported: dict[tuple[type, Any], bool] = field(default_factory=dict)

    def dtype(self, spec: Any) -> Any:
        """Resolve a dtype given as a name ('float32') or as the namespace's dtype object."""
        if spec is None:
            return spec
        if isinstance(spec, str):
            if spec not in _DTYPE_NAMES or not hasattr(self.xp, spec):
                names = sorted(n for n in _DTYPE_NAMES if hasattr(self.xp, n))
                raise ValueError(f"unknown dtype {spec!r} for backend {self.name!r}; use one of {names}")
            return self._usable(getattr(self.xp, spec))
        if not self.supports(spec):
            raise ValueError(
                f"dtype {spec!r} is not a supported dtype of backend {self.name!r}; pass a name such as "
                f"'float32' or one of {self.name}'s own dtype objects"
            )
        return self._usable(spec)

    def _usable(self, dtype: Any) -> Any:
        why = None if self.dtype_refusal is None else self.dtype_refusal(dtype)
        if why is not None:
            raise TypeError(why)
        return dtype

    def device(self, spec: Any) -> Any:
        """The library's device for ``spec`` as a user wrote it (None stays None)."""
        return spec if spec is None or self.device_spec is None else self.device_spec(spec)

    def portable(self, device: Any) -> Any:
        """``device`` as it is pickled (see `device_ref`); `device` turns it back."""
        return device if device is None or self.device_ref is None else self.device_ref(device)

    def index(self, x: Any, key: Any) -> Any:
        """``x[key]`` (basic indexing), through the `getitem` hook where the backend has one."""
        return x[key] if self.getitem is None else self.getitem(x, key)

    def write(self, out: Any, key: Any, value: Any) -> Any:
        """``out`` with ``value`` at ``out[key]``, through the `setitem` hook where the backend has one."""
        if self.setitem is not None:
            return self.setitem(out, key, value)
        out[key] = value
        return out

    def add_at(self, g: Any, indices: Any, n: int, axis: int) -> Any:
        """Zeros of length ``n`` along ``axis`` plus ``g``'s slices added at ``indices`` (see `scatter_add`)."""
        if self.scatter_add is not None:
            return self.scatter_add(g, indices, n, axis)
        return _one_hot_add(self.xp, g, indices, n, axis)

    def readable(self, x: Any) -> bool:
        """Whether ``x``'s values can be read now (see `concrete`)."""
        return self.concrete is None or self.concrete(x)

    def supports(self, dtype: Any) -> bool:
        """Whether ``dtype`` is one of this namespace's bool, integer, real or complex floating dtypes."""
        key = (type(dtype), dtype)  # the type first: dtypes of two libraries never compare
        try:
            return self._supported[key]
        except (KeyError, TypeError):
            pass
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # array-api-strict warns when compared with a foreign dtype
                ok = bool(self.xp.isdtype(dtype, _KINDS))
        except Exception:
            ok = False
        try:
            self._supported[key] = ok
        except TypeError:  # an unhashable dtype-like object
            pass
        return ok

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by name (its namespace module and memos stay behind): loaded as this process's Backend."""
        return named, (self.name,)

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


def _checked(f: Callable[..., Any], check: Callable[[Any, str], None], what: str, *args: Any, **kwargs: Any) -> Any:
    """``f(*args, **kwargs)``, its result refused by ``check`` (`Backend.check`) naming ``what``."""
    out = f(*args, **kwargs)
    check(out, what)
    return out


def _one_hot_add(xp: Any, g: Any, indices: Any, n: int, axis: int) -> Any:
    """`Backend.add_at` with the standard's functions only: the array API has no scatter-add, so a product with
    the one-hot matrix of the indices (exact: each sum has one nonzero term per index; memory len(indices) * n)."""
    import array_api_compat

    positions = xp.arange(n, dtype=indices.dtype, device=array_api_compat.device(g))
    onehot = xp.astype(indices[:, None] == positions[None, :], g.dtype)
    out = xp.matmul(xp.moveaxis(g, axis, -1), onehot)
    return xp.moveaxis(out, -1, axis)


def named(name: str) -> Backend:
    """The Backend of this process that a pickled one names (`xpgrad.backends.backend_named`, registered as `lookup`
    when the registry of backends is imported, which ``import xpgrad`` does before anything is loaded)."""
    return lookup(name)


def _unregistered(name: str) -> Backend:
    raise LookupError(f"backend {name!r}: xpgrad's registry of backends is not imported yet (import xpgrad)")


lookup: Callable[[str], Backend] = _unregistered


_KINDS = ("bool", "integral", "real floating", "complex floating")
_DTYPE_NAMES = frozenset(
    "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 complex64 complex128".split()
)
"""The dtype names a backend may have (float16: NumPy's and CuPy's, not the standard's; a backend without one
refuses its name)."""
