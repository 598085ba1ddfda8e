"""xpgrad, eager (Tensor leaves, ops evaluate at once) or compiled (placeholders + ``xg.function``).

The API this adapter expects:
- ``xg.Tensor(numpy_array)`` is a leaf; ``xg.sin``, ``xg.exp``, ``xg.sum`` and the operators ``+ - * / **``
  (with Tensors and Python scalars on either side) evaluate eagerly; ``t.value`` is the array.
- ``xg.grad(out, [x, y])`` returns gradient Tensors (evaluated graphs); second derivative:
  ``xg.grad(xg.sum(xg.grad(out, [x])[0]), [x])[0]``.
- compiled: ``p = xg.placeholder(shape=..., dtype="float64")`` per input, ``grads = xg.grad(out, ps)``,
  ``f = xg.function(ps, [out, *grads])``, then ``f(x_array, y_array)`` returns a list of arrays.
A missing attribute, NotImplementedError or ImportError is reported as 'unavailable: <reason>'.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..scenarios import Task
from .base import Prepared, Unavailable, arrays


def _values(ts: Sequence[Any]) -> list[Any]:
    return [t.value for t in ts]


def _to_numpy(outs: Sequence[Any]) -> list[np.ndarray]:
    """Arrays, or Tensors (their ``.value``), as NumPy arrays."""
    return arrays([getattr(o, "value", o) for o in outs])


def graph(xg: Any, task: Task, xs: Sequence[Any]) -> list[Any]:
    """Outputs of the task as xpgrad Tensors built on the leaves or placeholders ``xs`` (value and gradients,
    or the second derivative): what every xpgrad contender computes, eager, compiled, fused, on any device."""
    out = task.expr()(xg, *xs)
    if task.order == 1:
        return [out, *xg.grad(out, list(xs))]
    g = xg.grad(out, [xs[0]])[0]
    return [xg.grad(xg.sum(g), [xs[0]])[0]]


class XpgradPeer:
    compiled: bool

    def __init__(self, xg: Any, compiled: bool) -> None:
        self.xg = xg
        self.compiled = compiled
        self.name = "xpgrad-fn" if compiled else "xpgrad"

    def version(self) -> str:
        return str(getattr(self.xg, "__version__", "?"))

    def prepare(self, task: Task, inputs: Sequence[np.ndarray]) -> Prepared:
        try:
            return self._prepare(task, inputs)
        except (AttributeError, NotImplementedError) as e:
            raise Unavailable(f"{type(e).__name__}: {e}") from e

    def _prepare(self, task: Task, inputs: Sequence[np.ndarray]) -> Prepared:
        xg = self.xg
        if not self.compiled:

            def call() -> list[Any]:
                return _values(graph(xg, task, [xg.Tensor(a) for a in inputs]))

            return Prepared(call=call, to_numpy=arrays)
        for attr in ("placeholder", "function"):
            if not hasattr(xg, attr):
                raise Unavailable(f"xpgrad has no {attr}()")
        t0 = time.perf_counter()
        ps = [xg.placeholder(shape=a.shape, dtype=str(a.dtype)) for a in inputs]
        fn = xg.function(ps, graph(xg, task, ps))
        compile_s = time.perf_counter() - t0
        return Prepared(call=lambda: fn(*inputs), to_numpy=_to_numpy, compile_s=compile_s)


def load(compiled: bool) -> XpgradPeer:
    try:
        import xpgrad
    except ImportError as e:
        raise Unavailable(f"not importable: {e}") from e
    return XpgradPeer(xpgrad, compiled)
