"""The lock class of the sync pool: the C twin's when extensions are on, else threading.Lock.

`ext/hopwire/_lock_c.pyx` says why a lock of its own: the compiled pool
calls its methods as C functions (`_sync.pxd` types its locks with it), and
it behaves as threading.Lock does. The choice follows the parser's and the
compiled core's (see `_select`): the compiled `_sync` is in use only where
this picks the C lock.
"""

from __future__ import annotations

import platform
import threading
from typing import Any

from ._select import _flag


def _choose() -> Any:
    if _flag("HOPWIRE_NO_EXTENSIONS"):
        return threading.Lock
    try:
        from ._lock_c import Lock as CLock  # type: ignore[import-not-found]
    except ImportError:
        if _flag("HOPWIRE_REQUIRE_EXTENSIONS"):
            raise
        return threading.Lock
    if platform.python_implementation() != "CPython" and not _flag("HOPWIRE_REQUIRE_EXTENSIONS"):
        return threading.Lock
    return CLock


Lock: Any = _choose()
