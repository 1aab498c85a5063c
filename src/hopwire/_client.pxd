# Declarations for the compiled twin of _client.py (see _connection.pxd).
cimport cython
from hopwire._connection cimport Connection, PreparedRequest
from hopwire._pool_state cimport Entry, PoolState


cdef class Exchange:
    cdef public object rid
    cdef public object events
    cdef public object error
    cdef public bint ended
    cdef public bint may_replay
    cdef public bint replay_alone
    cdef public bint replay_pipelined
    cdef public object info
    cdef public object buffered
    cdef public object waiter
    cdef public bint collect
    cdef public object write_error
    cdef public object read_timeout


cdef class Link:
    cdef public Connection conn
    cdef public object entry
    cdef public object number
    cdef public dict exchanges
    cdef public object answered
    cdef public bint replay_unsafe
    cdef public bint closed
    cdef public bint pipeline_failed


cdef class Attempt:
    cdef public object url
    cdef public object where
    cdef public PreparedRequest prepared
    cdef public object body
    cdef public bint pipelinable
    cdef public bint replayable_body
    cdef public object replays
    cdef public bint retried_reused
    cdef public bint fresh
    cdef public object min_serial

    cpdef object exchange(self, object number, object reused)
    cpdef object response(self, object event, object info, object stream)
    cpdef object collected(self, object event, Exchange ex)


@cython.locals(conn=Connection)
cpdef object record(Link link, Exchange ex, PreparedRequest prepared)

@cython.locals(conn=Connection, entry=Entry)
cpdef tuple give_back(PoolState state, Link link, object now, object sent, object pipelinable)
