# Declarations for the compiled twin of _models.py (see _connection.pxd): the response
# object every request makes.


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
