"""httpx transports on hopwire's pools: keep httpx's API, send with hopwire.

    client = httpx.Client(transport=hopwire.httpx.HTTPTransport(pipeline_depth=8))
    client = httpx.AsyncClient(transport=hopwire.httpx.AsyncHTTPTransport())

`HTTPTransport` runs on a `hopwire.Pool`, `AsyncHTTPTransport` on a
`hopwire.AsyncPool` (asyncio only: not under trio). They take the options of
httpx's own transports that make sense for HTTP/1.1 (`verify`, `cert`,
`trust_env`, `limits`, `proxy`, `retries`, `http1` and `http2` as httpcore
reads them: `http2=True` offers HTTP/2 to https origins, and without `http1`
speaks it with prior knowledge) plus hopwire's `pipeline_depth` and
`max_connections_per_host`.

How httpx's request becomes hopwire's:
- the URL loses its userinfo (httpx already turned it into an Authorization
  field) and its fragment;
- Content-Length and Transfer-Encoding are left out of the fields: framing is
  hopwire's writer's job (it refuses a caller's framing fields);
- the body: what httpx holds in memory (bytes, json, form data) is sent as
  bytes with a Content-Length, and may be replayed; a stream whose declared
  Content-Length is at most `BUFFER_LIMIT` is read into memory first, to keep
  Content-Length framing; any other stream is sent chunked as it is read,
  since the pool frames every iterable body that way;
- `request.extensions["timeout"]` becomes a `hopwire.Timeout`.

The answer is an `httpx.Response` whose stream reads hopwire's streamed
response and gives its connection back when closed; its extensions hold
"http_version", "reason_phrase" and "hopwire" (the `ExchangeInfo`: which
connection answered, whether it was reused or pipelined). hopwire's errors
become httpx's, also while the body is read (see `_ERRORS`).

httpx is an optional dependency: `import hopwire` never imports this module.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, NoReturn, Union
from urllib.parse import quote

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("hopwire.httpx is hopwire's transport for httpx, which is not installed: "
                      "pip install httpx") from exc

from . import AsyncPool, HTTPResponse, Pool, Timeout
from ._errors import (
    ConnectError,
    ConnectTimeout,
    HopwireError,
    LocalProtocolError,
    NetworkError,
    ParseError,
    PoolTimeout,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    TransportTimeout,
    WriteError,
    WriteTimeout,
)
from ._wire.writer import Body

__all__ = ["AsyncHTTPTransport", "HTTPTransport", "BUFFER_LIMIT"]

# A streamed request body with a declared Content-Length up to this size is
# read into memory and sent with that Content-Length (and can then be
# replayed); a larger or undeclared one is sent chunked.
BUFFER_LIMIT = 1024 * 1024

# httpx's own transports' default limits.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

# What httpx has no limit for gets one no pool reaches.
UNLIMITED = 1 << 30

CertTypes = Union[str, tuple[str, str], tuple[str, str, str]]
ProxyInput = Union[str, httpx.URL, httpx.Proxy, None]

# hopwire's error families map onto httpx's one to one; the most specific
# class in the error's MRO decides (ConnectTimeout before ConnectError).
# PoolClosed is not here: it stays the RuntimeError it is, as httpx's own
# closed Client raises RuntimeError.
_ERRORS: dict[type[HopwireError], type[httpx.TransportError]] = {
    ConnectTimeout: httpx.ConnectTimeout,
    ReadTimeout: httpx.ReadTimeout,
    WriteTimeout: httpx.WriteTimeout,
    PoolTimeout: httpx.PoolTimeout,
    TransportTimeout: httpx.TimeoutException,
    ConnectError: httpx.ConnectError,
    ReadError: httpx.ReadError,
    WriteError: httpx.WriteError,
    NetworkError: httpx.NetworkError,
    RemoteProtocolError: httpx.RemoteProtocolError,  # ConnectionLost too
    ParseError: httpx.RemoteProtocolError,
    ProxyError: httpx.ProxyError,
    LocalProtocolError: httpx.LocalProtocolError,
    TransportError: httpx.TransportError,
}

_FRAMING = frozenset([b"content-length", b"transfer-encoding"])
_VERSIONS = {"HTTP/1.1": b"HTTP/1.1", "HTTP/1.0": b"HTTP/1.0", "HTTP/2": b"HTTP/2"}


def _raise_mapped(exc: HopwireError, request: httpx.Request) -> NoReturn:
    """Raise httpx's exception for hopwire's `exc` (`exc` itself when httpx has none)."""
    for cls in type(exc).__mro__:
        target = _ERRORS.get(cls)
        if target is not None:
            raise target(str(exc), request=request) from exc
    raise exc


# -- options -------------------------------------------------------------------------

def _ssl_context(verify: ssl.SSLContext | str | bool, cert: CertTypes | None,
                 trust_env: bool) -> ssl.SSLContext:
    """The context httpx's transport would use: certifi's CAs (or SSL_CERT_FILE/DIR) by default."""
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif isinstance(verify, str):  # a CA bundle file or a directory of CAs
        if os.path.isdir(verify):
            context = ssl.create_default_context(capath=verify)
        else:
            context = ssl.create_default_context(cafile=verify)
    else:
        context = httpx.create_ssl_context(verify=bool(verify), trust_env=trust_env)
    if cert:
        if isinstance(cert, str):
            context.load_cert_chain(cert)
        else:
            context.load_cert_chain(*cert)
    return context


def _proxy_url(proxy: ProxyInput) -> str | None:
    """hopwire's `http://[user:password@]host:port` for httpx's proxy argument."""
    if proxy is None:
        return None
    if not isinstance(proxy, httpx.Proxy):
        proxy = httpx.Proxy(url=proxy)
    if proxy.url.scheme != "http":
        raise ValueError(f"hopwire's transport speaks to http:// proxies only, not {proxy.url.scheme}:// "
                         "(https:// targets still go through a CONNECT tunnel)")
    if len(proxy.headers):
        raise ValueError("hopwire's transport sends no extra proxy headers: put credentials in the proxy URL")
    userinfo = ""
    if proxy.auth is not None:
        user, password = proxy.auth
        userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    return f"http://{userinfo}{proxy.url.netloc.decode('ascii')}"


def _pool_options(*, verify: ssl.SSLContext | str | bool, cert: CertTypes | None,
                  trust_env: bool, http1: bool, http2: bool, limits: httpx.Limits,
                  proxy: ProxyInput, retries: int, pipeline_depth: int,
                  max_connections_per_host: int | None) -> dict[str, Any]:
    """The keyword arguments of Pool / AsyncPool for httpx's transport options.

    `limits`: max_connections is the pool's global cap (None: unlimited);
    httpx has no per-host cap, so max_connections_per_host defaults to it.
    hopwire keeps every idle connection until keepalive_expiry (None: no
    expiry), so max_keepalive_connections is approximated: 0 keeps none
    (connections are not reused), any other value keeps up to max_connections.
    """
    if not http1 and not http2:
        raise ValueError("http1=False and http2=False leave no protocol")
    max_connections = UNLIMITED if limits.max_connections is None else limits.max_connections
    keepalive = float("inf") if limits.keepalive_expiry is None else limits.keepalive_expiry
    if limits.max_keepalive_connections == 0:
        keepalive = 0.0
    per_host = max_connections if max_connections_per_host is None else max_connections_per_host
    return dict(max_connections=max_connections,
                max_connections_per_host=min(per_host, max_connections),
                pipeline_depth=pipeline_depth, keepalive_expiry=keepalive, retries=retries,
                proxy=_proxy_url(proxy), ssl_context=_ssl_context(verify, cert, trust_env),
                # httpcore's meaning: http2 alone is HTTP/2 with prior knowledge.
                http2="prior-knowledge" if http2 and not http1 else http2)


# -- requests ------------------------------------------------------------------------

_timeouts: dict[tuple[Any, ...], Timeout] = {}
_MIN_TIMEOUT = 1e-6  # httpx's 0 means "do not wait"; hopwire's timeouts are positive


def _seconds(value: Any) -> float | None:
    return None if value is None else max(float(value), _MIN_TIMEOUT)


def _timeout(extensions: Mapping[str, Any]) -> Timeout | None:
    """hopwire's Timeout for httpx's timeout extension (cached: clients reuse a few)."""
    given = extensions.get("timeout")
    if given is None:
        return None
    key = (given.get("connect"), given.get("read"), given.get("write"), given.get("pool"))
    timeout = _timeouts.get(key)
    if timeout is None:
        connect, read, write, pool = map(_seconds, key)
        timeout = Timeout(connect=connect, read=read, write=write, pool=pool)
        if len(_timeouts) >= 64:
            _timeouts.clear()
        _timeouts[key] = timeout
    return timeout


def _url(request: httpx.Request) -> str:
    """The absolute URL without userinfo and fragment, which hopwire refuses or ignores."""
    url = request.url
    scheme = url.scheme
    if scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(f"hopwire's transport speaks http:// and https://, "
                                        f"not {scheme}://", request=request)
    return f"{scheme}://{url.netloc.decode('ascii')}{url.raw_path.decode('ascii')}"


def _headers(request: httpx.Request) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in request.headers.raw if name.lower() not in _FRAMING]


def _declared_length(request: httpx.Request) -> int | None:
    value = request.headers.get("content-length")
    try:
        return None if value is None else int(value)
    except ValueError:
        raise httpx.LocalProtocolError(f"invalid Content-Length {value!r}", request=request) from None


_ANY_LENGTH = -1


def _bytes_to_read(request: httpx.Request) -> int | None:
    """How to send a body httpx does not hold as `request.content`.

    None: stream it (chunked). A number: read it into memory first, and it
    must have that many bytes (`_ANY_LENGTH`: any). httpx's framing fields
    say what the body is, as they would to httpcore: Content-Length up to
    `BUFFER_LIMIT` is read, a larger one streamed; Transfer-Encoding is
    streamed; neither means no body (a redirect's GET carries the original's
    empty stream). httpx's in-memory `ByteStream` is always read.
    """
    if isinstance(request.stream, httpx.ByteStream):
        return _ANY_LENGTH
    declared = _declared_length(request)
    if declared is None:
        return None if "transfer-encoding" in request.headers else 0
    return declared if declared <= BUFFER_LIMIT else None


def _checked(content: bytes, expected: int, request: httpx.Request) -> bytes:
    if expected != _ANY_LENGTH and len(content) != expected:
        raise httpx.LocalProtocolError(
            f"the body has {len(content)} bytes, its Content-Length says {expected}"
            if "content-length" in request.headers else
            f"a body of {len(content)} bytes without Content-Length or Transfer-Encoding",
            request=request)
    return content


def _in_memory(request: httpx.Request) -> tuple[bool, bytes]:
    """(True, content) when httpx holds the whole body (built from bytes, json, form data)."""
    try:
        return True, request.content
    except httpx.RequestNotRead:
        return False, b""


def _sync_body(request: httpx.Request) -> Body:
    known, content = _in_memory(request)
    if not known:
        stream = request.stream
        if not isinstance(stream, httpx.SyncByteStream):
            raise TypeError("an async request body needs httpx.AsyncClient and AsyncHTTPTransport")
        expected = _bytes_to_read(request)
        if expected is None:
            return stream  # sent chunked as it is read
        content = _checked(b"".join(stream), expected, request)
    return content or None


async def _async_body(request: httpx.Request) -> Body:
    known, content = _in_memory(request)
    if not known:
        stream = request.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("a sync request body needs httpx.Client and HTTPTransport")
        expected = _bytes_to_read(request)
        if expected is None:
            return stream
        content = _checked(b"".join([piece async for piece in stream]), expected, request)
    return content or None


def _extensions(response: HTTPResponse) -> dict[str, Any]:
    version = _VERSIONS.get(response.http_version) or response.http_version.encode("ascii")
    return {"http_version": version, "reason_phrase": response.reason.encode("latin-1"),
            "hopwire": response.info}


# -- responses -----------------------------------------------------------------------

class _SyncStream(httpx.SyncByteStream):
    """httpx's view of a streamed `Pool` response; close() gives the connection back."""

    def __init__(self, response: HTTPResponse, context: AbstractContextManager[HTTPResponse],
                 request: httpx.Request) -> None:
        self._response = response
        self._context = context
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_bytes()
        except HopwireError as exc:
            _raise_mapped(exc, self._request)

    def close(self) -> None:
        try:
            self._context.__exit__(None, None, None)
        except HopwireError as exc:
            _raise_mapped(exc, self._request)


class _AsyncStream(httpx.AsyncByteStream):
    """httpx's view of a streamed `AsyncPool` response; aclose() gives the connection back."""

    def __init__(self, response: HTTPResponse, context: AbstractAsyncContextManager[HTTPResponse],
                 request: httpx.Request) -> None:
        self._response = response
        self._context = context
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for data in self._response.aiter_bytes():
                yield data
        except HopwireError as exc:
            _raise_mapped(exc, self._request)

    async def aclose(self) -> None:
        try:
            await self._context.__aexit__(None, None, None)
        except HopwireError as exc:
            _raise_mapped(exc, self._request)


# -- transports ----------------------------------------------------------------------

class HTTPTransport(httpx.BaseTransport):
    """An httpx transport on a thread-safe `hopwire.Pool`.

    `verify`, `cert`, `trust_env`, `http1`, `http2`, `limits`, `proxy` and
    `retries` mean what they mean to `httpx.HTTPTransport` (see
    `_pool_options` for how `limits` maps); `pipeline_depth` and
    `max_connections_per_host` are the pool's (default: no pipelining, no
    per-host cap below `limits.max_connections`, as in httpx). A request is
    pipelined only once its host has all the connections it may have, so
    pipelining wants a per-host cap. All keyword-only. `pool` is the pool.
    """

    def __init__(self, *, verify: ssl.SSLContext | str | bool = True, cert: CertTypes | None = None,
                 trust_env: bool = True, http1: bool = True, http2: bool = False,
                 limits: httpx.Limits = DEFAULT_LIMITS, proxy: ProxyInput = None, retries: int = 0,
                 pipeline_depth: int = 1, max_connections_per_host: int | None = None) -> None:
        self.pool = Pool(**_pool_options(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, limits=limits,
            proxy=proxy, retries=retries, pipeline_depth=pipeline_depth,
            max_connections_per_host=max_connections_per_host))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        context = self.pool.stream(request.method, _url(request), headers=_headers(request),
                                   body=_sync_body(request), timeout=_timeout(request.extensions))
        try:
            response = context.__enter__()
        except HopwireError as exc:
            _raise_mapped(exc, request)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_SyncStream(response, context, request),
                              extensions=_extensions(response))

    def close(self) -> None:
        self.pool.close()


class AsyncHTTPTransport(httpx.AsyncBaseTransport):
    """An httpx transport on a `hopwire.AsyncPool` (asyncio); options as `HTTPTransport`.

    Tasks sharing it pipeline on one connection when `pipeline_depth` > 1
    and the connection caps are reached.
    """

    def __init__(self, *, verify: ssl.SSLContext | str | bool = True, cert: CertTypes | None = None,
                 trust_env: bool = True, http1: bool = True, http2: bool = False,
                 limits: httpx.Limits = DEFAULT_LIMITS, proxy: ProxyInput = None, retries: int = 0,
                 pipeline_depth: int = 1, max_connections_per_host: int | None = None) -> None:
        self.pool = AsyncPool(**_pool_options(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, limits=limits,
            proxy=proxy, retries=retries, pipeline_depth=pipeline_depth,
            max_connections_per_host=max_connections_per_host))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        context = self.pool.stream(request.method, _url(request), headers=_headers(request),
                                   body=await _async_body(request),
                                   timeout=_timeout(request.extensions))
        try:
            response = await context.__aenter__()
        except HopwireError as exc:
            _raise_mapped(exc, request)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_AsyncStream(response, context, request),
                              extensions=_extensions(response))

    async def aclose(self) -> None:
        await self.pool.aclose()
