"""The pool benchmarks: HTTP clients against one local server, interleaved rounds.

For each workload (`pool_peers.WORKLOADS`):

1. every contender (`pool_peers.CONTENDERS`; one not installed or not
   applicable is listed as such) is set up and passes the gate: a first run
   whose responses are checked like every later one (a contender that fails
   is reported, not timed);
2. each contender's batch (requests per run, a multiple of the concurrency)
   is calibrated to about `batch_s` of wall time, and warmed up;
3. `rounds` interleaved rounds: every contender runs one batch per round, the
   order rotating so that nobody always goes first. gc is collected before
   each batch and left on during it (a client's garbage is part of its cost).

Per batch: requests per second (wall), CPU microseconds per request of this
process (`time.process_time`: the client only, all its threads; the server
is another process, whose CPU per request is measured apart).
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from . import pool_peers as pp
from .environment import cpu_busy_s
from .target import Server, place, start_server

# Progress callback: (what runs next, steps done since the last call).
Step = Callable[[str, int], None]


@dataclass(frozen=True)
class Settings:
    rounds: int
    batch_s: float  # wall time of one timed batch
    warmup_s: float  # wall time of the warm-up run (after calibration)
    budget_s: float  # a workload's rounds stop when its share of this is spent


FULL = Settings(rounds=7, batch_s=0.4, warmup_s=0.3, budget_s=210.0)
QUICK = Settings(rounds=3, batch_s=0.12, warmup_s=0.08, budget_s=45.0)
CALIBRATE_S = 0.05  # a calibration run at least this long gives the rate
MAX_BATCH = 1_000_000  # requests: a bound on any one run


def raise_fd_limit(want: int = 8192) -> None:
    # concurrent64 keeps 64 connections per contender open through a workload.
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    except (ImportError, ValueError, OSError):
        pass


def _timed(c: pp.Contender, n: int, server: Server | None) -> dict[str, float]:
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


def _calibrate(c: pp.Contender, k: int, settings: Settings, server: Server | None) -> int:
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


def _close(c: pp.Contender) -> None:
    try:
        c.close()
    except Exception:
        pass  # a client that fails to close does not change its timings


def run_workload(w: pp.Workload, keys: list[str], url: str | Mapping[str, str], settings: Settings,
                 deadline: float, server: Server | None, step: Step = lambda label, done: None,
                 log: Callable[[str], None] = lambda line: None,
                 registry: Mapping[str, type[pp.Contender]] = pp.CONTENDERS,
                 part: str = "pools") -> dict[str, Any]:
    """One workload: every contender's outcome by key (status ok / n/a / not installed / failed).

    `url`: the server's, or one per contender key (the HTTP/2 part: h2c or HTTP/1.1
    listener); `registry`: where the keys are (`pool_peers.CONTENDERS`, or H2_CONTENDERS);
    `part`: the progress label."""
    rows: dict[str, dict[str, Any]] = {}
    live: list[pp.Contender] = []
    rounds_run = 0
    step(f"{part}: {w.name} gate", 0)
    try:
        for key in keys:
            cls = registry[key]
            if w.name not in cls.workloads:
                rows[key] = {"status": "n/a"}
                continue
            missing = cls.missing()
            if missing:
                rows[key] = {"status": "not installed", "detail": f"module {missing} not installed"}
                continue
            c = cls(w)
            try:
                c.setup(url if isinstance(url, str) else url[key])
                c.run(_round_up(2 * w.concurrency, w.concurrency))  # the gate
            except Exception as exc:
                rows[key] = {"status": "failed", "detail": "gate: " + _error(exc)}
                log(f"{key} failed the gate on {w.name}: {_error(exc)}")
                _close(c)
                continue
            live.append(c)
        step(f"{part}: {w.name} calibration", 1)
        sizes: dict[str, int] = {}
        for c in list(live):
            try:
                sizes[c.key] = _calibrate(c, w.concurrency, settings, server)
            except Exception as exc:
                rows[c.key] = {"status": "failed", "detail": "warm-up: " + _error(exc)}
                log(f"{c.key} failed its warm-up on {w.name}: {_error(exc)}")
                live.remove(c)
                _close(c)
        step(f"{part}: {w.name} round 1/{settings.rounds}", 1)
        samples: dict[str, list[dict[str, float]]] = {c.key: [] for c in live}
        for r in range(settings.rounds):
            if r and time.monotonic() > deadline:
                log(f"{w.name}: time budget spent after {r} of {settings.rounds} rounds")
                break
            order = live[r % len(live):] + live[:r % len(live)] if live else []
            for c in order:
                if c not in live:
                    continue
                try:
                    samples[c.key].append(_timed(c, sizes[c.key], server))
                except Exception as exc:
                    rows[c.key] = {"status": "failed", "detail": f"round {r + 1}: " + _error(exc)}
                    log(f"{c.key} failed in round {r + 1} of {w.name}: {_error(exc)}")
                    live.remove(c)
                    _close(c)
            rounds_run += 1
            step(f"{part}: {w.name} round {min(r + 2, settings.rounds)}/{settings.rounds}", 1)
        for c in live:
            if samples[c.key]:
                rows[c.key] = {"status": "ok", **_summary(samples[c.key])}
    finally:
        for c in live:
            _close(c)
    step(f"{part}: {w.name} done", settings.rounds - rounds_run)
    return {"title": w.title, "concurrency": w.concurrency, "pipelined": w.pipelined,
            "floor": pp.FLOOR_FOR.get(w.name, pp.DEFAULT_FLOOR),
            "contenders": {key: rows[key] for key in keys if key in rows}}


def steps(workloads: list[pp.Workload], settings: Settings) -> int:
    """Progress steps of `run`: the gates, the calibrations and the rounds, per workload."""
    return len(workloads) * (settings.rounds + 2)


def versions(keys: list[str], registry: Mapping[str, type[pp.Contender]] = pp.CONTENDERS) -> dict[str, str]:
    out = {}
    for key in keys:
        cls = registry[key]
        out[key] = "not installed" if cls.missing() else cls.version()
    return out


def run(workloads: list[pp.Workload] | None = None, contenders: list[str] | None = None, *,
        settings: Settings = FULL, server: str = "auto", url: str | None = None,
        placement: str = "same", step: Step = lambda label, done: None,
        log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Run the pool benchmarks; returns the results document (see `report.pools_report`).

    `server`: "nginx", "embedded" or "auto" (see `target.start_server`), started
    here and stopped in any case; or `url`, an already running server answering
    GET with 200 "Hello, world!" (127.0.0.1 only). `placement`: CPUs of the
    client and the server (`target.place`; the calling thread gets its CPUs
    back at the end).
    """
    chosen = list(pp.WORKLOADS) if workloads is None else workloads
    keys = list(contenders) if contenders else list(pp.CONTENDERS)
    for key in keys:
        if key not in pp.CONTENDERS:
            raise ValueError(f"unknown contender {key!r}: one of {', '.join(pp.CONTENDERS)}")
    raise_fd_limit()
    started = time.monotonic()
    busy0, own0 = cpu_busy_s(), time.process_time()
    doc: dict[str, Any] = {"settings": asdict(settings), "versions": versions(keys),
                           "notes": {k: pp.CONTENDERS[k].note for k in keys if pp.CONTENDERS[k].note}}
    if hasattr(os, "getloadavg"):
        doc["load_before"] = os.getloadavg()[0]
    target: Server | None = None
    unpin: Callable[[], None] = lambda: None
    try:
        if url is None:
            step("pools: starting the server", 0)
            target, why = start_server(server)
            url = target.url
            doc["server"] = target.describe()
            if why:
                doc["server_note"] = why
            doc["placement"], unpin = place(target, placement)
        else:
            doc["server"] = url
            doc["placement"] = "free: external server"
        doc["workloads"] = {}
        share = settings.budget_s / max(1, len(chosen))
        for i, w in enumerate(chosen):
            deadline = started + share * (i + 1)
            doc["workloads"][w.name] = run_workload(w, keys, url, settings, deadline, target, step, log)
        # Other processes compete for the same CPUs: say how much they took.
        busy1 = cpu_busy_s()
        server_s = (target.cpu_ns() or 0) / 1e9 if target is not None else 0.0
        if busy0 is not None and busy1 is not None:
            others = (busy1 - busy0) - (time.process_time() - own0) - server_s
            doc["others_cpu"] = max(0.0, others) / max(time.monotonic() - started, 1e-9)
    finally:
        unpin()
        if target is not None:
            target.stop()
    doc["elapsed_s"] = time.monotonic() - started
    return doc
