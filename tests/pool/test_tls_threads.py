"""Threads sharing TLS connections: pipelined HTTP/1.1 and multiplexed HTTP/2.

What for: OpenSSL allows one thread in a connection at a time. When one thread reads
a shared connection while another writes to it (pipelining, HTTP/2 streams), a record
written during the read can be corrupted, and the server fails the connection
(bad_record_mac). `Pool` serializes the TLS calls of a shared link (`sync`).

How: many threads pipeline (or multiplex) uploads and downloads on few TLS connections
to nginx, long enough for reads and writes to overlap often; every answer must come
back whole, on the connections the pool opened, without a transport error.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import hopwire
from support.pool_drivers import Client, run
from support.servers.stdlib import pattern

pytestmark = pytest.mark.slow

ROUNDS = 12


@pytest.mark.parametrize("http2", [False, True])
def test_threads_share_tls_connections(http2: bool, h2_nginx: Any) -> None:
    base = h2_nginx.tls_url

    async def scenario(c: Client) -> list[Any]:
        results: list[Any] = []
        for _ in range(ROUNDS):
            calls = [c.request("GET", base + "/bytes/1048576") for _ in range(12)]
            calls += [c.request("GET", base + "/bytes/1024") for _ in range(12)]
            if http2:  # (uploads are not pipelined: on HTTP/1.1 they wait for an idle connection)
                calls += [c.request("PUT", base + "/post", body=b"u" * 300_000) for _ in range(4)]
            results += await c.gather(*calls)
            await asyncio.sleep(0)
        return results

    options: dict[str, Any] = dict(ssl_context=h2_nginx.ssl_context, max_connections_per_host=2)
    if http2:
        options["http2"] = True
    else:
        options["pipeline_depth"] = 8
    results = run("sync", scenario, **options)
    failures = [r for r in results if not isinstance(r, hopwire.HTTPResponse)]
    assert not failures, failures[:3]
    assert all(len(r.content) in (1024, 1048576) for r in results if r.method == b"GET")
    assert all(r.content == pattern(len(r.content)) for r in results if r.method == b"GET")
    assert {r.http_version for r in results} == {"HTTP/2" if http2 else "HTTP/1.1"}
