"""Compare hopwire's pools with other Python HTTP clients against one local server.

    PYTHONPATH=src .venv/bin/python benches/compare_pool.py [--quick] [--json FILE]
        [--workload NAME ...] [--contender KEY ...] [--server auto|nginx|embedded] [--url URL]

The pool part of `hopwire bench` (the machinery lives in `hopwire.bench`:
pool_peers, pools, target, nginx, report), plus the project's targets for the
pool, printed after the tables, every ratio between two contenders of the
same run:

- hopwire-sync sequential reaches SEQUENTIAL_TARGET of the floor's req/s;
- hopwire-async sequential reaches ASYNC_FLOOR_TARGET of the asyncio floor
  (a bare asyncio Protocol + httptools) on the same loop: asyncio's own
  loop, and uvloop's (hopwire-async-uvloop against floor-asyncio-uvloop);
- hopwire-async on uvloop, sequential, reaches UVLOOP_TARGET of hopwire-sync;
- both pipelined16 contenders reach PIPELINED_TARGET of the pipelined floor.

A target whose contenders did not run (uvloop not installed, a failure) is
listed as not measured, with the reason.

For information (not targets), also from the same run: hopwire-async against
hopwire-sync on every workload on asyncio's loop (asyncio's loop alone costs
more per request than a blocking socket: the asyncio floor against
hopwire-sync shows how much), the same on uvloop, and hopwire-async's share
of the asyncio floor on every workload and loop.

Default: 7 rounds of ~0.4 s batches (about 2 minutes on a 2-core VM);
--quick: 3 rounds of ~0.12 s batches (about 30 s).

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
from hopwire.bench import pool_peers as pp  # noqa: E402
from hopwire.bench import pools  # noqa: E402
from hopwire.bench.environment import environment  # noqa: E402
from hopwire.bench.progress import Progress  # noqa: E402
from hopwire.bench.report import Symbols, header, markdown, pools_report  # noqa: E402
from hopwire.bench.target import PLACEMENTS, SERVERS, ServerUnavailable  # noqa: E402

SEQUENTIAL_TARGET = 0.60  # hopwire sync sequential vs the floor
ASYNC_FLOOR_TARGET = 0.90  # hopwire async sequential vs the asyncio floor, on the same loop
UVLOOP_TARGET = 0.80  # hopwire async on uvloop, sequential, vs hopwire sync
PIPELINED_TARGET = 0.60  # hopwire pipelined16 vs the pipelined floor

# (contender, reference, loop named in the text) for the async/floor comparisons.
ASYNC_PAIRS = (("hopwire-async", "floor-asyncio", "asyncio loop"),
               ("hopwire-async-uvloop", "floor-asyncio-uvloop", "uvloop"))


def run(workloads: Iterable[str] | None = None, contenders: Iterable[str] | None = None, *,
        quick: bool = False, rounds: int | None = None, batch_s: float | None = None,
        url: str | None = None, placement: str = "same", server: str = "auto",
        log: Callable[[str], None] = lambda line: None,
        progress: Progress | None = None) -> dict[str, Any]:
    """Run the pool benchmarks; the results document, with the environment in it.

    `url`: an already running server answering GET with 200 "Hello, world!"
    (127.0.0.1 only); by default `server` is started (nginx when installed,
    see `hopwire.bench.target.start_server`) and stopped.
    """
    base = pools.QUICK if quick else pools.FULL
    settings = pools.Settings(rounds or base.rounds, batch_s or base.batch_s, base.warmup_s,
                              base.budget_s * 3)  # a generous budget: run what was asked
    chosen = [pp.WORKLOADS_BY_NAME[name] for name in workloads] if workloads else list(pp.WORKLOADS)
    bar = progress or Progress(pools.steps(chosen, settings), enabled=False)

    def note(line: str) -> None:
        bar.note(line)
        log(line)

    doc = pools.run(chosen, list(contenders) if contenders else None, settings=settings, server=server,
                    url=url, placement=placement, step=bar.step, log=note)
    bar.close()
    doc["environment"] = environment()
    return doc


def _ratio(doc: dict[str, Any], workload: str, key: str, ref: str) -> tuple[float | None, str]:
    """req/s of `key` over `ref`'s on `workload`, or None and why it was not measured."""
    rows = doc["workloads"].get(workload, {}).get("contenders", {})
    a, b = rows.get(key, {}), rows.get(ref, {})
    if a.get("status") == "ok" and b.get("status") == "ok":
        return float(a["req_s"]) / float(b["req_s"]), ""
    why = [f"{k} {r.get('status', 'not run')}" + (f" ({r['detail']})" if r.get("detail") else "")
           for k, r in ((key, a), (ref, b)) if r.get("status") != "ok"]
    return None, "; ".join(why)


Target = tuple[str, float | None, float, str]  # what, measured ratio or None, threshold, why not


def targets(doc: dict[str, Any]) -> list[Target]:
    """(what, measured ratio or None, threshold, why not measured) for each target
    whose workload ran; met means ratio >= threshold."""
    out: list[Target] = []
    w = doc["workloads"]

    def add(what: str, workload: str, key: str, ref: str, threshold: float) -> None:
        if workload in w:
            value, why = _ratio(doc, workload, key, ref)
            out.append((what, value, threshold, why))

    add("hopwire-sync sequential / floor", "sequential", "hopwire-sync", "floor", SEQUENTIAL_TARGET)
    for key, ref, loop in ASYNC_PAIRS:
        add(f"{key} sequential / {ref} (same loop: {loop})", "sequential", key, ref, ASYNC_FLOOR_TARGET)
    add("hopwire-async-uvloop sequential / hopwire-sync", "sequential", "hopwire-async-uvloop",
        "hopwire-sync", UVLOOP_TARGET)
    for key in ("hopwire-sync", "hopwire-async"):
        add(f"{key} pipelined16 / floor-pipelined16", "pipelined16", key, "floor-pipelined16",
            PIPELINED_TARGET)
    return out


# Ratios for information: (column head, contender, reference), a column each.
REFERENCES = (
    ("async/sync", "hopwire-async", "hopwire-sync"),
    ("async/sync (uvloop)", "hopwire-async-uvloop", "hopwire-sync"),
    ("floor/sync", "floor-asyncio", "hopwire-sync"),
    ("floor/sync (uvloop)", "floor-asyncio-uvloop", "hopwire-sync"),
    ("async/floor", "hopwire-async", "floor-asyncio"),
    ("async/floor (uvloop)", "hopwire-async-uvloop", "floor-asyncio-uvloop"),
    ("async: uvloop/asyncio", "hopwire-async-uvloop", "hopwire-async"),
)


def references(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Ratios for information, measured in the same run, by workload and column
    (REFERENCES): hopwire-async against hopwire-sync on each loop (on asyncio's
    loop, the old target), what each loop leaves to any asyncio client (the bare
    Protocol floor against hopwire-sync), how much of it hopwire-async keeps,
    and what uvloop gives hopwire-async."""
    out: dict[str, dict[str, float]] = {}
    for name in doc["workloads"]:
        for head, key, ref in REFERENCES:
            value, _ = _ratio(doc, name, key, ref)
            if value is not None:
                out.setdefault(name, {})[head] = value
    return out


def report(doc: dict[str, Any]) -> str:
    s = Symbols()
    lines = header({"environment": doc["environment"], "pools": doc}, s) + [""] + pools_report(doc, s)
    found = targets(doc)
    if found:
        lines += ["", "targets (req/s ratios, same run):"]
        for what, value, threshold, why in found:
            if value is None:
                lines.append(f"  {what}: not measured: {why} (target >= {threshold:.2f})")
            else:
                verdict = "met" if value >= threshold else "MISSED"
                lines.append(f"  {what}: {value:.2f} (target >= {threshold:.2f}) {verdict}")
    bounds = references(doc)
    heads = [head for head, _, _ in REFERENCES if any(head in row for row in bounds.values())]
    if heads:
        lines += ["", "for information (req/s ratios, same run; async: hopwire-async, sync: hopwire-sync, "
                  "floor: floor-asyncio, a bare Protocol + httptools; (uvloop): the async side on uvloop, "
                  "else on asyncio's loop):", ""]
        lines += markdown(["workload"] + heads,
                          [[name] + [f"{row[h]:.2f}" if h in row else "" for h in heads]
                           for name, row in bounds.items()], "<" + ">" * len(heads))
    lines += ["", f"CPU {s.mu}s/req: this process only (time.process_time, all threads); "
              f"server {s.mu}s/req: the server's process (schedstat). vs hopwire: hopwire of the same "
              "I/O model (sync, asyncio or uvloop); % of floor: share of the floor's req/s.",
              f"({doc.get('elapsed_s', 0):.0f} s)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds of ~0.12 s batches (~30 s)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results (every round) here")
    ap.add_argument("--workload", action="append", metavar="NAME", choices=list(pp.WORKLOADS_BY_NAME),
                    help="only these workloads (repeatable): " + ", ".join(pp.WORKLOADS_BY_NAME))
    ap.add_argument("--contender", action="append", metavar="KEY", choices=list(pp.CONTENDERS),
                    help="only these contenders (repeatable): " + ", ".join(pp.CONTENDERS))
    ap.add_argument("--rounds", type=int, help="rounds per workload (default 7, --quick 3)")
    ap.add_argument("--batch-ms", type=float, help="wall time of one batch (default 400, --quick 120)")
    ap.add_argument("--placement", choices=PLACEMENTS, default="same",
                    help="client and server on the same CPU (default), on two CPUs, or unpinned")
    ap.add_argument("--server", choices=SERVERS, default="auto",
                    help="nginx, hopwire's embedded server, or auto (nginx when installed)")
    ap.add_argument("--url", help="use this running server (http://127.0.0.1:PORT/) instead")
    args = ap.parse_args(argv)
    if args.url and not args.url.startswith("http://127.0.0.1:"):
        ap.error("--url must be http://127.0.0.1:PORT/...")
    base = pools.QUICK if args.quick else pools.FULL
    chosen = [pp.WORKLOADS_BY_NAME[n] for n in args.workload] if args.workload else list(pp.WORKLOADS)
    bar = Progress(pools.steps(chosen, pools.Settings(args.rounds or base.rounds, 0, 0, 0)))
    try:
        doc = run(args.workload, args.contender, quick=args.quick, rounds=args.rounds,
                  batch_s=args.batch_ms / 1000 if args.batch_ms else None, url=args.url,
                  placement=args.placement, server=args.server, progress=bar)
    except ServerUnavailable as exc:
        print(f"cannot run the pool benchmarks: {exc}", file=sys.stderr)
        return 2
    print(report(doc))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
