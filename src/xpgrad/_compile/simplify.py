"""`simplify`: heavier rewrites, applied once over whole graphs, that never change an IEEE result.

Each pass rebuilds the graphs bottom-up through `build.apply`, so the build-time rewrites
(``x * 1``, ``x + (-0.0)``, ``-(-x)``, ``a + (-b)`` -> ``a - b``...) and common-subexpression merging
apply again, also to graphs built before (or with merging off); on top, the rewrites below. Passes repeat until the
node count stops falling. Leaves, placeholders and constants are kept as they are (the same
objects), so a simplified graph is fed and compiled like the original.

The rewrites, each exact for every input including inf, nan and -0.0 (a NaN stays a NaN; its
sign bit, which IEEE 754 leaves unspecified, may differ, e.g. NumPy's ``-nan``):
- ``(-a) * (-b)`` -> ``a * b`` and ``(-a) / (-b)`` -> ``a / b`` (signs of products and quotients
  multiply exactly), where both negations are exact in the result's dtype (`_table.negation_exact`), and
  for ``/`` in real floating only;
- ``expand(ones_like(s), x)`` -> ``ones_like(x)`` (the seed cotangent of a sum is ones like x);
- ``fit(g, ref)`` and ``broadcast_like(g, ref)`` -> ``g`` where g already has ref's dtype and provably
  ref's shape, also with None dimensions (elementwise ops of same-shaped inputs, ``ones_like(ref)``...),
  and ``ones_like(r) * x`` -> ``x`` under the same condition, for real x;
- ``(x * c1) * c2`` -> ``x * (c1 * c2)`` only where both constants are Python floats that are powers of
  two of magnitude >= 1, ``x * c1`` is real (not complex) of a known dtype, and ``c1 * c2`` is finite in
  that dtype (float16: at most 65504). Then each constant and their product are exact in the dtype,
  scaling by them is exact up to overflow, and an overflow gives the same inf either way; a product that
  overflows the dtype itself is left alone (``x * 256.0 * 256.0`` in float16 is 0 at x = 0, but
  ``x * 65536.0`` multiplies by inf: nan).
Not done, because they change IEEE results: ``x - x`` -> 0 (inf, nan), ``0 * x`` -> 0, ``-(a - b)``
-> ``b - a`` (``-0.0`` vs ``+0.0`` when a == b), reassociating sums, ``x / c`` -> ``x * (1 / c)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._core.build import apply, derivative_level
from .._core.opdef import OPS
from .._core.tensor import Tensor
from .._core.walk import toposort
from .._dtypes import COMPLEX, FLOAT, INT, dtype_kind
from .._ops.basic import negation_exact, result_dtype

__all__ = ["simplify"]

_MAX_PASSES = 10


def _neg(t: Tensor) -> Tensor | None:
    return t.children[0] if t.op is OPS["negative"] else None


def _both_negated(name: str, kinds: tuple[int, ...]) -> Callable[[Tensor, Tensor], Tensor | None]:
    """``(-a) op (-b)`` -> ``a op b`` for results of ``kinds``, where each negation is exact in the
    result's dtype (`negation_exact`: not for a wrapped integer negation, nor real operands of a complex
    product, whose imaginary +0.0 the negation does not flip)."""

    def rewrite(a: Tensor, b: Tensor, **_: Any) -> Tensor | None:
        na, nb = _neg(a), _neg(b)
        if na is None or nb is None:
            return None
        result = result_dtype(OPS[name], a, b)
        if result is None or dtype_kind(a._bk.xp, result) not in kinds:
            return None
        return apply(OPS[name], na, nb) if negation_exact(na, result) and negation_exact(nb, result) else None

    return rewrite


# (-a)(-b) == ab for every integer dtype (two's complement), and in IEEE arithmetic (each real product's
# sign is the product of the signs, its magnitude rounds alike; a complex product is sums of such products).
_negated_product = _both_negated("multiply", (INT, FLOAT, COMPLEX))


def _power_of_two_at_least_one(v: Any) -> bool:
    if type(v) is not float or not math.isfinite(v) or abs(v) < 1.0:
        return False
    m, _ = math.frexp(abs(v))
    return m == 0.5


def _real(t: Tensor) -> bool:
    """Whether ``t`` has a known real dtype: scaling a complex value is a complex product, where a part's
    inf times the other factor's imaginary 0.0 is nan ((inf + 0j) * 2.0 is inf + nanj, times 4.0 nan + nanj,
    but (inf + 0j) * 8.0 is inf + nanj)."""
    return t._dtype is not None and dtype_kind(t._bk.xp, t._dtype) != COMPLEX


def _finite_in(v: float, t: Tensor) -> bool:
    """Whether the Python float ``v`` is at most the largest finite number of real ``t``'s dtype."""
    return abs(v) <= float(t._bk.xp.finfo(t._dtype).max)


def _rw_multiply(a: Tensor, b: Tensor, **_: Any) -> Tensor | None:
    found = _negated_product(a, b)
    if found is not None:
        return found
    if b._const and a.op is OPS["multiply"] and a.children[1]._const and _real(a):
        x, c1, c2 = a.children[0], a.children[1]._value, b._value
        if _power_of_two_at_least_one(c1) and _power_of_two_at_least_one(c2) and _finite_in(c1 * c2, a):
            return apply(OPS["multiply"], x, c1 * c2)
    return None


def _shape_class(t: Tensor, memo: dict[int, int]) -> int:
    """An id shared by nodes whose runtime shapes are provably equal, even with None dimensions."""
    k = memo.get(id(t))
    if k is not None:
        return k
    op = t.op
    k = id(t)
    if op is not None:
        cs = t.children
        if op.name in ("ones_like", "zeros_like"):
            k = memo.get(id(cs[0]), id(cs[0]))
        elif op.name in ("fit", "broadcast_like", "expand"):
            k = memo.get(id(cs[1]), id(cs[1]))
        elif op.elementwise and op.shape is None:  # broadcasting elementwise: the inputs' shape if all agree
            kinds = {memo.get(id(c), id(c)) for c in cs if not c._const}
            if len(kinds) == 1:
                k = kinds.pop()
    memo[id(t)] = k
    return k


def _same_layout(memo: dict[int, int]) -> Callable[..., Tensor | None]:
    def rewrite(g: Tensor, ref: Tensor, **_: Any) -> Tensor | None:
        # fit / broadcast_like reshape and cast g to ref's shape and dtype: nothing to do when both agree
        if g._dtype is None or g._dtype != ref._dtype or g._const:
            return None
        return g if _shape_class(g, memo) == _shape_class(ref, memo) else None

    return rewrite


def _times_ones(memo: dict[int, int]) -> Callable[..., Tensor | None]:
    def rewrite(a: Tensor, b: Tensor, **_: Any) -> Tensor | None:
        # ones_like(r) * x -> x where x has the product's dtype and provably its shape (1 * x == x exactly for
        # real x; a complex product is not: (1 + 0j) * (inf + 0j) is inf + nanj)
        for one, x in ((a, b), (b, a)):
            if one.op is OPS["ones_like"] and not x._const and _real(x) and x._dtype == one._dtype:
                if _shape_class(one, memo) == _shape_class(x, memo):
                    return x
        return _rw_multiply(a, b)

    return rewrite


def _rw_expand(g: Tensor, x: Tensor, axis: Any, keepdims: bool, mean: bool) -> Tensor | None:
    # the cotangent of sum(x) seeded with ones is ones shaped like x: expand(ones_like(s), x) -> ones_like(x)
    if mean or g.op is not OPS["ones_like"] or g._dtype is None or g._dtype != x._dtype:
        return None
    return apply(OPS["ones_like"], x)


_REWRITES: dict[str, Callable[..., Tensor | None]] = {
    "expand": _rw_expand,
    "multiply": _rw_multiply,
    # real floating only: complex division by 0 is not odd in NumPy (1/0j is inf+nanj, (-1)/(-0j) -inf+nanj)
    "divide": _both_negated("divide", (FLOAT,)),
}


def _pass(roots: list[Tensor]) -> list[Tensor]:
    new: dict[int, Tensor] = {}
    memo: dict[int, int] = {}
    same = _same_layout(memo)
    rewrites = {**_REWRITES, "fit": same, "broadcast_like": same, "multiply": _times_ones(memo)}
    for n in toposort(roots):
        if n.op is None:
            new[id(n)] = n
            continue
        cs = [new[id(c)] for c in n.children]
        with derivative_level(n._level):
            rw = rewrites.get(n.op.name)
            out = rw(*cs, **n.params) if rw is not None else None
            if out is None:
                out = apply(n.op, *cs, **n.params)
        _shape_class(out, memo)
        if n.name and out.name is None and out.op is not None:
            out.name = n.name
        new[id(n)] = out
    return [new[id(r)] for r in roots]


def simplify(*tensors: Tensor) -> list[Tensor]:
    """New graphs computing exactly what ``tensors`` compute (bit for bit), usually with fewer nodes.

    Arguments:
        tensors: the Tensors whose graphs to simplify together (e.g. a loss and its gradients, so
            shared parts stay shared).

    Returns:
        A list with one new Tensor per argument. Leaves and placeholders are the original objects.

    Example:
        >>> gx, gy = xpgrad.simplify(*xpgrad.grad(loss, [x, y]))
    """
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"simplify: argument {i} is a {type(t).__name__}, not a Tensor")
    roots = list(tensors)
    size = len(toposort(roots))
    for _ in range(_MAX_PASSES):
        roots = _pass(roots)
        now = len(toposort(roots))
        if now >= size:
            break
        size = now
    return roots
