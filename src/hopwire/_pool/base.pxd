# Declarations for the compiled twin of base.py (see connection.pxd).
cimport cython
from hopwire._pool.connection cimport Connection, Exchange, PreparedRequest
from hopwire._pool.models cimport Timeout
from hopwire._wire.parser_c cimport Response as _ResponseEvent
from hopwire._pool.state cimport Entry, PoolState


cdef class PoolOptions:
    cdef public object max_connections
    cdef public object max_connections_per_host
    cdef public object pipeline_depth
    cdef public object keepalive_expiry
    cdef public Timeout timeout
    cdef public object retries
    cdef public object proxy
    cdef public object ssl_context
    cdef public bint replay_unsafe
    cdef public bint trust_proxy_keep_alive


cdef class Link:
    cdef public Connection conn
    cdef public object entry
    cdef public object number
    cdef public dict exchanges
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
    @cython.locals(head=_ResponseEvent)
    cpdef object response(self, object event, object info, object stream)
    cpdef object collected(self, object event, Exchange ex)


@cython.locals(conn=Connection)
cpdef object record(Link link, Exchange ex, PreparedRequest prepared)

@cython.locals(conn=Connection, entry=Entry)
cpdef tuple give_back(PoolState state, Link link, object now, object sent, object pipelinable)
