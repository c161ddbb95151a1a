"""`Proxy`: the Cython data path (kcore._ext.proxy) behind a small Python API.

Usable on its own as a TCP load balancer with a static table::

    from kcore.proxy import Address, Proxy, ServicePort

    with Proxy(workers=2) as proxy:
        proxy.set_service("default/web:80", ServicePort(
            listen=(Address("127.32.0.10", 80),),
            endpoints=(Address("127.64.0.5", 8080), Address("127.64.0.6", 8080)),
        ))
        ...  # connections to 127.32.0.10:80 are balanced over the two endpoints
        print(proxy.stats("default/web:80"))

The worker threads run the data path without the GIL; this object only programs the table
(`set_service` adds or updates in place, never dropping established connections;
`remove_service` stops listening, letting established connections finish) and reads
counters. Calls are thread-safe. A listen address that cannot be bound raises OSError from
`set_service` and leaves the table as it was.

`recv_buffer` fixes SO_RCVBUF on the proxy's TCP sockets (listeners, hence accepted
sockets, and backend sockets; the kernel doubles it), 1 MiB by default; 0 leaves them to the
kernel's autotuning. A fixed buffer offers the peer a full window from the first byte
instead of one that grows from 64 KiB, and caps what one connection parks in the proxy's
socket buffers (autotuning may grow them to tcp_rmem's maximum). Measured here
(benchmarks/proxy_bench.py: nginx behind the proxy, TCP BBR, a 2-core VM), it is why 1 MiB
responses go at ~1.1x the direct path rather than ~0.8x: nginx's BBR, never limited by the
window, stays in its startup phase (pacing gain 2.89), arms far fewer pacing timers and
spends a quarter (512 KiB responses) to a half (1 MiB) less CPU per response; 256 KiB and
2-4 MiB responses neither gain nor lose (0.7-0.8x). The proxy's own CPU per byte barely
changes. Past ~2 MiB of bandwidth-delay product (long fat links, not a node's loopback)
autotuning is the better choice.

`congestion` is the TCP congestion control of the proxy's loopback sockets (those of a
listener on 127.0.0.0/8, and those to an endpoint there), "reno" by default ("" keeps the
system's). A loopback hop has no bottleneck queue to pace for, yet a pacing congestion
control (BBR, the default here) arms an hrtimer per burst it sends: on 1 MiB responses that
was ~30% of the proxy's CPU (a timer reprogram is a VM exit here). With reno the proxy
spends ~95-150 instead of ~120-200 us of CPU per 1 MiB response (same runs); throughput
through it is the same within the runs' spread, which the backend's own BBR dominates.
Reno is allowed to unprivileged processes on every Linux; the backend's sockets keep
whatever the backend chose.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType
from typing import Self

from kcore._ext.proxy import Engine
from kcore.proxy.model import POLICY_CODES, PROTOCOL_CODES, Address, ServicePort, ServiceStats

RECV_BUFFER = 1 << 20
CONGESTION = "reno"


class Proxy:
    """A running data path: `workers` epoll threads sharing one service table."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        connect_timeout: float = 1.0,
        idle_timeout: float = 0.0,
        recv_buffer: int = RECV_BUFFER,
        congestion: str = CONGESTION,
    ) -> None:
        self.workers = workers or min(os.cpu_count() or 1, 4)
        self._engine = Engine(
            self.workers, connect_timeout, idle_timeout, recv_buffer, congestion.encode()
        )
        self._threads: list[threading.Thread] = []
        self._table: dict[str, ServicePort] = {}
        self._lock = threading.Lock()

    def start(self) -> Self:
        for i in range(self.workers):
            t = threading.Thread(target=self._engine.run, args=(i,), name=f"kcore-proxy-{i}")
            t.daemon = True
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Stop the workers and reset every connection still open."""
        with self._lock:
            self._engine.stop()
            for t in self._threads:
                t.join()
            self._threads.clear()
            self._engine.close()
            self._table.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def set_service(self, key: str, port: ServicePort) -> None:
        """Add or update the Service port `key` (any string, e.g. "ns/name:port")."""
        with self._lock:
            self._engine.upsert(
                key,
                [a.packed() for a in port.listen],
                [a.packed() for a in port.endpoints],
                POLICY_CODES[port.policy],
                round(port.affinity_timeout * 1000),
                PROTOCOL_CODES[port.protocol],
            )
            self._table[key] = port

    def remove_service(self, key: str) -> None:
        with self._lock:
            self._engine.remove(key)
            self._table.pop(key, None)

    def services(self) -> dict[str, ServicePort]:
        with self._lock:
            return dict(self._table)

    def stats(self, key: str) -> ServiceStats:
        with self._lock:
            return ServiceStats.from_counters(self._engine.counters(key))

    def all_stats(self) -> dict[str, ServiceStats]:
        with self._lock:
            return {k: ServiceStats.from_counters(self._engine.counters(k)) for k in self._table}

    def endpoint_load(self, key: str) -> list[tuple[Address, int]]:
        """Each endpoint of `key` with its active connection count."""
        with self._lock:
            return [(Address.unpack(ip, port), n) for ip, port, n in self._engine.endpoints(key)]

    def buffered_bytes(self) -> int:
        """Bytes the proxy holds right now (buffers and pipes), all connections together."""
        return int(self._engine.buffered_bytes())

    @property
    def running(self) -> bool:
        return bool(self._threads)
