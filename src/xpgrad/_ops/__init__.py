"""The op table: one `OpDef` entry per op (array-API function, dtype domain, derivative rules,
rewrites, fused C form, text form), built on the core."""

from . import arrays, basic, elementwise, linalg, manipulation, searching, transforms  # noqa: F401  (each module registers its ops)
