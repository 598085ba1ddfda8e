"""The Dask backend: lazy graphs that compute nothing until asked, in the chunks of their inputs, computed
in one pass by `xpgrad.compute` and compiled functions, on the threaded scheduler and on `dask.distributed`.

"Nothing computes early" is tested as SciPy tests its lazy backends: under a Dask scheduler that raises on
any compute (``dask.config.set(scheduler=...)``), building, merging, simplifying and differentiating must
succeed. Oracles: closed forms, central finite differences (`check_grads`), and NumPy."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import xpgrad
from xpgrad import Tensor

da = pytest.importorskip("dask.array", reason="dask is not installed (pip install 'dask[array]')")
dask = pytest.importorskip("dask", reason="dask is not installed (pip install 'dask[array]')")

N, CHUNK = 2_000, 250


def _computes(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a Dask computation ran while building or differentiating")


def no_compute() -> Any:
    """Within: any Dask computation raises (SciPy's test of lazy backends)."""
    return dask.config.set(scheduler=_computes)


def chunked(a: np.ndarray, chunks: Any = CHUNK) -> Any:
    return da.from_array(a, chunks=chunks)


def xs(n: int = N, lo: float = 0.1, hi: float = 1.0) -> np.ndarray:
    return np.linspace(lo, hi, n)


# ----------------------------------------------------------------- the backend by name
def test_names_and_modules_round_trip() -> None:
    import array_api_compat.dask.array as compat_da

    t = Tensor(chunked(xs()))
    assert t.backend == "dask"
    for spec in ("dask", da, compat_da, t.backend):
        assert Tensor([1.0, 2.0], backend=spec).backend == "dask"
    assert xpgrad.get_backend(da) is xpgrad.get_backend("dask") is t._bk
    assert "dask" in xpgrad.available_backends()
    moved = Tensor(np.array([1.0, 2.0])).to("dask")
    assert moved.backend == "dask" and type(moved.value) is da.Array
    assert isinstance(t.to("numpy").value, np.ndarray)


def test_dtype_names_of_a_namespace_without_float16() -> None:
    # NumPy's dtypes compare equal to None (as float64): a name the namespace lacks was taken for a match
    t = Tensor(chunked(xs()))
    assert "dtype=float64" in repr(t)
    assert Tensor(np.ones(2)).to("dask").to("numpy").dtype == np.float64


def test_unknown_chunk_sizes_refused() -> None:
    x = chunked(xs())
    masked = x[x > 0.5]  # boolean indexing: chunk sizes unknown (nan) until computed
    with pytest.raises(ValueError, match=r"leaf: a Dask array of unknown chunk sizes.*compute_chunk_sizes"):
        Tensor(masked)
    p = xpgrad.placeholder(shape=(None,), dtype="float64", backend="dask", name="p")
    with pytest.raises(ValueError, match=r"placeholder 'p': a Dask array of unknown chunk sizes"):
        p.value = masked
    q = xpgrad.placeholder(shape=(None,), dtype="float64", name="q")  # (a NumPy placeholder, called with Dask)
    f = xpgrad.function([q], xpgrad.sin(q))
    with pytest.raises(ValueError, match=r"op 'sin': a Dask array of unknown chunk sizes"):
        f(masked)


# ----------------------------------------------------------------- values and gradients
def b1(m: Any, x: Any, y: Any) -> Any:
    return m.sum(m.sin(x) * y + m.exp(x * y) / (1 + y * y))


def test_b1_values_and_gradients_closed_form() -> None:
    xn, yn = xs(), xs()[::-1].copy()
    x, y = Tensor(chunked(xn)), Tensor(chunked(yn))
    f = b1(xpgrad, x, y)
    gx, gy = xpgrad.grad(f, [x, y])
    v, gxv, gyv = xpgrad.compute(f, gx, gy)
    e = np.exp(xn * yn)
    np.testing.assert_allclose(v, b1(np, xn, yn), rtol=1e-12)
    np.testing.assert_allclose(gxv, np.cos(xn) * yn + yn * e / (1 + yn * yn), rtol=1e-12)
    np.testing.assert_allclose(gyv, np.sin(xn) + (xn * e * (1 + yn * yn) - 2 * yn * e) / (1 + yn * yn) ** 2, rtol=1e-12)


FUNCS: dict[str, Callable[[Any], Tensor]] = {
    "b1": lambda x: b1(xpgrad, x, x * 0.5),
    "mean": lambda x: xpgrad.mean(x * x),
    "max": lambda x: xpgrad.max(xpgrad.sin(x)),
    "prod": lambda x: xpgrad.prod(x),
    "var": lambda x: xpgrad.var(x),
    "std": lambda x: xpgrad.std(xpgrad.exp(x)),
    "where": lambda x: xpgrad.sum(xpgrad.where(x > 0.5, x * x, xpgrad.sin(x))),
    "index": lambda x: xpgrad.sum(xpgrad.sin(x[3:17]) * x[:14]),
    "mean-axis": lambda x: xpgrad.sum(xpgrad.mean(xpgrad.reshape(x, (4, -1)) ** 2, axis=0)),
    "broadcast": lambda x: xpgrad.sum(xpgrad.reshape(x, (4, 1, -1)) * xpgrad.reshape(x, (1, 4, -1))),
}


@pytest.mark.parametrize("name", FUNCS)
def test_gradients_to_order_2_finite_differences(name: str) -> None:
    x = chunked(np.linspace(0.6, 1.4, 20), chunks=6)
    xpgrad.check_grads(FUNCS[name], x, order=2)


@pytest.mark.parametrize("name", FUNCS)
def test_order_2_agrees_with_numpy(name: str) -> None:
    xn = np.linspace(0.6, 1.4, 20)
    out = []
    for a in (xn, chunked(xn, chunks=6)):
        x = Tensor(a)
        y = FUNCS[name](x)
        g = y.grad(x)
        out.append([t.numpy() for t in (y, g, xpgrad.sum(g * g).grad(x))])
    for got, want in zip(out[1], out[0], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------- nothing computes early
@pytest.mark.parametrize("name", FUNCS)
def test_build_and_differentiate_compute_nothing(name: str) -> None:
    x0 = chunked(np.linspace(0.6, 1.4, 20), chunks=6)
    with no_compute():
        x = Tensor(x0)
        y = FUNCS[name](x)
        again = FUNCS[name](x)  # merged with the first
        g = y.grad(x)
        gg = xpgrad.grad(xpgrad.sum(g * g), [x])[0]
        (s,) = xpgrad.simplify(gg)
        p = xpgrad.placeholder(shape=(None,), dtype="float64", name="p")
        f = xpgrad.function([p], [FUNCS[name](p), FUNCS[name](p).grad(p)])
    assert again is y
    assert type(gg.value) is da.Array and type(s.value) is da.Array
    np.testing.assert_allclose(s.numpy(), gg.numpy(), rtol=1e-12)
    _, gv = f(x0)
    np.testing.assert_allclose(gv, g.numpy(), rtol=1e-12)


def test_prod_higher_order_check_stays_lazy() -> None:
    xn = np.array([1.5, 0.0, 2.0, 3.0])
    with no_compute():
        x = Tensor(chunked(xn, chunks=2))
        g = xpgrad.prod(x).grad(x)
        gg = xpgrad.sum(g).grad(x)  # refused where x has a zero, but only when computed
    np.testing.assert_allclose(g.numpy(), [0.0, 9.0, 0.0, 0.0])  # the product of the others
    with pytest.raises(NotImplementedError, match="prod: derivatives of order 2"):
        gg.numpy()


class _Largest:
    """A Dask callback recording the largest result (in bytes) any task makes."""

    def __init__(self) -> None:
        from dask.callbacks import Callback

        self.most = 0

        def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            name = key[0] if isinstance(key, tuple) else key
            if not str(name).startswith("finalize"):  # (the result handed back, concatenated: not a chunk)
                self.most = max(self.most, getattr(result, "nbytes", 0))

        self.callback = Callback(posttask=posttask)


@pytest.mark.parametrize("name", ["mean", "max", "b1", "var", "mean-axis"])
def test_gradients_keep_the_chunks(name: str) -> None:
    # a broadcast of a reduced cotangent, and the stand-in of a released value, were one chunk of the whole
    # array (800 MB at 10^8 elements); large enough to be released (`_opt.release.LARGE`) on NumPy
    xn = np.linspace(0.6, 1.4, 80_000)
    x = Tensor(chunked(xn, chunks=10_000))
    y = FUNCS[name](x)
    p = xpgrad.placeholder(shape=(None,), dtype="float64", name="p")  # the same, compiled over (None,)
    f = xpgrad.function([p], [FUNCS[name](p), FUNCS[name](p).grad(p)])
    for run in (lambda: xpgrad.compute(y, y.grad(x)), lambda: f(x.value)):
        largest = _Largest()
        with largest.callback, dask.config.set(scheduler="sync"):
            run()
        assert 0 < largest.most <= 10_000 * 8


# ----------------------------------------------------------------- one computation
class _Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, block: Any) -> Any:
        self.calls += 1
        return block


def test_compute_runs_shared_intermediates_once() -> None:
    count = _Counter()
    xn = xs()
    x = Tensor(chunked(xn).map_blocks(count, dtype=np.float64, meta=np.array((), dtype=np.float64)))
    y = xpgrad.sum(xpgrad.sin(x) * x)
    g = y.grad(x)
    gg = xpgrad.sum(g * g).grad(x)
    assert count.calls == 0
    v, gv, ggv = xpgrad.compute(y, g, gg)
    assert count.calls == N // CHUNK  # each chunk of x made once, for the value and both gradients
    np.testing.assert_allclose(gv, np.cos(xn) * xn + np.sin(xn), rtol=1e-12)
    assert isinstance(ggv, np.ndarray) and float(v) == pytest.approx(np.sum(np.sin(xn) * xn), rel=1e-12)


def test_function_computes_once() -> None:
    count = _Counter()
    xn = xs()
    p = xpgrad.placeholder(shape=(None,), dtype="float64", name="p")
    y = xpgrad.mean(xpgrad.exp(p) * p)
    f = xpgrad.function([p], [y, y.grad(p)])
    a = chunked(xn).map_blocks(count, dtype=np.float64, meta=np.array((), dtype=np.float64))
    v, gv = f(a)
    assert count.calls == N // CHUNK
    assert isinstance(gv, np.ndarray)
    np.testing.assert_allclose(v, np.mean(np.exp(xn) * xn), rtol=1e-12)
    np.testing.assert_allclose(gv, (np.exp(xn) * xn + np.exp(xn)) / N, rtol=1e-12)


def test_compute_on_eager_backends_returns_the_values() -> None:
    a = np.array([1.0, 2.0])
    t = Tensor(a)
    y = t * 2
    got = xpgrad.compute(t, y, Tensor(3.0))
    assert got[0] is a and got[1] is y.value and float(got[2]) == 3.0
    assert xpgrad.compute() == ()
    with pytest.raises(TypeError, match="compute: argument 1 is a ndarray, not a Tensor"):
        xpgrad.compute(t, a)  # type: ignore[arg-type]
    p = xpgrad.placeholder(shape=(2,), dtype="float64", name="p")
    with pytest.raises(xpgrad.PlaceholderError, match="placeholder 'p'"):
        xpgrad.compute(p * 2)


def test_cupy_chunks() -> None:
    from xpgrad.backends import cupy as _cupy

    why = _cupy.probe()
    if why is not None:
        pytest.skip(f"no CUDA device: {why}")
    import cupy

    xn = xs()
    x = Tensor(da.from_array(cupy.asarray(xn), chunks=CHUNK, asarray=False))
    y = xpgrad.sum(xpgrad.sin(x) * x)
    _, g = xpgrad.compute(y, y.grad(x))
    assert isinstance(g, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(g), np.cos(xn) * xn + np.sin(xn), rtol=1e-12)


# ----------------------------------------------------------------- one task per chunk for elementwise regions
def _tasks(run: Callable[[], Any]) -> int:
    """How many tasks ``run`` makes Dask run."""
    from dask.callbacks import Callback

    count = [0]

    def pretask(key: Any, dsk: Any, state: Any) -> None:
        count[0] += 1

    with Callback(pretask=pretask), dask.config.set(scheduler="sync"):
        run()
    return count[0]


def b1_by_hand(x: Any, y: Any) -> list[Any]:
    """B1 and its gradients written in Dask by hand (benchmarks/dask_b1.py's contender)."""
    s, e, d = da.sin(x), da.exp(x * y), 1 + y * y
    q = e / d
    return [da.sum(s * y + q), da.cos(x) * y + y * q, s + x * q - 2 * y * q / d]


@pytest.mark.parametrize("chunks", [4, 10])
def test_b1_gradient_runs_no_more_tasks_than_hand_written(chunks: int) -> None:
    # the gradient reuses exp(x*y), 1/(1+y*y) and their product where the hand-written one reuses one quotient:
    # Dask made each a task per chunk, held until its readers ran and sent to them on a cluster (127 tasks
    # against 107 over 10 chunks); the elementwise ops now run as one task per chunk
    xn, yn = xs(chunks * CHUNK), xs(chunks * CHUNK)[::-1].copy()
    x, y = chunked(xn), chunked(yn)
    hand = _tasks(lambda: dask.compute(*b1_by_hand(x, y)))
    tx, ty = Tensor(x), Tensor(y)
    f = b1(xpgrad, tx, ty)
    gx, gy = xpgrad.grad(f, [tx, ty])
    assert _tasks(lambda: xpgrad.compute(f, gx, gy)) <= hand
    p, q = (xpgrad.placeholder(shape=(None,), dtype="float64", name=k) for k in "pq")
    fp = b1(xpgrad, p, q)
    compiled = xpgrad.function([p, q], [fp, *xpgrad.grad(fp, [p, q])])
    assert _tasks(lambda: compiled(x, y)) <= hand
    # the seed of the compiled gradient (a 0-d one spread over (None,)) is read as a 0-d value, not made as chunks
    # of ones (which a cluster also sends between workers): no more tasks than the eager graph's
    assert _tasks(lambda: compiled(x, y)) <= _tasks(lambda: xpgrad.compute(f, gx, gy))
    want = dask.compute(f.value, gx.value, gy.value)  # (each op its own tasks: Dask's own bits)
    for got in (xpgrad.compute(f, gx, gy), compiled(x, y)):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", ["p*2+p", "-(p*2)", "sin(p)*2+p*3"])
def test_regions_of_uniform_values_give_whole_blocks(case: str) -> None:
    # a region that reads a gradient's uniform seed as a 0-d value: an output computed from it alone is 0-d in
    # the region, and must come back as the block it stands for (shape, bits, writeable)
    p = xpgrad.placeholder(shape=(None,), dtype="float64", name="p")
    body = {"p*2+p": p * 2.0 + p, "-(p*2)": -(p * 2.0), "sin(p)*2+p*3": xpgrad.sin(p) * 2.0 + p * 3.0}[case]
    g = xpgrad.function([p], xpgrad.sum(body).grad(p))
    xn = xs(4 * CHUNK)
    got, want = g(chunked(xn)), g(xn)
    assert got.shape == want.shape == xn.shape and got.flags.writeable
    np.testing.assert_array_equal(got, want)


def test_regions_wait_for_reductions_of_their_own_values() -> None:
    # sin(x) and exp(z) * sin(x) are elementwise over x's chunks, but z reads mean(sin(x)): two regions
    xn = xs()
    x = Tensor(chunked(xn))
    s = xpgrad.sin(x)
    z = xpgrad.cos(s) * xpgrad.mean(s)
    y = xpgrad.sum(xpgrad.exp(z) * s + s * s)
    v, g = xpgrad.compute(y, y.grad(x))
    sn = np.sin(xn)
    m = sn.mean()
    ez = np.exp(np.cos(sn) * m)
    np.testing.assert_allclose(v, np.sum(ez * sn + sn * sn), rtol=1e-12)
    dy_ds = ez * sn * -np.sin(sn) * m + ez + 2 * sn + np.sum(ez * sn * np.cos(sn)) / N
    np.testing.assert_allclose(g, dy_ds * np.cos(xn), rtol=1e-9)


def _vocabulary() -> list[Any]:
    from vocab import ENTRIES

    return list(ENTRIES)


@pytest.mark.parametrize("entry", _vocabulary(), ids=lambda e: e.name)
def test_regions_give_dasks_own_bits(entry: Any) -> None:
    # each elementwise op run block by block inside a region (with its gradient's ops where it has one) gives
    # the bits of Dask running it op by op; the first dtype of its family
    from vocab import DTYPES

    dtype = DTYPES[entry.dtypes][0]
    rng = np.random.default_rng(7)
    args = [rng.uniform(lo, hi, 1_000) for lo, hi in entry.ranges]
    args = [a > np.median(a) if dtype == "bool" else a.astype(dtype) for a in args]
    ts = [Tensor(chunked(a)) for a in args]
    out = entry(xpgrad, *ts)
    outs = [out, xpgrad.equal(out, out)]
    if entry.order >= 1 and dtype.startswith("float"):
        outs += xpgrad.grad(xpgrad.sum(out), ts)
    want = dask.compute(*(t.value for t in outs))
    for a, b in zip(xpgrad.compute(*outs), want, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- dask.distributed
@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with (  # (":0": a free port; with None the scheduler still serves on 8787, and warns where that is taken)
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", memory_limit="1GiB"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_distributed_value_and_gradients(client: Any) -> None:
    xn, yn = xs(), xs()[::-1].copy()
    x, y = Tensor(chunked(xn)), Tensor(chunked(yn))
    f = b1(xpgrad, x, y)
    gx, gy = xpgrad.grad(f, [x, y])
    v, gxv, gyv = xpgrad.compute(f, gx, gy)  # (the client is Dask's default scheduler now)
    assert len(client.scheduler_info()["workers"]) == 2
    e = np.exp(xn * yn)
    np.testing.assert_allclose(v, b1(np, xn, yn), rtol=1e-12)
    np.testing.assert_allclose(gxv, np.cos(xn) * yn + yn * e / (1 + yn * yn), rtol=1e-12)
    np.testing.assert_allclose(gyv, np.sin(xn) + (xn * e * (1 + yn * yn) - 2 * yn * e) / (1 + yn * yn) ** 2, rtol=1e-12)
    p = xpgrad.placeholder(shape=(None,), dtype="float64", name="p")
    g = xpgrad.function([p], xpgrad.sum(xpgrad.exp(p) * p).grad(p))(chunked(xn))
    np.testing.assert_allclose(g, np.exp(xn) * xn + np.exp(xn), rtol=1e-12)


def die_once(block: Any, marker: str) -> Any:
    """A task that kills its worker process the first time any chunk runs (the marker file says so)."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return block


def test_distributed_survives_a_killed_worker(client: Any, tmp_path: Any) -> None:
    marker = str(tmp_path / "killed")
    xn = xs()
    x = Tensor(chunked(xn).map_blocks(die_once, marker, dtype=np.float64, meta=np.array((), dtype=np.float64)))
    y = xpgrad.sum(xpgrad.exp(x) * x)
    v, g = xpgrad.compute(y, y.grad(x))  # Dask reruns the lost tasks on the other (and the restarted) worker
    assert os.path.exists(marker)  # a worker did die
    np.testing.assert_allclose(v, np.sum(np.exp(xn) * xn), rtol=1e-12)
    np.testing.assert_allclose(g, np.exp(xn) * xn + np.exp(xn), rtol=1e-12)


# ----------------------------------------------------------------- the whole elementwise vocabulary
def _differentiable() -> list[Any]:
    from vocab import ENTRIES

    return [e for e in ENTRIES if e.order >= 1 and e.dtypes in ("float", "real", "numeric")]


@pytest.mark.parametrize("entry", _differentiable(), ids=lambda e: e.name)
def test_vocabulary_lazy_to_order_2_agrees_with_numpy(entry: Any) -> None:
    # every elementwise op: built and differentiated twice on Dask computing nothing, then equal to NumPy's
    args = [np.linspace(lo + 0.13 * (hi - lo), hi - 0.11 * (hi - lo), 12) for lo, hi in entry.ranges]
    args = [a[::-1] if k % 2 else a for k, a in enumerate(args)]  # (operands unlike each other)

    def grads(arrays: list[Any]) -> list[Tensor]:
        ts = [Tensor(a) for a in arrays]
        y = xpgrad.sum(entry(xpgrad, *ts))
        gs = xpgrad.grad(y, ts)
        return [y, *gs, *xpgrad.grad(xpgrad.sum(gs[0] * gs[0]), ts)]

    with no_compute():
        lazy = grads([chunked(a, chunks=5) for a in args])
    want = [t.numpy() for t in grads(args)]
    for got, w in zip(xpgrad.compute(*lazy), want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "key",
    [(2, slice(3, 1, -1)), (slice(None, None, -1), 1), (Ellipsis, slice(None, None, -2)), (1, slice(2, 0, -1)), (0,)],
)
def test_setitem_with_reversed_slices(key: Any) -> None:
    # (Dask's own assignment raises IndexError for an int before a reversed slice: the hook writes in increasing order)
    from xpgrad.backends.dask import setitem

    want = np.zeros((3, 4))
    value = np.arange(want[key].size, dtype=np.float64).reshape(want[key].shape) + 1
    want[key] = value
    got = setitem(da.zeros((3, 4), chunks=2), key, da.from_array(value))
    np.testing.assert_array_equal(got.compute(), want)


@pytest.mark.parametrize("key", [(2, slice(3, 1, -1)), (slice(None, None, -1), 1), (1, slice(2, 0, -1))])
def test_indexing_gradients_through_reversed_slices(key: Any) -> None:
    # the adjoint of indexing writes through the backend's setitem hook (Dask's own assignment raises here)
    a = np.arange(12.0).reshape(3, 4) / 7
    x = Tensor(chunked(a, chunks=2))
    (g,) = xpgrad.grad(xpgrad.sum(xpgrad.sin(x[key])), [x])
    want = np.zeros((3, 4))
    want[key] = np.cos(a[key])
    np.testing.assert_allclose(g.numpy(), want, rtol=1e-14)


# ----------------------------------------------------------------- the standard's functions Dask's wrapper lacks
ALONG = [  # (x's shape and chunks, indices' shape and chunks, axis): indices broadcast off the axis, negative ones
    ((5, 6), (2, 4), (5, 4), (3, 1), 1),
    ((5, 6), (2, 4), (3, 1), (2, 1), 0),
    ((5, 6), (2, 4), (1, 7), (1, 3), -1),
    ((2, 3, 4), (1, 2, 3), (2, 5, 1), (1, 2, 1), 1),
]


@pytest.mark.parametrize("case", ALONG)
def test_take_along_axis_in_chunks_agrees_with_numpy(case: Any) -> None:
    sx, cx, si, ci, axis = case
    rng = np.random.default_rng(3)
    x, i = rng.normal(size=sx), rng.integers(-sx[axis], sx[axis], size=si)
    xp = xpgrad.get_backend("dask").xp
    with no_compute():
        got = xp.take_along_axis(chunked(x, cx), chunked(i, ci), axis=axis)
        t = xpgrad.take_along_axis(Tensor(chunked(x, cx)), Tensor(chunked(i, ci)), axis=axis)
        (g,) = xpgrad.grad(xpgrad.sum(t * t), [t.children[0]])
    want = np.take_along_axis(x, i, axis=axis)
    np.testing.assert_array_equal(got.compute(), want)
    np.testing.assert_array_equal(t.numpy(), want)
    gw, a = np.zeros_like(x), axis % x.ndim  # d/dx sum(t * t): 2 t added back where each element was taken
    for k in np.ndindex(want.shape):
        src = list(k)
        src[a] = np.broadcast_to(i, want.shape)[k] % sx[a]
        gw[tuple(src)] += 2 * want[k]
    np.testing.assert_allclose(g.numpy(), gw, rtol=1e-14)


def test_take_repeat_and_reshape_as_the_standard_has_them() -> None:
    # take and repeat without an axis (Dask requires one), and reshapes Dask refuses in these chunks
    a = np.arange(12.0).reshape(3, 4) / 7
    x = Tensor(chunked(a, chunks=(2, 3)))
    with no_compute():
        v = Tensor(chunked(np.arange(5.0), chunks=2))
        taken = xpgrad.take(v, Tensor(da.from_array(np.array([0, -1, 3, 3]))))
        repeated = xpgrad.repeat(x, 2)
        shapes = [(4, 3), (2, 6), (6, -1), (2, 2, 3), (12,), (4, 1, 3)]
        reshaped = [xpgrad.reshape(x, s) for s in shapes]
        grads = [xpgrad.grad(xpgrad.sum(xpgrad.sin(r) * r), [x])[0] for r in reshaped]
    np.testing.assert_array_equal(taken.numpy(), [0.0, 4.0, 3.0, 3.0])
    np.testing.assert_array_equal(xpgrad.sum(taken).grad(v).numpy(), [1.0, 0.0, 0.0, 2.0, 1.0])
    np.testing.assert_array_equal(repeated.numpy(), np.repeat(a, 2))
    for n, m, k in ((3, 4, 1), (3, 4, -1), (2, 5, 0), (4, 3, -2), (3, None, 1)):
        e = xpgrad.eye(n, m, k=k, dtype="float32", backend="dask")
        assert e.value.chunks == tuple((d,) for d in e.shape)  # (Dask's eye(3, 4): chunks ((3,), (3,)))
        np.testing.assert_array_equal(e.numpy(), np.eye(n, m, k=k, dtype=np.float32))
    for s, r, g in zip(shapes, reshaped, grads, strict=True):
        np.testing.assert_array_equal(r.numpy(), a.reshape(s))
        np.testing.assert_allclose(g.numpy(), np.sin(a) + a * np.cos(a), rtol=1e-14)


def test_pickled_graphs_keep_their_chunks_and_compute_nothing() -> None:
    # a leaf's array was pickled as a host copy: computed (the whole array, on the client), and loaded in one chunk
    import pickle

    xn = np.linspace(0.6, 1.4, 20)
    x = Tensor(chunked(xn, chunks=6))
    y = FUNCS["b1"](x)
    with no_compute():
        y2, g2 = pickle.loads(pickle.dumps((y, y.grad(x))))
    assert g2.value.chunks == ((6, 6, 6, 2),)
    np.testing.assert_array_equal(g2.numpy(), y.grad(x).numpy())
    assert y2.item() == y.item()
