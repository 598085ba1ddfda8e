"""``cumulative_prod``, the standard's cumulative product, and its rule, exact where the input has zeros.

The standard's formula for the gradient, ``cumulative_sum(g * out, reversed) / x``, divides by zero at a zero
of ``x``. The rule here is the reverse sweep of a parallel prefix product (Hillis and Steele: ``y <- y *
shift(y, s)`` for ``s = 1, 2, 4...``; JAX differentiates its associative scan alike), written in xpgrad ops:
``ceil(log2 n)`` steps, each a few elementwise products and shifts (an index and a concat), so
``O(n log n)`` work, no division, and every order exact at zeros (each step's rule is that of ``multiply``).
The forward value is the backend's own ``cumulative_prod``, bit for bit.
"""

from __future__ import annotations

from typing import Any

from .. import _shapes
from .._core.opdef import defop
from .basic import _dtype_sum, _f, through_cast
from .linalg import ndim_of
from .manipulation import cumulative_axis, cumulative_shape

__all__: list[str] = []

index, concat, ones_like, zeros_like = map(_f, ("index", "concat", "ones_like", "zeros_like"))
NAME = "cumulative_prod"


def _cut(t: Any, a: int, part: slice) -> Any:
    return index(t, key=_shapes.pack_key("index", (slice(None),) * a + (part,)))


def _cotangent(g: Any, x: Any, axis: Any, include_initial: bool) -> Any:
    nd = ndim_of(NAME, x)
    a = cumulative_axis(x, axis, NAME)
    assert a is not None
    a %= nd
    n = x._shape[a]
    if n is None:
        raise ValueError(
            f"{NAME}: the derivative needs the size of the axis, and the operand is a placeholder of unknown "
            "size there; declare it, e.g. xpgrad.placeholder(shape=(None, 5))"
        )
    if include_initial:  # (the initial 1 depends on nothing)
        g = _cut(g, a, slice(1, None))
    steps = [x]  # the prefix product by doubling: y_{k+1} = y_k * shift(y_k, 2^k), shift filling ones
    s = 1
    while s < n:
        y = steps[-1]
        steps.append(y * concat(ones_like(_cut(y, a, slice(None, s))), _cut(y, a, slice(None, n - s)), axis=a))
        s *= 2
    for k in range(len(steps) - 2, -1, -1):  # its reverse sweep: through y_k and through shift(y_k)
        s, y = 2**k, steps[k]
        shifted = concat(ones_like(_cut(y, a, slice(None, s))), _cut(y, a, slice(None, n - s)), axis=a)
        back = g * y
        g = g * shifted + concat(_cut(back, a, slice(s, None)), zeros_like(_cut(back, a, slice(None, s))), axis=a)
    return g


defop(
    NAME,
    1,
    vjp=(
        lambda g, out, x, axis, dtype, include_initial: through_cast(
            x, dtype, lambda: _cotangent(g, x, axis, include_initial)
        ),
    ),
    elementwise=False,
    params={"axis": None, "dtype": None, "include_initial": False},
    shape=cumulative_shape,
    dtype=_dtype_sum,
)
