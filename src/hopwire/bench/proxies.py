"""The proxy benchmark: `hopwire proxy` against nginx as a reverse proxy, one origin.

Every request is GET / answered 200 "Hello, world!" by one origin (the
benchmark nginx of `nginx.py`, or hopwire's embedded server without nginx),
along each of the routes (`ROUTES`):

- direct: the client talks to the origin (the baseline: no proxy);
- nginx-proxy: through nginx as a reverse proxy (`nginx_proxy.conf.template`:
  one worker, HTTP/1.1 upstream with kept-alive connections). The ceiling:
  a proxy in C with an event loop of its own;
- hopwire-proxy: through `python -m hopwire proxy --upstream ORIGIN`;
- hopwire-proxy-p8: the same with ``--pipeline 8`` (pipelined upstream
  connections). Not in the default routes (`DEFAULT_ROUTES`): on the 2-vCPU
  dev VM it made no difference on any workload (within the noise: the proxy
  is bound by its CPU, not by upstream round trips); `compare_proxy.py
  --route hopwire-proxy-p8` runs it.

The proxies are processes of their own (a proxy in a thread of the benchmark
would share the client's GIL, and its CPU would count as the client's); the
CPU each one spends per request is read from Linux schedstat, like the
origin's.

The client is the same for every route, and the cheapest this process can
run: the pool benchmarks' floor (raw TCP_NODELAY sockets, the request bytes
hopwire sends, httptools collecting each response and checking it is 200
"Hello, world!"), driven by one thread: a blocking loop with a clock read
around each request in `sequential` (its latencies), an epoll loop over the
connections in the others. A client in threads or in asyncio would add its
own cost to every route and blur the difference the proxies make.

Workloads (`WORKLOADS`): sequential (one connection, one request at a time:
the latency each proxy adds, median and 99th percentile), concurrent32 (32
connections, one request in flight on each, the proxies' default count of
upstream connections) and pipelined16 (one connection, 16 requests per
write: a proxy must answer them in order).

The method is the pool benchmarks': a correctness gate first (every route
must answer 200 "Hello, world!", the proxies of hopwire with a `Via` field;
nginx adds none and is not asked for one; a route that fails is reported,
not timed), then per route a calibrated batch of about `batch_s`, a warm-up,
and interleaved rounds whose order rotates. Every loop is bounded: by its
count, by a 5 s wait per read and RUN_TIMEOUT per batch, and a workload's
rounds stop when its share of `budget_s` is spent.
"""

from __future__ import annotations

import gc
import os
import selectors
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .. import __version__
from . import pool_peers as pp
from . import pools
from .environment import cpu_busy_s
from .target import HopwireProcess, Server, ServerUnavailable, place, start_server

Step = Callable[[str, int], None]

BODY = pp.BODY
TIMEOUT = pp.TIMEOUT  # seconds: a connect, or a wait for bytes, longer than this is a failure
RUN_TIMEOUT = 60.0  # seconds: a batch that takes longer has hung
READ_SIZE = 64 * 1024
UPSTREAM_CONNECTIONS = 32  # each proxy's connections to the origin (hopwire proxy's default)
START_TIMEOUT = 10.0  # seconds for `hopwire proxy` to listen (an import on a loaded machine)
STOP_TIMEOUT = 5.0
IDLE_TIMEOUT = 600  # seconds hopwire proxy keeps an idle client connection (no reconnects)
CALIBRATE_S = 0.05
MAX_BATCH = 1_000_000


Settings = pools.Settings

FULL = Settings(rounds=13, batch_s=0.7, warmup_s=0.2, budget_s=150.0)
QUICK = Settings(rounds=5, batch_s=0.25, warmup_s=0.1, budget_s=40.0)


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    connections: int
    depth: int  # requests written at once on a connection (1: one in flight)

    @property
    def in_flight(self) -> int:
        return self.connections * self.depth


WORKLOADS = (
    Workload("sequential", "one connection, one request at a time", 1, 1),
    Workload("concurrent32", "32 connections, one request in flight on each", 32, 1),
    Workload("pipelined16", "one connection, 16 pipelined requests per write", 1, 16),
)
WORKLOADS_BY_NAME = {w.name: w for w in WORKLOADS}


@dataclass(frozen=True)
class Route:
    """A way from the client to the origin."""

    key: str
    label: str
    kind: str  # "direct", "nginx" or "hopwire"
    pipeline: int = 1  # hopwire proxy's --pipeline


ROUTES = (
    Route("direct", "direct to the origin (baseline)", "direct"),
    Route("nginx-proxy", "nginx reverse proxy (the ceiling)", "nginx"),
    Route("hopwire-proxy", "hopwire proxy", "hopwire"),
    Route("hopwire-proxy-p8", "hopwire proxy --pipeline 8", "hopwire", 8),
)
ROUTES_BY_KEY = {r.key: r for r in ROUTES}
DEFAULT_ROUTES = ("direct", "nginx-proxy", "hopwire-proxy")
CEILING = "nginx-proxy"
NOT_INSTALLED = "not installed"


# -- the proxies under test ------------------------------------------------------------

class HopwireProxy(HopwireProcess):
    """`python -m hopwire proxy --upstream ORIGIN` in a child process, on a port it picks."""

    def __init__(self, upstream: str, pipeline: int = 1, connections: int = UPSTREAM_CONNECTIONS) -> None:
        self.pipeline = pipeline
        super().__init__(["proxy", "--listen", "127.0.0.1:0", "--upstream", upstream,
                          "--pipeline", str(pipeline), "--connections", str(connections),
                          "--idle-timeout", str(IDLE_TIMEOUT)],
                         "hopwire proxy", rb"proxying on (http://127\.0\.0\.1:\d+)")
        self.url += "/"

    def describe(self) -> str:
        return (f"hopwire {__version__} proxy, 1 process, --pipeline {self.pipeline}, "
                f"{UPSTREAM_CONNECTIONS} upstream connections, {self.url}")


class _Group:
    """The servers (origin and proxies) as one, for `target.place`: pinned together."""

    def __init__(self, members: list[Server]) -> None:
        self.members = members
        self.url = ""

    @property
    def pid(self) -> int:
        return self.members[0].pid

    def cpu_ns(self) -> int | None:
        return None

    def pin(self, cpus: set[int]) -> bool:
        return all([m.pin(cpus) for m in self.members])  # a list: every one is pinned, then all()

    def describe(self) -> str:
        return ", ".join(m.describe() for m in self.members)

    def stop(self) -> None:
        pass


# -- the client ------------------------------------------------------------------------

class Client:
    """`connections` sockets to `url`, `depth` requests written at once on each, one thread.

    run(n) sends n requests and reads n answers, each checked by its
    collector (200 "Hello, world!", else `pool_peers.Mismatch`); with one
    connection and depth 1 it returns each request's latency in ns.
    """

    def __init__(self, url: str, connections: int, depth: int) -> None:
        self.request = pp.request_head(url)
        self.depth = depth
        self.socks: list[socket.socket] = []
        self.sel: selectors.BaseSelector | None = None
        try:
            for _ in range(connections):
                self.socks.append(pp.floor_socket(url))
        except OSError:
            self.close()
            raise
        self.collectors = [pp.Collector() for _ in self.socks]
        if connections > 1 or depth > 1:
            self.sel = selectors.DefaultSelector()
            for i, sock in enumerate(self.socks):
                self.sel.register(sock, selectors.EVENT_READ, i)

    def last_headers(self) -> dict[bytes, bytes]:
        """The fields of the last answer on the first connection, names lowercased."""
        return {name.lower(): value for name, value in self.collectors[0].headers}

    def run(self, n: int) -> list[int] | None:
        if self.sel is None:
            return self._sequential(n)
        self._multiplexed(n)
        return None

    def _sequential(self, n: int) -> list[int]:
        sock, c = self.socks[0], self.collectors[0]
        send, recv, feed, request = sock.sendall, sock.recv, c.parser.feed_data, self.request
        clock = time.perf_counter_ns
        latencies: list[int] = []
        add = latencies.append
        deadline = time.monotonic() + RUN_TIMEOUT
        for i in range(n):
            expected = c.complete + 1
            t0 = clock()
            send(request)
            while c.complete < expected:
                data = recv(READ_SIZE)  # bounded by the socket's TIMEOUT
                if not data:
                    raise ConnectionError("the server closed the connection")
                feed(data)
            add(clock() - t0)
            if not i & 1023 and time.monotonic() > deadline:
                raise TimeoutError(f"{i} of {n} requests in {RUN_TIMEOUT} s")
        c.raise_if_bad()
        return latencies

    def _multiplexed(self, n: int) -> None:
        assert self.sel is not None
        select, socks, collectors, depth = self.sel.select, self.socks, self.collectors, self.depth
        burst = self.request * depth
        expected = [0] * len(socks)
        left = n
        busy = 0
        for i, sock in enumerate(socks):
            if left <= 0:
                break
            k = min(depth, left)
            expected[i] = collectors[i].complete + k
            sock.sendall(burst if k == depth else self.request * k)
            left -= k
            busy += 1
        deadline = time.monotonic() + RUN_TIMEOUT
        while busy:
            events = select(TIMEOUT)
            if not events:
                raise TimeoutError(f"no answer within {TIMEOUT} s ({busy} connections waiting)")
            for key, _ in events:
                i = key.data
                c = collectors[i]
                data = socks[i].recv(READ_SIZE)
                if not data:
                    raise ConnectionError("the server closed the connection")
                c.parser.feed_data(data)
                if c.complete >= expected[i]:
                    if left > 0:
                        k = min(depth, left)
                        expected[i] = c.complete + k
                        socks[i].sendall(burst if k == depth else self.request * k)
                        left -= k
                    else:
                        busy -= 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} requests took more than {RUN_TIMEOUT} s")
        for c in collectors:
            c.raise_if_bad()

    def close(self) -> None:
        if self.sel is not None:
            self.sel.close()
        for sock in self.socks:
            sock.close()


# -- timing ----------------------------------------------------------------------------

def _percentile(ordered: list[int], q: float) -> float:
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def _timed(client: Client, n: int, proxy: Server | None, origin: Server) -> dict[str, float]:
    gc.collect()
    p0 = proxy.cpu_ns() if proxy is not None else None
    o0 = origin.cpu_ns()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    latencies = client.run(n)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    p1 = proxy.cpu_ns() if proxy is not None else None
    o1 = origin.cpu_ns()
    sample = {"n": n, "wall_s": wall, "req_s": n / wall, "cpu_us": cpu / n * 1e6}
    if p0 is not None and p1 is not None:
        sample["proxy_cpu_us"] = (p1 - p0) / 1e3 / n
    if o0 is not None and o1 is not None:
        sample["origin_cpu_us"] = (o1 - o0) / 1e3 / n
    if latencies:
        latencies.sort()
        sample["p50_us"] = _percentile(latencies, 0.50) / 1e3
        sample["p99_us"] = _percentile(latencies, 0.99) / 1e3
    return sample


def _round_up(n: float, k: int) -> int:
    return max(k, min(MAX_BATCH, int(-(-n // k)) * k))


def _calibrate(client: Client, k: int, settings: Settings, proxy: Server | None, origin: Server) -> int:
    """Requests per batch for about settings.batch_s; the runs double as the warm-up."""
    n = _round_up(32, k)
    while True:
        s = _timed(client, n, proxy, origin)
        if s["wall_s"] >= CALIBRATE_S or n >= MAX_BATCH:
            break
        n = _round_up(n * min(16.0, 2 * CALIBRATE_S / max(s["wall_s"], 1e-6)), k)
    s = _timed(client, _round_up(s["req_s"] * settings.warmup_s, k), proxy, origin)
    return _round_up(s["req_s"] * settings.batch_s, k)


def _median_of(samples: list[dict[str, float]], name: str) -> float | None:
    values = [s[name] for s in samples if name in s]
    return statistics.median(values) if values else None


def _summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    rates = [s["req_s"] for s in samples]
    out: dict[str, Any] = {"req_s": statistics.median(rates), "req_s_min": min(rates),
                           "req_s_max": max(rates), "rounds": len(samples), "batch": samples[0]["n"]}
    for name in ("cpu_us", "proxy_cpu_us", "origin_cpu_us", "p50_us", "p99_us"):
        value = _median_of(samples, name)
        if value is not None:
            out[name] = value
    out["samples"] = samples
    return out


def _added(samples: dict[str, list[dict[str, float]]], key: str, name: str) -> float | None:
    """The route's latency `name` minus the direct route's, paired by round; the median."""
    mine, base = samples.get(key, []), samples.get("direct", [])
    diffs = [a[name] - b[name] for a, b in zip(mine, base) if name in a and name in b]
    return statistics.median(diffs) if diffs else None


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 200 else text[:197] + "..."


def gate(client: Client, route: Route, w: Workload) -> None:
    """A first run, checked like every later one, and the proxy's Via on the last answer."""
    client.run(2 * w.in_flight)
    if route.kind == "hopwire":
        via = client.last_headers().get(b"via", b"")
        if b"hopwire" not in via:
            raise pp.Mismatch(f"no Via naming hopwire in the answer (Via: {via!r})")


class _Live:
    """A route being timed on a workload: its client, its proxy (None: direct), its batch."""

    def __init__(self, route: Route, client: Client, proxy: Server | None) -> None:
        self.route = route
        self.client = client
        self.proxy = proxy
        self.batch = 0


def run_workload(w: Workload, routes: dict[str, tuple[str, Server | None]], failed: dict[str, str],
                 origin: Server, settings: Settings, deadline: float, step: Step = lambda label, done: None,
                 log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """One workload over the routes that run (`routes`: key -> (url, proxy process))."""
    rows: dict[str, dict[str, Any]] = {}
    live: list[_Live] = []
    rounds_run = 0
    step(f"proxy: {w.name} gate", 0)
    try:
        for route in ROUTES:
            if route.key in failed:
                detail = failed[route.key]
                rows[route.key] = ({"status": "not installed", "detail": "nginx is not installed"}
                                   if detail == NOT_INSTALLED else {"status": "failed", "detail": detail})
                continue
            if route.key not in routes:
                continue
            url, proxy = routes[route.key]
            try:
                client = Client(url, w.connections, w.depth)
            except OSError as exc:
                rows[route.key] = {"status": "failed", "detail": "connect: " + _error(exc)}
                continue
            try:
                gate(client, route, w)
            except Exception as exc:
                rows[route.key] = {"status": "failed", "detail": "gate: " + _error(exc)}
                log(f"{route.key} failed the gate on {w.name}: {_error(exc)}")
                client.close()
                continue
            live.append(_Live(route, client, proxy))
        step(f"proxy: {w.name} calibration", 1)
        for lv in list(live):
            try:
                lv.batch = _calibrate(lv.client, w.in_flight, settings, lv.proxy, origin)
            except Exception as exc:
                rows[lv.route.key] = {"status": "failed", "detail": "warm-up: " + _error(exc)}
                log(f"{lv.route.key} failed its warm-up on {w.name}: {_error(exc)}")
                live.remove(lv)
                lv.client.close()
        step(f"proxy: {w.name} round 1/{settings.rounds}", 1)
        samples: dict[str, list[dict[str, float]]] = {lv.route.key: [] for lv in live}
        for r in range(settings.rounds):
            if r and time.monotonic() > deadline:
                log(f"proxy {w.name}: time budget spent after {r} of {settings.rounds} rounds")
                break
            order = live[r % len(live):] + live[:r % len(live)] if live else []
            for lv in order:
                if lv not in live:
                    continue
                try:
                    samples[lv.route.key].append(_timed(lv.client, lv.batch, lv.proxy, origin))
                except Exception as exc:
                    rows[lv.route.key] = {"status": "failed", "detail": f"round {r + 1}: " + _error(exc)}
                    log(f"{lv.route.key} failed in round {r + 1} of {w.name}: {_error(exc)}")
                    live.remove(lv)
                    lv.client.close()
                    samples.pop(lv.route.key, None)
            rounds_run += 1
            step(f"proxy: {w.name} round {min(r + 2, settings.rounds)}/{settings.rounds}", 1)
        for lv in live:
            if samples[lv.route.key]:
                rows[lv.route.key] = {"status": "ok", **_summary(samples[lv.route.key])}
        ceiling = rows.get(CEILING, {})
        for key, row in rows.items():
            if row["status"] != "ok":
                continue
            if ceiling.get("status") == "ok":
                row["vs_ceiling"] = row["req_s"] / ceiling["req_s"]
            if key != "direct":
                for name in ("p50_us", "p99_us"):
                    added = _added(samples, key, name)
                    if added is not None:
                        row["added_" + name] = added
    finally:
        for lv in live:
            lv.client.close()
    step(f"proxy: {w.name} done", settings.rounds - rounds_run)
    return {"title": w.title, "connections": w.connections, "depth": w.depth,
            "routes": {r.key: rows[r.key] for r in ROUTES if r.key in rows}}


def steps(workloads: list[Workload], settings: Settings) -> int:
    """Progress steps of `run`: the gates, the calibrations and the rounds, per workload."""
    return len(workloads) * (settings.rounds + 2)


def run(workloads: list[Workload] | None = None, routes: list[str] | None = None, *,
        settings: Settings = FULL, server: str = "auto", placement: str = "same",
        step: Step = lambda label, done: None,
        log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Run the proxy benchmark; the results document (see `report.proxy_report`).

    `routes`: keys of ROUTES (default DEFAULT_ROUTES); "direct" is always added.

    `server`: the origin, "nginx", "embedded" or "auto" (`target.start_server`).
    The proxies are started after it, every process is stopped in any case.
    `placement` (`target.place`) places the client on one CPU, and the origin
    and the proxies together: on the client's CPU ("same") or on another ("split").
    """
    from .nginx import PROXY_TEMPLATE, nginx_binary, start_nginx

    chosen = list(WORKLOADS) if workloads is None else workloads
    keys = list(routes) if routes else list(DEFAULT_ROUTES)
    for key in keys:
        if key not in ROUTES_BY_KEY:
            raise ValueError(f"unknown route {key!r}: one of {', '.join(ROUTES_BY_KEY)}")
    keys = [r.key for r in ROUTES if r.key in keys or r.key == "direct"]  # direct: the baseline
    pools.raise_fd_limit()
    started = time.monotonic()
    busy0, own0 = cpu_busy_s(), time.process_time()
    doc: dict[str, Any] = {"settings": asdict(settings), "servers": {}}
    if hasattr(os, "getloadavg"):
        doc["load_before"] = os.getloadavg()[0]
    origin: Server | None = None
    proxies: dict[str, Server] = {}
    failed: dict[str, str] = {}
    unpin: Callable[[], None] = lambda: None
    try:
        step("proxy: starting the servers", 0)
        origin, why = start_server(server)
        doc["origin"] = origin.describe()
        if why:
            doc["origin_note"] = why
        upstream = origin.url.rstrip("/")
        for key in keys:
            route = ROUTES_BY_KEY[key]
            try:
                if route.kind == "nginx":
                    if nginx_binary() is None:
                        failed[key] = NOT_INSTALLED
                        doc["servers"][key] = "nginx is not installed: not run"
                        continue
                    port = upstream.rpartition(":")[2]
                    proxies[key] = start_nginx(template_name=PROXY_TEMPLATE, values={
                        "UPSTREAM_PORT": port, "KEEPALIVE": str(UPSTREAM_CONNECTIONS)})
                    nginx = proxies[key]
                    doc["servers"][key] = (nginx.describe().replace(", 1 worker", " reverse proxy, 1 worker")
                                           + f", keepalive {UPSTREAM_CONNECTIONS} upstream")
                elif route.kind == "hopwire":
                    proxies[key] = HopwireProxy(upstream, route.pipeline)
                    doc["servers"][key] = proxies[key].describe()
            except (ServerUnavailable, OSError) as exc:
                failed[key] = "start: " + _error(exc).splitlines()[0]
                doc["servers"][key] = f"did not start: {failed[key]}"
                log(f"{key} did not start: {_error(exc)}")
        group = _Group([origin, *proxies.values()])
        text, unpin = place(group, placement)
        doc["placement"] = text.replace("server on", "origin and proxies on")
        urls: dict[str, tuple[str, Server | None]] = {"direct": (origin.url, None)}
        for key, proxy in proxies.items():
            urls[key] = (proxy.url, proxy)
        doc["workloads"] = {}
        share = settings.budget_s / max(1, len(chosen))
        for i, w in enumerate(chosen):
            for key, proxy in proxies.items():
                if isinstance(proxy, HopwireProxy) and not proxy.alive() and key not in failed:
                    failed[key] = f"the proxy process exited{proxy.errors()}"[:300]
            wanted = {k: v for k, v in urls.items() if k in keys}
            doc["workloads"][w.name] = run_workload(w, wanted, {k: v for k, v in failed.items() if k in keys},
                                                    origin, settings, started + share * (i + 1), step, log)
        busy1 = cpu_busy_s()
        servers_s = sum((s.cpu_ns() or 0) for s in [origin, *proxies.values()]) / 1e9
        if busy0 is not None and busy1 is not None:
            others = (busy1 - busy0) - (time.process_time() - own0) - servers_s
            doc["others_cpu"] = max(0.0, others) / max(time.monotonic() - started, 1e-9)
    finally:
        unpin()
        for proxy in proxies.values():
            proxy.stop()
        if origin is not None:
            origin.stop()
    doc["routes"] = {key: ROUTES_BY_KEY[key].label for key in keys}
    doc["elapsed_s"] = time.monotonic() - started
    return doc


def hopwire_failed(doc: dict[str, Any]) -> list[str]:
    """hopwire proxy routes that failed (not started, gate, rounds): a run with these failed."""
    out = []
    for name, result in doc.get("workloads", {}).items():
        for key, row in result["routes"].items():
            if ROUTES_BY_KEY[key].kind == "hopwire" and row["status"] == "failed":
                out.append(f"{key} on {name}: {row.get('detail', '')}")
    return out
