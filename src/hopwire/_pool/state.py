"""The connection pool's bookkeeping, without I/O.

Strategy (httpcore): the pool's decisions are plain code that returns what to
do. No sockets, clocks, locks or loops: time comes in as `now` (seconds, any
monotonic origin), and the asyncio and sync drivers hold their lock around
each call and carry out the actions it returns (`Use`, `Dial`,
`EvictThenDial`, `Wait`). The pool tracks one `Entry` per live connection (the
driver's `Connection`, its origin, when it went idle and expires, and how many
callers hold it: `leases`) plus the dials in progress, and a FIFO of waiters.

Policy of `acquire()`, the first that applies:

1. an idle, reusable, unexpired connection of the origin, the most recently
   used first (so the others sit unused and can expire);
2. below the per-host and global caps: dial a new connection. Parallel
   connections beat pipelining: no head-of-line blocking behind a slow answer;
3. at a cap: pipeline on the busy connection of the origin with the fewest
   requests in flight whose `can_send()` allows the request (proven
   persistent, safe method, no barrier, below `pipeline_depth`: RFC 9112
   §9.3.2), if pipelining is enabled for the origin;
4. a slot can be freed by closing an idle connection: an expired one of the
   origin, or (at the global cap) the least recently used idle connection of
   another origin: `EvictThenDial`;
5. otherwise wait in the origin's FIFO queue. While an origin has callers
   waiting, a new request of that origin waits behind them (FIFO: a request
   that cannot pipeline is not overtaken for ever by ones that can).

A connection that ended while nobody held it (the server closed it while
idle, or sent bytes nobody asked for) holds no slot: every decision leaves it
out, and the next `acquire()`, wake-up or `expire()` drops it from the pool.
Whoever saw it end (the driver's read of the transport) closed its transport.

A connection is leased to a caller by `Use` and by `Dial` (the entry from
`connected()`); the caller gives it back with `released()` once its response
ended or it gave up. Until its request is recorded on the connection
(`sent()`), a lease is `unsent`: `can_send()` cannot see it. A request joins
a pipeline behind unsent leases only when it and all of them may be
pipelined (safe method, no barrier) on a connection proven persistent, and
the requests in flight plus the unsent ones stay below `pipeline_depth`;
callers woken together can then pipeline together, whatever order they send in.

Expiry: an idle connection expires at idle_since + min(keepalive_expiry,
server timeout - margin), the server timeout being its `Keep-Alive: timeout=`;
the margin is 1 s, at most half the timeout, so that the request is not in the
air when the server closes just as its timeout ends. Expired idle
connections are never handed out; `expire()` returns them for closing.

Waking: every call that frees capacity or opens a pipeline (`released`,
`discard`, `dial_failed`, and `sent`, which the driver calls once a handed-out
request is recorded on its connection) hands it to the waiters that can use it
now: per origin, from the head of its queue until a head cannot be served;
across origins, the oldest head first. So serving the next waiter costs the
same with ten waiters or ten thousand (a `gather` of many requests on a
bounded pool). After each call no head of a queue could be served.
`expire()` needs no wake-up: a waiter never waits while an idle connection
could serve it or be evicted for it. A cancelled waiter leaves its place in
its queue lazily (skipped when it comes to the head).

Multiplexing (HTTP/2, RFC 9113): a connection whose `multiplexed` is true
carries requests at once on streams, in any order, up to its `room()` (the
server's SETTINGS_MAX_CONCURRENT_STREAMS less the streams open) less its unsent
leases. For an origin that may multiplex (`multiplex_schemes`, and not known
to want HTTP/1.1: `h1_only`), policy step 0 comes before all others: the
multiplexed connection of the origin with the most streams to spare. And
while a dial to such an origin is under way, its other requests wait instead
of dialing too: that connection may carry them all, which ALPN (or prior
knowledge) says once it is open. `retry_waiters()` then hands them the new
connection, or lets them dial (HTTP/1.1); and while a new multiplexed
connection waits for the server's SETTINGS (its limit of streams, assumed to
be one until then: see `h2session`), the same: `retry_waiters()` once they
came. A multiplexed connection with no stream to spare is otherwise no
reason to wait: a request then dials another one, up to the caps (steps 2
to 5).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple, Union

from .._wire import rules as R
from .connection import BROKEN, CLOSED, SWITCHED, Connection, ConnectionBase
from .._errors import HopwireError

Waiter = Hashable  # an opaque id chosen by the driver

SAFETY_MARGIN = 1.0  # seconds before a server's Keep-Alive timeout an idle connection expires
PIPELINE_FAILURES = 2  # failures mid-pipeline after which an origin is no longer pipelined
_ENDED = frozenset([CLOSED, BROKEN, SWITCHED])
_SAFE = R.SAFE_METHODS  # (a module global: a module's attribute is looked up at every use)


class PoolStateError(HopwireError, RuntimeError):
    """The driver asked for something the pool's state does not allow."""


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int


class Entry:
    """One live connection of the pool; compared by identity."""

    __slots__ = ("connection", "origin", "serial", "idle_since", "expires_at", "leases", "unsent",
                 "unsent_blockers", "pooled", "link")

    def __init__(self, connection: ConnectionBase, origin: Origin, serial: int = 0) -> None:
        self.connection = connection
        self.origin = origin
        self.serial = serial  # the order in which the pool's connections were opened
        self.idle_since: float | None = None  # None while leased or busy
        self.expires_at: float | None = None
        self.leases = 0  # callers that hold it: requests handed out and not released
        self.unsent = 0  # leases whose request is not recorded on the connection yet (`sent()`)
        self.unsent_blockers = 0  # of those, the ones that may not be pipelined
        self.pooled = False  # in its PoolState's entries (a list: `in` would compare each)
        self.link: Any = None  # the driver's link: its transport for the connection (opaque here)

    @property
    def is_available(self) -> bool:
        """Idle, with no caller holding it: it may be handed out (if unexpired)."""
        return self.leases == 0 and self.idle_since is not None and self.connection.is_idle

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def is_dead(self) -> bool:
        """Ended while nobody held it (closed by the server while idle): it holds no slot."""
        return self.leases == 0 and self.connection.has_ended()

    def __repr__(self) -> str:
        return (f"<Entry {self.origin.host}:{self.origin.port} leases={self.leases} "
                f"unsent={self.unsent} {self.connection!r}>")


@dataclass(slots=True)
class Use:
    """Send on this connection now (idle, or busy and able to pipeline)."""

    entry: Entry


@dataclass(slots=True)
class Dial:
    """Open a connection to the origin, then call `connected()` (or `dial_failed()`)."""

    origin: Origin


@dataclass(slots=True)
class EvictThenDial:
    """Close `entry` (already out of the pool), then dial as for `Dial`."""

    entry: Entry
    origin: Origin


@dataclass(slots=True)
class Wait:
    """Queued: a later call returns this waiter's action, or `timed_out()` names it."""


Action = Union[Use, Dial, EvictThenDial, Wait]
WAIT = Wait()
Wakeups = list[tuple[Waiter, Action]]


class _Request(NamedTuple):
    origin: Origin
    method: bytes
    deadline: float | None
    expect_continue: bool
    upgrade: bool
    fresh: bool = False  # only a new connection will do
    min_serial: int = 0  # only connections opened since this serial will do


class _Queued:
    """A waiter's place in its origin's queue (compared by identity: a waiter id
    cancelled and queued again has a new place)."""

    __slots__ = ("waiter", "request", "order")

    def __init__(self, waiter: Waiter, request: _Request, order: int) -> None:
        self.waiter = waiter
        self.request = request
        self.order = order  # when it was queued, across origins


def _unlease(entry: Entry, pipelinable: bool) -> None:
    """A leased request will not be sent (or was): it no longer counts as unsent."""
    if entry.unsent > 0:
        entry.unsent -= 1
        if not pipelinable and entry.unsent_blockers > 0:
            entry.unsent_blockers -= 1


def _pipelinable(method: bytes, expect_continue: bool, upgrade: bool) -> bool:
    """May a request go into a pipeline (RFC 9112 §9.3.2; see `Connection.refusal`)?"""
    return method in _SAFE and not expect_continue and not upgrade


def _within(requests_left: int | None, unsent: int) -> bool:
    """Does `Keep-Alive: max=` leave room for one more request behind the unsent leases?"""
    return requests_left is None or unsent < requests_left


def idle_lifetime(keepalive_expiry: float, server_timeout: int | None) -> float:
    """Seconds an idle connection may be reused: see the module's "Expiry"."""
    if server_timeout is None:
        return keepalive_expiry
    return min(keepalive_expiry, server_timeout - min(SAFETY_MARGIN, server_timeout / 2))


class PoolState:
    """Which connection each request goes on, and who waits; see the module docstring."""

    def __init__(self, *, max_connections: int = 100, max_connections_per_host: int = 10,
                 pipeline_depth: int = 1, keepalive_expiry: float = 5.0,
                 multiplex_schemes: frozenset[str] = frozenset()) -> None:
        if max_connections < 1 or max_connections_per_host < 1 or pipeline_depth < 1:
            raise ValueError("max_connections, max_connections_per_host and pipeline_depth must be >= 1")
        self.max_connections = max_connections
        self.max_connections_per_host = max_connections_per_host
        self.pipeline_depth = pipeline_depth
        self.keepalive_expiry = keepalive_expiry
        self._entries: list[Entry] = []
        self._dialing: Counter[Origin] = Counter()
        self._waiters: dict[Waiter, _Queued] = {}  # insertion order is the FIFO
        self._queues: dict[Origin, deque[_Queued]] = {}  # per origin, oldest first
        self._stale = 0  # places of cancelled waiters still in `_queues`
        self._order = 0
        self._pipeline_failures: Counter[Origin] = Counter()
        self._serial = 0  # the serial of the next connection
        self._closed = False
        # HTTP/2 (see "Multiplexing"): the schemes whose origins may answer on it, the
        # origins that said they do not, and the multiplexed connections in the pool.
        self.multiplex_schemes = multiplex_schemes
        self._h1_only: set[Origin] = set()
        self._stream_limits: dict[Origin, int] = {}  # SETTINGS_MAX_CONCURRENT_STREAMS seen
        self._multiplexed = 0

    # -- counts ------------------------------------------------------------------

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    @property
    def waiting(self) -> tuple[Waiter, ...]:
        """The waiters, oldest first."""
        return tuple(self._waiters)

    @property
    def next_serial(self) -> int:
        """The serial the next connection will have (for `acquire(min_serial=)`)."""
        return self._serial

    def has_waiters(self) -> bool:
        """Is a caller queued?"""
        return bool(self._waiters)

    @property
    def dialing(self) -> int:
        return sum(self._dialing.values())

    def count(self, origin: Origin | None = None) -> int:
        """Connections (live and being dialled) of the origin, or of the pool."""
        if origin is None:
            return sum(not e.is_dead() for e in self._entries) + self.dialing
        return sum(e.origin == origin and not e.is_dead() for e in self._entries) + self._dialing[origin]

    def idle_count(self) -> int:
        return sum(e.is_available for e in self._entries)

    # -- multiplexing ----------------------------------------------------------------

    def may_multiplex(self, origin: Origin) -> bool:
        """May a connection to the origin be HTTP/2 (to be negotiated, or known)?"""
        return origin.scheme in self.multiplex_schemes and origin not in self._h1_only

    def h1_only(self, origin: Origin) -> None:
        """The origin answers on HTTP/1.1 only (ALPN chose it, or a stream was reset
        with HTTP_1_1_REQUIRED): its next connections are not offered HTTP/2."""
        self._h1_only.add(origin)

    def note_stream_limit(self, origin: Origin, limit: int) -> None:
        """The origin's SETTINGS_MAX_CONCURRENT_STREAMS, for its next connections."""
        self._stream_limits[origin] = limit

    def stream_limit(self, origin: Origin) -> int | None:
        """The origin's SETTINGS_MAX_CONCURRENT_STREAMS on its last connection, if known."""
        return self._stream_limits.get(origin)

    def retry_waiters(self, now: float) -> Wakeups:
        """The waiters that can go now: after a dial to an origin that may multiplex
        ended, those held until it said which protocol it speaks."""
        return self._wake(now) if self._waiters else []

    def _unsettled(self, origin: Origin) -> bool:
        """Is a multiplexed connection of the origin still waiting for the server's
        SETTINGS (its limit of streams)?"""
        if not self._multiplexed:
            return False
        for e in self._entries:
            connection = e.connection
            if connection.multiplexed and e.origin == origin and not connection.settled:
                return True
        return False

    def _shared(self, origin: Origin, now: float, min_serial: int) -> Entry | None:
        """A multiplexed connection of the origin with a stream to spare, unexpired: the
        one with the most to spare (policy step 0)."""
        best: Entry | None = None
        most = 0
        for e in self._entries:
            connection = e.connection
            if (connection.multiplexed and e.origin == origin and e.serial >= min_serial
                    and not (e.expires_at is not None and now >= e.expires_at)):
                room = connection.room() - e.unsent
                if room > most:
                    best, most = e, room
        return best

    # -- requests ----------------------------------------------------------------

    def acquire(self, waiter: Waiter, origin: Origin, method: str | bytes, now: float, *,
                deadline: float | None = None, expect_continue: bool = False,
                upgrade: bool = False, fresh: bool = False, min_serial: int = 0) -> Action:
        """Where the waiter's request goes now, or Wait (queued).

        Replays choose their connection (see `base`): `fresh=True` asks for
        a new connection (Dial, evicting an idle one of the origin if need
        be), `min_serial` for one opened since `next_serial` was that value.
        """
        if self._closed:
            raise PoolStateError("the pool is closed")
        if waiter in self._waiters:
            raise PoolStateError(f"waiter {waiter!r} is already waiting")
        method_b = method if type(method) is bytes else (
            method.encode("ascii", "replace") if isinstance(method, str) else bytes(method))
        pipelinable = _pipelinable(method_b, expect_continue, upgrade)
        queued = bool(self._waiters) and self._head(origin) is not None
        best = None if fresh or queued else self._idle(origin, now, min_serial)
        if best is not None:  # policy step 1, the common case, without building a request
            action: Action = Use(best)
            self._apply(action, pipelinable)
            return action
        self._reap()
        request = _Request(origin, method_b, deadline, expect_continue, upgrade, fresh, min_serial)
        action = WAIT if queued else self._plan(request, now, idle_checked=True)
        if type(action) is Wait:
            self._queue(waiter, request)
        else:
            self._apply(action, pipelinable)
        return action

    def acquire_now(self, origin: Origin, method: bytes, now: float,
                    expect_continue: bool = False, upgrade: bool = False,
                    min_serial: int = 0) -> Entry | None:
        """The drivers' common case of `acquire()`, with no waiter and no action:
        the connection its policy step 1 (idle) or step 3 (join a pipeline) would
        `Use`, leased now; None, having changed nothing, when it would do anything
        else (the driver then calls `acquire()`). Not for `fresh` requests.
        """
        if self._closed:
            raise PoolStateError("the pool is closed")
        if self._waiters and origin in self._queues:
            return None  # others of the origin wait: `acquire()` queues it behind them
        pipelinable = _pipelinable(method, expect_continue, upgrade)
        if self._multiplexed:
            best = self._shared(origin, now, min_serial)
            if best is not None:
                self._lease(best, pipelinable)
                return best
        best = self._idle(origin, now, min_serial)
        if best is None:
            if self.pipeline_depth == 1:
                return None
            # Steps 2 and 3 of `_plan`: at a cap, a busy connection that can take it.
            mine = 0
            candidates = []
            dead = 0
            for e in self._entries:
                if e.is_dead():
                    dead += 1
                elif e.origin == origin:
                    mine += 1
                    if e.leases > 0 and e.serial >= min_serial and not e.connection.multiplexed:
                        candidates.append(e)
            dialing = self._dialing
            host_full = mine + (dialing[origin] if dialing else 0) >= self.max_connections_per_host
            if not host_full and (len(self._entries) - dead + (self.dialing if dialing else 0)
                                  < self.max_connections):
                return None  # step 2: a new connection
            if not candidates or not self.pipelining_enabled(origin):
                return None
            fewest = 0
            for e in candidates:  # as in `_plan`: the first with the fewest in flight
                in_flight = e.connection.pending()
                if (best is None or in_flight < fewest) and self._joinable(
                        e, method, expect_continue, upgrade):
                    best, fewest = e, in_flight
            if best is None:
                return None
        self._lease(best, pipelinable)
        return best

    def connected(self, origin: Origin, connection: ConnectionBase, now: float, *,
                  pipelinable: bool = True) -> Entry:
        """A dial succeeded: the new entry is leased to the caller that dialled
        (`pipelinable`: whether its request may be pipelined)."""
        self._undial(origin)
        entry = Entry(connection, origin, self._serial)
        self._serial += 1
        entry.leases = 1
        if self.pipeline_depth > 1 or connection.multiplexed:
            entry.unsent = 1
            entry.unsent_blockers = 0 if pipelinable else 1
        entry.pooled = True
        self._entries.append(entry)
        if connection.multiplexed:
            self._multiplexed += 1
        return entry

    def dial_failed(self, origin: Origin, now: float) -> Wakeups:
        """A dial failed: its slot is free again."""
        self._undial(origin)
        return self._wake(now)

    def abandon(self, action: Action, now: float, pipelinable: bool = True) -> Wakeups:
        """A waiter woken with `action` gave up before acting on it (cancelled,
        interrupted): its lease (`Use`) or its dial slot goes back. The entry of an
        `EvictThenDial` is out of the pool already: the driver still closes it."""
        if isinstance(action, Use):
            return self.released(action.entry, now, sent=False, pipelinable=pipelinable)
        if isinstance(action, (Dial, EvictThenDial)):
            return self.dial_failed(action.origin, now)
        return []

    def sent(self, entry: Entry, now: float, pipelinable: bool = True) -> Wakeups:
        """A caller holding the entry recorded its request on the connection
        (`send_prepared()`): a waiter may now pipeline behind it."""
        _unlease(entry, pipelinable)
        return self._wake(now) if self._waiters and entry.pooled else []

    def released(self, entry: Entry, now: float, sent: bool = True,
                 pipelinable: bool = True) -> Wakeups:
        """A caller is done with the entry (its response ended, or it gave up).

        `sent=False`: the caller gave up before its request was recorded on
        the connection (`sent()` was not called for this lease; `pipelinable`
        as for `sent()`). An ended
        connection (closed, broken, switched) leaves the pool, as does one
        that may carry no more requests once nobody holds it; the driver
        closes the transport of a connection that is not `is_reusable`.
        """
        if not sent:
            _unlease(entry, pipelinable)
        if not entry.pooled:
            return []  # dropped already (discarded, or closed while pipelined)
        leases = entry.leases = entry.leases - 1 if entry.leases > 0 else 0
        connection = entry.connection
        if connection.has_ended():
            self._drop(entry)
        elif leases != 0:
            pass
        elif connection.is_closing():  # no more requests: it leaves once nobody holds it
            self._drop(entry)
        elif connection.is_free():
            entry.idle_since = now
            server_timeout = connection.server_timeout()
            entry.expires_at = now + (self.keepalive_expiry if server_timeout is None
                                      else idle_lifetime(self.keepalive_expiry, server_timeout))
        return self._wake(now) if self._waiters else []

    def discard(self, entry: Entry, now: float) -> Wakeups:
        """The connection was lost or failed: free its slot (the driver closes it)."""
        if entry.pooled:
            self._drop(entry)
        return self._wake(now)

    def cancel(self, waiter: Waiter, now: float) -> Wakeups | None:
        """The caller gave up waiting: None if it was not waiting (served or gone
        already), else the waiters that its place held up and that can go now."""
        place = self._waiters.get(waiter)
        if place is None:
            return None
        was_head = self._head(place.request.origin) is place
        self._leave(waiter)
        # Only a head holds others up: a place further back leaves nothing to wake.
        return self._wake(now) if was_head and self._waiters else []

    def timed_out(self, now: float) -> tuple[list[Waiter], Wakeups]:
        """Remove the waiters past their deadline (the driver raises PoolTimeout), and
        return them with the waiters they held up that can go now.

        A walk over every waiter: the drivers time their waiters out themselves
        (each wait has its own timeout) and `cancel()` them."""
        late = [w for w, q in self._waiters.items()
                if q.request.deadline is not None and now >= q.request.deadline]
        for waiter in late:  # all of them first: a late waiter is not woken by another's leaving
            self._leave(waiter)
        return late, self._wake(now) if late else []

    def expire(self, now: float) -> list[Entry]:
        """Remove and return the idle connections past their expiry, and those
        that ended while idle, for closing."""
        expired = [e for e in self._entries if e.is_dead() or (e.is_available and e.is_expired(now))]
        for entry in expired:
            self._drop(entry)
        return expired

    # -- pipelining ----------------------------------------------------------------

    def note_pipeline_failure(self, origin: Origin) -> None:
        """The server closed or reset mid-pipeline; after PIPELINE_FAILURES, no more pipelining."""
        self._pipeline_failures[origin] += 1

    def pipelining_enabled(self, origin: Origin) -> bool:
        failures = self._pipeline_failures
        return self.pipeline_depth > 1 and (not failures or failures[origin] < PIPELINE_FAILURES)

    def close(self) -> list[Entry]:
        """Forget everything; return every connection for closing. Waiters are the driver's to fail."""
        self._closed = True
        entries, self._entries = self._entries, []
        self._multiplexed = 0
        for entry in entries:
            entry.pooled = False
        self._waiters.clear()
        self._queues.clear()
        self._stale = 0
        self._dialing.clear()
        return entries

    # -- decisions -------------------------------------------------------------------

    def _plan(self, request: _Request, now: float, idle_checked: bool = False) -> Action:
        """The policy of the module docstring; changes nothing (`idle_checked`: step 1
        found nothing just now)."""
        origin = request.origin
        fresh, min_serial = request.fresh, request.min_serial
        best: Entry | None = None if fresh or idle_checked else self._idle(origin, now, min_serial)
        if best is not None:
            return Use(best)
        dialing = self._dialing
        if self.multiplex_schemes and self.may_multiplex(origin):
            shared = self._shared(origin, now, min_serial) if self._multiplexed else None
            if shared is not None:
                return Use(shared)
            if dialing[origin] > 0 or self._unsettled(origin):
                return WAIT  # the connection under way may carry them all (see "Multiplexing")
        live = [e for e in self._entries if not e.is_dead()]
        mine = [e for e in live if e.origin == origin]
        host_full = len(mine) + (dialing[origin] if dialing else 0) >= self.max_connections_per_host
        pool_full = len(live) + (self.dialing if dialing else 0) >= self.max_connections
        if not host_full and not pool_full:
            return Dial(origin)
        if not fresh and self.pipelining_enabled(origin):
            fewest = 0
            for e in mine:  # the busy one that can take it with the fewest in flight
                if e.leases > 0 and e.serial >= min_serial and not e.connection.multiplexed:
                    in_flight = e.connection.pending()
                    if (best is None or in_flight < fewest) and self._can_join(e, request):
                        best, fewest = e, in_flight
            if best is not None:
                return Use(best)
        # An idle connection of the origin that cannot serve the request is a
        # victim too: expired, or older than the request accepts.
        victims = [e for e in live if e.is_available and (
            (e.is_expired(now) or fresh or e.serial < min_serial) if e.origin == origin
            else not host_full)]
        if victims:
            return EvictThenDial(min(victims, key=lambda e: e.idle_since or 0.0), origin)
        return Wait()

    def _idle(self, origin: Origin, now: float, min_serial: int = 0) -> Entry | None:
        """The most recently used idle, unexpired connection of the origin (policy step 1).

        An idle connection with nothing in flight can carry any request.
        """
        best: Entry | None = None
        best_since = 0.0
        for e in self._entries:
            since = e.idle_since
            if (since is None or e.leases != 0 or (best is not None and since <= best_since)
                    or e.origin != origin or e.serial < min_serial
                    or (e.expires_at is not None and now >= e.expires_at)):  # `is_expired`
                continue
            if e.connection.is_free():
                best, best_since = e, since
        return best

    def _can_join(self, entry: Entry, request: _Request) -> bool:
        """May the request be pipelined on this busy connection (see "unsent" above)?"""
        return self._joinable(entry, request.method, request.expect_continue, request.upgrade)

    def _joinable(self, entry: Entry, method: bytes, expect_continue: bool, upgrade: bool) -> bool:
        """`_can_join` of a request given by its method and flags (the connection's
        `can_send()` is asked as `refusal`, of a method in bytes already)."""
        if entry.unsent == 0:
            return entry.connection.refusal(method, expect_continue or upgrade
                                             or method == b"CONNECT") is None
        connection = entry.connection
        assert isinstance(connection, Connection)  # (multiplexed connections are never joined)
        return (entry.unsent_blockers == 0 and _pipelinable(method, expect_continue, upgrade)
                and connection.proven_persistent
                and connection.in_flight + entry.unsent < self.pipeline_depth
                and _within(connection.requests_left, entry.unsent)
                and connection.refusal(method, expect_continue or upgrade
                                        or method == b"CONNECT") is None)

    def _apply(self, action: Action, pipelinable: bool = True) -> None:
        if type(action) is Use:
            self._lease(action.entry, pipelinable)
        elif isinstance(action, EvictThenDial):
            self._drop(action.entry)
            self._dialing[action.origin] += 1
        elif isinstance(action, Dial):
            self._dialing[action.origin] += 1

    def _lease(self, entry: Entry, pipelinable: bool) -> None:
        """The entry's connection takes one more request (a `Use`)."""
        entry.leases += 1
        # Unsent leases matter only to pipelining and to multiplexing (streams to spare).
        if self.pipeline_depth > 1 or entry.connection.multiplexed:
            entry.unsent += 1
            if not pipelinable:
                entry.unsent_blockers += 1
        entry.idle_since = entry.expires_at = None

    def _wake(self, now: float) -> Wakeups:
        """Serve the heads of the queues that can be served now, the oldest head
        first, until no head can be (see "Waking" in the module docstring).

        Serving a waiter only takes capacity away: a head that cannot be served
        stays so for the rest of this pass, and its origin is not asked again.
        """
        woken: Wakeups = []
        if not self._waiters:
            return woken
        self._reap()
        blocked: set[Origin] = set()
        while True:
            head = None
            if len(self._queues) == 1:  # the common case: one origin
                origin = next(iter(self._queues))
                if origin not in blocked:
                    head = self._head(origin)
            else:
                for origin in list(self._queues):
                    if origin not in blocked:
                        first = self._head(origin)
                        if first is not None and (head is None or first.order < head.order):
                            head = first
            if head is None:
                return woken
            request = head.request
            action = self._plan(request, now)
            if type(action) is Wait:
                blocked.add(request.origin)
                continue
            self._queues[request.origin].popleft()
            del self._waiters[head.waiter]
            self._apply(action, _pipelinable(request.method, request.expect_continue,
                                             request.upgrade))
            woken.append((head.waiter, action))

    def _queue(self, waiter: Waiter, request: _Request) -> None:
        place = _Queued(waiter, request, self._order)
        self._order += 1
        self._waiters[waiter] = place
        queue = self._queues.get(request.origin)
        if queue is None:
            queue = self._queues[request.origin] = deque()
        queue.append(place)

    def _head(self, origin: Origin) -> _Queued | None:
        """The oldest waiter of the origin still waiting (cancelled places are dropped)."""
        queue = self._queues.get(origin)
        if queue is None:
            return None
        waiters = self._waiters
        while queue:
            place = queue[0]
            if waiters.get(place.waiter) is place:
                return place
            queue.popleft()
            self._stale -= 1
        del self._queues[origin]
        return None

    def _leave(self, waiter: Waiter) -> None:
        """The waiter stops waiting; its place in its queue goes stale (see `_head`)."""
        del self._waiters[waiter]
        self._stale += 1
        if self._stale > 64 and self._stale > len(self._waiters):
            self._compact()

    def _compact(self) -> None:
        """Drop the places of cancelled waiters (many waiters gave up at once)."""
        waiters = self._waiters
        for origin in list(self._queues):
            queue = deque(q for q in self._queues[origin] if waiters.get(q.waiter) is q)
            if queue:
                self._queues[origin] = queue
            else:
                del self._queues[origin]
        self._stale = 0

    def _reap(self) -> None:
        """Drop the connections that ended while nobody held them (see the module docstring)."""
        for entry in [e for e in self._entries if e.is_dead()]:
            self._drop(entry)

    def _drop(self, entry: Entry) -> None:
        entry.pooled = False
        self._entries.remove(entry)
        if entry.connection.multiplexed:
            self._multiplexed -= 1

    def _undial(self, origin: Origin) -> None:
        if self._dialing[origin] <= 0:
            raise PoolStateError(f"no dial to {origin!r} in progress")
        self._dialing[origin] -= 1
