"""User-defined differentiable ops: ``xpgrad.custom_op``, as autograd's ``defvjp`` or JAX's ``custom_vjp``.

A custom op is an `OpDef` like the built-in ones: an array-API implementation and derivative rules written
in xpgrad ops. Its nodes are ordinary nodes, so it works in every transform (grad, vjp, jvp, jacobians,
Hessians, at every order its rules support), in `xpgrad.function`, in `show` and the pictures (under its
name), on every backend, and pickles (the op must be defined again, under the same name, before loading).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from .._core.build import apply
from .._core.opdef import NO_RULE, OPS, ZERO, OpDef, defop
from .._core.tensor import Tensor

__all__ = ["CustomOp", "custom_op"]

_CUSTOM: set[str] = set()
"""The names of the ops `custom_op` defined: only these may be defined again (a notebook cell run twice)."""

Rules = Callable[..., Any] | Sequence[Callable[..., Any] | None] | None


class CustomOp:
    """A user-defined op, called as a function: ``op(x, y, param=...)`` builds its node."""

    def __init__(self, op: OpDef, impl: Callable[..., Any]) -> None:
        self.op = op
        self.__name__ = self.__qualname__ = op.name
        self.__doc__ = impl.__doc__
        self.__wrapped__ = impl

    def __call__(self, *args: Any, **params: Any) -> Tensor:
        if len(args) != self.op.arity:
            raise TypeError(f"{self.op.name}() takes {self.op.arity} array argument(s) but {len(args)} were given")
        if all(not isinstance(a, Tensor) for a in args):
            args = (Tensor(args[0]), *args[1:])  # a Python number or an array alone: a leaf, as jnp.exp(2.0)
        return apply(self.op, *args, **params)

    def __repr__(self) -> str:
        return f"<xpgrad custom op {self.op.name}>"


def custom_op(
    impl: Callable[..., Any] | None = None,
    *,
    vjp: Rules,
    jvp: Rules = None,
    name: str | None = None,
    elementwise: bool = True,
    domain: str = "floating",
    shape: Callable[..., Any] | None = None,
) -> Any:
    """Define a differentiable op from its array implementation and its derivative rules.

    Arguments:
        impl: ``impl(xp, *arrays, **params)``, the op on arrays of the array namespace ``xp`` (use only ``xp``'s
            functions, so it runs on every backend). Its keyword parameters with defaults are the op's.
        vjp: the reverse-mode rules, one per array argument (a single function for one):
            ``rule(g, out, *inputs, **params) -> Tensor``, the cotangent of that input given the cotangent ``g``
            of the output, written with xpgrad's functions (so it can be differentiated again). ``None`` for an
            input whose derivative is zero. Broadcasting is undone for you: return the cotangent broadcast to
            the output's shape, or shaped like the input.
        jvp: optional forward-mode rules, one per input (``rule(t, out, *inputs, **params)``, the output's
            tangent from the tangent ``t`` of that input). Without them forward mode derives them: from ``vjp``
            for an elementwise op, else by transposing ``vjp``.
        name: the op's name in graphs and pictures (default: ``impl``'s).
        elementwise: the op maps elements to elements with broadcasting (the default); else give ``shape``.
        domain: the dtypes it accepts: ``"floating"`` (default: integers promote to floats), ``"real_floating"``,
            ``"numeric"``, ``"real"`` or ``"any"``.
        shape: for a non-elementwise op, ``shape(*input_shapes, **params) -> tuple`` (the output's shape);
            without it the shape is known once evaluated.

    Returns:
        The op as a function (`CustomOp`) building its node from Tensors, arrays or numbers. Used as a
        decorator, ``@custom_op(vjp=...)`` on ``impl``.

    Example:
        >>> import xpgrad
        >>> @xpgrad.custom_op(vjp=lambda g, out, x: g * xpgrad.exp(x - out))  # sigmoid, stably
        ... def log1pexp(xp, x):
        ...     return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))
        >>> x = xpgrad.Tensor([0.0, 1000.0])
        >>> print(log1pexp(x), xpgrad.grad(xpgrad.sum(log1pexp(x)), [x])[0])
        T:[6.93147181e-01 1.00000000e+03] T:[0.5 1. ]
    """
    if impl is None:
        return lambda f: custom_op(f, vjp=vjp, jvp=jvp, name=name, elementwise=elementwise, domain=domain, shape=shape)
    if not callable(impl):
        raise TypeError(f"custom_op: impl must be a function impl(xp, *arrays, **params); got {type(impl).__name__}")
    opname = name or getattr(impl, "__name__", None)
    if not opname or not opname.isidentifier():
        raise ValueError(f"custom_op: give the op a name that is an identifier (name=...); got {opname!r}")
    arity, params = _signature(opname, impl)
    rules = _rules(opname, "vjp", vjp, arity, NO_RULE)
    forward = None if jvp is None else _rules(opname, "jvp", jvp, arity, None)
    if forward is not None:
        forward = tuple(ZERO if f is None and rules[k] is ZERO else f for k, f in enumerate(forward))
    if opname in OPS:
        if opname not in _CUSTOM:
            raise ValueError(f"custom_op: {opname!r} is the name of a built-in op; choose another (name=...)")
        del OPS[opname]  # defined again: new nodes use the new definition
    kw: dict[str, Any] = {}
    if not elementwise:
        kw["shape"] = (lambda _n, *cs, **p: _call_shape(shape, cs, p)) if shape is not None else _unknown_shape
    op = defop(
        opname,
        arity,
        lambda xp, *arrays, **p: impl(xp, *arrays, **p),
        vjp=rules,
        jvp=forward,
        domain=domain,
        elementwise=elementwise,
        params=params,
        public=False,
        doc=(impl.__doc__ or "").strip(),
        **kw,
    )
    _CUSTOM.add(opname)
    return CustomOp(op, impl)


def _signature(name: str, impl: Callable[..., Any]) -> tuple[int, dict[str, Any]]:
    try:
        sig = inspect.signature(impl)
    except (TypeError, ValueError):
        raise TypeError(f"custom_op {name!r}: cannot read impl's signature; write def {name}(xp, x, ...)") from None
    ps = list(sig.parameters.values())
    positional = [p for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    params = {p.name: p.default for p in ps if p.default is not p.empty}
    if len(positional) < 2:
        raise TypeError(
            f"custom_op {name!r}: impl takes the array namespace first, then the arrays: def {name}(xp, x, ...); "
            f"got ({', '.join(p.name for p in ps)})"
        )
    return len(positional) - 1, params


def _rules(name: str, kind: str, rules: Rules, arity: int, missing: Any) -> tuple[Any, ...]:
    if rules is None:
        return (missing,) * arity
    seq = (rules,) if callable(rules) else tuple(rules)
    if len(seq) != arity:
        raise ValueError(f"custom_op {name!r}: {arity} array argument(s) but {len(seq)} {kind} rule(s); give one each")
    for k, r in enumerate(seq):
        if r is not None and not callable(r):
            raise TypeError(f"custom_op {name!r}: {kind} rule {k} must be a function or None; got {type(r).__name__}")
    return tuple((ZERO if kind == "vjp" else None) if r is None else r for r in seq)


def _call_shape(shape: Callable[..., Any], children: tuple[Any, ...], params: dict[str, Any]) -> Any:
    shapes = [c._shape for c in children]
    return None if any(s is None for s in shapes) else tuple(shape(*shapes, **params))


def _unknown_shape(_name: str, *_children: Any, **_params: Any) -> Any:
    return None
