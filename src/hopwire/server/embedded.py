"""hopwire's embedded HTTP/1.1 server: `hopwire serve`, a test fixture, a benchmark target.

An asyncio Protocol per connection (no streams: a Protocol is the fastest
thing asyncio offers) with one `RequestParser`. It reads every request,
body included (and discards the body: a server that answers before reading
would leave the next request's bytes unparsed), and answers in order:
pipelined requests get their responses in the order they came, and a slow
one (`/delay/MS`) holds back the ones behind it, as HTTP/1.1 requires.

Routes (any method; HEAD gets the head only):

    /              200 "Hello, world!" (13 bytes: what the pool benchmarks fetch)
    /bytes/N       200, N bytes (at most 100 MiB) of a repeating 64-character pattern
    /chunked/N     200, N chunks of 1 KiB (the same pattern), chunked framing;
                   to an HTTP/1.0 client the same body with Content-Length
    /status/N      status N (200-599), empty body
    /delay/MS      200 "Hello, world!" after MS milliseconds (at most 60 s), without
                   blocking other connections

Connections: kept alive as the parser's `keep_alive` says (HTTP/1.1 unless
`Connection: close`, HTTP/1.0 only with `Connection: keep-alive`), closed after
the answer otherwise. Malformed requests get the `ParseError`'s status (400,
413, 414, 431, 501, 505) with `Connection: close`; the parser's limits bound
the head, `max_body_size` the body (413); a connection that sends nothing and
waits for nothing for `idle_timeout` seconds is closed.

APIs: `start_server()` runs it on a thread with its own event loop and
returns a handle with `url` and `stop()` (tests); `serve()` starts it on the
running loop; `run()` blocks until Ctrl-C (`hopwire serve`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Union, cast

from .. import __version__
from .._errors import ParseError
from .._wire.parser import Data, EndOfMessage, Request, RequestParser
from .serving import LoopThread, TCPListener, run_until_stopped

HELLO = b"Hello, world!"
PATTERN = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"  # 64 bytes
MAX_BYTES = 100 * 1024 * 1024
CHUNK_SIZE = 1024
MAX_CHUNKS = MAX_BYTES // CHUNK_SIZE
MAX_DELAY_MS = 60_000
PIECE = 64 * 1024  # bytes per write of a large body (flow control works between pieces)

_BLOCK = PATTERN * (PIECE // len(PATTERN))
_CHUNK = b"%x\r\n" % CHUNK_SIZE + _BLOCK[:CHUNK_SIZE] + b"\r\n"
_CHUNKS_PER_PIECE = PIECE // CHUNK_SIZE
_CHUNK_PIECE = _CHUNK * _CHUNKS_PER_PIECE
_LAST_CHUNK = b"0\r\n\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
LINGER = 2.0  # seconds a closing connection still reads (and drops) what the client sends

Piece = Union[bytes, memoryview]


def pattern(n: int) -> bytes:
    """The body of /bytes/N (and of /chunked/N/1024): PATTERN repeated, cut at n bytes."""
    whole, part = divmod(n, len(PATTERN))
    return PATTERN * whole + PATTERN[:part]


@dataclass(frozen=True)
class ServerOptions:
    idle_timeout: float = 60.0  # seconds without a byte either way before a connection is closed
    max_body_size: int = 10 * 1024 * 1024  # request bodies past this get 413 and a close
    max_line_size: int = 8190  # the parser's limits (414 / 431 past them)
    max_header_size: int = 32 * 1024
    max_headers: int = 100


class Stats:
    """Counters the tests and `hopwire serve` read: connections accepted, requests answered."""

    __slots__ = ("connections", "requests")

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0


# -- responses ------------------------------------------------------------------------

_date_second = -1
_date_header = b""


def _date() -> bytes:
    """The Date field, formatted once per second."""
    global _date_second, _date_header
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_header = formatdate(now, usegmt=True).encode("ascii")
    return _date_header


_REASONS = {int(status): status.phrase.encode("ascii") for status in HTTPStatus}


def _reason(status: int) -> bytes:
    return _REASONS.get(status, b"Unknown")


_SERVER_FIELD = b"Server: hopwire/" + __version__.encode("ascii") + b"\r\n"


class _Reply:
    """One response, in the order of its request; `ready` is False while a delay runs."""

    __slots__ = ("data", "body", "close", "ready", "timer")

    def __init__(self, data: bytes, body: Iterator[Piece] | None = None, close: bool = False,
                 ready: bool = True) -> None:
        self.data = data  # the head, and the body when it is small
        self.body = body  # pieces of a large body, written as the transport accepts them
        self.close = close  # close the connection after this response
        self.ready = ready
        self.timer: asyncio.TimerHandle | None = None  # of a delayed answer


def _head(status: int, fields: list[bytes], close: bool, keep_alive_10: bool) -> bytes:
    connection = (b"Connection: close\r\n" if close
                  else b"Connection: keep-alive\r\n" if keep_alive_10 else b"")
    return b"".join([b"HTTP/1.1 %d " % status, _reason(status), b"\r\n", _SERVER_FIELD,
                     b"Date: ", _date(), b"\r\n", *fields, connection, b"\r\n"])


def _text(status: int, body: bytes, head_only: bool, close: bool, keep_alive_10: bool) -> _Reply:
    fields = [b"Content-Type: text/plain\r\n", b"Content-Length: %d\r\n" % len(body)]
    head = _head(status, fields, close, keep_alive_10)
    return _Reply(head if head_only else head + body, close=close)


def _pattern_pieces(n: int) -> Iterator[Piece]:
    view = memoryview(_BLOCK)
    while n > 0:
        size = min(n, PIECE)
        yield view[:size]
        n -= size


def _chunked_pieces(n: int) -> Iterator[Piece]:
    whole, part = divmod(n, _CHUNKS_PER_PIECE)
    for _ in range(whole):
        yield _CHUNK_PIECE
    yield _CHUNK * part + _LAST_CHUNK


def _number(text: bytes, low: int, high: int) -> int | None:
    if not text.isdigit() or len(text) > 12:
        return None
    value = int(text)
    return value if low <= value <= high else None


def _path(target: bytes) -> bytes:
    """The path of an origin-form or absolute-form target, without the query."""
    if not target.startswith(b"/"):
        scheme = target.find(b"://")
        if scheme < 0:
            return target
        slash = target.find(b"/", scheme + 3)
        target = target[slash:] if slash >= 0 else b"/"
    return target.split(b"?", 1)[0]


# -- one connection ---------------------------------------------------------------------

class _Connection(asyncio.Protocol):
    __slots__ = ("server", "loop", "options", "parser", "transport", "replies", "request",
                 "body_seen", "closing", "eof", "paused", "last_active", "idle_handle")

    def __init__(self, server: EmbeddedServer) -> None:
        self.server = server
        self.loop = server.loop
        options = self.options = server.options
        self.parser = RequestParser(max_line_size=options.max_line_size,
                                    max_header_size=options.max_header_size,
                                    max_headers=options.max_headers)
        self.transport: asyncio.Transport | None = None
        self.replies: deque[_Reply] = deque()
        self.request: Any = None  # the Request whose body is being read
        self.body_seen = 0
        self.closing = False  # no more requests are read: the last answer closes
        self.eof = False  # the client will send nothing more
        self.paused = False  # the transport's buffer is full: stop writing
        self.last_active = self.loop.time()
        self.idle_handle: asyncio.TimerHandle | None = None  # the idle check, then the linger

    # -- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Any conforming loop's transport: uvloop's are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)
        self.server.stats.connections += 1
        self.server.connections.add(self)
        self.idle_handle = self.loop.call_at(self.last_active + self.options.idle_timeout, self._idle)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return  # after a closing answer nothing more is read (it could be smuggled)
        self.last_active = self.loop.time()
        try:
            events = self.parser.feed(data)
        except ParseError as exc:
            self._handle(exc.events)  # the requests before the bad bytes are answered first
            if not self.closing:
                self._queue(self._error(exc.status_hint, exc.reason))
        else:
            self._handle(events)
        self._flush()

    def eof_received(self) -> bool:
        self.eof = True
        self.closing = True
        if not self.replies:
            return False  # nothing left to say: let asyncio close the transport
        return True  # keep the write side open for the answers still queued

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self.idle_handle is not None:
            self.idle_handle.cancel()
        for reply in self.replies:
            if reply.timer is not None:
                reply.timer.cancel()
        self.replies.clear()

    def pause_writing(self) -> None:
        # A client that pipelines without reading would make the answers pile up
        # here: stop reading its requests until it reads what it was sent.
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
        self._flush()

    # -- requests ------------------------------------------------------------------------

    def _handle(self, events: list[Any]) -> None:
        for event in events:
            if self.closing:
                return
            kind = type(event)
            if kind is Request:
                self.request = event
                self.body_seen = 0
                length = event.content_length
                if length is not None and length > self.options.max_body_size:
                    self._queue(self._error(413, f"request body of {length} bytes is over the limit"))
                elif (length or event.chunked) and not self.replies and self._expects_continue(event):
                    assert self.transport is not None
                    self.transport.write(_CONTINUE)  # only when no answer is due before it
            elif kind is Data:
                self.body_seen += len(event.data)
                if self.body_seen > self.options.max_body_size:
                    self._queue(self._error(413, "request body over the limit"))
            elif kind is EndOfMessage:
                request, self.request = self.request, None
                self._queue(self._answer(request))

    @staticmethod
    def _expects_continue(request: Any) -> bool:
        return any(name == b"expect" and value.lower() == b"100-continue"
                   for name, value in request.headers)

    def _answer(self, request: Any) -> _Reply:
        self.server.stats.requests += 1
        close = not request.keep_alive
        keep_alive_10 = not close and request.http_version == b"1.0"
        head_only = request.method == b"HEAD"
        path = _path(request.target)
        if path == b"/":
            return _text(200, HELLO, head_only, close, keep_alive_10)
        _, _, name = path.rpartition(b"/")
        route = path[:len(path) - len(name)]
        if route == b"/bytes/":
            n = _number(name, 0, MAX_BYTES)
            if n is None:
                return _text(400, b"/bytes/N takes 0 <= N <= %d\n" % MAX_BYTES, head_only, close, keep_alive_10)
            fields = [b"Content-Type: application/octet-stream\r\n", b"Content-Length: %d\r\n" % n]
            head = _head(200, fields, close, keep_alive_10)
            if head_only:
                return _Reply(head, close=close)
            if n <= PIECE:
                return _Reply(head + _BLOCK[:n], close=close)
            return _Reply(head, _pattern_pieces(n), close=close)
        if route == b"/chunked/":
            n = _number(name, 0, MAX_CHUNKS)
            if n is None:
                return _text(400, b"/chunked/N takes 0 <= N <= %d\n" % MAX_CHUNKS, head_only, close,
                             keep_alive_10)
            if request.http_version == b"1.0":  # no chunked coding for HTTP/1.0: a length instead
                fields = [b"Content-Type: application/octet-stream\r\n",
                          b"Content-Length: %d\r\n" % (n * CHUNK_SIZE)]
                body = None if head_only else _pattern_pieces(n * CHUNK_SIZE)
            else:
                fields = [b"Content-Type: application/octet-stream\r\n", b"Transfer-Encoding: chunked\r\n"]
                body = None if head_only else _chunked_pieces(n)
            return _Reply(_head(200, fields, close, keep_alive_10), body, close=close)
        if route == b"/status/":
            status = _number(name, 200, 599)
            if status is None:
                return _text(400, b"/status/N takes 200 <= N <= 599\n", head_only, close, keep_alive_10)
            fields = [] if status in (204, 304) else [b"Content-Length: 0\r\n"]
            return _Reply(_head(status, fields, close, keep_alive_10), close=close)
        if route == b"/delay/":
            ms = _number(name, 0, MAX_DELAY_MS)
            if ms is None:
                return _text(400, b"/delay/MS takes 0 <= MS <= %d\n" % MAX_DELAY_MS, head_only, close,
                             keep_alive_10)
            reply = _text(200, HELLO, head_only, close, keep_alive_10)
            reply.ready = False
            reply.timer = self.loop.call_later(ms / 1000, self._ready, reply)
            return reply
        return _text(404, b"Not Found\n", head_only, close, keep_alive_10)

    def _error(self, status: int, reason: str) -> _Reply:
        """An answer to a request that cannot be read on: the connection closes after it."""
        body = reason.encode("utf-8", "replace") + b"\n"
        return _text(status, body, False, True, False)

    def _ready(self, reply: _Reply) -> None:
        reply.ready = True
        reply.timer = None
        self._flush()

    # -- answers -------------------------------------------------------------------------

    def _queue(self, reply: _Reply) -> None:
        self.replies.append(reply)
        if reply.close:
            self.closing = True

    def _flush(self) -> None:
        """Write the ready answers at the head of the queue: small ones in one write."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        out: list[bytes] = []
        replies = self.replies
        while replies and not self.paused:
            reply = replies[0]
            if not reply.ready:
                break
            if reply.data:
                out.append(reply.data)
                reply.data = b""
            if reply.body is not None:
                if out:
                    transport.write(b"".join(out))
                    out = []
                for piece in reply.body:
                    transport.write(piece)
                    if self.paused:
                        self.last_active = self.loop.time()
                        return  # resume_writing() comes back here; the iterator keeps its place
                reply.body = None
            replies.popleft()
            if reply.close:
                if out:
                    transport.write(b"".join(out))
                self._close_after_answer(transport)
                return
        if out:
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            self.last_active = self.loop.time()
        if self.eof and not replies:
            transport.close()  # after the buffered bytes are sent

    def _close_after_answer(self, transport: asyncio.Transport) -> None:
        """End the connection after the last answer without losing it.

        Closing a socket with unread input makes the kernel send a reset,
        which can destroy the answer before the client reads it (a 413 to an
        upload in progress). So the write side is shut first (the client
        reads the answer, then the end), what still arrives is dropped
        (`closing`), and the connection is closed when the client closes
        its side, or LINGER seconds later.
        """
        self.replies.clear()
        if self.eof or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        if self.idle_handle is not None:
            self.idle_handle.cancel()
        self.idle_handle = self.loop.call_later(LINGER, transport.close)

    def _idle(self) -> None:
        """Close a connection that sent nothing for idle_timeout and waits for no answer."""
        now = self.loop.time()
        due = self.last_active + self.options.idle_timeout
        if now < due or (self.replies and not self.paused):
            self.idle_handle = self.loop.call_at(max(due, now + 1.0), self._idle)
            return
        if self.transport is None:
            return
        if self.paused:  # the client stopped reading: what is buffered will not be sent
            self.transport.abort()
        else:
            self.transport.close()


# -- the server -----------------------------------------------------------------------------

class EmbeddedServer(TCPListener):
    """The listening socket and its connections, on one event loop."""

    url_path = "/"

    def __init__(self, loop: asyncio.AbstractEventLoop, options: ServerOptions) -> None:
        super().__init__(loop)
        self.options = options
        self.stats = Stats()

    def connection(self) -> asyncio.Protocol:
        return _Connection(self)


async def serve(host: str = "127.0.0.1", port: int = 0, **options: Any) -> EmbeddedServer:
    """Start the server on the running loop; `await server.aclose()` stops it."""
    server = EmbeddedServer(asyncio.get_running_loop(), ServerOptions(**options))
    await server.start(host, port)
    return server


class ServerThread(LoopThread[EmbeddedServer]):
    """The server on a thread of its own, with its own event loop (see `start_server`)."""

    def __init__(self, host: str, port: int, options: ServerOptions) -> None:
        super().__init__(lambda loop: EmbeddedServer(loop, options), host, port,
                         "hopwire-embedded-server")

    @property
    def stats(self) -> Stats:
        return self.server.stats


def start_server(host: str = "127.0.0.1", port: int = 0, **options: Any) -> ServerThread:
    """Run the server on a background thread; returns once it listens (`.url`, `.stop()`).

    For tests and tools in the same process. Its event loop shares the GIL
    with the caller: to measure clients, run it in a process of its own
    (`hopwire serve`), as `hopwire bench` does.
    """
    return ServerThread(host, port, ServerOptions(**options))


def run(host: str = "127.0.0.1", port: int = 8080, *, announce: Callable[[str], None] = print,
        **options: Any) -> Stats:
    """Serve until Ctrl-C (SIGINT) or SIGTERM; `announce` gets the line saying where.
    Returns the counters."""
    stats = Stats()

    async def start() -> EmbeddedServer:
        nonlocal stats
        server = await serve(host, port, **options)
        stats = server.stats
        return server

    run_until_stopped(start, lambda server: announce(
        f"hopwire {__version__} serving on {server.url} (Ctrl-C stops)"))
    return stats
