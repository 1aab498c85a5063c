"""A dumb HTTP/1.0 proxy: a 1990s middlebox that does not understand ``Connection``.

Why: a client that sends ``Connection: keep-alive`` through a proxy that does not know
the field can hang. The proxy forwards the field unchanged; the server reads it as
addressed to itself, keeps the connection open and says ``Connection: keep-alive``; the
proxy relays that too, so the client believes its connection persists. The proxy itself
frames the response the HTTP/1.0 way, by the server's close, which does not come. The
client's next request reaches the proxy and goes nowhere, until some timeout closes
the connection. This is the "dumb proxy problem" (RFC 9112 Appendix C.2.2; "HTTP: The
Definitive Guide" §4.5.6), and the reason why RFC 9112 §9.3 forbids a proxy to keep a
persistent connection with an HTTP/1.0 client. `DumbProxy` reproduces it on cue, so that
tests can show the hang and chain it with other proxies.

What it does, per client connection (one thread each):

1. Read ONE request: the head up to the blank line (at most `MAX_HEAD` bytes, within
   `REQUEST_TIMEOUT`), then Content-Length body bytes if the head has that field. A
   chunked body is not understood (HTTP/1.0 has no chunked coding): its bytes count
   as bytes after the request, below.
2. Pick the next hop: an absolute-form target (``GET http://host:port/path HTTP/1.x``)
   goes to that host and port (forward proxy); any other target to `upstream` (reverse
   proxy), or, without one, gets ``502 Bad Gateway``.
3. Open a NEW upstream connection and send the request: the request line with an
   absolute-form target rewritten to origin-form (``/path``) and the version unchanged
   (or `rewrite_version`), then every other byte of the head and the body unchanged.
   ``Connection``, ``Keep-Alive`` and ``Proxy-Connection`` pass through: that is the bug.
4. Relay every byte the upstream sends to the client, unchanged, until the upstream
   closes; then close the client connection (our FIN first, then a short read so that
   the client gets a clean end rather than an RST). No Content-Length framing.
5. Everything the client sends after its first request is read and logged in
   `ProxiedConnection.ignored`, and never forwarded.

Bounds: the relay ends `relay_timeout` seconds (default `RELAY_TIMEOUT`) after the
accept even if the upstream never closes; the client then sees the connection end.
Every blocking call has a timeout; `stop()` shuts down every socket, joins every
thread and closes every descriptor.

Log: `DumbProxy.log` lists one frozen `ProxiedConnection` per client connection, in
accept order (numbered from 1), a snapshot of what the proxy has done so far on it;
`end` is None while the connection is being served. Wait for a state with
``servers.wait_for(lambda: proxy.log[0].end is not None)``.

Usage, with the ``dumb_proxy`` factory fixture::

    def test_x(dumb_proxy, stdlib_http10_keepalive):
        proxy = dumb_proxy(upstream=stdlib_http10_keepalive.url)  # reverse mode
        ...  # connect to proxy.host, proxy.port (or proxy.url)
        assert proxy.log[0].ignored_request_lines() == ["GET /bytes/5 HTTP/1.0"]

    forward = dumb_proxy()  # forward mode: send absolute-form targets to forward.url
"""

from __future__ import annotations

import dataclasses
import re
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .threaded import POLL, ThreadedServer

MAX_HEAD = 65536  # bytes of request line + header fields
REQUEST_TIMEOUT = 10.0  # seconds to receive the whole first request once accepted
RELAY_TIMEOUT = 30.0  # seconds after the accept at which the relay gives up
CONNECT_TIMEOUT = 3.0  # seconds to connect upstream
SEND_TIMEOUT = 10.0  # seconds for one sendall()
LINGER = 0.5  # seconds to keep reading the client after our FIN, before close()

# How a connection ended, `ProxiedConnection.end`:
UPSTREAM_CLOSED = "upstream closed"  # the upstream closed (or reset): the normal end
TIMEOUT = "timeout"  # relay_timeout passed with the upstream still open
CLIENT_GONE = "client gone"  # writing to the client failed
STOPPED = "stopped"  # stop() ended it
NO_REQUEST = "no request"  # the client closed, or was too slow, before a whole request
BAD_REQUEST = "bad request"  # answered 400: no parseable request line or Content-Length
NO_UPSTREAM = "no upstream"  # answered 502: origin-form target and no `upstream`
UNREACHABLE = "upstream unreachable"  # answered 502: the upstream connect failed

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_REQUEST_LINE = re.compile(r"\S+ \S+ HTTP/\d\.\d")
_VERSION = re.compile(r"HTTP/\d\.\d")


@dataclass(frozen=True)
class ProxiedConnection:
    """What the proxy did with one client connection (a snapshot)."""

    conn: int  # connection number, from 1 in accept order
    request_line: str | None = None  # the first request line as received
    forwarded_line: str | None = None  # that line as sent upstream (None: nothing sent)
    upstream: tuple[str, int] | None = None  # where it went
    forwarded: bytes = b""  # every byte sent upstream: the rewritten line, head and body
    relayed: int = 0  # response bytes relayed to the client
    ignored: bytes = b""  # bytes the client sent after its first request: never forwarded
    upstream_closed: bool = False  # the upstream ended the connection (EOF or reset)
    client_closed: bool = False  # the client ended its sending side (EOF) at some point
    end: str | None = None  # None while served, then one of the constants above

    def ignored_request_lines(self) -> list[str]:
        """The lines of `ignored` that look like request lines (``GET /x HTTP/1.0``)."""
        text = self.ignored.decode("latin-1")
        return [line for line in re.split(r"\r?\n", text) if _REQUEST_LINE.fullmatch(line)]


class _Ended(Exception):
    """The connection is over; the reason is the message."""


def _address(where: tuple[str, int] | str) -> tuple[str, int]:
    """(host, port) from a pair or from a URL such as ``http://127.0.0.1:8080``."""
    if isinstance(where, str):
        parts = urlsplit(where)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL or (host, port), not {where!r}")
        return parts.hostname, parts.port or 80
    host, port = where
    return host, int(port)


class _Connection:
    """One accepted client socket, served by one thread: read, forward, relay, close."""

    def __init__(self, proxy: DumbProxy, client: socket.socket, number: int) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.number = number
        self.deadline = time.monotonic() + proxy.relay_timeout
        self.buf = bytearray()

    def _note(self, **changes: Any) -> None:
        self.proxy._update(self.number, **changes)

    def _ignore(self, data: bytes) -> None:
        if data:
            self.proxy._update(self.number, ignored=self.proxy._get(self.number).ignored + data)

    def run(self) -> None:
        end = STOPPED
        try:
            self._serve()
        except _Ended as exc:
            end = str(exc)
        except OSError:
            end = STOPPED if self.proxy._stopping.is_set() else CLIENT_GONE
        finally:
            if self.upstream is not None:
                self.proxy._forget(self.upstream)
                self.upstream.close()
            self._close_client()
            self._note(end=end)

    # -- the request ----------------------------------------------------------------

    def _read_head(self) -> bytes:
        limit = time.monotonic() + REQUEST_TIMEOUT
        while (match := _HEAD_END.search(self.buf)) is None:
            if len(self.buf) > MAX_HEAD:
                self._refuse(400, "Bad Request", BAD_REQUEST)
            self._fill(limit, NO_REQUEST)
        head = bytes(self.buf[:match.end()])
        del self.buf[:match.end()]
        return head

    def _fill(self, limit: float, on_end: str) -> None:
        """Receive more bytes into the buffer; _Ended(on_end) at EOF or at `limit`."""
        while True:
            if self.proxy._stopping.is_set():
                raise _Ended(STOPPED)
            wait = min(POLL, limit - time.monotonic())
            if wait <= 0:
                raise _Ended(on_end)
            self.client.settimeout(wait)
            try:
                data = self.client.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise _Ended(STOPPED if self.proxy._stopping.is_set() else on_end)
            self.buf += data
            return

    def _refuse(self, status: int, reason: str, end: str) -> NoReturn:
        body = f"dumb proxy: {end}\n".encode()
        self._send_client(f"HTTP/1.0 {status} {reason}\r\nContent-Type: text/plain\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        raise _Ended(end)

    def _serve(self) -> None:
        head = self._read_head()
        eol = head.index(b"\n") + 1
        line = head[:eol].rstrip(b"\r\n")
        rest = head[len(line):]  # the line's own CRLF, then every header field as received
        self._note(request_line=line.decode("latin-1"))
        parts = line.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            self._refuse(400, "Bad Request", BAD_REQUEST)
        method, target, version = parts
        lengths = [value.strip() for name, _, value in
                   (field.partition(b":") for field in re.split(rb"\r?\n", head[eol:]))
                   if name.strip().lower() == b"content-length"]
        if lengths and not lengths[0].isdigit():
            self._refuse(400, "Bad Request", BAD_REQUEST)
        length = int(lengths[0]) if lengths else 0
        limit = time.monotonic() + REQUEST_TIMEOUT
        while len(self.buf) < length:
            self._fill(limit, NO_REQUEST)
        body = bytes(self.buf[:length])
        self._ignore(bytes(self.buf[length:]))  # pipelined behind the first request
        self.buf.clear()

        where, target = self._next_hop(target)
        if self.proxy.rewrite_version is not None:
            version = self.proxy.rewrite_version.encode()
        request_line = b" ".join((method, target, version))
        self._note(upstream=where)
        try:
            self.upstream = socket.create_connection(where, timeout=CONNECT_TIMEOUT)
        except OSError:
            self._refuse(502, "Bad Gateway", UNREACHABLE)
        if not self.proxy._track(self.upstream):
            raise _Ended(STOPPED)
        forwarded = request_line + rest + body
        self.upstream.settimeout(SEND_TIMEOUT)
        try:
            self.upstream.sendall(forwarded)
        except OSError:
            raise _Ended(UPSTREAM_CLOSED) from None
        self._note(forwarded_line=request_line.decode("latin-1"), forwarded=forwarded)
        self._relay(self.upstream)

    def _next_hop(self, target: bytes) -> tuple[tuple[str, int], bytes]:
        """(host, port) to forward to, and the target to send there (origin-form)."""
        if target[:7].lower() == b"http://":
            authority, slash, path = target[7:].partition(b"/")
            try:
                return _address("http://" + authority.decode("latin-1")), slash + path or b"/"
            except ValueError:
                self._refuse(400, "Bad Request", BAD_REQUEST)
        if self.proxy.upstream is None:
            self._refuse(502, "Bad Gateway", NO_UPSTREAM)
        return self.proxy.upstream, target

    # -- the response ---------------------------------------------------------------

    def _relay(self, upstream: socket.socket) -> None:
        """Upstream bytes to the client until the upstream closes; client bytes to the log."""
        with selectors.DefaultSelector() as selector:
            selector.register(upstream, selectors.EVENT_READ)
            selector.register(self.client, selectors.EVENT_READ)
            while True:
                if self.proxy._stopping.is_set():
                    raise _Ended(STOPPED)
                wait = min(POLL, self.deadline - time.monotonic())
                if wait <= 0:
                    raise _Ended(TIMEOUT)
                for key, _ in selector.select(wait):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        data = sock.recv(65536)
                    except (TimeoutError, BlockingIOError):
                        continue
                    except OSError:
                        data = b""  # a reset is an end like any other
                    if self.proxy._stopping.is_set():
                        raise _Ended(STOPPED)  # our own shutdown() woke the select
                    if sock is self.client:
                        if data:
                            self._ignore(data)
                        else:
                            self._note(client_closed=True)  # relay on: it may be a half-close
                            selector.unregister(self.client)
                    elif data:
                        self._send_client(data)
                        self._note(relayed=self.proxy._get(self.number).relayed + len(data))
                    else:
                        self._note(upstream_closed=True)
                        raise _Ended(UPSTREAM_CLOSED)

    def _send_client(self, data: bytes) -> None:
        self.client.settimeout(SEND_TIMEOUT)
        try:
            self.client.sendall(data)
        except OSError:
            raise _Ended(STOPPED if self.proxy._stopping.is_set() else CLIENT_GONE) from None

    def _close_client(self) -> None:
        """FIN, then read (and log) what still arrives for up to LINGER, then close.

        A close() with unread bytes in the socket would send an RST, which can destroy
        response bytes the client has not read yet.
        """
        limit = time.monotonic() + LINGER
        try:
            self.client.shutdown(socket.SHUT_WR)
            while not self.proxy._stopping.is_set() and (wait := limit - time.monotonic()) > 0:
                self.client.settimeout(min(wait, POLL))
                try:
                    data = self.client.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                self._ignore(data)
        except OSError:
            pass
        finally:
            self.proxy._forget(self.client)
            self.client.close()


class DumbProxy(ThreadedServer):
    """A running dumb HTTP/1.0 proxy; see the module docstring.

    `upstream`: the next hop for origin-form targets, as (host, port) or an http:// URL;
    None makes a forward-only proxy. `rewrite_version`: send this version (such as
    ``"HTTP/1.0"``) in the forwarded request line instead of the client's.
    `relay_timeout`: seconds after the accept at which a connection is closed anyway.
    """

    kind = "dumb-proxy"

    def __init__(self, upstream: tuple[str, int] | str | None = None, *,
                 rewrite_version: str | None = None,
                 relay_timeout: float = RELAY_TIMEOUT) -> None:
        if rewrite_version is not None and not _VERSION.fullmatch(rewrite_version):
            raise ValueError(f"rewrite_version must look like HTTP/1.0, not {rewrite_version!r}")
        if relay_timeout <= 0:
            raise ValueError(f"relay_timeout must be positive, not {relay_timeout}")
        self.upstream = None if upstream is None else _address(upstream)
        self.rewrite_version = rewrite_version
        self.relay_timeout = relay_timeout
        self._log: list[ProxiedConnection] = []
        super().__init__()

    # -- what tests read ------------------------------------------------------------

    @property
    def log(self) -> list[ProxiedConnection]:
        """A snapshot of every client connection so far, in accept order."""
        with self._lock:
            return list(self._log)

    @property
    def connections_accepted(self) -> int:
        with self._lock:
            return self._accepted

    @property
    def connections_open(self) -> int:
        """Client connections not yet ended."""
        with self._lock:
            return sum(record.end is None for record in self._log)

    # -- bookkeeping for the connection threads --------------------------------------

    def _get(self, number: int) -> ProxiedConnection:
        with self._lock:
            return self._log[number - 1]

    def _update(self, number: int, **changes: Any) -> None:
        with self._lock:
            self._log[number - 1] = dataclasses.replace(self._log[number - 1], **changes)

    def _connection(self, sock: socket.socket, number: int) -> Callable[[], None]:
        self._log.append(ProxiedConnection(conn=number))
        return _Connection(self, sock, number).run

    def __repr__(self) -> str:
        mode = f"upstream={self.upstream}" if self.upstream else "forward-only"
        return f"<DumbProxy {self.url} {mode}>"


def start_dumb_proxy(upstream: tuple[str, int] | str | None = None, *,
                     rewrite_version: str | None = None,
                     relay_timeout: float = RELAY_TIMEOUT) -> DumbProxy:
    """Start a dumb proxy on 127.0.0.1 (a free port); see `DumbProxy`."""
    return DumbProxy(upstream, rewrite_version=rewrite_version, relay_timeout=relay_timeout)
