"""The pools' core: what `Pool` and `AsyncPool` share, written once.

`PoolBase` holds the options and the `PoolState`, and makes every decision
on them: which connection a request takes (and whether to probe it first),
waking and releasing, connect retries, what a waiter that gave up gives back,
closing. The drivers (`sync`, `aio`) only do I/O: sockets and locks, or
asyncio transports and futures; `Pool` holds its lock around the methods
marked "locked" here.

An `Exchange` (`exchange`) is one request on one connection, from the moment
it is recorded as in flight to the end of its answer; a `Link` is one pooled
connection: its protocol state (`Connection`), its pool entry, and the
exchanges in flight on it, in order. The drivers move bytes; the link sorts
the events that come back into their exchanges (`Link.receive`) and, when
the connection ends early, decides for each exchange left what its caller
gets: its answer's error, a `Replay` (send it again on a fresh connection)
or `ConnectionLost`. `Tunnel` is the CONNECT handshake both drivers make
through a proxy; `Batch` is `request_all`'s bookkeeping.

Replay (RFC 9112 §9.3.1, §9.3.2; RFC 9110 §9.2.2): a request is sent again
on another connection when the connection ended before any byte of its answer
arrived, its method is idempotent (or the caller opted in), its body can be
sent again (bytes, not an iterator), and either
- it was pipelined behind another request: the server dropped what it had not
  answered (gunicorn, http.server); this may happen again behind another
  pipeline, up to MAX_REPLAYS times in all; or
- it was the only request in flight on a reused connection: the server may
  have closed it as idle while the request was on its way. This replay is
  made once: a retry is never retried for that reason.
A request alone on a fresh connection closed without an answer is not sent
again: the server would most likely do the same.

Where a replay goes (PoolState.acquire's `fresh` and `min_serial`): a request
that was alone goes on a new connection, which answers its first request
even when the server closes every connection after k of them; requests cut
off in a pipeline go, in order, on connections opened since the failure, so
that the first of them goes alone (a new connection is not pipelined before
its first answer) and the others pipeline behind it once it answered.
"""

from __future__ import annotations

import ssl
from collections import deque
from time import monotonic
from collections.abc import Iterable
from typing import Any, Union

from .._errors import (
    ConnectError,
    ConnectionLost,
    HopwireError,
    PoolClosed,
    PoolTimeout,
    ProxyError,
    ReadError,
    RemoteProtocolError,
    TransportError,
)
from .._wire import rules as R
from .._wire.parser import Data, EndOfMessage
from .._wire.parser import Response as ResponseEvent
from .._wire.writer import Body
from .connection import SWITCHED, Connection, ConnectionBase, ConnectionStateError, PreparedRequest
from .exchange import Exchange
from .models import (
    BodyStream,
    ExchangeInfo,
    HeaderInput,
    Proxy,
    Response,
    Timeout,
    TimeoutInput,
    as_timeout,
    prepare,
    split_url,
)
from .state import Entry, EvictThenDial, Origin, PoolState, Use, Wait, Wakeups

READ_SIZE = 64 * 1024
DRAIN_LIMIT = 64 * 1024  # bytes of an unread body read off at release to keep the connection
SMALL_BODY = 64 * 1024  # bodies up to this size are written with the head in one send
HIGH_WATER = 1024 * 1024  # bytes of an unread streamed body buffered before reading pauses
MAX_REPLAYS = 5  # sends of one request after the first, pipeline cut-offs included
CONNECT_BACKOFF = 0.05  # seconds before the first connect retry; doubles each time
EXPIRY_CHECK = 0.5  # seconds between two looks for expired idle connections
# A connection whose last answer ended less than this many seconds ago is reused
# without a probe for an idempotent request: in a loop of requests the probe (a
# poll) is a sixth of the sync pool's own CPU per request, and servers close idle
# connections after seconds, not microseconds. A close that does fall in the window
# is met on the read, before any answer byte, and the request is replayed on a new
# connection (RFC 9112 §9.3.1), as after any race with the probe. Never after an
# answer to HEAD: a server that sends a body after it (waitress) must be caught by
# the probe, not parsed as the next answer.
QUIET_REUSE = 0.001

HTTP_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0", b"2": "HTTP/2"}
HTTP2_MODES = (False, True, "prior-knowledge")
ALPN_PROTOCOLS = ["h2", "http/1.1"]  # RFC 9113 §3.2, RFC 7301

LOST_UNANSWERED = "the server closed the connection without answering"
LOST_MAYBE_PROCESSED = ("the connection ended before the answer; the server may have processed "
                        "the request, so it is not sent again")
LOST_MID_RESPONSE = "the connection ended in the middle of the answer"


class Replay(Exception):
    """Internal: the request was not answered and may be sent again (never escapes a pool)."""


class PoolOptions:
    """The options common to `Pool` and `AsyncPool` (see their docstring)."""

    __slots__ = ("max_connections", "max_connections_per_host", "pipeline_depth",
                 "keepalive_expiry", "timeout", "retries", "proxy", "ssl_context",
                 "replay_unsafe", "trust_proxy_keep_alive", "http2", "_contexts")

    def __init__(self, *, max_connections: int = 100, max_connections_per_host: int = 10,
                 pipeline_depth: int = 1, keepalive_expiry: float = 5.0,
                 timeout: TimeoutInput = 5.0, retries: int = 0, proxy: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, replay_unsafe: bool = False,
                 trust_proxy_keep_alive: bool = False, http2: bool | str = False) -> None:
        if http2 not in HTTP2_MODES:
            raise ValueError(f"http2 must be one of {HTTP2_MODES!r}, not {http2!r}")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if keepalive_expiry < 0:
            raise ValueError("keepalive_expiry must be >= 0")
        self.max_connections = max_connections
        self.max_connections_per_host = max_connections_per_host
        self.pipeline_depth = pipeline_depth
        self.keepalive_expiry = keepalive_expiry
        self.timeout: Timeout = as_timeout(timeout)
        self.retries = retries
        self.proxy = None if proxy is None else Proxy.parse(proxy)
        self.ssl_context = ssl_context
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self.replay_unsafe = replay_unsafe
        self.trust_proxy_keep_alive = trust_proxy_keep_alive
        self.http2 = http2
        if http2 and ssl_context is not None:
            # An SSLContext cannot be copied: HTTP/2 is offered on the caller's own
            # (docs/pool.md says so).
            ssl_context.set_alpn_protocols(ALPN_PROTOCOLS)

    def new_state(self) -> PoolState:
        return PoolState(max_connections=self.max_connections,
                         max_connections_per_host=self.max_connections_per_host,
                         pipeline_depth=self.pipeline_depth,
                         keepalive_expiry=self.keepalive_expiry,
                         multiplex_schemes=self.multiplex_schemes())

    def multiplex_schemes(self) -> frozenset[str]:
        """The schemes whose origins may answer on HTTP/2: https, where ALPN decides
        (also through a proxy's CONNECT tunnel); with prior knowledge, http too, but
        not through a plain-http proxy, which forwards HTTP/1.1 requests."""
        if not self.http2:
            return frozenset()
        if self.http2 == "prior-knowledge" and self.proxy is None:
            return frozenset(["http", "https"])
        return frozenset(["https"])

    def tls_context(self, multiplex: bool = False) -> ssl.SSLContext:
        """The TLS context of a connection; `multiplex`: it offers HTTP/2 (ALPN).

        The caller's `ssl_context` serves both (with `http2` on, it offers HTTP/2
        to every origin); without one, verification on with the system's CAs,
        in a context that offers HTTP/2 and one that does not."""
        if self.ssl_context is not None:
            return self.ssl_context
        context = self._contexts.get(multiplex)
        if context is None:
            context = self._contexts[multiplex] = ssl.create_default_context()
            if multiplex:
                context.set_alpn_protocols(ALPN_PROTOCOLS)
        return context


def record(link: Link, ex: Exchange, prepared: Any) -> int:
    """Put the exchange in flight on the link (the caller holds the link's lock);
    returns how many requests are ahead of it."""
    conn = link.conn
    ahead = conn.pending()
    rid = conn.send_prepared(prepared)
    ex.info.pipelined = ahead
    ex.may_replay = ex.replay_pipelined if ahead else ex.replay_alone
    ex.rid = rid
    link.exchanges[rid] = ex
    return ahead


class Link:
    """A pooled connection: protocol state, pool entry, exchanges in flight by request id.

    Its driver's subclass moves the bytes: `close`, `abort` and `peer_gone` are
    its, the rest is shared.
    """

    __slots__ = ("conn", "entry", "number", "exchanges", "replay_unsafe", "closed",
                 "pipeline_failed", "quiet_until")

    def __init__(self, conn: ConnectionBase, number: int, replay_unsafe: bool) -> None:
        self.conn = conn
        self.entry: Entry | None = None
        self.number = number
        self.exchanges: dict[int, Exchange] = {}
        self.replay_unsafe = replay_unsafe
        self.closed = False  # the transport was closed
        self.pipeline_failed = False  # it ended with requests cut off behind others
        self.quiet_until = 0.0  # see QUIET_REUSE

    # -- the driver's ------------------------------------------------------------------

    def close(self) -> None:
        """Close the transport (once)."""
        raise NotImplementedError

    def abort(self, error: TransportError, peer_closed: bool = False) -> None:
        """The connection is in an unknown state: close it; the answer under way gets `error`."""
        raise NotImplementedError

    def peer_gone(self) -> bool:
        """Did the server close the idle connection (or send what nobody asked for)?"""
        raise NotImplementedError

    def finish(self, ex: Exchange) -> None:
        """A multiplexed link's exchange is done: what its reader left unread is given
        back to the flow-control windows."""

    def cut(self, ex: Exchange, error: TransportError) -> None:
        """The caller gives up on the exchange's answer before its end: on HTTP/1.1 the
        connection is in an unknown state and is closed (the answer under way gets
        `error`); a multiplexed link resets the stream alone."""
        self.abort(error)

    # -- shared --------------------------------------------------------------------------

    def receive(self, data: Any) -> None:
        """What the server sent (b"": it closed the connection): each event goes to its
        exchange; when the connection ends (closed, broken, switched), every exchange
        left gets its outcome (`fail`) and the transport is closed. The sync driver
        calls it under the link's lock."""
        conn = self.conn
        try:
            if data:
                conn.receive_into(data, self.exchanges)  # (`receive_data` and `dispatch` in one)
            else:
                self.dispatch(conn.receive_eof())
        except RemoteProtocolError as exc:
            self.broke(exc)
            self.close()
            return
        if conn.has_ended():
            self.fail(None)
            self.close()

    def dispatch(self, tagged: list[tuple[int, Any]]) -> None:
        """Hand each event to its exchange; an exchange whose caller went away drops them."""
        exchanges = self.exchanges
        for rid, event in tagged:
            ex = exchanges.get(rid)
            kind = type(event)
            if kind is EndOfMessage:
                if ex is not None:
                    del exchanges[rid]
                    ex.ended = True
                    ex.events.append(event)
            elif ex is not None:
                ex.events.append(event)
                if kind is Data:
                    ex.buffered += len(event.data)

    def broke(self, exc: RemoteProtocolError) -> None:
        """The server broke HTTP on the connection (now BROKEN): hand over the events
        that came before, and fail the exchanges left. When the bytes were no answer
        at all (a reused connection, see `Connection.receive_into`), the requests
        were not answered: they may be replayed, as after a close by the server."""
        self.dispatch(exc.events)
        self.fail(protocol_error(exc), peer_closed=not self.conn.is_answering())

    def fail(self, error: BaseException | None, peer_closed: bool = False) -> bool:
        """The connection ended: give every exchange left its outcome, and forget them.

        `error` goes to the exchange whose answer was under way. When the
        peer closed or reset the connection (`peer_closed`), an exchange of
        which no answer byte arrived may still be replayed; after a timeout or
        bad bytes, the one under way gets the error. Returns whether an
        exchange was cut off behind another one (mid-pipeline).
        """
        conn = self.conn
        if not conn.has_ended():
            conn.close()
        replayable, lost = conn.unanswered(replay_unsafe=self.replay_unsafe)
        replay_ids = set(replayable)
        head = next(iter(self.exchanges), None)
        cut_in_pipeline = False
        for rid, ex in self.exchanges.items():
            if ex.error is not None:
                continue
            under_way = error is not None and (rid == head or bool(ex.events))
            if under_way and not peer_closed:
                ex.error = error
                continue
            if ex.info.pipelined:
                cut_in_pipeline = True
            if rid in replay_ids:
                if ex.may_replay:
                    ex.error = Replay()
                elif ex.write_error is not None:
                    ex.error = ex.write_error
                elif under_way:
                    ex.error = error
                else:
                    ex.error = ConnectionLost(LOST_UNANSWERED, maybe_processed=False)
            elif under_way:
                ex.error = error
            else:
                started = bool(ex.events) or ex.head_taken or rid not in lost
                ex.error = ConnectionLost(LOST_MID_RESPONSE if started else LOST_MAYBE_PROCESSED,
                                          maybe_processed=True)
        self.exchanges.clear()
        self.pipeline_failed = self.pipeline_failed or cut_in_pipeline
        return cut_in_pipeline


SIMPLE_CACHE_SIZE = 512
# (method, url, proxy) of a request without headers or body: its (Target, PreparedRequest,
# pipelinable), what `split_url()` and `prepare()` cache, in one look-up.
_simple_attempts: dict[tuple[Any, ...], tuple[Any, PreparedRequest, bool]] = {}


class Attempt:
    """One request of a caller, across the sends that replays make of it."""

    __slots__ = ("url", "where", "prepared", "body", "pipelinable", "replayable_body", "replays",
                 "retried_reused", "fresh", "min_serial")

    def __init__(self, method: str | bytes, url: str, headers: HeaderInput, body: Body,
                 proxy: Any) -> None:
        self.url = url
        simple = headers is None and body is None and type(url) is str
        known = _simple_attempts.get((method, url, proxy)) if simple else None
        if known is None:
            self.where = split_url(url)
            self.prepared = prepare(method, self.where, headers, body, proxy)
            # May it go into a pipeline (RFC 9112 §9.3.2)? PoolState counts it so.
            self.pipelinable = self.prepared.method in R.SAFE_METHODS and not self.prepared.barrier
            if simple:  # the same request made again skips the URL and the head
                if len(_simple_attempts) >= SIMPLE_CACHE_SIZE:
                    _simple_attempts.clear()
                _simple_attempts[(method, url, proxy)] = (self.where, self.prepared, self.pipelinable)
        else:
            self.where, self.prepared, self.pipelinable = known
        self.body = body
        self.replayable_body = body is None or isinstance(body, (bytes, bytearray, memoryview))
        self.replays = 0
        self.retried_reused = False  # replayed after a reused connection failed: not again
        self.fresh = False  # the replay goes on a new connection
        self.min_serial = 0  # the replay goes on a connection opened since its failure

    @classmethod
    def from_spec(cls, spec: RequestSpec, proxy: Any) -> Attempt:
        """An attempt from `(method, url)` or `(method, url, headers, body)`."""
        headers: HeaderInput = None
        body: Body = None
        if len(spec) == 4:
            method, url, headers, body = spec
        else:
            method, url = spec
        return cls(method, url, headers, body, proxy)

    def exchange(self, number: int, reused: bool) -> Exchange:
        """The exchange of this send on connection `number` (see `base` for the replay rule)."""
        replays = self.replays
        can_replay = self.replayable_body and replays < MAX_REPLAYS
        return Exchange(ExchangeInfo(number, reused, 0, replays > 0),
                        can_replay and reused and not self.retried_reused, can_replay)

    def response(self, event: Any, info: ExchangeInfo, stream: BodyStream | None,
                 content: bytes | None = None) -> Response:
        """The caller's response for the answer's head `event`; its body from `stream`
        (or all of it, `content`)."""
        head = event  # (typed in the compiled twin: see `Connection._tag_all`)
        return Response(head.status_code, head.reason.decode("latin-1"),
                        HTTP_VERSIONS.get(head.http_version, "HTTP/1.1"), head.headers,
                        self.prepared.method, self.url, info, stream, content)

    def collected(self, event: Any, ex: Exchange) -> Response:
        """The response of an answer that came whole: its content taken from `ex`'s events
        (Data then EndOfMessage), which are cleared."""
        events = ex.events
        if len(events) == 2 and type(events[0]) is Data:
            content = events[0].data
            if type(content) is not bytes:
                content = bytes(content)
        else:
            content = b"".join([e.data for e in events if type(e) is Data])
        events.clear()
        ex.buffered = 0
        return self.response(event, ex.info, None, content)

    def replayed(self, pipelined: bool, next_serial: int) -> None:
        """The request was not answered and will be sent again (see `base`)."""
        self.replays += 1
        if pipelined:
            self.min_serial = next_serial
        else:
            self.retried_reused = self.fresh = True


def framed(conn: Connection, rid: int, head: bytes, body: Any) -> list[bytes]:
    """What to write for a request with a bytes-like body (the caller holds the link's
    lock): head, framed body and its end, joined in one piece when the body is small
    (one system call), else apart (no copy of a large body)."""
    data = conn.send_body(rid, body)
    tail = conn.end_body(rid)
    if len(data) <= SMALL_BODY:
        return [head + data + tail]
    return [head, data, tail] if tail else [head, data]


def protocol_error(exc: RemoteProtocolError) -> RemoteProtocolError:
    """A fresh error for the caller (the connection keeps its own for later calls)."""
    return RemoteProtocolError(exc.reason, exc.parse_error)


def caller_error(ex: Exchange) -> BaseException:
    """What the caller of a failed exchange gets: a Replay as it is; a failed write
    rather than what followed it, unless the server answered in part or broke HTTP
    (the server may have answered before closing: 413 to a big upload)."""
    error = ex.error
    assert error is not None
    if isinstance(error, Replay):
        return error
    if ex.write_error is not None and not ex.events and not isinstance(error, RemoteProtocolError):
        return ex.write_error
    return error


# -- the CONNECT handshake ------------------------------------------------------------------

class Tunnel:
    """A CONNECT tunnel through a proxy (RFC 9110 §9.3.6), without I/O: the request to
    write (`request`), then what the proxy sends (`receive`) until the tunnel is open.
    The proxy's answer is parsed as any answer is: a 2xx opens the tunnel, and no byte
    may follow its head before the TLS handshake. Interim 1xx answers are skipped."""

    __slots__ = ("authority", "conn", "request", "status")

    def __init__(self, origin: Origin, authorization: bytes | None) -> None:
        self.authority = f"{origin.host}:{origin.port}"
        headers: list[tuple[bytes, bytes]] = []
        if authorization is not None:
            headers.append((b"Proxy-Authorization", authorization))
        self.conn = Connection()
        self.request = self.conn.send_request(b"CONNECT", self.authority, headers,
                                              host=self.authority)[1]
        self.status: int | None = None

    def receive(self, data: bytes) -> bool:
        """Take what the proxy sent (b"": it closed); True once the tunnel is open.
        Raises `ProxyError` when the proxy refuses, breaks HTTP, or closes first."""
        conn = self.conn
        try:
            tagged = conn.receive_data(data) if data else conn.receive_eof()
        except RemoteProtocolError as exc:
            raise ProxyError(f"the proxy answered CONNECT with bad HTTP: {exc.reason}") from exc
        for _, event in tagged:
            if type(event) is ResponseEvent:
                self.status = event.status_code
        status = self.status
        if status is not None and not 200 <= status < 300:
            raise ProxyError(f"the proxy refused the tunnel to {self.authority}", status)
        if conn.state is SWITCHED:
            if conn.trailing_data:
                raise ProxyError(f"the proxy sent bytes into the tunnel to {self.authority} "
                                 "before the TLS handshake", status)
            return True
        if not data or conn.has_ended():
            raise ProxyError(f"the proxy closed the connection before opening the tunnel to "
                             f"{self.authority}", status)
        return False


# -- request_all ------------------------------------------------------------------------------

RequestSpec = Union[tuple[Union[str, bytes], str], tuple[Union[str, bytes], str, HeaderInput, Body]]


class Batch:
    """`request_all`'s bookkeeping, the same for both drivers: a result slot per request
    in the caller's order (its error when refused before anything was sent), the
    attempts still to send, in order, and those in flight, oldest first."""

    __slots__ = ("results", "todo", "in_flight")

    def __init__(self, requests: Iterable[RequestSpec], proxy: Any) -> None:
        self.results: list[Any] = []
        self.todo: deque[tuple[int, Attempt]] = deque()
        self.in_flight: deque[tuple[int, Attempt, Any, Exchange]] = deque()
        for spec in requests:
            try:
                self.todo.append((len(self.results), Attempt.from_spec(spec, proxy)))
                self.results.append(None)
            except HopwireError as exc:
                self.results.append(exc)

    def next(self) -> Attempt | None:
        """The attempt to send next, if any."""
        return self.todo[0][1] if self.todo else None

    def refused(self, error: HopwireError) -> Attempt | None:
        """The next attempt failed before it was in flight; the one after it."""
        index, _ = self.todo.popleft()
        self.results[index] = error
        return self.next()

    def started(self, link: Any, ex: Exchange) -> Attempt | None:
        """The next attempt is in flight on `link` as `ex`; the one after it."""
        index, attempt = self.todo.popleft()
        self.in_flight.append((index, attempt, link, ex))
        return self.next()

    def oldest(self) -> tuple[int, Attempt, Any, Exchange]:
        """The oldest request in flight, whose answer is read next."""
        return self.in_flight.popleft()

    def answered(self, index: int, result: Response) -> None:
        self.results[index] = result

    def failed(self, index: int, attempt: Attempt, error: BaseException) -> None:
        """The request got no answer: it goes again (a Replay), before the others still
        to send, or its slot takes `error`."""
        if isinstance(error, Replay):
            self.todo.appendleft((index, attempt))
        else:
            self.results[index] = error

    def by_link(self) -> dict[Any, list[Exchange]]:
        """The exchanges in flight, by link (to give back when the batch is interrupted)."""
        links: dict[Any, list[Exchange]] = {}
        for _, _, link, ex in self.in_flight:
            links.setdefault(link, []).append(ex)
        return links


# -- the pool ---------------------------------------------------------------------------------

class Waiter:
    """A caller queued by `PoolState`: its driver's signal (a `threading.Event`, an
    asyncio future), then the action it was woken with and, for `Use`, its link."""

    __slots__ = ("signal", "action", "link")

    def __init__(self, signal: Any = None) -> None:
        self.signal = signal
        self.action: Any = None
        self.link: Any = None


class BodyBase(BodyStream):
    """A streamed response's body on a link: what both drivers' streams share."""

    __slots__ = ("pool", "link", "ex", "timeout", "closed", "budget")

    def __init__(self, pool: Any, link: Any, ex: Exchange, timeout: float | None) -> None:
        self.pool = pool
        self.link = link
        self.ex = ex
        self.timeout = timeout
        self.closed = False
        self.budget = DRAIN_LIMIT  # bytes `close()` may still read off to keep the connection

    def _drains(self) -> bool:
        """`close()`: read another event of the body to keep the connection? Not once
        its end was read; when more than DRAIN_LIMIT bytes were left, or the answer
        failed, the connection is closed instead."""
        ex = self.ex
        if ex.ended and not ex.events:
            return False
        if self.budget < 0 or ex.error is not None:
            self._cut()
            return False
        return True

    def _drained(self, event: Any) -> None:
        """`close()` read `event` off."""
        self.budget -= data_size(event)

    def _cut(self) -> None:
        """`close()` gives up on the rest of the body: the connection is closed (HTTP/1.1),
        or the stream reset (HTTP/2)."""
        self.link.cut(self.ex, ReadError("the response was closed before its end"))


def data_size(event: Any) -> int:
    """Bytes of body in an event (0 but for Data)."""
    return len(event.data) if type(event) is Data else 0


class PoolBase:
    """The part of `Pool` and `AsyncPool` that is not I/O (see the module docstring).

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
    `http2`: False (HTTP/1.1 only); True: HTTP/2 on https origins whose server
    chooses it (ALPN); "prior-knowledge": HTTP/2 on http origins too, without
    asking (RFC 9113 §3.3). An HTTP/2 connection carries up to the server's
    SETTINGS_MAX_CONCURRENT_STREAMS requests at once (see `state`: Multiplexing).
    """

    def __init__(self, *, max_connections: int = 100, max_connections_per_host: int = 10,
                 pipeline_depth: int = 1, keepalive_expiry: float = 5.0,
                 timeout: TimeoutInput = 5.0, retries: int = 0, proxy: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, replay_unsafe: bool = False,
                 trust_proxy_keep_alive: bool = False, http2: bool | str = False) -> None:
        self._options = PoolOptions(
            max_connections=max_connections, max_connections_per_host=max_connections_per_host,
            pipeline_depth=pipeline_depth, keepalive_expiry=keepalive_expiry, timeout=timeout,
            retries=retries, proxy=proxy, ssl_context=ssl_context, replay_unsafe=replay_unsafe,
            trust_proxy_keep_alive=trust_proxy_keep_alive, http2=http2)
        self._state = self._options.new_state()
        # Requests share connections (pipelined or multiplexed): a sent one may let a waiter in.
        self._pipelining = pipeline_depth > 1 or bool(http2)
        self._numbers = iter(range(1, 1 << 62))
        self._next_expiry = 0.0
        self._closed = False
        self._init_driver()

    @property
    def connections(self) -> int:
        """Connections open or being opened."""
        return self._state.count()

    # -- the driver's ----------------------------------------------------------------------

    def _init_driver(self) -> None:
        """Set up what the driver adds (its lock, its read buffer)."""

    def _signal(self, waiter: Waiter) -> None:
        """Wake the caller of `waiter` (set its event, resolve its future). Locked."""
        raise NotImplementedError

    # -- requests --------------------------------------------------------------------------

    def _attempt(self, method: str | bytes, url: str, headers: HeaderInput, body: Body) -> Attempt:
        return Attempt(method, url, headers, body, self._options.proxy)

    def _timeout(self, timeout: TimeoutInput | None) -> Timeout:
        """A call's timeout: its own, else the pool's."""
        return self._options.timeout if timeout is None else as_timeout(timeout)

    def _batch(self, requests: Iterable[RequestSpec]) -> Batch:
        return Batch(requests, self._options.proxy)

    # -- acquiring -------------------------------------------------------------------------

    def _ready(self, attempt: Attempt, now: float) -> Any:
        """The common case of acquiring, no waiter made: the link of an idle connection,
        or at the caps of a pipeline to join; None when `_take` is needed. Locked."""
        if attempt.fresh or self._closed or now >= self._next_expiry:
            return None
        prepared = attempt.prepared
        entry = self._state.acquire_now(attempt.where.origin, prepared.method, now,
                                        expect_continue=prepared.expect_continue,
                                        upgrade=prepared.upgrade, min_serial=attempt.min_serial)
        return None if entry is None else entry.link

    def _take(self, attempt: Attempt, waiter: Waiter, now: float, deadline: float | None,
              block: bool) -> Any:
        """Acquiring when `_ready` found nothing, by the whole policy of `PoolState`: a
        link to send on (probe it first if `_must_probe`), `waiter` when the caller is
        queued and waits for its signal, Dial or EvictThenDial (the driver opens the
        connection), or None when it would wait and not `block`. Locked, after
        `_expired(now)`."""
        if self._closed:
            raise PoolClosed("the pool is closed")
        prepared = attempt.prepared
        action = self._state.acquire(waiter, attempt.where.origin, prepared.method, now,
                                     deadline=deadline, expect_continue=prepared.expect_continue,
                                     upgrade=prepared.upgrade, fresh=attempt.fresh,
                                     min_serial=attempt.min_serial)
        kind = type(action)
        if kind is Use:
            return action.entry.link  # type: ignore[union-attr]
        if kind is Wait:
            if not block:
                self._wake(self._state.cancel(waiter, now) or [])
                return None
            return waiter
        return action

    def _must_probe(self, link: Link, now: float, method: bytes) -> bool:
        """Is the connection probed (`peer_gone`) before it is used? When nothing is in
        flight on it, unless it answered within QUIET_REUSE and the method is idempotent."""
        return link.conn.pending() == 0 and (now >= link.quiet_until
                                             or method not in R.IDEMPOTENT_METHODS)

    def _reused(self, link: Link) -> bool:
        """Does a request on the link follow others (for `ExchangeInfo.reused` and replays)?"""
        conn = link.conn
        return conn.pending() > 0 or conn.answered > 0

    def _expired(self, now: float) -> list[Any]:
        """The idle connections past their time, out of the pool, for the driver to close
        (looked for every EXPIRY_CHECK seconds at most). Locked."""
        if now < self._next_expiry:
            return []
        self._next_expiry = now + EXPIRY_CHECK
        return [entry.link for entry in self._state.expire(now)]

    # -- waiting ---------------------------------------------------------------------------

    def _wake(self, wakeups: Wakeups) -> None:
        """Hand the woken waiters their actions and signal them. Locked."""
        for waiter, action in wakeups:
            assert isinstance(waiter, Waiter)
            waiter.action = action
            if type(action) is Use:
                waiter.link = action.entry.link
            self._signal(waiter)

    def _waited(self, waiter: Waiter, timed_out: bool) -> Any:
        """What a woken (or timed out) waiter goes on with: its link, or its Dial or
        EvictThenDial. Raises PoolTimeout, or PoolClosed. Locked when `timed_out`."""
        if timed_out:
            held_up = self._state.cancel(waiter, monotonic())
            if held_up is not None:  # (else it was woken as its time ran out: it goes on)
                self._wake(held_up)
                raise PoolTimeout(f"no connection available within {self._options.timeout.pool} s")
        action = waiter.action
        if action is None:  # woken by close()
            raise PoolClosed("the pool is closed")
        return waiter.link if type(action) is Use else action

    def _stop_waiting(self, waiter: Waiter, pipelinable: bool) -> None:
        """The caller of `waiter` stopped waiting (interrupted, cancelled): it leaves the
        queue, and what it was woken with meanwhile goes back. Locked."""
        now = monotonic()
        held_up = self._state.cancel(waiter, now)
        if held_up:
            self._wake(held_up)
        action = waiter.action
        if held_up is None and action is not None:
            self._wake(self._state.abandon(action, now, pipelinable))
            self._evict(action)

    # -- connecting ------------------------------------------------------------------------

    def _retry_delay(self, origin: Origin, tries: int, error: BaseException) -> float | None:
        """Seconds to wait before connecting again after `error` (CONNECT_BACKOFF,
        doubling), or None: no attempt is left, or the error is not a failure to
        connect, and the dial's place is given back. Locked."""
        if isinstance(error, (ConnectError, ProxyError)) and tries < self._options.retries:
            return CONNECT_BACKOFF * 2.0 ** tries
        self._dial_failed(origin)
        return None

    def _dial_failed(self, origin: Origin) -> None:
        """A dial ended without a connection: its place goes back. Locked."""
        self._wake(self._state.dial_failed(origin, monotonic()))

    def _new_connection(self, origin: Origin) -> Connection:
        """The protocol state of a connection to `origin` (through a plain-http proxy:
        what it sends is proxied, see `Connection`)."""
        options = self._options
        return Connection(pipeline_depth=options.pipeline_depth,
                          proxied=options.proxy is not None and origin.scheme == "http",
                          trust_proxy=options.trust_proxy_keep_alive)

    def _multiplexed(self, origin: Origin, tls: ssl.SSLObject | ssl.SSLSocket | None) -> bool:
        """Does the new connection to `origin` speak HTTP/2? Over TLS (`tls`), ALPN says
        (RFC 9113 §3.2); on http, with prior knowledge only (§3.3)."""
        if not self._state.may_multiplex(origin):
            return False
        if origin.scheme != "https":
            return True
        return tls is not None and tls.selected_alpn_protocol() == "h2"

    def _new_session(self, origin: Origin) -> Any:
        """The protocol state of a new HTTP/2 connection to `origin` (`h2session`)."""
        from .h2session import H2Session
        return H2Session(origin.scheme, known_limit=self._state.stream_limit(origin))

    def _room_grew(self) -> None:
        """A multiplexed link's server allowed more streams (its SETTINGS): the waiters
        held for them go. Locked (`Pool` takes its lock here)."""
        self._wake(self._state.retry_waiters(monotonic()))

    def _connected(self, origin: Origin, link: Link, pipelinable: bool) -> None:
        """The dialed connection joins the pool, leased to its dialer. Locked."""
        state = self._state
        now = monotonic()
        entry = state.connected(origin, link.conn, now, pipelinable=pipelinable)
        link.entry = entry
        entry.link = link
        if self._closed:
            link.close()
        elif state.may_multiplex(origin):
            if not link.conn.multiplexed:
                state.h1_only(origin)  # ALPN chose HTTP/1.1
            self._wake(state.retry_waiters(now))  # held until the protocol was known

    # -- sending and releasing ------------------------------------------------------------

    def _sends_wake(self) -> bool:
        """May a request recorded on a connection let a waiter in (`_sent`)?"""
        return self._pipelining or self._state.has_waiters()

    def _sent(self, link: Link, pipelinable: bool) -> None:
        """The request is recorded on the link: a waiter may pipeline behind it. Locked."""
        wakeups = self._state.sent(link.entry, monotonic(),  # type: ignore[arg-type]
                                   pipelinable=pipelinable)
        if wakeups:
            self._wake(wakeups)

    def _release(self, link: Link, ex: Exchange | None = None, sent: bool = True,
                 pipelinable: bool = True) -> None:
        """A caller is done with its lease on the link (`sent`: its request was recorded).

        A caller that gives up on an answer under way (`ex` recorded, not
        ended, no error: an interrupt, an exception of its own) leaves the
        connection in an unknown state: it is closed, never handed out again.
        """
        if (ex is not None and ex.rid >= 0 and not ex.ended and ex.error is None
                and not link.closed):
            link.cut(ex, ReadError("the answer was abandoned before its end"))
        elif ex is not None and link.conn.multiplexed:
            link.finish(ex)
        if self._give_back(link, sent, pipelinable):
            link.abort(ReadError("the connection was closed"))

    def _give_back(self, link: Link, sent: bool, pipelinable: bool) -> bool:
        """The pool's side of `_release`: whether the connection leaves the pool, for the
        caller to close. It leaves once it ended, or once nobody holds it and it may
        carry no more requests. Locked (`Pool` takes its lock here)."""
        state = self._state
        entry = link.entry
        assert entry is not None
        now = monotonic()
        if link.pipeline_failed:
            link.pipeline_failed = False
            state.note_pipeline_failure(entry.origin)
        conn = link.conn
        if conn.multiplexed:
            if conn.h1_required:  # type: ignore[attr-defined]
                state.h1_only(entry.origin)  # RFC 9113 §7: HTTP_1_1_REQUIRED
            limit = conn.stream_limit()  # type: ignore[attr-defined]
            if limit is not None:
                state.note_stream_limit(entry.origin, limit)
        wakeups = state.released(entry, now, sent=sent, pipelinable=pipelinable)
        done = link.closed or conn.has_ended()
        if done:
            wakeups += state.discard(entry, now)
        if wakeups:
            self._wake(wakeups)
        return done or (entry.leases == 0 and conn.is_closing())

    def _unsent(self, link: Link, attempt: Attempt, ex: Exchange, error: BaseException) -> bool:
        """Sending on the link it was given failed with `error`: the lease goes back.
        True when the request lost a race with a reader that ended or filled the
        connection (try another), False when the caller re-raises `error`."""
        raced = isinstance(error, ConnectionStateError) and ex.rid < 0
        if raced:
            self._release(link, sent=False, pipelinable=attempt.pipelinable)
        else:
            self._release(link, ex, ex.rid >= 0, attempt.pipelinable)
        return raced

    def _probed(self, link: Link, now: float, method: bytes) -> Any:
        """The link to reuse, unless the probe (when `_must_probe`) finds it dead: then it
        leaves the pool (`_lose`), and None."""
        if self._must_probe(link, now, method) and link.peer_gone():
            self._lose(link)
            return None
        return link

    def _lose(self, link: Link) -> None:
        """The link died while idle: drop it from the pool.

        Another caller may have put a request in flight on it since: that one
        is failed as after a close by the server (so it may be replayed).
        """
        link.abort(ReadError("the server closed the connection"), peer_closed=True)
        self._discard(link)

    def _discard(self, link: Link) -> None:
        """The pool's side of `_lose`. Locked (`Pool` takes its lock here)."""
        entry = link.entry
        assert entry is not None
        self._wake(self._state.discard(entry, monotonic()))

    @staticmethod
    def _evict(action: Any) -> None:
        """Before dialing: close the idle connection an EvictThenDial made room from."""
        if type(action) is EvictThenDial:
            action.entry.link.close()

    def _replaying(self, link: Link, attempt: Attempt, ex: Exchange) -> None:
        """The exchange's request goes again (see the module docstring: where); its lease
        on the link goes back."""
        self._release(link)
        attempt.replayed(ex.info.pipelined > 0, self._state.next_serial)

    def _shut(self) -> list[Any]:
        """Close the pool: waiters are signalled with no action (PoolClosed), and the
        connections leave it; returns their links, for the driver to abort. Locked."""
        self._closed = True
        waiters = self._state.waiting
        entries = self._state.close()
        for waiter in waiters:
            assert isinstance(waiter, Waiter)
            self._signal(waiter)
        return [entry.link for entry in entries if entry.link is not None]
