"""Resource exhaustion: what a hostile peer can make the parser spend, and the error it gets.

Each attack is run on both twins and checked three ways: the outcome (a clear
ParseError with the limit's reason and status, or the exact events), memory
(the parser holds at most one unfinished line, never a declared length), and
CPU (time grows linearly with the input: a doubling of the attack may not cost
more than about twice, which catches quadratic rescans where an absolute bound
would only catch disasters; the absolute bounds are loose, for a shared 2-core CI).

Measured numbers (the C twin, then the Python twin) are in docs/SECURITY.md.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import hopwire
from hopwire._wire import rules as R

CHUNKED_REQ = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
# Under scripts/sanitize.sh (or valgrind) every allocation is slow and freed memory is held
# in quarantine: resident size says nothing and timings only bound hangs.
SANITIZED = os.environ.get("PYTHONMALLOC") == "malloc" or "asan" in os.environ.get("LD_PRELOAD", "")
# A loose ceiling on any one attack below, per twin: the real cost is 10-100x less.
SECONDS = {"c": 2.0, "py": 10.0} if not SANITIZED else {"c": 60.0, "py": 120.0}


def twin_name(twin: ModuleType) -> str:
    return "c" if twin.__name__.endswith("_c") else "py"


def best_time(fn: Callable[[], Any], rounds: int = 3) -> float:
    """The fastest of a few runs: the least disturbed by a busy machine.

    The cyclic GC is off while timing: its passes over the events kept alive grow with
    the heap and would make any big result look superlinear.
    """
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


def assert_linear(twin: ModuleType, cost: Callable[[int], Callable[[], Any]], n: int) -> float:
    """cost(4n) must stay near 4 * cost(n); returns the time of the larger run.

    Quadratic work makes the ratio 16; 8 leaves linear work room for noise. A shared
    machine can stall any one measurement for milliseconds, so the pair is measured
    again (up to three times) before failing: quadratic work fails every attempt.
    """
    small_run, large_run = cost(n), cost(4 * n)
    for _ in range(3):
        small, large = best_time(small_run), best_time(large_run)
        assert large < SECONDS[twin_name(twin)], f"{large:.3f}s"
        if large < 8 * small + 0.005:
            return large
    raise AssertionError(f"not linear: {n}: {small:.4f}s, {4 * n}: {large:.4f}s (three attempts)")


def resident_bytes() -> int:
    """Resident set size of this process (Linux); memory the C twin mallocs shows here."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def assert_resident_growth(before: int, limit: int) -> None:
    if not SANITIZED:
        assert resident_bytes() - before < limit, f"{(resident_bytes() - before) >> 20} MiB"


def feed_all(parser: Any, pieces: Any) -> list[Any]:
    events: list[Any] = []
    for piece in pieces:
        events += parser.feed(piece)
    return events


def error_of(fn: Callable[[], Any]) -> hopwire.ParseError:
    with pytest.raises(hopwire.ParseError) as info:
        fn()
    return info.value


# -- slow loris: one byte at a time ---------------------------------------------------


def big_head(fields: int = 99, value: int = 600) -> bytes:
    """A head just under the default limits (100 fields, 64 KiB)."""
    lines = b"".join(b"X-H%03d: %s\r\n" % (i, b"v" * value) for i in range(fields))
    return b"GET / HTTP/1.1\r\n" + lines + b"\r\n"


@pytest.mark.slow  # times the work at two sizes
def test_head_trickled_one_byte_at_a_time_is_linear(twin):
    """A head of many ordinary lines in one-byte feeds: cost linear in the number of lines."""
    def cost(n: int) -> Callable[[], Any]:
        head = big_head(fields=n // 600, value=590)
        pieces = [head[i:i + 1] for i in range(len(head))]

        def run() -> None:
            parser = twin.RequestParser(max_headers=1000, max_header_size=1 << 20)
            events = feed_all(parser, pieces)
            assert [type(e).__name__ for e in events] == ["Request", "EndOfMessage"]
        return run
    assert_linear(twin, cost, 10_000)


def test_worst_head_trickled_at_default_limits_is_bounded(twin):
    """Seven field lines of the longest allowed size, one byte a feed: the most a
    slow-loris head can cost under the default limits (docs/SECURITY.md has the numbers)."""
    head = b"GET / HTTP/1.1\r\n" + b"".join(
        b"X-L%d: " % i + b"v" * (R.MAX_LINE_SIZE - 6) + b"\r\n" for i in range(7)) + b"\r\n"
    pieces = [head[i:i + 1] for i in range(len(head))]
    elapsed = best_time(lambda: feed_all(twin.RequestParser(), pieces), rounds=1)
    assert elapsed < SECONDS[twin_name(twin)] / 2, f"{elapsed:.3f}s"


def test_trickle_past_the_limits_fails_at_the_limit(twin):
    """A head that never ends is refused at the byte that crosses the limit, not later."""
    parser = twin.RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\n")
    line = b"X-Flood: " + b"f" * 700 + b"\r\n"  # 93 lines reach 64 KiB, before 100 fields
    fed = 16
    with pytest.raises(hopwire.ParseError) as info:
        for _ in range(1000):
            for i in range(len(line)):
                parser.feed(line[i:i + 1])
                fed += 1
    exc = info.value
    assert (exc.reason, exc.status_hint) == R.HEADER_TOO_LARGE
    # The byte that leaves no room for the CRLF the line still needs.
    assert exc.offset == fed == R.MAX_HEADER_SIZE - 2


def test_endless_line_trickled_fails_at_the_line_limit(twin):
    parser = twin.RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nX: ")
    fed = 19
    with pytest.raises(hopwire.ParseError) as info:
        for _ in range(20_000):
            parser.feed(b"v")
            fed += 1
    exc = info.value
    assert (exc.reason, exc.status_hint) == R.FIELD_LINE_TOO_LONG
    assert exc.offset == fed == 16 + R.MAX_LINE_SIZE


def test_empty_lines_before_a_request_are_not_kept(twin):
    """RFC 9112 §2.2 lets a server skip empty lines; skipping a megabyte of them keeps nothing.

    (They do not count towards the head limit, so only a server's read timeout ends
    such a stream; the parser's memory stays flat meanwhile.)"""
    parser = twin.RequestParser()
    block = b"\r\n" * 4096
    parser.feed(block)
    before = resident_bytes()
    for _ in range(256):  # 2 MiB
        assert parser.feed(block) == []
    assert_resident_growth(before, 1 << 20)
    assert [type(e).__name__ for e in parser.feed(b"GET / HTTP/1.1\r\n\r\n")] == [
        "Request", "EndOfMessage"]


# -- many tiny chunks, and chunk extensions --------------------------------------------


@pytest.mark.slow  # times the work at two sizes
def test_many_tiny_chunks_are_linear_and_one_data_event(twin):
    def cost(n: int) -> Callable[[], Any]:
        raw = CHUNKED_REQ + b"1\r\nx\r\n" * n + b"0\r\n\r\n"

        def run() -> None:
            events = twin.RequestParser().feed(raw)
            assert [type(e).__name__ for e in events] == ["Request", "Data", "EndOfMessage"]
            assert events[1].data == b"x" * n
        return run
    assert_linear(twin, cost, 20_000)


def test_many_tiny_chunks_trickled(twin):
    """Chunk-size lines, data and CRLFs each split over feeds: no state is lost."""
    raw = CHUNKED_REQ + b"1;e=v\r\nx\r\n" * 2_000 + b"0\r\n\r\n"
    pieces = [raw[i:i + 3] for i in range(0, len(raw), 3)]
    events = feed_all(twin.RequestParser(), pieces)
    assert b"".join(e.data for e in events if type(e).__name__ == "Data") == b"x" * 2_000
    assert type(events[-1]).__name__ == "EndOfMessage"


def test_chunk_extensions_cost_is_linear(twin):
    """Extensions up to the line limit per chunk (CVE-2023-39326 class): accepted, and the
    cost stays linear in the bytes received. hopwire does not cap the total of extension
    bytes per message; a server bounds it with its limits on body size and read time."""
    def cost(n: int) -> Callable[[], Any]:
        raw = CHUNKED_REQ + (b"1;e=" + b"x" * 8000 + b"\r\nx\r\n") * n + b"0\r\n\r\n"
        return lambda: twin.RequestParser().feed(raw)
    assert_linear(twin, cost, 250)


# -- trailer flood ----------------------------------------------------------------------


def test_trailer_flood_stops_at_max_headers(twin):
    trailers = b"".join(b"T%d: v\r\n" % i for i in range(10_000))
    raw = CHUNKED_REQ + b"0\r\n" + trailers + b"\r\n"
    exc = error_of(lambda: twin.RequestParser().feed(raw))
    assert (exc.reason, exc.status_hint) == R.TOO_MANY_HEADERS
    assert exc.offset == raw.index(b"T%d: " % R.MAX_HEADERS)
    assert [type(e).__name__ for e in exc.events] == ["Request"]


def test_trailer_flood_stops_at_max_header_size(twin):
    trailers = b"".join(b"T%d: %s\r\n" % (i, b"v" * 2000) for i in range(50))
    raw = CHUNKED_REQ + b"0\r\n" + trailers + b"\r\n"
    exc = error_of(lambda: twin.RequestParser().feed(raw))
    assert (exc.reason, exc.status_hint) == R.HEADER_TOO_LARGE
    assert exc.offset == len(CHUNKED_REQ) + 3 + R.MAX_HEADER_SIZE - 2


def test_trailer_flood_trickled_fails_at_the_same_byte(twin):
    trailers = b"".join(b"T%d: v\r\n" % i for i in range(200))
    raw = CHUNKED_REQ + b"0\r\n" + trailers + b"\r\n"
    whole = error_of(lambda: twin.RequestParser().feed(raw))
    parser = twin.RequestParser()
    trickled = error_of(lambda: feed_all(parser, [raw[i:i + 1] for i in range(len(raw))]))
    assert (trickled.reason, trickled.offset) == (whole.reason, whole.offset)


# -- a declared length the parser must not believe ----------------------------------------


GIB = 1 << 30


@pytest.mark.parametrize("kind", ["request", "response"])
def test_one_gib_declared_is_streamed_not_buffered(twin, kind):
    """Content-Length: 1 GiB. Nothing is allocated for it up front and each feed's bytes
    leave as that feed's Data; 1 GiB passes with memory flat, and a close before the end
    is an INCOMPLETE_MESSAGE."""
    head = (b"POST /upload HTTP/1.1\r\nHost: h\r\n" if kind == "request"
            else b"HTTP/1.1 200 OK\r\n") + b"Content-Length: %d\r\n\r\n" % GIB
    parser = twin.RequestParser() if kind == "request" else twin.ResponseParser()
    piece = memoryview(b"x" * (4 << 20))
    gc.collect()
    rss = resident_bytes()
    tracemalloc.start()
    try:
        (ev,) = parser.feed(head)
        assert ev.content_length == GIB
        assert tracemalloc.get_traced_memory()[0] < (1 << 20)  # no buffer for the 1 GiB
        start = time.perf_counter()
        for _ in range(GIB // len(piece) // 2):
            (data,) = parser.feed(piece)
            assert len(data.data) == len(piece)
            del data
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(piece), peak
    assert_resident_growth(rss, 64 << 20)
    assert elapsed < SECONDS[twin_name(twin)]
    exc = error_of(parser.feed_eof)
    assert (exc.reason, exc.status_hint) == R.INCOMPLETE_MESSAGE
    assert exc.offset == len(head) + GIB // 2


@pytest.mark.parametrize("length, rule", [
    pytest.param(b"9223372036854775807", None, id="2**63-1-accepted"),
    pytest.param(b"9223372036854775808", R.CONTENT_LENGTH_OVERFLOW, id="2**63-413"),
    pytest.param(b"1" + b"0" * 4000, R.CONTENT_LENGTH_OVERFLOW, id="4000-digits-413"),
])
def test_declared_length_limits(twin, length, rule):
    raw = b"POST / HTTP/1.1\r\nContent-Length: " + length + b"\r\n\r\n"
    if rule is None:
        (ev,) = twin.RequestParser().feed(raw)
        assert ev.content_length == int(length)
    else:
        exc = error_of(lambda: twin.RequestParser().feed(raw))
        assert (exc.reason, exc.status_hint) == rule


# -- a pipeline of 10,000 requests in one buffer --------------------------------------------


REQUEST = b"GET /item/%d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"


def pipeline(n: int) -> bytes:
    return b"".join(REQUEST % i for i in range(n))


@pytest.mark.slow  # times the work at two sizes
def test_pipeline_of_10000_requests_is_linear(twin):
    """2,500 then 10,000 requests in one buffer: every one comes out, in linear time."""
    def cost(n: int) -> Callable[[], Any]:
        raw = pipeline(n)

        def run() -> None:
            events = twin.RequestParser().feed(raw)
            assert len(events) == 2 * n and events[-2].target == b"/item/%d" % (n - 1)
        return run
    assert_linear(twin, cost, 2_500)


def test_pipeline_that_ends_in_a_bad_request_keeps_the_good_ones(twin):
    """The server can answer the 9,999 requests before the bad one, then close."""
    raw = pipeline(9_999) + b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"
    exc = error_of(lambda: twin.RequestParser().feed(raw))
    assert (exc.reason, exc.status_hint) == R.SPACE_BEFORE_COLON
    assert len(exc.events) == 2 * 9_999
    assert exc.offset == len(pipeline(9_999)) + 16 + 4


def test_pipeline_of_10000_responses(twin):
    one = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    parser = twin.ResponseParser()
    for _ in range(10_000):
        parser.expect(b"GET")
    start = time.perf_counter()
    events = parser.feed(one * 10_000)
    assert time.perf_counter() - start < SECONDS[twin_name(twin)]
    assert len(events) == 30_000 and events[-2].data == b"ok"


# -- memory stays flat: reference and buffer leaks ------------------------------------------


@pytest.mark.slow  # tracemalloc over many rounds
@pytest.mark.skipif(SANITIZED, reason="resident size is meaningless under a sanitizer")
def test_parsers_dropped_mid_line_free_their_buffers(twin):
    """A parser dropped with an unfinished line (the slow-loris client that goes away) must
    free that line: 10,000 such parsers with 4 KiB each would leak 40 MiB."""
    partial = b"GET / HTTP/1.1\r\nX-Partial: " + b"p" * 4096

    def churn(n: int) -> None:
        for _ in range(n):
            parser = twin.RequestParser()
            parser.feed(partial)
            del parser

    churn(2_000)
    gc.collect()
    before = resident_bytes()
    churn(10_000)
    gc.collect()
    assert_resident_growth(before, 16 << 20)


@pytest.mark.slow  # tracemalloc over many rounds
def test_errors_of_every_kind_leave_no_objects_behind(twin):
    """tracemalloc over many rounds of rejected inputs (each error path, events attached)."""
    from test_smuggling import TestBareLF, TestCLTE, TestChunkExtensions, TestContentLength

    cases = [c.values[0] for cls in (TestCLTE, TestContentLength, TestBareLF, TestChunkExtensions)
             for c in cls.REQUESTS]

    def round_() -> None:
        for case in cases:
            parser = twin.RequestParser(**case.options)
            try:
                parser.feed(case.raw[:len(case.raw) // 2])
                parser.feed(case.raw[len(case.raw) // 2:])
            except hopwire.ParseError as exc:
                del exc

    for _ in range(50):
        round_()
    gc.collect()
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            round_()
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # ~35 parses a round: one object leaked per parse would be 100 * 35 * 32+ bytes.
    assert growth < 16_000, growth
