"""RequestParser: accepted messages and every rejection rule, for both twins.

Every case is parsed whole, byte by byte, as a bytearray / memoryview, and cut
in two at every position; all of these must give the same events or the same
error (reason, status hint and offset).
"""

from __future__ import annotations

from typing import Any

import pytest

import hopwire
from hopwire._wire import rules as R
from support.parsing import (
    assert_same,
    assert_splits_agree,
    body,
    end,
    make_parser,
    parse,
    parse_whole,
    req,
)

# -- accepted messages ---------------------------------------------------------


def ok(id: str, raw: bytes, events: list, *, trailing: bytes = b"", **options: Any):
    return pytest.param(raw, events, trailing, options, id=id)


BROWSER_GET = (
    b"GET /search?q=hopwire&lang=en HTTP/1.1\r\n"
    b"Host: www.example.com\r\n"
    b"Connection: keep-alive\r\n"
    b'sec-ch-ua: "Chromium";v="124", "Not-A.Brand";v="99"\r\n'
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/124.0.0.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
    b"Cookie: a=1; b=2\r\n"
    b"\r\n"
)
BROWSER_HEADERS = [
    (b"host", b"www.example.com"),
    (b"connection", b"keep-alive"),
    (b"sec-ch-ua", b'"Chromium";v="124", "Not-A.Brand";v="99"'),
    (b"upgrade-insecure-requests", b"1"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    b"Chrome/124.0.0.0 Safari/537.36"),
    (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"accept-language", b"en-US,en;q=0.9,de;q=0.8"),
    (b"cookie", b"a=1; b=2"),
]

CHUNKED = (
    b"POST /upload HTTP/1.1\r\n"
    b"Host: x\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Trailer: X-Checksum\r\n"
    b"\r\n"
    b"5;name=value\r\nhello\r\n"
    b'6;quoted="a \\"b\\" c";flag\r\n world\r\n'
    b"000A\r\n0123456789\r\n"
    b"0;last=1\r\n"
    b"X-Checksum: abc\r\n"
    b"X-Other: \t v \t\r\n"
    b"\r\n"
)

WEBSOCKET = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: keep-alive, Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
WS_HEADERS = [
    (b"host", b"example.com"),
    (b"upgrade", b"websocket"),
    (b"connection", b"keep-alive, Upgrade"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"sec-websocket-version", b"13"),
]

ACCEPTED = [
    ok("tiny-get", b"GET / HTTP/1.1\r\n\r\n", [req(b"GET", b"/"), end()]),
    ok("browser-get", BROWSER_GET,
       [req(b"GET", b"/search?q=hopwire&lang=en", BROWSER_HEADERS), end()]),
    ok("post-content-length",
       b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
       b"Content-Length: 11\r\n\r\nhello=world",
       [req(b"POST", b"/form", [(b"host", b"x"),
                                (b"content-type", b"application/x-www-form-urlencoded"),
                                (b"content-length", b"11")], content_length=11),
        body(b"hello=world"), end()]),
    ok("chunked-with-extensions-and-trailers", CHUNKED,
       [req(b"POST", b"/upload", [(b"host", b"x"), (b"transfer-encoding", b"chunked"),
                                  (b"trailer", b"X-Checksum")],
            content_length=None, chunked=True),
        body(b"hello world0123456789"),
        end([(b"x-checksum", b"abc"), (b"x-other", b"v")])]),
    ok("chunked-last-after-other-codings (RFC 9112 §6.3)",
       b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Deflate, CHUNKED\r\n\r\n"
       b"3\r\nabc\r\n0\r\n\r\n",
       [req(b"POST", b"/", [(b"transfer-encoding", b"gzip"),
                            (b"transfer-encoding", b"Deflate, CHUNKED")],
            content_length=None, chunked=True),
        body(b"abc"), end()]),
    ok("chunk-size-leading-zeros-and-upper-hex",
       b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000001\r\nA\r\n"
       b"0B\r\nhello world\r\n0000\r\n\r\n",
       [req(b"PUT", b"/", [(b"transfer-encoding", b"chunked")], content_length=None, chunked=True),
        body(b"Ahello world"), end()]),
    ok("largest-chunk-size-is-accepted",
       b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nabc",
       [req(b"PUT", b"/", [(b"transfer-encoding", b"chunked")], content_length=None, chunked=True),
        body(b"abc")]),
    ok("trailer-fields-do-not-affect-framing",
       b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
       b"Content-Length: 99\r\nTransfer-Encoding: gzip\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
       [req(b"POST", b"/", [(b"transfer-encoding", b"chunked")], content_length=None, chunked=True),
        body(b"x"), end([(b"content-length", b"99"), (b"transfer-encoding", b"gzip")]),
        req(b"GET", b"/next"), end()]),
    ok("pipelined",
       b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
       b"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
       b"HEAD /c HTTP/1.1\r\n\r\n"
       b"DELETE /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
       [req(b"GET", b"/a", [(b"host", b"x")]), end(),
        req(b"POST", b"/b", [(b"content-length", b"3")], content_length=3), body(b"abc"), end(),
        req(b"HEAD", b"/c"), end(),
        req(b"DELETE", b"/d", [(b"transfer-encoding", b"chunked")], content_length=None,
            chunked=True), body(b"hi"), end()]),
    ok("empty-lines-before-and-between-requests (RFC 9112 §2.2)",
       b"\r\n\r\nGET /a HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\n\r\n\r\n",
       [req(b"GET", b"/a"), end(), req(b"GET", b"/b"), end()]),
    ok("empty-and-whitespace-only-values",
       b"GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank:   \r\nX-Tab:\t\r\nX-Mixed: \t \t\r\n\r\n",
       [req(b"GET", b"/", [(b"x-empty", b""), (b"x-blank", b""), (b"x-tab", b""),
                           (b"x-mixed", b"")]), end()]),
    ok("values-stripped-inner-whitespace-kept-obs-text-kept",
       b"GET / HTTP/1.1\r\nX-A: \t a \t b  \t\r\nX-Utf8: D\xc3\xbcsseldorf\r\nX-High:\xff\x80\r\n\r\n",
       [req(b"GET", b"/", [(b"x-a", b"a \t b"), (b"x-utf8", b"D\xc3\xbcsseldorf"),
                           (b"x-high", b"\xff\x80")]), end()]),
    ok("names-lowercased-all-tchars",
       b"GET / HTTP/1.1\r\nHOST: h\r\nX-!#$%&'*+-.^_`|~09AZaz: v\r\n\r\n",
       [req(b"GET", b"/", [(b"host", b"h"), (b"x-!#$%&'*+-.^_`|~09azaz", b"v")]), end()]),
    ok("repeated-fields-kept-in-order",
       b"GET / HTTP/1.1\r\nAccept: a\r\nX: 1\r\naccept: b\r\nX: 2\r\n\r\n",
       [req(b"GET", b"/", [(b"accept", b"a"), (b"x", b"1"), (b"accept", b"b"), (b"x", b"2")]),
        end()]),
    ok("any-token-method-and-target-forms",
       b"OPTIONS * HTTP/1.1\r\n\r\n"
       b"M-SEARCH http://example.com:80/p?q#f HTTP/1.1\r\n\r\n"
       b"purge /~user/%20x HTTP/1.1\r\n\r\n",
       [req(b"OPTIONS", b"*"), end(),
        req(b"M-SEARCH", b"http://example.com:80/p?q#f"), end(),
        req(b"purge", b"/~user/%20x"), end()]),
    ok("http-1.0-closes-by-default", b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
       [req(b"GET", b"/", [(b"host", b"x")], http_version=b"1.0", keep_alive=False), end()]),
    ok("http-1.0-keep-alive",
       b"GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
       [req(b"GET", b"/a", [(b"connection", b"Keep-Alive")], http_version=b"1.0"), end(),
        req(b"GET", b"/b", http_version=b"1.0", keep_alive=False), end()]),
    ok("identical-content-length-repeated (RFC 9110 §8.6)",
       b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
       [req(b"POST", b"/", [(b"content-length", b"3"), (b"content-length", b"3")],
            content_length=3), body(b"abc"), end()]),
    ok("content-length-ows-and-leading-zeros",
       b"POST / HTTP/1.1\r\nContent-Length: \t 003 \t\r\n\r\nabc",
       [req(b"POST", b"/", [(b"content-length", b"003")], content_length=3), body(b"abc"), end()]),
    ok("content-length-leading-zeros-are-not-overflow",
       b"POST / HTTP/1.1\r\nContent-Length: 000000000000000000000000001\r\n\r\nx",
       [req(b"POST", b"/", [(b"content-length", b"000000000000000000000000001")],
            content_length=1), body(b"x"), end()]),
    ok("largest-content-length",
       b"POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\nab",
       [req(b"POST", b"/", [(b"content-length", b"9223372036854775807")],
            content_length=9223372036854775807), body(b"ab")]),
    ok("content-length-zero",
       b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
       [req(b"POST", b"/", [(b"content-length", b"0")]), end(), req(b"GET", b"/"), end()]),
    ok("websocket-upgrade-keeps-trailing-data", WEBSOCKET + b"\x81\x05hello",
       [req(b"GET", b"/chat", WS_HEADERS, upgrade=True), end()],
       trailing=b"\x81\x05hello"),
    ok("upgrade-after-body",
       b"POST / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 4\r\n\r\n"
       b"bodyPRI * HTTP/2.0\r\n",
       [req(b"POST", b"/", [(b"connection", b"upgrade"), (b"upgrade", b"h2c"),
                            (b"content-length", b"4")], content_length=4, upgrade=True),
        body(b"body"), end()],
       trailing=b"PRI * HTTP/2.0\r\n"),
    ok("upgrade-header-without-connection-token-is-ignored",
       b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
       [req(b"GET", b"/", [(b"upgrade", b"websocket")]), end(), req(b"GET", b"/2"), end()]),
    ok("connection-upgrade-without-upgrade-header-is-ignored",
       b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
       [req(b"GET", b"/", [(b"connection", b"upgrade")]), end(), req(b"GET", b"/2"), end()]),
    ok("connect-stops-after-head",
       b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x02\x00",
       [req(b"CONNECT", b"example.com:443", [(b"host", b"example.com:443")], upgrade=True), end()],
       trailing=b"\x16\x03\x01\x02\x00"),
    ok("connect-has-no-body-even-with-content-length",
       b"CONNECT a:1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello, tunnel",
       [req(b"CONNECT", b"a:1", [(b"content-length", b"5")], upgrade=True), end()],
       trailing=b"hello, tunnel"),
    ok("connect-close-still-switches",
       b"CONNECT a:1 HTTP/1.1\r\nConnection: close\r\n\r\nxyz",
       [req(b"CONNECT", b"a:1", [(b"connection", b"close")], keep_alive=False, upgrade=True),
        end()],
       trailing=b"xyz"),
    ok("request-line-of-max-line-size",
       b"GET /" + b"a" * 11 + b" HTTP/1.1\r\n\r\n",  # 25 bytes
       [req(b"GET", b"/" + b"a" * 11), end()], max_line_size=25),
    ok("field-line-of-max-line-size",
       b"GET / HTTP/1.1\r\nX: " + b"v" * 13 + b"\r\n\r\n",  # 16 bytes
       [req(b"GET", b"/", [(b"x", b"v" * 13)]), end()], max_line_size=16),
    ok("head-of-max-header-size",
       # 16 + 16 + 16 + 16 = 64 bytes of lines with their CRLFs; the final CRLF is not counted
       b"GET / HTTP/1.1\r\n" + b"X1: 0123456789\r\n" + b"X2: 0123456789\r\n"
       + b"X3: 0123456789\r\n" + b"\r\n",
       [req(b"GET", b"/", [(b"x1", b"0123456789"), (b"x2", b"0123456789"),
                           (b"x3", b"0123456789")]), end()],
       max_header_size=64),
    ok("leading-empty-lines-do-not-count-toward-head-size",
       b"\r\n" * 40 + b"GET / HTTP/1.1\r\nX1: 0123456789\r\n\r\n",
       [req(b"GET", b"/", [(b"x1", b"0123456789")]), end()], max_header_size=32),
    ok("max-headers-fields", b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
       [req(b"GET", b"/", [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]), end()], max_headers=3),
    ok("max-headers-counts-each-section-separately",
       b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n\r\n",
       [req(b"POST", b"/", [(b"transfer-encoding", b"chunked")], content_length=None,
            chunked=True), end([(b"t", b"1")])], max_headers=1),
]


@pytest.mark.parametrize(("raw", "events", "trailing", "options"), ACCEPTED)
def test_accepted(twin, raw, events, trailing, options):
    out = assert_splits_agree(twin, "request", raw, **options)
    assert out.error is None, out.error
    assert out.events == events
    assert out.trailing_data == trailing
    upgraded = any(name == "Request" and f["upgrade"] for name, f in events)
    assert out.upgraded == upgraded


KEEP_ALIVE = [
    # (id, version, header lines, keep_alive)
    ("1.1-default", b"1.1", b"", True),
    ("1.1-close", b"1.1", b"Connection: close\r\n", False),
    ("1.1-close-mixed-case-in-list", b"1.1", b"Connection: keep-alive, CLOSE\r\n", False),
    ("1.1-close-in-second-connection-field", b"1.1",
     b"Connection: keep-alive\r\nConnection: foo, close\r\n", False),
    ("1.1-close-with-ows", b"1.1", b"Connection: \t foo ,\tclose \t\r\n", False),
    ("1.1-proxy-connection-close", b"1.1", b"Proxy-Connection: close\r\n", False),
    ("1.1-close-is-a-whole-token", b"1.1", b"Connection: closed, x-close\r\n", True),
    ("1.0-default", b"1.0", b"", False),
    ("1.0-keep-alive", b"1.0", b"Connection: keep-alive\r\n", True),
    ("1.0-keep-alive-mixed-case-in-list", b"1.0", b"Connection: foo, Keep-Alive\r\n", True),
    ("1.0-proxy-connection-keep-alive", b"1.0", b"Proxy-Connection: keep-alive\r\n", True),
    ("1.0-keep-alive-and-close", b"1.0", b"Connection: keep-alive, close\r\n", False),
    ("1.0-keep-alive-header-alone-is-not-enough", b"1.0", b"Keep-Alive: timeout=5\r\n", False),
]


@pytest.mark.parametrize(("version", "lines", "keep_alive"),
                         [pytest.param(*c[1:], id=c[0]) for c in KEEP_ALIVE])
def test_keep_alive_rules(twin, version, lines, keep_alive):
    """RFC 9112 §9.3: 1.1 persists unless `close`; 1.0 only with `keep-alive`."""
    raw = b"GET / HTTP/" + version + b"\r\n" + lines + b"\r\n"
    out = assert_splits_agree(twin, "request", raw)
    assert out.error is None
    assert [name for name, _ in out.events] == ["Request", "EndOfMessage"]
    assert out.events[0][1]["keep_alive"] is keep_alive
    nxt = parse_whole(twin, "request", raw + b"GET /next HTTP/1.1\r\n\r\n")
    if keep_alive:
        assert nxt.error is None and len(nxt.events) == 4
    else:
        assert nxt.rule == R.DATA_AFTER_CLOSE and nxt.offset == len(raw)


# -- rejections ----------------------------------------------------------------


def bad(id: str, raw: bytes, rule: tuple[str, int], at: int | bytes | tuple[bytes, int],
        **options: Any):
    """A rejected input; `at` is the offset, or the bytes (optionally + delta) it points at."""
    if isinstance(at, bytes):
        at = (at, 0)
    if isinstance(at, tuple):
        needle, delta = at
        assert raw.count(needle) >= 1, (id, needle)
        at = raw.index(needle) + delta
    return pytest.param(raw, rule, at, options, id=id)


POST = b"POST / HTTP/1.1\r\n"
GET = b"GET / HTTP/1.1\r\n"
CHUNKED_HEAD = POST + b"Transfer-Encoding: chunked\r\n\r\n"

FRAMING = [
    # Request smuggling: two framings in one request (CL.TE / TE.CL desync).
    bad("CL.TE-smuggling: content-length-then-transfer-encoding (RFC 9112 §6.3)",
        POST + b"Host: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
        R.CONTENT_LENGTH_WITH_TE, b"Transfer-Encoding"),
    bad("TE.CL-smuggling: transfer-encoding-then-content-length (RFC 9112 §6.3)",
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n",
        R.CONTENT_LENGTH_WITH_TE, b"Content-Length"),
    bad("CL.TE-smuggling: content-length-with-non-chunked-te",
        POST + b"Content-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        R.CONTENT_LENGTH_WITH_TE, b"Transfer-Encoding"),
    bad("CL.CL-smuggling: differing-content-length (RFC 9110 §8.6)",
        POST + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        R.CONFLICTING_CONTENT_LENGTH, (b"Content-Length: 4", 0)),
    bad("CL.CL-smuggling: content-length-list (RFC 9112 §6.3)",
        POST + b"Content-Length: 3, 3\r\n\r\nabc", R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-plus-sign [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b"Content-Length: +3\r\n\r\nabc",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-minus-sign [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b"Content-Length: -3\r\n\r\nabc",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-inner-space [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b"Content-Length: 1 2\r\n\r\n",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-inner-tab [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b"Content-Length: 1\t2\r\n\r\n",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-empty [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b"Content-Length:\r\n\r\n",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-hex [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b"Content-Length: 0x5\r\n\r\n",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-decimal-point [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b"Content-Length: 5.0\r\n\r\n",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-python-int-underscore [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b"Content-Length: 1_0\r\n\r\n",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-arabic-indic-digit [RFC 9110 §8.6, int() accepts Unicode digits]",
        POST + b"Content-Length: \xd9\xa3\r\n\r\nabc", R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-fullwidth-digit [RFC 9110 §8.6, int() accepts Unicode digits]",
        POST + b"Content-Length: \xef\xbc\x93\r\n\r\nabc", R.INVALID_CONTENT_LENGTH,
        b"Content-Length"),
    bad("content-length-superscript-digit [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b"Content-Length: \xc2\xb2\r\n\r\n",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-quoted [RFC 9110 §8.6, CL-obfuscation smuggling]",
        POST + b'Content-Length: "3"\r\n\r\n',
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-20-digits-overflows (413) [RFC 9110 §8.6, integer-overflow smuggling]",
        POST + b"Content-Length: 18446744073709551616\r\n\r\n",
        R.CONTENT_LENGTH_OVERFLOW, b"Content-Length"),
    bad("content-length-2**63-overflows [RFC 9110 §8.6, integer-overflow smuggling]",
        POST + b"Content-Length: 9223372036854775808\r\n\r\n",
        R.CONTENT_LENGTH_OVERFLOW, b"Content-Length"),
    bad("content-length-100-digits-overflows [RFC 9110 §8.6, integer-overflow smuggling]",
        POST + b"Content-Length: " + b"9" * 100 + b"\r\n\r\n",
        R.CONTENT_LENGTH_OVERFLOW, b"Content-Length"),
    # TE.TE obfuscation: the last coding of a request must be chunked, once.
    bad("TE-smuggling: chunked-not-last (RFC 9112 §6.3)",
        POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n", R.CHUNKED_NOT_LAST,
        b"Transfer-Encoding"),
    bad("TE-smuggling: chunked-not-last-across-fields (RFC 9112 §6.3)",
        POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        R.CHUNKED_NOT_LAST, b"Transfer-Encoding: gzip"),
    bad("TE-smuggling: no-chunked-at-all-in-request (RFC 9112 §6.3)",
        POST + b"Transfer-Encoding: gzip\r\n\r\nabc", R.CHUNKED_NOT_LAST, (b"\r\n\r\n", 2)),
    bad("TE-smuggling: xchunked-is-unknown (501)", POST + b"Transfer-Encoding: xchunked\r\n\r\n",
        R.UNKNOWN_TRANSFER_CODING, b"Transfer-Encoding"),
    bad("TE-smuggling: identity-is-unknown (501)", POST + b"Transfer-Encoding: identity\r\n\r\n",
        R.UNKNOWN_TRANSFER_CODING, b"Transfer-Encoding"),
    bad("TE-smuggling: unknown-coding-before-chunked (501)",
        POST + b"Transfer-Encoding: foo, chunked\r\n\r\n", R.UNKNOWN_TRANSFER_CODING,
        b"Transfer-Encoding"),
    bad("TE-smuggling: chunked-twice (RFC 9112 §7.1)",
        POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n", R.CHUNKED_TWICE, b"Transfer-Encoding"),
    bad("TE-smuggling: chunked-twice-across-fields (RFC 9112 §7.1)",
        POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: Chunked\r\n\r\n",
        R.CHUNKED_TWICE, b"Transfer-Encoding: Chunked"),
    bad("TE-smuggling: empty-coding-in-list", POST + b"Transfer-Encoding: gzip, , chunked\r\n\r\n",
        R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding"),
    bad("TE-smuggling: empty-transfer-encoding", POST + b"Transfer-Encoding:\r\n\r\n",
        R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding"),
    bad("TE-smuggling: quoted-chunked", POST + b'Transfer-Encoding: "chunked"\r\n\r\n',
        R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding"),
    bad("TE-smuggling: coding-with-parameter", POST + b"Transfer-Encoding: chunked;q=1\r\n\r\n",
        R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding"),
    bad("TE-smuggling: vertical-tab-before-chunked",
        POST + b"Transfer-Encoding:\x0bchunked\r\n\r\n", R.INVALID_VALUE, b"\x0b"),
    bad("TE-smuggling: space-before-colon (RFC 9112 §5.1)",
        POST + b"Transfer-Encoding : chunked\r\n\r\n", R.SPACE_BEFORE_COLON, b" :"),
    bad("TE-smuggling: obs-fold-continues-transfer-encoding (RFC 9112 §5.2, CVE-2022-32215)",
        POST + b"Transfer-Encoding: gzip\r\n chunked\r\n\r\n", R.OBS_FOLD, (b"\r\n chunked", 2)),
    bad("TE-smuggling: dangling-comma-before-obs-fold",
        POST + b"Transfer-Encoding: gzip,\r\n chunked\r\n\r\n", R.INVALID_TRANSFER_ENCODING,
        b"Transfer-Encoding"),
    bad("transfer-encoding-in-http-1.0-request (RFC 9112 §6.1)",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", R.TE_IN_HTTP10_REQUEST,
        b"Transfer-Encoding"),
]

FIELDS = [
    bad("space-before-colon (RFC 9112 §5.1)", GET + b"Host : x\r\n\r\n", R.SPACE_BEFORE_COLON,
        b" :"),
    bad("tab-before-colon (RFC 9112 §5.1)", GET + b"Host\t: x\r\n\r\n", R.SPACE_BEFORE_COLON,
        b"\t:"),
    bad("space-before-colon-content-length (RFC 9112 §5.1)",
        POST + b"Content-Length : 5\r\n\r\nhello", R.SPACE_BEFORE_COLON, b" :"),
    bad("obs-fold-in-request-sp (RFC 9112 §5.2)", GET + b"X-A: a\r\n b\r\n\r\n", R.OBS_FOLD,
        (b"\r\n b", 2)),
    bad("obs-fold-in-request-htab (RFC 9112 §5.2)", GET + b"X-A: a\r\n\tb\r\n\r\n", R.OBS_FOLD,
        b"\tb"),
    bad("obs-fold-in-request-trailer (RFC 9112 §5.2)",
        CHUNKED_HEAD + b"0\r\nT: a\r\n b\r\n\r\n", R.OBS_FOLD, (b"\r\n b", 2)),
    bad("whitespace-after-start-line (RFC 9112 §2.2)", GET + b" Host: x\r\n\r\n",
        R.SPACE_AFTER_START_LINE, 16),
    bad("empty-field-name [RFC 9112 §5]", GET + b": x\r\n\r\n", R.EMPTY_NAME, 16),
    bad("missing-colon [RFC 9112 §5]", GET + b"Host\r\n\r\n", R.MISSING_COLON, 20),
    bad("space-inside-name [RFC 9112 §5.1, CVE-2021-22959 class]",
        GET + b"Ho st: x\r\n\r\n", R.SPACE_BEFORE_COLON, 18),
    bad("nul-in-name [RFC 9110 §5.6.2 tchar]",
        GET + b"Ho\x00st: x\r\n\r\n", R.INVALID_NAME, b"\x00"),
    bad("control-in-name [RFC 9110 §5.6.2 tchar]",
        GET + b"Ho\x01st: x\r\n\r\n", R.INVALID_NAME, b"\x01"),
    bad("del-in-name [RFC 9110 §5.6.2 tchar]",
        GET + b"Host\x7f: x\r\n\r\n", R.INVALID_NAME, b"\x7f"),
    bad("non-token-paren-in-name (RFC 9110 §5.6.2)", GET + b"Ho(st: x\r\n\r\n", R.INVALID_NAME,
        b"("),
    bad("non-token-slash-in-name [RFC 9110 §5.6.2 tchar]",
        GET + b"X/Y: x\r\n\r\n", R.INVALID_NAME, (b"X/Y", 1)),
    bad("non-token-at-in-name [RFC 9110 §5.6.2 tchar]",
        GET + b"X@Y: x\r\n\r\n", R.INVALID_NAME, b"@"),
    bad("non-token-quote-in-name [RFC 9110 §5.6.2 tchar]",
        GET + b'X"Y: x\r\n\r\n', R.INVALID_NAME, b'"'),
    bad("non-token-brace-in-name [RFC 9110 §5.6.2 tchar]",
        GET + b"X{Y: x\r\n\r\n", R.INVALID_NAME, b"{"),
    bad("non-ascii-in-name [RFC 9110 §5.6.2 tchar]",
        GET + b"X\xc3\xa9: x\r\n\r\n", R.INVALID_NAME, b"\xc3"),
    bad("high-byte-in-name [RFC 9110 §5.6.2 tchar]",
        GET + b"\xffX: x\r\n\r\n", R.INVALID_NAME, b"\xff"),
    bad("nul-in-value (RFC 9110 §5.5)", GET + b"X-A: a\x00b\r\n\r\n", R.INVALID_VALUE, b"\x00"),
    bad("control-in-value (RFC 9110 §5.5)", GET + b"X-A: a\x1bb\r\n\r\n", R.INVALID_VALUE,
        b"\x1b"),
    bad("del-in-value (RFC 9110 §5.5)", GET + b"X-A: a\x7fb\r\n\r\n", R.INVALID_VALUE, b"\x7f"),
    bad("vertical-tab-in-value [RFC 9110 §5.5]",
        GET + b"X-A: a\x0bb\r\n\r\n", R.INVALID_VALUE, b"\x0b"),
    bad("form-feed-in-value [RFC 9110 §5.5]", GET + b"X-A: \x0c\r\n\r\n", R.INVALID_VALUE, b"\x0c"),
    bad("nul-in-trailer-value [RFC 9110 §5.5]",
        CHUNKED_HEAD + b"0\r\nT: a\x00\r\n\r\n", R.INVALID_VALUE, b"\x00"),
    bad("space-before-colon-in-trailer [RFC 9112 §5.1, CVE-2021-22959 class]",
        CHUNKED_HEAD + b"0\r\nT : a\r\n\r\n",
        R.SPACE_BEFORE_COLON, b" :"),
]

LINE_ENDINGS = [
    # CR without LF ends a line for some parsers and not for others (CVE-2023-30589).
    bad("bare-CR-ends-request-line (RFC 9112 §2.2)", b"GET / HTTP/1.1\rHost: x\r\n\r\n",
        R.BARE_CR, 14),
    bad("bare-CR-before-start-line (RFC 9112 §2.2)", b"\rGET / HTTP/1.1\r\n\r\n", R.BARE_CR, 0),
    bad("bare-CR-after-empty-line-before-start-line [RFC 9112 §2.2, CVE-2023-30589 class]",
        b"\r\n\rGET / HTTP/1.1\r\n\r\n",
        R.BARE_CR, 2),
    bad("bare-CR-ends-field-line (RFC 9112 §2.2)", GET + b"Host: x\rX-A: y\r\n\r\n", R.BARE_CR,
        b"\rX-A"),
    bad("bare-CR-inside-value (RFC 9112 §2.2)", GET + b"X-A: a\rb\r\n\r\n", R.BARE_CR, b"\rb"),
    bad("bare-CR-as-empty-line (RFC 9112 §2.2)", GET + b"Host: x\r\n\rGET", R.BARE_CR, b"\rGET"),
    bad("bare-CR-CR-LF-ends-head [RFC 9112 §2.2, CVE-2023-30589 class]",
        GET + b"Host: x\r\n\r\r\n", R.BARE_CR, (b"\r\r", 0)),
    bad("bare-CR-ends-chunk-size (RFC 9112 §7.1)", CHUNKED_HEAD + b"5\rhello\r\n",
        R.BARE_CR, b"\rhello"),
    bad("bare-CR-ends-chunk-extension [RFC 9112 §2.2, CVE-2023-30589 class]",
        CHUNKED_HEAD + b"5;a=b\rhello\r\n", R.BARE_CR, b"\rhello"),
    bad("bare-CR-ends-last-chunk [RFC 9112 §2.2, CVE-2023-30589 class]",
        CHUNKED_HEAD + b"0\r\r\n\r\n", R.BARE_CR, (b"0\r\r", 1)),
    bad("bare-CR-ends-trailer-line [RFC 9112 §2.2, CVE-2023-30589 class]",
        CHUNKED_HEAD + b"0\r\nT: a\rU: b\r\n\r\n", R.BARE_CR,
        b"\rU"),
    bad("bare-CR-ends-trailer-section [RFC 9112 §2.2, CVE-2023-30589 class]",
        CHUNKED_HEAD + b"0\r\n\rX", R.BARE_CR, b"\rX"),
    bad("CR-inside-request-line-is-not-a-line-end [RFC 9112 §2.2, CVE-2023-30589 class]",
        b"GET\r/ HTTP/1.1\r\n\r\n",
        R.INVALID_METHOD, 3),
    bad("CR-inside-target-is-not-a-line-end [RFC 9112 §2.2, CVE-2023-30589 class]",
        b"GET /a\rb HTTP/1.1\r\n\r\n",
        R.MISSING_VERSION, 6),
    # LF without CR (CVE-2022-32214).
    bad("bare-LF-ends-request-line (RFC 9112 §2.2)", b"GET / HTTP/1.1\nHost: x\r\n\r\n",
        R.BARE_LF, 14),
    bad("bare-LF-before-start-line (RFC 9112 §2.2)", b"\nGET / HTTP/1.1\r\n\r\n", R.BARE_LF, 0),
    bad("bare-LF-ends-field-line (RFC 9112 §2.2)", GET + b"Host: x\nX-A: y\r\n\r\n", R.BARE_LF,
        b"\nX-A"),
    bad("bare-LF-inside-value [RFC 9112 §2.2, CVE-2022-32214 class]",
        GET + b"X-A: a\nb\r\n\r\n", R.BARE_LF, b"\nb"),
    bad("bare-LF-as-empty-line (RFC 9112 §2.2)", GET + b"Host: x\r\n\n", R.BARE_LF,
        (b"\r\n\n", 2)),
    bad("bare-LF-after-method [RFC 9112 §2.2, CVE-2022-32214 class]",
        b"GET\n/ HTTP/1.1\r\n\r\n", R.BARE_LF, 3),
    bad("bare-LF-ends-chunk-size (RFC 9112 §7.1)", CHUNKED_HEAD + b"5\nhello\r\n0\r\n\r\n",
        R.BARE_LF, b"\nhello"),
    bad("bare-LF-ends-trailer-line [RFC 9112 §2.2, CVE-2022-32214 class]",
        CHUNKED_HEAD + b"0\r\nT: a\n\r\n", R.BARE_LF, (b"a\n", 1)),
    bad("bare-LF-ends-trailer-section [RFC 9112 §2.2, CVE-2022-32214 class]",
        CHUNKED_HEAD + b"0\r\n\n", R.BARE_LF, (b"0\r\n\n", 3)),
    # Chunk-extension smuggling: a lenient parser ends the chunk line at the LF
    # (aiohttp CVE-2024-52304).
    bad("bare-LF-inside-chunk-extension-name [RFC 9112 §7.1.1, CVE-2025-22871 class]",
        CHUNKED_HEAD + b"5;a\nb\r\nhello\r\n0\r\n\r\n",
        R.BARE_LF, b"\nb"),
    bad("bare-LF-inside-chunk-extension-value [RFC 9112 §7.1.1, CVE-2025-22871 class]",
        CHUNKED_HEAD + b"5;a=b\nc\r\nhello\r\n0\r\n\r\n",
        R.BARE_LF, b"\nc"),
    bad("bare-LF-inside-quoted-chunk-extension [RFC 9112 §7.1.1, CVE-2025-22871 class]",
        CHUNKED_HEAD + b'5;a="b\nc"\r\nhello\r\n0\r\n\r\n', R.BARE_LF, b"\nc"),
    bad("bare-LF-after-chunk-extension [RFC 9112 §7.1.1, CVE-2025-22871 class]",
        CHUNKED_HEAD + b"5;a=b\nhello\r\n0\r\n\r\n",
        R.BARE_LF, b"\nhello"),
]

REQUEST_LINES = [
    bad("double-space-after-method (RFC 9112 §3)", b"GET  / HTTP/1.1\r\n\r\n", R.INVALID_TARGET, 4),
    bad("double-space-before-version (RFC 9112 §3)", b"GET /  HTTP/1.1\r\n\r\n",
        R.INVALID_VERSION, 6),
    bad("trailing-space-after-version (RFC 9112 §3)", b"GET / HTTP/1.1 \r\n\r\n",
        R.INVALID_VERSION, 14),
    bad("leading-space (RFC 9112 §3)", b" GET / HTTP/1.1\r\n\r\n", R.INVALID_METHOD, 0),
    bad("tab-as-separator (RFC 9112 §3)", b"GET\t/ HTTP/1.1\r\n\r\n", R.INVALID_METHOD, 3),
    bad("version-HTTP/1.1x (RFC 9112 §2.3)", b"GET / HTTP/1.1x\r\n\r\n", R.INVALID_VERSION, 14),
    bad("version-HTTP/1.10 (RFC 9112 §2.3)", b"GET / HTTP/1.10\r\n\r\n", R.INVALID_VERSION, 14),
    bad("version-non-ascii-dot (RFC 9112 §2.3)", b"GET / HTTP/1\xc3\xb61\r\n\r\n",
        R.INVALID_VERSION, 12),
    bad("version-lower-case-http (RFC 9112 §2.3: case-sensitive)", b"GET / http/1.1\r\n\r\n",
        R.INVALID_VERSION, 6),
    bad("version-HTTP/11.1 [RFC 9112 §2.3]", b"GET / HTTP/11.1\r\n\r\n", R.INVALID_VERSION, 12),
    bad("version-HTTP/1 [RFC 9112 §2.3]", b"GET / HTTP/1\r\n\r\n", R.INVALID_VERSION, 12),
    bad("version-HTTP/2.0-unsupported (505) [RFC 9112 §2.3, RFC 9110 §15.6.6]",
        b"GET / HTTP/2.0\r\n\r\n", R.UNSUPPORTED_VERSION, 11),
    bad("version-HTTP/1.2-unsupported (505) [RFC 9112 §2.3, RFC 9110 §15.6.6]",
        b"GET / HTTP/1.2\r\n\r\n", R.UNSUPPORTED_VERSION, 13),
    bad("version-HTTP/0.9-unsupported (505) [RFC 9112 §2.3, RFC 9110 §15.6.6]",
        b"GET / HTTP/0.9\r\n\r\n", R.UNSUPPORTED_VERSION, 11),
    bad("missing-version-HTTP/0.9-simple-request [RFC 9112 §3]",
        b"GET /\r\n\r\n", R.MISSING_VERSION, 5),
    bad("method-only [RFC 9112 §3]", b"GET\r\n\r\n", R.INVALID_METHOD, 3),
    bad("non-token-in-method (RFC 9110 §9.1)", b"GE(T / HTTP/1.1\r\n\r\n", R.INVALID_METHOD, 2),
    bad("non-ascii-in-method [RFC 9112 §3]", b"G\xc3\x89T / HTTP/1.1\r\n\r\n", R.INVALID_METHOD, 1),
    bad("nul-in-target (RFC 9112 §3.2)", b"GET /a\x00b HTTP/1.1\r\n\r\n", R.INVALID_TARGET, 6),
    bad("del-in-target (RFC 9112 §3.2)", b"GET /a\x7f HTTP/1.1\r\n\r\n", R.INVALID_TARGET, 6),
    bad("non-ascii-in-target (RFC 9112 §3.2)", b"GET /\xff HTTP/1.1\r\n\r\n", R.INVALID_TARGET, 5),
    bad("tab-in-target [RFC 9112 §3.2]", b"GET /a\tb HTTP/1.1\r\n\r\n", R.INVALID_TARGET, 6),
]

CHUNKS = [
    bad("chunk-size-2**64-overflows (413) [RFC 9112 §7.1, chunk-size overflow smuggling]",
        CHUNKED_HEAD + b"10000000000000000\r\n",
        R.CHUNK_SIZE_OVERFLOW, (b"10000000000000000\r\n", 16)),
    bad("chunk-size-2**63-overflows (413) [RFC 9112 §7.1, chunk-size overflow smuggling]",
        CHUNKED_HEAD + b"8000000000000000\r\n",
        R.CHUNK_SIZE_OVERFLOW, (b"8000000000000000\r\n", 15)),
    bad("chunk-size-20-hex-digits-overflows (413) [RFC 9112 §7.1, chunk-size overflow smuggling]",
        CHUNKED_HEAD + b"ffffffffffffffffffff\r\n",
        R.CHUNK_SIZE_OVERFLOW, (b"ffff", 15)),
    bad("chunk-size-overflow-after-leading-zeros (413) [RFC 9112 §7.1, chunk-size overflow smuggling]",
        CHUNKED_HEAD + b"0000010000000000000000\r\n", R.CHUNK_SIZE_OVERFLOW, (b"0000010", 21)),
    bad("chunk-size-non-hex [RFC 9112 §7.1]",
        CHUNKED_HEAD + b"5g\r\nhello\r\n", R.INVALID_CHUNK_SIZE, b"g\r\n"),
    bad("chunk-size-0x-prefix [RFC 9112 §7.1]",
        CHUNKED_HEAD + b"0x5\r\nhello\r\n", R.INVALID_CHUNK_SIZE,
        b"x5"),
    bad("chunk-size-python-int-underscore [RFC 9112 §7.1]",
        CHUNKED_HEAD + b"1_0\r\n", R.INVALID_CHUNK_SIZE,
        b"_"),
    bad("chunk-size-negative [RFC 9112 §7.1]",
        CHUNKED_HEAD + b"-5\r\nhello\r\n", R.INVALID_CHUNK_SIZE, b"-5"),
    bad("chunk-size-leading-space [RFC 9112 §7.1]",
        CHUNKED_HEAD + b" 5\r\nhello\r\n", R.INVALID_CHUNK_SIZE,
        b" 5"),
    bad("chunk-size-trailing-space [RFC 9112 §7.1]",
        CHUNKED_HEAD + b"5 \r\nhello\r\n", R.INVALID_CHUNK_SIZE,
        b" \r\nhello"),
    bad("chunk-size-space-before-extension [RFC 9112 §7.1]", CHUNKED_HEAD + b"5 ;a=b\r\nhello\r\n",
        R.INVALID_CHUNK_SIZE, b" ;"),
    bad("chunk-size-missing [RFC 9112 §7.1]", CHUNKED_HEAD + b"\r\nhello\r\n", R.INVALID_CHUNK_SIZE,
        len(CHUNKED_HEAD)),
    bad("chunk-size-non-ascii-digit [RFC 9112 §7.1]", CHUNKED_HEAD + b"\xd9\xa3\r\nabc\r\n",
        R.INVALID_CHUNK_SIZE, b"\xd9"),
    bad("chunk-extension-empty-name (RFC 9112 §7.1.1)", CHUNKED_HEAD + b"5;\r\nhello\r\n",
        R.INVALID_CHUNK_EXT, (b";\r\n", 1)),
    bad("chunk-extension-empty-value (RFC 9112 §7.1.1)", CHUNKED_HEAD + b"5;a=\r\nhello\r\n",
        R.INVALID_CHUNK_EXT, (b"=\r\n", 1)),
    bad("chunk-extension-space-before-name [RFC 9112 §7.1.1]", CHUNKED_HEAD + b"5; a\r\nhello\r\n",
        R.INVALID_CHUNK_EXT, b" a"),
    bad("chunk-extension-unterminated-quote (RFC 9112 §7.1.1)",
        CHUNKED_HEAD + b'5;a="b\r\nhello\r\n', R.INVALID_CHUNK_EXT, b"\r\nhello"),
    bad("chunk-extension-nul [RFC 9112 §7.1.1]",
        CHUNKED_HEAD + b"5;a=b\x00\r\nhello\r\n", R.INVALID_CHUNK_EXT,
        b"\x00"),
    bad("chunk-extension-nul-in-quoted [RFC 9112 §7.1.1]",
        CHUNKED_HEAD + b'5;a="\x00"\r\nhello\r\n',
        R.INVALID_CHUNK_EXT, b"\x00"),
    bad("chunk-extension-escaped-nul-in-quoted [RFC 9112 §7.1.1]",
        CHUNKED_HEAD + b'5;a="\\\x00"\r\nhello\r\n',
        R.INVALID_CHUNK_EXT, b"\x00"),
    bad("chunk-data-longer-than-size (RFC 9112 §7.1)", CHUNKED_HEAD + b"5\r\nhelloXX\r\n",
        R.MISSING_CHUNK_CRLF, b"XX"),
    bad("chunk-data-then-CR-without-LF (RFC 9112 §7.1)", CHUNKED_HEAD + b"5\r\nhello\rX",
        R.MISSING_CHUNK_CRLF, b"X"),
    bad("chunk-data-then-bare-LF (RFC 9112 §7.1)", CHUNKED_HEAD + b"5\r\nhello\n0\r\n\r\n",
        R.MISSING_CHUNK_CRLF, b"\n0"),
    bad("chunk-data-then-next-size-without-CRLF [RFC 9112 §7.1, CVE-2025-43859 class]",
        CHUNKED_HEAD + b"5\r\nhello0\r\n\r\n",
        R.MISSING_CHUNK_CRLF, b"0\r\n\r\n"),
]

TINY = {"max_line_size": 16, "max_header_size": 64, "max_headers": 3}
LIMITS = [
    bad("request-line-too-long (414) [RFC 9112 §3, length limit]",
        b"GET /" + b"a" * 12 + b" HTTP/1.1\r\n\r\n",
        R.REQUEST_LINE_TOO_LONG, 25, max_line_size=25),
    bad("request-line-too-long-before-its-end (414) [RFC 9112 §3, length limit]",
        b"GET /" + b"a" * 40,
        R.REQUEST_LINE_TOO_LONG, 25, max_line_size=25),
    bad("request-line-too-long-after-empty-lines (414) [RFC 9112 §3, length limit]",
        b"\r\n\r\nGET /" + b"a" * 12 + b" HTTP/1.1\r\n\r\n", R.REQUEST_LINE_TOO_LONG, 4 + 25,
        max_line_size=25),
    bad("field-line-too-long (431) [RFC 9112 §5, RFC 6585 §5]",
        GET + b"X: " + b"v" * 14 + b"\r\n\r\n",
        R.FIELD_LINE_TOO_LONG, 16 + 16, max_line_size=16),
    bad("field-line-too-long-before-its-end (431) [RFC 9112 §5, RFC 6585 §5]",
        GET + b"X: " + b"v" * 40,
        R.FIELD_LINE_TOO_LONG, 16 + 16, max_line_size=16),
    bad("field-line-too-long-second-request (431) [RFC 9112 §5, RFC 6585 §5]",
        GET + b"\r\n" + GET + b"A: 1\r\nX: " + b"v" * 14 + b"\r\n\r\n",
        R.FIELD_LINE_TOO_LONG, 18 + 16 + 6 + 16, max_line_size=16),
    bad("trailer-line-too-long (431) [RFC 9112 §5, RFC 6585 §5]",
        CHUNKED_HEAD + b"0\r\nT: " + b"v" * 30 + b"\r\n\r\n", R.FIELD_LINE_TOO_LONG,
        len(CHUNKED_HEAD) + 3 + 30, max_line_size=30),
    bad("chunk-line-too-long [RFC 9112 §7.1, length limit]",
        CHUNKED_HEAD + b"5;" + b"e" * 40 + b"\r\nhello\r\n",
        R.LINE_TOO_LONG, len(CHUNKED_HEAD) + 30, max_line_size=30),
    bad("chunk-line-of-zeros-too-long [RFC 9112 §7.1, length limit]",
        CHUNKED_HEAD + b"0" * 40 + b"5\r\nhello\r\n",
        R.LINE_TOO_LONG, len(CHUNKED_HEAD) + 30, max_line_size=30),
    bad("header-section-too-large (431) [RFC 6585 §5, header-flood DoS]",
        GET + b"X1: 0123456789\r\nX2: 0123456789\r\nX3: 01234567890\r\n\r\n",
        R.HEADER_TOO_LARGE, 62, max_header_size=64),
    bad("header-section-too-large-before-line-end (431) [RFC 6585 §5, header-flood DoS]",
        GET + b"X1: 0123456789\r\nX2: 0123456789\r\nX3: 0123456789" + b"0" * 20,
        R.HEADER_TOO_LARGE, 62, max_header_size=64),
    bad("header-section-too-large-by-one-field (431) [RFC 6585 §5, header-flood DoS]",
        GET + b"X1: 0123456789\r\nX2: 0123456789\r\nX3: 0123456789\r\nX\r\n\r\n",
        R.HEADER_TOO_LARGE, 64, max_header_size=64),
    bad("header-section-counted-from-start-line-not-empty-lines (431) [RFC 6585 §5]",
        b"\r\n" * 3 + GET + b"X1: 0123456789\r\nX2: 0123456789\r\nX3: 01234567890\r\n\r\n",
        R.HEADER_TOO_LARGE, 6 + 62, max_header_size=64),
    bad("header-section-too-large-second-request (431) [RFC 6585 §5, header-flood DoS]",
        GET + b"\r\n" + GET + b"X1: 0123456789\r\nX2: 0123456789\r\nX3: 01234567890\r\n\r\n",
        R.HEADER_TOO_LARGE, 18 + 62, max_header_size=64),
    bad("trailer-section-too-large (431) [RFC 6585 §5, header-flood DoS]",
        CHUNKED_HEAD + b"0\r\nT1: 0123456789\r\nT2: 0123456789\r\nT3: 01234567890\r\n\r\n",
        R.HEADER_TOO_LARGE, len(CHUNKED_HEAD) + 3 + 46, max_header_size=48),
    bad("too-many-headers (431) [RFC 6585 §5, header-flood DoS]",
        GET + b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
        R.TOO_MANY_HEADERS, b"D: 4", max_headers=3),
    bad("too-many-headers-limit-zero (431) [RFC 6585 §5, header-flood DoS]",
        GET + b"A: 1\r\n\r\n", R.TOO_MANY_HEADERS, 16,
        max_headers=0),
    bad("too-many-trailers (431) [RFC 6585 §5, header-flood DoS]",
        CHUNKED_HEAD + b"0\r\nA: 1\r\nB: 2\r\n\r\n",
        R.TOO_MANY_HEADERS, b"B: 2", max_headers=1),
    bad("tiny-limits-line-binds-first (431) [RFC 9112 §5, RFC 6585 §5]",
        GET + b"X: " + b"v" * 20 + b"\r\n\r\n",
        R.FIELD_LINE_TOO_LONG, 32, **TINY),
]

CLOSE = [
    bad("data-after-connection-close (request smuggling after close)",
        GET + b"Connection: close\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", R.DATA_AFTER_CLOSE,
        b"GET /smuggled"),
    bad("data-after-proxy-connection-close [RFC 9112 §9.6, smuggling after close]",
        GET + b"Proxy-Connection: close\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        R.DATA_AFTER_CLOSE, b"GET /smuggled"),
    bad("empty-line-after-connection-close [RFC 9112 §9.6, smuggling after close]",
        GET + b"Connection: close\r\n\r\n\r\n",
        R.DATA_AFTER_CLOSE, len(GET) + 21),
    bad("data-after-http-1.0-request [RFC 9112 §9.6, smuggling after close]",
        b"GET / HTTP/1.0\r\n\r\nX", R.DATA_AFTER_CLOSE, 18),
    bad("data-after-close-body [RFC 9112 §9.6, smuggling after close]",
        POST + b"Connection: close\r\nContent-Length: 2\r\n\r\nabX",
        R.DATA_AFTER_CLOSE, b"X"),
    bad("data-after-close-chunked-body [RFC 9112 §9.6, smuggling after close]",
        POST + b"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
        R.DATA_AFTER_CLOSE, b"X"),
]

REJECTED = FRAMING + FIELDS + LINE_ENDINGS + REQUEST_LINES + CHUNKS + LIMITS + CLOSE


@pytest.mark.parametrize(("raw", "rule", "offset", "options"), REJECTED)
def test_rejected(twin, raw, rule, offset, options):
    out = assert_splits_agree(twin, "request", raw, **options)
    assert out.error is not None, f"accepted: {out.events}"
    assert out.rule == rule
    assert out.offset == offset


def test_default_limits(twin):
    """The defaults are 8190 bytes a line, 65536 bytes a head, 100 fields (few cuts: big inputs)."""
    def check(raw, rule=None, offset=None):
        whole = parse_whole(twin, "request", raw)
        for cut in (1, len(raw) // 2, len(raw) - 1):
            assert_same(whole, parse(twin, "request", [raw[:cut], raw[cut:]]), f"cut at {cut}")
        if rule is None:
            assert whole.error is None
        else:
            assert (whole.rule, whole.offset) == (rule, offset)

    target = b"/" + b"a" * (8190 - len(b"GET  HTTP/1.1") - 1)
    line = b"GET " + target + b" HTTP/1.1"
    assert len(line) == 8190
    check(line + b"\r\n\r\n")
    check(b"GET a" + target + b" HTTP/1.1\r\n\r\n", R.REQUEST_LINE_TOO_LONG, 8190)
    field = b"X: " + b"v" * 8187
    check(GET + field + b"\r\n\r\n")
    check(GET + field + b"v\r\n\r\n", R.FIELD_LINE_TOO_LONG, 16 + 8190)
    # Lines of 8192 bytes: 16 + 8 * 8192 > 65536, so the 8th line crosses the head limit.
    lines = b"".join(b"X%d: " % i + b"v" * 8186 + b"\r\n" for i in range(8))
    check(GET + lines + b"\r\n", R.HEADER_TOO_LARGE, 65536 - 2)
    check(GET + b"A: 1\r\n" * 100 + b"\r\n")
    check(GET + b"A: 1\r\n" * 101 + b"\r\n", R.TOO_MANY_HEADERS, 16 + 600)


# -- parser behaviour around errors, EOF and input types -------------------------


def test_error_is_a_valueerror_with_events(twin):
    raw = GET + b"\r\n" + b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab" + b"GET /\x00 HTTP/1.1\r\n"
    parser = twin.RequestParser()
    with pytest.raises(hopwire.ParseError) as info:
        parser.feed(raw)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, hopwire.HopwireError)
    assert (err.reason, err.status_hint) == R.INVALID_TARGET
    assert err.offset == raw.index(b"\x00")
    assert [type(e).__name__ for e in err.events] == [
        "Request", "EndOfMessage", "Request", "Data", "EndOfMessage"]
    assert err.events[3].data == b"ab"


def test_error_events_hold_only_the_failing_feed(twin):
    parser = twin.RequestParser()
    assert len(parser.feed(GET + b"\r\n")) == 2
    with pytest.raises(hopwire.ParseError) as info:
        parser.feed(GET + b"\r\n" + b"BAD\x00")
    assert [type(e).__name__ for e in info.value.events] == ["Request", "EndOfMessage"]
    assert info.value.offset == 2 * 18 + 3


@pytest.mark.parametrize("then", [b"", GET + b"\r\n", b"\r\n"], ids=["empty", "valid", "crlf"])
def test_error_is_sticky(twin, then):
    parser = twin.RequestParser()
    with pytest.raises(hopwire.ParseError) as first:
        parser.feed(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n")
    with pytest.raises(hopwire.ParseError) as again:
        parser.feed(then)
    assert (again.value.reason, again.value.status_hint, again.value.offset) == \
        (first.value.reason, first.value.status_hint, first.value.offset)
    with pytest.raises(hopwire.ParseError) as at_eof:
        parser.feed_eof()
    assert at_eof.value.reason == first.value.reason


@pytest.mark.parametrize(("raw", "result"), [
    pytest.param(b"", [], id="nothing"),
    pytest.param(GET + b"\r\n", [], id="after-complete-request"),
    pytest.param(GET + b"\r\n\r\n\r\n", [], id="after-empty-lines"),
    pytest.param(b"GET / HTTP/1.0\r\n\r\n", [], id="after-closing-request"),
    pytest.param(b"GET / HTT", R.INCOMPLETE_MESSAGE, id="inside-request-line"),
    pytest.param(b"\r", R.INCOMPLETE_MESSAGE, id="half-empty-line"),
    pytest.param(GET + b"Host: x\r\n", R.INCOMPLETE_MESSAGE, id="inside-head"),
    pytest.param(GET + b"Host: x\r\n\r", R.INCOMPLETE_MESSAGE, id="inside-final-crlf"),
    pytest.param(POST + b"Content-Length: 5\r\n\r\nabc", R.INCOMPLETE_MESSAGE,
                 id="inside-content-length-body"),
    pytest.param(CHUNKED_HEAD + b"5\r\nhello\r\n", R.INCOMPLETE_MESSAGE, id="between-chunks"),
    pytest.param(CHUNKED_HEAD + b"0\r\n", R.INCOMPLETE_MESSAGE, id="before-trailers-end"),
    pytest.param(GET + b"\r\n" + b"GET", R.INCOMPLETE_MESSAGE, id="inside-second-request"),
])
def test_feed_eof(twin, raw, result):
    """A truncated request is an error at EOF (offset: the end of the stream)."""
    out = assert_splits_agree(twin, "request", raw, eof=True)
    if result == []:
        assert out.error is None
        assert out == parse_whole(twin, "request", raw)
    else:
        assert out.rule == result
        assert out.offset == len(raw)


def test_feed_after_eof(twin):
    parser = twin.RequestParser()
    parser.feed(GET + b"\r\n")
    assert parser.feed_eof() == []
    assert parser.feed_eof() == []
    with pytest.raises(hopwire.ParseError) as info:
        parser.feed(GET + b"\r\n")
    assert (info.value.reason, info.value.status_hint) == R.FEED_AFTER_EOF
    assert info.value.offset == 18


def test_upgraded_parser_collects_everything_after(twin):
    parser = twin.RequestParser()
    events = parser.feed(WEBSOCKET + b"abc")
    assert [type(e).__name__ for e in events] == ["Request", "EndOfMessage"]
    assert events[0].upgrade is True
    assert parser.upgraded is True
    assert parser.trailing_data == b"abc"
    assert parser.feed(b"def") == []
    assert parser.feed(bytearray(b"\r\n")) == []
    assert parser.feed(memoryview(b"\x00")) == []
    assert parser.trailing_data == b"abc" + b"def" + b"\r\n" + b"\x00"
    assert isinstance(parser.trailing_data, bytes)
    assert parser.feed_eof() == []


def test_not_upgraded_before_the_switch(twin):
    parser = twin.RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: 3\r\n\r\na")
    assert parser.upgraded is False
    assert parser.trailing_data == b""
    parser.feed(b"bcXYZ")
    assert parser.upgraded is True
    assert parser.trailing_data == b"XYZ"


def test_one_data_event_per_feed(twin):
    """Within one feed() consecutive body bytes are merged into one Data event."""
    parser = twin.RequestParser()
    events = parser.feed(CHUNKED)
    assert [type(e).__name__ for e in events] == ["Request", "Data", "EndOfMessage"]
    assert type(events[1].data) is bytes
    assert events[1].data == b"hello world0123456789"


def test_body_split_gives_one_data_event_per_feed(twin):
    parser = twin.RequestParser()
    assert len(parser.feed(POST + b"Content-Length: 6\r\n\r\n")) == 1
    assert [e.data for e in parser.feed(b"ab")] == [b"ab"]
    assert [type(e).__name__ for e in parser.feed(b"")] == []
    events = parser.feed(b"cdefGET / HTTP/1.1\r\n\r\n")
    assert [type(e).__name__ for e in events] == ["Data", "EndOfMessage", "Request", "EndOfMessage"]
    assert events[0].data == b"cdef"


def test_feed_does_not_keep_a_view_of_the_caller_buffer(twin):
    parser = twin.RequestParser()
    buf = bytearray(b"GET /abc HTTP/1.1\r\nHost: ex")
    assert parser.feed(buf) == []
    buf[:] = b"X" * len(buf)
    events = parser.feed(bytearray(b"ample\r\n\r\n"))
    assert events[0].target == b"/abc"
    assert events[0].headers == [(b"host", b"example")]


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_buffer_types(twin, kind):
    raw = POST + b"Content-Length: 3\r\n\r\nabc"
    events = twin.RequestParser().feed(kind(raw))
    assert [type(e).__name__ for e in events] == ["Request", "Data", "EndOfMessage"]
    assert type(events[1].data) is bytes and events[1].data == b"abc"
    for name, value in events[0].headers:
        assert type(name) is bytes and type(value) is bytes


def test_event_field_types(twin):
    events = twin.RequestParser().feed(CHUNKED)
    r = events[0]
    assert type(r.method) is bytes and type(r.target) is bytes
    assert type(r.http_version) is bytes
    assert type(r.headers) is list and all(type(h) is tuple and len(h) == 2 for h in r.headers)
    assert type(r.keep_alive) is bool and type(r.chunked) is bool and type(r.upgrade) is bool
    assert r.content_length is None and r.hop_headers is None
    assert type(events[2].headers) is list
    assert all(type(h) is tuple for h in events[2].headers)
    r2 = twin.RequestParser().feed(POST + b"Content-Length: 3\r\n\r\n")[0]
    assert type(r2.content_length) is int


@pytest.mark.parametrize("options", [
    {"max_line_size": 15}, {"max_header_size": 15}, {"max_headers": -1},
])
def test_limits_too_small(twin, options):
    with pytest.raises(ValueError):
        twin.RequestParser(**options)


def test_options_are_keyword_only(twin):
    with pytest.raises(TypeError):
        twin.RequestParser(8190)


def test_make_parser_accepts_all_options(twin):
    parser = make_parser(twin, "request", max_line_size=16, max_header_size=16, max_headers=0,
                         strip_hop_by_hop=True)
    assert parser.feed(b"GET / HTTP/1.1\r\n\r\n")[0].hop_headers == []


def test_feed_accepts_a_non_contiguous_memoryview(twin):
    """Any memoryview is accepted, strided ones included: same as feeding bytes(view)."""
    raw = POST + b"Content-Length: 3\r\n\r\nabc"
    strided = memoryview(bytes(x for c in raw for x in (c, 0x2D)))[::2]
    assert bytes(strided) == raw
    events = twin.RequestParser().feed(strided)
    assert [type(e).__name__ for e in events] == ["Request", "Data", "EndOfMessage"]
    assert events[1].data == b"abc"


@pytest.mark.parametrize("data", ["GET / HTTP/1.1\r\n\r\n", 42, None, [71, 69, 84]],
                         ids=["str", "int", "none", "list"])
def test_feed_rejects_non_buffers(twin, data):
    with pytest.raises(TypeError):
        twin.RequestParser().feed(data)


def test_large_bodies_in_many_pieces(twin):
    content = bytes(range(256)) * 4096  # 1 MiB
    chunked = b"".join(b"%x\r\n" % len(content[i:i + 70000]) + content[i:i + 70000] + b"\r\n"
                       for i in range(0, len(content), 70000)) + b"0\r\n\r\n"
    raw = (POST + b"Content-Length: %d\r\n\r\n" % len(content) + content
           + CHUNKED_HEAD + chunked + GET + b"\r\n")
    for step in (len(raw), 65536, 8191, 1000):
        parser = twin.RequestParser()
        events = []
        for i in range(0, len(raw), step):
            events.extend(parser.feed(raw[i:i + step]))
        names = [type(e).__name__ for e in events]
        assert names.count("Request") == 3 and names.count("EndOfMessage") == 3
        first_end = names.index("EndOfMessage")
        assert b"".join(e.data for e in events[:first_end] if type(e).__name__ == "Data") == content
        second_end = names.index("EndOfMessage", first_end + 1)
        assert b"".join(e.data for e in events[first_end:second_end]
                        if type(e).__name__ == "Data") == content


def test_many_pipelined_requests_in_one_feed(twin):
    raw = b"".join(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(2000))
    events = twin.RequestParser().feed(raw)
    assert len(events) == 4000
    assert [e.target for e in events[::2]] == [b"/%d" % i for i in range(2000)]
