"""The embedded server (`hopwire serve`, `hopwire.server.embedded`): routes, framing, connections.

Checked from the outside with the stdlib's http.client and with raw sockets
(answers read by hopwire's ResponseParser): each route's status, headers and
body; HEAD; keep-alive; HTTP/1.0; pipelined requests in one write answered
in order, a delayed one holding back those behind it; bad requests answered
400 and closed; limits; idle connections closed. No assertion depends on how
fast anything runs.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
from collections.abc import Iterator

import pytest

import hopwire
from hopwire.server.embedded import HELLO, PATTERN, ServerThread, pattern, serve, start_server
from support.embedded import Answer, address, exchange, get, read_answers, wait_closed


def http_client(server: ServerThread) -> http.client.HTTPConnection:
    host, port = address(server)
    return http.client.HTTPConnection(host, port, timeout=10)


# -- routes ----------------------------------------------------------------------------

def test_root_answers_hello_world_with_a_length(embedded: ServerThread) -> None:
    conn = http_client(embedded)
    conn.request("GET", "/")
    response = conn.getresponse()
    assert (response.status, response.reason) == (200, "OK")
    assert response.getheader("Content-Length") == "13"
    assert response.getheader("Content-Type") == "text/plain"
    assert response.getheader("Date") and response.getheader("Server", "").startswith("hopwire/")
    assert response.read() == HELLO == b"Hello, world!"
    conn.close()


def test_query_and_absolute_form_reach_the_same_route(embedded: ServerThread) -> None:
    answers = exchange(embedded, get(b"/?x=1") + get(b"http://127.0.0.1/bytes/3?y"), [b"GET", b"GET"])
    assert [(a.status, a.body) for a in answers] == [(200, HELLO), (200, b"abc")]


@pytest.mark.parametrize("n", [0, 1, 64, 65, 100_000])
def test_bytes_route_sends_n_bytes_of_the_pattern(embedded: ServerThread, n: int) -> None:
    conn = http_client(embedded)
    conn.request("GET", f"/bytes/{n}")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Length") == str(n)
    body = response.read()
    assert body == pattern(n) and len(body) == n
    conn.close()


def test_pattern_repeats_its_64_characters() -> None:
    assert len(PATTERN) == 64 and pattern(130) == PATTERN * 2 + PATTERN[:2]


def test_chunked_route_sends_n_chunks_of_1_kib(embedded: ServerThread) -> None:
    conn = http_client(embedded)
    conn.request("GET", "/chunked/70")  # more chunks than one write holds
    response = conn.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None
    assert response.read() == pattern(70 * 1024)
    conn.close()
    with socket.create_connection(address(embedded), timeout=10) as sock:
        sock.sendall(get(b"/chunked/2"))
        raw = b""
        while not raw.endswith(b"\r\n0\r\n\r\n"):
            data = sock.recv(65536)
            assert data, f"closed before the last chunk: {raw[-40:]!r}"
            raw += data
    head, _, body = raw.partition(b"\r\n\r\n")
    chunk = b"400\r\n" + pattern(1024) + b"\r\n"
    assert body == chunk * 2 + b"0\r\n\r\n"


def test_chunked_route_to_http10_uses_a_length(embedded: ServerThread) -> None:
    [answer] = exchange(embedded, get(b"/chunked/3", version=b"1.0"), [b"GET"], then_closed=True)
    assert answer.header(b"content-length") == b"3072" and answer.header(b"transfer-encoding") is None
    assert answer.body == pattern(3072)


def test_chunked_zero_is_only_the_last_chunk(embedded: ServerThread) -> None:
    [answer] = exchange(embedded, get(b"/chunked/0"), [b"GET"])
    assert answer.status == 200 and answer.body == b""


@pytest.mark.parametrize(("status", "reason"), [(200, b"OK"), (201, b"Created"), (418, b"I'm a Teapot"),
                                                (500, b"Internal Server Error"), (599, b"Unknown")])
def test_status_route(embedded: ServerThread, status: int, reason: bytes) -> None:
    [answer] = exchange(embedded, get(b"/status/%d" % status), [b"GET"])
    assert (answer.status, answer.reason.lower(), answer.body) == (status, reason.lower(), b"")
    assert answer.header(b"content-length") == b"0"


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_carry_no_length(embedded: ServerThread, status: int) -> None:
    answers = exchange(embedded, get(b"/status/%d" % status) + get(b"/"), [b"GET", b"GET"])
    assert answers[0].status == status and answers[0].header(b"content-length") is None
    assert answers[1].body == HELLO  # the framing held: the next answer is read right


@pytest.mark.parametrize("target", [b"/status/99", b"/status/600", b"/status/x", b"/bytes/-1",
                                    b"/bytes/104857601", b"/delay/60001", b"/chunked/1e3"])
def test_out_of_range_numbers_are_400_and_keep_the_connection(embedded: ServerThread,
                                                              target: bytes) -> None:
    answers = exchange(embedded, get(target) + get(b"/"), [b"GET", b"GET"])
    assert [a.status for a in answers] == [400, 200]


def test_unknown_path_is_404(embedded: ServerThread) -> None:
    [answer] = exchange(embedded, get(b"/nope", method=b"POST"), [b"POST"])
    assert (answer.status, answer.body) == (404, b"Not Found\n")


def test_head_gets_the_head_only(embedded: ServerThread) -> None:
    requests = [get(b"/", method=b"HEAD"), get(b"/bytes/100000", method=b"HEAD"),
                get(b"/chunked/5", method=b"HEAD"), get(b"/")]
    answers = exchange(embedded, b"".join(requests), [b"HEAD", b"HEAD", b"HEAD", b"GET"])
    assert answers[0].header(b"content-length") == b"13" and answers[0].body == b""
    assert answers[1].header(b"content-length") == b"100000" and answers[1].body == b""
    assert answers[2].header(b"transfer-encoding") == b"chunked" and answers[2].body == b""
    assert answers[3].body == HELLO


# -- connections -------------------------------------------------------------------------

def test_keep_alive_serves_many_requests_on_one_connection(embedded: ServerThread) -> None:
    before = embedded.stats.connections
    conn = http_client(embedded)
    for path in ("/", "/bytes/10", "/status/204", "/chunked/1", "/"):
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        assert response.status in (200, 204)
        assert response.getheader("Connection") is None  # HTTP/1.1: persistent by default
    conn.close()
    assert embedded.stats.connections == before + 1


def test_pipelined_requests_in_one_write_are_answered_in_order(embedded: ServerThread) -> None:
    requests = [get(b"/delay/200"), get(b"/bytes/5"), get(b"/status/201"), get(b"/delay/0"),
                get(b"/chunked/1"), get(b"/")]
    answers = exchange(embedded, b"".join(requests), [b"GET"] * 6)
    assert [(a.status, a.body) for a in answers] == [
        (200, HELLO), (200, b"abcde"), (201, b""), (200, HELLO), (200, pattern(1024)), (200, HELLO)]


def test_a_delay_does_not_block_other_connections(embedded: ServerThread) -> None:
    with socket.create_connection(address(embedded), timeout=10) as slow:
        slow.sendall(get(b"/delay/60000"))  # answered in a minute: long after this test
        [answer] = exchange(embedded, get(b"/"), [b"GET"])
        assert answer.body == HELLO
        slow.setblocking(False)
        with pytest.raises(BlockingIOError):
            slow.recv(1)  # still waiting, and nothing else was held up


def test_connection_close_is_honoured(embedded: ServerThread) -> None:
    [answer] = exchange(embedded, get(b"/", b"Connection: close"), [b"GET"], then_closed=True)
    assert answer.header(b"connection") == b"close" and answer.body == HELLO


def test_requests_after_connection_close_are_not_read(embedded: ServerThread) -> None:
    data = get(b"/", b"Connection: close") + get(b"/bytes/3")
    [answer] = exchange(embedded, data, [b"GET"], then_closed=True)
    assert answer.body == HELLO


def test_http10_closes_without_keep_alive(embedded: ServerThread) -> None:
    [answer] = exchange(embedded, get(b"/", version=b"1.0"), [b"GET"], then_closed=True)
    assert answer.header(b"connection") == b"close" and answer.body == HELLO


def test_http10_keep_alive_is_kept_and_announced(embedded: ServerThread) -> None:
    with socket.create_connection(address(embedded), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(get(b"/", b"Connection: keep-alive", version=b"1.0"))
            [answer] = read_answers(sock, [b"GET"])
            assert answer.header(b"connection") == b"keep-alive" and answer.body == HELLO


def test_bad_request_is_400_with_close(embedded: ServerThread) -> None:
    [answer] = exchange(embedded, b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", [b"GET"], then_closed=True)
    assert answer.status == 400 and answer.header(b"connection") == b"close"
    assert b"whitespace between field name and colon" in answer.body


def test_requests_before_a_bad_one_are_answered_first(embedded: ServerThread) -> None:
    data = get(b"/bytes/2") + get(b"/delay/50") + b"GET / HTTP/1.1\r\nHost: x\r\nBad\x01: y\r\n\r\n"
    answers = exchange(embedded, data, [b"GET"] * 3, then_closed=True)
    assert [(a.status, a.body[:2]) for a in answers[:2]] == [(200, b"ab"), (200, b"He")]
    assert answers[2].status == 400 and b"invalid character in field name" in answers[2].body


def test_unsupported_version_gets_the_parsers_status(embedded: ServerThread) -> None:
    [answer] = exchange(embedded, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", [b"GET"], then_closed=True)
    assert answer.status == 505


def test_request_bodies_are_read_and_discarded(embedded: ServerThread) -> None:
    data = (get(b"/", b"Content-Length: 5000", method=b"POST") + b"x" * 5000
            + get(b"/bytes/1", b"Transfer-Encoding: chunked", method=b"PUT") + b"3\r\nabc\r\n0\r\n\r\n"
            + get(b"/status/202"))
    answers = exchange(embedded, data, [b"POST", b"PUT", b"GET"])
    assert [(a.status, a.body) for a in answers] == [(200, HELLO), (200, b"a"), (202, b"")]


def test_expect_100_continue_is_answered(embedded: ServerThread) -> None:
    with socket.create_connection(address(embedded), timeout=10) as sock:
        sock.sendall(get(b"/", b"Content-Length: 3", b"Expect: 100-continue", method=b"POST"))
        assert sock.recv(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        [answer] = read_answers(sock, [b"POST"])
        assert answer.body == HELLO


# -- limits and timeouts -------------------------------------------------------------------

@pytest.fixture(scope="module")
def strict() -> Iterator[ServerThread]:
    with start_server(max_body_size=1000, max_header_size=4096) as server:
        yield server


def test_body_over_the_limit_is_413_and_closed(strict: ServerThread) -> None:
    data = get(b"/", b"Content-Length: 5000", method=b"POST") + b"x" * 5000
    [answer] = exchange(strict, data, [b"POST"], then_closed=True)
    assert answer.status == 413 and answer.header(b"connection") == b"close"


def test_chunked_body_over_the_limit_is_413(strict: ServerThread) -> None:
    data = get(b"/", b"Transfer-Encoding: chunked", method=b"POST") + b"400\r\n" + b"x" * 1024 + b"\r\n"
    [answer] = exchange(strict, data, [b"POST"], then_closed=True)
    assert answer.status == 413


def test_head_over_the_limit_is_431(strict: ServerThread) -> None:
    [answer] = exchange(strict, get(b"/", b"X-Big: " + b"v" * 5000), [b"GET"], then_closed=True)
    assert answer.status == 431


@pytest.mark.slow  # waits for a 1 s idle close
def test_idle_connection_is_closed() -> None:
    with start_server(idle_timeout=1.0) as server:
        with socket.create_connection(address(server), timeout=10) as sock:
            sock.sendall(get(b"/"))
            [answer] = read_answers(sock, [b"GET"])
            assert answer.body == HELLO
            assert wait_closed(sock)  # idle for 1 s: closed long before the 10 s read timeout


def test_stop_closes_the_listening_socket() -> None:
    server = start_server()
    host, port = address(server)
    [answer] = exchange(server, get(b"/"), [b"GET"])
    assert answer.body == HELLO
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=5).close()


def test_serve_on_the_running_loop_with_the_async_pool() -> None:
    async def main() -> list[int]:
        server = await serve()
        try:
            async with hopwire.AsyncPool() as pool:
                responses = [await pool.request("GET", server.url + path)
                             for path in ("", "bytes/3", "status/404")]
            return [r.status for r in responses] + [server.stats.requests]
        finally:
            await server.aclose()

    assert asyncio.run(main()) == [200, 200, 404, 3]


def test_answer_helper_reads_headers() -> None:
    assert Answer(200, b"OK", [(b"a", b"1")]).header(b"a") == b"1"
