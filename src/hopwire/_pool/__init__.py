"""The connection pools: a sans-I/O core (connection, state, models, base) and two
drivers that do the I/O (`sync`: sockets and threads; `aio`: asyncio protocols).

With extensions on, the core and drivers are compiled from this same source
(`hopwire._compiled.POOL_CORE`); this package's import decides, before any of
them loads, whether the compiled modules or their source are used.
"""

from __future__ import annotations

from .. import _select

COMPILED_MODULES: tuple[str, ...] = _select.use_compiled()
