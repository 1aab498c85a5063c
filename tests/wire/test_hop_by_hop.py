"""Hop-by-hop fields (RFC 9110 §7.6.1), Keep-Alive parameters and the parser's
strip_hop_by_hop option, for both twins."""

from __future__ import annotations

import pytest

from hopwire._wire import rules as R
from support.parsing import assert_splits_agree, body, end, info, req, resp

NINE = [
    (b"Connection", b"x-keep"),
    (b"Keep-Alive", b"timeout=5"),
    (b"Proxy-Connection", b"keep-alive"),
    (b"TE", b"trailers"),
    (b"Trailer", b"Expires"),
    (b"Transfer-Encoding", b"chunked"),
    (b"Upgrade", b"websocket"),
    (b"Proxy-Authenticate", b"Basic"),
    (b"Proxy-Authorization", b"Basic Zm9vOmJhcg=="),
]


def test_rules_name_exactly_nine_hop_by_hop_fields():
    assert R.HOP_BY_HOP == {name.lower() for name, _ in NINE}


FILTER_CASES = [
    pytest.param([], [], id="empty"),
    pytest.param(NINE + [(b"Host", b"h")], [(b"Host", b"h")], id="the-nine-names"),
    pytest.param([(n.lower(), v) for n, v in NINE] + [(b"host", b"h")], [(b"host", b"h")],
                 id="the-nine-names-lower-case"),
    pytest.param([(n.upper(), v) for n, v in NINE], [], id="the-nine-names-upper-case"),
    pytest.param([(b"Accept", b"a"), (b"Connection", b"close"), (b"X-A", b"1"), (b"accept", b"b"),
                  (b"X-A", b"2"), (b"Keep-Alive", b"max=1"), (b"Accept", b"a")],
                 [(b"Accept", b"a"), (b"X-A", b"1"), (b"accept", b"b"), (b"X-A", b"2"),
                  (b"Accept", b"a")], id="order-and-duplicates-kept"),
    pytest.param([(b"X-Foo", b"1"), (b"Connection", b"x-foo, X-Bar"), (b"x-bar", b"2"),
                  (b"X-Baz", b"3")],
                 [(b"X-Baz", b"3")], id="connection-options-comma-list"),
    pytest.param([(b"X-FOO", b"1"), (b"connection", b"X-foo"), (b"x-Foo", b"2")], [],
                 id="connection-options-mixed-case"),
    pytest.param([(b"Connection", b" \tx-foo \t,\t x-bar\t "), (b"X-Foo", b"1"),
                  (b"X-Bar", b"2"), (b"X-Baz", b"3")],
                 [(b"X-Baz", b"3")], id="connection-options-ows"),
    pytest.param([(b"Connection", b",, ,x-foo,,"), (b"X-Foo", b"1"), (b"X-Baz", b"3")],
                 [(b"X-Baz", b"3")], id="connection-options-empty-tokens"),
    pytest.param([(b"Connection", b""), (b"X-Baz", b"3")], [(b"X-Baz", b"3")],
                 id="empty-connection-field"),
    pytest.param([(b"Connection", b"x-a"), (b"X-A", b"1"), (b"X-B", b"2"), (b"X-C", b"3"),
                  (b"connection", b"x-b"), (b"CONNECTION", b"keep-alive, X-C")],
                 [], id="repeated-connection-fields"),
    pytest.param([(b"Cookie", b"c"), (b"Connection", b"cookie"), (b"Host", b"h")],
                 [(b"Host", b"h")], id="connection-may-name-any-field"),
    pytest.param([(b"Proxy-Connection", b"x-foo"), (b"X-Foo", b"1")], [(b"X-Foo", b"1")],
                 id="proxy-connection-names-no-options"),
    pytest.param([(b"X-Foo", b"Connection, keep-alive"), (b"Keep-Alive-X", b"1"),
                  (b"Connectionx", b"x-foo")],
                 [(b"X-Foo", b"Connection, keep-alive"), (b"Keep-Alive-X", b"1"),
                  (b"Connectionx", b"x-foo")], id="only-whole-names-match"),
    pytest.param([(b"Connection", b"close"), (b"X", b"")], [(b"X", b"")], id="values-untouched"),
]


@pytest.mark.parametrize(("headers", "kept"), FILTER_CASES)
def test_filter_hop_by_hop(twin, headers, kept):
    before = list(headers)
    out = twin.filter_hop_by_hop(headers)
    assert out == kept
    assert type(out) is list and all(type(pair) is tuple for pair in out)
    assert headers == before, "the input must not be modified"


@pytest.mark.parametrize(("headers", "kept"), FILTER_CASES)
def test_filter_hop_by_hop_takes_any_iterable(twin, headers, kept):
    assert twin.filter_hop_by_hop(iter(headers)) == kept
    assert twin.filter_hop_by_hop(tuple(headers)) == kept


def test_header_names_must_be_bytes(twin):
    with pytest.raises(TypeError):
        twin.filter_hop_by_hop([("Connection", "close")])
    with pytest.raises(TypeError):
        twin.connection_tokens([("Connection", "close")])


@pytest.mark.parametrize(("headers", "tokens"), [
    pytest.param([], [], id="none"),
    pytest.param([(b"Host", b"h")], [], id="no-connection-field"),
    pytest.param([(b"Connection", b"Keep-Alive, Upgrade")], [b"keep-alive", b"upgrade"],
                 id="lower-cased"),
    pytest.param([(b"connection", b" \tclose\t ,, X-A ,")], [b"close", b"x-a"],
                 id="ows-and-empty-tokens"),
    pytest.param([(b"Connection", b"a"), (b"X", b"b"), (b"CONNECTION", b"c, a")],
                 [b"a", b"c", b"a"], id="every-field-in-order"),
    pytest.param([(b"Proxy-Connection", b"close")], [], id="proxy-connection-ignored"),
])
def test_connection_tokens(twin, headers, tokens):
    assert twin.connection_tokens(headers) == tokens


@pytest.mark.parametrize(("value", "result"), [
    pytest.param(b"timeout=5, max=100", (5, 100), id="both"),
    pytest.param(b"timeout=5", (5, None), id="timeout-only"),
    pytest.param(b"max=100", (None, 100), id="max-only"),
    pytest.param(b"max=100, timeout=5", (5, 100), id="any-order"),
    pytest.param(b'timeout="5", max="100"', (5, 100), id="quoted"),
    pytest.param(b"  timeout = 5 ,\tmax\t=\t100  ", (5, 100), id="spaces"),
    pytest.param(b"Timeout=5, MAX=7", (5, 7), id="case-insensitive-names"),
    pytest.param(b"timeout=0, max=0", (0, 0), id="zero"),
    pytest.param(b"foo, timeout=3, bar=4", (3, None), id="other-parameters-ignored"),
    pytest.param(b"timeout=5, timeout=6", (5, None), id="first-wins"),
    pytest.param(b"", (None, None), id="empty"),
    pytest.param(b"foo=bar", (None, None), id="missing"),
    pytest.param(b"timeout", (None, None), id="no-value"),
    pytest.param(b"timeout=", (None, None), id="empty-value"),
    pytest.param(b"timeout=abc, max=x1", (None, None), id="not-a-number"),
    pytest.param(b"timeout=5s", (None, None), id="unit-suffix"),
    pytest.param(b"timeout=1.5", (None, None), id="fraction"),
    pytest.param(b"timeout=-1, max=-5", (None, None), id="negative"),
    pytest.param(b"timeout=+1", (None, None), id="plus-sign"),
    pytest.param(b"timeout=1_0", (None, None), id="underscore"),
    pytest.param(b'timeout="5', (None, None), id="unbalanced-quote"),
    pytest.param(b"timeout=\xd9\xa3", (None, None), id="non-ascii-digit"),
    pytest.param(b"timeout=999999999999999999", (999999999999999999, None), id="18-digits"),
    pytest.param(b"timeout=9999999999999999999, max=" + b"1" * 40, (None, None), id="huge"),
    pytest.param("timeout=5, max=100", (5, 100), id="str"),
])
def test_parse_keep_alive(twin, value, result):
    assert twin.parse_keep_alive(value) == result


# -- the parser option ---------------------------------------------------------

STRIP = {"strip_hop_by_hop": True}


def test_request_fields_split_into_end_to_end_and_hop(twin):
    raw = (b"POST /p HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Trace\r\nKeep-Alive: timeout=5\r\n"
           b"X-Trace: 1\r\nTE: trailers\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\n"
           b"Proxy-Authorization: Basic x\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    out = assert_splits_agree(twin, "request", raw, **STRIP)
    assert out.events == [
        req(b"POST", b"/p", [(b"host", b"h"), (b"accept", b"*/*")],
            content_length=None, chunked=True,
            hop_headers=[(b"connection", b"keep-alive, X-Trace"), (b"keep-alive", b"timeout=5"),
                         (b"x-trace", b"1"), (b"te", b"trailers"),
                         (b"transfer-encoding", b"chunked"),
                         (b"proxy-authorization", b"Basic x")]),
        body(b"abc"), end()]


@pytest.mark.parametrize(("version", "fields", "keep_alive"), [
    pytest.param(b"1.1", b"Connection: close\r\n", False, id="1.1-close"),
    pytest.param(b"1.1", b"Proxy-Connection: close\r\n", False, id="1.1-proxy-connection-close"),
    pytest.param(b"1.0", b"Connection: keep-alive\r\n", True, id="1.0-keep-alive"),
    pytest.param(b"1.0", b"Proxy-Connection: keep-alive\r\n", True, id="1.0-proxy-keep-alive"),
])
def test_keep_alive_decided_before_filtering(twin, version, fields, keep_alive):
    raw = b"GET / HTTP/" + version + b"\r\nHost: h\r\n" + fields + b"\r\n"
    out = assert_splits_agree(twin, "request", raw, **STRIP)
    head = out.events[0][1]
    assert head["keep_alive"] is keep_alive
    assert head["headers"] == [(b"host", b"h")]
    name, _, value = fields.rstrip(b"\r\n").partition(b": ")
    assert head["hop_headers"] == [(name.lower(), value)]


def test_upgrade_decided_before_filtering(twin):
    raw = (b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\nframes")
    out = assert_splits_agree(twin, "request", raw, **STRIP)
    assert out.events == [
        req(b"GET", b"/chat", [(b"host", b"h"), (b"sec-websocket-version", b"13")], upgrade=True,
            hop_headers=[(b"upgrade", b"websocket"), (b"connection", b"Upgrade")]),
        end()]
    assert out.upgraded and out.trailing_data == b"frames"


def test_nothing_to_strip_gives_empty_hop_headers(twin):
    out = assert_splits_agree(twin, "request", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", **STRIP)
    assert out.events == [req(b"GET", b"/", [(b"host", b"h")], hop_headers=[]), end()]


def test_connection_option_named_before_connection_field(twin):
    raw = b"GET / HTTP/1.1\r\nX-A: 1\r\nHost: h\r\nX-B: 2\r\nConnection: x-a,x-b\r\nX-A: 3\r\n\r\n"
    out = assert_splits_agree(twin, "request", raw, **STRIP)
    head = out.events[0][1]
    assert head["headers"] == [(b"host", b"h")]
    assert head["hop_headers"] == [(b"x-a", b"1"), (b"x-b", b"2"), (b"connection", b"x-a,x-b"),
                                   (b"x-a", b"3")]


def test_without_the_option_hop_headers_is_none(twin):
    out = assert_splits_agree(twin, "request", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert out.events[0][1]["hop_headers"] is None
    assert out.events[0][1]["headers"] == [(b"connection", b"close")]


def test_response_fields_split(twin):
    raw = (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5, max=99\r\n"
           b"Content-Length: 2\r\nProxy-Authenticate: Basic\r\n\r\nok"
           b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n"
           b"Date: x\r\n\r\n")
    out = assert_splits_agree(twin, "response", raw, **STRIP)
    assert out.events == [
        resp(200, b"OK", [(b"content-length", b"2")], http_version=b"1.0", content_length=2,
             hop_headers=[(b"connection", b"Keep-Alive"), (b"keep-alive", b"timeout=5, max=99"),
                          (b"proxy-authenticate", b"Basic")]),
        body(b"ok"), end(),
        info(101, b"Switching Protocols", [(b"date", b"x")], upgrade=True,
             hop_headers=[(b"upgrade", b"h2c"), (b"connection", b"upgrade")]),
    ]


def test_response_chunked_framing_survives_filtering(twin):
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
           b"2\r\nhi\r\n0\r\nX-Sum: 1\r\n\r\n")
    out = assert_splits_agree(twin, "response", raw, **STRIP)
    assert out.events == [
        resp(200, b"OK", [], content_length=None, chunked=True,
             hop_headers=[(b"transfer-encoding", b"chunked"), (b"trailer", b"X-Sum")]),
        body(b"hi"), end([(b"x-sum", b"1")])]
