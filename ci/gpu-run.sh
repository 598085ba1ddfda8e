#!/usr/bin/env bash
# One call on a lent GPU machine with no package index: the fused-call profile, the GPU benchmarks and the
# whole suite on CuPy, each under a time limit, their logs and results written to $OUT (default
# /tmp/xpgrad-gpu). CuPy, NumPy and pytest come with the image; array-api-compat and array-api-strict do not:
# put their wheels in .whl/ first (on a machine with an index), e.g.
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d .whl array-api-compat==1.16.0 array-api-strict==2.6.1
# A step that fails or times out is reported in $OUT/summary.txt; the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/xpgrad-gpu}"
mkdir -p "$OUT"
PY="${PYTHON:-$(command -v python || command -v python3)}"
if compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install --quiet --no-index --no-deps --upgrade --target /tmp/xpgrad-site .whl/*.whl
  export PYTHONPATH="/tmp/xpgrad-site${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" -m pip install --quiet --no-deps --no-build-isolation -e . || exit 1
: >"$OUT/summary.txt"
step() {  # step NAME SECONDS COMMAND...: run it, log to $OUT/NAME.log, note its exit status
  local name="$1" limit="$2"
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  echo "$name: exit $? after $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
}
step profile 150 "$PY" -m benchmarks.gpu_profile --out "$OUT"
step bench 200 "$PY" -m benchmarks.gpu --out "$OUT" --rounds 3
step suite 240 env XPGRAD_NO_INSTALL=1 PYTHON="$PY" bash ci/gpu.sh -q -p no:cacheprovider -rfE
! grep -v ": exit 0 " "$OUT/summary.txt" >/dev/null  # fails when a step did
