"""JAX on CPU with float64, eager (op by op, no jit) or jit-compiled."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..scenarios import Task
from .base import Prepared, Unavailable, arrays, flatten_value_and_grads


class JaxPeer:
    compiled: bool

    def __init__(self, jax: Any, jit: bool) -> None:
        self.jax = jax
        self.compiled = jit
        self.name = "jax-jit" if jit else "jax"

    def version(self) -> str:
        return str(self.jax.__version__)

    def _function(self, task: Task) -> tuple[Callable[..., Any], Callable[[Any], list[np.ndarray]]]:
        jax, jnp, expr = self.jax, self.jax.numpy, task.expr()
        if task.order == 1:
            fun = lambda *xs: expr(jnp, *xs)
            n_in = 2 if task.expr_name in ("compute", "memory") else 1
            return jax.value_and_grad(fun, argnums=tuple(range(n_in))), flatten_value_and_grads
        g1 = jax.grad(lambda x: expr(jnp, x))
        g2 = jax.grad(lambda x: jnp.sum(g1(x)))
        return lambda x: [g2(x)], arrays

    def prepare(self, task: Task, inputs: Sequence[np.ndarray]) -> Prepared:
        jax = self.jax
        fn, to_numpy = self._function(task)
        args = [jax.device_put(a) for a in inputs]
        if not self.compiled:
            return Prepared(call=lambda: jax.block_until_ready(fn(*args)), to_numpy=to_numpy)
        t0 = time.perf_counter()
        compiled = jax.jit(fn).lower(*args).compile()
        compile_s = time.perf_counter() - t0
        return Prepared(call=lambda: jax.block_until_ready(compiled(*args)), to_numpy=to_numpy, compile_s=compile_s)


def load(jit: bool) -> JaxPeer:
    try:
        import jax
    except ImportError as e:
        raise Unavailable(f"not importable: {e}") from e
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    jax.block_until_ready(jax.numpy.sin(jax.numpy.ones(2)))  # start the runtime now, not in the first timing
    return JaxPeer(jax, jit)
