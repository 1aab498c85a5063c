"""The HTTP/2 benchmark: the pools over h2c against HTTP/2 peers, one nginx.

The server is the benchmark nginx with two listeners (`nginx_h2.conf.template`):
h2c with prior knowledge (every HTTP/2 contender) and HTTP/1.1 (hopwire's own
pipelining, the ratio HTTP/2 is held to), and a slow route, /slow, that nginx
proxies to hopwire's embedded server's /delay/MS (nginx cannot hold a head back
by itself; see the template). Both are processes of their own, placed like the
pool part's server (`target.place`).

Workloads:

- h2_sequential, h2_multiplexed16 (`pool_peers.H2_WORKLOADS`): the pool part's
  method (`pools.run_workload`: a checked first run, calibration, warm-up,
  interleaved rounds), with the contenders of `pool_peers.H2_CONTENDERS`. The
  client CPU per request of h2_multiplexed16 is the figure the HTTP/2 code is
  held to (hopwire's target: 15 µs; h2's state machine alone costs ~150 µs in
  memory, benches/compare_h2_connection.py).
- h2_head_of_line (`HOL_WORKLOAD`): 16 requests at once on one connection, the
  first to /slow (answered SLOW_MS later), then 15 to / (at once); each is timed
  on its own (a clock read around each task's request). Over HTTP/2 the fast
  ones do not wait for the slow one (hopwire's target: p99 under 2 ms); over
  HTTP/1.1 pipelining they must (answers come in request order: over SLOW_MS).
  Rounds alternate between the contenders (`HOL_CONTENDERS`, asyncio clients
  with `afetch`), each round a fresh set of 16 on the same connection.

The part is skipped, with the reason in the document ("skipped"), when nginx is
not installed, was built without http_v2, does not start, or the run asked for
the embedded server (it speaks HTTP/1.1 only). A peer that is not installed is
a row "not installed", as in the pool part.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from . import pool_peers as pp
from . import pools
from .environment import cpu_busy_s
from .proxies import _Group
from .target import EmbeddedProcess, ServerUnavailable, accepts, free_port, place

Step = Callable[[str, int], None]
Settings = pools.Settings

FULL = Settings(rounds=7, batch_s=0.3, warmup_s=0.2, budget_s=100.0)
QUICK = Settings(rounds=3, batch_s=0.08, warmup_s=0.05, budget_s=20.0)

TEMPLATE = "nginx_h2.conf.template"
SLOW_MS = 50  # the slow answer's delay in the head-of-line workload
HOL_FAST = 15  # fast requests behind the slow one
HOL_ROUNDS = {"full": 60, "quick": 8}  # rounds of 16 per contender (a round is ~SLOW_MS)
HOL_P99_TARGET_MS = 2.0
CPU_TARGET_US = 15.0  # hopwire's client CPU per multiplexed request
RATIO_TARGET = 0.7  # AsyncPool over HTTP/2 x16 against its own HTTP/1.1 pipelined x16

HOL_WORKLOAD = pp.Workload("h2_head_of_line", f"1 slow ({SLOW_MS} ms) + {HOL_FAST} fast GETs at once "
                           "on one connection: latency of the fast ones", 1 + HOL_FAST, True)
WORKLOADS = (*pp.H2_WORKLOADS, HOL_WORKLOAD)
WORKLOAD_NAMES = [w.name for w in WORKLOADS]
HOL_CONTENDERS = ("hopwire-h2-async", "hopwire-h2-async-uvloop", "httpx-h2-async",
                  "hopwire-h1-async-pipelined")


@dataclass(frozen=True)
class HolSettings:
    rounds: int
    budget_s: float


HOL_FULL = HolSettings(HOL_ROUNDS["full"], 30.0)
HOL_QUICK = HolSettings(HOL_ROUNDS["quick"], 8.0)


# -- the server ------------------------------------------------------------------------

def nginx_has_http2(binary: str) -> bool:
    out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10)
    return "--with-http_v2_module" in out.stdout + out.stderr


def why_not(server: str) -> str | None:
    """Why the HTTP/2 part cannot run here (None: it can)."""
    from .nginx import nginx_binary

    if server == "embedded":
        return "the HTTP/2 part needs nginx (h2c listener); the embedded server speaks HTTP/1.1 only"
    binary = nginx_binary()
    if binary is None:
        return "nginx is not installed (e.g. apt-get install nginx-light): the HTTP/2 part needs its h2c listener"
    if not nginx_has_http2(binary):
        return f"{binary} was built without http_v2_module: no h2c listener"
    return None


class H2Servers:
    """nginx (h2c and HTTP/1.1 listeners) and the slow upstream behind its /slow."""

    def __init__(self) -> None:
        from .nginx import NginxUnavailable, start_nginx

        self.slow = EmbeddedProcess()
        h2c_port = free_port()
        try:
            slow_port = self.slow.url.rstrip("/").rpartition(":")[2]
            self.nginx = start_nginx(template_name=TEMPLATE, values={
                "H2C_PORT": str(h2c_port), "SLOW_PORT": slow_port, "SLOW_MS": str(SLOW_MS)})
            if not accepts(h2c_port):
                self.nginx.stop()
                raise NginxUnavailable(f"nginx does not accept connections on its h2c port {h2c_port}")
        except (NginxUnavailable, OSError):
            self.slow.stop()
            raise
        self.h1_url = self.nginx.url
        self.h2c_url = f"http://127.0.0.1:{h2c_port}/"

    def url_for(self, key: str) -> str:
        return self.h2c_url if getattr(pp.H2_CONTENDERS[key], "protocol", "h2c") == "h2c" else self.h1_url

    def describe(self) -> str:
        return (f"nginx {self.nginx.version()}, 1 worker, h2c {self.h2c_url}, HTTP/1.1 {self.h1_url}; "
                f"/slow proxied to hopwire's embedded server {self.slow.url}delay/{SLOW_MS}")

    def stop(self) -> None:
        try:
            self.nginx.stop()
        finally:
            self.slow.stop()


# -- head of line ----------------------------------------------------------------------

def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _hol_round(c: Any, slow_url: str, fast_url: str) -> list[float]:
    """One round: the slow request's latency (ms), then the fast ones'."""
    clock = time.perf_counter_ns

    async def one(url: str) -> float:
        t0 = clock()
        status, body = await c.afetch(url)
        t = (clock() - t0) / 1e6
        if status != 200 or body != pp.BODY:
            raise pp.mismatch(status, body)
        return t

    return list(await asyncio.gather(one(slow_url), *(one(fast_url) for _ in range(HOL_FAST))))


def run_hol(keys: list[str], servers: H2Servers, hs: HolSettings, step: Step,
            log: Callable[[str], None]) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    live: list[Any] = []
    lat: dict[str, tuple[list[float], list[float]]] = {}
    multiplexed = pp.H2_WORKLOADS_BY_NAME["h2_multiplexed16"]  # one connection, 16 in flight
    step(f"http2: {HOL_WORKLOAD.name} gate", 0)
    try:
        for key in [k for k in HOL_CONTENDERS if k in keys]:
            cls = pp.H2_CONTENDERS[key]
            missing = cls.missing()
            if missing:
                rows[key] = {"status": "not installed", "detail": f"module {missing} not installed"}
                continue
            c: Any = cls(multiplexed)
            url = servers.url_for(key)
            try:
                c.setup(url)
                for _ in range(2):  # the gate, then a warm-up round
                    c._await(_hol_round(c, url + "slow", url))
            except Exception as exc:
                rows[key] = {"status": "failed", "detail": "gate: " + pools._error(exc)}
                log(f"{key} failed the gate on {HOL_WORKLOAD.name}: {pools._error(exc)}")
                pools._close(c)
                continue
            c.hol_url = url
            live.append(c)
            lat[key] = ([], [])
        step(f"http2: {HOL_WORKLOAD.name} rounds", 1)
        deadline = time.monotonic() + hs.budget_s
        rounds = 0
        for r in range(hs.rounds):
            if r and time.monotonic() > deadline:
                log(f"{HOL_WORKLOAD.name}: time budget spent after {r} of {hs.rounds} rounds")
                break
            for c in live[r % max(1, len(live)):] + live[:r % max(1, len(live))]:
                if c.key in rows:
                    continue
                try:
                    times = c._await(_hol_round(c, c.hol_url + "slow", c.hol_url))
                except Exception as exc:
                    rows[c.key] = {"status": "failed", "detail": f"round {r + 1}: " + pools._error(exc)}
                    log(f"{c.key} failed in round {r + 1} of {HOL_WORKLOAD.name}: {pools._error(exc)}")
                    continue
                lat[c.key][0].append(times[0])
                lat[c.key][1].extend(times[1:])
            rounds += 1
        for c in live:
            slow, fast = lat[c.key]
            if c.key in rows or not fast:
                continue
            fast.sort()
            rows[c.key] = {"status": "ok", "protocol": "HTTP/2" if c.protocol == "h2c" else "HTTP/1.1",
                           "rounds": len(slow), "fast_n": len(fast),
                           "slow_ms": statistics.median(slow), "fast_p50_ms": _percentile(fast, 0.50),
                           "fast_p99_ms": _percentile(fast, 0.99), "fast_max_ms": fast[-1]}
    finally:
        for c in live:
            pools._close(c)
    step(f"http2: {HOL_WORKLOAD.name} done", 1)
    return {"title": HOL_WORKLOAD.title, "slow_ms": SLOW_MS, "fast": HOL_FAST,
            "contenders": {k: rows[k] for k in HOL_CONTENDERS if k in rows}}


# -- the part --------------------------------------------------------------------------

def steps(workloads: list[pp.Workload], settings: Settings) -> int:
    """Progress steps of `run` (the throughput workloads as in pools.steps; 2 for the HOL)."""
    return sum(2 if w.name == HOL_WORKLOAD.name else settings.rounds + 2 for w in workloads)


def run(workloads: list[pp.Workload] | None = None, contenders: list[str] | None = None, *,
        settings: Settings = FULL, hol: HolSettings = HOL_FULL, server: str = "auto",
        placement: str = "same", step: Step = lambda label, done: None,
        log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Run the HTTP/2 part; the results document (see `report.http2_report`).

    `server` is the run's choice for the pool part: "embedded" skips this part
    (it needs nginx); "auto" and "nginx" both use nginx here. A part that cannot
    run returns {"skipped": reason} (and the progress steps it would have taken)."""
    chosen = list(WORKLOADS) if workloads is None else workloads
    keys = list(contenders) if contenders else list(pp.H2_CONTENDERS)
    for key in keys:
        if key not in pp.H2_CONTENDERS:
            raise ValueError(f"unknown HTTP/2 contender {key!r}: one of {', '.join(pp.H2_CONTENDERS)}")
    started = time.monotonic()
    doc: dict[str, Any] = {"settings": asdict(settings), "hol_settings": asdict(hol)}
    reason = why_not(server)
    servers: H2Servers | None = None
    if reason is None:
        step("http2: starting the server", 0)
        try:
            servers = H2Servers()
        except (ServerUnavailable, OSError) as exc:
            reason = f"nginx with h2c did not start: {str(exc).splitlines()[0] if str(exc) else exc!r}"
    if servers is None:
        assert reason is not None
        log(f"HTTP/2 part skipped: {reason}")
        step("http2: skipped", steps(chosen, settings))
        return {"skipped": reason, "elapsed_s": time.monotonic() - started}
    pools.raise_fd_limit()
    busy0, own0 = cpu_busy_s(), time.process_time()
    doc["versions"] = pools.versions(keys, pp.H2_CONTENDERS)
    doc["notes"] = {k: pp.H2_CONTENDERS[k].note for k in keys if pp.H2_CONTENDERS[k].note}
    if hasattr(os, "getloadavg"):
        doc["load_before"] = os.getloadavg()[0]
    unpin: Callable[[], None] = lambda: None
    try:
        doc["server"] = servers.describe()
        text, unpin = place(_Group([servers.nginx, servers.slow]), placement)
        doc["placement"] = text
        doc["workloads"] = {}
        timed = [w for w in chosen if w.name != HOL_WORKLOAD.name]
        share = settings.budget_s / max(1, len(timed))
        urls = {key: servers.url_for(key) for key in keys}
        for i, w in enumerate(timed):
            deadline = time.monotonic() + share
            doc["workloads"][w.name] = pools.run_workload(
                w, keys, urls, settings, deadline, servers.nginx, step, log,
                registry=pp.H2_CONTENDERS, part="http2")
            doc["workloads"][w.name].pop("floor", None)
        if any(w.name == HOL_WORKLOAD.name for w in chosen):
            doc["head_of_line"] = run_hol(keys, servers, hol, step, log)
        doc["ratios"] = ratios(doc)
        busy1 = cpu_busy_s()
        server_s = ((servers.nginx.cpu_ns() or 0) + (servers.slow.cpu_ns() or 0)) / 1e9
        if busy0 is not None and busy1 is not None:
            others = (busy1 - busy0) - (time.process_time() - own0) - server_s
            doc["others_cpu"] = max(0.0, others) / max(time.monotonic() - started, 1e-9)
    finally:
        unpin()
        servers.stop()
    doc["elapsed_s"] = time.monotonic() - started
    return doc


def _row(doc: dict[str, Any], workload: str, key: str) -> dict[str, Any] | None:
    row = doc.get("workloads", {}).get(workload, {}).get("contenders", {}).get(key)
    return row if row is not None and row.get("status") == "ok" else None


def ratios(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures the HTTP/2 code is held to, measured in this run: name, value, target, ok."""
    out: list[dict[str, Any]] = []

    def req_ratio(name: str, workload: str, a: str, b: str, target: float | None = None) -> None:
        ra, rb = _row(doc, workload, a), _row(doc, workload, b)
        if ra and rb:
            value = ra["req_s"] / rb["req_s"]
            out.append({"name": name, "value": value, "unit": "x", "target": target,
                        "ok": None if target is None else value >= target})

    for a in ("hopwire-h2-async", "hopwire-h2-async-all"):
        req_ratio(f"{a} / hopwire-h1-async-pipelined, req/s (multiplexed16)", "h2_multiplexed16", a,
                  "hopwire-h1-async-pipelined", RATIO_TARGET)
    for workload in ("h2_sequential", "h2_multiplexed16"):
        for hw, peer in (("hopwire-h2-async", "httpx-h2-async"), ("hopwire-h2-async", "niquests-async"),
                         ("hopwire-h2-sync", "httpx-h2-sync"), ("hopwire-h2-sync", "niquests-sync")):
            req_ratio(f"{hw} / {peer}, req/s ({workload.removeprefix('h2_')})", workload, hw, peer)
    for key in ("hopwire-h2-async", "hopwire-h2-async-all", "hopwire-h2-sync", "hopwire-h2-async-uvloop"):
        row = _row(doc, "h2_multiplexed16", key)
        if row:
            out.append({"name": f"{key}: client CPU per multiplexed request", "value": row["cpu_us"],
                        "unit": "us", "target": CPU_TARGET_US, "ok": row["cpu_us"] <= CPU_TARGET_US})
    for key in ("httpx-h2-async", "niquests-async"):
        row = _row(doc, "h2_multiplexed16", key)
        if row:
            out.append({"name": f"{key}: client CPU per multiplexed request", "value": row["cpu_us"],
                        "unit": "us", "target": None, "ok": None})
    hol = doc.get("head_of_line", {}).get("contenders", {})
    for key, row in hol.items():
        if row.get("status") == "ok":
            h2 = row["protocol"] == "HTTP/2"
            out.append({"name": f"{key}: head-of-line, p99 of the fast ones ({row['protocol']})",
                        "value": row["fast_p99_ms"], "unit": "ms",
                        "target": HOL_P99_TARGET_MS if h2 and key.startswith("hopwire") else None,
                        "ok": (row["fast_p99_ms"] <= HOL_P99_TARGET_MS) if h2 and key.startswith("hopwire")
                        else None})
    return out


def hopwire_failed(doc: dict[str, Any]) -> list[str]:
    """hopwire contenders that failed in the HTTP/2 part (gate, rounds): a run with these failed."""
    out = []
    for name, result in doc.get("workloads", {}).items():
        for key, row in result["contenders"].items():
            if key.startswith("hopwire") and row["status"] == "failed":
                out.append(f"{key} on {name}: {row.get('detail', '')}")
    for key, row in doc.get("head_of_line", {}).get("contenders", {}).items():
        if key.startswith("hopwire") and row["status"] == "failed":
            out.append(f"{key} on {HOL_WORKLOAD.name}: {row.get('detail', '')}")
    return out
