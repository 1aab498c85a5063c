# Declarations for the compiled twin of sync.py (see connection.pxd).
cimport cython
from hopwire._pool.base cimport Attempt, Link, PoolOptions, give_back, record
from hopwire._pool.connection cimport Connection, Exchange, PreparedRequest
from hopwire._pool.models cimport Timeout
from hopwire._pool.lock_c cimport Lock as _Lock
from hopwire._pool.state cimport PoolState


cdef class _SyncLink(Link):
    cdef public object sock
    cdef public _Lock lock
    cdef public bint reading
    cdef public list sleepers
    cdef public _Lock write_lock
    cdef public list out
    cdef public object out_timeout
    cdef public object timeout
    cdef public object poller
    cdef public double quiet_until
    cdef public bint os_timeouts
    cdef public object read_timeout
    cdef public object write_timeout

    cpdef bint check_peer(self)
    cpdef bint gone(self, double now, object method)
    @cython.locals(conn=Connection)
    cpdef object send(self, Exchange ex, PreparedRequest prepared, object body, Timeout timeout, object defer=*)
    cpdef object flush(self, Timeout timeout)
    @cython.locals(conn=Connection, lock=_Lock)
    cpdef object next_event(self, Exchange ex, object timeout)


cdef class Pool:
    cdef public PoolOptions _options
    cdef public PoolState _state
    cdef public bint _pipelining
    cdef public _Lock _lock
    cdef public object _numbers
    cdef public object _next_expiry
    cdef public bint _closed

    @cython.locals(link=_SyncLink, ex=Exchange, prepared=PreparedRequest)
    cpdef object _request_idle(self, Attempt attempt, Timeout t)
    @cython.locals(link=_SyncLink, ex=Exchange)
    cpdef object _start(self, Attempt attempt, Timeout t, object block, object defer=*)
    @cython.locals(link=_SyncLink, state=PoolState, in_flight=Py_ssize_t, prepared=PreparedRequest)
    cpdef object _acquire(self, Attempt attempt, Timeout t, object block=*)
    @cython.locals(ex=Exchange)
    cpdef object _answer(self, Attempt attempt, _SyncLink link, Exchange ex, Timeout t, object collect=*)
    cpdef object _release(self, _SyncLink link, Exchange ex=*, object sent=*, object pipelinable=*)
    @cython.locals(ex=Exchange)
    cpdef object _put(self, Attempt attempt, _SyncLink link, object reused, Timeout t, object defer=*)
