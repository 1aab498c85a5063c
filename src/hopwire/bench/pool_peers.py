"""The HTTP clients under comparison in the pool benchmarks, all with one shape.

A contender is made for one workload and used as

    c = CONTENDERS["urllib3"](workload)
    c.setup(url)      # open the pool / session / sockets (not timed)
    c.run(n)          # n GETs of `url`, shaped by the workload (timed)
    c.close()

`run(n)` checks every response: status 200 and body == b"Hello, world!", or
it raises `Mismatch`. A client that is not made to read and check its answer
is not doing the same job; the check is one comparison per response, small
next to any client's own work.

Workloads (`WORKLOADS`):

- sequential: one connection, one request after another;
- concurrent8, concurrent64: k requests in flight on k connections. asyncio
  clients: k tasks (gathered) each doing n/k requests, the pool sized to k
  connections; sync clients: k threads sharing one pool/session sized to k
  connections (http.client and the floor: one connection per thread, as they
  have no pool);
- pipelined16: one connection, 16 requests in flight. Only hopwire (one
  thread or coroutine calling `request_all` with 16 requests, on a pool of 1
  connection with pipeline_depth=16; through httpx with the hopwire transport,
  16 threads or tasks sharing the client) and
  the pipelined floor can do it; for the others it is not applicable.

The floor is the least work any Python client must do: write the request
bytes (hopwire's exact head) on a TCP_NODELAY socket, read with a blocking
recv, and parse with httptools, collecting the status, the headers and the
body. `floor-pipelined16` writes 16 requests in one sendall and parses the
16 answers. `floor-asyncio` is the same on an asyncio Protocol.

Event loops: every asyncio contender runs on a loop of its own, made by
`new_loop(cls.loop_name)`: asyncio's own (`asyncio.new_event_loop`) or
uvloop's. `hopwire-async-uvloop` and `floor-asyncio-uvloop` are
`hopwire-async` and `floor-asyncio` on uvloop (their I/O model reads
"uvloop"): compared with each other, they show what hopwire keeps of the
faster loop. uvloop is optional like the other peers: absent, those rows are
"not installed".

Every request loop is bounded: by its count n, by each client's 5 s
per-request timeout, and by RUN_TIMEOUT for a whole `run()`.

The other clients are imported with importlib (`_module`): they are
optional, and the package's type check must not depend on their stubs. One
that is not installed is reported as such by `missing()`, never an error.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import queue
import socket
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit

from .. import AsyncPool, Pool

BODY = b"Hello, world!"
TIMEOUT = 5.0  # seconds: each client's connect/read/write timeout
RUN_TIMEOUT = 120.0  # seconds: a whole run(n) that takes longer has hung
KEEPALIVE = 300.0  # seconds an idle connection is kept between rounds (no reconnects)
READ_SIZE = 64 * 1024
PIPELINE_DEPTH = 16


class Mismatch(AssertionError):
    """A response was not 200 "Hello, world!"."""


def mismatch(status: Any, body: Any) -> Mismatch:
    return Mismatch(f"expected 200 {BODY!r}, got {status!r} {bytes(body)[:60]!r}")


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    concurrency: int  # requests in flight at once
    pipelined: bool  # all of them on one connection

    def split(self, n: int) -> list[int]:
        """n requests shared by the `concurrency` workers (the first ones take the remainder)."""
        k = self.concurrency
        return [n // k + (1 if i < n % k else 0) for i in range(k)]


WORKLOADS = (
    Workload("sequential", "sequential keep-alive GETs on one connection", 1, False),
    Workload("concurrent8", "8 concurrent GETs (8 connections)", 8, False),
    Workload("concurrent64", "64 concurrent GETs (64 connections)", 64, False),
    Workload("pipelined16", "pipelined GETs, 16 in flight on one connection", PIPELINE_DEPTH, True),
)
WORKLOADS_BY_NAME = {w.name: w for w in WORKLOADS}
NOT_PIPELINED = frozenset(w.name for w in WORKLOADS if not w.pipelined)
ALL = frozenset(WORKLOADS_BY_NAME)


def import_peer(name: str) -> Any:
    """An optional client's module, typed Any (see the module docstring)."""
    return importlib.import_module(name)


def host_port(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1":
        raise ValueError(f"the benchmarks only talk to http://127.0.0.1, not {url!r}")
    return parts.hostname, parts.port or 80, parts.path or "/"


# -- event loops ---------------------------------------------------------------------

LOOPS = ("asyncio", "uvloop")


def new_loop(name: str = "asyncio") -> asyncio.AbstractEventLoop:
    """A new event loop: "asyncio" (the stdlib's default) or "uvloop" (needs uvloop installed)."""
    if name == "asyncio":
        return asyncio.new_event_loop()
    if name == "uvloop":
        loop: asyncio.AbstractEventLoop = import_peer("uvloop").new_event_loop()
        return loop
    raise ValueError(f"loop must be one of {LOOPS}, not {name!r}")


def loop_version(name: str) -> str:
    """The version of the library behind loop `name` ("" for asyncio's own)."""
    return "" if name == "asyncio" else str(getattr(import_peer(name), "__version__", ""))


# -- the two drivers: sync (threads) and asyncio (tasks) -------------------------


class Contender:
    """One client on one workload. Subclasses set the class attributes and the hooks."""

    key: ClassVar[str]
    label: ClassVar[str]
    model: ClassVar[str]  # "sync" or "asyncio"
    requires: ClassVar[tuple[str, ...]] = ()  # modules; missing -> "not installed"
    workloads: ClassVar[frozenset[str]] = NOT_PIPELINED
    note: ClassVar[str] = ""
    protocol: ClassVar[str] = "http/1.1"  # or "h2c" (the HTTP/2 part's contenders)

    def __init__(self, workload: Workload) -> None:
        if workload.name not in self.workloads:
            raise ValueError(f"{self.key} does not support {workload.name}")
        self.workload = workload
        self.k = workload.concurrency

    @classmethod
    def missing(cls) -> str | None:
        """The first required module that is not installed, or None."""
        for name in cls.requires:
            if importlib.util.find_spec(name) is None:
                return name
        return None

    @classmethod
    def version(cls) -> str:
        if not cls.requires:
            return ""
        return str(getattr(import_peer(cls.requires[0]), "__version__", ""))

    def setup(self, url: str) -> None:
        raise NotImplementedError

    def run(self, n: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _Crew:
    """k long-lived worker threads: run(job, sizes) calls job(i, sizes[i]) on thread i.

    Threads are started once (in setup), not per run: starting 64 threads would
    be timed as requests.
    """

    def __init__(self, k: int) -> None:
        self.jobs: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(k)]
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True,
                                         name=f"bench-worker-{i}") for i in range(k)]
        for t in self.threads:
            t.start()

    def _loop(self, i: int) -> None:
        jobs = self.jobs[i]
        while True:
            item = jobs.get()
            if item is None:
                return
            job, n = item
            try:
                job(i, n)
            except BaseException as exc:  # handed to the caller of run()
                self.done.put(exc)
            else:
                self.done.put(None)

    def run(self, job: Callable[[int, int], None], sizes: list[int]) -> None:
        for i, n in enumerate(sizes):
            self.jobs[i].put((job, n))
        errors = [self.done.get(timeout=RUN_TIMEOUT) for _ in sizes]
        for error in errors:
            if error is not None:
                raise error

    def stop(self) -> None:
        for q in self.jobs:
            q.put(None)
        for t in self.threads:
            t.join(TIMEOUT)


class SyncContender(Contender):
    """Blocking client: one thread when k == 1, else k worker threads."""

    model = "sync"
    crew: _Crew | None = None

    def setup(self, url: str) -> None:
        self.url = url
        self.open(url)
        if self.k > 1:
            self.crew = _Crew(self.k)

    def run(self, n: int) -> None:
        if self.crew is None:
            self.worker(0, n)
        else:
            self.crew.run(self.worker, self.workload.split(n))

    def close(self) -> None:
        if self.crew is not None:
            self.crew.stop()
        self.shut()

    # hooks
    def open(self, url: str) -> None:
        raise NotImplementedError

    def worker(self, i: int, n: int) -> None:
        """Worker i does n requests one after another."""
        raise NotImplementedError

    def shut(self) -> None:
        raise NotImplementedError


class AsyncContender(Contender):
    """asyncio client on its own event loop, kept across runs (connections live in it).

    `loop_name`: the kind of loop (`new_loop`); a uvloop subclass also sets
    `model` to "uvloop" and lists "uvloop" in `requires`."""

    model = "asyncio"
    loop_name: ClassVar[str] = "asyncio"

    def setup(self, url: str) -> None:
        self.url = url
        self.loop = new_loop(self.loop_name)
        self._await(self.aopen(url))

    def _await(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, RUN_TIMEOUT))

    def run(self, n: int) -> None:
        if self.k == 1:
            self._await(self.aworker(0, n))
        else:
            self._await(self._gather(n))

    async def _gather(self, n: int) -> None:
        await asyncio.gather(*(self.aworker(i, m) for i, m in enumerate(self.workload.split(n))))

    def close(self) -> None:
        try:
            self._await(self.aclose())
        finally:
            self.loop.close()

    # hooks
    async def aopen(self, url: str) -> None:
        raise NotImplementedError

    async def aworker(self, i: int, n: int) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


# -- hopwire ------------------------------------------------------------------------


def _hopwire_options(workload: Workload) -> dict[str, Any]:
    if workload.pipelined:  # one connection, 16 in flight on it
        return dict(max_connections=1, max_connections_per_host=1, pipeline_depth=PIPELINE_DEPTH)
    k = workload.concurrency
    return dict(max_connections=k, max_connections_per_host=k, pipeline_depth=1)


class HopwireSync(SyncContender):
    key = "hopwire-sync"
    label = "hopwire Pool"
    requires = ("hopwire",)
    workloads = ALL
    note = "in pipelined16, one thread pipelines with Pool.request_all, 16 requests a call"

    def setup(self, url: str) -> None:
        if self.workload.pipelined:  # one thread: request_all keeps 16 in flight
            self.url = url
            self.open(url)
        else:
            super().setup(url)

    def run(self, n: int) -> None:
        if not self.workload.pipelined:
            super().run(n)
            return
        batch = [("GET", self.url)] * PIPELINE_DEPTH
        for _ in range(n // PIPELINE_DEPTH):
            for r in self.pool.request_all(batch):
                if isinstance(r, Exception) or r.status != 200 or r.content != BODY:
                    raise mismatch(getattr(r, "status", r), getattr(r, "content", b""))

    def open(self, url: str) -> None:
        self.pool = Pool(keepalive_expiry=KEEPALIVE, timeout=TIMEOUT,
                                 **_hopwire_options(self.workload))

    def worker(self, i: int, n: int) -> None:
        request, url = self.pool.request, self.url
        for _ in range(n):
            r = request("GET", url)
            if r.status != 200 or r.content != BODY:
                raise mismatch(r.status, r.content)

    def shut(self) -> None:
        self.pool.close()


class HopwireAsync(AsyncContender):
    key = "hopwire-async"
    label = "hopwire AsyncPool"
    requires: ClassVar[tuple[str, ...]] = ("hopwire",)
    workloads = ALL
    note = "in pipelined16, one coroutine pipelines with AsyncPool.request_all, 16 requests a call"

    def run(self, n: int) -> None:
        if self.workload.pipelined:
            self._await(self._pipelined(n))
        else:
            super().run(n)

    async def _pipelined(self, n: int) -> None:
        batch = [("GET", self.url)] * PIPELINE_DEPTH
        for _ in range(n // PIPELINE_DEPTH):
            for r in await self.pool.request_all(batch):
                if isinstance(r, Exception) or r.status != 200 or r.content != BODY:
                    raise mismatch(getattr(r, "status", r), getattr(r, "content", b""))

    async def aopen(self, url: str) -> None:
        self.pool = AsyncPool(keepalive_expiry=KEEPALIVE, timeout=TIMEOUT,
                                      **_hopwire_options(self.workload))

    async def aworker(self, i: int, n: int) -> None:
        request, url = self.pool.request, self.url
        for _ in range(n):
            r = await request("GET", url)
            if r.status != 200 or r.content != BODY:
                raise mismatch(r.status, r.content)

    async def aclose(self) -> None:
        await self.pool.aclose()


# -- other clients --------------------------------------------------------------------


class Urllib3(SyncContender):
    key = "urllib3"
    label = "urllib3 HTTPConnectionPool"
    requires = ("urllib3",)
    note = "HTTPConnectionPool.request (its fastest public path; PoolManager adds a lookup)"

    def open(self, url: str) -> None:
        urllib3 = import_peer("urllib3")
        host, port, self.path = host_port(url)
        self.pool = urllib3.HTTPConnectionPool(host, port, maxsize=self.k, block=True,
                                               timeout=urllib3.Timeout(TIMEOUT), retries=False)

    def worker(self, i: int, n: int) -> None:
        request, path = self.pool.request, self.path
        for _ in range(n):
            r = request("GET", path)
            if r.status != 200 or r.data != BODY:
                raise mismatch(r.status, r.data)

    def shut(self) -> None:
        self.pool.close()


class Requests(SyncContender):
    key = "requests"
    label = "requests Session"
    requires = ("requests",)

    def open(self, url: str) -> None:
        requests = import_peer("requests")
        self.session = requests.Session()
        adapter = import_peer("requests.adapters").HTTPAdapter(pool_connections=1, pool_maxsize=self.k,
                                                pool_block=True, max_retries=0)
        self.session.mount("http://", adapter)

    def worker(self, i: int, n: int) -> None:
        get, url = self.session.get, self.url
        for _ in range(n):
            r = get(url, timeout=TIMEOUT)
            if r.status_code != 200 or r.content != BODY:
                raise mismatch(r.status_code, r.content)

    def shut(self) -> None:
        self.session.close()


def _httpx_limits(k: int) -> Any:
    return import_peer("httpx").Limits(max_connections=k, max_keepalive_connections=k, keepalive_expiry=KEEPALIVE)


class HttpxSync(SyncContender):
    key = "httpx-sync"
    label = "httpx Client"
    requires = ("httpx",)

    def open(self, url: str) -> None:
        self.client = import_peer("httpx").Client(limits=_httpx_limits(self.k), timeout=TIMEOUT)

    def worker(self, i: int, n: int) -> None:
        get, url = self.client.get, self.url
        for _ in range(n):
            r = get(url)
            if r.status_code != 200 or r.content != BODY:
                raise mismatch(r.status_code, r.content)

    def shut(self) -> None:
        self.client.close()


class HttpxAsync(AsyncContender):
    key = "httpx-async"
    label = "httpx AsyncClient"
    requires = ("httpx",)

    async def aopen(self, url: str) -> None:
        self.client = import_peer("httpx").AsyncClient(http1=True, http2=False, limits=_httpx_limits(self.k),
                                        timeout=TIMEOUT)

    async def aworker(self, i: int, n: int) -> None:
        get, url = self.client.get, self.url
        for _ in range(n):
            r = await get(url)
            if r.status_code != 200 or r.content != BODY:
                raise mismatch(r.status_code, r.content)

    async def aclose(self) -> None:
        await self.client.aclose()


def _httpx_hopwire_transport(name: str, workload: Workload) -> Any:
    """hopwire.httpx's `name` transport with the pool hopwire gets for `workload`."""
    options = _hopwire_options(workload)
    k = options["max_connections"]
    limits = import_peer("httpx").Limits(max_connections=k, max_keepalive_connections=k, keepalive_expiry=KEEPALIVE)
    return getattr(import_peer("hopwire.httpx"), name)(
        limits=limits, max_connections_per_host=options["max_connections_per_host"],
        pipeline_depth=options["pipeline_depth"])


class HttpxHopwireSync(HttpxSync):
    key = "httpx-hopwire"
    label = "httpx Client + hopwire transport"
    workloads = ALL
    note = "hopwire.httpx.HTTPTransport; in pipelined16, 16 threads share 1 connection (pipeline_depth=16)"

    def open(self, url: str) -> None:
        transport = _httpx_hopwire_transport("HTTPTransport", self.workload)
        self.client = import_peer("httpx").Client(transport=transport, timeout=TIMEOUT)


class HttpxHopwireAsync(HttpxAsync):
    key = "httpx-hopwire-async"
    label = "httpx AsyncClient + hopwire transport"
    workloads = ALL
    note = "hopwire.httpx.AsyncHTTPTransport; in pipelined16, 16 tasks share 1 connection (pipeline_depth=16)"

    async def aopen(self, url: str) -> None:
        transport = _httpx_hopwire_transport("AsyncHTTPTransport", self.workload)
        self.client = import_peer("httpx").AsyncClient(transport=transport, timeout=TIMEOUT)


class Aiohttp(AsyncContender):
    key = "aiohttp"
    label = "aiohttp ClientSession"
    requires = ("aiohttp",)

    async def aopen(self, url: str) -> None:
        aiohttp = import_peer("aiohttp")
        connector = aiohttp.TCPConnector(limit=self.k, limit_per_host=self.k,
                                         keepalive_timeout=KEEPALIVE)
        self.session = aiohttp.ClientSession(connector=connector,
                                             timeout=aiohttp.ClientTimeout(total=TIMEOUT))

    async def aworker(self, i: int, n: int) -> None:
        get, url = self.session.get, self.url
        for _ in range(n):
            async with get(url) as r:
                body = await r.read()
            if r.status != 200 or body != BODY:
                raise mismatch(r.status, body)

    async def aclose(self) -> None:
        await self.session.close()


class HttpClient(SyncContender):
    key = "http.client"
    label = "http.client"
    requires = ("http.client",)
    note = "one HTTPConnection per thread (it has no pool)"

    @classmethod
    def version(cls) -> str:
        return "stdlib"

    def open(self, url: str) -> None:
        host, port, self.path = host_port(url)
        connection = import_peer("http.client").HTTPConnection
        self.conns = [connection(host, port, timeout=TIMEOUT) for _ in range(self.k)]

    def worker(self, i: int, n: int) -> None:
        conn, path = self.conns[i], self.path
        for _ in range(n):
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200 or body != BODY:
                raise mismatch(r.status, body)

    def shut(self) -> None:
        for conn in self.conns:
            conn.close()


# -- the floor: raw sockets + httptools ------------------------------------------------


class Collector:
    """httptools callbacks: status, headers and body of each response, checked at its end.

    The check runs in on_message_complete and only counts failures (an
    exception raised in a callback would come back wrapped by httptools).
    """

    __slots__ = ("parser", "status", "headers", "body", "complete", "bad", "last_bad", "waiter")

    def __init__(self) -> None:
        self.parser = import_peer("httptools").HttpResponseParser(self)
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.complete = 0  # responses completed
        self.bad = 0  # of which not 200 "Hello, world!"
        self.last_bad: tuple[int, bytes] | None = None
        self.waiter: asyncio.Future[None] | None = None  # floor-asyncio only

    def on_message_begin(self) -> None:
        self.headers = []
        self.body = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body = body if not self.body else self.body + body

    def on_message_complete(self) -> None:
        self.complete += 1
        if self.status != 200 or self.body != BODY:
            self.bad += 1
            self.last_bad = (self.status, self.body)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def raise_if_bad(self) -> None:
        if self.bad:
            assert self.last_bad is not None
            raise mismatch(*self.last_bad)


def request_head(url: str) -> bytes:
    host, port, path = host_port(url)
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("ascii")


def floor_socket(url: str) -> socket.socket:
    host, port, _ = host_port(url)
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Floor(SyncContender):
    key = "floor"
    label = "floor: socket + httptools"
    requires = ("httptools",)
    note = "one socket per thread, the request bytes hopwire sends, httptools collecting status/headers/body"

    def open(self, url: str) -> None:
        self.request = request_head(url)
        self.socks = [floor_socket(url) for _ in range(self.k)]
        self.collectors = [Collector() for _ in range(self.k)]

    def worker(self, i: int, n: int) -> None:
        sock, c = self.socks[i], self.collectors[i]
        send, recv, feed, request = sock.sendall, sock.recv, c.parser.feed_data, self.request
        for _ in range(n):
            expected = c.complete + 1
            send(request)
            while c.complete < expected:
                data = recv(READ_SIZE)
                if not data:
                    raise ConnectionError("the server closed the connection")
                feed(data)
        c.raise_if_bad()

    def shut(self) -> None:
        for sock in self.socks:
            sock.close()


class FloorPipelined(SyncContender):
    key = "floor-pipelined16"
    label = "floor: socket + httptools, 16 per sendall"
    requires = ("httptools",)
    workloads = frozenset(["pipelined16"])

    def __init__(self, workload: Workload) -> None:
        super().__init__(workload)
        self.k = 1  # one thread, one connection: the depth is in the writes

    def open(self, url: str) -> None:
        self.request = request_head(url)
        self.sock = floor_socket(url)
        self.collector = Collector()

    def worker(self, i: int, n: int) -> None:
        sock, c = self.sock, self.collector
        send, recv, feed = sock.sendall, sock.recv, c.parser.feed_data
        burst = self.request * PIPELINE_DEPTH
        left = n
        while left > 0:
            depth = min(left, PIPELINE_DEPTH)
            expected = c.complete + depth
            send(burst if depth == PIPELINE_DEPTH else self.request * depth)
            while c.complete < expected:
                data = recv(READ_SIZE)
                if not data:
                    raise ConnectionError("the server closed the connection")
                feed(data)
            left -= depth
        c.raise_if_bad()

    def shut(self) -> None:
        self.sock.close()


class FloorProtocol(asyncio.Protocol):
    def __init__(self, collector: Collector) -> None:
        self.feed = collector.parser.feed_data
        self.transport: asyncio.Transport | None = None
        self.collector = collector

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's TCPTransport does not derive from asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.feed(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        waiter = self.collector.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError(f"the connection was lost: {exc}"))


class FloorAsync(AsyncContender):
    key = "floor-asyncio"
    label = "floor: asyncio Protocol + httptools"
    requires: ClassVar[tuple[str, ...]] = ("httptools",)

    async def aopen(self, url: str) -> None:
        host, port, _ = host_port(url)
        self.request = request_head(url)
        self.protocols: list[FloorProtocol] = []
        for _ in range(self.k):
            collector = Collector()
            _, protocol = await self.loop.create_connection(partial(FloorProtocol, collector), host, port)
            self.protocols.append(protocol)

    async def aworker(self, i: int, n: int) -> None:
        protocol = self.protocols[i]
        c, transport, request = protocol.collector, protocol.transport, self.request
        assert transport is not None
        new_future = self.loop.create_future
        for _ in range(n):
            waiter = c.waiter = new_future()
            transport.write(request)
            await waiter  # bounded by run()'s RUN_TIMEOUT: no timer per request, the least work
        c.raise_if_bad()

    async def aclose(self) -> None:
        for protocol in self.protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        await asyncio.sleep(0)


# -- on uvloop ---------------------------------------------------------------------------


class HopwireAsyncUvloop(HopwireAsync):
    key = "hopwire-async-uvloop"
    label = "hopwire AsyncPool on uvloop"
    model = "uvloop"
    loop_name = "uvloop"
    requires: ClassVar[tuple[str, ...]] = ("hopwire", "uvloop")
    note = "hopwire-async on a uvloop event loop (uvloop.new_event_loop)"

    @classmethod
    def version(cls) -> str:
        return loop_version("uvloop")


class FloorAsyncUvloop(FloorAsync):
    key = "floor-asyncio-uvloop"
    label = "floor: asyncio Protocol + httptools on uvloop"
    model = "uvloop"
    loop_name = "uvloop"
    requires: ClassVar[tuple[str, ...]] = ("httptools", "uvloop")
    note = "floor-asyncio on a uvloop event loop"

    @classmethod
    def version(cls) -> str:
        return loop_version("uvloop")


# In table order: hopwire first, then the others, the floors last.
CONTENDERS: dict[str, type[Contender]] = {c.key: c for c in (
    HopwireSync, HopwireAsync, HopwireAsyncUvloop, Urllib3, Requests, HttpxSync, HttpxAsync,
    HttpxHopwireSync, HttpxHopwireAsync, Aiohttp, HttpClient,
    Floor, FloorAsync, FloorAsyncUvloop, FloorPipelined,
)}
# The hopwire contender each I/O model is compared with ("vs hopwire" in the tables).
HOPWIRE_FOR = {"sync": "hopwire-sync", "asyncio": "hopwire-async", "uvloop": "hopwire-async-uvloop"}
FLOOR_FOR = {"pipelined16": "floor-pipelined16"}  # the floor each workload is compared with
DEFAULT_FLOOR = "floor"


# -- HTTP/2 (the HTTP/2 part: http2.py) ------------------------------------------------
#
# The same shape, on a server (nginx_h2.conf.template) with two listeners: h2c with
# prior knowledge, and HTTP/1.1 for hopwire's own pipelining. A contender's
# `protocol` says which one it talks to ("h2c" or "http/1.1"); each opens one
# connection and checks in setup that its first answer came over the protocol it
# claims (a silent fallback to HTTP/1.1 would be timed as HTTP/2).
#
# Workloads (`H2_WORKLOADS`): h2_sequential (one request at a time) and
# h2_multiplexed16 (16 in flight on one connection: 16 streams, or 16 pipelined
# HTTP/1.1 requests for `hopwire-h1-async-pipelined`, the ratio HTTP/2 is held to).
# How each client keeps 16 in flight is its own public way: 16 gathered tasks on one
# pool (hopwire's AsyncPool, httpx's AsyncClient), 16 threads sharing one client
# (httpx's Client), `request_all` (hopwire: `-all` rows and `Pool`), 16 lazy
# responses then `gather()` (niquests, multiplexed=True).
#
# `afetch(url)` (asyncio contenders): one GET of any URL of the server, for the
# head-of-line workload (http2.py), which times each request of 16 on its own.

H2_WORKLOADS = (
    Workload("h2_sequential", "sequential GETs on one HTTP/2 connection (h2c)", 1, False),
    Workload("h2_multiplexed16", "16 GETs in flight on one connection (16 HTTP/2 streams; "
             "HTTP/1.1: 16 pipelined)", PIPELINE_DEPTH, True),
)
H2_WORKLOADS_BY_NAME = {w.name: w for w in H2_WORKLOADS}
H2_ALL = frozenset(H2_WORKLOADS_BY_NAME)
MULTIPLEXED = frozenset(["h2_multiplexed16"])


def check_protocol(key: str, got: Any, want: Any) -> None:
    if got != want:
        raise Mismatch(f"{key}: answered over {got!r}, not {want!r}")


class _HopwireH2Async(AsyncContender):
    requires: ClassVar[tuple[str, ...]] = ("hopwire",)
    protocol: ClassVar[str] = "h2c"
    http2: ClassVar[Any] = "prior-knowledge"

    def run(self, n: int) -> None:
        if self.workload.pipelined and self.all_at_once:
            self._await(self._all(n))
        else:
            super().run(n)

    all_at_once: ClassVar[bool] = False

    async def _all(self, n: int) -> None:
        batch = [("GET", self.url)] * PIPELINE_DEPTH
        for _ in range(n // PIPELINE_DEPTH):
            for r in await self.pool.request_all(batch):
                if isinstance(r, Exception) or r.status != 200 or r.content != BODY:
                    raise mismatch(getattr(r, "status", r), getattr(r, "content", b""))

    async def aopen(self, url: str) -> None:
        depth = PIPELINE_DEPTH if self.protocol != "h2c" else 1
        self.pool = AsyncPool(keepalive_expiry=KEEPALIVE, timeout=TIMEOUT, http2=self.http2,
                              pipeline_depth=depth, max_connections=1, max_connections_per_host=1)
        r = await self.pool.request("GET", url)
        check_protocol(self.key, r.http_version, "HTTP/2" if self.protocol == "h2c" else "HTTP/1.1")

    async def aworker(self, i: int, n: int) -> None:
        request, url = self.pool.request, self.url
        for _ in range(n):
            r = await request("GET", url)
            if r.status != 200 or r.content != BODY:
                raise mismatch(r.status, r.content)

    async def afetch(self, url: str) -> tuple[int, bytes]:
        r = await self.pool.request("GET", url)
        return r.status, r.content

    async def aclose(self) -> None:
        await self.pool.aclose()


class HopwireH2Async(_HopwireH2Async):
    key = "hopwire-h2-async"
    label = "hopwire AsyncPool, HTTP/2"
    workloads = H2_ALL
    note = "AsyncPool(http2='prior-knowledge'); in h2_multiplexed16, 16 gathered tasks share 1 connection"


class HopwireH2AsyncAll(_HopwireH2Async):
    key = "hopwire-h2-async-all"
    label = "hopwire AsyncPool, HTTP/2, request_all"
    workloads = MULTIPLEXED
    all_at_once = True
    note = "one coroutine: AsyncPool.request_all, 16 requests a call, 16 streams on 1 connection"


class HopwireH2AsyncUvloop(HopwireH2Async):
    key = "hopwire-h2-async-uvloop"
    label = "hopwire AsyncPool, HTTP/2, on uvloop"
    model = "uvloop"
    loop_name = "uvloop"
    requires: ClassVar[tuple[str, ...]] = ("hopwire", "uvloop")
    note = "hopwire-h2-async on a uvloop event loop"

    @classmethod
    def version(cls) -> str:
        return loop_version("uvloop")


class HopwireH1AsyncPipelined(_HopwireH2Async):
    key = "hopwire-h1-async-pipelined"
    label = "hopwire AsyncPool, HTTP/1.1 pipelined, request_all"
    protocol = "http/1.1"
    http2 = False
    workloads = MULTIPLEXED
    all_at_once = True
    note = ("the HTTP/1.1 listener: AsyncPool.request_all, 16 pipelined on 1 connection "
            "(pipeline_depth=16; the pool part's pipelined16)")


class HopwireH2Sync(SyncContender):
    key = "hopwire-h2-sync"
    label = "hopwire Pool, HTTP/2"
    requires = ("hopwire",)
    workloads = H2_ALL
    protocol: ClassVar[str] = "h2c"
    note = "Pool(http2='prior-knowledge'); in h2_multiplexed16, one thread: Pool.request_all, 16 a call"

    def setup(self, url: str) -> None:
        self.url = url
        self.open(url)  # one thread in both workloads: request_all keeps 16 in flight

    def run(self, n: int) -> None:
        if not self.workload.pipelined:
            self.worker(0, n)
            return
        batch = [("GET", self.url)] * PIPELINE_DEPTH
        for _ in range(n // PIPELINE_DEPTH):
            for r in self.pool.request_all(batch):
                if isinstance(r, Exception) or r.status != 200 or r.content != BODY:
                    raise mismatch(getattr(r, "status", r), getattr(r, "content", b""))

    def open(self, url: str) -> None:
        self.pool = Pool(keepalive_expiry=KEEPALIVE, timeout=TIMEOUT, http2="prior-knowledge",
                         max_connections=1, max_connections_per_host=1)
        check_protocol(self.key, self.pool.request("GET", url).http_version, "HTTP/2")

    def worker(self, i: int, n: int) -> None:
        request, url = self.pool.request, self.url
        for _ in range(n):
            r = request("GET", url)
            if r.status != 200 or r.content != BODY:
                raise mismatch(r.status, r.content)

    def shut(self) -> None:
        self.pool.close()


def _httpx_h2_options() -> dict[str, Any]:
    httpx = import_peer("httpx")
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE)
    return dict(http1=False, http2=True, limits=limits, timeout=TIMEOUT)


class HttpxH2Async(AsyncContender):
    key = "httpx-h2-async"
    label = "httpx AsyncClient, HTTP/2"
    requires: ClassVar[tuple[str, ...]] = ("httpx", "h2")
    workloads = H2_ALL
    protocol: ClassVar[str] = "h2c"
    note = "AsyncClient(http1=False, http2=True): h2c prior knowledge (h2); 16 gathered tasks, 1 connection"

    async def aopen(self, url: str) -> None:
        self.client = import_peer("httpx").AsyncClient(**_httpx_h2_options())
        check_protocol(self.key, (await self.client.get(url)).http_version, "HTTP/2")

    async def aworker(self, i: int, n: int) -> None:
        get, url = self.client.get, self.url
        for _ in range(n):
            r = await get(url)
            if r.status_code != 200 or r.content != BODY:
                raise mismatch(r.status_code, r.content)

    async def afetch(self, url: str) -> tuple[int, bytes]:
        r = await self.client.get(url)
        return r.status_code, r.content

    async def aclose(self) -> None:
        await self.client.aclose()


class HttpxH2Sync(SyncContender):
    key = "httpx-h2-sync"
    label = "httpx Client, HTTP/2"
    requires = ("httpx", "h2")
    workloads = H2_ALL
    protocol: ClassVar[str] = "h2c"
    note = "Client(http1=False, http2=True); in h2_multiplexed16, 16 threads share 1 connection"

    def open(self, url: str) -> None:
        self.client = import_peer("httpx").Client(**_httpx_h2_options())
        check_protocol(self.key, self.client.get(url).http_version, "HTTP/2")

    def worker(self, i: int, n: int) -> None:
        get, url = self.client.get, self.url
        for _ in range(n):
            r = get(url)
            if r.status_code != 200 or r.content != BODY:
                raise mismatch(r.status_code, r.content)

    def shut(self) -> None:
        self.client.close()


def _niquests_options(multiplexed: bool) -> dict[str, Any]:
    return dict(disable_http1=True, multiplexed=multiplexed, pool_connections=1, pool_maxsize=1,
                retries=False, timeout=TIMEOUT, keepalive_delay=KEEPALIVE, keepalive_idle_window=KEEPALIVE)


class NiquestsAsync(AsyncContender):
    key = "niquests-async"
    label = "niquests AsyncSession, HTTP/2"
    requires: ClassVar[tuple[str, ...]] = ("niquests",)
    workloads = H2_ALL
    protocol: ClassVar[str] = "h2c"
    note = ("AsyncSession(disable_http1=True): h2c prior knowledge; in h2_multiplexed16, "
            "multiplexed=True: 16 lazy responses, then gather()")

    def run(self, n: int) -> None:
        if self.workload.pipelined:
            self._await(self._lazy(n))
        else:
            self._await(self.aworker(0, n))

    async def _lazy(self, n: int) -> None:
        get, url, gather = self.session.get, self.url, self.session.gather
        for _ in range(n // PIPELINE_DEPTH):
            rs = [await get(url) for _ in range(PIPELINE_DEPTH)]
            await gather()
            for r in rs:
                if r.status_code != 200 or r.content != BODY:
                    raise mismatch(r.status_code, r.content)

    async def aopen(self, url: str) -> None:
        niquests = import_peer("niquests")
        self.session = niquests.AsyncSession(**_niquests_options(self.workload.pipelined))
        r = await self.session.get(url)
        if self.workload.pipelined:
            await self.session.gather()
        check_protocol(self.key, r.http_version, 20)

    async def aworker(self, i: int, n: int) -> None:
        get, url = self.session.get, self.url
        for _ in range(n):
            r = await get(url)
            if r.status_code != 200 or r.content != BODY:
                raise mismatch(r.status_code, r.content)

    async def aclose(self) -> None:
        await self.session.close()


class NiquestsSync(SyncContender):
    key = "niquests-sync"
    label = "niquests Session, HTTP/2"
    requires = ("niquests",)
    workloads = H2_ALL
    protocol: ClassVar[str] = "h2c"
    note = ("Session(disable_http1=True): h2c prior knowledge; in h2_multiplexed16, one thread, "
            "multiplexed=True: 16 lazy responses, then gather()")

    def setup(self, url: str) -> None:
        self.url = url
        self.open(url)  # one thread in both workloads

    def run(self, n: int) -> None:
        if not self.workload.pipelined:
            self.worker(0, n)
            return
        get, url, gather = self.session.get, self.url, self.session.gather
        for _ in range(n // PIPELINE_DEPTH):
            rs = [get(url) for _ in range(PIPELINE_DEPTH)]
            gather()
            for r in rs:
                if r.status_code != 200 or r.content != BODY:
                    raise mismatch(r.status_code, r.content)

    def open(self, url: str) -> None:
        self.session = import_peer("niquests").Session(**_niquests_options(self.workload.pipelined))
        r = self.session.get(url)
        self.session.gather()
        check_protocol(self.key, r.http_version, 20)

    def worker(self, i: int, n: int) -> None:
        get, url = self.session.get, self.url
        for _ in range(n):
            r = get(url)
            if r.status_code != 200 or r.content != BODY:
                raise mismatch(r.status_code, r.content)

    def shut(self) -> None:
        self.session.close()


# In table order, like CONTENDERS. Not in CONTENDERS: the pool part's server speaks HTTP/1.1.
H2_CONTENDERS: dict[str, type[Contender]] = {c.key: c for c in (
    HopwireH2Sync, HopwireH2Async, HopwireH2AsyncAll, HopwireH2AsyncUvloop, HopwireH1AsyncPipelined,
    HttpxH2Sync, HttpxH2Async, NiquestsSync, NiquestsAsync,
)}
H2_HOPWIRE_FOR = {"sync": "hopwire-h2-sync", "asyncio": "hopwire-h2-async", "uvloop": "hopwire-h2-async-uvloop"}
