"""A type checker sees xpgrad's public surface: mypy reports no error in src/, nor in a typed sample of
the README's code (tests/typecheck/sample_user.py), and reports each misuse in sample_misuse.py (every
line there names the error it must get; mypy runs with warn_unused_ignores, so a missing one fails)."""

from __future__ import annotations

import pathlib
import runpy
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_mypy_finds_no_error_in_xpgrad_nor_in_the_typed_samples() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed here (the test extra brings it: pip install '.[test]')")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"mypy (configured in pyproject.toml) reports:\n{run.stdout}{run.stderr}"


def test_the_typed_sample_runs() -> None:
    runpy.run_path(str(ROOT / "tests" / "typecheck" / "sample_user.py"), run_name="sample_user")
