"""A minimal HTTP/2 client on the `h2` library: the oracle that checks the HTTP/2 test
servers (servers/test_h2_servers.py), and that pool tests may use to ask a server what it
does without going through hopwire.

`h2_get(url, requests, ssl_context=None)` opens one connection (prior knowledge on
``http://``, TLS with ALPN ``h2`` on ``https://``), sends the requests on it, at most as
many at once as the server's SETTINGS_MAX_CONCURRENT_STREAMS allows (and `window`), and
returns an `H2Exchange`: each request's response, every frame received as it came off the
wire, the header blocks decoded by an HPACK decoder of its own, the GOAWAY, the server's
SETTINGS. It never raises for what the server does; it records it. Everything is bounded
by `timeout`.

Two things it does below h2, on purpose:

- Frames are split out of the byte stream here (hyperframe), before h2 sees them, so that
  a test can count CONTINUATION frames and read header blocks h2 would refuse
  (RFC 9113 §8.2.2 connection-specific fields, §8.3.2 a missing ``:status``).
- GOAWAY frames are recorded here and withheld from h2: RFC 9113 §6.8 lets a server keep
  answering streams up to the last stream id after its GOAWAY (nginx does), but h2's
  state machine refuses every frame after a GOAWAY. No stream is opened after one.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
import hyperframe.frame as hf

TIMEOUT = 5.0  # seconds for a whole exchange
READ_SIZE = 65536

Request = str | tuple[str, str] | tuple[str, str, bytes]  # path | (method, path[, body])


@dataclass
class H2Response:
    """What came back on one stream."""

    stream_id: int
    method: str
    path: str
    status: int | None = None  # None: no response head (reset, refused, cut off)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    ended: bool = False  # END_STREAM received: the response is complete
    reset: int | None = None  # the error code of the server's RST_STREAM, if any

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)


@dataclass
class H2Exchange:
    """Everything one connection saw; see the module docstring."""

    alpn: str | None = None
    responses: list[H2Response | None] = field(default_factory=list)  # None: never sent
    frames: list[hf.Frame] = field(default_factory=list)  # every frame received, in order
    header_blocks: list[tuple[int, list[tuple[bytes, bytes]]]] = field(default_factory=list)
    goaway: tuple[int, int] | None = None  # (error code, last stream id) of the first GOAWAY
    settings: list[dict[int, int]] = field(default_factory=list)  # each non-ACK SETTINGS
    pings_received: int = 0  # the server's PINGs (not ACKs); h2 answers them
    closed: bool = False  # the server closed the connection (EOF or reset)
    timed_out: bool = False  # `timeout` passed with requests still unanswered
    error: str | None = None  # h2 refused what it received (ProtocolError and kin)

    @property
    def answered(self) -> list[H2Response]:
        return [r for r in self.responses if r is not None and r.ended and r.reset is None]

    def frames_of(self, kind: type[hf.Frame]) -> list[hf.Frame]:
        return [f for f in self.frames if isinstance(f, kind)]


def client_context(cafile: str | None = None, alpn: Sequence[str] = ("h2",)) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(list(alpn))
    return context


class _FrameSplitter:
    """Frames out of a byte stream (RFC 9113 §4.1), with their bytes, as they come."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[hf.Frame, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                break
            raw = bytes(self.buf[:9 + length])
            del self.buf[:9 + length]
            frame, _ = hf.Frame.parse_frame_header(memoryview(raw[:9]))
            frame.parse_body(memoryview(raw[9:]))
            out.append((frame, raw))
        return out


def _normalise(request: Request) -> tuple[str, str, bytes | None]:
    if isinstance(request, str):
        return "GET", request, None
    if len(request) == 2:
        return request[0], request[1], None
    return request[0], request[1], request[2]


def h2_get(url: str, requests: Sequence[Request], ssl_context: ssl.SSLContext | None = None, *,
           window: int | None = None, timeout: float = TIMEOUT, validate: bool = True,
           extra_headers: Sequence[tuple[bytes, bytes]] = (), hold_open: float = 0.0,
           eager: bool = False) -> H2Exchange:
    """Send `requests` (paths, or (method, path[, body]) tuples) on one HTTP/2 connection.

    At most `window` streams (and never more than the server's MAX_CONCURRENT_STREAMS,
    once its first SETTINGS arrived: streams wait for it) are open at once. `ssl_context`
    is used for ``https://`` URLs; its ALPN protocols are set to ``["h2"]``. `validate`
    is h2's validate_inbound_headers (off: malformed heads are still parsed into
    responses). After the last answer the connection stays open `hold_open` seconds more
    (to see a GOAWAY or a close that follows). `eager`: open streams at once, before the
    server's SETTINGS arrive (RFC 9113 §3.4 allows it), `window` the only limit until they
    do. Never raises for what the server sends.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + timeout
    result = H2Exchange(responses=[None] * len(requests))
    sock: socket.socket = socket.create_connection((host, port), timeout=timeout)
    try:
        if parts.scheme == "https":
            context = ssl_context or client_context()
            context.set_alpn_protocols(["h2"])
            sock = context.wrap_socket(sock, server_hostname=host)
            result.alpn = sock.selected_alpn_protocol()
        client = _Client(sock, host, port, parts.scheme, requests, window, validate,
                         extra_headers, result)
        client.saw_settings = eager
        client.run(deadline, hold_open)
    finally:
        sock.close()
    return result


class _Client:
    def __init__(self, sock: socket.socket, host: str, port: int, scheme: str,
                 requests: Sequence[Request], window: int | None, validate: bool,
                 extra_headers: Sequence[tuple[bytes, bytes]], result: H2Exchange) -> None:
        self.sock = sock
        self.authority = f"{host}:{port}".encode()
        self.scheme = scheme.encode()
        self.queue = [(i, *_normalise(r)) for i, r in enumerate(requests)]
        self.window = window
        self.extra = list(extra_headers)
        self.result = result
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_inbound_headers=validate,
            normalize_inbound_headers=validate))
        self.splitter = _FrameSplitter()
        self.decoder = hpack.Decoder()
        self.block: tuple[int, bytearray] | None = None  # a header block awaiting CONTINUATION
        self.open: dict[int, H2Response] = {}
        self.uploads: dict[int, bytes] = {}  # request bodies not yet sent, by stream
        self.saw_settings = False
        self.dead = False  # closed, or h2 refused what it got

    def run(self, deadline: float, hold_open: float) -> None:
        self.conn.initiate_connection()
        self.flush()
        done_at: float | None = None
        while not self.dead:
            self.open_streams()
            self.pump_uploads()
            self.flush()
            now = time.monotonic()
            if not self.queue_usable() and not self.open:
                done_at = done_at or now + hold_open
                if now >= done_at:
                    return
            if now >= deadline:
                self.result.timed_out = bool(self.open or self.queue_usable())
                return
            wait = min(deadline, done_at or deadline) - now
            self.sock.settimeout(max(0.001, min(wait, 0.5)))
            try:
                data = self.sock.recv(READ_SIZE)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                self.result.closed = True
                return
            self.receive(data)

    def queue_usable(self) -> bool:
        return bool(self.queue) and self.result.goaway is None

    def limit(self) -> int:
        server = self.conn.remote_settings.max_concurrent_streams
        return min(server, self.window) if self.window is not None else server

    def open_streams(self) -> None:
        if not self.saw_settings:
            return  # RFC 9113 §3.4: the server's preface SETTINGS carries its limits
        while self.queue_usable() and len(self.open) < self.limit():
            index, method, path, body = self.queue.pop(0)
            sid = self.conn.get_next_available_stream_id()
            headers = [(b":method", method.encode()), (b":scheme", self.scheme),
                       (b":authority", self.authority), (b":path", path.encode()), *self.extra]
            if body is not None:
                headers.append((b"content-length", str(len(body)).encode()))
            self.conn.send_headers(sid, headers, end_stream=body is None)
            response = H2Response(sid, method, path)
            self.result.responses[index] = self.open[sid] = response
            if body is not None:
                self.uploads[sid] = body

    def pump_uploads(self) -> None:
        for sid in list(self.uploads):
            body = self.uploads[sid]
            if sid not in self.open:
                del self.uploads[sid]
                continue
            try:
                room = min(self.conn.local_flow_control_window(sid),
                           self.conn.max_outbound_frame_size)
            except h2.exceptions.StreamClosedError:
                del self.uploads[sid]
                continue
            while body and room > 0:
                piece, body = body[:room], body[room:]
                self.conn.send_data(sid, piece)
                room = min(self.conn.local_flow_control_window(sid),
                           self.conn.max_outbound_frame_size)
            self.uploads[sid] = body
            if not body:
                self.conn.end_stream(sid)
                del self.uploads[sid]

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.dead:
            try:
                self.sock.sendall(data)
            except OSError:
                self.dead = self.result.closed = True

    def receive(self, data: bytes) -> None:
        for frame, raw in self.splitter.feed(data):
            self.result.frames.append(frame)
            self.record_block(frame)
            if isinstance(frame, hf.GoAwayFrame):
                if self.result.goaway is None:
                    self.result.goaway = (frame.error_code, frame.last_stream_id)
                self.drop_beyond_goaway()
                continue  # withheld from h2: see the module docstring
            if isinstance(frame, hf.SettingsFrame) and "ACK" not in frame.flags:
                self.result.settings.append(dict(frame.settings))
            if isinstance(frame, hf.PingFrame) and "ACK" not in frame.flags:
                self.result.pings_received += 1
            try:
                events = self.conn.receive_data(raw)
            except h2.exceptions.H2Error as exc:
                self.result.error = f"{type(exc).__name__}: {exc}"
                self.flush()  # h2's GOAWAY
                self.dead = True
                return
            for event in events:
                self.handle(event)

    def record_block(self, frame: hf.Frame) -> None:
        """Reassemble HEADERS + CONTINUATION (RFC 9113 §4.3) and decode them ourselves."""
        if isinstance(frame, hf.HeadersFrame):
            self.block = (frame.stream_id, bytearray(frame.data))
        elif isinstance(frame, hf.ContinuationFrame) and self.block is not None:
            self.block[1].extend(frame.data)
        else:
            return
        if "END_HEADERS" in frame.flags and self.block is not None:
            sid, block = self.block
            self.block = None
            try:
                fields = [(bytes(k), bytes(v)) for k, v in self.decoder.decode(bytes(block), raw=True)]
            except hpack.HPACKError as exc:
                fields = [(b"<hpack error>", str(exc).encode())]
            self.result.header_blocks.append((sid, fields))

    def handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self.saw_settings = True
        elif isinstance(event, h2.events.ResponseReceived) and event.stream_id in self.open:
            response = self.open[event.stream_id]
            response.headers = [(bytes(k), bytes(v)) for k, v in event.headers or []]
            status = response.header(b":status")
            response.status = int(status) if status and status.isdigit() else None
        elif isinstance(event, h2.events.DataReceived) and event.stream_id in self.open:
            self.open[event.stream_id].body += event.data or b""
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id in self.open:
            self.open.pop(event.stream_id).ended = True
        elif isinstance(event, h2.events.StreamReset) and event.stream_id in self.open:
            self.open.pop(event.stream_id).reset = int(event.error_code or 0)
        self.drop_beyond_goaway()

    def drop_beyond_goaway(self) -> None:
        """RFC 9113 §6.8: streams above the GOAWAY's last id were not processed and will
        get no answer; stop waiting for them."""
        if self.result.goaway is not None:
            last = self.result.goaway[1]
            for sid in [s for s in self.open if s > last]:
                del self.open[sid]
