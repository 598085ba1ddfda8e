#!/usr/bin/env bash
# Install xpgrad with its test extra into the current Python and run the whole suite on every
# backend usable here: numpy, array_api_strict (default device and device1), torch and jax (their CPU
# builds, installed here), and cupy and torch-cuda when a CUDA device is usable (otherwise skipped, with
# the reason in the report header and summary). The suite also
# runs mypy (tests/test_typing.py; the test extra installs it) and checks the generated public surface is
# current (tests/test_api_surface.py; `python tools/gen_api.py` regenerates it), runs every example of README.md
# and docs/ (their ```pycon blocks, collected by conftest.py), executes the tutorial notebook and builds the
# documentation site with warnings as errors (tests/test_docs.py; the docs extra installs MkDocs).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[test,fuse,docs]"   # docs: the site is built (--strict) and the tutorial run by the suite
# the CPU builds of PyTorch (2.13.0: the CPU wheel where no CUDA is installed) and JAX, for their backends
python -m pip install --quiet "torch==2.13.0" "jax[cpu]>=0.4.30"
python - <<'PY'
import xpgrad
print("xpgrad", xpgrad.__version__, "- usable backends here:", ", ".join(xpgrad.available_backends()))
PY
python -m pytest "$@"
