"""Python operators on Tensors, installed from the op table's ``dunder`` entries.

``x + y``, ``2 * x``, ``x ** y``, ``-x``, ``abs(x)``, comparisons...: each operator is the op of
the same meaning, with Tensors, Python numbers and backend arrays on either side.
"""

from __future__ import annotations

from typing import Any

from ._build import _fast, _operand, apply
from ._ops import OPS, OpDef
from ._tensor import Tensor

__all__ = ["install"]

_NO_REFLECTION = frozenset(("eq", "ne", "gt", "ge", "lt", "le"))


def _forward(op: OpDef) -> Any:
    def method(self: Tensor, other: Any) -> Any:  # `apply_binary`, inlined (issue 5: one call less an op)
        return _fast(op, self, other if type(other) is Tensor else _operand(op, other))

    return method


def _power(op: OpDef) -> Any:
    def method(self: Tensor, other: Any, modulo: Any = None) -> Any:
        if modulo is not None:
            raise TypeError("pow(t, y, modulo): a modulus is not supported; compute (t ** y) % modulo")
        return _fast(op, self, other if type(other) is Tensor else _operand(op, other))

    return method


def _reflected(op: OpDef) -> Any:
    def method(self: Tensor, other: Any) -> Any:
        return _fast(op, other if type(other) is Tensor else _operand(op, other), self)

    return method


def _unary(op: OpDef) -> Any:
    def method(self: Tensor) -> Any:
        return apply(op, self)

    return method


_REDUCTIONS = ("sum", "mean", "max", "min", "prod", "var", "std", "all", "any")


def _reduction(f: Any) -> Any:
    spread = f.__name__ in ("var", "std")

    def method(self: Tensor, axis: Any = None, *, out: Any = None, **params: Any) -> Any:  # t.sum(0), as NumPy
        if out is not None:  # (np.sum(t) calls t.sum(axis=None, dtype=None, out=None): a Tensor, differentiable)
            raise TypeError(f"{f.__name__}: out= is not supported (a Tensor is a new node, never written into)")
        if params.get("dtype", 0) is None:  # (np.mean(t) passes dtype=None; xpgrad's mean takes no dtype)
            del params["dtype"]
        if spread and "ddof" in params:  # np.std(t) calls t.std(..., ddof=0): NumPy's name for correction
            ddof = params.pop("ddof")
            if type(ddof) is not int or ddof != 0:  # (0, the default: the op's own params, its fast path)
                if "correction" in params:
                    raise TypeError(f"{f.__name__}: pass correction= (the array API's name) or NumPy's ddof=, not both")
                params["correction"] = ddof
        return f(self, axis=axis, **params)

    method.__name__ = method.__qualname__ = f.__name__
    method.__doc__ = f"``t.{f.__name__}(axis, ...)``: ``xpgrad.{f.__name__}(t, axis=axis, ...)``."
    return method


def _reshape(f: Any) -> Any:
    def reshape(self: Tensor, *shape: Any, copy: bool | None = None) -> Any:  # t.reshape(2, 3) or ((2, 3))
        return f(self, shape[0] if len(shape) == 1 else shape, copy=copy)

    reshape.__doc__ = "``t.reshape(2, 3)`` or ``t.reshape((2, 3))``: ``xpgrad.reshape(t, (2, 3))``."
    return reshape


def _astype(f: Any) -> Any:
    def astype(self: Tensor, dtype: Any, /, **params: Any) -> Any:
        return f(self, dtype, **params)

    astype.__doc__ = "``t.astype(dtype)``: ``xpgrad.astype(t, dtype)``."
    return astype


def methods(functions: dict[str, Any]) -> None:
    """The methods NumPy, PyTorch and JAX arrays have (``t.sum()``, ``t.reshape(2, 3)``...), each the
    public function of the same name (the array API's array object has none of them)."""
    for name in _REDUCTIONS:
        setattr(Tensor, name, _reduction(functions[name]))
    Tensor.reshape = _reshape(functions["reshape"])  # type: ignore[attr-defined]
    Tensor.astype = _astype(functions["astype"])  # type: ignore[attr-defined]


def install() -> None:
    for op in OPS.values():
        if op.dunder is None:
            continue
        if op.arity == 1:
            setattr(Tensor, f"__{op.dunder}__", _unary(op))
            continue
        setattr(Tensor, f"__{op.dunder}__", _forward(op) if op.dunder != "pow" else _power(op))
        if op.dunder not in _NO_REFLECTION:
            setattr(Tensor, f"__r{op.dunder}__", _reflected(op))
    from ._composites import getitem, iterate

    Tensor.__getitem__ = getitem  # type: ignore[method-assign]
    Tensor.__iter__ = iterate  # type: ignore[method-assign]
    Tensor.__hash__ = object.__hash__  # type: ignore[method-assign]  # __eq__ is elementwise
