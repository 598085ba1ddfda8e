"""Forward mode and Hessian-vector products on B1's expression, as ratios to each library's own forward pass.

    python -m benchmarks.transforms [--n 1000000] [--repeat 7]

B1 is ``sum(sin(x)*y + exp(x*y)/(1+y*y))`` (benchmarks/exprs.py). For each library, in one process and one
thread, interleaved round after round (the best of ``--repeat``): the forward pass (the value), ``jvp`` (the
value and its directional derivative along ``(tx, ty)``) and ``hvp`` (the Hessian times ``(vx, vy)``,
forward over reverse, never forming the Hessian). Each figure is that time over the same library's forward
pass. xpgrad runs eager (building the graph is computing it), compiled (`xpgrad.function`) and fused
(`xpgrad.fuse`, with numba); JAX under ``jax.jit``; PyTorch (``torch.func``) eager. Every answer is checked
against xpgrad's eager one before timing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .threads import thread_env

if __name__ == "__main__":  # one thread for every library, before any of them is imported
    os.environ.update(thread_env(1))

import numpy as np

Case = dict[str, Callable[[], Any]]


def _xpgrad_cases(x: np.ndarray, y: np.ndarray, t: tuple[np.ndarray, ...]) -> dict[str, Case]:
    import xpgrad

    def b1(a: Any, b: Any) -> Any:
        return xpgrad.sum(xpgrad.sin(a) * b + xpgrad.exp(a * b) / (1 + b * b))

    def eager_fwd() -> Any:
        return b1(xpgrad.Tensor(x), xpgrad.Tensor(y)).numpy()

    def eager_jvp() -> Any:
        X, Y = xpgrad.Tensor(x), xpgrad.Tensor(y)
        out = b1(X, Y)
        _, tan = xpgrad.jvp(out, [X, Y], [t[0], t[1]])
        return out.numpy(), tan.numpy()

    def eager_hvp() -> Any:
        X, Y = xpgrad.Tensor(x), xpgrad.Tensor(y)
        hx, hy = xpgrad.hvp(b1(X, Y), [X, Y], [t[2], t[3]])
        return hx.numpy(), hy.numpy()

    cases = {"xpgrad eager": {"forward": eager_fwd, "jvp": eager_jvp, "hvp": eager_hvp}}
    ph = [xpgrad.placeholder(shape=(None,), dtype="float64", name=n) for n in ("x", "y", "tx", "ty")]
    out = b1(ph[0], ph[1])
    _, tan = xpgrad.jvp(out, ph[:2], ph[2:])
    hv = xpgrad.hvp(out, ph[:2], ph[2:])
    engines: list[tuple[str, Callable[..., Any]]] = [("function", xpgrad.function)]
    try:
        import numba  # noqa: F401

        engines.append(("fuse", xpgrad.fuse))
    except ImportError:
        print("(numba not installed: no fused figures)", file=sys.stderr)
    for label, make in engines:
        fwd = make(ph[:2], [out])
        jv = make(ph, [out, tan])
        hp = make(ph, list(hv))
        cases[f"xpgrad {label}"] = {
            "forward": lambda fwd=fwd: fwd(x, y),
            "jvp": lambda jv=jv: jv(x, y, t[0], t[1]),
            "hvp": lambda hp=hp: hp(x, y, t[2], t[3]),
        }
    return cases


def _jax_cases(x: np.ndarray, y: np.ndarray, t: tuple[np.ndarray, ...]) -> dict[str, Case]:
    try:
        import jax
    except ImportError:
        print("(jax not installed)", file=sys.stderr)
        return {}
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def b1(a: Any, b: Any) -> Any:
        return jnp.sum(jnp.sin(a) * b + jnp.exp(a * b) / (1 + b * b))

    fwd = jax.jit(b1)
    jv = jax.jit(lambda a, b, ta, tb: jax.jvp(b1, (a, b), (ta, tb)))
    hp = jax.jit(lambda a, b, va, vb: jax.jvp(jax.grad(b1, (0, 1)), (a, b), (va, vb))[1])
    X, Y, T = jnp.asarray(x), jnp.asarray(y), [jnp.asarray(v) for v in t]

    def ready(v: Any) -> Any:
        return jax.block_until_ready(v)

    return {
        "JAX jit": {
            "forward": lambda: ready(fwd(X, Y)),
            "jvp": lambda: ready(jv(X, Y, T[0], T[1])),
            "hvp": lambda: ready(hp(X, Y, T[2], T[3])),
        }
    }


def _torch_cases(x: np.ndarray, y: np.ndarray, t: tuple[np.ndarray, ...]) -> dict[str, Case]:
    try:
        import torch
        import torch.func
    except ImportError:
        print("(torch not installed)", file=sys.stderr)
        return {}
    torch.set_num_threads(1)

    def b1(a: Any, b: Any) -> Any:
        return torch.sum(torch.sin(a) * b + torch.exp(a * b) / (1 + b * b))

    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    T = [torch.from_numpy(v) for v in t]
    grad = torch.func.grad(b1, argnums=(0, 1))
    return {
        "PyTorch": {
            "forward": lambda: b1(X, Y),
            "jvp": lambda: torch.func.jvp(b1, (X, Y), (T[0], T[1])),
            "hvp": lambda: torch.func.jvp(grad, (X, Y), (T[2], T[3]))[1],
        }
    }


def _flat(v: Any) -> list[np.ndarray]:
    if isinstance(v, (tuple, list)):
        return [a for item in v for a in _flat(item)]
    if hasattr(v, "numpy") and not isinstance(v, np.ndarray):
        v = v.detach().numpy() if hasattr(v, "detach") else v.numpy()
    return [np.asarray(v, dtype=np.float64).reshape(-1)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, args.n), rng.uniform(-1, 1, args.n)
    t = tuple(rng.uniform(-1, 1, args.n) for _ in range(4))
    cases = {**_xpgrad_cases(x, y, t), **_jax_cases(x, y, t), **_torch_cases(x, y, t)}
    want = {k: _flat(f()) for k, f in cases["xpgrad eager"].items()}
    for name, case in cases.items():  # every answer agrees (and every jit is compiled) before timing
        for k, f in case.items():
            got = _flat(f())
            if k == "jvp" and len(got) == 2:
                got = got[:2]
            for g, w in zip(got, want[k], strict=True):
                np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9, err_msg=f"{name} {k}")
    best = {(name, k): float("inf") for name, case in cases.items() for k in case}
    for _ in range(args.repeat):
        for name, case in cases.items():
            for k, f in case.items():
                t0 = time.perf_counter()
                f()
                best[name, k] = min(best[name, k], time.perf_counter() - t0)
    print(f"B1 sum(sin(x)*y + exp(x*y)/(1+y*y)), n={args.n:,}, float64, one thread, best of {args.repeat}")
    print("ratio to the same library's forward pass (lower is better); forward pass in ms")
    print(f"{'library':<18} {'forward ms':>10} {'jvp / fwd':>10} {'hvp / fwd':>10}")
    for name in cases:
        fwd = best[name, "forward"]
        print(f"{name:<18} {fwd * 1e3:>10.2f} {best[name, 'jvp'] / fwd:>10.2f} {best[name, 'hvp'] / fwd:>10.2f}")


if __name__ == "__main__":
    main()
