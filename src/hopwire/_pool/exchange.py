"""The pool's record of one request on one connection: `Exchange`.

From the moment a request is recorded as in flight to the end of its answer,
its exchange holds the answer's events in order, its outcome (an error, a
replay), and what the drivers need to wake its caller (a waiter, flow-control
counts, a read timeout). The sans-I/O `Connection` only appends to it.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._errors import TransportError
    from .models import ExchangeInfo


class Exchange:
    """A pool's record of one request in flight and the events of its answer, in order.

    The connection fills it (`Connection.receive_into` puts each event in the
    exchange of its request; the compiled twin writes its fields as C fields);
    the pool's core (`base`) and drivers make it and read it.
    """

    __slots__ = ("rid", "events", "error", "ended", "may_replay", "replay_alone",
                 "replay_pipelined", "info", "buffered", "waiter", "collect", "write_error",
                 "read_timeout", "head_taken")

    def __init__(self, info: ExchangeInfo, replay_alone: bool = False,
                 replay_pipelined: bool = False) -> None:
        self.rid = -1
        self.events: deque[Any] = deque()
        self.error: BaseException | None = None
        self.ended = False  # its EndOfMessage was received (it may still sit in `events`)
        # Whether it may be sent again (see `base`'s docstring): decided
        # when it is recorded on its connection, by what is in flight ahead.
        self.may_replay = False
        self.replay_alone = replay_alone
        self.replay_pipelined = replay_pipelined
        self.info = info
        self.buffered = 0  # bytes of Data in `events` (asyncio flow control)
        self.waiter: Any = None  # the asyncio future its reader awaits
        self.collect = False  # asyncio: wake the reader only at the end (request(), not stream())
        self.write_error: TransportError | None = None
        self.read_timeout: float | None = None  # asyncio: of the wait in progress
        self.head_taken = False  # its caller took the answer's head out of `events`
