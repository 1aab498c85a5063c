"""aiohttp as a test peer: an asyncio server that streams chunked responses.

Why: aiohttp's server is the asyncio peer the benchmarks compare against, and it is a
quick way to get a server that writes a chunked body piece by piece, answers slowly on
request, and reads chunked request bodies.

How: the app runs on its own event loop in its own thread, so sync tests can use it;
`stop()` runs the runner's cleanup on that loop (closing keep-alive connections),
stops the loop, joins the thread and closes the loop.

Routes:

- ``/``: ``Hello, world!`` (13 bytes);
- ``/bytes/N``: ``pattern(N)`` with a Content-Length;
- ``/chunked/N``: ``pattern(N * 1024)`` written as N writes of 1 KiB through a
  StreamResponse, ``Transfer-Encoding: chunked``;
- ``/post`` (POST or PUT): the body, Content-Length or chunked, is read as a stream and
  answered with ``"<length> <sha256 hex>"`` (see `stdlib.digest_text`);
- ``/delay/MS``: waits MS milliseconds, then answers ``delayed MS ms``.

aiohttp is optional: without it, `start_aiohttp_server()` raises `AiohttpUnavailable`
(an ImportError) whose message says why, for the fixture to skip on.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from types import TracebackType

from .stdlib import HELLO, pattern

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - depends on the environment
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0
SHUTDOWN_TIMEOUT = 1.0  # seconds in-flight handlers get at stop() before their connection closes
CHUNK = 1024


class AiohttpUnavailable(ImportError):
    """aiohttp cannot be imported, so the aiohttp test server cannot run."""


async def _hello(request: web.Request) -> web.Response:
    return web.Response(body=HELLO, content_type="text/plain")


async def _bytes(request: web.Request) -> web.Response:
    return web.Response(body=pattern(int(request.match_info["n"])),
                        content_type="application/octet-stream")


async def _chunked(request: web.Request) -> web.StreamResponse:
    body = pattern(int(request.match_info["n"]) * CHUNK)
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for start in range(0, len(body), CHUNK):
        await response.write(body[start:start + CHUNK])
    await response.write_eof()
    return response


async def _post(request: web.Request) -> web.Response:
    # Streamed, so that large uploads are not capped by client_max_size.
    digest, length = hashlib.sha256(), 0
    async for piece in request.content.iter_chunked(65536):
        digest.update(piece)
        length += len(piece)
    return web.Response(text=f"{length} {digest.hexdigest()}")


async def _delay(request: web.Request) -> web.Response:
    ms = int(request.match_info["ms"])
    await asyncio.sleep(ms / 1000)
    return web.Response(text=f"delayed {ms} ms")


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", _hello)
    app.router.add_get(r"/bytes/{n:\d+}", _bytes)
    app.router.add_get(r"/chunked/{n:\d+}", _chunked)
    app.router.add_post("/post", _post)
    app.router.add_put("/post", _post)
    app.router.add_get(r"/delay/{ms:\d+}", _delay)
    return app


class AiohttpServer:
    """A running aiohttp app on 127.0.0.1 in a thread of its own."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True, name="aiohttp-server")
        self._runner: web.AppRunner | None = None
        self._thread.start()
        try:
            self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread.name = f"aiohttp-server-{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    async def _start(self) -> int:
        self._runner = web.AppRunner(_app(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return int(self._runner.addresses[0][1])

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Close the server and its connections, stop the loop and join the thread (idempotent)."""
        if self._loop.is_closed() or not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._cleanup(), self._loop).result(STOP_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError("the aiohttp server thread did not stop")

    def __enter__(self) -> AiohttpServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<AiohttpServer {getattr(self, 'url', '(starting)')}>"


def start_aiohttp_server() -> AiohttpServer:
    """Start the aiohttp test app; raise AiohttpUnavailable if aiohttp is not installed."""
    if _IMPORT_ERROR is not None:
        raise AiohttpUnavailable(f"aiohttp is not installed ({_IMPORT_ERROR}); pip install aiohttp")
    return AiohttpServer()
