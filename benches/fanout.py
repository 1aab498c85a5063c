"""Fan-out: thousands of requests at once on a pool of 10 connections, side by side.

    PYTHONPATH=src .venv/bin/python benches/fanout.py [--quick] [--rounds N] [--json FILE]
        [--contender KEY ...] [--sizes SMALL,LARGE] [--threads SMALL,LARGE] [--per-thread K]
        [--server auto|nginx|embedded] [--placement same|split|free]

The most common way to use an async pool: `asyncio.gather` over many
requests, the pool bounded. Every contender gets 10 connections to one local
server (nginx when installed, else hopwire's embedded server, on 127.0.0.1;
`hopwire.bench.target.start_server`) and is timed from the first request
made to the last answer read, every answer checked (200 "Hello, world!"):

- gathered (asyncio tasks), N = 1,000 and 10,000 requests in one
  `asyncio.gather`: `hopwire-async` (AsyncPool(max_connections_per_host=10,
  timeout=Timeout(30.0))), `aiohttp` (ClientSession(connector=
  TCPConnector(limit=10)), its pool wait and reads bounded at 30 s too), and
  `floor-asyncio` for reference (10 bare asyncio Protocols + httptools lent
  out by an asyncio.Queue: what asyncio's own tasks and futures cost); with
  uvloop installed, the three again on uvloop (keys ending in `-uvloop`);
- threads, W = 1,000 and 10,000 threads each doing K = 10 GETs (N = W * K):
  `hopwire-sync` (Pool(max_connections_per_host=10, timeout=Timeout(30.0))),
  and `floor-threads` for reference (10 raw sockets + httptools handed to the
  waiting threads in FIFO order, a lock per waiter, as hopwire's Pool does:
  what Python's threads and locks cost). The threads are started first,
  parked (not timed; their start time is reported), then released in a relay,
  each letting the next go (`Relay`: an Event set for 10,000 threads costs
  CPython a GIL convoy of 10-20 s here, before any request). When 10,000
  threads cannot be started here, the reason is printed and the pair becomes
  125 and 1,000 threads (8x).

Rounds are interleaved (every contender and size once per round, the small
size SMALL_REPEATS times as its runs are short and so the noisier, the order
rotating); the table shows the median time over the runs, req/s = N / that
time, and for each contender the time of the large N over the small one
against the ratio of N (linear scaling: about the same). Every measurement
has a hard limit (MEASURE_TIMEOUT): one that hangs is a failure row, not a
hung run. Requests that fail are counted and their errors printed.

The project's targets, printed after the table:

- 10,000 gathered requests on 10 connections at >= AIOHTTP_TARGET times
  aiohttp's req/s in the same run (on asyncio's loop; on uvloop too, against
  aiohttp on uvloop);
- 10x (or 8x) the waiters cost at most about 10x (8x) the time, in both pools
  (met when within SCALING_SLACK of the ratio of N).

Default: 3 rounds (a few minutes: 10,000 threads take tens of seconds);
--quick: 1 round.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import resource
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import _checkout  # noqa: F401  (hopwire.bench: installed, else the checkout's src/)
import hopwire  # noqa: E402
from hopwire.bench import pool_peers as pp  # noqa: E402
from hopwire.bench.environment import environment  # noqa: E402
from hopwire.bench.progress import Progress  # noqa: E402
from hopwire.bench.report import Symbols, header, markdown  # noqa: E402
from hopwire.bench.target import PLACEMENTS, SERVERS, Server, ServerUnavailable, place, start_server  # noqa: E402

CONNECTIONS = 10  # every contender's pool: 10 connections to the one server
SIZES = (1_000, 10_000)  # requests in one gather
THREADS = (1_000, 10_000)  # threads, each PER_THREAD requests
FALLBACK_THREADS = (125, 1_000)  # when THREADS[1] threads cannot be started here
PER_THREAD = 10
POOL_TIMEOUT = 30.0  # seconds: each client's pool wait, connect and read bound
MEASURE_TIMEOUT = 120.0  # seconds: a measurement that takes longer has hung
THREAD_STACK = 512 * 1024  # bytes per benchmark thread (10,000 of them)
WARMUP = 2 * CONNECTIONS  # requests (or threads) of the checked first run
ROUNDS, QUICK_ROUNDS = 3, 1
SMALL_REPEATS = 5  # runs of the small size per round (a short run is the noisier one)
AIOHTTP_TARGET = 2.0  # hopwire-async req/s / aiohttp's, 10,000 gathered
SCALING_SLACK = 1.25  # "about N ratio": time ratio <= SCALING_SLACK * N ratio
MAX_ERRORS = 5  # distinct error texts kept per measurement


class Hung(Exception):
    """A measurement did not end within MEASURE_TIMEOUT."""


class CannotStart(Exception):
    """The threads of a measurement could not all be started."""


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 200 else text[:197] + "..."


class GcClock:
    """The cyclic garbage collector's time and full (generation 2) collections while
    it is entered. With thousands of requests alive at once, every full collection
    walks all of them: a client that allocates more tracked objects per request
    triggers more of them, and its time grows faster than N."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._began = 0.0

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._tick)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._tick)

    def _tick(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began
            self.full += info["generation"] == 2


def _measurement(seconds: float, requests: int, errors: Iterable[BaseException],
                 clock: GcClock | None = None) -> dict[str, Any]:
    failures = 0
    texts: dict[str, int] = {}
    for exc in errors:
        failures += 1
        text = _error(exc)
        if text in texts or len(texts) < MAX_ERRORS:
            texts[text] = texts.get(text, 0) + 1
    out = {"seconds": seconds, "requests": requests, "failures": failures, "errors": texts}
    if clock is not None:
        out.update(gc_s=clock.seconds, gc_full=clock.full)
    return out


# -- contenders -------------------------------------------------------------------------


class Fan:
    """One client: setup(url), run(size) -> a measurement, close().

    `size` is the number of gathered requests (`unit` "tasks") or of threads
    (`unit` "threads", each doing `per_thread` requests)."""

    key: ClassVar[str]
    label: ClassVar[str]
    model: ClassVar[str]  # I/O: "asyncio", "uvloop" or "threads"
    unit: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    reference: ClassVar[bool] = False  # a floor: for reading the others, not a target

    def __init__(self, per_thread: int = PER_THREAD) -> None:
        self.per_thread = per_thread

    @classmethod
    def missing(cls) -> str | None:
        """The first required module that is not installed, or None."""
        for name in cls.requires:
            if importlib.util.find_spec(name) is None:
                return name
        return None

    def requests(self, size: int) -> int:
        return size * self.per_thread if self.unit == "threads" else size

    def setup(self, url: str) -> None:
        raise NotImplementedError

    def run(self, size: int) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class GatherFan(Fan):
    """size requests in one asyncio.gather, on a loop of its own kept across runs."""

    unit = "tasks"
    loop_name: ClassVar[str] = "asyncio"

    def setup(self, url: str) -> None:
        self.url = url
        self.loop = pp.new_loop(self.loop_name)
        self.loop.run_until_complete(asyncio.wait_for(self.aopen(), MEASURE_TIMEOUT))

    def run(self, size: int) -> dict[str, Any]:
        gc.collect()
        try:
            result: dict[str, Any] = self.loop.run_until_complete(
                asyncio.wait_for(self._gather(size), MEASURE_TIMEOUT))
        except asyncio.TimeoutError:
            raise Hung(f"{size:,} gathered requests not done within {MEASURE_TIMEOUT:g} s") from None
        return result

    async def _gather(self, n: int) -> dict[str, Any]:
        one = self.one
        with GcClock() as clock:
            t0 = time.perf_counter()
            results = await asyncio.gather(*[one() for _ in range(n)], return_exceptions=True)
            seconds = time.perf_counter() - t0
        return _measurement(seconds, n, (r for r in results if isinstance(r, BaseException)), clock)

    def close(self) -> None:
        try:
            self.loop.run_until_complete(asyncio.wait_for(self.aclose(), 10.0))
        finally:
            self.loop.close()

    # hooks
    async def aopen(self) -> None:
        raise NotImplementedError

    async def one(self) -> None:
        """One GET, checked (raises pp.Mismatch)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


class HopwireGather(GatherFan):
    key = "hopwire-async"
    label = "hopwire AsyncPool"
    model = "asyncio"
    requires = ("hopwire",)

    async def aopen(self) -> None:
        self.pool = hopwire.AsyncPool(max_connections_per_host=CONNECTIONS, keepalive_expiry=pp.KEEPALIVE,
                                      timeout=hopwire.Timeout(POOL_TIMEOUT))

    async def one(self) -> None:
        r = await self.pool.request("GET", self.url)
        if r.status != 200 or r.content != pp.BODY:
            raise pp.mismatch(r.status, r.content)

    async def aclose(self) -> None:
        await self.pool.aclose()


class AiohttpGather(GatherFan):
    key = "aiohttp"
    label = "aiohttp ClientSession"
    model = "asyncio"
    requires = ("aiohttp",)

    async def aopen(self) -> None:
        aiohttp = pp.import_peer("aiohttp")
        connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=pp.KEEPALIVE)
        # connect: aiohttp's wait for a pooled connection and the connect itself, as hopwire's
        # pool and connect timeouts; sock_read: its read timeout. No bound on the whole.
        timeout = aiohttp.ClientTimeout(total=None, connect=POOL_TIMEOUT, sock_read=POOL_TIMEOUT)
        self.session = aiohttp.ClientSession(connector=connector, timeout=timeout)

    async def one(self) -> None:
        async with self.session.get(self.url) as r:
            body = await r.read()
        if r.status != 200 or body != pp.BODY:
            raise pp.mismatch(r.status, body)

    async def aclose(self) -> None:
        await self.session.close()


class FloorGather(GatherFan):
    key = "floor-asyncio"
    label = "floor: 10 asyncio Protocols + httptools, lent by an asyncio.Queue"
    model = "asyncio"
    requires = ("httptools",)
    reference = True

    async def aopen(self) -> None:
        host, port, _ = pp.host_port(self.url)
        self.head = pp.request_head(self.url)
        self.idle: asyncio.Queue[pp.FloorProtocol] = asyncio.Queue()
        self.protocols: list[pp.FloorProtocol] = []
        for _ in range(CONNECTIONS):
            _, protocol = await self.loop.create_connection(
                partial(pp.FloorProtocol, pp.Collector()), host, port)
            self.protocols.append(protocol)
            self.idle.put_nowait(protocol)

    async def one(self) -> None:
        protocol = await self.idle.get()
        try:
            c, transport = protocol.collector, protocol.transport
            assert transport is not None
            waiter = c.waiter = self.loop.create_future()
            transport.write(self.head)
            await waiter
            status, body = c.status, c.body
        finally:
            self.idle.put_nowait(protocol)
        if status != 200 or body != pp.BODY:
            raise pp.mismatch(status, body)

    async def aclose(self) -> None:
        for protocol in self.protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        await asyncio.sleep(0)


def _on_uvloop(cls: type[GatherFan]) -> type[GatherFan]:
    """`cls` on a uvloop event loop, as a contender of its own."""
    return type(cls.__name__ + "Uvloop", (cls,), {
        "key": cls.key + "-uvloop", "label": cls.label + " on uvloop", "model": "uvloop",
        "loop_name": "uvloop", "requires": cls.requires + ("uvloop",)})


class Relay:
    """n threads started parked, then released in a relay: the first is let go, and each,
    once running, lets the next go before its own work.

    Not an Event set for all: CPython wakes every thread waiting on it at once, and each
    then waits for the GIL with a timed wait (5 ms) that it renews until its turn comes.
    On the 2-CPU dev VM, releasing 10,000 parked threads that do nothing but return took
    11-19 s that way (700,000 context switches), against 0.07 s for 1,000: a cost
    quadratic in the threads, before any request. The relay lets 10,000 go in about 1.6 s,
    a few threads wanting the GIL at a time; they reach the pool about together all the
    same (a request takes ~100 us, a relay step ~0.1 ms)."""

    def __init__(self, n: int, job: Callable[[], None], name: str = "fanout") -> None:
        self.gates = [threading.Lock() for _ in range(n)]
        for gate in self.gates:
            gate.acquire()
        self.threads: list[threading.Thread] = []
        previous = threading.stack_size(THREAD_STACK)
        try:
            for i in range(n):
                t = threading.Thread(target=self._run, args=(i, job), daemon=True, name=f"{name}-{i}")
                t.start()
                self.threads.append(t)
        except RuntimeError as exc:  # "can't start new thread"
            self.error: RuntimeError | None = exc
        else:
            self.error = None
        finally:
            threading.stack_size(previous)

    def _run(self, i: int, job: Callable[[], None]) -> None:
        self.gates[i].acquire()
        if i + 1 < len(self.threads):
            self.gates[i + 1].release()
        job()

    def go(self) -> None:
        if self.threads:
            self.gates[0].release()

    def join(self, deadline: float) -> int:
        """Wait for the threads until `deadline` (perf_counter); how many are still alive."""
        for t in self.threads:
            t.join(max(0.0, deadline - time.perf_counter()))
            if t.is_alive():
                break
        return sum(t.is_alive() for t in self.threads)


class ThreadFan(Fan):
    """size threads, each doing per_thread requests, started, then released (`Relay`)."""

    unit = "threads"
    model = "threads"

    def setup(self, url: str) -> None:
        self.url = url
        self.open()

    def run(self, size: int) -> dict[str, Any]:
        stop = threading.Event()
        errors: list[BaseException] = []
        one, k = self.one, self.per_thread

        def job() -> None:
            for _ in range(k):
                if stop.is_set():
                    return
                try:
                    one()
                except Exception as exc:
                    errors.append(exc)

        started = time.perf_counter()
        relay = Relay(size, job)
        if relay.error is not None:
            stop.set()
            relay.go()
            relay.join(time.perf_counter() + 10.0)
            raise CannotStart(f"started {len(relay.threads):,} of {size:,} threads: {relay.error}")
        start_s = time.perf_counter() - started
        gc.collect()
        with GcClock() as clock:
            t0 = time.perf_counter()
            relay.go()
            alive = relay.join(t0 + MEASURE_TIMEOUT)
            seconds = time.perf_counter() - t0
        if alive:
            stop.set()
            self.abort()  # blocked threads get an error and end
            alive = relay.join(time.perf_counter() + 10.0)
            raise Hung(f"{size:,} threads not done within {MEASURE_TIMEOUT:g} s ({alive:,} still alive)")
        out = _measurement(seconds, size * k, errors, clock)
        out["thread_start_s"] = start_s
        return out

    def close(self) -> None:
        self.abort()

    # hooks
    def open(self) -> None:
        raise NotImplementedError

    def one(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """Close the pool or the sockets (threads waiting on them raise)."""
        raise NotImplementedError


class HopwireThreads(ThreadFan):
    key = "hopwire-sync"
    label = "hopwire Pool, threads"
    requires = ("hopwire",)

    def open(self) -> None:
        self.pool = hopwire.Pool(max_connections_per_host=CONNECTIONS, keepalive_expiry=pp.KEEPALIVE,
                                 timeout=hopwire.Timeout(POOL_TIMEOUT))

    def one(self) -> None:
        r = self.pool.request("GET", self.url)
        if r.status != 200 or r.content != pp.BODY:
            raise pp.mismatch(r.status, r.content)

    def abort(self) -> None:
        self.pool.close()


class Handoff:
    """The least a FIFO pool of threads does: an idle item is taken at once, else the
    thread waits in line on a lock of its own, and a returned item is handed to the
    first in line (no barging: the thread that returns it cannot take it back).
    O(1) a wait and a wake, like hopwire's waiter queues."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.lock = threading.Lock()
        self.idle = list(items)
        self.line: deque[list[Any]] = deque()  # [lock, item handed or None]

    def get(self, timeout: float) -> Any:
        with self.lock:
            if self.idle:
                return self.idle.pop()
            waiter: list[Any] = [threading.Lock(), None]
            waiter[0].acquire()
            self.line.append(waiter)
        if not waiter[0].acquire(timeout=timeout):
            with self.lock:
                if waiter[1] is None:
                    self.line.remove(waiter)
                    raise TimeoutError(f"no item within {timeout} s")
        return waiter[1]

    def put(self, item: Any) -> None:
        with self.lock:
            if self.line:
                waiter = self.line.popleft()
                waiter[1] = item
                waiter[0].release()
            else:
                self.idle.append(item)


class FloorThreads(ThreadFan):
    key = "floor-threads"
    label = "floor: 10 sockets + httptools, handed FIFO to waiting threads"
    requires = ("httptools",)
    reference = True

    def open(self) -> None:
        self.head = pp.request_head(self.url)
        self.socks = [pp.floor_socket(self.url) for _ in range(CONNECTIONS)]
        self.idle = Handoff((sock, pp.Collector()) for sock in self.socks)

    def one(self) -> None:
        sock, c = self.idle.get(timeout=POOL_TIMEOUT)
        try:
            expected = c.complete + 1
            sock.sendall(self.head)
            while c.complete < expected:
                data = sock.recv(pp.READ_SIZE)
                if not data:
                    raise ConnectionError("the server closed the connection")
                c.parser.feed_data(data)
            status, body = c.status, c.body
        finally:
            self.idle.put((sock, c))
        if status != 200 or body != pp.BODY:
            raise pp.mismatch(status, body)

    def abort(self) -> None:
        for sock in self.socks:
            sock.close()


# In table order.
_GATHERED: tuple[type[GatherFan], ...] = (HopwireGather, AiohttpGather, FloorGather)
_ALL: tuple[type[Fan], ...] = (*_GATHERED, *(_on_uvloop(c) for c in _GATHERED), HopwireThreads, FloorThreads)
CONTENDERS: dict[str, type[Fan]] = {c.key: c for c in _ALL}


# -- threads: can this machine start them? ---------------------------------------------------


def _thread_limits() -> list[str]:
    """The limits on threads here (for the report when the large count cannot start)."""
    out = []
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
        out.append("RLIMIT_NPROC " + ("unlimited" if soft == resource.RLIM_INFINITY else f"{soft:,}"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/proc/sys/kernel/threads-max", "/proc/sys/vm/max_map_count",
                 "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"):
        try:
            out.append(f"{path} {Path(path).read_text().strip()}")
        except OSError:
            pass
    return out


def probe_threads(n: int) -> tuple[bool, str]:
    """Start n parked threads (THREAD_STACK each) and end them: (feasible, what happened)."""
    t0 = time.perf_counter()
    relay = Relay(n, lambda: None, "fanout-probe")
    took = time.perf_counter() - t0
    relay.go()
    relay.join(time.perf_counter() + 30.0)
    if relay.error is None:
        return True, f"{n:,} threads started in {took:.1f} s"
    return False, (f"only {len(relay.threads):,} of {n:,} threads could be started ({relay.error}); "
                   "limits here: " + ", ".join(_thread_limits()))


# -- the run ---------------------------------------------------------------------------------


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    times = [s["seconds"] for s in samples]
    median = statistics.median(times)
    errors: dict[str, int] = {}
    for s in samples:
        for text, count in s["errors"].items():
            if text in errors or len(errors) < MAX_ERRORS:
                errors[text] = errors.get(text, 0) + count
    out: dict[str, Any] = {
        "status": "ok", "requests": samples[0]["requests"], "seconds": median,
        "seconds_min": min(times), "seconds_max": max(times), "req_s": samples[0]["requests"] / median,
        "failures": sum(s["failures"] for s in samples), "errors": errors, "rounds": len(samples),
        "samples": samples}
    for name in ("thread_start_s", "gc_s", "gc_full"):
        values = [s[name] for s in samples if name in s]
        if values:
            out[name] = statistics.median(values)
    return out


def run(keys: Iterable[str] | None = None, *, rounds: int = ROUNDS, sizes: tuple[int, int] = SIZES,
        threads: tuple[int, int] | None = None, per_thread: int = PER_THREAD, server: str = "auto",
        url: str | None = None, placement: str = "same", progress: Progress | None = None,
        log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Run the fan-out benchmark; the results document (--json).

    `threads`: the thread counts; None: THREADS when this machine can start
    THREADS[1] threads, else FALLBACK_THREADS (the reason in "threads_note")."""
    chosen = list(keys) if keys else list(CONTENDERS)
    for key in chosen:
        if key not in CONTENDERS:
            raise ValueError(f"unknown contender {key!r}: one of {', '.join(CONTENDERS)}")
    bar = progress or Progress(1, enabled=False)
    started = time.monotonic()
    doc: dict[str, Any] = {
        "environment": environment(),
        "settings": {"rounds": rounds, "small_repeats": SMALL_REPEATS, "connections": CONNECTIONS,
                     "per_thread": per_thread,
                     "pool_timeout_s": POOL_TIMEOUT, "measure_timeout_s": MEASURE_TIMEOUT,
                     "thread_stack": THREAD_STACK},
        "versions": {name: "not installed" if importlib.util.find_spec(name) is None
                     else str(getattr(pp.import_peer(name), "__version__", "")) for name in ("aiohttp", "uvloop")},
        "contenders": {},
    }
    uses_threads = any(CONTENDERS[k].unit == "threads" and not CONTENDERS[k].missing() for k in chosen)
    if threads is None:
        threads = THREADS
        if uses_threads:
            bar.step(f"fanout: can {THREADS[1]:,} threads start here?", 0)
            ok, what = probe_threads(THREADS[1])
            doc["threads_note"] = what
            if not ok:
                threads = FALLBACK_THREADS
                log(f"{what}: using {threads[0]:,} and {threads[1]:,} threads instead")
    doc["settings"].update(sizes=list(sizes), threads=list(threads))
    target: Server | None = None
    unpin: Callable[[], None] = lambda: None
    live: list[Fan] = []
    try:
        if url is None:
            bar.step("fanout: starting the server", 0)
            target, why = start_server(server)
            url = target.url
            doc["server"] = target.describe()
            if why:
                doc["server_note"] = why
            doc["placement"], unpin = place(target, placement)
        else:
            doc["server"], doc["placement"] = url, "free: external server"
        rows: dict[str, dict[str, Any]] = doc["contenders"]
        for key in chosen:
            cls = CONTENDERS[key]
            row: dict[str, Any] = {"label": cls.label, "model": cls.model, "unit": cls.unit,
                                   "reference": cls.reference}
            rows[key] = row
            missing = cls.missing()
            if missing:
                row.update(status="not installed", detail=f"module {missing} not installed")
                continue
            bar.step(f"fanout: {key} gate", 0)
            c = cls(per_thread)
            try:
                c.setup(url)
                first = c.run(WARMUP if cls.unit == "tasks" else CONNECTIONS)  # checked first run
                if first["failures"]:
                    raise RuntimeError(f"{first['failures']} failed: {', '.join(first['errors'])}")
            except Exception as exc:
                row.update(status="failed", detail="first run: " + _error(exc))
                log(f"{key} failed its first run: {_error(exc)}")
                _close(c)
                continue
            row["status"] = "ok"
            row["sizes"] = {}
            live.append(c)
        plan = [(c, size, SMALL_REPEATS if i == 0 else 1) for c in live
                for i, size in enumerate(threads if c.unit == "threads" else sizes)]
        samples: dict[tuple[str, int], list[dict[str, Any]]] = {(c.key, size): [] for c, size, _ in plan}
        for r in range(rounds):
            shift = (r * len(plan)) // max(1, rounds)
            order = plan[shift:] + plan[:shift]
            for c, size, repeats in order:
                if c not in live:
                    continue
                bar.step(f"fanout: round {r + 1}/{rounds} {c.key} {size:,} {c.unit}", 1)
                try:
                    for _ in range(repeats):
                        samples[(c.key, size)].append(c.run(size))
                except Exception as exc:
                    row = rows[c.key]
                    row.update(status="failed", detail=f"round {r + 1}, {size:,} {c.unit}: " + _error(exc))
                    log(f"{c.key} failed in round {r + 1} ({size:,} {c.unit}): {_error(exc)}")
                    live.remove(c)
                    _close(c)
        for (key, size), got in samples.items():
            if got:
                rows[key].setdefault("sizes", {})[str(size)] = _summary(got)
    finally:
        for c in live:
            _close(c)
        unpin()
        if target is not None:
            target.stop()
        bar.close()
    doc["elapsed_s"] = time.monotonic() - started
    return doc


def _close(c: Fan) -> None:
    try:
        c.close()
    except Exception:
        pass  # a client that fails to close does not change its timings


# -- the report -------------------------------------------------------------------------------


def _row_size(row: dict[str, Any], size: int) -> dict[str, Any] | None:
    got = row.get("sizes", {}).get(str(size))
    return got if isinstance(got, dict) else None


def _pair(doc: dict[str, Any], key: str) -> tuple[int, int]:
    small, large = doc["settings"]["threads" if CONTENDERS[key].unit == "threads" else "sizes"]
    return int(small), int(large)


def scaling(doc: dict[str, Any], key: str) -> tuple[float, float] | None:
    """(time(large) / time(small), requests(large) / requests(small)), or None."""
    row = doc["contenders"].get(key, {})
    small, large = (_row_size(row, size) for size in _pair(doc, key))
    if small is None or large is None:
        return None
    return large["seconds"] / small["seconds"], large["requests"] / small["requests"]


def _aiohttp_for(key: str) -> str | None:
    if key.startswith("hopwire-async"):
        return key.replace("hopwire-async", "aiohttp")
    return None


def vs_aiohttp(doc: dict[str, Any], key: str, size: int) -> float | None:
    """req/s of `key` over aiohttp's on the same loop, same N."""
    other = _aiohttp_for(key)
    if other is None:
        return None
    a = _row_size(doc["contenders"].get(key, {}), size)
    b = _row_size(doc["contenders"].get(other, {}), size)
    return a["req_s"] / b["req_s"] if a and b else None


def table(doc: dict[str, Any], s: Symbols) -> list[str]:
    head = ["contender", "I/O", "N (requests)", "fan-out", "seconds (median)", f"spread (min{s.en_dash}max)",
            "req/s", "gc s (full)", "time ratio (large/small)", "vs aiohttp (req/s)", "failed"]
    rows: list[list[str]] = []
    for key, row in doc["contenders"].items():
        cls = CONTENDERS[key]
        if row["status"] not in ("ok", "failed") or not row.get("sizes"):
            rows.append([key, cls.model, row["status"], "", "", "", "", "", "", "", ""])
            continue
        pair = _pair(doc, key)
        scale = scaling(doc, key)
        for size in pair:
            got = _row_size(row, size)
            fan = (f"{size:,} tasks" if cls.unit == "tasks"
                   else f"{size:,} threads {s.times} {doc['settings']['per_thread']}")
            if got is None:
                rows.append([key, cls.model, "", fan, "failed" if row["status"] == "failed" else "",
                             "", "", "", "", "", ""])
                continue
            ratio = ""
            if size == pair[1] and scale is not None:
                ratio = f"{scale[0]:.1f}{s.times} (N {scale[1]:g}{s.times})"
            versus = vs_aiohttp(doc, key, size)
            rows.append([
                key, cls.model, f"{got['requests']:,}", fan, f"{got['seconds']:.3f}",
                f"{got['seconds_min']:.3f}{s.en_dash}{got['seconds_max']:.3f}", f"{got['req_s']:,.0f}",
                f"{got['gc_s']:.3f} ({got['gc_full']:g})" if "gc_s" in got else "", ratio, f"{versus:.2f}{s.times}" if versus is not None else "",
                f"{got['failures']:,}"])
    return markdown(head, rows, "<<>>>>>>>>>")


Target = tuple[str, float | None, str, bool | None]  # what, value, target text, met (None: not measured)


def targets(doc: dict[str, Any], s: Symbols) -> list[Target]:
    rows = doc["contenders"]
    out: list[Target] = []
    large = doc["settings"]["sizes"][1]
    for key in ("hopwire-async", "hopwire-async-uvloop"):
        other = _aiohttp_for(key)
        if key not in rows or other not in rows:
            continue
        value = vs_aiohttp(doc, key, large)
        fails = _failures(doc, key) + _failures(doc, other or "")
        what = f"{key} / {other} req/s, {large:,} gathered requests on {CONNECTIONS} connections"
        out.append((what, value, f">= {AIOHTTP_TARGET:.2f}",
                    None if value is None else value >= AIOHTTP_TARGET and not fails))
    for key in ("hopwire-async", "hopwire-async-uvloop", "hopwire-sync"):
        if key not in rows:
            continue
        scale = scaling(doc, key)
        small, big = _pair(doc, key)
        unit = CONTENDERS[key].unit
        what = f"{key}: time({big:,} {unit}) / time({small:,} {unit})"
        if scale is None:
            out.append((what, None, "", None))
            continue
        limit = SCALING_SLACK * scale[1]
        out.append((what, scale[0], f"about <= {scale[1]:g}{s.times}: met when <= {limit:g}{s.times}",
                    scale[0] <= limit and not _failures(doc, key)))
    return out


# The floor each hopwire contender is read against (same I/O, same loop).
FLOOR_FOR = {"hopwire-async": "floor-asyncio", "hopwire-async-uvloop": "floor-asyncio-uvloop",
             "hopwire-sync": "floor-threads"}


def _failures(doc: dict[str, Any], key: str) -> int:
    row = doc["contenders"].get(key, {})
    return sum(int(got.get("failures", 0)) for got in row.get("sizes", {}).values())


def report(doc: dict[str, Any]) -> str:
    s = Symbols()
    st = doc["settings"]
    head = header({"environment": doc["environment"], "pools": {"versions": doc["versions"]}}, s)
    lines = [f"hopwire fan-out: thousands of requests at once on {CONNECTIONS} connections"] + head[1:]
    lines += ["", f"  server    {doc.get('server', '')}"]
    if doc.get("server_note"):
        lines.append(f"            ({doc['server_note']})")
    lines += [f"  CPUs      {doc.get('placement', '')}",
              f"  method    {st['rounds']} interleaved round(s): every contender runs its large size once "
              f"and its small one {st['small_repeats']} times a round; median time; every answer checked; "
              f"{st['measure_timeout_s']:g} s limit per measurement",
              f"  pools     {CONNECTIONS} connections each; hopwire Timeout({st['pool_timeout_s']:g}), "
              f"aiohttp ClientTimeout(connect={st['pool_timeout_s']:g}, sock_read={st['pool_timeout_s']:g})",
              f"  threads   {st['threads'][0]:,} and {st['threads'][1]:,} threads {s.times} "
              f"{st['per_thread']} GETs, {st['thread_stack'] // 1024} KiB stacks, started (not timed) and "
              "parked, then released in a relay (each lets the next go)"]
    if doc.get("threads_note"):
        lines.append(f"            ({doc['threads_note']})")
    starts = [f"{key} {got['thread_start_s']:.1f} s for {int(size):,}"
              for key, row in doc["contenders"].items() for size, got in row.get("sizes", {}).items()
              if "thread_start_s" in got]
    if starts:
        lines.append(f"            starting them took (median): {', '.join(starts)}")
    lines += ["", "### fan-out: N GETs of / (200, 13-byte body, checked), all at once, 10 connections", ""]
    lines += table(doc, s)
    notes = []
    for key, row in doc["contenders"].items():
        if row.get("detail"):
            notes.append(f"  {'FAILED' if row['status'] == 'failed' else 'skipped'} {key}: {row['detail']}")
        for size, got in row.get("sizes", {}).items():
            for text, count in got.get("errors", {}).items():
                notes.append(f"  FAILED requests: {key}, {int(size):,} {row['unit']}: {count:,} {s.times} {text}")
    if notes:
        lines += [""] + notes
    lines += ["", "targets (same run):"]
    for what, value, goal, met in targets(doc, s):
        if value is None:
            lines.append(f"  {what}: not measured")
        else:
            shown = f"{value:.2f}" if "req/s" in what else f"{value:.1f}{s.times}"
            lines.append(f"  {what}: {shown} (target {goal}) {'met' if met else 'MISSED'}")
    refs = []
    for key, floor in FLOOR_FOR.items():
        mine, base = scaling(doc, key), scaling(doc, floor)
        if base is None:
            continue
        text = f"  {floor}: time ratio {base[0]:.1f}{s.times} for {base[1]:g}{s.times} the requests"
        if mine is not None:
            text += f"; {key}'s is {mine[0] / base[0]:.2f} of it"
        large = _pair(doc, key)[1]
        a = _row_size(doc["contenders"].get(key, {}), large)
        b = _row_size(doc["contenders"].get(floor, {}), large)
        if a and b:
            text += f"; at {large:,} {CONTENDERS[key].unit}, {key} has {a['req_s'] / b['req_s']:.0%} of its req/s"
        refs.append(text)
    if refs:
        lines += ["", "for reference: the floors (what the runtime itself costs, no pool logic), same run:"] + refs
    lines += ["", "time ratio: median time of the large N over the small one (linear scaling: the ratio of N); "
              "vs aiohttp: hopwire's req/s over aiohttp's on the same loop and N; gc s (full): seconds of the "
              "measurement spent in the cyclic garbage collector, and its full collections (medians): each "
              "walks every live object, all N tasks or threads included.",
              f"({doc.get('elapsed_s', 0):.0f} s)"]
    return "\n".join(lines)


# -- the command line -------------------------------------------------------------------------


def _pair_arg(text: str) -> tuple[int, int]:
    try:
        small, large = (int(x.replace("_", "")) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SMALL,LARGE (two integers), not {text!r}") from None
    if not 0 < small < large:
        raise argparse.ArgumentTypeError("expected 0 < SMALL < LARGE")
    return small, large


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_ROUNDS} round instead of {ROUNDS}")
    ap.add_argument("--rounds", type=int, help=f"rounds (default {ROUNDS}, --quick {QUICK_ROUNDS})")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results (every round) here")
    ap.add_argument("--contender", action="append", metavar="KEY", choices=list(CONTENDERS),
                    help="only these contenders (repeatable): " + ", ".join(CONTENDERS))
    ap.add_argument("--sizes", type=_pair_arg, default=SIZES, metavar="SMALL,LARGE",
                    help=f"gathered requests (default {SIZES[0]},{SIZES[1]})")
    ap.add_argument("--threads", type=_pair_arg, metavar="SMALL,LARGE",
                    help=f"threads (default {THREADS[0]},{THREADS[1]} when this machine can start "
                         f"{THREADS[1]:,}, else {FALLBACK_THREADS[0]},{FALLBACK_THREADS[1]})")
    ap.add_argument("--per-thread", type=int, default=PER_THREAD, metavar="K",
                    help=f"GETs per thread (default {PER_THREAD})")
    ap.add_argument("--server", choices=SERVERS, default="auto",
                    help="nginx, hopwire's embedded server, or auto (nginx when installed)")
    ap.add_argument("--placement", choices=PLACEMENTS, default="same",
                    help="client and server on the same CPU (default), on two CPUs, or unpinned")
    ap.add_argument("--url", help="use this running server (http://127.0.0.1:PORT/) instead")
    args = ap.parse_args(argv)
    if args.url and not args.url.startswith("http://127.0.0.1:"):
        ap.error("--url must be http://127.0.0.1:PORT/...")
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    if rounds < 1 or args.per_thread < 1:
        ap.error("--rounds and --per-thread must be at least 1")
    keys = args.contender or list(CONTENDERS)
    pairs = sum(1 for k in keys if not CONTENDERS[k].missing())
    bar = Progress(rounds * 2 * pairs)
    try:
        doc = run(keys, rounds=rounds, sizes=args.sizes, threads=args.threads, per_thread=args.per_thread,
                  server=args.server, url=args.url, placement=args.placement, progress=bar, log=bar.note)
    except ServerUnavailable as exc:
        print(f"cannot run the fan-out benchmark: {exc}", file=sys.stderr)
        return 2
    print(report(doc))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"results written to {args.json}")
    failed = [k for k, row in doc["contenders"].items() if k.startswith("hopwire") and row["status"] == "failed"]
    return 1 if failed or any(_failures(doc, k) for k in doc["contenders"] if k.startswith("hopwire")) else 0


if __name__ == "__main__":
    sys.exit(main())
