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


class HasTransport(Protocol):
    transport: asyncio.Transport | None


class TCPListener:
    """A listening socket on one loop and the connections it accepted (a `Listener`).

    Subclasses say what serves a connection (`connection()`) and keep the
    set `connections` up to date from their protocol's callbacks.
    """

    url_path = ""  # what `url` ends with after the port

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.connections: set[HasTransport] = set()
        self._server: asyncio.Server | None = None
        self.host = ""
        self.port = 0

    def connection(self) -> asyncio.Protocol:
        raise NotImplementedError

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.url_path}"

    async def start(self, host: str, port: int) -> None:
        self._server = await self.loop.create_server(self.connection, host, port,
                                                     backlog=1024, reuse_address=True)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]

    async def aclose(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)  # let the transports run connection_lost


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
