"""NumPy: the CPU backend and the CPU fallback. Always available."""

from __future__ import annotations

from typing import Any

from ._base import Backend

NAME = "numpy"


def load() -> Backend:
    import array_api_compat
    import array_api_compat.numpy as xp
    import numpy as np

    return Backend(
        name=NAME,
        xp=xp,
        owns=array_api_compat.is_numpy_array,
        to_numpy=np.asarray,
        from_numpy=lambda a, device=None: np.asarray(a),
        ufuncs=np,
        number_arrays=True,
        scatter_add=_scatter_add,
    )


def _scatter_add(g: Any, indices: Any, n: int, axis: int) -> Any:
    """`Backend.scatter_add`: ``np.bincount`` for a 1-d float64 ``g`` (a loop in C, ~10x ``np.add.at``; it sums in
    float64, so only there), else ``np.add.at`` into zeros."""
    import numpy as np

    if g.ndim == 1 and g.dtype == np.float64:
        return np.bincount(indices.astype(np.intp, copy=False), weights=g, minlength=n)
    out = np.zeros((*g.shape[:axis], n, *g.shape[axis + 1 :]), dtype=g.dtype)
    np.add.at(out, (slice(None),) * axis + (indices,), g)
    return out


def probe() -> str | None:
    """None when usable, else the reason."""
    try:
        import numpy  # noqa: F401
    except ImportError as e:  # pragma: no cover - numpy is a hard dependency
        return str(e)
    return None


def is_module(mod: Any) -> bool:
    return getattr(mod, "__name__", "") in ("numpy", "array_api_compat.numpy")
