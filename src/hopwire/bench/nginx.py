"""A throwaway nginx for the pool benchmarks.

Why not the test suite's nginx (tests/support/servers/): that one runs two workers
and closes a connection after 1000 requests (the tests need that); a
benchmark must not reconnect mid-run, and wants one server process it can
measure and pin to a CPU (`pin()`, `cpu_ns()`). This launcher renders
`nginx.conf.template` (shipped in the package: `hopwire bench` works from an
installed hopwire) into a temporary directory, runs ``nginx -g 'daemon off;'``
in its own session and waits until the port accepts connections.

    with start_nginx() as server:
        ... server.url ...   # http://127.0.0.1:PORT/ -> 200 "Hello, world!"

The proxy benchmark (`proxies.py`) starts a second one from another template,
nginx as a reverse proxy in front of the first:
``start_nginx(template_name=PROXY_TEMPLATE, values={"UPSTREAM_PORT": ...})``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import TracebackType

from .target import ServerUnavailable, accepts, free_port, schedstat_ns

START_TIMEOUT = 5.0  # seconds for nginx to accept connections
STOP_TIMEOUT = 5.0  # seconds for a fast shutdown before the process group is killed
START_ATTEMPTS = 3  # a free port can be taken by another process before nginx binds it

_TEMP_MODULES = ("proxy", "fastcgi", "uwsgi", "scgi")
TEMPLATE = "nginx.conf.template"  # the origin: 200 "Hello, world!"
PROXY_TEMPLATE = "nginx_proxy.conf.template"  # a reverse proxy (UPSTREAM_PORT, KEEPALIVE)


class NginxUnavailable(ServerUnavailable):
    """nginx is not installed or did not start; the message says which, with its log."""


def nginx_binary() -> str | None:
    """nginx on PATH, else Debian's /usr/sbin/nginx (often not on a user's PATH)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def template(name: str = TEMPLATE) -> str:
    return resources.files(__package__ or "hopwire.bench").joinpath(name).read_text()


def _modules_without(binary: str) -> set[str]:
    """http modules compiled out: their *_temp_path directives would be unknown."""
    out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10)
    words = (out.stdout + out.stderr).split()
    prefix, suffix = "--without-http_", "_module"
    return {w[len(prefix):-len(suffix)] for w in words if w.startswith(prefix) and w.endswith(suffix)}


def render_config(binary: str, port: int, name: str = TEMPLATE,
                  values: Mapping[str, str] | None = None) -> str:
    """The template `name` filled in; `values` fills the template's own placeholders
    (@KEY@ for each key), and a placeholder left unfilled is a ValueError."""
    # As root, nginx would switch its worker to "nobody", which cannot read a 0700 temp dir.
    as_root = getattr(os, "geteuid", lambda: -1)() == 0
    without = _modules_without(binary)
    temp_paths = "\n".join(f"    {m}_temp_path tmp/{m};" for m in _TEMP_MODULES if m not in without)
    text = (template(name)
            .replace("@USER@", "user root;" if as_root else "")
            .replace("@PORT@", str(port))
            .replace("@TEMP_PATHS@", temp_paths))
    for key, value in (values or {}).items():
        text = text.replace(f"@{key}@", value)
    left = re.findall(r"^[^#\n]*(@[A-Z_]+@)", text, re.MULTILINE)
    if left:
        raise ValueError(f"{name}: no value for {', '.join(sorted(set(left)))}")
    return text


class BenchNginx:
    """A running nginx (master + one worker); `stop()` or the with-block ends it."""

    def __init__(self, binary: str, workdir: Path, port: int, owns_workdir: bool,
                 template_name: str = TEMPLATE, values: Mapping[str, str] | None = None) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self._owns_workdir = owns_workdir
        conf = workdir / "nginx.conf"
        conf.write_text(render_config(binary, port, template_name, values))
        for log in ("error.log", "stderr.log"):
            (workdir / log).unlink(missing_ok=True)
        with open(workdir / "stderr.log", "wb") as stderr:
            self._proc = subprocess.Popen(
                [binary, "-p", f"{workdir}/", "-c", str(conf), "-e", str(workdir / "error.log"),
                 "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                start_new_session=True)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NginxUnavailable(f"nginx exited with {self._proc.returncode}:\n{self.error_log()}")
            if accepts(self.port):
                return
            time.sleep(0.02)
        raise NginxUnavailable(f"nginx did not accept connections within {timeout} s:\n{self.error_log()}")

    def worker_pids(self) -> list[int]:
        """nginx's worker processes (the master's children; Linux only, else [])."""
        try:
            return [int(p) for p in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except (OSError, ValueError):
            return []

    def pin(self, cpus: set[int]) -> bool:
        """Run the workers on these CPUs only; whether it could be done."""
        pids = self.worker_pids()
        if not pids or not hasattr(os, "sched_setaffinity"):
            return False
        for pid in pids:
            os.sched_setaffinity(pid, cpus)
        return True

    def cpu_ns(self) -> int | None:
        """CPU time used so far by nginx's workers, in ns (Linux schedstat), or None."""
        return schedstat_ns(self.worker_pids())

    def version(self) -> str:
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True, timeout=10)
        return (out.stderr or out.stdout).strip().rpartition("/")[2]

    def describe(self) -> str:
        return f"nginx {self.version()}, 1 worker, {self.url}"

    def error_log(self) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self.workdir / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text[-4000:]

    def stop(self) -> None:
        """SIGTERM (the master stops its worker); kill the whole group if it hangs."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)  # the master is unreaped: its pid is the group
                self._proc.wait(STOP_TIMEOUT)
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> BenchNginx:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<BenchNginx {self.url} pid={self._proc.pid}>"


def start_nginx(workdir: Path | None = None, binary: str | None = None, *,
                template_name: str = TEMPLATE, values: Mapping[str, str] | None = None) -> BenchNginx:
    """Start the benchmark nginx in `workdir` (default: a temp dir removed at stop), from the
    template `template_name` with `values` for its own placeholders (see `render_config`)."""
    binary = binary or nginx_binary()
    if binary is None:
        raise NginxUnavailable("nginx is not installed (e.g. apt-get install nginx-light)")
    owns = workdir is None
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="hopwire-bench-nginx-"))
    workdir = Path(workdir).resolve()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    for attempt in range(START_ATTEMPTS):
        server = BenchNginx(binary, workdir, free_port(), owns_workdir=False,
                            template_name=template_name, values=values)
        try:
            server.wait_ready()
        except NginxUnavailable:
            log = server.error_log()
            server.stop()
            if "Address already in use" in log and attempt + 1 < START_ATTEMPTS:
                continue
            if owns:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        server._owns_workdir = owns
        return server
    raise AssertionError("unreachable")
