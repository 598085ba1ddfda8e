"""Public functions that are not one op: the standard's signatures over one or more table ops.

`clip` takes optional bounds; the others are added here as the vocabulary grows. Each is a thin
function that builds ops with `apply`, so gradients come from the ops' own rules.
"""

from __future__ import annotations

from typing import Any

from ._build import apply
from ._ops import OPS
from ._tensor import Tensor

__all__ = ["COMPOSITES", "clip"]


def clip(x: Any, /, min: Any = None, max: Any = None) -> Tensor:
    """clip(x, /, min=None, max=None): the array API's clip, differentiable.

    The gradient goes to ``x`` where ``min <= x <= max`` (bounds included, as PyTorch's clamp) and to
    a bound where it binds. Bounds may be Tensors, arrays or Python numbers.
    """
    out = x if isinstance(x, Tensor) else apply(OPS["positive"], x)
    if min is not None:
        out = apply(OPS["clip_min"], out, min)
    if max is not None:
        out = apply(OPS["clip_max"], out, max)
    return out


COMPOSITES = {"clip": clip}
