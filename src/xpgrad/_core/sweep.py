"""Reverse mode: one iterative sweep that builds the gradient graph with xpgrad's own ops.

The gradient returned is itself a graph of Tensors (evaluated when the forward graph has values),
so it can be printed, re-evaluated after feeding placeholders, and differentiated again.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from operator import attrgetter
from typing import Any

from .. import _dtypes
from .._gc_pause import NODES, paused
from . import plugins as _plugins
from . import tensor as _tensor
from .build import apply, apply_binary, derivative_level
from .opdef import NO_RULE, OPS, ZERO
from .tensor import Tensor
from .walk import toposort

__all__ = ["grad"]

_level_of = attrgetter("_level")


def grad(out: Tensor, wrt: Sequence[Tensor] | Tensor, cotangent: Any = None) -> list[Tensor]:
    """Gradients of ``sum(out * cotangent)`` (default cotangent: ones) with respect to each of ``wrt``.

    Arguments:
        out: the Tensor to differentiate.
        wrt: a Tensor or a sequence of Tensors of ``out``'s graph: leaves, placeholders or
            intermediates. A Tensor that ``out`` does not depend on gets zeros shaped like it.
        cotangent: the vector of the vector-Jacobian product, shaped like ``out``.

    Returns:
        A list of Tensors (new graphs), one per ``wrt``, each shaped like its ``wrt``: all computed
        in ONE reverse sweep that shares work between shared subexpressions.

    Example:
        >>> x = Tensor([1.0, 2.0]); y = x * x
        >>> gx, = grad(y, [x]); print(gx)
        T:[2. 4.]
    """
    if not isinstance(out, Tensor):
        hint = (
            " (xpgrad differentiates a built graph, not a function as jax.grad does: out = f(x), then "
            "xpgrad.grad(out, [x]))"
            if callable(out)
            else ""
        )
        raise TypeError(f"grad: expected a Tensor to differentiate, got {type(out).__name__}{hint}")
    targets = [wrt] if isinstance(wrt, Tensor) else list(wrt)
    for i, w in enumerate(targets):
        if not isinstance(w, Tensor):
            raise TypeError(f"grad: wrt[{i}] is a {type(w).__name__}, not a Tensor of the graph")
        kind = None if w._dtype is None or w._bk is None else _dtypes.dtype_kind(w._bk.xp, w._dtype)
        if kind == _dtypes.BOOL:
            raise TypeError(
                f"grad: wrt[{i}] has dtype bool, which has no gradient; cast it to a floating dtype "
                "(xpgrad.astype(b, 'float64')) and differentiate with respect to that"
            )
        if kind == _dtypes.COMPLEX:
            raise NotImplementedError(
                f"grad: wrt[{i}] has complex dtype {w._dtype}; gradients with respect to complex inputs "
                "are not supported yet (differentiate the real and imaginary parts separately)"
            )
    # Sets and dicts hold the nodes themselves: a Tensor hashes by identity in C (`Tensor.__hash__`),
    # where ``id(n)`` was a call a child (issue 5: per-node cost)
    order = toposort([out])
    want = set(targets)
    relevant: set[Tensor] = set(want)
    mark, disjoint = relevant.add, relevant.isdisjoint
    for n in order:
        if not disjoint(n.children):  # a child depends on ``wrt`` (the test in C: no loop here)
            mark(n)
            if n._sig not in _real_sigs:
                _refuse_complex(n)
    results: dict[Tensor, Tensor] = {}
    # large arrays: built first, then evaluated in one go, freeing intermediates (by the release plug-in,
    # not with `options(release=False)`, which keeps every value)
    release = _plugins.release
    with (
        paused() if len(order) > NODES else nullcontext(),  # no full collection walks the graphs meanwhile
        derivative_level(1 + max(map(_level_of, order))),
        release.gradient(targets) as made,
    ):
        if out in relevant:
            results = _sweep(out, order, relevant, want, _seed(out, cotangent))
        grads = [results[w] if w in results else apply(OPS["zeros_like"], w) for w in targets]
        if made is not None:  # (still deferring: other threads do not merge with these nodes until settled)
            release.settle_all(made, [*grads, out])  # the output differentiated keeps its value too
    return grads


def _refuse_complex(n: Tensor) -> None:
    """Complex values between ``wrt`` and the output would have their imaginary parts dropped by
    the real-valued rules: raise instead of returning a silently wrong gradient."""
    if n.op is None or n._dtype is None:
        return
    if _dtypes.dtype_kind(n._bk.xp, n._dtype) == _dtypes.COMPLEX:
        raise NotImplementedError(
            f"grad: the gradient flows through op {n.op.name!r}, whose output is complex ({n._dtype}); "
            "gradients through complex values are not supported yet (work with real and imaginary parts "
            "as separate real Tensors)"
        )
    if n._sig is not None:
        if len(_real_sigs) >= _tensor.SIGNATURES:  # (signatures are never reused: a bound, not a leak)
            _real_sigs.clear()
        _real_sigs.add(n._sig)


_real_sigs: set[int] = set()
"""Signatures of op nodes found not complex: a signature names the dtype, so each is checked once
(issue 5: the check ran on every node between ``wrt`` and the output)."""


def _seed(out: Tensor, cotangent: Any) -> Tensor:
    if cotangent is None:
        return apply(OPS["ones_like"], out)
    ct = cotangent if isinstance(cotangent, Tensor) else Tensor(cotangent, backend=out._bk)
    if out._shape is not None and ct._shape is not None and ct._shape != out._shape:
        raise ValueError(f"grad: cotangent shape {ct._shape} does not match the output shape {out._shape}")
    if ct._dtype is not None and out._dtype is not None:
        kind, out_kind = _dtypes.dtype_kind(ct._bk.xp, ct._dtype), _dtypes.dtype_kind(out._bk.xp, out._dtype)
        if kind == _dtypes.BOOL or kind > max(out_kind, _dtypes.FLOAT):
            raise TypeError(
                f"grad: the cotangent has dtype {ct._dtype}, which cannot weight an output of dtype "
                f"{out._dtype}; pass a real floating (or integer) cotangent"
            )
    if ct._bk is not out._bk or (out._device is not None and ct._device != out._device):
        ct = ct.to(out._bk, device=out._device)  # the cotangent lives where the output lives
    return ct


def _sweep(
    out: Tensor, order: list[Tensor], relevant: set[Tensor], want: set[Tensor], seed: Tensor
) -> dict[Tensor, Tensor]:
    cts: dict[Tensor, Tensor] = {out: seed}
    results: dict[Tensor, Tensor] = {}
    take, get = cts.pop, cts.get
    add = OPS["add"]  # (looked up here: the op table registers after the core is imported)
    for node in reversed(order):
        g = take(node, None)
        if g is None:
            continue
        if node in want:
            results[node] = g
        op = node.op
        if op is None or op.result == "bool":
            continue
        children, params, rules = node.children, node.params, op.vjp
        contrib = None
        for k, child in enumerate(children):
            if child not in relevant:
                continue
            if contrib is not None and op.symmetric and child is children[0]:  # ``y * y``: the second rule
                cts[child] = apply_binary(add, cts[child], contrib)  # gives the first's node (issue 5, B4: a merge)
                continue
            rule = rules[k]
            if rule is ZERO:
                continue
            if rule is NO_RULE:
                raise NotImplementedError(
                    f"grad: op {op.name!r} has no derivative rule for its input {k}; it cannot be "
                    "differentiated (stop the gradient before it, or define a rule in xpgrad's op table)"
                )
            contrib = rule(g, node, *children, **params) if params else rule(g, node, *children)
            if contrib._sig != child._sig or contrib._sig not in _plain_sigs:  # `_fit`'s first test, inlined
                contrib = _fit(contrib, child)
            prev = get(child)
            cts[child] = contrib if prev is None else apply_binary(add, prev, contrib)  # = prev + contrib
    return results


_plain_sigs: set[int] = set()
"""Signatures (backend, device, shape, dtype) with a fully known shape and dtype: a contribution with the
signature of its target needs no `_fit` (the sweep tests this inline, issue 5)."""


def _fit(g: Tensor, target: Tensor) -> Tensor:
    """Undo broadcasting (sum back to ``target``'s shape) and match a floating ``target``'s dtype.

    Done once, here, for every rule. Skipped when the static shapes and dtypes already agree.
    """
    gs, ts = g._shape, target._shape
    if gs is ts and gs is not None and g._dtype is target._dtype and g._dtype is not None and None not in gs:
        if g._sig is not None and g._sig == target._sig:
            if len(_plain_sigs) >= _tensor.SIGNATURES:
                _plain_sigs.clear()
            _plain_sigs.add(g._sig)
        return g  # the common case, in three identity tests (issue 5): memoized nodes share these objects
    same_shape = gs is not None and gs == ts and None not in gs
    gd, td = g._dtype, target._dtype
    same_dtype = (
        gd is not None and td is not None and (gd == td or _dtypes.dtype_kind(target._bk.xp, td) != _dtypes.FLOAT)
    )
    if same_shape and same_dtype:
        return g
    return apply(OPS["fit"], g, target)
