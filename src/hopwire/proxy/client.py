"""One client connection of `hopwire.proxy`: requests in, answers out, in order.

The client's bytes go through a `RequestParser(strip_hop_by_hop=True)`: the
hop-by-hop fields (`Connection` and what it names, `Keep-Alive`,
`Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`,
`Proxy-Authenticate`, `Proxy-Authorization`) never reach the request that is
forwarded; the parser's `keep_alive` says what the client asked for its own
hop. Each request becomes a `_Job` in a FIFO; one task per connection (the
worker) answers the jobs in order, as HTTP/1.1 requires of pipelined requests
(RFC 9112 §9.3.2). Bodiless GET and HEAD requests behind the one being
answered are fetched ahead (up to `pipeline_window`), so a pipelining client
is served in parallel upstream, still answered in order.

Bodies stream both ways and nothing holds a whole body: the client's request
body goes upstream through a `_BodyPipe` that stops reading the client past
PIPE_HIGH bytes; the answer's body is written as it arrives, and the worker
waits while the client's socket buffer is full (the pool, in turn, stops
reading the upstream connection past 1 MiB unread).

The client's hop is the proxy's own business (RFC 9110 §7.6.1): an HTTP/1.1
client keeps its connection unless it said `Connection: close`; an HTTP/1.0
client only with `http10_keep_alive` (off by default: RFC 9112 §9.3, "A proxy
server MUST NOT maintain a persistent connection with an HTTP/1.0 client",
because a dumb HTTP/1.0 proxy in front would forward the client's
`Connection: keep-alive`, believe nothing of it, and hang the client).
`Proxy-Connection: keep-alive` counts as the client's keep-alive request for
its own hop, and is never forwarded. Answers whose end is the end of the
connection (no length, to an HTTP/1.0 client) close it.

CONNECT (forward mode) turns the connection into a tunnel: a TCP connection to
the named host and port, bytes relayed both ways with flow control, closed
when either side closes or both are idle for `idle_timeout`.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Union, cast

from .._errors import (
    ConnectError,
    HopwireError,
    LocalProtocolError,
    ParseError,
    PoolTimeout,
    TransportTimeout,
)
from .._pool.models import Response
from .._wire.parser import Data, EndOfMessage, Request, RequestParser, filter_hop_by_hop
from .._wire.writer import SizedBody

if TYPE_CHECKING:
    from .server import ProxyServer

PIPE_HIGH = 256 * 1024  # request body bytes buffered before the client is no longer read
PIPE_LOW = 64 * 1024  # and read again below this
LINGER = 2.0  # seconds a closing connection still reads (and drops) what the client sends
SAFE_AHEAD = frozenset((b"GET", b"HEAD"))  # what may be fetched before the answers ahead are written
NO_BODY_STATUS = frozenset((204, 304))

# Fields of the client's request that the proxy does not forward as they are:
# the framing is the pool's (Content-Length or chunked for what it sends),
# Expect is answered here (see `_Job`), Max-Forwards is counted down.
_NOT_FORWARDED = frozenset((b"content-length", b"transfer-encoding", b"expect", b"max-forwards"))

Outcome = Union[tuple[Any, Response], "Refusal"]


class Refusal:
    """An answer the proxy gives itself: an error status, or a Max-Forwards reply."""

    __slots__ = ("status", "reason", "body", "headers")

    def __init__(self, status: int, reason: str, body: bytes | None = None,
                 headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        self.status = status
        self.reason = reason
        self.body = reason.encode("utf-8", "replace") + b"\n" if body is None else body
        self.headers = headers


class ClientGone(Exception):
    """The client's connection ended while its request was being forwarded."""


class _BodyPipe:
    """The client's request body on its way upstream, consumed once by the pool."""

    __slots__ = ("conn", "chunks", "size", "ended", "failed", "waiter", "timeout")

    def __init__(self, conn: ClientConnection, timeout: float) -> None:
        self.conn = conn
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.ended = False
        self.failed: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.timeout = timeout

    def put(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > PIPE_HIGH:
            self.conn.hold_reading("body")
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def fail(self, exc: BaseException) -> None:
        self.failed = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        while True:
            if self.chunks:
                data = self.chunks.popleft()
                self.size -= len(data)
                if self.size < PIPE_LOW:
                    self.conn.release_reading("body")
                yield data
            elif self.failed is not None:
                raise self.failed
            elif self.ended:
                return
            else:
                self.waiter = loop.create_future()
                try:
                    await asyncio.wait_for(self.waiter, self.timeout)
                except asyncio.TimeoutError:
                    raise ClientGone(f"no request body bytes for {self.timeout:g} s") from None
                finally:
                    self.waiter = None


class _Job:
    """One request of the client, from its head to the end of its answer."""

    __slots__ = ("request", "body", "received", "fetch", "safe_ahead", "refusal")

    def __init__(self, request: Any, body: _BodyPipe | None, refusal: Refusal | None = None) -> None:
        self.request = request
        self.body = body
        self.received = refusal is not None  # the whole request (body included) was read
        self.fetch: asyncio.Task[Outcome] | None = None
        self.safe_ahead = body is None and request.method in SAFE_AHEAD and not request.upgrade
        self.refusal = refusal  # the proxy's own answer, decided before anything is sent


def _status_line(status: int, reason: str) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, reason.encode("latin-1", "replace"))


def _field_lines(fields: Any) -> bytes:
    return b"".join([name + b": " + value + b"\r\n" for name, value in fields])


def _version(http_version: bytes | str) -> bytes:
    """The received-protocol of Via (RFC 9110 §7.6.3): "1.1" for HTTP/1.1."""
    text = http_version if isinstance(http_version, bytes) else http_version.encode("ascii")
    return text[5:] if text.startswith(b"HTTP/") else text


class ClientConnection(asyncio.Protocol):
    """The proxy's side of one client's connection."""

    def __init__(self, proxy: ProxyServer) -> None:
        self.proxy = proxy
        self.options = options = proxy.options
        self.loop = proxy.loop
        self.parser = RequestParser(max_line_size=options.max_line_size,
                                    max_header_size=options.max_header_size,
                                    max_headers=options.max_headers, strip_hop_by_hop=True)
        self.transport: asyncio.Transport | None = None
        self.jobs: deque[_Job] = deque()
        self.receiving: _Job | None = None  # the job whose body is being read
        self.worker: asyncio.Task[None] | None = None
        self.idle: asyncio.Future[None] | None = None  # the worker waits on it for the next request
        self.closing = False  # no more requests are read
        self.eof = False  # the client sends nothing more
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self.holds: set[str] = set()  # why reading is paused ("body", "jobs", "switch", "tunnel")
        self.tunnel: Tunnel | None = None
        self.last_active = self.loop.time()
        self.head_since: float | None = None  # when the bytes of an unfinished head began
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Any conforming loop's transport: uvloop's are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.proxy.connections.add(self)
        self.proxy.stats.connections += 1
        self._arm_timer(self.options.idle_timeout)

    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        if self.tunnel is not None:
            self.tunnel.send(data)
            return
        if self.closing:
            return  # after the last answer nothing more is read (it could be smuggled)
        try:
            events = self.parser.feed(data)
        except ParseError as exc:
            self._on_events(exc.events)
            self._refuse_input(exc)
            return
        self._on_events(events)
        if self.parser.upgraded:
            # CONNECT (or an Upgrade the proxy does not carry): no more requests on this
            # connection; what follows belongs to the tunnel, held until it is open.
            self.hold_reading("switch")

    def eof_received(self) -> bool:
        self.eof = True
        if self.tunnel is not None:
            return self.tunnel.client_eof()
        if self.receiving is not None and self.receiving.body is not None:
            self.receiving.body.fail(ClientGone("the client closed in the middle of a request body"))
        self.closing = True
        return bool(self.jobs)  # keep the write side open for the answers still due

    def connection_lost(self, exc: Exception | None) -> None:
        self.proxy.connections.discard(self)
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
        if self.tunnel is not None:
            self.tunnel.close()
        for job in self.jobs:
            if job.body is not None:
                job.body.fail(ClientGone("the client's connection was lost"))
        if self.worker is not None:
            self.worker.cancel()
        self._wake_drain()

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.tunnel is not None:
            self.tunnel.pause_upstream()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.tunnel is not None:
            self.tunnel.resume_upstream()
        self._wake_drain()

    # -- reading ---------------------------------------------------------------------

    def hold_reading(self, why: str) -> None:
        if not self.holds and self.transport is not None:
            self.transport.pause_reading()
        self.holds.add(why)

    def release_reading(self, why: str) -> None:
        if why in self.holds:
            self.holds.discard(why)
            if not self.holds and self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()

    def _on_events(self, events: list[Any]) -> None:
        started = False
        for event in events:
            kind = type(event)
            if kind is Data:
                job = self.receiving
                if job is not None and job.body is not None:
                    job.body.put(event.data)
            elif kind is Request:
                started = True
                has_body = bool(event.content_length) or event.chunked
                body = _BodyPipe(self, self.options.idle_timeout) if has_body else None
                job = _Job(event, body)
                self.receiving = job
                self.jobs.append(job)
                self.proxy.stats.requests += 1
            elif kind is EndOfMessage:
                job = self.receiving
                if job is not None:
                    job.received = True
                    if job.body is not None:
                        job.body.end()
                self.receiving = None
        # A head still being read (slowloris) is timed from its first bytes: bytes
        # that completed nothing, outside a body.
        if events or self.receiving is not None:
            self.head_since = None
        elif self.head_since is None:
            self.head_since = self.loop.time()
            self._arm_timer(self.options.header_timeout)
        if started:
            if len(self.jobs) > self.options.pipeline_window:
                self.hold_reading("jobs")
            self._start()

    def _start(self) -> None:
        if self.worker is None:
            self.worker = self.loop.create_task(self._work())
        elif self.idle is not None and not self.idle.done():
            self.idle.set_result(None)
        self._fetch_ahead()

    def _refuse_input(self, exc: ParseError) -> None:
        """Bytes that are not HTTP: the answers due are written, then this error, then close."""
        self.closing = True
        self.jobs.append(_Job(_Unparsed(), None, Refusal(exc.status_hint, exc.reason)))
        self._start()

    # -- answering, in order -----------------------------------------------------------

    async def _work(self) -> None:
        """Answer the jobs in order; between requests, wait for the next (one task per connection)."""
        try:
            while True:
                if not self.jobs:
                    if self.eof or self.closing:
                        break
                    self.idle = self.loop.create_future()
                    await self.idle
                    self.idle = None
                    continue
                job = self.jobs[0]
                keep = await self._answer(job)
                self.jobs.popleft()
                if self.tunnel is not None:
                    return  # the connection is a tunnel now: nothing more of HTTP on it
                if len(self.jobs) <= self.options.pipeline_window:
                    self.release_reading("jobs")
                if not keep:
                    self._close_after_answer()
                    return
                self._fetch_ahead()
        except ClientGone:
            self._abort()
        except asyncio.CancelledError:
            self._discard_jobs()
            raise
        except Exception as exc:  # a fault of the proxy's own: end this client, not the server
            self.proxy.report(exc)
            self._abort()
        finally:
            self.worker = None
        if self.eof and self.transport is not None:
            self.transport.close()

    def _fetch_ahead(self) -> None:
        """Start the upstream requests of the jobs behind the first that may go early."""
        window = self.options.pipeline_window
        for index, job in enumerate(self.jobs):
            # Behind a request that may change something, a GET must see the change.
            if index >= window or not job.safe_ahead or self.closing:
                break
            # The first is the worker's: it fetches it itself, before any fetched ahead
            # of it is started (those tasks run after the worker's next step).
            if index > 0 and job.fetch is None:
                job.fetch = self.loop.create_task(self._fetch(job))

    def _discard_jobs(self) -> None:
        for job in self.jobs:
            fetch = job.fetch
            if fetch is None:
                continue
            if not fetch.done():
                fetch.cancel()
            elif not fetch.cancelled() and fetch.exception() is None:
                outcome = fetch.result()
                if not isinstance(outcome, Refusal):
                    self.loop.create_task(outcome[0].__aexit__(None, None, None))
        self.jobs.clear()

    async def _answer(self, job: _Job) -> bool:
        """Write the answer to the job's request; whether the connection may carry more."""
        request = job.request
        if job.refusal is not None:
            return self._write_refusal(job, job.refusal)
        if request.method == b"CONNECT":
            await self._connect(job)
            return False
        if job.fetch is None:
            if job.body is not None and self._expects_continue(request):
                # RFC 9110 §10.1.1: the client waits for 100 before its body;
                # the proxy invites it (its turn has come: no answer is due before it).
                self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
            outcome = await self._fetch(job)  # no task of its own: one turn of the loop less
        else:
            outcome = await job.fetch
        if isinstance(outcome, Refusal):
            return self._write_refusal(job, outcome)
        context, response = outcome
        try:
            return await self._relay(job, response)
        except _UpstreamFailed as exc:  # before the head was written: an error answer instead
            return self._write_refusal(job, exc.refusal)
        finally:
            await context.__aexit__(None, None, None)

    def _keeps(self, job: _Job) -> bool:
        """May the client's connection carry another request after this one?"""
        request = job.request
        if not request.keep_alive or request.upgrade:
            return False
        if request.http_version != b"1.1" and not self.options.http10_keep_alive:
            return False
        return True

    def _connection_fields(self, job: _Job, keep: bool) -> bytes:
        if not keep:
            return b"Connection: close\r\n"
        if job.request.http_version != b"1.1":
            return b"Connection: keep-alive\r\nKeep-Alive: timeout=%d\r\n" % int(self.options.idle_timeout)
        return b""

    async def _relay(self, job: _Job, response: Response) -> bool:
        request = job.request
        status = response.status
        headers = filter_hop_by_hop(response.headers)
        bodiless = request.method == b"HEAD" or status in NO_BODY_STATUS or status < 200
        has_length = any(name == b"content-length" for name, _ in headers)
        chunked = not bodiless and not has_length and request.http_version == b"1.1"
        keep = self._keeps(job) and (bodiless or has_length or chunked)
        # No iterator for a bodiless answer: one made and never iterated is reported as
        # an un-awaited coroutine when the pool core is compiled.
        stream = None if bodiless else response.aiter_bytes()
        first = b""
        if stream is not None:
            first = await self._next_piece(stream, headers_sent=False)
        head = [_status_line(status, response.reason), _field_lines(headers),
                b"Via: %s %s\r\n" % (_version(response.http_version), self.options.via)]
        if chunked:
            head.append(b"Transfer-Encoding: chunked\r\n")
        head.append(self._connection_fields(job, keep and job.received))
        head.append(b"\r\n")
        if first:
            head.append(b"%x\r\n%s\r\n" % (len(first), first) if chunked else first)
        self._write(b"".join(head))
        if first and stream is not None:
            while True:
                if self.write_paused:
                    await self._drain()
                data = await self._next_piece(stream, headers_sent=True)
                if not data:
                    break
                self._write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            if chunked:
                self._write(b"0\r\n\r\n")
        elif chunked:
            self._write(b"0\r\n\r\n")
        if self.write_paused:
            await self._drain()
        # A request whose body was not read to its end leaves bytes that are not
        # a request: the connection ends with this answer.
        return keep and job.received

    async def _next_piece(self, stream: AsyncIterator[bytes], headers_sent: bool) -> bytes:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return b""
        except HopwireError as exc:
            if not headers_sent:
                raise _UpstreamFailed(_refusal_for(exc)) from exc
            # The head is out: only the end of the connection can tell the client.
            raise ClientGone(f"the upstream answer broke off: {exc}") from exc

    def _write_refusal(self, job: _Job, refusal: Refusal) -> bool:
        keep = self._keeps(job) and job.received
        head_only = job.request.method == b"HEAD"
        out = [_status_line(refusal.status, _REASONS.get(refusal.status, "Error")),
               _field_lines(refusal.headers or ((b"Content-Type", b"text/plain; charset=utf-8"),)),
               b"Content-Length: %d\r\n" % len(refusal.body),
               b"Via: 1.1 %s\r\n" % self.options.via,
               self._connection_fields(job, keep), b"\r\n"]
        if not head_only:
            out.append(refusal.body)
        self._write(b"".join(out))
        return keep

    @staticmethod
    def _expects_continue(request: Any) -> bool:
        return request.http_version == b"1.1" and any(
            name == b"expect" and value.lower() == b"100-continue" for name, value in request.headers)

    # -- upstream ----------------------------------------------------------------------

    async def _fetch(self, job: _Job) -> Outcome:
        """Send the job's request upstream; the open response, or the proxy's own answer."""
        request = job.request
        where = self.proxy.upstream_url(request)
        if isinstance(where, Refusal):
            return where
        fields: list[tuple[bytes, bytes]] = []
        forward_mode = self.options.upstream is None
        for name, value in request.headers:
            if name in _NOT_FORWARDED:
                if name == b"max-forwards":
                    refusal = self._max_forwards(request, value, fields)
                    if refusal is not None:
                        return refusal
                continue
            if forward_mode and name == b"host":
                continue  # RFC 9112 §3.2.2: the target's authority replaces it
            fields.append((name, value))
        fields.append((b"Via", b"%s %s" % (_version(b"HTTP/" + request.http_version), self.options.via)))
        body: Any = None
        if job.body is not None:
            length = request.content_length
            body = SizedBody(length, job.body) if length else job.body
        context = self.proxy.pool.stream(request.method, where, headers=fields, body=body)
        try:
            response = await context.__aenter__()
        except ClientGone:
            raise
        except HopwireError as exc:
            return _refusal_for(exc)
        return context, response

    @staticmethod
    def _max_forwards(request: Any, value: bytes, fields: list[tuple[bytes, bytes]]) -> Refusal | None:
        """RFC 9110 §7.6.2: TRACE and OPTIONS stop at the proxy that sees Max-Forwards: 0."""
        if request.method not in (b"TRACE", b"OPTIONS"):
            fields.append((b"Max-Forwards", value))
            return None
        try:
            remaining = int(value)
        except ValueError:
            return Refusal(400, "Max-Forwards is not a number")
        if remaining > 0:
            fields.append((b"Max-Forwards", b"%d" % (remaining - 1)))
            return None
        if request.method == b"OPTIONS":
            return Refusal(200, "OK", b"", ((b"Allow", b"GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE"),))
        echo = b"TRACE %s HTTP/%s\r\n%s\r\n" % (request.target, request.http_version,
                                              _field_lines(request.headers))
        return Refusal(200, "OK", echo, ((b"Content-Type", b"message/http"),))

    # -- CONNECT -----------------------------------------------------------------------

    async def _connect(self, job: _Job) -> None:
        request = job.request
        if self.options.upstream is not None or not self.options.allow_connect:
            self._write_refusal(job, Refusal(405, "CONNECT is not served here"))
            return
        where = _authority(request.target)
        if where is None:
            self._write_refusal(job, Refusal(400, "CONNECT needs host:port"))
            return
        host, port = where
        timeout = self.proxy.connect_timeout
        try:
            _, tunnel = await asyncio.wait_for(
                self.loop.create_connection(lambda: Tunnel(self), host, port), timeout)
        except asyncio.TimeoutError:
            self._write_refusal(job, Refusal(504, f"connecting to {host}:{port} timed out"))
            return
        except OSError as exc:
            self._write_refusal(job, Refusal(502, f"cannot connect to {host}:{port}: {exc.strerror or exc}"))
            return
        assert isinstance(tunnel, Tunnel)
        if self.transport is None or self.transport.is_closing():
            tunnel.close()
            return
        self.proxy.stats.tunnels += 1
        self._write(b"HTTP/1.1 200 Connection Established\r\nVia: 1.1 %s\r\n\r\n" % self.options.via)
        self.tunnel = tunnel
        pending = self.parser.trailing_data
        if pending:
            tunnel.send(pending)
        self.release_reading("switch")
        self.release_reading("jobs")

    # -- writing and closing -------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ClientGone("the client's connection is closed")
        transport.write(data)
        self.last_active = self.loop.time()

    async def _drain(self) -> None:
        """Wait until the client reads what it was sent (at most idle_timeout)."""
        while self.write_paused:
            if self.transport is None or self.transport.is_closing():
                raise ClientGone("the client's connection is closed")
            self.drain_waiter = self.loop.create_future()
            try:
                await asyncio.wait_for(self.drain_waiter, self.options.idle_timeout)
            except asyncio.TimeoutError:
                raise ClientGone("the client stopped reading") from None
            finally:
                self.drain_waiter = None

    def _wake_drain(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _close_after_answer(self) -> None:
        """End the connection after its last answer without a reset that could destroy it.

        Unread input at close makes the kernel send a reset, so the write side
        is shut first, further input is dropped, and the socket is closed when
        the client closes its side or LINGER seconds later.
        """
        self.closing = True
        self._discard_jobs()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.eof or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.release_reading("jobs")
        self.release_reading("body")
        self.release_reading("switch")
        self._arm_timer(LINGER, linger=True)

    def _abort(self) -> None:
        self.closing = True
        self._discard_jobs()
        if self.transport is not None:
            self.transport.abort()

    def _arm_timer(self, delay: float, linger: bool = False) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(delay, self._lingered if linger else self._check_idle)

    def _lingered(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _check_idle(self) -> None:
        """Close a connection idle for idle_timeout, or whose head takes over header_timeout."""
        now = self.loop.time()
        options = self.options
        if self.tunnel is not None:
            due = max(self.last_active, self.tunnel.last_active) + options.idle_timeout
            if now >= due:
                self.tunnel.close()
                if self.transport is not None:
                    self.transport.close()
                return
            self._arm_timer(due - now)
            return
        if self.head_since is not None and not self.jobs and now - self.head_since >= options.header_timeout:
            self.closing = True
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
                                     b"Connection: close\r\n\r\n")
                self.transport.close()
            return
        due = self.last_active + options.idle_timeout
        if self.head_since is not None:
            due = min(due, self.head_since + options.header_timeout)
        if now >= due and not self.jobs:
            if self.transport is not None:
                self.transport.close()
            return
        self._arm_timer(max(due - now, 0.5))


class _Unparsed:
    """The stand-in request of a refusal for bytes that did not parse."""

    method = b""
    http_version = b"1.1"
    keep_alive = False
    upgrade = False
    headers: list[tuple[bytes, bytes]] = []


class _UpstreamFailed(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


def _refusal_for(exc: HopwireError) -> Refusal:
    """The status the client gets when the upstream request fails (RFC 9110 §15.6)."""
    if isinstance(exc, PoolTimeout):
        return Refusal(503, f"no upstream connection free in time: {exc}")
    if isinstance(exc, TransportTimeout):
        return Refusal(504, f"the upstream server did not answer in time: {exc}")
    if isinstance(exc, LocalProtocolError):
        return Refusal(400, f"the request cannot be forwarded: {exc}")
    if isinstance(exc, ConnectError):
        return Refusal(502, f"cannot reach the upstream server: {exc}")
    return Refusal(502, f"the upstream server failed: {exc}")


def _authority(target: bytes) -> tuple[str, int] | None:
    """host and port of a CONNECT's authority-form target (RFC 9112 §3.2.3)."""
    try:
        text = target.decode("ascii")
    except UnicodeDecodeError:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


_REASONS = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed", 408: "Request Timeout",
            413: "Content Too Large", 414: "URI Too Long", 431: "Request Header Fields Too Large",
            501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout", 505: "HTTP Version Not Supported"}


class Tunnel(asyncio.Protocol):
    """The upstream end of a CONNECT tunnel: bytes both ways, with flow control."""

    def __init__(self, client: ClientConnection) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.last_active = client.loop.time()
        self.client_done = False
        self.upstream_done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Any conforming loop's transport: uvloop's are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.last_active = self.client.loop.time()
        client = self.client.transport
        if client is not None and not client.is_closing():
            client.write(data)

    def eof_received(self) -> bool:
        self.upstream_done = True
        client = self.client.transport
        if client is not None and not client.is_closing() and client.can_write_eof():
            client.write_eof()
        if self.client_done and client is not None:
            client.close()
            return False
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        client = self.client.transport
        if client is not None and not client.is_closing():
            client.close()

    def pause_writing(self) -> None:
        self.client.hold_reading("tunnel")

    def resume_writing(self) -> None:
        self.client.release_reading("tunnel")

    # -- called by the client's side ---------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def client_eof(self) -> bool:
        self.client_done = True
        transport = self.transport
        if transport is not None and not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()
        if self.upstream_done:
            self.close()
            return False
        return True

    def pause_upstream(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_upstream(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
