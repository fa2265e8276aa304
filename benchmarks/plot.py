"""The ratios of one run against their targets, as a PNG (matplotlib, from the ``bench`` extra)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def judged_ratios(cases: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every judged ratio of the run, labelled by its case number."""
    found = []
    for case in cases:
        number = case["title"].split(".", 1)[0]
        for item in (case.get("extra", {}).get("judged") or from_ratio(case)).values():
            found.append((f"{number}. {item['label']}", item))
    return found


def from_ratio(case: dict[str, Any]) -> dict[str, Any]:
    """A case that reports one ratio and a ``ratio ≤ X`` target (no spread of its own), as a judged ratio."""
    target = re.match(r"ratio ≤ ([0-9.]+)", case.get("target") or "")
    if case.get("ratio") is None or target is None:
        return {}
    r = case["ratio"]
    return {"main": {"label": case["title"].split(". ", 1)[-1], "ours": "nb_oauth", "baseline": case["baseline"],
                     "target": float(target.group(1).rstrip(".")), "passed": r <= float(target.group(1).rstrip(".")),
                     "ratio": {"median": r, "min": r, "max": r, "per_repeat": [r]}}}


def write_plot(cases: list[dict[str, Any]], path: Path) -> Path | None:
    """Median ratio (bar), min to max over the repeats (whisker), target (mark); None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    items = judged_ratios(cases)
    if not items:
        return None
    labels = [label for label, _ in items][::-1]
    data = [item for _, item in items][::-1]
    medians = [d["ratio"]["median"] for d in data]
    low = [d["ratio"]["median"] - d["ratio"]["min"] for d in data]
    high = [d["ratio"]["max"] - d["ratio"]["median"] for d in data]
    colors = ["#2da44e" if d["passed"] else "#cf222e" for d in data]
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(items) + 1.6))
    ys = range(len(items))
    ax.barh(ys, medians, xerr=[low, high], color=colors, alpha=0.8, capsize=3, height=0.6,
            label="median ratio (whisker: min–max over repeats)")
    ax.scatter([d["target"] for d in data], ys, marker="|", s=400, color="black", zorder=3, label="target")
    ax.axvline(1.0, color="#57606a", linewidth=0.8, linestyle=":")
    ax.set_yticks(list(ys), labels, fontsize=8)
    ax.set_xlabel("nb_oauth ÷ baseline (lower is better)")
    ax.set_xlim(0, max(1.6, max(d["ratio"]["max"] for d in data) * 1.05))
    ax.set_title("nb_oauth benchmarks: ratios against their targets")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
