"""Clients, origins and fixtures for the proxy tests (proxy/test_proxy.py, proxy/test_proxy_chains.py).

A pytest plugin (tests/conftest.py registers it): `proxies` starts hopwire proxies and
checks at the end that none had an internal error; `hop_origin` is a `HopOrigin`.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import hopwire
from hopwire.proxy import ProxyThread, start_proxy

TIMEOUT = 5.0
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
              "upgrade", "proxy-authenticate", "proxy-authorization"}


class HopOrigin:
    """An HTTP/1.1 origin that logs request heads and answers with every hop-by-hop field."""

    ANSWER = (b"HTTP/1.1 200 OK\r\n"
              b"Connection: X-Hop-Reply, keep-alive\r\n"
              b"X-Hop-Reply: secret\r\n"
              b"Keep-Alive: timeout=30, max=100\r\n"
              b"Proxy-Connection: keep-alive\r\n"
              b"Proxy-Authenticate: Basic realm=origin\r\n"
              b"Trailer: X-Checksum\r\n"
              b"Upgrade: h2c\r\n"
              b"X-End-To-End: kept\r\n"
              b"Content-Length: 2\r\n\r\nok")

    def __init__(self) -> None:
        self.heads: list[tuple[bytes, list[tuple[bytes, bytes]]]] = []
        self.connections = 0
        origin = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                origin.connections += 1
                parser = hopwire.RequestParser()
                self.request.settimeout(TIMEOUT)
                while True:
                    try:
                        data = self.request.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    for event in parser.feed(data):
                        if isinstance(event, hopwire.Request):
                            origin.heads.append((event.method + b" " + event.target, event.headers))
                        elif isinstance(event, hopwire.EndOfMessage):
                            self.request.sendall(origin.ANSWER)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Raw:
    """A raw client connection: bytes out, answers parsed with hopwire's ResponseParser."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.parser = hopwire.ResponseParser()
        self.ready: list[Any] = []

    def send(self, data: bytes, *methods: bytes) -> None:
        for method in methods or (b"GET",) * data.count(b" HTTP/1."):
            self.parser.expect(method)
        self.sock.sendall(data)

    def answers(self, n: int) -> list[tuple[Any, bytes]]:
        """The next n answers: (Response event, body)."""
        out: list[tuple[Any, bytes]] = []
        current: list[Any] = []
        deadline = time.monotonic() + TIMEOUT
        while len(out) < n:
            while self.ready and len(out) < n:
                event = self.ready.pop(0)
                if isinstance(event, hopwire.Response):
                    current = [event, b""]
                elif isinstance(event, hopwire.Data):
                    current[1] += event.data
                elif isinstance(event, hopwire.EndOfMessage):
                    out.append((current[0], current[1]))
            if len(out) == n:
                break
            assert time.monotonic() < deadline, "no answer in time"
            data = self.sock.recv(1 << 20)
            self.ready += self.parser.feed(data) if data else self.parser.feed_eof()
            if not data and not self.ready:
                raise ConnectionError(f"closed after {len(out)} answers")
        return out

    def closed(self, within: float = TIMEOUT) -> bool:
        """Does the proxy end the connection (within the time given)?"""
        self.sock.settimeout(within)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def fields(event: Any) -> dict[str, str]:
    return {name.decode().lower(): value.decode() for name, value in event.headers}


@pytest.fixture
def proxies() -> Iterator[Callable[..., ProxyThread]]:
    """Start proxies with options; at the end, stop them and check they had no internal error."""
    started: list[ProxyThread] = []

    def start(**options: Any) -> ProxyThread:
        proxy = start_proxy(**options)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()
    for proxy in started:
        assert proxy.stats.errors == []




@pytest.fixture
def hop_origin() -> Iterator[HopOrigin]:
    server = HopOrigin()
    yield server
    server.close()
