"""Pictures and text of graphs: DOT checked by Graphviz's dot, SVG parsed, infix text, big graphs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import xpgrad
from xpgrad import Tensor

DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")


def _seed() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    x, y = Tensor(3, name="x"), Tensor(5, name="y")
    z2 = (x + y) * y
    return x, y, z2, z2.grad(y)


def _nodes_and_edges(dot: str) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    nodes = dict(re.findall(r"^  (n\d+(?:c\d+)?) \[(.*)\];$", dot, re.M))
    edges = re.findall(r'^  (n\d+(?:c\d+)?) -> (n\d+)(?: \[label="(\d+)"\])?;$', dot, re.M)
    return nodes, edges


def test_dot_of_the_seed_tells_kinds_and_orders_apart() -> None:
    x, _y, z2, g = _seed()
    gg = xpgrad.grad(g * g, [x])[0]
    nodes, edges = _nodes_and_edges(xpgrad.to_dot(z2, g, gg))
    assert len(nodes) == 6  # x, y, x + y, (x + y) * y, (x + y) + y, and the second-order add
    labels = {k: re.search(r'label="([^"]*)"', v).group(1) for k, v in nodes.items()}
    assert sorted(labels.values()) == sorted(
        [
            "x\\n= 3\\nnumpy",
            "y\\n= 5\\nnumpy",
            "add\\n= 8\\nnumpy",
            "multiply\\n= 40\\nnumpy",
            "add\\n= 13\\nnumpy  grad 1",
            "add\\n= 26\\nnumpy  grad 2",
        ]
    )
    fills = {
        labels[k].split("\\n")[0] + labels[k][-1]: re.search(r'fillcolor="([^"]*)"', v).group(1)
        for k, v in nodes.items()
    }
    assert len({fills["addy"], fills["add1"], fills["add2"]}) == 3  # forward, order 1, order 2 differ
    assert "box" in nodes[next(k for k in labels if labels[k].startswith("x"))]
    by_label = {v: k for k, v in labels.items()}
    mul, add = by_label["multiply\\n= 40\\nnumpy"], by_label["add\\n= 8\\nnumpy"]
    assert (add, mul, "0") in edges and (by_label["y\\n= 5\\nnumpy"], mul, "1") in edges
    assert sum("peripheries" in v for v in nodes.values()) == 3


def test_constants_are_drawn_beside_each_use() -> None:
    x = Tensor(np.array([1.0, 2.0]), name="x")
    y = x * 0.5 + x * 0.5 * 0.5  # (x * 0.5) merged: two uses of 0.5
    nodes, edges = _nodes_and_edges(xpgrad.to_dot(y))
    consts = [k for k, v in nodes.items() if 'label="0.5"' in v]
    assert len(consts) == 2 and all(sum(e[0] == c for e in edges) == 1 for c in consts)


def test_dot_marks_placeholders_constants_shapes() -> None:
    p = xpgrad.placeholder(shape=(None, 3), dtype="float32", name="p")
    q = xpgrad.sin(p) * 2.0
    nodes, _ = _nodes_and_edges(xpgrad.to_dot(q))
    text = "\n".join(nodes.values())
    assert "filled,dashed" in text and r"p\n(?, 3) float32 (no value)" in text
    assert 'label="2.0" shape="plaintext"' in text


@needs_dot
def test_dot_is_valid_for_graphviz_and_svg_parses(tmp_path) -> None:
    _x, y, z2, g = _seed()
    a = Tensor(np.linspace(0, 1, 20), name='a "quoted"\\')
    h = xpgrad.sum(xpgrad.exp(a) * y)
    for ts in ((z2,), (z2, g), (h, h.grad(a))):
        r = subprocess.run([DOT, "-Tsvg"], input=xpgrad.to_dot(*ts), capture_output=True, text=True, check=False)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        ET.fromstring(r.stdout)
    path = xpgrad.render(z2, g, path=tmp_path / "seed.svg")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert "n0->n2" in titles and len([t for t in titles if "->" not in t]) == 6  # 5 nodes + graph title
    png = xpgrad.render(z2, path=tmp_path / "z2.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = z2._repr_svg_()
    assert svg is not None and ET.fromstring(svg[svg.index("<svg") :]).tag.endswith("svg")


def test_render_refuses_huge_graphs_and_unknown_formats(tmp_path) -> None:
    y = Tensor(1.0)
    for _ in range(5001):
        y = xpgrad.sin(y)
    with pytest.raises(ValueError, match="5002 nodes, more than max_nodes=5000; draw a subgraph"):
        xpgrad.render(y, path=tmp_path / "big.svg")
    assert y._repr_svg_() is None
    with pytest.raises(ValueError, match=r"end the path in \.svg, \.png or \.pdf"):
        xpgrad.render(y, path=tmp_path / "pic.bmp")


def test_render_without_dot_says_what_to_install(monkeypatch, tmp_path) -> None:
    pytest.importorskip("graphviz", reason="the graphviz Python package (xpgrad[viz]) is not installed")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on PATH
    with pytest.raises(xpgrad.GraphvizUnavailableError, match="apt-get install graphviz"):
        xpgrad.render(_seed()[2], path=tmp_path / "z.svg")
    assert _seed()[2]._repr_svg_() is None


@pytest.mark.parametrize(
    ("build", "text"),
    [
        (lambda x, y: (x + y) * y, "(x + y) * y"),
        (lambda x, y: x + y * y, "x + y * y"),
        (lambda x, y: x - (y - x), "x - (y - x)"),
        (lambda x, y: x + (y + x), "x + (y + x)"),
        (lambda x, y: (x - y) - x, "x - y - x"),
        (lambda x, y: x / (y * x), "x / (y * x)"),
        (lambda x, y: -(x * y), "-(x * y)"),
        (lambda x, y: -x * y, "-x * y"),
        (lambda x, y: (-x) ** y, "(-x) ** y"),
        (lambda x, y: -(x**y), "-x ** y"),
        (lambda x, y: x ** (y**x), "x ** y ** x"),
        (lambda x, y: (x**y) ** x, "(x ** y) ** x"),
        (lambda x, y: xpgrad.sin(x + 1) * 2.5, "sin(x + 1) * 2.5"),
        (lambda x, y: xpgrad.sum(x * -0.5, axis=0), "sum(x * -0.5, axis=0)"),
        (lambda x, y: (x < y) * 1.0, "(x < y) * 1.0"),
    ],
)
def test_expr_is_python_with_minimal_parentheses(build, text) -> None:
    _expr_round_trips(build, text, Tensor(np.array([0.5, 2.0]), name="x"), Tensor(np.array([2.0, 3.0]), name="y"))


def _expr_round_trips(build, text: str, x: Tensor, y: Tensor) -> None:
    t = build(x, y)
    assert t.expr() == text
    got = eval(text, {"x": x, "y": y, "sin": xpgrad.sin, "sum": xpgrad.sum})  # the text means the same graph
    np.testing.assert_array_equal(got.numpy(), t.numpy())


@pytest.mark.parametrize(
    ("build", "text"),
    [
        (lambda x, y: x[1], "x[1]"),
        (lambda x, y: x[1:3], "x[1:3]"),
        (lambda x, y: x[:, ::2], "x[:, ::2]"),
        (lambda x, y: x[::-1, -3:-1], "x[::-1, -3:-1]"),
        (lambda x, y: x[..., None], "x[..., None]"),
        (lambda x, y: x[-1, ..., 1], "x[-1, ..., 1]"),
        (lambda x, y: x[...], "x[...]"),
        (lambda x, y: (x + y)[0] * 2, "(x + y)[0] * 2"),
        (lambda x, y: -(x[0] ** 2), "-x[0] ** 2"),
        (lambda x, y: xpgrad.sum(x[:, 1:] * y[:, 1:]), "sum(x[:, 1:] * y[:, 1:])"),
    ],
)
def test_expr_of_basic_indexing_is_python(build, text) -> None:
    x = Tensor(np.arange(12.0).reshape(3, 4), name="x")
    y = Tensor(np.linspace(1.0, 2.0, 12).reshape(3, 4), name="y")
    _expr_round_trips(build, text, x, y)


def test_expr_of_the_seed_gradient_is_as_by_hand() -> None:
    _, _, z2, g = _seed()
    assert z2.expr() == "(x + y) * y"
    assert g.expr() == "x + y + y"  # (x + y) + y


def test_expr_let_binds_shared_subexpressions() -> None:
    y = Tensor(np.array([0.5]), name="y")
    for _ in range(3):
        y = y * y + y
    assert y.expr() == "_1 = y * y + y\n_2 = _1 * _1 + _1\n_2 * _2 + _2"
    u = Tensor(2.0)
    assert (u * 3.0).expr() == "2.0 * 3.0"  # unnamed one-element leaves print by value


def test_100k_chains_to_dot_expr_show_function() -> None:
    x = Tensor(np.array([1.0, 2.0]), name="x")
    y = x
    n = 100_000
    for _ in range(n):
        y = xpgrad.sin(y)
    text = y.expr()
    assert text == "sin(" * n + "x" + ")" * n
    dot = xpgrad.to_dot(y)
    assert dot.count(" -> ") == n
    lines = xpgrad.format_tree(y, max_nodes=100).splitlines()
    assert len(lines) == 101 and lines[-1].endswith("(tree cut at 100 lines)")
    f = xpgrad.function([x], y)
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), y.numpy())


def test_main_writes_the_seed_pictures_or_says_how(tmp_path, capsys) -> None:
    from xpgrad.__main__ import main

    main(["--pictures", str(tmp_path)])
    out = capsys.readouterr().out
    assert "as an expression: x + y + y   (forward: (x + y) * y)" in out
    if DOT is None:
        assert "apt-get install graphviz" in out
        return
    for name in ("forward_z2.svg", "gradient_z2_dy.svg"):
        assert str((tmp_path / name).resolve()) in out
        svg = ET.parse(tmp_path / name).getroot()
        texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
        assert "x" in texts and "= 5" in texts
    forward = ET.tostring(ET.parse(tmp_path / "forward_z2.svg").getroot(), encoding="unicode")
    assert "= 40" in forward and "grad 1" not in forward
    assert "grad 1" in ET.tostring(ET.parse(tmp_path / "gradient_z2_dy.svg").getroot(), encoding="unicode")


def test_main_without_graphviz_leaves_no_directory_and_prints_tensors(tmp_path, capsys, monkeypatch) -> None:
    # it made an empty ./xpgrad-seed-graphs before finding Graphviz missing, and printed df/db as a Python list
    from xpgrad.__main__ import main

    monkeypatch.setitem(sys.modules, "graphviz", None)  # (import graphviz raises ImportError)
    out = tmp_path / "pictures"
    main(["--pictures", str(out)])
    text = capsys.readouterr().out
    assert "(no pictures: render: the graphviz Python package is not installed" in text
    assert not out.exists()
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith(("f ", "df/", "d2f/"))}
    assert sorted(lines) == ["d2f/da2", "df/da", "df/db", "f"]
    assert all(line.split(maxsplit=1)[1].startswith("T:") for line in lines.values()), lines


def test_dot_and_expr_on_every_backend(tb) -> None:
    a = tb.t([0.5, 1.5], name="a")
    b = tb.t(2.0)
    out = xpgrad.sum(xpgrad.sin(a) * b)
    g = out.grad(a)
    assert out.expr() == "sum(sin(a) * 2.0)"
    nodes, _ = _nodes_and_edges(xpgrad.to_dot(out, g))
    text = "\n".join(nodes.values())
    assert f"a\\n= [0.5 1.5]\\n{tb.name}" in text and "grad 1" in text
    if DOT is not None:
        r = subprocess.run([DOT, "-Tsvg"], input=xpgrad.to_dot(out, g), capture_output=True, text=True, check=False)
        assert r.returncode == 0 and r.stderr == "", r.stderr


def test_a_cut_tree_costs_what_it_prints() -> None:
    class Untouchable(tuple):
        def __iter__(self):  # type: ignore[override]
            raise AssertionError("format_tree walked below what it prints")

        def __len__(self) -> int:
            raise AssertionError("format_tree walked below what it prints")

    x = Tensor(np.array([1.0, 2.0]), name="x")
    deep = xpgrad.sin(x)
    y = deep
    for _ in range(50):
        y = xpgrad.cos(y)
    deep.children = Untouchable((x,))  # anything that walks the whole graph (counting parents) trips here
    lines = xpgrad.format_tree(y, max_nodes=10).splitlines()
    assert len(lines) == 11 and lines[-1].endswith("(tree cut at 10 lines)")
    deep.children = (x,)
    # shared nodes are still tagged and referenced within what is printed
    a = xpgrad.sin(x)
    lines = xpgrad.format_tree(a * a, max_nodes=4).splitlines()
    assert lines[1].endswith("[#1]") and lines[3].lstrip("└├─ ").startswith("-> #1 sin")
    assert xpgrad.format_tree(a * a, max_nodes=3).count("#1") == 0  # its second use is cut: nothing to refer to
