"""The `hopwire` command: --version, get (bodies, the -v story, pipelining, errors), and bench.

`hopwire bench --quick` takes a minute, too long for the suite: the bench
machinery is run here with the smallest budget that still goes through every
stage (one round; the parser part on two workloads, the pool part on two
against the embedded server started as `hopwire serve` in a child process),
and the shapes of its report and JSON are checked, not its numbers.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hopwire
from hopwire.cli import main
from hopwire.server.embedded import HELLO, ServerThread
from hopwire.bench import parser_peers, parsers, pools, report, runner
from hopwire.bench import pool_peers as pp
from hopwire.bench.nginx import template
from hopwire.bench.progress import Progress
from hopwire.bench.workloads import by_name

STORY = re.compile(r"GET (\S+) -> 200 OK, (\d+) bytes, connection #(\d+) \((new|reused)\)"
                   r"(, pipelined behind (\d+))?(, replayed)?, \d+\.\d ms$")


def run_cli(capsysbinary: pytest.CaptureFixture[bytes], *argv: str) -> tuple[int, bytes, str]:
    status = main(list(argv))
    out, err = capsysbinary.readouterr()
    return status, out, err.decode("utf-8")


# -- --version ---------------------------------------------------------------------------

def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"hopwire {hopwire.__version__}"


def test_python_dash_m_hopwire_version() -> None:
    root = str(Path(hopwire.__file__).resolve().parent.parent)  # the same hopwire, installed or not
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-m", "hopwire", "--version"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert hopwire.__version__ in out.stdout


# -- get ---------------------------------------------------------------------------------

def test_get_prints_the_bodies_in_order(capsysbinary: pytest.CaptureFixture[bytes],
                                        embedded: ServerThread) -> None:
    status, out, err = run_cli(capsysbinary, "get", embedded.url, embedded.url + "bytes/5")
    assert (status, out, err) == (0, HELLO + b"abcde", "")


def test_get_verbose_tells_the_connection_story(capsysbinary: pytest.CaptureFixture[bytes],
                                                embedded: ServerThread) -> None:
    urls = [embedded.url, embedded.url + "bytes/20", embedded.url + "chunked/1"]
    status, out, err = run_cli(capsysbinary, "get", "-v", *urls)
    assert status == 0 and out == HELLO + b"abcdefghijklmnopqrst" + hopwire.server.embedded.pattern(1024)
    lines = err.splitlines()
    assert len(lines) == 3, err
    matches = [STORY.match(line) for line in lines]
    assert all(matches), err
    assert [(m.group(1), m.group(2), m.group(3), m.group(4)) for m in matches if m] == [
        (urls[0], "13", "1", "new"), (urls[1], "20", "1", "reused"), (urls[2], "1024", "1", "reused")]


def test_get_pipelines_concurrent_requests_on_one_connection(capsysbinary: pytest.CaptureFixture[bytes],
                                                             embedded: ServerThread) -> None:
    # The first answer proves the connection persistent; the second is slow, so the
    # requests queued behind it go out on the same connection before it is answered.
    urls = [embedded.url + "bytes/1", embedded.url + "delay/200"] + [
        embedded.url + f"bytes/{n}" for n in range(3, 9)]
    status, out, err = run_cli(capsysbinary, "get", "-v", "--pipeline", "8", *urls)
    assert status == 0
    assert out == b"a" + HELLO + b"".join(hopwire.server.embedded.pattern(n) for n in range(3, 9))  # in order
    matches = [STORY.match(line) for line in err.splitlines()]
    assert len(matches) == 8 and all(matches), err
    assert {m.group(3) for m in matches if m} == {"1"}  # --connections defaults to 1 when pipelining
    assert any(m.group(6) for m in matches if m), f"nothing was pipelined:\n{err}"


def test_get_with_several_connections_keeps_the_order(capsysbinary: pytest.CaptureFixture[bytes],
                                                      embedded: ServerThread) -> None:
    urls = [embedded.url + f"bytes/{n}" for n in (3, 1, 2)]
    status, out, _ = run_cli(capsysbinary, "get", "--connections", "3", *urls)
    assert (status, out) == (0, b"abc" + b"a" + b"ab")


def test_get_http2_multiplexes_on_one_connection(capsysbinary: pytest.CaptureFixture[bytes],
                                                 h2_fault_server: Any) -> None:
    server = h2_fault_server()
    urls = [server.url + "/slow?ms=200"] + [server.url + f"/{n}" for n in range(4)]
    status, out, err = run_cli(capsysbinary, "get", "-v", "--http2=prior-knowledge", *urls)
    assert status == 0
    assert out.count(b"stream ") == 5  # every body, in the order of the URLs
    lines = err.splitlines()
    assert len(lines) == 5 and all("HTTP/2 stream" in line for line in lines), err
    assert all("connection #1 " in line for line in lines), err
    assert server.connections == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_get_failure_prints_the_typed_error_and_fails(capsysbinary: pytest.CaptureFixture[bytes],
                                                      embedded: ServerThread) -> None:
    bad = f"http://127.0.0.1:{_closed_port()}/"
    status, out, err = run_cli(capsysbinary, "get", embedded.url, bad)
    assert status == 1 and out == HELLO
    assert err.startswith(f"GET {bad} -> ConnectError: ")


def test_get_invalid_url_is_a_local_protocol_error(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    status, _, err = run_cli(capsysbinary, "get", "ftp://example.com/")
    assert status == 1 and "LocalProtocolError" in err


def test_get_refuses_a_pipeline_of_zero(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    status, _, err = run_cli(capsysbinary, "get", "--pipeline", "0", "http://127.0.0.1/")
    assert status == 2 and "--pipeline" in err


# -- bench: plan, progress ---------------------------------------------------------------

def test_plan_splits_workloads_between_the_parts() -> None:
    plan = runner.make_plan(workloads=["tiny_get", "sequential"], rounds=2)
    assert [w.name for w in plan.parser_workloads] == ["tiny_get"]
    assert [w.name for w in plan.pool_workloads] == ["sequential"]
    assert plan.parser_settings.rounds == plan.pool_settings.rounds == 2
    assert runner.make_plan(quick=True).parser_settings == parsers.QUICK
    assert not runner.make_plan(parsers_only=True).pool_workloads
    for bad in ({"workloads": ["nope"]}, {"parsers_only": True, "workloads": ["sequential"]},
                {"rounds": 0}):
        with pytest.raises(ValueError):
            runner.make_plan(**bad)  # type: ignore[arg-type]


def test_bench_rejects_an_unknown_workload(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--workload", "nope"])
    assert exc.value.code == 2


def test_progress_without_a_terminal_writes_a_line_per_topic() -> None:
    stream = io.StringIO()
    bar = Progress(10, stream)
    for label in ("parsers: a round 1/3", "parsers: a round 2/3", "pools: b gate", "pools: b round 1/3"):
        bar.step(label)
    bar.close()
    assert stream.getvalue().splitlines() == ["[ 10%] parsers: a round 1/3", "[ 30%] pools: b gate"]
    quiet = io.StringIO()
    Progress(3, quiet, enabled=False).step("x")
    assert quiet.getvalue() == ""


# -- bench: the parser part ----------------------------------------------------------------

TINY = parsers.Settings(rounds=1, batch_ms=2.0, budget_s=30.0)


@pytest.fixture(scope="module")
def parser_doc() -> dict[str, Any]:
    return parsers.run([by_name("tiny_get"), by_name("chunked_10k")], TINY)


@pytest.mark.slow  # a bench run, however tiny
def test_parser_part_gates_and_times_every_installed_contender(parser_doc: dict[str, Any]) -> None:
    twin = "hopwire_c" if hopwire.EXTENSIONS_ACTIVE else "hopwire_py"
    assert parser_doc["baseline"] == twin
    for name in ("tiny_get", "chunked_10k"):
        result = parser_doc["workloads"][name]
        assert result["rounds"] == 1 and result["excluded"] == {}
        timed = result["contenders"]
        assert twin in timed and "hopwire_py" in timed
        for stats in timed.values():
            assert stats["median_ns"] > 0 and stats["msgs_per_s"] > 0 and stats["cpu_us"] >= 0
            assert len(stats["samples_ns"]) == 1
        assert timed[twin]["vs_baseline"] == 1.0
    for key, c in parser_doc["contenders"].items():  # an uninstalled peer is named, never an error
        assert "skipped" not in c or key in ("hopwire_c", "httptools", "aiohttp_c", "aiohttp_py", "h11")
    assert parsers.hopwire_failed(parser_doc) == []


def test_a_peer_that_is_not_installed_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser_peers, "_import", lambda name: None)
    assert parser_peers._httptools().skip_reason.startswith("not installed")
    assert parser_peers._h11().skip_reason.startswith("not installed")
    assert parser_peers._aiohttp("C").skip_reason.startswith("not installed")


@pytest.mark.slow  # a bench run, however tiny
def test_a_contender_that_parses_less_is_not_timed() -> None:
    honest = parser_peers.contenders()[1]  # hopwire Python
    sloppy = parser_peers.Contender("sloppy", "sloppy", "0", request=lambda data: [
        (b"GET", b"/", [], b"")])  # forgets the headers
    doc = parsers.run([by_name("tiny_get")], TINY, contenders=[honest, sloppy])
    result = doc["workloads"]["tiny_get"]
    assert "sloppy" not in result["contenders"] and "hopwire_py" in result["contenders"]
    assert result["excluded"]["sloppy"] == "0 headers, expected 1"
    text = report.report({"environment": {"machine": {"cpu": "x", "logical_cpus": 1, "os": "y"},
                                          "python": "z", "hopwire": {"version": "0",
                                                                     "extensions_active": False,
                                                                     "HOPWIRE_NO_EXTENSIONS": "1"}},
                          "parsers": doc})
    assert "sloppy: excluded, its output differs: 0 headers, expected 1" in text


# -- bench: the pool part, against the embedded server ----------------------------------------

@pytest.fixture(scope="module")
def pool_doc() -> dict[str, Any]:
    missing = pp.Urllib3.requires
    pp.Urllib3.requires = ("hopwire_test_no_such_module",)  # as if urllib3 were not installed
    try:
        settings = pools.Settings(rounds=1, batch_s=0.03, warmup_s=0.02, budget_s=30.0)
        return pools.run([pp.WORKLOADS_BY_NAME["sequential"], pp.WORKLOADS_BY_NAME["pipelined16"]],
                         ["hopwire-sync", "hopwire-async", "http.client", "urllib3"],
                         settings=settings, server="embedded", placement="free")
    finally:
        pp.Urllib3.requires = missing


@pytest.mark.slow  # a bench run, however tiny
def test_pool_part_runs_against_the_embedded_server(pool_doc: dict[str, Any]) -> None:
    assert pool_doc["server"].startswith(f"hopwire {hopwire.__version__} embedded server")
    sequential = pool_doc["workloads"]["sequential"]["contenders"]
    for key in ("hopwire-sync", "hopwire-async", "http.client"):
        row = sequential[key]
        assert row["status"] == "ok", row
        assert row["req_s"] > 0 and row["cpu_us"] > 0 and row["rounds"] == 1
        assert row["req_s_min"] <= row["req_s"] <= row["req_s_max"]
    assert sequential["urllib3"]["status"] == "not installed"
    pipelined = pool_doc["workloads"]["pipelined16"]["contenders"]
    assert pipelined["hopwire-sync"]["status"] == pipelined["hopwire-async"]["status"] == "ok"
    assert pipelined["http.client"]["status"] == "n/a"
    assert runner.hopwire_failures({"pools": pool_doc}) == []


@pytest.mark.slow  # a bench run, however tiny
def test_report_and_json_shapes(parser_doc: dict[str, Any], pool_doc: dict[str, Any],
                                tmp_path: Path) -> None:
    doc = {"environment": runner.environment(), "command": "hopwire bench --test",
           "parsers": parser_doc, "pools": pool_doc, "elapsed_s": 1.0}
    text = report.report(doc, report.Symbols(utf8=True))
    assert text.startswith("hopwire bench: hopwire against the HTTP/1.x libraries installed here")
    for needle in ("  machine   ", "  python    ", "hopwire.EXTENSIONS_ACTIVE = ", "  command   hopwire bench",
                   "### tiny_get: tiny GET (1 header)", "### chunked_10k:", "| hopwire Python |",
                   "ns/msg (median)", "spread (min–max)", "msgs/s", "CPU µs/msg", "### summary",
                   "### sequential:", "### pipelined16:", "req/s (median)", "CPU µs/req", "vs hopwire",
                   "| urllib3 ", "not installed", "embedded server"):
        assert needle in text, needle
    table = [line for line in text.splitlines() if line.startswith("| hopwire-sync ")][0]
    assert table.count("|") == 9  # eight columns
    ascii_text = report.report(doc, report.Symbols(utf8=False))
    assert "×" not in ascii_text and "µ" not in ascii_text
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    assert json.loads(path.read_text())["pools"]["workloads"]["sequential"]["contenders"][
        "hopwire-sync"]["status"] == "ok"


@pytest.mark.slow  # a bench run, however tiny
@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                    reason="matplotlib is not installed (pip install 'hopwire[plot]')")
def test_plot_draws_a_png(parser_doc: dict[str, Any], pool_doc: dict[str, Any], tmp_path: Path) -> None:
    from hopwire.bench.plot import plot
    path = tmp_path / "chart.png"
    plot({"environment": runner.environment(), "parsers": parser_doc, "pools": pool_doc}, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # a bench run, however tiny
def test_bench_command_writes_the_report_and_json(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    status = main(["bench", "--quick", "--workload", "tiny_get", "--rounds", "1", "--no-progress",
                   "--json", str(path)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "### tiny_get: tiny GET (1 header)" in out and f"results written to {path}" in out
    assert "## Connection pools" not in out  # a parser workload only: no server was started
    doc = json.loads(path.read_text())
    assert set(doc) == {"environment", "command", "parsers", "elapsed_s"}
    assert doc["command"].startswith("hopwire bench --quick --workload tiny_get")
    assert doc["environment"]["hopwire"]["extensions_active"] == hopwire.EXTENSIONS_ACTIVE


def test_bench_plot_without_matplotlib_says_how_to_get_it(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["bench", "--plot", "x.png", "--workload", "tiny_get"]) == 2
    assert "pip install 'hopwire[plot]'" in capsys.readouterr().err


def test_nginx_config_template_ships_with_the_package() -> None:
    text = template()
    assert "@PORT@" in text and 'return 200 "Hello, world!"' in text and "worker_processes 1;" in text
