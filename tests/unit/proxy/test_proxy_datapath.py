"""The data path with real sockets on loopback: bytes, backpressure, half-close, resets,
dead endpoints, table updates and counters."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from proxy_testing import Backend, echo, free_port, tag_then_echo

from kcore.proxy import Address, Proxy, ServicePort
from kcore.proxy.metrics import render

VIP = Address("127.32.0.10", 8080)


def until(cond: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    """Wait for `cond` (a behaviour, not a timing: `limit` only bounds a hang)."""
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def serve(proxy: Proxy, *eps: Address, key: str = "svc", **kw: object) -> Address:
    proxy.set_service(key, ServicePort(listen=(VIP,), endpoints=eps, **kw))  # type: ignore[arg-type]
    return VIP


def connect(addr: Address, source: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection(addr, timeout=10, source_address=(source, 0))
    return s


def assert_reset(addr: Address) -> None:
    """The connection is reset (during the handshake or right after it)."""
    with pytest.raises(ConnectionResetError), connect(addr) as c:
        c.recv(10)


def read_line(s: socket.socket) -> bytes:
    out = b""
    while not out.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        out += chunk
    return out.strip()


def recv_all(s: socket.socket) -> bytes:
    parts = []
    while chunk := s.recv(1 << 20):
        parts.append(chunk)
    return b"".join(parts)


def rss() -> int:
    """This process's resident set, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_bytes_both_ways_and_counters(proxy: Proxy, backends: Callable[..., Backend]) -> None:
    vip = serve(proxy, backends(echo).address)
    with connect(vip) as c:
        for msg in (b"ping", b"x" * 100_000, b"pong"):
            c.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += c.recv(1 << 16)
            assert got == msg
        assert proxy.stats("svc").active == 1
    until(lambda: proxy.stats("svc").active == 0, "connection closed")
    st = proxy.stats("svc")
    assert (st.connections, st.bytes_in, st.bytes_out) == (1, 100_008, 100_008)
    assert (st.connect_errors, st.rejected, st.failed) == (0, 0, 0)
    assert proxy.buffered_bytes() == 0


def test_large_transfer_both_directions_at_once(
    proxy: Proxy, backends: Callable[..., Backend]
) -> None:
    vip = serve(proxy, backends(echo).address)
    data = os.urandom(1 << 20) * 24
    with connect(vip) as c:
        writer = threading.Thread(target=lambda: (c.sendall(data), c.shutdown(socket.SHUT_WR)))
        writer.start()
        got = recv_all(c)
        writer.join()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_slow_reader_holds_memory_flat(proxy: Proxy, backends: Callable[..., Backend]) -> None:
    total = 256 << 20

    def flood(conn: socket.socket, b: Backend) -> None:
        chunk = b"z" * (1 << 16)
        while b.sent < total:
            conn.sendall(chunk)
            b.sent += len(chunk)

    backend = backends(flood)
    vip = serve(proxy, backend.address)
    rss_before = rss()
    with connect(vip) as c:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        until(lambda: backend.sent > 0, "backend started sending")
        last = -1
        while backend.sent != last:  # until the backend is blocked by the proxy
            last = backend.sent
            time.sleep(0.3)
        # Kernel socket buffers on the way may autotune to tens of MiB (tcp_rmem's max);
        # the proxy itself holds at most one pipe's worth.
        assert backend.sent < total // 2, "the proxy kept reading for a reader that did not"
        assert proxy.buffered_bytes() <= 1 << 20
        assert rss() - rss_before < 32 << 20, "the process grew with the backlog"
        received = 0
        while received < total:
            received += len(c.recv(1 << 20))
    assert received == total


def proxy_socket(*, peer: tuple[str, int], local: tuple[str, int] | None = None) -> socket.socket:
    """A duplicate of this process's TCP socket connected to `peer` (and bound to `local`):
    the proxy runs in this process, so its sockets are among our descriptors."""
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            s = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue  # closed meanwhile
        try:
            wanted = s.type == socket.SOCK_STREAM and s.getpeername() == peer
            if wanted and (local is None or s.getsockname() == local):
                return s
        except OSError:
            pass
        s.close()
    raise AssertionError(f"no socket connected to {peer}")


def tcp_rcvbuf(*, peer: tuple[str, int], local: tuple[str, int] | None = None) -> int:
    with proxy_socket(peer=peer, local=local) as s:
        return s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def tcp_congestion(*, peer: tuple[str, int], local: tuple[str, int] | None = None) -> str:
    with proxy_socket(peer=peer, local=local) as s:
        return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()


@pytest.mark.parametrize("recv_buffer", [0, 300_000])
def test_recv_buffer_fixes_both_sockets_of_a_connection(
    proxy_factory: Callable[..., Proxy], backends: Callable[..., Backend], recv_buffer: int
) -> None:
    proxy = proxy_factory(recv_buffer=recv_buffer)
    backend = backends(echo)
    vip = serve(proxy, backend.address)
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    fixed = 2 * min(300_000, rmem_max)  # the kernel doubles it for its bookkeeping
    with connect(vip) as c:
        c.sendall(b"ping")
        assert c.recv(4) == b"ping"
        client_side = tcp_rcvbuf(peer=c.getsockname(), local=vip)
        backend_side = tcp_rcvbuf(peer=backend.address)
    if recv_buffer:
        assert client_side == backend_side == fixed
    else:  # left to the kernel's autotuning
        assert fixed not in (client_side, backend_side)


@pytest.mark.parametrize("congestion", ["", "reno"])
def test_congestion_control_of_both_loopback_sockets(
    proxy_factory: Callable[..., Proxy], backends: Callable[..., Backend], congestion: str
) -> None:
    system = Path("/proc/sys/net/ipv4/tcp_congestion_control").read_text().strip()
    proxy = proxy_factory(congestion=congestion)
    backend = backends(echo)
    vip = serve(proxy, backend.address)
    with connect(vip) as c:
        c.sendall(b"ping")
        assert c.recv(4) == b"ping"
        client_side = tcp_congestion(peer=c.getsockname(), local=vip)
        backend_side = tcp_congestion(peer=backend.address)
    assert client_side == backend_side == (congestion or system)


def test_half_close_from_the_client(proxy: Proxy, backends: Callable[..., Backend]) -> None:
    def count_then_answer(conn: socket.socket, b: Backend) -> None:
        n = len(recv_all(conn))
        conn.sendall(f"{n}\n".encode())

    vip = serve(proxy, backends(count_then_answer).address)
    with connect(vip) as c:
        c.sendall(b"a" * 300_000)
        c.shutdown(socket.SHUT_WR)
        assert recv_all(c) == b"300000\n"


def test_half_close_from_the_backend(proxy: Proxy, backends: Callable[..., Backend]) -> None:
    def bye_then_listen(conn: socket.socket, b: Backend) -> None:
        conn.sendall(b"bye\n")
        conn.shutdown(socket.SHUT_WR)
        b.received.append(recv_all(conn))

    backend = backends(bye_then_listen)
    vip = serve(proxy, backend.address)
    with connect(vip) as c:
        assert recv_all(c) == b"bye\n"  # the backend's FIN reached us
        c.sendall(b"still talking")  # and our direction is still open
        c.shutdown(socket.SHUT_WR)
        until(lambda: backend.received == [b"still talking"], "backend got the late bytes")


def test_backend_reset_reaches_the_client(proxy: Proxy, backends: Callable[..., Backend]) -> None:
    def reset(conn: socket.socket, b: Backend) -> None:
        conn.recv(100)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    vip = serve(proxy, backends(reset).address)
    with connect(vip) as c:
        c.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            c.recv(100)
    until(lambda: proxy.stats("svc").active == 0, "connection released")


def test_client_reset_reaches_the_backend(proxy: Proxy, backends: Callable[..., Backend]) -> None:
    errors: list[str] = []

    def wait(conn: socket.socket, b: Backend) -> None:
        conn.sendall(b"hi\n")
        try:
            conn.recv(100)
        except ConnectionResetError:
            errors.append("reset")

    vip = serve(proxy, backends(wait).address)
    c = connect(vip)
    assert read_line(c) == b"hi"
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    until(lambda: errors == ["reset"], "backend saw the reset")


def test_dead_endpoint_costs_the_client_nothing(
    proxy: Proxy, backends: Callable[..., Backend]
) -> None:
    live = backends(tag_then_echo, name="live")
    dead = Address("127.0.0.1", free_port())
    vip = serve(proxy, dead, live.address, dead._replace(host="127.0.0.2"))
    for _ in range(9):
        with connect(vip) as c:
            assert read_line(c) == b"live"
    st = proxy.stats("svc")
    assert st.failed == 0 and st.connections == 9
    # Each dead endpoint is tried, refused and then left alone (down) for a while.
    assert 2 <= st.connect_errors < 6


def early_client(addr: Address, data: bytes) -> socket.socket:
    """A client whose first bytes are already queued when the proxy accepts it: with
    TCP_DEFER_ACCEPT on the connecting socket the kernel holds back the handshake's last
    ACK until those bytes go, so the connection reaches the proxy's accept queue with them."""
    s = socket.socket()
    s.settimeout(10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
    s.connect(addr)
    s.sendall(data)
    return s


def test_first_bytes_waiting_at_accept_reach_the_backend(
    proxy: Proxy, backends: Callable[..., Backend]
) -> None:
    """The bytes read before the backend connect (sent once it returns, or staged while it is
    still in progress, or carried to the next endpoint when it is refused) arrive whole
    and in order, also when the client's FIN came with them."""
    live = backends(echo)
    dead = Address("127.0.0.1", free_port())
    vip = serve(proxy, dead, live.address)
    for i in range(4):
        first = f"hello {i}\n".encode() * 50
        with early_client(vip, first) as c:
            c.sendall(b"and more\n")
            c.shutdown(socket.SHUT_WR)
            assert recv_all(c) == first + b"and more\n"
    with early_client(vip, b"x" * 200_000) as c:  # more than the first read takes
        c.shutdown(socket.SHUT_WR)
        assert recv_all(c) == b"x" * 200_000
    st = proxy.stats("svc")
    assert st.failed == 0 and st.connections == 5 and st.connect_errors >= 1


def test_every_endpoint_dead_resets_the_client(proxy: Proxy) -> None:
    vip = serve(proxy, Address("127.0.0.1", free_port()), Address("127.0.0.3", free_port()))
    assert_reset(vip)
    assert proxy.stats("svc").failed == 1


def test_connect_timeout_moves_on(
    proxy_factory: Callable[..., Proxy], backends: Callable[..., Backend]
) -> None:
    proxy = proxy_factory(connect_timeout=0.2)
    # A listener nobody accepts from, its backlog full: further SYNs go unanswered.
    black = socket.socket()
    black.bind(("127.0.0.1", 0))
    black.listen(0)
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(black.getsockname())
        fillers.append(s)
    live = backends(tag_then_echo, name="live")
    vip = serve(proxy, Address(*black.getsockname()), live.address)
    try:
        for _ in range(2):
            with connect(vip) as c:
                assert read_line(c) == b"live"
        assert proxy.stats("svc").connect_errors == 1  # then it was down: not tried again
        assert proxy.stats("svc").failed == 0
    finally:
        for s in [*fillers, black]:
            s.close()


def test_no_endpoints_refuses_at_once(proxy: Proxy) -> None:
    vip = serve(proxy)
    assert_reset(vip)
    assert proxy.stats("svc").rejected == 1
    assert proxy.stats("svc").connections == 0


def test_round_robin_and_affinity_through_the_data_path(
    proxy: Proxy, backends: Callable[..., Backend]
) -> None:
    bs = [backends(tag_then_echo, name=n) for n in "abc"]
    vip = serve(proxy, *(b.address for b in bs))
    tags = []
    for _ in range(6):
        with connect(vip) as c:
            tags.append(read_line(c))
    assert tags == [b"a", b"b", b"c", b"a", b"b", b"c"]

    serve(proxy, *(b.address for b in bs), affinity_timeout=60.0)
    for source in ("127.0.0.7", "127.0.0.8"):
        seen = set()
        for _ in range(4):
            with connect(vip, source) as c:
                seen.add(read_line(c))
        assert len(seen) == 1, f"{source} was not pinned: {seen}"


def test_update_keeps_established_connections(
    proxy: Proxy, backends: Callable[..., Backend]
) -> None:
    a, b = backends(tag_then_echo, name="a"), backends(tag_then_echo, name="b")
    vip = serve(proxy, a.address)
    with connect(vip) as old:
        assert read_line(old) == b"a"
        serve(proxy, b.address)
        with connect(vip) as new:
            assert read_line(new) == b"b"
        old.sendall(b"still a\n")
        assert read_line(old) == b"still a"
    serve(proxy)
    assert_reset(vip)


def test_removed_service_stops_listening_but_lets_connections_finish(
    proxy: Proxy, backends: Callable[..., Backend]
) -> None:
    vip = serve(proxy, backends(echo).address)
    with connect(vip) as c:
        c.sendall(b"before\n")
        assert read_line(c) == b"before"  # accepted by the proxy, not just queued
        proxy.remove_service("svc")
        with pytest.raises(ConnectionRefusedError):
            connect(vip)
        c.sendall(b"after\n")
        assert read_line(c) == b"after"


def test_several_listeners_and_a_bind_conflict(
    proxy: Proxy, backends: Callable[..., Backend]
) -> None:
    node_port = Address("127.0.1.1", free_port())
    ep = backends(echo).address
    proxy.set_service("svc", ServicePort(listen=(VIP, node_port), endpoints=(ep,)))
    for addr in (VIP, node_port):
        with connect(addr) as c:
            c.sendall(b"x\n")
            assert read_line(c) == b"x"
    with pytest.raises(OSError):
        proxy.set_service("other", ServicePort(listen=(VIP,), endpoints=(ep,)))
    assert "other" not in proxy.services()
    with connect(VIP) as c:
        c.sendall(b"y\n")
        assert read_line(c) == b"y"


def test_idle_connections_are_closed(
    proxy_factory: Callable[..., Proxy], backends: Callable[..., Backend]
) -> None:
    proxy = proxy_factory(idle_timeout=0.3)
    vip = serve(proxy, backends(echo).address)
    with connect(vip) as c:
        c.sendall(b"x\n")
        assert read_line(c) == b"x"
        assert c.recv(10) == b""  # closed by the proxy once idle
    until(lambda: proxy.stats("svc").active == 0, "connection released")


def test_metrics_text(proxy: Proxy, backends: Callable[..., Backend]) -> None:
    vip = serve(proxy, backends(echo).address, key='ns/"web":80')
    with connect(vip) as c:
        c.sendall(b"abc\n")
        assert read_line(c) == b"abc"
    until(lambda: proxy.stats('ns/"web":80').active == 0, "closed")
    text = render(proxy.all_stats())
    assert 'kcore_proxy_connections_total{service="ns/\\"web\\":80"} 1\n' in text
    assert 'kcore_proxy_bytes_in_total{service="ns/\\"web\\":80"} 4\n' in text
    assert "# TYPE kcore_proxy_active_connections gauge\n" in text


def test_lifecycle_table_before_start_and_double_stop(backends: Callable[..., Backend]) -> None:
    proxy = Proxy(workers=2)
    ep = backends(echo).address
    proxy.set_service("svc", ServicePort(listen=(VIP,), endpoints=(ep,)))
    proxy.set_service("svc", ServicePort(listen=(VIP._replace(port=8081),), endpoints=(ep,)))
    proxy.start()
    try:
        with connect(VIP._replace(port=8081)) as c:
            c.sendall(b"up\n")
            assert read_line(c) == b"up"
    finally:
        proxy.stop()
    proxy.stop()
    with pytest.raises(RuntimeError):
        proxy.set_service("svc", ServicePort(listen=()))
    assert not [t for t in threading.enumerate() if t.name.startswith("kcore-proxy")]


def test_backend_dying_under_steady_load_fails_no_request(
    proxy: Proxy, backends: Callable[..., Backend]
) -> None:
    bs = [backends(tag_then_echo, name=n) for n in "abc"]
    vip = serve(proxy, *(b.address for b in bs))
    seen = []
    for i in range(60):
        if i == 20:
            bs[1].stop_listening()  # its connects are refused from now on
        with connect(vip) as c:
            seen.append(read_line(c))
            c.sendall(b"req\n")
            assert read_line(c) == b"req"
    assert b"b" in seen[:20] and b"b" not in seen[20:]
    assert proxy.stats("svc").failed == 0
    assert proxy.stats("svc").connect_errors >= 1


def test_least_connections_through_the_data_path(
    proxy: Proxy, backends: Callable[..., Backend]
) -> None:
    bs = [backends(tag_then_echo, name=n) for n in "abc"]
    vip = serve(proxy, *(b.address for b in bs), policy="LeastConnections")
    held: list[socket.socket] = []
    try:
        tags = []
        for _ in range(3):  # one at a time: each is picked before the next is accepted
            held.append(connect(vip))
            tags.append(read_line(held[-1]))
        assert tags == [b"a", b"b", b"c"]
        held.pop(1).close()
        until(lambda: dict(proxy.endpoint_load("svc"))[bs[1].address] == 0, "b released")
        assert [n for _, n in proxy.endpoint_load("svc")] == [1, 0, 1]
        with connect(vip) as c:
            assert read_line(c) == b"b"  # the idlest; round-robin would say a
    finally:
        for c in held:
            c.close()


def test_many_services_added_and_removed(proxy: Proxy, backends: Callable[..., Backend]) -> None:
    ep = backends(tag_then_echo, name="e").address
    vips = [Address(f"127.33.{i // 200}.{i % 200 + 1}", 80) for i in range(400)]
    for i, vip in enumerate(vips):
        proxy.set_service(f"s{i}", ServicePort(listen=(vip,), endpoints=(ep,)))
    for vip in vips[::97]:
        with connect(vip) as c:
            assert read_line(c) == b"e"
    for i in range(len(vips)):
        proxy.remove_service(f"s{i}")
    assert proxy.services() == {}
    with pytest.raises(ConnectionRefusedError):
        connect(vips[0])
