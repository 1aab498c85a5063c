"""A raw client connection: every byte as the test writes it, answers read back two ways.

- `answers(n)`: the next n answers through hopwire's own ResponseParser, as (Response
  event, body); a framing mistake of the peer shows up as a parse error or a wrong body,
  not as a hang;
- `response()`: the next answer as its raw head and a Content-Length body, for the tests
  that check how a field was spelled on the wire (a dumb relay passes it on byte for byte).

Use one of the two per connection. `next_bytes(timeout)` and `closed(within)` tell an
answer, a hang and the end of the connection apart; every read is bounded.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import hopwire

TIMEOUT = 5.0  # seconds an answer that must come may take on a loaded machine


class RawClient:
    """A connection to `url` (``http://HOST:PORT``)."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.parser = hopwire.ResponseParser()
        self.ready: list[Any] = []  # events parsed, not yet taken by answers()
        self.buf = b""  # bytes received, not yet taken by response() or next_bytes()

    def send(self, data: bytes, *methods: bytes) -> None:
        """Write `data`; `methods` (default: GET for each request line) tell the parser
        which answers to expect, for `answers()`."""
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

    def response(self) -> tuple[bytes, bytes]:
        """(head, body) of the next response, framed by its Content-Length, as a keep-alive
        client reads it; TimeoutError if it does not come in time."""
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                      if line.lower().startswith(b"content-length:"))
        while len(self.buf) < length:
            self._recv()
        body, self.buf = self.buf[:length], self.buf[length:]
        return head, body

    def next_bytes(self, timeout: float) -> bytes:
        """What arrives next within `timeout`: data, or b"" at the end of the connection."""
        if self.buf:
            data, self.buf = self.buf, b""
            return data
        self.sock.settimeout(timeout)
        return self.sock.recv(65536)

    def closed(self, within: float = TIMEOUT) -> bool:
        """Does the peer end the connection (within the time given)?"""
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

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError(f"connection closed after {self.buf!r}")
        self.buf += data

    def close(self) -> None:
        self.sock.close()
