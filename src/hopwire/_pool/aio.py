"""The asyncio pool: `AsyncPool`, on `asyncio.Protocol` (not streams: each
StreamReader read is a coroutine step and a copy; a protocol is called with
the bytes and hands the parsed events straight to the waiting request).

Strategy: the same `PoolState` and `Link` as the sync pool; no locks (one
loop). `data_received` feeds the connection and puts each event in its
exchange; a request waiting for its answer is woken once per batch of
events, or, for `request()`, only at the end of its answer. A streamed body
that is not read fast enough pauses reading past `HIGH_WATER` bytes.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from time import monotonic
from typing import Any, cast

from .._errors import (ConnectError, ConnectTimeout, HopwireError, ProxyError, ReadError,
                       ReadTimeout, TransportError, WriteError, WriteTimeout)
from .._wire.parser import Data, InformationalResponse
from .._wire.parser import Response as ResponseEvent
from .._wire.writer import Body
from .base import (DRAIN_LIMIT, HIGH_WATER, READ_SIZE, Attempt, Batch, BodyBase, Link, PoolBase,
                   Replay, RequestSpec, Tunnel, Waiter, caller_error, data_size, framed, record)
from .connection import Connection, ConnectionBase, ConnectionStateError, PreparedRequest
from .exchange import Exchange
from .models import HeaderInput, Response, Timeout, TimeoutInput
from .state import Origin

TIMED_OUT = object()


def _stock(loop: asyncio.AbstractEventLoop) -> bool:
    """Is it one of asyncio's own loops (not uvloop's or another's)?"""
    loop_type = type(loop)
    return (getattr(loop_type, "time", None) is asyncio.BaseEventLoop.time and
            getattr(loop_type, "create_future", None) is asyncio.BaseEventLoop.create_future)


class _Protocol(asyncio.Protocol):
    """Hands the transport's callbacks to its link (or, while a tunnel is opened, to
    the handshake)."""

    def __init__(self) -> None:
        self.link: AsyncLink | _Handshake | None = None
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self.is_lost = False
        # Bytes that came before the link was attached: an HTTP/2 server sends its
        # SETTINGS at once (RFC 9113 §3.4), maybe before `_open` resumes.
        self.early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Any conforming loop's transport: uvloop's are not asyncio.Transport subclasses.
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.link is not None:
            self.link.on_data(data)
        else:
            self.early.append(data)

    def eof_received(self) -> bool:
        if self.link is not None:
            self.link.on_data(b"")
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.is_lost = True
        self.lost = exc
        if self.link is not None:
            self.link.on_lost(exc)

    def pause_writing(self) -> None:
        if self.link is not None:
            self.link.write_paused = True

    def resume_writing(self) -> None:
        if self.link is not None:
            self.link.write_paused = False
            self.link.wake_drain()


class _BufferedProtocol(_Protocol, asyncio.BufferedProtocol):
    """`_Protocol` for asyncio's own loops: the transport reads into `buffer`
    (`recv_into`). Given a plain protocol, asyncio's transport allocates 256 KiB
    for each read and hands over a new bytes object: glibc may give that memory
    back and map it again at every read, which can double the client's CPU per
    request. The bytes are parsed before `buffer_updated` returns (the parser
    copies what it keeps), so a pool's connections share one buffer: reads never
    overlap. (uvloop reads into a buffer of its own for a plain protocol: there,
    `_Protocol` costs less.)
    """

    def __init__(self, buffer: memoryview) -> None:
        super().__init__()
        self.buffer = buffer

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.link is not None:
            self.link.on_data(self.buffer[:nbytes])
        else:
            self.early.append(bytes(self.buffer[:nbytes]))


class _Handshake:
    """Takes a connection's callbacks while its CONNECT tunnel is opened: feeds the
    `Tunnel`, and resolves `done` when the tunnel is open (or with the error)."""

    def __init__(self, tunnel: Tunnel, loop: asyncio.AbstractEventLoop) -> None:
        self.tunnel = tunnel
        self.done: asyncio.Future[None] = loop.create_future()
        self.write_paused = False

    def on_data(self, data: bytes | memoryview) -> None:
        if self.done.done():
            return
        try:
            if self.tunnel.receive(bytes(data)):
                self.done.set_result(None)
        except ProxyError as exc:
            self.done.set_exception(exc)

    def on_lost(self, exc: BaseException | None) -> None:
        self.on_data(b"")

    def wake_drain(self) -> None:
        pass


class AsyncLink(Link):
    """A pooled connection on an asyncio transport."""

    __slots__ = ("transport", "loop", "stock_loop", "reading_paused", "write_paused", "drain_waiter",
                 "out", "received_at", "sleepers", "timer", "timer_at", "reading_off")

    def __init__(self, transport: asyncio.Transport, conn: ConnectionBase, number: int,
                 replay_unsafe: bool, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(conn, number, replay_unsafe)
        self.transport = transport
        self.loop = loop
        # asyncio's own loops: their clock is `monotonic` and their futures are
        # `asyncio.Future`, made here without a Python method call (two a request).
        self.stock_loop = _stock(loop)
        self.reading_paused = False
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self.out: list[bytes] = []  # heads of pipelined requests not yet written (see flush)
        self.received_at = 0.0  # loop time of the last bytes received (read timeouts)
        self.sleepers: list[Exchange] = []  # exchanges whose readers await their `waiter`
        # One timer for the read timeouts of all the sleepers (see `sleep`), left
        # armed between answers: a request does not pay for a timer of its own.
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0  # loop time at which `timer` fires
        self.reading_off = 0  # exchanges whose cancelled callers' answers are read off

    # -- transport callbacks -----------------------------------------------------------

    def on_data(self, data: bytes | memoryview) -> None:
        if self.closed:
            return
        self.received_at = self.now()
        self.receive(data)
        if self.sleepers:
            self._wake_sleepers()
        # The body arriving now is the oldest unfinished answer's: pause when
        # its reader falls behind (a collecting reader takes it all anyway).
        if self.exchanges and not self.reading_paused:
            head = next(iter(self.exchanges.values()))
            if head.buffered > HIGH_WATER and not head.collect:
                self.reading_paused = True
                self.transport.pause_reading()

    def _wake_sleepers(self) -> None:
        """Wake the readers that have what they wait for (a collector: the end or an error)."""
        for ex in self.sleepers:
            waiter = ex.waiter
            if waiter is not None and not waiter.done() and (ex.error is not None or (
                    ex.events and (ex.ended or not ex.collect))):
                waiter.set_result(None)

    def on_lost(self, exc: BaseException | None) -> None:
        if not self.closed and self.exchanges:
            error = None if exc is None else ReadError(f"the connection was lost: {exc}")
            self._fail_and_wake(error, peer_closed=True)
        # Lost while idle too (a reset): the connection has ended, and its place in
        # the pool is free (PoolState drops an entry that ended while nobody held it).
        self.conn.close()
        self.closed = True
        self.wake_drain()

    def _fail_and_wake(self, error: TransportError | None, peer_closed: bool = False) -> None:
        self.fail(error, peer_closed)
        if self.sleepers:
            self._wake_sleepers()

    def abort(self, error: TransportError, peer_closed: bool = False) -> None:
        """The connection is in an unknown state: close it; the answer under way gets `error`."""
        if self.exchanges:
            self._fail_and_wake(error, peer_closed)
        self.conn.close()
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()
            self.wake_drain()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def wake_drain(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def peer_gone(self) -> bool:
        return self.closed or bool(self.transport.is_closing())

    # -- writing -----------------------------------------------------------------------

    def send(self, ex: Exchange, prepared: PreparedRequest, body: Body,
             timeout: Timeout, defer: bool = False) -> Coroutine[Any, Any, None] | None:
        """Record the request and write what can be written now.

        Returns the coroutine that writes the rest (an iterable body, or a
        wait for the transport to drain), or None when all is written: the
        common request costs no coroutine. A bodiless request pipelined
        behind another, or any bodiless one of a batch (`defer`:
        `request_all`, which flushes before it reads), waits in `out` for
        the end of the loop's turn.
        """
        conn = self.conn
        if self.closed or conn.has_ended():
            raise ConnectionStateError("the connection ended before the request was sent")
        ahead = record(self, ex, prepared)
        rid = ex.rid
        if body is None and (ahead or defer):
            # Requests pipelined in one turn of the loop leave in one write
            # (one system call), as a client writing them together would.
            self.out.append(prepared.head)
            if len(self.out) == 1:
                self.loop.call_soon(self.flush)
            return None
        if self.out:
            self.flush()
        transport = self.transport
        if body is None:
            transport.write(prepared.head)
        elif isinstance(body, (bytes, bytearray, memoryview)):
            for piece in framed(cast(Connection, conn), rid, prepared.head, body):
                transport.write(piece)
        else:
            ex.may_replay = False  # an iterator cannot be sent twice
            transport.write(prepared.head)
            return self._guarded(ex, self._write_pieces(rid, body, timeout.write), timeout)
        if self.write_paused:
            return self._guarded(ex, self._drain(timeout.write), timeout)
        return None

    async def _guarded(self, ex: Exchange, writing: Coroutine[Any, Any, None], timeout: Timeout) -> None:
        """Run the rest of a write; its failure is kept for after the answer is read."""
        try:
            await writing
        except WriteTimeout as exc:
            ex.write_error = exc
            self.abort(exc)
        except (OSError, RuntimeError) as exc:
            ex.write_error = WriteError(f"writing the request failed: {exc}")

    async def _write_pieces(self, rid: int, body: Body, timeout: float | None) -> None:
        conn, transport = cast(Connection, self.conn), self.transport
        async for piece in body_pieces(body):
            if self.closed:
                raise OSError("the connection was closed")
            data = conn.send_body(rid, piece)
            if data:
                transport.write(data)
            await self._drain(timeout)
        tail = conn.end_body(rid)
        if tail:
            transport.write(tail)
        await self._drain(timeout)

    def flush(self) -> None:
        """Write the heads queued by pipelined requests of this turn of the loop."""
        if self.out:
            data = b"".join(self.out)
            self.out.clear()
            if not self.closed:
                self.transport.write(data)

    async def _drain(self, timeout: float | None) -> None:
        if not self.write_paused:
            return
        if self.closed:
            raise OSError("the connection was closed")
        waiter = self.drain_waiter = self.loop.create_future()
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            raise WriteTimeout(f"writing the request took longer than {timeout} s") from None
        finally:
            self.drain_waiter = None

    # -- reading -------------------------------------------------------------------------

    async def next_event(self, ex: Exchange, timeout: float | None) -> Any:
        while True:
            if ex.events:
                event = ex.events.popleft()
                if type(event) is Data:
                    ex.buffered -= len(event.data)
                    if self.reading_paused and ex.buffered <= HIGH_WATER // 2 and not self.closed:
                        self.reading_paused = False
                        self.transport.resume_reading()
                return event
            if ex.error is not None:
                raise caller_error(ex)
            if ex.ended:
                raise ConnectionStateError("the answer was read to its end already")
            await self.wait_events(ex, timeout)

    async def wait_end(self, ex: Exchange, timeout: float | None) -> None:
        """Wait until the exchange's answer ended or failed (for `request()`: one wake-up)."""
        ex.collect = True
        while not ex.ended and ex.error is None:
            await self.wait_events(ex, timeout)

    async def wait_events(self, ex: Exchange, timeout: float | None) -> None:
        """Wait until events of the exchange's answer came (a collector: its end), or
        an error; ReadTimeout when nothing came for `timeout` seconds."""
        waiter = self.sleep(ex, timeout)
        try:
            result = await waiter
        except BaseException:
            self.cancelled(ex)
            raise
        self.woke(ex, result, timeout)

    # `wait_events` in three steps, for a caller that awaits the future itself (one
    # coroutine less per request): `sleep`, await, then `woke` or `cancelled`.

    def now(self) -> float:
        """The loop's time."""
        return monotonic() if self.stock_loop else self.loop.time()

    def sleep(self, ex: Exchange, timeout: float | None) -> asyncio.Future[Any]:
        """Register the exchange's reader as a sleeper; return the future it awaits."""
        waiter: asyncio.Future[Any] = (asyncio.Future(loop=self.loop) if self.stock_loop
                                       else self.loop.create_future())
        ex.waiter = waiter
        ex.read_timeout = timeout
        if timeout is not None:
            self.received_at = now = self.now()
            deadline = now + timeout
            if self.timer is None or self.timer_at > deadline:
                self._arm(deadline)
        self.sleepers.append(ex)
        return waiter

    def woke(self, ex: Exchange, result: Any, timeout: float | None) -> None:
        self.sleepers.remove(ex)
        ex.waiter = None
        if result is TIMED_OUT:
            self.abort(ReadTimeout(f"no byte of the answer within {timeout} s"))

    def cancelled(self, ex: Exchange) -> None:
        """The await of `sleep`'s future raised (the caller was cancelled or
        interrupted): it sleeps no more. What becomes of its answer is the pool's
        to decide (`AsyncPool._give_up`)."""
        self.sleepers.remove(ex)
        ex.waiter = None

    def _arm(self, when: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_at(when, self._on_timer)
        self.timer_at = when

    def _on_timer(self) -> None:
        """The read timeout counts from the last bytes received (a waiter woken only at
        the end of its answer may wait longer than that for all of it): the sleepers
        past theirs are woken with TIMED_OUT, and the timer is armed again for the
        earliest of the others, if any."""
        self.timer = None
        now = self.now()
        earliest: float | None = None
        for ex in self.sleepers:
            waiter, timeout = ex.waiter, ex.read_timeout
            if waiter is None or waiter.done() or timeout is None:
                continue
            deadline = self.last_read(ex) + timeout
            if now >= deadline:
                waiter.set_result(TIMED_OUT)
            elif earliest is None or deadline < earliest:
                earliest = deadline
        if earliest is not None and not self.closed:
            self._arm(earliest)

    def last_read(self, ex: Exchange) -> float:
        """When the exchange's read timeout started counting (`_on_timer`): the last
        bytes received on the connection."""
        return self.received_at


def _time_out(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(TIMED_OUT)


async def body_pieces(body: Any) -> AsyncIterator[bytes]:
    if isinstance(body, AsyncIterable):
        async for piece in body:
            yield _piece(piece)
    elif isinstance(body, Iterable):
        for piece in body:
            yield _piece(piece)
    else:
        raise TypeError(f"body must be bytes-like, an (async) iterable or None, not {type(body).__name__}")


def _piece(piece: Any) -> bytes:
    if not isinstance(piece, (bytes, bytearray, memoryview)):
        raise TypeError(f"a body iterable must yield bytes, not {type(piece).__name__}")
    return bytes(piece)


class _AsyncBody(BodyBase):
    """The body of a streamed asyncio response."""

    __slots__ = ()
    is_async = True

    async def anext_data(self) -> bytes | None:
        if self.closed:
            return None
        try:
            event = await self.link.next_event(self.ex, self.timeout)
        except BaseException as exc:
            self._finish(exc)
            raise
        if type(event) is Data:
            return bytes(event.data)
        self._finish()
        return None

    async def aread_all(self) -> bytes:
        link, ex = self.link, self.ex
        events = ex.events
        try:
            if not ex.ended and ex.error is None:
                await link.wait_end(ex, self.timeout)
            parts = []
            while True:
                # Once the answer ended, its events are all there: no await.
                event = events.popleft() if events else await link.next_event(ex, self.timeout)
                if type(event) is not Data:
                    break
                parts.append(event.data)
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish()
        return parts[0] if len(parts) == 1 and type(parts[0]) is bytes else b"".join(parts)

    async def aclose(self) -> None:
        if self.closed:
            return
        try:
            while self._drains():
                self._drained(await self.link.next_event(self.ex, self.timeout))
        except HopwireError:
            self._cut()
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish()

    def _finish(self, error: BaseException | None = None) -> None:
        """The caller is done with the body: its end was read, or `error` stopped it."""
        if not self.closed:
            self.closed = True
            if error is None:
                self.pool._release(self.link, self.ex)
            else:
                self.pool._give_up(self.link, self.ex, error, self.timeout)


class AsyncPool(PoolBase):
    """The asyncio twin of `Pool`: the same options (see `PoolBase`), awaitable methods.

    Use it from one event loop. `request()` reads the whole answer;
    `stream()` is an async context manager whose response is read with
    `aread()` / `aiter_bytes()`.
    """

    def _init_driver(self) -> None:
        self._reading_off: set[asyncio.Task[None]] = set()  # see `_abandon`
        self._read_buffer = memoryview(bytearray(READ_SIZE))  # every connection's (`_BufferedProtocol`)

    def _signal(self, waiter: Waiter) -> None:
        future = waiter.signal
        if not future.done():
            future.set_result(None)

    # -- public API --------------------------------------------------------------------

    async def request(self, method: str | bytes, url: str, *, headers: HeaderInput = None,
                      body: Body = None, timeout: TimeoutInput | None = None) -> Response:
        """Send a request and read its whole answer."""
        attempt = self._attempt(method, url, headers, body)
        t = self._timeout(timeout)
        # The common case without a coroutine of its own: `_start` and `_answer`
        # inline, for a request that goes on an idle connection (or joins a
        # pipeline) at once and whose whole answer comes before it is read.
        response = None
        now = self._start_now(attempt, t)
        if now is not None:
            link, ex, rest = now
            begun = monotonic()
            if rest is not None:
                await self._finish_start(attempt, link, ex, rest)
            timeout_read = t.read
            waiter = self._wait_more(link, ex, timeout_read)
            while waiter is not None:
                try:
                    result = await waiter
                except BaseException as exc:
                    link.cancelled(ex)
                    self._give_up(link, ex, exc, timeout_read)
                    raise
                self._woke(link, ex, result, timeout_read)
                waiter = self._wait_more(link, ex, timeout_read)
            response = self._collected(attempt, link, ex, begun)
            if response is not None:
                return response  # whole: no body stream to read
            try:
                response = await self._answer(attempt, link, ex, t, True, begun)
            except Replay:
                response = None
        if response is None:
            response = await self._send(attempt, t, True)
        return response

    @asynccontextmanager
    async def stream(self, method: str | bytes, url: str, *, headers: HeaderInput = None,
                     body: Body = None, timeout: TimeoutInput | None = None) -> AsyncIterator[Response]:
        """Send a request; the response's body is read with `aread()` or `aiter_bytes()`."""
        response = await self._send(self._attempt(method, url, headers, body), self._timeout(timeout))
        try:
            yield response
        finally:
            await response.aclose()

    async def request_all(self, requests: Iterable[RequestSpec], *,
                          timeout: TimeoutInput | None = None) -> list[Response | HopwireError]:
        """`Pool.request_all` for asyncio: one coroutine, no task per request.

        Requests go in flight while the pool can take them (their heads
        leave together), answers are read oldest first, each whole; a failed
        request has its `HopwireError` in its place.
        """
        t = self._timeout(timeout)
        batch = self._batch(requests)
        try:
            await self._run_batch(batch, t)
        except BaseException as exc:  # cancelled or interrupted: the leases go back
            for link, gone in batch.by_link().items():
                self._abandon(link, gone, exc, t.read)
            raise
        return batch.results  # every slot is filled by now

    async def _run_batch(self, batch: Batch, t: Timeout) -> None:
        """`request_all`'s loop; what is in flight when it raises is the caller's to give back."""
        while batch.todo or batch.in_flight:
            attempt = batch.next()
            while attempt is not None:
                try:
                    now = self._start_now(attempt, t, True)
                    if now is not None:
                        started: tuple[AsyncLink, Exchange] | None = (now[0], now[1])
                        if now[2] is not None:
                            await self._finish_start(attempt, *now)
                    else:
                        started = await self._start(attempt, t, not batch.in_flight, True)
                except HopwireError as exc:
                    attempt = batch.refused(exc)
                    continue
                if started is None:
                    break  # the pool is full: read an answer first
                attempt = batch.started(started[0], started[1])
            if not batch.in_flight:
                continue
            index, attempt, link, ex = batch.oldest()
            link.flush()
            if ex.ended:  # answered already (pipelined answers come together): no coroutine
                response = self._collected(attempt, link, ex, monotonic())
                if response is not None:
                    batch.answered(index, response)
                    continue
            try:
                batch.answered(index, await self._answer(attempt, link, ex, t, True))
            except (Replay, HopwireError) as exc:
                batch.failed(index, attempt, exc)

    async def aclose(self) -> None:
        """Close every connection; requests in flight fail, new ones raise PoolClosed."""
        links = self._shut()
        for link in links:
            link.abort(ReadError("the pool was closed"))
        await asyncio.sleep(0)  # let the transports run their connection_lost
        if links:
            # A TLS transport closes over several turns of the loop (close_notify): one
            # still closing now is aborted, and its socket closed in the next turn, so
            # that none outlives the pool (a loop closed next would leave it to the
            # garbage collector). On a closed transport, abort() does nothing.
            for link in links:
                link.transport.abort()
            await asyncio.sleep(0)

    async def __aenter__(self) -> AsyncPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- one request -------------------------------------------------------------------

    async def _send(self, attempt: Attempt, t: Timeout, collect: bool = False) -> Response:
        """Send the request and read its answer's head (`collect`: all of it), again for
        as long as it is to be replayed."""
        while True:
            started = await self._start(attempt, t, block=True)
            assert started is not None
            try:
                return await self._answer(attempt, *started, t, collect)
            except Replay:
                continue

    async def _start(self, attempt: Attempt, t: Timeout, block: bool,
                     defer: bool = False) -> tuple[AsyncLink, Exchange] | None:
        """Put the request in flight on a connection; None if that means waiting and not `block`.
        `defer`: see `AsyncLink.send`."""
        while True:
            link = self._acquire_idle(attempt)
            if link is None:
                link = await self._acquire(attempt, t, block)
                if link is None:
                    return None
            put = self._put(attempt, link, self._reused(link), t, defer)
            if put is None:
                continue
            ex, rest = put
            if rest is not None:
                await self._finish_start(attempt, link, ex, rest)
            return link, ex

    def _start_now(self, attempt: Attempt, t: Timeout,
                   defer: bool = False) -> tuple[AsyncLink, Exchange, Any] | None:
        """`_start` without a coroutine when a connection is there at once (`_acquire_idle`):
        the link, the exchange, and the rest of the write to pass to `_finish_start` (or
        None: all written, `_start` done); None when `_start` is needed."""
        link = self._acquire_idle(attempt)
        if link is None:
            return None
        put = self._put(attempt, link, self._reused(link), t, defer)
        return None if put is None else (link, put[0], put[1])

    def _put(self, attempt: Attempt, link: AsyncLink, reused: bool, t: Timeout,
             defer: bool = False) -> tuple[Exchange, Coroutine[Any, Any, None] | None] | None:
        """Record the request on the link it was given and write what can be written now:
        the exchange and the rest of the write (see `AsyncLink.send`; when all is written,
        the pool state is told, else `_finish_start` tells it); None when it lost a race
        with a reader that ended or filled the connection (the link is given back)."""
        ex = attempt.exchange(link.number, reused)
        try:
            rest = link.send(ex, attempt.prepared, attempt.body, t, defer)
        except BaseException as exc:
            if self._unsent(link, attempt, ex, exc):
                return None
            raise
        if rest is None and self._sends_wake():
            self._sent(link, attempt.pipelinable)
        return ex, rest

    async def _finish_start(self, attempt: Attempt, link: AsyncLink, ex: Exchange,
                            rest: Coroutine[Any, Any, None]) -> None:
        """The end of `_start` after `_start_now` left a write to finish."""
        try:
            await rest
        except BaseException as exc:
            self._unsent(link, attempt, ex, exc)
            raise
        if self._sends_wake():
            self._sent(link, attempt.pipelinable)

    # `link.sleep` and `link.woke` for `request()`, whose locals are untyped: through
    # the pool's typed arguments they are C calls, and the exchange's fields C fields,
    # in the compiled twin.

    def _wait_more(self, link: AsyncLink, ex: Exchange,
                   timeout: float | None) -> asyncio.Future[Any] | None:
        """The future `request()` awaits for more of its answer; None once it ended or failed."""
        if ex.ended or ex.error is not None:
            return None
        ex.collect = True  # woken at the end only; its body never pauses reading
        return link.sleep(ex, timeout)

    def _woke(self, link: AsyncLink, ex: Exchange, result: Any, timeout: float | None) -> None:
        link.woke(ex, result, timeout)

    def _collected(self, attempt: Attempt, link: AsyncLink, ex: Exchange,
                   started: float) -> Response | None:
        """`_answer(collect=True)`'s common end without a coroutine: the whole answer
        is here (a final response head, Data, EndOfMessage); None: ask `_answer`."""
        events = ex.events
        if not ex.ended or link.reading_paused or not events:
            return None
        event = events[0]
        if type(event) is not ResponseEvent:
            return None
        events.popleft()
        ex.info.elapsed = monotonic() - started
        response = attempt.collected(event, ex)
        self._release(link, ex)
        return response

    async def _answer(self, attempt: Attempt, link: AsyncLink, ex: Exchange, t: Timeout,
                      collect: bool, started: float | None = None) -> Response:
        """The response head of a request in flight (`collect`: once its whole answer came);
        raises Replay when it must be sent again. `started`: when it was sent, if not now."""
        if started is None:
            started = monotonic()
        events = ex.events
        try:
            if collect:  # the whole answer is wanted: one wake-up, at its end (`wait_end`)
                ex.collect = True
                while not ex.ended and ex.error is None:
                    await link.wait_events(ex, t.read)
            # The head is never Data: nothing to account for when it is taken here.
            event = events.popleft() if events else await link.next_event(ex, t.read)
            while type(event) is InformationalResponse:
                event = events.popleft() if events else await link.next_event(ex, t.read)
            ex.head_taken = True  # (out of `events`: see `Link.fail`)
        except Replay:
            self._replaying(link, attempt, ex)
            raise
        except BaseException as exc:
            self._give_up(link, ex, exc, t.read)
            raise
        ex.info.elapsed = monotonic() - started
        if collect and ex.ended and not link.reading_paused:
            # The whole answer is here: the content without a body stream, and
            # the connection goes back now.
            response = attempt.collected(event, ex)
            self._release(link, ex)
            return response
        body = _AsyncBody(self, link, ex, t.read)
        return attempt.response(event, ex.info, body, await body.aread_all() if collect else None)

    def _acquire_idle(self, attempt: Attempt) -> AsyncLink | None:
        """`_acquire`'s common cases without a coroutine: an idle connection or a
        pipeline to join, when nothing is due to expire; else None (and `_acquire`
        does it all)."""
        now = monotonic()
        link = self._ready(attempt, now)
        return None if link is None else self._probed(link, now, attempt.prepared.method)

    async def _acquire(self, attempt: Attempt, t: Timeout, block: bool = True) -> AsyncLink | None:
        method = attempt.prepared.method
        deadline = None if t.pool is None else monotonic() + t.pool
        while True:
            now = monotonic()
            for expired in self._expired(now):
                expired.close()
            waiter = Waiter()
            got = self._take(attempt, waiter, now, deadline, block)
            if got is None:
                return None
            if got is waiter:
                waiter.signal = asyncio.get_running_loop().create_future()
                got = await self._wait(waiter, deadline, attempt.pipelinable)
            if not isinstance(got, AsyncLink):
                return await self._dial(attempt, got, t)
            if self._probed(got, monotonic(), method) is not None:
                return got

    async def _wait(self, waiter: Waiter, deadline: float | None, pipelinable: bool) -> Any:
        """Wait to be woken with an action, until the deadline (PoolTimeout). The
        future is awaited bare, with a timer of the loop's to end the wait: a waiter
        costs no task of its own (a gather of thousands of requests waits here)."""
        future = waiter.signal
        timer = None
        if deadline is not None:
            timer = future.get_loop().call_later(max(0.0, deadline - monotonic()), _time_out, future)
        try:
            result = await future
        except BaseException:  # cancelled: give back what it was woken with, if anything
            self._stop_waiting(waiter, pipelinable)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        return self._waited(waiter, result is TIMED_OUT)

    async def _dial(self, attempt: Attempt, action: Any, t: Timeout) -> AsyncLink:
        """Open a connection for the request (after closing the one to evict, if any)."""
        self._evict(action)
        origin = attempt.where.origin
        tries = 0
        while True:
            try:
                link = await self._open(origin, t)
                break
            except BaseException as exc:
                delay = self._retry_delay(origin, tries, exc)
                if delay is None:
                    raise
            try:
                await asyncio.sleep(delay)
            except BaseException:  # cancelled while backing off: the dial's place goes back
                self._dial_failed(origin)
                raise
            tries += 1
        self._connected(origin, link, attempt.pipelinable)
        return link

    def _protocol(self) -> _Protocol:
        """The protocol of a new connection: see `_BufferedProtocol`."""
        if _stock(asyncio.get_running_loop()):
            return _BufferedProtocol(self._read_buffer)
        return _Protocol()

    async def _open(self, origin: Origin, t: Timeout) -> AsyncLink:
        options = self._options
        loop = asyncio.get_running_loop()
        proxy = options.proxy
        host, port = (origin.host, origin.port) if proxy is None else (proxy.origin.host, proxy.origin.port)
        tls = origin.scheme == "https"
        multiplex = self._state.may_multiplex(origin)
        direct_tls = options.tls_context(multiplex) if tls and proxy is None else None
        try:
            transport, protocol = await asyncio.wait_for(loop.create_connection(
                self._protocol, host, port, ssl=direct_tls,
                server_hostname=origin.host if direct_tls is not None else None), t.connect)
        except asyncio.TimeoutError:
            raise ConnectTimeout(f"connecting to {host}:{port} took longer than {t.connect} s") from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise ConnectError(f"TLS with {origin.host}:{origin.port} failed: {exc}") from exc
        except OSError as exc:
            raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        assert isinstance(protocol, _Protocol)
        if proxy is not None and tls:
            try:
                transport = await asyncio.wait_for(
                    self._tunnel(transport, protocol, Tunnel(origin, proxy.authorization), origin,
                                 multiplex),
                    t.connect)
            except asyncio.TimeoutError:
                transport.close()
                raise ConnectTimeout(f"opening a tunnel to {origin.host}:{origin.port} took longer "
                                     f"than {t.connect} s") from None
            except BaseException:
                transport.close()
                raise
        link: AsyncLink
        if self._multiplexed(origin, transport.get_extra_info("ssl_object")):
            from .aio_h2 import AsyncH2Link
            link = AsyncH2Link(transport, self._new_session(origin), next(self._numbers),
                               options.replay_unsafe, loop, self)
        else:
            link = AsyncLink(transport, self._new_connection(origin), next(self._numbers),
                             options.replay_unsafe, loop)
        protocol.link = link
        if protocol.early and link.conn.multiplexed:  # (an HTTP/1.1 server sends nothing first)
            link.on_data(b"".join(protocol.early))
        protocol.early.clear()
        if protocol.is_lost:  # (closed during the handshake, after its last callback)
            link.on_lost(protocol.lost)
        return link

    async def _tunnel(self, transport: Any, protocol: _Protocol, tunnel: Tunnel,
                      origin: Origin, multiplex: bool) -> Any:
        """Open the CONNECT tunnel, then TLS with the origin over it; the TLS transport."""
        handshake = _Handshake(tunnel, asyncio.get_running_loop())
        protocol.link = handshake
        transport.write(tunnel.request)
        try:
            await handshake.done
        finally:
            protocol.link = None
        try:
            tls_transport = await asyncio.get_running_loop().start_tls(
                transport, protocol, self._options.tls_context(multiplex), server_hostname=origin.host)
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            raise ConnectError(f"TLS with {origin.host}:{origin.port} failed: {exc}") from exc
        if tls_transport is None:  # (the loop's type allows it; a closed transport)
            raise ConnectError(f"TLS with {origin.host}:{origin.port} failed: the connection closed")
        return tls_transport

    def _give_up(self, link: AsyncLink, ex: Exchange, error: BaseException,
                 timeout: float | None) -> None:
        """The caller of `ex` stops waiting for its answer, stopped by `error`."""
        self._abandon(link, [ex], error, timeout)

    def _abandon(self, link: AsyncLink, gone: list[Exchange], error: BaseException,
                 timeout: float | None) -> None:
        """The callers of the exchanges `gone` on `link` stop waiting, stopped by `error`.

        Answers cut off leave the connection in an unknown state: it is closed,
        and its place in the pool is free at once. But when the requests were
        cancelled (`task.cancel()`, `asyncio.timeout`, `wait_for`) and others'
        requests are pipelined on the same connection, closing would cut off the
        others' answers, and no caller may see another's cancellation: the
        answers are read off and dropped in the background instead, up to
        DRAIN_LIMIT bytes of body each, and the leases go back at their ends.
        """
        pending = [ex for ex in gone if ex.rid >= 0 and not ex.ended and ex.error is None]
        others = len(link.exchanges) - len(pending) - link.reading_off  # with a live caller
        # (HTTP/2: `cut` resets a stream alone: nothing to read off.)
        if (isinstance(error, asyncio.CancelledError) and pending and not link.closed and others > 0
                and not link.conn.multiplexed):
            for ex in gone:
                if ex in pending:
                    link.reading_off += 1  # now: a caller giving up next must count it
                    task = link.loop.create_task(self._read_off(link, ex, timeout))
                    self._reading_off.add(task)
                    task.add_done_callback(self._reading_off.discard)
                else:
                    self._release(link, ex)
        else:
            for ex in gone:
                self._release(link, ex)

    async def _read_off(self, link: AsyncLink, ex: Exchange, timeout: float | None) -> None:
        """Read the answer of a cancelled caller to its end and drop it (see `_abandon`)."""
        budget = DRAIN_LIMIT
        ex.collect = False  # woken at each batch of events, to keep count
        try:
            while not ex.ended and ex.error is None:
                await link.wait_events(ex, timeout)
                for event in ex.events:
                    budget -= data_size(event)
                ex.events.clear()
                ex.buffered = 0
                if budget < 0 and not ex.ended:
                    link.abort(ReadError("the answer of a cancelled request was too long to read off"))
        finally:
            link.reading_off -= 1
            self._release(link, ex)
