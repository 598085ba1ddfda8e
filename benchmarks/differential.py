"""``python -m benchmarks.differential --base REV [--head REV|PATH] [--examples N] [--seed S] [--only K]``:
random graphs evaluated and differentiated by two versions of xpgrad, compared bit for bit.

A case is a graph described as data: leaves (shape, dtype, how to draw the values) and nodes (op name, operands:
indices of earlier nodes or Python numbers, parameters), drawn from the seed here and run in one child process
per version (PYTHONPATH set to that version's ``src``, the same PYTHONHASHSEED). The child renders each node as a
line of Python (the reproducer printed for a mismatch is the same text) and evaluates the graph's value and its
derivatives of order 1 to 3 (``xpgrad.grad`` of the sum of the previous order's gradients, with respect to
every leaf), with merging and releasing each on and off. It returns every output's dtype, shape and a digest of
its bits (each nan counts as one value, signed zeros differ), or the exception (type and message) that stopped
the case, and the warnings it raised. Both versions must agree on every output, exception and warning.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib
import json
import operator
import random
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from . import versions
from .runner import REPO_ROOT

Case = dict[str, Any]

UNARY = (
    "abs acos acosh asin asinh atan atanh ceil cos cosh exp expm1 floor log log1p log2 log10 negative positive "
    "reciprocal round sign sin sinh sqrt square tan tanh trunc"
).split()
BINARY = (
    "add subtract multiply divide pow atan2 hypot logaddexp maximum minimum copysign remainder floor_divide"
).split()
OPERATORS = ("+", "-", "*", "/", "**")
REDUCTIONS = ("sum", "mean", "max", "prod")
CONSTANTS = (0.5, -1.5, 2, 3, -2, 0.0, -0.0, 1e-3, 2.5)
SMALL = ((), (1,), (5,), (2, 3), (3, 1, 2), (4, 3))  # a case's full shape; each leaf's shape broadcasts to it
LARGE = ((2**16,), (256, 256), (2, 2**15))  # at least 2**16 elements: large enough to be released
RANGES = ((-2.0, 2.0), (0.1, 0.9), (1.1, 3.0), (-0.9, -0.1))
SPECIALS = (0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan)
ORDERS = 3
STAGES = ("value", *(f"d{k}" for k in range(1, ORDERS + 1)), "warnings")  # what a child returns per case and setting
SETTINGS = {"merge+release": (True, True), "merge": (True, False), "release": (False, True), "neither": (False, False)}


# -- drawing a case (in the parent) ------------------------------------------------------------------------------
def make_case(seed: int, index: int) -> Case:
    rng = random.Random(seed * 1_000_003 + index)
    large = rng.random() < 0.2
    full = rng.choice(LARGE if large else SMALL)
    dtype = rng.choice(("float32", "float64"))
    leaves = [make_leaf(rng, full, dtype, whole=large and i == 0) for i in range(rng.randint(1, 3))]
    shapes = [tuple(leaf["shape"]) for leaf in leaves]
    nodes: list[list[Any]] = []
    unused = list(range(len(leaves)))  # leaves no node reads yet: their gradients would be zeros
    for _ in range(rng.randint(1, 5 if large else 10)):
        a = unused[0] if unused and rng.random() < 0.5 else _pick(rng, len(shapes))
        node, shape = make_node(rng, shapes, a)
        nodes.append(node)
        unused = [i for i in unused if i not in node[1]]
        if shape is None:  # an op that must fail: nothing can follow it
            break
        shapes.append(shape)
    used = {i for _, operands, _ in nodes for i in operands if isinstance(i, int)}
    sinks = [i for i in range(len(leaves), len(leaves) + len(nodes)) if i not in used]
    return {"index": index, "seed": seed, "leaves": leaves, "nodes": nodes, "outputs": sinks}


def make_leaf(rng: random.Random, full: tuple[int, ...], dtype: str, whole: bool) -> dict[str, Any]:
    """A leaf whose shape broadcasts to ``full`` (or is ``full``): a suffix of it with some sizes 1, or 0-d or (1,)."""
    if whole:
        shape = list(full)
    elif rng.random() < 0.15:
        shape = rng.choice(([], [1]))
    else:
        k = len(full) if rng.random() < 0.6 else rng.randint(0, len(full))
        shape = [d if rng.random() < 0.7 else 1 for d in full[len(full) - k :]]
    if rng.random() < 0.1:
        dtype = {"float32": "float64", "float64": "float32"}[dtype]
    low, high = rng.choice(RANGES)
    specials = rng.random() < 0.2  # some elements 0, -0, 1, -1, inf, -inf or nan
    return {
        "shape": shape,
        "dtype": dtype,
        "seed": rng.randrange(2**32),
        "low": low,
        "high": high,
        "specials": specials,
    }


def leaf_array(spec: dict[str, Any]) -> np.ndarray:
    rng = np.random.default_rng(spec["seed"])
    a = rng.uniform(spec["low"], spec["high"], spec["shape"])
    if spec["specials"]:
        a = np.where(rng.random(a.shape) < 0.1, rng.choice(SPECIALS, a.shape), a)
    return np.asarray(a, dtype=spec["dtype"])


def _pick(rng: random.Random, n: int) -> int:
    """An earlier node: recent ones more often (so that graphs grow deep), any one (a leaf, say) now and then."""
    return rng.randrange(n) if rng.random() < 0.3 else max(0, n - 1 - int(rng.expovariate(0.5)))


def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def make_node(rng: random.Random, shapes: list[tuple[int, ...]], a: int) -> tuple[list[Any], tuple[int, ...] | None]:
    """[op, operands, params] of a node on ``a`` (and maybe others), and its shape (None: the op must fail)."""
    shape = shapes[a]
    if rng.random() < 0.02:
        return make_mistake(rng, a, shape), None
    kind = rng.choices(("unary", "binary", "reduce", "index", "clip", "where"), weights=(30, 35, 12, 10, 5, 8))[0]
    if kind == "reduce":
        params = reduce_params(rng, len(shape))
        axis = tuple(params["axis"]) if isinstance(params["axis"], list) else params["axis"]
        return [rng.choice(REDUCTIONS), [a], params], np.sum(np.zeros(shape), axis, keepdims=params["keepdims"]).shape
    if kind == "index":
        for _ in range(5):
            items = make_index(rng, shape)
            got = np.zeros(shape)[decode_index(items)].shape
            if 0 not in got:  # no empty results: max and prod of nothing are errors of their own
                return ["[]", [a], {"index": items}], got
    if kind == "clip":
        return ["clip", [a], {"min": rng.choice((None, -0.5, 0.0)), "max": rng.choice((None, 0.5, 1.0))}], shape
    fits = [b for b in range(len(shapes)) if _broadcast(shape, shapes[b]) is not None]
    if kind == "where":  # three operands that broadcast together, else a binary op
        b, c = rng.choice(fits), rng.choice(fits)
        both = _broadcast(shape, shapes[b], shapes[c])
        if both is not None:
            return ["where", [a, b, c], {}], both
    if kind in ("binary", "where"):
        op = rng.choice([*BINARY, *OPERATORS])
        misfits = [b for b in range(len(shapes)) if b not in fits]
        if rng.random() < 0.3:
            number = {"const": rng.choice(CONSTANTS)}
            return [op, [a, number] if rng.random() < 0.5 else [number, a], {}], shape
        if misfits and rng.random() < 0.1:  # on purpose: both versions must give the same error
            return [op, [a, rng.choice(misfits)], {}], None
        b = rng.choice(fits)
        return [op, [a, b] if rng.random() < 0.5 else [b, a], {}], _broadcast(shape, shapes[b])
    return [rng.choice(UNARY), [a], {}], shape


def make_mistake(rng: random.Random, a: int, shape: tuple[int, ...]) -> list[Any]:
    """A node that must fail, an index or an axis out of range: both versions must give the same error."""
    if shape and rng.random() < 0.5:
        return ["[]", [a], {"index": [rng.choice((shape[0], -shape[0] - 1))]}]
    return [rng.choice(REDUCTIONS), [a], {"axis": len(shape), "keepdims": False}]


def reduce_params(rng: random.Random, ndim: int) -> dict[str, Any]:
    axis: int | list[int] | None = None
    if ndim and rng.random() < 0.6:
        axis = rng.randint(-ndim, ndim - 1)
        if ndim >= 2 and rng.random() < 0.3:
            axis = sorted(rng.sample(range(ndim), 2))
    return {"axis": axis, "keepdims": rng.random() < 0.3}


def make_index(rng: random.Random, shape: tuple[int, ...]) -> list[Any]:
    """Basic indexing: ints, slices (steps 1, 2, -1) and None for a prefix of the axes (then maybe ``...``), or
    ``...`` then a suffix. Items are JSON: an int, ["slice", start, stop, step], "new" (None), "..."."""
    k = rng.randint(0, len(shape))
    leading = rng.random() < 0.7
    items: list[Any] = []
    for d in shape[:k] if leading else shape[len(shape) - k :]:
        if rng.random() < 0.15:
            items.append("new")
        if rng.random() < 0.3:
            items.append(rng.randint(-d, d - 1))
        else:
            start = rng.choice((None, 0, d - 1, -d))
            items.append(["slice", start, rng.choice((None, d, 1, -1)), rng.choice((None, 1, 2, -1))])
    if leading and rng.random() < 0.3:
        items.append("...")
    return items if leading else ["...", *items]


# -- a case as Python: the child evaluates these lines, a mismatch prints them -------------------------------------
def decode_index(items: list[Any]) -> tuple[Any, ...]:
    def one(x: Any) -> Any:
        if isinstance(x, list):
            return slice(*x[1:])
        return {"new": None, "...": Ellipsis}[x] if isinstance(x, str) else x

    return tuple(map(one, items))


def _index_text(items: list[Any]) -> str:
    def one(x: Any) -> str:
        if isinstance(x, list):
            return ":".join("" if v is None else str(v) for v in x[1:]).removesuffix(":")
        return {"new": "None", "...": "..."}.get(x, str(x))

    return ", ".join(map(one, items)) + ("," if len(items) == 1 else "") if items else "()"


def _operand(x: int | dict[str, Any]) -> str:
    return f"t[{x}]" if isinstance(x, int) else f"({x['const']!r})"


def expression(op: str, operands: list[Any], params: dict[str, Any]) -> str:
    args = [_operand(x) for x in operands]
    if op in OPERATORS:
        return f"{args[0]} {op} {args[1]}"
    if op == "[]":
        return f"{args[0]}[{_index_text(params['index'])}]"
    if op == "where":
        return f"xg.where({args[0]} > 0, {args[1]}, {args[2]})"
    kwargs = [f"{k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in params.items()]
    return f"xg.{op}({', '.join(args + kwargs)})"


def source(case: Case, setting: str) -> str:
    """A script that rebuilds the case (run it from the repository root with PYTHONPATH=src:.)."""
    merge, release = SETTINGS[setting]
    lines = [
        "import xpgrad as xg",
        "from benchmarks.differential import leaf_array, outputs, switches",
        f"with switches(xg, merge={merge}, release={release}):",
        f"    t = [xg.Tensor(leaf_array(spec)) for spec in {case['leaves']!r}]",
        *(f"    t.append({expression(*node)})" for node in case["nodes"]),
        f"    for got in outputs(xg, t[:{len(case['leaves'])}], [t[i] for i in {case['outputs']}]):",
        "        print(got)",
    ]
    return "\n".join(lines)


# -- running cases (in a child) ------------------------------------------------------------------------------------
def switches(xg: Any, merge: bool, release: bool) -> AbstractContextManager[Any]:
    """Merging and releasing on or off: ``xpgrad.options`` where it exists, else the private switches."""
    stack = ExitStack()
    if hasattr(xg, "options"):
        stack.enter_context(xg.options(merge=merge, release=release))
    else:
        if not merge:
            stack.enter_context(importlib.import_module("xpgrad._cse").disabled())
        if not release:
            stack.enter_context(importlib.import_module("xpgrad._remat").disabled())
    return stack


def digest(value: Any) -> str:
    """dtype, shape and a hash of the bits, with every nan made one value (signed zeros stay apart)."""
    a = np.asarray(value)
    if a.dtype.kind in "fc":
        a = np.where(np.isnan(a), np.array(np.nan, a.dtype), a)
    return f"{a.dtype}{list(a.shape)} {hashlib.sha256(a.tobytes()).hexdigest()[:16]}"


def outputs(xg: Any, leaves: list[Any], outs: list[Any]) -> Iterator[list[str]]:
    """The digests of each stage: the graph's outputs, then each order's gradients with respect to every leaf (of
    the output, or of the sum of the outputs' sums where there are several)."""
    yield [digest(out.value) for out in outs]
    out = outs[0] if len(outs) == 1 else functools.reduce(operator.add, [xg.sum(o) for o in outs])
    for _ in range(ORDERS):
        grads = xg.grad(out, leaves)
        yield [digest(g.value) for g in grads]
        out = functools.reduce(operator.add, [xg.sum(g) for g in grads])


def run_case(xg: Any, case: Case, merge: bool, release: bool) -> dict[str, Any]:
    """Each stage's digests; the stage that raised holds "Type: message" and ends the case."""
    done: dict[str, Any] = {}
    stage = "value"
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            with switches(xg, merge, release):
                t = [xg.Tensor(leaf_array(spec)) for spec in case["leaves"]]
                for node in case["nodes"]:
                    t.append(eval(expression(*node), {"xg": xg}, {"t": t}))
                digests = outputs(xg, t[: len(case["leaves"])], [t[i] for i in case["outputs"]])
                for stage in STAGES[:-1]:
                    done[stage] = next(digests)
        except Exception as e:
            done[stage] = f"{type(e).__name__}: {e}"
    if caught:
        done["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return done


def child(cases_path: Path, out_path: Path) -> None:
    import xpgrad

    cases = json.loads(cases_path.read_text())
    results = [{name: run_case(xpgrad, case, *flags) for name, flags in SETTINGS.items()} for case in cases]
    api = "xpgrad.options" if hasattr(xpgrad, "options") else "xpgrad._cse/_remat.disabled()"
    out_path.write_text(json.dumps({"xpgrad_file": xpgrad.__file__, "api": api, "results": results}))


# -- the parent --------------------------------------------------------------------------------------------------
def run_both(cases: list[Case], srcs: dict[str, Path]) -> dict[str, Any]:
    """Each version's results, the two children running at once."""
    with tempfile.TemporaryDirectory() as tmp:
        cases_path = Path(tmp) / "cases.json"
        cases_path.write_text(json.dumps(cases))
        procs = {}
        for which, src in srcs.items():
            cmd = [sys.executable, "-m", "benchmarks.differential", "--child", str(cases_path), str(Path(tmp) / which)]
            env = {**versions.child_env(src), "PYTHONHASHSEED": "0"}
            procs[which] = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT)
        got = {}
        try:
            for which, proc in procs.items():
                if proc.wait() != 0:
                    raise SystemExit(f"the {which} child failed with exit code {proc.returncode}")
                got[which] = json.loads((Path(tmp) / which).read_text())
                versions.imported_from(srcs[which], got[which]["xpgrad_file"])
        finally:
            for proc in procs.values():
                proc.kill()  # when one failed or this process is stopped: the other one too
    return got


def compare(cases: list[Case], got: dict[str, Any]) -> list[dict[str, Any]]:
    """Each case where the versions differ: the settings where they do, the first stage that differs (in the first
    of them) and a reproducer."""
    found = []
    for case, base, head in zip(cases, got["base"]["results"], got["head"]["results"], strict=True):
        differ = [setting for setting in SETTINGS if base[setting] != head[setting]]
        if differ:
            b, h = base[differ[0]], head[differ[0]]
            stage = next(s for s in STAGES if b.get(s) != h.get(s))
            found.append(
                {
                    "index": case["index"],
                    "settings": differ,
                    "stage": stage,
                    "base": b.get(stage),
                    "head": h.get(stage),
                    "reproducer": source(case, differ[0]),
                }
            )
    return found


def summary(cases: list[Case], got: dict[str, Any]) -> list[str]:
    """What was compared: outputs, exceptions by stage, and whether releasing changed a bit within a version."""
    outputs_n, errors = 0, Counter[str]()
    for per_setting in got["base"]["results"]:
        for result in per_setting.values():
            for stage, value in result.items():
                if isinstance(value, str):
                    errors[f"{stage} {value.split(':')[0]}"] += 1
                elif stage != "warnings":
                    outputs_n += len(value)
    release_differs = {
        which: sum((r["merge+release"] != r["merge"]) + (r["release"] != r["neither"]) for r in doc["results"])
        for which, doc in got.items()
    }
    large = sum(max(np.prod(leaf["shape"], dtype=int) for leaf in c["leaves"]) >= 2**16 for c in cases)
    return [
        f"{len(cases)} cases ({large} with 2**16 elements or more) x {len(SETTINGS)} settings: "
        f"{outputs_n} outputs compared bit for bit",
        "exceptions compared (stage type: cases x settings): "
        + (", ".join(f"{k}: {n}" for k, n in sorted(errors.items())) or "none"),
        f"release on and off differ within a version (should be 0): base {release_differs['base']}, "
        f"head {release_differs['head']} (case x setting pairs)",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.differential", description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="commit-ish to compare against (checked out in a temporary worktree)")
    ap.add_argument("--head", help="commit-ish, or a folder holding src/xpgrad (default: this working tree)")
    ap.add_argument("--examples", type=int, default=1000, help="number of random graphs (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", type=int, help="run only case K of the seed (to reproduce a mismatch)")
    ap.add_argument("--out", type=Path, help="write the mismatches and the summary here (JSON)")
    ap.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)  # internal: CASES.json RESULTS.json
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if not args.base:
        ap.error("--base is required")
    indices = [args.only] if args.only is not None else range(args.examples)
    cases = [make_case(args.seed, i) for i in indices]
    with ExitStack() as stack:
        labels = {"base": versions.source(stack, args.base), "head": versions.source(stack, args.head)}
        got = run_both(cases, {which: src for which, (_, src) in labels.items()})
    mismatches = compare(cases, got)
    lines = [f"{which}: {label} ({got[which]['api']})" for which, (label, _) in labels.items()]
    lines += [f"seed {args.seed}", *summary(cases, got), f"cases with a mismatch: {len(mismatches)}"]
    for m in mismatches[:5]:
        lines += [
            "",
            f"MISMATCH in case {m['index']} ({', '.join(m['settings'])}), first at {m['stage']}:",
            f"  base: {m['base']}",
            f"  head: {m['head']}",
            f"  rerun: --seed {args.seed} --only {m['index']}; reproducer (PYTHONPATH=src:. python -):",
            *("    " + line for line in m["reproducer"].splitlines()),
        ]
    if len(mismatches) > 5:
        lines.append(f"... and {len(mismatches) - 5} more: case " + ", ".join(str(m["index"]) for m in mismatches[5:]))
    print("\n".join(lines))
    if args.out:
        args.out.write_text(json.dumps({"summary": lines, "mismatches": mismatches}, indent=1))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
