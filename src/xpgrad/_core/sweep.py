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
from .build import apply, build, derivative_level
from .opdef import NO_RULE, OPS, ZERO
from .tensor import Tensor
from .walk import toposort

__all__ = ["grad"]

_level_of = attrgetter("_level")


def grad(
    out: Tensor, wrt: Sequence[Tensor] | Tensor, cotangent: Any = None, *, holomorphic: bool = False
) -> list[Tensor]:
    """Gradients of ``sum(out * cotangent)`` (default cotangent: ones) with respect to each of ``wrt``.

    Arguments:
        out: the Tensor to differentiate.
        wrt: a Tensor or a sequence of Tensors of ``out``'s graph: leaves, placeholders or
            intermediates. A Tensor that ``out`` does not depend on gets zeros shaped like it.
        cotangent: the vector of the vector-Jacobian product, shaped like ``out``.
        holomorphic: ``out`` is a holomorphic function of complex ``wrt``: the gradient is the complex
            derivative f'(z) (``jax.grad(f, holomorphic=True)``). Without it a complex ``out`` is refused
            unless a ``cotangent`` is given; a real ``out`` of complex ``wrt`` gets JAX's gradient,
            df/dx - i df/dy (docs/complex.md).

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
        if holomorphic and kind is not None and kind != _dtypes.COMPLEX:
            raise TypeError(
                f"grad: holomorphic=True requires complex wrt, but wrt[{i}] has dtype "
                f"{_dtypes.dtype_name(w._bk.xp, w._dtype)}; convert it "
                "first (xpgrad.astype(x, 'complex128')), or leave holomorphic out for a real-valued output"
            )
    _check_output(out, cotangent, holomorphic)
    # Sets and dicts hold the nodes themselves: a Tensor hashes by identity in C (`Tensor.__hash__`),
    # where ``id(n)`` was a call a child (issue 5: per-node cost)
    order = toposort([out])
    want = set(targets)
    relevant: set[Tensor] = set(want)
    mark, disjoint = relevant.add, relevant.isdisjoint
    for n in order:
        if not disjoint(n.children):  # a child depends on ``wrt`` (the test in C: no loop here)
            mark(n)
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


def _check_output(out: Tensor, cotangent: Any, holomorphic: bool) -> None:
    """JAX's rules for complex outputs: ``grad`` of a complex output needs ``holomorphic=True`` (or a
    cotangent: a vector-Jacobian product), and ``holomorphic=True`` needs a complex output."""
    if out._dtype is None:  # a placeholder's dtype: known only when fed
        return
    xp = out._bk.xp
    is_complex = _dtypes.dtype_kind(xp, out._dtype) == _dtypes.COMPLEX
    if is_complex == holomorphic or (is_complex and cotangent is not None):  # the common cases: no name to make
        return
    name = _dtypes.dtype_name(xp, out._dtype)
    if is_complex and not holomorphic and cotangent is None:
        raise TypeError(
            f"grad requires real-valued outputs, but got {name}: for a holomorphic function pass "
            "holomorphic=True (the complex derivative f'(z)); else differentiate a real function of it "
            "(xpgrad.real(out), abs(out) ** 2), or pass a cotangent for a vector-Jacobian product"
        )
    if holomorphic and not is_complex:
        raise TypeError(
            f"grad: holomorphic=True requires a complex output, but got {name}; leave holomorphic out "
            "for a real-valued output (its gradient with respect to complex wrt is df/dx - i df/dy)"
        )


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
                cts[child] = build(add, (cts[child], contrib), add.params)  # the first rule's node (B4: a merge)
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
            if contrib is None:  # zero for these dtypes (``imag`` of a real input)
                continue
            if contrib._sig != child._sig or contrib._sig not in _plain_sigs:  # `_fit`'s first test, inlined
                contrib = _fit(contrib, child)
            prev = get(child)
            cts[child] = contrib if prev is None else build(add, (prev, contrib), add.params)  # = prev + contrib
    return results


_plain_sigs: set[int] = set()
"""Signatures (backend, device, shape, dtype) with a fully known shape and dtype: a contribution with the
signature of its target needs no `_fit` (the sweep tests this inline, issue 5)."""


def _fit(g: Tensor, target: Tensor) -> Tensor:
    """Undo broadcasting (sum back to ``target``'s shape) and match a floating or complex ``target``'s dtype
    (of a complex ``g``, a real ``target`` takes the real part: JAX's convention, docs/complex.md).

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
        gd is not None and td is not None and (gd == td or _dtypes.dtype_kind(target._bk.xp, td) < _dtypes.FLOAT)
    )
    if same_shape and same_dtype:
        return g
    return apply(OPS["fit"], g, target)
