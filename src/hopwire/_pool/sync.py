"""The sync pool: `Pool`, on blocking sockets, safe to share between threads.

Strategy: `PoolState` decides, under one lock, where each request goes; each
connection (`SyncLink`) guards its `Connection` with its own lock. Writes
are serialized per connection (request ids are given in the order the heads
reach the socket). Reads follow the answers' order: only the caller whose
answer comes next on the connection reads from the socket, and events for
requests behind it are set aside for their callers, so a pipelined caller
never buffers a body that is not its own; a caller that waits sleeps on its
own event, woken when something came for it or its turn to read came.

Threads pipeline by sharing a connection; one thread pipelines with
`request_all()`, which puts requests in flight while the pool can take them,
writes their heads together and reads the oldest answer when it cannot.

The locks are `hopwire._pool.locks.Lock`: a C lock when extensions are on,
cheaper to take than threading.Lock (see `lock_c.pyx`). The pool's lock is
held around the core's steps that change the pool state (`PoolBase`'s
methods marked "locked"), never around a read or a write. Every lock is
taken with `with`, never with `acquire()` then `try`: in bytecode, a signal
handler (Ctrl-C) may raise between the two and leave the lock held for good.

Plain sockets stay blocking and the kernel enforces read and write timeouts
(SO_RCVTIMEO, SO_SNDTIMEO), set only when they change; TLS sockets use
Python's socket timeout. A TLS connection that threads may share at once
(pipelined, or HTTP/2: one reads while another writes) is different: OpenSSL
allows one thread in a connection at a time (a record written during another
thread's read may be corrupted, and the server fails the connection with
bad_record_mac), so its socket is non-blocking, each TLS call holds the
link's `tls_lock`, and the waits for the socket (select) are made without it. Before an idle connection is reused, a zero-timeout
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
from typing import Any, cast

from .._errors import (ConnectError, ConnectTimeout, HopwireError, ReadError, ReadTimeout,
                       TransportError, WriteError, WriteTimeout)
from .._wire.parser import Data, InformationalResponse
from .._wire.writer import Body
from .base import (QUIET_REUSE, READ_SIZE, Attempt, Batch, BodyBase, Link, PoolBase, Replay,
                   RequestSpec, Tunnel, Waiter, caller_error, framed, record)
from .connection import Connection, ConnectionBase, ConnectionStateError, PreparedRequest
from .exchange import Exchange
from .locks import Lock
from .models import HeaderInput, Response, Timeout, TimeoutInput
from .state import Origin

_POLLIN = getattr(select, "POLLIN", 1)
_UNSET: Any = object()
_OS_TIMEOUTS = hasattr(socket, "SO_RCVTIMEO") and hasattr(socket, "SO_SNDTIMEO")
READ_SLACK = 0.001  # how much later than asked a read may time out (`_bound_read`)


def timeval(seconds: float | None) -> bytes:
    """SO_RCVTIMEO / SO_SNDTIMEO's value: a struct timeval (Windows: DWORD milliseconds).

    Zero means "wait forever", so a timeout of None is 0 and a positive one
    is at least one microsecond (one millisecond). The microseconds stay below
    a million (1.9999996 s is 2 s, not 1 s and 1,000,000 µs, which the kernel
    refuses with EDOM).
    """
    if sys.platform == "win32":
        return struct.pack("I", 0 if seconds is None else max(1, round(seconds * 1000)))
    if seconds is None:
        return struct.pack("ll", 0, 0)
    whole, micros = divmod(max(1, round(seconds * 1_000_000)), 1_000_000)
    return struct.pack("ll", whole, micros)


class SyncLink(Link):
    """A pooled connection on a blocking socket."""

    __slots__ = ("sock", "lock", "reading", "sleepers", "write_lock", "out", "out_timeout", "timeout",
                 "poller", "os_timeouts", "read_timeout", "write_timeout", "tls_lock")

    def __init__(self, sock: socket.socket, conn: ConnectionBase, number: int, replay_unsafe: bool,
                 shared: bool = False) -> None:
        """`shared`: threads may use the connection at once (see the module docstring)."""
        super().__init__(conn, number, replay_unsafe)
        self.sock = sock
        self.lock = Lock()  # guards the Connection, the exchanges and the sleepers
        self.reading = False  # a caller is in recv() for this connection
        self.sleepers: list[Exchange] = []  # exchanges whose callers wait for their `waiter` event
        self.write_lock = Lock()
        self.out: list[bytes] = []  # deferred heads of pipelined requests (see send)
        self.out_timeout: Timeout | None = None
        self.poller: Any = None
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
        self.tls_lock: Lock | None = None
        if shared and isinstance(sock, ssl.SSLSocket):
            self.tls_lock = Lock()
            self._settimeout(0.0)

    def _settimeout(self, timeout: float | None) -> None:
        if timeout != self.timeout:
            self.sock.settimeout(timeout)
            self.timeout = timeout

    def _set_read_timeout(self, timeout: float | None) -> None:
        if timeout != self.read_timeout:
            if self.tls_lock is not None:
                self.read_timeout = timeout  # (`_recv` keeps it)
                return
            if self.os_timeouts:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(timeout))
            else:
                self._settimeout(timeout)
            self.read_timeout = timeout if self.os_timeouts else _UNSET

    def _bound_read(self, timeout: float | None) -> None:
        """The read timeout for a read that must return within `timeout`, a stream's time
        left (`sync_h2`): the timeout set for an earlier read is kept when it ends at most
        READ_SLACK later and not before half of it (a zero timeout, a probe, is always
        set). A read that returns early only makes its caller check its deadline and
        read again; each change is a system call."""
        current = self.read_timeout
        if (timeout and current is not None and current is not _UNSET
                and timeout * 0.5 <= current <= timeout + READ_SLACK):
            return
        self._set_read_timeout(timeout)

    def _set_write_timeout(self, timeout: float | None) -> None:
        if timeout != self.write_timeout:
            if self.tls_lock is not None:
                self.write_timeout = timeout  # (`_send_all` keeps it)
                return
            if self.os_timeouts:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval(timeout))
            else:
                self._settimeout(timeout)
            self.write_timeout = timeout if self.os_timeouts else _UNSET

    def peer_gone(self) -> bool:
        """While nothing is in flight, under the link's lock: callers woken together may
        probe at once, and bytes that answer a request just sent by another caller are
        not taken for a closed connection."""
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
            return self._readable()

    def _readable(self) -> bool:
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
                if self.tls_lock is None:
                    self.sock.recv(READ_SIZE)
                else:
                    with self.tls_lock:
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
                if self.closed or conn.has_ended():
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
                    if self.tls_lock is None:
                        self.sock.sendall(prepared.head)
                    else:
                        self._send_all(prepared.head)
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
        self._send_all(data)

    def _send_all(self, data: bytes | memoryview) -> None:
        """`sendall` within the write timeout set; one TLS call at a time when `tls_lock`."""
        sock, tls_lock = self.sock, self.tls_lock
        if tls_lock is None:
            sock.sendall(data)
            return
        view = memoryview(data)
        timeout = self.write_timeout
        deadline = None if timeout is None else monotonic() + timeout
        while view:
            with tls_lock:
                try:
                    view = view[sock.send(view):]
                    continue
                except ssl.SSLWantWriteError:
                    writing = True
                except ssl.SSLWantReadError:
                    writing = False
            self._wait_socket(writing, deadline)

    def _recv(self) -> bytes:
        """`recv` within the read timeout set (socket.timeout when nothing came); one TLS
        call at a time when `tls_lock`."""
        sock, tls_lock = self.sock, self.tls_lock
        if tls_lock is None:
            return sock.recv(READ_SIZE)
        timeout = self.read_timeout
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            with tls_lock:
                try:
                    return sock.recv(READ_SIZE)
                except ssl.SSLWantReadError:
                    writing = False
                except ssl.SSLWantWriteError:
                    writing = True
            self._wait_socket(writing, deadline)

    def _wait_socket(self, writing: bool, deadline: float | None) -> None:
        left = None if deadline is None else deadline - monotonic()
        if left is not None and left <= 0:
            raise socket.timeout("timed out")
        if self.closed:
            raise OSError("the connection was closed")
        if writing:
            select.select([], [self.sock], [], left)
        else:
            select.select([self.sock], [], [], left)

    def _write(self, ex: Exchange, rid: int, prepared: PreparedRequest, body: Body) -> None:
        conn = cast(Connection, self.conn)  # (HTTP/2 links write their own)
        if isinstance(body, (bytes, bytearray, memoryview)):
            with self.lock:
                pieces = framed(conn, rid, prepared.head, body)
            for piece in pieces:
                self._send_all(piece)
            return
        if not isinstance(body, Iterable):
            raise TypeError("an async iterable body needs an AsyncPool")
        ex.may_replay = False  # an iterator cannot be sent twice
        self._send_all(prepared.head)
        for piece in body:
            if not isinstance(piece, (bytes, bytearray, memoryview)):
                raise TypeError(f"a body iterable must yield bytes, not {type(piece).__name__}")
            with self.lock:
                data = conn.send_body(rid, piece)
            if data:
                self._send_all(data)
        with self.lock:
            tail = conn.end_body(rid)
        if tail:
            self._send_all(tail)

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
                    raise caller_error(ex)
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
                    data = self.sock.recv(READ_SIZE) if self.tls_lock is None else self._recv()
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
                    else:
                        self.receive(data)
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


class _Body(BodyBase):
    """The body of a streamed sync response: reads events, gives the connection back at the end."""

    __slots__ = ()
    is_async = False

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
        ex.collect = True
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
        try:
            while self._drains():
                self._drained(self.link.next_event(self.ex, self.timeout))
        except HopwireError:
            self._cut()
        finally:
            self._finish()

    def _finish(self) -> None:
        if not self.closed:
            self.closed = True
            self.pool._release(self.link, self.ex)


class Pool(PoolBase):
    """A thread-safe pool of HTTP/1.1 connections; see docs/pool.md.

    For the options, see `PoolBase`: `Pool(max_connections=100,
    max_connections_per_host=10, pipeline_depth=1, keepalive_expiry=5.0,
    timeout=5.0, retries=0, proxy=None, ssl_context=None, replay_unsafe=False,
    trust_proxy_keep_alive=False)`.
    """

    def _init_driver(self) -> None:
        self._lock = Lock()

    def _signal(self, waiter: Waiter) -> None:
        waiter.signal.set()

    # -- public API ----------------------------------------------------------------

    def request(self, method: str | bytes, url: str, *, headers: HeaderInput = None,
                body: Body = None, timeout: TimeoutInput | None = None) -> Response:
        """Send a request and read its whole answer."""
        attempt = self._attempt(method, url, headers, body)
        t = self._timeout(timeout)
        if body is None:
            response = self._request_idle(attempt, t)
            if response is not None:
                return response
        return self._send(attempt, t, True)

    @contextmanager
    def stream(self, method: str | bytes, url: str, *, headers: HeaderInput = None,
               body: Body = None, timeout: TimeoutInput | None = None) -> Iterator[Response]:
        """Send a request; the response's body is read with `read()` or `iter_bytes()`."""
        response = self._send(self._attempt(method, url, headers, body), self._timeout(timeout))
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
        t = self._timeout(timeout)
        batch = self._batch(requests)
        try:
            self._run_batch(batch, t)
        except BaseException:  # interrupted: the connections under way are closed
            for _, _, link, ex in batch.in_flight:
                self._release(link, ex)
            raise
        return batch.results  # every slot is filled by now

    def _run_batch(self, batch: Batch, t: Timeout) -> None:
        """`request_all`'s loop; what is in flight when it raises is the caller's to give back."""
        deferred: list[SyncLink] = []  # links whose `out` holds heads of this batch
        while batch.todo or batch.in_flight:
            attempt = batch.next()
            while attempt is not None:
                try:
                    started = self._start(attempt, t, block=not batch.in_flight, defer=True)
                except HopwireError as exc:
                    attempt = batch.refused(exc)
                    continue
                if started is None:
                    break  # the pool is full: read an answer first
                link = started[0]
                if link.out and link not in deferred:
                    deferred.append(link)
                attempt = batch.started(link, started[1])
            if not batch.in_flight:
                continue
            for link in deferred:
                if link.out:
                    link.flush(t)
            deferred.clear()
            index, attempt, link, ex = batch.oldest()
            try:
                batch.answered(index, self._answer(attempt, link, ex, t, True))
            except (Replay, HopwireError) as exc:
                batch.failed(index, attempt, exc)

    def close(self) -> None:
        """Close every connection; requests in flight fail, new ones raise PoolClosed."""
        with self._lock:
            links = self._shut()
        for link in links:
            link.abort(ReadError("the pool was closed"))

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        on a connection there at once (idle, a pipeline to join, or an HTTP/2 connection
        with a stream to spare). None, having done nothing that the general path would
        not do again, when there is none (or the request is to be sent again)."""
        now = monotonic()
        with self._lock:
            link = self._ready(attempt, now)
        if link is None or self._probed(link, now, attempt.prepared.method) is None:
            return None
        ex = self._put(attempt, link, self._reused(link), t)
        if ex is None:
            return None
        try:
            return self._answer(attempt, link, ex, t, True)
        except Replay:
            return None

    def _start(self, attempt: Attempt, t: Timeout, block: bool,
               defer: bool = False) -> tuple[SyncLink, Exchange] | None:
        """Put the request in flight on a connection; None if that means waiting and not `block`."""
        while True:
            link = self._acquire(attempt, t, block)
            if link is None:
                return None
            ex = self._put(attempt, link, self._reused(link), t, defer)
            if ex is not None:
                return link, ex

    def _put(self, attempt: Attempt, link: SyncLink, reused: bool, t: Timeout,
             defer: bool = False) -> Exchange | None:
        """Record and write the request on the link it was given, and tell the pool state;
        None when it lost a race with a reader that ended or filled the connection (the
        link is given back)."""
        ex = attempt.exchange(link.number, reused)
        try:
            link.send(ex, attempt.prepared, attempt.body, t, defer)
        except BaseException as exc:
            if self._unsent(link, attempt, ex, exc):
                return None
            raise
        if self._sends_wake():
            with self._lock:
                self._sent(link, attempt.pipelinable)
        return ex

    def _answer(self, attempt: Attempt, link: SyncLink, ex: Exchange, t: Timeout,
                collect: bool = False) -> Response:
        """The response head of a request in flight (`collect`: and its whole content);
        raises Replay when it must be sent again."""
        started = monotonic()
        ex.collect = collect  # (HTTP/2: the windows open as its body comes)
        try:
            # Only this caller takes from its deque: what is there is taken without the lock.
            event = ex.events.popleft() if ex.events else link.next_event(ex, t.read)
            while type(event) is InformationalResponse:
                event = link.next_event(ex, t.read)
            ex.head_taken = True  # (out of `events`: see `Link.fail`)
        except Replay:
            self._replaying(link, attempt, ex)
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
        return attempt.response(event, ex.info, body, body.read_all() if collect else None)

    def _acquire(self, attempt: Attempt, t: Timeout, block: bool = True) -> SyncLink | None:
        """A connection to send on: reused, pipelined or new; None when none is free now
        and not `block`."""
        method = attempt.prepared.method
        now = monotonic()
        deadline = None if t.pool is None else now + t.pool
        while True:
            with self._lock:
                expired = self._expired(now)
                got = self._ready(attempt, now)
                if got is None:
                    # Its event exists before it is queued: a waiter woken without one
                    # (after an interrupt in between, in the pure twin) would strand its lease.
                    got = self._take(attempt, Waiter(threading.Event()), now, deadline, block)
            for expired_link in expired:
                expired_link.close()
            if got is None:
                return None
            if type(got) is Waiter:
                got = self._wait(got, deadline, attempt.pipelinable)
                now = monotonic()  # (for QUIET_REUSE)
            if not isinstance(got, SyncLink):
                return self._dial(attempt, got, t)
            if self._probed(got, now, method) is not None:
                return got
            now = monotonic()

    def _wait(self, waiter: Waiter, deadline: float | None, pipelinable: bool) -> Any:
        timeout = None if deadline is None else max(0.0, deadline - monotonic())
        try:
            woken = waiter.signal.wait(timeout)
        except BaseException:  # an interrupt (Ctrl-C) while waiting: undo what it was given
            with self._lock:
                self._stop_waiting(waiter, pipelinable)
            raise
        if woken:
            return self._waited(waiter, False)
        with self._lock:
            return self._waited(waiter, True)

    def _dial(self, attempt: Attempt, action: Any, t: Timeout) -> SyncLink:
        """Open a connection for the request (after closing the one to evict, if any)."""
        self._evict(action)
        origin = attempt.where.origin
        # A connect may take a while: heads a batch deferred (see `SyncLink.send`)
        # leave before it, so that their servers need not wait for it.
        try:
            with self._lock:  # (an entry appears before its link is set: see below)
                deferred = [e.link for e in self._state.entries if e.link is not None and e.link.out]
            for waiting in deferred:
                waiting.flush(t)
        except BaseException:
            with self._lock:
                self._dial_failed(origin)
            raise
        tries = 0
        while True:
            try:
                sock = self._open(origin, t)
                break
            except BaseException as exc:
                with self._lock:
                    delay = self._retry_delay(origin, tries, exc)
                if delay is None:
                    raise
            try:
                time.sleep(delay)
            except BaseException:  # interrupted while backing off: the dial's place goes back
                with self._lock:
                    self._dial_failed(origin)
                raise
            tries += 1
        link: SyncLink
        if self._multiplexed(origin, sock if isinstance(sock, ssl.SSLSocket) else None):
            from .sync_h2 import SyncH2Link
            with self._lock:
                session = self._new_session(origin)
            link = SyncH2Link(sock, session, next(self._numbers), self._options.replay_unsafe, t,
                              self)
        else:
            link = SyncLink(sock, self._new_connection(origin), next(self._numbers),
                            self._options.replay_unsafe, self._options.pipeline_depth > 1)
        with self._lock:
            self._connected(origin, link, attempt.pipelinable)
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
                _tunnel(sock, Tunnel(origin, proxy.authorization), t)
            if origin.scheme == "https":
                sock = self._options.tls_context(self._state.may_multiplex(origin)).wrap_socket(
                    sock, server_hostname=origin.host)
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

    # The core's steps that change the pool state, under the pool's lock.

    def _give_back(self, link: Link, sent: bool, pipelinable: bool) -> bool:
        with self._lock:
            return PoolBase._give_back(self, link, sent, pipelinable)

    def _discard(self, link: Link) -> None:
        with self._lock:
            PoolBase._discard(self, link)

    def _room_grew(self) -> None:
        with self._lock:
            PoolBase._room_grew(self)


def _tunnel(sock: socket.socket, tunnel: Tunnel, t: Timeout) -> None:
    """Open the CONNECT tunnel through the proxy on `sock`."""
    sock.settimeout(t.connect)
    sock.sendall(tunnel.request)
    while not tunnel.receive(sock.recv(READ_SIZE)):
        pass
