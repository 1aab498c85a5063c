"""Test servers built on `http.server`, and the byte pattern every test server serves.

Why: Python's own server is a real peer with real quirks (REAL-SERVERS.md): in its
default HTTP/1.0 mode it closes after every response, so the second of two pipelined
requests is silently dropped. The pool must cope with that, so the tests need it as is.

Three modes:

- ``HTTP/1.0`` (the stdlib default): one response per connection, then close.
- ``HTTP/1.0`` with ``keep_alive_10=True``: like an HTTP/1.0 keep-alive server, it keeps
  the connection open after answering a request that carried ``Connection: keep-alive``,
  and says so with ``Connection: keep-alive`` (every response has a Content-Length).
- ``HTTP/1.1``: persistent by default, closes on ``Connection: close``.

Routes (GET and HEAD unless noted; any other path is 404):

- ``/``: ``Hello, world!`` (13 bytes, text/plain);
- ``/bytes/N``: ``pattern(N)``, application/octet-stream;
- ``/post`` (POST or PUT): reads the body (Content-Length or chunked) and
  answers ``"<length> <sha256 hex>"``;
- ``/status/N``: status N (200..599) with a short text body, none for 204 and 304.

The server tracks its connection sockets and handler threads itself: ThreadingHTTPServer
would otherwise leave a keep-alive handler blocked in readline() after shutdown(), holding
a thread and an fd until the client goes away. That machinery (`TrackedHTTPServer` run by
`HTTPServerThread`) serves every other http.server of the suite too: the forward proxy
and the TLS origin (proxy_double.py), the redirecting server of the httpx tests, the
server of the lock tests.
"""

from __future__ import annotations

import hashlib
import os
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar

from .threaded import shutdown_all

HELLO = b"Hello, world!"

# A prime period, so that the pattern never lines up with power-of-two buffer sizes:
# a byte dropped, duplicated or reordered at a buffer edge changes what follows it.
_PERIOD = bytes(range(251))

STOP_TIMEOUT = 5.0  # seconds stop() waits for each thread
HANDLER_TIMEOUT = 30.0  # seconds a connection may sit idle before the handler gives up

T = TypeVar("T", bound="HTTPServerThread")


def pattern(n: int) -> bytes:
    """The n bytes every test server serves for a body of n bytes: byte i is ``i % 251``.

    Equal to ``bytes(i % 251 for i in range(n))``, built by repetition to stay fast for
    10 MiB.
    """
    if n < 0:
        raise ValueError(f"negative length {n}")
    return (_PERIOD * (n // len(_PERIOD) + 1))[:n]


def open_fds() -> int | None:
    """How many file descriptors this process has open, or None where /proc is missing.

    For leak checks: compare before starting a server and after stopping it.
    """
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def free_ports(n: int) -> list[int]:
    """n distinct ports of 127.0.0.1 free right now (held open together, so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def tcp_inodes(port: int | None = None) -> set[str]:
    """"socket:[inode]" of the TCP sockets in this network namespace (on `port`, if given),
    as /proc/self/fd names them: a descriptor is a connection to `port` if its link is one."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            ports = {int(cols[1].rsplit(":", 1)[1], 16), int(cols[2].rsplit(":", 1)[1], 16)}
            if port is None or port in ports:
                found.add(f"socket:[{cols[9]}]")
    return found


def digest_text(body: bytes) -> bytes:
    """What `/post` answers for `body`: ``b"<length> <sha256 hex>"``."""
    return f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode()


class _Handler(BaseHTTPRequestHandler):
    server: _StdlibHTTPServer
    timeout = HANDLER_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request logs would bury test output."""

    def do_GET(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_POST(self) -> None:
        if self.path != "/post":
            self._read_body()  # keep the connection usable: the body must leave the socket
            self._answer(405, b"method not allowed\n")
            return
        self._answer(200, digest_text(self._read_body()))

    do_PUT = do_POST

    def _route(self, head: bool) -> None:
        path = self.path
        if path == "/":
            self._answer(200, HELLO, head=head)
        elif path.startswith("/bytes/") and path[7:].isdigit():
            self._answer(200, pattern(int(path[7:])), "application/octet-stream", head=head)
        elif path.startswith("/status/") and path[8:].isdigit() and 200 <= int(path[8:]) <= 599:
            code = int(path[8:])
            self._answer(code, b"" if code in (204, 304) else f"status {code}\n".encode(), head=head)
        else:
            self._answer(404, b"not found\n", head=head)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length else b""

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # trailers are read and dropped
        return b"".join(parts)

    def _answer(self, code: int, body: bytes, ctype: str = "text/plain", head: bool = False) -> None:
        keep_alive_10 = self._keeps_alive_10()
        self.send_response(code)
        if code not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        if keep_alive_10:
            self.send_header("Connection", "keep-alive")
        self.end_headers()
        if not head:
            self.wfile.write(body)
        if keep_alive_10:
            self.close_connection = False

    def _keeps_alive_10(self) -> bool:
        """Whether this HTTP/1.0 keep-alive server keeps this connection (it was asked to)."""
        return (self.server.keep_alive_10 and self.protocol_version == "HTTP/1.0"
                and self.headers.get("Connection", "").lower() == "keep-alive")


class TrackedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer on a free port of 127.0.0.1 that keeps track of its connections
    and handler threads (see the module docstring); `name` names the threads."""

    daemon_threads = True
    block_on_close = False  # stop() joins the handler threads itself, with a timeout

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str = "stdlib-http") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._handlers: list[threading.Thread] = []
        super().__init__(("127.0.0.1", 0), handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that resets or vanishes is routine in these tests; anything else is a bug
        # in the handler and gets socketserver's traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self.process_request_thread,
                                  args=(request, client_address), daemon=True,
                                  name=f"{self.name}-{self.server_address[1]}-{client_address[1]}")
        with self._lock:
            self._open.add(request)
            self._handlers = [t for t in self._handlers if t.is_alive()]
            self._handlers.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        # Out of the set before it is closed, so that close_connections() never touches a
        # closed (and possibly reused) file descriptor.
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> list[threading.Thread]:
        """Wake every handler blocked on its socket; return the threads to join."""
        with self._lock:
            shutdown_all(self._open)
            return list(self._handlers)


class HTTPServerThread:
    """A TrackedHTTPServer serving on a thread of its own: every http.server of the suite
    runs this way. `.url` is ``http://127.0.0.1:PORT`` (``https`` with `scheme`)."""

    def __init__(self, server: TrackedHTTPServer, scheme: str = "http") -> None:
        self.server = server
        self.port: int = server.server_address[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"{server.name}-{self.port}-serve")
        self._thread.start()
        self._stopped = False

    def stop(self) -> None:
        """Stop accepting, close every connection, and join every thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.server.shutdown()
        self.server.server_close()
        threads = [self._thread, *self.server.close_connections()]
        for thread in threads:
            thread.join(STOP_TIMEOUT)
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            raise RuntimeError(f"{self.server.name} server threads did not stop: {stuck}")

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _StdlibHTTPServer(TrackedHTTPServer):
    def __init__(self, handler: type[BaseHTTPRequestHandler], keep_alive_10: bool) -> None:
        self.keep_alive_10 = keep_alive_10
        super().__init__(handler)


class StdlibServer(HTTPServerThread):
    """A running `http.server` with the routes above, in a thread."""

    def __init__(self, protocol: str = "HTTP/1.0", keep_alive_10: bool = False) -> None:
        if protocol not in ("HTTP/1.0", "HTTP/1.1"):
            raise ValueError(f"protocol must be HTTP/1.0 or HTTP/1.1, not {protocol!r}")
        handler = type("Handler", (_Handler,), {"protocol_version": protocol})
        self.protocol = protocol
        self.keep_alive_10 = keep_alive_10
        super().__init__(_StdlibHTTPServer(handler, keep_alive_10))

    def __repr__(self) -> str:
        extra = " keep-alive" if self.keep_alive_10 else ""
        return f"<StdlibServer {self.protocol}{extra} {self.url}>"


def start_stdlib_server(protocol: str = "HTTP/1.0", keep_alive_10: bool = False) -> StdlibServer:
    """Start an `http.server` on 127.0.0.1 (a free port) speaking `protocol`.

    `keep_alive_10` makes an HTTP/1.0 server honour ``Connection: keep-alive``.
    """
    return StdlibServer(protocol, keep_alive_10)
