"""The proxy's table model: one `ServicePort` per Service port, in plain values.

A `ServicePort` says where to listen (ClusterIP:port, and node-IP:nodePort for NodePort
Services), which ready endpoints to balance over, and how (`policy`, ClientIP
`affinity_timeout`). The config layer builds these from Services and EndpointSlices; a library
user writes them by hand. Addresses are IPv4 literals (the data path is IPv4 TCP).
"""

from __future__ import annotations

import socket
from typing import Literal, NamedTuple

import msgspec

Policy = Literal["RoundRobin", "LeastConnections"]
POLICY_CODES: dict[Policy, int] = {"RoundRobin": 0, "LeastConnections": 1}
Protocol = Literal["TCP", "UDP"]
PROTOCOL_CODES: dict[Protocol, int] = {"TCP": 0, "UDP": 1}


class Address(NamedTuple):
    """An IPv4 host and a TCP port."""

    host: str
    port: int

    def packed(self) -> tuple[int, int]:
        """(IPv4 as a host-order int, port), as the data path takes addresses."""
        return int.from_bytes(socket.inet_pton(socket.AF_INET, self.host)), self.port

    @classmethod
    def unpack(cls, ip: int, port: int) -> Address:
        return cls(socket.inet_ntop(socket.AF_INET, ip.to_bytes(4)), port)

    @classmethod
    def parse(cls, text: str) -> Address:
        """`"127.0.0.1:8080"` -> Address."""
        host, _, port = text.rpartition(":")
        return cls(host, int(port))


class ServicePort(msgspec.Struct, frozen=True, kw_only=True):
    """What the proxy does for one Service port.

    `affinity_timeout` > 0 (seconds) pins each client IP to the endpoint it last got, for that
    long after its last new connection (Kubernetes' sessionAffinity: ClientIP). For UDP a
    "connection" is a flow: the datagrams of one client address, balanced when first seen and
    forgotten after 30 s without traffic (or the proxy's idle timeout).
    """

    listen: tuple[Address, ...]
    endpoints: tuple[Address, ...] = ()
    policy: Policy = "RoundRobin"
    affinity_timeout: float = 0.0
    protocol: Protocol = "TCP"


class ServiceStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters of one Service port since it was added."""

    connections: int  # accepted and given an endpoint
    active: int
    bytes_in: int  # client -> endpoint
    bytes_out: int  # endpoint -> client
    connect_errors: int  # endpoint connects refused or timed out (then retried elsewhere)
    rejected: int  # reset at once: no ready endpoint
    failed: int  # reset after every attempted endpoint failed

    @classmethod
    def from_counters(cls, c: tuple[int, ...]) -> ServiceStats:
        return cls(
            connections=c[0],
            active=c[1],
            bytes_in=c[2],
            bytes_out=c[3],
            connect_errors=c[4],
            rejected=c[5],
            failed=c[6],
        )
