"""The two twins of every accelerated module, and the fixtures that run a test on each.

The parser comes in two twins with the same API and behaviour:
`hopwire._wire.parser_py` (always present) and the Cython module `hopwire._wire.parser_c`.
Tests that take the `twin` fixture run once per twin. The "c" run is skipped
when the extension cannot be imported, unless HOPWIRE_REQUIRE_EXTENSIONS=1
(then it fails); with HOPWIRE_NO_EXTENSIONS=1 only the "py" twin runs.
`load_twin` does the same for any other pair (the HTTP/2 codec's, the pool's lock).

A pytest plugin (tests/conftest.py registers it): `twin`, `py_twin`, `c_twin`.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

from hopwire._wire import parser_py


def env_flag(name: str) -> bool:
    """The same reading of the HOPWIRE_* variables as hopwire._select."""
    return os.environ.get(name, "") not in ("", "0")


NO_EXTENSIONS = env_flag("HOPWIRE_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = env_flag("HOPWIRE_REQUIRE_EXTENSIONS")

TWIN_NAMES = ("py", "c")


def import_c(c_name: str = "hopwire._wire.parser_c") -> tuple[ModuleType | None, str]:
    """The C twin `c_name`, or None and why it does not import."""
    try:
        return importlib.import_module(c_name), ""
    except ImportError as exc:
        return None, f"{type(exc).__name__}: {exc}"


def load_twin(name: str, py_module: ModuleType = parser_py,
              c_name: str = "hopwire._wire.parser_c") -> ModuleType:
    """The module of twin `name` ("py" or "c": the parser's, or of the pair given), or
    skip (or fail) as the environment asks."""
    if name == "py":
        return py_module
    if NO_EXTENSIONS:
        pytest.skip("HOPWIRE_NO_EXTENSIONS=1: the C twin is not tested")
    module, why = import_c(c_name)
    if module is None:
        if REQUIRE_EXTENSIONS:
            pytest.fail(f"HOPWIRE_REQUIRE_EXTENSIONS=1 but {c_name} does not import: {why}")
        pytest.skip(f"{c_name} is not built/importable ({why})")
    return module


@pytest.fixture(scope="session", params=TWIN_NAMES)
def twin(request: pytest.FixtureRequest) -> ModuleType:
    """The parser module of one twin: hopwire._wire.parser_py or hopwire._wire.parser_c."""
    return load_twin(request.param)


@pytest.fixture(scope="session")
def py_twin() -> ModuleType:
    return load_twin("py")


@pytest.fixture(scope="session")
def c_twin() -> ModuleType:
    return load_twin("c")
