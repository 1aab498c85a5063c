"""The fan-out benchmark (benches/fanout.py) and the uvloop rows of the pool part, made small.

    PYTHONPATH=src .venv/bin/python -m pytest benches/test_fanout.py

Not timings: that every contender runs and checks its answers against the
embedded server, that a measurement which hangs ends as a failure row within
its limit, and that without uvloop its rows are "not installed" (fan-out and
`hopwire bench`'s pool part) and compare_pool's uvloop targets "not measured".
"""

from __future__ import annotations

import importlib.util
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

import compare_pool
import fanout
from hopwire.bench import pool_peers as pp
from hopwire.bench import pools
from hopwire.bench.report import Symbols
from hopwire.bench.target import EmbeddedProcess


def _no_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "uvloop" else real(name, *a))


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = EmbeddedProcess()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections (in its backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/"


def test_every_contender_runs_and_checks(server_url: str) -> None:
    doc = fanout.run(rounds=1, sizes=(20, 100), threads=(5, 20), per_thread=3, url=server_url)
    rows = doc["contenders"]
    assert list(rows) == list(fanout.CONTENDERS)
    for key, row in rows.items():
        if fanout.CONTENDERS[key].missing():
            assert row["status"] == "not installed"
            continue
        assert row["status"] == "ok", (key, row)
        small, large = fanout._pair(doc, key)
        for size in (small, large):
            got = row["sizes"][str(size)]
            assert got["failures"] == 0 and got["seconds"] > 0
            assert got["requests"] == size * (3 if row["unit"] == "threads" else 1)
        assert len(row["sizes"][str(small)]["samples"]) == fanout.SMALL_REPEATS
    text = fanout.report(doc)
    assert "targets (same run):" in text and "| hopwire-async " in text and "hopwire-sync: time(" in text
    assert "### fan-out" in text


def test_a_measurement_that_hangs_is_a_failure_row(silent_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "MEASURE_TIMEOUT", 0.5)
    started = time.monotonic()
    doc = fanout.run(["hopwire-async", "hopwire-sync"], rounds=1, sizes=(20, 100), threads=(5, 20),
                     per_thread=1, url=silent_url)
    assert time.monotonic() - started < 30
    for key in ("hopwire-async", "hopwire-sync"):
        row = doc["contenders"][key]
        assert row["status"] == "failed" and "not done within 0.5 s" in row["detail"], row
    text = fanout.report(doc)
    assert "FAILED hopwire-async: first run: Hung:" in text
    assert "hopwire-async / aiohttp" not in text  # aiohttp did not run: no such target
    assert "hopwire-async: time(100 tasks) / time(20 tasks): not measured" in text


def test_without_uvloop_its_rows_are_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_uvloop(monkeypatch)
    doc = fanout.run(["hopwire-async-uvloop", "aiohttp-uvloop"], rounds=1, threads=(1, 2),
                     url="http://127.0.0.1:9/")  # nothing connects: nothing is installed
    for row in doc["contenders"].values():
        assert row["status"] == "not installed" and row["detail"] == "module uvloop not installed"
    assert doc["versions"]["uvloop"] == "not installed"
    settings = pools.Settings(rounds=1, batch_s=0.01, warmup_s=0.01, budget_s=5.0)
    pdoc = pools.run([pp.WORKLOADS_BY_NAME["sequential"]], ["hopwire-async-uvloop", "floor-asyncio-uvloop"],
                     settings=settings, url="http://127.0.0.1:9/")
    rows = pdoc["workloads"]["sequential"]["contenders"]
    assert rows["hopwire-async-uvloop"] == {"status": "not installed", "detail": "module uvloop not installed"}
    assert rows["floor-asyncio-uvloop"]["status"] == "not installed"
    found = {what: (value, why) for what, value, _, why in compare_pool.targets(pdoc)}
    value, why = found["hopwire-async-uvloop sequential / hopwire-sync"]
    assert value is None and "hopwire-async-uvloop not installed" in why


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed")
def test_pool_part_runs_on_uvloop(server_url: str) -> None:
    settings = pools.Settings(rounds=1, batch_s=0.02, warmup_s=0.01, budget_s=20.0)
    keys = ["hopwire-sync", "hopwire-async", "hopwire-async-uvloop", "floor-asyncio", "floor-asyncio-uvloop"]
    doc: dict[str, Any] = pools.run([pp.WORKLOADS_BY_NAME["sequential"], pp.WORKLOADS_BY_NAME["pipelined16"]],
                                    keys, settings=settings, url=server_url)
    seq = doc["workloads"]["sequential"]["contenders"]
    assert all(seq[k]["status"] == "ok" for k in keys), seq
    assert doc["workloads"]["pipelined16"]["contenders"]["hopwire-async-uvloop"]["status"] == "ok"
    assert doc["versions"]["hopwire-async-uvloop"] == importlib.import_module("uvloop").__version__
    measured = [what for what, value, _, _ in compare_pool.targets(doc) if value is not None]
    assert "hopwire-async-uvloop sequential / floor-asyncio-uvloop (same loop: uvloop)" in measured
    assert "hopwire-async-uvloop sequential / hopwire-sync" in measured
    from hopwire.bench.report import pool_table
    table = "\n".join(pool_table("sequential", doc["workloads"]["sequential"], Symbols(utf8=False)))
    assert "| hopwire-async-uvloop | uvloop " in table
