"""PyTorch and JAX as backends: names and modules, their hooks (negative steps, immutable arrays, host copies,
strides), and xpgrad graphs and functions under JAX's transformations (jit, grad, vmap).

The backend-neutral behaviour runs on both through the ``tb`` fixture (tests/conftest.py); this file holds
what only these libraries have. Each test skips, saying so, where its library is not installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import xpgrad

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch)")
jax = pytest.importorskip("jax", reason="JAX not installed (pip install 'jax[cpu]')")
import array_api_compat.numpy as compat_numpy  # noqa: E402
import array_api_compat.torch as compat_torch  # noqa: E402
import jax.numpy as jnp  # noqa: E402

jax.config.update("jax_enable_x64", True)  # (as tests/conftest.py does for the jax backend)


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("torch", "torch"),
        (torch, "torch"),
        (compat_torch, "torch"),
        ("array_api_compat.torch", "torch"),
        ("jax", "jax"),
        (jnp, "jax"),
        ("jax.numpy", "jax"),
        (np, "numpy"),
        (compat_numpy, "numpy"),
    ],
    ids=repr,
)
def test_backends_by_name_and_by_module(spec, name) -> None:
    t = xpgrad.Tensor([1.0, 2.0], backend=spec)
    assert t.backend == name
    again = xpgrad.Tensor([3.0], backend=t.backend)  # the name round-trips
    assert again.backend == name and xpgrad.get_backend(spec) is xpgrad.get_backend(name)


def test_arrays_name_their_backend_and_move_back() -> None:
    for arr, name in ((torch.ones(2, dtype=torch.float64), "torch"), (jnp.ones(2), "jax")):
        t = xpgrad.Tensor(arr)
        assert t.backend == name
        moved = t.to("numpy").to(t.backend)
        assert moved.backend == name and moved.numpy().tolist() == [1.0, 1.0]
        assert xpgrad.sum(moved * moved).grad(t).numpy().tolist() == [2.0, 2.0]


def test_available_backends_lists_torch_and_jax() -> None:
    assert {"numpy", "torch", "jax"} <= set(xpgrad.available_backends())


@pytest.mark.parametrize("spec", [compat_torch, torch, "torch", jnp, "jax"], ids=repr)
def test_set_default_backend_with_a_module(spec) -> None:
    try:
        xpgrad.set_default_backend(spec)
        t = xpgrad.Tensor(1.5)
        assert t.backend == xpgrad.get_backend(spec).name and float(t * 2) == 3.0
    finally:
        xpgrad.set_default_backend("numpy")


def test_the_mismatch_errors_hint_works() -> None:
    a, b = xpgrad.Tensor(torch.ones(2, dtype=torch.float64)), xpgrad.Tensor(np.ones(2))
    with pytest.raises(xpgrad.BackendMismatchError, match=r"different backends \('torch' and 'numpy'\)") as e:
        a + b
    target = re.search(r"t\.to\('([^']+)'\)", str(e.value)).group(1)  # the hint, as a user copies it
    assert (a + b.to(target)).numpy().tolist() == [2.0, 2.0]


def test_a_backend_not_installed_says_what_to_install(monkeypatch) -> None:
    from xpgrad import backends

    for name, package in (("torch", "pip install torch"), ("jax", "pip install 'jax[cpu]'")):
        monkeypatch.setitem(backends._loaded, name, None)  # (as on a machine without it: loaded anew)
        backends._loaded.pop(name)
        monkeypatch.setitem(sys.modules, {"torch": "torch", "jax": "jax.numpy"}[name], None)  # import fails
        with pytest.raises(xpgrad.BackendUnavailableError, match=re.escape(package)):
            xpgrad.Tensor([1.0], backend=name)
        assert name not in xpgrad.available_backends()


# ----------------------------------------------------------------- PyTorch
@pytest.mark.parametrize(
    "key",
    [
        slice(None, None, -1),
        (slice(None, None, -2), slice(1, None)),
        (Ellipsis, slice(3, 0, -2)),
        (None, 1, slice(None, None, -1)),
        (slice(5, None, -1), slice(0, 3, -1)),  # an empty negative slice
    ],
    ids=repr,
)
def test_torch_negative_steps_and_their_gradients(key) -> None:
    # PyTorch's subscript refuses negative steps ("step must be greater than zero"); NumPy is the oracle
    host = np.arange(12.0).reshape(3, 4) / 7
    t = xpgrad.Tensor(torch.asarray(host))
    np.testing.assert_array_equal(t[key].numpy(), host[key])
    want = np.zeros_like(host)
    want[key] = 2 * host[key]
    np.testing.assert_array_equal(xpgrad.sum(t[key] * t[key]).grad(t).numpy(), want)
    xpgrad.check_grads(lambda x: xpgrad.sin(x[key]) * x[key], torch.asarray(host), order=2)


def test_torch_large_values_are_released_by_strides() -> None:
    # the release logic read ``.strides``, which PyTorch's tensors lack: a transposed (column-major) value was
    # taken for row-major and released
    from xpgrad._opt.release import like_standin

    bk = xpgrad.get_backend("torch")
    a = torch.ones((300, 300), dtype=torch.float64)
    assert like_standin(bk, a) and not like_standin(bk, a.T)
    x = xpgrad.Tensor(torch.linspace(0, 1, 1 << 17, dtype=torch.float64))
    out = xpgrad.sum(xpgrad.exp(x * 2.0))
    mid = out.children[0].children[0]  # x * 2.0: no rule reads it, large: released
    assert mid._value is None
    g = out.grad(x).numpy()
    np.testing.assert_allclose(g, 2 * np.exp(2 * np.linspace(0, 1, 1 << 17)), rtol=1e-13)
    assert mid.value is not None  # recomputed on a read


def test_torch_devices_by_their_names() -> None:
    t = xpgrad.Tensor([1.0, 2.0], backend="torch", device="cpu")
    assert t.device == torch.device("cpu")
    p = xpgrad.placeholder(shape=(2,), dtype="float64", backend="torch", device="cpu")
    p.value = torch.ones(2, dtype=torch.float64)  # the declared "cpu" is the array's device
    assert (t.to_device("cpu") * 2).device == torch.device("cpu")
    with pytest.raises(xpgrad.BackendMismatchError, match="lives on device cpu but was fed an array on meta"):
        p.value = torch.ones(2, dtype=torch.float64, device="meta")


# ----------------------------------------------------------------- JAX
def test_jax_indexing_gradients() -> None:
    # the adjoint of indexing wrote into an immutable JAX array ("JAX arrays are immutable")
    x = xpgrad.Tensor(jnp.asarray([0.5, 1.0, 2.0]))
    assert xpgrad.sum(x[1:]).grad(x).numpy().tolist() == [0.0, 1.0, 1.0]
    assert xpgrad.sum(x[::-1][0] * x).grad(x).numpy().tolist() == [2.0, 2.0, 5.5]
    xpgrad.check_grads(lambda t: xpgrad.exp(t[None, 1:]) * t[:2], jnp.asarray([0.5, 1.0, 2.0]), order=3)


def _graph(p: xpgrad.Tensor) -> list[xpgrad.Tensor]:
    out = xpgrad.sum(xpgrad.sin(p) * p[1:].sum() + xpgrad.prod(p) + p[::-1][0])
    g = out.grad(p)
    return [out, g, xpgrad.sum(g * g).grad(p)]  # prod's second derivative too


def _oracle(a: jax.Array) -> list[jax.Array]:
    """The same three outputs by JAX's own differentiation."""

    def f(x: jax.Array) -> jax.Array:
        return jnp.sum(jnp.sin(x) * jnp.sum(x[1:]) + jnp.prod(x) + x[::-1][0])

    g = jax.grad(f)
    return [f(a), g(a), jax.grad(lambda x: jnp.sum(g(x) * g(x)))(a)]


def test_jax_function_under_jit_grad_and_vmap() -> None:
    p = xpgrad.placeholder(shape=(None,), dtype="float64", backend="jax")
    f = xpgrad.function([p], _graph(p))
    x = jnp.asarray([0.3, 0.7, 1.1])
    want = _oracle(x)
    for got in (f(x), jax.jit(f)(x)):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-13)
    np.testing.assert_allclose(jax.grad(lambda a: f(a)[0])(x), want[1], rtol=1e-13)
    np.testing.assert_allclose(jax.jit(jax.grad(lambda a: f(a)[0]))(x), want[1], rtol=1e-13)
    xs = jnp.stack([x, 2 * x])
    np.testing.assert_allclose(jax.vmap(lambda a: f(a)[0])(xs), [_oracle(x)[0], _oracle(2 * x)[0]], rtol=1e-13)
    np.testing.assert_allclose(jax.jit(jax.vmap(lambda a: f(a)[2]))(xs)[1], _oracle(2 * x)[2], rtol=1e-13)


def test_jax_graphs_built_under_jit() -> None:
    # building and differentiating read no value (prod's second-order rule called bool() on one:
    # TracerBoolConversionError); large traced values are not released
    def built(a: jax.Array) -> list[jax.Array]:
        return [t.value for t in _graph(xpgrad.Tensor(a))]

    x = jnp.asarray([0.3, 0.7, 1.1])
    for a, b in zip(jax.jit(built)(x), _oracle(x), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-13)
    big = jnp.linspace(0.0, 1.0, 1 << 17)
    got = jax.jit(lambda a: xpgrad.sum(xpgrad.exp(xpgrad.Tensor(a) * 2.0)).grad(xpgrad.Tensor(a)).value)(big)
    assert got.shape == big.shape


def test_jax_prod_higher_orders_at_zeros() -> None:
    # eagerly, a zero is refused as on every backend; under a trace there is no value to test: nan there
    x = jnp.asarray([0.0, 2.0, 3.0])

    def second(a: jax.Array) -> jax.Array:
        t = xpgrad.Tensor(a)
        return xpgrad.sum(xpgrad.prod(t).grad(t)).grad(t).value

    with pytest.raises(NotImplementedError, match="prod: derivatives of order 2 and higher"):
        second(x)
    assert np.isnan(np.asarray(jax.jit(second)(x))).all()
    np.testing.assert_allclose(jax.jit(second)(x + 1), [7.0, 5.0, 4.0])  # d/dx_i of the sum of pair products


def test_jax_devices_pickle_by_name() -> None:
    import pickle

    x = xpgrad.Tensor(jnp.asarray([1.0, 2.0]))
    loaded = pickle.loads(pickle.dumps(xpgrad.sum(x * x).grad(x)))
    assert loaded.backend == "jax" and loaded.device == x.device and loaded.numpy().tolist() == [2.0, 4.0]
    assert xpgrad.Tensor([1.0], backend="jax", device="cpu:0").device == jax.devices("cpu")[0]


def test_jax_float64_without_x64_says_how_to_enable_it() -> None:
    code = (
        "import numpy as np, xpgrad\n"
        "for make in (lambda: xpgrad.Tensor([1.0], backend='jax', dtype='float64'),\n"
        "             lambda: xpgrad.Tensor(np.array([1.0]), backend='jax'),\n"
        "             lambda: xpgrad.Tensor(np.array([1.0])).to('jax')):\n"
        "    try:\n"
        "        make()\n"
        "    except TypeError as e:\n"
        "        print(e)\n"
        "print(xpgrad.Tensor([1.0], backend='jax').dtype)\n"
    )
    env = {**os.environ, "JAX_ENABLE_X64": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 4 and lines[-1] == "float32", out.stdout + out.stderr
    for line in lines[:3]:
        assert "float64 needs JAX's 64-bit mode" in line and 'jax.config.update("jax_enable_x64", True)' in line
