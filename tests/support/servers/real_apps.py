"""The apps the real servers of `real.py` serve, one per interface, written once.

This module runs inside each server's own process (imported by gunicorn, uvicorn,
hypercorn as ``real_apps:wsgi_app`` / ``real_apps:asgi_app``, or run as
``python real_apps.py SERVER PORT`` for the servers started from a script). It imports
nothing from the test suite, and each server's package only in its own launcher, so any
server can run without the others installed.

Every app answers the same routes (`real.py` states them for the tests):

- ``/`` (GET, HEAD): ``hello`` with a Content-Length, for HEAD too;
- ``/bytes/N``: `pattern(N)` with a Content-Length;
- ``/chunked``: `CHUNKS` written one by one with no length, so the server chooses the
  framing (chunked on HTTP/1.1 where it does it, close-delimited otherwise);
- ``/seq/...``: the request's path and query as the body (order checks under pipelining);
- ``/echo`` (POST): the request body, Content-Length or chunked, sent back with a length;
- ``/status/204``, ``/status/304``: that status, no body;
- anything else: 404.

The ASGI app (uvicorn, hypercorn) answers two routes more, for the HTTP/2 tests
(hypercorn_h2.py):

- ``/slow?ms=N``: ``slow N`` after N milliseconds (at most `SLOW_MAX_MS`), without holding
  up other requests (over HTTP/2: other streams of the connection);
- ``/info``: JSON of what the server handed the app: ``http_version`` ("1.1", "2"),
  ``method``, ``path``, ``scheme`` and ``headers`` (a list of [name, value], latin-1).

The WSGI app answers HEAD like many WSGI apps do, with the body: a WSGI server is the one
that must not send it (gunicorn drops it; waitress and cheroot write it: REAL-SERVERS.md).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

HELLO = b"hello"
# Eight pieces of differing sizes: a piece merged, lost or repeated changes the whole.
CHUNKS = tuple(f"chunk {i}:".encode() + b"." * (i * 97 % 1000) + b"\n" for i in range(8))
SLOW_MAX_MS = 10000  # /slow waits no longer than this
IDLE_TIMEOUT = 1  # seconds: the keep-alive timeout of every server that has one

# A prime period, as tests/support/servers/stdlib.py: a byte lost at a buffer edge shifts all after it.
_PERIOD = bytes(range(251))


def pattern(n: int) -> bytes:
    """Byte i is ``i % 251`` (the same bytes as tests/support/servers/stdlib.pattern)."""
    return (_PERIOD * (n // len(_PERIOD) + 1))[:n]


class Answer:
    """What a route answers: a status and a body, or `chunks` to be written without a length."""

    def __init__(self, status: int, body: bytes = b"", chunks: tuple[bytes, ...] | None = None,
                 ctype: str = "text/plain") -> None:
        self.status = status
        self.body = body
        self.chunks = chunks
        self.ctype = ctype

    @property
    def bodiless(self) -> bool:
        return self.status in (204, 304)


def route(method: str, path: str, query: str, body: bytes) -> Answer:
    """The answer to a request, whatever the server (HEAD gets GET's answer)."""
    if path == "/":
        return Answer(200, HELLO)
    if path.startswith("/bytes/") and path[7:].isdigit():
        return Answer(200, pattern(int(path[7:])), ctype="application/octet-stream")
    if path == "/chunked":
        return Answer(200, chunks=CHUNKS)
    if path.startswith("/seq/"):
        return Answer(200, (path + ("?" + query if query else "")).encode())
    if path == "/echo" and method == "POST":
        return Answer(200, body, ctype="application/octet-stream")
    if path in ("/status/204", "/status/304"):
        return Answer(int(path[8:]))
    return Answer(404, b"not found\n")


REASONS = {200: "OK", 204: "No Content", 304: "Not Modified", 404: "Not Found"}


# -- WSGI (gunicorn, waitress, cheroot) -----------------------------------------------------

def _wsgi_body(environ: dict[str, Any]) -> bytes:
    """The request body: by Content-Length, or to the end for a chunked one (the server
    de-chunks it and ends the stream)."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        return stream.read(int(length)) if int(length) else b""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        parts = []
        for _ in range(100000):  # bounded: a 64 KiB read per turn
            piece = stream.read(65536)
            if not piece:
                break
            parts.append(piece)
        return b"".join(parts)
    return b""


def _generate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """A generator, so that the server cannot know the length."""
    yield from chunks


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    answer = route(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                   environ.get("QUERY_STRING", ""), _wsgi_body(environ))
    status = f"{answer.status} {REASONS[answer.status]}"
    if answer.bodiless:
        start_response(status, [])
        return []
    if answer.chunks is not None:
        start_response(status, [("Content-Type", answer.ctype)])
        return _generate(answer.chunks)
    start_response(status, [("Content-Type", answer.ctype), ("Content-Length", str(len(answer.body)))])
    return [answer.body]  # for HEAD too, as apps do


# -- ASGI (uvicorn, hypercorn) ----------------------------------------------------------------

async def asgi_app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                   send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] == "lifespan":  # hypercorn runs it (uvicorn is started without it)
        for _ in range(2):
            event = (await receive())["type"].rsplit(".", 1)[-1]  # startup, then shutdown
            await send({"type": f"lifespan.{event}.complete"})
        return
    parts = []
    for _ in range(100000):  # bounded, as for WSGI
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    query = scope["query_string"].decode("latin-1")
    answer = await _asgi_only(scope, query) or route(scope["method"], scope["path"], query,
                                                     b"".join(parts))
    headers = [] if answer.bodiless else [(b"content-type", answer.ctype.encode())]
    if answer.chunks is None and not answer.bodiless:
        headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    for piece in answer.chunks or ():
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"" if answer.chunks else answer.body})


async def _asgi_only(scope: dict[str, Any], query: str) -> Answer | None:
    """The routes only the ASGI app has (see the module docstring), else None."""
    import asyncio
    import json
    from urllib.parse import parse_qs

    if scope["path"] == "/slow":
        ms = min(int((parse_qs(query).get("ms") or ["0"])[0] or 0), SLOW_MAX_MS)
        await asyncio.sleep(ms / 1000)
        return Answer(200, f"slow {ms}".encode())
    if scope["path"] == "/info":
        info = {"http_version": scope.get("http_version"), "method": scope["method"],
                "path": scope["path"], "scheme": scope.get("scheme"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")]
                            for k, v in scope["headers"]]}
        return Answer(200, json.dumps(info).encode(), ctype="application/json")
    return None


# -- tornado ----------------------------------------------------------------------------------

def run_tornado(port: int) -> None:
    import asyncio

    import tornado.httpserver
    import tornado.web

    class Handler(tornado.web.RequestHandler):
        async def get(self) -> None:
            await self._answer(head=False)

        async def head(self) -> None:
            await self._answer(head=True)

        async def post(self) -> None:
            await self._answer(head=False)

        async def _answer(self, head: bool) -> None:
            request = self.request
            answer = route(request.method or "GET", request.path, request.query, request.body)
            self.set_status(answer.status)
            self.clear_header("Content-Type")
            if answer.bodiless:
                return
            self.set_header("Content-Type", answer.ctype)
            if answer.chunks is not None:
                for piece in answer.chunks:
                    self.write(piece)
                    await self.flush()  # each piece leaves as a chunk of its own
                return
            self.set_header("Content-Length", str(len(answer.body)))
            if not head:
                self.write(answer.body)

    async def main() -> None:
        app = tornado.web.Application([(r"/.*", Handler)])
        server = tornado.httpserver.HTTPServer(app, idle_connection_timeout=IDLE_TIMEOUT)
        server.listen(port, address="127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())


# -- aiohttp ----------------------------------------------------------------------------------

def run_aiohttp(port: int) -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        answer = route(request.method, request.path, request.query_string, body)
        if answer.chunks is None:
            return web.Response(status=answer.status, body=None if answer.bodiless else answer.body,
                                content_type=None if answer.bodiless else answer.ctype)
        # No length: aiohttp chunks it for HTTP/1.1 (enable_chunked_encoding() would make
        # an HTTP/1.0 request fail with 500) and ends it with a close for HTTP/1.0.
        response = web.StreamResponse(status=answer.status, headers={"Content-Type": answer.ctype})
        await response.prepare(request)
        for piece in answer.chunks:
            await response.write(piece)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, keepalive_timeout=IDLE_TIMEOUT,
                shutdown_timeout=1.0, access_log=None, print=None)


# -- waitress, cheroot ---------------------------------------------------------------------------

def run_waitress(port: int) -> None:
    import waitress

    # channel_timeout closes an idle connection; the check runs every cleanup_interval,
    # at the latest after asyncore_loop_timeout (both whole seconds in waitress).
    waitress.serve(wsgi_app, host="127.0.0.1", port=port, threads=4, channel_timeout=IDLE_TIMEOUT,
                   cleanup_interval=1, asyncore_loop_timeout=1, _quiet=True)


def run_cheroot(port: int) -> None:
    from cheroot import wsgi

    server = wsgi.Server(("127.0.0.1", port), wsgi_app, numthreads=4, timeout=IDLE_TIMEOUT,
                         shutdown_timeout=1)
    server.safe_start()


# -- http.server ------------------------------------------------------------------------------

def run_http_server(port: int, protocol: str) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = protocol
        timeout = IDLE_TIMEOUT  # an idle keep-alive connection is closed after this

        def log_message(self, format: str, *args: Any) -> None:
            """Silent."""

        def do_GET(self) -> None:
            self._answer(head=False)

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_POST(self) -> None:
            self._answer(head=False)

        def _answer(self, head: bool) -> None:
            path, _, query = self.path.partition("?")
            answer = route(self.command, path, query, self._body())
            self.send_response(answer.status)
            if answer.bodiless:
                self.end_headers()
                return
            self.send_header("Content-Type", answer.ctype)
            if answer.chunks is not None:
                self._send_unsized(answer.chunks, head)
                return
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if not head:
                self.wfile.write(answer.body)

        def _send_unsized(self, chunks: tuple[bytes, ...], head: bool) -> None:
            if self.request_version != "HTTP/1.1" or self.protocol_version != "HTTP/1.1":
                self.close_connection = True  # HTTP/1.0: the close ends the body
                self.end_headers()
                if not head:
                    self.wfile.write(b"".join(chunks))
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if not head:
                for piece in chunks:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                parts = []
                for _ in range(100000):
                    size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        break
                    parts.append(self.rfile.read(size))
                    self.rfile.readline(1024)
                for _ in range(100):  # trailers, then the empty line
                    if self.rfile.readline(8192) in (b"\r\n", b"\n", b""):
                        break
                return b"".join(parts)
            length = self.headers.get("Content-Length")
            return self.rfile.read(int(length)) if length else b""

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def server_bind(self) -> None:
            # HTTPServer.server_bind would look the host name up (getfqdn), which can stall.
            import socketserver
            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = "127.0.0.1", port

    Server(("127.0.0.1", port), Handler).serve_forever(poll_interval=0.1)


SCRIPTS: dict[str, Callable[[int], None]] = {
    "tornado": run_tornado,
    "aiohttp": run_aiohttp,
    "waitress": run_waitress,
    "cheroot": run_cheroot,
    "http.server-1.0": lambda port: run_http_server(port, "HTTP/1.0"),
    "http.server-1.1": lambda port: run_http_server(port, "HTTP/1.1"),
}

if __name__ == "__main__":
    SCRIPTS[sys.argv[1]](int(sys.argv[2]))
