#!/usr/bin/env bash
# Run the data-apis/array-api-tests conformance suite against an array namespace.
#
# Usage:
#   docs/research/run_conformance.sh MODULE [extra pytest args...]
#   e.g. docs/research/run_conformance.sh array_api_strict
#        docs/research/run_conformance.sh array_api_compat.numpy -k "test_sin or test_add"
#        MAX_EXAMPLES=200 docs/research/run_conformance.sh xpgrad.numpy   (hypothetical module path)
#
# The suite is NOT vendored: it must be cloned (with its `array-api` submodule) at
# $ARRAY_API_TESTS_DIR (default /tmp/array-api-tests). See docs/research/conformance.md.
#
# Environment knobs (all optional):
#   ARRAY_API_TESTS_DIR      suite checkout            (default /tmp/array-api-tests)
#   ARRAY_API_TESTS_VERSION  spec version to test      (default 2024.12)
#   AAT_TESTS                test file(s)/node ids     (default array_api_tests/test_operators_and_elementwise_functions.py)
#   MAX_EXAMPLES             hypothesis max examples   (default 20)
#   AAT_DEPS                 extra site dir holding ndindex + pytest-json-report + pytest-metadata
#                            (default /tmp/aat-deps; only added if it exists)
#   PYTHON                   interpreter               (default: python3)
#   AAT_KEEP_DEADLINE        set to any value to keep hypothesis' 800 ms per-example deadline
#                            (default: --disable-deadline, since deadlines flake on loaded machines)
#   ARRAY_API_TESTS_SKIP_DTYPES, ARRAY_API_TESTS_MAX_ARRAY_SIZE, ARRAY_API_TESTS_XFAIL_MARK
#                            passed through to the suite unchanged.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 MODULE [pytest args...]" >&2
  exit 2
fi
MODULE="$1"; shift

SUITE="${ARRAY_API_TESTS_DIR:-/tmp/array-api-tests}"
PY="${PYTHON:-python3}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [[ ! -f "$SUITE/conftest.py" ]]; then
  echo "error: array-api-tests not found at $SUITE (set ARRAY_API_TESTS_DIR)" >&2
  exit 2
fi
if [[ ! -d "$SUITE/array-api/src/array_api_stubs" ]]; then
  echo "error: $SUITE/array-api submodule is empty; the suite parses the spec stubs from it." >&2
  echo "       run: git -C $SUITE submodule update --init   (see conformance.md for an offline recipe)" >&2
  exit 2
fi

# Make the project importable without installing it (src layout), plus optional deps dir.
PP="$REPO/src"
if [[ -d "${AAT_DEPS:-/tmp/aat-deps}" ]]; then PP="$PP:${AAT_DEPS:-/tmp/aat-deps}"; fi
export PYTHONPATH="$PP${PYTHONPATH:+:$PYTHONPATH}"

export ARRAY_API_TESTS_MODULE="$MODULE"
export ARRAY_API_TESTS_VERSION="${ARRAY_API_TESTS_VERSION:-2024.12}"

read -r -a TESTS <<< "${AAT_TESTS:-array_api_tests/test_operators_and_elementwise_functions.py}"

DEADLINE_ARGS=(--disable-deadline)
if [[ -n "${AAT_KEEP_DEADLINE:-}" ]]; then DEADLINE_ARGS=(); fi

cd "$SUITE"
start=$(date +%s)
set +e
"$PY" -m pytest "${TESTS[@]}" \
  --max-examples="${MAX_EXAMPLES:-20}" \
  "${DEADLINE_ARGS[@]}" \
  -p no:cacheprovider -q -rfE \
  "$@"
rc=$?
set -e
echo "[run_conformance] module=$MODULE version=$ARRAY_API_TESTS_VERSION wall=$(( $(date +%s) - start ))s rc=$rc"
exit $rc
