"""`check_grads`: gradients of any order against central finite differences, on the same backend.

Each check compares a vector-Jacobian product with a directional derivative: for a random
cotangent ``u`` and direction ``v``, ``<grad(f, x, u), v>`` must equal ``d/dt <u, f(x + t v)>``,
estimated with the fourth-order central stencil. Higher orders check the gradient function the
same way. Finite differences run in float64 when the device has it (so float32 gradients are
judged against an accurate reference, with float32 tolerances).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from . import _dtypes
from ._core.sweep import grad
from ._core.tensor import Tensor
from ._core.walk import toposort
from .backends import backend_of

__all__ = ["check_grads"]

_TOL = {4: (2e-3, 2e-4), 8: (1e-6, 1e-8)}  # (rtol, atol) by the itemsize of the checked dtype


def check_grads(
    f: Callable[..., Tensor],
    *args: Any,
    order: int = 2,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
) -> None:
    """Check the gradients of ``f`` at ``args`` up to ``order`` with finite differences.

    Arguments:
        f: a function of Tensors returning a Tensor (any shape).
        args: arrays, Python numbers or Tensors; floating ones are checked.
        order: the highest derivative order to check (1 = gradients, 2 = also their gradients, ...).
        rtol: the relative tolerance; default by dtype (float64: 1e-6; float32: 2e-3), float32's wherever
            ``f`` computes in float32 (an argument, a cast, the output).
        atol: the absolute tolerance; default by dtype as ``rtol`` (float64: 1e-8; float32: 2e-4).
        seed: for the random directions and cotangents.

    Raises:
        AssertionError: naming the argument, the order, both values and the error.

    Example:
        >>> check_grads(lambda x: xpgrad.sin(x) * x, np.array([0.3, 1.2]), order=3)
    """
    if type(order) is not int or order < 1:
        raise ValueError(f"check_grads: order must be an int of 1 or more (1 = gradients); got {order!r}")
    home = next((a if isinstance(a, Tensor) else Tensor(a) for a in args if _is_array(a)), None)
    leaves = [_leaf(a, home) for a in args]
    if not any(_is_float(t) for t in leaves):
        raise TypeError("check_grads: no floating-point argument to check; pass float arrays")
    _check(f, leaves, order, 1, random.Random(seed), rtol, atol)


def _is_array(a: Any) -> bool:
    return isinstance(a, Tensor) or backend_of(a) is not None


def _leaf(a: Any, home: Tensor | None) -> Tensor:
    """Argument ``a`` as a leaf: a Python number or list on the backend and device of the first array argument
    (as an op takes a number to the arrays it meets), not on the default backend's default device."""
    if isinstance(a, Tensor):
        return a
    if home is None or backend_of(a) is not None:
        return Tensor(a)
    return Tensor(a, backend=home._bk, device=home._device)


def _single(out: Tensor) -> bool:
    """Whether ``out`` is computed in single precision anywhere (an argument, a cast, the output): its
    rounding sets the tolerance, whatever the arguments' dtype (``astype(a, 'float32')`` of a float64 ``a``)."""
    for n in toposort([out]):
        if n._dtype is not None and n._bk is not None and n._dtype == n._bk.xp.float32:
            return True
    return False


def _is_float(t: Tensor) -> bool:
    return t._value is not None and _dtypes.dtype_kind(t._bk.xp, t._value.dtype) == _dtypes.FLOAT


def _random_like(rng: random.Random, t: Tensor, dtype: Any = None) -> Any:
    v = t._value
    n = math.prod(v.shape)
    data = [rng.gauss(0.0, 1.0) for _ in range(n)]
    xp = t._bk.xp
    flat = xp.asarray(data, dtype=dtype or v.dtype, device=t._device)
    return xp.reshape(flat, tuple(v.shape))


def _check(
    f: Callable[..., Tensor],
    leaves: list[Tensor],
    order: int,
    level: int,
    rng: random.Random,
    rtol: float | None,
    atol: float | None,
) -> None:
    out = f(*leaves)
    if not isinstance(out, Tensor):
        raise TypeError(
            f"check_grads: f must return an xpgrad Tensor built from its arguments; it returned {type(out).__name__}"
        )
    u = _random_like(rng, out, _dtypes_float(out))
    single = _single(out)
    for i, x in enumerate(leaves):
        if not _is_float(x):
            continue
        v = _random_like(rng, x)
        gx = grad(out, [x], cotangent=Tensor(u, backend=out._bk))[0]
        xpx = x._bk.xp
        analytic = _host(x._bk, xpx.sum(gx._value * v))
        numeric = _directional(f, leaves, i, v, u)
        r, a = _TOL[4 if single else 8]
        r, a = rtol if rtol is not None else r, atol if atol is not None else a
        err = abs(analytic - numeric)
        if not err <= a + r * max(abs(analytic), abs(numeric)):
            # before blaming the rule, refine the estimate: one Richardson step (h/2, sixth order)
            # removes the truncation error of a function with large high derivatives
            half = _directional(f, leaves, i, v, u, 0.5)
            numeric = half + (half - numeric) / 15
            err = abs(analytic - numeric)
        if not err <= a + r * max(abs(analytic), abs(numeric)):
            raise AssertionError(
                f"check_grads: the order-{level} gradient with respect to argument {i} disagrees with "
                f"finite differences: analytic {analytic:.10g} vs numeric {numeric:.10g} (error "
                f"{err:.3g}, allowed {a + r * max(abs(analytic), abs(numeric)):.3g}; dtype "
                f"{x._value.dtype}, backend {x.backend})"
            )
        if order > 1:
            u_t = Tensor(u, backend=out._bk)

            def grad_f(*ls: Tensor, _i: int = i, _u: Tensor = u_t) -> Tensor:
                return grad(f(*ls), [ls[_i]], cotangent=_u)[0]

            _check(grad_f, leaves, order - 1, level + 1, rng, rtol, atol)


def _dtypes_float(t: Tensor) -> Any:
    return t._value.dtype if _dtypes.dtype_kind(t._bk.xp, t._value.dtype) == _dtypes.FLOAT else None


def _directional(f: Callable[..., Tensor], leaves: list[Tensor], i: int, v: Any, u: Any, frac: float = 1.0) -> float:
    """d/dt <u, f(x_i + t v)> at t = 0, fourth-order central differences, in float64 if possible
    (step ``frac`` times the default)."""
    xp = leaves[i]._bk.xp
    wide = _widen(leaves)
    x = wide[i]._value
    v64 = xp.astype(v, x.dtype)
    scale = max(1.0, _host(leaves[i]._bk, xp.max(xp.abs(x))) if math.prod(x.shape) else 1.0)
    h = (1e-3 if x.dtype == xp.float64 else 1e-2) * scale * frac

    def at(t: float) -> float:
        shifted = list(wide)
        shifted[i] = Tensor(x + t * v64, backend=leaves[i]._bk)
        y = f(*shifted)
        yx = y._bk.xp
        wide_dtype = getattr(yx, "float64", None) if _widened(x, xp) else u.dtype
        return _host(y._bk, yx.sum(yx.astype(y._value, wide_dtype) * yx.astype(u, wide_dtype)))

    return (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)


def _widened(x: Any, xp: Any) -> bool:
    return x.dtype == xp.float64


def _widen(leaves: list[Tensor]) -> list[Tensor]:
    out = []
    for t in leaves:
        xp = t._bk.xp
        if _is_float(t) and t._value.dtype != xp.float64:
            try:
                t = Tensor(xp.astype(t._value, t._bk.dtype("float64")), backend=t._bk)  # (JAX without x64 refuses)
            except Exception:  # a device without float64: stay in the native dtype
                pass
        out.append(t)
    return out


def _host(bk: Any, a: Any) -> float:
    """The number in 0-d array ``a`` of backend ``bk``, copied to the host by the backend's own means (a
    PyTorch tensor on a GPU through ``.cpu()``)."""
    return float(bk.to_numpy(a))
