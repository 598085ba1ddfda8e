"""Graphs and inputs shared by the fused-kernel tests (fused == unfused on each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import xpgrad
from xpgrad import _fuse
from xpgrad._fuse import cexpr

SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e300, -1e300, 1e-310, np.inf, -np.inf, np.nan]


def inputs(n: int, k: int, dtype: str = "float64", seed: int = 0) -> list[np.ndarray]:
    """``k`` arrays of ``n`` values: random ones, then every pair of special values (inf, nan, -0.0...)."""
    rng = np.random.default_rng(seed)
    m = len(SPECIALS)
    out = []
    for j in range(k):
        a = rng.uniform(-3.0, 3.0, n)
        grid = np.array(SPECIALS)[(np.arange(m * m) // m**j) % m] if k > 1 else np.array(SPECIALS)
        a[: len(grid)] = grid[:n]
        with np.errstate(over="ignore"):  # 1e300 is inf in float32
            out.append(a.astype(dtype))
    return out


def placeholders(k: int, dtype: str = "float64") -> list[xpgrad.Tensor]:
    return [xpgrad.placeholder(shape=(None,), dtype=dtype, name=f"x{j}") for j in range(k)]


def compute_bound(x: Any, y: Any) -> Any:
    return xpgrad.sum(xpgrad.sin(x) * y + xpgrad.exp(x * y) / (1 + y * y))


def memory_bound(x: Any, y: Any) -> Any:
    return xpgrad.sum((x * y + x) * y)


B1: dict[str, Callable[..., Any]] = {"compute": compute_bound, "memory": memory_bound}


def with_grads(out: Any, ps: list[Any]) -> list[Any]:
    return [out, *xpgrad.grad(out, ps)]


def op_graph(name: str) -> tuple[list[Any], list[Any]]:
    """Placeholders and outputs exercising op ``name``: its result, a sum of it, and its gradients."""
    op = xpgrad.OPS[name]
    ps = placeholders(op.arity)
    args = list(ps)
    if name == "where":
        args[0] = ps[0] > 0.25
    r = xpgrad.OPS[name] and _apply(name, args)
    if op.result == "bool":
        r = xpgrad.where(r, ps[0], ps[1])
    outs = [r, xpgrad.sum(r)]
    try:
        outs += xpgrad.grad(xpgrad.sum(r), ps)
    except NotImplementedError:
        pass
    return ps, outs


def _apply(name: str, args: list[Any]) -> Any:
    from xpgrad._build import apply

    return apply(xpgrad.OPS[name], *args)


FUSIBLE_OPS = sorted(n for n in cexpr.PY if n in xpgrad.OPS)


def unfused(ps: list[Any], outs: list[Any]) -> Callable[..., list[Any]]:
    """The reference: the graph evaluated op by op (NumPy's warnings on inf/nan silenced)."""
    f = _fuse.fuse(ps, outs, engine="unfused")

    def run(*arrays: Any) -> list[Any]:
        with np.errstate(all="ignore"):
            return f(*arrays)

    return run
