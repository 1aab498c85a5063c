"""The parser workloads: raw bytes plus the parse result they must give.

Each workload is built from a plain description of its messages (start line,
header fields as written on the wire, body); the raw bytes and the expected
result are both derived from that description, never from a parser, so the
correctness gate (`parser_peers.check`) judges every contender -- hopwire
included -- against the same independent answer.

A parse result is a list of normalized messages, one per HTTP message:

    (method, target, headers, body)        for a request  (bytes, bytes, ..., bytes)
    (status_code, reason, headers, body)   for a response (int, bytes, ..., bytes)

where `headers` is a list of (lower-cased name bytes, value bytes) in wire
order and `body` is the de-framed body (chunked framing removed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

Headers = list[tuple[bytes, bytes]]
Message = tuple[Union[bytes, int], bytes, Headers, bytes]
Fields = list[tuple[bytes, bytes]]

__all__ = ["WORKLOADS", "WORKLOADS_BY_NAME", "Workload", "Message", "by_name"]


@dataclass(frozen=True)
class Workload:
    name: str  # short id: --workload, test ids, JSON keys
    title: str  # one-line human description
    kind: str  # "request" or "response"
    data: bytes  # what the parser is fed, in one piece
    expected: list[Message]  # the parse result every contender must give
    # For responses: the method of the request each response answers (all GET here).
    methods: tuple[bytes, ...] = field(default=())

    @property
    def messages(self) -> int:
        return len(self.expected)


# -- builders -----------------------------------------------------------------

def _head(start: bytes, fields: Fields) -> bytes:
    return start + b"\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in fields) + b"\r\n"


def _norm(fields: Fields) -> Headers:
    return [(n.lower(), v) for n, v in fields]


def _request(method: bytes, target: bytes, fields: Fields) -> tuple[bytes, Message]:
    raw = _head(method + b" " + target + b" HTTP/1.1", fields)
    return raw, (method, target, _norm(fields), b"")


def _response(status: int, reason: bytes, fields: Fields, body: bytes,
              chunk: int = 0) -> tuple[bytes, Message]:
    raw = _head(b"HTTP/1.1 %d %s" % (status, reason), fields)
    if chunk:
        for i in range(0, len(body), chunk):
            piece = body[i:i + chunk]
            raw += b"%x\r\n%s\r\n" % (len(piece), piece)
        raw += b"0\r\n\r\n"
    else:
        raw += body
    return raw, (status, reason, _norm(fields), body)


def _filler(size: int, seed: int) -> bytes:
    """Deterministic printable body bytes (JSON-ish text), `size` long."""
    out = bytearray()
    i = seed
    while len(out) < size:
        out += b'{"id":%d,"name":"item-%05d","tags":["a","b"],"ok":true},' % (i, (i * 7919) % 100000)
        i += 1
    return bytes(out[:size])


# -- the messages -------------------------------------------------------------

DATE = b"Tue, 25 Nov 2025 21:44:00 GMT"
COOKIE = (
    b"sessionid=8f4c2a9e1b7d4e3fa6c05b2d9e8f7a61; csrftoken=Qm3xT9vLk2RZp8YwE4sNcH7uJ0aFgD5b; "
    b"_ga=GA1.2.1849302756.1732561440; _gid=GA1.2.903847561.1732561440; "
    b"theme=dark; lang=en-US; consent=analytics%3Dyes%26ads%3Dno"
)


def _browser_fields(host: bytes = b"www.example.com") -> Fields:
    # What a desktop Chrome sends for a same-origin navigation (13 fields).
    return [
        (b"Host", host),
        (b"Connection", b"keep-alive"),
        (b"Cache-Control", b"max-age=0"),
        (b"Upgrade-Insecure-Requests", b"1"),
        (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                        b"(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"),
        (b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                    b"image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
        (b"Sec-Fetch-Site", b"same-origin"),
        (b"Sec-Fetch-Mode", b"navigate"),
        (b"Sec-Fetch-Dest", b"document"),
        (b"Referer", b"https://www.example.com/articles/"),
        (b"Accept-Encoding", b"gzip, deflate, br, zstd"),
        (b"Accept-Language", b"en-US,en;q=0.9,de;q=0.8"),
        (b"Cookie", COOKIE),
    ]


def _build() -> list[Workload]:
    out = []

    raw, msg = _request(b"GET", b"/", [(b"Host", b"example.com")])
    assert raw == b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
    out.append(Workload("tiny_get", "tiny GET (1 header)", "request", raw, [msg]))

    browser_target = b"/articles/2025/strict-http-parsing?utm_source=newsletter&page=2"
    raw, msg = _request(b"GET", browser_target, _browser_fields())
    out.append(Workload("browser_get", f"browser-like GET ({len(msg[2])} headers)",
                        "request", raw, [msg]))

    body = _filler(1024, 1)
    raw, msg = _response(200, b"OK", [
        (b"Date", DATE),
        (b"Server", b"nginx/1.25.3"),
        (b"Content-Type", b"application/json; charset=utf-8"),
        (b"Content-Length", b"1024"),
        (b"Cache-Control", b"private, max-age=60"),
        (b"ETag", b'W/"400-5f3c1b2a9d8e"'),
    ], body)
    out.append(Workload("response_1k", "200 response, 6 headers, 1 KiB body (Content-Length)",
                        "response", raw, [msg], methods=(b"GET",)))

    body = _filler(10 * 1024, 2)
    raw, msg = _response(200, b"OK", [
        (b"Date", DATE),
        (b"Server", b"nginx/1.25.3"),
        (b"Content-Type", b"text/html; charset=utf-8"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Vary", b"Accept-Encoding"),
        (b"Cache-Control", b"no-cache"),
    ], body, chunk=1024)
    out.append(Workload("chunked_10k", "chunked 200 response, 10 x 1 KiB chunks",
                        "response", raw, [msg], methods=(b"GET",)))

    raws, msgs = [], []
    for i in range(100):
        raw, msg = _request(b"GET", b"/articles/2025/page-%d?ref=feed" % i, _browser_fields())
        raws.append(raw)
        msgs.append(msg)
    out.append(Workload("pipelined_100", "100 pipelined browser-like GETs (one buffer)",
                        "request", b"".join(raws), msgs))
    return out


WORKLOADS: list[Workload] = _build()
WORKLOADS_BY_NAME: dict[str, Workload] = {w.name: w for w in WORKLOADS}


def by_name(name: str) -> Workload:
    return WORKLOADS_BY_NAME[name]
