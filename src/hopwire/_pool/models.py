"""What the pools take and give: timeouts, URLs, prepared requests and responses.

Shared by the sync and asyncio pools; no I/O here. A URL is split once and a
request without caller headers or body is serialized once: both are cached,
because a client sends the same few requests again and again, and checking
every byte of a request head costs more than parsing its answer.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Union
from urllib.parse import SplitResult, unquote, urlsplit

from .connection import PreparedRequest, prepare_request
from .._errors import LocalProtocolError
from .state import Origin
from .._wire.writer import Body, Field, body_framing

HeaderInput = Union[Mapping[Any, Any], Iterable[Field], None]
Headers = list[tuple[bytes, bytes]]

DEFAULT_PORTS = {"http": 80, "https": 443}
INVALID_URL = "not an absolute http:// or https:// URL"


# -- timeouts ----------------------------------------------------------------------

_UNSET: Any = object()


class Timeout:
    """Seconds each step of a request may take; None waits forever.

    `connect`: to open a connection (TCP, TLS, proxy tunnel); `read`: between
    two reads of the answer; `write`: to write the request; `pool`: to wait
    for a connection. `Timeout(5.0)` sets all four; a keyword overrides one.
    """

    __slots__ = ("connect", "read", "write", "pool")

    def __init__(self, default: float | None = 5.0, *, connect: float | None = _UNSET,
                 read: float | None = _UNSET, write: float | None = _UNSET,
                 pool: float | None = _UNSET) -> None:
        self.connect: float | None = default if connect is _UNSET else connect
        self.read: float | None = default if read is _UNSET else read
        self.write: float | None = default if write is _UNSET else write
        self.pool: float | None = default if pool is _UNSET else pool
        for name in self.__slots__:
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"Timeout.{name} must be positive or None, not {value!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timeout) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash((self.connect, self.read, self.write, self.pool))

    def __repr__(self) -> str:
        return (f"Timeout(connect={self.connect}, read={self.read}, write={self.write}, "
                f"pool={self.pool})")


TimeoutInput = Union[Timeout, float, None]


def as_timeout(value: TimeoutInput) -> Timeout:
    if isinstance(value, Timeout):
        return value
    if value is None or isinstance(value, (int, float)):
        return Timeout(value)
    raise TypeError(f"timeout must be a Timeout, a number or None, not {type(value).__name__}")


# -- URLs --------------------------------------------------------------------------

class Target(NamedTuple):
    """Where a request goes: the origin to connect to and what the request line names."""

    origin: Origin
    target: bytes  # origin-form: path and query
    authority: bytes  # the Host field: host, and the port when it is not the default
    url: str


_url_cache: dict[str, Target] = {}
_URL_CACHE_SIZE = 512


def split_url(url: str) -> Target:
    """The origin and origin-form target of an absolute http(s) URL (cached)."""
    target = _url_cache.get(url)
    if target is None:
        target = _split_url(url)
        if len(_url_cache) >= _URL_CACHE_SIZE:
            _url_cache.clear()
        _url_cache[url] = target
    return target


def _split_url(url: str) -> Target:
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise LocalProtocolError(INVALID_URL, f"{url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        raise LocalProtocolError(INVALID_URL, repr(url))
    if parts.username is not None:
        # Credentials in a URL go to proxies only (see Proxy); for an origin
        # they would have to become an Authorization field, which is the caller's.
        raise LocalProtocolError(INVALID_URL, f"{url!r} holds credentials: send an Authorization field")
    default = DEFAULT_PORTS[scheme]
    port = default if port is None else port
    path = parts.path or "/"
    target = path + ("?" + parts.query if parts.query else "")
    netloc_host = f"[{host}]" if ":" in host else host
    authority = netloc_host if port == default else f"{netloc_host}:{port}"
    try:
        target_b = target.encode("ascii")
        authority_b = authority.encode("idna" if not authority.isascii() else "ascii")
    except UnicodeError:
        raise LocalProtocolError(INVALID_URL, f"{url!r}: percent-encode what is not ASCII") from None
    return Target(Origin(scheme, host, port), target_b, authority_b, url)


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP forward proxy: `http://[user:password@]host:port`.

    http:// requests go to it with absolute-form targets (RFC 9112 §3.2.2);
    https:// ones through a CONNECT tunnel (RFC 9110 §9.3.6), so that the
    proxy sees neither the request nor the answer.
    """

    origin: Origin
    authorization: bytes | None  # the Proxy-Authorization value, from the URL's userinfo

    @classmethod
    def parse(cls, url: str) -> Proxy:
        parts: SplitResult = urlsplit(url)
        if parts.scheme.lower() != "http" or not parts.hostname:
            raise ValueError(f"proxy must be an http:// URL, not {url!r}")
        auth = None
        if parts.username is not None:
            userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = b"Basic " + base64.b64encode(userinfo.encode("utf-8"))
        return cls(Origin("http", parts.hostname, parts.port or 80), auth)


# -- requests ----------------------------------------------------------------------

_prepared_cache: dict[tuple[Any, ...], PreparedRequest] = {}
_PREPARED_CACHE_SIZE = 512


def prepare(method: str | bytes, where: Target, headers: HeaderInput, body: Body,
            proxy: Proxy | None) -> PreparedRequest:
    """The request head for `where`, checked; cached by method, URL, fields and framing.

    The same request made again (a client polling a URL, a proxy forwarding
    the same fields) then costs a dict lookup instead of serializing and
    checking every field. Fields that cannot be a key (lists as pairs) are
    not cached. Through a proxy (plain http only: https goes through a
    tunnel), the target is the absolute URL and the proxy's credentials are added.
    """
    forwarded = proxy is not None and where.origin.scheme == "http"
    framing = (0, False) if body is None else body_framing(body)
    if headers is None:
        fields: Any = ()
    elif isinstance(headers, Mapping):
        fields = tuple(headers.items())
    else:
        fields = tuple(headers)
    key = (method, where.url, fields, framing, forwarded and proxy)
    try:
        prepared = _prepared_cache.get(key)
    except TypeError:  # unhashable fields
        return _prepare(method, where, list(fields), body, proxy if forwarded else None)
    if prepared is None:
        prepared = _prepare(method, where, list(fields), body, proxy if forwarded else None)
        if len(_prepared_cache) >= _PREPARED_CACHE_SIZE:
            _prepared_cache.clear()
        _prepared_cache[key] = prepared
    return prepared


def _prepare(method: str | bytes, where: Target, fields: list[Field], body: Body,
             proxy: Proxy | None) -> PreparedRequest:
    body_length, chunked = body_framing(body)
    target: bytes = where.target
    if proxy is not None:
        target = b"http://" + where.authority + where.target
        if proxy.authorization is not None:
            fields.append((b"Proxy-Authorization", proxy.authorization))
    return prepare_request(method, target, fields, host=where.authority,
                           body_length=body_length, chunked=chunked)


# -- responses ---------------------------------------------------------------------

class BodyStream:
    """Where a streamed response's body comes from; each pool implements its half."""

    __slots__ = ()
    is_async = False
    closed: bool

    def next_data(self) -> bytes | None:
        raise TypeError("this response came from an AsyncPool: use aread() / aiter_bytes()")

    def close(self) -> None:
        raise TypeError("this response came from an AsyncPool: use aclose()")

    def read_all(self) -> bytes:
        """The rest of the body, at once (then the stream is closed)."""
        raise TypeError("this response came from an AsyncPool: use aread()")

    async def anext_data(self) -> bytes | None:
        raise TypeError("this response came from a Pool: use read() / iter_bytes()")

    async def aread_all(self) -> bytes:
        raise TypeError("this response came from a Pool: use read()")

    async def aclose(self) -> None:
        raise TypeError("this response came from a Pool: use close()")


class ExchangeInfo:
    """How a response was obtained: the connection story `hopwire get -v` tells.

    (A class of its own rather than a dataclass: one is made per request, and
    a dataclass's generated `__init__` is Python code even in the compiled core.)
    """

    __slots__ = ("connection", "reused", "pipelined", "replayed", "elapsed", "stream_id",
                 "streams")

    def __init__(self, connection: int, reused: bool, pipelined: int, replayed: bool,
                 elapsed: float = 0.0) -> None:
        self.connection = connection  # the pool's number of the connection that answered
        self.reused = reused  # the connection had answered an earlier request
        self.pipelined = pipelined  # requests ahead of this one in flight on the connection when it was sent
        self.replayed = replayed  # sent again after a connection closed before answering it
        self.elapsed = elapsed  # seconds from sending to the end of the response head
        # HTTP/2: the request's stream, and the streams in flight on the connection when
        # it was sent, its own included (None and 0 on HTTP/1.1).
        self.stream_id: int | None = None
        self.streams = 0

    @property
    def protocol(self) -> str:
        """The protocol of the connection: "HTTP/2" or "HTTP/1.1"."""
        return "HTTP/1.1" if self.stream_id is None else "HTTP/2"

    def _values(self) -> tuple[int, bool, int, bool, float, int | None, int]:
        return (self.connection, self.reused, self.pipelined, self.replayed, self.elapsed,
                self.stream_id, self.streams)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, ExchangeInfo)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (f"ExchangeInfo(connection={self.connection!r}, reused={self.reused!r}, "
                f"pipelined={self.pipelined!r}, replayed={self.replayed!r}, elapsed={self.elapsed!r}"
                + ("" if self.stream_id is None else
                   f", stream_id={self.stream_id!r}, streams={self.streams!r}") + ")")


class ResponseNotRead(LocalProtocolError):
    def __init__(self) -> None:
        super().__init__("the content of a streamed response is read with read() or iter_bytes() first")


class ResponseClosed(LocalProtocolError):
    def __init__(self) -> None:
        super().__init__("the body of this streamed response was iterated or closed already: "
                         "read() it first (inside the stream() block)")


class Response:
    """An HTTP response: status, headers and content.

    `headers` is the list of (name, value) pairs in received order, names in
    lower case. From `request()`, `content` is the whole body; from
    `stream()`, read it with `read()` / `iter_bytes()` (or `aread()` /
    `aiter_bytes()` from an `AsyncPool`), which give the connection back to
    the pool when the body ends.
    """

    __slots__ = ("status", "reason", "http_version", "headers", "method", "url", "info",
                 "_content", "_stream")

    def __init__(self, status: int, reason: str, http_version: str, headers: Headers,
                 method: bytes, url: str, info: ExchangeInfo, stream: BodyStream | None,
                 content: bytes | None = None) -> None:
        self.status = status
        self.reason = reason
        self.http_version = http_version
        self.headers = headers
        self.method = method
        self.url = url
        self.info = info
        self._content = content
        self._stream = stream

    def header(self, name: str | bytes, default: bytes | None = None) -> bytes | None:
        """The value of the first field named `name` (any case), or `default`."""
        key = (name.encode("latin-1") if isinstance(name, str) else name).lower()
        for field_name, value in self.headers:
            if field_name == key:
                return value
        return default

    def header_values(self, name: str | bytes) -> list[bytes]:
        key = (name.encode("latin-1") if isinstance(name, str) else name).lower()
        return [value for field_name, value in self.headers if field_name == key]

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise ResponseNotRead()
        return self._content

    @property
    def is_closed(self) -> bool:
        """The body was read to its end or the response was closed."""
        return self._stream is None or self._stream.closed

    # -- sync reading (a response of Pool.stream) ----------------------------------

    def read(self) -> bytes:
        if self._content is None:
            stream = self._sync_stream()
            if stream.closed:
                raise ResponseClosed()
            self._content = stream.read_all()
        return self._content

    def iter_bytes(self) -> Iterator[bytes]:
        if self._content is not None:
            if self._content:
                yield self._content
            return
        stream = self._sync_stream()
        while True:
            data = stream.next_data()
            if data is None:
                return
            yield data

    def close(self) -> None:
        """Stop reading: the connection is drained if little is left, else closed."""
        if self._stream is not None:
            self._sync_stream().close()

    def _sync_stream(self) -> BodyStream:
        assert self._stream is not None  # no stream only once the content is read
        return self._stream

    # -- async reading (a response of AsyncPool.stream) ------------------------------

    async def aread(self) -> bytes:
        if self._content is None:
            stream = self._async_stream()
            if stream.closed:
                raise ResponseClosed()
            self._content = await stream.aread_all()
        return self._content

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return _AsyncBytes(self)

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._async_stream().aclose()

    def _async_stream(self) -> BodyStream:
        assert self._stream is not None
        return self._stream

    def __repr__(self) -> str:
        return f"<Response [{self.status} {self.reason}] {self.method.decode('ascii', 'replace')} {self.url}>"


class _AsyncBytes:
    """`Response.aiter_bytes()`: an async iterator of its own rather than an async
    generator, so that one made and dropped unread is just dropped (the compiled
    twin's async generators warn like coroutines never awaited)."""

    __slots__ = ("response", "done")

    def __init__(self, response: Response) -> None:
        self.response = response
        self.done = False

    def __aiter__(self) -> _AsyncBytes:
        return self

    async def __anext__(self) -> bytes:
        if not self.done:
            response = self.response
            content = response._content
            if content is not None:
                self.done = True
                if content:
                    return content
            else:
                data = await response._async_stream().anext_data()
                if data is not None:
                    return data
                self.done = True
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop iterating (`contextlib.aclosing`); the response's `aclose()` gives the
        connection back."""
        self.done = True
