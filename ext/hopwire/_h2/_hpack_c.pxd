# Declarations of the C twin of hopwire's HPACK codec (see _hpack_c.pyx).

from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint64_t

ctypedef unsigned char uchar


# A dynamic table (RFC 7541 §2.3.2): (name, value) tuples it owns a reference to,
# in a ring whose capacity is a power of two; the newest entry is at `head`.
cdef struct Ring:
    PyObject **items
    Py_ssize_t cap
    Py_ssize_t head
    Py_ssize_t count


# The encoder's lookups: open addressing over (name, value) pairs of bytes, or names
# alone (value NULL), compared by octets; the pointers are borrowed from the table
# entries (static tuples, or the ring's) that a slot stands for.
cdef struct Slot:
    PyObject *name     # NULL: never used; DELETED: freed
    PyObject *value
    Py_hash_t hash
    int64_t where      # a static index, or a dynamic entry's insertion number

cdef struct Lookup:
    Slot *slots
    Py_ssize_t mask    # capacity - 1 (a power of two), or -1 before the first entry
    Py_ssize_t live
    Py_ssize_t filled  # live + freed


cdef class Decoder:
    cdef Ring ring
    cdef int64_t size            # octets in the table (§4.1)
    cdef int64_t max_size        # its maximum, as the peer last set it (§4.2)
    cdef int64_t allowed         # our SETTINGS_HEADER_TABLE_SIZE
    cdef int64_t list_limit      # our SETTINGS_MAX_HEADER_LIST_SIZE
    cdef bint update_required
    cdef tuple never
    cdef uchar *scratch          # Huffman output, grown as needed
    cdef Py_ssize_t scratch_cap

    cdef list _decode(self, const uchar *p, Py_ssize_t end)
    cdef Py_ssize_t _size_updates(self, const uchar *p, Py_ssize_t end) except -1
    cdef object _entry(self, uint64_t index, Py_ssize_t start)
    cdef object _string(self, const uchar *p, Py_ssize_t *pos, Py_ssize_t end, Py_ssize_t start)
    cdef int _add(self, object field) except -1
    cdef void _evict(self, int64_t limit) noexcept


cdef class Encoder:
    cdef Ring ring
    cdef int64_t cap             # the most we keep, whatever the peer allows
    cdef int64_t max_size
    cdef int64_t size
    cdef int64_t pending_min     # -1: no size update to send
    cdef int64_t inserted        # insertion number of the next entry
    cdef Lookup fields           # dynamic entries by (name, value) -> insertion number
    cdef Lookup names            # the newest dynamic entry of each name
    cdef uchar *out
    cdef Py_ssize_t out_len, out_cap

    cdef int _set_table_size(self, object value) except -1
    cdef int _reserve(self, Py_ssize_t n) except -1
    cdef int _literal(self, object name, object value, Py_hash_t name_hash, uint64_t prefix_max,
                      uchar flags, bint huffman) except -1
    cdef void _string(self, object s, bint huffman) noexcept
    cdef int _add(self, object field, Py_hash_t name_hash, Py_hash_t field_hash,
                  int64_t size) except -1
    cdef void _evict(self, int64_t limit) noexcept
