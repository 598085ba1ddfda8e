"""Building graph nodes: the one function every op goes through.

`apply(op, *args, **params)` turns operands into Tensors, checks that they share a backend and a
device, infers the static shape and dtype (raising at build time, naming the op), lets the op's
rewrites return an existing node instead of a new one, and evaluates the node at once when every
input has a value (the seed's eager forward).
"""

from __future__ import annotations

from typing import Any

from . import _dtypes, _shapes
from ._errors import BackendMismatchError
from ._ops import OpDef
from ._tensor import _NO_PARAMS, _NUMBER, Tensor
from .backends import Backend, backend_of, get_backend

__all__ = ["apply", "const", "evaluate", "derivative_level"]

_RUNTIME: Any = object()  # node._target when dtypes are only known once placeholders are fed
_level = [0]


class derivative_level:
    """Context manager: nodes built inside belong to the gradient graph of order ``n``."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        self.prev = _level[0]
        _level[0] = self.n

    def __exit__(self, *exc: object) -> None:
        _level[0] = self.prev


def const(v: Any) -> Tensor:
    """An internal constant: a Python number that takes its dtype and device from the arrays it meets."""
    t = object.__new__(Tensor)
    t._value, t.op, t.children, t.params, t._bk, t.name = v, None, (), _NO_PARAMS, None, None
    t._shape, t._dtype, t._device, t._target, t._level, t._const, t._ph = (), None, None, None, 0, True, False
    return t


def _operand(op: OpDef, a: Any) -> Tensor:
    if isinstance(a, Tensor):
        return a
    if isinstance(a, _NUMBER):  # a subclass (numpy.float64) becomes the plain number the backend accepts
        return const(a if type(a) in _NUMBER else next(t for t in _NUMBER if isinstance(a, t))(a))
    if backend_of(a) is not None:
        return Tensor(a)
    raise TypeError(
        f"{op.name}: cannot use {type(a).__name__} {a!r:.40} as an operand; pass a Tensor, a Python number, "
        "or an array of a supported backend (wrap lists with xpgrad.asarray)"
    )


def apply(op: OpDef, *args: Any, **params: Any) -> Tensor:
    """Build (and, when possible, evaluate) the node ``op(*args, **params)``."""
    if len(args) != op.arity:
        raise TypeError(f"{op.name}() takes {op.arity} array argument(s) but {len(args)} were given")
    if params:
        unknown = params.keys() - op.params.keys()
        if unknown:
            raise TypeError(f"{op.name}() got unexpected keyword(s) {sorted(unknown)}; it accepts {sorted(op.params)}")
        params = {**op.params, **params}
    else:
        params = op.params
    children = [_operand(op, a) for a in args]
    bk: Backend | None = None
    dev = None
    for c in children:
        if c._const:
            continue
        if bk is None:
            bk, dev = c._bk, c._device
        elif c._bk is not bk:
            raise BackendMismatchError(
                f"{op.name}: operands live on different backends ({bk.name!r} and {c._bk.name!r}); "
                f"move one first, e.g. t.to({bk.name!r})"
            )
        elif c._device is not None and dev is not None and c._device != dev:
            raise BackendMismatchError(
                f"{op.name}: operands live on different devices ({dev} and {c._device}) of backend "
                f"{bk.name!r}; move one first with t.to_device(device)"
            )
        elif dev is None:
            dev = c._device
    if bk is None:  # only Python numbers: fold, or make arrays on the default backend
        if op.fold is not None:
            try:
                return const(op.fold(*(c._value for c in children), **params))
            except (ArithmeticError, ValueError, TypeError):
                pass
        bk = get_backend(None)
        children = [Tensor(c._value, backend=bk) for c in children]
        dev = children[0]._device if children else None
    children = _weak_bools(op, bk, children)
    if op.simplify is not None:
        found = op.simplify(*children, **params)
        if found is not None:
            return found

    node = object.__new__(Tensor)
    node.op, node.children, node.params, node.name = op, tuple(children), params, None
    node._level, node._const, node._ph, node._value = _level[0], False, False, None
    if op.moves:  # `to`: the output lives where the params say
        bk, dev = params["backend"], params["device"]
    node._bk, node._device = bk, dev
    node._shape = (
        op.shape(op.name, *children, **params)
        if op.shape
        else _shapes.broadcast(op.name, *(c._shape for c in children))
    )
    _static_dtype(node)
    if all(c._value is not None for c in children):
        node._value = evaluate(node)
        if dev is None:
            from ._tensor import _device_of

            node._device = _device_of(node._value)
    return node


def _weak_bools(op: OpDef, bk: Backend, children: list[Tensor]) -> list[Tensor]:
    """A Python bool met with numeric arrays becomes 0 or 1 (array-api-strict refuses to promote it)."""
    if not any(children[i]._const and type(children[i]._value) is bool for i in op.promote):
        return children
    if not any(not c._const and c._dtype is not None and not bk.xp.isdtype(c._dtype, "bool") for c in children):
        return children
    return [
        const(int(c._value)) if i in op.promote and c._const and type(c._value) is bool else c
        for i, c in enumerate(children)
    ]


def _static_dtype(node: Tensor) -> None:
    op = node.op
    cs = node.children
    if op.dtype is not None:  # ops with their own rule (reductions, shape references, moves)
        node._target, node._dtype = None, op.dtype(*cs, **node.params)
        return
    idx = op.promote
    dts = [cs[i]._dtype for i in idx if not cs[i]._const]
    if any(d is None for d in dts):
        node._target, node._dtype = _RUNTIME, None
        return
    scalars = [cs[i]._value for i in idx if cs[i]._const]
    target, out = _dtypes.resolve(node._bk, op, dts, scalars, node._device)
    node._dtype = out
    node._target = None if all(d == target for d in dts) else target


def evaluate(node: Tensor) -> Any:
    """The value of ``node`` from its children's values (which must all be set)."""
    op = node.op
    xp = node._bk.xp
    vals = [c._value for c in node.children]
    target = node._target
    if target is not None:
        idx = op.promote
        if target is _RUNTIME:
            dts = [vals[i].dtype for i in idx if not node.children[i]._const]
            scalars = [vals[i] for i in idx if node.children[i]._const]
            target = _dtypes.resolve(node._bk, op, dts, scalars, node._device)[0]
        for i in idx:
            v = vals[i]
            if not node.children[i]._const and v.dtype != target:
                vals[i] = xp.astype(v, target)
    try:
        return op.impl(xp, *vals, **node.params)
    except Exception as e:
        shapes = ", ".join(
            repr(v) if node.children[i]._const else f"{tuple(v.shape)} {v.dtype}" for i, v in enumerate(vals)
        )
        if hasattr(e, "add_note"):  # Python 3.11+
            e.add_note(f"while evaluating xpgrad op {op.name!r} on {node._bk.name} operands: {shapes}")
        raise
