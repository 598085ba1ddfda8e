"""Two versions of xpgrad side by side: each one's ``src`` folder (a commit checked out in a temporary git
worktree, a folder, or this working tree), and the environment of a child process that imports it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .runner import REPO_ROOT


def git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


@contextmanager
def checkout(sha: str) -> Iterator[Path]:
    """A temporary detached worktree of commit ``sha``; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="xpgrad-ab-") as tmp:
        path = Path(tmp) / sha[:10]
        git("worktree", "add", "--detach", "--quiet", str(path), sha)
        try:
            yield path
        finally:
            git("worktree", "remove", "--force", str(path))


def source(stack: ExitStack, spec: str | None) -> tuple[str, Path]:
    """(label, src folder) of a commit-ish, of a folder holding ``src/xpgrad``, or (None) of this working tree.
    A checkout is removed when ``stack`` closes, also when the process is stopped by SIGTERM."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if spec is None:
        dirty = " + uncommitted changes" if git("status", "--porcelain", "--", "src") else ""
        return f"working tree {REPO_ROOT} at {git('rev-parse', '--short', 'HEAD')}{dirty}", REPO_ROOT / "src"
    if Path(spec).is_dir():
        root = Path(spec).resolve()
        src = root / "src" if (root / "src" / "xpgrad").is_dir() else root
        if not (src / "xpgrad").is_dir():
            raise SystemExit(f"{spec}: no xpgrad package in {src}")
        return f"folder {src}", src
    sha = git("rev-parse", "--verify", f"{spec}^{{commit}}")
    return f"{spec} = {sha[:10]}", stack.enter_context(checkout(sha)) / "src"


def child_env(src: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child that imports xpgrad from ``src`` and this harness from the repository root."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(REPO_ROOT)])
    return env


def imported_from(src: Path, xpgrad_file: str) -> None:
    """Stop unless a child imported xpgrad from ``src`` (an installed copy would shadow a wrong PYTHONPATH)."""
    if not Path(xpgrad_file).resolve().is_relative_to(src.resolve()):
        raise SystemExit(f"a child meant to import xpgrad from {src} imported {xpgrad_file}")
