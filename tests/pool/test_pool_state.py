"""Tests of hopwire._pool.state, the sans-I/O bookkeeping of the connection pool.

No sockets: each entry holds a real `Connection` driven by scripted response
bytes, so idle, busy, closing and closed are the connection's own states. The
policy under test is the one of the module docstring (issue 3, "Parallel
connections", "Persistent connections", "Pipelining"). A bounded hypothesis
state machine at the end drives random acquire/answer/discard/expire/cancel
sequences and checks the caps, the leases and that no waiter is lost.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hopwire._pool.connection import Connection, ConnectionState
from hopwire._pool.state import (
    Dial,
    Entry,
    EvictThenDial,
    Origin,
    PoolState,
    PoolStateError,
    Use,
    Wait,
    _Request,
    idle_lifetime,
)

A = Origin("http", "a.example", 80)
B = Origin("http", "b.example", 80)
C = Origin("https", "c.example", 443)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
HTTP10 = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"


def keep_alive(timeout: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=%d\r\nContent-Length: 2\r\n\r\nok" % timeout


# -- helpers ---------------------------------------------------------------------

def send(entry: Entry, method: bytes = b"GET") -> int:
    kw: dict[str, Any] = {"body_length": 1} if method == b"POST" else {}
    request_id, _ = entry.connection.send_request(method, b"/", host=entry.origin.host.encode(), **kw)
    if method == b"POST":
        entry.connection.send_body(request_id, b"x")
        entry.connection.end_body(request_id)
    return request_id


def dial(pool: PoolState, waiter: Hashable, origin: Origin, now: float = 0.0,
         method: bytes = b"GET") -> Entry:
    """acquire() must dial; connect and send the request; return the entry (busy)."""
    assert pool.acquire(waiter, origin, method, now) == Dial(origin)
    entry = pool.connected(origin, Connection(pipeline_depth=pool.pipeline_depth), now,
                           pipelinable=method == b"GET")
    send(entry, method)
    assert pool.sent(entry, now, pipelinable=method == b"GET") == []
    return entry


def answer(pool: PoolState, entry: Entry, now: float, data: bytes = OK) -> list[tuple[Hashable, Any]]:
    """The server answers the oldest request; the caller releases the entry."""
    entry.connection.receive_data(data)
    return pool.released(entry, now)


def idle(pool: PoolState, origin: Origin, now: float = 0.0, data: bytes = OK) -> Entry:
    """A connection of the origin that answered one request and is idle in the pool."""
    entry = dial(pool, object(), origin, now)
    assert answer(pool, entry, now, data) == []
    assert entry.is_available
    return entry


def use(pool: PoolState, waiter: Hashable, origin: Origin, now: float = 0.0,
        method: bytes = b"GET") -> Entry:
    action = pool.acquire(waiter, origin, method, now)
    assert isinstance(action, Use), action
    send(action.entry, method)
    assert pool.sent(action.entry, now, pipelinable=method == b"GET") == []
    return action.entry


# -- reuse -----------------------------------------------------------------------

def test_idle_connection_is_reused() -> None:
    pool = PoolState()
    entry = idle(pool, A)
    assert use(pool, "w", A, 1.0) is entry
    assert entry.leases == 1 and entry.idle_since is None
    assert pool.count() == 1 and pool.count(A) == 1 and pool.idle_count() == 0


def test_most_recently_used_idle_connection_first() -> None:
    pool = PoolState()
    first, second = dial(pool, 1, A), dial(pool, 2, A)
    answer(pool, second, 1.0)
    answer(pool, first, 2.0)  # first went idle last: it is the most recently used
    assert use(pool, 3, A, 3.0) is first
    assert use(pool, 4, A, 3.0) is second


def test_idle_connection_of_another_origin_is_not_reused() -> None:
    pool = PoolState()
    idle(pool, A)
    assert pool.acquire("w", B, "GET", 1.0) == Dial(B)


# -- dialling and caps -------------------------------------------------------------

@pytest.mark.parametrize("per_host, total, origins, expected", [
    (2, 10, [A, A], Wait()),  # per-host cap
    (2, 10, [A, B], Dial(A)),  # another origin does not count towards A's cap
    (10, 2, [B, C], Wait()),  # global cap, no idle connection to evict
    (10, 3, [A, B], Dial(A)),  # below both
])
def test_dial_below_the_caps(per_host: int, total: int, origins: list[Origin], expected: Any) -> None:
    pool = PoolState(max_connections=total, max_connections_per_host=per_host)
    for i, origin in enumerate(origins):
        dial(pool, i, origin)
    assert pool.acquire("w", A, "GET", 0.0) == expected
    assert pool.count() == len(origins) + (expected != Wait())


def test_dials_in_progress_count_towards_the_caps() -> None:
    pool = PoolState(max_connections_per_host=1)
    assert pool.acquire(1, A, "GET", 0.0) == Dial(A)
    assert pool.dialing == 1 and pool.count(A) == 1
    assert pool.acquire(2, A, "GET", 0.0) == Wait()
    assert pool.dial_failed(A, 1.0) == [(2, Dial(A))]  # the failed dial's slot goes to the waiter
    assert pool.dialing == 1


# -- pipelining --------------------------------------------------------------------

def proven_busy(pool: PoolState, waiter: Hashable, origin: Origin = A, requests: int = 1) -> Entry:
    """A connection proven persistent with `requests` GETs in flight."""
    entry = idle(pool, origin)
    for i in range(requests):
        assert use(pool, (waiter, i), origin) is entry
    return entry


def test_pipelining_only_at_the_cap() -> None:
    pool = PoolState(max_connections_per_host=2, pipeline_depth=4)
    busy = proven_busy(pool, "x")
    assert pool.acquire("w", A, "GET", 0.0) == Dial(A)  # parallel beats pipelining
    pool.connected(A, Connection(pipeline_depth=4), 0.0)
    assert pool.acquire("v", A, "GET", 0.0) == Use(busy)  # at the cap: pipeline


@pytest.mark.parametrize("name, depth, method, kw, proven, failures, expected", [
    ("safe method, proven", 4, "GET", {}, True, 0, True),
    ("depth 1: no pipelining", 1, "GET", {}, True, 0, False),
    ("not proven (HTTP/1.0)", 4, "GET", {}, False, 0, False),
    ("unsafe method", 4, "POST", {}, True, 0, False),
    ("expect 100-continue", 4, "GET", {"expect_continue": True}, True, 0, False),
    ("upgrade", 4, "GET", {"upgrade": True}, True, 0, False),
    ("one failure: still pipelined", 4, "GET", {}, True, 1, True),
    ("two failures: disabled", 4, "GET", {}, True, 2, False),
])
def test_pipelining_needs_can_send_and_an_enabled_origin(
        name: str, depth: int, method: str, kw: dict[str, bool], proven: bool, failures: int,
        expected: bool) -> None:
    pool = PoolState(max_connections_per_host=1, pipeline_depth=depth)
    entry = idle(pool, A, data=OK if proven else HTTP10)
    assert use(pool, "x", A) is entry
    for _ in range(failures):
        pool.note_pipeline_failure(A)
    action = pool.acquire("w", A, method, 0.0, **kw)
    assert action == (Use(entry) if expected else Wait())
    if expected:
        assert entry.connection.can_send(method, **kw)


def test_no_pipelining_behind_a_lease_not_yet_sent() -> None:
    pool = PoolState(max_connections_per_host=1, pipeline_depth=4)
    entry = idle(pool, A)
    assert pool.acquire("x", A, "POST", 0.0) == Use(entry)  # handed out, not recorded yet
    assert pool.acquire("w", A, "GET", 0.0) == Wait()  # can_send would not see the POST


def test_waiters_woken_together_pipeline_together() -> None:
    pool = PoolState(max_connections_per_host=1, pipeline_depth=4)
    entry = dial(pool, "first", A)
    assert [pool.acquire(w, A, "GET", 0.0) for w in ("w1", "w2")] == [Wait(), Wait()]
    # The answer proves the connection: both GETs may go, in whatever order they are sent.
    assert answer(pool, entry, 1.0) == [("w1", Use(entry)), ("w2", Use(entry))]
    assert entry.unsent == 2


def test_unsent_leases_count_towards_the_servers_request_limit() -> None:
    # Keep-Alive: max=2 leaves one request after the first: of two waiters woken
    # together only one may have the connection; the other waits for a new one.
    pool = PoolState(max_connections_per_host=1, pipeline_depth=4)
    entry = dial(pool, "first", A)
    assert [pool.acquire(w, A, "GET", 0.0) for w in ("w1", "w2")] == [Wait(), Wait()]
    limited = b"HTTP/1.1 200 OK\r\nKeep-Alive: max=2\r\nContent-Length: 2\r\n\r\nok"
    assert answer(pool, entry, 1.0, limited) == [("w1", Use(entry))]
    assert entry.connection.requests_left == 1 and entry.unsent == 1


def test_unsent_leases_count_towards_the_depth() -> None:
    pool = PoolState(max_connections_per_host=1, pipeline_depth=2)
    entry = proven_busy(pool, "x")  # one GET in flight
    assert pool.acquire("y", A, "GET", 0.0) == Use(entry)  # 1 in flight + 0 unsent < 2
    assert pool.acquire("z", A, "GET", 0.0) == Wait()  # 1 in flight + 1 unsent: full


def test_pipelining_picks_the_least_loaded_connection() -> None:
    pool = PoolState(max_connections_per_host=3, pipeline_depth=8)
    loads = [3, 1, 2]
    entries = [dial(pool, i, A) for i in range(len(loads))]
    for entry, load in zip(entries, loads):
        answer(pool, entry, 0.0)
        for i in range(load):
            entry.leases += 1  # hand out directly, as acquire() would to distinct callers
            entry.idle_since = entry.expires_at = None
            send(entry)
    assert pool.acquire("w", A, "GET", 0.0) == Use(entries[1])


def test_pipelining_disabled_after_two_failures() -> None:
    pool = PoolState(pipeline_depth=4)
    assert pool.pipelining_enabled(A)
    pool.note_pipeline_failure(A)
    assert pool.pipelining_enabled(A)
    pool.note_pipeline_failure(A)
    assert not pool.pipelining_enabled(A) and pool.pipelining_enabled(B)
    assert not PoolState(pipeline_depth=1).pipelining_enabled(A)


# -- eviction ----------------------------------------------------------------------

def test_global_cap_evicts_the_least_recently_used_idle_connection_of_another_origin() -> None:
    pool = PoolState(max_connections=3)
    old_b = idle(pool, B, 1.0)
    idle(pool, C, 2.0)
    dial(pool, "a", A)
    action = pool.acquire("w", A, "GET", 3.0)
    assert action == EvictThenDial(old_b, A)
    assert old_b not in pool.entries and pool.count() == 3 and pool.dialing == 1


def test_pipelining_is_preferred_to_eviction() -> None:
    pool = PoolState(max_connections=2, pipeline_depth=2)
    idle(pool, B)
    busy = proven_busy(pool, "x")
    assert pool.acquire("w", A, "GET", 0.0) == Use(busy)


def test_per_host_cap_does_not_evict_other_origins() -> None:
    pool = PoolState(max_connections=3, max_connections_per_host=1)
    idle(pool, B)
    dial(pool, "a", A)
    assert pool.acquire("w", A, "GET", 0.0) == Wait()


def test_an_expired_idle_connection_of_the_origin_is_replaced_at_the_cap() -> None:
    pool = PoolState(max_connections_per_host=1, keepalive_expiry=5.0)
    entry = idle(pool, A, 0.0)
    assert pool.acquire("w", A, "GET", 5.0) == EvictThenDial(entry, A)


# -- waking waiters ----------------------------------------------------------------

def test_release_wakes_waiters_in_fifo_order() -> None:
    pool = PoolState(max_connections_per_host=1)
    entry = dial(pool, "first", A)
    assert [pool.acquire(w, A, "GET", 0.0) for w in ("w1", "w2")] == [Wait(), Wait()]
    assert pool.waiting == ("w1", "w2")
    assert answer(pool, entry, 1.0) == [("w1", Use(entry))]
    send(entry)
    assert answer(pool, entry, 2.0) == [("w2", Use(entry))]
    assert not pool.waiting


def test_release_skips_waiters_that_cannot_use_the_connection() -> None:
    pool = PoolState(max_connections_per_host=1)
    entry = dial(pool, "first", A)
    pool.acquire("b", B, "GET", 0.0)  # not capped: this one dials
    assert pool.acquire("a", A, "GET", 0.0) == Wait()
    assert answer(pool, entry, 1.0) == [("a", Use(entry))]


def test_discard_gives_the_slot_to_the_oldest_waiter_of_any_origin() -> None:
    pool = PoolState(max_connections=1)
    entry = dial(pool, "first", A)
    pool.acquire("b", B, "GET", 0.0)
    pool.acquire("a", A, "GET", 0.0)
    entry.connection.close()
    assert pool.discard(entry, 1.0) == [("b", Dial(B))]
    assert entry not in pool.entries and pool.waiting == ("a",)


@pytest.mark.parametrize("data, how", [
    (CLOSE, "Connection: close"),
    (b"HTTP/1.1 200 OK\r\nKeep-Alive: max=1\r\nContent-Length: 2\r\n\r\nok", "Keep-Alive: max=1"),
    (b"HTTP/1.1 200 OK\r\n\r\nclose-delimited", "read until close"),
])
def test_a_closed_connection_leaves_the_pool_and_its_slot_is_dialled(data: bytes, how: str) -> None:
    pool = PoolState(max_connections=1)
    entry = dial(pool, "first", A)
    pool.acquire("w", A, "GET", 0.0)
    entry.connection.receive_data(data)
    if how == "read until close":
        entry.connection.receive_eof()
    assert not entry.connection.is_reusable
    assert pool.released(entry, 1.0) == [("w", Dial(A))]
    assert entry not in pool.entries
    assert pool.released(entry, 2.0) == []  # a second release of a dropped entry is harmless


def test_switched_connection_leaves_the_pool() -> None:
    pool = PoolState()
    entry = dial(pool, "w", A, method=b"GET")
    answer(pool, entry, 0.0)
    action = pool.acquire("ws", A, "GET", 0.0, upgrade=True)
    assert action == Use(entry)
    entry.connection.send_request(b"GET", b"/", [(b"Upgrade", b"websocket"), (b"Connection", b"upgrade")],
                                  host=b"a")
    entry.connection.receive_data(b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
    assert entry.connection.state is ConnectionState.SWITCHED
    pool.released(entry, 1.0)
    assert pool.entries == ()


# -- expiry --------------------------------------------------------------------------

@pytest.mark.parametrize("expiry, server_timeout, lifetime", [
    (5.0, None, 5.0),  # our own expiry
    (5.0, 3, 2.0),  # server's timeout=3 minus the 1 s margin
    (5.0, 10, 5.0),  # ours is shorter
    (5.0, 1, 0.5),  # the margin is at most half the timeout
    (5.0, 0, 0.0),  # timeout=0: never reused
])
def test_idle_lifetime(expiry: float, server_timeout: int | None, lifetime: float) -> None:
    assert idle_lifetime(expiry, server_timeout) == lifetime


@pytest.mark.parametrize("data, expires_at", [(OK, 15.0), (keep_alive(3), 12.0)])
def test_expiry_from_keepalive_expiry_and_the_servers_timeout(data: bytes, expires_at: float) -> None:
    pool = PoolState(keepalive_expiry=5.0)
    entry = idle(pool, A, 10.0, data=data)
    assert entry.expires_at == expires_at
    assert pool.expire(expires_at - 0.1) == []
    assert pool.acquire("w", A, "GET", expires_at - 0.1) == Use(entry)
    send(entry)
    answer(pool, entry, 20.0)  # idle again from 20
    assert pool.acquire("late", A, "GET", 20.0 + expires_at - 10.0) == Dial(A)  # never an expired one
    assert pool.expire(20.0 + expires_at - 10.0) == [entry]
    assert entry not in pool.entries


def test_busy_connections_do_not_expire() -> None:
    pool = PoolState(keepalive_expiry=1.0)
    entry = dial(pool, "w", A)
    assert pool.expire(100.0) == [] and pool.entries == (entry,)


# -- waiters: timeouts, cancel, misuse ---------------------------------------------

def test_timed_out_and_cancel() -> None:
    pool = PoolState(max_connections=1)
    entry = dial(pool, "first", A)
    pool.acquire("soon", A, "GET", 0.0, deadline=2.0)
    pool.acquire("never", A, "GET", 0.0)
    pool.acquire("later", A, "GET", 0.0, deadline=5.0)
    assert pool.timed_out(1.9) == ([], [])
    assert pool.timed_out(2.0) == (["soon"], [])
    assert pool.cancel("never", 2.5) == [] and pool.cancel("never", 2.5) is None
    assert pool.waiting == ("later",)
    assert answer(pool, entry, 3.0) == [("later", Use(entry))]


def test_misuse() -> None:
    pool = PoolState(max_connections=1)
    dial(pool, "first", A)
    pool.acquire("w", A, "GET", 0.0)
    with pytest.raises(PoolStateError):
        pool.acquire("w", A, "GET", 0.0)  # already waiting
    with pytest.raises(PoolStateError):
        pool.dial_failed(B, 0.0)  # no dial in progress
    with pytest.raises(ValueError):
        PoolState(max_connections=0)


def test_close_returns_every_connection() -> None:
    pool = PoolState()
    entries = {dial(pool, 1, A), idle(pool, B)}
    pool.acquire("dialing", C, "GET", 0.0)
    assert set(pool.close()) == entries
    assert pool.entries == () and pool.waiting == () and pool.count() == 0
    with pytest.raises(PoolStateError):
        pool.acquire("w", A, "GET", 0.0)


# -- property: random sequences against the invariants -------------------------------

RESPONSES = [OK, OK, CLOSE, keep_alive(2), b"HTTP/1.1 200 OK\r\nKeep-Alive: max=2\r\nContent-Length: 2\r\n\r\nok"]


class PoolMachine(RuleBasedStateMachine):
    """Random acquires, answers, discards, dial failures, expiry, timeouts and cancels.

    The machine plays the driver: it carries out every action at once (a dial
    connects or fails, a Use sends its request), and tracks which caller holds
    which request on which entry, to check the pool's leases and waiters.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pool = PoolState(max_connections=3, max_connections_per_host=2, pipeline_depth=3,
                              keepalive_expiry=3.0)
        self.now = 0.0
        self.next_id = 0
        self.holders: dict[Entry, list[int]] = {}  # waiter ids in the order their requests were sent
        self.waiting: list[int] = []
        self.served: set[int] = set()
        self.gone: set[int] = set()  # timed out or cancelled
        self.methods: dict[int, bytes] = {}
        self.dial_fails: list[bool] = []

    def carry_out(self, waiter: int, action: Any) -> None:
        assert waiter not in self.served and waiter not in self.gone
        self.served.add(waiter)
        method = self.methods[waiter]
        kind = type(action).__name__
        event(kind + (" (pipelined)" if isinstance(action, Use) and action.entry.leases > 1 else ""))
        if isinstance(action, EvictThenDial):
            assert action.entry.leases == 0 and action.entry.connection.is_idle
            assert not self.holders.pop(action.entry, [])
            action = Dial(action.origin)
        if isinstance(action, Dial):
            if self.dial_fails and self.dial_fails.pop():
                self.wake(self.pool.dial_failed(action.origin, self.now))
                return
            entry = self.pool.connected(action.origin, Connection(pipeline_depth=3), self.now,
                                        pipelinable=method == b"GET")
        else:
            entry = action.entry
            assert entry in self.pool.entries
            assert entry.connection.can_send(method), (entry, method)
            assert entry.origin == action.entry.origin
        send(entry, method)
        self.holders.setdefault(entry, []).append(waiter)
        self.wake(self.pool.sent(entry, self.now, pipelinable=method == b"GET"))

    def wake(self, woken: list[tuple[Hashable, Any]]) -> None:
        for waiter, action in woken:
            assert isinstance(waiter, int) and waiter in self.waiting
            self.waiting.remove(waiter)
            self.carry_out(waiter, action)

    @rule(origin=st.sampled_from([A, B, C]), method=st.sampled_from([b"GET", b"GET", b"POST"]),
          patience=st.none() | st.floats(0.5, 5.0), fail=st.booleans())
    def acquire(self, origin: Origin, method: bytes, patience: float | None, fail: bool) -> None:
        waiter, self.next_id = self.next_id, self.next_id + 1
        self.methods[waiter] = method
        self.dial_fails = [fail]
        deadline = None if patience is None else self.now + patience
        action = self.pool.acquire(waiter, origin, method, self.now, deadline=deadline)
        if isinstance(action, Wait):
            event("Wait")
            self.waiting.append(waiter)
        else:
            self.carry_out(waiter, action)
        self.dial_fails = []

    @rule(origin=st.sampled_from([A, B, C]), method=st.sampled_from([b"GET", b"GET", b"POST"]))
    def acquire_now_first(self, origin: Origin, method: bytes) -> None:
        """What the drivers do: `acquire_now()`, which gives the `Use` that `acquire()`
        would give (and changes nothing when it would do anything else), then `acquire()`."""
        waiter, self.next_id = self.next_id, self.next_id + 1
        self.methods[waiter] = method
        # With others of the origin waiting, a new request queues behind them (FIFO).
        queued = self.pool._head(origin) is not None
        planned = Wait() if queued else self.pool._plan(_Request(origin, method, None, False, False),
                                                        self.now)
        before = [(e, e.leases, e.unsent, e.unsent_blockers, e.idle_since, e.expires_at)
                  for e in self.pool.entries]
        entry = self.pool.acquire_now(origin, method, self.now)
        if entry is not None:
            assert planned == Use(entry)
            event("acquire_now: Use")
            self.carry_out(waiter, Use(entry))
            return
        assert not isinstance(planned, Use), planned
        assert before == [(e, e.leases, e.unsent, e.unsent_blockers, e.idle_since, e.expires_at)
                          for e in self.pool.entries]
        action = self.pool.acquire(waiter, origin, method, self.now)
        assert not isinstance(action, Use)
        if isinstance(action, Wait):
            self.waiting.append(waiter)
        else:
            self.carry_out(waiter, action)

    @precondition(lambda self: any(self.holders.values()))
    @rule(data=st.data(), response=st.sampled_from(RESPONSES))
    def answer(self, data: st.DataObject, response: bytes) -> None:
        entry = data.draw(st.sampled_from([e for e, h in self.holders.items() if h]))
        conn = entry.connection
        if conn.is_reusable and conn.in_flight:
            conn.receive_data(response)
            self.holders[entry].pop(0)
            self.wake(self.pool.released(entry, self.now))
        else:  # ended under its other requests: each caller gives up
            for _ in self.holders.pop(entry):
                self.wake(self.pool.released(entry, self.now))

    @precondition(lambda self: self.pool.entries)
    @rule(data=st.data())
    def discard(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(self.pool.entries))
        entry.connection.close()
        self.holders.pop(entry, None)
        self.wake(self.pool.discard(entry, self.now))

    @rule(dt=st.floats(0.0, 3.0))
    def tick(self, dt: float) -> None:
        self.now += dt
        for entry in self.pool.expire(self.now):
            assert not self.holders.get(entry) and entry.connection.is_idle
            entry.connection.close()
        late, woken = self.pool.timed_out(self.now)
        for waiter in late:
            assert isinstance(waiter, int)
            self.waiting.remove(waiter)
            self.gone.add(waiter)
        self.wake(woken)

    @precondition(lambda self: self.waiting)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        waiter = data.draw(st.sampled_from(self.waiting))
        woken = self.pool.cancel(waiter, self.now)
        assert woken is not None
        self.waiting.remove(waiter)
        self.gone.add(waiter)
        self.wake(woken)

    @invariant()
    def caps_hold(self) -> None:
        assert self.pool.count() <= 3
        for origin in (A, B, C):
            assert self.pool.count(origin) <= 2

    @invariant()
    def leases_match_holders(self) -> None:
        for entry in self.pool.entries:
            assert entry.leases == len(self.holders.get(entry, [])) == entry.connection.in_flight
            assert entry.connection.state not in (ConnectionState.CLOSED, ConnectionState.BROKEN)

    @invariant()
    def no_waiter_lost_or_duplicated(self) -> None:
        assert list(self.pool.waiting) == self.waiting
        everyone = set(range(self.next_id))
        assert set(self.waiting) | self.served | self.gone == everyone
        assert len(self.waiting) + len(self.served) + len(self.gone) == self.next_id

    @invariant()
    def no_head_of_a_queue_could_be_served(self) -> None:
        for origin in (A, B, C):
            head = self.pool._head(origin)
            if head is not None:
                assert isinstance(self.pool._plan(head.request, self.now), Wait)

    @invariant()
    def queues_are_fifo_per_origin(self) -> None:
        live = [q for queue in self.pool._queues.values() for q in queue
                if self.pool._waiters.get(q.waiter) is q]
        assert sorted(q.waiter for q in live) == sorted(self.waiting)
        for queue in self.pool._queues.values():
            orders = [q.order for q in queue]
            assert orders == sorted(orders)


PoolMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
test_pool_state_machine = pytest.mark.slow(PoolMachine.TestCase)  # a long hypothesis run


def test_acquire_now_takes_an_idle_connection_or_joins_a_pipeline_only() -> None:
    pool = PoolState(max_connections_per_host=1, pipeline_depth=4)
    assert pool.acquire_now(A, b"GET", 0.0) is None  # it would dial: nothing changed
    assert pool.count() == 0 and pool.dialing == 0
    entry = idle(pool, A)
    assert pool.acquire_now(A, b"GET", 1.0) is entry  # step 1
    assert entry.leases == 1 and entry.unsent == 1 and entry.idle_since is None
    send(entry)
    assert pool.sent(entry, 1.0) == []
    assert pool.acquire_now(A, b"GET", 1.0) is entry  # step 3: joins the pipeline
    assert pool.acquire_now(A, b"POST", 1.0) is None  # not behind the unsent GET's pipeline
    assert entry.leases == 2 and entry.unsent == 1 and entry.unsent_blockers == 0
    assert pool.acquire_now(B, b"GET", 1.0) is None  # another origin: a dial
    no_pipelining = PoolState(max_connections_per_host=1)
    busy = dial(no_pipelining, "x", A)
    assert no_pipelining.acquire_now(A, b"GET", 0.0) is None and busy.leases == 1
    pool.close()
    with pytest.raises(PoolStateError):
        pool.acquire_now(A, b"GET", 0.0)


def test_an_answered_lease_not_yet_released_does_not_block_pipelining() -> None:
    pool = PoolState(max_connections_per_host=1, pipeline_depth=4)
    entry = proven_busy(pool, "x")
    entry.connection.receive_data(OK)  # answered; its caller is still reading, not released
    assert use(pool, "y", A) is entry
    assert use(pool, "z", A) is entry  # and again: only unsent leases hold pipelining back


def test_a_lease_given_up_before_sending_frees_the_pipeline() -> None:
    pool = PoolState(max_connections_per_host=1, pipeline_depth=4)
    entry = idle(pool, A)
    assert pool.acquire("y", A, "POST", 0.0) == Use(entry)
    assert pool.acquire("w", A, "GET", 0.0) == Wait()  # not behind an unsent POST
    assert pool.released(entry, 0.0, sent=False, pipelinable=False) == [("w", Use(entry))]
