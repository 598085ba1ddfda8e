#!/usr/bin/env bash
# The same suite on CuPy, for a machine with a CUDA GPU. Fails (rather than skipping) when CuPy
# cannot use a device, so a green GPU job really ran on the GPU.
# Set XPGRAD_NO_INSTALL=1 where dependencies are preinstalled and there is no package index.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${XPGRAD_NO_INSTALL:-}" ]]; then
  python -m pip install --quiet -e ".[test,cupy]"
else
  python -m pip install --quiet --no-deps --no-build-isolation -e .
fi
python - <<'PY'
import sys
from xpgrad.backends import cupy
why = cupy.probe()
if why is not None:
    sys.exit(f"ci/gpu.sh: CuPy cannot run here: {why}")
import cupy as cp
print("CuPy", cp.__version__, "on", cp.cuda.runtime.getDeviceProperties(0)["name"].decode())
PY
XPGRAD_TEST_BACKENDS="${XPGRAD_TEST_BACKENDS:-cupy,numpy}" python -m pytest "$@"
