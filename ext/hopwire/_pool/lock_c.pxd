# Declarations of the C lock the compiled sync pool takes on every request (see lock_c.pyx).
from cpython.pythread cimport PyThread_type_lock
cimport cython


@cython.final
cdef class Lock:
    cdef PyThread_type_lock _lock
    cdef bint _held

    cpdef bint acquire(self) except -1
    cpdef release(self)
