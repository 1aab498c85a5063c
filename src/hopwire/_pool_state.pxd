# Declarations for the compiled twin of _pool_state.py (see _connection.pxd).
cimport cython
from hopwire._connection cimport Connection


cdef class Entry:
    cdef public Connection connection
    cdef public object origin
    cdef public Py_ssize_t serial
    cdef public object idle_since
    cdef public object expires_at
    cdef public Py_ssize_t leases
    cdef public Py_ssize_t unsent
    cdef public Py_ssize_t unsent_blockers
    cdef public bint pooled


cdef class PoolState:
    cdef public object max_connections
    cdef public object max_connections_per_host
    cdef public object pipeline_depth
    cdef public object keepalive_expiry
    cdef public list _entries
    cdef public object _dialing
    cdef public dict _waiters
    cdef public object _pipeline_failures
    cdef public object _serial
    cdef public bint _closed

    @cython.locals(best=Entry, e=Entry, c=Connection)
    cpdef object _idle(self, object origin, object now, Py_ssize_t min_serial=*)
    @cython.locals(best=Entry, e=Entry)
    cpdef object acquire_now(self, object origin, object method, object now,
                             object expect_continue=*, object upgrade=*, object min_serial=*)
    cpdef object sent(self, Entry entry, object now, object pipelinable=*)
    @cython.locals(connection=Connection)
    cpdef bint _joinable(self, Entry entry, object method, object expect_continue, object upgrade)
    @cython.locals(connection=Connection)
    cpdef object released(self, Entry entry, object now, object sent=*, object pipelinable=*)


cpdef object _unlease(Entry entry, bint pipelinable)
cpdef bint _pipelinable(object method, bint expect_continue, bint upgrade)
