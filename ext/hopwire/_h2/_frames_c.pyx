# cython: language_level=3
"""The C twin of hopwire's HTTP/2 frame codec (RFC 9113 §4, §6).

Same names, events, errors, reasons and offsets as `hopwire._h2._frames_py`,
which is the readable definition of both; this module makes the same checks in
the same order, on C integers read straight from the octets.

Only an unfinished frame is carried between feeds, in a C buffer; input that
holds whole frames is read in place, and each payload is copied once, into the
bytes object of its event. The fragments of a field block are gathered in a
second C buffer and become one bytes object when the block ends. The writer
builds each frame in one bytes object, header and payload together.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy, memmove

from hopwire._errors import LocalProtocolError
from hopwire._h2 import _rules as R
from hopwire._h2._errors import H2ConnectionError, H2StreamError


# -- constants, taken from _rules at import ---------------------------------------------

cdef int T_DATA = R.FrameType.DATA
cdef int T_HEADERS = R.FrameType.HEADERS
cdef int T_PRIORITY = R.FrameType.PRIORITY
cdef int T_RST_STREAM = R.FrameType.RST_STREAM
cdef int T_SETTINGS = R.FrameType.SETTINGS
cdef int T_PUSH_PROMISE = R.FrameType.PUSH_PROMISE
cdef int T_PING = R.FrameType.PING
cdef int T_GOAWAY = R.FrameType.GOAWAY
cdef int T_WINDOW_UPDATE = R.FrameType.WINDOW_UPDATE
cdef int T_CONTINUATION = R.FrameType.CONTINUATION

cdef int F_END_STREAM = R.FLAG_END_STREAM
cdef int F_ACK = R.FLAG_ACK
cdef int F_END_HEADERS = R.FLAG_END_HEADERS
cdef int F_PADDED = R.FLAG_PADDED
cdef int F_PRIORITY = R.FLAG_PRIORITY

cdef enum:
    HEADER_SIZE = 9  # §4.1: the layout below reads these 9 octets
    N_TYPES = 256

cdef u32 MASK31 = 0x7FFFFFFF
cdef Py_ssize_t MAX_FRAME_SIZE_LIMIT = R.MAX_FRAME_SIZE_LIMIT
cdef Py_ssize_t DEFAULT_MAX_FRAME_SIZE = R.DEFAULT_MAX_FRAME_SIZE
cdef Py_ssize_t SETTING_SIZE = R.SETTING_SIZE
cdef Py_ssize_t GOAWAY_MIN_SIZE = R.GOAWAY_MIN_SIZE
cdef Py_ssize_t PING_SIZE = R.PING_PAYLOAD_SIZE
cdef Py_ssize_t PRIORITY_SIZE = R.FIXED_FRAME_SIZES[R.FrameType.PRIORITY]
cdef Py_ssize_t DEFAULT_WINDOW_SIZE = R.DEFAULT_WINDOW_SIZE
MAX_STREAM_ID = R.MAX_STREAM_ID
MAX_WINDOW_SIZE = R.MAX_WINDOW_SIZE
MAX_SETTING_VALUE = R.MAX_SETTING_VALUE

# Per frame type: must it be on a stream, on stream 0, and its fixed size (-1: none).
# PRIORITY's fixed size is left out: its wrong size is a stream error, found with the
# payload (the Python twin's _FIXED_LENGTH, from the same table).
cdef bint ON_STREAM[N_TYPES]
cdef bint ON_CONNECTION[N_TYPES]
cdef Py_ssize_t FIXED[N_TYPES]
# Per setting identifier below N_TYPES: has it bounds (§6.5.2), which, and the rule.
cdef bint B_HAS[N_TYPES]
cdef unsigned long long B_LO[N_TYPES]
cdef unsigned long long B_HI[N_TYPES]
cdef int B_RULE[N_TYPES]

# Error rules; _RULES maps each to its (reason, code) pair in _rules.
cdef enum:
    E_NONE, E_FRAME_TOO_LARGE, E_STREAM_ID_REQUIRED, E_STREAM_ID_FORBIDDEN, E_WRONG_LENGTH,
    E_TOO_SHORT, E_PADDING_TOO_LONG, E_SETTINGS_ACK_WITH_PAYLOAD, E_SETTINGS_LENGTH,
    E_INVALID_ENABLE_PUSH, E_INVALID_INITIAL_WINDOW_SIZE, E_INVALID_MAX_FRAME_SIZE,
    E_TOO_MANY_SETTINGS, E_ZERO_WINDOW_INCREMENT, E_CONTINUATION_EXPECTED,
    E_CONTINUATION_UNEXPECTED, E_TOO_MANY_CONTINUATIONS, E_HEADER_BLOCK_TOO_LARGE

_RULE_NAMES = (
    None, "FRAME_TOO_LARGE", "STREAM_ID_REQUIRED", "STREAM_ID_FORBIDDEN", "WRONG_LENGTH",
    "TOO_SHORT", "PADDING_TOO_LONG", "SETTINGS_ACK_WITH_PAYLOAD", "SETTINGS_LENGTH",
    "INVALID_ENABLE_PUSH", "INVALID_INITIAL_WINDOW_SIZE", "INVALID_MAX_FRAME_SIZE",
    "TOO_MANY_SETTINGS", "ZERO_WINDOW_INCREMENT", "CONTINUATION_EXPECTED",
    "CONTINUATION_UNEXPECTED", "TOO_MANY_CONTINUATIONS", "HEADER_BLOCK_TOO_LARGE",
)
_RULES = [None] + [getattr(R, name) for name in _RULE_NAMES[1:]]


cdef void _build_tables():
    cdef int i
    for i in range(N_TYPES):
        ON_STREAM[i] = i in R.STREAM_FRAME_TYPES
        ON_CONNECTION[i] = i in R.CONNECTION_FRAME_TYPES
        FIXED[i] = R.FIXED_FRAME_SIZES.get(i, -1) if i != T_PRIORITY else -1
        B_HAS[i] = False
    for ident, (lo, hi, rule) in R.SETTING_BOUNDS.items():
        assert ident < N_TYPES
        B_HAS[ident] = True
        B_LO[ident] = lo
        B_HI[ident] = hi
        B_RULE[ident] = _RULES.index(rule)

_build_tables()


def _tables():
    """The compiled-in tables, for the test that checks them against _rules."""
    return {
        "STREAM_FRAME_TYPES": frozenset(i for i in range(N_TYPES) if ON_STREAM[i]),
        "CONNECTION_FRAME_TYPES": frozenset(i for i in range(N_TYPES) if ON_CONNECTION[i]),
        "FIXED_FRAME_SIZES": {i: FIXED[i] for i in range(N_TYPES) if FIXED[i] >= 0},
        "SETTING_BOUNDS": {i: (B_LO[i], B_HI[i], _RULES[B_RULE[i]])
                           for i in range(N_TYPES) if B_HAS[i]},
        "TYPES": (T_DATA, T_HEADERS, T_PRIORITY, T_RST_STREAM, T_SETTINGS, T_PUSH_PROMISE,
                  T_PING, T_GOAWAY, T_WINDOW_UPDATE, T_CONTINUATION),
        "FLAGS": (F_END_STREAM, F_ACK, F_END_HEADERS, F_PADDED, F_PRIORITY),
    }


cdef inline u32 _u32(const uchar *p) noexcept nogil:
    return (<u32>p[0] << 24) | (<u32>p[1] << 16) | (<u32>p[2] << 8) | <u32>p[3]


cdef inline void _put_u32(uchar *p, u32 v) noexcept nogil:
    p[0] = (v >> 24) & 0xFF
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF


cdef inline void _put_header(uchar *p, Py_ssize_t length, int ftype, int flags,
                             u32 stream_id) noexcept nogil:
    p[0] = (length >> 16) & 0xFF
    p[1] = (length >> 8) & 0xFF
    p[2] = length & 0xFF
    p[3] = <uchar>ftype
    p[4] = <uchar>flags
    _put_u32(p + 5, stream_id)


cdef inline Py_ssize_t _fixed_fields(int ftype, int flags) noexcept nogil:
    """Octets before the data or fragment of a DATA, HEADERS or PUSH_PROMISE frame."""
    cdef Py_ssize_t size = 1 if flags & F_PADDED else 0
    if ftype == T_HEADERS:
        if flags & F_PRIORITY:
            size += 5
    elif ftype == T_PUSH_PROMISE:
        size += 4
    return size


cdef int _grow(uchar **buf, Py_ssize_t *cap, Py_ssize_t need) except -1:
    """Make the C buffer *buf (of capacity *cap) hold at least `need` octets."""
    cdef Py_ssize_t size
    cdef uchar *p
    if need <= cap[0]:
        return 0
    size = cap[0] * 2
    if size < need:
        size = need
    if size < 256:
        size = 256
    p = <uchar *>realloc(buf[0], size)
    if p == NULL:
        raise MemoryError()
    buf[0] = p
    cap[0] = size
    return 0


cdef inline bytes _bytes(const uchar *p, Py_ssize_t n):
    return PyBytes_FromStringAndSize(<const char *>p, n)


# -- events ----------------------------------------------------------------------------

cdef class _Event:
    """A received frame, compared field by field (as _frames_py._Event)."""

    _fields = ()

    def __repr__(self):
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({body})"

    def __eq__(self, other):
        if type(other).__name__ != type(self).__name__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n, None) for n in self._fields)

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None


cdef class Data(_Event):
    """DATA (§6.1): `data` without padding; `flow_controlled_length` is the whole
    payload, padding included, which counts against the windows."""

    _fields = ("stream_id", "data", "end_stream", "flow_controlled_length")

    def __init__(self, stream_id, data, end_stream=False, flow_controlled_length=None):
        self.stream_id = stream_id
        self.data = data
        self.end_stream = end_stream
        self.flow_controlled_length = (len(data) if flow_controlled_length is None
                                       else flow_controlled_length)


cdef class Headers(_Event):
    """HEADERS (§6.2) and its CONTINUATION frames: `block` is the whole field block."""

    _fields = ("stream_id", "block", "end_stream")

    def __init__(self, stream_id, block, end_stream=False):
        self.stream_id = stream_id
        self.block = block
        self.end_stream = end_stream


cdef class Priority(_Event):
    """PRIORITY (§6.3, deprecated): `weight` is 1..256 (the octet plus one)."""

    _fields = ("stream_id", "depends_on", "weight", "exclusive")

    def __init__(self, stream_id, depends_on, weight=16, exclusive=False):
        self.stream_id = stream_id
        self.depends_on = depends_on
        self.weight = weight
        self.exclusive = exclusive


cdef class RstStream(_Event):
    """RST_STREAM (§6.4): `error_code` as sent, known to `ErrorCode` or not (§7)."""

    _fields = ("stream_id", "error_code")

    def __init__(self, stream_id, error_code):
        self.stream_id = stream_id
        self.error_code = error_code


cdef class Settings(_Event):
    """SETTINGS (§6.5): the (identifier, value) pairs in order, or an acknowledgement."""

    _fields = ("settings", "ack")

    def __init__(self, settings=None, ack=False):
        self.settings = [] if settings is None else settings
        self.ack = ack


cdef class PushPromise(_Event):
    """PUSH_PROMISE (§6.6) and its CONTINUATION frames: `block` is the whole field block."""

    _fields = ("stream_id", "promised_stream_id", "block")

    def __init__(self, stream_id, promised_stream_id, block):
        self.stream_id = stream_id
        self.promised_stream_id = promised_stream_id
        self.block = block


cdef class Ping(_Event):
    """PING (§6.7): 8 octets of `opaque` data; `ack` for an answer."""

    _fields = ("opaque", "ack")

    def __init__(self, opaque, ack=False):
        self.opaque = opaque
        self.ack = ack


cdef class GoAway(_Event):
    """GOAWAY (§6.8)."""

    _fields = ("last_stream_id", "error_code", "debug_data")

    def __init__(self, last_stream_id, error_code, debug_data=b""):
        self.last_stream_id = last_stream_id
        self.error_code = error_code
        self.debug_data = debug_data


cdef class WindowUpdate(_Event):
    """WINDOW_UPDATE (§6.9): stream 0 for the connection's window."""

    _fields = ("stream_id", "increment")

    def __init__(self, stream_id, increment):
        self.stream_id = stream_id
        self.increment = increment


# -- the reader ------------------------------------------------------------------------

@cython.final
cdef class FrameReader:
    """Reads the frames of one connection from the bytes fed in (see _frames_py)."""

    # No __cinit__: a new object is zero-filled, so its C buffers start out NULL.

    def __init__(self, Py_ssize_t max_frame_size=R.DEFAULT_MAX_FRAME_SIZE, *,
                 Py_ssize_t max_header_block_size=R.MAX_HEADER_BLOCK_SIZE,
                 Py_ssize_t max_continuation_frames=R.MAX_CONTINUATION_FRAMES,
                 Py_ssize_t max_settings_entries=R.MAX_SETTINGS_ENTRIES):
        if min(max_header_block_size, max_continuation_frames, max_settings_entries) < 0:
            raise ValueError("limits must not be negative")
        self.max_frame_size = max_frame_size
        self._max_header_block_size = max_header_block_size
        self._max_continuation_frames = max_continuation_frames
        self._max_settings_entries = max_settings_entries
        self.buf_len = 0
        self.need = HEADER_SIZE
        self.base = 0
        self.error = None
        self.hb_stream = 0
        self.hb_type = 0
        self.hb_end_stream = False
        self.hb_promised = 0
        self.hb_len = 0
        self.hb_frames = 0

    def __dealloc__(self):
        free(self.buf)
        free(self.hb)

    @property
    def max_frame_size(self):
        """The largest frame payload accepted (our SETTINGS_MAX_FRAME_SIZE)."""
        return self._max_frame_size

    @max_frame_size.setter
    def max_frame_size(self, value):
        if not DEFAULT_MAX_FRAME_SIZE <= value <= MAX_FRAME_SIZE_LIMIT:
            raise ValueError(R.INVALID_FRAME_SIZE)
        self._max_frame_size = value

    @property
    def max_header_block_size(self):
        return self._max_header_block_size

    @property
    def max_continuation_frames(self):
        return self._max_continuation_frames

    @property
    def max_settings_entries(self):
        return self._max_settings_entries

    @property
    def buffered(self):
        """Octets of an unfinished frame held: at EOF, more than 0 means a cut frame."""
        return self.buf_len

    @property
    def in_field_block(self):
        """True between a HEADERS or PUSH_PROMISE without END_HEADERS and its last CONTINUATION."""
        return self.hb_stream != 0

    @cython.always_allow_keywords(False)  # METH_O
    def feed(self, data):
        """The frames that `data` completes, in order (stream errors among them)."""
        cdef Py_buffer view
        if self.error is not None:
            raise self.error
        if type(data) is bytes:
            return self._feed(<const uchar *>PyBytes_AS_STRING(data), len(<bytes>data))
        if type(data) is not bytearray:
            view_of = memoryview(data)  # TypeError for what is not a buffer
            if not view_of.c_contiguous:
                data = view_of.tobytes()
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            return self._feed(<const uchar *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    cdef list _feed(self, const uchar *data, Py_ssize_t n):
        cdef const uchar *b
        cdef Py_ssize_t avail, pos, rest
        cdef list events = []
        if self.buf_len == 0:
            b = data
            avail = n
        else:
            _grow(&self.buf, &self.buf_cap, self.buf_len + n)
            memcpy(self.buf + self.buf_len, data, n)
            self.buf_len += n
            if self.buf_len < self.need:
                return events
            b = self.buf
            avail = self.buf_len
        try:
            pos = self._run(b, avail, events)
        except H2ConnectionError as exc:
            exc.events = events
            self.error = exc
            raise
        rest = avail - pos
        if rest:
            if b != self.buf:
                _grow(&self.buf, &self.buf_cap, rest)
                memcpy(self.buf, b + pos, rest)
            elif pos:
                memmove(self.buf, b + pos, rest)
        elif self.buf_cap > 65536:  # a large frame went through: give its memory back
            free(self.buf)
            self.buf = NULL
            self.buf_cap = 0
        self.buf_len = rest
        self.base += pos
        return events

    cdef object _fail(self, int rule, Py_ssize_t pos, int ftype):
        reason, code = _RULES[rule]
        return H2ConnectionError(reason, code, offset=self.base + pos, frame_type=ftype)

    cdef Py_ssize_t _run(self, const uchar *b, Py_ssize_t n, list events) except -1:
        """Read the frames of b[:n]; the position of the first octet not consumed."""
        cdef Py_ssize_t pos = 0, start, end, length, pad
        cdef int ftype, flags
        cdef u32 stream_id, value
        cdef Data data_ev
        cdef WindowUpdate window_ev
        cdef Settings settings_ev
        cdef Ping ping_ev
        cdef RstStream rst_ev
        cdef GoAway goaway_ev
        while n - pos >= HEADER_SIZE:
            length = (<Py_ssize_t>b[pos] << 16) | (<Py_ssize_t>b[pos + 1] << 8) | b[pos + 2]
            ftype = b[pos + 3]
            flags = b[pos + 4]
            stream_id = _u32(b + pos + 5) & MASK31
            self._check_header(length, ftype, flags, stream_id, pos)
            start = pos + HEADER_SIZE
            end = start + length
            if end > n:
                self.need = end - pos
                return pos
            if ftype == T_DATA:
                data_ev = Data.__new__(Data)
                data_ev.stream_id = stream_id
                if flags & F_PADDED:
                    pad = b[start]
                    if pad >= length:
                        raise self._fail(E_PADDING_TOO_LONG, pos, ftype)
                    data_ev.data = _bytes(b + start + 1, length - 1 - pad)
                else:
                    data_ev.data = _bytes(b + start, length)
                data_ev.end_stream = (flags & F_END_STREAM) != 0
                data_ev.flow_controlled_length = length
                events.append(data_ev)
            elif ftype == T_HEADERS or ftype == T_PUSH_PROMISE:
                self._field_block(b, pos, start, end, ftype, flags, stream_id, events)
            elif ftype == T_WINDOW_UPDATE:
                value = _u32(b + start) & MASK31
                if value:
                    window_ev = WindowUpdate.__new__(WindowUpdate)
                    window_ev.stream_id = stream_id
                    window_ev.increment = value
                    events.append(window_ev)
                elif stream_id:
                    reason, code = _RULES[E_ZERO_WINDOW_INCREMENT]
                    events.append(H2StreamError(reason, code, stream_id, offset=self.base + pos,
                                                frame_type=ftype))
                else:
                    raise self._fail(E_ZERO_WINDOW_INCREMENT, pos, ftype)
            elif ftype == T_SETTINGS:
                settings_ev = Settings.__new__(Settings)
                settings_ev.ack = (flags & F_ACK) != 0
                settings_ev.settings = [] if flags & F_ACK else self._settings(b, start, end, pos)
                events.append(settings_ev)
            elif ftype == T_PING:
                ping_ev = Ping.__new__(Ping)
                ping_ev.opaque = _bytes(b + start, length)
                ping_ev.ack = (flags & F_ACK) != 0
                events.append(ping_ev)
            elif ftype == T_RST_STREAM:
                rst_ev = RstStream.__new__(RstStream)
                rst_ev.stream_id = stream_id
                rst_ev.error_code = _u32(b + start)
                events.append(rst_ev)
            elif ftype == T_GOAWAY:
                goaway_ev = GoAway.__new__(GoAway)
                goaway_ev.last_stream_id = _u32(b + start) & MASK31
                goaway_ev.error_code = _u32(b + start + 4)
                goaway_ev.debug_data = _bytes(b + start + 8, length - 8)
                events.append(goaway_ev)
            elif ftype == T_CONTINUATION:
                self._continuation(b + start, length, flags, events)
            elif ftype == T_PRIORITY:
                if length != PRIORITY_SIZE:
                    reason, code = _RULES[E_WRONG_LENGTH]
                    events.append(H2StreamError(reason, code, stream_id, offset=self.base + pos,
                                                frame_type=ftype))
                else:
                    value = _u32(b + start)
                    events.append(Priority(stream_id, value & MASK31, b[start + 4] + 1,
                                           (value >> 31) == 1))
            # Any other type: discarded (§5.5).
            pos = end
        self.need = HEADER_SIZE
        return pos

    cdef int _check_header(self, Py_ssize_t length, int ftype, int flags, u32 stream_id,
                           Py_ssize_t pos) except -1:
        """The checks a frame header allows, in the order both twins make them."""
        if length > self._max_frame_size:
            raise self._fail(E_FRAME_TOO_LARGE, pos, ftype)
        if self.hb_stream:
            if ftype != T_CONTINUATION or stream_id != self.hb_stream:
                raise self._fail(E_CONTINUATION_EXPECTED, pos, ftype)
            if self.hb_frames >= self._max_continuation_frames:
                raise self._fail(E_TOO_MANY_CONTINUATIONS, pos, ftype)
            if self.hb_len + length > self._max_header_block_size:
                raise self._fail(E_HEADER_BLOCK_TOO_LARGE, pos, ftype)
            return 0
        if ftype > T_CONTINUATION:
            return 0
        if stream_id == 0:
            if ON_STREAM[ftype]:
                raise self._fail(E_STREAM_ID_REQUIRED, pos, ftype)
        elif ON_CONNECTION[ftype]:
            raise self._fail(E_STREAM_ID_FORBIDDEN, pos, ftype)
        if ftype == T_CONTINUATION:
            raise self._fail(E_CONTINUATION_UNEXPECTED, pos, ftype)
        if FIXED[ftype] >= 0:
            if length != FIXED[ftype]:
                raise self._fail(E_WRONG_LENGTH, pos, ftype)
        elif ftype == T_SETTINGS:
            if flags & F_ACK:
                if length:
                    raise self._fail(E_SETTINGS_ACK_WITH_PAYLOAD, pos, ftype)
            elif length % SETTING_SIZE:
                raise self._fail(E_SETTINGS_LENGTH, pos, ftype)
            elif length // SETTING_SIZE > self._max_settings_entries:
                raise self._fail(E_TOO_MANY_SETTINGS, pos, ftype)
        elif ftype == T_GOAWAY:
            if length < GOAWAY_MIN_SIZE:
                raise self._fail(E_TOO_SHORT, pos, ftype)
        elif ftype != T_PRIORITY:  # DATA, HEADERS, PUSH_PROMISE
            if length < _fixed_fields(ftype, flags):
                raise self._fail(E_TOO_SHORT, pos, ftype)
        return 0

    cdef int _field_block(self, const uchar *b, Py_ssize_t pos, Py_ssize_t start,
                          Py_ssize_t end, int ftype, int flags, u32 stream_id,
                          list events) except -1:
        """A HEADERS or PUSH_PROMISE frame: its event, or the start of a field block."""
        cdef Py_ssize_t fields = _fixed_fields(ftype, flags)
        cdef Py_ssize_t pad = b[start] if flags & F_PADDED else 0
        cdef u32 promised = 0
        cdef Py_ssize_t frag_start, frag_len
        cdef bint end_stream
        cdef Headers headers_ev
        if pad > end - start - fields:
            raise self._fail(E_PADDING_TOO_LONG, pos, ftype)
        if ftype == T_PUSH_PROMISE:
            promised = _u32(b + start + fields - 4) & MASK31
        frag_start = start + fields
        frag_len = end - pad - frag_start
        if frag_len > self._max_header_block_size:
            raise self._fail(E_HEADER_BLOCK_TOO_LARGE, pos, ftype)
        end_stream = (flags & F_END_STREAM) != 0 and ftype == T_HEADERS
        if flags & F_END_HEADERS:
            if ftype == T_HEADERS:
                headers_ev = Headers.__new__(Headers)
                headers_ev.stream_id = stream_id
                headers_ev.block = _bytes(b + frag_start, frag_len)
                headers_ev.end_stream = end_stream
                events.append(headers_ev)
            else:
                events.append(PushPromise(stream_id, promised, _bytes(b + frag_start, frag_len)))
            return 0
        self.hb_stream = stream_id
        self.hb_type = ftype
        self.hb_end_stream = end_stream
        self.hb_promised = promised
        self.hb_len = 0
        self._hb_append(b + frag_start, frag_len)
        self.hb_frames = 0
        return 0

    cdef int _hb_append(self, const uchar *p, Py_ssize_t n) except -1:
        _grow(&self.hb, &self.hb_cap, self.hb_len + n)
        if n:
            memcpy(self.hb + self.hb_len, p, n)
        self.hb_len += n
        return 0

    cdef int _continuation(self, const uchar *p, Py_ssize_t n, int flags,
                           list events) except -1:
        """A CONTINUATION of the open field block (the header check made sure of it)."""
        cdef u32 stream_id
        cdef bytes block
        self._hb_append(p, n)
        self.hb_frames += 1
        if not flags & F_END_HEADERS:
            return 0
        block = _bytes(self.hb, self.hb_len)
        self.hb_len = 0
        if self.hb_cap > 65536:
            free(self.hb)
            self.hb = NULL
            self.hb_cap = 0
        stream_id = self.hb_stream
        self.hb_stream = 0
        if self.hb_type == T_HEADERS:
            events.append(Headers(stream_id, block, self.hb_end_stream))
        else:
            events.append(PushPromise(stream_id, self.hb_promised, block))
        return 0

    cdef list _settings(self, const uchar *b, Py_ssize_t start, Py_ssize_t end, Py_ssize_t pos):
        """The pairs of a SETTINGS frame, each value checked against §6.5.2."""
        cdef list pairs = []
        cdef Py_ssize_t p
        cdef int ident
        cdef u32 value
        for p in range(start, end, SETTING_SIZE):
            ident = (b[p] << 8) | b[p + 1]
            value = _u32(b + p + 2)
            if ident < N_TYPES and B_HAS[ident] and not B_LO[ident] <= value <= B_HI[ident]:
                raise self._fail(B_RULE[ident], pos, T_SETTINGS)
            pairs.append((ident, value))
        return pairs


# -- the writer ------------------------------------------------------------------------

cdef int _get_view(object obj, Py_buffer *view) except -1:
    """A simple buffer over any bytes-like object (a copy if it is not contiguous)."""
    if type(obj) is not bytes and type(obj) is not bytearray:
        view_of = memoryview(obj)  # TypeError for what is not a buffer
        if not view_of.c_contiguous:
            obj = view_of.tobytes()
    PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    return 0


cdef bytes _frame(int ftype, int flags, u32 stream_id, const uchar *payload, Py_ssize_t n):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, HEADER_SIZE + n)
    cdef uchar *p = <uchar *>PyBytes_AS_STRING(out)
    _put_header(p, n, ftype, flags, stream_id)
    if n:
        memcpy(p + HEADER_SIZE, payload, n)
    return out


def data(stream_id, payload, end_stream=False):
    """A DATA frame (§6.1), unpadded (see _frames_py.data)."""
    cdef Py_buffer view
    if not (isinstance(stream_id, int) and 0 < stream_id <= MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(stream_id))
    if type(payload) is bytes:
        if len(<bytes>payload) > MAX_FRAME_SIZE_LIMIT:
            raise LocalProtocolError(R.PAYLOAD_TOO_LARGE, str(len(<bytes>payload)))
        return _frame(T_DATA, F_END_STREAM if end_stream else 0, <u32>stream_id,
                      <const uchar *>PyBytes_AS_STRING(payload), len(<bytes>payload))
    _get_view(payload, &view)
    try:
        if view.len > MAX_FRAME_SIZE_LIMIT:
            raise LocalProtocolError(R.PAYLOAD_TOO_LARGE, str(view.len))
        return _frame(T_DATA, F_END_STREAM if end_stream else 0, <u32>stream_id,
                      <const uchar *>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


def headers(stream_id, block, end_stream=False, max_frame_size=R.DEFAULT_MAX_FRAME_SIZE):
    """A field block as HEADERS and CONTINUATION frames (see _frames_py.headers)."""
    cdef Py_buffer view
    cdef Py_ssize_t size, limit, count, at, piece
    cdef int flags
    cdef bytes out
    cdef uchar *p
    cdef const uchar *src
    if not (isinstance(stream_id, int) and 0 < stream_id <= MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(stream_id))
    if not (isinstance(max_frame_size, int)
            and DEFAULT_MAX_FRAME_SIZE <= max_frame_size <= MAX_FRAME_SIZE_LIMIT):
        raise LocalProtocolError(R.INVALID_FRAME_SIZE, repr(max_frame_size))
    limit = max_frame_size
    _get_view(block, &view)
    try:
        size = view.len
        src = <const uchar *>view.buf
        flags = F_END_STREAM if end_stream else 0
        if size <= limit:
            return _frame(T_HEADERS, flags | F_END_HEADERS, <u32>stream_id, src, size)
        count = (size + limit - 1) // limit
        out = PyBytes_FromStringAndSize(NULL, size + count * HEADER_SIZE)
        p = <uchar *>PyBytes_AS_STRING(out)
        at = 0
        while at < size:
            piece = size - at if size - at < limit else limit
            if at == 0:
                _put_header(p, piece, T_HEADERS, flags, <u32>stream_id)
            else:
                _put_header(p, piece, T_CONTINUATION,
                            F_END_HEADERS if at + piece >= size else 0, <u32>stream_id)
            memcpy(p + HEADER_SIZE, src + at, piece)
            p += HEADER_SIZE + piece
            at += piece
        return out
    finally:
        PyBuffer_Release(&view)


def settings(pairs=()):
    """A SETTINGS frame (§6.5) with `pairs` of (identifier, value) (see _frames_py.settings)."""
    cdef bytearray body = bytearray()
    cdef uchar entry[6]
    for ident, value in pairs:
        if not (isinstance(ident, int) and isinstance(value, int) and 0 <= ident <= 0xFFFF
                and 0 <= value <= MAX_SETTING_VALUE):
            raise LocalProtocolError(R.INVALID_SETTING, f"{ident!r}={value!r}")
        bounds = R.SETTING_BOUNDS.get(ident)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise LocalProtocolError(R.INVALID_SETTING, f"{ident!r}={value!r}")
        entry[0] = (<int>ident >> 8) & 0xFF
        entry[1] = <int>ident & 0xFF
        _put_u32(entry + 2, <u32>value)
        body += (<char *>entry)[:6]
    if len(body) > MAX_FRAME_SIZE_LIMIT:
        raise LocalProtocolError(R.PAYLOAD_TOO_LARGE, str(len(body)))
    return _frame(T_SETTINGS, 0, 0, <const uchar *>PyByteArray_AS_STRING(body), len(body))


cdef bytes _SETTINGS_ACK = _frame(T_SETTINGS, F_ACK, 0, NULL, 0)


def settings_ack():
    """The acknowledgement of the peer's SETTINGS (§6.5.3)."""
    return _SETTINGS_ACK


def ping(opaque, ack=False):
    """A PING (§6.7) with 8 octets of `opaque` data; `ack` to answer the peer's."""
    cdef Py_buffer view
    _get_view(opaque, &view)
    try:
        if view.len != PING_SIZE:
            raise LocalProtocolError(R.INVALID_PING_DATA, str(view.len))
        return _frame(T_PING, F_ACK if ack else 0, 0, <const uchar *>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


def goaway(last_stream_id, error_code, debug_data=b""):
    """A GOAWAY (§6.8): the last stream we processed, why we leave, and debug data."""
    cdef Py_buffer view
    cdef bytes out
    cdef uchar *p
    if not (isinstance(last_stream_id, int) and 0 <= last_stream_id <= MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(last_stream_id))
    if not (isinstance(error_code, int) and 0 <= error_code <= 0xFFFFFFFF):
        raise LocalProtocolError(R.INVALID_ERROR_CODE, repr(error_code))
    _get_view(debug_data, &view)
    try:
        if view.len > MAX_FRAME_SIZE_LIMIT - GOAWAY_MIN_SIZE:
            raise LocalProtocolError(R.PAYLOAD_TOO_LARGE, str(view.len))
        out = PyBytes_FromStringAndSize(NULL, HEADER_SIZE + 8 + view.len)
        p = <uchar *>PyBytes_AS_STRING(out)
        _put_header(p, 8 + view.len, T_GOAWAY, 0, 0)
        _put_u32(p + HEADER_SIZE, <u32>last_stream_id)
        _put_u32(p + HEADER_SIZE + 4, <u32>error_code)
        if view.len:
            memcpy(p + HEADER_SIZE + 8, view.buf, view.len)
        return out
    finally:
        PyBuffer_Release(&view)


def rst_stream(stream_id, error_code):
    """A RST_STREAM (§6.4) ending `stream_id` with `error_code`."""
    cdef uchar body[4]
    if not (isinstance(stream_id, int) and 0 < stream_id <= MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(stream_id))
    if not (isinstance(error_code, int) and 0 <= error_code <= 0xFFFFFFFF):
        raise LocalProtocolError(R.INVALID_ERROR_CODE, repr(error_code))
    _put_u32(body, <u32>error_code)
    return _frame(T_RST_STREAM, 0, <u32>stream_id, body, 4)


def window_update(stream_id, increment):
    """A WINDOW_UPDATE (§6.9) for `stream_id`, or for the connection with stream 0."""
    cdef uchar body[4]
    if not (isinstance(stream_id, int) and 0 <= stream_id <= MAX_STREAM_ID):
        raise LocalProtocolError(R.INVALID_STREAM_ID, repr(stream_id))
    if not (isinstance(increment, int) and 0 < increment <= MAX_WINDOW_SIZE):
        raise LocalProtocolError(R.INVALID_INCREMENT, repr(increment))
    _put_u32(body, <u32>increment)
    return _frame(T_WINDOW_UPDATE, 0, <u32>stream_id, body, 4)


def client_preface(settings_pairs=R.CLIENT_SETTINGS, connection_window=R.CLIENT_CONNECTION_WINDOW):
    """What a client sends first (§3.4): the preface, its SETTINGS, and a WINDOW_UPDATE
    raising the connection's window to `connection_window` (§6.9.2)."""
    if not (isinstance(connection_window, int)
            and DEFAULT_WINDOW_SIZE <= connection_window <= MAX_WINDOW_SIZE):
        raise LocalProtocolError(R.INVALID_INCREMENT, repr(connection_window))
    out = R.PREFACE + settings(settings_pairs)
    if connection_window > DEFAULT_WINDOW_SIZE:
        out += window_update(0, connection_window - DEFAULT_WINDOW_SIZE)
    return out
