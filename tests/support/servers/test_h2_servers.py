"""Self-tests of the HTTP/2 test servers, with the h2 library as the client
(`support.h2_client.h2_get`), never with hopwire: as test_servers.py does for HTTP/1.

What the pool's HTTP/2 tests will rely on: each server answers over TLS with ALPN h2 and
over h2c with prior knowledge; nginx's limited variant refuses nothing but sends GOAWAY
with the 10th request; the fault server's behaviours do what h2_fault.py says.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("h2", reason="h2 is a test dependency: pip install '.[test]'")

import hyperframe.frame as hf

from support.h2_client import H2Exchange, h2_get
from support.servers import pattern, wait_for
from support.servers.h2_fault import H2FaultServer, _split_headers, start_h2_fault_server
from support.servers.hypercorn_h2 import H2Hypercorn
from support.servers.nginx import (
    H2_KEEPALIVE_REQUESTS_LIMITED,
    H2_MAX_CONCURRENT_STREAMS_LIMITED,
    SLOW_SIZE,
    H2NginxServer,
)
from support.servers.real_apps import HELLO

H2Factory = Callable[..., H2FaultServer]
NO_ERROR, REFUSED_STREAM, HTTP_1_1_REQUIRED = 0x0, 0x7, 0xD
MAX_CONCURRENT_STREAMS = 0x3


def statuses(exchange: H2Exchange) -> list[int | None]:
    return [r.status if r is not None else None for r in exchange.responses]


# -- the client helper ---------------------------------------------------------------------


def test_h2_get_reports_a_closed_port() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    with pytest.raises(OSError):
        h2_get(f"http://127.0.0.1:{port}", ["/"], timeout=1.0)


def test_split_headers_keeps_the_block() -> None:
    block = bytes(range(10))
    frame = hf.HeadersFrame(3, data=block, flags=["END_HEADERS", "END_STREAM"]).serialize()
    data = _split_headers(frame + b"rest", 3)
    assert data.endswith(b"rest")
    frames = []
    pos = 0
    while pos < len(data) - 4:
        f, length = hf.Frame.parse_frame_header(memoryview(data[pos:pos + 9]))
        f.parse_body(memoryview(data[pos + 9:pos + 9 + length]))
        frames.append(f)
        pos += 9 + length
    assert [type(f) for f in frames] == [hf.HeadersFrame] + [hf.ContinuationFrame] * 3
    assert b"".join(f.data for f in frames) == block
    assert frames[0].flags == {"END_STREAM"} and frames[-1].flags == {"END_HEADERS"}
    assert all(not f.flags for f in frames[1:-1])


# -- nginx ---------------------------------------------------------------------------------


def _nginx_urls(server: H2NginxServer) -> dict[str, str]:
    return {"tls": server.tls_url, "h2c": server.h2c_url, "tls_limited": server.tls_url_limited,
            "h2c_limited": server.h2c_url_limited}


@pytest.mark.parametrize("which", ["tls", "h2c", "tls_limited", "h2c_limited"])
def test_h2_nginx_routes(h2_nginx: H2NginxServer, which: str) -> None:
    url = _nginx_urls(h2_nginx)[which]
    ex = h2_get(url, ["/", "/bytes/65536", ("POST", "/post", pattern(100_000)), "/status/204",
                      "/status/503", "/nothing-here"], h2_nginx.ssl_context)
    assert ex.alpn == ("h2" if which.startswith("tls") else None)
    assert statuses(ex) == [200, 200, 200, 204, 503, 404] and not ex.timed_out
    hello, data, posted = (r for r in ex.responses[:3] if r is not None)
    assert hello.body == b"Hello, world!" and hello.header(b"content-length") == b"13"
    assert data.body == pattern(65536)
    assert posted.body == b"posted"
    limited = which.endswith("limited")
    assert ex.settings[0][MAX_CONCURRENT_STREAMS] == (H2_MAX_CONCURRENT_STREAMS_LIMITED if limited else 128)


def test_h2_nginx_ssl_context_has_no_alpn(h2_nginx: H2NginxServer) -> None:
    host, port = h2_nginx.tls_url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with h2_nginx.ssl_context.wrap_socket(raw, server_hostname=host) as tls:
            assert tls.selected_alpn_protocol() is None  # nginx then speaks HTTP/1.1
            tls.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert tls.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_h2_nginx_h2c_port_is_prior_knowledge_only(h2_nginx: H2NginxServer) -> None:
    host, port = h2_nginx.h2c_url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = sock.recv(65536)
    assert not answer.startswith(b"HTTP/")


@pytest.mark.parametrize("which", ["tls_limited", "h2c_limited"])
def test_h2_nginx_limited_goaway_after_10(h2_nginx: H2NginxServer, which: str) -> None:
    n = H2_KEEPALIVE_REQUESTS_LIMITED
    ex = h2_get(_nginx_urls(h2_nginx)[which], ["/"] * (n + 2), h2_nginx.ssl_context, window=1,
                hold_open=1.0)
    assert statuses(ex) == [200] * n + [None, None]  # the 11th is never sent: GOAWAY came first
    assert ex.goaway == (NO_ERROR, 2 * n - 1)  # the 10th stream, the last processed
    assert ex.closed and ex.responses[n] is None


def test_h2_nginx_limited_answers_up_to_the_last_id(h2_nginx: H2NginxServer) -> None:
    """Streams sent at once: nginx's GOAWAY precedes the 10th answer (RFC 9113 §6.8)."""
    ex = h2_get(h2_nginx.h2c_url_limited, ["/"] * 12, hold_open=0.5)
    sent = [r for r in ex.responses if r is not None]
    assert ex.goaway == (NO_ERROR, 19)
    assert [r.status for r in sent if r.stream_id <= 19] == [200] * 10
    assert all(r.status is None and r.reset is None for r in sent if r.stream_id > 19)
    kinds = [type(f) for f in ex.frames]
    last_answer = max(i for i, f in enumerate(ex.frames) if f.stream_id == 19)
    assert kinds.index(hf.GoAwayFrame) < last_answer


def test_h2_nginx_limited_refuses_streams_over_4(h2_nginx: H2NginxServer) -> None:
    """Streams sent before the SETTINGS arrived, beyond 4: RST_STREAM REFUSED_STREAM."""
    # 1 MiB answers outlast h2's 64 KiB stream windows: the first streams stay open.
    ex = h2_get(h2_nginx.h2c_url_limited, ["/bytes/1048576"] * 6, eager=True, timeout=10)
    resets = [r.reset for r in ex.responses if r is not None]
    assert resets.count(REFUSED_STREAM) >= 1 and resets.count(None) >= 4


@pytest.mark.slow  # waits out the 1 s keep-alive timeout
def test_h2_nginx_limited_idle_goaway(h2_nginx: H2NginxServer) -> None:
    started = time.monotonic()
    ex = h2_get(h2_nginx.h2c_url_limited, ["/"], hold_open=3)
    assert ex.goaway == (NO_ERROR, 1) and ex.closed
    assert 0.8 < time.monotonic() - started < 2.5


@pytest.mark.slow  # /slow trickles for about a second
def test_h2_nginx_slow_is_multiplexed(h2_nginx: H2NginxServer) -> None:
    started = time.monotonic()
    ex = h2_get(h2_nginx.h2c_url, ["/slow", "/", "/bytes/1024"])
    elapsed = time.monotonic() - started
    assert statuses(ex) == [200, 200, 200]
    assert ex.responses[0] is not None and ex.responses[0].body == pattern(SLOW_SIZE)
    assert 0.5 < elapsed < 3
    ends = [f.stream_id for f in ex.frames if "END_STREAM" in f.flags]
    assert ends[-1] == 1  # the others finished while /slow trickled


# -- hypercorn -----------------------------------------------------------------------------


@pytest.mark.slow  # starts hypercorn
@pytest.mark.parametrize("tls", [True, False], ids=["tls", "h2c"])
def test_h2_hypercorn_routes(h2_hypercorn: H2Hypercorn, tls: bool) -> None:
    url = h2_hypercorn.tls_url if tls else h2_hypercorn.h2c_url
    ex = h2_get(url, ["/", "/bytes/100000", ("POST", "/echo", pattern(70_000)), "/info"],
                h2_hypercorn.ssl_context)
    assert ex.alpn == ("h2" if tls else None)
    assert statuses(ex) == [200] * 4
    hello, data, echo, info = (r for r in ex.responses if r is not None)
    assert hello.body == HELLO and data.body == pattern(100_000) and echo.body == pattern(70_000)
    reported = json.loads(info.body)
    assert reported["http_version"] == "2" and reported["scheme"] == ("https" if tls else "http")
    assert ["host", url.split("//")[1]] in reported["headers"]


@pytest.mark.slow  # starts hypercorn, waits on /slow
def test_h2_hypercorn_h2c_and_http11_share_the_port(h2_hypercorn: H2Hypercorn) -> None:
    host, port = h2_hypercorn.h2c_url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["http_version"] == "1.1"
    started = time.monotonic()
    ex = h2_get(h2_hypercorn.h2c_url, ["/slow?ms=600", "/slow?ms=300", "/"])
    assert statuses(ex) == [200] * 3 and time.monotonic() - started < 1.5
    ends = [f.stream_id for f in ex.frames if "END_STREAM" in f.flags]
    assert ends == [5, 3, 1]


@pytest.mark.slow  # starts hypercorn
def test_h2_hypercorn_limited_goaway(h2_hypercorn_limited: H2Hypercorn) -> None:
    """keep_alive_max_requests 10: GOAWAY after the 11th stream; streams then unanswered
    get nothing (hypercorn calls h2's close_connection()), and the connection closes."""
    ex = h2_get(h2_hypercorn_limited.h2c_url, ["/"] * 14, hold_open=0.5)
    assert ex.settings[0][MAX_CONCURRENT_STREAMS] == 4
    assert ex.goaway is not None and ex.goaway[0] == NO_ERROR and ex.closed
    answered = [r.stream_id for r in ex.answered]
    assert len(answered) <= 11 and ex.goaway[1] >= max(answered)


# -- the fault server ------------------------------------------------------------------------


def test_h2_fault_default(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server()
    ex = h2_get(server.url, ["/", "/bytes/200000", ("POST", "/echo", pattern(150_000)),
                             "/status/204"])
    assert statuses(ex) == [200, 200, 200, 204]
    assert [r.body for r in ex.responses if r is not None] == [
        b"stream 1", pattern(200_000), pattern(150_000), b""]
    assert ex.responses[0] is not None and ex.responses[0].header(b"content-length") == b"8"
    assert server.connections == 1
    assert [(r.conn, r.stream_id, r.method, r.path, r.outcome) for r in server.requests] == [
        (1, 1, "GET", "/", "answered"), (1, 3, "GET", "/bytes/200000", "answered"),
        (1, 5, "POST", "/echo", "answered"), (1, 7, "GET", "/status/204", "answered")]
    assert (b":authority", server.url.split("//")[1].encode()) in server.requests[0].headers
    assert server.requests[2].body == pattern(150_000)


def test_h2_fault_tls(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(tls=True)
    assert server.tls_url is not None
    ex = h2_get(server.tls_url, ["/"], server.ssl_context)
    assert ex.alpn == "h2" and statuses(ex) == [200]
    assert h2_get(server.url, ["/"]).answered  # and prior knowledge on .url
    assert server.connections == 2


def test_h2_fault_slow_is_multiplexed(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server()
    started = time.monotonic()
    ex = h2_get(server.url, ["/slow?ms=400", "/", "/slow?ms=100"])
    assert statuses(ex) == [200] * 3 and 0.35 < time.monotonic() - started < 1.5
    assert [f.stream_id for f in ex.frames if "END_STREAM" in f.flags] == [3, 5, 1]


def test_h2_fault_goaway_after(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(goaway_after=3)
    ex = h2_get(server.url, ["/slow?ms=100"] * 6, eager=True, hold_open=0.5)
    assert ex.goaway == (NO_ERROR, 5) and ex.closed
    assert [r.status for r in ex.responses if r is not None and r.stream_id <= 5] == [200] * 3
    assert [(r.stream_id, r.outcome) for r in server.requests] == [
        (1, "answered"), (3, "answered"), (5, "answered"),
        (7, "dropped"), (9, "dropped"), (11, "dropped")]
    assert server.events_of("goaway") == [(1, 5)]


def test_h2_fault_goaway_last_id_drops_open_streams(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(goaway_after=2, goaway_last_id=1)
    ex = h2_get(server.url, ["/slow?ms=100"] * 3, eager=True, hold_open=0.5)
    assert ex.goaway == (NO_ERROR, 1) and ex.closed
    assert statuses(ex) == [200, None, None]
    assert [r.outcome for r in server.requests] == ["answered", "dropped", "dropped"]


def test_h2_fault_refuse(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(refuse={2}, refuse_streams={7})
    ex = h2_get(server.url, ["/"] * 4)
    assert [(r.status, r.reset) for r in ex.responses if r is not None] == [
        (200, None), (None, REFUSED_STREAM), (200, None), (None, REFUSED_STREAM)]
    assert [r.outcome for r in server.requests] == ["answered", "refused", "answered", "refused"]


def test_h2_fault_http_1_1_required(h2_fault_server: H2Factory) -> None:
    ex = h2_get(h2_fault_server(http_1_1_required=True).url, ["/", "/"])
    assert [r.reset for r in ex.responses if r is not None] == [HTTP_1_1_REQUIRED] * 2


def test_h2_fault_max_concurrent_streams(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(max_concurrent_streams=2)
    polite = h2_get(server.url, ["/slow?ms=50"] * 4)  # waits for SETTINGS, keeps to 2
    assert polite.settings[0][MAX_CONCURRENT_STREAMS] == 2 and statuses(polite) == [200] * 4
    eager = h2_get(server.url, ["/slow?ms=100"] * 4, eager=True)  # sent before SETTINGS
    assert [r.reset for r in eager.responses if r is not None] == [
        None, None, REFUSED_STREAM, REFUSED_STREAM]


def test_h2_fault_lower_settings(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(max_concurrent_streams=10, lower_settings_after=2, lowered=1)
    ex = h2_get(server.url, ["/slow?ms=50"] * 5, window=2)
    assert [s.get(MAX_CONCURRENT_STREAMS) for s in ex.settings] == [10, 1]
    settings = [i for i, f in enumerate(ex.frames)
                if isinstance(f, hf.SettingsFrame) and "ACK" not in f.flags]
    heads = [i for i, f in enumerate(ex.frames) if isinstance(f, hf.HeadersFrame)]
    assert heads[0] > settings[1]  # after the 2nd request, before any answer
    assert statuses(ex) == [200] * 5
    assert wait_for(lambda: server.settings_acks == 2) and server.events_of("settings") == [(1, 1)]


def test_h2_fault_stall_window(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(initial_window=1000, stall_window=True)
    ex = h2_get(server.url, [("POST", "/echo", pattern(5000))], timeout=0.5)
    assert ex.settings[0][0x4] == 1000  # SETTINGS_INITIAL_WINDOW_SIZE
    assert ex.timed_out and statuses(ex) == [None]
    (record,) = server.requests
    assert wait_for(lambda: len(record.body) >= 1000)  # the last DATA may still be in flight
    # ("cut" once h2_get closed the connection after its timeout: a race with this check)
    assert record.body == pattern(1000) and not record.ended and record.outcome in ("pending", "cut")


def test_h2_fault_initial_window_without_stall(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(initial_window=1000)
    ex = h2_get(server.url, [("POST", "/echo", pattern(50_000))])
    assert statuses(ex) == [200] and ex.answered[0].body == pattern(50_000)


@pytest.mark.slow  # waits for PINGs
def test_h2_fault_ping_every(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(ping_every=0.2)
    ex = h2_get(server.url, ["/"], hold_open=1.0)
    assert ex.pings_received >= 3
    assert wait_for(lambda: server.ping_acks >= 3)
    assert server.pings_received == 0  # h2_get sends no PING of its own


def test_h2_fault_counts_client_pings(h2_fault_server: H2Factory) -> None:
    import h2.config
    import h2.connection
    server = h2_fault_server()
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.ping(b"12345678")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(conn.data_to_send())
        assert wait_for(lambda: server.pings_received == 1)


def test_h2_fault_continuation(h2_fault_server: H2Factory) -> None:
    ex = h2_get(h2_fault_server(continuation=3).url, ["/", "/"])
    assert statuses(ex) == [200, 200]
    for sid in (1, 3):
        kinds = [type(f) for f in ex.frames if f.stream_id == sid]
        assert kinds == [hf.HeadersFrame] + [hf.ContinuationFrame] * 3 + [hf.DataFrame]
    assert all(dict(fields)[b"x-padding"] == b"p" * 96 for _, fields in ex.header_blocks)


@pytest.mark.parametrize("kind, field, message", [
    ("connection-header", (b"connection", b"keep-alive"), "Connection-specific"),
    ("uppercase-name", (b"X-Upper", b"1"), "uppercase"),
    ("missing-status", None, ":status"),
])
def test_h2_fault_malformed(h2_fault_server: H2Factory, kind: str,
                            field: tuple[bytes, bytes] | None, message: str) -> None:
    server = h2_fault_server(malformed=kind)
    ex = h2_get(server.url, ["/"])
    assert ex.error is not None and message in ex.error  # h2 refuses it, as RFC 9113 §8.1.1 asks
    ((sid, fields),) = ex.header_blocks
    names = [k for k, _ in fields]
    assert sid == 1 and (b":status" in names) == (kind != "missing-status")
    if field is not None:
        assert field in fields
    # HPACK stayed in step: the next head on the same connection decodes (validate off).
    ex = h2_get(server.url, ["/", "/"], validate=False)
    assert [r.body for r in ex.responses if r is not None] == [b"stream 1", b"stream 3"]
    assert len(ex.header_blocks) == 2 and ex.header_blocks[0][1] == ex.header_blocks[1][1]


def test_h2_fault_close_after_headers(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(close_after_headers=True)
    ex = h2_get(server.url, ["/"])
    assert ex.closed and statuses(ex) == [200]
    assert ex.responses[0] is not None and not ex.responses[0].ended and ex.goaway is None
    assert [r.outcome for r in server.requests] == ["cut"]


@pytest.mark.slow  # waits for the idle close
def test_h2_fault_close_idle_after(h2_fault_server: H2Factory) -> None:
    server = h2_fault_server(close_idle_after=0.5)
    started = time.monotonic()
    ex = h2_get(server.url, ["/slow?ms=700"], hold_open=3)  # an open stream is not idle
    assert statuses(ex) == [200] and ex.closed and ex.goaway is None
    assert 1.1 < time.monotonic() - started < 2.5
    assert wait_for(lambda: server.events_of("closed") == [(1, "idle")])


def test_h2_fault_behaviour_is_validated() -> None:
    for bad in ({"lowered": 1}, {"goaway_last_id": 3}, {"malformed": "nonsense"},
                {"initial_window": 2**31}, {"ping_every": -1}):
        with pytest.raises(ValueError):
            start_h2_fault_server(**bad)


@pytest.fixture
def fd_baseline_h2() -> Iterator[None]:
    from support.servers import open_fds
    before = open_fds()
    yield
    if before is not None:
        assert wait_for(lambda: (open_fds() or 0) <= before), f"fds: {before} -> {open_fds()}"


def test_h2_fault_stops_cleanly(fd_baseline_h2: None) -> None:
    server = start_h2_fault_server(tls=True, stall_window=True)
    assert server.tls_url is not None
    results: list[H2Exchange] = []
    client = threading.Thread(target=lambda: results.append(
        h2_get(server.url, [("POST", "/echo", pattern(100_000))], timeout=5)))
    client.start()
    with socket.create_connection(("127.0.0.1", int(server.tls_url.rsplit(":", 1)[1])), timeout=5):
        assert wait_for(lambda: server.connections == 2 and len(server.requests) == 1)
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 1.5
    client.join(5)
    assert results and results[0].closed
    assert server.connections_open == 0
    assert not [t for t in threading.enumerate() if t.name.startswith(f"h2-fault-{server.port}")]
    server.close()  # idempotent


def test_h2_nginx_template_is_rendered_with_every_route(tmp_path: Path) -> None:
    from support.servers.nginx import nginx_binary, render_h2_config, routes
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed")
    text = render_h2_config(binary, [1, 2, 3, 4], tmp_path / "c", tmp_path / "k")
    assert text.count(routes()) == 2 and "location = /post" in routes()
    assert "listen 127.0.0.1:1 ssl http2;" in text and "listen 127.0.0.1:2 http2;" in text
    assert "http2_max_concurrent_streams 4;" in text and "keepalive_requests 10;" in text
