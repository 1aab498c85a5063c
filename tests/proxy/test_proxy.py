"""hopwire.proxy on the wire: what it forwards, what it keeps to itself, how it ends.

The proxy runs on a thread of its own (`start_proxy`); clients are raw sockets
(every byte seen, answers read with hopwire's own ResponseParser), http.client
and hopwire's Pool. Origins: the embedded server (routes /, /bytes/N,
/chunked/N, /delay/MS), aiohttp (/post hashes a streamed body), nginx, and
`HopOrigin` below, which records every request head it gets and answers with
every hop-by-hop field there is, so that both directions of the filter show.

Every proxy started here must end without an internal error (`stats.errors`).
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

import hopwire
from hopwire.server.embedded import HELLO, ServerThread, pattern, start_server
from support.proxies import HOP_BY_HOP, TIMEOUT, HopOrigin, fields
from support.raw import RawClient
from support.servers import pattern as tls_pattern

@pytest.fixture(scope="module")
def embedded() -> Iterator[ServerThread]:
    with start_server() as server:
        yield server


def base(server: ServerThread) -> str:
    return server.url.rstrip("/")


# -- hop-by-hop fields, Via --------------------------------------------------------------------

def test_hop_by_hop_fields_are_stripped_both_ways(proxies: Any, hop_origin: HopOrigin) -> None:
    proxy = proxies(upstream=hop_origin.url)
    client = RawClient(proxy.url)
    client.send(b"GET /x HTTP/1.1\r\nHost: example.test\r\n"
                b"Connection: keep-alive, X-Hop-Request\r\nX-Hop-Request: secret\r\n"
                b"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
                b"Trailer: X-Sum\r\nUpgrade: websocket\r\nProxy-Authorization: Basic dXNlcjpwdw==\r\n"
                b"X-End-To-End: request\r\n\r\n")
    [(answer, body)] = client.answers(1)
    assert (answer.status_code, body) == (200, b"ok")
    got = fields(answer)
    assert not HOP_BY_HOP & got.keys() and "x-hop-reply" not in got
    assert got["x-end-to-end"] == "kept" and got["via"] == "1.1 hopwire"
    [(line, forwarded)] = hop_origin.heads
    names = {name.decode() for name, _ in forwarded}
    assert line == b"GET /x"
    assert not HOP_BY_HOP & names and "x-hop-request" not in names
    assert dict(forwarded)[b"x-end-to-end"] == b"request"
    assert dict(forwarded)[b"host"] == b"example.test"  # reverse mode keeps the client's Host
    assert dict(forwarded)[b"via"] == b"1.1 hopwire"
    client.close()


def test_via_is_appended_to_the_via_received(proxies: Any, hop_origin: HopOrigin) -> None:
    proxy = proxies(upstream=hop_origin.url, via=b"edge")
    client = RawClient(proxy.url)
    client.send(b"GET / HTTP/1.0\r\nVia: 1.1 first\r\n\r\n")
    [(answer, _)] = client.answers(1)
    assert [v for n, v in hop_origin.heads[0][1] if n == b"via"] == [b"1.1 first", b"1.0 edge"]
    assert fields(answer)["via"] == "1.1 edge"


def test_forward_mode_takes_absolute_urls_and_replaces_host(proxies: Any, hop_origin: HopOrigin) -> None:
    proxy = proxies()
    client = RawClient(proxy.url)
    client.send(b"GET %s/abs?q=1 HTTP/1.1\r\nHost: wrong.example\r\n\r\n" % hop_origin.url.encode())
    [(answer, _)] = client.answers(1)
    assert answer.status_code == 200
    line, forwarded = hop_origin.heads[0]
    assert line == b"GET /abs?q=1"  # origin form upstream (RFC 9112 §3.2.1)
    assert dict(forwarded)[b"host"] == hop_origin.url.removeprefix("http://").encode()
    client.send(b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n")
    [(answer, _)] = client.answers(1)
    assert answer.status_code == 400  # a forward proxy needs the absolute form


# -- the client's hop ------------------------------------------------------------------------

def test_http11_client_connection_is_kept_and_upstream_pooled(proxies: Any, embedded: ServerThread) -> None:
    proxy = proxies(upstream=base(embedded))
    before = embedded.stats.connections
    conn = http.client.HTTPConnection(proxy.server.host, proxy.server.port, timeout=TIMEOUT)
    for _ in range(5):
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.read() == HELLO and response.getheader("connection") is None
    conn.close()
    assert proxy.stats.connections == 1 and proxy.stats.requests == 5
    assert embedded.stats.connections - before == 1  # one pooled upstream connection


@pytest.mark.parametrize("field", [b"Connection", b"Proxy-Connection"])
def test_http11_connection_close_is_honoured(proxies: Any, embedded: ServerThread, field: bytes) -> None:
    proxy = proxies(upstream=base(embedded))
    client = RawClient(proxy.url)
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n%s: close\r\n\r\n" % field)
    [(answer, body)] = client.answers(1)
    assert body == HELLO and fields(answer)["connection"] == "close"
    assert client.closed()


@pytest.mark.parametrize("asks", [b"Connection: keep-alive", b"Proxy-Connection: keep-alive"])
def test_http10_keep_alive_only_when_enabled(proxies: Any, embedded: ServerThread, asks: bytes) -> None:
    request = b"GET / HTTP/1.0\r\n%s\r\n\r\n" % asks
    # Default: RFC 9112 §9.3, no persistent connection with an HTTP/1.0 client.
    client = RawClient(proxies(upstream=base(embedded)).url)
    client.send(request)
    [(answer, body)] = client.answers(1)
    assert body == HELLO and fields(answer)["connection"] == "close" and client.closed()
    # Opted in: the client's keep-alive is answered for its hop, and the connection kept.
    client = RawClient(proxies(upstream=base(embedded), http10_keep_alive=True, idle_timeout=7).url)
    for _ in range(3):
        client.send(request)
        [(answer, body)] = client.answers(1)
        got = fields(answer)
        assert body == HELLO and got["connection"] == "keep-alive" and got["keep-alive"] == "timeout=7"
        assert "proxy-connection" not in got
    client.close()


def test_http10_client_gets_no_chunked_coding(proxies: Any, embedded: ServerThread) -> None:
    client = RawClient(proxies(upstream=base(embedded)).url)
    client.send(b"GET /chunked/3 HTTP/1.1\r\nHost: x\r\n\r\n")
    [(answer, body)] = client.answers(1)
    assert answer.chunked and body == pattern(3 * 1024)
    # The origin answers an HTTP/1.1 upstream request chunked; an HTTP/1.0 client
    # cannot read that, so it gets the body delimited by the end of the connection.
    client = RawClient(proxies(upstream=base(embedded), http10_keep_alive=True).url)
    client.send(b"GET /chunked/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    [(answer, body)] = client.answers(1)
    got = fields(answer)
    assert not answer.chunked and "content-length" not in got and got["connection"] == "close"
    assert body == pattern(3 * 1024) and client.closed()


def test_idle_client_connection_is_closed(proxies: Any, embedded: ServerThread) -> None:
    client = RawClient(proxies(upstream=base(embedded), idle_timeout=0.3).url)
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert client.answers(1)[0][1] == HELLO
    started = time.monotonic()
    assert client.closed(within=3.0)
    assert time.monotonic() - started < 2.5


def test_a_head_that_never_ends_gets_408(proxies: Any, embedded: ServerThread) -> None:
    client = RawClient(proxies(upstream=base(embedded), header_timeout=0.3).url)
    client.sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    client.sock.settimeout(3.0)
    data = client.sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 408 ")
    assert client.closed(within=3.0)


# -- pipelining ------------------------------------------------------------------------------

def test_pipelined_requests_are_answered_in_order(proxies: Any, embedded: ServerThread) -> None:
    client = RawClient(proxies(upstream=base(embedded)).url)
    paths = [b"/delay/300", b"/bytes/7", b"/status/404", b"/", b"/chunked/2", b"/delay/50"]
    client.send(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in paths))
    answers = client.answers(len(paths))
    assert [(a.status_code, len(b)) for a, b in answers] == [
        (200, 13), (200, 7), (404, 0), (200, 13), (200, 2048), (200, 13)]


@pytest.mark.slow  # four answers delayed 0.6 s
def test_pipelined_gets_are_fetched_ahead(proxies: Any, embedded: ServerThread) -> None:
    client = RawClient(proxies(upstream=base(embedded)).url)
    started = time.monotonic()
    client.send(b"GET /delay/600 HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
    assert [b for _, b in client.answers(4)] == [HELLO] * 4
    # One after the other would take 2.4 s; fetched ahead on parallel upstream connections, ~0.6 s.
    assert time.monotonic() - started < 1.8


def test_a_post_is_not_overtaken(proxies: Any, hop_origin: HopOrigin) -> None:
    client = RawClient(proxies(upstream=hop_origin.url).url)
    client.send(b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                b"GET /second HTTP/1.1\r\nHost: x\r\n\r\nGET /third HTTP/1.1\r\nHost: x\r\n\r\n",
                b"POST", b"GET", b"GET")
    assert len(client.answers(3)) == 3
    # Not fetched ahead of the POST's answer (they may reach the origin in either order after it).
    assert hop_origin.heads[0][0] == b"POST /first"
    assert {line for line, _ in hop_origin.heads[1:]} == {b"GET /second", b"GET /third"}


# -- bodies ----------------------------------------------------------------------------------

def test_request_bodies_stream_upstream(proxies: Any, aiohttp_server: Any) -> None:
    proxy = proxies(upstream=aiohttp_server.url)
    body = pattern(3_000_000)
    with hopwire.Pool(timeout=10) as pool:
        sized = pool.request("POST", proxy.url + "/post",
                             body=hopwire.SizedBody(len(body), (body[i:i + 65536]
                                                                for i in range(0, len(body), 65536))))
        chunked = pool.request("POST", proxy.url + "/post", body=iter([body[:1000], body[1000:]]))
    digest = hashlib.sha256(body).hexdigest().encode()
    assert digest in sized.content and digest in chunked.content


def test_bodies_are_not_held_whole(proxies: Any, embedded: ServerThread) -> None:
    """32 MiB down and 9 MiB up (the origin takes 10) through the proxy, a few MiB at the peak."""
    proxy = proxies(upstream=base(embedded))
    size_down, size_up = 32 * 1024 * 1024, 9 * 1024 * 1024
    tracemalloc.start()
    try:
        client = RawClient(proxy.url, timeout=30)
        client.sock.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % size_down)
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.sock.recv(1 << 18)
        received = len(head) - head.index(b"\r\n\r\n") - 4
        while received < size_down:
            data = client.sock.recv(1 << 18)
            assert data
            received += len(data)
        piece = b"x" * 65536
        client.sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size_up)
        for _ in range(size_up // len(piece)):
            client.sock.sendall(piece)
        answer = client.sock.recv(65536)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert received == size_down
    assert peak < 6 * 1024 * 1024, peak


def test_expect_100_continue(proxies: Any, aiohttp_server: Any) -> None:
    client = RawClient(proxies(upstream=aiohttp_server.url).url)
    client.sock.sendall(b"POST /post HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    assert client.sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
    client.parser.expect(b"POST")
    client.sock.sendall(b"hello")
    [(answer, body)] = client.answers(1)
    assert answer.status_code == 200 and hashlib.sha256(b"hello").hexdigest().encode() in body


def test_head_and_bodiless_statuses(proxies: Any, embedded: ServerThread) -> None:
    client = RawClient(proxies(upstream=base(embedded)).url)
    client.send(b"HEAD /bytes/100 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /status/304 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
                b"HEAD", b"GET", b"GET", b"GET")
    answers = client.answers(4)
    assert [(a.status_code, b) for a, b in answers] == [(200, b""), (204, b""), (304, b""), (200, HELLO)]
    assert fields(answers[0][0])["content-length"] == "100"


# -- errors and limits -----------------------------------------------------------------------

def test_upstream_unreachable_is_502(proxies: Any) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = RawClient(proxies(upstream=f"http://127.0.0.1:{port}").url)
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answers = client.answers(2)
    assert [a.status_code for a, _ in answers] == [502, 502]  # and the client's connection lives on


def test_upstream_too_slow_is_504(proxies: Any, embedded: ServerThread) -> None:
    client = RawClient(proxies(upstream=base(embedded), upstream_timeout=0.3).url)
    client.send(b"GET /delay/3000 HTTP/1.1\r\nHost: x\r\n\r\n")
    [(answer, _)] = client.answers(1)
    assert answer.status_code == 504


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"\x16\x03\x01\x02\x00\x01\x00", 400),
])
def test_bad_requests_are_refused_and_closed(proxies: Any, hop_origin: HopOrigin,
                                             request_bytes: bytes, status: int) -> None:
    client = RawClient(proxies(upstream=hop_origin.url).url)
    client.sock.sendall(request_bytes)
    client.sock.settimeout(TIMEOUT)
    data = client.sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 %d " % status), data[:60]
    assert client.closed()
    assert hop_origin.heads == []  # nothing of it went upstream


def test_requests_before_a_bad_one_are_answered(proxies: Any, embedded: ServerThread) -> None:
    client = RawClient(proxies(upstream=base(embedded)).url)
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n")
    answers = client.answers(2)
    assert [a.status_code for a, _ in answers] == [200, 400]
    assert client.closed()


@pytest.mark.parametrize("method, expected", [(b"TRACE", b"message/http"), (b"OPTIONS", None)])
def test_max_forwards_zero_stops_at_the_proxy(proxies: Any, hop_origin: HopOrigin, method: bytes,
                                               expected: bytes | None) -> None:
    client = RawClient(proxies(upstream=hop_origin.url).url)
    client.send(b"%s / HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n" % method, method)
    client.send(b"%s / HTTP/1.1\r\nHost: x\r\nMax-Forwards: 3\r\n\r\n" % method, method)
    (first, body), (second, _) = client.answers(2)
    assert first.status_code == 200 and second.status_code == 200
    if expected is not None:
        assert fields(first)["content-type"] == expected.decode() and body.startswith(b"TRACE / HTTP/1.1")
    [(_, forwarded)] = hop_origin.heads
    assert dict(forwarded)[b"max-forwards"] == b"2"


def test_client_gone_mid_answer_leaves_no_trouble(proxies: Any, embedded: ServerThread) -> None:
    proxy = proxies(upstream=base(embedded))
    for _ in range(3):
        client = RawClient(proxy.url)
        client.sock.sendall(b"GET /bytes/50000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        client.sock.recv(65536)
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()  # a reset, mid-body
    time.sleep(0.2)
    with hopwire.Pool() as pool:
        assert pool.request("GET", proxy.url + "/").content == HELLO
    deadline = time.monotonic() + TIMEOUT
    while proxy.server.connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not proxy.server.connections


# -- CONNECT tunnels and the pool through the proxy ----------------------------------------------

def test_pool_through_the_proxy_keeps_its_connection(proxies: Any, embedded: ServerThread) -> None:
    proxy = proxies()
    with hopwire.Pool(proxy=proxy.url) as pool:
        answers = [pool.request("GET", base(embedded) + "/bytes/10") for _ in range(3)]
    assert [a.content for a in answers] == [pattern(10)] * 3
    assert [a.info.reused for a in answers] == [False, True, True]  # Via: an HTTP/1.1 proxy
    assert proxy.stats.connections == 1


def test_https_through_a_connect_tunnel(proxies: Any, origin: Any, trusting: ssl.SSLContext) -> None:
    proxy = proxies()
    with hopwire.Pool(proxy=proxy.url, ssl_context=trusting) as pool:
        first = pool.request("GET", origin.url + "/")
        second = pool.request("GET", origin.url + "/bytes/200000")
    assert first.content == b"secure" and second.content == tls_pattern(200000) and second.info.reused
    assert proxy.stats.tunnels == 1


def test_connect_refusals(proxies: Any) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = RawClient(proxies().url)
    client.send(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % port, b"CONNECT")
    assert client.answers(1)[0][0].status_code == 502
    client = RawClient(proxies().url)
    client.send(b"CONNECT no-port HTTP/1.1\r\nHost: x\r\n\r\n", b"CONNECT")
    assert client.answers(1)[0][0].status_code == 400
    client = RawClient(proxies(allow_connect=False).url)
    client.send(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n", b"CONNECT")
    assert client.answers(1)[0][0].status_code == 405


def test_tunnel_relays_both_ways_and_ends_with_either_side(proxies: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        client = RawClient(proxies().url)
        client.send(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\nearly bytes" % port, b"CONNECT")
        far, _ = listener.accept()
        with far:
            far.settimeout(TIMEOUT)
            assert client.answers(1)[0][0].status_code == 200
            got = b""
            while len(got) < len(b"early bytes"):
                got += far.recv(100)
            assert got == b"early bytes"  # sent with the CONNECT, held until the tunnel opened
            far.sendall(b"x" * 300000)
            seen = 0
            while seen < 300000:
                seen += len(client.sock.recv(65536))
            client.sock.shutdown(socket.SHUT_WR)
            assert far.recv(100) == b""  # the client's end reaches the far side
            far.close()
            assert client.closed()
