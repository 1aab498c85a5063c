"""An HTTP/2 connection of `Pool`: `SyncH2Link`, on a blocking socket.

Strategy: as `SyncLink`, callers read for each other: no thread of its own.
But answers come in any order, so whichever caller needs bytes reads when
nobody else is reading, and hands every event to its stream's exchange; the
others sleep on their events, woken when something came for them, or when
the reader stopped and one of them must read next. A request body waiting for
the server's flow-control window reads the same way (its WINDOW_UPDATE comes
on the socket).

Writes: everything the session queues (request frames, the answers to the
server's SETTINGS and PINGs, WINDOW_UPDATEs) is taken under the link's lock
into `pending_out`, in order, and written under the write lock by whoever
writes next; a reader never writes while holding the link's lock (a writer
takes the write lock, then the link's lock).

A read timeout counts from the last event of the caller's own stream and
fails that stream alone (RST_STREAM CANCEL), as does a caller that gives up;
the other streams go on. An idle connection is checked with a PING when it is
about to be reused (`peer_gone`; see `h2session`).

TLS: one thread reads while others write: the link is `shared` (see `sync`).
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from time import monotonic
from typing import Any

from .._errors import ReadError, ReadTimeout, TransportError, WriteError, WriteTimeout
from .._wire.parser import Data
from .._wire.writer import Body
from .base import READ_SIZE, caller_error
from .connection import ConnectionStateError, PreparedRequest
from .exchange import Exchange
from .h2session import PING_IDLE, PING_TIMEOUT, H2Session
from .models import Timeout
from .sync import SyncLink

# Reads, at most, of what waits on the socket before the link judges the connection
# (`_read_waiting`): each takes what is there, over TLS one record.
WAITING_READS = 8


class SyncH2Link(SyncLink):
    """A pooled HTTP/2 connection on a blocking socket (see the module docstring)."""

    __slots__ = ("session", "pending_out", "activity", "window_waiters", "timeouts", "pool",
                 "received_at")

    def __init__(self, sock: socket.socket, session: H2Session, number: int,
                 replay_unsafe: bool, timeout: Timeout, pool: Any) -> None:
        SyncLink.__init__(self, sock, session, number, replay_unsafe, True)
        self.session = session
        self.pool = pool  # told when the server allows more streams (`_room_grew`)
        self.received_at = monotonic()  # when the server's last bytes came (PING_IDLE)
        self.pending_out: list[bytes] = []
        self.activity: dict[int, float] = {}  # monotonic time of each stream's last event
        # The events of request bodies waiting for a window: set when a read ends (it may
        # have opened one, and one of them may read next). One each: nobody clears another's.
        self.window_waiters: list[threading.Event] = []
        self.timeouts = timeout  # the pool's: for the frames no request writes (answers, resets)
        with self.lock:
            self._take_out()
        self.write_frames(timeout.write)  # the connection preface (RFC 9113 §3.4)

    # -- writing ---------------------------------------------------------------------------

    def _take_out(self) -> None:
        """Under the link's lock: what the session queued joins what is to be written."""
        out = self.session.data_to_send()
        if out:
            self.pending_out.append(out)

    def write_frames(self, timeout: float | None) -> None:
        """Write what is queued, in order (not under the link's lock). (Nothing queued:
        no lock taken. What another thread queues, that thread writes.)"""
        if not self.pending_out and not self.session.h2.has_data_to_send():
            return
        with self.write_lock:
            with self.lock:
                self._take_out()
                if not self.pending_out:
                    return
                data = b"".join(self.pending_out)
                self.pending_out.clear()
            if self.closed:
                return
            failed: WriteError | None = None
            try:
                if timeout != self.write_timeout:
                    self._set_write_timeout(timeout)
                self._send_all(data)
            except (socket.timeout, BlockingIOError):
                self.abort(WriteTimeout(f"writing to the connection took longer than {timeout} s"))
            except (OSError, ssl.SSLError) as exc:
                failed = WriteError(f"writing to the connection failed: {exc}")
        if failed is not None:
            # The server closed: what it sent before may say which streams it did not
            # process (GOAWAY's last stream id, RFC 9113 §6.8): those go again, whatever
            # their method. Read it (unless another caller reads now), then end the link.
            with self.lock:
                read = not (self.closed or self.reading)
                if read:
                    self.reading = True
            if read:
                self._read_waiting(False)
            self.abort(failed, peer_closed=True)

    def flush(self, timeout: Timeout) -> None:
        """Write the frames of the requests a batch deferred (see `send`), and any other."""
        self.out.clear()
        self.write_frames(timeout.write)

    def send(self, ex: Exchange, prepared: PreparedRequest, body: Body, timeout: Timeout,
             defer: bool = False) -> None:
        """Open the request's stream and write its frames, then its body as the windows
        allow; a failed write is kept for after the answer is read."""
        session = self.session
        view: Any = None
        with self.lock:
            if self.closed or session.has_ended():
                raise ConnectionStateError("the connection ended before the request was sent")
            session.record(ex, prepared, self.exchanges)
            rid = ex.rid
            self.activity[rid] = monotonic()
            if isinstance(body, (bytes, bytearray, memoryview)):
                view = memoryview(body).cast("B")
                view = view[session.h2.send_data(rid, view, end_stream=True):]
            elif defer and body is None:
                # A batch (`request_all`): the HEADERS of its requests leave together,
                # when it flushes (`out` says one is due) or this link is read.
                if not self.out:
                    self.out.append(b"")
                self.out_timeout = timeout
                return
        self.write_frames(timeout.write)
        if body is None or (view is not None and not view):
            return
        if view is None:
            ex.may_replay = False  # an iterator cannot be sent twice
        try:
            self._send_pieces(ex, rid, [view] if view is not None else body, timeout.write)
        except WriteTimeout as exc:
            ex.write_error = exc
            self.cut(ex, exc)
        except (OSError, RuntimeError) as exc:  # (ConnectionStateError: the stream ended)
            ex.write_error = WriteError(f"writing the request failed: {exc}")

    def _send_pieces(self, ex: Exchange, rid: int, body: Any, timeout: float | None) -> None:
        h2 = self.session.h2
        deadline = None if timeout is None else monotonic() + timeout
        for piece in body:
            if not isinstance(piece, (bytes, bytearray, memoryview)):
                raise TypeError(f"a body iterable must yield bytes, not {type(piece).__name__}")
            view = memoryview(piece).cast("B")
            while view:
                with self.lock:
                    if self.closed:
                        raise OSError("the connection was closed")
                    view = view[h2.send_data(rid, view):]
                self.write_frames(timeout)
                if view:
                    self._wait_window(ex, deadline, timeout)
                elif deadline is not None:
                    deadline = monotonic() + timeout  # type: ignore[operator]
        with self.lock:
            h2.send_data(rid, b"", end_stream=True)
        self.write_frames(timeout)

    def _wait_window(self, ex: Exchange, deadline: float | None, timeout: float | None) -> None:
        """Wait for the server's WINDOW_UPDATE (RFC 9113 §5.2), reading for everyone
        when nobody else is."""
        left = None if deadline is None else deadline - monotonic()
        if left is not None and left <= 0:
            raise WriteTimeout(f"the server's flow-control window stayed shut for {timeout} s")
        with self.lock:
            if self.session.h2.sendable(ex.rid) > 0:
                return  # (opened since the body's last try, by another caller's read)
            read = not self.reading
            if read:
                self.reading = True
            else:
                wake = threading.Event()
                self.window_waiters.append(wake)
        if read:
            self._read_once(left)
            return
        try:
            wake.wait(left)
        finally:
            with self.lock:
                if wake in self.window_waiters:
                    self.window_waiters.remove(wake)

    # -- reading ---------------------------------------------------------------------------

    def next_event(self, ex: Exchange, timeout: float | None) -> Any:
        """The next event of the exchange's answer; this caller reads the socket when
        nobody else does (see the module docstring)."""
        lock = self.lock
        rid = ex.rid
        failure: BaseException | None = None
        event: Any = None
        while True:
            with lock:
                if ex.collect and self.session.unacked.get(rid):
                    self.session.settle(rid)  # wanted whole: the windows open as it comes
                if ex.events:
                    event = ex.events.popleft()
                    if type(event) is Data and not ex.collect:
                        self.session.consumed(rid, len(event.data))
                    break
                if ex.error is not None:
                    failure = caller_error(ex)  # (raised once a reset it caused is written)
                    break
                if ex.ended or rid not in self.exchanges:
                    raise ConnectionStateError("the answer was read to its end already")
                left = None
                if timeout is not None:
                    left = self.activity.get(rid, monotonic()) + timeout - monotonic()
                    if left <= 0:
                        self._cut_locked(ex, ReadTimeout(f"no byte of the answer within {timeout} s"))
                        continue
                read = not self.reading
                if read:
                    self.reading = True
                else:
                    wake = ex.waiter
                    if wake is None:
                        wake = ex.waiter = threading.Event()
                    else:
                        wake.clear()
                    self.sleepers.append(ex)
            if read:
                if self.out:  # requests a batch deferred: they go before their answers are read
                    self.flush(self.timeouts)
                self._read_once(left)
                continue
            wake.wait(left)
            with lock:
                if ex in self.sleepers:
                    self.sleepers.remove(ex)
        self.write_frames(self.timeouts.write)
        if failure is not None:
            raise failure
        return event

    def _read_waiting(self, answer: bool) -> None:
        """Read what waits on the socket (as the caller that set `reading`) until nothing
        more does, WAITING_READS times at most: a TLS read returns one record, and a GOAWAY
        or the close may wait behind another frame (nginx: RST_STREAM(NO_ERROR) after an
        early answer to a POST, then GOAWAY; granian: its PING, then GOAWAY). `answer`:
        write what the frames call for (`_read_once`)."""
        reads = 0
        while True:
            self._read_once(0.0, answer)
            reads += 1
            with self.lock:
                if (reads == WAITING_READS or self.closed or self.session.has_ended()
                        or self.reading):
                    return
                try:
                    if not self._bytes_waiting():
                        return
                except (OSError, ValueError):
                    return
                self.reading = True

    def _bytes_waiting(self) -> bool:
        """Bytes wait on the socket, or in the TLS object's buffer (raises OSError or
        ValueError when the socket is closed). Unlike `SyncLink._readable`, nothing is
        read: on HTTP/2 what waits is frames to act on, not a sign of a closed connection."""
        sock = self.sock
        return bool(select.select([sock], [], [], 0)[0]) or (
            isinstance(sock, ssl.SSLSocket) and sock.pending() > 0)

    def _read_once(self, timeout: float | None, answer: bool = True) -> None:
        """Read once (as the caller that set `reading`) and hand out what came; `answer`:
        then write what the frames called for (SETTINGS ACKs, PING answers, WINDOW_UPDATEs)."""
        error: TransportError | None = None
        data = b""
        peer_closed = timed_out = False
        try:
            self._bound_read(timeout)
            data = self._recv()
        except (socket.timeout, BlockingIOError, ssl.SSLWantReadError):
            timed_out = True  # (the caller asks its own stream's deadline)
        except (OSError, ssl.SSLError) as exc:
            error = ReadError(f"reading the answer failed: {exc}")
            peer_closed = True
        with self.lock:
            self.reading = False
            if self.closed:
                self._abort_locked(ReadError("the connection was closed"))
            elif error is not None:
                self._abort_locked(error, peer_closed)
            elif not timed_out:
                self.received_at = monotonic()
                self.receive(data)
                session = self.session
                touched = session.touched
                if touched:
                    now = monotonic()
                    for rid in touched:
                        self.activity[rid] = now
                    touched.clear()
                session.window_opened = False
                self._take_out()
            self._wake_sleepers_locked()
            grew = self.session.room_grew
            self.session.room_grew = False
        if grew:
            self.pool._room_grew()  # (not under the link's lock: the pool's comes first)
        if answer:
            self.write_frames(self.timeouts.write)

    def _wake_sleepers_locked(self) -> None:
        """Wake the callers that got events or an error, one more to read next when nobody
        reads, and the request bodies waiting for a window."""
        reader_needed = not self.reading
        for ex in self.sleepers:
            if ex.events or ex.error is not None or self.closed:
                ex.waiter.set()
            elif reader_needed:
                ex.waiter.set()
                reader_needed = False
        if self.window_waiters:
            for wake in self.window_waiters:
                wake.set()
            self.window_waiters.clear()

    def peer_gone(self) -> bool:
        """An idle HTTP/2 connection may have received frames (SETTINGS, PING, GOAWAY):
        they are read and acted on; gone when the server closed it or sent GOAWAY, or
        when, idle for PING_IDLE, it does not answer a PING within PING_TIMEOUT
        (`h2session`)."""
        session = self.session
        with self.lock:
            if self.closed or session.has_ended():
                return True
            if self.exchanges or self.reading:
                return False
            try:
                readable = self._bytes_waiting()
            except (OSError, ValueError):
                return True
            ping = not readable and monotonic() >= self.received_at + PING_IDLE
            if not readable and not ping:
                return False
            self.reading = True
            if ping:
                session.ping()
                self._take_out()
        if not ping:
            self._read_waiting(True)
            with self.lock:
                return self.closed or session.has_ended() or session.room() == 0
        self.write_frames(self.timeouts.write)
        deadline = monotonic() + PING_TIMEOUT
        while True:
            self._read_once(max(0.0, deadline - monotonic()))
            with self.lock:
                if self.closed or session.has_ended():
                    return True
                if session.ping_acked:
                    return session.room() == 0
                if self.reading or self.exchanges:
                    return False  # another caller reads now: it will see what becomes of it
                if monotonic() >= deadline:
                    return True  # no answer: the caller drops the connection (`_lose`)
                self.reading = True

    # -- ending ----------------------------------------------------------------------------

    def cut(self, ex: Exchange, error: Any) -> None:
        with self.lock:
            self._cut_locked(ex, error)
        self.write_frames(self.timeouts.write)

    def _cut_locked(self, ex: Exchange, error: Any) -> None:
        """The exchange's answer is given up (its caller left, or timed out): its stream
        is reset (written by the next write), the others go on."""
        rid = ex.rid
        if self.exchanges.pop(rid, None) is not None and ex.error is None and not ex.ended:
            ex.error = error
        self.activity.pop(rid, None)
        self.session.reset(rid)
        self._take_out()

    def _abort_locked(self, error: TransportError, peer_closed: bool = False) -> None:
        if not peer_closed and not self.closed:
            self.session.goodbye()  # (before the session is closed: see `close`)
            self._take_out()
        SyncLink._abort_locked(self, error, peer_closed)

    def finish(self, ex: Exchange) -> None:
        with self.lock:
            self.activity.pop(ex.rid, None)
            self.session.settle(ex.rid)

    def close(self) -> None:
        if not self.closed:
            self.session.goodbye()
            out = b"".join(self.pending_out) + self.session.data_to_send()
            if out:
                # GOAWAY: NO_ERROR when the pool closes it (RFC 9113 §6.8), or the one a
                # connection error queued (§5.4.1); if it can go at once.
                try:
                    self._set_write_timeout(0.1)
                    self._send_all(out)
                except OSError:
                    pass
        SyncLink.close(self)
