"""The pools' common-case shortcuts (a request on an idle connection without a coroutine
of its own, answers of a pipelined batch taken as they are) against the cases they hand
over to the general path: a body still being written, a 1xx before the answer, a
timeout or a cancellation while waiting, a batch whose answers are read one by one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import hopwire
from hopwire._pool import sync as _sync
from support.pool_drivers import KINDS, Client, run, trickled


def test_async_iterable_body_on_a_reused_connection(fault_server: Any) -> None:
    server = fault_server()

    async def main() -> Any:
        async with hopwire.AsyncPool() as pool:
            first = await pool.request("GET", server.url + "/first")
            second = await pool.request("PUT", server.url + "/put", body=trickled(b"a" * 10, b"b" * 20))
            third = await pool.request("GET", server.url + "/third")
            return first, second, third

    first, second, third = asyncio.run(main())
    assert first.content.startswith(b"GET /first #1.1")
    assert second.content.startswith(b"PUT /put #1.2") and second.info.reused
    assert third.content.startswith(b"GET /third #1.3") and third.info.reused
    assert server.log[1].body == b"a" * 10 + b"b" * 20


@pytest.mark.parametrize("kind", KINDS)
def test_100_continue_on_a_reused_connection(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        first = await client.request("GET", server.url + "/first")
        second = await client.request("POST", server.url + "/post", body=b"x" * 100,
                                      headers={"Expect": "100-continue"})
        third = await client.request("GET", server.url + "/third")
        return first, second, third

    _, second, third = run(kind, scenario)
    assert second.status == 200 and second.content.startswith(b"POST /post #1.2")
    assert second.info.reused and second.info.elapsed >= 0.0
    assert third.content.startswith(b"GET /third #1.3")


@pytest.mark.parametrize("kind", KINDS)
def test_read_timeout_on_a_reused_connection(kind: str, fault_server: Any) -> None:
    server = fault_server()

    async def scenario(client: Client) -> Any:
        first = await client.request("GET", server.url + "/first")
        try:
            await client.request("GET", server.url + "/delay/1000", timeout=0.2)
        except hopwire.ReadTimeout as exc:
            second: Any = exc
        else:
            second = None
        third = await client.request("GET", server.url + "/third")
        return first, second, third

    _, second, third = run(kind, scenario)
    assert isinstance(second, hopwire.ReadTimeout)
    assert third.content.startswith(b"GET /third #2.1")  # the timed-out connection was closed


def test_cancelled_on_a_reused_connection(fault_server: Any) -> None:
    server = fault_server()

    async def main() -> Any:
        async with hopwire.AsyncPool() as pool:
            await pool.request("GET", server.url + "/first")
            task = asyncio.ensure_future(pool.request("GET", server.url + "/delay/1000"))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            after = await pool.request("GET", server.url + "/after")
            return after, pool.connections

    after, connections = asyncio.run(main())
    assert after.content.startswith(b"GET /after #2.1") and not after.info.reused
    assert connections == 1


@pytest.mark.parametrize("kind", KINDS)
def test_request_all_pipelined_batches_in_order(kind: str, fault_server: Any) -> None:
    server = fault_server()
    targets = [f"/n/{i}" if i % 3 else f"/bytes/{1000 * i}" for i in range(40)]

    async def scenario(client: Client) -> Any:
        batch = [("GET", server.url + target) for target in targets]
        if kind == "sync":
            loop = asyncio.get_running_loop()
            first = await loop.run_in_executor(None, client.pool.request_all, batch)
            second = await loop.run_in_executor(None, client.pool.request_all, batch)
        else:
            first = await client.pool.request_all(batch)
            second = await client.pool.request_all(batch)
        return first + second

    results = run(kind, scenario, max_connections_per_host=1, pipeline_depth=8)
    assert len(results) == 80
    for i, response in enumerate(results):
        assert isinstance(response, hopwire.HTTPResponse), response
        target = targets[i % 40]
        if target.startswith("/bytes/"):
            assert len(response.content) == int(target.split("/")[2])
        else:
            assert response.content.startswith(f"GET {target} #1.{i + 1}".encode())
    assert any(r.info.pipelined for r in results)


class _CountingSocket:
    """A real socket whose `sendall` calls are counted."""

    def __init__(self, sock: Any, writes: list[bytes]) -> None:
        self._sock, self._writes = sock, writes

    def sendall(self, data: Any) -> None:
        self._writes.append(bytes(data))
        self._sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _CountingPool(hopwire.Pool):
    writes: list[bytes]  # what each sendall wrote; b"<connect>" where a connect began

    def _open(self, origin: Any, t: Any) -> Any:
        self.writes.append(b"<connect>")
        return _CountingSocket(super()._open(origin, t), self.writes)


def test_a_pipelined_batch_leaves_in_one_write_sync(fault_server: Any) -> None:
    server = fault_server()
    batch = [("GET", f"{server.url}/n/{i}") for i in range(8)]
    with _CountingPool(max_connections_per_host=1, pipeline_depth=8) as pool:
        pool.writes = []
        pool.request("GET", server.url + "/first")  # proves the connection persistent
        del pool.writes[:]
        results = pool.request_all(batch)
    assert [r.content.split(b" #")[0] for r in results] == [f"GET /n/{i}".encode() for i in range(8)]
    assert len(pool.writes) == 1 and pool.writes[0].count(b"GET /n/") == 8


def test_a_deferred_head_leaves_before_the_pool_connects(fault_server: Any) -> None:
    """Below the per-host cap the batch's second request gets a new connection: the
    first one's head, deferred on the idle connection, is written before that connect."""
    server = fault_server()
    with _CountingPool(max_connections_per_host=2, pipeline_depth=4) as pool:
        pool.writes = []
        pool.request("GET", server.url + "/first")
        del pool.writes[:]
        results = pool.request_all([("GET", server.url + "/a"), ("GET", server.url + "/b")])
    assert [r.content.split(b" #")[0] for r in results] == [b"GET /a", b"GET /b"]
    assert [w.split(b" HTTP")[0] for w in pool.writes] == [b"GET /a", b"<connect>", b"GET /b"]


def test_a_pipelined_batch_leaves_in_one_write_async(fault_server: Any) -> None:
    server = fault_server()
    batch = [("GET", f"{server.url}/n/{i}") for i in range(8)]
    writes: list[bytes] = []

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        connect = loop.create_connection

        async def counting(*args: Any, **kw: Any) -> Any:
            transport, protocol = await connect(*args, **kw)
            write = transport.write

            def counted(data: Any) -> None:
                writes.append(bytes(data))
                write(data)
            transport.write = counted
            return transport, protocol

        loop.create_connection = counting  # type: ignore[method-assign]
        async with hopwire.AsyncPool(max_connections_per_host=1, pipeline_depth=8) as pool:
            await pool.request("GET", server.url + "/first")
            del writes[:]
            return await pool.request_all(batch)

    results = asyncio.run(main())
    assert [r.content.split(b" #")[0] for r in results] == [f"GET /n/{i}".encode() for i in range(8)]
    assert len(writes) == 1 and writes[0].count(b"GET /n/") == 8


# -- the sync pool's quiet-reuse window (no poll right after an answer) -----------------


def _closed_after_answer(pool: hopwire.Pool, url: str) -> hopwire.Response:
    """A request the server answers, then closes without saying so; once the close arrived."""
    response = pool.request("GET", url + "/close")
    time.sleep(0.2)
    return response


@pytest.mark.parametrize("window", [0.0, 60.0])
@pytest.mark.parametrize("path", ["request", "request_all"])
def test_quiet_reuse_skips_the_poll_only_for_idempotent_requests(
        window: float, path: str, fault_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the window a GET goes out unpolled, meets the close on its read and is
    replayed on a new connection; outside it, the poll catches the close first. A POST
    is polled either way: it is never sent on the closed connection. (`request` takes
    the idle shortcut, `request_all` the general path.)"""
    monkeypatch.setattr(_sync, "QUIET_REUSE", window)
    server = fault_server()
    with hopwire.Pool() as pool:
        first = _closed_after_answer(pool, server.url)
        if path == "request":
            get = pool.request("GET", server.url + "/get")
        else:
            answer = pool.request_all([("GET", server.url + "/get")])[0]
            assert isinstance(answer, hopwire.HTTPResponse)
            get = answer
        assert get.status == 200 and get.info.connection != first.info.connection
        assert get.info.replayed is (window > 0) and not get.info.reused
        _closed_after_answer(pool, server.url)
        post = pool.request("POST", server.url + "/post", body=b"once")
        assert post.status == 200 and not post.info.replayed and not post.info.reused
    assert len(server.requests("GET", "/get")) == (2 if window > 0 else 1)
    assert len(server.requests("POST", "/post")) == 1


def test_quiet_reuse_never_follows_an_answer_to_head(fault_server: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """After a HEAD the poll always runs: bytes a server sends after its answer to HEAD
    (waitress sends the body) must drop the connection, not be read as the next answer."""
    monkeypatch.setattr(_sync, "QUIET_REUSE", 60.0)
    server = fault_server()
    with hopwire.Pool() as pool:
        head = pool.request("HEAD", server.url + "/close")
        time.sleep(0.2)
        get = pool.request("GET", server.url + "/get")
        assert head.status == get.status == 200
        assert get.info.connection != head.info.connection and not get.info.replayed
    assert len(server.requests("GET", "/get")) == 1
