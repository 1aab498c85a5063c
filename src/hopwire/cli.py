"""The `hopwire` command (also `python -m hopwire`): bench, serve, get.

    hopwire bench [--quick] [--json FILE] [--plot FILE.png] [--server auto|nginx|embedded] ...
    hopwire serve [--host 127.0.0.1] [--port 8080]
    hopwire proxy [--listen 127.0.0.1:8888] [--upstream URL] [--next-proxy URL] ...
    hopwire get URL [URL ...] [--pipeline N] [--connections N] [-v]

`get` is the pool's story told on the command line: with -v, each request's
line says which connection answered it, whether that connection was new or
reused, how many requests were ahead of it in the pipeline, whether it was
replayed, and how long the answer's head took.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Union

from . import AsyncPool, HopwireError, HTTPResponse, Pool, Timeout, __version__

Outcome = Union[HTTPResponse, BaseException]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hopwire", description="Fast, strict HTTP/1.x for Python: "
                                 "benchmark it, serve with it, fetch with it.")
    ap.add_argument("--version", action="version", version=f"hopwire {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    bench = sub.add_parser("bench", help="benchmark hopwire against the installed HTTP libraries",
                           description="Parsers and connection pools side by side with httptools, h11, "
                           "aiohttp, urllib3, requests, httpx and http.client, each checked for the same "
                           "answers first, then timed in interleaved rounds.")
    from .bench.runner import add_arguments
    add_arguments(bench)

    serve = sub.add_parser("serve", help="run the embedded HTTP/1.1 server",
                           description="The embedded server: / (13 bytes), /bytes/N, /chunked/N, "
                           "/status/N, /delay/MS; keep-alive and pipelining. Ctrl-C stops it.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--idle-timeout", type=float, default=60.0, metavar="S",
                       help="close connections idle this long (default 60 s)")
    serve.add_argument("--max-body-size", type=int, default=10 * 1024 * 1024, metavar="BYTES",
                       help="larger request bodies get 413 (default 10 MiB)")

    get = sub.add_parser("get", help="fetch URLs through the pool",
                         description="Fetch URLs through hopwire's pool and print the bodies; -v tells "
                         "each request's connection story on stderr.")
    get.add_argument("urls", nargs="+", metavar="URL")
    get.add_argument("--pipeline", type=int, default=1, metavar="N",
                     help="requests in flight per connection (AsyncPool pipeline_depth; default 1)")
    get.add_argument("--connections", type=int, default=None, metavar="N",
                     help="connections per host (default 1 when pipelining, else 10); with "
                          "--pipeline or --connections above 1 the requests are sent concurrently")
    get.add_argument("-X", "--method", default="GET", help="request method (default GET)")
    get.add_argument("--timeout", type=float, default=10.0, metavar="S",
                     help="seconds for each step of a request (default 10)")
    get.add_argument("-v", "--verbose", action="store_true",
                     help="print each request's connection story on stderr")
    get.add_argument("--http2", nargs="?", const="alpn", choices=("alpn", "prior-knowledge"),
                     help="offer HTTP/2 to https origins (ALPN); --http2=prior-knowledge "
                          "speaks it to http origins too; requests to one origin then share a "
                          "connection, each on its stream")
    proxy = sub.add_parser("proxy", help="run the forwarding proxy",
                           description="A forward proxy (absolute URLs, CONNECT tunnels), or with "
                           "--upstream a reverse proxy, that strips hop-by-hop fields both ways, adds "
                           "Via and keeps client and upstream connections alive independently. "
                           "Ctrl-C stops it.")
    proxy.add_argument("--listen", default="127.0.0.1:8888", metavar="HOST:PORT",
                       help="address to listen on (default 127.0.0.1:8888; port 0 picks a free one)")
    proxy.add_argument("--upstream", metavar="URL", help="reverse mode: send every request to this origin")
    proxy.add_argument("--next-proxy", metavar="URL", help="forward mode: send through this proxy")
    proxy.add_argument("--pipeline", type=int, default=1, metavar="N",
                       help="requests in flight per upstream connection (default 1)")
    proxy.add_argument("--connections", type=int, default=32, metavar="N",
                       help="upstream connections per host (default 32)")
    proxy.add_argument("--idle-timeout", type=float, default=60.0, metavar="S",
                       help="close client connections and tunnels idle this long (default 60 s)")
    proxy.add_argument("--http10-keep-alive", action="store_true",
                       help="keep HTTP/1.0 clients that ask for it (off: RFC 9112 §9.3)")
    proxy.add_argument("--no-connect", action="store_true", help="refuse CONNECT tunnels")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(args_list)
    if args.command == "bench":
        from .bench.runner import main as bench_main
        return bench_main(args, args_list[1:])
    if args.command == "serve":
        return _serve(args)
    if args.command == "proxy":
        return _proxy(args)
    return _get(args)


# -- serve ------------------------------------------------------------------------------

def _serve(args: argparse.Namespace) -> int:
    from .server.embedded import run

    def announce(line: str) -> None:
        print(line, flush=True)  # `hopwire bench` reads the URL from this line

    try:
        stats = run(args.host, args.port, announce=announce, idle_timeout=args.idle_timeout,
                    max_body_size=args.max_body_size)
    except OSError as exc:
        print(f"hopwire serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"hopwire serve: stopped after {stats.requests} requests on {stats.connections} connections",
          file=sys.stderr)
    return 0


# -- proxy ------------------------------------------------------------------------------

def _proxy(args: argparse.Namespace) -> int:
    from .proxy import run

    host, sep, port = args.listen.rpartition(":")
    if not sep or not port.isdigit():
        print(f"hopwire proxy: --listen takes HOST:PORT, not {args.listen!r}", file=sys.stderr)
        return 2
    host = host.strip("[]") or "127.0.0.1"

    def announce(line: str) -> None:
        print(line, flush=True)  # `hopwire bench --proxy` reads the URL from this line

    try:
        stats = run(host, int(port), announce=announce, upstream=args.upstream,
                    next_proxy=args.next_proxy, upstream_pipeline=args.pipeline,
                    upstream_per_host=args.connections, idle_timeout=args.idle_timeout,
                    http10_keep_alive=args.http10_keep_alive, allow_connect=not args.no_connect)
    except ValueError as exc:
        print(f"hopwire proxy: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"hopwire proxy: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 1
    print(f"hopwire proxy: stopped after {stats.requests} requests on {stats.connections} connections",
          file=sys.stderr)
    return 0


# -- get --------------------------------------------------------------------------------

def story(method: str, url: str, outcome: Outcome) -> str:
    """One request's line: `GET http://... -> 200 OK, 13 bytes, connection #1 (new), 0.4 ms`."""
    if not isinstance(outcome, HTTPResponse):
        return f"{method} {url} -> {type(outcome).__name__}: {outcome}"
    info = outcome.info
    parts = [f"{outcome.status} {outcome.reason}".rstrip(), f"{len(outcome.content)} bytes",
             f"connection #{info.connection} ({'reused' if info.reused else 'new'})"]
    if info.stream_id is not None:
        parts.append(f"HTTP/2 stream {info.stream_id}, {info.streams} in flight")
    elif info.pipelined:
        parts.append(f"pipelined behind {info.pipelined}")
    if info.replayed:
        parts.append("replayed")
    parts.append(f"{info.elapsed * 1000:.1f} ms")
    return f"{method} {url} -> " + ", ".join(parts)


def _get(args: argparse.Namespace) -> int:
    if args.pipeline < 1 or (args.connections is not None and args.connections < 1):
        print("hopwire get: --pipeline and --connections take 1 or more", file=sys.stderr)
        return 2
    method = args.method.upper()
    timeout = Timeout(args.timeout)
    http2: bool | str = {None: False, "alpn": True}.get(args.http2, args.http2)
    concurrent = args.pipeline > 1 or (args.connections or 1) > 1 or bool(http2)
    failed = False

    def show(url: str, outcome: Outcome) -> None:
        nonlocal failed
        if isinstance(outcome, HTTPResponse):
            if args.verbose:
                print(story(method, url, outcome), file=sys.stderr, flush=True)
            _write_body(outcome.content)
        else:
            failed = True
            print(story(method, url, outcome), file=sys.stderr, flush=True)

    if concurrent:
        connections = args.connections or (1 if args.pipeline > 1 else 10)
        outcomes = asyncio.run(_fetch_concurrently(method, args.urls, args.pipeline, connections,
                                                   timeout, http2))
        for url, outcome in zip(args.urls, outcomes):
            show(url, outcome)
    else:
        with Pool(max_connections_per_host=args.connections or 10, timeout=timeout) as pool:
            for url in args.urls:
                show(url, _fetch(pool, method, url))
    return 1 if failed else 0


def _fetch(pool: Pool, method: str, url: str) -> Outcome:
    try:
        return pool.request(method, url)
    except HopwireError as exc:
        return exc


async def _fetch_concurrently(method: str, urls: list[str], pipeline: int, connections: int,
                              timeout: Timeout, http2: bool | str = False) -> list[Outcome]:
    """Every request at once on an AsyncPool: the pool pipelines them once a connection
    has proved persistent (or multiplexes them on HTTP/2), and queues the rest in order."""
    async with AsyncPool(pipeline_depth=pipeline, max_connections_per_host=connections,
                         timeout=timeout, http2=http2) as pool:
        async def one(url: str) -> Outcome:
            try:
                return await pool.request(method, url)
            except HopwireError as exc:
                return exc
        return list(await asyncio.gather(*(one(url) for url in urls)))


def _write_body(data: bytes) -> None:
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # a text-only stdout (an IDE's console): best effort
        out.write(data.decode("utf-8", "replace"))
        out.flush()
        return
    out.flush()  # text written before stays before
    buffer.write(data)
    buffer.flush()
