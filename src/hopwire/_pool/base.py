"""What the sync and asyncio pools share: options, exchanges, links, and the replay rule.

An `Exchange` is one request on one connection, from the moment it is
recorded as in flight to the end of its answer; a `Link` is one pooled
connection: its protocol state (`Connection`), its pool entry, and the
exchanges in flight on it, in order. The drivers move bytes; the link sorts
the events that come back into their exchanges and, when the connection ends
early, decides for each exchange left what its caller gets: its answer's
error, a `Replay` (send it again on a fresh connection) or `ConnectionLost`.

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
from collections.abc import Iterable
from typing import Any, Union

from .._wire import rules as R
from .._wire.parser import Data, EndOfMessage
from .connection import BROKEN, CLOSED, SWITCHED, Connection, Exchange, PreparedRequest
from .._errors import ConnectionLost, HopwireError, RemoteProtocolError
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
from .._wire.writer import Body
from .state import Entry, PoolState

ENDED = frozenset([CLOSED, BROKEN, SWITCHED])
READ_SIZE = 64 * 1024
DRAIN_LIMIT = 64 * 1024  # bytes of an unread body read off at release to keep the connection
SMALL_BODY = 64 * 1024  # bodies up to this size are written with the head in one send
HIGH_WATER = 1024 * 1024  # bytes of an unread streamed body buffered before reading pauses
MAX_REPLAYS = 5  # sends of one request after the first, pipeline cut-offs included
CONNECT_BACKOFF = 0.05  # seconds before the first connect retry; doubles each time

HTTP_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}

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
                 "replay_unsafe", "trust_proxy_keep_alive")

    def __init__(self, *, max_connections: int = 100, max_connections_per_host: int = 10,
                 pipeline_depth: int = 1, keepalive_expiry: float = 5.0,
                 timeout: TimeoutInput = 5.0, retries: int = 0, proxy: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, replay_unsafe: bool = False,
                 trust_proxy_keep_alive: bool = False) -> None:
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
        self.replay_unsafe = replay_unsafe
        self.trust_proxy_keep_alive = trust_proxy_keep_alive

    def new_state(self) -> PoolState:
        return PoolState(max_connections=self.max_connections,
                         max_connections_per_host=self.max_connections_per_host,
                         pipeline_depth=self.pipeline_depth,
                         keepalive_expiry=self.keepalive_expiry)

    def tls_context(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            # Verification on, the system's CAs: what a caller gets without asking.
            self.ssl_context = ssl.create_default_context()
        return self.ssl_context


def record(link: Link, ex: Exchange, prepared: Any) -> int:
    """Put the exchange in flight on the link (the caller holds the link's lock);
    returns how many requests are ahead of it."""
    conn = link.conn
    ahead = len(conn._in_flight)
    rid = conn.send_prepared(prepared)
    ex.info.pipelined = ahead
    ex.may_replay = ex.replay_pipelined if ahead else ex.replay_alone
    ex.rid = rid
    link.exchanges[rid] = ex
    return ahead


class Link:
    """A pooled connection: protocol state, pool entry, exchanges in flight by request id."""

    __slots__ = ("conn", "entry", "number", "exchanges", "replay_unsafe", "closed",
                 "pipeline_failed")

    def __init__(self, conn: Connection, number: int, replay_unsafe: bool) -> None:
        self.conn = conn
        self.entry: Entry | None = None
        self.number = number
        self.exchanges: dict[int, Exchange] = {}
        self.replay_unsafe = replay_unsafe
        self.closed = False  # the transport was closed
        self.pipeline_failed = False  # it ended with requests cut off behind others

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
        at all (a reused connection, see `Connection._receive_into`), the requests
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
        if conn.state not in ENDED:
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
                started = bool(ex.events) or rid not in lost
                ex.error = ConnectionLost(LOST_MID_RESPONSE if started else LOST_MAYBE_PROCESSED,
                                          maybe_processed=True)
        self.exchanges.clear()
        self.pipeline_failed = self.pipeline_failed or cut_in_pipeline
        return cut_in_pipeline


RequestSpec = Union[tuple[Union[str, bytes], str], tuple[Union[str, bytes], str, HeaderInput, Body]]


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

    def response(self, event: Any, info: ExchangeInfo, stream: BodyStream | None) -> Response:
        """The caller's response for the answer's head `event`; its body from `stream`."""
        head = event  # (typed in the compiled twin: see `Connection._tag_all`)
        return Response(head.status_code, head.reason.decode("latin-1"),
                        HTTP_VERSIONS.get(head.http_version, "HTTP/1.1"), head.headers,
                        self.prepared.method, self.url, info, stream)

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
        response = self.response(event, ex.info, None)
        response._content = content
        return response

    def replayed(self, pipelined: bool, next_serial: int) -> None:
        """The request was not answered and will be sent again (see `base`)."""
        self.replays += 1
        if pipelined:
            self.min_serial = next_serial
        else:
            self.retried_reused = self.fresh = True


def plan_batch(requests: Iterable[RequestSpec], proxy: Any) -> tuple[list[Any], deque[tuple[int, Attempt]]]:
    """For `request_all`: a slot per request (its error when refused before anything was
    sent, else None until answered) and the attempts to send, with their slots, in order."""
    results: list[Any] = []
    todo: deque[tuple[int, Attempt]] = deque()
    for spec in requests:
        try:
            todo.append((len(results), Attempt.from_spec(spec, proxy)))
            results.append(None)
        except HopwireError as exc:
            results.append(exc)
    return results, todo


def abandoned(link: Link, ex: Exchange | None) -> bool:
    """Does a caller give up on an answer under way (recorded, not ended, no error)?

    Its own exception or an interrupt leaves the connection in an unknown
    state: the driver closes it, never hands it out again.
    """
    return ex is not None and ex.rid >= 0 and not ex.ended and ex.error is None and not link.closed


def give_back(state: PoolState, link: Link, now: float, sent: bool,
              pipelinable: bool) -> tuple[list[Any], bool]:
    """The pool's side of a release: (wake-ups, whether the connection leaves the pool).

    A connection leaves once it ended, or once nobody holds it and it may
    carry no more requests; the driver then closes it.
    """
    entry = link.entry
    assert entry is not None
    if link.pipeline_failed:
        link.pipeline_failed = False
        state.note_pipeline_failure(entry.origin)
    wakeups = state.released(entry, now, sent=sent, pipelinable=pipelinable)
    conn = link.conn
    ended = link.closed or conn._ended is not None  # (`_ended`: the state is in ENDED)
    if ended:
        wakeups += state.discard(entry, now)
        return wakeups, True
    # `conn.state not in OPEN` for a connection not ended: CLOSING, without the property.
    limit = conn._request_limit
    return wakeups, entry.leases == 0 and (conn._peer_closing or (limit is not None
                                                                  and conn._next_id >= limit))


def protocol_error(exc: RemoteProtocolError) -> RemoteProtocolError:
    """A fresh error for the caller (the connection keeps its own for later calls)."""
    return RemoteProtocolError(exc.reason, exc.parse_error)
