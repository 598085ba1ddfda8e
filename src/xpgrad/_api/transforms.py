"""Function transforms with JAX's meanings, each built as a graph: grad, value_and_grad, vjp, jvp, jacfwd,
jacrev, jacobian, hessian, hvp.

Each has two forms. The **graph form** takes Tensors already built (``grad(loss, [w])``, ``jvp(out, [x],
[t])``); the **function form** takes a Python function of Tensors and returns a new function, as JAX's do
(``grad(f)(x)``, ``jvp(f, (x,), (t,))``). Either way every result is a Tensor graph: it prints, compiles
(`xpgrad.function`), fuses where elementwise, and can be differentiated again. Reverse mode is the sweep
of `_core.sweep`; forward mode the one of `_core.tangents`.

The function forms take pytrees as JAX's do (`xpgrad._tree`): an argument may be a dict, list, tuple or
namedtuple of Tensors, arrays and numbers, nested; its gradient, tangent or Jacobian comes back in the same
containers, and ``f`` may return such a container of Tensors (to `vjp`, `jvp` and the Jacobians).

The function forms give ``f`` its own copy of each Tensor argument (the private op ``argument``, never
merged), so transforms nested inside ``f`` tell their variable apart from the caller's, as JAX's do:
``grad(lambda x: x * grad(lambda y: x * y)(x))(3.0)`` is 2 * 3, not 4 * 3.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, overload

from .. import _dtypes
from .._core import sweep as _sweep
from .._core import tangents as _tangents
from .._core.build import apply
from .._core.opdef import OPS
from .._core.tensor import Tensor
from .._options import options
from .._tree import TreeDef, tree_flatten, tree_paths, tree_unflatten
from ..backends import backend_of

__all__ = ["detach", "grad", "hessian", "hvp", "jacfwd", "jacobian", "jacrev", "jvp", "value_and_grad", "vjp"]

Function = Callable[..., Any]
Argnums = int | Sequence[int]


def detach(x: Any, /) -> Tensor:
    """detach(x, /): `xpgrad.stop_gradient` (PyTorch's name): x's value, with derivative zero."""
    return apply(OPS["stop_gradient"], x if isinstance(x, Tensor) else Tensor(x))


# ----------------------------------------------------------------- grad and value_and_grad
@overload
def grad(
    out: Tensor, wrt: Sequence[Tensor] | Tensor, cotangent: Any = None, *, holomorphic: bool = False
) -> list[Tensor]: ...
@overload
def grad(out: Function, wrt: Argnums = 0, *, has_aux: bool = False, holomorphic: bool = False) -> Function: ...
def grad(out: Any, wrt: Any = None, cotangent: Any = None, *, has_aux: bool = False, holomorphic: bool = False) -> Any:
    """Gradients: of a graph (``grad(t, [a, b])``) or of a function (``grad(f)(x)``, as ``jax.grad``).

    Graph form: ``grad(out, wrt, cotangent=None)``, the gradients of ``sum(out * cotangent)`` (default
    cotangent: ones) with respect to each of ``wrt``, from ONE reverse sweep (`_core.sweep.grad`).

    Function form: ``grad(f, argnums=0, has_aux=False)``, a function of ``f``'s arguments returning the
    gradient of ``f`` (which must return a scalar Tensor, as with ``jax.grad``) with respect to argument
    ``argnums`` (a tuple of them for several: a tuple of gradients). Arguments may be Tensors, arrays or
    Python numbers, or pytrees of them (dicts, lists, tuples: the gradient comes in the same containers);
    the gradients are Tensor graphs.

    Complex inputs (docs/complex.md): a real output gets JAX's gradient, df/dx - i df/dy;
    ``holomorphic=True`` gives the complex derivative f'(z) of a complex output, as ``jax.grad``'s.

    Example:
        >>> import xpgrad
        >>> x = xpgrad.Tensor([1.0, 2.0])
        >>> print(xpgrad.grad(x * x, [x])[0], xpgrad.grad(lambda x: xpgrad.sum(x * x))(x))
        T:[2. 4.] T:[2. 4.]
    """
    if isinstance(out, Tensor) or not callable(out):
        if wrt is None:
            raise TypeError("grad: missing wrt: grad(out, [x, ...]) for a graph, grad(f)(x) for a function")
        if has_aux:
            raise TypeError("grad: has_aux is for the function form, grad(f, has_aux=True)")
        return _sweep.grad(out, wrt, cotangent, holomorphic=holomorphic)
    if cotangent is not None:
        raise TypeError("grad: a function's gradient takes no cotangent (use xpgrad.vjp(f, x) for one)")
    f, argnums = out, 0 if wrt is None else wrt
    both = _value_and_grad("grad", f, argnums, has_aux, holomorphic)

    def gradient(*args: Any) -> Any:
        value, g = both(*args)
        return (g, value[1]) if has_aux else g

    return _named(gradient, "grad", f)


def value_and_grad(f: Function, argnums: Argnums = 0, *, has_aux: bool = False, holomorphic: bool = False) -> Function:
    """``f`` and its gradient together, as ``jax.value_and_grad``: ``value, g = value_and_grad(f)(x)``.

    ``f`` returns a scalar Tensor (with ``has_aux=True``, a pair ``(scalar, aux)``: then the value is the
    pair). The gradient is with respect to argument ``argnums`` (a tuple for several: a tuple of gradients),
    from one reverse sweep.

    Example:
        >>> import xpgrad
        >>> value, g = xpgrad.value_and_grad(lambda w: xpgrad.sum(w * w))(xpgrad.Tensor([3.0]))
        >>> print(value, g)
        T:9.0 T:[6.]
    """
    return _value_and_grad("value_and_grad", f, argnums, has_aux, holomorphic)


def _value_and_grad(name: str, f: Function, argnums: Argnums, has_aux: bool, holomorphic: bool = False) -> Function:
    _check_function(name, f)
    nums = _argnums(name, argnums)

    def both(*args: Any) -> tuple[Any, Any]:
        call, wrt, defs = _arguments(name, args, nums)
        result = f(*call)
        value = _split_aux(name, result)[0] if has_aux else result
        _scalar(name, value)
        grads = _sweep.grad(value, wrt, holomorphic=holomorphic) if wrt else []
        return result, _per_argnum(argnums, _unflatten_args(defs, grads))

    return _named(both, name, f)


# ----------------------------------------------------------------- vjp and jvp
def vjp(f_or_outputs: Any, *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """The value and its pullback (vector-Jacobian product), as ``jax.vjp``.

    Function form: ``out, pullback = vjp(f, *primals)``: ``f`` is called on the primals; ``pullback(ct)``
    (``ct`` shaped like ``out``: a Tensor or array, or the same containers of them when ``f`` returns a
    pytree) returns a tuple of cotangents, one per primal, each in its primal's containers. With
    ``has_aux=True`` ``f`` returns a pair ``(out, aux)`` and ``vjp`` returns ``(out, pullback, aux)``.
    Graph form: ``out, pullback = vjp(outputs, inputs)``, ``outputs`` a Tensor (or a tuple of Tensors),
    ``inputs`` a Tensor or a sequence of Tensors of its graph.

    Each pullback call is one reverse sweep; a placeholder cotangent gives a pullback graph to compile.

    Example:
        >>> import xpgrad
        >>> x = xpgrad.Tensor([1.0, 2.0])
        >>> out, pullback = xpgrad.vjp(lambda x: x * x, x)
        >>> print(pullback(xpgrad.Tensor([1.0, 10.0]))[0])
        T:[ 2. 40.]
    """
    if callable(f_or_outputs) and not isinstance(f_or_outputs, Tensor):
        call, ins, defs = _arguments("vjp", primals, range(len(primals)))
        result = f_or_outputs(*call)
        out, aux = _split_aux("vjp", result) if has_aux else (result, None)
        outs, out_def = _outputs("vjp", out)

        def pullback(cotangent: Any) -> tuple[Any, ...]:
            cts, ct_def = tree_flatten(cotangent)
            if ct_def != out_def:
                raise ValueError(
                    f"vjp: the cotangent is shaped {ct_def}, but f's output {out_def}; pass one cotangent per output "
                    "leaf, in the same containers"
                )
            return tuple(_unflatten_args(defs, _pull(outs, ins, cts)))

        return (out, pullback, aux) if has_aux else (out, pullback)
    if has_aux:
        raise TypeError("vjp: has_aux is for the function form, vjp(f, *primals, has_aux=True)")
    if len(primals) != 1:
        raise TypeError("vjp: the graph form is vjp(outputs, inputs): inputs a Tensor or a list of Tensors")
    out, ins = f_or_outputs, _tensors("vjp", "inputs", primals[0])
    outs = _tensors("vjp", "outputs", out)

    def graph_pullback(cotangent: Any) -> tuple[Tensor, ...]:
        cts = cotangent if isinstance(out, (tuple, list)) else (cotangent,)
        return tuple(_pull(outs, ins, list(cts)))

    return out, graph_pullback


def _pull(outs: list[Tensor], ins: list[Tensor], cts: list[Any]) -> list[Tensor]:
    """The cotangents of ``ins`` for cotangents ``cts`` of ``outs``: one reverse sweep."""
    if len(cts) != len(outs):
        raise ValueError(f"vjp: {len(outs)} outputs but {len(cts)} cotangents; pass one per output")
    if not ins:
        return []
    if len(outs) == 1:
        return _sweep.grad(outs[0], ins, cts[0])
    total = None
    for i, (o, ct) in enumerate(zip(outs, cts, strict=True)):
        c = ct if isinstance(ct, Tensor) else Tensor(ct, backend=o._bk)
        if o._shape is not None and c._shape is not None and tuple(c._shape) != tuple(o._shape):
            raise ValueError(f"vjp: cotangent {i} has shape {c._shape}, its output {o._shape}")
        term = apply(OPS["sum"], o * c)
        total = term if total is None else total + term
    return _sweep.grad(total, ins)  # type: ignore[arg-type]  # (at least one output)


@overload
def jvp(
    f_or_outputs: Function, primals: Sequence[Any], tangents: Sequence[Any], *, has_aux: bool = False
) -> tuple[Any, ...]: ...
@overload
def jvp(f_or_outputs: Tensor | Sequence[Tensor], primals: Any, tangents: Any) -> tuple[Any, ...]: ...
def jvp(f_or_outputs: Any, primals: Any, tangents: Any, *, has_aux: bool = False) -> tuple[Any, ...]:
    """Forward mode: the value and its Jacobian-vector product, as ``jax.jvp``.

    Function form: ``out, tangent_out = jvp(f, primals, tangents)``, ``primals`` and ``tangents`` tuples of
    the same length (one tangent per argument, shaped like it; for a pytree argument, a pytree of the same
    containers). A pytree output gives its tangent in the same containers. With ``has_aux=True`` ``f``
    returns a pair ``(out, aux)`` and ``jvp`` returns ``(out, tangent_out, aux)``. Graph form: ``out,
    tangent_out = jvp(outputs, inputs, tangents)``: ``inputs`` a Tensor or a sequence, ``tangents`` alike. A
    tuple of outputs gives a tuple of tangents.

    The tangent graph costs a small constant times the forward graph (one pass, pushed from the inputs):
    not one reverse sweep per element. Complex values follow JAX: the tangent is the R-linear map of the
    input's tangent (``Re(conj(z) dz) / |z|`` for ``abs(z)``; docs/complex.md).

    Example:
        >>> import xpgrad
        >>> x = xpgrad.Tensor([0.0, 1.0])
        >>> out, t = xpgrad.jvp(xpgrad.sin, (x,), (xpgrad.Tensor([1.0, 1.0]),))
        >>> print(t)
        T:[1.         0.54030231]
    """
    if callable(f_or_outputs) and not isinstance(f_or_outputs, Tensor):
        call, ins, ts = _primals_and_tangents("jvp", primals, tangents)
        result = f_or_outputs(*call)
        out, aux = _split_aux("jvp", result) if has_aux else (result, None)
        outs, out_def = _outputs("jvp", out)
        tangent_out = tree_unflatten(out_def, _tangents.jvp(outs, ins, ts))
        return (out, tangent_out, aux) if has_aux else (out, tangent_out)
    if has_aux:
        raise TypeError("jvp: has_aux is for the function form, jvp(f, primals, tangents, has_aux=True)")
    out = f_or_outputs
    ins = _tensors("jvp", "inputs", primals)
    given = tangents if isinstance(primals, (tuple, list)) else (tangents,)
    if not isinstance(given, (tuple, list)):
        raise TypeError("jvp: inputs is a sequence, so tangents must be one too (one per input)")
    outs = _tensors("jvp", "outputs", out)
    result = _tangents.jvp(outs, ins, list(given))
    return out, (tuple(result) if isinstance(out, (tuple, list)) else result[0])


def _primals_and_tangents(name: str, primals: Any, tangents: Any) -> tuple[list[Any], list[Tensor], list[Any]]:
    """The function's arguments (variables at every leaf), the variables, and their tangents' leaves."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        v = "t" if name == "jvp" else "v"
        raise TypeError(f"{name}: primals and tangents are tuples, one entry per argument: {name}(f, (x,), ({v},))")
    if len(primals) != len(tangents):
        raise ValueError(f"{name}: {len(primals)} primals but {len(tangents)} tangents; pass one tangent per primal")
    call, ins, defs = _arguments(name, primals, range(len(primals)))
    ts: list[Any] = []
    for i, (t, d) in enumerate(zip(tangents, defs, strict=True)):
        leaves, t_def = tree_flatten(t)
        if t_def != d:
            raise ValueError(
                f"{name}: tangents[{i}] is shaped {t_def}, but primals[{i}] {d}; give each primal a tangent in the "
                "same containers"
            )
        ts.extend(leaves)
    return call, ins, ts


# ----------------------------------------------------------------- Jacobians, Hessians
def jacrev(f: Any, argnums: Any = 0, *, has_aux: bool = False, holomorphic: bool = False) -> Any:
    """The Jacobian by reverse mode (one sweep per output element), as ``jax.jacrev``.

    Function form: ``jacrev(f, argnums=0, has_aux=False)(*args)``. Graph form: ``jacrev(out, x)`` (``x`` a
    Tensor or a sequence: then a tuple). The Jacobian of ``out`` with respect to ``x`` has shape ``out.shape +
    x.shape``. Best for few outputs and many inputs. Pytrees nest as JAX nests them: the output's containers
    hold, for each output leaf, the input's containers of blocks (with a tuple ``argnums``, a tuple of them);
    with ``has_aux=True`` ``f`` returns ``(out, aux)`` and the result is ``(jacobian, aux)``. As JAX's, the
    function form takes real inputs and outputs (the complex derivative f'(z) of a holomorphic function with
    ``holomorphic=True``: then complex ones).
    """
    return _jacobian_transform("jacrev", f, argnums, "rev", has_aux, holomorphic)


def jacfwd(f: Any, argnums: Any = 0, *, has_aux: bool = False, holomorphic: bool = False) -> Any:
    """The Jacobian by forward mode (one tangent pass per input element), as ``jax.jacfwd``.

    Same forms, shapes and nesting as `jacrev`; best for few inputs and many outputs. As JAX's, the function
    form takes real inputs (complex outputs too), and complex ones with ``holomorphic=True``.
    """
    return _jacobian_transform("jacfwd", f, argnums, "fwd", has_aux, holomorphic)


def jacobian(f: Any, argnums: Any = 0, *, has_aux: bool = False, holomorphic: bool = False) -> Any:
    """The Jacobian, by forward mode where the inputs have fewer elements than the outputs, else reverse.

    Function form: ``jacobian(f, argnums=0, has_aux=False)(*args)``; graph form: ``jacobian(out, x)``. Shape
    ``out.shape + x.shape``; pytrees nest as in `jacrev`.

    Example:
        >>> import numpy as np, xpgrad
        >>> x = xpgrad.Tensor(np.array([1.0, 2.0]))
        >>> print(xpgrad.jacobian(lambda x: x * x)(x))
        T:[[2. 0.]
         [0. 4.]]
    """
    return _jacobian_transform("jacobian", f, argnums, None, has_aux, holomorphic)


def hessian(f: Any, argnums: Any = 0, *, has_aux: bool = False, holomorphic: bool = False) -> Any:
    """The Hessian: the forward-mode Jacobian of the reverse-mode gradient, as ``jax.hessian``.

    Function form: ``hessian(f, argnums=0, has_aux=False)(*args)``, ``f`` returning a scalar; graph form:
    ``hessian(out, x)``, of ``sum(out)`` as `grad` takes it. Shape ``x.shape + x.shape``; for several arguments
    (a tuple ``argnums``, or a sequence ``x``) a tuple of tuples of blocks, ``[i][j]`` the derivative with
    respect to arguments i and j, as JAX nests them; a pytree argument gives its containers of its containers
    of blocks. To multiply by a vector without forming it, use `hvp`. ``holomorphic=True``: of a holomorphic
    ``f`` of complex inputs, its complex second derivative (as ``jax.hessian``'s).
    """
    if isinstance(f, Tensor) or not callable(f):
        if has_aux:
            raise TypeError("hessian: has_aux is for the function form, hessian(f, has_aux=True)")
        ins = _tensors("hessian", "x", argnums)
        g = _sweep.grad(f, ins)
        hs = tuple(tuple(_jac(gi, x, "fwd") for x in ins) for gi in g)
        return hs if isinstance(argnums, (tuple, list)) else hs[0][0]
    nums = _argnums("hessian", argnums)

    def hess(*args: Any) -> Any:
        call, wrt, defs = _arguments("hessian", args, nums)
        result = f(*call)
        out, aux = _split_aux("hessian", result) if has_aux else (result, None)
        _scalar("hessian", out)
        _complex_rules("hessian", wrt, [], holomorphic)
        rows = [
            _per_argnum(argnums, _unflatten_args(defs, [_jac(g, x, "fwd") for x in wrt]))
            for g in (_sweep.grad(out, wrt, holomorphic=holomorphic) if wrt else [])
        ]
        h = _per_argnum(argnums, _unflatten_args(defs, rows))
        return (h, aux) if has_aux else h

    return _named(hess, "hessian", f)


def hvp(f: Any, primals: Any, tangents: Any) -> Any:
    """A Hessian-vector product without forming the Hessian: forward mode over reverse mode.

    Function form: ``hvp(f, primals, tangents)`` with tuples (``f`` returning a scalar) gives a tuple with
    one entry per primal (in its containers, for a pytree), as JAX's documented ``hvp``
    (``jvp(grad(f), primals, tangents)[1]``): the product of the Hessian with the tangents. Graph form:
    ``hvp(out, inputs, vectors)``, of ``sum(out)`` as `grad` takes it. Its graph costs a small constant times
    the gradient's.

    Example:
        >>> import xpgrad
        >>> x = xpgrad.Tensor([1.0, 2.0])
        >>> hv, = xpgrad.hvp(lambda x: xpgrad.sum(x ** 3), (x,), (xpgrad.Tensor([1.0, 0.0]),))
        >>> print(hv)
        T:[6. 0.]
    """
    if callable(f) and not isinstance(f, Tensor):
        call, ins, ts = _primals_and_tangents("hvp", primals, tangents)
        out = f(*call)
        _scalar("hvp", out)
        defs = [tree_flatten(p)[1] for p in primals]
        hv = _tangents.jvp(_sweep.grad(out, ins), ins, ts) if ins else []
        return tuple(_unflatten_args(defs, hv))
    ins = _tensors("hvp", "inputs", primals)
    given = tangents if isinstance(primals, (tuple, list)) else (tangents,)
    result = _tangents.jvp(_sweep.grad(f, ins), ins, list(given))
    return tuple(result) if isinstance(primals, (tuple, list)) else result[0]


def _jacobian_transform(
    name: str, f: Any, argnums: Any, mode: str | None, has_aux: bool, holomorphic: bool = False
) -> Any:
    if isinstance(f, Tensor) or not callable(f):
        if has_aux:
            raise TypeError(f"{name}: has_aux is for the function form, {name}(f, has_aux=True)")
        ins = _tensors(name, "x", argnums)
        js = tuple(_jac(f, x, mode) for x in ins)
        return js if isinstance(argnums, (tuple, list)) else js[0]
    nums = _argnums(name, argnums)

    def jac(*args: Any) -> Any:
        call, wrt, defs = _arguments(name, args, nums)
        result = f(*call)
        out, aux = _split_aux(name, result) if has_aux else (result, None)
        outs, out_def = _outputs(name, out)
        _complex_rules(name, wrt, outs if mode != "fwd" else [], holomorphic)
        per_out = [_per_argnum(argnums, _unflatten_args(defs, _jacs(o, wrt, mode))) for o in outs]
        j = tree_unflatten(out_def, per_out)
        return (j, aux) if has_aux else j

    return _named(jac, name, f)


def _complex_rules(name: str, wrt: list[Tensor], outs: list[Tensor], holomorphic: bool) -> None:
    """JAX's rules for the function forms of the Jacobians: real inputs (and, by reverse mode, real outputs),
    or with ``holomorphic=True`` complex ones (a real direction alone gives no Jacobian of a complex input)."""
    for what, ts in (("input", wrt), ("output", outs)):
        for t in ts:
            if t._dtype is None or t._bk is None:
                continue
            kind = _dtypes.dtype_kind(t._bk.xp, t._dtype)
            dtype = _dtypes.dtype_name(t._bk.xp, t._dtype)
            if holomorphic and kind != _dtypes.COMPLEX:
                raise TypeError(f"{name} with holomorphic=True requires {what}s with a complex dtype, but got {dtype}")
            if not holomorphic and kind == _dtypes.COMPLEX:
                raise TypeError(
                    f"{name} requires real-valued {what}s, but got {dtype} (as jax.{name}); for the complex derivative "
                    f"of a holomorphic function pass holomorphic=True, else differentiate a real function of it "
                    "(xpgrad.real, abs) or use xpgrad.jvp / xpgrad.vjp"
                )


def _jacs(out: Tensor, wrt: list[Tensor], mode: str | None) -> list[Tensor]:
    """The Jacobians of ``out`` with respect to each of ``wrt``; by reverse mode, one sweep per output element
    serves every input (not one per input)."""
    if mode != "rev" or len(wrt) < 2:
        return [_jac(out, x, mode) for x in wrt]
    so = _known_shape(out, "the output")
    sizes = [math.prod(_known_shape(x, "the input")) for x in wrt]
    if math.prod(so) == 0 or 0 in sizes:
        return [_jac(out, x, mode) for x in wrt]
    rows = [_sweep.grad(out, wrt, _basis(out, i)) for i in range(math.prod(so))]
    return [
        _reshape(_stack([_reshape(r[k], (1, n)) for r in rows]), (*so, *_known_shape(x, "the input")))
        for k, (x, n) in enumerate(zip(wrt, sizes, strict=True))
    ]


def _jac(out: Tensor, x: Tensor, mode: str | None) -> Tensor:
    """The Jacobian of ``out`` with respect to ``x``, shape ``out.shape + x.shape``, one graph."""
    so, sx = _known_shape(out, "the output"), _known_shape(x, "the input")
    m, n = math.prod(so), math.prod(sx)
    if m == 0 or n == 0:  # an empty Jacobian: zeros of its shape (nothing to differentiate)
        xp = out._bk.xp
        return Tensor(xp.zeros((*so, *sx), dtype=out._dtype, device=out._device))
    if mode is None:
        mode = "fwd" if n < m else "rev"
    if mode == "rev":
        rows = [_sweep.grad(out, [x], _basis(out, i))[0] for i in range(m)]
        flat = _stack([_reshape(r, (1, n)) for r in rows])
    else:
        cols = [_tangents.jvp([out], [x], [_basis(x, j)])[0] for j in range(n)]
        flat = apply(OPS["swap_axes_2d"], _stack([_reshape(c, (1, m)) for c in cols]))
    return _reshape(flat, (*so, *sx))


def _known_shape(t: Tensor, what: str) -> tuple[int, ...]:
    if t._shape is None or None in t._shape:
        raise ValueError(
            f"jacobian: the shape of {what} is not known ({t._shape}); feed its placeholders, or declare their "
            "shapes (xpgrad.placeholder(shape=(3,), ...))"
        )
    return tuple(t._shape)


def _basis(t: Tensor, i: int) -> Tensor:
    """The ``i``-th unit array shaped like ``t``, of its (floating) dtype, on its backend and device."""
    import numpy as np

    shape = _known_shape(t, "the array")
    e = np.zeros(math.prod(shape))
    e[i] = 1.0
    bk = t._bk
    a = bk.from_numpy(e.reshape(shape), t._device)
    if t._dtype is not None and a.dtype != t._dtype and bk.xp.isdtype(t._dtype, "real floating"):
        a = bk.xp.astype(a, t._dtype)
    return Tensor(a)


def _reshape(t: Tensor, shape: tuple[int, ...]) -> Tensor:
    return t if t._shape == shape else apply(OPS["reshape"], t, shape=shape)


def _stack(parts: list[Tensor]) -> Tensor:
    """``parts`` (each of shape (1, k)) stacked along the first axis by a balanced tree of pairs."""
    while len(parts) > 1:
        pairs = [apply(OPS["stack_rows"], parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


# ----------------------------------------------------------------- shared
def _check_function(name: str, f: Any) -> None:
    if isinstance(f, Tensor) or not callable(f):
        raise TypeError(f"{name}: expected a function of Tensors (as jax.{name}); got {type(f).__name__}")


def _argnums(name: str, argnums: Any) -> tuple[int, ...]:
    given = argnums if isinstance(argnums, (tuple, list)) else (argnums,)
    if any(isinstance(a, Tensor) for a in given):
        raise TypeError(
            f"{name}: a function takes argnums (positions), not Tensors: {name}(f)(x), as jax.{name}; or build the "
            f"graph first: out = f(x), then xpgrad.{name}(out, [x])"
        )
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) and i >= 0 for i in nums):
        raise TypeError(f"{name}: argnums must be an int >= 0 or a tuple of them; got {argnums!r}")
    return nums


def _arguments(name: str, args: Sequence[Any], nums: Any) -> tuple[list[Any], list[Tensor], list[TreeDef]]:
    """``args`` with every leaf of those at ``nums`` made a Tensor of its own (the variables), those variables
    (in `tree_flatten`'s order, argument after argument), and each of those arguments' `TreeDef`."""
    out = list(args)
    wrt: list[Tensor] = []
    defs: list[TreeDef] = []
    home: list[Any] = []
    for i in nums:
        if i >= len(out):
            raise TypeError(f"{name}: argnums names argument {i}, but the function got {len(out)} argument(s)")
        leaves, treedef = tree_flatten(out[i])
        if not home and any(isinstance(leaf, _NUMBERS) for leaf in leaves):
            home.append(_home(args))
        made = [_variable(name, out[i], i, k, leaf, home) for k, leaf in enumerate(leaves)]
        out[i] = tree_unflatten(treedef, made)
        wrt.extend(made)
        defs.append(treedef)
    return out, wrt, defs


def _variable(name: str, arg: Any, i: int, k: int, leaf: Any, home: list[Any]) -> Tensor:
    """The variable of leaf ``k`` of argument ``i``: a Tensor's own copy (see the module's docstring), or a
    new Tensor of an array, or of a number (on the backend and device of the arguments' first array: `_home`);
    anything else refused, naming where it is in the argument."""
    if isinstance(leaf, Tensor):
        with options(merge=False):
            return apply(OPS["argument"], leaf)
    try:
        if isinstance(leaf, _NUMBERS) and home and home[0] is not None:
            bk, device, dtype = home[0]
            if isinstance(leaf, complex):
                dtype = "complex64" if dtype in ("float32", "complex64") else "complex128"
            elif isinstance(leaf, float):
                dtype = "float32" if dtype in ("float32", "complex64") else "float64"
            else:
                dtype = None
            return Tensor(leaf, backend=bk, device=device, dtype=dtype)
        return Tensor(leaf)
    except (TypeError, ValueError) as e:
        where = tree_paths(arg, f"argument {i}")[k][0]
        raise TypeError(
            f"{name}: {where} is a {type(leaf).__name__}; the leaves of an argument to differentiate are Tensors, "
            f"arrays or Python numbers, in dicts, lists, tuples or namedtuples ({e})"
        ) from None


_NUMBERS = (bool, int, float, complex)


def _home(args: Sequence[Any]) -> tuple[Any, Any, str | None] | None:
    """The backend, device and dtype name of the first Tensor or array among the leaves of ``args`` (None if
    none is): a Python number differentiated beside them becomes a Tensor there, a float one in float32 beside
    float32 arrays, else in float64 (as a number meeting an array takes the array's precision)."""
    import array_api_compat

    for leaf in tree_flatten(list(args))[0]:
        if isinstance(leaf, Tensor):
            if leaf._bk is not None:
                return leaf._bk, leaf._device, _name_of(leaf._bk, leaf._dtype)
            continue
        bk = backend_of(leaf)
        if bk is not None:
            return bk, array_api_compat.device(leaf), _name_of(bk, leaf.dtype)
    return None


def _name_of(bk: Any, dtype: Any) -> str | None:
    return None if dtype is None else _dtypes.dtype_name(bk.xp, dtype)


def _unflatten_args(defs: list[TreeDef], flat: Sequence[Any]) -> list[Any]:
    """``flat`` (one entry per variable, argument after argument) put back into each argument's containers."""
    out, at = [], 0
    for d in defs:
        out.append(tree_unflatten(d, flat[at : at + d.num_leaves]))
        at += d.num_leaves
    return out


def _per_argnum(argnums: Any, trees: list[Any]) -> Any:
    """One entry for an int ``argnums``, a tuple of them for a sequence (as JAX's)."""
    return trees[0] if isinstance(argnums, int) else tuple(trees)


def _outputs(name: str, out: Any) -> tuple[list[Tensor], TreeDef]:
    """The Tensors of ``f``'s output (a Tensor, or a pytree of them) and its `TreeDef`."""
    leaves, treedef = tree_flatten(out)
    for k, leaf in enumerate(leaves):
        if not isinstance(leaf, Tensor):
            where = "f's output" + tree_paths(out)[k][0]
            raise TypeError(
                f"{name}: {where} is a {type(leaf).__name__}, not a Tensor; f returns a Tensor or dicts, lists or "
                "tuples of Tensors"
            )
    return leaves, treedef


def _split_aux(name: str, result: Any) -> tuple[Any, Any]:
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(
            f"{name}: with has_aux=True, f must return a pair (output, aux); got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, tuple) else "")
        )
    return result[0], result[1]


def _tensors(name: str, what: str, ts: Any) -> list[Tensor]:
    items = list(ts) if isinstance(ts, (tuple, list)) else [ts]
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what}[{i}] is a {type(t).__name__}, not a Tensor of the graph")
    return items


def _scalar(name: str, out: Any) -> None:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: f must return a scalar Tensor; got {type(out).__name__}")
    if out._shape is not None and out._shape != ():
        raise TypeError(
            f"{name}: f must return a scalar (shape ()), as with jax.{name}; got shape {out._shape}. Sum it "
            "(xpgrad.sum), or use xpgrad.vjp or xpgrad.jacobian for a vector output"
        )


def _named(g: Function, name: str, f: Any) -> Function:
    g.__name__ = g.__qualname__ = f"{name}({getattr(f, '__name__', 'f')})"
    g.__doc__ = f"{name} of {getattr(f, '__qualname__', repr(f))}"
    return g
