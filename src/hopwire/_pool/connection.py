"""The state of one HTTP/1.1 client connection, without I/O.

Strategy: the connection holds no socket, clock or loop (h11, httpcore). An I/O
driver asks `can_send()`, writes what `send_request()`, `send_body()` and
`end_body()` return, feeds what it reads to `receive_data()` / `receive_eof()`
and acts on the answer: each parser event comes back tagged with the request it
answers, and the `state` says whether the connection may carry more requests,
must be closed, or was handed over to another protocol.

Requests in flight form a FIFO: HTTP/1.1 answers in order (RFC 9112 §9.3.2), so
every response event belongs to the oldest request not yet answered, and the
parser learns each request's method through `ResponseParser.expect()` to frame
the answers to HEAD, CONNECT, 1xx, 204 and 304. The connection decides:

- persistence (RFC 9112 §9.3): from the parser's `keep_alive`, narrowed for
  HTTP/1.0 and proxies (see `_persists`); a server's `Keep-Alive: timeout=, max=`
  is recorded as a hint and a cap (see `_read_keep_alive`);
- pipelining (RFC 9112 §9.3.2): only on a connection proven persistent by an
  HTTP/1.1 response, only safe methods (RFC 9110 §9.2.1), never behind a request
  whose answer may change the connection (CONNECT, Upgrade, 100-continue) or
  whose body is still being written; see `refusal`;
- replay after a close (RFC 9112 §9.3.1, §9.6; RFC 9110 §9.2.2): requests with
  an idempotent method of which no response byte arrived may be sent again on a
  fresh connection; the others may have been processed (see `unanswered`).

A request "has started" being answered once any byte of its response was
received: an event was tagged to it, the parser failed while it was the oldest
in flight, or the parser held an unfinished head for it when the connection
ended (found by asking the parser for `feed_eof()`).
"""

from __future__ import annotations

import enum
import sys
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from .._wire import rules as R
from .._wire.parser import ResponseParser, connection_tokens, parse_keep_alive
from .._errors import HopwireError, LocalProtocolError, ParseError, RemoteProtocolError
from .._wire.events import Data, EndOfMessage, Headers, InformationalResponse, Response
from .._wire.writer import Field, Text, chunk, last_chunk, request_head

if TYPE_CHECKING:
    from .exchange import Exchange

RequestId = int  # the n-th request sent on this connection, from 0
Event = Union[InformationalResponse, Response, Data, EndOfMessage]  # what a response parser gives
Tagged = tuple[RequestId, Event]
Buffer = Union[bytes, bytearray, memoryview]

_SAFE = R.SAFE_METHODS  # (a module global: a module's attribute is looked up at every use)
_NOT_A_STATUS_LINE = R.INVALID_VERSION[0]  # the parser's reason for bytes that cannot begin one
_STATUS_PREFIX = b"HTTP/"

# -- reasons of LocalProtocolError raised here -----------------------------------

PROXY_CONNECTION = "Proxy-Connection is never sent (RFC 9112 Appendix C.2.2)"
EXPECT_WITHOUT_CONTENT = "100-continue expected of a request without content (RFC 9110 §10.1.1)"
BODY_TOO_LONG = "more content than the request's Content-Length (RFC 9112 §6.2)"
BODY_TOO_SHORT = "content ended before the request's Content-Length (RFC 9112 §6.2)"
TRAILERS_NEED_CHUNKED = "trailer fields need a chunked body (RFC 9112 §7.1.2)"


class ConnectionState(enum.Enum):
    IDLE = "idle"  # nothing in flight: a request may be sent
    ACTIVE = "active"  # requests in flight, or a request body still being written
    CLOSING = "closing"  # answers may still come, but no request may be sent
    CLOSED = "closed"  # done: the driver closes the transport (if it is not closed yet)
    BROKEN = "broken"  # the peer broke the protocol: nothing more is sent or received
    SWITCHED = "switched"  # 101 or a CONNECT tunnel: the bytes are no longer HTTP/1.1

    # Members are singletons: identity hashing is exact, and C-level (Enum's own
    # __hash__ is Python code, run on every `state in {...}`).
    __hash__ = object.__hash__


IDLE: ConnectionState = ConnectionState.IDLE
ACTIVE: ConnectionState = ConnectionState.ACTIVE
CLOSING: ConnectionState = ConnectionState.CLOSING
CLOSED: ConnectionState = ConnectionState.CLOSED
BROKEN: ConnectionState = ConnectionState.BROKEN
SWITCHED: ConnectionState = ConnectionState.SWITCHED
OPEN = frozenset([IDLE, ACTIVE])  # states in which the connection may carry more requests


class ConnectionStateError(HopwireError, RuntimeError):
    """The caller asked for something the connection's state does not allow now."""


class Unanswered(NamedTuple):
    """The requests in flight when the connection ended, in the order they were sent."""

    replayable: list[RequestId]  # idempotent, no response byte received: send again elsewhere
    maybe_processed: list[RequestId]  # must fail: the server may have acted on them


class _InFlight:
    """A request sent and not yet answered."""

    __slots__ = ("id", "method", "pipelinable", "upgrade", "started", "switching")

    def __init__(self, request_id: RequestId, method: bytes, barrier: bool, upgrade: bool) -> None:
        self.id = request_id
        self.method = method
        # RFC 9112 §9.3.2: only safe methods go into a pipeline, and nothing
        # goes behind a request whose answer may turn the connection into
        # something else (CONNECT, Upgrade) or that waits for a 100 (Expect).
        self.pipelinable = method in _SAFE and not barrier
        self.upgrade = upgrade
        self.started = False  # a byte of its response arrived
        self.switching = False  # its final response opened a CONNECT tunnel


class _Body:
    """The request body being written: bytes left (None: chunked, ends with end_body)."""

    __slots__ = ("id", "remaining")

    def __init__(self, request_id: RequestId, remaining: int | None) -> None:
        self.id = request_id
        self.remaining = remaining


_WATCHED_LENGTHS = frozenset([len(b"expect"), len(b"upgrade"), len(b"proxy-connection")])


def _as_bytes(text: Text) -> bytes:
    # What is not ASCII is no method the rules know; the writer refuses it.
    return text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)


def _lower(text: Text) -> bytes:
    # Only to look for a few known names and values; the writer validates them all.
    return (text.encode("latin-1", "replace") if isinstance(text, str) else bytes(text)).lower()


def _prepare_fields(headers: Iterable[Field], expect_continue: bool) -> tuple[list[Field], bool, bool]:
    """The caller's fields, with `Expect: 100-continue` added if asked; whether the
    request expects a 100 and whether it asks for an upgrade."""
    fields = list(headers)
    has_expect = upgrade = False
    for name, value in fields:
        if len(name) not in _WATCHED_LENGTHS:  # most names: no need to lower-case them
            continue
        lowered = _lower(name)
        if lowered == b"proxy-connection":
            # RFC 9112 Appendix C.2.2 (RFC 7230 §A.1.2): an attempt at keep-alive
            # through HTTP/1.0 proxies that failed; clients ought not to send it.
            raise LocalProtocolError(PROXY_CONNECTION)
        if lowered == b"expect":
            has_expect = has_expect or b"100-continue" in _lower(value)
        elif lowered == b"upgrade":
            upgrade = True
    if expect_continue and not has_expect:
        fields.append((b"Expect", b"100-continue"))
    return fields, expect_continue or has_expect, upgrade


def _has_via(event: Response) -> bool:
    return any(name == b"via" for name, _ in event.headers)


def _all_fields(event: Response) -> Headers:
    # With strip_hop_by_hop=True the parser moves Connection and Keep-Alive to hop_headers.
    return event.headers + event.hop_headers if event.hop_headers else event.headers


_DATA, _RESPONSE, _END, _INFORMATIONAL = "Data", "Response", "EndOfMessage", "InformationalResponse"
_kinds_by_parser: dict[type, dict[type, str]] = {}


def _event_kinds(parser_class: type) -> dict[type, str]:
    """{event class: its kind} for the twin that defines `parser_class`.

    The two parser twins define distinct classes of the same names: events
    are told apart by a lookup of their exact class, made once per twin (a
    connection takes the selected twin's parser; the suite runs both).
    """
    kinds = _kinds_by_parser.get(parser_class)
    if kinds is None:
        module = sys.modules[parser_class.__module__]
        kinds = {getattr(module, name): name for name in (_DATA, _RESPONSE, _END, _INFORMATIONAL)}
        _kinds_by_parser[parser_class] = kinds
    return kinds


class PreparedRequest:
    """A request checked and serialized once, ready for any connection (immutable by
    convention: the pool caches and shares them)."""

    __slots__ = ("method", "head", "body_length", "chunked", "barrier", "upgrade", "expect_continue",
                 "h2")

    def __init__(self, method: bytes, head: bytes, body_length: int | None, chunked: bool,
                 barrier: bool, upgrade: bool, expect_continue: bool) -> None:
        self.method = method
        self.head = head  # request line and header section, blank line included
        self.body_length = body_length
        self.chunked = chunked
        self.barrier = barrier  # CONNECT, Upgrade or Expect: 100-continue: nothing pipelined behind it
        self.upgrade = upgrade
        self.expect_continue = expect_continue
        self.h2: Any = None  # its HTTP/2 head, made when first sent on HTTP/2 (`h2session`)

    def __repr__(self) -> str:
        return (f"PreparedRequest(method={self.method!r}, head={self.head!r}, "
                f"body_length={self.body_length!r}, chunked={self.chunked!r}, "
                f"barrier={self.barrier!r}, upgrade={self.upgrade!r}, "
                f"expect_continue={self.expect_continue!r})")


def prepare_request(
    method: Text,
    target: Text,
    headers: Iterable[Field] = (),
    *,
    host: Text | None = None,
    body_length: int | None = 0,
    chunked: bool = False,
    expect_continue: bool = False,
) -> PreparedRequest:
    """Check and serialize a request (see `_writer.request_head()`).

    `expect_continue` adds `Expect: 100-continue` (an `Expect` field in
    `headers` counts too), and an `Upgrade` field marks an upgrade request.
    Raises LocalProtocolError for what HTTP forbids.
    """
    method_b = _as_bytes(method)
    fields, expect_continue, upgrade = _prepare_fields(headers, expect_continue)
    if expect_continue and body_length == 0 and not chunked:
        raise LocalProtocolError(EXPECT_WITHOUT_CONTENT, repr(method_b))
    head = request_head(method, target, fields, host=host, body_length=body_length,
                        chunked=chunked)
    barrier = expect_continue or upgrade or method_b == b"CONNECT"
    return PreparedRequest(method_b, head, body_length, chunked, barrier, upgrade, expect_continue)


class ConnectionBase:
    """What a pool asks of a connection, whatever its protocol: `Connection` (HTTP/1.1,
    requests in a FIFO) or the HTTP/2 session of `h2session` (streams, `multiplexed`).

    `answered` counts the responses received whole. A request id is the
    connection's own (the n-th request on HTTP/1.1, the stream id on HTTP/2).
    """

    __slots__ = ("multiplexed", "answered")

    def __init__(self) -> None:
        self.multiplexed = False  # requests are answered in any order, each on its stream
        self.answered = 0

    def has_ended(self) -> bool:
        """Nothing more goes over it, for good."""
        raise NotImplementedError

    def is_closing(self) -> bool:
        """Not ended, but no request may be sent after those in flight."""
        raise NotImplementedError

    def is_free(self) -> bool:
        """Open, nothing in flight, another request may go."""
        raise NotImplementedError

    def pending(self) -> int:
        """Requests sent and not yet answered."""
        raise NotImplementedError

    def server_timeout(self) -> int | None:
        """Seconds the server said it keeps the connection idle, or None."""
        raise NotImplementedError

    def is_answering(self) -> bool:
        """Did an answer begin on it (bytes that break HTTP are then no stray bytes)?"""
        raise NotImplementedError

    def refusal(self, method: bytes, barrier: bool) -> str | None:
        """Why a request may not be sent now, or None when it may."""
        raise NotImplementedError

    def send_prepared(self, prepared: PreparedRequest) -> RequestId:
        """Record a request as in flight; its id."""
        raise NotImplementedError

    def receive_into(self, data: Buffer, exchanges: dict[RequestId, Exchange] | None) -> list[Tagged]:
        """Feed bytes read from the transport; each event goes into its exchange."""
        raise NotImplementedError

    @property
    def settled(self) -> bool:
        """Are its limits known (HTTP/2: the server's SETTINGS came)?"""
        return True

    def room(self) -> int:
        """How many more requests it takes at once (multiplexed: streams to spare; an
        HTTP/1.1 connection's pipelining is the pool's to decide: 0)."""
        return 0

    def receive_eof(self) -> list[Tagged]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def unanswered(self, *, replay_unsafe: bool = False) -> Unanswered:
        raise NotImplementedError

    @property
    def is_idle(self) -> bool:
        return self.is_free()


class Connection(ConnectionBase):
    """One HTTP/1.1 client connection's protocol state; the driver does the I/O.

    `pipeline_depth` caps the requests in flight (1: no pipelining). `proxied`
    says that the peer is a forward proxy: its HTTP/1.0 keep-alive is never
    trusted, and an HTTP/1.1 answer keeps the connection only when it carries
    `Via`, unless `trust_proxy` (see `_persists`). `parser` is a fresh
    `hopwire.ResponseParser` (for other limits): of the twin `import hopwire`
    selected, whose events the compiled twin of this class reads as C structs.
    `answered` counts the responses received whole.
    """

    def __init__(self, *, pipeline_depth: int = 1, proxied: bool = False, trust_proxy: bool = False,
                 parser: ResponseParser | None = None) -> None:
        if pipeline_depth < 1:
            raise ValueError("pipeline_depth must be at least 1")
        ConnectionBase.__init__(self)
        self.pipeline_depth = pipeline_depth
        self.proxied = proxied
        self.trust_proxy = trust_proxy
        if parser is None:
            parser = ResponseParser()
        elif not isinstance(parser, ResponseParser):
            raise TypeError("parser must be a hopwire.ResponseParser (of the parser twin `import "
                            f"hopwire` selected), not {type(parser).__module__}."
                            f"{type(parser).__qualname__}")
        self._parser = parser
        self._kinds = _event_kinds(type(self._parser))
        self._in_flight: deque[_InFlight] = deque()
        self._blockers = 0  # requests in `_in_flight` that nothing may be pipelined behind
        self._body: _Body | None = None  # at most one: nothing is sent while it is unfinished
        self._next_id: RequestId = 0
        self._request_limit: int | None = None  # requests the connection may carry (max=)
        self._keep_alive_timeout: int | None = None
        self._proven = False
        self._peer_closing = False  # a response said the server closes after it
        self._ended: ConnectionState | None = None  # CLOSED, BROKEN or SWITCHED, for good
        self._transport_closed = False  # receive_eof() or close() happened
        self._error: RemoteProtocolError | None = None

    # -- state queries ---------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        if self._ended is not None:
            return self._ended
        if self.is_closing():
            return CLOSING
        if self._in_flight or self._body is not None:
            return ACTIVE
        return IDLE

    # The pools' questions, as methods (C calls in the compiled twin, where a property is a
    # Python call): each is one of the states above, or a count, read without building it.

    def has_ended(self) -> bool:
        """CLOSED, BROKEN or SWITCHED: nothing more goes over it, for good."""
        return self._ended is not None

    def is_closing(self) -> bool:
        """Not ended, but no request may be sent after those in flight (CLOSING): the
        server said it closes (RFC 9112 §9.6), or `Keep-Alive: max=` is used up."""
        limit = self._request_limit
        return self._ended is None and (self._peer_closing or (limit is not None
                                                               and self._next_id >= limit))

    def is_free(self) -> bool:
        """IDLE: open, nothing in flight or being written, another request may go."""
        return (self._ended is None and not self._in_flight and self._body is None
                and not self.is_closing())

    def pending(self) -> int:
        """Requests sent and not yet answered (`in_flight`)."""
        return len(self._in_flight)

    def server_timeout(self) -> int | None:
        """Seconds from the latest `Keep-Alive: timeout=` of the server (`keep_alive_timeout`)."""
        return self._keep_alive_timeout

    @property
    def is_idle(self) -> bool:
        """Nothing in flight or being written, and another request may be sent."""
        return self.is_free()

    @property
    def is_reusable(self) -> bool:
        """The connection may still carry a request (now or once it is idle)."""
        return self.state in OPEN

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return self.pending()

    @property
    def proven_persistent(self) -> bool:
        """An HTTP/1.1 response kept the connection alive: it may be pipelined."""
        return self._proven

    @property
    def keep_alive_timeout(self) -> int | None:
        """Seconds from the latest `Keep-Alive: timeout=` of the server, or None."""
        return self._keep_alive_timeout

    @property
    def requests_left(self) -> int | None:
        """How many more requests `Keep-Alive: max=` allows, or None when unlimited."""
        if self._request_limit is None:
            return None
        return max(0, self._request_limit - self._next_id)

    @property
    def trailing_data(self) -> bytes:
        """After a switch (SWITCHED), the bytes received past the HTTP/1.1 answer."""
        return bytes(self._parser.trailing_data)

    def _spent(self) -> bool:
        return self._request_limit is not None and self._next_id >= self._request_limit

    # -- sending ---------------------------------------------------------------

    def can_send(self, method: Text, *, expect_continue: bool = False, upgrade: bool = False) -> bool:
        """May a request with this method be written now?"""
        method_b = _as_bytes(method)
        barrier = expect_continue or upgrade or method_b == b"CONNECT"
        return self.refusal(method_b, barrier) is None

    def refusal(self, method: bytes, barrier: bool) -> str | None:
        """Why a request may not be sent now, or None when it may."""
        limit = self._request_limit
        if (self._ended is not None or self._peer_closing
                or (limit is not None and self._next_id >= limit)):  # the state is not in OPEN
            return f"the connection is {self.state.value}"
        if self._body is not None:
            return f"the body of request {self._body.id} is not completely written"
        if not self._in_flight:
            return None
        # RFC 9112 §9.3.2: pipelining needs a persistent connection, which only
        # an HTTP/1.1 answer proves (an HTTP/1.0 server may drop what follows).
        if not self._proven:
            return "no pipelining before an HTTP/1.1 response proved the connection persistent"
        if len(self._in_flight) >= self.pipeline_depth:
            return f"{len(self._in_flight)} requests in flight (pipeline_depth={self.pipeline_depth})"
        if method not in _SAFE:
            return f"{method!r} is not a safe method: it waits for an idle connection"
        if barrier:
            return "CONNECT, Upgrade and Expect: 100-continue requests wait for an idle connection"
        if self._blockers:
            for request in self._in_flight:
                if not request.pipelinable:
                    return f"request {request.id} ({request.method!r}) must be answered first"
        return None

    def send_request(
        self,
        method: Text,
        target: Text,
        headers: Iterable[Field] = (),
        *,
        host: Text | None = None,
        body_length: int | None = 0,
        chunked: bool = False,
        expect_continue: bool = False,
    ) -> tuple[RequestId, bytes]:
        """Record a request as in flight and return its id and head bytes.

        The arguments are `prepare_request()`'s. A request with content is
        followed by `send_body()` and `end_body()`. Raises ConnectionStateError
        when `can_send()` is false, LocalProtocolError for what HTTP forbids.
        """
        prepared = prepare_request(method, target, headers, host=host, body_length=body_length,
                                   chunked=chunked, expect_continue=expect_continue)
        return self.send_prepared(prepared), prepared.head

    def send_prepared(self, prepared: PreparedRequest) -> RequestId:
        """Record a request made by `prepare_request()` as in flight; write its `head` next.

        A prepared request holds no state of a connection: the pool prepares
        a request once and sends it again on another connection when it is
        replayed (or reuses it for the same request made again).
        """
        # An idle, open connection takes any request: the common case skips the rules.
        limit = self._request_limit
        if (self._in_flight or self._body is not None or self._ended is not None or self._peer_closing
                or (limit is not None and self._next_id >= limit)):
            why = self.refusal(prepared.method, prepared.barrier)
            if why is not None:
                raise ConnectionStateError(f"cannot send {prepared.method!r} now: {why}")
        method = prepared.method
        request_id = self._next_id
        self._next_id = request_id + 1
        request = _InFlight(request_id, method, prepared.barrier, prepared.upgrade)
        self._in_flight.append(request)
        if not request.pipelinable:
            self._blockers += 1
        length = None if prepared.chunked else prepared.body_length
        if length != 0:
            self._body = _Body(request_id, length)
        self._parser.expect(method)
        return request_id

    def send_body(self, request_id: RequestId, data: Buffer) -> bytes:
        """The bytes to write for a piece of the request's content (a chunk when chunked)."""
        body = self._writing(request_id)
        if body.remaining is None:
            return chunk(data)
        size = memoryview(data).nbytes
        if size > body.remaining:
            raise LocalProtocolError(BODY_TOO_LONG, f"{size} bytes with {body.remaining} left")
        body.remaining -= size
        return data if isinstance(data, bytes) else bytes(memoryview(data))

    def end_body(self, request_id: RequestId, trailers: Iterable[Field] = ()) -> bytes:
        """The bytes that end the request's content (the last chunk when chunked), and mark it sent."""
        body = self._writing(request_id)
        if body.remaining is None:
            out = last_chunk(trailers)
        elif body.remaining:
            raise LocalProtocolError(BODY_TOO_SHORT, f"{body.remaining} bytes missing")
        elif list(trailers):
            raise LocalProtocolError(TRAILERS_NEED_CHUNKED)
        else:
            out = b""
        self._body = None
        return out

    def _writing(self, request_id: RequestId) -> _Body:
        body = self._body
        if body is None or body.id != request_id:
            raise ConnectionStateError(f"request {request_id} has no content being written")
        if self._ended is not None:
            raise ConnectionStateError(f"the connection is {self._ended.value}")
        return body

    # -- receiving -------------------------------------------------------------

    def receive_data(self, data: Buffer) -> list[Tagged]:
        """Feed bytes read from the transport; return the events, each with its request."""
        return self.receive_into(data, None)

    def receive_into(self, data: Buffer, exchanges: dict[RequestId, Exchange] | None) -> list[Tagged]:
        """`receive_data()`; with the `exchanges` in flight (a pool link's, by request
        id), each event goes straight into its exchange, as `Link.dispatch` would put
        it, and the list returned is empty.

        When this raises RemoteProtocolError, the events handed over already are
        not in its `events`: what is there is still to be dispatched.
        """
        if self._error is not None or self._ended is SWITCHED or self._transport_closed:
            self._check_receiving()
        if not data:
            return []
        if not self._in_flight:
            # Nothing was asked: these bytes can only be garbage or the rest of
            # a message framed wrongly (waitress's body after a HEAD answer).
            raise self._break("data received with no request in flight")
        try:
            events = self._parser.feed(data)
        except ParseError as exc:
            tagged = self._tag_all(exc.events)
            # On a reused connection, bytes that cannot begin a status line where the
            # next answer should start are the rest of an earlier message framed
            # wrongly (waitress and cheroot write a body after their answer to HEAD),
            # not an answer: an idempotent request was not answered, as after a close
            # (a non-idempotent one may have been acted on: it fails).
            stray = (exc.reason == _NOT_A_STATUS_LINE and self.answered > 0
                     and bool(self._in_flight) and not self._in_flight[0].started
                     and self._in_flight[0].method in R.IDEMPOTENT_METHODS
                     # broke within the "HTTP/" that begins every status line (RFC 9112
                     # §4); `HTTP/1.1\t200` or `HTTP/1.10` began one, and broke later
                     and exc.offset - self._parser.head_offset < len(_STATUS_PREFIX))
            raise self._break(exc.reason, exc, tagged, answer_began=not stray) from exc
        return self._tag_all(events, exchanges)

    def receive_eof(self) -> list[Tagged]:
        """The peer closed its side; the connection is CLOSED.

        Ends a close-delimited body (RFC 9112 §6.3). A response cut short raises
        RemoteProtocolError. Requests still in flight are left to `unanswered()`.
        """
        if self._transport_closed or self._ended is BROKEN or self._ended is SWITCHED:
            return []
        self._transport_closed = True
        try:
            events = self._parser.feed_eof()
        except ParseError as exc:  # a message was cut (RFC 9112 §8)
            raise self._break(exc.reason, exc) from exc
        tagged = self._tag_all(events)
        self._ended = CLOSED
        return tagged

    def close(self) -> None:
        """The driver closed the transport or lost it (reset, timeout, eviction).

        The connection is CLOSED, unless it was BROKEN or SWITCHED already.
        """
        if self._transport_closed:
            return
        self._transport_closed = True
        if self._ended is BROKEN or self._ended is SWITCHED:
            return
        if self._in_flight and self._holds_partial_message():
            self._in_flight[0].started = True
        self._ended = CLOSED

    def _holds_partial_message(self) -> bool:
        try:
            self._parser.feed_eof()
        except ParseError:
            return True
        return False

    def is_answering(self) -> bool:
        """Did a byte of the oldest unanswered request's answer arrive? Once the
        connection broke: False when what came was no answer (see `receive_into`)."""
        return bool(self._in_flight) and self._in_flight[0].started

    def _check_receiving(self) -> None:
        if self._error is not None:
            raise ConnectionStateError("the connection is broken") from self._error
        if self._ended is SWITCHED:
            raise ConnectionStateError("the connection switched protocols: see trailing_data")
        if self._transport_closed:
            raise ConnectionStateError("the connection is closed")

    def _break(self, reason: str, parse_error: ParseError | None = None,
               events: Iterable[Tagged] = (), answer_began: bool = True) -> RemoteProtocolError:
        """Mark the connection BROKEN; the oldest request in flight counts as started
        unless the bytes were no answer at all (`answer_began=False`)."""
        if self._in_flight and answer_began:
            self._in_flight[0].started = True
        error = RemoteProtocolError(reason, parse_error, events)
        self._error = error
        self._ended = BROKEN
        return error

    # -- matching events to requests ---------------------------------------------

    def _tag_all(self, events: Iterable[Any], exchanges: dict[RequestId, Exchange] | None = None
                 ) -> list[Tagged]:
        """Tag each event with its request; with `exchanges` (see `receive_into`), put
        each into its exchange instead (and return an empty list).

        (`head` and `piece` name the event again where its class is known: the
        compiled twin reads the C parser's events through them as C structs.)
        """
        kinds = self._kinds
        in_flight = self._in_flight
        tagged: list[Tagged] = []
        request: _InFlight | None = None  # the oldest in flight, once an event came for it
        rid = -1
        ex: Exchange | None = None  # with exchanges: that of `rid`, if its caller did not go away
        for event in events:
            if request is None:
                if not in_flight:
                    raise self._break("a response with no request in flight", None, tagged)
                request = in_flight[0]  # RFC 9112 §9.3.2: answers come in order
                request.started = True
                rid = request.id
                if exchanges is not None:
                    ex = exchanges.get(rid)
            kind = kinds[type(event)]
            if kind is _DATA:
                if ex is not None:
                    piece = event
                    ex.events.append(piece)
                    ex.buffered += len(piece.data)
                    continue
            elif kind is _RESPONSE:
                head = event
                # The common answer inline: HTTP/1.1, kept alive, no tunnel,
                # no proxy to doubt (what `_on_response` decides for it).
                if (head.keep_alive and head.http_version == b"1.1" and not head.upgrade
                        and (not self.proxied or self.trust_proxy)):
                    self._proven = True
                    hop = head.hop_headers
                    for name, _ in (head.headers + hop if hop else head.headers):
                        if name == b"keep-alive":
                            self._read_keep_alive(rid, head)
                            break
                else:
                    self._on_response(request, head)
            elif kind is _END:
                in_flight.popleft()
                self.answered += 1
                if not request.pipelinable:
                    self._blockers -= 1
                if request.switching:
                    self._ended = SWITCHED
                elif self._peer_closing or (self._request_limit is not None and self._spent()
                                            and not in_flight):
                    # Whatever is still in flight will not be answered on this connection.
                    self._ended = CLOSED
                request = None  # the next event answers the next request
            elif kind is _INFORMATIONAL and event.upgrade:
                self._on_switch(request, tagged)
                request = None
            if exchanges is None:
                tagged.append((rid, event))
            elif ex is not None:  # `Link.dispatch`, inline
                ex.events.append(event)
                if kind is _END:
                    del exchanges[rid]
                    ex.ended = True
                    ex = None
        return tagged

    def _on_switch(self, request: _InFlight, tagged: list[Tagged]) -> None:
        # RFC 9110 §15.2.2: a server switches only to a protocol the request
        # listed in Upgrade; the parser has stopped, so the switch is final.
        if not request.upgrade:
            raise self._break("101 Switching Protocols to a request without Upgrade", None, tagged)
        self._in_flight.popleft()
        if not request.pipelinable:
            self._blockers -= 1
        self._ended = SWITCHED

    def _on_response(self, request: _InFlight, event: Response) -> None:
        if event.upgrade:  # a 2xx to CONNECT: a tunnel once the head ends
            request.switching = True
            return
        if not self._persists(event):
            # RFC 9112 §9.3, §9.6: the server closes after this response.
            self._peer_closing = True
            return
        if event.http_version == b"1.1":
            self._proven = True
        self._read_keep_alive(request.id, event)

    def _persists(self, event: Response) -> bool:
        """Does the connection outlive this response (RFC 9112 §9.3)?"""
        if not event.keep_alive:
            return False
        if event.http_version == b"1.1":
            # RFC 9110 §7.6.3: a proxy MUST add Via to what it forwards. An
            # answer through a forward proxy without one came through a relay
            # that does not speak HTTP/1.1 (a "dumb" proxy passing the origin's
            # bytes on, closing its end only when the origin does): a second
            # request on this connection would never be answered.
            return not self.proxied or self.trust_proxy or _has_via(event)
        # HTTP/1.0 keeps the connection only with the "keep-alive" option.
        # The parser also counts `Proxy-Connection: keep-alive`, but that field
        # is what a dumb HTTP/1.0 proxy echoes from the origin while it closes
        # its own end after each response: only `Connection` counts here. And
        # through a proxy, HTTP/1.0 keep-alive "ought not be used" at all
        # (RFC 9112 Appendix C.2.2, RFC 7230 §A.1.2): a forwarded
        # `Connection: keep-alive` can come from the origin, not the proxy.
        if self.proxied:
            return False
        return b"keep-alive" in connection_tokens(_all_fields(event))

    def _read_keep_alive(self, request_id: RequestId, event: Response) -> None:
        """Record `Keep-Alive: timeout=, max=` of a response that keeps the connection.

        `max` is read as the number of requests the connection may carry
        counting the one just answered: max=1 means this was the last one.
        Node.js sends `max=maxRequestsPerSocket`, a constant total per
        connection, on every response: read on the first one, that is exact.
        Apache sends `MaxKeepAliveRequests` minus the responses kept alive so
        far, counting down, which allows one request more than this reading:
        hopwire leaves one unused rather than have one refused. The first
        response with max= sets the cap; a later one may only lower it, so a
        constant total repeated on later responses does not extend it.
        """
        values = [value for name, value in _all_fields(event) if name == b"keep-alive"]
        if not values:
            return
        timeout, maximum = parse_keep_alive(b", ".join(values))
        if timeout is not None:
            self._keep_alive_timeout = timeout
        if maximum is not None:
            limit = request_id + maximum  # requests 0 .. request_id + maximum - 1
            if self._request_limit is None or limit < self._request_limit:
                self._request_limit = limit

    # -- after the end -----------------------------------------------------------

    def unanswered(self, *, replay_unsafe: bool = False) -> Unanswered:
        """The requests this connection will never answer, once it has ended.

        RFC 9112 §9.3.1 and RFC 9110 §9.2.2: a request with an idempotent method
        of which no response byte arrived may be sent again on a new connection;
        any other may have been processed and must fail. `replay_unsafe=True`
        is the caller's opt-in to send again the non-idempotent ones too when
        no byte of their answer arrived.
        """
        if self._ended is None:
            raise ConnectionStateError(
                f"the connection is {self.state.value}: its requests may still be answered")
        replayable: list[RequestId] = []
        maybe_processed: list[RequestId] = []
        for request in self._in_flight:
            replay = not request.started and (replay_unsafe or request.method in R.IDEMPOTENT_METHODS)
            (replayable if replay else maybe_processed).append(request.id)
        return Unanswered(replayable, maybe_processed)

    def __repr__(self) -> str:
        return (f"<Connection {self.state.value} in_flight={self.in_flight} "
                f"proven={self._proven} requests_left={self.requests_left}>")
