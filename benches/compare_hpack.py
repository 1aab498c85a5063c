"""Compare hopwire's HPACK twins with the `hpack` package (python-hyper), in one run.

    PYTHONPATH=src .venv/bin/python benches/compare_hpack.py [--quick] [--json FILE]

Five workloads, on a connection's worth of header blocks (100):
  decode, warm    responses as a server that indexes everything (hpack's encoder)
                  sends them: :status 200, content-type, content-length, date, server,
                  cache-control, etag, vary; date, length and etag change. Timed: blocks
                  2..100, the dynamic table warmed by block 1 (as from the 2nd response on)
  decode, first   block 1 alone, into a new decoder (the first response of a connection)
  encode, warm    requests: :method GET, :scheme https, :authority, :path (a different
                  one each time), user-agent, accept, accept-encoding. Timed: requests
                  2..100 on an encoder that sent request 1
  encode, same    request 1 again and again: hpack's best case, where its encoder
                  sends every field as an index; ours sends the :path as a literal
  encode, first   request 1 alone, from a new encoder
First the correctness gate: every contender's blocks must decode (with hpack's decoder)
to the lists encoded, and every decoder must return the lists sent. Then interleaved
rounds with gc off; the table gives the median of the rounds, in microseconds per block,
and how many times faster than hpack that is.

Default: 21 rounds of ~40 ms per contender and workload (about 15 s);
--quick: 7 rounds of ~10 ms.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _checkout  # noqa: F401  (hopwire.bench: installed, else the checkout's src/)
from hopwire.bench.environment import describe_machine, machine  # noqa: E402

Fields = list[tuple[bytes, bytes]]
N_BLOCKS = 100


def responses() -> list[Fields]:
    return [[(b":status", b"200"), (b"content-type", b"text/html; charset=utf-8"),
             (b"content-length", str(1200 + 37 * i).encode()),
             (b"date", b"Mon, 21 Oct 2013 20:%02d:%02d GMT" % (13 + i // 60, i % 60)),
             (b"server", b"nginx"), (b"cache-control", b"max-age=3600"),
             (b"etag", b'"%08x"' % (i * 7919)), (b"vary", b"accept-encoding")]
            for i in range(N_BLOCKS)]


def requests() -> list[Fields]:
    return [[(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"api.example.com"),
             (b":path", b"/v1/items/%d?page=%d" % (1000 + i, i % 5)),
             (b"user-agent", b"hopwire/0.1"), (b"accept", b"application/json"),
             (b"accept-encoding", b"gzip, deflate")]
            for i in range(N_BLOCKS)]


# -- contenders: (label, Encoder factory, Decoder factory, decode all blocks loop) --------

def _hpack() -> tuple[Callable[[], Any], Callable[[], Any], Callable[[Any, list[bytes]], None]]:
    import hpack

    def decode_all(decoder: Any, blocks: list[bytes]) -> None:
        decode = decoder.decode
        for block in blocks:
            decode(block, raw=True)
    return hpack.Encoder, hpack.Decoder, decode_all


def _ours(module: str) -> Callable[[], tuple[Callable[[], Any], Callable[[], Any],
                                               Callable[[Any, list[bytes]], None]]]:
    def load() -> tuple[Callable[[], Any], Callable[[], Any], Callable[[Any, list[bytes]], None]]:
        twin = importlib.import_module(module)

        def decode_all(decoder: Any, blocks: list[bytes]) -> None:
            decode = decoder.decode
            for block in blocks:
                decode(block)
        return twin.Encoder, twin.Decoder, decode_all
    return load


CONTENDERS = [("hpack", _hpack), ("hopwire py", _ours("hopwire._h2._hpack_py")),
              ("hopwire C", _ours("hopwire._h2._hpack_c"))]


def encode_all(encoder: Any, lists: list[Fields]) -> list[bytes]:
    encode = encoder.encode
    return [encode(fields) for fields in lists]


def gate(loaded: dict[str, Any], lists: dict[str, list[Fields]],
         blocks: list[bytes]) -> dict[str, str]:
    """Why each contender fails the correctness gate (nothing when it passes)."""
    import hpack
    failures: dict[str, str] = {}
    for label, (make_encoder, make_decoder, _) in loaded.items():
        for name, fields in lists.items():
            oracle = hpack.Decoder()
            got = [[tuple(f) for f in oracle.decode(b, raw=True)]
                   for b in encode_all(make_encoder(), fields)]
            if got != fields:
                failures[label] = f"its {name} blocks do not decode to the lists encoded"
        decoder = make_decoder()
        if [list(map(tuple, decoder.decode(b, raw=True) if label == "hpack" else decoder.decode(b)))
                for b in blocks] != lists["responses"]:
            failures[label] = "it does not decode the responses to the lists sent"
    return failures


# -- timing ------------------------------------------------------------------------------

def workloads(loaded: dict[str, Any], blocks: list[bytes],
              reqs: list[Fields]) -> dict[str, Callable[[str, int], float]]:
    """name -> run(contender label, repetitions): seconds per block over the repetitions."""
    def decode_warm(label: str, k: int) -> float:
        _, make_decoder, decode_all = loaded[label]
        total = 0.0
        for _ in range(k):
            decoder = make_decoder()
            decode_all(decoder, blocks[:1])
            start = time.perf_counter()
            decode_all(decoder, blocks[1:])
            total += time.perf_counter() - start
        return total / (k * (len(blocks) - 1))

    def decode_first(label: str, k: int) -> float:
        _, make_decoder, decode_all = loaded[label]
        first = blocks[:1]
        start = time.perf_counter()
        for _ in range(k):
            decode_all(make_decoder(), first)
        return (time.perf_counter() - start) / k

    def encode_warm(label: str, k: int) -> float:
        make_encoder = loaded[label][0]
        total = 0.0
        for _ in range(k):
            encoder = make_encoder()
            encoder.encode(reqs[0])
            start = time.perf_counter()
            encode_all(encoder, reqs[1:])
            total += time.perf_counter() - start
        return total / (k * (len(reqs) - 1))

    def encode_same(label: str, k: int) -> float:
        encoder = loaded[label][0]()
        encode, first = encoder.encode, reqs[0]
        encode(first)
        start = time.perf_counter()
        for _ in range(k * 100):
            encode(first)
        return (time.perf_counter() - start) / (k * 100)

    def encode_first(label: str, k: int) -> float:
        make_encoder = loaded[label][0]
        first = reqs[0]
        start = time.perf_counter()
        for _ in range(k):
            make_encoder().encode(first)
        return (time.perf_counter() - start) / k

    return {"decode, warm": decode_warm, "decode, first": decode_first,
            "encode, warm": encode_warm, "encode, same": encode_same,
            "encode, first": encode_first}


def calibrate(run: Callable[[str, int], float], label: str, batch_s: float) -> int:
    """Repetitions of `run` that take about batch_s."""
    k = 1
    while True:
        start = time.perf_counter()
        run(label, k)
        elapsed = time.perf_counter() - start
        if elapsed >= batch_s / 4 or k >= 1 << 20:
            return max(1, int(k * batch_s / max(elapsed, 1e-9)))
        k *= 4


def measure(loaded: dict[str, Any], runs: dict[str, Callable[[str, int], float]],
            rounds: int, batch_s: float) -> dict[str, dict[str, list[float]]]:
    """Seconds per block, one sample per round, contenders interleaved within a round."""
    samples: dict[str, dict[str, list[float]]] = {w: {c: [] for c in loaded} for w in runs}
    for workload, run in runs.items():
        reps = {label: calibrate(run, label, batch_s) for label in loaded}
        labels = list(loaded)
        gc.collect()
        gc.disable()
        try:
            for r in range(rounds):
                for label in labels[r % len(labels):] + labels[:r % len(labels)]:
                    samples[workload][label].append(run(label, reps[label]))
        finally:
            gc.enable()
    return samples


def table(samples: dict[str, dict[str, list[float]]], labels: list[str]) -> list[str]:
    width = 22
    lines = ["workload (µs per block)".ljust(16) + "".join(label.rjust(width) for label in labels)]
    for workload, by_label in samples.items():
        base = statistics.median(by_label["hpack"]) if by_label.get("hpack") else None
        cells = []
        for label in labels:
            if not by_label.get(label):
                cells.append("—".rjust(width))
                continue
            median = statistics.median(by_label[label])
            ratio = f" ({base / median:5.1f}x)" if base and label != "hpack" else ""
            cells.append(f"{median * 1e6:8.2f}{ratio}".rjust(width))
        lines.append(workload.ljust(16) + "".join(cells))
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="7 rounds of ~10 ms batches")
    ap.add_argument("--rounds", type=int, help="rounds per workload (default 21, --quick 7)")
    ap.add_argument("--batch-ms", type=float, help="one batch's duration (default 40, --quick 10)")
    ap.add_argument("--json", metavar="FILE", help="also write the samples here")
    args = ap.parse_args(argv)
    rounds = args.rounds or (7 if args.quick else 21)
    batch_s = (args.batch_ms or (10 if args.quick else 40)) / 1000

    loaded: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for label, load in CONTENDERS:
        try:
            loaded[label] = load()
        except ImportError as exc:
            skipped[label] = f"not importable ({exc})"
    if "hpack" not in loaded:
        print("the hpack package is not installed: pip install hpack", file=sys.stderr)
        return 2
    import hpack
    server = hpack.Encoder()
    lists = {"responses": responses(), "requests": requests()}
    blocks = [server.encode(fields) for fields in lists["responses"]]
    failures = gate(loaded, lists, blocks)
    for label, why in failures.items():
        skipped[label] = f"failed the gate: {why}"
        del loaded[label]

    m = machine()
    print("hopwire HPACK against hpack " + hpack.__version__)
    print(f"  machine   {describe_machine(m)}")
    print(f"  python    {platform.python_implementation()} {platform.python_version()}")
    for label, why in skipped.items():
        print(f"  skipped   {label}: {why}")
    print(f"  blocks    responses {min(map(len, blocks))}-{max(map(len, blocks))} octets "
          f"(hpack-encoded); requests of {len(lists['requests'][0])} fields")
    print(f"  rounds    {rounds} x ~{batch_s * 1000:.0f} ms per contender and workload\n")
    started = time.perf_counter()
    samples = measure(loaded, workloads(loaded, blocks, lists["requests"][:]), rounds, batch_s)
    print("\n".join(table(samples, [label for label, _ in CONTENDERS])))
    print(f"\n({time.perf_counter() - started:.1f} s; median of the rounds; (Nx) = times faster "
          "than hpack; lower µs is better)")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": m, "python": platform.python_version(),
                                               "hpack": hpack.__version__, "samples": samples},
                                              indent=2) + "\n")
    return 1 if any(label.startswith("hopwire") for label in failures) else 0


if __name__ == "__main__":
    sys.exit(main())
