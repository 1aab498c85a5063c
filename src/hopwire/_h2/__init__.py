"""HTTP/2 (RFC 9113) and HPACK (RFC 7541), sans-I/O: protocol facts, the frame codec
and the header codec, each with a C twin and a pure-Python twin chosen at import
as the HTTP/1.x parser's are (see `hopwire._select`)."""
