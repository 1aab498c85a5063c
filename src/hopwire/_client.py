"""What the sync and asyncio pools share: options, exchanges, links, and the replay rule.

An `Exchange` is one request on one connection, from the moment it is
recorded as in flight to the end of its answer; a `Link` is one pooled
connection: its protocol state (`Connection`), its pool entry, and the
exchanges in flight on it, in order. The drivers move bytes; the link sorts
the events that come back into their exchanges and, when the connection ends
early, decides for each exchange left what its caller gets: its answer's
error, a `Replay` (send it again on a fresh connection) or `ConnectionLost`.

Replay (RFC 9112 §9.3.1, RFC 9110 §9.2.2, issue "Persistent connections"): a
request is sent again, once, when the connection ended before any byte of
its answer arrived, its method is idempotent (or the caller opted in), its
body can be sent again, and it was not the first request on a fresh
connection: a server that closes a fresh connection without answering would
do it again, while a reused one may simply have timed out, and a pipelined
request may have been dropped by a server that does not pipeline.
"""

from __future__ import annotations

import ssl
from collections import deque
from typing import Any

from . import Data, EndOfMessage, InformationalResponse
from ._connection import BROKEN, CLOSED, SWITCHED, Connection
from ._errors import ConnectionLost, RemoteProtocolError, TransportError
from ._models import ExchangeInfo, Proxy, Timeout, TimeoutInput, as_timeout
from ._pool_state import Entry, PoolState

ENDED = frozenset([CLOSED, BROKEN, SWITCHED])
READ_SIZE = 64 * 1024
DRAIN_LIMIT = 64 * 1024  # bytes of an unread body read off at release to keep the connection
SMALL_BODY = 64 * 1024  # bodies up to this size are written with the head in one send
HIGH_WATER = 1024 * 1024  # bytes of an unread streamed body buffered before reading pauses
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
                 "replay_unsafe")

    def __init__(self, *, max_connections: int = 100, max_connections_per_host: int = 10,
                 pipeline_depth: int = 1, keepalive_expiry: float = 5.0,
                 timeout: TimeoutInput = 5.0, retries: int = 0, proxy: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, replay_unsafe: bool = False) -> None:
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


class Exchange:
    """One request in flight on a link and the events of its answer, in order."""

    __slots__ = ("rid", "events", "error", "ended", "may_replay", "info", "buffered",
                 "waiter", "collect", "write_error")

    def __init__(self, info: ExchangeInfo, may_replay: bool) -> None:
        self.rid = -1
        self.events: deque[Any] = deque()
        self.error: BaseException | None = None
        self.ended = False  # its EndOfMessage was received (it may still sit in `events`)
        self.may_replay = may_replay
        self.info = info
        self.buffered = 0  # bytes of Data in `events` (asyncio flow control)
        self.waiter: Any = None  # the asyncio future its reader awaits
        self.collect = False  # asyncio: wake the reader only at the end (request(), not stream())
        self.write_error: TransportError | None = None


class Link:
    """A pooled connection: protocol state, pool entry, exchanges in flight by request id."""

    __slots__ = ("conn", "entry", "number", "exchanges", "answered", "replay_unsafe", "closed")

    def __init__(self, conn: Connection, number: int, replay_unsafe: bool) -> None:
        self.conn = conn
        self.entry: Entry | None = None
        self.number = number
        self.exchanges: dict[int, Exchange] = {}
        self.answered = 0  # responses completed on this connection
        self.replay_unsafe = replay_unsafe
        self.closed = False  # the transport was closed

    def dispatch(self, tagged: list[tuple[int, Any]]) -> None:
        """Hand each event to its exchange; an exchange whose caller went away drops them."""
        exchanges = self.exchanges
        for rid, event in tagged:
            ex = exchanges.get(rid)
            if type(event) is Data:
                if ex is not None:
                    ex.events.append(event)
                    ex.buffered += len(event.data)
                continue
            if type(event) is EndOfMessage:
                self.answered += 1
                if ex is not None:
                    del exchanges[rid]
                    ex.ended = True
                    ex.events.append(event)
                continue
            if ex is not None:
                ex.events.append(event)

    def fail(self, error: BaseException | None) -> bool:
        """The connection ended: give every exchange left its outcome, and forget them.

        `error` goes to the exchange whose answer had begun (if any). Returns
        whether an exchange was cut off behind another one (mid-pipeline).
        """
        conn = self.conn
        if conn.state not in ENDED:
            conn.close()
        replayable, lost = conn.unanswered(replay_unsafe=self.replay_unsafe)
        replay_ids = set(replayable)
        cut_in_pipeline = False
        for rid, ex in self.exchanges.items():
            if ex.error is not None:
                continue
            if ex.info.pipelined:
                cut_in_pipeline = True
            if rid in replay_ids:
                if ex.may_replay:
                    ex.error = Replay()
                else:
                    ex.error = ex.write_error or ConnectionLost(LOST_UNANSWERED, maybe_processed=False)
            elif error is not None and ex.events:
                ex.error = error
            elif error is not None and rid == next(iter(self.exchanges)):
                ex.error = error
            else:
                started = bool(ex.events) or rid not in lost
                ex.error = ConnectionLost(LOST_MID_RESPONSE if started else LOST_MAYBE_PROCESSED,
                                          maybe_processed=True)
        self.exchanges.clear()
        return cut_in_pipeline


def protocol_error(exc: RemoteProtocolError) -> RemoteProtocolError:
    """A fresh error for the caller (the connection keeps its own for later calls)."""
    return RemoteProtocolError(exc.reason, exc.parse_error)


def is_informational(event: Any) -> bool:
    return type(event) is InformationalResponse
