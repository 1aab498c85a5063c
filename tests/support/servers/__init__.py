"""Servers the suite runs against, all on 127.0.0.1, one launcher for each kind.

- `nginx`: a real nginx (subprocess) with static files, gzip, a short keepalive_requests;
  the one nginx launcher (the real-server run's nginx is rendered and started with it);
- `stdlib`: Python's `http.server`, HTTP/1.0 (with and without keep-alive) and HTTP/1.1,
  and `HTTPServerThread`, on which every http.server of the suite runs;
- `aiohttp_server`: an aiohttp app in a thread (chunked streaming, delays, chunked uploads);
- `fault`: the project's own raw-socket server that misbehaves on cue and logs every request;
- `dumb_proxy`: an HTTP/1.0 proxy double that forwards ``Connection`` as it is;
- `proxy_double`: a forward proxy (absolute-form, CONNECT) and a TLS origin;
- HTTP/2: `nginx` again (`H2NginxServer`: TLS with ALPN and h2c, a limited variant),
  `hypercorn_h2` (hypercorn in a subprocess), `h2_fault` (an h2-library server that
  misbehaves on cue), `certs` (their trustme certificates); `support.h2_client.h2_get`
  is the h2-library client that checks them (`test_h2_servers.py`);
- `threaded`: the base of the raw-socket servers (fault server, dumb proxy, the proxy
  tests' hop origin);
- `real`: servers nobody here wrote (gunicorn, uvicorn, nginx...), each in a process of
  its own, running the apps of `real_apps`.

Every body of N bytes is `pattern(N)`. The pytest fixtures live in `support.servers.fixtures`,
a plugin that tests/conftest.py registers; `test_servers.py` checks every server with the
standard library alone.
"""

from .aiohttp_server import AiohttpServer, AiohttpUnavailable, start_aiohttp_server
from .fault import (GARBAGE, Behaviour, FaultServer, RequestRecord, start_fault_server,
                    wait_for)
from .nginx import (BYTES_SIZES, KEEPALIVE_REQUESTS_SHORT, STATUSES, NginxError, NginxServer,
                    chunked_body, nginx_binary, start_nginx)
from .stdlib import (HELLO, StdlibServer, digest_text, free_ports, open_fds, pattern,
                     start_stdlib_server, tcp_inodes)

__all__ = [
    "AiohttpServer", "AiohttpUnavailable", "start_aiohttp_server",
    "GARBAGE", "Behaviour", "FaultServer", "RequestRecord", "start_fault_server", "wait_for",
    "BYTES_SIZES", "KEEPALIVE_REQUESTS_SHORT", "STATUSES", "NginxError", "NginxServer",
    "chunked_body", "nginx_binary", "start_nginx",
    "HELLO", "StdlibServer", "digest_text", "free_ports", "open_fds", "pattern",
    "start_stdlib_server", "tcp_inodes",
]
