"""Parser events of the pure-Python twin.

The field names follow h11 where h11 has them. The C twin declares the same
classes as extension types; a test proves the two agree field for field.
Events are plain slotted records: the parser builds many of them, so they do
no validation of their own.
"""

from __future__ import annotations

from typing import ClassVar

Headers = list[tuple[bytes, bytes]]


class Record:
    """A slotted event record: its `_fields` make its repr and its equality, field by
    field and by class name (so that the C twin's events compare equal to these);
    unhashable, as it is mutable. The HTTP/1 events and the HTTP/2 ones derive from it."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({body})"

    def __eq__(self, other: object) -> bool:
        if type(other).__name__ != type(self).__name__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n, None) for n in self._fields)

    __hash__ = None  # type: ignore[assignment]


_Event = Record


class Request(_Event):
    __slots__ = (
        "method", "target", "headers", "http_version", "keep_alive",
        "content_length", "chunked", "upgrade", "hop_headers",
    )
    _fields = __slots__

    def __init__(
        self,
        method: bytes,
        target: bytes,
        headers: Headers,
        http_version: bytes = b"1.1",
        keep_alive: bool = True,
        content_length: int | None = 0,
        chunked: bool = False,
        upgrade: bool = False,
        hop_headers: Headers | None = None,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.chunked = chunked
        self.upgrade = upgrade
        self.hop_headers = hop_headers


class Response(_Event):
    __slots__ = (
        "status_code", "reason", "headers", "http_version", "keep_alive",
        "content_length", "chunked", "upgrade", "hop_headers",
    )
    _fields = __slots__

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        headers: Headers,
        http_version: bytes = b"1.1",
        keep_alive: bool = True,
        content_length: int | None = None,
        chunked: bool = False,
        upgrade: bool = False,
        hop_headers: Headers | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.chunked = chunked
        self.upgrade = upgrade
        self.hop_headers = hop_headers


class InformationalResponse(_Event):
    """A 1xx response; `upgrade` is true for 101, after which the parser stops."""

    __slots__ = ("status_code", "reason", "headers", "http_version", "upgrade", "hop_headers")
    _fields = __slots__

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        headers: Headers,
        http_version: bytes = b"1.1",
        upgrade: bool = False,
        hop_headers: Headers | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.http_version = http_version
        self.upgrade = upgrade
        self.hop_headers = hop_headers


class Data(_Event):
    __slots__ = ("data",)
    _fields = __slots__

    def __init__(self, data: bytes) -> None:
        self.data = data


class EndOfMessage(_Event):
    """The end of a message; `headers` holds the trailer fields, if any."""

    __slots__ = ("headers",)
    _fields = __slots__

    def __init__(self, headers: Headers | None = None) -> None:
        self.headers = [] if headers is None else headers


Event = Request | Response | InformationalResponse | Data | EndOfMessage
