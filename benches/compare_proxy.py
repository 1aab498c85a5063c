"""Compare `hopwire proxy` with nginx as a reverse proxy, both in front of one local origin.

    PYTHONPATH=src .venv/bin/python benches/compare_proxy.py [--quick] [--json FILE]
        [--workload NAME ...] [--route KEY ...] [--server auto|nginx|embedded]
        [--placement same|split|free]

The proxy part of `hopwire bench` (`hopwire bench --proxy`; the machinery is
in `hopwire.bench`: proxies, nginx, nginx_proxy.conf.template, target,
report): requests per second through each route (direct to the origin,
through nginx, through hopwire proxy; --route hopwire-proxy-p8 adds it with
--pipeline 8), the latency a
proxy adds, and the CPU each proxy spends per request. nginx is the ceiling:
the ratio printed after the tables is hopwire proxy's req/s as a share of
nginx's, per workload.

Default: 13 rounds of ~0.7 s batches (about 90 s on a 2-core VM);
--quick: 5 rounds of ~0.25 s batches (about 15 s).

As a module: `run(...)` returns the results document (--json) and
`report(doc)` the text printed here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import _checkout  # noqa: F401  (hopwire.bench: installed, else the checkout's src/)
from hopwire.bench import proxies  # noqa: E402
from hopwire.bench.environment import environment  # noqa: E402
from hopwire.bench.progress import Progress  # noqa: E402
from hopwire.bench.report import Symbols, header, proxy_report  # noqa: E402
from hopwire.bench.target import PLACEMENTS, SERVERS, ServerUnavailable  # noqa: E402


def run(workloads: Iterable[str] | None = None, routes: Iterable[str] | None = None, *,
        quick: bool = False, rounds: int | None = None, batch_s: float | None = None,
        placement: str = "same", server: str = "auto",
        log: Callable[[str], None] = lambda line: None,
        progress: Progress | None = None) -> dict[str, Any]:
    """Run the proxy benchmark; the results document, with the environment in it."""
    base = proxies.QUICK if quick else proxies.FULL
    settings = proxies.Settings(rounds or base.rounds, batch_s or base.batch_s, base.warmup_s,
                                base.budget_s * 3)  # a generous budget: run what was asked
    chosen = ([proxies.WORKLOADS_BY_NAME[name] for name in workloads] if workloads
              else list(proxies.WORKLOADS))
    bar = progress or Progress(proxies.steps(chosen, settings), enabled=False)

    def note(line: str) -> None:
        bar.note(line)
        log(line)

    doc = proxies.run(chosen, list(routes) if routes else None, settings=settings, server=server,
                      placement=placement, step=bar.step, log=note)
    bar.close()
    doc["environment"] = environment()
    return doc


def ratios(doc: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(workload, route, req/s as a share of nginx-proxy's) for every hopwire route that ran."""
    out = []
    for name, result in doc["workloads"].items():
        for key, row in result["routes"].items():
            if proxies.ROUTES_BY_KEY[key].kind == "hopwire" and "vs_ceiling" in row:
                out.append((name, key, float(row["vs_ceiling"])))
    return out


def report(doc: dict[str, Any]) -> str:
    s = Symbols()
    lines = header({"environment": doc["environment"], "proxy": doc}, s) + [""] + proxy_report(doc, s)
    found = ratios(doc)
    if found:
        lines += ["", "hopwire proxy / nginx reverse proxy (req/s):"]
        lines += [f"  {name}: {key} {value:.2f}" for name, key, value in found]
    lines += ["", f"({doc.get('elapsed_s', 0):.0f} s)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 rounds of ~0.25 s batches (~15 s)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results (every round) here")
    ap.add_argument("--workload", action="append", metavar="NAME", choices=list(proxies.WORKLOADS_BY_NAME),
                    help="only these workloads (repeatable): " + ", ".join(proxies.WORKLOADS_BY_NAME))
    ap.add_argument("--route", action="append", metavar="KEY", choices=list(proxies.ROUTES_BY_KEY),
                    help="only these routes (repeatable; direct always runs): "
                         + ", ".join(proxies.ROUTES_BY_KEY))
    ap.add_argument("--rounds", type=int, help="rounds per workload (default 13, --quick 5)")
    ap.add_argument("--batch-ms", type=float, help="wall time of one batch (default 700, --quick 250)")
    ap.add_argument("--placement", choices=PLACEMENTS, default="same",
                    help="client and servers on the same CPU (default), on two CPUs, or unpinned")
    ap.add_argument("--server", choices=SERVERS, default="auto",
                    help="the origin: nginx, hopwire's embedded server, or auto (nginx when installed)")
    args = ap.parse_args(argv)
    base = proxies.QUICK if args.quick else proxies.FULL
    chosen = ([proxies.WORKLOADS_BY_NAME[n] for n in args.workload] if args.workload
              else list(proxies.WORKLOADS))
    bar = Progress(proxies.steps(chosen, proxies.Settings(args.rounds or base.rounds, 0, 0, 0)))
    try:
        doc = run(args.workload, args.route, quick=args.quick, rounds=args.rounds,
                  batch_s=args.batch_ms / 1000 if args.batch_ms else None,
                  placement=args.placement, server=args.server, progress=bar)
    except ServerUnavailable as exc:
        print(f"cannot run the proxy benchmark: {exc}", file=sys.stderr)
        return 2
    print(report(doc))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 1 if proxies.hopwire_failed(doc) else 0


if __name__ == "__main__":
    sys.exit(main())
