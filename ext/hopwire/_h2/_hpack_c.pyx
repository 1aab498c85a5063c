# cython: language_level=3
"""The C twin of hopwire's HPACK codec (RFC 7541).

Same names, outputs and errors (reason and offset) as `hopwire._h2._hpack_py`,
which is the readable definition; this module walks the block with the same
branches, in C. Its tables are copied from `_hpack_tables` when it is
imported: the static table as an array of the very (name, value) tuples the
Python twin hands out, the Huffman code as two arrays, from which a
4-bit-at-a-time decoding table is built (a state is a node of the code's tree,
each of the 256 x 16 steps gives the next state and the symbol completed, if
any; codes are at least 5 bits long, so a step completes at most one).

Each dynamic table is a ring of references to its (name, value) tuples: an
indexed field is one of those tuples, handed out again, and a literal is one
tuple built from one or two bytes objects. The encoder finds fields and names
as the Python twin does, one lookup each over both tables, but in C: open
addressing over the bytes objects' cached hashes, compared octet by octet
(no tuple to hash, no rich comparison); each encoder's lookups start as a copy
of the static table's. It writes the block into a buffer kept between calls.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport (PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize,
                            PyBytes_GET_SIZE)
from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_CheckExact
from cpython.object cimport PyObject_Hash
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy

import operator

from hopwire._h2 import _hpack_errors as E
from hopwire._h2 import _hpack_tables as T
from hopwire._h2._hpack_errors import HeaderListTooLarge, HPACKError

# Error codes; _REASONS maps code i to the reason named _REASON_NAMES[i] in _hpack_errors.
cdef enum:
    E_NONE, E_INTEGER_TRUNCATED, E_INTEGER_OVERFLOW, E_STRING_TRUNCATED, E_HUFFMAN_EOS,
    E_HUFFMAN_PADDING_TOO_LONG, E_HUFFMAN_PADDING_NOT_ONES, E_INDEX_ZERO, E_INDEX_OUT_OF_RANGE,
    E_SIZE_UPDATE_AFTER_FIELD, E_SIZE_UPDATE_TOO_LARGE, E_SIZE_UPDATE_MISSING

_REASON_NAMES = (
    None, "INTEGER_TRUNCATED", "INTEGER_OVERFLOW", "STRING_TRUNCATED", "HUFFMAN_EOS",
    "HUFFMAN_PADDING_TOO_LONG", "HUFFMAN_PADDING_NOT_ONES", "INDEX_ZERO", "INDEX_OUT_OF_RANGE",
    "SIZE_UPDATE_AFTER_FIELD", "SIZE_UPDATE_TOO_LARGE", "SIZE_UPDATE_MISSING",
)
_REASONS = (None,) + tuple(getattr(E, name) for name in _REASON_NAMES[1:])


cdef int _fail(int code, Py_ssize_t offset) except -1:
    raise HPACKError(_REASONS[code], offset)


# -- protocol data and limits, from _hpack_tables -----------------------------------

cdef enum:
    N_STATIC = 61  # RFC 7541 Appendix A; checked against the table below
    N_SYMBOLS = 257
    EOS = 256
    N_STATES = 256  # inner nodes of a code tree with 257 leaves

if len(T.STATIC_TABLE) != N_STATIC or len(T.HUFFMAN_CODES) != N_SYMBOLS or T.EOS != EOS:
    raise ImportError("hopwire._h2._hpack_tables does not have the shape this build expects")

cdef Py_ssize_t ENTRY_OVERHEAD = T.ENTRY_OVERHEAD
cdef int64_t DEFAULT_TABLE_SIZE = T.DEFAULT_TABLE_SIZE
cdef int64_t MAX_SETTING = T.MAX_SETTING
cdef uint64_t MAX_INTEGER = T.MAX_INTEGER
cdef int MAX_CONTINUATIONS = T.MAX_INTEGER_CONTINUATIONS
cdef int64_t INDEX_NUM = T.INDEX_AT_MOST_NUM
cdef int64_t INDEX_DEN = T.INDEX_AT_MOST_DEN
cdef Py_ssize_t SHORT_COOKIE_BELOW = T.SHORT_COOKIE_BELOW
if not 1 <= MAX_CONTINUATIONS <= 8:  # 7 bits each must fit the 64-bit accumulator
    raise ImportError("MAX_INTEGER_CONTINUATIONS out of range for this build")

# The static table's tuples, by index (STATIC[0] is never read).
_STATIC_FIELDS = tuple(T.STATIC_TABLE)
cdef PyObject *STATIC[N_STATIC + 1]
STATIC[0] = NULL
for _i in range(N_STATIC):
    STATIC[_i + 1] = <PyObject *>_STATIC_FIELDS[_i]

# -- Huffman code (RFC 7541 §5.2, Appendix B) ----------------------------------------

cdef uint32_t HUFF_CODE[N_SYMBOLS]
cdef uchar HUFF_LEN[N_SYMBOLS]

cdef struct Step:
    uchar next   # the state after these 4 bits
    uchar flags  # F_SYMBOL: `symbol` was completed; F_EOS: EOS was
    uchar symbol

cdef enum:
    F_SYMBOL = 1
    F_EOS = 2

cdef Step STEPS[N_STATES * 16]
cdef uchar END[N_STATES]  # 0 if a string may end in this state, else the error code


cdef int _build_huffman() except -1:
    cdef int children[N_STATES][2]  # 0: not made yet (the root is nobody's child); < 0: leaf
    cdef int depth[N_STATES]
    cdef bint ones[N_STATES]
    cdef int nodes = 1, symbol, shift, bit, node, child, state, nibble, k, flags, completed
    for symbol in range(N_SYMBOLS):
        code, length = T.HUFFMAN_CODES[symbol]
        if not 5 <= length <= 30 or code >> length:
            raise ImportError(f"Huffman code of symbol {symbol} out of range")
        HUFF_CODE[symbol] = code
        HUFF_LEN[symbol] = length
    children[0][0] = children[0][1] = 0
    depth[0] = 0
    ones[0] = True
    for symbol in range(N_SYMBOLS):
        node = 0
        for shift in range(HUFF_LEN[symbol] - 1, 0, -1):
            bit = (HUFF_CODE[symbol] >> shift) & 1
            child = children[node][bit]
            if child < 0 or (child == 0 and nodes == N_STATES):
                raise ImportError("the Huffman table is not a prefix code")
            if child == 0:
                child = nodes
                nodes += 1
                children[child][0] = children[child][1] = 0
                depth[child] = depth[node] + 1
                ones[child] = ones[node] and bit == 1
                children[node][bit] = child
            node = child
        bit = HUFF_CODE[symbol] & 1
        if children[node][bit] != 0:
            raise ImportError("the Huffman table is not a prefix code")
        children[node][bit] = -1 - symbol
    for state in range(N_STATES):
        if state >= nodes or children[state][0] == 0 or children[state][1] == 0:
            raise ImportError("the Huffman table is not a complete code")
        # §5.2: padding is at most 7 bits, the most significant bits of EOS (all ones).
        END[state] = (0 if ones[state] and depth[state] <= 7 else E_HUFFMAN_PADDING_TOO_LONG
                      if depth[state] > 7 else E_HUFFMAN_PADDING_NOT_ONES)
        for nibble in range(16):
            node, flags, completed = state, 0, 0
            for k in range(3, -1, -1):
                child = children[node][(nibble >> k) & 1]
                if child > 0:
                    node = child
                    continue
                node = 0
                if -1 - child == EOS:
                    flags = F_EOS
                    break
                flags, completed = F_SYMBOL, -1 - child
            STEPS[state * 16 + nibble].next = node
            STEPS[state * 16 + nibble].flags = flags
            STEPS[state * 16 + nibble].symbol = completed
    return 0

_build_huffman()


cdef Py_ssize_t _huffman_decode_into(const uchar *src, Py_ssize_t n, uchar *dst) noexcept nogil:
    """Decode into dst (room for 2 * n octets): the length, or -(error code)."""
    cdef Py_ssize_t i, length = 0
    cdef unsigned int state = 0
    cdef const Step *step
    for i in range(n):
        step = &STEPS[state * 16 + (src[i] >> 4)]
        if step.flags:
            if step.flags & F_EOS:
                return -E_HUFFMAN_EOS
            dst[length] = step.symbol
            length += 1
        step = &STEPS[step.next * 16 + (src[i] & 15)]
        if step.flags:
            if step.flags & F_EOS:
                return -E_HUFFMAN_EOS
            dst[length] = step.symbol
            length += 1
        state = step.next
    if END[state]:
        return -END[state]
    return length


cdef inline Py_ssize_t _huffman_size(const uchar *s, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint64_t bits = 0
    for i in range(n):
        bits += HUFF_LEN[s[i]]
    return <Py_ssize_t>((bits + 7) >> 3)


cdef inline Py_ssize_t _huffman_encode_into(const uchar *s, Py_ssize_t n,
                                            uchar *dst) noexcept nogil:
    """Encode into dst (room for _huffman_size octets), padded with ones; the length."""
    cdef Py_ssize_t i, length = 0
    cdef uint64_t acc = 0
    cdef int bits = 0
    for i in range(n):
        acc = (acc << HUFF_LEN[s[i]]) | HUFF_CODE[s[i]]
        bits += HUFF_LEN[s[i]]
        while bits >= 8:
            bits -= 8
            dst[length] = <uchar>(acc >> bits)
            length += 1
    if bits:
        dst[length] = <uchar>((acc << (8 - bits)) | (0xFF >> bits))
        length += 1
    return length


# -- integers (RFC 7541 §5.1) -----------------------------------------------------------

cdef inline Py_ssize_t _read_integer(const uchar *p, Py_ssize_t pos, Py_ssize_t end,
                                     uint64_t value, uint64_t *out) noexcept nogil:
    """The integer whose prefix (all ones, `value`) ends before `pos`, into out:
    where it ends, or -(error code)."""
    cdef int i, shift = 0
    cdef uchar byte
    for i in range(MAX_CONTINUATIONS):
        if pos >= end:
            return -E_INTEGER_TRUNCATED
        byte = p[pos]
        pos += 1
        value += <uint64_t>(byte & 0x7F) << shift
        if not byte & 0x80:
            if value > MAX_INTEGER:
                return -E_INTEGER_OVERFLOW
            out[0] = value
            return pos
        shift += 7
    return -E_INTEGER_OVERFLOW


cdef inline Py_ssize_t _write_integer(uchar *dst, uint64_t value, uint64_t prefix_max,
                                      uchar flags) noexcept nogil:
    """Write `value` with an N-bit prefix (prefix_max = 2**N - 1); the octets written."""
    cdef Py_ssize_t n = 1
    if value < prefix_max:
        dst[0] = flags | <uchar>value
        return 1
    dst[0] = flags | <uchar>prefix_max
    value -= prefix_max
    while value >= 0x80:
        dst[n] = <uchar>(value & 0x7F) | 0x80
        value >>= 7
        n += 1
    dst[n] = <uchar>value
    return n + 1


# -- the dynamic table's ring ---------------------------------------------------------------

cdef inline PyObject *_ring_get(Ring *r, Py_ssize_t i) noexcept:
    """Entry i, 0 the newest (a borrowed reference)."""
    return r.items[<size_t>(r.head - i) & <size_t>(r.cap - 1)]


cdef int _ring_push(Ring *r, object item) except -1:
    cdef Py_ssize_t i, cap
    cdef PyObject **items
    if r.count == r.cap:
        cap = 16 if r.cap == 0 else r.cap * 2
        items = <PyObject **>malloc(cap * sizeof(PyObject *))
        if items == NULL:
            raise MemoryError()
        for i in range(r.count):  # oldest first, from 0
            items[i] = _ring_get(r, r.count - 1 - i)
        free(r.items)
        r.items, r.cap, r.head = items, cap, r.count - 1
    r.head = <Py_ssize_t>(<size_t>(r.head + 1) & <size_t>(r.cap - 1))
    Py_INCREF(item)
    r.items[r.head] = <PyObject *>item
    r.count += 1
    return 0


cdef inline PyObject *_ring_pop(Ring *r) noexcept:
    """Take the oldest entry out (the caller owns the reference)."""
    r.count -= 1
    return _ring_get(r, r.count + 0)


cdef void _ring_free(Ring *r) noexcept:
    while r.count:
        Py_DECREF(<object>_ring_pop(r))
    free(r.items)
    r.items, r.cap, r.head = NULL, 0, -1


cdef list _ring_list(Ring *r):
    return [<object>_ring_get(r, i) for i in range(r.count)]


cdef inline Py_ssize_t _entry_size(PyObject *field) noexcept:
    """An entry's size (RFC 7541 §4.1)."""
    return (PyBytes_GET_SIZE(<object>PyTuple_GET_ITEM(<object>field, 0))
            + PyBytes_GET_SIZE(<object>PyTuple_GET_ITEM(<object>field, 1)) + ENTRY_OVERHEAD)


cdef int64_t _setting(object value, str what) except -1:
    """A table size or list size: an int in 0..2**32-1 (RFC 9113 §6.5.1)."""
    if not PyLong_CheckExact(value):
        value = operator.index(value)
    if not 0 <= value <= MAX_SETTING:
        raise ValueError(f"{what} must be in 0..{MAX_SETTING}, not {value}")
    return value


cdef tuple NO_POSITIONS = ()

cdef enum:
    KEEP_BUFFER = 1 << 16  # the largest output buffer an encoder or decoder keeps


# -- the decoder ----------------------------------------------------------------------------------

@cython.final
cdef class Decoder:
    """Decodes the header blocks one peer sends on one connection, in order.

    `max_table_size` is the dynamic table size both ends start with, which is
    also the largest the peer may choose: keep the default (4096, RFC 9113
    §6.5.2) and set `max_allowed_table_size` when the SETTINGS frame that
    changes SETTINGS_HEADER_TABLE_SIZE is acknowledged. `max_header_list_size`
    is our SETTINGS_MAX_HEADER_LIST_SIZE.
    """

    def __cinit__(self):
        self.ring.items, self.ring.cap, self.ring.head, self.ring.count = NULL, 0, -1, 0
        self.scratch, self.scratch_cap = NULL, 0
        self.never = NO_POSITIONS

    def __dealloc__(self):
        _ring_free(&self.ring)
        free(self.scratch)

    def __init__(self, max_table_size=T.DEFAULT_TABLE_SIZE,
                 max_header_list_size=T.DEFAULT_MAX_HEADER_LIST_SIZE):
        _ring_free(&self.ring)
        self.size = 0
        self.max_size = self.allowed = _setting(max_table_size, "max_table_size")
        self.update_required = False
        self.list_limit = _setting(max_header_list_size, "max_header_list_size")
        self.never = NO_POSITIONS

    @property
    def table_size(self):
        """The dynamic table's maximum size, as the peer last set it (§4.2)."""
        return self.max_size

    @property
    def max_allowed_table_size(self):
        """Our SETTINGS_HEADER_TABLE_SIZE: the largest table size the peer may set."""
        return self.allowed

    @max_allowed_table_size.setter
    def max_allowed_table_size(self, value):
        self.allowed = _setting(value, "max_allowed_table_size")
        # §4.2: below the size in use, the peer must shrink the table at the start
        # of its next block.
        self.update_required = self.max_size > self.allowed

    @property
    def max_header_list_size(self):
        """Our SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2)."""
        return self.list_limit

    @max_header_list_size.setter
    def max_header_list_size(self, value):
        self.list_limit = _setting(value, "max_header_list_size")

    @property
    def never_indexed(self):
        """Positions, in the list the last `decode` returned, of never-indexed fields."""
        return self.never

    @property
    def dynamic_table(self):
        """The dynamic table's entries, newest (index 62) first."""
        return _ring_list(&self.ring)

    @property
    def dynamic_table_size(self):
        """The dynamic table's size in octets (§4.1)."""
        return self.size

    def decode(self, block):
        """The fields of one whole header block (HEADERS + CONTINUATION payloads).

        Raises HPACKError (a COMPRESSION_ERROR: do not use this decoder again),
        or HeaderListTooLarge after decoding the whole block (the table is in step).
        """
        cdef Py_buffer view
        if PyBytes_CheckExact(block):
            return self._decode(<const uchar *>PyBytes_AS_STRING(block), PyBytes_GET_SIZE(block))
        try:
            PyObject_GetBuffer(block, &view, PyBUF_SIMPLE)
        except BufferError:  # not contiguous: as the Python twin, take a copy
            block = memoryview(block).tobytes()
            return self._decode(<const uchar *>PyBytes_AS_STRING(block), PyBytes_GET_SIZE(block))
        try:
            return self._decode(<const uchar *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    cdef list _decode(self, const uchar *p, Py_ssize_t end):
        cdef Py_ssize_t pos = 0, start, r, over = -1
        cdef uint64_t index
        cdef uchar byte, prefix = 0
        cdef int64_t total = 0
        cdef list headers = []
        cdef list never = None
        cdef object field, name, value
        self.never = NO_POSITIONS
        if self.update_required or (end > 0 and (p[0] & 0xE0) == 0x20):
            pos = self._size_updates(p, end)
        while pos < end:
            start = pos
            byte = p[pos]
            pos += 1
            if byte & 0x80:  # §6.1 indexed field
                index = byte & 0x7F
                if index == 0x7F:
                    r = _read_integer(p, pos, end, 0x7F, &index)
                    if r < 0:
                        _fail(-r, start)
                    pos = r
                field = self._entry(index, start)
            else:
                if byte & 0x40:  # §6.2.1 literal with incremental indexing
                    prefix = 0x3F
                elif byte & 0x20:  # §6.3: only before the first field
                    _fail(E_SIZE_UPDATE_AFTER_FIELD, start)
                else:  # §6.2.2 without indexing, §6.2.3 never indexed
                    prefix = 0x0F
                index = byte & prefix
                if index == prefix:
                    r = _read_integer(p, pos, end, prefix, &index)
                    if r < 0:
                        _fail(-r, start)
                    pos = r
                if index == 0:
                    name = self._string(p, &pos, end, start)
                else:
                    name = <object>PyTuple_GET_ITEM(self._entry(index, start), 0)
                value = self._string(p, &pos, end, start)
                field = (name, value)
                if prefix == 0x3F:
                    self._add(field)
                elif byte & 0x10:
                    if never is None:
                        never = []
                    never.append(len(headers))
            # RFC 9113 §6.5.2: the list's size counts 32 octets per field. Past the
            # limit the block is still decoded, to keep the table in step (§10.5.1).
            total += _entry_size(<PyObject *>field)
            if total <= self.list_limit:
                headers.append(field)
            elif over < 0:
                over = start
        if over >= 0:
            raise HeaderListTooLarge(E.HEADER_LIST_TOO_LARGE, over, total)
        if never is not None:
            self.never = tuple(never)
        return headers

    cdef Py_ssize_t _size_updates(self, const uchar *p, Py_ssize_t end) except -1:
        """Apply the table size updates that start the block (§4.2, §6.3); where they end.
        As many as come (the Python twin says why)."""
        cdef Py_ssize_t pos = 0, start, r
        cdef uint64_t size
        while pos < end and (p[pos] & 0xE0) == 0x20:
            start = pos
            size = p[pos] & 0x1F
            pos += 1
            if size == 0x1F:
                r = _read_integer(p, pos, end, 0x1F, &size)
                if r < 0:
                    _fail(-r, start)
                pos = r
            if size > <uint64_t>self.allowed:
                _fail(E_SIZE_UPDATE_TOO_LARGE, start)
            self.max_size = <int64_t>size
            self.update_required = False
            self._evict(self.max_size)
        if self.update_required:
            _fail(E_SIZE_UPDATE_MISSING, 0)
        return pos

    cdef object _entry(self, uint64_t index, Py_ssize_t start):
        """The field at `index` of the static then the dynamic table (§2.3.3)."""
        if index == 0:
            _fail(E_INDEX_ZERO, start)
        if index <= N_STATIC:
            return <object>STATIC[index]
        index -= N_STATIC + 1
        if index >= <uint64_t>self.ring.count:
            _fail(E_INDEX_OUT_OF_RANGE, start)
        return <object>_ring_get(&self.ring, <Py_ssize_t>index)

    cdef object _string(self, const uchar *p, Py_ssize_t *pos, Py_ssize_t end, Py_ssize_t start):
        """The string literal at pos[0] (§5.2); moves pos[0] past it."""
        cdef uint64_t length
        cdef Py_ssize_t r, n
        cdef uchar first
        cdef const uchar *src
        cdef uchar *grown
        if pos[0] >= end:
            _fail(E_INTEGER_TRUNCATED, start)
        first = p[pos[0]]
        pos[0] += 1
        length = first & 0x7F
        if length == 0x7F:
            r = _read_integer(p, pos[0], end, 0x7F, &length)
            if r < 0:
                _fail(-r, start)
            pos[0] = r
        if length > <uint64_t>(end - pos[0]):
            _fail(E_STRING_TRUNCATED, start)
        src = p + pos[0]
        pos[0] += <Py_ssize_t>length
        if not first & 0x80:
            return PyBytes_FromStringAndSize(<const char *>src, <Py_ssize_t>length)
        # Each 4-bit step completes at most one symbol: at most 2 octets per octet.
        n = 2 * <Py_ssize_t>length
        if n > KEEP_BUFFER:  # a rare large string: its own buffer, not kept
            return _huffman_decode(PyBytes_FromStringAndSize(<const char *>src, length), start)
        if n > self.scratch_cap:
            grown = <uchar *>realloc(self.scratch, n)
            if grown == NULL:
                raise MemoryError()
            self.scratch, self.scratch_cap = grown, n
        n = _huffman_decode_into(src, <Py_ssize_t>length, self.scratch)
        if n < 0:
            _fail(-n, start)
        return PyBytes_FromStringAndSize(<const char *>self.scratch, n)

    cdef int _add(self, object field) except -1:
        """§4.4: make room for the entry, or empty the table when it cannot fit."""
        cdef int64_t size = _entry_size(<PyObject *>field)
        if size > self.max_size:
            self._evict(0)
            return 0
        self._evict(self.max_size - size)
        _ring_push(&self.ring, field)
        self.size += size
        return 0

    cdef void _evict(self, int64_t limit) noexcept:
        """§4.3, §4.4: drop the oldest entries until the table's size is at most `limit`."""
        cdef PyObject *field
        while self.size > limit:
            field = _ring_pop(&self.ring)
            self.size -= _entry_size(field)
            Py_DECREF(<object>field)


# -- the encoder's lookups ------------------------------------------------------------------

cdef PyObject *DELETED = <PyObject *>0x1  # never a valid object address


cdef inline Py_hash_t _mix(Py_hash_t name_hash, Py_hash_t value_hash) noexcept:
    return <Py_hash_t>(<size_t>name_hash * <size_t>1000003) ^ value_hash


cdef inline bint _same(PyObject *a, object b) noexcept:
    """Equal octets (a and b are bytes)."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(b), i
    cdef const char *x
    cdef const char *y
    if a == <PyObject *>b:
        return True
    if PyBytes_GET_SIZE(<object>a) != n:
        return False
    x, y = PyBytes_AS_STRING(<object>a), PyBytes_AS_STRING(b)
    if n > 32:
        return memcmp(x, y, n) == 0
    for i in range(n):  # header names: short, and a call to memcmp costs more
        if x[i] != y[i]:
            return False
    return True


cdef Slot *_find(Lookup *t, object name, object value, Py_hash_t h) noexcept:
    """The slot of (name, value), or of name when value is None; NULL if absent."""
    cdef Py_ssize_t i
    cdef Slot *slot
    if t.mask < 0:
        return NULL
    i = h & t.mask
    while True:
        slot = &t.slots[i]
        if slot.name == NULL:
            return NULL
        if (slot.name != DELETED and slot.hash == h and _same(slot.name, name)
                and (value is None or _same(slot.value, value))):
            return slot
        i = (i + 1) & t.mask


cdef int _grow(Lookup *t) except -1:
    """Rehash into room for twice the live entries (at least 16 slots, at most half full)."""
    cdef Py_ssize_t cap = 16, i, j
    cdef Slot *slots
    while cap < 2 * (t.live + 1):
        cap *= 2
    slots = <Slot *>calloc(cap, sizeof(Slot))
    if slots == NULL:
        raise MemoryError()
    for i in range(t.mask + 1):
        if t.slots[i].name != NULL and t.slots[i].name != DELETED:
            j = t.slots[i].hash & (cap - 1)
            while slots[j].name != NULL:
                j = (j + 1) & (cap - 1)
            slots[j] = t.slots[i]
    free(t.slots)
    t.slots, t.mask, t.filled = slots, cap - 1, t.live
    return 0


cdef int _lookup_copy(Lookup *t, Lookup *source) except -1:
    """Make t (empty) a copy of source."""
    t.slots = <Slot *>malloc((source.mask + 1) * sizeof(Slot))
    if t.slots == NULL:
        raise MemoryError()
    memcpy(t.slots, source.slots, (source.mask + 1) * sizeof(Slot))
    t.mask, t.live, t.filled = source.mask, source.live, source.filled
    return 0


cdef int _store(Lookup *t, object name, object value, Py_hash_t h, int64_t where) except -1:
    """Point the slot of (name, value) -- or of name, value None -- at these objects and `where`."""
    cdef Slot *slot = _find(t, name, value, h)
    cdef Py_ssize_t i
    if slot == NULL:
        if 2 * (t.filled + 1) > t.mask + 1:
            _grow(t)
        i = h & t.mask
        while t.slots[i].name != NULL and t.slots[i].name != DELETED:
            i = (i + 1) & t.mask
        slot = &t.slots[i]
        if slot.name == NULL:
            t.filled += 1
        t.live += 1
        slot.hash = h
    # The newest entry's objects: the slot must not outlive what it points to.
    slot.name = <PyObject *>name
    slot.value = NULL if value is None else <PyObject *>value
    slot.where = where
    return 0


cdef void _forget(Lookup *t, object name, object value, Py_hash_t h, int64_t where) noexcept:
    """Free the slot of (name, value) -- or of name -- if it still stands for `where`."""
    cdef Slot *slot = _find(t, name, value, h)
    if slot != NULL and slot.where == where:
        slot.name = DELETED
        t.live -= 1


cdef void _lookup_free(Lookup *t) noexcept:
    free(t.slots)
    t.slots, t.mask, t.live, t.filled = NULL, -1, 0, 0


# The static table's fields and names, by their negative index (as in the Python twin,
# each encoder's lookups start as copies of these); sensitive fields are left out, so
# that they are never sent as an index (RFC 7541 §7.1.3), and a name stands for its
# first index.
cdef Lookup STATIC_FIELDS
cdef Lookup STATIC_NAMES
STATIC_FIELDS.slots, STATIC_FIELDS.mask, STATIC_FIELDS.live, STATIC_FIELDS.filled = NULL, -1, 0, 0
STATIC_NAMES.slots, STATIC_NAMES.mask, STATIC_NAMES.live, STATIC_NAMES.filled = NULL, -1, 0, 0
for _i in range(N_STATIC, 0, -1):  # backwards: the first index of a name is stored last
    _name, _value = _STATIC_FIELDS[_i - 1]
    if not T.is_sensitive(_name, _value):
        _store(&STATIC_FIELDS, _name, _value, _mix(hash(_name), hash(_value)), -_i)
    _store(&STATIC_NAMES, _name, None, hash(_name), -_i)

# The encoder's policy by name (_hpack_tables): one lookup instead of a set each.
cdef enum:
    P_UNINDEXED = 1
    P_NEVER_INDEXED = 2
    P_SHORT_COOKIE = 3

cdef Lookup POLICY
POLICY.slots, POLICY.mask, POLICY.live, POLICY.filled = NULL, -1, 0, 0
_POLICY_NAMES = (tuple((name, P_UNINDEXED) for name in T.UNINDEXED_NAMES)
                 + ((T.SHORT_COOKIE_NAME, P_SHORT_COOKIE),)
                 + tuple((name, P_NEVER_INDEXED) for name in T.NEVER_INDEXED_NAMES))
for _name, _policy in _POLICY_NAMES:  # (the last word on a name wins: never-indexed)
    _store(&POLICY, _name, None, hash(_name), _policy)


# -- the encoder ----------------------------------------------------------------------------------

cdef inline int64_t _index(Encoder encoder, int64_t where) noexcept:
    """The index of a lookup's entry: static ones are kept negated, dynamic ones by
    insertion number (the newest is 62, §2.3.3)."""
    return -where if where < 0 else encoder.inserted - where + N_STATIC


@cython.final
cdef class Encoder:
    """Encodes the header blocks we send on one connection, in order.

    `max_table_size` caps the dynamic table we keep whatever the peer allows; the
    table starts at 4096 octets (RFC 9113 §6.5.2) and follows `table_size`, which
    takes the peer's SETTINGS_HEADER_TABLE_SIZE.
    """

    def __cinit__(self):
        self.ring.items, self.ring.cap, self.ring.head, self.ring.count = NULL, 0, -1, 0
        self.fields.slots, self.fields.mask, self.fields.live, self.fields.filled = NULL, -1, 0, 0
        self.names.slots, self.names.mask, self.names.live, self.names.filled = NULL, -1, 0, 0
        self.out, self.out_len, self.out_cap = NULL, 0, 0

    def __dealloc__(self):
        _lookup_free(&self.fields)  # first: its slots point into the ring's entries
        _lookup_free(&self.names)
        _ring_free(&self.ring)
        free(self.out)

    def __init__(self, max_table_size=T.DEFAULT_TABLE_SIZE):
        _lookup_free(&self.fields)
        _lookup_free(&self.names)
        _ring_free(&self.ring)
        _lookup_copy(&self.fields, &STATIC_FIELDS)
        _lookup_copy(&self.names, &STATIC_NAMES)
        self.cap = _setting(max_table_size, "max_table_size")
        self.max_size = DEFAULT_TABLE_SIZE
        self.size = 0
        self.inserted = 0
        self.pending_min = -1
        self._set_table_size(DEFAULT_TABLE_SIZE)

    @property
    def table_size(self):
        """The dynamic table's maximum size in use: the peer's
        SETTINGS_HEADER_TABLE_SIZE, or `max_table_size` if that is smaller."""
        return self.max_size

    @table_size.setter
    def table_size(self, value):
        self._set_table_size(value)

    cdef int _set_table_size(self, object value) except -1:
        cdef int64_t size = min(_setting(value, "table_size"), self.cap)
        if size == self.max_size and self.pending_min < 0:
            return 0
        # §4.2: the next block signals the smallest size since the last one, then
        # the final one; the table shrinks now, as the decoder's will.
        self.pending_min = size if self.pending_min < 0 else min(self.pending_min, size)
        self.max_size = size
        self._evict(size)
        return 0

    @property
    def dynamic_table(self):
        """The dynamic table's entries, newest (index 62) first."""
        return _ring_list(&self.ring)

    @property
    def dynamic_table_size(self):
        """The dynamic table's size in octets (§4.1)."""
        return self.size

    def encode(self, headers, bint huffman=True, never_indexed=()):
        """One header block for `headers`, (name, value) pairs of bytes.

        `never_indexed` holds positions in `headers` to send as never-indexed
        literals (for instance `Decoder.never_indexed` of the block being
        forwarded); credentials and short cookies always are. Nothing changes
        when an argument is refused (TypeError, ValueError).
        """
        cdef list fields
        cdef Py_ssize_t position, n
        cdef object field, name, value, forced = None
        cdef Slot *slot
        cdef Py_hash_t name_hash, field_hash
        cdef int64_t size, index, policy
        if never_indexed:
            forced = frozenset(never_indexed)
        # Everything is checked before the table changes; each field becomes a
        # tuple (what the table keeps) once. A list of tuples is used as it is: no
        # Python code runs from here on, so nothing can change it.
        fields = headers if PyList_CheckExact(headers) else list(headers)
        n = PyList_GET_SIZE(fields)
        for position in range(n):
            field = <object>PyList_GET_ITEM(fields, position)
            if not PyTuple_CheckExact(field):
                if fields is headers:
                    fields = list(headers)
                field = tuple(field)
                fields[position] = field
            if PyTuple_GET_SIZE(field) != 2:
                name, value = field  # raises the ValueError of unpacking
            name = <object>PyTuple_GET_ITEM(field, 0)
            value = <object>PyTuple_GET_ITEM(field, 1)
            if not PyBytes_CheckExact(name) or not PyBytes_CheckExact(value):
                raise TypeError("header names and values must be bytes, not "
                                f"{type(name if not PyBytes_CheckExact(name) else value).__name__}")
        self.out_len = 0
        if self.pending_min >= 0:  # §6.3
            self._reserve(32)
            if self.pending_min < self.max_size:
                self.out_len += _write_integer(self.out + self.out_len, self.pending_min,
                                               0x1F, 0x20)
            self.out_len += _write_integer(self.out + self.out_len, self.max_size, 0x1F, 0x20)
            self.pending_min = -1
        for position in range(n):
            field = <object>PyList_GET_ITEM(fields, position)
            name = <object>PyTuple_GET_ITEM(field, 0)
            value = <object>PyTuple_GET_ITEM(field, 1)
            name_hash = PyObject_Hash(name)  # kept in the bytes object after the first time
            field_hash = _mix(name_hash, PyObject_Hash(value))
            # Sensitive fields are in neither lookup: a field found is sent as an
            # index unless the caller asked for a never-indexed literal.
            slot = _find(&self.fields, name, value, field_hash)
            index = 0 if slot == NULL else _index(self, slot.where)
            if index and (forced is None or position not in forced):  # §6.1
                if self.out_len + 16 > self.out_cap:
                    self._reserve(16)
                self.out_len += _write_integer(self.out + self.out_len, index, 0x7F, 0x80)
                continue
            slot = _find(&POLICY, name, None, name_hash)
            policy = 0 if slot == NULL else slot.where
            if (policy == P_NEVER_INDEXED or (forced is not None and position in forced)
                    or (policy == P_SHORT_COOKIE and PyBytes_GET_SIZE(value) < SHORT_COOKIE_BELOW)):
                self._literal(name, value, name_hash, 0x0F, 0x10, huffman)  # §6.2.3
                continue
            size = PyBytes_GET_SIZE(name) + PyBytes_GET_SIZE(value) + ENTRY_OVERHEAD
            if policy == P_UNINDEXED or size * INDEX_DEN > self.max_size * INDEX_NUM:
                self._literal(name, value, name_hash, 0x0F, 0x00, huffman)  # §6.2.2
            else:
                self._literal(name, value, name_hash, 0x3F, 0x40, huffman)  # §6.2.1
                self._add(field, name_hash, field_hash, size)
        block = PyBytes_FromStringAndSize(<const char *>self.out, self.out_len)
        if self.out_cap > KEEP_BUFFER:  # a rare large block: do not keep its buffer
            free(self.out)
            self.out, self.out_len, self.out_cap = NULL, 0, 0
        return block

    cdef int _reserve(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t cap
        cdef uchar *grown
        if self.out_len + n <= self.out_cap:
            return 0
        cap = max(self.out_cap * 2, self.out_len + n, 256)
        grown = <uchar *>realloc(self.out, cap)
        if grown == NULL:
            raise MemoryError()
        self.out, self.out_cap = grown, cap
        return 0

    cdef int _literal(self, object name, object value, Py_hash_t name_hash, uint64_t prefix_max,
                      uchar flags, bint huffman) except -1:
        """A literal field, its name as an index when either table has it (§6.2): a static
        name by its first index, else the newest dynamic entry of that name (§2.3.3)."""
        cdef Slot *slot = _find(&self.names, name, None, name_hash)
        cdef int64_t index = 0 if slot == NULL else _index(self, slot.where)
        # An integer takes at most 10 octets; a string its length and its own.
        self._reserve(32 + PyBytes_GET_SIZE(name) + PyBytes_GET_SIZE(value))
        if index == 0:
            self.out[self.out_len] = flags
            self.out_len += 1
            self._string(name, huffman)
        else:
            self.out_len += _write_integer(self.out + self.out_len, index, prefix_max, flags)
        self._string(value, huffman)
        return 0

    cdef void _string(self, object s, bint huffman) noexcept:
        """A string literal (§5.2), Huffman-coded when asked and shorter; room is reserved."""
        cdef Py_ssize_t n = PyBytes_GET_SIZE(s), size
        cdef const uchar *src = <const uchar *>PyBytes_AS_STRING(s)
        if huffman and n:
            size = _huffman_size(src, n)
            if size < n:
                self.out_len += _write_integer(self.out + self.out_len, size, 0x7F, 0x80)
                self.out_len += _huffman_encode_into(src, n, self.out + self.out_len)
                return
        self.out_len += _write_integer(self.out + self.out_len, n, 0x7F, 0)
        memcpy(self.out + self.out_len, src, n)
        self.out_len += n

    cdef int _add(self, object field, Py_hash_t name_hash, Py_hash_t field_hash,
                  int64_t size) except -1:
        """§4.4; the policy adds nothing larger than the table, so something fits."""
        cdef object name = <object>PyTuple_GET_ITEM(field, 0)
        cdef Slot *slot
        self._evict(self.max_size - size)
        _ring_push(&self.ring, field)
        _store(&self.fields, name, <object>PyTuple_GET_ITEM(field, 1), field_hash, self.inserted)
        slot = _find(&self.names, name, None, name_hash)
        if slot == NULL or slot.where >= 0:  # a static name keeps its (smaller) index
            _store(&self.names, name, None, name_hash, self.inserted)
        self.inserted += 1
        self.size += size
        return 0

    cdef void _evict(self, int64_t limit) noexcept:
        cdef int64_t number
        cdef PyObject *entry
        cdef Py_hash_t name_hash
        cdef object name, value
        while self.size > limit:
            number = self.inserted - self.ring.count
            entry = _ring_pop(&self.ring)
            name = <object>PyTuple_GET_ITEM(<object>entry, 0)
            value = <object>PyTuple_GET_ITEM(<object>entry, 1)
            name_hash = PyObject_Hash(name)
            _forget(&self.fields, name, value, _mix(name_hash, PyObject_Hash(value)), number)
            _forget(&self.names, name, None, name_hash, number)
            self.size -= _entry_size(entry)
            Py_DECREF(<object>entry)  # after the lookups: their slots pointed into it


# -- for the tests ---------------------------------------------------------------------------------

def _tables():
    """The compiled-in tables, for the test that checks them against _hpack_tables."""
    return {
        "STATIC_TABLE": tuple(<object>STATIC[i] for i in range(1, N_STATIC + 1)),
        "HUFFMAN_CODES": tuple((HUFF_CODE[i], HUFF_LEN[i]) for i in range(N_SYMBOLS)),
        "REASONS": _REASONS[1:],
        "LIMITS": (MAX_INTEGER, MAX_CONTINUATIONS, ENTRY_OVERHEAD, DEFAULT_TABLE_SIZE),
    }


def _huffman_encode(data):
    """`data` Huffman-coded (§5.2), padded with ones."""
    cdef bytes s = bytes(data)
    cdef Py_ssize_t n = len(s)
    out = PyBytes_FromStringAndSize(NULL, _huffman_size(<const uchar *>PyBytes_AS_STRING(s), n))
    _huffman_encode_into(<const uchar *>PyBytes_AS_STRING(s), n, <uchar *>PyBytes_AS_STRING(out))
    return out


def _huffman_decode(data, Py_ssize_t start):
    """The octets of a Huffman-coded string; HPACKError at offset `start` if invalid."""
    cdef bytes s = bytes(data)
    cdef Py_ssize_t n = len(s)
    cdef uchar *dst = <uchar *>malloc(2 * n + 1)
    if dst == NULL:
        raise MemoryError()
    try:
        n = _huffman_decode_into(<const uchar *>PyBytes_AS_STRING(s), n, dst)
        if n < 0:
            _fail(-n, start)
        return PyBytes_FromStringAndSize(<const char *>dst, n)
    finally:
        free(dst)
