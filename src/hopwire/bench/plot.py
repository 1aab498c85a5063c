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
           "#5b5b5b", "#9c755f", "#e0b040"]


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
    heights = [max(2.0, 0.16 * len(titles) * len(rates) + 0.5 * len(titles) + 1.0)
               for _, _, titles, rates in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, unit, titles, rates) in zip(axes[:, 0], panels):
        labels = list(rates)
        n = len(labels)
        bar = 0.8 / max(n, 1)
        for i, label in enumerate(labels):
            ys, xs = [], []
            for g, workload in enumerate(titles):
                if workload in rates[label]:
                    ys.append(g + (i - (n - 1) / 2) * bar)
                    xs.append(rates[label][workload])
            bars = ax.barh(ys, xs, height=bar * 0.92, color=COLOURS[i % len(COLOURS)], label=label)
            for rect, value in zip(bars, xs):
                ax.text(value * 1.04, rect.get_y() + rect.get_height() / 2, _short(value),
                        va="center", fontsize=6.5)
        ax.set_xscale("log")
        ax.set_yticks(range(len(titles)))
        ax.set_yticklabels(titles, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"{unit} (log scale)", fontsize=8)
        ax.set_title(title, fontsize=10, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", which="major", alpha=0.3)
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo, hi * 3)  # room for the values
        ax.legend(fontsize=7, loc="lower right", frameon=False)
    env = doc.get("environment", {})
    m, hw = env.get("machine", {}), env.get("hopwire", {})
    twin = "C" if hw.get("extensions_active") else "Python"
    fig.suptitle(f"hopwire {hw.get('version', '')} ({twin} parser) on {m.get('cpu', '?')}, "
                 f"{m.get('logical_cpus', '?')} CPUs, {env.get('python', '')}", fontsize=9, x=0.01,
                 ha="left")
    fig.tight_layout()
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
