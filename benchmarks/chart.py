"""PNG chart of the median time ratios to hand-written NumPy (log scale), one panel per thread count."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .peers import BASELINE
from .report import contenders

COLORS = {
    "xpgrad": "tab:blue",
    "xpgrad-fn": "tab:cyan",
    "xpgrad-fused": "tab:brown",
    "autograd": "tab:green",
    "jax": "tab:red",
    "jax-jit": "tab:purple",
    "torch": "tab:orange",
}


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


Ratio = Callable[[str, str], "float | None"]


def bars(ax: Any, labels: list[str], names: list[str], ratio: Ratio, title: str, ylabel: str) -> None:
    """One panel: for each scenario label, a bar per contender of ``ratio(label, name)`` (log scale)."""
    width = 0.8 / max(1, len(names))
    for j, name in enumerate(names):
        xs, ys = [], []
        for i, label in enumerate(labels):
            r = ratio(label, name)
            if r is not None:
                xs.append(i + (j - (len(names) - 1) / 2) * width)
                ys.append(r)
        if xs:
            ax.bar(xs, ys, width=width, label=name, color=COLORS.get(name))
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(names))


def save(plt: Any, fig: Any, path: Any) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return f"chart: {path}"


def draw(doc: dict[str, Any], path: Path) -> str:
    """Draws the chart; returns a message (also when matplotlib is missing and the chart is skipped)."""
    plt = pyplot()
    if plt is None:
        return "matplotlib is not installed: chart skipped"
    names = [n for n in contenders(doc) if n != BASELINE]
    runs = doc["runs"]
    fig, axes = plt.subplots(len(runs), 1, figsize=(15, 4.2 * len(runs)), squeeze=False)
    for ax, run in zip(axes[:, 0], runs, strict=True):
        scs = {sc["id"]: sc for sc in run["scenarios"]}
        title = f"{run['threads']} thread(s): median of per-round ratios (lower: faster; no bar: not timed)"
        ratio: Ratio = lambda label, name, scs=scs: scs[label]["results"].get(name, {}).get("median_ratio")
        bars(ax, list(scs), names, ratio, title, "time / hand-written NumPy")
    return save(plt, fig, path)
