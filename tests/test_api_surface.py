"""The public surface is plain source, generated from the op table and kept current with it.

``xpgrad.<function>`` and Tensor's operators and methods are definitions a type checker or IDE reads
without running xpgrad (tests/test_typing.py runs one); here: the generated files are what
``python tools/gen_api.py`` writes from today's table, and what they define follows the table.
"""

from __future__ import annotations

import importlib.util
import inspect
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import xpgrad
from xpgrad._api.composites import COMPOSITES
from xpgrad._api.functions import arrays, is_public
from xpgrad._core.methods import TensorMethods

ROOT = pathlib.Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "tools" / "gen_api.py"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_api", GENERATOR)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_generated_surface_is_current() -> None:
    for path, text in _generator().render_all().items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is stale: run python tools/gen_api.py"


def test_a_broken_generated_file_does_not_stop_its_regeneration(tmp_path: pathlib.Path) -> None:
    # the generated modules are imported by xpgrad's __init__ (and Tensor inherits TensorMethods): one
    # that names an op the table lost, or is not Python at all, must not stop the script that replaces it
    shutil.copytree(ROOT / "src" / "xpgrad", tmp_path / "src" / "xpgrad", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "tools").mkdir()
    shutil.copy(GENERATOR, tmp_path / "tools")
    package = tmp_path / "src" / "xpgrad"
    for name in ("_api/public.py", "_core/methods.py"):
        (package / name).write_text('_SINC = OPS["sinc"]\nthis is not Python\n')
    init = (package / "__init__.py").read_text()
    (package / "__init__.py").write_text(init.replace("    sin,\n", "    sinc,\n"))
    check = subprocess.run([sys.executable, str(tmp_path / "tools" / "gen_api.py"), "--check"], capture_output=True)
    assert check.returncode == 1 and check.stdout.decode().count("stale: ") == 3, check
    subprocess.run([sys.executable, str(tmp_path / "tools" / "gen_api.py")], check=True, capture_output=True)
    for name in ("_api/public.py", "_core/methods.py", "__init__.py"):
        assert (package / name).read_text() == (ROOT / "src" / "xpgrad" / name).read_text(), name


def test_every_public_op_is_a_plain_function_with_the_standard_signature() -> None:
    public = [op for op in xpgrad.OPS.values() if is_public(op) and op.name not in COMPOSITES]
    assert len(public) > 60
    for op in public:
        f = getattr(xpgrad, op.name)
        assert f.__module__ == "xpgrad._api.public" and f.__name__ == op.name, op
        params = list(inspect.signature(f).parameters.values())
        positional = [p.name for p in params if p.kind is p.POSITIONAL_ONLY]
        keywords = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}
        assert positional == list(arrays(op)), op
        assert keywords == op.params and all(type(keywords[k]) is type(v) for k, v in op.params.items()), op
    for name, f in COMPOSITES.items():
        assert getattr(xpgrad, name) is f
    exported = set(xpgrad.__all__)
    assert {op.name for op in public} | set(COMPOSITES) <= exported
    assert not {op.name for op in xpgrad.OPS.values() if not is_public(op)} & exported


def test_operators_and_methods_are_definitions_of_the_class() -> None:
    dunders = [op.dunder for op in xpgrad.OPS.values() if op.dunder is not None]
    assert len(dunders) > 20
    own = TensorMethods.__dict__
    for d in dunders:
        assert callable(own[f"__{d}__"]), d
    for name in ("__getitem__", "__iter__", "sum", "mean", "max", "min", "prod", "var", "std", "all", "any"):
        assert callable(own[name]), name
    assert xpgrad.Tensor.__array_ufunc__ is None and xpgrad.Tensor.__hash__ is object.__hash__
    assert xpgrad.Tensor.__slots__ and TensorMethods.__slots__ == ()  # no __dict__ per node


def test_each_way_into_a_function_builds_the_node_the_general_path_builds(tb: Any) -> None:
    # the generated functions send Tensors straight to the build, every other call to `_api.functions.call`
    data = np.array([[1.0, 2.0], [3.0, 4.0]])
    x, y = tb.t(data), tb.t(data - 0.5)
    assert xpgrad.add(x, y) is x + y and xpgrad.multiply(x, 2.0) is x * 2.0 and xpgrad.pow(2.0, x) is 2.0**x
    assert xpgrad.negative(x) is -x and xpgrad.sum(x, axis=0, keepdims=True) is x.sum(0, keepdims=True)
    assert xpgrad.sum(x, axis=[0, 1]) is xpgrad.sum(x, axis=(0, 1))  # a list, as PyTorch takes it
    assert xpgrad.sum(x, dtype="float32").dtype == tb.xp.float32  # a dtype's name
    assert xpgrad.var(x, correction=0.0) is xpgrad.var(x)
    np.testing.assert_allclose(tb.np(xpgrad.var(x, correction=1)), np.var(data, ddof=1))
    np.testing.assert_array_equal(tb.np(xpgrad.where(x > 2.0, x, 0.0)), np.where(data > 2.0, data, 0.0))
    np.testing.assert_array_equal(tb.np(xpgrad.maximum(y.value, x)), data)  # an array first
    made = xpgrad.add(1.0, 2)  # Python numbers alone: arrays on the default backend
    assert made.backend == xpgrad.default_backend() and made.item() == 3.0
    with pytest.raises(TypeError, match=r"sin\(\) got unexpected keyword\(s\) \['axis'\]; it accepts \[\]"):
        xpgrad.sin(x, axis=0)
