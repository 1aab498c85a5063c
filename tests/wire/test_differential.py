"""Property tests: generated messages, mutated and split at random points.

* Valid generated messages (a model of what was generated is kept) must parse
  to exactly the modelled events, identically whole and split, on each twin.
* Mutated messages (byte flips, inserted CR/LF/SP/NUL/":", deletions,
  duplicated lines) must give the same outcome whole and split on each twin,
  and the C twin must give exactly what the Python twin gives: the same
  normalized events, or the same error (reason, status_hint, offset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.parsing import Outcome, assert_same, body, end, info, parse, req, resp

pytestmark = pytest.mark.slow  # hypothesis runs of 200 examples, each fed every way

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
VCHARS = "".join(chr(c) for c in range(0x21, 0x7F)) + "\x80\xa0\xe4\xff"
TARGET_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))
QDTEXT = "".join(chr(c) for c in [0x09, 0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)])
SPECIAL_NAMES = {b"content-length", b"transfer-encoding", b"connection", b"proxy-connection",
                 b"upgrade", b"te", b"keep-alive", b"trailer"}


def latin1(alphabet: str, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[bytes]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size).map(
        lambda s: s.encode("latin-1"))


tokens = latin1(TCHARS, 1, 10)
names = st.one_of(
    st.sampled_from([b"Host", b"User-Agent", b"Accept", b"Accept-Encoding", b"Cookie",
                     b"X-Request-ID", b"Cache-Control", b"Date", b"Server", b"ETag"]),
    tokens.filter(lambda n: n.lower() not in SPECIAL_NAMES),
)
ows = st.sampled_from([b"", b"", b" ", b"\t", b"  ", b" \t "])
values = st.tuples(ows, latin1(VCHARS + " \t", 0, 16), ows).map(lambda t: t[0] + t[1] + t[2])
field_lists = st.lists(st.tuples(names, values), max_size=5)
case_mix = st.sampled_from([bytes, bytes.lower, bytes.upper])


def field_block(fields: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(n + b":" + v + b"\r\n" for n, v in fields)


def expected_fields(fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(n.lower(), v.strip(b" \t")) for n, v in fields]


chunk_exts = st.lists(
    st.tuples(tokens, st.one_of(
        st.just(b""),
        tokens.map(lambda t: b"=" + t),
        latin1(QDTEXT, 0, 8).map(lambda q: b'="' + q + b'"'),
        latin1(TARGET_CHARS, 1, 3).map(lambda q: b'="\\' + q[:1] + b'"'),
    )).map(lambda t: b";" + t[0] + t[1]),
    max_size=2,
).map(b"".join)


@st.composite
def chunked_body(draw) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
    """(wire bytes, decoded body, trailer fields) of a chunked body."""
    chunks = draw(st.lists(st.binary(min_size=1, max_size=20), max_size=3))
    wire = b""
    for data in chunks:
        size = draw(st.sampled_from(["%x", "%X", "0%x"])) % len(data)
        wire += size.encode() + draw(chunk_exts) + b"\r\n" + data + b"\r\n"
    trailers = draw(field_lists)
    wire += draw(st.sampled_from([b"0", b"000"])) + draw(chunk_exts) + b"\r\n"
    wire += field_block(trailers) + b"\r\n"
    return wire, b"".join(chunks), trailers


@dataclass
class Generated:
    """Wire bytes and the events a correct parser makes of them."""

    kind: str
    wire: bytes = b""
    events: list = field(default_factory=list)
    expect: list = field(default_factory=list)
    eof: bool = False


# -- requests ------------------------------------------------------------------


@st.composite
def request_message(draw) -> tuple[bytes, list, bool]:
    """(wire, events, persistent) of one valid request."""
    method = draw(st.one_of(st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"OPTIONS",
                                             b"PATCH", b"HEAD"]), tokens))
    if method == b"CONNECT":
        method = b"GET"
    target = draw(st.one_of(st.just(b"/"), latin1(TARGET_CHARS, 1, 20).map(lambda t: b"/" + t),
                            st.just(b"*")))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    fields = draw(field_lists)
    conn = draw(st.sampled_from([None, None, b"close", b"keep-alive", b"Keep-Alive, foo"]))
    if conn is not None:
        pos = draw(st.integers(0, len(fields)))
        fields.insert(pos, (draw(case_mix)(b"Connection"), conn))
    framing = draw(st.sampled_from(["none", "length", "chunked"] if version == b"1.1"
                                   else ["none", "length"]))
    content = b""
    trailers: list = []
    length: int | None = 0
    if framing == "length":
        content = draw(st.binary(max_size=30))
        length = len(content)
        fields.append((draw(case_mix)(b"Content-Length"),
                       draw(st.sampled_from([b"", b"0", b"00"])) + str(length).encode()))
        wire_body = content
    elif framing == "chunked":
        wire_body, content, trailers = draw(chunked_body())
        coding = draw(st.sampled_from([b"chunked", b"Chunked", b"gzip, chunked"]))
        fields.append((draw(case_mix)(b"Transfer-Encoding"), coding))
        length = None
    else:
        wire_body = b""
    tokens_ = [t.strip().lower() for t in (conn or b"").split(b",")]
    keep_alive = (b"close" not in tokens_) if version == b"1.1" else (
        b"keep-alive" in tokens_ and b"close" not in tokens_)
    wire = b"%s %s HTTP/%s\r\n" % (method, target, version) + field_block(fields) + b"\r\n" + wire_body
    events = [req(method, target, expected_fields(fields), http_version=version,
                  keep_alive=keep_alive, content_length=length, chunked=framing == "chunked")]
    if content:
        events.append(body(content))
    events.append(end(expected_fields(trailers)))
    return wire, events, keep_alive


@st.composite
def valid_requests(draw) -> Generated:
    gen = Generated("request")
    for _ in range(draw(st.integers(1, 3))):
        gen.wire += draw(st.sampled_from([b"", b"", b"\r\n", b"\r\n\r\n"]))
        wire, events, persistent = draw(request_message())
        gen.wire += wire
        gen.events += events
        if not persistent:
            break
    return gen


# -- responses -----------------------------------------------------------------


@st.composite
def response_message(draw) -> tuple[bytes, list, str | None, bool]:
    """(wire, events, expected request method or None for 1xx, persistent)."""
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    status = draw(st.one_of(st.sampled_from([100, 103, 200, 201, 204, 206, 301, 304, 404, 500]),
                            st.integers(200, 599)))
    reason = draw(st.one_of(st.just(b""), latin1(VCHARS + " \t", 0, 12)))
    sep = b" " if reason or draw(st.booleans()) else b""
    fields = draw(field_lists)
    head = b"HTTP/%s %d" % (version, status) + sep + reason + b"\r\n"
    if status < 200:
        wire = head + field_block(fields) + b"\r\n"
        return wire, [info(status, reason, expected_fields(fields), http_version=version)], None, True
    method = draw(st.sampled_from([b"GET", b"GET", b"POST", b"HEAD"]))
    conn = draw(st.sampled_from([None, None, b"close", b"keep-alive"]))
    if conn is not None:
        fields.insert(draw(st.integers(0, len(fields))), (b"Connection", conn))
    keep_alive = (conn != b"close") if version == b"1.1" else conn == b"keep-alive"
    bodiless = method == b"HEAD" or status in (204, 304)
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    content = b""
    trailers: list = []
    wire_body = b""
    length: int | None
    if framing == "length":
        n = len(content := draw(st.binary(max_size=30)))
        fields.append((b"Content-Length", str(n).encode()))
        length, wire_body = n, content
    elif framing == "chunked":
        wire_body, content, trailers = draw(chunked_body())
        fields.append((b"Transfer-Encoding", b"chunked"))
        length = None
        if version == b"1.0":
            keep_alive = False
    else:
        content = wire_body = draw(st.binary(max_size=30).filter(lambda b: True))
        length = None
        keep_alive = False
    chunked = framing == "chunked"
    if bodiless:
        content, wire_body, trailers, length, chunked = b"", b"", [], 0, False
        keep_alive = (conn != b"close") if version == b"1.1" else conn == b"keep-alive"
    wire = head + field_block(fields) + b"\r\n" + wire_body
    events = [resp(status, reason, expected_fields(fields), http_version=version,
                   keep_alive=keep_alive, content_length=length, chunked=chunked)]
    if content:
        events.append(body(content))
    if not (framing == "close" and not bodiless):
        events.append(end(expected_fields(trailers)))
    return wire, events, method.decode(), keep_alive


@st.composite
def valid_responses(draw) -> Generated:
    gen = Generated("response")
    for _ in range(draw(st.integers(1, 4))):
        gen.wire += draw(st.sampled_from([b"", b"", b"\r\n"]))
        wire, events, method, persistent = draw(response_message())
        gen.wire += wire
        gen.events += events
        if method is not None:
            gen.expect.append(method.encode())
        if not persistent:
            if gen.events[-1][0] != "EndOfMessage":  # read until close
                gen.eof = True
                gen.events.append(end())
            break
    return gen


# -- mutation and splitting ------------------------------------------------------

INSERTS = [b"\r", b"\n", b" ", b"\x00", b":", b"\t", b"\r\n", b",", b";", b'"', b"\x7f", b"\xff",
           b"0", b"f"]


@st.composite
def mutated(draw, messages: st.SearchStrategy[Generated]) -> Generated:
    gen = draw(messages)
    data = bytearray(gen.wire)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate-line", "replace"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[i:i] = draw(st.sampled_from(INSERTS))
        elif op == "delete" and data:
            del data[i:i + draw(st.integers(1, 3))]
        elif op == "replace" and data:
            data[i:i + 1] = draw(st.sampled_from(INSERTS))
        elif op == "duplicate-line":
            lines = bytes(data).split(b"\r\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines.insert(k, lines[k])
            data = bytearray(b"\r\n".join(lines))
    gen.wire = bytes(data)
    gen.events = []  # unknown: only the twins' agreement is checked
    return gen


@st.composite
def cuts(draw, data: bytes) -> list[bytes]:
    points = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


OPTIONS = st.one_of(
    st.just({}),
    st.fixed_dictionaries({
        "max_line_size": st.sampled_from([16, 24, 40, 8190]),
        "max_header_size": st.sampled_from([16, 48, 120, 65536]),
        "max_headers": st.sampled_from([0, 1, 3, 100]),
        "strip_hop_by_hop": st.booleans(),
    }),
)


def run(twin, gen: Generated, chunks: list[bytes], options: dict[str, Any]) -> Outcome:
    return parse(twin, gen.kind, chunks, expect=gen.expect, eof=gen.eof, **options)


# -- properties ------------------------------------------------------------------


def check_valid(twin, gen: Generated, pieces: list[bytes]) -> None:
    whole = run(twin, gen, [gen.wire], {})
    assert whole.error is None, (whole.error, gen.wire)
    assert whole.events == gen.events, gen.wire
    assert_same(whole, run(twin, gen, pieces, {}), f"fed in pieces {pieces!r}")


@SETTINGS
@given(data=st.data())
def test_valid_requests_parse_to_the_model_whole_and_split(twin, data):
    gen = data.draw(valid_requests())
    check_valid(twin, gen, data.draw(cuts(gen.wire)))


@SETTINGS
@given(data=st.data())
def test_valid_responses_parse_to_the_model_whole_and_split(twin, data):
    gen = data.draw(valid_responses())
    check_valid(twin, gen, data.draw(cuts(gen.wire)))


def check_split_agrees(twin, gen: Generated, pieces: list[bytes], options) -> None:
    whole = run(twin, gen, [gen.wire], options)
    assert_same(whole, run(twin, gen, pieces, options), f"fed in pieces {pieces!r}")


@SETTINGS
@given(data=st.data())
def test_mutated_requests_split_agrees(twin, data):
    gen = data.draw(mutated(valid_requests()))
    check_split_agrees(twin, gen, data.draw(cuts(gen.wire)), data.draw(OPTIONS))


@SETTINGS
@given(data=st.data())
def test_mutated_responses_split_agrees(twin, data):
    gen = data.draw(mutated(valid_responses()))
    gen.eof = data.draw(st.booleans())
    check_split_agrees(twin, gen, data.draw(cuts(gen.wire)), data.draw(OPTIONS))


def check_twins_agree(py_twin, c_twin, gen: Generated, pieces: list[bytes], options) -> None:
    for chunks, how in (([gen.wire], "whole"), (pieces, f"in pieces {pieces!r}")):
        expected = run(py_twin, gen, chunks, options)
        got = run(c_twin, gen, chunks, options)
        assert_same(expected, got,
                    f"C twin (vs Python twin) fed {how}, options {options}, input {gen.wire!r}:")
        # The same events from the same calls (Data merged per feed, ParseError.events).
        assert got.per_call == expected.per_call, (how, gen.wire)


@SETTINGS
@given(data=st.data())
def test_twins_agree_on_mutated_requests(py_twin, c_twin, data):
    gen = data.draw(mutated(valid_requests()))
    check_twins_agree(py_twin, c_twin, gen, data.draw(cuts(gen.wire)), data.draw(OPTIONS))


@SETTINGS
@given(data=st.data())
def test_twins_agree_on_mutated_responses(py_twin, c_twin, data):
    gen = data.draw(mutated(valid_responses()))
    gen.eof = data.draw(st.booleans())
    check_twins_agree(py_twin, c_twin, gen, data.draw(cuts(gen.wire)), data.draw(OPTIONS))


@SETTINGS
@given(data=st.data())
def test_twins_agree_on_valid_messages_with_options(py_twin, c_twin, data):
    gen = data.draw(st.one_of(valid_requests(), valid_responses()))
    check_twins_agree(py_twin, c_twin, gen, data.draw(cuts(gen.wire)), data.draw(OPTIONS))


@SETTINGS
@given(headers=st.lists(st.tuples(
    st.one_of(names, st.sampled_from([b"Connection", b"connection", b"Keep-Alive", b"TE",
                                      b"Upgrade", b"Proxy-Connection", b"X-Foo"])),
    st.one_of(values, st.sampled_from([b"close", b"x-foo, Host", b" ,keep-alive,, te",
                                       b"X-FOO"]))), max_size=8),
       keep_alive=st.one_of(latin1(VCHARS + " ,=\"", 0, 30),
                            st.sampled_from([b"timeout=5, max=100", b'timeout="7"', b"max=-1"])))
def test_twins_agree_on_header_functions(py_twin, c_twin, headers, keep_alive):
    assert c_twin.filter_hop_by_hop(headers) == py_twin.filter_hop_by_hop(headers)
    assert c_twin.connection_tokens(headers) == py_twin.connection_tokens(headers)
    assert c_twin.parse_keep_alive(keep_alive) == py_twin.parse_keep_alive(keep_alive)
