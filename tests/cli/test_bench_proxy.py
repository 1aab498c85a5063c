"""`hopwire bench --proxy`: the proxy benchmark end to end, in tiny rounds (a few seconds).

One module-scoped run starts the origin (nginx, else the embedded server),
nginx as a reverse proxy (when installed) and two `hopwire proxy` processes,
times one round of each workload on each route, and stops them; the tests
read its document. The numbers are not judged (a test machine is too noisy
for that), only that they are there and sane: positive rates, CPU per
request for each process, a proxy adding latency rather than removing it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hopwire.cli import main
from hopwire.bench import proxies, report, runner
from hopwire.bench.environment import environment
from hopwire.bench.nginx import PROXY_TEMPLATE, nginx_binary, render_config, template
from hopwire.bench.pool_peers import Mismatch

TINY = proxies.Settings(rounds=1, batch_s=0.03, warmup_s=0.02, budget_s=20.0)
NGINX = nginx_binary() is not None


@pytest.fixture(scope="module")
def proxy_doc() -> dict[str, Any]:
    return proxies.run(settings=TINY, placement="free")


@pytest.mark.slow  # a bench run, however tiny
def test_every_route_is_gated_and_timed(proxy_doc: dict[str, Any]) -> None:
    assert set(proxy_doc["workloads"]) == {w.name for w in proxies.WORKLOADS}
    for name, result in proxy_doc["workloads"].items():
        rows = result["routes"]
        assert list(rows) == list(proxies.DEFAULT_ROUTES)
        for key, row in rows.items():
            if key == "nginx-proxy" and not NGINX:
                assert row["status"] == "not installed"
                continue
            assert row["status"] == "ok", (name, key, row)
            assert row["rounds"] == 1 and row["batch"] % (result["connections"] * result["depth"]) == 0
            assert row["req_s_min"] <= row["req_s"] <= row["req_s_max"] and row["req_s"] > 0
            assert row["cpu_us"] > 0 and row.get("origin_cpu_us", 1) > 0
            assert ("proxy_cpu_us" in row) == (key != "direct")
            assert row.get("proxy_cpu_us", 1) > 0
    assert proxies.hopwire_failed(proxy_doc) == []


@pytest.mark.slow  # a bench run, however tiny
def test_latency_added_by_a_proxy(proxy_doc: dict[str, Any]) -> None:
    rows = proxy_doc["workloads"]["sequential"]["routes"]
    assert "added_p50_us" not in rows["direct"]
    row = rows["hopwire-proxy"]
    assert 0 < row["p50_us"] <= row["p99_us"]
    assert row["added_p50_us"] > 0  # a hop more: a Python proxy adds far more than the noise
    if NGINX:
        assert rows["hopwire-proxy"]["vs_ceiling"] > 0 and rows["nginx-proxy"]["vs_ceiling"] == 1.0


@pytest.mark.slow  # a bench run, however tiny
def test_report_and_json(proxy_doc: dict[str, Any]) -> None:
    doc = {"environment": environment(), "command": "hopwire bench --proxy", "proxy": proxy_doc,
           "elapsed_s": 1.0}
    text = report.report(doc, report.Symbols(utf8=True))
    for needle in ("## Proxy: GET /", "  origin    ", "  proxies   ", "### sequential:", "### concurrent32:",
                   "### pipelined16:", "added p50 µs", "proxy µs/req", "of nginx-proxy", "| hopwire-proxy ",
                   "### summary", "added µs"):
        assert needle in text, needle
    assert "## Connection pools" not in text and "ns/msg" not in text
    assert "×" not in report.report(doc, report.Symbols(utf8=False))
    assert json.loads(json.dumps(doc))["proxy"]["workloads"]["sequential"]["routes"]["direct"]["status"] == "ok"
    assert runner.hopwire_failures(doc) == []


# -- the parts that need no run -------------------------------------------------------------

@pytest.fixture
def no_via_origin() -> Iterator[str]:
    """An origin answering 200 "Hello, world!" without Via: not a hopwire proxy."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(5)

    def serve() -> None:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            while conn.recv(65536):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/"
    srv.close()
    thread.join(5)


def test_the_gate_wants_hopwire_via(no_via_origin: str) -> None:
    client = proxies.Client(no_via_origin, 1, 1)
    try:
        proxies.gate(client, proxies.ROUTES_BY_KEY["nginx-proxy"], proxies.WORKLOADS_BY_NAME["sequential"])
        with pytest.raises(Mismatch, match="Via"):
            proxies.gate(client, proxies.ROUTES_BY_KEY["hopwire-proxy"], proxies.WORKLOADS_BY_NAME["sequential"])
    finally:
        client.close()


def test_plan_for_proxy() -> None:
    plan = runner.make_plan(proxy=True, quick=True)
    assert not plan.parser_workloads and not plan.pool_workloads
    assert [w.name for w in plan.proxy_workloads] == runner.PROXY_WORKLOADS
    assert plan.proxy_settings == proxies.QUICK
    plan = runner.make_plan(proxy=True, workloads=["sequential"], rounds=2)
    assert [w.name for w in plan.proxy_workloads] == ["sequential"] and plan.proxy_settings.rounds == 2
    assert plan.steps() == 2 + 2
    for bad in ({"workloads": ["tiny_get"]}, {"pool_only": True}, {"rounds": 0}):
        with pytest.raises(ValueError):
            runner.make_plan(proxy=True, **bad)
    assert not runner.make_plan().proxy_workloads  # without --proxy: the parser and pool parts


def test_proxy_excludes_the_other_parts_and_the_plot(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--proxy", "--pool-only"])
    assert exc.value.code == 2
    assert main(["bench", "--proxy", "--plot", "x.png"]) == 2
    assert "--plot" in capsys.readouterr().err


def test_nginx_proxy_template_keeps_upstream_connections() -> None:
    text = template(PROXY_TEMPLATE)
    for needle in ("proxy_http_version 1.1;", 'proxy_set_header Connection "";', "keepalive @KEEPALIVE@;",
                   "server 127.0.0.1:@UPSTREAM_PORT@;", "worker_processes 1;"):
        assert needle in text, needle
    if NGINX:
        binary = nginx_binary()
        assert binary is not None
        conf = render_config(binary, 8080, PROXY_TEMPLATE, {"UPSTREAM_PORT": "8081", "KEEPALIVE": "32"})
        assert "server 127.0.0.1:8081;" in conf and "keepalive 32;" in conf and "@" not in conf
        with pytest.raises(ValueError, match="KEEPALIVE"):
            render_config(binary, 8080, PROXY_TEMPLATE, {"UPSTREAM_PORT": "8081"})
        assert "@" not in render_config(binary, 8080)  # the origin's template: as before
