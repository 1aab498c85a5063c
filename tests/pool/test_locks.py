"""The sync pool's lock: the C twin (hopwire._pool.lock_c.Lock) behaves as threading.Lock.

Every test runs on threading.Lock (the reference, and the pure twin) and on
the C lock when it is built (skipped with HOPWIRE_NO_EXTENSIONS=1, a failure
with HOPWIRE_REQUIRE_EXTENSIONS=1 when it does not import).
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
import time
from typing import Any

import pytest

import hopwire
from hopwire._pool import locks as _locks
from support.servers.stdlib import HTTPServerThread, TrackedHTTPServer
from support.twins import NO_EXTENSIONS, REQUIRE_EXTENSIONS

JOIN = 10.0  # seconds a test waits for a thread before calling it stuck


@pytest.fixture(params=["threading", "c"])
def lock_class(request: pytest.FixtureRequest) -> Any:
    if request.param == "threading":
        return threading.Lock
    if NO_EXTENSIONS:
        pytest.skip("HOPWIRE_NO_EXTENSIONS=1: the C lock is not tested")
    try:
        return importlib.import_module("hopwire._pool.lock_c").Lock
    except ImportError as exc:
        if REQUIRE_EXTENSIONS:
            pytest.fail(f"HOPWIRE_REQUIRE_EXTENSIONS=1 but hopwire._pool.lock_c does not import: {exc}")
        pytest.skip(f"hopwire._pool.lock_c is not built ({exc})")


def test_the_pool_uses_the_c_lock_with_extensions() -> None:
    if hopwire.EXTENSIONS_ACTIVE:
        assert _locks.Lock.__module__ == "hopwire._pool.lock_c"
    else:
        assert _locks.Lock is threading.Lock


def test_acquire_release_locked_and_with(lock_class: Any) -> None:
    lock = lock_class()
    assert not lock.locked()
    assert lock.acquire() is True
    assert lock.locked()
    lock.release()
    assert not lock.locked()
    with lock:
        assert lock.locked()
    assert not lock.locked()
    with pytest.raises(ValueError), lock:
        raise ValueError("inside")
    assert not lock.locked()


def test_releasing_an_unheld_lock_is_an_error(lock_class: Any) -> None:
    lock = lock_class()
    with pytest.raises(RuntimeError):
        lock.release()
    lock.acquire()
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()


def test_another_thread_may_release_it(lock_class: Any) -> None:
    lock = lock_class()
    lock.acquire()
    thread = threading.Thread(target=lock.release)
    thread.start()
    thread.join(JOIN)
    assert not lock.locked()


def test_one_holder_at_a_time(lock_class: Any) -> None:
    lock = lock_class()
    inside = []
    overlaps = []
    count = [0]

    def work() -> None:
        for _ in range(2_000):
            lock.acquire()
            try:
                if inside:
                    overlaps.append(1)
                inside.append(1)
                value = count[0]
                if value % 97 == 0:
                    time.sleep(0)  # let another thread try to get in
                count[0] = value + 1
                inside.pop()
            finally:
                lock.release()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    assert not any(thread.is_alive() for thread in threads)
    assert not overlaps and count[0] == 8_000


def test_a_waiter_lets_other_threads_run(lock_class: Any) -> None:
    """A blocked acquire waits without the GIL: the holder can go on and release it."""
    lock = lock_class()
    lock.acquire()
    got = threading.Event()

    def waiter() -> None:
        lock.acquire()
        got.set()
        lock.release()

    thread = threading.Thread(target=waiter)
    thread.start()
    deadline = time.monotonic() + 0.2
    spins = 0
    while time.monotonic() < deadline:  # this thread still runs while the other one waits
        spins += 1
    assert spins > 1_000 and not got.is_set()
    lock.release()
    thread.join(JOIN)
    assert got.is_set() and not thread.is_alive()


@pytest.mark.skipif(sys.platform == "win32" or not hasattr(signal, "setitimer"),
                    reason="needs SIGALRM and setitimer")
def test_a_signal_handler_interrupts_a_blocked_acquire(lock_class: Any) -> None:
    """Ctrl-C reaches a thread waiting for a lock (its handler raises in the waiter)."""

    class Interrupted(Exception):
        pass

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted()

    lock = lock_class()
    lock.acquire()  # held, and not reentrant: the next acquire waits until the signal
    # Should the signal not interrupt the wait, this releases the lock: the test fails, not hangs.
    watchdog = threading.Timer(JOIN, lock.release)
    previous = signal.signal(signal.SIGALRM, handler)
    try:
        watchdog.start()
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(Interrupted):
            lock.acquire()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        watchdog.cancel()
    assert lock.locked()  # still held by the first acquire only
    lock.release()
    assert lock.acquire() and lock.locked()
    lock.release()


@pytest.mark.skipif(sys.platform == "win32" or not hasattr(signal, "setitimer"),
                    reason="needs SIGALRM and setitimer")
def test_an_interrupt_during_requests_never_leaves_a_pool_lock_held() -> None:
    """A signal handler that raises (Ctrl-C) anywhere in `Pool.request` leaves every lock free:
    the pool takes its locks in `with` blocks, which a handler cannot split."""
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    class Interrupted(BaseException):
        pass

    armed = [False]

    def handler(signum: int, frame: Any) -> None:
        if armed[0]:
            armed[0] = False
            raise Interrupted()

    server = HTTPServerThread(TrackedHTTPServer(Handler, name="locks-origin"))
    url = server.url + "/"
    # Room for a connection per request: in the pure twin an interrupt may also strand
    # a lease (Python checks for signals after every call), and a request that then waits
    # for a connection sits in threading.Condition.wait, which an interrupt can break.
    pool = hopwire.Pool(timeout=2.0, max_connections=1000, max_connections_per_host=1000)
    previous = signal.signal(signal.SIGALRM, handler)
    interrupts = 0
    held: list[str] = []
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and interrupts < 400 and not held:
            try:
                try:
                    armed[0] = True
                    pool.request("GET", url)
                finally:
                    armed[0] = False  # (the handler may still raise here, not past it)
            except Interrupted:
                interrupts += 1
            except hopwire.HopwireError:
                pass  # an interrupted request may leave its connection closed: a later one fails
            if pool._lock.locked():
                held.append("the pool's lock")
            for link in [entry.link for entry in pool._state.entries]:
                if link.lock.locked() or link.write_lock.locked():
                    held.append(f"a lock of connection {link.number}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        connections = pool.connections
        closing = threading.Thread(target=pool.close, daemon=True)
        closing.start()
        closing.join(JOIN)
        server.stop()
    assert not held, f"{held[0]} was left held after {interrupts} interrupts"
    assert interrupts > 0 and not closing.is_alive()
    if hopwire.COMPILED_MODULES:  # compiled, no lease is stranded: at most one idle connection
        assert connections <= 1, f"{connections} connections after {interrupts} interrupts"
