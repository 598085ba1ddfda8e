"""Random compositions of the vocabulary, on random broadcasting shapes, against finite differences.

Hypothesis draws a small program (each step applies a function of the vocabulary to earlier values)
and the inputs; the gradient of its sum with respect to every input must match `check_grads`. Only
functions smooth on all of their sampled domain are drawn (kinks are tested at their points elsewhere).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xpgrad as xg
from bits import programs, run_program

UNARY = {
    "sin": xg.sin,
    "cos": xg.cos,
    "tanh": xg.tanh,
    "atan": xg.atan,
    "asinh": xg.asinh,
    "exp(tanh)": lambda t: xg.exp(xg.tanh(t)),
    "expm1(tanh)": lambda t: xg.expm1(xg.tanh(t)),
    "log1p(square)": lambda t: xg.log1p(xg.square(t)),
    "sqrt(1 + t*t)": lambda t: xg.sqrt(1 + t * t),
    "cosh(tanh)": lambda t: xg.cosh(xg.tanh(t)),
    "sinh(tanh)": lambda t: xg.sinh(xg.tanh(t)),
    "asin(tanh / 2)": lambda t: xg.asin(xg.tanh(t) / 2),
    "atanh(tanh / 2)": lambda t: xg.atanh(xg.tanh(t) / 2),
    "acosh(2 + square)": lambda t: xg.acosh(2 + xg.square(t)),
    "log2(2 + sin)": lambda t: xg.log2(2 + xg.sin(t)),
    "reciprocal(2 + cos)": lambda t: xg.reciprocal(2 + xg.cos(t)),
    "mean over the last axis": lambda t: xg.mean(t, axis=-1, keepdims=True) if t.ndim else t,
    "t[..., ::-1]": lambda t: t[..., ::-1] if t.ndim else t,
}
BINARY = {
    "add": xg.add,
    "subtract": xg.subtract,
    "multiply": xg.multiply,
    "a / (1 + b*b)": lambda a, b: a / (1 + b * b),
    "logaddexp": xg.logaddexp,
    "atan2(a, 2 + cos b)": lambda a, b: xg.atan2(a, 2 + xg.cos(b)),
    "hypot(a, 1 + b*b)": lambda a, b: xg.hypot(a, 1 + b * b),
    "(1 + a*a) ** tanh(b)": lambda a, b: (1 + a * a) ** xg.tanh(b),
}
SHAPES = [(2, 3), (1, 3), (2, 1), (3,), ()]

steps = programs(UNARY, BINARY)
values = st.lists(st.floats(-2.0, 2.0, allow_nan=False, width=64), min_size=6, max_size=6)


def run(program, *leaves):
    vals = run_program(program, leaves, UNARY, BINARY)
    return vals[-1] + 0.5 * vals[-2] if len(vals) > 2 else vals[-1]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=steps, sa=st.sampled_from(SHAPES), sb=st.sampled_from(SHAPES), data_a=values, data_b=values)
def test_random_compositions_match_finite_differences(tb, program, sa, sb, data_a, data_b) -> None:
    a = tb.arr(np.array(data_a[: int(np.prod(sa))]).reshape(sa))
    b = tb.arr(np.array(data_b[: int(np.prod(sb))]).reshape(sb))
    xg.check_grads(lambda x, y: run(program, x, y), a, b, order=1, rtol=1e-5, atol=1e-7)
