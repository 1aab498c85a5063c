"""Origins and fixtures for the proxy tests (proxy/test_proxy.py, proxy/test_proxy_chains.py).

A pytest plugin (tests/conftest.py registers it): `proxies` starts hopwire proxies and
checks at the end that none had an internal error; `hop_origin` is a `HopOrigin`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import hopwire
from hopwire.proxy import ProxyThread, start_proxy

from .servers.threaded import ThreadedServer

TIMEOUT = 5.0
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
              "upgrade", "proxy-authenticate", "proxy-authorization"}


class HopOrigin(ThreadedServer):
    """An HTTP/1.1 origin that logs request heads and answers with every hop-by-hop field."""

    kind = "hop-origin"
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
        super().__init__()

    def _connection(self, sock: socket.socket, number: int) -> Callable[[], None]:
        return lambda: self._serve(sock)

    def _serve(self, sock: socket.socket) -> None:
        parser = hopwire.RequestParser()
        sock.settimeout(TIMEOUT)
        try:
            while data := sock.recv(65536):
                for event in parser.feed(data):
                    if isinstance(event, hopwire.Request):
                        self.heads.append((event.method + b" " + event.target, event.headers))
                    elif isinstance(event, hopwire.EndOfMessage):
                        sock.sendall(self.ANSWER)
        except OSError:
            pass  # a client that resets or vanishes is routine here
        finally:
            self._forget(sock)
            sock.close()


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
    with HopOrigin() as server:
        yield server
