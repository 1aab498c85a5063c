"""Request smuggling and response splitting, class by class, for requests and responses.

Each class is one test class; each case names the public advisory (or, where no
single advisory stands for it, the RFC rule) that the trick comes from. A case
is either rejected, with the rule and the offset of the byte that breaks it, or
accepted with the one framing RFC 9112 allows, checked message by message.
Every case is parsed whole, byte by byte and cut in two at every position, on
both twins (support.parsing.assert_splits_agree), and a request or response smuggled
behind the first message must never come out as an event.

Advisories cited (one line each, what the parser got wrong):
  CVE-2017-7657   Jetty: chunk-size integer overflow
  CVE-2017-7658   Jetty: second Content-Length ignored; Content-Length ignored next to chunked
  CVE-2019-16276  Go net/http: whitespace between field name and colon accepted
  CVE-2019-16785  Waitress: LF alone accepted as a line terminator
  CVE-2019-16786  Waitress: Transfer-Encoding other than plain "chunked" fell back to Content-Length
  CVE-2019-16789  Waitress: invalid whitespace inside field values accepted
  CVE-2019-16792  Waitress: two Content-Length fields read as no body
  CVE-2019-16869  Netty: whitespace before the colon of a field name accepted
  CVE-2019-18277  HAProxy: Transfer-Encoding with a vertical tab before "chunked" not rejected
  CVE-2019-20444  Netty: a field line without a colon accepted
  CVE-2019-20445  Netty: Content-Length next to a second Content-Length or Transfer-Encoding
  CVE-2020-7238   Netty: whitespace before "Transfer-Encoding" mishandled with a Content-Length
  CVE-2020-8201   Node.js: CR in a field name turned into a hyphen
  CVE-2020-8287   Node.js: two Transfer-Encoding fields accepted
  CVE-2021-22959  Node.js (llhttp): spaces after a field name accepted
  CVE-2021-22960  Node.js (llhttp): chunk extensions not validated
  CVE-2021-32714  hyper: chunk-size integer overflow
  CVE-2021-32715  hyper: Content-Length with a leading "+" accepted
  CVE-2021-33037  Tomcat: TE in HTTP/1.0, "identity", and chunked not last accepted
  CVE-2022-32213  Node.js (llhttp): Transfer-Encoding not validated correctly
  CVE-2022-32214  Node.js (llhttp): LF without CR accepted as a line end
  CVE-2022-32215  Node.js (llhttp): multi-line (obs-fold) Transfer-Encoding mishandled
  CVE-2023-25725  HAProxy: empty field names accepted
  CVE-2023-30589  Node.js (llhttp): CR without LF accepted as a line end
  CVE-2023-39326  Go net/http: chunk extensions read without limit
  CVE-2023-40225  HAProxy: empty Content-Length forwarded
  CVE-2024-27982  Node.js: Content-Length obfuscated by a space before the field name
  CVE-2024-52304  aiohttp: LF inside a chunk extension accepted
  CVE-2025-22871  Go net/http: bare LF accepted in a chunk-size line
  CVE-2025-43859  h11: any two bytes accepted as the CRLF after chunk data
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from hopwire._wire import rules as R
from support.parsing import Outcome, assert_splits_agree, body, end, req, resp

POST = b"POST / HTTP/1.1\r\nHost: h\r\n"
GET = b"GET / HTTP/1.1\r\nHost: h\r\n"
OK = b"HTTP/1.1 200 OK\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"  # a legitimate next request
SPLIT = b"HTTP/1.1 200 OK\r\nX-Smuggled: 1\r\nContent-Length: 0\r\n\r\n"
CHUNKED_REQ = POST + b"Transfer-Encoding: chunked\r\n\r\n"
CHUNKED_RESP = OK + b"Transfer-Encoding: chunked\r\n\r\n"


@dataclass(frozen=True)
class Case:
    """A rejected input: the rule it breaks and the stream offset of the byte that breaks it."""

    raw: bytes
    rule: tuple[str, int]
    offset: int
    expect: tuple[bytes, ...] = ()
    eof: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def rejected(id: str, raw: bytes, rule: tuple[str, int], at: int | bytes | tuple[bytes, int],
             cite: str, *, expect: Sequence[bytes] = (), eof: bool = False,
             **options: Any) -> Any:
    """A case that must fail with `rule` at `at` (an offset, or the bytes it points at + delta)."""
    if isinstance(at, bytes):
        at = (at, 0)
    if isinstance(at, tuple):
        assert at[0] in raw, (id, at[0])
        at = raw.index(at[0]) + at[1]
    return pytest.param(Case(raw, rule, at, tuple(expect), eof, options), id=f"{id} [{cite}]")


def accepted(id: str, raw: bytes, events: list[Any], cite: str, *,
             expect: Sequence[bytes] = (), eof: bool = False,
             error: tuple[tuple[str, int], int | bytes] | None = None) -> Any:
    """A case with one safe reading: exactly `events` (then `error`, if the bytes go on)."""
    return pytest.param(raw, events, error, tuple(expect), eof, id=f"{id} [{cite}]")


def check_rejected(twin: Any, kind: str, case: Case) -> Outcome:
    out = assert_splits_agree(twin, kind, case.raw, expect=case.expect, eof=case.eof,
                              **case.options)
    assert out.error is not None, f"accepted: {out.events}"
    assert (out.rule, out.offset) == (case.rule, case.offset)
    assert_nothing_smuggled(out)
    return out


def check_accepted(twin: Any, kind: str, raw: bytes, events: list[Any],
                   error: tuple[tuple[str, int], int | bytes] | None,
                   expect: tuple[bytes, ...], eof: bool) -> Outcome:
    out = assert_splits_agree(twin, kind, raw, expect=expect, eof=eof)
    assert out.events == events
    if error is None:
        assert out.error is None, out.error
    else:
        rule, at = error
        assert out.rule == rule
        assert out.offset == (raw.index(at) if isinstance(at, bytes) else at)
    assert_nothing_smuggled(out)
    return out


def assert_nothing_smuggled(out: Outcome) -> None:
    for name, fields in out.events:
        assert fields.get("target") != b"/smuggled", "a smuggled request came out"
        assert (b"x-smuggled", b"1") not in fields.get("headers", []), "a split response came out"


ACCEPTED_ARGS = ("raw", "events", "error", "expect", "eof")


class SmugglingClass:
    """One class of trick: REQUESTS and RESPONSES list the cases each must reject."""

    REQUESTS: list[Any] = []
    RESPONSES: list[Any] = []

    def test_request(self, twin: Any, case: Case) -> None:
        check_rejected(twin, "request", case)

    def test_response(self, twin: Any, case: Case) -> None:
        check_rejected(twin, "response", case)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrizes each class's test_request/test_response with its own case lists."""
    lists = {"test_request": "REQUESTS", "test_response": "RESPONSES"}
    if metafunc.cls is not None and metafunc.function.__name__ in lists:
        metafunc.parametrize("case", getattr(metafunc.cls, lists[metafunc.function.__name__]))


# -- CL.TE and TE.CL: two framings in one message ------------------------------------


class TestCLTE(SmugglingClass):
    """The front end frames by Content-Length, the back end by chunked (or the reverse).

    RFC 9112 §6.3 lets a server reject a message with both; hopwire rejects it in
    requests and in responses, at the second framing field."""

    REQUESTS = [
        rejected("CL.TE", POST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
                 R.CONTENT_LENGTH_WITH_TE, b"Transfer-Encoding", "CVE-2019-20445"),
        rejected("CL.TE-smuggles-a-request",
                 POST + b"Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
                 R.CONTENT_LENGTH_WITH_TE, b"Transfer-Encoding", "CVE-2017-7658"),
        rejected("TE.CL", POST + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n",
                 R.CONTENT_LENGTH_WITH_TE, b"Content-Length", "CVE-2019-20445"),
        rejected("TE.CL-zero-length", POST + b"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
                 R.CONTENT_LENGTH_WITH_TE, b"Content-Length", "CVE-2017-7658"),
        rejected("CL.TE-mixed-case-names",
                 POST + b"cOnTeNt-LeNgTh: 3\r\ntRaNsFeR-eNcOdInG: chunked\r\n\r\n",
                 R.CONTENT_LENGTH_WITH_TE, b"tRaNsFeR", "CVE-2019-20445"),
        rejected("CL.TE-with-codings", POST + b"Content-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                 R.CONTENT_LENGTH_WITH_TE, b"Transfer-Encoding", "CVE-2019-20445"),
    ]
    RESPONSES = [
        rejected("CL.TE-response", OK + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                 R.CONTENT_LENGTH_WITH_TE, b"Transfer-Encoding", "CVE-2019-20445"),
        rejected("TE.CL-response", OK + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                 R.CONTENT_LENGTH_WITH_TE, b"Content-Length", "CVE-2017-7658"),
        rejected("TE.CL-response-to-HEAD", OK + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                 R.CONTENT_LENGTH_WITH_TE, b"Content-Length", "CVE-2017-7658", expect=[b"HEAD"]),
    ]

    def test_trailer_fields_never_frame(self, twin):
        """Framing fields in a trailer section are data (RFC 9110 §6.5.1), not a second framing."""
        raw = CHUNKED_REQ + b"0\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n" + NEXT
        out = assert_splits_agree(twin, "request", raw)
        assert out.error is None
        assert [name for name, _ in out.events] == ["Request", "EndOfMessage", "Request",
                                                     "EndOfMessage"]
        assert out.events[2][1]["target"] == b"/next"  # the next request, as the sender framed it


# -- TE.TE: an obfuscated Transfer-Encoding that one side ignores --------------------------


class TestTETE(SmugglingClass):
    """Both sides support chunked, but one of them can be made not to see it."""

    REQUESTS = [
        rejected("vertical-tab-before-chunked", POST + b"Transfer-Encoding:\x0bchunked\r\n\r\n",
                 R.INVALID_VALUE, b"\x0b", "CVE-2019-18277"),
        rejected("form-feed-after-chunked", POST + b"Transfer-Encoding: chunked\x0c\r\n\r\n",
                 R.INVALID_VALUE, b"\x0c", "CVE-2019-18277"),
        rejected("space-before-name", POST + b"Content-Length: 3\r\n Transfer-Encoding: chunked\r\n\r\n",
                 R.OBS_FOLD, b" Transfer", "CVE-2020-7238"),
        rejected("space-before-first-name", b"POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n\r\n",
                 R.SPACE_AFTER_START_LINE, b" Transfer", "CVE-2020-7238"),
        rejected("space-before-colon", POST + b"Transfer-Encoding : chunked\r\n\r\n",
                 R.SPACE_BEFORE_COLON, b" :", "CVE-2019-16869"),
        rejected("xchunked", POST + b"Transfer-Encoding: xchunked\r\n\r\n",
                 R.UNKNOWN_TRANSFER_CODING, b"Transfer-Encoding", "CVE-2022-32213"),
        rejected("identity", POST + b"Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc",
                 R.UNKNOWN_TRANSFER_CODING, b"Transfer-Encoding", "CVE-2021-33037"),
        rejected("chunked-then-identity", POST + b"Transfer-Encoding: chunked, identity\r\n\r\n",
                 R.CHUNKED_NOT_LAST, b"Transfer-Encoding", "CVE-2021-33037"),
        rejected("chunked-not-last", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n",
                 R.CHUNKED_NOT_LAST, b"Transfer-Encoding", "CVE-2021-33037"),
        rejected("second-field-unknown", POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
                 R.CHUNKED_NOT_LAST, b"Transfer-Encoding: x", "CVE-2020-8287"),
        rejected("chunked-twice-across-fields",
                 POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                 R.CHUNKED_TWICE, b"Transfer-Encoding: chunked\r\n\r\n", "CVE-2020-8287"),
        rejected("quoted-chunked", POST + b'Transfer-Encoding: "chunked"\r\n\r\n',
                 R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding", "CVE-2022-32213"),
        rejected("chunked-with-parameter", POST + b"Transfer-Encoding: chunked;x=1\r\n\r\n",
                 R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding", "CVE-2022-32213"),
        rejected("empty-coding", POST + b"Transfer-Encoding: , chunked\r\n\r\n",
                 R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding", "CVE-2022-32213"),
        rejected("te-in-http-1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 R.TE_IN_HTTP10_REQUEST, b"Transfer-Encoding", "CVE-2021-33037"),
        rejected("nul-inside-chunked", POST + b"Transfer-Encoding: chu\x00nked\r\n\r\n",
                 R.INVALID_VALUE, b"\x00", "CVE-2019-16786"),
    ]
    RESPONSES = [
        rejected("vertical-tab-before-chunked", OK + b"Transfer-Encoding:\x0bchunked\r\n\r\n",
                 R.INVALID_VALUE, b"\x0b", "CVE-2019-18277"),
        rejected("space-before-colon", OK + b"Transfer-Encoding : chunked\r\n\r\n",
                 R.SPACE_BEFORE_COLON, b" :", "CVE-2019-16869"),
        rejected("chunked-twice", OK + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                 R.CHUNKED_TWICE, b"Transfer-Encoding: chunked\r\n\r\n", "CVE-2020-8287"),
        rejected("quoted-chunked", OK + b'Transfer-Encoding: "chunked"\r\n\r\n',
                 R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding", "CVE-2022-32213"),
    ]
    # A response whose codings do not end in chunked is read until close (RFC 9112 §6.3
    # rule 4): no later byte on that connection can be taken for a response.
    CLOSE_DELIMITED = [
        accepted("xchunked-response-reads-until-close",
                 OK + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SPLIT,
                 [resp(200, b"OK", [(b"transfer-encoding", b"xchunked")], keep_alive=False,
                       content_length=None), body(b"0\r\n\r\n" + SPLIT), end()],
                 "CVE-2022-32213", eof=True),
        accepted("chunked-not-last-response-reads-until-close",
                 OK + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n" + SPLIT,
                 [resp(200, b"OK", [(b"transfer-encoding", b"chunked, gzip")], keep_alive=False,
                       content_length=None), body(b"0\r\n\r\n" + SPLIT), end()],
                 "CVE-2021-33037", eof=True),
    ]

    @pytest.mark.parametrize(ACCEPTED_ARGS, CLOSE_DELIMITED)
    def test_response_close_delimited(self, twin, raw, events, error, expect, eof):
        check_accepted(twin, "response", raw, events, error, expect, eof)

    def test_look_alike_name_is_an_ordinary_field(self, twin):
        """`Transfer_Encoding` is a valid name of another field: no body, and the chunked
        bytes that follow are the next request's start line, which fails."""
        raw = POST + b"Transfer_Encoding: chunked\r\n\r\n0\r\n\r\n"
        out = check_accepted(
            twin, "request", raw,
            [req(b"POST", b"/", [(b"host", b"h"), (b"transfer_encoding", b"chunked")]), end()],
            (R.INVALID_METHOD, raw.index(b"0\r\n\r\n") + 1), (), False)
        assert out.events[0][1]["chunked"] is False


# -- Content-Length: duplicated and obfuscated ---------------------------------------------


class TestContentLength(SmugglingClass):
    """One side reads a Content-Length the other reads differently, or not at all."""

    REQUESTS = [
        rejected("two-differing", POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                 R.CONFLICTING_CONTENT_LENGTH, b"Content-Length: 6", "CVE-2019-16792"),
        rejected("two-differing-second-zero",
                 POST + b"Content-Length: 40\r\nContent-Length: 0\r\n\r\n" + SMUGGLED,
                 R.CONFLICTING_CONTENT_LENGTH, b"Content-Length: 0", "CVE-2017-7658"),
        rejected("list", POST + b"Content-Length: 5, 6\r\n\r\nhello!",
                 R.INVALID_CONTENT_LENGTH, b"Content-Length", "CVE-2019-16792"),
        rejected("plus-sign", POST + b"Content-Length: +5\r\n\r\nhello",
                 R.INVALID_CONTENT_LENGTH, b"Content-Length", "CVE-2021-32715"),
        rejected("minus-sign", POST + b"Content-Length: -1\r\n\r\n",
                 R.INVALID_CONTENT_LENGTH, b"Content-Length", "CVE-2021-32715"),
        rejected("empty", POST + b"Content-Length: \r\n\r\n" + SMUGGLED,
                 R.INVALID_CONTENT_LENGTH, b"Content-Length", "CVE-2023-40225"),
        rejected("space-before-name", POST + b"X: 1\r\n Content-Length: 40\r\n\r\n" + SMUGGLED,
                 R.OBS_FOLD, b" Content-Length", "CVE-2024-27982"),
        rejected("space-before-colon", POST + b"Content-Length : 40\r\n\r\n" + SMUGGLED,
                 R.SPACE_BEFORE_COLON, b" :", "CVE-2019-16276"),
        rejected("hex", POST + b"Content-Length: 0x28\r\n\r\n", R.INVALID_CONTENT_LENGTH,
                 b"Content-Length", "CVE-2021-32715"),
        rejected("underscore", POST + b"Content-Length: 4_0\r\n\r\n", R.INVALID_CONTENT_LENGTH,
                 b"Content-Length", "CVE-2021-32715"),
        rejected("nul-after-digits", POST + b"Content-Length: 5\x00\r\n\r\nhello",
                 R.INVALID_VALUE, b"\x00", "CVE-2019-16789"),
        rejected("2**64-wraps-to-5", POST + b"Content-Length: 18446744073709551621\r\n\r\nhello",
                 R.CONTENT_LENGTH_OVERFLOW, b"Content-Length", "CVE-2021-32714"),
    ]
    RESPONSES = [
        rejected("two-differing", OK + b"Content-Length: 5\r\nContent-Length: 0\r\n\r\nhello",
                 R.CONFLICTING_CONTENT_LENGTH, b"Content-Length: 0", "CVE-2019-16792"),
        rejected("plus-sign", OK + b"Content-Length: +5\r\n\r\nhello",
                 R.INVALID_CONTENT_LENGTH, b"Content-Length", "CVE-2021-32715"),
        rejected("empty", OK + b"Content-Length:\r\n\r\n", R.INVALID_CONTENT_LENGTH,
                 b"Content-Length", "CVE-2023-40225"),
        rejected("space-before-colon", OK + b"Content-Length\t: 5\r\n\r\nhello",
                 R.SPACE_BEFORE_COLON, b"\t:", "CVE-2019-16276"),
        rejected("differing-on-a-bodiless-response", b"HTTP/1.1 304 Not Modified\r\n"
                 b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
                 R.CONFLICTING_CONTENT_LENGTH, b"Content-Length: 6", "CVE-2019-16792"),
    ]
    # RFC 9110 §8.6: identical values may be taken as one; the body is framed once.
    IDENTICAL = [
        accepted("identical-twice", POST + b"Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello"
                 + NEXT,
                 [req(b"POST", b"/", [(b"host", b"h"), (b"content-length", b"5"),
                                      (b"content-length", b"05")], content_length=5),
                  body(b"hello"), end(), req(b"GET", b"/next", [(b"host", b"h")]), end()],
                 "CVE-2019-16792"),
    ]

    @pytest.mark.parametrize(ACCEPTED_ARGS, IDENTICAL)
    def test_identical_values_frame_once(self, twin, raw, events, error, expect, eof):
        check_accepted(twin, "request", raw, events, error, expect, eof)

    @pytest.mark.parametrize("head", [
        pytest.param(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 40\r\n\r\n", id="304"),
        pytest.param(b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", id="204"),
        pytest.param(b"HTTP/1.1 100 Continue\r\nContent-Length: 40\r\n\r\n", id="100"),
        pytest.param(OK + b"Content-Length: 40\r\n\r\n", id="HEAD"),
    ])
    def test_bodiless_responses_ignore_their_framing(self, twin, head):
        """RFC 9110 §6.4.1: 1xx, 204, 304 and HEAD answers end at their head, whatever
        they declare: the next bytes are the next response (CVE-2017-7658 class)."""
        expect = [b"HEAD", b"GET"] if b"200 OK" in head else [b"GET", b"GET"]
        raw = head + SPLIT
        out = assert_splits_agree(twin, "response", raw, expect=expect)
        assert out.error is None
        assert out.events[-2][1]["headers"] == [(b"x-smuggled", b"1"), (b"content-length", b"0")]
        assert all(name != "Data" for name, _ in out.events)


# -- obs-fold ----------------------------------------------------------------------------


class TestObsFold(SmugglingClass):
    """A continuation line (CRLF then SP or HTAB) that one side joins and the other
    takes as a new field."""

    REQUESTS = [
        rejected("folded-transfer-encoding", POST + b"Transfer-Encoding: gzip,\r\n chunked\r\n\r\n",
                 R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding", "CVE-2022-32215"),
        rejected("fold-continues-transfer-encoding",
                 POST + b"Transfer-Encoding: chunked\r\n\tchunked\r\n\r\n",
                 R.OBS_FOLD, b"\tchunked", "CVE-2022-32215"),
        rejected("fold-in-plain-field", GET + b"X-A: 1\r\n 2\r\n\r\n", R.OBS_FOLD,
                 (b"\r\n 2", 2), "CVE-2022-32215"),
        rejected("fold-in-trailer", CHUNKED_REQ + b"0\r\nX: 1\r\n 2\r\n\r\n", R.OBS_FOLD,
                 (b"\r\n 2", 2), "CVE-2022-32215"),
    ]
    RESPONSES = [
        # A fold in a framing field is refused outright: joined it would frame one way,
        # ignored it would frame another.
        rejected("folded-transfer-encoding", OK + b"Transfer-Encoding: chunked\r\n , gzip\r\n\r\n",
                 R.OBS_FOLD_IN_FRAMING, (b"\r\n , gzip", 2), "CVE-2022-32215"),
        rejected("folded-content-length", OK + b"Content-Length: 5\r\n 0\r\n\r\nhello",
                 R.OBS_FOLD_IN_FRAMING, (b"\r\n 0", 2), "CVE-2022-32215"),
        rejected("folded-connection", OK + b"Connection: keep-alive,\r\n close\r\n\r\n",
                 R.OBS_FOLD_IN_FRAMING, (b"\r\n close", 2), "CVE-2022-32215"),
        rejected("bare-LF-in-continuation", OK + b"X: a\r\n b\nContent-Length: 0\r\n\r\n",
                 R.BARE_LF, b"\nContent", "CVE-2022-32214"),
    ]
    # RFC 9112 §5.2: a user agent replaces obs-fold in other fields with SP.
    RESPONSE_JOINED = [
        accepted("fold-in-plain-field-is-joined", OK + b"X-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n",
                 [resp(200, b"OK", [(b"x-a", b"1 2"), (b"content-length", b"0")]), end()],
                 "CVE-2022-32215"),
    ]

    @pytest.mark.parametrize(ACCEPTED_ARGS, RESPONSE_JOINED)
    def test_response_joined(self, twin, raw, events, error, expect, eof):
        check_accepted(twin, "response", raw, events, error, expect, eof)


# -- line endings -------------------------------------------------------------------------


class TestBareCR(SmugglingClass):
    """CR not followed by LF: a line end to some parsers, a byte to others."""

    REQUESTS = [
        rejected("ends-field-line", GET + b"X: a\rContent-Length: 40\r\n\r\n" + SMUGGLED,
                 R.BARE_CR, b"\rContent", "CVE-2023-30589"),
        rejected("ends-request-line", b"GET / HTTP/1.1\rContent-Length: 40\r\n\r\n",
                 R.BARE_CR, b"\rContent", "CVE-2023-30589"),
        rejected("ends-head", GET + b"\r" + SMUGGLED, R.BARE_CR, (b"\r" + SMUGGLED, 0),
                 "CVE-2023-30589"),
        rejected("inside-field-name", POST + b"Transfer\rEncoding: chunked\r\n\r\n",
                 R.MISSING_COLON, b"\rEncoding", "CVE-2020-8201"),
        rejected("ends-chunk-size-line", CHUNKED_REQ + b"5\rhello\r\n0\r\n\r\n",
                 R.BARE_CR, b"\rhello", "CVE-2023-30589"),
        rejected("ends-trailer", CHUNKED_REQ + b"0\r\nT: 1\r" + SMUGGLED, R.BARE_CR,
                 b"\rGET", "CVE-2023-30589"),
    ]
    RESPONSES = [
        rejected("ends-status-line", b"HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n",
                 R.BARE_CR, 15, "CVE-2023-30589"),
        rejected("ends-field-line", OK + b"X: a\rContent-Length: 0\r\n\r\n" + SPLIT,
                 R.BARE_CR, b"\rContent", "CVE-2023-30589"),
        rejected("ends-chunk-size-line", CHUNKED_RESP + b"5\rhello\r\n0\r\n\r\n",
                 R.BARE_CR, b"\rhello", "CVE-2023-30589"),
    ]


class TestBareLF(SmugglingClass):
    """LF without CR: a line end to lenient parsers, not to RFC 9112 §2.2."""

    REQUESTS = [
        rejected("ends-request-line", b"GET / HTTP/1.1\nHost: h\r\n\r\n", R.BARE_LF, 14,
                 "CVE-2022-32214"),
        rejected("ends-field-line", GET + b"X: a\nContent-Length: 40\r\n\r\n" + SMUGGLED,
                 R.BARE_LF, b"\nContent", "CVE-2019-16785"),
        rejected("empty-line-ends-head", GET + b"\n" + SMUGGLED, R.BARE_LF, len(GET),
                 "CVE-2019-16785"),
        rejected("ends-chunk-size-line", CHUNKED_REQ + b"5\nhello\r\n0\r\n\r\n", R.BARE_LF,
                 b"\nhello", "CVE-2025-22871"),
        rejected("ends-last-chunk", CHUNKED_REQ + b"0\n\r\n", R.BARE_LF, (b"0\n", 1),
                 "CVE-2025-22871"),
        rejected("ends-trailer-section", CHUNKED_REQ + b"0\r\n\n" + SMUGGLED, R.BARE_LF,
                 (b"0\r\n\n", 3), "CVE-2022-32214"),
    ]
    RESPONSES = [
        rejected("ends-status-line", b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", R.BARE_LF, 15,
                 "CVE-2022-32214"),
        rejected("ends-field-line", OK + b"Content-Length: 0\n\r\n" + SPLIT, R.BARE_LF,
                 b"\n\r\n", "CVE-2019-16785"),
        rejected("ends-chunk-size-line", CHUNKED_RESP + b"5\nhello\r\n0\r\n\r\n", R.BARE_LF,
                 b"\nhello", "CVE-2025-22871"),
    ]


# -- chunked coding ------------------------------------------------------------------------


class TestChunkSizeOverflow(SmugglingClass):
    """A chunk size that overflows a fixed-width integer reads as a small one."""

    CASES = [
        ("2**64+5-wraps-to-5", b"10000000000000005", 16),
        ("2**63", b"8000000000000000", 15),
        ("twenty-f", b"f" * 20, 15),
        ("leading-zeros-then-2**64", b"0" * 10 + b"10000000000000000", 26),
    ]
    REQUESTS = [rejected(id, CHUNKED_REQ + size + b"\r\nhello\r\n0\r\n\r\n", R.CHUNK_SIZE_OVERFLOW,
                         (size, at), "CVE-2017-7657") for id, size, at in CASES]
    RESPONSES = [rejected(id, CHUNKED_RESP + size + b"\r\nhello\r\n0\r\n\r\n",
                          R.CHUNK_SIZE_OVERFLOW, (size, at), "CVE-2021-32714")
                 for id, size, at in CASES]

    def test_largest_size_is_taken_exactly(self, twin):
        out = assert_splits_agree(twin, "request", CHUNKED_REQ + b"7fffffffffffffff\r\nab")
        assert out.error is None and out.events[-1] == body(b"ab")


class TestChunkExtensions(SmugglingClass):
    """Chunk extensions that one side skips blindly (up to the LF) and another parses."""

    REQUESTS = [
        rejected("LF-inside-extension", CHUNKED_REQ + b"5;a\nb\r\nhello\r\n0\r\n\r\n",
                 R.BARE_LF, b"\nb", "CVE-2024-52304"),
        rejected("LF-ends-extension", CHUNKED_REQ + b"5;a=b\nhello\r\n0\r\n\r\n",
                 R.BARE_LF, b"\nhello", "CVE-2024-52304"),
        rejected("CR-inside-quoted-extension", CHUNKED_REQ + b'5;a="b\rc"\r\nhello\r\n0\r\n\r\n',
                 R.INVALID_CHUNK_EXT, b"\rc", "CVE-2021-22960"),
        rejected("CRLF-inside-quoted-extension", CHUNKED_REQ + b'5;a="b\r\nc"\r\nhello\r\n',
                 R.INVALID_CHUNK_EXT, b"\r\nc", "CVE-2021-22960"),
        rejected("nul-in-extension", CHUNKED_REQ + b"5;a=b\x00\r\nhello\r\n0\r\n\r\n",
                 R.INVALID_CHUNK_EXT, b"\x00", "CVE-2021-22960"),
        rejected("space-in-extension-value", CHUNKED_REQ + b"5;a=b c\r\nhello\r\n0\r\n\r\n",
                 R.INVALID_CHUNK_EXT, (b"b c\r\n", 1), "CVE-2021-22960"),
        rejected("empty-extension", CHUNKED_REQ + b"5;\r\nhello\r\n0\r\n\r\n",
                 R.INVALID_CHUNK_EXT, (b";\r\n", 1), "CVE-2021-22960"),
        rejected("extension-past-the-line-limit", CHUNKED_REQ + b"1;" + b"e" * 90 + b"\r\nx\r\n",
                 R.LINE_TOO_LONG, len(CHUNKED_REQ) + 64, "CVE-2023-39326", max_line_size=64),
    ]
    RESPONSES = [
        rejected("LF-inside-extension", CHUNKED_RESP + b"5;a\nb\r\nhello\r\n0\r\n\r\n",
                 R.BARE_LF, b"\nb", "CVE-2024-52304"),
        rejected("nul-in-extension", CHUNKED_RESP + b"5;a=\x00\r\nhello\r\n0\r\n\r\n",
                 R.INVALID_CHUNK_EXT, b"\x00", "CVE-2021-22960"),
        rejected("extension-past-the-line-limit", CHUNKED_RESP + b"1;" + b"e" * 90 + b"\r\nx\r\n",
                 R.LINE_TOO_LONG, len(CHUNKED_RESP) + 64, "CVE-2023-39326", max_line_size=64),
    ]

    def test_valid_extensions_do_not_change_the_data(self, twin):
        raw = CHUNKED_REQ + b'5;a=b;c="d;\\"e\\""\r\nhello\r\n0;z\r\n\r\n' + NEXT
        out = assert_splits_agree(twin, "request", raw)
        assert out.error is None
        assert out.events[1] == body(b"hello")


class TestBytesAfterChunkData(SmugglingClass):
    """The two bytes after chunk data must be CRLF, not just any two bytes."""

    REQUESTS = [
        rejected("two-other-bytes", CHUNKED_REQ + b"5\r\nhelloXX0\r\n\r\n", R.MISSING_CHUNK_CRLF,
                 b"XX", "CVE-2025-43859"),
        rejected("LF-only", CHUNKED_REQ + b"5\r\nhello\n0\r\n\r\n", R.MISSING_CHUNK_CRLF,
                 b"\n0", "CVE-2025-43859"),
        rejected("CR-then-other", CHUNKED_REQ + b"5\r\nhello\rX0\r\n\r\n", R.MISSING_CHUNK_CRLF,
                 b"X0", "CVE-2025-43859"),
        rejected("longer-than-declared", CHUNKED_REQ + b"3\r\nhello\r\n0\r\n\r\n",
                 R.MISSING_CHUNK_CRLF, b"lo\r\n", "CVE-2025-43859"),
        rejected("next-size-without-CRLF", CHUNKED_REQ + b"5\r\nhello0\r\n\r\n",
                 R.MISSING_CHUNK_CRLF, b"0\r\n\r\n", "CVE-2025-43859"),
    ]
    RESPONSES = [
        rejected("two-other-bytes", CHUNKED_RESP + b"5\r\nhelloXX0\r\n\r\n", R.MISSING_CHUNK_CRLF,
                 b"XX", "CVE-2025-43859"),
        rejected("LF-only", CHUNKED_RESP + b"5\r\nhello\n0\r\n\r\n", R.MISSING_CHUNK_CRLF,
                 b"\n0", "CVE-2025-43859"),
    ]


# -- bytes that do not belong ---------------------------------------------------------------


class TestInvalidCharacters(SmugglingClass):
    """Controls and separators where the grammar has none: skipped, kept or
    truncated differently by different parsers."""

    REQUESTS = [
        rejected("empty-field-name", GET + b": x\r\nContent-Length: 40\r\n\r\n", R.EMPTY_NAME,
                 len(GET), "CVE-2023-25725"),
        rejected("no-colon", GET + b"Content-Length 40\r\n\r\n", R.SPACE_BEFORE_COLON,
                 b" 40", "CVE-2019-20444"),
        rejected("no-colon-at-all", GET + b"X\r\n\r\n", R.MISSING_COLON, (b"X\r\n", 1),
                 "CVE-2019-20444"),
        rejected("vertical-tab-in-value", GET + b"X: a\x0bb\r\n\r\n", R.INVALID_VALUE, b"\x0b",
                 "CVE-2019-16789"),
        rejected("nul-in-value", GET + b"X: a\x00b\r\n\r\n", R.INVALID_VALUE, b"\x00",
                 "CVE-2019-16789"),
        rejected("del-in-name", GET + b"Content-Length\x7f: 4\r\n\r\n", R.INVALID_NAME, b"\x7f",
                 "CVE-2019-16789"),
        rejected("nul-in-name", GET + b"Transfer-Encoding\x00: chunked\r\n\r\n", R.INVALID_NAME,
                 b"\x00", "CVE-2019-16789"),
        rejected("nul-in-target", b"GET /a\x00b HTTP/1.1\r\n\r\n", R.INVALID_TARGET, 6,
                 "CVE-2019-16789"),
        rejected("space-in-target", b"GET /a HTTP/1.1 HTTP/1.1\r\n\r\n", R.INVALID_VERSION, 15,
                 "CVE-2019-16789"),
        rejected("http-0.9-request", b"GET /\r\n\r\n", R.MISSING_VERSION, 5, "CVE-2019-16789"),
    ]
    RESPONSES = [
        rejected("empty-field-name", OK + b": x\r\n\r\n", R.EMPTY_NAME, len(OK), "CVE-2023-25725"),
        rejected("no-colon", OK + b"Content-Length 5\r\n\r\n", R.SPACE_BEFORE_COLON, b" 5",
                 "CVE-2019-20444"),
        rejected("nul-in-reason", b"HTTP/1.1 200 O\x00K\r\n\r\n", R.INVALID_REASON, 14,
                 "CVE-2019-16789"),
        rejected("vertical-tab-in-value", OK + b"X: a\x0b\r\n\r\n", R.INVALID_VALUE, b"\x0b",
                 "CVE-2019-16789"),
    ]


class TestWhitespaceBeforeColon(SmugglingClass):
    """RFC 9112 §5.1: no whitespace between a field name and its colon; a server MUST
    reject it, and a proxy MUST remove it before forwarding (hopwire rejects it in both)."""

    NAMES = [b"Transfer-Encoding", b"Content-Length", b"Connection", b"Host", b"X-A"]
    REQUESTS = [rejected(f"{name.decode()}{ws!r}", POST + name + ws + b": 5\r\n\r\n",
                         R.SPACE_BEFORE_COLON, (ws + b":", 0), "CVE-2019-16276")
                for name in NAMES for ws in (b" ", b"\t", b"  ")]
    RESPONSES = [rejected(f"{name.decode()}{ws!r}", OK + name + ws + b": 5\r\n\r\n",
                          R.SPACE_BEFORE_COLON, (ws + b":", 0), "CVE-2021-22959")
                 for name in NAMES for ws in (b" ", b"\t")]


class TestNonAsciiDigits(SmugglingClass):
    """Digits outside ASCII: Python's int() takes "٥" (U+0665) and "５" (U+FF15) for 5,
    so a parser built on it reads a length the next hop does not. RFC 9110 §8.6 and
    RFC 9112 §7.1 allow only ASCII DIGIT / HEXDIG (no single advisory: a pitfall of
    every Unicode-aware integer parser)."""

    ARABIC_5 = "\u0665".encode()
    FULLWIDTH_5 = "\uff15".encode()
    SUPERSCRIPT_2 = "\u00b2".encode()

    REQUESTS = [
        rejected("content-length-arabic-indic", POST + b"Content-Length: " + ARABIC_5 + b"\r\n\r\nhello",
                 R.INVALID_CONTENT_LENGTH, b"Content-Length", "RFC 9110 §8.6"),
        rejected("content-length-fullwidth", POST + b"Content-Length: " + FULLWIDTH_5 + b"\r\n\r\nhello",
                 R.INVALID_CONTENT_LENGTH, b"Content-Length", "RFC 9110 §8.6"),
        rejected("content-length-superscript", POST + b"Content-Length: 1" + SUPERSCRIPT_2 + b"\r\n\r\n",
                 R.INVALID_CONTENT_LENGTH, b"Content-Length", "RFC 9110 §8.6"),
        rejected("chunk-size-arabic-indic", CHUNKED_REQ + ARABIC_5 + b"\r\nhello\r\n0\r\n\r\n",
                 R.INVALID_CHUNK_SIZE, ARABIC_5, "RFC 9112 §7.1"),
        rejected("chunk-size-fullwidth-after-digit", CHUNKED_REQ + b"1" + FULLWIDTH_5 + b"\r\n",
                 R.INVALID_CHUNK_SIZE, FULLWIDTH_5, "RFC 9112 §7.1"),
        rejected("version-digit", b"GET / HTTP/1." + "\u0661".encode() + b"\r\n\r\n",
                 R.INVALID_VERSION, 13, "RFC 9112 §2.3"),
    ]
    RESPONSES = [
        rejected("content-length-arabic-indic", OK + b"Content-Length: " + ARABIC_5 + b"\r\n\r\nhello",
                 R.INVALID_CONTENT_LENGTH, b"Content-Length", "RFC 9110 §8.6"),
        rejected("chunk-size-fullwidth", CHUNKED_RESP + FULLWIDTH_5 + b"\r\nhello\r\n0\r\n\r\n",
                 R.INVALID_CHUNK_SIZE, FULLWIDTH_5, "RFC 9112 §7.1"),
        rejected("status-code", b"HTTP/1.1 2" + ARABIC_5 + b"0 OK\r\n\r\n", R.INVALID_STATUS, 10,
                 "RFC 9112 §4"),
    ]


class TestUnicodeCaseFolding(SmugglingClass):
    """Names and tokens that Unicode case mapping turns into framing words: "ſ" (U+017F)
    upper-cases to "S", "K" (U+212A, Kelvin) lower-cases to "k", "ı" (U+0131) upper-cases
    to "I". Field names are ASCII tokens compared case-insensitively in ASCII only
    (RFC 9110 §5.1, §5.6.2); no single advisory, a pitfall of str.lower()/upper()."""

    LONG_S = "\u017f".encode()
    KELVIN = "\u212a".encode()
    DOTLESS_I = "\u0131".encode()

    REQUESTS = [
        rejected("long-s-in-transfer-encoding", POST + b"Tran" + LONG_S + b"fer-Encoding: chunked\r\n\r\n",
                 R.INVALID_NAME, LONG_S, "RFC 9110 §5.6.2"),
        rejected("dotless-i-in-content-length-name", POST + b"Content-Length: 3\r\nTransfer-Encod"
                 + DOTLESS_I + b"ng: chunked\r\n\r\n", R.INVALID_NAME, DOTLESS_I, "RFC 9110 §5.6.2"),
        rejected("kelvin-in-chunked", POST + b"Transfer-Encoding: chun" + KELVIN + b"ed\r\n\r\n",
                 R.INVALID_TRANSFER_ENCODING, b"Transfer-Encoding", "RFC 9112 §6.1"),
        rejected("kelvin-keep-alive-does-not-keep", b"GET / HTTP/1.0\r\nConnection: " + KELVIN
                 + b"eep-alive\r\n\r\n" + SMUGGLED, R.DATA_AFTER_CLOSE, b"GET /smuggled",
                 "RFC 9110 §7.6.1"),
    ]
    RESPONSES = [
        rejected("long-s-in-transfer-encoding", OK + b"Tran" + LONG_S + b"fer-Encoding: chunked\r\n\r\n",
                 R.INVALID_NAME, LONG_S, "RFC 9110 §5.6.2"),
        rejected("kelvin-in-chunked", OK + b"Content-Length: 0\r\nTransfer-Encoding: chun" + KELVIN
                 + b"ed\r\n\r\n", R.CONTENT_LENGTH_WITH_TE, b"Transfer-Encoding", "RFC 9112 §6.1"),
    ]

    def test_kelvin_close_is_not_close(self, twin):
        """`Connection: ...` with a Kelvin sign names no option: HTTP/1.1 stays persistent."""
        raw = GET + b"Connection: " + self.KELVIN + b"eep-alive, clo\xc5\xbfe\r\n\r\n"
        out = assert_splits_agree(twin, "request", raw)
        assert out.error is None and out.events[0][1]["keep_alive"] is True


# -- after the message -----------------------------------------------------------------------


class TestDataAfterClose(SmugglingClass):
    """Bytes after a message that closes the connection are a smuggling attempt, not the
    next request (llhttp: "Data after Connection: close")."""

    REQUESTS = [
        rejected("after-connection-close", GET + b"Connection: close\r\n\r\n" + SMUGGLED,
                 R.DATA_AFTER_CLOSE, b"GET /smuggled", "RFC 9112 §9.6"),
        rejected("after-http-1.0", b"GET / HTTP/1.0\r\n\r\n" + SMUGGLED, R.DATA_AFTER_CLOSE,
                 b"GET /smuggled", "RFC 9112 §9.3"),
        rejected("after-close-in-a-list", GET + b"Connection: keep-alive, CLOSE\r\n\r\n" + SMUGGLED,
                 R.DATA_AFTER_CLOSE, b"GET /smuggled", "RFC 9112 §9.6"),
    ]
    RESPONSES = [
        rejected("after-connection-close", OK + b"Connection: close\r\nContent-Length: 0\r\n\r\n"
                 + SPLIT, R.DATA_AFTER_CLOSE, SPLIT, "RFC 9112 §9.6"),
    ]


# -- hop-by-hop filtering ---------------------------------------------------------------------


class TestHopByHopFilter:
    """filter_hop_by_hop must drop every field that a Connection header names, however
    the names are cased, spaced or spread over several Connection fields, and nothing
    that only looks like Connection (RFC 9110 §7.6.1)."""

    CASES = [
        pytest.param([(b"cOnNeCtIoN", b"X-Secret"), (b"x-SECRET", b"1"), (b"Host", b"h")],
                     [(b"Host", b"h")], id="mixed-case-names-and-tokens"),
        pytest.param([(b"Connection", b"x-a"), (b"X-A", b"1"), (b"Connection", b"x-b"), (b"X-B", b"2"),
                      (b"connection", b"X-C"), (b"X-C", b"3"), (b"Host", b"h")],
                     [(b"Host", b"h")], id="repeated-connection-fields"),
        pytest.param([(b"Connection", b" \tx-a\t ,\t x-b \t"), (b"X-A", b"1"), (b"X-B", b"2"),
                      (b"Host", b"h")], [(b"Host", b"h")], id="tokens-with-whitespace"),
        pytest.param([(b"Connection", b",,, ,x-a,,"), (b"X-A", b"1"), (b"Host", b"h")],
                     [(b"Host", b"h")], id="empty-tokens"),
        pytest.param([(b"Connection", b""), (b"Connection", b" , "), (b"Host", b"h")],
                     [(b"Host", b"h")], id="only-empty-tokens"),
        pytest.param([(b"Host", b"h"), (b"X-A", b"1"), (b"Connection", b"x-a")],
                     [(b"Host", b"h")], id="connection-after-the-field-it-names"),
        pytest.param([("Connect\u0131on".encode(), b"x-a"), (b"X-A", b"1")],
                     [("Connect\u0131on".encode(), b"x-a"), (b"X-A", b"1")],
                     id="dotless-i-is-not-connection"),
        pytest.param([(b"Connection", "x-\u212a".encode()), (b"X-K", b"1")],
                     [(b"X-K", b"1")], id="kelvin-token-names-nothing"),
        pytest.param([(b"Connection ", b"x-a"), (b"X-A", b"1")],
                     [(b"Connection ", b"x-a"), (b"X-A", b"1")], id="name-with-trailing-space"),
        pytest.param([(b"Connection", b"close"), (b"Keep-Alive", b"timeout=5"), (b"TE", b"trailers"),
                      (b"Proxy-Authorization", b"Basic x"), (b"Upgrade", b"h2c"), (b"Host", b"h")],
                     [(b"Host", b"h")], id="fixed-hop-by-hop-set-without-naming"),
    ]

    @pytest.mark.parametrize(("headers", "kept"), CASES)
    def test_filter(self, twin, headers, kept):
        assert twin.filter_hop_by_hop(headers) == kept

    def test_naming_a_framing_field_does_not_change_framing(self, twin):
        """`Connection: content-length` (hop-by-hop abuse): the parser still frames by the
        Content-Length it received and moves it to hop_headers; the next request is intact."""
        raw = (POST + b"Connection: content-length, transfer-encoding\r\nContent-Length: 5\r\n\r\n"
               b"hello" + NEXT)
        out = assert_splits_agree(twin, "request", raw, strip_hop_by_hop=True)
        assert out.error is None
        head = out.events[0][1]
        assert head["content_length"] == 5 and (b"content-length", b"5") in head["hop_headers"]
        assert out.events[1] == body(b"hello")
        assert out.events[3][1]["target"] == b"/next"

    def test_keep_alive_decided_from_every_connection_field(self, twin):
        raw = GET + b"Connection: keep-alive\r\nConnection: close\r\n\r\n"
        for strip in (False, True):
            out = assert_splits_agree(twin, "request", raw, strip_hop_by_hop=strip)
            assert out.events[0][1]["keep_alive"] is False


def test_every_rule_broken_here_is_a_rule_of_rules():
    """The reasons used above are the ones _rules defines (a typo would test nothing)."""
    rules = {value for value in vars(R).values() if isinstance(value, tuple) and len(value) == 2}
    for cls in (TestCLTE, TestTETE, TestContentLength, TestObsFold, TestBareCR, TestBareLF,
                TestChunkSizeOverflow, TestChunkExtensions, TestBytesAfterChunkData,
                TestInvalidCharacters, TestWhitespaceBeforeColon, TestNonAsciiDigits,
                TestUnicodeCaseFolding, TestDataAfterClose):
        for case in [*getattr(cls, "REQUESTS", []), *getattr(cls, "RESPONSES", [])]:
            assert case.values[0].rule in rules, case.id
