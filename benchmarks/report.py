"""Readable tables of a results document (the JSON that run.py saves)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .peers import BASELINE

Doc = dict[str, Any]


def cell_status(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    status = str(entry.get("status", "?"))
    word = status.split(":")[0]
    return {"unavailable": "n/a", "mismatch": "MISMATCH", "failed": "FAILED", "error": "ERROR"}.get(word, word)


def ratio_cell(entry: dict[str, Any] | None) -> str:
    if entry and entry.get("median_ratio") is not None:
        return f"{entry['median_ratio']:.2f}"
    if entry and entry.get("status") == "ok" and "median_ratio" not in entry:
        return "1.00" if "median_s" in entry else "ok"
    return cell_status(entry)


def _first_derivative_time(run: Doc, sc: Doc, name: str) -> float | None:
    twin = sc["id"].replace(" d2", " d1")
    for other in run["scenarios"]:
        if other["id"] == twin:
            return other["results"].get(name, {}).get("median_s")
    return None


def metric(run: Doc, sc: Doc, name: str) -> str:
    """The scenario's own figure: GB/s (B1), us/op (B2, B3), us/step (B4), d2/d1 time (B5)."""
    entry = sc["results"].get(name)
    t = entry.get("median_s") if entry else None
    if t is None:
        return cell_status(entry)
    group = sc["group"]
    if group == "B1":
        return f"{sc['bytes_min'] / t / 1e9:.2f}"
    if group in ("B2", "B3"):
        return f"{t / sc['ops'] * 1e6:.2f}"
    if group == "B4":
        return f"{t / sc['steps'] * 1e6:.1f}"
    if group == "B5" and sc["order"] == 2:
        t1 = _first_derivative_time(run, sc, name)
        return f"{t / t1:.2f}" if t1 else "-"
    return f"{t * 1e3:.2f}ms"


METRIC_UNIT = {"B1": "GB/s", "B2": "us/op", "B3": "us/op", "B4": "us/step", "B5": "d2/d1"}


def metric_unit(sc: Doc) -> str:
    if sc["group"] == "B5" and sc["order"] == 1:
        return "time"
    return METRIC_UNIT[sc["group"]]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
    )
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def contenders(doc: Doc) -> list[str]:
    names: list[str] = []
    for run in doc["runs"]:
        for name in run["contenders"]:
            if name not in names:
                names.append(name)
    return names


def run_tables(doc: Doc, run: Doc) -> str:
    names = contenders(doc)
    others = [n for n in names if n != BASELINE]
    out = [f"=== {run['threads']} thread(s): time / hand-written NumPy time (median of per-round ratios) ==="]
    if "loadavg_start" in run:
        load = lambda xs: "/".join(f"{x:.1f}" for x in xs)
        out.append(
            f"(load average 1/5/15 min: {load(run['loadavg_start'])} at start, {load(run['loadavg_end'])} at end)"
        )
    rows = []
    for sc in run["scenarios"]:
        base = sc["results"].get(BASELINE, {})
        t = base.get("median_s")
        rows.append(
            [sc["id"], f"{t * 1e3:.3f}" if t is not None else "-", *(ratio_cell(sc["results"].get(n)) for n in others)]
        )
    out.append(table(["scenario", "numpy ms", *others], rows))
    out.append("")
    out.append(
        f"--- {run['threads']} thread(s): figures (B1 effective GB/s, B2/B3 us per op, B4 us per step, "
        "B5 second/first derivative time) ---"
    )
    rows = [[sc["id"], metric_unit(sc), *(metric(run, sc, n) for n in names)] for sc in run["scenarios"]]
    out.append(table(["scenario", "unit", *names], rows))
    bw = ", ".join(f"n={v['n']}: {v['gb_per_s']:.2f} GB/s" for v in run["bandwidth"].values())
    out.append(f"copy bandwidth (numpy z = x + y, 3*n*8 bytes): {bw}")
    compiles = []
    for sc in run["scenarios"]:
        for n, e in sc["results"].items():
            if e.get("compile_s") is not None:
                compiles.append(f"{sc['id']} {n} {e['compile_s']:.3f}s")
    if compiles:
        out.append("compile times: " + "; ".join(compiles))
    return "\n".join(out)


def memory_table(doc: Doc) -> str:
    mem = doc.get("memory") or {}
    if not mem:
        return "(no memory measurement)"
    size = next((v["size"] for v in mem.values() if "size" in v), "?")
    rows = []
    base = mem.get(BASELINE, {})
    for name, m in mem.items():
        row = [name]
        for expr in ("compute", "memory"):
            e = m.get(expr, {"status": m.get("status", "?")})
            if e.get("status") != "ok":
                row += [cell_status(e), "", ""]
                continue
            b = base.get(expr, {}).get("rss_peak_mb")
            row.append(f"{e['rss_peak_mb']:.0f}")
            row.append(f"{e['rss_peak_mb'] / b:.2f}" if b else "-")
            tm = e.get("tracemalloc_peak_mb")
            row.append(f"{tm:.0f}" if tm is not None else "-")
        rows.append(row)
    head = ["contender", "compute MB", "x numpy", "tracemalloc MB", "memory MB", "x numpy", "tracemalloc MB"]
    return f"=== peak memory of B1 at n={size} (MB above the pre-call resident set; 1 thread) ===\n" + table(head, rows)


def problems(doc: Doc) -> list[str]:
    """Every contender or scenario not timed, with why (identical reasons grouped)."""
    grouped: dict[tuple[int, str, str], list[str]] = {}
    out = []
    for run in doc["runs"]:
        for name, info in run["contenders"].items():
            if info["status"] != "ok":
                out.append(f"[{run['threads']}t] {name}: {info['status']}")
        for sc in run["scenarios"]:
            for name, e in sc["results"].items():
                status = str(e.get("status", ""))
                if status != "ok":
                    grouped.setdefault((run["threads"], name, status), []).append(sc["id"])
    for (n, name, status), ids in grouped.items():
        out.append(f"[{n}t] {name} in {', '.join(ids)}: {status}")
    return out


def render(doc: Doc) -> str:
    meta = doc["meta"]
    parts = [
        f"xpgrad benchmarks, {meta['date']}, {meta['machine']['cpu']} ({meta['machine']['cores']} cores), "
        f"python {meta['machine']['python']}, {'quick' if meta['quick'] else 'full'} run"
    ]
    versions = {n: i.get("version", i["status"]) for r in doc["runs"] for n, i in r["contenders"].items()}
    parts.append("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    parts += [run_tables(doc, run) for run in doc["runs"]]
    parts.append(memory_table(doc))
    issues = problems(doc)
    if issues:
        parts.append("=== not timed ===\n" + "\n".join(issues))
    return "\n\n".join(parts)
