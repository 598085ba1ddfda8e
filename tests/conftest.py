"""Backends under test: numpy, array_api_strict (default device and device1), cupy when a GPU is usable,
torch (CPU; ``cuda`` where PyTorch sees a GPU), jax and dask (arrays in two chunks, so that chunking is
exercised), each where installed.

``XPGRAD_TEST_BACKENDS=numpy,strict-device1`` selects a subset. A backend that cannot run here is
skipped with the reason (e.g. CuPy without a CUDA device), and the report header lists them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import xpgrad
from xpgrad.backends import get_backend


@dataclass(frozen=True)
class TB:
    """A backend under test: the xpgrad Backend, the device arrays are made on, and helpers."""

    id: str
    name: str
    device_name: str | None = None

    @property
    def bk(self) -> Any:
        return get_backend(self.name)

    @property
    def xp(self) -> Any:
        return self.bk.xp

    @property
    def device(self) -> Any:
        if self.device_name is None:
            return None
        if self.name == "array_api_strict":
            return self.xp.Device(self.device_name)
        return self.bk.device(self.device_name)  # (PyTorch's "cuda": the library's own device object)

    @property
    def numpy_maths(self) -> bool:
        """Whether the backend computes functions beyond the standard's with NumPy's maths library, so that
        they agree with NumPy's to the last bit. PyTorch and JAX have their own (XLA's, ATen's sin and exp):
        tests comparing their bits with NumPy's use a tolerance of a few ulps, and say so."""
        return self.name not in ("torch", "jax")

    @property
    def few_ops(self) -> frozenset[str]:
        """Dtypes the library has but implements few ops on (PyTorch's uint16: no negation, no promotion with
        other dtypes): tests looping over dtypes leave them out."""
        return frozenset(("uint16", "uint32", "uint64")) if self.name == "torch" else frozenset()

    def require_ieee_edges(self) -> None:
        """Skip a test of bits at IEEE edge values (signed zeros, subnormals, complex infinities) against NumPy's
        arithmetic where the library's differs there: XLA on the CPU flushes subnormals to zero (so ``a * 1``
        is not ``a``), and PyTorch's complex ``(-a) * (-b)`` and ``a - 0.0`` give zeros of other signs."""
        if self.name in ("torch", "jax"):
            pytest.skip(f"{self.name}'s arithmetic differs from NumPy's at signed zeros and subnormals")

    @property
    def lazy(self) -> bool:
        """Whether arrays are recipes computed on request (Dask, `Backend.compute`): sizes that depend on values
        (``nonzero``'s) are unknown while a graph is built, and refused."""
        return self.bk.compute is not None

    def require_releasing(self) -> None:
        """Skip a test of released and recomputed values where the backend declares that it releases nothing
        (`Backend.releases`: Dask's arrays are recipes, not memory to give back)."""
        if not self.bk.releases:
            pytest.skip(f"backend {self.id} releases no values (its Backend.releases is off: arrays are lazy)")

    def arr(self, data: Any, dtype: str = "float64") -> Any:
        a = self.xp.asarray(data, dtype=getattr(self.xp, dtype), device=self.device)
        return _split(a) if self.name == "dask" else a

    def t(self, data: Any, dtype: str = "float64", name: str | None = None) -> xpgrad.Tensor:
        return xpgrad.Tensor(self.arr(data, dtype), name=name)

    def np(self, x: Any) -> Any:
        import numpy as np

        return np.asarray(x.numpy() if isinstance(x, xpgrad.Tensor) else self.bk.to_numpy(x))


ALL = [
    TB("numpy", "numpy"),
    TB("strict", "array_api_strict"),
    TB("strict-device1", "array_api_strict", "device1"),
    TB("cupy", "cupy"),
    TB("torch", "torch"),
    TB("torch-cuda", "torch", "cuda"),
    TB("jax", "jax"),
    TB("dask", "dask"),
]


def _split(a: Any) -> Any:
    """A Dask array in two chunks along its first axis longer than 1 (``xp.asarray`` makes one chunk of a small
    array, which would leave the chunked paths untried): halves, the first the longer. One axis only: each
    chunk more is a task more per op, and the suite's graphs are many and small."""
    for i, n in enumerate(a.shape):
        if n > 1:
            return a.rechunk({i: (n + 1) // 2})
    return a


def _reason(tb: TB) -> str | None:
    wanted = os.environ.get("XPGRAD_TEST_BACKENDS")
    if wanted and tb.id not in {w.strip() for w in wanted.split(",")}:
        return f"not selected by XPGRAD_TEST_BACKENDS={wanted}"
    from xpgrad.backends import _MODULES

    why = _MODULES[tb.name].probe()
    if why is None and tb.id == "torch-cuda":
        import torch

        why = None if torch.cuda.is_available() else "PyTorch sees no CUDA device"
    if why is None and tb.name == "jax":
        _jax_x64()
    return why


def _jax_x64() -> None:
    """The suite's arrays are float64 by default: JAX runs it in its 64-bit mode, as SciPy's suite does (without
    it JAX makes float32 arrays; tests/test_jax.py checks the error that says so, in a fresh process)."""
    import jax

    jax.config.update("jax_enable_x64", True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    for tb in ALL:
        why = _reason(tb)
        lines.append(f"xpgrad backend {tb.id}: " + ("RUN" if why is None else f"SKIPPED ({why})"))
    return lines


@pytest.fixture(params=ALL, ids=[tb.id for tb in ALL])
def tb(request: pytest.FixtureRequest) -> Iterator[TB]:
    why = _reason(request.param)
    if why is not None:
        pytest.skip(f"backend {request.param.id} unavailable: {why}")
    with _computing(request.param):
        yield request.param


def _computing(tb: TB) -> Any:
    """Dask computes on the test's own thread (its synchronous scheduler), as the eager libraries do, so that a
    test's ``np.errstate`` and warning filters apply to what it computes; the threaded scheduler and
    `dask.distributed` are tested in tests/test_dask.py."""
    if tb.name != "dask":
        return contextlib.nullcontext()
    import dask

    return dask.config.set(scheduler="synchronous")


@pytest.fixture
def cp(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`tests/fake_cupy.py` as ``cupy`` for the test: the fused GPU runner's kernels compiled by the host C++
    compiler and run on the host."""
    import fake_cupy

    return fake_cupy.install(monkeypatch)


@pytest.fixture(scope="module")
def jax_x64() -> Iterator[Any]:
    """JAX with x64 on (the oracle of the complex and pytree tests); the setting is restored after the module."""
    jax = pytest.importorskip("jax", reason="JAX is not installed (the oracle of these tests: pip install jax)")
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", before)
