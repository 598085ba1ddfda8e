"""Linear algebra of the standard: ``matmul`` (``@``), ``tensordot``, ``vecdot``, ``matrix_transpose`` (``.mT``).

Same contract as `basic`: each op beside its rules, rules written in xpgrad ops, so every order works.
Batch dimensions broadcast as the standard says; a rule returns the cotangent of the broadcast shape and
the sweep sums it back over broadcast batch axes (`_core.sweep._fit`), as for elementwise ops.
The rules need the operands' number of dimensions when the gradient is built (a placeholder declared
with ``shape=(None, None)`` has it; one of unknown shape does not, and is refused, naming the op).
"""

from __future__ import annotations

import operator
from typing import Any

from .. import _shapes
from .._core.opdef import LINEAR, defop
from .basic import _f, by_kind

__all__: list[str] = []

matmul, tensordot, matrix_transpose, permute_dims = map(_f, ("matmul", "tensordot", "matrix_transpose", "permute_dims"))
expand_dims, squeeze, conj = map(_f, ("expand_dims", "squeeze", "conj"))


def ndim_of(name: str, t: Any) -> int:
    """The number of dimensions of ``t`` (a rule needs it), or a ValueError naming the op."""
    s = t._shape
    if s is None:
        raise ValueError(
            f"{name}: the derivative needs the number of dimensions of its operands, and an operand is a "
            "placeholder of unknown shape; declare it, e.g. xpgrad.placeholder(shape=(None, None))"
        )
    return len(s)


# ----------------------------------------------------------------- matmul
def _matmul_shape(name: str, a: Any, b: Any) -> Any:
    sa, sb = a._shape, b._shape
    if sa is None or sb is None:
        return None
    if not sa or not sb:
        raise ValueError(
            f"matmul: operands must have at least one dimension; got shapes {sa} and {sb} (use * to multiply by "
            "a scalar)"
        )
    a2 = (1, *sa) if len(sa) == 1 else sa
    b2 = (*sb, 1) if len(sb) == 1 else sb
    if a2[-1] is not None and b2[-2] is not None and a2[-1] != b2[-2]:
        which = "its only axis" if len(sb) == 1 else "its second-to-last axis"
        raise ValueError(
            f"matmul: shapes {sa} and {sb} are not aligned: x1's last axis has size {a2[-1]}, x2's {which} "
            f"{b2[-2]}; transpose one (x.mT) or reshape so that they match"
        )
    batch = _shapes.broadcast(name, a2[:-2], b2[:-2])
    assert batch is not None  # (shapes known)
    return (*batch, *(a2[-2:-1] if len(sa) > 1 else ()), *(b2[-1:] if len(sb) > 1 else ()))


def _matmul_parts(g: Any, a: Any, b: Any) -> tuple[Any, int, int]:
    """``g`` with the axes matmul dropped for 1-d operands put back (size 1), and the operands' ndims."""
    na, nb = ndim_of("matmul", a), ndim_of("matmul", b)
    if nb == 1:
        g = expand_dims(g, axis=-1)
    if na == 1:
        g = expand_dims(g, axis=-2)
    return g, na, nb


def _matmul_a(g: Any, out: Any, a: Any, b: Any) -> Any:
    # d(a @ b)/da = g @ b^T, with 1-d operands as (1, k) and (k, 1) matrices, the added axis removed again
    if a._shape is not None and b._shape is not None and len(a._shape) == len(b._shape) == 1:
        return g * b
    g2, na, nb = _matmul_parts(g, a, b)
    ga = matmul(g2, matrix_transpose(b) if nb > 1 else expand_dims(b, axis=0))
    return squeeze(ga, axis=-2) if na == 1 else ga


def _matmul_b(g: Any, out: Any, a: Any, b: Any) -> Any:
    # d(a @ b)/db = a^T @ g
    if a._shape is not None and b._shape is not None and len(a._shape) == len(b._shape) == 1:
        return g * a
    g2, na, nb = _matmul_parts(g, a, b)
    gb = matmul(matrix_transpose(a) if na > 1 else expand_dims(a, axis=-1), g2)
    return squeeze(gb, axis=-1) if nb == 1 else gb


defop(
    "matmul",
    2,
    vjp=(_matmul_a, _matmul_b),
    jvp=(LINEAR, LINEAR),
    domain="numeric",
    elementwise=False,
    infix="@",
    dunder="matmul",
    shape=_matmul_shape,
)


# ----------------------------------------------------------------- matrix_transpose
def _mt_shape(name: str, x: Any) -> Any:
    s = x._shape
    if s is not None and len(s) < 2:
        raise ValueError(
            f"matrix_transpose: needs an array of at least 2 dimensions; got shape {s} (a 1-d array is its own "
            "transpose: use it as it is)"
        )
    return None if s is None else (*s[:-2], s[-1], s[-2])


defop(
    "matrix_transpose",
    1,
    vjp=(lambda g, out, x: matrix_transpose(g),),
    jvp=(LINEAR,),
    domain="any",
    elementwise=False,
    shape=_mt_shape,
)


# ----------------------------------------------------------------- tensordot
def tensordot_axes(a: Any, b: Any, axes: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``axes`` (an int, or two sequences of axes) as two tuples of non-negative axes of ``a`` and ``b``."""
    na, nb = ndim_of("tensordot", a), ndim_of("tensordot", b)
    if isinstance(axes, bool):
        raise TypeError(f"tensordot: axes must be an int or a pair of sequences of ints; got {axes!r}")
    if hasattr(axes, "__index__"):
        n = operator.index(axes)
        if not 0 <= n <= min(na, nb):
            raise ValueError(f"tensordot: axes={n} contracts {n} axes, but the operands have {na} and {nb} dimensions")
        return tuple(range(na - n, na)), tuple(range(n))
    try:
        ca, cb = axes
        ca = (ca,) if hasattr(ca, "__index__") else tuple(ca)
        cb = (cb,) if hasattr(cb, "__index__") else tuple(cb)
    except (TypeError, ValueError):
        raise TypeError(f"tensordot: axes must be an int or a pair of sequences of ints; got {axes!r}") from None
    if len(ca) != len(cb):
        raise ValueError(f"tensordot: axes {axes!r} pair {len(ca)} axes of x1 with {len(cb)} of x2; give as many")
    pa = _shapes.normalize_axis("tensordot", tuple(operator.index(i) for i in ca), na)
    pb = _shapes.normalize_axis("tensordot", tuple(operator.index(i) for i in cb), nb)
    del pa, pb  # (checked: in range, no repeats)
    return tuple(operator.index(i) % na for i in ca), tuple(operator.index(i) % nb for i in cb)


def _tensordot_shape(name: str, a: Any, b: Any, axes: Any) -> Any:
    sa, sb = a._shape, b._shape
    ca, cb = axes
    for i, j in zip(ca, cb, strict=True):
        if sa[i] is not None and sb[j] is not None and sa[i] != sb[j]:
            raise ValueError(
                f"tensordot: axis {i} of x1 (size {sa[i]}) and axis {j} of x2 (size {sb[j]}) are contracted "
                "together but differ in size"
            )
    return (*(d for i, d in enumerate(sa) if i not in ca), *(d for j, d in enumerate(sb) if j not in cb))


def _inverse(perm: list[int]) -> tuple[int, ...]:
    out = [0] * len(perm)
    for i, p in enumerate(perm):
        out[p] = i
    return tuple(out)


def _tensordot_a(g: Any, out: Any, a: Any, b: Any, axes: Any) -> Any:
    ca, cb = axes
    na, nb = len(a._shape), len(b._shape)
    free_a = [i for i in range(na) if i not in ca]
    free_b = [j for j in range(nb) if j not in cb]
    # g's axes: free_a, then free_b; contract free_b with b's: left free_a, then b's contracted axes in order
    ga = tensordot(g, b, axes=(tuple(range(len(free_a), len(free_a) + len(free_b))), tuple(free_b)))
    pairs = dict(zip(cb, ca, strict=True))
    labels = free_a + [pairs[j] for j in sorted(cb)]  # the axis of a each axis of ga stands for
    perm = _inverse(labels)
    return ga if perm == tuple(range(na)) else permute_dims(ga, axes=perm)


def _tensordot_b(g: Any, out: Any, a: Any, b: Any, axes: Any) -> Any:
    ca, cb = axes
    na, nb = len(a._shape), len(b._shape)
    free_a = [i for i in range(na) if i not in ca]
    free_b = [j for j in range(nb) if j not in cb]
    gb = tensordot(a, g, axes=(tuple(free_a), tuple(range(len(free_a)))))
    pairs = dict(zip(ca, cb, strict=True))
    labels = [pairs[i] for i in sorted(ca)] + free_b
    perm = _inverse(labels)
    return gb if perm == tuple(range(nb)) else permute_dims(gb, axes=perm)


defop(
    "tensordot",
    2,
    lambda xp, a, b, axes: xp.tensordot(a, b, axes=(list(axes[0]), list(axes[1]))),
    vjp=(_tensordot_a, _tensordot_b),
    jvp=(LINEAR, LINEAR),
    domain="numeric",
    elementwise=False,
    # (`xpgrad.tensordot` is `_api.shape_functions.tensordot`, which normalizes ``axes`` first)
    params={"axes": ((), ())},
    shape=_tensordot_shape,
)


# ----------------------------------------------------------------- vecdot
def _vecdot_shape(name: str, a: Any, b: Any, axis: int = -1) -> Any:
    sa, sb = a._shape, b._shape
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"vecdot: axis must be an int; got {axis!r}")
    if sa is None or sb is None:
        return None
    n = min(len(sa), len(sb))
    if not -n <= axis < 0:
        raise ValueError(
            f"vecdot: axis {axis} is out of range for shapes {sa} and {sb}; pass a negative axis from -1 to -{n} "
            "(counted from the last axis, as the standard asks)"
        )
    if sa[axis] is not None and sb[axis] is not None and sa[axis] != sb[axis]:
        raise ValueError(
            f"vecdot: shapes {sa} and {sb} differ along axis {axis} ({sa[axis]} and {sb[axis]}); the "
            "contracted axis is not broadcast"
        )
    out = _shapes.broadcast(name, sa, sb)
    assert out is not None
    return tuple(d for i, d in enumerate(out) if i != len(out) + axis)


# vecdot(a, b) = sum(conj(a) * b): for a complex ``a``, conj(g * b) and g * conj(a) (JAX's convention,
# docs/complex.md: the tangent conj(da) * b is conjugate-linear in da); for a real ``a`` the real rules
def _vecdot_a(g: Any, out: Any, a: Any, b: Any, axis: int) -> Any:
    return by_kind(a, lambda: expand_dims(g, axis=axis) * b, lambda: conj(expand_dims(g, axis=axis) * b))


def _vecdot_b(g: Any, out: Any, a: Any, b: Any, axis: int) -> Any:
    return by_kind(a, lambda: expand_dims(g, axis=axis) * a, lambda: expand_dims(g, axis=axis) * conj(a))


defop(
    "vecdot",
    2,
    vjp=(_vecdot_a, _vecdot_b),
    jvp=(LINEAR, LINEAR),
    domain="numeric",
    elementwise=False,
    params={"axis": -1},
    shape=_vecdot_shape,
)
