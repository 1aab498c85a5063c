"""Client CPU per HTTP/2 request: hopwire's `H2Connection` against h2's, in memory.

    PYTHONPATH=src .venv/bin/python benches/compare_h2_connection.py [--quick] [--no-py-codec]

One request, as a pool would make it on a warm connection: open a stream with a GET
(:method, :scheme, :authority, :path, user-agent, accept, accept-encoding), take the
bytes to send, feed the server's answer (HEADERS: :status 200, content-type,
content-length 13, date, server; then DATA of 13 octets with END_STREAM), read the
events, acknowledge the 13 octets (each client sends its WINDOW_UPDATEs as its
policy says) and take the bytes to send again.

The server is a script, not a server: its answers are encoded once, in advance, by
one HPACK encoder (the `hpack` package's, as a server's would index them), for
stream ids 1, 3, 5, ... in order, so that its cost is not measured and both
clients read the same bytes. A connection carries `N_REQUESTS` requests; a round
times one connection's requests after its handshake (a fresh connection each time).

Contenders, in one run: hopwire with the codec twin `import hopwire` selected (the
C one when built), h2 (python-hyper) as a client; then, in a subprocess with
HOPWIRE_NO_EXTENSIONS=1, hopwire with the Python codec and h2 again (its figure
from the same machine moments later). hopwire's connection is pure Python here
(it is not in the compiled pool core yet).

First the correctness gate: each contender must see, for every request, the
status, the body and the end of the stream. Then interleaved rounds with gc off;
the table gives the median and best µs per request.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import _checkout  # noqa: F401  (hopwire: installed, else the checkout's src/)
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import hpack as hyper_hpack  # noqa: E402

from hopwire._h2 import _rules as R  # noqa: E402
from hopwire._h2 import connection as hc  # noqa: E402
from hopwire._h2 import frames, hpack  # noqa: E402

N_REQUESTS = 500
BODY = b"Hello, world!"
REQUEST_HEADERS = [(b"user-agent", b"hopwire-bench/1.0"), (b"accept", b"*/*"),
                   (b"accept-encoding", b"gzip, deflate")]
H2_REQUEST = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"example.com"),
              (b":path", b"/"), *REQUEST_HEADERS]


def server_bytes() -> tuple[bytes, list[bytes]]:
    """(the server's preface and ACK of the client's SETTINGS, each request's answer)."""
    preface = (frames.settings([(R.SettingId.MAX_CONCURRENT_STREAMS, 100),
                                (R.SettingId.INITIAL_WINDOW_SIZE, 65535)])
               + frames.settings_ack())
    encoder = hyper_hpack.Encoder()
    answers = []
    for i in range(N_REQUESTS):
        stream_id = 2 * i + 1
        block = encoder.encode([(b":status", b"200"), (b"content-type", b"text/plain"),
                                (b"content-length", b"%d" % len(BODY)),
                                (b"date", b"Sun, 06 Dec 2026 10:00:00 GMT"),
                                (b"server", b"script")])
        answers.append(frames.headers(stream_id, block) + frames.data(stream_id, BODY, True))
    return preface, answers


PREFACE, ANSWERS = server_bytes()


# -- contenders: each a function running one connection's requests -----------------------


def hopwire_connection() -> tuple[Any, Callable[[Any, list[Any] | None], None]]:
    conn = hc.H2Connection()
    conn.data_to_send()
    conn.receive_data(PREFACE)
    conn.data_to_send()
    send_request = conn.send_request
    data_to_send = conn.data_to_send
    receive_data = conn.receive_data
    acknowledge = conn.acknowledge_received_data
    DataReceived = hc.DataReceived

    def run(_: Any, seen: list[Any] | None) -> None:
        for answer in ANSWERS:
            stream_id = send_request(b"GET", b"https", b"example.com", b"/", REQUEST_HEADERS)
            data_to_send()
            for event in receive_data(answer):
                if type(event) is DataReceived:
                    acknowledge(stream_id, len(event.data))
                if seen is not None:
                    seen.append((stream_id, event))
            data_to_send()
    return conn, run


def h2_connection() -> tuple[Any, Callable[[Any, list[Any] | None], None]]:
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    conn.data_to_send()
    conn.receive_data(PREFACE)
    conn.data_to_send()
    DataReceived = h2.events.DataReceived

    def run(_: Any, seen: list[Any] | None) -> None:
        for answer in ANSWERS:
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(stream_id, H2_REQUEST, end_stream=True)
            conn.data_to_send()
            for event in conn.receive_data(answer):
                if type(event) is DataReceived:
                    conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                if seen is not None:
                    seen.append((stream_id, event))
            conn.data_to_send()
    return conn, run


def contenders() -> dict[str, Callable[[], tuple[Any, Callable[[Any, list[Any] | None], None]]]]:
    codec = "C" if hpack.EXTENSION_ACTIVE and frames.EXTENSION_ACTIVE else "Python"
    return {f"hopwire ({codec} codec)": hopwire_connection, "h2": h2_connection}


def gate(name: str, factory: Callable[[], tuple[Any, Callable[[Any, list[Any] | None], None]]]
         ) -> bool:
    """Every request answered: status 200, the 13 octets, the stream's end."""
    conn, run = factory()
    seen: list[Any] = []
    run(conn, seen)
    answers: dict[int, list[Any]] = {}
    for stream_id, event in seen:
        kind = type(event).__name__
        if kind == "ResponseReceived":  # h2's has the fields, :status among them
            status = getattr(event, "status", None) or int(dict(event.headers)[b":status"])
            answers.setdefault(stream_id, []).append(status)
        elif kind == "DataReceived":
            answers.setdefault(stream_id, []).append(bytes(event.data))
        elif kind == "StreamEnded":
            answers.setdefault(stream_id, []).append("end")
    if answers != {2 * i + 1: [200, BODY, "end"] for i in range(N_REQUESTS)}:
        print(f"  gate: {name} saw {list(answers.items())[:2]}...", file=sys.stderr)
        return False
    return True


def measure(factories: dict[str, Callable[[], Any]], rounds: int) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[float]] = {name: [] for name in factories}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, factory in factories.items():
                conn, run = factory()
                start = time.perf_counter()
                run(conn, None)
                samples[name].append((time.perf_counter() - start) / N_REQUESTS * 1e6)
                del conn, run
                gc.collect()
    finally:
        gc.enable()
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


def run_here(rounds: int) -> dict[str, tuple[float, float]]:
    factories = {}
    for name, factory in contenders().items():
        if gate(name, factory):
            factories[name] = factory
        else:
            raise SystemExit(f"{name} failed the gate")
    return measure(factories, rounds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="7 rounds instead of 31")
    ap.add_argument("--no-py-codec", action="store_true",
                    help="skip the subprocess with HOPWIRE_NO_EXTENSIONS=1")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # subprocess mode
    args = ap.parse_args(argv)
    rounds = 7 if args.quick else 31
    results = run_here(rounds)
    if args.json:
        print(json.dumps(results))
        return 0
    rows = list(results.items())
    if not args.no_py_codec:
        env = dict(os.environ, HOPWIRE_NO_EXTENSIONS="1")
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--json",
                               *(["--quick"] if args.quick else [])],
                              env=env, capture_output=True, text=True, check=True)
        for name, value in json.loads(proc.stdout.strip().splitlines()[-1]).items():
            rows.append((name + (" [2nd run]" if name == "h2" else ""), tuple(value)))
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
          f"h2 {_version('h2')}, hpack {_version('hpack')}; hopwire's H2Connection in pure Python")
    args_text = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"# python benches/compare_h2_connection.py {args_text}")
    print(f"# {N_REQUESTS} requests per connection, {rounds} rounds: GET, 5-field answer "
          f"+ 13-octet body")
    base = results["h2"][0]
    print(f"  {'':28} {'median µs':>10} {'best µs':>9} {'vs h2':>8}")
    for name, (median, best) in rows:
        print(f"  {name:28} {median:10.2f} {best:9.2f} {base / median:7.1f}x")
    return 0


def _version(name: str) -> str:
    from importlib.metadata import version
    try:
        return version(name)
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
