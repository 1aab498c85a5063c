"""Both pools over HTTP/2 against real servers across idle gaps, and granian as a peer.

What for: a pooled HTTP/2 connection sits idle between requests, and every server
ends idle connections on its own clock, each its own way (REAL-SERVERS.md): nginx
sends GOAWAY(NO_ERROR) at its keepalive_timeout and closes, hypercorn closes at its
keep_alive_timeout without a GOAWAY, granian never closes one unless its own PINGs go
unanswered. Whatever the server did, the next request must be answered at once, on a
new connection when the old one is gone, with no connection slot left behind; a gap
shorter than the server's timeout keeps the connection; and a request that meets the
close on its way is sent again only when the server provably did not process it
(a GET: no answer byte came; a POST: only above a GOAWAY's last stream id, RFC 9113
§6.8), and otherwise fails typed (`ConnectionLost`), never hangs.

How: the limited nginx and hypercorn of fixtures.py (keep-alive timeout 1 s), over
TLS with ALPN and h2c with prior knowledge; granian (granian_server.py) with its
defaults and with PINGs of its own. Each scenario is a coroutine over a
`support.pool_drivers.Client` and runs on `Pool` (threads), `AsyncPool` on asyncio's
loop and on uvloop. Idle scenarios run with one connection per host and a short pool
wait: a slot not given back when the server closed shows as `PoolTimeout`. Every loop
is bounded in rounds, each request by the pool's timeouts, each scenario by
`pool_drivers.SCENARIO_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

import hopwire
from support.pool_drivers import KINDS, Client, run
from support.servers.fixtures import GRANIAN_PING_INTERVAL, GRANIAN_PING_TIMEOUT
from support.servers.real_apps import HELLO, pattern

T = TypeVar("T")

pytestmark = pytest.mark.slow

SERVER_IDLE = 1.0  # seconds: the keep-alive timeout of the limited nginx and hypercorn
IDLE_GAP = 1.6  # seconds: longer than SERVER_IDLE, with room for a slow close
SHORT_GAP = 0.6  # seconds: well within SERVER_IDLE (and under the pool's PING_IDLE)
RACE_GAPS = (0.97, 1.03)  # seconds: the server may close while a request is on its way
IDLE_ROUNDS = 2
POOL_WAIT = 1.0  # Timeout.pool: a leaked slot fails after this
QUICK = 1.0  # seconds: a request after a gap waits for no timeout (a noisy 2-core VM)
KIB = 1024
MIB = 1024 * KIB

H2 = {"http2": "prior-knowledge"}


# -- the peers ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Peer:
    """One HTTP/2 endpoint of a real server, as the tests see it."""

    name: str
    base: str
    options: dict[str, Any] = field(default_factory=dict)  # the pool's, for this endpoint
    hello: bytes = HELLO  # what GET / answers
    post_path: str = "/echo"
    echoes: bool = True  # POST answers its body (nginx answers "posted")
    goaway_on_idle: bool = False  # the idle close comes after a GOAWAY

    def posted(self, body: bytes) -> bytes:
        return body if self.echoes else b"posted"


def _endpoint(server: Any, where: str) -> dict[str, Any]:
    if where == "tls":
        return {"http2": True, "ssl_context": server.ssl_context}
    return dict(H2)


def _peer(request: pytest.FixtureRequest, name: str) -> Peer:
    server_name, where = name.rsplit("-", 1)
    if server_name == "nginx":
        nginx = request.getfixturevalue("h2_nginx")
        base = nginx.tls_url_limited if where == "tls" else nginx.h2c_url_limited
        return Peer(name, base, _endpoint(nginx, where), hello=b"Hello, world!",
                    post_path="/post", echoes=False, goaway_on_idle=True)
    if server_name == "hypercorn":
        hypercorn = request.getfixturevalue("h2_hypercorn_limited")
        base = hypercorn.tls_url if where == "tls" else hypercorn.h2c_url
        return Peer(name, base, _endpoint(hypercorn, where))
    fixture = "h2_granian_pinging" if server_name == "granian-pinging" else "h2_granian"
    granian = request.getfixturevalue(fixture)
    base = granian.tls_url if where == "tls" else granian.h2c_url
    return Peer(name, base, _endpoint(granian, where), goaway_on_idle=True)


CLOSING = ["nginx-tls", "nginx-h2c", "hypercorn-tls", "hypercorn-h2c"]  # idle close at 1 s
GRANIAN = ["granian-tls", "granian-h2c"]


@pytest.fixture
def peer(request: pytest.FixtureRequest) -> Peer:
    """The endpoint named by the test's parameter (its server started once a session)."""
    return _peer(request, request.param)


def on(names: list[str]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("peer", names, indirect=True)


each_kind = pytest.mark.parametrize("kind", KINDS)
# The races at the timeout: uvloop's timers and reads take the asyncio link's paths.
threads_and_asyncio = pytest.mark.parametrize("kind", ["sync", "async"])


# -- helpers -------------------------------------------------------------------------------

async def timed(call: Awaitable[T]) -> tuple[T, float]:
    begun = time.monotonic()
    result = await call
    return result, time.monotonic() - begun


async def attempt(call: Awaitable[T]) -> T | hopwire.HopwireError:
    """The answer, or the typed error in its place."""
    try:
        return await call
    except hopwire.HopwireError as exc:
        return exc


def describe(response: Any) -> str:
    if isinstance(response, BaseException):
        return f"{type(response).__name__}: {response}"
    info = response.info
    return (f"{response.status} {response.http_version} {response.content[:40]!r} "
            f"connection={info.connection} reused={info.reused} replayed={info.replayed} "
            f"stream={info.stream_id}")


def expect(response: Any, body: bytes) -> None:
    assert isinstance(response, hopwire.HTTPResponse), describe(response)
    assert (response.status, response.http_version, response.content) == (200, "HTTP/2", body), \
        describe(response)


def idle_run(kind: str, peer: Peer, scenario: Callable[[Client], Awaitable[T]]) -> T:
    """`scenario` with one connection per host and a short pool wait (see the docstring)."""
    return run(kind, scenario, max_connections_per_host=1,
               timeout=hopwire.Timeout(5.0, pool=POOL_WAIT), **peer.options)


async def rounds_of(client: Client, gaps: tuple[float, ...],
                    call: Callable[[], Awaitable[T]]) -> list[tuple[T, float]]:
    """`call()` once, then again after each of `gaps`; each result with its duration."""
    results = [await timed(call())]
    for gap in gaps:
        await asyncio.sleep(gap)
        results.append(await timed(call()))
    return results


# -- 1. gaps longer than the server's keep-alive timeout ---------------------------------

@each_kind
@on(CLOSING)
def test_idle_gaps_longer_than_the_keep_alive_timeout(kind: str, peer: Peer) -> None:
    """The server closes the idle connection during each gap (nginx after a GOAWAY,
    hypercorn without): the next GET is answered at once on a new connection. The close
    was heard while idle, so nothing is replayed; a slot not given back would be a
    PoolTimeout."""
    url = peer.base + "/"

    async def scenario(c: Client) -> tuple[list[tuple[Any, float]], int]:
        results = await rounds_of(c, (IDLE_GAP,) * IDLE_ROUNDS,
                                  lambda: attempt(c.request("GET", url)))
        return results, c.pool.connections

    results, open_connections = idle_run(kind, peer, scenario)
    for response, elapsed in results:
        expect(response, peer.hello)
        assert elapsed < QUICK, f"{elapsed:.2f} s for {describe(response)}"
        assert not response.info.replayed, describe(response)
    connections = [response.info.connection for response, _ in results]
    assert len(set(connections)) == len(connections), connections  # a new one after each gap
    assert not any(response.info.reused for response, _ in results)
    assert open_connections == 1


@each_kind
@on(CLOSING)
def test_posts_after_idle_gaps_longer_than_the_keep_alive_timeout(kind: str, peer: Peer) -> None:
    """As above with POSTs, which nothing may send again unless the server said it did
    not process them: the close happened during the gap, so each POST must go on a new
    connection, at once, never replayed. nginx answers a POST before it has read the
    body and then resets the stream (RST_STREAM NO_ERROR, RFC 9113 §8.1): that frame
    waits on the idle connection ahead of the GOAWAY and the close: over TLS, where a read
    takes one record, `Pool`'s idle check must read on to see them."""
    url = peer.base + peer.post_path
    body = pattern(20 * KIB)

    async def scenario(c: Client) -> list[tuple[Any, float]]:
        return await rounds_of(c, (IDLE_GAP,) * IDLE_ROUNDS,
                               lambda: attempt(c.request("POST", url, body=body)))

    results = idle_run(kind, peer, scenario)
    for response, elapsed in results:
        expect(response, peer.posted(body))
        assert elapsed < QUICK, f"{elapsed:.2f} s for {describe(response)}"
        assert not response.info.replayed, describe(response)
    connections = [response.info.connection for response, _ in results]
    assert len(set(connections)) == len(connections), connections


# -- 2. a gap within it keeps the connection ----------------------------------------------

@each_kind
@on(CLOSING)
def test_idle_gaps_within_the_keep_alive_timeout(kind: str, peer: Peer) -> None:
    """Gaps of SHORT_GAP, well within the server's 1 s: one connection throughout."""
    url = peer.base + "/"

    async def scenario(c: Client) -> list[tuple[Any, float]]:
        return await rounds_of(c, (SHORT_GAP,) * 2, lambda: attempt(c.request("GET", url)))

    results = idle_run(kind, peer, scenario)
    for response, elapsed in results:
        expect(response, peer.hello)
        assert elapsed < QUICK, f"{elapsed:.2f} s for {describe(response)}"
        assert not response.info.replayed, describe(response)
    assert {response.info.connection for response, _ in results} == {1}
    assert all(response.info.reused for response, _ in results[1:])


# -- 3. gaps at the timeout: the close may meet the request --------------------------------

@threads_and_asyncio
@on(CLOSING)
def test_idle_gaps_at_the_keep_alive_timeout(kind: str, peer: Peer) -> None:
    """Gaps around the server's timeout: the close may come while a GET is on its way
    (hypercorn: no GOAWAY, no answer byte; nginx: a GOAWAY whose last stream id is below
    it). The GET must be answered all the same (sent again, RFC 9113 §6.8, RFC 9110
    §9.2.2), at once."""
    url = peer.base + "/"

    async def scenario(c: Client) -> list[tuple[Any, float]]:
        return await rounds_of(c, RACE_GAPS, lambda: attempt(c.request("GET", url)))

    results = idle_run(kind, peer, scenario)
    for response, elapsed in results:
        expect(response, peer.hello)
        assert elapsed < QUICK, f"{elapsed:.2f} s for {describe(response)}"


@threads_and_asyncio
@on(CLOSING)
def test_posts_at_the_keep_alive_timeout(kind: str, peer: Peer) -> None:
    """As above with POSTs: one that meets the close is sent again only where the server
    said it did not process it (nginx's GOAWAY, its last stream id below the POST's);
    hypercorn closes without a GOAWAY, so a POST it may have read fails with
    ConnectionLost(maybe_processed=True). A POST whose write failed on the closed
    connection fails with WriteError, unless the GOAWAY read behind the failure says it
    was not processed. Either way at once, never a hang, never a wrong answer."""
    url = peer.base + peer.post_path
    body = pattern(20 * KIB)

    async def scenario(c: Client) -> list[tuple[Any, float]]:
        return await rounds_of(c, RACE_GAPS, lambda: attempt(c.request("POST", url, body=body)))

    results = idle_run(kind, peer, scenario)
    for outcome, elapsed in results:
        assert elapsed < QUICK, f"{elapsed:.2f} s for {describe(outcome)}"
        if isinstance(outcome, hopwire.HopwireError):
            lost = isinstance(outcome, hopwire.ConnectionLost) and outcome.maybe_processed
            assert lost or isinstance(outcome, hopwire.WriteError), describe(outcome)
            continue
        expect(outcome, peer.posted(body))
        if outcome.info.replayed:  # only on the server's word that it did not process it
            assert peer.goaway_on_idle, describe(outcome)
    # The first POST went on a fresh connection before any gap: it cannot have failed.
    assert isinstance(results[0][0], hopwire.HTTPResponse), describe(results[0][0])


# -- 4. granian -------------------------------------------------------------------------

@each_kind
@on(GRANIAN)
def test_granian_exchanges(kind: str, peer: Peer) -> None:
    """Sequential GETs, 16 at once on one connection, 1.5 MiB each way, and a streamed
    answer read in pieces: one connection throughout, bodies intact."""
    base = peer.base
    size = MIB + MIB // 2  # past granian's 1 MiB windows and ours

    async def scenario(c: Client) -> list[Any]:
        sequential = [await c.request("GET", base + f"/seq/{i}") for i in range(5)]
        many = await c.gather(*[c.request("GET", base + f"/slow?ms={20 * (i % 4)}&i={i}")
                                for i in range(16)])
        up = await c.request("POST", base + "/echo", body=pattern(size))
        down = await c.request("GET", base + f"/bytes/{size}")
        streamed, chunks = await c.stream_chunks("GET", base + f"/bytes/{size}")
        info = await c.request("GET", base + "/info")
        return [sequential, many, up, down, (streamed, chunks), info]

    sequential, many, up, down, (streamed, chunks), info = run(kind, scenario, **peer.options)
    for i, response in enumerate(sequential):
        expect(response, f"/seq/{i}".encode())
        assert (response.header("server"), response.info.stream_id) == (b"granian", 2 * i + 1)
    for i, response in enumerate(many):
        expect(response, f"slow {20 * (i % 4)}".encode())
    assert max(r.info.streams for r in many) > 1, [r.info.streams for r in many]
    expect(up, pattern(size))
    expect(down, pattern(size))
    assert streamed.status == 200 and b"".join(chunks) == pattern(size)
    assert len(chunks) > 1  # read in pieces, as they came
    assert b'"http_version": "2"' in info.content
    responses = [*sequential, *many, up, down, streamed, info]
    assert {r.info.connection for r in responses} == {1}, [describe(r) for r in responses]


@each_kind
@on(GRANIAN)
def test_granian_idle_connection_is_pinged_and_kept(kind: str, peer: Peer) -> None:
    """granian never closes an idle HTTP/2 connection: after gaps longer than the pool's
    PING_IDLE (1 s), the pool checks it with a PING, granian answers, and the connection
    is reused at once."""
    url = peer.base + "/"

    async def scenario(c: Client) -> list[tuple[Any, float]]:
        return await rounds_of(c, (1.5,) * IDLE_ROUNDS, lambda: attempt(c.request("GET", url)))

    results = idle_run(kind, peer, scenario)
    for response, elapsed in results:
        expect(response, HELLO)
        assert elapsed < QUICK, f"{elapsed:.2f} s for {describe(response)}"
        assert not response.info.replayed, describe(response)
    assert {response.info.connection for response, _ in results} == {1}
    assert all(response.info.reused for response, _ in results[1:])


@each_kind
@on(["granian-pinging-tls", "granian-pinging-h2c"])
def test_granian_pings_an_idle_connection(kind: str, peer: Peer) -> None:
    """granian PINGs every GRANIAN_PING_INTERVAL ms and closes a connection whose PING
    goes unanswered for GRANIAN_PING_TIMEOUT s (a GOAWAY, then the close). `AsyncPool`
    reads while idle and answers: the connection is kept across the gaps. `Pool` has no
    reader while idle: granian closes the connection during each gap, and the POST after
    it must go on a new connection, at once, nothing replayed: the close was on the
    socket before the POST was sent."""
    url = peer.base + "/echo"
    gap = GRANIAN_PING_INTERVAL / 1000 + GRANIAN_PING_TIMEOUT + 0.5

    async def scenario(c: Client) -> list[tuple[Any, float]]:
        rounds = await rounds_of(c, (gap,) * IDLE_ROUNDS,
                                 lambda: attempt(c.request("POST", url, body=b"after a gap")))
        return rounds

    results = idle_run(kind, peer, scenario)
    for response, elapsed in results:
        expect(response, b"after a gap")
        assert elapsed < QUICK, f"{elapsed:.2f} s for {describe(response)}"
        assert not response.info.replayed, describe(response)
    connections = [response.info.connection for response, _ in results]
    if kind == "sync":
        assert len(set(connections)) == len(connections), connections
    else:
        assert set(connections) == {1}, connections
