"""Differential fuzzing under hypothesis: the twins against each other, hopwire against
llhttp (httptools) and h11, on messages built from smuggling's raw material.

test_differential.py mutates well-formed messages at random; this module builds
messages from the pieces request smuggling is made of (duplicate and obfuscated
Content-Length and Transfer-Encoding, line-ending variants, obs-fold, chunk-size
and chunk-extension abuse, Unicode look-alikes, pipelined and "smuggled" second
messages), cuts them at random points and checks, through tests/support/fuzz_peers.py:

- the C and Python twins agree exactly, whole and split;
- hopwire does not accept what a strict peer rejects, and where both complete a
  message they frame it the same, unless tests/support/fuzz_allowlist.py explains why.

Bounded for CI: a derandomized profile (the same examples on every run) and a
few hundred examples per property. HOPWIRE_FUZZ_EXAMPLES=N raises the count and
turns derandomization off for a longer, exploratory run:

    HOPWIRE_FUZZ_EXAMPLES=20000 PYTHONPATH=src .venv/bin/python -m pytest \
        tests/wire/test_fuzz_differential.py -q

Every difference a run finds becomes an entry of FOUND below (and a seed in
fuzz/corpus/), so that it is checked on every run from then on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.fuzz_allowlist import ALLOWED, allowed
from support.fuzz_peers import Finding, check, compare_twins, h11, httptools, run_hopwire, run_peer
from hopwire._wire import parser_py

EXPLORE = int(os.environ.get("HOPWIRE_FUZZ_EXAMPLES", "0"))
SETTINGS = settings(
    max_examples=EXPLORE or 120,
    derandomize=not EXPLORE,
    deadline=None,
    database=None,  # CI must see the same examples every time, not a replay of a local failure
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
CORPUS = Path(__file__).resolve().parents[2] / "fuzz" / "corpus"

# -- the raw material --------------------------------------------------------------

EOL = st.sampled_from([b"\r\n"] * 12 + [b"\n", b"\r", b"\r\r\n", b" \r\n", b"\r\n\r\n"])
SEP = st.sampled_from([b": ", b": ", b":", b":\t", b" :", b"\t:", b":  ", b": \x0b"])
CL_VALUES = [b"0", b"3", b"5", b"5", b"05", b" 5", b"5 ", b"+5", b"-5", b"5,5", b"5, 5", b"0x5",
             b"5.0", b"1_0", b"\xd9\xa5", b"\xef\xbc\x95", b"99999999999999999999",
             b"9223372036854775808", b"", b'"5"', b"5\x00"]
TE_VALUES = [b"chunked", b"chunked", b"Chunked", b"CHUNKED", b" chunked", b"chunked ",
             b"gzip, chunked", b"chunked, gzip", b"chunked, chunked", b"chunked,chunked",
             b"identity", b"identity, chunked", b"xchunked", b"chunked;q=1", b'"chunked"',
             b"\x0bchunked", b"chu\x00nked", b"chun\xe2\x84\xaaed", b"gzip,chunked", b", chunked",
             b"chunked,", b"chunked\x0c", b"gzip", b"chunk", b"x-gzip, deflate, chunked"]
CONN_VALUES = [b"close", b"keep-alive", b"Close", b"upgrade", b"close, upgrade", b"keep-alive, te",
               b"x-foo", b""]
NAMES = {
    "cl": [b"Content-Length", b"content-length", b"CONTENT-LENGTH", b"Content-length"],
    "te": [b"Transfer-Encoding", b"transfer-encoding", b"TRANSFER-ENCODING"],
    "conn": [b"Connection", b"connection", b"Proxy-Connection"],
    "other": [b"X-A", b"Accept", b"Upgrade", b"Expect", b"Keep-Alive", b"TE", b"Trailer"],
    # Look-alikes of the framing names: none of them may be taken for the real one.
    "fake": [b" Transfer-Encoding", b"Transfer_Encoding", b"Transfer-Encoding\x00",
             b"Tran\xc5\xbffer-Encoding", b"Content-Lengt\xc4\xa7", b"\xe2\x84\xaaeep-Alive",
             b"Transfer-Encoding\x0b", b"X-Transfer-Encoding", b"Content\tLength",
             b"Content-Length\r", b"Transfer\x80Encoding"],
}
VALUES = {"cl": CL_VALUES, "te": TE_VALUES, "conn": CONN_VALUES,
          "other": [b"a", b"", b"x y", b"\xff\xfe", b"a\x00b", b"websocket", b"100-continue",
                    b"trailers", b"timeout=5"],
          "fake": TE_VALUES[:4] + CL_VALUES[:4]}
CHUNK_SIZES = [None] * 10 + [b"05", b"5 ", b" 5", b"0x5", b"-5", b"+5", b"5\t", b"fffffffffffffffff",
                             b"10000000000000000", b"\xd9\xa5", b"5_0", b"g"]
CHUNK_EXTS = [b""] * 8 + [b";a", b";a=b", b';a="b c"', b";a=b;c", b"; a", b";a =b", b";a=", b";",
                          b";a\nb", b';a="\\"', b";a=b\x00", b";" + b"e" * 100, b'\t;a']
CHUNK_TAILS = [b"\r\n"] * 10 + [b"\n", b"\r", b"", b"XX\r\n", b"\r\r\n", b" \r\n"]
SMUGGLED = [b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", b"G", b"0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"\r\n", b"X"]


@st.composite
def field_line(draw: Any, kinds: list[str]) -> bytes:
    kind = draw(st.sampled_from(kinds))
    name = draw(st.sampled_from(NAMES[kind]))
    value = draw(st.sampled_from(VALUES[kind]))
    line = name + draw(SEP) + value
    if draw(st.integers(0, 15)) == 0:  # obs-fold: the next line continues this one
        line += b"\r\n" + draw(st.sampled_from([b" ", b"\t"])) + draw(st.sampled_from(VALUES[kind]))
    return line + draw(EOL)


@st.composite
def chunked_body(draw: Any) -> bytes:
    out = b""
    for _ in range(draw(st.integers(0, 3))):
        data = draw(st.sampled_from([b"hello", b"a", b"0123456789abcdef", b"\r\n0\r\n\r\n"]))
        size = draw(st.sampled_from(CHUNK_SIZES)) or b"%x" % len(data)
        out += size + draw(st.sampled_from(CHUNK_EXTS)) + b"\r\n" + data
        out += draw(st.sampled_from(CHUNK_TAILS))
    out += draw(st.sampled_from([b"0", b"0", b"00", b"0;a=b", b"0 "])) + b"\r\n"
    for _ in range(draw(st.integers(0, 2))):
        out += draw(field_line(["other", "cl", "te"]))
    return out + b"\r\n"


@st.composite
def head_fields(draw: Any, framing: list[str]) -> bytes:
    lines = [draw(field_line([kind])) for kind in framing]
    lines += draw(st.lists(field_line(["other", "conn", "fake", "cl", "te"]), max_size=3))
    return b"".join(draw(st.permutations(lines)))


@st.composite
def body_for(draw: Any, framing: list[str]) -> bytes:
    if "te" in framing and draw(st.integers(0, 3)):
        return draw(chunked_body())
    return draw(st.sampled_from([b"", b"abc", b"hello", b"hello world", b"0\r\n\r\n"]))


@st.composite
def request_message(draw: Any) -> bytes:
    method = draw(st.sampled_from([b"GET", b"POST", b"POST", b"PUT", b"HEAD", b"OPTIONS",
                                   b"DELETE", b"PATCH", b"CONNECT", b"get", b"G\xc3\x89T"]))
    target = draw(st.sampled_from([b"/", b"/a?b=c", b"*", b"http://x/", b"example.com:443",
                                   b"/a b", b"/\xff", b"/%00"]))
    version = draw(st.sampled_from([b"HTTP/1.1"] * 6 + [b"HTTP/1.0", b"HTTP/1.2", b"http/1.1",
                                                         b"HTTP/1.1 ", b"HTTP/1.10", b""]))
    start = method + b" " + target + (b" " + version if version else b"")
    framing = draw(st.lists(st.sampled_from(["cl", "te"]), max_size=3))
    head = start + draw(EOL) + b"Host: x\r\n" + draw(head_fields(framing)) + b"\r\n"
    return head + draw(body_for(framing))


STATUS_LINES = [b"HTTP/1.1 200 OK"] * 6 + [
    b"HTTP/1.1 200", b"HTTP/1.1 200 ", b"HTTP/1.0 200 OK", b"HTTP/1.1 204 No Content",
    b"HTTP/1.1 304 Not Modified", b"HTTP/1.1 100 Continue", b"HTTP/1.1 101 Switching Protocols",
    b"HTTP/1.1 103 Early Hints", b"HTTP/1.1 099 X", b"HTTP/1.1 2000 X", b"HTTP/1.1  200 OK",
    b"HTTP/1.1 200 O\x00K", b"HTTP/1.2 200 OK", b"http/1.1 200 OK", b"HTTP/1.1 2\xd9\xa20 OK",
    b"HTTP/1.1 404 \xff\xfe", b"HTTP/1.1 500 Internal\tError"]


@st.composite
def response_message(draw: Any) -> bytes:
    framing = draw(st.lists(st.sampled_from(["cl", "te"]), max_size=3))
    head = draw(st.sampled_from(STATUS_LINES)) + draw(EOL) + draw(head_fields(framing)) + b"\r\n"
    return head + draw(body_for(framing))


@st.composite
def stream(draw: Any, kind: str) -> tuple[bytes, list[bytes]]:
    """(wire bytes, expected methods) of one to three messages, maybe mutated."""
    message = request_message() if kind == "request" else response_message()
    data = b""
    for _ in range(draw(st.integers(1, 3))):
        data += draw(st.sampled_from([b"", b"", b"", b"\r\n"])) + draw(message)
    if draw(st.integers(0, 3)) == 0:
        data += draw(st.sampled_from(SMUGGLED))
    if draw(st.integers(0, 3)) == 0:  # a few raw mutations on top of the structure
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 2))):
            i = draw(st.integers(0, max(len(buf) - 1, 0)))
            op = draw(st.sampled_from(["flip", "insert", "delete"]))
            if op == "flip" and buf:
                buf[i] ^= draw(st.sampled_from([0x20, 0x01, 0x80, 0xff]))
            elif op == "insert":
                buf[i:i] = draw(st.sampled_from([b"\r", b"\n", b" ", b"\t", b"\x00", b":", b"0"]))
            elif buf:
                del buf[i]
        data = bytes(buf)
    expect = draw(st.lists(st.sampled_from([b"GET"] * 6 + [b"HEAD", b"POST", b"CONNECT"]),
                           min_size=3, max_size=3)) if kind == "response" else []
    return data, expect


@st.composite
def cuts(draw: Any, data: bytes) -> list[bytes]:
    points = sorted(draw(st.lists(st.integers(0, len(data)), max_size=5)))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


def describe(data: bytes, chunks: list[bytes], findings: list[Finding], **kw: Any) -> str:
    lines = [f"input {data!r}", f"cut as {chunks!r}", f"{kw}"]
    lines += [f"[{f.what}{' vs ' + f.peer if f.peer else ''}] {f.detail}" for f in findings]
    return "\n".join(lines)


def run_case(kind: str, data: bytes, chunks: list[bytes], expect: list[bytes] = (),
             eof: bool = False, **options: Any) -> None:
    findings = check(kind, data, chunks, allowed, expect, eof, **options)
    assert not findings, describe(data, chunks, findings, expect=expect, eof=eof, **options)


# -- properties -----------------------------------------------------------------------


@pytest.mark.slow  # a long hypothesis run
@SETTINGS
@given(data=st.data())
def test_requests_agree_with_twin_and_peers(data: Any) -> None:
    wire, _ = data.draw(stream("request"))
    run_case("request", wire, data.draw(cuts(wire)))


@pytest.mark.slow  # a long hypothesis run
@SETTINGS
@given(data=st.data())
def test_responses_agree_with_twin_and_peers(data: Any) -> None:
    wire, expect = data.draw(stream("response"))
    run_case("response", wire, data.draw(cuts(wire)), expect, eof=data.draw(st.booleans()))


LIMITS = st.fixed_dictionaries({
    "max_line_size": st.sampled_from([16, 17, 30, 64]),
    "max_header_size": st.sampled_from([20, 40, 90, 200]),
    "max_headers": st.sampled_from([0, 1, 2, 5]),
    "strip_hop_by_hop": st.booleans(),
})


@pytest.mark.slow  # a long hypothesis run
@SETTINGS
@given(data=st.data())
def test_twins_agree_under_small_limits(data: Any) -> None:
    kind = data.draw(st.sampled_from(["request", "response"]))
    wire, expect = data.draw(stream(kind))
    run_case(kind, wire, data.draw(cuts(wire)), expect, **data.draw(LIMITS))


@SETTINGS
@given(prefix=st.sampled_from([b"", b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n",
                               b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"]),
       noise=st.binary(max_size=64), data=st.data())
def test_twins_agree_on_noise(prefix: bytes, noise: bytes, data: Any) -> None:
    """Raw bytes behind a plausible prefix: every state of the machine meets garbage."""
    wire = prefix + noise
    kind = "response" if prefix.startswith(b"HTTP") else "request"
    chunks = data.draw(cuts(wire))
    _, findings = compare_twins(kind, chunks, eof=data.draw(st.booleans()))
    assert not findings, describe(wire, chunks, findings)


# -- what the fuzzers found ------------------------------------------------------------
# Every difference a fuzz run (hypothesis or atheris) found stays here, with the peer it
# was found against and the reviewed entry of tests/support/fuzz_allowlist.py that explains it
# (None for a hopwire bug: the case then checks the fix). None of the runs so far found a
# difference between the twins or a crash.


@dataclass(frozen=True)
class Found:
    kind: str
    wire: bytes
    peer: str
    entry: str | None
    expect: tuple[bytes, ...] = ()  # a response answers GETs unless said otherwise
    eof: bool = False


FOUND = [
    Found("request", b"gET / HTTP/1.1\r\nHost: x\r\n\r\n", "httptools", "token-method"),
    Found("request", b"ANNOUNCE /music HTTP/1.0\r\nHost: x\r\n\r\n", "httptools", "token-method"),
    Found("request", b"GET http://a`b.org/ HTTP/1.1\r\nHost: x\r\n\r\n", "httptools",
          "request-target-syntax"),
    Found("request", b"PUT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", "httptools",
          "request-target-syntax"),
    Found("request", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
          b"0\r\n\r\n", "h11", "codings-before-chunked"),
    Found("response", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
          b"identity\r\n\r\nWorld", "h11", "codings-before-chunked", eof=True),
    Found("request", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 05\r\n"
          b"\r\nhello", "httptools", "identical-content-lengths"),
    Found("request", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 05\r\n"
          b"\r\nhello", "h11", "identical-content-lengths"),
    Found("request", b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "h11",
          "empty-lines-before-request-line"),
    Found("response", b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "h11",
          "empty-lines-before-status-line"),
    Found("response", b"HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", "httptools",
          "obs-fold-in-response"),
    Found("response", b"HTTP/1.1 200 OK\r\nX-A:\r\n 2\r\nContent-Length: 5\r\nContent-Length: 5\r\n"
          b"\r\nhello", "httptools", "obs-fold-in-response"),
    Found("request", b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
          "h11", "connect-request-has-no-content"),
    Found("request", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n", "h11",
          "http10-keep-alive"),
    Found("response", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
          b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "h11", "http10-keep-alive"),
    Found("request", b"POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
          b"Content-Length: 4\r\n\r\nbodyPRI * HTTP/2.0\r\n", "httptools", "upgrade-after-body"),
    # llhttp gives a 1xx other than 100-103 a Content-Length body: it desyncs here, hopwire does not.
    Found("response", b"HTTP/1.1 199 X\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\n"
          b"Content-Length: 0\r\n\r\n", "httptools", "interim-responses-are-bodiless"),
    Found("response", b"HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
          "httptools", "interim-responses-are-bodiless"),
    Found("request", b"GET / HTTP/1.1\r\n\r\n", "h11", "host-field-count"),
    Found("request", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "h11", "host-field-count"),
]


def found_id(case: Found) -> str:
    return f"{case.entry or 'bug'}-{case.peer}-{case.kind}-{FOUND.index(case)}"


@pytest.mark.parametrize("case", FOUND, ids=found_id)
def test_found_case_passes_the_harness(case: Found) -> None:
    wire = case.wire
    for chunks in ([wire], [wire[i:i + 1] for i in range(len(wire))],
                   [wire[:len(wire) // 2], wire[len(wire) // 2:]]):
        run_case(case.kind, wire, chunks, list(case.expect), case.eof)


@pytest.mark.parametrize("case", [c for c in FOUND if c.entry], ids=found_id)
def test_found_difference_is_explained_by_its_entry(case: Found) -> None:
    """The peer really differs here, and the entry named (not another) explains it."""
    if {"httptools": httptools, "h11": h11}[case.peer] is None:
        pytest.skip(f"{case.peer} is not installed")
    mine = run_hopwire(parser_py, case.kind, [case.wire], case.expect, case.eof)
    theirs = run_peer(case.peer, case.kind, [case.wire], case.expect, case.eof)
    assert allowed(case.kind, case.wire, mine, theirs) == case.entry


def test_every_allowlist_entry_has_a_found_case() -> None:
    """An entry nothing needs is an entry that could hide the next bug: remove it."""
    assert {entry.id for entry in ALLOWED} == {c.entry for c in FOUND if c.entry}


def corpus_cases() -> list[Any]:
    files = sorted(CORPUS.glob("*")) if CORPUS.is_dir() else []
    return [pytest.param(p, id=p.name) for p in files if p.is_file() and p.suffix != ".md"]


@pytest.mark.parametrize("path", corpus_cases())
def test_fuzz_corpus_seed(path: Path) -> None:
    """The atheris seeds, read the way fuzz/fuzz_parser.py reads an input."""
    import sys
    sys.path.insert(0, str(CORPUS.parent))
    try:
        from fuzz_parser import decode_input
    finally:
        sys.path.remove(str(CORPUS.parent))
    case = decode_input(path.read_bytes())
    run_case(case.kind, case.data, case.chunks, case.expect, case.eof)


def test_peers_are_installed_where_required() -> None:
    """Under HOPWIRE_REQUIRE_PEERS=1 (CI) a missing peer fails instead of shrinking the check."""
    if os.environ.get("HOPWIRE_REQUIRE_PEERS", "") in ("", "0"):
        pytest.skip("HOPWIRE_REQUIRE_PEERS is not set")
    assert httptools is not None and h11 is not None
