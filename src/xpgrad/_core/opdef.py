"""The op record. Every op xpgrad knows is one `OpDef`, registered once in `_table.py`.

An OpDef says, side by side: the op's name, arity and keyword parameters; ``impl``, the
backend-neutral function it applies (it receives the array namespace ``xp`` and calls e.g.
``xp.add``); which dtypes it accepts and how it promotes; its derivative rules, one per input;
optional build-time rewrites and constant folding; its scalar forms in fused kernels (`CForm` of
floating or bool operands, `IntForm` of integers); how ``expr()`` writes it (``infix``); and whether
it is a public function (``public``). Nothing else in xpgrad is per-op: the public functions, the
operators, the fused engines, the text forms and the per-op tests read these fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = [
    "INT_IDENTITY",
    "LINEAR",
    "NO_RULE",
    "OPS",
    "ZERO",
    "CForm",
    "IntForm",
    "OpDef",
    "Rule",
    "defop",
    "takes_backend",
]

Rule = Callable[..., "Tensor"]
"""A derivative rule: ``rule(g, out, *inputs, **params) -> Tensor``, the cotangent for one input.

``g`` is the cotangent of the op's output, ``out`` the op's node itself, ``inputs`` its children.
Rules are written with xpgrad's own ops, so the gradient they build is differentiable again.
"""


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ZERO: Any = _Marker("ZERO")
"""Rule entry: the derivative is zero by definition (comparisons, rounding, shape references)."""
NO_RULE: Any = _Marker("NO_RULE")
"""Rule entry: no derivative is defined; differentiating through it raises, naming the op."""
LINEAR: Any = _Marker("LINEAR")
"""Forward-mode rule entry: the op is linear in this input (the others held fixed, read for their shapes or
as weights): its tangent is the op applied to the input's tangent in its place (``sum(t)``, ``t[key]``)."""

Domain = Literal["numeric", "floating", "real", "real_floating", "integer", "bool", "integer_or_bool", "any"]
"""Which dtypes an op accepts (see `_dtypes._ACCEPTS`). 'floating' and 'real_floating' ops promote bool and
integer inputs to the namespace's default floating dtype (deliberately: sin(1) is a float, as in NumPy,
PyTorch and JAX); the 'real' ones refuse complex inputs, as the standard does."""


@dataclass(frozen=True)
class CForm:
    """An op's scalar expression in a fused kernel: one template for each engine.

    ``{0}``, ``{1}``... are the operands (always variable names or literals, so repeating one costs nothing)
    and ``{T}`` is the type of the program's floating values: ``float64``/``float32`` in `numba`'s Python,
    ``double``/``float`` in `cuda`'s C. A floating program's values are of its floating dtype or bool, so a form
    of a bitwise op is the form of its bool case; a program computing in one integer dtype takes its ops' integer
    forms (`IntForm`, the entry's ``int_c``).
    Forms follow the reference backend's IEEE results, inf, nan and signed zeros included
    (NumPy for numba; the same operations in C for CUDA): the fused tests check each one against eager.
    """

    numba: str
    """A Python expression numba compiles (``math`` and ``np`` in scope; ``error_model="numpy"``)."""
    cuda: str
    """A C expression (CUDA's math functions: ``sin``, ``log1p``, ``fmod``...; no fused multiply-add)."""

    @classmethod
    def same(cls, text: str) -> CForm:
        """A form written alike in Python and C (``({0} + {1})``)."""
        return cls(text, text)

    @classmethod
    def libm(cls, name: str, arity: int = 1) -> CForm:
        """The C math library's ``name`` on the operands: ``math.name(...)`` for numba, ``name(...)`` in C."""
        args = ", ".join(f"{{{k}}}" for k in range(arity))
        return cls(f"math.{name}({args})", f"{name}({args})")


@dataclass(frozen=True)
class IntForm:
    """An op's scalar expression on operands of a fused program's integer dtype: NumPy's integer loop, operation for
    operation, one `CForm` for signed dtypes and one for unsigned ones; or ``refused``, why no kernel computes it.

    Templates as `CForm`'s, where ``{T}`` is the program's integer type (``int8``... in numba's Python, ``signed
    char``... in C) and ``{W}`` its width in bits; in C, ``{U}`` is the unsigned type the arithmetic wraps in
    (``unsigned int``, ``unsigned long long`` for 64 bits: C's signed overflow is undefined, its unsigned arithmetic
    wraps). numba computes a small integer's arithmetic in 64 bits: a form casts each result back to ``{T}``, which
    keeps its low bits, so every op wraps as NumPy's (``-(-128)`` is ``-128`` in int8). Where NumPy's loop tests its
    operands, so does the form: division and remainder by zero give 0, ``MIN // -1`` is ``MIN``, a shift by a
    negative count or one not below the width gives 0 (``>>`` of a negative value: -1). `_compile/fuse/integers.py`
    fills the templates in; tests/test_fuse_integers.py and tests/test_fuse_cuda_integers.py check every form
    against eager on the 8 integer dtypes.
    """

    signed: CForm | None
    unsigned: CForm | None
    refused: str = ""
    """Why the op has no integer form, and what to do (then `fuse` refuses it on integers, naming op and dtype)."""

    @classmethod
    def same(cls, numba: str, cuda: str | None = None) -> IntForm:
        """One form for signed and unsigned dtypes (``cuda`` None: written alike in Python and C)."""
        form = CForm(numba, numba if cuda is None else cuda)
        return cls(form, form)

    @classmethod
    def wrapping(cls, symbol: str) -> IntForm:
        """``{0} <symbol> {1}`` wrapping around in ``{T}`` (``+``, ``-``, ``*``)."""
        return cls.same(f"{{T}}({{0}} {symbol} {{1}})", f"(({{T}})(({{U}}){{0}} {symbol} ({{U}}){{1}}))")

    @classmethod
    def refuse(cls, why: str) -> IntForm:
        """No integer form: ``why`` (and what to do instead), which `fuse`'s refusal quotes."""
        return cls(None, None, why)

    def of(self, signed: bool) -> CForm | None:
        """The form for a signed (or unsigned) dtype; None if refused."""
        return self.signed if signed else self.unsigned


INT_IDENTITY = IntForm.same("{0}", "({0})")
"""The integer form of an op that leaves an integer as it is (``floor``, ``real``, ``positive``...)."""


@dataclass(frozen=True, eq=False, repr=False)
class OpDef:
    name: str
    arity: int
    impl: Callable[..., Any]
    vjp: tuple[Any, ...]
    domain: Domain = "numeric"
    elementwise: bool = True
    result: Literal["same", "bool", "real"] = "same"  # "real": the real counterpart of a complex dtype
    params: dict[str, Any] = field(default_factory=dict)
    promote: tuple[int, ...] = ()
    dtype: Callable[..., Any] | None = None
    moves: bool = False
    symmetric: bool = False  # op(a, b) == op(b, a), each input's rule the other's mirrored: one rule for y * y
    meta: tuple[int, ...] = ()  # inputs whose values are read only for their shape, dtype and device
    shape: Callable[..., Any] | None = None
    simplify: Callable[..., Any] | None = None
    fold: Callable[..., Any] | None = None
    c: CForm | None = None  # the scalar form in fused kernels; None: `fuse` refuses the op, naming it
    # the scalar form on operands of a fused program's integer dtype; None: refused on integers, naming op and dtype
    # (an op of floating results, whose integer operands are cast to floats, or of bools only, needs none)
    int_c: IntForm | None = None
    # how `expr()` writes it: a Python operator ("+", "==", unary "-" for one operand), "[]" for a subscript;
    # None: a call, ``name(x, param=...)``. (Its precedence is Python's for the symbol.)
    infix: str | None = None
    # internal ops (public=False) that gradients are built of: how `expr()`, `show` and pictures write a node as the
    # standard functions it amounts to, ``text(*operands, **params) -> "sum({0}, axis=0)"`` (``{k}``: operand k's
    # text), or None where it cannot say (then the op's own name, explained on docs/concepts.md)
    text: Callable[..., str | None] | None = None
    dunder: str | None = None  # the Tensor operator it is: "add" installs __add__ and __radd__
    public: bool = True  # an ``xpgrad.<name>`` function (and a namespace one); False: built by rules and composites
    doc: str = ""
    # forward-mode rules, one per input: ``rule(t, out, *inputs, **params) -> Tensor``, the tangent of the output
    # from the tangent ``t`` of that input (`LINEAR`, `ZERO`, or None: derived by `_core.tangents`: an
    # elementwise op's vjp rule applied to ``t``, else the transpose of the vjp rule). Or one rule for all the
    # inputs, ``rule(ts, out, *inputs, **params)``, ``ts`` a tuple of tangents (None: zero), where the tangents
    # combine into fewer ops than the contributions' sum (``(ta - out * tb) / b`` for ``a / b``)
    jvp: tuple[Any, ...] | Callable[..., Any] | None = None

    def function(self, xp: Any) -> Any:
        """The array-API function this op applies in namespace ``xp`` (e.g. ``xp.add``), if it is one."""
        return getattr(xp, self.name, None)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


OPS: dict[str, OpDef] = {}


def defop(name: str, arity: int, impl: Callable[..., Any] | None = None, **kw: Any) -> OpDef:
    """Register an op. ``impl`` defaults to the namespace function of the same name."""
    if name in OPS:
        raise ValueError(f"op {name!r} is already defined")
    if impl is None:
        impl = _namespace_call(name)
    vjp = kw.pop("vjp", (NO_RULE,) * arity)
    kw.setdefault("promote", tuple(range(arity)))
    if len(vjp) != arity:
        raise ValueError(f"op {name!r}: {arity} inputs but {len(vjp)} derivative rules")
    if isinstance(kw.get("jvp"), tuple) and len(kw["jvp"]) != arity:
        raise ValueError(f"op {name!r}: {arity} inputs but {len(kw['jvp'])} forward-mode rules")
    op = OPS[name] = OpDef(name, arity, impl, tuple(vjp), **kw)
    return op


def takes_backend(impl: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``impl`` as taking the `Backend` itself instead of its namespace: for the few array-level steps
    a library does its own way (writing into an index of an immutable JAX array, a negative step in PyTorch),
    which it declares as hooks of its `Backend` (``bk.write``, ``bk.index``; ``bk.xp`` is the namespace)."""
    impl.takes_backend = True  # type: ignore[attr-defined]  # read by Backend.fn
    return impl


def _namespace_call(name: str) -> Callable[..., Any]:
    def impl(xp: Any, *args: Any, **kw: Any) -> Any:
        return getattr(xp, name)(*args, **kw)

    impl.__name__ = f"xp.{name}"
    impl.namespace_name = name  # type: ignore[attr-defined]  # lets Backend.fn call xp.<name> directly
    return impl
