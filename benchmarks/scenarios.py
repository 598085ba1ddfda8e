"""Scenarios B1-B5: what is computed, on which inputs, at which sizes."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np

from . import exprs

F64 = 8  # bytes


@dataclass(frozen=True)
class Task:
    """One differentiation problem. ``order`` 1: [value, *grads]; order 2: [d/dx sum(d/dx f)]."""

    expr_name: str  # compute, memory, chain, deep, shared, sinx, cube
    order: int
    size: int  # elements of each input
    steps: int = 0  # ops (chain) or steps (deep, shared)

    def expr(self) -> exprs.Expr:
        name = self.expr_name
        if name == "chain":
            return exprs.op_chain(self.steps)
        if name == "deep":
            return exprs.deep_chain(self.steps)
        if name == "shared":
            return exprs.shared_chain(self.steps)
        return {
            "compute": exprs.compute_bound,
            "memory": exprs.memory_bound,
            "sinx": exprs.sin_times_x,
            "cube": exprs.cube,
        }[name]

    def inputs(self) -> list[np.ndarray]:
        rng = np.random.default_rng(12345)
        n = self.size
        if self.expr_name in ("compute", "memory"):
            return [rng.uniform(-1.0, 1.0, n), rng.uniform(-1.0, 1.0, n)]
        if self.expr_name == "deep":
            return [np.full(n, 0.5)]
        if self.expr_name == "shared":  # small, so y*y + y stays finite for 1000 steps
            return [rng.uniform(1e-5, 1e-4, n)]
        if self.expr_name == "chain":
            return [rng.uniform(0.0, 1.0, n)]
        return [rng.uniform(-1.0, 1.0, n)]


@dataclass(frozen=True)
class Scenario:
    id: str
    group: str
    title: str
    task: Task
    ops: int = 0  # for microseconds per op (0: not reported)
    steps: int = 0  # for time per step (0: not reported)
    bytes_min: int = 0  # minimum memory traffic, for effective GB/s (0: not reported)
    series: str = ""  # scenarios of one series grow; a contender skipped or failed at one size skips larger ones
    isolated: bool = False  # each contender in its own subprocess (for sizes that may crash a process)


@dataclass(frozen=True)
class Config:
    quick: bool
    b1_sizes: tuple[int, ...] = (10**6, 10**7)
    b2_ops: int = 200
    b2_size: int = 16
    b3_steps: tuple[int, ...] = (10**3, 10**4)
    # Longer 1-element chains use no threads: only in the first thread pass (the last one isolated).
    b3_first_pass_steps: tuple[int, ...] = (10**5,)
    b3_huge_steps: tuple[int, ...] = (10**6,)
    b4_steps: tuple[int, ...] = (5, 10, 100, 1000)
    b4_size: int = 16
    b5_size: int = 10**6
    mem_size: int = 10**7
    rounds: int = 7
    target_s: float = 0.05  # a timed sample repeats the call until it lasts at least this
    budget_s: float = 30.0  # fewer rounds when one round of a scenario would exceed budget/rounds
    cap_s: float = 45.0  # in a growing series, skip a contender whose estimated call time exceeds this
    isolated_cap_s: float = 250.0  # the same, for isolated scenarios (B3 1e6 steps)
    isolated_timeout_s: float = 400.0
    thread_counts: tuple[int, ...] = (1, 2)
    contenders: tuple[str, ...] = field(default_factory=tuple)  # empty: all

    @classmethod
    def for_full(cls) -> Config:
        """The full sizes; ``XPGRAD_BENCH_ROUNDS`` (default 7) trades rounds (and budget) for run time."""
        rounds = int(os.environ.get("XPGRAD_BENCH_ROUNDS", "7"))
        return cls(quick=False, rounds=rounds, budget_s=20.0 * rounds / 7)

    @classmethod
    def for_quick(cls) -> Config:
        return cls(
            quick=True,
            b1_sizes=(10**4,),
            b3_steps=(10**2, 10**3),
            b3_first_pass_steps=(),
            b3_huge_steps=(),
            b4_steps=(5, 10, 100),
            b5_size=10**4,
            mem_size=10**5,
            rounds=3,
            target_s=0.005,
            budget_s=1.0,
            cap_s=5.0,
        )

    @classmethod
    def for_test(cls) -> Config:
        """For the test: every scenario, minimal sizes, one round."""
        return dataclasses.replace(
            cls.for_quick(),
            b1_sizes=(1000,),
            b2_ops=30,
            b3_steps=(10, 100),
            b4_steps=(5, 10, 50),
            b5_size=1000,
            mem_size=1000,
            rounds=1,
            target_s=0.0,
            budget_s=0.5,
            cap_s=2.0,
        )


def _fmt(n: int) -> str:
    if n >= 1000 and n == 10 ** (len(str(n)) - 1):
        return f"1e{len(str(n)) - 1}"
    return str(n)


def b1(cfg: Config) -> list[Scenario]:
    out = []
    for n in cfg.b1_sizes:
        for name, what in (("compute", "sum(sin(x)*y + exp(x*y)/(1+y*y))"), ("memory", "sum((x*y + x)*y)")):
            out.append(
                Scenario(
                    id=f"B1 {name} n={_fmt(n)}",
                    group="B1",
                    title=f"{what}, value+grads, n={n}",
                    task=Task(name, 1, n),
                    bytes_min=4 * n * F64,
                )
            )
    return out


def b2(cfg: Config) -> list[Scenario]:
    n = cfg.b2_ops
    return [
        Scenario(
            id=f"B2 chain {n} ops",
            group="B2",
            title=f"{n}-op chain (mul/add/sin), {cfg.b2_size} elements",
            task=Task("chain", 1, cfg.b2_size, n),
            ops=n,
        )
    ]


def b3(cfg: Config, first_pass: bool) -> list[Scenario]:
    steps = [*cfg.b3_steps, *(cfg.b3_first_pass_steps if first_pass else ())]
    huge = cfg.b3_huge_steps if first_pass else ()
    return [
        Scenario(
            id=f"B3 deep {_fmt(s)}",
            group="B3",
            title=f"x = x*0.999 + 0.001, {s} steps, 1 element" + (", isolated" if s in huge else ""),
            task=Task("deep", 1, 1, s),
            ops=2 * s,
            steps=s,
            series="B3",
            isolated=s in huge,
        )
        for s in [*steps, *huge]
    ]


def b4(cfg: Config) -> list[Scenario]:
    return [
        Scenario(
            id=f"B4 shared {s}",
            group="B4",
            title=f"y = y*y + y, {s} steps, {cfg.b4_size} elements",
            task=Task("shared", 1, cfg.b4_size, s),
            ops=3 * s,
            steps=s,
            series="B4",
        )
        for s in cfg.b4_steps
    ]


def b5(cfg: Config) -> list[Scenario]:
    n = cfg.b5_size
    out = []
    for name, what in (("sinx", "sum(sin(x)*x)"), ("cube", "sum(x**3)")):
        for order, label in ((1, "d1"), (2, "d2")):
            title = f"{what}, n={n}, " + ("value+grad" if order == 1 else "d/dx sum(d/dx f)")
            out.append(Scenario(id=f"B5 {name} {label}", group="B5", title=title, task=Task(name, order, n)))
    return out


def all_scenarios(cfg: Config, first_pass: bool = True) -> list[Scenario]:
    """Every scenario; the longest deep chains only in the first pass (see ``b3_first_pass_steps``)."""
    return [*b1(cfg), *b2(cfg), *b3(cfg, first_pass), *b4(cfg), *b5(cfg)]
