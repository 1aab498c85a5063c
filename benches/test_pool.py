"""pytest-benchmark: the sequential and pipelined pool workloads against one local server.

    PYTHONPATH=src .venv/bin/python -m pytest benches/test_pool.py

One benchmark round = `run(REQUESTS)`: REQUESTS GETs of "/" on the workload's
connection, every response checked (200 "Hello, world!"), so the times
pytest-benchmark reports cover REQUESTS requests (divide by it for one; the
number is in each benchmark's extra_info). Grouped by workload. The
interleaved comparison with req/s, CPU per request and ratios, and the
concurrent workloads, are in `hopwire bench` (or benches/compare_pool.py).

The server is nginx when it is installed, else hopwire's embedded server in a
process of its own (`hopwire.bench.target.start_server("auto")`); the pytest
process and the server share one CPU while the module runs (the benchmarks'
default placement). A contender whose library is missing is skipped by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pytest_benchmark")

from hopwire.bench import pool_peers as pp  # noqa: E402
from hopwire.bench.target import ServerUnavailable, place, start_server  # noqa: E402

CONTENDERS = ("hopwire-sync", "hopwire-async", "hopwire-async-uvloop", "urllib3", "httpx-sync",
              "httpx-async", "aiohttp", "floor", "floor-asyncio-uvloop", "floor-pipelined16")
WORKLOADS = (pp.WORKLOADS_BY_NAME["sequential"], pp.WORKLOADS_BY_NAME["pipelined16"])
REQUESTS = 320  # per round: a multiple of the pipeline depth
ROUNDS = 10


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    try:
        server, _ = start_server("auto")
    except ServerUnavailable as exc:
        pytest.skip(f"no server for the pool benchmarks: {exc}")
    # Client and server on one CPU, as `hopwire bench` does by default (see target.place).
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
def test_pool(benchmark: Any, server_url: str, workload: pp.Workload, key: str) -> None:
    cls = pp.CONTENDERS[key]
    missing = cls.missing()
    if missing:
        pytest.skip(f"{key}: module {missing} is not installed")
    contender = cls(workload)
    contender.setup(server_url)
    try:
        contender.run(REQUESTS)  # gate and warm-up: raises pool_peers.Mismatch on a wrong answer
        benchmark.extra_info["requests_per_round"] = REQUESTS
        benchmark.pedantic(contender.run, args=(REQUESTS,), rounds=ROUNDS, warmup_rounds=1,
                           iterations=1)
    finally:
        contender.close()
