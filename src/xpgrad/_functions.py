"""What the public functions share: which ops are public, and the path of every call but the common one.

``xpgrad.<op>`` is a plain function in `_api_functions` (generated from the table by
``python tools/gen_api.py``): a call with Tensors and the op's default parameters goes straight to the
build; any other goes through `call`. A namespace (`xpgrad.namespace`) holds `make_function`'s closures
instead, which make arrays on *its* backend when called with Python numbers only.
"""

from __future__ import annotations

from typing import Any

from ._build import apply, apply_unary
from ._ops import OPS, OpDef
from ._shapes import axis_ints
from ._tensor import Tensor
from .backends import backend_of, get_backend

__all__ = ["call", "is_public", "make_function", "public_functions"]


def is_public(op: OpDef) -> bool:
    """Whether ``op`` is a public function, ``xpgrad.<op.name>`` (the others serve rules and operators)."""
    return op.public


def call(op: OpDef, args: tuple[Any, ...], params: dict[str, Any], backend: Any = None) -> Tensor:
    """``xpgrad.<op>(*args, **params)`` by the general path; Python numbers alone make arrays on ``backend``
    (default: the default backend), like ``jnp.exp(2.0)``."""
    axis = params.get("axis")
    if axis is not None and type(axis) is not int:
        if type(axis) is list:  # sum(x, axis=[0, 1]), as PyTorch takes it: the standard's tuple
            axis = tuple(axis)
        params["axis"] = axis_ints(axis)  # np.int64(0) as 0, as NumPy and the standard take it
    if isinstance(params.get("dtype"), str):  # sum(x, dtype='float64'): a name, as astype takes
        owner = next((a._bk for a in args if isinstance(a, Tensor)), None) or backend_of(args[0])
        params["dtype"] = get_backend(owner or backend).dtype(params["dtype"])
    for a in args:  # a loop, not any(<generator>): this runs on every call (issue 5)
        if type(a) is Tensor or not isinstance(a, (bool, int, float, complex)):
            return apply(op, *args, **params)
    bk = get_backend(backend)
    return apply(op, *(Tensor(a, backend=bk) for a in args), **params)


def make_function(op: OpDef, backend: Any = None) -> Any:
    """``op`` as a function of a namespace over ``backend``: Python numbers alone make arrays on it."""

    unary = op.arity == 1  # (an op with params, called without: its defaults, also the fast path)

    def function(*args: Any, **params: Any) -> Tensor:
        if unary and not params and len(args) == 1 and type(args[0]) is Tensor:  # sin(x): the fast path
            return apply_unary(op, args[0])
        return call(op, args, params, backend)

    function.__name__ = function.__qualname__ = op.name
    function.__doc__ = doc(op)
    return function


def doc(op: OpDef) -> str:
    """A public function's docstring: the op's own, else its signature as the array API standard writes it."""
    names, kw = ", ".join(arrays(op)), ", ".join(f"{k}={v!r}" for k, v in op.params.items())
    return op.doc or f"{op.name}({names}, /{', *, ' + kw if kw else ''}): the array API's {op.name}, differentiable."


def arrays(op: OpDef) -> tuple[str, ...]:
    """The names of ``op``'s array arguments, as the array API standard names them."""
    return (("x",), ("x1", "x2"), ("condition", "x1", "x2"))[op.arity - 1]


def public_functions(backend: Any = None) -> dict[str, Any]:
    """Every public function over ``backend`` (`make_function`'s, and the composites), by name."""
    from ._composites import COMPOSITES

    ops = {name: make_function(op, backend) for name, op in OPS.items() if is_public(op)}
    return {**ops, **COMPOSITES}
