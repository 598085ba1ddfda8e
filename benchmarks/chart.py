"""PNG chart of the median time ratios to hand-written NumPy (log scale), one panel per thread count."""

from __future__ import annotations

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


def draw(doc: dict[str, Any], path: Path) -> str:
    """Draws the chart; returns a message (also when matplotlib is missing and the chart is skipped)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: chart skipped"
    names = [n for n in contenders(doc) if n != BASELINE]
    runs = doc["runs"]
    fig, axes = plt.subplots(len(runs), 1, figsize=(15, 4.2 * len(runs)), squeeze=False)
    width = 0.8 / max(1, len(names))
    for ax, run in zip(axes[:, 0], runs, strict=True):
        ids = [sc["id"] for sc in run["scenarios"]]
        for j, name in enumerate(names):
            xs, ys = [], []
            for i, sc in enumerate(run["scenarios"]):
                r = sc["results"].get(name, {}).get("median_ratio")
                if r is not None:
                    xs.append(i + (j - (len(names) - 1) / 2) * width)
                    ys.append(r)
            if xs:
                ax.bar(xs, ys, width=width, label=name, color=COLORS.get(name))
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(ids)))
        ax.set_xticklabels(ids, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel("time / hand-written NumPy")
        ax.set_title(f"{run['threads']} thread(s): median of per-round ratios (lower: faster; no bar: not timed)")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=len(names))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return f"chart: {path}"
