"""The parser benchmarks: correctness gate, then interleaved timed rounds.

For each workload, every contender that passed the gate gets a batch size
from a calibration run (a loop of whole `parse(workload_bytes)` calls taking
about `batch_ms`), then `rounds` rounds in which each contender runs one
batch, the order rotating from round to round so that nobody always goes
first (a neighbour's cache or frequency effects hit everyone alike). gc is
collected before and disabled during each batch: the parsers allocate much
the same objects, and a collection landing in one contender's batch is noise.

Per round and contender, two numbers: wall time per message (the median of
these is the headline) and CPU time per message of this process (what the
parsing costs when the machine is shared: another process's time slice does
not count).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from . import parser_peers as peers
from .workloads import WORKLOADS, Workload

# Progress callback: (what runs next, steps done since the last call).
Step = Callable[[str, int], None]


@dataclass(frozen=True)
class Settings:
    rounds: int
    batch_ms: float  # wall time of one batch
    budget_s: float  # the phase stops adding rounds when this is spent (each workload its share)


FULL = Settings(rounds=21, batch_ms=40.0, budget_s=90.0)
QUICK = Settings(rounds=7, batch_ms=10.0, budget_s=20.0)


def _batch(fn: peers.ParseFn, data: bytes, n: int) -> tuple[int, int]:
    """(wall ns, CPU ns) of n calls, gc off."""
    gc.collect()
    gc.disable()
    try:
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn(data)
        t1 = time.perf_counter_ns()
        return t1 - t0, time.process_time_ns() - c0
    finally:
        gc.enable()


def _calibrate(fn: peers.ParseFn, data: bytes, batch_ns: float) -> int:
    """Calls per batch so that one batch takes about `batch_ns`."""
    for _ in range(3):  # warm up
        fn(data)
    n = 1
    while True:
        elapsed, _ = _batch(fn, data, n)
        if elapsed >= batch_ns / 5 or n >= 1 << 24:
            return max(1, round(n * batch_ns / max(elapsed, 1)))
        n *= 2 if elapsed > batch_ns / 50 else 8


def time_workload(workload: Workload, entries: list[tuple[peers.Contender, peers.ParseFn]],
                  settings: Settings, deadline: float,
                  step: Step = lambda label, done: None) -> tuple[dict[str, Any], int]:
    """Stats by contender key for the entries (which passed the gate), and the rounds run."""
    data, msgs = workload.data, workload.messages
    sizes = [_calibrate(fn, data, settings.batch_ms * 1e6) for _, fn in entries]
    step(f"parsers: {workload.name} round 1/{settings.rounds}", 1)  # the calibration
    wall: list[list[float]] = [[] for _ in entries]
    cpu: list[list[float]] = [[] for _ in entries]
    k = len(entries)
    rounds = 0
    for r in range(settings.rounds):
        if r and time.monotonic() > deadline:
            break
        for j in range(k):
            i = (r + j) % k  # rotate the order: nobody always goes first
            wall_ns, cpu_ns = _batch(entries[i][1], data, sizes[i])
            wall[i].append(wall_ns / (sizes[i] * msgs))
            cpu[i].append(cpu_ns / (sizes[i] * msgs))
        rounds += 1
        step(f"parsers: {workload.name} round {min(r + 2, settings.rounds)}/{settings.rounds}", 1)
    out: dict[str, Any] = {}
    for (contender, _), n, s, c in zip(entries, sizes, wall, cpu):
        med = statistics.median(s)
        out[contender.key] = {
            "label": contender.label,
            "median_ns": med,
            "min_ns": min(s),
            "max_ns": max(s),
            "msgs_per_s": 1e9 / med,
            "cpu_us": statistics.median(c) / 1e3,
            "calls_per_batch": n,
            "samples_ns": s,
        }
    return out, rounds


def steps(workloads: list[Workload], settings: Settings) -> int:
    """Progress steps of `run`: a calibration and the rounds, per workload."""
    return len(workloads) * (settings.rounds + 1)


def run(workloads: list[Workload] | None = None, settings: Settings = FULL,
        step: Step = lambda label, done: None,
        contenders: list[peers.Contender] | None = None) -> dict[str, Any]:
    """Gate and time every contender on every workload; the results document."""
    chosen = list(WORKLOADS) if workloads is None else workloads
    everyone = peers.contenders() if contenders is None else contenders
    available = [c for c in everyone if c.available]
    started = time.monotonic()
    gate = {c.key: {w.name: peers.check(c, w) for w in chosen} for c in available}
    base = peers.baseline(available)
    doc: dict[str, Any] = {
        "settings": asdict(settings),
        "contenders": {c.key: {"label": c.label, "version": c.version,
                               **({"skipped": c.skip_reason} if not c.available else {})}
                       for c in everyone},
        "gate": gate,
        "notes": [note for c in available for note in c.notes],
        "baseline": base.key if base else None,
        "workloads": {},
    }
    share = settings.budget_s / max(1, len(chosen))
    for i, w in enumerate(chosen):
        step(f"parsers: {w.name} calibration", 0)
        entries = [(c, c.parser_for(w)) for c in available if gate[c.key][w.name] is None]
        deadline = started + share * (i + 1)
        stats, rounds = time_workload(w, entries, settings, deadline, step) if entries else ({}, 0)
        step(f"parsers: {w.name} done", settings.rounds + 1 - rounds - (1 if entries else 0))
        baseline_ns = stats[base.key]["median_ns"] if base and base.key in stats else None
        for s in stats.values():
            s["vs_baseline"] = s["median_ns"] / baseline_ns if baseline_ns else None
        doc["workloads"][w.name] = {
            "title": w.title, "bytes": len(w.data), "messages": w.messages, "rounds": rounds,
            "baseline": base.key if base and base.key in stats else None,
            "contenders": stats,
            "excluded": {c.key: gate[c.key][w.name] for c in available
                         if gate[c.key][w.name] is not None},
        }
    doc["elapsed_s"] = time.monotonic() - started
    return doc


def hopwire_failed(doc: dict[str, Any]) -> list[str]:
    """'<contender> on <workload>: <problem>' for each hopwire twin that failed the gate."""
    return [f"{key} on {name}: {problem}" for key, by_workload in doc["gate"].items()
            if key.startswith("hopwire") for name, problem in by_workload.items() if problem]
