"""Chooses the twins at import: the parser's, and the pool core's.

The C twins are used unless `HOPWIRE_NO_EXTENSIONS` is set, the interpreter is
not CPython, or an extension fails to import; with `HOPWIRE_REQUIRE_EXTENSIONS`
set, that failure is an error instead.

The parser's twins are two modules (`_parser_c`, `_parser_py`). The pool core's
twins share one source: setup.py compiles the modules named in COMPILED (typed
by the .pxd next to each) into extension modules of the same names, next to
them, which Python's import prefers to the source. When they may not or cannot
be used, `use_compiled` puts a finder first on `sys.meta_path` that loads them
from their source, for every importer alike.
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

COMPILED = ("_models", "_connection", "_client", "_pool_state", "_sync", "_async")  # setup.py's


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
    from . import _parser_py

    parser_c = c_twin("_parser_c")
    return (_parser_py, False) if parser_c is None else (parser_c, True)


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the modules named in `sources` ({full name: .py path}) in their source."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        source = self.sources.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


def _use_source(package: str) -> tuple[str, ...]:
    directory = os.path.dirname(os.path.abspath(__file__))
    sys.meta_path.insert(0, _SourceFinder(
        {f"{package}.{name}": os.path.join(directory, name + ".py") for name in COMPILED}))
    return ()


def use_compiled(package: str) -> tuple[str, ...]:
    """Make the compiled twins of COMPILED the package's modules if they may and can be
    used, else their source; the names of the compiled ones in use (all or none).

    Called by `hopwire/__init__.py` before anything imports them, and after the
    parser's names exist (they import those).
    """
    required = _flag("HOPWIRE_REQUIRE_EXTENSIONS")
    if _flag("HOPWIRE_NO_EXTENSIONS") or (platform.python_implementation() != "CPython"
                                          and not required):
        return _use_source(package)
    directory = os.path.dirname(os.path.abspath(__file__))
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    missing = [name for name in COMPILED
               if not any(os.path.exists(os.path.join(directory, name + s)) for s in suffixes)]
    if missing:  # all or none: the compiled ones share their classes at the C level
        if required:
            raise ImportError(f"hopwire's compiled modules are missing: {', '.join(missing)} "
                              f"(in {directory})")
        return _use_source(package)
    try:
        modules = [importlib.import_module(f"{package}.{name}") for name in COMPILED]
    except Exception:  # ImportError, or Cython's ValueError for a type of another build
        # A build from other sources (stale): the source, unless the build is required.
        if required:
            raise
        for name in COMPILED:
            sys.modules.pop(f"{package}.{name}", None)
        return _use_source(package)
    if not all(m.__file__ is not None and not m.__file__.endswith(".py") for m in modules):
        return ()
    return COMPILED
