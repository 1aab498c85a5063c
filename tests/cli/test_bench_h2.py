"""`hopwire bench --http2-only`: the HTTP/2 part end to end, in tiny rounds (about 10 s).

One module-scoped run of the command (--quick --rounds 1) starts nginx with its
h2c and HTTP/1.1 listeners and the slow upstream, times one round of each
workload per contender, runs the head-of-line rounds and stops them; the tests
read its report and --json document. The numbers are not judged against the
targets (a test machine is too noisy), only that they are there and sane, and
that head-of-line blocking shows where it must: over HTTP/1.1 pipelining.

Without nginx (or its http_v2 module) those tests skip; the skip path itself is
tested without any server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hopwire.bench import http2, report, runner
from hopwire.bench import pool_peers as pp
from hopwire.bench.environment import environment
from hopwire.bench.nginx import nginx_binary, render_config, template
from hopwire.cli import main

WHY_NOT = http2.why_not("auto")
needs_h2_nginx = pytest.mark.skipif(WHY_NOT is not None, reason=f"HTTP/2 part cannot run: {WHY_NOT}")


@pytest.fixture(scope="module")
def h2_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any]]:
    path = tmp_path_factory.mktemp("h2bench") / "out.json"
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["bench", "--http2-only", "--quick", "--rounds", "1", "--no-progress",
                       "--placement", "free", "--json", str(path)])
    return status, out.getvalue(), json.loads(path.read_text())


@pytest.mark.slow  # a bench run, however tiny
@needs_h2_nginx
def test_every_contender_is_gated_and_timed(h2_run: tuple[int, str, dict[str, Any]]) -> None:
    status, _, doc = h2_run
    assert status == 0
    h2 = doc["http2"]
    assert set(doc) == {"environment", "command", "http2", "elapsed_s"}  # only this part
    assert list(h2["workloads"]) == [w.name for w in pp.H2_WORKLOADS]
    for name, result in h2["workloads"].items():
        for key, row in result["contenders"].items():
            cls = pp.H2_CONTENDERS[key]
            if name not in cls.workloads:
                assert row["status"] == "n/a"
            elif cls.missing():
                assert row["status"] == "not installed"
            else:
                assert row["status"] == "ok", (name, key, row)
                assert row["rounds"] == 1 and row["batch"] % result["concurrency"] == 0
                assert row["req_s"] > 0 and row["cpu_us"] > 0
    rows = h2["workloads"]["h2_multiplexed16"]["contenders"]
    assert rows["hopwire-h2-async"]["status"] == rows["hopwire-h1-async-pipelined"]["status"] == "ok"
    assert runner.hopwire_failures(doc) == []


@pytest.mark.slow  # a bench run, however tiny
@needs_h2_nginx
def test_head_of_line_blocks_http1_only(h2_run: tuple[int, str, dict[str, Any]]) -> None:
    hol = h2_run[2]["http2"]["head_of_line"]["contenders"]
    h1, h2 = hol["hopwire-h1-async-pipelined"], hol["hopwire-h2-async"]
    assert h1["status"] == h2["status"] == "ok"
    assert h1["fast_n"] == h1["rounds"] * http2.HOL_FAST > 0
    assert h1["fast_p50_ms"] >= 0.9 * http2.SLOW_MS  # behind the slow answer
    assert h2["fast_p50_ms"] < 0.5 * http2.SLOW_MS  # beside it
    assert h2["slow_ms"] >= 0.9 * http2.SLOW_MS


@pytest.mark.slow  # a bench run, however tiny
@needs_h2_nginx
def test_report_has_the_tables_and_the_targets(h2_run: tuple[int, str, dict[str, Any]]) -> None:
    _, out, doc = h2_run
    for needle in ("## HTTP/2:", "### h2_sequential:", "### h2_multiplexed16:", "### h2_head_of_line:",
                   "| hopwire-h2-async ", "| hopwire-h1-async-pipelined ", "fast p99 ms",
                   "### HTTP/2 summary", "### HTTP/2 figures and targets",
                   "client CPU per multiplexed request", "/ hopwire-h1-async-pipelined"):
        assert needle in out, needle
    assert "## Connection pools" not in out and "ns/msg (median)" not in out
    figures = {f["name"]: f for f in doc["http2"]["ratios"]}
    ratio = figures["hopwire-h2-async / hopwire-h1-async-pipelined, req/s (multiplexed16)"]
    assert ratio["target"] == http2.RATIO_TARGET and ratio["value"] > 0
    assert "×" not in report.report(doc, report.Symbols(utf8=False))


# -- the parts that need no run -------------------------------------------------------------

def test_skipped_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = http2.run(server="embedded")
    assert set(doc) == {"skipped", "elapsed_s"} and "embedded server" in doc["skipped"]
    text = report.report({"environment": environment(), "http2": doc, "elapsed_s": 0.1})
    assert "## HTTP/2:" in text and "skipped   the HTTP/2 part needs nginx" in text
    assert runner.hopwire_failures({"http2": doc}) == []

    monkeypatch.setattr("hopwire.bench.nginx.nginx_binary", lambda: None)
    assert "nginx is not installed" in str(http2.why_not("auto"))
    monkeypatch.setattr("hopwire.bench.nginx.nginx_binary", lambda: "/usr/sbin/nginx")
    monkeypatch.setattr(http2, "nginx_has_http2", lambda binary: False)
    reason = http2.why_not("nginx")
    assert reason is not None and "http_v2_module" in reason
    steps: list[int] = []
    doc = http2.run(step=lambda label, done: steps.append(done))
    assert "http_v2_module" in doc["skipped"]
    assert sum(steps) == http2.steps(list(http2.WORKLOADS), http2.FULL)  # the bar still ends at 100%


def test_plan_for_http2() -> None:
    names = [w.name for w in http2.WORKLOADS]
    plan = runner.make_plan(http2_only=True, quick=True)
    assert not plan.parser_workloads and not plan.pool_workloads and not plan.proxy_workloads
    assert [w.name for w in plan.h2_workloads] == names
    assert plan.h2_settings == http2.QUICK and plan.h2_hol == http2.HOL_QUICK
    assert [w.name for w in runner.make_plan().h2_workloads] == names  # a default run has the part
    assert not runner.make_plan(pool_only=True).h2_workloads
    plan = runner.make_plan(workloads=["h2_head_of_line"], rounds=2)
    assert [w.name for w in plan.h2_workloads] == ["h2_head_of_line"] and not plan.pool_workloads
    assert plan.steps() == 2
    for bad in ({"http2_only": True, "proxy": True}, {"http2_only": True, "pool_only": True},
                {"http2_only": True, "workloads": ["sequential"]}):
        with pytest.raises(ValueError):
            runner.make_plan(**bad)  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        main(["bench", "--http2-only", "--parsers-only"])


def test_h2_template_has_both_listeners_and_the_slow_route() -> None:
    text = template(http2.TEMPLATE)
    for needle in ("listen 127.0.0.1:@H2C_PORT@ http2", "listen 127.0.0.1:@PORT@ backlog",
                   "http2_max_concurrent_streams 128;", "keepalive_requests 10000000;",
                   "worker_processes 1;", "location = /slow", "/delay/@SLOW_MS@"):
        assert needle in text, needle
    assert not [line for line in text.splitlines() if "http2 on;" in line and not line.startswith("#")]
    binary = nginx_binary()
    if binary is not None:
        conf = render_config(binary, 8080, http2.TEMPLATE, {"H2C_PORT": "8081", "SLOW_PORT": "8082",
                                                             "SLOW_MS": "50"})
        assert "listen 127.0.0.1:8081 http2" in conf and "@" not in conf
        with pytest.raises(ValueError, match="SLOW_PORT"):
            render_config(binary, 8080, http2.TEMPLATE, {"H2C_PORT": "8081", "SLOW_MS": "50"})


def test_h2_contenders_say_their_protocol() -> None:
    assert set(pp.H2_CONTENDERS).isdisjoint(pp.CONTENDERS)  # the pool part stays HTTP/1.1
    for key, cls in pp.H2_CONTENDERS.items():
        assert cls.protocol in ("h2c", "http/1.1"), key
        assert cls.workloads <= pp.H2_ALL, key
    assert all(hasattr(pp.H2_CONTENDERS[k], "afetch") for k in http2.HOL_CONTENDERS)
    with pytest.raises(pp.Mismatch, match="HTTP/1.1"):
        pp.check_protocol("x", "HTTP/1.1", "HTTP/2")
    assert Path(http2.__file__).with_name(http2.TEMPLATE).exists()
