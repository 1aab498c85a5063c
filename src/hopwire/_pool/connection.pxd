# Declarations for the compiled twin of connection.py (Cython reads this file next to the
# .py it compiles; the .py stays the source of both twins). Attributes are C fields of the
# object instead of slot descriptors; `_tag_all`'s locals are typed, its loop is the hot path:
# it reads the C parser's events and the pools' exchanges as C structs.
cimport cython
from hopwire._pool.exchange cimport Exchange
from hopwire._wire.parser_c cimport Data as _DataEvent, Response as _ResponseEvent


cdef class _InFlight:
    cdef public object id
    cdef public bytes method
    cdef public bint pipelinable
    cdef public bint upgrade
    cdef public bint started
    cdef public bint switching


cdef class PreparedRequest:
    cdef public bytes method
    cdef public bytes head
    cdef public object body_length
    cdef public bint chunked
    cdef public bint barrier
    cdef public bint upgrade
    cdef public bint expect_continue
    cdef public object h2


cdef class _Body:
    cdef public object id
    cdef public object remaining


cdef class ConnectionBase:
    cdef public bint multiplexed
    cdef public Py_ssize_t answered

    cpdef bint has_ended(self)
    cpdef bint is_closing(self)
    cpdef bint is_free(self)
    cpdef Py_ssize_t pending(self)
    cpdef object server_timeout(self)
    cpdef bint is_answering(self)
    cpdef object refusal(self, object method, object barrier)
    cpdef object send_prepared(self, PreparedRequest prepared)
    cpdef object receive_into(self, object data, dict exchanges)
    cpdef Py_ssize_t room(self)


cdef class Connection(ConnectionBase):
    cdef public object pipeline_depth
    cdef public bint proxied
    cdef public bint trust_proxy
    cdef public object _parser
    cdef public dict _kinds
    cdef public object _in_flight
    cdef public int _blockers
    cdef public object _body
    cdef public object _next_id
    cdef public object _request_limit
    cdef public object _keep_alive_timeout
    cdef public bint _proven
    cdef public bint _peer_closing
    cdef public object _ended
    cdef public bint _transport_closed
    cdef public object _error

    cpdef bint has_ended(self)
    cpdef bint is_closing(self)
    cpdef bint is_free(self)
    cpdef Py_ssize_t pending(self)
    cpdef object server_timeout(self)
    cpdef bint is_answering(self)
    cpdef object refusal(self, object method, object barrier)
    @cython.locals(request=_InFlight)
    cpdef object send_prepared(self, PreparedRequest prepared)
    cpdef object receive_into(self, object data, dict exchanges)
    @cython.locals(request=_InFlight, kinds=dict, tagged=list, ex=Exchange, head=_ResponseEvent,
                   piece=_DataEvent)
    cpdef list _tag_all(self, object events, dict exchanges=*)
