# Declarations of the C twin of hopwire's HTTP/1.x parser (see parser_c.pyx).

cdef struct BodySpan:
    const unsigned char *p
    Py_ssize_t n


cdef class Request:
    cdef public object method, target, headers, http_version, content_length, hop_headers
    cdef public bint keep_alive, chunked, upgrade

cdef class Response:
    cdef public object status_code, reason, headers, http_version, content_length, hop_headers
    cdef public bint keep_alive, chunked, upgrade

cdef class InformationalResponse:
    cdef public object status_code, reason, headers, http_version, hop_headers
    cdef public bint upgrade

cdef class Data:
    cdef public object data

cdef class EndOfMessage:
    cdef object _headers  # None until read: most messages have no trailers


cdef class _Parser:
    cdef readonly Py_ssize_t max_line_size, max_header_size, max_headers
    cdef public bint strip_hop_by_hop
    cdef public bytes trailing_data

    cdef bint is_request
    cdef int state
    cdef object error
    # methods of the requests sent and not yet answered: the oldest, then
    # the others from expected[expected_head:]
    cdef object expected_first
    cdef list expected
    cdef Py_ssize_t expected_head

    # the unfinished line carried over between feeds
    cdef unsigned char *buf
    cdef Py_ssize_t buf_len, buf_cap
    cdef long long base            # stream offset of the working buffer's first byte

    # body spans of the current feed (they point into its working buffer)
    cdef BodySpan *spans
    cdef Py_ssize_t n_spans, spans_cap, body_total

    cdef long long remaining
    cdef bint msg_keep_alive, msg_upgrade

    # the message being read
    cdef list headers
    cdef long long head_start
    cdef long long content_length  # -1: none seen
    cdef bint te, te_chunked_last, chunked_seen
    cdef bint close_token, keep_alive_token, upgrade_token, has_upgrade
    cdef object method, target, version, reason
    cdef int status

    cdef list _feed(self, const unsigned char *data, Py_ssize_t n)
    cdef int _grow_buf(self, Py_ssize_t need) except -1
    cdef object _raise(self, object exc, list events)
    cdef void _reset_message(self)
    cdef int _body_add(self, const unsigned char *p, Py_ssize_t n) except -1
    cdef int _flush(self, list events) except -1
    cdef int _emit(self, list events, object event) except -1
    cdef Py_ssize_t _run(self, const unsigned char *b, Py_ssize_t avail, list events) except -2
    cdef Py_ssize_t _climit(self, Py_ssize_t pos, bint *line_binds)
    cdef Py_ssize_t _start_line(self, const unsigned char *b, Py_ssize_t pos, Py_ssize_t avail) except -2
    cdef Py_ssize_t _field_lines(self, const unsigned char *b, Py_ssize_t pos, Py_ssize_t avail,
                                 list events) except -2
    cdef int _special(self, int kind, const unsigned char *v, Py_ssize_t n, long long offset) except -1
    cdef int _end_head(self, list events, long long offset) except -1
    cdef int _request_head(self, list events, long long offset, bint keep_alive,
                           object headers, object hop) except -1
    cdef int _response_head(self, list events, bint keep_alive, object headers, object hop) except -1
    cdef int _begin_body(self, list events, long long length, bint chunked) except -1
    cdef int _end_message(self, list events) except -1
    cdef object _next_expected(self)
    cdef void _finish_message(self)
