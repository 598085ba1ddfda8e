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


def _reflected(op: OpDef) -> Any:
    def method(self: Tensor, other: Any) -> Any:
        return _fast(op, other if type(other) is Tensor else _operand(op, other), self)

    return method


def _unary(op: OpDef) -> Any:
    def method(self: Tensor) -> Any:
        return apply(op, self)

    return method


def install() -> None:
    for op in OPS.values():
        if op.dunder is None:
            continue
        if op.arity == 1:
            setattr(Tensor, f"__{op.dunder}__", _unary(op))
            continue
        setattr(Tensor, f"__{op.dunder}__", _forward(op))
        if op.dunder not in _NO_REFLECTION:
            setattr(Tensor, f"__r{op.dunder}__", _reflected(op))
    from ._composites import getitem, iterate

    Tensor.__getitem__ = getitem  # type: ignore[method-assign]
    Tensor.__iter__ = iterate  # type: ignore[method-assign]
    Tensor.__hash__ = object.__hash__  # type: ignore[method-assign]  # __eq__ is elementwise
