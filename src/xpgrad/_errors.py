"""The exceptions xpgrad raises, one place so users can catch them by name."""

from __future__ import annotations

__all__ = ["BackendMismatchError", "BackendUnavailableError", "PlaceholderError"]


class BackendUnavailableError(RuntimeError):
    """A backend was asked for that cannot run here (e.g. CuPy without a usable CUDA device)."""


class BackendMismatchError(TypeError):
    """An op combined Tensors that live on different backends or devices."""


class PlaceholderError(ValueError):
    """A value was needed from a graph that depends on a placeholder that has not been fed."""
