# Declarations for the compiled twin of models.py (see connection.pxd): the response
# object every request makes.


cdef class Timeout:
    cdef public object connect
    cdef public object read
    cdef public object write
    cdef public object pool


cdef class ExchangeInfo:
    cdef public object connection
    cdef public bint reused
    cdef public object pipelined
    cdef public bint replayed
    cdef public double elapsed
    cdef public object stream_id
    cdef public Py_ssize_t streams


cdef class Response:
    cdef public object status
    cdef public object reason
    cdef public object http_version
    cdef public object headers
    cdef public object method
    cdef public object url
    cdef public object info
    cdef public object _content
    cdef public object _stream
