"""An HTTP/2 connection as the pool sees it: `H2Session`, without I/O.

Strategy: the pool's core asks every connection the same questions
(`ConnectionBase`), and a link sorts what comes back into its exchanges by
request id. `H2Session` answers them for an `H2Connection` (`hopwire._h2`):
a request is a stream and its id is the stream id; the stream events become
the events an HTTP/1.1 answer is made of (`Response`, `InformationalResponse`,
`Data`, `EndOfMessage`, with `http_version` b"2"), so the pool's exchanges,
responses and bodies are the same on both protocols. What differs is decided
here:

- capacity: `room()` is the streams the server still allows (its
  SETTINGS_MAX_CONCURRENT_STREAMS, 100 assumed until they come); the pool
  shares the connection among that many callers (`state`: Multiplexing);
- a stream's end or reset fails or ends that exchange alone. A stream the
  server did not process (REFUSED_STREAM before any answer, RFC 9113 §8.7; a
  stream above a GOAWAY's last stream id, §6.8) is sent again on another
  connection whatever its method (`Replay`), within the pool's replay bound; a
  reset with HTTP_1_1_REQUIRED (§7) is sent again too, and the connection takes
  no new stream: the pool goes to HTTP/1.1 for that origin (`h1_required`);
- a connection error (§5.4.1) breaks the connection: the exchanges left get the
  error or, when no answer of theirs began, the replay rules of `base`;
- flow control (§5.2): the body of a request whose caller reads it whole
  (`Exchange.collect`) is given back to the windows as it arrives; a streamed
  body only as its reader takes it (`consumed`), so that a slow reader holds the
  server back on its stream alone, never the connection's other streams.

The bytes to write (request frames, and the SETTINGS, PING and WINDOW_UPDATE
answers `receive_into` causes) are the driver's to take with `data_to_send()`
and write in order.

An idle connection is checked with a PING (§6.7) rather than by polling its
socket alone: a server that vanished without closing (a crash, a NAT that
forgot the connection) answers no PING, where a poll sees nothing wrong. The
drivers send one once the connection has been idle for PING_IDLE seconds, and
drop the connection when its answer does not come within PING_TIMEOUT.
"""

from __future__ import annotations

from typing import Any

from .._errors import ConnectionLost, RemoteProtocolError, StreamReset as StreamResetError
from .._h2 import _rules as R
from .._h2.connection import (ConnectionTerminated, DataReceived, H2Connection, H2ConnectionFailed,
                              InformationalReceived, PingAcked, RequestHead, ResponseReceived,
                              SettingsChanged, StreamEnded, StreamReset, TrailersReceived,
                              request_head)
from .._wire.parser import Data, EndOfMessage, InformationalResponse
from .._wire.parser import Response as ResponseEvent
from .base import LOST_UNANSWERED, Replay
from .connection import ConnectionBase, ConnectionStateError, PreparedRequest, Unanswered
from .exchange import Exchange

PING_IDLE = 1.0  # seconds without a byte from the server before an idle connection is pinged
PING_TIMEOUT = 2.0  # seconds for the PING's answer before the connection is dropped
REFUSED_STREAM = R.ErrorCode.REFUSED_STREAM
CANCEL = R.ErrorCode.CANCEL
HTTP_1_1_REQUIRED = R.ErrorCode.HTTP_1_1_REQUIRED
VERSION = b"2"


def http2_head(prepared: PreparedRequest, scheme: bytes) -> RequestHead:
    """The HTTP/2 head of a prepared request, read back from its HTTP/1.1 head (made and
    checked by `prepare_request`: one field per line, no folding). `request_head` drops
    the connection-specific fields and makes Host the :authority (RFC 9113 §8.2.2,
    §8.3.1). A prepared request is for one URL, hence one scheme."""
    lines = prepared.head.split(b"\r\n")
    method, path, _ = lines[0].split(b" ", 2)
    if not path.startswith(b"/") and path != b"*":
        raise ConnectionStateError("a request in absolute form (through a plain-http proxy) "
                                   "is not sent on HTTP/2")
    fields = []
    for line in lines[1:]:
        if not line:
            break
        name, _, value = line.partition(b":")
        fields.append((name, value.strip(b" \t")))
    return request_head(method, scheme, None, path, fields)


class H2Session(ConnectionBase):
    """An `H2Connection` answering the pool's questions (see the module docstring)."""

    __slots__ = ("h2", "scheme", "h1_required", "touched", "window_opened", "unacked",
                 "room_grew", "ping_acked")
    # Streams opened before the server's first SETTINGS, when its limit is not known from
    # an earlier connection: one. RFC 9113 §5.1.2 lets a client assume no limit (100 is
    # the floor it recommends), but servers on the h2 library (hypercorn) fail the whole
    # connection past a lower limit, and nginx refuses each stream past it: the server's
    # preface (its SETTINGS, §3.4) comes within a round trip, and the others wait for it.
    ASSUMED_STREAMS = 1

    def __init__(self, scheme: str, h2: H2Connection | None = None,
                 known_limit: int | None = None) -> None:
        """`known_limit`: the origin's SETTINGS_MAX_CONCURRENT_STREAMS on an earlier
        connection (see ASSUMED_STREAMS)."""
        ConnectionBase.__init__(self)
        self.multiplexed = True
        assumed = (self.ASSUMED_STREAMS if known_limit is None
                   else max(1, min(known_limit, R.ASSUMED_MAX_CONCURRENT_STREAMS)))
        self.h2 = H2Connection(assumed_max_concurrent_streams=assumed) if h2 is None else h2
        self.scheme = scheme.encode("ascii")
        self.h1_required = False  # a stream was reset with HTTP_1_1_REQUIRED
        self.touched: set[int] = set()  # streams that got events in the last receive
        self.window_opened = False  # more of a request body may be sent (WINDOW_UPDATE)
        self.unacked: dict[int, int] = {}  # octets delivered to streamed bodies, not yet read
        self.room_grew = False  # the server's SETTINGS let more streams open: wake waiters
        self.ping_acked = False  # the answer to our PING came

    # -- the pool's questions -------------------------------------------------------------

    def has_ended(self) -> bool:
        return self.h2.ended()

    def is_closing(self) -> bool:
        h2 = self.h2
        return not h2.ended() and (h2.closing() or self.h1_required)

    def is_free(self) -> bool:
        h2 = self.h2
        return h2.idle() and not self.h1_required and h2.can_open_stream()

    def pending(self) -> int:
        return self.h2.open_count()

    def server_timeout(self) -> int | None:
        return None

    def is_answering(self) -> bool:
        return True  # bytes that break HTTP/2 are a connection error, never stray bytes

    def refusal(self, method: bytes, barrier: bool) -> str | None:
        if self.h1_required:
            return "the server requires HTTP/1.1"
        if not self.h2.can_open_stream():
            return "no stream may be opened now"
        return None

    def room(self) -> int:
        return 0 if self.h1_required else self.h2.room()

    @property
    def settled(self) -> bool:
        """The server's SETTINGS came: `room()` is its to say, not assumed."""
        return self.h2.peer_settings_seen

    def stream_limit(self) -> int | None:
        """The server's SETTINGS_MAX_CONCURRENT_STREAMS, once its SETTINGS came."""
        h2 = self.h2
        return h2.max_concurrent_streams if h2.peer_settings_seen else None

    # -- sending ---------------------------------------------------------------------------

    def send_prepared(self, prepared: PreparedRequest) -> int:
        """Open the request's stream (its HEADERS queued); the stream id. Content, if
        any, follows with `send_data`."""
        if self.h1_required:
            raise ConnectionStateError("the server requires HTTP/1.1")
        head = prepared.h2
        if head is None:
            head = prepared.h2 = http2_head(prepared, self.scheme)
        return self.h2.send_head(head, prepared.body_length == 0 and not prepared.chunked)

    def record(self, ex: Exchange, prepared: PreparedRequest,
               exchanges: dict[int, Exchange]) -> int:
        """Put the exchange in flight, its request on a new stream (`base.record` for
        HTTP/2; the caller holds its link's lock); the streams open before it."""
        ahead = self.pending()
        rid = self.send_prepared(prepared)
        info = ex.info
        info.pipelined = ahead
        info.stream_id = rid
        info.streams = ahead + 1
        # The replay rules of `base`: streams opened before it are requests ahead of it.
        ex.may_replay = ex.replay_pipelined if ahead else ex.replay_alone
        ex.rid = rid
        exchanges[rid] = ex
        return ahead

    def data_to_send(self) -> bytes:
        return self.h2.data_to_send()

    # -- receiving -------------------------------------------------------------------------

    def receive_into(self, data: Any, exchanges: dict[int, Exchange] | None) -> list[Any]:
        """Feed bytes read from the transport; each event goes into its exchange
        (see the module docstring). A connection error raises RemoteProtocolError
        once the events before it were handed over."""
        h2 = self.h2
        if h2.ended():
            return []
        try:
            events = h2.receive_data(data)
        except H2ConnectionFailed as exc:
            self._deliver(exc.events, exchanges or {})
            raise RemoteProtocolError(f"HTTP/2 connection error: {exc.reason}") from exc
        self._deliver(events, exchanges or {})
        return []

    def _deliver(self, events: list[Any], exchanges: dict[int, Exchange]) -> None:
        h2 = self.h2
        touched = self.touched
        for event in events:
            kind = type(event)
            if kind is DataReceived:
                sid = event.stream_id
                ex = exchanges.get(sid)
                data = event.data
                if ex is None or ex.collect:
                    h2.acknowledge_received_data(sid, len(data))
                elif data:
                    self.unacked[sid] = self.unacked.get(sid, 0) + len(data)
                if ex is not None and data:
                    ex.events.append(Data(data))
                    ex.buffered += len(data)
                    touched.add(sid)
            elif kind is ResponseReceived:
                ex = exchanges.get(event.stream_id)
                if ex is not None:
                    ex.events.append(ResponseEvent(event.status, b"", event.headers, VERSION))
                    touched.add(event.stream_id)
            elif kind is StreamEnded:
                self.answered += 1
                ex = exchanges.pop(event.stream_id, None)
                if ex is not None:
                    ex.ended = True
                    ex.events.append(EndOfMessage())
                    touched.add(event.stream_id)
            elif kind is StreamReset:
                if event.error_code == HTTP_1_1_REQUIRED:
                    self.h1_required = True
                # The reset gave the stream's unread octets back to the connection (its
                # late acknowledgement is ignored only while the stream is remembered).
                self.unacked.pop(event.stream_id, None)
                ex = exchanges.pop(event.stream_id, None)
                if ex is not None and not ex.ended:
                    ex.error = self._reset_error(event, ex)
                    touched.add(event.stream_id)
            elif kind is InformationalReceived:
                ex = exchanges.get(event.stream_id)
                if ex is not None:
                    ex.events.append(InformationalResponse(event.status, b"", event.headers,
                                                           VERSION))
            elif kind is TrailersReceived or kind is ConnectionTerminated:
                pass  # trailers are not kept (as on HTTP/1.1); the end is `has_ended`
            elif kind is SettingsChanged:
                self.window_opened = True  # (SETTINGS_INITIAL_WINDOW_SIZE)
                self.room_grew = True
            elif kind is PingAcked:
                self.ping_acked = True
            else:  # WindowUpdated: a request body may go on
                self.window_opened = True

    @staticmethod
    def _reset_error(event: StreamReset, ex: Exchange) -> BaseException:
        """What the caller of a reset stream gets."""
        code = event.error_code
        unprocessed = event.unprocessed or (code == HTTP_1_1_REQUIRED and not ex.events)
        if unprocessed:
            # Not processed: sent again on another connection, whatever the method,
            # while its body can be sent again and replays are left (`Attempt.exchange`).
            if ex.replay_pipelined:
                return Replay()
            return ConnectionLost(LOST_UNANSWERED, maybe_processed=False)
        if not event.remote:
            return RemoteProtocolError(f"HTTP/2: {event.reason}")
        try:
            name = R.ErrorCode(code).name
        except ValueError:
            name = hex(code)
        return StreamResetError(f"the server reset the stream ({name})", code)

    def consumed(self, stream_id: int, size: int) -> None:
        """A streamed body's reader took `size` octets: the windows may open again."""
        left = self.unacked.get(stream_id, 0)
        size = min(size, left)
        if size:
            if left == size:
                del self.unacked[stream_id]
            else:
                self.unacked[stream_id] = left - size
            if not self.h2.ended():
                self.h2.acknowledge_received_data(stream_id, size)

    def settle(self, stream_id: int) -> None:
        """The stream's body is wanted whole, or no longer: what was delivered and not
        read is given back to the windows (the rest is, as it arrives: `collect`)."""
        self.consumed(stream_id, self.unacked.get(stream_id, 0))

    def receive_eof(self) -> list[Any]:
        self.h2.receive_eof()
        return []

    def close(self) -> None:
        self.h2.close()

    def unanswered(self, *, replay_unsafe: bool = False) -> Unanswered:
        return self.h2.unanswered(replay_unsafe=replay_unsafe)

    def goodbye(self) -> None:
        """The pool closes the connection: GOAWAY(NO_ERROR) is queued (RFC 9113 §6.8),
        unless the connection ended already (a connection error queued its own)."""
        h2 = self.h2
        if not h2.ended():
            try:
                h2.send_goaway()
            except ConnectionStateError:
                pass

    def ping(self) -> None:
        """Queue a PING (see the module docstring)."""
        self.ping_acked = False
        self.h2.ping()

    def reset(self, stream_id: int) -> None:
        """The caller gave up on the stream: RST_STREAM(CANCEL) frees its slot at once."""
        self.settle(stream_id)
        h2 = self.h2
        if not h2.ended():
            try:
                h2.reset_stream(stream_id, CANCEL)
            except ConnectionStateError:
                pass  # closed already (its end crossed the reset)

    def __repr__(self) -> str:
        return f"<H2Session {self.h2!r}>"
