# Declarations for the compiled twin of base.py (see connection.pxd).
cimport cython
from hopwire._pool.connection cimport Connection, ConnectionBase, PreparedRequest
from hopwire._pool.exchange cimport Exchange
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
    cdef public object http2
    cdef public dict _contexts


cdef class Link:
    cdef public ConnectionBase conn
    cdef public object entry
    cdef public object number
    cdef public dict exchanges
    cdef public bint replay_unsafe
    cdef public bint closed
    cdef public bint pipeline_failed
    cdef public double quiet_until

    cpdef object close(self)
    cpdef object abort(self, object error, bint peer_closed=*)
    cpdef bint peer_gone(self)
    @cython.locals(conn=ConnectionBase)
    cpdef object receive(self, object data)


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
    cpdef object response(self, object event, object info, object stream, object content=*)
    cpdef object collected(self, object event, Exchange ex)


@cython.locals(conn=ConnectionBase)
cpdef object record(Link link, Exchange ex, PreparedRequest prepared)


cpdef object caller_error(Exchange ex)
cpdef list framed(Connection conn, object rid, bytes head, object body)


cdef class Batch:
    cdef public list results
    cdef public object todo
    cdef public object in_flight

    cpdef object next(self)
    cpdef object refused(self, object error)
    cpdef object started(self, object link, Exchange ex)
    cpdef tuple oldest(self)
    cpdef object answered(self, object index, object result)
    cpdef object failed(self, object index, Attempt attempt, object error)


cdef class Waiter:
    cdef public object signal
    cdef public object action
    cdef public object link


cdef class PoolBase:
    cdef public PoolOptions _options
    cdef public PoolState _state
    cdef public bint _pipelining
    cdef public object _numbers
    cdef public double _next_expiry
    cdef public bint _closed

    cpdef object _signal(self, Waiter waiter)
    cpdef Attempt _attempt(self, object method, object url, object headers, object body)
    cpdef Timeout _timeout(self, object timeout)
    @cython.locals(prepared=PreparedRequest, entry=Entry)
    cpdef object _ready(self, Attempt attempt, double now)
    cpdef object _take(self, Attempt attempt, Waiter waiter, double now, object deadline, bint block)
    cpdef bint _must_probe(self, Link link, double now, object method)
    @cython.locals(conn=ConnectionBase)
    cpdef bint _reused(self, Link link)
    cpdef list _expired(self, double now)
    @cython.locals(waiter=Waiter)
    cpdef object _wake(self, object wakeups)
    cpdef bint _sends_wake(self)
    cpdef object _sent(self, Link link, bint pipelinable)
    cpdef object _release(self, Link link, Exchange ex=*, bint sent=*, bint pipelinable=*)
    @cython.locals(state=PoolState, entry=Entry, conn=ConnectionBase)
    cpdef bint _give_back(self, Link link, bint sent, bint pipelinable)
    cpdef bint _unsent(self, Link link, Attempt attempt, Exchange ex, object error)
    cpdef object _probed(self, Link link, double now, object method)
    cpdef object _lose(self, Link link)
    cpdef object _discard(self, Link link)
