"""pytest-benchmark: the sequential and pipelined pool workloads against nginx.

    PYTHONPATH=src .venv/bin/python -m pytest benches/test_pool.py

One benchmark round = `run(REQUESTS)`: REQUESTS GETs of "/" on the workload's
connection, every response checked (200 "Hello, world!"), so the times
pytest-benchmark reports cover REQUESTS requests (divide by it for one; the
number is in each benchmark's extra_info). Grouped by workload. The
interleaved comparison with req/s, CPU per request and ratios, and the
concurrent workloads, are in benches/compare_pool.py.

The pytest process and nginx's worker share one CPU while the module runs
(compare_pool.py's default placement). Skipped as a whole when nginx is not installed or does not start; a
contender whose library is missing is skipped by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pytest_benchmark")

import pool_peers as pp  # noqa: E402
from nginx_server import NginxUnavailable, nginx_binary, place, start_nginx  # noqa: E402

CONTENDERS = ("hopwire-sync", "hopwire-async", "urllib3", "httpx-sync", "httpx-async", "aiohttp",
              "floor", "floor-pipelined16")
WORKLOADS = (pp.WORKLOADS_BY_NAME["sequential"], pp.WORKLOADS_BY_NAME["pipelined16"])
REQUESTS = 320  # per round: a multiple of the pipeline depth
ROUNDS = 10


@pytest.fixture(scope="module")
def nginx_url() -> Iterator[str]:
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (e.g. apt-get install nginx-light): "
                    "the pool benchmarks need it as their server")
    try:
        server = start_nginx()
    except NginxUnavailable as exc:
        pytest.skip(f"nginx did not start, so the pool benchmarks cannot run: {exc}")
    # Client and nginx on one CPU, as compare_pool.py does by default (see nginx_server.place).
    _, unpin = place(server, "same")
    try:
        yield server.url
    finally:
        unpin()
        server.stop()


# Only the (workload, contender) pairs that exist: pipelined16 is hopwire's and the floor's.
CASES = [
    pytest.param(w, key, id=f"{w.name}-{key}",
                 marks=pytest.mark.benchmark(group=f"{w.name}: {w.title} ({REQUESTS} per round)"))
    for w in WORKLOADS for key in CONTENDERS if w.name in pp.CONTENDERS[key].workloads
]


@pytest.mark.parametrize(("workload", "key"), CASES)
def test_pool(benchmark: Any, nginx_url: str, workload: pp.Workload, key: str) -> None:
    cls = pp.CONTENDERS[key]
    missing = cls.missing()
    if missing:
        pytest.skip(f"{key}: module {missing} is not installed")
    contender = cls(workload)
    contender.setup(nginx_url)
    try:
        contender.run(REQUESTS)  # gate and warm-up: raises pool_peers.Mismatch on a wrong answer
        benchmark.extra_info["requests_per_round"] = REQUESTS
        benchmark.pedantic(contender.run, args=(REQUESTS,), rounds=ROUNDS, warmup_rounds=1,
                           iterations=1)
    finally:
        contender.close()
