# cython: language_level=3
"""A mutex for the compiled sync pool: threading.Lock's behaviour, cheaper to take.

The pool takes a lock six times a request, always in a `with` block (an
explicit acquire() then `try` would leave the lock held when a signal
handler raises between the two in bytecode, which the pure twin runs). In
compiled code a `with` block on threading.Lock costs 1.46k instructions, on
this lock 1.1k (and a C call of acquire() and release() 170).
`hopwire._pool.locks` picks this class when extensions are on, else
threading.Lock, which it mirrors: a blocking acquire waits without the GIL
and lets signal handlers run (so Ctrl-C interrupts a wait), and releasing a
lock that is not held is a RuntimeError. Unlike it, acquire() always blocks
(no `blocking` or `timeout` argument: the pool has no use for them).
"""

from cpython.exc cimport PyErr_CheckSignals
from cpython.pythread cimport (
    NOWAIT_LOCK,
    PY_LOCK_ACQUIRED,
    PY_LOCK_INTR,
    PyLockStatus,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_release_lock,
)


cdef extern from "pythread.h":
    PyLockStatus PyThread_acquire_lock_timed(PyThread_type_lock lock, long long microseconds,
                                             int intr_flag) nogil


cdef class Lock:
    """A non-reentrant lock: `acquire()` (blocking), `release()`, `locked()`, `with`."""

    def __cinit__(self) -> None:
        self._lock = PyThread_allocate_lock()
        if self._lock == NULL:
            raise MemoryError("cannot allocate a lock")

    def __dealloc__(self) -> None:
        if self._lock != NULL:
            if self._held:  # (as CPython's own locks do: never free a held one)
                PyThread_release_lock(self._lock)
            PyThread_free_lock(self._lock)

    cpdef bint acquire(self) except -1:
        """Wait until the lock is free and take it."""
        cdef PyLockStatus got
        if not PyThread_acquire_lock(self._lock, NOWAIT_LOCK):  # the common case: free
            while True:
                with nogil:
                    got = PyThread_acquire_lock_timed(self._lock, -1, 1)
                if got == PY_LOCK_ACQUIRED:
                    break
                if got == PY_LOCK_INTR and PyErr_CheckSignals() < 0:  # a handler raised
                    return -1
        self._held = True
        return True

    cpdef release(self):
        """Free the lock (which any thread may do, as with threading.Lock)."""
        if not self._held:
            raise RuntimeError("release unlocked lock")
        self._held = False
        PyThread_release_lock(self._lock)

    def locked(self) -> bool:
        return self._held

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.release()  # (three named arguments: cheaper to call than *exc_info)

    def __repr__(self) -> str:
        return f"<hopwire._pool.lock_c.Lock {'locked' if self._held else 'unlocked'}>"
