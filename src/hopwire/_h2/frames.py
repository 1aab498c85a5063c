"""The HTTP/2 frame codec: the names of the C twin if it may and can be used, else
those of the pure-Python twin (`hopwire._select.c_twin` decides, as for the parser).

`EXTENSION_ACTIVE` says which. The Python twin, `_frames_py`, is the typed source
of truth for both and documents the codec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hopwire import _select

from . import _frames_py

_impl = _select.c_twin("_h2._frames_c") or _frames_py
EXTENSION_ACTIVE = _impl is not _frames_py

if TYPE_CHECKING:
    from ._frames_py import (
        Data,
        Event,
        FrameReader,
        GoAway,
        Headers,
        Ping,
        Priority,
        PushPromise,
        RstStream,
        Settings,
        WindowUpdate,
        client_preface,
        data,
        goaway,
        headers,
        ping,
        rst_stream,
        settings,
        settings_ack,
        window_update,
    )
else:
    Event = _frames_py.Event
    for _name in _frames_py.__all__:
        if _name != "Event":
            globals()[_name] = getattr(_impl, _name)
    del _name

__all__ = ["EXTENSION_ACTIVE", *_frames_py.__all__]
