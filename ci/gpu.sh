#!/usr/bin/env bash
# The same suite on CuPy, for a machine with a CUDA GPU. Fails (rather than skipping) when CuPy
# cannot use a device, so a green GPU job really ran on the GPU.
# Set XPGRAD_NO_INSTALL=1 where dependencies are preinstalled and there is no package index (xpgrad itself is
# installed without its dependencies, unless this checkout's is importable already, as ci/gpu-run.sh leaves it).
set -euo pipefail
cd "$(dirname "$0")/.."
# Set PYTHON to pick the interpreter (default: python, else python3: GPU images often have only the latter).
PY="${PYTHON:-$(command -v python || command -v python3)}"
if [[ -z "${XPGRAD_NO_INSTALL:-}" ]]; then
  # a CuPy already installed (any CUDA build) is kept; otherwise the CUDA 12 build (pip install -e '.[cuda13]' for 13)
  if "$PY" -c "import cupy" 2>/dev/null; then extra="test"; else extra="test,cupy"; fi
  "$PY" -m pip install --quiet -e ".[$extra]"
elif ! "$PY" -c "import sys, xpgrad; sys.exit(not xpgrad.__file__.startswith('$PWD/src/'))" 2>/dev/null; then
  "$PY" -m pip install --quiet --no-deps --no-build-isolation -e .
fi
"$PY" - <<'PY'
import sys
from xpgrad.backends import cupy
why = cupy.probe()
if why is not None:
    sys.exit(f"ci/gpu.sh: CuPy cannot run here: {why}")
import cupy as cp
print("CuPy", cp.__version__, "on", cp.cuda.runtime.getDeviceProperties(0)["name"].decode())
PY
XPGRAD_TEST_BACKENDS="${XPGRAD_TEST_BACKENDS:-cupy,numpy}" "$PY" -m pytest "$@"
