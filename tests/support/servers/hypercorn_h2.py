"""hypercorn speaking HTTP/2, for the pool's HTTP/2 tests: an independently written h2
server (on the `h2` library) with habits of its own.

How: one hypercorn process (the `real_apps.asgi_app` app, with ``/slow?ms=N``, ``/info``,
``/echo``, ``/bytes/N``: real_apps.py) started like the real servers of real.py (its own
session, tied to this process's life, stopped by pid then group), with a TOML config
written into its work directory:

- ``insecure_bind`` 127.0.0.1:P: `.h2c_url`. HTTP/1.1 and HTTP/2 with prior knowledge on
  the same port (hypercorn tells them apart by the preface, RFC 9113 §3.3);
- ``bind`` 127.0.0.1:Q with ``certfile``/``keyfile`` (a trustme CA's certificate for
  127.0.0.1 and localhost): `.tls_url`, ALPN h2 and http/1.1;
- `.ssl_context`: a new client context trusting the CA at each access, no ALPN set.

Limits (`HypercornLimits`; the `h2_hypercorn_limited` fixture sets them low):

- ``h2_max_concurrent_streams``: advertised in SETTINGS, enforced by h2 itself: a stream
  over it is a *connection* error (h2's TooManyStreamsError: GOAWAY PROTOCOL_ERROR), not
  the REFUSED_STREAM of RFC 9113 §5.1.2 that nginx sends;
- ``keep_alive_max_requests``: once a connection has had more than that many requests,
  hypercorn calls h2's close_connection(): GOAWAY(NO_ERROR, last id = the newest stream)
  after the stream that went over; h2 then sends nothing more, so streams still unanswered
  on that connection get no answer at all (observed: see test_h2_servers.py);
- ``keep_alive_timeout``: an idle connection is closed without a GOAWAY.
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
from .real import APPS_DIR, WorkdirServer, spawn, started, stop_process
from .stdlib import free_ports

START_TIMEOUT = 15.0  # seconds: hypercorn imports a lot
START_ATTEMPTS = 3  # a free port can be taken by someone else first
READY_POLL = 0.05


@dataclass(frozen=True)
class HypercornLimits:
    max_concurrent_streams: int = 100  # hypercorn's defaults
    keep_alive_max_requests: int = 1000
    keep_alive_timeout: float = 5.0


LIMITED = HypercornLimits(max_concurrent_streams=4, keep_alive_max_requests=10,
                          keep_alive_timeout=1.0)


class HypercornError(RuntimeError):
    """hypercorn did not start; the message carries the end of its log."""


class H2Hypercorn(WorkdirServer):
    """A hypercorn process serving h2c (`.h2c_url`) and TLS + ALPN h2 (`.tls_url`)."""

    def __init__(self, workdir: Path, tls: TLSFiles, limits: HypercornLimits) -> None:
        self.workdir = workdir
        self.tls = tls
        self.limits = limits
        self.ports: list[int] = []
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def h2c_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def tls_url(self) -> str:
        return f"https://127.0.0.1:{self.ports[1]}"

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self.tls.client_context()

    def _config(self) -> Path:
        lim = self.limits
        conf = self.workdir / "hypercorn.toml"
        conf.write_text(
            f'insecure_bind = ["127.0.0.1:{self.ports[0]}"]\n'
            f'bind = ["127.0.0.1:{self.ports[1]}"]\n'
            f'certfile = "{self.tls.certfile}"\n'
            f'keyfile = "{self.tls.keyfile}"\n'
            f"h2_max_concurrent_streams = {lim.max_concurrent_streams}\n"
            f"keep_alive_max_requests = {lim.keep_alive_max_requests}\n"
            f"keep_alive_timeout = {lim.keep_alive_timeout}\n"
            "graceful_timeout = 1\n"
            'loglevel = "WARNING"\n')
        return conf

    def start(self) -> None:
        for attempt in range(START_ATTEMPTS):
            self.ports = free_ports(2)
            try:
                self._launch()
                return
            except HypercornError:
                if attempt + 1 == START_ATTEMPTS:
                    raise

    def _launch(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [APPS_DIR, env.get("PYTHONPATH")]))
        argv = [sys.executable, "-m", "hypercorn",
                "--config", str(self._config()), "real_apps:asgi_app"]
        with open(self.workdir / "server.log", "ab") as log:
            proc = self._proc = spawn(argv, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        for _ in range(int(START_TIMEOUT / READY_POLL) + 1):  # and the deadline ends it sooner
            if proc.poll() is not None:
                self.stop()
                raise HypercornError(f"hypercorn exited with {proc.returncode}:\n{self.log_tail()}")
            if self._answers(self.h2c_url) and self._answers(self.tls_url):
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(READY_POLL)
        self.stop()
        raise HypercornError(f"hypercorn did not answer within {START_TIMEOUT} s:\n{self.log_tail()}")

    def _answers(self, url: str) -> bool:
        from ..h2_client import h2_get
        from .real_apps import HELLO
        try:
            exchange = h2_get(url, ["/"], self.ssl_context, timeout=1.0)
        except OSError:
            return False
        (response,) = exchange.responses
        return response is not None and response.status == 200 and response.body == HELLO

    def stop(self) -> None:
        """Stop hypercorn (`real.stop_process`). Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def __repr__(self) -> str:
        return f"<H2Hypercorn {self.h2c_url if self.ports else '(not started)'} {self.limits}>"


def start_h2_hypercorn(limits: HypercornLimits = HypercornLimits()) -> H2Hypercorn:
    """Start hypercorn in a fresh work directory; raise HypercornError if it does not answer
    (CertsUnavailable without trustme)."""
    workdir = Path(tempfile.mkdtemp(prefix="hopwire-h2-hypercorn-"))
    return started(H2Hypercorn(workdir, TLSFiles.create(workdir / "tls"), limits))
