"""Feed a message to a parser twin and reduce what comes out to a comparable `Outcome`.

The helpers feed a message whole, byte by byte, or cut in two at every
position, and reduce what comes out to an `Outcome`: the normalized events
(type name + fields, adjacent Data merged) and the error, if any, as
(type, reason, status_hint, offset). `assert_splits_agree` checks that every
way of splitting the input gives the same outcome. `req`, `resp`, `info`,
`body` and `end` spell the expected events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import hopwire
from hopwire._wire import events as _events


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
