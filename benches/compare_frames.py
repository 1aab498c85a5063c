"""Compare hopwire's HTTP/2 frame codec with hyperframe, reading and writing.

    PYTHONPATH=src .venv/bin/python benches/compare_frames.py [--quick] [--workload NAME ...]
    PYTHONPATH=src .venv/bin/python benches/compare_frames.py --instructions [--workload NAME ...]

Reading: the frames a client receives, fed as one buffer per operation to a
reader that lives across operations (as it does across a connection's reads):
hyperframe's own parse loop (header, then body, frame by frame), h2's
`FrameBuffer` (hyperframe with the buffering and CONTINUATION joining h2 uses),
and hopwire's Python and C twins. Writing: the frames a client sends, built as
bytes: hyperframe frame objects serialized, and hopwire's writer functions.

A correctness gate first (each contender must read the expected frames, or
write the expected bytes, or it is not timed), then interleaved rounds with gc
off; the table gives the median and best µs per operation and the median speed
relative to hyperframe (the best is the steadier figure on a loaded machine).
With --instructions: instructions per operation under valgrind's callgrind (the
difference between runs of 5N and N operations), deterministic where time is not. Default: 15 rounds of ~20 ms batches; --quick: 5 of ~5 ms.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import _checkout  # noqa: F401  (hopwire: installed, else the checkout's src/)
import hyperframe.frame as hf  # noqa: E402
from h2.frame_buffer import FrameBuffer  # noqa: E402

from hopwire._h2 import _frames_py  # noqa: E402
from hopwire._h2 import _rules as R  # noqa: E402

_frames_c: Any
try:
    _frames_c = importlib.import_module("hopwire._h2._frames_c")
except ImportError:  # not built: the C twin is left out
    _frames_c = None

W = _frames_py  # the writer that builds the workloads' input (checked against hyperframe below)

# A response's field block as a server's HPACK encoder would send it (status, date,
# content-type, content-length, server): its content does not matter to the codec.
RESPONSE_BLOCK = bytes(range(48, 48 + 62))
REQUEST_BLOCK = bytes(range(65, 65 + 36))
BODY_SMALL = b"Hello, world!"
BODY_1K = bytes(1024)
CHUNK = bytes(16384)

READ_WORKLOADS: dict[str, tuple[str, bytes, int]] = {
    # name: (what it is, the bytes, frames expected)
    "first-flight": (
        "server preface SETTINGS, WINDOW_UPDATE, SETTINGS ACK, HEADERS, DATA 13 B",
        W.settings([(3, 100), (4, 65536), (5, 16384)]) + W.window_update(0, 2**31 - 1 - 65535)
        + W.settings_ack() + W.headers(1, RESPONSE_BLOCK) + W.data(1, BODY_SMALL, True),
        5),
    "response": (
        "HEADERS, DATA 13 B (END_STREAM)",
        W.headers(3, RESPONSE_BLOCK) + W.data(3, BODY_SMALL, True),
        2),
    "body-64k": (
        "HEADERS, 4 DATA of 16 KiB, WINDOW_UPDATE",
        W.headers(5, RESPONSE_BLOCK) + W.data(5, CHUNK) * 3 + W.data(5, CHUNK, True)
        + W.window_update(0, 65536),
        6),
    "control": (
        "PING, SETTINGS ACK, 4 WINDOW_UPDATE, RST_STREAM, GOAWAY",
        W.ping(b"01234567") + W.settings_ack() + W.window_update(0, 1000)
        + W.window_update(1, 1000) * 3 + W.rst_stream(7, 8) + W.goaway(7, 0),
        8),
}


def hf_frames_of(data: bytes) -> list[hf.Frame]:
    view = memoryview(data)
    out = []
    pos = 0
    while pos < len(data):
        f, length = hf.Frame.parse_frame_header(view[pos:pos + 9])
        f.parse_body(view[pos + 9:pos + 9 + length])
        out.append(f)
        pos += 9 + length
    return out


def readers() -> dict[str, Callable[[], Callable[[bytes], list[Any]]]]:
    """name: factory of a function that reads one operation's bytes (state kept across calls)."""

    def hyperframe() -> Callable[[bytes], list[Any]]:
        return hf_frames_of

    def h2_buffer() -> Callable[[bytes], list[Any]]:
        buffer = FrameBuffer(server=False)
        buffer.max_frame_size = R.DEFAULT_MAX_FRAME_SIZE

        def read(data: bytes) -> list[Any]:
            buffer.add_data(data)
            return list(buffer)
        return read

    def twin(module: Any) -> Callable[[], Callable[[bytes], list[Any]]]:
        return lambda: module.FrameReader().feed

    out = {"hyperframe": hyperframe, "h2 FrameBuffer": h2_buffer, "hopwire py": twin(_frames_py)}
    if _frames_c is not None:
        out["hopwire c"] = twin(_frames_c)
    return out


WRITE_WORKLOADS: dict[str, str] = {
    "GET": "HEADERS (36 B block, END_STREAM)",
    "POST-1k": "HEADERS, DATA 1 KiB (END_STREAM)",
    "replies": "SETTINGS ACK, PING ACK, 2 WINDOW_UPDATE",
    "preface": "client preface, SETTINGS (2), WINDOW_UPDATE",
}


def hf_writers() -> dict[str, Callable[[], bytes]]:
    def get() -> bytes:
        f = hf.HeadersFrame(1, REQUEST_BLOCK)
        f.flags.add("END_HEADERS")
        f.flags.add("END_STREAM")
        return f.serialize()

    def post() -> bytes:
        h = hf.HeadersFrame(1, REQUEST_BLOCK)
        h.flags.add("END_HEADERS")
        d = hf.DataFrame(1, BODY_1K)
        d.flags.add("END_STREAM")
        return h.serialize() + d.serialize()

    def replies() -> bytes:
        s = hf.SettingsFrame(0)
        s.flags.add("ACK")
        p = hf.PingFrame(0, b"01234567")
        p.flags.add("ACK")
        return (s.serialize() + p.serialize() + hf.WindowUpdateFrame(0, 32768).serialize()
                + hf.WindowUpdateFrame(1, 32768).serialize())

    def preface() -> bytes:
        s = hf.SettingsFrame(0, dict(R.CLIENT_SETTINGS))
        w = hf.WindowUpdateFrame(0, R.CLIENT_CONNECTION_WINDOW - R.DEFAULT_WINDOW_SIZE)
        return R.PREFACE + s.serialize() + w.serialize()

    return {"GET": get, "POST-1k": post, "replies": replies, "preface": preface}


def twin_writers(m: Any) -> dict[str, Callable[[], bytes]]:
    return {
        "GET": lambda: m.headers(1, REQUEST_BLOCK, True),
        "POST-1k": lambda: m.headers(1, REQUEST_BLOCK) + m.data(1, BODY_1K, True),
        "replies": lambda: (m.settings_ack() + m.ping(b"01234567", True) + m.window_update(0, 32768)
                            + m.window_update(1, 32768)),
        "preface": lambda: m.client_preface(),
    }


def writers() -> dict[str, dict[str, Callable[[], bytes]]]:
    out = {"hyperframe": hf_writers(), "hopwire py": twin_writers(_frames_py)}
    if _frames_c is not None:
        out["hopwire c"] = twin_writers(_frames_c)
    return out


# -- timing --------------------------------------------------------------------------------

def batch_size(op: Callable[[], Any], batch_s: float) -> int:
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            op()
        if time.perf_counter() - start >= batch_s / 4:
            return max(1, int(n * batch_s / (time.perf_counter() - start)))
        n *= 2


def measure(ops: dict[str, Callable[[], Any]], rounds: int,
            batch_s: float) -> dict[str, tuple[float, float]]:
    """(median, best) µs per call of each op, the ops interleaved round by round, gc off."""
    sizes = {name: batch_size(op, batch_s) for name, op in ops.items()}
    samples: dict[str, list[float]] = {name: [] for name in ops}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, op in ops.items():
                n = sizes[name]
                start = time.perf_counter()
                for _ in range(n):
                    op()
                samples[name].append((time.perf_counter() - start) / n * 1e6)
    finally:
        gc.enable()
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


def gate_read(name: str, read: Callable[[bytes], list[Any]], data: bytes, expected: int) -> bool:
    """The contender reads the workload as hyperframe does: same frame types and streams."""
    def shape(frames: list[Any]) -> list[tuple[str, int]]:
        return [(type(f).__name__.removesuffix("Frame"), getattr(f, "stream_id", 0)) for f in frames]
    want, got = shape(hf_frames_of(data)), shape(read(data))
    if len(want) != expected or got != want:
        print(f"  gate: {name} read {got}, expected {want}", file=sys.stderr)
        return False
    return True


def table(title: str, results: dict[str, tuple[float, float]], base: str) -> list[str]:
    lines = [title, f"  {'':16} {'median µs':>10} {'best µs':>9} {'vs ' + base:>15}"]
    for name, (median, best) in results.items():
        lines.append(f"  {name:16} {median:10.2f} {best:9.2f} {results[base][0] / median:14.1f}x")
    return lines


def gated_ops(workload: str) -> tuple[str, dict[str, Callable[[], Any]], bool]:
    """(title, the ops of the contenders that pass the gate, whether a hopwire twin failed it)."""
    ops: dict[str, Callable[[], Any]] = {}
    failed = False
    if workload in READ_WORKLOADS:
        what, data, expected = READ_WORKLOADS[workload]
        for name, factory in readers().items():
            if gate_read(name, factory(), data, expected):
                ops[name] = _bound(factory(), data)
            else:
                failed |= name.startswith("hopwire")
        return f"read {workload}: {what} ({len(data)} B)", ops, failed
    expected_bytes = hf_writers()[workload]()
    for name, fns in writers().items():
        if fns[workload]() == expected_bytes:
            ops[name] = fns[workload]
        else:
            print(f"  gate: {name} wrote other bytes than hyperframe for {workload}", file=sys.stderr)
            failed |= name.startswith("hopwire")
    return f"write {workload}: {WRITE_WORKLOADS[workload]}", ops, failed


def instructions(workload: str, contender: str, n: int) -> float:
    """Instructions per op: callgrind's total for 5n ops minus that for n, over 4n (start-up,
    imports and the gate cancel out)."""
    totals = []
    for count in (n, 5 * n):
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
             os.path.abspath(__file__), "--one", workload, contender, str(count)],
            capture_output=True, text=True, timeout=3600, check=True)
        match = re.search(r"Collected\s*:\s*([\d,]+)|I\s+refs:\s+([\d,]+)", proc.stderr)
        if match is None:
            raise RuntimeError(f"no instruction count in valgrind's output:\n{proc.stderr[-2000:]}")
        totals.append(int((match.group(1) or match.group(2)).replace(",", "")))
    return (totals[1] - totals[0]) / (4 * n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 rounds of ~5 ms batches")
    ap.add_argument("--instructions", action="store_true",
                    help="instructions per op under callgrind instead of time (needs valgrind)")
    ap.add_argument("--workload", action="append", metavar="NAME",
                    choices=[*READ_WORKLOADS, *WRITE_WORKLOADS],
                    help="only these workloads (repeatable)")
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # workload contender count
    args = ap.parse_args(argv)
    if args.one:  # one run for callgrind to count
        workload, contender, count = args.one
        op = gated_ops(workload)[1][contender]
        for _ in range(int(count)):
            op()
        return 0
    if args.instructions and shutil.which("valgrind") is None:
        ap.error("--instructions needs valgrind")
    rounds, batch_s = (5, 0.005) if args.quick else (15, 0.02)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
          f"hyperframe {_version('hyperframe')}, h2 {_version('h2')}, "
          f"C twin {'built' if _frames_c is not None else 'NOT BUILT'}")
    print(f"# python benches/compare_frames.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    failed = False
    for workload in [*READ_WORKLOADS, *WRITE_WORKLOADS]:
        if args.workload and workload not in args.workload:
            continue
        title, ops, gate_failed = gated_ops(workload)
        failed |= gate_failed
        print()
        if args.instructions:
            counts = {name: instructions(workload, name, 200 if args.quick else 1000) for name in ops}
            print("\n".join([title, f"  {'':16} {'instr/op':>10} {'vs hyperframe':>15}"]
                            + [f"  {name:16} {count:10,.0f} {counts['hyperframe'] / count:14.1f}x"
                               for name, count in counts.items()]))
        else:
            print("\n".join(table(title, measure(ops, rounds, batch_s), "hyperframe")))
    return 1 if failed else 0


def _bound(read: Callable[[bytes], list[Any]], data: bytes) -> Callable[[], Any]:
    return lambda: read(data)


def _version(name: str) -> str:
    from importlib.metadata import version
    try:
        return version(name)
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
