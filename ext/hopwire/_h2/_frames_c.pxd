# Declarations of the C twin of hopwire's HTTP/2 frame codec (see _frames_c.pyx).

ctypedef unsigned char uchar
ctypedef unsigned int u32


# The events: the fields are objects, as in the Python twin (whatever a caller
# passes to a constructor is kept as given).

cdef class _Event:
    pass

cdef class Data(_Event):
    cdef public object stream_id, data, end_stream, flow_controlled_length

cdef class Headers(_Event):
    cdef public object stream_id, block, end_stream

cdef class Priority(_Event):
    cdef public object stream_id, depends_on, weight, exclusive

cdef class RstStream(_Event):
    cdef public object stream_id, error_code

cdef class Settings(_Event):
    cdef public object settings, ack

cdef class PushPromise(_Event):
    cdef public object stream_id, promised_stream_id, block

cdef class Ping(_Event):
    cdef public object opaque, ack

cdef class GoAway(_Event):
    cdef public object last_stream_id, error_code, debug_data

cdef class WindowUpdate(_Event):
    cdef public object stream_id, increment


cdef class FrameReader:
    cdef Py_ssize_t _max_frame_size, _max_header_block_size
    cdef Py_ssize_t _max_continuation_frames, _max_settings_entries
    cdef object error                 # the connection error raised, then raised again

    # the unfinished frame carried over between feeds
    cdef uchar *buf
    cdef Py_ssize_t buf_len, buf_cap
    cdef Py_ssize_t need              # octets the buffer needs before it is worth reading
    cdef long long base               # stream offset of the working buffer's first octet

    # the unfinished field block (HEADERS or PUSH_PROMISE without END_HEADERS)
    cdef u32 hb_stream                # 0: none
    cdef int hb_type
    cdef bint hb_end_stream
    cdef u32 hb_promised
    cdef uchar *hb
    cdef Py_ssize_t hb_len, hb_cap, hb_frames

    cdef list _feed(self, const uchar *data, Py_ssize_t n)
    cdef Py_ssize_t _run(self, const uchar *b, Py_ssize_t n, list events) except -1
    cdef int _check_header(self, Py_ssize_t length, int ftype, int flags, u32 stream_id,
                           Py_ssize_t pos) except -1
    cdef int _field_block(self, const uchar *b, Py_ssize_t pos, Py_ssize_t start,
                          Py_ssize_t end, int ftype, int flags, u32 stream_id,
                          list events) except -1
    cdef int _continuation(self, const uchar *p, Py_ssize_t n, int flags,
                           list events) except -1
    cdef list _settings(self, const uchar *b, Py_ssize_t start, Py_ssize_t end, Py_ssize_t pos)
    cdef object _fail(self, int rule, Py_ssize_t pos, int ftype)
    cdef int _hb_append(self, const uchar *p, Py_ssize_t n) except -1
