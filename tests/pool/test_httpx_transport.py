"""httpx's Client and AsyncClient on hopwire's transports, against the real test servers.

Each scenario is written once, as a coroutine over a `Driver`, and runs with
`httpx.Client` on `HTTPTransport` (each call in a thread) and with
`httpx.AsyncClient` on `AsyncHTTPTransport`: requests with every kind of body,
streamed downloads, HEAD, redirects, timeouts, errors mapped to httpx's (also
while a body is read), pipelining, TLS, proxies, and no file descriptor left
open once the client is closed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeVar

import pytest

httpx = pytest.importorskip("httpx", reason="httpx is a test dependency: pip install '.[test]'")

import hopwire  # noqa: E402
import hopwire.httpx as hx  # noqa: E402
from support.servers.proxy_double import ForwardProxy, TLSOrigin  # noqa: E402
from support.servers import HELLO, chunked_body, digest_text, open_fds, pattern  # noqa: E402
from support.servers.stdlib import HTTPServerThread, TrackedHTTPServer  # noqa: E402

T = TypeVar("T")
KINDS = ("sync", "async")
SCENARIO_TIMEOUT = 60.0  # seconds: a hung transport fails the test

kinds = pytest.mark.parametrize("kind", KINDS)


# -- one way to drive both clients ----------------------------------------------------

class Driver:
    """The calls the scenarios make, the same for httpx.Client and httpx.AsyncClient."""

    kind: str
    client: Any
    transport: Any

    async def request(self, method: str, url: str, **kw: Any) -> Any:
        raise NotImplementedError

    async def stream(self, method: str, url: str, *, stop_after: int | None = None,
                     **kw: Any) -> tuple[Any, list[bytes]]:
        """Stream a response; read it all, or only `stop_after` chunks before closing it."""
        raise NotImplementedError

    def body(self, pieces: list[bytes]) -> Any:
        """A streamed request body of `pieces`, of the kind this client sends."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class SyncDriver(Driver):
    kind = "sync"

    def __init__(self, client_options: dict[str, Any], **options: Any) -> None:
        self.transport = hx.HTTPTransport(**options)
        self.client = httpx.Client(transport=self.transport, **client_options)

    async def request(self, method: str, url: str, **kw: Any) -> Any:
        return await asyncio.to_thread(self.client.request, method, url, **kw)

    async def stream(self, method: str, url: str, *, stop_after: int | None = None,
                     **kw: Any) -> tuple[Any, list[bytes]]:
        def read() -> tuple[Any, list[bytes]]:
            chunks = []
            with self.client.stream(method, url, **kw) as response:
                for data in response.iter_bytes():
                    chunks.append(data)
                    if stop_after is not None and len(chunks) >= stop_after:
                        break
            return response, chunks
        return await asyncio.to_thread(read)

    def body(self, pieces: list[bytes]) -> Iterator[bytes]:
        yield from pieces

    async def close(self) -> None:
        self.client.close()


class AsyncDriver(Driver):
    kind = "async"

    def __init__(self, client_options: dict[str, Any], **options: Any) -> None:
        self.transport = hx.AsyncHTTPTransport(**options)
        self.client = httpx.AsyncClient(transport=self.transport, **client_options)

    async def request(self, method: str, url: str, **kw: Any) -> Any:
        return await self.client.request(method, url, **kw)

    async def stream(self, method: str, url: str, *, stop_after: int | None = None,
                     **kw: Any) -> tuple[Any, list[bytes]]:
        chunks = []
        async with self.client.stream(method, url, **kw) as response:
            async for data in response.aiter_bytes():
                chunks.append(data)
                if stop_after is not None and len(chunks) >= stop_after:
                    break
        return response, chunks

    async def body(self, pieces: list[bytes]) -> AsyncIterator[bytes]:  # type: ignore[override]
        for piece in pieces:
            yield piece

    async def close(self) -> None:
        await self.client.aclose()


def run(kind: str, scenario: Callable[[Driver], Awaitable[T]], *,
        client_options: dict[str, Any] | None = None, **options: Any) -> T:
    """Run `scenario(driver)` on a fresh loop with a client of `kind`; always close the client."""
    async def main() -> T:
        driver: Driver = (SyncDriver if kind == "sync" else AsyncDriver)(client_options or {}, **options)
        try:
            return await asyncio.wait_for(scenario(driver), SCENARIO_TIMEOUT)
        finally:
            await driver.close()
    return asyncio.run(main())


def info(response: Any) -> hopwire.ExchangeInfo:
    exchange = response.extensions["hopwire"]
    assert isinstance(exchange, hopwire.ExchangeInfo)
    return exchange


def refused_url() -> str:
    """A URL on a port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# -- a redirecting server -------------------------------------------------------------

class _RedirectHandler(BaseHTTPRequestHandler):
    """GET /hop/N redirects (302) N times to /landed; POST /307 keeps the method and the body
    (to /echo), POST /303 turns into a GET of /landed."""

    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass

    def _answer(self, status: int, body: bytes = b"", location: str | None = None) -> None:
        self.send_response(status)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/hop/"):
            left = int(self.path[5:])
            self._answer(302, location=f"/hop/{left - 1}" if left > 1 else "/landed")
        elif self.path == "/landed":
            self._answer(200, b"landed")
        else:
            self._answer(404, b"no such route")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/307":
            self._answer(307, location="/echo")
        elif self.path == "/303":
            self._answer(303, location="/landed")
        elif self.path == "/echo":
            self._answer(200, b"echo " + body)
        else:
            self._answer(404, b"no such route")


@pytest.fixture(scope="module")
def redirector() -> Iterator[str]:
    with HTTPServerThread(TrackedHTTPServer(_RedirectHandler, name="redirector")) as server:
        yield server.url


# -- requests and responses -----------------------------------------------------------

@kinds
def test_get_reuses_the_connection(kind: str, nginx: Any) -> None:
    async def scenario(d: Driver) -> list[Any]:
        return [await d.request("GET", nginx.url + "/"),
                await d.request("GET", nginx.url + "/bytes/65536"),
                await d.request("GET", nginx.url + "/status/404")]

    hello, data, missing = run(kind, scenario)
    assert (hello.status_code, hello.content) == (200, HELLO)
    assert hello.http_version == "HTTP/1.1" and hello.reason_phrase == "OK"
    assert data.content == pattern(65536) and data.headers["content-length"] == "65536"
    assert missing.status_code == 404 and missing.reason_phrase == "Not Found"
    assert [info(r).reused for r in (hello, data, missing)] == [False, True, True]
    assert {info(r).connection for r in (hello, data, missing)} == {1}


@kinds
def test_gzip_chunked_answer_is_decoded_by_httpx(kind: str, nginx: Any) -> None:
    async def scenario(d: Driver) -> Any:
        return await d.request("GET", nginx.url + "/chunked")  # httpx asks for gzip by default

    response = run(kind, scenario)
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.content == chunked_body()


@kinds
def test_post_bodies(kind: str, aiohttp_server: Any) -> None:
    upload = pattern(300_000)
    url = aiohttp_server.url + "/post"

    async def scenario(d: Driver) -> list[Any]:
        return [await d.request("POST", url, content=b"some bytes"),
                await d.request("POST", url, json={"answer": 42}),
                await d.request("POST", url, data={"a": "1", "b": "two"}),
                await d.request("POST", url, files={"f": ("f.bin", b"x" * 5000)}),
                await d.request("POST", url, content=d.body([upload[:100_000], upload[100_000:]])),
                await d.request("PUT", url, content=b"")]

    raw, as_json, form, multipart, streamed, empty = run(kind, scenario)
    assert raw.content == digest_text(b"some bytes")
    assert as_json.content == digest_text(as_json.request.content)
    assert json.loads(as_json.request.content) == {"answer": 42}
    assert form.content == digest_text(b"a=1&b=two")
    assert multipart.content.startswith(b"%d " % int(multipart.request.headers["content-length"]))
    assert streamed.content == digest_text(upload)
    assert empty.content == digest_text(b"")


@kinds
def test_request_framing(kind: str, fault_server: Any) -> None:
    """httpx's Content-Length is kept for bodies in memory and small declared streams;
    other streams go chunked; the caller's framing fields are never sent twice."""
    server = fault_server()
    big = hx.BUFFER_LIMIT + 1

    async def scenario(d: Driver) -> None:
        await d.request("POST", server.url + "/bytes", content=b"abc")
        await d.request("POST", server.url + "/declared", content=d.body([b"ab", b"cd"]),
                        headers={"Content-Length": "4"})
        await d.request("POST", server.url + "/undeclared", content=d.body([b"ab", b"cd"]))
        await d.request("POST", server.url + "/big", content=d.body([b"x" * big]),
                        headers={"Content-Length": str(big)})
        await d.request("GET", server.url + "/get")

    run(kind, scenario)
    framing = {r.target: (r.header("content-length"), r.header("transfer-encoding"), len(r.body))
               for r in server.log}
    assert framing == {"/bytes": ("3", None, 3), "/declared": ("4", None, 4),
                       "/undeclared": (None, "chunked", 4), "/big": (None, "chunked", big),
                       "/get": (None, None, 0)}
    for record in server.log:
        names = [name.lower() for name, _ in record.headers]
        assert names.count("host") == 1 and names[0] == "host"
        assert names.count("content-length") + names.count("transfer-encoding") <= 1


@kinds
def test_declared_length_that_lies_is_a_local_protocol_error(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(d: Driver) -> None:
        with pytest.raises(httpx.LocalProtocolError, match="Content-Length"):
            await d.request("POST", server.url + "/", content=d.body([b"abc"]),
                            headers={"Content-Length": "10"})

    run(kind, scenario)
    assert server.log == []


@kinds
def test_streaming_download(kind: str, nginx: Any) -> None:
    async def scenario(d: Driver) -> list[Any]:
        whole = await d.stream("GET", nginx.url + "/bytes/1048576")
        part = await d.stream("GET", nginx.url + "/bytes/10485760", stop_after=2)
        after = await d.request("GET", nginx.url + "/")
        return [whole, part, after]

    (whole, chunks), (part, first), after = run(kind, scenario)
    assert len(chunks) > 1 and b"".join(chunks) == pattern(1048576)
    assert whole.is_closed and part.is_closed and len(first) == 2
    assert after.content == HELLO  # the half-read response was closed; the pool goes on


@kinds
def test_head(kind: str, nginx: Any) -> None:
    async def scenario(d: Driver) -> list[Any]:
        return [await d.request("HEAD", nginx.url + "/bytes/1024"),
                await d.request("GET", nginx.url + "/bytes/1024")]

    head, get = run(kind, scenario)
    assert head.status_code == 200 and head.headers["content-length"] == "1024"
    assert head.content == b""
    assert get.content == pattern(1024) and info(get).reused  # the HEAD answer was framed right


@kinds
def test_redirects(kind: str, redirector: str) -> None:
    async def scenario(d: Driver) -> list[Any]:
        return [await d.request("GET", redirector + "/hop/3"),
                await d.request("POST", redirector + "/307", content=b"payload"),
                await d.request("POST", redirector + "/303", content=b"payload"),
                await d.request("GET", redirector + "/hop/1", follow_redirects=False)]

    hops, kept, turned, unfollowed = run(kind, scenario, client_options={"follow_redirects": True})
    assert hops.content == b"landed" and [r.status_code for r in hops.history] == [302] * 3
    assert str(hops.url) == redirector + "/landed"
    assert all(info(r).reused for r in [*hops.history[1:], hops])
    assert kept.content == b"echo payload" and kept.request.method == "POST"
    assert turned.content == b"landed" and turned.request.method == "GET"
    assert unfollowed.status_code == 302 and unfollowed.next_request is not None


# -- timeouts and errors --------------------------------------------------------------

@kinds
def test_read_timeouts(kind: str, fault_server: Any, aiohttp_server: Any) -> None:
    server = fault_server()

    async def scenario(d: Driver) -> Any:
        with pytest.raises(httpx.ReadTimeout) as stalled:
            await d.request("GET", server.url + "/stall/2000", timeout=httpx.Timeout(0.2))
        with pytest.raises(httpx.ReadTimeout):
            await d.request("GET", aiohttp_server.url + "/delay/1000", timeout=httpx.Timeout(5, read=0.2))
        return stalled.value, await d.request("GET", aiohttp_server.url + "/delay/10")

    error, after = run(kind, scenario)
    assert isinstance(error.__cause__, hopwire.ReadTimeout) and error.request.url.path == "/stall/2000"
    assert after.content == b"delayed 10 ms"


@kinds
def test_pool_timeout(kind: str, aiohttp_server: Any) -> None:
    """With the only connection held by an open stream, the next request waits for the pool."""
    url = aiohttp_server.url

    def sync_case() -> type[BaseException]:
        with httpx.Client(transport=hx.HTTPTransport(limits=httpx.Limits(max_connections=1))) as client:
            with client.stream("GET", url + "/chunked/64"):
                with pytest.raises(httpx.PoolTimeout) as caught:
                    client.get(url + "/", timeout=httpx.Timeout(5, pool=0.2))
            assert client.get(url + "/").content == HELLO
        return caught.type

    async def async_case() -> type[BaseException]:
        transport = hx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=1))
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", url + "/chunked/64"):
                with pytest.raises(httpx.PoolTimeout) as caught:
                    await client.get(url + "/", timeout=httpx.Timeout(5, pool=0.2))
            assert (await client.get(url + "/")).content == HELLO
        return caught.type

    assert (sync_case() if kind == "sync" else asyncio.run(async_case())) is httpx.PoolTimeout


@kinds
def test_errors_are_httpx_errors(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(d: Driver) -> list[BaseException]:
        caught: list[BaseException] = []
        for error, method, url, kw in [
            (httpx.ConnectError, "GET", refused_url(), {}),
            (httpx.RemoteProtocolError, "GET", server.url + "/garbage", {}),
            (httpx.RemoteProtocolError, "GET", server.url + "/truncate", {}),  # while reading the body
            (httpx.LocalProtocolError, "GET", server.url + "/", {"headers": {"Proxy-Connection": "x"}}),
            (httpx.UnsupportedProtocol, "GET", "ftp://127.0.0.1/", {}),
        ]:
            with pytest.raises(error) as raised:
                await d.request(method, url, **kw)
            caught.append(raised.value)
        return caught

    refused, garbage, truncated, local, unsupported = run(kind, scenario)
    assert isinstance(refused.__cause__, hopwire.ConnectError)
    assert isinstance(garbage.__cause__, hopwire.RemoteProtocolError)
    assert isinstance(truncated.__cause__, hopwire.RemoteProtocolError)
    assert isinstance(local.__cause__, hopwire.LocalProtocolError)
    assert all(e.request is not None for e in (refused, garbage, truncated, local, unsupported))


@kinds
def test_error_while_iterating_a_stream(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(d: Driver) -> BaseException:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await d.stream("GET", server.url + "/truncate")
        assert (await d.request("GET", server.url + "/after")).status_code == 200
        return caught.value

    error = run(kind, scenario)
    assert isinstance(error.__cause__, hopwire.RemoteProtocolError)


def test_closed_transport_raises_pool_closed() -> None:
    transport = hx.HTTPTransport()
    transport.close()
    with pytest.raises(hopwire.PoolClosed):  # a RuntimeError, like httpx's closed Client
        transport.handle_request(httpx.Request("GET", "http://127.0.0.1:9/"))


# -- pipelining -----------------------------------------------------------------------

def test_async_client_pipelines_through_the_transport(nginx: Any) -> None:
    paths = [f"/bytes/{n}" if i % 2 else "/" for i, n in enumerate([1024, 65536] * 8)]

    async def scenario(d: Driver) -> list[Any]:
        await d.request("GET", nginx.url + "/")  # proves the connection persistent
        return list(await asyncio.gather(*[d.request("GET", nginx.url + p) for p in paths]))

    answers = run("async", scenario, pipeline_depth=8, limits=httpx.Limits(max_connections=1))
    for path, response in zip(paths, answers):
        assert response.status_code == 200
        assert response.content == (HELLO if path == "/" else pattern(int(path[7:])))
    exchanges = [info(r) for r in answers]
    assert {e.connection for e in exchanges} == {1}
    assert max(e.pipelined for e in exchanges) == 7  # a full pipeline of 8
    assert sum(e.pipelined > 0 for e in exchanges) >= 7


def test_threads_sharing_a_client_pipeline_correctly(nginx: Any) -> None:
    paths = [f"/bytes/{n}" for n in [0, 1024, 65536, 1024] * 6]

    async def scenario(d: Driver) -> list[Any]:
        await d.request("GET", nginx.url + "/")
        return list(await asyncio.gather(*[d.request("GET", nginx.url + p) for p in paths]))

    answers = run("sync", scenario, pipeline_depth=8, limits=httpx.Limits(max_connections=1))
    assert [r.content for r in answers] == [pattern(int(p[7:])) for p in paths]
    assert {info(r).connection for r in answers} == {1}


# -- TLS and proxies ------------------------------------------------------------------

@kinds
def test_https_with_verify_context(kind: str, origin: TLSOrigin, trusting: ssl.SSLContext) -> None:
    async def scenario(d: Driver) -> list[Any]:
        return [await d.request("GET", origin.url + "/"), await d.request("GET", origin.url + "/bytes/200000")]

    first, second = run(kind, scenario, verify=trusting)
    assert first.content == b"secure" and second.content == pattern(200000)
    assert info(second).reused


@kinds
def test_https_verify_options(kind: str, origin: TLSOrigin, ca: Any, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))

    async def fetch(d: Driver) -> Any:
        return await d.request("GET", origin.url + "/")

    async def refused(d: Driver) -> BaseException:
        with pytest.raises(httpx.ConnectError) as caught:
            await d.request("GET", origin.url + "/")
        return caught.value

    assert run(kind, fetch, verify=str(bundle)).content == b"secure"  # a CA file
    assert run(kind, fetch, verify=False).content == b"secure"
    error = run(kind, refused)  # verify=True: certifi's CAs do not know the test CA
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


def test_client_certificate_is_loaded(ca: Any, tmp_path: Path) -> None:
    issued = ca.issue_cert("client.example")
    both, cert, key = tmp_path / "client.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.private_key_and_cert_chain_pem.write_to_path(str(both))
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    hx.HTTPTransport(verify=ssl.create_default_context(), cert=str(both)).close()
    hx.HTTPTransport(verify=ssl.create_default_context(), cert=(str(cert), str(key))).close()
    with pytest.raises(ssl.SSLError):  # not a PEM file: load_cert_chain refuses it
        hx.HTTPTransport(verify=ssl.create_default_context(), cert=__file__)


@kinds
def test_forward_proxy(kind: str, stdlib_http11: Any) -> None:
    with ForwardProxy(credentials="user:p@ss") as proxy:
        async def scenario(d: Driver) -> list[Any]:
            return [await d.request("GET", stdlib_http11.url + "/bytes/3000"),
                    await d.request("GET", stdlib_http11.url + "/")]

        host = proxy.url.removeprefix("http://")
        first, second = run(kind, scenario, proxy=httpx.Proxy(f"http://{host}", auth=("user", "p@ss")))
        denied, _ = run(kind, scenario, proxy=proxy.url)
        in_url, _ = run(kind, scenario, proxy=f"http://user:p%40ss@{host}")
        seen = proxy.seen
    assert first.content == pattern(3000) and second.content == HELLO
    assert first.headers["via"] == "1.1 test-proxy" and info(second).reused
    assert denied.status_code == 407 and in_url.status_code == 200
    assert seen[0][1] == stdlib_http11.url + "/bytes/3000"  # absolute-form


# -- options --------------------------------------------------------------------------

def test_options_map_onto_the_pool() -> None:
    options = hx._pool_options(
        verify=True, cert=None, trust_env=True, http1=True, http2=False, retries=2,
        limits=httpx.Limits(max_connections=5, max_keepalive_connections=2, keepalive_expiry=None),
        proxy=None, pipeline_depth=4, max_connections_per_host=None)
    assert (options["max_connections"], options["max_connections_per_host"]) == (5, 5)
    assert options["keepalive_expiry"] == float("inf") and options["retries"] == 2
    assert options["pipeline_depth"] == 4 and isinstance(options["ssl_context"], ssl.SSLContext)
    unlimited = hx._pool_options(
        verify=False, cert=None, trust_env=False, http1=True, http2=False, retries=0,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=0), proxy=None,
        pipeline_depth=1, max_connections_per_host=3)
    assert unlimited["max_connections"] >= 1 << 20 and unlimited["max_connections_per_host"] == 3
    assert unlimited["keepalive_expiry"] == 0.0
    assert options["http2"] is False


@pytest.mark.parametrize("http1, http2, mode", [
    (True, True, True), (False, True, "prior-knowledge"), (True, False, False)])
def test_http2_options_follow_httpcore(http1: bool, http2: bool, mode: Any) -> None:
    """httpcore's meaning: http2=True offers HTTP/2 by ALPN; http2 without http1 speaks
    it with prior knowledge."""
    options = hx._pool_options(
        verify=True, cert=None, trust_env=True, http1=http1, http2=http2, retries=0,
        limits=httpx.Limits(), proxy=None, pipeline_depth=1, max_connections_per_host=None)
    assert options["http2"] == mode


def test_timeout_extension_becomes_a_hopwire_timeout() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/",
                            extensions={"timeout": httpx.Timeout(3.0, connect=1.0, pool=None).as_dict()})
    assert hx._timeout(request.extensions) == hopwire.Timeout(connect=1.0, read=3.0, write=3.0, pool=None)
    zero = hx._timeout({"timeout": httpx.Timeout(0).as_dict()})
    assert zero is not None and zero.read is not None and 0 < zero.read < 0.001
    assert hx._timeout({}) is None


@pytest.mark.parametrize("bad, message", [
    ({"http1": False}, "leave no protocol"),
    ({"proxy": "socks5://127.0.0.1:1080"}, "http:// proxies only"),
    ({"proxy": httpx.Proxy("http://127.0.0.1:3128", headers={"X-A": "1"})}, "proxy headers"),
])
def test_unsupported_options_are_refused(bad: dict[str, Any], message: str) -> None:
    for transport in (hx.HTTPTransport, hx.AsyncHTTPTransport):
        with pytest.raises(ValueError, match=message):
            transport(**bad)


@kinds
def test_no_keepalive_connections_means_no_reuse(kind: str, nginx: Any) -> None:
    async def scenario(d: Driver) -> list[Any]:
        return [await d.request("GET", nginx.url + "/"), await d.request("GET", nginx.url + "/")]

    first, second = run(kind, scenario, limits=httpx.Limits(max_keepalive_connections=0))
    assert second.content == HELLO and not info(second).reused


def test_hopwire_does_not_import_httpx() -> None:
    code = ("import sys, hopwire; assert 'httpx' not in sys.modules and 'hopwire.httpx' not in sys.modules\n"
            "sys.modules['httpx'] = None\n"
            "try:\n    import hopwire.httpx\nexcept ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=True)
    assert "pip install httpx" in out.stdout


# -- no leak --------------------------------------------------------------------------

@kinds
def test_no_fd_left_after_closing_the_client(kind: str, nginx: Any) -> None:
    before = open_fds()
    if before is None:
        pytest.skip("no /proc/self/fd here")

    async def scenario(d: Driver) -> None:
        await d.request("GET", nginx.url + "/")
        await d.stream("GET", nginx.url + "/bytes/10485760", stop_after=1)  # closed half-read
        await d.request("HEAD", nginx.url + "/bytes/1024")
        await asyncio.gather(*[d.request("GET", nginx.url + "/bytes/1024") for _ in range(12)])
        with pytest.raises(httpx.ConnectError):
            await d.request("GET", refused_url())

    run(kind, scenario, pipeline_depth=4, limits=httpx.Limits(max_connections=2))
    assert open_fds() == before
