"""Both pools against the fault server: every request answered exactly once, in
order, or a typed error; no non-idempotent request twice on the wire; no
socket left open.

The fault server answers each request with "{method} {target} #{conn}.{n}",
so a test can tell which request got which answer and on which connection.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

import hopwire
from support.pool_drivers import KINDS, Client, run
from support.servers import open_fds, pattern, wait_for

pytestmark = pytest.mark.parametrize("kind", KINDS)


def answered(body: bytes, method: str, target: str) -> bool:
    return body.startswith(f"{method} {target} #".encode())


def targets(n: int, prefix: str = "/r") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


async def fetch_all(client: Client, url: str, paths: list[str], method: str = "GET",
                    **kw: Any) -> list[Any]:
    return await client.gather(*[client.request(method, url + path, **kw) for path in paths])


def assert_each_answered(results: list[Any], paths: list[str], method: str = "GET") -> None:
    for path, result in zip(paths, results):
        assert not isinstance(result, BaseException), f"{path}: {result!r}"
        assert result.status == 200 and answered(result.content, method, path), (path, result.content)


# -- persistence ----------------------------------------------------------------------

def test_sequential_requests_reuse_one_connection(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", server.url + p) for p in targets(5)]

    responses = run(kind, scenario)
    assert_each_answered(responses, targets(5))
    assert [r.info.reused for r in responses] == [False, True, True, True, True]
    assert server.connections_accepted == 1


def test_connection_close_ends_reuse(kind: str, fault_server: Any) -> None:
    server = fault_server(connection_close=True)

    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", server.url + p) for p in targets(4)]

    responses = run(kind, scenario)
    assert_each_answered(responses, targets(4))
    assert not any(r.info.reused for r in responses)
    assert server.connections_accepted == 4
    assert set(server.requests_per_connection().values()) == {1}


def test_keep_alive_max_caps_requests_per_connection(kind: str, fault_server: Any) -> None:
    server = fault_server(keep_alive_header="timeout=5, max=3")

    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", server.url + p) for p in targets(7)]

    responses = run(kind, scenario)
    assert_each_answered(responses, targets(7))
    assert not any(r.info.replayed for r in responses)  # never sent a 4th request to be refused
    assert max(server.requests_per_connection().values()) <= 3
    assert server.connections_accepted == 3


@pytest.mark.slow  # waits out a keep-alive timeout
def test_keep_alive_timeout_expires_idle_connection_before_the_server(kind: str, fault_server: Any) -> None:
    # timeout=1: hopwire keeps the connection at most 0.5 s (the margin is half of a short timeout).
    server = fault_server(keep_alive_header="timeout=1, max=100")

    async def scenario(client: Client) -> list[Any]:
        first = await client.request("GET", server.url + "/a")
        await asyncio.sleep(0.7)
        second = await client.request("GET", server.url + "/b")
        return [first, second]

    first, second = run(kind, scenario)
    assert_each_answered([first, second], ["/a", "/b"])
    assert second.info.reused is False and second.info.replayed is False
    assert server.connections_accepted == 2


@pytest.mark.slow  # waits for an idle close
def test_idle_connection_closed_by_server_is_not_used(kind: str, fault_server: Any) -> None:
    server = fault_server(idle_close=0.2)

    async def scenario(client: Client) -> list[Any]:
        first = await client.request("GET", server.url + "/a")
        await asyncio.sleep(0.5)
        second = await client.request("POST", server.url + "/b", body=b"once")
        return [first, second]

    first, second = run(kind, scenario)
    assert answered(first.content, "GET", "/a") and answered(second.content, "POST", "/b")
    assert second.info.reused is False
    assert len(server.requests("POST")) == 1


@pytest.mark.slow  # waits for idle closes
def test_every_idle_close_gives_its_connection_slot_back(kind: str, fault_server: Any) -> None:
    # Servers close idle connections on their own clock all day long (gunicorn after
    # 2 s, uvicorn 5 s, nginx 75 s). With one connection allowed, a slot stranded by
    # any of these closes shows as a PoolTimeout on the next request.
    server = fault_server(idle_close=0.25)

    async def scenario(client: Client) -> list[Any]:
        answers = []
        for i in range(3):
            answers.append(await client.request("GET", server.url + f"/r{i}"))
            await asyncio.sleep(0.6)
        return answers

    answers = run(kind, scenario, max_connections_per_host=1, timeout=hopwire.Timeout(5.0, pool=1.0))
    assert [answered(a.content, "GET", f"/r{i}") for i, a in enumerate(answers)] == [True] * 3
    assert [a.info.reused for a in answers] == [False] * 3
    assert server.connections_accepted == 3


@pytest.mark.slow  # waits for idle closes
def test_idle_connections_closed_by_the_server_leave_the_pool(kind: str, fault_server: Any) -> None:
    server = fault_server(idle_close=0.25)

    async def scenario(client: Client) -> tuple[int, int]:
        await client.gather(*[client.request("GET", server.url + f"/d{i}") for i in range(3)])
        before = client.pool.connections
        await asyncio.sleep(0.6)
        await client.request("GET", server.url + "/after")
        return before, client.pool.connections

    before, after = run(kind, scenario, max_connections_per_host=3)
    assert before >= 1 and after == 1


# 0.02 s late, the stray bytes cost each of the 25 rounds a wait.
@pytest.mark.parametrize("delay", [0.0, pytest.param(0.02, marks=pytest.mark.slow)])
def test_stray_body_after_a_head_answer_is_never_an_answer(kind: str, fault_server: Any,
                                                            delay: float) -> None:
    # waitress and cheroot write the body after their answer to HEAD; whether those
    # bytes are there before the next request leaves is a race (delay=0.02 makes them
    # come after it). The GET that meets them has not been answered: it goes again.
    server = fault_server(head_body=delay)
    rounds = 25

    async def scenario(client: Client) -> list[tuple[Any, Any]]:
        pairs = []
        for i in range(rounds):
            head = await client.request("HEAD", server.url + f"/h{i}")
            get = await client.request("GET", server.url + f"/g{i}")
            pairs.append((head, get))
        return pairs

    pairs = run(kind, scenario, max_connections_per_host=1, timeout=hopwire.Timeout(5.0, pool=2.0))
    for i, (head, get) in enumerate(pairs):
        assert head.status == 200 and head.content == b""
        assert answered(get.content, "GET", f"/g{i}"), (i, get.content)
        # The stray bytes come before any answer on the HEAD's connection: a GET was
        # either sent there and met them (then sent again), or went on a new one.
        assert get.info.replayed or not get.info.reused, (i, get.info)
    assert len(server.requests("GET")) <= 2 * rounds


def test_stray_bytes_before_a_post_answer_are_an_error_not_a_replay(kind: str,
                                                                     fault_server: Any) -> None:
    server = fault_server(head_body=0.02)

    async def scenario(client: Client) -> Any:
        await client.request("HEAD", server.url + "/h")
        return (await client.gather(client.request("POST", server.url + "/p", body=b"once")))[0]

    result = run(kind, scenario, max_connections_per_host=1)
    # Sent on the HEAD's connection, the POST meets the stray bytes and fails (it may
    # have been processed); only if they came before it left does it go on a new one.
    if not isinstance(result, hopwire.RemoteProtocolError):
        assert answered(result.content, "POST", "/p") and not result.info.reused, result
    # Never twice (once, or not even once where the close reset the server's read).
    assert len(server.requests("POST")) <= 1


def test_http10_closes_unless_keep_alive_is_asked(kind: str, fault_server: Any) -> None:
    server = fault_server(http10=True)

    async def scenario(client: Client) -> list[Any]:
        plain = [await client.request("GET", server.url + p) for p in ("/a", "/b")]
        kept = [await client.request("GET", server.url + p, headers={"Connection": "keep-alive"})
                for p in ("/c", "/d", "/e")]
        return plain + kept

    responses = run(kind, scenario)
    assert_each_answered(responses, ["/a", "/b", "/c", "/d", "/e"])
    assert all(r.http_version == "HTTP/1.0" for r in responses)
    assert [r.info.reused for r in responses] == [False, False, False, True, True]
    assert server.connections_accepted == 3


# -- pipelining -------------------------------------------------------------------------

def test_pipelined_requests_share_one_connection(kind: str, fault_server: Any) -> None:
    server = fault_server()
    paths = targets(24)

    async def scenario(client: Client) -> list[Any]:
        await client.request("GET", server.url + "/warm")  # proves the connection persistent
        return await fetch_all(client, server.url, paths)

    results = run(kind, scenario, max_connections_per_host=1, pipeline_depth=8)
    assert_each_answered(results, paths)
    assert server.connections_accepted == 1
    assert max(r.info.pipelined for r in results) >= 1
    assert max(r.info.pipelined for r in results) <= 7


@pytest.mark.parametrize("fault", [{"close_after": 3}, {"reset_after": 3}])
def test_server_closing_mid_pipeline_gets_every_request_answered_once(
        kind: str, fault_server: Any, fault: dict[str, int]) -> None:
    server = fault_server(**fault)
    paths = targets(20)

    async def scenario(client: Client) -> list[Any]:
        await client.request("GET", server.url + "/warm")
        return await fetch_all(client, server.url, paths)

    results = run(kind, scenario, max_connections_per_host=1, pipeline_depth=6)
    assert_each_answered(results, paths)
    if "close_after" in fault:
        # A close delivers what was sent before it: each request answered once
        # on the wire, its other copies dropped unanswered by the server.
        for path in paths:
            assert len(server.requests("GET", path, answered=True)) == 1
    # (A reset may destroy answers already sent but not yet read: those
    # requests were replayed, and the server answered them twice.)
    assert any(r.info.replayed for r in results)


def test_origin_that_keeps_failing_is_no_longer_pipelined(kind: str, fault_server: Any) -> None:
    server = fault_server(close_after=2)
    paths = targets(40)  # enough to be cut off mid-pipeline more than once, whatever the timing

    async def scenario(client: Client) -> tuple[list[Any], bool]:
        await client.request("GET", server.url + "/warm")
        results = await fetch_all(client, server.url, paths)
        origin = hopwire._pool.state.Origin("http", "127.0.0.1", server.port)
        return results, client.pool._state.pipelining_enabled(origin)

    results, still_pipelining = run(kind, scenario, max_connections_per_host=1, pipeline_depth=4)
    assert_each_answered(results, paths)
    assert still_pipelining is False


def test_post_waits_for_the_pipeline_and_is_never_pipelined(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> list[Any]:
        await client.request("GET", server.url + "/warm")
        calls = [client.request("GET", server.url + "/g1"),
                 client.request("POST", server.url + "/p", body=b"x"),
                 client.request("GET", server.url + "/g2")]
        return await client.gather(*calls)

    results = run(kind, scenario, max_connections_per_host=1, pipeline_depth=8)
    assert_each_answered([results[0], results[2]], ["/g1", "/g2"])
    assert answered(results[1].content, "POST", "/p")
    assert results[1].info.pipelined == 0


# -- replay -----------------------------------------------------------------------------

def test_idempotent_request_replayed_once_on_a_reused_connection(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        await client.request("GET", server.url + "/warm")
        server.set(close_after=0)  # from now on: every request read, then the connection closed
        try:
            return await client.request("GET", server.url + "/x")
        except hopwire.HopwireError as exc:
            return exc

    result = run(kind, scenario)
    assert isinstance(result, hopwire.ConnectionLost) and not result.maybe_processed
    assert len(server.requests("GET", "/x")) == 2  # the request and one replay, never a retry of it


def test_non_idempotent_request_is_not_replayed(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        await client.request("GET", server.url + "/warm")
        server.set(close_after=0)
        try:
            return await client.request("POST", server.url + "/x", body=b"pay once")
        except hopwire.HopwireError as exc:
            return exc

    result = run(kind, scenario)
    assert isinstance(result, hopwire.ConnectionLost) and result.maybe_processed
    assert len(server.requests("POST", "/x")) == 1


def test_non_idempotent_replay_is_an_opt_in(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        await client.request("GET", server.url + "/warm")
        server.set(close_after=0)
        try:
            return await client.request("POST", server.url + "/x", body=b"again")
        except hopwire.HopwireError as exc:
            return exc

    result = run(kind, scenario, replay_unsafe=True)
    assert isinstance(result, hopwire.ConnectionLost)
    assert len(server.requests("POST", "/x")) == 2


def test_fresh_connection_closed_without_answer_is_not_replayed(kind: str, fault_server: Any) -> None:
    server = fault_server(close_after=0)

    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", server.url + "/x")
        except hopwire.HopwireError as exc:
            return exc

    result = run(kind, scenario)
    assert isinstance(result, hopwire.ConnectionLost) and not result.maybe_processed
    assert len(server.requests("GET", "/x")) == 1


# -- errors -------------------------------------------------------------------------------

def test_stalled_answer_is_a_read_timeout_and_the_connection_is_dropped(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> list[Any]:
        await client.request("GET", server.url + "/warm")
        try:
            await client.request("GET", server.url + "/stall/2000", timeout=0.3)
        except hopwire.ReadTimeout as exc:
            error = exc
        after = await client.request("GET", server.url + "/after")
        return [error, after]

    error, after = run(kind, scenario)
    assert isinstance(error, hopwire.ReadTimeout) and isinstance(error, TimeoutError)
    assert answered(after.content, "GET", "/after") and after.info.reused is False


def test_stall_in_the_body_is_a_read_timeout(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", server.url + "/stall-body/2000", timeout=0.3)
        except hopwire.HopwireError as exc:
            return exc

    assert isinstance(run(kind, scenario), hopwire.ReadTimeout)


def test_garbage_is_a_remote_protocol_error(kind: str, fault_server: Any) -> None:
    server = fault_server(garbage=True)

    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", server.url + "/x")
        except hopwire.HopwireError as exc:
            return exc

    error = run(kind, scenario)
    assert type(error) is hopwire.RemoteProtocolError
    assert isinstance(error.parse_error, hopwire.ParseError)


def test_truncated_body_is_an_error_not_a_short_body(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", server.url + "/truncate")
        except hopwire.HopwireError as exc:
            return exc

    assert isinstance(run(kind, scenario), hopwire.RemoteProtocolError)


@pytest.mark.slow  # waits out a pool timeout
def test_pool_timeout_when_every_connection_is_busy(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> list[Any]:
        slow = client.request("GET", server.url + "/delay/800")
        waiting = client.request("GET", server.url + "/x",
                                 timeout=hopwire.Timeout(5.0, pool=0.2))
        return await client.gather(slow, waiting)

    slow, waiting = run(kind, scenario, max_connections=1)
    assert answered(slow.content, "GET", "/delay/800")
    assert isinstance(waiting, hopwire.PoolTimeout)


def test_waiters_are_served_in_order_when_a_connection_frees(kind: str, fault_server: Any) -> None:
    server = fault_server()
    paths = targets(10)

    async def scenario(client: Client) -> list[Any]:
        return await fetch_all(client, server.url, paths)

    results = run(kind, scenario, max_connections=2)
    assert_each_answered(results, paths)
    assert server.connections_accepted == 2


def test_connect_refused_is_a_connect_error_after_the_retries(kind: str, fault_server: Any) -> None:
    server = fault_server()
    url = server.url + "/x"
    server.stop()

    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", url)
        except hopwire.HopwireError as exc:
            return exc

    error = run(kind, scenario, retries=2)
    assert isinstance(error, hopwire.ConnectError) and isinstance(error, OSError)


def test_streamed_body_closed_early_drains_or_drops_the_connection(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> list[Any]:
        small, _ = await client.stream_chunks("GET", server.url + "/chunked/8", stop_after=1)
        after_small = await client.request("GET", server.url + "/a")
        big, _ = await client.stream_chunks("GET", server.url + "/bytes/4000000", stop_after=1)
        after_big = await client.request("GET", server.url + "/b")
        return [small, after_small, big, after_big]

    small, after_small, big, after_big = run(kind, scenario)
    assert after_small.info.reused is True  # 8 KiB left: read off, connection kept
    assert answered(after_big.content, "GET", "/b")
    assert server.connections_accepted == 2  # 4 MB left: closed, not read


def test_streamed_chunks_arrive_as_sent(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> tuple[Any, list[bytes]]:
        return await client.stream_chunks("GET", server.url + "/slow-chunks/5")

    response, chunks = run(kind, scenario)
    assert b"".join(chunks) == pattern(5 * 1024)
    assert len(chunks) >= 2  # delivered as they came, not buffered to the end


@pytest.mark.slow  # waits out stalls and timeouts
def test_no_socket_left_open(kind: str, fault_server: Any) -> None:
    server = fault_server()
    before = open_fds()

    async def scenario(client: Client) -> None:
        await fetch_all(client, server.url, targets(6))
        await client.gather(client.request("GET", server.url + "/garbage"),
                            client.request("GET", server.url + "/truncate"),
                            client.request("GET", server.url + "/stall/1000", timeout=0.2),
                            client.request("GET", server.url + "/close"))

    run(kind, scenario, max_connections_per_host=4, pipeline_depth=4)
    # The server's ends live in this process too: they close a moment later.
    assert wait_for(lambda: server.connections_open == 0)
    if before is not None:
        assert open_fds() == before


@pytest.mark.slow  # waits out a write timeout
def test_server_that_does_not_read_is_a_write_timeout(kind: str) -> None:
    # The kernel accepts connections into the backlog of a socket that nobody
    # accepts from, and stops reading once its buffers are full.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/upload"

        async def scenario(client: Client) -> Any:
            try:
                return await client.request("POST", url, body=b"x" * (64 << 20),
                                            timeout=hopwire.Timeout(5.0, write=0.3))
            except hopwire.HopwireError as exc:
                return exc

        error = run(kind, scenario)
    assert isinstance(error, hopwire.WriteTimeout) and isinstance(error, TimeoutError)
