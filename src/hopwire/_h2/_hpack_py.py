"""The pure-Python twin of HPACK (RFC 7541), HTTP/2's header compression.

`Decoder.decode(block)` turns a header block into a list of (name, value) pairs
of bytes; `Encoder.encode(fields)` does the reverse. Each keeps the dynamic
table of one direction of one connection, so a block must be decoded in the
order it was sent. Names and values are octets here: checking that they are
valid HTTP fields (lowercase names, no CR/LF/NUL, RFC 9113 §8.2.1) is the job of
the HTTP/2 connection above, as is splitting cookies (§8.2.3).

How the decoder works: one left-to-right walk over the block, one branch per
representation (§6). The tables hold (name, value) tuples, and an indexed field
is that very tuple, so the commonest representation costs a lookup. Huffman
strings (§5.2) go through a byte-at-a-time state machine: the state is a node
of the code's tree (the bits read since the last symbol), and each (state,
byte) step, computed on first use and kept, gives the next state and the
symbols completed (257 x 256 steps at most: about 7 MB once input has taken
every one, about 2 MB after any printable text). The state where a string ends
says whether its padding was valid. Integers are refused past `MAX_INTEGER` or
`MAX_INTEGER_CONTINUATIONS` octets, strings longer than the rest of the block
before anything is copied.

Fields marked never-indexed (§6.2.3) come out like the others; their positions
in the last list decoded are in `Decoder.never_indexed`, and
`Encoder.encode(..., never_indexed=...)` takes such positions back, so that an
intermediary re-encodes them the same way (§7.1.3).

How the encoder works: a field found whole in the static or dynamic table is
sent as an index; otherwise as a literal, its name as an index when the name
is known. It adds a literal to the dynamic table unless the field is sensitive
(never-indexed: credentials, short cookies), seldom repeats
(`UNINDEXED_NAMES`) or is too large for the table (the policy is in
`_hpack_tables`). One dict maps every field in either table to where it is,
static entries by their negative index, dynamic ones by their insertion number,
so that finding a field costs one lookup; another does the same for names.
A string is Huffman-coded when that makes it shorter.

Both sides take table size changes between blocks: the encoder from the
peer's SETTINGS_HEADER_TABLE_SIZE (announced at the start of its next block,
§4.2, §6.3); the decoder's limit from our own setting, once acknowledged.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Collection, Iterable
from typing import Union, cast

from ._hpack_errors import (
    HEADER_LIST_TOO_LARGE,
    HUFFMAN_EOS,
    HUFFMAN_PADDING_NOT_ONES,
    HUFFMAN_PADDING_TOO_LONG,
    INDEX_OUT_OF_RANGE,
    INDEX_ZERO,
    INTEGER_OVERFLOW,
    INTEGER_TRUNCATED,
    SIZE_UPDATE_AFTER_FIELD,
    SIZE_UPDATE_MISSING,
    SIZE_UPDATE_TOO_LARGE,
    STRING_TRUNCATED,
    HeaderListTooLarge,
    HPACKError,
)
from ._hpack_tables import (
    DEFAULT_MAX_HEADER_LIST_SIZE,
    DEFAULT_TABLE_SIZE,
    ENTRY_OVERHEAD,
    EOS,
    FIRST_DYNAMIC_INDEX,
    HUFFMAN_CODES,
    INDEX_AT_MOST_DEN,
    INDEX_AT_MOST_NUM,
    MAX_INTEGER,
    MAX_INTEGER_CONTINUATIONS,
    MAX_SETTING,
    NEVER_INDEXED_NAMES,
    SHORT_COOKIE_BELOW,
    SHORT_COOKIE_NAME,
    STATIC_TABLE,
    UNINDEXED_NAMES,
    is_sensitive,
)

__all__ = ["Decoder", "Encoder", "HPACKError", "HeaderListTooLarge"]

Field = tuple[bytes, bytes]
Buffer = Union[bytes, bytearray, memoryview]

_STATIC: tuple[Field, ...] = (STATIC_TABLE[0], *STATIC_TABLE)  # by index; [0] is never read
_LAST_STATIC = len(STATIC_TABLE)
_BYTE = tuple(bytes((i,)) for i in range(256))


def _setting(value: int, what: str) -> int:
    """A table size or list size: an int in 0..2**32-1 (RFC 9113 §6.5.1)."""
    if type(value) is not int:
        value = operator.index(value)
    if not 0 <= value <= MAX_SETTING:
        raise ValueError(f"{what} must be in 0..{MAX_SETTING}, not {value}")
    return value


def _size(field: Field) -> int:
    """An entry's size (RFC 7541 §4.1)."""
    return len(field[0]) + len(field[1]) + ENTRY_OVERHEAD


# -- integers (RFC 7541 §5.1) -----------------------------------------------------

def _read_integer(data: bytes, pos: int, end: int, value: int, start: int) -> tuple[int, int]:
    """The integer whose prefix (all ones, `value`) ends before `pos`; and where it ends."""
    shift = 0
    for _ in range(MAX_INTEGER_CONTINUATIONS):
        if pos >= end:
            raise HPACKError(INTEGER_TRUNCATED, start)
        byte = data[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            if value > MAX_INTEGER:
                raise HPACKError(INTEGER_OVERFLOW, start)
            return value, pos
        shift += 7
    raise HPACKError(INTEGER_OVERFLOW, start)


def _integer(value: int, prefix_max: int, flags: int) -> bytes:
    """`value` with an N-bit prefix (prefix_max = 2**N - 1) under the first octet's `flags`."""
    if value < prefix_max:
        return _BYTE[flags | value]
    out = bytearray((flags | prefix_max,))
    value -= prefix_max
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# -- Huffman code (RFC 7541 §5.2, Appendix B) ------------------------------------------

def _tree() -> tuple[list[list[int]], list[int], list[bool]]:
    """The code's tree: the two children of each inner node (a leaf as -1 - symbol),
    and each inner node's depth and whether the path to it is all ones."""
    children = [[0, 0]]  # the root is never a child: 0 marks a child not made yet
    depth, ones = [0], [True]
    for symbol, (code, length) in enumerate(HUFFMAN_CODES):
        node = 0
        for shift in range(length - 1, 0, -1):
            bit = code >> shift & 1
            child = children[node][bit]
            if child == 0:
                child = len(children)
                children.append([0, 0])
                depth.append(depth[node] + 1)
                ones.append(ones[node] and bit == 1)
                children[node][bit] = child
            node = child
        children[node][code & 1] = -1 - symbol
    return children, depth, ones


_CHILDREN, _DEPTH, _ONES = _tree()
_DEAD = len(_CHILDREN)  # the state after EOS: every byte leads back to it
# How a string may not end in each state (None: it may): padding is at most 7 bits,
# all ones (the start of EOS).
_END: tuple[str | None, ...] = tuple(
    None if ones and depth <= 7 else HUFFMAN_PADDING_TOO_LONG if depth > 7
    else HUFFMAN_PADDING_NOT_ONES for depth, ones in zip(_DEPTH, _ONES)) + (HUFFMAN_EOS,)
# (state << 8 | byte) -> (next state << 8, the symbols completed), filled on first use.
_STEPS: list[tuple[int, bytes] | None] = [None] * ((_DEAD + 1) << 8)


def _step(key: int) -> tuple[int, bytes]:
    node, byte = key >> 8, key & 0xFF
    out = bytearray()
    if node != _DEAD:
        for shift in range(7, -1, -1):
            child = _CHILDREN[node][byte >> shift & 1]
            if child > 0:
                node = child
            elif child == -1 - EOS:
                node = _DEAD
                break
            else:
                out.append(-1 - child)
                node = 0
    step = (node << 8, bytes(out))
    _STEPS[key] = step
    return step


def _huffman_decode(data: bytes, start: int) -> bytes:
    steps = _STEPS
    state = 0
    out = []
    for byte in data:
        step = steps[state | byte]
        if step is None:
            step = _step(state | byte)
        state, symbols = step
        out.append(symbols)
    reason = _END[state >> 8]
    if reason is not None:
        raise HPACKError(reason, start)
    return b"".join(out)


_BITS = tuple(format(code, f"0{length}b") for code, length in HUFFMAN_CODES[:EOS])
_PADDING = tuple("1" * n for n in range(8))


def _huffman_encode(data: bytes) -> bytes:
    """`data` Huffman-coded (§5.2), padded with ones."""
    if not data:
        return b""
    table = _BITS
    bits = "".join([table[byte] for byte in data])
    return int(bits + _PADDING[-len(bits) & 7], 2).to_bytes((len(bits) + 7) >> 3, "big")


def _string(data: bytes, huffman: bool) -> bytes:
    """A string literal (§5.2): Huffman-coded when asked and shorter."""
    if huffman and data:
        coded = _huffman_encode(data)
        if len(coded) < len(data):
            return _integer(len(coded), 0x7F, 0x80) + coded
    return _integer(len(data), 0x7F, 0) + data


def _read_string(data: bytes, pos: int, end: int, start: int) -> tuple[bytes, int]:
    """The string literal at `pos` (§5.2), and where it ends."""
    if pos >= end:
        raise HPACKError(INTEGER_TRUNCATED, start)
    first = data[pos]
    length = first & 0x7F
    pos += 1
    if length == 0x7F:
        length, pos = _read_integer(data, pos, end, 0x7F, start)
    stop = pos + length
    if stop > end:
        raise HPACKError(STRING_TRUNCATED, start)
    if first & 0x80:
        return _huffman_decode(data[pos:stop], start), stop
    return data[pos:stop], stop


# -- the decoder ------------------------------------------------------------------------

class Decoder:
    """Decodes the header blocks one peer sends on one connection, in order.

    `max_table_size` is the dynamic table size both ends start with, which is
    also the largest the peer may choose: keep the default (4096, RFC 9113
    §6.5.2) and set `max_allowed_table_size` when the SETTINGS frame that
    changes SETTINGS_HEADER_TABLE_SIZE is acknowledged. `max_header_list_size`
    is our SETTINGS_MAX_HEADER_LIST_SIZE.
    """

    __slots__ = ("_table", "_size", "_max", "_allowed", "_update_required", "_list_limit",
                 "_never")

    def __init__(self, max_table_size: int = DEFAULT_TABLE_SIZE,
                 max_header_list_size: int = DEFAULT_MAX_HEADER_LIST_SIZE) -> None:
        self._table: deque[Field] = deque()  # newest first
        self._size = 0
        self._max = self._allowed = _setting(max_table_size, "max_table_size")
        self._update_required = False
        self._list_limit = _setting(max_header_list_size, "max_header_list_size")
        self._never: tuple[int, ...] = ()

    @property
    def table_size(self) -> int:
        """The dynamic table's maximum size, as the peer last set it (§4.2)."""
        return self._max

    @property
    def max_allowed_table_size(self) -> int:
        """Our SETTINGS_HEADER_TABLE_SIZE: the largest table size the peer may set."""
        return self._allowed

    @max_allowed_table_size.setter
    def max_allowed_table_size(self, value: int) -> None:
        self._allowed = _setting(value, "max_allowed_table_size")
        # §4.2: below the size in use, the peer must shrink the table at the start
        # of its next block.
        self._update_required = self._max > self._allowed

    @property
    def max_header_list_size(self) -> int:
        """Our SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2)."""
        return self._list_limit

    @max_header_list_size.setter
    def max_header_list_size(self, value: int) -> None:
        self._list_limit = _setting(value, "max_header_list_size")

    @property
    def never_indexed(self) -> tuple[int, ...]:
        """Positions, in the list the last `decode` returned, of never-indexed fields."""
        return self._never

    @property
    def dynamic_table(self) -> list[Field]:
        """The dynamic table's entries, newest (index 62) first."""
        return list(self._table)

    @property
    def dynamic_table_size(self) -> int:
        """The dynamic table's size in octets (§4.1)."""
        return self._size

    def decode(self, block: Buffer) -> list[Field]:
        """The fields of one whole header block (HEADERS + CONTINUATION payloads).

        Raises HPACKError (a COMPRESSION_ERROR: do not use this decoder again),
        or HeaderListTooLarge after decoding the whole block (the table is in step).
        """
        data = block if type(block) is bytes else memoryview(block).tobytes()
        end = len(data)
        pos = 0
        self._never = ()
        if self._update_required or (end and data[0] & 0xE0 == 0x20):
            pos = self._size_updates(data, end)
        static, table = _STATIC, self._table
        headers: list[Field] = []
        never: list[int] = []
        total, limit, over = 0, self._list_limit, -1
        while pos < end:
            start = pos
            byte = data[pos]
            pos += 1
            if byte & 0x80:  # §6.1 indexed field
                index = byte & 0x7F
                if index == 0x7F:
                    index, pos = _read_integer(data, pos, end, 0x7F, start)
                if index <= _LAST_STATIC:
                    if index == 0:
                        raise HPACKError(INDEX_ZERO, start)
                    field = static[index]
                elif index - FIRST_DYNAMIC_INDEX < len(table):
                    field = table[index - FIRST_DYNAMIC_INDEX]
                else:
                    raise HPACKError(INDEX_OUT_OF_RANGE, start)
            else:
                if byte & 0x40:  # §6.2.1 literal with incremental indexing
                    prefix = 0x3F
                elif byte & 0x20:  # §6.3: only before the first field
                    raise HPACKError(SIZE_UPDATE_AFTER_FIELD, start)
                else:  # §6.2.2 without indexing, §6.2.3 never indexed
                    prefix = 0x0F
                index = byte & prefix
                if index == prefix:
                    index, pos = _read_integer(data, pos, end, prefix, start)
                if index == 0:
                    name, pos = _read_string(data, pos, end, start)
                elif index <= _LAST_STATIC:
                    name = static[index][0]
                elif index - FIRST_DYNAMIC_INDEX < len(table):
                    name = table[index - FIRST_DYNAMIC_INDEX][0]
                else:
                    raise HPACKError(INDEX_OUT_OF_RANGE, start)
                value, pos = _read_string(data, pos, end, start)
                field = (name, value)
                if prefix == 0x3F:
                    self._add(field)
                elif byte & 0x10:
                    never.append(len(headers))
            # RFC 9113 §6.5.2: the list's size counts 32 octets per field. Past the
            # limit the block is still decoded, to keep the table in step (§10.5.1).
            total += len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
            if total <= limit:
                headers.append(field)
            elif over < 0:
                over = start
        if over >= 0:
            raise HeaderListTooLarge(HEADER_LIST_TOO_LARGE, over, total)
        if never:
            self._never = tuple(never)
        return headers

    def _size_updates(self, data: bytes, end: int) -> int:
        """Apply the table size updates that start the block (§4.2, §6.3); where they end.

        §4.2 expects at most two (the smallest size since the last block, then the
        final one), but the `hpack` package sends one per change: any number is taken.
        """
        pos = 0
        while pos < end and data[pos] & 0xE0 == 0x20:
            start = pos
            size = data[pos] & 0x1F
            pos += 1
            if size == 0x1F:
                size, pos = _read_integer(data, pos, end, 0x1F, start)
            if size > self._allowed:
                raise HPACKError(SIZE_UPDATE_TOO_LARGE, start)
            self._max = size
            self._update_required = False
            self._evict(size)
        if self._update_required:
            raise HPACKError(SIZE_UPDATE_MISSING, 0)
        return pos

    def _add(self, field: Field) -> None:
        """§4.4: make room for the entry, or empty the table when it cannot fit."""
        size = _size(field)
        if size > self._max:
            self._evict(0)
            return
        self._evict(self._max - size)
        self._table.appendleft(field)
        self._size += size

    def _evict(self, limit: int) -> None:
        """§4.3, §4.4: drop the oldest entries until the table's size is at most `limit`."""
        table = self._table
        while self._size > limit:
            self._size -= _size(table.pop())


# -- the encoder ------------------------------------------------------------------------

# Where each static field and each static name is (the first of equal names), as
# the encoder's lookups hold them: static entries by their negative index.
_STATIC_FIELD_IDS: dict[Field, int] = {}
_STATIC_NAME_IDS: dict[bytes, int] = {}
for _index, _field in enumerate(STATIC_TABLE, 1):
    if not is_sensitive(*_field):  # (authorization and cookie with empty values)
        _STATIC_FIELD_IDS.setdefault(_field, -_index)
    _STATIC_NAME_IDS.setdefault(_field[0], -_index)
del _index, _field


class Encoder:
    """Encodes the header blocks we send on one connection, in order.

    `max_table_size` caps the dynamic table we keep whatever the peer allows; the
    table starts at 4096 octets (RFC 9113 §6.5.2) and follows `table_size`, which
    takes the peer's SETTINGS_HEADER_TABLE_SIZE.
    """

    __slots__ = ("_cap", "_max", "_size", "_entries", "_fields", "_names", "_inserted",
                 "_pending_min")

    def __init__(self, max_table_size: int = DEFAULT_TABLE_SIZE) -> None:
        self._cap = _setting(max_table_size, "max_table_size")
        self._max = DEFAULT_TABLE_SIZE
        self._size = 0
        self._entries: deque[Field] = deque()  # oldest first
        self._fields = dict(_STATIC_FIELD_IDS)
        self._names = dict(_STATIC_NAME_IDS)
        self._inserted = 0  # the insertion number of the next entry
        self._pending_min = -1  # the smallest size since the last block, if it changed
        self.table_size = DEFAULT_TABLE_SIZE

    @property
    def table_size(self) -> int:
        """The dynamic table's maximum size in use: the peer's
        SETTINGS_HEADER_TABLE_SIZE, or `max_table_size` if that is smaller."""
        return self._max

    @table_size.setter
    def table_size(self, value: int) -> None:
        size = min(_setting(value, "table_size"), self._cap)
        if size == self._max and self._pending_min < 0:
            return
        # §4.2: the next block signals the smallest size since the last one, then
        # the final one; the table shrinks now, as the decoder's will.
        self._pending_min = size if self._pending_min < 0 else min(self._pending_min, size)
        self._max = size
        self._evict(size)

    @property
    def dynamic_table(self) -> list[Field]:
        """The dynamic table's entries, newest (index 62) first."""
        return list(reversed(self._entries))

    @property
    def dynamic_table_size(self) -> int:
        """The dynamic table's size in octets (§4.1)."""
        return self._size

    def encode(self, headers: Iterable[Field], huffman: bool = True,
               never_indexed: Collection[int] = ()) -> bytes:
        """One header block for `headers`, (name, value) pairs of bytes.

        `never_indexed` holds positions in `headers` to send as never-indexed
        literals (for instance `Decoder.never_indexed` of the block being
        forwarded); credentials and short cookies always are. Nothing changes
        when an argument is refused (TypeError, ValueError).
        """
        forced = frozenset(never_indexed) if never_indexed else None
        # Everything is checked before the table changes; each field becomes a
        # tuple (the lookups' key) once.
        fields = cast("list[Field]", [f if type(f) is tuple else tuple(f) for f in headers])
        for name, value in fields:
            if type(name) is not bytes or type(value) is not bytes:
                raise TypeError("header names and values must be bytes, not "
                                f"{type(name if type(name) is not bytes else value).__name__}")
        out = bytearray()
        if self._pending_min >= 0:  # §6.3
            if self._pending_min < self._max:
                out += _integer(self._pending_min, 0x1F, 0x20)
            out += _integer(self._max, 0x1F, 0x20)
            self._pending_min = -1
        lookup, sensitive = self._fields, NEVER_INDEXED_NAMES
        for position, field in enumerate(fields):
            # Sensitive fields are in neither lookup: a field found is sent as an
            # index unless the caller asked for a never-indexed literal.
            where = lookup.get(field)
            if where is not None and (forced is None or position not in forced):  # §6.1
                index = -where if where < 0 else self._inserted - where + _LAST_STATIC
                if index < 0x7F:
                    out.append(0x80 | index)
                else:
                    out += _integer(index, 0x7F, 0x80)
                continue
            name, value = field
            if ((forced is not None and position in forced) or name in sensitive
                    or (name == SHORT_COOKIE_NAME and len(value) < SHORT_COOKIE_BELOW)):
                out += self._literal(field, 0x0F, 0x10, huffman)  # §6.2.3
                continue
            size = len(name) + len(value) + ENTRY_OVERHEAD
            if name in UNINDEXED_NAMES or size * INDEX_AT_MOST_DEN > self._max * INDEX_AT_MOST_NUM:
                out += self._literal(field, 0x0F, 0x00, huffman)  # §6.2.2
            else:
                out += self._literal(field, 0x3F, 0x40, huffman)  # §6.2.1
                self._add(field, size)
        return bytes(out)

    def _literal(self, field: Field, prefix_max: int, flags: int, huffman: bool) -> bytes:
        """A literal field, its name as an index when either table has it (§6.2)."""
        where = self._names.get(field[0])
        if where is None:
            return _BYTE[flags] + _string(field[0], huffman) + _string(field[1], huffman)
        index = -where if where < 0 else self._inserted - where + _LAST_STATIC
        return _integer(index, prefix_max, flags) + _string(field[1], huffman)

    def _add(self, field: Field, size: int) -> None:
        """§4.4; the policy adds nothing larger than the table, so something fits."""
        self._evict(self._max - size)
        self._entries.append(field)
        self._fields[field] = self._inserted
        if self._names.get(field[0], 0) >= 0:  # a static name keeps its (smaller) index
            self._names[field[0]] = self._inserted
        self._inserted += 1
        self._size += size

    def _evict(self, limit: int) -> None:
        entries, lookup, names = self._entries, self._fields, self._names
        while self._size > limit:
            number = self._inserted - len(entries)
            field = entries.popleft()
            self._size -= _size(field)
            if lookup.get(field) == number:
                del lookup[field]
            if names.get(field[0]) == number:
                del names[field[0]]
