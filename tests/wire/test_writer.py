"""Tests of hopwire._wire.writer, the sans-I/O HTTP/1.1 request writer.

Table-driven: each rule of the writer has a table of cases. Round-trip tests
feed what the writer produced to both parser twins (the `parser_twin` fixture
below; the C run is skipped when the extension does not import) and expect the
same request back. The docstring examples are run as doctests too.
"""

from __future__ import annotations

import array
import doctest
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

import pytest

from hopwire import HopwireError
from hopwire._wire import parser_py, writer as _writer
from hopwire._wire.writer import (
    BOTH_FRAMINGS,
    CALLER_FRAMING,
    CONTENT_NOT_ALLOWED,
    DUPLICATE_HOST,
    EMPTY_TARGET,
    FORBIDDEN_TRAILER,
    INVALID_LENGTH,
    INVALID_METHOD,
    INVALID_NAME,
    INVALID_TARGET,
    INVALID_VALUE,
    MISSING_HOST,
    NOT_ENCODABLE,
    TARGET_FORM,
    UNKNOWN_LENGTH,
    LocalProtocolError,
    body_framing,
    chunk,
    last_chunk,
    request_head,
)

Pairs = list[tuple[Any, Any]]
HOST = [(b"Host", b"example.com")]


@pytest.fixture(params=["py", "c"])
def parser_twin(request: pytest.FixtureRequest) -> ModuleType:
    """The parser module of one twin; the C one is skipped when it does not import."""
    if request.param == "py":
        return parser_py
    return pytest.importorskip("hopwire._wire.parser_c", exc_type=ImportError)


def head(method: Any = b"GET", target: Any = b"/", headers: Pairs | None = None, **kw: Any) -> bytes:
    return request_head(method, target, HOST if headers is None else headers, **kw)


def refused(reason: str, call: Any, *args: Any, **kw: Any) -> LocalProtocolError:
    with pytest.raises(LocalProtocolError) as info:
        call(*args, **kw)
    assert info.value.reason == reason, info.value
    return info.value


def field_lines(data: bytes) -> list[bytes]:
    """The field lines of a head written by request_head (request line and blank line dropped)."""
    assert data.endswith(b"\r\n\r\n")
    return data[:-4].split(b"\r\n")[1:]


# -- the error type ---------------------------------------------------------------

def test_error_is_a_hopwire_value_error_with_a_reason() -> None:
    exc = refused(MISSING_HOST, request_head, b"GET", b"/", [])
    assert isinstance(exc, HopwireError) and isinstance(exc, ValueError)
    assert str(exc) == MISSING_HOST
    exc = refused(INVALID_NAME, head, headers=[(b"X Y", b"1")] + HOST)
    assert str(exc).startswith(INVALID_NAME + ": ") and "X Y" in exc.detail


def test_docstring_examples() -> None:
    failed, attempted = doctest.testmod(_writer, optionflags=doctest.ELLIPSIS)
    assert attempted >= 5 and failed == 0


# -- exact bytes ------------------------------------------------------------------

def test_golden_post() -> None:
    got = request_head(b"POST", b"/submit?x=1", [(b"Content-Type", b"text/plain")],
                       host=b"example.com", body_length=5)
    assert got == (b"POST /submit?x=1 HTTP/1.1\r\nHost: example.com\r\n"
                   b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\n")


def test_golden_chunked() -> None:
    got = request_head("PUT", "/f", [], host="example.com", body_length=None, chunked=True)
    assert got == b"PUT /f HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_order_duplicates_and_case_are_kept() -> None:
    headers = [(b"X-B", b"1"), (b"x-a", b"2"), (b"Host", b"h"), (b"X-B", b"3"), (b"ACCEPT", b"*/*")]
    assert field_lines(head(headers=headers)) == [b"X-B: 1", b"x-a: 2", b"Host: h", b"X-B: 3",
                                                  b"ACCEPT: */*"]


@pytest.mark.parametrize("given, written", [
    (b"  v  ", b"v"),
    (b"\tv\t", b"v"),
    (b" \t a  b\tc \t ", b"a  b\tc"),  # inner whitespace stays
    (b"", b""),
    (b"   ", b""),
    (b"caf\xe9", b"caf\xe9"),  # obs-text (RFC 9110 §5.5)
    ("café", b"caf\xe9"),  # str values are latin-1
])
def test_values_are_stripped_of_ows_only(given: Any, written: bytes) -> None:
    assert field_lines(head(headers=HOST + [(b"X", given)]))[1] == b"X: " + written


# -- round trips through both parser twins ---------------------------------------

def _parse(twin: ModuleType, data: bytes) -> tuple[Any, bytes, list[tuple[bytes, bytes]]]:
    events = twin.RequestParser().feed(data)
    request, rest = events[0], events[1:]
    body = b"".join(bytes(e.data) for e in rest if type(e).__name__ == "Data")
    ends = [e for e in rest if type(e).__name__ == "EndOfMessage"]
    trailers = list(ends[0].headers) if ends else []
    return request, body, trailers


def _b(text: Any, encoding: str = "ascii") -> bytes:
    return text.encode(encoding) if isinstance(text, str) else bytes(text)


def _lowered(fields: Pairs) -> list[tuple[bytes, bytes]]:
    """Fields as the parser reports them: names lower-cased, values stripped."""
    return [(_b(n).lower(), _b(v, "latin-1").strip(b" \t")) for n, v in fields]


ROUND_TRIPS = [
    # (method, target, headers, host, body chunks or bytes, chunked, trailers, expected framing)
    ("get", b"GET", b"/", [], b"example.com", b"", False, [], []),
    ("get query", "GET", "/a/b?c=d&e=%20", [("Accept", "*/*")], "example.com", b"", False, [], []),
    ("post", b"POST", b"/p", [(b"Content-Type", b"application/json")], b"h", b'{"a":1}', False, [],
     [(b"content-length", b"7")]),
    ("empty post", b"POST", b"/p", [], b"h", b"", False, [], [(b"content-length", b"0")]),
    ("str everything", "PATCH", "/x", [("X-Name", " café \t")], "h:8080", b"xyz", False, [],
     [(b"content-length", b"3")]),
    ("caller host", b"GET", b"/", [(b"X-A", b"1"), (b"HOST", b"given.example")], None, b"", False, [],
     []),
    ("proxy absolute-form", b"GET", b"http://example.com:8080/x?y", [], b"example.com:8080", b"",
     False, [], []),
    ("options star", b"OPTIONS", b"*", [], b"example.com", b"", False, [], []),
    ("delete with body", b"DELETE", b"/r", [], b"h", b"gone", False, [], [(b"content-length", b"4")]),
    ("unknown method", b"PROPFIND", b"/dav", [(b"Depth", b"1")], b"h", b"", False, [],
     [(b"content-length", b"0")]),
    ("chunked", b"PUT", b"/up", [(b"Expect", b"100-continue")], b"h", [b"hello, ", b"", b"world"],
     True, [], [(b"transfer-encoding", b"chunked")]),
    ("chunked with trailers", b"POST", b"/t", [(b"Trailer", b"X-Sum")], b"h", [b"a" * 300], True,
     [(b"X-Sum", b" 300 "), ("x-note", "ok")], [(b"transfer-encoding", b"chunked")]),
    ("chunked empty", b"POST", b"/e", [], b"h", [], True, [], [(b"transfer-encoding", b"chunked")]),
    ("empty values", b"GET", b"/", [(b"X-Empty", b""), (b"X-Blank", b"  ")], b"", b"", False, [], []),
]


def _encode_body(body: Any, chunked: bool, trailers: Pairs) -> bytes:
    if not chunked:
        return bytes(body)
    return b"".join(chunk(piece) for piece in body) + last_chunk(trailers)


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=[c[0] for c in ROUND_TRIPS])
def test_round_trip(parser_twin: ModuleType, case: tuple[Any, ...]) -> None:
    _, method, target, headers, host, body, chunked, trailers, framing = case
    length = None if chunked else len(body)
    data = request_head(method, target, headers, host=host, body_length=length, chunked=chunked)
    request, got_body, got_trailers = _parse(parser_twin, data + _encode_body(body, chunked, trailers))
    host_field = [] if host is None else [(b"host", host)]
    assert (request.method, request.target) == (_b(method), _b(target))
    assert request.headers == _lowered(host_field + headers) + framing
    assert request.chunked is chunked
    assert request.content_length == (None if chunked else len(body))
    assert got_body == (b"".join(body) if chunked else body)
    assert got_trailers == _lowered(trailers)


def test_round_trip_connect(parser_twin: ModuleType) -> None:
    data = request_head(b"CONNECT", b"example.com:443", [], host=b"example.com:443")
    assert b"Content-Length" not in data
    parser = parser_twin.RequestParser()
    request, end = parser.feed(data + b"\x16\x03\x01tunnel bytes")
    assert type(end).__name__ == "EndOfMessage"
    assert (request.method, request.target) == (b"CONNECT", b"example.com:443")
    assert request.headers == [(b"host", b"example.com:443")]
    assert parser.upgraded and parser.trailing_data == b"\x16\x03\x01tunnel bytes"


def test_round_trip_pipelined(parser_twin: ModuleType) -> None:
    stream = (head(b"GET", b"/1")
              + head(b"POST", b"/2", body_length=2) + b"hi"
              + head(b"PUT", b"/3", body_length=None, chunked=True) + chunk(b"abc") + last_chunk()
              + head(b"HEAD", b"/4"))
    events = parser_twin.RequestParser().feed(stream)
    got = [(type(e).__name__, getattr(e, "target", None) or getattr(e, "data", None)) for e in events]
    assert got == [("Request", b"/1"), ("EndOfMessage", None),
                   ("Request", b"/2"), ("Data", b"hi"), ("EndOfMessage", None),
                   ("Request", b"/3"), ("Data", b"abc"), ("EndOfMessage", None),
                   ("Request", b"/4"), ("EndOfMessage", None)]


# -- header injection: nothing but field-value bytes reaches the wire ------------

INJECTED_VALUES = [
    b"x\r\nX-Evil: 1",
    b"x\nX-Evil: 1",
    b"x\rX-Evil: 1",
    b"\r\n",
    b"x\r\n",  # a trailing CRLF is refused, not stripped
    b"\nx",
    b"x\r\n\r\nGET /smuggled HTTP/1.1",
    b"a\x00b",
    b"a\x7fb",
    b"a\x0bb",
    b"a\x0cb",
    b"\x1b[31m",
    b"x\r\n y",  # obs-fold (RFC 9112 §5.2)
    "x\r\nX-Evil: 1",
]


@pytest.mark.parametrize("value", INJECTED_VALUES)
def test_injection_in_value(value: Any) -> None:
    refused(INVALID_VALUE, head, headers=HOST + [(b"X-Note", value)])


@pytest.mark.parametrize("value", INJECTED_VALUES)
def test_injection_in_host_argument(value: Any) -> None:
    refused(INVALID_VALUE, request_head, b"GET", b"/", [], host=value)


@pytest.mark.parametrize("value", INJECTED_VALUES)
def test_injection_in_trailer_value(value: Any) -> None:
    refused(INVALID_VALUE, last_chunk, [(b"X-Sum", value)])


def test_obs_text_is_not_a_line_break(parser_twin: ModuleType) -> None:
    # U+0085 (NEL) is a line break to str.splitlines(), but 0x85 is plain
    # obs-text on the wire: the value stays one field.
    data = head(headers=HOST + [("X", "a\u0085b")])
    (request, _) = parser_twin.RequestParser().feed(data)
    assert request.headers == [(b"host", b"example.com"), (b"x", b"a\x85b")]


@pytest.mark.parametrize("name, reason", [
    (b"", INVALID_NAME),
    (b"X Evil", INVALID_NAME),
    (b"X-Evil ", INVALID_NAME),  # whitespace before the colon (RFC 9112 §5.1)
    (b" X", INVALID_NAME),
    (b"X:Evil", INVALID_NAME),
    (b"X-Evil:", INVALID_NAME),
    (b"X\r\nEvil", INVALID_NAME),
    (b"X\nEvil", INVALID_NAME),
    (b"X\x00", INVALID_NAME),
    (b"X\t", INVALID_NAME),
    (b"(x)", INVALID_NAME),
    (b"a/b", INVALID_NAME),
    (b'"q"', INVALID_NAME),
    (b"caf\xe9", INVALID_NAME),
    ("X Evil", INVALID_NAME),
    ("café", NOT_ENCODABLE),  # names are ASCII
    ("\u212a", NOT_ENCODABLE),  # Kelvin sign: not K
])
def test_invalid_field_name(name: Any, reason: str) -> None:
    refused(reason, head, headers=HOST + [(name, b"v")])
    refused(reason, last_chunk, [(name, b"v")])


@pytest.mark.parametrize("value", ["€", "\u2028", "x\udcff"])
def test_value_not_latin1(value: str) -> None:
    refused(NOT_ENCODABLE, head, headers=HOST + [(b"X", value)])


# -- method and target -----------------------------------------------------------

@pytest.mark.parametrize("method, reason", [
    (b"", INVALID_METHOD),
    (b"GET /", INVALID_METHOD),
    (b"GE T", INVALID_METHOD),
    (b"GET\r\n", INVALID_METHOD),
    (b"G\x00T", INVALID_METHOD),
    (b"GET:", INVALID_METHOD),
    (b"G\xc9T", INVALID_METHOD),
    ("GÉT", NOT_ENCODABLE),
])
def test_invalid_method(method: Any, reason: str) -> None:
    refused(reason, head, method)


@pytest.mark.parametrize("method", [b"GET", b"M-SEARCH", b"PROPFIND", b"X~!#$%&'*+.^_`|", "get"])
def test_any_token_is_a_method(method: Any) -> None:
    encoded = method.encode() if isinstance(method, str) else method
    assert head(method).startswith(encoded + b" / HTTP/1.1\r\n")


@pytest.mark.parametrize("method, target, reason", [
    (b"GET", b"", EMPTY_TARGET),
    (b"GET", b"/a b", INVALID_TARGET),
    (b"GET", b"/a\r\nHost: evil", INVALID_TARGET),
    (b"GET", b"/\x00", INVALID_TARGET),
    (b"GET", b"/\x7f", INVALID_TARGET),
    (b"GET", b"/\t", INVALID_TARGET),
    (b"GET", b"/caf\xc3\xa9", INVALID_TARGET),
    (b"GET", "/café", NOT_ENCODABLE),
    (b"GET", b"/x#frag", TARGET_FORM),
    (b"GET", b"http://h/x#frag", TARGET_FORM),
    (b"GET", b"x", TARGET_FORM),
    (b"GET", b"*", TARGET_FORM),  # asterisk-form is for OPTIONS only
    (b"POST", b"*", TARGET_FORM),
    (b"CONNECT", b"/", TARGET_FORM),
    (b"CONNECT", b"example.com", TARGET_FORM),
    (b"CONNECT", b"example.com:", TARGET_FORM),
    (b"CONNECT", b":443", TARGET_FORM),
    (b"CONNECT", b"user@example.com:443", TARGET_FORM),
    (b"CONNECT", b"http://example.com:443", TARGET_FORM),
    (b"CONNECT", b"*", TARGET_FORM),
])
def test_invalid_target(method: bytes, target: Any, reason: str) -> None:
    refused(reason, head, method, target)


@pytest.mark.parametrize("method, target", [
    (b"GET", b"/"),
    (b"GET", b"/%E2%82%AC?q=a+b&r"),
    (b"GET", b"http://example.com/x"),
    (b"GET", b"https://example.com:8443"),
    (b"GET", b"svn+ssh://h/x"),
    (b"GET", b"example.com:443"),  # an absolute-URI to RFC 3986 (scheme "example.com")
    (b"OPTIONS", b"*"),
    (b"OPTIONS", b"/"),
    (b"CONNECT", b"example.com:443"),
    (b"CONNECT", b"[::1]:8080"),
    (b"CONNECT", b"127.0.0.1:80"),
])
def test_valid_target(method: bytes, target: bytes) -> None:
    assert head(method, target).startswith(method + b" " + target + b" HTTP/1.1\r\n")


# -- Host ------------------------------------------------------------------------

def test_host_argument_is_written_first() -> None:
    data = request_head(b"GET", b"/", [(b"Accept", b"*/*")], host=b"example.com")
    assert field_lines(data) == [b"Host: example.com", b"Accept: */*"]


def test_caller_host_is_used_where_it_stands() -> None:
    data = request_head(b"GET", b"/", [(b"Accept", b"*/*"), (b"host", b"mine")], host=b"ignored")
    assert field_lines(data) == [b"Accept: */*", b"host: mine"]


@pytest.mark.parametrize("host, written", [
    (b"example.com", b"example.com"),
    ("example.com:8080", b"example.com:8080"),
    (b"  padded  ", b"padded"),
    (b"", b""),  # RFC 9112 §3.2: empty when the target URI has no authority
    (bytearray(b"[::1]:80"), b"[::1]:80"),
])
def test_host_argument_forms(host: Any, written: bytes) -> None:
    assert field_lines(request_head(b"GET", b"/", [], host=host)) == [b"Host: " + written]


@pytest.mark.parametrize("headers, host, reason", [
    ([], None, MISSING_HOST),
    ([(b"X-Host", b"h")], None, MISSING_HOST),
    ([(b"Host", b"a"), (b"Host", b"b")], None, DUPLICATE_HOST),
    ([(b"Host", b"a"), (b"HOST", b"a")], b"a", DUPLICATE_HOST),
])
def test_host_errors(headers: Pairs, host: Any, reason: str) -> None:
    refused(reason, request_head, b"GET", b"/", headers, host=host)


# -- framing ---------------------------------------------------------------------

NO_CL = b""
FRAMING = [
    # (method, body_length, chunked, the framing line written)
    (b"GET", 0, False, NO_CL),
    (b"HEAD", 0, False, NO_CL),
    (b"DELETE", 0, False, NO_CL),
    (b"OPTIONS", 0, False, NO_CL),
    (b"TRACE", 0, False, NO_CL),
    (b"POST", 0, False, b"Content-Length: 0"),  # RFC 9110 §8.6
    (b"PUT", 0, False, b"Content-Length: 0"),
    (b"PATCH", 0, False, b"Content-Length: 0"),
    (b"PROPFIND", 0, False, b"Content-Length: 0"),
    (b"get", 0, False, b"Content-Length: 0"),  # methods are case-sensitive (RFC 9110 §9.1)
    (b"GET", 5, False, b"Content-Length: 5"),
    (b"DELETE", 12, False, b"Content-Length: 12"),
    (b"POST", 5, False, b"Content-Length: 5"),
    (b"POST", (1 << 63) - 1, False, b"Content-Length: 9223372036854775807"),
    (b"POST", None, True, b"Transfer-Encoding: chunked"),
    (b"POST", 0, True, b"Transfer-Encoding: chunked"),
    (b"GET", None, True, b"Transfer-Encoding: chunked"),
    ("PUT", None, True, b"Transfer-Encoding: chunked"),
]


@pytest.mark.parametrize("method, length, chunked, line", FRAMING)
def test_framing(method: Any, length: int | None, chunked: bool, line: bytes) -> None:
    lines = field_lines(head(method, body_length=length, chunked=chunked))
    assert lines == [b"Host: example.com"] + ([line] if line else [])


def test_connect_has_no_framing() -> None:
    assert field_lines(head(b"CONNECT", b"h:443")) == [b"Host: example.com"]


@pytest.mark.parametrize("method, target, length, chunked, reason", [
    (b"POST", b"/", None, False, UNKNOWN_LENGTH),
    (b"GET", b"/", None, False, UNKNOWN_LENGTH),
    (b"POST", b"/", 5, True, BOTH_FRAMINGS),
    (b"POST", b"/", -1, False, INVALID_LENGTH),
    (b"POST", b"/", -1, True, INVALID_LENGTH),
    (b"POST", b"/", 1 << 63, False, INVALID_LENGTH),
    (b"TRACE", b"/", 1, False, CONTENT_NOT_ALLOWED),  # RFC 9110 §9.3.8
    (b"TRACE", b"/", None, True, CONTENT_NOT_ALLOWED),
    (b"CONNECT", b"h:443", 3, False, CONTENT_NOT_ALLOWED),  # RFC 9110 §9.3.6
    (b"CONNECT", b"h:443", None, True, CONTENT_NOT_ALLOWED),
])
def test_framing_errors(method: bytes, target: bytes, length: int | None, chunked: bool,
                        reason: str) -> None:
    refused(reason, head, method, target, body_length=length, chunked=chunked)


@pytest.mark.parametrize("length", [True, False, 1.0, "5", b"5"])
def test_body_length_must_be_an_int(length: Any) -> None:
    with pytest.raises(TypeError):
        head(b"POST", body_length=length)


@pytest.mark.parametrize("name", [
    b"Content-Length", b"content-length", b"CONTENT-LENGTH", "Content-Length",
    b"Transfer-Encoding", b"transfer-encoding", "TRANSFER-encoding",
])
@pytest.mark.parametrize("length, chunked", [(0, False), (5, False), (None, True)])
def test_caller_framing_fields_are_refused(name: Any, length: int | None, chunked: bool) -> None:
    # Even a value that agrees with the writer's is refused: one source of framing.
    value = b"chunked" if chunked else b"%d" % (length or 0)
    refused(CALLER_FRAMING, head, b"POST", headers=HOST + [(name, value)],
            body_length=length, chunked=chunked)


@pytest.mark.parametrize("name", [b"Connection", b"Upgrade", b"TE", b"Expect", b"Trailer"])
def test_other_hop_by_hop_fields_are_the_callers(name: bytes) -> None:
    assert field_lines(head(headers=HOST + [(name, b"x")]))[1] == name + b": x"


# -- str, bytes and other inputs --------------------------------------------------

def test_str_and_bytes_give_the_same_bytes() -> None:
    as_str = request_head("POST", "/x?y=1", [("X-A", "1"), ("X-B", "café")], host="h",
                          body_length=3)
    as_bytes = request_head(b"POST", b"/x?y=1", [(b"X-A", b"1"), (b"X-B", b"caf\xe9")], host=b"h",
                            body_length=3)
    # Typed as bytes | str, but other buffers are taken too (copied to bytes).
    buffers: Any = (bytearray(b"POST"), memoryview(b"/x?y=1"),
                    [(bytearray(b"X-A"), memoryview(b"1")), (b"X-B", bytearray(b"caf\xe9"))])
    as_buffers = request_head(*buffers, host=memoryview(b"h"), body_length=3)  # type: ignore[arg-type]
    assert as_str == as_bytes == as_buffers


def test_headers_may_be_any_iterable() -> None:
    def gen() -> Iterator[tuple[bytes, bytes]]:
        yield b"Host", b"h"
        yield b"X", b"1"
    assert field_lines(request_head(b"GET", b"/", gen())) == [b"Host: h", b"X: 1"]


@pytest.mark.parametrize("args", [
    (1, b"/", HOST),
    (b"GET", None, HOST),
    (b"GET", b"/", [(b"X", 1)] + HOST),
    (b"GET", b"/", [(None, b"v")] + HOST),
])
def test_wrong_types_are_type_errors(args: tuple[Any, Any, Any]) -> None:
    with pytest.raises(TypeError):
        request_head(*args)


# -- chunks ----------------------------------------------------------------------

@pytest.mark.parametrize("data, encoded", [
    (b"a", b"1\r\na\r\n"),
    (b"hello", b"5\r\nhello\r\n"),
    (b"x" * 16, b"10\r\n" + b"x" * 16 + b"\r\n"),
    (b"x" * 255, b"ff\r\n" + b"x" * 255 + b"\r\n"),
    (b"x" * 4096, b"1000\r\n" + b"x" * 4096 + b"\r\n"),
    (b"\r\n0\r\n\r\n", b"7\r\n\r\n0\r\n\r\n\r\n"),  # data is opaque, its size frames it
    (bytearray(b"abc"), b"3\r\nabc\r\n"),
    (memoryview(b"abc"), b"3\r\nabc\r\n"),
    (memoryview(b"abcd")[::2], b"2\r\nac\r\n"),
    (memoryview(array.array("H", [1, 2])), b"4\r\n\x01\x00\x02\x00\r\n"),
    (b"", b""),  # never the last chunk by accident
    (bytearray(), b""),
    (memoryview(b""), b""),
])
def test_chunk(data: Any, encoded: bytes) -> None:
    assert chunk(data) == encoded


@pytest.mark.parametrize("data", ["abc", "", 3, None])
def test_chunk_needs_bytes(data: Any) -> None:
    with pytest.raises(TypeError):
        chunk(data)


def test_opaque_chunk_data_round_trips(parser_twin: ModuleType) -> None:
    data = b"\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
    stream = head(b"POST", body_length=None, chunked=True) + chunk(data) + last_chunk()
    events = parser_twin.RequestParser().feed(stream)
    assert [type(e).__name__ for e in events] == ["Request", "Data", "EndOfMessage"]
    assert bytes(events[1].data) == data


@pytest.mark.parametrize("trailers, encoded", [
    ([], b"0\r\n\r\n"),
    ((), b"0\r\n\r\n"),
    ([(b"X-Sum", b"abc")], b"0\r\nX-Sum: abc\r\n\r\n"),
    ([("X-Sum", " abc\t"), (b"x-b", b"")], b"0\r\nX-Sum: abc\r\nx-b: \r\n\r\n"),
    ([(b"Server-Timing", b"db;dur=53")], b"0\r\nServer-Timing: db;dur=53\r\n\r\n"),
])
def test_last_chunk(trailers: Pairs, encoded: bytes) -> None:
    assert last_chunk(trailers) == encoded


@pytest.mark.parametrize("name", [
    b"Connection", b"Keep-Alive", b"Proxy-Connection", b"TE", b"Trailer", b"Transfer-Encoding",
    b"Upgrade", b"Proxy-Authenticate", b"Proxy-Authorization",
    b"Content-Length", b"Host",
    b"content-length", b"HOST", "transfer-encoding", "tRaIlEr",
])
def test_forbidden_trailers(name: Any) -> None:
    refused(FORBIDDEN_TRAILER, last_chunk, [(b"X-Ok", b"1"), (name, b"x")])


# -- body objects -----------------------------------------------------------------

def _gen() -> Iterator[bytes]:
    yield b"a"


async def _agen() -> AsyncIterator[bytes]:
    yield b"a"


class _AsyncOnly:
    def __aiter__(self) -> AsyncIterator[bytes]:
        return _agen()


@pytest.mark.parametrize("body, framing", [
    (None, (0, False)),
    (b"", (0, False)),
    (b"hello", (5, False)),
    (bytearray(3), (3, False)),
    (memoryview(b"abcd")[1:], (3, False)),
    (memoryview(array.array("H", [1, 2, 3])), (6, False)),
    ([b"a", b"b"], (None, True)),
    ((), (None, True)),
    (_gen(), (None, True)),
    (iter([b"x"]), (None, True)),
    (_AsyncOnly(), (None, True)),
    (_agen(), (None, True)),
])
def test_body_framing(body: Any, framing: tuple[int | None, bool]) -> None:
    assert body_framing(body) == framing


@pytest.mark.parametrize("body", ["text", "", 3, 1.5, object()])
def test_body_framing_refuses(body: Any) -> None:
    with pytest.raises(TypeError):
        body_framing(body)


@pytest.mark.parametrize("method, body", [
    (b"POST", None), (b"POST", b"hello"), (b"PUT", [b"he", b"llo"]), (b"GET", None),
    (b"GET", b""), (b"PATCH", (b"x",)),
])
def test_body_framing_feeds_request_head(parser_twin: ModuleType, method: bytes, body: Any) -> None:
    length, chunked = body_framing(body)
    data = head(method, body_length=length, chunked=chunked)
    if chunked:
        data += b"".join(chunk(piece) for piece in body) + last_chunk()
    elif body:
        data += body
    events = parser_twin.RequestParser().feed(data)
    assert type(events[-1]).__name__ == "EndOfMessage"
    payload = b"".join(bytes(e.data) for e in events if type(e).__name__ == "Data")
    assert payload == (b"".join(body) if chunked else (body or b""))
