"""The pools' public surface: responses, options, local errors, closing, and the
things only one of the two has (threads for Pool, cancellation for AsyncPool)."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import warnings
from typing import Any

import pytest

import hopwire
from support.pool_drivers import ASYNC_KINDS, KINDS, Client, run, run_on, trickled
from support.servers import HELLO, open_fds, pattern, wait_for


def answered_as(result: Any, method: str, target: str) -> bool:
    """Is `result` the fault server's answer to that request?"""
    return (isinstance(result, hopwire.HTTPResponse) and result.status == 200
            and result.content.startswith(f"{method} {target} #".encode()))


@pytest.mark.parametrize("kind", KINDS)
def test_response_fields(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        return await client.request(b"GET", server.url + "/status/201?q=1")

    response = run(kind, scenario)
    assert (response.status, response.reason, response.http_version) == (201, "Created", "HTTP/1.1")
    assert response.method == b"GET" and response.url.endswith("/status/201?q=1")
    assert all(name == name.lower() for name, _ in response.headers)
    assert response.header("Content-Type") == response.header(b"content-type") == b"text/plain"
    assert response.header("x-missing") is None
    assert response.content.startswith(b"GET /status/201?q=1 #")
    assert server.log[0].target == "/status/201?q=1"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "/relative", "http://", "http://user:pw@127.0.0.1/",
                                 "http://127.0.0.1:99999/", "http://127.0.0.1/ä"])
def test_bad_urls_are_local_errors(kind: str, url: str) -> None:
    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", url)
        except hopwire.HopwireError as exc:
            return exc

    assert isinstance(run(kind, scenario), hopwire.LocalProtocolError)


@pytest.mark.parametrize("kind", KINDS)
def test_header_injection_is_refused_before_anything_is_sent(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        try:
            return await client.request("GET", server.url + "/", headers={"X-A": "1\r\nX-B: 2"})
        except hopwire.HopwireError as exc:
            return exc

    assert isinstance(run(kind, scenario), hopwire.LocalProtocolError)
    assert server.connections_accepted == 0


@pytest.mark.parametrize("kind", KINDS)
def test_closed_pool_refuses_requests(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        await client.request("GET", server.url + "/")
        await client.close()
        try:
            return await client.request("GET", server.url + "/")
        except hopwire.HopwireError as exc:
            return exc

    assert isinstance(run(kind, scenario), hopwire.PoolClosed)
    assert wait_for(lambda: server.connections_open == 0)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError):
        hopwire.Pool(pipeline_depth=0)
    with pytest.raises(ValueError):
        hopwire.AsyncPool(max_connections=0)
    with pytest.raises(ValueError):
        hopwire.Pool(proxy="https://127.0.0.1:1")
    with pytest.raises(ValueError):
        hopwire.Timeout(read=0)
    with pytest.raises(TypeError):
        hopwire.Pool(timeout="5")  # type: ignore[arg-type]
    assert hopwire.Timeout(2.0, pool=None).pool is None and hopwire.Timeout(2.0).read == 2.0


def test_sync_streamed_response_is_read_once(fault_server: Any) -> None:
    server = fault_server()
    with hopwire.Pool() as pool:
        with pool.stream("GET", server.url + "/bytes/5000") as response:
            with pytest.raises(hopwire.LocalProtocolError):
                _ = response.content
            assert response.read() == pattern(5000)
            assert response.read() == pattern(5000) and response.content == pattern(5000)
            assert response.is_closed
        with pool.stream("GET", server.url + "/") as response:
            with pytest.raises(TypeError):  # a Pool's response is read with read()
                asyncio.run(response.aread())


def test_reading_a_consumed_or_closed_body_is_an_error(fault_server: Any) -> None:
    """read() / aread() after the body was iterated to its end, or the response closed
    unread, raise LocalProtocolError: never b"" for a body that was not b"" (a silent
    truncation)."""
    server = fault_server()
    with hopwire.Pool() as pool:
        with pool.stream("GET", server.url + "/bytes/300") as response:
            assert b"".join(response.iter_bytes()) == pattern(300)
            with pytest.raises(hopwire.LocalProtocolError, match="iterated or closed"):
                response.read()
        with pool.stream("GET", server.url + "/bytes/300") as response:
            pass
        with pytest.raises(hopwire.LocalProtocolError, match="iterated or closed"):
            response.read()

    async def main() -> None:
        async with hopwire.AsyncPool() as pool:
            async with pool.stream("GET", server.url + "/bytes/300") as response:
                assert b"".join([data async for data in response.aiter_bytes()]) == pattern(300)
                with pytest.raises(hopwire.LocalProtocolError, match="iterated or closed"):
                    await response.aread()
            async with pool.stream("GET", server.url + "/bytes/300") as response:
                pass
            with pytest.raises(hopwire.LocalProtocolError, match="iterated or closed"):
                await response.aread()

    asyncio.run(main())


def test_async_body_iterators_read_once_and_dropped_unread_say_nothing(fault_server: Any) -> None:
    """aiter_bytes() gives the body once; an iterator made and never iterated is just
    garbage (no "never awaited" warning, compiled or not)."""
    server = fault_server()

    async def main() -> tuple[bytes, list[bytes], list[bytes]]:
        async with hopwire.AsyncPool() as pool:
            async with pool.stream("GET", server.url + "/bytes/5000") as response:
                unread = response.aiter_bytes()
                del unread
                gc.collect()
                body = b"".join([data async for data in response.aiter_bytes()])
                again = [data async for data in response.aiter_bytes()]
            async with pool.stream("GET", server.url + "/bytes/300") as response:
                read = await response.aread()
                assert read == pattern(300)
                once = [data async for data in response.aiter_bytes()]
        return body, again, once

    unraisable: list[Any] = []  # a warning raised while an object is collected lands here
    hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            body, again, once = asyncio.run(main())
            gc.collect()
    finally:
        sys.unraisablehook = hook
    assert not unraisable, [u.exc_value for u in unraisable]
    assert body == pattern(5000) and again == [] and once == [pattern(300)]


def test_many_threads_share_one_pool(nginx: Any) -> None:
    errors: list[BaseException] = []
    counts = [0] * 16

    def worker(i: int) -> None:
        try:
            for _ in range(25):
                response = pool.request("GET", nginx.url + "/")
                assert response.content == HELLO
                counts[i] += 1
        except BaseException as exc:  # collected, reported below
            errors.append(exc)

    with hopwire.Pool(max_connections_per_host=3, pipeline_depth=4) as pool:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert pool.connections <= 3
    assert errors == [] and counts == [25] * 16


@pytest.mark.slow  # waits on a delayed answer
def test_cancelled_request_drops_its_connection(fault_server: Any) -> None:
    server = fault_server()
    before = open_fds()

    async def main() -> list[Any]:
        async with hopwire.AsyncPool(max_connections_per_host=1) as pool:
            await pool.request("GET", server.url + "/warm")
            task = asyncio.ensure_future(pool.request("GET", server.url + "/delay/2000"))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            after = await pool.request("GET", server.url + "/after")
            return [after]

    (after,) = asyncio.run(main())
    assert after.info.reused is False  # the cancelled one's connection was not handed out again
    assert after.content.startswith(b"GET /after #2.1")
    assert wait_for(lambda: server.connections_open == 0)
    if before is not None:
        assert open_fds() == before


def test_cancelled_waiter_gives_its_turn_back(fault_server: Any) -> None:
    server = fault_server()

    async def main() -> Any:
        async with hopwire.AsyncPool(max_connections=1) as pool:
            busy = asyncio.ensure_future(pool.request("GET", server.url + "/delay/300"))
            await asyncio.sleep(0.05)
            waiting = asyncio.ensure_future(pool.request("GET", server.url + "/never"))
            await asyncio.sleep(0.05)
            waiting.cancel()
            await busy
            return await asyncio.wait_for(pool.request("GET", server.url + "/next"), 5)

    response = asyncio.run(main())
    assert response.content.startswith(b"GET /next #1.2")


async def _cancel_every_other(pool: Any, url: str, how: str) -> list[Any]:
    """20 requests; every other one cancelled after 20 ms (`how`: task.cancel(), or a
    timeout of `asyncio.wait_for` / `asyncio.timeout`); the results, in order."""
    async def limited(coro: Any) -> Any:
        if how == "wait_for":
            return await asyncio.wait_for(coro, 0.02)
        async with asyncio.timeout(0.02):  # type: ignore[attr-defined]
            return await coro

    tasks = []
    for i in range(20):
        coro = pool.request("GET", f"{url}/delay/50?n={i}")
        tasks.append(asyncio.ensure_future(limited(coro) if i % 2 == 0 and how != "cancel" else coro))
    await asyncio.sleep(0.02)
    if how == "cancel":
        for task in tasks[::2]:
            task.cancel()
    return list(await asyncio.gather(*tasks, return_exceptions=True))


@pytest.mark.slow  # waits on delayed answers
@pytest.mark.parametrize("how", ["cancel", "wait_for", "timeout"])
@pytest.mark.parametrize("kind", ASYNC_KINDS)
def test_cancelling_pipelined_requests_never_fails_another(kind: str, how: str,
                                                            fault_server: Any) -> None:
    # A cancelled request's answer still comes on its pipelined connection, before
    # the answers behind it: it is read off and dropped, and its slot comes back.
    if how == "timeout" and sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout is new in Python 3.11")
    server = fault_server()

    async def main() -> tuple[list[list[Any]], Any, list[int]]:
        async with hopwire.AsyncPool(max_connections_per_host=2, pipeline_depth=4,
                                     timeout=hopwire.Timeout(5.0, pool=5.0)) as pool:
            rounds = [await _cancel_every_other(pool, server.url, how) for _ in range(3)]
            after = await pool.request("GET", server.url + "/after")
            await asyncio.sleep(0.2)  # answers of cancelled requests still being read off
            return rounds, after, [e.leases for e in pool._state.entries]

    rounds, after, leases = run_on(kind, main())
    for results in rounds:
        for i, result in enumerate(results):
            if i % 2:
                assert answered_as(result, "GET", f"/delay/50?n={i}"), (i, result)
            else:  # cancelled, timed out, or answered before its time was up
                assert isinstance(result, (asyncio.CancelledError, asyncio.TimeoutError,
                                           hopwire.HTTPResponse)), (i, result)
    assert answered_as(after, "GET", "/after")
    assert leases and all(n == 0 for n in leases)  # every slot came back
    # A connection is closed only when every caller on it gave up: at most both, each round.
    assert server.connections_accepted <= 2 + 2 * len(rounds)


@pytest.mark.slow  # slow chunks, then delayed answers
@pytest.mark.parametrize("kind", ASYNC_KINDS)
def test_a_long_cancelled_answer_closes_its_connection_and_the_rest_go_again(
        kind: str, fault_server: Any) -> None:
    # Reading off more than DRAIN_LIMIT bytes for nobody costs more than a new
    # connection: the connection is closed, and the requests behind go again.
    server = fault_server()

    async def main() -> list[Any]:
        async with hopwire.AsyncPool(max_connections_per_host=1, pipeline_depth=4) as pool:
            await pool.request("GET", server.url + "/warm")
            long = asyncio.ensure_future(pool.request("GET", server.url + "/slow-chunks/200"))
            behind = [asyncio.ensure_future(pool.request("GET", server.url + f"/b{i}"))
                      for i in range(3)]
            await asyncio.sleep(0.1)
            long.cancel()
            return list(await asyncio.gather(*behind, return_exceptions=True))

    behind = run_on(kind, main())
    for i, result in enumerate(behind):
        assert answered_as(result, "GET", f"/b{i}"), (i, result)
    assert len(server.requests("GET", "/slow-chunks/200")) == 1


@pytest.mark.parametrize("kind", ASYNC_KINDS)
def test_callers_that_all_give_up_free_their_stalled_pipeline(kind: str, fault_server: Any) -> None:
    # Nobody is left to read for: the connection is closed, not read off for ever.
    server = fault_server()

    async def main() -> tuple[Any, int]:
        async with hopwire.AsyncPool(max_connections=1, pipeline_depth=2,
                                     timeout=hopwire.Timeout(5.0, read=None, pool=2.0)) as pool:
            await pool.request("GET", server.url + "/warm")
            calls = [asyncio.wait_for(pool.request("GET", f"{server.url}/stall/20000?{i}"), 0.3)
                     for i in range(2)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(r, asyncio.TimeoutError) for r in results), results
            return await pool.request("GET", server.url + "/after"), len(pool._reading_off)

    after, reading_off = run_on(kind, main())
    assert answered_as(after, "GET", "/after") and reading_off == 0


@pytest.mark.slow  # waits on delayed answers
@pytest.mark.parametrize("kind", ASYNC_KINDS)
def test_cancelled_request_all_gives_its_connections_back(kind: str, fault_server: Any) -> None:
    server = fault_server(idle_close=0.5)

    async def main() -> list[Any]:
        async with hopwire.AsyncPool(max_connections=1, pipeline_depth=4,
                                     timeout=hopwire.Timeout(5.0, pool=2.0)) as pool:
            await pool.request("GET", server.url + "/warm")
            batch = asyncio.ensure_future(pool.request_all(
                [("GET", f"{server.url}/delay/300?{i}") for i in range(4)]))
            await asyncio.sleep(0.1)
            batch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await batch
            await asyncio.sleep(1.5)  # the answers came, and the server closed the connection
            return [await pool.request("GET", server.url + "/after"),
                    await pool.request("POST", server.url + "/after", body=b"x")]

    get, post = run_on(kind, main())
    assert answered_as(get, "GET", "/after") and answered_as(post, "POST", "/after")


@pytest.mark.slow  # waits out a backoff
@pytest.mark.parametrize("kind", KINDS)
def test_a_caller_cancelled_while_backing_off_gives_its_dial_slot_back(kind: str) -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"  # nothing listens there

    async def scenario(client: Client) -> tuple[Any, Any]:
        try:
            await asyncio.wait_for(client.request("GET", url), 0.03)
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(0.5)  # (a thread of the sync pool goes on to its end)
        dialing = client.pool._state.dialing
        return dialing, (await client.gather(client.request("GET", url)))[0]

    dialing, second = run(kind, scenario, max_connections=1, retries=3,
                          timeout=hopwire.Timeout(1.0, pool=0.5))
    assert dialing == 0
    assert isinstance(second, hopwire.ConnectError), second  # not a PoolTimeout


def test_async_iterable_body(aiohttp_server: Any) -> None:
    import hashlib

    async def main() -> Any:
        async with hopwire.AsyncPool() as pool:
            return await pool.request("PUT", aiohttp_server.url + "/post",
                                      body=trickled(b"a" * 10, b"b" * 100000))

    response = asyncio.run(main())
    assert hashlib.sha256(b"a" * 10 + b"b" * 100000).hexdigest().encode() in response.content


def test_slow_reader_pauses_the_transport(nginx: Any) -> None:
    async def main() -> tuple[int, bool]:
        async with hopwire.AsyncPool() as pool:
            async with pool.stream("GET", nginx.url + "/bytes/10485760") as response:
                seen = 0
                paused = False
                async for data in response.aiter_bytes():
                    if seen == 0:
                        await asyncio.sleep(0.3)  # let the socket fill while nobody reads
                        link = response._stream.link  # type: ignore[union-attr]
                        paused = link.reading_paused
                    seen += len(data)
                return seen, paused

    seen, paused = asyncio.run(main())
    assert seen == 10485760 and paused


def test_request_all_pipelines_from_one_thread(nginx: Any) -> None:
    with hopwire.Pool(max_connections_per_host=1, pipeline_depth=16) as pool:
        pool.request("GET", nginx.url + "/")
        answers = pool.request_all([("GET", nginx.url + "/")] * 40
                                   + [("POST", nginx.url + "/post", None, b"x"),
                                      ("GET", nginx.url + "/bytes/65536")])
    assert [a.content for a in answers[:40]] == [HELLO] * 40  # type: ignore[union-attr]
    assert answers[40].content == b"posted" and answers[41].content == pattern(65536)  # type: ignore[union-attr]
    assert max(a.info.pipelined for a in answers) == 15  # type: ignore[union-attr]
    assert len({a.info.connection for a in answers}) == 1  # type: ignore[union-attr]


def test_request_all_survives_closes_mid_pipeline(fault_server: Any) -> None:
    server = fault_server(close_after=5)
    paths = [f"/r{i}" for i in range(30)]
    with hopwire.Pool(max_connections_per_host=2, pipeline_depth=8) as pool:
        pool.request("GET", server.url + "/warm")
        answers = pool.request_all([("GET", server.url + p) for p in paths]
                                   + [("GET", "ftp://nowhere/")])
    for path, answer in zip(paths, answers):
        assert isinstance(answer, hopwire.HTTPResponse), (path, answer)
        assert answer.content.startswith(f"GET {path} #".encode())
        assert len(server.requests("GET", path, answered=True)) == 1
    assert isinstance(answers[-1], hopwire.LocalProtocolError)


def test_async_request_all_pipelines_from_one_coroutine(nginx: Any) -> None:
    async def main() -> list[Any]:
        async with hopwire.AsyncPool(max_connections_per_host=1, pipeline_depth=16) as pool:
            await pool.request("GET", nginx.url + "/")
            return await pool.request_all([("GET", nginx.url + "/")] * 40
                                          + [("POST", nginx.url + "/post", None, b"x")])

    answers = asyncio.run(main())
    assert [a.content for a in answers[:40]] == [HELLO] * 40
    assert answers[40].content == b"posted"
    assert max(a.info.pipelined for a in answers) == 15
    assert len({a.info.connection for a in answers}) == 1


def test_async_request_all_survives_closes_mid_pipeline(fault_server: Any) -> None:
    server = fault_server(close_after=5)
    paths = [f"/r{i}" for i in range(30)]

    async def main() -> list[Any]:
        async with hopwire.AsyncPool(max_connections_per_host=2, pipeline_depth=8) as pool:
            await pool.request("GET", server.url + "/warm")
            return await pool.request_all([("GET", server.url + p) for p in paths]
                                          + [("GET", "ftp://nowhere/")])

    answers = asyncio.run(main())
    for path, answer in zip(paths, answers):
        assert isinstance(answer, hopwire.HTTPResponse), (path, answer)
        assert answer.content.startswith(f"GET {path} #".encode())
        assert len(server.requests("GET", path, answered=True)) == 1
    assert isinstance(answers[-1], hopwire.LocalProtocolError)


@pytest.mark.slow  # waits on delayed answers
@pytest.mark.parametrize("kind", KINDS)
def test_closing_the_pool_fails_requests_in_flight_and_waiting(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> list[Any]:
        calls = [client.request("GET", server.url + "/delay/1500") for _ in range(3)]
        closing = asyncio.ensure_future(_close_soon(client))
        results = await client.gather(*calls)
        await closing
        return results

    async def _close_soon(client: Client) -> None:
        await asyncio.sleep(0.3)
        await client.close()

    results = run(kind, scenario, max_connections=2)  # two in flight, one waiting
    assert all(isinstance(r, hopwire.TransportError) or isinstance(r, hopwire.PoolClosed)
               for r in results), results
    assert wait_for(lambda: server.connections_open == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_a_sized_body_is_sent_with_content_length(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        return await client.request("POST", server.url + "/up",
                                    body=hopwire.SizedBody(7, iter([b"abc", b"defg"])))

    assert run(kind, scenario).status == 200
    [record] = server.log
    assert ("Content-Length", "7") in record.headers and record.body == b"abcdefg"
    assert all(name.lower() != "transfer-encoding" for name, _ in record.headers)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pieces", [[b"abc"], [b"abc", b"defgh"]], ids=["short", "long"])
def test_a_sized_body_of_the_wrong_length_is_refused(kind: str, pieces: list[bytes],
                                                    fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> list[Any]:
        try:
            await client.request("POST", server.url + "/up", body=hopwire.SizedBody(7, iter(pieces)))
        except hopwire.HopwireError as exc:
            failed: Any = exc
        after = await client.request("GET", server.url + "/after")
        return [failed, after]

    failed, after = run(kind, scenario)
    assert isinstance(failed, (hopwire.LocalProtocolError, hopwire.WriteError)), failed
    assert after.content.startswith(b"GET /after #2.1")  # not on the half-written connection
    assert server.requests("POST", "/up", answered=True) == []


def test_a_sized_body_checks_its_length() -> None:
    with pytest.raises(hopwire.LocalProtocolError):
        hopwire.SizedBody(-1, [])
    with pytest.raises(TypeError):
        hopwire.SizedBody(3, b"abc")  # type: ignore[arg-type]


class _Broken(Exception):
    pass


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_that_fails_midway_closes_the_connection(kind: str, fault_server: Any) -> None:
    server = fault_server()

    def pieces() -> Any:
        yield b"first part"
        raise _Broken("the caller's body failed")

    async def scenario(client: Client) -> list[Any]:
        await client.request("GET", server.url + "/warm")
        try:
            await client.request("POST", server.url + "/up", body=pieces())
        except _Broken as exc:
            failed: Any = exc
        after = await client.request("GET", server.url + "/after")
        return [failed, after]

    failed, after = run(kind, scenario)
    assert isinstance(failed, _Broken)  # the caller's own error, untouched
    assert after.content.startswith(b"GET /after #2.1")  # a new connection, not the half-written one
    assert server.requests("POST", "/up", answered=True) == []


def test_prepared_heads_are_cached_by_fields_and_framing() -> None:
    from hopwire._pool.models import prepare, split_url

    where = split_url("http://127.0.0.1:8080/x")
    first = prepare("GET", where, [(b"Via", b"1.1 p"), (b"X-A", b"1")], None, None)
    assert prepare("GET", where, [(b"Via", b"1.1 p"), (b"X-A", b"1")], None, None) is first
    other = prepare("GET", where, [(b"Via", b"1.1 p"), (b"X-A", b"2")], None, None)
    assert other is not first and b"X-A: 2" in other.head
    sized = prepare("POST", where, {"X-A": "1"}, hopwire.SizedBody(3, [b"abc"]), None)
    assert b"Content-Length: 3" in sized.head
    assert prepare("POST", where, {"X-A": "1"}, b"abcd", None).head.endswith(b"Content-Length: 4\r\n\r\n")
    unhashable = prepare("GET", where, [[b"X-A", bytearray(b"1")]], None, None)  # type: ignore[list-item]
    assert b"X-A: 1" in unhashable.head
    with pytest.raises(hopwire.LocalProtocolError):  # refused, and not cached as anything
        prepare("GET", where, [(b"X-A", b"1\r\nX-B: 2")], None, None)


@pytest.mark.parametrize("seconds, expected", [
    (None, (0, 0)), (0.0, (0, 1)), (1e-9, (0, 1)), (0.25, (0, 250_000)), (3.0, (3, 0)),
    (1.9999995, (2, 0)), (1.9999994, (1, 999_999))])
def test_kernel_timeouts_are_valid_timevals(seconds: float | None, expected: tuple[int, int]) -> None:
    """`Pool`'s kernel timeouts. A remaining time such as 1.9999995 s (HTTP/2 read deadlines
    are computed) once made a timeval of 1 s and 1,000,000 µs, which setsockopt refuses (EDOM)."""
    import struct

    from hopwire._pool.sync import timeval
    if sys.platform == "win32":
        pytest.skip("a DWORD of milliseconds on Windows")
    assert struct.unpack("ll", timeval(seconds)) == expected


def test_a_shrinking_read_deadline_keeps_the_kernel_timeout() -> None:
    """An HTTP/2 stream's read timeout counts from its last event, so each read asks a
    slightly shorter time: the kernel's timeout is set again only when it would end more
    than READ_SLACK late, or before half of the time asked (each change is a system
    call). A timeout that ends early is safe: the caller checks its deadline and reads
    again."""
    import socket
    import struct

    from hopwire._pool.connection import Connection
    from hopwire._pool.sync import READ_SLACK, SyncLink

    a, b = socket.socketpair()
    try:
        link = SyncLink(a, Connection(), 1, False)
        if not link.os_timeouts or sys.platform == "win32":
            pytest.skip("no struct timeval here")
        calls: list[Any] = []
        link.sock = _CountingSocket(a, calls)
        asked = [5.0, 5.0 - 1e-5, 5.0 - READ_SLACK / 2, 5.0 - 2 * READ_SLACK, 2.4, 4.0, 5.0,
                 READ_SLACK / 2, 0.0, None, None]
        for left in asked:
            link._bound_read(left)
        # Kept while it ends at most READ_SLACK late (5.0 for 4.99999 and 4.9995), and
        # while it is at least half of the time asked (2.4 for 4.0); never for a probe (0.0).
        set_to = [struct.unpack("ll", value) for _, _, value in calls]
        assert set_to == [(5, 0), (4, 998_000), (2, 400_000), (5, 0), (0, 500), (0, 1), (0, 0)]
        assert link.read_timeout is None
    finally:
        a.close()
        b.close()


class _CountingSocket:
    def __init__(self, sock: Any, calls: list[Any]) -> None:
        self.sock, self.calls = sock, calls

    def setsockopt(self, *args: Any) -> None:
        self.calls.append(args)
        self.sock.setsockopt(*args)
