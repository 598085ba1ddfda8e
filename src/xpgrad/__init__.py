"""xpgrad: differentiable array expressions as graphs, on any array-API backend.

Example:
    >>> import xpgrad
    >>> x, y = xpgrad.Tensor(3), xpgrad.Tensor(5)
    >>> z = (x + y) * y
    >>> print(z, z.grad(y))
    T:40 T:13
"""

from __future__ import annotations

from . import _table, _table_arrays, _table_elementwise  # noqa: F401  (register the ops)
from ._check import check_grads
from ._dot import to_dot
from ._errors import BackendMismatchError, BackendUnavailableError, PlaceholderError
from ._function import Function, function
from ._functions import public_functions
from ._fuse import FusionError, fuse
from ._grad import grad
from ._namespace import namespace
from ._operators import install as _install_operators
from ._operators import methods as _install_methods
from ._ops import OPS
from ._options import Options, options
from ._render import GraphvizUnavailableError, render
from ._show import format_tree, show
from ._simplify import simplify
from ._tensor import Tensor, placeholder
from .backends import available_backends, default_backend, get_backend, set_default_backend

__version__ = "0.1.0"

_install_operators()
globals().update(public_functions())
_install_methods(public_functions())

__all__ = [
    "OPS",
    "BackendMismatchError",
    "BackendUnavailableError",
    "Function",
    "FusionError",
    "GraphvizUnavailableError",
    "Options",
    "PlaceholderError",
    "Tensor",
    "available_backends",
    "check_grads",
    "default_backend",
    "format_tree",
    "function",
    "fuse",
    "get_backend",
    "grad",
    "namespace",
    "options",
    "placeholder",
    "render",
    "set_default_backend",
    "show",
    "simplify",
    "to_dot",
    *public_functions(),
]
