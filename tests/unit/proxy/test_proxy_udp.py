"""UDP through the data path: flows balanced per client address, replies back from the
Service address, dead endpoints left behind, no endpoints dropping datagrams."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from proxy_testing import free_port

from kcore.proxy import Address, Proxy, ServicePort

VIP = Address("127.32.0.53", 5353)


class UdpBackend:
    """Answers each datagram with NAME:payload."""

    def __init__(self, name: str) -> None:
        self.name = name.encode()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = Address("127.0.0.1", self.sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            if data == b"":
                return
            self.sock.sendto(self.name + b":" + data, peer)

    def close(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as poke:
            poke.sendto(b"", self.address)  # wakes the blocked recvfrom: an empty datagram
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def udp_backends() -> Iterator[list[UdpBackend]]:
    made = [UdpBackend(n) for n in "ab"]
    yield made
    for b in made:
        b.close()


def client() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def ask(s: socket.socket, payload: bytes, *, tries: int = 1) -> tuple[bytes, tuple[str, int]]:
    """Send and wait for the answer (resending `tries` times: UDP may drop the first)."""
    for attempt in range(tries):
        s.sendto(payload, VIP)
        try:
            data, peer = s.recvfrom(65536)
            return data, peer
        except TimeoutError:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


def serve(proxy: Proxy, *eps: Address) -> None:
    proxy.set_service("dns", ServicePort(listen=(VIP,), endpoints=eps, protocol="UDP"))


def test_flows_are_balanced_and_sticky(proxy: Proxy, udp_backends: list[UdpBackend]) -> None:
    serve(proxy, *(b.address for b in udp_backends))
    c1, c2 = client(), client()
    try:
        answers = [ask(c1, b"q1"), ask(c2, b"q2"), ask(c1, b"q3"), ask(c2, b"q4")]
    finally:
        c1.close()
        c2.close()
    assert [a for a, _ in answers] == [b"a:q1", b"b:q2", b"a:q3", b"b:q4"]
    assert {peer for _, peer in answers} == {tuple(VIP)}  # answers come from the Service
    st = proxy.stats("dns")
    assert (st.connections, st.active) == (2, 2)
    assert (st.bytes_in, st.bytes_out) == (8, 16)


def test_refused_endpoint_is_left_behind(proxy: Proxy, udp_backends: list[UdpBackend]) -> None:
    dead = Address("127.0.0.1", free_port())
    serve(proxy, dead, udp_backends[0].address)
    c = client()
    c.settimeout(0.3)
    try:
        data, _ = ask(c, b"hello", tries=10)
    finally:
        c.close()
    assert data == b"a:hello"
    assert proxy.stats("dns").connect_errors >= 1


def test_no_endpoints_drops_datagrams(proxy: Proxy) -> None:
    serve(proxy)
    c = client()
    c.settimeout(0.3)
    try:
        with pytest.raises(TimeoutError):
            ask(c, b"anyone?")
    finally:
        c.close()
    assert proxy.stats("dns").rejected == 1


def test_protocol_change_replaces_the_listener(
    proxy: Proxy, udp_backends: list[UdpBackend]
) -> None:
    serve(proxy, udp_backends[0].address)
    c = client()
    try:
        assert ask(c, b"x")[0] == b"a:x"
    finally:
        c.close()
    proxy.set_service("dns", ServicePort(listen=(VIP,), endpoints=(), protocol="TCP"))
    with pytest.raises(ConnectionResetError), socket.create_connection(VIP, timeout=5) as t:
        t.recv(1)
