# Declarations for the compiled twin of state.py (see connection.pxd).
cimport cython
from hopwire._pool.connection cimport ConnectionBase


cdef class Entry:
    cdef public ConnectionBase connection
    cdef public object origin
    cdef public Py_ssize_t serial
    cdef public object idle_since
    cdef public object expires_at
    cdef public Py_ssize_t leases
    cdef public Py_ssize_t unsent
    cdef public Py_ssize_t unsent_blockers
    cdef public bint pooled
    cdef public object link

    cpdef bint is_dead(self)


cdef class _Queued:
    cdef public object waiter
    cdef public object request
    cdef public Py_ssize_t order


cdef class PoolState:
    cdef public object max_connections
    cdef public object max_connections_per_host
    cdef public object pipeline_depth
    cdef public object keepalive_expiry
    cdef public list _entries
    cdef public object _dialing
    cdef public dict _waiters
    cdef public dict _queues
    cdef public Py_ssize_t _stale
    cdef public Py_ssize_t _order
    cdef public object _pipeline_failures
    cdef public object _serial
    cdef public bint _closed
    cdef public object multiplex_schemes
    cdef public set _h1_only
    cdef public dict _stream_limits
    cdef public Py_ssize_t _multiplexed

    @cython.locals(best=Entry, e=Entry, connection=ConnectionBase, room=Py_ssize_t, most=Py_ssize_t)
    cpdef object _shared(self, object origin, object now, Py_ssize_t min_serial)
    @cython.locals(best=Entry, e=Entry)
    cpdef object _idle(self, object origin, object now, Py_ssize_t min_serial=*)
    @cython.locals(best=Entry, e=Entry)
    cpdef object acquire_now(self, object origin, object method, object now,
                             object expect_continue=*, object upgrade=*, object min_serial=*)
    cpdef bint has_waiters(self)
    @cython.locals(connection=ConnectionBase)
    cpdef object _lease(self, Entry entry, bint pipelinable)
    cpdef object sent(self, Entry entry, object now, object pipelinable=*)
    @cython.locals(connection=ConnectionBase)
    cpdef bint _joinable(self, Entry entry, object method, object expect_continue, object upgrade)
    @cython.locals(connection=ConnectionBase)
    cpdef object released(self, Entry entry, object now, object sent=*, object pipelinable=*)
    @cython.locals(head=_Queued, first=_Queued)
    cpdef list _wake(self, object now)
    @cython.locals(place=_Queued)
    cpdef object _head(self, object origin)
    cpdef object _reap(self)


cpdef object _unlease(Entry entry, bint pipelinable)
cpdef bint _pipelinable(object method, bint expect_continue, bint upgrade)
