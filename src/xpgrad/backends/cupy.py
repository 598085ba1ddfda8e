"""CuPy: the GPU backend. Probed lazily (never at import) and the verdict cached."""

from __future__ import annotations

import functools
from typing import Any

from ._base import Backend

NAME = "cupy"
HINT = " Use backend='auto' to fall back to NumPy when no GPU is usable."
"""Said after the reason when the backend is asked for and unusable."""


@functools.cache
def probe() -> str | None:
    """None when CuPy can run a kernel on a CUDA device here, else CuPy's own reason."""
    try:
        import cupy
    except Exception as e:  # ImportError, or a broken CUDA install raising at import
        return f"CuPy is not installed or failed to import ({type(e).__name__}: {e})"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "CuPy found no CUDA device"
        cupy.asarray([1.0]).sum().item()  # a real kernel launch: catches driver/toolkit mismatches
    except Exception as e:
        return f"CuPy cannot use a CUDA device ({type(e).__name__}: {e})"
    return None


def load() -> Backend:
    import array_api_compat
    import array_api_compat.cupy as xp
    import cupy

    def from_numpy(a: Any, device: Any = None) -> Any:
        if device is None:
            return cupy.asarray(a)
        with device:
            return cupy.asarray(a)

    return Backend(
        name=NAME,
        xp=xp,
        owns=array_api_compat.is_cupy_array,
        to_numpy=cupy.asnumpy,
        from_numpy=from_numpy,
        ufuncs=cupy,
        scatter_add=_scatter_add,
    )


def _scatter_add(g: Any, indices: Any, n: int, axis: int) -> Any:
    """`Backend.scatter_add`: ``cupyx.scatter_add`` into zeros (atomic adds)."""
    import cupy
    import cupyx

    out = cupy.zeros((*g.shape[:axis], n, *g.shape[axis + 1 :]), dtype=g.dtype)
    cupyx.scatter_add(out, (slice(None),) * axis + (indices,), g)
    return out


def is_module(mod: Any) -> bool:
    return getattr(mod, "__name__", "") in ("cupy", "array_api_compat.cupy")
