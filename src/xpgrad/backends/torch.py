"""PyTorch: tensors on any of its devices (``"cpu"``, ``"cuda:1"``), through array-api-compat's wrapper.

Hooks: PyTorch's subscript refuses negative steps (``t[::-1]``), so an index with one is taken with
positive steps and the axes flipped; host copies go through ``.cpu()``; strides are ``stride()``.
"""

from __future__ import annotations

from typing import Any

from ._base import Backend

NAME = "torch"
ROOTS = ("torch",)
"""The top-level packages whose array types this backend owns (by ``type(x).__module__``)."""


def probe() -> str | None:
    """None when usable, else the reason and what to install."""
    try:
        import array_api_compat.torch  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        return f"PyTorch is not installed ({e}); pip install torch"
    return None


def load() -> Backend:
    import array_api_compat.torch as xp
    import numpy as np
    import torch

    def to_numpy(x: Any) -> Any:
        return x.detach().cpu().resolve_conj().resolve_neg().numpy()

    def from_numpy(a: Any, device: Any = None) -> Any:
        a = np.asarray(a)
        if any(s < 0 for s in a.strides):  # (PyTorch refuses negative strides: a copy)
            a = np.ascontiguousarray(a)
        return torch.asarray(a, device=device)

    return Backend(
        name=NAME,
        xp=xp,
        owns=lambda x: isinstance(x, torch.Tensor),
        to_numpy=to_numpy,
        from_numpy=from_numpy,
        strides=lambda x: x.stride(),
        getitem=_getitem,
        setitem=_setitem,
        device_spec=_device,
        scatter_add=_scatter_add,
    )


def _device(spec: Any) -> Any:
    """PyTorch's device for ``spec`` (``"cpu"``, ``"cuda:1"``, ``1``, a ``torch.device``); ``"cuda"`` is the current
    CUDA device, as PyTorch places a tensor made there (an array's device always has its index)."""
    import torch

    d = torch.device(spec) if isinstance(spec, (str, int)) else spec
    if isinstance(d, torch.device) and d.type == "cuda" and d.index is None:
        d = torch.device("cuda", torch.cuda.current_device())
    return d


def is_module(mod: Any) -> bool:
    return getattr(mod, "__name__", "") in ("torch", "array_api_compat.torch")


def _scatter_add(g: Any, indices: Any, n: int, axis: int) -> Any:
    """`Backend.scatter_add`: ``index_add_`` into zeros."""
    import torch

    out = torch.zeros((*g.shape[:axis], n, *g.shape[axis + 1 :]), dtype=g.dtype, device=g.device)
    return out.index_add_(axis, indices.to(torch.int64), g)


def _getitem(x: Any, key: Any) -> Any:
    key, flips = _positive_steps(x.shape, key)
    y = x[key]
    return y.flip(flips) if flips else y


def _setitem(out: Any, key: Any, value: Any) -> Any:
    """``out[key] = value`` (in place: PyTorch's tensors are mutable), an index with negative steps too."""
    key, flips = _positive_steps(out.shape, key)
    out[key] = value.flip(flips) if flips else value
    return out


def _positive_steps(shape: Any, key: Any) -> tuple[Any, tuple[int, ...]]:
    """``key`` with each negative-step slice replaced by the positive-step slice over the same elements,
    and the axes of the result to flip so that they come in the key's order."""
    key = key if isinstance(key, tuple) else (key,)
    if not any(isinstance(k, slice) and k.step is not None and k.step < 0 for k in key):
        return key, ()
    if Ellipsis in key:
        i = key.index(Ellipsis)
        consumed = sum(k is not None and k is not Ellipsis for k in key)
        key = key[:i] + (slice(None),) * (len(shape) - consumed) + key[i + 1 :]
    out: list[Any] = []
    flips: list[int] = []
    dim = axis = 0  # the input's axis a key item reads, and the result's axis it makes
    for k in key:
        if k is None:
            out.append(k)
            axis += 1
            continue
        if isinstance(k, slice):
            if k.step is not None and k.step < 0:
                start, _, step = k.indices(shape[dim])
                n = len(range(*k.indices(shape[dim])))
                last = start + (n - 1) * step
                k = slice(last, start + 1, -step) if n else slice(0, 0)
                flips.append(axis)
            axis += 1
        out.append(k)
        dim += 1
    return tuple(out), tuple(flips)
