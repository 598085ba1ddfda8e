"""Each fusible op's scalar expression, in Python (for numba) and in C (for CUDA), keyed by op name.

A template's ``{0}``, ``{1}``... are the operands (always variable names or literals, so repeating one
costs nothing) and ``{T}`` is the C type of the result's operands. This is a name -> template mapping
for now, so that the op table (`_table.py`, being extended by another change) stays untouched; it is
meant to move into the table as an ``OpDef`` field (``cexpr``), one line beside each op's rules.

The forms follow the array API's IEEE semantics, inf and nan included: ``maximum``/``minimum``
propagate nan as NumPy does; ``sign`` keeps nan and gives +0.0 for both zeros, as NumPy (``+ 0`` turns -0.0
into +0.0 and leaves every other value as it is; numba's ``np.sign(-0.0)`` is -0.0).
"""

from __future__ import annotations

__all__ = ["C", "PY", "fusible"]

_ARITH = {
    "add": "({0} + {1})",
    "subtract": "({0} - {1})",
    "multiply": "({0} * {1})",
    "divide": "({0} / {1})",
    "negative": "(-{0})",
    "positive": "(+{0})",
    "square": "({0} * {0})",
    "equal": "({0} == {1})",
    "not_equal": "({0} != {1})",
    "greater": "({0} > {1})",
    "greater_equal": "({0} >= {1})",
    "less": "({0} < {1})",
    "less_equal": "({0} <= {1})",
}

PY: dict[str, str] = {
    **_ARITH,
    "sin": "math.sin({0})",
    "cos": "math.cos({0})",
    "exp": "math.exp({0})",
    "log": "math.log({0})",
    "tanh": "math.tanh({0})",
    "sqrt": "math.sqrt({0})",
    "abs": "abs({0})",
    "pow": "({0} ** {1})",
    "sign": "(np.sign({0}) + {T}(0))",
    "maximum": "({0} if ({0} > {1} or {0} != {0}) else {1})",
    "minimum": "({0} if ({0} < {1} or {0} != {0}) else {1})",
    "where": "({1} if {0} else {2})",
}
"""Python scalar expressions, compiled by numba (``math``, ``np`` are in scope)."""

C: dict[str, str] = {
    **_ARITH,
    "sin": "sin({0})",
    "cos": "cos({0})",
    "exp": "exp({0})",
    "log": "log({0})",
    "tanh": "tanh({0})",
    "sqrt": "sqrt({0})",
    "abs": "fabs({0})",
    "pow": "pow({0}, {1})",
    "sign": "(({0} > 0) ? ({T})1 : (({0} < 0) ? ({T})-1 : ({0} + ({T})0)))",
    "maximum": "((({0} > {1}) || ({0} != {0})) ? {0} : {1})",
    "minimum": "((({0} < {1}) || ({0} != {0})) ? {0} : {1})",
    "where": "({0} ? {1} : {2})",
}
"""C expressions, for the CUDA kernel (`cuda.raw_source`; CUDA's math functions have these names)."""


def fusible(name: str) -> bool:
    return name in PY and name in C
