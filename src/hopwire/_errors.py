"""The exceptions hopwire raises, in families under one root."""

from __future__ import annotations

from typing import Any


class HopwireError(Exception):
    """Root of every exception hopwire raises on purpose."""


class ParseError(HopwireError, ValueError):
    """The bytes are not a valid HTTP/1.x message.

    `offset` is the position in the stream (counted from the parser's first
    byte) of the byte that broke the rule, `reason` says which rule, and
    `status_hint` is the status a server would answer (400, 413, 414, 431,
    501, 505). `events` holds what the failing `feed()` completed before the
    error, so that a server can still answer the requests before it.
    """

    def __init__(self, reason: str, offset: int, status_hint: int = 400, events: Any = ()) -> None:
        super().__init__(f"{reason} (at byte {offset})")
        self.reason = reason
        self.offset = offset
        self.status_hint = status_hint
        self.events = list(events)
