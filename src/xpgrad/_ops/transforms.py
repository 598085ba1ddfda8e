"""The ops the transforms build on (`_api.transforms`): stopping a gradient, a function's own copy of its
argument, and the stacking of a Jacobian's rows and columns.

Same contract as `basic`: each op beside its rules, written in xpgrad ops.
"""

from __future__ import annotations

from typing import Any

from .._core.opdef import INT_IDENTITY, LINEAR, ZERO, CForm, defop
from .basic import _dtype_first, _f

__all__: list[str] = []

index, zeros_like, stack_rows, swap_axes_2d = map(_f, ("index", "zeros_like", "stack_rows", "swap_axes_2d"))

# The value passes through; the derivative is zero (JAX's stop_gradient, PyTorch's detach): nothing flows back
# through it, in either mode, at any order. The array is the input's own, not a copy.
defop(
    "stop_gradient",
    1,
    lambda xp, x: x,
    vjp=(ZERO,),
    domain="any",
    c=CForm.same("({0})"),
    int_c=INT_IDENTITY,
    doc="stop_gradient(x, /): x's value, with derivative zero (JAX's stop_gradient; `detach` is its alias).",
)

# A function transform's own copy of a Tensor argument (``grad(f)(x)``): the identity, derivative 1, never
# merged with another copy (built under ``options(merge=False)``), so that transforms nested inside ``f`` that
# differentiate with respect to their own argument tell it apart from ``x`` (JAX's perturbation tags). The
# array is the input's own, not a copy.
defop(
    "argument",
    1,
    lambda xp, x: x,
    vjp=(lambda g, out, x: g,),
    domain="any",
    c=CForm.same("({0})"),
    int_c=INT_IDENTITY,
    public=False,
    text=lambda x: "{0}",  # (it reads as the argument itself)
)


def _rows_shape(name: str, a: Any, b: Any) -> Any:
    if a._shape is None or b._shape is None:
        return None
    if len(a._shape) == 0 or a._shape[1:] != b._shape[1:]:
        raise ValueError(f"{name}: cannot stack arrays of shapes {a._shape} and {b._shape} along their first axis")
    return (a._shape[0] + b._shape[0], *a._shape[1:])


def _rows(a: Any) -> int:
    if a._shape is None:
        raise ValueError("stack_rows: the shape of its first operand must be known (feed the placeholders first)")
    return int(a._shape[0])


# [a; b] along the first axis: the Jacobians' rows, stacked by a balanced tree of these (n log n, no n^2)
defop(
    "stack_rows",
    2,
    lambda xp, a, b: xp.concat((a, b), axis=0),
    vjp=(
        lambda g, out, a, b: index(g, key=(("slice", 0, _rows(a), None),)),
        lambda g, out, a, b: index(g, key=(("slice", _rows(a), None, None),)),
    ),
    jvp=(lambda t, out, a, b: stack_rows(t, zeros_like(b)), lambda t, out, a, b: stack_rows(zeros_like(a), t)),
    text=lambda a, b: "concat(({0}, {1}), axis=0)",
    elementwise=False,
    public=False,
    shape=_rows_shape,
    dtype=_dtype_first,
)

# A matrix's transpose: the forward-mode Jacobian's columns, stacked as rows, turned into its rows
defop(
    "swap_axes_2d",
    1,
    lambda xp, a: xp.permute_dims(a, (1, 0)),
    vjp=(lambda g, out, a: swap_axes_2d(g),),
    jvp=(LINEAR,),
    text=lambda a: "permute_dims({0}, axes=(1, 0))",
    elementwise=False,
    public=False,
    shape=lambda name, a: None if a._shape is None else (a._shape[1], a._shape[0]),
    dtype=_dtype_first,
)
