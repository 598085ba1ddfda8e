"""Forward mode: one iterative sweep, inputs to outputs, that builds the tangent graph with xpgrad's own ops.

``jvp(outs, inputs, tangents)`` pushes each input's tangent through the graph, node by node, as JAX's
``jvp`` does: every node's tangent is the sum of one contribution per input that carries a tangent, each
given by the op's forward-mode rule (`OpDef.jvp`). The tangent graph costs a small constant times the
forward graph (one or two ops per op), never one reverse sweep per input element. Rules come from, in
this order:

- the op's own entry: a rule ``rule(t, out, *inputs, **params)``, `LINEAR` (the op applied to ``t`` in
  the input's place: ``sum(t)``, ``t[key]``), or `ZERO`; or one rule taking every input's tangent at once;
- a `ZERO` vjp entry: zero here too;
- an elementwise op's vjp rule, applied to the tangent: its Jacobian is diagonal, so ``rule(t, ...)``
  (``t * cos(a)`` for sin) is the tangent's contribution, broadcast to the output's shape. With complex
  values too (docs/complex.md): a holomorphic op's rule is ``t * f'(z)``, and a real output of a complex
  input (``real``, ``imag``, ``abs``) keeps the real part, ``Re(rule(t))``, which is its R-linear tangent
  (``Re(conj(z) t) / |z|`` for abs, ``Im(t)`` for imag); ``conj`` is its own transpose;
- else the transpose of the vjp rule, built by a reverse sweep over the rule alone (``g`` a stand-in of
  zeros shaped like the output): correct for any op with a vjp rule, at the price of one evaluation of
  that rule (used by ``prod``, ``max``/``min``, ``var``/``std`` and ops without forward rules).

The tangents are graphs: they print, compile, fuse (where elementwise) and differentiate again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _dtypes
from .._options import options
from .build import apply, derivative_level
from .opdef import LINEAR, NO_RULE, OPS, ZERO, OpDef
from .sweep import grad
from .tensor import Tensor
from .walk import toposort

__all__ = ["jvp"]


def jvp(outs: Sequence[Tensor], inputs: Sequence[Tensor], tangents: Sequence[Any]) -> list[Tensor]:
    """The tangents of ``outs`` when each of ``inputs`` moves along its tangent (a Jacobian-vector product).

    Arguments:
        outs: Tensors of a graph.
        inputs: Tensors of the same graph (leaves, placeholders or intermediates), held as the variables.
        tangents: one per input, shaped like it: Tensors (placeholders too) or arrays.

    Returns:
        One Tensor per output, shaped like it: zeros where the output does not depend on the inputs.
    """
    ins = list(inputs)
    if len(ins) != len(tangents):
        raise ValueError(f"jvp: {len(ins)} inputs but {len(tangents)} tangents; pass one tangent per input")
    tan: dict[Tensor, Tensor] = {}
    for i, (x, t) in enumerate(zip(ins, tangents, strict=True)):
        if not isinstance(x, Tensor):
            raise TypeError(f"jvp: inputs[{i}] is a {type(x).__name__}, not a Tensor of the graph")
        tan[x] = _tangent(i, x, t)
    order = toposort(outs)
    with derivative_level(1 + max((n._level for n in order), default=0)):
        for node in order:
            if node in tan or node.op is None:
                continue
            children = node.children
            if not any(c in tan for c in children):
                continue
            if _kind(node) < _dtypes.FLOAT:  # an integer or bool result: piecewise constant, zero tangent
                continue
            rules = node.op.jvp
            if rules is not None and not isinstance(rules, tuple):  # one rule for all the inputs
                ts = tuple(tan.get(c) for c in children)
                params = node.params
                t = rules(ts, node, *children, **params) if params else rules(ts, node, *children)
                tan[node] = _fit_out(t, node)
                continue
            if node.op.symmetric and children[0] is children[1]:  # y * y: one contribution, twice (as the sweep)
                contrib = _contribution(node, 0, tan[children[0]])
                if contrib is not None:
                    tan[node] = _fit_out(contrib * 2, node)
                continue
            total = None
            for k, child in enumerate(children):
                t = tan.get(child)
                if t is None:
                    continue
                contrib = _contribution(node, k, t)
                if contrib is None:
                    continue
                total = contrib if total is None else total + contrib
            if total is not None:
                tan[node] = _fit_out(total, node)
        return [tan[o] if o in tan else apply(OPS["zeros_like"], o) for o in outs]


def _kind(n: Tensor) -> int:
    if n._dtype is None or n._bk is None:
        return _dtypes.FLOAT  # unknown until fed: treated as floating
    return _dtypes.dtype_kind(n._bk.xp, n._dtype)


def _tangent(i: int, x: Tensor, t: Any) -> Tensor:
    tt = t if isinstance(t, Tensor) else Tensor(t, backend=x._bk)
    if x._shape is not None and tt._shape is not None and tuple(tt._shape) != tuple(x._shape):
        raise ValueError(f"jvp: tangents[{i}] has shape {tt._shape}, but its input has shape {x._shape}")
    if _kind(tt) == _dtypes.COMPLEX and _kind(x) != _dtypes.COMPLEX:
        raise TypeError(
            f"jvp: tangents[{i}] is complex ({_dtypes.dtype_name(tt._bk.xp, tt._dtype)}) but its input is real "
            f"({_dtypes.dtype_name(tt._bk.xp, x._dtype)}): a real input moves "
            "along real tangents only (as jax.jvp); pass the real part, or make the input complex"
        )
    if _kind(x) == _dtypes.COMPLEX and _kind(tt) == _dtypes.FLOAT and x._dtype is not None:
        tt = apply(OPS["astype"], tt, dtype=x._dtype)  # a real tangent of a complex input: along the real axis
    moved = tt._bk is not x._bk or (x._device is not None and tt._device is not None and tt._device != x._device)
    if moved and tt._bk is not None:  # (a placeholder's device is known once fed: it stays as it is)
        tt = tt.to(x._bk, device=x._device)
    return tt


def _contribution(node: Tensor, k: int, t: Tensor) -> Tensor | None:
    op: OpDef = node.op  # type: ignore[assignment]  # (an op node: the sweep skips leaves)
    children, params = node.children, node.params
    rule = op.jvp[k] if isinstance(op.jvp, tuple) else None  # (the one-rule form: taken by `jvp` itself)
    if rule is None:
        back = op.vjp[k]
        if back is ZERO:
            return None
        if back is NO_RULE:
            raise NotImplementedError(
                f"jvp: op {op.name!r} has no derivative rule for its input {k}; it cannot be differentiated "
                "(stop the gradient before it, or give the op a rule)"
            )
        if op.elementwise:
            return back(t, node, *children, **params) if params else back(t, node, *children)
        return _transposed(node, k, t)
    if rule is ZERO:
        return None
    if rule is LINEAR:
        args = list(children)
        args[k] = t
        return apply(op, *args, **params)
    if rule is NO_RULE:
        raise NotImplementedError(f"jvp: op {op.name!r} has no forward-mode rule for its input {k}")
    return rule(t, node, *children, **params) if params else rule(t, node, *children)


def _transposed(node: Tensor, k: int, t: Tensor) -> Tensor:
    """``J_k t`` from the vjp rule ``g -> J_k^T g``: the gradient, with respect to ``g``, of ``<J_k^T g, t>``.

    With complex values the pairing is JAX's, ``Re(sum(ct * t))`` (a vjp rule is the transpose of the
    R-linear jvp under it: docs/complex.md), and the sweep's gradient of a real function of a complex ``g``,
    df/dx - i df/dy, is then exactly ``J_k t``."""
    op: OpDef = node.op  # type: ignore[assignment]
    with options(merge=False):  # a stand-in of its own, never merged with a zeros_like of the graph
        g = apply(OPS["zeros_like"], node)
    rule = op.vjp[k]
    back = rule(g, node, *node.children, **node.params) if node.params else rule(g, node, *node.children)
    pairing = apply(OPS["sum"], back * t)
    if _kind(pairing) == _dtypes.COMPLEX:  # JAX's pairing of cotangents and tangents is Re(sum(ct * t))
        pairing = apply(OPS["real"], pairing)
    return grad(pairing, [g])[0]


def _fit_out(t: Tensor, node: Tensor) -> Tensor:
    """A tangent broadcast to its node's shape and cast to its (floating) dtype, where it is not already."""
    ts, ns = t._shape, node._shape
    if ts is not None and ts == ns and None not in ts and t._dtype is not None and t._dtype == node._dtype:
        return t
    return apply(OPS["broadcast_like"], t, node)
