"""Coverage-guided differential fuzzing of hopwire's parser with atheris (libFuzzer).

Every input is decoded into a parsing case (request or response, where to cut
the bytes, the methods a response answers, feed_eof or not, small limits or
the defaults) and checked by tests/support/fuzz_peers.py exactly as the hypothesis
suite does: the C and Python twins must agree byte for byte, whole and split;
hopwire must not accept what httptools (llhttp) or h11 rejects, nor frame a
message differently, unless tests/support/fuzz_allowlist.py explains it. A crash of the
C extension stops the run (libFuzzer saves the input); a difference raises
`FuzzFinding`, which atheris reports and saves the same way.

Coverage: the Python twin is instrumented (atheris.instrument_imports). It is the
readable definition of the grammar that the C twin implements branch for branch,
so its coverage steers the mutations into the C twin's states too. With clang,
the extension can be instrumented as well (see fuzz/README.md).

    .venv/bin/pip install atheris
    PYTHONPATH=src .venv/bin/python fuzz/fuzz_parser.py -max_total_time=600   # ten minutes
    PYTHONPATH=src .venv/bin/python fuzz/fuzz_parser.py --keep-going -max_total_time=3600
    PYTHONPATH=src .venv/bin/python fuzz/fuzz_parser.py --replay crash-*      # re-check inputs
    PYTHONPATH=src .venv/bin/python fuzz/fuzz_parser.py --seeds DIR           # write the seeds

Input layout (so that seeds are readable files): byte 0 holds the flags, then one
byte per cut point, then the HTTP bytes.

    bit 0      response (else request)
    bit 1      feed_eof() after the last piece
    bits 2-3   method the first response answers: GET, HEAD, POST, CONNECT
    bit 4      small limits (max_line_size=32, max_header_size=96, max_headers=4);
               only the twins are compared then
    bits 5-7   number of cut points; each cut byte is a position in 1/256ths of the data
"""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
WORK = ROOT / "build" / "fuzz"  # build/ is ignored by git: seeds and findings of local runs
METHODS = (b"GET", b"HEAD", b"POST", b"CONNECT")
SMALL_LIMITS = {"max_line_size": 32, "max_header_size": 96, "max_headers": 4}


@dataclass
class Case:
    kind: str
    data: bytes
    chunks: list[bytes]
    expect: list[bytes] = field(default_factory=list)
    eof: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def decode_input(buf: bytes) -> Case:
    """The parsing case an input stands for (any bytes decode to some case)."""
    if not buf:
        return Case("request", b"", [b""])
    flags = buf[0]
    ncuts = flags >> 5
    cuts, data = buf[1:1 + ncuts], buf[1 + ncuts:]
    points = sorted(c * len(data) // 256 for c in cuts)
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]
    kind = "response" if flags & 1 else "request"
    expect = [METHODS[(flags >> 2) & 3], b"GET", b"GET", b"GET"] if kind == "response" else []
    return Case(kind, data, chunks, expect, bool(flags & 2),
                dict(SMALL_LIMITS) if flags & 16 else {})


def encode_input(kind: str, data: bytes, *, eof: bool = False, method: bytes = b"GET",
                 cuts: bytes = b"", small_limits: bool = False) -> bytes:
    """The input that decode_input() turns back into this case (for seeds)."""
    assert len(cuts) < 8
    flags = (kind == "response") | (eof << 1) | (METHODS.index(method) << 2) \
        | (small_limits << 4) | (len(cuts) << 5)
    return bytes([flags]) + cuts + data


class FuzzFinding(AssertionError):
    """A difference between the twins, or against a peer, that the allowlist does not explain."""


KEEP_GOING = False  # --keep-going: save each finding and fuzz on instead of stopping


def check_input(buf: bytes) -> None:
    from support.fuzz_allowlist import allowed
    from support.fuzz_peers import check

    case = decode_input(buf)
    findings = check(case.kind, case.data, case.chunks, allowed, case.expect, case.eof,
                     **case.options)
    if findings:
        lines = [f"{case.kind} {case.data!r}", f"cut as {case.chunks!r}",
                 f"expect={case.expect} eof={case.eof} options={case.options}"]
        lines += [f"[{f.what}{' vs ' + f.peer if f.peer else ''}] {f.detail}" for f in findings]
        if KEEP_GOING:
            save_finding(buf, "\n".join(lines))
            return
        raise FuzzFinding("\n".join(lines))


def save_finding(buf: bytes, text: str) -> None:
    """Write the input (and what was wrong) under build/fuzz/findings/, once per input."""
    import hashlib

    name = WORK / "findings" / f"finding-{hashlib.sha1(buf).hexdigest()}"
    if not name.exists():
        name.write_bytes(buf)
        name.with_suffix(".txt").write_text(text + "\n")
        print(f"\n== finding saved to {name}\n{text}\n", file=sys.stderr)


# -- seeds ------------------------------------------------------------------------------


def conformance_seeds() -> dict[str, bytes]:
    """The llhttp-derived conformance corpus (tests/wire/conformance), whole and cut in two."""
    cases = json.loads((ROOT / "tests" / "wire" / "conformance" / "llhttp.json").read_text())
    seeds = {}
    for case in cases:
        raw = base64.b64decode(case["raw_b64"])
        name = case["id"].replace("/", "-")
        seeds[f"llhttp-{name}"] = encode_input(case["kind"], raw, eof=bool(case.get("eof")))
        seeds[f"llhttp-{name}-cut"] = encode_input(case["kind"], raw, cuts=b"\x80")
    return seeds


def write_seeds(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    seeds = conformance_seeds()
    for path in CORPUS.iterdir():
        if path.is_file() and path.suffix != ".md":
            seeds[path.name] = path.read_bytes()
    for name, data in seeds.items():
        (directory / name).write_bytes(data)
    return len(seeds)


# -- entry points -------------------------------------------------------------------------


def _paths() -> None:
    """tests/ for the shared checker; src/ only when no hopwire is installed (an installed
    build carries the extension, a fresh checkout's src/ may not)."""
    import importlib.util

    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    if importlib.util.find_spec("hopwire") is None:
        sys.path.insert(0, str(ROOT / "src"))


def replay(paths: list[str]) -> int:
    """Check saved inputs without atheris; print each finding; exit status 1 if any."""
    failed = 0
    for name in paths:
        try:
            check_input(Path(name).read_bytes())
        except FuzzFinding as exc:
            failed += 1
            print(f"== {name}\n{exc}\n")
    print(f"{len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    _paths()
    if argv[1:2] == ["--replay"]:
        return replay(argv[2:])
    if argv[1:2] == ["--seeds"]:
        print(write_seeds(Path(argv[2])), "seeds written")
        return 0
    import atheris

    global KEEP_GOING
    args = [a for a in argv if a != "--keep-going"]
    KEEP_GOING = len(args) != len(argv)
    # Only the grammar is instrumented: the pool modules that `import hopwire` brings in
    # would add coverage that no parser input can change.
    with atheris.instrument_imports(include=["hopwire._wire.parser_py", "hopwire._wire.rules"]):
        import hopwire._wire.parser_py  # noqa: F401 - instrumented before anything imports it
    import support.fuzz_peers  # noqa: F401 - after the twins, so that it gets the instrumented one

    if not any(not a.startswith("-") for a in args[1:]):
        # No corpus named: grow build/fuzz/corpus, seeded from the repository's seeds.
        seeds, corpus = WORK / "seeds", WORK / "corpus"
        write_seeds(seeds)
        corpus.mkdir(parents=True, exist_ok=True)
        args += [str(corpus), str(seeds)]
    if not any(a.startswith("-artifact_prefix=") for a in args):
        (WORK / "findings").mkdir(parents=True, exist_ok=True)
        args.append(f"-artifact_prefix={WORK / 'findings'}/")
    if not any(a.startswith("-max_len=") for a in args):
        args.append("-max_len=4096")
    atheris.Setup(args, check_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
