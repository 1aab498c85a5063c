"""pytest fixtures for the test servers, loaded as a plugin from tests/conftest.py.

The long-lived servers (nginx, the stdlib servers, aiohttp) are session-scoped: they
start once and serve every test. The fault server and the dumb proxy are per test (factory
fixtures), since tests change their behaviour and read their logs.

The HTTP/2 peers: `h2_nginx`, `h2_hypercorn`, `h2_hypercorn_limited`, `h2_granian` and
`h2_granian_pinging` (session) and the `h2_fault_server` factory. They need h2, hyperframe,
hpack and trustme (the test extra); the granian ones granian too.

A server that cannot run here (nginx not installed, aiohttp not importable) skips the
tests that need it, unless HOPWIRE_REQUIRE_SERVERS=1 (as in CI): then they fail, so that
a missing server cannot silently turn the pool's real-server tests into skips.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from .aiohttp_server import AiohttpServer, AiohttpUnavailable, start_aiohttp_server
from .dumb_proxy import DumbProxy, start_dumb_proxy
from .fault import FaultServer, start_fault_server
from .granian_server import GranianError, GranianOptions, H2Granian, start_h2_granian
from .hypercorn_h2 import LIMITED, H2Hypercorn, HypercornLimits, start_h2_hypercorn
from .nginx import (H2NginxServer, NginxError, NginxServer, nginx_binary, start_h2_nginx,
                    start_nginx)
from .stdlib import StdlibServer, open_fds, start_stdlib_server

if TYPE_CHECKING:  # h2_fault imports h2 at once: only the fixture that needs it loads it
    from .h2_fault import H2FaultServer

__all__ = ["REQUIRE_SERVERS", "open_fds", "server_unavailable", "nginx", "stdlib_http10",
           "stdlib_http10_keepalive", "stdlib_http11", "aiohttp_server", "fault_server",
           "dumb_proxy", "h2_nginx", "h2_hypercorn", "h2_hypercorn_limited", "h2_granian",
           "h2_granian_pinging", "h2_fault_server"]

# Read like hopwire._select reads the HOPWIRE_* switches: unset, "" and "0" are off.
REQUIRE_SERVERS = os.environ.get("HOPWIRE_REQUIRE_SERVERS", "") not in ("", "0")


def server_unavailable(reason: str) -> NoReturn:
    """Skip the current test for `reason`, or fail it under HOPWIRE_REQUIRE_SERVERS=1."""
    if REQUIRE_SERVERS:
        pytest.fail(f"HOPWIRE_REQUIRE_SERVERS=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    """nginx on two ports: `.url` (keepalive_requests 1000) and `.url_short` (3)."""
    binary = nginx_binary()
    if binary is None:
        server_unavailable("nginx is not installed (apt-get install nginx-light)")
    with start_nginx(Path(tmp_path_factory.mktemp("nginx")), binary) as server:
        yield server


@pytest.fixture(scope="session")
def stdlib_http10() -> Iterator[StdlibServer]:
    """`http.server` as shipped: HTTP/1.0, one response per connection."""
    with start_stdlib_server("HTTP/1.0") as server:
        yield server


@pytest.fixture(scope="session")
def stdlib_http10_keepalive() -> Iterator[StdlibServer]:
    """HTTP/1.0 that keeps the connection when asked with ``Connection: keep-alive``."""
    with start_stdlib_server("HTTP/1.0", keep_alive_10=True) as server:
        yield server


@pytest.fixture(scope="session")
def stdlib_http11() -> Iterator[StdlibServer]:
    """`http.server` speaking HTTP/1.1: persistent connections."""
    with start_stdlib_server("HTTP/1.1") as server:
        yield server


@pytest.fixture(scope="session")
def aiohttp_server() -> Iterator[AiohttpServer]:
    """An aiohttp app in its own thread and event loop."""
    try:
        server = start_aiohttp_server()
    except AiohttpUnavailable as exc:
        server_unavailable(str(exc))
    with server:
        yield server


@pytest.fixture
def fault_server() -> Iterator[Callable[..., FaultServer]]:
    """A factory: ``fault_server(**behaviour)`` starts a FaultServer, stopped after the test."""
    started: list[FaultServer] = []

    def start(**behaviour: Any) -> FaultServer:
        server = start_fault_server(**behaviour)
        started.append(server)
        return server

    yield start
    errors = []
    for server in started:
        try:
            server.stop()
        except RuntimeError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def dumb_proxy() -> Iterator[Callable[..., DumbProxy]]:
    """A factory: ``dumb_proxy(upstream=None, *, rewrite_version=None, relay_timeout=30.0)``
    starts a DumbProxy (an HTTP/1.0 proxy that forwards ``Connection`` unchanged and
    frames responses by the upstream's close), stopped after the test.

    ``dumb_proxy(upstream=server.url)`` is a reverse proxy to `server`; ``dumb_proxy()``
    forwards absolute-form requests only. See tests/support/servers/dumb_proxy.py.
    """
    started: list[DumbProxy] = []

    def start(upstream: tuple[str, int] | str | None = None, **options: Any) -> DumbProxy:
        proxy = start_dumb_proxy(upstream, **options)
        started.append(proxy)
        return proxy

    yield start
    errors = []
    for proxy in started:
        try:
            proxy.stop()
        except RuntimeError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


# -- HTTP/2 --------------------------------------------------------------------------------


def _require_h2_packages() -> None:
    import importlib.util
    for module in ("h2", "hyperframe", "hpack", "trustme"):
        if importlib.util.find_spec(module) is None:
            server_unavailable(f"the HTTP/2 test servers need {module} (pip install '.[test]')")


@pytest.fixture(scope="session")
def h2_nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H2NginxServer]:
    """nginx speaking HTTP/2: `.tls_url` (TLS, ALPN h2 and http/1.1), `.h2c_url` (prior
    knowledge), `.tls_url_limited` and `.h2c_url_limited` (4 concurrent streams, GOAWAY
    with the 10th request, 1 s keep-alive timeout), `.ssl_context` (a new client context
    trusting the CA at each access, no ALPN). Routes as `nginx`, plus ``/slow``.
    See H2NginxServer in nginx.py."""
    binary = nginx_binary()
    if binary is None:
        server_unavailable("nginx is not installed (apt-get install nginx-light)")
    _require_h2_packages()
    try:
        server = start_h2_nginx(Path(tmp_path_factory.mktemp("h2-nginx")), binary)
    except NginxError as exc:
        # A failed start is a failure, not a skip: nginx is installed, so the config or
        # the binary (no http_v2 module?) is wrong.
        pytest.fail(f"the HTTP/2 nginx did not start: {exc}", pytrace=False)
    with server:
        yield server


def _hypercorn(limits: HypercornLimits) -> Iterator[H2Hypercorn]:
    _require_h2_packages()
    import importlib.util
    if importlib.util.find_spec("hypercorn") is None:
        server_unavailable("hypercorn is not installed (pip install '.[test]')")
    with start_h2_hypercorn(limits) as server:
        yield server


@pytest.fixture(scope="session")
def h2_hypercorn() -> Iterator[H2Hypercorn]:
    """hypercorn (real_apps.asgi_app) on `.h2c_url` (HTTP/1.1 and h2c prior knowledge)
    and `.tls_url` (ALPN h2, http/1.1), `.ssl_context` as h2_nginx; hypercorn's default
    limits (100 streams, 1000 requests, 5 s keep-alive). See hypercorn_h2.py."""
    yield from _hypercorn(HypercornLimits())


@pytest.fixture(scope="session")
def h2_hypercorn_limited() -> Iterator[H2Hypercorn]:
    """As h2_hypercorn, with h2_max_concurrent_streams 4, keep_alive_max_requests 10 and
    keep_alive_timeout 1 s (a process of its own, started only when asked for)."""
    yield from _hypercorn(LIMITED)


# granian PINGs every GRANIAN_PING_INTERVAL ms and closes after GRANIAN_PING_TIMEOUT s
# without the answer (`h2_granian_pinging`).
GRANIAN_PING_INTERVAL = 300
GRANIAN_PING_TIMEOUT = 1


def _granian(options: GranianOptions) -> Iterator[H2Granian]:
    _require_h2_packages()
    import importlib.util
    if importlib.util.find_spec("granian") is None:
        server_unavailable("granian is not installed (pip install '.[test]')")
    try:
        server = start_h2_granian(options)
    except GranianError as exc:
        pytest.fail(f"granian did not start: {exc}", pytrace=False)
    with server:
        yield server


@pytest.fixture(scope="session")
def h2_granian() -> Iterator[H2Granian]:
    """granian (real_apps.asgi_app, hyper's HTTP/2) on `.h2c_url` (HTTP/1.1 and h2c
    prior knowledge) and `.tls_url` (ALPN h2, http/1.1), `.ssl_context` as h2_nginx;
    granian's defaults: 200 streams, 1 MiB windows, no idle close, no PING of its own.
    See granian_server.py."""
    yield from _granian(GranianOptions())


@pytest.fixture(scope="session")
def h2_granian_pinging() -> Iterator[H2Granian]:
    """As h2_granian, with --http2-keep-alive-interval 300 ms and
    --http2-keep-alive-timeout 1 s: granian PINGs every connection, and one that does not
    answer within 1 s gets GOAWAY(NO_ERROR) and a close."""
    yield from _granian(GranianOptions(h2_keep_alive_interval_ms=GRANIAN_PING_INTERVAL,
                                       h2_keep_alive_timeout=GRANIAN_PING_TIMEOUT))


@pytest.fixture
def h2_fault_server() -> Iterator[Callable[..., H2FaultServer]]:
    """A factory: ``h2_fault_server(tls=False, **behaviour)`` starts an H2FaultServer
    (h2_fault.py: the behaviours), stopped after the test."""
    _require_h2_packages()
    from .h2_fault import start_h2_fault_server
    started: list[H2FaultServer] = []

    def start(**behaviour: Any) -> H2FaultServer:
        server = start_h2_fault_server(**behaviour)
        started.append(server)
        return server

    yield start
    errors = []
    for server in started:
        try:
            server.stop()
        except RuntimeError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]
