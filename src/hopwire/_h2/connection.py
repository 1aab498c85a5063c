"""The state of one HTTP/2 client connection (RFC 9113), without I/O.

Strategy: as the HTTP/1.1 `Connection`, this holds no socket, clock or loop. The
driver writes what `data_to_send()` hands out (the preface first: it is queued by
the constructor), feeds what it reads to `receive_data()` and acts on the events
that come back, each tagged with its stream. Requests are streams: `send_request()`
opens one and returns its id, `send_data()` sends its content, `reset_stream()`
abandons it; `ping()` and `send_goaway()` are the rest of what a client sends. The
pool asks `can_open_stream()`, `streams_left`, `open_streams`, `is_idle`,
`is_closing`, `is_closed`, `sendable()`, and `unanswered()` once it is closed. The
frame codec and HPACK are the selected twins (`frames`, `hpack`).

Events (slotted records, compared field by field):
  ResponseReceived(stream_id, status, headers)    the final response's head
  InformationalReceived(stream_id, status, headers)  a 1xx other than 101
  DataReceived(stream_id, data, flow_controlled_length)
  TrailersReceived(stream_id, headers)
  StreamEnded(stream_id)                           the response is complete
  StreamReset(stream_id, error_code, remote, unprocessed, reason)
      the stream is gone: reset by the server (`remote`), or by us because its
      response broke a rule (`reason` says which; RST_STREAM is queued); or
      dropped by a GOAWAY that did not cover it. `unprocessed`: the server says
      it did not act on the request (REFUSED_STREAM before any answer, §8.7; a
      stream above a GOAWAY's last stream id, §6.8): send it again elsewhere,
      whatever its method.
  SettingsChanged(changed)                         the server's SETTINGS, applied
  PingAcked(opaque)                                the answer to our `ping()`
  GoAwayReceived(last_stream_id, error_code, debug_data)
  WindowUpdated(stream_id, increment)              more may be sent (0: connection)
  ConnectionTerminated(error_code, last_stream_id) the connection ended in this call
      (drained after a GOAWAY, or `receive_eof()`): close the transport. (A call
      that sends can end the last stream too: `is_closed` is the state's truth.)
A response is: InformationalReceived*, ResponseReceived, DataReceived*,
TrailersReceived?, StreamEnded; a StreamReset may cut it anywhere. After
StreamEnded, a StreamReset (NO_ERROR, §8.1) only says: stop sending the request.

Errors. A connection error (§5.4.1) raises `H2ConnectionFailed` from
`receive_data()` (`H2LimitExceeded` for our limits: ENHANCE_YOUR_CALM), with the
events completed before it in `.events` and a GOAWAY queued: the driver hands out
those events, writes `data_to_send()`, closes the transport, and asks
`unanswered()` which requests may be sent again. A stream error (§5.4.2) is no
exception: RST_STREAM is queued and a StreamReset event fails that stream alone.
What is which (the RFC's choice unless noted):
- connection errors: frames on idle or server-initiated streams (§5.1, §5.1.1,
  PUSH_PROMISE too: push is off, §8.4); a frame on a stream after its END_STREAM
  (§5.1: STREAM_CLOSED); DATA beyond the connection window or a WINDOW_UPDATE /
  SETTINGS_INITIAL_WINDOW_SIZE taking a window past 2^31-1 (§6.9.1, §6.9.2);
  HPACK errors (§4.3: COMPRESSION_ERROR); SETTINGS_ENABLE_PUSH=1 from a server
  (§6.5.2); a server preface that is not SETTINGS (§3.4); the reader's errors;
  our limits (below).
- stream errors: malformed responses (§8.1.1, PROTOCOL_ERROR: see
  `_check_fields` and `_on_headers`), DATA beyond the stream window, a stream
  WINDOW_UPDATE overflow (FLOW_CONTROL_ERROR), a frame on a half-closed stream or
  one the server reset (STREAM_CLOSED), a header list above our
  SETTINGS_MAX_HEADER_LIST_SIZE (ours: ENHANCE_YOUR_CALM; the block is decoded
  whole, so the HPACK table stays in step).
- ignored: frames on a stream we reset (§5.1; DATA still counts against, and is
  given back to, the connection window), on forgotten closed streams, PRIORITY.

Flow control. Receiving: our windows (1 MiB a stream, 16 MiB the connection,
`_rules`) are given back only for bytes the application consumed, which it says
with `acknowledge_received_data()`: an unread body stops the server (§5.2). A
WINDOW_UPDATE goes out once half a window is consumed, not per frame. Padding is
consumed on arrival; so is DATA on a stream we reset, and the unread bytes of a
stream are given back to the connection when the stream is reset (either side).
Sending: `send_data()` queues what both windows and the server's
SETTINGS_MAX_FRAME_SIZE allow and returns how much it took; the caller keeps the
rest and tries again after a WindowUpdated (or SettingsChanged) event:
`sendable(stream_id)` says how much would be taken. Nothing is queued inside.

Limits (ENHANCE_YOUR_CALM, connection errors; numbers in `_rules`): SETTINGS
and PING frames are answered at once, and the answers (with RST_STREAM replies)
that the driver has not taken yet are bounded (`MAX_PENDING_REPLIES`, the
settings and ping floods); empty DATA frames without END_STREAM in a row
(`MAX_EMPTY_DATA_FRAMES`); frames that change nothing in a row
(`MAX_IGNORED_FRAMES`). The reader bounds CONTINUATION floods, field blocks and
SETTINGS entries. Rapid reset (CVE-2023-44487) is a server's problem: a server
can only reset streams we opened, as fast as we open them; a pool that sends a
refused request again must bound that itself. Resets on closed streams are
ignored frames.

Our SETTINGS (§6.5.2): ENABLE_PUSH=0 (no server push: we would only refuse the
streams), INITIAL_WINDOW_SIZE (1 MiB), MAX_HEADER_LIST_SIZE (the HPACK decoder's
limit, so that the server knows it), and HEADER_TABLE_SIZE / MAX_FRAME_SIZE only
when they differ from the defaults. Not MAX_CONCURRENT_STREAMS: it limits the
streams the server may open, and with push off it may open none (§5.1.1, §8.4).
The connection's window is raised by a WINDOW_UPDATE right after (§6.9.2).
A larger MAX_FRAME_SIZE or a smaller HEADER_TABLE_SIZE of ours takes effect when
the server acknowledges them (§6.5.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Union

from hopwire._wire import rules as _h1
from hopwire._wire.parser import connection_tokens
from hopwire._pool.connection import ConnectionStateError, Unanswered
from hopwire._errors import LocalProtocolError, RemoteProtocolError
from hopwire._wire.events import Record as _Event  # a slotted record compared field by field

from . import _rules as R
from . import frames, hpack
from ._errors import H2ConnectionError, H2StreamError
from ._hpack_tables import STATIC_TABLE

if TYPE_CHECKING:  # the Python twin is the typed source of truth of both
    from . import _frames_py as F
else:
    F = frames  # the selected twin

__all__ = [
    "ConnectionTerminated", "DataReceived", "Event", "GoAwayReceived", "H2Connection",
    "H2ConnectionFailed", "H2LimitExceeded", "InformationalReceived", "PingAcked",
    "ResponseReceived", "SettingsChanged", "StreamEnded", "StreamIdsExhausted", "StreamReset",
    "TrailersReceived", "WindowUpdated",
]

Text = Union[bytes, str]
Field = tuple[bytes, bytes]
Buffer = Union[bytes, bytearray, memoryview]

_E = R.ErrorCode
_S = R.SettingId
_HEADER_TABLE_SIZE = int(_S.HEADER_TABLE_SIZE)
_ENABLE_PUSH = int(_S.ENABLE_PUSH)
_MAX_CONCURRENT_STREAMS = int(_S.MAX_CONCURRENT_STREAMS)
_INITIAL_WINDOW_SIZE = int(_S.INITIAL_WINDOW_SIZE)
_MAX_FRAME_SIZE = int(_S.MAX_FRAME_SIZE)
_MAX_HEADER_LIST_SIZE = int(_S.MAX_HEADER_LIST_SIZE)
NO_ERROR = int(_E.NO_ERROR)
PROTOCOL_ERROR = int(_E.PROTOCOL_ERROR)
FLOW_CONTROL_ERROR = int(_E.FLOW_CONTROL_ERROR)
STREAM_CLOSED = int(_E.STREAM_CLOSED)
REFUSED_STREAM = int(_E.REFUSED_STREAM)
CANCEL = int(_E.CANCEL)
COMPRESSION_ERROR = int(_E.COMPRESSION_ERROR)
ENHANCE_YOUR_CALM = int(_E.ENHANCE_YOUR_CALM)

_MAX_WINDOW = R.MAX_WINDOW_SIZE
_MAX_STREAM_ID = R.MAX_STREAM_ID
_UNLIMITED = 1 << 32  # "no limit" for an int-typed limit (SETTINGS values are 32-bit)

# The frame classes of the selected twin, as module globals (dispatch by `type(x) is`).
_Data = F.Data
_Headers = F.Headers
_WindowUpdate = F.WindowUpdate
_Settings = F.Settings
_Ping = F.Ping
_RstStream = F.RstStream
_GoAway = F.GoAway
_PushPromise = F.PushPromise
_Priority = F.Priority
_write_data = F.data
_write_headers = F.headers
_write_window_update = F.window_update
_write_rst_stream = F.rst_stream

# How a closed stream closed, for what a late frame on it means (§5.1).
_IGNORED = 1  # we reset it, or a GOAWAY dropped it: late frames are ignored
_RESET_BY_PEER = 2  # RST_STREAM received: a later DATA or HEADERS is a stream error
_ENDED = 3  # END_STREAM received: a later DATA or HEADERS is a connection error

# -- reasons ---------------------------------------------------------------------------
# Connection errors (reason, code): the server broke HTTP/2, or one of our limits.
PREFACE_NOT_SETTINGS = ("server preface not a SETTINGS frame (RFC 9113 §3.4)", PROTOCOL_ERROR)
PUSH_ENABLED = ("SETTINGS_ENABLE_PUSH=1 from a server (RFC 9113 §6.5.2)", PROTOCOL_ERROR)
PUSH_PROMISE_REFUSED = ("PUSH_PROMISE with push disabled (RFC 9113 §6.6, §8.4)", PROTOCOL_ERROR)
SERVER_STREAM = ("frame on a stream only the server could have opened, and did not "
                 "(RFC 9113 §5.1.1)", PROTOCOL_ERROR)
IDLE_STREAM = ("frame other than PRIORITY on an idle stream (RFC 9113 §5.1)", PROTOCOL_ERROR)
AFTER_END_STREAM = ("DATA or HEADERS on a stream after its END_STREAM (RFC 9113 §5.1)",
                    STREAM_CLOSED)
CONNECTION_WINDOW_EXCEEDED = ("DATA beyond the connection's flow-control window "
                              "(RFC 9113 §6.9.1)", FLOW_CONTROL_ERROR)
CONNECTION_WINDOW_OVERFLOW = ("WINDOW_UPDATE taking the connection's window past 2^31-1 "
                              "(RFC 9113 §6.9.1)", FLOW_CONTROL_ERROR)
INITIAL_WINDOW_OVERFLOW = ("SETTINGS_INITIAL_WINDOW_SIZE taking a stream's window past "
                           "2^31-1 (RFC 9113 §6.9.2)", FLOW_CONTROL_ERROR)
COMPRESSION = ("field block that HPACK cannot decode (RFC 9113 §4.3)", COMPRESSION_ERROR)
TOO_MANY_PENDING_REPLIES = ("more SETTINGS, PING and RST_STREAM replies waiting to be sent "
                            "than we queue (RFC 9113 §10.5)", ENHANCE_YOUR_CALM)
TOO_MANY_EMPTY_DATA = ("more empty DATA frames in a row than we accept (RFC 9113 §10.5)",
                       ENHANCE_YOUR_CALM)
TOO_MANY_IGNORED_FRAMES = ("more frames that change nothing in a row than we accept "
                           "(RFC 9113 §10.5)", ENHANCE_YOUR_CALM)
# Stream errors (reason, code).
STREAM_WINDOW_EXCEEDED = ("DATA beyond the stream's flow-control window (RFC 9113 §6.9.1)",
                          FLOW_CONTROL_ERROR)
STREAM_WINDOW_OVERFLOW = ("WINDOW_UPDATE taking the stream's window past 2^31-1 "
                          "(RFC 9113 §6.9.1)", FLOW_CONTROL_ERROR)
HALF_CLOSED = ("DATA or HEADERS after the stream's END_STREAM (RFC 9113 §5.1)", STREAM_CLOSED)
RESET_BY_PEER = ("DATA or HEADERS on a stream the server reset (RFC 9113 §5.1)", STREAM_CLOSED)
HEADER_LIST_TOO_LARGE = ("header list larger than our SETTINGS_MAX_HEADER_LIST_SIZE "
                         "(RFC 9113 §10.5.1)", ENHANCE_YOUR_CALM)
# Malformed responses (§8.1.1): stream errors of type PROTOCOL_ERROR.
MISSING_STATUS = "response without :status (RFC 9113 §8.3.2)"
DUPLICATE_STATUS = "more than one :status (RFC 9113 §8.3)"
REQUEST_PSEUDO_HEADER = "request pseudo-header field in a response (RFC 9113 §8.3)"
UNKNOWN_PSEUDO_HEADER = "unknown pseudo-header field (RFC 9113 §8.3)"
PSEUDO_HEADER_AFTER_FIELD = "pseudo-header field after a regular field (RFC 9113 §8.3)"
PSEUDO_HEADER_IN_TRAILERS = "pseudo-header field in trailers (RFC 9113 §8.1)"
INVALID_STATUS = "invalid :status (RFC 9113 §8.3.2, RFC 9110 §15)"
SWITCHING_PROTOCOLS = "101 Switching Protocols, which HTTP/2 does not have (RFC 9113 §8.6)"
INVALID_NAME = "field name not a lowercase token (RFC 9113 §8.2.1, §8.2)"
INVALID_VALUE = ("field value with a forbidden octet or surrounding whitespace "
                 "(RFC 9113 §8.2.1)")
CONNECTION_SPECIFIC = "connection-specific field (RFC 9113 §8.2.2)"
TE_NOT_TRAILERS = "TE field other than \"trailers\" (RFC 9113 §8.2.2)"
INVALID_CONTENT_LENGTH = "invalid content-length (RFC 9110 §8.6)"
CONFLICTING_CONTENT_LENGTH = "content-length fields that disagree (RFC 9110 §8.6)"
CONTENT_TOO_LONG = "more DATA than the content-length (RFC 9113 §8.1.1)"
CONTENT_TOO_SHORT = "END_STREAM before the content-length was reached (RFC 9113 §8.1.1)"
CONTENT_NOT_ALLOWED = "DATA in a response to HEAD, or of status 204 or 304 (RFC 9110 §6.4.1)"
DATA_BEFORE_RESPONSE = "DATA before the final response's HEADERS (RFC 9113 §8.1)"
INFORMATIONAL_END_STREAM = "1xx response with END_STREAM (RFC 9113 §8.1)"
TRAILERS_WITHOUT_END_STREAM = ("HEADERS after the final response without END_STREAM: a "
                               "second response, or trailers that do not end it (RFC 9113 §8.1)")
# What the caller may not send (LocalProtocolError).
REQUEST_PSEUDO_IN_FIELDS = "pseudo-header fields are send_request()'s arguments (RFC 9113 §8.3)"
INVALID_METHOD = "method is not a token (RFC 9110 §9.1)"
CONNECT_UNSUPPORTED = "CONNECT over HTTP/2 (RFC 9113 §8.5) is not supported yet"
INVALID_SCHEME = "invalid :scheme (RFC 3986 §3.1)"
INVALID_AUTHORITY = "invalid :authority (RFC 9113 §8.3.1: host and port only)"
AUTHORITY_MISMATCH = "Host differs from :authority (RFC 9113 §8.3.1)"
INVALID_PATH = "invalid :path (RFC 9113 §8.3.1)"
REQUEST_NAME = "field name is not a token (RFC 9110 §5.1)"
REQUEST_VALUE = "invalid character in field value (RFC 9110 §5.5)"
REQUEST_CONTENT_LENGTH = "invalid or conflicting content-length (RFC 9110 §8.6)"
HEADER_LIST_OVER_PEER_LIMIT = "header list larger than the server's SETTINGS_MAX_HEADER_LIST_SIZE"
CONTENT_LENGTH_EXCEEDED = "more content than the request's content-length (RFC 9113 §8.1.1)"
CONTENT_LENGTH_NOT_REACHED = "content ended before the request's content-length (RFC 9113 §8.1.1)"
NOT_A_BUFFER = "data must be bytes, bytearray or memoryview"

# -- byte classes (from hopwire._wire.rules) ------------------------------------------------
# As tables for bytes.translate() (a table given, none built per call): the octets a
# class allows become 0, the others 1, and `1 in data.translate(table)` finds any.


def _table(allowed: Iterable[int]) -> bytes:
    ok = frozenset(allowed)
    return bytes(0 if octet in ok else 1 for octet in range(256))


_TOKEN = _table(_h1.TCHARS)
_LOWER_TOKEN = _table(c for c in _h1.TCHARS if not 0x41 <= c <= 0x5A)
_TARGET = _table(_h1.TARGET_CHARS)
_AUTHORITY = _table(_h1.TARGET_CHARS - set(b"@/?#"))  # host and port (§8.3.1: no userinfo)
_SCHEME = _table(b"+-.0123456789abcdefghijklmnopqrstuvwxyz")  # RFC 3986 §3.1, lower-cased
# Field values: RFC 9110 §5.5 (NUL, CR and LF among the octets it forbids, RFC 9113
# §8.2.1). Checked on all the values of a field list at once, joined.
_VALUE = _table(_h1.VALUE_CHARS)
_OWS = b" \t"  # not at either end of a value (RFC 9113 §8.2.1)


# Status codes by their 3 octets: RFC 9110 §15, read as the HTTP/1.1 parser does
# (three digits, the first not 0).
_STATUS_CODES = {b"%d" % code: code for code in range(100, 1000)}
_NO_CONTENT_STATUSES = frozenset([204, 304])  # RFC 9110 §6.4.1

# Response field names that need more than a look at their octets: connection-specific
# (§8.2.2), TE, content-length. Every other lowercase token is an ordinary name.
_SPECIAL_NAMES = R.CONNECTION_SPECIFIC | {b"te", b"content-length"}
# Ordinary names known valid: the static table's (each connection learns more).
_KNOWN_NAMES = frozenset(name for name, _ in STATIC_TABLE
                         if not name.startswith(b":") and name not in _SPECIAL_NAMES)
_MAX_LEARNED_NAMES = 512
# Request field names as callers spell them (str or bytes) -> lowercase bytes, for names
# seen valid and ordinary; shared by all connections (a dict's get and set are atomic).
_REQUEST_NAMES: dict[object, bytes] = {}
_MAX_REQUEST_NAMES = 1024
# What a request's fields may not carry: connection-specific fields are dropped, as the
# hop-by-hop filter of HTTP/1.1 does; host becomes :authority; TE is kept as "trailers".
_REQUEST_SPECIAL = R.CONNECTION_SPECIFIC | {b"te", b"host", b"content-length"}


class _Malformed(Exception):
    """A response broke §8.1.1 (args[0]: the reason): a stream error, PROTOCOL_ERROR."""


# -- errors --------------------------------------------------------------------------


class H2ConnectionFailed(RemoteProtocolError):
    """A connection error (RFC 9113 §5.4.1): the server broke HTTP/2 or one of our limits.

    GOAWAY(`code`) is queued in `data_to_send()`; the connection is closed to
    every stream. `events` holds what the failing `receive_data()` completed
    before the error, still to be handed out. `error` is the codec's exception
    that found it (`H2ConnectionError`, `HPACKError`), if one did (also the cause).
    """

    def __init__(self, reason: str, code: int, error: BaseException | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.error = error
        if error is not None:
            self.__cause__ = error


class H2LimitExceeded(H2ConnectionFailed):
    """The server went past one of our limits (floods): ENHANCE_YOUR_CALM was sent."""


class StreamIdsExhausted(ConnectionStateError):
    """No stream identifier is left (RFC 9113 §5.1.1): open a new connection."""


# -- events ----------------------------------------------------------------------------


class ResponseReceived(_Event):
    """The final response's head: `headers` are the regular fields, in order."""

    __slots__ = ("stream_id", "status", "headers")
    _fields = __slots__

    def __init__(self, stream_id: int, status: int, headers: list[Field]) -> None:
        self.stream_id = stream_id
        self.status = status
        self.headers = headers


class InformationalReceived(_Event):
    """An interim (1xx) response (RFC 9110 §15.2); 101 is refused (§8.6)."""

    __slots__ = ("stream_id", "status", "headers")
    _fields = __slots__

    def __init__(self, stream_id: int, status: int, headers: list[Field]) -> None:
        self.stream_id = stream_id
        self.status = status
        self.headers = headers


class DataReceived(_Event):
    """Response content. Acknowledge `len(data)` once consumed (padding needs none);
    `flow_controlled_length` is what the frame cost the windows."""

    __slots__ = ("stream_id", "data", "flow_controlled_length")
    _fields = __slots__

    def __init__(self, stream_id: int, data: bytes, flow_controlled_length: int) -> None:
        self.stream_id = stream_id
        self.data = data
        self.flow_controlled_length = flow_controlled_length


class TrailersReceived(_Event):
    """The trailer section (always followed by StreamEnded)."""

    __slots__ = ("stream_id", "headers")
    _fields = __slots__

    def __init__(self, stream_id: int, headers: list[Field]) -> None:
        self.stream_id = stream_id
        self.headers = headers


class StreamEnded(_Event):
    """The response is complete (END_STREAM, content-length checked)."""

    __slots__ = ("stream_id",)
    _fields = __slots__

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id


class StreamReset(_Event):
    """The stream is closed early (see the module docstring); its slot is free."""

    __slots__ = ("stream_id", "error_code", "remote", "unprocessed", "reason")
    _fields = __slots__

    def __init__(self, stream_id: int, error_code: int, remote: bool = True,
                 unprocessed: bool = False, reason: str = "") -> None:
        self.stream_id = stream_id
        self.error_code = error_code
        self.remote = remote
        self.unprocessed = unprocessed
        self.reason = reason


class SettingsChanged(_Event):
    """The server's SETTINGS were applied (and acknowledged): {identifier: value}, the
    last value of each known setting in the frame. Stream limits and windows may have
    changed: ask `can_open_stream()` and `sendable()` again."""

    __slots__ = ("changed",)
    _fields = __slots__

    def __init__(self, changed: dict[int, int]) -> None:
        self.changed = changed


class PingAcked(_Event):
    """The server answered the PING sent by `ping()` with this `opaque` data."""

    __slots__ = ("opaque",)
    _fields = __slots__

    def __init__(self, opaque: bytes) -> None:
        self.opaque = opaque


class GoAwayReceived(_Event):
    """GOAWAY: no new stream; streams above `last_stream_id` were reset as unprocessed
    (StreamReset events follow), the others may still be answered."""

    __slots__ = ("last_stream_id", "error_code", "debug_data")
    _fields = __slots__

    def __init__(self, last_stream_id: int, error_code: int, debug_data: bytes = b"") -> None:
        self.last_stream_id = last_stream_id
        self.error_code = error_code
        self.debug_data = debug_data


class WindowUpdated(_Event):
    """The server granted more window: on a stream we are still sending on, or on the
    connection (`stream_id` 0). `sendable()` says how much may go now."""

    __slots__ = ("stream_id", "increment")
    _fields = __slots__

    def __init__(self, stream_id: int, increment: int) -> None:
        self.stream_id = stream_id
        self.increment = increment


class ConnectionTerminated(_Event):
    """The connection ended without a connection error: every stream is done after a
    GOAWAY, or the server closed the transport (`receive_eof()`). `error_code` and
    `last_stream_id` are the server's GOAWAY's, if one came (else None)."""

    __slots__ = ("error_code", "last_stream_id")
    _fields = __slots__

    def __init__(self, error_code: int | None = None, last_stream_id: int | None = None) -> None:
        self.error_code = error_code
        self.last_stream_id = last_stream_id


Event = Union[ResponseReceived, InformationalReceived, DataReceived, TrailersReceived,
              StreamEnded, StreamReset, SettingsChanged, PingAcked, GoAwayReceived,
              WindowUpdated, ConnectionTerminated]


# -- helpers ---------------------------------------------------------------------------


def _octets(text: object, encoding: str, what: str) -> bytes:
    if type(text) is bytes:
        return text
    if isinstance(text, str):
        try:
            return text.encode(encoding)
        except UnicodeEncodeError:
            raise LocalProtocolError(f"{what} not encodable as {encoding}", repr(text)) from None
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError(f"{what} must be bytes or str, not {type(text).__name__}")


def _content_length(value: bytes, previous: int) -> int:
    """The content-length `value` states (a list of one repeated number allowed,
    RFC 9110 §8.6), given the one an earlier field stated (-1: none)."""
    if value.isdigit() and len(value) <= 18:  # the common case: one number
        length = int(value)
    else:
        length = -1
        for part in value.split(b","):
            part = part.strip(_OWS)
            if not (part.isdigit() and len(part) <= 18):
                raise _Malformed(INVALID_CONTENT_LENGTH)
            if length >= 0 and int(part) != length:
                raise _Malformed(CONFLICTING_CONTENT_LENGTH)
            length = int(part)
    if previous >= 0 and previous != length:
        raise _Malformed(CONFLICTING_CONTENT_LENGTH)
    return length


def _pseudo_error(fields: list[Field]) -> str:
    """Why the pseudo-header fields opening a response head are wrong."""
    status = 0
    for name, _ in fields:
        if not name.startswith(b":"):  # (:status and a field after it pass the fast check)
            return (PSEUDO_HEADER_AFTER_FIELD if any(n.startswith(b":") for n, _ in fields)
                    else MISSING_STATUS)
        if name == b":status":
            status += 1
            if status > 1:
                return DUPLICATE_STATUS
        elif name in R.REQUEST_PSEUDO_HEADERS:
            return REQUEST_PSEUDO_HEADER
        else:
            return UNKNOWN_PSEUDO_HEADER
    return MISSING_STATUS


class _Stream:
    """A stream we opened that is not closed (open or half-closed, §5.1)."""

    __slots__ = ("id", "method", "send_window", "recv_window", "recv_unannounced",
                 "unconsumed", "local_closed", "remote_closed", "final", "started",
                 "no_content", "expected", "received", "send_limit", "sent")

    def __init__(self, stream_id: int, method: bytes, send_window: int, recv_window: int,
                 send_limit: int) -> None:
        self.id = stream_id
        self.method = method
        self.send_window = send_window
        self.recv_window = recv_window  # what the server may still send on it
        self.recv_unannounced = 0  # consumed, not yet given back by WINDOW_UPDATE
        self.unconsumed = 0  # delivered in DataReceived, not yet acknowledged
        self.local_closed = False  # we sent END_STREAM
        self.remote_closed = False  # we received END_STREAM
        self.final = False  # the final response's head arrived
        self.started = False  # a response head (1xx included) arrived: it was processed
        self.no_content = method == b"HEAD"  # its response has no content (RFC 9110 §6.4.1)
        self.expected = -1  # the response's content-length, -1: none
        self.received = 0  # content received
        self.send_limit = send_limit  # the request's content-length, -1: none
        self.sent = 0


# -- the connection --------------------------------------------------------------------


class H2Connection:
    """One HTTP/2 client connection's protocol state; the driver does the I/O.

    Options: `initial_window_size` and `connection_window` are our receive windows
    (a stream's and the connection's); `max_header_list_size` and
    `header_table_size` configure the HPACK decoder (and our SETTINGS);
    `max_frame_size` is the largest frame we accept. Until the server's SETTINGS
    come, `assumed_max_concurrent_streams` streams may be open (a pool passes what the
    origin said last time: a server with a lower limit may kill the connection that
    goes past it, where §5.1.2 asks it to refuse the streams).
    """

    __slots__ = (
        "_reader", "_encoder", "_decoder", "_out", "_streams", "_closed", "_next_stream_id",
        "_last_stream_id", "_events", "_pending_replies", "_empty_data", "_ignored",
        "_peer_settings_seen", "_settings_unacked", "_our_max_frame_size",
        "_our_table_size", "_peer_max_frame_size", "_peer_initial_window",
        "_max_concurrent", "_peer_max_header_list", "_send_window", "_recv_window",
        "_recv_unannounced", "_unconsumed", "_initial_window", "_stream_threshold",
        "_connection_threshold", "_good_names", "_pings", "_ping_count",
        "_goaway_last", "_goaway_code", "_local_goaway", "_error", "_transport_closed",
        "_terminated",
    )

    def __init__(self, *, initial_window_size: int = R.CLIENT_INITIAL_WINDOW_SIZE,
                 connection_window: int = R.CLIENT_CONNECTION_WINDOW,
                 max_header_list_size: int | None = None,
                 header_table_size: int = R.DEFAULT_HEADER_TABLE_SIZE,
                 max_frame_size: int = R.DEFAULT_MAX_FRAME_SIZE,
                 assumed_max_concurrent_streams: int = R.ASSUMED_MAX_CONCURRENT_STREAMS) -> None:
        if assumed_max_concurrent_streams < 1:
            raise ValueError("assumed_max_concurrent_streams must be at least 1")
        if not 1 <= initial_window_size <= _MAX_WINDOW:
            raise ValueError(f"initial_window_size must be in 1..{_MAX_WINDOW}")
        if not R.DEFAULT_WINDOW_SIZE <= connection_window <= _MAX_WINDOW:
            raise ValueError(f"connection_window must be in {R.DEFAULT_WINDOW_SIZE}..{_MAX_WINDOW}")
        if not R.DEFAULT_MAX_FRAME_SIZE <= max_frame_size <= R.MAX_FRAME_SIZE_LIMIT:
            raise ValueError(R.INVALID_FRAME_SIZE)
        self._reader = F.FrameReader()
        self._encoder = hpack.Encoder()
        # Both ends start at the default table size (§6.5.2); a larger one of ours may
        # be used as soon as the server reads our SETTINGS, a smaller one once it acks.
        self._decoder = (hpack.Decoder() if max_header_list_size is None
                         else hpack.Decoder(max_header_list_size=max_header_list_size))
        if header_table_size > R.DEFAULT_HEADER_TABLE_SIZE:
            self._decoder.max_allowed_table_size = header_table_size
        self._our_table_size = header_table_size
        self._our_max_frame_size = max_frame_size
        self._initial_window = initial_window_size
        self._stream_threshold = max(1, initial_window_size // 2)
        self._connection_threshold = max(1, connection_window // 2)
        self._streams: dict[int, _Stream] = {}
        self._closed: dict[int, int] = {}  # recently closed stream id -> how (_IGNORED...)
        self._next_stream_id = 1
        self._last_stream_id = 0  # the highest we opened
        self._events: list[Event] = []
        self._pending_replies = 0
        self._empty_data = 0
        self._ignored = 0
        self._peer_settings_seen = False
        self._settings_unacked = 1
        self._peer_max_frame_size = R.DEFAULT_MAX_FRAME_SIZE
        self._peer_initial_window = R.DEFAULT_WINDOW_SIZE
        self._max_concurrent = assumed_max_concurrent_streams
        self._peer_max_header_list = _UNLIMITED
        self._send_window = R.DEFAULT_WINDOW_SIZE
        self._recv_window = connection_window
        self._recv_unannounced = 0
        self._unconsumed = 0  # delivered, not acknowledged, over all streams
        self._good_names = set(_KNOWN_NAMES)
        self._pings: dict[bytes, None] = {}
        self._ping_count = 0
        self._goaway_last = -1  # the server's GOAWAY's last stream id; -1: none yet
        self._goaway_code = NO_ERROR
        self._local_goaway = False
        self._error: H2ConnectionFailed | None = None
        self._transport_closed = False
        self._terminated = False
        pairs = [(k, initial_window_size if k == _INITIAL_WINDOW_SIZE else v)
                 for k, v in R.CLIENT_SETTINGS]
        if header_table_size != R.DEFAULT_HEADER_TABLE_SIZE:
            pairs.append((_HEADER_TABLE_SIZE, header_table_size))
        if max_frame_size != R.DEFAULT_MAX_FRAME_SIZE:
            pairs.append((_MAX_FRAME_SIZE, max_frame_size))
        pairs.append((_MAX_HEADER_LIST_SIZE, self._decoder.max_header_list_size))
        self._out = bytearray(F.client_preface(pairs, connection_window))

    # -- predicates the pool asks ------------------------------------------------------

    def can_open_stream(self) -> bool:
        """May `send_request()` open a stream now? (Under the server's
        MAX_CONCURRENT_STREAMS, no GOAWAY either way, identifiers left, not closed.)"""
        return (self._goaway_last < 0 and not self._local_goaway and self._error is None
                and not self._transport_closed and self._next_stream_id <= _MAX_STREAM_ID
                and len(self._streams) < self._max_concurrent)

    # The predicates as methods too (C calls from a compiled pool, where a property is a
    # Python call): `open_count`, `room`, `ended`, `closing`, `idle`.

    def open_count(self) -> int:
        return len(self._streams)

    def room(self) -> int:
        if not self.can_open_stream():
            return 0
        return min(self._max_concurrent - len(self._streams),
                   (_MAX_STREAM_ID - self._next_stream_id) // 2 + 1)

    def ended(self) -> bool:
        return (self._error is not None or self._transport_closed
                or (not self._streams and self._no_new_streams()))

    def closing(self) -> bool:
        return bool(self._streams) and self._no_new_streams() and not (
            self._error is not None or self._transport_closed)

    def idle(self) -> bool:
        return not self._streams and not self.ended()

    @property
    def open_streams(self) -> int:
        """Streams open or half-closed: those MAX_CONCURRENT_STREAMS counts (§5.1.2)."""
        return self.open_count()

    @property
    def streams_left(self) -> int:
        """How many more streams may be opened now (0 when none may)."""
        return self.room()

    @property
    def is_closed(self) -> bool:
        """Done: the driver closes the transport (after writing `data_to_send()`)."""
        return self.ended()

    @property
    def is_closing(self) -> bool:
        """No new stream may be opened (GOAWAY either way, identifiers spent), but
        open streams may still be answered."""
        return self.closing()

    @property
    def is_idle(self) -> bool:
        """No stream open, and one may be opened."""
        return self.idle()

    def _no_new_streams(self) -> bool:
        return (self._goaway_last >= 0 or self._local_goaway
                or self._next_stream_id > _MAX_STREAM_ID)

    @property
    def max_concurrent_streams(self) -> int:
        """The server's SETTINGS_MAX_CONCURRENT_STREAMS (assumed until its SETTINGS
        came; 2^32 for unlimited)."""
        return self._max_concurrent

    @property
    def peer_settings_seen(self) -> bool:
        """The server's first SETTINGS came (§3.4): its limits are known."""
        return self._peer_settings_seen

    @property
    def settings_acknowledged(self) -> bool:
        """The server acknowledged our SETTINGS (a pool may time this: §6.5.3's
        SETTINGS_TIMEOUT is a clock's business)."""
        return self._settings_unacked == 0

    @property
    def pending_pings(self) -> int:
        """PINGs sent by `ping()` and not answered yet."""
        return len(self._pings)

    def sendable(self, stream_id: int) -> int:
        """How many octets of content `send_data()` would take now on this stream."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.local_closed or self._error is not None:
            return 0
        n = min(self._send_window, stream.send_window)
        return n if n > 0 else 0

    # -- sending -----------------------------------------------------------------------

    def has_data_to_send(self) -> bool:
        """Is anything queued for `data_to_send()`?"""
        return len(self._out) > 0

    def data_to_send(self) -> bytes:
        """The bytes to write, in order; taken, they are the driver's to write."""
        out = bytes(self._out)
        self._out.clear()
        self._pending_replies = 0
        return out

    def send_request(self, method: Text, scheme: Text, authority: Text | None, path: Text,
                     headers: Iterable[tuple[Text, Text]] = (), end_stream: bool = True) -> int:
        """Open a stream with this request's head; its id (odd, ascending, §5.1.1).

        Header names are lower-cased; connection-specific fields (Connection and the
        fields it names, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade)
        are dropped and TE kept only as "trailers" (§8.2.2); Host becomes
        :authority (§8.3.1). `end_stream=False` when content follows (`send_data`);
        a content-length field, if given, is then held to. Raises
        StreamIdsExhausted when no identifier is left, ConnectionStateError when
        `can_open_stream()` is false, LocalProtocolError for invalid HTTP.
        """
        if not self.can_open_stream():
            if self._next_stream_id > _MAX_STREAM_ID:
                raise StreamIdsExhausted("no stream identifier left: open a new connection")
            raise ConnectionStateError(f"no stream may be opened now: {self._why_not()}")
        return self.send_head(request_head(method, scheme, authority, path, headers), end_stream)

    def send_head(self, head: RequestHead, end_stream: bool = True) -> int:
        """`send_request` of a head checked and made by `request_head()` (a pool makes
        the head of a request once and sends it on any connection)."""
        if not self.can_open_stream():
            if self._next_stream_id > _MAX_STREAM_ID:
                raise StreamIdsExhausted("no stream identifier left: open a new connection")
            raise ConnectionStateError(f"no stream may be opened now: {self._why_not()}")
        fields, method_b, length = head
        if end_stream and length > 0:
            raise LocalProtocolError(CONTENT_LENGTH_NOT_REACHED, f"content-length {length}")
        if self._peer_max_header_list != _UNLIMITED:
            size = 0
            for name, value in fields:  # (§6.5.2: octets of names and values, 32 a field)
                size += len(name) + len(value) + 32
            if size > self._peer_max_header_list:
                raise LocalProtocolError(HEADER_LIST_OVER_PEER_LIMIT,
                                         f"{size} > {self._peer_max_header_list}")
        stream_id = self._next_stream_id
        block = self._encoder.encode(fields)
        self._out += _write_headers(stream_id, block, end_stream, self._peer_max_frame_size)
        self._next_stream_id = stream_id + 2
        self._last_stream_id = stream_id
        stream = _Stream(stream_id, method_b, self._peer_initial_window, self._initial_window,
                         length)
        stream.local_closed = end_stream
        self._streams[stream_id] = stream
        return stream_id

    def _why_not(self) -> str:
        if self._error is not None or self._transport_closed:
            return "the connection is closed"
        if self._goaway_last >= 0:
            return f"the server sent GOAWAY (last stream {self._goaway_last})"
        if self._local_goaway:
            return "we sent GOAWAY"
        return f"{len(self._streams)} streams open, the server allows {self._max_concurrent}"

    def send_data(self, stream_id: int, data: Buffer, end_stream: bool = False) -> int:
        """Queue as much of `data` as the windows allow, as DATA frames no larger than
        the server's SETTINGS_MAX_FRAME_SIZE; return how many octets were taken.

        END_STREAM goes with the last octet only when all of `data` was taken (an
        empty `data` with `end_stream` always is): otherwise send the rest later, with
        `end_stream` again. Raises ConnectionStateError for a stream not open for
        sending, LocalProtocolError past (or short of) the request's content-length.
        """
        stream = self._sending(stream_id)
        if type(data) is bytes:
            size = len(data)
        elif isinstance(data, (bytearray, memoryview)):
            data = memoryview(data).cast("B") if isinstance(data, memoryview) else data
            size = len(data)
        else:
            raise TypeError(NOT_A_BUFFER)
        limit = stream.send_limit
        if limit >= 0:
            if stream.sent + size > limit:
                raise LocalProtocolError(CONTENT_LENGTH_EXCEEDED,
                                         f"{stream.sent + size} > {limit}")
            if end_stream and stream.sent + size < limit:
                raise LocalProtocolError(CONTENT_LENGTH_NOT_REACHED,
                                         f"{stream.sent + size} < {limit}")
        n = min(size, self._send_window, stream.send_window)
        if n > 0:
            last = end_stream and n == size
            frame_size = self._peer_max_frame_size
            if n <= frame_size:
                self._out += _write_data(stream_id, data if n == size else memoryview(data)[:n],
                                         last)
            else:
                view = memoryview(data)
                out = self._out
                for at in range(0, n, frame_size):
                    end = at + frame_size
                    out += _write_data(stream_id, view[at:min(end, n)], last and end >= n)
            self._send_window -= n
            stream.send_window -= n
            stream.sent += n
        else:
            n = 0
        if end_stream and n == size:
            if size == 0:
                self._out += _write_data(stream_id, b"", True)
            self._end_local(stream)
        return n

    def end_stream(self, stream_id: int) -> None:
        """End the request's content (an empty DATA frame with END_STREAM)."""
        self.send_data(stream_id, b"", True)

    def _sending(self, stream_id: int) -> _Stream:
        if self._error is not None or self._transport_closed:
            raise ConnectionStateError("the connection is closed")
        stream = self._streams.get(stream_id)
        if stream is None:
            raise ConnectionStateError(f"stream {stream_id} is not open")
        if stream.local_closed:
            raise ConnectionStateError(f"stream {stream_id} has ended its request")
        return stream

    def _end_local(self, stream: _Stream) -> None:
        stream.local_closed = True
        if stream.remote_closed:
            self._forget(stream, _ENDED)

    def reset_stream(self, stream_id: int, error_code: int = CANCEL) -> None:
        """Abandon a stream: RST_STREAM(`error_code`) is queued and its slot freed now.

        Late frames on it are ignored (their DATA given back to the connection's
        window), and so are acknowledgements for it: the reset gives its unread
        bytes back. A stream already closed is left alone.
        """
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if self._error is None and not self._transport_closed:
            self._out += _write_rst_stream(stream_id, error_code)
        self._forget(stream, _IGNORED)

    def ping(self, opaque: bytes | None = None) -> bytes:
        """Queue a PING (§6.7); its 8 octets of `opaque` data (made up when None),
        which come back in a PingAcked event."""
        if self._error is not None or self._transport_closed:
            raise ConnectionStateError("the connection is closed")
        if opaque is None:
            self._ping_count += 1
            opaque = self._ping_count.to_bytes(8, "big")
        self._out += F.ping(opaque)
        self._pings[bytes(opaque)] = None
        return bytes(opaque)

    def send_goaway(self, error_code: int = NO_ERROR, debug_data: bytes = b"") -> None:
        """Close gracefully: GOAWAY (§6.8) is queued, no stream is opened any more, the
        open ones may finish. (Last-Stream-ID 0: the server opened none, §5.1.1.)"""
        if self._error is not None or self._transport_closed:
            return
        self._out += F.goaway(0, error_code, debug_data)
        self._local_goaway = True

    def close(self) -> None:
        """The driver closed the transport or lost it; the connection is closed."""
        self._transport_closed = True
        self._out.clear()

    # -- receiving ---------------------------------------------------------------------

    def acknowledge_received_data(self, stream_id: int, size: int) -> None:
        """The application consumed `size` octets of the stream's DataReceived data:
        the windows may be given back (in WINDOW_UPDATEs batched by half a window)."""
        if size <= 0:
            if size < 0:
                raise ValueError("size must not be negative")
            return
        stream = self._streams.get(stream_id)
        if stream is not None:
            if size > stream.unconsumed:
                raise ValueError(f"{size} octets acknowledged on stream {stream_id}, "
                                 f"{stream.unconsumed} unacknowledged")
            stream.unconsumed -= size
            self._unconsumed -= size
            if not stream.remote_closed:
                self._give_back_stream(stream, size)
            self._give_back(size)
            return
        how = self._closed.get(stream_id)
        if how == _IGNORED or how == _RESET_BY_PEER:
            return  # the reset gave its unread octets back already
        size = min(size, self._unconsumed)
        self._unconsumed -= size
        self._give_back(size)

    def _give_back_stream(self, stream: _Stream, size: int) -> None:
        """Consumed octets on a stream's window: a WINDOW_UPDATE past half of it."""
        given = stream.recv_unannounced + size
        if given >= self._stream_threshold:
            if self._error is None and not self._transport_closed:
                self._out += _write_window_update(stream.id, given)
                stream.recv_window += given
            given = 0
        stream.recv_unannounced = given

    def _give_back(self, size: int) -> None:
        """Consumed octets on the connection's window: a WINDOW_UPDATE past half of it."""
        given = self._recv_unannounced + size
        if given >= self._connection_threshold:
            if self._error is None and not self._transport_closed:
                self._out += _write_window_update(0, given)
                self._recv_window += given
            given = 0
        self._recv_unannounced = given

    def receive_data(self, data: Buffer) -> list[Event]:
        """Feed bytes read from the transport; the events they complete, in order.

        Raises H2ConnectionFailed (see the module docstring), and
        ConnectionStateError once the connection failed or its transport closed.
        """
        if self._error is not None or self._transport_closed:
            raise ConnectionStateError("the connection is closed") from self._error
        events: list[Event] = []
        self._events = events
        try:
            try:
                frames = self._reader.feed(data)
            except H2ConnectionError as exc:
                self._handle(exc.events)
                raise self._fail((exc.reason, exc.code), exc) from exc
            self._handle(frames)
        except H2ConnectionFailed as exc:
            exc.events = events
            raise
        if not self._terminated and not self._streams and self._no_new_streams():
            self._terminated = True
            events.append(self._terminated_event())
        return events

    def receive_eof(self) -> list[Event]:
        """The server closed the transport: the connection is closed; streams still open
        are left to `unanswered()`. A ConnectionTerminated event, unless one came."""
        if self._transport_closed or self._error is not None:
            return []
        self._transport_closed = True
        if self._terminated:
            return []
        self._terminated = True
        return [self._terminated_event()]

    def _terminated_event(self) -> ConnectionTerminated:
        if self._goaway_last < 0:
            return ConnectionTerminated()
        return ConnectionTerminated(self._goaway_code, self._goaway_last)

    def _handle(self, frames: list[F.Event]) -> None:
        """Act on each frame the reader completed (the hot path: DATA and HEADERS first)."""
        if not self._peer_settings_seen and frames:
            first = frames[0]
            if type(first) is not _Settings or first.ack:
                raise self._fail(PREFACE_NOT_SETTINGS)
        for frame in frames:
            kind = type(frame)
            if kind is _Data:
                self._on_data(frame)  # type: ignore[arg-type]
            elif kind is _Headers:
                self._on_headers(frame)  # type: ignore[arg-type]
            elif kind is _WindowUpdate:
                self._on_window_update(frame)  # type: ignore[arg-type]
            elif kind is _Settings:
                self._on_settings(frame)  # type: ignore[arg-type]
            elif kind is _Ping:
                self._on_ping(frame)  # type: ignore[arg-type]
            elif kind is _RstStream:
                self._on_rst_stream(frame)  # type: ignore[arg-type]
            elif kind is _GoAway:
                self._on_goaway(frame)  # type: ignore[arg-type]
            elif kind is _PushPromise:
                raise self._fail(PUSH_PROMISE_REFUSED)
            elif kind is _Priority:
                self._ignore()  # §5.3.2: deprecated; allowed on any stream (§5.1)
            elif isinstance(frame, H2StreamError):
                self._on_stream_error(frame)

    # -- frames --------------------------------------------------------------------------

    def _on_data(self, frame: F.Data) -> None:
        stream_id = frame.stream_id
        size = frame.flow_controlled_length
        if size > self._recv_window:
            raise self._fail(CONNECTION_WINDOW_EXCEEDED)
        self._recv_window -= size
        data = frame.data
        stream = self._streams.get(stream_id)
        if stream is None:
            self._on_closed_stream(stream_id, None)  # raises unless the frame is ignored
            self._give_back(size)
            if not data and not frame.end_stream:
                self._count_empty()
            return
        if size > stream.recv_window:
            self._give_back(size)
            self._stream_error(stream, STREAM_WINDOW_EXCEEDED)
            return
        stream.recv_window -= size
        n = len(data)
        if stream.remote_closed or not stream.final:
            self._give_back(size)
            if stream.remote_closed:
                self._stream_error(stream, HALF_CLOSED)
            else:
                self._malformed(stream, DATA_BEFORE_RESPONSE)
            return
        if n:
            if stream.no_content:
                self._give_back(size)
                self._malformed(stream, CONTENT_NOT_ALLOWED)
                return
            received = stream.received + n
            if 0 <= stream.expected < received:
                self._give_back(size)
                self._malformed(stream, CONTENT_TOO_LONG)
                return
            stream.received = received
            self._empty_data = 0
            self._ignored = 0
            if size != n:  # padding: consumed on arrival
                self._consume_padding(stream, size - n, frame.end_stream)
            stream.unconsumed += n
            self._unconsumed += n
            self._events.append(DataReceived(stream_id, data, size))
        else:
            if size:
                self._consume_padding(stream, size, frame.end_stream)
            if not frame.end_stream:
                self._count_empty()
        if frame.end_stream:
            self._end_remote(stream)

    def _consume_padding(self, stream: _Stream, size: int, end_stream: bool) -> None:
        if not end_stream:  # (a stream that ends needs no more window)
            self._give_back_stream(stream, size)
        self._give_back(size)

    def _count_empty(self) -> None:
        self._empty_data += 1
        if self._empty_data > R.MAX_EMPTY_DATA_FRAMES:
            raise self._fail(TOO_MANY_EMPTY_DATA)

    def _ignore(self) -> None:
        self._ignored += 1
        if self._ignored > R.MAX_IGNORED_FRAMES:
            raise self._fail(TOO_MANY_IGNORED_FRAMES)

    def _on_headers(self, frame: F.Headers) -> None:
        stream_id = frame.stream_id
        stream = self._streams.get(stream_id)
        if stream is None:
            self._on_closed_stream(stream_id, frame.block)  # raises unless ignored
            return
        try:
            fields = self._decoder.decode(frame.block)
        except hpack.HeaderListTooLarge:
            self._stream_error(stream, HEADER_LIST_TOO_LARGE)
            return
        except hpack.HPACKError as exc:
            raise self._fail(COMPRESSION, exc) from exc
        self._empty_data = 0
        self._ignored = 0
        if stream.remote_closed:
            self._stream_error(stream, HALF_CLOSED)
            return
        stream.started = True
        try:
            if stream.final:
                # §8.1: after the final response, only trailers, which end the stream.
                if not frame.end_stream:
                    raise _Malformed(TRAILERS_WITHOUT_END_STREAM)
                for name, _ in fields:
                    if name.startswith(b":"):
                        raise _Malformed(PSEUDO_HEADER_IN_TRAILERS)
                self._check_fields(fields, 0)
                self._events.append(TrailersReceived(stream_id, fields))
                self._end_remote(stream)
                return
            # §8.3.2: :status alone, first.
            if (not fields or fields[0][0] != b":status"
                    or (len(fields) > 1 and fields[1][0].startswith(b":"))):
                raise _Malformed(_pseudo_error(fields))
            status = _STATUS_CODES.get(fields[0][1], 0)
            if status == 0:
                raise _Malformed(INVALID_STATUS)
            length = self._check_fields(fields, 1)
        except _Malformed as exc:
            self._malformed(stream, exc.args[0])
            return
        headers = fields[1:]
        if status < 200:
            if status == 101:
                self._malformed(stream, SWITCHING_PROTOCOLS)
            elif frame.end_stream:
                self._malformed(stream, INFORMATIONAL_END_STREAM)
            else:
                self._events.append(InformationalReceived(stream_id, status, headers))
            return
        stream.final = True
        if status in _NO_CONTENT_STATUSES:
            stream.no_content = True
        if not stream.no_content:
            stream.expected = length
        self._events.append(ResponseReceived(stream_id, status, headers))
        if frame.end_stream:
            self._end_remote(stream)

    def _check_fields(self, fields: list[Field], start: int) -> int:
        """Check the regular fields `fields[start:]` (§8.2); their content-length or -1.
        Raises _Malformed."""
        good = self._good_names
        length = -1
        for name, value in fields[start:] if start else fields:
            if name not in good:
                if name == b"content-length":
                    length = _content_length(value, length)
                else:
                    self._check_name(name, value)
            if value.strip(_OWS) != value:  # (strip returns the very value when it can)
                raise _Malformed(INVALID_VALUE)
        if 1 in b"".join([field[1] for field in fields]).translate(_VALUE):
            raise _Malformed(INVALID_VALUE)
        return length

    def _check_name(self, name: bytes, value: bytes) -> None:
        """A name not known valid: why it is wrong, or learn it."""
        if name.startswith(b":"):
            raise _Malformed(PSEUDO_HEADER_AFTER_FIELD)
        if not name or 1 in name.translate(_LOWER_TOKEN):
            raise _Malformed(INVALID_NAME)
        if name in R.CONNECTION_SPECIFIC:
            raise _Malformed(CONNECTION_SPECIFIC)
        if name == b"te":
            if value.strip(_OWS).lower() != R.TE_ALLOWED:
                raise _Malformed(TE_NOT_TRAILERS)
            return
        if len(self._good_names) < _MAX_LEARNED_NAMES:
            self._good_names.add(name)

    def _end_remote(self, stream: _Stream) -> None:
        """END_STREAM from the server: the response is complete (§8.1.1: its length)."""
        if stream.expected >= 0 and stream.received != stream.expected:
            self._malformed(stream, CONTENT_TOO_SHORT)
            return
        stream.remote_closed = True
        self._events.append(StreamEnded(stream.id))
        if stream.local_closed:
            self._forget(stream, _ENDED)

    def _on_closed_stream(self, stream_id: int, block: bytes | None) -> None:
        """DATA (`block` None) or HEADERS on a stream not open: a connection error, a
        stream error (RST_STREAM, no event: the stream was reported) or nothing (§5.1)."""
        self._check_known(stream_id)
        if block is not None:
            # The stream is gone, but the HPACK table must stay in step (§4.3).
            try:
                self._decoder.decode(block)
            except hpack.HeaderListTooLarge:
                pass
            except hpack.HPACKError as exc:
                raise self._fail(COMPRESSION, exc) from exc
        how = self._closed.get(stream_id, _IGNORED)
        if how == _ENDED:
            raise self._fail(AFTER_END_STREAM)
        if how == _RESET_BY_PEER:
            self._reply(_write_rst_stream(stream_id, RESET_BY_PEER[1]))
        if block is not None:
            self._ignore()

    def _on_window_update(self, frame: F.WindowUpdate) -> None:
        stream_id = frame.stream_id
        increment = frame.increment
        if stream_id == 0:
            window = self._send_window + increment
            if window > _MAX_WINDOW:
                raise self._fail(CONNECTION_WINDOW_OVERFLOW)
            self._send_window = window
            self._events.append(WindowUpdated(0, increment))
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            self._check_known(stream_id)
            self._ignore()
            return
        window = stream.send_window + increment
        if window > _MAX_WINDOW:
            self._stream_error(stream, STREAM_WINDOW_OVERFLOW)
            return
        stream.send_window = window
        if not stream.local_closed:
            self._events.append(WindowUpdated(stream_id, increment))

    def _check_known(self, stream_id: int) -> None:
        """A frame other than PRIORITY on a stream not open: only a closed stream may
        see one (§5.1: idle streams may not, and the server may open none, §5.1.1)."""
        if not stream_id & 1:
            raise self._fail(SERVER_STREAM)
        if stream_id > self._last_stream_id:
            raise self._fail(IDLE_STREAM)

    def _on_rst_stream(self, frame: F.RstStream) -> None:
        stream_id = frame.stream_id
        stream = self._streams.get(stream_id)
        if stream is None:
            self._check_known(stream_id)
            self._ignore()
            return
        code = frame.error_code
        # §8.7: REFUSED_STREAM says the request was not processed; an answer says it was.
        unprocessed = code == REFUSED_STREAM and not stream.started
        self._forget(stream, _RESET_BY_PEER)
        self._events.append(StreamReset(stream_id, code, True, unprocessed))

    def _on_stream_error(self, error: H2StreamError) -> None:
        """A stream error the reader found (a zero WINDOW_UPDATE increment, a PRIORITY of
        the wrong length): reset the stream if it is open; an idle one cannot be reset
        (§6.4), a closed one needs nothing."""
        stream = self._streams.get(error.stream_id)
        if stream is not None:
            self._stream_error(stream, (error.reason, error.code))
            return
        if error.frame_type == R.FrameType.WINDOW_UPDATE:
            self._check_known(error.stream_id)
        self._ignore()

    def _on_settings(self, frame: F.Settings) -> None:
        if frame.ack:
            if self._settings_unacked:
                self._settings_unacked -= 1
                # §6.5.3: what we announced binds the server from now on.
                self._reader.max_frame_size = self._our_max_frame_size
                self._decoder.max_allowed_table_size = self._our_table_size
            return
        changed: dict[int, int] = {}
        for ident, value in frame.settings:
            if ident == _INITIAL_WINDOW_SIZE:
                self._set_initial_window(value)
            elif ident == _MAX_CONCURRENT_STREAMS:
                self._max_concurrent = value
            elif ident == _MAX_FRAME_SIZE:
                self._peer_max_frame_size = value
            elif ident == _HEADER_TABLE_SIZE:
                self._encoder.table_size = value
            elif ident == _ENABLE_PUSH:
                if value:
                    raise self._fail(PUSH_ENABLED)
            elif ident == _MAX_HEADER_LIST_SIZE:
                self._peer_max_header_list = value
            else:
                continue  # §6.5.2: unknown settings are ignored
            changed[ident] = value
        if not self._peer_settings_seen:
            self._peer_settings_seen = True
            # §6.5.2: MAX_CONCURRENT_STREAMS is unlimited until set; we assumed 100
            # only until the server said.
            if _MAX_CONCURRENT_STREAMS not in changed:
                self._max_concurrent = _UNLIMITED
        self._reply(F.settings_ack())
        self._events.append(SettingsChanged(changed))

    def _set_initial_window(self, value: int) -> None:
        """§6.9.2: the change applies to every stream's send window, now."""
        delta = value - self._peer_initial_window
        self._peer_initial_window = value
        if delta:
            for stream in self._streams.values():
                stream.send_window += delta
                if stream.send_window > _MAX_WINDOW:
                    raise self._fail(INITIAL_WINDOW_OVERFLOW)

    def _on_ping(self, frame: F.Ping) -> None:
        if frame.ack:
            opaque = frame.opaque
            if opaque in self._pings:
                del self._pings[opaque]
                self._events.append(PingAcked(opaque))
            return
        self._reply(F.ping(frame.opaque, True))

    def _on_goaway(self, frame: F.GoAway) -> None:
        last = frame.last_stream_id
        if 0 <= self._goaway_last < last:
            last = self._goaway_last  # §6.8: it may not grow; keep the smaller
        self._goaway_last = last
        self._goaway_code = frame.error_code
        self._events.append(GoAwayReceived(frame.last_stream_id, frame.error_code,
                                           frame.debug_data))
        # §6.8: streams above `last` were not processed and never will be.
        for stream in [s for s in self._streams.values() if s.id > last]:
            self._forget(stream, _IGNORED)
            self._events.append(StreamReset(stream.id, frame.error_code, True, True))

    # -- ending streams and the connection ------------------------------------------------

    def _forget(self, stream: _Stream, how: int) -> None:
        """The stream is closed: free its slot, remember how (§5.1), and give a reset
        stream's unread octets back to the connection."""
        del self._streams[stream.id]
        closed = self._closed
        closed[stream.id] = how
        if len(closed) > 2 * R.MAX_CLOSED_STREAMS:
            # The newest MAX_CLOSED_STREAMS are kept, the others go at once: deleting the
            # oldest key one at a time leaves the dict's iteration skipping the deleted
            # slots at its front (linear per close).
            self._closed = dict(list(closed.items())[-R.MAX_CLOSED_STREAMS:])
        if how != _ENDED and stream.unconsumed:
            self._unconsumed -= stream.unconsumed
            self._give_back(stream.unconsumed)
            stream.unconsumed = 0

    def _stream_error(self, stream: _Stream, rule: tuple[str, int]) -> None:
        """A stream error (§5.4.2): RST_STREAM, the stream closed, a StreamReset event."""
        self._out += _write_rst_stream(stream.id, rule[1])
        self._forget(stream, _IGNORED)
        self._events.append(StreamReset(stream.id, rule[1], False, False, rule[0]))

    def _malformed(self, stream: _Stream, reason: str) -> None:
        """§8.1.1: a malformed response is a stream error of type PROTOCOL_ERROR."""
        self._stream_error(stream, (reason, PROTOCOL_ERROR))

    def _reply(self, frame: bytes) -> None:
        """Queue an answer the server's frame obliges us to; bounded (floods)."""
        self._pending_replies += 1
        if self._pending_replies > R.MAX_PENDING_REPLIES:
            raise self._fail(TOO_MANY_PENDING_REPLIES)
        self._out += frame

    def _fail(self, rule: tuple[str, int], error: BaseException | None = None
              ) -> H2ConnectionFailed:
        """A connection error (§5.4.1): GOAWAY queued, the connection closed."""
        reason, code = rule
        cls = H2LimitExceeded if code == ENHANCE_YOUR_CALM else H2ConnectionFailed
        failure = cls(reason, code, error)
        if self._error is None:
            self._out += F.goaway(0, code, reason.encode("ascii", "replace"))
            self._error = failure
        return failure

    def unanswered(self, *, replay_unsafe: bool = False) -> Unanswered:
        """The streams this connection will never answer, once it is closed.

        A stream none of whose response arrived, with an idempotent method
        (RFC 9110 §9.2.2), may be sent again on a new connection; any other may have
        been processed and must fail, unless `replay_unsafe` (the caller's opt-in for
        requests of which no answer arrived). Streams the server said it did not
        process were reported by StreamReset(unprocessed=True) events, not here.
        """
        if not self.is_closed:
            raise ConnectionStateError("the connection is open: its streams may still be answered")
        replayable: list[int] = []
        maybe_processed: list[int] = []
        for stream in self._streams.values():
            replay = not stream.started and (replay_unsafe
                                             or stream.method in _h1.IDEMPOTENT_METHODS)
            (replayable if replay else maybe_processed).append(stream.id)
        return Unanswered(replayable, maybe_processed)

    def __repr__(self) -> str:
        state = ("closed" if self.is_closed else "closing" if self.is_closing
                 else "idle" if self.is_idle else "active")
        return (f"<H2Connection {state} open_streams={len(self._streams)} "
                f"next_stream_id={self._next_stream_id}>")


# -- request heads ---------------------------------------------------------------------


RequestHead = tuple[list[Field], bytes, int]


def request_head(method: Text, scheme: Text, authority: Text | None, path: Text,
                 headers: Iterable[tuple[Text, Text]]) -> RequestHead:
    """The field list of a request (§8.3.1), its method, and its content-length (-1),
    checked (see `H2Connection.send_request`). Immutable by convention: it may be sent
    on any connection, again."""
    method_b = method if type(method) is bytes else _octets(method, "ascii", "method")
    if not method_b or 1 in method_b.translate(_TOKEN):
        raise LocalProtocolError(INVALID_METHOD, repr(method_b))
    if method_b == b"CONNECT":
        raise LocalProtocolError(CONNECT_UNSUPPORTED)
    scheme_b = (scheme if type(scheme) is bytes else _octets(scheme, "ascii", "scheme")).lower()
    if not scheme_b or not scheme_b[:1].isalpha() or 1 in scheme_b.translate(_SCHEME):
        raise LocalProtocolError(INVALID_SCHEME, repr(scheme_b))
    path_b = path if type(path) is bytes else _octets(path, "ascii", "path")
    if (not path_b or 1 in path_b.translate(_TARGET) or 0x23 in path_b  # "#"
            or (not path_b.startswith(b"/") and not (path_b == b"*" and method_b == b"OPTIONS"))):
        raise LocalProtocolError(INVALID_PATH, repr(path_b))
    regular: list[Field] = []
    host: bytes | None = None
    length = -1
    connection = False
    for name, value in headers:
        kind = type(name)
        lowered = _REQUEST_NAMES.get(name) if kind is bytes or kind is str else None
        value_b = (value if type(value) is bytes
                   else _octets(value, "latin-1", "field value")).strip(_OWS)
        if lowered is None:
            lowered = _octets(name, "ascii", "field name").lower()
            if lowered.startswith(b":"):
                raise LocalProtocolError(REQUEST_PSEUDO_IN_FIELDS, repr(lowered))
            if not lowered or 1 in lowered.translate(_TOKEN):
                raise LocalProtocolError(REQUEST_NAME, repr(lowered))
            if lowered in _REQUEST_SPECIAL:
                if lowered == b"host":
                    if host is not None and host != value_b:
                        raise LocalProtocolError(AUTHORITY_MISMATCH, f"{host!r}, {value_b!r}")
                    host = value_b
                elif lowered == b"content-length":
                    first = length < 0
                    try:
                        length = _content_length(value_b, length)
                    except _Malformed:
                        raise LocalProtocolError(REQUEST_CONTENT_LENGTH, repr(value_b)) from None
                    if first:  # one field, however many agreeing ones were given
                        regular.append((lowered, b"%d" % length))
                elif lowered == b"te":
                    if R.TE_ALLOWED in [t.strip(_OWS).lower() for t in value_b.split(b",")]:
                        regular.append((lowered, R.TE_ALLOWED))
                elif lowered == b"connection":
                    connection = True
                    regular.append((lowered, value_b))  # dropped below, with what it names
                continue  # the other connection-specific fields: dropped (§8.2.2)
            if (kind is bytes or kind is str) and len(_REQUEST_NAMES) < _MAX_REQUEST_NAMES:
                _REQUEST_NAMES[name] = lowered
        regular.append((lowered, value_b))
    if connection:
        drop = set(connection_tokens(regular)) | {b"connection"}
        # Content-Length frames nothing in HTTP/2 but is checked (§8.1.1); TE: trailers
        # is end to end here (an HTTP/1.1 Connection: TE names it for its hop).
        drop -= {b"content-length", b"te"}
        regular = [field for field in regular if field[0] not in drop]
    if 1 in b"".join([field[1] for field in regular]).translate(_VALUE):
        bad = next(f for f in regular if 1 in f[1].translate(_VALUE))
        raise LocalProtocolError(REQUEST_VALUE, f"{bad[0]!r}: {bad[1]!r}")
    fields = [(b":method", method_b), (b":scheme", scheme_b)]
    authority_b = None if authority is None else _octets(authority, "ascii", ":authority")
    if not authority_b:
        authority_b = host
    elif host is not None and host.lower() != authority_b.lower():
        raise LocalProtocolError(AUTHORITY_MISMATCH, f"{host!r}, {authority_b!r}")
    if authority_b:
        if 1 in authority_b.translate(_AUTHORITY):
            raise LocalProtocolError(INVALID_AUTHORITY, repr(authority_b))
        fields.append((b":authority", authority_b))
    fields.append((b":path", path_b))
    fields += regular
    return fields, method_b, length
