"""hopwire's forwarding proxy: hop-by-hop correct, both hops kept alive independently.

    hopwire proxy --listen 127.0.0.1:8888                          # forward proxy
    hopwire proxy --listen 127.0.0.1:8888 --upstream http://127.0.0.1:8080   # reverse proxy

HTTP's connection fields describe one hop, and an intermediary that passes
them on lies to both ends about a connection it never agreed to (the "dumb
proxy" problem, RFC 9112 Appendix C.2.2). This proxy reads each request with
`RequestParser(strip_hop_by_hop=True)`, so what it forwards never carries
`Connection` or a field it names, `Keep-Alive`, `Proxy-Connection`, `TE`,
`Trailer`, `Transfer-Encoding`, `Upgrade`, `Proxy-Authenticate` or
`Proxy-Authorization`; answers lose the same fields (`filter_hop_by_hop`).
It adds `Via` both ways (RFC 9110 §7.6.3), decides the client's keep-alive
itself (see `hopwire.proxy.client`), and sends upstream through an `AsyncPool`:
pooled keep-alive connections, pipelined if `upstream_pipeline` > 1, with the
pool's replay rules and its own dumb-proxy guard when `next_proxy` is set.

Forward mode (no `upstream`): requests carry an absolute URL (RFC 9112 §3.2.2)
and CONNECT opens tunnels. Reverse mode: every request goes to `upstream`,
the client's Host kept. Failures upstream become 502 (unreachable or broken),
503 (no upstream connection free in time) or 504 (no answer in time).

APIs: `serve_proxy()` starts it on the running loop; `start_proxy()` runs it
on a thread with its own loop (tests, tools); `run()` serves until Ctrl-C
(`hopwire proxy`).
"""

from .server import (
    ProxyOptions,
    ProxyServer,
    ProxyStats,
    ProxyThread,
    run,
    serve_proxy,
    start_proxy,
)

__all__ = ["ProxyOptions", "ProxyServer", "ProxyStats", "ProxyThread", "run", "serve_proxy", "start_proxy"]
