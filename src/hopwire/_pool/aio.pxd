# Declarations for the compiled twin of aio.py (see connection.pxd).
cimport cython
from hopwire._pool.base cimport Attempt, Link, PoolBase, Waiter, caller_error, record
from hopwire._pool.connection cimport ConnectionBase, PreparedRequest
from hopwire._pool.exchange cimport Exchange
from hopwire._pool.models cimport Timeout
from hopwire._pool.state cimport PoolState


cdef class AsyncLink(Link):
    cdef public object transport
    cdef public object loop
    cdef public bint stock_loop
    cdef public bint reading_paused
    cdef public bint write_paused
    cdef public object drain_waiter
    cdef public list out
    cdef public double received_at
    cdef public list sleepers
    cdef public object timer
    cdef public double timer_at
    cdef public Py_ssize_t reading_off

    @cython.locals(conn=ConnectionBase)
    cpdef object on_data(self, object data)
    @cython.locals(ex=Exchange)
    cpdef object _wake_sleepers(self)
    @cython.locals(conn=ConnectionBase)
    cpdef object send(self, Exchange ex, PreparedRequest prepared, object body, Timeout timeout, object defer=*)
    cpdef bint peer_gone(self)
    cpdef object close(self)
    cpdef object abort(self, object error, bint peer_closed=*)
    cpdef double now(self)
    cpdef object sleep(self, Exchange ex, object timeout)
    cpdef object woke(self, Exchange ex, object result, object timeout)


cdef class AsyncPool(PoolBase):
    cdef public set _reading_off
    cdef public object _read_buffer

    cpdef object _signal(self, Waiter waiter)
    @cython.locals(link=AsyncLink, ex=Exchange)
    cpdef object _start_now(self, Attempt attempt, Timeout t, object defer=*)
    cpdef object _wait_more(self, AsyncLink link, Exchange ex, object timeout)
    cpdef object _woke(self, AsyncLink link, Exchange ex, object result, object timeout)
    cpdef object _collected(self, Attempt attempt, AsyncLink link, Exchange ex, object started)
    @cython.locals(link=AsyncLink)
    cpdef object _acquire_idle(self, Attempt attempt)
    @cython.locals(ex=Exchange)
    cpdef object _put(self, Attempt attempt, AsyncLink link, object reused, Timeout t, object defer=*)
