"""The reviewed list: inputs hopwire accepts on purpose although a strict peer rejects them.

The differential harnesses (tests/wire/test_fuzz_differential.py, fuzz/fuzz_parser.py)
fail when httptools (llhttp) or h11 rejects an input that hopwire accepts, or
frames a message differently, unless an entry here explains it. Each entry
names the peer, the reason in one line (with the RFC or README rule behind
it), and a predicate that recognises the case from the peer's error and what
hopwire made of the input, as narrowly as it can: an entry that matched too
much would hide the next smuggling bug.

Keep this list short. A new entry needs a reason a reviewer can check against
RFC 9110/9112 and README's "Strict by default"; "the peer is wrong" is a reason
only with the section that says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .fuzz_peers import Message, Outcome, refused_at, run_hopwire, run_httptools
from hopwire._wire import parser_py
from hopwire._wire.rules import TCHARS, TRANSFER_CODINGS

# llhttp's method table (llhttp 9): anything else is HPE_INVALID_METHOD there.
LLHTTP_METHODS = frozenset(
    b"DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH "
    b"SEARCH UNLOCK BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY "
    b"SUBSCRIBE UNSUBSCRIBE PATCH PURGE MKCALENDAR LINK UNLINK SOURCE QUERY".split())


# obs-fold: CRLF then whitespace, where the CRLF ends a field line (not an empty line).
_FOLD = re.compile(rb"(?<!\r\n)\r\n[ \t]+")


@dataclass(frozen=True)
class Allowance:
    id: str
    peers: tuple[str, ...]  # of "httptools", "h11"
    reason: str
    matches: Callable[[str, bytes, Outcome, Outcome], bool]


def _refused(mine: Outcome, theirs: Outcome) -> Message | None:
    """hopwire's version of the message the peer refused, if hopwire has it."""
    index = refused_at(theirs)
    return mine.messages[index] if index < len(mine.messages) else None


def _said(theirs: Outcome, *prefixes: str) -> bool:
    return theirs.error is not None and theirs.error.startswith(prefixes)


def _token_method_llhttp_lacks(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    message = _refused(mine, theirs)
    return (kind == "request" and _said(theirs, "HttpParserInvalidMethodError",
                                        "HttpParserError: Invalid method for HTTP/x.x request")
            and message is not None and message.start[0] not in LLHTTP_METHODS)


def _target_syntax_not_checked(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    # hopwire accepted the message, so its target is 1*(0x21-0x7E); llhttp's URL parser
    # refused its syntax (a form that does not suit the method, a byte its host or
    # path grammar lacks).
    return (kind == "request" and _refused(mine, theirs) is not None
            and _said(theirs, "HttpParserInvalidURLError"))


def _codings_before_chunked(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    message = _refused(mine, theirs)
    if message is None or not _said(
            theirs, "RemoteProtocolError: Only Transfer-Encoding: chunked is supported",
            "RemoteProtocolError: multiple Transfer-Encoding headers"):
        return False
    codings = [t.strip().lower() for name, value in message.headers
               if name == b"transfer-encoding" for t in value.split(b",")]
    if not codings or codings.count(b"chunked") > 1:
        return False
    if kind == "response":  # chunked last frames it, anything else reads until close
        return all(TCHARS.issuperset(c) and c for c in codings)
    return set(codings) <= TRANSFER_CODINGS and codings[-1] == b"chunked"


def _identical_content_lengths(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    message = _refused(mine, theirs)
    if message is None or not _said(theirs, "HttpParserError: Duplicate Content-Length",
                                    "RemoteProtocolError: conflicting Content-Length headers"):
        return False
    values = [v for n, v in message.headers if n == b"content-length"]
    return len(values) > 1 and all(v.isdigit() for v in values) and len(set(map(int, values))) == 1


def _empty_lines_before_request_line(kind: str, data: bytes, mine: Outcome,
                                     theirs: Outcome) -> bool:
    # h11 says "no request line received" for an empty line it took whole, and "illegal
    # request line" for a buffer that starts with a byte below 0x21; hopwire accepted
    # the message that follows, and the only such bytes it lets through are empty lines.
    return (kind == "request" and _refused(mine, theirs) is not None
            and _said(theirs, "RemoteProtocolError: no request line received",
                      "RemoteProtocolError: illegal request line"))


def _empty_lines_before_status_line(kind: str, data: bytes, mine: Outcome,
                                    theirs: Outcome) -> bool:
    return (kind == "response" and _refused(mine, theirs) is not None
            and _said(theirs, "RemoteProtocolError: no response line received",
                      "RemoteProtocolError: illegal request line"))  # sic: h11's words


def _obs_fold_in_response(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    """llhttp refused a response with obs-fold, and the same bytes unfolded (each fold
    replaced with one SP, as RFC 9112 §5.2 asks) get past that place: the fold was why."""
    if kind != "response" or _refused(mine, theirs) is None or not _FOLD.search(data):
        return False
    if not _said(theirs, "HttpParserError: Unexpected whitespace after header value",
                 "HttpParserError: Invalid header value char"):
        return False
    unfolded = _FOLD.sub(b" ", data)
    again = run_httptools(kind, [unfolded])
    if again.error is None or refused_at(again) > refused_at(theirs):
        return True
    # Refused at the same message for another reason: that one must be on the list too.
    mine_again = run_hopwire(parser_py, kind, [unfolded])
    return mine_again.accepted and allowed(kind, unfolded, mine_again, again) is not None


def _connect_has_no_content(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    last = len(mine.messages) - 1
    return (kind == "request" and mine.upgraded and last >= 0
            and mine.messages[last].start[0] == b"CONNECT" and refused_at(theirs) >= last)


def _http10_keep_alive(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    index = refused_at(theirs)
    if (not 0 < index < len(mine.messages)
            or not _said(theirs, "RemoteProtocolError: Got data when expecting EOF")):
        return False
    before = mine.messages[index - 1]
    tokens = {t.strip().lower() for n, v in before.headers if n in (b"connection",
              b"proxy-connection") for t in v.split(b",")}
    return before.start[-1] == b"1.0" and b"keep-alive" in tokens and b"close" not in tokens


def _upgrade_after_body(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    if not (kind == "request" and mine.upgraded and theirs.upgraded and mine.messages
            and len(mine.messages) == len(theirs.messages)):
        return False
    *before, last = zip(mine.messages, theirs.messages)
    return (all(a == b for a, b in before) and last[0].start == last[1].start
            and last[1].body == b"" and last[0].complete)


def _interim_is_bodiless(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    """A 1xx that llhttp gave a body (it knows only 100-103 as bodiless) or took as closing."""
    if kind != "response":
        return False
    for a, b in zip(mine.messages, theirs.messages):
        if 100 <= a.start[0] < 200:
            return a.start == b.start and a.body == b"" and (
                b.body != b"" or _said(theirs, "HttpParserError: Data after `Connection: close`"))
        if a != b:
            return False
    return False


def _host_field_count(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> bool:
    message = _refused(mine, theirs)
    if kind != "request" or message is None:
        return False
    hosts = sum(name == b"host" for name, _ in message.headers)
    return ((hosts == 0 and _said(theirs, "RemoteProtocolError: Missing mandatory Host: header"))
            or (hosts > 1 and _said(theirs, "RemoteProtocolError: Found multiple Host: headers")))


ALLOWED: list[Allowance] = [
    Allowance(
        "token-method", ("httptools",),
        "Any RFC 9110 §9.1 token is a method (README: 'any token method'); llhttp knows a fixed "
        "table. Methods are case-sensitive, so 'gET' is reported as is, never as GET.",
        _token_method_llhttp_lacks),
    Allowance(
        "request-target-syntax", ("httptools",),
        "The target is handed on as visible ASCII (RFC 9112 §3.2's bytes) without parsing it "
        "as a URL or checking which of the four forms suits the method: no framing depends "
        "on it, and the application's URL parser must refuse what it does not understand. "
        "llhttp parses it (authority-form only for CONNECT, a host grammar).",
        _target_syntax_not_checked),
    Allowance(
        "codings-before-chunked", ("h11",),
        "RFC 9112 §6.1/§7: codings may precede the final chunked. A request may use those of "
        "_rules.TRANSFER_CODINGS (others: 501) and must end in chunked; a response that does "
        "not end in chunked is read until close (§6.3 rule 4). Framing follows chunked alone; "
        "h11 supports only 'chunked'.",
        _codings_before_chunked),
    Allowance(
        "identical-content-lengths", ("httptools", "h11"),
        "RFC 9110 §8.6: several Content-Length fields with identical decimal values may be "
        "taken as one (README: accepted); differing ones are rejected. llhttp rejects any "
        "repetition, h11 any two that differ as strings (5 and 05).",
        _identical_content_lengths),
    Allowance(
        "empty-lines-before-request-line", ("h11",),
        "RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the "
        "request-line (README: accepted); h11 refuses any.",
        _empty_lines_before_request_line),
    Allowance(
        "empty-lines-before-status-line", ("h11",),
        "README: empty lines before a start line are accepted, a status line too (RFC 9112 "
        "§2.2 robustness; a stray CRLF after a body is a known server slip). They cannot "
        "start a message, so no framing depends on them.",
        _empty_lines_before_status_line),
    Allowance(
        "obs-fold-in-response", ("httptools",),
        "RFC 9112 §5.2: a user agent that receives obs-fold in a response replaces it with SP "
        "before interpreting the value (README: joined with one space; framing fields are "
        "read after unfolding). llhttp refuses some folds, such as an empty continuation.",
        _obs_fold_in_response),
    Allowance(
        "connect-request-has-no-content", ("h11",),
        "RFC 9110 §9.3.6: a CONNECT request has no content; bytes after its head belong to the "
        "tunnel (README: the parser stops, bytes in trailing_data). h11 reads a "
        "Content-Length or chunked body first.",
        _connect_has_no_content),
    Allowance(
        "http10-keep-alive", ("h11",),
        "README: an HTTP/1.0 message with a keep-alive connection token is persistent (RFC "
        "9112 §9.3, Appendix C.2.2), so the next message is parsed; h11 never keeps an "
        "HTTP/1.0 connection.",
        _http10_keep_alive),
    Allowance(
        "upgrade-after-body", ("httptools",),
        "RFC 9110 §7.8: the protocol switches after the request that asked for it, body "
        "included (README: upgrade after body); llhttp stops at the head and hands the body "
        "over with the upgraded bytes.",
        _upgrade_after_body),
    Allowance(
        "interim-responses-are-bodiless", ("httptools",),
        "RFC 9110 §15.2: every 1xx response ends at its header section, and persistence is "
        "decided by the final response. llhttp reads a Content-Length body after a 1xx "
        "other than 100-103, and takes an HTTP/1.0 1xx as closing the connection.",
        _interim_is_bodiless),
    Allowance(
        "host-field-count", ("h11",),
        "RFC 9112 §3.2 makes a missing Host, or more than one, a server's 400. The parser "
        "reports every field in order and leaves that answer to the server; framing does "
        "not depend on Host. (Flagged for review: see docs/SECURITY.md.)",
        _host_field_count),
]


def allowed(kind: str, data: bytes, mine: Outcome, theirs: Outcome) -> str | None:
    """The id of the entry that explains this difference, or None."""
    for entry in ALLOWED:
        if theirs.parser in entry.peers and entry.matches(kind, data, mine, theirs):
            return entry.id
    return None
