"""Real, independently written HTTP/1.1 servers as subprocesses, for pool/test_real_servers.py.

Why: the pools meet these servers in production, each with its own habits on the wire
(REAL-SERVERS.md): idle connections closed on the server's clock, bytes written after a
HEAD answer, pipelined requests dropped after a close, chunked or close-delimited bodies.
Only the servers themselves reproduce all of that.

How: each server runs the apps of `real_apps.py` (one per interface: WSGI, ASGI, tornado,
aiohttp, http.server) in a process of its own session, started with `sys.executable`
(nginx with its own binary and a config written here) on a free port of 127.0.0.1, and
is ready once it answers ``GET /`` with ``hello``. `stop()` sends SIGTERM to its pid and,
if it is not gone within `STOP_TIMEOUT`, kills its process group; the group is killed in
any case afterwards, so that no worker outlives its master. `restart()` does the same and
starts it again on the same port. Every server that has a keep-alive timeout has it set to
`IDLE_TIMEOUT` (1 s), so that idle closes happen within a test.

If the test process dies without stopping them (killed by a CI timeout), the servers get
SIGTERM from the kernel (Linux: `PR_SET_PDEATHSIG`), so that none outlives the run.

`SERVERS` describes each one: how it is started and what it is known to do (`Spec`).
`missing(spec)` says why a server cannot run here (a package not installed, no nginx).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from . import nginx
from .stdlib import free_ports
from .real_apps import CHUNKS, HELLO, IDLE_TIMEOUT, pattern

__all__ = ["CHUNKS", "HELLO", "IDLE_TIMEOUT", "NGINX_KEEPALIVE_REQUESTS", "SERVERS", "RealServer",
           "RealServerError", "Spec", "missing", "pattern", "start_real_server"]

START_TIMEOUT = 15.0  # seconds for a server to answer (gunicorn and hypercorn import a lot)
STOP_TIMEOUT = 5.0  # seconds after SIGTERM before the process group is killed
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it
RESTART_TIMEOUT = 10.0  # seconds to get the same port back after a stop
RETRY_PAUSE = 0.1  # seconds between two restart attempts
READY_POLL = 0.05  # seconds between two checks that a starting server answers
NGINX_KEEPALIVE_REQUESTS = 5  # on nginx's second port: the 5th answer closes the connection

APPS_DIR = str(Path(__file__).resolve().parent)  # real_apps.py is imported from here
_APPS_SCRIPT = str(Path(__file__).resolve().with_name("real_apps.py"))

Command = Callable[[Path, list[int]], list[str]]


@dataclass(frozen=True)
class Spec:
    """One server: how to start it, and what it does on the wire (as observed)."""

    name: str  # the test id
    modules: tuple[str, ...]  # Python packages it needs (for `missing`)
    command: Command  # argv, given its work directory and ports
    keeps_alive: bool = True  # answers on a persistent connection (HTTP/1.1 without close)
    echoes: bool = True  # POST /echo answers the body (nginx answers "posted")
    ports: int = 1  # nginx has a second port with a small keepalive_requests
    notes: str = ""  # its habits, for the report and for whoever reads a failure


def _python(*args: str) -> Command:
    return lambda workdir, ports: [sys.executable, *args]


def _gunicorn(worker: str) -> Command:
    def command(workdir: Path, ports: list[int]) -> list[str]:
        # --threads only for gthread: with threads > 1 gunicorn turns a sync worker into gthread.
        threads = ["--threads", "4"] if worker == "gthread" else []
        return [sys.executable, "-m", "gunicorn", "-k", worker, "-w", "1", *threads,
                "--keep-alive", str(IDLE_TIMEOUT), "--graceful-timeout", "1",
                "-b", f"127.0.0.1:{ports[0]}", "--chdir", APPS_DIR, "real_apps:wsgi_app"]
    return command


def _uvicorn(http: str) -> Command:
    def command(workdir: Path, ports: list[int]) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "--http", http, "--host", "127.0.0.1",
                "--port", str(ports[0]), "--timeout-keep-alive", str(IDLE_TIMEOUT),
                "--timeout-graceful-shutdown", "1", "--lifespan", "off", "--no-access-log",
                "--log-level", "warning", "--app-dir", APPS_DIR, "real_apps:asgi_app"]
    return command


def _hypercorn(workdir: Path, ports: list[int]) -> list[str]:
    return [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{ports[0]}",
            "--keep-alive", str(IDLE_TIMEOUT), "--graceful-timeout", "1", "real_apps:asgi_app"]


def _granian(workdir: Path, ports: list[int]) -> list[str]:
    # (imported here: granian_server imports this module)
    from .granian_server import GranianOptions, command
    return command(ports[0], GranianOptions(http="1", header_read_timeout_ms=IDLE_TIMEOUT * 1000))


def _script(name: str) -> Command:
    return lambda workdir, ports: [sys.executable, _APPS_SCRIPT, name, str(ports[0])]


def _nginx(workdir: Path, ports: list[int]) -> list[str]:
    binary = nginx.nginx_binary()
    assert binary is not None  # `missing` said so before
    return nginx.command(binary, workdir, _write_nginx_files(workdir, binary, ports))


# `notes`: what each did on the wire here (raw sockets, 1 s keep-alive timeouts; versions
# of the test extra): when it closes an idle connection, what follows a HEAD answer, how
# it takes pipelined requests, how it frames a body of unknown length.
SERVERS: dict[str, Spec] = {spec.name: spec for spec in (
    Spec("gunicorn-sync", ("gunicorn",), _gunicorn("sync"), keeps_alive=False,
         notes="Connection: close on every answer, then closes; of pipelined requests it "
               "answers the first and drops the rest; unsized bodies chunked on HTTP/1.1"),
    Spec("gunicorn-gthread", ("gunicorn",), _gunicorn("gthread"),
         notes="Connection: keep-alive on every answer; closes an idle connection 1.0 s after "
               "the answer; pipelines; HTTP/1.0 requests get HTTP/1.0 and a close"),
    Spec("uvicorn-h11", ("uvicorn", "h11"), _uvicorn("h11"),
         notes="idle close at 1.0 s; pipelines; an HTTP/1.0 request gets an HTTP/1.1 answer "
               "with Connection: close, an unsized body close-delimited"),
    Spec("uvicorn-httptools", ("uvicorn", "httptools"), _uvicorn("httptools"),
         notes="as uvicorn-h11, but an unsized body to an HTTP/1.0 request goes chunked"),
    Spec("hypercorn", ("hypercorn",), _hypercorn,
         notes="status lines without a reason phrase ('HTTP/1.1 200 '); idle close at 1.0 s; "
               "pipelines; HTTP/1.0 requests as uvicorn-h11"),
    Spec("granian", ("granian",), _granian,
         notes="no keep-alive timeout of its own: --http1-header-read-timeout (1 s here) runs "
               "while an idle connection waits for the next head, so it closes 1.0 s after the "
               "answer; no body after a HEAD answer; pipelines; HTTP/1.0 requests get HTTP/1.0, "
               "an unsized body close-delimited; lowercase header names"),
    Spec("waitress", ("waitress",), _script("waitress"),
         notes="writes the body after a HEAD answer; Connection: close (and a close) after a "
               "chunked answer, a 204 and a 304; idle close at about 1.0 s (its maintenance "
               "clock); pipelines"),
    Spec("cheroot", ("cheroot",), _script("cheroot"),
         notes="writes the body after a HEAD answer; idle close 1.0-1.5 s (checked every "
               "0.5 s); pipelines; answers HTTP/1.0 requests with an HTTP/1.1 status line, an "
               "unsized body close-delimited"),
    Spec("tornado", ("tornado",), _script("tornado"),
         notes="idle close at 1.0 s; pipelines; HTTP/1.0 requests as cheroot"),
    Spec("aiohttp", ("aiohttp",), _script("aiohttp"),
         notes="idle close at 1.0 s; pipelines; HTTP/1.0 requests get HTTP/1.0, an unsized "
               "body close-delimited"),
    Spec("http.server-1.0", (), _script("http.server-1.0"), keeps_alive=False,
         notes="HTTP/1.0: one answer per connection; of pipelined requests the first only"),
    Spec("http.server-1.1", (), _script("http.server-1.1"),
         notes="idle close at 1.0 s (the handler's socket timeout); pipelines"),
    Spec("nginx", (), _nginx, echoes=False, ports=2,
         notes=f"idle close at 1.0 s; pipelines; a 304 carries Content-Length: 0; /chunked is "
               f"chunked only gzipped; on the second port the {NGINX_KEEPALIVE_REQUESTS}th "
               f"answer carries Connection: close"),
)}


def missing(spec: Spec) -> str | None:
    """Why `spec` cannot run here, or None."""
    if os.name != "posix":
        return "the real-server launcher needs POSIX (sessions and process groups)"
    if spec.name == "nginx" and nginx.nginx_binary() is None:
        return "nginx is not installed (apt-get install nginx-light)"
    for module in spec.modules:
        if importlib.util.find_spec(module) is None:
            return f"{spec.name} needs {module}, which is not installed (pip install '.[test]')"
    return None


# -- nginx's files ------------------------------------------------------------------------

_NGINX_ROUTES = """
        location = / { return 200 "hello"; }
        location /bytes/ { default_type application/octet-stream; }
        # A static file, gzipped for a client that accepts it: its length is unknown when
        # the head goes out, so HTTP/1.1 gets it chunked (nginx cannot chunk it otherwise).
        location = /chunked { gzip on; gzip_types text/plain; gzip_min_length 0; }
        location /seq/ { return 200 "$request_uri"; }
        # nginx-light cannot echo a body: "return" reads and discards it.
        location = /echo { return 200 "posted"; }
        location = /status/204 { return 204; }
        location = /status/304 { return 304; }
"""

_NGINX_CONF = """\
@USER@
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    log_not_found off;
    client_body_temp_path tmp/client_body;
@TEMP_PATHS@
    types { }
    default_type text/plain;
    root html;
    keepalive_timeout @IDLE@s;
    client_max_body_size 0;
    server {
        listen 127.0.0.1:@PORT@;
        keepalive_requests 1000;
@ROUTES@
    }
    server {
        listen 127.0.0.1:@PORT_SHORT@;
        keepalive_requests @SHORT@;
@ROUTES@
    }
}
"""


def _write_nginx_files(workdir: Path, binary: str, ports: list[int]) -> Path:
    """The document root and nginx.conf in `workdir`, rendered by the suite's nginx launcher
    (nginx.py says why ``user root;`` and the temp paths)."""
    html = workdir / "html"
    (html / "bytes").mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    (html / "bytes" / "1048576").write_bytes(pattern(1048576))
    (html / "chunked").write_bytes(b"".join(CHUNKS))
    nginx.open_to_workers(workdir)
    conf = workdir / "nginx.conf"
    conf.write_text(nginx.render(_NGINX_CONF, binary, ROUTES=_NGINX_ROUTES, IDLE=IDLE_TIMEOUT,
                                 PORT=ports[0], PORT_SHORT=ports[1],
                                 SHORT=NGINX_KEEPALIVE_REQUESTS))
    conf.chmod(0o644)
    return conf


# -- the process ------------------------------------------------------------------------------

# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process:
# every server is forked by this one thread, which lives until the interpreter exits
# (a restart from a short-lived executor thread would otherwise kill the new server).
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="real-server-spawner")


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec_fn: SIGTERM to the child when the spawner thread (the test run) ends."""
    def preexec() -> None:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the pid of a server `spawn` started; its process group is killed if it
    lingers, and afterwards in any case (workers whose master is gone)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
    # The group outlives its leader while a member lives, and Linux does not hand
    # out its id as a pid meanwhile: killing it cannot hit an unrelated process.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(STOP_TIMEOUT)


def spawn(argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
    """subprocess.Popen on the spawner thread, the child tied to this process's life."""
    kw["preexec_fn"] = _die_with_parent(os.getpid())
    return _SPAWNER.submit(lambda: subprocess.Popen(argv, **kw)).result()  # type: ignore[call-overload]


class RealServerError(RuntimeError):
    """A server did not start; the message carries the end of its log."""


def answers_hello(port: int) -> bool:
    """Whether our app answers ``GET /`` on `port` (a bare accept could be someone else's
    process that took the port first)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            for _ in range(64):  # bounded: the answer is a few hundred bytes
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return False
    return answer.startswith(b"HTTP/1.") and answer.endswith(b"\r\n\r\n" + HELLO)


class WorkdirServer:
    """A test server's processes and the work directory they run in; as a context
    manager, it stops them and removes the directory (`with start_...() as server:`).
    A subclass has `workdir`, `start()` and an idempotent `stop()`."""

    workdir: Path

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


S = TypeVar("S", bound=WorkdirServer)


def started(server: S) -> S:
    """`server` once `start()` returned; when it raises, what it started is stopped and
    its work directory removed."""
    try:
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
        raise
    return server


class RealServer(WorkdirServer):
    """A server process (`spec`) on 127.0.0.1: `.url`, and `.url_short` on nginx."""

    def __init__(self, spec: Spec, workdir: Path) -> None:
        self.spec = spec
        self.workdir = workdir
        self.ports: list[int] = []
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def url_short(self) -> str:
        return f"http://127.0.0.1:{self.ports[1]}"

    def start(self) -> None:
        """Start on free ports; try other ports if another process took one first."""
        for attempt in range(START_ATTEMPTS):
            self.ports = free_ports(self.spec.ports)
            try:
                self._launch(START_TIMEOUT)
                return
            except RealServerError:
                if attempt + 1 == START_ATTEMPTS:
                    raise

    def restart(self) -> None:
        """Stop, then start again on the same ports (retried while the port is not free)."""
        self.stop()
        deadline = time.monotonic() + RESTART_TIMEOUT
        for _ in range(int(RESTART_TIMEOUT / RETRY_PAUSE) + 1):  # and the deadline ends it sooner
            try:
                self._launch(max(1.0, deadline - time.monotonic()))
                return
            except RealServerError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(RETRY_PAUSE)
        raise RealServerError(f"{self.spec.name} did not start again on port {self.port}")

    def _launch(self, timeout: float) -> None:
        """Start the process on `self.ports`; return once it answers, else stop it and raise."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [APPS_DIR, env.get("PYTHONPATH")]))
        with open(self.workdir / "server.log", "ab") as log:
            proc = self._proc = spawn(
                self.spec.command(self.workdir, self.ports), cwd=self.workdir, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own group: a stuck master and workers die together
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / READY_POLL) + 1):  # and the deadline ends it sooner
            if proc.poll() is not None:
                self.stop()
                raise RealServerError(f"{self.spec.name} exited with {proc.returncode}:\n"
                                      f"{self.log_tail()}")
            if all(answers_hello(port) for port in self.ports):
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(READY_POLL)
        self.stop()
        raise RealServerError(f"{self.spec.name} did not answer within {timeout:.1f} s:\n"
                              f"{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server (`stop_process`). Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc)

    def log_tail(self) -> str:
        """The end of the server's output (and nginx's error log), for failure messages."""
        text = ""
        for name in ("server.log", "error.log"):
            path = self.workdir / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text[-4000:]

    def __repr__(self) -> str:
        return f"<RealServer {self.spec.name} {self.url if self.ports else '(not started)'}>"


def start_real_server(name: str) -> RealServer:
    """Start server `name` of `SERVERS` in a fresh work directory; raise RealServerError if
    it does not answer (check `missing(SERVERS[name])` first)."""
    return started(RealServer(SERVERS[name], Path(tempfile.mkdtemp(prefix=f"hopwire-{name}-"))))
