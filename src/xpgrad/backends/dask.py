"""Dask: chunked, lazy arrays, on one machine or on a `dask.distributed` cluster.

A Dask array is a recipe: building a graph on it, and differentiating it, only writes more recipe, and
nothing is computed until ``xpgrad.compute`` (or ``dask.compute``) asks for values. So this backend declares

- no releasing nor recomputing of large values (`Backend.releases`): there is no memory to give back;
- broadcasts laid out in the chunks of the array they stand for (`Backend.broadcast`): ``xp.broadcast_to``
  of a 0-d cotangent makes ONE chunk the size of the whole array (a gradient of ``mean`` at 10^8 elements
  then needed 800 MB in one piece);
- one computation for many arrays (`Backend.compute`): ``dask.compute`` runs shared intermediates once;
- a region of elementwise ops as one task per chunk (`Backend.blocks`, `Backend.blockwise`): Dask makes a
  value several steps read a task of its own per chunk, held until they ran (see `_compile.compute`);
- arrays pickled as they are (`Backend.pickles_arrays`): recipes in their chunks, not computed copies;
- checks that stay lazy (`Backend.refuse_if`): ``prod``'s higher-order check raises when computed;
- arrays of unknown chunk sizes (``nan``, after boolean indexing) refused, naming the op or leaf
  (`Backend.check`): xpgrad needs every shape when it builds.

Chunks may be NumPy or CuPy arrays: the namespace is array-api-compat's Dask wrapper, which runs on either,
completed where it falls short of the standard (`_dask_xp`: ``take_along_axis``, ``take`` and ``repeat`` without
an axis, ``reshape`` of chunks that do not fit the new shape evenly, ``eye`` of more columns than rows).
"""

from __future__ import annotations

import math
from typing import Any

from ._base import Backend

NAME = "dask"


def probe() -> str | None:
    """None when usable, else the reason."""
    try:
        import array_api_compat.dask.array  # noqa: F401
        import dask.array  # noqa: F401
    except ImportError as e:
        return f"Dask is not installed ({e}); pip install 'dask[array]'"
    return None


def load() -> Backend:
    import array_api_compat

    from . import _dask_xp

    return Backend(
        name=NAME,
        xp=_dask_xp.namespace(),
        owns=array_api_compat.is_dask_array,
        to_numpy=_to_numpy,
        from_numpy=_from_numpy,
        releases=False,
        pickles_arrays=True,
        broadcast=_broadcast,
        compute=_compute,
        refuse_if=_refuse_if,
        check=_check,
        setitem=setitem,
        blocks=_blocks,
        blockwise=_blockwise,
    )


def is_module(mod: Any) -> bool:
    from . import _dask_xp

    return getattr(mod, "__name__", "") in ("dask.array", "array_api_compat.dask.array", _dask_xp.NAME)


def _to_numpy(x: Any) -> Any:
    """The host NumPy array of a Dask array (computed: the user asked for numbers), of NumPy or CuPy chunks."""
    import numpy as np

    v = x.compute() if hasattr(x, "dask") else x
    if not isinstance(v, np.ndarray) and hasattr(v, "get"):  # CuPy chunks: a CuPy array
        v = v.get()
    return np.asarray(v)


def _from_numpy(a: Any, device: Any = None) -> Any:
    import dask.array as da
    import numpy as np

    return da.from_array(np.asarray(a))  # (chunks "auto": Dask's default, as da.asarray makes them)


def _compute(*arrays: Any) -> tuple[Any, ...]:
    import dask

    return tuple(dask.compute(*arrays))


def _broadcast(a: Any, ref: Any) -> Any:
    """``a`` broadcast to ``ref``'s shape, in ``ref``'s chunks along the axes it is broadcast over (Dask allows
    new chunks there only; along the others ``a`` keeps its own, which ``ref``'s reductions made alike)."""
    import dask.array as da

    shape = tuple(ref.shape)
    chunks = getattr(ref, "chunks", None)
    if chunks is None:
        return da.broadcast_to(a, shape)
    a = da.asarray(a)
    lead = len(shape) - a.ndim
    out = []
    for i, c in enumerate(chunks):
        j = i - lead
        out.append(c if j < 0 or a.shape[j] == 1 else a.chunks[j])
    return da.broadcast_to(a, shape, chunks=tuple(out))


def _blocks(x: Any) -> Any:
    return x.chunks


def _blockwise(fn: Any, program: Any, arrays: list[Any], likes: list[Any]) -> list[Any]:
    """``fn(program, *blocks)`` on each chunk of ``arrays`` (one shape and chunking) as ONE layer of tasks, and
    each of the tuple of chunks it returns as an array like the one of ``likes`` in its place (a getitem
    layer, which Dask fuses into its reader)."""
    import operator
    from functools import partial

    import dask.array as da
    import numpy as np
    from dask.base import tokenize

    ind = tuple(range(max(a.ndim for a in arrays)))
    token = tokenize(program, *arrays)
    pairs = [p for a in arrays for p in (a, ind if a.ndim else ())]  # 0-d arrays: the one block to every task
    tup = da.blockwise(
        partial(fn, program),
        ind,
        *pairs,
        name=f"xpgrad-region-{token}",
        dtype=object,
        meta=np.empty((0,) * len(ind), dtype=object),
    )
    return [
        da.blockwise(
            operator.getitem, ind, tup, ind, k, None, name=f"xpgrad-out{k}-{token}", dtype=like.dtype, meta=like._meta
        )
        for k, like in enumerate(likes)
    ]


def _refuse_if(value: Any, flag: Any, error: Exception) -> Any:
    """``value``, with ``error`` raised by each chunk's task when the 0-d ``flag`` is true (computed with it)."""
    import dask.array as da

    return da.map_blocks(_raise_if, value, flag, error=error, dtype=value.dtype, meta=value._meta)


def _raise_if(block: Any, flag: Any, error: Exception) -> Any:
    if bool(flag):
        raise error
    return block


def _check(x: Any, what: str) -> None:
    shape = getattr(x, "shape", ())
    for n in shape:
        if isinstance(n, float) and math.isnan(n):
            raise ValueError(
                f"{what}: a Dask array of unknown chunk sizes (shape {shape}); xpgrad needs every shape when "
                "it builds. Call x.compute_chunk_sizes() on the array first (one pass over it), or avoid "
                "boolean indexing (use where(mask, x, 0))"
            )


def setitem(out: Any, key: tuple[Any, ...], value: Any) -> Any:
    """``out`` with ``value`` written at ``out[key]`` (a basic index: ints, slices, Ellipsis; no None), returned.

    Dask's own assignment fails where an integer precedes a slice of negative step (``out[2, 3:1:-1] = v``:
    IndexError inside dask.array.slicing, dask 2026.11): each such slice is written as the same elements in
    increasing order, with ``value`` flipped along its axis. For the adjoint of indexing (`unindex`), through
    the backend's ``setitem`` hook where the registry has one."""
    import dask.array as da

    n = len(out.shape)
    explicit = sum(k is not Ellipsis for k in key)
    full: list[Any] = []
    for k in key:
        full.extend([slice(None)] * (n - explicit) if k is Ellipsis else [k])
    full.extend([slice(None)] * (n - len(full)))
    fixed, flips, axis = [], [], 0
    for k, d in zip(full, out.shape, strict=True):
        if isinstance(k, slice):
            start, stop, step = k.indices(d)
            count = len(range(start, stop, step))
            if step < 0 and count > 0:
                k = slice(start + (count - 1) * step, start + 1, -step)
                flips.append(axis)
            axis += 1
        fixed.append(k)
    value = da.asarray(value)
    for a in flips:
        value = da.flip(value, a)
    out[tuple(fixed)] = value
    return out
