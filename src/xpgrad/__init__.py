"""xpgrad: differentiable array expressions as graphs, on any array-API backend.

Example:
    >>> import xpgrad
    >>> x, y = xpgrad.Tensor(3), xpgrad.Tensor(5)
    >>> z = (x + y) * y
    >>> print(z, z.grad(y))
    T:40 T:13
"""

from __future__ import annotations

from . import (  # noqa: F401  (register the ops)
    _build,
    _cse,
    _expr,
    _graph,
    _namespace,
    _pickling,
    _plugins,
    _release,
    _render,
    _table,
    _table_arrays,
    _table_elementwise,
)
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
from ._render import GraphvizUnavailableError, render
from ._show import format_tree, show
from ._simplify import simplify
from ._tensor import Tensor, placeholder
from .backends import available_backends, default_backend, get_backend, set_default_backend

__version__ = "0.1.0"

# The core's plug-in interface (`_plugins`): the optimisations, and what a Tensor's methods call above the node
_plugins.connect(
    release=_release.RELEASE,
    merge=_cse.MERGE,
    apply=_build.apply,
    binary=_build.apply_binary,
    settle=_build.settle,
    forward=_graph.forward,
    grad=grad,
    namespace=_namespace.for_tensor,
    expr=_expr.expr,
    svg=_render.repr_svg,
    reduce=_pickling.reduce_tensor,
)

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
    "placeholder",
    "render",
    "set_default_backend",
    "show",
    "simplify",
    "to_dot",
    *public_functions(),
]
