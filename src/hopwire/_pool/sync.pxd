# Declarations for the compiled twin of sync.py (see connection.pxd).
cimport cython
from hopwire._pool.base cimport Attempt, Batch, Link, PoolBase, Waiter, caller_error, record
from hopwire._pool.connection cimport ConnectionBase, PreparedRequest
from hopwire._pool.exchange cimport Exchange
from hopwire._pool.models cimport Timeout
from hopwire._pool.lock_c cimport Lock as _Lock
from hopwire._pool.state cimport PoolState


cdef class SyncLink(Link):
    cdef public object sock
    cdef public _Lock lock
    cdef public bint reading
    cdef public list sleepers
    cdef public _Lock write_lock
    cdef public list out
    cdef public object out_timeout
    cdef public object timeout
    cdef public object poller
    cdef public bint os_timeouts
    cdef public object read_timeout
    cdef public object write_timeout
    cdef public object tls_lock

    cpdef object _set_read_timeout(self, object timeout)
    cpdef object _bound_read(self, object timeout)
    cpdef object _set_write_timeout(self, object timeout)
    cpdef object _wake_sleepers_locked(self)
    cpdef bint peer_gone(self)
    cpdef object close(self)
    cpdef object abort(self, object error, bint peer_closed=*)
    @cython.locals(conn=ConnectionBase)
    cpdef object send(self, Exchange ex, PreparedRequest prepared, object body, Timeout timeout, object defer=*)
    cpdef object flush(self, Timeout timeout)
    cpdef object _send_all(self, object data)
    cpdef bytes _recv(self)
    @cython.locals(conn=ConnectionBase, lock=_Lock)
    cpdef object next_event(self, Exchange ex, object timeout)


cdef class Pool(PoolBase):
    cdef public _Lock _lock

    cpdef object _signal(self, Waiter waiter)
    cpdef bint _give_back(self, Link link, bint sent, bint pipelinable)
    cpdef object _discard(self, Link link)
    @cython.locals(link=SyncLink, ex=Exchange, attempt=Attempt, deferred=list)
    cpdef object _run_batch(self, Batch batch, Timeout t)
    @cython.locals(link=SyncLink, ex=Exchange, prepared=PreparedRequest)
    cpdef object _request_idle(self, Attempt attempt, Timeout t)
    @cython.locals(link=SyncLink, ex=Exchange)
    cpdef object _start(self, Attempt attempt, Timeout t, object block, object defer=*)
    cpdef object _acquire(self, Attempt attempt, Timeout t, object block=*)
    @cython.locals(ex=Exchange)
    cpdef object _answer(self, Attempt attempt, SyncLink link, Exchange ex, Timeout t, object collect=*)
    @cython.locals(ex=Exchange)
    cpdef object _put(self, Attempt attempt, SyncLink link, object reused, Timeout t, object defer=*)
