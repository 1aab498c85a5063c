"""Serializing HTTP/1.1 requests: the sans-I/O writer under the connection pool.

Strategy: a few pure functions turn what the caller asks for into bytes, or
refuse with `LocalProtocolError` before a single byte is produced, so nothing
invalid reaches the wire. `request_head()` writes the request line and the
header section; the body follows either as raw bytes (Content-Length framing)
or as `chunk()` pieces closed by `last_chunk()` (chunked framing), and
`body_framing()` says which of the two a body object needs.

Framing is the writer's job alone: the caller states the body's length (or
that it is chunked) and the writer emits the one framing field. A caller's
own Content-Length or Transfer-Encoding is refused, because a second framing
that contradicts the real one is how requests get smuggled (RFC 9112 §6.3,
§11.2). Every byte is checked against the classes the parser uses
(`hopwire._wire.rules`), so what this module writes, hopwire's parser accepts.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Union

from . import rules as R
from .._errors import LocalProtocolError

Text = Union[bytes, str]
Field = tuple[Text, Text]
Body = Union[bytes, bytearray, memoryview, "SizedBody", Iterable[bytes], AsyncIterable[bytes], None]

# -- facts of the writer (candidates for _rules) -------------------------------

# RFC 9110 §8.6: a user agent SHOULD NOT send Content-Length in a request with
# no content whose method defines no meaning for content; these are the
# standard methods of RFC 9110 §9.3 that define none (or forbid content).
BODYLESS_METHODS = frozenset([b"GET", b"HEAD", b"DELETE", b"OPTIONS", b"TRACE", b"CONNECT"])
# RFC 9110 §9.3.8: a client MUST NOT send content in a TRACE request;
# §9.3.6: a CONNECT request has no content (its bytes after the head are the tunnel).
NO_CONTENT_METHODS = frozenset([b"TRACE", b"CONNECT"])
# RFC 9112 §6: the fields that delimit a message body.
FRAMING_FIELDS = frozenset([b"content-length", b"transfer-encoding"])
# RFC 9110 §6.5.1: no trailer may carry framing, routing or connection
# management; hopwire refuses the hop-by-hop fields, Content-Length and Host.
FORBIDDEN_TRAILERS = R.HOP_BY_HOP | {b"content-length", b"host"}

# -- reasons of LocalProtocolError ----------------------------------------------

INVALID_METHOD = "method is not a token (RFC 9110 §9.1)"
INVALID_TARGET = "invalid character in request target (RFC 9112 §3.2)"
EMPTY_TARGET = "empty request target (RFC 9112 §3.2)"
TARGET_FORM = "request target has no form its method allows (RFC 9112 §3.2)"
INVALID_NAME = "field name is not a token (RFC 9110 §5.1)"
INVALID_VALUE = "invalid character in field value (RFC 9110 §5.5)"
NOT_ENCODABLE = "not encodable (ASCII for method, target and names; latin-1 for values)"
MISSING_HOST = "no Host field: an HTTP/1.1 request must carry one (RFC 9112 §3.2)"
DUPLICATE_HOST = "more than one Host field (RFC 9112 §3.2)"
CALLER_FRAMING = "Content-Length and Transfer-Encoding are the writer's to set (RFC 9112 §6.3)"
UNKNOWN_LENGTH = "body_length=None without chunked=True: the end of the body would be unknown"
BOTH_FRAMINGS = "a body length and chunked=True at once (RFC 9112 §6.3)"
INVALID_LENGTH = "body length out of range (0 to 2**63-1)"
CONTENT_NOT_ALLOWED = "content in a request whose method has none (RFC 9110 §9.3.6, §9.3.8)"
FORBIDDEN_TRAILER = "field not allowed in a trailer section (RFC 9110 §6.5.1)"


# -- byte checks -----------------------------------------------------------------
# bytes.translate(None, allowed) deletes every allowed byte: what is left over
# is exactly the offending bytes, found in one C-level pass.

_TCHAR_BYTES = bytes(sorted(R.TCHARS))
_TARGET_BYTES = bytes(sorted(R.TARGET_CHARS))
_VALUE_BYTES = bytes(sorted(R.VALUE_CHARS))
_OWS = b" \t"  # RFC 9110 §5.6.3: the whitespace a field value is stripped of

# RFC 3986 §3.1: an absolute-form target starts with `scheme ":"`.
_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*:")
# RFC 9112 §3.2.3: authority-form is `uri-host ":" port`, without userinfo.
_AUTHORITY = re.compile(rb"[^/?#@]+:[0-9]+")


def _encode(text: Text, encoding: str, what: str) -> bytes:
    if isinstance(text, str):
        try:
            return text.encode(encoding)
        except UnicodeEncodeError:
            raise LocalProtocolError(NOT_ENCODABLE, f"{what} {text!r}") from None
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError(f"{what} must be bytes or str, not {type(text).__name__}")


def _check(data: bytes, allowed: bytes, reason: str, what: str) -> bytes:
    bad = data.translate(None, allowed)
    if bad:
        raise LocalProtocolError(reason, f"{what} {data!r} holds {bad[:1]!r}")
    return data


def _token(text: Text, reason: str, what: str) -> bytes:
    data = _encode(text, "ascii", what)
    if not data:
        raise LocalProtocolError(reason, f"empty {what}")
    return _check(data, _TCHAR_BYTES, reason, what)


def _value(text: Text) -> bytes:
    # The header-injection and response-splitting defence (RFC 9112 §11.1):
    # strip only SP and HTAB, so that a CR or LF at either end is refused
    # like one inside, never tidied away.
    value = _encode(text, "latin-1", "field value").strip(_OWS)
    return _check(value, _VALUE_BYTES, INVALID_VALUE, "field value")


def _fields(pairs: Iterable[Field]) -> list[tuple[bytes, bytes]]:
    return [(_token(name, INVALID_NAME, "field name"), _value(value)) for name, value in pairs]


def _section(fields: Iterable[tuple[bytes, bytes]]) -> bytes:
    return b"".join(b"%s: %s\r\n" % field for field in fields) + b"\r\n"


# -- request head ----------------------------------------------------------------

def _fits_form(method: bytes, target: bytes) -> bool:
    # RFC 9112 §3.2: CONNECT takes authority-form and only it (§3.2.3), `*`
    # is for OPTIONS only (§3.2.4), the rest is origin-form or absolute-form
    # (§3.2.1, §3.2.2). No form holds a fragment (RFC 9110 §7.1).
    if method == b"CONNECT":
        return _AUTHORITY.fullmatch(target) is not None
    if target == b"*":
        return method == b"OPTIONS"
    if b"#" in target:
        return False
    return target.startswith(b"/") or _SCHEME.match(target) is not None


def _target(method: bytes, text: Text) -> bytes:
    target = _encode(text, "ascii", "request target")
    if not target:
        raise LocalProtocolError(EMPTY_TARGET)
    _check(target, _TARGET_BYTES, INVALID_TARGET, "request target")
    if not _fits_form(method, target):
        raise LocalProtocolError(TARGET_FORM, f"{method!r} {target!r}")
    return target


def _check_caller_fields(fields: list[tuple[bytes, bytes]]) -> bool:
    """Refuse framing fields and a second Host; return whether Host is there."""
    names = [name.lower() for name, _ in fields]
    for name in names:
        if name in FRAMING_FIELDS:
            raise LocalProtocolError(CALLER_FRAMING, repr(name))
    hosts = names.count(b"host")
    if hosts > 1:
        raise LocalProtocolError(DUPLICATE_HOST, f"{hosts} Host fields")
    return hosts == 1


def _check_length(body_length: int) -> None:
    if isinstance(body_length, bool) or not isinstance(body_length, int):
        raise TypeError(f"body_length must be an int or None, not {type(body_length).__name__}")
    if not 0 <= body_length <= R.MAX_BODY_LENGTH:
        raise LocalProtocolError(INVALID_LENGTH, str(body_length))


def _refuse_content(method: bytes) -> None:
    if method in NO_CONTENT_METHODS:
        raise LocalProtocolError(CONTENT_NOT_ALLOWED, repr(method))


def _framing(method: bytes, body_length: int | None, chunked: bool) -> list[tuple[bytes, bytes]]:
    """The framing field the body needs (RFC 9112 §6.1, §6.2), if any."""
    if body_length is not None:
        _check_length(body_length)
    if chunked:
        if body_length:
            raise LocalProtocolError(BOTH_FRAMINGS, f"body_length={body_length}")
        _refuse_content(method)
        return [(b"Transfer-Encoding", b"chunked")]
    if body_length is None:
        raise LocalProtocolError(UNKNOWN_LENGTH)
    if body_length:
        _refuse_content(method)
    elif method in BODYLESS_METHODS:
        return []
    return [(b"Content-Length", b"%d" % body_length)]


def request_head(
    method: Text,
    target: Text,
    headers: Iterable[Field],
    *,
    host: Text | None = None,
    body_length: int | None = 0,
    chunked: bool = False,
) -> bytes:
    """The request line and header section of one HTTP/1.1 request, blank line included.

    `headers` keep their order and the case of their names; values lose
    surrounding SP/HTAB. A Host field is taken from `headers`, else written
    first from `host`. The framing field comes last: `Content-Length` for
    `body_length` (left out for an empty body of GET, HEAD, DELETE, OPTIONS,
    TRACE and CONNECT), or `Transfer-Encoding: chunked` for `chunked=True`.

    >>> request_head(b"POST", "/up", [("Content-Type", "text/plain")], host="example.com", body_length=5)
    b'POST /up HTTP/1.1\\r\\nHost: example.com\\r\\nContent-Type: text/plain\\r\\nContent-Length: 5\\r\\n\\r\\n'
    >>> request_head("GET", "/", [("Host", "example.com")])
    b'GET / HTTP/1.1\\r\\nHost: example.com\\r\\n\\r\\n'
    >>> request_head("GET", "/", [("X-A", "1\\r\\nX-B: 2")], host="h")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    hopwire._errors.LocalProtocolError: invalid character in field value (RFC 9110 §5.5): ...
    """
    method_b = _token(method, INVALID_METHOD, "method")
    target_b = _target(method_b, target)
    fields = _fields(headers)
    if not _check_caller_fields(fields):
        if host is None:
            raise LocalProtocolError(MISSING_HOST)
        fields.insert(0, (b"Host", _value(host)))  # RFC 9110 §7.2: Host SHOULD be the first field line
    fields += _framing(method_b, body_length, chunked)
    return b"%s %s HTTP/1.1\r\n" % (method_b, target_b) + _section(fields)


# -- chunked body ----------------------------------------------------------------

def chunk(data: bytes | bytearray | memoryview) -> bytes:
    """One chunk of a chunked body (RFC 9112 §7.1): hex size, CRLF, data, CRLF.

    Empty data gives b"", never the last chunk: only `last_chunk()` ends a body.

    >>> chunk(b"hello")
    b'5\\r\\nhello\\r\\n'
    >>> chunk(b"")
    b''
    """
    if isinstance(data, str):
        raise TypeError("chunk data must be bytes-like, not str")
    if not isinstance(data, bytes):
        data = bytes(memoryview(data))  # flattens any buffer; TypeError for the rest
    return b"%x\r\n%b\r\n" % (len(data), data) if data else b""


def last_chunk(trailers: Iterable[Field] = ()) -> bytes:
    """The end of a chunked body: `0` CRLF, the trailer section, CRLF (RFC 9112 §7.1.2).

    >>> last_chunk()
    b'0\\r\\n\\r\\n'
    >>> last_chunk([("X-Checksum", "abc")])
    b'0\\r\\nX-Checksum: abc\\r\\n\\r\\n'
    """
    fields = _fields(trailers)
    for name, _ in fields:
        if name.lower() in FORBIDDEN_TRAILERS:
            raise LocalProtocolError(FORBIDDEN_TRAILER, repr(name))
    return b"0\r\n" + _section(fields)


# -- body objects ----------------------------------------------------------------

class SizedBody:
    """A streamed body whose length is known before it is sent.

    It goes with `Content-Length: length` instead of chunked coding: what a
    proxy forwarding a request with Content-Length needs, and what HTTP/1.0
    servers and many applications require. The pool checks the count: more
    bytes, or fewer at the end, is a LocalProtocolError and the connection is
    not reused. `chunks` is an iterable of bytes (Pool or AsyncPool) or an
    async iterable (AsyncPool); it is read once, so the request is not replayed.
    """

    __slots__ = ("length", "chunks")

    def __init__(self, length: int, chunks: Iterable[bytes] | AsyncIterable[bytes]) -> None:
        _check_length(length)
        if not isinstance(chunks, (Iterable, AsyncIterable)) or isinstance(chunks, (bytes, str)):
            raise TypeError(f"chunks must be an (async) iterable of bytes, not {type(chunks).__name__}")
        self.length = length
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        if not isinstance(self.chunks, Iterable):
            raise TypeError("a SizedBody over an async iterable needs an AsyncPool")
        return iter(self.chunks)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[bytes]:
        chunks = self.chunks
        if isinstance(chunks, AsyncIterable):
            async for piece in chunks:
                yield piece
        else:
            for piece in chunks:
                yield piece

    def __repr__(self) -> str:
        return f"SizedBody({self.length}, {self.chunks!r})"


def body_framing(body: Body) -> tuple[int | None, bool]:
    """(body_length, chunked) for `request_head()`, from the body the pool will send.

    None and bytes-like bodies have a known length; an iterable or async
    iterable of bytes is sent chunked, its length being unknown until the end.

    >>> body_framing(b"hello")
    (5, False)
    >>> body_framing(iter([b"he", b"llo"]))
    (None, True)
    >>> body_framing(SizedBody(5, [b"he", b"llo"]))
    (5, False)
    """
    if body is None:
        return 0, False
    if isinstance(body, (bytes, bytearray, memoryview)):
        return memoryview(body).nbytes, False
    if isinstance(body, SizedBody):
        return body.length, False
    if isinstance(body, str):
        raise TypeError("a str body has no byte length: encode it first")
    if isinstance(body, (Iterable, AsyncIterable)):
        return None, True
    raise TypeError(f"body must be bytes-like, an (async) iterable or None, not {type(body).__name__}")
