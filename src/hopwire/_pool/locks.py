"""The lock class of the sync pool: the C twin's when extensions are on, else threading.Lock.

`ext/hopwire/_pool/lock_c.pyx` says why a lock of its own: the compiled pool
calls its methods as C functions (`sync.pxd` types its locks with it), and
it behaves as threading.Lock does. The choice follows the parser's and the
compiled core's (see `_select`): the compiled `sync` is in use only where
this picks the C lock.
"""

from __future__ import annotations

import threading
from typing import Any

from .._select import c_twin

_lock_c = c_twin("_pool.lock_c")
Lock: Any = threading.Lock if _lock_c is None else _lock_c.Lock
