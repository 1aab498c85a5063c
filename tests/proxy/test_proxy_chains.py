"""Proxies in a chain with a dumb one (tests/support/servers/dumb_proxy.py), and the pool behind one.

The dumb proxy is the HTTP/1.0 middlebox of RFC 9112 Appendix C.2.2: it forwards
`Connection: keep-alive` as if it were any field, frames the answer by the
upstream's close, and never reads a second request. test_dumb_proxy.py shows the
hang it causes on its own; here it is chained with hopwire's proxy and pool:

- smart → dumb (client → hopwire.proxy → dumb → origin): hopwire's proxy reaches
  the dumb one through its pool, which keeps a proxy connection only when the
  answer carries Via (RFC 9110 §7.6.3): the dumb proxy adds none, so every request
  gets a fresh connection and nothing hangs, while the client keeps its own
  connection to hopwire's proxy;
- dumb → smart (client → dumb → hopwire.proxy → origin): the dumb proxy passes the
  client's `Connection: keep-alive` on. An HTTP/1.0 request (the dumb proxy's own
  version) gets no persistent connection from hopwire's proxy (RFC 9112 §9.3), so
  the dumb proxy sees the close it waits for, and the client sees its connection
  end instead of a hang. With `http10_keep_alive=True` the hang comes back: the
  reason it is off by default;
- the pool through a dumb proxy: its second request goes on a new connection,
  where a pool that trusted the relayed HTTP/1.1 keep-alive would wait forever.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

import hopwire
from support.proxies import fields
from support.raw import RawClient
from support.servers import HELLO

HANG = 1.0  # seconds without an answer that count as the hang (bounded)


def request_10(path: bytes = b"/") -> bytes:
    return b"GET %s HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n" % path


def test_smart_then_dumb_never_reuses_the_dumb_hop(proxies: Any, dumb_proxy: Any,
                                                   stdlib_http11: Any) -> None:
    dumb = dumb_proxy()
    smart = proxies(next_proxy=dumb.url, upstream_timeout=3.0)
    client = RawClient(smart.url)
    for _ in range(3):
        client.send(b"GET %s/ HTTP/1.1\r\nHost: x\r\n\r\n" % stdlib_http11.url.encode())
        [(answer, body)] = client.answers(1)
        assert (answer.status_code, body) == (200, HELLO)
        assert "connection" not in fields(answer)  # the client's own connection is kept
    assert smart.stats.connections == 1
    assert [entry.ignored for entry in dumb.log] == [b"", b"", b""]  # one request per dumb connection
    client.close()


def test_pool_through_a_dumb_proxy_does_not_hang(dumb_proxy: Any, stdlib_http11: Any) -> None:
    dumb = dumb_proxy()
    with hopwire.Pool(proxy=dumb.url, timeout=HANG) as pool:
        answers = [pool.request("GET", stdlib_http11.url + "/") for _ in range(3)]
    assert [a.content for a in answers] == [HELLO] * 3
    assert not any(a.info.reused for a in answers)  # no Via: not an HTTP/1.1 proxy's connection
    assert dumb.connections_accepted == 3


@pytest.mark.slow  # waits out the hang
def test_a_pool_that_trusted_the_dumb_proxy_would_hang(dumb_proxy: Any, stdlib_http11: Any) -> None:
    dumb = dumb_proxy()
    with hopwire.Pool(proxy=dumb.url, timeout=HANG, trust_proxy_keep_alive=True) as pool:
        assert pool.request("GET", stdlib_http11.url + "/").content == HELLO
        with pytest.raises(hopwire.ReadTimeout):
            pool.request("POST", stdlib_http11.url + "/post", body=b"x")  # not replayable: it waits
    assert dumb.log[0].ignored.startswith(b"POST ")


@pytest.mark.parametrize("version", [None, "HTTP/1.0"], ids=["as sent", "rewritten to 1.0"])
def test_dumb_then_smart_ends_the_connection_instead_of_hanging(proxies: Any, dumb_proxy: Any,
                                                                 stdlib_http11: Any,
                                                                 version: str | None) -> None:
    smart = proxies(upstream=stdlib_http11.url)
    dumb = dumb_proxy(upstream=smart.url, rewrite_version=version)
    client = RawClient(dumb.url)
    client.send(request_10())
    [(answer, body)] = client.answers(1)
    assert body == HELLO and fields(answer)["connection"] == "close"
    assert client.closed(within=3.0)  # the client learns the connection is over
    assert dumb.log[0].upstream_closed


@pytest.mark.slow  # waits out the hang
def test_dumb_then_smart_hangs_if_the_smart_proxy_keeps_http10(proxies: Any, dumb_proxy: Any,
                                                                stdlib_http11: Any) -> None:
    smart = proxies(upstream=stdlib_http11.url, http10_keep_alive=True)
    dumb = dumb_proxy(upstream=smart.url)
    client = RawClient(dumb.url)
    client.send(request_10())
    [(answer, body)] = client.answers(1)
    assert body == HELLO and fields(answer)["connection"] == "keep-alive"  # relayed: a promise
    client.sock.sendall(request_10(b"/bytes/5"))  # made by the smart proxy, not by the dumb one
    client.sock.settimeout(HANG)
    with pytest.raises((socket.timeout, TimeoutError)):
        client.sock.recv(65536)
    assert dumb.log[0].ignored.startswith(b"GET /bytes/5 ")
    client.close()


def test_dumb_then_smart_with_http11_client(proxies: Any, dumb_proxy: Any, stdlib_http11: Any) -> None:
    """An HTTP/1.1 request passed on by an HTTP/1.0 proxy that states its own version."""
    smart = proxies(upstream=stdlib_http11.url)
    dumb = dumb_proxy(upstream=smart.url, rewrite_version="HTTP/1.0")
    client = RawClient(dumb.url)
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    [(answer, body)] = client.answers(1)
    assert body == HELLO and fields(answer)["connection"] == "close"
    assert client.closed(within=3.0)
