"""Chooses the twins at import: the parser's, and the pool core's.

The C twins are used unless `HOPWIRE_NO_EXTENSIONS` is set, the interpreter is
not CPython, or an extension fails to import; with `HOPWIRE_REQUIRE_EXTENSIONS`
set, that failure is an error instead.

The parser's twins are two modules (`_wire.parser_c`, `_wire.parser_py`). The
pool core's twins share one source: setup.py compiles the modules named in
`_compiled.POOL_CORE` (typed by the .pxd next to each) into extension modules of
the same names, next to them, which Python's import prefers to the source. When
they may not or cannot be used, `use_compiled` puts a finder first on
`sys.meta_path` that loads them from their source, for every importer alike.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import platform
import sys
from types import ModuleType
from typing import Any

from ._compiled import POOL_CORE as COMPILED


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def c_twin(name: str) -> ModuleType | None:
    """The C extension `hopwire.<name>` if it may and can be used (see the module
    docstring), else None; with HOPWIRE_REQUIRE_EXTENSIONS, failing to import it raises."""
    if _flag("HOPWIRE_NO_EXTENSIONS"):
        return None
    try:
        module = importlib.import_module(f"{__package__}.{name}")
    except ImportError:
        if _flag("HOPWIRE_REQUIRE_EXTENSIONS"):
            raise
        return None
    if platform.python_implementation() != "CPython" and not _flag("HOPWIRE_REQUIRE_EXTENSIONS"):
        return None
    return module


def choose() -> tuple[ModuleType, bool]:
    """Return the parser module to use and whether it is the C twin."""
    from ._wire import parser_py

    parser_c = c_twin("_wire.parser_c")
    return (parser_py, False) if parser_c is None else (parser_c, True)


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the modules named in `sources` ({full name: .py path}) in their source."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        source = self.sources.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where `hopwire/` is


def _path(name: str, suffix: str) -> str:
    """The file of module `name` (dotted, from `hopwire`) with `suffix`."""
    return os.path.join(_ROOT, *name.split(".")) + suffix


def _use_source() -> tuple[str, ...]:
    sys.meta_path.insert(0, _SourceFinder({name: _path(name, ".py") for name in COMPILED}))
    return ()


def use_compiled() -> tuple[str, ...]:
    """Make the compiled twins of COMPILED the package's modules if they may and can be
    used, else their source; the names of the compiled ones in use (all or none).

    Called by `hopwire/_pool/__init__.py`, which Python runs before any of them.
    """
    required = _flag("HOPWIRE_REQUIRE_EXTENSIONS")
    if _flag("HOPWIRE_NO_EXTENSIONS") or (platform.python_implementation() != "CPython"
                                          and not required):
        return _use_source()
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    missing = [name for name in COMPILED if not any(os.path.exists(_path(name, s)) for s in suffixes)]
    if missing:  # all or none: the compiled ones share their classes at the C level
        if required:
            raise ImportError(f"hopwire's compiled modules are missing: {', '.join(missing)} "
                              f"(in {_ROOT})")
        return _use_source()
    try:
        modules = [importlib.import_module(name) for name in COMPILED]
    except Exception:  # ImportError, or Cython's ValueError for a type of another build
        # A build from other sources (stale): the source, unless the build is required.
        if required:
            raise
        for name in COMPILED:
            sys.modules.pop(name, None)
        return _use_source()
    if not all(m.__file__ is not None and not m.__file__.endswith(".py") for m in modules):
        return ()
    return COMPILED
