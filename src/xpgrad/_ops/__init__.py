"""The op table: one `OpDef` entry per op (array-API function, dtype domain, derivative rules,
rewrites, fused C form, text form), built on the core."""

from . import arrays, basic, elementwise, linalg, manipulation, searching, transforms  # noqa: F401  (each module registers its ops)

# isort: split
# (after the others, so that the table's order, and the generated files, keep theirs)
from . import cumulative, linalg_ext  # noqa: F401
