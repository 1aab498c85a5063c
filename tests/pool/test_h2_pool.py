"""Both pools over HTTP/2: multiplexing, and what servers do to HTTP/2 connections.

What for: `Pool(http2=...)` and `AsyncPool(http2=...)` put requests to one origin on
streams of one connection (RFC 9113), up to the server's MAX_CONCURRENT_STREAMS, and
must survive GOAWAY with streams in flight, refused streams, lowered limits, stalled
windows, CONTINUATION, malformed heads and abrupt closes: streams the server did not
process are sent again (whatever their method), the others fail with a typed error,
and one stream's failure, timeout or cancellation leaves the other streams alone.

How: the scripted h2 fault server (support/servers/h2_fault.py) misbehaves on cue and
logs every stream; nginx (TLS with ALPN, and h2c with prior knowledge, with and without
small limits) and hypercorn are the real peers (idle gaps against them, and granian, in
test_h2_real_servers.py). Each scenario is written once over a
`support.pool_drivers.Client` and runs on `Pool` (threads), `AsyncPool` on asyncio's
loop, and on uvloop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import hopwire
from support.pool_drivers import ASYNC_KINDS, KINDS, Client, run
from support.servers.stdlib import pattern

H2 = {"http2": "prior-knowledge"}
KIB = 1024


def body_of(response: hopwire.HTTPResponse) -> bytes:
    return response.content


# -- the fault server ------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_one_request_is_one_stream(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server()

    async def scenario(c: Client) -> list[hopwire.HTTPResponse]:
        first = await c.request("GET", server.url + "/a")
        second = await c.request("POST", server.url + "/echo", body=b"posted")
        return [first, second]

    first, second = run(kind, scenario, **H2)
    assert (first.status, first.http_version, first.content) == (200, "HTTP/2", b"stream 1")
    assert first.info.stream_id == 1 and first.info.streams == 1 and first.info.protocol == "HTTP/2"
    assert not first.info.reused and second.info.reused and second.info.stream_id == 3
    assert second.content == b"posted"
    assert server.connections == 1
    assert [r.method for r in server.requests] == ["GET", "POST"]


@pytest.mark.parametrize("kind", KINDS)
def test_requests_share_one_connection_without_head_of_line_blocking(
        kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server()

    async def scenario(c: Client) -> tuple[list[Any], list[float]]:
        done: list[float] = []
        start = time.monotonic()

        async def one(path: str) -> hopwire.HTTPResponse:
            response = await c.request("GET", server.url + path)
            done.append(time.monotonic() - start)
            return response

        await c.request("GET", server.url + "/")  # the connection is open and its SETTINGS known
        start = time.monotonic()
        results = await c.gather(one("/slow?ms=600"), *[one(f"/{i}") for i in range(15)])
        return results, done

    results, done = run(kind, scenario, **H2)
    assert all(r.status == 200 for r in results), results
    assert server.connections == 1
    assert results[0].content.startswith(b"stream ")
    # The fast answers did not wait for the slow one (head-of-line blocking would).
    assert sorted(done)[14] < 0.5 and max(done) >= 0.6
    assert max(r.info.streams for r in results) > 1


@pytest.mark.parametrize("kind", KINDS)
def test_goaway_replays_the_streams_above_its_last_id(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(goaway_after=3)

    async def scenario(c: Client) -> list[Any]:
        await c.request("GET", server.url + "/")
        return await c.gather(*[c.request("POST" if i % 2 else "GET", server.url + f"/{i}",
                                          body=b"x" if i % 2 else None) for i in range(8)])

    results = run(kind, scenario, **H2)
    assert all(isinstance(r, hopwire.HTTPResponse) and r.status == 200 for r in results), results
    assert server.connections >= 2
    # Never a request answered twice: each path was answered exactly once.
    answered = [r.path for r in server.requests if r.outcome == "answered"]
    assert sorted(answered) == sorted(["/"] + [f"/{i}" for i in range(8)])
    assert any(r.info.replayed for r in results)


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_stream_is_sent_again_whatever_its_method(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(refuse={2})

    async def scenario(c: Client) -> list[hopwire.HTTPResponse]:
        return [await c.request("GET", server.url + "/"),
                await c.request("POST", server.url + "/echo", body=b"once"),
                await c.request("GET", server.url + "/")]

    first, post, third = run(kind, scenario, **H2)
    assert post.status == 200 and post.content == b"once" and post.info.replayed
    assert third.status == 200
    outcomes = [(r.method, r.outcome) for r in server.requests]
    assert outcomes.count(("POST", "refused")) == 1 and outcomes.count(("POST", "answered")) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_refusals_are_not_replayed_for_ever(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(refuse_streams=set(range(1, 200, 2)))

    async def scenario(c: Client) -> Any:
        return (await c.gather(c.request("GET", server.url + "/")))[0]

    error = run(kind, scenario, **H2)
    assert isinstance(error, hopwire.ConnectionLost) and not error.maybe_processed
    assert 1 < len(server.requests) <= 7  # the first send and at most MAX_REPLAYS more


@pytest.mark.parametrize("kind", KINDS)
def test_lowered_max_concurrent_streams(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(lower_settings_after=1, lowered=2)

    async def scenario(c: Client) -> list[Any]:
        await c.request("GET", server.url + "/")
        results = await c.gather(*[c.request("GET", server.url + f"/slow?ms=50&i={i}")
                                   for i in range(12)])
        return results

    results = run(kind, scenario, **H2)
    assert all(isinstance(r, hopwire.HTTPResponse) and r.status == 200 for r in results), results


@pytest.mark.parametrize("kind", KINDS)
def test_max_concurrent_streams_from_the_start(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(max_concurrent_streams=3)

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(*[c.request("GET", server.url + f"/slow?ms=30&i={i}")
                                for i in range(10)])

    results = run(kind, scenario, **H2)
    assert all(isinstance(r, hopwire.HTTPResponse) and r.status == 200 for r in results), results
    assert server.connections <= 10


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", ["connection-header", "missing-status", "uppercase-name"])
def test_a_malformed_answer_fails_its_stream_alone(kind: str, how: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(malformed=how)

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(c.request("GET", server.url + "/"), c.request("GET", server.url + "/"))

    results = run(kind, scenario, **H2)
    for result in results:
        assert isinstance(result, hopwire.RemoteProtocolError), result
    assert server.connections == 1  # a stream error (RFC 9113 §8.1.1), not a connection error


@pytest.mark.parametrize("kind", KINDS)
def test_heads_split_over_continuation_frames(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(continuation=3)

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(*[c.request("GET", server.url + f"/{i}") for i in range(4)])

    results = run(kind, scenario, **H2)
    assert all(r.status == 200 and r.header("x-padding") for r in results), results


@pytest.mark.parametrize("kind", KINDS)
def test_large_bodies_both_ways_follow_flow_control(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server()
    size = 3 * 1024 * KIB  # past the server's 64 KiB windows and our 1 MiB stream window

    async def scenario(c: Client) -> list[Any]:
        up = await c.request("POST", server.url + "/echo", body=pattern(size))
        down = await c.request("GET", server.url + f"/bytes/{size}")
        streamed, chunks = await c.stream_chunks("GET", server.url + f"/bytes/{size}")
        again = await c.request("GET", server.url + "/")
        return [up, down, b"".join(chunks), again]

    up, down, streamed, again = run(kind, scenario, **H2)
    assert up.content == pattern(size) and down.content == pattern(size) and streamed == pattern(size)
    assert again.status == 200 and server.connections == 1


@pytest.mark.parametrize("kind", KINDS)
def test_uploads_at_once_share_the_connection_window(kind: str, h2_fault_server: Any) -> None:
    """Eight bodies of 256 KiB on one connection whose window is the server's 64 KiB: they
    wait for its WINDOW_UPDATEs together (with `Pool`, on threads: whichever reads wakes
    the others), and none is left waiting for a window already open."""
    server = h2_fault_server()
    size = 256 * KIB

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(*[c.request("POST", server.url + "/echo", body=pattern(size),
                                          timeout=hopwire.Timeout(10.0, write=3.0))
                                for _ in range(8)])

    results = run(kind, scenario, max_connections_per_host=1, **H2)
    assert all(isinstance(r, hopwire.HTTPResponse) and r.content == pattern(size)
               for r in results), results
    assert server.connections == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_stalled_upload_times_out_alone(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(stall_window=True)

    async def scenario(c: Client) -> list[Any]:
        stalled = c.request("POST", server.url + "/echo", body=b"u" * (200 * KIB),
                            timeout=hopwire.Timeout(5.0, write=0.5))
        others = [c.request("GET", server.url + f"/{i}") for i in range(3)]
        return await c.gather(stalled, *others)

    results = run(kind, scenario, **H2)
    assert isinstance(results[0], hopwire.WriteTimeout), results[0]
    assert all(isinstance(r, hopwire.HTTPResponse) and r.status == 200 for r in results[1:]), results


@pytest.mark.parametrize("kind", KINDS)
def test_a_read_timeout_fails_one_stream_alone(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server()

    async def scenario(c: Client) -> list[Any]:
        slow = c.request("GET", server.url + "/slow?ms=3000", timeout=hopwire.Timeout(5.0, read=0.4))
        fast = [c.request("GET", server.url + f"/slow?ms=100&i={i}") for i in range(4)]
        results = await c.gather(slow, *fast)
        results.append(await c.request("GET", server.url + "/after"))
        return results

    results = run(kind, scenario, **H2)
    assert isinstance(results[0], hopwire.ReadTimeout), results[0]
    assert all(isinstance(r, hopwire.HTTPResponse) and r.status == 200 for r in results[1:]), results
    assert server.connections == 1
    assert any(kind == "client-reset" for _, kind, _ in server.events)


@pytest.mark.parametrize("kind", ASYNC_KINDS)
def test_a_cancelled_request_resets_its_stream(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server()

    async def scenario(c: Client) -> list[Any]:
        slow = asyncio.ensure_future(c.request("GET", server.url + "/slow?ms=3000"))
        await asyncio.sleep(0.2)
        slow.cancel()
        results = await c.gather(*[c.request("GET", server.url + f"/{i}") for i in range(3)])
        return results

    results = run(kind, scenario, **H2)
    assert all(r.status == 200 for r in results)
    assert server.connections == 1
    assert any(kind == "client-reset" for _, kind, _ in server.events)


@pytest.mark.parametrize("kind", KINDS)
def test_a_closed_stream_body_resets_the_stream_alone(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server()

    async def scenario(c: Client) -> list[Any]:
        _, chunks = await c.stream_chunks("GET", server.url + f"/bytes/{2048 * KIB}", stop_after=1)
        after = await c.request("GET", server.url + "/after")
        return [chunks, after]

    chunks, after = run(kind, scenario, **H2)
    assert chunks and after.status == 200 and server.connections == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_close_mid_answer_is_a_typed_error(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(close_after_headers=True)

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(c.request("POST", server.url + "/echo", body=b"x"))

    (error,) = run(kind, scenario, **H2)
    assert isinstance(error, hopwire.ConnectionLost) and error.maybe_processed, error
    assert "in the middle of the answer" in str(error), error


@pytest.mark.parametrize("kind", KINDS)
def test_a_close_mid_answer_after_its_head_was_taken(kind: str, h2_fault_server: Any) -> None:
    """The caller streams the answer: it has the head when the connection ends. Its read
    fails with ConnectionLost saying the answer was cut, not that none came."""
    server = h2_fault_server(close_after_headers=True)

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(c.stream_chunks("GET", server.url + "/"))

    (error,) = run(kind, scenario, **H2)
    assert isinstance(error, hopwire.ConnectionLost) and error.maybe_processed, error
    assert "in the middle of the answer" in str(error), error


@pytest.mark.parametrize("kind", KINDS)
def test_an_idle_connection_closed_without_goaway(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(close_idle_after=0.2)

    async def scenario(c: Client) -> list[Any]:
        first = await c.request("GET", server.url + "/")
        await asyncio.sleep(0.6)
        second = await c.request("GET", server.url + "/")
        return [first, second]

    first, second = run(kind, scenario, **H2)
    assert first.status == second.status == 200
    assert server.connections == 2


@pytest.mark.parametrize("kind", KINDS)
def test_server_pings_are_answered(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(ping_every=0.1)

    async def scenario(c: Client) -> list[Any]:
        return [await c.request("GET", server.url + "/slow?ms=400"),
                await c.request("GET", server.url + "/")]

    results = run(kind, scenario, **H2)
    assert all(r.status == 200 for r in results)
    assert server.ping_acks >= 1


@pytest.mark.parametrize("kind", KINDS)
def test_http_1_1_required_moves_the_origin_to_http_1_1(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(http_1_1_required=True)

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(c.request("GET", server.url + "/"))

    (result,) = run(kind, scenario, **H2)
    # The request went again on a new connection without HTTP/2; this server speaks
    # nothing else, so it fails there, typed.
    assert isinstance(result, hopwire.TransportError), result
    assert server.connections == 2


@pytest.mark.parametrize("kind", KINDS)
def test_http2_over_tls_by_alpn(kind: str, h2_fault_server: Any) -> None:
    server = h2_fault_server(tls=True)

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(*[c.request("GET", server.tls_url + f"/{i}") for i in range(4)])

    results = run(kind, scenario, http2=True, ssl_context=server.ssl_context)
    assert all(r.http_version == "HTTP/2" for r in results), results
    assert server.connections == 1


# -- ALPN fallback ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_alpn_http_1_1_falls_back(kind: str, origin: Any, trusting: Any) -> None:
    """A TLS server that does not choose h2 gets HTTP/1.1; requests held while the first
    connection was negotiated then go as HTTP/1.1 requests do."""
    async def scenario(c: Client) -> list[Any]:
        return await c.gather(*[c.request("GET", origin.url + "/") for i in range(6)])

    results = run(kind, scenario, http2=True, ssl_context=trusting)
    assert all(isinstance(r, hopwire.HTTPResponse) and r.http_version == "HTTP/1.1"
               for r in results), results


def test_http2_option_is_checked() -> None:
    with pytest.raises(ValueError, match="http2"):
        hopwire.Pool(http2="yes")


# -- real servers ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["tls_url", "h2c_url"])
def test_nginx(kind: str, where: str, h2_nginx: Any) -> None:
    base = getattr(h2_nginx, where)
    options: dict[str, Any] = ({"http2": True, "ssl_context": h2_nginx.ssl_context}
                               if where == "tls_url" else dict(H2))

    async def scenario(c: Client) -> list[Any]:
        first = await c.request("GET", base + "/")
        many = await c.gather(*[c.request("GET", base + "/bytes/65536") for _ in range(16)])
        upload = await c.request("POST", base + "/post", body=b"u" * (300 * KIB))
        return [first, *many, upload]

    results = run(kind, scenario, **options)
    assert all(isinstance(r, hopwire.HTTPResponse) and r.http_version == "HTTP/2"
               for r in results), results
    assert results[0].status == 200 and all(r.content == pattern(65536) for r in results[1:17])
    assert {r.info.connection for r in results} == {1}
    assert max(r.info.streams for r in results) > 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["tls_url_limited", "h2c_url_limited"])
def test_nginx_limits_goaway_and_refused_streams(kind: str, where: str, h2_nginx: Any) -> None:
    """4 concurrent streams, GOAWAY with the 10th request of a connection: every request
    is answered once, on as many connections as that takes."""
    base = getattr(h2_nginx, where)
    options: dict[str, Any] = ({"http2": True, "ssl_context": h2_nginx.ssl_context}
                               if where.startswith("tls") else dict(H2))

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(*[c.request("GET" if i % 3 else "POST", base + "/post",
                                          body=None if i % 3 else b"p") for i in range(40)])

    results = run(kind, scenario, **options)
    assert all(isinstance(r, hopwire.HTTPResponse) and r.status == 200 for r in results), \
        [r for r in results if not isinstance(r, hopwire.HTTPResponse)]
    assert max(r.info.connection for r in results) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["tls_url", "h2c_url"])
def test_hypercorn(kind: str, where: str, h2_hypercorn: Any) -> None:
    base = getattr(h2_hypercorn, where)
    options: dict[str, Any] = ({"http2": True, "ssl_context": h2_hypercorn.ssl_context}
                               if where == "tls_url" else dict(H2))

    async def scenario(c: Client) -> list[Any]:
        info = await c.request("GET", base + "/info", headers={"Connection": "keep-alive",
                                                                "TE": "trailers", "X-A": "1"})
        echo = await c.request("POST", base + "/echo", body=pattern(1024 * KIB))
        many = await c.gather(*[c.request("GET", base + f"/slow?ms={10 * (i % 3)}")
                                for i in range(12)])
        return [info, echo, *many]

    info, echo, *many = run(kind, scenario, **options)
    assert info.http_version == "HTTP/2" and b'"http_version": "2"' in info.content.replace(b" ", b" ")
    assert b"keep-alive" not in info.content.lower()  # Connection is not sent on HTTP/2
    assert echo.content == pattern(1024 * KIB)
    assert all(isinstance(r, hopwire.HTTPResponse) and r.status == 200 for r in many), many


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_hypercorn_limits(kind: str, h2_hypercorn_limited: Any) -> None:
    """hypercorn closes after its request limit (10 here, 4 streams at once) without
    answering the streams still open, or in the middle of an answer: those of which no
    answer byte came are sent again; one cut mid-answer may have been processed and fails
    with ConnectionLost(maybe_processed=True) (RFC 9110 §9.2.2: not replayed by the pool)."""
    base = h2_hypercorn_limited.h2c_url

    async def scenario(c: Client) -> list[Any]:
        return await c.gather(*[c.request("GET", base + f"/slow?ms={5 * (i % 4)}")
                                for i in range(30)])

    results = run(kind, scenario, **H2)
    answered = [r for r in results if isinstance(r, hopwire.HTTPResponse)]
    cut = [r for r in results if not isinstance(r, hopwire.HTTPResponse)]
    assert all(r.status == 200 for r in answered)
    assert all(isinstance(r, hopwire.ConnectionLost) and r.maybe_processed for r in cut), cut
    assert len(answered) >= len(results) // 2, cut  # (only the streams open at a close are cut)


@pytest.mark.parametrize("kind", KINDS)
def test_an_idle_connection_is_checked_with_a_ping(kind: str, h2_fault_server: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle for PING_IDLE, the connection is pinged; answered, it is reused."""
    from hopwire._pool import aio_h2, sync_h2
    monkeypatch.setattr(sync_h2, "PING_IDLE", 0.2)
    monkeypatch.setattr(aio_h2, "PING_IDLE", 0.2)
    server = h2_fault_server()

    async def scenario(c: Client) -> list[Any]:
        first = await c.request("GET", server.url + "/")
        await asyncio.sleep(0.6)
        return [first, await c.request("GET", server.url + "/")]

    first, second = run(kind, scenario, **H2)
    assert first.status == second.status == 200 and second.info.reused
    assert server.pings_received >= 1 and server.connections == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_that_answers_no_ping_is_dropped(kind: str, monkeypatch: pytest.MonkeyPatch,
                                                      h2_fault_server: Any) -> None:
    """A server that stops answering (frozen, or a NAT that forgot the connection) without
    closing: the PING goes unanswered, the connection is dropped, the request goes on a new one."""
    from hopwire._pool import aio_h2, sync_h2
    for module in (aio_h2, sync_h2):
        monkeypatch.setattr(module, "PING_IDLE", 0.2)
        monkeypatch.setattr(module, "PING_TIMEOUT", 0.3)
    server = h2_fault_server()

    async def scenario(c: Client) -> list[Any]:
        first = await c.request("GET", server.url + "/")
        server.freeze()  # stops reading and writing on its open connections
        await asyncio.sleep(1.0)
        return [first, await c.request("GET", server.url + "/")]

    first, second = run(kind, scenario, **H2)
    assert first.status == second.status == 200
    assert not second.info.reused and server.connections == 2


@pytest.mark.parametrize("kind", KINDS)
def test_closing_the_pool_says_goaway(kind: str, h2_fault_server: Any) -> None:
    """GOAWAY(NO_ERROR) before the close (RFC 9113 §6.8); and a long-lived connection keeps
    no record of the streams it finished."""
    server = h2_fault_server()

    async def scenario(c: Client) -> int:
        for i in range(40):
            await c.request("GET", server.url + f"/{i}")
        (entry,) = c.pool._state.entries
        return len(entry.link.activity) + len(entry.link.session.unacked)

    assert run(kind, scenario, **H2) == 0
    for _ in range(50):
        if server.events_of("client-goaway"):
            break
        time.sleep(0.02)
    assert [detail[0] for _, detail in server.events_of("client-goaway")] == [0]




@pytest.mark.parametrize("http2", [False, True])
def test_aclose_leaves_no_tls_socket(http2: bool, h2_fault_server: Any, origin: Any,
                                     trusting: Any) -> None:
    """A TLS transport closes over several turns of the loop (close_notify): `aclose()`
    must not leave its socket open for the garbage collector once the loop is gone
    (HTTP/1.1 and HTTP/2 alike)."""
    if http2:
        server = h2_fault_server(tls=True)
        url, options = server.tls_url, {"http2": True, "ssl_context": server.ssl_context}
    else:
        url, options = origin.url, {"ssl_context": trusting}

    async def scenario(c: Client) -> list[Any]:
        results = await c.gather(*[c.request("GET", url + "/") for i in range(4)])
        assert all(isinstance(r, hopwire.HTTPResponse) for r in results), results
        sockets = [e.link.transport.get_extra_info("socket") for e in c.pool._state.entries]
        await c.close()
        return [s.fileno() for s in sockets]

    closed = run("async", scenario, **options)
    assert closed and set(closed) == {-1}


# -- the session, without I/O -------------------------------------------------------------------


def test_a_reset_streams_unread_octets_are_given_back_once() -> None:
    """A streamed answer's DATA delivered and not yet read, then RST_STREAM from the server:
    the connection gives those octets back to its window at the reset. The reader's later
    acknowledgement (or the settling of the stream) must not give them back again, even
    once the connection has forgotten the stream (after 2 × MAX_CLOSED_STREAMS closes)."""
    from hopwire._h2 import _rules as R
    from hopwire._h2 import frames, hpack
    from hopwire._pool.connection import prepare_request
    from hopwire._pool.exchange import Exchange
    from hopwire._pool.h2session import H2Session
    from hopwire._pool.models import ExchangeInfo

    session = H2Session("http")
    session.receive_into(frames.settings([]) + frames.settings_ack(), {})
    prepared = prepare_request("GET", "/", [], host="example.com")
    exchanges: dict[int, Exchange] = {}

    def start() -> Exchange:
        ex = Exchange(ExchangeInfo(1, True, 0, False))
        session.record(ex, prepared, exchanges)
        return ex

    a, b = start(), start()
    ok = hpack.Encoder().encode([(b":status", b"200")])
    half = b"x" * 15_000
    session.receive_into(frames.headers(a.rid, ok) + frames.headers(b.rid, ok), exchanges)
    for ex in (a, b):
        session.receive_into(frames.data(ex.rid, half) + frames.data(ex.rid, half), exchanges)
    session.receive_into(frames.rst_stream(a.rid, R.ErrorCode.INTERNAL_ERROR), exchanges)
    for _ in range(2 * R.MAX_CLOSED_STREAMS + 1):
        session.reset(start().rid)
    assert a.rid not in session.h2._closed  # forgotten
    session.settle(a.rid)  # its reader gave up on it
    session.consumed(b.rid, 30_000)  # the other stream's reader took its body
    assert session.h2._unconsumed == 0
