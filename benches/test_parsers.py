"""pytest-benchmark suite: every contender on every workload, grouped by workload.

    PYTHONPATH=src .venv/bin/python -m pytest benches -q

One benchmark = one `parse(workload_bytes)` call (fresh parser, whole buffer,
every message collected; see hopwire.bench.parser_peers). pytest-benchmark
reports time per call, so the pipelined workload's figures cover 100
messages; per-message numbers and ratios come from `hopwire bench` (or
benches/compare.py).

Correctness gate first: a contender whose output differs from the expected
messages is not timed. For a peer that is a skip carrying the difference
(shown by -ra); for a hopwire twin it is a failure. Unavailable contenders
(e.g. hopwire C before `setup.py build_ext --inplace`) are skipped.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_benchmark")

from hopwire.bench import parser_peers as peers  # noqa: E402
from hopwire.bench.workloads import WORKLOADS  # noqa: E402

CONTENDERS = peers.contenders()
_GATE: dict = {}


def _gate(contender, workload):
    key = (contender.key, workload.name)
    if key not in _GATE:
        _GATE[key] = peers.check(contender, workload)
    return _GATE[key]


@pytest.mark.parametrize("contender", CONTENDERS, ids=[c.key for c in CONTENDERS])
@pytest.mark.parametrize("workload", [
    pytest.param(w, id=w.name, marks=pytest.mark.benchmark(group=f"{w.name}: {w.title}"))
    for w in WORKLOADS
])
def test_parse(benchmark, workload, contender):
    if not contender.available:
        pytest.skip(contender.skip_reason)
    problem = _gate(contender, workload)
    if problem is not None:
        message = f"{contender.label} output differs on {workload.name}: {problem}"
        if contender.key.startswith("hopwire"):
            pytest.fail(message)
        pytest.skip(f"excluded, not timed: {message}")
    benchmark.extra_info["messages_per_call"] = workload.messages
    benchmark.extra_info["bytes"] = len(workload.data)
    result = benchmark(contender.parser_for(workload), workload.data)
    assert len(result) == workload.messages
