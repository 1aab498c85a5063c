"""An HTTP/2 connection of `AsyncPool`: `AsyncH2Link`, on an asyncio transport.

Strategy: what `AsyncLink` does for HTTP/1.1, for a connection whose requests
are streams (`H2Session`). Whatever the session queues (request frames, and the
answers to the server's SETTINGS and PINGs, and WINDOW_UPDATEs) is written in
the order it was queued; the frames of requests sent in one turn of the loop
leave in one write. What changes with streams:

- reading never pauses the transport: a slow reader of a streamed body holds
  its stream back through flow control (`H2Session`), not the connection;
- a request body goes as the server's windows allow, waiting for its
  WINDOW_UPDATEs (WriteTimeout when they do not come within the write timeout);
- a read timeout counts from the last event of the reader's own stream, and
  fails that stream alone, as does a caller that gives up (RST_STREAM CANCEL):
  the other streams go on;
- an idle connection is pinged (`h2session`: PING_IDLE, PING_TIMEOUT), by a
  timer of the loop; one whose PING goes unanswered is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from .._errors import ReadError, ReadTimeout, TransportError, WriteError, WriteTimeout
from .._wire.parser import Data
from .._wire.writer import Body
from .aio import TIMED_OUT, AsyncLink, body_pieces
from .connection import ConnectionStateError, PreparedRequest
from .exchange import Exchange
from .h2session import PING_IDLE, PING_TIMEOUT, H2Session
from .models import Timeout

PING_GRACE = 0.1  # seconds: see `_on_ping_timer`


class AsyncH2Link(AsyncLink):
    """A pooled HTTP/2 connection on an asyncio transport (see the module docstring)."""

    __slots__ = ("session", "activity", "window_waiters", "flush_soon", "pool", "ping_timer",
                 "ping_due")

    def __init__(self, transport: asyncio.Transport, session: H2Session, number: int,
                 replay_unsafe: bool, loop: asyncio.AbstractEventLoop, pool: Any) -> None:
        AsyncLink.__init__(self, transport, session, number, replay_unsafe, loop)
        self.session = session
        self.pool = pool  # told when the server allows more streams (`_room_grew`)
        self.ping_timer: asyncio.TimerHandle | None = None
        self.ping_due = 0.0  # loop time by which the PING out must be answered; 0: none out
        self.activity: dict[int, float] = {}  # loop time of each stream's last event
        self.window_waiters: list[asyncio.Future[None]] = []
        self.flush_soon = False
        self.write_frames()  # the connection preface (RFC 9113 §3.4)

    # -- writing ---------------------------------------------------------------------------

    def write_frames(self) -> None:
        """Write what the session queued, in order."""
        if not self.session.h2.has_data_to_send():
            return
        out = self.session.data_to_send()
        if out and not self.closed:
            self.transport.write(out)

    def flush(self) -> None:
        self.flush_soon = False
        self.write_frames()

    def send(self, ex: Exchange, prepared: PreparedRequest, body: Body, timeout: Timeout,
             defer: bool = False) -> Coroutine[Any, Any, None] | None:
        """Open the request's stream and write what can be written now; the coroutine
        that writes the rest of its body (as the windows open), or None."""
        session = self.session
        if self.closed or session.has_ended():
            raise ConnectionStateError("the connection ended before the request was sent")
        ahead = session.record(ex, prepared, self.exchanges)
        rid = ex.rid
        self.activity[rid] = self.now()
        if body is None:
            if defer or ahead:
                # Streams opened in one turn of the loop leave in one write.
                if not self.flush_soon:
                    self.flush_soon = True
                    self.loop.call_soon(self.flush)
            else:
                self.write_frames()
            return None
        if isinstance(body, (bytes, bytearray, memoryview)):
            view = memoryview(body).cast("B")
            taken = session.h2.send_data(rid, view, end_stream=True)
            self.write_frames()
            if taken == len(view):
                return self._stream_guarded(ex, self._drain(timeout.write))
            return self._stream_guarded(ex, self._send_pieces(rid, [view[taken:]], timeout.write))
        ex.may_replay = False  # an iterator cannot be sent twice
        self.write_frames()
        return self._stream_guarded(ex, self._send_pieces(rid, body, timeout.write))

    async def _stream_guarded(self, ex: Exchange, writing: Coroutine[Any, Any, None]) -> None:
        """Run the rest of a write; its failure is kept for after the answer is read,
        and a write timeout resets the stream alone."""
        try:
            await writing
        except WriteTimeout as exc:
            ex.write_error = exc
            self.cut(ex, exc)
        except (OSError, RuntimeError) as exc:  # (ConnectionStateError: the stream ended)
            ex.write_error = WriteError(f"writing the request failed: {exc}")

    async def _send_pieces(self, rid: int, body: Any, timeout: float | None) -> None:
        h2 = self.session.h2
        async for piece in body_pieces(body):
            view = memoryview(piece).cast("B")
            while view:
                if self.closed:
                    raise OSError("the connection was closed")
                taken = h2.send_data(rid, view)
                self.write_frames()
                view = view[taken:]
                if view:
                    await self._window(timeout)
            await self._drain(timeout)
        h2.send_data(rid, b"", end_stream=True)
        self.write_frames()
        await self._drain(timeout)

    async def _window(self, timeout: float | None) -> None:
        """Wait for the server to open its flow-control windows (RFC 9113 §5.2)."""
        waiter: asyncio.Future[None] = self.loop.create_future()
        self.window_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            raise WriteTimeout(f"the server's flow-control window stayed shut for {timeout} s") from None
        finally:
            if waiter in self.window_waiters:
                self.window_waiters.remove(waiter)

    def wake_drain(self) -> None:
        AsyncLink.wake_drain(self)
        waiters, self.window_waiters = self.window_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- reading ---------------------------------------------------------------------------

    def on_data(self, data: bytes | memoryview) -> None:
        if self.closed:
            return
        now = self.received_at = self.now()
        session = self.session
        # A buffered protocol lends a view of the pool's one read buffer, which the next
        # read overwrites; the frame reader may keep the end of a frame across reads.
        self.receive(data if type(data) is bytes else bytes(data))
        self.write_frames()  # SETTINGS and PING answers, WINDOW_UPDATEs
        touched = session.touched
        if touched:
            activity = self.activity
            for rid in touched:
                activity[rid] = now
            touched.clear()
        if self.sleepers:
            self._wake_sleepers()
        if session.window_opened:
            session.window_opened = False
            self.wake_drain()
        if session.room_grew:
            session.room_grew = False
            self.pool._room_grew()
        if session.ping_acked:
            session.ping_acked = False
            self.ping_due = 0.0
        if not self.exchanges and self.ping_timer is None and not self.closed:
            self.ping_timer = self.loop.call_at(now + PING_IDLE, self._on_ping_timer)

    def _on_ping_timer(self) -> None:
        """Idle for PING_IDLE: send a PING; its answer late: close (see the module docstring).
        (A timer may run before the reads of the same turn of the loop, uvloop's do: a
        late answer is looked for once more, a turn later, before the connection goes.)"""
        self.ping_timer = None
        if self.closed:
            return
        now = self.now()
        if self.ping_due:
            if now < self.ping_due:
                self.ping_timer = self.loop.call_at(self.ping_due, self._on_ping_timer)
            elif now < self.ping_due + PING_GRACE:
                self.ping_timer = self.loop.call_later(PING_GRACE / 2, self._on_ping_timer)
            else:
                self.abort(ReadError(f"the server did not answer a PING within {PING_TIMEOUT} s"),
                           peer_closed=True)
            return
        if self.exchanges:
            return  # busy: armed again once idle
        if now < self.received_at + PING_IDLE:
            self.ping_timer = self.loop.call_at(self.received_at + PING_IDLE, self._on_ping_timer)
            return
        self.session.ping()
        self.write_frames()
        self.ping_due = now + PING_TIMEOUT
        self.ping_timer = self.loop.call_at(self.ping_due, self._on_ping_timer)

    async def next_event(self, ex: Exchange, timeout: float | None) -> Any:
        event = await AsyncLink.next_event(self, ex, timeout)
        if type(event) is Data and not ex.collect:
            self.session.consumed(ex.rid, len(event.data))
            self.write_frames()
        return event

    async def wait_end(self, ex: Exchange, timeout: float | None) -> None:
        if not ex.collect:
            ex.collect = True  # the rest is given back to the windows as it arrives
            self.session.settle(ex.rid)
            self.write_frames()
        await AsyncLink.wait_end(self, ex, timeout)

    def sleep(self, ex: Exchange, timeout: float | None) -> asyncio.Future[Any]:
        waiter = AsyncLink.sleep(self, ex, timeout)
        self.activity[ex.rid] = self.received_at  # the wait counts from now
        return waiter

    def woke(self, ex: Exchange, result: Any, timeout: float | None) -> None:
        self.sleepers.remove(ex)
        ex.waiter = None
        if result is TIMED_OUT:
            self.cut(ex, ReadTimeout(f"no byte of the answer within {timeout} s"))

    def last_read(self, ex: Exchange) -> float:
        """A stream's read timeout counts from its own last event (`_on_timer`)."""
        return self.activity.get(ex.rid, self.received_at)

    # -- ending ----------------------------------------------------------------------------

    def cut(self, ex: Exchange, error: Any) -> None:
        """The exchange's answer is given up (its caller left, or timed out): its stream
        is reset, the others go on."""
        rid = ex.rid
        if self.exchanges.pop(rid, None) is not None and ex.error is None and not ex.ended:
            ex.error = error
        self.activity.pop(rid, None)
        self.session.reset(rid)
        self.write_frames()
        waiter = ex.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def abort(self, error: TransportError, peer_closed: bool = False) -> None:
        if not peer_closed and not self.closed:
            self.session.goodbye()  # (before the session is closed: see `close`)
            self.write_frames()
        AsyncLink.abort(self, error, peer_closed)

    def finish(self, ex: Exchange) -> None:
        self.activity.pop(ex.rid, None)
        self.session.settle(ex.rid)

    def close(self) -> None:
        if self.ping_timer is not None:
            self.ping_timer.cancel()
            self.ping_timer = None
        if not self.closed:
            # GOAWAY: NO_ERROR when the pool closes it (RFC 9113 §6.8), or the one a
            # connection error queued (§5.4.1).
            self.session.goodbye()
            self.write_frames()
        AsyncLink.close(self)
