"""The pure parser's field-pair regex on every Python it supports.

`parser_py._FIELD_PAIRS` is possessive (`++`, `*+`), which `re` accepts from
Python 3.11 on; Python 3.10 gets `_FIELD_PAIRS_PORTABLE`, a lookahead form that
must give the same matches and must not backtrack more than linearly either.
Where both compile, they are compared on every short string over the bytes
that matter to them and on drawn longer ones.
"""

from __future__ import annotations

import itertools
import re
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hopwire._wire import parser_py as P

HAS_POSSESSIVE = sys.version_info >= (3, 11)
needs_possessive = pytest.mark.skipif(not HAS_POSSESSIVE, reason="re has possessive quantifiers from 3.11")

PORTABLE = re.compile(P._FIELD_PAIRS_PORTABLE)
# The bytes the pattern tells apart, and one of each other kind (name byte, value byte).
ALPHABET = [b":", b" ", b"\t", b"\r", b"\n", b"a", b"\x80"]


def outcome(pattern: re.Pattern[bytes], data: bytes) -> list[tuple[tuple[int, int], tuple[bytes, bytes]]]:
    """Every match findall would find, with its span, and the match at each offset."""
    found = [(m.span(), m.groups()) for m in pattern.finditer(data)]
    at = [(m.span(), m.groups()) if (m := pattern.match(data, i)) else ((-1, -1), (b"", b""))
          for i in range(len(data))]
    return found + at


def test_the_pattern_for_this_python() -> None:
    expected = P._FIELD_PAIRS_POSSESSIVE if HAS_POSSESSIVE else P._FIELD_PAIRS_PORTABLE
    assert P._FIELD_PAIRS.pattern == expected


@pytest.mark.slow  # every string up to a length
@needs_possessive
def test_portable_agrees_on_every_short_string() -> None:
    possessive = re.compile(P._FIELD_PAIRS_POSSESSIVE)
    for n in range(1, 7):
        for parts in itertools.product(ALPHABET, repeat=n):
            data = b"".join(parts)
            assert outcome(PORTABLE, data) == outcome(possessive, data), data


field_text = st.lists(st.sampled_from([b"Name", b"x", b":", b" ", b"  ", b"\t", b"\r\n", b"\r", b"\n",
                                       b"value", b"\x80", b"a b"]), max_size=40).map(b"".join)


@needs_possessive
@given(field_text)
def test_portable_agrees_on_drawn_lines(data: bytes) -> None:
    assert outcome(PORTABLE, data) == outcome(re.compile(P._FIELD_PAIRS_POSSESSIVE), data)


@pytest.mark.parametrize("which", ["selected", "portable"])
def test_a_failing_line_costs_linear_time(which: str) -> None:
    """Blanks then a value with no CRLF: a `[ \\t]*([^\\r]*)` that backtracks would take
    blanks x value steps (400 M here, seconds); possessive or lookahead, microseconds."""
    pattern = P._FIELD_PAIRS if which == "selected" else PORTABLE
    data = b"name:" + b" \t" * 10_000 + b"v" * 20_000 + b"\rx"
    start = time.perf_counter()
    assert pattern.match(data) is None
    assert time.perf_counter() - start < 1.0
