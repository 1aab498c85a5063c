"""The llhttp conformance corpus (tests/wire/conformance/llhttp.json, MIT, see LLHTTP-LICENSE).

Every strict case (no leniency flag) runs on each twin, fed whole ("whole") and
fed byte by byte plus cut in two at every position ("split"). The 4 cases with
`eof: true` signal end of input through `feed_eof()`.

The comparison is the one of the shared runner
(/work/shared/conformance/tools/run_corpus.py, described in its README): exact
on error/no error, message count and body; tolerant on header case, OWS and
fields the adapter does not report. Unlike the shared hopwire adapter, ours
reports an InformationalResponse as a complete message of its own (llhttp does
too), reports the reason phrase, the upgrade flag and the upgrade offset, and
the messages completed before an error.

hopwire deliberately differs from llhttp on exactly the cases in
KNOWN_DIFFERENCES; the test asserts that these (and only these) still fail,
so that a regression, or an accidental change of policy, is noticed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

import hopwire

CORPUS_PATH = Path(__file__).parent / "conformance" / "llhttp.json"
CORPUS: list[dict[str, Any]] = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))
STRICT = [case for case in CORPUS if not case["lenient"]]

_TOKEN_METHOD = ("hopwire accepts any RFC 9110 token as a method (RFC 9110 §9.1); "
                 "llhttp only knows a fixed list")
_NOT_HTTP = "not HTTP: hopwire speaks HTTP/1.0 and HTTP/1.1 only (no RTSP/ICE)"
_HTTP09 = "HTTP/0.9 is not supported (RFC 9112 §2.3 only defines HTTP/1.x message syntax)"

KNOWN_DIFFERENCES = {
    "request/invalid/http-protocol-and-announce-method": _TOKEN_METHOD,
    "request/invalid/invalid-method": _TOKEN_METHOD,
    "request/method/source-request-with-ice": _NOT_HTTP,
    "request/method/options-request-with-rtsp": _NOT_HTTP,
    "request/method/announce-request-with-rtsp": _NOT_HTTP,
    "response/sample/rtsp-response": _NOT_HTTP,
    "response/sample/ice-response": _NOT_HTTP,
    "request/sample/no-http-version": _HTTP09,
    "response/sample/http-version-0-9": _HTTP09,
}
EXPECTED_PASSING = 178
MODES = ("whole", "split")

# -- adapter -------------------------------------------------------------------


class CorpusOutcome:
    """What the parser produced: message dicts, an error, an upgrade offset."""

    def __init__(self, messages: list[dict], error: str | None, upgrade_offset: int | None):
        self.messages, self.error, self.upgrade_offset = messages, error, upgrade_offset


def _pairs(headers) -> list[list[str]]:
    return [[n.decode("latin-1"), v.decode("latin-1")] for n, v in headers]


def run_hopwire(twin, kind: str, chunks: list[bytes], eof: bool) -> CorpusOutcome:
    parser = twin.RequestParser() if kind == "request" else twin.ResponseParser()
    events: list[Any] = []
    error = None
    fed = 0
    try:
        for chunk in chunks:
            events.extend(parser.feed(chunk))
            fed += len(chunk)
        if eof:
            events.extend(parser.feed_eof())
    except hopwire.ParseError as exc:
        events.extend(exc.events)
        error = f"{exc.reason} (status {exc.status_hint}, at byte {exc.offset})"
    messages: list[dict] = []
    for ev in events:
        name = type(ev).__name__
        if name in ("Request", "Response", "InformationalResponse"):
            msg = {
                "version": "HTTP/" + ev.http_version.decode("ascii"),
                "headers": _pairs(ev.headers),
                "trailers": None,
                "body": b"",
                "upgrade": ev.upgrade,
                "keep_alive": getattr(ev, "keep_alive", None),
                # A 1xx response is a message of its own, complete with its head.
                "complete": name == "InformationalResponse",
            }
            if name == "Request":
                msg.update(method=ev.method.decode("latin-1"), target=ev.target.decode("latin-1"))
            else:
                msg.update(status=ev.status_code, reason=ev.reason.decode("latin-1"))
            messages.append(msg)
        elif name == "Data":
            messages[-1]["body"] += bytes(ev.data)
        else:  # EndOfMessage
            messages[-1].update(complete=True, trailers=_pairs(ev.headers))
    upgrade_offset = fed - len(parser.trailing_data) if parser.upgraded else None
    return CorpusOutcome(messages, error, upgrade_offset)


# -- comparison (the logic of run_corpus.py) -----------------------------------

OWS = " \t"


def _text(value):
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else value


def _version(value):
    proto, _, num = _text(value).rpartition("/")
    major, _, minor = num.partition(".")
    return proto or None, int(major), int(minor)


def _fields(pairs):
    return [(_text(n).lower(), _text(v).strip(OWS)) for n, v in pairs]


def compare_message(i: int, exp: dict, got: dict):
    for key in ("method", "target", "status", "reason"):
        if got.get(key) is not None and _text(got[key]) != exp[key]:
            yield f"message {i}: {key} {_text(got[key])!r} != expected {exp[key]!r}"
    if got.get("version") is not None:
        gp, *gv = _version(got["version"])
        ep, *ev = _version(exp["version"])
        if gv != ev or (gp and gp != ep):
            yield f"message {i}: version {got['version']!r} != expected {exp['version']!r}"
    for key in ("headers", "trailers"):
        if got.get(key) is not None and _fields(got[key]) != _fields(exp[key]):
            yield f"message {i}: {key} {_fields(got[key])} != expected {_fields(exp[key])}"
    want = base64.b64decode(exp["body_b64"])
    if bytes(got["body"]) != want:
        yield f"message {i}: body {bytes(got['body'])!r} != expected {want!r}"
    for key in ("keep_alive", "upgrade", "complete"):
        if got.get(key) is not None and exp.get(key) is not None and bool(got[key]) != exp[key]:
            yield f"message {i}: {key} {bool(got[key])} != expected {exp[key]}"


def compare(expect: dict, out: CorpusOutcome) -> list[str]:
    if expect.get("error"):
        if not out.error:
            hint = " (the input ends inside the header section)" \
                if expect.get("input_ends_in_head") else ""
            return [f"expected error {expect.get('llhttp_code')}, parser accepted the input" + hint]
        complete = [m for m in out.messages if m.get("complete") is not False]
        if len(complete) == len(expect.get("messages", [])):
            return []
        return [f"{len(complete)} messages completed before the error ({out.error}), "
                f"expected {len(expect.get('messages', []))}"]
    if out.error:
        return [f"unexpected error: {out.error}"]
    if len(out.messages) != len(expect["messages"]):
        summary = [(m.get("method") or m.get("status"), m.get("complete")) for m in out.messages]
        return [f"got {len(out.messages)} messages {summary}, expected {len(expect['messages'])}"]
    diffs = [d for i, (e, g) in enumerate(zip(expect["messages"], out.messages))
             for d in compare_message(i, e, g)]
    want = expect.get("upgrade_offset")
    if out.upgrade_offset is not None and want is not None and out.upgrade_offset != want:
        diffs.append(f"upgrade at byte {out.upgrade_offset}, expected {want}")
    return diffs


def variants(raw: bytes, mode: str):
    if mode == "whole":
        yield "whole", [raw]
        return
    yield "bytewise", [raw[i:i + 1] for i in range(len(raw))]
    for cut in range(1, len(raw)):
        yield f"cut at {cut}", [raw[:cut], raw[cut:]]


_RESULTS: dict[tuple[str, str, str], list[str]] = {}


def problems(twin, case: dict, mode: str) -> list[str]:
    """The differences from the expectation ([] when the case passes); cached per twin/mode."""
    key = (twin.__name__, mode, case["id"])
    if key not in _RESULTS:
        raw = base64.b64decode(case["raw_b64"])
        found: list[str] = []
        for name, chunks in variants(raw, mode):
            diffs = compare(case["expect"], run_hopwire(twin, case["kind"], chunks, case["eof"]))
            if diffs:
                found = [f"{name}: {d}" for d in diffs]
                break
        _RESULTS[key] = found
    return _RESULTS[key]


# -- tests ---------------------------------------------------------------------


def test_corpus_shape():
    assert len(CORPUS) == 224
    assert len(STRICT) == 187
    assert len({case["id"] for case in CORPUS}) == len(CORPUS)
    assert set(KNOWN_DIFFERENCES) <= {case["id"] for case in STRICT}
    assert len(STRICT) - len(KNOWN_DIFFERENCES) == EXPECTED_PASSING
    assert (Path(__file__).parent / "conformance" / "LLHTTP-LICENSE").is_file()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", STRICT, ids=[case["id"] for case in STRICT])
def test_strict_case(twin, case, mode):
    found = problems(twin, case, mode)
    if case["id"] in KNOWN_DIFFERENCES:
        assert found, (f"{case['id']} now matches llhttp; it is listed as a deliberate "
                       f"difference ({KNOWN_DIFFERENCES[case['id']]}): update KNOWN_DIFFERENCES")
    else:
        assert not found, "\n".join(found[:5])


@pytest.mark.parametrize("mode", MODES)
def test_failures_are_exactly_the_known_differences(twin, mode):
    failing = {case["id"] for case in STRICT if problems(twin, case, mode)}
    assert failing == set(KNOWN_DIFFERENCES)
    assert len(STRICT) - len(failing) == EXPECTED_PASSING


EOF_CASES = [case for case in CORPUS if case["eof"]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", EOF_CASES, ids=[case["id"] for case in EOF_CASES])
def test_eof_case_via_feed_eof(twin, case, mode):
    """The end-of-input cases: feed_eof() ends the message or reports it truncated."""
    assert len(EOF_CASES) == 4 and not case["lenient"]
    assert not problems(twin, case, mode)
    out = run_hopwire(twin, case["kind"], [base64.b64decode(case["raw_b64"])], eof=True)
    assert bool(out.error) == bool(case["expect"].get("error"))
