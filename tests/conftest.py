"""Fixtures and helpers shared by the hopwire test suite.

The parser comes in two twins with the same API and behaviour:
`hopwire._wire.parser_py` (always present) and the Cython module `hopwire._wire.parser_c`.
Tests that take the `twin` fixture run once per twin. The "c" run is skipped
when the extension cannot be imported, unless HOPWIRE_REQUIRE_EXTENSIONS=1
(then it fails); with HOPWIRE_NO_EXTENSIONS=1 only the "py" twin runs.

The helpers feed a message whole, byte by byte, or cut in two at every
position, and reduce what comes out to an `Outcome`: the normalized events
(type name + fields, adjacent Data merged) and the error, if any, as
(type, reason, status_hint, offset). `assert_splits_agree` checks that every
way of splitting the input gives the same outcome.

Test modules import the helpers with `from conftest import ...`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings

import hopwire
from hopwire._wire import events as _events, parser_py

pytest_plugins = ["servers.fixtures"]

# The same hypothesis examples on every run, so that a red CI run is a
# regression and not a new draw; HOPWIRE_HYPOTHESIS_EXPLORE=1 draws afresh
# (run it locally, turn what it finds into an explicit test).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("HOPWIRE_HYPOTHESIS_EXPLORE", "") not in ("", "0")
                      else "repeatable")


def env_flag(name: str) -> bool:
    """The same reading of the HOPWIRE_* variables as hopwire._select."""
    return os.environ.get(name, "") not in ("", "0")


NO_EXTENSIONS = env_flag("HOPWIRE_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = env_flag("HOPWIRE_REQUIRE_EXTENSIONS")


def _stale_compiled_modules() -> list[str]:
    """Compiled pool-core modules older than their source, in a checkout's in-place build.

    Python prefers a compiled module to the .py beside it: after an edit of
    `_pool/connection.py` without a rebuild, the suite would test the old code.
    """
    package = os.path.dirname(os.path.abspath(hopwire.__file__))
    if not os.path.exists(os.path.join(package, "..", "..", "setup.py")):
        return []  # an installed hopwire: its files were written together
    stale = []
    for name in hopwire.COMPILED_MODULES:
        module = importlib.import_module(name)
        source = os.path.join(package, "..", *name.split(".")) + ".py"
        if module.__file__ and os.path.getmtime(source) > os.path.getmtime(module.__file__):
            stale.append(name)
    return stale


_STALE = _stale_compiled_modules()
if _STALE:
    raise pytest.UsageError(
        f"compiled modules older than their source: {', '.join(_STALE)}; "
        "rebuild (python setup.py build_ext --inplace) or set HOPWIRE_NO_EXTENSIONS=1")

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


# -- normalized events ---------------------------------------------------------

# Field names of each event type, taken from the pure-Python twin (the C twin
# must have the same ones: test_guard.py proves it).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    cls.__name__: tuple(cls._fields)
    for cls in (_events.Request, _events.Response, _events.InformationalResponse,
                _events.Data, _events.EndOfMessage)
}

NEvent = tuple[str, dict[str, Any]]


def normalize(events: Iterable[Any]) -> list[NEvent]:
    """Events as (type name, {field: value}), with adjacent Data events merged."""
    out: list[NEvent] = []
    for ev in events:
        name = type(ev).__name__
        fields = {f: getattr(ev, f) for f in EVENT_FIELDS[name]}
        if name == "Data" and out and out[-1][0] == "Data":
            out[-1] = ("Data", {"data": bytes(out[-1][1]["data"]) + bytes(fields["data"])})
        else:
            out.append((name, fields))
    return out


@dataclass
class Outcome:
    """What a parser made of some input."""

    events: list[NEvent]
    error: tuple[str, str, int, int] | None  # (type, reason, status_hint, offset)
    upgraded: bool
    trailing_data: bytes
    # How many (unmerged) events each feed()/feed_eof() call returned, the failing
    # call counted by its ParseError.events. Not part of equality: splits differ here.
    per_call: tuple[int, ...] = field(default=(), compare=False)

    @property
    def rule(self) -> tuple[str, int] | None:
        """(reason, status_hint) of the error, comparable to the constants in _rules."""
        return None if self.error is None else (self.error[1], self.error[2])

    @property
    def offset(self) -> int | None:
        return None if self.error is None else self.error[3]


PARSER_CLASSES = {"request": "RequestParser", "response": "ResponseParser"}


def make_parser(twin: ModuleType, kind: str, expect: Sequence[bytes] = (), **options: Any) -> Any:
    parser = getattr(twin, PARSER_CLASSES[kind])(**options)
    for method in expect:
        parser.expect(method)
    return parser


def parse(twin: ModuleType, kind: str, chunks: Iterable[Any], *, expect: Sequence[bytes] = (),
          eof: bool = False, **options: Any) -> Outcome:
    """Feed `chunks` in order (then feed_eof() if `eof`) and collect the outcome.

    The events of an error outcome are those completed before the error: the
    ones returned by earlier feeds plus `ParseError.events` of the failing one.
    """
    parser = make_parser(twin, kind, expect, **options)
    events: list[Any] = []
    per_call: list[int] = []
    error = None
    try:
        for chunk in chunks:
            got = parser.feed(chunk)
            assert type(got) is list, f"feed() returned {type(got).__name__}, not a list"
            events.extend(got)
            per_call.append(len(got))
        if eof:
            got = parser.feed_eof()
            assert type(got) is list, f"feed_eof() returned {type(got).__name__}, not a list"
            events.extend(got)
            per_call.append(len(got))
    except hopwire.ParseError as exc:
        events.extend(exc.events)
        per_call.append(len(exc.events))
        error = (type(exc).__name__, exc.reason, exc.status_hint, exc.offset)
    return Outcome(normalize(events), error, bool(parser.upgraded), bytes(parser.trailing_data),
                   tuple(per_call))


def parse_whole(twin: ModuleType, kind: str, data: bytes, **kw: Any) -> Outcome:
    return parse(twin, kind, [data], **kw)


def parse_bytewise(twin: ModuleType, kind: str, data: bytes, **kw: Any) -> Outcome:
    return parse(twin, kind, [data[i:i + 1] for i in range(len(data))], **kw)


def parse_cuts(twin: ModuleType, kind: str, data: bytes, **kw: Any) -> Iterator[tuple[int, Outcome]]:
    """(cut, outcome) for the input cut in two at every position 0..len (empty pieces included)."""
    for cut in range(len(data) + 1):
        yield cut, parse(twin, kind, [data[:cut], data[cut:]], **kw)


def split_variants(data: bytes) -> Iterator[tuple[str, list[Any]]]:
    """Every way the helpers feed one input besides whole: bytewise, all cuts, other buffer types."""
    yield "bytewise", [data[i:i + 1] for i in range(len(data))]
    yield "bytearray", [bytearray(data)]
    yield "memoryview bytewise", [memoryview(data)[i:i + 1] for i in range(len(data))]
    for cut in range(len(data) + 1):
        yield f"cut at {cut}", [data[:cut], data[cut:]]


def describe(outcome: Outcome) -> str:
    lines = [f"error={outcome.error}", f"upgraded={outcome.upgraded}",
             f"trailing_data={outcome.trailing_data!r}"]
    lines += [f"  {name} {fields}" for name, fields in outcome.events]
    return "\n".join(lines)


def assert_same(expected: Outcome, got: Outcome, what: str) -> None:
    if got != expected:
        raise AssertionError(f"{what} differs\n--- expected:\n{describe(expected)}\n"
                             f"--- got:\n{describe(got)}")


def assert_splits_agree(twin: ModuleType, kind: str, data: bytes, **kw: Any) -> Outcome:
    """Parse `data` whole and in every split; all must agree. Returns the whole outcome."""
    whole = parse_whole(twin, kind, data, **kw)
    for name, chunks in split_variants(data):
        assert_same(whole, parse(twin, kind, chunks, **kw), f"fed {name} (vs whole)")
    return whole


# -- expected events -----------------------------------------------------------

def req(method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]] = (), *,
        http_version: bytes = b"1.1", keep_alive: bool = True, content_length: int | None = 0,
        chunked: bool = False, upgrade: bool = False,
        hop_headers: Sequence[tuple[bytes, bytes]] | None = None) -> NEvent:
    return ("Request", {
        "method": method, "target": target, "headers": list(headers),
        "http_version": http_version, "keep_alive": keep_alive,
        "content_length": content_length, "chunked": chunked, "upgrade": upgrade,
        "hop_headers": None if hop_headers is None else list(hop_headers),
    })


def resp(status_code: int, reason: bytes, headers: Sequence[tuple[bytes, bytes]] = (), *,
         http_version: bytes = b"1.1", keep_alive: bool = True, content_length: int | None = 0,
         chunked: bool = False, upgrade: bool = False,
         hop_headers: Sequence[tuple[bytes, bytes]] | None = None) -> NEvent:
    return ("Response", {
        "status_code": status_code, "reason": reason, "headers": list(headers),
        "http_version": http_version, "keep_alive": keep_alive,
        "content_length": content_length, "chunked": chunked, "upgrade": upgrade,
        "hop_headers": None if hop_headers is None else list(hop_headers),
    })


def info(status_code: int, reason: bytes, headers: Sequence[tuple[bytes, bytes]] = (), *,
         http_version: bytes = b"1.1", upgrade: bool = False,
         hop_headers: Sequence[tuple[bytes, bytes]] | None = None) -> NEvent:
    return ("InformationalResponse", {
        "status_code": status_code, "reason": reason, "headers": list(headers),
        "http_version": http_version, "upgrade": upgrade,
        "hop_headers": None if hop_headers is None else list(hop_headers),
    })


def body(data: bytes) -> NEvent:
    return ("Data", {"data": data})


def end(trailers: Sequence[tuple[bytes, bytes]] = ()) -> NEvent:
    return ("EndOfMessage", {"headers": list(trailers)})
