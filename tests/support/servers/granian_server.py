"""granian as a test peer: a Rust server (hyper's HTTP/1.1 and HTTP/2, rustls for TLS)
running the suite's ASGI app, an HTTP/2 implementation independent of nginx's and of
the `h2` library under hypercorn.

How: each `GranianProcess` is one ``python -m granian --interface asgi`` process on one
free port of 127.0.0.1 (granian binds one address per process), serving
`real_apps.asgi_app` (its routes, ``/slow`` and ``/info`` included), started like the
real servers of real.py (`real.spawn`: its own session, tied to this process's life),
ready once ``GET /`` is answered ``hello`` by granian, stopped by the pid started
(`real.stop_process`: SIGTERM, the group killed if it lingers). granian's master starts
one worker (``--workers 1``); both are in the process group.

`H2Granian` (the `h2_granian` fixtures) is two such processes with ``--http auto``:
`.h2c_url` (HTTP/1.1, and HTTP/2 with prior knowledge, told apart by the preface) and
`.tls_url` (rustls, ALPN h2 and http/1.1, TLS 1.2 and 1.3), `.ssl_context` as the
other HTTP/2 fixtures. The real-server matrix (real.py) runs it with ``--http 1``
through `command`.

What granian 2.8 did on the wire here (raw sockets and hyperframe):

HTTP/1.1
  - idle: no keep-alive timeout of its own; ``--http1-header-read-timeout`` (default
    30 s) runs while a kept-alive connection waits for the next request head, so it is
    the idle timeout: with 1000 ms the connection is closed (FIN, no answer) 1.0 s
    after the last answer;
  - HEAD: the head only (Content-Length as for GET), never the body;
  - pipelining: answers every pipelined request, in order (each answer a write of its
    own unless ``--http1-pipeline-flush``);
  - an unsized body is chunked on HTTP/1.1; an HTTP/1.0 request gets an HTTP/1.0
    answer, an unsized body close-delimited; 204 and 304 carry no Content-Length and
    keep the connection;
  - header names in lowercase (``content-length``, ``server: granian``).

HTTP/2 (compared with nginx 1.22 and hypercorn 0.18 on h2 4.x, seen the same way)
  - SETTINGS: MAX_CONCURRENT_STREAMS 200, INITIAL_WINDOW_SIZE 1048576, MAX_FRAME_SIZE
    16384, MAX_HEADER_LIST_SIZE 16777216, then its ACK of ours and a WINDOW_UPDATE of
    983041 on stream 0: a connection window of 1 MiB. nginx: 128 streams, 65536,
    MAX_FRAME_SIZE 16777215 and a connection window of 2^31-1; hypercorn: 100 streams
    (h2's defaults otherwise: 65535 windows, ENABLE_CONNECT_PROTOCOL 1, no
    WINDOW_UPDATE);
  - a small body goes in one DATA frame that carries END_STREAM (hypercorn ends every
    body with an empty DATA frame of its own); DATA frames of at most 16384 octets;
  - idle: never closes an idle connection by default (35 s observed) and sends no
    PING. With ``--http2-keep-alive-interval`` it PINGs every interval, and a PING not
    answered within ``--http2-keep-alive-timeout`` gets GOAWAY(NO_ERROR, last stream id
    = the newest stream it took) and a close. An idle connection of `Pool` reads
    nothing (no thread of its own) and answers no PING: granian closes it. nginx sends
    GOAWAY(NO_ERROR) and closes on its keepalive_timeout; hypercorn closes on its
    keep_alive_timeout without a GOAWAY.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .certs import TLSFiles
from .real import APPS_DIR, WorkdirServer, answers_hello, spawn, started, stop_process
from .real_apps import HELLO
from .stdlib import free_ports

START_TIMEOUT = 15.0  # seconds for granian to answer (it imports the app in its worker)
START_ATTEMPTS = 3  # a free port can be taken by someone else first
READY_POLL = 0.05


@dataclass(frozen=True)
class GranianOptions:
    """One granian process: the protocols it speaks and its timers."""

    http: str = "auto"  # "1", "2" or "auto" (HTTP/1.1 and h2c on one port; ALPN on TLS)
    tls: bool = False
    header_read_timeout_ms: int | None = None  # HTTP/1.1: also the idle timeout
    h2_keep_alive_interval_ms: int | None = None  # HTTP/2: granian PINGs this often
    h2_keep_alive_timeout: int | None = None  # seconds for its PING's answer


def command(port: int, options: GranianOptions = GranianOptions(),
            tls: TLSFiles | None = None) -> list[str]:
    """The argv of a granian process serving `real_apps:asgi_app` on 127.0.0.1:`port`
    (the caller puts real_apps.py's directory on PYTHONPATH)."""
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--http", options.http,
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-ws",
            "--loop", "asyncio", "--log-level", "warning", "--no-access-log"]
    if options.tls:
        assert tls is not None
        argv += ["--ssl-certificate", str(tls.certfile), "--ssl-keyfile", str(tls.keyfile),
                 "--ssl-protocol-min", "tls1.2"]
    if options.header_read_timeout_ms is not None:
        argv += ["--http1-header-read-timeout", str(options.header_read_timeout_ms)]
    if options.h2_keep_alive_interval_ms is not None:
        argv += ["--http2-keep-alive-interval", str(options.h2_keep_alive_interval_ms)]
    if options.h2_keep_alive_timeout is not None:
        argv += ["--http2-keep-alive-timeout", str(options.h2_keep_alive_timeout)]
    return argv + ["real_apps:asgi_app"]


class GranianError(RuntimeError):
    """granian did not start; the message carries the end of its log."""


class GranianProcess:
    """One granian process on a free port of 127.0.0.1 (see the module docstring)."""

    def __init__(self, workdir: Path, options: GranianOptions, tls: TLSFiles | None,
                 name: str) -> None:
        self.workdir = workdir
        self.options = options
        self.tls = tls
        self.name = name
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.options.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> None:
        for attempt in range(START_ATTEMPTS):
            (self.port,) = free_ports(1)
            try:
                self._launch()
                return
            except GranianError:
                if attempt + 1 == START_ATTEMPTS:
                    raise

    def _launch(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [APPS_DIR, env.get("PYTHONPATH")]))
        with open(self.log, "ab") as log:
            proc = self._proc = spawn(command(self.port, self.options, self.tls),
                                      cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        for _ in range(int(START_TIMEOUT / READY_POLL) + 1):  # and the deadline ends it sooner
            if proc.poll() is not None:
                self.stop()
                raise GranianError(f"granian exited with {proc.returncode}:\n{self.log_tail()}")
            if self._answers():
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(READY_POLL)
        self.stop()
        raise GranianError(f"granian did not answer within {START_TIMEOUT} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        """Whether granian (not another process that took the port) answers ``GET /``."""
        if self.options.http == "1":
            return answers_hello(self.port)
        from ..h2_client import h2_get
        context = self.tls.client_context() if self.tls is not None else None
        try:
            exchange = h2_get(self.url, ["/"], context, timeout=1.0)
        except OSError:
            return False
        (response,) = exchange.responses
        return (response is not None and response.status == 200 and response.body == HELLO
                and response.header(b"server") == b"granian")

    def stop(self) -> None:
        """Stop granian (`real.stop_process`). Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


class H2Granian(WorkdirServer):
    """granian speaking HTTP/2: `.h2c_url` (prior knowledge, and HTTP/1.1) and `.tls_url`
    (ALPN h2, http/1.1), each a process of its own with the same `options` (but TLS)."""

    def __init__(self, workdir: Path, tls: TLSFiles, options: GranianOptions) -> None:
        self.workdir = workdir
        self.tls = tls
        self.options = options
        self.h2c = GranianProcess(workdir, options, None, "h2c")
        tls_options = GranianOptions(**{**options.__dict__, "tls": True})
        self.tls_server = GranianProcess(workdir, tls_options, tls, "tls")

    @property
    def h2c_url(self) -> str:
        return self.h2c.url

    @property
    def tls_url(self) -> str:
        return self.tls_server.url

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """A new client context trusting the CA at each access, no ALPN set."""
        return self.tls.client_context()

    def start(self) -> None:
        self.h2c.start()
        self.tls_server.start()

    def stop(self) -> None:
        """Stop both processes. Idempotent."""
        try:
            self.h2c.stop()
        finally:
            self.tls_server.stop()

    def __repr__(self) -> str:
        return f"<H2Granian {self.h2c_url} {self.tls_url} {self.options}>"


def start_h2_granian(options: GranianOptions = GranianOptions()) -> H2Granian:
    """Start the two granian processes in a fresh work directory; raise GranianError if
    one does not answer (CertsUnavailable without trustme)."""
    workdir = Path(tempfile.mkdtemp(prefix="hopwire-h2-granian-"))
    return started(H2Granian(workdir, TLSFiles.create(workdir / "tls"), options))
