"""Chooses the parser twin at import.

The C twin is used unless `HOPWIRE_NO_EXTENSIONS` is set, the interpreter is
not CPython, or the extension fails to import; with
`HOPWIRE_REQUIRE_EXTENSIONS` set, that failure is an error instead.
"""

from __future__ import annotations

import os
import platform
from types import ModuleType


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def choose() -> tuple[ModuleType, bool]:
    """Return the parser module to use and whether it is the C twin."""
    from . import _parser_py

    if _flag("HOPWIRE_NO_EXTENSIONS"):
        return _parser_py, False
    try:
        from . import _parser_c  # type: ignore[attr-defined]
    except ImportError:
        if _flag("HOPWIRE_REQUIRE_EXTENSIONS"):
            raise
        return _parser_py, False
    if platform.python_implementation() != "CPython" and not _flag("HOPWIRE_REQUIRE_EXTENSIONS"):
        return _parser_py, False
    return _parser_c, True
