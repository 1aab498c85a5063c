# Declarations for the compiled twin of connection.py (the source of both twins; see
# hopwire/_pool/connection.pxd). The connection and its streams are extension types:
# their fields are C fields, and the methods of the per-frame path are C calls.
# Windows, stream ids and limits are `long long`: SETTINGS values reach 2^32 (an
# unlimited MAX_CONCURRENT_STREAMS is 2^32 here), which a 32-bit Py_ssize_t cannot hold.
cimport cython


cdef class _Stream:
    cdef public long long id
    cdef public object method
    cdef public long long send_window
    cdef public long long recv_window
    cdef public long long recv_unannounced
    cdef public long long unconsumed
    cdef public bint local_closed
    cdef public bint remote_closed
    cdef public bint final
    cdef public bint started
    cdef public bint no_content
    cdef public long long expected
    cdef public long long received
    cdef public long long send_limit
    cdef public long long sent


cdef class H2Connection:
    cdef public object _reader
    cdef public object _encoder
    cdef public object _decoder
    cdef public bytearray _out
    cdef public dict _streams
    cdef public dict _closed
    cdef public long long _next_stream_id
    cdef public long long _last_stream_id
    cdef public list _events
    cdef public long long _pending_replies
    cdef public long long _empty_data
    cdef public long long _ignored
    cdef public bint _peer_settings_seen
    cdef public long long _settings_unacked
    cdef public long long _our_max_frame_size
    cdef public long long _our_table_size
    cdef public long long _peer_max_frame_size
    cdef public long long _peer_initial_window
    cdef public long long _max_concurrent
    cdef public long long _peer_max_header_list
    cdef public long long _send_window
    cdef public long long _recv_window
    cdef public long long _recv_unannounced
    cdef public long long _unconsumed
    cdef public long long _initial_window
    cdef public long long _stream_threshold
    cdef public long long _connection_threshold
    cdef public set _good_names
    cdef public dict _pings
    cdef public long long _ping_count
    cdef public long long _goaway_last
    cdef public long long _goaway_code
    cdef public bint _local_goaway
    cdef public object _error
    cdef public bint _transport_closed
    cdef public bint _terminated

    cpdef bint can_open_stream(self)
    cpdef Py_ssize_t open_count(self)
    cpdef long long room(self)
    cpdef bint ended(self)
    cpdef bint closing(self)
    cpdef bint idle(self)
    cpdef long long send_head(self, tuple head, bint end_stream=*) except -1
    cpdef bint _no_new_streams(self)
    cpdef bint has_data_to_send(self)
    cpdef bytes data_to_send(self)
    cpdef object acknowledge_received_data(self, long long stream_id, long long size)
    @cython.locals(stream=_Stream)
    cpdef object _give_back_stream(self, _Stream stream, long long size)
    cpdef object _give_back(self, long long size)
    cpdef list receive_data(self, object data)
    cpdef object _handle(self, list frames)
    @cython.locals(stream=_Stream, size=cython.longlong, n=cython.Py_ssize_t,
                   received=cython.longlong)
    cpdef object _on_data(self, object frame)
    cpdef object _consume_padding(self, _Stream stream, long long size, bint end_stream)
    cpdef object _count_empty(self)
    cpdef object _ignore(self)
    @cython.locals(stream=_Stream, status=cython.Py_ssize_t)
    cpdef object _on_headers(self, object frame)
    cpdef long long _check_fields(self, list fields, Py_ssize_t start) except? -2
    cpdef object _end_remote(self, _Stream stream)
    @cython.locals(stream=_Stream)
    cpdef object _on_window_update(self, object frame)
    cpdef object _forget(self, _Stream stream, int how)
    cpdef object _stream_error(self, _Stream stream, tuple rule)
    cpdef object _malformed(self, _Stream stream, str reason)
    cpdef object _reply(self, bytes frame)
