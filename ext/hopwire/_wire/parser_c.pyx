# cython: language_level=3
"""The C twin of hopwire's HTTP/1.x parser.

Same names, events, errors and offsets as `hopwire._wire.parser_py`, which is the
readable definition of the grammar; this module walks the same lines with
the same left-to-right scanners, byte by byte over lookup tables, and builds
the header list in C (one bytes object per name and value, common names
shared, no Python call per header).

Only the unfinished line of the input is kept between feeds; a head that
arrives in pieces is never scanned twice. Body bytes of one feed are handed
out as one `Data`: the spans are remembered as pointers into the working buffer
and copied once, into one bytes object, when the event is made.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.ref cimport PyObject
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp, memcpy, memmove

from hopwire._wire import rules as R
from hopwire._errors import ParseError
from hopwire._wire.parser_py import unfold, parse_keep_alive

ctypedef unsigned char uchar

cdef extern from "_scan.h":
    Py_ssize_t hw_value_run(const uchar *p, Py_ssize_t i, Py_ssize_t stop, const uchar *table) noexcept nogil
    Py_ssize_t hw_target_run(const uchar *p, Py_ssize_t i, Py_ssize_t stop, const uchar *table) noexcept nogil

cdef enum:
    CR = 13
    LF = 10
    SP = 32
    HT = 9

# Parser states (the same numbering as the Python twin).
cdef enum:
    S_START, S_FIELDS, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_CRLF, S_TRAILERS, \
    S_UNTIL_CLOSE, S_CLOSED, S_SWITCHED, S_EOF, S_ERROR

# Error codes; _RULES maps each to its (reason, status) pair in _rules.
cdef enum:
    E_NONE, E_INVALID_METHOD, E_INVALID_TARGET, E_MISSING_VERSION, E_INVALID_VERSION,
    E_UNSUPPORTED_VERSION, E_INVALID_STATUS, E_INVALID_REASON, E_INVALID_NAME, E_EMPTY_NAME,
    E_SPACE_BEFORE_COLON, E_MISSING_COLON, E_INVALID_VALUE, E_OBS_FOLD, E_OBS_FOLD_IN_FRAMING,
    E_SPACE_AFTER_START_LINE, E_BARE_CR, E_BARE_LF, E_LINE_TOO_LONG, E_REQUEST_LINE_TOO_LONG,
    E_FIELD_LINE_TOO_LONG, E_HEADER_TOO_LARGE, E_TOO_MANY_HEADERS, E_INVALID_CONTENT_LENGTH,
    E_CONTENT_LENGTH_OVERFLOW, E_CONFLICTING_CONTENT_LENGTH, E_CONTENT_LENGTH_WITH_TE,
    E_INVALID_TRANSFER_ENCODING, E_UNKNOWN_TRANSFER_CODING, E_CHUNKED_NOT_LAST,
    E_CHUNKED_TWICE, E_TE_IN_HTTP10_REQUEST, E_INVALID_CHUNK_SIZE, E_CHUNK_SIZE_OVERFLOW,
    E_INVALID_CHUNK_EXT, E_MISSING_CHUNK_CRLF, E_DATA_AFTER_CLOSE, E_INCOMPLETE_MESSAGE,
    E_FEED_AFTER_EOF

_RULE_NAMES = (
    None, "INVALID_METHOD", "INVALID_TARGET", "MISSING_VERSION", "INVALID_VERSION",
    "UNSUPPORTED_VERSION", "INVALID_STATUS", "INVALID_REASON", "INVALID_NAME", "EMPTY_NAME",
    "SPACE_BEFORE_COLON", "MISSING_COLON", "INVALID_VALUE", "OBS_FOLD", "OBS_FOLD_IN_FRAMING",
    "SPACE_AFTER_START_LINE", "BARE_CR", "BARE_LF", "LINE_TOO_LONG", "REQUEST_LINE_TOO_LONG",
    "FIELD_LINE_TOO_LONG", "HEADER_TOO_LARGE", "TOO_MANY_HEADERS", "INVALID_CONTENT_LENGTH",
    "CONTENT_LENGTH_OVERFLOW", "CONFLICTING_CONTENT_LENGTH", "CONTENT_LENGTH_WITH_TE",
    "INVALID_TRANSFER_ENCODING", "UNKNOWN_TRANSFER_CODING", "CHUNKED_NOT_LAST",
    "CHUNKED_TWICE", "TE_IN_HTTP10_REQUEST", "INVALID_CHUNK_SIZE", "CHUNK_SIZE_OVERFLOW",
    "INVALID_CHUNK_EXT", "MISSING_CHUNK_CRLF", "DATA_AFTER_CLOSE", "INCOMPLETE_MESSAGE",
    "FEED_AFTER_EOF",
)
_RULES = [None] + [getattr(R, name) for name in _RULE_NAMES[1:]]

cdef enum:
    NEED = -1  # a line is still incomplete

cdef long long MAX_BODY = R.MAX_BODY_LENGTH


cdef object _error(int code, long long offset):
    reason, status = _RULES[code]
    return ParseError(reason, offset, status)


cdef int _fail(int code, long long offset) except -1:
    raise _error(code, offset)


# -- byte tables, built from _rules so that both twins read one definition ----

cdef uchar T_TCHAR[256]
cdef uchar T_VALUE[256]
cdef uchar T_TARGET[256]
cdef uchar T_HEX[256]      # digit value + 1, 0 for a non-hex byte
cdef uchar T_LOWER[256]

cdef void _build_tables():
    cdef int i
    for i in range(256):
        T_TCHAR[i] = i in R.TCHARS
        T_VALUE[i] = i in R.VALUE_CHARS
        T_TARGET[i] = i in R.TARGET_CHARS
        T_HEX[i] = int(chr(i), 16) + 1 if i in R.HEXDIGITS else 0
        T_LOWER[i] = i + 32 if 65 <= i <= 90 else i

_build_tables()


def _tables():
    """The compiled-in byte classes, for the test that checks them against _rules."""
    return {
        "TCHARS": frozenset(i for i in range(256) if T_TCHAR[i]),
        "VALUE_CHARS": frozenset(i for i in range(256) if T_VALUE[i]),
        "TARGET_CHARS": frozenset(i for i in range(256) if T_TARGET[i]),
        "HEXDIGITS": frozenset(i for i in range(256) if T_HEX[i]),
    }


# -- shared bytes objects for common names, methods and versions --------------

cdef enum:
    K_CL = 1
    K_TE = 2
    K_CONN = 3
    K_PCONN = 4
    K_UPG = 5

cdef enum:
    MAX_CACHED_NAME = 32
    N_NAMES = 64

_SPECIAL_NAMES = {
    b"content-length": K_CL, b"transfer-encoding": K_TE, b"connection": K_CONN,
    b"proxy-connection": K_PCONN, b"upgrade": K_UPG,
}
_COMMON_NAMES = sorted(set(_SPECIAL_NAMES) | R.HOP_BY_HOP | {
    b"host", b"user-agent", b"accept", b"accept-language", b"accept-encoding",
    b"accept-charset", b"accept-ranges", b"cookie", b"set-cookie", b"referer", b"origin",
    b"cache-control", b"pragma", b"content-type", b"content-encoding", b"content-language",
    b"content-range", b"content-disposition", b"date", b"server", b"expires", b"last-modified",
    b"etag", b"vary", b"location", b"upgrade-insecure-requests", b"sec-fetch-dest",
    b"sec-fetch-mode", b"sec-fetch-site", b"sec-fetch-user", b"sec-ch-ua", b"sec-ch-ua-mobile",
    b"sec-ch-ua-platform", b"dnt", b"if-none-match", b"if-modified-since", b"authorization",
    b"x-forwarded-for", b"x-forwarded-proto", b"x-requested-with", b"range", b"age", b"allow",
    b"via", b"x-powered-by", b"access-control-allow-origin", b"strict-transport-security",
    b"x-content-type-options", b"x-frame-options", b"alt-svc", b"expect",
}, key=len)

cdef PyObject *NAME_OBJ[N_NAMES]
cdef const char *NAME_PTR[N_NAMES]
cdef int NAME_KIND[N_NAMES]
cdef uchar NAME_FIRST[N_NAMES]
cdef uchar NAME_LAST[N_NAMES]
cdef int BUCKET_START[MAX_CACHED_NAME + 1]
cdef int BUCKET_END[MAX_CACHED_NAME + 1]

cdef void _build_names():
    cdef int i, n
    assert len(_COMMON_NAMES) <= N_NAMES
    for n in range(MAX_CACHED_NAME + 1):
        BUCKET_START[n] = 0
        BUCKET_END[n] = 0
    for i, name in enumerate(_COMMON_NAMES):
        n = len(name)
        assert n <= MAX_CACHED_NAME
        NAME_OBJ[i] = <PyObject *>name
        NAME_PTR[i] = PyBytes_AS_STRING(name)
        NAME_KIND[i] = _SPECIAL_NAMES.get(name, 0)
        NAME_FIRST[i] = name[0]
        NAME_LAST[i] = name[n - 1]
        if BUCKET_END[n] == 0:
            BUCKET_START[n] = i
        BUCKET_END[n] = i + 1

_build_names()

_METHODS = [b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE"]
cdef bytes V10 = b"1.0"
cdef bytes V11 = b"1.1"
cdef bytes EMPTY = b""
cdef bytes REASON_OK = b"OK"
cdef bytes M_GET = b"GET"
cdef bytes M_HEAD = b"HEAD"
cdef bytes M_CONNECT = b"CONNECT"


cdef object _name(const uchar *p, Py_ssize_t n, int *kind):
    """The lower-cased name as bytes (shared for common names) and its kind."""
    cdef Py_ssize_t i
    cdef int k
    cdef const uchar *cand
    cdef bytes out
    cdef char *w
    cdef uchar first, last
    if 0 < n <= MAX_CACHED_NAME:
        first = T_LOWER[p[0]]
        last = T_LOWER[p[n - 1]]
        for k in range(BUCKET_START[n], BUCKET_END[n]):
            # Same length, first and last byte: almost always the one.
            if NAME_FIRST[k] != first or NAME_LAST[k] != last:
                continue
            cand = <const uchar *>NAME_PTR[k]
            i = 1
            while i < n and T_LOWER[p[i]] == cand[i]:
                i += 1
            if i == n:
                kind[0] = NAME_KIND[k]
                return <object>NAME_OBJ[k]
    kind[0] = 0
    out = PyBytes_FromStringAndSize(NULL, n)
    w = PyBytes_AS_STRING(out)
    for i in range(n):
        w[i] = T_LOWER[p[i]]
    return out


cdef enum:
    N_METHODS = 9

cdef PyObject *METHOD_OBJ[N_METHODS]

for _i, _m in enumerate(_METHODS):
    METHOD_OBJ[_i] = <PyObject *>_m


cdef object _method(const uchar *p, Py_ssize_t n):
    """The method as bytes, shared for the common ones."""
    cdef int k
    cdef bytes m
    for k in range(N_METHODS):
        m = <bytes>METHOD_OBJ[k]
        if len(m) == n and memcmp(p, PyBytes_AS_STRING(m), n) == 0:
            return m
    return PyBytes_FromStringAndSize(<char *>p, n)


cdef inline object _bytes(const uchar *p, Py_ssize_t n):
    return PyBytes_FromStringAndSize(<char *>p, n)


# -- events ---------------------------------------------------------------------

cdef str _repr(object ev, tuple fields):
    body = ", ".join([f"{name}={getattr(ev, name)!r}" for name in fields])
    return f"{type(ev).__name__}({body})"


cdef object _richcmp(object a, object b, int op, tuple fields):
    if op != 2 and op != 3:
        return NotImplemented
    if type(a).__name__ != type(b).__name__:
        return NotImplemented
    same = all([getattr(a, n) == getattr(b, n, None) for n in fields])
    return same if op == 2 else not same


cdef tuple REQUEST_FIELDS = ("method", "target", "headers", "http_version", "keep_alive",
                             "content_length", "chunked", "upgrade", "hop_headers")
cdef tuple RESPONSE_FIELDS = ("status_code", "reason", "headers", "http_version", "keep_alive",
                              "content_length", "chunked", "upgrade", "hop_headers")
cdef tuple INFO_FIELDS = ("status_code", "reason", "headers", "http_version", "upgrade", "hop_headers")


@cython.freelist(128)
@cython.no_gc
cdef class Request:
    _fields = REQUEST_FIELDS

    def __init__(self, method, target, headers, http_version=b"1.1", keep_alive=True,
                 content_length=0, chunked=False, upgrade=False, hop_headers=None):
        self.method = method
        self.target = target
        self.headers = headers
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.chunked = chunked
        self.upgrade = upgrade
        self.hop_headers = hop_headers

    def __repr__(self):
        return _repr(self, REQUEST_FIELDS)

    def __richcmp__(self, other, int op):
        return _richcmp(self, other, op, REQUEST_FIELDS)



@cython.freelist(128)
@cython.no_gc
cdef class Response:
    _fields = RESPONSE_FIELDS

    def __init__(self, status_code, reason, headers, http_version=b"1.1", keep_alive=True,
                 content_length=None, chunked=False, upgrade=False, hop_headers=None):
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.chunked = chunked
        self.upgrade = upgrade
        self.hop_headers = hop_headers

    def __repr__(self):
        return _repr(self, RESPONSE_FIELDS)

    def __richcmp__(self, other, int op):
        return _richcmp(self, other, op, RESPONSE_FIELDS)



@cython.freelist(8)
@cython.no_gc
cdef class InformationalResponse:
    """A 1xx response; `upgrade` is true for 101, after which the parser stops."""
    _fields = INFO_FIELDS

    def __init__(self, status_code, reason, headers, http_version=b"1.1", upgrade=False,
                 hop_headers=None):
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.http_version = http_version
        self.upgrade = upgrade
        self.hop_headers = hop_headers

    def __repr__(self):
        return _repr(self, INFO_FIELDS)

    def __richcmp__(self, other, int op):
        return _richcmp(self, other, op, INFO_FIELDS)



@cython.freelist(128)
@cython.no_gc
cdef class Data:
    _fields = ("data",)

    def __init__(self, data):
        self.data = data

    def __repr__(self):
        return _repr(self, ("data",))

    def __richcmp__(self, other, int op):
        return _richcmp(self, other, op, ("data",))



@cython.freelist(128)
@cython.no_gc
cdef class EndOfMessage:
    """The end of a message; `headers` holds the trailer fields, if any."""
    _fields = ("headers",)

    def __init__(self, headers=None):
        self._headers = headers

    @property
    def headers(self):
        if self._headers is None:
            self._headers = []
        return self._headers

    @headers.setter
    def headers(self, value):
        self._headers = value

    def __repr__(self):
        return _repr(self, ("headers",))

    def __richcmp__(self, other, int op):
        return _richcmp(self, other, op, ("headers",))



cdef inline Data _data(object payload):
    cdef Data ev = Data.__new__(Data)
    ev.data = payload
    return ev


cdef inline EndOfMessage _eom(object headers):
    cdef EndOfMessage ev = EndOfMessage.__new__(EndOfMessage)
    ev._headers = headers
    return ev


# -- line scanners (the same walks as the Python twin's _scan_* functions) -----

cdef struct Scan:
    Py_ssize_t j      # first byte that is not valid content at its place
    int bad           # rule broken if that byte is not a line ending
    int eol           # rule broken if the line ends there (E_NONE: it may)
    Py_ssize_t a      # request: method end; field: colon
    Py_ssize_t b      # request: target end

cdef enum:
    L_REQUEST, L_STATUS, L_FIELD, L_FOLD, L_CHUNK

cdef const char *HTTP1 = b"HTTP/1."


cdef inline bint _scan_version(const uchar *b, Py_ssize_t v, Py_ssize_t stop, Scan *s) noexcept nogil:
    cdef Py_ssize_t i, k
    cdef uchar c
    cdef bint ok
    for i in range(8):
        k = v + i
        if k == stop:
            s.j = k
            s.bad = E_INVALID_VERSION
            s.eol = E_INVALID_VERSION
            return False
        c = b[k]
        if i < 7:
            ok = c == <uchar>HTTP1[i]
        else:
            ok = c == 48 or c == 49
        if not ok:
            s.j = k
            s.bad = E_UNSUPPORTED_VERSION if (48 <= c <= 57 and (i == 5 or i == 7)) else E_INVALID_VERSION
            s.eol = E_INVALID_VERSION
            return False
    s.j = v + 8
    return True


cdef inline void _scan_request_line(const uchar *b, Py_ssize_t pos, Py_ssize_t stop, Scan *s) noexcept nogil:
    cdef Py_ssize_t j = pos, t, k
    while j < stop and T_TCHAR[b[j]]:
        j += 1
    if j == stop or j == pos or b[j] != SP:
        s.j = j
        s.bad = E_INVALID_METHOD
        s.eol = E_INVALID_METHOD
        return
    s.a = j
    t = j + 1
    k = hw_target_run(b, t, stop, T_TARGET)
    if k == stop or k == t or b[k] != SP:
        s.j = k
        s.bad = E_INVALID_TARGET
        s.eol = E_MISSING_VERSION if k > t else E_INVALID_TARGET
        return
    s.b = k
    if not _scan_version(b, k + 1, stop, s):
        return
    s.bad = E_INVALID_VERSION
    s.eol = E_NONE


cdef inline void _scan_status_line(const uchar *b, Py_ssize_t pos, Py_ssize_t stop, Scan *s) noexcept nogil:
    cdef Py_ssize_t v, st, d, lim
    if not _scan_version(b, pos, stop, s):
        return
    v = s.j
    if v == stop or b[v] != SP:
        s.bad = E_INVALID_VERSION
        s.eol = E_INVALID_STATUS
        return
    st = v + 1
    lim = st + 3 if st + 3 < stop else stop
    d = st
    while d < lim and 48 <= b[d] <= 57:
        d += 1
    if d < st + 3 or b[st] == 48:
        s.j = st if (d > st and b[st] == 48) else d
        s.bad = E_INVALID_STATUS
        s.eol = E_INVALID_STATUS
        return
    if d == stop or b[d] != SP:
        s.j = d
        s.bad = E_INVALID_STATUS
        s.eol = E_NONE
        return
    s.j = hw_value_run(b, d + 1, stop, T_VALUE)
    s.bad = E_INVALID_REASON
    s.eol = E_NONE


cdef inline void _scan_field_line(const uchar *b, Py_ssize_t pos, Py_ssize_t stop, Scan *s) noexcept nogil:
    cdef Py_ssize_t j = pos
    cdef uchar c
    while j < stop and T_TCHAR[b[j]]:
        j += 1
    if j == stop:
        s.j = j
        s.bad = E_INVALID_NAME
        s.eol = E_MISSING_COLON
        return
    c = b[j]
    if c != 58:
        s.j = j
        s.bad = E_SPACE_BEFORE_COLON if ((c == SP or c == HT) and j > pos) else E_INVALID_NAME
        s.eol = E_MISSING_COLON
        return
    if j == pos:
        s.j = j
        s.bad = E_EMPTY_NAME
        s.eol = E_EMPTY_NAME
        return
    s.a = j
    s.j = hw_value_run(b, j + 1, stop, T_VALUE)
    s.bad = E_INVALID_VALUE
    s.eol = E_NONE


cdef inline void _scan_fold_line(const uchar *b, Py_ssize_t pos, Py_ssize_t stop, Scan *s) noexcept nogil:
    s.j = hw_value_run(b, pos, stop, T_VALUE)
    s.bad = E_INVALID_VALUE
    s.eol = E_NONE


cdef inline void _scan_chunk_line(const uchar *b, Py_ssize_t pos, Py_ssize_t stop, Scan *s) noexcept nogil:
    cdef Py_ssize_t j = pos, hex_end, z, n, q
    cdef uchar c
    while j < stop and T_HEX[b[j]]:
        j += 1
    hex_end = j
    z = pos
    while z < j and b[z] == 48:
        z += 1
    # The size must fit 63 bits: name the digit that overflows it.
    if j - z > 16 or (j - z == 16 and b[z] > 55):
        s.j = z + 15 if b[z] > 55 else z + 16
        s.bad = E_CHUNK_SIZE_OVERFLOW
        s.eol = E_CHUNK_SIZE_OVERFLOW
        return
    if j == pos:
        s.j = j
        s.bad = E_INVALID_CHUNK_SIZE
        s.eol = E_INVALID_CHUNK_SIZE
        return
    s.a = hex_end
    while j < stop and b[j] == 59:  # ';' chunk-ext (RFC 9112 §7.1.1), no whitespace
        n = j + 1
        while n < stop and T_TCHAR[b[n]]:
            n += 1
        if n == j + 1:
            s.j = n
            s.bad = E_INVALID_CHUNK_EXT
            s.eol = E_INVALID_CHUNK_EXT
            return
        j = n
        if j < stop and b[j] == 61:  # '='
            q = j + 1
            if q < stop and b[q] == 34:
                q += 1
                while True:
                    if q == stop:
                        s.j = q
                        s.bad = E_INVALID_CHUNK_EXT
                        s.eol = E_INVALID_CHUNK_EXT
                        return
                    c = b[q]
                    if c == 34:
                        j = q + 1
                        break
                    if c == 92:
                        if q + 1 == stop:
                            s.j = q + 1
                            s.bad = E_INVALID_CHUNK_EXT
                            s.eol = E_INVALID_CHUNK_EXT
                            return
                        c = b[q + 1]
                        if c != HT and not (0x20 <= c <= 0x7E or c >= 0x80):
                            s.j = q + 1
                            s.bad = E_INVALID_CHUNK_EXT
                            s.eol = E_INVALID_CHUNK_EXT
                            return
                        q += 2
                    elif c == HT or c == 0x20 or c == 0x21 or 0x23 <= c <= 0x7E or c >= 0x80:
                        q += 1
                    else:
                        s.j = q
                        s.bad = E_INVALID_CHUNK_EXT
                        s.eol = E_INVALID_CHUNK_EXT
                        return
            else:
                n = q
                while n < stop and T_TCHAR[b[n]]:
                    n += 1
                if n == q:
                    s.j = n
                    s.bad = E_INVALID_CHUNK_EXT
                    s.eol = E_INVALID_CHUNK_EXT
                    return
                j = n
    s.j = j
    s.bad = E_INVALID_CHUNK_EXT if j > hex_end else E_INVALID_CHUNK_SIZE
    s.eol = E_NONE


cdef Py_ssize_t _end_line(const uchar *b, Py_ssize_t pos, Py_ssize_t avail, Py_ssize_t climit,
                          int kind, int limit_code, long long base, Scan *s) except -2:
    """Scan the line at `pos`; return the offset after its CRLF, or NEED."""
    cdef Py_ssize_t stop = avail if avail < climit else climit
    cdef Py_ssize_t j
    cdef uchar c
    if kind == L_FIELD:
        _scan_field_line(b, pos, stop, s)
    elif kind == L_REQUEST:
        _scan_request_line(b, pos, stop, s)
    elif kind == L_STATUS:
        _scan_status_line(b, pos, stop, s)
    elif kind == L_CHUNK:
        _scan_chunk_line(b, pos, stop, s)
    else:
        _scan_fold_line(b, pos, stop, s)
    j = s.j
    if j == avail:
        return NEED
    c = b[j]
    if c == CR:
        if s.eol != E_NONE:
            _fail(s.eol, base + j)
        if j + 1 == avail:
            return NEED
        if b[j + 1] != LF:
            _fail(E_BARE_CR, base + j)
        return j + 2
    if c == LF:
        _fail(E_BARE_LF, base + j)
    if j == climit:
        _fail(limit_code, base + j)
    _fail(s.bad, base + j)


# -- header helpers -------------------------------------------------------------

cdef inline bint _ows(uchar c) noexcept nogil:
    return c == SP or c == HT


cdef inline bint _ieq(const uchar *p, Py_ssize_t n, const char *lower, Py_ssize_t m) noexcept nogil:
    """Whether p[:n] equals the lower-case ASCII `lower` ignoring ASCII case."""
    cdef Py_ssize_t i
    if n != m:
        return False
    for i in range(n):
        if T_LOWER[p[i]] != <uchar>lower[i]:
            return False
    return True


cdef list _tokens(object value, list out):
    """Append the lower-cased comma-separated elements of `value` to `out`
    (empty ones included, as `bytes.split` gives them)."""
    cdef const uchar *p = <const uchar *>PyBytes_AS_STRING(value)
    cdef Py_ssize_t n = len(value), i = 0, s, e, k
    cdef bytes tok
    cdef char *w
    while True:
        s = i
        while i < n and p[i] != 44:
            i += 1
        e = i
        while s < e and _ows(p[s]):
            s += 1
        while e > s and _ows(p[e - 1]):
            e -= 1
        tok = PyBytes_FromStringAndSize(NULL, e - s)
        w = PyBytes_AS_STRING(tok)
        for k in range(e - s):
            w[k] = T_LOWER[p[s + k]]
        out.append(tok)
        if i >= n:
            return out
        i += 1


def connection_tokens(headers):
    """The lower-cased tokens of every `Connection` field, in order."""
    cdef list out = []
    cdef list found
    for name, value in headers:
        if not isinstance(name, bytes):
            raise TypeError("header names must be bytes")
        if _ieq(<const uchar *>PyBytes_AS_STRING(name), len(name), b"connection", 10):
            found = _tokens(bytes(value), [])
            out.extend([t for t in found if t])
    return out


cdef tuple HOP_NAMES = tuple(sorted(R.HOP_BY_HOP))


cdef bint _is_hop(object name, list tokens):
    cdef const uchar *p = <const uchar *>PyBytes_AS_STRING(name)
    cdef Py_ssize_t n = len(name)
    for h in HOP_NAMES:
        if _ieq(p, n, PyBytes_AS_STRING(h), len(<bytes>h)):
            return True
    for t in tokens:
        if _ieq(p, n, PyBytes_AS_STRING(t), len(<bytes>t)):
            return True
    return False


def filter_hop_by_hop(headers):
    """The end-to-end fields of `headers` (RFC 9110 §7.6.1)."""
    headers = list(headers)
    cdef list tokens = connection_tokens(headers)
    return [pair for pair in headers if not _is_hop(pair[0], tokens)]


cdef tuple _split_hop_by_hop(list headers):
    cdef list tokens = connection_tokens(headers)
    cdef list keep = [], hop = []
    for pair in headers:
        if _is_hop((<tuple>pair)[0], tokens):
            hop.append(pair)
        else:
            keep.append(pair)
    return keep, hop


# -- the parser -----------------------------------------------------------------

@cython.freelist(16)
cdef class _Parser:

    # No __cinit__: a new object is zero-filled, so its C buffers start out NULL
    # (and a second __init__ keeps them, to be freed with the parser).

    def __init__(self, *, Py_ssize_t max_line_size=R.MAX_LINE_SIZE,
                 Py_ssize_t max_header_size=R.MAX_HEADER_SIZE,
                 Py_ssize_t max_headers=R.MAX_HEADERS, bint strip_hop_by_hop=False):
        if max_line_size < 16 or max_header_size < 16 or max_headers < 0:
            raise ValueError("limits too small")
        self.is_request = not isinstance(self, ResponseParser)
        self.max_line_size = max_line_size
        self.max_header_size = max_header_size
        self.max_headers = max_headers
        self.strip_hop_by_hop = strip_hop_by_hop
        self.trailing_data = b""
        self.buf_len = 0
        self.base = 0
        self.state = S_START
        self.error = None
        self.remaining = 0
        self.n_spans = 0
        self.body_total = 0
        self.expected_first = None
        self.expected = None
        self.expected_head = 0
        self.msg_keep_alive = True
        self.msg_upgrade = False
        self._reset_message()

    def __dealloc__(self):
        free(self.buf)
        free(self.spans)

    # -- public ------------------------------------------------------------------

    @property
    def head_offset(self):
        """The stream offset of the first byte of the last message head begun (its
        start line): with a ParseError's `offset`, where in the head it broke."""
        return self.head_start

    @property
    def upgraded(self):
        """True once the parser stopped for an upgrade or a CONNECT tunnel."""
        return self.state == S_SWITCHED

    @cython.always_allow_keywords(False)  # METH_O: the cheapest call there is
    def feed(self, data):
        cdef Py_buffer view
        if self.error is not None:
            raise self.error
        if self.state == S_SWITCHED:
            self.trailing_data += bytes(memoryview(data))
            return []
        if self.state == S_EOF:
            raise self._raise(_error(E_FEED_AFTER_EOF, self.base), [])
        if type(data) is bytes:  # the common case: no buffer protocol round trip
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

    @cython.final
    cdef list _feed(self, const uchar *data, Py_ssize_t n):
        cdef const uchar *b
        cdef Py_ssize_t avail, pos, need
        cdef list events = []
        if self.buf_len == 0:
            b = data
            avail = n
        else:
            need = self.buf_len + n
            if need > self.buf_cap:
                self._grow_buf(need)
            memcpy(self.buf + self.buf_len, data, n)
            self.buf_len = need
            b = self.buf
            avail = need
        try:
            pos = self._run(b, avail, events)
        except ParseError as exc:
            self._flush(events)
            raise self._raise(exc, events) from None
        self._flush(events)
        if self.state == S_SWITCHED:
            self.trailing_data = _bytes(b + pos, avail - pos)
            self.buf_len = 0
        elif pos < avail:
            if b != self.buf:
                if avail - pos > self.buf_cap:
                    self._grow_buf(avail - pos)
                memcpy(self.buf, b + pos, avail - pos)
            elif pos:
                memmove(self.buf, b + pos, avail - pos)
            self.buf_len = avail - pos
        else:
            self.buf_len = 0
        self.base += pos
        return events

    def feed_eof(self):
        if self.error is not None:
            raise self.error
        cdef int state = self.state
        if state == S_UNTIL_CLOSE:
            self.state = S_EOF
            return [_eom(None)]
        if ((state == S_START or state == S_CLOSED) and self.buf_len == 0) \
                or state == S_SWITCHED or state == S_EOF:
            if state != S_SWITCHED:
                self.state = S_EOF
            return []
        raise self._raise(_error(E_INCOMPLETE_MESSAGE, self.base + self.buf_len), [])

    # -- internals -----------------------------------------------------------------

    @cython.final
    cdef int _grow_buf(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t cap = self.buf_cap * 2
        if cap < need:
            cap = need
        if cap < 256:
            cap = 256
        cdef unsigned char *p = <unsigned char *>realloc(self.buf, cap)
        if p == NULL:
            raise MemoryError()
        self.buf = p
        self.buf_cap = cap
        return 0

    @cython.final
    cdef object _raise(self, object exc, list events):
        """Record `exc` as the parser's error (it refuses all input from now on)."""
        exc.events = list(events)
        self.error = exc
        self.state = S_ERROR
        return exc

    @cython.final
    cdef void _reset_message(self):
        self.headers = None  # a start line makes the next one
        self.head_start = 0
        self.content_length = -1
        self.te = False
        self.te_chunked_last = False
        self.chunked_seen = False
        self.close_token = False
        self.keep_alive_token = False
        self.upgrade_token = False
        self.has_upgrade = False

    @cython.final
    cdef int _body_add(self, const unsigned char *p, Py_ssize_t n) except -1:
        cdef Py_ssize_t cap
        cdef BodySpan *q
        if self.n_spans == self.spans_cap:
            cap = self.spans_cap * 2 if self.spans_cap else 16
            q = <BodySpan *>realloc(self.spans, cap * sizeof(BodySpan))
            if q == NULL:
                raise MemoryError()
            self.spans = q
            self.spans_cap = cap
        self.spans[self.n_spans].p = p
        self.spans[self.n_spans].n = n
        self.n_spans += 1
        self.body_total += n
        return 0

    @cython.final
    cdef int _flush(self, list events) except -1:
        cdef Py_ssize_t i, at = 0
        cdef bytes out
        cdef char *w
        if self.n_spans == 0:
            return 0
        if self.n_spans == 1:
            out = _bytes(self.spans[0].p, self.spans[0].n)
        else:
            out = PyBytes_FromStringAndSize(NULL, self.body_total)
            w = PyBytes_AS_STRING(out)
            for i in range(self.n_spans):
                memcpy(w + at, self.spans[i].p, self.spans[i].n)
                at += self.spans[i].n
        self.n_spans = 0
        self.body_total = 0
        events.append(_data(out))
        return 0

    @cython.final
    cdef int _emit(self, list events, object event) except -1:
        if self.n_spans:
            self._flush(events)
        events.append(event)
        return 0

    @cython.final
    cdef Py_ssize_t _run(self, const uchar *b, Py_ssize_t avail, list events) except -2:
        cdef Py_ssize_t pos = 0, n, new
        cdef long long base = self.base, size
        cdef int state
        cdef uchar c
        cdef Scan s
        while pos < avail:
            state = self.state
            if state == S_START:
                while pos + 1 < avail and b[pos] == CR and b[pos + 1] == LF:
                    pos += 2
                if pos == avail:
                    break
                c = b[pos]
                if c == CR:
                    if pos + 1 == avail:
                        break
                    _fail(E_BARE_CR, base + pos)
                if c == LF:
                    _fail(E_BARE_LF, base + pos)
                self.head_start = base + pos
                new = self._start_line(b, pos, avail)
                if new == NEED:
                    break
                pos = new
                self.headers = []
                self.state = S_FIELDS
            elif state == S_FIELDS or state == S_TRAILERS:
                # Returns where it stopped: after the section, or at an unfinished line.
                pos = self._field_lines(b, pos, avail, events)
                if self.state == state:
                    break
            elif state == S_BODY or state == S_CHUNK_DATA:
                n = avail - pos
                if self.remaining < n:
                    n = <Py_ssize_t>self.remaining
                self._body_add(b + pos, n)
                pos += n
                self.remaining -= n
                if self.remaining == 0:
                    if state == S_BODY:
                        self._end_message(events)
                    else:
                        self.state = S_CHUNK_CRLF
            elif state == S_CHUNK_SIZE:
                new = _end_line(b, pos, avail, pos + self.max_line_size, L_CHUNK,
                                E_LINE_TOO_LONG, base, &s)
                if new == NEED:
                    break
                size = 0
                for n in range(pos, s.a):
                    size = size * 16 + (T_HEX[b[n]] - 1)
                pos = new
                if size == 0:
                    self.state = S_TRAILERS
                    self.headers = []
                    self.head_start = base + pos
                else:
                    self.remaining = size
                    self.state = S_CHUNK_DATA
            elif state == S_CHUNK_CRLF:
                if b[pos] != CR:
                    _fail(E_MISSING_CHUNK_CRLF, base + pos)
                if pos + 1 == avail:
                    break
                if b[pos + 1] != LF:
                    _fail(E_MISSING_CHUNK_CRLF, base + pos + 1)
                pos += 2
                self.state = S_CHUNK_SIZE
            elif state == S_UNTIL_CLOSE:
                self._body_add(b + pos, avail - pos)
                pos = avail
            elif state == S_CLOSED:
                _fail(E_DATA_AFTER_CLOSE, base + pos)
            else:  # S_SWITCHED
                break
        return pos

    @cython.final
    cdef Py_ssize_t _climit(self, Py_ssize_t pos, bint *line_binds):
        """Where the line at `pos` must end its content, and whether the line limit binds."""
        cdef Py_ssize_t line = pos + self.max_line_size
        cdef Py_ssize_t head = <Py_ssize_t>(self.head_start - self.base) + self.max_header_size - 2
        if line <= head:
            line_binds[0] = True
            return line
        line_binds[0] = False
        return head if head > pos else pos

    @cython.final
    cdef Py_ssize_t _start_line(self, const uchar *b, Py_ssize_t pos, Py_ssize_t avail) except -2:
        cdef bint line_binds
        cdef Py_ssize_t climit = self._climit(pos, &line_binds)
        cdef Py_ssize_t new, d
        cdef Scan s
        if self.is_request:
            new = _end_line(b, pos, avail, climit, L_REQUEST,
                            E_REQUEST_LINE_TOO_LONG if line_binds else E_HEADER_TOO_LARGE,
                            self.base, &s)
            if new == NEED:
                return NEED
            self.method = _method(b + pos, s.a - pos)
            self.target = _bytes(b + s.a + 1, s.b - s.a - 1)
            self.version = V11 if b[s.j - 1] == 49 else V10
            return new
        new = _end_line(b, pos, avail, climit, L_STATUS,
                        E_LINE_TOO_LONG if line_binds else E_HEADER_TOO_LARGE, self.base, &s)
        if new == NEED:
            return NEED
        self.version = V11 if b[pos + 7] == 49 else V10
        self.status = (b[pos + 9] - 48) * 100 + (b[pos + 10] - 48) * 10 + (b[pos + 11] - 48)
        d = pos + 13
        if s.j <= pos + 12:
            self.reason = EMPTY
        elif s.j - d == 2 and b[d] == 79 and b[d + 1] == 75:
            self.reason = REASON_OK
        else:
            self.reason = _bytes(b + d, s.j - d)
        return new

    @cython.final
    cdef Py_ssize_t _field_lines(self, const uchar *b, Py_ssize_t pos, Py_ssize_t avail,
                                 list events) except -2:
        cdef list headers = self.headers
        cdef bint trailers = self.state == S_TRAILERS
        cdef long long base = self.base
        cdef Py_ssize_t max_headers = self.max_headers
        cdef Py_ssize_t head_cap = <Py_ssize_t>(self.head_start - base) + self.max_header_size - 2
        cdef Py_ssize_t climit, new, vs, ve
        cdef int limit, kind
        cdef uchar c
        cdef Scan s
        while True:
            if pos == avail:
                return pos
            c = b[pos]
            if c == CR:
                if pos + 1 == avail:
                    return pos
                if b[pos + 1] != LF:
                    _fail(E_BARE_CR, base + pos)
                pos += 2
                if trailers:
                    self._emit(events, _eom(headers))
                    self._finish_message()
                else:
                    self._end_head(events, base + pos - 2)
                return pos
            if c == LF:
                _fail(E_BARE_LF, base + pos)
            climit = pos + self.max_line_size
            limit = E_FIELD_LINE_TOO_LONG
            if climit > head_cap:  # the section limit binds first (see _climit)
                climit = head_cap if head_cap > pos else pos
                limit = E_HEADER_TOO_LARGE
            if c == SP or c == HT:
                if not headers:
                    _fail(E_SPACE_AFTER_START_LINE, base + pos)
                if self.is_request:
                    _fail(E_OBS_FOLD, base + pos)
                name, value = headers[len(headers) - 1]
                if not trailers and name in _SPECIAL_NAMES:
                    # Its first line already steered framing; unfolding now would desync.
                    _fail(E_OBS_FOLD_IN_FRAMING, base + pos)
                new = _end_line(b, pos, avail, climit, L_FOLD, limit, base, &s)
                if new == NEED:
                    return pos
                headers[len(headers) - 1] = (name, unfold(value, _bytes(b + pos, new - 2 - pos)))
                pos = new
                continue
            if len(headers) >= max_headers:
                _fail(E_TOO_MANY_HEADERS, base + pos)
            new = _end_line(b, pos, avail, climit, L_FIELD, limit, base, &s)
            if new == NEED:
                return pos
            vs = s.a + 1
            ve = s.j
            while vs < ve and _ows(b[vs]):
                vs += 1
            while ve > vs and _ows(b[ve - 1]):
                ve -= 1
            name = _name(b + pos, s.a - pos, &kind)
            headers.append((name, _bytes(b + vs, ve - vs)))
            if kind and not trailers:
                self._special(kind, b + vs, ve - vs, base + pos)
            pos = new

    @cython.final
    cdef int _special(self, int kind, const unsigned char *v, Py_ssize_t n, long long offset) except -1:
        cdef Py_ssize_t i
        cdef long long value = 0
        cdef list codings
        if kind == K_CL:
            if n == 0:
                _fail(E_INVALID_CONTENT_LENGTH, offset)
            for i in range(n):
                if not (48 <= v[i] <= 57):
                    _fail(E_INVALID_CONTENT_LENGTH, offset)
            for i in range(n):
                if value > (MAX_BODY - (v[i] - 48)) // 10:
                    _fail(E_CONTENT_LENGTH_OVERFLOW, offset)
                value = value * 10 + (v[i] - 48)
            if self.te:
                _fail(E_CONTENT_LENGTH_WITH_TE, offset)
            if self.content_length >= 0 and self.content_length != value:
                _fail(E_CONFLICTING_CONTENT_LENGTH, offset)
            self.content_length = value
        elif kind == K_TE:
            if self.content_length >= 0:
                _fail(E_CONTENT_LENGTH_WITH_TE, offset)
            if self.is_request and self.version is V10:
                _fail(E_TE_IN_HTTP10_REQUEST, offset)
            self.te = True
            if _ieq(v, n, b"chunked", 7):  # the common case, without Python objects
                if self.chunked_seen:
                    _fail(E_CHUNKED_TWICE, offset)
                self.chunked_seen = True
                self.te_chunked_last = True
                return 0
            codings = _tokens(_bytes(v, n), [])
            for coding in codings:
                if not coding or not _all_tchar(coding):
                    _fail(E_INVALID_TRANSFER_ENCODING, offset)
                if self.chunked_seen:
                    if coding == b"chunked":
                        _fail(E_CHUNKED_TWICE, offset)
                    if self.is_request:
                        _fail(E_CHUNKED_NOT_LAST, offset)
                if self.is_request and coding not in R.TRANSFER_CODINGS:
                    _fail(E_UNKNOWN_TRANSFER_CODING, offset)
                if coding == b"chunked":
                    self.chunked_seen = True
                self.te_chunked_last = coding == b"chunked"
        elif kind == K_UPG:
            self.has_upgrade = True
        else:
            _connection_flags(self, v, n, kind == K_CONN)
        return 0

    @cython.final
    cdef int _end_head(self, list events, long long offset) except -1:
        cdef bint keep_alive
        if self.version is V11:
            keep_alive = not self.close_token
        else:
            keep_alive = self.keep_alive_token and not self.close_token
        headers = self.headers
        hop = None
        if self.strip_hop_by_hop:
            headers, hop = _split_hop_by_hop(self.headers)
        if self.is_request:
            return self._request_head(events, offset, keep_alive, headers, hop)
        return self._response_head(events, keep_alive, headers, hop)

    @cython.final
    cdef int _request_head(self, list events, long long offset, bint keep_alive,
                           object headers, object hop) except -1:
        cdef bint chunked = False, upgrade
        cdef long long length = self.content_length if self.content_length >= 0 else 0
        cdef Request ev
        if self.te:
            if not self.te_chunked_last:
                _fail(E_CHUNKED_NOT_LAST, offset)
            chunked = True
            length = -1
        connect = self.method == M_CONNECT
        # RFC 9110 §7.8: a server ignores Upgrade in an HTTP/1.0 request.
        upgrade = connect or (self.has_upgrade and self.upgrade_token and self.version is V11)
        if connect:
            chunked = False
            length = 0
        ev = Request.__new__(Request)
        ev.method = self.method
        ev.target = self.target
        ev.headers = headers
        ev.http_version = self.version
        ev.keep_alive = keep_alive
        ev.content_length = None if length < 0 else length
        ev.chunked = chunked
        ev.upgrade = upgrade
        ev.hop_headers = hop
        self._emit(events, ev)
        self.msg_keep_alive = keep_alive
        self.msg_upgrade = upgrade
        return self._begin_body(events, length, chunked)

    @cython.final
    cdef int _response_head(self, list events, bint keep_alive, object headers, object hop) except -1:
        cdef int status = self.status
        cdef bint chunked = False, upgrade
        cdef long long length
        cdef InformationalResponse info
        cdef Response ev
        if status < 200:
            upgrade = status == 101
            info = InformationalResponse.__new__(InformationalResponse)
            info.status_code = status
            info.reason = self.reason
            info.headers = headers
            info.http_version = self.version
            info.upgrade = upgrade
            info.hop_headers = hop
            self._emit(events, info)
            self._reset_message()
            self.state = S_SWITCHED if upgrade else S_START
            return 0
        method = self._next_expected()
        upgrade = method == M_CONNECT and status < 300
        if upgrade or method == M_HEAD or status == 204 or status == 304:
            length = 0
        elif self.te:
            if self.te_chunked_last:
                chunked = True
                length = -1
                if self.version is V10:
                    keep_alive = False  # RFC 9112 §6.1: close after a 1.0 message with TE
            else:
                length = -1
                keep_alive = False
        elif self.content_length >= 0:
            length = self.content_length
        else:
            length = -1
            keep_alive = False
        ev = Response.__new__(Response)
        ev.status_code = status
        ev.reason = self.reason
        ev.headers = headers
        ev.http_version = self.version
        ev.keep_alive = keep_alive
        ev.content_length = None if length < 0 else length
        ev.chunked = chunked
        ev.upgrade = upgrade
        ev.hop_headers = hop
        self._emit(events, ev)
        self.msg_keep_alive = keep_alive
        self.msg_upgrade = upgrade
        if length < 0 and not chunked:
            self.state = S_UNTIL_CLOSE
            return 0
        return self._begin_body(events, length, chunked)

    @cython.final
    cdef int _begin_body(self, list events, long long length, bint chunked) except -1:
        if chunked:
            self.state = S_CHUNK_SIZE
        elif length > 0:
            self.remaining = length
            self.state = S_BODY
        else:
            self._end_message(events)
        return 0

    @cython.final
    cdef int _end_message(self, list events) except -1:
        self._emit(events, _eom(None))
        self._finish_message()
        return 0

    @cython.final
    cdef object _next_expected(self):
        """The method of the oldest request not yet answered (GET when none was recorded)."""
        cdef object method = self.expected_first
        cdef list q
        if method is None:
            return M_GET
        q = self.expected
        if q is not None and self.expected_head < len(q):
            self.expected_first = q[self.expected_head]
            self.expected_head += 1
            if self.expected_head == len(q):
                self.expected = None
                self.expected_head = 0
        else:
            self.expected_first = None
        return method

    @cython.final
    cdef void _finish_message(self):
        if self.msg_upgrade:
            self.state = S_SWITCHED
        elif self.msg_keep_alive:
            self.state = S_START
        else:
            self.state = S_CLOSED
        self._reset_message()


cdef bint _is_upper(bytes m):
    cdef const uchar *p = <const uchar *>PyBytes_AS_STRING(m)
    cdef Py_ssize_t i
    for i in range(len(m)):
        if 97 <= p[i] <= 122:
            return False
    return True


cdef bint _all_tchar(bytes token):
    cdef const uchar *p = <const uchar *>PyBytes_AS_STRING(token)
    cdef Py_ssize_t i
    for i in range(len(token)):
        if not T_TCHAR[p[i]]:
            return False
    return True


cdef void _connection_flags(_Parser parser, const uchar *v, Py_ssize_t n, bint is_connection):
    """Set the parser's close / keep-alive / upgrade flags from a Connection value."""
    cdef Py_ssize_t i = 0, s, e
    while True:
        s = i
        while i < n and v[i] != 44:
            i += 1
        e = i
        while s < e and _ows(v[s]):
            s += 1
        while e > s and _ows(v[e - 1]):
            e -= 1
        if _ieq(v + s, e - s, b"close", 5):
            parser.close_token = True
        elif _ieq(v + s, e - s, b"keep-alive", 10):
            parser.keep_alive_token = True
        elif is_connection and _ieq(v + s, e - s, b"upgrade", 7):
            parser.upgrade_token = True
        if i >= n:
            return
        i += 1


cdef class RequestParser(_Parser):
    """Parses the requests a server receives."""


cdef class ResponseParser(_Parser):
    """Parses the responses a client receives; tell it each request's method with `expect()`."""

    @cython.always_allow_keywords(False)
    def expect(self, method):
        """Record the method of the next request sent, so its response is framed right."""
        cdef bytes m
        if type(method) is bytes:
            m = <bytes>method
        elif isinstance(method, str):
            m = method.encode("ascii")
        else:
            m = bytes(method)
        m = _method(<const uchar *>PyBytes_AS_STRING(m), len(m))
        if not _is_upper(m):
            m = m.upper()
        if self.expected_first is None:  # one request in flight: no list at all
            self.expected_first = m
        elif self.expected is None:
            self.expected = [m]
        else:
            self.expected.append(m)
