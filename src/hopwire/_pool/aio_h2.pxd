# Declarations for the compiled twin of aio_h2.py (see connection.pxd).
cimport cython
from hopwire._pool.aio cimport AsyncLink
from hopwire._pool.connection cimport PreparedRequest
from hopwire._pool.exchange cimport Exchange
from hopwire._pool.h2session cimport H2Session
from hopwire._pool.models cimport Timeout


cdef class AsyncH2Link(AsyncLink):
    cdef public H2Session session
    cdef public dict activity
    cdef public list window_waiters
    cdef public bint flush_soon
    cdef public object pool
    cdef public object ping_timer
    cdef public double ping_due

    cpdef object write_frames(self)
    @cython.locals(session=H2Session)
    cpdef object on_data(self, object data)
    @cython.locals(session=H2Session)
    cpdef object send(self, Exchange ex, PreparedRequest prepared, object body, Timeout timeout, object defer=*)
    cpdef object sleep(self, Exchange ex, object timeout)
    cpdef object woke(self, Exchange ex, object result, object timeout)
    cpdef object close(self)
    cpdef object abort(self, object error, bint peer_closed=*)
