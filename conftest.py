"""The examples of README.md and docs/*.md run as tests: every ```pycon block is a doctest.

pytest collects the Markdown files named in ``testpaths`` (pyproject.toml). In each file, the ``>>>`` lines of
its ```pycon fences and the output under them are one doctest, run top to bottom in one namespace (a later
block sees an earlier block's names, as a reader does), in a temporary directory (examples may write files), with
ELLIPSIS and NORMALIZE_WHITESPACE. Text outside those fences is never run, so a fence's closing ``````` does not
count as expected output (pytest's ``--doctest-glob`` would read it as such). A failure names the file and line.

A page whose examples need an optional package says so in a comment, ``<!-- examples require: torch, jax -->``:
where one is not installed its examples are skipped, naming it. (One example: ``# doctest: +SKIP``.)
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

_FENCE = re.compile(r"^```pycon[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_REQUIRES = re.compile(r"<!--\s*examples require:\s*([\w.,\s-]+?)\s*-->")


def pycon_source(text: str) -> str:
    """The file's ```pycon blocks with every other line blanked, so doctest's line numbers are the file's."""
    keep = [""] * (text.count("\n") + 1)
    for m in _FENCE.finditer(text):
        first = text.count("\n", 0, m.start(1))
        for i, line in enumerate(m.group(1).split("\n")[:-1]):
            keep[first + i] = line
    # a blank line between blocks ends the previous example's expected output, as in the rendered page
    return "\n".join(keep) + "\n"


def pytest_collect_file(file_path: Path, parent: Any) -> Any:
    if file_path.suffix == ".md" and _FENCE.search(file_path.read_text(encoding="utf-8")):
        return MarkdownFile.from_parent(parent, path=file_path)
    return None


class MarkdownFile(pytest.File):
    def collect(self) -> Any:
        yield MarkdownExamples.from_parent(self, name="pycon examples")


class MarkdownExamples(pytest.Item):
    def runtest(self) -> None:
        text = self.path.read_text(encoding="utf-8")
        for m in _REQUIRES.finditer(text):
            for module in filter(None, (n.strip() for n in m.group(1).split(","))):
                if importlib.util.find_spec(module.split(".")[0]) is None:
                    pytest.skip(f"{self.path.name}: its examples need {module}, which is not installed")
        test = doctest.DocTestParser().get_doctest(pycon_source(text), {}, self.path.name, str(self.path), 0)
        out: list[str] = []
        runner = doctest.DocTestRunner(optionflags=_FLAGS)
        cwd = os.getcwd()
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            try:
                runner.run(test, out=out.append, clear_globs=True)
            finally:
                os.chdir(cwd)
        if runner.failures:
            raise MarkdownExampleError("".join(out))

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, MarkdownExampleError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.path.name}: pycon examples"


class MarkdownExampleError(AssertionError):
    """A Markdown example printed something else than the page says (doctest's report)."""
