"""Backends under test: numpy, array_api_strict (default device and device1), cupy when a GPU is usable.

``XPGRAD_TEST_BACKENDS=numpy,strict-device1`` selects a subset. A backend that cannot run here is
skipped with the reason (e.g. CuPy without a CUDA device), and the report header lists them.
"""

from __future__ import annotations

import os
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
        return self.xp.Device(self.device_name)

    def arr(self, data: Any, dtype: str = "float64") -> Any:
        return self.xp.asarray(data, dtype=getattr(self.xp, dtype), device=self.device)

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
]


def _reason(tb: TB) -> str | None:
    wanted = os.environ.get("XPGRAD_TEST_BACKENDS")
    if wanted and tb.id not in {w.strip() for w in wanted.split(",")}:
        return f"not selected by XPGRAD_TEST_BACKENDS={wanted}"
    mod = {"numpy": "numpy", "array_api_strict": "array_api_strict", "cupy": "cupy"}[tb.name]
    from xpgrad.backends import _MODULES

    return _MODULES[mod].probe()


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    for tb in ALL:
        why = _reason(tb)
        lines.append(f"xpgrad backend {tb.id}: " + ("RUN" if why is None else f"SKIPPED ({why})"))
    return lines


@pytest.fixture(params=ALL, ids=[tb.id for tb in ALL])
def tb(request: pytest.FixtureRequest) -> TB:
    why = _reason(request.param)
    if why is not None:
        pytest.skip(f"backend {request.param.id} unavailable: {why}")
    return request.param


@pytest.fixture
def cp(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`tests/fake_cupy.py` as ``cupy`` for the test: the fused GPU runner's kernels compiled by the host C++
    compiler and run on the host."""
    import fake_cupy

    return fake_cupy.install(monkeypatch)
