"""Compare hopwire's pools with other Python HTTP clients against one nginx.

    PYTHONPATH=src .venv/bin/python benches/compare_pool.py [--quick] [--json FILE]
                                                          [--workload NAME ...] [--contender KEY ...]

What it does:

1. starts nginx (`nginx_server.py`: one worker, keepalive_requests 10 million,
   ``/`` = 200 "Hello, world!") on 127.0.0.1, and stops it in any case; pins
   this process and nginx's worker to one CPU (`--placement same`, the
   default: on a VM, a ping-pong across two CPUs costs a cross-CPU wake-up per
   message, which swamped and randomized the clients' differences; see
   `nginx_server.place()`);
2. for each workload (`pool_peers.WORKLOADS`), sets up every contender
   (`pool_peers.CONTENDERS`; one not installed or not applicable is listed as
   such) and passes it through the gate: a first run whose responses are
   checked like every later one (a contender that fails is reported, not
   timed);
3. calibrates each contender's batch (requests per run, a multiple of the
   concurrency) to about `batch_s` of wall time, warms it up, then times
   `rounds` interleaved rounds: every contender runs one batch per round, the
   order rotating so that nobody always goes first. gc is collected before
   each batch and left on during it (a client's garbage is part of its cost);
4. prints one table per workload: median requests per second over the rounds,
   their min-max spread, CPU microseconds per request of this process
   (`time.process_time`: the client only, all its threads; nginx runs in
   another process, whose CPU per request is shown apart), and the ratios of
   req/s to the workload's floor and to hopwire of the same I/O model; then
   a summary table and the project's targets.

Default: 7 rounds of ~0.4 s batches (about 2 minutes on a 2-core VM);
--quick: 3 rounds of ~0.12 s batches (about 30 s).

As a module: `run(...)` returns the results (the --json document) and
`report(results)` the text printed here.
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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
try:
    import hopwire
except ImportError:  # neither installed nor on PYTHONPATH: use the checkout's src/
    sys.path.insert(1, str(HERE.parent / "src"))
    import hopwire

import pool_peers as pp  # noqa: E402
from nginx_server import PLACEMENTS, BenchNginx, NginxUnavailable, place, start_nginx  # noqa: E402

_UTF8 = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
DASH = "—" if _UTF8 else "-"
EN_DASH = "–" if _UTF8 else "-"
MU = "µ" if _UTF8 else "u"
TIMES = "×" if _UTF8 else "x"

# The targets: (name, what, measured / reference >= threshold)
SEQUENTIAL_TARGET = 0.60  # hopwire sync sequential vs the floor
ASYNC_TARGET = 0.80  # hopwire async vs hopwire sync, same workload
PIPELINED_TARGET = 0.60  # hopwire pipelined16 vs the pipelined floor


@dataclass(frozen=True)
class Settings:
    rounds: int
    batch_s: float  # wall time of one timed batch
    warmup_s: float  # wall time of the warm-up run (after calibration)
    budget_s: float  # a workload's rounds stop when its share of this is spent


FULL = Settings(rounds=7, batch_s=0.4, warmup_s=0.3, budget_s=600.0)
QUICK = Settings(rounds=3, batch_s=0.12, warmup_s=0.08, budget_s=90.0)
CALIBRATE_S = 0.05  # a calibration run at least this long gives the rate
MAX_BATCH = 1_000_000  # requests: a bound on any one run


# -- environment ---------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.partition(":")[2].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu or platform.processor() or platform.machine(),
                            "logical_cpus": os.cpu_count(),
                            "os": f"{platform.system()} {platform.release()} {platform.machine()}"}
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    return info


def environment(keys: Iterable[str]) -> dict[str, Any]:
    versions = {}
    for key in keys:
        cls = pp.CONTENDERS[key]
        versions[key] = "not installed" if cls.missing() else cls.version()
    return {
        "machine": machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "hopwire": {"version": hopwire.__version__, "extensions_active": hopwire.EXTENSIONS_ACTIVE,
                    "HOPWIRE_NO_EXTENSIONS": os.environ.get("HOPWIRE_NO_EXTENSIONS", "")},
        "versions": versions,
    }


def _cpu_busy_s() -> float | None:
    """Seconds of CPU used by everything on the machine so far (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _raise_fd_limit(want: int = 8192) -> None:
    # concurrent64 keeps 64 connections per contender open through a workload.
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    except (ImportError, ValueError, OSError):
        pass


# -- timing ----------------------------------------------------------------------------

def _timed(c: pp.Contender, n: int, server: BenchNginx | None) -> dict[str, float]:
    gc.collect()
    srv0 = server.cpu_ns() if server is not None else None
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    c.run(n)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    srv1 = server.cpu_ns() if server is not None else None
    sample = {"n": n, "wall_s": wall, "req_s": n / wall, "cpu_us": cpu / n * 1e6}
    if srv0 is not None and srv1 is not None:
        sample["server_cpu_us"] = (srv1 - srv0) / 1e3 / n
    return sample


def _round_up(n: float, k: int) -> int:
    return max(k, min(MAX_BATCH, int(-(-n // k)) * k))


def _calibrate(c: pp.Contender, k: int, settings: Settings, server: BenchNginx | None) -> int:
    """Requests per batch for about settings.batch_s; the runs double as the warm-up."""
    n = _round_up(32, k)
    while True:
        s = _timed(c, n, server)
        if s["wall_s"] >= CALIBRATE_S or n >= MAX_BATCH:
            break
        n = _round_up(n * min(16.0, 2 * CALIBRATE_S / max(s["wall_s"], 1e-6)), k)
    s = _timed(c, _round_up(s["req_s"] * settings.warmup_s, k), server)  # warm-up, better rate
    return _round_up(s["req_s"] * settings.batch_s, k)


def _summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    rates = [s["req_s"] for s in samples]
    out: dict[str, Any] = {
        "req_s": statistics.median(rates), "req_s_min": min(rates), "req_s_max": max(rates),
        "cpu_us": statistics.median(s["cpu_us"] for s in samples),
        "rounds": len(samples), "batch": samples[0]["n"], "samples": samples,
    }
    server = [s["server_cpu_us"] for s in samples if "server_cpu_us" in s]
    if server:
        out["server_cpu_us"] = statistics.median(server)
    return out


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 200 else text[:197] + "..."


def run_workload(w: pp.Workload, keys: list[str], url: str, settings: Settings, deadline: float,
                 server: BenchNginx | None, log: Callable[[str], None]) -> dict[str, Any]:
    """One workload: every contender's outcome by key (status ok / n/a / not installed / failed)."""
    rows: dict[str, dict[str, Any]] = {}
    live: list[pp.Contender] = []
    try:
        for key in keys:
            cls = pp.CONTENDERS[key]
            if w.name not in cls.workloads:
                rows[key] = {"status": "n/a"}
                continue
            missing = cls.missing()
            if missing:
                rows[key] = {"status": "not installed", "detail": f"module {missing} not installed"}
                continue
            c = cls(w)
            try:
                c.setup(url)
                c.run(_round_up(2 * w.concurrency, w.concurrency))  # the gate
            except Exception as exc:
                rows[key] = {"status": "failed", "detail": "gate: " + _error(exc)}
                _close(c)
                continue
            live.append(c)
        sizes: dict[str, int] = {}
        for c in list(live):
            try:
                sizes[c.key] = _calibrate(c, w.concurrency, settings, server)
            except Exception as exc:
                rows[c.key] = {"status": "failed", "detail": "warm-up: " + _error(exc)}
                live.remove(c)
                _close(c)
        samples: dict[str, list[dict[str, float]]] = {c.key: [] for c in live}
        for r in range(settings.rounds):
            if r and time.monotonic() > deadline:
                log(f"  {w.name}: time budget spent after {r} rounds")
                break
            order = live[r % len(live):] + live[:r % len(live)] if live else []
            for c in order:
                if c not in live:
                    continue
                try:
                    samples[c.key].append(_timed(c, sizes[c.key], server))
                except Exception as exc:
                    rows[c.key] = {"status": "failed", "detail": f"round {r + 1}: " + _error(exc)}
                    live.remove(c)
                    _close(c)
            log(f"  {w.name}: round {r + 1}/{settings.rounds} done")
        for c in live:
            rows[c.key] = {"status": "ok", **_summary(samples[c.key])}
    finally:
        for c in live:
            _close(c)
    return {"title": w.title, "concurrency": w.concurrency, "pipelined": w.pipelined,
            "floor": pp.FLOOR_FOR.get(w.name, pp.DEFAULT_FLOOR),
            "contenders": {key: rows[key] for key in keys if key in rows}}


def _close(c: pp.Contender) -> None:
    try:
        c.close()
    except Exception:
        pass  # a client that fails to close does not change its timings


def run(workloads: Iterable[str] | None = None, contenders: Iterable[str] | None = None, *,
        quick: bool = False, rounds: int | None = None, batch_s: float | None = None,
        url: str | None = None, placement: str = "same",
        log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Run the benchmarks; returns the results document (see `report()` and --json).

    `url`: an already running server answering GET with 200 "Hello, world!"
    (127.0.0.1 only); by default a private nginx is started and stopped.
    `placement`: CPUs of the client and nginx, see `nginx_server.place()`
    (the calling thread gets its CPUs back at the end). `log` receives
    progress lines.
    """
    base = QUICK if quick else FULL
    settings = Settings(rounds or base.rounds, batch_s or base.batch_s, base.warmup_s, base.budget_s)
    chosen = [pp.WORKLOADS_BY_NAME[name] for name in workloads] if workloads else list(pp.WORKLOADS)
    keys = list(contenders) if contenders else list(pp.CONTENDERS)
    for key in keys:
        if key not in pp.CONTENDERS:
            raise ValueError(f"unknown contender {key!r}: one of {', '.join(pp.CONTENDERS)}")
    _raise_fd_limit()
    started = time.monotonic()
    busy0, own0 = _cpu_busy_s(), time.process_time()
    doc: dict[str, Any] = {"environment": environment(keys), "settings": asdict(settings)}
    if hasattr(os, "getloadavg"):
        doc["load_before"] = os.getloadavg()[0]
    server: BenchNginx | None = None
    unpin: Callable[[], None] = lambda: None
    try:
        if url is None:
            server = start_nginx()
            url = server.url
            doc["server"] = f"nginx {server.version()}, 1 worker, {url}"
            doc["placement"], unpin = place(server, placement)
        else:
            doc["server"] = url
            doc["placement"] = "free: external server"
        doc["workloads"] = {}
        share = settings.budget_s / len(chosen)
        for i, w in enumerate(chosen):
            log(f"{w.name}: {w.title}")
            deadline = started + share * (i + 1)
            doc["workloads"][w.name] = run_workload(w, keys, url, settings, deadline, server, log)
        # Other processes compete for the same CPUs: say how much they took.
        busy1 = _cpu_busy_s()
        server_s = (server.cpu_ns() or 0) / 1e9 if server is not None else 0.0
        if busy0 is not None and busy1 is not None:
            others = (busy1 - busy0) - (time.process_time() - own0) - server_s
            doc["others_cpu"] = max(0.0, others) / max(time.monotonic() - started, 1e-9)
    finally:
        unpin()
        if server is not None:
            server.stop()
    doc["elapsed_s"] = time.monotonic() - started
    return doc


# -- report ------------------------------------------------------------------------------

def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return ""
    return f"{value / base:.2f}{TIMES}"


def _hopwire_for(key: str) -> str:
    return "hopwire-async" if pp.CONTENDERS[key].model == "asyncio" else "hopwire-sync"


def _ok(rows: dict[str, Any], key: str) -> dict[str, Any] | None:
    row = rows.get(key)
    return row if row is not None and row["status"] == "ok" else None


def _markdown(head: list[str], rows: list[list[str]], align: str) -> list[str]:
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if a == "<" else c.rjust(w)
                                 for c, w, a in zip(cells, widths, align)) + " |"
    rule = "| " + " | ".join(("-" * (w - 1) + ":") if a == ">" else "-" * w
                             for w, a in zip(widths, align)) + " |"
    return [line(head), rule] + [line(r) for r in rows]


def workload_table(name: str, result: dict[str, Any]) -> list[str]:
    rows = result["contenders"]
    floor = _ok(rows, result["floor"])
    out = [f"### {name}: {result['title']}", ""]
    head = ["contender", "I/O", "req/s (median)", f"spread (min{EN_DASH}max)", f"CPU {MU}s/req",
            f"nginx {MU}s/req", "vs floor", "vs hopwire"]
    table: list[list[str]] = []
    notes: list[str] = []
    for key, row in rows.items():
        cls = pp.CONTENDERS[key]
        if row["status"] != "ok":
            shown = DASH if row["status"] == "n/a" else row["status"]
            table.append([key, cls.model, shown, "", "", "", "", ""])
            if row.get("detail") and row["status"] == "failed":
                notes.append(f"{key}: {row['detail']}")
            continue
        hw = _ok(rows, _hopwire_for(key))
        table.append([
            key, cls.model, _rate(row["req_s"]),
            f"{_rate(row['req_s_min'])}{EN_DASH}{_rate(row['req_s_max'])}",
            f"{row['cpu_us']:.1f}",
            f"{row['server_cpu_us']:.1f}" if "server_cpu_us" in row else "",
            _ratio(row["req_s"], floor["req_s"] if floor else None),
            _ratio(row["req_s"], hw["req_s"] if hw else None),
        ])
    out += _markdown(head, table, "<<>>>>>>")
    batches = ", ".join(f"{k} {r['batch']:,}" for k, r in rows.items() if r["status"] == "ok")
    rounds = max((r["rounds"] for r in rows.values() if r["status"] == "ok"), default=0)
    out += ["", f"{rounds} rounds; requests per batch: {batches}"]
    out += [f"FAILED {note}" for note in notes]
    return out


def summary_table(doc: dict[str, Any]) -> list[str]:
    """Contenders x workloads: median req/s and client CPU µs per request."""
    names = list(doc["workloads"])
    keys: list[str] = []
    for result in doc["workloads"].values():
        keys += [k for k in result["contenders"] if k not in keys]
    head = ["contender"] + [f"{n} req/s ({MU}s CPU)" for n in names]
    table = []
    for key in keys:
        cells = [key]
        for name in names:
            row = doc["workloads"][name]["contenders"].get(key)
            if row is None or row["status"] == "n/a":
                cells.append(DASH)
            elif row["status"] != "ok":
                cells.append(row["status"])
            else:
                cells.append(f"{_rate(row['req_s'])} ({row['cpu_us']:.0f})")
        table.append(cells)
    return _markdown(head, table, "<" + ">" * len(names))


def targets(doc: dict[str, Any]) -> list[tuple[str, float | None, float, bool | None]]:
    """(what, measured ratio, threshold, met) for each of the issue's targets."""
    out: list[tuple[str, float | None, float, bool | None]] = []
    w = doc["workloads"]

    def ratio(workload: str, key: str, ref: str) -> float | None:
        if workload not in w:
            return None
        a, b = _ok(w[workload]["contenders"], key), _ok(w[workload]["contenders"], ref)
        return a["req_s"] / b["req_s"] if a and b else None

    def add(what: str, value: float | None, threshold: float) -> None:
        out.append((what, value, threshold, None if value is None else value >= threshold))

    add("hopwire-sync sequential / floor", ratio("sequential", "hopwire-sync", "floor"), SEQUENTIAL_TARGET)
    for name in w:
        add(f"hopwire-async / hopwire-sync, {name}", ratio(name, "hopwire-async", "hopwire-sync"),
            ASYNC_TARGET)
    for key in ("hopwire-sync", "hopwire-async"):
        add(f"{key} pipelined16 / floor-pipelined16", ratio("pipelined16", key, "floor-pipelined16"),
            PIPELINED_TARGET)
    return [t for t in out if t[1] is not None]


def header(doc: dict[str, Any]) -> list[str]:
    env = doc["environment"]
    m, hw = env["machine"], env["hopwire"]
    cpus = f"{m['logical_cpus']} logical CPUs" + (
        f" ({m['usable_cpus']} usable)" if m.get("usable_cpus") not in (None, m["logical_cpus"]) else "")
    twin = "C extension" if hw["extensions_active"] else "pure Python"
    if not hw["extensions_active"] and hw["HOPWIRE_NO_EXTENSIONS"] not in ("", "0"):
        twin += " (HOPWIRE_NO_EXTENSIONS set)"
    s = doc["settings"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items()
                         if not k.startswith(("hopwire", "floor")) and v)
    return [
        "hopwire connection pool benchmarks",
        f"  machine   {m['cpu']}, {cpus}, {m['os']}",
        f"  python    {env['python']}",
        f"  hopwire   {hw['version']}; parser twin: {twin} [hopwire.EXTENSIONS_ACTIVE = {hw['extensions_active']}]",
        f"  server    {doc.get('server', '')}",
        f"  CPUs      {doc.get('placement', '')}",
        f"  clients   {versions or DASH}",
        f"  load      1-min load average {doc.get('load_before', float('nan')):.2f} at the start"
        + (f"; other processes used {doc['others_cpu']:.0%} of one CPU during the run (approx.)"
           if "others_cpu" in doc else ""),
        f"  method    {s['rounds']} interleaved rounds of one ~{s['batch_s']:g} s batch per contender, "
        "after calibration and warm-up; median over rounds; gc on",
    ]


def report(doc: dict[str, Any]) -> str:
    lines = header(doc)
    notes = [f"{k}: {pp.CONTENDERS[k].note}" for k in doc["environment"]["versions"] if pp.CONTENDERS[k].note]
    lines += [("  notes     " if i == 0 else "            ") + note for i, note in enumerate(notes)]
    for name, result in doc.get("workloads", {}).items():
        lines += [""] + workload_table(name, result)
    if doc.get("workloads"):
        lines += ["", f"### summary: median req/s (client CPU {MU}s per request)", ""]
        lines += summary_table(doc)
        lines += ["", "targets:"]
        for what, value, threshold, met in targets(doc):
            verdict = "met" if met else "MISSED"
            lines.append(f"  {what}: {value:.2f} (target >= {threshold:.2f}) {verdict}")
    lines += ["", f"CPU {MU}s/req: this process only (time.process_time, all threads); "
              f"nginx {MU}s/req: its worker (schedstat). vs floor, vs hopwire: ratio of req/s; "
              "vs hopwire compares with hopwire of the same I/O model (sync or asyncio).",
              f"({doc.get('elapsed_s', 0):.0f} s)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds of ~0.12 s batches (~30 s)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results (every round) here")
    ap.add_argument("--workload", action="append", metavar="NAME", choices=list(pp.WORKLOADS_BY_NAME),
                    help="only these workloads (repeatable): " + ", ".join(pp.WORKLOADS_BY_NAME))
    ap.add_argument("--contender", action="append", metavar="KEY", choices=list(pp.CONTENDERS),
                    help="only these contenders (repeatable): " + ", ".join(pp.CONTENDERS))
    ap.add_argument("--rounds", type=int, help="rounds per workload (default 7, --quick 3)")
    ap.add_argument("--batch-ms", type=float, help="wall time of one batch (default 400, --quick 120)")
    ap.add_argument("--placement", choices=PLACEMENTS, default="same",
                    help="client and nginx on the same CPU (default), on two CPUs, or unpinned")
    ap.add_argument("--url", help="use this running server (http://127.0.0.1:PORT/) instead of nginx")
    args = ap.parse_args(argv)
    if args.url and not args.url.startswith("http://127.0.0.1:"):
        ap.error("--url must be http://127.0.0.1:PORT/...")
    try:
        doc = run(args.workload, args.contender, quick=args.quick, rounds=args.rounds,
                  batch_s=args.batch_ms / 1000 if args.batch_ms else None, url=args.url,
                  placement=args.placement,
                  log=lambda line: print(line, file=sys.stderr, flush=True))
    except NginxUnavailable as exc:
        print(f"cannot run the pool benchmarks: {exc}", file=sys.stderr)
        return 2
    print(report(doc))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
