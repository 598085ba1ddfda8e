"""Contenders: each library (and mode) that is timed against the hand-written NumPy baseline.

Libraries are imported only by :func:`load`, so listing contenders imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import Peer, Prepared, Unavailable

__all__ = ["BASELINE", "CONTENDERS", "Peer", "Prepared", "Unavailable", "load"]

BASELINE = "numpy"

# name -> (module, keyword arguments of its load())
CONTENDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "numpy": ("numpy_ref", {}),
    "xpgrad": ("xpgrad_peer", {"compiled": False}),
    "xpgrad-fn": ("xpgrad_peer", {"compiled": True}),
    "xpgrad-fused": ("xpgrad_fused_peer", {}),
    "autograd": ("autograd_peer", {}),
    "jax": ("jax_peer", {"jit": False}),
    "jax-jit": ("jax_peer", {"jit": True}),
    "torch": ("torch_peer", {}),
}


def load(name: str) -> Peer:
    """The contender's adapter; raises :class:`Unavailable` when its library cannot be imported."""
    module_name, kwargs = CONTENDERS[name]
    module = importlib.import_module(f"{__name__}.{module_name}")
    peer: Peer = module.load(**kwargs)
    return peer
