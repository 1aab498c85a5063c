"""nginx as a test peer: the server the pool will meet most in production.

Why a real nginx: it pipelines correctly, closes after `keepalive_requests` with a
``Connection: close`` on the last response, and frames gzip responses chunked
(REAL-SERVERS.md). No Python server reproduces all of that faithfully.

How: `start_nginx(workdir)` writes the document root and a config rendered from
``nginx.conf.template`` into `workdir`, then runs ``nginx -p workdir -c conf -g 'daemon off;'``
in its own session (so that a stuck master and its workers can be killed as a group),
and waits until nginx answers on both ports. Ports are picked free by the OS and
handed to nginx; if another process grabs one in between, the start is retried.

Two servers, identical routes:

- `.url` (`keepalive_requests 1000`) and `.url_short` (`keepalive_requests 3`: the third
  response on a connection carries ``Connection: close`` and nginx closes);
- ``/``: ``Hello, world!`` (13 bytes, any method; a request body is read and discarded);
- ``/post``: ``posted`` (any method);
- ``/bytes/N`` for N in `BYTES_SIZES`: a static file of ``pattern(N)``;
- ``/chunked``: `chunked_body()` (64 KiB of text); gzip-compressed, hence
  ``Transfer-Encoding: chunked``, when an HTTP/1.1 request sends ``Accept-Encoding: gzip``,
  otherwise plain with a Content-Length;
- ``/status/N`` for N in `STATUSES`: that status (nginx's own HTML page for errors);
- anything else: nginx's 404.

Keep-alive: ``keepalive_timeout 30s``. As root, nginx would switch its workers to
``nobody``, which cannot read pytest's 0700 temp directories: the config then says
``user root;``. As another user the line is left out (nginx would ignore it with a warning).

The one nginx launcher of the suite: the real-server run (real.py) starts its nginx, with
a config of its own, through `render`, `open_to_workers` and `command` below. The binary
is found as the benchmark's launcher finds it (`hopwire.bench.nginx.nginx_binary`); that
launcher serves one port from a template shipped in the package, so it cannot serve these
routes.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from hopwire.bench.nginx import nginx_binary

from .stdlib import free_ports, pattern

BYTES_SIZES = (0, 1024, 65536, 1048576, 10485760)
STATUSES = (200, 204, 400, 404, 500, 503)
KEEPALIVE_REQUESTS_SHORT = 3

START_TIMEOUT = 5.0  # seconds for nginx to accept connections
STOP_TIMEOUT = 5.0  # seconds for a fast shutdown before the group is killed
START_ATTEMPTS = 3  # a free port can be taken by someone else before nginx binds it

_TEMPLATE = Path(__file__).with_name("nginx.conf.template")
_TEMP_MODULES = ("proxy", "fastcgi", "uwsgi", "scgi")  # client_body is always compiled in


@functools.cache
def chunked_body() -> bytes:
    """The uncompressed body of ``/chunked``: 1024 numbered lines of 64 bytes (64 KiB)."""
    text = "compressible text; nginx gzips it and sends it chunked"
    return b"".join(f"{i:04d} {text}".ljust(63, ".").encode() + b"\n" for i in range(1024))


@functools.cache
def compiled_without(binary: str) -> frozenset[str]:
    """The http modules this nginx was configured without (their directives are unknown)."""
    out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10)
    args = (out.stdout + out.stderr).split()
    return frozenset(a[len("--without-http_"):-len("_module")] for a in args
                     if a.startswith("--without-http_") and a.endswith("_module"))


def _answers_as_nginx(port: int) -> bool:
    """Whether nginx answers on `port`: a bare accept could be another process that took
    the port between `free_ports()` and nginx's bind()."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
    except OSError:
        return False
    return answer.startswith(b"HTTP/1.1 200 ") and b"\r\nServer: nginx" in answer


def open_to_workers(workdir: Path) -> None:
    """Let nginx's workers read `workdir` and its document root ``html/``, whatever user
    they run as (pytest's temp directories are 0700)."""
    html = workdir / "html"
    for path in [workdir, html, *html.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _write_docroot(workdir: Path) -> None:
    html = workdir / "html"
    (html / "bytes").mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    for n in BYTES_SIZES:
        (html / "bytes" / str(n)).write_bytes(pattern(n))
    (html / "chunked").write_bytes(chunked_body())
    open_to_workers(workdir)


def render(template: str, binary: str, **values: object) -> str:
    """`template` with its placeholders filled: ``@USER@`` and ``@TEMP_PATHS@`` for the
    user this process runs as and the modules `binary` has, ``@KEY@`` for each of `values`.
    A placeholder left outside a comment is a ValueError."""
    as_root = getattr(os, "geteuid", lambda: -1)() == 0
    temp_paths = "\n".join(f"    {m}_temp_path tmp/{m};" for m in _TEMP_MODULES
                           if m not in compiled_without(binary))
    text = (template.replace("@USER@", "user root;" if as_root else "")
            .replace("@TEMP_PATHS@", temp_paths))
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    left = re.findall(r"^[^#\n]*(@[A-Z_]+@)", text, re.MULTILINE)
    if left:
        raise ValueError(f"no value for {', '.join(sorted(set(left)))}")
    return text


def render_config(binary: str, port: int, port_short: int) -> str:
    """The nginx.conf of the fixture for these ports, for the user this process runs as."""
    return render(_TEMPLATE.read_text(), binary, PORT=port, PORT_SHORT=port_short)


def command(binary: str, workdir: Path, conf: Path) -> list[str]:
    """The argv that runs nginx in the foreground with every path inside `workdir`."""
    return [binary, "-p", f"{workdir}/", "-c", str(conf), "-e", str(workdir / "error.log"),
            "-g", "daemon off;"]


class NginxError(RuntimeError):
    """nginx did not start; the message carries the end of its error log."""


class NginxServer:
    """A running nginx master (and its workers), stopped by `stop()` or the with-block."""

    def __init__(self, binary: str, workdir: Path, port: int, port_short: int) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port
        self.port_short = port_short
        self.url = f"http://127.0.0.1:{port}"
        self.url_short = f"http://127.0.0.1:{port_short}"
        conf = workdir / "nginx.conf"
        conf.write_text(render_config(binary, port, port_short))
        conf.chmod(0o644)
        for log in ("error.log", "stderr.log"):
            (workdir / log).unlink(missing_ok=True)
        with open(workdir / "stderr.log", "wb") as stderr:
            self._proc = subprocess.Popen(
                command(binary, workdir, conf), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Return once nginx answers on both ports; raise NginxError if it exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NginxError(f"nginx exited with {self._proc.returncode}:\n{self.error_log()}")
            if _answers_as_nginx(self.port) and _answers_as_nginx(self.port_short):
                return
            time.sleep(0.02)
        self.stop()
        raise NginxError(f"nginx did not answer within {timeout} s:\n{self.error_log()}")

    def error_log(self) -> str:
        """The end of nginx's error log and stderr, for failure messages."""
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self.workdir / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text[-4000:]

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def stop(self) -> None:
        """Fast shutdown (SIGTERM: the master waits for its workers); kill the group if stuck."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # The master is not reaped yet, so its pid is still this group's id.
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(STOP_TIMEOUT)
        else:
            self._proc.wait(STOP_TIMEOUT)

    def __enter__(self) -> NginxServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<NginxServer {self.url} short={self.url_short} pid={self._proc.pid}>"


def start_nginx(workdir: Path, binary: str | None = None) -> NginxServer:
    """Start nginx serving the test routes from `workdir`; raise NginxError if it cannot."""
    binary = binary or nginx_binary()
    if binary is None:
        raise NginxError("nginx is not installed (apt-get install nginx-light)")
    workdir = Path(workdir).resolve()
    _write_docroot(workdir)
    for attempt in range(START_ATTEMPTS):
        server = NginxServer(binary, workdir, *free_ports(2))
        try:
            server.wait_ready()
            return server
        except NginxError:
            server.stop()
            if "Address already in use" not in server.error_log() or attempt + 1 == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
