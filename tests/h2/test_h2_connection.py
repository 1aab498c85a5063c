"""Tests of the sans-I/O HTTP/2 client connection (hopwire._h2.connection).

The connection imports the codec selectors (`frames`, `hpack`): this module tests
whichever twin they chose. Run it twice, as CI does: as is (the C codec when it is
built) and with HOPWIRE_NO_EXTENSIONS=1 (the Python codec); `test_codec_twin`
says which ran and fails when HOPWIRE_REQUIRE_EXTENSIONS=1 finds no C codec.

Two kinds of server:
- `h2` (python-hyper, a test oracle only) as a real server in memory, fed our
  bytes and feeding us its own: round trips, flow control, settings, GOAWAY,
  RST_STREAM, PING. It also validates every request we send.
- a scripted server (`Script`): frames written by hand (our frame writer,
  `hyperframe` for padding, the `hpack` package's encoder so that any field can be
  sent, uppercase names and forbidden octets included), for what `h2` refuses to
  send: malformed responses, protocol errors, floods.

Every scripted exchange is also fed cut at every byte (or at random cuts) to a
fresh connection in the same state, which must give the same events.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack as hyper_hpack
import hyperframe.frame as hf
import pytest

from hopwire._pool.connection import ConnectionStateError
from hopwire._errors import LocalProtocolError, RemoteProtocolError
from hopwire._h2 import _rules as R
from hopwire._h2 import connection as C
from hopwire._h2 import frames, hpack
from hopwire._h2.connection import (
    ConnectionTerminated,
    DataReceived,
    GoAwayReceived,
    H2Connection,
    H2ConnectionFailed,
    H2LimitExceeded,
    InformationalReceived,
    PingAcked,
    ResponseReceived,
    SettingsChanged,
    StreamEnded,
    StreamIdsExhausted,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from support.twins import NO_EXTENSIONS, REQUIRE_EXTENSIONS

E = R.ErrorCode
S = R.SettingId
MiB = 1 << 20


def test_codec_twin() -> None:
    """Which codec this run tests: both selectors agree with the environment."""
    assert frames.EXTENSION_ACTIVE == hpack.EXTENSION_ACTIVE
    if NO_EXTENSIONS:
        assert not frames.EXTENSION_ACTIVE
    if REQUIRE_EXTENSIONS:
        assert frames.EXTENSION_ACTIVE


# -- the h2 server -----------------------------------------------------------------------


class Pair:
    """Our client and an h2 server, in memory."""

    def __init__(self, server_settings: dict[int, int] | None = None, **options: Any) -> None:
        self.client = H2Connection(**options)
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.server = h2.connection.H2Connection(config=config)
        self.server.initiate_connection()
        if server_settings:  # a second SETTINGS frame, right after h2's own
            self.server.update_settings(server_settings)
        self.server_events: list[Any] = []

    def to_server(self) -> list[Any]:
        events = self.server.receive_data(self.client.data_to_send())
        self.server_events += events
        return events

    def to_client(self) -> list[Any]:
        return self.client.receive_data(self.server.data_to_send())

    def settle(self) -> list[Any]:
        """Exchange bytes until neither side has any; the client's events."""
        events: list[Any] = []
        for _ in range(100):
            out = self.client.data_to_send()
            if out:
                self.server_events += self.server.receive_data(out)
            back = self.server.data_to_send()
            if not out and not back:
                return events
            if back:
                events += self.client.receive_data(back)
        raise AssertionError("no end to the exchange")

    def handshake(self) -> list[Any]:
        events = self.settle()
        assert self.client.settings_acknowledged
        return events

    def server_requests(self) -> dict[int, list[tuple[bytes, bytes]]]:
        return {e.stream_id: e.headers for e in self.server_events
                if isinstance(e, h2.events.RequestReceived)}

    def server_body(self, stream_id: int) -> bytes:
        return b"".join(e.data for e in self.server_events
                        if isinstance(e, h2.events.DataReceived) and e.stream_id == stream_id)

    def respond(self, stream_id: int, body: bytes = b"", status: bytes = b"200",
                headers: Iterable[tuple[bytes, bytes]] = (), trailers: Any = None) -> None:
        fields = [(b":status", status), *headers]
        if body:
            fields.append((b"content-length", b"%d" % len(body)))
        self.server.send_headers(stream_id, fields, end_stream=not body and not trailers)
        if body:
            self.server.send_data(stream_id, body, end_stream=not trailers)
        if trailers:
            self.server.send_headers(stream_id, trailers, end_stream=True)


def get(pair: Pair, path: str = "/", **kwargs: Any) -> int:
    return pair.client.send_request("GET", "https", "example.com", path, **kwargs)


def of(events: Iterable[Any], kind: type) -> list[Any]:
    return [e for e in events if type(e) is kind]


# -- preface and settings ------------------------------------------------------------------


def test_preface_settings_and_connection_window() -> None:
    client = H2Connection()
    out = client.data_to_send()
    assert out.startswith(R.PREFACE)
    reader_frames = list(_hyper_frames(out[len(R.PREFACE):]))
    settings, window = reader_frames
    assert isinstance(settings, hf.SettingsFrame)
    assert settings.settings == {S.ENABLE_PUSH: 0, S.INITIAL_WINDOW_SIZE: MiB,
                                 S.MAX_HEADER_LIST_SIZE: 65536}
    assert isinstance(window, hf.WindowUpdateFrame)
    assert (window.stream_id, window.window_increment) == (0, 16 * MiB - 65535)
    assert not client.settings_acknowledged and client.is_idle and client.can_open_stream()
    assert client.max_concurrent_streams == R.ASSUMED_MAX_CONCURRENT_STREAMS


def test_preface_with_other_options() -> None:
    client = H2Connection(initial_window_size=1000, connection_window=65535,
                          max_header_list_size=9999, header_table_size=0, max_frame_size=1 << 20)
    frames_ = list(_hyper_frames(client.data_to_send()[len(R.PREFACE):]))
    assert len(frames_) == 1  # no WINDOW_UPDATE: the connection window is the default
    assert frames_[0].settings == {S.ENABLE_PUSH: 0, S.INITIAL_WINDOW_SIZE: 1000,
                                   S.HEADER_TABLE_SIZE: 0, S.MAX_FRAME_SIZE: 1 << 20,
                                   S.MAX_HEADER_LIST_SIZE: 9999}


@pytest.mark.parametrize("options", [dict(initial_window_size=0),
                                     dict(connection_window=100),
                                     dict(max_frame_size=100)])
def test_options_are_checked(options: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        H2Connection(**options)


def _hyper_frames(data: bytes) -> Iterable[Any]:
    while data:
        frame, length = hf.Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9:9 + length]))
        yield frame
        data = data[9 + length:]


def test_server_settings_applied_and_acknowledged() -> None:
    pair = Pair(server_settings={S.MAX_CONCURRENT_STREAMS: 7, S.MAX_FRAME_SIZE: 20000})
    events = pair.handshake()
    first, changed = of(events, SettingsChanged)
    assert first.changed[S.MAX_CONCURRENT_STREAMS] == 100
    assert changed == SettingsChanged({S.MAX_CONCURRENT_STREAMS: 7, S.MAX_FRAME_SIZE: 20000})
    assert pair.client.max_concurrent_streams == 7
    assert pair.client._peer_max_frame_size == 20000
    # The h2 server saw our ACK of its SETTINGS.
    assert any(isinstance(e, h2.events.SettingsAcknowledged) for e in pair.server_events)


def test_server_settings_without_max_concurrent_streams_mean_unlimited() -> None:
    script = Script()
    client = H2Connection()
    events = client.receive_data(script.settings([]))
    assert events == [SettingsChanged({})]
    assert client.max_concurrent_streams == 1 << 32


def test_our_max_frame_size_binds_the_server_only_once_acknowledged() -> None:
    script = Script()
    client = H2Connection(max_frame_size=1 << 20)
    client.receive_data(script.settings())
    sid = client.send_request("GET", "https", "a", "/")
    big = script.headers(sid, [(b":status", b"200")]) + frames.data(sid, b"x" * 20000, True)
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(big)
    assert info.value.code == E.FRAME_SIZE_ERROR
    client = H2Connection(max_frame_size=1 << 20)
    client.receive_data(Script().settings() + frames.settings_ack())
    sid = client.send_request("GET", "https", "a", "/")
    events = client.receive_data(Script().headers(sid, [(b":status", b"200")])
                                 + frames.data(sid, b"x" * 20000, True))
    assert [type(e) for e in events] == [ResponseReceived, DataReceived, StreamEnded]


def test_header_table_size_from_the_server_reaches_our_encoder() -> None:
    pair = Pair(server_settings={S.HEADER_TABLE_SIZE: 0})
    pair.handshake()
    assert pair.client._encoder.table_size == 0
    for i in range(3):  # the h2 server decodes our blocks: the tables agree
        sid = get(pair, f"/{i}", headers=[("x-same", "value")])
        pair.to_server()
        assert pair.server_requests()[sid][-1] == (b"x-same", b"value")


def test_smaller_header_table_of_ours_applies_once_acknowledged() -> None:
    client = H2Connection(header_table_size=0)
    assert client._decoder.max_allowed_table_size == 4096
    client.receive_data(Script().settings() + frames.settings_ack())
    assert client._decoder.max_allowed_table_size == 0


def test_enable_push_from_a_server_is_a_protocol_error() -> None:
    client = H2Connection()
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(frames.settings([(S.ENABLE_PUSH, 1)]))
    assert info.value.code == E.PROTOCOL_ERROR and info.value.reason == C.PUSH_ENABLED[0]
    assert _goaway_sent(client) == (0, E.PROTOCOL_ERROR)


def test_server_preface_must_be_settings() -> None:
    client = H2Connection()
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(frames.ping(b"12345678"))
    assert info.value.reason == C.PREFACE_NOT_SETTINGS[0]


def _goaway_sent(client: H2Connection) -> tuple[int, int] | None:
    for frame in _hyper_frames(_strip_preface(client.data_to_send())):
        if isinstance(frame, hf.GoAwayFrame):
            return frame.last_stream_id, frame.error_code
    return None


def _strip_preface(data: bytes) -> bytes:
    return data[len(R.PREFACE):] if data.startswith(R.PREFACE) else data


# -- round trips with the h2 server ---------------------------------------------------------


def test_get_round_trip() -> None:
    pair = Pair()
    pair.handshake()
    sid = get(pair, "/index?q=1", headers=[("Accept", "*/*"), (b"User-Agent", b"hopwire")])
    assert sid == 1 and pair.client.open_streams == 1 and not pair.client.is_idle
    pair.to_server()
    assert pair.server_requests()[1] == [
        (b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"example.com"),
        (b":path", b"/index?q=1"), (b"accept", b"*/*"), (b"user-agent", b"hopwire")]
    pair.respond(1, b"Hello, world!", headers=[(b"content-type", b"text/plain")])
    events = pair.to_client()
    assert events == [
        ResponseReceived(1, 200, [(b"content-type", b"text/plain"), (b"content-length", b"13")]),
        DataReceived(1, b"Hello, world!", 13), StreamEnded(1)]
    assert pair.client.is_idle and pair.client.open_streams == 0
    pair.client.acknowledge_received_data(1, 13)
    assert get(pair) == 3


def test_request_fields_are_made_fit_for_http2() -> None:
    pair = Pair()
    pair.handshake()
    get(pair, headers=[
        ("Host", "example.com"), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"),
        ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "keep-alive"),
        ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"), ("TE", "trailers, deflate"),
        ("X-Kept", "  padded  "), ("Cookie", "a=1")])
    pair.to_server()
    assert pair.server_requests()[1] == [
        (b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"example.com"),
        (b":path", b"/"), (b"te", b"trailers"), (b"x-kept", b"padded"), (b"cookie", b"a=1")]


def test_host_becomes_authority() -> None:
    pair = Pair()
    pair.handshake()
    pair.client.send_request("GET", "HTTP", None, "/", [("Host", "h.example:8080")])
    pair.to_server()
    assert pair.server_requests()[1][:4] == [
        (b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"h.example:8080"),
        (b":path", b"/")]


def test_te_other_than_trailers_is_dropped() -> None:
    pair = Pair()
    pair.handshake()
    get(pair, headers=[("TE", "gzip")])
    pair.to_server()
    assert all(name != b"te" for name, _ in pair.server_requests()[1])


@pytest.mark.parametrize("args, reason", [
    (("GET", "https", "a", "/", [(":path", "/x")]), C.REQUEST_PSEUDO_IN_FIELDS),
    (("GET", "https", "a", "/", [("bad name", "x")]), C.REQUEST_NAME),
    (("GET", "https", "a", "/", [("", "x")]), C.REQUEST_NAME),
    (("GET", "https", "a", "/", [("x", "a\r\nb")]), C.REQUEST_VALUE),
    (("GET", "https", "a", "/", [("x", "a\x00b")]), C.REQUEST_VALUE),
    (("GE T", "https", "a", "/"), C.INVALID_METHOD),
    (("CONNECT", "https", "a:443", "/"), C.CONNECT_UNSUPPORTED),
    (("GET", "ht tp", "a", "/"), C.INVALID_SCHEME),
    (("GET", "https", "a", ""), C.INVALID_PATH),
    (("GET", "https", "a", "x"), C.INVALID_PATH),
    (("GET", "https", "a", "*"), C.INVALID_PATH),
    (("GET", "https", "a", "/a b"), C.INVALID_PATH),
    (("GET", "https", "a", "/#frag"), C.INVALID_PATH),
    (("GET", "https", "user@a", "/"), C.INVALID_AUTHORITY),
    (("GET", "https", "a/b", "/"), C.INVALID_AUTHORITY),
    (("GET", "https", "a", "/", [("Host", "b")]), C.AUTHORITY_MISMATCH),
    (("GET", "https", None, "/", [("Host", "a"), ("Host", "b")]), C.AUTHORITY_MISMATCH),
    (("POST", "https", "a", "/", [("Content-Length", "x")]), C.REQUEST_CONTENT_LENGTH),
    (("POST", "https", "a", "/", [("Content-Length", "1"), ("Content-Length", "2")]),
     C.REQUEST_CONTENT_LENGTH),
    (("POST", "https", "a", "/", [("Content-Length", "5")]), C.CONTENT_LENGTH_NOT_REACHED),
])
def test_requests_refused(args: tuple[Any, ...], reason: str) -> None:
    client = H2Connection()
    before = client.data_to_send()
    with pytest.raises(LocalProtocolError) as info:
        client.send_request(*args)
    assert info.value.reason == reason
    assert client.data_to_send() == b"" and client.open_streams == 0 and before


def test_options_request_may_have_an_asterisk_path() -> None:
    pair = Pair()
    pair.handshake()
    pair.client.send_request("OPTIONS", "https", "a", "*")
    pair.to_server()
    assert (b":path", b"*") in pair.server_requests()[1]


def test_request_header_list_over_the_server_limit_is_refused() -> None:
    pair = Pair(server_settings={S.MAX_HEADER_LIST_SIZE: 400})
    pair.handshake()
    with pytest.raises(LocalProtocolError) as info:
        get(pair, headers=[("x", "y" * 400)])
    assert info.value.reason == C.HEADER_LIST_OVER_PEER_LIMIT
    get(pair, headers=[("x", "y")])


def test_large_request_head_goes_in_continuation_frames() -> None:
    pair = Pair()
    pair.handshake()
    fields = [(f"x-{i}", "v" * 1000 + str(i)) for i in range(40)]  # ~40 KB, not indexable
    get(pair, headers=fields)
    out = pair.client.data_to_send()
    kinds = [type(f).__name__ for f in _hyper_frames(out)]
    assert kinds[0] == "HeadersFrame" and "ContinuationFrame" in kinds
    pair.server_events += pair.server.receive_data(out)
    assert pair.server_requests()[1][4:] == [(n.encode(), v.encode()) for n, v in fields]


@pytest.mark.slow  # megabytes through the windows
def test_post_with_a_body_larger_than_the_windows() -> None:
    pair = Pair()
    pair.handshake()
    body = bytes(random.Random(1).randrange(256) for _ in range(300_000))
    sid = pair.client.send_request("POST", "https", "a", "/up",
                                   [("content-length", str(len(body)))], end_stream=False)
    sent = 0
    blocked = 0
    while sent < len(body):
        room = pair.client.sendable(sid)
        if room == 0:
            blocked += 1
            pair.to_server()
            for event in pair.server_events:
                if isinstance(event, h2.events.DataReceived) and not getattr(event, "_acked", 0):
                    pair.server.acknowledge_received_data(event.flow_controlled_length,
                                                          event.stream_id)
                    event._acked = 1
            events = pair.to_client()
            assert of(events, WindowUpdated)
            continue
        taken = pair.client.send_data(sid, body[sent:], end_stream=True)
        assert taken == min(room, len(body) - sent)
        sent += taken
    assert blocked >= 4  # 65,535-octet windows: the server's acks unblocked us
    assert pair.client.sendable(sid) == 0  # ended: nothing more may be sent
    pair.settle()
    assert pair.server_body(sid) == body
    assert any(isinstance(e, h2.events.StreamEnded) for e in pair.server_events)
    pair.respond(sid, b"ok")
    assert of(pair.to_client(), StreamEnded) == [StreamEnded(sid)]


def test_send_data_splits_at_the_servers_max_frame_size() -> None:
    pair = Pair(server_settings={S.MAX_FRAME_SIZE: 20000, S.INITIAL_WINDOW_SIZE: 1 << 20})
    pair.handshake()
    pair.server.increment_flow_control_window(1 << 20)
    pair.to_client()
    sid = pair.client.send_request("POST", "https", "a", "/", end_stream=False)
    pair.client.data_to_send()
    assert pair.client.send_data(sid, bytearray(50000), end_stream=True) == 50000
    sizes = [(len(f.data), "END_STREAM" in f.flags) for f in
             _hyper_frames(pair.client.data_to_send())]
    assert sizes == [(20000, False), (20000, False), (10000, True)]


def test_send_data_takes_what_the_window_allows_and_ends_only_when_all_went() -> None:
    pair = Pair()
    pair.handshake()
    sid = pair.client.send_request("POST", "https", "a", "/", end_stream=False)
    assert pair.client.sendable(sid) == 65535
    assert pair.client.send_data(sid, memoryview(b"x" * 70000), end_stream=True) == 65535
    assert pair.client.sendable(sid) == 0
    assert pair.client.send_data(sid, b"rest", end_stream=True) == 0
    assert pair.client.open_streams == 1  # not ended
    pair.settle()
    assert not any(isinstance(e, h2.events.StreamEnded) for e in pair.server_events)
    pair.server.acknowledge_received_data(65535, sid)
    pair.settle()
    assert pair.client.send_data(sid, b"x" * 4465, end_stream=True) == 4465
    pair.settle()
    assert len(pair.server_body(sid)) == 70000
    assert any(isinstance(e, h2.events.StreamEnded) for e in pair.server_events)


def test_request_content_length_is_held_to() -> None:
    client = H2Connection()
    sid = client.send_request("PUT", "https", "a", "/", [("content-length", "4")],
                              end_stream=False)
    with pytest.raises(LocalProtocolError) as info:
        client.send_data(sid, b"12345")
    assert info.value.reason == C.CONTENT_LENGTH_EXCEEDED
    with pytest.raises(LocalProtocolError) as info:
        client.send_data(sid, b"123", end_stream=True)
    assert info.value.reason == C.CONTENT_LENGTH_NOT_REACHED
    assert client.send_data(sid, b"123") == 3
    with pytest.raises(LocalProtocolError):
        client.end_stream(sid)
    assert client.send_data(sid, b"4", end_stream=True) == 1
    with pytest.raises(ConnectionStateError):
        client.send_data(sid, b"")


def test_sending_on_unknown_or_ended_streams_is_refused() -> None:
    client = H2Connection()
    with pytest.raises(ConnectionStateError):
        client.send_data(1, b"x")
    sid = client.send_request("GET", "https", "a", "/")
    with pytest.raises(ConnectionStateError):
        client.send_data(sid, b"x")
    with pytest.raises(TypeError):
        client.send_data(client.send_request("POST", "https", "a", "/", end_stream=False),
                         "text")  # type: ignore[arg-type]


def test_many_concurrent_streams_answered_out_of_order() -> None:
    pair = Pair()
    pair.handshake()
    assert pair.client.max_concurrent_streams == 100
    ids = []
    while pair.client.can_open_stream():
        ids.append(get(pair, f"/{len(ids)}"))
    assert len(ids) == 100 and ids == list(range(1, 200, 2))
    assert pair.client.streams_left == 0
    with pytest.raises(ConnectionStateError):
        get(pair)
    pair.to_server()
    order = list(ids)
    random.Random(3).shuffle(order)
    for sid in order:
        pair.respond(sid, b"body of %d" % sid)
    events = pair.to_client()
    ended = [e.stream_id for e in of(events, StreamEnded)]
    assert ended == order
    for sid in ids:
        data = [e.data for e in of(events, DataReceived) if e.stream_id == sid]
        assert data == [b"body of %d" % sid]
    assert pair.client.is_idle and pair.client.streams_left == 100


def test_server_lowers_max_concurrent_streams() -> None:
    pair = Pair()
    pair.handshake()
    a, b, c = get(pair), get(pair), get(pair)
    pair.to_server()
    pair.server.update_settings({S.MAX_CONCURRENT_STREAMS: 2})
    events = pair.to_client()
    assert SettingsChanged({S.MAX_CONCURRENT_STREAMS: 2}) in events
    assert not pair.client.can_open_stream()
    pair.respond(a)
    pair.to_client()
    assert not pair.client.can_open_stream()  # 2 open, 2 allowed
    pair.respond(b)
    pair.to_client()
    assert pair.client.can_open_stream() and pair.client.streams_left == 1
    get(pair)
    assert not pair.client.can_open_stream()
    assert pair.client.open_streams == 2 and c in pair.client._streams


def test_server_changes_initial_window_size_mid_connection() -> None:
    pair = Pair()
    pair.handshake()
    sid = pair.client.send_request("POST", "https", "a", "/", end_stream=False)
    assert pair.client.send_data(sid, b"x" * 30000) == 30000
    pair.to_server()
    assert pair.client.sendable(sid) == 35535
    pair.server.update_settings({S.INITIAL_WINDOW_SIZE: 10000})
    events = pair.settle()
    assert SettingsChanged({S.INITIAL_WINDOW_SIZE: 10000}) in events
    assert pair.client._streams[sid].send_window == 10000 - 30000  # negative: §6.9.2
    assert pair.client.sendable(sid) == 0
    assert pair.client.send_data(sid, b"y") == 0
    pair.server.update_settings({S.INITIAL_WINDOW_SIZE: 100000})
    pair.settle()
    assert pair.client._streams[sid].send_window == 100000 - 30000
    assert pair.client.sendable(sid) == 35535  # the connection's window is the smaller
    new = pair.client.send_request("POST", "https", "a", "/", end_stream=False)
    assert pair.client._streams[new].send_window == 100000


def test_initial_window_size_overflow_is_a_flow_control_error() -> None:
    script = Script()
    client = H2Connection()
    client.receive_data(script.settings())
    sid = client.send_request("POST", "https", "a", "/", end_stream=False)
    client.receive_data(frames.window_update(sid, R.MAX_WINDOW_SIZE - 65535))
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(frames.settings([(S.INITIAL_WINDOW_SIZE, 65536)]))
    assert info.value.code == E.FLOW_CONTROL_ERROR
    assert info.value.reason == C.INITIAL_WINDOW_OVERFLOW[0]


# -- flow control of what we receive -----------------------------------------------------------


def test_download_larger_than_the_stream_window_waits_for_acknowledgements() -> None:
    pair = Pair()
    pair.handshake()
    sid = get(pair)
    pair.to_server()
    body = b"z" * (3 * MiB)
    pair.server.send_headers(sid, [(b":status", b"200")])
    sent = 0
    received = 0
    stalls = 0
    updates = 0
    while received < len(body):
        room = min(pair.server.local_flow_control_window(sid), len(body) - sent)
        while room > 0:
            chunk = min(room, pair.server.max_outbound_frame_size)
            end = sent + chunk == len(body)
            pair.server.send_data(sid, body[sent:sent + chunk], end_stream=end)
            sent += chunk
            room -= chunk
        events = pair.to_client()
        got = sum(len(e.data) for e in of(events, DataReceived))
        received += got
        if pair.server.local_flow_control_window(sid) == 0:
            stalls += 1
            assert pair.client.data_to_send() == b""  # nothing consumed: no window given back
        # The application reads everything now.
        pair.client.acknowledge_received_data(sid, got)
        out = pair.client.data_to_send()
        updates += sum(1 for f in _hyper_frames(out) if isinstance(f, hf.WindowUpdateFrame))
        pair.server.receive_data(out)
    assert received == len(body) and stalls >= 2
    # Batched: 3 MiB at half a 1 MiB window per stream WINDOW_UPDATE, fewer for the connection.
    assert updates <= 8


def test_window_updates_are_batched_by_half_a_window() -> None:
    script = Script()
    client = H2Connection(initial_window_size=1000, connection_window=100_000)
    client.receive_data(script.settings())
    client.data_to_send()
    sid = client.send_request("GET", "https", "a", "/")
    client.data_to_send()
    client.receive_data(script.headers(sid, [(b":status", b"200")])
                        + frames.data(sid, b"x" * 1000))
    client.acknowledge_received_data(sid, 499)
    assert client.data_to_send() == b""
    client.acknowledge_received_data(sid, 1)
    assert client.data_to_send() == frames.window_update(sid, 500)
    with pytest.raises(ValueError):
        client.acknowledge_received_data(sid, 501)
    with pytest.raises(ValueError):
        client.acknowledge_received_data(sid, -1)
    client.acknowledge_received_data(sid, 500)
    assert client.data_to_send() == frames.window_update(sid, 500)


def test_no_stream_window_update_after_end_stream_but_the_connection_gets_its_own() -> None:
    script = Script()
    client = H2Connection(connection_window=65535 * 2)
    client.receive_data(script.settings())
    sid = client.send_request("GET", "https", "a", "/")
    client.data_to_send()
    client.receive_data(script.headers(sid, [(b":status", b"200")])
                        + frames.data(sid, b"x" * 16384) + frames.data(sid, b"x" * 16384)
                        + frames.data(sid, b"x" * 16384) + frames.data(sid, b"x" * 16384, True))
    assert client.is_idle
    client.acknowledge_received_data(sid, 65536)  # after the stream closed: still counted
    assert client.data_to_send() == frames.window_update(0, 65536)


def test_padding_is_given_back_without_acknowledgement() -> None:
    script = Script()
    client = H2Connection(initial_window_size=300, connection_window=65535)
    client.receive_data(script.settings())
    sid = client.send_request("GET", "https", "a", "/")
    client.data_to_send()
    padded = hf.DataFrame(sid, data=b"abc", flags=["PADDED"])
    padded.pad_length = 200
    events = client.receive_data(script.headers(sid, [(b":status", b"200")]) + padded.serialize())
    assert events[-1] == DataReceived(sid, b"abc", 204)
    # 201 octets of padding counted as consumed: past half the stream window.
    assert client.data_to_send() == frames.window_update(sid, 201)


def test_reset_stream_gives_unread_octets_back_and_ignores_late_data() -> None:
    script = Script()
    client = H2Connection(connection_window=65535)
    client.receive_data(script.settings())
    sid = client.send_request("GET", "https", "a", "/")
    client.data_to_send()
    client.receive_data(script.headers(sid, [(b":status", b"200")])
                        + frames.data(sid, b"x" * 16000))
    client.reset_stream(sid)
    assert client.open_streams == 0 and client.is_idle
    out = client.data_to_send()
    assert out == frames.rst_stream(sid, E.CANCEL)
    # Late DATA: ignored, no event, but the connection window is given back.
    events = client.receive_data(frames.data(sid, b"y" * 16000) + frames.data(sid, b"y" * 1000))
    assert events == []
    assert client.data_to_send() == frames.window_update(0, 33000)
    client.acknowledge_received_data(sid, 16000)  # ignored: the reset gave them back
    assert client.data_to_send() == b""
    client.reset_stream(sid)  # a closed stream: nothing to do
    assert client.data_to_send() == b""


def test_reset_stream_is_seen_by_the_server() -> None:
    pair = Pair()
    pair.handshake()
    sid = get(pair)
    pair.client.reset_stream(sid, E.CANCEL)
    pair.to_server()
    resets = [e for e in pair.server_events if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(sid, E.CANCEL)]


def test_data_beyond_the_stream_window_is_a_stream_error() -> None:
    script = Script()
    client = H2Connection(initial_window_size=100)
    client.receive_data(script.settings())
    sid = client.send_request("GET", "https", "a", "/")
    client.data_to_send()
    events = client.receive_data(script.headers(sid, [(b":status", b"200")])
                                 + frames.data(sid, b"x" * 101))
    assert events[-1] == StreamReset(sid, E.FLOW_CONTROL_ERROR, False, False,
                                     C.STREAM_WINDOW_EXCEEDED[0])
    assert frames.rst_stream(sid, E.FLOW_CONTROL_ERROR) in client.data_to_send()


def test_data_beyond_the_connection_window_is_a_connection_error() -> None:
    script = Script()
    client = H2Connection(connection_window=65535)
    client.receive_data(script.settings())
    sid = client.send_request("GET", "https", "a", "/")
    data = script.headers(sid, [(b":status", b"200")])
    data += b"".join(frames.data(sid, b"x" * 16384) for _ in range(4))
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(data)
    assert info.value.code == E.FLOW_CONTROL_ERROR
    assert info.value.reason == C.CONNECTION_WINDOW_EXCEEDED[0]
    assert [type(e) for e in info.value.events] == [ResponseReceived] + [DataReceived] * 3


def test_window_update_overflow() -> None:
    script = Script()
    client = H2Connection()
    client.receive_data(script.settings())
    sid = client.send_request("POST", "https", "a", "/", end_stream=False)
    client.data_to_send()
    events = client.receive_data(frames.window_update(sid, R.MAX_WINDOW_SIZE))
    assert events == [StreamReset(sid, E.FLOW_CONTROL_ERROR, False, False,
                                  C.STREAM_WINDOW_OVERFLOW[0])]
    assert client.data_to_send() == frames.rst_stream(sid, E.FLOW_CONTROL_ERROR)
    events = client.receive_data(frames.window_update(0, R.MAX_WINDOW_SIZE - 65535))
    assert events == [WindowUpdated(0, R.MAX_WINDOW_SIZE - 65535)]
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(frames.window_update(0, 1))
    assert (info.value.code, info.value.reason) == (E.FLOW_CONTROL_ERROR,
                                                    C.CONNECTION_WINDOW_OVERFLOW[0])


def test_window_updated_only_for_streams_still_sending() -> None:
    script = Script()
    client = H2Connection()
    client.receive_data(script.settings())
    done = client.send_request("GET", "https", "a", "/")
    sending = client.send_request("POST", "https", "a", "/", end_stream=False)
    events = client.receive_data(frames.window_update(done, 10) + frames.window_update(sending, 10))
    assert events == [WindowUpdated(sending, 10)]
    assert client.sendable(sending) == 65535  # the connection's window still limits
    client.receive_data(frames.window_update(0, 100))
    assert client.sendable(sending) == 65545


# -- GOAWAY, RST_STREAM, PING ------------------------------------------------------------------


def test_goaway_reports_streams_above_last_stream_id_as_unprocessed() -> None:
    pair = Pair()
    pair.handshake()
    ids = [get(pair, f"/{i}") for i in range(4)]  # 1, 3, 5, 7
    pair.client.send_request("POST", "https", "a", "/", end_stream=False)  # 9
    pair.to_server()
    # (h2 sends nothing after its own GOAWAY: this one is ours, the answers are h2's.)
    events = pair.client.receive_data(frames.goaway(3, 0))
    assert events == [GoAwayReceived(3, 0, b""), StreamReset(5, 0, True, True),
                      StreamReset(7, 0, True, True), StreamReset(9, 0, True, True)]
    assert not pair.client.can_open_stream() and pair.client.is_closing
    with pytest.raises(ConnectionStateError):
        get(pair)
    pair.respond(1, b"one")
    events = pair.to_client()
    assert of(events, StreamEnded) == [StreamEnded(1)] and not pair.client.is_closed
    pair.respond(3, b"three")
    events = pair.to_client()
    assert events[-2:] == [StreamEnded(3), ConnectionTerminated(0, 3)]
    assert pair.client.is_closed and not pair.client.is_closing
    assert pair.client.unanswered() == ([], [])
    assert ids == [1, 3, 5, 7]


def test_goaway_twice_keeps_the_smaller_last_stream_id() -> None:
    script = Script()
    client = H2Connection()
    client.receive_data(script.settings())
    for _ in range(3):
        client.send_request("GET", "https", "a", "/")
    events = client.receive_data(frames.goaway(R.MAX_STREAM_ID, 0))
    assert events == [GoAwayReceived(R.MAX_STREAM_ID, 0)]
    events = client.receive_data(frames.goaway(1, 0) + frames.goaway(5, 0))
    assert events == [GoAwayReceived(1, 0), StreamReset(3, 0, True, True),
                      StreamReset(5, 0, True, True), GoAwayReceived(5, 0)]


def test_goaway_with_an_error_and_then_eof() -> None:
    pair = Pair()
    pair.handshake()
    a = get(pair)
    b = pair.client.send_request("POST", "https", "a", "/", end_stream=False)
    c = get(pair)
    pair.to_server()
    pair.respond(c, status=b"204")
    pair.to_client()
    pair.server.close_connection(error_code=E.INTERNAL_ERROR, additional_data=b"bye",
                                 last_stream_id=b)
    events = pair.to_client()
    assert events[0] == GoAwayReceived(b, E.INTERNAL_ERROR, b"bye")
    assert pair.client.is_closing
    assert pair.client.receive_eof() == [ConnectionTerminated(E.INTERNAL_ERROR, b)]
    assert pair.client.is_closed and pair.client.receive_eof() == []
    # GET without an answer: may go again; the POST may have been processed.
    assert pair.client.unanswered() == ([a], [b])
    assert pair.client.unanswered(replay_unsafe=True) == ([a, b], [])
    with pytest.raises(ConnectionStateError):
        pair.client.receive_data(b"")


def test_rst_stream_refused_stream_is_unprocessed() -> None:
    pair = Pair()
    pair.handshake()
    a, b = get(pair), get(pair)
    pair.to_server()
    pair.server.reset_stream(a, E.REFUSED_STREAM)
    pair.server.send_headers(b, [(b":status", b"200")])
    pair.server.reset_stream(b, E.REFUSED_STREAM)  # after an answer began: processed
    events = pair.to_client()
    assert events == [StreamReset(a, E.REFUSED_STREAM, True, True),
                      ResponseReceived(b, 200, []), StreamReset(b, E.REFUSED_STREAM, True, False)]
    assert pair.client.is_idle


def test_rst_stream_no_error_after_a_complete_response() -> None:
    """§8.1: a server may answer before the request ends, then reset it with NO_ERROR."""
    pair = Pair()
    pair.handshake()
    sid = pair.client.send_request("POST", "https", "a", "/", end_stream=False)
    pair.client.send_data(sid, b"part")
    pair.to_server()
    pair.respond(sid, b"early")
    pair.server.reset_stream(sid, E.NO_ERROR)
    events = pair.to_client()
    assert events == [ResponseReceived(sid, 200, [(b"content-length", b"5")]),
                      DataReceived(sid, b"early", 5), StreamEnded(sid),
                      StreamReset(sid, E.NO_ERROR, True, False)]
    with pytest.raises(ConnectionStateError):
        pair.client.send_data(sid, b"more")
    # Its data is still the application's to read: acknowledging it is harmless.
    pair.client.acknowledge_received_data(sid, 5)


def test_server_answers_early_while_we_still_send() -> None:
    pair = Pair()
    pair.handshake()
    sid = pair.client.send_request("POST", "https", "a", "/", end_stream=False)
    pair.to_server()
    pair.respond(sid, b"early")
    events = pair.to_client()
    assert events[-1] == StreamEnded(sid) and pair.client.open_streams == 1
    assert pair.client.send_data(sid, b"rest", end_stream=True) == 4
    assert pair.client.open_streams == 0


def test_ping_both_ways() -> None:
    pair = Pair()
    pair.handshake()
    pair.server.ping(b"srv-ping")
    assert pair.to_client() == []  # answered, no event
    events = pair.to_server()
    assert [(type(e).__name__, e.ping_data) for e in events] == [("PingAckReceived", b"srv-ping")]
    opaque = pair.client.ping()
    assert pair.client.pending_pings == 1
    mine = pair.client.ping(b"12345678")
    pair.to_server()
    events = pair.to_client()
    assert events == [PingAcked(opaque), PingAcked(mine)] and pair.client.pending_pings == 0
    # An answer to nothing we sent is ignored.
    assert pair.client.receive_data(frames.ping(b"87654321", ack=True)) == []


def test_push_promise_is_a_protocol_error() -> None:
    script = Script()
    client = H2Connection()
    client.receive_data(script.settings())
    sid = client.send_request("GET", "https", "a", "/")
    block = script.block([(b":method", b"GET")])
    frame = hf.PushPromiseFrame(sid, promised_stream_id=2, data=block,
                                flags=["END_HEADERS"])
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(frame.serialize())
    assert (info.value.code, info.value.reason) == (E.PROTOCOL_ERROR, C.PUSH_PROMISE_REFUSED[0])


# -- malformed responses: crafted by a scripted server ----------------------------------------


class Script:
    """A server written frame by frame: its own HPACK encoder (the `hpack` package's,
    which sends any octets), our frame writer for the rest."""

    def __init__(self) -> None:
        self.encoder = hyper_hpack.Encoder()

    def settings(self, pairs: list[tuple[int, int]] | None = None) -> bytes:
        return frames.settings([(S.MAX_CONCURRENT_STREAMS, 100)] if pairs is None else pairs)

    def block(self, fields: list[tuple[bytes, bytes]]) -> bytes:
        return bytes(self.encoder.encode(fields, huffman=False))

    def headers(self, stream_id: int, fields: list[tuple[bytes, bytes]],
                end_stream: bool = False) -> bytes:
        return frames.headers(stream_id, self.block(fields), end_stream)


OK = [(b":status", b"200")]
Fields = list[tuple[bytes, bytes]]

# (id, method, frames as [("h", fields, end_stream) | ("d", data, end_stream)], reason)
MALFORMED: list[tuple[str, str, list[tuple[str, Any, bool]], str]] = [
    ("missing-status", "GET", [("h", [(b"content-type", b"x")], True)], C.MISSING_STATUS),
    ("empty-head", "GET", [("h", [], True)], C.MISSING_STATUS),
    ("duplicate-status", "GET", [("h", OK + OK, True)], C.DUPLICATE_STATUS),
    ("unknown-pseudo", "GET", [("h", OK + [(b":foo", b"x")], True)], C.UNKNOWN_PSEUDO_HEADER),
    ("unknown-pseudo-first", "GET", [("h", [(b":foo", b"x")] + OK, True)],
     C.UNKNOWN_PSEUDO_HEADER),
    ("request-pseudo", "GET", [("h", OK + [(b":path", b"/")], True)], C.REQUEST_PSEUDO_HEADER),
    ("request-pseudo-first", "GET", [("h", [(b":method", b"GET")] + OK, True)],
     C.REQUEST_PSEUDO_HEADER),
    ("pseudo-after-field", "GET", [("h", [(b"x", b"1")] + OK, True)],
     C.PSEUDO_HEADER_AFTER_FIELD),
    ("pseudo-after-field-2", "GET", [("h", OK + [(b"x", b"1"), (b":status", b"200")], True)],
     C.PSEUDO_HEADER_AFTER_FIELD),
    ("status-letters", "GET", [("h", [(b":status", b"2oo")], True)], C.INVALID_STATUS),
    ("status-short", "GET", [("h", [(b":status", b"20")], True)], C.INVALID_STATUS),
    ("status-zero", "GET", [("h", [(b":status", b"099")], True)], C.INVALID_STATUS),
    ("status-101", "GET", [("h", [(b":status", b"101")], False)], C.SWITCHING_PROTOCOLS),
    ("uppercase-name", "GET", [("h", OK + [(b"Content-Type", b"x")], True)], C.INVALID_NAME),
    ("space-in-name", "GET", [("h", OK + [(b"x y", b"1")], True)], C.INVALID_NAME),
    ("empty-name", "GET", [("h", OK + [(b"", b"1")], True)], C.INVALID_NAME),
    ("cr-in-value", "GET", [("h", OK + [(b"x", b"a\rb")], True)], C.INVALID_VALUE),
    ("lf-in-value", "GET", [("h", OK + [(b"x", b"a\nb")], True)], C.INVALID_VALUE),
    ("nul-in-value", "GET", [("h", OK + [(b"x", b"a\x00b")], True)], C.INVALID_VALUE),
    ("leading-space", "GET", [("h", OK + [(b"x", b" a")], True)], C.INVALID_VALUE),
    ("trailing-tab", "GET", [("h", OK + [(b"server", b"a\t")], True)], C.INVALID_VALUE),
    ("connection", "GET", [("h", OK + [(b"connection", b"close")], True)], C.CONNECTION_SPECIFIC),
    ("keep-alive", "GET", [("h", OK + [(b"keep-alive", b"timeout=5")], True)],
     C.CONNECTION_SPECIFIC),
    ("proxy-connection", "GET", [("h", OK + [(b"proxy-connection", b"close")], True)],
     C.CONNECTION_SPECIFIC),
    ("transfer-encoding", "GET", [("h", OK + [(b"transfer-encoding", b"chunked")], True)],
     C.CONNECTION_SPECIFIC),
    ("upgrade", "GET", [("h", OK + [(b"upgrade", b"h2c")], True)], C.CONNECTION_SPECIFIC),
    ("te-gzip", "GET", [("h", OK + [(b"te", b"gzip")], True)], C.TE_NOT_TRAILERS),
    ("content-length-letters", "GET", [("h", OK + [(b"content-length", b"1x")], True)],
     C.INVALID_CONTENT_LENGTH),
    ("content-length-negative", "GET", [("h", OK + [(b"content-length", b"-1")], True)],
     C.INVALID_CONTENT_LENGTH),
    ("content-length-list", "GET", [("h", OK + [(b"content-length", b"1, 2")], False)],
     C.CONFLICTING_CONTENT_LENGTH),
    ("content-length-twice", "GET",
     [("h", OK + [(b"content-length", b"1"), (b"content-length", b"2")], False)],
     C.CONFLICTING_CONTENT_LENGTH),
    ("content-too-long", "GET",
     [("h", OK + [(b"content-length", b"3")], False), ("d", b"ab", False), ("d", b"cd", True)],
     C.CONTENT_TOO_LONG),
    ("content-too-short", "GET",
     [("h", OK + [(b"content-length", b"3")], False), ("d", b"ab", True)], C.CONTENT_TOO_SHORT),
    ("content-too-short-headers", "GET", [("h", OK + [(b"content-length", b"3")], True)],
     C.CONTENT_TOO_SHORT),
    ("content-too-short-trailers", "GET",
     [("h", OK + [(b"content-length", b"3")], False), ("d", b"ab", False),
      ("h", [(b"x", b"1")], True)], C.CONTENT_TOO_SHORT),
    ("data-to-head", "HEAD", [("h", OK, False), ("d", b"x", True)], C.CONTENT_NOT_ALLOWED),
    ("data-in-204", "GET", [("h", [(b":status", b"204")], False), ("d", b"x", True)],
     C.CONTENT_NOT_ALLOWED),
    ("data-in-304", "GET", [("h", [(b":status", b"304")], False), ("d", b"x", True)],
     C.CONTENT_NOT_ALLOWED),
    ("data-first", "GET", [("d", b"x", True)], C.DATA_BEFORE_RESPONSE),
    ("data-after-100", "GET", [("h", [(b":status", b"100")], False), ("d", b"x", True)],
     C.DATA_BEFORE_RESPONSE),
    ("informational-end-stream", "GET", [("h", [(b":status", b"103")], True)],
     C.INFORMATIONAL_END_STREAM),
    ("second-response", "GET", [("h", OK, False), ("h", OK, False)],
     C.TRAILERS_WITHOUT_END_STREAM),
    ("trailers-without-end-stream", "GET", [("h", OK, False), ("d", b"x", False),
                                            ("h", [(b"x", b"1")], False)],
     C.TRAILERS_WITHOUT_END_STREAM),
    ("pseudo-in-trailers", "GET", [("h", OK, False), ("h", [(b"x", b"1")] + OK, True)],
     C.PSEUDO_HEADER_IN_TRAILERS),
    ("connection-in-trailers", "GET", [("h", OK, False), ("h", [(b"connection", b"x")], True)],
     C.CONNECTION_SPECIFIC),
]


def _script_bytes(script: Script, sid: int, steps: list[tuple[str, Any, bool]]) -> bytes:
    out = b""
    for kind, what, end in steps:
        out += script.headers(sid, what, end) if kind == "h" else frames.data(sid, what, end)
    return out


def _ready(method: str = "GET") -> tuple[H2Connection, Script, int]:
    """A connection past the handshake with one stream open (id 1)."""
    script = Script()
    client = H2Connection()
    client.receive_data(script.settings() + frames.settings_ack())
    sid = client.send_request(method, "https", "a", "/")
    client.data_to_send()
    return client, script, sid


@pytest.mark.parametrize("method, steps, reason", [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_response_fails_its_stream_only(method: str, steps: list[Any],
                                                  reason: str) -> None:
    client, script, sid = _ready(method)
    other = client.send_request("GET", "https", "a", "/other")
    client.data_to_send()
    data = _script_bytes(script, sid, steps)
    events = client.receive_data(data)
    assert events[-1] == StreamReset(sid, E.PROTOCOL_ERROR, False, False, reason)
    assert not of(events, StreamEnded)
    assert client.data_to_send() == frames.rst_stream(sid, E.PROTOCOL_ERROR)
    assert client.open_streams == 1
    # The connection and its HPACK table go on: the other stream is answered.
    events = client.receive_data(script.headers(other, OK + [(b"x-after", b"yes")], True))
    assert events == [ResponseReceived(other, 200, [(b"x-after", b"yes")]), StreamEnded(other)]
    # Late frames on the refused stream are ignored.
    assert client.receive_data(frames.data(sid, b"late") + frames.rst_stream(sid, 0)) == []
    assert_splits_agree(lambda: _ready(method)[0], data)


def test_malformed_response_after_its_head() -> None:
    client, script, sid = _ready()
    events = client.receive_data(script.headers(sid, OK + [(b"content-length", b"2")])
                                 + frames.data(sid, b"abc", True))
    assert events == [ResponseReceived(sid, 200, [(b"content-length", b"2")]),
                      StreamReset(sid, E.PROTOCOL_ERROR, False, False, C.CONTENT_TOO_LONG)]


@pytest.mark.parametrize("fields, length", [
    ([(b"content-length", b"5")], 5),
    ([(b"content-length", b"5, 5")], 5),
    ([(b"content-length", b"5"), (b"content-length", b"5")], 5),
    ([(b"te", b"trailers")], -1),
])
def test_well_formed_variants(fields: Fields, length: int) -> None:
    client, script, sid = _ready()
    data = script.headers(sid, OK + fields)
    if length > 0:
        data += frames.data(sid, b"x" * length, True)
    else:
        data += frames.data(sid, b"", True)
    events = client.receive_data(data)
    assert [type(e) for e in events][0] is ResponseReceived and events[-1] == StreamEnded(sid)


def test_head_and_304_may_state_a_content_length() -> None:
    for method, status in (("HEAD", b"200"), ("GET", b"304"), ("GET", b"204")):
        client, script, sid = _ready(method)
        events = client.receive_data(script.headers(sid, [(b":status", status),
                                                          (b"content-length", b"100")], True))
        assert events[-1] == StreamEnded(sid), (method, status)
        client, script, sid = _ready(method)
        events = client.receive_data(script.headers(sid, [(b":status", status),
                                                          (b"content-length", b"100")])
                                     + frames.data(sid, b"", True))
        assert events[-1] == StreamEnded(sid), (method, status)


def test_informational_then_final_then_trailers() -> None:
    client, script, sid = _ready()
    data = (script.headers(sid, [(b":status", b"103"), (b"link", b"</a.css>")])
            + script.headers(sid, [(b":status", b"100")])
            + script.headers(sid, OK + [(b"trailer", b"x-checksum")])
            + frames.data(sid, b"body")
            + script.headers(sid, [(b"x-checksum", b"abc")], True))
    events = client.receive_data(data)
    assert events == [InformationalReceived(sid, 103, [(b"link", b"</a.css>")]),
                      InformationalReceived(sid, 100, []),
                      ResponseReceived(sid, 200, [(b"trailer", b"x-checksum")]),
                      DataReceived(sid, b"body", 4),
                      TrailersReceived(sid, [(b"x-checksum", b"abc")]), StreamEnded(sid)]
    assert_splits_agree(lambda: _ready()[0], data)


def test_informational_and_trailers_from_the_h2_server() -> None:
    pair = Pair()
    pair.handshake()
    sid = get(pair)
    pair.to_server()
    pair.server.send_headers(sid, [(b":status", b"103"), (b"link", b"</s.css>")])
    pair.respond(sid, b"data", trailers=[(b"grpc-status", b"0")])
    events = pair.to_client()
    assert events == [InformationalReceived(sid, 103, [(b"link", b"</s.css>")]),
                      ResponseReceived(sid, 200, [(b"content-length", b"4")]),
                      DataReceived(sid, b"data", 4),
                      TrailersReceived(sid, [(b"grpc-status", b"0")]), StreamEnded(sid)]


# -- HPACK errors ----------------------------------------------------------------------------


def test_hpack_error_is_a_compression_error() -> None:
    client, script, sid = _ready()
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(frames.headers(sid, b"\x80", True))  # index 0
    assert info.value.code == E.COMPRESSION_ERROR and info.value.reason == C.COMPRESSION[0]
    assert isinstance(info.value.error, hpack.HPACKError)
    assert isinstance(info.value, RemoteProtocolError)
    assert _goaway_sent(client) == (0, E.COMPRESSION_ERROR)
    assert client.is_closed and not client.can_open_stream()
    with pytest.raises(ConnectionStateError):
        client.receive_data(b"")
    with pytest.raises(ConnectionStateError):
        client.send_request("GET", "https", "a", "/")


def test_hpack_error_on_a_reset_stream_is_still_a_compression_error() -> None:
    client, script, sid = _ready()
    client.reset_stream(sid)
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(frames.headers(sid, b"\x80", True))
    assert info.value.code == E.COMPRESSION_ERROR


def test_header_list_too_large_is_a_stream_error_and_the_table_stays_in_step() -> None:
    script = Script()
    client = H2Connection(max_header_list_size=200)
    client.receive_data(script.settings() + frames.settings_ack())
    a = client.send_request("GET", "https", "a", "/")
    b = client.send_request("GET", "https", "a", "/")
    big = [(b":status", b"200"), (b"x-big", b"v" * 150), (b"x-small", b"s")]
    events = client.receive_data(script.headers(a, big, True))
    assert events == [StreamReset(a, E.ENHANCE_YOUR_CALM, False, False,
                                  C.HEADER_LIST_TOO_LARGE[0])]
    # The next block refers to entries the refused one added to the table.
    events = client.receive_data(script.headers(b, [(b":status", b"200"), (b"x-small", b"s")],
                                                True))
    assert events == [ResponseReceived(b, 200, [(b"x-small", b"s")]), StreamEnded(b)]


def test_headers_on_a_reset_stream_keep_the_table_in_step() -> None:
    client, script, sid = _ready()
    other = client.send_request("GET", "https", "a", "/2")
    client.reset_stream(sid)
    data = (script.headers(sid, OK + [(b"x-new", b"indexed")], True)
            + script.headers(other, OK + [(b"x-new", b"indexed")], True))
    events = client.receive_data(data)
    assert events == [ResponseReceived(other, 200, [(b"x-new", b"indexed")]), StreamEnded(other)]


# -- stream states (§5.1) ------------------------------------------------------------------------


@pytest.mark.parametrize("make, reason", [
    (lambda s: frames.data(5, b"x"), C.IDLE_STREAM),
    (lambda s: s.headers(5, OK, True), C.IDLE_STREAM),
    (lambda s: frames.window_update(5, 1), C.IDLE_STREAM),
    (lambda s: frames.rst_stream(5, 0), C.IDLE_STREAM),
    (lambda s: frames.data(2, b"x"), C.SERVER_STREAM),
    (lambda s: s.headers(2, OK, True), C.SERVER_STREAM),
    (lambda s: frames.window_update(4, 1), C.SERVER_STREAM),
    (lambda s: frames.rst_stream(4, 0), C.SERVER_STREAM),
], ids=["data-idle", "headers-idle", "window-update-idle", "rst-idle", "data-even",
        "headers-even", "window-update-even", "rst-even"])
def test_frames_on_idle_or_server_streams_are_connection_errors(
        make: Callable[[Script], bytes], reason: tuple[str, int]) -> None:
    client, script, sid = _ready()
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(make(script))
    assert (info.value.reason, info.value.code) == reason
    assert _goaway_sent(client) == (0, reason[1])
    assert client.unanswered() == ([sid], [])


def test_priority_is_allowed_anywhere() -> None:
    client, script, sid = _ready()
    priority = hf.PriorityFrame(7, depends_on=0, stream_weight=15).serialize()
    assert client.receive_data(priority) == []
    bad = hf.PriorityFrame(9)
    data = bad.serialize()[:2] + b"\x04" + bad.serialize()[3:-1]  # length 4: a stream error
    data = b"\x00\x00\x04" + data[3:]
    assert client.receive_data(data) == []  # idle stream: nothing to reset
    data = b"\x00\x00\x04" + hf.PriorityFrame(sid).serialize()[3:-1]
    assert client.receive_data(data) == [
        StreamReset(sid, E.FRAME_SIZE_ERROR, False, False, R.WRONG_LENGTH[0])]


def test_data_after_end_stream_is_a_connection_error() -> None:
    client, script, sid = _ready()
    client.receive_data(script.headers(sid, OK, True))
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(frames.data(sid, b"x"))
    assert (info.value.reason, info.value.code) == C.AFTER_END_STREAM


def test_frames_on_a_half_closed_stream_are_stream_errors() -> None:
    script = Script()
    client = H2Connection()
    client.receive_data(script.settings())
    sid = client.send_request("POST", "https", "a", "/", end_stream=False)
    client.data_to_send()
    client.receive_data(script.headers(sid, OK, True))
    assert client.open_streams == 1  # half-closed (remote): we still send
    events = client.receive_data(frames.data(sid, b"x"))
    assert events == [StreamReset(sid, E.STREAM_CLOSED, False, False, C.HALF_CLOSED[0])]
    assert client.open_streams == 0


def test_frames_on_a_stream_the_server_reset() -> None:
    client, script, sid = _ready()
    assert client.receive_data(frames.rst_stream(sid, E.INTERNAL_ERROR)) == [
        StreamReset(sid, E.INTERNAL_ERROR, True, False)]
    assert client.receive_data(frames.data(sid, b"x" * 10)) == []
    assert client.data_to_send() == frames.rst_stream(sid, E.STREAM_CLOSED)
    # WINDOW_UPDATE and RST_STREAM on it are ignored.
    assert client.receive_data(frames.window_update(sid, 5) + frames.rst_stream(sid, 0)) == []
    assert client.data_to_send() == b""


def test_forgotten_closed_streams_are_ignored() -> None:
    script = Script()
    client = H2Connection()
    client.receive_data(script.settings([]))
    first = client.send_request("GET", "https", "a", "/")
    client.receive_data(script.headers(first, OK, True))
    for _ in range(2 * R.MAX_CLOSED_STREAMS):
        sid = client.send_request("GET", "https", "a", "/")
        client.reset_stream(sid)
    assert first not in client._closed
    assert client.receive_data(frames.data(first, b"x")) == []


@pytest.mark.parametrize("before", [0, R.MAX_CLOSED_STREAMS - 1, 2 * R.MAX_CLOSED_STREAMS - 3])
def test_a_closed_stream_is_remembered_for_max_closed_streams_more(before: int) -> None:
    """However many closed before it, a stream's fate is kept while MAX_CLOSED_STREAMS - 1
    more close (the older ones are forgotten in one go, not one per close)."""
    client = H2Connection()
    client.receive_data(Script().settings([]))
    for _ in range(before):
        client.reset_stream(client.send_request("GET", "https", "a", "/"))
    sid = client.send_request("GET", "https", "a", "/")
    client.reset_stream(sid)
    for _ in range(R.MAX_CLOSED_STREAMS - 1):
        client.reset_stream(client.send_request("GET", "https", "a", "/"))
        assert sid in client._closed
    assert len(client._closed) <= 2 * R.MAX_CLOSED_STREAMS


# -- limits -----------------------------------------------------------------------------------


def test_settings_flood() -> None:
    client, script, sid = _ready()
    flood = frames.settings([(S.MAX_CONCURRENT_STREAMS, 100)])
    client.receive_data(flood * R.MAX_PENDING_REPLIES)
    client.data_to_send()  # the driver wrote the ACKs: they no longer count
    client.receive_data(flood * R.MAX_PENDING_REPLIES)
    with pytest.raises(H2LimitExceeded) as info:
        client.receive_data(flood)
    assert (info.value.reason, info.value.code) == C.TOO_MANY_PENDING_REPLIES
    assert len(info.value.events) == 0
    assert _goaway_sent(client) == (0, E.ENHANCE_YOUR_CALM)


def test_ping_flood() -> None:
    client, script, sid = _ready()
    with pytest.raises(H2LimitExceeded) as info:
        client.receive_data(frames.ping(b"x" * 8) * (R.MAX_PENDING_REPLIES + 1))
    assert (info.value.reason, info.value.code) == C.TOO_MANY_PENDING_REPLIES
    assert len(info.value.events) == 0


def test_empty_data_flood() -> None:
    client, script, sid = _ready()
    head = script.headers(sid, OK)
    events = client.receive_data(head + frames.data(sid, b"") * R.MAX_EMPTY_DATA_FRAMES
                                 + frames.data(sid, b"x")
                                 + frames.data(sid, b"") * R.MAX_EMPTY_DATA_FRAMES)
    assert events == [ResponseReceived(sid, 200, []), DataReceived(sid, b"x", 1)]
    with pytest.raises(H2LimitExceeded) as info:
        client.receive_data(frames.data(sid, b""))
    assert (info.value.reason, info.value.code) == C.TOO_MANY_EMPTY_DATA
    assert client.unanswered() == ([], [sid])


@pytest.mark.parametrize("frame", [
    lambda sid: frames.rst_stream(sid, 0),
    lambda sid: frames.window_update(sid, 1),
    lambda sid: hf.PriorityFrame(sid + 2).serialize(),
], ids=["rst-stream", "window-update", "priority"])
def test_ignored_frames_flood(frame: Callable[[int], bytes]) -> None:
    client, script, sid = _ready()
    client.reset_stream(sid)
    client.send_request("GET", "https", "a", "/")
    client.receive_data(frame(sid) * R.MAX_IGNORED_FRAMES)
    with pytest.raises(H2LimitExceeded) as info:
        client.receive_data(frame(sid))
    assert (info.value.reason, info.value.code) == C.TOO_MANY_IGNORED_FRAMES


def test_reader_limits_end_the_connection() -> None:
    client, script, sid = _ready()
    frame = hf.HeadersFrame(sid, data=b"")
    data = frame.serialize() + b"".join(
        hf.ContinuationFrame(sid, data=b"").serialize()
        for _ in range(R.MAX_CONTINUATION_FRAMES + 1))
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(data)
    assert info.value.code == E.ENHANCE_YOUR_CALM and isinstance(info.value, H2LimitExceeded)
    assert info.value.reason == R.TOO_MANY_CONTINUATIONS[0]


def test_events_before_a_connection_error_are_handed_out() -> None:
    client, script, sid = _ready()
    short_ping = b"\x00\x00\x01\x06\x00\x00\x00\x00\x00x"  # a FRAME_SIZE_ERROR
    data = script.headers(sid, OK, True) + frames.goaway(0, 0) + short_ping
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(data)
    assert info.value.events == [ResponseReceived(sid, 200, []), StreamEnded(sid),
                                 GoAwayReceived(0, 0)]
    assert info.value.code == E.FRAME_SIZE_ERROR


# -- identifiers, closing, replay ----------------------------------------------------------------


def test_stream_identifiers_run_out() -> None:
    client, script, sid = _ready()
    client._next_stream_id = R.MAX_STREAM_ID
    last = client.send_request("GET", "https", "a", "/")
    assert last == R.MAX_STREAM_ID
    assert not client.can_open_stream() and client.is_closing and client.streams_left == 0
    with pytest.raises(StreamIdsExhausted):
        client.send_request("GET", "https", "a", "/")
    client.receive_data(script.headers(sid, OK, True))
    events = client.receive_data(script.headers(last, OK, True))
    assert events[-1] == ConnectionTerminated()
    assert client.is_closed


def test_local_goaway() -> None:
    client, script, sid = _ready()
    client.send_goaway()
    assert client.data_to_send() == frames.goaway(0, 0)
    assert client.is_closing and not client.can_open_stream()
    events = client.receive_data(script.headers(sid, OK, True))
    assert events[-1] == ConnectionTerminated() and client.is_closed


def test_close_and_unanswered() -> None:
    client, script, sid = _ready()
    post = client.send_request("POST", "https", "a", "/", end_stream=False)
    put = client.send_request("PUT", "https", "a", "/", end_stream=False)
    answered = client.send_request("GET", "https", "a", "/")
    client.receive_data(script.headers(answered, [(b":status", b"100")]))
    with pytest.raises(ConnectionStateError):
        client.unanswered()
    client.close()
    assert client.is_closed and client.data_to_send() == b""
    assert client.unanswered() == ([sid, put], [post, answered])
    assert client.unanswered(replay_unsafe=True) == ([sid, post, put], [answered])
    with pytest.raises(ConnectionStateError):
        client.ping()


def test_connection_error_unanswered() -> None:
    client, script, sid = _ready()
    post = client.send_request("POST", "https", "a", "/", end_stream=False)
    with pytest.raises(H2ConnectionFailed):
        client.receive_data(frames.data(2, b""))
    assert client.unanswered() == ([sid], [post])
    # The GOAWAY stays to be written; nothing else may be sent.
    assert _goaway_sent(client) == (0, E.PROTOCOL_ERROR)
    with pytest.raises(ConnectionStateError):
        client.send_data(post, b"x")
    client.reset_stream(post)  # no RST_STREAM after GOAWAY
    assert client.data_to_send() == b""


# -- every cut of the input -----------------------------------------------------------------------


def assert_splits_agree(make: Callable[[], H2Connection], data: bytes,
                        every_byte_below: int = 400, cuts: int = 40) -> None:
    """Feeding `data` whole, byte by byte, and cut at every position (or at random cuts)
    gives the same events and the same bytes to send."""
    def run(pieces: list[bytes]) -> tuple[list[Any], bytes, Any]:
        client = make()
        events: list[Any] = []
        error = None
        try:
            for piece in pieces:
                events += client.receive_data(piece)
        except H2ConnectionFailed as exc:
            events += exc.events
            error = (type(exc), exc.reason, exc.code)
        return events, client.data_to_send(), error

    whole = run([data])
    assert run([data[i:i + 1] for i in range(len(data))]) == whole
    if len(data) <= every_byte_below:
        positions: Iterable[int] = range(1, len(data))
    else:
        positions = random.Random(len(data)).sample(range(1, len(data)), cuts)
    for at in positions:
        assert run([data[:at], data[at:]]) == whole, at


def _recorded_exchange() -> tuple[Callable[[], H2Connection], bytes]:
    """The h2 server's bytes for a busy exchange, and how to make a client in the
    state to receive them again."""
    def make() -> H2Connection:
        client = H2Connection()
        for i in range(5):
            client.send_request("GET", "https", "example.com", f"/{i}")
        client.send_request("POST", "https", "example.com", "/p", end_stream=False)
        return client

    client = make()
    server = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=False, header_encoding=None))
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(b":status", b"200"), (b"content-length", b"5")])
    server.send_data(1, b"hello", end_stream=True)
    server.send_headers(3, [(b":status", b"103")])
    server.send_headers(3, [(b":status", b"404"), (b"server", b"h2")], end_stream=True)
    server.ping(b"pingpong")
    server.send_headers(5, [(b":status", b"200")])
    server.send_data(5, b"a" * 16384)
    server.send_data(5, b"a" * 3616)
    server.send_headers(5, [(b"x-trailer", b"t")], end_stream=True)
    server.reset_stream(7, E.REFUSED_STREAM)
    server.update_settings({S.MAX_CONCURRENT_STREAMS: 10, S.INITIAL_WINDOW_SIZE: 1000})
    server.increment_flow_control_window(500)
    server.increment_flow_control_window(500, 11)
    server.close_connection(0, last_stream_id=9)
    return make, server.data_to_send()


def test_recorded_exchange_split_anywhere() -> None:
    make, data = _recorded_exchange()
    client = make()
    events = client.receive_data(data)
    assert [type(e).__name__ for e in events] == [
        "SettingsChanged", "ResponseReceived", "DataReceived", "StreamEnded",
        "InformationalReceived", "ResponseReceived", "StreamEnded", "ResponseReceived",
        "DataReceived", "DataReceived", "TrailersReceived", "StreamEnded", "StreamReset",
        "SettingsChanged", "WindowUpdated", "WindowUpdated", "GoAwayReceived", "StreamReset"]
    assert events[-1] == StreamReset(11, 0, True, True)
    assert client.open_streams == 1 and client.is_closing  # stream 9, below last_stream_id
    assert_splits_agree(make, data, cuts=60)


# -- odds and ends ---------------------------------------------------------------------------


def test_zero_window_increment() -> None:
    client, script, sid = _ready()
    assert client.receive_data(b"\x00\x00\x04\x08\x00\x00\x00\x00\x01\x00\x00\x00\x00") == [
        StreamReset(sid, E.PROTOCOL_ERROR, False, False, R.ZERO_WINDOW_INCREMENT[0])]
    assert client.data_to_send() == frames.rst_stream(sid, E.PROTOCOL_ERROR)
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    assert (info.value.reason, info.value.code) == R.ZERO_WINDOW_INCREMENT


def test_any_buffer_is_received() -> None:
    for kind in (bytearray, memoryview):
        client, script, sid = _ready()
        events = client.receive_data(kind(script.headers(sid, OK, True)))
        assert events == [ResponseReceived(sid, 200, []), StreamEnded(sid)]


def test_unknown_settings_frames_and_spurious_acks_are_ignored() -> None:
    client, script, sid = _ready()
    unknown_frame = b"\x00\x00\x03\xfa\x00\x00\x00\x00\x01abc"
    events = client.receive_data(frames.settings([(0x99, 7)]) + frames.settings_ack()
                                 + unknown_frame)
    assert events == [SettingsChanged({})]
    assert client.data_to_send() == frames.settings_ack()


def test_streams_below_last_stream_id_may_still_send() -> None:
    pair = Pair()
    pair.handshake()
    sid = pair.client.send_request("POST", "https", "a", "/", end_stream=False)
    pair.to_server()
    events = pair.client.receive_data(frames.goaway(sid, 0))
    assert events == [GoAwayReceived(sid, 0)]
    assert pair.client.send_data(sid, b"body", end_stream=True) == 4
    pair.to_server()
    assert pair.server_body(sid) == b"body"


def test_errors_belong_to_the_transport_family() -> None:
    from hopwire._errors import HopwireError, TransportError
    assert issubclass(H2LimitExceeded, H2ConnectionFailed)
    assert issubclass(H2ConnectionFailed, RemoteProtocolError)
    assert issubclass(H2ConnectionFailed, TransportError)
    assert issubclass(StreamIdsExhausted, ConnectionStateError)
    assert issubclass(StreamIdsExhausted, HopwireError)


def test_events_compare_and_print() -> None:
    assert StreamEnded(1) == StreamEnded(1) and StreamEnded(1) != StreamEnded(3)
    assert StreamEnded(1) != StreamReset(1, 0)
    assert (repr(DataReceived(1, b"x", 1))
            == "DataReceived(stream_id=1, data=b'x', flow_controlled_length=1)")
    with pytest.raises(TypeError):
        hash(StreamEnded(1))
    with pytest.raises(AttributeError):
        StreamEnded(1).other = 1  # type: ignore[attr-defined]


def test_repr_follows_the_state() -> None:
    client, script, sid = _ready()
    assert "active" in repr(client)
    client.receive_data(script.headers(sid, OK, True))
    assert "idle" in repr(client)
    client.send_goaway()
    assert "closed" in repr(client)


def test_request_fields_of_every_type() -> None:
    pair = Pair()
    pair.handshake()
    pair.client.send_request(b"PUT", "https", bytearray(b"a"), memoryview(b"/x"),
                             [(bytearray(b"X-A"), memoryview(b"1")), ("x-b", "caf\xe9"),
                              (b"content-length", b"2"), ("Content-Length", "2")],
                             end_stream=False)
    pair.client.send_data(1, b"ok", True)
    pair.to_server()
    assert pair.server_requests()[1] == [
        (b":method", b"PUT"), (b":scheme", b"https"), (b":authority", b"a"), (b":path", b"/x"),
        (b"x-a", b"1"), (b"x-b", b"caf\xe9"), (b"content-length", b"2")]
    with pytest.raises(LocalProtocolError):
        pair.client.send_request("G\xc9T", "https", "a", "/")
    with pytest.raises(TypeError):
        pair.client.send_request("GET", "https", "a", "/", [(1, "x")])  # type: ignore[list-item]


def test_end_stream_after_content() -> None:
    pair = Pair()
    pair.handshake()
    sid = pair.client.send_request("POST", "https", "a", "/", end_stream=False)
    pair.client.send_data(sid, b"body")
    pair.client.end_stream(sid)
    pair.settle()
    assert pair.server_body(sid) == b"body"
    assert any(isinstance(e, h2.events.StreamEnded) for e in pair.server_events)
    with pytest.raises(ConnectionStateError):
        pair.client.end_stream(sid)


def test_larger_header_table_of_ours_is_allowed_at_once() -> None:
    client = H2Connection(header_table_size=8192)
    assert client._decoder.max_allowed_table_size == 8192


def test_why_no_stream_may_be_opened() -> None:
    client, script, sid = _ready()
    client.send_goaway()
    with pytest.raises(ConnectionStateError, match="we sent GOAWAY"):
        client.send_request("GET", "https", "a", "/")
    client.close()
    client.send_goaway()  # closed: nothing
    assert client.data_to_send() == b""
    with pytest.raises(ConnectionStateError, match="closed"):
        client.send_request("GET", "https", "a", "/")


def test_acknowledging_nothing_is_nothing() -> None:
    client, script, sid = _ready()
    client.acknowledge_received_data(sid, 0)
    client.acknowledge_received_data(99, 10)  # nothing unacknowledged: clamped to 0
    assert client.data_to_send() == b""


def test_eof_after_the_end() -> None:
    client, script, sid = _ready()
    client.send_goaway()
    events = client.receive_data(script.headers(sid, OK, True))
    assert events[-1] == ConnectionTerminated()
    assert client.receive_eof() == []
    assert client.is_closed


def test_empty_data_on_a_reset_stream_counts() -> None:
    client, script, sid = _ready()
    client.reset_stream(sid)
    client.receive_data(frames.data(sid, b"") * R.MAX_EMPTY_DATA_FRAMES)
    with pytest.raises(H2LimitExceeded):
        client.receive_data(frames.data(sid, b""))


def test_padding_only_data() -> None:
    client, script, sid = _ready()
    padded = hf.DataFrame(sid, data=b"", flags=["PADDED", "END_STREAM"])
    padded.pad_length = 10
    events = client.receive_data(script.headers(sid, OK) + padded.serialize())
    assert events == [ResponseReceived(sid, 200, []), StreamEnded(sid)]


def test_headers_on_a_half_closed_stream() -> None:
    script = Script()
    client = H2Connection()
    client.receive_data(script.settings())
    sid = client.send_request("POST", "https", "a", "/", end_stream=False)
    client.receive_data(script.headers(sid, OK, True))
    events = client.receive_data(script.headers(sid, [(b"x", b"1")], True))
    assert events == [StreamReset(sid, E.STREAM_CLOSED, False, False, C.HALF_CLOSED[0])]


def test_header_list_too_large_on_a_reset_stream_is_ignored() -> None:
    script = Script()
    client = H2Connection(max_header_list_size=100)
    client.receive_data(script.settings())
    a = client.send_request("GET", "https", "a", "/")
    b = client.send_request("GET", "https", "a", "/")
    client.reset_stream(a)
    big = [(b":status", b"200"), (b"x-big", b"v" * 150)]
    assert client.receive_data(script.headers(a, big, True)) == []
    events = client.receive_data(script.headers(b, [(b":status", b"200")], True))
    assert events == [ResponseReceived(b, 200, []), StreamEnded(b)]


def test_zero_window_increment_on_closed_and_idle_streams() -> None:
    client, script, sid = _ready()
    client.reset_stream(sid)
    zero = b"\x00\x00\x04\x08\x00\x00\x00\x00\x01\x00\x00\x00\x00"
    assert client.receive_data(zero) == []
    with pytest.raises(H2ConnectionFailed) as info:
        client.receive_data(zero[:8] + b"\x09" + zero[9:])
    assert info.value.reason == C.IDLE_STREAM[0]
