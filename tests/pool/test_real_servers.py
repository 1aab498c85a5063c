"""Both pools against real servers that nobody here wrote, each in a process of its own.

What for: `Pool` and `AsyncPool` meet gunicorn (sync and gthread workers), uvicorn (h11
and httptools), hypercorn, granian, waitress, cheroot, tornado, aiohttp, `http.server`
(HTTP/1.0 and HTTP/1.1) and nginx in production, and each has habits of its own on the wire
(REAL-SERVERS.md): idle connections closed on the server's clock (1 s here), bytes after
a HEAD answer (waitress, cheroot), a close after each answer (gunicorn's sync worker,
HTTP/1.0), `Connection: close` after chunked answers and 204 (waitress), chunked answers
to HTTP/1.0 (uvicorn with httptools), `keepalive_requests` (nginx).

How: `tests/support/servers/real.py` starts each server once per module (the `real_server`
fixture, parametrized indirectly by server name, so each test picks the servers it
applies to) on a free port of 127.0.0.1, serving the same routes (`real_apps.py`). Each
scenario is a coroutine over a `support.pool_drivers.Client` and runs once per pool: ``sync``
(`Pool`, calls in threads), ``async`` (`AsyncPool` on asyncio's loop) and, when uvloop
is importable, ``async-uvloop`` (`AsyncPool` on uvloop's loop). Every scenario runs under
a deadline (`DEADLINE`), so a hang fails its test instead of stalling the run.

A server that is not installed or does not start is skipped with the reason, or fails
the run under HOPWIRE_REQUIRE_SERVERS=1 (`server_unavailable`). `test_routes_with_a_peer_client`
checks every server's routes with http.client first: a launcher or app fault shows
there, not as a pool failure.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

import hopwire
from support.pool_drivers import Client, SyncClient, make_client, run_on
from support.servers import tcp_inodes, wait_for
from support.servers.fixtures import server_unavailable
from support.servers.real import (CHUNKS, HELLO, NGINX_KEEPALIVE_REQUESTS, SERVERS,
                                  RealServer, RealServerError, missing, pattern,
                                  start_real_server)

try:
    import uvloop
except ImportError:  # optional: the async-uvloop cases are left out
    uvloop = None  # type: ignore[assignment]

T = TypeVar("T")

pytestmark = pytest.mark.slow

KINDS = ("sync", "async") + (("async-uvloop",) if uvloop is not None else ())
DEADLINE = 30.0  # seconds for one scenario: a hang fails the test
IDLE_GAP = 1.6  # seconds: longer than every server's keep-alive timeout (1 s; cheroot: up to 1.5)
IDLE_ROUNDS = 2
POOL_WAIT = 1.0  # Timeout.pool in the idle scenarios: a leaked slot fails after this
QUICK = 0.5  # seconds: a request after an idle gap takes well under POOL_WAIT
MIB = 1048576

ALL = list(SERVERS)
KEEP_ALIVE = [name for name, spec in SERVERS.items() if spec.keeps_alive]
# Servers that close idle connections quickly, in front of which the proxy is tested.
PROXIED = ["gunicorn-gthread", "aiohttp"]

each_kind = pytest.mark.parametrize("kind", KINDS)


def on(names: list[str]) -> pytest.MarkDecorator:
    """Run a test against the servers `names` (module-scoped: each starts once)."""
    return pytest.mark.parametrize("real_server", names, indirect=True)


@pytest.fixture(scope="module")
def real_server(request: pytest.FixtureRequest) -> Iterator[RealServer]:
    """The server named by the test's parameter, started once for this module."""
    spec = SERVERS[request.param]
    why = missing(spec)
    if why is not None:
        server_unavailable(why)
    try:
        server = start_real_server(spec.name)
    except RealServerError as exc:
        server_unavailable(f"{spec.name} did not start: {exc}")
    with server:
        yield server


# -- running a scenario -------------------------------------------------------------------------

def run(kind: str, scenario: Callable[[Client], Awaitable[T]], **options: Any) -> T:
    """Run `scenario(client)` with a fresh pool of `kind` on a fresh loop, within DEADLINE;
    the pool is always closed."""
    async def main() -> T:
        if kind == "async-uvloop":  # the loop really is uvloop's, not asyncio's
            assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        client = make_client("sync" if kind == "sync" else "async", **options)
        # asyncio.wait, not wait_for: the pools' own timeouts are TimeoutErrors too, and
        # must show as themselves, not as a hang.
        task = asyncio.ensure_future(scenario(client))
        try:
            done, _ = await asyncio.wait({task}, timeout=DEADLINE)
            if not done:
                task.cancel()
                await asyncio.wait({task}, timeout=5.0)
                raise AssertionError(f"the scenario did not finish within {DEADLINE} s (a hang)")
            return task.result()
        finally:
            await client.close()
            client.dispose()

    return run_on("uvloop" if kind == "async-uvloop" else "async", main())


async def request_all(client: Client, specs: list[tuple[str, str]]) -> list[Any]:
    """`request_all` of either pool (the sync one on the client's worker thread)."""
    if isinstance(client, SyncClient):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(client.executor, client.pool.request_all, specs)
    return list(await client.pool.request_all(specs))


async def timed(call: Awaitable[T]) -> tuple[T, float]:
    begun = time.monotonic()
    result = await call
    return result, time.monotonic() - begun


# -- checks ---------------------------------------------------------------------------------------

def describe(response: Any) -> str:
    if isinstance(response, BaseException):
        return f"{type(response).__name__}: {response}"
    return (f"{response.status} {response.content[:60]!r}{'...' if len(response.content) > 60 else ''} "
            f"{response.info}")


def expect(response: Any, body: bytes, status: int = 200) -> None:
    """`response` is an answer (not an error) with this status and body."""
    assert not isinstance(response, BaseException), describe(response)
    assert (response.status, response.content) == (status, body), describe(response)


def decoded(response: Any) -> bytes:
    """The body, gunzipped if the server compressed it (nginx does for /chunked)."""
    if response.header("content-encoding") == b"gzip":
        return gzip.decompress(response.content)
    return bytes(response.content)


def echoed(server: RealServer, body: bytes) -> bytes:
    """What POST /echo answers: the body, or nginx's fixed text."""
    return body if server.spec.echoes else b"posted"


def tcp_fds_to(port: int) -> list[int]:
    """This process's descriptors that are TCP sockets to or from 127.0.0.1:`port`."""
    inodes = tcp_inodes(port)
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") in inodes:
                found.append(int(name))
        except OSError:
            pass  # closed meanwhile, or the descriptor of listdir itself
    return found


# -- the servers themselves, seen by a peer client ------------------------------------------------

def peer(server: RealServer, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request with http.client on a connection of its own (so that no quirk of the
    server on a reused connection can show here)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {},
                     encode_chunked=body is not None and not isinstance(body, bytes))
        answer = conn.getresponse()
        content = answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, content
    finally:
        conn.close()


@on(ALL)
def test_routes_with_a_peer_client(real_server: RealServer) -> None:
    """The launcher and the apps are right: every route, checked with http.client."""
    s = real_server
    assert peer(s, "GET", "/")[::2] == (200, HELLO)
    status, headers, content = peer(s, "HEAD", "/")
    assert (status, headers.get("content-length"), content) == (200, "5", b"")
    assert peer(s, "GET", f"/bytes/{MIB}")[::2] == (200, pattern(MIB))
    status, headers, content = peer(s, "GET", "/chunked", headers={"Accept-Encoding": "gzip"})
    if headers.get("content-encoding") == "gzip":
        content = gzip.decompress(content)
    assert (status, content) == (200, b"".join(CHUNKS))
    assert peer(s, "GET", "/seq/3?n=3")[::2] == (200, b"/seq/3?n=3")
    assert peer(s, "POST", "/echo", pattern(5000))[::2] == (200, echoed(s, pattern(5000)))
    assert peer(s, "POST", "/echo", iter([b"ab", b"cde"]))[::2] == (200, echoed(s, b"abcde"))
    assert peer(s, "GET", "/status/204")[::2] == (204, b"")
    assert peer(s, "GET", "/status/304")[::2] == (304, b"")


# -- 1. sequential requests, reuse ----------------------------------------------------------------

@each_kind
@on(ALL)
def test_sequential_requests_reuse_the_connection(real_server: RealServer, kind: str) -> None:
    url = real_server.url + "/"

    async def scenario(client: Client) -> tuple[list[Any], int]:
        return [await client.request("GET", url) for _ in range(20)], client.pool.connections

    responses, open_connections = run(kind, scenario)
    for response in responses:
        expect(response, HELLO)
    connections = [r.info.connection for r in responses]
    if real_server.spec.keeps_alive:
        assert set(connections) == {connections[0]}, connections
        assert all(r.info.reused for r in responses[1:])
        assert open_connections == 1
    else:  # an answer with Connection: close (or HTTP/1.0) ends the connection
        assert len(set(connections)) == 20 and not any(r.info.reused for r in responses)
        assert open_connections == 0
    assert not any(r.info.replayed for r in responses)


# -- 2. idle gaps longer than the server's keep-alive timeout -------------------------------------

@each_kind
@on(KEEP_ALIVE)
def test_idle_gaps_longer_than_the_keep_alive_timeout(real_server: RealServer, kind: str) -> None:
    """The server closes the idle connection during each gap; the next request must
    succeed at once. One connection per host and a short pool wait: a connection slot
    not given back when the server closes shows as PoolTimeout."""
    url = real_server.url + "/"

    async def scenario(client: Client) -> list[tuple[Any, float]]:
        rounds = [await timed(client.request("GET", url))]
        for _ in range(IDLE_ROUNDS):
            await asyncio.sleep(IDLE_GAP)
            rounds.append(await timed(client.request("GET", url)))
        return rounds

    rounds = run(kind, scenario, max_connections_per_host=1,
                 timeout=hopwire.Timeout(5.0, pool=POOL_WAIT))
    for response, elapsed in rounds:
        expect(response, HELLO)
        assert elapsed < QUICK, f"{elapsed:.2f} s for {describe(response)}"
    # The scenario happened: the server did close idle connections (a new one was needed).
    connections = [response.info.connection for response, _ in rounds]
    assert len(set(connections)) > 1, connections


# -- 3. the server restarted on the same port -----------------------------------------------------

@each_kind
@on(ALL)
def test_server_restarted_on_the_same_port(real_server: RealServer, kind: str) -> None:
    url = real_server.url + "/"

    async def scenario(client: Client) -> list[Any]:
        before = await client.request("GET", url)
        await asyncio.get_running_loop().run_in_executor(None, real_server.restart)
        return [before, await client.request("GET", url), await client.request("GET", url)]

    before, after, again = run(kind, scenario)
    for response in (before, after, again):
        expect(response, HELLO)
    assert after.info.connection != before.info.connection  # the old process is gone


# -- 4. pipelining --------------------------------------------------------------------------------

@each_kind
@on(ALL)
def test_pipelined_requests_answered_once_in_order(real_server: RealServer, kind: str) -> None:
    """16 GETs of distinct paths through `request_all` on one connection: pipelined where
    the server keeps the connection, one at a time where it closes after each answer
    (gunicorn's sync worker, HTTP/1.0); either way each answered once, right, in order."""
    base = real_server.url
    paths = [f"/seq/{i}?n={i}" for i in range(16)]

    async def scenario(client: Client) -> tuple[Any, list[Any]]:
        first = await client.request("GET", base + "/seq/first")  # proves the connection persistent
        return first, await request_all(client, [("GET", base + path) for path in paths])

    first, answers = run(kind, scenario, pipeline_depth=8, max_connections_per_host=1)
    expect(first, b"/seq/first")
    assert len(answers) == len(paths)
    for path, answer in zip(paths, answers):
        expect(answer, path.encode())
    pipelined = [a.info.pipelined for a in answers]
    if real_server.spec.keeps_alive:
        assert max(pipelined) > 0, pipelined  # the pool did pipeline
    else:
        assert max(pipelined) == 0, pipelined  # never on a connection not proven persistent


@each_kind
@on(ALL)
def test_pipelined_bodiless_answers(real_server: RealServer, kind: str) -> None:
    """204 and 304 inside a pipeline are framed without a body, and what follows them is
    answered right (waitress closes after a 204: the requests behind it are replayed)."""
    base = real_server.url
    paths = [p for i in range(4) for p in (f"/seq/a{i}", "/status/204", f"/seq/b{i}", "/status/304")]

    async def scenario(client: Client) -> list[Any]:
        await client.request("GET", base + "/")
        return await request_all(client, [("GET", base + path) for path in paths])

    answers = run(kind, scenario, pipeline_depth=8, max_connections_per_host=1)
    for path, answer in zip(paths, answers):
        if path.startswith("/status/"):
            expect(answer, b"", int(path[8:]))
        else:
            expect(answer, path.encode())


# -- 5. HEAD, 204, 304 and the request after them ------------------------------------------------

@each_kind
@on(ALL)
def test_head_then_get_back_to_back(real_server: RealServer, kind: str) -> None:
    """Bytes a server writes after its HEAD answer (waitress, cheroot) must never be taken
    for the next answer."""
    base = real_server.url

    async def scenario(client: Client) -> list[tuple[Any, Any]]:
        return [(await client.request("HEAD", base + "/"),
                 await client.request("GET", base + f"/seq/{i}")) for i in range(50)]

    for i, (head, get) in enumerate(run(kind, scenario, max_connections_per_host=1)):
        expect(head, b"")
        assert head.header("content-length") == b"5", describe(head)
        expect(get, f"/seq/{i}".encode())


@each_kind
@on(ALL)
def test_head_then_post_back_to_back(real_server: RealServer, kind: str) -> None:
    """As above with a POST after each HEAD. A POST cannot be replayed once sent, so where
    the stray bytes after a HEAD answer arrive only after the POST went out (a race: the
    pool's poll before reuse catches some, not all), the README's contract is a typed
    error; what must never happen is the stray bytes taken for the POST's answer, a
    wrong answer, or a connection left unusable (the GET after it is right)."""
    base, server = real_server.url, real_server

    async def attempt(client: Client, i: int) -> Any:
        try:
            return await client.request("POST", base + "/echo", body=f"post {i}".encode())
        except hopwire.HopwireError as exc:
            return exc

    async def scenario(client: Client) -> list[tuple[Any, Any, Any]]:
        return [(await client.request("HEAD", base + "/"), await attempt(client, i),
                 await client.request("GET", base + f"/seq/{i}")) for i in range(20)]

    for i, (head, post, get) in enumerate(run(kind, scenario, max_connections_per_host=1)):
        expect(head, b"")
        if not isinstance(post, hopwire.HopwireError):
            expect(post, echoed(server, f"post {i}".encode()))
        expect(get, f"/seq/{i}".encode())


@each_kind
@on(ALL)
def test_bodiless_statuses_then_next_request(real_server: RealServer, kind: str) -> None:
    base = real_server.url
    paths = [p for i in range(10) for p in ("/status/204", f"/seq/a{i}", "/status/304", f"/seq/b{i}")]

    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", base + path) for path in paths]

    for path, answer in zip(paths, run(kind, scenario, max_connections_per_host=1)):
        if path.startswith("/status/"):
            expect(answer, b"", int(path[8:]))
        else:
            expect(answer, path.encode())


# -- 6. bodies ------------------------------------------------------------------------------------

UPLOAD = (pattern(1000), pattern(70000), b"end")  # pieces of a streamed request body


def _pieces() -> Iterator[bytes]:
    """A fresh generator each time: a streamed body can be sent once."""
    yield from UPLOAD


BODY_CASES = ["get-1mib", "get-chunked", "post-bytes", "post-iterable", "post-sized"]


@pytest.mark.parametrize("case", BODY_CASES)
@each_kind
@on(ALL)
def test_bodies(real_server: RealServer, kind: str, case: str) -> None:
    """One body each way, then a plain GET: the connection must still be framed right."""
    server, base = real_server, real_server.url
    if case == "post-sized" and not hasattr(hopwire, "SizedBody"):
        pytest.skip("hopwire.SizedBody does not exist in this version")

    async def exchange(client: Client) -> Any:
        if case == "get-1mib":
            return await client.request("GET", base + f"/bytes/{MIB}")
        if case == "get-chunked":
            return await client.request("GET", base + "/chunked", headers={"Accept-Encoding": "gzip"})
        if case == "post-bytes":
            return await client.request("POST", base + "/echo", body=pattern(200000))
        if case == "post-iterable":
            return await client.request("POST", base + "/echo", body=_pieces())
        size = sum(map(len, UPLOAD))
        return await client.request("POST", base + "/echo", body=hopwire.SizedBody(size, _pieces()))

    async def scenario(client: Client) -> tuple[Any, Any]:
        return await exchange(client), await client.request("GET", base + "/")

    response, after = run(kind, scenario)
    assert not isinstance(response, BaseException), describe(response)
    if case == "get-1mib":
        expect(response, pattern(MIB))
        assert response.header("content-length") == str(MIB).encode()
    elif case == "get-chunked":
        assert (response.status, decoded(response)) == (200, b"".join(CHUNKS)), describe(response)
        if server.spec.name != "http.server-1.0":  # HTTP/1.0 ends it with a close instead
            assert response.header("transfer-encoding") == b"chunked", response.headers
    elif case == "post-bytes":
        expect(response, echoed(server, pattern(200000)))
    else:
        expect(response, echoed(server, b"".join(UPLOAD)))
    expect(after, HELLO)


# -- 7. nginx's keepalive_requests ----------------------------------------------------------------

@each_kind
@on(["nginx"])
def test_nginx_past_keepalive_requests(real_server: RealServer, kind: str) -> None:
    """nginx closes after `keepalive_requests` answers, the last with Connection: close:
    20 requests all succeed, on as many connections as that takes, none replayed."""
    url = real_server.url_short + "/"

    async def scenario(client: Client) -> list[Any]:
        return [await client.request("GET", url) for _ in range(20)]

    responses = run(kind, scenario)
    for response in responses:
        expect(response, HELLO)
    per_connection: dict[int, int] = {}
    for response in responses:
        per_connection[response.info.connection] = per_connection.get(response.info.connection, 0) + 1
    assert sorted(per_connection.values()) == [NGINX_KEEPALIVE_REQUESTS] * (20 // NGINX_KEEPALIVE_REQUESTS)
    assert not any(r.info.replayed for r in responses)  # the close was heard, not tripped over


# -- 8. no socket left open -----------------------------------------------------------------------

@each_kind
@on(ALL)
def test_no_socket_left_open_after_close(real_server: RealServer, kind: str) -> None:
    """After a mix of exchanges (several connections, a pipeline, HEAD, a streamed body
    left unread), closing the pool leaves no socket to the server open."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc/self/fd here to count sockets")
    server, base = real_server, real_server.url

    async def scenario(client: Client) -> list[Any]:
        answers = list(await client.gather(*[client.request("GET", base + f"/seq/{i}")
                                             for i in range(4)]))
        # The POST before the HEAD: a POST right after a HEAD is a case of its own
        # (test_head_then_post_back_to_back), not a leak.
        answers.append(await client.request("POST", base + "/echo", body=b"x" * 1000))
        answers.append(await client.request("HEAD", base + "/"))
        answers += await request_all(client, [("GET", base + f"/seq/p{i}") for i in range(6)])
        await client.stream_chunks("GET", base + f"/bytes/{MIB}", stop_after=1)
        return answers

    answers = run(kind, scenario, max_connections_per_host=2, pipeline_depth=4)
    for answer in answers:
        assert not isinstance(answer, BaseException), describe(answer)
    assert wait_for(lambda: not tcp_fds_to(server.port), timeout=2.0), \
        f"sockets to {server.spec.name} left open: fds {tcp_fds_to(server.port)}"


# -- the proxy in front of servers that close idle connections ------------------------------------

@pytest.mark.parametrize("kind", ["sync"])  # the pool under test is the proxy's own
@on(PROXIED)
def test_proxy_upstream_survives_idle_closes(real_server: RealServer, kind: str) -> None:
    """`hopwire proxy` (forward mode, on a thread) between a pool and a server that closes
    idle connections after 1 s: its upstream AsyncPool must give the connection back
    when the server closes it, so requests across the gaps are answered at once. The
    proxy's upstream has one connection per host and a short pool wait (a leaked slot
    becomes a 503)."""
    from hopwire.proxy import start_proxy

    url = real_server.url + "/"
    proxy = start_proxy(upstream_per_host=1, upstream_timeout=hopwire.Timeout(5.0, pool=POOL_WAIT))

    async def scenario(client: Client) -> list[tuple[Any, float]]:
        rounds = [await timed(client.request("GET", url))]
        for _ in range(IDLE_ROUNDS):
            await asyncio.sleep(IDLE_GAP)
            rounds.append(await timed(client.request("GET", url)))
        return rounds

    try:
        rounds = run(kind, scenario, proxy=proxy.url, max_connections_per_host=1,
                     timeout=hopwire.Timeout(5.0, pool=POOL_WAIT))
        errors = list(proxy.stats.errors)
    finally:
        proxy.stop()
    for response, elapsed in rounds:
        expect(response, HELLO)
        assert elapsed < QUICK, f"{elapsed:.2f} s for {describe(response)}"
        assert b"hopwire" in (response.header("via") or b"")
    assert not errors, errors
