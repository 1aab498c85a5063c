"""Compare hopwire's parser with httptools, aiohttp and h11 on five workloads.

    PYTHONPATH=src .venv/bin/python benches/compare.py [--quick] [--json FILE]

What it does, in order:

1. prints the machine, the Python, and which hopwire twin `import hopwire`
   picks by default (`hopwire.EXTENSIONS_ACTIVE`);
2. runs the correctness gate: every contender must return exactly the
   expected messages (method/status, target/reason, every header, body) for
   every workload; one that differs is reported and not timed on that
   workload;
3. times each workload with the contenders interleaved: in every round each
   contender runs one batch (a loop of whole `parse(workload_bytes)` calls,
   sized from a calibration run to take about the batch time), the order
   rotating from round to round; gc is collected before and disabled during
   each batch;
4. prints one table per workload: median ns per message over the rounds,
   the min-max spread of the per-round values, messages per second, and the
   ratio against hopwire C (against hopwire Python when the extension is not
   built).

Default: 21 rounds of ~40 ms batches (about 40 s on a 2-core VM);
--quick: 7 rounds of ~10 ms batches (under 10 s). A "message" is one HTTP
message: the pipelined workload counts 100 per call.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import hopwire
except ImportError:  # not installed and PYTHONPATH=src not given
    sys.path.insert(1, str(HERE.parent / "src"))
    import hopwire

import peers  # noqa: E402
from workloads import WORKLOADS  # noqa: E402

_UTF8 = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
TIMES = "×" if _UTF8 else "x"
DASH = "–" if _UTF8 else "-"


# -- environment ----------------------------------------------------------------

def machine() -> dict:
    info = {"cpu": "", "logical_cpus": os.cpu_count()}
    cores = set()
    try:
        phys = core = None
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and not info["cpu"]:
                    info["cpu"] = value
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                elif not key and core is not None:  # blank line ends one processor
                    cores.add((phys, core))
                    phys = core = None
        if core is not None:
            cores.add((phys, core))
    except OSError:
        pass
    info["cpu"] = info["cpu"] or platform.processor() or platform.machine()
    if cores:
        info["physical_cores"] = len(cores)
    try:
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    info["os"] = f"{platform.system()} {platform.release()} {platform.machine()}"
    return info


def environment() -> dict:
    return {
        "machine": machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "hopwire": {
            "version": hopwire.__version__,
            "extensions_active": hopwire.EXTENSIONS_ACTIVE,
            "HOPWIRE_NO_EXTENSIONS": os.environ.get("HOPWIRE_NO_EXTENSIONS", ""),
        },
    }


def print_environment(env: dict, contenders: list, settings: dict) -> None:
    m = env["machine"]
    cores = f"{m['logical_cpus']} logical CPUs"
    if "physical_cores" in m:
        cores += f" / {m['physical_cores']} cores"
    if m.get("usable_cpus") not in (None, m["logical_cpus"]):
        cores += f", {m['usable_cpus']} usable"
    hw = env["hopwire"]
    twin = "C extension" if hw["extensions_active"] else "pure Python"
    why = ""
    if not hw["extensions_active"]:
        why = " (HOPWIRE_NO_EXTENSIONS set)" if hw["HOPWIRE_NO_EXTENSIONS"] not in ("", "0") \
            else " (extension not built)"
    peer_versions = ", ".join(f"{c.label} {c.version}" for c in contenders
                              if c.available and not c.key.startswith("hopwire"))
    print("hopwire HTTP/1.x parser benchmarks")
    print(f"  machine   {m['cpu']}, {cores}, {m['os']}")
    print(f"  python    {env['python']}")
    print(f"  hopwire   {hw['version']}; default twin: {twin}{why} "
          f"[hopwire.EXTENSIONS_ACTIVE = {hw['extensions_active']}]")
    print(f"  peers     {peer_versions}")
    print("  method    fresh parser per call, whole buffer fed at once, every message collected;")
    print(f"            {settings['rounds']} interleaved rounds of one ~{settings['batch_ms']:g} ms batch "
          f"per contender, gc off while timing; median over rounds")


# -- timing ---------------------------------------------------------------------

def _batch(fn, data, n: int) -> int:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn(data)
        return time.perf_counter_ns() - t0
    finally:
        gc.enable()


def _calibrate(fn, data, batch_ns: float) -> int:
    """Iterations per batch so that one batch takes about `batch_ns`."""
    for _ in range(3):  # warm up
        fn(data)
    n = 1
    while True:
        elapsed = _batch(fn, data, n)
        if elapsed >= batch_ns / 5 or n >= 1 << 24:
            return max(1, round(n * batch_ns / max(elapsed, 1)))
        n *= 2 if elapsed > batch_ns / 50 else 8


def run_workload(workload, entries, rounds: int, batch_ms: float) -> dict:
    """entries: [(contender, fn)] that passed the gate. Returns key -> stats."""
    data, msgs = workload.data, workload.messages
    sizes = [_calibrate(fn, data, batch_ms * 1e6) for _, fn in entries]
    samples: list[list[float]] = [[] for _ in entries]
    k = len(entries)
    for r in range(rounds):
        for j in range(k):
            i = (r + j) % k  # rotate the order: nobody always goes first
            samples[i].append(_batch(entries[i][1], data, sizes[i]) / (sizes[i] * msgs))
    out = {}
    for (c, _), n, s in zip(entries, sizes, samples):
        med = statistics.median(s)
        out[c.key] = {
            "label": c.label,
            "median_ns": med,
            "min_ns": min(s),
            "max_ns": max(s),
            "msgs_per_s": 1e9 / med,
            "calls_per_batch": n,
            "samples_ns": s,
        }
    return out


# -- output ---------------------------------------------------------------------

def _ratio(value: float, base: float | None) -> str:
    if base is None:
        return ""
    r = value / base
    if 0.995 <= r <= 1.005:
        return "same"
    if r > 1:
        return f"{r:.2f}{TIMES} slower" if r < 10 else f"{r:.1f}{TIMES} slower"
    r = 1 / r
    return f"{r:.2f}{TIMES} faster" if r < 10 else f"{r:.1f}{TIMES} faster"


def print_table(workload, stats: dict, order: list, baseline_key: str | None, baseline_label: str,
                excluded: dict) -> None:
    print()
    size = f"{len(workload.data):,} B"
    per = f"{workload.messages} messages per call" if workload.messages > 1 else "1 message per call"
    print(f"{workload.title}  [{size}, {per}]")
    base = stats[baseline_key]["median_ns"] if baseline_key in stats else None
    head = ("contender", "ns/msg (median)", f"spread (min{DASH}max)", "msgs/s", f"vs {baseline_label}")
    rows = []
    for c in order:
        if c.key not in stats:
            continue
        s = stats[c.key]
        ratio = "baseline" if c.key == baseline_key else _ratio(s["median_ns"], base)
        s["vs_baseline"] = None if base is None else s["median_ns"] / base
        rows.append((c.label, f"{s['median_ns']:,.0f}",
                     f"{s['min_ns']:,.0f}{DASH}{s['max_ns']:,.0f}",
                     f"{s['msgs_per_s']:,.0f}", ratio or "n/a"))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    align = ("<", ">", ">", ">", "<")
    for row in [head] + rows:
        print("  " + "   ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths)).rstrip())
    for label, problem in excluded.items():
        print(f"  {label}: excluded, output differs: {problem}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="7 rounds of ~10 ms batches (<20 s)")
    ap.add_argument("--json", metavar="FILE", help="also write all results (incl. per-round samples) here")
    ap.add_argument("--rounds", type=int, help="rounds per workload (default 21, --quick 7)")
    ap.add_argument("--batch-ms", type=float, help="target duration of one batch (default 40, --quick 10)")
    ap.add_argument("--workload", action="append", metavar="NAME",
                    help="only these workloads (repeatable): " + ", ".join(w.name for w in WORKLOADS))
    args = ap.parse_args(argv)
    settings = {
        "rounds": args.rounds or (7 if args.quick else 21),
        "batch_ms": args.batch_ms or (10.0 if args.quick else 40.0),
    }
    workloads = [w for w in WORKLOADS if not args.workload or w.name in args.workload]
    if not workloads:
        ap.error("no such workload")
    started = time.perf_counter()

    contenders = peers.contenders()
    env = environment()
    print_environment(env, contenders, settings)

    # correctness gate
    gate = {c.key: {w.name: peers.check(c, w) for w in workloads} for c in contenders if c.available}
    checked = sum(len(v) for v in gate.values())
    failed = [(c, w, gate[c.key][w.name]) for c in contenders if c.available
              for w in workloads if gate[c.key][w.name] is not None]
    print(f"  gate      {checked - len(failed)}/{checked} (contender, workload) pairs give the "
          f"expected messages" + ("" if failed else " (all)"))
    for c, w, problem in failed:
        print(f"            FAIL {c.label} on {w.name}: {problem} -- not timed there")
    for c in contenders:
        if not c.available:
            print(f"  skipped   {c.label}: {c.skip_reason}")
    for c in contenders:
        for note in c.notes if c.available else ():
            print("  note      " + note.replace("\n", "\n            "))

    baseline = next((c for c in contenders if c.key == "hopwire_c" and c.available), None) \
        or next((c for c in contenders if c.key == "hopwire_py" and c.available), None)
    results = {}
    for w in workloads:
        entries = [(c, c.parser_for(w)) for c in contenders
                   if c.available and gate[c.key][w.name] is None]
        stats = run_workload(w, entries, settings["rounds"], settings["batch_ms"]) if entries else {}
        excluded = {c.label: gate[c.key][w.name] for c in contenders
                    if c.available and gate[c.key][w.name] is not None}
        bkey = baseline.key if baseline and baseline.key in stats else None
        print_table(w, stats, contenders, bkey, baseline.label if baseline else "-", excluded)
        results[w.name] = {"title": w.title, "bytes": len(w.data), "messages": w.messages,
                           "baseline": bkey, "contenders": stats, "excluded": excluded}
        sys.stdout.flush()

    elapsed = time.perf_counter() - started
    print(f"\n({elapsed:.1f} s; ns/msg = wall time of whole parse() calls / messages; "
          f"lower is better)")
    if args.json:
        doc = dict(env, settings=settings, gate=gate,
                   skipped={c.key: c.skip_reason for c in contenders if not c.available},
                   versions={c.key: c.version for c in contenders if c.available},
                   results=results, elapsed_s=elapsed)
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 1 if any(c.key.startswith("hopwire") for c, _, _ in failed) else 0


if __name__ == "__main__":
    sys.exit(main())
