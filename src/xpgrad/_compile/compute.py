"""`compute`: the values of several Tensors at once, one computation on a lazy backend (Dask).

On Dask a Tensor's value is a recipe (a Dask array): reading ``t.value`` computes nothing, and computing
values one by one (``t.numpy()`` for each) runs what they share once per value: the forward pass again for
every gradient. `compute` hands all of them to the backend's `Backend.compute` (``dask.compute``), which
merges their task graphs and runs each task once, on whatever scheduler Dask is set to (threads, processes,
a ``dask.distributed`` cluster). On eager backends (NumPy, CuPy...) the values are there already: returned
as they are.
"""

from __future__ import annotations

from typing import Any

from .._core.tensor import Tensor

__all__ = ["compute"]


def compute(*tensors: Tensor) -> tuple[Any, ...]:
    """The values of ``tensors``, computed together.

    Arguments:
        tensors: Tensors of any backends (forward values and gradient graphs together).

    Returns:
        A tuple of arrays, one per Tensor, in order: on Dask, computed in one ``dask.compute`` (NumPy or
        CuPy arrays, as the chunks are); on eager backends, the values themselves.

    Example:
        >>> x = xpgrad.Tensor(np.array([0.5, 1.0]))
        >>> y = xpgrad.sum(xpgrad.sin(x) * x)
        >>> value, gradient = xpgrad.compute(y, y.grad(x))
    """
    values: list[Any] = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"compute: argument {i} is a {type(t).__name__}, not a Tensor; pass Tensors")
        values.append(t._require())  # (an unfed placeholder: PlaceholderError, naming it)
    lazy: dict[Any, list[int]] = {}  # backend -> the places of its values, for backends that compute
    for i, t in enumerate(tensors):
        if t._bk is not None and t._bk.compute is not None:
            lazy.setdefault(t._bk, []).append(i)
    for bk, places in lazy.items():
        done = bk.compute(*(values[i] for i in places))
        for i, v in zip(places, done, strict=True):
            values[i] = v
    return tuple(values)
