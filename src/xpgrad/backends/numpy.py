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
    )


def probe() -> str | None:
    """None when usable, else the reason."""
    try:
        import numpy  # noqa: F401
    except ImportError as e:  # pragma: no cover - numpy is a hard dependency
        return str(e)
    return None


def is_module(mod: Any) -> bool:
    return getattr(mod, "__name__", "") in ("numpy", "array_api_compat.numpy")
