"""Tests of the HTTP/2 frame codec (hopwire._h2.frames), on both twins.

Every test that takes `frames_twin` runs once per twin: `_frames_py`, and the
Cython `_frames_c` ("c" is skipped when it is not built, fails when
HOPWIRE_REQUIRE_EXTENSIONS=1 and it does not import, and is skipped under
HOPWIRE_NO_EXTENSIONS=1, as support.twins's `twin`). Tests that take `both`
compare the twins with each other.

What a reader makes of some bytes is reduced to an `Outcome` (the events as
tuples of their fields, stream errors included, and the connection error if
any, as (reason, code, offset, frame_type)); every input is also fed cut at
every position (or at random cuts, for long inputs), byte by byte, and as
bytearray and memoryview, with the same outcome.

`hyperframe` (a test oracle only) checks both directions: frames it serializes
read as the same fields here, and frames written here parse in it.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

import hyperframe.frame as hf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hopwire._errors import HopwireError, LocalProtocolError
from hopwire._h2 import _frames_py, _rules as R, frames
from hopwire._h2._errors import H2ConnectionError, H2ProtocolError, H2StreamError
from support.twins import NO_EXTENSIONS, REQUIRE_EXTENSIONS, import_c, load_twin

T = R.FrameType


C_TWIN = "hopwire._h2._frames_c"


def load_frames_twin(name: str) -> ModuleType:
    """The frame codec of twin `name` ("py" or "c"), or skip (or fail) as the environment asks."""
    return load_twin(name, _frames_py, C_TWIN)


@pytest.fixture(scope="module", params=["py", "c"])
def frames_twin(request: pytest.FixtureRequest) -> ModuleType:
    """The frame codec module of one twin: _frames_py or _frames_c."""
    return load_frames_twin(request.param)


@pytest.fixture(scope="module")
def both() -> tuple[ModuleType, ModuleType]:
    """(Python twin, C twin), for the tests that compare them."""
    return load_frames_twin("py"), load_frames_twin("c")


# -- outcomes ------------------------------------------------------------------------

EVENT_NAMES = ("Data", "Headers", "Priority", "RstStream", "Settings", "PushPromise", "Ping",
               "GoAway", "WindowUpdate")
FIELDS = {name: getattr(_frames_py, name)._fields for name in EVENT_NAMES}

NEvent = tuple[Any, ...]


def norm(event: Any) -> NEvent:
    """An event as (type name, *fields); a stream error as ("H2StreamError", reason, code,
    stream_id, offset, frame_type)."""
    if isinstance(event, H2ProtocolError):
        assert type(event) is H2StreamError, event
        return ("H2StreamError", event.reason, event.code, event.stream_id, event.offset,
                event.frame_type)
    name = type(event).__name__
    return (name, *(getattr(event, f) for f in FIELDS[name]))


@dataclass
class Outcome:
    events: list[NEvent]
    error: tuple[str, int, int, int | None] | None  # (reason, code, offset, frame_type)

    @property
    def rule(self) -> tuple[str, int] | None:
        return None if self.error is None else (self.error[0], self.error[1])


def read(twin: ModuleType, chunks: list[Any], **options: Any) -> Outcome:
    reader = twin.FrameReader(**options)
    events: list[Any] = []
    error = None
    try:
        for chunk in chunks:
            got = reader.feed(chunk)
            assert type(got) is list
            events.extend(got)
    except H2ConnectionError as exc:
        assert exc.stream_id is None
        events.extend(exc.events)
        error = (exc.reason, exc.code, exc.offset, exc.frame_type)
        # A dead reader raises the same error again.
        with pytest.raises(H2ConnectionError) as again:
            reader.feed(b"")
        assert again.value is exc
    return Outcome([norm(e) for e in events], error)


def cut_variants(data: bytes, rng: random.Random | None = None) -> list[tuple[str, list[Any]]]:
    """The ways to feed `data` besides whole: cuts, bytewise, other buffer types."""
    out: list[tuple[str, list[Any]]] = [("bytearray", [bytearray(data)]),
                                        ("memoryview", [memoryview(data)])]
    if len(data) <= 400:
        out.append(("bytewise", [data[i:i + 1] for i in range(len(data))]))
        out += [(f"cut at {i}", [data[:i], data[i:]]) for i in range(len(data) + 1)]
    else:
        rng = rng or random.Random(len(data))
        for _ in range(30):
            cuts = sorted(rng.sample(range(len(data) + 1), min(5, len(data) + 1)))
            pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
            out.append((f"cuts {cuts}", pieces))
        step = max(1, len(data) // 300)
        out.append((f"pieces of {step}", [data[i:i + step] for i in range(0, len(data), step)]))
    return out


def read_all_ways(twin: ModuleType, data: bytes, **options: Any) -> Outcome:
    """Read `data` whole and in every cut; all must agree. Returns the outcome."""
    whole = read(twin, [data], **options)
    for name, chunks in cut_variants(data):
        got = read(twin, chunks, **options)
        assert got == whole, f"fed {name}: {got} != {whole}"
    return whole


# -- building frames by hand ---------------------------------------------------------

def frame(ftype: int, flags: int, stream_id: int, payload: bytes = b"",
          length: int | None = None) -> bytes:
    """A frame as raw octets; `length` overrides the length field."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([ftype, flags]) + struct.pack(">I", stream_id) + payload


def settings_payload(*pairs: tuple[int, int]) -> bytes:
    return b"".join(struct.pack(">HI", i, v) for i, v in pairs)


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def ev_data(sid: int, data: bytes, end: bool = False, flow: int | None = None) -> NEvent:
    return ("Data", sid, data, end, len(data) if flow is None else flow)


def ev_headers(sid: int, block: bytes, end: bool = False) -> NEvent:
    return ("Headers", sid, block, end)


def ev_stream_error(rule: tuple[str, int], sid: int, offset: int, ftype: int) -> NEvent:
    return ("H2StreamError", rule[0], rule[1], sid, offset, ftype)


PING = frame(T.PING, 0, 0, b"12345678")
PING_EV = ("Ping", b"12345678", False)


# -- reading: well-formed frames -------------------------------------------------------

VALID_CASES: list[tuple[str, bytes, list[NEvent]]] = [
    ("empty input", b"", []),
    ("data", frame(T.DATA, 0, 1, b"hello"), [ev_data(1, b"hello")]),
    ("data end_stream", frame(T.DATA, 1, 3, b""), [ev_data(3, b"", True)]),
    ("data padded", frame(T.DATA, 0x09, 1, b"\x03abc\0\0\0"), [ev_data(1, b"abc", True, 7)]),
    ("data padding fills the frame", frame(T.DATA, 0x08, 1, b"\x02\0\0"), [ev_data(1, b"", False, 3)]),
    ("data pad length 0", frame(T.DATA, 0x08, 1, b"\x00"), [ev_data(1, b"", False, 1)]),
    ("data unused flags ignored", frame(T.DATA, 0xF7, 1, b"x"), [ev_data(1, b"x", True)]),
    ("reserved bit ignored", frame(T.DATA, 0, 0x80000005, b"x"), [ev_data(5, b"x")]),
    ("headers", frame(T.HEADERS, 0x05, 1, b"\x82\x84"), [ev_headers(1, b"\x82\x84", True)]),
    ("headers padded with priority",
     frame(T.HEADERS, 0x2C, 1, b"\x02" + u32(0x80000003) + b"\x0f" + b"blk" + b"\0\0"),
     [ev_headers(1, b"blk")]),
    ("headers priority only", frame(T.HEADERS, 0x24, 1, u32(3) + b"\x10"), [ev_headers(1, b"")]),
    ("headers + continuations",
     frame(T.HEADERS, 0x01, 1, b"ab") + frame(T.CONTINUATION, 0, 1, b"cd")
     + frame(T.CONTINUATION, 0x04, 1, b"ef"), [ev_headers(1, b"abcdef", True)]),
    ("headers + empty closing continuation",
     frame(T.HEADERS, 0, 1, b"ab") + frame(T.CONTINUATION, 0x04, 1), [ev_headers(1, b"ab")]),
    ("continuation END_STREAM ignored",
     frame(T.HEADERS, 0, 1, b"ab") + frame(T.CONTINUATION, 0x05, 1, b"c"), [ev_headers(1, b"abc")]),
    ("priority", frame(T.PRIORITY, 0, 3, u32(0x80000001) + b"\xff"), [("Priority", 3, 1, 256, True)]),
    ("priority non-exclusive", frame(T.PRIORITY, 0, 3, u32(7) + b"\x00"), [("Priority", 3, 7, 1, False)]),
    ("rst_stream", frame(T.RST_STREAM, 0, 1, u32(8)), [("RstStream", 1, 8)]),
    ("rst_stream unknown code", frame(T.RST_STREAM, 0, 1, u32(0xFFFFFFFF)), [("RstStream", 1, 0xFFFFFFFF)]),
    ("settings empty", frame(T.SETTINGS, 0, 0), [("Settings", [], False)]),
    ("settings", frame(T.SETTINGS, 0, 0, settings_payload((3, 100), (4, 65535), (3, 7))),
     [("Settings", [(3, 100), (4, 65535), (3, 7)], False)]),
    ("settings ack", frame(T.SETTINGS, 1, 0), [("Settings", [], True)]),
    ("settings bounds inclusive",
     frame(T.SETTINGS, 0, 0, settings_payload((2, 0), (2, 1), (4, 2**31 - 1), (5, 16384),
                                              (5, 2**24 - 1), (1, 2**32 - 1), (6, 0))),
     [("Settings", [(2, 0), (2, 1), (4, 2**31 - 1), (5, 16384), (5, 2**24 - 1), (1, 2**32 - 1),
                    (6, 0)], False)]),
    ("settings unknown id any value", frame(T.SETTINGS, 0, 0, settings_payload((0, 9), (0xFFFF, 2**32 - 1))),
     [("Settings", [(0, 9), (0xFFFF, 2**32 - 1)], False)]),
    ("settings 32 entries", frame(T.SETTINGS, 0, 0, settings_payload(*[(3, i) for i in range(32)])),
     [("Settings", [(3, i) for i in range(32)], False)]),
    ("push_promise", frame(T.PUSH_PROMISE, 0x04, 1, u32(0x80000002) + b"blk"),
     [("PushPromise", 1, 2, b"blk")]),
    ("push_promise padded + continuation",
     frame(T.PUSH_PROMISE, 0x08, 1, b"\x01" + u32(4) + b"ab\0") + frame(T.CONTINUATION, 0x04, 1, b"c"),
     [("PushPromise", 1, 4, b"abc")]),
    ("ping", PING, [PING_EV]),
    ("ping ack", frame(T.PING, 1, 0, b"abcdefgh"), [("Ping", b"abcdefgh", True)]),
    ("goaway", frame(T.GOAWAY, 0, 0, u32(0x80000007) + u32(2) + b"debug"), [("GoAway", 7, 2, b"debug")]),
    ("goaway no debug", frame(T.GOAWAY, 0, 0, u32(0) + u32(0)), [("GoAway", 0, 0, b"")]),
    ("window_update stream", frame(T.WINDOW_UPDATE, 0, 1, u32(5)), [("WindowUpdate", 1, 5)]),
    ("window_update connection, R bit", frame(T.WINDOW_UPDATE, 0, 0, u32(0x80000000 | 2**31 - 1)),
     [("WindowUpdate", 0, 2**31 - 1)]),
    ("unknown types discarded",
     frame(0x0A, 0xFF, 0, b"alt") + frame(0xFF, 0, 7, b"x" * 100) + frame(0x10, 0, 0), []),
    ("largest frame", frame(T.DATA, 0, 1, b"z" * 16384), [ev_data(1, b"z" * 16384)]),
    ("a flight", PING + frame(T.WINDOW_UPDATE, 0, 0, u32(1)) + frame(T.DATA, 1, 9, b"x"),
     [PING_EV, ("WindowUpdate", 0, 1), ev_data(9, b"x", True)]),
    # Stream errors are events; reading goes on (§5.4.2).
    ("priority wrong length: stream error", frame(T.PRIORITY, 0, 3, b"\0" * 4) + PING,
     [ev_stream_error(R.WRONG_LENGTH, 3, 0, T.PRIORITY), PING_EV]),
    ("priority too long: stream error", PING + frame(T.PRIORITY, 0, 5, b"\0" * 6) + PING,
     [PING_EV, ev_stream_error(R.WRONG_LENGTH, 5, 17, T.PRIORITY), PING_EV]),
    ("window_update 0 on a stream: stream error", frame(T.WINDOW_UPDATE, 0, 3, u32(0x80000000)) + PING,
     [ev_stream_error(R.ZERO_WINDOW_INCREMENT, 3, 0, T.WINDOW_UPDATE), PING_EV]),
]


@pytest.mark.parametrize("data,expected", [c[1:] for c in VALID_CASES], ids=[c[0] for c in VALID_CASES])
def test_valid_frames(frames_twin: ModuleType, data: bytes, expected: list[NEvent]) -> None:
    outcome = read_all_ways(frames_twin, data)
    assert outcome.error is None
    assert outcome.events == expected


def test_events_equal_across_twins_and_constructors(both: tuple[ModuleType, ModuleType]) -> None:
    py, c = both
    data = b"".join(case[1] for case in VALID_CASES if "error" not in case[0])
    py_events = py.FrameReader().feed(data)
    c_events = c.FrameReader().feed(data)
    assert py_events == c_events and c_events == py_events
    assert [repr(e) for e in py_events] == [repr(e) for e in c_events]
    for name in EVENT_NAMES:
        assert getattr(c, name)._fields == getattr(py, name)._fields
    assert c.Data(1, b"ab") == py.Data(1, b"ab", False, 2)
    assert c.Settings() == py.Settings([], False)
    assert c.Priority(1, 0) == py.Priority(1, 0, 16, False)
    assert c.GoAway(1, 0) == py.GoAway(1, 0, b"")
    assert c.Ping(b"x" * 8) == py.Ping(b"x" * 8, False)
    assert c.Headers(1, b"") != py.Headers(1, b"", True)
    assert c.Data(1, b"") != c.Headers(1, b"")
    for event in (c.WindowUpdate(1, 1), py.WindowUpdate(1, 1)):
        with pytest.raises(TypeError):
            hash(event)


# -- reading: errors -------------------------------------------------------------------

HB = frame(T.HEADERS, 0, 1, b"ab")  # a field block left open on stream 1

ERROR_CASES: list[tuple[str, bytes, tuple[str, int], int, int, list[NEvent]]] = [
    # (name, input, rule, offset, frame type, events before the error)
    ("data too large", frame(T.DATA, 0, 1, b"x" * 16385), R.FRAME_TOO_LARGE, 0, T.DATA, []),
    ("too large: refused on the header alone", PING + frame(T.DATA, 0, 1, length=2**24 - 1),
     R.FRAME_TOO_LARGE, 17, T.DATA, [PING_EV]),
    ("unknown type too large", frame(0x42, 0, 0, length=16385), R.FRAME_TOO_LARGE, 0, 0x42, []),
    ("data on stream 0", frame(T.DATA, 0, 0, b"x"), R.STREAM_ID_REQUIRED, 0, T.DATA, []),
    ("data on stream 0 with R bit", frame(T.DATA, 0, 0x80000000, b"x"), R.STREAM_ID_REQUIRED, 0, T.DATA, []),
    ("headers on stream 0", frame(T.HEADERS, 4, 0, b"x"), R.STREAM_ID_REQUIRED, 0, T.HEADERS, []),
    ("priority on stream 0", frame(T.PRIORITY, 0, 0, b"\0" * 5), R.STREAM_ID_REQUIRED, 0, T.PRIORITY, []),
    ("priority on stream 0, wrong length", frame(T.PRIORITY, 0, 0, b"\0" * 4), R.STREAM_ID_REQUIRED, 0,
     T.PRIORITY, []),
    ("rst_stream on stream 0", frame(T.RST_STREAM, 0, 0, u32(0)), R.STREAM_ID_REQUIRED, 0, T.RST_STREAM, []),
    ("push_promise on stream 0", frame(T.PUSH_PROMISE, 4, 0, u32(2)), R.STREAM_ID_REQUIRED, 0,
     T.PUSH_PROMISE, []),
    ("continuation on stream 0", frame(T.CONTINUATION, 4, 0), R.STREAM_ID_REQUIRED, 0, T.CONTINUATION, []),
    ("settings on a stream", frame(T.SETTINGS, 0, 1), R.STREAM_ID_FORBIDDEN, 0, T.SETTINGS, []),
    ("settings ack on a stream", frame(T.SETTINGS, 1, 1), R.STREAM_ID_FORBIDDEN, 0, T.SETTINGS, []),
    ("ping on a stream", frame(T.PING, 0, 1, b"12345678"), R.STREAM_ID_FORBIDDEN, 0, T.PING, []),
    ("goaway on a stream", frame(T.GOAWAY, 0, 3, b"\0" * 8), R.STREAM_ID_FORBIDDEN, 0, T.GOAWAY, []),
    ("rst_stream short", frame(T.RST_STREAM, 0, 1, b"\0" * 3), R.WRONG_LENGTH, 0, T.RST_STREAM, []),
    ("rst_stream long", frame(T.RST_STREAM, 0, 1, b"\0" * 5), R.WRONG_LENGTH, 0, T.RST_STREAM, []),
    ("ping short", frame(T.PING, 0, 0, b"\0" * 7), R.WRONG_LENGTH, 0, T.PING, []),
    ("ping ack long", frame(T.PING, 1, 0, b"\0" * 9), R.WRONG_LENGTH, 0, T.PING, []),
    ("window_update short", frame(T.WINDOW_UPDATE, 0, 1, b"\0" * 3), R.WRONG_LENGTH, 0, T.WINDOW_UPDATE, []),
    ("window_update long", frame(T.WINDOW_UPDATE, 0, 0, b"\0\0\0\1\0"), R.WRONG_LENGTH, 0,
     T.WINDOW_UPDATE, []),
    ("goaway short", frame(T.GOAWAY, 0, 0, b"\0" * 7), R.TOO_SHORT, 0, T.GOAWAY, []),
    ("data padded, no pad length", frame(T.DATA, 8, 1), R.TOO_SHORT, 0, T.DATA, []),
    ("headers padded, no pad length", frame(T.HEADERS, 0x0C, 1), R.TOO_SHORT, 0, T.HEADERS, []),
    ("headers priority fields cut", frame(T.HEADERS, 0x24, 1, b"\0" * 4), R.TOO_SHORT, 0, T.HEADERS, []),
    ("headers padded priority cut", frame(T.HEADERS, 0x2C, 1, b"\0" * 5), R.TOO_SHORT, 0, T.HEADERS, []),
    ("push_promise id cut", frame(T.PUSH_PROMISE, 4, 1, b"\0" * 3), R.TOO_SHORT, 0, T.PUSH_PROMISE, []),
    ("push_promise padded id cut", frame(T.PUSH_PROMISE, 0x0C, 1, b"\0" * 4), R.TOO_SHORT, 0,
     T.PUSH_PROMISE, []),
    ("data padding = payload", frame(T.DATA, 8, 1, b"\x03ab"), R.PADDING_TOO_LONG, 0, T.DATA, []),
    ("data padding > payload", PING + frame(T.DATA, 8, 1, b"\xff"), R.PADDING_TOO_LONG, 17, T.DATA,
     [PING_EV]),
    ("headers padding too long", frame(T.HEADERS, 0x0C, 1, b"\x03ab"), R.PADDING_TOO_LONG, 0, T.HEADERS, []),
    ("headers padding eats priority", frame(T.HEADERS, 0x2C, 1, b"\x01" + b"\0" * 5), R.PADDING_TOO_LONG,
     0, T.HEADERS, []),
    ("push_promise padding eats id", frame(T.PUSH_PROMISE, 0x0C, 1, b"\x01" + u32(2)), R.PADDING_TOO_LONG,
     0, T.PUSH_PROMISE, []),
    ("settings ack with payload", frame(T.SETTINGS, 1, 0, settings_payload((3, 1))),
     R.SETTINGS_ACK_WITH_PAYLOAD, 0, T.SETTINGS, []),
    ("settings length 5", frame(T.SETTINGS, 0, 0, b"\0" * 5), R.SETTINGS_LENGTH, 0, T.SETTINGS, []),
    ("settings length 13", frame(T.SETTINGS, 0, 0, b"\0" * 13), R.SETTINGS_LENGTH, 0, T.SETTINGS, []),
    ("enable_push 2", frame(T.SETTINGS, 0, 0, settings_payload((3, 1), (2, 2))), R.INVALID_ENABLE_PUSH,
     0, T.SETTINGS, []),
    ("initial window 2^31", frame(T.SETTINGS, 0, 0, settings_payload((4, 2**31))),
     R.INVALID_INITIAL_WINDOW_SIZE, 0, T.SETTINGS, []),
    ("max frame size 2^14-1", frame(T.SETTINGS, 0, 0, settings_payload((5, 16383))),
     R.INVALID_MAX_FRAME_SIZE, 0, T.SETTINGS, []),
    ("max frame size 2^24", frame(T.SETTINGS, 0, 0, settings_payload((5, 2**24))),
     R.INVALID_MAX_FRAME_SIZE, 0, T.SETTINGS, []),
    ("first bad setting wins", frame(T.SETTINGS, 0, 0, settings_payload((5, 0), (2, 9))),
     R.INVALID_MAX_FRAME_SIZE, 0, T.SETTINGS, []),
    ("33 settings", frame(T.SETTINGS, 0, 0, settings_payload(*[(3, 1)] * 33)), R.TOO_MANY_SETTINGS, 0,
     T.SETTINGS, []),
    ("window_update 0 on the connection", frame(T.WINDOW_UPDATE, 0, 0, u32(0)), R.ZERO_WINDOW_INCREMENT,
     0, T.WINDOW_UPDATE, []),
    ("block interrupted by data", HB + frame(T.DATA, 0, 1, b"x"), R.CONTINUATION_EXPECTED, 11, T.DATA, []),
    ("block interrupted by ping", HB + PING, R.CONTINUATION_EXPECTED, 11, T.PING, []),
    ("block interrupted by priority", HB + frame(T.PRIORITY, 0, 1, b"\0" * 5), R.CONTINUATION_EXPECTED,
     11, T.PRIORITY, []),
    ("block interrupted by an unknown type (§5.5)", HB + frame(0x0A, 0, 0), R.CONTINUATION_EXPECTED, 11,
     0x0A, []),
    ("block continued on another stream", HB + frame(T.CONTINUATION, 4, 3, b"c"),
     R.CONTINUATION_EXPECTED, 11, T.CONTINUATION, []),
    ("block continued on stream 0", HB + frame(T.CONTINUATION, 4, 0), R.CONTINUATION_EXPECTED, 11,
     T.CONTINUATION, []),
    ("block interrupted by headers", HB + frame(T.HEADERS, 4, 1, b"c"), R.CONTINUATION_EXPECTED, 11,
     T.HEADERS, []),
    ("push_promise block interrupted", frame(T.PUSH_PROMISE, 0, 1, u32(2)) + PING,
     R.CONTINUATION_EXPECTED, 13, T.PING, []),
    ("continuation without a block", frame(T.CONTINUATION, 4, 1, b"x"), R.CONTINUATION_UNEXPECTED, 0,
     T.CONTINUATION, []),
    ("continuation after a finished block", frame(T.HEADERS, 4, 1, b"a") + frame(T.CONTINUATION, 4, 1),
     R.CONTINUATION_UNEXPECTED, 10, T.CONTINUATION, [ev_headers(1, b"a")]),
    ("too large in a block", HB + frame(T.CONTINUATION, 0, 1, length=16385), R.FRAME_TOO_LARGE, 11,
     T.CONTINUATION, []),
]


@pytest.mark.parametrize("data,rule,offset,ftype,before", [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_connection_errors(frames_twin: ModuleType, data: bytes, rule: tuple[str, int], offset: int,
                           ftype: int, before: list[NEvent]) -> None:
    outcome = read_all_ways(frames_twin, data)
    assert outcome.error == (rule[0], rule[1], offset, ftype)
    assert outcome.events == before


def test_error_attributes(frames_twin: ModuleType) -> None:
    reader = frames_twin.FrameReader()
    assert reader.feed(PING[:5]) == []
    with pytest.raises(H2ConnectionError) as info:
        reader.feed(PING[5:] + frame(T.DATA, 0, 0, b"x"))
    exc = info.value
    assert isinstance(exc, H2ProtocolError) and isinstance(exc, HopwireError)
    assert isinstance(exc, ValueError)
    assert type(exc.code) is R.ErrorCode and exc.code == R.ErrorCode.PROTOCOL_ERROR
    assert (exc.reason, exc.stream_id, exc.offset, exc.frame_type) == (
        R.STREAM_ID_REQUIRED[0], None, 17, T.DATA)
    assert [norm(e) for e in exc.events] == [PING_EV]
    assert "at byte 17" in str(exc)
    with pytest.raises(H2ConnectionError) as again:
        reader.feed(PING)
    assert again.value is exc


def test_stream_error_attributes(frames_twin: ModuleType) -> None:
    [error, ping] = frames_twin.FrameReader().feed(frame(T.WINDOW_UPDATE, 0, 7, u32(0)) + PING)
    assert type(error) is H2StreamError
    assert (error.code, error.stream_id, error.offset) == (R.ErrorCode.PROTOCOL_ERROR, 7, 0)
    assert "on stream 7" in str(error)
    assert norm(ping) == PING_EV


def test_offsets_count_from_the_first_feed(frames_twin: ModuleType) -> None:
    reader = frames_twin.FrameReader()
    for _ in range(3):
        assert len(reader.feed(PING)) == 1
    with pytest.raises(H2ConnectionError) as info:
        reader.feed(PING[:3] + PING[3:] + frame(T.PING, 0, 0, b""))
    assert info.value.offset == 4 * 17


# -- field blocks: CONTINUATION floods and large blocks ---------------------------------

def test_continuation_count_bounded(frames_twin: ModuleType) -> None:
    ok = HB + frame(T.CONTINUATION, 0, 1) * 15 + frame(T.CONTINUATION, 4, 1, b"z")
    assert read_all_ways(frames_twin, ok).events == [ev_headers(1, b"abz")]
    flood = HB + frame(T.CONTINUATION, 0, 1) * 16 + frame(T.CONTINUATION, 4, 1)
    outcome = read_all_ways(frames_twin, flood)
    assert outcome.error == (*R.TOO_MANY_CONTINUATIONS, 11 + 16 * 9, T.CONTINUATION)
    assert outcome.rule == (R.TOO_MANY_CONTINUATIONS[0], R.ErrorCode.ENHANCE_YOUR_CALM)


def test_continuation_flood_stops_early(frames_twin: ModuleType) -> None:
    """An endless run of empty CONTINUATION frames is refused as soon as it passes the bound."""
    reader = frames_twin.FrameReader(max_continuation_frames=4)
    reader.feed(HB)
    empty = frame(T.CONTINUATION, 0, 1)
    with pytest.raises(H2ConnectionError) as info:
        for _ in range(1000):
            reader.feed(empty * 100)
    assert info.value.reason == R.TOO_MANY_CONTINUATIONS[0]
    assert info.value.offset == 11 + 4 * 9
    assert reader.buffered < 1000


def test_header_block_size_bounded(frames_twin: ModuleType) -> None:
    piece = b"h" * 16384
    exact = (frame(T.HEADERS, 0, 1, piece) + frame(T.CONTINUATION, 0, 1, piece) * 2
             + frame(T.CONTINUATION, 4, 1, piece))
    outcome = read_all_ways(frames_twin, exact)
    assert outcome.events == [ev_headers(1, piece * 4)] and outcome.error is None
    assert R.MAX_HEADER_BLOCK_SIZE == 4 * 16384
    over = (frame(T.HEADERS, 0, 1, piece) + frame(T.CONTINUATION, 0, 1, piece) * 3
            + frame(T.CONTINUATION, 4, 1, b"!"))
    outcome = read_all_ways(frames_twin, over)
    assert outcome.error == (*R.HEADER_BLOCK_TOO_LARGE, 4 * (9 + 16384), T.CONTINUATION)
    assert outcome.rule == (R.HEADER_BLOCK_TOO_LARGE[0], R.ErrorCode.ENHANCE_YOUR_CALM)


def test_single_frame_block_bounded(frames_twin: ModuleType) -> None:
    small = {"max_header_block_size": 10}
    assert read_all_ways(frames_twin, frame(T.HEADERS, 4, 1, b"x" * 10), **small).error is None
    # Padding does not count: only the block.
    assert read_all_ways(frames_twin, frame(T.HEADERS, 0x0C, 1, b"\x05" + b"x" * 10 + b"\0" * 5),
                         **small).error is None
    for data, ftype in [(frame(T.HEADERS, 4, 1, b"x" * 11), T.HEADERS),
                        (frame(T.PUSH_PROMISE, 4, 1, u32(2) + b"x" * 11), T.PUSH_PROMISE),
                        (frame(T.HEADERS, 0, 1, b"x" * 11) + frame(T.CONTINUATION, 4, 1), T.HEADERS)]:
        assert read_all_ways(frames_twin, data, **small).error == (*R.HEADER_BLOCK_TOO_LARGE, 0, ftype)


def test_block_state_resets_between_blocks(frames_twin: ModuleType) -> None:
    reader = frames_twin.FrameReader(max_continuation_frames=1, max_header_block_size=4)
    block = frame(T.HEADERS, 0, 1, b"ab") + frame(T.CONTINUATION, 4, 1, b"cd")
    for _ in range(3):
        assert not reader.in_field_block
        assert [norm(e) for e in reader.feed(block)] == [ev_headers(1, b"abcd")]
    reader.feed(frame(T.PUSH_PROMISE, 0, 3, u32(2)))
    assert reader.in_field_block
    assert [norm(e) for e in reader.feed(frame(T.CONTINUATION, 4, 3, b"x"))] == [("PushPromise", 3, 2, b"x")]


# -- reader options ------------------------------------------------------------------

def test_max_frame_size(frames_twin: ModuleType) -> None:
    big = frame(T.DATA, 0, 1, b"x" * 20000)
    assert read(frames_twin, [big]).rule == R.FRAME_TOO_LARGE
    assert read(frames_twin, [big], max_frame_size=20000).events == [ev_data(1, b"x" * 20000)]
    reader = frames_twin.FrameReader()
    assert reader.max_frame_size == 16384
    reader.max_frame_size = 2**24 - 1  # our larger SETTINGS_MAX_FRAME_SIZE was acknowledged
    assert [norm(e) for e in reader.feed(big)] == [ev_data(1, b"x" * 20000)]
    for bad in (16383, 2**24, 0, -1):
        with pytest.raises(ValueError):
            reader.max_frame_size = bad
        with pytest.raises(ValueError):
            frames_twin.FrameReader(bad)
    assert reader.max_frame_size == 2**24 - 1
    with pytest.raises(ValueError):
        frames_twin.FrameReader(max_settings_entries=-1)


def test_options_and_defaults(frames_twin: ModuleType) -> None:
    reader = frames_twin.FrameReader()
    assert (reader.max_header_block_size, reader.max_continuation_frames,
            reader.max_settings_entries) == (R.MAX_HEADER_BLOCK_SIZE, R.MAX_CONTINUATION_FRAMES,
                                             R.MAX_SETTINGS_ENTRIES)
    few = frame(T.SETTINGS, 0, 0, settings_payload((3, 1), (3, 2)))
    assert read(frames_twin, [few], max_settings_entries=1).rule == R.TOO_MANY_SETTINGS
    assert read(frames_twin, [few], max_settings_entries=2).error is None


def test_large_frame_in_small_pieces(frames_twin: ModuleType) -> None:
    """A 4 MiB frame fed 1 KiB at a time: every octet kept once, no quadratic copying."""
    payload = bytes(range(256)) * (4 * 4096)
    data = frame(T.DATA, 1, 1, payload) + PING
    reader = frames_twin.FrameReader(2**24 - 1)
    events = []
    for i in range(0, len(data), 1024):
        events += reader.feed(data[i:i + 1024])
        assert reader.buffered <= len(data)
    assert [norm(e) for e in events] == [ev_data(1, payload, True), PING_EV]
    assert reader.buffered == 0


def test_buffered_and_in_field_block(frames_twin: ModuleType) -> None:
    reader = frames_twin.FrameReader()
    assert reader.buffered == 0 and not reader.in_field_block
    reader.feed(HB[:4])
    assert reader.buffered == 4
    reader.feed(HB[4:])
    assert reader.buffered == 0 and reader.in_field_block
    reader.feed(frame(T.CONTINUATION, 4, 1))
    assert not reader.in_field_block


def test_feed_accepts_buffers_only(frames_twin: ModuleType) -> None:
    for bad in ("text", 5, None):
        with pytest.raises(TypeError):
            frames_twin.FrameReader().feed(bad)
    strided = memoryview(b"".join(bytes([b, 0]) for b in PING))[::2]
    assert [norm(e) for e in frames_twin.FrameReader().feed(strided)] == [PING_EV]


# -- the writer --------------------------------------------------------------------

def write_cases(m: ModuleType) -> list[tuple[str, bytes, list[NEvent]]]:
    """(name, what the writer makes, the events it must read as)."""
    return [
        ("data", m.data(1, b"hello"), [ev_data(1, b"hello")]),
        ("data end_stream", m.data(2**31 - 1, b"", True), [ev_data(2**31 - 1, b"", True)]),
        ("data bytearray", m.data(3, bytearray(b"ab"), end_stream=True), [ev_data(3, b"ab", True)]),
        ("data memoryview", m.data(3, memoryview(b"abcd")[1:3]), [ev_data(3, b"bc")]),
        ("headers", m.headers(1, b"\x82\x86", True), [ev_headers(1, b"\x82\x86", True)]),
        ("headers empty", m.headers(5, b""), [ev_headers(5, b"")]),
        ("headers split", m.headers(1, b"q" * 40000, True), [ev_headers(1, b"q" * 40000, True)]),
        ("headers split, larger frames", m.headers(1, b"q" * 40000, max_frame_size=20000),
         [ev_headers(1, b"q" * 40000)]),
        ("settings", m.settings([(R.SettingId.ENABLE_PUSH, 0), (4, 2**31 - 1), (0xFFFF, 2**32 - 1)]),
         [("Settings", [(2, 0), (4, 2**31 - 1), (0xFFFF, 2**32 - 1)], False)]),
        ("settings empty", m.settings(), [("Settings", [], False)]),
        ("settings generator", m.settings((i, 1) for i in (3, 6)), [("Settings", [(3, 1), (6, 1)], False)]),
        ("settings ack", m.settings_ack(), [("Settings", [], True)]),
        ("ping", m.ping(b"\0" * 8), [("Ping", b"\0" * 8, False)]),
        ("ping ack", m.ping(bytearray(b"abcdefgh"), ack=True), [("Ping", b"abcdefgh", True)]),
        ("goaway", m.goaway(7, R.ErrorCode.ENHANCE_YOUR_CALM, b"calm"), [("GoAway", 7, 11, b"calm")]),
        ("goaway defaults", m.goaway(0, 0), [("GoAway", 0, 0, b"")]),
        ("rst_stream", m.rst_stream(9, R.ErrorCode.CANCEL), [("RstStream", 9, 8)]),
        ("rst_stream unknown code", m.rst_stream(9, 2**32 - 1), [("RstStream", 9, 2**32 - 1)]),
        ("window_update", m.window_update(0, 2**31 - 1), [("WindowUpdate", 0, 2**31 - 1)]),
        ("window_update stream", m.window_update(3, 1), [("WindowUpdate", 3, 1)]),
    ]


WRITE_CASE_NAMES = [name for name, _, _ in write_cases(_frames_py)]


@pytest.mark.parametrize("index", range(len(WRITE_CASE_NAMES)), ids=WRITE_CASE_NAMES)
def test_writer_round_trip(frames_twin: ModuleType, index: int) -> None:
    _, wire, expected = write_cases(frames_twin)[index]
    assert type(wire) is bytes
    assert read_all_ways(frames_twin, wire, max_frame_size=2**24 - 1).events == expected


def test_writers_agree(both: tuple[ModuleType, ModuleType]) -> None:
    py, c = both
    assert [w for _, w, _ in write_cases(py)] == [w for _, w, _ in write_cases(c)]
    assert py.client_preface() == c.client_preface()
    assert py.client_preface([], 65535) == c.client_preface([], 65535)


def hf_parse(wire: bytes) -> list[hf.Frame]:
    """Frames as hyperframe reads them (strict: unknown flags are an error there)."""
    out = []
    while wire:
        f, length = hf.Frame.parse_frame_header(memoryview(wire[:9]), strict=True)
        f.parse_body(memoryview(wire[9:9 + length]))
        out.append(f)
        wire = wire[9 + length:]
    return out


def test_writer_frames_parse_in_hyperframe(frames_twin: ModuleType) -> None:
    m = frames_twin
    [f] = hf_parse(m.data(5, b"abc", True))
    assert (type(f), f.stream_id, f.data, f.flags) == (hf.DataFrame, 5, b"abc", {"END_STREAM"})
    frames_ = hf_parse(m.headers(1, b"b" * 40000, True))
    assert [type(f) for f in frames_] == [hf.HeadersFrame, hf.ContinuationFrame, hf.ContinuationFrame]
    assert [f.flags for f in frames_] == [{"END_STREAM"}, set(), {"END_HEADERS"}]
    assert [len(f.data) for f in frames_] == [16384, 16384, 40000 - 2 * 16384]
    assert all(f.stream_id == 1 for f in frames_)
    [f] = hf_parse(m.headers(3, b"b" * 16384))
    assert (f.flags, len(f.data)) == ({"END_HEADERS"}, 16384)
    assert len(hf_parse(m.headers(3, b"b" * 16385))) == 2
    [f] = hf_parse(m.settings([(1, 4096), (2, 0), (3, 100), (4, 65535), (5, 16384), (6, 1000)]))
    assert f.settings == {1: 4096, 2: 0, 3: 100, 4: 65535, 5: 16384, 6: 1000}
    [f] = hf_parse(m.settings_ack())
    assert (type(f), f.flags, f.settings) == (hf.SettingsFrame, {"ACK"}, {})
    [f] = hf_parse(m.ping(b"12345678", ack=True))
    assert (f.opaque_data, f.flags) == (b"12345678", {"ACK"})
    [f] = hf_parse(m.goaway(2**31 - 1, 13, b"dbg"))
    assert (f.last_stream_id, f.error_code, f.additional_data) == (2**31 - 1, 13, b"dbg")
    [f] = hf_parse(m.rst_stream(3, 8))
    assert (type(f), f.stream_id, f.error_code) == (hf.RstStreamFrame, 3, 8)
    [f] = hf_parse(m.window_update(0, 1000))
    assert (f.stream_id, f.window_increment) == (0, 1000)


def test_client_preface(frames_twin: ModuleType) -> None:
    wire = frames_twin.client_preface()
    assert wire.startswith(R.PREFACE) and len(R.PREFACE) == 24
    events = [norm(e) for e in frames_twin.FrameReader().feed(wire[24:])]
    assert events == [("Settings", [(2, 0), (4, R.CLIENT_INITIAL_WINDOW_SIZE)], False),
                      ("WindowUpdate", 0, R.CLIENT_CONNECTION_WINDOW - 65535)]
    bare = frames_twin.client_preface([], 65535)
    assert bare == R.PREFACE + frame(T.SETTINGS, 0, 0)
    with pytest.raises(LocalProtocolError) as info:
        frames_twin.client_preface([], 65534)
    assert info.value.reason == R.INVALID_INCREMENT


def refusal(call: Callable[[], Any]) -> tuple[str, str] | tuple[str]:
    try:
        call()
    except LocalProtocolError as exc:
        return (exc.reason, exc.detail)
    except (TypeError, ValueError) as exc:
        return (type(exc).__name__,)
    raise AssertionError("not refused")


REFUSALS: list[tuple[str, Callable[[ModuleType], Any], str | None]] = [
    ("data stream 0", lambda m: m.data(0, b""), R.INVALID_STREAM_ID),
    ("data stream 2^31", lambda m: m.data(2**31, b""), R.INVALID_STREAM_ID),
    ("data stream -1", lambda m: m.data(-1, b""), R.INVALID_STREAM_ID),
    ("data stream float", lambda m: m.data(1.0, b""), R.INVALID_STREAM_ID),
    ("data stream str", lambda m: m.data("1", b""), R.INVALID_STREAM_ID),
    ("data too large", lambda m: m.data(1, bytes(2**24)), R.PAYLOAD_TOO_LARGE),
    ("data str payload", lambda m: m.data(1, "text"), None),
    ("data int payload", lambda m: m.data(1, 5), None),
    ("headers stream 0", lambda m: m.headers(0, b""), R.INVALID_STREAM_ID),
    ("headers frame size small", lambda m: m.headers(1, b"", max_frame_size=16383), R.INVALID_FRAME_SIZE),
    ("headers frame size large", lambda m: m.headers(1, b"", max_frame_size=2**24), R.INVALID_FRAME_SIZE),
    ("headers str block", lambda m: m.headers(1, "x"), None),
    ("settings id", lambda m: m.settings([(0x10000, 0)]), R.INVALID_SETTING),
    ("settings negative value", lambda m: m.settings([(3, -1)]), R.INVALID_SETTING),
    ("settings value 2^32", lambda m: m.settings([(3, 2**32)]), R.INVALID_SETTING),
    ("settings enable_push 2", lambda m: m.settings([(2, 2)]), R.INVALID_SETTING),
    ("settings window 2^31", lambda m: m.settings([(4, 2**31)]), R.INVALID_SETTING),
    ("settings frame size", lambda m: m.settings([(5, 100)]), R.INVALID_SETTING),
    ("settings not pairs", lambda m: m.settings([(1, 2, 3)]), None),
    ("ping 7", lambda m: m.ping(b"1234567"), R.INVALID_PING_DATA),
    ("ping 9", lambda m: m.ping(b"123456789"), R.INVALID_PING_DATA),
    ("ping str", lambda m: m.ping("12345678"), None),
    ("goaway last stream", lambda m: m.goaway(2**31, 0), R.INVALID_STREAM_ID),
    ("goaway code", lambda m: m.goaway(0, 2**32), R.INVALID_ERROR_CODE),
    ("goaway negative code", lambda m: m.goaway(0, -1), R.INVALID_ERROR_CODE),
    ("rst_stream stream 0", lambda m: m.rst_stream(0, 0), R.INVALID_STREAM_ID),
    ("rst_stream code", lambda m: m.rst_stream(1, None), R.INVALID_ERROR_CODE),
    ("window_update increment 0", lambda m: m.window_update(1, 0), R.INVALID_INCREMENT),
    ("window_update increment 2^31", lambda m: m.window_update(0, 2**31), R.INVALID_INCREMENT),
    ("window_update stream", lambda m: m.window_update(2**31, 1), R.INVALID_STREAM_ID),
]


@pytest.mark.parametrize("call,reason", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_writer_refusals(frames_twin: ModuleType, call: Callable[[ModuleType], Any],
                         reason: str | None) -> None:
    got = refusal(lambda: call(frames_twin))
    if reason is None:
        assert got[0] in ("TypeError", "ValueError")
    else:
        assert got[0] == reason


@pytest.mark.parametrize("call", [c[1] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_writer_refusals_agree(both: tuple[ModuleType, ModuleType], call: Callable[[ModuleType], Any]) -> None:
    py, c = both
    assert refusal(lambda: call(py)) == refusal(lambda: call(c))


# -- hyperframe as the oracle, on random frame sequences -----------------------------

stream_ids = st.integers(1, 2**31 - 1)
any_ids = st.integers(0, 2**31 - 1)
payloads = st.binary(max_size=300)
pads = st.one_of(st.none(), st.integers(0, 255))
codes = st.integers(0, 2**32 - 1)


def _padded(f: Any, pad: int | None) -> None:
    if pad is not None:
        f.flags.add("PADDED")
        f.pad_length = pad


@st.composite
def hf_units(draw: Any) -> tuple[list[hf.Frame], list[NEvent]]:
    """Frames hyperframe serializes, as one unit (a field block may span several), and
    the events expected of them, taken from hyperframe's fields."""
    kind = draw(st.sampled_from(["data", "headers", "priority", "rst", "settings", "push", "ping",
                                 "goaway", "window", "unknown"]))
    if kind == "data":
        f = hf.DataFrame(draw(stream_ids), draw(payloads))
        _padded(f, draw(pads))
        if draw(st.booleans()):
            f.flags.add("END_STREAM")
        return [f], [ev_data(f.stream_id, f.data, "END_STREAM" in f.flags, f.flow_controlled_length)]
    if kind in ("headers", "push"):
        sid = draw(stream_ids)
        block = draw(payloads)
        cuts = sorted(draw(st.lists(st.integers(0, len(block)), max_size=4)))
        fragments = [block[a:b] for a, b in zip([0, *cuts], [*cuts, len(block)])]
        first: Any
        if kind == "headers":
            first = hf.HeadersFrame(sid, fragments[0])
            if draw(st.booleans()):
                first.flags.add("PRIORITY")
                first.depends_on = draw(any_ids)
                first.stream_weight = draw(st.integers(0, 255))
                first.exclusive = draw(st.booleans())
            end_stream = draw(st.booleans())
            if end_stream:
                first.flags.add("END_STREAM")
            expected = ev_headers(sid, block, end_stream)
        else:
            first = hf.PushPromiseFrame(sid, draw(stream_ids), fragments[0])
            expected = ("PushPromise", sid, first.promised_stream_id, block)
        _padded(first, draw(pads))
        units = [first] + [hf.ContinuationFrame(sid, frag) for frag in fragments[1:]]
        units[-1].flags.add("END_HEADERS")
        return units, [expected]
    if kind == "priority":
        f = hf.PriorityFrame(draw(stream_ids), draw(any_ids), draw(st.integers(0, 255)), draw(st.booleans()))
        return [f], [("Priority", f.stream_id, f.depends_on, f.stream_weight + 1, f.exclusive)]
    if kind == "rst":
        f = hf.RstStreamFrame(draw(stream_ids), draw(codes))
        return [f], [("RstStream", f.stream_id, f.error_code)]
    if kind == "settings":
        if draw(st.booleans()):
            f = hf.SettingsFrame(0)
            f.flags.add("ACK")
            return [f], [("Settings", [], True)]
        values = {1: codes, 2: st.integers(0, 1), 3: codes, 4: st.integers(0, 2**31 - 1),
                  5: st.integers(2**14, 2**24 - 1), 6: codes, 0x2A: codes}
        chosen = draw(st.lists(st.sampled_from(sorted(values)), unique=True, max_size=7))
        pairs = {i: draw(values[i]) for i in chosen}
        f = hf.SettingsFrame(0, pairs)
        return [f], [("Settings", list(pairs.items()), False)]
    if kind == "ping":
        f = hf.PingFrame(0, draw(st.binary(min_size=8, max_size=8)))
        if draw(st.booleans()):
            f.flags.add("ACK")
        return [f], [("Ping", f.opaque_data, "ACK" in f.flags)]
    if kind == "goaway":
        f = hf.GoAwayFrame(0, draw(any_ids), draw(codes), draw(payloads))
        return [f], [("GoAway", f.last_stream_id, f.error_code, f.additional_data)]
    if kind == "window":
        f = hf.WindowUpdateFrame(draw(any_ids), draw(st.integers(1, 2**31 - 1)))
        return [f], [("WindowUpdate", f.stream_id, f.window_increment)]
    f = hf.ExtensionFrame(draw(st.integers(0x0A, 0xFF)), draw(any_ids), draw(st.integers(0, 255)),
                          draw(payloads))
    f.body_len = len(f.body)  # hyperframe 6.1 serializes body_len, which only parse_body sets
    return [f], []


@st.composite
def hf_sequences(draw: Any) -> tuple[bytes, list[NEvent], list[int]]:
    units = draw(st.lists(hf_units(), max_size=8))
    wire = b"".join(f.serialize() for frames_, _ in units for f in frames_)
    expected = [e for _, events in units for e in events]
    cuts = sorted(draw(st.lists(st.integers(0, len(wire)), max_size=6)))
    return wire, expected, cuts


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


@pytest.mark.slow  # a long hypothesis run
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(hf_sequences())
def test_hyperframe_sequences_read_the_same(frames_twin: ModuleType,
                                            case: tuple[bytes, list[NEvent], list[int]]) -> None:
    wire, expected, cuts = case
    whole = read(frames_twin, [wire])
    assert whole.error is None
    assert whole.events == expected
    assert read(frames_twin, pieces(wire, cuts)) == whole


@st.composite
def writer_calls(draw: Any) -> tuple[str, tuple[Any, ...]]:
    kind = draw(st.sampled_from(["data", "headers", "settings", "ping", "goaway", "rst_stream",
                                 "window_update"]))
    if kind == "data":
        return kind, (draw(stream_ids), draw(payloads), draw(st.booleans()))
    if kind == "headers":
        return kind, (draw(stream_ids), draw(st.binary(max_size=40000)), draw(st.booleans()),
                      draw(st.sampled_from([16384, 16385, 20000])))
    if kind == "settings":
        return kind, (draw(st.lists(st.tuples(st.sampled_from([1, 3, 6, 0x99]), codes), max_size=5)),)
    if kind == "ping":
        return kind, (draw(st.binary(min_size=8, max_size=8)), draw(st.booleans()))
    if kind == "goaway":
        return kind, (draw(any_ids), draw(codes), draw(payloads))
    if kind == "rst_stream":
        return kind, (draw(stream_ids), draw(codes))
    return kind, (draw(any_ids), draw(st.integers(1, 2**31 - 1)))


@pytest.mark.slow  # a long hypothesis run
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(writer_calls(), max_size=6))
def test_writer_sequences_parse_in_hyperframe(frames_twin: ModuleType,
                                              calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    wire = b"".join(getattr(frames_twin, kind)(*args) for kind, args in calls)
    parsed = hf_parse(wire)
    blocks: list[hf.Frame] = []
    fields = []
    for f in parsed:
        if isinstance(f, hf.ContinuationFrame):
            blocks[-1].data += f.data
            if "END_HEADERS" in f.flags:
                blocks[-1].flags.add("END_HEADERS")
            continue
        blocks.append(f)
    for f in blocks:
        if isinstance(f, hf.DataFrame):
            fields.append(("data", (f.stream_id, f.data, "END_STREAM" in f.flags)))
        elif isinstance(f, hf.HeadersFrame):
            assert "END_HEADERS" in f.flags
            fields.append(("headers", (f.stream_id, f.data, "END_STREAM" in f.flags)))
        elif isinstance(f, hf.SettingsFrame):
            fields.append(("settings", (f.settings,)))
        elif isinstance(f, hf.PingFrame):
            fields.append(("ping", (f.opaque_data, "ACK" in f.flags)))
        elif isinstance(f, hf.GoAwayFrame):
            fields.append(("goaway", (f.last_stream_id, f.error_code, f.additional_data)))
        elif isinstance(f, hf.RstStreamFrame):
            fields.append(("rst_stream", (f.stream_id, f.error_code)))
        else:
            assert isinstance(f, hf.WindowUpdateFrame)
            fields.append(("window_update", (f.stream_id, f.window_increment)))
    want = []
    for kind, args in calls:
        if kind == "settings":
            want.append((kind, (dict(args[0]),)))
        elif kind == "headers":
            want.append((kind, args[:3]))
        else:
            want.append((kind, args))
    assert fields == want
    # And our reader agrees with hyperframe, cut anywhere.
    whole = read(frames_twin, [wire], max_frame_size=20000)
    assert whole.error is None and len(whole.events) == len(calls)
    assert read(frames_twin, pieces(wire, [len(wire) // 3, len(wire) // 2]),
                max_frame_size=20000) == whole


@settings(max_examples=100, deadline=None)
@given(st.lists(writer_calls(), max_size=6))
def test_writers_agree_on_random_calls(both: tuple[ModuleType, ModuleType],
                                       calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    py, c = both
    for kind, args in calls:
        assert getattr(py, kind)(*args) == getattr(c, kind)(*args)


# -- the twins agree on anything --------------------------------------------------------

def assert_twins_agree(py: ModuleType, c: ModuleType, data: bytes, cuts: list[int],
                       **options: Any) -> Outcome:
    expected = read(py, [data], **options)
    assert read(c, [data], **options) == expected
    assert read(py, pieces(data, cuts), **options) == expected
    assert read(c, pieces(data, cuts), **options) == expected
    return expected


@pytest.mark.slow  # a long hypothesis run
@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=4))
def test_twins_agree_on_garbage(both: tuple[ModuleType, ModuleType], data: bytes,
                                cuts: list[int]) -> None:
    py, c = both
    assert_twins_agree(py, c, data, sorted(min(x, len(data)) for x in cuts))


# Frame headers with plausible lengths and the types and flags that matter, so that
# the random input reaches past the first header.
@st.composite
def noisy_frames(draw: Any) -> bytes:
    ftype = draw(st.sampled_from([*range(10), 0x0A, 0xEE]))
    flags = draw(st.sampled_from([0, 1, 4, 5, 8, 9, 0x20, 0x24, 0x2C, 0x0C, 0xFF]))
    sid = draw(st.sampled_from([0, 1, 3, 0x80000001, 2**31 - 1]))
    payload = draw(st.binary(max_size=40))
    length = draw(st.one_of(st.just(len(payload)), st.integers(0, 60)))
    return frame(ftype, flags, sid, payload, length)[:9 + len(payload)]


@pytest.mark.slow  # a long hypothesis run
@settings(max_examples=1500, deadline=None)
@given(st.lists(noisy_frames(), max_size=8), st.lists(st.integers(0, 400), max_size=4),
       st.sampled_from([{}, {"max_continuation_frames": 1, "max_header_block_size": 20,
                             "max_settings_entries": 2}]))
def test_twins_agree_on_noisy_frames(both: tuple[ModuleType, ModuleType], parts: list[bytes],
                                     cuts: list[int], options: dict[str, int]) -> None:
    py, c = both
    data = b"".join(parts)
    assert_twins_agree(py, c, data, sorted(min(x, len(data)) for x in cuts), **options)


@pytest.mark.slow  # a long hypothesis run
@settings(max_examples=300, deadline=None)
@given(hf_sequences(), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                                max_size=3))
def test_twins_agree_on_damaged_sequences(both: tuple[ModuleType, ModuleType],
                                          case: tuple[bytes, list[NEvent], list[int]],
                                          damage: list[tuple[int, int]]) -> None:
    py, c = both
    wire, _, cuts = case
    if not wire:
        return
    damaged = bytearray(wire)
    for at, value in damage:
        damaged[at % len(wire)] = value
    assert_twins_agree(py, c, bytes(damaged), cuts)


# -- guards: selection, names, tables --------------------------------------------------

def test_selector_picks_the_expected_twin() -> None:
    c_module, _ = import_c(C_TWIN)
    if NO_EXTENSIONS:
        assert frames.EXTENSION_ACTIVE is False and frames.FrameReader is _frames_py.FrameReader
    elif REQUIRE_EXTENSIONS:
        assert frames.EXTENSION_ACTIVE is True
        assert frames.FrameReader.__module__ == "hopwire._h2._frames_c"
    active = c_module if frames.EXTENSION_ACTIVE else _frames_py
    assert active is not None
    for name in _frames_py.__all__:
        if name != "Event":
            assert getattr(frames, name) is getattr(active, name), name
    assert set(frames.__all__) == {"EXTENSION_ACTIVE", *_frames_py.__all__}


def test_twins_have_the_same_names(both: tuple[ModuleType, ModuleType]) -> None:
    py, c = both
    for name in py.__all__:
        if name != "Event":
            assert hasattr(c, name), name


def test_c_tables_are_built_from_rules(both: tuple[ModuleType, ModuleType]) -> None:
    _, c = both
    tables = c._tables()
    assert tables["STREAM_FRAME_TYPES"] == R.STREAM_FRAME_TYPES
    assert tables["CONNECTION_FRAME_TYPES"] == R.CONNECTION_FRAME_TYPES
    assert tables["FIXED_FRAME_SIZES"] == {t: n for t, n in R.FIXED_FRAME_SIZES.items()
                                           if t != T.PRIORITY}
    assert tables["SETTING_BOUNDS"] == R.SETTING_BOUNDS
    assert tables["TYPES"] == tuple(R.FrameType)
    assert tables["FLAGS"] == (R.FLAG_END_STREAM, R.FLAG_ACK, R.FLAG_END_HEADERS, R.FLAG_PADDED,
                               R.FLAG_PRIORITY)


def test_c_error_table_is_rules(both: tuple[ModuleType, ModuleType]) -> None:
    _, c = both
    names = [n for n in c._RULE_NAMES if n is not None]
    assert [c._RULES[i + 1] for i in range(len(names))] == [getattr(R, n) for n in names]
    pairs = {v for v in vars(R).values() if isinstance(v, tuple) and len(v) == 2
             and isinstance(v[0], str) and isinstance(v[1], R.ErrorCode)}
    assert set(c._RULES[1:]) == pairs


def test_rules() -> None:
    assert R.PREFACE == bytes.fromhex("505249202a20485454502f322e300d0a0d0a534d0d0a0d0a")
    assert R.CONNECTION_SPECIFIC == {b"connection", b"keep-alive", b"proxy-connection",
                                     b"transfer-encoding", b"upgrade"}
    assert [int(c) for c in R.ErrorCode] == list(range(14))
    assert [int(t) for t in R.FrameType] == list(range(10))
    assert [int(s) for s in R.SettingId] == list(range(1, 7))
    assert (R.DEFAULT_WINDOW_SIZE, R.MAX_WINDOW_SIZE) == (65535, 2**31 - 1)
    assert (R.DEFAULT_MAX_FRAME_SIZE, R.MAX_FRAME_SIZE_LIMIT) == (16384, 2**24 - 1)
    assert R.CLIENT_CONNECTION_WINDOW <= R.MAX_WINDOW_SIZE
    assert not R.REQUEST_PSEUDO_HEADERS & R.RESPONSE_PSEUDO_HEADERS
    for rule in (R.TOO_MANY_CONTINUATIONS, R.HEADER_BLOCK_TOO_LARGE, R.TOO_MANY_SETTINGS):
        assert rule[1] == R.ErrorCode.ENHANCE_YOUR_CALM
