"""One way to drive both pools from a test: `Client`, async on the outside.

Every pool test is written once, as a coroutine over a `Client`, and runs
against `Pool` (each call in a thread of a private executor, so that
concurrent calls really are concurrent threads sharing the pool) and against
`AsyncPool` (each call a task), on asyncio's own loop ("async") and on uvloop
("uvloop": its transports and loop are classes of its own, not asyncio's).
`run(kind, scenario, **options)` starts a fresh event loop, makes the client,
runs the scenario and always closes the pool, bounded by a timeout so a hang
fails the test instead of stalling CI.

uvloop is a test extra; where it is not installed the "uvloop" cases skip,
or fail under HOPWIRE_REQUIRE_SERVERS=1 (as in CI).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

import hopwire

T = TypeVar("T")
KINDS = ("sync", "async", "uvloop")
ASYNC_KINDS = ("async", "uvloop")
SCENARIO_TIMEOUT = 60.0  # seconds: a hung pool fails the test


class Client:
    """The calls the tests make, the same for both pools."""

    kind: str
    pool: Any

    async def request(self, method: str, url: str, **kw: Any) -> hopwire.HTTPResponse:
        raise NotImplementedError

    async def stream_chunks(self, method: str, url: str, *, stop_after: int | None = None,
                            **kw: Any) -> tuple[hopwire.HTTPResponse, list[bytes]]:
        """Stream a response; read it all, or only `stop_after` chunks before closing it."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def dispose(self) -> None:
        """Free what the client holds besides the pool (after close())."""

    async def gather(self, *calls: Awaitable[T], errors: bool = True) -> list[Any]:
        """Run calls concurrently; with `errors`, exceptions are returned in their place."""
        return list(await asyncio.gather(*calls, return_exceptions=errors))


class SyncClient(Client):
    kind = "sync"

    def __init__(self, **options: Any) -> None:
        self.pool = hopwire.Pool(**options)
        self.executor = ThreadPoolExecutor(max_workers=64)

    async def _call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kw))

    async def request(self, method: str, url: str, **kw: Any) -> hopwire.HTTPResponse:
        return await self._call(self.pool.request, method, url, **kw)

    async def stream_chunks(self, method: str, url: str, *, stop_after: int | None = None,
                            **kw: Any) -> tuple[hopwire.HTTPResponse, list[bytes]]:
        def read() -> tuple[hopwire.HTTPResponse, list[bytes]]:
            chunks = []
            with self.pool.stream(method, url, **kw) as response:
                for data in response.iter_bytes():
                    chunks.append(data)
                    if stop_after is not None and len(chunks) >= stop_after:
                        break
            return response, chunks
        return await self._call(read)

    async def close(self) -> None:
        self.pool.close()

    def dispose(self) -> None:
        self.executor.shutdown(wait=True)


class AsyncClient(Client):
    kind = "async"

    def __init__(self, **options: Any) -> None:
        self.pool = hopwire.AsyncPool(**options)

    async def request(self, method: str, url: str, **kw: Any) -> hopwire.HTTPResponse:
        return await self.pool.request(method, url, **kw)

    async def stream_chunks(self, method: str, url: str, *, stop_after: int | None = None,
                            **kw: Any) -> tuple[hopwire.HTTPResponse, list[bytes]]:
        chunks = []
        async with self.pool.stream(method, url, **kw) as response:
            async for data in response.aiter_bytes():
                chunks.append(data)
                if stop_after is not None and len(chunks) >= stop_after:
                    break
        return response, chunks

    async def close(self) -> None:
        await self.pool.aclose()


def make_client(kind: str, **options: Any) -> Client:
    return SyncClient(**options) if kind == "sync" else AsyncClient(**options)


def run_on(kind: str, main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on a loop of `kind`: uvloop's for "uvloop", else asyncio's."""
    if kind != "uvloop":
        return asyncio.run(main)
    try:
        import uvloop
    except ImportError:
        main.close()
        if os.environ.get("HOPWIRE_REQUIRE_SERVERS", "") not in ("", "0"):
            pytest.fail("HOPWIRE_REQUIRE_SERVERS=1 but uvloop is not installed", pytrace=False)
        pytest.skip("uvloop is not installed (a test extra)")
    result: T = uvloop.run(main)
    return result


def run(kind: str, scenario: Callable[[Client], Awaitable[T]], **options: Any) -> T:
    """Run `scenario(client)` on a fresh loop with a pool of `kind`; always close the pool."""
    async def main() -> T:
        client = make_client(kind, **options)
        try:
            return await asyncio.wait_for(scenario(client), SCENARIO_TIMEOUT)
        finally:
            await client.close()
            client.dispose()
    return run_on(kind, main())


async def trickled(*pieces: bytes) -> AsyncIterator[bytes]:
    """An async iterable request body that yields to the loop before each piece."""
    for piece in pieces:
        await asyncio.sleep(0)
        yield piece
