"""Released values (`xpgrad._opt.release`) change no bit: random compositions on large arrays, against release off.

The same programs as `test_compositions` on arrays of `_opt.release.LARGE` elements (where values are released,
recomputed and buffers reused): values, first and second derivatives, then re-feeding a leaf and `forward()`,
must equal, bit for bit, what the same graph gives with releasing turned off. Derandomized, so CI runs the
same examples every time (this is how the bugs fixed in bef3212 were found).
"""

from __future__ import annotations

import contextlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import xpgrad as xg
from test_compositions import run, steps
from xpgrad._opt.release import LARGE


def _outputs(program: list, a: np.ndarray, b: np.ndarray, release: bool) -> list[np.ndarray]:
    with contextlib.nullcontext() if release else xg.options(release=False):
        x, y = xg.Tensor(a.copy()), xg.Tensor(b.copy())
        out = xg.sum(run(program, x, y))
        gx, gy = xg.grad(out, [x, y])
        (hx,) = xg.grad(xg.sum(gx * gy), [x])
        vals = [out.value, gx.value, gy.value, hx.value]
        x.value = a[::-1].copy()
        for t in (out, gx, gy, hx):
            t.forward()
        vals += [out.value, gx.value, gy.value, hx.value]
    assert all(v is not None for v in vals)
    return [np.asarray(v, dtype=np.float64) for v in vals]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(program=steps, seed=st.integers(0, 2**32 - 1))
def test_released_values_change_no_bit(program: list, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-1.5, 1.5, LARGE), rng.uniform(-1.5, 1.5, LARGE)
    with np.errstate(all="ignore"):
        on = _outputs(program, a, b, release=True)
        off = _outputs(program, a, b, release=False)
    for i, (p, q) in enumerate(zip(on, off, strict=True)):
        assert np.array_equal(p, q, equal_nan=True), f"output {i} differs"
