# Declarations for the compiled twin of exchange.py (see connection.pxd).


cdef class Exchange:
    cdef public object rid
    cdef public object events
    cdef public object error
    cdef public bint ended
    cdef public bint may_replay
    cdef public bint replay_alone
    cdef public bint replay_pipelined
    cdef public object info
    cdef public Py_ssize_t buffered
    cdef public object waiter
    cdef public bint collect
    cdef public object write_error
    cdef public object read_timeout
    cdef public bint head_taken
