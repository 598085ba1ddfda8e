"""The dtype policy, in one place.

- Same kind: the namespace's own ``result_type`` (the standard's promotion table).
- Mixed kinds (bool < integer < real floating < complex), e.g. int64 array * float32 array: the
  operand of the higher kind wins (float32), as in PyTorch and JAX. The standard leaves this
  undefined and array-api-strict rejects it, so xpgrad casts explicitly.
- Python scalars are weak: they take the array's dtype when their kind fits (float32 * 0.5 stays
  float32), a complex number with a real floating array the complex dtype of its precision (float32 * 1j
  is complex64, as in NumPy 2 and the standard), else the namespace's default dtype of their kind (int
  array * 0.5 -> default float).
- Ops whose domain is 'floating' or 'real_floating' promote bool and integer inputs to the default floating
  dtype. The domains follow the standard's: 'real' and 'real_floating' functions (floor, maximum, atan2,
  var...) refuse complex inputs when the node is built, as array-api-strict does (NumPy's own errors
  named no op, or it ordered complex numbers lexicographically where other backends refuse).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._core.opdef import OpDef
    from .backends import Backend

__all__ = [
    "BOOL",
    "COMPLEX",
    "FLOAT",
    "INT",
    "check_ints",
    "dtype_kind",
    "dtype_name",
    "promote",
    "resolve",
    "scalar_kind",
]

BOOL, INT, FLOAT, COMPLEX = 0, 1, 2, 3
_KIND_NAMES = ("bool", "integer", "real floating", "complex floating")
_kinds: dict[tuple[type, Any], int] = {}

_ACCEPTS = {
    "numeric": frozenset((INT, FLOAT, COMPLEX)),
    "floating": frozenset((BOOL, INT, FLOAT, COMPLEX)),  # promoted to floating first
    "real": frozenset((INT, FLOAT)),
    "real_floating": frozenset((BOOL, INT, FLOAT)),  # promoted to floating first
    "integer": frozenset((INT,)),
    "integer_or_bool": frozenset((BOOL, INT)),
    "bool": frozenset((BOOL,)),
    "any": frozenset((BOOL, INT, FLOAT, COMPLEX)),
}


def dtype_kind(xp: Any, dt: Any) -> int:
    key = (type(dt), dt)  # the type first: dtypes of two libraries never compare
    k = _kinds.get(key)
    if k is None:
        names = ("bool", "integral", "real floating", "complex floating")
        k = next((i for i, name in enumerate(names) if xp.isdtype(dt, name)), None)
        if k is None:  # pragma: no cover - every standard dtype has a kind
            raise TypeError(f"unsupported dtype {dt!r}")
        _kinds[key] = k
    return k


_NAMES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
)
_names: dict[tuple[type, Any], str] = {}


def dtype_name(xp: Any, dt: Any) -> str:
    """The standard's name of ``dt`` ('float32'), for messages and for moving between backends."""
    key = (type(dt), dt)
    n = _names.get(key)
    if n is None:
        # (a name the namespace lacks is skipped: NumPy's dtypes compare equal to None, as float64)
        n = next((n for n in _NAMES if (d := getattr(xp, n, None)) is not None and d == dt), str(dt))
        _names[key] = n
    return n


def scalar_kind(v: Any) -> int:
    return BOOL if isinstance(v, bool) else INT if isinstance(v, int) else FLOAT if isinstance(v, float) else COMPLEX


def _default(bk: Backend, kind: int, device: Any) -> Any:
    info = bk.xp.__array_namespace_info__().default_dtypes(device=device)
    return {INT: info["integral"], FLOAT: info["real floating"], COMPLEX: info["complex floating"]}.get(
        kind, bk.xp.bool
    )


_memo: dict[Any, tuple[Any, Any]] = {}


def resolve(bk: Backend, op: OpDef, dtypes: list[Any], scalars: list[Any], device: Any) -> tuple[Any, Any]:
    """(operand dtype, result dtype) of ``op`` on arrays of ``dtypes`` and weak Python ``scalars``.

    Raises a TypeError naming the op when a dtype is outside its domain. Memoized: the answer
    depends only on the backend, the op, the dtypes, the scalars' kinds and the device.
    """
    try:
        key = (bk.name, op.name, device, *dtypes, *map(scalar_kind, scalars))
        return _memo[key]
    except KeyError:
        _memo[key] = found = _resolve(bk, op, dtypes, scalars, device)
        return found
    except TypeError:  # an unhashable device
        return _resolve(bk, op, dtypes, scalars, device)


def promote(bk: Backend, dtypes: list[Any], scalars: list[Any], device: Any) -> tuple[Any, int]:
    """(dtype, kind) that arrays of ``dtypes`` and weak Python ``scalars`` promote to, by the policy above
    (dtype None: no array and no scalar). What every op computes in, and the namespace's ``result_type``."""
    xp = bk.xp
    kinds = [dtype_kind(xp, d) for d in dtypes]
    top = max(kinds, default=-1)  # no array operand (where(c, 1.0, 0.0)): the scalars decide below
    if not dtypes:
        target = None
    elif all(k == top for k in kinds):
        target = dtypes[0] if len(dtypes) == 1 or all(d == dtypes[0] for d in dtypes) else xp.result_type(*dtypes)
    else:
        target = xp.result_type(*[d for d, k in zip(dtypes, kinds, strict=True) if k == top])
    skind = max(map(scalar_kind, scalars), default=-1)
    if skind > top:
        if skind == COMPLEX and top == FLOAT:  # float32 * 1j is complex64 (NumPy 2, the standard): the precision stays
            target = xp.complex64 if target == xp.float32 else xp.complex128
        else:
            target = _default(bk, skind, device)
        top = skind
    return target, top


def check_ints(bk: Backend, op: OpDef, dtype: Any, scalars: list[Any]) -> None:
    """Refuse a Python int among ``scalars`` that ``op`` would convert to the integer ``dtype`` but that does not fit
    it (NumPy raised a bare OverflowError, or compared it exactly; array-api-strict refused it): integer arithmetic
    wraps around, as NumPy's does, but a number is never silently changed on the way in."""
    xp = bk.xp
    if dtype is None or dtype_kind(xp, dtype) != INT:
        return
    for v in scalars:
        if type(v) is int:
            info = xp.iinfo(dtype)
            if not info.min <= v <= info.max:
                name = dtype_name(xp, dtype)
                raise OverflowError(
                    f"{op.name}: the Python integer {v} does not fit the {name} operand (range {info.min} to "
                    f"{info.max}); cast the array to a wider integer or a floating dtype first (xpgrad.astype(x, "
                    f"'float64')), or pass a number in range"
                )


def _resolve(bk: Backend, op: OpDef, dtypes: list[Any], scalars: list[Any], device: Any) -> tuple[Any, Any]:
    xp = bk.xp
    target, top = promote(bk, dtypes, scalars, device)
    kinds = [dtype_kind(xp, d) for d in dtypes]
    skind = max(map(scalar_kind, scalars), default=-1)
    if top < FLOAT and (op.domain == "floating" or op.domain == "real_floating"):
        top = FLOAT
        target = _default(bk, FLOAT, device)
    accepted = _ACCEPTS[op.domain]
    if top not in accepted or (op.domain == "numeric" and max(kinds, default=BOOL) == BOOL and skind <= BOOL):
        got = ", ".join(dtype_name(xp, d) for d in dtypes) + (
            f" and Python {type(scalars[0]).__name__}" if scalars else ""
        )
        want = " or ".join(_KIND_NAMES[k] for k in sorted(accepted))
        fix = (
            "Take the real or imaginary part first (xpgrad.real, xpgrad.imag)"
            if top == COMPLEX
            else "Cast first, e.g. with xpgrad.astype"
        )
        raise TypeError(f"{op.name}: only {want} dtypes are allowed; got {got}. {fix}")
    if op.result == "bool":
        return target, xp.bool
    if op.result == "real" and top == COMPLEX:  # abs, real, imag: complex64 -> float32, complex128 -> float64
        return target, xp.float32 if target == xp.complex64 else xp.float64
    return target, target
