"""A forward proxy and a TLS origin for the pool's proxy and https tests.

`ForwardProxy`: Python's http.server speaking HTTP/1.1 as a proxy. An
absolute-form request is fetched from its origin with http.client and
answered with a Content-Length; CONNECT opens a tunnel and relays bytes both
ways. It records the request line and fields of every request it received,
so that tests see what reached the proxy (absolute-form targets,
Proxy-Authorization) and what did not (hop-by-hop fields). With
`credentials` set it answers 407 to a request without them.

`TLSOrigin`: an HTTP/1.1 http.server behind TLS with a certificate from a
trustme CA, answering `/` with "secure" and `/bytes/N` with `pattern(N)`.

Both run as every http.server of the suite does (`HTTPServerThread`, stdlib.py): a
stop closes every connection, tunnels included, and joins every thread.
"""

from __future__ import annotations

import base64
import http.client
import selectors
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from .stdlib import HTTPServerThread, TrackedHTTPServer, pattern

RELAY_IDLE = 5.0  # seconds a tunnel may sit idle before the proxy closes it
UPSTREAM_TIMEOUT = 5.0


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


class _ProxyHandler(_Quiet):
    server: _ProxyServer

    def _record(self) -> None:
        with self.server.lock:
            self.server.seen.append((self.command, self.path, [(k.lower(), v) for k, v in self.headers.items()]))

    def _authorized(self) -> bool:
        expected = self.server.credentials
        if expected is None:
            return True
        token = "Basic " + base64.b64encode(expected.encode()).decode()
        if self.headers.get("Proxy-Authorization") == token:
            return True
        body = b"proxy authentication required"
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return False

    def _forward(self) -> None:
        self._record()
        if not self._authorized():
            return
        url = urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            self.send_error(400, "absolute-form expected")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        # Hop-by-hop fields end here (RFC 9110 §7.6.1); the rest goes on.
        hop = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te",
               "trailer", "transfer-encoding", "upgrade", "host", "content-length"}
        fields = {k: v for k, v in self.headers.items() if k.lower() not in hop}
        upstream = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=UPSTREAM_TIMEOUT)
        try:
            upstream.request(self.command, (url.path or "/") + (f"?{url.query}" if url.query else ""),
                             body=body, headers=fields)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in hop:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Via", "1.1 test-proxy")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    def do_CONNECT(self) -> None:
        self._record()
        if not self._authorized():
            return
        if self.server.refuse_connect:
            self.send_error(403, "tunnels refused")
            return
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=UPSTREAM_TIMEOUT)
        except OSError:
            self.send_error(502, "cannot reach the origin")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self._relay(self.connection, upstream)
        self.close_connection = True

    @staticmethod
    def _relay(client: socket.socket, upstream: socket.socket) -> None:
        with selectors.DefaultSelector() as selector, upstream:
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            while True:
                ready = selector.select(RELAY_IDLE)
                if not ready:
                    return
                for key, _ in ready:
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = source.recv(65536)
                        if not data:
                            return
                        key.data.sendall(data)
                    except OSError:
                        return


class _ProxyServer(TrackedHTTPServer):
    def __init__(self, credentials: str | None, refuse_connect: bool) -> None:
        super().__init__(_ProxyHandler, name="forward-proxy")
        self.credentials = credentials
        self.refuse_connect = refuse_connect
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, list[tuple[str, str]]]] = []


class ForwardProxy(HTTPServerThread):
    server: _ProxyServer

    def __init__(self, credentials: str | None = None, refuse_connect: bool = False) -> None:
        super().__init__(_ProxyServer(credentials, refuse_connect), "http")

    @property
    def seen(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        with self.server.lock:
            return list(self.server.seen)


class _OriginHandler(_Quiet):
    def do_GET(self) -> None:
        if self.path.startswith("/bytes/"):
            body = pattern(int(self.path[7:]))
        else:
            body = b"secure"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TLSServer(TrackedHTTPServer):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(_OriginHandler, name="tls-origin")
        self.context = context

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.settimeout(10)
        # The handshake happens in the handler's thread, on first read.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


class TLSOrigin(HTTPServerThread):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(_TLSServer(context), "https")
