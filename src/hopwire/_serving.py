"""Running an asyncio listener (the embedded server, the proxy) outside async code.

Both listeners have the same shape, `Listener`: `start(host, port)` on their
event loop, a `url`, `aclose()`. `LoopThread` runs one on a thread of its own
with its own loop, for tests and tools in the same process; `run_until_stopped`
blocks in the foreground until SIGINT or SIGTERM, for the command line.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, Protocol, TypeVar


class Listener(Protocol):
    @property
    def url(self) -> str: ...

    async def start(self, host: str, port: int) -> None: ...

    async def aclose(self) -> None: ...


L = TypeVar("L", bound=Listener)


class LoopThread(Generic[L]):
    """A listener on a thread of its own, with its own event loop; returns once it listens.

    Its loop shares the GIL with the caller: to measure a client, run the
    listener in a process of its own (`hopwire serve`, `hopwire proxy`).
    """

    def __init__(self, make: Callable[[asyncio.AbstractEventLoop], L], host: str, port: int,
                 name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.server: L = make(self._loop)
        self._thread = threading.Thread(target=self._run, args=(host, port), daemon=True, name=name)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    @property
    def url(self) -> str:
        return self.server.url

    def call(self, work: Callable[[], Awaitable[object]], timeout: float = 10.0) -> object:
        """Run a coroutine on the listener's loop and wait for its result."""
        async def wrapped() -> object:
            return await work()

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result(timeout)

    def _run(self, host: str, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start(host, port))
        except BaseException as exc:
            self._error = exc
            self._started.set()
            self._loop.close()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self.server.aclose())
            self._loop.close()

    def stop(self) -> None:
        """Stop listening, drop the connections, end the thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> LoopThread[L]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def run_until_stopped(start: Callable[[], Awaitable[L]], announce: Callable[[L], None]) -> None:
    """Start a listener, `announce` it, serve until Ctrl-C (SIGINT) or SIGTERM, close it."""

    async def main() -> None:
        server = await start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Handlers of the loop's own, for both: a process started in the background
        # by a shell inherits SIGINT ignored, and must still stop when told to.
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, stop.set)
            except (NotImplementedError, RuntimeError):  # not on this platform / thread
                pass
        announce(server)
        try:
            await stop.wait()
        finally:
            await server.aclose()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
