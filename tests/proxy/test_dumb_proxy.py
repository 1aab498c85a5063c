"""The dumb proxy problem, reproduced with the `DumbProxy` test double.

An HTTP/1.0 proxy that does not understand ``Connection`` forwards a client's
``Connection: keep-alive`` to the server, which keeps the connection open and says so;
the proxy relays that answer and waits for the server's close, which never comes, while
the client, told that its connection persists, sends its next request into a proxy
that will never forward it. RFC 9112 Appendix C.2.2 describes exactly this "hung
HTTP/1.0 proxy waiting for the close on the response"; it is why RFC 9112 §9.3 says a
proxy MUST NOT maintain a persistent connection with an HTTP/1.0 client, and why
clients ought not to send ``Connection: keep-alive`` at all when a proxy is in use.

These tests show the control case (no proxy: keep-alive works), the hang (HTTP/1.0
keep-alive and HTTP/1.1's default persistence), how the hang ends (only by a timeout),
the old ``Proxy-Connection`` workaround, the double's forward-proxy mode and its
hygiene. Every wait is bounded: a "hang" is a socket timeout of `HANG`.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable

import pytest

from support.raw import RawClient
from support.servers import HELLO, FaultServer, NginxServer, StdlibServer, open_fds, wait_for
from support.servers.dumb_proxy import STOPPED, TIMEOUT, UPSTREAM_CLOSED, DumbProxy
from support.servers.stdlib import pattern

HANG = 1.0  # seconds of silence that count as "no answer"
ANSWER = 5.0  # seconds an answer that must come may take on a loaded machine

DumbProxyFactory = Callable[..., DumbProxy]


def request10(target: str, *fields: str) -> bytes:
    """An HTTP/1.0 GET with these header field lines, as an old client writes it."""
    return "\r\n".join([f"GET {target} HTTP/1.0", *fields, "", ""]).encode("latin-1")


def fields_of(head: bytes) -> list[str]:
    return head.decode("latin-1").split("\r\n")[1:]


def assert_silent(client: RawClient) -> None:
    """Nothing at all, not even the end of the connection, arrives within HANG."""
    try:
        data = client.next_bytes(HANG)
    except TimeoutError:
        return
    raise AssertionError(f"expected a hang, got {data!r}")


KEEP_ALIVE = "Connection: Keep-Alive"  # as Netscape-era clients spelled it


# -- 1. control ----------------------------------------------------------------------


def test_http10_keep_alive_works_without_a_proxy(stdlib_http10_keepalive: StdlibServer) -> None:
    """Control: HTTP/1.0 keep-alive (RFC 9112 Appendix C.2.2) works end to end.

    The client asks with ``Connection: Keep-Alive``, the server agrees with
    ``Connection: keep-alive`` and answers a second request on the same connection. So
    the hang in the next test comes from the proxy, not from the client or the server.
    """
    client = RawClient(stdlib_http10_keepalive.url)
    try:
        client.send(request10("/", KEEP_ALIVE))
        head, body = client.response()
        assert head.startswith(b"HTTP/1.0 200 ") and body == HELLO
        assert "Connection: keep-alive" in fields_of(head)
        client.send(request10("/bytes/5", KEEP_ALIVE))
        head, body = client.response()
        assert head.startswith(b"HTTP/1.0 200 ") and body == pattern(5)
    finally:
        client.close()


# -- 2. the failure --------------------------------------------------------------------


@pytest.mark.slow  # waits out the hang
def test_http10_keep_alive_hangs_through_a_dumb_proxy(
        dumb_proxy: DumbProxyFactory, stdlib_http10_keepalive: StdlibServer) -> None:
    """The dumb proxy problem (RFC 9112 Appendix C.2.2): the second request hangs.

    The proxy forwards ``Connection: Keep-Alive`` byte for byte; the server keeps the
    connection and answers ``Connection: keep-alive``, which the proxy relays, so the
    client rightly believes the connection persists. The proxy, though, is waiting for
    the server's close to end the response. The client's second request reaches the
    proxy (its log has it as ignored) and no answer, nor any end, comes back.
    """
    proxy = dumb_proxy(upstream=stdlib_http10_keepalive.url)
    client = RawClient(proxy.url)
    try:
        client.send(request10("/", KEEP_ALIVE))
        head, body = client.response()
        assert body == HELLO
        assert "Connection: keep-alive" in fields_of(head)  # the server's word, relayed
        client.send(request10("/bytes/5", KEEP_ALIVE))
        assert_silent(client)
        assert wait_for(lambda: proxy.log[0].ignored_request_lines() == ["GET /bytes/5 HTTP/1.0"])
        record = proxy.log[0]
        assert record.forwarded_line == "GET / HTTP/1.0"
        assert b"\r\nConnection: Keep-Alive\r\n" in record.forwarded  # the bug: passed on
        assert not record.upstream_closed and record.end is None  # still waiting for the close
        assert proxy.connections_accepted == 1
    finally:
        client.close()


@pytest.mark.slow  # waits for a 1 s idle close
def test_the_hang_ends_only_when_the_server_times_out(
        dumb_proxy: DumbProxyFactory, fault_server: Callable[..., FaultServer]) -> None:
    """The hang is not a slow answer: the second request is never forwarded.

    An HTTP/1.0 keep-alive server that closes idle connections after 1 s
    (``idle_close``) stands behind the proxy. The client's second request gets no
    answer; what finally arrives is the end of the connection, when the server's idle
    timeout closes its side and the proxy, at last seeing "the close on the response",
    closes the client's. The server's log proves it only ever received one request.
    """
    server = fault_server(http10=True, idle_close=1.0)
    proxy = dumb_proxy(upstream=server.url)
    client = RawClient(proxy.url)
    try:
        client.send(request10("/", KEEP_ALIVE))
        head, body = client.response()
        assert "Connection: keep-alive" in fields_of(head) and body == b"GET / #1.1"
        client.send(request10("/second", KEEP_ALIVE))
        assert client.next_bytes(ANSWER) == b""  # the end of the connection, not an answer
    finally:
        client.close()
    assert wait_for(lambda: proxy.log[0].end is not None)
    record = proxy.log[0]
    assert record.end == UPSTREAM_CLOSED and record.upstream_closed
    assert record.ignored_request_lines() == ["GET /second HTTP/1.0"]
    assert [(r.target, r.answered) for r in server.log] == [("/", True)]


@pytest.mark.slow  # waits for a 1 s relay timeout
def test_the_relay_timeout_bounds_the_hang(
        dumb_proxy: DumbProxyFactory, stdlib_http10_keepalive: StdlibServer) -> None:
    """With a server that keeps the connection (30 s), only the proxy's bound ends it.

    `relay_timeout` is the double's guarantee that no connection lives forever: the
    client sees the end of the connection once it has passed, not before, and the log
    says the upstream never closed.
    """
    proxy = dumb_proxy(upstream=stdlib_http10_keepalive.url, relay_timeout=1.0)
    started = time.monotonic()
    client = RawClient(proxy.url)
    try:
        client.send(request10("/", KEEP_ALIVE))
        assert client.response()[1] == HELLO
        assert client.next_bytes(ANSWER) == b""
        assert time.monotonic() - started >= 1.0
    finally:
        client.close()
    assert wait_for(lambda: proxy.log[0].end is not None)
    record = proxy.log[0]
    assert record.end == TIMEOUT and not record.upstream_closed


# -- 3. HTTP/1.1 -----------------------------------------------------------------------


@pytest.mark.slow  # waits out the hang
def test_http11_persistence_hangs_through_a_dumb_proxy(
        dumb_proxy: DumbProxyFactory, nginx: NginxServer) -> None:
    """The same trap without any keep-alive field: HTTP/1.1 persists by default (§9.3).

    `http.client` speaks HTTP/1.1 through the dumb proxy to nginx. nginx keeps the
    connection (keepalive_timeout 30 s) and the client reuses it, so its second request
    lands in a proxy that is still relaying the first response: no answer within HANG.
    """
    proxy = dumb_proxy(upstream=nginx.url)
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=ANSWER)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == HELLO
        assert not response.will_close  # http.client keeps the connection for the next one
        assert conn.sock is not None
        conn.sock.settimeout(HANG)
        conn.request("GET", "/status/200")
        try:
            conn.getresponse()
        except TimeoutError:
            pass
        else:
            raise AssertionError("the second request got an answer through the dumb proxy")
    finally:
        conn.close()
    assert wait_for(lambda: proxy.log[0].ignored_request_lines() == ["GET /status/200 HTTP/1.1"])
    assert proxy.log[0].forwarded_line == "GET / HTTP/1.1"


# -- 4. the old workaround -------------------------------------------------------------


def test_proxy_connection_avoids_the_hang_with_one_dumb_proxy(
        dumb_proxy: DumbProxyFactory, stdlib_http10_keepalive: StdlibServer) -> None:
    """``Proxy-Connection: Keep-Alive`` instead of ``Connection`` (RFC 9112 C.2.2).

    Netscape's workaround: a smart proxy would read Proxy-Connection as addressed to
    itself, a dumb one forwards it, and the server, which does not know the field,
    answers plain HTTP/1.0 and closes. The dumb proxy then closes too, and the client
    sees the end of the connection (recv returns b"") instead of a hang. It only works
    with a single dumb proxy: a smart proxy behind one is fooled the same way.
    """
    proxy = dumb_proxy(upstream=stdlib_http10_keepalive.url)
    client = RawClient(proxy.url)
    try:
        client.send(request10("/", "Proxy-Connection: Keep-Alive"))
        head, body = client.response()
        assert body == HELLO
        assert not any(f.lower().startswith("connection:") for f in fields_of(head))
        assert client.next_bytes(ANSWER) == b""
    finally:
        client.close()
    assert wait_for(lambda: proxy.log[0].end is not None)
    record = proxy.log[0]
    assert record.end == UPSTREAM_CLOSED and record.ignored == b""
    assert b"\r\nProxy-Connection: Keep-Alive\r\n" in record.forwarded


# -- 5. forward-proxy mode -------------------------------------------------------------


def test_forward_mode_rewrites_the_target_and_nothing_else(
        dumb_proxy: DumbProxyFactory, fault_server: Callable[..., FaultServer]) -> None:
    """An absolute-form request goes to its origin, once, as origin-form.

    The fault server's log shows what reached it: the path and query, the client's
    version, and every field exactly as sent, hop-by-hop ones included. The connection
    ends cleanly because the server closes after an HTTP/1.0 request without
    keep-alive, so the double can serve as a next-hop proxy for one request.
    """
    server = fault_server()
    proxy = dumb_proxy()
    fields = [("Host", f"127.0.0.1:{server.port}"), ("Keep-Alive", "300"),
              ("Proxy-Connection", "Keep-Alive"), ("X-Trace", "a, b")]
    client = RawClient(proxy.url)
    try:
        client.send(request10(f"{server.url}/path?q=1", *(f"{k}: {v}" for k, v in fields)))
        head, body = client.response()
        assert head.startswith(b"HTTP/1.1 200 ") and body == b"GET /path?q=1 #1.1"
        assert client.next_bytes(ANSWER) == b""
    finally:
        client.close()
    [received] = server.log
    assert (received.target, received.version, received.headers) == (
        "/path?q=1", "HTTP/1.0", tuple(fields))
    assert wait_for(lambda: proxy.log[0].end is not None)
    record = proxy.log[0]
    assert record.request_line == f"GET {server.url}/path?q=1 HTTP/1.0"
    assert record.forwarded_line == "GET /path?q=1 HTTP/1.0"
    assert record.upstream == ("127.0.0.1", server.port) and record.end == UPSTREAM_CLOSED


def test_rewrite_version_and_request_body(
        dumb_proxy: DumbProxyFactory, fault_server: Callable[..., FaultServer]) -> None:
    """`rewrite_version` sends the proxy's own version; a Content-Length body follows.

    `http.client` (HTTP/1.1, ``Connection: close`` so that the server closes) posts
    through a reverse-mode proxy that speaks HTTP/1.0 upstream: the server sees
    HTTP/1.0, the body, and the client's ``Connection`` field unchanged.
    """
    server = fault_server()
    proxy = dumb_proxy(upstream=("127.0.0.1", server.port), rewrite_version="HTTP/1.0")
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=ANSWER)
    try:
        conn.request("POST", "/post", body=b"hello", headers={"Connection": "close"})
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b"POST /post #1.1"
    finally:
        conn.close()
    [received] = server.log
    assert (received.version, received.body, received.header("Connection")) == (
        "HTTP/1.0", b"hello", "close")


def test_origin_form_without_upstream_is_refused(dumb_proxy: DumbProxyFactory) -> None:
    """A forward-only double answers 502 to an origin-form request and closes."""
    proxy = dumb_proxy()
    client = RawClient(proxy.url)
    try:
        client.send(request10("/"))
        assert client.response()[0].startswith(b"HTTP/1.0 502 ")
        assert client.next_bytes(ANSWER) == b""
    finally:
        client.close()


# -- 6. hygiene ------------------------------------------------------------------------


def test_stop_closes_everything_and_leaks_no_descriptors(
        dumb_proxy: DumbProxyFactory, stdlib_http10_keepalive: StdlibServer,
        fault_server: Callable[..., FaultServer]) -> None:
    """stop() ends a hung connection at once, joins every thread, closes every fd.

    One connection is hung (the upstream keeps it open), one has ended normally; after
    stop() no thread of the double is left and the process has no more descriptors
    open than before (the session's servers were started before the count).
    """
    server = fault_server()
    before = open_fds()
    proxy = dumb_proxy(upstream=stdlib_http10_keepalive.url)  # started after the count
    hung = RawClient(proxy.url)
    done = RawClient(proxy.url)
    try:
        hung.send(request10("/", KEEP_ALIVE))
        assert hung.response()[1] == HELLO
        done.send(request10(f"{server.url}/"))
        done.response()
        assert done.next_bytes(ANSWER) == b""
        started = time.monotonic()
        proxy.stop()
        assert time.monotonic() - started < 2.0
        assert hung.next_bytes(ANSWER) == b""  # the hung client sees the end now
    finally:
        proxy.stop()
        hung.close()
        done.close()
    assert [r.end for r in proxy.log] == [STOPPED, UPSTREAM_CLOSED]
    prefix = f"dumb-proxy-{proxy.port}-"
    assert not [t.name for t in threading.enumerate() if t.name.startswith(prefix)]
    if before is not None:
        # The servers close their side of the proxy's upstream sockets a moment later.
        assert wait_for(lambda: (open_fds() or 0) <= before), f"fds: {before} -> {open_fds()}"
