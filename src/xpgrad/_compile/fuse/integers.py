"""Integer programs: which dtypes a fused program may compute in, and each op's integer form (`OpDef.int_c`, an
`IntForm` in the op's table entry) filled in for one dtype and one engine.

A program computes in one integer dtype as NumPy's integer loops do, operation for operation: it wraps around,
division and remainder by zero give 0 (NumPy warns, a kernel does not), ``MIN // -1`` is ``MIN``, shifts by a count
that is negative or not below the width give 0 (``>>`` of a negative value: -1). The forms say how, op by op; an op
without one is refused on integers, naming the op, the dtype and, where the entry gives it, why and what to do.
"""

from __future__ import annotations

from typing import Literal

from ..._core.opdef import OPS, OpDef

__all__ = ["C_INTEGER_TYPES", "INTEGER_DTYPES", "integer_form", "refusal"]

INTEGER_DTYPES = {f"{s}int{w}": w for s in ("", "u") for w in (8, 16, 32, 64)}
"""The integer dtypes a fused program may compute in, with their widths."""

C_INTEGER_TYPES = {
    "int8": "signed char",  # (plain char's sign is the compiler's choice)
    "uint8": "unsigned char",
    "int16": "short",
    "uint16": "unsigned short",
    "int32": "int",
    "uint32": "unsigned int",
    "int64": "long long",
    "uint64": "unsigned long long",
}
"""Each integer dtype's C type in the CUDA kernels."""


def _wrap_type(dtype: str) -> str:
    """The unsigned C type a form's arithmetic on ``dtype`` wraps in (``{U}``): C promotes the narrower types to
    ``int``, whose overflow is undefined (``65535 * 65535``), so at least ``unsigned int``."""
    return "unsigned long long" if INTEGER_DTYPES[dtype] == 64 else "unsigned int"


def integer_form(op: str, dtype: str, engine: Literal["numba", "cuda"] = "numba") -> str:
    """Op ``op``'s form on operands of integer ``dtype`` for ``engine`` (``{0}``.. the operands; ``{T}``, ``{W}``
    and ``{U}`` filled in): numba's Python, or CUDA's C. The lowering emits integer instructions only for ops with
    one (`refusal`)."""
    int_c = OPS[op].int_c
    form = None if int_c is None else int_c.of(signed=not dtype.startswith("u"))
    assert form is not None, (op, dtype)
    if engine == "numba":
        text, t = form.numba, dtype
    else:
        text, t = form.cuda, C_INTEGER_TYPES[dtype]
    return text.replace("{T}", t).replace("{W}", str(INTEGER_DTYPES[dtype])).replace("{U}", _wrap_type(dtype))


def refusal(op: OpDef, dtype: str) -> str | None:
    """Why ``op`` cannot be fused on operands of integer ``dtype`` (`FusionError`'s message), or None: it can."""
    if op.int_c is not None and not op.int_c.refused:
        return None
    if op.int_c is not None:
        return f"fuse: op {op.name!r} has no fused form for {dtype} operands ({op.int_c.refused})"
    fusible = sorted(n for n, o in OPS.items() if o.int_c is not None and not o.int_c.refused)
    return (
        f"fuse: op {op.name!r} has no fused form for {dtype} operands (the integer ops that fuse are "
        f"{', '.join(fusible)}); run the graph unfused (fuse(..., engine='unfused'))"
    )
