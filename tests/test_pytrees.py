"""Pytrees in the function transforms, as JAX has them: arguments, tangents, cotangents and outputs that are
dicts, lists, tuples and namedtuples of arrays, and results in the same containers (Jacobians nested as JAX
nests them). Oracle: JAX itself (x64), on every backend; and `xpgrad.tree_*` against ``jax.tree_util``."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import xpgrad

Pair = namedtuple("Pair", ["first", "second"])


@pytest.fixture(scope="module")
def jax(jax_x64: Any) -> Any:
    return jax_x64  # (tests/conftest.py: JAX with x64 on for the module)


def _r(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape)


def _params() -> dict[str, Any]:
    """A nested tree of float64 arrays: a dict (keys out of order), a list, a namedtuple, a None."""
    return {"w": _r(3, 2), "b": [_r(2, seed=1), _r(seed=2)], "p": Pair(_r(2, seed=3), None)}


def _loss(ns: Any) -> Callable[..., Any]:
    """A scalar loss of a params tree and an input array, as a function of a namespace (xpgrad or jax.numpy)."""

    def loss(params: Any, x: Any) -> Any:
        h = ns.tanh(ns.matmul(x, params["w"]) + params["b"][0]) * params["p"].first
        return ns.sum(h * h) * params["b"][1] + ns.sum(ns.sin(x))

    return loss


def _model(ns: Any) -> Callable[..., Any]:
    """A tree output: a dict of a vector and a (list of one) matrix."""

    def model(params: Any, x: Any) -> Any:
        h = ns.tanh(ns.matmul(x, params["w"]) + params["b"][0])
        return {"out": h * params["b"][1], "more": [ns.exp(x) * params["p"].first[0]]}

    return model


def _on(tb: Any, tree: Any) -> Any:
    return xpgrad.tree_map(lambda a: tb.arr(a), tree)


def _same(tb: Any, got: Any, want: Any, rtol: float = 1e-12) -> None:
    """``got`` (xpgrad's) has ``want``'s (JAX's) containers and its numbers."""
    g_leaves, g_def = xpgrad.tree_flatten(got)
    w_leaves, w_def = xpgrad.tree_flatten(want)
    assert g_def == w_def, (g_def, w_def)
    for g, w in zip(g_leaves, w_leaves, strict=True):
        assert isinstance(g, xpgrad.Tensor), type(g)
        assert tuple(g.shape) == tuple(np.shape(w))
        np.testing.assert_allclose(tb.np(g), np.asarray(w), rtol=rtol, atol=1e-14)


# ----------------------------------------------------------------- the tree functions
def test_flatten_and_unflatten_agree_with_jax(jax) -> None:
    tree = {"z": [1.0, (2.0, None)], "a": Pair(3.0, {"y": 4.0, "x": 5.0}), "m": OrderedDict(q=6.0, c=7.0), "n": None}
    leaves, treedef = xpgrad.tree_flatten(tree)
    assert leaves == jax.tree_util.tree_leaves(tree) == [3.0, 5.0, 4.0, 6.0, 7.0, 1.0, 2.0]
    assert xpgrad.tree_leaves(tree) == leaves
    back = xpgrad.tree_unflatten(treedef, leaves)
    assert back == tree and type(back["a"]) is Pair and type(back["m"]) is OrderedDict
    assert list(back["m"]) == ["q", "c"]  # an OrderedDict keeps its order
    assert xpgrad.tree_map(lambda a, b: a - b, tree, tree) == jax.tree_util.tree_map(lambda a, b: a - b, tree, tree)
    assert (
        repr(treedef)
        == "TreeDef({'a': Pair(*, {'x': *, 'y': *}), 'm': {'q': *, 'c': *}, 'n': None, 'z': [*, (*, None)]})"
    )
    with pytest.raises(ValueError, match=r"tree_map: tree 1 has shape TreeDef\(\[\*\]\), but the first tree has"):
        xpgrad.tree_map(lambda a, b: a, (1.0,), [1.0])
    with pytest.raises(ValueError, match=r"tree_unflatten: TreeDef.* has 7 leaves, but 2 were given"):
        xpgrad.tree_unflatten(treedef, [1, 2])


# ----------------------------------------------------------------- grad and value_and_grad
def test_grad_of_a_tree_of_parameters(tb, jax) -> None:
    jnp = jax.numpy
    params, x = _params(), _r(4, 3, seed=9)
    want = jax.grad(_loss(jnp))(params, x)
    got = xpgrad.grad(_loss(xpgrad))(_on(tb, params), tb.arr(x))
    _same(tb, got, want)
    assert isinstance(got["p"], Pair) and got["p"].second is None
    # argnums tuples: a tuple of trees; value_and_grad; Tensors as leaves
    tparams = xpgrad.tree_map(lambda a: xpgrad.Tensor(tb.arr(a)), params)
    value, (gp, gx) = xpgrad.value_and_grad(_loss(xpgrad), argnums=(0, 1))(tparams, tb.arr(x))
    want_value, (wp, wx) = jax.value_and_grad(_loss(jnp), argnums=(0, 1))(params, x)
    np.testing.assert_allclose(tb.np(value), want_value, rtol=1e-13)
    _same(tb, (gp, gx), (wp, wx))
    # an SGD step over the tree, by tree_map
    new = xpgrad.tree_map(lambda p, g: p - 0.1 * g, tparams, gp)
    _same(tb, new, jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, wp))


def test_grad_with_aux_and_python_numbers(tb, jax) -> None:
    jnp = jax.numpy

    def f(ns: Any) -> Callable[..., Any]:
        return lambda t: (ns.sum(t["a"] * t["a"]) * t["s"], {"norm": ns.sum(t["a"])})

    tree = {"a": _r(3), "s": 2.5}  # a Python number as a leaf: its gradient is a 0-d Tensor
    (g, aux) = xpgrad.grad(f(xpgrad), has_aux=True)(_on(tb, {"a": tree["a"]}) | {"s": 2.5})
    wg, waux = jax.grad(f(jnp), has_aux=True)(tree)
    _same(tb, g, wg)
    _same(tb, aux, waux)


# ----------------------------------------------------------------- vjp and jvp
def test_vjp_of_a_tree_output_with_aux(tb, jax) -> None:
    jnp = jax.numpy
    params, x = _params(), _r(4, 3, seed=9)

    def f(ns: Any) -> Callable[..., Any]:
        return lambda p, x: (_model(ns)(p, x), ns.sum(x))

    out, pullback, aux = xpgrad.vjp(f(xpgrad), _on(tb, params), tb.arr(x), has_aux=True)
    wout, wpull, waux = jax.vjp(f(jnp), params, x, has_aux=True)
    _same(tb, out, wout)
    _same(tb, aux, waux)
    ct = {"out": _r(4, 2, seed=5), "more": [_r(4, 3, seed=6)]}
    _same(tb, pullback(_on(tb, ct)), wpull(ct))
    with pytest.raises(ValueError, match=r"vjp: the cotangent is shaped TreeDef\(\{'more': \*, 'out': \*\}\), but f's"):
        pullback({"out": ct["out"], "more": ct["more"][0]})


def test_jvp_of_trees_with_aux(tb, jax) -> None:
    jnp = jax.numpy
    params, x = _params(), _r(4, 3, seed=9)
    tangents = xpgrad.tree_map(lambda a: np.ones_like(a) * 0.5, params), _r(4, 3, seed=4)

    def f(ns: Any) -> Callable[..., Any]:
        return lambda p, x: (_model(ns)(p, x), {"aux": ns.sum(x)})

    out, tan, aux = xpgrad.jvp(f(xpgrad), (_on(tb, params), tb.arr(x)), _on(tb, tangents), has_aux=True)
    wout, wtan, waux = jax.jvp(f(jnp), (params, x), tangents, has_aux=True)
    _same(tb, (out, tan, aux), (wout, wtan, waux))
    out, tan = xpgrad.jvp(_model(xpgrad), (_on(tb, params), tb.arr(x)), _on(tb, tangents))
    _same(tb, tan, wtan)
    with pytest.raises(ValueError, match=r"jvp: tangents\[0\] is shaped TreeDef\(\[\*\]\), but primals\[0\]"):
        xpgrad.jvp(_model(xpgrad), (params, x), ([1.0], x))
    with pytest.raises(TypeError, match=r"jvp: with has_aux=True, f must return a pair \(output, aux\); got dict"):
        xpgrad.jvp(_model(xpgrad), (params, x), tangents, has_aux=True)


def test_hvp_of_trees(tb, jax) -> None:
    jnp = jax.numpy
    params, x = _params(), _r(4, 3, seed=9)
    v = xpgrad.tree_map(lambda a: np.full_like(a, 0.3), params), _r(4, 3, seed=8)
    got = xpgrad.hvp(_loss(xpgrad), (_on(tb, params), tb.arr(x)), _on(tb, v))
    _, want = jax.jvp(jax.grad(_loss(jnp), argnums=(0, 1)), (params, x), v)
    _same(tb, got, want, rtol=1e-11)


# ----------------------------------------------------------------- Jacobians and Hessians
@pytest.mark.parametrize("name", ["jacfwd", "jacrev", "jacobian"])
def test_jacobians_nest_output_trees_of_input_trees(tb, jax, name: str) -> None:
    jnp = jax.numpy
    params, x = _params(), _r(2, 3, seed=9)
    mine, theirs = getattr(xpgrad, name), getattr(jax, name if name != "jacobian" else "jacrev")
    _same(tb, mine(_model(xpgrad))(_on(tb, params), tb.arr(x)), theirs(_model(jnp))(params, x))
    got = mine(_model(xpgrad), argnums=(0, 1))(_on(tb, params), tb.arr(x))
    _same(tb, got, theirs(_model(jnp), argnums=(0, 1))(params, x))

    def with_aux(ns: Any) -> Callable[..., Any]:
        return lambda p, x: (_model(ns)(p, x)["out"], [ns.sum(x)])

    j, aux = mine(with_aux(xpgrad), has_aux=True)(_on(tb, params), tb.arr(x))
    wj, waux = theirs(with_aux(jnp), has_aux=True)(params, x)
    _same(tb, (j, aux), (wj, waux))


def test_hessian_of_trees(tb, jax) -> None:
    jnp = jax.numpy
    params, x = {"w": _r(3, 2), "b": [_r(2, seed=1)]}, _r(2, 3, seed=9)

    def loss(ns: Any) -> Callable[..., Any]:
        return lambda p, x: ns.sum(ns.tanh(ns.matmul(x, p["w"]) + p["b"][0]) ** 2)

    _same(tb, xpgrad.hessian(loss(xpgrad))(_on(tb, params), tb.arr(x)), jax.hessian(loss(jnp))(params, x))
    got = xpgrad.hessian(loss(xpgrad), argnums=(0, 1))(_on(tb, params), tb.arr(x))
    _same(tb, got, jax.hessian(loss(jnp), argnums=(0, 1))(params, x))

    def with_aux(ns: Any) -> Callable[..., Any]:
        return lambda p, x: (loss(ns)(p, x), p["w"])

    h, aux = xpgrad.hessian(with_aux(xpgrad), has_aux=True)(_on(tb, params), tb.arr(x))
    wh, waux = jax.hessian(with_aux(jnp), has_aux=True)(params, x)
    _same(tb, (h, aux), (wh, waux))


# ----------------------------------------------------------------- errors name the place
def test_bad_leaves_and_outputs_are_named() -> None:
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"^grad: argument 0\['w'\]\[1\] is a str; the leaves of an argument"):
        xpgrad.grad(lambda p: xpgrad.sum(p["w"][0]))({"w": [x, "abc"]})
    with pytest.raises(TypeError, match=r"^jacrev: argument 1\.second is a object; the leaves"):
        xpgrad.jacrev(lambda a, b: a, argnums=(0, 1))(x, Pair(x, object()))
    with pytest.raises(TypeError, match=r"^jvp: f's output\['b'\] is a float, not a Tensor; f returns a Tensor or"):
        xpgrad.jvp(lambda a: {"a": a, "b": 1.0}, (x,), (x,))
    with pytest.raises(TypeError, match=r"^grad: with has_aux=True, f must return a pair \(output, aux\); got tuple"):
        xpgrad.grad(lambda a: (xpgrad.sum(a), 1, 2), has_aux=True)(x)
    with pytest.raises(TypeError, match=r"^vjp: has_aux is for the function form"):
        t = xpgrad.Tensor(x)
        xpgrad.vjp(t * t, [t], has_aux=True)
    with pytest.raises(TypeError, match=r"pytree: a dict's keys are sorted \(as JAX sorts them\); these cannot be"):
        xpgrad.grad(lambda p: xpgrad.sum(p[1]))({1: x, "a": x})
    # arguments not differentiated are passed as they are, whatever they hold
    g = xpgrad.grad(lambda a, opts: xpgrad.sum(a * opts["scale"]))(x, {"scale": 3.0, "name": "run"})
    assert g.numpy().tolist() == [3.0, 3.0]
