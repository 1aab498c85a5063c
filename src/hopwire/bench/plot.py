"""`hopwire bench --plot FILE.png`: the results as grouped bar charts.

One panel per part that ran: parsers (messages per second) and pools
(requests per second), a group of bars per workload, one colour per
contender, hopwire first. The scale is logarithmic: h11 parses about fifty
times slower than hopwire's C twin, and on a linear scale its bars would not
show. Each bar carries its value, so the log scale does not hide the ratios.

matplotlib is an optional extra (`pip install 'hopwire[plot]'`); it is
imported here only, with the non-interactive Agg backend.

    python -m hopwire.bench.plot results.json chart.png   # redraw from a --json file
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

from . import pool_peers as pp

COLOURS = ["#1f5fa8", "#6fa3e0", "#d9822b", "#c23b3b", "#7a9a3a", "#8e6bb8", "#4aa5a0", "#b5b5b5",
           "#5b5b5b", "#9c755f", "#e0b040", "#e377c2", "#17becf", "#bcbd22", "#393b79"]
# Enough colours for every contender of a panel: a repeated colour would make two
# contenders (a floor and hopwire) look like one.


def _series(doc: dict[str, Any]) -> list[tuple[str, str, list[str], dict[str, dict[str, float]]]]:
    """(title, unit, workload titles, {contender label: {workload title: rate}}) per panel."""
    panels = []
    parsers = doc.get("parsers")
    if parsers and parsers.get("workloads"):
        rates: dict[str, dict[str, float]] = {}
        titles = []
        for result in parsers["workloads"].values():
            titles.append(result["title"])
            for st in result["contenders"].values():
                rates.setdefault(st["label"], {})[result["title"]] = st["msgs_per_s"]
        panels.append(("Parsers: messages per second (higher is better)", "msgs/s", titles, rates))
    pools = doc.get("pools")
    if pools and pools.get("workloads"):
        rates = {}
        titles = []
        for name, result in pools["workloads"].items():
            titles.append(f"{name}")
            for key, row in result["contenders"].items():
                if row["status"] == "ok":
                    rates.setdefault(pp.CONTENDERS[key].label, {})[name] = row["req_s"]
        server = str(pools.get("server", "")).split(",")[0]
        panels.append((f"Connection pools against {server}: requests per second (higher is better)",
                       "req/s", titles, rates))
    return panels


def _short(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def plot(doc: dict[str, Any], path: str) -> None:
    """Draw the chart of a results document into `path` (PNG)."""
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")

    panels = _series(doc)
    if not panels:
        raise ValueError("nothing to plot: the results hold no workload")
    # Inches per panel: a bar per (workload, contender) that ran, a gap per workload.
    heights = [1.2 + 0.14 * sum(len(rates[label]) for label in rates) + 0.25 * len(titles)
               for _, _, titles, rates in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, sum(heights) + 0.4),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, unit, titles, rates) in zip(axes[:, 0], panels):
        labels = list(rates)  # every contender keeps its colour across the workloads
        colour = {label: COLOURS[i % len(COLOURS)] for i, label in enumerate(labels)}
        y = 0.0
        centres = []
        drawn: set[str] = set()
        for workload in titles:
            present = [label for label in labels if workload in rates[label]]
            first = y
            for label in present:  # only the bars that exist: no holes in a group
                value = rates[label][workload]
                ax.barh([y], [value], height=0.85, color=colour[label],
                        label=None if label in drawn else label)
                ax.text(value * 1.04, y, _short(value), va="center", fontsize=6.5)
                drawn.add(label)
                y += 1
            centres.append((first + y - 1) / 2)
            y += 0.8  # the gap between workloads
        ax.set_xscale("log")
        ax.set_yticks(centres)
        ax.set_yticklabels(titles, fontsize=8)
        ax.set_ylim(y - 0.4, -0.8)  # top to bottom, in the order of the report
        ax.set_xlabel(f"{unit} (log scale)", fontsize=8)
        ax.set_title(title, fontsize=10, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", which="major", alpha=0.3)
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo, hi * 3)  # room for the values
        handles, names = ax.get_legend_handles_labels()
        order = sorted(range(len(names)), key=lambda i: labels.index(names[i]))
        ax.legend([handles[i] for i in order], [names[i] for i in order], fontsize=7,
                  loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    env = doc.get("environment", {})
    m, hw = env.get("machine", {}), env.get("hopwire", {})
    twin = "C" if hw.get("extensions_active") else "Python"
    fig.suptitle(f"hopwire {hw.get('version', '')} ({twin} parser) on {m.get('cpu', '?')}, "
                 f"{m.get('logical_cpus', '?')} CPUs, {env.get('python', '')}", fontsize=9, x=0.01,
                 ha="left")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (sum(heights) + 0.4)))  # room for the title
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m hopwire.bench.plot RESULTS.json CHART.png", file=sys.stderr)
        return 2
    with open(args[0]) as f:
        plot(json.load(f), args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
