"""Compare hopwire's parser with httptools, aiohttp and h11 on five workloads.

    PYTHONPATH=src .venv/bin/python benches/compare.py [--quick] [--json FILE] [--workload NAME ...]

The parser part of `hopwire bench` (the machinery lives in `hopwire.bench`:
workloads, parser_peers, parsers, report), as it was run before that command
existed: the correctness gate first (every contender must return exactly the
expected method/status, target/reason, headers and body, or it is not timed
on that workload), then interleaved rounds with gc off, then one table per
workload. Exits 1 when a hopwire twin fails the gate.

Default: 21 rounds of ~40 ms batches (about 40 s on a 2-core VM);
--quick: 7 rounds of ~10 ms batches (under 15 s).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import _checkout  # noqa: F401  (hopwire.bench: installed, else the checkout's src/)
from hopwire.bench import parsers  # noqa: E402
from hopwire.bench.environment import environment  # noqa: E402
from hopwire.bench.progress import Progress  # noqa: E402
from hopwire.bench.report import Symbols, header, parsers_report  # noqa: E402
from hopwire.bench.workloads import WORKLOADS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="7 rounds of ~10 ms batches")
    ap.add_argument("--json", metavar="FILE", help="also write all results (incl. per-round samples) here")
    ap.add_argument("--rounds", type=int, help="rounds per workload (default 21, --quick 7)")
    ap.add_argument("--batch-ms", type=float, help="target duration of one batch (default 40, --quick 10)")
    ap.add_argument("--workload", action="append", metavar="NAME", choices=[w.name for w in WORKLOADS],
                    help="only these workloads (repeatable): " + ", ".join(w.name for w in WORKLOADS))
    args = ap.parse_args(argv)
    base = parsers.QUICK if args.quick else parsers.FULL
    settings = parsers.Settings(args.rounds or base.rounds, args.batch_ms or base.batch_ms,
                                base.budget_s * 10)  # no budget cut here: run what was asked
    workloads = [w for w in WORKLOADS if not args.workload or w.name in args.workload]
    bar = Progress(parsers.steps(workloads, settings))
    given = sys.argv[1:] if argv is None else argv
    doc = {"environment": environment(), "command": " ".join(["python benches/compare.py", *given]),
           "parsers": parsers.run(workloads, settings, bar.step)}
    bar.close()
    s = Symbols()
    print("\n".join(header(doc, s) + [""] + parsers_report(doc["parsers"], s)))
    print(f"\n({doc['parsers']['elapsed_s']:.1f} s; ns/msg = wall time of whole parse() calls / messages; "
          "lower is better)")
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 1 if parsers.hopwire_failed(doc["parsers"]) else 0


if __name__ == "__main__":
    sys.exit(main())
