"""ResponseParser: framing (expect(), bodiless statuses, 1xx, upgrade, read-until-close),
accepted messages and rejections, for both twins and across every split of the input.
"""

from __future__ import annotations

from typing import Any

import pytest

import hopwire
from hopwire._wire import rules as R
from support.parsing import (
    assert_splits_agree,
    body,
    describe,
    end,
    info,
    make_parser,
    parse_whole,
    resp,
)

# -- accepted messages ---------------------------------------------------------


def ok(id: str, raw: bytes, events: list, *, expect: tuple = (), eof: bool = False,
       trailing: bytes = b"", **options: Any):
    return pytest.param(raw, events, expect, eof, trailing, options, id=id)


OK_HEAD = b"HTTP/1.1 200 OK\r\n"
CL5 = b"Content-Length: 5\r\n"
TE = b"Transfer-Encoding: chunked\r\n"

ACCEPTED = [
    ok("simple-200-content-length",
       OK_HEAD + b"Content-Type: text/plain\r\n" + CL5 + b"\r\nhello",
       [resp(200, b"OK", [(b"content-type", b"text/plain"), (b"content-length", b"5")],
             content_length=5), body(b"hello"), end()]),
    ok("reason-optional-and-verbatim (RFC 9112 §4)",
       b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"
       b"HTTP/1.1 404  Not\tFound \xe4 \r\nContent-Length: 0\r\n\r\n"
       b"HTTP/1.1 204 \r\n\r\n",
       [resp(200, b"", [(b"content-length", b"0")]), end(),
        resp(404, b" Not\tFound \xe4 ", [(b"content-length", b"0")]), end(),
        resp(204, b""), end()]),
    ok("unregistered-status-codes",
       b"HTTP/1.1 599 Odd\r\nContent-Length: 0\r\n\r\nHTTP/1.1 999 Odder\r\nContent-Length: 0\r\n\r\n",
       [resp(599, b"Odd", [(b"content-length", b"0")]), end(),
        resp(999, b"Odder", [(b"content-length", b"0")]), end()]),
    ok("chunked-with-extensions-and-trailers",
       OK_HEAD + TE + b"\r\n4;a=b\r\nWiki\r\n5;q=\"x y\"\r\npedia\r\n0\r\nExpires: never\r\n\r\n",
       [resp(200, b"OK", [(b"transfer-encoding", b"chunked")], content_length=None, chunked=True),
        body(b"Wikipedia"), end([(b"expires", b"never")])]),
    ok("chunked-after-other-codings",
       OK_HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
       [resp(200, b"OK", [(b"transfer-encoding", b"gzip, chunked")], content_length=None,
             chunked=True), body(b"x"), end()]),
    ok("pipelined-with-empty-lines-between",
       b"\r\n" + OK_HEAD + CL5 + b"\r\nhello\r\n\r\n" + b"HTTP/1.1 201 Created\r\n" + TE
       + b"\r\n3\r\nabc\r\n0\r\n\r\n",
       [resp(200, b"OK", [(b"content-length", b"5")], content_length=5), body(b"hello"), end(),
        resp(201, b"Created", [(b"transfer-encoding", b"chunked")], content_length=None,
             chunked=True), body(b"abc"), end()]),
    ok("empty-values", OK_HEAD + b"X-A:\r\nX-B: \t \r\nContent-Length: 0\r\n\r\n",
       [resp(200, b"OK", [(b"x-a", b""), (b"x-b", b""), (b"content-length", b"0")]), end()]),
    ok("read-until-close (RFC 9112 §6.3 rule 8)",
       OK_HEAD + b"Content-Type: text/plain\r\n\r\nsome body",
       [resp(200, b"OK", [(b"content-type", b"text/plain")], keep_alive=False,
             content_length=None), body(b"some body"), end()], eof=True),
    ok("read-until-close-even-with-keep-alive",
       OK_HEAD + b"Connection: keep-alive\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
       [resp(200, b"OK", [(b"connection", b"keep-alive")], keep_alive=False, content_length=None),
        body(b"HTTP/1.1 200 OK\r\n\r\n"), end()], eof=True),
    ok("read-until-close-when-te-is-not-chunked (RFC 9112 §6.3 rule 4)",
       OK_HEAD + b"Transfer-Encoding: gzip\r\n\r\n\x1f\x8b",
       [resp(200, b"OK", [(b"transfer-encoding", b"gzip")], keep_alive=False,
             content_length=None), body(b"\x1f\x8b"), end()], eof=True),
    ok("unknown-coding-in-response-is-read-until-close",
       OK_HEAD + b"Transfer-Encoding: xchunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
       [resp(200, b"OK", [(b"transfer-encoding", b"xchunked")], keep_alive=False,
             content_length=None), body(b"1\r\nx\r\n0\r\n\r\n"), end()], eof=True),
    ok("chunked-not-last-in-response-is-read-until-close",
       OK_HEAD + b"Transfer-Encoding: chunked, gzip\r\n\r\nxyz",
       [resp(200, b"OK", [(b"transfer-encoding", b"chunked, gzip")], keep_alive=False,
             content_length=None), body(b"xyz"), end()], eof=True),
    ok("http-1.0-chunked-is-not-persistent (RFC 9112 §6.1)",
       b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n" + TE + b"\r\n2\r\nhi\r\n0\r\n\r\n",
       [resp(200, b"OK", [(b"connection", b"keep-alive"), (b"transfer-encoding", b"chunked")],
             http_version=b"1.0", keep_alive=False, content_length=None, chunked=True),
        body(b"hi"), end()]),
    ok("http-1.0-keep-alive-with-length",
       b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
       b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
       [resp(200, b"OK", [(b"connection", b"keep-alive"), (b"content-length", b"2")],
             http_version=b"1.0", content_length=2), body(b"hi"), end(),
        resp(200, b"OK", [(b"content-length", b"0")], http_version=b"1.0", keep_alive=False),
        end()]),
    ok("http-1.1-close", OK_HEAD + b"Connection: close\r\nContent-Length: 2\r\n\r\nhi",
       [resp(200, b"OK", [(b"connection", b"close"), (b"content-length", b"2")],
             keep_alive=False, content_length=2), body(b"hi"), end()]),
    ok("proxy-connection-close", OK_HEAD + b"Proxy-Connection: close\r\nContent-Length: 0\r\n\r\n",
       [resp(200, b"OK", [(b"proxy-connection", b"close"), (b"content-length", b"0")],
             keep_alive=False), end()]),
    # Bodiless responses (RFC 9112 §6.3 rule 1).
    ok("response-to-head-has-no-body",
       OK_HEAD + CL5 + b"\r\n" + OK_HEAD + b"Content-Length: 2\r\n\r\nhi",
       [resp(200, b"OK", [(b"content-length", b"5")]), end(),
        resp(200, b"OK", [(b"content-length", b"2")], content_length=2), body(b"hi"), end()],
       expect=(b"HEAD", b"GET")),
    ok("response-to-head-with-chunked-has-no-body",
       OK_HEAD + TE + b"\r\n" + OK_HEAD + CL5 + b"\r\n",
       [resp(200, b"OK", [(b"transfer-encoding", b"chunked")]), end(),
        resp(200, b"OK", [(b"content-length", b"5")]), end()],
       expect=(b"HEAD", b"HEAD")),
    ok("response-to-head-without-length-is-persistent",
       OK_HEAD + b"\r\n" + OK_HEAD + b"Content-Length: 0\r\n\r\n",
       [resp(200, b"OK"), end(), resp(200, b"OK", [(b"content-length", b"0")]), end()],
       expect=(b"HEAD", b"GET")),
    ok("204-has-no-body", b"HTTP/1.1 204 No Content\r\n" + CL5 + b"\r\n"
       + b"HTTP/1.1 204 No Content\r\n" + TE + b"\r\n",
       [resp(204, b"No Content", [(b"content-length", b"5")]), end(),
        resp(204, b"No Content", [(b"transfer-encoding", b"chunked")]), end()]),
    ok("304-has-no-body", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
       + b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
       [resp(304, b"Not Modified", [(b"content-length", b"10")]), end(),
        resp(304, b"Not Modified", [(b"etag", b'"x"')]), end()]),
    ok("1xx-then-final-response (RFC 9110 §15.2)",
       b"HTTP/1.1 100 Continue\r\n\r\n"
       b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nLink: </b.js>\r\n\r\n"
       + OK_HEAD + CL5 + b"\r\nhello",
       [info(100, b"Continue"),
        info(103, b"Early Hints", [(b"link", b"</a.css>; rel=preload"), (b"link", b"</b.js>")]),
        resp(200, b"OK", [(b"content-length", b"5")], content_length=5), body(b"hello"), end()]),
    ok("1xx-does-not-consume-expected-method",
       b"HTTP/1.1 100 Continue\r\n\r\n" + OK_HEAD + CL5 + b"\r\n"
       + b"HTTP/1.1 102 Processing\r\n\r\n" + OK_HEAD + CL5 + b"\r\nhello",
       [info(100, b"Continue"), resp(200, b"OK", [(b"content-length", b"5")]), end(),
        info(102, b"Processing"),
        resp(200, b"OK", [(b"content-length", b"5")], content_length=5), body(b"hello"), end()],
       expect=(b"HEAD", b"GET")),
    ok("1xx-with-content-length-has-no-body",
       b"HTTP/1.1 100 Continue\r\nContent-Length: 3\r\n\r\n" + OK_HEAD + b"Content-Length: 0\r\n\r\n",
       [info(100, b"Continue", [(b"content-length", b"3")]),
        resp(200, b"OK", [(b"content-length", b"0")]), end()]),
    ok("101-switches-protocols",
       b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
       b"\x81\x02hi",
       [info(101, b"Switching Protocols", [(b"upgrade", b"websocket"),
                                           (b"connection", b"Upgrade")], upgrade=True)],
       trailing=b"\x81\x02hi"),
    ok("101-ignores-body-framing",
       b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nContent-Length: 4\r\n\r\nbodyproto",
       [info(101, b"Switching Protocols", [(b"upgrade", b"h2c"), (b"content-length", b"4")],
             upgrade=True)],
       trailing=b"bodyproto"),
    ok("100-then-101",
       b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\n\r\n",
       [info(100, b"Continue"), info(101, b"Switching", [(b"upgrade", b"x")], upgrade=True)],
       trailing=b"\r\n"),
    ok("connect-2xx-opens-a-tunnel",
       b"HTTP/1.1 200 Connection Established\r\nContent-Length: 10\r\n\r\n\x16\x03\x01",
       [resp(200, b"Connection Established", [(b"content-length", b"10")], upgrade=True), end()],
       expect=(b"CONNECT",), trailing=b"\x16\x03\x01"),
    ok("connect-non-2xx-is-a-normal-response",
       b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno"
       b"HTTP/1.1 299 Weird\r\n\r\nbytes",
       [resp(407, b"Proxy Authentication Required", [(b"content-length", b"2")],
             content_length=2), body(b"no"), end(),
        resp(299, b"Weird", upgrade=True), end()],
       expect=(b"CONNECT", b"connect"), trailing=b"bytes"),
    ok("expected-methods-are-fifo",
       OK_HEAD + b"Content-Length: 1\r\n\r\nA" + OK_HEAD + b"Content-Length: 1\r\n\r\n"
       + OK_HEAD + b"Content-Length: 1\r\n\r\nC" + OK_HEAD + b"Content-Length: 1\r\n\r\nD",
       [resp(200, b"OK", [(b"content-length", b"1")], content_length=1), body(b"A"), end(),
        resp(200, b"OK", [(b"content-length", b"1")]), end(),
        resp(200, b"OK", [(b"content-length", b"1")], content_length=1), body(b"C"), end(),
        resp(200, b"OK", [(b"content-length", b"1")], content_length=1), body(b"D"), end()],
       expect=(b"GET", b"HEAD", b"POST")),
    ok("response-obs-fold-keeps-the-field (RFC 9112 §5.2)",
       OK_HEAD + b"X-Folded:\r\n b\r\nContent-Length: 0\r\n\r\n",
       [resp(200, b"OK", [(b"x-folded", b"b"), (b"content-length", b"0")]), end()]),
    ok("status-line-of-max-line-size", b"HTTP/1.1 200 " + b"r" * 7 + b"\r\n\r\n",
       [resp(200, b"r" * 7, keep_alive=False, content_length=None)], max_line_size=20),
]


@pytest.mark.parametrize(("raw", "events", "expect", "eof", "trailing", "options"), ACCEPTED)
def test_accepted(twin, raw, events, expect, eof, trailing, options):
    out = assert_splits_agree(twin, "response", raw, expect=expect, eof=eof, **options)
    assert out.error is None, out.error
    assert out.events == events
    assert out.trailing_data == trailing
    assert out.upgraded == any(f.get("upgrade") for _, f in events)


@pytest.mark.parametrize(("raw", "folded"), [
    pytest.param(b"a\r\n b", b"a b", id="sp"),
    pytest.param(b"a\r\n\tb", b"a b", id="htab"),
    pytest.param(b"a \t\r\n \t b", b"a b", id="ows-on-both-sides"),
    pytest.param(b"a\r\n b\r\n  c", b"a b c", id="two-folds"),
    pytest.param(b"\r\n b", b"b", id="empty-first-line"),
    pytest.param(b"a\r\n \r\n b", b"a b", id="empty-continuation"),
])
def test_response_obs_fold_is_replaced_by_one_sp(twin, raw, folded):
    """RFC 9112 §5.2: a recipient of a response replaces each obs-fold (OWS CRLF RWS)
    with SP; hopwire's contract is one SP, and never an HTAB."""
    msg = OK_HEAD + b"X-Folded: " + raw + b"\r\nContent-Length: 0\r\n\r\n"
    out = assert_splits_agree(twin, "response", msg)
    assert out.error is None
    assert out.events[0][1]["headers"] == [(b"x-folded", folded), (b"content-length", b"0")]


def test_obs_fold_does_not_count_as_a_field(twin):
    msg = OK_HEAD + b"A: 1\r\n 2\r\n 3\r\nB: 4\r\n\r\n"
    out = assert_splits_agree(twin, "response", msg, max_headers=2, eof=True)
    assert out.error is None
    assert [name for name, _ in out.events[0][1]["headers"]] == [b"a", b"b"]


FOLDED_FRAMING = [
    pytest.param(b"Connection: keep-alive,\r\n close\r\nContent-Length: 0\r\n",
                 lambda head: head["keep_alive"] is False,
                 id="connection-close-on-continuation-line"),
    pytest.param(b"Transfer-Encoding: chunked\r\n , gzip\r\n",
                 lambda head: head["chunked"] is False,
                 id="transfer-coding-after-chunked-on-continuation-line"),
    pytest.param(b"Content-Length: 5\r\n 0\r\n",
                 lambda head: False,  # "5 0" is no Content-Length: only a rejection is safe
                 id="content-length-digits-on-continuation-line"),
]


@pytest.mark.parametrize(("fields", "safe"), FOLDED_FRAMING)
def test_framing_fields_are_interpreted_after_unfolding(twin, fields, safe):
    """RFC 9112 §5.2: obs-fold is replaced *prior to interpreting the field value*.

    Framing and persistence must follow the value the application sees; a
    parser that decides them from the first line only while handing on the
    unfolded value disagrees with the next hop about where the message ends
    (response splitting / desync)."""
    msg = OK_HEAD + fields + b"\r\nhello"
    out = assert_splits_agree(twin, "response", msg, eof=True)
    if out.error is not None and not out.events:
        return  # the head was rejected: safe
    assert out.events[0][0] == "Response"
    assert safe(out.events[0][1]), describe(out)


def test_empty_expect_queue_frames_as_get(twin):
    out = parse_whole(twin, "response", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    assert out.events[1:] == [body(b"hi"), end()]


def test_expect_accepts_str_and_any_case(twin):
    parser = twin.ResponseParser()
    parser.expect("head")
    parser.expect(b"Connect")
    events = parser.feed(OK_HEAD + CL5 + b"\r\n" + OK_HEAD + b"\r\nxyz")
    assert [type(e).__name__ for e in events] == ["Response", "EndOfMessage"] * 2
    assert events[0].content_length == 0
    assert events[2].upgrade is True
    assert parser.upgraded and parser.trailing_data == b"xyz"


def test_read_until_close_body_streams(twin):
    parser = twin.ResponseParser()
    events = parser.feed(OK_HEAD + b"\r\nab")
    assert events[0].keep_alive is False and events[0].content_length is None
    assert [e.data for e in events[1:]] == [b"ab"]
    assert [e.data for e in parser.feed(b"cd")] == [b"cd"]
    assert [e.data for e in parser.feed(b"\r\n\r\nHTTP/1.1 200 OK\r\n")] == [
        b"\r\n\r\nHTTP/1.1 200 OK\r\n"]
    eom = parser.feed_eof()
    assert [type(e).__name__ for e in eom] == ["EndOfMessage"] and eom[0].headers == []
    assert parser.feed_eof() == []
    with pytest.raises(hopwire.ParseError) as err:
        parser.feed(b"x")
    assert (err.value.reason, err.value.status_hint) == R.FEED_AFTER_EOF


@pytest.mark.parametrize(("raw", "expect", "result"), [
    pytest.param(b"", (), [], id="nothing"),
    pytest.param(OK_HEAD + b"Content-Length: 2\r\n\r\nhi", (), [], id="after-complete-response"),
    pytest.param(OK_HEAD + b"Connection: close\r\nContent-Length: 0\r\n\r\n", (), [],
                 id="after-closing-response"),
    pytest.param(OK_HEAD + b"\r\nbody", (), [end()], id="ends-read-until-close"),
    pytest.param(OK_HEAD + b"\r\n", (), [end()], id="ends-empty-read-until-close"),
    pytest.param(b"HTTP/1.1 101 Switching\r\n\r\nxyz", (), [], id="after-upgrade"),
    pytest.param(OK_HEAD + b"\r\n", (b"HEAD",), [], id="after-head-response"),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n", (), [], id="after-1xx"),
    pytest.param(b"HTTP/1.1 20", (), R.INCOMPLETE_MESSAGE, id="inside-status-line"),
    pytest.param(OK_HEAD + b"Content-Length: 5\r\n", (), R.INCOMPLETE_MESSAGE, id="inside-head"),
    pytest.param(OK_HEAD + b"Content-Length: 5\r\n\r\nabc", (), R.INCOMPLETE_MESSAGE,
                 id="truncated-content-length-body"),
    pytest.param(OK_HEAD + TE + b"\r\n5\r\nhello\r\n", (), R.INCOMPLETE_MESSAGE,
                 id="truncated-chunked-body"),
    pytest.param(OK_HEAD + TE + b"\r\n5\r\nhel", (), R.INCOMPLETE_MESSAGE,
                 id="truncated-chunk-data"),
    pytest.param(OK_HEAD + TE + b"\r\n0\r\nX: y\r\n", (), R.INCOMPLETE_MESSAGE,
                 id="truncated-trailers"),
])
def test_feed_eof(twin, raw, expect, result):
    out = assert_splits_agree(twin, "response", raw, expect=expect, eof=True)
    before = parse_whole(twin, "response", raw, expect=expect)
    if isinstance(result, list):
        assert out.error is None
        assert out.events == before.events + result
    else:
        assert out.rule == result
        assert out.offset == len(raw)
        assert out.events == before.events


# -- rejections ----------------------------------------------------------------


def bad(id: str, raw: bytes, rule: tuple[str, int], at: int | bytes | tuple[bytes, int], *,
        expect: tuple = (), **options: Any):
    if isinstance(at, bytes):
        at = (at, 0)
    if isinstance(at, tuple):
        assert at[0] in raw, (id, at[0])
        at = raw.index(at[0]) + at[1]
    return pytest.param(raw, rule, at, expect, options, id=id)


CHUNKED = OK_HEAD + TE + b"\r\n"

REJECTED = [
    # status line (RFC 9112 §4)
    bad("status-two-digits [RFC 9112 §4]", b"HTTP/1.1 99 OK\r\n\r\n", R.INVALID_STATUS, 11),
    bad("status-four-digits [RFC 9112 §4]", b"HTTP/1.1 1000 OK\r\n\r\n", R.INVALID_STATUS, 12),
    bad("status-leading-zero [RFC 9112 §4]", b"HTTP/1.1 099 OK\r\n\r\n", R.INVALID_STATUS, 9),
    bad("status-letters [RFC 9112 §4]", b"HTTP/1.1 2OO OK\r\n\r\n", R.INVALID_STATUS, 10),
    bad("status-missing [RFC 9112 §4]", b"HTTP/1.1\r\n\r\n", R.INVALID_STATUS, 8),
    bad("status-missing-after-space [RFC 9112 §4]", b"HTTP/1.1 \r\n\r\n", R.INVALID_STATUS, 9),
    bad("double-space-before-status [RFC 9112 §4]",
        b"HTTP/1.1  200 OK\r\n\r\n", R.INVALID_STATUS, 9),
    bad("tab-before-status [RFC 9112 §2.3]", b"HTTP/1.1\t200 OK\r\n\r\n", R.INVALID_VERSION, 8),
    bad("status-non-ascii-digit [RFC 9112 §4]",
        b"HTTP/1.1 2\xd9\xa30 OK\r\n\r\n", R.INVALID_STATUS, 10),
    bad("tab-after-status [RFC 9112 §4]", b"HTTP/1.1 200\tOK\r\n\r\n", R.INVALID_STATUS, 12),
    bad("nul-in-reason [RFC 9112 §4]", b"HTTP/1.1 200 O\x00K\r\n\r\n", R.INVALID_REASON, 14),
    bad("del-in-reason [RFC 9112 §4]", b"HTTP/1.1 200 OK\x7f\r\n\r\n", R.INVALID_REASON, 15),
    bad("bare-CR-ends-status-line (RFC 9112 §2.2)", b"HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n",
        R.BARE_CR, 15),
    bad("bare-CR-in-reason (RFC 9112 §2.2)", b"HTTP/1.1 200 O\rK\r\n\r\n", R.BARE_CR, 14),
    bad("bare-LF-ends-status-line (RFC 9112 §2.2)", b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        R.BARE_LF, 15),
    bad("bare-LF-after-status-code [RFC 9112 §2.2, CVE-2022-32214 class]",
        b"HTTP/1.1 200\n\r\n", R.BARE_LF, 12),
    bad("version-lower-case (RFC 9112 §2.3)", b"http/1.1 200 OK\r\n\r\n", R.INVALID_VERSION, 0),
    bad("version-HTTP/2 (505) [RFC 9112 §2.3, RFC 9110 §15.6.6]",
        b"HTTP/2 200 OK\r\n\r\n", R.UNSUPPORTED_VERSION, 5),
    bad("version-HTTP/1.2 (505) [RFC 9112 §2.3, RFC 9110 §15.6.6]",
        b"HTTP/1.2 200 OK\r\n\r\n", R.UNSUPPORTED_VERSION, 7),
    bad("version-HTTP/1.1x [RFC 9112 §2.3]", b"HTTP/1.1x 200 OK\r\n\r\n", R.INVALID_VERSION, 8),
    bad("not-http-ICY [RFC 9112 §2.3]", b"ICY 200 OK\r\n\r\n", R.INVALID_VERSION, 0),
    bad("leading-space [RFC 9112 §2.3]", b" HTTP/1.1 200 OK\r\n\r\n", R.INVALID_VERSION, 0),
    # fields
    bad("space-before-colon (RFC 9112 §5.1)", OK_HEAD + b"Content-Length : 5\r\n\r\nhello",
        R.SPACE_BEFORE_COLON, b" :"),
    bad("whitespace-after-status-line (RFC 9112 §2.2)", OK_HEAD + b" X: y\r\n\r\n",
        R.SPACE_AFTER_START_LINE, len(OK_HEAD)),
    bad("nul-in-value [RFC 9110 §5.5]", OK_HEAD + b"X: a\x00\r\n\r\n", R.INVALID_VALUE, b"\x00"),
    bad("nul-in-folded-value [RFC 9110 §5.5]",
        OK_HEAD + b"X: a\r\n b\x00\r\n\r\n", R.INVALID_VALUE, b"\x00"),
    bad("bare-CR-in-folded-value [RFC 9110 §5.5]",
        OK_HEAD + b"X: a\r\n b\rc\r\n\r\n", R.BARE_CR, b"\rc"),
    bad("bare-LF-in-folded-value [RFC 9110 §5.5]",
        OK_HEAD + b"X: a\r\n b\nc\r\n\r\n", R.BARE_LF, b"\nc"),
    bad("non-token-in-name [RFC 9110 §5.6.2 tchar]",
        OK_HEAD + b"X[1]: a\r\n\r\n", R.INVALID_NAME, b"["),
    bad("missing-colon [RFC 9112 §5]", OK_HEAD + b"X\r\n\r\n", R.MISSING_COLON, len(OK_HEAD) + 1),
    # framing
    bad("content-length-with-transfer-encoding (RFC 9112 §6.3)",
        OK_HEAD + CL5 + TE + b"\r\n", R.CONTENT_LENGTH_WITH_TE, b"Transfer-Encoding"),
    bad("content-length-with-transfer-encoding-even-for-head [RFC 9112 §6.3, response splitting]",
        OK_HEAD + TE + CL5 + b"\r\n", R.CONTENT_LENGTH_WITH_TE, b"Content-Length",
        expect=(b"HEAD",)),
    bad("differing-content-length (RFC 9110 §8.6)",
        OK_HEAD + CL5 + b"Content-Length: 6\r\n\r\n", R.CONFLICTING_CONTENT_LENGTH,
        b"Content-Length: 6"),
    bad("malformed-content-length [RFC 9110 §8.6, CL-obfuscation smuggling]",
        OK_HEAD + b"Content-Length: 5x\r\n\r\n",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("non-ascii-content-length [RFC 9110 §8.6, CL-obfuscation smuggling]",
        OK_HEAD + b"Content-Length: \xef\xbc\x95\r\n\r\n",
        R.INVALID_CONTENT_LENGTH, b"Content-Length"),
    bad("content-length-overflow (413) [RFC 9110 §8.6, integer-overflow smuggling]",
        OK_HEAD + b"Content-Length: 99999999999999999999\r\n\r\n",
        R.CONTENT_LENGTH_OVERFLOW, b"Content-Length"),
    bad("chunked-twice (RFC 9112 §7.1)",
        OK_HEAD + b"Transfer-Encoding: chunked, gzip, chunked\r\n\r\n",
        R.CHUNKED_TWICE, b"Transfer-Encoding"),
    bad("empty-transfer-coding [RFC 9112 §6.1]", OK_HEAD + b"Transfer-Encoding: ,chunked\r\n\r\n",
        R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding"),
    bad("chunk-size-overflow (413) [RFC 9112 §7.1, chunk-size overflow smuggling]",
        CHUNKED + b"fffffffffffffffff\r\n", R.CHUNK_SIZE_OVERFLOW,
        len(CHUNKED) + 15),
    bad("chunk-size-invalid [RFC 9112 §7.1]",
        CHUNKED + b"z\r\n", R.INVALID_CHUNK_SIZE, len(CHUNKED)),
    bad("bare-LF-in-chunk-extension (CVE-2024-52304 class)", CHUNKED + b"1;a\nx\r\n",
        R.BARE_LF, len(CHUNKED) + 3),
    bad("chunk-data-not-followed-by-CRLF [RFC 9112 §7.1, CVE-2025-43859 class]",
        CHUNKED + b"1\r\nxy", R.MISSING_CHUNK_CRLF,
        len(CHUNKED) + 4),
    # limits
    bad("status-line-too-long [RFC 9112 §4, length limit]",
        b"HTTP/1.1 200 " + b"r" * 8 + b"\r\n\r\n", R.LINE_TOO_LONG, 20,
        max_line_size=20),
    bad("field-line-too-long (431) [RFC 9112 §5, RFC 6585 §5]",
        OK_HEAD + b"X: " + b"v" * 18 + b"\r\n\r\n",
        R.FIELD_LINE_TOO_LONG, len(OK_HEAD) + 20, max_line_size=20),
    bad("folded-line-too-long (431) [RFC 9112 §5, RFC 6585 §5]",
        OK_HEAD + b"X: a\r\n " + b"v" * 20 + b"\r\n\r\n",
        R.FIELD_LINE_TOO_LONG, len(OK_HEAD) + 6 + 20, max_line_size=20),
    bad("header-section-too-large (431) [RFC 6585 §5, header-flood DoS]",
        OK_HEAD + b"X: 12345678901234\r\nY: 1234567890123456",
        R.HEADER_TOO_LARGE, 48 - 2, max_header_size=48),
    bad("too-many-headers (431) [RFC 6585 §5, header-flood DoS]",
        OK_HEAD + b"A: 1\r\nB: 2\r\n\r\n", R.TOO_MANY_HEADERS, b"B: 2",
        max_headers=1),
    bad("too-many-trailers (431) [RFC 6585 §5, header-flood DoS]",
        CHUNKED + b"0\r\nA: 1\r\nB: 2\r\n\r\n", R.TOO_MANY_HEADERS,
        b"B: 2", max_headers=1),
    # persistence
    bad("data-after-connection-close [RFC 9112 §9.6, smuggling after close]",
        OK_HEAD + b"Connection: close\r\nContent-Length: 0\r\n\r\n"
        + OK_HEAD, R.DATA_AFTER_CLOSE, len(OK_HEAD) + 40),
    bad("data-after-http-1.0-response [RFC 9112 §9.6, smuggling after close]",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n\r\n",
        R.DATA_AFTER_CLOSE, 38),
    bad("data-after-http-1.0-chunked-response (RFC 9112 §6.1)",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n" + TE + b"\r\n0\r\n\r\nX",
        R.DATA_AFTER_CLOSE, b"X"),
]


@pytest.mark.parametrize(("raw", "rule", "offset", "expect", "options"), REJECTED)
def test_rejected(twin, raw, rule, offset, expect, options):
    out = assert_splits_agree(twin, "response", raw, expect=expect, **options)
    assert out.error is not None, f"accepted: {out.events}"
    assert out.rule == rule
    assert out.offset == offset


def test_error_is_sticky(twin):
    parser = twin.ResponseParser()
    with pytest.raises(hopwire.ParseError) as first:
        parser.feed(b"HTTP/1.1 200 OK\r\nX: \x00\r\n\r\n")
    for _ in range(2):
        with pytest.raises(hopwire.ParseError) as again:
            parser.feed(OK_HEAD + b"\r\n")
        assert (again.value.reason, again.value.offset) == (first.value.reason, first.value.offset)


def test_informational_event_fields(twin):
    events = twin.ResponseParser().feed(b"HTTP/1.0 103 Early Hints\r\nLink: <x>\r\n\r\n")
    (ev,) = events
    assert type(ev).__name__ == "InformationalResponse"
    assert ev.status_code == 103 and type(ev.status_code) is int
    assert ev.reason == b"Early Hints" and ev.http_version == b"1.0"
    assert ev.headers == [(b"link", b"<x>")] and ev.upgrade is False and ev.hop_headers is None


def test_response_parser_has_the_request_parser_options(twin):
    parser = make_parser(twin, "response", (b"GET",), max_line_size=64, max_header_size=128,
                         max_headers=2, strip_hop_by_hop=True)
    events = parser.feed(OK_HEAD + b"Connection: close\r\nContent-Length: 0\r\n\r\n")
    assert events[0].headers == [(b"content-length", b"0")]
    assert events[0].hop_headers == [(b"connection", b"close")]
