"""One adapter per parser under comparison, all with the same shape.

For every contender, `Contender.parser_for(workload)` returns a plain function

    parse(workload_bytes) -> list of normalized messages

(see `workloads` for the message shape: method-or-status, target-or-reason,
headers as [(lower-cased name bytes, value bytes)], body bytes). Each call
builds a fresh parser (one per connection: the pipelined workload is one
connection), feeds it the whole buffer in one piece, and collects everything a
user of that parser needs: method/status, target/reason, every header, and the
de-framed body as bytes. That whole call is what gets timed.

What each adapter has to do beyond calling the parser, and why:

* hopwire (C and Python twins): nothing. The events already carry bytes and
  lower-cased names. Response parsers are told the request method with
  `expect(b"GET")`, as a client would.
* httptools: a protocol object with the callbacks a server registers
  (uvicorn-style): `on_url` (accumulated), `on_header` appending
  `(name.lower(), value)` -- lower-casing because hopwire and h11 hand out
  lower-cased names and the adapters must agree -- `on_headers_complete`
  reading the method (or status code), `on_body`, `on_message_complete`.
* aiohttp (C and Python parsers): `HttpRequestParser(protocol, loop, limit)`
  as aiohttp's own server builds it (limit 2**16), with a stateless stub for
  the protocol and an event loop that is never run (the body `StreamReader`
  only stores it). `feed_data` returns (message, payload) pairs; the body is
  taken with `payload.read_nowait()`. aiohttp hands out str for
  method/target/reason, so the adapter encodes them, and takes the headers
  from `raw_headers` (bytes, original case), lower-casing the names. That
  conversion is small next to aiohttp's own per-message work (it also builds
  a CIMultiDict and a yarl URL).
* h11: requests go to a SERVER-role `Connection`. h11 refuses to read the
  next pipelined request until the previous one has been answered
  (`next_event()` returns PAUSED); instead of serialising a response for each
  (which would time h11's *writer* too), the adapter starts a fresh
  `Connection` on `conn.trailing_data` -- the unread rest of the buffer --
  the cheaper of the two honest options. Responses go to a CLIENT-role
  `Connection` that first `send()`s the GET it answers (h11 needs it to frame
  the response); that is part of using h11 as a client, so it is timed.

Peers are imported with importlib: they are optional, and the package's type
check must not depend on their stubs. A peer that is not installed becomes a
contender with `skip_reason` set ("not installed"), never an error.

The correctness gate is `check(contender, workload)`: None when the
contender's output equals `workload.expected`, else the first difference.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .workloads import Message, Workload

ParseFn = Callable[[bytes], list[Message]]

H11_PIPELINE_NOTE = (
    "h11 reads no pipelined request before the previous one is answered, so its adapter "
    "starts a fresh h11.Connection on conn.trailing_data after each request."
)


@dataclass
class Contender:
    key: str  # stable id (test ids, JSON)
    label: str  # display name
    version: str = ""
    request: ParseFn | None = None
    response: ParseFn | None = None
    skip_reason: str = ""  # set when the contender cannot run at all
    notes: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return not self.skip_reason

    def parser_for(self, workload: Workload) -> ParseFn:
        fn = self.request if workload.kind == "request" else self.response
        if fn is None:
            raise LookupError(f"{self.label} has no {workload.kind} parser")
        return fn


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version  # only when a peer is found

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def _import(name: str) -> Any:
    """The module, or None when it (or something it needs) is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _not_installed(dist: str) -> str:
    return f"not installed (pip install {dist})"


# -- hopwire ------------------------------------------------------------------

def _hopwire(key: str, label: str, modname: str) -> Contender:
    if modname.endswith(".parser_c") and os.environ.get("HOPWIRE_NO_EXTENSIONS", "") not in ("", "0"):
        return Contender(key, label, skip_reason="HOPWIRE_NO_EXTENSIONS is set: the C twin is not used")
    mod = _import(modname)
    if mod is None:
        return Contender(key, label, skip_reason=(
            "C extension not built (pure-Python install, or in a checkout: "
            "python setup.py build_ext --inplace)"))
    request_parser, response_parser = mod.RequestParser, mod.ResponseParser
    request_event, response_event = mod.Request, mod.Response
    data_event, end_event = mod.Data, mod.EndOfMessage

    def parse_request(data: bytes) -> list[Message]:
        out: list[Message] = []
        body: list[bytes] = []
        head: Any = None
        for ev in request_parser().feed(data):
            t = type(ev)
            if t is request_event:
                head = ev
            elif t is data_event:
                body.append(ev.data)
            elif t is end_event:
                out.append((head.method, head.target, head.headers, b"".join(body) if body else b""))
                body = []
        return out

    def parse_response(data: bytes) -> list[Message]:
        out: list[Message] = []
        body: list[bytes] = []
        head: Any = None
        p = response_parser()
        p.expect(b"GET")
        for ev in p.feed(data):
            t = type(ev)
            if t is response_event:
                head = ev
            elif t is data_event:
                body.append(ev.data)
            elif t is end_event:
                out.append((head.status_code, head.reason, head.headers,
                            b"".join(body) if body else b""))
                body = []
        return out

    from .. import __version__
    return Contender(key, label, __version__, parse_request, parse_response)


# -- httptools ----------------------------------------------------------------

class _HttptoolsProto:
    """Collects each message as servers do: headers into a list, body pieces joined at the end.

    Subclasses name the start-line parts: `first` (method or status) and
    `second` (target or reason).
    """

    __slots__ = ("parser", "out", "first", "second", "headers", "body")

    def __init__(self) -> None:
        self.parser: Any = None
        self.out: list[Message] = []
        self.first: bytes | int = b""
        self.second = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []

    def on_message_begin(self) -> None:
        self.second = b""
        self.headers = []
        self.body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = self.body
        self.out.append((self.first, self.second, self.headers, b"".join(body) if body else b""))


class _HttptoolsRequestProto(_HttptoolsProto):
    __slots__ = ()

    def on_url(self, url: bytes) -> None:
        self.second += url

    def on_headers_complete(self) -> None:
        self.first = self.parser.get_method()


class _HttptoolsResponseProto(_HttptoolsProto):
    __slots__ = ()

    def on_status(self, reason: bytes) -> None:
        self.second += reason

    def on_headers_complete(self) -> None:
        self.first = self.parser.get_status_code()


def _httptools() -> Contender:
    httptools = _import("httptools")
    if httptools is None:
        return Contender("httptools", "httptools", skip_reason=_not_installed("httptools"))
    request_parser, response_parser = httptools.HttpRequestParser, httptools.HttpResponseParser

    def parse_request(data: bytes) -> list[Message]:
        proto = _HttptoolsRequestProto()
        proto.parser = p = request_parser(proto)
        p.feed_data(data)
        proto.parser = None  # break the parser <-> protocol cycle (gc is off while timing)
        return proto.out

    def parse_response(data: bytes) -> list[Message]:
        proto = _HttptoolsResponseProto()
        proto.parser = p = response_parser(proto)
        p.feed_data(data)
        proto.parser = None
        return proto.out

    return Contender("httptools", "httptools", _version("httptools"), parse_request, parse_response)


# -- aiohttp ------------------------------------------------------------------

class _AiohttpProtoStub:
    """What aiohttp's StreamReader may call on its protocol; stateless."""

    __slots__ = ()
    connected = True
    _reading_paused = False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


_LOOP: asyncio.AbstractEventLoop | None = None


def _loop() -> asyncio.AbstractEventLoop:
    global _LOOP
    if _LOOP is None:
        _LOOP = asyncio.new_event_loop()  # never run: StreamReader only keeps a reference
        atexit.register(_LOOP.close)
    return _LOOP


def _aiohttp(variant: str) -> Contender:
    key, label = f"aiohttp_{variant.lower()}", f"aiohttp {'C' if variant == 'C' else 'Python'}"
    hp = _import("aiohttp.http_parser")
    if hp is None:
        return Contender(key, label, skip_reason=_not_installed("aiohttp"))
    req_cls = getattr(hp, f"HttpRequestParser{variant}", None)
    resp_cls = getattr(hp, f"HttpResponseParser{variant}", None)
    if req_cls is None or resp_cls is None:
        return Contender(key, label, skip_reason=(
            f"aiohttp.http_parser.HttpRequestParser{variant} not available "
            "(C extension not compiled, or AIOHTTP_NO_EXTENSIONS set)"))
    if variant == "C" and req_cls is getattr(hp, "HttpRequestParserPy", None):
        return Contender(key, label, skip_reason="aiohttp's C parser is its Python one here")

    proto = _AiohttpProtoStub()
    loop = _loop()
    limit = 2 ** 16

    try:  # can it be built and fed at all?
        req_cls(proto, loop, limit).feed_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        resp_cls(proto, loop, limit).feed_data(b"HTTP/1.1 204 No Content\r\n\r\n")
    except Exception as exc:
        return Contender(key, label, skip_reason=f"cannot drive {req_cls.__name__} ({exc!r})")

    def parse_request(data: bytes) -> list[Message]:
        messages, _upgraded, _tail = req_cls(proto, loop, limit).feed_data(data)
        return [
            (msg.method.encode("ascii"), msg.path.encode("utf-8", "surrogateescape"),
             [(n.lower(), v) for n, v in msg.raw_headers], payload.read_nowait(-1))
            for msg, payload in messages
        ]

    def parse_response(data: bytes) -> list[Message]:
        messages, _upgraded, _tail = resp_cls(proto, loop, limit).feed_data(data)
        return [
            (msg.code, msg.reason.encode("utf-8", "surrogateescape"),
             [(n.lower(), v) for n, v in msg.raw_headers], payload.read_nowait(-1))
            for msg, payload in messages
        ]

    return Contender(key, label, _version("aiohttp"), parse_request, parse_response)


# -- h11 ----------------------------------------------------------------------

def _h11() -> Contender:
    h11 = _import("h11")
    if h11 is None:
        return Contender("h11", "h11", skip_reason=_not_installed("h11"))
    connection, server, client = h11.Connection, h11.SERVER, h11.CLIENT
    request_event, response_event = h11.Request, h11.Response
    data_event, end_event = h11.Data, h11.EndOfMessage
    need_data, paused = h11.NEED_DATA, h11.PAUSED
    get = request_event(method=b"GET", target=b"/", headers=[(b"Host", b"example.com")])

    def parse_request(data: bytes) -> list[Message]:
        out: list[Message] = []
        body: list[bytes] = []
        head: Any = None
        conn = connection(server)
        conn.receive_data(data)
        while True:
            ev = conn.next_event()
            t = type(ev)
            if t is request_event:
                head = ev
            elif t is data_event:
                body.append(ev.data)
            elif t is end_event:
                out.append((head.method, head.target, list(head.headers),
                            b"".join(body) if body else b""))
                body = []
            elif ev is paused:
                rest = conn.trailing_data[0]
                if not rest:
                    break
                conn = connection(server)
                conn.receive_data(rest)
            elif ev is need_data:
                break
        return out

    def parse_response(data: bytes) -> list[Message]:
        out: list[Message] = []
        body: list[bytes] = []
        head: Any = None
        conn = connection(client)
        conn.send(get)
        conn.receive_data(data)
        while True:
            ev = conn.next_event()
            t = type(ev)
            if t is response_event:
                head = ev
            elif t is data_event:
                body.append(ev.data)
            elif t is end_event:
                out.append((head.status_code, head.reason, list(head.headers),
                            b"".join(body) if body else b""))
                body = []
            elif ev is paused or ev is need_data:
                break
        return out

    return Contender("h11", "h11", str(h11.__version__), parse_request, parse_response,
                     notes=[H11_PIPELINE_NOTE])


# -- registry and correctness gate ---------------------------------------------

def contenders() -> list[Contender]:
    """Every contender, in display order; unavailable ones carry `skip_reason`."""
    return [
        _hopwire("hopwire_c", "hopwire C", "hopwire._wire.parser_c"),
        _hopwire("hopwire_py", "hopwire Python", "hopwire._wire.parser_py"),
        _httptools(),
        _aiohttp("C"),
        _aiohttp("Py"),
        _h11(),
    ]


def baseline(available: list[Contender]) -> Contender | None:
    """What ratios are taken against: hopwire's C twin, else its Python twin."""
    for key in ("hopwire_c", "hopwire_py"):
        for c in available:
            if c.key == key and c.available:
                return c
    return None


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def diff(got: object, expected: list[Message]) -> str | None:
    """None when `got` equals `expected`, else a one-line description of the first difference."""
    if not isinstance(got, list):
        return f"returned {type(got).__name__}, not a list"
    if len(got) != len(expected):
        return f"{len(got)} messages, expected {len(expected)}"
    names = ("method/status", "target/reason", "headers", "body")
    for i, (g, e) in enumerate(zip(got, expected)):
        where = f"message {i}: " if len(expected) > 1 else ""
        if not isinstance(g, tuple) or len(g) != 4:
            return f"{where}not a 4-tuple: {_short(g)}"
        got_fields: tuple[Any, ...] = g
        expected_fields: tuple[Any, ...] = e
        for name, gv, ev in zip(names, got_fields, expected_fields):
            if name == "headers":
                gv = list(gv)
                if gv == ev:
                    continue
                if len(gv) != len(ev):
                    return f"{where}{len(gv)} headers, expected {len(ev)}"
                for j, (gh, eh) in enumerate(zip(gv, ev)):
                    if tuple(gh) != eh:
                        return f"{where}header {j}: got {_short(tuple(gh))}, expected {_short(eh)}"
            elif type(gv) is not type(ev) or gv != ev:
                if name == "body" and isinstance(gv, (bytes, bytearray)) and isinstance(ev, bytes) \
                        and len(gv) != len(ev):
                    return f"{where}body is {len(gv)} bytes, expected {len(ev)}"
                return f"{where}{name}: got {_short(gv)}, expected {_short(ev)}"
    return None


def check(contender: Contender, workload: Workload) -> str | None:
    """The correctness gate: None if the contender parses `workload` exactly right."""
    if not contender.available:
        return contender.skip_reason
    try:
        fn = contender.parser_for(workload)
        got = fn(workload.data)
        again = fn(workload.data)  # a second call must give the same (no state leaks)
    except Exception as exc:
        return f"raised {type(exc).__name__}: {exc}"
    problem = diff(got, workload.expected)
    if problem is None and again != got:
        problem = "second call gave a different result"
    return problem
