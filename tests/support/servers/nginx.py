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
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from hopwire.bench.nginx import nginx_binary

from .certs import TLSFiles
from .stdlib import free_ports, pattern

BYTES_SIZES = (0, 1024, 65536, 1048576, 10485760)
STATUSES = (200, 204, 400, 404, 500, 503)
KEEPALIVE_REQUESTS_SHORT = 3

START_TIMEOUT = 5.0  # seconds for nginx to accept connections
STOP_TIMEOUT = 5.0  # seconds for a fast shutdown before the group is killed
START_ATTEMPTS = 3  # a free port can be taken by someone else before nginx binds it

_P = TypeVar("_P", bound="_NginxProcess")
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


class _NginxProcess:
    """A running nginx master (and its workers) with the config `conf_text`, stopped by
    `stop()` or the with-block; a subclass says when it is ready (`_answers`)."""

    ports: tuple[int, ...]

    def __init__(self, binary: str, workdir: Path, conf_text: str) -> None:
        self.binary = binary
        self.workdir = workdir
        conf = workdir / "nginx.conf"
        conf.write_text(conf_text)
        conf.chmod(0o644)
        for log in ("error.log", "stderr.log"):
            (workdir / log).unlink(missing_ok=True)
        with open(workdir / "stderr.log", "wb") as stderr:
            self._proc = subprocess.Popen(
                command(binary, workdir, conf), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)

    def _answers(self, port: int) -> bool:
        return _answers_as_nginx(port)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Return once nginx answers on every port; raise NginxError if it exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NginxError(f"nginx exited with {self._proc.returncode}:\n{self.error_log()}")
            if all(self._answers(port) for port in self.ports):
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

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class NginxServer(_NginxProcess):
    """The HTTP/1.x nginx of the `nginx` fixture: `.url` and `.url_short`."""

    def __init__(self, binary: str, workdir: Path, port: int, port_short: int) -> None:
        self.port = port
        self.port_short = port_short
        self.ports = (port, port_short)
        self.url = f"http://127.0.0.1:{port}"
        self.url_short = f"http://127.0.0.1:{port_short}"
        super().__init__(binary, workdir, render_config(binary, port, port_short))

    def __repr__(self) -> str:
        return f"<NginxServer {self.url} short={self.url_short} pid={self._proc.pid}>"


def _start(workdir: Path, binary: str | None, nports: int,
           make: Callable[[str, Path, list[int]], _P]) -> _P:
    """`make(binary, workdir, ports)` on free ports, retried if a port was taken meanwhile."""
    binary = binary or nginx_binary()
    if binary is None:
        raise NginxError("nginx is not installed (apt-get install nginx-light)")
    for attempt in range(START_ATTEMPTS):
        server = make(binary, workdir, free_ports(nports))
        try:
            server.wait_ready()
            return server
        except NginxError:
            server.stop()
            if "Address already in use" not in server.error_log() or attempt + 1 == START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def start_nginx(workdir: Path, binary: str | None = None) -> NginxServer:
    """Start nginx serving the test routes from `workdir`; raise NginxError if it cannot."""
    workdir = Path(workdir).resolve()
    _write_docroot(workdir)
    return _start(workdir, binary, 2, lambda b, w, ports: NginxServer(b, w, *ports))


# -- nginx speaking HTTP/2 -------------------------------------------------------------

_H2_TEMPLATE = Path(__file__).with_name("nginx-h2.conf.template")
H2_KEEPALIVE_REQUESTS_LIMITED = 10  # the limited server's GOAWAY comes with the 10th request
H2_MAX_CONCURRENT_STREAMS_LIMITED = 4
H2_KEEPALIVE_TIMEOUT_LIMITED = 1  # seconds idle before the limited server's GOAWAY and close
SLOW_SIZE, SLOW_RATE = 2048, 1024  # /slow: 2 KiB at limit_rate 1 KiB/s


def routes() -> str:
    """The locations of nginx.conf.template's first server block, for the HTTP/2 config:
    the same routes on HTTP/1.1 and HTTP/2 (test_nginx_server_blocks_agree keeps the
    template's two blocks identical)."""
    text = _TEMPLATE.read_text()
    block = re.findall(r"\n    server \{\n(.*?)\n    \}\n", text, re.S)[0]
    return "\n".join(line for line in block.splitlines()
                     if not line.strip().startswith(("listen ", "keepalive_")))


def render_h2_config(binary: str, ports: list[int], certfile: Path, keyfile: Path) -> str:
    """The nginx.conf of the `h2_nginx` fixture: TLS and h2c ports, normal and limited."""
    return render(_H2_TEMPLATE.read_text(), binary, ROUTES=routes(), CERTFILE=certfile,
                  KEYFILE=keyfile, PORT_TLS=ports[0], PORT_H2C=ports[1],
                  PORT_TLS_LIMITED=ports[2], PORT_H2C_LIMITED=ports[3],
                  KEEPALIVE_REQUESTS_LIMITED=H2_KEEPALIVE_REQUESTS_LIMITED,
                  MAX_STREAMS_LIMITED=H2_MAX_CONCURRENT_STREAMS_LIMITED,
                  KEEPALIVE_TIMEOUT_LIMITED=H2_KEEPALIVE_TIMEOUT_LIMITED)


class H2NginxServer(_NginxProcess):
    """nginx speaking HTTP/2 on four ports (the `h2_nginx` fixture).

    - `.tls_url` (``https://``, ALPN h2 and http/1.1) and `.h2c_url` (``http://``, HTTP/2
      with prior knowledge only): nginx's defaults for HTTP/2 in 1.22
      (http2_max_concurrent_streams 128, keepalive_requests 1000, keepalive_timeout 30s);
    - `.tls_url_limited` and `.h2c_url_limited`: http2_max_concurrent_streams 4,
      keepalive_requests 10 (nginx sends GOAWAY(NO_ERROR) with the 10th stream as last
      id, answers it, then closes), keepalive_timeout 1s (an idle connection gets
      GOAWAY(NO_ERROR) and a close);
    - `.ssl_context`: a new client context trusting the CA at each access, no ALPN set;
      `.tls`: the CA and the certificate files.
    """

    def __init__(self, binary: str, workdir: Path, ports: list[int], tls: TLSFiles) -> None:
        self.tls = tls
        self.ports = tuple(ports)
        tls_port, h2c_port, tls_limited, h2c_limited = ports
        self.tls_url = f"https://127.0.0.1:{tls_port}"
        self.h2c_url = f"http://127.0.0.1:{h2c_port}"
        self.tls_url_limited = f"https://127.0.0.1:{tls_limited}"
        self.h2c_url_limited = f"http://127.0.0.1:{h2c_limited}"
        super().__init__(binary, workdir, render_h2_config(binary, ports, tls.certfile, tls.keyfile))

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self.tls.client_context()

    @property
    def urls(self) -> tuple[str, str, str, str]:
        return self.tls_url, self.h2c_url, self.tls_url_limited, self.h2c_url_limited

    def _answers(self, port: int) -> bool:
        """Whether nginx answers ``GET /`` over HTTP/2 there (h2 is imported only here:
        the HTTP/1 nginx does not need it)."""
        from ..h2_client import h2_get
        url = next(u for u in self.urls if u.endswith(f":{port}"))
        try:
            exchange = h2_get(url, ["/"], self.ssl_context, timeout=1.0)
        except OSError:
            return False
        (response,) = exchange.responses
        return (response is not None and response.status == 200
                and response.body == b"Hello, world!"
                and (response.header(b"server") or b"").startswith(b"nginx"))

    def __repr__(self) -> str:
        return f"<H2NginxServer {self.tls_url} {self.h2c_url} pid={self._proc.pid}>"


def start_h2_nginx(workdir: Path, binary: str | None = None) -> H2NginxServer:
    """Start the HTTP/2 nginx in `workdir` (a CA and a certificate are made there); raise
    NginxError if it cannot, CertsUnavailable without trustme."""
    workdir = Path(workdir).resolve()
    _write_docroot(workdir)
    (workdir / "html" / "slow").write_bytes(pattern(SLOW_SIZE))
    open_to_workers(workdir)
    tls = TLSFiles.create(workdir / "tls")
    return _start(workdir, binary, 4, lambda b, w, ports: H2NginxServer(b, w, ports, tls))
