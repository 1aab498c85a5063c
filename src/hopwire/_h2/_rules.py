"""HTTP/2 protocol facts (RFC 9113), each stated once.

Both frame codec twins read these names (the C twin copies the numbers into C
constants when it is imported, and the suite checks the copies), and so will the
HTTP/2 connection. Facts HTTP/2 shares with HTTP/1.1 (the hop-by-hop fields, the
size of a header section) are taken from `hopwire._wire.rules`, not restated.

The error rules at the end are (reason, error code) pairs: both twins raise
exactly these, as `hopwire._h2._errors.H2ConnectionError` or `H2StreamError`.
"""

from __future__ import annotations

from enum import IntEnum

from hopwire._wire import rules as _h1

# -- the wire ------------------------------------------------------------------------

# §3.4: what a client sends first, before its SETTINGS frame.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# §4.1: length (24 bits), type, flags, then R + stream identifier (31 bits).
FRAME_HEADER_SIZE = 9
MAX_STREAM_ID = (1 << 31) - 1
# §4.1: a 24-bit length field; §4.2: the largest SETTINGS_MAX_FRAME_SIZE.
MAX_FRAME_SIZE_LIMIT = (1 << 24) - 1
# §4.2, §6.5.2: every endpoint accepts this much until told more.
DEFAULT_MAX_FRAME_SIZE = 1 << 14
# §6.5.1: a setting is a 16-bit identifier and a 32-bit value.
SETTING_SIZE = 6
MAX_SETTING_VALUE = (1 << 32) - 1
# §6.8: Last-Stream-ID and Error Code, then the optional debug data.
GOAWAY_MIN_SIZE = 8
# §5.2.1, §6.9.1: flow-control windows start at 65,535 and never exceed 2^31-1.
DEFAULT_WINDOW_SIZE = (1 << 16) - 1
MAX_WINDOW_SIZE = (1 << 31) - 1


class FrameType(IntEnum):
    """§6: the frame types of RFC 9113; every other type is ignored (§5.5)."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


# §6: the types whose frames belong to a stream, and those whose frames must be
# on stream 0; WINDOW_UPDATE may be either (§6.9).
STREAM_FRAME_TYPES = frozenset([FrameType.DATA, FrameType.HEADERS, FrameType.PRIORITY,
                                FrameType.RST_STREAM, FrameType.PUSH_PROMISE,
                                FrameType.CONTINUATION])
CONNECTION_FRAME_TYPES = frozenset([FrameType.SETTINGS, FrameType.PING, FrameType.GOAWAY])
# §6.3, §6.4, §6.7, §6.9: the payload sizes fixed by the frame type.
FIXED_FRAME_SIZES = {FrameType.PRIORITY: 5, FrameType.RST_STREAM: 4, FrameType.PING: 8,
                     FrameType.WINDOW_UPDATE: 4}
PING_PAYLOAD_SIZE = FIXED_FRAME_SIZES[FrameType.PING]

# §6: flags, by the frame types that define them; unused flags are ignored (§4.1).
FLAG_END_STREAM = 0x01  # DATA, HEADERS
FLAG_ACK = 0x01  # SETTINGS, PING
FLAG_END_HEADERS = 0x04  # HEADERS, PUSH_PROMISE, CONTINUATION
FLAG_PADDED = 0x08  # DATA, HEADERS, PUSH_PROMISE
FLAG_PRIORITY = 0x20  # HEADERS (its priority fields are deprecated, §5.3.2)


class ErrorCode(IntEnum):
    """§7. Codes not listed here may arrive and are not errors (§7: no special behaviour)."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


class SettingId(IntEnum):
    """§6.5.2. Unknown identifiers are passed on by the reader and ignored by the connection."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6


# RFC 7541 §4.2, RFC 9113 §6.5.2: the HPACK dynamic table size until the peer sets one.
DEFAULT_HEADER_TABLE_SIZE = 4096

# §6.5.2: the value of each setting until the peer sends one (None: unlimited).
DEFAULT_SETTINGS: dict[SettingId, int | None] = {
    SettingId.HEADER_TABLE_SIZE: DEFAULT_HEADER_TABLE_SIZE,
    SettingId.ENABLE_PUSH: 1,
    SettingId.MAX_CONCURRENT_STREAMS: None,
    SettingId.INITIAL_WINDOW_SIZE: DEFAULT_WINDOW_SIZE,
    SettingId.MAX_FRAME_SIZE: DEFAULT_MAX_FRAME_SIZE,
    SettingId.MAX_HEADER_LIST_SIZE: None,
}

# -- fields ----------------------------------------------------------------------------

# §8.2.2: a message carrying any of these is malformed. They are HTTP/1.1's
# hop-by-hop fields but for three HTTP/2 keeps end to end (Trailer announces
# trailers; the Proxy-Auth* pair is how a proxy authenticates) and TE, which a
# request may carry with the one value below.
CONNECTION_SPECIFIC = _h1.HOP_BY_HOP - {
    b"te", b"trailer", b"proxy-authenticate", b"proxy-authorization"}
TE_ALLOWED = b"trailers"

# §8.3.1, §8.3.2: the pseudo-header fields each kind of message may carry
# (RFC 8441's :protocol only once SETTINGS_ENABLE_CONNECT_PROTOCOL allows it).
REQUEST_PSEUDO_HEADERS = frozenset([b":method", b":scheme", b":authority", b":path"])
RESPONSE_PSEUDO_HEADERS = frozenset([b":status"])

# -- limits our client applies by default -------------------------------------------------
# Enforced by the frame reader (options of FrameReader):

# A field block (HEADERS or PUSH_PROMISE and its CONTINUATION payloads, joined) is
# buffered whole before HPACK can decode it (§4.3, §10.5.1). An HPACK block is no
# larger than the same fields written as HTTP/1.1 field lines, give or take an octet
# a field: the HTTP/1.1 head budget bounds it, and the memory a peer can pin.
MAX_HEADER_BLOCK_SIZE = _h1.MAX_HEADER_SIZE
# CONTINUATION floods (CVE-2024-27316 and kin): empty or tiny CONTINUATION frames
# cost a header parse each and never grow the block past the size bound. 16 lets
# the largest block we accept arrive in 4 KiB fragments (a quarter of the smallest
# SETTINGS_MAX_FRAME_SIZE) plus the empty closing frame §10.5 calls legitimate.
MAX_CONTINUATION_FRAMES = 16
# SETTINGS entries are processed in order with no other frame between (§6.5.3): a
# 16 KiB frame of 2,730 repeated entries buys a peer CPU for little wire (§10.5).
# Real peers send fewer than ten; 32 is the bound nghttp2 and Node.js adopted for
# CVE-2020-11080.
MAX_SETTINGS_ENTRIES = 32

# For the connection (phase 2), stated here so that the numbers live in one place:

# SETTINGS and PING without ACK each oblige a reply (§6.5.3, §6.7). A peer that
# sends them faster than it reads our replies makes us queue without bound
# (CVE-2019-9512 ping flood, CVE-2019-9515 settings flood): past this many unsent
# replies the connection ends with ENHANCE_YOUR_CALM (nghttp2's default is the same).
MAX_PENDING_REPLIES = 1000
# Empty DATA frames without END_STREAM carry nothing and cost a frame each
# (CVE-2019-9518): more than this many in a row end the connection, ENHANCE_YOUR_CALM.
MAX_EMPTY_DATA_FRAMES = 100

# Frames that change nothing, in a row: RST_STREAM or WINDOW_UPDATE on a closed stream,
# PRIORITY (deprecated, §5.3.2), a field block on a stream we reset. Each is legitimate
# once (a race with our RST_STREAM, §5.1), none is worth a stream of them (§10.5): past
# this many without a field block or data between them, ENHANCE_YOUR_CALM.
MAX_IGNORED_FRAMES = 1000
# Closed streams whose fate the connection remembers at least (§5.1: how a stream closed
# decides whether a late frame on it is ignored, a stream error or a connection error):
# the newest this many; past twice as many, the older ones are forgotten at once, and
# late frames on them are ignored (§5.1 lets a sender of RST_STREAM limit how long it
# ignores them; we never turn them into errors).
MAX_CLOSED_STREAMS = 1024

# What our client assumes of the server's SETTINGS_MAX_CONCURRENT_STREAMS until its
# SETTINGS frame arrives (§5.1.2, §6.5.2: 100 is the smallest value the RFC recommends
# a server allow; nginx's default is 128). Streams beyond the server's real limit would
# be refused (REFUSED_STREAM) and replayed.
ASSUMED_MAX_CONCURRENT_STREAMS = 100

# What our client sends in its preface (§3.4): no server push (§8.4, we would only
# refuse the streams), and stream windows of 1 MiB so that one stream can fill a
# 100 Mbit/s link at 80 ms RTT before waiting for a WINDOW_UPDATE (§5.2.3).
# SETTINGS_MAX_HEADER_LIST_SIZE and SETTINGS_HEADER_TABLE_SIZE are the HPACK
# decoder's limits: the connection adds them from the decoder it configures.
CLIENT_INITIAL_WINDOW_SIZE = 1 << 20
CLIENT_SETTINGS: tuple[tuple[int, int], ...] = (
    (SettingId.ENABLE_PUSH, 0),
    (SettingId.INITIAL_WINDOW_SIZE, CLIENT_INITIAL_WINDOW_SIZE),
)
# The connection window only grows by WINDOW_UPDATE (§6.9.2): the preface raises it
# to 16 streams' worth of the stream window.
CLIENT_CONNECTION_WINDOW = 16 * CLIENT_INITIAL_WINDOW_SIZE

# -- errors: (reason, error code) ------------------------------------------------------
# A reason names the rule that was broken. Each is a connection error (§5.4.1)
# unless noted: the reader is then unusable, as the connection is. §4.2 would let a
# frame size error in a DATA frame be a stream error; we end the connection (§5.4.1:
# "MAY choose to treat a stream error as a connection error"): a peer that ignores
# our SETTINGS_MAX_FRAME_SIZE or the layout of a frame is not one to keep talking to.

E = ErrorCode
FRAME_TOO_LARGE = ("frame larger than our SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2)",
                   E.FRAME_SIZE_ERROR)
STREAM_ID_REQUIRED = ("frame of this type on stream 0 (RFC 9113 §6)", E.PROTOCOL_ERROR)
STREAM_ID_FORBIDDEN = ("frame of this type on a stream other than 0 (RFC 9113 §6)",
                       E.PROTOCOL_ERROR)
# A stream error (§5.4.2) for PRIORITY (§6.3); a connection error for RST_STREAM,
# PING and WINDOW_UPDATE (§6.4, §6.7, §6.9).
WRONG_LENGTH = ("frame length not the fixed length of its type (RFC 9113 §6.3, §6.4, "
                "§6.7, §6.9)", E.FRAME_SIZE_ERROR)
TOO_SHORT = ("frame too short for its mandatory fields (RFC 9113 §4.2)", E.FRAME_SIZE_ERROR)
PADDING_TOO_LONG = ("padding longer than the frame payload leaves room for (RFC 9113 §6.1, "
                    "§6.2, §6.6)", E.PROTOCOL_ERROR)
SETTINGS_ACK_WITH_PAYLOAD = ("SETTINGS ACK with a payload (RFC 9113 §6.5)",
                             E.FRAME_SIZE_ERROR)
SETTINGS_LENGTH = ("SETTINGS length not a multiple of 6 (RFC 9113 §6.5)",
                   E.FRAME_SIZE_ERROR)
INVALID_ENABLE_PUSH = ("SETTINGS_ENABLE_PUSH neither 0 nor 1 (RFC 9113 §6.5.2)",
                       E.PROTOCOL_ERROR)
INVALID_INITIAL_WINDOW_SIZE = ("SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (RFC 9113 §6.5.2)",
                               E.FLOW_CONTROL_ERROR)
INVALID_MAX_FRAME_SIZE = ("SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1 (RFC 9113 §6.5.2)",
                          E.PROTOCOL_ERROR)
TOO_MANY_SETTINGS = ("more SETTINGS entries in one frame than we process (RFC 9113 §10.5)",
                     E.ENHANCE_YOUR_CALM)
# A stream error on a stream, a connection error on stream 0 (§6.9).
ZERO_WINDOW_INCREMENT = ("WINDOW_UPDATE with an increment of 0 (RFC 9113 §6.9)",
                         E.PROTOCOL_ERROR)
CONTINUATION_EXPECTED = ("field block not continued by CONTINUATION on its stream "
                         "(RFC 9113 §4.3, §6.10)", E.PROTOCOL_ERROR)
CONTINUATION_UNEXPECTED = ("CONTINUATION without an unfinished field block (RFC 9113 §6.10)",
                           E.PROTOCOL_ERROR)
# Ours, not the RFC's: the limits above. ENHANCE_YOUR_CALM is §7's code for a peer
# "generating excessive load"; the block is not decoded, so the HPACK state is lost
# and only a connection error is possible (§4.3, §10.5.1).
TOO_MANY_CONTINUATIONS = ("more CONTINUATION frames in one field block than we accept "
                          "(RFC 9113 §10.5)", E.ENHANCE_YOUR_CALM)
HEADER_BLOCK_TOO_LARGE = ("field block larger than we accept (RFC 9113 §10.5.1)",
                          E.ENHANCE_YOUR_CALM)
del E

# §6.5.2: settings whose values have bounds, their (lowest, highest) value and the
# rule broken outside them; every other setting takes any 32-bit value.
SETTING_BOUNDS: dict[int, tuple[int, int, tuple[str, ErrorCode]]] = {
    SettingId.ENABLE_PUSH: (0, 1, INVALID_ENABLE_PUSH),
    SettingId.INITIAL_WINDOW_SIZE: (0, MAX_WINDOW_SIZE, INVALID_INITIAL_WINDOW_SIZE),
    SettingId.MAX_FRAME_SIZE: (DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT,
                               INVALID_MAX_FRAME_SIZE),
}

# -- the writer's refusals (LocalProtocolError reasons) -----------------------------------

INVALID_STREAM_ID = "stream identifier out of range for this frame (RFC 9113 §5.1.1)"
INVALID_ERROR_CODE = "error code not a 32-bit unsigned integer (RFC 9113 §7)"
INVALID_INCREMENT = "window increment outside 1..2^31-1 (RFC 9113 §6.9)"
INVALID_PING_DATA = "PING opaque data not 8 octets (RFC 9113 §6.7)"
INVALID_SETTING = "setting identifier or value out of range (RFC 9113 §6.5.1, §6.5.2)"
PAYLOAD_TOO_LARGE = "frame payload larger than the frame size allows (RFC 9113 §4.2)"
INVALID_FRAME_SIZE = "max_frame_size outside 2^14..2^24-1 (RFC 9113 §4.2)"
