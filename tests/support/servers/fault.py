"""The fault server: an HTTP/1.1 server on raw sockets that misbehaves on request.

Why: the pool must survive what real servers do to connections (close after k
requests, reset, stall, answer garbage, drop pipelined requests, close idle
connections) and must never put a non-idempotent request on the wire twice. Real
servers do these things at random; this one does them on cue, and writes down every
request it received so that tests can check what reached the wire.

How: one thread accepts (a selector over the listening socket and a wake-up socket
pair), one thread per connection reads requests with its own minimal parser (request
line, headers up to CRLFCRLF, Content-Length or chunked body; requests pipelined in
one packet are taken one after the other from the buffer) and answers them in order.
No HTTP library is involved. Every blocking call has a timeout; `stop()` wakes and
closes everything and joins every thread.

Numbering: connections are numbered from 1 in accept order; requests from 1 on each
connection. `FaultServer.log` lists every complete request received, in order, as
`RequestRecord` (conn, index, method, target, version, headers, body, answered).
`answered` is False for a request the server wrote nothing for: one it stalled on, or
one that arrived behind the request after which the server closed or reset.

Default behaviour: HTTP/1.1, persistent connections, each request answered in order
with ``200 OK``, ``Content-Type: text/plain``, a Content-Length and the body
``"{method} {target} #{conn}.{index}"`` (HEAD: the same headers, no body). An HTTP/1.0
request is answered and the connection closed (with ``Connection: close``) unless it
sent ``Connection: keep-alive``, which is then echoed; ``Connection: close`` from the
client is echoed and honoured. ``Expect: 100-continue`` on a request with a body gets
``HTTP/1.1 100 Continue`` before the body is read.

Closing: "close" below means a lingering close, like nginx's: the server shuts down its
sending side (the client sees EOF after everything sent), then reads and logs (as not
answered) whatever the client still sends, until the client closes or `LINGER` seconds
pass, then closes. A plain close() with unread bytes would send an RST instead.

Behaviours, keyword arguments of `start_fault_server()` and `FaultServer.set()`
(`set` replaces the whole behaviour; open connections follow it from their next request):

- ``close_after=k``: after the k-th response on a connection, close it (no
  ``Connection: close``), even if more pipelined requests were received. A connection
  that has already sent k responses (k=0, or a limit lowered by `set()`) reads the next
  request, logs it as not answered, and closes without a word.
- ``reset_after=k``: the same, but with an RST: SO_LINGER 0, then close(). Requests
  already in the buffer are logged as not answered. Not combinable with close_after.
- ``connection_close=True``: every response carries ``Connection: close``; close after it.
- ``keep_alive_header="timeout=T, max=M"``: every response carries ``Keep-Alive:`` and
  that value verbatim, and the server enforces it: it closes (no notice) after the M-th
  response on a connection, and closes a connection idle for T seconds.
- ``http10=True``: answers ``HTTP/1.0 ...`` and closes after each response (no
  ``Connection`` header), unless the request sent ``Connection: keep-alive``: then the
  response carries ``Connection: keep-alive`` and the connection stays open. No 100
  Continue. Chunked routes are sent close-delimited (no Content-Length, then close).
- ``stall=S``: read the request, send nothing for S seconds, then close.
- ``stall_body=S``: send the head with ``Content-Length: 100`` and 10 bytes of body,
  send nothing for S seconds, then close.
- ``garbage=True``: answer ``NOT HTTP AT ALL\\r\\n\\r\\n`` (`GARBAGE`), then close.
- ``truncate=True``: send ``Content-Length: 100`` and only 10 bytes of body, then close.
- ``idle_close=S``: close (no notice) a connection idle for S seconds, that is S seconds
  after its last response (or its accept) with no byte of a next request received.
- ``head_body=S``: after its answer to HEAD, write the body anyway, S seconds later (0: in
  the same write), as waitress and cheroot do: the stray bytes race the client's next
  request on the connection.
- ``ignore_expect=True``: never send ``100 Continue`` (the client must send the body
  anyway, as after its own timeout).

stall, stall_body, garbage and truncate replace every answer (in that order of
precedence); the others combine with each other and with every route.

Routes (the path, without query), in every behaviour:

- ``/bytes/N``: N bytes of `pattern` (application/octet-stream, Content-Length);
- ``/chunked/N``: `pattern` (N * 1024) in N chunks of 1 KiB, ``Transfer-Encoding: chunked``;
- ``/slow-chunks/N``: the same, the chunks sent 50 ms apart;
- ``/status/N`` (200..599): status N with the default body (none for 204 and 304);
- ``/delay/MS``: the default answer, after MS milliseconds;
- ``/close``: the default answer, then close without ``Connection: close``;
- ``/stall/MS``, ``/stall-body/MS``, ``/garbage``, ``/truncate``: the fault of that name
  for this request only (MS in milliseconds);
- anything else: the default answer.
"""

from __future__ import annotations

import dataclasses
import http
import re
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .stdlib import pattern
from .threaded import POLL, ThreadedServer

GARBAGE = b"NOT HTTP AT ALL\r\n\r\n"
CHUNK = 1024
SLOW_CHUNK_GAP = 0.05  # seconds between the chunks of /slow-chunks/N
TRUNCATED_LENGTH, TRUNCATED_SENT = 100, 10  # what /truncate and stall_body announce and send

LINGER = 1.0  # seconds a closing connection keeps reading what the client still sends
REQUEST_TIMEOUT = 10.0  # seconds to receive a whole request once its first byte arrived
SEND_TIMEOUT = 30.0  # seconds for one sendall()
MAX_HEAD = 65536  # bytes of request line + headers

_ROUTE = re.compile(r"/(bytes|chunked|slow-chunks|status|delay|stall|stall-body)/(\d+)")


@dataclass(frozen=True)
class Behaviour:
    """How the fault server misbehaves; see the module docstring for each field."""

    close_after: int | None = None
    reset_after: int | None = None
    connection_close: bool = False
    keep_alive_header: str | None = None
    http10: bool = False
    stall: float | None = None
    stall_body: float | None = None
    garbage: bool = False
    truncate: bool = False
    idle_close: float | None = None
    head_body: float | None = None
    ignore_expect: bool = False

    def __post_init__(self) -> None:
        if self.close_after is not None and self.reset_after is not None:
            raise ValueError("close_after and reset_after exclude each other")
        for name in ("close_after", "reset_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, not {value}")
        for name in ("stall", "stall_body", "idle_close", "head_body"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, not {value}")
        if self.keep_alive_header is not None:
            self.keep_alive_limits()  # fail now on a header without timeout= or max=

    def keep_alive_limits(self) -> tuple[float | None, int | None]:
        """(timeout seconds, max responses) of `keep_alive_header`, each None if absent."""
        text = self.keep_alive_header or ""
        timeout = re.search(r"\btimeout\s*=\s*(\d+(?:\.\d+)?)", text)
        maximum = re.search(r"\bmax\s*=\s*(\d+)", text)
        if text and not (timeout or maximum):
            raise ValueError(f"keep_alive_header {text!r} has neither timeout= nor max=")
        return (float(timeout.group(1)) if timeout else None,
                int(maximum.group(1)) if maximum else None)


@dataclass(frozen=True)
class RequestRecord:
    """One complete request as the server received it."""

    conn: int  # connection number, from 1 in accept order
    index: int  # request number on that connection, from 1
    method: str
    target: str
    version: str  # "HTTP/1.1"
    headers: tuple[tuple[str, str], ...]
    body: bytes
    answered: bool  # False: the server wrote nothing for it (stalled, or dropped behind a close)

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


class _Eof(Exception):
    """The peer closed, the socket failed, or the server is stopping."""


class _Timeout(Exception):
    """A deadline passed."""


class _Idle(Exception):
    """No byte of a next request arrived before the idle deadline."""


class _BadRequest(Exception):
    """The bytes received are not an HTTP/1.x request this parser accepts."""


@dataclass
class _Parsed:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of every `name` header, lowercased."""
        lname = name.lower()
        return {t.strip().lower() for k, v in self.headers if k.lower() == lname
                for t in v.split(",") if t.strip()}


class _Connection:
    """One accepted socket, served by one thread: read, record, answer, repeat."""

    def __init__(self, server: FaultServer, sock: socket.socket, number: int) -> None:
        self.server = server
        self.sock = sock
        self.number = number
        self.buf = bytearray()
        self.received = 0  # requests parsed
        self.responses = 0  # responses begun
        self.idle_since = time.monotonic()
        self.reset = False

    # -- reading -----------------------------------------------------------------

    def _fill(self, deadline: float | None) -> None:
        """Receive more bytes; _Timeout at the deadline, _Eof at EOF, error or stop."""
        while True:
            if self.server._stopping.is_set():
                raise _Eof
            wait = POLL if deadline is None else min(POLL, deadline - time.monotonic())
            if wait <= 0:
                raise _Timeout
            self.sock.settimeout(wait)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise _Eof from exc
            if not data:
                raise _Eof
            self.buf += data
            return

    def _take_until(self, sep: bytes, limit: int, deadline: float | None) -> bytes:
        start = 0
        while (end := self.buf.find(sep, start)) < 0:
            if len(self.buf) > limit:
                raise _BadRequest(f"no {sep!r} within {limit} bytes")
            start = max(0, len(self.buf) - len(sep) + 1)
            self._fill(deadline)
        data = bytes(self.buf[:end])
        del self.buf[:end + len(sep)]
        return data

    def _take(self, n: int, deadline: float | None) -> bytes:
        while len(self.buf) < n:
            self._fill(deadline)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _await_request(self, idle_deadline: Callable[[], float | None]) -> bool:
        """Wait for the first byte of a request; False if the client closed first.

        Raises _Idle once `idle_deadline()` (asked again every POLL, so that `set()`
        reaches idle connections too) has passed.
        """
        while not self.buf:
            now, limit = time.monotonic(), idle_deadline()
            if limit is not None and now >= limit:
                raise _Idle
            try:
                self._fill(now + POLL if limit is None else min(limit, now + POLL))
            except _Timeout:
                continue
            except _Eof:
                return False
        return True

    def _read_request(self, deadline: float | None, send_continue: bool) -> _Parsed:
        """The request that starts in the buffer: within REQUEST_TIMEOUT (and `deadline`)."""
        limit = time.monotonic() + REQUEST_TIMEOUT
        deadline = limit if deadline is None else min(limit, deadline)
        while self.buf[:2] == b"\r\n":  # RFC 9112 §2.2: ignore a CRLF before a request line
            del self.buf[:2]
        head = self._take_until(b"\r\n\r\n", MAX_HEAD, deadline).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(f"bad request line {request_line!r}")
        headers = []
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise _BadRequest(f"bad header line {line!r}")
            headers.append((name, value.strip(" \t")))
        req = _Parsed(parts[0], parts[1], parts[2], headers, b"")
        req.body = self._read_body(req, deadline, send_continue)
        return req

    def _read_body(self, req: _Parsed, deadline: float, send_continue: bool) -> bytes:
        chunked = "chunked" in req.tokens("transfer-encoding")
        lengths = {v for k, v in req.headers if k.lower() == "content-length"}
        if not chunked and len(lengths) > 1:
            raise _BadRequest(f"conflicting Content-Length {lengths}")
        length = lengths.pop() if lengths and not chunked else "0"
        if not length.isdigit():
            raise _BadRequest(f"bad Content-Length {length!r}")
        if send_continue and "100-continue" in req.tokens("expect") and (chunked or int(length)):
            self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not chunked:
            return self._take(int(length), deadline)
        parts = []
        while True:
            size_line = self._take_until(b"\r\n", 1024, deadline).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _BadRequest(f"bad chunk size {size_line!r}") from None
            if size == 0:
                break
            parts.append(self._take(size, deadline))
            if self._take(2, deadline) != b"\r\n":
                raise _BadRequest("chunk data not followed by CRLF")
        while self._take_until(b"\r\n", MAX_HEAD, deadline):
            pass  # trailer fields are read and dropped
        return b"".join(parts)

    # -- writing -----------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        self.sock.settimeout(SEND_TIMEOUT)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise _Eof from exc

    def _pause(self, seconds: float) -> None:
        """Wait, but wake at once if the server stops."""
        if self.server._stopping.wait(seconds):
            raise _Eof

    def _head(self, b: Behaviour, status: int, fields: list[tuple[str, str]]) -> bytes:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        if b.keep_alive_header is not None:
            fields = [*fields, ("Keep-Alive", b.keep_alive_header)]
        lines = [f"HTTP/{'1.0' if b.http10 else '1.1'} {status} {reason}"]
        lines += [f"{name}: {value}" for name, value in fields]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    # -- serving -----------------------------------------------------------------

    def run(self) -> None:
        try:
            self._serve()
        except (_Eof, _Timeout):
            pass
        finally:
            self.server._closed(self)

    def _idle_deadline(self, b: Behaviour) -> float | None:
        limits = [s for s in (b.idle_close, b.keep_alive_limits()[0]) if s is not None]
        return self.idle_since + min(limits) if limits else None

    def _serve(self) -> None:
        outcome = "keep"
        while outcome == "keep":
            try:
                if not self._await_request(lambda: self._idle_deadline(self.server.behaviour)):
                    return  # the client closed between requests
            except _Idle:
                outcome = "close"
                break
            b = self.server.behaviour  # read now: set() applies from the next request on
            try:
                req = self._read_request(None, send_continue=not (b.ignore_expect or b.http10))
            except _BadRequest as exc:
                body = f"bad request: {exc}\n".encode()
                self._send(self._head(b, 400, [("Content-Type", "text/plain"),
                                               ("Content-Length", str(len(body))),
                                               ("Connection", "close")]) + body)
                outcome = "close"
                break
            self.received += 1
            outcome = self._respond(req, b)
            self.idle_since = time.monotonic()
        if outcome == "reset":
            self._reset()
        else:
            self._linger()

    def _record(self, req: _Parsed, answered: bool) -> None:
        self.server._record(RequestRecord(self.number, self.received, req.method, req.target,
                                          req.version, tuple(req.headers), req.body, answered))

    def _respond(self, req: _Parsed, b: Behaviour) -> str:
        """Answer `req`; return what becomes of the connection: "keep", "close" or "reset"."""
        path = req.target.split("?", 1)[0]
        match = _ROUTE.fullmatch(path)
        route, arg = (match.group(1), int(match.group(2))) if match else (path, 0)
        spent = self._spent(b)
        stall = b.stall if b.stall is not None else arg / 1000 if route == "stall" else None
        self._record(req, answered=spent is None and stall is None)
        if spent is not None:
            return spent
        if stall is not None:
            self._pause(stall)
            return "close"
        self.responses += 1
        if b.stall_body is not None or route == "stall-body":
            self._send_truncated(b, req)
            self._pause(b.stall_body if b.stall_body is not None else arg / 1000)
            return "close"
        if b.garbage or route == "/garbage":
            self._send(GARBAGE)
            return "close"
        if b.truncate or route == "/truncate":
            self._send_truncated(b, req)
            return "close"
        if route == "delay":
            self._pause(arg / 1000)
        keep = self._send_answer(req, b, route, arg)
        return self._after_response(b, keep and route != "/close")

    def _spent(self, b: Behaviour) -> str | None:
        """"close" or "reset" if this connection may send no more responses, else None.

        Asked after each response, and before answering too: with close_after=0, or
        after set() lowered the limit below what a connection already answered.
        """
        if b.reset_after is not None and self.responses >= b.reset_after:
            return "reset"
        if b.close_after is not None and self.responses >= b.close_after:
            return "close"
        maximum = b.keep_alive_limits()[1]
        if maximum is not None and self.responses >= maximum:
            return "close"
        return None

    def _after_response(self, b: Behaviour, keep: bool) -> str:
        return self._spent(b) or ("keep" if keep else "close")

    def _persistence(self, req: _Parsed, b: Behaviour) -> tuple[bool, str | None]:
        """(keep the connection?, Connection header value to send or None)."""
        tokens = req.tokens("connection")
        if b.connection_close:
            return False, "close"
        if b.http10 or req.version == "HTTP/1.0":
            if "keep-alive" in tokens and "close" not in tokens:
                return True, "keep-alive"
            return False, None if b.http10 else "close"
        return ("close" not in tokens), ("close" if "close" in tokens else None)

    def _send_answer(self, req: _Parsed, b: Behaviour, route: str, arg: int) -> bool:
        """Write the response of a route; return whether the connection may stay open."""
        keep, connection = self._persistence(req, b)
        status = arg if route == "status" and 200 <= arg <= 599 else 200
        body = f"{req.method} {req.target} #{self.number}.{self.received}".encode()
        fields = [("Content-Type", "text/plain")]
        chunks: list[bytes] | None = None
        if route in ("bytes", "chunked", "slow-chunks"):
            fields = [("Content-Type", "application/octet-stream")]
            body = pattern(arg * (CHUNK if route != "bytes" else 1))
            if route != "bytes":
                chunks = [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)]
        if status in (204, 304):
            body = b""
        elif chunks is not None and b.http10:
            keep, connection = False, None  # close-delimited: HTTP/1.0 has no chunked coding
        elif chunks is not None:
            fields.append(("Transfer-Encoding", "chunked"))
        else:
            fields.append(("Content-Length", str(len(body))))
        if connection is not None:
            fields.append(("Connection", connection))
        head = self._head(b, status, fields)
        if req.method == "HEAD" and b.head_body is not None and body and chunks is None:
            self._send(head)
            self._pause(b.head_body)
            self._send(body)  # the stray bytes: framed as no answer, they are the next one's
        elif req.method == "HEAD" or status in (204, 304):
            self._send(head)
        elif chunks is None or b.http10:
            self._send(head + body)
        elif route == "slow-chunks":
            self._send(head)
            for chunk in chunks:
                self._send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self._pause(SLOW_CHUNK_GAP)
            self._send(b"0\r\n\r\n")
        else:
            self._send(head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n")
        return keep

    def _send_truncated(self, b: Behaviour, req: _Parsed) -> None:
        head = self._head(b, 200, [("Content-Type", "application/octet-stream"),
                                   ("Content-Length", str(TRUNCATED_LENGTH))])
        self._send(head if req.method == "HEAD" else head + pattern(TRUNCATED_SENT))

    def _drain_buffered(self, deadline: float) -> None:
        """Log, as not answered, every request that arrives before `deadline`."""
        while True:
            try:
                if not self._await_request(lambda: deadline):
                    return
                req = self._read_request(deadline, send_continue=False)
            except (_Idle, _Timeout, _BadRequest):
                return
            self.received += 1
            self._record(req, answered=False)

    def _pull_arrived(self) -> None:
        """Move every byte the kernel already holds into the buffer, without waiting."""
        self.sock.settimeout(0.0)
        try:
            while data := self.sock.recv(65536):
                self.buf += data
        except OSError:
            pass  # nothing more has arrived (EAGAIN), or the peer is gone

    def _linger(self) -> None:
        """Close our side, keep reading (and logging) for a while, so the client gets FIN.

        Requests that arrived before the close are logged before the FIN goes out, so a
        test that saw EOF finds them in the log.
        """
        self._pull_arrived()
        self._drain_buffered(time.monotonic())
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        self._drain_buffered(time.monotonic() + LINGER)

    def _reset(self) -> None:
        """Abort the connection: the peer gets an RST (close() happens in run())."""
        self._pull_arrived()
        self._drain_buffered(time.monotonic())
        self.reset = True


class FaultServer(ThreadedServer):
    """A running fault server; see the module docstring for its behaviours and routes."""

    kind = "fault-server"

    def __init__(self, behaviour: Behaviour) -> None:
        self._behaviour = behaviour
        self._log: list[RequestRecord] = []
        super().__init__()

    # -- what tests read -----------------------------------------------------------

    @property
    def behaviour(self) -> Behaviour:
        return self._behaviour

    def set(self, **behaviour: Any) -> None:
        """Replace the behaviour (unnamed fields go back to default) from the next request on."""
        self._behaviour = Behaviour(**behaviour)

    @property
    def log(self) -> list[RequestRecord]:
        """A copy of every request received so far, in the order received."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def requests(self, method: str | None = None, target: str | None = None,
                 answered: bool | None = None) -> list[RequestRecord]:
        """The logged requests matching every criterion given."""
        return [r for r in self.log if (method is None or r.method == method)
                and (target is None or r.target == target)
                and (answered is None or r.answered == answered)]

    def requests_per_connection(self) -> dict[int, int]:
        """{connection number: requests received on it}, for connections with requests."""
        counts: dict[int, int] = {}
        for record in self.log:
            counts[record.conn] = counts.get(record.conn, 0) + 1
        return counts

    @property
    def connections_accepted(self) -> int:
        with self._lock:
            return self._accepted

    # -- threads -------------------------------------------------------------------

    def _connection(self, sock: socket.socket, number: int) -> Callable[[], None]:
        return _Connection(self, sock, number).run

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    def _closed(self, conn: _Connection) -> None:
        # Out of the open set before close(), so that stop() never shuts down a closed
        # (and maybe reused) descriptor.
        self._forget(conn.sock)
        if conn.reset:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.sock.close()

    def __repr__(self) -> str:
        changed = {f.name: getattr(self._behaviour, f.name) for f in dataclasses.fields(Behaviour)
                   if getattr(self._behaviour, f.name) != f.default}
        return f"<FaultServer {self.url} {changed}>"


def start_fault_server(**behaviour: Any) -> FaultServer:
    """Start a fault server on 127.0.0.1 (a free port) with the given behaviour."""
    return FaultServer(Behaviour(**behaviour))


def wait_for(condition: Callable[[], object], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll `condition` until it is true or `timeout` passes; return its last truth.

    The server side of a close happens in another thread (and after a lingering read),
    so counters such as `connections_open` settle a moment after the client sees EOF.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return bool(condition())
        time.sleep(interval)
    return True
