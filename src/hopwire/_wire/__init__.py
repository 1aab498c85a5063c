"""HTTP/1.x on the wire, without I/O: the parser (two twins), its events, the request
writer, and the protocol's rules and limits in one place (`rules`)."""
