# Declarations for the compiled twin of sync_h2.py (see connection.pxd).
cimport cython
from hopwire._pool.connection cimport PreparedRequest
from hopwire._pool.exchange cimport Exchange
from hopwire._pool.h2session cimport H2Session
from hopwire._pool.lock_c cimport Lock as _Lock
from hopwire._pool.models cimport Timeout
from hopwire._pool.sync cimport SyncLink


cdef class SyncH2Link(SyncLink):
    cdef public H2Session session
    cdef public list pending_out
    cdef public dict activity
    cdef public list window_waiters
    cdef public Timeout timeouts
    cdef public object pool
    cdef public double received_at

    cpdef object _take_out(self)
    cpdef object write_frames(self, object timeout)
    cpdef object flush(self, Timeout timeout)
    @cython.locals(session=H2Session)
    cpdef object send(self, Exchange ex, PreparedRequest prepared, object body, Timeout timeout, object defer=*)
    @cython.locals(lock=_Lock)
    cpdef object next_event(self, Exchange ex, object timeout)
    cpdef object _read_waiting(self, bint answer)
    cpdef bint _bytes_waiting(self) except -1
    cpdef object _read_once(self, object timeout, bint answer=*)
    cpdef object _wake_sleepers_locked(self)
    cpdef bint peer_gone(self)
    cpdef object close(self)
