"""The exceptions xpgrad raises, one place so users can catch them by name."""

from __future__ import annotations

__all__ = ["AxisError", "BackendMismatchError", "BackendUnavailableError", "PlaceholderError"]


class BackendUnavailableError(RuntimeError):
    """A backend was asked for that cannot run here (e.g. CuPy without a usable CUDA device)."""


class BackendMismatchError(TypeError):
    """An op combined Tensors that live on different backends or devices."""


class PlaceholderError(ValueError):
    """A value was needed from a graph that depends on a placeholder that has not been fed."""


class AxisError(ValueError, IndexError):
    """An axis out of range for an array's dimensions (a ValueError and an IndexError, as NumPy's AxisError:
    the standard asks ``expand_dims`` for an IndexError)."""


for _cls in (BackendUnavailableError, BackendMismatchError, PlaceholderError, AxisError):
    _cls.__module__ = "xpgrad"  # (tracebacks name them as users import them: xpgrad.PlaceholderError)
