"""Both pools against servers nobody here wrote: nginx, Python's http.server, aiohttp.

nginx: keep-alive, pipelining, large static bodies, gzip sent chunked, its
`Connection: close` on the last response `keepalive_requests` allows.
http.server: HTTP/1.0 (one response per connection, and keep-alive when
asked) and HTTP/1.1; it drops pipelined requests after the first answer
when it speaks HTTP/1.0. aiohttp: chunked streaming both ways.
"""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import pytest

import hopwire
from support.pool_drivers import KINDS, Client, run
from support.servers import HELLO, chunked_body, pattern

pytestmark = pytest.mark.parametrize("kind", KINDS)


def ok(response: Any, body: bytes) -> bool:
    return not isinstance(response, BaseException) and response.status == 200 and response.content == body


# -- nginx ----------------------------------------------------------------------------

def test_nginx_sequential_keep_alive(kind: str, nginx: Any) -> None:
    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", nginx.url + "/") for _ in range(20)]

    responses = run(kind, scenario)
    assert all(ok(r, HELLO) for r in responses)
    assert {r.info.connection for r in responses} == {responses[0].info.connection}
    assert all(r.info.reused for r in responses[1:])


def test_nginx_pipelined_on_one_connection(kind: str, nginx: Any) -> None:
    async def scenario(client: Client) -> list[Any]:
        await client.request("GET", nginx.url + "/")
        return await client.gather(*[client.request("GET", nginx.url + "/") for _ in range(48)])

    responses = run(kind, scenario, max_connections_per_host=1, pipeline_depth=16)
    assert all(ok(r, HELLO) for r in responses)
    assert len({r.info.connection for r in responses}) == 1
    assert max(r.info.pipelined for r in responses) > 0


def test_nginx_parallel_connections_bounded(kind: str, nginx: Any) -> None:
    async def scenario(client: Client) -> tuple[list[Any], int]:
        responses = await client.gather(*[client.request("GET", nginx.url + "/bytes/65536")
                                          for _ in range(24)])
        return responses, client.pool.connections

    responses, open_connections = run(kind, scenario, max_connections_per_host=4)
    assert all(ok(r, pattern(65536)) for r in responses)
    assert len({r.info.connection for r in responses}) <= 4
    assert open_connections <= 4


@pytest.mark.parametrize("size", [0, 1048576, 10485760])
def test_nginx_static_bodies(kind: str, nginx: Any, size: int) -> None:
    async def scenario(client: Client) -> Any:
        return await client.request("GET", nginx.url + f"/bytes/{size}")

    response = run(kind, scenario)
    assert ok(response, pattern(size))
    assert response.header("content-length") == str(size).encode()


def test_nginx_gzip_response_is_chunked(kind: str, nginx: Any) -> None:
    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", nginx.url + "/chunked",
                                     headers=[("Accept-Encoding", "gzip")]) for _ in range(3)]

    responses = run(kind, scenario)
    for response in responses:
        assert response.header("transfer-encoding") == b"chunked"
        assert gzip.decompress(response.content) == chunked_body()
    assert all(r.info.reused for r in responses[1:])


def test_nginx_streamed_large_body_in_pieces(kind: str, nginx: Any) -> None:
    async def scenario(client: Client) -> tuple[Any, list[bytes]]:
        return await client.stream_chunks("GET", nginx.url + "/bytes/10485760")

    response, chunks = run(kind, scenario)
    assert b"".join(chunks) == pattern(10485760)
    assert len(chunks) > 1


def test_nginx_keepalive_requests_closes_and_pool_moves_on(kind: str, nginx: Any) -> None:
    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", nginx.url_short + "/") for _ in range(10)]

    responses = run(kind, scenario)
    assert all(ok(r, HELLO) for r in responses)
    assert not any(r.info.replayed for r in responses)  # Connection: close was heard, not tripped over
    per_connection: dict[int, int] = {}
    for response in responses:
        per_connection[response.info.connection] = per_connection.get(response.info.connection, 0) + 1
    assert max(per_connection.values()) == 3 and len(per_connection) == 4


def test_nginx_post_and_head_and_statuses(kind: str, nginx: Any) -> None:
    async def scenario(client: Client) -> list[Any]:
        return [
            await client.request("POST", nginx.url + "/post", body=b"x" * 100000),
            await client.request("HEAD", nginx.url + "/bytes/1048576"),
            await client.request("GET", nginx.url + "/status/204"),
            await client.request("GET", nginx.url + "/status/404"),
            await client.request("POST", nginx.url + "/post", body=iter([b"a", b"b" * 70000])),
            await client.request("GET", nginx.url + "/"),
        ]

    post, head, no_content, missing, chunked_post, last = run(kind, scenario)
    assert ok(post, b"posted") and ok(chunked_post, b"posted")
    assert head.status == 200 and head.content == b"" and head.header("content-length") == b"1048576"
    assert no_content.status == 204 and no_content.content == b""
    assert missing.status == 404
    assert ok(last, HELLO) and last.info.reused  # HEAD and 204 were framed right


# -- http.server ------------------------------------------------------------------------

def test_http_server_http10_one_response_per_connection(kind: str, stdlib_http10: Any) -> None:
    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", stdlib_http10.url + "/") for _ in range(4)]

    responses = run(kind, scenario)
    assert all(ok(r, HELLO) and r.http_version == "HTTP/1.0" for r in responses)
    assert not any(r.info.reused for r in responses)


def test_http_server_http10_keep_alive_is_honoured(kind: str, stdlib_http10_keepalive: Any) -> None:
    url = stdlib_http10_keepalive.url + "/"

    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", url, headers={"Connection": "keep-alive"})
                for _ in range(4)]

    responses = run(kind, scenario)
    assert all(ok(r, HELLO) for r in responses)
    assert [r.info.reused for r in responses] == [False, True, True, True]


def test_http_server_http10_is_never_pipelined(kind: str, stdlib_http10_keepalive: Any) -> None:
    # An HTTP/1.0 keep-alive connection is not proven persistent: no pipelining on it.
    url = stdlib_http10_keepalive.url + "/"

    async def scenario(client: Client) -> list[Any]:
        return await client.gather(*[client.request("GET", url, headers={"Connection": "keep-alive"})
                                     for _ in range(8)])

    responses = run(kind, scenario, max_connections_per_host=1, pipeline_depth=8)
    assert all(ok(r, HELLO) for r in responses)
    assert all(r.info.pipelined == 0 for r in responses)


def test_http_server_http11_post_digest(kind: str, stdlib_http11: Any) -> None:
    payload = pattern(300000)

    async def scenario(client: Client) -> list[Any]:
        return [await client.request("POST", stdlib_http11.url + "/post", body=payload),
                await client.request("GET", stdlib_http11.url + "/bytes/5000")]

    post, get = run(kind, scenario)
    assert post.status == 200 and hashlib.sha256(payload).hexdigest().encode() in post.content
    assert ok(get, pattern(5000)) and get.info.reused


# -- aiohttp ---------------------------------------------------------------------------------

def test_aiohttp_chunked_stream_and_chunked_upload(kind: str, aiohttp_server: Any) -> None:
    payload = [pattern(1000), pattern(50000), b"end"]

    async def scenario(client: Client) -> list[Any]:
        streamed = await client.stream_chunks("GET", aiohttp_server.url + "/chunked/64")
        upload = await client.request("POST", aiohttp_server.url + "/post", body=iter(payload))
        return [streamed, upload]

    (response, chunks), upload = run(kind, scenario)
    assert response.header("transfer-encoding") == b"chunked"
    assert b"".join(chunks) == pattern(64 * 1024)
    assert hashlib.sha256(b"".join(payload)).hexdigest().encode() in upload.content


def test_aiohttp_read_timeout(kind: str, aiohttp_server: Any) -> None:
    async def scenario(client: Client) -> list[Any]:
        return await client.gather(
            client.request("GET", aiohttp_server.url + "/delay/1000", timeout=0.2),
            client.request("GET", aiohttp_server.url + "/"))

    slow, fast = run(kind, scenario)
    assert isinstance(slow, hopwire.ReadTimeout)
    assert ok(fast, HELLO)
