"""The pools' own cost per request, without a network or a server: what hopwire adds.

    PYTHONPATH=src .venv/bin/python benches/pool_overhead.py [--requests N] [--workload NAME ...]
    PYTHONPATH=src .venv/bin/python benches/pool_overhead.py --instructions [--workload NAME ...]

Each pool talks to a fake connection that answers every request at once with
the benchmark's nginx response (a socket whose `recv` returns the answers to
the heads `sendall` was given; an asyncio transport that feeds them to the
protocol on the next loop turn). What is left is the pool's work: the
request, the pool state, the connection state, the parser, the response.

Without options: CPU µs per request (time.process_time, best of 3 runs).
With --instructions: instructions per request under valgrind's callgrind,
measured as the difference between a run of 5N requests and one of N (so
that start-up and imports cancel out): deterministic, unlike time on a shared
machine, and what the notes in README quote. Needs valgrind.

Workloads: sync (Pool.request, one connection), sync-pipelined (Pool.request_all,
16 a call, one connection with pipeline_depth=16), async and async-pipelined
(the same with AsyncPool); h2-sync, h2-async and h2-async-multiplexed (request_all,
16 streams a call) with http2="prior-knowledge", where the fake connection is an
HTTP/2 server script: its preface, an ACK for each SETTINGS, and for each request's
HEADERS the answer nginx gives (HEADERS, then 13 octets of DATA ending the stream;
one header block, encoded once, as a server indexing its fields would send it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

import _checkout  # noqa: F401  (hopwire: installed, else the checkout's src/)
import hopwire  # noqa: E402
from hopwire._h2 import _rules as R  # noqa: E402
from hopwire._h2 import frames, hpack  # noqa: E402

URL = "http://127.0.0.1:8080/"
BODY = b"Hello, world!"
ANSWER = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 25 Nov 2026 23:49:23 GMT\r\n"
          b"Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n" + BODY)
PIPELINE = 16
H2_ANSWER_BLOCK = hpack.Encoder().encode([
    (b":status", b"200"), (b"server", b"nginx"), (b"date", b"Wed, 25 Nov 2026 23:49:23 GMT"),
    (b"content-type", b"text/plain"), (b"content-length", b"13")])
H2_HEADERS, H2_SETTINGS = 0x1, 0x4


class H1Script:
    """The HTTP/1.1 server: an answer for each request head."""

    def answer(self, data: Any) -> bytes:
        return ANSWER * bytes(data).count(b"\r\n\r\n")


class H2Script:
    """The HTTP/2 server (see the module docstring); frames are whole in each write."""

    def __init__(self) -> None:
        self.preface_seen = False

    def answer(self, data: Any) -> bytes:
        data = bytes(data)
        out = []
        if not self.preface_seen:
            data = data[len(R.PREFACE):]
            self.preface_seen = True
            out.append(frames.settings([(R.SettingId.MAX_CONCURRENT_STREAMS, 128)]))
        at = 0
        while at + 9 <= len(data):
            length = int.from_bytes(data[at:at + 3], "big")
            kind, flags = data[at + 3], data[at + 4]
            stream_id = int.from_bytes(data[at + 5:at + 9], "big") & 0x7FFFFFFF
            if kind == H2_SETTINGS and not flags & 0x1:
                out.append(frames.settings_ack())
            elif kind == H2_HEADERS:
                out.append(frames.headers(stream_id, H2_ANSWER_BLOCK)
                           + frames.data(stream_id, BODY, True))
            at += 9 + length
        return b"".join(out)


class FakeSocket:
    """Answers what is written to it as its script says; a socketpair end gives it a real
    fd to poll."""

    def __init__(self, script: Any) -> None:
        self._ends = socket.socketpair()
        self._script = script
        self._owed: list[bytes] = []
        self._timeout: float | None = None

    def fileno(self) -> int:
        return self._ends[0].fileno()

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def setsockopt(self, *args: Any) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self._owed.append(self._script.answer(data))

    def recv(self, size: int) -> bytes:
        owed = b"".join(self._owed)
        self._owed.clear()
        return owed

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        for end in self._ends:
            end.close()


class FakePool(hopwire.Pool):
    def _open(self, origin: Any, t: Any) -> Any:  # the pool's one hook for making a socket
        return FakeSocket(H2Script() if self._options.http2 else H1Script())


class FakeTransport(asyncio.Transport):
    """Feeds the answers to the protocol on the next turn of the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.Protocol,
                 script: Any) -> None:
        super().__init__()
        self._loop, self._protocol, self._closing = loop, protocol, False
        self._script = script

    def write(self, data: Any) -> None:
        answers = self._script.answer(data)
        if answers:
            self._loop.call_soon(self._deliver, answers)

    def _deliver(self, answers: bytes) -> None:
        """As asyncio's transports do: into the buffer of a buffered protocol (what
        `recv_into` would do), else as a new bytes object."""
        protocol = self._protocol
        if isinstance(protocol, asyncio.BufferedProtocol):
            while answers:
                buffer = protocol.get_buffer(len(answers))
                n = min(len(buffer), len(answers))
                buffer[:n] = answers[:n]
                protocol.buffer_updated(n)
                answers = answers[n:]
        else:
            protocol.data_received(answers)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True
        self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        if not self._closing:
            self.close()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def _fake_connection(script: type) -> Any:
    async def connect(factory: Any, host: str, port: int, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        protocol = factory()
        transport = FakeTransport(loop, protocol, script())
        protocol.connection_made(transport)
        return transport, protocol
    return connect


def _check(response: Any) -> None:
    if response.status != 200 or response.content != BODY:
        raise AssertionError(f"unexpected answer: {response!r}")


def _options(pipelined: bool, http2: bool) -> dict[str, Any]:
    return dict(max_connections=1, max_connections_per_host=1, keepalive_expiry=300.0,
                pipeline_depth=PIPELINE if pipelined and not http2 else 1,
                http2="prior-knowledge" if http2 else False)


def run_sync(n: int, pipelined: bool, http2: bool = False) -> None:
    with FakePool(**_options(pipelined, http2)) as pool:
        if pipelined:
            batch = [("GET", URL)] * PIPELINE
            for _ in range(n // PIPELINE):
                for response in pool.request_all(batch):
                    _check(response)
        else:
            for _ in range(n):
                _check(pool.request("GET", URL))


async def _run_async(n: int, pipelined: bool, http2: bool) -> None:
    asyncio.get_running_loop().create_connection = _fake_connection(  # type: ignore[method-assign]
        H2Script if http2 else H1Script)
    async with hopwire.AsyncPool(**_options(pipelined, http2)) as pool:
        if pipelined:
            batch = [("GET", URL)] * PIPELINE
            for _ in range(n // PIPELINE):
                for response in await pool.request_all(batch):
                    _check(response)
        else:
            for _ in range(n):
                _check(await pool.request("GET", URL))


def run_async(n: int, pipelined: bool, http2: bool = False) -> None:
    asyncio.run(_run_async(n, pipelined, http2))


WORKLOADS = {
    "sync": lambda n: run_sync(n, False),
    "sync-pipelined": lambda n: run_sync(n, True),
    "async": lambda n: run_async(n, False),
    "async-pipelined": lambda n: run_async(n, True),
    "h2-sync": lambda n: run_sync(n, False, True),
    "h2-async": lambda n: run_async(n, False, True),
    "h2-async-multiplexed": lambda n: run_async(n, True, True),
}


def cpu_us(name: str, n: int) -> float:
    WORKLOADS[name](max(PIPELINE, n // 10))  # warm-up
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        WORKLOADS[name](n)
        best = min(best, time.process_time() - start)
    return best / n * 1e6


def instructions(name: str, n: int) -> float:
    """Instructions per request: callgrind's total for 5n requests minus that for n, over 4n."""
    totals = []
    for count in (n, 5 * n):
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
             os.path.abspath(__file__), "--one", name, "--requests", str(count)],
            capture_output=True, text=True, timeout=1800, check=True)
        match = re.search(r"Collected\s*:\s*([\d,]+)|I\s+refs:\s+([\d,]+)", proc.stderr)
        if match is None:
            raise RuntimeError(f"no instruction count in valgrind's output:\n{proc.stderr[-2000:]}")
        totals.append(int((match.group(1) or match.group(2)).replace(",", "")))
    return (totals[1] - totals[0]) / (4 * n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", action="append", choices=list(WORKLOADS), metavar="NAME",
                    help=f"one of {', '.join(WORKLOADS)} (default: all)")
    ap.add_argument("--requests", type=int, default=None,
                    help="requests per run (default 50,000; with --instructions 2,000)")
    ap.add_argument("--instructions", action="store_true",
                    help="instructions per request under callgrind instead of CPU time")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a single run, for callgrind to count
    args = ap.parse_args(argv)
    if args.one:
        WORKLOADS[args.one](args.requests)
        return 0
    names = args.workload or list(WORKLOADS)
    twin = ("compiled pool core" if hopwire.COMPILED_MODULES else "pure-Python pool core") + \
        (", C parser" if hopwire.EXTENSIONS_ACTIVE else ", Python parser")
    if args.instructions:
        if shutil.which("valgrind") is None:
            ap.error("--instructions needs valgrind")
        n = args.requests or 2_000
        print(f"instructions per request (callgrind, {5 * n:,} minus {n:,} requests; {twin})")
        for name in names:
            print(f"  {name:20} {instructions(name, n):>10,.0f}")
    else:
        n = args.requests or 50_000
        print(f"CPU µs per request (best of 3 runs of {n:,}; {twin})")
        for name in names:
            print(f"  {name:20} {cpu_us(name, n):>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
