"""The HTTP/2 fault server: an h2 server (on the `h2` library, a test oracle only) that
misbehaves on cue and writes down every stream it received.

Why: the pool's HTTP/2 connections must survive what servers do (GOAWAY with streams in
flight, refused streams, lowered limits, stalled windows, headers split over CONTINUATION,
malformed heads, abrupt closes) and must never put a non-idempotent request on the wire
twice. nginx and hypercorn do some of this on their own schedule; this server does it on
cue and keeps a log.

How: a listener (ThreadedServer, as fault.py) for HTTP/2 with prior knowledge on `.url`,
and with ``tls=True`` a second one, TLS with ALPN h2, on `.tls_url` (`.ssl_context`
trusts its CA). One thread per connection runs one h2 server connection: it reads with a
short timeout, feeds h2, answers, and runs its timers (`/slow` answers, PINGs, the idle
close) in between, so that a slow stream never holds up the others (multiplexing). Every
wait is bounded; `stop()` (or `close()`) wakes and closes everything and joins every
thread within a timeout.

Default: every request is answered ``200``, ``content-type: text/plain``, a
``content-length`` and the body ``stream <id>``, once its END_STREAM arrived. Routes:
``/slow?ms=N`` the same after N ms; ``/bytes/N`` `pattern(N)`; ``/echo`` the request body;
``/status/N`` status N. Response bodies respect the client's flow-control windows.

Numbering: connections from 1 in accept order (both ports together); requests from 1 on
each connection (``ordinal``), in the order their HEADERS arrived. `.requests` lists an
`H2RequestRecord` per stream: (conn, stream_id, method, path, headers), then ordinal,
body, ended and outcome: "pending", "answered", "refused" (RST_STREAM from us),
"dropped" (above a GOAWAY's last id: never answered, RFC 9113 §6.8), "reset" (the client
reset it) or "cut" (the connection closed mid-answer). `.events` lists what else
happened, as (conn, kind, detail): "goaway" (last id), "settings" (the MAX_CONCURRENT_STREAMS
sent), "settings-ack", "ping" (the client's), "ping-ack" (of ours), "client-goaway"
((error code, last id)), "client-reset" ((stream, code)), "error" (h2 refused what it
received), "closed" (why).

Behaviours, keyword arguments of `start_h2_fault_server()` (all combine):

- ``goaway_after=n``: after the n-th request of a connection, send GOAWAY(NO_ERROR,
  last id = that stream, or ``goaway_last_id``), answer the streams up to the last id,
  drop later HEADERS silently, close once nothing is left to answer (as nginx does for
  keepalive_requests). Streams above the last id that were open are dropped too. The
  GOAWAY is a raw frame: h2's close_connection() would stop h2 sending anything more.
- ``refuse={ordinals}`` / ``refuse_streams={stream ids}``: RST_STREAM(REFUSED_STREAM)
  instead of an answer (RFC 9113 §8.7: the request was not processed, retry is safe);
  ``http_1_1_required=True``: RST_STREAM(HTTP_1_1_REQUIRED) on every stream (§8.1.1).
- ``max_concurrent_streams=n``: advertised in the first SETTINGS and enforced by hand,
  from the start as nginx does: a stream beyond it is refused (REFUSED_STREAM, §5.1.2).
  h2's own limit stays high (h2 would treat excess as a *connection* error).
  ``lower_settings_after=k, lowered=m``: after the k-th request, send SETTINGS with
  MAX_CONCURRENT_STREAMS=m; enforced once the client acknowledged it (§6.5.3).
- ``initial_window=n``: our SETTINGS_INITIAL_WINDOW_SIZE (the client's upload window per
  stream); ``stall_window=True``: never send WINDOW_UPDATE for request bodies, so an
  upload stops when a window is spent (the connection window is 65535, §6.9.2).
- ``ping_every=s``: a PING every s seconds (their ACKs are "ping-ack" events); the
  client's PINGs are counted in `pings_received` either way.
- ``continuation=True`` (or a count, default 2): each response head is sent as HEADERS
  followed by that many CONTINUATION frames (§6.10), with an ``x-padding`` field so that
  the block can be split. h2 owns the connection's HPACK encoder, so h2 encodes the head
  into one HEADERS frame; the block of those bytes is then cut into pieces and reframed
  (END_HEADERS on the last piece only, END_STREAM stays on the HEADERS): the encoder's
  state is exactly as h2 left it.
- ``malformed="connection-header" | "missing-status" | "uppercase-name"``: every response
  head is malformed (§8.2.2 connection-specific field ``connection: keep-alive``; §8.3.2
  no ``:status``; §8.2.1 the name ``X-Upper``). h2 encodes it too, with its outbound
  validation and normalization switched off for that one call, so HPACK stays in step.
- ``close_after_headers=True``: close the connection right after a response's HEADERS,
  before its DATA (no GOAWAY).
- ``close_idle_after=s``: close, without GOAWAY, a connection with no open stream and no
  byte received for s seconds (as hypercorn does at keep_alive_timeout).

A close is lingering, as in fault.py: shut our sending side, read and discard for up to
`LINGER` seconds, then close, so that what was sent is not lost to an RST.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack
import hyperframe.frame as hf

from .certs import TLSFiles
from .stdlib import pattern
from .threaded import POLL, ThreadedServer

LINGER = 1.0  # seconds a closing connection keeps reading what the client still sends
SEND_TIMEOUT = 10.0  # seconds for one sendall()
HANDSHAKE_TIMEOUT = 5.0
H2_LOCAL_STREAM_LIMIT = 2**31 - 1  # h2's own limit: never reached, we enforce ours by hand
PADDING = b"p" * 96  # the x-padding value of continuation=: a block long enough to split
MALFORMED = ("connection-header", "missing-status", "uppercase-name")

_BYTES = re.compile(r"/bytes/(\d+)")
_STATUS = re.compile(r"/status/(\d{3})")


@dataclass(frozen=True)
class H2Behaviour:
    """How the HTTP/2 fault server misbehaves; see the module docstring."""

    goaway_after: int | None = None
    goaway_last_id: int | None = None
    refuse: frozenset[int] = frozenset()
    refuse_streams: frozenset[int] = frozenset()
    http_1_1_required: bool = False
    max_concurrent_streams: int | None = None
    lower_settings_after: int | None = None
    lowered: int | None = None
    initial_window: int | None = None
    stall_window: bool = False
    ping_every: float | None = None
    continuation: bool | int = False
    malformed: str | None = None
    close_after_headers: bool = False
    close_idle_after: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "refuse", frozenset(self.refuse))
        object.__setattr__(self, "refuse_streams", frozenset(self.refuse_streams))
        if (self.lower_settings_after is None) != (self.lowered is None):
            raise ValueError("lower_settings_after and lowered go together")
        if self.goaway_last_id is not None and self.goaway_after is None:
            raise ValueError("goaway_last_id needs goaway_after")
        if self.malformed is not None and self.malformed not in MALFORMED:
            raise ValueError(f"malformed must be one of {MALFORMED}, not {self.malformed!r}")
        if self.initial_window is not None and not 0 <= self.initial_window < 2**31:
            raise ValueError(f"initial_window out of range: {self.initial_window}")  # §6.5.2
        for name in ("goaway_after", "max_concurrent_streams", "lower_settings_after", "lowered",
                     "ping_every", "close_idle_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, not {value}")

    @property
    def continuation_frames(self) -> int:
        return 0 if self.continuation is False else 2 if self.continuation is True else int(self.continuation)


@dataclass
class H2RequestRecord:
    """One stream the server received (its HEADERS), and what became of it."""

    conn: int
    stream_id: int
    method: str
    path: str  # :path, query included
    headers: list[tuple[bytes, bytes]]  # every field as received, pseudo-headers first
    ordinal: int  # request number on its connection, from 1
    body: bytes = b""
    ended: bool = False  # the client's END_STREAM arrived
    outcome: str = "pending"  # see the module docstring

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)


class _Close(Exception):
    """Leave the connection loop with a lingering close, for `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.cache
def _tls_files() -> TLSFiles:
    """One CA and certificate for every TLS fault server of the run."""
    directory = Path(tempfile.mkdtemp(prefix="hopwire-h2-fault-"))
    atexit.register(shutil.rmtree, directory, True)
    return TLSFiles.create(directory / "tls")


class _Connection:
    """One accepted socket: one h2 server connection, served by one thread."""

    def __init__(self, server: H2FaultServer, sock: socket.socket, number: int, tls: bool,
                 port: _Port) -> None:
        self.server = server
        self.b = server.behaviour
        self.sock = sock
        self.number = number
        self.tls = tls
        self.port = port
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding=None))
        self.received = 0  # requests (HEADERS opening a stream) so far
        self.records: dict[int, H2RequestRecord] = {}
        self.active: set[int] = set()  # streams accepted and not yet answered in full
        self.outgoing: dict[int, bytes] = {}  # response bodies left to send, by stream
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.limit = self.b.max_concurrent_streams  # what we enforce (None: no limit)
        self.unacked: list[int | None] = []  # MAX_CONCURRENT_STREAMS of each SETTINGS in flight
        self.goaway_last: int | None = None
        self.last_activity = time.monotonic()

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        reason = "stopped"
        try:
            if self.tls:
                self._handshake()
            self._start()
            self._loop()
        except _Close as close:
            reason = close.reason
            self._linger()
        except OSError as exc:
            reason = f"socket error: {exc!r}"
        finally:
            self.server._event(self.number, "closed", reason)
            for sid in self.active:
                if self.records[sid].outcome == "pending":
                    self.records[sid].outcome = "cut"
            self.port._forget(self.sock)
            self.sock.close()

    def _handshake(self) -> None:
        raw = self.sock
        # wrap_socket() detaches `raw`: track the TLS socket before the handshake, so that
        # stop() can shut it down, and handshake in short steps that notice a stop.
        wrapped = _tls_files().server_context().wrap_socket(raw, server_side=True,
                                                             do_handshake_on_connect=False)
        self.port._forget(raw)
        self.sock = wrapped
        if not self.port._track(wrapped):
            raise OSError("stopping")
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        while True:
            if self.server._stopping.is_set() or time.monotonic() >= deadline:
                raise OSError("TLS handshake: stopped or timed out")
            wrapped.settimeout(POLL)
            try:
                wrapped.do_handshake()
                break
            except TimeoutError:
                continue
        if wrapped.selected_alpn_protocol() != "h2":
            raise _Close(f"ALPN {wrapped.selected_alpn_protocol()!r}, not h2")

    def _start(self) -> None:
        b = self.b
        values = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: H2_LOCAL_STREAM_LIMIT,
                  h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536}
        if b.initial_window is not None:
            values[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = b.initial_window
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values=values)
        self.h2.initiate_connection()
        # h2's preface SETTINGS carries h2's own (high) stream limit: rewrite it with the
        # one we advertise and enforce (RFC 9113 §3.4, §6.5.2). h2 applies its values when
        # the ACK comes, as it believes it sent them.
        frame, _ = hf.Frame.parse_frame_header(memoryview(self.h2.data_to_send()[:9]))
        assert isinstance(frame, hf.SettingsFrame)
        frame.settings = {k: v for k, v in self.h2.local_settings.items()}
        del frame.settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS]
        if b.max_concurrent_streams is not None:
            frame.settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = b.max_concurrent_streams
        self.unacked.append(b.max_concurrent_streams)
        self._write(frame.serialize())
        if b.ping_every is not None:
            self._at(b.ping_every, self._ping)

    def _loop(self) -> None:
        while not self.server._stopping.is_set():
            if self.server._frozen.is_set() and self.number <= self.server._frozen_count:
                # `freeze()`: silent, the connection kept open
                self.server._stopping.wait(POLL)
                continue
            now = time.monotonic()
            self._run_timers(now)
            self._pump()
            self._flush()
            if self.goaway_last is not None and not self.active and not self.outgoing:
                raise _Close("goaway done")
            wait = POLL
            if self.timers:
                wait = min(wait, self.timers[0][0] - now)
            if self.b.close_idle_after is not None and not self.active:
                idle_end = self.last_activity + self.b.close_idle_after
                if now >= idle_end:
                    raise _Close("idle")
                wait = min(wait, idle_end - now)
            self.sock.settimeout(max(0.001, wait))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise _Close("client closed")
            self.last_activity = time.monotonic()
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.H2Error as exc:
                self.server._event(self.number, "error", f"{type(exc).__name__}: {exc}")
                self._flush()  # h2's GOAWAY
                raise _Close("protocol error") from exc
            for event in events:
                self._handle(event)

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        self.timers.append((time.monotonic() + delay, action))
        self.timers.sort(key=lambda t: t[0])

    def _run_timers(self, now: float) -> None:
        while self.timers and self.timers[0][0] <= now:
            _, action = self.timers.pop(0)
            action()

    # -- events ------------------------------------------------------------------------

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._request(event.stream_id, event.headers or [])
        elif isinstance(event, h2.events.DataReceived):
            record = self.records.get(event.stream_id)
            if record is not None:
                record.body += event.data or b""
            if not self.b.stall_window:
                self.h2.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            record = self.records.get(event.stream_id)
            if record is not None:
                record.ended = True
                if event.stream_id in self.active:
                    self._schedule(record)
        elif isinstance(event, h2.events.StreamReset):
            self.server._event(self.number, "client-reset", (event.stream_id, event.error_code))
            record = self.records.get(event.stream_id)
            if record is not None and record.outcome == "pending":
                record.outcome = "reset"
            self.active.discard(event.stream_id)
            self.outgoing.pop(event.stream_id, None)
        elif isinstance(event, h2.events.SettingsAcknowledged):
            self.server._event(self.number, "settings-ack", None)
            if self.unacked:
                self.limit = self.unacked.pop(0)
        elif isinstance(event, h2.events.PingReceived):
            self.server._event(self.number, "ping", event.ping_data)
        elif isinstance(event, h2.events.PingAckReceived):
            self.server._event(self.number, "ping-ack", event.ping_data)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.server._event(self.number, "client-goaway", (event.error_code, event.last_stream_id))
            raise _Close("client GOAWAY")

    def _request(self, sid: int, headers: list[tuple[bytes, bytes]]) -> None:
        b = self.b
        self.received += 1
        fields = [(bytes(k), bytes(v)) for k, v in headers]
        pseudo = dict(fields)
        record = H2RequestRecord(self.number, sid, pseudo.get(b":method", b"").decode("latin-1"),
                                 pseudo.get(b":path", b"").decode("latin-1"), fields, self.received)
        self.records[sid] = record
        self.server._record(record)
        if self.goaway_last is not None and sid > self.goaway_last:
            record.outcome = "dropped"  # RFC 9113 §6.8: not processed, no answer
            return
        if b.http_1_1_required:
            self._refuse(record, h2.errors.ErrorCodes.HTTP_1_1_REQUIRED)
        elif self.received in b.refuse or sid in b.refuse_streams:
            self._refuse(record, h2.errors.ErrorCodes.REFUSED_STREAM)
        elif self.limit is not None and len(self.active) >= self.limit:
            self._refuse(record, h2.errors.ErrorCodes.REFUSED_STREAM)  # §5.1.2, as nginx
        else:
            self.active.add(sid)
        if (b.lower_settings_after is not None and b.lowered is not None
                and self.received == b.lower_settings_after):
            frame = hf.SettingsFrame(0, settings={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: b.lowered})
            self.unacked.append(b.lowered)
            self._write(frame.serialize())
            self.server._event(self.number, "settings", b.lowered)
        if b.goaway_after is not None and self.received == b.goaway_after:
            self._goaway(b.goaway_last_id if b.goaway_last_id is not None else sid)

    def _refuse(self, record: H2RequestRecord, code: h2.errors.ErrorCodes) -> None:
        self.h2.reset_stream(record.stream_id, code)
        record.outcome = "refused"

    def _goaway(self, last: int) -> None:
        # Raw, so that h2 still lets us answer streams up to `last` (RFC 9113 §6.8).
        self._write(hf.GoAwayFrame(0, last_stream_id=last,
                                   error_code=h2.errors.ErrorCodes.NO_ERROR).serialize())
        self.goaway_last = last
        self.server._event(self.number, "goaway", last)
        for sid in [s for s in self.active if s > last]:
            self.active.discard(sid)
            self.outgoing.pop(sid, None)
            self.records[sid].outcome = "dropped"

    def _ping(self) -> None:
        self.h2.ping(int(time.monotonic() * 1000).to_bytes(8, "big"))
        assert self.b.ping_every is not None
        self._at(self.b.ping_every, self._ping)

    # -- answers -----------------------------------------------------------------------

    def _schedule(self, record: H2RequestRecord) -> None:
        path, _, query = record.path.partition("?")
        if path == "/slow":
            ms = int((parse_qs(query).get("ms") or ["0"])[0] or 0)
            self._at(ms / 1000, lambda: self._answer(record))
        else:
            self._answer(record)

    def _answer(self, record: H2RequestRecord) -> None:
        sid = record.stream_id
        if sid not in self.active:
            return  # reset, dropped or refused meanwhile
        path = record.path.partition("?")[0]
        status, body = 200, f"stream {sid}".encode()
        if match := _BYTES.fullmatch(path):
            body = pattern(int(match.group(1)))
        elif match := _STATUS.fullmatch(path):
            status = int(match.group(1))
        elif path == "/echo":
            body = record.body
        if status in (204, 304):
            body = b""
        headers = [(b":status", str(status).encode()), (b"content-type", b"text/plain"),
                   (b"content-length", str(len(body)).encode())]
        if self.b.continuation_frames:
            # Never indexed (RFC 7541 §6.2.3): every block carries the whole value again.
            headers.append(hpack.NeverIndexedHeaderTuple(b"x-padding", PADDING))
        self._send_head(sid, self._malform(headers), end_stream=not body)
        if self.b.close_after_headers:
            record.outcome = "cut"
            self.active.discard(sid)
            raise _Close("closed after headers")
        if body:
            self.outgoing[sid] = body
        else:
            self._done(sid)
        self._pump()

    def _malform(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        kind = self.b.malformed
        if kind == "connection-header":
            return [*headers, (b"connection", b"keep-alive")]
        if kind == "missing-status":
            return [h for h in headers if h[0] != b":status"]
        if kind == "uppercase-name":
            return [*headers, (b"X-Upper", b"1")]
        return headers

    def _send_head(self, sid: int, headers: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        """h2 encodes the head (its HPACK state stays the connection's); we may reframe it."""
        self._flush()
        config = self.h2.config
        if self.b.malformed is not None:
            config.validate_outbound_headers = config.normalize_outbound_headers = False
        try:
            self.h2.send_headers(sid, headers, end_stream=end_stream)
        finally:
            config.validate_outbound_headers = config.normalize_outbound_headers = True
        data = self.h2.data_to_send()
        pieces = self.b.continuation_frames
        if pieces:
            data = _split_headers(data, pieces)
        self._write(data)

    def _pump(self) -> None:
        """Send what the client's windows allow of each pending body (RFC 9113 §6.9)."""
        for sid in list(self.outgoing):
            body = self.outgoing[sid]
            try:
                room = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
                while body and room > 0:
                    piece, body = body[:room], body[room:]
                    self.h2.send_data(sid, piece, end_stream=not body)
                    room = min(self.h2.local_flow_control_window(sid),
                               self.h2.max_outbound_frame_size)
            except h2.exceptions.StreamClosedError:
                self.outgoing.pop(sid)
                continue
            if body:
                self.outgoing[sid] = body
            else:
                del self.outgoing[sid]
                self._done(sid)

    def _done(self, sid: int) -> None:
        self.active.discard(sid)
        self.records[sid].outcome = "answered"
        self.last_activity = time.monotonic()

    # -- the socket --------------------------------------------------------------------

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self._write(data)

    def _write(self, data: bytes) -> None:
        """Write h2's pending bytes first: frames go out in the order they were made."""
        pending = self.h2.data_to_send()
        self.sock.settimeout(SEND_TIMEOUT)
        self.sock.sendall(pending + data)

    def _linger(self) -> None:
        try:
            self._flush()
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER
            while not self.server._stopping.is_set() and (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(min(left, POLL))
                try:
                    if not self.sock.recv(65536):
                        return
                except TimeoutError:
                    continue
        except OSError:
            return


def _split_headers(data: bytes, continuations: int) -> bytes:
    """The HEADERS frame that starts `data`, its block cut into 1 + `continuations` pieces:
    HEADERS (END_STREAM kept, END_HEADERS dropped) then CONTINUATION frames, END_HEADERS
    on the last (RFC 9113 §6.2, §6.10). The rest of `data` follows unchanged."""
    frame, length = hf.Frame.parse_frame_header(memoryview(data[:9]))
    assert isinstance(frame, hf.HeadersFrame) and "END_HEADERS" in frame.flags
    frame.parse_body(memoryview(data[9:9 + length]))
    block, rest = frame.data, data[9 + length:]
    n = continuations + 1
    if len(block) < n:
        raise ValueError(f"a header block of {len(block)} bytes cannot be cut in {n}")
    cuts = [len(block) * i // n for i in range(n + 1)]
    parts = [block[cuts[i]:cuts[i + 1]] for i in range(n)]
    head = hf.HeadersFrame(frame.stream_id, data=parts[0],
                           flags=[f for f in frame.flags if f == "END_STREAM"])
    out = [head.serialize()]
    for i, part in enumerate(parts[1:], start=2):
        flags = ["END_HEADERS"] if i == len(parts) else []
        out.append(hf.ContinuationFrame(frame.stream_id, data=part, flags=flags).serialize())
    return b"".join(out) + rest


class _Port(ThreadedServer):
    """One listening socket of an H2FaultServer (plain or TLS)."""

    kind = "h2-fault"

    def __init__(self, owner: H2FaultServer, tls: bool) -> None:
        self.owner = owner
        self.tls = tls
        super().__init__()

    def _connection(self, sock: socket.socket, number: int) -> Callable[[], None]:
        return _Connection(self.owner, sock, self.owner._next_number(), self.tls, self).run


class H2FaultServer:
    """A running HTTP/2 fault server; see the module docstring."""

    def __init__(self, behaviour: H2Behaviour, tls: bool = False) -> None:
        self.behaviour = behaviour
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._frozen = threading.Event()
        self._frozen_count = 0  # connections accepted before `freeze()`
        self._accepted = 0
        self._requests: list[H2RequestRecord] = []
        self._events: list[tuple[int, str, Any]] = []
        self._tls_files = _tls_files() if tls else None
        self._ports = [_Port(self, tls=False)]
        if tls:
            self._ports.append(_Port(self, tls=True))
        self.port = self._ports[0].port
        self.url = self._ports[0].url
        self.tls_url = f"https://127.0.0.1:{self._ports[1].port}" if tls else None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """A new client context trusting the server's CA, no ALPN set (needs tls=True)."""
        if self._tls_files is None:
            raise ValueError("this server was started without tls=True")
        return self._tls_files.client_context()

    # -- what tests read -----------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Connections accepted so far, on both ports."""
        with self._lock:
            return self._accepted

    @property
    def connections_open(self) -> int:
        return sum(port.connections_open for port in self._ports)

    @property
    def requests(self) -> list[H2RequestRecord]:
        """Every stream received so far, in order (the records are live: outcomes change)."""
        with self._lock:
            return list(self._requests)

    @property
    def events(self) -> list[tuple[int, str, Any]]:
        with self._lock:
            return list(self._events)

    def events_of(self, kind: str) -> list[tuple[int, Any]]:
        return [(conn, detail) for conn, k, detail in self.events if k == kind]

    @property
    def pings_received(self) -> int:
        return len(self.events_of("ping"))

    @property
    def ping_acks(self) -> int:
        return len(self.events_of("ping-ack"))

    @property
    def settings_acks(self) -> int:
        return len(self.events_of("settings-ack"))

    # -- threads -------------------------------------------------------------------------

    def _next_number(self) -> int:
        with self._lock:
            self._accepted += 1
            return self._accepted

    def _record(self, record: H2RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def _event(self, conn: int, kind: str, detail: Any) -> None:
        with self._lock:
            self._events.append((conn, kind, detail))

    def freeze(self) -> None:
        """From now on, the connections open are neither read nor written, and stay open:
        a server that vanished without closing (a crash, a NAT that forgot them). New
        connections are served as usual."""
        with self._lock:
            self._frozen_count = self._accepted
        self._frozen.set()

    def stop(self) -> None:
        """Close both listeners and every connection, join every thread (idempotent);
        RuntimeError if a thread did not end within threaded.STOP_TIMEOUT."""
        self._stopping.set()
        errors = []
        for port in self._ports:
            try:
                port.stop()
            except RuntimeError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    close = stop

    def __enter__(self) -> H2FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        changed = {f.name: getattr(self.behaviour, f.name) for f in dataclasses.fields(H2Behaviour)
                   if getattr(self.behaviour, f.name) != f.default}
        return f"<H2FaultServer {self.url} tls={self.tls_url} {changed}>"


def start_h2_fault_server(*, tls: bool = False, **behaviour: Any) -> H2FaultServer:
    """Start an HTTP/2 fault server on 127.0.0.1 (free ports) with the given behaviour."""
    return H2FaultServer(H2Behaviour(**behaviour), tls=tls)
