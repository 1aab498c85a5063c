"""A listening socket with a thread per connection, that stops for good: the base of the
fault server (fault.py) and the dumb proxy (dumb_proxy.py).

Why not socketserver: a test server must stop with nothing left behind (no thread
blocked in a read, no descriptor open), and must never shut down a descriptor that was
closed and reused meanwhile. So the acceptor waits in a selector with a wake-up pipe,
every connection socket is tracked under a lock until just before it is closed, and
`stop()` shuts the tracked ones down, joins every thread and says which did not end.

A subclass defines `_connection(sock, number)`, called under the lock for each accepted
socket, which returns what its thread runs; that code calls `_forget(sock)` before it
closes a socket, and `_track(sock)` for any other socket it opens (False: stopping).
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TypeVar

POLL = 0.5  # longest single wait, so that a stop is noticed within this much
STOP_TIMEOUT = 5.0  # seconds stop() waits for each thread

T = TypeVar("T", bound="ThreadedServer")


def shutdown_all(socks: Iterable[socket.socket]) -> None:
    """Wake every thread blocked on one of these sockets (a close() alone does not)."""
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class ThreadedServer:
    kind = "server"  # names the threads and the error of a stop that did not end them

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._accepted = 0
        self._stopping = threading.Event()
        self._stopped = False
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self.host = "127.0.0.1"
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"{self.kind}-{self.port}-accept")
        self._acceptor.start()

    def _connection(self, sock: socket.socket, number: int) -> Callable[[], None]:
        raise NotImplementedError

    @property
    def connections_open(self) -> int:
        """Accepted connections whose socket is not closed yet."""
        with self._lock:
            return len(self._open)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(POLL):
                if key.fileobj is self._listener and not self._stopping.is_set():
                    self._accept()

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        # Small answers go out at once, not after a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._accepted += 1
            run = self._connection(sock, self._accepted)
            self._open.add(sock)
            thread = threading.Thread(target=run, daemon=True,
                                      name=f"{self.kind}-{self.port}-{self._accepted}")
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _track(self, sock: socket.socket) -> bool:
        """Register a socket for stop() to shut down; False (and closed) if stopping."""
        with self._lock:
            if not self._stopping.is_set():
                self._open.add(sock)
                return True
        sock.close()
        return False

    def _forget(self, sock: socket.socket) -> None:
        # Out of the set before close(), so that stop() never shuts down a closed (and
        # maybe reused) descriptor.
        with self._lock:
            self._open.discard(sock)

    def stop(self) -> None:
        """Close the listener and every connection, join every thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        with self._lock:
            self._stopping.set()
        self._wake_w.send(b"x")
        self._acceptor.join(STOP_TIMEOUT)
        with self._lock:
            shutdown_all(self._open)
            threads = [self._acceptor, *self._threads]
        for thread in threads:
            thread.join(STOP_TIMEOUT)
        self._selector.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            raise RuntimeError(f"{self.kind} threads did not stop: {stuck}")

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
