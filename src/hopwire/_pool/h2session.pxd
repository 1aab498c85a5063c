# Declarations for the compiled twin of h2session.py (see connection.pxd): an extension
# type under ConnectionBase, so that the pool's questions are C calls, and its H2Connection
# and the exchanges it fills are read as C structs.
cimport cython
from hopwire._h2.connection cimport H2Connection
from hopwire._pool.connection cimport ConnectionBase, PreparedRequest
from hopwire._pool.exchange cimport Exchange
from hopwire._pool.models cimport ExchangeInfo


cdef class H2Session(ConnectionBase):
    cdef public H2Connection h2
    cdef public bytes scheme
    cdef public bint h1_required
    cdef public set touched
    cdef public bint window_opened
    cdef public dict unacked
    cdef public bint room_grew
    cdef public bint ping_acked

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
    @cython.locals(info=ExchangeInfo, ahead=Py_ssize_t)
    cpdef Py_ssize_t record(self, Exchange ex, PreparedRequest prepared, dict exchanges) except -1
    cpdef bytes data_to_send(self)
    @cython.locals(ex=Exchange, h2=H2Connection)
    cpdef object _deliver(self, list events, dict exchanges)
    cpdef object consumed(self, object stream_id, object size)
    cpdef object settle(self, object stream_id)
    cpdef object reset(self, object stream_id)
