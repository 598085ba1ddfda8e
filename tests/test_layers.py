"""xpgrad's modules import one way: the layers of pyproject.toml's import-linter contracts, and no cycle.

Imports inside functions count as imports; imports under ``if TYPE_CHECKING:`` (annotations only, never run)
do not. The contracts live in pyproject.toml's ``[tool.importlinter]``; running them here makes CI run them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
grimp = pytest.importorskip("grimp", reason="import-linter is not installed (pip install -e '.[test]')")


def _graph() -> object:
    return grimp.build_graph("xpgrad", include_external_packages=False, exclude_type_checking_imports=True)


def test_import_linter_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    from importlinter.cli import lint_imports

    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out[-4000:]


def test_no_import_cycle_among_xpgrads_modules() -> None:
    graph = _graph()
    cycles = [
        (m, d, graph.find_shortest_chain(importer=d, imported=m))
        for m in sorted(graph.modules)
        for d in sorted(graph.find_modules_directly_imported_by(m))
        if m != d and graph.chain_exists(importer=d, imported=m)
    ]
    assert not cycles, "a module, one it imports, and the way back:\n" + "\n".join(map(str, cycles))


def test_the_core_imports_no_optimisation_and_no_layer_above_it() -> None:
    graph = _graph()
    above = ("xpgrad._opt", "xpgrad._ops", "xpgrad._api", "xpgrad._compile", "xpgrad._views", "xpgrad._check")
    wrong = [
        (m, d)
        for m in sorted(graph.modules)
        if m.startswith("xpgrad._core")
        for d in graph.find_modules_directly_imported_by(m)
        if any(d == a or d.startswith(a + ".") for a in above)
    ]
    assert not wrong, wrong
