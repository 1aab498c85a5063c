"""https (verification on by default, certificates from trustme) and HTTP
forward proxies (absolute-form, Proxy-Authorization, CONNECT tunnels), on both pools."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest

import hopwire
from support.pool_drivers import KINDS, Client, run
from support.servers.proxy_double import ForwardProxy, TLSOrigin
from support.servers import HELLO, pattern

pytestmark = pytest.mark.parametrize("kind", KINDS)

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade"}


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as server:
        yield server


# -- TLS ------------------------------------------------------------------------------

def test_https_with_a_trusted_ca(kind: str, origin: TLSOrigin, trusting: ssl.SSLContext) -> None:
    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", origin.url + "/"),
                await client.request("GET", origin.url + "/bytes/200000")]

    first, second = run(kind, scenario, ssl_context=trusting)
    assert first.content == b"secure" and second.content == pattern(200000)
    assert second.info.reused


def test_https_verifies_by_default(kind: str, origin: TLSOrigin) -> None:
    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", origin.url + "/")
        except hopwire.HopwireError as exc:
            return exc

    error = run(kind, scenario)
    assert isinstance(error, hopwire.ConnectError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


def test_https_checks_the_host_name(kind: str, ca: Any) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("other.example").configure_cert(context)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)

    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", server.url + "/")
        except hopwire.HopwireError as exc:
            return exc

    with TLSOrigin(context) as server:
        error = run(kind, scenario, ssl_context=trusting)
    assert isinstance(error, hopwire.ConnectError)


# -- proxies ---------------------------------------------------------------------------

def test_http_through_a_forward_proxy(kind: str, proxy: ForwardProxy, stdlib_http11: Any) -> None:
    target = stdlib_http11.url + "/bytes/3000"

    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", target), await client.request("GET", stdlib_http11.url + "/")]

    first, second = run(kind, scenario, proxy=proxy.url)
    assert first.content == pattern(3000) and second.content == HELLO
    assert first.header("via") == b"1.1 test-proxy"
    assert second.info.reused  # the proxy's HTTP/1.1 connection was kept
    (method, path, fields), _ = proxy.seen
    assert (method, path) == ("GET", target)  # absolute-form (RFC 9112 §3.2.2)
    assert not HOP_BY_HOP & {name for name, _ in fields}


def test_proxy_credentials_come_from_the_proxy_url(kind: str, stdlib_http11: Any) -> None:
    with ForwardProxy(credentials="user:p@ss") as proxy:
        async def scenario(client: Client) -> Any:
            return await client.request("GET", stdlib_http11.url + "/")

        host = proxy.url.removeprefix("http://")
        response = run(kind, scenario, proxy=f"http://user:p%40ss@{host}")
        denied = run(kind, scenario, proxy=proxy.url)
    assert response.status == 200 and response.content == HELLO
    assert denied.status == 407


def test_https_through_a_connect_tunnel(kind: str, proxy: ForwardProxy, origin: TLSOrigin,
                                        trusting: ssl.SSLContext) -> None:
    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", origin.url + "/"),
                await client.request("GET", origin.url + "/bytes/70000")]

    first, second = run(kind, scenario, proxy=proxy.url, ssl_context=trusting)
    assert first.content == b"secure" and second.content == pattern(70000)
    assert second.info.reused
    assert [(m, p) for m, p, _ in proxy.seen] == [("CONNECT", f"127.0.0.1:{origin.port}")]


def test_refused_tunnel_is_a_proxy_error(kind: str, origin: TLSOrigin,
                                         trusting: ssl.SSLContext) -> None:
    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", origin.url + "/")
        except hopwire.HopwireError as exc:
            return exc

    with ForwardProxy(refuse_connect=True) as proxy:
        error = run(kind, scenario, proxy=proxy.url, ssl_context=trusting)
    assert isinstance(error, hopwire.ProxyError) and error.status == 403


def test_proxy_connection_is_never_sent(kind: str, proxy: ForwardProxy, stdlib_http11: Any) -> None:
    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", stdlib_http11.url + "/",
                                        headers={"Proxy-Connection": "keep-alive"})
        except hopwire.HopwireError as exc:
            return exc

    error = run(kind, scenario, proxy=proxy.url)
    assert isinstance(error, hopwire.LocalProtocolError)
    assert proxy.seen == []
