"""Pinning thread counts. The environment must be set before NumPy, JAX or PyTorch is imported, so
:func:`thread_env` is given to a fresh subprocess; :func:`pin_in_process` then sets the runtime knobs."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

THREADS_VAR = "XPGRAD_BENCH_THREADS"
_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
)
_limits: list[Any] = []  # keeps threadpoolctl's limiter alive


def thread_env(n: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for var in _VARS:
        env[var] = str(n)
    eigen = "false" if n == 1 else "true"
    env["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={eigen} intra_op_parallelism_threads={n}"
    env[THREADS_VAR] = str(n)
    return env


def pinned_threads() -> int | None:
    value = os.environ.get(THREADS_VAR)
    return int(value) if value else None


def pin_in_process(n: int | None) -> dict[str, Any]:
    """Apply ``n`` threads to what is importable here (call after the peers are loaded); report what was done."""
    done: dict[str, Any] = {var: os.environ.get(var) for var in (*_VARS, "XLA_FLAGS")}
    if n is None:
        return done
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # already set, or parallel work already started
            pass
        done["torch.get_num_threads"] = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        done["threadpoolctl"] = "not installed"
    else:
        _limits.append(threadpool_limits(limits=n))
        done["threadpoolctl"] = [{k: p.get(k) for k in ("internal_api", "num_threads")} for p in threadpool_info()]
    return done
