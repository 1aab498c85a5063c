"""hopwire's embedded HTTP/1.1 server (`embedded`, the benchmark's and the tests'
local server) and what it shares with the proxy (`serving`: listeners and loops)."""
