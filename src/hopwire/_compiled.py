"""The one list of hopwire's compiled modules.

setup.py reads it without importing the package (it runs this file alone), the
selector (`_select.py`) reads it at import, and scripts/build_wheels.sh reads it to
check that the sdist carries every source. Nothing here may import anything.
"""

# The pool core: each compiled from its own Python source (src/hopwire/<path>.py),
# typed by the .pxd next to it. All or none are used: they share classes at the C level.
POOL_CORE = (
    "hopwire._pool.models",
    "hopwire._pool.exchange",
    "hopwire._pool.connection",
    "hopwire._pool.state",
    "hopwire._pool.base",
    "hopwire._pool.sync",
    "hopwire._pool.aio",
    "hopwire._h2.connection",
    "hopwire._pool.h2session",
    "hopwire._pool.aio_h2",
    "hopwire._pool.sync_h2",
)

# The C twins written in Cython under ext/ (module, .pyx source, include directory);
# each has a Python twin or stand-in chosen at import when it does not load.
CYTHON = (
    ("hopwire._wire.parser_c", "ext/hopwire/_wire/parser_c.pyx", "ext/hopwire/_wire"),
    ("hopwire._pool.lock_c", "ext/hopwire/_pool/lock_c.pyx", "ext/hopwire/_pool"),
    ("hopwire._h2._hpack_c", "ext/hopwire/_h2/_hpack_c.pyx", "ext/hopwire/_h2"),
    ("hopwire._h2._frames_c", "ext/hopwire/_h2/_frames_c.pyx", "ext/hopwire/_h2"),
)
