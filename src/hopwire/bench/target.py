"""The server the pool benchmarks talk to, and where it and the clients run.

Two kinds, both answering ``GET /`` with 200 "Hello, world!" (13 bytes,
Content-Length framed) on 127.0.0.1:

- nginx (`nginx.py`), when it is installed: the reference, a server whose
  cost per request is small and steady;
- hopwire's embedded server (`hopwire serve`), otherwise. It runs in a
  process of its own, not in a thread of the benchmark: in-process it would
  take the GIL from the clients it serves (and from 64 client threads in
  concurrent64, a convoy), and its CPU would be counted as the clients'.

Both expose `url`, `pid`, `cpu_ns()` (the server's CPU so far, to show its
share of each request), `pin(cpus)`, `describe()` and `stop()`.
"""

from __future__ import annotations

import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from .. import EXTENSIONS_ACTIVE, __version__

SERVERS = ("auto", "nginx", "embedded")
PLACEMENTS = ("same", "split", "free")
START_TIMEOUT = 10.0  # seconds for the embedded server to listen (an import on a loaded machine)
STOP_TIMEOUT = 5.0
IDLE_TIMEOUT = 600  # seconds the benchmark's embedded server keeps an idle connection


class ServerUnavailable(RuntimeError):
    """The benchmark server could not be started; the message says why."""


class Server(Protocol):
    url: str

    @property
    def pid(self) -> int: ...

    def cpu_ns(self) -> int | None: ...

    def pin(self, cpus: set[int]) -> bool: ...

    def describe(self) -> str: ...

    def stop(self) -> None: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def schedstat_ns(pids: list[int]) -> int | None:
    """CPU time used so far by these processes' main threads, in ns (Linux schedstat), or None."""
    if not pids:
        return None
    try:
        return sum(int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) for pid in pids)
    except (OSError, ValueError, IndexError):
        return None


def _package_root() -> str:
    """The directory that holds the `hopwire` package imported here (a checkout's src/ or site-packages)."""
    return str(Path(__file__).resolve().parent.parent.parent)


def task_cpu_ns(pid: int) -> int | None:
    """CPU time used so far by every thread of process `pid`, in ns (Linux schedstat), or None."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        return sum(int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
                   for tid in tasks)
    except (OSError, ValueError, IndexError):
        return None


class HopwireProcess:
    """`python -m hopwire ARGS` in a child process that announces its URL on its first line.

    `what` names it in errors; `url_pattern` finds the URL in that line (group 1).
    It stops on SIGTERM, closing its connections.
    """

    def __init__(self, args: list[str], what: str, url_pattern: bytes) -> None:
        self.what = what
        env = dict(os.environ)
        # The child must import the same hopwire as this process, installed or not.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "hopwire", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
            start_new_session=True)
        try:
            self.url = self._read_url(START_TIMEOUT, url_pattern)
        except ServerUnavailable:
            self.stop()
            raise

    def _read_url(self, timeout: float, pattern: bytes) -> str:
        stdout: IO[bytes] | None = self._proc.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        with selectors.DefaultSelector() as sel:
            sel.register(stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n") and len(line) < 4096:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ServerUnavailable(f"{self.what} did not start within {timeout} s{self.errors()}")
                byte = os.read(stdout.fileno(), 1)
                if not byte:
                    raise ServerUnavailable(f"{self.what} exited{self.errors()}")
                line += byte
        found = re.search(pattern, line)
        if found is None:
            raise ServerUnavailable(f"unexpected first line from {self.what}: {line!r}")
        return found.group(1).decode("ascii")

    def errors(self) -> str:
        """The end of what the process wrote to stderr, for an error message (or "")."""
        if self._stderr.closed:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read()[-2000:].decode("utf-8", "replace").strip()
        return f":\n{text}" if text else ""

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def cpu_ns(self) -> int | None:
        return task_cpu_ns(self.pid)  # the event loop, and the resolver's threads if any

    def pin(self, cpus: set[int]) -> bool:
        if not hasattr(os, "sched_setaffinity"):
            return False
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{self.pid}/task")]
        except OSError:
            tids = [self.pid]
        for tid in tids:
            os.sched_setaffinity(tid, cpus)
        return True

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(STOP_TIMEOUT)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()


class EmbeddedProcess(HopwireProcess):
    """`python -m hopwire serve` in a child process, on a port it picks itself."""

    def __init__(self, idle_timeout: float = IDLE_TIMEOUT) -> None:
        super().__init__(["serve", "--host", "127.0.0.1", "--port", "0", "--idle-timeout", str(idle_timeout)],
                         "the embedded server", rb"(http://127\.0\.0\.1:\d+/)")

    def describe(self) -> str:
        twin = "C" if EXTENSIONS_ACTIVE else "Python"
        return f"hopwire {__version__} embedded server (asyncio, {twin} parser), 1 process, {self.url}"


def start_server(kind: str = "auto") -> tuple[Server, str]:
    """Start the benchmark server: "nginx", "embedded", or "auto" (nginx when it is installed
    and starts, else embedded). Returns it and a note for the report ("" or why not nginx)."""
    from .nginx import NginxUnavailable, nginx_binary, start_nginx

    if kind not in SERVERS:
        raise ValueError(f"server must be one of {SERVERS}, not {kind!r}")
    note = ""
    if kind in ("auto", "nginx"):
        if kind == "auto" and nginx_binary() is None:
            note = "nginx is not installed: the embedded server answers instead"
        else:
            try:
                return start_nginx(), ""
            except NginxUnavailable as exc:
                if kind == "nginx":
                    raise
                note = f"nginx did not start ({str(exc).splitlines()[0]}): the embedded server answers instead"
    return EmbeddedProcess(), note


def place(server: Server, placement: str = "same") -> tuple[str, Callable[[], None]]:
    """Pin this process (the calling thread, and the threads it starts later) and
    the server: "same" puts both on one CPU, "split" on two different ones,
    "free" leaves them to the scheduler. Returns what was done and a function
    that gives this thread its former CPUs back.

    Why "same" is the default: on a VM, a request/response ping-pong between
    two CPUs pays a cross-CPU wake-up (an inter-processor interrupt, a VM
    exit) per message. On the 2-vCPU dev VM that took the bare socket floor
    from ~28,000 req/s on one CPU to ~4,500 req/s across two, and "free"
    flipped between the two from round to round. On one CPU each request costs
    the client's CPU plus the server's, which is what the comparison is about.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, not {placement!r}")
    if placement == "free" or not hasattr(os, "sched_setaffinity"):
        return "free: the scheduler places client and server", lambda: None
    before = os.sched_getaffinity(0)
    cpus = sorted(before)
    client = {cpus[0]}
    worker = {cpus[1]} if placement == "split" and len(cpus) > 1 else client
    if not server.pin(worker):
        return "free: the server could not be pinned", lambda: None
    os.sched_setaffinity(0, client)
    kind = "same CPU" if worker == client else "two CPUs"
    text = f"{kind}: client on CPU {cpus[0]}, server on CPU {min(worker)}"
    return text, lambda: os.sched_setaffinity(0, before)
