"""The public functions, one per op of the table (``xpgrad.exp``, ``xpgrad.sum``...).

Each takes arrays positionally and the op's parameters by keyword, as the array API standard does.
Called with Python numbers only, it makes arrays on the default backend (like ``jnp.exp(2.0)``).
"""

from __future__ import annotations

from typing import Any

from ._build import apply, apply_unary
from ._ops import OPS, OpDef
from ._tensor import Tensor
from .backends import backend_of, get_backend

__all__ = ["make_function"]


def make_function(op: OpDef, backend: Any = None) -> Any:
    """``xpgrad.<op>``; Python numbers alone make arrays on ``backend`` (default: the default backend)."""

    unary = op.arity == 1  # (an op with params, called without: its defaults, also the fast path)

    def function(*args: Any, **params: Any) -> Tensor:
        if unary and not params and len(args) == 1 and type(args[0]) is Tensor:  # sin(x): the fast path
            return apply_unary(op, args[0])
        if type(params.get("axis")) is list:  # sum(x, axis=[0, 1]), as PyTorch takes it: the standard's tuple
            params["axis"] = tuple(params["axis"])
        if isinstance(params.get("dtype"), str):  # sum(x, dtype='float64'): a name, as astype takes
            owner = next((a._bk for a in args if isinstance(a, Tensor)), None) or backend_of(args[0])
            params["dtype"] = get_backend(owner or backend).dtype(params["dtype"])
        for a in args:  # a loop, not any(<generator>): this runs on every call (issue 5)
            if type(a) is Tensor or not isinstance(a, (bool, int, float, complex)):
                return apply(op, *args, **params)
        bk = get_backend(backend)
        return apply(op, *(Tensor(a, backend=bk) for a in args), **params)

    function.__name__ = function.__qualname__ = op.name
    kw = ", ".join(f"{k}={v!r}" for k, v in op.params.items())
    names = ", ".join(("x", "x1, x2", "condition, x1, x2")[op.arity - 1].split(", ")[: op.arity])
    function.__doc__ = op.doc or (
        f"{op.name}({names}, /{', *, ' + kw if kw else ''}): the array API's {op.name}, differentiable."
    )
    return function


def public_functions(backend: Any = None) -> dict[str, Any]:
    from ._composites import COMPOSITES

    ops = {name: make_function(op, backend) for name, op in OPS.items() if op.public}
    return {**ops, **COMPOSITES}
