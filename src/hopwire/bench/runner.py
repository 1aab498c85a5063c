"""`hopwire bench`: the parser, pool and HTTP/2 benchmarks in one run, one report.

A `Plan` says what runs (which workloads, how many rounds, which server);
`run(plan)` runs it and returns the results document that `report.report()`
prints, `--json` writes and `plot.plot()` draws. The parser part comes first
(in-process, no server), then the pool part (a server started for it and
stopped after it), then the HTTP/2 part (`http2.py`: nginx with an h2c
listener, started for it; skipped, with the reason in the report, when nginx
or its http_v2 module is missing, or with --server embedded; --http2-only runs
it alone). Each part has a time budget; a workload whose share is spent stops
adding rounds, so a run ends in bounded time however slow a contender or a
loaded machine is.

`hopwire bench --proxy` runs the proxy benchmark instead (`proxies.py`:
`hopwire proxy` against nginx as a reverse proxy, in front of one origin),
and only it: it starts three servers of its own and measures another thing
(what a hop adds), so it is a part asked for by name, like --pool-only, not
a third of every run. Its results go in the same document (key "proxy"),
report and --json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import http2, parsers, pools, proxies
from . import pool_peers as pp
from .environment import environment
from .progress import Progress
from .report import Symbols, report
from .target import PLACEMENTS, SERVERS, ServerUnavailable
from .workloads import WORKLOADS, Workload

ALL_WORKLOADS = [w.name for w in WORKLOADS] + [w.name for w in pp.WORKLOADS] + http2.WORKLOAD_NAMES
PROXY_WORKLOADS = [w.name for w in proxies.WORKLOADS]  # with --proxy (names shared with pools)


@dataclass
class Plan:
    parser_workloads: list[Workload] = field(default_factory=lambda: list(WORKLOADS))
    pool_workloads: list[pp.Workload] = field(default_factory=lambda: list(pp.WORKLOADS))
    parser_settings: parsers.Settings = parsers.FULL
    pool_settings: pools.Settings = pools.FULL
    server: str = "auto"
    placement: str = "same"
    pool_contenders: list[str] | None = None  # keys of pool_peers.CONTENDERS; None: all
    command: str = ""  # shown in the report: how to run this again
    proxy_workloads: list[proxies.Workload] = field(default_factory=list)  # --proxy
    proxy_settings: proxies.Settings = proxies.FULL
    h2_workloads: list[pp.Workload] = field(default_factory=list)  # the HTTP/2 part
    h2_settings: pools.Settings = http2.FULL
    h2_hol: http2.HolSettings = http2.HOL_FULL

    def steps(self) -> int:
        return (parsers.steps(self.parser_workloads, self.parser_settings)
                + pools.steps(self.pool_workloads, self.pool_settings)
                + http2.steps(self.h2_workloads, self.h2_settings)
                + proxies.steps(self.proxy_workloads, self.proxy_settings))


def make_plan(*, quick: bool = False, parsers_only: bool = False, pool_only: bool = False,
              workloads: list[str] | None = None, rounds: int | None = None, server: str = "auto",
              placement: str = "same", pool_contenders: list[str] | None = None,
              command: str = "", proxy: bool = False, http2_only: bool = False) -> Plan:
    """The plan for these options; ValueError for a name that is not a workload.

    `proxy`: the proxy benchmark only (its workloads: PROXY_WORKLOADS).
    `http2_only`: the HTTP/2 part only (http2.WORKLOAD_NAMES); without a part
    flag, a run has the parser, pool and HTTP/2 parts."""
    if sum([parsers_only, pool_only, proxy, http2_only]) > 1:
        raise ValueError("--proxy, --parsers-only, --pool-only and --http2-only exclude each other")
    if proxy:
        unknown = [name for name in workloads or () if name not in PROXY_WORKLOADS]
        if unknown:
            raise ValueError(f"unknown proxy workload {', '.join(unknown)}: one of {', '.join(PROXY_WORKLOADS)}")
        xs = proxies.QUICK if quick else proxies.FULL
        if rounds is not None:
            if rounds < 1:
                raise ValueError("rounds must be at least 1")
            xs = proxies.Settings(rounds, xs.batch_s, xs.warmup_s, xs.budget_s)
        chosen_proxy = [w for w in proxies.WORKLOADS if w.name in set(workloads or PROXY_WORKLOADS)]
        return Plan([], [], server=server, placement=placement, command=command,
                    proxy_workloads=chosen_proxy, proxy_settings=xs)
    unknown = [name for name in workloads or () if name not in ALL_WORKLOADS]
    if unknown:
        hint = " (--proxy workloads need --proxy)" if set(unknown) <= set(PROXY_WORKLOADS) else ""
        raise ValueError(f"unknown workload {', '.join(unknown)}: one of {', '.join(ALL_WORKLOADS)}{hint}")
    chosen = set(workloads or ALL_WORKLOADS)
    parser_workloads = [] if pool_only or http2_only else [w for w in WORKLOADS if w.name in chosen]
    pool_workloads = [] if parsers_only or http2_only else [w for w in pp.WORKLOADS if w.name in chosen]
    h2_workloads = [] if parsers_only or pool_only else [w for w in http2.WORKLOADS if w.name in chosen]
    ps = parsers.QUICK if quick else parsers.FULL
    qs = pools.QUICK if quick else pools.FULL
    hs = http2.QUICK if quick else http2.FULL
    if rounds is not None:
        if rounds < 1:
            raise ValueError("rounds must be at least 1")
        ps = parsers.Settings(rounds, ps.batch_ms, ps.budget_s)
        qs = pools.Settings(rounds, qs.batch_s, qs.warmup_s, qs.budget_s)
        hs = pools.Settings(rounds, hs.batch_s, hs.warmup_s, hs.budget_s)
    if not parser_workloads and not pool_workloads and not h2_workloads:
        raise ValueError("nothing to run: the workloads chosen are not in the part chosen")
    return Plan(parser_workloads, pool_workloads, ps, qs, server, placement, pool_contenders, command,
                h2_workloads=h2_workloads, h2_settings=hs, h2_hol=http2.HOL_QUICK if quick else http2.HOL_FULL)


def run(plan: Plan, progress: Progress | None = None) -> dict[str, Any]:
    """Run the plan; the results document (environment, parsers, pools, proxy, elapsed_s)."""
    bar = progress or Progress(plan.steps(), enabled=False)
    started = time.monotonic()
    doc: dict[str, Any] = {"environment": environment(), "command": plan.command}
    try:
        if plan.parser_workloads:
            doc["parsers"] = parsers.run(plan.parser_workloads, plan.parser_settings, bar.step)
        if plan.pool_workloads:
            doc["pools"] = pools.run(plan.pool_workloads, plan.pool_contenders,
                                     settings=plan.pool_settings, server=plan.server,
                                     placement=plan.placement, step=bar.step, log=bar.note)
        if plan.h2_workloads:
            doc["http2"] = http2.run(plan.h2_workloads, settings=plan.h2_settings, hol=plan.h2_hol,
                                     server=plan.server, placement=plan.placement, step=bar.step,
                                     log=bar.note)
        if plan.proxy_workloads:
            doc["proxy"] = proxies.run(plan.proxy_workloads, settings=plan.proxy_settings,
                                       server=plan.server, placement=plan.placement, step=bar.step,
                                       log=bar.note)
    finally:
        bar.close()
    doc["elapsed_s"] = time.monotonic() - started
    return doc


def hopwire_failures(doc: dict[str, Any]) -> list[str]:
    """What hopwire itself got wrong or could not do: a benchmark run with these failed."""
    out = parsers.hopwire_failed(doc["parsers"]) if doc.get("parsers") else []
    for name, result in (doc.get("pools") or {}).get("workloads", {}).items():
        for key, row in result["contenders"].items():
            if key.startswith("hopwire") and row["status"] == "failed":
                out.append(f"{key} on {name}: {row.get('detail', '')}")
    if doc.get("http2"):
        out += http2.hopwire_failed(doc["http2"])
    if doc.get("proxy"):
        out += proxies.hopwire_failed(doc["proxy"])
    return out


# -- the command line ------------------------------------------------------------------

def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--quick", action="store_true",
                    help="fewer, shorter rounds: about a minute (a full run takes about four)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results (every round) here")
    ap.add_argument("--plot", metavar="FILE.png",
                    help="draw a bar chart of the results (needs matplotlib: pip install 'hopwire[plot]')")
    ap.add_argument("--server", choices=SERVERS, default="auto",
                    help="the pool benchmarks' server (with --proxy, the origin): nginx on 127.0.0.1, "
                         "hopwire's embedded server, or auto (nginx when installed; default)")
    part = ap.add_mutually_exclusive_group()
    part.add_argument("--parsers-only", action="store_true", help="only the parser benchmarks")
    part.add_argument("--pool-only", action="store_true", help="only the connection pool benchmarks")
    part.add_argument("--http2-only", action="store_true",
                      help="only the HTTP/2 part: the pools over h2c against httpx and niquests over "
                           "HTTP/2, head-of-line latency (needs nginx with http_v2; about 80 s, "
                           "--quick about 12 s)")
    part.add_argument("--proxy", action="store_true",
                      help="only the proxy benchmark: hopwire proxy against nginx as a reverse proxy, "
                           "both in front of one origin (about 90 s; --quick about 15 s)")
    ap.add_argument("--workload", action="append", metavar="NAME",
                    choices=list(dict.fromkeys(ALL_WORKLOADS + PROXY_WORKLOADS)),
                    help="only these workloads (repeatable): " + ", ".join(ALL_WORKLOADS)
                    + "; with --proxy: " + ", ".join(PROXY_WORKLOADS))
    ap.add_argument("--rounds", type=int, metavar="N", help="rounds per workload (default 21 for parsers, "
                    "7 for pools and HTTP/2 and 13 for the proxy; --quick 7, 3 and 5)")
    ap.add_argument("--placement", choices=PLACEMENTS, default="same",
                    help="pool and proxy benchmarks: client and servers on the same CPU (default), "
                         "on two, or unpinned")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _command(argv: list[str] | None) -> str:
    return " ".join(["hopwire bench"] + list(argv or []))


def main(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """`hopwire bench` with parsed `args`; `argv` is only echoed in the report."""
    if args.plot and args.proxy:
        print("hopwire bench: --plot draws the parser and pool parts, not --proxy", file=sys.stderr)
        return 2
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        print("hopwire bench: --plot needs matplotlib (pip install 'hopwire[plot]')", file=sys.stderr)
        return 2
    try:
        plan = make_plan(quick=args.quick, parsers_only=args.parsers_only, pool_only=args.pool_only,
                         workloads=args.workload, rounds=args.rounds, server=args.server,
                         placement=args.placement, command=_command(argv), proxy=args.proxy,
                         http2_only=args.http2_only)
    except ValueError as exc:
        print(f"hopwire bench: {exc}", file=sys.stderr)
        return 2
    progress = Progress(plan.steps(), enabled=not args.no_progress)
    try:
        doc = run(plan, progress)
    except ServerUnavailable as exc:
        part = "proxy benchmark's origin" if args.proxy else "pool benchmarks' server"
        print(f"hopwire bench: the {part} did not start: {exc}", file=sys.stderr)
        return 2
    print(report(doc, Symbols()), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    if args.plot:
        from .plot import plot
        plot(doc, args.plot)
        print(f"chart written to {args.plot}")
    failures = hopwire_failures(doc)
    for failure in failures:
        print(f"hopwire bench: FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0
