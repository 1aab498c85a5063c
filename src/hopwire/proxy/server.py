"""The proxy's listener and options: one `ClientConnection` per client, one upstream
`AsyncPool` for all of them (see the package's docstring)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .. import AsyncPool, Timeout, __version__
from .._pool.models import TimeoutInput
from .client import ClientConnection, Refusal
from ..server.serving import LoopThread, TCPListener, run_until_stopped

__all__ = ["ProxyOptions", "ProxyServer", "ProxyStats", "ProxyThread", "run", "serve_proxy", "start_proxy"]


@dataclass(frozen=True)
class ProxyOptions:
    """What a `ProxyServer` does; every limit is explicit."""

    upstream: str | None = None  # reverse mode: "http://host:port"; None: forward proxy
    next_proxy: str | None = None  # forward mode: send through this proxy ("http://host:port")
    via: bytes = b"hopwire"  # the pseudonym this proxy writes in Via
    http10_keep_alive: bool = False  # keep HTTP/1.0 clients that ask (RFC 9112 §9.3 says do not)
    allow_connect: bool = True  # forward mode: CONNECT tunnels
    idle_timeout: float = 60.0  # an idle client connection or tunnel is closed after this
    header_timeout: float = 10.0  # a request head must arrive within this once begun (408)
    max_line_size: int = 8190  # request line and field lines (414 / 431 past them)
    max_header_size: int = 32 * 1024  # the whole head (431)
    max_headers: int = 100  # field lines (431)
    pipeline_window: int = 8  # a pipelining client's requests fetched at once
    upstream_connections: int = 100  # the pool's max_connections
    upstream_per_host: int = 32  # the pool's max_connections_per_host
    upstream_pipeline: int = 1  # the pool's pipeline_depth
    upstream_keepalive: float = 5.0  # the pool's keepalive_expiry
    upstream_timeout: TimeoutInput = field(
        default_factory=lambda: Timeout(30.0, connect=5.0, pool=10.0))

    def __post_init__(self) -> None:
        if self.upstream is not None and self.next_proxy is not None:
            raise ValueError("next_proxy is for forward mode, not with upstream")
        if self.pipeline_window < 1:
            raise ValueError("pipeline_window must be at least 1")
        if self.upstream is not None:
            parts = urlsplit(self.upstream)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"upstream must be an http:// or https:// URL, not {self.upstream!r}")


class ProxyStats:
    """Counters: client connections accepted, requests read, tunnels opened."""

    __slots__ = ("connections", "requests", "tunnels", "errors")

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.tunnels = 0
        self.errors: list[BaseException] = []  # faults of the proxy's own, kept for tests


class ProxyServer(TCPListener):
    """The listening socket, its client connections and the upstream pool, on one loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, options: ProxyOptions) -> None:
        super().__init__(loop)
        self.options = options
        self.stats = ProxyStats()
        timeout = options.upstream_timeout
        self.connect_timeout = (timeout.connect if isinstance(timeout, Timeout) else timeout) or 30.0
        self.pool = AsyncPool(max_connections=options.upstream_connections,
                              max_connections_per_host=options.upstream_per_host,
                              pipeline_depth=options.upstream_pipeline,
                              keepalive_expiry=options.upstream_keepalive,
                              timeout=timeout, proxy=options.next_proxy)
        self._base = options.upstream.rstrip("/") if options.upstream is not None else None

    def connection(self) -> asyncio.Protocol:
        return ClientConnection(self)

    async def aclose(self) -> None:
        await super().aclose()
        await self.pool.aclose()

    def upstream_url(self, request: Any) -> str | Refusal:
        """Where the request goes: its absolute URL (forward) or upstream + target (reverse)."""
        target: bytes = request.target
        if self._base is not None:
            if target.startswith(b"/"):
                return self._base + target.decode("ascii")
            if target.startswith((b"http://", b"https://")):  # absolute form to a gateway
                path = urlsplit(target.decode("ascii"))
                rest = path.path or "/"
                return self._base + rest + ("?" + path.query if path.query else "")
            return Refusal(400, f"cannot forward the request-target {target[:100]!r}")
        if target.startswith((b"http://", b"https://")):
            return target.decode("ascii")
        return Refusal(400, "a forward proxy needs an absolute URL (RFC 9112 §3.2.2)")

    def report(self, exc: BaseException) -> None:
        """A fault of the proxy's own while serving a client: kept, and told on stderr."""
        self.stats.errors.append(exc)
        print(f"hopwire proxy: internal error: {exc!r}", file=sys.stderr)


async def serve_proxy(host: str = "127.0.0.1", port: int = 0, **options: Any) -> ProxyServer:
    """Start a proxy on the running loop; `await proxy.aclose()` stops it."""
    proxy = ProxyServer(asyncio.get_running_loop(), ProxyOptions(**options))
    await proxy.start(host, port)
    return proxy


class ProxyThread(LoopThread[ProxyServer]):
    """A proxy on a thread of its own, with its own event loop (see `start_proxy`)."""

    def __init__(self, host: str, port: int, options: ProxyOptions) -> None:
        super().__init__(lambda loop: ProxyServer(loop, options), host, port, "hopwire-proxy")

    @property
    def stats(self) -> ProxyStats:
        return self.server.stats


def start_proxy(host: str = "127.0.0.1", port: int = 0, **options: Any) -> ProxyThread:
    """Run a proxy on a background thread; returns once it listens (`.url`, `.stop()`)."""
    return ProxyThread(host, port, ProxyOptions(**options))


def run(host: str = "127.0.0.1", port: int = 8888, *, announce: Any = print, **options: Any) -> ProxyStats:
    """Proxy until Ctrl-C (SIGINT) or SIGTERM; `announce` gets the line saying where."""
    stats = ProxyStats()
    proxy_options = ProxyOptions(**options)
    mode = f"to {proxy_options.upstream}" if proxy_options.upstream else "forward"

    async def start() -> ProxyServer:
        nonlocal stats
        proxy = ProxyServer(asyncio.get_running_loop(), proxy_options)
        await proxy.start(host, port)
        stats = proxy.stats
        return proxy

    run_until_stopped(start, lambda proxy: announce(
        f"hopwire {__version__} proxying on {proxy.url} ({mode}; Ctrl-C stops)"))
    return stats
