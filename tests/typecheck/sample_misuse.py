"""Calls a type checker refuses: each line carries the error code mypy must report there (mypy runs with
warn_unused_ignores, so an `ignore` with no error under it fails tests/test_typing.py). Not run."""

from __future__ import annotations

import numpy as np

import xpgrad

t = xpgrad.Tensor(np.ones(3))
xpgrad.sum(t, 0)  # type: ignore[arg-type]  # NumPy's positional axis: keyword only
xpgrad.sum(t, axes=0)  # type: ignore[arg-type]  # no such parameter
xpgrad.sin(t, t)  # type: ignore[arg-type]  # one array
xpgrad.sin("a")  # type: ignore[arg-type]  # not an array
t + "a"  # type: ignore[operator]
t.sum(out=np.empty(()))  # type: ignore[arg-type]  # out= is not supported
pow(t, 2, 5)  # type: ignore[misc]  # no modulus
text: str = xpgrad.exp(t)  # type: ignore[assignment]  # a Tensor
