"""The embedded server (`hopwire.server.embedded`) as a pytest fixture, and a raw-socket client.

A pytest plugin (tests/conftest.py registers it) for the `embedded` fixture; test modules
import the client helpers: `from support.embedded import exchange, get`.
The raw client reads answers with hopwire's own ResponseParser, so a framing
mistake of the server (a wrong Content-Length, a chunk too many) shows up as
a parse error or a wrong body, not as a hang: every read has a timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

import hopwire
from hopwire.server.embedded import ServerThread, start_server

READ_TIMEOUT = 10.0  # seconds: generous for a loaded 2-core machine; only a hang reaches it


@pytest.fixture(scope="module")
def embedded() -> Iterator[ServerThread]:
    """One embedded server for the module, on a free port of 127.0.0.1."""
    with start_server() as server:
        yield server


def address(server: ServerThread) -> tuple[str, int]:
    return server.server.host, server.server.port


@dataclass
class Answer:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    informational: list[int] = field(default_factory=list)  # 1xx statuses before it

    def header(self, name: bytes) -> bytes | None:
        return next((v for n, v in self.headers if n == name), None)


def read_answers(sock: socket.socket, methods: Sequence[bytes]) -> list[Answer]:
    """Read one answer per method, in order (fewer if the server closes first)."""
    parser = hopwire.ResponseParser()
    for method in methods:
        parser.expect(method)
    answers: list[Answer] = []
    informational: list[int] = []
    current: Answer | None = None
    sock.settimeout(READ_TIMEOUT)
    while len(answers) < len(methods):
        data = sock.recv(65536)
        events = parser.feed(data) if data else parser.feed_eof()
        for event in events:
            if isinstance(event, hopwire.InformationalResponse):
                informational.append(event.status_code)
            elif isinstance(event, hopwire.Response):
                current = Answer(event.status_code, event.reason, list(event.headers),
                                 informational=informational)
                informational = []
            elif isinstance(event, hopwire.Data):
                assert current is not None
                current.body += bytes(event.data)
            elif isinstance(event, hopwire.EndOfMessage):
                assert current is not None
                answers.append(current)
                current = None
        if not data:
            break
    return answers


def wait_closed(sock: socket.socket) -> bool:
    """True when the server ends the connection (end of stream or reset) with nothing more sent.

    Only used where a close is expected: it comes at once, and the timeout is
    there for a server that wrongly keeps the connection (then False).
    """
    sock.settimeout(READ_TIMEOUT)
    try:
        data = sock.recv(1)
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
    assert data == b"", f"unexpected bytes after the answers: {data!r}"
    return True


def exchange(server: ServerThread, data: bytes, methods: Sequence[bytes],
             then_closed: bool = False) -> list[Answer]:
    """Send `data` in one write on a new connection and read len(methods) answers;
    with `then_closed`, also check that the server closes the connection after them."""
    with socket.create_connection(address(server), timeout=READ_TIMEOUT) as sock:
        sock.sendall(data)
        answers = read_answers(sock, methods)
        if then_closed:
            assert wait_closed(sock), "the server kept the connection open"
        return answers


def get(target: bytes, *extra: bytes, method: bytes = b"GET", version: bytes = b"1.1") -> bytes:
    """A request head: `GET target HTTP/1.1` with Host and the extra field lines."""
    return b"".join([method, b" ", target, b" HTTP/", version, b"\r\nHost: 127.0.0.1\r\n",
                     *(line + b"\r\n" for line in extra), b"\r\n"])
