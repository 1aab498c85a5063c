"""Self-tests of the test servers, with http.client and raw sockets only.

The pool's tests trust these servers to behave exactly as documented; a server that
drifted would make pool bugs pass or pass bugs off as pool failures. So every route and
every fault is checked here with the standard library alone, never with hopwire.
"""

from __future__ import annotations

import gzip
import http.client
import io
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import support.servers.nginx
from support.servers import (BYTES_SIZES, GARBAGE, HELLO, KEEPALIVE_REQUESTS_SHORT, STATUSES,
                             FaultServer, NginxServer, StdlibServer, chunked_body, digest_text,
                             open_fds, pattern, start_aiohttp_server, start_fault_server,
                             start_nginx, start_stdlib_server, wait_for)
from support.servers.aiohttp_server import AiohttpServer, AiohttpUnavailable
from support.servers.nginx import nginx_binary

TIMEOUT = 5.0
FaultFactory = Callable[..., FaultServer]


# -- raw wire helpers ------------------------------------------------------------


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def get(target: str, *headers: str, method: str = "GET", version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {target} {version}", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_all(sock: socket.socket, timeout: float = TIMEOUT) -> tuple[bytes, str]:
    """Everything until the peer closes: (bytes, "eof" | "reset" | "timeout")."""
    sock.settimeout(timeout)
    data = bytearray()
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        return bytes(data), "reset"
    except TimeoutError:
        return bytes(data), "timeout"
    return bytes(data), "eof"


def exchange(port: int, data: bytes, timeout: float = TIMEOUT) -> tuple[bytes, str]:
    """Send `data` on a new connection, read until the server closes it."""
    with connect(port) as sock:
        sock.sendall(data)
        return read_all(sock, timeout)


def read_for(sock: socket.socket, seconds: float) -> bytes:
    """What arrives within `seconds` (the connection staying open)."""
    sock.settimeout(seconds)
    data = bytearray()
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return bytes(data)
    raise AssertionError(f"the server closed the connection; received {bytes(data)!r}")


class Reply(NamedTuple):
    version: int
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class _Unclosable(io.BytesIO):
    def close(self) -> None:
        """http.client closes its file after each response; the next one reads on."""


class _Wire:
    """Received bytes posing as a socket, so that http.client reads responses from them."""

    def __init__(self, data: bytes) -> None:
        self.file = _Unclosable(data)

    def makefile(self, mode: str) -> io.BytesIO:
        return self.file


def parse_replies(data: bytes, methods: tuple[str, ...] = ()) -> list[Reply]:
    """Split the bytes of one connection into responses (http.client does the parsing)."""
    wire = _Wire(data)
    replies: list[Reply] = []
    while wire.file.tell() < len(data):
        method = methods[len(replies)] if len(replies) < len(methods) else "GET"
        resp = http.client.HTTPResponse(wire, method=method)  # type: ignore[arg-type]
        resp.begin()
        replies.append(Reply(resp.version, resp.status, resp.headers, resp.read()))
    return replies


def recv_replies(sock: socket.socket, n: int, methods: tuple[str, ...] = ()) -> list[Reply]:
    """Read from an open connection until n whole responses have arrived."""
    sock.settimeout(TIMEOUT)
    data = b""
    while True:
        try:
            replies = parse_replies(data, methods)
        except (http.client.HTTPException, ValueError):
            replies = []  # a response is still incomplete
        if len(replies) >= n:
            return replies
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"EOF after {data!r}")
        data += chunk


def chunk_sizes(data: bytes) -> list[int]:
    """The chunk sizes of a chunked body that starts `data`, last chunk included."""
    sizes, pos = [], 0
    while True:
        eol = data.index(b"\r\n", pos)
        sizes.append(int(data[pos:eol].split(b";")[0], 16))
        pos = eol + 2 + sizes[-1] + 2
        if sizes[-1] == 0:
            return sizes


def http_get(url_port: int, target: str, method: str = "GET", body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=TIMEOUT)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        conn.close()


def require_nginx() -> None:
    from support.servers.fixtures import server_unavailable  # loaded by now, as a pytest plugin
    if nginx_binary() is None:
        server_unavailable("nginx is not installed (apt-get install nginx-light)")


def threads_named(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


@pytest.fixture
def fd_baseline() -> Iterator[int | None]:
    """Fail the test if it leaves more file descriptors open than it found."""
    before = open_fds()
    yield before
    if before is not None:
        # Other servers of the session may close a socket a moment late; never more open.
        assert wait_for(lambda: (open_fds() or 0) <= before), f"fds: {before} -> {open_fds()}"


# -- the byte pattern ------------------------------------------------------------


def test_pattern_is_i_mod_251() -> None:
    assert pattern(0) == b""
    assert pattern(600) == bytes(i % 251 for i in range(600))
    assert len(pattern(10485760)) == 10485760
    assert pattern(10485760)[-5:] == bytes(i % 251 for i in range(10485755, 10485760))


# -- nginx -----------------------------------------------------------------------


@pytest.mark.parametrize("short", [False, True], ids=["url", "url_short"])
def test_nginx_hello(nginx: NginxServer, short: bool) -> None:
    port = nginx.port_short if short else nginx.port
    assert (nginx.url_short if short else nginx.url) == f"http://127.0.0.1:{port}"
    resp, body = http_get(port, "/")
    assert (resp.status, body) == (200, HELLO)
    assert resp.getheader("Content-Length") == "13"
    assert resp.getheader("Content-Type") == "text/plain"


@pytest.mark.parametrize("n", BYTES_SIZES)
def test_nginx_bytes(nginx: NginxServer, n: int) -> None:
    resp, body = http_get(nginx.port, f"/bytes/{n}")
    assert resp.status == 200
    assert resp.getheader("Content-Length") == str(n)
    assert body == pattern(n)


def test_nginx_gzip_is_chunked_on_http11(nginx: NginxServer) -> None:
    data, how = exchange(nginx.port, get("/chunked", "Accept-Encoding: gzip", "Connection: close"))
    head, _, raw_body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Encoding: gzip" in head
    assert b"Content-Length" not in head
    assert chunk_sizes(raw_body)[-1] == 0
    (reply,) = parse_replies(data)
    assert gzip.decompress(reply.body) == chunked_body()
    assert len(chunked_body()) == 65536


def test_nginx_gzip_only_when_accepted(nginx: NginxServer) -> None:
    resp, body = http_get(nginx.port, "/chunked")
    assert resp.getheader("Content-Encoding") is None
    assert resp.getheader("Content-Length") == "65536" and body == chunked_body()


def test_nginx_no_gzip_for_http10(nginx: NginxServer) -> None:
    (reply,) = parse_replies(exchange(nginx.port, get("/chunked", "Accept-Encoding: gzip",
                                                      version="HTTP/1.0"))[0])
    assert reply.header("Content-Encoding") is None and reply.header("Transfer-Encoding") is None
    assert reply.body == chunked_body()


def test_nginx_post_reads_the_body(nginx: NginxServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/", body=pattern(200_000))
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, HELLO)
        conn.request("POST", "/post", body=iter([b"abc", b"defg"]), encode_chunked=True)
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"posted")
        sock = conn.sock
        conn.request("GET", "/")  # the bodies left the socket: the connection is reusable
        resp = conn.getresponse()
        assert (resp.status, resp.read(), conn.sock) == (200, HELLO, sock)
    finally:
        conn.close()


@pytest.mark.parametrize("status", STATUSES)
def test_nginx_status(nginx: NginxServer, status: int) -> None:
    resp, body = http_get(nginx.port, f"/status/{status}")
    assert resp.status == status
    assert (body == b"") == (status == 204)


def test_nginx_unknown_path_is_404(nginx: NginxServer) -> None:
    assert http_get(nginx.port, "/nothing-here")[0].status == 404


def test_nginx_pipelines_16(nginx: NginxServer) -> None:
    targets = [f"/bytes/{BYTES_SIZES[i % 3]}" if i % 2 else "/" for i in range(16)]
    with connect(nginx.port) as sock:
        sock.sendall(b"".join(get(t) for t in targets) + get("/", "Connection: close"))
        data, how = read_all(sock)
    replies = parse_replies(data)
    assert how == "eof" and len(replies) == 17
    for target, reply in zip(targets, replies):
        assert reply.body == (HELLO if target == "/" else pattern(int(target.split("/")[2])))


def test_nginx_keepalive_requests_short(nginx: NginxServer) -> None:
    # nginx answers keepalive_requests, the last with Connection: close, and drops the rest.
    data, how = exchange(nginx.port_short, get("/") * (KEEPALIVE_REQUESTS_SHORT + 2))
    replies = parse_replies(data)
    assert how == "eof" and len(replies) == KEEPALIVE_REQUESTS_SHORT
    assert [r.header("Connection") for r in replies] == ["keep-alive", "keep-alive", "close"]


def test_nginx_keeps_connections_alive(nginx: NginxServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        sock = conn.sock
        for _ in range(20):
            conn.request("GET", "/bytes/1024")
            resp = conn.getresponse()
            assert resp.read() == pattern(1024) and resp.getheader("Connection") == "keep-alive"
        assert conn.sock is sock
    finally:
        conn.close()


def test_nginx_server_blocks_agree() -> None:
    """The two server blocks of the template must only differ in port and keepalive_requests."""
    text = (Path(__file__).parent / "nginx.conf.template").read_text()
    blocks = re.findall(r"\n    server \{\n(.*?)\n    \}\n", text, re.S)
    assert len(blocks) == 2

    def directives(block: str) -> list[str]:
        lines = (re.sub(r"#.*", "", line).strip() for line in block.splitlines())
        return [line for line in lines if line and not line.startswith(("listen ", "keepalive_"))]

    normal, short = map(directives, blocks)
    assert normal == short and len(normal) >= 10


@pytest.mark.slow  # starts nginx twice
def test_nginx_retries_when_a_port_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_nginx()
    real_free_ports = support.servers.nginx.free_ports
    calls: list[int] = []

    def free_ports(n: int) -> list[int]:
        calls.append(n)  # the first pick is a port someone else took in the meantime
        return [taken, *real_free_ports(n - 1)] if len(calls) == 1 else real_free_ports(n)

    with socket.create_server(("127.0.0.1", 0)) as squatter:
        taken = squatter.getsockname()[1]
        monkeypatch.setattr(support.servers.nginx, "free_ports", free_ports)
        with start_nginx(tmp_path) as server:
            assert len(calls) == 2 and taken not in (server.port, server.port_short)
            assert http_get(server.port, "/")[1] == HELLO


def test_nginx_stops_cleanly(tmp_path: Path, fd_baseline: int | None) -> None:
    require_nginx()
    with start_nginx(tmp_path) as server:
        with connect(server.port) as idle:  # an idle keep-alive connection must not hold stop()
            idle.sendall(get("/"))
            recv_replies(idle, 1)
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 2
    assert not server.running
    with pytest.raises(ProcessLookupError):  # no worker left in nginx's process group
        os.killpg(server._proc.pid, 0)
    assert not (tmp_path / "nginx.pid").exists()
    with pytest.raises(OSError):
        connect(server.port).close()


# -- stdlib http.server ----------------------------------------------------------


def test_stdlib_http10_closes_after_each(stdlib_http10: StdlibServer) -> None:
    resp, body = http_get(stdlib_http10.port, "/")
    assert (resp.version, resp.status, body, resp.will_close) == (10, 200, HELLO, True)


def test_stdlib_http10_drops_the_pipelined_request(stdlib_http10: StdlibServer) -> None:
    data, how = exchange(stdlib_http10.port, get("/") + get("/bytes/10"))
    replies = parse_replies(data)
    assert how == "eof" and [r.body for r in replies] == [HELLO]


def test_stdlib_http10_keepalive(stdlib_http10_keepalive: StdlibServer) -> None:
    ka = "Connection: keep-alive"
    with connect(stdlib_http10_keepalive.port) as sock:
        sock.sendall(get("/", ka, version="HTTP/1.0") + get("/bytes/300", ka, version="HTTP/1.0"))
        sock.sendall(get("/", version="HTTP/1.0"))  # without keep-alive: answered, then closed
        data, how = read_all(sock)
    replies = parse_replies(data)
    assert how == "eof" and [r.body for r in replies] == [HELLO, pattern(300), HELLO]
    assert [r.version for r in replies] == [10, 10, 10]
    assert [r.header("Connection") for r in replies] == ["keep-alive", "keep-alive", None]
    assert all(r.header("Content-Length") for r in replies)


def test_stdlib_http10_ignores_keepalive_by_default(stdlib_http10: StdlibServer) -> None:
    data, how = exchange(stdlib_http10.port, get("/", "Connection: keep-alive", version="HTTP/1.0"))
    assert how == "eof" and parse_replies(data)[0].header("Connection") is None


def test_stdlib_http11_routes(stdlib_http11: StdlibServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stdlib_http11.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        assert (resp.version, resp.read()) == (11, HELLO)
        sock = conn.sock
        conn.request("GET", "/bytes/100000")
        assert conn.getresponse().read() == pattern(100000)
        conn.request("POST", "/post", body=pattern(5000))
        assert conn.getresponse().read() == digest_text(pattern(5000))
        conn.request("POST", "/post", body=iter([b"ab", b"", b"cde"]), encode_chunked=True)
        assert conn.getresponse().read() == digest_text(b"abcde")
        conn.request("GET", "/status/204")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (204, b"")
        conn.request("GET", "/status/503")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (503, b"status 503\n")
        conn.request("GET", "/nope")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (404, b"not found\n")
        assert conn.sock is sock
    finally:
        conn.close()


def test_stdlib_http11_pipelines(stdlib_http11: StdlibServer) -> None:
    data, how = exchange(stdlib_http11.port, get("/") * 3 + get("/", "Connection: close"))
    assert how == "eof" and [r.body for r in parse_replies(data)] == [HELLO] * 4


def test_stdlib_head(stdlib_http11: StdlibServer) -> None:
    data, _ = exchange(stdlib_http11.port, get("/bytes/50", "Connection: close", method="HEAD"))
    (reply,) = parse_replies(data, ("HEAD",))
    assert reply.header("Content-Length") == "50" and reply.body == b""
    assert data.endswith(b"\r\n\r\n")


@pytest.mark.parametrize("protocol", ["HTTP/1.0", "HTTP/1.1"])
def test_stdlib_stops_cleanly(protocol: str, fd_baseline: int | None) -> None:
    server = start_stdlib_server(protocol, keep_alive_10=True)
    with connect(server.port) as idle:  # a handler blocked on an idle connection
        idle.sendall(get("/", "Connection: keep-alive"))
        assert recv_replies(idle, 1)[0].body == HELLO
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1
        assert read_all(idle)[1] in ("eof", "reset")
    assert not threads_named(f"stdlib-http-{server.port}-")
    with pytest.raises(OSError):
        connect(server.port).close()


# -- aiohttp ---------------------------------------------------------------------


def test_aiohttp_routes(aiohttp_server: AiohttpServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", aiohttp_server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        assert conn.getresponse().read() == HELLO
        conn.request("GET", "/bytes/70000")
        assert conn.getresponse().read() == pattern(70000)
        conn.request("POST", "/post", body=pattern(3_000_000))
        assert conn.getresponse().read() == digest_text(pattern(3_000_000))
        conn.request("POST", "/post", body=iter([b"x" * 10, b"y" * 70000]), encode_chunked=True)
        assert conn.getresponse().read() == digest_text(b"x" * 10 + b"y" * 70000)
        conn.request("PUT", "/post", body=b"")
        assert conn.getresponse().read() == digest_text(b"")
    finally:
        conn.close()


def test_aiohttp_chunked(aiohttp_server: AiohttpServer) -> None:
    data, how = exchange(aiohttp_server.port, get("/chunked/5", "Connection: close"))
    head, _, raw_body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
    assert sum(chunk_sizes(raw_body)) == 5 * 1024
    assert parse_replies(data)[0].body == pattern(5 * 1024)


def test_aiohttp_delay(aiohttp_server: AiohttpServer) -> None:
    started = time.monotonic()
    resp, body = http_get(aiohttp_server.port, "/delay/150")
    assert 0.14 <= time.monotonic() - started < 2
    assert body == b"delayed 150 ms"


def test_aiohttp_stops_cleanly(fd_baseline: int | None) -> None:
    try:
        server = start_aiohttp_server()
    except AiohttpUnavailable as exc:
        from support.servers.fixtures import server_unavailable
        server_unavailable(str(exc))
    with connect(server.port) as idle:
        idle.sendall(get("/"))
        assert recv_replies(idle, 1)[0].body == HELLO
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2
        assert read_all(idle)[1] in ("eof", "reset")
    assert not threads_named(f"aiohttp-server-{server.port}")
    server.stop()  # idempotent


# -- fault server: default behaviour ---------------------------------------------


def test_fault_default_answers_in_order(fault_server: FaultFactory) -> None:
    server = fault_server()
    assert server.url == f"http://127.0.0.1:{server.port}"
    with connect(server.port) as sock:
        sock.sendall(get("/a") + get("/b", method="HEAD") + get("/c", "Connection: close"))
        data, how = read_all(sock)
    replies = parse_replies(data, ("GET", "HEAD", "GET"))
    assert how == "eof"
    assert [r.body for r in replies] == [b"GET /a #1.1", b"", b"GET /c #1.3"]
    assert replies[1].header("Content-Length") == str(len(b"HEAD /b #1.2"))
    assert replies[2].header("Connection") == "close"
    assert [(r.conn, r.index, r.method, r.target, r.answered) for r in server.log] == [
        (1, 1, "GET", "/a", True), (1, 2, "HEAD", "/b", True), (1, 3, "GET", "/c", True)]
    assert server.connections_accepted == 1
    assert wait_for(lambda: server.connections_open == 0)


def test_fault_numbers_connections(fault_server: FaultFactory) -> None:
    server = fault_server()
    for n in (1, 2, 3):
        resp, body = http_get(server.port, "/x")
        assert body == f"GET /x #{n}.1".encode()
    assert server.requests_per_connection() == {1: 1, 2: 1, 3: 1}
    assert server.connections_accepted == 3


def test_fault_keeps_alive(fault_server: FaultFactory) -> None:
    server = fault_server()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        for n in range(1, 6):
            conn.request("GET", "/")
            assert conn.getresponse().read() == f"GET / #1.{n}".encode()
        assert server.connections_open == 1
    finally:
        conn.close()


def test_fault_request_bodies(fault_server: FaultFactory) -> None:
    server = fault_server()
    with connect(server.port) as sock:
        sock.sendall(b"POST /cl HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                     b"POST /ch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
                     + get("/end", "Connection: close"))
        data, _ = read_all(sock)
    assert [r.body for r in parse_replies(data)] == [b"POST /cl #1.1", b"POST /ch #1.2",
                                                     b"GET /end #1.3"]
    assert [r.body for r in server.log] == [b"hello", b"abcde", b""]
    assert server.log[1].header("transfer-encoding") == "chunked"
    assert server.requests(method="POST", target="/cl")[0].body == b"hello"


def test_fault_request_split_across_packets(fault_server: FaultFactory) -> None:
    server = fault_server()
    message = b"POST /slow HTTP/1.1\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
    with connect(server.port) as sock:
        for i in range(0, len(message), 7):
            sock.sendall(message[i:i + 7])
            time.sleep(0.002)
        data, _ = read_all(sock)
    assert parse_replies(data)[0].body == b"POST /slow #1.1"
    assert server.log[0].body == b"body"


@pytest.mark.slow  # waits on delayed answers
def test_fault_expect_continue(fault_server: FaultFactory) -> None:
    server = fault_server()
    with connect(server.port) as sock:
        sock.sendall(b"PUT /up HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert read_for(sock, 0.2).endswith(b"PUT /up #1.1")
    server.set(ignore_expect=True)
    with connect(server.port) as sock:
        sock.sendall(b"PUT /up HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        assert read_for(sock, 0.2) == b""
        sock.sendall(b"abc")
        assert read_for(sock, 0.2).endswith(b"PUT /up #2.1")


def test_fault_http10_request_on_http11_server(fault_server: FaultFactory) -> None:
    server = fault_server()
    data, how = exchange(server.port, get("/", version="HTTP/1.0") + get("/dropped"))
    (reply,) = parse_replies(data)
    assert how == "eof" and reply.version == 11 and reply.header("Connection") == "close"
    with connect(server.port) as sock:
        sock.sendall(get("/", "Connection: keep-alive", version="HTTP/1.0"))
        assert b"Connection: keep-alive" in read_for(sock, 0.1)


def test_fault_bad_request(fault_server: FaultFactory) -> None:
    server = fault_server()
    data, how = exchange(server.port, b"NONSENSE\r\n\r\n")
    assert how == "eof" and parse_replies(data)[0].status == 400
    assert server.log == []


# -- fault server: routes --------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 1000, 1048576])
def test_fault_bytes(fault_server: FaultFactory, n: int) -> None:
    resp, body = http_get(fault_server().port, f"/bytes/{n}")
    assert resp.getheader("Content-Length") == str(n) and body == pattern(n)


@pytest.mark.parametrize("n", [0, 1, 7])
def test_fault_chunked(fault_server: FaultFactory, n: int) -> None:
    data, _ = exchange(fault_server().port, get(f"/chunked/{n}", "Connection: close"))
    head, _, raw_body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert chunk_sizes(raw_body) == [1024] * n + [0]
    assert parse_replies(data)[0].body == pattern(n * 1024)


@pytest.mark.slow  # waits on slow chunks
def test_fault_slow_chunks(fault_server: FaultFactory) -> None:
    server = fault_server()
    with connect(server.port) as sock:
        started = time.monotonic()
        sock.sendall(get("/slow-chunks/4"))
        first = sock.recv(65536)
        assert b"Transfer-Encoding: chunked" in first and time.monotonic() - started < 0.05
        data = first + read_for(sock, 0.4)
    assert time.monotonic() - started >= 0.15
    assert parse_replies(data)[0].body == pattern(4096)


def test_fault_status(fault_server: FaultFactory) -> None:
    server = fault_server()
    with connect(server.port) as sock:
        sock.sendall(get("/status/204") + get("/status/404") + get("/status/500?q=1"))
        replies = parse_replies(read_for(sock, 0.1))
    assert [(r.status, r.body) for r in replies] == [
        (204, b""), (404, b"GET /status/404 #1.2"), (500, b"GET /status/500?q=1 #1.3")]
    assert replies[0].header("Content-Length") is None


def test_fault_delay(fault_server: FaultFactory) -> None:
    started = time.monotonic()
    assert http_get(fault_server().port, "/delay/100")[1] == b"GET /delay/100 #1.1"
    assert 0.09 <= time.monotonic() - started < 1


def test_fault_close_route(fault_server: FaultFactory) -> None:
    server = fault_server()
    data, how = exchange(server.port, get("/close") + get("/after"))
    (reply,) = parse_replies(data)
    assert how == "eof" and reply.body == b"GET /close #1.1"
    assert reply.header("Connection") is None
    assert [(r.target, r.answered) for r in server.log] == [("/close", True), ("/after", False)]


# -- fault server: behaviours ----------------------------------------------------


def test_fault_close_after(fault_server: FaultFactory) -> None:
    server = fault_server(close_after=2)
    data, how = exchange(server.port, get("/1") + get("/2") + b"POST /3 HTTP/1.1\r\n"
                         b"Content-Length: 2\r\n\r\nhi")
    replies = parse_replies(data)
    assert how == "eof" and [r.body for r in replies] == [b"GET /1 #1.1", b"GET /2 #1.2"]
    assert all(r.header("Connection") is None for r in replies)
    # The unanswered POST reached the server, and the log says so.
    assert [(r.target, r.answered) for r in server.log] == [
        ("/1", True), ("/2", True), ("/3", False)]


def test_fault_close_after_zero_reads_then_closes(fault_server: FaultFactory) -> None:
    server = fault_server(close_after=0)
    assert exchange(server.port, b"POST /pay HTTP/1.1\r\nContent-Length: 4\r\n\r\nonce") == (
        b"", "eof")
    assert [(r.method, r.target, r.body, r.answered) for r in server.log] == [
        ("POST", "/pay", b"once", False)]


def test_fault_lowered_limit_applies_to_open_connections(fault_server: FaultFactory) -> None:
    server = fault_server()
    with connect(server.port) as sock:
        sock.sendall(get("/warm"))
        recv_replies(sock, 1)
        server.set(close_after=0)  # this connection already answered one: it answers no more
        sock.sendall(get("/x"))
        assert read_all(sock) == (b"", "eof")
    assert [(r.target, r.answered) for r in server.log] == [("/warm", True), ("/x", False)]


def test_fault_reset_after_zero(fault_server: FaultFactory) -> None:
    server = fault_server(reset_after=0)
    with connect(server.port) as sock:
        sock.sendall(get("/x"))
        assert read_all(sock) == (b"", "reset")
    assert [(r.target, r.answered) for r in server.log] == [("/x", False)]


def test_fault_reset_after(fault_server: FaultFactory) -> None:
    server = fault_server(reset_after=1)
    with connect(server.port) as sock:
        sock.sendall(get("/1") + get("/2"))
        with pytest.raises(ConnectionResetError):
            time.sleep(0.1)  # let the RST arrive: reading is then refused
            while sock.recv(65536):
                pass
    assert [(r.target, r.answered) for r in server.log] == [("/1", True), ("/2", False)]


def test_fault_reset_after_delivers_the_answers_first(fault_server: FaultFactory) -> None:
    server = fault_server(reset_after=2)
    with connect(server.port) as sock:
        sock.sendall(get("/1"))
        assert read_for(sock, 0.1).endswith(b"GET /1 #1.1")
        sock.sendall(get("/2"))
        data, how = read_all(sock)
    assert how == "reset"
    assert data == b"" or data.endswith(b"GET /2 #1.2")  # the RST may overtake the answer


def test_fault_connection_close(fault_server: FaultFactory) -> None:
    server = fault_server(connection_close=True)
    data, how = exchange(server.port, get("/1") + get("/2"))
    (reply,) = parse_replies(data)
    assert how == "eof" and reply.header("Connection") == "close"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        for _ in range(3):
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            assert resp.will_close
    finally:
        conn.close()
    assert server.connections_accepted == 4


def test_fault_keep_alive_header_max(fault_server: FaultFactory) -> None:
    server = fault_server(keep_alive_header="timeout=1, max=3")
    data, how = exchange(server.port, get("/") * 5)
    replies = parse_replies(data)
    assert how == "eof" and len(replies) == 3
    assert {r.header("Keep-Alive") for r in replies} == {"timeout=1, max=3"}
    assert {r.header("Connection") for r in replies} == {None}


@pytest.mark.slow  # waits for the server's timeouts
def test_fault_keep_alive_header_timeout(fault_server: FaultFactory) -> None:
    server = fault_server(keep_alive_header="timeout=1, max=3")
    with connect(server.port) as sock:
        sock.sendall(get("/"))
        assert read_for(sock, 0.1).endswith(b"GET / #1.1")
        started = time.monotonic()
        data, how = read_all(sock)
    assert (data, how) == (b"", "eof")
    assert 0.8 <= time.monotonic() - started < 2


@pytest.mark.slow  # waits for idle closes
def test_fault_idle_close(fault_server: FaultFactory) -> None:
    server = fault_server(idle_close=0.3)
    with connect(server.port) as sock:
        sock.sendall(get("/"))
        time.sleep(0.2)  # answered and idle since the answer, not since the accept
        sock.sendall(get("/"))
        assert read_for(sock, 0.1).endswith(b"GET / #1.2")
        started = time.monotonic()
        assert read_all(sock) == (b"", "eof")
    assert 0.15 <= time.monotonic() - started < 1
    with connect(server.port) as never_used:  # idle from the accept on
        started = time.monotonic()
        assert read_all(never_used) == (b"", "eof")
        assert 0.25 <= time.monotonic() - started < 1


def test_fault_http10(fault_server: FaultFactory) -> None:
    server = fault_server(http10=True)
    data, how = exchange(server.port, get("/a") + get("/b"))
    (reply,) = parse_replies(data)
    assert how == "eof" and reply.version == 10 and reply.header("Connection") is None
    assert reply.header("Content-Length") == str(len(reply.body))
    ka = "Connection: keep-alive"
    with connect(server.port) as sock:
        sock.sendall(get("/c", ka, version="HTTP/1.0"))
        first = read_for(sock, 0.1)
        sock.sendall(get("/d", ka))
        replies = parse_replies(first + read_for(sock, 0.1))
    assert [(r.version, r.header("Connection"), r.body) for r in replies] == [
        (10, "keep-alive", b"GET /c #2.1"), (10, "keep-alive", b"GET /d #2.2")]


def test_fault_http10_chunked_route_is_close_delimited(fault_server: FaultFactory) -> None:
    server = fault_server(http10=True)
    data, how = exchange(server.port, get("/chunked/3", "Connection: keep-alive"))
    (reply,) = parse_replies(data)
    assert how == "eof" and reply.body == pattern(3072)
    assert reply.header("Transfer-Encoding") is None and reply.header("Content-Length") is None


def test_fault_stall(fault_server: FaultFactory) -> None:
    server = fault_server(stall=0.3)
    started = time.monotonic()
    assert exchange(server.port, get("/")) == (b"", "eof")
    assert 0.28 <= time.monotonic() - started < 1.5
    assert [r.answered for r in server.log] == [False]


def test_fault_stall_route(fault_server: FaultFactory) -> None:
    server = fault_server()
    with connect(server.port) as sock:
        sock.sendall(get("/stall/200"))
        assert read_for(sock, 0.15) == b""
        assert read_all(sock) == (b"", "eof")
    assert [(r.target, r.answered) for r in server.log] == [("/stall/200", False)]


@pytest.mark.parametrize("how", ["behaviour", "route"])
def test_fault_stall_body(fault_server: FaultFactory, how: str) -> None:
    server = fault_server(stall_body=0.3) if how == "behaviour" else fault_server()
    with connect(server.port) as sock:
        sock.sendall(get("/" if how == "behaviour" else "/stall-body/300"))
        partial = read_for(sock, 0.15)
        assert partial.endswith(b"\r\n\r\n" + pattern(10))
        assert b"Content-Length: 100" in partial
        assert read_all(sock) == (b"", "eof")


@pytest.mark.parametrize("how", ["behaviour", "route"])
def test_fault_garbage(fault_server: FaultFactory, how: str) -> None:
    server = fault_server(garbage=True) if how == "behaviour" else fault_server()
    data, closed = exchange(server.port, get("/garbage"))
    assert (data, closed) == (GARBAGE, "eof")
    with pytest.raises(http.client.BadStatusLine):
        parse_replies(data)


@pytest.mark.parametrize("how", ["behaviour", "route"])
def test_fault_truncate(fault_server: FaultFactory, how: str) -> None:
    server = fault_server(truncate=True) if how == "behaviour" else fault_server()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/truncate")
        resp = conn.getresponse()
        assert resp.getheader("Content-Length") == "100"
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert info.value.partial == pattern(10)
    finally:
        conn.close()


def test_fault_set_changes_behaviour_between_phases(fault_server: FaultFactory) -> None:
    server = fault_server(close_after=1)
    assert len(parse_replies(exchange(server.port, get("/") * 2)[0])) == 1
    server.set()
    with connect(server.port) as sock:
        sock.sendall(get("/") * 2)
        assert len(parse_replies(read_for(sock, 0.1))) == 2
        server.set(connection_close=True)  # an open connection follows from its next request
        sock.sendall(get("/"))
        data, how = read_all(sock)
    assert how == "eof" and parse_replies(data)[0].header("Connection") == "close"
    server.clear_log()
    assert server.log == []


def test_fault_behaviour_is_validated() -> None:
    with pytest.raises(TypeError):
        start_fault_server(no_such_fault=True)
    with pytest.raises(ValueError):
        start_fault_server(close_after=1, reset_after=1)
    with pytest.raises(ValueError):
        start_fault_server(close_after=-1)
    with pytest.raises(ValueError):
        start_fault_server(keep_alive_header="forever")


def test_fault_stops_cleanly(fd_baseline: int | None) -> None:
    server = start_fault_server(stall=30)
    with connect(server.port) as stalled, connect(server.port) as idle:
        stalled.sendall(get("/"))
        assert wait_for(lambda: server.connections_open == 2 and len(server.log) == 1)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1
        assert read_all(stalled)[1] in ("eof", "reset")
        assert read_all(idle)[1] in ("eof", "reset")
    assert server.connections_open == 0
    assert not threads_named(f"fault-accept-{server.port}")
    assert not threads_named(f"fault-conn-{server.port}-")
    with pytest.raises(OSError):
        connect(server.port).close()
    server.stop()  # idempotent


# -- the fixtures' skip-or-fail rule -----------------------------------------------


def test_missing_server_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from support.servers import fixtures
    monkeypatch.setattr(fixtures, "REQUIRE_SERVERS", False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        fixtures.server_unavailable("nginx is not installed")
    monkeypatch.setattr(fixtures, "REQUIRE_SERVERS", True)
    with pytest.raises(pytest.fail.Exception, match="HOPWIRE_REQUIRE_SERVERS=1"):
        fixtures.server_unavailable("nginx is not installed")
