"""The pure-Python twin of the HTTP/1.x parser.

Strategy: the parser keeps only the unfinished line of the input; every line
that is complete is consumed as soon as it arrives, so a head that trickles in
is never scanned twice. A field line is taken by one regular expression in the
common case; when that fails (or the line is still partial) a slower scanner
walks the line left to right and either says "need more bytes" or names the
first byte that breaks the grammar. That scanner is the definition of the
grammar: the C twin implements the same walk byte by byte, so both twins
report the same reason at the same offset however the input was split.

Offsets in errors count from the parser's first byte. Limits: a line's content
(without CRLF) may not exceed `max_line_size`; the start line and field lines
of one section, CRLFs included, may not exceed `max_header_size`; a section may
not hold more than `max_headers` field lines.
"""

from __future__ import annotations

import re
import sys
from collections import deque
from collections.abc import Callable, Iterable
from typing import Union

from . import rules as R
from .._errors import ParseError
from .events import Data, EndOfMessage, Headers, InformationalResponse, Request, Response

Buffer = Union[bytes, bytearray, memoryview]
Event = Union[Request, Response, InformationalResponse, Data, EndOfMessage]

CR, LF, SP, HT = 0x0D, 0x0A, 0x20, 0x09
_HTTP1 = b"HTTP/1."
_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_VCHAR = rb"\x21-\x7e\x80-\xff"

_TOKEN_RUN = re.compile(rb"[%s]*" % _TCHAR)
_TARGET_RUN = re.compile(rb"[\x21-\x7e]*")
_VALUE_RUN = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_HEX_RUN = re.compile(rb"[0-9A-Fa-f]*")
_DIGIT_RUN = re.compile(rb"[0-9]*")

_REQUEST_LINE = re.compile(rb"([%s]+) ([\x21-\x7e]+) HTTP/1\.([01])\r\n" % _TCHAR)
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([\t\x20-\x7e\x80-\xff]*))?\r\n")
_FIELD_LINE = re.compile(
    rb"([%s]+):[ \t]*((?:[%s]+(?:[ \t]+[%s]+)*)?)[ \t]*\r\n" % (_TCHAR, _VCHAR, _VCHAR)
)
# A whole header section of plain field lines, then its field pairs: the fast
# path that takes a head in two regex calls when nothing in it needs a look.
_FIELD_BLOCK = re.compile(rb"(?:[%s]+:[\t\x20-\x7e\x80-\xff]*\r\n)*\r\n" % _TCHAR)
# Within a block that matched, names end at the first colon and values at CR.
# Possessive (`++`, `*+`), so that a line that fails gives nothing back; `re` has
# those from Python 3.11 on. For 3.10, the same matches (same groups, same
# failures) from a lookahead: a byte given back by `[^:]+` or `[^\r]*` is never the
# `:` or CR that must follow, and `(?![ \t])` lets the value start only after the
# last blank, so a failing line still costs linear time, not blanks x value bytes.
# Where possessive forms compile they stay: the lookahead form costs the pure
# parser 1-3% a head there. tests/wire/test_field_pairs.py checks that the two agree.
_FIELD_PAIRS_POSSESSIVE = rb"([^:]++):[ \t]*+([^\r]*+)\r\n"
_FIELD_PAIRS_PORTABLE = rb"([^:]+):[ \t]*(?![ \t])([^\r]*)\r\n"
_FIELD_PAIRS = re.compile(
    _FIELD_PAIRS_POSSESSIVE if sys.version_info >= (3, 11) else _FIELD_PAIRS_PORTABLE)
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]+)(?:;[%s]+(?:=(?:[%s]+|%s))?)*\r\n" % (_TCHAR, _TCHAR, _QUOTED)
)

_VERSIONS = {b"0": b"1.0", b"1": b"1.1"}

# Field names whose values steer framing or persistence.
_CL, _TE, _CONN, _PCONN, _UPG = 1, 2, 3, 4, 5
_SPECIAL = {
    b"content-length": _CL,
    b"transfer-encoding": _TE,
    b"connection": _CONN,
    b"proxy-connection": _PCONN,
    b"upgrade": _UPG,
}

# Parser states.
_START, _FIELDS, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS, \
    _UNTIL_CLOSE, _CLOSED, _SWITCHED, _EOF, _ERROR = range(12)

_NEED = -1  # returned by a line scan when the line is still incomplete


Rule = tuple[str, int]  # (reason, status hint), as defined in _rules
Scan = tuple[int, Union[Rule, None], Union[Rule, None]]
Scanner = Callable[[bytes, int, int], Scan]
# What a header section's framing fields have set so far (see _Parser._flags).
_Flags = tuple[Union[int, None], bool, bool, bool, bool, bool, bool, bool]


def _fail(rule: Rule, offset: int) -> ParseError:
    return ParseError(rule[0], offset, rule[1])


def _run(pattern: re.Pattern[bytes], buf: bytes, pos: int, stop: int) -> int:
    """The end of the run of `pattern` (which matches the empty string) at `pos`."""
    m = pattern.match(buf, pos, stop)
    return m.end() if m is not None else pos


# -- line scanners ------------------------------------------------------------
# Each takes the buffer, the line's first byte and `stop` (end of the bytes it
# may look at: the end of input or the line's size limit) and returns
# (j, bad, eol): j is the first byte that is not valid content at its place,
# `bad` the rule broken if that byte is not a line ending, and `eol` the rule
# broken if the line ends there (None: the line may end there).

def _scan_version(buf: bytes, v: int, stop: int) -> Scan:
    for i in range(8):
        k = v + i
        if k == stop:
            return k, R.INVALID_VERSION, R.INVALID_VERSION
        c = buf[k]
        want_ok = c == _HTTP1[i] if i < 7 else c in (0x30, 0x31)
        if not want_ok:
            digit = 0x30 <= c <= 0x39 and i >= 5 and i != 6
            return k, R.UNSUPPORTED_VERSION if digit else R.INVALID_VERSION, R.INVALID_VERSION
    return v + 8, None, None


def _scan_request_line(buf: bytes, pos: int, stop: int) -> Scan:
    j = _run(_TOKEN_RUN, buf, pos, stop)
    if j == stop or j == pos or buf[j] != SP:
        return j, R.INVALID_METHOD, R.INVALID_METHOD
    t = j + 1
    k = _run(_TARGET_RUN, buf, t, stop)
    if k == stop or k == t or buf[k] != SP:
        return k, R.INVALID_TARGET, R.MISSING_VERSION if k > t else R.INVALID_TARGET
    v, bad, eol = _scan_version(buf, k + 1, stop)
    if bad is not None:
        return v, bad, eol
    return v, R.INVALID_VERSION, None


def _scan_status_line(buf: bytes, pos: int, stop: int) -> Scan:
    v, bad, eol = _scan_version(buf, pos, stop)
    if bad is not None:
        return v, bad, eol
    if v == stop or buf[v] != SP:
        return v, R.INVALID_VERSION, R.INVALID_STATUS
    s = v + 1
    d = _run(_DIGIT_RUN, buf, s, min(stop, s + 3))
    if d < s + 3 or buf[s] == 0x30:
        return (s if d > s and buf[s] == 0x30 else d), R.INVALID_STATUS, R.INVALID_STATUS
    if d == stop or buf[d] != SP:
        return d, R.INVALID_STATUS, None
    return _run(_VALUE_RUN, buf, d + 1, stop), R.INVALID_REASON, None


def _scan_field_line(buf: bytes, pos: int, stop: int) -> Scan:
    j = _run(_TOKEN_RUN, buf, pos, stop)
    if j == stop:
        return j, R.INVALID_NAME, R.MISSING_COLON
    c = buf[j]
    if c != 0x3A:
        bad = R.SPACE_BEFORE_COLON if c in (SP, HT) and j > pos else R.INVALID_NAME
        return j, bad, R.MISSING_COLON
    if j == pos:
        return j, R.EMPTY_NAME, R.EMPTY_NAME
    return _run(_VALUE_RUN, buf, j + 1, stop), R.INVALID_VALUE, None


def _scan_fold_line(buf: bytes, pos: int, stop: int) -> Scan:
    return _run(_VALUE_RUN, buf, pos, stop), R.INVALID_VALUE, None


def _scan_chunk_line(buf: bytes, pos: int, stop: int) -> Scan:
    j = _run(_HEX_RUN, buf, pos, stop)
    # The size must fit 63 bits: name the digit that overflows it.
    s = pos
    while s < j and buf[s] == 0x30:
        s += 1
    if j - s > 16 or (j - s == 16 and buf[s] > 0x37):
        return (s + 15 if buf[s] > 0x37 else s + 16), R.CHUNK_SIZE_OVERFLOW, R.CHUNK_SIZE_OVERFLOW
    if j == pos:
        return j, R.INVALID_CHUNK_SIZE, R.INVALID_CHUNK_SIZE
    while j < stop and buf[j] == 0x3B:  # ';' chunk-ext (RFC 9112 §7.1.1), no whitespace
        n = _run(_TOKEN_RUN, buf, j + 1, stop)
        if n == j + 1:
            return n, R.INVALID_CHUNK_EXT, R.INVALID_CHUNK_EXT
        j = n
        if j < stop and buf[j] == 0x3D:  # '='
            q = j + 1
            if q < stop and buf[q] == 0x22:
                q += 1
                while True:
                    if q == stop:
                        return q, R.INVALID_CHUNK_EXT, R.INVALID_CHUNK_EXT
                    c = buf[q]
                    if c == 0x22:
                        j = q + 1
                        break
                    if c == 0x5C:
                        if q + 1 == stop:
                            return q + 1, R.INVALID_CHUNK_EXT, R.INVALID_CHUNK_EXT
                        c = buf[q + 1]
                        if c != HT and not (0x20 <= c <= 0x7E or c >= 0x80):
                            return q + 1, R.INVALID_CHUNK_EXT, R.INVALID_CHUNK_EXT
                        q += 2
                    elif c == HT or c == 0x20 or c == 0x21 or 0x23 <= c <= 0x7E or c >= 0x80:
                        q += 1
                    else:
                        return q, R.INVALID_CHUNK_EXT, R.INVALID_CHUNK_EXT
            else:
                n = _run(_TOKEN_RUN, buf, q, stop)
                if n == q:
                    return n, R.INVALID_CHUNK_EXT, R.INVALID_CHUNK_EXT
                j = n
    return j, (R.INVALID_CHUNK_EXT if j > _run(_HEX_RUN, buf, pos, stop) else R.INVALID_CHUNK_SIZE), None


def _end_line(buf: bytes, pos: int, avail: int, climit: int, scan: Scanner, limit_rule: Rule,
              base: int) -> int:
    """Scan the line at `pos`; return the offset after its CRLF, or _NEED."""
    stop = avail if avail < climit else climit
    j, bad, eol = scan(buf, pos, stop)
    if j == avail:
        return _NEED
    c = buf[j]
    if c == CR:
        if eol is not None:
            raise _fail(eol, base + j)
        if j + 1 == avail:
            return _NEED
        if buf[j + 1] != LF:
            raise _fail(R.BARE_CR, base + j)
        return j + 2
    if c == LF:
        raise _fail(R.BARE_LF, base + j)
    if j == climit:
        raise _fail(limit_rule, base + j)
    raise _fail(bad if bad is not None else limit_rule, base + j)


# -- header helpers -----------------------------------------------------------

def unfold(value: bytes, continuation: bytes) -> bytes:
    """Join an obs-fold continuation to its field value with one SP (RFC 9112 §5.2)."""
    continuation = continuation.strip(b" \t")
    if value and continuation:
        return value + b" " + continuation
    return value or continuation


def _split_tokens(value: bytes) -> list[bytes]:
    return [t.strip(b" \t").lower() for t in value.split(b",")]


def connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
    """The lower-cased tokens of every `Connection` field, in order."""
    out: list[bytes] = []
    for name, value in headers:
        if not isinstance(name, bytes):
            raise TypeError("header names must be bytes")
        if name.lower() == b"connection":
            out.extend(t for t in _split_tokens(value) if t)
    return out


def _hop_names(headers: Headers) -> frozenset[bytes]:
    """The lower-cased names that do not travel past this hop."""
    return R.HOP_BY_HOP.union(connection_tokens(headers))


def filter_hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The end-to-end fields of `headers` (RFC 9110 §7.6.1)."""
    headers = list(headers)
    drop = _hop_names(headers)
    return [(n, v) for n, v in headers if n.lower() not in drop]


def _split_hop_by_hop(headers: Headers) -> tuple[Headers, Headers]:
    """(end-to-end, hop-by-hop) of a parsed head, whose names are lower-cased already."""
    drop = _hop_names(headers)
    keep: Headers = []
    hop: Headers = []
    for pair in headers:
        (hop if pair[0] in drop else keep).append(pair)
    return keep, hop


def _parse_int(text: bytes) -> int | None:
    text = text.strip(b" \t")
    if text.startswith(b'"') and text.endswith(b'"') and len(text) >= 2:
        text = text[1:-1]
    if not text or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def parse_keep_alive(value: bytes | str) -> tuple[int | None, int | None]:
    """`(timeout, max)` from a `Keep-Alive` value; None where absent or malformed."""
    if isinstance(value, str):
        value = value.encode("latin-1")
    timeout = maximum = None
    for part in value.split(b","):
        key, eq, val = part.partition(b"=")
        key = key.strip(b" \t").lower()
        if not eq:
            continue
        if key == b"timeout" and timeout is None:
            timeout = _parse_int(val)
        elif key == b"max" and maximum is None:
            maximum = _parse_int(val)
    return timeout, maximum


# -- the parser ---------------------------------------------------------------

class _Parser:
    _is_request = True

    def __init__(
        self,
        *,
        max_line_size: int = R.MAX_LINE_SIZE,
        max_header_size: int = R.MAX_HEADER_SIZE,
        max_headers: int = R.MAX_HEADERS,
        strip_hop_by_hop: bool = False,
    ) -> None:
        if max_line_size < 16 or max_header_size < 16 or max_headers < 0:
            raise ValueError("limits too small")
        self.max_line_size = max_line_size
        self.max_header_size = max_header_size
        self.max_headers = max_headers
        self.strip_hop_by_hop = strip_hop_by_hop
        self.trailing_data = b""
        self._buf = b""
        self._base = 0  # stream offset of self._buf[0]
        self._state = _START
        self._error: ParseError | None = None
        self._remaining = 0
        self._body: list[bytes] = []
        self._expected: deque[bytes] = deque()
        self._keep_alive = True
        self._upgrade = False
        # (line start, checked up to): an unfinished field line's value checked so far
        self._resume: tuple[int, int] | None = None
        self._reset_message()

    # -- public --------------------------------------------------------------

    @property
    def upgraded(self) -> bool:
        """True once the parser stopped for an upgrade or a CONNECT tunnel."""
        return self._state == _SWITCHED

    @property
    def head_offset(self) -> int:
        """The stream offset of the first byte of the last message head begun (its
        start line): with a ParseError's `offset`, where in the head it broke."""
        return self._head_start

    def feed(self, data: Buffer, /) -> list[Event]:
        if self._error is not None:
            raise self._error
        if self._state == _SWITCHED:
            self.trailing_data += bytes(memoryview(data))
            return []
        if self._state == _EOF:
            raise self._raise(_fail(R.FEED_AFTER_EOF, self._base), [])
        if type(data) is not bytes:
            data = bytes(memoryview(data))  # TypeError for what is not a buffer
        buf = self._buf + data if self._buf else data
        events: list[Event] = []
        try:
            pos = self._run(buf, events)
        except ParseError as exc:
            self._flush(events)
            raise self._raise(exc, events) from None
        self._flush(events)
        if self._state == _SWITCHED:
            self.trailing_data = buf[pos:]
            self._buf = b""
        else:
            self._buf = buf[pos:]
        self._base += pos
        return events

    def feed_eof(self) -> list[Event]:
        if self._error is not None:
            raise self._error
        state = self._state
        if state == _UNTIL_CLOSE:
            self._state = _EOF
            return [EndOfMessage([])]
        if state in (_START, _CLOSED) and not self._buf or state in (_SWITCHED, _EOF):
            if state != _SWITCHED:
                self._state = _EOF
            return []
        raise self._raise(_fail(R.INCOMPLETE_MESSAGE, self._base + len(self._buf)), [])

    # -- internals -----------------------------------------------------------

    def _raise(self, exc: ParseError, events: list[Event]) -> ParseError:
        exc.events = events
        self._error = exc
        self._state = _ERROR
        return exc

    def _reset_message(self) -> None:
        self._headers: Headers = []
        self._head_start = 0
        self._content_length: int | None = None
        self._te = False
        self._te_chunked_last = False
        self._chunked_seen = False
        self._close = False
        self._keep_alive_token = False
        self._upgrade_token = False
        self._has_upgrade = False

    def _flush(self, events: list[Event]) -> None:
        body = self._body
        if body:
            events.append(Data(body[0] if len(body) == 1 else b"".join(body)))
            self._body = []

    def _emit(self, events: list[Event], event: Event) -> None:
        if self._body:
            self._flush(events)
        events.append(event)

    def _run(self, buf: bytes, events: list[Event]) -> int:
        pos = 0
        avail = len(buf)
        base = self._base
        while pos < avail:
            state = self._state
            if state == _START:
                while buf.startswith(b"\r\n", pos):
                    pos += 2
                if pos == avail:
                    break
                c = buf[pos]
                if c == CR:
                    if pos + 1 == avail:
                        break
                    raise _fail(R.BARE_CR, base + pos)
                if c == LF:
                    raise _fail(R.BARE_LF, base + pos)
                self._head_start = base + pos
                new = self._start_line(buf, pos, avail)
                if new == _NEED:
                    break
                pos = new
                self._state = _FIELDS
            elif state == _FIELDS or state == _TRAILERS:
                # Returns where it stopped: after the section, or at an unfinished line.
                pos = self._field_lines(buf, pos, avail, events)
                if self._state == state:
                    break
            elif state == _BODY or state == _CHUNK_DATA:
                n = min(self._remaining, avail - pos)
                self._body.append(buf[pos:pos + n])
                pos += n
                self._remaining -= n
                if self._remaining == 0:
                    if state == _BODY:
                        self._end_message(events)
                    else:
                        self._state = _CHUNK_CRLF
            elif state == _CHUNK_SIZE:
                m = _CHUNK_LINE.match(buf, pos)
                if (m is None or m.end() - 2 - pos > self.max_line_size
                        or int(m.group(1), 16) > R.MAX_BODY_LENGTH):
                    new = _end_line(buf, pos, avail, pos + self.max_line_size,
                                    _scan_chunk_line, R.LINE_TOO_LONG, base)
                    if new == _NEED:
                        break
                    raise AssertionError("chunk line scanner accepted what the fast path refused")
                pos = m.end()
                size = int(m.group(1), 16)
                if size == 0:
                    self._state = _TRAILERS
                    self._headers = []
                    self._head_start = base + pos
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif state == _CHUNK_CRLF:
                if buf[pos] != CR:
                    raise _fail(R.MISSING_CHUNK_CRLF, base + pos)
                if pos + 1 == avail:
                    break
                if buf[pos + 1] != LF:
                    raise _fail(R.MISSING_CHUNK_CRLF, base + pos + 1)
                pos += 2
                self._state = _CHUNK_SIZE
            elif state == _UNTIL_CLOSE:
                self._body.append(buf[pos:] if pos else buf)
                pos = avail
            elif state == _CLOSED:
                raise _fail(R.DATA_AFTER_CLOSE, base + pos)
            else:  # _SWITCHED
                break
        return pos

    def _climit(self, pos: int) -> tuple[int, bool]:
        """Where the line at `pos` must end its content, and whether the line limit binds."""
        line = pos + self.max_line_size
        head = self._head_start - self._base + self.max_header_size - 2
        if line <= head:
            return line, True
        return max(head, pos), False

    def _start_line(self, buf: bytes, pos: int, avail: int) -> int:
        climit, line_binds = self._climit(pos)
        whole = buf.find(b"\n", pos, avail) >= 0
        if self._is_request:
            m = _REQUEST_LINE.match(buf, pos) if whole else None
            if m is not None and m.end() - 2 <= climit:
                self._method, self._target = m.group(1, 2)
                self._version = _VERSIONS[m.group(3)]
                return m.end()
            scan = _scan_request_line
            limit = R.REQUEST_LINE_TOO_LONG
        else:
            m = _STATUS_LINE.match(buf, pos) if whole else None
            if m is not None and m.end() - 2 <= climit:
                self._version = _VERSIONS[m.group(1)]
                self._status = int(m.group(2))
                self._reason = m.group(3) or b""
                return m.end()
            scan = _scan_status_line
            limit = R.LINE_TOO_LONG
        new = _end_line(buf, pos, avail, climit, scan, limit if line_binds else R.HEADER_TOO_LARGE, self._base)
        if new != _NEED:
            raise AssertionError("start line scanner accepted what the fast path refused")
        return _NEED

    def _field_block(self, buf: bytes, pos: int, events: list[Event]) -> int:
        """Take the rest of a header section at once when it is plain; else return _NEED."""
        m = _FIELD_BLOCK.match(buf, pos)
        if m is None:
            return _NEED
        end = m.end()
        base = self._base
        if end - pos > self.max_line_size or end - 2 > self._head_start - base + self.max_header_size:
            return _NEED  # near a limit: let the line walk find the exact offset
        pairs = _FIELD_PAIRS.findall(buf, pos, end - 2)
        headers = self._headers
        if len(headers) + len(pairs) > self.max_headers:
            return _NEED
        if buf.find(b" \r\n", pos, end) < 0 and buf.find(b"\t\r\n", pos, end) < 0:
            fields = [(name.lower(), value) for name, value in pairs]
        else:  # some value has trailing whitespace
            fields = [(name.lower(), value.rstrip(b" \t")) for name, value in pairs]
        special = _SPECIAL.get
        saved = None
        try:
            for name, value in fields:
                kind = special(name)
                if kind is not None:
                    if saved is None:
                        saved = self._flags()
                    self._special(kind, value, -1)
        except ParseError:
            if saved is not None:
                self._restore_flags(saved)  # the line walk reports it at its line
            return _NEED
        headers.extend(fields)
        self._end_head(events, base + end - 2)
        return end

    def _flags(self) -> _Flags:
        return (self._content_length, self._te, self._te_chunked_last, self._chunked_seen,
                self._close, self._keep_alive_token, self._upgrade_token, self._has_upgrade)

    def _restore_flags(self, saved: _Flags) -> None:
        (self._content_length, self._te, self._te_chunked_last, self._chunked_seen,
         self._close, self._keep_alive_token, self._upgrade_token, self._has_upgrade) = saved

    def _field_lines(self, buf: bytes, pos: int, avail: int, events: list[Event]) -> int:
        headers = self._headers
        trailers = self._state == _TRAILERS
        if not trailers and buf.find(b"\r\n\r\n", max(pos - 2, 0), avail) >= 0:
            new = self._field_block(buf, pos, events)
            if new != _NEED:
                return new
        base = self._base
        max_headers = self.max_headers
        while True:
            if pos == avail:
                return pos
            c = buf[pos]
            if c == CR:
                if pos + 1 == avail:
                    return pos
                if buf[pos + 1] != LF:
                    raise _fail(R.BARE_CR, base + pos)
                pos += 2
                if trailers:
                    self._emit(events, EndOfMessage(headers))
                    self._finish_message(events)
                else:
                    self._end_head(events, base + pos - 2)
                return pos
            if c == LF:
                raise _fail(R.BARE_LF, base + pos)
            climit, line_binds = self._climit(pos)
            limit = R.FIELD_LINE_TOO_LONG if line_binds else R.HEADER_TOO_LARGE
            if c == SP or c == HT:
                if not headers:
                    raise _fail(R.SPACE_AFTER_START_LINE, base + pos)
                if self._is_request:
                    raise _fail(R.OBS_FOLD, base + pos)
                name, value = headers[-1]
                if not trailers and name in _SPECIAL:
                    # Its first line already steered framing; unfolding now would desync.
                    raise _fail(R.OBS_FOLD_IN_FRAMING, base + pos)
                new = _end_line(buf, pos, avail, climit, _scan_fold_line, limit, base)
                if new == _NEED:
                    return pos
                headers[-1] = (name, unfold(value, buf[pos:new - 2]))
                pos = new
                continue
            if len(headers) >= max_headers:
                raise _fail(R.TOO_MANY_HEADERS, base + pos)
            if buf.find(b"\n", pos, avail) < 0:
                return self._partial_field_line(buf, pos, avail, climit, limit)
            m = _FIELD_LINE.match(buf, pos)
            if m is None or m.end() - 2 > climit:
                new = _end_line(buf, pos, avail, climit, _scan_field_line, limit, base)
                if new == _NEED:
                    return pos
                raise AssertionError("field line scanner accepted what the fast path refused")
            name = m.group(1).lower()
            value = m.group(2)
            headers.append((name, value))
            if not trailers:
                kind = _SPECIAL.get(name)
                if kind is not None:
                    self._special(kind, value, base + pos)
            pos = m.end()

    def _partial_field_line(self, buf: bytes, pos: int, avail: int, climit: int, limit: Rule) -> int:
        """Check an unfinished field line without walking again what earlier feeds checked.

        Once a line's name and colon are behind it, only value bytes can follow,
        so a trickled line is checked in time linear in its length.
        """
        base = self._base
        resume = self._resume
        if resume is not None and resume[0] == base + pos:
            j = _run(_VALUE_RUN, buf, resume[1] - base, min(avail, climit))
            if j == avail or (j + 1 == avail and buf[j] == CR):
                self._resume = (base + pos, base + j)
                return pos
        if _end_line(buf, pos, avail, climit, _scan_field_line, limit, base) != _NEED:
            raise AssertionError("a line without LF cannot be complete")
        if buf.find(b":", pos, avail) >= 0:
            j = avail - 1 if buf[avail - 1] == CR else avail
            self._resume = (base + pos, base + j)
        return pos

    def _special(self, kind: int, value: bytes, offset: int) -> None:
        if kind == _CL:
            if not value.isdigit():
                raise _fail(R.INVALID_CONTENT_LENGTH, offset)
            n = int(value)
            if n > R.MAX_BODY_LENGTH:
                raise _fail(R.CONTENT_LENGTH_OVERFLOW, offset)
            if self._te:
                raise _fail(R.CONTENT_LENGTH_WITH_TE, offset)
            if self._content_length is not None and self._content_length != n:
                raise _fail(R.CONFLICTING_CONTENT_LENGTH, offset)
            self._content_length = n
        elif kind == _TE:
            if self._content_length is not None:
                raise _fail(R.CONTENT_LENGTH_WITH_TE, offset)
            if self._is_request and self._version == b"1.0":
                raise _fail(R.TE_IN_HTTP10_REQUEST, offset)
            self._te = True
            for coding in _split_tokens(value):
                if not coding or _TOKEN_RUN.fullmatch(coding) is None:
                    raise _fail(R.INVALID_TRANSFER_ENCODING, offset)
                if self._chunked_seen:
                    if coding == b"chunked":
                        raise _fail(R.CHUNKED_TWICE, offset)
                    if self._is_request:
                        raise _fail(R.CHUNKED_NOT_LAST, offset)
                if self._is_request and coding not in R.TRANSFER_CODINGS:
                    raise _fail(R.UNKNOWN_TRANSFER_CODING, offset)
                if coding == b"chunked":
                    self._chunked_seen = True
                self._te_chunked_last = coding == b"chunked"
        elif kind == _UPG:
            self._has_upgrade = True
        else:
            for token in _split_tokens(value):
                if token == b"close":
                    self._close = True
                elif token == b"keep-alive":
                    self._keep_alive_token = True
                elif token == b"upgrade" and kind == _CONN:
                    self._upgrade_token = True

    def _end_head(self, events: list[Event], offset: int) -> None:
        version = self._version
        if version == b"1.1":
            keep_alive = not self._close
        else:
            keep_alive = self._keep_alive_token and not self._close
        headers = self._headers
        hop = None
        if self.strip_hop_by_hop:
            headers, hop = _split_hop_by_hop(headers)
        if self._is_request:
            self._request_head(events, offset, keep_alive, headers, hop)
        else:
            self._response_head(events, keep_alive, headers, hop)

    def _request_head(self, events: list[Event], offset: int, keep_alive: bool, headers: Headers,
                      hop: Headers | None) -> None:
        chunked = False
        length: int | None = self._content_length or 0
        if self._te:
            if not self._te_chunked_last:
                raise _fail(R.CHUNKED_NOT_LAST, offset)
            chunked, length = True, None
        connect = self._method == b"CONNECT"
        # RFC 9110 §7.8: a server ignores Upgrade in an HTTP/1.0 request.
        upgrade = connect or (self._has_upgrade and self._upgrade_token and self._version == b"1.1")
        if connect:
            chunked, length = False, 0
        self._emit(events, Request(self._method, self._target, headers, self._version,
                                   keep_alive, length, chunked, upgrade, hop))
        self._keep_alive = keep_alive
        self._upgrade = upgrade
        self._begin_body(events, length, chunked)

    def _response_head(self, events: list[Event], keep_alive: bool, headers: Headers,
                       hop: Headers | None) -> None:
        status = self._status
        if status < 200:
            upgrade = status == 101
            self._emit(events, InformationalResponse(status, self._reason, headers,
                                                     self._version, upgrade, hop))
            self._reset_message()
            self._state = _SWITCHED if upgrade else _START
            return
        method = self._expected.popleft() if self._expected else b"GET"
        chunked = False
        length: int | None
        upgrade = method == b"CONNECT" and status < 300
        if upgrade or method == b"HEAD" or status == 204 or status == 304:
            length = 0
        elif self._te:
            if self._te_chunked_last:
                chunked, length = True, None
                if self._version == b"1.0":
                    keep_alive = False  # RFC 9112 §6.1: close after a 1.0 message with TE
            else:
                length, keep_alive = None, False
        elif self._content_length is not None:
            length = self._content_length
        else:
            length, keep_alive = None, False
        self._emit(events, Response(status, self._reason, headers, self._version,
                                    keep_alive, length, chunked, upgrade, hop))
        self._keep_alive = keep_alive
        self._upgrade = upgrade
        if length is None and not chunked:
            self._state = _UNTIL_CLOSE
            return
        self._begin_body(events, length, chunked)

    def _begin_body(self, events: list[Event], length: int | None, chunked: bool) -> None:
        if chunked:
            self._state = _CHUNK_SIZE
        elif length:
            self._remaining = length
            self._state = _BODY
        else:
            self._end_message(events)

    def _end_message(self, events: list[Event]) -> None:
        self._emit(events, EndOfMessage([]))
        self._finish_message(events)

    def _finish_message(self, events: list[Event]) -> None:
        if self._upgrade:
            self._state = _SWITCHED
        elif self._keep_alive:
            self._state = _START
        else:
            self._state = _CLOSED
        self._reset_message()


class RequestParser(_Parser):
    """Parses the requests a server receives."""

    _is_request = True


class ResponseParser(_Parser):
    """Parses the responses a client receives; tell it each request's method with `expect()`."""

    _is_request = False

    def expect(self, method: bytes | str, /) -> None:
        """Record the method of the next request sent, so its response is framed right."""
        if isinstance(method, str):
            method = method.encode("ascii")
        self._expected.append(method.upper())
