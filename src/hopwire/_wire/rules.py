"""Protocol facts, each stated once.

Both parser twins, the header filter and (later) the connection layer read
these names; the C twin imports this module at load time, and a test proves
that the tables it compiles in agree with the ones here.
"""

from __future__ import annotations

# -- limits (defaults of the parser options) ---------------------------------

MAX_LINE_SIZE = 8190  # bytes of one line, without its CRLF
MAX_HEADER_SIZE = 65536  # bytes of the start line and field lines, CRLFs included
MAX_HEADERS = 100  # field lines in one header or trailer section

# Content-Length and chunk sizes must fit a signed 64-bit integer.
MAX_BODY_LENGTH = (1 << 63) - 1

# -- bytes -------------------------------------------------------------------

# RFC 9110 §5.6.2: tchar.
TCHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# RFC 9110 §5.5: field-vchar plus SP and HTAB inside a value (obs-text allowed).
VALUE_CHARS = frozenset([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)])
# RFC 9112 §3.2: request-target is ASCII without controls or spaces.
TARGET_CHARS = frozenset(range(0x21, 0x7F))
HEXDIGITS = frozenset(b"0123456789abcdefABCDEF")

# -- fields ------------------------------------------------------------------

# RFC 9110 §7.6.1 names `Connection` and the fields it lists; these are the
# fields that are hop-by-hop whether or not `Connection` names them.
HOP_BY_HOP = frozenset(
    [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    ]
)

# RFC 9112 §7: codings a request may carry before the final `chunked`.
TRANSFER_CODINGS = frozenset([b"chunked", b"gzip", b"x-gzip", b"deflate", b"compress", b"x-compress"])

# RFC 9110 §9.2.2.
IDEMPOTENT_METHODS = frozenset([b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"])
SAFE_METHODS = frozenset([b"GET", b"HEAD", b"OPTIONS", b"TRACE"])

# -- parse errors: (reason, status hint) ------------------------------------
# A reason names the rule that was broken; the status hint is what a server
# would answer. Both twins raise exactly these pairs.

INVALID_METHOD = ("invalid character in method", 400)
INVALID_TARGET = ("invalid character in request target", 400)
MISSING_VERSION = ("request line has no HTTP version (HTTP/0.9 is not supported)", 400)
INVALID_VERSION = ("invalid HTTP version", 400)
UNSUPPORTED_VERSION = ("unsupported HTTP version", 505)
INVALID_STATUS = ("invalid status code", 400)
INVALID_REASON = ("invalid character in reason phrase", 400)
INVALID_NAME = ("invalid character in field name", 400)
EMPTY_NAME = ("empty field name", 400)
SPACE_BEFORE_COLON = ("whitespace between field name and colon (RFC 9112 §5.1)", 400)
MISSING_COLON = ("field line has no colon", 400)
INVALID_VALUE = ("invalid character in field value", 400)
OBS_FOLD = ("obsolete line folding in a request (RFC 9112 §5.2)", 400)
OBS_FOLD_IN_FRAMING = ("obsolete line folding in a field that frames the message or steers the connection", 400)
SPACE_AFTER_START_LINE = ("whitespace after the start line (RFC 9112 §2.2)", 400)
BARE_CR = ("bare CR: expected LF after CR (RFC 9112 §2.2)", 400)
BARE_LF = ("bare LF: expected CRLF (RFC 9112 §2.2)", 400)
LINE_TOO_LONG = ("line too long", 400)
REQUEST_LINE_TOO_LONG = ("request line too long", 414)
FIELD_LINE_TOO_LONG = ("field line too long", 431)
HEADER_TOO_LARGE = ("header section too large", 431)
TOO_MANY_HEADERS = ("too many header fields", 431)
INVALID_CONTENT_LENGTH = ("invalid Content-Length", 400)
CONTENT_LENGTH_OVERFLOW = ("Content-Length too large", 413)
CONFLICTING_CONTENT_LENGTH = ("conflicting Content-Length values", 400)
CONTENT_LENGTH_WITH_TE = ("both Content-Length and Transfer-Encoding (RFC 9112 §6.3)", 400)
INVALID_TRANSFER_ENCODING = ("invalid Transfer-Encoding", 400)
UNKNOWN_TRANSFER_CODING = ("unknown transfer coding", 501)
CHUNKED_NOT_LAST = ("chunked is not the final transfer coding of a request (RFC 9112 §6.3)", 400)
CHUNKED_TWICE = ("chunked applied more than once (RFC 9112 §7.1)", 400)
TE_IN_HTTP10_REQUEST = ("Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)", 400)
INVALID_CHUNK_SIZE = ("invalid chunk size", 400)
CHUNK_SIZE_OVERFLOW = ("chunk size too large", 413)
INVALID_CHUNK_EXT = ("invalid chunk extension", 400)
MISSING_CHUNK_CRLF = ("expected CRLF after chunk data", 400)
DATA_AFTER_CLOSE = ("data after a message that closes the connection", 400)
INCOMPLETE_MESSAGE = ("connection closed before the message was complete", 400)
FEED_AFTER_EOF = ("data fed after feed_eof()", 400)
