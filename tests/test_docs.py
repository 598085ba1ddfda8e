"""The generated documentation is up to date with the table it is generated from."""

from __future__ import annotations

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_ops_md_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen_ops_table", ROOT / "docs" / "gen_ops_table.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    committed = (ROOT / "docs" / "ops.md").read_text()
    assert committed == gen.render(), "docs/ops.md is stale: run python docs/gen_ops_table.py"
