"""`fuse`: pick the code generator for a graph's backend and build the callable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from ..._core.tensor import Tensor
from . import cpu
from .lower import FusionError, lower
from .unfused import compile_unfused

__all__ = ["fuse"]

Engine = Literal["auto", "numba", "cupy", "unfused"]


def fuse(
    inputs: Tensor | Sequence[Tensor], outputs: Tensor | Sequence[Tensor], engine: Engine = "auto"
) -> Callable[..., Any]:
    """Compile ``outputs`` (values and gradients) of ``inputs`` into one fused pass.

    Arguments:
        inputs: the placeholders (or leaves) fed on each call, in order (one Tensor: the only one).
        outputs: a Tensor, or a list of Tensors built from the inputs: elementwise ops (each op's fused form is
            its `OpDef.c`; every elementwise op of floating or bool values has one; programs of one integer
            dtype take the ops' `OpDef.int_c`, NumPy's integer semantics), basic indexing, the structural
            ops of gradient graphs, and full ``sum``/``mean``/``prod`` as final results.
        engine: "numba" (CPU, one parallel loop), "cupy" (one CUDA kernel), "unfused"
            (`xpgrad.function`'s plan executor, op by op: eager's results), or "auto": the backend's
            fused engine when it is installed, else unfused.

    Returns:
        ``f(*arrays)``: the outputs' arrays in a list (one array when ``outputs`` is a Tensor), of the kinds
        `xpgrad.function` returns: a sum or another 0-d result is a NumPy scalar on NumPy (as ``np.sum``
        gives), a 0-d array on CuPy; a sum of bools is in the backend's integer dtype, as NumPy counts; an
        input or leaf that is an output is returned as it is. Arguments are arrays, or Python numbers and
        lists (made arrays as feeding the input makes them). Leaves not listed in ``inputs`` are captured and
        read at each call (``w.value = ...`` is seen).

    Raises:
        FusionError: naming the op, when the graph is not one elementwise pass (a fused engine only; there
            is no silent fallback: pass ``engine="unfused"`` for such a graph).

    Example:
        >>> x = placeholder(shape=(None,), dtype="float64"); out = sum(sin(x) * x)
        >>> f = fuse([x], [out, *grad(out, [x])]); value, gx = f(np.linspace(0, 1, 5))
    """
    # (a Tensor is iterable: list() would index it)
    ins: list[Tensor] = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    outs: list[Tensor] = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    for k, t in enumerate([*ins, *outs]):
        if not isinstance(t, Tensor):
            raise TypeError(f"fuse: expected Tensors, got {type(t).__name__} at position {k}")
    for k, t in enumerate(ins):
        if t.op is not None or t._const:
            raise TypeError(f"fuse: inputs[{k}] is an op node ({t.op.name if t.op else 'constant'}); pass leaves")
    if len({id(t) for t in ins}) != len(ins):
        raise ValueError("fuse: an input is listed twice; list each placeholder or leaf once")
    run = _engine(ins, outs, engine)
    return _one(run) if isinstance(outputs, Tensor) else run


def _one(run: Callable[..., list[Any]]) -> Callable[..., Any]:
    """``run``'s only output, as `xpgrad.function` returns one for a single Tensor."""

    def one(*arrays: Any) -> Any:
        return run(*arrays)[0]

    if hasattr(run, "source"):
        one.source = run.source  # type: ignore[attr-defined]
    return one


def _engine(ins: list[Tensor], outs: list[Tensor], engine: str) -> Callable[..., list[Any]]:
    backends = {t._bk.name for t in ins if t._bk is not None}
    if engine == "auto":
        if backends <= {"numpy"} and cpu.available():
            engine = "numba"
        elif backends == {"cupy"}:
            engine = "cupy"
        else:
            engine = "unfused"
    if engine == "unfused":
        return compile_unfused(ins, outs)
    if engine == "numba" and not backends <= {"numpy"}:  # (each call would refuse its arrays: "dtype float64 ...")
        raise ValueError(
            f"fuse: engine 'numba' runs numpy arrays and the inputs are on {', '.join(sorted(backends))}; "
            "use engine='auto' or 'unfused'"
        )
    prog = lower(ins, outs)
    if engine == "numba":
        if not cpu.available():
            raise FusionError("fuse: engine 'numba' needs numba; install the extra: pip install 'xpgrad[fuse]'")
        return cpu.compile_cpu(prog)
    if engine == "cupy":
        from . import cuda

        return cuda.compile_cuda(prog)
    raise ValueError(f"fuse: unknown engine {engine!r}; use 'auto', 'numba', 'cupy' or 'unfused'")
