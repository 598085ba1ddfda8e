"""JAX: ``jax.numpy`` arrays on any of its devices, eagerly or under a trace (``jax.jit``, ``jax.grad``,
``jax.vmap`` of a function that builds or runs xpgrad graphs).

Hooks: arrays are immutable, so the adjoint of indexing writes with ``out.at[key].set(value)``; a
tracer's values cannot be read, so nothing reads them (`Backend.concrete`); float64 needs JAX's x64
mode, and asking for it without says how to enable it (JAX would silently make float32).
"""

from __future__ import annotations

from typing import Any

from ._base import Backend

NAME = "jax"
ROOTS = ("jax", "jaxlib")
"""The top-level packages whose array types this backend owns (``jaxlib._jax.ArrayImpl``, jax's tracers)."""

X64 = 'jax.config.update("jax_enable_x64", True)'
_WIDE = ("float64", "complex128", "int64", "uint64")


def probe() -> str | None:
    """None when usable, else the reason and what to install."""
    try:
        import jax.numpy  # noqa: F401
    except ImportError as e:
        return f"JAX is not installed ({e}); pip install 'jax[cpu]' (or jax[cuda12] for NVIDIA GPUs)"
    return None


def load() -> Backend:
    import jax
    import jax.numpy as xp
    import numpy as np

    def refusal(dtype: Any) -> str | None:
        name = np.dtype(dtype).name
        if name in _WIDE and not jax.config.read("jax_enable_x64"):
            return (
                f"backend 'jax': {name} needs JAX's 64-bit mode, which is off (JAX would make "
                f"{name.replace('64', '32').replace('128', '64')} arrays instead); enable it at startup with "
                f"{X64}, or use 32-bit dtypes"
            )
        return None

    def from_numpy(a: Any, device: Any = None) -> Any:
        a = np.asarray(a)
        why = refusal(a.dtype) if a.dtype.kind in "fciu" else None
        if why is not None:
            raise TypeError(why)
        return xp.asarray(a, device=device)

    return Backend(
        name=NAME,
        xp=xp,
        owns=lambda x: isinstance(x, jax.Array),
        to_numpy=np.asarray,  # (a tracer refuses, naming the trace: its values do not exist yet)
        from_numpy=from_numpy,
        setitem=lambda out, key, value: out.at[key].set(value),
        scatter_add=_scatter_add,
        concrete=lambda x: not isinstance(x, jax.core.Tracer),
        dtype_refusal=refusal,
        device_ref=lambda d: f"{d.platform}:{d.id}",
        device_spec=_device,
    )


def _scatter_add(g: Any, indices: Any, n: int, axis: int) -> Any:
    """`Backend.scatter_add`: ``zeros.at[..., indices].add(g)`` (on ``g``'s device; a tracer has none: the trace's)."""
    import jax
    import jax.numpy as jnp

    device = None if isinstance(g, jax.core.Tracer) else g.device
    out = jnp.zeros((*g.shape[:axis], n, *g.shape[axis + 1 :]), dtype=g.dtype, device=device)
    return out.at[(slice(None),) * axis + (indices,)].add(g)


def _device(spec: Any) -> Any:
    """A JAX device from its name as `device_ref` writes it (``"cpu:0"``, ``"gpu:1"``; ``"cpu"``: the first)."""
    if not isinstance(spec, str):
        return spec
    import jax

    platform, _, number = spec.partition(":")
    for d in jax.devices(platform):
        if not number or d.id == int(number):
            return d
    raise ValueError(f"backend 'jax': no device {spec!r}; JAX has {[f'{d.platform}:{d.id}' for d in jax.devices()]}")


def is_module(mod: Any) -> bool:
    return getattr(mod, "__name__", "") in ("jax", "jax.numpy")
