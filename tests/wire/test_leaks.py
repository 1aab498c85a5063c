"""Parsing in a loop leaves memory flat: no reference leaked per message or per error.

tracemalloc sees every Python object allocation, so an event, header tuple,
bytes object or exception that the C twin forgets to release shows up as
growth proportional to the number of loops.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest

import hopwire

pytestmark = pytest.mark.slow  # tracemalloc over a thousand rounds per twin

REQUESTS = (
    b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nX-Long: " + b"v" * 300 + b"\r\n\r\n"
    b"POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=\"q\"\r\nabc\r\n0\r\nT: 1\r\n\r\n"
    b"PUT /c HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
)
RESPONSES = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    b"HTTP/1.1 204 No Content\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
)
BAD = b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"


def _round(twin) -> None:
    p = twin.RequestParser(strip_hop_by_hop=True)
    for i in range(0, len(REQUESTS), 7):  # split feeds keep an unfinished line between calls
        p.feed(REQUESTS[i:i + 7])
    r = twin.ResponseParser()
    for method in (b"GET", b"HEAD", b"GET"):
        r.expect(method)
    r.feed(memoryview(RESPONSES))
    r.feed_eof()
    try:
        twin.RequestParser().feed(BAD)
    except hopwire.ParseError:
        pass
    twin.filter_hop_by_hop([(b"connection", b"x"), (b"x", b"1"), (b"y", b"2")])


def _growth(twin, loops: int) -> int:
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(loops):
        _round(twin)
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - before


def test_memory_stays_flat(twin):
    for _ in range(200):  # warm caches, freelists and interned objects
        _round(twin)
    tracemalloc.start()
    try:
        _growth(twin, 100)
        growth = _growth(twin, 800)
    finally:
        tracemalloc.stop()
    # A leak of even one small object per round would add about 800 * 50 bytes.
    assert growth < 8_000, growth
