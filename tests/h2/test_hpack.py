"""HPACK (RFC 7541), both twins: the RFC's examples, every error, and the `hpack` package.

Every test that takes `hp` runs once per twin (`hopwire._h2._hpack_py`, and the C
twin `hopwire._h2._hpack_c` unless HOPWIRE_NO_EXTENSIONS=1; it is skipped when not
built, and fails instead under HOPWIRE_REQUIRE_EXTENSIONS=1, as the parser's
`twin` fixture does). Tests that take `twins` compare the two directly: same
blocks out of the encoders, same lists, tables and errors (reason and offset)
out of the decoders, for the same input.

The `hpack` package (python-hyper) is the oracle of the differential tests: our
encoder's blocks decode with its decoder to the lists we encoded, and its
blocks with ours, over sequences of blocks sharing a dynamic table with table
size changes between them.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from types import ModuleType

import hpack
import pytest
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hypothesis import given, settings
from hypothesis import strategies as st

from hopwire._h2 import _hpack_errors as E
from hopwire._h2 import _hpack_py
from hopwire._h2 import _hpack_tables as T
from hopwire._h2 import hpack as selector
from hopwire._h2._hpack_errors import HeaderListTooLarge, HPACKError
from support.twins import NO_EXTENSIONS, REQUIRE_EXTENSIONS, import_c, load_twin

C_TWIN = "hopwire._h2._hpack_c"


def load(name: str) -> ModuleType:
    """The HPACK module of twin `name` ("py" or "c"), or skip (or fail) as the environment asks."""
    return load_twin(name, _hpack_py, C_TWIN)


@pytest.fixture(scope="session", params=("py",) if NO_EXTENSIONS else ("py", "c"))
def hp(request: pytest.FixtureRequest) -> ModuleType:
    """One twin's module: Encoder, Decoder, _huffman_encode, _huffman_decode."""
    return load(request.param)


@pytest.fixture(scope="session")
def twins() -> tuple[ModuleType, ModuleType]:
    if NO_EXTENSIONS:
        pytest.skip("HOPWIRE_NO_EXTENSIONS=1: the C twin is not tested")
    return load("py"), load("c")


def hx(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def integer(value: int, prefix_bits: int, flags: int) -> bytes:
    """RFC 7541 §5.1, written again here so the error cases do not lean on the codec."""
    top = (1 << prefix_bits) - 1
    if value < top:
        return bytes([flags | value])
    out, value = [flags | top], value - top
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes(out + [value])


def outcome(decoder, block):
    """What a decoder made of a block: the list and never-indexed positions, or the error."""
    try:
        return ("ok", decoder.decode(block), decoder.never_indexed)
    except HPACKError as exc:
        return ("error", type(exc).__name__, exc.reason, exc.offset)


# -- RFC 7541 Appendix C ----------------------------------------------------------------------

AUTH = (b":authority", b"www.example.com")
NO_CACHE = (b"cache-control", b"no-cache")
CUSTOM = (b"custom-key", b"custom-value")
REQUESTS = [  # C.3 and C.4: the lists, then the dynamic table and its size after each
    ([(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), AUTH], [AUTH], 57),
    ([(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), AUTH, NO_CACHE],
     [NO_CACHE, AUTH], 110),
    ([(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/index.html"), AUTH, CUSTOM],
     [CUSTOM, NO_CACHE, AUTH], 164),
]
C3 = ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "8286 84be 5808 6e6f 2d63 6163 6865",
      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"]
C4 = ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      "8286 84be 5886 a8eb 1064 9cbf",
      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"]

PRIVATE = (b"cache-control", b"private")
DATE1 = (b"date", b"Mon, 21 Oct 2013 20:13:21 GMT")
DATE2 = (b"date", b"Mon, 21 Oct 2013 20:13:22 GMT")
LOCATION = (b"location", b"https://www.example.com")
GZIP = (b"content-encoding", b"gzip")
COOKIE = (b"set-cookie", b"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")
RESPONSES = [  # C.5 and C.6, with a 256-octet table
    ([(b":status", b"302"), PRIVATE, DATE1, LOCATION],
     [LOCATION, DATE1, PRIVATE, (b":status", b"302")], 222),
    ([(b":status", b"307"), PRIVATE, DATE1, LOCATION],
     [(b":status", b"307"), LOCATION, DATE1, PRIVATE], 222),
    ([(b":status", b"200"), PRIVATE, DATE2, LOCATION, GZIP, COOKIE], [COOKIE, GZIP, DATE2], 215),
]
C5 = ["4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a "
      "3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "4803 3330 37c1 c0bf",
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 "
      "677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 "
      "553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31"]
C6 = ["4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e "
      "919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
      "4883 640e ffc1 c0bf",
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 "
      "821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed "
      "4ee5 b106 3d50 07"]


@pytest.mark.parametrize("block, fields, table, never", [
    ("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",  # C.2.1
     [(b"custom-key", b"custom-header")], [(b"custom-key", b"custom-header")], ()),
    ("040c 2f73 616d 706c 652f 7061 7468", [(b":path", b"/sample/path")], [], ()),  # C.2.2
    ("1008 7061 7373 776f 7264 0673 6563 7265 74", [(b"password", b"secret")], [], (0,)),  # C.2.3
    ("82", [(b":method", b"GET")], [], ()),  # C.2.4
], ids=["C.2.1", "C.2.2", "C.2.3", "C.2.4"])
def test_c2_single_fields(hp, block, fields, table, never):
    decoder = hp.Decoder()
    assert decoder.decode(hx(block)) == fields
    assert decoder.dynamic_table == table
    assert decoder.dynamic_table_size == sum(len(n) + len(v) + 32 for n, v in table)
    assert decoder.never_indexed == never


@pytest.mark.parametrize("blocks, expected, table_size", [
    (C3, REQUESTS, 4096), (C4, REQUESTS, 4096), (C5, RESPONSES, 256), (C6, RESPONSES, 256),
], ids=["C.3", "C.4", "C.5", "C.6"])
def test_appendix_c_sequences_decode(hp, blocks, expected, table_size):
    decoder = hp.Decoder(max_table_size=table_size)
    for block, (fields, table, size) in zip(blocks, expected):
        assert decoder.decode(hx(block)) == fields
        assert decoder.dynamic_table == table
        assert decoder.dynamic_table_size == size
        assert decoder.never_indexed == ()


@pytest.mark.parametrize("blocks, huffman", [(C3, False), (C4, True)], ids=["C.3", "C.4"])
def test_appendix_c_requests_encode_as_the_rfc_does(hp, blocks, huffman):
    """The RFC's request examples are what our policy does too: byte for byte."""
    encoder = hp.Encoder()
    for block, (fields, table, size) in zip(blocks, REQUESTS):
        assert encoder.encode(fields, huffman=huffman) == hx(block)
        assert encoder.dynamic_table == table
        assert encoder.dynamic_table_size == size


@pytest.mark.parametrize("huffman", [False, True])
def test_appendix_c_responses_round_trip(hp, huffman):
    """C.5/C.6 index `date` and `location`, which our policy does not: the lists must
    still come back, from our decoder and from hpack's, with the tables in step."""
    encoder = hp.Encoder(max_table_size=256)
    ours, theirs = hp.Decoder(), hpack.Decoder()
    for fields, _, _ in RESPONSES:
        block = encoder.encode(fields, huffman=huffman)
        assert ours.decode(block) == fields
        assert theirs.decode(block, raw=True) == fields
        assert ours.dynamic_table == encoder.dynamic_table
        assert ours.dynamic_table_size == encoder.dynamic_table_size <= 256
    assert ours.table_size == encoder.table_size == 256


# -- the tables -----------------------------------------------------------------------------------

def test_static_table_is_appendix_a():
    assert len(T.STATIC_TABLE) == 61 == T.FIRST_DYNAMIC_INDEX - 1
    assert T.STATIC_TABLE[0] == (b":authority", b"")
    assert T.STATIC_TABLE[1:3] == ((b":method", b"GET"), (b":method", b"POST"))
    assert T.STATIC_TABLE[7:14] == tuple((b":status", s) for s in
                                         (b"200", b"204", b"206", b"304", b"400", b"404", b"500"))
    assert T.STATIC_TABLE[15] == (b"accept-encoding", b"gzip, deflate")
    assert T.STATIC_TABLE[60] == (b"www-authenticate", b"")
    assert all(name == name.lower() for name, _ in T.STATIC_TABLE)
    assert sum(1 for _, value in T.STATIC_TABLE if value) == 14


def test_huffman_code_is_canonical_and_complete():
    """A typo in Appendix B cannot hide: the code must be the canonical code of its
    lengths (§5.2 and Appendix B list it so) and fill the code space exactly."""
    codes = T.HUFFMAN_CODES
    assert len(codes) == 257 and T.EOS == 256
    assert codes[T.EOS] == ((1 << 30) - 1, 30)
    assert sum(Fraction(1, 2 ** length) for _, length in codes) == 1
    code, previous = -1, 0
    for symbol in sorted(range(257), key=lambda s: (codes[s][1], s)):
        length = codes[symbol][1]
        code = (code + 1) << (length - previous)
        previous = length
        assert codes[symbol][0] == code, symbol
    assert min(length for _, length in codes) == 5


def test_c_tables_agree_with_the_python_tables(twins):
    _, c = twins
    tables = c._tables()
    assert tables["STATIC_TABLE"] == T.STATIC_TABLE
    assert tables["HUFFMAN_CODES"] == T.HUFFMAN_CODES
    assert tables["LIMITS"] == (T.MAX_INTEGER, T.MAX_INTEGER_CONTINUATIONS, T.ENTRY_OVERHEAD,
                                T.DEFAULT_TABLE_SIZE)
    reasons = {v for k, v in vars(E).items() if k.isupper() and isinstance(v, str)}
    assert set(tables["REASONS"]) | {E.HEADER_LIST_TOO_LARGE} == reasons
    assert len(set(tables["REASONS"])) == len(tables["REASONS"])


def test_both_twins_hand_out_the_static_tuples(hp):
    """An indexed static field is the table's own tuple: no allocation per field."""
    fields = hp.Decoder().decode(hx("82 87 84"))
    assert fields[0] is T.STATIC_TABLE[1] and fields[2] is T.STATIC_TABLE[3]


# -- Huffman code ---------------------------------------------------------------------------------

_BY_CODE = {format(code, f"0{length}b"): symbol
            for symbol, (code, length) in enumerate(T.HUFFMAN_CODES)}


def _reference_decode(data: bytes):
    """A bit-by-bit Huffman decoder written from Appendix B alone: bytes, or a reason."""
    out, bits = bytearray(), ""
    for bit in "".join(format(byte, "08b") for byte in data):
        bits += bit
        symbol = _BY_CODE.get(bits)
        if symbol is not None:
            if symbol == T.EOS:
                return E.HUFFMAN_EOS
            out.append(symbol)
            bits = ""
    if len(bits) > 7:
        return E.HUFFMAN_PADDING_TOO_LONG
    if bits != "1" * len(bits):
        return E.HUFFMAN_PADDING_NOT_ONES
    return bytes(out)


def _decode_or_reason(hp, data):
    try:
        return hp._huffman_decode(data, 0)
    except HPACKError as exc:
        assert exc.offset == 0
        return exc.reason


def test_huffman_every_symbol(hp):
    for symbol in range(256):
        code, length = T.HUFFMAN_CODES[symbol]
        pad = -length % 8
        expected = ((code << pad) | ((1 << pad) - 1)).to_bytes((length + pad) // 8, "big")
        assert hp._huffman_encode(bytes([symbol])) == expected, symbol
        assert hp._huffman_decode(expected, 0) == bytes([symbol])


@functools.lru_cache(maxsize=None)
def _every_step() -> tuple[tuple[bytes, object], ...]:
    """For every state of a decoder (a proper prefix of a code: 256 of them) and every
    octet, a string that reaches the state at an octet boundary and goes on with that
    octet, with what the reference makes of it. '0' (5 bits) leads up to the boundary."""
    prefixes = {format(code, f"0{length}b")[:cut] for code, length in T.HUFFMAN_CODES
                for cut in range(length)}
    assert len(prefixes) == 256
    cases = []
    for prefix in sorted(prefixes):
        lead = "00000" * (5 * (-len(prefix) % 8) % 8)
        for octet in range(256):
            bits = lead + prefix + format(octet, "08b")
            data = int(bits, 2).to_bytes(len(bits) // 8, "big")
            cases.append((data, _reference_decode(data)))
    return tuple(cases)


@pytest.mark.slow  # every state and octet
def test_huffman_every_state_and_octet_matches_the_reference(hp):
    for data, expected in _every_step():
        assert _decode_or_reason(hp, data) == expected, data.hex()


@pytest.mark.parametrize("data, reason", [
    (b"\xff\xff\xff\xff", E.HUFFMAN_EOS),       # 32 ones: EOS, then two bits
    (b"\xff\xff\xff\xfc", E.HUFFMAN_EOS),       # EOS exactly, then padding
    (b"\x1f\xff", E.HUFFMAN_PADDING_TOO_LONG),  # 'a', then 11 ones
    (b"\xff", E.HUFFMAN_PADDING_TOO_LONG),      # 8 ones of padding
    (b"\x18", E.HUFFMAN_PADDING_NOT_ONES),      # 'a', then 000
    (b"\x1e", E.HUFFMAN_PADDING_NOT_ONES),      # 'a', then 110
    (b"\xfe", E.HUFFMAN_PADDING_TOO_LONG),      # 8 bits of a longer code
])
def test_huffman_errors(hp, data, reason):
    with pytest.raises(HPACKError) as info:
        hp._huffman_decode(data, 7)
    assert (info.value.reason, info.value.offset) == (reason, 7)
    assert _reference_decode(data) == reason


def test_huffman_padding_of_seven_ones_is_accepted(hp):
    coded = hp._huffman_encode(b"abd")  # 5 + 6 + 6 bits: 7 bits of padding
    assert coded == hx("1c 72 7f") and hp._huffman_decode(coded, 0) == b"abd"
    assert hp._huffman_decode(b"", 0) == b""


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64))
def test_huffman_matches_hpack(hp, data):
    coded = hp._huffman_encode(data)
    assert coded == HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(data)
    assert hp._huffman_decode(coded, 0) == data


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=24))
def test_huffman_decoders_agree_on_any_octets(twins, data):
    py, c = twins
    expected = _reference_decode(data)
    assert _decode_or_reason(py, data) == expected
    assert _decode_or_reason(c, data) == expected


# -- decoding errors: each reason at its offset, the same on both twins ----------------------

BIG = 1 << 32
ERRORS = [
    # (id, block, reason, offset)
    ("index 0", hx("80"), E.INDEX_ZERO, 0),
    ("index 0 after fields", hx("8286 80"), E.INDEX_ZERO, 2),
    ("index 62 with an empty table", hx("be"), E.INDEX_OUT_OF_RANGE, 0),
    ("index 63 with one entry", hx("41 0161 be bf"), E.INDEX_OUT_OF_RANGE, 4),
    ("name index 62, with indexing", hx("7e 0161"), E.INDEX_OUT_OF_RANGE, 0),
    ("name index 62, without indexing", hx("0f2f 0161"), E.INDEX_OUT_OF_RANGE, 0),
    ("name index 62, never indexed", hx("1f2f 0161"), E.INDEX_OUT_OF_RANGE, 0),
    ("index 2**32-1: a valid integer", b"\x82" + integer(BIG - 1, 7, 0x80),
     E.INDEX_OUT_OF_RANGE, 1),
    ("integer: prefix only", hx("ff"), E.INTEGER_TRUNCATED, 0),
    ("integer: continuation cut", hx("82 ff 80"), E.INTEGER_TRUNCATED, 1),
    ("integer: four continuations cut", hx("ff 80 80 80 80"), E.INTEGER_TRUNCATED, 0),
    ("integer: five continuations", hx("ff 80 80 80 80 00"), E.INDEX_OUT_OF_RANGE, 0),
    ("integer: six continuations", hx("ff 80 80 80 80 80 00"), E.INTEGER_OVERFLOW, 0),
    ("integer: five continuations, still going", hx("ff 80 80 80 80 80"), E.INTEGER_OVERFLOW, 0),
    ("integer: 2**32", integer(BIG, 7, 0x80), E.INTEGER_OVERFLOW, 0),
    ("integer: 2**35-ish", hx("ff ff ff ff ff 7f"), E.INTEGER_OVERFLOW, 0),
    ("name length missing", hx("40"), E.INTEGER_TRUNCATED, 0),
    ("value length missing", hx("82 41"), E.INTEGER_TRUNCATED, 1),
    ("value length cut", hx("82 41 7f"), E.INTEGER_TRUNCATED, 1),
    ("name longer than the block", hx("40 0561 62"), E.STRING_TRUNCATED, 0),
    ("value longer than the block", hx("82 41 0561 62"), E.STRING_TRUNCATED, 1),
    ("value of 2**32-1 octets", hx("41") + integer(BIG - 1, 7, 0), E.STRING_TRUNCATED, 0),
    ("Huffman name with EOS", hx("82 40 84 ffffffff 0161"), E.HUFFMAN_EOS, 1),
    ("Huffman value with EOS", hx("41 84 ffffffff"), E.HUFFMAN_EOS, 0),
    ("Huffman padding too long", hx("40 82 1fff 00"), E.HUFFMAN_PADDING_TOO_LONG, 0),
    ("Huffman padding not ones", hx("82 0481 18"), E.HUFFMAN_PADDING_NOT_ONES, 1),
    ("size update after a field", hx("82 20"), E.SIZE_UPDATE_AFTER_FIELD, 1),
    ("size update after two", hx("20 82 3f e1 1f"), E.SIZE_UPDATE_AFTER_FIELD, 2),
    ("size update above 4096", integer(4097, 5, 0x20), E.SIZE_UPDATE_TOO_LARGE, 0),
    ("size update above, second", hx("20") + integer(4097, 5, 0x20), E.SIZE_UPDATE_TOO_LARGE, 1),
    ("size update cut", hx("3f"), E.INTEGER_TRUNCATED, 0),
    ("third size update above", hx("20 3f e1 1f") + integer(4097, 5, 0x20),
     E.SIZE_UPDATE_TOO_LARGE, 4),
]


@pytest.mark.parametrize("block, reason, offset", [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_decoding_errors(hp, block, reason, offset):
    assert outcome(hp.Decoder(), block) == ("error", "HPACKError", reason, offset)


def test_size_update_must_follow_a_smaller_allowed_size(hp):
    decoder = hp.Decoder()
    decoder.max_allowed_table_size = 100
    assert outcome(decoder, hx("82")) == ("error", "HPACKError", E.SIZE_UPDATE_MISSING, 0)
    assert outcome(decoder, b"") == ("error", "HPACKError", E.SIZE_UPDATE_MISSING, 0)
    assert outcome(decoder, integer(101, 5, 0x20)) == ("error", "HPACKError",
                                                       E.SIZE_UPDATE_TOO_LARGE, 0)
    decoder = hp.Decoder()
    decoder.max_allowed_table_size = 100
    assert decoder.decode(integer(100, 5, 0x20) + hx("82")) == [(b":method", b"GET")]
    assert decoder.table_size == 100
    assert decoder.decode(hx("82")) == [(b":method", b"GET")]  # required once only


def test_raising_the_allowed_size_again_needs_no_update(hp):
    decoder = hp.Decoder()
    decoder.max_allowed_table_size = 100
    decoder.max_allowed_table_size = 4096
    assert decoder.decode(hx("82")) == [(b":method", b"GET")]
    decoder.max_allowed_table_size = 8192  # larger than in use: the peer may keep 4096
    assert decoder.decode(hx("82")) == [(b":method", b"GET")]
    assert decoder.decode(integer(8192, 5, 0x20)) == [] and decoder.table_size == 8192


def test_size_updates_evict(hp):
    decoder = hp.Decoder()
    decoder.decode(hx(C3[0]) + hx("400a 6375 7374 6f6d 2d6b 6579 0161"))  # + custom-key: a
    assert decoder.dynamic_table == [(b"custom-key", b"a"), AUTH]
    assert decoder.decode(integer(60, 5, 0x20)) == []
    assert decoder.dynamic_table == [(b"custom-key", b"a")]
    assert decoder.decode(hx("20 3f e1 1f")) == [] and decoder.dynamic_table == []
    assert decoder.table_size == 4096 and decoder.dynamic_table_size == 0


def test_size_update_to_the_largest_setting(hp):
    decoder = hp.Decoder(max_table_size=BIG - 1)
    assert decoder.decode(integer(BIG - 1, 5, 0x20)) == []
    assert decoder.table_size == BIG - 1


def test_entry_larger_than_the_table_empties_it(hp):
    """§4.4: not an error; the table ends up empty."""
    decoder = hp.Decoder(max_table_size=60)
    assert decoder.decode(hx(C3[0])) == REQUESTS[0][0]
    assert decoder.dynamic_table == [AUTH]
    big = hx("40 0178 1e") + b"y" * 30  # x: 30 y's, 63 octets
    assert decoder.decode(big) == [(b"x", b"y" * 30)]
    assert decoder.dynamic_table == [] and decoder.dynamic_table_size == 0


def test_header_list_too_large_keeps_the_table_in_step(hp):
    decoder = hp.Decoder(max_header_list_size=100)
    block = hx("82 400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572 82 86")
    with pytest.raises(HeaderListTooLarge) as info:  # 42 + 55 = 97, then 139
        decoder.decode(block)
    assert (info.value.reason, info.value.offset, info.value.size) == (
        E.HEADER_LIST_TOO_LARGE, 27, 42 + 55 + 42 + 43)
    assert isinstance(info.value, HPACKError)
    assert decoder.dynamic_table == [(b"custom-key", b"custom-header")]
    assert decoder.decode(hx("be")) == [(b"custom-key", b"custom-header")]
    decoder.max_header_list_size = 97
    assert decoder.decode(hx("82 be")) == [(b":method", b"GET"), (b"custom-key", b"custom-header")]
    decoder.max_header_list_size = 0
    assert decoder.decode(b"") == []
    with pytest.raises(HeaderListTooLarge):
        decoder.decode(hx("82"))


def test_decoder_takes_any_buffer(hp):
    block = hx(C4[0])
    expected = REQUESTS[0][0]
    for data in (bytearray(block), memoryview(block), memoryview(b"x" + block)[1:],
                 memoryview(bytes(b for pair in zip(block, block) for b in pair))[::2]):
        assert hp.Decoder().decode(data) == expected
    with pytest.raises(TypeError):
        hp.Decoder().decode("82")
    with pytest.raises(TypeError):
        hp.Decoder().decode(130)


def test_never_indexed_positions(hp):
    decoder = hp.Decoder()
    block = hx("82 1008 7061 7373 776f 7264 0673 6563 7265 74 1f08 0161 86")
    assert decoder.decode(block) == [(b":method", b"GET"), (b"password", b"secret"),
                                     (b"authorization", b"a"), (b":scheme", b"http")]
    assert decoder.never_indexed == (1, 2)
    assert decoder.decode(hx("82")) and decoder.never_indexed == ()
    assert decoder.dynamic_table == []


@pytest.mark.parametrize("cls, keywords", [
    ("Decoder", ("max_table_size", "max_header_list_size")), ("Encoder", ("max_table_size",)),
])
def test_settings_are_checked(hp, cls, keywords):
    for keyword in keywords:
        for bad, error in ((-1, ValueError), (BIG, ValueError), (1.5, TypeError), ("1", TypeError)):
            with pytest.raises(error) as info:
                getattr(hp, cls)(**{keyword: bad})
            if error is ValueError:
                assert str(info.value) == f"{keyword} must be in 0..{BIG - 1}, not {bad}"
    obj = getattr(hp, cls)()
    attributes = (("max_allowed_table_size", "max_header_list_size") if cls == "Decoder"
                  else ("table_size",))
    for attribute in attributes:
        with pytest.raises(ValueError):
            setattr(obj, attribute, -1)
        with pytest.raises(TypeError):
            setattr(obj, attribute, 2.0)
        setattr(obj, attribute, True)  # an int, as operator.index says
        assert getattr(obj, attribute) == 1


# -- the encoder --------------------------------------------------------------------------------

REQUEST = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"example.org"),
           (b":path", b"/items?page=2"), (b"user-agent", b"hopwire/0.1"), (b"accept", b"*/*"),
           (b"accept-encoding", b"gzip, deflate")]


def test_encoder_indexes_what_repeats(hp):
    encoder = hp.Encoder()
    first = encoder.encode(REQUEST)
    assert [n for n, _ in encoder.dynamic_table] == [b"accept", b"user-agent", b":authority"]
    second = encoder.encode(REQUEST)
    assert len(second) < len(first)
    # :method, :scheme, accept-encoding static; the path a literal; the rest dynamic
    assert second[:3] == hx("82 87 c0") and second[-3:] == hx("bf be 90")
    decoder = hp.Decoder()
    assert decoder.decode(first) == decoder.decode(second) == REQUEST


def test_encoder_policy(hp):
    encoder = hp.Encoder(max_table_size=400)
    encoder.encode([(b":path", b"/a"), (b"content-length", b"12"), (b"x-big", b"v" * 270),
                    (b"x-fits", b"v" * 250), (b"etag", b'"1"')])
    # 5 + 270 + 32 > 300 (3/4 of 400): not indexed; 6 + 250 + 32 is
    assert encoder.dynamic_table == [(b"x-fits", b"v" * 250)]


@pytest.mark.parametrize("field, sensitive", [
    ((b"authorization", b"Bearer x" * 10), True), ((b"authorization", b""), True),
    ((b"proxy-authorization", b"Basic abc"), True), ((b"cookie", b"a" * 19), True),
    ((b"cookie", b""), True), ((b"cookie", b"a" * 20), False), ((b"set-cookie", b"a"), False),
    ((b"x-authorization", b"a"), False),
])
def test_sensitive_fields_are_never_indexed(hp, field, sensitive):
    assert T.is_sensitive(*field) is sensitive
    encoder, decoder, theirs = hp.Encoder(), hp.Decoder(), hpack.Decoder()
    for _ in range(2):
        block = encoder.encode([(b":method", b"GET"), field])
        assert decoder.decode(block) == [(b":method", b"GET"), field]
        assert decoder.never_indexed == ((1,) if sensitive else ())
        got = theirs.decode(block, raw=True)
        assert isinstance(got[1], hpack.NeverIndexedHeaderTuple) is sensitive
        assert (field in encoder.dynamic_table) is (not sensitive and field[0] != b"set-cookie")
        assert block[1] >> 4 == 1 if sensitive else True


def test_never_indexed_positions_are_kept(hp):
    """An intermediary passes the decoder's positions back (§7.1.3)."""
    fields = [(b":method", b"GET"), (b"x-secret", b"1"), (b"x-plain", b"2"), (b"x-secret", b"1")]
    encoder, decoder = hp.Encoder(), hp.Decoder()
    first = encoder.encode([(b"x-secret", b"1")])  # now in the table: forced still wins
    block = encoder.encode(fields, never_indexed=[0, 3, 99])
    assert decoder.decode(first) == [(b"x-secret", b"1")]
    assert decoder.decode(block) == fields
    assert decoder.never_indexed == (0, 3)
    assert decoder.dynamic_table == encoder.dynamic_table
    with pytest.raises(TypeError):
        encoder.encode(fields, never_indexed=5)


def test_table_size_changes_are_announced(hp):
    encoder = hp.Encoder()
    encoder.encode(REQUEST)
    assert encoder.dynamic_table
    encoder.table_size = 4096  # no change, nothing to say
    assert encoder.encode([]) == b""
    encoder.table_size = 0
    encoder.table_size = 4096  # lowered then raised: the smallest, then the final (§4.2)
    assert encoder.dynamic_table == [] and encoder.dynamic_table_size == 0
    assert encoder.encode([]) == hx("20 3f e1 1f")
    assert encoder.encode([]) == b""
    encoder.table_size = 1000
    encoder.table_size = 2000
    encoder.table_size = 1500
    assert encoder.encode([(b":method", b"GET")]) == (integer(1000, 5, 0x20)
                                                      + integer(1500, 5, 0x20) + b"\x82")
    encoder.table_size = 65536  # beyond our cap (4096): 4096 is used
    assert encoder.table_size == 4096
    assert encoder.encode([]) == integer(4096, 5, 0x20)


def test_encoder_cap_is_announced_first(hp):
    encoder = hp.Encoder(max_table_size=256)
    assert encoder.table_size == 256
    block = encoder.encode(RESPONSES[0][0])
    assert block.startswith(integer(256, 5, 0x20))
    encoder.table_size = 65536
    assert encoder.table_size == 256 and not encoder.encode([]).startswith(b"\x3f")
    none = hp.Encoder(max_table_size=0)
    assert none.encode(REQUEST).startswith(b"\x20") and none.dynamic_table == []
    assert hp.Decoder().decode(none.encode(REQUEST)) == REQUEST


def test_huffman_only_when_shorter(hp):
    encoder = hp.Encoder()
    block = encoder.encode([(b"x-a", b"\xff" * 4)])  # 26 bits each: longer coded
    assert block == hx("40 03") + b"x-a" + hx("04 ffffffff")  # 18 bits: not shorter either
    assert (encoder.encode([(b"x-b", b"aaaa")], huffman=False)
            == hx("40 03") + b"x-b" + hx("04") + b"aaaa")


@pytest.mark.parametrize("bad, error", [
    ([(b"a", "b")], TypeError), ([("a", b"b")], TypeError), ([(b"a", bytearray(b"b"))], TypeError),
    ([(b"a", b"b", b"c")], ValueError), ([(b"a",)], ValueError), ([b"ab"], TypeError),
    ([None], TypeError), (None, TypeError),
])
def test_bad_fields_change_nothing(hp, bad, error):
    encoder, reference = hp.Encoder(), hp.Encoder()
    encoder.table_size = reference.table_size = 100  # a size update pending
    with pytest.raises(error):
        encoder.encode([(b"x-first", b"1")] + bad if bad is not None else bad)
    assert encoder.dynamic_table == [] and encoder.dynamic_table_size == 0
    assert encoder.encode(REQUEST) == reference.encode(REQUEST)


def test_bad_field_messages_match(twins):
    py, c = twins
    for bad in ([(b"a", "b")], [(1, b"b")]):
        messages = []
        for twin in (py, c):
            with pytest.raises(TypeError) as info:
                twin.Encoder().encode(bad)
            messages.append(str(info.value))
        assert messages[0] == messages[1]


def test_encoder_takes_pairs_of_any_kind(hp):
    fields = [(b"a", b"1"), [b"b", b"2"], hpack.HeaderTuple(b"c", b"3")]
    block = hp.Encoder().encode(iter(fields))
    assert hp.Decoder().decode(block) == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]


def test_large_integers_and_strings(hp):
    value = bytes(range(256)) * 40
    encoder = hp.Encoder(max_table_size=BIG - 1)
    decoder = hp.Decoder(max_table_size=BIG - 1, max_header_list_size=1 << 20)
    encoder.table_size = 1 << 20
    decoder.max_allowed_table_size = 1 << 20
    fields = [(b"x-%d" % i, value[: i * 97]) for i in range(0, 100, 7)] + [(b"x-a", b"a" * 60000)]
    for _ in range(3):
        assert decoder.decode(encoder.encode(fields)) == fields
        assert decoder.decode(encoder.encode(fields, huffman=False)) == fields
    assert decoder.dynamic_table == encoder.dynamic_table


# -- both twins, any input ------------------------------------------------------------------------

def _run_decoders(twins, blocks, **options):
    """Feed the same blocks to both twins' decoders; they must agree step by step."""
    decoders = [twin.Decoder(**options) for twin in twins]
    results = []
    for block in blocks:
        got = [outcome(decoder, block) for decoder in decoders]
        assert got[0] == got[1], block.hex()
        assert decoders[0].dynamic_table == decoders[1].dynamic_table
        assert decoders[0].dynamic_table_size == decoders[1].dynamic_table_size
        assert decoders[0].table_size == decoders[1].table_size
        results.append(got[0])
        if got[0][0] == "error" and got[0][1] != "HeaderListTooLarge":
            break
    return results


@settings(max_examples=500, deadline=None)
@given(blocks=st.lists(st.binary(max_size=48), min_size=1, max_size=4))
def test_twins_agree_on_any_octets(twins, blocks):
    _run_decoders(twins, blocks, max_table_size=256, max_header_list_size=200)


@pytest.mark.parametrize("blocks", [C5, C6, C4], ids=["C.5", "C.6", "C.4"])
def test_twins_agree_on_every_cut(twins, blocks):
    """Each block cut at every octet, after the blocks before it: both twins agree, and
    a cut is either a whole number of fields or an error, never a crash."""
    whole = [hx(b) for b in blocks]
    for i, block in enumerate(whole):
        for cut in range(len(block)):
            results = _run_decoders(twins, whole[:i] + [block[:cut]], max_table_size=256)
            assert len(results) == i + 1 and results[-1][0] in ("ok", "error")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_twins_agree_on_mutated_blocks(twins, data):
    blocks = [bytearray(hx(b)) for b in C6]
    for block in blocks:
        for _ in range(data.draw(st.integers(0, 3))):
            block[data.draw(st.integers(0, len(block) - 1))] = data.draw(st.integers(0, 255))
    _run_decoders(twins, [bytes(b) for b in blocks], max_table_size=256)


# -- against the hpack package --------------------------------------------------------------------

NAMES = sorted({name for name, _ in T.STATIC_TABLE} | {b"x-request-id", b"custom-key"})
VALUES = [b"", b"GET", b"200", b"gzip, deflate", b"no-cache", b"text/html; charset=utf-8",
          b"Mon, 21 Oct 2013 20:13:21 GMT", b"/", b"/index.html", b"a" * 19, b"a" * 20]
fields_st = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), st.binary(max_size=12)),
                               st.one_of(st.sampled_from(VALUES), st.binary(max_size=40))),
                     max_size=10)
SIZES = [0, 40, 64, 100, 256, 1000, 4096, 8192]
steps_st = st.lists(st.one_of(fields_st.map(lambda f: ("block", f)),
                              st.sampled_from(SIZES).map(lambda n: ("size", n))),
                    min_size=1, max_size=10)


@pytest.mark.slow  # a long hypothesis run
@settings(max_examples=200, deadline=None)
@given(steps=steps_st, huffman=st.booleans())
def test_our_blocks_decode_with_hpack(hp, steps, huffman):
    encoder, ours, theirs = hp.Encoder(max_table_size=8192), hp.Decoder(), hpack.Decoder()
    for kind, arg in steps:
        if kind == "size":  # the peer's SETTINGS_HEADER_TABLE_SIZE, acknowledged
            encoder.table_size = arg
            ours.max_allowed_table_size = theirs.max_allowed_table_size = arg
            continue
        block = encoder.encode(arg, huffman=huffman)
        got = theirs.decode(block, raw=True)
        assert [tuple(f) for f in got] == arg
        sensitive = tuple(i for i, f in enumerate(arg) if T.is_sensitive(*f))
        never = tuple(i for i, f in enumerate(got) if isinstance(f, hpack.NeverIndexedHeaderTuple))
        assert never == sensitive
        assert ours.decode(block) == arg and ours.never_indexed == sensitive
        assert ours.dynamic_table == encoder.dynamic_table
        assert [tuple(e) for e in theirs.header_table.dynamic_entries] == encoder.dynamic_table
        assert ours.table_size == encoder.table_size == theirs.header_table.maxsize


@pytest.mark.slow  # a long hypothesis run
@settings(max_examples=200, deadline=None)
@given(steps=steps_st, flags=st.lists(st.booleans(), min_size=10, max_size=10),
       huffman=st.booleans())
def test_hpack_blocks_decode_with_ours(hp, steps, flags, huffman):
    encoder, decoder, oracle = hpack.Encoder(), hp.Decoder(), hpack.Decoder()
    # One change between blocks, as hopwire makes them: hpack announces every change
    # (§4.2 asks for the smallest and the last), and forgets a change to the same size.
    steps = [step for step, after in zip(steps, steps[1:] + [("block", [])])
             if step[0] == "block" or after[0] == "block"]
    for kind, arg in steps:
        if kind == "size":  # our SETTINGS_HEADER_TABLE_SIZE, acknowledged
            if arg == encoder.header_table_size:
                continue
            encoder.header_table_size = arg
            decoder.max_allowed_table_size = oracle.max_allowed_table_size = arg
            continue
        sent = [(n, v, flags[i]) for i, (n, v) in enumerate(arg)]
        block = encoder.encode(sent, huffman=huffman)
        assert decoder.decode(block) == arg
        # hpack sends a sensitive field as an index when a table has it whole: its
        # own decoder is the judge of which fields went never-indexed.
        got = oracle.decode(block, raw=True)
        assert decoder.never_indexed == tuple(
            i for i, f in enumerate(got) if isinstance(f, hpack.NeverIndexedHeaderTuple))
        assert set(decoder.never_indexed) <= {i for i, (_, _, s) in enumerate(sent) if s}
        assert decoder.dynamic_table == [tuple(e) for e in encoder.header_table.dynamic_entries]


@pytest.mark.slow  # a long hypothesis run
@settings(max_examples=200, deadline=None)
@given(steps=steps_st, huffman=st.booleans(), forced=st.sets(st.integers(0, 9), max_size=3))
def test_twins_encode_identically(twins, steps, huffman, forced):
    encoders = [twin.Encoder(max_table_size=4096) for twin in twins]
    for kind, arg in steps:
        if kind == "size":
            for encoder in encoders:
                encoder.table_size = arg
            continue
        blocks = [encoder.encode(arg, huffman=huffman, never_indexed=forced)
                  for encoder in encoders]
        assert blocks[0] == blocks[1]
        assert encoders[0].dynamic_table == encoders[1].dynamic_table
        assert encoders[0].dynamic_table_size == encoders[1].dynamic_table_size


# -- memory ----------------------------------------------------------------------------------

def _round(hp) -> None:
    encoder, decoder = hp.Encoder(max_table_size=256), hp.Decoder()
    for fields, _, _ in RESPONSES + REQUESTS:
        decoder.decode(encoder.encode(fields))
    encoder.table_size = 0
    encoder.table_size = 4096
    decoder.decode(bytearray(encoder.encode(REQUEST, never_indexed=(1,))))
    for block in (hx("80"), hx("ff 80 80 80 80 80 00"), hx(C6[0])[:20], hx("41 84 ffffffff")):
        try:
            hp.Decoder().decode(block)
        except HPACKError:
            pass
    try:
        hp.Decoder(max_header_list_size=60).decode(hx(C3[0]))
    except HeaderListTooLarge:
        pass
    try:
        encoder.encode([(b"x", b"1"), (b"a", "b")])
    except TypeError:
        pass


@pytest.mark.slow  # tracemalloc over many rounds
def test_memory_stays_flat(hp):
    """No reference leaked per block, per error or per encoder: tracemalloc sees every
    Python object, so a tuple or bytes object the C twin forgets shows up as growth."""
    import gc
    import tracemalloc

    def growth(loops: int) -> int:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(loops):
            _round(hp)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before

    for _ in range(100):  # warm caches (the Python twin's Huffman steps), freelists
        _round(hp)
    tracemalloc.start()
    try:
        growth(50)
        grown = growth(400)
    finally:
        tracemalloc.stop()
    assert grown < 8_000, grown  # one small object a round would be 400 * 50 bytes


# -- which twin the selector chose --------------------------------------------------------------

def test_selector_names():
    twin = import_c(C_TWIN)[0] if selector.EXTENSION_ACTIVE else _hpack_py
    assert twin is not None
    assert selector.Encoder is twin.Encoder and selector.Decoder is twin.Decoder
    assert selector.HPACKError is HPACKError and issubclass(HPACKError, ValueError)


@pytest.mark.skipif(not REQUIRE_EXTENSIONS or NO_EXTENSIONS,
                    reason="only with HOPWIRE_REQUIRE_EXTENSIONS=1 (and not HOPWIRE_NO_EXTENSIONS)")
def test_required_extension_is_active():
    assert selector.EXTENSION_ACTIVE is True
    assert selector.Decoder.__module__ == C_TWIN


@pytest.mark.skipif(not NO_EXTENSIONS, reason="only with HOPWIRE_NO_EXTENSIONS=1")
def test_disabled_extension_is_inactive():
    assert selector.EXTENSION_ACTIVE is False
    assert selector.Decoder is _hpack_py.Decoder
