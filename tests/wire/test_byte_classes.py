"""Every byte value at every place of the grammar, against the byte classes in _rules.py.

The C twin compiles lookup tables from _rules at import and shares the bytes
objects of common names and methods; these tests check, for all 256 byte
values, that each twin accepts exactly the bytes the rules allow (RFC 9110
§5.6.2 tchar, §5.5 field-vchar/obs-text, RFC 9112 §3.2 target, §7.1 hex
chunk size and chunk-ext), and that shared names are only used on exact
matches.
"""

from __future__ import annotations

import pytest

from hopwire._wire import rules as R
from support.parsing import parse_whole

ALL = range(256)
CR, LF, SP, HT = 0x0D, 0x0A, 0x20, 0x09
QDTEXT = frozenset([HT, SP, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F), *range(0x80, 0x100)])


def outcome(twin, kind, raw):
    return parse_whole(twin, kind, raw)


def test_c_tables_are_built_from_rules(c_twin):
    """The C twin's compiled tables are the sets of _rules.py."""
    assert hasattr(c_twin, "_tables"), "hopwire._wire.parser_c._tables() is gone: update this test"
    tables = c_twin._tables()
    assert tables == {"TCHARS": R.TCHARS, "VALUE_CHARS": R.VALUE_CHARS,
                      "TARGET_CHARS": R.TARGET_CHARS, "HEXDIGITS": R.HEXDIGITS}


def test_c_error_table_is_rules(c_twin):
    names = [n for n in c_twin._RULE_NAMES if n is not None]
    assert [c_twin._RULES[i + 1] for i in range(len(names))] == [getattr(R, n) for n in names]
    pairs = {v for k, v in vars(R).items() if isinstance(v, tuple) and len(v) == 2
             and isinstance(v[0], str) and isinstance(v[1], int)}
    assert set(c_twin._RULES[1:]) == pairs


@pytest.mark.parametrize("byte", ALL)
def test_field_name_byte(twin, byte):
    raw = b"GET / HTTP/1.1\r\nX" + bytes([byte]) + b"Y: v\r\n\r\n"
    out = outcome(twin, "request", raw)
    if byte in R.TCHARS:
        assert out.error is None
        assert out.events[0][1]["headers"] == [(b"x" + bytes([byte]).lower() + b"y", b"v")]
    elif byte == 0x3A:  # ':' ends the name early; the rest is the value
        assert out.events[0][1]["headers"] == [(b"x", b"Y: v")]
    else:
        assert out.error is not None
        assert out.offset == 17
        if byte not in (CR, LF, SP, HT):
            assert out.rule == R.INVALID_NAME


@pytest.mark.parametrize("byte", ALL)
def test_field_value_byte(twin, byte):
    raw = b"GET / HTTP/1.1\r\nX: a" + bytes([byte]) + b"b\r\n\r\n"
    out = outcome(twin, "request", raw)
    if byte in R.VALUE_CHARS:
        assert out.error is None
        assert out.events[0][1]["headers"] == [(b"x", b"a" + bytes([byte]) + b"b")]
    else:
        assert (out.rule, out.offset) == (
            R.BARE_CR if byte == CR else R.BARE_LF if byte == LF else R.INVALID_VALUE, 20)


@pytest.mark.parametrize("byte", ALL)
def test_target_byte(twin, byte):
    raw = b"GET /a" + bytes([byte]) + b"b HTTP/1.1\r\n\r\n"
    out = outcome(twin, "request", raw)
    if byte in R.TARGET_CHARS:
        assert out.error is None
        assert out.events[0][1]["target"] == b"/a" + bytes([byte]) + b"b"
    else:
        assert out.error is not None
        if byte not in (SP, CR, LF):
            assert (out.rule, out.offset) == (R.INVALID_TARGET, 6)


@pytest.mark.parametrize("byte", ALL)
def test_method_byte(twin, byte):
    raw = b"G" + bytes([byte]) + b"T / HTTP/1.1\r\n\r\n"
    out = outcome(twin, "request", raw)
    if byte in R.TCHARS:
        assert out.error is None
        assert out.events[0][1]["method"] == b"G" + bytes([byte]) + b"T"
    else:
        assert out.error is not None
        if byte not in (SP, CR, LF):
            assert (out.rule, out.offset) == (R.INVALID_METHOD, 1)


@pytest.mark.parametrize("byte", ALL)
def test_reason_byte(twin, byte):
    raw = b"HTTP/1.1 200 O" + bytes([byte]) + b"K\r\nContent-Length: 0\r\n\r\n"
    out = outcome(twin, "response", raw)
    if byte in R.VALUE_CHARS:
        assert out.error is None
        assert out.events[0][1]["reason"] == b"O" + bytes([byte]) + b"K"
    else:
        assert out.offset == 14
        if byte not in (CR, LF):
            assert out.rule == R.INVALID_REASON


CHUNKED = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("byte", ALL)
def test_chunk_size_byte(twin, byte):
    size = bytes([byte])
    n = int(size, 16) if byte in R.HEXDIGITS else 0
    rest = b"x" * n + b"\r\n0\r\n\r\n" if n else b"\r\n"
    raw = CHUNKED + b"0" + size + b"\r\n" + rest
    out = outcome(twin, "request", raw)
    if byte in R.HEXDIGITS:
        assert out.error is None
        data = [f["data"] for name, f in out.events if name == "Data"]
        assert data == ([b"x" * n] if n else [])
    elif byte == 0x3B:  # ';' starts an (here empty, so invalid) extension
        assert out.rule == R.INVALID_CHUNK_EXT
    else:
        assert out.error is not None
        assert out.offset == len(CHUNKED) + 1
        if byte not in (CR, LF):
            assert out.rule == R.INVALID_CHUNK_SIZE


@pytest.mark.parametrize("byte", ALL)
def test_chunk_extension_name_byte(twin, byte):
    raw = CHUNKED + b"1;a" + bytes([byte]) + b"b\r\nx\r\n0\r\n\r\n"
    out = outcome(twin, "request", raw)
    if byte in R.TCHARS or byte in b";=":
        assert out.error is None
    else:
        assert out.error is not None
        assert out.offset == len(CHUNKED) + 3
        if byte not in (CR, LF):
            assert out.rule == R.INVALID_CHUNK_EXT


@pytest.mark.parametrize("byte", ALL)
def test_quoted_chunk_extension_byte(twin, byte):
    raw = CHUNKED + b'1;a="' + bytes([byte]) + b'"\r\nx\r\n0\r\n\r\n'
    out = outcome(twin, "request", raw)
    if byte in QDTEXT:
        assert out.error is None
    else:
        assert out.error is not None
        if byte not in (CR, LF, 0x22, 0x5C):
            assert (out.rule, out.offset) == (R.INVALID_CHUNK_EXT, len(CHUNKED) + 5)


# -- shared name and method objects are only used for exact matches -------------------

COMMON_NAMES = sorted(R.HOP_BY_HOP | {
    b"host", b"content-length", b"content-type", b"user-agent", b"accept", b"accept-encoding",
    b"accept-language", b"cookie", b"set-cookie", b"date", b"server", b"etag", b"vary",
    b"cache-control", b"location", b"sec-ch-ua", b"x-forwarded-for", b"te", b"via", b"age",
})
METHODS = [b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE"]


def _near(word: bytes) -> list[bytes]:
    """The word, its case variants and its near misses: prefixes, extensions, one byte changed."""
    out = {word, word.upper(), word.lower(), word.title(), word[:-1], word[1:], word + b"x",
           b"x" + word, word + word[-1:], word[:-1] + b"_"}
    return sorted(w for w in out if w)


@pytest.mark.parametrize("name", COMMON_NAMES)
def test_field_names_exact(twin, name):
    # Transfer-Encoding needs a body: leave it out; Content-Length gets a valid value.
    names = [n for n in _near(name) if n.lower() != b"transfer-encoding"]
    raw = b"GET / HTTP/1.1\r\n" + b"".join(
        n + (b": 0\r\n" if n.lower() == b"content-length" else b": v\r\n") for n in names) + b"\r\n"
    out = outcome(twin, "request", raw)
    assert out.error is None, out.error
    assert [n for n, _ in out.events[0][1]["headers"]] == [n.lower() for n in names]


@pytest.mark.parametrize("method", METHODS)
def test_methods_exact(twin, method):
    variants = _near(method)
    raw = b"".join(m + b" / HTTP/1.1\r\n\r\n" for m in variants)
    out = outcome(twin, "request", raw)
    assert out.error is None
    assert [f["method"] for name, f in out.events if name == "Request"] == variants


def test_kelvin_sign_is_not_k(twin):
    """Lower-casing is ASCII only: a Kelvin sign (U+212A) never turns a name into keep-alive."""
    kelvin = "\u212a".encode()
    headers = [(kelvin + b"eep-Alive", b"timeout=5"), (b"Connection", b"close")]
    assert twin.filter_hop_by_hop(headers) == [(kelvin + b"eep-Alive", b"timeout=5")]
    assert twin.connection_tokens([(b"Connection", kelvin + b"EEP-ALIVE")]) == [kelvin + b"eep-alive"]
