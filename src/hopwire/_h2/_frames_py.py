"""The HTTP/2 frame codec (RFC 9113 §4, §6), sans-I/O: the pure-Python twin.

Reading. `FrameReader.feed(bytes)` returns the frames the bytes complete, as
slotted events (`Data`, `Headers`, `Priority`, `RstStream`, `Settings`,
`PushPromise`, `Ping`, `GoAway`, `WindowUpdate`); input may be cut anywhere.
Only an unfinished frame is kept between feeds, in a bytearray, and the bytes
are not looked at again until that frame is complete (`_need`). A frame's
header is checked as soon as its 9 octets are there, so that an oversized or
misplaced frame is refused before its payload is buffered; its payload is
checked when it is complete. Padding and the deprecated priority fields are
removed (§5.3.2); CONTINUATION frames are joined to their HEADERS or
PUSH_PROMISE, so that one event carries a whole field block (§4.3), and the
block is bounded in frames and octets (CONTINUATION floods). Frames of unknown
types are dropped (§5.5). A connection error is raised (`H2ConnectionError`,
and the reader is dead); a stream error (`H2StreamError`) is put in the list
of events in its place, and reading goes on (see `hopwire._h2._errors`).

Writing. One function per frame a client sends, each returning bytes, named as
the frame in lower case (`data`, `headers`, ...; the events are capitalized).
They refuse, with `LocalProtocolError`, what cannot be written correctly; they
do not know the connection's state (windows, stream states, the peer's
SETTINGS), which the caller passes in where it matters (`max_frame_size`).
No PRIORITY writer: RFC 9113 §5.3.2 deprecates the signals a client would send.

The C twin (`ext/hopwire/_h2/_frames_c.pyx`) has the same names and behaviour;
this module is the readable definition of both.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Union

from hopwire._errors import LocalProtocolError
from hopwire._wire.events import Record as _Event  # a slotted record compared field by field

from . import _rules as R
from ._errors import H2ConnectionError, H2StreamError

# §4.1 in one unpack: (length << 8 | type), flags, R bit + stream identifier.
_HEADER = struct.Struct(">IBI")
_SETTING = struct.Struct(">HI")
_U32 = struct.Struct(">I")
_U32_U32 = struct.Struct(">II")
_PRIORITY = struct.Struct(">IB")

_MASK31 = 0x7FFFFFFF
_DATA, _HEADERS, _PRIORITY_T, _RST_STREAM, _SETTINGS, _PUSH_PROMISE, _PING, _GOAWAY, \
    _WINDOW_UPDATE, _CONTINUATION = (int(t) for t in R.FrameType)
_END_STREAM = R.FLAG_END_STREAM
_ACK = R.FLAG_ACK
_END_HEADERS = R.FLAG_END_HEADERS
_PADDED = R.FLAG_PADDED
_PRIORITY_FLAG = R.FLAG_PRIORITY
_PADDED_OR_PRIORITY = _PADDED | _PRIORITY_FLAG
_HEADER_SIZE = R.FRAME_HEADER_SIZE

_ON_STREAM = frozenset(int(t) for t in R.STREAM_FRAME_TYPES)
_ON_CONNECTION = frozenset(int(t) for t in R.CONNECTION_FRAME_TYPES)
# A wrong length is a connection error (§6.4, §6.7, §6.9) but for PRIORITY, whose is a
# stream error (§6.3): that one is found with the payload, so that the frame is consumed.
_FIXED_LENGTH = {int(t): n for t, n in R.FIXED_FRAME_SIZES.items() if t != R.FrameType.PRIORITY}
_PRIORITY_SIZE = R.FIXED_FRAME_SIZES[R.FrameType.PRIORITY]

Buffer = Union[bytes, bytearray, memoryview]
SettingPairs = list[tuple[int, int]]


# -- events -------------------------------------------------------------------------


class Data(_Event):
    """DATA (§6.1): `data` without padding; `flow_controlled_length` is the whole
    payload, padding included, which counts against the windows."""

    __slots__ = ("stream_id", "data", "end_stream", "flow_controlled_length")
    _fields = __slots__

    def __init__(self, stream_id: int, data: bytes, end_stream: bool = False,
                 flow_controlled_length: int | None = None) -> None:
        self.stream_id = stream_id
        self.data = data
        self.end_stream = end_stream
        self.flow_controlled_length = (len(data) if flow_controlled_length is None
                                       else flow_controlled_length)


class Headers(_Event):
    """HEADERS (§6.2) and its CONTINUATION frames: `block` is the whole field block."""

    __slots__ = ("stream_id", "block", "end_stream")
    _fields = __slots__

    def __init__(self, stream_id: int, block: bytes, end_stream: bool = False) -> None:
        self.stream_id = stream_id
        self.block = block
        self.end_stream = end_stream


class Priority(_Event):
    """PRIORITY (§6.3, deprecated): `weight` is 1..256 (the octet plus one)."""

    __slots__ = ("stream_id", "depends_on", "weight", "exclusive")
    _fields = __slots__

    def __init__(self, stream_id: int, depends_on: int, weight: int = 16,
                 exclusive: bool = False) -> None:
        self.stream_id = stream_id
        self.depends_on = depends_on
        self.weight = weight
        self.exclusive = exclusive


class RstStream(_Event):
    """RST_STREAM (§6.4): `error_code` as sent, known to `ErrorCode` or not (§7)."""

    __slots__ = ("stream_id", "error_code")
    _fields = __slots__

    def __init__(self, stream_id: int, error_code: int) -> None:
        self.stream_id = stream_id
        self.error_code = error_code


class Settings(_Event):
    """SETTINGS (§6.5): the (identifier, value) pairs in order, repeats and unknown
    identifiers included (the last value wins, unknown ones are ignored: §6.5.2, §6.5.3),
    or an acknowledgement (`ack`, no pairs). The values of §6.5.2 are checked."""

    __slots__ = ("settings", "ack")
    _fields = __slots__

    def __init__(self, settings: SettingPairs | None = None, ack: bool = False) -> None:
        self.settings = [] if settings is None else settings
        self.ack = ack


class PushPromise(_Event):
    """PUSH_PROMISE (§6.6) and its CONTINUATION frames: `block` is the whole field block."""

    __slots__ = ("stream_id", "promised_stream_id", "block")
    _fields = __slots__

    def __init__(self, stream_id: int, promised_stream_id: int, block: bytes) -> None:
        self.stream_id = stream_id
        self.promised_stream_id = promised_stream_id
        self.block = block


class Ping(_Event):
    """PING (§6.7): 8 octets of `opaque` data; `ack` for an answer."""

    __slots__ = ("opaque", "ack")
    _fields = __slots__

    def __init__(self, opaque: bytes, ack: bool = False) -> None:
        self.opaque = opaque
        self.ack = ack


class GoAway(_Event):
    """GOAWAY (§6.8)."""

    __slots__ = ("last_stream_id", "error_code", "debug_data")
    _fields = __slots__

    def __init__(self, last_stream_id: int, error_code: int, debug_data: bytes = b"") -> None:
        self.last_stream_id = last_stream_id
        self.error_code = error_code
        self.debug_data = debug_data


class WindowUpdate(_Event):
    """WINDOW_UPDATE (§6.9): stream 0 for the connection's window."""

    __slots__ = ("stream_id", "increment")
    _fields = __slots__

    def __init__(self, stream_id: int, increment: int) -> None:
        self.stream_id = stream_id
        self.increment = increment


Event = Union[Data, Headers, Priority, RstStream, Settings, PushPromise, Ping, GoAway,
              WindowUpdate, H2StreamError]


# -- the reader ----------------------------------------------------------------------


class FrameReader:
    """Reads the frames of one connection from the bytes fed in (see the module docstring).

    `max_frame_size` is our SETTINGS_MAX_FRAME_SIZE as the peer knows it: a
    connection that advertises a larger one raises it once the peer has it
    (§6.5.3). The other options are the limits of `hopwire._h2._rules`.
    """

    __slots__ = ("_max_frame_size", "_max_header_block_size", "_max_continuation_frames",
                 "_max_settings_entries", "_buf", "_need", "_base", "_error",
                 "_hb_stream", "_hb_type", "_hb_end_stream", "_hb_promised", "_hb_parts",
                 "_hb_size", "_hb_frames")

    def __init__(self, max_frame_size: int = R.DEFAULT_MAX_FRAME_SIZE, *,
                 max_header_block_size: int = R.MAX_HEADER_BLOCK_SIZE,
                 max_continuation_frames: int = R.MAX_CONTINUATION_FRAMES,
                 max_settings_entries: int = R.MAX_SETTINGS_ENTRIES) -> None:
        if min(max_header_block_size, max_continuation_frames, max_settings_entries) < 0:
            raise ValueError("limits must not be negative")
        self.max_frame_size = max_frame_size
        self._max_header_block_size = max_header_block_size
        self._max_continuation_frames = max_continuation_frames
        self._max_settings_entries = max_settings_entries
        self._buf = bytearray()
        self._need = _HEADER_SIZE  # octets the buffer needs before it is worth reading
        self._base = 0  # stream offset of the buffer's first octet
        self._error: H2ConnectionError | None = None
        self._hb_stream = 0  # stream of the unfinished field block; 0: none
        self._hb_type = 0
        self._hb_end_stream = False
        self._hb_promised = 0
        self._hb_parts: list[bytes] = []
        self._hb_size = 0
        self._hb_frames = 0  # CONTINUATION frames so far

    @property
    def max_frame_size(self) -> int:
        """The largest frame payload accepted (our SETTINGS_MAX_FRAME_SIZE)."""
        return self._max_frame_size

    @max_frame_size.setter
    def max_frame_size(self, value: int) -> None:
        if not R.DEFAULT_MAX_FRAME_SIZE <= value <= R.MAX_FRAME_SIZE_LIMIT:
            raise ValueError(R.INVALID_FRAME_SIZE)
        self._max_frame_size = value

    @property
    def max_header_block_size(self) -> int:
        return self._max_header_block_size

    @property
    def max_continuation_frames(self) -> int:
        return self._max_continuation_frames

    @property
    def max_settings_entries(self) -> int:
        return self._max_settings_entries

    @property
    def buffered(self) -> int:
        """Octets of an unfinished frame held: at EOF, more than 0 means a cut frame."""
        return len(self._buf)

    @property
    def in_field_block(self) -> bool:
        """True between a HEADERS or PUSH_PROMISE without END_HEADERS and its last CONTINUATION."""
        return self._hb_stream != 0

    def feed(self, data: Buffer) -> list[Event]:
        """The frames that `data` completes, in order (stream errors among them).

        Raises `H2ConnectionError` for a connection error, with the frames this
        call completed before it in `.events`; the reader then raises it again on
        every call.
        """
        if self._error is not None:
            raise self._error
        if type(data) is not bytes:
            data = bytes(memoryview(data))  # TypeError for what is not a buffer
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return []
            data = bytes(buf)
            buf.clear()
        events: list[Event] = []
        try:
            pos = self._run(data, events)
        except H2ConnectionError as exc:
            exc.events = events
            self._error = exc
            raise
        if pos < len(data):
            buf += memoryview(data)[pos:]
        self._base += pos
        return events

    def _fail(self, rule: tuple[str, R.ErrorCode], offset: int, frame_type: int) -> H2ConnectionError:
        return H2ConnectionError(rule[0], rule[1], offset=self._base + offset, frame_type=frame_type)

    def _stream_error(self, rule: tuple[str, R.ErrorCode], stream_id: int, offset: int,
                      frame_type: int) -> H2StreamError:
        return H2StreamError(rule[0], rule[1], stream_id, offset=self._base + offset,
                             frame_type=frame_type)

    def _run(self, data: bytes, events: list[Event]) -> int:
        """Read the frames of `data`; the position of the first octet not consumed."""
        n = len(data)
        pos = 0
        unpack = _HEADER.unpack_from
        max_size = self._max_frame_size
        append = events.append
        while n - pos >= _HEADER_SIZE:
            length_type, flags, stream_id = unpack(data, pos)
            length = length_type >> 8
            ftype = length_type & 0xFF
            stream_id &= _MASK31
            # Most frames pass every check, and are seen to here: DATA or HEADERS on a
            # stream, unpadded, without priority; WINDOW_UPDATE of the right length.
            if self._hb_stream or length > max_size or not (
                    (ftype <= _HEADERS and stream_id and not flags & _PADDED_OR_PRIORITY)
                    or (ftype == _WINDOW_UPDATE and length == 4)):
                self._check_header(length, ftype, flags, stream_id, pos, max_size)
            start = pos + _HEADER_SIZE
            end = start + length
            if end > n:
                self._need = end - pos
                return pos
            if ftype == _DATA:
                if flags & _PADDED:
                    pad = data[start]
                    if pad >= length:
                        raise self._fail(R.PADDING_TOO_LONG, pos, ftype)
                    append(Data(stream_id, data[start + 1:end - pad], flags & _END_STREAM == 1,
                                length))
                else:
                    append(Data(stream_id, data[start:end], flags & _END_STREAM == 1, length))
            elif ftype == _HEADERS or ftype == _PUSH_PROMISE:
                self._field_block(data, pos, start, end, ftype, flags, stream_id, append)
            elif ftype == _WINDOW_UPDATE:
                increment = _U32.unpack_from(data, start)[0] & _MASK31
                if increment:
                    append(WindowUpdate(stream_id, increment))
                elif stream_id:
                    append(self._stream_error(R.ZERO_WINDOW_INCREMENT, stream_id, pos, ftype))
                else:
                    raise self._fail(R.ZERO_WINDOW_INCREMENT, pos, ftype)
            elif ftype == _SETTINGS:
                append(Settings([], True) if flags & _ACK
                       else Settings(self._settings(data, start, end, pos), False))
            elif ftype == _PING:
                append(Ping(data[start:end], flags & _ACK == 1))
            elif ftype == _RST_STREAM:
                append(RstStream(stream_id, _U32.unpack_from(data, start)[0]))
            elif ftype == _GOAWAY:
                last, code = _U32_U32.unpack_from(data, start)
                append(GoAway(last & _MASK31, code, data[start + 8:end]))
            elif ftype == _CONTINUATION:
                self._continuation(data[start:end], flags, append)
            elif ftype == _PRIORITY_T:
                if length != _PRIORITY_SIZE:
                    append(self._stream_error(R.WRONG_LENGTH, stream_id, pos, ftype))
                else:
                    dependency, weight = _PRIORITY.unpack_from(data, start)
                    append(Priority(stream_id, dependency & _MASK31, weight + 1,
                                    dependency >> 31 == 1))
            # Any other type: discarded (§5.5).
            pos = end
        self._need = _HEADER_SIZE
        return pos

    def _check_header(self, length: int, ftype: int, flags: int, stream_id: int, pos: int,
                      max_size: int) -> None:
        """The checks a frame header allows, in the order both twins make them."""
        if length > max_size:
            raise self._fail(R.FRAME_TOO_LARGE, pos, ftype)
        if self._hb_stream:
            if ftype != _CONTINUATION or stream_id != self._hb_stream:
                raise self._fail(R.CONTINUATION_EXPECTED, pos, ftype)
            if self._hb_frames >= self._max_continuation_frames:
                raise self._fail(R.TOO_MANY_CONTINUATIONS, pos, ftype)
            if self._hb_size + length > self._max_header_block_size:
                raise self._fail(R.HEADER_BLOCK_TOO_LARGE, pos, ftype)
            return
        if ftype > _CONTINUATION:
            return
        if stream_id == 0:
            if ftype in _ON_STREAM:
                raise self._fail(R.STREAM_ID_REQUIRED, pos, ftype)
        elif ftype in _ON_CONNECTION:
            raise self._fail(R.STREAM_ID_FORBIDDEN, pos, ftype)
        if ftype == _CONTINUATION:
            raise self._fail(R.CONTINUATION_UNEXPECTED, pos, ftype)
        fixed = _FIXED_LENGTH.get(ftype)
        if fixed is not None:
            if length != fixed:
                raise self._fail(R.WRONG_LENGTH, pos, ftype)
        elif ftype == _SETTINGS:
            if flags & _ACK:
                if length:
                    raise self._fail(R.SETTINGS_ACK_WITH_PAYLOAD, pos, ftype)
            elif length % R.SETTING_SIZE:
                raise self._fail(R.SETTINGS_LENGTH, pos, ftype)
            elif length // R.SETTING_SIZE > self._max_settings_entries:
                raise self._fail(R.TOO_MANY_SETTINGS, pos, ftype)
        elif ftype == _GOAWAY:
            if length < R.GOAWAY_MIN_SIZE:
                raise self._fail(R.TOO_SHORT, pos, ftype)
        elif ftype != _PRIORITY_T:  # DATA, HEADERS, PUSH_PROMISE
            if length < _fixed_fields(ftype, flags):
                raise self._fail(R.TOO_SHORT, pos, ftype)

    def _field_block(self, data: bytes, pos: int, start: int, end: int, ftype: int,
                     flags: int, stream_id: int, append: Callable[[Event], None]) -> None:
        """A HEADERS or PUSH_PROMISE frame: its event, or the start of a field block."""
        fields = _fixed_fields(ftype, flags)  # the header check made sure they fit
        pad = data[start] if flags & _PADDED else 0
        if pad > end - start - fields:
            raise self._fail(R.PADDING_TOO_LONG, pos, ftype)
        promised = 0
        if ftype == _PUSH_PROMISE:
            promised = _U32.unpack_from(data, start + fields - 4)[0] & _MASK31
        fragment = data[start + fields:end - pad]
        if len(fragment) > self._max_header_block_size:
            raise self._fail(R.HEADER_BLOCK_TOO_LARGE, pos, ftype)
        end_stream = flags & _END_STREAM == 1 and ftype == _HEADERS
        if flags & _END_HEADERS:
            append(Headers(stream_id, fragment, end_stream) if ftype == _HEADERS
                   else PushPromise(stream_id, promised, fragment))
            return
        self._hb_stream = stream_id
        self._hb_type = ftype
        self._hb_end_stream = end_stream
        self._hb_promised = promised
        self._hb_parts = [fragment]
        self._hb_size = len(fragment)
        self._hb_frames = 0

    def _continuation(self, fragment: bytes, flags: int, append: Callable[[Event], None]) -> None:
        """A CONTINUATION of the open field block (the header check made sure of it)."""
        self._hb_parts.append(fragment)
        self._hb_size += len(fragment)
        self._hb_frames += 1
        if not flags & _END_HEADERS:
            return
        block = b"".join(self._hb_parts)
        self._hb_parts = []
        stream_id, self._hb_stream = self._hb_stream, 0
        append(Headers(stream_id, block, self._hb_end_stream) if self._hb_type == _HEADERS
               else PushPromise(stream_id, self._hb_promised, block))

    def _settings(self, data: bytes, start: int, end: int, pos: int) -> SettingPairs:
        """The pairs of a SETTINGS frame, each value checked against §6.5.2."""
        pairs = list(_SETTING.iter_unpack(data[start:end]))
        for ident, value in pairs:
            bounds = R.SETTING_BOUNDS.get(ident)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise self._fail(bounds[2], pos, _SETTINGS)
        return pairs


def _fixed_fields(ftype: int, flags: int) -> int:
    """Octets before the data or fragment of a DATA, HEADERS or PUSH_PROMISE frame."""
    size = 1 if flags & _PADDED else 0
    if ftype == _HEADERS:
        if flags & _PRIORITY_FLAG:
            size += 5
    elif ftype == _PUSH_PROMISE:
        size += 4
    return size


# -- the writer ----------------------------------------------------------------------

_pack_header = _HEADER.pack


def _payload(payload: Buffer) -> tuple[Buffer, int]:
    """A bytes-like payload as something bytes can be concatenated with, and its size."""
    view = memoryview(payload)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view, view.nbytes


def data(stream_id: int, payload: Buffer, end_stream: bool = False) -> bytes:
    """A DATA frame (§6.1), unpadded. The caller keeps it within the peer's
    SETTINGS_MAX_FRAME_SIZE and the flow-control windows."""
    if not (isinstance(stream_id, int) and 0 < stream_id <= R.MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(stream_id))
    if type(payload) is bytes:
        size = len(payload)
    else:
        payload, size = _payload(payload)
    if size > R.MAX_FRAME_SIZE_LIMIT:
        raise LocalProtocolError(R.PAYLOAD_TOO_LARGE, str(size))
    return _pack_header(size << 8, _END_STREAM if end_stream else 0, stream_id) + payload


def headers(stream_id: int, block: Buffer, end_stream: bool = False,
            max_frame_size: int = R.DEFAULT_MAX_FRAME_SIZE) -> bytes:
    """A field block as HEADERS (§6.2), followed by CONTINUATION frames (§6.10) when it
    is larger than `max_frame_size` (the peer's SETTINGS_MAX_FRAME_SIZE). END_STREAM
    goes on the HEADERS frame, END_HEADERS on the last one (§6.2)."""
    if not (isinstance(stream_id, int) and 0 < stream_id <= R.MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(stream_id))
    if not (isinstance(max_frame_size, int)
            and R.DEFAULT_MAX_FRAME_SIZE <= max_frame_size <= R.MAX_FRAME_SIZE_LIMIT):
        raise LocalProtocolError(R.INVALID_FRAME_SIZE, repr(max_frame_size))
    if type(block) is bytes:
        size = len(block)
    else:
        block, size = _payload(block)
    flags = _END_STREAM if end_stream else 0
    if size <= max_frame_size:
        return _pack_header(size << 8 | _HEADERS, flags | _END_HEADERS, stream_id) + block
    view = memoryview(block)
    out: list[bytes | memoryview] = [_pack_header(max_frame_size << 8 | _HEADERS, flags, stream_id), view[:max_frame_size]]
    for at in range(max_frame_size, size, max_frame_size):
        piece = view[at:at + max_frame_size]
        last = at + max_frame_size >= size
        out.append(_pack_header(len(piece) << 8 | _CONTINUATION, _END_HEADERS if last else 0,
                                stream_id))
        out.append(piece)
    return b"".join(out)


def settings(pairs: Iterable[tuple[int, int]] = ()) -> bytes:
    """A SETTINGS frame (§6.5) with `pairs` of (identifier, value), in order; values
    outside the bounds of §6.5.2 are refused (the peer would end the connection)."""
    body = []
    for ident, value in pairs:
        if not (isinstance(ident, int) and isinstance(value, int) and 0 <= ident <= 0xFFFF
                and 0 <= value <= R.MAX_SETTING_VALUE):
            raise LocalProtocolError(R.INVALID_SETTING, f"{ident!r}={value!r}")
        bounds = R.SETTING_BOUNDS.get(ident)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise LocalProtocolError(R.INVALID_SETTING, f"{ident!r}={value!r}")
        body.append(_SETTING.pack(ident, value))
    payload = b"".join(body)
    if len(payload) > R.MAX_FRAME_SIZE_LIMIT:
        raise LocalProtocolError(R.PAYLOAD_TOO_LARGE, str(len(payload)))
    return _pack_header(len(payload) << 8 | _SETTINGS, 0, 0) + payload


_SETTINGS_ACK = _pack_header(_SETTINGS, _ACK, 0)


def settings_ack() -> bytes:
    """The acknowledgement of the peer's SETTINGS (§6.5.3)."""
    return _SETTINGS_ACK


def ping(opaque: Buffer, ack: bool = False) -> bytes:
    """A PING (§6.7) with 8 octets of `opaque` data; `ack` to answer the peer's."""
    if type(opaque) is bytes:
        size = len(opaque)
    else:
        opaque, size = _payload(opaque)
    if size != R.PING_PAYLOAD_SIZE:
        raise LocalProtocolError(R.INVALID_PING_DATA, str(size))
    return _pack_header(8 << 8 | _PING, _ACK if ack else 0, 0) + opaque


def goaway(last_stream_id: int, error_code: int, debug_data: Buffer = b"") -> bytes:
    """A GOAWAY (§6.8): the last stream we processed, why we leave, and debug data."""
    if not (isinstance(last_stream_id, int) and 0 <= last_stream_id <= R.MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(last_stream_id))
    if not (isinstance(error_code, int) and 0 <= error_code <= 0xFFFFFFFF):
        raise LocalProtocolError(R.INVALID_ERROR_CODE, repr(error_code))
    if type(debug_data) is bytes:
        size = len(debug_data)
    else:
        debug_data, size = _payload(debug_data)
    if size > R.MAX_FRAME_SIZE_LIMIT - R.GOAWAY_MIN_SIZE:
        raise LocalProtocolError(R.PAYLOAD_TOO_LARGE, str(size))
    return (_pack_header((size + 8) << 8 | _GOAWAY, 0, 0)
            + _U32_U32.pack(last_stream_id, error_code) + debug_data)


def rst_stream(stream_id: int, error_code: int) -> bytes:
    """A RST_STREAM (§6.4) ending `stream_id` with `error_code`."""
    if not (isinstance(stream_id, int) and 0 < stream_id <= R.MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(stream_id))
    if not (isinstance(error_code, int) and 0 <= error_code <= 0xFFFFFFFF):
        raise LocalProtocolError(R.INVALID_ERROR_CODE, repr(error_code))
    return _pack_header(4 << 8 | _RST_STREAM, 0, stream_id) + _U32.pack(error_code)


def window_update(stream_id: int, increment: int) -> bytes:
    """A WINDOW_UPDATE (§6.9) for `stream_id`, or for the connection with stream 0."""
    if not (isinstance(stream_id, int) and 0 <= stream_id <= R.MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(stream_id))
    if not (isinstance(increment, int) and 0 < increment <= R.MAX_WINDOW_SIZE):
        raise LocalProtocolError(R.INVALID_INCREMENT, repr(increment))
    return _pack_header(4 << 8 | _WINDOW_UPDATE, 0, stream_id) + _U32.pack(increment)


def client_preface(settings_pairs: Iterable[tuple[int, int]] = R.CLIENT_SETTINGS,
                   connection_window: int = R.CLIENT_CONNECTION_WINDOW) -> bytes:
    """What a client sends first (§3.4): the preface, its SETTINGS, and a WINDOW_UPDATE
    raising the connection's window from 65,535 to `connection_window` (§6.9.2)."""
    if not (isinstance(connection_window, int)
            and R.DEFAULT_WINDOW_SIZE <= connection_window <= R.MAX_WINDOW_SIZE):
        raise LocalProtocolError(R.INVALID_INCREMENT, repr(connection_window))
    out = R.PREFACE + settings(settings_pairs)
    if connection_window > R.DEFAULT_WINDOW_SIZE:
        out += window_update(0, connection_window - R.DEFAULT_WINDOW_SIZE)
    return out


__all__ = [
    "Data", "Event", "FrameReader", "GoAway", "Headers", "Ping", "Priority", "PushPromise",
    "RstStream", "Settings", "WindowUpdate", "client_preface", "data", "goaway", "headers",
    "ping", "rst_stream", "settings", "settings_ack", "window_update",
]
