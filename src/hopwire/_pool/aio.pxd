# Declarations for the compiled twin of aio.py (see connection.pxd).
cimport cython
from hopwire._pool.base cimport Attempt, Link, PoolOptions, give_back, record
from hopwire._pool.connection cimport Connection, Exchange, PreparedRequest
from hopwire._pool.models cimport Timeout
from hopwire._pool.state cimport PoolState


cdef class _AsyncLink(Link):
    cdef public object transport
    cdef public object loop
    cdef public bint stock_loop
    cdef public bint reading_paused
    cdef public bint write_paused
    cdef public object drain_waiter
    cdef public bint tunneling
    cdef public list out
    cdef public double received_at
    cdef public list sleepers
    cdef public object timer
    cdef public double timer_at
    cdef public Py_ssize_t reading_off

    @cython.locals(conn=Connection)
    cpdef object on_data(self, object data)
    @cython.locals(ex=Exchange)
    cpdef object _wake_sleepers(self)
    @cython.locals(conn=Connection)
    cpdef object send(self, Exchange ex, PreparedRequest prepared, object body, Timeout timeout, object defer=*)
    cpdef bint peer_gone(self)
    cpdef double now(self)
    cpdef object sleep(self, Exchange ex, object timeout)
    cpdef object woke(self, Exchange ex, object result, object timeout)


cdef class AsyncPool:
    cdef public PoolOptions _options
    cdef public PoolState _state
    cdef public bint _pipelining
    cdef public object _numbers
    cdef public object _next_expiry
    cdef public bint _closed
    cdef public set _reading_off
    cdef public object _read_buffer

    cpdef object _sent(self, _AsyncLink link, Attempt attempt)
    @cython.locals(link=_AsyncLink, ex=Exchange)
    cpdef object _start_now(self, Attempt attempt, Timeout t, object defer=*)
    cpdef object _wait_more(self, _AsyncLink link, Exchange ex, object timeout)
    cpdef object _woke(self, _AsyncLink link, Exchange ex, object result, object timeout)
    cpdef object _collected(self, Attempt attempt, _AsyncLink link, Exchange ex, object started)
    @cython.locals(link=_AsyncLink, prepared=PreparedRequest)
    cpdef object _acquire_idle(self, Attempt attempt)
    cpdef object _release(self, _AsyncLink link, Exchange ex=*, object sent=*, object pipelinable=*)
    @cython.locals(ex=Exchange)
    cpdef object _put(self, Attempt attempt, _AsyncLink link, object reused, Timeout t, object defer=*)
