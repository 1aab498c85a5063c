"""Tests of hopwire._pool.connection, the sans-I/O state of one HTTP/1.1 client connection.

No sockets: a scripted "server" is a string of response bytes fed to
`receive_data()` (whole, and byte by byte: the `feed` fixture), and the end of
the connection is `receive_eof()` or `close()`. Every test runs on the parser
twin `import hopwire` selected, the only one a Connection takes: the C twin
with the compiled core, the Python twin in the pure run. The rules come from issue 3
("Persistent connections", "Pipelining") and the servers of REAL-SERVERS.md.
A property test at the end drives random interleavings of sends, body writes
and partial deliveries against a model of the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import hopwire
from hopwire._wire import parser_py, rules as _rules
from hopwire._pool.connection import (
    BODY_TOO_LONG,
    BODY_TOO_SHORT,
    EXPECT_WITHOUT_CONTENT,
    PROXY_CONNECTION,
    TRAILERS_NEED_CHUNKED,
    Connection,
    ConnectionState,
    ConnectionStateError,
    RemoteProtocolError,
    Tagged,
    Unanswered,
)
from hopwire._wire.writer import LocalProtocolError

IDLE, ACTIVE, CLOSING, CLOSED, BROKEN, SWITCHED = (
    ConnectionState.IDLE, ConnectionState.ACTIVE, ConnectionState.CLOSING,
    ConnectionState.CLOSED, ConnectionState.BROKEN, ConnectionState.SWITCHED,
)
HOST = b"example.com"
Summary = list[tuple[Any, ...]]


# -- helpers ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def twin(twin: ModuleType) -> ModuleType:
    """support.twins's twin, when it is the one a Connection takes here."""
    if twin.ResponseParser is not hopwire.ResponseParser:
        pytest.skip("a Connection takes the parser twin `import hopwire` selected; "
                    "the run that selects this one tests it")
    return twin


@pytest.fixture
def make(twin: ModuleType) -> Callable[..., Connection]:
    """A Connection factory whose connections parse with the fixture's twin."""
    def new(**options: Any) -> Connection:
        return Connection(parser=twin.ResponseParser(**options.pop("parser_options", {})), **options)
    return new


@pytest.fixture(params=["whole", "bytewise"])
def feed(request: pytest.FixtureRequest) -> Callable[[Connection, bytes], Summary]:
    """Feed server bytes in one piece or byte by byte; return the summarized events."""
    def run(conn: Connection, data: bytes) -> Summary:
        if request.param == "whole":
            return summary(conn.receive_data(data))
        events: list[Tagged] = []
        for i in range(len(data)):
            events += conn.receive_data(data[i:i + 1])
        return summary(events)
    return run


def summary(tagged: Sequence[tuple[int, Any]]) -> Summary:
    """Events as short tuples, adjacent Data of one request merged:
    ("resp", id, status), ("info", id, status), ("data", id, bytes), ("end", id)."""
    out: Summary = []
    for rid, ev in tagged:
        kind = type(ev).__name__
        if kind == "Data":
            if out and out[-1][:2] == ("data", rid):
                out[-1] = ("data", rid, out[-1][2] + bytes(ev.data))
            else:
                out.append(("data", rid, bytes(ev.data)))
        elif kind == "EndOfMessage":
            out.append(("end", rid))
        else:
            short = "resp" if kind == "Response" else "info"
            out.append((short, rid, ev.status_code))
    return out


def response(status: int = 200, body: bytes = b"", *, version: bytes = b"1.1",
             headers: Sequence[tuple[bytes, bytes]] = (), framing: str = "length",
             content_length: int | None = None) -> bytes:
    """One response's bytes. framing: "length", "chunked", "close" (read until close) or
    "none" (no framing field: for 1xx, 204, 304 and HEAD answers)."""
    lines = [b"HTTP/%s %d Reason" % (version, status)]
    lines += [b"%s: %s" % pair for pair in headers]
    if framing == "length":
        lines.append(b"Content-Length: %d" % (len(body) if content_length is None else content_length))
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def ok(body: bytes = b"ok", **kw: Any) -> bytes:
    return response(200, body, **kw)


def send(conn: Connection, method: bytes = b"GET", target: bytes = b"/", **kw: Any) -> int:
    request_id, head = conn.send_request(method, target, kw.pop("headers", ()), host=HOST, **kw)
    assert head.startswith(method + b" ")
    return request_id


def proven(make: Callable[..., Connection], **options: Any) -> Connection:
    """A connection that one HTTP/1.1 keep-alive answer proved persistent (request 0)."""
    conn = make(**options)
    send(conn)
    answer = ok(headers=[(b"Via", b"1.1 proxy")]) if options.get("proxied") else ok()
    assert summary(conn.receive_data(answer)) == [("resp", 0, 200), ("data", 0, b"ok"), ("end", 0)]
    assert conn.proven_persistent and conn.is_idle
    return conn


# -- persistence (RFC 9112 §9.3) -------------------------------------------------

PERSISTENCE = [
    # (name, response bytes, proxied, state after the answer, proven)
    ("1.1 default", ok(), False, IDLE, True),
    ("1.1 chunked", ok(framing="chunked"), False, IDLE, True),
    ("1.1 Connection: close", ok(headers=[(b"Connection", b"close")]), False, CLOSED, False),
    ("1.1 keep-alive, close", ok(headers=[(b"Connection", b"keep-alive, close")]), False,
     CLOSED, False),
    ("1.1 Proxy-Connection: close", ok(headers=[(b"Proxy-Connection", b"close")]), False,
     CLOSED, False),
    ("1.0 default", ok(version=b"1.0"), False, CLOSED, False),
    ("1.0 Connection: keep-alive", ok(version=b"1.0", headers=[(b"Connection", b"Keep-Alive")]),
     False, IDLE, False),
    ("1.0 Proxy-Connection: keep-alive (direct)",
     ok(version=b"1.0", headers=[(b"Proxy-Connection", b"keep-alive")]), False, CLOSED, False),
    # uvicorn/httptools answers HTTP/1.0 with chunked: RFC 9112 §6.1 says close after it.
    ("1.0 chunked (uvicorn)", ok(version=b"1.0", framing="chunked",
                                 headers=[(b"Connection", b"keep-alive")]), False, CLOSED, False),
    # Through a forward proxy, HTTP/1.1 persistence needs the proxy's Via (RFC 9110
    # §7.6.3): without it, the answer may be an origin's relayed by a dumb proxy.
    ("proxied 1.1 with Via", ok(headers=[(b"Via", b"1.1 squid")]), True, IDLE, True),
    ("proxied 1.1 without Via", ok(), True, CLOSED, False),
    ("proxied 1.1 without Via, proxy trusted", ok(), "trusted", IDLE, True),
    ("proxied 1.1 with Via, Connection: close",
     ok(headers=[(b"Via", b"1.1 squid"), (b"Connection", b"close")]), True, CLOSED, False),
    ("proxied 1.1 echoing Proxy-Connection: keep-alive",
     ok(headers=[(b"Via", b"1.1 squid"), (b"Proxy-Connection", b"keep-alive")]), True, IDLE, True),
    # The dumb-proxy trap: through a proxy, HTTP/1.0 keep-alive is never trusted.
    ("proxied 1.0 Connection: keep-alive",
     ok(version=b"1.0", headers=[(b"Connection", b"keep-alive")]), True, CLOSED, False),
    ("proxied 1.0 Proxy-Connection: keep-alive",
     ok(version=b"1.0", headers=[(b"Proxy-Connection", b"keep-alive")]), True, CLOSED, False),
    ("proxied 1.0 keep-alive, proxy trusted",
     ok(version=b"1.0", headers=[(b"Via", b"1.0 p"), (b"Connection", b"keep-alive")]), "trusted",
     CLOSED, False),
]


@pytest.mark.parametrize("name, data, proxied, state, is_proven", PERSISTENCE,
                         ids=[c[0] for c in PERSISTENCE])
def test_persistence(make: Any, feed: Any, name: str, data: bytes, proxied: bool | str,
                     state: ConnectionState, is_proven: bool) -> None:
    conn = make(proxied=bool(proxied), trust_proxy=proxied == "trusted")
    send(conn)
    assert feed(conn, data) == [("resp", 0, 200), ("data", 0, b"ok"), ("end", 0)]
    assert conn.state is state
    assert conn.proven_persistent is is_proven
    assert conn.is_reusable is (state is IDLE)
    assert conn.can_send(b"GET") is (state is IDLE)
    if state is CLOSED:
        assert conn.unanswered() == ([], [])


def test_sequential_keep_alive_reuse(make: Any, feed: Any) -> None:
    conn = make()
    for n in range(4):
        assert conn.is_idle and conn.can_send(b"POST")
        rid = send(conn, b"POST", body_length=0) if n % 2 else send(conn)
        assert rid == n and conn.state is ACTIVE and conn.in_flight == 1
        assert feed(conn, ok(b"#%d" % n)) == [("resp", n, 200), ("data", n, b"#%d" % n), ("end", n)]
    assert conn.is_idle and conn.in_flight == 0 and conn.requests_left is None


def test_http10_keep_alive_is_reused_but_never_pipelined(make: Any, feed: Any) -> None:
    conn = make(pipeline_depth=8)
    for n in range(3):
        send(conn)
        assert not conn.can_send(b"GET")  # HTTP/1.0 never proves the connection for pipelining
        feed(conn, ok(version=b"1.0", headers=[(b"Connection", b"keep-alive")]))
        assert conn.is_idle and not conn.proven_persistent


def test_closing_until_the_closing_answer_ends(make: Any) -> None:
    conn = make()
    send(conn)
    data = ok(b"body", headers=[(b"Connection", b"close")])
    head = data[:-4]
    assert summary(conn.receive_data(head)) == [("resp", 0, 200)]
    assert conn.state is CLOSING and not conn.is_reusable and not conn.can_send(b"GET")
    with pytest.raises(ConnectionStateError, match="closing"):
        send(conn)
    assert summary(conn.receive_data(b"body")) == [("data", 0, b"body"), ("end", 0)]
    assert conn.state is CLOSED
    assert conn.receive_eof() == [] and conn.state is CLOSED
    assert conn.unanswered() == Unanswered([], [])


def test_close_delimited_body_ends_at_eof(make: Any, feed: Any) -> None:
    conn = make()
    send(conn)
    assert feed(conn, ok(b"until close", framing="close")) == [("resp", 0, 200),
                                                               ("data", 0, b"until close")]
    assert conn.state is CLOSING and conn.in_flight == 1
    assert summary(conn.receive_eof()) == [("end", 0)]
    assert conn.state is CLOSED and conn.in_flight == 0
    assert conn.unanswered() == ([], [])


def test_data_after_a_closing_answer_breaks_the_connection(make: Any) -> None:
    conn = make()
    send(conn)
    conn.receive_data(ok(headers=[(b"Connection", b"close")]))
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(ok())
    assert conn.state is BROKEN


def test_hop_headers_are_read_when_the_parser_strips_them(make: Any) -> None:
    conn = make(parser_options={"strip_hop_by_hop": True})
    send(conn)
    conn.receive_data(ok(version=b"1.0", headers=[(b"Connection", b"keep-alive"),
                                                  (b"Keep-Alive", b"timeout=7, max=4")]))
    assert conn.is_idle and conn.keep_alive_timeout == 7 and conn.requests_left == 3


# -- Keep-Alive: timeout=, max= ----------------------------------------------------

KEEP_ALIVE = [
    # (Keep-Alive values of the first answer, keep_alive_timeout, requests_left after it, state)
    ([b"timeout=5, max=100"], 5, 99, IDLE),
    ([b"timeout=5"], 5, None, IDLE),
    ([b"max=3"], None, 2, IDLE),
    ([b"max=1"], None, 0, CLOSED),  # max counts the request just answered: it was the last
    ([b"max=0"], None, 0, CLOSED),
    ([b'timeout="7", MAX=2'], 7, 1, IDLE),
    ([b"timeout=5", b"max=3"], 5, 2, IDLE),  # two fields are one list
    ([b"timeout=x, max=-1"], None, None, IDLE),  # malformed parameters are ignored
    ([b"max=2, max=9"], None, 1, IDLE),  # the first of a repeated parameter counts
]


@pytest.mark.parametrize("values, timeout, left, state", KEEP_ALIVE)
def test_keep_alive_parameters(make: Any, values: list[bytes], timeout: int | None,
                               left: int | None, state: ConnectionState) -> None:
    conn = make()
    send(conn)
    conn.receive_data(ok(headers=[(b"Keep-Alive", v) for v in values]))
    assert (conn.keep_alive_timeout, conn.requests_left, conn.state) == (timeout, left, state)
    assert conn.can_send(b"GET") is (state is IDLE)


def test_keep_alive_of_a_closing_answer_is_ignored(make: Any) -> None:
    conn = make()
    send(conn)
    conn.receive_data(ok(headers=[(b"Connection", b"close"), (b"Keep-Alive", b"timeout=5, max=9")]))
    assert conn.keep_alive_timeout is None and conn.requests_left is None and conn.state is CLOSED


@pytest.mark.parametrize("style", ["apache: max counts down", "node: max is a constant total"])
def test_max_caps_the_requests_sent(make: Any, style: str) -> None:
    # The fault server of issue 3 sends `Keep-Alive: timeout=1, max=3`.
    conn = make()
    sent = []
    for n in range(3):
        assert conn.can_send(b"GET")
        sent.append(send(conn))
        assert not conn.can_send(b"GET")
        max_ = 3 - n if style.startswith("apache") else 3
        conn.receive_data(ok(headers=[(b"Keep-Alive", b"timeout=1, max=%d" % max_)]))
        assert conn.keep_alive_timeout == 1 and conn.requests_left == 2 - n
    assert sent == [0, 1, 2]
    assert conn.state is CLOSED and not conn.can_send(b"GET")  # spent even without Connection: close
    with pytest.raises(ConnectionStateError):
        send(conn)


def test_a_later_max_only_lowers_the_cap_and_the_latest_timeout_holds(make: Any) -> None:
    conn = make()
    send(conn)
    conn.receive_data(ok(headers=[(b"Keep-Alive", b"timeout=5, max=5")]))
    assert conn.requests_left == 4
    send(conn)
    conn.receive_data(ok(headers=[(b"Keep-Alive", b"timeout=2, max=50")]))
    assert conn.requests_left == 3
    assert conn.keep_alive_timeout == 2  # the latest timeout holds
    send(conn)
    conn.receive_data(ok(headers=[(b"Keep-Alive", b"max=2")]))  # requests 2 and 3 remain
    assert conn.requests_left == 1


def test_max_caps_the_pipeline(make: Any) -> None:
    conn = make(pipeline_depth=8)
    send(conn)
    conn.receive_data(ok(headers=[(b"Keep-Alive", b"timeout=1, max=3")]))
    assert [send(conn), send(conn)] == [1, 2]
    assert conn.requests_left == 0 and conn.state is CLOSING and not conn.can_send(b"GET")
    conn.receive_data(ok())
    assert conn.state is CLOSING and conn.in_flight == 1
    conn.receive_data(ok())
    assert conn.state is CLOSED and conn.unanswered() == ([], [])


# -- pipelining (RFC 9112 §9.3.2) ------------------------------------------------------

# In flight: (method, send_request keywords); "body open" leaves a chunked body unfinished.
GET: tuple[bytes, dict[str, Any]] = (b"GET", {})
PIPELINING = [
    # (name, pipeline_depth, prove first, in flight, candidate method, can_send keywords, allowed)
    ("idle, unproven", 1, False, [], b"POST", {}, True),
    ("idle, Expect and Upgrade go alone", 4, True, [], b"PUT", {"expect_continue": True}, True),
    ("depth 1", 1, True, [GET], b"GET", {}, False),
    ("unproven", 4, False, [GET], b"GET", {}, False),
    ("GET behind GET", 4, True, [GET], b"GET", {}, True),
    ("HEAD behind GET", 4, True, [GET], b"HEAD", {}, True),
    ("OPTIONS behind HEAD", 4, True, [(b"HEAD", {})], b"OPTIONS", {}, True),
    ("TRACE behind GET", 4, True, [GET], b"TRACE", {}, True),
    ("POST behind GET", 4, True, [GET], b"POST", {}, False),
    ("PUT (idempotent, not safe)", 4, True, [GET], b"PUT", {}, False),
    ("DELETE", 4, True, [GET], b"DELETE", {}, False),
    ("lower-case get is not GET", 4, True, [GET], b"get", {}, False),
    ("depth reached", 3, True, [GET, GET, GET], b"GET", {}, False),
    ("depth not reached", 4, True, [GET, GET, GET], b"GET", {}, True),
    ("behind a POST", 4, True, [(b"POST", {"body_length": 2, "body": b"hi"})], b"GET", {}, False),
    ("behind a bodiless POST", 4, True, [(b"POST", {})], b"GET", {}, False),
    ("behind a PUT", 4, True, [(b"PUT", {"body_length": 0})], b"GET", {}, False),
    ("behind CONNECT", 4, True, [(b"CONNECT", {"target": b"example.com:443"})], b"GET", {}, False),
    ("behind an Upgrade", 4, True,
     [(b"GET", {"headers": [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")]})],
     b"GET", {}, False),
    ("behind Expect: 100-continue", 4, True,
     [(b"GET", {"body_length": 1, "body": b"x", "expect_continue": True})], b"GET", {}, False),
    ("behind a caller's Expect field", 4, True,
     [(b"GET", {"body_length": 1, "body": b"x", "headers": [(b"Expect", b"100-Continue")]})],
     b"GET", {}, False),
    ("GET with a body, written", 4, True, [(b"GET", {"body_length": 1, "body": b"x"})],
     b"GET", {}, True),
    ("behind an unfinished body", 4, True, [(b"GET", {"chunked": True, "body": None})],
     b"GET", {}, False),
    ("an Expect request waits", 4, True, [GET], b"GET", {"expect_continue": True}, False),
    ("an Upgrade request waits", 4, True, [GET], b"GET", {"upgrade": True}, False),
    ("a CONNECT waits", 4, True, [GET], b"CONNECT", {}, False),
]


def start_requests(conn: Connection, in_flight: list[tuple[bytes, dict[str, Any]]]) -> list[int]:
    ids = []
    for method, kw in in_flight:
        kw = dict(kw)
        body = kw.pop("body", b"")
        rid = send(conn, method, kw.pop("target", b"/"), **kw)
        if body:
            conn.send_body(rid, body)
        if body is not None and (body or kw.get("chunked")):
            conn.end_body(rid)
        ids.append(rid)
    return ids


@pytest.mark.parametrize("name, depth, prove, in_flight, method, kw, allowed", PIPELINING,
                         ids=[c[0] for c in PIPELINING])
def test_pipelining_rules(make: Any, name: str, depth: int, prove: bool,
                          in_flight: list[tuple[bytes, dict[str, Any]]], method: bytes,
                          kw: dict[str, Any], allowed: bool) -> None:
    conn = proven(make, pipeline_depth=depth) if prove else make(pipeline_depth=depth)
    start_requests(conn, in_flight)
    count = conn.in_flight
    assert conn.can_send(method, **kw) is allowed
    if not allowed and not kw:
        with pytest.raises(ConnectionStateError, match="cannot send"):
            send(conn, method, b"example.com:443" if method == b"CONNECT" else b"/")
        assert conn.in_flight == count  # nothing recorded


def test_unfinished_body_blocks_until_it_is_written(make: Any) -> None:
    conn = proven(make, pipeline_depth=4)
    rid = send(conn, b"GET", chunked=True, body_length=None)
    assert not conn.can_send(b"GET")
    assert conn.send_body(rid, b"abc") == b"3\r\nabc\r\n"
    assert not conn.can_send(b"GET")
    assert conn.end_body(rid) == b"0\r\n\r\n"
    assert conn.can_send(b"GET")


def test_a_barrier_blocks_the_pipeline_until_it_is_answered(make: Any) -> None:
    # The connection counts the requests in flight that nothing may follow:
    # the refusal names the one in flight, and once it is answered the
    # connection pipelines again.
    conn = proven(make, pipeline_depth=8)
    upgrade = send(conn, b"GET", headers=[(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")])
    assert not conn.can_send(b"GET")
    with pytest.raises(ConnectionStateError, match=f"request {upgrade} .* must be answered first"):
        send(conn, b"GET")
    conn.receive_data(ok())  # a declined upgrade: the connection stays HTTP/1.1
    assert conn.is_idle and conn.can_send(b"GET")
    ids = [send(conn, b"GET") for _ in range(3)]
    assert ids == [upgrade + 1, upgrade + 2, upgrade + 3] and conn.can_send(b"GET")
    for rid in ids:
        assert summary(conn.receive_data(ok()))[-1] == ("end", rid)
    post = send(conn, b"POST")  # not safe: alone, and nothing behind it
    assert not conn.can_send(b"GET")
    conn.receive_data(ok())
    assert conn.is_idle and conn.can_send(b"GET") and post == ids[-1] + 1


def test_pipelined_answers_are_matched_in_order(make: Any, feed: Any) -> None:
    # HEAD, 204 and 304 carry no body whatever their Content-Length says.
    conn = proven(make, pipeline_depth=8)
    ids = [send(conn, m) for m in (b"GET", b"HEAD", b"GET", b"GET", b"OPTIONS", b"GET")]
    assert ids == [1, 2, 3, 4, 5, 6] and conn.can_send(b"GET")
    server = (ok(b"one")
              + response(200, b"", content_length=5)  # HEAD: no body follows
              + response(204, framing="none")
              + response(304, b"", content_length=10)
              + response(200, b"opts", framing="chunked")
              + response(404, b"last"))
    assert feed(conn, server) == [
        ("resp", 1, 200), ("data", 1, b"one"), ("end", 1),
        ("resp", 2, 200), ("end", 2),
        ("resp", 3, 204), ("end", 3),
        ("resp", 4, 304), ("end", 4),
        ("resp", 5, 200), ("data", 5, b"opts"), ("end", 5),
        ("resp", 6, 404), ("data", 6, b"last"), ("end", 6),
    ]
    assert conn.is_idle


def test_pipelining_needs_a_proof_even_through_a_proxy(make: Any) -> None:
    conn = make(pipeline_depth=4, proxied=True)
    send(conn)
    assert not conn.can_send(b"GET")
    conn.receive_data(ok(version=b"1.0", headers=[(b"Proxy-Connection", b"keep-alive")]))
    assert not conn.proven_persistent and conn.state is CLOSED
    conn = proven(make, pipeline_depth=4, proxied=True)
    send(conn)
    assert conn.can_send(b"GET")


# -- the server closes mid-pipeline (gunicorn sync, http.server: REAL-SERVERS.md) ------

@pytest.mark.parametrize("answered", [0, 1, 2, 3])
@pytest.mark.parametrize("how", ["abrupt close", "Connection: close", "HTTP/1.0"])
def test_server_closes_after_k_of_n_pipelined(make: Any, feed: Any, answered: int, how: str) -> None:
    conn = proven(make, pipeline_depth=4)
    methods = (b"GET", b"HEAD", b"GET", b"OPTIONS")
    ids = [send(conn, m) for m in methods]

    def answer(i: int, **kw: Any) -> bytes:
        if methods[i] == b"HEAD":
            return response(200, content_length=1, **kw)
        return ok(b"%d" % i, **kw)

    lasts: dict[str, dict[str, Any]] = {
        "abrupt close": {},  # keep-alive answers, then the close
        "Connection: close": {"headers": [(b"Connection", b"close")]},
        "HTTP/1.0": {"version": b"1.0"},  # http.server's default handler
    }
    last = lasts[how]
    server = b"".join(answer(i, **(last if i == answered - 1 else {})) for i in range(answered))
    events = feed(conn, server)
    assert [e[1] for e in events if e[0] == "end"] == ids[:answered]
    assert conn.receive_eof() == []
    assert conn.state is CLOSED
    assert conn.unanswered() == Unanswered(ids[answered:], [])


def test_post_in_flight_at_close_may_have_been_processed(make: Any) -> None:
    for end in ("eof", "close"):
        conn = make()
        post = send(conn, b"POST", body_length=2)
        conn.send_body(post, b"hi")
        conn.end_body(post)
        conn.receive_eof() if end == "eof" else conn.close()
        assert conn.unanswered() == Unanswered([], [post])


@pytest.mark.parametrize("method", [b"PUT", b"DELETE", b"GET"])
def test_idempotent_request_without_answer_is_replayable(make: Any, method: bytes) -> None:
    conn = make()
    rid = send(conn, method)
    conn.close()  # a reset, say, before any byte of the answer
    assert conn.state is CLOSED and conn.unanswered() == Unanswered([rid], [])


CUTS = [
    # (name, bytes received before the end)
    ("status line", b"HTTP/1.1 20"),
    ("head", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n"),
    ("body", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"),
    ("chunked body", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"),
    ("after a 100", b"HTTP/1.1 100 Continue\r\n\r\n"),
]


@pytest.mark.parametrize("name, data", CUTS, ids=[c[0] for c in CUTS])
@pytest.mark.parametrize("end", ["receive_eof", "close"])
def test_an_answer_that_started_then_was_cut_must_fail(make: Any, name: str, data: bytes,
                                                       end: str) -> None:
    conn = proven(make, pipeline_depth=4)
    first, second = send(conn), send(conn, b"HEAD")
    conn.receive_data(data)
    if end == "close":
        conn.close()
        assert conn.state is CLOSED
    elif name == "after a 100":
        assert conn.receive_eof() == [] and conn.state is CLOSED
    else:
        with pytest.raises(RemoteProtocolError) as info:
            conn.receive_eof()
        assert isinstance(info.value.parse_error, hopwire.ParseError)
        assert info.value.__cause__ is info.value.parse_error
        assert conn.state is BROKEN
    assert conn.unanswered() == Unanswered([second], [first])


# -- the server breaks the protocol -----------------------------------------------------

def test_garbage_breaks_the_connection(make: Any) -> None:
    conn = proven(make, pipeline_depth=4)
    ids = [send(conn), send(conn), send(conn)]
    with pytest.raises(RemoteProtocolError) as info:
        conn.receive_data(ok(b"fine") + b"<html>oops</html>\r\n")
    exc = info.value
    assert isinstance(exc, hopwire.HopwireError)
    assert isinstance(exc.parse_error, hopwire.ParseError) and exc.__cause__ is exc.parse_error
    assert exc.reason == exc.parse_error.reason
    assert summary(exc.events) == [("resp", 1, 200), ("data", 1, b"fine"), ("end", 1)]
    assert conn.state is BROKEN and not conn.is_reusable and not conn.can_send(b"GET")
    with pytest.raises(ConnectionStateError):
        send(conn)
    with pytest.raises(ConnectionStateError, match="broken"):
        conn.receive_data(ok())
    assert conn.receive_eof() == [] and conn.state is BROKEN
    conn.close()
    assert conn.state is BROKEN
    # Bytes that cannot begin a status line, where the second answer should start on a
    # connection that answered before, are no answer: that request may be replayed.
    assert not conn.is_answering()
    assert conn.unanswered() == Unanswered([ids[1], ids[2]], [])


def test_garbage_as_the_first_answer_of_a_connection_is_an_answer(make: Any) -> None:
    # On a new connection there is no earlier message the bytes could belong to:
    # the server answered with something that is not HTTP, and may have acted.
    conn = make()
    first = send(conn)
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(b"<html>oops</html>\r\n")
    assert conn.is_answering()
    assert conn.unanswered() == Unanswered([], [first])


@pytest.mark.parametrize("bad", [b"HTTP/1.1 2x0 OK\r\n", b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
                                 b"HTTP/1.1\t200 OK\r\n", b"HTTP/1.10 200 OK\r\n", b"HTTP/1.1X"])
def test_a_broken_answer_on_a_reused_connection_has_begun(make: Any, bad: bytes) -> None:
    # A status line that begins right and breaks later is an answer under way.
    conn = proven(make, pipeline_depth=4)
    send(conn)
    broken = send(conn)
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(ok() + bad)
    assert conn.is_answering()
    assert conn.unanswered() == Unanswered([], [broken])


@pytest.mark.parametrize("stray", [b"hello", b"\r\nhello", b"HTT<html>", b"http/1.1 200 OK\r\n"])
def test_stray_bytes_before_an_answer_leave_an_idempotent_request_unanswered(
        make: Any, stray: bytes) -> None:
    conn = proven(make, pipeline_depth=4)
    get = send(conn)
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(stray + ok())
    assert not conn.is_answering() and conn.unanswered() == Unanswered([get], [])


def test_stray_bytes_before_a_post_answer_fail_it(make: Any) -> None:
    # The POST may have been acted on (waitress answers it after the stray bytes):
    # never sent again, even with replay_unsafe.
    conn = proven(make)
    post = send(conn, b"POST")
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(b"hello" + ok())
    assert conn.is_answering()
    assert conn.unanswered(replay_unsafe=True) == Unanswered([], [post])


def test_data_while_idle_breaks_the_connection(make: Any) -> None:
    conn = proven(make)
    with pytest.raises(RemoteProtocolError, match="no request in flight") as info:
        conn.receive_data(b"HTTP/1.1 408 Request Timeout\r\n")
    assert info.value.parse_error is None and conn.state is BROKEN
    assert conn.unanswered() == ([], [])


def test_an_extra_answer_breaks_the_connection(make: Any) -> None:
    conn = make()
    send(conn)
    with pytest.raises(RemoteProtocolError, match="no request in flight") as info:
        conn.receive_data(ok(b"1") + ok(b"2"))
    assert summary(info.value.events) == [("resp", 0, 200), ("data", 0, b"1"), ("end", 0)]
    assert conn.state is BROKEN


@pytest.mark.parametrize("split", [False, True])
def test_waitress_body_after_head(make: Any, split: bool) -> None:
    # waitress 3.0 writes the body after its answer to HEAD (REAL-SERVERS.md).
    conn = make()
    send(conn, b"HEAD")
    head = response(200, content_length=5)
    if split:  # the body comes in a later read, while the connection looks idle
        assert summary(conn.receive_data(head)) == [("resp", 0, 200), ("end", 0)]
        with pytest.raises(RemoteProtocolError):
            conn.receive_data(b"hello")
    else:
        with pytest.raises(RemoteProtocolError) as info:
            conn.receive_data(head + b"hello")
        assert summary(info.value.events) == [("resp", 0, 200), ("end", 0)]  # the answer is good
    assert conn.state is BROKEN and not conn.is_reusable


def test_waitress_body_after_a_pipelined_head(make: Any) -> None:
    conn = proven(make, pipeline_depth=4)
    head_id, get_id, last_id = send(conn, b"HEAD"), send(conn), send(conn)
    with pytest.raises(RemoteProtocolError) as info:
        conn.receive_data(response(200, content_length=5) + b"hello" + ok())
    assert summary(info.value.events) == [("resp", head_id, 200), ("end", head_id)]
    # The GET met the stray bytes where its answer should start: they are no answer,
    # and it may be sent again (GET is idempotent: RFC 9110 §9.2.2).
    assert conn.unanswered() == Unanswered([get_id, last_id], [])


# -- 1xx, Upgrade and CONNECT ---------------------------------------------------------------

UPGRADE = [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")]


def test_101_switches_protocols(make: Any) -> None:
    conn = make()
    rid = send(conn, headers=UPGRADE)
    switch = response(101, headers=UPGRADE, framing="none")
    assert summary(conn.receive_data(switch + b"\x81\x05hello")) == [("info", rid, 101)]
    assert conn.state is SWITCHED and conn.in_flight == 0
    assert conn.trailing_data == b"\x81\x05hello"
    assert not conn.can_send(b"GET") and not conn.is_reusable
    with pytest.raises(ConnectionStateError, match="switched"):
        conn.receive_data(b"more")
    assert conn.receive_eof() == [] and conn.state is SWITCHED
    conn.close()
    assert conn.state is SWITCHED and conn.unanswered() == ([], [])


def test_101_split_before_the_switch(make: Any, feed: Any) -> None:
    conn = make()
    send(conn, headers=UPGRADE)
    assert feed(conn, response(101, headers=UPGRADE, framing="none")) == [("info", 0, 101)]
    assert conn.state is SWITCHED and conn.trailing_data == b""


def test_101_without_upgrade_is_an_error(make: Any) -> None:
    conn = make()
    send(conn)
    with pytest.raises(RemoteProtocolError, match="without Upgrade"):
        conn.receive_data(response(101, headers=UPGRADE, framing="none"))
    assert conn.state is BROKEN


def test_declined_upgrade_keeps_the_connection(make: Any, feed: Any) -> None:
    conn = make()
    send(conn, headers=UPGRADE)
    assert feed(conn, ok()) == [("resp", 0, 200), ("data", 0, b"ok"), ("end", 0)]
    assert conn.is_idle


def test_connect_tunnel(make: Any) -> None:
    conn = make()
    rid = send(conn, b"CONNECT", b"example.com:443")
    got = conn.receive_data(response(200, framing="none") + b"\x16\x03\x01")
    assert summary(got) == [("resp", rid, 200), ("end", rid)]
    assert conn.state is SWITCHED and conn.trailing_data == b"\x16\x03\x01"


def test_refused_connect_keeps_http(make: Any, feed: Any) -> None:
    conn = make()
    send(conn, b"CONNECT", b"example.com:443")
    assert feed(conn, response(407, b"auth")) == [("resp", 0, 407), ("data", 0, b"auth"), ("end", 0)]
    assert conn.is_idle


def test_100_continue_passes_through(make: Any, feed: Any) -> None:
    conn = make()
    rid, head = conn.send_request(b"PUT", b"/f", [], host=HOST, body_length=5, expect_continue=True)
    assert b"\r\nExpect: 100-continue\r\n" in head
    assert feed(conn, response(100, framing="none")) == [("info", rid, 100)]
    assert conn.state is ACTIVE and conn.in_flight == 1
    assert conn.send_body(rid, b"hello") == b"hello" and conn.end_body(rid) == b""
    assert feed(conn, response(201, b"")) == [("resp", rid, 201), ("end", rid)]
    assert conn.is_idle


def test_103_early_hints_pass_through(make: Any, feed: Any) -> None:
    conn = make()
    send(conn)
    hints = response(103, headers=[(b"Link", b"</s.css>; rel=preload")], framing="none")
    assert feed(conn, hints + ok()) == [("info", 0, 103), ("resp", 0, 200), ("data", 0, b"ok"),
                                        ("end", 0)]


@pytest.mark.parametrize("then", ["write the body", "close"])
def test_final_answer_before_the_body(make: Any, then: str) -> None:
    # RFC 9110 §10.1.1: a final status instead of 100; the client sends the body or closes.
    conn = make()
    rid, _ = conn.send_request(b"POST", b"/up", [], host=HOST, body_length=3, expect_continue=True)
    conn.receive_data(response(417, b""))
    assert conn.in_flight == 0 and conn.state is ACTIVE and not conn.is_idle
    assert not conn.can_send(b"GET")  # the server still expects 3 bytes of content
    if then == "close":
        conn.close()
        assert conn.state is CLOSED and conn.unanswered() == ([], [])
        with pytest.raises(ConnectionStateError):
            conn.send_body(rid, b"abc")
    else:
        conn.send_body(rid, b"abc")
        conn.end_body(rid)
        assert conn.is_idle


def test_caller_expect_field_is_not_doubled(make: Any) -> None:
    conn = make()
    _, head = conn.send_request(b"POST", b"/", [(b"Expect", b"100-continue")], host=HOST,
                                body_length=1, expect_continue=True)
    assert head.lower().count(b"expect") == 1


def test_expect_needs_content(make: Any) -> None:
    conn = make()
    with pytest.raises(LocalProtocolError) as info:
        conn.send_request(b"GET", b"/", [], host=HOST, expect_continue=True)
    assert info.value.reason == EXPECT_WITHOUT_CONTENT and conn.in_flight == 0


# -- proxies ----------------------------------------------------------------------------------

@pytest.mark.parametrize("proxied", [False, True])
def test_proxy_connection_is_never_sent(make: Any, proxied: bool) -> None:
    conn = make(proxied=proxied)
    _, head = conn.send_request(b"GET", b"http://example.com/", [], host=HOST)
    assert b"proxy-connection" not in head.lower() and b"connection" not in head.lower()
    conn.receive_data(ok())
    with pytest.raises(LocalProtocolError) as info:
        send(conn, headers=[(b"Proxy-Connection", b"keep-alive")])
    assert info.value.reason == PROXY_CONNECTION and conn.in_flight == 0


# -- request bodies and misuse ------------------------------------------------------------

def test_content_length_body_is_counted(make: Any) -> None:
    conn = make()
    rid = send(conn, b"POST", body_length=4)
    assert conn.state is ACTIVE
    with pytest.raises(LocalProtocolError) as info:
        conn.send_body(rid, b"12345")
    assert info.value.reason == BODY_TOO_LONG
    assert conn.send_body(rid, bytearray(b"12")) == b"12"
    with pytest.raises(LocalProtocolError) as info:
        conn.end_body(rid)
    assert info.value.reason == BODY_TOO_SHORT
    assert conn.send_body(rid, memoryview(b"34")) == b"34"
    with pytest.raises(LocalProtocolError) as info:
        conn.end_body(rid, [(b"X-Sum", b"1")])
    assert info.value.reason == TRAILERS_NEED_CHUNKED
    assert conn.end_body(rid) == b""
    with pytest.raises(ConnectionStateError):
        conn.end_body(rid)


def test_chunked_body_with_trailers(make: Any) -> None:
    conn = make()
    rid = send(conn, b"POST", chunked=True, body_length=None)
    assert conn.send_body(rid, b"") == b""
    assert conn.end_body(rid, [(b"X-Sum", b"0")]) == b"0\r\nX-Sum: 0\r\n\r\n"


def test_body_of_another_request_is_refused(make: Any) -> None:
    conn = make()
    rid = send(conn)  # bodiless: nothing to write
    with pytest.raises(ConnectionStateError, match="no content"):
        conn.send_body(rid, b"x")


def test_a_refused_head_records_nothing(make: Any) -> None:
    conn = make()
    with pytest.raises(LocalProtocolError):
        conn.send_request(b"HEAD", b"no-slash", [], host=HOST)
    assert conn.in_flight == 0 and conn.is_idle
    send(conn)  # had HEAD reached the parser's queue, this body would be lost
    assert summary(conn.receive_data(ok(b"body"))) == [("resp", 0, 200), ("data", 0, b"body"),
                                                       ("end", 0)]


def test_misuse(make: Any) -> None:
    with pytest.raises(ValueError):
        make(pipeline_depth=0)
    conn = make()
    with pytest.raises(ConnectionStateError, match="idle"):
        conn.unanswered()
    assert conn.receive_data(b"") == []
    conn.receive_eof()
    assert conn.state is CLOSED and conn.receive_eof() == []
    with pytest.raises(ConnectionStateError, match="closed"):
        conn.receive_data(b"x")
    assert "closed" in repr(conn)


def test_default_parser_is_the_selected_twin() -> None:
    conn = Connection()
    assert type(conn._parser) is hopwire.ResponseParser


def test_a_parser_of_the_other_twin_or_kind_is_refused() -> None:
    others = [parser_py.RequestParser()]
    if hopwire.ResponseParser is not parser_py.ResponseParser:  # the C twin is selected
        others.append(parser_py.ResponseParser())
    for other in others:
        with pytest.raises(TypeError, match="must be a hopwire.ResponseParser"):
            Connection(parser=other)


# -- property: random interleavings against a model --------------------------------------------

METHODS = [b"GET", b"HEAD", b"OPTIONS", b"POST", b"PUT", b"DELETE"]


@dataclass
class Plan:
    """How the server answers one request."""

    version: bytes
    status: int
    framing: str  # "length", "chunked" or "close"
    close: bool
    body: bytes


plans = st.builds(
    Plan,
    version=st.sampled_from([b"1.1"] * 9 + [b"1.0"]),
    status=st.sampled_from([200, 200, 404, 204, 304]),
    framing=st.sampled_from(["length"] * 8 + ["chunked"] * 3 + ["close"]),
    close=st.sampled_from([False] * 15 + [True]),
    body=st.binary(max_size=6),
)


@dataclass
class Server:
    """Answers complete requests in order, following its plans; may stop or cut an answer."""

    plans: list[Plan]
    limit: int | None  # keep-alive requests per connection (Keep-Alive: max=)
    constant_max: bool  # node-style max (a constant total) or apache-style (counting down)
    cut_at: int | None  # the answer it cuts short (then closes)
    cut_keep: int  # bytes of that answer it sends
    received: list[tuple[int, bytes, bool]] = field(default_factory=list)  # (id, method, complete)
    out: bytes = b""
    answered: int = 0
    stopped: bool = False
    cut_sent: int = 0  # bytes sent of the answer it cut
    # id -> (status, body, whether the answer keeps the connection)
    expected: dict[int, tuple[int, bytes, bool]] = field(default_factory=dict)

    def produce(self) -> None:
        while not self.stopped and self.answered < len(self.received):
            rid, method, complete = self.received[self.answered]
            if not complete:
                return
            self.out += self.answer(rid, method)
            self.answered += 1

    def answer(self, rid: int, method: bytes) -> bytes:
        plan = self.plans[rid % len(self.plans)]
        bodiless = method == b"HEAD" or plan.status in (204, 304)
        framing = "length" if bodiless or (plan.version == b"1.0" and plan.framing == "chunked") \
            else plan.framing
        cut = rid == self.cut_at
        if cut and framing == "close":
            framing = "length"
        last = self.limit is not None and rid >= self.limit - 1
        keeps = not (plan.close or last or framing == "close")
        headers = [(b"X-Id", b"%d" % rid)]
        if not keeps and framing != "close":
            headers.append((b"Connection", b"close"))
        elif keeps and plan.version == b"1.0":
            headers.append((b"Connection", b"keep-alive"))
        if keeps and self.limit is not None:
            max_ = self.limit if self.constant_max else self.limit - rid
            headers.append((b"Keep-Alive", b"timeout=5, max=%d" % max_))
        body = b"" if bodiless else plan.body
        data = response(plan.status, body, version=plan.version, headers=headers, framing=framing,
                        content_length=len(plan.body) if method == b"HEAD" else None)
        self.expected[rid] = (plan.status, body, keeps)
        if cut:
            self.stopped = True
            self.cut_sent = self.cut_keep % len(data)
            return data[:self.cut_sent]
        self.stopped = not keeps
        return data


@dataclass
class Model:
    """The rules of issue 3, kept from what the test itself knows."""

    depth: int
    next_id: int = 0
    in_flight: list[tuple[int, bytes, bool]] = field(default_factory=list)  # (id, method, barrier)
    body_open: tuple[int, int] | None = None  # (id, content length) of a body not yet written
    proven: bool = False
    closing: bool = False
    limit: int | None = None
    ended: bool = False
    started: set[int] = field(default_factory=set)
    completed: list[int] = field(default_factory=list)

    def allows(self, method: bytes, barrier: bool) -> bool:
        if self.ended or self.closing or self.body_open is not None:
            return False
        if self.limit is not None and self.next_id >= self.limit:
            return False
        if not self.in_flight:
            return True
        safe = _rules.SAFE_METHODS
        return (self.depth > 1 and self.proven and len(self.in_flight) < self.depth
                and method in safe and not barrier
                and all(m in safe and not b for _, m, b in self.in_flight))


def check_events(model: Model, server: Server, tagged: Sequence[tuple[int, Any]],
                 bodies: dict[int, bytes]) -> None:
    """Each event belongs to the oldest request in flight; update the model."""
    for rid, ev in tagged:
        assert model.in_flight and rid == model.in_flight[0][0], (rid, model.in_flight)
        model.started.add(rid)
        kind = type(ev).__name__
        status, body, keeps = server.expected[rid]
        if kind == "Response":
            assert dict(ev.headers)[b"x-id"] == b"%d" % rid
            assert ev.status_code == status
            if not keeps:
                model.closing = True
            elif ev.http_version == b"1.1":
                model.proven = True
            if keeps and server.limit is not None and model.limit is None:
                model.limit = server.limit
        elif kind == "Data":
            bodies[rid] = bodies.get(rid, b"") + bytes(ev.data)
        else:
            assert kind == "EndOfMessage"
            assert bodies.get(rid, b"") == body
            model.in_flight.pop(0)
            model.completed.append(rid)
            if model.closing or (model.limit is not None and model.next_id >= model.limit
                                 and not model.in_flight):
                model.ended = True


def check_can_send(conn: Connection, model: Model) -> None:
    for method in METHODS:
        for barrier in (False, True):
            assert conn.can_send(method, expect_continue=barrier) is model.allows(method, barrier), \
                (method, barrier, model, conn)


PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.slow  # a long hypothesis run
@PROPERTY
@given(data=st.data())
def test_random_interleavings_follow_the_rules(twin: ModuleType, data: st.DataObject) -> None:
    depth = data.draw(st.integers(1, 5), "depth")
    limit = data.draw(st.sampled_from([None] * 8 + list(range(1, 9))), "limit")
    cut_at = data.draw(st.sampled_from([None] * 12 + list(range(12))), "cut_at")
    server = Server(data.draw(st.lists(plans, min_size=1, max_size=8), "plans"), limit,
                    data.draw(st.booleans(), "constant max"), cut_at,
                    data.draw(st.integers(0, 200), "cut_keep"))
    conn = Connection(pipeline_depth=depth, parser=twin.ResponseParser())
    model = Model(depth)
    bodies: dict[int, bytes] = {}
    for _ in range(data.draw(st.integers(10, 80), "steps")):
        check_can_send(conn, model)
        assert conn.in_flight == len(model.in_flight)
        action = data.draw(st.sampled_from(["send"] * 3 + ["body", "deliver", "deliver", "eof"]))
        if action == "send":
            method = data.draw(st.sampled_from([b"GET", b"GET"] + METHODS))
            # A GET may carry content too: then only its unfinished body blocks a pipeline.
            length = data.draw(st.integers(0, 3)) if method in (b"POST", b"PUT", b"GET") else 0
            expect = length > 0 and data.draw(st.booleans())
            if not model.allows(method, expect):
                with pytest.raises(ConnectionStateError):
                    conn.send_request(method, b"/", [], host=HOST, body_length=length,
                                      expect_continue=expect)
                continue
            rid, _ = conn.send_request(method, b"/", [], host=HOST, body_length=length,
                                       expect_continue=expect)
            assert rid == model.next_id
            model.next_id += 1
            model.in_flight.append((rid, method, expect))
            event(f"pipelined {min(len(model.in_flight), 3)}")
            server.received.append((rid, method, length == 0))
            if length:
                model.body_open = (rid, length)
        elif action == "body" and model.body_open is not None:
            rid, length = model.body_open
            if model.ended:  # the connection closed under the upload: the driver stops
                with pytest.raises(ConnectionStateError):
                    conn.send_body(rid, b"x" * length)
                continue
            assert conn.send_body(rid, b"x" * length) == b"x" * length
            assert conn.end_body(rid) == b""
            model.body_open = None
            server.received[rid] = (rid, server.received[rid][1], True)
        elif action == "deliver":
            server.produce()
            if server.out:
                n = data.draw(st.sampled_from([len(server.out)] * 2 + [0])) or \
                    data.draw(st.integers(1, len(server.out)))  # all, or a random prefix
                piece, server.out = server.out[:n], server.out[n:]
                check_events(model, server, conn.receive_data(piece), bodies)
        elif action == "eof" and server.stopped and not server.out:
            break
    server.produce()  # the rest of what the server has to say, then its close if it stops
    check_events(model, server, conn.receive_data(server.out), bodies)
    if server.stopped:
        finish(conn, model, server, bodies)


def finish(conn: Connection, model: Model, server: Server, bodies: dict[int, bytes]) -> None:
    """The server closed: every request was answered once, or is classified."""
    # The answer cut after some bytes: the one request whose answer started unseen by events.
    waiting = [r for r, _, _ in model.in_flight]
    partial = {server.cut_at} if server.cut_sent and server.cut_at in waiting else set()
    try:
        check_events(model, server, conn.receive_eof(), bodies)
    except RemoteProtocolError:
        event("cut inside an answer")
        assert partial and conn.state is BROKEN
    else:
        assert not partial and conn.state is CLOSED
    in_flight = [r for r, _, _ in model.in_flight]
    replay, fail = conn.unanswered()
    event(f"closed with {min(len(replay), 2)} replayable, {min(len(fail), 2)} failed")
    assert replay == [r for r, m, _ in model.in_flight if m in _rules.IDEMPOTENT_METHODS
                      and r not in model.started and r not in partial]
    assert fail == [r for r in in_flight if r not in replay]
    assert sorted(model.completed + replay + fail) == list(range(model.next_id))
    assert not conn.can_send(b"GET") and not conn.is_reusable


# -- receive_into: receive_data and Link.dispatch in one ------------------------------

def _links_state(link: Any, exchanges: list[Any]) -> Any:
    return (link.conn.answered, sorted(link.exchanges),
            [(ex.rid, ex.ended, ex.buffered, summary([(ex.rid, e) for e in ex.events]))
             for ex in exchanges])


@pytest.mark.parametrize("pieces", [1, 7, 10_000])
@pytest.mark.parametrize("gone", [None, 1])
@pytest.mark.parametrize("tail", [b"", b"garbage\r\n\r\n"])
def testreceive_into_matches_receive_data_then_dispatch(pieces: int, gone: int | None,
                                                         tail: bytes) -> None:
    """What `receive_into` hands each exchange is what `receive_data` + `Link.dispatch`
    would: every piece size, an exchange whose caller went away, a protocol error.
    (With the parser twin the pools use: `Link.dispatch` knows the events of that one.)"""
    from hopwire._pool.base import Link
    from hopwire._pool.exchange import Exchange
    from hopwire._pool.models import ExchangeInfo

    answers = (response(103, framing="none") + ok(b"first") + ok(b"x" * 300, framing="chunked")
               + response(204, framing="none") + ok(b"last") + tail)
    links = []
    made: list[list[Any]] = []
    for _ in range(2):
        link = Link(proven(Connection, pipeline_depth=8), 1, False)
        made.append([])
        for _ in range(4):
            ex = Exchange(ExchangeInfo(1, True, 0, False))
            ex.rid = send(link.conn)
            made[-1].append(ex)
            if ex.rid != gone:
                link.exchanges[ex.rid] = ex
        links.append(link)
    size = max(1, len(answers) // pieces)
    for into, link in enumerate(links):
        for i in range(0, len(answers), size):
            try:
                if into:
                    link.conn.receive_into(answers[i:i + size], link.exchanges)
                else:
                    link.dispatch(link.conn.receive_data(answers[i:i + size]))
            except hopwire.RemoteProtocolError as exc:
                link.dispatch(exc.events)
                break
    plain, fused = links
    assert _links_state(fused, made[1]) == _links_state(plain, made[0])
    assert fused.conn.state is plain.conn.state
    assert plain.conn.answered == 5 and not plain.exchanges
