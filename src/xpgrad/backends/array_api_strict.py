"""array-api-strict: the standard's reference namespace, with simulated devices.

It rejects everything the standard leaves undefined (mixed-kind arithmetic, float ops on integers,
arrays from two devices), so running the suite on it, on ``Device("device1")`` too, proves that the
core relies on nothing NumPy-specific and keeps every constant on the device it meets.
"""

from __future__ import annotations

from typing import Any

from ._base import Backend

NAME = "array_api_strict"


def probe() -> str | None:
    try:
        import array_api_strict  # noqa: F401
    except ImportError as e:
        return f"array-api-strict is not installed ({e}); pip install 'xpgrad[test]'"
    return None


def load() -> Backend:
    import array_api_strict as xp
    import numpy as np

    def from_numpy(a: Any, device: Any = None) -> Any:
        return xp.asarray(a, device=device)

    return Backend(
        name=NAME,
        xp=xp,
        owns=lambda x: type(x).__module__.startswith("array_api_strict"),
        to_numpy=lambda x: np.from_dlpack(x),
        from_numpy=from_numpy,
        strides=lambda x: np.from_dlpack(x).strides,  # (a view: the wrapped NumPy array's layout)
    )


def is_module(mod: Any) -> bool:
    return getattr(mod, "__name__", "") == "array_api_strict"
