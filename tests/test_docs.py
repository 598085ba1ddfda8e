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


# ----------------------------------------------------------------- the site, its pages, its tutorial and pictures
def _mkdocs_nav_files() -> list[str]:
    import re

    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:") : text.index("\nplugins:")]
    return re.findall(r":\s*([\w./-]+\.(?:md|ipynb))\s*$", nav, re.MULTILINE)


def test_every_docs_page_is_in_the_site_nav() -> None:
    listed = set(_mkdocs_nav_files())
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} | {p.name for p in (ROOT / "docs").glob("*.ipynb")}
    missing = sorted(pages - listed)
    assert not missing, f"docs pages not in mkdocs.yml's nav (add them there): {missing}"
    absent = sorted(listed - pages)
    assert not absent, f"mkdocs.yml's nav names pages that do not exist: {absent}"


def test_site_builds_with_warnings_as_errors(tmp_path: pathlib.Path) -> None:
    import os
    import subprocess
    import sys

    pytest = __import__("pytest")
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"{module} not installed (pip install -e '.[docs]'; ci/test.sh installs it)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in ("Tensor", "grad", "function", "fuse", "options", "render", "check_grads", "namespace"):
        assert f'id="xpgrad.{name}"' in api, f"the API reference lacks xpgrad.{name}"


def test_tutorial_runs_and_shows_what_is_stored(tmp_path: pathlib.Path) -> None:
    import shutil

    pytest = __import__("pytest")
    for module in ("nbclient", "nbformat", "ipykernel", "graphviz"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} not installed (pip install -e '.[docs]'; ci/test.sh installs it)")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (the tutorial draws pictures)")
    import nbformat

    spec = importlib.util.spec_from_file_location("make_tutorial", ROOT / "tools" / "make_tutorial.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    stored = nbformat.read(make.PATH, as_version=4)
    assert [c.source for c in stored.cells] == [c.source for c in make.notebook().cells], (
        "docs/tutorial.ipynb differs from tools/make_tutorial.py: run python tools/make_tutorial.py"
    )
    ran = make.execute(nbformat.read(make.PATH, as_version=4), tmp_path)

    def texts(nb: object) -> list[str]:  # per code cell, what it printed and its result's text (streams may split)
        return [
            "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in c.outputs)
            for c in nb.cells  # type: ignore[attr-defined]
            if c.cell_type == "code"
        ]

    assert texts(ran) == texts(stored), "the tutorial prints something else now: run python tools/make_tutorial.py"
    pictures = [
        o for c in ran.cells if c.cell_type == "code" for o in c.outputs if "image/svg+xml" in o.get("data", {})
    ]
    assert len(pictures) == 4  # the seed's forward and gradient graphs, both together, the broadcast gradient
    seed_gradient = pictures[1]["data"]["image/svg+xml"]
    assert "add" in seed_gradient and "grad 1" in seed_gradient
    stored_pictures = [
        o for c in stored.cells if c.cell_type == "code" for o in c.outputs if "image/svg+xml" in o.get("data", {})
    ]
    assert len(stored_pictures) == 4, "the stored tutorial lacks its pictures: run python tools/make_tutorial.py"


def test_pictures_on_the_pages_are_the_seed_graphs_and_the_benchmark_charts() -> None:
    import re

    import xpgrad
    from xpgrad import Tensor

    for page, data in (("benchmarks-cpu.png", "results.png"), ("benchmarks-gpu.png", "gpu-cupy.png")):
        stored = (ROOT / "docs" / "img" / page).read_bytes()
        assert stored == (ROOT / "benchmarks" / "results" / data).read_bytes(), (
            f"docs/img/{page} is not benchmarks/results/{data}: copy it again"
        )
    x, y = Tensor(3, name="x"), Tensor(5, name="y")
    z2 = (x + y) * y
    for name, t in (("forward_z2.svg", z2), ("gradient_z2_dy.svg", z2.grad(y))):
        svg = (ROOT / "docs" / "img" / name).read_text()
        assert "grad 1" in svg if "gradient" in name else "grad 1" not in svg
        for label in re.findall(r'label="([^"]+)"', xpgrad.to_dot(t)):
            for line in label.split("\\n")[:2]:  # the node's head and value lines (the caption wraps)
                if line and not line.startswith(("blue", "orange", "dotted")):
                    assert line.replace(" ", "") in svg.replace("&#160;", "").replace(" ", ""), (name, line)


def test_the_api_reference_lists_every_public_name() -> None:
    import re

    import xpgrad

    listed = set(re.findall(r"^::: xpgrad\.(\w+)$", (ROOT / "docs" / "api.md").read_text(), re.MULTILINE))
    missing = sorted(set(xpgrad.__all__) - listed)
    assert not missing, f"docs/api.md lacks these public names (add a '::: xpgrad.NAME' line): {missing}"
