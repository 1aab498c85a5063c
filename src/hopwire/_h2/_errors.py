"""What the HTTP/2 layer raises when the peer breaks RFC 9113.

    HopwireError
    └── H2ProtocolError (ValueError)     the peer broke HTTP/2
        ├── H2ConnectionError            §5.4.1: the connection must end (GOAWAY)
        └── H2StreamError                §5.4.2: one stream must end (RST_STREAM)

Both carry the HTTP/2 error code to send, the rule broken (a reason of
`hopwire._h2._rules`), and where: `stream_id` (None for a connection error),
`offset` (the position, in the bytes fed to the reader, of the first octet of
the frame that broke the rule) and `frame_type`.

A connection error is raised, and the reader that raised it refuses all input
from then on. A stream error is not raised by the frame reader: the connection
goes on, so it is handed out in the reader's list of frames, in order, for the
connection to answer with RST_STREAM (or to raise, if it prefers to give up).
"""

from __future__ import annotations

from typing import Any

from hopwire._errors import HopwireError

from ._rules import FrameType


class H2ProtocolError(HopwireError, ValueError):
    """The peer broke HTTP/2: `code` is the error code to send, `reason` the rule."""

    def __init__(self, reason: str, code: int, stream_id: int | None = None, *,
                 offset: int = 0, frame_type: int | None = None) -> None:
        where = f"at byte {offset}" if stream_id is None else f"on stream {stream_id}, at byte {offset}"
        if frame_type is not None:
            where = f"{_type_name(frame_type)} frame {where}"
        super().__init__(f"{reason} ({where})")
        self.reason = reason
        self.code = code
        self.stream_id = stream_id
        self.offset = offset
        self.frame_type = frame_type


def _type_name(frame_type: int) -> str:
    try:
        return FrameType(frame_type).name
    except ValueError:
        return f"type 0x{frame_type:02x}"


class H2ConnectionError(H2ProtocolError):
    """A connection error (RFC 9113 §5.4.1): send GOAWAY with `code` and close.

    `events` holds the frames the failing `feed()` completed before the error:
    they are valid, and may matter (a GOAWAY saying which streams were processed).
    """

    def __init__(self, reason: str, code: int, *, offset: int = 0,
                 frame_type: int | None = None, events: Any = ()) -> None:
        super().__init__(reason, code, None, offset=offset, frame_type=frame_type)
        self.events = list(events)


class H2StreamError(H2ProtocolError):
    """A stream error (RFC 9113 §5.4.2): send RST_STREAM on `stream_id` with `code`."""

    stream_id: int

    def __init__(self, reason: str, code: int, stream_id: int, *, offset: int = 0,
                 frame_type: int | None = None) -> None:
        super().__init__(reason, code, stream_id, offset=offset, frame_type=frame_type)
