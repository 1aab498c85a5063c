"""A head that arrives one byte at a time (slow-loris style) parses exactly as a whole one.

Long lines trickled byte by byte exercise the parsers' resumption of an
unfinished line: the events, and the errors with their offsets, must be the
same as when the bytes arrive at once. (How fast that is belongs to benches/.)
"""

from __future__ import annotations

import pytest

import hopwire
from hopwire._wire import rules as R

LONG_VALUE = b"GET / HTTP/1.1\r\nX-Long: " + b"v \t" * 2000 + b"x\r\nHost: h\r\n\r\n"
LONG_TARGET = b"GET /" + b"t" * 6000 + b" HTTP/1.1\r\nHost: h\r\n\r\n"
OVER_LIMIT = b"GET / HTTP/1.1\r\nX-Long: " + b"v" * 9000 + b"\r\n\r\n"
BAD_LATE = b"GET / HTTP/1.1\r\nX-Long: " + b"v" * 5000 + b"\x00\r\n\r\n"


def _feed(twin, data: bytes, step: int):
    parser = twin.RequestParser()
    events = []
    try:
        for i in range(0, len(data), step):
            events += parser.feed(data[i:i + step])
    except hopwire.ParseError as exc:
        return ("error", exc.reason, exc.status_hint, exc.offset)
    return [(type(e).__name__, getattr(e, "headers", None), getattr(e, "target", None)) for e in events]


@pytest.mark.parametrize("data", [LONG_VALUE, LONG_TARGET], ids=["long-value", "long-target"])
def test_trickled_head_parses_as_whole(twin, data):
    whole = _feed(twin, data, len(data))
    assert whole[0][0] == "Request"
    assert _feed(twin, data, 1) == whole
    assert _feed(twin, data, 7) == whole


@pytest.mark.parametrize(
    "data, rule, offset",
    [
        (OVER_LIMIT, R.FIELD_LINE_TOO_LONG, 16 + R.MAX_LINE_SIZE),
        (BAD_LATE, R.INVALID_VALUE, 16 + 8 + 5000),
    ],
    ids=["line-limit", "nul-late-in-value"],
)
def test_trickled_errors_match_whole(twin, data, rule, offset):
    expected = ("error", rule[0], rule[1], offset)
    assert _feed(twin, data, len(data)) == expected
    assert _feed(twin, data, 1) == expected
