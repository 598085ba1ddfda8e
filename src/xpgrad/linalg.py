"""The array API standard's linear-algebra extension, differentiable: ``xpgrad.linalg.inv(x)``... (`_api.linalg`)."""

from ._api import linalg as _linalg
from ._api.linalg import *  # noqa: F403  (every name of its __all__)

__all__ = _linalg.__all__
