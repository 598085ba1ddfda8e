"""`Tensor`: a node of an expression graph (the seed's design, made iterative and backend-neutral).

A Tensor is a leaf (``op is None``; a placeholder when it has no value yet), an internal constant
(a Python number met in an expression), or the result of an op: ``op`` is its `OpDef` (whose
``impl`` calls the array namespace, e.g. ``xp.multiply``), ``children`` its input Tensors.
Building an op evaluates it at once when every input has a value.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

import array_api_compat

from .._dtypes import dtype_kind, dtype_name
from .._errors import BackendMismatchError, PlaceholderError
from .._shapes import size as _size
from ..backends import Backend, backend_of, get_backend
from . import plugins as _plugins
from .methods import TensorMethods
from .opdef import OPS
from .walk import unfed_placeholders

if TYPE_CHECKING:
    from types import ModuleType

    from .opdef import OpDef

__all__ = ["Tensor", "placeholder", "signature"]

_NUMBER = (bool, int, float, complex)
_RELEASED, _HELD = _plugins.State.RELEASED, _plugins.State.HELD
_NO_PARAMS: dict[str, Any] = {}
serial = itertools.count(1).__next__
"""Each Tensor's creation number (``_n``): a node's children are always older than it, so sorting nodes
by ``_n`` is a topological order (issue 5: `toposort` sorts instead of walking each node twice). The same
clock stamps when a value was set (``_epoch``): a leaf's when it was fed, an op node's when it was computed
(at creation, by `forward`, or again on a merge), a constant's 0. An op node whose children all have older
stamps was computed from their present values; one with a newer child is outdated (`build.current`)."""
changed = [0]
"""The stamp of the latest change of a value that nodes may have been computed from: a feed, a recompute
by `forward` or by a merge, a released value kept again. A node stamped after it is current."""


def devices_differ(a: Any, b: Any) -> bool:
    """Whether devices ``a`` and ``b`` are both known and not the same one (None: not known yet)."""
    return a is not b and a is not None and b is not None and a != b


def fill_slots(
    t: Tensor,
    op: OpDef | None,
    children: tuple[Tensor, ...],
    params: dict[str, Any],
    name: str | None,
    bk: Backend | None,
    device: Any,
    shape: Any,
    dtype: Any,
    target: Any,
    sig: Any,
    level: int,
    const: bool = False,
    value: Any = None,
) -> Tensor:
    """The one place a node's fields are set (`Tensor()` for leaves, `build.const` for constants, `build` for op
    nodes, `function`'s copies): every slot, a new stamp, held (`plugins.State`), no parents yet. Returns ``t``.

    ``bk`` is None for a constant (it takes its arrays' backend); ``sig`` its build-time facts (`signature`, or a
    constant's `build.number_sig`); ``target`` the dtype operands are cast to first (None: none)."""
    t.op, t.children, t.params, t.name, t._value = op, children, params, name, value
    t._bk = bk  # type: ignore[assignment]  # (None only for a constant, which no backend code reads)
    t._device, t._shape, t._dtype, t._target, t._sig = device, shape, dtype, target, sig
    t._level, t._const, t._ph = level, const, False
    t._n = serial()
    t._epoch = 0 if const else t._n  # (a constant never changes: older than any node)
    t._remat, t._users = _HELD, None
    return t


def restamp(t: Tensor) -> None:
    """``t``'s value changed (fed, or recomputed and kept): the nodes computed from it before are outdated.
    Always on a recompute that is kept, even where ``t``'s operands look unchanged (a value kept while a leaf
    was fed without ``forward()``, read by a gradient, then released, recomputes to another value)."""
    t._epoch = changed[0] = serial()


class Tensor(TensorMethods):
    """A node of an xpgrad graph.

    Arguments:
        value: a Python number, a nested list, or an array of a supported backend (whose backend
            is then inferred). ``None`` (the default) makes a placeholder, to be fed later with
            ``t.value = ...``: of unknown shape and dtype unless declared below (`placeholder` declares
            them). Ops build on it at once, as graphs are built before values exist (``Tensor(None) + 1``);
            their ``value`` is None until it is fed and ``forward()`` is called. Calling ``forward()`` or
            reading a number or array (``numpy()``, ``float()``...) before raises `PlaceholderError`,
            naming the unfed placeholders.
        backend: 'numpy', 'cupy', 'array_api_strict', 'torch', 'jax', 'auto', or a namespace module. Default:
            the array's own backend, else `xpgrad.default_backend()`.
        name: shown when printing graphs.
        dtype: an optional declaration (a placeholder's contract for feeding), as ``shape`` and ``device``.
        device: the device of the value (default: the array's own, else the backend's default).
        shape: a placeholder's declared shape (``None`` for a free dimension).

    Example:
        >>> x, y = Tensor(3), Tensor(5)
        >>> print((x + y) * y)
        T:40
    """

    __slots__ = (
        "__weakref__",
        "_bk",
        "_const",
        "_device",
        "_dtype",
        "_epoch",
        "_level",
        "_n",
        "_ph",
        "_remat",
        "_shape",
        "_sig",
        "_target",
        "_users",
        "_value",
        "children",
        "name",
        "op",
        "params",
    )  # fmt: skip
    op: OpDef | None
    children: tuple[Tensor, ...]
    params: dict[str, Any]
    name: str | None
    _value: Any
    _bk: Backend  # (None for a constant: it takes its arrays' backend)
    _device: Any
    _shape: Any
    _dtype: Any
    _target: Any
    _sig: Any
    _level: int
    _const: bool
    _ph: bool
    _n: int
    _epoch: int
    _remat: _plugins.State
    _users: Any

    def __init__(
        self,
        value: Any = None,
        backend: str | ModuleType | Backend | None = None,
        name: str | None = None,
        *,
        dtype: Any = None,
        device: Any = None,
        shape: tuple[int | None, ...] | None = None,
    ) -> None:
        if isinstance(value, Tensor):
            raise TypeError("Tensor(value): got a Tensor; use it directly, or t.to(backend) to move it")
        owner = backend_of(value) if value is not None else None
        bk = get_backend(backend) if backend is not None or owner is None else owner
        declared = bk.dtype(dtype)
        fill_slots(
            self, None, (), _NO_PARAMS, name, bk, bk.device(device), _declared_shape(shape), declared, None, None, 0
        )
        self._ph = value is None
        if value is not None:
            arr = self._coerce(value, owner)
            dev = self._check_feed(arr)  # before the array's own dtype, shape and device replace the declared ones
            self._shape = tuple(arr.shape) if shape is None else self._shape
            self._dtype = arr.dtype
            self._device = dev
            self._value = arr
        self._sig = signature(bk, self._device, self._shape, self._dtype)

    # ----------------------------------------------------------------- value and feeding
    def _peek(self) -> Any:
        """`value` without keeping a recomputed one: the reads of evaluation itself (releasing is for them)."""
        return self._read(False)

    def _read(self, keep: bool) -> Any:
        v = self._value
        if v is None and self._remat:  # released, or kept again by another thread since the read above
            if self._remat >= _RELEASED:  # released or freed: recomputed
                release = _plugins.release
                return release.keep(self) if keep else release.recompute(self)
            return self._value
        return v

    @property
    def value(self) -> Any:
        """The backend array (None while a placeholder it depends on is unfed).

        A large intermediate whose value was released or freed (see `_opt.release`, `_opt.large_gradients`) is
        recomputed here and kept from then on: the user holds it, as a PyTorch user holds a tensor, and
        reading it again costs nothing (it cost the whole released chain below it at every read)."""
        v = self._value
        return v if v is not None else self._read(True)

    @value.setter
    def value(self, v: Any) -> None:
        if self.op is not None or self._const:
            raise AttributeError(
                f"cannot set the value of {self._label()}: it is computed from its inputs; set a leaf's "
                "or placeholder's value and call forward()"
            )
        if v is None:
            self._value = None
            restamp(self)
            return
        owner = backend_of(v)
        if owner is not None and owner is not self._bk:
            raise BackendMismatchError(
                f"{self._label()} is on backend {self._bk.name!r} but was fed a {owner.name} array; "
                f"feed a {self._bk.name} array (move it with xpgrad.Tensor(a).to({self._bk.name!r}).value)"
            )
        arr = self._coerce(v, owner)
        self._check_feed(arr)
        self._value = arr
        restamp(self)  # nodes computed before are outdated (`build.current`)

    def _coerce(self, v: Any, owner: Backend | None) -> Any:
        bk = self._bk
        if owner is bk:
            return v
        if owner is not None:
            return bk.from_numpy(owner.to_numpy(v), self._device)
        if isinstance(v, Tensor):
            raise TypeError(f"{self._label()}: fed a Tensor; feed its array (t.value) instead")
        try:
            if self._dtype is not None:  # Python values: refuse a cast that would truncate (1.5 -> 1)
                self._check_kind(bk.xp.asarray(v, device=self._device).dtype)
            arr = bk.xp.asarray(v, dtype=self._dtype, device=self._device)
            if not bk.supports(arr.dtype):  # (an object array: say why, where Tensors are the reason)
                refuse_tensors_in(v, self._label())
            return arr
        except TypeError as e:
            if str(e).startswith(self._label()):
                raise
            raise TypeError(
                f"{self._label()}: cannot make a {bk.name} array from {type(v).__name__} {v!r:.60}: {e}"
            ) from e
        except Exception as e:
            refuse_tensors_in(v, self._label())  # (NumPy reads a Tensor as a sequence: say so where Tensors are why)
            raise TypeError(
                f"{self._label()}: cannot make a {bk.name} array from {type(v).__name__} {v!r:.60}: {e}"
            ) from e

    def _check_kind(self, got: Any) -> None:
        xp = self._bk.xp
        if self._bk.supports(got) and dtype_kind(xp, got) > dtype_kind(xp, self._dtype):
            raise TypeError(
                f"{self._label()} {self._declared()} dtype {dtype_name(xp, self._dtype)} but was fed "
                f"{dtype_name(xp, got)} values; converting would truncate them. Feed values of that dtype"
            )

    def _check_feed(self, arr: Any) -> Any:
        """Refuse an array this leaf or placeholder cannot hold; return its (canonical) device."""
        if not self._bk.supports(arr.dtype):
            raise TypeError(
                f"{self._label()}: unsupported dtype {arr.dtype}; xpgrad handles the array API's bool, integer, real "
                "and complex floating dtypes (pass numbers, or cast the array)"
            )
        if self._dtype is not None and arr.dtype != self._dtype:
            xp = self._bk.xp
            raise TypeError(
                f"{self._label()} {self._declared()} dtype {dtype_name(xp, self._dtype)} but was fed "
                f"{dtype_name(xp, arr.dtype)}; cast the array (xp.astype) or declare another dtype"
            )
        if self._bk.check is not None:  # (Dask: unknown chunk sizes)
            self._bk.check(arr, self._label())
        self._check_shape(arr)
        dev = _device_of(arr)
        if self._device is not None and dev != self._device:
            raise BackendMismatchError(f"{self._label()} lives on device {self._device} but was fed an array on {dev}")
        return dev

    def _check_shape(self, arr: Any) -> None:
        shape = self._shape
        if shape is not None and (
            len(shape) != len(arr.shape) or any(d is not None and d != a for d, a in zip(shape, arr.shape, strict=True))
        ):
            raise ValueError(
                f"{self._label()} {self._declared()} shape {shape} but was fed shape {tuple(arr.shape)}; feed that "
                "shape, or use xpgrad.placeholder(shape=(None, ...)) for a size that varies"
            )

    def _dtype_label(self) -> str:
        """The dtype's standard name ('float64'; a declared dtype is the backend's class), '?' when unknown."""
        if self._dtype is None or self._bk is None:
            return "?"
        return dtype_name(self._bk.xp, self._dtype)

    def _declared(self) -> str:
        """How this leaf got the facts a feed is checked against: declared (a placeholder) or its first array."""
        return "is declared with" if self._ph else "was built with"

    def _label(self) -> str:
        if self.op is not None:
            return f"op node {self.op.name}" + (f" {self.name!r}" if self.name else "")
        kind = "placeholder" if self._ph else "leaf"
        return f"{kind} {self.name!r}" if self.name else kind

    # ----------------------------------------------------------------- array-like properties
    @property
    def backend(self) -> str | None:
        """Name of the backend ('numpy', 'cupy', ...); None for an internal Python-number constant."""
        return None if self._bk is None else self._bk.name

    @property
    def shape(self) -> tuple[int | None, ...] | None:
        v = self._value
        return self._shape if v is None or self._const else tuple(v.shape)

    @property
    def dtype(self) -> Any:
        v = self._value
        return self._dtype if v is None or self._const else v.dtype

    @property
    def device(self) -> Any:
        """The array's own device object when there is a value (CuPy makes a new one each time, and a
        ``with device:`` block keeps its state on the object: one shared between threads would mix them),
        else the declared one. xpgrad compares and memoizes devices by `canonical_device`."""
        v = self._value
        if v is not None:
            return array_api_compat.device(v)
        return self._device

    @property
    def ndim(self) -> int | None:
        s = self.shape
        return None if s is None else len(s)

    @property
    def size(self) -> int | None:
        return _size(self.shape)

    @property
    def mT(self) -> Tensor:
        """The transpose of the last two axes (``xpgrad.matrix_transpose``), as the standard's ``x.mT``."""
        return _plugins.above.apply(OPS["matrix_transpose"], self)

    @property
    def T(self) -> Tensor:
        """The transpose of a 2-d Tensor (a 0-d or 1-d one as it is, as NumPy's ``.T``); the standard defines
        ``.T`` for 2-d arrays only: for more dimensions use ``.mT`` or ``xpgrad.permute_dims``."""
        s = self.shape
        if s is not None and len(s) < 2:
            return self
        if s is None or len(s) > 2:
            what = "of unknown shape" if s is None else f"of shape {s}"
            raise ValueError(
                f"t.T: defined for 2-d Tensors (the array API standard); this one is {what}. Use t.mT to swap "
                "the last two axes, or xpgrad.permute_dims(t, axes) (NumPy's .T reverses every axis)"
            )
        return _plugins.above.apply(OPS["matrix_transpose"], self)

    def __len__(self) -> int:
        """The size of the first axis, as ``len`` of an array (a TypeError for a 0-d Tensor, as NumPy's)."""
        s = self.shape
        if s == ():
            raise TypeError("len() of a 0-d Tensor (as of a 0-d NumPy array); it has no first axis")
        if s is None or s[0] is None:
            raise TypeError(f"len() of a Tensor of unknown first dimension (shape {s}); feed its placeholders first")
        return int(s[0])

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """NumPy's functions on Tensors: those with an xpgrad equivalent build its graph (``np.dot(x, y)`` is
        ``x @ y``); every other raises a TypeError naming the function and what to use instead, never computing
        on the value cut from the graph (see `xpgrad._api.numpy_protocol`)."""
        return _plugins.above.array_function(func, types, args, kwargs)

    def __array_namespace__(self, /, *, api_version: str | None = None) -> ModuleType:
        """xpgrad's array-API namespace for this Tensor's backend (see `xpgrad.namespace`)."""
        return _plugins.above.namespace(self._bk, api_version=api_version)

    # Python conversions need a value: a Tensor that depends on an unfed placeholder raises PlaceholderError
    def __bool__(self) -> bool:
        return bool(self._require())

    def __int__(self) -> int:
        return int(self._require())

    def __float__(self) -> float:
        return float(self._require())

    def __complex__(self) -> complex:
        return complex(self._require())

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"``: a format spec formats a 0-d Tensor's number, as for a PyTorch tensor."""
        if not spec:
            return str(self)
        v = self._require()
        if tuple(v.shape) != ():
            raise TypeError(
                f"format spec {spec!r} of a Tensor of shape {tuple(v.shape)}: only a 0-d Tensor formats as a "
                "number; format its elements (t.numpy()) or reduce it first"
            )
        return format(self.item(), spec)

    def __round__(self, ndigits: int | None = None) -> Any:
        """``round(t)``, ``round(t, 4)``: the number of a one-element Tensor, rounded (as for a float)."""
        return round(self.item(), ndigits)

    def tolist(self) -> Any:
        """The value as nested Python lists (a number for a 0-d Tensor), as ``ndarray.tolist``."""
        return self.numpy().tolist()

    def __index__(self) -> int:
        v = self._require()
        index = getattr(v, "__index__", None)
        if index is not None:
            return index()
        # CuPy arrays have no __index__; the array API gives one to 0-d integer arrays
        if v.ndim != 0 or not self._bk.xp.isdtype(v.dtype, "integral"):
            raise TypeError(
                f"only a 0-d integer Tensor can be used as an index; this one has shape {tuple(v.shape)} "
                f"and dtype {v.dtype}"
            )
        return int(v)

    @property
    def is_placeholder(self) -> bool:
        return self._ph

    # ----------------------------------------------------------------- evaluation
    def forward(self) -> Tensor:
        """Re-evaluate the graph below this Tensor from its leaves' current values; returns self.

        Raises `PlaceholderError`, naming them, where the graph depends on placeholders not fed yet (nothing is
        recomputed then)."""
        _plugins.above.forward([self])
        return self

    def numpy(self) -> Any:
        """The value as a host NumPy array, whatever the backend."""
        return self._bk.to_numpy(self._require())

    def item(self) -> Any:
        """The value of a one-element Tensor as a Python number."""
        v = self._require()
        if _size(tuple(v.shape)) != 1:
            raise TypeError(f"item() needs a Tensor with one element; this one has shape {tuple(v.shape)}")
        return self._bk.to_numpy(v).reshape(()).item()

    def _require(self) -> Any:
        v = self._peek()  # (recomputed if released; read once: another thread may release it meanwhile)
        if v is None:
            missing = unfed_placeholders(self)
            names = ", ".join(p._label() for p in missing[:5]) or "(none: call forward())"
            raise PlaceholderError(
                f"{self._label()} has no value: it depends on unfed {names}; set p.value = array, "
                "then call forward() on this Tensor"
            )
        return v

    # ----------------------------------------------------------------- gradients
    def grad(self, wrt: Tensor, *, holomorphic: bool = False) -> Tensor:
        """The gradient of ``sum(self)`` with respect to ``wrt``: a new graph of Tensors shaped like ``wrt``.
        ``holomorphic=True``: the complex derivative of a holomorphic ``self`` (see `xpgrad.grad`)."""
        if not isinstance(wrt, Tensor):
            raise TypeError(
                f"Tensor.grad(wrt) takes one Tensor, got {type(wrt).__name__}; for several use "
                "xpgrad.grad(t, [a, b, ...]), which returns one gradient each from a single sweep"
            )
        if holomorphic:
            return _plugins.above.grad(self, [wrt], holomorphic=True)[0]
        return _plugins.above.grad(self, [wrt])[0]

    # ----------------------------------------------------------------- conversions
    def to(self, backend: str | ModuleType | Backend, device: Any = None) -> Tensor:
        """This Tensor on another backend (and/or device); differentiable, gradients flow back."""
        _check_device("to", device)
        bk = get_backend(backend)
        return _plugins.above.apply(OPS["to"], self, backend=bk, device=bk.device(device))

    def to_device(self, device: Any, /, *, stream: Any = None) -> Tensor:
        _check_device("to_device", device)
        return _plugins.above.apply(OPS["to"], self, backend=self._bk, device=self._bk.device(device))

    # ----------------------------------------------------------------- printing
    def expr(self) -> str:
        """This graph as infix text, e.g. ``(x + y) * y`` (shared parts let-bound; see `xpgrad._views.infix`)."""
        return _plugins.above.expr(self)

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a Tensor as the picture of its graph (plain text when Graphviz is missing)."""
        return _plugins.above.svg(self)

    def __str__(self) -> str:
        return f"T:{self.value}"

    def __repr__(self) -> str:
        head = (
            "const"
            if self._const
            else "placeholder"
            if self.is_placeholder
            else "leaf"
            if self.op is None
            else self.op.name
        )
        if self.name:
            head += f" {self.name!r}"
        if self._const:
            return f"Tensor({head} {self._value!r})"
        return (
            f"Tensor({head}, shape={self.shape}, dtype={self._dtype_label()}, backend={self.backend!r}, "
            f"value={_short(self._peek())})"  # (transient: a debugger's or an error message's read)
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickling (multiprocessing, Dask, ``copy.deepcopy``): the graph below, as recipes rebuilt through the
        normal build path; backends by name, leaf values as arrays (see `xpgrad._core.pickling`)."""
        return _plugins.above.reduce(self)

    __hash__ = object.__hash__
    # A NumPy or CuPy array on the left of an operator defers to the Tensor's reflected method.
    # (array-api-strict arrays refuse foreign operands outright: put the Tensor on the left.)
    __array_ufunc__ = None
    __array_priority__ = 1000


def _check_device(what: str, device: Any) -> None:
    """Refuse a Tensor or an array where a device is expected (the backend failed at evaluation, naming
    another op or none)."""
    if isinstance(device, Tensor) or (hasattr(device, "shape") and hasattr(device, "dtype")):
        raise TypeError(
            f"{what}: expected a device, got a {type(device).__name__}; pass its .device to move next to it, "
            "e.g. t.to_device(other.device)"
        )


def refuse_tensors_in(v: Any, what: str) -> None:
    """A list or tuple holding Tensors cannot become an array (``xpgrad.stack`` joins them; NumPy makes an
    object array of them, or, for a library that reads their values, a constant cut from their graphs): say
    so, naming ``what``, where a conversion failed. (Level by level, any depth; the types of a level's items
    gathered in C.)"""
    level = [v] if type(v) in _SEQUENCES else []
    while level:
        deeper: list[Any] = []
        for seq in level:
            kinds = set(map(type, seq))
            if any(issubclass(k, Tensor) for k in kinds):
                raise TypeError(
                    f"{what}: a list holding Tensors cannot become an array; join Tensors with xpgrad.stack or "
                    "xpgrad.concat (differentiable), or pass t.value to mean a constant"
                )
            if not kinds.isdisjoint(_SEQUENCES):
                deeper.extend(item for item in seq if type(item) in _SEQUENCES)
        level = deeper


_SEQUENCES = frozenset((list, tuple))


def placeholder(
    shape: tuple[int | None, ...] | None = None,
    dtype: Any = None,
    backend: str | ModuleType | Backend | None = None,
    name: str | None = None,
    device: Any = None,
) -> Tensor:
    """A Tensor with no value yet. Feed it with ``p.value = array`` and call ``out.forward()``.

    ``shape`` may contain None for a dimension that varies between feeds.
    """
    return Tensor(None, backend=backend, name=name, dtype=dtype, device=device, shape=shape)


SIGNATURES = 1 << 14
"""The most facts `_signatures` holds: once full it starts again, numbering on, so that a signature is never
given to other facts (the memos keyed by signatures stay right; nodes made before keep theirs). The memos
keyed by signature alone (`_opt.release._big`, `sweep`'s sets) hold at most this many entries too."""
_signatures: dict[tuple[Any, ...], int] = {}
_numbering = itertools.count()  # (`next` is atomic: two threads never get one number)


def signature(bk: Backend, device: Any, shape: Any, dtype: Any) -> int | None:
    """A small int naming the static facts (backend, device, shape, dtype) of an array Tensor.

    Performance (issue 5): `apply` memoizes its build-time decisions on the op and its operands'
    signatures, so a lookup hashes two ints instead of four objects each. The device enters as the
    identity of its canonical object (`canonical_device`): CuPy makes a new ``Device`` for every
    ``array.device``. None: unhashable facts (then nothing is memoized).
    """
    key = (bk, id(canonical_device(device)), shape, dtype)
    try:
        return _signatures[key]
    except KeyError:
        if len(_signatures) >= SIGNATURES:
            _signatures.clear()
        n = _signatures[key] = next(_numbering)
        return n
    except TypeError:
        return None


_devices: dict[tuple[type, Any], Any] = {}  # hashable devices, by (type, device): one object each
_unhashable: list[Any] = []  # the others (CuPy's Device); both kept alive, so their ids stay unique
_devices_lock = threading.Lock()


def canonical_device(device: Any) -> Any:
    """The first object met that equals ``device`` (itself if it is the first).

    Libraries may make a new device object on every ``array.device`` (CuPy does), equal to the others
    but hashed by identity or not at all; signatures and memos key on the canonical one, so equal
    devices share their decisions and the tables do not grow with every array. Devices with a hash
    that agrees with ``==`` are looked up in a dict (constant time however many devices were met); the
    others (unhashable, or equal by value but hashed by identity) are compared with those met before.
    Devices of different types are never merged, nor devices whose ``==`` raises or answers something
    other than a bool.
    """
    t = type(device)
    try:
        return _devices[(t, device)]
    except Exception:  # not met yet; or unhashable, or an == that raises or is not a truth value
        pass
    if t.__hash__ is not None and (t.__hash__ is not object.__hash__ or t.__eq__ is object.__eq__):
        try:  # a hash that agrees with ==
            with _devices_lock:
                return _devices.setdefault((t, device), device)
        except Exception:
            pass
    for d in _unhashable:
        if d is device:
            return d
    with _devices_lock:
        for d in _unhashable:
            if d is device or (type(d) is type(device) and _equal(d, device)):
                return d
        _unhashable.append(device)
    return device


def _equal(a: Any, b: Any) -> bool:
    try:
        eq = a == b
    except Exception:
        return False
    if eq is True or eq is False:
        return eq
    if getattr(eq, "shape", None) != ():  # NotImplemented, an array...: not an answer
        return False
    try:
        return bool(eq)  # a NumPy bool
    except Exception:
        return False


def _declared_shape(shape: Any) -> tuple[int | None, ...] | None:
    if shape is None:
        return None
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 0) for d in dims):
        raise ValueError(
            f"shape {shape!r} is not a valid shape; use a tuple of non-negative ints, with None for a size "
            "that varies between feeds"
        )
    return dims


def _device_of(arr: Any) -> Any:
    return canonical_device(array_api_compat.device(arr))


def _short(v: Any) -> str:
    if v is None:
        return "None"
    s = str(v).replace("\n", " ")
    return s if len(s) <= 60 else s[:57] + "..."
