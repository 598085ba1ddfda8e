"""The fused forms of ops on integer operands (NumPy's integer loops, operation for operation), for the CPU engine.

The op table's forms (`OpDef.c`) are of floating or bool operands. An instruction with an integer operand takes
its form from `FORMS` instead, one template for signed and one for unsigned dtypes (``{T}``: the program's
integer dtype, ``{W}``: its width in bits). numba computes a small integer's arithmetic in 64 bits: each result
is cast back to ``{T}``, which keeps its low bits, so every op wraps around as NumPy's does (``-(-128)`` is
``-128`` in int8, ``abs`` of the minimum too). Where NumPy's C loop tests its operands, so does the form:

- ``floor_divide`` and ``remainder`` by zero give 0 (NumPy warns, the kernel does not); ``MIN // -1`` is ``MIN``
  (it wraps) and ``x % -1`` is 0, never the machine's division of them (a trap on x86);
- shifts by a count that is negative or not below the width give 0 (``>>`` of a negative value: -1), as NumPy's
  ``npy_lshift``/``npy_rshift``;
- ``pow`` has none: NumPy raises for a negative exponent, which a kernel cannot (refused, naming the dtype).

An op without an entry is refused for integer operands, naming the op and the dtype. The CUDA engine fuses
floating programs only.
"""

from __future__ import annotations

__all__ = ["FORMS", "INTEGER_DTYPES", "integer_form"]

INTEGER_DTYPES = {f"{s}int{w}": w for s in ("", "u") for w in (8, 16, 32, 64)}
"""The integer dtypes a fused program may compute in, with their widths."""

_MAX = "({0} if {0} > {1} else {1})"
_MIN = "({0} if {0} < {1} else {1})"
_IDENTITY = "{0}"

FORMS: dict[str, tuple[str, str]] = {
    # name: (signed form, unsigned form)
    "add": ("{T}({0} + {1})",) * 2,
    "subtract": ("{T}({0} - {1})",) * 2,
    "multiply": ("{T}({0} * {1})",) * 2,
    "square": ("{T}({0} * {0})",) * 2,
    "negative": ("{T}(-{0})", "{T}({T}(0) - {0})"),
    "positive": (_IDENTITY,) * 2,
    "abs": ("({T}(-{0}) if {0} < 0 else {0})", _IDENTITY),
    "sign": ("({T}(1) if {0} > 0 else ({T}(-1) if {0} < 0 else {T}(0)))", "({T}(1) if {0} > 0 else {T}(0))"),
    "floor_divide": (
        "({T}(0) if {1} == 0 else ({T}(-{0}) if {1} == -1 else {T}({0} // {1})))",
        "({T}(0) if {1} == 0 else {T}({0} // {1}))",
    ),
    "remainder": (
        "({T}(0) if ({1} == 0 or {1} == -1) else {T}({0} % {1}))",
        "({T}(0) if {1} == 0 else {T}({0} % {1}))",
    ),
    "bitwise_and": ("{T}({0} & {1})",) * 2,
    "bitwise_or": ("{T}({0} | {1})",) * 2,
    "bitwise_xor": ("{T}({0} ^ {1})",) * 2,
    "bitwise_invert": ("{T}(~{0})",) * 2,
    "bitwise_left_shift": (
        "({T}({0} << {1}) if ({1} >= 0 and {1} < {W}) else {T}(0))",
        "({T}({0} << {1}) if {1} < {T}({W}) else {T}(0))",
    ),
    "bitwise_right_shift": (
        "({T}({0} >> {1}) if ({1} >= 0 and {1} < {W}) else ({T}(-1) if {0} < 0 else {T}(0)))",
        "({T}({0} >> {1}) if {1} < {T}({W}) else {T}(0))",
    ),
    "maximum": (_MAX,) * 2,
    "minimum": (_MIN,) * 2,
    "clip_min": (_MAX,) * 2,
    "clip_max": (_MIN,) * 2,
    "floor": (_IDENTITY,) * 2,
    "ceil": (_IDENTITY,) * 2,
    "trunc": (_IDENTITY,) * 2,
    "round": (_IDENTITY,) * 2,
    "real": (_IDENTITY,) * 2,
    "conj": (_IDENTITY,) * 2,
    "imag": ("{T}(0)",) * 2,
    "isnan": ("False",) * 2,
    "isinf": ("False",) * 2,
    "isfinite": ("True",) * 2,
    "signbit": ("({0} < 0)", "False"),
    "equal": ("({0} == {1})",) * 2,
    "not_equal": ("({0} != {1})",) * 2,
    "less": ("({0} < {1})",) * 2,
    "less_equal": ("({0} <= {1})",) * 2,
    "greater": ("({0} > {1})",) * 2,
    "greater_equal": ("({0} >= {1})",) * 2,
    "where": ("({1} if {0} else {2})",) * 2,
}


def integer_form(op: str, dtype: str) -> str:
    """Op ``op``'s numba form on operands of integer ``dtype`` (``{0}``.. the operands, ``{T}`` filled in)."""
    signed, unsigned = FORMS[op]
    text = unsigned if dtype.startswith("u") else signed
    return text.replace("{T}", dtype).replace("{W}", str(INTEGER_DTYPES[dtype]))
