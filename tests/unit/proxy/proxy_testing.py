"""Helpers for the proxy tests: real loopback TCP backends (a thread each, `behaviour`
deciding what it does with a connection) and small socket utilities."""

from __future__ import annotations

import gc
import os
import socket
import threading
from collections.abc import Callable

from kcore.proxy import Address

Behaviour = Callable[[socket.socket, "Backend"], None]


class Backend:
    """A loopback TCP server running `behaviour(conn, self)` per connection in a thread."""

    def __init__(self, behaviour: Behaviour, *, name: str = "", host: str = "127.0.0.1") -> None:
        self.name = name
        self.behaviour = behaviour
        self.sock = socket.create_server((host, 0), backlog=128)
        self.address = Address(host, self.sock.getsockname()[1])
        self.accepted = 0
        self.sent = 0
        self.received: list[bytes] = []
        self.peers: list[tuple[str, int]] = []
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.peers.append(peer)
            self._conns.append(conn)
            t = threading.Thread(target=self._run, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self, conn: socket.socket) -> None:
        try:
            self.behaviour(conn, self)
        except OSError:
            pass
        finally:
            conn.close()

    def stop_listening(self) -> None:
        """Refuse new connections from now on (shutdown wakes the blocked accept)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._accept.join(5)

    def close(self) -> None:
        self.stop_listening()
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(5)


def echo(conn: socket.socket, _: Backend) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def tag_then_echo(conn: socket.socket, b: Backend) -> None:
    conn.sendall(b.name.encode() + b"\n")
    echo(conn, b)


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def open_fds() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))
