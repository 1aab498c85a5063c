"""Which twin is active, and that the two twins present the same API.

HOPWIRE_REQUIRE_EXTENSIONS=1 (as in wheel builds) must mean the C twin is
really in use; HOPWIRE_NO_EXTENSIONS=1 must mean it is not. The event classes
of both twins must have the same fields, constructors and comparison.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hopwire
from hopwire._wire import events as _events, parser_py
from support.twins import NO_EXTENSIONS, REQUIRE_EXTENSIONS, import_c

EVENT_NAMES = ("Request", "Response", "InformationalResponse", "Data", "EndOfMessage")
API_NAMES = ("RequestParser", "ResponseParser", *EVENT_NAMES,
             "filter_hop_by_hop", "connection_tokens", "parse_keep_alive")


@pytest.mark.skipif(not REQUIRE_EXTENSIONS or NO_EXTENSIONS,
                    reason="only with HOPWIRE_REQUIRE_EXTENSIONS=1 (and not HOPWIRE_NO_EXTENSIONS)")
def test_required_extensions_are_active():
    assert hopwire.EXTENSIONS_ACTIVE is True
    assert hopwire.RequestParser.__module__ == "hopwire._wire.parser_c"


@pytest.mark.skipif(not NO_EXTENSIONS, reason="only with HOPWIRE_NO_EXTENSIONS=1")
def test_disabled_extensions_are_inactive():
    assert hopwire.EXTENSIONS_ACTIVE is False
    assert hopwire.RequestParser is parser_py.RequestParser


def test_public_names_come_from_the_active_twin():
    twin = import_c()[0] if hopwire.EXTENSIONS_ACTIVE else parser_py
    assert twin is not None
    for name in API_NAMES:
        assert getattr(hopwire, name) is getattr(twin, name), name
    assert getattr(twin, "ParseError", hopwire.ParseError) is hopwire.ParseError
    assert issubclass(hopwire.ParseError, ValueError)
    assert issubclass(hopwire.ParseError, hopwire.HopwireError)


def _import_in_subprocess(**env: str) -> subprocess.CompletedProcess:
    """Import hopwire (this very copy of it) in a fresh interpreter with `env` set."""
    src = str(Path(hopwire.__file__).resolve().parent.parent)
    full = {k: v for k, v in os.environ.items()
            if k not in ("HOPWIRE_NO_EXTENSIONS", "HOPWIRE_REQUIRE_EXTENSIONS")}
    full["PYTHONPATH"] = os.pathsep.join([src, full.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full.update(env)
    code = "import hopwire; print(hopwire.EXTENSIONS_ACTIVE, hopwire.RequestParser.__module__)"
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                          timeout=60)


def test_no_extensions_env_selects_python_twin():
    proc = _import_in_subprocess(HOPWIRE_NO_EXTENSIONS="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "hopwire._wire.parser_py"]


def test_no_extensions_env_wins_over_require():
    proc = _import_in_subprocess(HOPWIRE_NO_EXTENSIONS="1", HOPWIRE_REQUIRE_EXTENSIONS="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "hopwire._wire.parser_py"]


def test_require_extensions_env():
    proc = _import_in_subprocess(HOPWIRE_REQUIRE_EXTENSIONS="1")
    if import_c()[0] is None:
        assert proc.returncode != 0, "a missing extension must be an import error"
        assert "ImportError" in proc.stderr or "ModuleNotFoundError" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["True", "hopwire._wire.parser_c"]


def test_flag_zero_means_unset():
    proc = _import_in_subprocess(HOPWIRE_NO_EXTENSIONS="0", HOPWIRE_REQUIRE_EXTENSIONS="0")
    assert proc.returncode == 0, proc.stderr
    expect = "True" if import_c()[0] is not None else "False"
    assert proc.stdout.split()[0] == expect


# -- the two twins agree on the API -------------------------------------------

SAMPLES = {
    "request": (b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n"),
    "response": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
}


def _events_by_type(twin) -> dict:
    found = {}
    for kind, raw in SAMPLES.items():
        parser = getattr(twin, "RequestParser" if kind == "request" else "ResponseParser")()
        for ev in parser.feed(raw):
            found.setdefault(type(ev).__name__, ev)
    assert sorted(found) == sorted(EVENT_NAMES)
    return found


def _field_names(ev) -> set[str]:
    """The public data attributes of an event instance (slots or extension-type members)."""
    names = set(getattr(type(ev), "__slots__", ()))
    names |= {a for a in dir(ev) if not a.startswith("_") and not callable(getattr(ev, a))}
    return names


def test_event_classes_have_the_same_fields(py_twin, c_twin):
    py_events, c_events = _events_by_type(py_twin), _events_by_type(c_twin)
    for name in EVENT_NAMES:
        py_ev, c_ev = py_events[name], c_events[name]
        expected = set(getattr(_events, name)._fields)
        assert _field_names(py_ev) == expected, name
        assert _field_names(c_ev) == expected, name
        assert tuple(type(c_ev)._fields) == tuple(type(py_ev)._fields), name
        for field in expected:
            assert getattr(c_ev, field) == getattr(py_ev, field), (name, field)
            assert type(getattr(c_ev, field)) is type(getattr(py_ev, field)), (name, field)


CONSTRUCT = [
    ("Request", (b"GET", b"/", [])),
    ("Response", (200, b"OK", [])),
    ("InformationalResponse", (100, b"Continue", [])),
    ("Data", (b"x",)),
    ("EndOfMessage", ()),
]


@pytest.mark.parametrize(("name", "args"), CONSTRUCT, ids=[c[0] for c in CONSTRUCT])
def test_event_constructors_and_defaults_agree(py_twin, c_twin, name, args):
    py_ev = getattr(py_twin, name)(*args)
    c_ev = getattr(c_twin, name)(*args)
    for field in getattr(_events, name)._fields:
        assert getattr(c_ev, field) == getattr(py_ev, field), field
    assert repr(c_ev) == repr(py_ev)
    assert c_ev == py_ev and py_ev == c_ev
    assert not (c_ev != py_ev)
    for ev in (py_ev, c_ev):
        with pytest.raises(TypeError):
            hash(ev)


def test_event_equality_is_by_fields(twin):
    assert twin.Data(b"a") == twin.Data(b"a")
    assert twin.Data(b"a") != twin.Data(b"b")
    assert twin.EndOfMessage() == twin.EndOfMessage([])
    assert twin.Request(b"GET", b"/", []) != twin.Request(b"GET", b"/", [], keep_alive=False)
    assert twin.Data(b"a") != twin.EndOfMessage()


def test_event_attribute_assignment_agrees(py_twin, c_twin):
    """Both twins must allow (or both refuse) setting an event's field."""
    outcomes = []
    for twin in (py_twin, c_twin):
        ev = twin.Data(b"x")
        try:
            ev.data = b"y"
            outcomes.append("writable")
        except AttributeError:
            outcomes.append("read-only")
    assert outcomes[0] == outcomes[1], f"py events are {outcomes[0]}, C events are {outcomes[1]}"


def test_twins_raise_the_same_exception_class(py_twin, c_twin):
    for twin in (py_twin, c_twin):
        with pytest.raises(hopwire.ParseError) as err:
            twin.RequestParser().feed(b"GET / HTTP/1.1\n")
        assert type(err.value) is hopwire.ParseError


def test_parser_public_attributes_agree(py_twin, c_twin):
    def public(obj):
        return {a for a in dir(obj) if not a.startswith("_")}
    for name in ("RequestParser", "ResponseParser"):
        py_names = public(getattr(py_twin, name)())
        c_names = public(getattr(c_twin, name)())
        required = {"feed", "feed_eof", "trailing_data", "upgraded"} | (
            {"expect"} if name == "ResponseParser" else set())
        assert required <= py_names and required <= c_names
        assert "expect" not in public(py_twin.RequestParser())
        assert "expect" not in public(c_twin.RequestParser())


# -- the pool core: compiled from its own source, or that source -------------------------

CORE = hopwire._select.COMPILED


def _core_files() -> dict[str, str]:
    import importlib
    return {name: str(importlib.import_module(name).__file__) for name in CORE}


@pytest.mark.skipif(not REQUIRE_EXTENSIONS or NO_EXTENSIONS,
                    reason="only with HOPWIRE_REQUIRE_EXTENSIONS=1 (and not HOPWIRE_NO_EXTENSIONS)")
def test_required_extensions_compile_the_pool_core():
    from hopwire._pool.connection import Connection

    assert hopwire.COMPILED_MODULES == CORE
    assert not any(path.endswith(".py") for path in _core_files().values()), _core_files()
    # Extension types with C fields, not Python classes: the .pxd declarations took effect.
    assert not hasattr(Connection(), "__dict__")
    assert Connection.__module__ == "hopwire._pool.connection"


@pytest.mark.skipif(not NO_EXTENSIONS, reason="only with HOPWIRE_NO_EXTENSIONS=1")
def test_disabled_extensions_load_the_pool_core_from_source():
    assert hopwire.COMPILED_MODULES == ()
    assert all(path.endswith(".py") for path in _core_files().values()), _core_files()


def test_no_extensions_env_loads_the_pool_core_from_source_in_a_fresh_interpreter():
    """Even where the compiled modules sit next to their source (an installed wheel)."""
    src = str(Path(hopwire.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOPWIRE_NO_EXTENSIONS", "HOPWIRE_REQUIRE_EXTENSIONS")}
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["HOPWIRE_NO_EXTENSIONS"] = "1"
    code = ("import hopwire, importlib; print(hopwire.COMPILED_MODULES, *(importlib.import_module("
            "name).__file__ for name in hopwire._select.COMPILED))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    words = proc.stdout.split()
    assert words[0] == "()" and all(path.endswith(".py") for path in words[1:]), proc.stdout
