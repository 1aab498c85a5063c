"""The sync pool: `Pool`, on blocking sockets, safe to share between threads.

Strategy: `PoolState` decides, under one lock, where each request goes; each
connection (`_SyncLink`) guards its `Connection` with its own lock. Writes
are serialized per connection (request ids are given in the order the heads
reach the socket). Reads follow the answers' order: only the caller whose
answer comes next on the connection reads from the socket, and events for
requests behind it are set aside for their callers, so a pipelined caller
never buffers a body that is not its own; a caller that waits sleeps on its
own event, woken when something came for it or its turn to read came.

Threads pipeline by sharing a connection; one thread pipelines with
`request_all()`, which puts requests in flight while the pool can take them,
writes their heads together and reads the oldest answer when it cannot.

The locks are `hopwire._pool.locks.Lock`: a C lock when extensions are on (a
`with` block on it costs the compiled pool 1.1k instructions, on
threading.Lock 1.46k). Every lock is taken with `with`, never with
`acquire()` then `try`: in bytecode, a signal handler (Ctrl-C) may raise
between the two and leave the lock held for good.

Plain sockets stay blocking and the kernel enforces read and write timeouts
(SO_RCVTIMEO, SO_SNDTIMEO), set only when they change; TLS sockets use
Python's socket timeout. Before an idle connection is reused, a zero-timeout
poll tells whether the server closed it meanwhile (or sent something
unasked): then it is dropped, not used. The poll is skipped for an idempotent
request within QUIET_REUSE of the previous answer's end (see there).
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from time import monotonic
from typing import Any

from .._wire import rules as R
from .._wire.parser import Data, InformationalResponse
from .._wire.parser import Response as ResponseEvent
from .base import (
    CONNECT_BACKOFF,
    DRAIN_LIMIT,
    ENDED,
    READ_SIZE,
    SMALL_BODY,
    Attempt,
    Link,
    PoolOptions,
    Replay,
    RequestSpec,
    abandoned,
    give_back,
    plan_batch,
    record,
)
from .connection import Connection, ConnectionStateError, Exchange, PreparedRequest
from .._errors import (
    ConnectError,
    ConnectTimeout,
    HopwireError,
    PoolClosed,
    PoolTimeout,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    WriteError,
    WriteTimeout,
)
from .locks import Lock
from .models import (
    BodyStream,
    HeaderInput,
    Response,
    Timeout,
    TimeoutInput,
    as_timeout,
)
from .state import Entry, EvictThenDial, Origin, Use, Wait, Wakeups
from .._wire.writer import Body

_POLLIN = getattr(select, "POLLIN", 1)
# A connection whose last answer ended less than this many seconds ago is reused
# without the poll for an idempotent request: in a loop of requests the poll was
# a sixth of the pool's own CPU per request, and servers close idle connections
# after seconds, not microseconds. A close that does fall in the window is met on
# the read, before any answer byte, and the request is replayed on a new
# connection (RFC 9112 §9.3.1), as after any race with the poll. Never after an
# answer to HEAD: a server that sends a body after it (waitress) must be caught by
# the poll, not parsed as the next answer.
QUIET_REUSE = 0.001
_IDEMPOTENT = R.IDEMPOTENT_METHODS
_UNSET: Any = object()
_OS_TIMEOUTS = hasattr(socket, "SO_RCVTIMEO") and hasattr(socket, "SO_SNDTIMEO")


def _timeval(seconds: float | None) -> bytes:
    """SO_RCVTIMEO / SO_SNDTIMEO's value: a struct timeval (Windows: DWORD milliseconds).

    Zero means "wait forever", so a timeout of None is 0 and a positive one
    is at least one microsecond (one millisecond).
    """
    if sys.platform == "win32":
        return struct.pack("I", 0 if seconds is None else max(1, round(seconds * 1000)))
    if seconds is None:
        return struct.pack("ll", 0, 0)
    whole = int(seconds)
    micros = max(1, round((seconds - whole) * 1_000_000)) if whole == 0 else round((seconds - whole) * 1_000_000)
    return struct.pack("ll", whole, micros)


class _Waiter:
    """A caller queued by PoolState: woken with the action it was given."""

    __slots__ = ("event", "action", "link")

    def __init__(self) -> None:
        self.event: threading.Event | None = None
        self.action: Any = None
        self.link: _SyncLink | None = None  # of a Use action, looked up under the lock


class _SyncLink(Link):
    """A pooled connection on a blocking socket."""

    __slots__ = ("sock", "lock", "reading", "sleepers", "write_lock", "out", "out_timeout", "timeout",
                 "poller", "quiet_until",
                 "os_timeouts", "read_timeout", "write_timeout")

    def __init__(self, sock: socket.socket, conn: Connection, number: int, replay_unsafe: bool) -> None:
        super().__init__(conn, number, replay_unsafe)
        self.sock = sock
        self.lock = Lock()  # guards the Connection, the exchanges and the sleepers
        self.reading = False  # a caller is in recv() for this connection
        self.sleepers: list[Exchange] = []  # exchanges whose callers wait for their `waiter` event
        self.write_lock = Lock()
        self.out: list[bytes] = []  # deferred heads of pipelined requests (see send)
        self.out_timeout: Timeout | None = None
        self.poller: Any = None
        self.quiet_until = 0.0  # see QUIET_REUSE
        # Python's own socket timeout polls before every send and recv: two
        # more system calls per request. A plain socket stays blocking and
        # the kernel times out its reads and writes (SO_RCVTIMEO,
        # SO_SNDTIMEO); a TLS socket keeps Python's timeout, one value for
        # both directions.
        self.os_timeouts = _OS_TIMEOUTS and not isinstance(sock, ssl.SSLSocket)
        if self.os_timeouts:
            sock.settimeout(None)
        self.timeout: Any = sock.gettimeout()
        self.read_timeout: Any = _UNSET
        self.write_timeout: Any = _UNSET

    def _settimeout(self, timeout: float | None) -> None:
        if timeout != self.timeout:
            self.sock.settimeout(timeout)
            self.timeout = timeout

    def _set_read_timeout(self, timeout: float | None) -> None:
        if timeout != self.read_timeout:
            if self.os_timeouts:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(timeout))
            else:
                self._settimeout(timeout)
            self.read_timeout = timeout if self.os_timeouts else _UNSET

    def _set_write_timeout(self, timeout: float | None) -> None:
        if timeout != self.write_timeout:
            if self.os_timeouts:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(timeout))
            else:
                self._settimeout(timeout)
            self.write_timeout = timeout if self.os_timeouts else _UNSET

    def check_peer(self) -> bool:
        """`peer_gone()` while nothing is in flight, under the link's lock: callers woken
        together may check at once, and bytes that answer a request just sent by another
        caller are not taken for a closed connection."""
        with self.lock:
            if self.exchanges:
                return False
            poller = self.poller
            if poller is not None:
                try:
                    if not poller.poll(0):
                        return False  # the common case: nothing came while it was idle
                except (OSError, ValueError):
                    return True
            return self.peer_gone()

    def gone(self, now: float, method: bytes) -> bool:
        """Before the idle connection is reused for `method`: did the server close it? Not
        asked (False) within QUIET_REUSE of the previous answer, for an idempotent method."""
        if now < self.quiet_until and method in _IDEMPOTENT:
            return False
        return self.check_peer()

    def peer_gone(self) -> bool:
        """Did the idle connection become readable (closed by the server, or garbage)?"""
        try:
            if self.poller is None:
                if hasattr(select, "poll"):
                    self.poller = select.poll()
                    self.poller.register(self.sock, _POLLIN)
            if self.poller is not None:
                readable = bool(self.poller.poll(0))
            else:
                readable = bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        if isinstance(self.sock, ssl.SSLSocket):
            # TLS 1.3 servers send session tickets after the handshake: readable
            # does not mean closed. Read what is there, without blocking.
            try:
                self._settimeout(0.0)
                self.sock.recv(READ_SIZE)
            except ssl.SSLWantReadError:
                return False
            except OSError:
                return True
            return True  # closed (b"") or bytes nobody asked for
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                # shutdown() first: a close() alone does not wake a thread
                # blocked in recv() on this socket (Pool.close() from another thread).
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                self.sock.close()
            except OSError:
                pass

    # -- writing -------------------------------------------------------------------

    def send(self, ex: Exchange, prepared: PreparedRequest, body: Body, timeout: Timeout,
             defer: bool = False) -> None:
        """Record the request and write it; a failed write is kept for after the answer is read.

        `defer` (a batch, `request_all`): a bodiless request waits in `out`
        for `flush()` (or the next write or read on the connection, or a
        connect of the pool), so that the batch's heads leave in one system
        call, the first included (a first head alone costs a write, and the
        server a read and a write, per batch).
        """
        conn = self.conn
        with self.write_lock:
            with self.lock:
                # (`_ended` is set exactly when the state is in ENDED.)
                if self.closed or conn._ended is not None:
                    raise ConnectionStateError("the connection ended before the request was sent")
                record(self, ex, prepared)
                rid = ex.rid
            if defer and body is None:
                self.out.append(prepared.head)
                self.out_timeout = timeout
                return
            try:
                if timeout.write != self.write_timeout:
                    self._set_write_timeout(timeout.write)
                if self.out:
                    self._flush_locked()
                if body is None:
                    self.sock.sendall(prepared.head)
                else:
                    self._write(ex, rid, prepared, body)
            except (socket.timeout, BlockingIOError):  # BlockingIOError: SO_SNDTIMEO ran out
                ex.write_error = WriteTimeout(f"writing the request took longer than {timeout.write} s")
                self.abort(ex.write_error)
            except (OSError, ssl.SSLError) as exc:
                # The server may have answered before closing (413 to a big
                # upload): the answer is read before this error is raised.
                ex.write_error = WriteError(f"writing the request failed: {exc}")
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def flush(self, timeout: Timeout) -> None:
        """Write the deferred heads (see `send`)."""
        with self.write_lock:
            if not self.out:
                return
            try:
                self._set_write_timeout(timeout.write)
                self._flush_locked()
            except (socket.timeout, BlockingIOError):
                self.abort(WriteTimeout(f"writing the requests took longer than {timeout.write} s"))
            except (OSError, ssl.SSLError):
                # Like a failed write in send(): what the server answered
                # before closing is still read; the rest is left unanswered.
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def _flush_locked(self) -> None:
        data = b"".join(self.out)
        self.out.clear()
        self.sock.sendall(data)

    def _write(self, ex: Exchange, rid: int, prepared: PreparedRequest, body: Body) -> None:
        sock, conn = self.sock, self.conn
        if body is None:
            sock.sendall(prepared.head)
            return
        if isinstance(body, (bytes, bytearray, memoryview)):
            with self.lock:
                data = conn.send_body(rid, body)
                tail = conn.end_body(rid)
            if len(data) <= SMALL_BODY:
                sock.sendall(prepared.head + data + tail)
            else:
                sock.sendall(prepared.head)
                sock.sendall(data)
                if tail:
                    sock.sendall(tail)
            return
        if not isinstance(body, Iterable):
            raise TypeError("an async iterable body needs an AsyncPool")
        ex.may_replay = False  # an iterator cannot be sent twice
        sock.sendall(prepared.head)
        for piece in body:
            if not isinstance(piece, (bytes, bytearray, memoryview)):
                raise TypeError(f"a body iterable must yield bytes, not {type(piece).__name__}")
            with self.lock:
                data = conn.send_body(rid, piece)
            if data:
                sock.sendall(data)
        with self.lock:
            tail = conn.end_body(rid)
        if tail:
            sock.sendall(tail)

    # -- reading -------------------------------------------------------------------

    def next_event(self, ex: Exchange, timeout: float | None) -> Any:
        """The next event of the exchange's answer, reading the socket when it is its turn.

        A caller whose answer is not next sleeps on its own event, set only
        when something came for it or its turn to read came: sixteen
        pipelined callers do not all wake at every read.
        """
        lock = self.lock
        while True:
            with lock:
                if ex.events:
                    return ex.events.popleft()
                if ex.error is not None:
                    raise _caller_error(ex)
                if ex.ended or ex.rid not in self.exchanges:
                    raise ConnectionStateError("the answer was read to its end already")
                read = not self.reading and next(iter(self.exchanges)) == ex.rid
                if read:
                    self.reading = True
                else:
                    wake = ex.waiter
                    if wake is None:
                        wake = ex.waiter = threading.Event()
                    else:
                        wake.clear()
                    self.sleepers.append(ex)
            if read:  # read once and hand out what came (this caller's next event, if it came)
                if self.out and self.out_timeout is not None:  # a request waits in `out` for its answer
                    self.flush(self.out_timeout)
                error: TransportError | None = None
                data = b""
                peer_closed = False
                try:
                    if timeout != self.read_timeout:
                        self._set_read_timeout(timeout)
                    data = self.sock.recv(READ_SIZE)
                except (socket.timeout, BlockingIOError):  # BlockingIOError: SO_RCVTIMEO ran out
                    error = ReadTimeout(f"no byte of the answer within {timeout} s")
                except (OSError, ssl.SSLError) as exc:
                    error = ReadError(f"reading the answer failed: {exc}")
                    peer_closed = True
                with lock:
                    self.reading = False
                    if self.closed:  # closed under the read (Pool.close): its exchanges are failed already
                        self._abort_locked(ReadError("the connection was closed"))
                    elif error is not None:
                        self._abort_locked(error, peer_closed)
                    elif data:  # `_receive_locked`, the common case inline
                        conn = self.conn
                        try:
                            conn._receive_into(data, self.exchanges)  # (`receive_data` and `dispatch` in one)
                        except RemoteProtocolError as exc:
                            self.broke(exc)
                            self.close()
                        else:
                            if conn._ended is not None:
                                self.fail(None)
                                self.close()
                    else:
                        self._receive_locked(data)
                    if self.sleepers:
                        self._wake_sleepers_locked()
                    if ex.events:
                        return ex.events.popleft()
                continue
            woken = wake.wait(timeout)
            with lock:
                if ex in self.sleepers:
                    self.sleepers.remove(ex)
                if not woken and not ex.events and ex.error is None:
                    self._abort_locked(ReadTimeout(f"no answer within {timeout} s"))

    def _wake_sleepers_locked(self) -> None:
        """Wake the callers that got events or an error, and the one whose turn to read came."""
        head = None if self.reading else next(iter(self.exchanges), None)
        for ex in self.sleepers:
            if ex.events or ex.error is not None or ex.rid == head:
                ex.waiter.set()

    def _receive_locked(self, data: bytes) -> None:
        conn = self.conn
        try:
            tagged = conn.receive_data(data) if data else conn.receive_eof()
        except RemoteProtocolError as exc:
            self.broke(exc)
            self.close()
            return
        self.dispatch(tagged)
        if conn.state in ENDED:
            self.fail(None)
            self.close()

    def abort(self, error: TransportError, peer_closed: bool = False) -> None:
        with self.lock:
            self._abort_locked(error, peer_closed)

    def _abort_locked(self, error: TransportError, peer_closed: bool = False) -> None:
        """The connection is in an unknown state: close it; the answer under way gets `error`."""
        if self.exchanges:
            self.fail(error, peer_closed)
        self.conn.close()
        self.close()
        if self.sleepers:
            self._wake_sleepers_locked()


def _caller_error(ex: Exchange) -> BaseException:
    error = ex.error
    assert error is not None
    if isinstance(error, Replay):
        return error
    if ex.write_error is not None and not ex.events and not isinstance(error, RemoteProtocolError):
        return ex.write_error
    return error


class _Body(BodyStream):
    """The body of a streamed sync response: reads events, gives the connection back at the end."""

    __slots__ = ("pool", "link", "ex", "timeout", "closed")
    is_async = False

    def __init__(self, pool: Pool, link: _SyncLink, ex: Exchange, timeout: float | None) -> None:
        self.pool = pool
        self.link = link
        self.ex = ex
        self.timeout = timeout
        self.closed = False

    def next_data(self) -> bytes | None:
        if self.closed:
            return None
        try:
            event = self.link.next_event(self.ex, self.timeout)
        except BaseException:
            self._finish()
            raise
        if type(event) is Data:
            return bytes(event.data)
        self._finish()  # EndOfMessage
        return None

    def read_all(self) -> bytes:
        parts = []
        link, ex, timeout = self.link, self.ex, self.timeout
        events = ex.events
        try:
            while True:
                # Only this caller takes from its deque (others only append):
                # what is there already is taken without the link's lock.
                event = events.popleft() if events else link.next_event(ex, timeout)
                if type(event) is not Data:
                    break
                parts.append(event.data)
        finally:
            self._finish()
        return parts[0] if len(parts) == 1 and type(parts[0]) is bytes else b"".join(parts)

    def close(self) -> None:
        """Drain what is left if it is small, else close the connection; then give it back."""
        if self.closed:
            return
        ex, link = self.ex, self.link
        try:
            budget = DRAIN_LIMIT
            while not (ex.ended and not ex.events):
                if budget < 0 or ex.error is not None:
                    link.abort(ReadError("the response was closed before its end"))
                    break
                event = link.next_event(ex, self.timeout)
                budget -= len(getattr(event, "data", b""))
        except HopwireError:
            link.abort(ReadError("the response was closed before its end"))
        finally:
            self._finish()

    def _finish(self) -> None:
        if not self.closed:
            self.closed = True
            self.pool._release(self.link, self.ex)


class Pool:
    """A thread-safe pool of HTTP/1.1 connections; see docs/pool.md.

    Options: `max_connections` (global cap), `max_connections_per_host`,
    `pipeline_depth` (requests in flight per connection; 1 = no pipelining),
    `keepalive_expiry` (seconds an idle connection is kept, shortened by a
    server's `Keep-Alive: timeout=`), `timeout` (a `Timeout` or seconds for
    all of connect, read, write and pool), `retries` (connect attempts after
    the first), `proxy` (`http://[user:pass@]host:port`), `ssl_context` (for
    https; default: verification with the system's CAs) and `replay_unsafe`
    (also send again non-idempotent requests of which no answer byte came).
    Through a plain-http `proxy`, a connection is kept only when the proxy's
    answers carry `Via` (what HTTP/1.1 proxies add, and relays that cannot
    keep a connection do not); `trust_proxy_keep_alive=True` keeps it for any
    HTTP/1.1 answer, for a known proxy that leaves Via out.
    """

    def __init__(self, *, max_connections: int = 100, max_connections_per_host: int = 10,
                 pipeline_depth: int = 1, keepalive_expiry: float = 5.0,
                 timeout: TimeoutInput = 5.0, retries: int = 0, proxy: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, replay_unsafe: bool = False,
                 trust_proxy_keep_alive: bool = False) -> None:
        self._options = PoolOptions(
            max_connections=max_connections, max_connections_per_host=max_connections_per_host,
            pipeline_depth=pipeline_depth, keepalive_expiry=keepalive_expiry, timeout=timeout,
            retries=retries, proxy=proxy, ssl_context=ssl_context, replay_unsafe=replay_unsafe,
            trust_proxy_keep_alive=trust_proxy_keep_alive)
        self._state = self._options.new_state()
        self._pipelining = pipeline_depth > 1
        self._lock = Lock()
        self._numbers = iter(range(1, 1 << 62))
        self._next_expiry = 0.0
        self._closed = False

    # -- public API ----------------------------------------------------------------

    def request(self, method: str | bytes, url: str, *, headers: HeaderInput = None,
                body: Body = None, timeout: TimeoutInput | None = None) -> Response:
        """Send a request and read its whole answer."""
        attempt = Attempt(method, url, headers, body, self._options.proxy)
        t = self._options.timeout if timeout is None else as_timeout(timeout)
        if body is None and not self._pipelining:
            response = self._request_idle(attempt, t)
            if response is not None:
                return response
        return self._send(attempt, t, True)

    @contextmanager
    def stream(self, method: str | bytes, url: str, *, headers: HeaderInput = None,
               body: Body = None, timeout: TimeoutInput | None = None) -> Iterator[Response]:
        """Send a request; the response's body is read with `read()` or `iter_bytes()`."""
        attempt = Attempt(method, url, headers, body, self._options.proxy)
        response = self._send(attempt, self._options.timeout if timeout is None else as_timeout(timeout))
        try:
            yield response
        finally:
            response.close()

    def request_all(self, requests: Iterable[RequestSpec], *,
                    timeout: TimeoutInput | None = None) -> list[Response | HopwireError]:
        """Send every request and read every answer, pipelining where the pool allows.

        Each request is `(method, url)` or `(method, url, headers, body)`. The
        answers come back in the order of `requests`, each read whole; a
        request that failed has its `HopwireError` in its place. This is how
        one thread pipelines: requests are put in flight without waiting for
        as long as the pool can take them (new connections up to the caps,
        pipelines up to `pipeline_depth`), their heads leave together, and
        the oldest answer is read whenever no request can go, which makes
        room for the next ones.
        """
        t = self._options.timeout if timeout is None else as_timeout(timeout)
        results, todo = plan_batch(requests, self._options.proxy)
        in_flight: deque[tuple[int, Attempt, _SyncLink, Exchange]] = deque()
        try:
            self._run_batch(results, todo, in_flight, t)
        except BaseException:  # interrupted: the connections under way are closed
            for _, _, link, ex in in_flight:
                self._release(link, ex)
            raise
        return results  # every slot is filled by now

    def _run_batch(self, results: list[Any], todo: deque[tuple[int, Attempt]],
                   in_flight: deque[tuple[int, Attempt, _SyncLink, Exchange]], t: Timeout) -> None:
        """`request_all`'s loop; what is in `in_flight` when it raises is the caller's
        to give back."""
        deferred: list[_SyncLink] = []  # links whose `out` holds heads of this batch
        while todo or in_flight:
            while todo:
                index, attempt = todo[0]
                try:
                    started = self._start(attempt, t, block=not in_flight, defer=True)
                except HopwireError as exc:
                    todo.popleft()
                    results[index] = exc
                    continue
                if started is None:
                    break  # the pool is full: read an answer first
                todo.popleft()
                in_flight.append((index, attempt, *started))
                link = started[0]
                if link.out and link not in deferred:
                    deferred.append(link)
            if not in_flight:
                continue
            if deferred:
                for link in deferred:
                    if link.out:
                        link.flush(t)
                deferred.clear()
            index, attempt, link, ex = in_flight.popleft()
            try:
                results[index] = self._answer(attempt, link, ex, t, True)
            except Replay:
                todo.appendleft((index, attempt))
            except HopwireError as exc:
                results[index] = exc

    def close(self) -> None:
        """Close every connection; requests in flight fail, new ones raise PoolClosed."""
        with self._lock:
            self._closed = True
            waiters = self._state.waiting
            entries = self._state.close()
            for waiter in waiters:
                assert isinstance(waiter, _Waiter) and waiter.event is not None
                waiter.event.set()  # with no action: PoolClosed
        for link in [entry.link for entry in entries]:
            link.abort(ReadError("the pool was closed"))

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def connections(self) -> int:
        """Connections open or being opened."""
        return self._state.count()

    # -- one request -----------------------------------------------------------------

    def _send(self, attempt: Attempt, t: Timeout, collect: bool = False) -> Response:
        """Send the request and read its answer's head (`collect`: all of it), again for
        as long as it is to be replayed."""
        while True:
            started = self._start(attempt, t, block=True)
            assert started is not None
            try:
                return self._answer(attempt, *started, t, collect)
            except Replay:
                continue

    def _request_idle(self, attempt: Attempt, t: Timeout) -> Response | None:
        """`request()`'s common case, `_start` and `_acquire` inline: a bodiless request
        on an idle connection of a pool that does not pipeline. None, having done
        nothing that the general path would not do again, when that is not the case
        (or the request is to be sent again)."""
        now = monotonic()
        with self._lock:
            if self._closed or now >= self._next_expiry or attempt.fresh:
                return None
            prepared = attempt.prepared
            entry = self._state.acquire_now(attempt.where.origin, prepared.method, now,
                                            expect_continue=prepared.expect_continue,
                                            upgrade=prepared.upgrade)
            if entry is None:
                return None
            link = entry.link
        if link.gone(now, prepared.method):  # an idle connection: nothing in flight on it
            self._lose(link)
            return None
        ex = self._put(attempt, link, link.conn.answered > 0, t)
        if ex is None:
            return None
        try:
            return self._answer(attempt, link, ex, t, True)
        except Replay:
            return None

    def _start(self, attempt: Attempt, t: Timeout, block: bool,
               defer: bool = False) -> tuple[_SyncLink, Exchange] | None:
        """Put the request in flight on a connection; None if that means waiting and not `block`."""
        while True:
            got = self._acquire(attempt, t, block)
            if got is None:
                return None
            link, reused = got
            ex = self._put(attempt, link, reused, t, defer)
            if ex is None:
                continue
            return link, ex

    def _put(self, attempt: Attempt, link: _SyncLink, reused: bool, t: Timeout,
             defer: bool = False) -> Exchange | None:
        """Record and write the request on the link it was given, and tell the pool state;
        None when it lost a race with a reader that ended or filled the connection (the
        link is given back)."""
        ex = attempt.exchange(link.number, reused)
        try:
            link.send(ex, attempt.prepared, attempt.body, t, defer)
        except ConnectionStateError:
            self._release(link, sent=False, pipelinable=attempt.pipelinable)
            return None
        except BaseException:
            self._release(link, sent=ex.rid >= 0, ex=ex, pipelinable=attempt.pipelinable)
            raise
        if self._pipelining or self._state._waiters:  # (`has_waiters`, without the property)
            with self._lock:  # a waiter may pipeline behind it now
                wakeups = self._state.sent(link.entry, monotonic(),  # type: ignore[arg-type]
                                           pipelinable=attempt.pipelinable)
                if wakeups:
                    self._wake(wakeups)
        return ex

    def _answer(self, attempt: Attempt, link: _SyncLink, ex: Exchange, t: Timeout,
                collect: bool = False) -> Response:
        """The response head of a request in flight (`collect`: and its whole content);
        raises Replay when it must be sent again."""
        started = monotonic()
        try:
            # Only this caller takes from its deque: what is there is taken without the lock.
            event = ex.events.popleft() if ex.events else link.next_event(ex, t.read)
            while type(event) is InformationalResponse:
                event = link.next_event(ex, t.read)
        except Replay:
            self._release(link)
            attempt.replayed(ex.info.pipelined > 0, self._state.next_serial)
            raise
        except BaseException:
            self._release(link, ex)
            raise
        ended_at = monotonic()
        ex.info.elapsed = ended_at - started
        if collect and ex.ended:
            # The whole answer came already (the common case): its content is
            # here, and the connection goes back now.
            if attempt.prepared.method != b"HEAD":
                link.quiet_until = ended_at + QUIET_REUSE
            response = attempt.collected(event, ex)
            self._release(link, ex)
            return response
        body = _Body(self, link, ex, t.read)
        response = attempt.response(event, ex.info, body)
        if collect:
            response._content = body.read_all()
        return response

    def _acquire(self, attempt: Attempt, t: Timeout,
                 block: bool = True) -> tuple[_SyncLink, bool] | None:
        """A connection to send on (and whether it answered before): reused, pipelined or
        new; None when none is free now and not `block`."""
        origin = attempt.where.origin
        prepared = attempt.prepared
        state = self._state
        now = monotonic()
        deadline = None if t.pool is None else now + t.pool
        while True:
            expired: list[_SyncLink] | None = None
            with self._lock:
                if self._closed:
                    raise PoolClosed("the pool is closed")
                if now >= self._next_expiry:
                    expired = self._expire(now)
                # The common cases first, no waiter made: an idle connection, or
                # (at the caps) a pipeline to join.
                ready = None if attempt.fresh else state.acquire_now(
                    origin, prepared.method, now, expect_continue=prepared.expect_continue,
                    upgrade=prepared.upgrade, min_serial=attempt.min_serial)
                if ready is not None:
                    kind: Any = Use
                    link = ready.link
                else:
                    waiter = _Waiter()
                    # Its event exists before it is queued: a waiter woken without one
                    # (after an interrupt in between, in the pure twin) would strand its lease.
                    waiter.event = threading.Event()
                    action = state.acquire(waiter, origin, prepared.method, now, deadline=deadline,
                                           expect_continue=prepared.expect_continue,
                                           upgrade=prepared.upgrade, fresh=attempt.fresh,
                                           min_serial=attempt.min_serial)
                    kind = type(action)
                    if kind is Use:
                        link = action.entry.link  # type: ignore[union-attr]
                    elif kind is Wait and not block:
                        self._wake(state.cancel(waiter, now) or [])
                        return None
            if expired:
                for expired_link in expired:
                    expired_link.close()
            if kind is Wait:
                action = self._wait(waiter, deadline, attempt.pipelinable)
                now = monotonic()  # (for QUIET_REUSE)
                kind = type(action)
                if kind is Use:
                    assert waiter.link is not None
                    link = waiter.link
            if kind is Use:
                in_flight = len(link.conn._in_flight)
                if in_flight == 0 and link.gone(now, prepared.method):
                    self._lose(link)
                    now = monotonic()
                    continue
                return link, in_flight > 0 or link.conn.answered > 0
            if kind is EvictThenDial:
                action.entry.link.close()  # type: ignore[union-attr]
            # A connect may take a while: heads a batch deferred (see `_SyncLink.send`)
            # leave before it, so that their servers need not wait for it.
            try:
                with self._lock:  # (an entry appears before its link is set: see `_dial`)
                    deferred = [e.link for e in state.entries if e.link is not None and e.link.out]
                for waiting in deferred:
                    waiting.flush(t)
            except BaseException:
                with self._lock:
                    self._wake(state.dial_failed(origin, monotonic()))
                raise
            return self._dial(origin, t, attempt.pipelinable), False

    def _wait(self, waiter: _Waiter, deadline: float | None, pipelinable: bool) -> Any:
        assert waiter.event is not None
        timeout = None if deadline is None else max(0.0, deadline - monotonic())
        try:
            woken = waiter.event.wait(timeout)
        except BaseException:  # an interrupt (Ctrl-C) while waiting: undo what it was given
            evicted = None
            with self._lock:
                held_up = self._state.cancel(waiter, monotonic())
                action = None if held_up is not None else waiter.action
                if held_up:
                    self._wake(held_up)
                if action is not None:
                    self._wake(self._state.abandon(action, monotonic(), pipelinable))
                    if isinstance(action, EvictThenDial):
                        evicted = action.entry.link
            if evicted is not None:
                evicted.close()
            raise
        if not woken:
            with self._lock:
                held_up = self._state.cancel(waiter, monotonic())
                if held_up is not None:
                    self._wake(held_up)
                    raise PoolTimeout(f"no connection available within {self._options.timeout.pool} s")
        if waiter.action is None:  # the pool was closed while waiting
            raise PoolClosed("the pool is closed")
        return waiter.action

    def _wake(self, wakeups: Wakeups) -> None:
        """Hand the woken waiters their actions (under the pool's lock)."""
        for waiter, action in wakeups:
            assert isinstance(waiter, _Waiter) and waiter.event is not None
            waiter.action = action
            if isinstance(action, Use):
                waiter.link = action.entry.link
            waiter.event.set()

    def _expire(self, now: float) -> list[_SyncLink]:
        self._next_expiry = now + 0.5
        return [entry.link for entry in self._state.expire(now)]

    def _dial(self, origin: Origin, t: Timeout, pipelinable: bool = True) -> _SyncLink:
        options = self._options
        attempt = 0
        while True:
            try:
                sock = self._open(origin, t)
                break
            except (ConnectError, ProxyError):
                if attempt >= options.retries:
                    with self._lock:
                        self._wake(self._state.dial_failed(origin, monotonic()))
                    raise
            except BaseException:
                with self._lock:
                    self._wake(self._state.dial_failed(origin, monotonic()))
                raise
            try:
                time.sleep(CONNECT_BACKOFF * (2 ** attempt))
            except BaseException:  # interrupted while backing off: the dial slot goes back
                with self._lock:
                    self._wake(self._state.dial_failed(origin, monotonic()))
                raise
            attempt += 1
        proxied = options.proxy is not None and origin.scheme == "http"
        conn = Connection(pipeline_depth=options.pipeline_depth, proxied=proxied,
                          trust_proxy=options.trust_proxy_keep_alive)
        link = _SyncLink(sock, conn, next(self._numbers), options.replay_unsafe)
        with self._lock:
            entry = self._state.connected(origin, conn, monotonic(), pipelinable=pipelinable)
            link.entry = entry
            entry.link = link
            if self._closed:
                link.close()
        return link

    def _open(self, origin: Origin, t: Timeout) -> socket.socket:
        proxy = self._options.proxy
        address = (origin.host, origin.port) if proxy is None else (proxy.origin.host, proxy.origin.port)
        try:
            sock = socket.create_connection(address, timeout=t.connect)
        except socket.timeout:
            raise ConnectTimeout(f"connecting to {address[0]}:{address[1]} took longer than "
                                 f"{t.connect} s") from None
        except OSError as exc:
            raise ConnectError(f"cannot connect to {address[0]}:{address[1]}: {exc}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy is not None and origin.scheme == "https":
                _tunnel(sock, origin, proxy.authorization, t)
            if origin.scheme == "https":
                sock = self._options.tls_context().wrap_socket(sock, server_hostname=origin.host)
        except socket.timeout:
            sock.close()
            raise ConnectTimeout(f"opening {origin.scheme}://{origin.host}:{origin.port} took "
                                 f"longer than {t.connect} s") from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            sock.close()
            raise ConnectError(f"TLS with {origin.host}:{origin.port} failed: {exc}") from exc
        except OSError as exc:
            sock.close()
            raise ConnectError(f"cannot open {origin.host}:{origin.port}: {exc}") from exc
        except BaseException:
            sock.close()
            raise
        return sock

    def _release(self, link: _SyncLink, ex: Exchange | None = None, sent: bool = True,
                 pipelinable: bool = True) -> None:
        """A caller is done with its lease on the link (`sent`: its request was recorded).

        A caller that gives up on an answer under way (`ex` recorded, not
        ended, no error: an interrupt, an exception of its own) leaves the
        connection in an unknown state: it is closed, never handed out again.
        """
        if ex is not None and not ex.ended and abandoned(link, ex):
            link.abort(ReadError("the answer was abandoned before its end"))
        with self._lock:
            wakeups, done = give_back(self._state, link, monotonic(), sent, pipelinable)
            if wakeups:
                self._wake(wakeups)
        if done:
            link.abort(ReadError("the connection was closed"))

    def _lose(self, link: _SyncLink) -> None:
        """The link died while idle: drop it from the pool.

        Another caller may have put a request in flight on it since: that one
        is failed as after a close by the server (so it may be replayed).
        """
        link.abort(ReadError("the server closed the connection"), peer_closed=True)
        entry = link.entry
        assert entry is not None
        with self._lock:
            self._wake(self._state.discard(entry, monotonic()))


def _tunnel(sock: socket.socket, origin: Origin, authorization: bytes | None, t: Timeout) -> None:
    """Open a CONNECT tunnel through the proxy on `sock` (RFC 9110 §9.3.6)."""
    authority = f"{origin.host}:{origin.port}"
    headers: list[tuple[bytes, bytes]] = []
    if authorization is not None:
        headers.append((b"Proxy-Authorization", authorization))
    conn = Connection()
    _, head = conn.send_request(b"CONNECT", authority, headers, host=authority)
    sock.settimeout(t.connect)
    sock.sendall(head)
    status = None
    while status is None or conn.state not in ENDED:
        data = sock.recv(READ_SIZE)
        try:
            tagged = conn.receive_data(data) if data else conn.receive_eof()
        except RemoteProtocolError as exc:
            raise ProxyError(f"the proxy answered CONNECT with bad HTTP: {exc.reason}") from exc
        for _, event in tagged:
            if type(event) is ResponseEvent:
                status = event.status_code
        if not data:
            break
        if status is not None and not 200 <= status < 300:
            break
    if status is None or not 200 <= status < 300 or conn.trailing_data:
        raise ProxyError(f"the proxy refused the tunnel to {authority}", status)
