"""The op record. Every op xpgrad knows is one `OpDef`, registered once in `_table.py`.

An OpDef says, side by side: the op's name, arity and keyword parameters; ``impl``, the
backend-neutral function it applies (it receives the array namespace ``xp`` and calls e.g.
``xp.add``); which dtypes it accepts and how it promotes; its derivative rules, one per input;
and optional build-time rewrites and constant folding. Nothing else in xpgrad is per-op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ._tensor import Tensor

__all__ = ["NO_RULE", "OPS", "ZERO", "OpDef", "Rule", "defop"]

Rule = Callable[..., "Tensor"]
"""A derivative rule: ``rule(g, out, *inputs, **params) -> Tensor``, the cotangent for one input.

``g`` is the cotangent of the op's output, ``out`` the op's node itself, ``inputs`` its children.
Rules are written with xpgrad's own ops, so the gradient they build is differentiable again.
"""


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ZERO: Any = _Marker("ZERO")
"""Rule entry: the derivative is zero by definition (comparisons, rounding, shape references)."""
NO_RULE: Any = _Marker("NO_RULE")
"""Rule entry: no derivative is defined; differentiating through it raises, naming the op."""

Domain = Literal["numeric", "floating", "real", "real_floating", "integer", "bool", "integer_or_bool", "any"]
"""Which dtypes an op accepts (see `_dtypes._ACCEPTS`). 'floating' and 'real_floating' ops promote bool and
integer inputs to the namespace's default floating dtype (deliberately: sin(1) is a float, as in NumPy,
PyTorch and JAX); the 'real' ones refuse complex inputs, as the standard does."""


@dataclass(frozen=True, eq=False, repr=False)
class OpDef:
    name: str
    arity: int
    impl: Callable[..., Any]
    vjp: tuple[Any, ...]
    domain: Domain = "numeric"
    elementwise: bool = True
    result: Literal["same", "bool", "real"] = "same"  # "real": the real counterpart of a complex dtype
    params: dict[str, Any] = field(default_factory=dict)
    promote: tuple[int, ...] = ()
    dtype: Callable[..., Any] | None = None
    moves: bool = False
    symmetric: bool = False  # op(a, b) == op(b, a), each input's rule the other's mirrored: one rule for y * y
    meta: tuple[int, ...] = ()  # inputs whose values are read only for their shape, dtype and device
    shape: Callable[..., Any] | None = None
    simplify: Callable[..., Any] | None = None
    fold: Callable[..., Any] | None = None
    infix: str | None = None
    dunder: str | None = None
    doc: str = ""

    def function(self, xp: Any) -> Any:
        """The array-API function this op applies in namespace ``xp`` (e.g. ``xp.add``), if it is one."""
        return getattr(xp, self.name, None)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OPS: dict[str, OpDef] = {}


def defop(name: str, arity: int, impl: Callable[..., Any] | None = None, **kw: Any) -> OpDef:
    """Register an op. ``impl`` defaults to the namespace function of the same name."""
    if name in OPS:
        raise ValueError(f"op {name!r} is already defined")
    if impl is None:
        impl = _namespace_call(name)
    vjp = kw.pop("vjp", (NO_RULE,) * arity)
    kw.setdefault("promote", tuple(range(arity)))
    if len(vjp) != arity:
        raise ValueError(f"op {name!r}: {arity} inputs but {len(vjp)} derivative rules")
    op = OPS[name] = OpDef(name, arity, impl, tuple(vjp), **kw)
    return op


def _namespace_call(name: str) -> Callable[..., Any]:
    def impl(xp: Any, *args: Any, **kw: Any) -> Any:
        return getattr(xp, name)(*args, **kw)

    impl.__name__ = f"xp.{name}"
    impl.namespace_name = name  # type: ignore[attr-defined]  # lets Backend.fn call xp.<name> directly
    return impl
