"""The exceptions hopwire raises, in families under one root.

    HopwireError
    ├── ParseError (ValueError)               the bytes are not HTTP/1.x
    ├── LocalProtocolError (ValueError)       the caller asked for invalid HTTP
    ├── PoolClosed (RuntimeError)             a request on a closed pool
    └── TransportError                        a request did not get its answer
        ├── TransportTimeout (TimeoutError)
        │   ├── ConnectTimeout (also ConnectError)
        │   ├── ReadTimeout
        │   ├── WriteTimeout
        │   └── PoolTimeout
        ├── NetworkError (OSError)
        │   ├── ConnectError
        │   ├── ReadError
        │   └── WriteError
        ├── RemoteProtocolError               the server broke HTTP
        │   ├── ConnectionLost                closed before the answer ended
        │   └── StreamReset                   HTTP/2: the server reset the stream
        └── ProxyError                        the proxy refused or broke the tunnel

The families follow what callers catch: "any timeout", "the network failed",
"the server misbehaved". Timeouts also derive from the builtin TimeoutError,
and network errors from OSError, so that code written for sockets still
catches them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class HopwireError(Exception):
    """Root of every exception hopwire raises on purpose."""


class ParseError(HopwireError, ValueError):
    """The bytes are not a valid HTTP/1.x message.

    `offset` is the position in the stream (counted from the parser's first
    byte) of the byte that broke the rule, `reason` says which rule, and
    `status_hint` is the status a server would answer (400, 413, 414, 431,
    501, 505). `events` holds what the failing `feed()` completed before the
    error, so that a server can still answer the requests before it.
    """

    def __init__(self, reason: str, offset: int, status_hint: int = 400, events: Any = ()) -> None:
        super().__init__(f"{reason} (at byte {offset})")
        self.reason = reason
        self.offset = offset
        self.status_hint = status_hint
        self.events = list(events)


class LocalProtocolError(HopwireError, ValueError):
    """The caller asked to send something that is not valid HTTP/1.1.

    Raised before any byte is produced. `reason` names the rule that was
    broken (the reason constants of `hopwire._wire.writer` and
    `hopwire._pool.connection`); `detail` names what broke it.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class PoolClosed(HopwireError, RuntimeError):
    """A request was made on a pool that is closed (or closing)."""


class TransportError(HopwireError):
    """A request did not get its answer. `request` names it ("GET http://...") when known."""

    request: str | None = None


class TransportTimeout(TransportError, TimeoutError):
    """A timeout of the request's `Timeout` ran out."""


class NetworkError(TransportError, OSError):
    """The network failed under the request (refused, reset, unreachable)."""


class ConnectError(NetworkError):
    """The connection (TCP, TLS or a proxy tunnel) could not be opened."""


class ConnectTimeout(TransportTimeout, ConnectError):
    """Opening the connection took longer than `Timeout.connect`."""


class ReadTimeout(TransportTimeout):
    """No byte of the answer arrived within `Timeout.read`; the connection is closed."""


class WriteTimeout(TransportTimeout):
    """The request could not be written within `Timeout.write`; the connection is closed."""


class PoolTimeout(TransportTimeout):
    """No connection became available within `Timeout.pool`."""


class ReadError(NetworkError):
    """Reading the answer failed (reset)."""


class WriteError(NetworkError):
    """Writing the request failed (reset, broken pipe)."""


class RemoteProtocolError(TransportError):
    """The server broke HTTP/1.1 on this connection; the connection is not reused.

    `parse_error` is the parser's `ParseError` (also the `__cause__`), or None
    when the bytes parsed but made no sense here (an answer with no request in
    flight, a 101 nobody asked for). `events` holds the events completed
    before the error, tagged with their request on a connection: the answers
    that did arrive whole are still good.
    """

    def __init__(self, reason: str, parse_error: ParseError | None = None,
                 events: Iterable[Any] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.parse_error = parse_error
        self.events = list(events)
        if parse_error is not None:
            self.__cause__ = parse_error


class ConnectionLost(RemoteProtocolError):
    """The server closed the connection before the answer ended.

    `maybe_processed` is True when the server may have acted on the request
    (a response had begun, or its method is not idempotent): hopwire does not
    send such a request again by itself (RFC 9110 §9.2.2, RFC 9112 §9.3.1).
    """

    def __init__(self, reason: str, *, maybe_processed: bool) -> None:
        super().__init__(reason)
        self.maybe_processed = maybe_processed


class StreamReset(RemoteProtocolError):
    """HTTP/2: the server reset the request's stream (RST_STREAM) after it may have
    acted on it; `error_code` is the RFC 9113 §7 code. Streams the server did not
    process (REFUSED_STREAM, above a GOAWAY's last stream) are sent again instead."""

    def __init__(self, reason: str, error_code: int) -> None:
        super().__init__(reason)
        self.error_code = error_code


class ProxyError(TransportError):
    """The proxy refused the request or the tunnel (`status` is its answer, if any)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
