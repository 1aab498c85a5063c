"""One input, every parser: hopwire's twins and the strict peers, reduced to one shape.

Why: request smuggling and response splitting live in the gaps between two
parsers that read the same bytes differently. The differential harnesses
(tests/wire/test_fuzz_differential.py under hypothesis, fuzz/fuzz_parser.py under
atheris) feed the same bytes, cut the same way, to

- both hopwire twins, which must agree exactly (events, error reason, status
  hint, offset, how many events each call returned);
- httptools (llhttp, Node's parser) and h11, where installed, which are strict
  too: when one of them rejects an input that hopwire accepts, hopwire may be
  the lenient end of a desync, and the case must be on the reviewed list in
  tests/support/fuzz_allowlist.py.

Where hopwire and a peer both complete a message, they must also agree on its
start line and body: two parsers that both accept but frame differently are
exactly what smuggling needs.

Peers are driven as a real server (requests) or client (responses) would drive
them: h11 gets an answer after each request so it moves to the next one, and
sends each response's request first so it frames HEAD, 1xx, 204/304 and
CONNECT itself. This module imports neither pytest nor hypothesis, so the
atheris harness can use it as is.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import hopwire
from hopwire._wire import parser_py

Chunks = Sequence[bytes]


@dataclass
class Message:
    """One message as a parser framed it: what a desync would change."""

    start: tuple[Any, ...]  # (method, target, version) or (status, version)
    body: bytes = b""
    complete: bool = False
    headers: list[tuple[bytes, bytes]] = field(default_factory=list, compare=False)


@dataclass
class Outcome:
    """What one parser made of one input."""

    parser: str
    messages: list[Message] = field(default_factory=list)
    error: str | None = None  # the parser's own words for why it refused
    upgraded: bool = False
    # hopwire only: the full event list (type name, fields) and the ParseError as
    # (reason, status_hint, offset), for comparing the twins exactly.
    events: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    rule: tuple[str, int, int] | None = None
    per_call: tuple[int, ...] = ()
    trailing: bytes = b""

    @property
    def accepted(self) -> bool:
        return self.error is None

    def exact(self) -> tuple[Any, ...]:
        """Everything the twins must agree on (per_call included: same events per call)."""
        return (self.events, self.rule, self.upgraded, self.trailing, self.per_call)


# -- hopwire -----------------------------------------------------------------------


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")  # as hopwire._select reads them


def twins() -> dict[str, ModuleType]:
    """The twins to compare: "py" always; "c" unless HOPWIRE_NO_EXTENSIONS=1 or it is not
    built (then an ImportError under HOPWIRE_REQUIRE_EXTENSIONS=1, as in the suite)."""
    found = {"py": parser_py}
    if _flag("HOPWIRE_NO_EXTENSIONS"):
        return found
    try:
        found["c"] = importlib.import_module("hopwire._wire.parser_c")
    except ImportError:
        if _flag("HOPWIRE_REQUIRE_EXTENSIONS"):
            raise
    return found


def _fields(ev: Any) -> tuple[Any, ...]:
    return tuple(bytes(v) if isinstance(v, (bytearray, memoryview)) else v
                 for v in (getattr(ev, name) for name in ev._fields))


def _all_headers(ev: Any) -> list[tuple[bytes, bytes]]:
    """The fields of a head, hop-by-hop ones too when the parser split them off."""
    return list(ev.headers) + list(ev.hop_headers or [])


def run_hopwire(twin: ModuleType, kind: str, chunks: Chunks, expect: Sequence[bytes] = (),
                eof: bool = False, **options: Any) -> Outcome:
    """Feed `chunks` to a fresh parser of `twin`; Data events are merged for comparison."""
    parser = (twin.RequestParser if kind == "request" else twin.ResponseParser)(**options)
    for method in expect:
        parser.expect(method)
    out = Outcome(f"hopwire-{twin.__name__.rsplit('_', 1)[-1]}")
    raw: list[Any] = []
    per_call: list[int] = []
    try:
        for chunk in chunks:
            got = parser.feed(chunk)
            raw += got
            per_call.append(len(got))
        if eof:
            got = parser.feed_eof()
            raw += got
            per_call.append(len(got))
    except hopwire.ParseError as exc:
        raw += exc.events
        per_call.append(len(exc.events))
        out.error = exc.reason
        out.rule = (exc.reason, exc.status_hint, exc.offset)
    out.per_call = tuple(per_call)
    out.upgraded = bool(parser.upgraded)
    out.trailing = bytes(parser.trailing_data)
    for ev in raw:
        name = type(ev).__name__
        if name == "Data" and out.events and out.events[-1][0] == "Data":
            out.events[-1] = ("Data", (out.events[-1][1][0] + bytes(ev.data),))
        else:
            out.events.append((name, _fields(ev)))
        if name == "Request":
            out.messages.append(Message((ev.method, ev.target, ev.http_version),
                                        headers=_all_headers(ev)))
        elif name == "Response":
            out.messages.append(Message((ev.status_code, ev.http_version), headers=_all_headers(ev)))
        elif name == "InformationalResponse":
            out.messages.append(Message((ev.status_code, ev.http_version), complete=True,
                                        headers=_all_headers(ev)))
        elif name == "Data":
            out.messages[-1].body += bytes(ev.data)
        elif name == "EndOfMessage":
            out.messages[-1].complete = True
    return out


# -- httptools (llhttp) ------------------------------------------------------------


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


httptools = _optional("httptools")
h11 = _optional("h11")


class _LlhttpCallbacks:
    """Collects llhttp's callbacks into Messages (url and status may come in pieces)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.url = b""
        self.parser: Any = None

    def on_message_begin(self) -> None:
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_headers_complete(self) -> None:
        version = self.parser.get_http_version().encode()
        if isinstance(self.parser, httptools.HttpRequestParser):  # type: ignore[union-attr]
            start: tuple[Any, ...] = (self.parser.get_method(), self.url, version)
        else:
            start = (self.parser.get_status_code(), version)
        self.messages.append(Message(start))

    def on_body(self, data: bytes) -> None:
        self.messages[-1].body += data

    def on_message_complete(self) -> None:
        self.messages[-1].complete = True


def run_httptools(kind: str, chunks: Chunks) -> Outcome:
    """llhttp as httptools ships it (strict: no leniency flags).

    It is told nothing about the requests behind responses, so callers use it
    for responses only when every expected method frames like GET.
    """
    assert httptools is not None
    calls = _LlhttpCallbacks()
    cls = httptools.HttpRequestParser if kind == "request" else httptools.HttpResponseParser
    calls.parser = cls(calls)
    out = Outcome("httptools", calls.messages)
    for chunk in chunks:
        try:
            calls.parser.feed_data(bytes(chunk))
        except httptools.HttpParserUpgrade:
            out.upgraded = True
            break
        except httptools.HttpParserError as exc:
            out.error = f"{type(exc).__name__}: {exc}"
            break
    return out


# -- h11 --------------------------------------------------------------------------


def _tokens(headers: Any, name: bytes) -> set[bytes]:
    return {t.strip().lower() for n, v in headers if n == name for t in v.split(b",")}


class _H11Driver:
    """Plays the other side of an h11 Connection so it parses message after message."""

    def __init__(self, kind: str, expect: Sequence[bytes]) -> None:
        assert h11 is not None
        self.kind = kind
        self.expect = list(expect) or [b"GET"]
        # h11's limit on an incomplete head (16 KiB by default) raised to hopwire's 64 KiB,
        # so that a long head is not counted as a difference of policy.
        self.conn = h11.Connection(h11.SERVER if kind == "request" else h11.CLIENT,
                                   max_incomplete_event_size=1 << 16)
        self.out = Outcome("h11")
        self.stopped = False
        self.request: Any = None  # the request being received (server side)
        if kind == "response":
            self._send_request()

    def _send_request(self) -> None:
        method = self.expect.pop(0) if self.expect else b"GET"
        target = b"example.com:443" if method == b"CONNECT" else b"/"
        # Every request offers an upgrade, so that a 101 is an answer h11 accepts,
        # as hopwire's response parser does.
        headers = [(b"host", b"example.com"), (b"upgrade", b"x-test"),
                   (b"connection", b"upgrade")]
        self.conn.send(h11.Request(method=method, target=target, headers=headers))
        self.conn.send(h11.EndOfMessage())

    def _answer(self, request: Any) -> None:
        """Answer the request just completed; accept the switch a server would accept."""
        upgrade = request.method == b"CONNECT" or (
            any(n == b"upgrade" for n, _ in request.headers)
            and b"upgrade" in _tokens(request.headers, b"connection"))
        if upgrade and request.method == b"CONNECT":
            self.conn.send(h11.Response(status_code=200, headers=[]))
        elif upgrade:
            self.conn.send(h11.InformationalResponse(
                status_code=101, headers=[(b"upgrade", dict(request.headers)[b"upgrade"])]))
        else:
            self.conn.send(h11.Response(status_code=200, headers=[(b"content-length", b"0")]))
            self.conn.send(h11.EndOfMessage())

    def _next_cycle(self) -> bool:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            if self.kind == "response":
                self._send_request()
            return True
        return False

    def drain(self) -> None:
        messages = self.out.messages
        while not self.stopped:
            if self.conn.their_state is h11.SWITCHED_PROTOCOL:
                self.out.upgraded = True
                self.stopped = True
                return
            ev = self.conn.next_event()
            if ev is h11.NEED_DATA:
                return
            if ev is h11.PAUSED:
                if not self._next_cycle():
                    self.stopped = True
                    return
                continue
            name = type(ev).__name__
            if name == "Request":
                messages.append(Message((ev.method, ev.target, ev.http_version)))
                self.request = ev
            elif name == "Response":
                messages.append(Message((ev.status_code, ev.http_version)))
            elif name == "InformationalResponse":
                messages.append(Message((ev.status_code, ev.http_version), complete=True))
            elif name == "Data":
                messages[-1].body += bytes(ev.data)
            elif name == "EndOfMessage":
                messages[-1].complete = True
                if self.kind == "request":
                    self._answer(self.request)
                self._next_cycle()
            elif name == "ConnectionClosed":
                self.stopped = True

    def feed(self, data: bytes) -> None:
        if self.stopped:
            return
        try:
            self.conn.receive_data(data)
            self.drain()
        except h11.RemoteProtocolError as exc:
            self.out.error = f"RemoteProtocolError: {exc}"
            self.stopped = True
        except h11.LocalProtocolError:
            # Our side cannot go on (h11 will not let a server answer this exchange the
            # way we tried): h11's verdict on what follows is unknown, not a refusal.
            self.stopped = True


def run_h11(kind: str, chunks: Chunks, expect: Sequence[bytes] = (), eof: bool = False) -> Outcome:
    """h11 as a server (requests) or as the client that sent `expect` (responses)."""
    driver = _H11Driver(kind, expect)
    for chunk in chunks:
        if chunk:
            driver.feed(bytes(chunk))
    if eof:
        driver.feed(b"")
    return driver.out


# -- comparison -------------------------------------------------------------------


@dataclass
class Finding:
    """A difference the harness fails on (unless allowed for a peer)."""

    what: str  # "twins", "accepts-rejected" or "framing"
    detail: str
    peer: str = ""


Allow = Callable[[str, bytes, Outcome, Outcome], "str | None"]


def peers_for(kind: str, expect: Sequence[bytes]) -> list[str]:
    """The installed peers that can judge this input (llhttp cannot frame HEAD/CONNECT)."""
    names = []
    if httptools is not None and (kind == "request" or all(
            m.upper() not in (b"HEAD", b"CONNECT") for m in expect)):
        names.append("httptools")
    if h11 is not None:
        names.append("h11")
    return names


def run_peer(name: str, kind: str, chunks: Chunks, expect: Sequence[bytes], eof: bool) -> Outcome:
    if name == "httptools":
        return run_httptools(kind, chunks)
    return run_h11(kind, chunks, expect, eof)


def compare_twins(kind: str, chunks: Chunks, expect: Sequence[bytes] = (), eof: bool = False,
                  **options: Any) -> tuple[Outcome, list[Finding]]:
    """Both twins on the same chunks; returns the Python twin's outcome and differences."""
    found = twins()
    reference = run_hopwire(found["py"], kind, chunks, expect, eof, **options)
    findings = []
    if "c" in found:
        other = run_hopwire(found["c"], kind, chunks, expect, eof, **options)
        if other.exact() != reference.exact():
            findings.append(Finding("twins", f"py: {reference.exact()!r}\n c: {other.exact()!r}"))
    return reference, findings


def refused_at(theirs: Outcome) -> int:
    """Index of the message the peer refused: its first unfinished one, or the next."""
    return next((i for i, m in enumerate(theirs.messages) if not m.complete),
                len(theirs.messages))


def took(mine: Outcome, theirs: Outcome) -> bool:
    """Whether hopwire got past the place where the peer refused.

    A peer that refuses inside a head (no message begun) is passed when hopwire
    made that message's head event; one that refuses inside a body is passed
    when hopwire completed that message. Short of that, hopwire is still waiting
    for bytes: "abc" is a method prefix to hopwire and an unknown method to
    llhttp, and neither has accepted anything yet.
    """
    index = refused_at(theirs)
    if index == len(theirs.messages):
        return len(mine.messages) > index
    return len(mine.messages) > index + 1 or (
        len(mine.messages) > index and mine.messages[index].complete)


def compare_peer(kind: str, data: bytes, mine: Outcome, theirs: Outcome,
                 allow: Allow) -> list[Finding]:
    """hopwire against one peer: no acceptance of what it rejects, no framing disagreement."""
    findings = []
    if theirs.error is not None and mine.accepted and took(mine, theirs):
        if allow(kind, data, mine, theirs) is None:
            findings.append(Finding("accepts-rejected", f"{theirs.parser} said {theirs.error!r}",
                                    theirs.parser))
    for i, (a, b) in enumerate(zip(mine.messages, theirs.messages)):
        differ = a.complete and b.complete and (a.start != b.start or a.body != b.body)
        # One side ended the message and began the next where the other still reads body.
        ahead = (a.complete and not b.complete and len(mine.messages) > i + 1
                 and theirs.error is None and not theirs.upgraded) or (
                 b.complete and not a.complete and len(theirs.messages) > i + 1
                 and mine.error is None and not mine.upgraded)
        if differ or ahead:
            if allow(kind, data, mine, theirs) is None:
                findings.append(Finding("framing", f"message {i}: hopwire {a} vs {b}",
                                        theirs.parser))
            break
    return findings


def check(kind: str, data: bytes, chunks: Chunks, allow: Allow, expect: Sequence[bytes] = (),
          eof: bool = False, **options: Any) -> list[Finding]:
    """Every finding for one input cut as `chunks` (twins exactly; peers when no options)."""
    mine, findings = compare_twins(kind, chunks, expect, eof, **options)
    whole, more = compare_twins(kind, [data], expect, eof, **options)
    findings += more
    if whole.exact()[:4] != mine.exact()[:4]:
        findings.append(Finding("twins", f"split {list(chunks)!r} differs from whole"))
    if options:  # peers have other limits: only the grammar is compared
        return findings
    for name in peers_for(kind, expect):
        findings += compare_peer(kind, data, mine, run_peer(name, kind, chunks, expect, eof), allow)
    return findings
